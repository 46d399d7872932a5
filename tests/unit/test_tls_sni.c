/* tests/unit/test_tls_sni.c: the ClientHello reader and the TLS alerts.
 *
 * Real ClientHellos captured from openssl s_client and curl on 127.0.0.1, ClientHellos
 * built here (re-fragmented over records, fed one byte at a time, malformed one way
 * each), and live peers: openssl s_client and curl connect to a listener of this test
 * that reads their ClientHello with the reader and answers with an alert; their error
 * text must name the alert. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../src/tls/sni.c"
#include "eg_test.h"

/* Captured with a python3 socket on 127.0.0.1 (first bytes each client sent):
 * openssl s_client -servername api.example.com -alpn h2,http/1.1 -tls1_3,
 * openssl s_client -servername api.example.com -alpn http/1.1 -tls1_2,
 * openssl s_client -noservername -tls1_3, curl https://api.example.com:PORT/. */
static const uint8_t cap_tls13_sni_alpn[] = {
        0x16, 0x03, 0x01, 0x01, 0x06, 0x01, 0x00, 0x01, 0x02, 0x03, 0x03, 0x0c, 0xe5, 0x73, 0x8a,
        0xd1, 0x8d, 0x51, 0x91, 0x19, 0xdd, 0xc8, 0xb6, 0x97, 0x72, 0xbf, 0xdf, 0x19, 0x94, 0x28,
        0x3c, 0x33, 0x18, 0xc3, 0x05, 0x00, 0xfb, 0x4d, 0xfb, 0x55, 0x35, 0xb0, 0xef, 0x20, 0x01,
        0x7f, 0xdc, 0x13, 0x17, 0x97, 0x45, 0xab, 0x90, 0xba, 0x51, 0xb1, 0x4a, 0xfe, 0x6d, 0x6d,
        0x70, 0x35, 0xdf, 0x90, 0x83, 0x89, 0xc3, 0x07, 0xd5, 0x86, 0x2f, 0x20, 0x85, 0xa6, 0xc9,
        0xd1, 0x00, 0x08, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0xb1,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x0f, 0x61, 0x70, 0x69, 0x2e, 0x65, 0x78,
        0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00,
        0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00,
        0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23,
        0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32, 0x08, 0x68, 0x74, 0x74,
        0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d,
        0x00, 0x1e, 0x00, 0x1c, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08,
        0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01,
        0x06, 0x01, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01,
        0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x52, 0x13, 0x7a, 0xd0, 0xca,
        0x0c, 0x86, 0xd8, 0x5a, 0x51, 0xc9, 0x58, 0xc3, 0xba, 0x1f, 0x14, 0x46, 0x73, 0xba, 0x75,
        0xf3, 0xf9, 0x53, 0xf1, 0xe6, 0xb6, 0x3e, 0x2e, 0xd5, 0x6c, 0xd0, 0x6b,
};
static const uint8_t cap_tls12_sni_alpn[] = {
        0x16, 0x03, 0x01, 0x00, 0xde, 0x01, 0x00, 0x00, 0xda, 0x03, 0x03, 0x06, 0x94, 0x47, 0xc7,
        0x13, 0xa8, 0x59, 0x99, 0x98, 0x1b, 0xd2, 0x59, 0x27, 0xc5, 0x7a, 0x02, 0x64, 0x7a, 0x0f,
        0x1b, 0x2e, 0x62, 0x7d, 0xa7, 0xc8, 0x2e, 0x94, 0xb9, 0x6a, 0x2b, 0x7f, 0x4b, 0x00, 0x00,
        0x38, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b,
        0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27, 0x00,
        0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d,
        0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00,
        0x79, 0x00, 0x00, 0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x0f, 0x61, 0x70, 0x69, 0x2e, 0x65,
        0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03,
        0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e,
        0x00, 0x19, 0x00, 0x18, 0x00, 0x23, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0b, 0x00, 0x09, 0x08,
        0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00,
        0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07,
        0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04,
        0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02,
        0x06, 0x02,
};
static const uint8_t cap_tls13_nosni[] = {
        0x16, 0x03, 0x01, 0x00, 0xdc, 0x01, 0x00, 0x00, 0xd8, 0x03, 0x03, 0xb1, 0xa4, 0x76, 0x0e,
        0x0c, 0xb6, 0xcf, 0xb4, 0x4f, 0x50, 0x6e, 0x6f, 0xf0, 0x05, 0x7f, 0x7e, 0x55, 0xd5, 0xd9,
        0xa9, 0xea, 0x9c, 0xc3, 0xec, 0xce, 0x13, 0xac, 0x80, 0x76, 0xac, 0x9d, 0xfb, 0x20, 0xb4,
        0x4a, 0x1d, 0xdf, 0xb0, 0x45, 0x49, 0x22, 0xab, 0xdc, 0xb9, 0x47, 0x3d, 0x01, 0x35, 0x60,
        0x00, 0x65, 0x8b, 0x20, 0x07, 0x24, 0xa2, 0x89, 0xc6, 0xa0, 0xf6, 0x14, 0x13, 0x1b, 0xe3,
        0xcc, 0x00, 0x08, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0x87,
        0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00,
        0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02,
        0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00,
        0x00, 0x00, 0x0d, 0x00, 0x1e, 0x00, 0x1c, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07,
        0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04,
        0x01, 0x05, 0x01, 0x06, 0x01, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, 0x00, 0x2d, 0x00,
        0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x2f, 0xbd,
        0xb7, 0x19, 0xdb, 0xdb, 0x7f, 0x5a, 0x8c, 0x67, 0x7b, 0xbb, 0xde, 0x37, 0x6d, 0xb4, 0x81,
        0x29, 0x8e, 0x2a, 0x9a, 0x75, 0x52, 0x1b, 0x26, 0x74, 0xb6, 0x03, 0x15, 0x3d, 0xe0, 0x43,
};
static const uint8_t cap_curl[] = {
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x69, 0x8e, 0xf6, 0x55,
        0xe7, 0x2a, 0x6b, 0x18, 0x32, 0xe0, 0x58, 0xd4, 0x1e, 0xfe, 0x53, 0x70, 0x86, 0x6c, 0x2d,
        0xe4, 0xb0, 0x6c, 0xab, 0xeb, 0x0d, 0xe6, 0x9f, 0xfa, 0xa6, 0x7c, 0xd7, 0xca, 0x20, 0x72,
        0xda, 0x0d, 0xfd, 0x7f, 0x2f, 0x2b, 0x94, 0x74, 0x61, 0x3d, 0x55, 0xc7, 0xc5, 0x9f, 0xda,
        0x81, 0x05, 0x77, 0xcb, 0xb6, 0x3f, 0xfb, 0xab, 0x9e, 0x0b, 0x6d, 0x11, 0xe8, 0x78, 0x4c,
        0x92, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f,
        0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0,
        0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
        0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00,
        0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x01, 0x75, 0x00, 0x00, 0x00, 0x14, 0x00, 0x12,
        0x00, 0x00, 0x0f, 0x61, 0x70, 0x69, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
        0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
        0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01,
        0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68,
        0x32, 0x08, 0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00, 0x00,
        0x17, 0x00, 0x00, 0x00, 0x31, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03,
        0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08,
        0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01,
        0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04,
        0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00,
        0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x82, 0x92, 0xfd, 0x5e, 0x3a, 0x7b, 0xf5, 0x9e,
        0xf3, 0x97, 0x56, 0xc3, 0x4f, 0x28, 0x0a, 0x5a, 0x5d, 0xc9, 0x98, 0x8d, 0x81, 0xee, 0x64,
        0x7e, 0xa6, 0x96, 0xe6, 0x15, 0x70, 0x46, 0x64, 0x22, 0x00, 0x15, 0x00, 0xae, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* ---- a small ClientHello builder ------------------------------------------------------ */

struct hb {
	uint8_t b[20000];
	size_t n;
};

static void put(struct hb *o, const void *p, size_t n)
{
	if (o->n + n > sizeof(o->b))
		EG_FAIL("builder overflow");
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put8(struct hb *o, unsigned v)
{
	uint8_t c = (uint8_t)v;

	put(o, &c, 1);
}

static void put16(struct hb *o, unsigned v)
{
	put8(o, v >> 8);
	put8(o, v);
}

static void put24(struct hb *o, unsigned v)
{
	put8(o, v >> 16);
	put16(o, v & 0xffff);
}

/* extension with @n bytes of body */
static void put_ext(struct hb *o, unsigned type, const void *body, size_t n)
{
	put16(o, type);
	put16(o, (unsigned)n);
	put(o, body, n);
}

static void put_sni(struct hb *o, const char *name)
{
	struct hb e = {.n = 0};
	size_t l = strlen(name);

	put16(&e, (unsigned)l + 3);
	put8(&e, 0);
	put16(&e, (unsigned)l);
	put(&e, name, l);
	put_ext(o, 0, e.b, e.n);
}

/* ALPN from "a,b,c" */
static void put_alpn(struct hb *o, const char *list)
{
	struct hb e = {.n = 2};
	const char *p = list;

	while (*p) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		put8(&e, (unsigned)l);
		put(&e, p, l);
		p += l + (c ? 1 : 0);
	}
	e.b[0] = (uint8_t)((e.n - 2) >> 8);
	e.b[1] = (uint8_t)(e.n - 2);
	put_ext(o, 16, e.b, e.n);
}

/* handshake message from an extensions block (@exts NULL: no extensions at all) */
static void client_hello(struct hb *o, const struct hb *exts)
{
	struct hb body = {.n = 0};
	uint8_t random[32];

	memset(random, 0x42, sizeof(random));
	put16(&body, 0x0303);
	put(&body, random, sizeof(random));
	put8(&body, 0);  /* session id */
	put16(&body, 4); /* cipher suites */
	put16(&body, 0x1301);
	put16(&body, 0xc02f);
	put8(&body, 1); /* compression */
	put8(&body, 0);
	if (exts) {
		put16(&body, (unsigned)exts->n);
		put(&body, exts->b, exts->n);
	}
	put8(o, 1);
	put24(o, (unsigned)body.n);
	put(o, body.b, body.n);
}

/* wraps @hs in records of at most @frag bytes each */
static void records(struct hb *o, const struct hb *hs, size_t frag, unsigned version)
{
	for (size_t i = 0; i < hs->n; i += frag) {
		size_t l = EG_MIN(frag, hs->n - i);

		put8(o, 0x16);
		put16(o, version);
		put16(o, (unsigned)l);
		put(o, hs->b + i, l);
	}
}

/* a complete single-record hello with SNI @sni and ALPN @alpn (may be NULL) */
static void simple(struct hb *o, const char *sni, const char *alpn)
{
	struct hb e = {.n = 0}, hs = {.n = 0};

	if (sni)
		put_sni(&e, sni);
	if (alpn)
		put_alpn(&e, alpn);
	client_hello(&hs, &e);
	records(o, &hs, 16384, 0x0301);
}

static int read_hb(const struct hb *o, struct eg_tls_hello *h)
{
	return eg_tls_hello_read(o->b, o->n, h);
}

/* Feeds @data growing one byte at a time, as a client sending one byte per segment: every
 * prefix must ask for more, never for more than the whole needs. Returns the final result. */
static int trickle(const uint8_t *data, size_t n, struct eg_tls_hello *h)
{
	int r = -EAGAIN;

	for (size_t i = 0; i <= n; i++) {
		r = eg_tls_hello_read(data, i, h);
		if (r != -EAGAIN)
			return (int)(i == n ? r : 1000 + r); /* decided before the end: odd */
		if (i + h->need > n)
			return 2000; /* promised a need beyond what the hello really takes */
	}
	return r;
}

/* ---- real ClientHellos ---------------------------------------------------------------- */

EG_TEST(real_tls13_sni_alpn_versions)
{
	struct eg_tls_hello h;

	EG_ASSERT_EQ(eg_tls_hello_read(cap_tls13_sni_alpn, sizeof(cap_tls13_sni_alpn), &h), 0);
	EG_ASSERT_STR_EQ(h.sni, "api.example.com");
	EG_ASSERT_EQ(h.sni_len, 15);
	EG_ASSERT_EQ(h.n_alpn, 2);
	EG_ASSERT(eg_str_eqc(eg_tls_hello_alpn(&h, 0), "h2"));
	EG_ASSERT(eg_str_eqc(eg_tls_hello_alpn(&h, 1), "http/1.1"));
	EG_ASSERT_EQ(eg_tls_hello_alpn(&h, 2).len, 0);
	EG_ASSERT_EQ(h.hello_len, sizeof(cap_tls13_sni_alpn));
	EG_ASSERT_EQ(h.record_version, 0x0301);
	EG_ASSERT_EQ(h.legacy_version, 0x0303);
	EG_ASSERT_EQ(eg_tls_hello_max_version(&h), 0x0304);
	EG_ASSERT_STR_EQ(eg_tls_version_name(eg_tls_hello_max_version(&h)), "TLSv1.3");
	EG_ASSERT_STR_EQ(h.reason, "ok");
}

EG_TEST(real_tls12_sni_alpn)
{
	struct eg_tls_hello h;

	EG_ASSERT_EQ(eg_tls_hello_read(cap_tls12_sni_alpn, sizeof(cap_tls12_sni_alpn), &h), 0);
	EG_ASSERT_STR_EQ(h.sni, "api.example.com");
	EG_ASSERT_EQ(h.n_alpn, 1);
	EG_ASSERT(eg_str_eqc(eg_tls_hello_alpn(&h, 0), "http/1.1"));
	EG_ASSERT_EQ(eg_tls_hello_max_version(&h), 0x0303);
	EG_ASSERT_STR_EQ(eg_tls_version_name(eg_tls_hello_max_version(&h)), "TLSv1.2");
}

EG_TEST(real_curl)
{
	struct eg_tls_hello h;

	EG_ASSERT_EQ(eg_tls_hello_read(cap_curl, sizeof(cap_curl), &h), 0);
	EG_ASSERT_STR_EQ(h.sni, "api.example.com");
	EG_ASSERT_EQ(h.n_alpn, 2);
	EG_ASSERT(eg_str_eqc(eg_tls_hello_alpn(&h, 0), "h2"));
	EG_ASSERT(eg_str_eqc(eg_tls_hello_alpn(&h, 1), "http/1.1"));
}

EG_TEST(real_without_sni_is_enoent)
{
	struct eg_tls_hello h;

	EG_ASSERT_EQ(eg_tls_hello_read(cap_tls13_nosni, sizeof(cap_tls13_nosni), &h), -ENOENT);
	EG_ASSERT_EQ(h.sni_len, 0);
	EG_ASSERT_EQ(h.hello_len, sizeof(cap_tls13_nosni));
	EG_ASSERT_EQ(eg_tls_hello_max_version(&h), 0x0304);
	EG_ASSERT_CONTAINS(h.reason, "without server_name");
}

EG_TEST(real_one_byte_per_segment)
{
	struct eg_tls_hello h;

	EG_ASSERT_EQ(trickle(cap_tls13_sni_alpn, sizeof(cap_tls13_sni_alpn), &h), 0);
	EG_ASSERT_STR_EQ(h.sni, "api.example.com");
	EG_ASSERT_EQ(trickle(cap_curl, sizeof(cap_curl), &h), 0);
	EG_ASSERT_EQ(trickle(cap_tls13_nosni, sizeof(cap_tls13_nosni), &h), -ENOENT);
}

EG_TEST(real_refragmented_three_records_and_one_byte_records)
{
	const uint8_t *rec = cap_tls13_sni_alpn;
	size_t n = sizeof(cap_tls13_sni_alpn);
	struct hb hs = {.n = 0}, three = {.n = 0}, ones = {.n = 0};
	struct eg_tls_hello h;

	put(&hs, rec + 5, n - 5); /* the handshake message */
	records(&three, &hs, (hs.n + 2) / 3, 0x0301);
	EG_ASSERT_EQ(three.n, n + 10);
	EG_ASSERT_EQ(read_hb(&three, &h), 0);
	EG_ASSERT_STR_EQ(h.sni, "api.example.com");
	EG_ASSERT_EQ(h.n_alpn, 2);
	EG_ASSERT_EQ(h.hello_len, three.n);
	EG_ASSERT_EQ(trickle(three.b, three.n, &h), 0);

	records(&ones, &hs, 1, 0x0303);
	EG_ASSERT_EQ(read_hb(&ones, &h), 0);
	EG_ASSERT_STR_EQ(h.sni, "api.example.com");
	EG_ASSERT_EQ(h.hello_len, ones.n);
}

/* ---- results and needs ---------------------------------------------------------------- */

EG_TEST(need_counts_bytes_still_missing)
{
	struct hb o = {.n = 0};
	struct eg_tls_hello h;

	simple(&o, "a.example", NULL);
	EG_ASSERT_EQ(eg_tls_hello_read(o.b, 0, &h), -EAGAIN);
	EG_ASSERT(h.need >= 1);
	EG_ASSERT_EQ(eg_tls_hello_read(o.b, 3, &h), -EAGAIN);
	EG_ASSERT_EQ(h.need, 6); /* a lower bound: the record and handshake headers */
	EG_ASSERT_EQ(eg_tls_hello_read(o.b, 5, &h), -EAGAIN);
	EG_ASSERT_EQ(h.need, o.n - 5); /* the record header gives the length: exact */
	EG_ASSERT_EQ(eg_tls_hello_read(o.b, o.n - 1, &h), -EAGAIN);
	EG_ASSERT_EQ(h.need, 1);
	EG_ASSERT_EQ(eg_tls_hello_read(o.b, o.n, &h), 0);
	EG_ASSERT_EQ(h.need, 0);
}

EG_TEST(bytes_after_the_hello_are_left_alone)
{
	struct hb o = {.n = 0};
	struct eg_tls_hello h;
	size_t n;

	simple(&o, "a.example", "h2");
	n = o.n;
	put(&o, "\x17\x03\x03\x00\x02zz", 7); /* early data, or garbage: not ours */
	EG_ASSERT_EQ(read_hb(&o, &h), 0);
	EG_ASSERT_EQ(h.hello_len, n);
}

EG_TEST(not_tls_from_the_first_byte)
{
	struct eg_tls_hello h;

	EG_ASSERT_EQ(eg_tls_hello_read("G", 1, &h), -EPROTO);
	EG_ASSERT_EQ(eg_tls_hello_read("GET / HTTP/1.1\r\n\r\n", 18, &h), -EPROTO);
	EG_ASSERT_EQ(eg_tls_hello_read("\x80\x2e\x01\x03\x01", 5, &h), -EPROTO); /* SSLv2 */
	EG_ASSERT_CONTAINS(h.reason, "not TLS");
}

EG_TEST(too_big)
{
	struct hb e = {.n = 0}, hs = {.n = 0}, o = {.n = 0};
	static uint8_t pad[16370];
	struct eg_tls_hello h;

	/* the handshake length alone says it cannot fit: refused at once */
	EG_ASSERT_EQ(eg_tls_hello_read("\x16\x03\x01\x00\x04\x01\x00\x40\x00", 9, &h), -E2BIG);
	/* a record that ends past 16 KiB */
	EG_ASSERT_EQ(eg_tls_hello_read("\x16\x03\x01\x40\x00", 5, &h), -E2BIG);
	/* a real one of 16.4 KiB over two records */
	put_sni(&e, "a.example");
	put_ext(&e, 21, pad, sizeof(pad)); /* padding */
	client_hello(&hs, &e);
	records(&o, &hs, 10000, 0x0301);
	EG_ASSERT(o.n > EG_TLS_HELLO_MAX);
	EG_ASSERT_EQ(eg_tls_hello_read(o.b, o.n, &h), -E2BIG);
	EG_ASSERT_EQ(eg_tls_hello_read(o.b, 10, &h), -EAGAIN);
	EG_ASSERT_EQ(eg_tls_hello_read(o.b, 10005, &h),
	             -E2BIG); /* known once the first record is in */
}

EG_TEST(largest_that_fits)
{
	struct hb e = {.n = 0}, hs = {.n = 0}, o = {.n = 0};
	static uint8_t pad[16384];
	struct eg_tls_hello h;
	size_t room;

	put_sni(&e, "a.example");
	client_hello(&hs, &e);
	/* grow the padding extension so that two records fill exactly 16384 bytes */
	room = EG_TLS_HELLO_MAX - (hs.n + 4) - 2 * 5;
	e.n = 0;
	put_sni(&e, "a.example");
	put_ext(&e, 21, pad, room);
	hs.n = 0;
	client_hello(&hs, &e);
	records(&o, &hs, 16000, 0x0301);
	EG_ASSERT_EQ(o.n, EG_TLS_HELLO_MAX);
	EG_ASSERT_EQ(read_hb(&o, &h), 0);
	EG_ASSERT_STR_EQ(h.sni, "a.example");
	/* one byte more does not fit */
	o.n = 0;
	records(&o, &hs, 8000, 0x0301); /* three records: 5 bytes more */
	EG_ASSERT_EQ(read_hb(&o, &h), -E2BIG);
}

EG_TEST(sni_lowercased_and_istio_default_sni)
{
	struct hb o = {.n = 0}, p = {.n = 0};
	struct eg_tls_hello h;

	simple(&o, "Edition.CNN.com", NULL);
	EG_ASSERT_EQ(read_hb(&o, &h), 0);
	EG_ASSERT_STR_EQ(h.sni, "edition.cnn.com");
	simple(&p, "outbound_.80_.cnn_.istio-egressgateway.istio-system.svc.cluster.local",
	       "istio-http/1.1,istio,http/1.1");
	EG_ASSERT_EQ(read_hb(&p, &h), 0);
	EG_ASSERT_STR_EQ(h.sni,
	                 "outbound_.80_.cnn_.istio-egressgateway.istio-system.svc.cluster.local");
	EG_ASSERT_EQ(h.n_alpn, 3);
	EG_ASSERT(eg_str_eqc(eg_tls_hello_alpn(&h, 0), "istio-http/1.1"));
}

/* one malformed input: expected code and a piece of the reason */
static void expect_bad(const char *sni, int code, const char *why)
{
	struct hb o = {.n = 0};
	struct eg_tls_hello h;

	simple(&o, sni, NULL);
	EG_ASSERT_EQ(read_hb(&o, &h), code);
	EG_ASSERT_CONTAINS(h.reason, why);
}

EG_TEST(sni_names_refused)
{
	char name[300];

	expect_bad("a b.example", -EBADMSG, "character outside");
	expect_bad("a.example.", -EBADMSG, "ends with a dot");
	expect_bad(".a.example", -EBADMSG, "empty label");
	expect_bad("a..example", -EBADMSG, "empty label");
	expect_bad("a\x01.example", -EBADMSG, "character outside");
	expect_bad("caf\xc3\xa9.example", -EBADMSG, "character outside");
	expect_bad("", -EBADMSG, "empty SNI");
	memset(name, 'a', 64);
	memcpy(name + 64, ".example", 9);
	expect_bad(name, -EBADMSG, "label longer than 63");
	for (int i = 0; i < 5; i++)
		memcpy(name + i * 51, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 51);
	name[254] = '\0'; /* 254 bytes */
	expect_bad(name, -EBADMSG, "longer than 253");
	name[253] = '\0'; /* 253 bytes, last char 'a': accepted */
	{
		struct hb o = {.n = 0};
		struct eg_tls_hello h;

		simple(&o, name, NULL);
		EG_ASSERT_EQ(read_hb(&o, &h), 0);
		EG_ASSERT_EQ(h.sni_len, 253);
	}
}

/* builds a hello whose extensions block is @exts exactly */
static int read_exts(const struct hb *exts, struct eg_tls_hello *h)
{
	struct hb hs = {.n = 0}, o = {.n = 0};

	client_hello(&hs, exts);
	records(&o, &hs, 16384, 0x0301);
	return read_hb(&o, h);
}

EG_TEST(server_name_extension_shapes)
{
	struct eg_tls_hello h;
	struct hb e = {.n = 0};

	/* two host_names */
	put_ext(&e, 0,
	        "\x00\x0e\x00\x00\x04"
	        "a.bc"
	        "\x00\x00\x04"
	        "d.ef",
	        16);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "several host_name");
	/* name type 1 */
	e.n = 0;
	put_ext(&e, 0,
	        "\x00\x07\x01\x00\x04"
	        "a.bc",
	        9);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "not host_name");
	/* empty list, and empty extension (what servers answer) */
	e.n = 0;
	put_ext(&e, 0, "\x00\x00", 2);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "empty server_name list");
	e.n = 0;
	put_ext(&e, 0, "", 0);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	/* list longer than the extension; name longer than the list; list shorter */
	e.n = 0;
	put_ext(&e, 0,
	        "\x00\x08\x00\x00\x04"
	        "a.bc",
	        9);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	e.n = 0;
	put_ext(&e, 0,
	        "\x00\x07\x00\x00\x05"
	        "a.bc",
	        9);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "overruns its list");
	e.n = 0;
	put_ext(&e, 0,
	        "\x00\x06\x00\x00\x03"
	        "a.bc",
	        9);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "does not match");
}

