/* src/proxy/control.c: the control thread: first load, workers, listener reconciliation,
 * reloads (SIGHUP or the watch descriptor), the admin ports, and the SIGTERM drain. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "core/signal.h"
#include "proxy/internal.h"
#include "proxy/worker.h"

#define MAX_PORTS WMSG_MAX_LISTENERS

struct ctl {
	struct proxy px;
	struct eg_loop *loop;
	struct eg_admin_state admin;
	struct {
		uint16_t port;
		bool capture;
	} ports[MAX_PORTS];
	unsigned nports;
	struct eg_net_listener alst[3];
	enum eg_admin_listener akind[3];
	unsigned nalst;
	struct eg_signal_watch sig;
	struct eg_io_watch watch;
	struct eg_io_watch done_watch;
	int done_fd;
	pthread_t drainer;
	bool draining;
	bool drainer_started;
	int drain_result;
};

/* ---- pconf ---- */

static const char *label_of(const struct eg_identity *id, const char *key)
{
	for (size_t i = 0; i < id->nlabels; i++)
		if (strcmp(id->labels[i].key, key) == 0)
			return id->labels[i].value;
	return NULL;
}

static struct pconf *pconf_build(struct ctl *c, struct eg_snapshot *snap)
{
	struct pconf *pc = calloc(1, sizeof(*pc));
	const struct eg_access_log *al = eg_snapshot_access_log(snap);
	const struct eg_egress_source *es = eg_snapshot_egress_source(snap);
	const struct eg_identity *id = eg_snapshot_identity(snap);
	struct eg_metrics_labels *l;
	const char *app, *ver, *cs, *cr;

	if (!pc) {
		eg_snapshot_unref(snap);
		return NULL;
	}
	atomic_init(&pc->refs, 1);
	pc->snap = snap;
	pc->id = id;
	if (c->px.cfg.access_log || (al && al->enabled)) {
		char err[256] = "";
		enum eg_accesslog_encoding enc =
		        al && al->encoding == EG_LOG_JSON ? EG_ACCESSLOG_JSON : EG_ACCESSLOG_TEXT;

		if (eg_accesslog_format_new(enc, al ? al->format : NULL, &pc->fmt, err, sizeof(err)) <
		    0) {
			eg_log_error("access log format refused (%s): %s; using Istio's default",
			             al && al->source ? al->source : "default", err);
			eg_accesslog_format_new(enc, NULL, &pc->fmt, err, sizeof(err));
		}
	}
	if (id->role == EG_ROLE_GATEWAY) {
		if (es && es->prefix &&
		    eg_net_prefix_parse(es->prefix, strlen(es->prefix), &pc->prefix) == 0 &&
		    eg_net_prefix_size(&pc->prefix) > 0) {
			pc->has_prefix = true;
		} else {
			snprintf(pc->no_prefix_reason, sizeof(pc->no_prefix_reason),
			         "egress gateway %s/%s: no egress source address: StaticGatewayConfiguration %s: %s",
			         id->ns, id->name, es && es->sgc ? es->sgc : "-",
			         es && es->prefix ? "egressIpPrefix unusable"
			                          : (es && es->status ? es->status : "no-prefix"));
		}
	}
	l = &pc->base;
	eg_telemetry_labels_init(l);
	app = label_of(id, "app");
	ver = label_of(id, "version");
	cs = label_of(id, "service.istio.io/canonical-name");
	cr = label_of(id, "service.istio.io/canonical-revision");
	eg_metrics_labels_set(l, EG_ISTIO_REPORTER, EG_STR("source"));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_WORKLOAD, eg_str_c(id->name));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_WORKLOAD_NAMESPACE, eg_str_c(id->ns));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_PRINCIPAL, eg_str_c(id->spiffe_id));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_APP, eg_str_c(app));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_VERSION, eg_str_c(ver));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_CANONICAL_SERVICE,
	                      eg_str_c(cs ? cs : app ? app : id->name));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_CANONICAL_REVISION,
	                      eg_str_c(cr ? cr : ver ? ver : "latest"));
	eg_metrics_labels_set(l, EG_ISTIO_CONNECTION_SECURITY_POLICY, EG_STR("unknown"));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_CLUSTER, EG_STR("Kubernetes"));
	eg_metrics_labels_set(l, EG_ISTIO_DESTINATION_CLUSTER, EG_STR("unknown"));
	/* TLS contexts: built here (they read files), shared read-only by the workers */
	pc->tls = ptls_conf_build(c->px.tlsg, snap, c->px.cur);
	return pc;
}

