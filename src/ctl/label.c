/* src/ctl/label.c: `egressctl label KIND NAME k=v... [k-]... [--overwrite] [-n NS]`
 * (the how-to labels its namespace with istio.io/rev this way). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "ctl/ctl.h"
#include "store/store.h"

#define MAX_LABEL_OPS 64

struct label_op {
	const char *key; /* points into argv (the '=' or '-' replaced by NUL) */
	const char *value; /* NULL: remove */
	bool missing;      /* removal of a label that is not there */
};

struct label_ctx {
	struct label_op *ops;
	size_t n;
	bool overwrite;
	const char *conflict_key;
	char conflict_value[256];
	size_t set, removed;
};

static int label_cb(struct eg_node *root, void *ctx)
{
	struct label_ctx *c = ctx;
	struct eg_node *meta = eg_node_get(root, "metadata");
	struct eg_node *labels = eg_node_get(meta, "labels");
	bool fresh = false;

	c->set = c->removed = 0;
	if (!meta)
		return -EINVAL;
	if (!labels) {
		labels = eg_node_new_map();
		if (!labels)
			return -ENOMEM;
		fresh = true;
	}
	for (size_t i = 0; i < c->n; i++) {
		struct label_op *op = &c->ops[i];
		const struct eg_node *cur = eg_node_get(labels, op->key);

		op->missing = false;
		if (!op->value) {
			if (cur) {
				eg_node_map_del(labels, op->key);
				c->removed++;
			} else {
				op->missing = true;
			}
			continue;
		}
		if (cur && cur->kind == EG_NODE_SCALAR && strcmp(cur->s, op->value) == 0)
			continue;
		/* kubectl: changing a value that is there needs --overwrite */
		if (cur && !c->overwrite) {
			c->conflict_key = op->key;
			snprintf(c->conflict_value, sizeof(c->conflict_value), "%s",
				 cur->kind == EG_NODE_SCALAR ? cur->s : "");
			if (fresh)
				eg_node_free(labels);
			return -EEXIST;
		}
		if (eg_node_map_set_str(labels, op->key, op->value) < 0) {
			if (fresh)
				eg_node_free(labels);
			return -ENOMEM;
		}
		c->set++;
	}
	if (fresh) {
		if (labels->n == 0) {
			eg_node_free(labels);
		} else if (eg_node_map_put(meta, "labels", labels) < 0) {
			eg_node_free(labels);
			return -ENOMEM;
		}
	} else if (labels->n == 0) {
		eg_node_map_del(meta, "labels");
	}
	return c->set || c->removed ? 1 : 0;
}

int eg_ctl_label(struct eg_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "overwrite", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct label_op ops[MAX_LABEL_OPS];
	struct label_ctx lc = { .ops = ops };
	const char *ns = "default", *name;
	const struct eg_kind *kind;
	struct eg_store *store = NULL;
	struct eg_diag d;
	char kbuf[128], q[256];
	int c, r, first_op;

	if (eg_ctl_help(ctl, "label", argc, argv))
		return EG_EXIT_OK;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			ns = optarg;
			break;
		case 'O':
			lc.overwrite = true;
			break;
		default:
			return eg_ctl_usage(ctl, "label");
		}
	}
	if (optind == argc)
		return eg_ctl_usage(ctl, "label");
	/* KIND NAME or KIND/NAME */
	if (strchr(argv[optind], '/')) {
		const char *slash = strchr(argv[optind], '/');

		snprintf(kbuf, sizeof(kbuf), "%.*s", (int)(slash - argv[optind]), argv[optind]);
		name = slash + 1;
		first_op = optind + 1;
	} else {
		if (optind + 1 >= argc)
			return eg_ctl_usage(ctl, "label");
		snprintf(kbuf, sizeof(kbuf), "%s", argv[optind]);
		name = argv[optind + 1];
		first_op = optind + 2;
	}
	for (int i = first_op; i < argc; i++) {
		char *arg = argv[i], *eq = strchr(arg, '=');
		size_t len = strlen(arg);

		if (lc.n == MAX_LABEL_OPS) {
			eg_ctl_err("too many label changes (at most %d)", MAX_LABEL_OPS);
			return EG_EXIT_USAGE;
		}
		if (eq && eq != arg) {
			*eq = '\0';
			ops[lc.n++] = (struct label_op){ arg, eq + 1, false };
		} else if (!eq && len > 1 && arg[len - 1] == '-') {
			arg[len - 1] = '\0';
			ops[lc.n++] = (struct label_op){ arg, NULL, false };
		} else {
			eg_ctl_err("invalid label change \"%s\" (KEY=VALUE sets, KEY- removes)", arg);
			return eg_ctl_usage(ctl, "label");
		}
	}
	if (lc.n == 0) {
		eg_ctl_err("at least one label update is required");
		return eg_ctl_usage(ctl, "label");
	}
	kind = eg_kind_lookup(kbuf);
	if (!kind) {
		fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", kbuf);
		return EG_EXIT_REFUSED;
	}
	if (!*name)
		return eg_ctl_usage(ctl, "label");
	if (eg_ctl_open_store(ctl, &store) < 0)
		return EG_EXIT_REFUSED;
	eg_diag_init(&d);
	r = eg_store_modify(store, kind, ns, name, label_cb, &lc, &d);
	fputs(eg_diag_text(&d), stderr);
	eg_diag_done(&d);
	eg_store_close(store);
	for (size_t i = 0; r >= 0 && i < lc.n; i++)
		if (ops[i].missing)
			fprintf(stderr, "label \"%s\" not found.\n", ops[i].key);
	eg_kind_qualified(kind, q, sizeof(q));
	switch (r) {
	case 1:
		printf("%s/%s %s\n", q, name, lc.set ? "labeled" : "unlabeled");
		return EG_EXIT_OK;
	case 0:
		printf("%s/%s not labeled\n", q, name);
		return EG_EXIT_OK;
	case -ENOENT:
		eg_ctl_not_found(kind, name);
		return EG_EXIT_REFUSED;
	case -EEXIST:
		fprintf(stderr, "error: '%s' already has a value (%s), and --overwrite is false\n",
			lc.conflict_key, lc.conflict_value);
		return EG_EXIT_REFUSED;
	case -EINVAL:
		return EG_EXIT_REFUSED; /* the diagnostics above say why */
	default:
		eg_ctl_err("labeling %s/%s: %s", q, name, strerror(-r));
		return EG_EXIT_REFUSED;
	}
}
