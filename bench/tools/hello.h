/* bench/tools/hello.h: a fixed TLS 1.3-shaped ClientHello carrying a given SNI, for the
 * benchmark tools that need a proxy to route by SNI without doing a handshake (the relay
 * under test only peeks at the ClientHello and then moves bytes). Header-only: hold.c and
 * stream.c are single-file programs. */
#ifndef BENCH_HELLO_H
#define BENCH_HELLO_H

#include <stddef.h>
#include <string.h>
#include <sys/types.h>

static void put16(unsigned char *p, size_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* Writes one TLS record holding a ClientHello for @host into @out. Returns its length, or -1
 * when @host is empty, longer than 255 bytes or @cap is too small. */
static ssize_t bench_client_hello(const char *host, unsigned char *out, size_t cap)
{
	static const unsigned char suites[] = {0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f, 0xc0, 0x30};
	/* supported_versions (1.3, 1.2), supported_groups (x25519, P-256),
	 * signature_algorithms (ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256), ALPN http/1.1 */
	static const unsigned char fixed_ext[] = {
	        0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03, 0x00, 0x0a,
	        0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x0d, 0x00,
	        0x06, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04, 0x00, 0x10, 0x00, 0x0b,
	        0x00, 0x09, 0x08, 'h',  't',  't',  'p',  '/',  '1',  '.',  '1',
	};
	size_t hl = strlen(host), sni_ext = 4 + 2 + 3 + hl;
	size_t ext_len = sni_ext + sizeof(fixed_ext);
	size_t body = 2 + 32 + 1 + 32 + 2 + sizeof(suites) + 2 + 2 + ext_len;
	size_t total = 5 + 4 + body;
	unsigned char *p = out;

	if (hl == 0 || hl > 255 || cap < total)
		return -1;
	*p++ = 0x16; /* handshake record, legacy version TLS 1.0 as clients send it */
	*p++ = 0x03;
	*p++ = 0x01;
	put16(p, 4 + body);
	p += 2;
	*p++ = 0x01; /* ClientHello */
	*p++ = 0;
	put16(p, body);
	p += 2;
	*p++ = 0x03; /* legacy_version TLS 1.2 */
	*p++ = 0x03;
	for (int i = 0; i < 32; i++)
		*p++ = (unsigned char)(0x5a ^ (i * 7)); /* random: any bytes will do */
	*p++ = 32;
	for (int i = 0; i < 32; i++)
		*p++ = (unsigned char)(0xa5 ^ (i * 13)); /* legacy_session_id */
	put16(p, sizeof(suites));
	p += 2;
	memcpy(p, suites, sizeof(suites));
	p += sizeof(suites);
	*p++ = 1; /* compression: null only */
	*p++ = 0;
	put16(p, ext_len);
	p += 2;
	put16(p, 0); /* server_name */
	p += 2;
	put16(p, 2 + 3 + hl);
	p += 2;
	put16(p, 3 + hl);
	p += 2;
	*p++ = 0; /* host_name */
	put16(p, hl);
	p += 2;
	memcpy(p, host, hl);
	p += hl;
	memcpy(p, fixed_ext, sizeof(fixed_ext));
	p += sizeof(fixed_ext);
	return (ssize_t)(p - out);
}

#endif /* BENCH_HELLO_H */