/* ---- publication ---- */

static bool is_loopback4(const struct eg_net_addr *a)
{
	return eg_net_addr_family(a) == AF_INET && (ntohl(a->u.in4.sin_addr.s_addr) >> 24) == 127;
}

/* Data listeners bind the pod address in loopback mode (pods share the host's network
 * namespace). A pod with its own namespace binds the wildcard, as Envoy's 0.0.0.0_15001
 * does: iptables REDIRECT hands locally made connections to 127.0.0.1, not the pod IP. */
static int open_group(struct ctl *c, uint16_t port, int *fds)
{
	struct eg_net_addr a = c->px.pod;
	struct eg_net_listen_opts o = { .reuseport = true };

	if (!is_loopback4(&a)) {
		if (eg_net_addr_family(&a) == AF_INET6)
			eg_net_addr_parse_ip("::", 2, 0, &a);
		else
			eg_net_addr_parse_ip("0.0.0.0", 7, 0, &a);
	}
	eg_net_addr_set_port(&a, port);
	return eg_net_listen_group(&a, &o, c->px.nworkers, fds, NULL);
}

/* Hands @pc (one reference, consumed) to every worker with the listener changes. */
static int publish(struct ctl *c, struct pconf *pc)
{
	const struct eg_snapshot *s = pc->snap;
	struct wmsg *msgs[EG_WORKERS_MAX] = { 0 };
	unsigned n = c->px.nworkers, nkeep = 0;
	int fds[EG_WORKERS_MAX];
	bool keep[MAX_PORTS] = { false };
	struct {
		uint16_t port;
		bool capture;
	} next[MAX_PORTS];
	unsigned nnext = 0;

	for (unsigned i = 0; i < n; i++) {
		msgs[i] = calloc(1, sizeof(*msgs[i]));
		if (!msgs[i]) {
			for (unsigned k = 0; k < i; k++)
				free(msgs[k]);
			pconf_unref(pc);
			return -ENOMEM;
		}
	}
	for (size_t li = 0; li < eg_snapshot_nlisteners(s) && nnext < MAX_PORTS; li++) {
		const struct eg_listener *l = eg_snapshot_listener_at(s, li);
		bool found = false;

		for (unsigned k = 0; k < nnext; k++)
			found |= next[k].port == l->port;
		if (found)
			continue;
		next[nnext].port = l->port;
		next[nnext].capture = l->kind == EG_LISTENER_CAPTURE;
		found = false;
		for (unsigned k = 0; k < c->nports; k++)
			if (c->ports[k].port == l->port && c->ports[k].capture == next[nnext].capture) {
				keep[k] = true;
				found = true;
			}
		if (!found) {
			int r = open_group(c, l->port, fds);

			if (r < 0) {
				eg_log_error("listener %s port %u: %s", l->name, l->port, strerror(-r));
				continue;
			}
			eg_log_info("listening on port %u (%s)", l->port, l->name);
			for (unsigned i = 0; i < n; i++) {
				struct wmsg *m = msgs[i];

				m->add[m->nadd].port = l->port;
				m->add[m->nadd].fd = fds[i];
				m->add[m->nadd].capture = next[nnext].capture;
				m->nadd++;
			}
		}
		nnext++;
	}
	for (unsigned k = 0; k < c->nports; k++) {
		if (keep[k]) {
			nkeep++;
			continue;
		}
		eg_log_info("closing listener on port %u", c->ports[k].port);
		for (unsigned i = 0; i < n; i++)
			msgs[i]->del[msgs[i]->ndel++] = c->ports[k].port;
	}
	c->nports = 0;
	for (unsigned k = 0; k < nnext; k++) {
		c->ports[c->nports].port = next[k].port;
		c->ports[c->nports].capture = next[k].capture;
		c->nports++;
	}
	(void)nkeep;
	/* R10: one reference per worker, each swaps its own pointer */
	for (unsigned i = 0; i < n; i++) {
		msgs[i]->pc = pconf_ref(pc);
		proxy_worker_post(eg_workers_get(c->px.ws, i), msgs[i]);
	}
	pconf_unref(c->px.cur);
	c->px.cur = pc;
	eg_telemetry_reload(c->px.tel, true, eg_snapshot_version(s));
	atomic_store(&c->admin.ready, 1);
	return 0;
}

