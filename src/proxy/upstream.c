/* src/proxy/upstream.c: endpoints of a cluster, load balancing, and per-worker pools of
 * keep-alive upstream connections. Everything here runs on one worker's thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "proxy/internal.h"

uint64_t up_connect_timeout(const struct eg_cluster *cl)
{
	/* issue 4: 5 s unless a DestinationRule set connectTimeout (the compiled default for
	 * clusters without a DR is Envoy's 10 s, which we do not use) */
	if (cl && cl->destination_rule && cl->pool.connect_timeout_ns > 0)
		return (uint64_t)(cl->pool.connect_timeout_ns / 1000000);
	return EG_PROXY_CONNECT_TIMEOUT_MS;
}

const char *up_errno_reason(int err)
{
	switch (err) {
	case -ECONNREFUSED:
		return "delayed_connect_error:_Connection_refused";
	case -ETIMEDOUT:
		return "connect_timeout";
	case -EHOSTUNREACH:
		return "delayed_connect_error:_No_route_to_host";
	case -ENETUNREACH:
		return "delayed_connect_error:_Network_unreachable";
	case -EADDRNOTAVAIL:
		return "local_address_not_available";
	case -ECONNRESET:
		return "connection_reset";
	default:
		return "connection_failure";
	}
}

static void dns_noop(void *data, int status, struct eg_dns_answer *ans)
{
	(void)data;
	(void)status;
	(void)ans;
}

/* Address candidates of @cl: the endpoints (literal addresses, or every address of their
 * DNS names). Returns how many, -EINPROGRESS (a lookup is pending), or -errno. */
static int candidates(struct pworker *pw, const struct eg_cluster *cl, eg_dns_cb cb, void *data,
                      struct eg_dns_query **q, struct eg_net_addr *out, size_t cap)
{
	size_t n = 0;
	int pending = 0, err = -ENOENT;

	for (size_t i = 0; i < cl->nendpoints && n < cap; i++) {
		const struct eg_endpoint *ep = &cl->endpoints[i];
		struct eg_dns_answer *ans = NULL;
		int r;

		if (!ep->address)
			continue;
		/* one waiter is enough: the other answers land in the cache for the next pick */
		r = eg_dns_resolve(pw->dns, ep->address, strlen(ep->address), AF_UNSPEC,
		                   pending ? dns_noop : cb, pending ? NULL : data, &ans,
		                   pending ? NULL : q);
		if (r == EG_DNS_PENDING) {
			pending = 1;
			continue;
		}
		if (r < 0) {
			err = r;
			continue;
		}
		for (size_t k = 0; k < ans->n && n < cap; k++) {
			out[n] = ans->addr[k];
			eg_net_addr_set_port(&out[n], ep->port ? ep->port : cl->port);
			n++;
			if (cl->type == EG_CLUSTER_LOGICAL_DNS)
				break; /* LOGICAL_DNS: the first address only */
		}
		eg_dns_answer_unref(ans);
	}
	if (n > 0)
		return (int)n;
	if (pending)
		return -EINPROGRESS;
	return err;
}

static uint64_t key_of(uint64_t ch, const struct eg_net_addr *a)
{
	return ch ^ (eg_hash(&a->u, a->len) * 0x9e3779b97f4a7c15ull);
}

static struct upool *pool_find(struct pworker *pw, uint64_t ch, const struct eg_net_addr *a,
                               bool create)
{
	uint64_t k = key_of(ch, a);
	struct upool **slot = &pw->pools[k % POOL_SLOTS];
	struct upool *p;

	for (p = *slot; p; p = p->next)
		if (p->key == k && p->cluster_hash == ch && eg_net_addr_equal(&p->addr, a))
			return p;
	if (!create || pw->npools >= 64 * POOL_SLOTS)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->key = k;
	p->cluster_hash = ch;
	p->addr = *a;
	p->next = *slot;
	*slot = p;
	pw->npools++;
	return p;
}

struct upool *up_pool(struct pworker *pw, const struct eg_cluster *cl, const struct eg_net_addr *a)
{
	uint64_t ch = eg_hash(cl->name, strlen(cl->name));

	return pool_find(pw, ch, a, true);
}

struct upool *up_pool_salted(struct pworker *pw, const struct eg_cluster *cl,
                             const struct eg_net_addr *a, uint64_t salt)
{
	uint64_t ch = eg_hash(cl->name, strlen(cl->name));

	return pool_find(pw, ch ^ (salt * 0xff51afd7ed558ccdull), a, true);
}

