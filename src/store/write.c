/* src/store/write.c: write transactions: apply, delete, modify, status. Each one runs under
 * the exclusive lock, plans everything in memory first (so a refused request writes
 * nothing), then writes the generation file and the objects (see store.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "store/store-int.h"

/* Kubernetes caps all annotations of an object at 256 KiB; a bigger last-applied
 * configuration is not recorded (the next apply then replaces labels outright). */
#define LAST_APPLIED_MAX 262144

static const char *const server_fields[] = { "uid", "resourceVersion", "generation",
					     "creationTimestamp", "managedFields", NULL };
static const char *const protected_namespaces[] = { "default", "kube-system", "kube-public",
						    NULL };

static bool in_list(const char *s, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static bool is_namespace_kind(const struct eg_kind *k)
{
	return !k->namespaced && strcmp(k->kind, "Namespace") == 0 && !k->group[0];
}

/* --- small node helpers --- */

static int put(struct eg_node *map, const char *key, struct eg_node *val)
{
	if (!val)
		return -ENOMEM;
	if (eg_node_map_put(map, key, val) < 0) {
		eg_node_free(val);
		return -ENOMEM;
	}
	return 0;
}

static int put_str(struct eg_node *map, const char *key, const char *s)
{
	return eg_node_map_set_str(map, key, s);
}

static int put_int(struct eg_node *map, const char *key, int64_t v)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%lld", (long long)v);
	struct eg_node *val = eg_node_new_scalar(text, (size_t)n, false);

	if (val) {
		val->vtype = EG_V_INT;
		val->i = v;
	}
	return put(map, key, val);
}

/* Maps @a and @b hold the same keys with equal values, leaving out the keys of @skip.
 * NULL counts as an empty map. */
static bool map_equal_except(const struct eg_node *a, const struct eg_node *b,
			     const char *const *skip)
{
	size_t na = 0, nb = 0;

	if ((a && a->kind != EG_NODE_MAP) || (b && b->kind != EG_NODE_MAP))
		return a && b && eg_node_equal(a, b);
	for (size_t i = 0; i < eg_node_len(a); i++) {
		const struct eg_node *bv;

		if (in_list(a->k[i]->s, skip))
			continue;
		na++;
		bv = eg_node_get(b, a->k[i]->s);
		if (!bv || !eg_node_equal(a->v[i], bv))
			return false;
	}
	for (size_t i = 0; i < eg_node_len(b); i++)
		if (!in_list(b->k[i]->s, skip))
			nb++;
	return na == nb;
}

/* Anything outside metadata and status differs: that is what bumps metadata.generation. */
static bool content_changed(const struct eg_node *a, const struct eg_node *b)
{
	static const char *const skip[] = { "apiVersion", "kind", "metadata", "status", NULL };

	return !map_equal_except(a, b, skip);
}

/* Same object as far as the user is concerned: all but resourceVersion and the
 * last-applied annotation. */
static bool same_object(const struct eg_node *a, const struct eg_node *b)
{
	static const char *const top[] = { "metadata", NULL };
	static const char *const meta[] = { "resourceVersion", "annotations", NULL };
	static const char *const ann[] = { EG_STORE_LAST_APPLIED, NULL };
	const struct eg_node *ma = eg_node_get(a, "metadata"), *mb = eg_node_get(b, "metadata");

	return map_equal_except(a, b, top) && map_equal_except(ma, mb, meta) &&
	       map_equal_except(eg_node_get(ma, "annotations"), eg_node_get(mb, "annotations"),
				ann);
}

