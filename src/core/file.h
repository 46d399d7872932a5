/* src/core/file.h: whole-file reads with a size limit, atomic replacement of a file, and
 * the directory chores around them (mkdir -p, fsync of a directory, sorted listings), for
 * the modules that keep state on disk (store, tls, dns, ctl).
 * May include: core.
 *
 * Functions named _at take a directory fd and a path relative to it, like openat(2);
 * AT_FDCWD works as usual. None of them prints. */
#ifndef EG_CORE_FILE_H
#define EG_CORE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"

/* Flags of eg_file_read_at(). */
enum {
	EG_FILE_NOFOLLOW = 1 << 0, /* a symbolic link as the last component is -ELOOP */
	EG_FILE_REGULAR = 1 << 1,  /* anything but a regular file is -EINVAL */
};

/* Appends what @fd holds, up to its end, to @out. The limit is @max bytes or what @out can
 * still take, whichever is smaller: past it the result is -EFBIG and @out holds exactly
 * the first limit bytes. @out stays NUL-terminated. 0, -EFBIG, -ENOMEM, -errno of read. */
int eg_file_read_fd(int fd, size_t max, struct eg_buf *out);

/* Opens @path (relative to @dirfd) read-only and appends all of it to @out, as
 * eg_file_read_fd() with @max. A regular file already larger than the limit when opened is
 * -EFBIG without being read; a directory is -EISDIR. @flags: EG_FILE_*. 0, -ENOENT,
 * -EFBIG, -EISDIR, -EINVAL (EG_FILE_REGULAR), -ENOMEM, -errno. */
int eg_file_read_at(int dirfd, const char *path, unsigned flags, size_t max, struct eg_buf *out);
/* eg_file_read_at(AT_FDCWD, @path, 0, @max, @out). */
int eg_file_read_all(const char *path, size_t max, struct eg_buf *out);

/* Replaces @path with @len bytes of @data: writes them to @tmp (created, it must not
 * exist, with @mode as open(2) takes it: the umask applies), fsyncs it and renames it over
 * @path, both relative to @dirfd. On failure @tmp is gone and @path is as it was. The
 * directory is not synced: call eg_file_fsync_dir_at() once the batch is in place.
 * 0 or -errno. */
int eg_file_replace_at(int dirfd, const char *tmp, const char *path, const void *data, size_t len,
                       mode_t mode);
/* Replaces DIR/NAME with @len bytes of @data through DIR/.NAME.tmp.PID (a leftover of that
 * name is removed first), with exactly @mode whatever the umask. The directory is not
 * synced (eg_file_fsync_dir()). 0, -ENAMETOOLONG or -errno. */
int eg_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                         mode_t mode);

/* fsync(2) of directory @path (relative to @dirfd): makes the entries created, renamed or
 * removed in it durable. 0 or -errno. */
int eg_file_fsync_dir_at(int dirfd, const char *path);
int eg_file_fsync_dir(const char *path);

/* mkdir -p of @path: missing parents get @parent_mode, the last component @mode (either
 * may exist already). Nothing is synced. 0, -ENAMETOOLONG, -ENOENT (empty) or -errno. */
int eg_file_mkdir_p(const char *path, mode_t parent_mode, mode_t mode);
/* mkdir -p of @path (relative to @dirfd) with @mode, fsyncing the parent of each directory
 * it creates, so that the new entries survive a crash. 0, -ENAMETOOLONG or -errno. */
int eg_file_mkdirs_synced_at(int dirfd, const char *path, mode_t mode);

/* The entry names of directory @path (relative to @dirfd), sorted with strcmp, leaving out
 * those that start with a dot. The caller frees them with eg_file_names_free(). 0, -ENOENT,
 * -ENOTDIR, -ENOMEM or -errno; nothing is returned on failure. */
int eg_file_list_at(int dirfd, const char *path, char ***ret_names, size_t *ret_n);
void eg_file_names_free(char **names, size_t n);
/* Unlinks every entry of directory @path (relative to @dirfd) whose name does not start
 * with a dot; they must not be directories. Goes on past a failure. 0, -errno of opening
 * the directory, or of the last unlink that failed (an entry already gone is none). */
int eg_file_clear_dir_at(int dirfd, const char *path);

#endif /* EG_CORE_FILE_H */
