/* src/store/store.h: the resource store: a directory of objects, the local cluster's state.
 * May include: core, model.
 *
 * Layout (docs/reference/store.md has the full contract):
 *   DIR/lock                                 flock(2): shared to read, exclusive to write
 *   DIR/generation                           decimal counter + '\n', replaced by rename(2)
 *                                            on every change (the change signal)
 *   DIR/objects/<resource>/<ns>/<name>       one object as YAML, with its server fields
 *   DIR/tmp/                                 temporary files of the writer holding the lock
 * <resource> is the kind's plural, qualified by its group for non-core kinds
 * ("services", "serviceentries.networking.istio.io"); <ns> is "_cluster" for
 * cluster-scoped kinds.
 *
 * Every write is: temp file, fsync, rename, fsync of the directory, under the exclusive
 * lock. A crash leaves each object either old or new, never torn.
 *
 * Watching (egressd, the local-cluster supervisor): either
 *   fd = eg_store_watch_open(store); poll fd for POLLIN; eg_store_watch_changed(fd) > 0
 * or poll eg_store_generation() now and then. After a change, eg_store_load() again:
 * it returns the objects and the generation they belong to, read under one shared lock. */
#ifndef EG_STORE_STORE_H
#define EG_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

struct eg_store; /* owned by this module: reach it only through the functions below */

enum {
	/* create DIR (and a fresh store in it) when it does not exist yet */
	EG_STORE_CREATE = 1 << 0,
};

/* The namespaces a fresh store holds (a cluster with the Istio add-on installed),
 * NULL-terminated. */
extern const char *const eg_store_initial_namespaces[];

/* Writes "$HOME/.egressd/store" to @buf. 0, -ENOENT (no $HOME) or -ENAMETOOLONG. */
int eg_store_default_dir(char *buf, size_t len);

/* Opens the store in @dir. With EG_STORE_CREATE a missing directory is created and
 * initialised (namespaces default, kube-system, aks-istio-system); without it a missing
 * or uninitialised store is -ENOENT. Opening never writes without EG_STORE_CREATE.
 * 0 and *ret_store, or -errno. */
int eg_store_open(const char *dir, unsigned flags, struct eg_store **ret_store);
/* NULL in, NULL out. */
struct eg_store *eg_store_close(struct eg_store *s);
const char *eg_store_dir(const struct eg_store *s);

/* --- change signal --- */

/* Reads DIR/generation without locking (it is replaced atomically). It grows on every
 * change: it is the highest resourceVersion handed out so far. 0 or -errno. */
int eg_store_generation(const struct eg_store *s, uint64_t *ret_gen);
/* An inotify descriptor (non-blocking, close-on-exec) watching DIR; it becomes readable
 * when DIR/generation is replaced. The caller owns and closes it. fd >= 0 or -errno. */
int eg_store_watch_open(const struct eg_store *s);
/* Drains @fd. 1 when the generation file was replaced since the last call, 0 when only
 * unrelated events (or none) were pending, -errno. */
int eg_store_watch_changed(int fd);

/* --- reads (under the shared lock) --- */

/* Appends every object of the store to @set and sets *ret_gen (may be NULL) to the
 * generation they belong to. Objects are checked against their kind's schema (the
 * webhook rules ran when they were written). An object that no longer parses is
 * reported in @d and left out: then -EINVAL, the rest is in @set. 0 or -errno. */
int eg_store_load(struct eg_store *s, struct eg_resource_set *set, uint64_t *ret_gen,
		  struct eg_diag *d);
/* Like eg_store_load for one kind (@k) and one namespace (@ns; NULL = every namespace;
 * ignored for cluster-scoped kinds). */
int eg_store_list(struct eg_store *s, const struct eg_kind *k, const char *ns,
		  struct eg_resource_set *set, struct eg_diag *d);
