/* src/ctl/mesh.c: `egressctl mesh ...`, az aks mesh over the store: enable-egress-gateway,
 * disable-egress-gateway, show, upgrade start|complete|rollback. The work is done by
 * src/store/mesh.c; this file parses flags and prints (docs/reference/mesh.md). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "ctl/ctl.h"
#include "store/mesh.h"
#include "store/store.h"

enum {
	OPT_NAME = 1000,
	OPT_NS,
	OPT_SGC,
	OPT_REVISION,
	OPT_IGNORED, /* az's cluster selection: -g/--resource-group, -n/--name */
	OPT_YES,
	OPT_HELP,
};

static const struct option mesh_opts[] = {
        {"istio-egressgateway-name", required_argument, NULL, OPT_NAME},
        {"istio-eg-gtw-name", required_argument, NULL, OPT_NAME},
        {"istio-egressgateway-namespace", required_argument, NULL, OPT_NS},
        {"istio-eg-gtw-ns", required_argument, NULL, OPT_NS},
        {"gateway-configuration-name", required_argument, NULL, OPT_SGC},
        {"gtw-config-name", required_argument, NULL, OPT_SGC},
        {"revision", required_argument, NULL, OPT_REVISION},
        {"resource-group", required_argument, NULL, OPT_IGNORED},
        {"name", required_argument, NULL, OPT_IGNORED},
        {"yes", no_argument, NULL, OPT_YES},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
};

static const char mesh_help[] =
        "usage: %s mesh SUBCOMMAND [FLAGS]\n"
        "\n"
        "The AKS Istio add-on's management commands (az aks mesh), over the store.\n"
        "\n"
        "  enable-egress-gateway --istio-egressgateway-name N [--istio-egressgateway-namespace "
        "NS]\n"
        "                        --gateway-configuration-name SGC\n"
        "      Create the egress gateway N in NS (default aks-istio-egress): a ClusterIP Service\n"
        "      N and a Deployment N-REVISION per revision, with the StaticGatewayConfiguration "
        "SGC.\n"
        "      Short forms: --istio-eg-gtw-name, --istio-eg-gtw-ns, --gtw-config-name.\n"
        "  disable-egress-gateway --istio-egressgateway-name N [--istio-egressgateway-namespace "
        "NS]\n"
        "      Remove the egress gateway N and its objects.\n"
        "  show\n"
        "      Print the mesh profile as JSON (serviceMeshProfile.istio.revisions,\n"
        "      serviceMeshProfile.istio.components.egressGateways).\n"
        "  upgrade start --revision REV | upgrade complete | upgrade rollback\n"
        "      Canary upgrade: start adds REV and a Deployment N-REV per gateway behind the same\n"
        "      Service; complete drops the old revision, rollback the new one.\n"
        "\n"
        "Every subcommand accepts and ignores -g/--resource-group X and -n/--name X (az's\n"
        "cluster selection) and --yes. enable and disable print the gateway as JSON (the entry\n"
        "of egressGateways, plus its Service, ClusterIP and Deployments); upgrade prints the\n"
        "mesh profile, as show does.\n"
        "Exit status: 0 done, 1 refused (the message names the rule), 2 bad usage.\n";

struct mesh_args {
	const char *name, *ns, *sgc, *revision;
};