static void reload(struct ctl *c, const char *why)
{
	struct eg_snapshot *snap = NULL;
	struct pconf *pc;

	if (c->draining)
		return;
	if (c->px.cfg.load(c->px.cfg.load_ctx, &snap) < 0) {
		eg_log_error("reload (%s) failed: keeping snapshot version %llu", why,
		             (unsigned long long)eg_snapshot_version(c->px.cur->snap));
		eg_telemetry_reload(c->px.tel, false, 0);
		return;
	}
	if (eg_snapshot_version(snap) == eg_snapshot_version(c->px.cur->snap) &&
	    strcmp(why, "SIGHUP") != 0) {
		eg_snapshot_unref(snap);
		return;
	}
	pc = pconf_build(c, snap);
	if (!pc) {
		eg_telemetry_reload(c->px.tel, false, 0);
		return;
	}
	eg_log_info("reload (%s): serving snapshot version %llu", why,
	            (unsigned long long)eg_snapshot_version(snap));
	if (!c->px.writer && pc->fmt) {
		const struct eg_access_log *al = eg_snapshot_access_log(snap);
		struct eg_accesslog_writer_conf wc = {
			.path = c->px.cfg.access_log ? c->px.cfg.access_log : al->path,
			.n_rings = c->px.nworkers,
			.counters = eg_telemetry_accesslog_counters(c->px.tel),
		};

		if (!wc.path || eg_accesslog_writer_new(&wc, &c->px.writer) < 0)
			eg_log_error("access log %s: cannot open", wc.path ? wc.path : "-");
	}
	publish(c, pc);
}

/* ---- admin ---- */

struct aconn {
	struct eg_loop_closing closing;
	struct ctl *c;
	enum eg_admin_listener kind;
	int fd;
	struct eg_io_watch w;
	char in[8192];
	size_t inlen;
	struct eg_buf out;
	size_t off;
	bool answered;
};

static void aconn_free(struct eg_loop_closing *cl)
{
	struct aconn *a = (struct aconn *)cl;

	eg_buf_done(&a->out);
	free(a);
}

static void aconn_close(struct aconn *a)
{
	if (a->fd < 0)
		return;
	eg_loop_io_stop(a->c->loop, &a->w);
	close(a->fd);
	a->fd = -1;
	eg_loop_defer_close(a->c->loop, &a->closing, aconn_free);
}

static int config_dump(void *ctx, struct eg_buf *out)
{
	struct ctl *c = ctx;

	if (!c->px.cur)
		return -EAGAIN;
	return eg_snapshot_dump_json(c->px.cur->snap, out);
}

static void admin_answer(struct aconn *a, const struct eg_http_req *req)
{
	char path[1024], query[1024];
	struct eg_buf body = EG_BUF_INIT(64u << 20);
	struct eg_str p = req->path.len ? req->path : req->target;
	int status = 500;
	bool has_q = req->query.ptr != NULL;

	if (p.len >= sizeof(path) || req->query.len >= sizeof(query)) {
		status = 414;
	} else {
		memcpy(path, p.ptr, p.len);
		path[p.len] = '\0';
		/* the path without its query */
		char *qm = strchr(path, '?');

		if (qm)
			*qm = '\0';
		if (has_q) {
			memcpy(query, req->query.ptr, req->query.len);
			query[req->query.len] = '\0';
		}
		if (eg_admin_handle_on(a->kind, path, has_q ? query : NULL, &a->c->admin, &status,
		                       &body) < 0)
			status = 500;
	}
	eg_buf_printf(&a->out,
	              "HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\nserver: egressd\r\nconnection: close\r\n\r\n",
	              status, eg_http_status_reason(status),
	              status < 500 ? eg_admin_content_type(path) : "text/plain", body.len);
	eg_buf_append(&a->out, body.data ? body.data : "", body.len);
	eg_buf_done(&body);
	a->answered = true;
}