EG_TEST(alpn_extension_shapes)
{
	struct eg_tls_hello h;
	struct hb e = {.n = 0};
	char many[400];
	size_t n = 0;

	put_sni(&e, "a.bc");
	put_ext(&e, 16, "\x00\x03\x02h2\x00", 6); /* list shorter than the extension */
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	e.n = 0;
	put_sni(&e, "a.bc");
	put_ext(&e, 16, "\x00\x04\x02h2\x00", 6); /* an empty protocol */
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "empty ALPN protocol");
	e.n = 0;
	put_sni(&e, "a.bc");
	put_ext(&e, 16, "\x00\x03\x03h2", 5); /* protocol overruns the list */
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "ALPN protocol overruns");
	e.n = 0;
	put_sni(&e, "a.bc");
	put_ext(&e, 16, "\x00\x00", 2);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "empty ALPN list");
	/* more protocols than kept: counted, the first ones kept */
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%sp%02d", i ? "," : "", i);
	e.n = 0;
	put_sni(&e, "a.bc");
	put_alpn(&e, many);
	EG_ASSERT_EQ(read_exts(&e, &h), 0);
	EG_ASSERT_EQ(h.n_alpn, EG_TLS_ALPN_MAX);
	EG_ASSERT_EQ(h.n_alpn_offered, 40);
	EG_ASSERT(eg_str_eqc(eg_tls_hello_alpn(&h, 15), "p15"));
}

