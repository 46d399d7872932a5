/* src/core/file.c: whole-file reads with a size limit, atomic replacement, directories. */
#include "core/compiler.h"
#include "core/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)65536)

/* --- reading --- */

/* At the limit: one more byte means the file is too big. */
static int probe_end(int fd)
{
	char probe;
	ssize_t n;

	do
		n = read(fd, &probe, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n > 0 ? -EFBIG : 0;
}

static size_t read_limit(size_t max, const struct eg_buf *out)
{
	return EG_MIN(max, out->max - out->len);
}

int eg_file_read_fd(int fd, size_t max, struct eg_buf *out)
{
	size_t limit = read_limit(max, out), got = 0;

	for (;;) {
		size_t want = limit - got, space;
		ssize_t n;

		if (want == 0)
			return probe_end(fd);
		/* grow only when the buffer is full: a caller that reserved the file's size up
		 * front (eg_file_read_at) gets no realloc, so no stray copy of a key is left
		 * behind in freed memory */
		space = out->cap ? out->cap - out->len - 1 : 0;
		if (space == 0) {
			int r = eg_buf_reserve(out, EG_MIN(want, READ_CHUNK));

			if (r < 0)
				return r;
			out->data[out->len] = '\0'; /* a first allocation holds garbage */
			space = out->cap - out->len - 1;
		}
		n = read(fd, out->data + out->len, EG_MIN(space, want));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		got += (size_t)n;
	}
}

int eg_file_read_at(int dirfd, const char *path, unsigned flags, size_t max, struct eg_buf *out)
{
	int oflags = O_RDONLY | O_CLOEXEC | ((flags & EG_FILE_NOFOLLOW) ? O_NOFOLLOW : 0);
	size_t limit = read_limit(max, out);
	struct stat st;
	int fd, r;

	fd = openat(dirfd, path, oflags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out_close;
	}
	if ((flags & EG_FILE_REGULAR) && !S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out_close;
	}
	if (S_ISREG(st.st_mode)) {
		if ((uintmax_t)st.st_size > limit) {
			r = -EFBIG;
			goto out_close;
		}
		/* room for the whole file and the read that sees its end */
		r = eg_buf_reserve(out, EG_MIN((size_t)st.st_size + 1, limit));
		if (r < 0)
			goto out_close;
		out->data[out->len] = '\0'; /* a first allocation holds garbage */
	}
	r = eg_file_read_fd(fd, max, out);
out_close:
	(void)close(fd);
	return r;
}

int eg_file_read_all(const char *path, size_t max, struct eg_buf *out)
{
	return eg_file_read_at(AT_FDCWD, path, 0, max, out);
}

/* --- atomic replacement --- */

static int replace(int dirfd, const char *tmp, const char *path, const void *data, size_t len,
                   mode_t mode, bool exact_mode)
{
	const char *p = data;
	size_t off = 0;
	int fd, r;

	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (exact_mode && fchmod(fd, mode) < 0) {
		r = -errno;
		goto out_unlink;
	}
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out_unlink;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto out_unlink;
	}
	r = close(fd);
	fd = -1;
	if (r < 0 || renameat(dirfd, tmp, dirfd, path) < 0) {
		r = -errno;
		goto out_unlink;
	}
	return 0;
out_unlink:
	if (fd >= 0)
		(void)close(fd);
	(void)unlinkat(dirfd, tmp, 0);
	return r;
}

int eg_file_replace_at(int dirfd, const char *tmp, const char *path, const void *data, size_t len,
                       mode_t mode)
{
	return replace(dirfd, tmp, path, data, len, mode, false);
}

static int join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int eg_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                         mode_t mode)
{
	char path[PATH_MAX], tmp[PATH_MAX], tname[NAME_MAX + 1];
	int r;

	if (snprintf(tname, sizeof(tname), ".%s.tmp.%ld", name, (long)getpid()) >=
	    (int)sizeof(tname))
		return -ENAMETOOLONG;
	r = join(path, sizeof(path), dir, name);
	if (r < 0)
		return r;
	r = join(tmp, sizeof(tmp), dir, tname);
	if (r < 0)
		return r;
	(void)unlink(tmp); /* a leftover of a writer that died with our pid */
	return replace(AT_FDCWD, tmp, path, data, len, mode, true);
}

/* --- directories --- */

int eg_file_fsync_dir_at(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

int eg_file_fsync_dir(const char *path)
{
	return eg_file_fsync_dir_at(AT_FDCWD, path);
}

/* fsync of the directory holding @path (which has no trailing slash). */
static int sync_parent(int dirfd, char *path)
{
	char *slash = strrchr(path, '/');
	int r;

	if (!slash)
		return eg_file_fsync_dir_at(dirfd, ".");
	*slash = '\0';
	r = eg_file_fsync_dir_at(dirfd, path);
	*slash = '/';
	return r;
}

static int make_dirs(int dirfd, const char *path, mode_t parent_mode, mode_t mode, bool sync)
{
	char p[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, path, n + 1);
	/* from 1: a leading slash is the root, not a directory to make */
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdirat(dirfd, p, i == n ? mode : parent_mode) == 0) {
			/* a new directory entry is durable only once its parent is synced */
			int r = sync ? sync_parent(dirfd, p) : 0;

			if (r < 0)
				return r;
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (i < n)
			p[i] = '/';
	}
	return 0;
}

int eg_file_mkdir_p(const char *path, mode_t parent_mode, mode_t mode)
{
	if (!*path)
		return -ENOENT;
	return make_dirs(AT_FDCWD, path, parent_mode, mode, false);
}

int eg_file_mkdirs_synced_at(int dirfd, const char *path, mode_t mode)
{
	return make_dirs(dirfd, path, mode, mode, true);
}

void eg_file_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* opendir(3) of @path relative to @dirfd. Its fd (>= 0, owned by *@ret) or -errno. */
static int open_dir_at(int dirfd, const char *path, DIR **ret)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	*ret = fdopendir(fd);
	if (!*ret) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	return fd;
}

int eg_file_list_at(int dirfd, const char *path, char ***ret_names, size_t *ret_n)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *dir;
	int r = open_dir_at(dirfd, path, &dir);

	if (r < 0)
		return r;
	r = 0;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*nn));

			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
		}
		names[n] = strdup(e->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(dir);
	if (r < 0) {
		eg_file_names_free(names, n);
		return r;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	*ret_names = names;
	*ret_n = n;
	return 0;
}

int eg_file_clear_dir_at(int dirfd, const char *path)
{
	struct dirent *e;
	DIR *dir;
	int fd = open_dir_at(dirfd, path, &dir), r = 0;

	if (fd < 0)
		return fd;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.' && unlinkat(fd, e->d_name, 0) < 0 && errno != ENOENT)
			r = -errno;
	closedir(dir);
	return r;
}