static void aconn_io(struct eg_io_watch *w, uint32_t ev)
{
	struct aconn *a = w->data;

	(void)ev;
	if (!a->answered) {
		struct eg_http_header hdrs[64];
		struct eg_http_req req;
		ssize_t n = read(a->fd, a->in + a->inlen, sizeof(a->in) - a->inlen);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			aconn_close(a);
			return;
		}
		a->inlen += (size_t)n;
		n = eg_http_parse_request(a->in, a->inlen, 0, hdrs, 64, &req);
		if (n == -EAGAIN && a->inlen < sizeof(a->in))
			return;
		if (n < 0) {
			eg_http_write_simple_response(&a->out, 400, NULL, 0, EG_STR("bad request\n"), true);
			a->answered = true;
		} else {
			admin_answer(a, &req);
		}
		eg_loop_io_set(a->c->loop, &a->w, EG_IO_WRITE);
	}
	while (a->off < a->out.len) {
		ssize_t n = write(a->fd, a->out.data + a->off, a->out.len - a->off);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			aconn_close(a);
			return;
		}
		a->off += (size_t)n;
	}
	shutdown(a->fd, SHUT_WR);
	aconn_close(a);
}

static void admin_accept(struct eg_net_listener *l, int fd, const struct eg_net_addr *peer,
                         void *data)
{
	struct ctl *c = data;
	struct aconn *a = calloc(1, sizeof(*a));

	(void)peer;
	if (!a) {
		close(fd);
		return;
	}
	a->c = c;
	a->fd = fd;
	a->kind = c->akind[l - c->alst];
	eg_buf_init(&a->out, 65u << 20);
	eg_io_watch_init(&a->w, fd, aconn_io, a);
	if (eg_loop_io_set(c->loop, &a->w, EG_IO_READ) < 0) {
		close(fd);
		eg_buf_done(&a->out);
		free(a);
	}
}

static int admin_open(struct ctl *c, const struct eg_net_addr *at, uint16_t port,
                      enum eg_admin_listener kind)
{
	struct eg_net_addr a = *at;
	struct eg_net_listen_opts o = { 0 };
	int fd, r;

	eg_net_addr_set_port(&a, port);
	r = eg_net_listen_fd(&a, &o, &fd);
	if (r < 0) {
		char buf[EG_NET_ADDR_STRLEN];

		eg_net_addr_format(&a, buf, sizeof(buf));
		eg_log_error("admin listener %s: %s", buf, strerror(-r));
		return r;
	}
	c->akind[c->nalst] = kind;
	r = eg_net_listener_start(&c->alst[c->nalst], c->loop, fd, NULL, admin_accept, c);
	if (r < 0) {
		close(fd);
		return r;
	}
	c->nalst++;
	return 0;
}

/* ---- signals, watch, drain ---- */

static void *drainer_main(void *arg)
{
	struct ctl *c = arg;
	uint64_t one = 1;

	c->drain_result = eg_workers_stop(c->px.ws, c->px.cfg.drain_ms ? c->px.cfg.drain_ms
	                                                               : EG_PROXY_DRAIN_MS);
	if (write(c->done_fd, &one, sizeof(one)) < 0)
		abort();
	return NULL;
}

static void start_drain(struct ctl *c)
{
	if (c->draining)
		return;
	c->draining = true;
	atomic_store(&c->admin.draining, 1);
	eg_log_info("draining: no new connections, in-flight requests get %llu ms",
	            (unsigned long long)(c->px.cfg.drain_ms ? c->px.cfg.drain_ms : EG_PROXY_DRAIN_MS));
	if (pthread_create(&c->drainer, NULL, drainer_main, c) == 0)
		c->drainer_started = true;
	else
		eg_loop_stop(c->loop);
}

