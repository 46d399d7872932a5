/* src/ctl/proxy_config.c: `egressctl proxy-config listeners|routes|clusters|all`: compiles
 * the snapshot of one proxy from the store (or from -f inputs) and prints istioctl-like
 * tables, or the snapshot's JSON (docs/reference/snapshot.md). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "compile/compile.h"
#include "ctl/ctl.h"
#include "store/store.h"

#define MAX_LABELS 64

enum what {
	W_LISTENERS = 1 << 0,
	W_ROUTES = 1 << 1,
	W_CLUSTERS = 1 << 2,
	W_ALL = W_LISTENERS | W_ROUTES | W_CLUSTERS,
};

/* --- helpers --- */

static int row(struct eg_ctl_table *t, const char *a, const char *b, const char *c, const char *d,
               const char *e, const char *f)
{
	const char *cells[6] = {a, b, c, d, e, f};

	return eg_ctl_table_row(t, cells);
}

/* "outbound|80||a.b" (weights when split: "x (80%), y (20%)") into @b. */
static void clusters_text(struct eg_buf *b, const struct eg_weighted_cluster *w, size_t n,
                          uint32_t total)
{
	for (size_t i = 0; i < n; i++) {
		(void)eg_buf_printf(b, "%s%s", i ? ", " : "", w[i].name);
		if (n > 1 && total)
			(void)eg_buf_printf(b, " (%u%%)", (unsigned)(w[i].weight * 100 / total));
	}
}

static void smatch_text(struct eg_buf *b, const char *what, const struct eg_smatch *m)
{
	switch (m->kind) {
	case EG_SMATCH_EXACT:
		(void)eg_buf_printf(b, "%s%s", what, m->value);
		break;
	case EG_SMATCH_PREFIX:
		(void)eg_buf_printf(b, "%s%s*", what, m->value);
		break;
	case EG_SMATCH_REGEX:
		(void)eg_buf_printf(b, "%s%s (regex)", what, m->value);
		break;
	default:
		break;
	}
}

/* istioctl's MATCH column: a prefix P shows as P followed by a star (every path: the root
 * prefix), an exact path as it is, then the other conditions. */
static void match_text(struct eg_buf *b, const struct eg_route *r)
{
	if (!r->nmatches) {
		(void)eg_buf_puts(b, "/*");
		return;
	}
	for (size_t i = 0; i < r->nmatches; i++) {
		const struct eg_route_match *m = &r->matches[i];
		size_t before;

		if (i)
			(void)eg_buf_puts(b, ", ");
		before = b->len;
		smatch_text(b, "", &m->uri);
		if (b->len == before)
			(void)eg_buf_puts(b, "/*");
		if (m->method.kind != EG_SMATCH_ANY)
			smatch_text(b, " method=", &m->method);
		if (m->authority.kind != EG_SMATCH_ANY)
			smatch_text(b, " authority=", &m->authority);
		for (size_t h = 0; h < m->nheaders; h++)
			(void)eg_buf_printf(b, " %sheader=%s", m->headers[h].absent ? "!" : "",
			                    m->headers[h].name);
	}
}

/* DOMAINS: the host forms without ":port", the first two, then "+N more...". */
static void domains_text(struct eg_buf *b, const struct eg_vhost *vh)
{
	size_t shown = 0, more = 0;

	for (size_t i = 0; i < vh->ndomains; i++) {
		const char *d = vh->domains[i], *colon = strrchr(d, ':');

		if (colon && d[0] != '[')
			continue;
		if (shown < 2)
			(void)eg_buf_printf(b, "%s%s", shown ? ", " : "", d);
		else
			more++;
		shown++;
	}
	if (more)
		(void)eg_buf_printf(b, " +%zu more...", more);
}

static void route_rows(struct eg_ctl_table *t, const struct eg_route_table *rt,
                       const struct eg_vhost *vh)
{
	for (size_t i = 0; i < vh->nroutes; i++) {
		const struct eg_route *r = &vh->routes[i];
		struct eg_buf dom = EG_BUF_INIT(4096), match = EG_BUF_INIT(4096);
		struct eg_buf dest = EG_BUF_INIT(4096);
		char vsbuf[512] = "";

		domains_text(&dom, vh);
		match_text(&match, r);
		if (r->action == EG_ACTION_ROUTE)
			clusters_text(&dest, r->clusters, r->nclusters, r->total_weight);
		else if (r->action == EG_ACTION_REDIRECT)
			(void)eg_buf_printf(&dest, "redirect %u", r->redirect.code);
		else
			(void)eg_buf_printf(&dest, "direct response %u", r->direct.status);
		if (r->vs)
			snprintf(vsbuf, sizeof(vsbuf), "%s", r->vs);
		(void)row(t, rt->name, vh->name, eg_buf_cstr(&dom), eg_buf_cstr(&match), vsbuf,
		          eg_buf_cstr(&dest));
		eg_buf_done(&dom);
		eg_buf_done(&match);
		eg_buf_done(&dest);
	}
}

