/* src/tls/sni.c: the ClientHello reader. A pure function of the bytes a client sent so
 * far: no I/O, no allocation, no OpenSSL. Every read of wire data goes through the checked
 * readers below (STYLE R13): a reader is a position and the count of bytes left in its
 * container, and a length-prefixed vector becomes a sub-reader that cannot reach past it.
 *
 * Two passes. The first walks the record headers only (cheap, so a client that trickles
 * its ClientHello one byte per segment costs little per call) until the handshake message
 * is complete, and computes the least number of bytes still missing. The second parses
 * the message body, in place when one record carries it, else from a copy that joins the
 * fragments. Every check of the first pass depends only on bytes before the point it has
 * reached, so a prefix of the input never gives a different verdict than the whole. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/compiler.h"
#include "tls/tls.h"

#define REC_HDR        5
#define REC_MAX        16384 /* TLSPlaintext.length may not exceed 2^14 */
#define HS_HDR         4
#define CT_HANDSHAKE   0x16
#define HS_CLIENTHELLO 1

#define EXT_SERVER_NAME        0
#define EXT_ALPN               16
#define EXT_SUPPORTED_VERSIONS 43

struct rd {
	const uint8_t *p; /* next byte; only advanced by the helpers below */
	size_t left;      /* bytes left in this container */
};

static int rd_u8(struct rd *r, uint8_t *ret)
{
	if (r->left < 1)
		return -EBADMSG;
	*ret = r->p[0];
	r->p++;
	r->left--;
	return 0;
}

static int rd_u16(struct rd *r, uint16_t *ret)
{
	if (r->left < 2)
		return -EBADMSG;
	*ret = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	r->left -= 2;
	return 0;
}

static int rd_skip(struct rd *r, size_t n)
{
	if (r->left < n)
		return -EBADMSG;
	r->p += n;
	r->left -= n;
	return 0;
}

/* Carves the next @n bytes out of @r as the container @ret. */
static int rd_sub(struct rd *r, size_t n, struct rd *ret)
{
	if (r->left < n)
		return -EBADMSG;
	*ret = (struct rd){r->p, n};
	r->p += n;
	r->left -= n;
	return 0;
}

/* A vector with a one- or two-byte length prefix, as a sub-reader. */
static int rd_vec8(struct rd *r, struct rd *ret)
{
	uint8_t n;

	if (rd_u8(r, &n) < 0)
		return -EBADMSG;
	return rd_sub(r, n, ret);
}

static int rd_vec16(struct rd *r, struct rd *ret)
{
	uint16_t n;

	if (rd_u16(r, &n) < 0)
		return -EBADMSG;
	return rd_sub(r, n, ret);
}

static int fail(struct eg_tls_hello *h, int r, const char *why)
{
	h->reason = why;
	return r;
}

/* A DNS name as the SNI: 1..253 bytes of letters, digits, '-' and '_' in labels of 1..63
 * separated by single dots, no trailing dot. '_' is allowed because Istio's own default
 * SNI for mesh mTLS is "outbound_.PORT_.SUBSET_.HOST". Stored lowercased. */
static int take_host_name(struct rd name, struct eg_tls_hello *h)
{
	size_t label = 0;

	if (name.left == 0)
		return fail(h, -EBADMSG, "empty SNI host_name");
	if (name.left > EG_TLS_SNI_MAX)
		return fail(h, -EBADMSG, "SNI host_name longer than 253 bytes");
	for (size_t i = 0; i < name.left; i++) {
		uint8_t c = name.p[i];

		if (c == '.') {
			if (label == 0)
				return fail(h, -EBADMSG, "SNI host_name has an empty label");
			label = 0;
			h->sni[i] = '.';
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		           c == '_'))
			return fail(h, -EBADMSG,
			            "SNI host_name has a character outside a DNS name");
		if (++label > 63)
			return fail(h, -EBADMSG, "SNI host_name has a label longer than 63 bytes");
		h->sni[i] = (char)c;
	}
	if (label == 0)
		return fail(h, -EBADMSG, "SNI host_name ends with a dot");
	h->sni_len = (uint8_t)name.left;
	h->sni[name.left] = '\0';
	return 0;
}

static int ext_server_name(struct rd ext, struct eg_tls_hello *h)
{
	struct rd list;
	bool have = false;
	int r;

	if (rd_vec16(&ext, &list) < 0 || ext.left != 0)
		return fail(h, -EBADMSG, "server_name list length does not match its extension");
	if (list.left == 0)
		return fail(h, -EBADMSG, "empty server_name list");
	while (list.left) {
		struct rd name;
		uint8_t type;

		if (rd_u8(&list, &type) < 0 || rd_vec16(&list, &name) < 0)
			return fail(h, -EBADMSG, "server_name entry overruns its list");
		if (type != 0)
			return fail(h, -EBADMSG, "server_name type is not host_name");
		if (have)
			return fail(h, -EBADMSG, "several host_name entries in server_name");
		r = take_host_name(name, h);
		if (r < 0)
			return r;
		have = true;
	}
	return 0;
}

