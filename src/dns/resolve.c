/* src/dns/resolve.c: the per-loop resolver: literal and hosts answers, TTL cache with negative
 * entries and LRU eviction, coalescing, and c-ares driven by the loop (its sockets are loop
 * watchers, its timeouts one loop timer). */
#include "dns/dns.h"

#include <ares.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/str.h"
#include "dns/dns-int.h"

struct cache_entry {
	struct cache_entry *hnext;               /* hash chain */
	struct cache_entry *lru_prev, *lru_next; /* most recently used first */
	uint64_t hash;
	int family;
	uint64_t expires_ms;
	int status;                /* 0: positive, @ans set; < 0: negative (the cached error) */
	struct eg_dns_answer *ans; /* one reference held by the cache */
	size_t len;
	char name[];
};

struct pending {
	struct pending *prev, *next; /* r->pending list */
	struct eg_dns_resolver *r;
	uint64_t hash;
	int family;
	struct eg_dns_query *head, *tail; /* waiters, in arrival order */
	bool starting;                    /* inside ares_getaddrinfo(): no callbacks from there */
	bool done;                        /* completed while starting: result below */
	int status;
	struct eg_dns_answer *ans; /* reference for the synchronous result */
	size_t len;
	char name[];
};

struct eg_dns_query {
	struct eg_dns_query *prev, *next;
	struct pending *p;
	eg_dns_cb cb;
	void *data;
};

/* One c-ares socket. Freed through the loop's close phase: c-ares closes its sockets from
 * inside ares_process_fd(), i.e. inside this watcher's own callback. */
struct sock_watch {
	struct sock_watch *prev, *next;
	struct eg_io_watch io;
	struct eg_loop_closing closing;
	struct eg_dns_resolver *r;
};

struct eg_dns_resolver {
	struct eg_loop *loop;
	ares_channel channel;
	bool channel_ok;
	bool freeing;
	struct eg_dns_hosts *hosts;
	uint32_t floor_s, ceiling_s, negative_s;
	unsigned max_entries;

	struct cache_entry **buckets; /* [nbuckets], nbuckets a power of two */
	size_t nbuckets;
	size_t entries;
	struct cache_entry *lru_head, *lru_tail;

	struct pending *pending;
	size_t npending;
	struct sock_watch *socks;
	struct eg_timer timer;
	struct eg_dns_stats stats;
};

/* ---- answers ---- */

struct eg_dns_answer *eg_dns_answer_ref(struct eg_dns_answer *a)
{
	if (a && a->refs)
		a->refs++;
	return a;
}

struct eg_dns_answer *eg_dns_answer_unref(struct eg_dns_answer *a)
{
	if (a && a->refs && --a->refs == 0)
		free(a);
	return NULL;
}

static struct eg_dns_answer *answer_new(size_t n, enum eg_dns_source source)
{
	struct eg_dns_answer *a = calloc(1, sizeof(*a) + n * sizeof(a->addr[0]));

	if (!a)
		return NULL;
	a->refs = 1;
	a->source = source;
	a->expires_ms = UINT64_MAX;
	return a;
}

int eg_dns_errno(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENOTFOUND:
	case ARES_ENONAME:
		return -ENOENT;
	case ARES_ENODATA:
		return -ENODATA;
	case ARES_ETIMEOUT:
		return -ETIMEDOUT;
	case ARES_ECONNREFUSED:
		return -ECONNREFUSED;
	case ARES_ENOMEM:
		return -ENOMEM;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return -ECANCELED;
	case ARES_EBADNAME:
	case ARES_EBADFAMILY:
	case ARES_EBADHINTS:
	case ARES_EBADQUERY:
	case ARES_EBADSTR:
	case ARES_EBADFLAGS:
		return -EINVAL;
	default: /* SERVFAIL, REFUSED, FORMERR, NOTIMP, bad reply, EOF, ... */
		return -EIO;
	}
}

/* ---- cache ---- */

static uint64_t key_hash(const char *name, size_t len, int family)
{
	return eg_hash(name, len) ^ ((uint64_t)(unsigned)family * 0x9e3779b97f4a7c15ull);
}

