/* src/core/str.c: string slice helpers. */
#include "core/compiler.h"
#include "core/str.h"

#include <errno.h>
#include <stdlib.h>

static inline unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool eg_str_caseeq(struct eg_str a, struct eg_str b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (lower((unsigned char)a.ptr[i]) != lower((unsigned char)b.ptr[i]))
			return false;
	return true;
}

bool eg_str_has_suffix(struct eg_str s, struct eg_str suffix)
{
	return s.len >= suffix.len &&
	       memcmp(s.ptr + s.len - suffix.len, suffix.ptr, suffix.len) == 0;
}

char *eg_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

uint64_t eg_hash(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t eg_hash_lower(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= lower(b[i]);
		h *= 0x100000001b3ULL;
	}
	return h;
}

int eg_parse_u64(struct eg_str s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > 20)
		return -EINVAL;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned)(unsigned char)s.ptr[i] - '0';

		if (d > 9)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}