static int ext_alpn(struct rd ext, struct eg_tls_hello *h)
{
	struct rd list;
	size_t used = 0;

	if (rd_vec16(&ext, &list) < 0 || ext.left != 0)
		return fail(h, -EBADMSG, "ALPN list length does not match its extension");
	if (list.left == 0)
		return fail(h, -EBADMSG, "empty ALPN list");
	while (list.left) {
		struct rd proto;

		if (rd_vec8(&list, &proto) < 0)
			return fail(h, -EBADMSG, "ALPN protocol overruns its list");
		if (proto.left == 0)
			return fail(h, -EBADMSG, "empty ALPN protocol name");
		h->n_alpn_offered++;
		if (h->n_alpn == EG_TLS_ALPN_MAX || EG_TLS_ALPN_BYTES - used < proto.left)
			continue; /* counted, not kept: the list is for routing and logs */
		memcpy(h->alpn_bytes + used, proto.p, proto.left);
		h->alpn[h->n_alpn].off = (uint16_t)used;
		h->alpn[h->n_alpn].len = (uint8_t)proto.left;
		h->n_alpn++;
		used += proto.left;
	}
	return 0;
}

static int ext_supported_versions(struct rd ext, struct eg_tls_hello *h)
{
	struct rd list;

	if (rd_vec8(&ext, &list) < 0 || ext.left != 0)
		return fail(h, -EBADMSG, "supported_versions length does not match its extension");
	if (list.left == 0 || list.left % 2)
		return fail(h, -EBADMSG, "supported_versions list is empty or odd");
	while (list.left) {
		uint16_t v;

		if (rd_u16(&list, &v) < 0)
			return fail(h, -EBADMSG, "internal bounds"); /* the length is even */
		if (h->n_versions < EG_TLS_VERSIONS_MAX)
			h->versions[h->n_versions++] = v;
	}
	return 0;
}

/* Parses the ClientHello body (after the 4-byte handshake header). */
static int parse_client_hello(struct rd r, struct eg_tls_hello *h)
{
	uint64_t seen[65536 / 64] = {0}; /* extension types met so far */
	struct rd sid, suites, comp, exts;
	bool have_sni = false;
	int ret;

	if (rd_u16(&r, &h->legacy_version) < 0 || rd_skip(&r, 32) < 0)
		return fail(h, -EBADMSG, "ClientHello truncated before its random");
	if (h->legacy_version < 0x0301 || h->legacy_version > 0x0303)
		return fail(h, -EBADMSG, "ClientHello version is not TLS 1.0-1.2");
	if (rd_vec8(&r, &sid) < 0 || sid.left > 32)
		return fail(h, -EBADMSG, "bad legacy_session_id length");
	if (rd_vec16(&r, &suites) < 0 || suites.left == 0 || suites.left % 2)
		return fail(h, -EBADMSG, "bad cipher_suites length");
	if (rd_vec8(&r, &comp) < 0 || comp.left == 0)
		return fail(h, -EBADMSG, "bad compression_methods length");
	if (r.left == 0)
		return fail(h, -ENOENT, "ClientHello without extensions (no SNI)");
	if (rd_vec16(&r, &exts) < 0)
		return fail(h, -EBADMSG, "extensions block overruns the ClientHello");
	if (r.left != 0)
		return fail(h, -EBADMSG, "bytes after the extensions block");
	while (exts.left) {
		struct rd ext;
		uint16_t type;

		if (rd_u16(&exts, &type) < 0 || rd_vec16(&exts, &ext) < 0)
			return fail(h, -EBADMSG, "extension overruns the extensions block");
		if (seen[type / 64] & (UINT64_C(1) << (type % 64)))
			return fail(h, -EBADMSG, "duplicate extension");
		seen[type / 64] |= UINT64_C(1) << (type % 64);
		switch (type) {
		case EXT_SERVER_NAME:
			ret = ext_server_name(ext, h);
			have_sni = true;
			break;
		case EXT_ALPN:
			ret = ext_alpn(ext, h);
			break;
		case EXT_SUPPORTED_VERSIONS:
			ret = ext_supported_versions(ext, h);
			break;
		default:
			ret = 0; /* bounds checked above; contents are not ours to judge */
			break;
		}
		if (ret < 0)
			return ret;
	}
	if (!have_sni)
		return fail(h, -ENOENT, "ClientHello without server_name");
	h->reason = "ok";
	return 0;
}

