/* src/net/addr.c: socket address and prefix values: parse, print, compare, pick. */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"

/* Copies @n bytes of @s into @buf as a C string; false when it does not fit. */
static bool to_cstr(const char *s, size_t n, char *buf, size_t size)
{
	if (n >= size || memchr(s, '\0', n))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static int parse_ip(const char *s, size_t n, struct eg_net_addr *ret)
{
	char tmp[INET6_ADDRSTRLEN];
	struct eg_net_addr a = {0};

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		if (!to_cstr(s + 1, n - 2, tmp, sizeof(tmp)) ||
		    inet_pton(AF_INET6, tmp, &a.u.in6.sin6_addr) != 1)
			return -EINVAL;
		a.u.in6.sin6_family = AF_INET6;
		a.len = sizeof(a.u.in6);
		*ret = a;
		return 0;
	}
	if (!to_cstr(s, n, tmp, sizeof(tmp)))
		return -EINVAL;
	if (inet_pton(AF_INET, tmp, &a.u.in4.sin_addr) == 1) {
		a.u.in4.sin_family = AF_INET;
		a.len = sizeof(a.u.in4);
	} else if (inet_pton(AF_INET6, tmp, &a.u.in6.sin6_addr) == 1) {
		a.u.in6.sin6_family = AF_INET6;
		a.len = sizeof(a.u.in6);
	} else {
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

int eg_net_addr_parse_ip(const char *s, size_t n, uint16_t port, struct eg_net_addr *ret)
{
	struct eg_net_addr a;
	int r = parse_ip(s, n, &a);

	if (r < 0)
		return r;
	eg_net_addr_set_port(&a, port);
	*ret = a;
	return 0;
}

int eg_net_addr_parse(const char *s, size_t n, struct eg_net_addr *ret)
{
	struct eg_net_addr a;
	size_t colon;
	uint64_t port;
	int r;

	if (n == 0)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return -EINVAL;
		colon = (size_t)(close - s) + 1;
		if (colon >= n || s[colon] != ':')
			return -EINVAL;
	} else {
		const char *c = memchr(s, ':', n);

		if (!c || memchr(c + 1, ':', n - (size_t)(c - s) - 1))
			return -EINVAL; /* no port, or an IPv6 address without brackets */
		colon = (size_t)(c - s);
		/* Only a dotted IPv4 address may come without brackets. */
		if (colon == 0)
			return -EINVAL;
	}
	if (n - colon - 1 == 0 || n - colon - 1 > 5)
		return -EINVAL;
	r = eg_parse_u64((struct eg_str){s + colon + 1, n - colon - 1}, 65535, &port);
	if (r < 0)
		return -EINVAL;
	r = parse_ip(s, colon, &a);
	if (r < 0)
		return r;
	if (s[0] != '[' && a.u.sa.sa_family != AF_INET)
		return -EINVAL;
	eg_net_addr_set_port(&a, (uint16_t)port);
	*ret = a;
	return 0;
}

int eg_net_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct eg_net_addr *ret)
{
	struct eg_net_addr a = {0};

	if (sa->sa_family == AF_INET && len >= sizeof(a.u.in4)) {
		memcpy(&a.u.in4, sa, sizeof(a.u.in4));
		a.len = sizeof(a.u.in4);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(a.u.in6)) {
		memcpy(&a.u.in6, sa, sizeof(a.u.in6));
		a.len = sizeof(a.u.in6);
	} else {
		return -EAFNOSUPPORT;
	}
	*ret = a;
	return 0;
}

int eg_net_addr_family(const struct eg_net_addr *a)
{
	return a->len ? a->u.sa.sa_family : AF_UNSPEC;
}

uint16_t eg_net_addr_port(const struct eg_net_addr *a)
{
	switch (eg_net_addr_family(a)) {
	case AF_INET:
		return ntohs(a->u.in4.sin_port);
	case AF_INET6:
		return ntohs(a->u.in6.sin6_port);
	default:
		return 0;
	}
}

void eg_net_addr_set_port(struct eg_net_addr *a, uint16_t port)
{
	switch (eg_net_addr_family(a)) {
	case AF_INET:
		a->u.in4.sin_port = htons(port);
		break;
	case AF_INET6:
		a->u.in6.sin6_port = htons(port);
		break;
	default:
		break;
	}
}

int eg_net_addr_format_ip(const struct eg_net_addr *a, char *buf, size_t size)
{
	char tmp[INET6_ADDRSTRLEN];
	const void *src;
	size_t n;

	if (size)
		buf[0] = '\0';
	switch (eg_net_addr_family(a)) {
	case AF_INET:
		src = &a->u.in4.sin_addr;
		break;
	case AF_INET6:
		src = &a->u.in6.sin6_addr;
		break;
	default:
		return -EAFNOSUPPORT;
	}
	if (!inet_ntop(a->u.sa.sa_family, src, tmp, sizeof(tmp)))
		return -errno;
	n = strlen(tmp);
	if (n >= size)
		return -ENOSPC;
	memcpy(buf, tmp, n + 1);
	return (int)n;
}

