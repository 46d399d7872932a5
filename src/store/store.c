/* src/store/store.c: opening a store, locking, file I/O, reads and the change signal. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "core/str.h"
#include "store/store-int.h"

const char *const eg_store_initial_namespaces[] = { "default", "kube-system",
						    "aks-istio-system", NULL };

/* --- names and paths --- */

const char *eg_store_resource_name(const struct eg_kind *k, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", k->plural, k->group[0] ? "." : "", k->group);
	return buf;
}

int eg_store_obj_dir(const struct eg_kind *k, const char *ns, char *buf, size_t len)
{
	char res[256];
	int n;

	n = snprintf(buf, len, "objects/%s/%s", eg_store_resource_name(k, res, sizeof(res)),
		     k->namespaced ? ns : CLUSTER_NS_DIR);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int eg_store_obj_path(const struct eg_kind *k, const char *ns, const char *name, char *buf,
		      size_t len)
{
	char dir[STORE_PATH_MAX];
	int n;

	if (eg_store_obj_dir(k, ns, dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* A name that is safe as one path component: the model only lets DNS-1123 names in, and
 * this keeps a hand-edited store or a caller's typo from escaping the directory. */
static bool safe_component(const char *s)
{
	return s && *s && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && !strchr(s, '/') &&
	       strlen(s) <= 253;
}

int eg_store_default_dir(char *buf, size_t len)
{
	const char *home = getenv("HOME");
	int n;

	if (!home || !*home)
		return -ENOENT;
	n = snprintf(buf, len, "%s/.egressd/store", home);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int eg_store_parse_time(const char *s, int64_t *ret)
{
	struct tm tm = { 0 };
	const char *end;
	time_t t;

	if (!s)
		return -EINVAL;
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	if (*end == '.') /* fractional seconds: ignored */
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z") != 0)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret = (int64_t)t;
	return 0;
}

/* --- locking --- */

int eg_store_lock(struct eg_store *s, int how)
{
	while (flock(s->lockfd, how) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

void eg_store_unlock(struct eg_store *s)
{
	(void)flock(s->lockfd, LOCK_UN);
}

/* --- file I/O --- */

int eg_store_read_file(struct eg_store *s, const char *rel, struct eg_buf *out)
{
	return eg_file_read_at(s->dirfd, rel, EG_FILE_NOFOLLOW, EG_MODEL_MAX_FILE_BYTES, out);
}

int eg_store_read_object(struct eg_store *s, const char *rel, struct eg_resource **ret,
			 struct eg_diag *d)
{
	struct eg_buf b = EG_BUF_INIT(EG_MODEL_MAX_FILE_BYTES + 65536);
	struct eg_parse_opts po = { .default_ns = "default", .skip_rules = true };
	struct eg_resource_set tmp;
	char full[STORE_PATH_MAX + PATH_MAX];
	struct eg_pos at = { full, 0, 0 };
	int r;

	snprintf(full, sizeof(full), "%s/%s", s->dir, rel);
	r = eg_store_read_file(s, rel, &b);
	if (r == -ENOENT) {
		eg_buf_done(&b);
		return -ENOENT;
	}
	if (r < 0) {
		eg_diag_add(d, EG_DIAG_ERROR, &at, NULL, NULL, "cannot read stored object: %s",
			    strerror(-r));
		eg_buf_done(&b);
		return -EINVAL;
	}
	eg_resource_set_init(&tmp);
	r = eg_model_parse(full, eg_buf_cstr(&b), b.len, &po, &tmp, d);
	eg_buf_done(&b);
	if (r < 0) {
		eg_resource_set_done(&tmp);
		return r == -ENOMEM ? r : -EINVAL;
	}
	if (tmp.n != 1) {
		eg_diag_add(d, EG_DIAG_ERROR, &at, NULL, NULL,
			    "a stored object file must hold exactly one object, it holds %zu", tmp.n);
		eg_resource_set_done(&tmp);
		return -EINVAL;
	}
	*ret = tmp.v[0];
	free(tmp.v);
	return 0;
}

int eg_store_read_generation(struct eg_store *s, uint64_t *ret)
{
	struct eg_buf b = EG_BUF_INIT(64);
	struct eg_str t;
	int r = eg_store_read_file(s, GENERATION_FILE, &b);

	if (r == -ENOENT) {
		eg_buf_done(&b);
		*ret = 0;
		return 0;
	}
	if (r < 0) {
		eg_buf_done(&b);
		return r == -EFBIG ? -EBADMSG : r;
	}
	t = (struct eg_str){ b.data, b.len };
	while (t.len && (t.ptr[t.len - 1] == '\n' || t.ptr[t.len - 1] == ' '))
		t.len--;
	r = eg_parse_u64(t, UINT64_MAX / 2, ret);
	eg_buf_done(&b);
	return r < 0 ? -EBADMSG : 0;
}

int eg_store_fsync_dir(struct eg_store *s, const char *rel)
{
	return eg_file_fsync_dir_at(s->dirfd, rel);
}

int eg_store_write_file(struct eg_store *s, const char *rel, const char *data, size_t len)
{
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "tmp/%ld.%u", (long)getpid(), s->tmp_seq++);
	return eg_file_replace_at(s->dirfd, tmp, rel, data, len, STORE_FILE_MODE);
}

int eg_store_write_generation(struct eg_store *s, uint64_t gen)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)gen);
	int r = eg_store_write_file(s, GENERATION_FILE, text, (size_t)n);

	return r < 0 ? r : eg_store_fsync_dir(s, ".");
}

int eg_store_mkdirs(struct eg_store *s, const char *rel)
{
	return eg_file_mkdirs_synced_at(s->dirfd, rel, STORE_DIR_MODE);
}

void eg_store_clean_tmp(struct eg_store *s)
{
	/* a hand-cleaned store may have lost it: writes need it */
	if (mkdirat(s->dirfd, "tmp", STORE_DIR_MODE) == 0)
		(void)eg_store_fsync_dir(s, ".");
	(void)eg_file_clear_dir_at(s->dirfd, "tmp");
}

/* --- open / close --- */

/* Writes the initial objects of a fresh store; caller holds the exclusive lock. */
static int init_store(struct eg_store *s)
{
	struct eg_parse_opts po = { .default_ns = "default" };
	struct eg_resource_set set;
	struct eg_buf yaml = EG_BUF_INIT(4096);
	struct eg_diag d;
	int outcomes[8];
	int r;

	for (const char *const *ns = eg_store_initial_namespaces; *ns; ns++)
		(void)eg_buf_printf(&yaml, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n",
				    *ns);
	r = eg_store_mkdirs(s, "objects");
	if (r == 0)
		r = eg_store_mkdirs(s, "tmp");
	if (r < 0) {
		eg_buf_done(&yaml);
		return r;
	}
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	r = eg_model_parse("<initial namespaces>", eg_buf_cstr(&yaml), yaml.len, &po, &set, &d);
	if (r == 0)
		r = eg_store_apply_locked(s, &set, false, outcomes, &d);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	eg_buf_done(&yaml);
	return r < 0 ? r : 0;
}

static bool initialised(struct eg_store *s)
{
	return faccessat(s->dirfd, GENERATION_FILE, F_OK, 0) == 0;
}

int eg_store_open(const char *dir, unsigned flags, struct eg_store **ret_store)
{
	struct eg_store *s;
	int r;

	if (!dir || !*dir)
		return -EINVAL;
	if ((flags & EG_STORE_CREATE) && (r = eg_file_mkdir_p(dir, STORE_DIR_MODE, STORE_DIR_MODE)) < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lockfd = -1;
	s->dirfd = -1;
	s->dir = strdup(dir);
	if (!s->dir) {
		r = -ENOMEM;
		goto out_free;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = -errno;
		goto out_free;
	}
	s->lockfd = openat(s->dirfd, "lock",
			   O_RDONLY | O_CLOEXEC | ((flags & EG_STORE_CREATE) ? O_CREAT : 0),
			   STORE_FILE_MODE);
	if (s->lockfd < 0) {
		r = -errno;
		goto out_free;
	}
	if (!initialised(s)) {
		if (!(flags & EG_STORE_CREATE)) {
			r = -ENOENT;
			goto out_free;
		}
		r = eg_store_lock(s, LOCK_EX);
		if (r < 0)
			goto out_free;
		/* another process may have initialised it while we waited for the lock */
		if (!initialised(s))
			r = init_store(s);
		eg_store_unlock(s);
		if (r < 0)
			goto out_free;
	}
	*ret_store = s;
	return 0;
out_free:
	eg_store_close(s);
	return r;
}

struct eg_store *eg_store_close(struct eg_store *s)
{
	if (!s)
		return NULL;
	if (s->lockfd >= 0)
		(void)close(s->lockfd);
	if (s->dirfd >= 0)
		(void)close(s->dirfd);
	free(s->dir);
	free(s);
	return NULL;
}

const char *eg_store_dir(const struct eg_store *s)
{
	return s->dir;
}

/* --- change signal --- */

int eg_store_generation(const struct eg_store *s, uint64_t *ret_gen)
{
	/* no lock needed: the file is only ever replaced whole by rename(2) */
	return eg_store_read_generation((struct eg_store *)s, ret_gen);
}

int eg_store_watch_open(const struct eg_store *s)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (inotify_add_watch(fd, s->dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		int r = -errno;

		(void)close(fd);
		return r;
	}
	return fd;
}

int eg_store_watch_changed(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return changed;
		if (n < 0)
			return -errno;
		if (n == 0)
			return changed;
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ev = (const void *)(buf + off);

			if (ev->mask & IN_Q_OVERFLOW)
				changed = 1; /* events were lost: assume the worst */
			if (ev->len && strcmp(ev->name, GENERATION_FILE) == 0)
				changed = 1;
			off += (ssize_t)sizeof(*ev) + ev->len;
		}
	}
}

/* --- reads --- */

/* Loads every object file of objects/@res/@nsdir into @set; stray files are reported. */
static int load_ns_dir(struct eg_store *s, const char *res, const char *nsdir,
		       struct eg_resource_set *set, struct eg_diag *d)
{
	char rel[STORE_PATH_MAX], want[256];
	char **names = NULL;
	size_t n = 0;
	int r, ret = 0;

	snprintf(rel, sizeof(rel), "objects/%s/%s", res, nsdir);
	r = eg_file_list_at(s->dirfd, rel, &names, &n);
	if (r < 0)
		return r == -ENOENT || r == -ENOTDIR ? 0 : r;
	for (size_t i = 0; i < n && ret != -ENOMEM; i++) {
		struct eg_resource *obj = NULL;
		char path[STORE_PATH_MAX];
		bool ns_ok;

		if (snprintf(path, sizeof(path), "%s/%s", rel, names[i]) >= (int)sizeof(path))
			continue;
		r = eg_store_read_object(s, path, &obj, d);
		if (r < 0) {
			ret = r == -ENOMEM ? r : -EINVAL;
			continue;
		}
		/* a hand-edited or misplaced file must not shadow the real object */
		ns_ok = obj->kind->namespaced ? obj->ns && strcmp(obj->ns, nsdir) == 0
					      : strcmp(nsdir, CLUSTER_NS_DIR) == 0;
		if (strcmp(eg_store_resource_name(obj->kind, want, sizeof(want)), res) != 0 || !ns_ok ||
		    strcmp(obj->name, names[i]) != 0) {
			eg_res_error(d, obj, NULL, NULL,
				     "stored at %s/%s, which is not where this object belongs; ignoring it",
				     s->dir, path);
			eg_resource_free(obj);
			ret = -EINVAL;
			continue;
		}
		if (eg_resource_set_add(set, obj) < 0) {
			eg_resource_free(obj);
			ret = -ENOMEM;
		}
	}
	eg_file_names_free(names, n);
	return ret;
}

static int load_resource_dir(struct eg_store *s, const char *res, const char *only_ns,
			     struct eg_resource_set *set, struct eg_diag *d)
{
	char rel[STORE_PATH_MAX];
	char **names = NULL;
	size_t n = 0;
	int r, ret = 0;

	if (only_ns)
		return load_ns_dir(s, res, only_ns, set, d);
	snprintf(rel, sizeof(rel), "objects/%s", res);
	r = eg_file_list_at(s->dirfd, rel, &names, &n);
	if (r < 0)
		return r == -ENOENT || r == -ENOTDIR ? 0 : r;
	for (size_t i = 0; i < n; i++) {
		r = load_ns_dir(s, res, names[i], set, d);
		if (r < 0 && ret != -ENOMEM)
			ret = r;
	}
	eg_file_names_free(names, n);
	return ret;
}

int eg_store_load(struct eg_store *s, struct eg_resource_set *set, uint64_t *ret_gen,
		  struct eg_diag *d)
{
	char **names = NULL;
	size_t n = 0;
	int r, ret = 0;

	r = eg_store_lock(s, LOCK_SH);
	if (r < 0)
		return r;
	if (ret_gen && (r = eg_store_read_generation(s, ret_gen)) < 0)
		goto out_unlock;
	r = eg_file_list_at(s->dirfd, "objects", &names, &n);
	if (r == -ENOENT) {
		r = 0; /* nothing stored yet */
		goto out_unlock;
	}
	if (r < 0)
		goto out_unlock;
	for (size_t i = 0; i < n; i++) {
		int r2 = load_resource_dir(s, names[i], NULL, set, d);

		if (r2 < 0 && ret != -ENOMEM)
			ret = r2;
	}
	eg_file_names_free(names, n);
	r = ret;
out_unlock:
	eg_store_unlock(s);
	return r;
}

int eg_store_list(struct eg_store *s, const struct eg_kind *k, const char *ns,
		  struct eg_resource_set *set, struct eg_diag *d)
{
	char res[256];
	int r;

	if (k->namespaced && ns && !safe_component(ns))
		return 0;
	r = eg_store_lock(s, LOCK_SH);
	if (r < 0)
		return r;
	eg_store_resource_name(k, res, sizeof(res));
	r = load_resource_dir(s, res, k->namespaced ? ns : CLUSTER_NS_DIR, set, d);
	eg_store_unlock(s);
	return r;
}

int eg_store_get(struct eg_store *s, const struct eg_kind *k, const char *ns, const char *name,
		 struct eg_resource **ret, struct eg_diag *d)
{
	char rel[STORE_PATH_MAX];
	int r;

	if (!safe_component(name) || (k->namespaced && !safe_component(ns)))
		return -ENOENT;
	if (eg_store_obj_path(k, ns, name, rel, sizeof(rel)) < 0)
		return -ENOENT;
	r = eg_store_lock(s, LOCK_SH);
	if (r < 0)
		return r;
	r = eg_store_read_object(s, rel, ret, d);
	eg_store_unlock(s);
	return r;
}

int eg_store_namespace_exists(struct eg_store *s, const char *ns)
{
	const struct eg_kind *k = eg_kind_lookup("namespaces");
	char rel[STORE_PATH_MAX];

	if (!k || !safe_component(ns) || eg_store_obj_path(k, NULL, ns, rel, sizeof(rel)) < 0)
		return 0;
	if (faccessat(s->dirfd, rel, F_OK, 0) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}
