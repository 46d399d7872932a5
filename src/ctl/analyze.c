/* src/ctl/analyze.c: `egressctl analyze`: istioctl analyze for egressd.
 *
 *   egressctl analyze [-A | -n NS] [-f FILE|DIR|- ...] [--output-threshold LEVEL]
 *                     [--use-kube=false]
 *
 * Objects come from the store (when it exists; --use-kube=false leaves it out) merged with
 * the -f inputs: an object of an input replaces the stored object with the same kind,
 * namespace and name. Each input document is parsed on its own, so that one invalid
 * object becomes IST0106 messages instead of stopping the run. Messages go to stdout,
 * the closing line to stderr, as istioctl does. Exit 0 when nothing is above Info, 1
 * otherwise (or when an input could not be read), 2 for bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/str.h"
#include "ctl/ctl.h"
#include "model/analyze.h"
#include "store/store.h"

#define MAX_INPUTS 256  /* -f arguments */
#define MAX_FILES  4096 /* files read in all */

struct input {
	struct eg_parse_opts po;
	struct eg_resource_set files; /* valid objects of the -f inputs */
	struct eg_resource_set raw;   /* objects that failed validation, unvalidated */
	struct eg_resource_set dups;  /* objects given twice (kept for their messages) */
	struct eg_resource_set stored; /* the store's objects */
	/* the inputs' objects (files and raw) by kind/namespace/name: open addressing */
	const struct eg_resource **index;
	size_t index_cap, index_n;
	struct eg_analyze an;
	struct eg_buf errors; /* problems that are not about one object (stderr) */
	char *names[MAX_FILES]; /* file names the nodes point at (owned) */
	size_t nnames;
	unsigned unreadable; /* inputs or documents that could not be read at all */
};

static void input_error(struct input *in, const char *file, const char *fmt, ...) EG_PRINTF(3, 4);
static void input_error(struct input *in, const char *file, const char *fmt, ...)
{
	va_list ap;

	(void)eg_buf_printf(&in->errors, "%s: error: ", file);
	va_start(ap, fmt);
	(void)eg_buf_vprintf(&in->errors, fmt, ap);
	va_end(ap);
	(void)eg_buf_putc(&in->errors, '\n');
	in->unreadable++;
}

/* An object that failed validation, kept as given so that references to it resolve.
 * Takes @root. NULL when it is not even an object of a known kind with a name. */
static struct eg_resource *make_raw(const struct input *in, const char *file, struct eg_node *root)
{
	const char *kind = eg_node_str(root, "kind");
	struct eg_node *meta = eg_node_get(root, "metadata");
	struct eg_resource *r;

	if (!kind || root->kind != EG_NODE_MAP || !meta || meta->kind != EG_NODE_MAP ||
	    !eg_node_str(meta, "name") || !(r = calloc(1, sizeof(*r)))) {
		eg_node_free(root);
		return NULL;
	}
	for (const struct eg_kind *const *k = eg_kinds; *k; k++)
		if (strcmp((*k)->kind, kind) == 0)
			r->kind = *k;
	if (!r->kind || !(r->file = strdup(file)))
		goto out_free;
	r->root = root;
	if (r->kind->namespaced && !eg_node_str(meta, "namespace") &&
	    eg_node_map_set_str(meta, "namespace", in->po.default_ns) < 0)
		goto out_free;
	eg_resource_sync(r);
	return r;
out_free:
	r->root = NULL;
	eg_resource_free(r);
	eg_node_free(root);
	return NULL;
}

static uint64_t object_hash(const struct eg_resource *r)
{
	uint64_t h = eg_hash(r->kind->kind, strlen(r->kind->kind));

	h ^= eg_hash(r->name, strlen(r->name)) * 31;
	if (r->ns)
		h ^= eg_hash(r->ns, strlen(r->ns)) * 17;
	return h;
}

static bool same_object(const struct eg_resource *a, const struct eg_resource *b)
{
	return a->kind == b->kind && strcmp(a->name, b->name) == 0 &&
	       (a->ns ? b->ns && strcmp(a->ns, b->ns) == 0 : !b->ns);
}

/* The input object with @r's kind, namespace and name, or NULL. */
static const struct eg_resource *find_any(const struct input *in, const struct eg_resource *r)
{
	if (!in->index_cap)
		return NULL;
	for (size_t i = object_hash(r) & (in->index_cap - 1);; i = (i + 1) & (in->index_cap - 1)) {
		const struct eg_resource *o = in->index[i];

		if (!o)
			return NULL;
		if (same_object(o, r))
			return o;
	}
}

