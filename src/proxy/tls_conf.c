/* src/proxy/tls_conf.c: the control thread's half of TLS: the proxy's workload identity
 * (a rotator over $EGRESSD_CERT_DIR, refreshed on a timer), the origination trust store
 * (the OS bundle plus $EGRESSD_CA_BUNDLE), and, per snapshot, one client context per
 * cluster that originates TLS and one server object per gateway listener whose chains
 * terminate TLS. Building reads files, so it happens here and never on a worker.
 *
 * Identity and trust are loaded lazily, on the first snapshot that needs them: parsing the
 * OS CA bundle alone (~150 roots into an X509_STORE) took about 5 MB of the idle RSS, and a
 * proxy without TLS must not pay for it (issue 4's 8 MiB target). The trust store is loaded
 * for the first cluster that originates SIMPLE or MUTUAL, the workload identity for the first
 * ISTIO_MUTUAL cluster or gateway chain; a proxy that needs no TLS does no OpenSSL work. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "proxy/internal.h"

#define ROTATE_POLL_MS 1000u /* how often the certificate files are looked at */

struct ptls_global {
	struct eg_loop *loop;
	char *cert_dir;             /* NULL: none configured */
	char *ca_bundle;            /* NULL: the OS bundle alone */
	bool id_tried, trust_tried; /* the lazy loads below were attempted */
	struct eg_tls_rotator *rot; /* NULL: no workload identity */
	struct x509_store_st *trust; /* NULL: trust_err says why */
	char id_err[256];
	char trust_err[256];
	eg_tls_secret_fn secret;
	void *secret_data;
	struct eg_timer timer;
	bool timer_on;
};

/* One cluster's client context. */
struct pcl {
	const struct eg_cluster *cl;
	struct eg_tls_client *cli; /* NULL: err */
	char *key;                 /* the settings it was built from (reuse across reloads) */
	char *err;
};

/* One gateway listener's terminating chains. */
struct psrv {
	uint16_t port;
	struct eg_tls_server *srv; /* NULL when no chain could be built */
	const struct eg_filter_chain **fcs;
	int *idx;   /* chain index in srv, -1 when that chain failed */
	char **err; /* per chain */
	size_t nfc;
	char *key;
};

struct ptls_conf {
	atomic_uint refs;
	struct pcl *cls; /* sorted by cluster pointer */
	size_t ncls;
	struct psrv *srvs;
	size_t nsrvs;
};

/* ---- identity and rotation ---- */

static void rotate_tick(struct eg_timer *t, void *data)
{
	struct ptls_global *g = data;
	char err[256] = "";
	int r;

	(void)t;
	r = eg_tls_rotator_refresh(g->rot, 0, err, sizeof(err));
	if (r > 0) {
		struct eg_tls_id *id = eg_tls_rotator_get(g->rot);

		eg_log_info("workload certificate rotated: %s, valid until %lld (generation %llu)",
		            id ? eg_tls_id_spiffe(id) : "-",
		            id ? (long long)eg_tls_id_not_after(id) : 0LL,
		            (unsigned long long)eg_tls_rotator_generation(g->rot));
		eg_tls_id_unref(id);
	} else if (r < 0) {
		/* the current identity stays; a writer may be half way through */
		eg_log_debug("workload certificate refresh: %s", err);
	}
	eg_loop_timer_arm(g->loop, &g->timer, ROTATE_POLL_MS);
}

/* Loads the workload identity once, when a snapshot first needs ISTIO_MUTUAL. */
static void load_identity(struct ptls_global *g)
{
	char err[256] = "";

	if (g->id_tried)
		return;
	g->id_tried = true;
	if (!g->cert_dir) {
		snprintf(g->id_err, sizeof(g->id_err),
		         "no workload certificate (--cert-dir or $EGRESSD_CERT_DIR)");
		return;
	}
	{
		struct eg_tls_rotator_conf rc = { .dir = g->cert_dir };

		if (eg_tls_rotator_new(&rc, 0, &g->rot, err, sizeof(err)) < 0) {
			snprintf(g->id_err, sizeof(g->id_err), "workload certificate %.100s: %.120s",
			         g->cert_dir, err[0] ? err : "unreadable");
			eg_log_warn("%s; ISTIO_MUTUAL is refused", g->id_err);
			g->rot = NULL;
		} else {
			struct eg_tls_id *id = eg_tls_rotator_get(g->rot);

			eg_log_info("workload identity %s from %s", id ? eg_tls_id_spiffe(id) : "-",
			            g->cert_dir);
			eg_tls_id_unref(id);
			eg_timer_init(&g->timer, rotate_tick, g);
			eg_loop_timer_arm(g->loop, &g->timer, ROTATE_POLL_MS);
			g->timer_on = true;
		}
	}
}

