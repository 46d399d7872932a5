/* src/ctl/input.c: reading resource files, directories and stdin. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
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

static int parse_one(const char *path, int fd, const struct eg_parse_opts *opts,
		     struct eg_resource_set *set, struct eg_diag *d)
{
	struct eg_buf b = EG_BUF_INIT(EG_MODEL_MAX_FILE_BYTES + 1);
	/* one byte more than the model takes: it reports the size with its own message */
	int r = eg_file_read_fd(fd, EG_MODEL_MAX_FILE_BYTES + 1, &b);

	if (r < 0 && r != -EFBIG) {
		struct eg_pos p = { path, 0, 0 };

		eg_diag_add(d, EG_DIAG_ERROR, &p, NULL, NULL, "cannot read: %s", strerror(-r));
		eg_buf_done(&b);
		return -EINVAL;
	}
	r = eg_model_parse(path, eg_buf_cstr(&b), b.len, opts, set, d);
	eg_buf_done(&b);
	return r;
}

/* Opens and parses one file, or reports why it cannot be opened. */
static int parse_file(const char *path, const struct eg_parse_opts *opts,
		      struct eg_resource_set *set, struct eg_diag *d)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		struct eg_pos p = { path, 0, 0 };

		eg_diag_add(d, EG_DIAG_ERROR, &p, NULL, NULL, "cannot open: %s", strerror(errno));
		return -EINVAL;
	}
	r = parse_one(path, fd, opts, set, d);
	close(fd);
	return r;
}

bool eg_ctl_yaml_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && ((l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
			       (l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
			       (l > 5 && strcmp(n + l - 5, ".json") == 0));
}

static int parse_dir(const char *path, const struct eg_parse_opts *opts,
		     struct eg_resource_set *set, struct eg_diag *d)
{
	char **names = NULL;
	size_t n = 0;
	int ret = eg_file_list_at(AT_FDCWD, path, &names, &n);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n && ret != -ENOMEM; i++) {
		size_t len = strlen(path) + strlen(names[i]) + 2;
		char *file;
		int r;

		if (!eg_ctl_yaml_name(names[i]))
			continue;
		file = malloc(len);
		if (!file) {
			ret = -ENOMEM;
			break;
		}
		snprintf(file, len, "%s/%s", path, names[i]);
		r = parse_file(file, opts, set, d);
		if (r < 0)
			ret = r;
		free(file);
	}
	eg_file_names_free(names, n);
	return ret;
}

int eg_ctl_read_inputs(const char *const *paths, size_t npaths, const struct eg_parse_opts *opts,
		       struct eg_resource_set *set, struct eg_diag *d)
{
	int ret = 0;

	for (size_t i = 0; i < npaths; i++) {
		const char *path = paths[i];
		struct stat st;
		int r;

		if (strcmp(path, "-") == 0)
			r = parse_one("<stdin>", STDIN_FILENO, opts, set, d);
		else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			r = parse_dir(path, opts, set, d);
		else
			r = parse_file(path, opts, set, d);
		if (r < 0)
			ret = r;
	}
	return ret;
}

int eg_ctl_files_add(struct eg_ctl_files *f, const char *path)
{
	if (f->n == EG_CTL_MAX_FILES) {
		eg_ctl_err("too many -f arguments (at most %d)", EG_CTL_MAX_FILES);
		return -E2BIG;
	}
	f->v[f->n++] = path;
	return 0;
}

int eg_ctl_input_option(int c, const char *arg, struct eg_ctl_files *f,
			struct eg_parse_opts *po)
{
	switch (c) {
	case 'f':
		return eg_ctl_files_add(f, arg) < 0 ? -1 : 1;
	case 'n':
		po->default_ns = arg;
		po->force_ns = true;
		return 1;
	default:
		return 0;
	}
}

int eg_ctl_files_read(const struct eg_ctl_files *f, const struct eg_parse_opts *opts,
		      struct eg_resource_set *set)
{
	struct eg_diag d;
	int r;

	eg_diag_init(&d);
	r = eg_ctl_read_inputs(f->v, f->n, opts, set, &d);
	fputs(eg_diag_text(&d), stderr);
	eg_diag_done(&d);
	return r;
}