static void on_done(struct eg_io_watch *w, uint32_t ev)
{
	struct ctl *c = w->data;
	uint64_t v;

	(void)ev;
	if (read(c->done_fd, &v, sizeof(v)) < 0 && errno == EAGAIN)
		return;
	eg_loop_stop(c->loop);
}

static void on_signal(struct eg_signal_watch *sw, int signo, int pid)
{
	struct ctl *c = sw->data;

	(void)pid;
	if (signo == SIGHUP) {
		if (c->px.writer)
			eg_accesslog_writer_reopen(c->px.writer);
		reload(c, "SIGHUP");
		return;
	}
	start_drain(c);
}

static void on_watch(struct eg_io_watch *w, uint32_t ev)
{
	struct ctl *c = w->data;

	(void)ev;
	if (c->px.cfg.watch_changed(w->fd) > 0)
		reload(c, "store change");
}

int eg_proxy_run(const struct eg_proxy_config *cfg)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct ctl *c = calloc(1, sizeof(*c));
	struct eg_workers_config wc = { 0 };
	struct eg_snapshot *snap = NULL;
	struct pconf *pc = NULL;
	const char *ip;
	long ncpu;
	int rc = 1, r;

	if (!c)
		return 1;
	c->done_fd = -1;
	c->px.cfg = *cfg;
	ip = cfg->pod_ip ? cfg->pod_ip : "127.0.0.1";
	if (eg_net_addr_parse_ip(ip, strlen(ip), 0, &c->px.pod) < 0) {
		eg_log_error("--pod-ip %s: not an IP address", ip);
		goto out;
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	c->px.nworkers = cfg->workers ? cfg->workers : (unsigned)(ncpu > 0 ? ncpu : 1);
	if (c->px.nworkers > EG_WORKERS_MAX)
		c->px.nworkers = EG_WORKERS_MAX;
	if (eg_signal_block(sigs, 3) < 0 || eg_signal_ignore_sigpipe() < 0)
		goto out;
	if (cfg->hosts_file) {
		unsigned bad = 0, first = 0;

		r = eg_dns_hosts_load(cfg->hosts_file, &c->px.hosts, &bad, &first);
		if (r < 0) {
			eg_log_error("--hosts-file %s: %s", cfg->hosts_file, strerror(-r));
			goto out;
		}
		if (bad)
			eg_log_warn("--hosts-file %s: %u invalid lines skipped (first: line %u)",
			            cfg->hosts_file, bad, first);
	}
	if (eg_telemetry_new(c->px.nworkers, 0, &c->px.tel) < 0 || eg_loop_new(&c->loop) < 0)
		goto out;
	c->admin.metrics = eg_telemetry_metrics(c->px.tel);
	c->admin.config_dump = config_dump;
	c->admin.config_dump_ctx = c;
	if (ptls_global_new(cfg, c->loop, &c->px.tlsg) < 0)
		goto out;
	if (cfg->load(cfg->load_ctx, &snap) < 0) {
		eg_log_error("no valid configuration: not starting");
		goto out;
	}
	pc = pconf_build(c, snap);
	if (!pc)
		goto out;
	if (pc->id->role == EG_ROLE_GATEWAY && !pc->has_prefix)
		eg_log_warn("%s: upstream connections are refused (503) until the prefix is set",
		            pc->no_prefix_reason);
	if (pc->fmt) {
		const struct eg_access_log *al = eg_snapshot_access_log(snap);
		struct eg_accesslog_writer_conf w = {
			.path = cfg->access_log ? cfg->access_log : al->path,
			.n_rings = c->px.nworkers,
			.counters = eg_telemetry_accesslog_counters(c->px.tel),
		};

		if (!w.path || (r = eg_accesslog_writer_new(&w, &c->px.writer)) < 0) {
			eg_log_error("access log %s: cannot open", w.path ? w.path : "-");
			goto out;
		}
	}
	wc.count = c->px.nworkers;
	wc.data = &c->px;
	wc.init = proxy_worker_init;
	wc.drain = proxy_worker_drain;
	wc.fini = proxy_worker_fini;
	r = eg_workers_start(&wc, &c->px.ws);
	if (r < 0) {
		eg_log_error("workers: %s", strerror(-r));
		goto out;
	}
	r = publish(c, pc);
	pc = NULL;
	if (r < 0 || (c->nports == 0 && eg_snapshot_nlisteners(c->px.cur->snap) > 0)) {
		eg_log_error("no listener could be opened");
		goto out_workers;
	}
	if (c->nports == 0)
		/* a gateway no Gateway resource selects yet: serve the admin ports, wait for one */
		eg_log_info("no listener in the configuration yet; waiting for a change");
	{
		struct eg_net_addr adm = c->px.pod;
		bool loop4 = eg_net_addr_family(&adm) == AF_INET &&
		             (ntohl(adm.u.in4.sin_addr.s_addr) >> 24) == 127;

		if (!loop4)
			eg_net_addr_parse_ip("127.0.0.1", 9, 0, &adm);
		if (admin_open(c, &adm, EG_PROXY_ADMIN_PORT, EG_ADMIN_LISTENER_ADMIN) < 0 ||
		    admin_open(c, &c->px.pod, EG_PROXY_HEALTH_PORT, EG_ADMIN_LISTENER_HEALTH) < 0 ||
		    admin_open(c, &c->px.pod, EG_PROXY_PROM_PORT, EG_ADMIN_LISTENER_PROMETHEUS) < 0)
			goto out_workers;
	}
	c->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->done_fd < 0)
		goto out_workers;
	eg_io_watch_init(&c->done_watch, c->done_fd, on_done, c);
	eg_loop_io_set(c->loop, &c->done_watch, EG_IO_READ);
	if (eg_signal_watch_start(&c->sig, c->loop, sigs, 3, on_signal, c) < 0)
		goto out_workers;
	if (cfg->watch_fd >= 0 && cfg->watch_changed) {
		eg_io_watch_init(&c->watch, cfg->watch_fd, on_watch, c);
		eg_loop_io_set(c->loop, &c->watch, EG_IO_READ);
	}
	eg_log_info("egressd %s %s/%s serving snapshot version %llu with %u workers",
	            eg_role_name(c->px.cur->id->role), c->px.cur->id->ns, c->px.cur->id->name,
	            (unsigned long long)eg_snapshot_version(c->px.cur->snap), c->px.nworkers);
	eg_loop_run(c->loop, EG_LOOP_DEFAULT);
	if (c->drainer_started)
		pthread_join(c->drainer, NULL);
	if (c->drain_result > 0)
		eg_log_warn("drain deadline passed with connections open on %d workers",
		            c->drain_result);
	eg_log_info("stopped");
	rc = 0;