/* Loads the origination trust store once, when a snapshot first originates SIMPLE/MUTUAL. */
static void load_trust(struct ptls_global *g)
{
	char err[256] = "";

	if (g->trust_tried)
		return;
	g->trust_tried = true;
	if (eg_tls_trust_load(NULL, g->ca_bundle, &g->trust, err, sizeof(err)) < 0 &&
	    g->ca_bundle && access(EG_TLS_SYSTEM_CA_FILE, R_OK) < 0) {
		/* no OS bundle on this machine: the given bundle alone (the local cluster's
		 * --ca-bundle already holds the system roots) */
		err[0] = '\0';
		g->trust = NULL;
		eg_tls_trust_load("", g->ca_bundle, &g->trust, err, sizeof(err));
	}
	if (!g->trust) {
		snprintf(g->trust_err, sizeof(g->trust_err), "origination trust store: %.200s", err);
		eg_log_warn("%s", g->trust_err);
		g->trust = NULL;
	}
}

int ptls_global_new(const struct eg_proxy_config *cfg, struct eg_loop *loop,
                    struct ptls_global **ret)
{
	struct ptls_global *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->loop = loop;
	g->secret = cfg->tls_secret;
	g->secret_data = cfg->tls_secret_data;
	if (cfg->cert_dir && cfg->cert_dir[0] && !(g->cert_dir = strdup(cfg->cert_dir)))
		goto out_nomem;
	if (cfg->ca_bundle && cfg->ca_bundle[0] && !(g->ca_bundle = strdup(cfg->ca_bundle)))
		goto out_nomem;
	/* a configured but broken identity is still reported at start, as before, without
	 * loading it: only whether the directory is there */
	if (g->cert_dir && access(g->cert_dir, R_OK | X_OK) < 0)
		eg_log_warn("workload certificate %.100s: %s; ISTIO_MUTUAL is refused", g->cert_dir,
		            strerror(errno));
	*ret = g;
	return 0;

out_nomem:
	free(g->cert_dir);
	free(g);
	return -ENOMEM;
}

void ptls_global_free(struct ptls_global *g)
{
	if (!g)
		return;
	if (g->timer_on)
		eg_loop_timer_disarm(g->loop, &g->timer);
	g->trust = eg_tls_trust_unref(g->trust);
	/* the contexts built on the rotator are gone with the last pconf (R10) */
	g->rot = eg_tls_rotator_free(g->rot);
	free(g->cert_dir);
	free(g->ca_bundle);
	free(g);
}

/* ---- keys: the settings a context was built from ---- */

static void key_add(struct eg_buf *b, const char *what, const char *v)
{
	eg_buf_printf(b, "%s=%zu:%s;", what, v ? strlen(v) : (size_t)0, v ? v : "");
}

static void key_list(struct eg_buf *b, const char *what, const char *const *v, size_t n)
{
	eg_buf_printf(b, "%s[%zu]", what, n);
	for (size_t i = 0; i < n; i++)
		key_add(b, "", v[i]);
}

static char *client_key(const struct eg_upstream_tls *t)
{
	struct eg_buf b = EG_BUF_INIT(64 * 1024);
	char *s;

	eg_buf_printf(&b, "m%d;a%d;s%d;", (int)t->mode, (int)t->auto_sni, (int)t->insecure_skip_verify);
	key_add(&b, "sni", t->sni);
	key_list(&b, "san", t->subject_alt_names, t->nsubject_alt_names);
	key_add(&b, "ca", t->ca_certificates);
	key_add(&b, "cert", t->client_certificate);
	key_add(&b, "key", t->private_key);
	key_add(&b, "cred", t->credential_name);
	key_list(&b, "alpn", t->alpn, t->nalpn);
	s = b.data ? eg_strndup(b.data, b.len) : NULL;
	eg_buf_done(&b);
	return s;
}

static void server_key_chain(struct eg_buf *b, const struct eg_filter_chain *fc)
{
	const struct eg_server_tls *t = &fc->tls;

	eg_buf_printf(b, "|m%d;", (int)t->mode);
	key_add(b, "cred", t->credential_name);
	key_add(b, "cert", t->server_certificate);
	key_add(b, "key", t->private_key);
	key_add(b, "ca", t->ca_certificates);
	key_list(b, "san", t->subject_alt_names, t->nsubject_alt_names);
	key_add(b, "min", t->min_version);
	key_add(b, "max", t->max_version);
	key_list(b, "ciphers", t->cipher_suites, t->ncipher_suites);
	key_list(b, "names", fc->server_names, fc->nserver_names);
}