/* Adds @r (not already there) to the index, growing it to stay at most half full. */
static int index_add(struct input *in, const struct eg_resource *r)
{
	if (2 * (in->index_n + 1) > in->index_cap) {
		size_t cap = in->index_cap ? in->index_cap * 2 : 256;
		const struct eg_resource **old = in->index, **v = calloc(cap, sizeof(*v));
		size_t old_cap = in->index_cap;

		if (!v)
			return -ENOMEM;
		in->index = v;
		in->index_cap = cap;
		in->index_n = 0;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i])
				(void)index_add(in, old[i]);
		free(old);
	}
	for (size_t i = object_hash(r) & (in->index_cap - 1);; i = (i + 1) & (in->index_cap - 1)) {
		if (!in->index[i]) {
			in->index[i] = r;
			in->index_n++;
			return 0;
		}
	}
}

/* One object of an input: validated on its own. Takes @node. */
static void load_object(struct input *in, const char *file, struct eg_node *node)
{
	struct eg_node *copy = eg_node_clone(node);
	struct eg_resource *res = NULL, *raw;
	const struct eg_resource *first;
	struct eg_diag d;
	int r;

	eg_diag_init(&d);
	r = eg_resource_from_node(file, node, &in->po, &res, &d);
	if (r == 0) {
		eg_node_free(copy);
		first = find_any(in, res);
		if (first) {
			struct eg_buf b = EG_BUF_INIT(1024);

			(void)eg_buf_printf(&b, "defined twice in the input (first at %s:%u)",
					    first->file, first->root->pos.line);
			if (eg_resource_set_add(&in->dups, res) < 0 ||
			    eg_analyze_add_schema(&in->an, res, false, 0, eg_buf_cstr(&b)) < 0)
				in->unreadable++;
			eg_buf_done(&b);
		} else if (eg_resource_set_add(&in->files, res) < 0) {
			eg_resource_free(res);
			in->unreadable++;
		} else if (index_add(in, res) < 0) {
			in->unreadable++;
		}
		/* its warnings come back when analyze runs the webhook rules again */
	} else if (copy && (raw = make_raw(in, file, copy))) {
		/* a second, invalid copy is reported without being kept for lookups */
		struct eg_resource_set *home = find_any(in, raw) ? &in->dups : &in->raw;

		if (eg_resource_set_add(home, raw) < 0) {
			eg_resource_free(raw);
			raw = NULL;
			in->unreadable++;
		} else if (home == &in->raw && index_add(in, raw) < 0) {
			in->unreadable++;
		}
		if (raw && eg_analyze_add_diag(&in->an, raw, &d) < 0)
			in->unreadable++;
	} else {
		if (!copy)
			(void)eg_buf_puts(&in->errors, "egressctl: error: out of memory\n");
		(void)eg_buf_puts(&in->errors, eg_diag_text(&d));
		in->unreadable++;
	}
	eg_diag_done(&d);
}

static void load_data(struct input *in, const char *file, const char *data, size_t len)
{
	struct eg_node **docs = NULL;
	size_t ndocs = 0;
	struct eg_diag d;

	eg_diag_init(&d);
	if (eg_yaml_load(file, data, len, &d, &docs, &ndocs) < 0) {
		(void)eg_buf_puts(&in->errors, eg_diag_text(&d));
		in->unreadable++;
		eg_diag_done(&d);
		return;
	}
	eg_diag_done(&d);
	for (size_t i = 0; i < ndocs; i++) {
		struct eg_node *items = eg_node_get(docs[i], "items");

		const char *kind = eg_node_str(docs[i], "kind");

		if (kind && strcmp(kind, "List") == 0 && items && items->kind == EG_NODE_SEQ) {
			for (size_t j = 0; j < items->n; j++) {
				load_object(in, file, items->v[j]);
				items->v[j] = NULL;
			}
			items->n = 0;
			eg_node_free(docs[i]);
			continue;
		}
		load_object(in, file, docs[i]);
	}
	free(docs);
}

/* Keeps a copy of @path for the nodes to point at until the end of the run. */
static const char *remember(struct input *in, const char *path)
{
	if (in->nnames == MAX_FILES) {
		input_error(in, path, "too many input files (at most %d)", MAX_FILES);
		return NULL;
	}
	if (!(in->names[in->nnames] = strdup(path))) {
		input_error(in, path, "out of memory");
		return NULL;
	}
	return in->names[in->nnames++];
}

static void load_fd(struct input *in, const char *path, int fd)
{
	struct eg_buf b = EG_BUF_INIT(EG_MODEL_MAX_FILE_BYTES + 1);
	const char *file = remember(in, path);
	int r;

	if (!file)
		return;
	/* one byte more than the model takes: it reports the size with its own message */
	r = eg_file_read_fd(fd, EG_MODEL_MAX_FILE_BYTES + 1, &b);
	if (r < 0 && r != -EFBIG)
		input_error(in, file, "cannot read: %s", strerror(-r));
	else
		load_data(in, file, eg_buf_cstr(&b), b.len);
	eg_buf_done(&b);
}

