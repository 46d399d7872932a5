/* src/ctl/input.c: reading resource files, directories and stdin. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "ctl/ctl.h"

void eg_ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("egressctl: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Reads all of @fd, refusing more than the model's limit (plus one byte, so the model
 * reports the size with its own message). */
static int read_all(int fd, struct eg_buf *b)
{
	for (;;) {
		ssize_t n;

		if (eg_buf_reserve(b, 65536) < 0) {
			/* over the limit: keep what we have, the model reports the size */
			return b->len > EG_MODEL_MAX_FILE_BYTES ? 0 : -ENOMEM;
		}
		n = read(fd, b->data + b->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
	}
}

static int parse_one(const char *path, int fd, const struct eg_parse_opts *opts,
		     struct eg_resource_set *set, struct eg_diag *d)
{
	struct eg_buf b = EG_BUF_INIT(EG_MODEL_MAX_FILE_BYTES + 65536);
	int r = read_all(fd, &b);

	if (r < 0) {
		struct eg_pos p = { path, 0, 0 };

		eg_diag_add(d, EG_DIAG_ERROR, &p, NULL, NULL, "cannot read: %s", strerror(-r));
		eg_buf_done(&b);
		return -EINVAL;
	}
	r = eg_model_parse(path, eg_buf_cstr(&b), b.len, opts, set, d);
	eg_buf_done(&b);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool yaml_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && ((l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
			       (l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
			       (l > 5 && strcmp(n + l - 5, ".json") == 0));
}

static int parse_dir(const char *path, const struct eg_parse_opts *opts,
		     struct eg_resource_set *set, struct eg_diag *d)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		if (!yaml_name(e->d_name))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*nn));

			if (!nn) {
				ret = -ENOMEM;
				break;
			}
			names = nn;
		}
		if (!(names[n] = malloc(strlen(path) + strlen(e->d_name) + 2))) {
			ret = -ENOMEM;
			break;
		}
		snprintf(names[n], strlen(path) + strlen(e->d_name) + 2, "%s/%s", path, e->d_name);
		n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && ret != -ENOMEM; i++) {
		int fd = open(names[i], O_RDONLY | O_CLOEXEC);
		int r;

		if (fd < 0) {
			struct eg_pos p = { names[i], 0, 0 };

			eg_diag_add(d, EG_DIAG_ERROR, &p, NULL, NULL, "cannot open: %s", strerror(errno));
			ret = -EINVAL;
			continue;
		}
		r = parse_one(names[i], fd, opts, set, d);
		close(fd);
		if (r < 0)
			ret = r;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

int eg_ctl_read_inputs(const char *const *paths, size_t npaths, const struct eg_parse_opts *opts,
		       struct eg_resource_set *set, struct eg_diag *d)
{
	int ret = 0;

	for (size_t i = 0; i < npaths; i++) {
		const char *path = paths[i];
		struct stat st;
		int r, fd;

		if (strcmp(path, "-") == 0) {
			r = parse_one("<stdin>", STDIN_FILENO, opts, set, d);
		} else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			r = parse_dir(path, opts, set, d);
		} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			struct eg_pos p = { path, 0, 0 };

			eg_diag_add(d, EG_DIAG_ERROR, &p, NULL, NULL, "cannot open: %s", strerror(errno));
			r = -EINVAL;
		} else {
			r = parse_one(path, fd, opts, set, d);
			close(fd);
		}
		if (r < 0)
			ret = r;
	}
	return ret;
}
