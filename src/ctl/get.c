/* src/ctl/get.c: `egressctl get KIND [NAME...] [-n NS | -A] [-o FORMAT] [-l SELECTOR]`,
 * kubectl's get over the store. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <time.h>

#include "core/buf.h"
#include "ctl/ctl.h"
#include "store/store.h"

#define MAX_SELECTOR_TERMS 32

enum sel_op {
	SEL_EQ,
	SEL_NE,
	SEL_EXISTS,
	SEL_ABSENT,
};

struct sel_term {
	enum sel_op op;
	char key[320];
	char value[64];
};

struct selector {
	struct sel_term t[MAX_SELECTOR_TERMS];
	size_t n;
};

/* "k=v,k==v,k!=v,k,!k" (kubectl's equality-based selectors). 0 or -EINVAL. */
static int parse_selector(const char *s, struct selector *sel)
{
	const char *p = s;

	sel->n = 0;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct sel_term *t;
		const char *op;
		size_t klen;

		if (sel->n == MAX_SELECTOR_TERMS || len == 0)
			return -EINVAL;
		t = &sel->t[sel->n++];
		op = memchr(p, '=', len);
		if (*p == '!') {
			t->op = SEL_ABSENT;
			p++;
			len--;
			klen = len;
		} else if (!op) {
			t->op = SEL_EXISTS;
			klen = len;
		} else {
			const char *v = op + 1;

			t->op = op > p && op[-1] == '!' ? SEL_NE : SEL_EQ;
			klen = (size_t)(op - p) - (t->op == SEL_NE ? 1 : 0);
			if (t->op == SEL_EQ && v < p + len && *v == '=')
				v++;
			if ((size_t)(p + len - v) >= sizeof(t->value))
				return -EINVAL;
			memcpy(t->value, v, (size_t)(p + len - v));
			t->value[p + len - v] = '\0';
		}
		while (klen && p[klen - 1] == ' ')
			klen--;
		if (klen == 0 || klen >= sizeof(t->key))
			return -EINVAL;
		memcpy(t->key, p, klen);
		t->key[klen] = '\0';
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static bool selector_matches(const struct selector *sel, const struct eg_resource *r)
{
	const struct eg_node *labels = eg_node_path(r->root, "metadata.labels");

	for (size_t i = 0; i < sel->n; i++) {
		const struct sel_term *t = &sel->t[i];
		const struct eg_node *v = eg_node_get(labels, t->key);
		const char *s = v && v->kind == EG_NODE_SCALAR ? v->s : NULL;

		switch (t->op) {
		case SEL_EQ:
			if (!s || strcmp(s, t->value) != 0)
				return false;
			break;
		case SEL_NE:
			if (s && strcmp(s, t->value) == 0)
				return false;
			break;
		case SEL_EXISTS:
			if (!v)
				return false;
			break;
		case SEL_ABSENT:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

static int res_cmp(const void *x, const void *y)
{
	const struct eg_resource *a = *(struct eg_resource *const *)x;
	const struct eg_resource *b = *(struct eg_resource *const *)y;
	int c = strcmp(a->ns ? a->ns : "", b->ns ? b->ns : "");

	return c ? c : strcmp(a->name, b->name);
}

int eg_ctl_get(struct eg_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ "output", required_argument, NULL, 'o' },
		{ "selector", required_argument, NULL, 'l' },
		{ "ignore-not-found", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct eg_ctl_output out = { EG_CTL_OUT_TABLE, NULL };
	const char *ns = "default", *kind_arg = NULL, *err = NULL;
	const struct eg_kind *kind = NULL;
	struct selector sel = { .n = 0 };
	bool all_ns = false, ignore_nf = false, named = false;
	int first_name;
	size_t nnames;
	struct eg_resource_set set;
	struct eg_store *store = NULL;
	struct eg_diag d;
	size_t kept = 0;
	int c, r, ret = EG_EXIT_OK;

	if (eg_ctl_help(ctl, "get", argc, argv))
		return EG_EXIT_OK;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:Ao:l:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			ns = optarg;
			break;
		case 'A':
			all_ns = true;
			break;
		case 'o':
			if (eg_ctl_output_parse(optarg, &out) < 0) {
				eg_ctl_err("unknown output format \"%s\" (yaml, json, wide, name, jsonpath=TEMPLATE)",
					   optarg);
				return eg_ctl_usage(ctl, "get");
			}
			break;
		case 'l':
			if (parse_selector(optarg, &sel) < 0) {
				eg_ctl_err("invalid label selector \"%s\"", optarg);
				return eg_ctl_usage(ctl, "get");
			}
			break;
		case 'I':
			ignore_nf = true;
			break;
		default:
			return eg_ctl_usage(ctl, "get");
		}
	}
	if (optind == argc) {
		eg_ctl_err("you must specify the type of resource to get");
		return eg_ctl_usage(ctl, "get");
	}
	/* KIND NAME... or KIND/NAME... (one kind) */
	if (!strchr(argv[optind], '/')) {
		kind_arg = argv[optind];
		kind = eg_kind_lookup(kind_arg);
		if (!kind) {
			fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n",
				kind_arg);
			return EG_EXIT_REFUSED;
		}
		first_name = optind + 1;
	} else {
		first_name = optind;
	}
	for (int i = first_name; i < argc; i++) {
		const char *slash = strchr(argv[i], '/');
		const struct eg_kind *k;
		char kbuf[128];

		if (kind_arg && !slash)
			continue;
		if (kind_arg || !slash) {
			eg_ctl_err("give either KIND NAME... or KIND/NAME..., not both");
			return eg_ctl_usage(ctl, "get");
		}
		snprintf(kbuf, sizeof(kbuf), "%.*s", (int)(slash - argv[i]), argv[i]);
		k = eg_kind_lookup(kbuf);
		if (!k) {
			fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", kbuf);
			return EG_EXIT_REFUSED;
		}
		if (kind && kind != k) {
			eg_ctl_err("one kind at a time (%s and %s)", kind->kind, k->kind);
			return eg_ctl_usage(ctl, "get");
		}
		kind = k;
		argv[i] = (char *)slash + 1;
	}
	nnames = (size_t)(argc - first_name);
	named = nnames > 0;
	if (named && all_ns) {
		eg_ctl_err("a resource cannot be retrieved by name across all namespaces");
		return eg_ctl_usage(ctl, "get");
	}
	if (eg_ctl_open_store(ctl, &store) < 0)
		return EG_EXIT_REFUSED;
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	if (named) {
		for (int i = first_name; i < argc; i++) {
			struct eg_resource *res = NULL;

			r = eg_store_get(store, kind, ns, argv[i], &res, &d);
			if (r == -ENOENT) {
				if (!ignore_nf) {
					eg_ctl_not_found(kind, argv[i]);
					ret = EG_EXIT_REFUSED;
				}
				continue;
			}
			if (r == 0 && (r = eg_resource_set_add(&set, res)) < 0)
				eg_resource_free(res);
			if (r < 0) {
				if (r != -EINVAL)
					eg_ctl_err("reading %s: %s", argv[i], strerror(-r));
				ret = EG_EXIT_REFUSED;
			}
		}
	} else {
		r = eg_store_list(store, kind, all_ns ? NULL : ns, &set, &d);
		if (r < 0) {
			if (r != -EINVAL)
				eg_ctl_err("reading the store: %s", strerror(-r));
			ret = EG_EXIT_REFUSED;
		}
		for (size_t i = 0; i < set.n; i++) {
			if (selector_matches(&sel, set.v[i]))
				set.v[kept++] = set.v[i];
			else
				eg_resource_free(set.v[i]);
		}
		set.n = kept;
		if (set.n > 1)
			qsort(set.v, set.n, sizeof(*set.v), res_cmp);
	}
	fputs(eg_diag_text(&d), stderr);
	if (!named && set.n == 0 &&
	    (out.fmt == EG_CTL_OUT_TABLE || out.fmt == EG_CTL_OUT_WIDE ||
	     out.fmt == EG_CTL_OUT_NAME)) {
		if (kind->namespaced && !all_ns)
			fprintf(stderr, "No resources found in %s namespace.\n", ns);
		else
			fprintf(stderr, "No resources found\n");
		goto out_done;
	}
	if (named && set.n == 0)
		goto out_done;
	r = eg_ctl_print_resources(stdout, &out, set.v, set.n, !named || nnames > 1,
				   all_ns && kind->namespaced, (int64_t)time(NULL), &err);
	if (r == -EINVAL) {
		fprintf(stderr, "error: error parsing jsonpath %s: %s\n", out.jsonpath, err);
		ret = EG_EXIT_REFUSED;
	} else if (r < 0) {
		eg_ctl_err("printing: %s", strerror(-r));
		ret = EG_EXIT_REFUSED;
	}
out_done:
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	eg_store_close(store);
	return ret;
}