static void load_file(struct input *in, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		input_error(in, path, "cannot open: %s", strerror(errno));
		return;
	}
	load_fd(in, path, fd);
	close(fd);
}

/* Every .yaml, .yml and .json file of @path, in name order (not recursive, as kubectl). */
static void load_dir(struct input *in, const char *path)
{
	char **names = NULL;
	size_t n = 0, taken = 0;
	int r = eg_file_list_at(AT_FDCWD, path, &names, &n);

	if (r < 0) {
		input_error(in, path, "cannot open: %s", strerror(-r));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(path) + strlen(names[i]) + 2;
		char *file;

		if (!eg_ctl_yaml_name(names[i]))
			continue;
		if (taken == MAX_FILES || !(file = malloc(l))) {
			input_error(in, path,
				    "cannot list every file (out of memory or more than %d)", MAX_FILES);
			break;
		}
		snprintf(file, l, "%s/%s", path, names[i]);
		load_file(in, file);
		free(file);
		taken++;
	}
	eg_file_names_free(names, n);
}

static void load_path(struct input *in, const char *path)
{
	struct stat st;

	if (strcmp(path, "-") == 0)
		load_fd(in, "<stdin>", STDIN_FILENO);
	else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		load_dir(in, path);
	else
		load_file(in, path);
}

/* The objects of the store (--store, $EGRESS_STORE, else $HOME/.egressd/store). Opening
 * never creates it: 0 when there is none, 1 when read, -errno (reported). */
static int load_store(const struct eg_ctl *ctl, struct input *in)
{
	char def[PATH_MAX];
	const char *dir = ctl->store_dir;
	struct eg_store *st = NULL;
	struct eg_diag d;
	int r;

	if (!dir || !*dir) {
		if (eg_store_default_dir(def, sizeof(def)) < 0)
			return 0;
		dir = def;
	}
	r = eg_store_open(dir, 0, &st);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		input_error(in, dir, "cannot open the store: %s", strerror(-r));
		return r;
	}
	eg_diag_init(&d);
	r = eg_store_load(st, &in->stored, NULL, &d);
	/* an object that no longer parses is reported and left out */
	(void)eg_buf_puts(&in->errors, eg_diag_text(&d));
	if (r == -EINVAL)
		in->unreadable++;
	else if (r < 0)
		input_error(in, dir, "cannot read the store: %s", strerror(-r));
	eg_diag_done(&d);
	eg_store_close(st);
	return r < 0 && r != -EINVAL ? r : 1;
}

static int ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (const void *const *)a, y = (uintptr_t) * (const void *const *)b;

	return x < y ? -1 : x > y;
}

/* What is analysed: the inputs' objects, then the stored ones no input replaces. The set
 * does not own them (free only its array). */