static int new_uid(char *buf, size_t len)
{
	uint8_t b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(buf, len,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
	return 0;
}

static void format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- apply: merging an applied object into the stored one --- */

/* The applied configuration as kubectl records it: compact JSON, sorted keys, without
 * status, server fields and the annotation itself. NULL when too big or out of memory. */
static char *last_applied_json(const struct eg_node *in)
{
	struct eg_node *c = eg_node_clone(in);
	struct eg_node *meta;
	struct eg_buf out = EG_BUF_INIT(LAST_APPLIED_MAX);
	char *s = NULL;

	if (!c)
		return NULL;
	eg_node_map_del(c, "status");
	meta = eg_node_get(c, "metadata");
	for (const char *const *f = server_fields; *f; f++)
		eg_node_map_del(meta, *f);
	eg_node_map_del(eg_node_get(meta, "annotations"), EG_STORE_LAST_APPLIED);
	if (eg_node_len(eg_node_get(meta, "annotations")) == 0)
		eg_node_map_del(meta, "annotations");
	if (eg_node_sort_keys(c) == 0 && eg_node_emit_json(&out, c, 0) == 0 && out.len)
		s = eg_buf_steal(&out);
	eg_buf_done(&out);
	eg_node_free(c);
	return s;
}

/* The previous applied configuration recorded on @stored, or NULL. */
static struct eg_node *last_applied(const struct eg_node *stored)
{
	/* the key holds dots, so eg_node_path cannot reach it */
	const struct eg_node *ann = eg_node_path(stored, "metadata.annotations");
	struct eg_node **docs = NULL, *root = NULL;
	const char *text = NULL;
	struct eg_diag quiet;
	size_t n = 0;

	for (size_t i = 0; i < eg_node_len(ann); i++)
		if (strcmp(ann->k[i]->s, EG_STORE_LAST_APPLIED) == 0 &&
		    ann->v[i]->kind == EG_NODE_SCALAR)
			text = ann->v[i]->s;
	if (!text)
		return NULL;
	eg_diag_init(&quiet);
	if (eg_yaml_load("<last-applied>", text, strlen(text), &quiet, &docs, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (i == 0 && docs[i]->kind == EG_NODE_MAP)
				root = docs[i];
			else
				eg_node_free(docs[i]);
		}
		free(docs);
	}
	eg_diag_done(&quiet);
	return root;
}

/* Three-way merge of one string map (labels or annotations): a key the user applied
 * wins; a stored key that the previous apply set but this one drops goes; a stored key
 * that no apply ever set (`egressctl label`) stays. */
static struct eg_node *merge_map(const struct eg_node *stored, const struct eg_node *last,
				 const struct eg_node *applied, const char *skip)
{
	struct eg_node *out = eg_node_new_map();

	if (!out)
		return NULL;
	for (size_t i = 0; i < eg_node_len(stored); i++) {
		const char *key = stored->k[i]->s;
		const struct eg_node *av = eg_node_get(applied, key);
		const struct eg_node *keep = av ? av : eg_node_get(last, key) ? NULL : stored->v[i];

		if ((skip && strcmp(key, skip) == 0) || !keep)
			continue;
		if (put(out, key, eg_node_clone(keep)) < 0)
			return eg_node_free(out);
	}
	for (size_t i = 0; i < eg_node_len(applied); i++) {
		const char *key = applied->k[i]->s;

		if ((skip && strcmp(key, skip) == 0) || eg_node_get(stored, key))
			continue;
		if (put(out, key, eg_node_clone(applied->v[i])) < 0)
			return eg_node_free(out);
	}
	return out;
}

static struct eg_node *build_meta(const struct eg_node *stored, const struct eg_node *in,
				  const struct eg_kind *k, bool record, time_t now)
{
	const struct eg_node *in_meta = eg_node_get(in, "metadata");
	const struct eg_node *st_meta = eg_node_get(stored, "metadata");
	struct eg_node *last = stored ? last_applied(stored) : NULL;
	const struct eg_node *last_meta = eg_node_get(last, "metadata");
	struct eg_node *m = eg_node_new_map(), *labels = NULL, *ann = NULL;
	char uid[40], ts[40];
	const char *s;
	char *json = NULL;

	if (!m)
		goto out_fail;
	for (size_t i = 0; i < eg_node_len(in_meta); i++) {
		const char *key = in_meta->k[i]->s;

		if (in_list(key, server_fields) || strcmp(key, "labels") == 0 ||
		    strcmp(key, "annotations") == 0)
			continue;
		if (put(m, key, eg_node_clone(in_meta->v[i])) < 0)
			goto out_fail;
	}
	labels = merge_map(eg_node_get(st_meta, "labels"), eg_node_get(last_meta, "labels"),
			   eg_node_get(in_meta, "labels"), NULL);
	ann = merge_map(eg_node_get(st_meta, "annotations"), eg_node_get(last_meta, "annotations"),
			eg_node_get(in_meta, "annotations"), EG_STORE_LAST_APPLIED);
	if (!labels || !ann)
		goto out_fail;
	json = record ? last_applied_json(in) : NULL;
	if (json && put_str(ann, EG_STORE_LAST_APPLIED, json) < 0)
		goto out_fail;
	/* the API server labels every Namespace with its own name (Kubernetes >= 1.21) */
	if (is_namespace_kind(k) && (s = eg_node_str(in_meta, "name")) &&
	    put_str(labels, "kubernetes.io/metadata.name", s) < 0)
		goto out_fail;
	if (ann->n) {
		if (put(m, "annotations", ann) < 0) {
			ann = NULL;
			goto out_fail;
		}
	} else {
		eg_node_free(ann);
	}
	ann = NULL;
	if (labels->n) {
		if (put(m, "labels", labels) < 0) {
			labels = NULL;
			goto out_fail;
		}
	} else {
		eg_node_free(labels);
	}
	labels = NULL;
	s = eg_node_str(st_meta, "creationTimestamp");
	if (!s) {
		format_time(now, ts, sizeof(ts));
		s = ts;
	}
	if (put_str(m, "creationTimestamp", s) < 0)
		goto out_fail;
	if (put_int(m, "generation", eg_node_int(st_meta, "generation", 1)) < 0)
		goto out_fail;
	s = eg_node_str(st_meta, "resourceVersion");
	if (put_str(m, "resourceVersion", s ? s : "0") < 0)
		goto out_fail;
	s = eg_node_str(st_meta, "uid");
	if (!s) {
		if (new_uid(uid, sizeof(uid)) < 0)
			goto out_fail;
		s = uid;
	}
	if (put_str(m, "uid", s) < 0)
		goto out_fail;
	free(json);
	eg_node_free(last);
	return m;
out_fail:
	free(json);
	eg_node_free(labels);
	eg_node_free(ann);
	eg_node_free(last);
	return eg_node_free(m);
}

/* The object @in as stored on top of @stored (NULL when new). */
static struct eg_node *merge(const struct eg_node *stored, const struct eg_node *in,
			     const struct eg_kind *k, bool record, time_t now)
{
	struct eg_node *out = eg_node_new_map();
	const struct eg_node *status = eg_node_get(stored, "status");

	if (!out)
		return NULL;
	for (size_t i = 0; i < in->n; i++) {
		const char *key = in->k[i]->s;
		struct eg_node *v;

		if (strcmp(key, "status") == 0)
			continue; /* the status subresource: written by the cluster, not by apply */
		v = strcmp(key, "metadata") == 0 ? build_meta(stored, in, k, record, now)
						 : eg_node_clone(in->v[i]);
		if (put(out, key, v) < 0)
			return eg_node_free(out);
	}
	if (status) {
		if (put(out, "status", eg_node_clone(status)) < 0)
			return eg_node_free(out);
	} else if (!stored && is_namespace_kind(k)) {
		struct eg_node *st = eg_node_new_map();

		if (!st || put_str(st, "phase", "Active") < 0 || put(out, "status", st) < 0) {
			if (st && !eg_node_get(out, "status"))
				eg_node_free(st);
			return eg_node_free(out);
		}
	}
	if (stored && content_changed(stored, out) &&
	    put_int(eg_node_get(out, "metadata"), "generation",
		    eg_node_int(stored, "metadata.generation", 1) + 1) < 0)
		return eg_node_free(out);
	return out;
}

static int set_resource_version(struct eg_node *root, uint64_t rv)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu", (unsigned long long)rv);
	return put_str(eg_node_get(root, "metadata"), "resourceVersion", text);
}

