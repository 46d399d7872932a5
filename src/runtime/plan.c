/* src/runtime/plan.c: the pure part of the local cluster: configuration text, addresses,
 * Kubernetes-style pod names, label selectors, restart backoff, hosts files, and which
 * pods the store's Deployments ask for. No I/O here except getrandom() for names. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "core/buf.h"
#include "core/compiler.h"
#include "core/str.h"
#include "runtime/runtime.h"

const char *eg_rt_mode_name(enum eg_rt_mode m)
{
	return m == EG_RT_NETNS ? "netns" : "loopback";
}

int eg_rt_mode_parse(const char *s, enum eg_rt_mode *ret)
{
	if (strcmp(s, "loopback") == 0)
		*ret = EG_RT_LOOPBACK;
	else if (strcmp(s, "netns") == 0)
		*ret = EG_RT_NETNS;
	else
		return -EINVAL;
	return 0;
}

const char *eg_rt_role_name(enum eg_rt_role r)
{
	switch (r) {
	case EG_RT_ROLE_SIDECAR:
		return "sidecar";
	case EG_RT_ROLE_GATEWAY:
		return "gateway";
	default:
		return "none";
	}
}

static enum eg_rt_role role_parse(const char *s)
{
	if (strcmp(s, "sidecar") == 0)
		return EG_RT_ROLE_SIDECAR;
	if (strcmp(s, "gateway") == 0)
		return EG_RT_ROLE_GATEWAY;
	return EG_RT_ROLE_NONE;
}

void eg_rt_config_default(struct eg_rt_config *c, enum eg_rt_mode mode)
{
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	snprintf(c->prefix, sizeof(c->prefix), "%s", EG_RT_DEFAULT_PREFIX);
	snprintf(c->pod_cidr, sizeof(c->pod_cidr), "%s",
	         mode == EG_RT_NETNS ? EG_RT_NETNS_PODS : EG_RT_LOOPBACK_PODS);
	snprintf(c->revision, sizeof(c->revision), "%s", EG_RT_DEFAULT_REV);
	c->workers = 1;
}

bool eg_rt_prefix_valid(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > EG_RT_PREFIX_MAX || p[0] < 'a' || p[0] > 'z')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')))
			return false;
	return true;
}

int eg_rt_config_format(const struct eg_rt_config *c, char *buf, size_t len)
{
	int n = snprintf(buf, len,
	                 "mode %s\nprefix %s\npod-cidr %s\nrevision %s\negressd %s\n"
	                 "hosts-file %s\nca-bundle %s\nworkers %u\n",
	                 eg_rt_mode_name(c->mode), c->prefix, c->pod_cidr, c->revision,
	                 c->egressd[0] ? c->egressd : "-", c->hosts_file[0] ? c->hosts_file : "-",
	                 c->ca_bundle[0] ? c->ca_bundle : "-", c->workers);

	return n < 0 || (size_t)n >= len ? -E2BIG : 0;
}

/* Copies a value of a config line; "-" stands for empty. */
static int put_value(char *dst, size_t cap, const char *v, size_t n)
{
	if (n == 1 && v[0] == '-')
		n = 0;
	if (n >= cap)
		return -EINVAL;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

int eg_rt_config_parse(const char *text, struct eg_rt_config *ret)
{
	struct eg_rt_config c;
	const char *p = text;
	char mode[16] = "", workers[16] = "";
	int r = 0;

	eg_rt_config_default(&c, EG_RT_LOOPBACK);
	while (*p && r == 0) {
		const char *eol = strchr(p, '\n'), *sp;
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		struct {
			const char *key;
			char *dst;
			size_t cap;
		} keys[] = {
		        {"mode", mode, sizeof(mode)},
		        {"prefix", c.prefix, sizeof(c.prefix)},
		        {"pod-cidr", c.pod_cidr, sizeof(c.pod_cidr)},
		        {"revision", c.revision, sizeof(c.revision)},
		        {"egressd", c.egressd, sizeof(c.egressd)},
		        {"hosts-file", c.hosts_file, sizeof(c.hosts_file)},
		        {"ca-bundle", c.ca_bundle, sizeof(c.ca_bundle)},
		        {"workers", workers, sizeof(workers)},
		};

		sp = memchr(p, ' ', n);
		if (sp) {
			size_t kl = (size_t)(sp - p);

			for (size_t i = 0; i < EG_ARRAY_SIZE(keys); i++)
				if (strlen(keys[i].key) == kl && memcmp(keys[i].key, p, kl) == 0)
					r = put_value(keys[i].dst, keys[i].cap, sp + 1, n - kl - 1);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	if (r < 0)
		return r;
	if (eg_rt_mode_parse(mode, &c.mode) < 0 || !eg_rt_prefix_valid(c.prefix))
		return -EINVAL;
	if (workers[0]) {
		uint64_t w;

		if (eg_parse_u64(eg_str_c(workers), 64, &w) < 0 || w == 0)
			return -EINVAL;
		c.workers = (unsigned)w;
	}
	*ret = c;
	return 0;
}

/* --- addresses --- */

int eg_rt_ip_parse(const char *s, uint32_t *ret)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ret = ntohl(a.s_addr);
	return 0;
}

void eg_rt_ip_format(uint32_t ip, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

int eg_rt_net_parse(const char *s, struct eg_rt_net *ret)
{
	char ip[32];
	const char *slash = strchr(s, '/');
	uint64_t len;
	uint32_t a, mask;

	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (eg_rt_ip_parse(ip, &a) < 0 || eg_parse_u64(eg_str_c(slash + 1), 32, &len) < 0)
		return -EINVAL;
	mask = len ? ~0u << (32 - len) : 0;
	if (a & ~mask)
		return -EINVAL;
	ret->base = a;
	ret->len = (unsigned)len;
	return 0;
}

bool eg_rt_net_contains(const struct eg_rt_net *n, uint32_t ip)
{
	uint32_t mask = n->len ? ~0u << (32 - n->len) : 0;

	return (ip & mask) == n->base;
}

bool eg_rt_net_overlap(const struct eg_rt_net *a, const struct eg_rt_net *b)
{
	return eg_rt_net_contains(a, b->base) || eg_rt_net_contains(b, a->base);
}

uint32_t eg_rt_slots(const struct eg_rt_net *n)
{
	uint64_t size = 1ull << (32 - n->len);

	/* network, router (netns bridge address) and broadcast are never pods */
	if (n->len > 29)
		return 0;
	size -= 3;
	return size > EG_RT_MAX_PODS * 64 ? EG_RT_MAX_PODS * 64 : (uint32_t)size;
}

uint32_t eg_rt_slot_ip(const struct eg_rt_net *n, uint32_t slot)
{
	return n->base + 2 + slot;
}

/* --- names --- */

static const char name_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

void eg_rt_template_hash(const char *text, size_t len, char out[11])
{
	uint64_t h = eg_hash(text, len);

	for (int i = 0; i < 10; i++) {
		out[i] = name_alphabet[h % (sizeof(name_alphabet) - 1)];
		h /= sizeof(name_alphabet) - 1;
		if (h == 0)
			h = eg_hash(out, (size_t)i + 1) | 1;
	}
	out[10] = '\0';
}

void eg_rt_random_suffix(char out[6])
{
	unsigned char rnd[5];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* no entropy source: a clock-derived suffix still tells pods apart */
		uint64_t h = eg_hash(&rnd, sizeof(rnd)) ^ (uint64_t)rand();

		memcpy(rnd, &h, sizeof(rnd));
	}
	for (int i = 0; i < 5; i++)
		out[i] = name_alphabet[rnd[i] % (sizeof(name_alphabet) - 1)];
	out[5] = '\0';
}

void eg_rt_pod_name(const char *deploy, const char *hash, const char *suffix, char *out, size_t len)
{
	size_t room = 63 - strlen(hash) - strlen(suffix) - 2;
	int dl = (int)EG_MIN(strlen(deploy), room);

	/* a name cut in the middle must not end in '-' or '.' (DNS-1123) */
	while (dl > 0 && (deploy[dl - 1] == '-' || deploy[dl - 1] == '.'))
		dl--;
	snprintf(out, len, "%.*s-%s-%s", dl, deploy, hash, suffix);
}

const char *eg_rt_map_str(const struct eg_node *map, const char *key)
{
	const struct eg_node *n = map && map->kind == EG_NODE_MAP ? eg_node_get(map, key) : NULL;

	return n && n->kind == EG_NODE_SCALAR && n->tag != EG_TAG_NULL ? n->s : NULL;
}

/* --- selectors --- */

int eg_rt_selector_parse(const char *s, struct eg_rt_selector *ret)
{
	const char *p = s;

	memset(ret, 0, sizeof(*ret));
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *op = NULL;
		size_t klen, vlen = 0, skip = 0;
		int kind = EG_RT_SEL_EXISTS;
		const char *key = p;

		if (ret->n == EG_RT_SEL_MAX)
			return -E2BIG;
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '!' && i + 1 < n && p[i + 1] == '=') {
				op = p + i, kind = EG_RT_SEL_NE, skip = 2;
				break;
			}
			if (p[i] == '=') {
				op = p + i, kind = EG_RT_SEL_EQ;
				skip = i + 1 < n && p[i + 1] == '=' ? 2 : 1;
				break;
			}
		}
		if (!op && n > 0 && p[0] == '!') {
			kind = EG_RT_SEL_ABSENT;
			key = p + 1;
		}
		klen = op ? (size_t)(op - p) : n - (size_t)(key - p);
		if (op)
			vlen = n - klen - skip;
		while (klen > 0 && key[klen - 1] == ' ')
			klen--;
		while (klen > 0 && key[0] == ' ')
			key++, klen--;
		if (klen == 0 || klen >= sizeof(ret->req[0].key) ||
		    vlen >= sizeof(ret->req[0].value))
			return -EINVAL;
		memcpy(ret->req[ret->n].key, key, klen);
		if (op)
			memcpy(ret->req[ret->n].value, op + skip, vlen);
		ret->req[ret->n].op = kind;
		ret->n++;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

bool eg_rt_selector_match(const struct eg_rt_selector *sel, const struct eg_node *labels)
{
	for (size_t i = 0; i < sel->n; i++) {
		const char *v = eg_rt_map_str(labels, sel->req[i].key);

		switch (sel->req[i].op) {
		case EG_RT_SEL_EQ:
			if (!v || strcmp(v, sel->req[i].value) != 0)
				return false;
			break;
		case EG_RT_SEL_NE:
			if (v && strcmp(v, sel->req[i].value) == 0)
				return false;
			break;
		case EG_RT_SEL_EXISTS:
			if (!v)
				return false;
			break;
		case EG_RT_SEL_ABSENT:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

/* A proxy that crashes once is back at once (a gateway is the only way out of the mesh);
 * one that keeps crashing waits 1 s, 2 s, 4 s ... 30 s. */
uint64_t eg_rt_backoff_ms(unsigned n)
{
	uint64_t ms = EG_RT_BACKOFF_MIN_MS;

	if (n <= 1)
		return EG_RT_BACKOFF_FIRST_MS;
	for (unsigned i = 2; i < n && ms < EG_RT_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return EG_MIN(ms, (uint64_t)EG_RT_BACKOFF_MAX_MS);
}

/* --- hosts files --- */

int eg_rt_hosts_check(const char *text, bool loopback, char *why, size_t whylen,
                      void (*cb)(uint32_t ip, void *ctx), void *ctx)
{
	const char *p = text;
	unsigned line = 0;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char buf[1024], *save = NULL, *tok;
		uint32_t ip;

		line++;
		if (n >= sizeof(buf)) {
			snprintf(why, whylen, "line %u: longer than %zu bytes", line,
			         sizeof(buf) - 1);
			return -EINVAL;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		if (strchr(buf, '#'))
			*strchr(buf, '#') = '\0';
		p += n;
		if (*p == '\n')
			p++;
		tok = strtok_r(buf, " \t\r", &save);
		if (!tok)
			continue;
		if (strchr(tok, ':')) {
			struct in6_addr a6;

			/* IPv6 lines are kept for resolvers but get no site address */
			if (inet_pton(AF_INET6, tok, &a6) != 1 ||
			    (loopback && !IN6_IS_ADDR_LOOPBACK(&a6))) {
				snprintf(why, whylen, "line %u: \"%.64s\" is not %s", line, tok,
				         loopback ? "::1 or a 127.x address" : "an IP address");
				return -EINVAL;
			}
			continue;
		}
		if (eg_rt_ip_parse(tok, &ip) < 0) {
			snprintf(why, whylen, "line %u: \"%.64s\" is not an IP address", line, tok);
			return -EINVAL;
		}
		if (loopback && (ip >> 24) != 127) {
			snprintf(why, whylen,
			         "line %u: %s is not a 127.x address (loopback mode runs the "
			         "external sites on this host's loopback)",
			         line, tok);
			return -EINVAL;
		}
		if (!strtok_r(NULL, " \t\r", &save)) {
			snprintf(why, whylen, "line %u: %s names no host", line, tok);
			return -EINVAL;
		}
		if (cb)
			cb(ip, ctx);
	}
	return 0;
}

/* --- what the Deployments ask for --- */

static const struct eg_resource *find_kind(const struct eg_resource_set *set, const char *kind,
                                           const char *ns, const char *name)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct eg_resource *r = set->v[i];

		if (strcmp(r->kind->kind, kind) == 0 && strcmp(r->name, name) == 0 &&
		    (!ns || (r->ns && strcmp(r->ns, ns) == 0)))
			return r;
	}
	return NULL;
}

/* The template's annotation @key, else the Deployment's own (snapshot.md's rule). */
static const char *deploy_annotation(const struct eg_resource *d, const char *key)
{
	const struct eg_node *a = eg_node_path(d->root, "spec.template.metadata.annotations");
	const char *v = eg_rt_map_str(a, key);

	if (!v)
		v = eg_rt_map_str(eg_node_path(d->root, "metadata.annotations"), key);
	return v;
}

static bool rev_listed(const char *rev, const char *const *revs, size_t nrevs)
{
	for (size_t i = 0; rev && i < nrevs; i++)
		if (revs[i] && strcmp(revs[i], rev) == 0)
			return true;
	return false;
}

static int want_cmp(const void *a, const void *b)
{
	const struct eg_rt_want *x = a, *y = b;
	int c = strcmp(x->deploy->ns ? x->deploy->ns : "", y->deploy->ns ? y->deploy->ns : "");

	return c ? c : strcmp(x->deploy->name, y->deploy->name);
}

static int fill_want(const struct eg_resource_set *set, const struct eg_resource *d,
                     const char *const *revs, size_t nrevs, struct eg_rt_want *w)
{
	const struct eg_node *tmpl = eg_node_path(d->root, "spec.template");
	const struct eg_node *tlabels = eg_node_path(d->root, "spec.template.metadata.labels");
	const char *sgc = deploy_annotation(d, EG_RT_ANN_SGC);
	const char *inject = deploy_annotation(d, EG_RT_ANN_INJECT);
	struct eg_buf b = EG_BUF_INIT(4u << 20);
	int64_t replicas = eg_node_int(d->root, "spec.replicas", 1);
	int r;

	memset(w, 0, sizeof(*w));
	w->deploy = d;
	if (!inject && tlabels)
		inject = eg_rt_map_str(tlabels, EG_RT_ANN_INJECT);
	if (sgc) {
		const struct eg_resource *s =
		        find_kind(set, "StaticGatewayConfiguration", d->ns, sgc);

		w->role = EG_RT_ROLE_GATEWAY;
		w->sgc = sgc;
		w->prefix = s ? eg_node_str(s->root, "status.egressIpPrefix") : NULL;
		w->revision = eg_rt_map_str(tlabels, EG_RT_LABEL_REV);
	} else {
		const struct eg_resource *ns = find_kind(set, "Namespace", NULL, d->ns);
		const struct eg_node *nl = ns ? eg_node_path(ns->root, "metadata.labels") : NULL;
		const char *rev = eg_rt_map_str(nl, EG_RT_LABEL_REV);

		if (!rev_listed(rev, revs, nrevs))
			return 0;
		w->role = inject && strcmp(inject, "false") == 0 ? EG_RT_ROLE_NONE
		                                                 : EG_RT_ROLE_SIDECAR;
		w->revision = rev;
	}
	w->sa = eg_node_str(d->root, "spec.template.spec.serviceAccountName");
	if (!w->sa)
		w->sa = "default";
	w->replicas = replicas < 0 ? 0 : (unsigned)EG_MIN(replicas, (int64_t)EG_RT_MAX_PODS);
	/* a new hash (hence new pods) when the template, the role or the gateway's prefix
	 * changes: as Kubernetes rolls pods on a template change, and as AKS wants gateway
	 * pods restarted after an SGC change */
	r = tmpl ? eg_node_emit_json(&b, tmpl, 0) : 0;
	if (r == 0)
		r = eg_buf_printf(&b, "|%s|%s|%s", eg_rt_role_name(w->role),
		                  w->prefix ? w->prefix : "", w->revision ? w->revision : "");
	if (r == 0)
		eg_rt_template_hash(eg_buf_cstr(&b), b.len, w->hash);
	eg_buf_done(&b);
	return r < 0 ? r : 1;
}

int eg_rt_plan(const struct eg_resource_set *set, const char *const *revs, size_t nrevs,
               struct eg_rt_want **ret, size_t *ret_n)
{
	struct eg_rt_want *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct eg_resource *d = set->v[i];
		struct eg_rt_want w;

		if (strcmp(d->kind->kind, "Deployment") != 0 || !d->ns)
			continue;
		r = fill_want(set, d, revs, nrevs, &w);
		if (r < 0)
			goto out_fail;
		if (r == 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct eg_rt_want *nv = realloc(v, nc * sizeof(*nv));

			if (!nv) {
				r = -ENOMEM;
				goto out_fail;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = w;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), want_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
out_fail:
	free(v);
	return r;
}

/* --- the state file --- */

void eg_rt_state_done(struct eg_rt_state *st)
{
	free(st->pods);
	free(st->netns);
	memset(st, 0, sizeof(*st));
}

int eg_rt_state_format(const struct eg_rt_state *st, const struct eg_rt_config *c, char **ret_text)
{
	struct eg_buf b = EG_BUF_INIT(64u << 20);
	int r;

	r = eg_buf_printf(&b,
	                  "# egressd local cluster state, written by the supervisor\n"
	                  "supervisor %ld %llu\nmode %s\nprefix %s\n",
	                  (long)st->supervisor, (unsigned long long)st->supervisor_start,
	                  eg_rt_mode_name(c->mode), c->prefix);
	for (size_t i = 0; r == 0 && i < st->nnetns; i++)
		r = eg_buf_printf(&b, "netns %s\n", st->netns[i]);
	for (size_t i = 0; r == 0 && i < st->npods; i++) {
		const struct eg_rt_pod_state *p = &st->pods[i];

		r = eg_buf_printf(&b, "pod %s %s %s %ld %llu %u %d %s %s %s\n", p->ns, p->name,
		                  p->ip[0] ? p->ip : "-", (long)p->pid,
		                  (unsigned long long)p->starttime, p->restarts, p->ready ? 1 : 0,
		                  p->status[0] ? p->status : "-", eg_rt_role_name(p->role),
		                  p->netns[0] ? p->netns : "-");
	}
	if (r < 0) {
		eg_buf_done(&b);
		return r;
	}
	*ret_text = eg_buf_steal(&b);
	return *ret_text ? 0 : -ENOMEM;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *nv;
	size_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	nv = realloc(*v, nc * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

static void dash_copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", strcmp(src, "-") == 0 ? "" : src);
}

int eg_rt_state_parse(const char *text, struct eg_rt_state *ret)
{
	struct eg_rt_state st = {0};
	size_t pcap = 0, ncap = 0;
	const char *p = text;
	int r = 0;

	while (*p && r == 0) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char line[2048], *f[12], *save = NULL;
		int nf = 0;

		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			for (char *t = strtok_r(line, " ", &save); t && nf < 12;
			     t = strtok_r(NULL, " ", &save))
				f[nf++] = t;
		}
		p += n;
		if (*p == '\n')
			p++;
		if (nf == 3 && strcmp(f[0], "supervisor") == 0) {
			st.supervisor = (pid_t)atol(f[1]);
			st.supervisor_start = strtoull(f[2], NULL, 10);
		} else if (nf == 2 && strcmp(f[0], "netns") == 0) {
			r = grow((void **)&st.netns, &ncap, st.nnetns, sizeof(*st.netns));
			if (r == 0)
				snprintf(st.netns[st.nnetns++], sizeof(*st.netns), "%s", f[1]);
		} else if (nf == 11 && strcmp(f[0], "pod") == 0) {
			struct eg_rt_pod_state *ps;

			r = grow((void **)&st.pods, &pcap, st.npods, sizeof(*st.pods));
			if (r < 0)
				break;
			ps = &st.pods[st.npods++];
			memset(ps, 0, sizeof(*ps));
			snprintf(ps->ns, sizeof(ps->ns), "%s", f[1]);
			snprintf(ps->name, sizeof(ps->name), "%s", f[2]);
			dash_copy(ps->ip, sizeof(ps->ip), f[3]);
			ps->pid = (pid_t)atol(f[4]);
			ps->starttime = strtoull(f[5], NULL, 10);
			ps->restarts = (unsigned)strtoul(f[6], NULL, 10);
			ps->ready = strcmp(f[7], "1") == 0;
			dash_copy(ps->status, sizeof(ps->status), f[8]);
			ps->role = role_parse(f[9]);
			dash_copy(ps->netns, sizeof(ps->netns), f[10]);
		}
	}
	if (r < 0) {
		eg_rt_state_done(&st);
		return r;
	}
	*ret = st;
	return 0;
}

void eg_rt_netns_name(const struct eg_rt_config *c, const char *what, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s", c->prefix, what);
}