static void print_routes(const struct eg_snapshot *s)
{
	struct eg_ctl_table t;

	eg_ctl_table_init(&t, 6);
	(void)row(&t, "NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE", "DESTINATION");
	for (size_t i = 0; i < eg_snapshot_nroute_tables(s); i++) {
		const struct eg_route_table *rt = eg_snapshot_route_table_at(s, i);

		for (size_t j = 0; j < rt->nvhosts; j++)
			route_rows(&t, rt, &rt->vhosts[j]);
		if (rt->catch_all)
			route_rows(&t, rt, rt->catch_all);
	}
	eg_ctl_table_print(&t, stdout);
	eg_ctl_table_done(&t);
}

static void tcp_dest(struct eg_buf *b, const struct eg_tcp_route *r)
{
	if (!r) {
		(void)eg_buf_puts(b, "close (no route)");
		return;
	}
	(void)eg_buf_puts(b, "Cluster: ");
	clusters_text(b, r->clusters, r->nclusters, r->total_weight);
}

static void chain_rows(struct eg_ctl_table *t, const char *addr, const char *port,
                       const char *prefix, const char *note, const struct eg_chain *ch,
                       bool gateway)
{
	struct eg_buf m = EG_BUF_INIT(1024), d = EG_BUF_INIT(4096);

	switch (ch->proto) {
	case EG_CHAIN_HTTP:
		(void)eg_buf_printf(&d, "Route: %s%s", ch->http ? ch->http->name : "-", note);
		(void)eg_buf_puts(&m, *prefix ? prefix : "ALL");
		(void)row(t, addr, port, eg_buf_cstr(&m), eg_buf_cstr(&d), NULL, NULL);
		break;
	case EG_CHAIN_TLS:
		for (size_t i = 0; i < ch->nsni; i++) {
			eg_buf_done(&m);
			eg_buf_done(&d);
			(void)eg_buf_printf(&m, "SNI: %s", ch->sni[i].sni);
			tcp_dest(&d, ch->sni[i].route);
			(void)row(t, addr, port, eg_buf_cstr(&m), eg_buf_cstr(&d), NULL, NULL);
		}
		eg_buf_done(&m);
		eg_buf_done(&d);
		(void)eg_buf_puts(&m, "ALL");
		if (ch->fallback || !gateway)
			tcp_dest(&d, ch->fallback);
		else
			(void)eg_buf_puts(&d, "close (no matching SNI)");
		(void)row(t, addr, port, eg_buf_cstr(&m), eg_buf_cstr(&d), NULL, NULL);
		break;
	case EG_CHAIN_TCP:
		(void)eg_buf_puts(&m, *prefix ? prefix : "ALL");
		tcp_dest(&d, ch->tcp ? ch->tcp : ch->fallback);
		(void)eg_buf_puts(&d, note);
		(void)row(t, addr, port, eg_buf_cstr(&m), eg_buf_cstr(&d), NULL, NULL);
		break;
	}
	eg_buf_done(&m);
	eg_buf_done(&d);
}