/* YAML of @root bounded by what the store can read back; the last-applied annotation
 * is dropped first when the object would not fit. 0, -E2BIG or -ENOMEM. */
static int emit(struct eg_node *root, struct eg_buf *out)
{
	struct eg_node *ann = eg_node_path(root, "metadata.annotations");
	int r;

	eg_buf_init(out, EG_MODEL_MAX_FILE_BYTES);
	r = eg_node_emit_yaml(out, root);
	if (r == -E2BIG && eg_node_get(ann, EG_STORE_LAST_APPLIED)) {
		eg_buf_done(out);
		eg_node_map_del(ann, EG_STORE_LAST_APPLIED);
		if (eg_node_len(ann) == 0)
			eg_node_map_del(eg_node_get(root, "metadata"), "annotations");
		eg_buf_init(out, EG_MODEL_MAX_FILE_BYTES);
		r = eg_node_emit_yaml(out, root);
	}
	if (r < 0)
		eg_buf_done(out);
	return r;
}

/* Writes one planned object; the caller fsyncs @dir (its directory) afterwards. */
static int write_object(struct eg_store *s, const struct eg_kind *k, const char *ns,
			const char *name, const struct eg_buf *yaml, char *dir, size_t dirlen)
{
	char rel[STORE_PATH_MAX];
	int r;

	if (eg_store_obj_dir(k, ns, dir, dirlen) < 0 ||
	    eg_store_obj_path(k, ns, name, rel, sizeof(rel)) < 0)
		return -ENAMETOOLONG;
	r = eg_store_mkdirs(s, dir);
	if (r == 0)
		r = eg_store_write_file(s, rel, yaml->data, yaml->len);
	return r;
}

