/* src/ctl/verbs.c: the egressctl verb table and usage helpers. */
#include "ctl/ctl.h"

const struct eg_ctl_verb eg_ctl_verbs[] = {
	{ "validate", "validate -f FILE|DIR|- [-f ...] [-n NS] [-q]",
	  "Check resources against the schema and Istio's rules; no store needed.",
	  eg_ctl_validate },
	{ "apply", "apply -f FILE|DIR|- [-f ...] [-n NS]",
	  "Validate resources and store them (all or nothing), printing kubectl's lines.",
	  eg_ctl_apply },
	{ "get",
	  "get KIND [NAME...] [-n NS | -A] [-l SELECTOR] [-o yaml|json|wide|name|jsonpath=TEMPLATE] [--ignore-not-found]",
	  "List or show stored resources as kubectl does (tables, YAML, JSON, jsonpath).",
	  eg_ctl_get },
	{ "delete",
	  "delete KIND NAME... [-n NS] | delete KIND --all [-n NS] | delete -f FILE|DIR|- [--ignore-not-found]",
	  "Delete stored resources; deleting a Namespace deletes what is in it.", eg_ctl_delete },
	{ "label", "label KIND NAME KEY=VALUE... [KEY-]... [--overwrite] [-n NS]",
	  "Set or remove labels (egressctl label namespace NS istio.io/rev=asm-1-24).",
	  eg_ctl_label },
	{ "analyze",
	  "analyze [-A | -n NS] [-f FILE|DIR|- ...] [--output-threshold Info|Warning|Error] [--use-kube=false]",
	  "Report Istio analyzer messages (IST codes) and egress mistakes (EGR codes).",
	  eg_ctl_analyze },
	{ "ca",
	  "ca init [--trust-domain TD] [--force] | ca issue --namespace NS --service-account SA --out DIR [--ttl 24h]",
	  "Create the mesh root CA in the store, or issue a workload certificate (SPIFFE id).",
	  eg_ctl_ca },
	{ "proxy-config",
	  "proxy-config listeners|routes|clusters|all [-o json] (--role gateway --name N --namespace NS | --role sidecar --namespace NS --service-account SA [--labels k=v,...] [--workload NAME]) [--revision REV] [-f FILE|DIR ...]",
	  "Show the listeners, routes and clusters compiled for one proxy (istioctl proxy-config).",
	  eg_ctl_proxy_config },
	{ "mesh",
	  "mesh enable-egress-gateway --istio-egressgateway-name N [--istio-egressgateway-namespace NS] --gateway-configuration-name SGC | mesh disable-egress-gateway --istio-egressgateway-name N [--istio-egressgateway-namespace NS] | mesh show | mesh upgrade start --revision REV | mesh upgrade complete | mesh upgrade rollback",
	  "The AKS add-on's management plane (az aks mesh): egress gateways, revisions.",
	  eg_ctl_mesh },
	{ "cluster",
	  "cluster up [--mode loopback|netns] [--hosts-file F] [--ca-bundle F] [--egress-pool CIDR] [--revision REV] [--prefix NAME] [--pod-cidr CIDR] [--egressd PATH] [--workers N] | cluster down | cluster status | cluster internet -- CMD...",
	  "Run the local cluster: pods as egressd processes on loopback or in network namespaces.",
	  eg_ctl_cluster },
	{ "exec", "exec [-n NS] [-c CONTAINER] deploy/NAME|pod/NAME|NAME -- CMD...",
	  "Run a command as a pod of the local cluster (its exit code is passed through).",
	  eg_ctl_exec },
	{ "logs",
	  "logs [-n NS] [-l SELECTOR] [POD|pod/NAME|deploy/NAME] [--tail N] [-f] [--prefix]",
	  "Print the egressd output (and access log) of local-cluster pods.", eg_ctl_logs },
	{ NULL, NULL, NULL, NULL },
};

static const struct eg_ctl_verb *find(const char *verb)
{
	for (const struct eg_ctl_verb *v = eg_ctl_verbs; v->name; v++)
		if (strcmp(v->name, verb) == 0)
			return v;
	return NULL;
}

int eg_ctl_usage(const struct eg_ctl *ctl, const char *verb)
{
	const struct eg_ctl_verb *v = find(verb);

	fprintf(stderr, "usage: %s %s\n", ctl->prog, v ? v->usage : verb);
	return EG_EXIT_USAGE;
}

bool eg_ctl_help(const struct eg_ctl *ctl, const char *verb, int argc, char **argv)
{
	const struct eg_ctl_verb *v = find(verb);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: %s %s\n\n%s\n", ctl->prog, v ? v->usage : verb,
			       v ? v->summary : "");
			return true;
		}
	}
	return false;
}