static void print_listeners(const struct eg_snapshot *s)
{
	struct eg_ctl_table t;
	char port[16];

	eg_ctl_table_init(&t, 4);
	(void)row(&t, "ADDRESS", "PORT", "MATCH", "DESTINATION", NULL, NULL);
	for (size_t i = 0; i < eg_snapshot_nlisteners(s); i++) {
		const struct eg_listener *l = eg_snapshot_listener_at(s, i);

		if (l->kind == EG_LISTENER_CAPTURE) {
			struct eg_buf d = EG_BUF_INIT(4096);

			for (size_t j = 0; j < l->nports; j++) {
				const struct eg_port_entry *pe = &l->ports[j];

				snprintf(port, sizeof(port), "%u", pe->port);
				for (size_t a = 0; a < pe->nby_addr; a++) {
					struct eg_buf m = EG_BUF_INIT(1024), dd = EG_BUF_INIT(4096);

					(void)eg_buf_printf(&m, "Addr: %s", pe->by_addr[a].cidr);
					tcp_dest(&dd, pe->by_addr[a].route);
					(void)row(&t, l->address, port, eg_buf_cstr(&m),
					          eg_buf_cstr(&dd), NULL, NULL);
					eg_buf_done(&m);
					eg_buf_done(&dd);
				}
				chain_rows(&t, l->address, port, "", "", &pe->chain, false);
			}
			snprintf(port, sizeof(port), "%u", l->port);
			tcp_dest(&d, l->fallback);
			(void)row(&t, l->address, port, "ALL (other ports)", eg_buf_cstr(&d), NULL,
			          NULL);
			eg_buf_done(&d);
			continue;
		}
		snprintf(port, sizeof(port), "%u", l->port);
		for (size_t j = 0; j < l->nchains; j++) {
			const struct eg_filter_chain *fc = &l->chains[j];
			struct eg_buf pre = EG_BUF_INIT(1024), note = EG_BUF_INIT(256);

			/* a terminating server: its SNI names select the chain */
			if (fc->tls.mode != EG_SERVER_TLS_NONE &&
			    fc->tls.mode != EG_SERVER_TLS_PASSTHROUGH) {
				for (size_t k = 0; k < fc->nserver_names; k++)
					(void)eg_buf_printf(&pre, "%s%s",
					                    k ? "," : "SNI: ", fc->server_names[k]);
				(void)eg_buf_printf(&note, " (TLS %s)",
				                    eg_server_tls_name(fc->tls.mode));
			}
			chain_rows(&t, l->address, port, eg_buf_cstr(&pre), eg_buf_cstr(&note),
			           &fc->chain, true);
			eg_buf_done(&pre);
			eg_buf_done(&note);
		}
	}
	eg_ctl_table_print(&t, stdout);
	eg_ctl_table_done(&t);
}

static void print_clusters(const struct eg_snapshot *s)
{
	struct eg_ctl_table t;

	eg_ctl_table_init(&t, 6);
	(void)row(&t, "SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE");
	for (size_t i = 0; i < eg_snapshot_nclusters(s); i++) {
		const struct eg_cluster *k = eg_snapshot_cluster_at(s, i);
		char port[16];

		if (!k->host[0]) {
			(void)row(&t, k->name, "-", "-", "-", eg_cluster_type_name(k->type), NULL);
			continue;
		}
		snprintf(port, sizeof(port), "%u", k->port);
		(void)row(&t, k->host, port, k->subset[0] ? k->subset : "-", "outbound",
		          eg_cluster_type_name(k->type), k->destination_rule);
	}
	eg_ctl_table_print(&t, stdout);
	eg_ctl_table_done(&t);
}

/* --- the verb --- */