struct entry {
	const struct eg_resource *res; /* the first input naming this object */
	struct eg_node *state;         /* stored or planned content (owned); NULL = absent */
	struct eg_buf yaml;            /* what gets written, when dirty */
	char dir[STORE_PATH_MAX / 2];
	bool dirty;
};

static bool same_key(const struct eg_resource *a, const struct eg_resource *b)
{
	return a->kind == b->kind && strcmp(a->name, b->name) == 0 &&
	       (!a->kind->namespaced || strcmp(a->ns, b->ns) == 0);
}

/* Namespace @ns exists in the store or is created by @set. */
static int ns_available(struct eg_store *s, const struct eg_resource_set *set, const char *ns)
{
	for (size_t i = 0; i < set->n; i++)
		if (is_namespace_kind(set->v[i]->kind) && strcmp(set->v[i]->name, ns) == 0)
			return 1;
	return eg_store_namespace_exists(s, ns);
}

static void free_entries(struct entry *ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		eg_node_free(ents[i].state);
		eg_buf_done(&ents[i].yaml);
	}
	free(ents);
}

/* Fsyncs each distinct directory the written entries live in, once. */
static int sync_dirs(struct eg_store *s, struct entry *ents, size_t n)
{
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		if (!ents[i].dirty)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = ents[j].dirty && strcmp(ents[j].dir, ents[i].dir) == 0;
		if (!seen) {
			int r = eg_store_fsync_dir(s, ents[i].dir);

			if (r < 0)
				ret = r;
		}
	}
	return ret;
}