/* Parses the flags after the subcommand; positional arguments are refused. */
static int parse(struct eg_ctl *ctl, int argc, char **argv, struct mesh_args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "g:n:yh", mesh_opts, NULL)) != -1) {
		switch (c) {
		case OPT_NAME:
			a->name = optarg;
			break;
		case OPT_NS:
			a->ns = optarg;
			break;
		case OPT_SGC:
			a->sgc = optarg;
			break;
		case OPT_REVISION:
			a->revision = optarg;
			break;
		case OPT_IGNORED:
		case 'g':
		case 'n':
		case OPT_YES:
		case 'y':
			break;
		case OPT_HELP:
		case 'h':
			printf(mesh_help, ctl->prog);
			return 1;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		eg_ctl_err("unexpected argument \"%s\"", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Prints what the store side reported; then the profile when @r says it worked. */
static int finish(struct eg_store *store, int r, struct eg_diag *d, bool show)
{
	struct eg_buf out = EG_BUF_INIT(16u << 20);

	if (r == 0 && show) {
		r = eg_mesh_show_json(store, &out, d);
		if (r == 0)
			fputs(eg_buf_cstr(&out), stdout);
	}
	fputs(eg_diag_text(d), stderr);
	if (r < 0 && d->errors == 0)
		eg_ctl_err("%s", strerror(-r));
	eg_buf_done(&out);
	return r < 0 ? EG_EXIT_REFUSED : EG_EXIT_OK;
}

static int json_field(struct eg_buf *b, const char *key, const char *val, bool last)
{
	int r = eg_buf_printf(b, "  \"%s\": \"", key);

	if (r == 0)
		r = eg_buf_json_escape(b, val, strlen(val));
	if (r == 0)
		r = eg_buf_puts(b, last ? "\"\n" : "\",\n");
	return r;
}

/* What enable and disable print: the gateway as az's egressGateways[] lists it, plus
 * what exists for it now (enable) - short, so that a script enabling 500 gateways does
 * not read all of them 500 times. */
static int print_gateway(struct eg_store *store, const struct eg_mesh_gateway *g, bool enabled,
                         struct eg_diag *d)
{
	struct eg_buf out = EG_BUF_INIT(64 * 1024);
	struct eg_mesh_settings st;
	int r = enabled ? eg_mesh_settings_load(store, &st, d) : 0;

	if (r == 0)
		r = eg_buf_printf(&out, "{\n  \"enabled\": %s,\n", enabled ? "true" : "false");
	if (r == 0)
		r = json_field(&out, "name", g->name, false);
	if (r == 0)
		r = json_field(&out, "namespace", g->ns, false);
	if (r == 0)
		r = json_field(&out, "gatewayConfigurationName", g->sgc, !enabled);
	if (r == 0 && enabled) {
		r = json_field(&out, "service", g->name, false);
		if (r == 0)
			r = json_field(&out, "clusterIP", g->cluster_ip, false);
		if (r == 0)
			r = eg_buf_puts(&out, "  \"deployments\": [");
		for (size_t i = 0; i < st.nrevisions && r == 0; i++)
			r = eg_buf_printf(&out, "%s\n    \"%s-%s\"", i ? "," : "", g->name,
			                  st.revisions[i]);
		if (r == 0)
			r = eg_buf_puts(&out, "\n  ]\n");
	}
	if (r == 0)
		r = eg_buf_puts(&out, "}\n");
	if (r == 0)
		fputs(eg_buf_cstr(&out), stdout);
	eg_buf_done(&out);
	return r;
}

static int missing(struct eg_ctl *ctl, const char *flag)
{
	eg_ctl_err("the following arguments are required: %s", flag);
	fprintf(stderr, "usage: %s mesh --help\n", ctl->prog);
	return EG_EXIT_USAGE;
}

int eg_ctl_mesh(struct eg_ctl *ctl, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct eg_store *store = NULL;
	struct eg_mesh_gateway g;
	struct mesh_args a;
	struct eg_diag d;
	int r, ret;

	if (!sub || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		printf(mesh_help, ctl->prog);
		return sub ? EG_EXIT_OK : EG_EXIT_USAGE;
	}
	if (strcmp(sub, "upgrade") == 0) {
		const char *op = argc > 2 ? argv[2] : "";

		if (strcmp(op, "start") != 0 && strcmp(op, "complete") != 0 &&
		    strcmp(op, "rollback") != 0) {
			eg_ctl_err("mesh upgrade takes start, complete or rollback");
			return eg_ctl_usage(ctl, "mesh");
		}
		r = parse(ctl, argc - 2, argv + 2, &a);
		if (r != 0)
			return r > 0 ? EG_EXIT_OK : eg_ctl_usage(ctl, "mesh");
		if (strcmp(op, "start") == 0 && !a.revision)
			return missing(ctl, "--revision");
		if (eg_ctl_open_store(ctl, &store) < 0)
			return EG_EXIT_REFUSED;
		eg_diag_init(&d);
		if (strcmp(op, "start") == 0)
			r = eg_mesh_upgrade_start(store, a.revision, &d);
		else if (strcmp(op, "complete") == 0)
			r = eg_mesh_upgrade_complete(store, &d);
		else
			r = eg_mesh_upgrade_rollback(store, &d);
		goto out_finish;
	}
	if (strcmp(sub, "enable-egress-gateway") != 0 &&
	    strcmp(sub, "disable-egress-gateway") != 0 && strcmp(sub, "show") != 0) {
		eg_ctl_err("unknown mesh subcommand \"%s\"", sub);
		return eg_ctl_usage(ctl, "mesh");
	}
	r = parse(ctl, argc - 1, argv + 1, &a);
	if (r != 0)
		return r > 0 ? EG_EXIT_OK : eg_ctl_usage(ctl, "mesh");
	if (strcmp(sub, "show") != 0 && !a.name)
		return missing(ctl, "--istio-egressgateway-name/--istio-eg-gtw-name");
	if (strcmp(sub, "enable-egress-gateway") == 0 && !a.sgc)
		return missing(ctl, "--gateway-configuration-name/--gtw-config-name");
	if (eg_ctl_open_store(ctl, &store) < 0)
		return EG_EXIT_REFUSED;
	eg_diag_init(&d);
	if (strcmp(sub, "show") == 0) {
		r = 0;
		goto out_finish;
	}
	if (strcmp(sub, "enable-egress-gateway") == 0)
		r = eg_mesh_enable(store, a.name, a.ns, a.sgc, &g, &d);
	else
		r = eg_mesh_disable(store, a.name, a.ns, &g, &d);
	if (r == 0)
		r = print_gateway(store, &g, strcmp(sub, "enable-egress-gateway") == 0, &d);
	ret = finish(store, r, &d, false);
	goto out_close;
out_finish:
	ret = finish(store, r, &d, true);
out_close:
	eg_diag_done(&d);
	eg_store_close(store);
	return ret;
}