/* ---- building ---- */

static bool is_terminating(enum eg_server_tls_mode m)
{
	return m == EG_SERVER_TLS_SIMPLE || m == EG_SERVER_TLS_MUTUAL ||
	       m == EG_SERVER_TLS_ISTIO_MUTUAL;
}

static enum eg_tls_mode server_mode(enum eg_server_tls_mode m)
{
	return m == EG_SERVER_TLS_MUTUAL ? EG_TLS_MUTUAL
	       : m == EG_SERVER_TLS_ISTIO_MUTUAL ? EG_TLS_ISTIO_MUTUAL
	                                         : EG_TLS_SIMPLE;
}

static enum eg_tls_mode client_mode(enum eg_upstream_tls_mode m)
{
	return m == EG_UPSTREAM_TLS_MUTUAL ? EG_TLS_MUTUAL
	       : m == EG_UPSTREAM_TLS_ISTIO_MUTUAL ? EG_TLS_ISTIO_MUTUAL
	                                           : EG_TLS_SIMPLE;
}

static void env_of(const struct ptls_global *g, const struct eg_snapshot *s, struct eg_tls_env *env)
{
	memset(env, 0, sizeof(*env));
	env->ns = eg_snapshot_identity(s)->ns;
	env->secret = g->secret;
	env->secret_data = g->secret_data;
	env->mesh = g->rot;
	env->trust = g->trust;
}

static const struct pcl *prev_client(const struct pconf *prev, const char *name, const char *key)
{
	const struct ptls_conf *pt = prev ? prev->tls : NULL;

	if (!pt || !key)
		return NULL;
	for (size_t i = 0; i < pt->ncls; i++) {
		const struct pcl *p = &pt->cls[i];

		if (p->cli && p->key && strcmp(p->key, key) == 0 && strcmp(p->cl->name, name) == 0)
			return p;
	}
	return NULL;
}

static int build_client(const struct ptls_global *g, const struct eg_snapshot *s,
                        const struct eg_cluster *cl, const struct pconf *prev, struct pcl *out)
{
	const struct eg_upstream_tls *t = &cl->tls;
	struct eg_tls_client_conf cc = { 0 };
	struct eg_tls_env env;
	const struct pcl *old;
	char err[256] = "";

	out->cl = cl;
	out->key = client_key(t);
	if (!out->key)
		return -ENOMEM;
	/* a Secret may change under the same name: only file/identity based contexts are kept */
	old = t->credential_name ? NULL : prev_client(prev, cl->name, out->key);
	if (old) {
		out->cli = eg_tls_client_ref(old->cli);
		return 0;
	}
	cc.mode = client_mode(t->mode);
	cc.sni = t->auto_sni ? NULL : t->sni;
	cc.subject_alt_names = t->subject_alt_names;
	cc.nsubject_alt_names = t->nsubject_alt_names;
	cc.ca_certificates = t->ca_certificates;
	cc.client_certificate = t->client_certificate;
	cc.private_key = t->private_key;
	cc.credential_name = t->credential_name;
	cc.insecure_skip_verify = t->insecure_skip_verify;
	cc.alpn = t->alpn;
	cc.nalpn = t->nalpn;
	env_of(g, s, &env);
	if (cc.mode == EG_TLS_ISTIO_MUTUAL && !g->rot) {
		snprintf(err, sizeof(err), "ISTIO_MUTUAL needs the proxy's workload identity: %.180s",
		         g->id_err);
	} else if (cc.mode != EG_TLS_ISTIO_MUTUAL && !cc.ca_certificates && !g->trust &&
	           !cc.insecure_skip_verify) {
		snprintf(err, sizeof(err), "%s", g->trust_err);
	} else if (eg_tls_client_new(&cc, &env, &out->cli, err, sizeof(err)) == 0) {
		return 0;
	}
	out->cli = NULL;
	out->err = eg_strndup(err, strlen(err));
	eg_log_error("cluster %s: TLS %s: %s", cl->name, eg_upstream_tls_name(t->mode), err);
	return out->err ? 0 : -ENOMEM;
}

static const struct psrv *prev_server(const struct pconf *prev, uint16_t port, const char *key)
{
	const struct ptls_conf *pt = prev ? prev->tls : NULL;

	if (!pt || !key)
		return NULL;
	for (size_t i = 0; i < pt->nsrvs; i++)
		if (pt->srvs[i].port == port && pt->srvs[i].key && strcmp(pt->srvs[i].key, key) == 0)
			return &pt->srvs[i];
	return NULL;
}