int up_pick(struct pworker *pw, const struct eg_cluster *cl, struct eg_str dest_host,
            uint16_t dest_port, const struct eg_net_addr *orig, eg_dns_cb cb, void *data,
            struct eg_dns_query **q, struct eg_net_addr *ret)
{
	struct eg_net_addr cand[MAX_CANDIDATES];
	uint64_t ch;
	int n;

	if (cl->type == EG_CLUSTER_ORIGINAL_DST || cl->type == EG_CLUSTER_DYNAMIC_DNS) {
		struct eg_dns_answer *ans = NULL;
		int r;

		if (orig && orig->len && cl->type == EG_CLUSTER_ORIGINAL_DST) {
			*ret = *orig;
			return 0;
		}
		if (!dest_host.len)
			return -ENOENT;
		r = eg_dns_resolve(pw->dns, dest_host.ptr, dest_host.len, AF_UNSPEC, cb, data, &ans,
		                   q);
		if (r == EG_DNS_PENDING)
			return r;
		if (r < 0)
			return -EHOSTDOWN; /* the destination's own name failed: DF */
		*ret = ans->addr[pw_rand(pw) % ans->n];
		eg_net_addr_set_port(ret, dest_port);
		eg_dns_answer_unref(ans);
		return 0;
	}
	n = candidates(pw, cl, cb, data, q, cand, MAX_CANDIDATES);
	if (n == -EINPROGRESS)
		return EG_DNS_PENDING;
	if (n <= 0)
		return n == -ENOENT || n == 0 ? -ENOENT : -EHOSTUNREACH;
	ch = eg_hash(cl->name, strlen(cl->name));
	switch (cl->lb) {
	case EG_LB_ROUND_ROBIN:
	default: {
		uint64_t *cur = &pw->rr[ch & 255];

		*ret = cand[(*cur)++ % (uint64_t)n];
		break;
	}
	case EG_LB_RANDOM:
		*ret = cand[pw_rand(pw) % (uint64_t)n];
		break;
	case EG_LB_LEAST_REQUEST: {
		/* two random choices, the one with fewer requests in flight */
		size_t a = pw_rand(pw) % (uint64_t)n, b = pw_rand(pw) % (uint64_t)n;
		struct upool *pa = pool_find(pw, ch, &cand[a], false);
		struct upool *pb = pool_find(pw, ch, &cand[b], false);
		unsigned ra = pa ? pa->active : 0, rb = pb ? pb->active : 0;

		*ret = cand[rb < ra ? b : a];
		break;
	}
	}
	return 0;
}

static void idle_unlink(struct uconn *u)
{
	struct upool *p = u->pool;

	if (!u->in_pool)
		return;
	if (u->iprev)
		u->iprev->inext = u->inext;
	else
		p->idle = u->inext;
	if (u->inext)
		u->inext->iprev = u->iprev;
	u->inext = u->iprev = NULL;
	u->in_pool = false;
	p->nidle--;
}

static void uconn_free_cb(struct eg_loop_closing *c)
{
	struct uconn *u = (struct uconn *)c;

	free(u->rbuf);
	free(u);
}

void up_close(struct uconn *u)
{
	if (!u || u->dead)
		return;
	u->dead = true;
	idle_unlink(u);
	eg_loop_timer_disarm(u->pw->loop, &u->timer);
	utls_free(u);
	if (u->conn.busy)
		eg_net_connect_cancel(&u->conn);
	if (u->io.fd >= 0) {
		eg_loop_io_stop(u->pw->loop, &u->watch);
		u->io.ops->close(&u->io);
	}
	eg_loop_defer_close(u->pw->loop, &u->closing, uconn_free_cb);
}

static void idle_io(struct eg_io_watch *w, uint32_t ev)
{
	struct uconn *u = w->data;

	(void)ev;
	/* an idle upstream connection has nothing to say: EOF, reset or stray bytes end it */
	up_close(u);
}

static void idle_timer(struct eg_timer *t, void *data)
{
	(void)t;
	up_close(data);
}

struct uconn *up_take_idle(struct upool *p)
{
	struct uconn *u = p ? p->idle : NULL;

	if (!u)
		return NULL;
	idle_unlink(u);
	eg_loop_timer_disarm(u->pw->loop, &u->timer);
	/* the read interest stays (the exchange wants the response next): the caller switches
	 * the callback before the loop runs again */
	return u;
}