int eg_net_addr_format(const struct eg_net_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int r = eg_net_addr_format_ip(a, ip, sizeof(ip));

	if (size)
		buf[0] = '\0';
	if (r < 0)
		return r;
	if (eg_net_addr_family(a) == AF_INET6)
		r = snprintf(buf, size, "[%s]:%u", ip, (unsigned)eg_net_addr_port(a));
	else
		r = snprintf(buf, size, "%s:%u", ip, (unsigned)eg_net_addr_port(a));
	if (r < 0 || (size_t)r >= size) {
		if (size)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return r;
}

bool eg_net_addr_ip_equal(const struct eg_net_addr *a, const struct eg_net_addr *b)
{
	int f = eg_net_addr_family(a);

	if (f != eg_net_addr_family(b))
		return false;
	if (f == AF_INET)
		return a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
	if (f == AF_INET6)
		return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
	return true;
}

bool eg_net_addr_equal(const struct eg_net_addr *a, const struct eg_net_addr *b)
{
	return eg_net_addr_ip_equal(a, b) && eg_net_addr_port(a) == eg_net_addr_port(b);
}

/* ---- prefixes ---- */

/* The address as 16 big-endian bytes (IPv4 in the last 4) and its bit width. */
static unsigned addr_bytes(const struct eg_net_addr *a, uint8_t out[16])
{
	memset(out, 0, 16);
	if (eg_net_addr_family(a) == AF_INET) {
		memcpy(out + 12, &a->u.in4.sin_addr, 4);
		return 32;
	}
	memcpy(out, &a->u.in6.sin6_addr, 16);
	return 128;
}

static void set_addr_bytes(struct eg_net_addr *a, const uint8_t in[16])
{
	if (eg_net_addr_family(a) == AF_INET)
		memcpy(&a->u.in4.sin_addr, in + 12, 4);
	else
		memcpy(&a->u.in6.sin6_addr, in, 16);
}

/* True when the bits of @b (16 bytes, width @w) after the first @bits are all zero. */
static bool host_bits_zero(const uint8_t b[16], unsigned w, unsigned bits)
{
	unsigned start = 128 - w + bits; /* bit index in the 128-bit value */

	for (unsigned i = start; i < 128; i++)
		if (b[i / 8] & (0x80u >> (i % 8)))
			return false;
	return true;
}

int eg_net_prefix_parse(const char *s, size_t n, struct eg_net_prefix *ret)
{
	const char *slash = memchr(s, '/', n);
	struct eg_net_prefix p = {0};
	uint8_t b[16];
	uint64_t bits;
	unsigned w;
	size_t blen;

	if (!slash)
		return -EINVAL;
	blen = n - (size_t)(slash - s) - 1;
	if (blen == 0 || blen > 3 || eg_parse_u64((struct eg_str){slash + 1, blen}, 128, &bits) < 0)
		return -EINVAL;
	if (parse_ip(s, (size_t)(slash - s), &p.net) < 0)
		return -EINVAL;
	w = addr_bytes(&p.net, b);
	if (bits > w || !host_bits_zero(b, w, (unsigned)bits))
		return -EINVAL;
	p.bits = (uint8_t)bits;
	*ret = p;
	return 0;
}

int eg_net_prefix_format(const struct eg_net_prefix *p, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int r = eg_net_addr_format_ip(&p->net, ip, sizeof(ip));

	if (size)
		buf[0] = '\0';
	if (r < 0)
		return r;
	r = snprintf(buf, size, "%s/%u", ip, (unsigned)p->bits);
	if (r < 0 || (size_t)r >= size) {
		if (size)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return r;
}

/* Whether the first address of the range (all-zero host) is skipped. */
static bool skips_first(const struct eg_net_prefix *p, unsigned w)
{
	return w == 32 ? p->bits <= 30 : p->bits <= 126;
}

uint64_t eg_net_prefix_size(const struct eg_net_prefix *p)
{
	unsigned w = eg_net_addr_family(&p->net) == AF_INET ? 32 : 128;
	unsigned host = w - p->bits;
	uint64_t total;

	if (eg_net_addr_family(&p->net) == AF_UNSPEC)
		return 0;
	if (host >= 64)
		return UINT64_MAX;
	total = (uint64_t)1 << host;
	if (!skips_first(p, w))
		return total;
	return w == 32 ? total - 2 : total - 1; /* IPv4 also skips the broadcast address */
}

void eg_net_prefix_nth(const struct eg_net_prefix *p, uint64_t i, struct eg_net_addr *ret)
{
	uint64_t size = eg_net_prefix_size(p), off;
	uint8_t b[16];
	unsigned w;

	*ret = p->net;
	if (size == 0)
		return;
	w = addr_bytes(&p->net, b);
	off = i % size + (skips_first(p, w) ? 1 : 0);
	/* Host bits are zero and off < 2^host (or fits the low 64 bits): a plain add, with the
	 * carry kept inside the host part. */
	for (int k = 15; k >= 0 && off; k--) {
		unsigned sum = b[k] + (unsigned)(off & 0xff);

		b[k] = (uint8_t)sum;
		off = (off >> 8) + (sum >> 8);
	}
	set_addr_bytes(ret, b);
	eg_net_addr_set_port(ret, 0);
}

void eg_net_prefix_pick(const struct eg_net_prefix *p, uint64_t *cursor, struct eg_net_addr *ret)
{
	eg_net_prefix_nth(p, *cursor, ret);
	(*cursor)++;
}

bool eg_net_prefix_contains(const struct eg_net_prefix *p, const struct eg_net_addr *a)
{
	uint8_t pb[16], ab[16];
	unsigned w, start;

	if (eg_net_addr_family(a) != eg_net_addr_family(&p->net))
		return false;
	w = addr_bytes(&p->net, pb);
	(void)addr_bytes(a, ab);
	start = 128 - w;
	for (unsigned i = start; i < start + p->bits; i++) {
		uint8_t m = (uint8_t)(0x80u >> (i % 8));

		if ((pb[i / 8] & m) != (ab[i / 8] & m))
			return false;
	}
	return true;
}