EG_TEST(extension_block_shapes)
{
	struct eg_tls_hello h;
	struct hb e = {.n = 0}, hs = {.n = 0}, o = {.n = 0};

	/* duplicate extensions, ours or not */
	put_sni(&e, "a.bc");
	put_sni(&e, "a.bc");
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "duplicate extension");
	e.n = 0;
	put_sni(&e, "a.bc");
	put_ext(&e, 23, "", 0);
	put_ext(&e, 23, "", 0);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	/* an extension that overruns the block */
	e.n = 0;
	put_sni(&e, "a.bc");
	put16(&e, 23);
	put16(&e, 5);
	put(&e, "ab", 2);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "overruns the extensions block");
	/* no extensions at all: no SNI */
	client_hello(&hs, NULL);
	records(&o, &hs, 16384, 0x0301);
	EG_ASSERT_EQ(read_hb(&o, &h), -ENOENT);
	/* supported_versions odd */
	e.n = 0;
	put_sni(&e, "a.bc");
	put_ext(&e, 43, "\x03\x03\x04\x03", 4);
	EG_ASSERT_EQ(read_exts(&e, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "supported_versions");
	/* GREASE and TLS 1.2 offered: max is 1.2 */
	e.n = 0;
	put_sni(&e, "a.bc");
	put_ext(&e, 43, "\x04\x0a\x0a\x03\x03", 5);
	EG_ASSERT_EQ(read_exts(&e, &h), 0);
	EG_ASSERT_EQ(h.n_versions, 2);
	EG_ASSERT_EQ(eg_tls_hello_max_version(&h), 0x0303);
}