out_workers:
	if (!c->drainer_started)
		eg_workers_stop(c->px.ws, 0);
	c->px.ws = eg_workers_free(c->px.ws);
	eg_signal_watch_stop(&c->sig);
	if (cfg->watch_fd >= 0 && c->loop)
		eg_loop_io_stop(c->loop, &c->watch);
out:
	/* the TLS contexts go with the last snapshot, before the identity they were built on */
	pc = pconf_unref(pc);
	c->px.cur = pconf_unref(c->px.cur);
	ptls_global_free(c->px.tlsg);
	c->px.tlsg = NULL;
	for (unsigned i = 0; i < c->nalst; i++)
		eg_net_listener_close(&c->alst[i]);
	if (c->loop) {
		if (c->done_fd >= 0)
			eg_loop_io_stop(c->loop, &c->done_watch);
		eg_loop_run(c->loop, EG_LOOP_NOWAIT);
		c->loop = eg_loop_free(c->loop);
	}
	if (c->done_fd >= 0)
		close(c->done_fd);
	c->px.writer = eg_accesslog_writer_free(c->px.writer);
	pconf_unref(pc);
	c->px.cur = pconf_unref(c->px.cur);
	c->px.tel = eg_telemetry_free(c->px.tel);
	c->px.hosts = eg_dns_hosts_unref(c->px.hosts);
	free(c);
	return rc;
}
