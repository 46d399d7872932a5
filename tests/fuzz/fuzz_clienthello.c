/* tests/fuzz/fuzz_clienthello.c: the ClientHello reader (src/tls/sni.c) on any bytes.
 *
 * Besides surviving every input under ASan/UBSan, the reader must not depend on how the
 * bytes were split: the input is also given in two calls, cut at a point derived from
 * its contents, as a proxy would after two reads. The first call must either wait
 * (-EAGAIN, and then the whole input cannot complete before the promised number of bytes)
 * or give exactly the one-shot verdict. Violations abort, so libFuzzer reports them.
 *
 * Seed corpus (tests/fuzz/corpus/fuzz_clienthello/): real-* are ClientHellos captured on
 * 127.0.0.1 from openssl s_client (TLS 1.2 and 1.3, with and without SNI and ALPN) and
 * curl; made-* are hand-built: split over several records, one byte per record, and
 * malformed in one way each (duplicate extension, bad names, overruns, plain HTTP, ...). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_verdict(int ra, const struct eg_tls_hello *a, int rb, const struct eg_tls_hello *b)
{
	if (ra != rb || strcmp(a->reason, b->reason) != 0)
		abort();
	if (ra != 0 && ra != -ENOENT)
		return;
	if (a->hello_len != b->hello_len || a->legacy_version != b->legacy_version ||
	    a->sni_len != b->sni_len || strcmp(a->sni, b->sni) != 0 || a->n_alpn != b->n_alpn ||
	    a->n_alpn_offered != b->n_alpn_offered || a->n_versions != b->n_versions)
		abort();
	for (unsigned i = 0; i < a->n_alpn; i++)
		if (!eg_str_eq(eg_tls_hello_alpn(a, i), eg_tls_hello_alpn(b, i)))
			abort();
}

/* Checks what must hold of any single result. */
static void sane(int r, const struct eg_tls_hello *h, size_t size)
{
	if (!h->reason)
		abort();
	switch (r) {
	case 0:
		if (h->sni_len == 0 || h->sni_len > EG_TLS_SNI_MAX || strlen(h->sni) != h->sni_len)
			abort();
		/* fallthrough */
	case -ENOENT:
		if (h->hello_len > size || h->hello_len > EG_TLS_HELLO_MAX || h->need != 0)
			abort();
		if (h->n_alpn > EG_TLS_ALPN_MAX || h->n_alpn > h->n_alpn_offered)
			abort();
		break;
	case -EAGAIN:
		if (h->need == 0 || size + h->need > EG_TLS_HELLO_MAX)
			abort();
		break;
	case -EPROTO:
	case -EBADMSG:
	case -E2BIG:
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eg_tls_hello whole, first, again;
	uint8_t alert[EG_TLS_ALERT_LEN];
	size_t cut = 0;
	int rw, rf, ra;

	rw = eg_tls_hello_read(data, size, &whole);
	sane(rw, &whole, size);
	if (eg_tls_alert_write(alert, sizeof(alert), &whole, EG_TLS_ALERT_ACCESS_DENIED) !=
	    EG_TLS_ALERT_LEN)
		abort();
	(void)eg_tls_hello_max_version(&whole);
	(void)eg_tls_version_name(eg_tls_hello_max_version(&whole));

	if (size == 0)
		return 0;
	for (size_t i = 0; i < size; i++)
		cut = cut * 31 + data[i];
	cut %= size;
	rf = eg_tls_hello_read(data, cut, &first);
	sane(rf, &first, cut);
	if (rf == -EAGAIN) {
		/* The whole input may complete only if it reaches the promised length. */
		if ((rw == 0 || rw == -ENOENT) && size < cut + first.need)
			abort();
		ra = eg_tls_hello_read(data, size, &again);
		same_verdict(rw, &whole, ra, &again);
	} else {
		same_verdict(rw, &whole, rf, &first);
	}
	return 0;
}
