/* src/core/str.h: string slices (values that never own memory) and small helpers.
 * May include: core. */
#ifndef EG_CORE_STR_H
#define EG_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct eg_str {
	const char *ptr;
	size_t len;
};

#define EG_STR(lit) ((struct eg_str){ (lit), sizeof(lit) - 1 })

static inline struct eg_str eg_str_c(const char *s)
{
	return (struct eg_str){ s, s ? strlen(s) : 0 };
}

static inline bool eg_str_eq(struct eg_str a, struct eg_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool eg_str_eqc(struct eg_str a, const char *b)
{
	return eg_str_eq(a, eg_str_c(b));
}

/* ASCII case-insensitive equality (HTTP header names, hosts). */
bool eg_str_caseeq(struct eg_str a, struct eg_str b);
bool eg_str_has_suffix(struct eg_str s, struct eg_str suffix);

/* Duplicates @s as a NUL-terminated heap string; NULL on allocation failure. */
char *eg_strndup(const char *s, size_t n);

/* Hash (FNV-1a, 64 bit) for tables keyed by bytes; deterministic across runs. */
uint64_t eg_hash(const void *p, size_t n);
uint64_t eg_hash_lower(const void *p, size_t n);

/* Parses a decimal unsigned integer filling all of @s, <= @max. 0 or -EINVAL/-ERANGE. */
int eg_parse_u64(struct eg_str s, uint64_t max, uint64_t *ret);

#endif /* EG_CORE_STR_H */