static int merge(struct input *in, struct eg_resource_set *all)
{
	for (size_t i = 0; i < in->files.n; i++)
		if (eg_resource_set_add(all, in->files.v[i]) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < in->stored.n; i++)
		if (!find_any(in, in->stored.v[i]) && eg_resource_set_add(all, in->stored.v[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* Messages about stored objects print no location, as istioctl for cluster objects. */
static void hide_store_locations(struct input *in)
{
	struct eg_resource **v;

	if (!in->stored.n || !(v = malloc(in->stored.n * sizeof(*v))))
		return;
	memcpy(v, in->stored.v, in->stored.n * sizeof(*v));
	qsort(v, in->stored.n, sizeof(*v), ptr_cmp);
	for (size_t i = 0; i < in->an.n; i++) {
		const struct eg_resource *r = in->an.v[i].res;

		if (r && bsearch(&r, v, in->stored.n, sizeof(*v), ptr_cmp))
			in->an.v[i].file = NULL;
	}
	free(v);
}

static void input_done(struct input *in)
{
	eg_analyze_done(&in->an);
	eg_resource_set_done(&in->files);
	eg_resource_set_done(&in->raw);
	eg_resource_set_done(&in->dups);
	eg_resource_set_done(&in->stored);
	free(in->index);
	eg_buf_done(&in->errors);
	for (size_t i = 0; i < in->nnames; i++)
		free(in->names[i]);
}

int eg_ctl_analyze(struct eg_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ "output-threshold", required_argument, NULL, 't' },
		{ "use-kube", optional_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *paths[MAX_INPUTS];
	size_t npaths = 0;
	const char *ns = NULL;
	bool all_ns = false;
	enum eg_analyze_level threshold = EG_ANALYZE_INFO;
	struct eg_analyze_opts ao = { NULL };
	struct eg_resource_set all;
	bool use_store = true;
	int have_store = 0;
	struct input *in;
	struct eg_buf line = EG_BUF_INIT(1u << 20);
	size_t shown = 0, above_info = 0;
	char target[300];
	int c, ret;

	if (eg_ctl_help(ctl, "analyze", argc, argv))
		return EG_EXIT_OK;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:n:A", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (npaths == MAX_INPUTS) {
				eg_ctl_err("too many -f arguments (at most %d)", MAX_INPUTS);
				return EG_EXIT_USAGE;
			}
			paths[npaths++] = optarg;
			break;
		case 'n':
			ns = optarg;
			break;
		case 'A':
			all_ns = true;
			break;
		case 't':
			if (eg_analyze_parse_level(optarg, &threshold) < 0) {
				eg_ctl_err("--output-threshold: \"%s\" is not one of Info, Warning, Error",
					   optarg);
				return EG_EXIT_USAGE;
			}
			break;
		case 'k':
			/* istioctl's name for "read the cluster": here, the store */
			if (optarg && strcmp(optarg, "true") != 0 && strcmp(optarg, "false") != 0) {
				eg_ctl_err("--use-kube: expected true or false, got \"%s\"", optarg);
				return EG_EXIT_USAGE;
			}
			use_store = !optarg || strcmp(optarg, "true") == 0;
			break;
		default:
			return eg_ctl_usage(ctl, "analyze");
		}
	}
	for (; optind < argc; optind++) {
		if (npaths == MAX_INPUTS) {
			eg_ctl_err("too many inputs (at most %d)", MAX_INPUTS);
			return EG_EXIT_USAGE;
		}
		paths[npaths++] = argv[optind];
	}
	if (all_ns && ns) {
		eg_ctl_err("-A and -n cannot be used together");
		return eg_ctl_usage(ctl, "analyze");
	}
	if (ns && !eg_is_dns1123_label(ns)) {
		eg_ctl_err("-n: \"%s\" is not a valid namespace name", ns);
		return EG_EXIT_USAGE;
	}
	if (!(in = calloc(1, sizeof(*in)))) {
		eg_ctl_err("out of memory");
		return EG_EXIT_REFUSED;
	}
	in->po.default_ns = ns ? ns : "default";
	eg_resource_set_init(&in->files);
	eg_resource_set_init(&in->raw);
	eg_resource_set_init(&in->dups);
	eg_resource_set_init(&in->stored);
	eg_resource_set_init(&all);
	eg_analyze_init(&in->an);
	eg_buf_init(&in->errors, 1u << 20);
	if (use_store)
		have_store = load_store(ctl, in);
	if (!have_store && !npaths) {
		eg_ctl_err("nothing to analyze: no store%s and no -f FILE|DIR|-",
			   use_store ? "" : " (--use-kube=false)");
		input_done(in);
		free(in);
		return eg_ctl_usage(ctl, "analyze");
	}
	for (size_t i = 0; i < npaths; i++)
		load_path(in, paths[i]);
	ao.ns = all_ns ? NULL : in->po.default_ns;
	if (merge(in, &all) < 0 || eg_analyze_run(&in->an, &all, &in->raw, &ao) < 0) {
		(void)eg_buf_puts(&in->errors, "egressctl: error: out of memory: analysis incomplete\n");
		in->unreadable++;
	}
	hide_store_locations(in);
	fputs(eg_buf_cstr(&in->errors), stderr);
	for (size_t i = 0; i < in->an.n; i++) {
		const struct eg_analyze_msg *m = &in->an.v[i];

		above_info += m->level < EG_ANALYZE_INFO;
		if (m->level > threshold)
			continue;
		eg_buf_done(&line);
		if (eg_analyze_format(m, &line) == 0)
			puts(eg_buf_cstr(&line));
		shown++;
	}
	if (in->an.dropped)
		printf("... %zu more messages not shown\n", in->an.dropped);
	fflush(stdout);
	if (all_ns)
		snprintf(target, sizeof(target), "all namespaces");
	else
		snprintf(target, sizeof(target), "namespace: %s", in->po.default_ns);
	if (above_info || in->an.dropped) {
		fprintf(stderr, "Error: Analyzers found issues when analyzing %s.\n", target);
		ret = EG_EXIT_REFUSED;
	} else if (in->unreadable) {
		fprintf(stderr, "Error: some input could not be read, so the analysis of %s is incomplete.\n",
			target);
		ret = EG_EXIT_REFUSED;
	} else {
		if (!shown)
			fprintf(stderr, "\u2714 No validation issues found when analyzing %s.\n", target);
		ret = EG_EXIT_OK;
	}
	eg_buf_done(&line);
	free(all.v);
	input_done(in);
	free(in);
	return ret;
}