/* One object. 0 and *ret (the caller frees it), -ENOENT, -EINVAL (reported) or -errno. */
int eg_store_get(struct eg_store *s, const struct eg_kind *k, const char *ns, const char *name,
		 struct eg_resource **ret, struct eg_diag *d);
/* Whether namespace @ns exists. 1, 0 or -errno. */
int eg_store_namespace_exists(struct eg_store *s, const char *ns);

/* --- writes (under the exclusive lock) --- */

enum eg_store_outcome {
	EG_STORE_CREATED,
	EG_STORE_CONFIGURED,
	EG_STORE_UNCHANGED,
};

/* Applies every resource of @set (already validated, e.g. by eg_model_parse) like
 * `kubectl apply`, in order. Server fields are set: metadata.uid (UUIDv4),
 * resourceVersion (store-wide counter), generation (1, +1 when anything but metadata and
 * status changes), creationTimestamp (RFC 3339 UTC, kept on update). Labels and
 * annotations are merged three ways through the last-applied-configuration annotation
 * (a label added by eg_store_modify survives a re-apply that does not mention it);
 * everything else is replaced; status is kept (the input's status is ignored).
 * @ret_outcomes has room for set->n entries: each is an enum eg_store_outcome, or
 * -ENOENT when the object's namespace neither exists nor is created by @set.
 * All or nothing: when any entry is negative nothing is written and -ENOENT is returned.
 * Returns the number of objects written (>= 0), -ENOENT, -EINVAL (reported in @d) or
 * -errno. */
int eg_store_apply(struct eg_store *s, const struct eg_resource_set *set, int *ret_outcomes,
		   struct eg_diag *d);

struct eg_store_ref {
	const struct eg_kind *kind;
	const char *ns; /* ignored for cluster-scoped kinds */
	const char *name;
};

/* Deletes @n objects in one transaction. Deleting a Namespace deletes every object in
 * it. @ret_results[i] is 0 (deleted), -ENOENT (not found) or -EPERM (default,
 * kube-system and kube-public cannot be deleted). Returns the number deleted or -errno
 * (then nothing is guaranteed about the results). */
int eg_store_delete(struct eg_store *s, const struct eg_store_ref *refs, size_t n,
		    int *ret_results);

/* Edits one object in place. @cb gets a copy of the object's root; it returns > 0 after
 * changing it, 0 to leave it as is, or a negative error that aborts. The result is
 * validated against the kind (all problems in @d) before it is written with a new
 * resourceVersion; generation grows only when something outside metadata and status
 * changed. Returns 1 (written), 0 (no change), -ENOENT, -EINVAL (invalid result,
 * reported), @cb's error or -errno. */
typedef int (*eg_store_modify_cb)(struct eg_node *root, void *ctx);
int eg_store_modify(struct eg_store *s, const struct eg_kind *k, const char *ns,
		    const char *name, eg_store_modify_cb cb, void *ctx, struct eg_diag *d);

/* Replaces the object's status with a copy of @status (NULL removes it) without touching
 * its generation: the local cluster writes SGC status.egressIpPrefix and pod status this
 * way. 1 (written), 0 (same status already), -ENOENT, -EINVAL (reported) or -errno. */
int eg_store_set_status(struct eg_store *s, const struct eg_kind *k, const char *ns,
			const char *name, const struct eg_node *status, struct eg_diag *d);

/* --- helpers shared with the CLI --- */

/* "serviceentries.networking.istio.io", "services", "deployments.apps": kubectl's
 * resource name of @k (the store's directory name, and NotFound messages). */
const char *eg_store_resource_name(const struct eg_kind *k, char *buf, size_t len);
/* Parses an RFC 3339 UTC timestamp ("2025-04-25T10:00:00Z") into seconds since the
 * epoch. 0 or -EINVAL. */
int eg_store_parse_time(const char *s, int64_t *ret);

#define EG_STORE_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

#endif /* EG_STORE_STORE_H */