int eg_store_apply_locked(struct eg_store *s, const struct eg_resource_set *set, bool record,
			  int *ret_outcomes, struct eg_diag *d)
{
	struct entry *ents = calloc(set->n ? set->n : 1, sizeof(*ents));
	unsigned errors0 = d->errors;
	size_t nents = 0, ndirty = 0;
	bool missing = false;
	time_t now = time(NULL);
	uint64_t gen;
	int r;

	if (!ents)
		return -ENOMEM;
	eg_store_clean_tmp(s);
	r = eg_store_read_generation(s, &gen);
	if (r < 0)
		goto out_free;
	for (size_t i = 0; i < set->n; i++) {
		const struct eg_resource *res = set->v[i];
		struct entry *e = NULL;
		struct eg_node *next;

		if (res->kind->namespaced) {
			r = ns_available(s, set, res->ns);
			if (r < 0)
				goto out_free;
			if (r == 0) {
				ret_outcomes[i] = -ENOENT;
				missing = true;
				continue;
			}
		}
		/* the same object twice in one request: the later applies on the earlier */
		for (size_t j = 0; j < nents && !e; j++)
			if (same_key(ents[j].res, res))
				e = &ents[j];
		if (!e) {
			char rel[STORE_PATH_MAX];
			struct eg_resource *cur = NULL;

			e = &ents[nents++];
			e->res = res;
			eg_buf_init(&e->yaml, 0);
			if (eg_store_obj_path(res->kind, res->ns, res->name, rel, sizeof(rel)) < 0) {
				r = -ENAMETOOLONG;
				goto out_free;
			}
			r = eg_store_read_object(s, rel, &cur, d);
			if (r == -EINVAL) {
				ret_outcomes[i] = -EINVAL;
				continue;
			}
			if (r < 0 && r != -ENOENT)
				goto out_free;
			if (cur) {
				e->state = cur->root;
				cur->root = NULL;
				eg_resource_free(cur);
			}
		}
		next = merge(e->state, res->root, res->kind, record, now);
		if (!next) {
			r = -ENOMEM;
			goto out_free;
		}
		if (e->state && same_object(next, e->state)) {
			ret_outcomes[i] = EG_STORE_UNCHANGED;
			eg_node_free(next);
			continue;
		}
		ret_outcomes[i] = e->state ? EG_STORE_CONFIGURED : EG_STORE_CREATED;
		if (set_resource_version(next, ++gen) < 0) {
			eg_node_free(next);
			r = -ENOMEM;
			goto out_free;
		}
		eg_node_free(e->state);
		e->state = next;
		e->dirty = true;
	}
	if (missing || d->errors != errors0) {
		r = missing ? -ENOENT : -EINVAL;
		goto out_free;
	}
	for (size_t i = 0; i < nents; i++) {
		if (!ents[i].dirty)
			continue;
		r = emit(ents[i].state, &ents[i].yaml);
		if (r == -E2BIG) {
			eg_res_error(d, ents[i].res, NULL, NULL,
				     "too large to store (more than %u bytes of YAML)",
				     EG_MODEL_MAX_FILE_BYTES);
			r = -EINVAL;
		}
		if (r < 0)
			goto out_free;
		ndirty++;
	}
	if (ndirty == 0) {
		r = 0;
		goto out_free;
	}
	/* the generation first: a watcher that wakes up takes the shared lock and so sees
	 * the objects only once this transaction is complete; a crash after this line
	 * leaves numbers unused, never used twice */
	r = eg_store_write_generation(s, gen);
	if (r < 0)
		goto out_free;
	for (size_t i = 0; i < nents; i++) {
		const struct eg_resource *res = ents[i].res;

		if (!ents[i].dirty)
			continue;
		r = write_object(s, res->kind, res->ns, res->name, &ents[i].yaml, ents[i].dir,
				 sizeof(ents[i].dir));
		if (r < 0)
			goto out_free;
	}
	r = sync_dirs(s, ents, nents);
	if (r == 0)
		r = (int)ndirty;
out_free:
	free_entries(ents, nents);
	return r;
}

int eg_store_apply(struct eg_store *s, const struct eg_resource_set *set, int *ret_outcomes,
		   struct eg_diag *d)
{
	int r = eg_store_lock(s, LOCK_EX);

	if (r < 0)
		return r;
	r = eg_store_apply_locked(s, set, true, ret_outcomes, d);
	eg_store_unlock(s);
	return r;
}