static int build_server(const struct ptls_global *g, const struct eg_snapshot *s,
                        const struct eg_listener *l, const struct pconf *prev, struct psrv *out)
{
	struct eg_buf kb = EG_BUF_INIT(256 * 1024);
	const struct psrv *old;
	struct eg_tls_env env;
	bool has_secret = false;
	size_t n = 0;

	out->port = l->port;
	out->fcs = calloc(l->nchains, sizeof(*out->fcs));
	out->idx = calloc(l->nchains, sizeof(*out->idx));
	out->err = calloc(l->nchains, sizeof(*out->err));
	if (!out->fcs || !out->idx || !out->err)
		return -ENOMEM;
	for (size_t i = 0; i < l->nchains; i++) {
		const struct eg_filter_chain *fc = &l->chains[i];

		if (!is_terminating(fc->tls.mode))
			continue;
		out->fcs[n] = fc;
		out->idx[n] = -1;
		n++;
		server_key_chain(&kb, fc);
		has_secret |= fc->tls.credential_name != NULL;
	}
	out->nfc = n;
	out->key = kb.data ? eg_strndup(kb.data, kb.len) : NULL;
	eg_buf_done(&kb);
	old = has_secret ? NULL : prev_server(prev, l->port, out->key);
	if (old && old->srv && old->nfc == n) {
		out->srv = eg_tls_server_ref(old->srv);
		for (size_t i = 0; i < n; i++) {
			out->idx[i] = old->idx[i];
			if (old->err[i])
				out->err[i] = eg_strndup(old->err[i], strlen(old->err[i]));
		}
		return 0;
	}
	if (eg_tls_server_new(&out->srv) < 0)
		return -ENOMEM;
	env_of(g, s, &env);
	for (size_t i = 0, next = 0; i < n; i++) {
		const struct eg_filter_chain *fc = out->fcs[i];
		const struct eg_server_tls *t = &fc->tls;
		struct eg_tls_server_conf sc = {
			.mode = server_mode(t->mode),
			.credential_name = t->credential_name,
			.server_certificate = t->server_certificate,
			.private_key = t->private_key,
			.ca_certificates = t->ca_certificates,
			.subject_alt_names = t->subject_alt_names,
			.nsubject_alt_names = t->nsubject_alt_names,
			.min_version = t->min_version,
			.max_version = t->max_version,
			.cipher_suites = t->cipher_suites,
			.ncipher_suites = t->ncipher_suites,
			.server_names = fc->server_names,
			.nserver_names = fc->nserver_names,
			.data = fc,
		};
		char err[256] = "";

		if (sc.mode == EG_TLS_ISTIO_MUTUAL && !g->rot)
			snprintf(err, sizeof(err), "ISTIO_MUTUAL needs the proxy's workload identity: %.180s",
			         g->id_err);
		else if (eg_tls_server_add(out->srv, &sc, &env, err, sizeof(err)) == 0)
			err[0] = '\0';
		else if (!err[0])
			snprintf(err, sizeof(err), "cannot build the TLS context");
		if (err[0]) {
			eg_log_error("listener %u: Gateway %s server %s (%s): %s", l->port,
			             fc->gateway ? fc->gateway : "-", fc->server ? fc->server : "-",
			             eg_server_tls_name(t->mode), err);
			out->err[i] = eg_strndup(err, strlen(err));
			continue;
		}
		out->idx[i] = (int)next++;
	}
	return 0;
}

static int cmp_pcl(const void *a, const void *b)
{
	const struct eg_cluster *x = ((const struct pcl *)a)->cl, *y = ((const struct pcl *)b)->cl;

	return x < y ? -1 : x > y;
}