int eg_tls_hello_read(const void *data, size_t len, struct eg_tls_hello *h)
{
	uint8_t joined[EG_TLS_HELLO_MAX]; /* fragments of a multi-record ClientHello */
	struct rd in = {data, len}, msg;
	uint8_t hs_hdr[HS_HDR];
	size_t off = 0, hs_have = 0, hs_total = 0, nrec = 0, used = 0;
	int r;

	memset(h, 0, sizeof(*h));
	h->reason = "waiting for more bytes";
	/* Pass 1: walk whole records until the handshake message is complete. off is where
	 * the next record starts; hs_total is 0 until the handshake header is known. */
	while (hs_total == 0 || hs_have < hs_total) {
		struct rd hdr, body;
		uint8_t type;
		uint16_t version, rlen;
		size_t want, rec_end, min_end, i = 0;

		want = hs_total ? hs_total - hs_have : HS_HDR - hs_have;
		min_end = off + REC_HDR + want;
		if (min_end > EG_TLS_HELLO_MAX)
			return fail(h, -E2BIG, "ClientHello larger than 16384 bytes");
		if (off == 0 && len >= 1 && ((const uint8_t *)data)[0] != CT_HANDSHAKE)
			return fail(h, -EPROTO, "not TLS: first byte is not a handshake record");
		if (len < off + REC_HDR) {
			h->need = min_end - len;
			return -EAGAIN;
		}
		in = (struct rd){data, len};
		if (rd_skip(&in, off) < 0 || rd_sub(&in, REC_HDR, &hdr) < 0)
			return fail(h, -EBADMSG, "internal bounds"); /* excluded by len above */
		(void)rd_u8(&hdr, &type);
		(void)rd_u16(&hdr, &version);
		(void)rd_u16(&hdr, &rlen);
		if (off == 0)
			h->record_version = version;
		if (type != CT_HANDSHAKE)
			return fail(h, -EBADMSG,
			            "non-handshake record before the ClientHello ended");
		if (version < 0x0301 || version > 0x0304)
			return fail(h, -EBADMSG, "record version is not TLS 1.0-1.3");
		if (rlen == 0)
			return fail(h, -EBADMSG, "empty handshake record");
		if (rlen > REC_MAX)
			return fail(h, -EBADMSG, "record longer than 16384 bytes");
		rec_end = off + REC_HDR + rlen;
		min_end = rlen >= want ? rec_end : rec_end + REC_HDR + (want - rlen);
		if (min_end > EG_TLS_HELLO_MAX)
			return fail(h, -E2BIG, "ClientHello larger than 16384 bytes");
		if (len < rec_end) {
			h->need = min_end - len;
			return -EAGAIN;
		}
		if (rd_sub(&in, rlen, &body) < 0)
			return fail(h, -EBADMSG, "internal bounds"); /* excluded by len above */
		for (; hs_total == 0 && i < body.left; i++) {
			hs_hdr[hs_have++] = body.p[i];
			if (hs_have < HS_HDR)
				continue;
			if (hs_hdr[0] != HS_CLIENTHELLO)
				return fail(h, -EBADMSG,
				            "first handshake message is not a ClientHello");
			hs_total = HS_HDR +
			           ((size_t)hs_hdr[1] << 16 | (size_t)hs_hdr[2] << 8 | hs_hdr[3]);
		}
		hs_have += body.left - i;
		if (hs_total && hs_have > hs_total)
			return fail(h, -EBADMSG, "data after the ClientHello in its record");
		nrec++;
		off = rec_end;
	}
	h->hello_len = off;

	/* Pass 2: the body as one container. */
	if (nrec == 1) {
		in = (struct rd){data, len};
		(void)rd_skip(&in, REC_HDR + HS_HDR);
		(void)rd_sub(&in, hs_total - HS_HDR, &msg);
	} else {
		in = (struct rd){data, off};
		while (in.left) {
			struct rd hdr, body;
			uint16_t rlen;

			if (rd_sub(&in, REC_HDR, &hdr) < 0 || rd_skip(&hdr, 3) < 0 ||
			    rd_u16(&hdr, &rlen) < 0 || rd_sub(&in, rlen, &body) < 0 ||
			    sizeof(joined) - used < body.left)
				return fail(h, -EBADMSG, "internal bounds"); /* pass 1 checked */
			memcpy(joined + used, body.p, body.left);
			used += body.left;
		}
		msg = (struct rd){joined, used};
		(void)rd_skip(&msg, HS_HDR);
	}
	r = parse_client_hello(msg, h);
	if (r < 0 && r != -ENOENT) {
		/* nothing half-parsed may reach a log or a routing decision */
		h->sni_len = 0;
		h->sni[0] = '\0';
		h->n_alpn = 0;
		h->n_alpn_offered = 0;
		h->n_versions = 0;
	}
	return r;
}

struct eg_str eg_tls_hello_alpn(const struct eg_tls_hello *h, unsigned i)
{
	if (i >= h->n_alpn)
		return (struct eg_str){"", 0};
	return (struct eg_str){h->alpn_bytes + h->alpn[i].off, h->alpn[i].len};
}

static bool known_version(uint16_t v)
{
	return v >= 0x0300 && v <= 0x0304;
}

uint16_t eg_tls_hello_max_version(const struct eg_tls_hello *h)
{
	uint16_t best = 0;

	for (unsigned i = 0; i < h->n_versions; i++)
		if (known_version(h->versions[i]) && h->versions[i] > best)
			best = h->versions[i];
	return best ? best : h->legacy_version;
}

const char *eg_tls_version_name(uint16_t version)
{
	switch (version) {
	case 0x0304:
		return "TLSv1.3";
	case 0x0303:
		return "TLSv1.2";
	case 0x0302:
		return "TLSv1.1";
	case 0x0301:
		return "TLSv1";
	case 0x0300:
		return "SSLv3";
	default:
		return "unknown";
	}
}
