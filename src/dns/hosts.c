/* src/dns/hosts.c: the static hosts table (--hosts-file, /etc/hosts format). Parsing is a pure
 * function of bytes (fuzzed by tests/fuzz/fuzz_hosts.c); the table is immutable afterwards
 * and holds its answers ready-made, so a lookup allocates nothing. */
#include "dns/dns.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/file.h"
#include "core/str.h"
#include "dns/dns-int.h"

struct host_entry {
	char *name;
	size_t len;
	uint64_t hash;
	struct host_entry *next; /* hash chain */
	/* Built while parsing, replaced by the answers at the end. */
	struct eg_net_addr *addrs;
	size_t n, cap;
	struct eg_dns_answer *all, *v4, *v6; /* NULL when no address of that family */
};

struct eg_dns_hosts {
	_Atomic unsigned refs;
	size_t n;        /* entries */
	size_t pairs;    /* (name, address) pairs, bounded by EG_DNS_HOSTS_MAX_ENTRIES */
	size_t nbuckets; /* power of two */
	struct host_entry **buckets;
};

int eg_dns_name_normalize(const char *s, size_t n, char *out, size_t *ret_len)
{
	size_t label = 0;

	if (n && s[n - 1] == '.')
		n--;
	if (n == 0 || n > EG_DNS_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return -EINVAL;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		           c == '_') {
			label++;
		} else if (c >= 'A' && c <= 'Z') {
			c = (unsigned char)(c - 'A' + 'a');
			label++;
		} else {
			return -EINVAL;
		}
		if (label > 63)
			return -EINVAL;
		out[i] = (char)c;
	}
	if (label == 0)
		return -EINVAL;
	out[n] = '\0';
	*ret_len = n;
	return 0;
}

static void entry_free_temp(struct host_entry *e)
{
	free(e->addrs);
	e->addrs = NULL;
	e->n = e->cap = 0;
}

struct eg_dns_hosts *eg_dns_hosts_unref(struct eg_dns_hosts *h)
{
	if (!h)
		return NULL;
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	for (size_t b = 0; b < h->nbuckets; b++) {
		struct host_entry *e = h->buckets[b], *next;

		for (; e; e = next) {
			next = e->next;
			entry_free_temp(e);
			free(e->all);
			free(e->v4);
			free(e->v6);
			free(e->name);
			free(e);
		}
	}
	free(h->buckets);
	free(h);
	return NULL;
}

struct eg_dns_hosts *eg_dns_hosts_ref(struct eg_dns_hosts *h)
{
	if (h)
		atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
	return h;
}

size_t eg_dns_hosts_count(const struct eg_dns_hosts *h)
{
	return h ? h->n : 0;
}