static void lru_unlink(struct eg_dns_resolver *r, struct cache_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		r->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		r->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct eg_dns_resolver *r, struct cache_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = r->lru_head;
	if (r->lru_head)
		r->lru_head->lru_prev = e;
	else
		r->lru_tail = e;
	r->lru_head = e;
}

static struct cache_entry *cache_find(struct eg_dns_resolver *r, const char *name, size_t len,
                                      int family, uint64_t hash)
{
	struct cache_entry *e = r->buckets[hash & (r->nbuckets - 1)];

	for (; e; e = e->hnext)
		if (e->hash == hash && e->family == family && e->len == len &&
		    memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

static void cache_remove(struct eg_dns_resolver *r, struct cache_entry *e)
{
	struct cache_entry **pp = &r->buckets[e->hash & (r->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(r, e);
	e->ans = eg_dns_answer_unref(e->ans);
	free(e);
	r->entries--;
}

/* Looks @name up at time @now: the live entry (moved to the LRU front), or NULL (an expired
 * one is dropped). */
static struct cache_entry *cache_get(struct eg_dns_resolver *r, const char *name, size_t len,
                                     int family, uint64_t hash, uint64_t now)
{
	struct cache_entry *e = cache_find(r, name, len, family, hash);

	if (!e)
		return NULL;
	if (e->expires_ms <= now) {
		cache_remove(r, e);
		return NULL;
	}
	lru_unlink(r, e);
	lru_push_front(r, e);
	return e;
}

/* Stores a result (replacing an older one). Takes a new reference to @ans. Failure to
 * allocate just means no caching. */
static void cache_put(struct eg_dns_resolver *r, const char *name, size_t len, int family,
                      uint64_t hash, int status, struct eg_dns_answer *ans, uint64_t expires)
{
	struct cache_entry *e = cache_find(r, name, len, family, hash);

	if (e)
		cache_remove(r, e);
	while (r->entries >= r->max_entries && r->lru_tail) {
		r->stats.evictions++;
		cache_remove(r, r->lru_tail);
	}
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return;
	e->hash = hash;
	e->family = family;
	e->expires_ms = expires;
	e->status = status;
	e->ans = eg_dns_answer_ref(ans);
	e->len = len;
	memcpy(e->name, name, len);
	e->hnext = r->buckets[hash & (r->nbuckets - 1)];
	r->buckets[hash & (r->nbuckets - 1)] = e;
	lru_push_front(r, e);
	r->entries++;
}

void eg_dns_resolver_flush(struct eg_dns_resolver *r)
{
	while (r->lru_head)
		cache_remove(r, r->lru_head);
}

/* ---- c-ares on the loop ---- */

static void update_timer(struct eg_dns_resolver *r)
{
	struct timeval tv, *tvp;
	uint64_t ms;

	if (!r->channel_ok)
		return;
	tvp = ares_timeout(r->channel, NULL, &tv);
	if (!tvp) {
		eg_loop_timer_disarm(r->loop, &r->timer);
		return;
	}
	ms = (uint64_t)tvp->tv_sec * 1000u + ((uint64_t)tvp->tv_usec + 999u) / 1000u;
	/* If the heap cannot grow, the next socket event re-arms it. */
	(void)eg_loop_timer_arm(r->loop, &r->timer, ms);
}

static void timer_cb(struct eg_timer *t, void *data)
{
	struct eg_dns_resolver *r = data;

	(void)t;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	update_timer(r);
}

static void sock_io_cb(struct eg_io_watch *w, uint32_t events)
{
	struct sock_watch *sw = w->data;
	struct eg_dns_resolver *r = sw->r;
	int fd = w->fd;

	ares_process_fd(r->channel,
	                (events & (EG_IO_READ | EG_IO_ERROR | EG_IO_HUP)) ? fd : ARES_SOCKET_BAD,
	                (events & EG_IO_WRITE) ? fd : ARES_SOCKET_BAD);
	update_timer(r);
}

static void sock_free_cb(struct eg_loop_closing *c)
{
	free((struct sock_watch *)((char *)c - offsetof(struct sock_watch, closing)));
}

static void sock_drop(struct eg_dns_resolver *r, struct sock_watch *sw)
{
	eg_loop_io_stop(r->loop, &sw->io);
	if (sw->prev)
		sw->prev->next = sw->next;
	else
		r->socks = sw->next;
	if (sw->next)
		sw->next->prev = sw->prev;
	sw->r = NULL;
	eg_loop_defer_close(r->loop, &sw->closing, sock_free_cb);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct eg_dns_resolver *r = data;
	struct sock_watch *sw;
	uint32_t ev = (readable ? EG_IO_READ : 0) | (writable ? EG_IO_WRITE : 0);

	for (sw = r->socks; sw; sw = sw->next)
		if (sw->io.fd == fd)
			break;
	if (!ev) {
		/* c-ares closes the socket right after this. */
		if (sw)
			sock_drop(r, sw);
		return;
	}
	if (!sw) {
		sw = calloc(1, sizeof(*sw));
		if (!sw)
			return; /* the query times out through the timer instead */
		sw->r = r;
		eg_io_watch_init(&sw->io, fd, sock_io_cb, sw);
		sw->next = r->socks;
		if (r->socks)
			r->socks->prev = sw;
		r->socks = sw;
	}
	if (eg_loop_io_set(r->loop, &sw->io, ev) < 0)
		sock_drop(r, sw);
}

/* ---- lookups ---- */

static uint32_t clamp_ttl(const struct eg_dns_resolver *r, long ttl)
{
	if (ttl < (long)r->floor_s)
		return r->floor_s;
	if (ttl > (long)r->ceiling_s)
		return r->ceiling_s;
	return (uint32_t)ttl;
}

/* Builds the answer from c-ares's list: every address, duplicates dropped, TTL = the smallest
 * record TTL, clamped. 0, -ENODATA (no address) or -ENOMEM. */
static int build_answer(struct eg_dns_resolver *r, const struct ares_addrinfo *res,
                        struct eg_dns_answer **ret)
{
	const struct ares_addrinfo_node *nd;
	struct eg_dns_answer *a;
	size_t n = 0;
	long ttl = -1;

	for (nd = res ? res->nodes : NULL; nd; nd = nd->ai_next)
		n++;
	if (n == 0)
		return -ENODATA;
	a = answer_new(n, EG_DNS_SOURCE_DNS);
	if (!a)
		return -ENOMEM;
	for (nd = res->nodes; nd; nd = nd->ai_next) {
		struct eg_net_addr ad;
		bool dup = false;

		if (!nd->ai_addr || eg_net_addr_from_sockaddr(nd->ai_addr, nd->ai_addrlen, &ad) < 0)
			continue;
		eg_net_addr_set_port(&ad, 0);
		for (size_t i = 0; i < a->n && !dup; i++)
			dup = eg_net_addr_ip_equal(&a->addr[i], &ad);
		if (dup)
			continue;
		a->addr[a->n++] = ad;
		if (ttl < 0 || nd->ai_ttl < ttl)
			ttl = nd->ai_ttl < 0 ? 0 : nd->ai_ttl;
	}
	if (a->n == 0) {
		free(a);
		return -ENODATA;
	}
	a->ttl_s = clamp_ttl(r, ttl);
	a->expires_ms = eg_loop_now(r->loop) + (uint64_t)a->ttl_s * 1000u;
	*ret = a;
	return 0;
}

static void query_unlink(struct eg_dns_query *q)
{
	struct pending *p = q->p;

	if (q->prev)
		q->prev->next = q->next;
	else
		p->head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		p->tail = q->prev;
	q->prev = q->next = NULL;
}

static void pending_unlink(struct eg_dns_resolver *r, struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		r->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	r->npending--;
}

static void gai_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct pending *p = arg;
	struct eg_dns_resolver *r = p->r;
	struct eg_dns_answer *ans = NULL;
	int err = eg_dns_errno(status);

	(void)timeouts;
	if (err == 0)
		err = build_answer(r, res, &ans);
	if (res)
		ares_freeaddrinfo(res);
	if (r->freeing)
		err = err < 0 ? err : -ECANCELED;
	if (err == 0) {
		cache_put(r, p->name, p->len, p->family, p->hash, 0, ans, ans->expires_ms);
	} else if (err == -ENOENT || err == -ENODATA) {
		if (!r->freeing)
			cache_put(r, p->name, p->len, p->family, p->hash, err, NULL,
			          eg_loop_now(r->loop) + (uint64_t)r->negative_s * 1000u);
		r->stats.failures++;
	} else {
		r->stats.failures++;
	}
	if (r->freeing) {
		ans = eg_dns_answer_unref(ans);
		err = -ECANCELED;
	}
	pending_unlink(r, p);
	if (p->starting) {
		/* Finished inside ares_getaddrinfo(): eg_dns_resolve returns it directly. */
		p->done = true;
		p->status = err;
		p->ans = ans;
		return;
	}
	/* The entry is out of the pending list and the result in the cache: callbacks may
	 * resolve the same name again, or cancel other waiters of @p. */
	while (p->head) {
		struct eg_dns_query *q = p->head;
		eg_dns_cb cb = q->cb;
		void *data = q->data;

		query_unlink(q);
		free(q);
		cb(data, err, err == 0 ? ans : NULL);
	}
	eg_dns_answer_unref(ans);
	free(p);
}

static int literal_answer(const char *name, size_t len, int family, struct eg_dns_answer **ret)
{
	struct eg_net_addr a;
	struct eg_dns_answer *ans;

	if (eg_net_addr_parse_ip(name, len, 0, &a) < 0)
		return -ENOENT;
	if (family != AF_UNSPEC && eg_net_addr_family(&a) != family)
		return -ENODATA;
	ans = answer_new(1, EG_DNS_SOURCE_LITERAL);
	if (!ans)
		return -ENOMEM;
	ans->addr[0] = a;
	ans->n = 1;
	*ret = ans;
	return 0;
}

int eg_dns_resolve(struct eg_dns_resolver *r, const char *name, size_t len, int family,
                   eg_dns_cb cb, void *data, struct eg_dns_answer **ret_ans,
                   struct eg_dns_query **ret_q)
{
	struct ares_addrinfo_hints hints = {0};
	char norm[EG_DNS_NAME_MAX + 1];
	struct eg_dns_query *q;
	struct cache_entry *e;
	struct pending *p;
	uint64_t hash;
	size_t n;
	int rc;

	r->stats.lookups++;
	if (r->freeing)
		return -ECANCELED;
	if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	rc = literal_answer(name, len, family, ret_ans);
	if (rc != -ENOENT) {
		if (rc >= 0 || rc == -ENODATA)
			r->stats.literal++;
		return rc;
	}
	if (r->hosts) {
		rc = eg_dns_hosts_lookup(r->hosts, name, len, family, ret_ans);
		if (rc != -ENOENT) {
			r->stats.hosts++;
			return rc;
		}
	}
	if (eg_dns_name_normalize(name, len, norm, &n) < 0)
		return -EINVAL;
	hash = key_hash(norm, n, family);
	e = cache_get(r, norm, n, family, hash, eg_loop_now(r->loop));
	if (e) {
		if (e->status < 0) {
			r->stats.negative_hits++;
			return e->status;
		}
		r->stats.cache_hits++;
		*ret_ans = eg_dns_answer_ref(e->ans);
		return 0;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->cb = cb;
	q->data = data;
	for (p = r->pending; p; p = p->next)
		if (p->hash == hash && p->family == family && p->len == n &&
		    memcmp(p->name, norm, n) == 0)
			break;
	if (p) {
		r->stats.coalesced++;
	} else {
		p = calloc(1, sizeof(*p) + n + 1);
		if (!p) {
			free(q);
			return -ENOMEM;
		}
		p->r = r;
		p->hash = hash;
		p->family = family;
		p->len = n;
		memcpy(p->name, norm, n + 1);
		p->next = r->pending;
		if (r->pending)
			r->pending->prev = p;
		r->pending = p;
		r->npending++;
		r->stats.queries++;
		hints.ai_family = family;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = ARES_AI_NOSORT;
		p->starting = true;
		ares_getaddrinfo(r->channel, p->name, NULL, &hints, gai_cb, p);
		p->starting = false;
		if (p->done) {
			rc = p->status;
			if (rc == 0)
				*ret_ans = p->ans;
			free(p);
			free(q);
			return rc;
		}
	}
	q->p = p;
	q->prev = p->tail;
	if (p->tail)
		p->tail->next = q;
	else
		p->head = q;
	p->tail = q;
	update_timer(r);
	if (ret_q)
		*ret_q = q;
	return EG_DNS_PENDING;
}

void eg_dns_cancel(struct eg_dns_resolver *r, struct eg_dns_query *q)
{
	(void)r;
	if (!q)
		return;
	query_unlink(q);
	free(q);
}

/* ---- lifetime ---- */

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status;

static void ares_init_once(void)
{
	ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

int eg_dns_resolver_new(struct eg_loop *loop, const struct eg_dns_config *cfg,
                        struct eg_dns_resolver **ret)
{
	struct eg_dns_config def = {0};
	struct ares_options opts = {0};
	struct eg_dns_resolver *r;
	int optmask, rc;

	if (!cfg)
		cfg = &def;
	pthread_once(&ares_once, ares_init_once);
	if (ares_init_status != ARES_SUCCESS)
		return eg_dns_errno(ares_init_status);
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->floor_s = cfg->ttl_floor_s ? cfg->ttl_floor_s : EG_DNS_DEFAULT_TTL_FLOOR_S;
	r->ceiling_s = cfg->ttl_ceiling_s ? cfg->ttl_ceiling_s : EG_DNS_DEFAULT_TTL_CEILING_S;
	if (r->ceiling_s < r->floor_s)
		r->ceiling_s = r->floor_s;
	r->negative_s = cfg->negative_ttl_s ? cfg->negative_ttl_s : EG_DNS_DEFAULT_NEGATIVE_TTL_S;
	r->max_entries = cfg->max_entries ? cfg->max_entries : 4096;
	r->nbuckets = 64;
	while (r->nbuckets < r->max_entries && r->nbuckets < (1u << 20))
		r->nbuckets *= 2;
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	if (!r->buckets) {
		rc = -ENOMEM;
		goto out_free;
	}
	eg_timer_init(&r->timer, timer_cb, r);

	opts.timeout = cfg->timeout_ms ? (int)cfg->timeout_ms : 2000;
	opts.tries = cfg->tries ? (int)cfg->tries : 2;
	/* "b": DNS only; "fb": /etc/hosts, then DNS. */
	opts.lookups = cfg->system_hosts ? (char *)"fb" : (char *)"b";
	opts.sock_state_cb = sock_state_cb;
	opts.sock_state_cb_data = r;
	optmask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB;
	if (!cfg->search) {
		opts.domains = NULL;
		opts.ndomains = 0; /* overrides resolv.conf's search list */
		optmask |= ARES_OPT_DOMAINS;
	}
	rc = ares_init_options(&r->channel, &opts, optmask);
	if (rc != ARES_SUCCESS) {
		rc = eg_dns_errno(rc);
		goto out_free;
	}
	r->channel_ok = true;
	if (cfg->servers) {
		rc = ares_set_servers_ports_csv(r->channel, cfg->servers);
		if (rc != ARES_SUCCESS) {
			rc = rc == ARES_ENOMEM ? -ENOMEM : -EINVAL;
			goto out_destroy;
		}
	}
	r->hosts = eg_dns_hosts_ref(cfg->hosts);
	*ret = r;
	return 0;

out_destroy:
	ares_destroy(r->channel);
out_free:
	free(r->buckets);
	free(r);
	return rc;
}

struct eg_dns_resolver *eg_dns_resolver_free(struct eg_dns_resolver *r)
{
	if (!r)
		return NULL;
	r->freeing = true;
	/* Pending lookups complete with ARES_EDESTRUCTION: their waiters get -ECANCELED. */
	ares_destroy(r->channel);
	r->channel_ok = false;
	while (r->socks)
		sock_drop(r, r->socks);
	eg_loop_timer_disarm(r->loop, &r->timer);
	eg_dns_resolver_flush(r);
	free(r->buckets);
	r->hosts = eg_dns_hosts_unref(r->hosts);
	free(r);
	return NULL;
}

void eg_dns_resolver_stats(const struct eg_dns_resolver *r, struct eg_dns_stats *ret)
{
	*ret = r->stats;
	ret->entries = r->entries;
	ret->pending = r->npending;
}