/* --- delete --- */

static bool safe_name(const char *s)
{
	return s && *s && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && !strchr(s, '/');
}

/* Removes every object of namespace @ns (not the Namespace itself). */
static int delete_ns_contents(struct eg_store *s, const char *ns)
{
	const struct eg_kind *nsk = eg_kind_lookup("namespaces");
	char nsres[256];
	char **res = NULL;
	size_t nres = 0;
	int ret;

	eg_store_resource_name(nsk, nsres, sizeof(nsres));
	ret = eg_file_list_at(s->dirfd, "objects", &res, &nres);
	if (ret < 0)
		return ret == -ENOENT ? 0 : ret;
	for (size_t i = 0; i < nres && ret == 0; i++) {
		char rel[STORE_PATH_MAX], parent[STORE_PATH_MAX];

		if (strcmp(res[i], nsres) == 0)
			continue; /* the Namespace objects themselves */
		snprintf(parent, sizeof(parent), "objects/%s", res[i]);
		snprintf(rel, sizeof(rel), "objects/%s/%s", res[i], ns);
		ret = eg_file_clear_dir_at(s->dirfd, rel);
		if (ret == -ENOENT || ret == -ENOTDIR) {
			ret = 0; /* nothing of this resource in @ns */
			continue;
		}
		(void)eg_file_fsync_dir_at(s->dirfd, rel);
		if (ret == 0 && unlinkat(s->dirfd, rel, AT_REMOVEDIR) < 0 && errno != ENOENT)
			ret = -errno;
		if (ret == 0)
			ret = eg_store_fsync_dir(s, parent);
	}
	eg_file_names_free(res, nres);
	return ret;
}

int eg_store_delete(struct eg_store *s, const struct eg_store_ref *refs, size_t n,
		    int *ret_results)
{
	uint64_t gen;
	size_t ndel = 0;
	int r;

	r = eg_store_lock(s, LOCK_EX);
	if (r < 0)
		return r;
	eg_store_clean_tmp(s);
	r = eg_store_read_generation(s, &gen);
	if (r < 0)
		goto out_unlock;
	for (size_t i = 0; i < n; i++) {
		const struct eg_store_ref *ref = &refs[i];
		char rel[STORE_PATH_MAX];
		bool gone = false;

		ret_results[i] = -ENOENT;
		if (!safe_name(ref->name) || (ref->kind->namespaced && !safe_name(ref->ns)) ||
		    eg_store_obj_path(ref->kind, ref->ns, ref->name, rel, sizeof(rel)) < 0 ||
		    faccessat(s->dirfd, rel, F_OK, 0) < 0)
			continue;
		/* already deleted by an earlier reference of this request? */
		for (size_t j = 0; j < i && !gone; j++) {
			const struct eg_store_ref *o = &refs[j];

			if (ret_results[j] != 0)
				continue;
			if (o->kind == ref->kind && strcmp(o->name, ref->name) == 0 &&
			    (!ref->kind->namespaced || strcmp(o->ns, ref->ns) == 0))
				gone = true;
			if (ref->kind->namespaced && is_namespace_kind(o->kind) &&
			    strcmp(o->name, ref->ns) == 0)
				gone = true;
		}
		if (gone)
			continue;
		if (is_namespace_kind(ref->kind) && in_list(ref->name, protected_namespaces)) {
			ret_results[i] = -EPERM;
			continue;
		}
		ret_results[i] = 0;
		ndel++;
	}
	if (ndel == 0) {
		r = 0;
		goto out_unlock;
	}
	r = eg_store_write_generation(s, gen + 1);
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct eg_store_ref *ref = &refs[i];
		char rel[STORE_PATH_MAX], dir[STORE_PATH_MAX];

		if (ret_results[i] != 0)
			continue;
		/* the contents first: a crash half way leaves the Namespace, and deleting it
		 * again finishes the job */
		if (is_namespace_kind(ref->kind))
			r = delete_ns_contents(s, ref->name);
		if (r < 0)
			break;
		eg_store_obj_path(ref->kind, ref->ns, ref->name, rel, sizeof(rel));
		eg_store_obj_dir(ref->kind, ref->ns, dir, sizeof(dir));
		if (unlinkat(s->dirfd, rel, 0) < 0 && errno != ENOENT)
			r = -errno;
		else
			r = eg_store_fsync_dir(s, dir);
	}
	if (r == 0)
		r = (int)ndel;