static struct host_entry *find(const struct eg_dns_hosts *h, const char *name, size_t len,
                               uint64_t hash)
{
	struct host_entry *e = h->buckets[hash & (h->nbuckets - 1)];

	for (; e; e = e->next)
		if (e->hash == hash && e->len == len && memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

static int grow_buckets(struct eg_dns_hosts *h)
{
	size_t nb = h->nbuckets * 2;
	struct host_entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < h->nbuckets; i++) {
		struct host_entry *e = h->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = nb;
	return 0;
}

static int add_pair(struct eg_dns_hosts *h, const char *name, size_t len,
                    const struct eg_net_addr *a)
{
	uint64_t hash = eg_hash(name, len);
	struct host_entry *e = find(h, name, len, hash);

	if (!e) {
		if (h->n >= h->nbuckets && grow_buckets(h) < 0)
			return -ENOMEM;
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->name = eg_strndup(name, len);
		if (!e->name) {
			free(e);
			return -ENOMEM;
		}
		e->len = len;
		e->hash = hash;
		e->next = h->buckets[hash & (h->nbuckets - 1)];
		h->buckets[hash & (h->nbuckets - 1)] = e;
		h->n++;
	}
	for (size_t i = 0; i < e->n; i++)
		if (eg_net_addr_ip_equal(&e->addrs[i], a))
			return 0; /* duplicate line: keep the first */
	if (h->pairs >= EG_DNS_HOSTS_MAX_ENTRIES)
		return -E2BIG;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 2;
		struct eg_net_addr *v = realloc(e->addrs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->addrs = v;
		e->cap = cap;
	}
	e->addrs[e->n++] = *a;
	h->pairs++;
	return 0;
}

/* Makes an answer holding the addresses of @e of @family (AF_UNSPEC: all), or NULL in
 * *@ret when there are none. */
static int make_answer(const struct host_entry *e, int family, struct eg_dns_answer **ret)
{
	struct eg_dns_answer *a;
	size_t n = 0;

	*ret = NULL;
	for (size_t i = 0; i < e->n; i++)
		if (family == AF_UNSPEC || eg_net_addr_family(&e->addrs[i]) == family)
			n++;
	if (n == 0)
		return 0;
	a = calloc(1, sizeof(*a) + n * sizeof(a->addr[0]));
	if (!a)
		return -ENOMEM;
	a->refs = 0; /* static: lives as long as the table */
	a->source = EG_DNS_SOURCE_HOSTS;
	a->ttl_s = 0;
	a->expires_ms = UINT64_MAX;
	for (size_t i = 0; i < e->n; i++)
		if (family == AF_UNSPEC || eg_net_addr_family(&e->addrs[i]) == family)
			a->addr[a->n++] = e->addrs[i];
	*ret = a;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Parses one line (no '\n'). 1 when it was fine or empty, 0 when malformed (skipped), or
 * -E2BIG / -ENOMEM. */
static int parse_line(struct eg_dns_hosts *h, const char *p, size_t n)
{
	const char *hash = memchr(p, '#', n);
	const char *end, *tok[2 + 256];
	size_t toklen[2 + 256], ntok = 0;
	struct eg_net_addr addr;
	char name[EG_DNS_NAME_MAX + 1];
	size_t len;

	if (hash)
		n = (size_t)(hash - p);
	end = p + n;
	while (p < end) {
		const char *s;

		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		s = p;
		while (p < end && !is_space(*p))
			p++;
		if (ntok == EG_ARRAY_SIZE(tok))
			return 0; /* more aliases than any sane line has */
		tok[ntok] = s;
		toklen[ntok++] = (size_t)(p - s);
	}
	if (ntok == 0)
		return 1;
	if (ntok < 2 || tok[0][0] == '[' || eg_net_addr_parse_ip(tok[0], toklen[0], 0, &addr) < 0)
		return 0;
	/* Validate every name before adding any: a bad line adds nothing. */
	for (size_t i = 1; i < ntok; i++)
		if (eg_dns_name_normalize(tok[i], toklen[i], name, &len) < 0)
			return 0;
	for (size_t i = 1; i < ntok; i++) {
		int r;

		(void)eg_dns_name_normalize(tok[i], toklen[i], name, &len);
		r = add_pair(h, name, len, &addr);
		if (r < 0)
			return r;
	}
	return 1;
}

int eg_dns_hosts_parse(const char *text, size_t len, struct eg_dns_hosts **ret,
                       unsigned *ret_bad_lines, unsigned *ret_first_bad)
{
	struct eg_dns_hosts *h;
	unsigned bad = 0, first_bad = 0, lineno = 0;
	size_t pos = 0;
	int r = 0;

	if (len > EG_DNS_HOSTS_MAX_SIZE)
		return -E2BIG;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	atomic_init(&h->refs, 1);
	h->nbuckets = 64;
	h->buckets = calloc(h->nbuckets, sizeof(*h->buckets));
	if (!h->buckets) {
		free(h);
		return -ENOMEM;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (n > EG_DNS_HOSTS_MAX_LINE) {
			r = -E2BIG;
			goto out_free;
		}
		r = parse_line(h, text + pos, n);
		if (r < 0)
			goto out_free;
		if (r == 0) {
			bad++;
			if (!first_bad)
				first_bad = lineno;
		}
		pos += n + (nl ? 1 : 0);
	}
	for (size_t b = 0; b < h->nbuckets; b++) {
		for (struct host_entry *e = h->buckets[b]; e; e = e->next) {
			r = make_answer(e, AF_UNSPEC, &e->all);
			if (r == 0)
				r = make_answer(e, AF_INET, &e->v4);
			if (r == 0)
				r = make_answer(e, AF_INET6, &e->v6);
			if (r < 0)
				goto out_free;
			entry_free_temp(e);
		}
	}
	if (ret_bad_lines)
		*ret_bad_lines = bad;
	if (ret_first_bad)
		*ret_first_bad = first_bad;
	*ret = h;
	return 0;

out_free:
	(void)eg_dns_hosts_unref(h);
	return r;
}

int eg_dns_hosts_load(const char *path, struct eg_dns_hosts **ret, unsigned *ret_bad_lines,
                      unsigned *ret_first_bad)
{
	struct eg_buf text = EG_BUF_INIT(EG_DNS_HOSTS_MAX_SIZE);
	int r = eg_file_read_all(path, EG_DNS_HOSTS_MAX_SIZE, &text);

	if (r == 0)
		r = eg_dns_hosts_parse(eg_buf_cstr(&text), text.len, ret, ret_bad_lines,
		                       ret_first_bad);
	eg_buf_done(&text);
	return r == -EFBIG ? -E2BIG : r;
}

int eg_dns_hosts_lookup(const struct eg_dns_hosts *h, const char *name, size_t len, int family,
                        struct eg_dns_answer **ret)
{
	char norm[EG_DNS_NAME_MAX + 1];
	struct host_entry *e;
	struct eg_dns_answer *a;
	size_t n;

	if (!h || eg_dns_name_normalize(name, len, norm, &n) < 0)
		return -ENOENT;
	e = find(h, norm, n, eg_hash(norm, n));
	if (!e)
		return -ENOENT;
	a = family == AF_INET ? e->v4 : family == AF_INET6 ? e->v6 : e->all;
	if (!a)
		return -ENODATA;
	*ret = a;
	return 0;
}