void up_release(struct uconn *u, bool reuse, uint64_t idle_ms, uint32_t max_req)
{
	struct pworker *pw = u->pw;
	struct upool *p = u->pool;

	u->ex = NULL;
	if (p && p->active)
		p->active--;
	if (!reuse || !p || pw->draining || p->nidle >= POOL_MAX_IDLE ||
	    (max_req && u->requests >= max_req) || u->rlen > u->roff) {
		up_close(u);
		return;
	}
	/* idle: release the read buffer, watch for the server closing */
	free(u->rbuf);
	u->rbuf = NULL;
	u->rlen = u->rcap = u->roff = 0;
	u->watch.cb = idle_io;
	u->watch.data = u;
	if (eg_loop_io_set(pw->loop, &u->watch, EG_IO_READ) < 0) {
		up_close(u);
		return;
	}
	if (idle_ms) {
		eg_timer_init(&u->timer, idle_timer, u);
		eg_loop_timer_arm(pw->loop, &u->timer, idle_ms);
	}
	u->inext = p->idle;
	u->iprev = NULL;
	if (p->idle)
		p->idle->iprev = u;
	p->idle = u;
	p->nidle++;
	u->in_pool = true;
}

static void connected_cb(struct eg_net_connector *c, int fd_or_err, void *data)
{
	struct uconn *u = data;

	(void)c;
	if (fd_or_err >= 0 && u->ut) {
		/* TLS: the handshake runs first, its end calls u->ccb (tls_upstream.c) */
		int r;

		eg_net_set_nodelay(fd_or_err);
		eg_net_local_addr(fd_or_err, &u->local);
		r = utls_start(u, fd_or_err);
		if (r > 0)
			return;
		fd_or_err = r;
	}
	if (fd_or_err >= 0) {
		eg_io_tcp_init(&u->io, fd_or_err);
		eg_net_set_nodelay(fd_or_err);
		eg_net_local_addr(fd_or_err, &u->local);
		u->connected = true;
	}
	u->ccb(c, fd_or_err, u->cdata);
}

static bool is_loopback(const struct eg_net_addr *a)
{
	return eg_net_addr_family(a) == AF_INET && (ntohl(a->u.in4.sin_addr.s_addr) >> 24) == 127;
}

int up_source(struct pworker *pw, const struct pconf *pc, const struct eg_net_addr *dst,
              struct eg_net_addr *ret)
{
	if (pc->id->role == EG_ROLE_GATEWAY) {
		if (!pc->has_prefix)
			return -EADDRNOTAVAIL;
		eg_net_prefix_pick(&pc->prefix, &pw->src_cursor, ret);
		return 1;
	}
	if (is_loopback(&pw->px->pod) && is_loopback(dst)) {
		/* loopback mode: a pod speaks from its own 127.x address, as it would from its
		 * pod IP, so the next hop sees (and logs) who it is */
		*ret = pw->px->pod;
		eg_net_addr_set_port(ret, 0);
		return 1;
	}
	return 0;
}

struct uconn *up_connect(struct pworker *pw, const struct pconf *pc, struct upool *p,
                         const struct eg_cluster *cl, eg_net_connect_cb cb, void *data, int *err,
                         const char **why)
{
	struct eg_net_addr src, *srcp = NULL;
	struct uconn *u;
	int r;

	*why = NULL;
	r = up_source(pw, pc, &p->addr, &src);
	if (r < 0) {
		*err = r;
		*why = "no_egress_source";
		return NULL;
	}
	srcp = r > 0 ? &src : NULL;
	u = calloc(1, sizeof(*u));
	if (!u) {
		*err = -ENOMEM;
		return NULL;
	}
	u->pw = pw;
	u->pool = p;
	u->io.fd = -1;
	u->addr = p->addr;
	eg_io_watch_init(&u->watch, -1, NULL, NULL);
	u->ccb = cb;
	u->cdata = data;
	r = eg_net_connect(&u->conn, pw->loop, &p->addr, srcp, up_connect_timeout(cl), connected_cb,
	                   u);
	if (r < 0) {
		free(u);
		*err = r;
		return NULL;
	}
	p->active++;
	return u;
}

void up_pools_close_idle(struct pworker *pw)
{
	if (!pw->pools)
		return;
	for (size_t i = 0; i < POOL_SLOTS; i++)
		for (struct upool *p = pw->pools[i]; p; p = p->next)
			while (p->idle)
				up_close(p->idle);
}

void up_pools_free(struct pworker *pw)
{
	if (!pw->pools)
		return;
	for (size_t i = 0; i < POOL_SLOTS; i++) {
		struct upool *p = pw->pools[i], *nx;

		for (; p; p = nx) {
			nx = p->next;
			while (p->idle)
				up_close(p->idle);
			free(p);
		}
		pw->pools[i] = NULL;
	}
}