out_unlock:
	eg_store_unlock(s);
	return r;
}

/* --- modify and status --- */

int eg_store_modify(struct eg_store *s, const struct eg_kind *k, const char *ns,
		    const char *name, eg_store_modify_cb cb, void *ctx, struct eg_diag *d)
{
	struct eg_parse_opts po = { .default_ns = ns ? ns : "default" };
	struct eg_resource *cur = NULL, *next = NULL;
	struct eg_node *copy;
	char rel[STORE_PATH_MAX], dir[STORE_PATH_MAX];
	struct eg_buf yaml = EG_BUF_INIT(0);
	uint64_t gen;
	int r;

	if (!safe_name(name) || (k->namespaced && !safe_name(ns)) ||
	    eg_store_obj_path(k, ns, name, rel, sizeof(rel)) < 0)
		return -ENOENT;
	r = eg_store_lock(s, LOCK_EX);
	if (r < 0)
		return r;
	eg_store_clean_tmp(s);
	r = eg_store_read_object(s, rel, &cur, d);
	if (r < 0)
		goto out_unlock;
	copy = eg_node_clone(cur->root);
	if (!copy) {
		r = -ENOMEM;
		goto out_free;
	}
	r = cb(copy, ctx);
	if (r <= 0) {
		eg_node_free(copy);
		goto out_free;
	}
	r = eg_resource_from_node(cur->file, copy, &po, &next, d);
	if (r < 0)
		goto out_free;
	if (next->kind != cur->kind || strcmp(next->name, cur->name) != 0 ||
	    (k->namespaced && strcmp(next->ns, cur->ns) != 0)) {
		eg_res_error(d, cur, NULL, "metadata", "the kind, name or namespace cannot change");
		r = -EINVAL;
		goto out_free;
	}
	if (eg_node_equal(next->root, cur->root)) {
		r = 0;
		goto out_free;
	}
	if (content_changed(cur->root, next->root))
		r = put_int(eg_node_get(next->root, "metadata"), "generation",
			    eg_node_int(cur->root, "metadata.generation", 1) + 1);
	if (r == 0)
		r = eg_store_read_generation(s, &gen);
	if (r == 0)
		r = set_resource_version(next->root, ++gen);
	if (r == 0)
		r = emit(next->root, &yaml);
	if (r == -E2BIG) {
		eg_res_error(d, cur, NULL, NULL, "too large to store");
		r = -EINVAL;
	}
	if (r == 0)
		r = eg_store_write_generation(s, gen);
	if (r == 0)
		r = write_object(s, k, ns, name, &yaml, dir, sizeof(dir));
	if (r == 0)
		r = eg_store_fsync_dir(s, dir);
	if (r == 0)
		r = 1;
out_free:
	eg_buf_done(&yaml);
	eg_resource_free(next);
	eg_resource_free(cur);
out_unlock:
	eg_store_unlock(s);
	return r;
}

static int replace_status(struct eg_node *root, void *ctx)
{
	const struct eg_node *status = ctx;

	if (!status) {
		if (!eg_node_get(root, "status"))
			return 0;
		eg_node_map_del(root, "status");
		return 1;
	}
	return put(root, "status", eg_node_clone(status)) < 0 ? -ENOMEM : 1;
}

int eg_store_set_status(struct eg_store *s, const struct eg_kind *k, const char *ns,
			const char *name, const struct eg_node *status, struct eg_diag *d)
{
	return eg_store_modify(s, k, ns, name, replace_status, (void *)status, d);
}
