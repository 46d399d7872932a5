/* tests/unit/test_file.c: core/file.c: bounded whole-file reads (files, pipes, links,
 * devices), atomic replacement and its cleanup on failure, mkdir -p with modes, directory
 * fsync and sorted listings. */
#include "../../src/core/file.c"

#include <ftw.h>
#include <sys/stat.h>

#include "eg_test.h"

static char root[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

__attribute__((destructor)) static void rm_root(void)
{
	if (root[0])
		(void)nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ROOT/@name (a fresh per-run directory holds everything). */
static const char *at(const char *name)
{
	static char path[4][256];
	static unsigned next;
	char *p = path[next++ % 4];

	if (!root[0]) {
		memcpy(root, "/tmp/eg-test-file.XXXXXX", 25);
		if (!mkdtemp(root))
			EG_FAIL("mkdtemp: %s", strerror(errno));
	}
	snprintf(p, sizeof(path[0]), "%s/%s", root, name);
	return p;
}

static void put(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	EG_ASSERT(f != NULL);
	EG_ASSERT_EQ(fwrite(data, 1, len, f), len);
	EG_ASSERT_EQ(fclose(f), 0);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	EG_ASSERT_EQ(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Makes directory ROOT/@dir with the empty files @names (NULL-terminated); a name that
 * ends in '/' is a directory. */
static void make_tree(const char *dir, const char *const *names)
{
	char path[256];

	EG_ASSERT_EQ(eg_file_mkdir_p(at(dir), 0755, 0755), 0);
	for (; *names; names++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *names);
		if ((*names)[strlen(*names) - 1] == '/')
			EG_ASSERT_EQ(eg_file_mkdir_p(at(path), 0755, 0755), 0);
		else
			put(at(path), "", 0);
	}
}

/* --- reading --- */

/* Reads file @name holding @content into a buffer holding @prefix: it must hold @want. */
static void check_read(const char *name, const char *content, const char *prefix, const char *want)
{
	struct eg_buf b = EG_BUF_INIT(1024);

	put(at(name), content, strlen(content));
	if (*prefix)
		EG_ASSERT_EQ(eg_buf_puts(&b, prefix), 0);
	EG_ASSERT_EQ(eg_file_read_all(at(name), 100, &b), 0);
	EG_ASSERT_EQ(b.len, strlen(want));
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), want);
	eg_buf_done(&b);
}

EG_TEST(read_all_whole_files)
{
	check_read("small", "hello\n", "", "hello\n");
	check_read("tail", "world", "hello ", "hello world"); /* appended */
	check_read("empty", "", "", "");
}

EG_TEST(read_all_limit_is_inclusive)
{
	struct eg_buf b = EG_BUF_INIT(1024);

	put(at("ten"), "0123456789", 10);
	EG_ASSERT_EQ(eg_file_read_all(at("ten"), 10, &b), 0);
	EG_ASSERT_EQ(b.len, 10);
	eg_buf_done(&b);
	/* one byte over: refused before reading (the size is known) */
	EG_ASSERT_EQ(eg_file_read_all(at("ten"), 9, &b), -EFBIG);
	EG_ASSERT_EQ(b.len, 0);
	eg_buf_done(&b);
}

EG_TEST(read_all_buffer_max_is_a_limit_too)
{
	struct eg_buf b = EG_BUF_INIT(8);

	put(at("ten2"), "0123456789", 10);
	EG_ASSERT_EQ(eg_file_read_all(at("ten2"), 1000, &b), -EFBIG);
	eg_buf_done(&b);
	b = EG_BUF_INIT(10);
	EG_ASSERT_EQ(eg_file_read_all(at("ten2"), 1000, &b), 0);
	EG_ASSERT_STR_EQ(b.data, "0123456789");
	eg_buf_done(&b);
}

EG_TEST(read_all_large_file_in_several_reads)
{
	size_t n = 300 * 1000;
	char *data = malloc(n);
	struct eg_buf b = EG_BUF_INIT(1 << 20);

	EG_ASSERT(data != NULL);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	put(at("large"), data, n);
	EG_ASSERT_EQ(eg_file_read_all(at("large"), n, &b), 0);
	EG_ASSERT_EQ(b.len, n);
	EG_ASSERT(memcmp(b.data, data, n) == 0);
	EG_ASSERT_EQ(b.data[n], '\0');
	eg_buf_done(&b);
	free(data);
}

EG_TEST(read_all_of_a_regular_file_allocates_once)
{
	struct eg_buf b = EG_BUF_INIT(1 << 20);
	char data[5000];

	memset(data, 'k', sizeof(data));
	put(at("key"), data, sizeof(data));
	EG_ASSERT_EQ(eg_file_read_all(at("key"), sizeof(data), &b), 0);
	EG_ASSERT_EQ(b.len, sizeof(data));
	/* sized from fstat: no growth (a key's bytes are not copied by a realloc) */
	EG_ASSERT(b.cap <= 2 * (sizeof(data) + 2));
	eg_buf_done(&b);
}

EG_TEST(read_errors)
{
	struct eg_buf b = EG_BUF_INIT(1024);

	EG_ASSERT_EQ(eg_file_read_all(at("missing"), 100, &b), -ENOENT);
	EG_ASSERT_EQ(eg_file_read_all(at(""), 100, &b), -EISDIR);
	put(at("plain"), "x", 1);
	EG_ASSERT_EQ(eg_file_read_all(at("plain/below"), 100, &b), -ENOTDIR);
	EG_ASSERT_EQ(b.len, 0);
	eg_buf_done(&b);
}

EG_TEST(read_at_nofollow_and_regular)
{
	struct eg_buf b = EG_BUF_INIT(1024);
	int dfd;

	put(at("target"), "t", 1);
	EG_ASSERT_EQ(symlink(at("target"), at("link")), 0);
	dfd = open(at(""), O_RDONLY | O_DIRECTORY);
	EG_ASSERT(dfd >= 0);
	EG_ASSERT_EQ(eg_file_read_at(dfd, "link", EG_FILE_NOFOLLOW, 100, &b), -ELOOP);
	EG_ASSERT_EQ(eg_file_read_at(dfd, "link", 0, 100, &b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "t");
	eg_buf_done(&b);
	EG_ASSERT_EQ(eg_file_read_at(dfd, "target", EG_FILE_NOFOLLOW | EG_FILE_REGULAR, 100, &b),
	             0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "t");
	eg_buf_done(&b);
	(void)close(dfd);
	/* a device: refused with EG_FILE_REGULAR, read (empty) without */
	EG_ASSERT_EQ(eg_file_read_at(AT_FDCWD, "/dev/null", EG_FILE_REGULAR, 100, &b), -EINVAL);
	EG_ASSERT_EQ(eg_file_read_at(AT_FDCWD, "/dev/null", 0, 100, &b), 0);
	EG_ASSERT_EQ(b.len, 0);
	eg_buf_done(&b);
}

/* The read end of a pipe holding @data (its write end closed). */
static int pipe_of(const char *data)
{
	int p[2];

	EG_ASSERT_EQ(pipe(p), 0);
	EG_ASSERT_EQ(write(p[1], data, strlen(data)), (ssize_t)strlen(data));
	(void)close(p[1]);
	return p[0];
}

/* A pipe has no size: the limit is found while reading. */
EG_TEST(read_fd_pipe_limit)
{
	struct eg_buf b = EG_BUF_INIT(1 << 20);
	int fd = pipe_of("abcdefghij");

	/* over the limit: refused, the first bytes are kept */
	EG_ASSERT_EQ(eg_file_read_fd(fd, 4, &b), -EFBIG);
	EG_ASSERT_EQ(b.len, 4);
	EG_ASSERT_STR_EQ(b.data, "abcd");
	(void)close(fd);
	eg_buf_done(&b);
	/* exactly at it: fine */
	fd = pipe_of("abcd");
	EG_ASSERT_EQ(eg_file_read_fd(fd, 4, &b), 0);
	EG_ASSERT_STR_EQ(b.data, "abcd");
	(void)close(fd);
	eg_buf_done(&b);
}

EG_TEST(read_fd_error_is_returned)
{
	struct eg_buf b = EG_BUF_INIT(1024);
	int fd = open(at(""), O_RDONLY | O_DIRECTORY);

	EG_ASSERT(fd >= 0);
	EG_ASSERT_EQ(eg_file_read_fd(fd, 100, &b), -EISDIR);
	(void)close(fd);
	EG_ASSERT_EQ(eg_file_read_fd(-1, 100, &b), -EBADF);
	eg_buf_done(&b);
}

/* --- atomic replacement --- */

EG_TEST(write_atomic_creates_and_replaces_with_exact_mode)
{
	struct eg_buf b = EG_BUF_INIT(1024);
	mode_t old = umask(077);
	char leftover[256];

	EG_ASSERT_EQ(eg_file_mkdir_p(at("w"), 0755, 0755), 0);
	EG_ASSERT_EQ(eg_file_write_atomic(at("w"), "f", "one", 3, 0644), 0);
	EG_ASSERT_EQ(mode_of(at("w/f")), 0644); /* not 0600: the umask does not apply */
	/* a temp file left by a dead writer with our pid is not in the way */
	snprintf(leftover, sizeof(leftover), "%s/.f.tmp.%ld", at("w"), (long)getpid());
	put(leftover, "junk", 4);
	EG_ASSERT_EQ(eg_file_write_atomic(at("w"), "f", "second", 6, 0600), 0);
	umask(old);
	EG_ASSERT_EQ(mode_of(at("w/f")), 0600);
	EG_ASSERT(!exists(leftover));
	EG_ASSERT_EQ(eg_file_read_all(at("w/f"), 100, &b), 0);
	EG_ASSERT_STR_EQ(b.data, "second");
	eg_buf_done(&b);
	EG_ASSERT_EQ(eg_file_fsync_dir(at("w")), 0);
}

EG_TEST(write_atomic_errors_leave_nothing)
{
	char longname[300];

	EG_ASSERT_EQ(eg_file_write_atomic(at("nodir"), "f", "x", 1, 0644), -ENOENT);
	EG_ASSERT(!exists(at("nodir")));
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	EG_ASSERT_EQ(eg_file_write_atomic(at(""), longname, "x", 1, 0644), -ENAMETOOLONG);
	/* the target is a non-empty directory: the rename fails, the temp file goes */
	EG_ASSERT_EQ(eg_file_mkdir_p(at("busy/inside"), 0755, 0755), 0);
	EG_ASSERT(eg_file_write_atomic(at(""), "busy", "x", 1, 0644) < 0);
	{
		char tmp[256];

		snprintf(tmp, sizeof(tmp), "%s/.busy.tmp.%ld", at(""), (long)getpid());
		EG_ASSERT(!exists(tmp));
	}
	EG_ASSERT(exists(at("busy/inside")));
}

EG_TEST(replace_at_uses_the_given_temp_name)
{
	struct eg_buf b = EG_BUF_INIT(1024);
	mode_t old = umask(022);
	int dfd;

	EG_ASSERT_EQ(eg_file_mkdir_p(at("r/tmp"), 0755, 0755), 0);
	dfd = open(at("r"), O_RDONLY | O_DIRECTORY);
	EG_ASSERT(dfd >= 0);
	EG_ASSERT_EQ(eg_file_replace_at(dfd, "tmp/1", "data", "v1", 2, 0666), 0);
	EG_ASSERT_EQ(mode_of(at("r/data")), 0644); /* the umask applies here */
	EG_ASSERT(!exists(at("r/tmp/1")));
	/* a temp name in use: refused, the file keeps its content, the other's temp stays */
	put(at("r/tmp/2"), "other", 5);
	EG_ASSERT_EQ(eg_file_replace_at(dfd, "tmp/2", "data", "v2", 2, 0644), -EEXIST);
	EG_ASSERT(exists(at("r/tmp/2")));
	EG_ASSERT_EQ(eg_file_read_all(at("r/data"), 100, &b), 0);
	EG_ASSERT_STR_EQ(b.data, "v1");
	eg_buf_done(&b);
	/* a rename that fails removes the temp file */
	EG_ASSERT_EQ(eg_file_replace_at(dfd, "tmp/3", "missing/data", "v3", 2, 0644), -ENOENT);
	EG_ASSERT(!exists(at("r/tmp/3")));
	EG_ASSERT_EQ(eg_file_fsync_dir_at(dfd, "."), 0);
	EG_ASSERT_EQ(eg_file_fsync_dir_at(dfd, "data"), -ENOTDIR);
	EG_ASSERT_EQ(eg_file_fsync_dir_at(dfd, "nothing"), -ENOENT);
	(void)close(dfd);
	umask(old);
}

/* --- directories --- */

EG_TEST(mkdir_p_modes)
{
	mode_t old = umask(0);

	EG_ASSERT_EQ(eg_file_mkdir_p(at("m/a/b"), 0751, 0700), 0);
	EG_ASSERT_EQ(mode_of(at("m")), 0751);
	EG_ASSERT_EQ(mode_of(at("m/a")), 0751);
	EG_ASSERT_EQ(mode_of(at("m/a/b")), 0700);
	/* existing directories are fine and keep their mode */
	EG_ASSERT_EQ(eg_file_mkdir_p(at("m/a/b"), 0755, 0755), 0);
	EG_ASSERT_EQ(mode_of(at("m/a/b")), 0700);
	EG_ASSERT_EQ(eg_file_mkdir_p(at("m/a/c/"), 0755, 0700), 0);
	EG_ASSERT(exists(at("m/a/c")));
	umask(old);
}

EG_TEST(mkdir_p_errors)
{
	char longpath[PATH_MAX + 10];

	EG_ASSERT_EQ(eg_file_mkdir_p("", 0755, 0755), -ENOENT);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	EG_ASSERT_EQ(eg_file_mkdir_p(longpath, 0755, 0755), -ENAMETOOLONG);
	put(at("afile"), "x", 1);
	EG_ASSERT_EQ(eg_file_mkdir_p(at("afile/sub"), 0755, 0755), -ENOTDIR);
}

EG_TEST(mkdirs_synced_at_below_a_directory_fd)
{
	int dfd;

	EG_ASSERT_EQ(eg_file_mkdir_p(at("s"), 0755, 0755), 0);
	dfd = open(at("s"), O_RDONLY | O_DIRECTORY);
	EG_ASSERT(dfd >= 0);
	EG_ASSERT_EQ(eg_file_mkdirs_synced_at(dfd, "x/y/z", 0755), 0);
	EG_ASSERT(exists(at("s/x/y/z")));
	EG_ASSERT_EQ(eg_file_mkdirs_synced_at(dfd, "x/y/z", 0755), 0);
	EG_ASSERT_EQ(eg_file_mkdirs_synced_at(dfd, "top", 0755), 0);
	EG_ASSERT(exists(at("s/top")));
	put(at("s/file"), "x", 1);
	EG_ASSERT_EQ(eg_file_mkdirs_synced_at(dfd, "file/below", 0755), -ENOTDIR);
	(void)close(dfd);
}

EG_TEST(list_at_sorted_without_dot_entries)
{
	char **names = NULL;
	size_t n = 99;

	make_tree("l", (const char *const[]){"b", "a", ".hidden", "c/", "B", NULL});
	EG_ASSERT_EQ(eg_file_list_at(AT_FDCWD, at("l"), &names, &n), 0);
	EG_ASSERT_EQ(n, 4);
	EG_ASSERT_STR_EQ(names[0], "B");
	EG_ASSERT_STR_EQ(names[1], "a");
	EG_ASSERT_STR_EQ(names[2], "b");
	EG_ASSERT_STR_EQ(names[3], "c");
	eg_file_names_free(names, n);
}

EG_TEST(list_at_empty_and_errors)
{
	char **names = NULL;
	size_t n = 99;

	EG_ASSERT_EQ(eg_file_mkdir_p(at("le"), 0755, 0755), 0);
	EG_ASSERT_EQ(eg_file_list_at(AT_FDCWD, at("le"), &names, &n), 0);
	EG_ASSERT_EQ(n, 0);
	eg_file_names_free(names, n);
	names = NULL;
	n = 99;
	EG_ASSERT_EQ(eg_file_list_at(AT_FDCWD, at("le/none"), &names, &n), -ENOENT);
	put(at("le/f"), "", 0);
	EG_ASSERT_EQ(eg_file_list_at(AT_FDCWD, at("le/f"), &names, &n), -ENOTDIR);
	EG_ASSERT(names == NULL);
	EG_ASSERT_EQ(n, 99);
}

EG_TEST(clear_dir_at_removes_all_but_dot_entries)
{
	char **names = NULL;
	size_t n = 0;

	make_tree("c", (const char *const[]){"one", "two", ".keep", NULL});
	EG_ASSERT_EQ(eg_file_clear_dir_at(AT_FDCWD, at("c")), 0);
	EG_ASSERT(exists(at("c/.keep")));
	EG_ASSERT_EQ(eg_file_list_at(AT_FDCWD, at("c"), &names, &n), 0);
	EG_ASSERT_EQ(n, 0);
	eg_file_names_free(names, n);
	/* an empty directory is fine; a missing one or a file is the open's error */
	EG_ASSERT_EQ(eg_file_clear_dir_at(AT_FDCWD, at("c")), 0);
	EG_ASSERT_EQ(eg_file_clear_dir_at(AT_FDCWD, at("c/none")), -ENOENT);
	EG_ASSERT_EQ(eg_file_clear_dir_at(AT_FDCWD, at("c/.keep")), -ENOTDIR);
}

EG_TEST(clear_dir_at_goes_on_past_a_failure)
{
	make_tree("cf", (const char *const[]){"a-subdir/", "b-file", "0-file", NULL});
	/* the subdirectory cannot be unlinked: reported, the files still go */
	EG_ASSERT_EQ(eg_file_clear_dir_at(AT_FDCWD, at("cf")), -EISDIR);
	EG_ASSERT(!exists(at("cf/b-file")));
	EG_ASSERT(!exists(at("cf/0-file")));
	EG_ASSERT(exists(at("cf/a-subdir")));
}