static int parse_labels(char *arg, struct eg_label *v, size_t *n)
{
	for (char *save = NULL, *t = strtok_r(arg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');

		if (!eq || eq == t || *n == MAX_LABELS)
			return -EINVAL;
		*eq = '\0';
		v[*n].key = t;
		v[*n].value = eq + 1;
		(*n)++;
	}
	return 0;
}

static int load(const struct eg_ctl *ctl, const struct eg_ctl_files *files,
                struct eg_resource_set *set, uint64_t *gen, struct eg_diag *d)
{
	struct eg_parse_opts po = {.default_ns = "default"};
	struct eg_store *store = NULL;
	int r;

	if (files->n)
		return eg_ctl_read_inputs(files->v, files->n, &po, set, d);
	if ((r = eg_ctl_open_store(ctl, &store)) < 0)
		return r;
	r = eg_store_load(store, set, gen, d);
	eg_store_close(store);
	return r;
}

int eg_ctl_proxy_config(struct eg_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"output", required_argument, NULL, 'o'},
	        {"role", required_argument, NULL, 'r'},
	        {"name", required_argument, NULL, 'N'},
	        {"namespace", required_argument, NULL, 'n'},
	        {"service-account", required_argument, NULL, 's'},
	        {"labels", required_argument, NULL, 'l'},
	        {"workload", required_argument, NULL, 'w'},
	        {"revision", required_argument, NULL, 'R'},
	        {"filename", required_argument, NULL, 'f'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct eg_ctl_files files = {.n = 0};
	struct eg_label labels[MAX_LABELS];
	struct eg_proxy_id who = {.role = EG_ROLE_SIDECAR};
	const char *role = NULL, *output = NULL, *workload = NULL;
	size_t nlabels = 0;
	struct eg_resource_set set;
	struct eg_snapshot *snap = NULL;
	struct eg_diag d;
	unsigned what = 0;
	int c, r, ret = EG_EXIT_OK;

	if (eg_ctl_help(ctl, "proxy-config", argc, argv))
		return EG_EXIT_OK;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:n:l:f:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'N':
			who.name = optarg;
			break;
		case 'n':
			who.ns = optarg;
			break;
		case 's':
			who.service_account = optarg;
			break;
		case 'l':
			if (parse_labels(optarg, labels, &nlabels) < 0) {
				eg_ctl_err("--labels wants k=v[,k=v...] (at most %d)", MAX_LABELS);
				return EG_EXIT_USAGE;
			}
			break;
		case 'w':
			workload = optarg;
			break;
		case 'R':
			who.revision = optarg;
			break;
		case 'f':
			if (eg_ctl_files_add(&files, optarg) < 0)
				return EG_EXIT_USAGE;
			break;
		default:
			return eg_ctl_usage(ctl, "proxy-config");
		}
	}
	if (optind + 1 != argc)
		return eg_ctl_usage(ctl, "proxy-config");
	if (strcmp(argv[optind], "listeners") == 0 || strcmp(argv[optind], "listener") == 0)
		what = W_LISTENERS;
	else if (strcmp(argv[optind], "routes") == 0 || strcmp(argv[optind], "route") == 0)
		what = W_ROUTES;
	else if (strcmp(argv[optind], "clusters") == 0 || strcmp(argv[optind], "cluster") == 0)
		what = W_CLUSTERS;
	else if (strcmp(argv[optind], "all") == 0)
		what = W_ALL;
	else
		return eg_ctl_usage(ctl, "proxy-config");
	if (output && strcmp(output, "json") != 0) {
		eg_ctl_err("-o wants json (the default is a table)");
		return EG_EXIT_USAGE;
	}
	if (!role || (strcmp(role, "gateway") != 0 && strcmp(role, "sidecar") != 0)) {
		eg_ctl_err("--role gateway or --role sidecar is required");
		return EG_EXIT_USAGE;
	}
	if (!who.ns) {
		eg_ctl_err("--namespace is required");
		return EG_EXIT_USAGE;
	}
	if (strcmp(role, "gateway") == 0) {
		who.role = EG_ROLE_GATEWAY;
		if (!who.name) {
			eg_ctl_err("--role gateway needs --name (the egress gateway or its "
			           "Deployment)");
			return EG_EXIT_USAGE;
		}
	} else {
		if (who.name && !workload)
			workload = who.name;
		who.name = workload;
		if (!who.service_account && !workload) {
			eg_ctl_err("--role sidecar needs --service-account (or --workload)");
			return EG_EXIT_USAGE;
		}
	}
	who.labels = labels;
	who.nlabels = nlabels;

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	r = load(ctl, &files, &set, &who.version, &d);
	if (r < 0) {
		fputs(eg_diag_text(&d), stderr);
		if (r != -EINVAL)
			eg_ctl_err("cannot read the resources: %s", strerror(-r));
		ret = EG_EXIT_REFUSED;
		goto out;
	}
	r = eg_compile(&set, &who, &snap, &d);
	fputs(eg_diag_text(&d), stderr);
	if (r < 0) {
		eg_ctl_err("cannot compile the proxy's configuration: %s", strerror(-r));
		ret = EG_EXIT_REFUSED;
		goto out;
	}
	if (output) {
		struct eg_buf b = EG_BUF_INIT((size_t)1 << 30);

		r = what == W_ALL         ? eg_snapshot_dump_json(snap, &b)
		    : what == W_LISTENERS ? eg_snapshot_dump_json_part(snap, "listeners", &b)
		    : what == W_ROUTES    ? eg_snapshot_dump_json_part(snap, "route_tables", &b)
		                          : eg_snapshot_dump_json_part(snap, "clusters", &b);
		if (r < 0) {
			eg_ctl_err("cannot write the JSON: %s", strerror(-r));
			ret = EG_EXIT_REFUSED;
		} else {
			fputs(eg_buf_cstr(&b), stdout);
		}
		eg_buf_done(&b);
		goto out;
	}
	if (what & W_LISTENERS)
		print_listeners(snap);
	if (what & W_ROUTES) {
		if (what != W_ROUTES)
			putchar('\n');
		print_routes(snap);
	}
	if (what & W_CLUSTERS) {
		if (what != W_CLUSTERS)
			putchar('\n');
		print_clusters(snap);
	}
out:
	eg_snapshot_unref(snap);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	return ret;
}
