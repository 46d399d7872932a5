/* src/store/store-int.h: what store.c and write.c share (private to src/store). */
#ifndef EG_STORE_STORE_INT_H
#define EG_STORE_STORE_INT_H

#include <limits.h>

#include "core/buf.h"
#include "store/store.h"

struct eg_store {
	char *dir;  /* as given to eg_store_open (owned) */
	int dirfd;  /* the store directory; every path below is relative to it */
	int lockfd; /* DIR/lock, opened read-only (so closing it is no IN_CLOSE_WRITE) */
	unsigned tmp_seq;
};

#define STORE_PATH_MAX   1024
#define CLUSTER_NS_DIR   "_cluster"
#define GENERATION_FILE  "generation"
#define STORE_FILE_MODE  0644
#define STORE_DIR_MODE   0755

/* flock(2) on DIR/lock; LOCK_SH or LOCK_EX. 0 or -errno. */
int eg_store_lock(struct eg_store *s, int how);
void eg_store_unlock(struct eg_store *s);

/* "objects/<resource>/<ns or _cluster>" and ".../<name>". 0 or -ENAMETOOLONG. */
int eg_store_obj_dir(const struct eg_kind *k, const char *ns, char *buf, size_t len);
int eg_store_obj_path(const struct eg_kind *k, const char *ns, const char *name, char *buf,
		      size_t len);

/* Reads a file of the store (at most the model's input limit). 0, -ENOENT, -EFBIG, -errno. */
int eg_store_read_file(struct eg_store *s, const char *rel, struct eg_buf *out);
/* Reads and parses one stored object at @rel; 0, -ENOENT, -EINVAL (reported), -errno. */
int eg_store_read_object(struct eg_store *s, const char *rel, struct eg_resource **ret,
			 struct eg_diag *d);
/* Generation under the lock the caller holds (0 when the file does not exist yet). */
int eg_store_read_generation(struct eg_store *s, uint64_t *ret);

/* Writes @len bytes to @rel atomically (temp file in DIR/tmp, fsync, rename). The caller
 * fsyncs the directory of @rel afterwards (eg_store_fsync_dir). 0 or -errno. */
int eg_store_write_file(struct eg_store *s, const char *rel, const char *data, size_t len);
int eg_store_write_generation(struct eg_store *s, uint64_t gen);
int eg_store_fsync_dir(struct eg_store *s, const char *rel);
/* mkdir -p of @rel below DIR, fsyncing the parent of each directory it creates. */
int eg_store_mkdirs(struct eg_store *s, const char *rel);
/* Removes stale temp files (a writer crashed); caller holds the exclusive lock. */
void eg_store_clean_tmp(struct eg_store *s);

/* eg_store_apply with the exclusive lock held; @record: keep the last-applied annotation
 * (false for the objects the store creates itself). */
int eg_store_apply_locked(struct eg_store *s, const struct eg_resource_set *set, bool record,
			  int *ret_outcomes, struct eg_diag *d);

#endif /* EG_STORE_STORE_INT_H */
