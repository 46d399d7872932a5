/* src/store/mesh-int.h: what mesh.c and mesh_alloc.c share (private to src/store). */
#ifndef EG_STORE_MESH_INT_H
#define EG_STORE_MESH_INT_H

#include <stdint.h>

#include "store/mesh.h"
#include "store/store-int.h"

#define MESH_DIR      "mesh"
#define MESH_GW_DIR   "egress-gateways"
#define MESH_IP_DIR   "cluster-ips"
#define MESH_TMP_DIR  "tmp"
#define MESH_FILE_MAX 4096 /* every file below DIR/mesh is one short line */

/* DIR/mesh, held under its lock. Lock order: the mesh lock first, then the store's (the
 * store functions take and drop theirs inside); never the other way round. */
struct eg_mesh_ctx {
	struct eg_store *s;
	int fd;     /* DIR/mesh */
	int lockfd; /* DIR/mesh/lock, read-only (as the store's lock file) */
	unsigned tmp_seq;
};

/* Creates DIR/mesh when missing, opens it and takes its lock (LOCK_SH or LOCK_EX); a
 * writer also clears DIR/mesh/tmp. 0 or -errno. */
int eg_mesh_ctx_open(struct eg_store *s, int how, struct eg_mesh_ctx *m);
void eg_mesh_ctx_close(struct eg_mesh_ctx *m);

/* Replaces DIR/mesh/@dir/@name with @data atomically (temp file, fsync, rename, fsync of
 * the directory), creating @dir (one or two levels) when missing. 0 or -errno. */
int eg_mesh_put_file(struct eg_mesh_ctx *m, const char *dir, const char *name, const char *data);
/* Removes DIR/mesh/@dir/@name (gone already is fine) and syncs @dir. 0 or -errno. */
int eg_mesh_del_file(struct eg_mesh_ctx *m, const char *dir, const char *name);
/* Reads DIR/mesh/@rel into @buf (NUL-terminated, at most @len - 1 bytes). The length,
 * -ENOENT, -EFBIG or -errno. */
int eg_mesh_get_file(struct eg_mesh_ctx *m, const char *rel, char *buf, size_t len);
/* Sorted names in DIR/mesh/@rel (no dot files), freed with eg_file_names_free (core/file.h).
 * A missing directory is empty. 0 or -errno. */
int eg_mesh_names(struct eg_mesh_ctx *m, const char *rel, char ***ret_names, size_t *ret_n);

/* --- IPv4 (mesh_alloc.c) --- */

struct eg_ip4net {
	uint32_t base; /* host order, the host bits cleared */
	unsigned len;  /* prefix length, 0..32 */
};

/* Dotted quad, strictly (four decimal parts 0..255, no leading zeros). 0 or -EINVAL. */
int eg_ip4_parse(const char *s, uint32_t *ret);
void eg_ip4_format(uint32_t a, char *buf, size_t len);
/* "A.B.C.D/LEN" with no host bits set. 0 or -EINVAL. */
int eg_ip4net_parse(const char *s, struct eg_ip4net *ret);
/* First and last address of @n. */
uint32_t eg_ip4net_last(const struct eg_ip4net *n);

/* Picks a free ClusterIP of @cidr for Service @ns/@name and records it in
 * DIR/mesh/cluster-ips. An address recorded for a Service that no longer holds it is
 * free again. 0 and @ret_ip, -ENOSPC (reported), -errno. */
int eg_mesh_ip_alloc(struct eg_mesh_ctx *m, const struct eg_ip4net *cidr, const char *ns,
                     const char *name, char *ret_ip, size_t len, struct eg_diag *d);
/* Records @ip (set by an applied Service @ns/@name itself) as that Service's, so that
 * mesh never hands it out. Outside @cidr: ignored. Held by another live Service: a
 * warning in @d (Kubernetes would refuse it; the store has already stored it). */
int eg_mesh_ip_claim(struct eg_mesh_ctx *m, const struct eg_ip4net *cidr, const char *ip,
                     const char *ns, const char *name, struct eg_diag *d);
/* Forgets @ip when Service @ns/@name holds it (another owner's record is kept). */
int eg_mesh_ip_release(struct eg_mesh_ctx *m, const char *ip, const char *ns, const char *name);
/* Whether @ip is recorded for Service @ns/@name. */
bool eg_mesh_ip_owned(struct eg_mesh_ctx *m, const char *ip, const char *ns, const char *name);
/* Forgets every ClusterIP recorded for a Service of namespace @ns. */
void eg_mesh_ip_release_ns(struct eg_mesh_ctx *m, const char *ns);

/* Gives every StaticGatewayConfiguration named in @only (every one when NULL) a valid
 * prefix of @st's egress pool (see eg_mesh_after_apply). Caller holds the mesh lock
 * exclusively. The number assigned or -errno. */
int eg_mesh_assign_prefixes(struct eg_mesh_ctx *m, const struct eg_mesh_settings *st,
                            const struct eg_resource_set *only, struct eg_diag *d);

/* The kinds the management plane writes (looked up once). */
const struct eg_kind *eg_mesh_kind(const char *name);

#endif /* EG_STORE_MESH_INT_H */