struct ptls_conf *ptls_conf_build(struct ptls_global *g, const struct eg_snapshot *s,
                                  const struct pconf *prev)
{
	struct ptls_conf *c;
	size_t ncl = 0, nsrv = 0;
	bool need_trust = false, need_id = false;

	if (!g)
		return NULL;
	for (size_t i = 0; i < eg_snapshot_nclusters(s); i++) {
		enum eg_upstream_tls_mode m = eg_snapshot_cluster_at(s, i)->tls.mode;

		ncl += m != EG_UPSTREAM_TLS_DISABLE;
		need_trust |= m == EG_UPSTREAM_TLS_SIMPLE || m == EG_UPSTREAM_TLS_MUTUAL;
		need_id |= m == EG_UPSTREAM_TLS_ISTIO_MUTUAL;
	}
	for (size_t i = 0; i < eg_snapshot_nlisteners(s); i++) {
		const struct eg_listener *l = eg_snapshot_listener_at(s, i);
		bool term = false;

		for (size_t k = 0; l->kind == EG_LISTENER_GATEWAY && k < l->nchains; k++) {
			term |= is_terminating(l->chains[k].tls.mode);
			need_id |= l->chains[k].tls.mode == EG_SERVER_TLS_ISTIO_MUTUAL;
		}
		nsrv += term;
	}
	if (ncl == 0 && nsrv == 0)
		return NULL;
	/* only now, and only what this snapshot uses (see the top of the file) */
	if (need_trust)
		load_trust(g);
	if (need_id)
		load_identity(g);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	c->cls = calloc(ncl ? ncl : 1, sizeof(*c->cls));
	c->srvs = calloc(nsrv ? nsrv : 1, sizeof(*c->srvs));
	if (!c->cls || !c->srvs)
		goto fail;
	for (size_t i = 0; i < eg_snapshot_nclusters(s); i++) {
		const struct eg_cluster *cl = eg_snapshot_cluster_at(s, i);

		if (cl->tls.mode == EG_UPSTREAM_TLS_DISABLE)
			continue;
		if (build_client(g, s, cl, prev, &c->cls[c->ncls++]) < 0)
			goto fail;
	}
	qsort(c->cls, c->ncls, sizeof(*c->cls), cmp_pcl);
	for (size_t i = 0; i < eg_snapshot_nlisteners(s); i++) {
		const struct eg_listener *l = eg_snapshot_listener_at(s, i);
		bool term = false;

		for (size_t k = 0; l->kind == EG_LISTENER_GATEWAY && k < l->nchains; k++)
			term |= is_terminating(l->chains[k].tls.mode);
		if (!term)
			continue;
		if (build_server(g, s, l, prev, &c->srvs[c->nsrvs++]) < 0)
			goto fail;
	}
	return c;
fail:
	eg_log_error("TLS contexts: out of memory");
	ptls_conf_unref(c);
	return NULL;
}

struct ptls_conf *ptls_conf_unref(struct ptls_conf *c)
{
	if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	for (size_t i = 0; i < c->ncls; i++) {
		eg_tls_client_unref(c->cls[i].cli);
		free(c->cls[i].key);
		free(c->cls[i].err);
	}
	for (size_t i = 0; i < c->nsrvs; i++) {
		struct psrv *p = &c->srvs[i];

		eg_tls_server_unref(p->srv);
		for (size_t k = 0; p->err && k < p->nfc; k++)
			free(p->err[k]);
		free(p->err);
		free(p->fcs);
		free(p->idx);
		free(p->key);
	}
	free(c->cls);
	free(c->srvs);
	free(c);
	return NULL;
}

/* ---- lookups ---- */

struct eg_tls_client *ptls_client(const struct pconf *pc, const struct eg_cluster *cl,
                                  const char **ret_err)
{
	const struct ptls_conf *c = pc->tls;
	struct pcl key = { .cl = cl };
	const struct pcl *p;

	*ret_err = NULL;
	if (cl->tls.mode == EG_UPSTREAM_TLS_DISABLE)
		return NULL;
	p = c ? bsearch(&key, c->cls, c->ncls, sizeof(*c->cls), cmp_pcl) : NULL;
	if (!p) {
		*ret_err = "no TLS context for the cluster";
		return NULL;
	}
	if (!p->cli)
		*ret_err = p->err ? p->err : "no TLS context for the cluster";
	return p->cli;
}

struct eg_tls_server *ptls_server(const struct pconf *pc, uint16_t port,
                                  const struct eg_filter_chain *fc, int *ret_chain,
                                  const char **ret_err)
{
	const struct ptls_conf *c = pc->tls;

	*ret_err = "no TLS context for the listener";
	*ret_chain = -1;
	for (size_t i = 0; c && i < c->nsrvs; i++) {
		const struct psrv *p = &c->srvs[i];

		if (p->port != port)
			continue;
		for (size_t k = 0; k < p->nfc; k++) {
			if (p->fcs[k] != fc)
				continue;
			if (p->idx[k] < 0 || !p->srv) {
				*ret_err = p->err[k] ? p->err[k] : "no TLS context for the chain";
				return NULL;
			}
			*ret_err = NULL;
			*ret_chain = p->idx[k];
			return p->srv;
		}
	}
	return NULL;
}