/* patches one byte of a good single-record hello */
static int read_patched(size_t at, uint8_t v, struct eg_tls_hello *h)
{
	struct hb o = {.n = 0};

	simple(&o, "a.example", "h2");
	o.b[at] = v;
	return read_hb(&o, h);
}

EG_TEST(record_and_handshake_headers)
{
	struct eg_tls_hello h;
	struct hb o = {.n = 0}, hs = {.n = 0}, t = {.n = 0};

	EG_ASSERT_EQ(read_patched(2, 0x00, &h), -EBADMSG); /* record version 0x0300 */
	EG_ASSERT_CONTAINS(h.reason, "record version");
	EG_ASSERT_EQ(read_patched(2, 0x05, &h), -EBADMSG); /* 0x0305 */
	EG_ASSERT_EQ(read_patched(2, 0x04, &h), 0);        /* 0x0304 is accepted */
	EG_ASSERT_EQ(read_patched(5, 0x02, &h), -EBADMSG); /* ServerHello */
	EG_ASSERT_CONTAINS(h.reason, "not a ClientHello");
	EG_ASSERT_EQ(read_patched(10, 0x00, &h), -EBADMSG); /* client_version 0x0300 */
	EG_ASSERT_CONTAINS(h.reason, "ClientHello version");
	EG_ASSERT_EQ(read_patched(43, 33, &h), -EBADMSG); /* session id of 33 bytes */
	/* handshake length one more than the record: waits for another record */
	simple(&o, "a.example", NULL);
	o.b[8]++;
	EG_ASSERT_EQ(read_hb(&o, &h), -EAGAIN);
	EG_ASSERT_EQ(h.need, 6);
	/* handshake length one less: a stray byte in the record */
	o.b[8] -= 2;
	EG_ASSERT_EQ(read_hb(&o, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "data after the ClientHello");
	/* an empty record, an alert record, a change_cipher_spec between fragments */
	EG_ASSERT_EQ(eg_tls_hello_read("\x16\x03\x01\x00\x00", 5, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "empty handshake record");
	EG_ASSERT_EQ(eg_tls_hello_read("\x15\x03\x03\x00\x02\x02\x28", 7, &h), -EPROTO);
	o.n = 0;
	simple(&o, "a.example", NULL);
	put(&hs, o.b + 5, o.n - 5);
	records(&t, &hs, 20, 0x0301);
	t.b[25] = 0x14;
	EG_ASSERT_EQ(read_hb(&t, &h), -EBADMSG);
	EG_ASSERT_CONTAINS(h.reason, "non-handshake record");
}

/* ---- alerts --------------------------------------------------------------------------- */

EG_TEST(alert_bytes)
{
	struct eg_tls_hello h;
	uint8_t out[16];

	EG_ASSERT_EQ(eg_tls_hello_read(cap_tls13_sni_alpn, sizeof(cap_tls13_sni_alpn), &h), 0);
	EG_ASSERT_EQ(eg_tls_alert_write(out, sizeof(out), &h, EG_TLS_ALERT_ACCESS_DENIED), 7);
	EG_ASSERT(memcmp(out, "\x15\x03\x03\x00\x02\x02\x31", 7) == 0);
	EG_ASSERT_EQ(eg_tls_alert_write(out, 7, &h, EG_TLS_ALERT_UNRECOGNIZED_NAME), 7);
	EG_ASSERT_EQ(out[6], 112);
	/* nothing parsed: TLS 1.0 record version, accepted by any client */
	EG_ASSERT_EQ(eg_tls_alert_write(out, 7, NULL, EG_TLS_ALERT_HANDSHAKE_FAILURE), 7);
	EG_ASSERT(memcmp(out, "\x15\x03\x01\x00\x02\x02\x28", 7) == 0);
	/* malformed hello: the first record's version */
	EG_ASSERT_EQ(eg_tls_hello_read("\x16\x03\x02\x00\x00", 5, &h), -EBADMSG);
	EG_ASSERT_EQ(eg_tls_alert_write(out, 7, &h, EG_TLS_ALERT_DECODE_ERROR), 7);
	EG_ASSERT(memcmp(out, "\x15\x03\x02\x00\x02\x02\x32", 7) == 0);
	EG_ASSERT_EQ(eg_tls_alert_write(out, 6, &h, EG_TLS_ALERT_INTERNAL_ERROR), -ENOSPC);
	EG_ASSERT_EQ(eg_tls_alert_write(out, 7, &h, 7), -EINVAL);
	EG_ASSERT_STR_EQ(eg_tls_alert_name(49), "access_denied");
	EG_ASSERT_STR_EQ(eg_tls_alert_name(112), "unrecognized_name");
	EG_ASSERT_STR_EQ(eg_tls_alert_name(80), "internal_error");
	EG_ASSERT_STR_EQ(eg_tls_alert_name(1), "unknown");
}

/* ---- live peers ----------------------------------------------------------------------- */

/* Runs @cmd (with %d for the port) against a one-shot listener on 127.0.0.1 that reads the
 * ClientHello with the reader, checks its SNI, answers with alert @desc and closes. The
 * client's output goes to @out. */
static void live(const char *cmd, const char *want_sni, enum eg_tls_alert desc, char *out,
                 size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	uint8_t buf[EG_TLS_HELLO_MAX], alert[EG_TLS_ALERT_LEN];
	struct eg_tls_hello h;
	struct pollfd p;
	char line[512];
	size_t n = 0, got = 0;
	int ls, c, r = -EAGAIN;
	FILE *f;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	EG_ASSERT(ls >= 0);
	EG_ASSERT_EQ(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	EG_ASSERT_EQ(listen(ls, 4), 0);
	EG_ASSERT_EQ(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	snprintf(line, sizeof(line), cmd, ntohs(sa.sin_port));
	f = popen(line, "r");
	EG_ASSERT(f != NULL);
	p = (struct pollfd){.fd = ls, .events = POLLIN};
	if (poll(&p, 1, 10000) != 1) {
		(void)pclose(f);
		close(ls);
		EG_FAIL("client did not connect within 10 s: %s", line);
	}
	c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	close(ls);
	EG_ASSERT(c >= 0);
	/* read until the reader decides; bounded by size and by a 10 s poll per read */
	while (r == -EAGAIN && n < sizeof(buf)) {
		ssize_t k;

		p = (struct pollfd){.fd = c, .events = POLLIN};
		if (poll(&p, 1, 10000) != 1)
			break;
		k = read(c, buf + n, sizeof(buf) - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		r = eg_tls_hello_read(buf, n, &h);
	}
	if (r == 0) {
		EG_ASSERT_EQ(eg_tls_alert_write(alert, sizeof(alert), &h, desc), EG_TLS_ALERT_LEN);
		EG_ASSERT_EQ(send(c, alert, sizeof(alert), MSG_NOSIGNAL), (ssize_t)sizeof(alert));
	}
	/* half-close and drain, so the kernel sends a FIN after the alert and no reset */
	(void)shutdown(c, SHUT_WR);
	p = (struct pollfd){.fd = c, .events = POLLIN};
	while (poll(&p, 1, 5000) == 1 && read(c, buf, sizeof(buf)) > 0)
		;
	close(c);
	while (got + 1 < cap && fgets(out + got, (int)(cap - got), f))
		got += strlen(out + got);
	out[got] = '\0';
	(void)pclose(f);
	EG_ASSERT_EQ(r, 0);
	EG_ASSERT_STR_EQ(h.sni, want_sni);
}

EG_TEST(live_openssl_access_denied)
{
	char out[8192];

	live("openssl s_client -connect 127.0.0.1:%d -servername denied.example </dev/null 2>&1",
	     "denied.example", EG_TLS_ALERT_ACCESS_DENIED, out, sizeof(out));
	EG_ASSERT_CONTAINS(out, "alert access denied");
}

EG_TEST(live_openssl_tls12_unrecognized_name)
{
	char out[8192];

	live("openssl s_client -tls1_2 -connect 127.0.0.1:%d -servername Unknown.Example "
	     "</dev/null 2>&1",
	     "unknown.example", EG_TLS_ALERT_UNRECOGNIZED_NAME, out, sizeof(out));
	EG_ASSERT_CONTAINS(out, "unrecognized name"); /* "tlsv1 unrecognized name" */
	EG_ASSERT_CONTAINS(out, "SSL alert number 112");
}

EG_TEST(live_curl_access_denied)
{
	char out[8192];

	live("curl -sS --max-time 10 --resolve denied.example:%1$d:127.0.0.1 "
	     "https://denied.example:%1$d/ 2>&1",
	     "denied.example", EG_TLS_ALERT_ACCESS_DENIED, out, sizeof(out));
	EG_ASSERT_CONTAINS(out, "curl: (35)");
	EG_ASSERT_CONTAINS(out, "alert access denied");
}

EG_TEST(live_curl_handshake_failure)
{
	char out[8192];

	live("curl -sS --max-time 10 --resolve denied.example:%1$d:127.0.0.1 "
	     "https://denied.example:%1$d/ 2>&1",
	     "denied.example", EG_TLS_ALERT_HANDSHAKE_FAILURE, out, sizeof(out));
	EG_ASSERT_CONTAINS(out, "curl: (35)");
	EG_ASSERT_CONTAINS(out, "alert handshake failure");
}
