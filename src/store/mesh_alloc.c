/* src/store/mesh_alloc.c: the management plane's own files (DIR/mesh) and what it hands
 * out: ClusterIPs from the service CIDR and StaticGatewayConfiguration prefixes from the
 * egress pool. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "store/mesh-int.h"

const struct eg_kind *eg_mesh_kind(const char *name)
{
	return eg_kind_lookup(name);
}

/* --- DIR/mesh --- */

int eg_mesh_ctx_open(struct eg_store *s, int how, struct eg_mesh_ctx *m)
{
	int r;

	memset(m, 0, sizeof(*m));
	m->s = s;
	m->fd = -1;
	m->lockfd = -1;
	if (mkdirat(s->dirfd, MESH_DIR, STORE_DIR_MODE) < 0 && errno != EEXIST)
		return -errno;
	m->fd = openat(s->dirfd, MESH_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->fd < 0) {
		r = -errno;
		goto out_close;
	}
	m->lockfd = openat(m->fd, "lock", O_RDONLY | O_CREAT | O_CLOEXEC, STORE_FILE_MODE);
	if (m->lockfd < 0) {
		r = -errno;
		goto out_close;
	}
	while (flock(m->lockfd, how) < 0) {
		if (errno != EINTR) {
			r = -errno;
			goto out_close;
		}
	}
	if (how == LOCK_EX) {
		if (mkdirat(m->fd, MESH_TMP_DIR, STORE_DIR_MODE) < 0 && errno != EEXIST) {
			r = -errno;
			goto out_close;
		}
		/* temp files left behind belong to a writer that crashed */
		(void)eg_file_clear_dir_at(m->fd, MESH_TMP_DIR);
	}
	return 0;
out_close:
	eg_mesh_ctx_close(m);
	return r;
}

void eg_mesh_ctx_close(struct eg_mesh_ctx *m)
{
	if (m->lockfd >= 0)
		(void)close(m->lockfd); /* closing drops the flock */
	if (m->fd >= 0)
		(void)close(m->fd);
	m->lockfd = -1;
	m->fd = -1;
}

int eg_mesh_put_file(struct eg_mesh_ctx *m, const char *dir, const char *name, const char *data)
{
	char tmp[64], rel[STORE_PATH_MAX];
	int r;

	if (snprintf(rel, sizeof(rel), "%s/%s", dir, name) >= (int)sizeof(rel))
		return -ENAMETOOLONG;
	r = eg_file_mkdirs_synced_at(m->fd, dir, STORE_DIR_MODE);
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s/%ld.%u", MESH_TMP_DIR, (long)getpid(), m->tmp_seq++);
	r = eg_file_replace_at(m->fd, tmp, rel, data, strlen(data), STORE_FILE_MODE);
	return r < 0 ? r : eg_file_fsync_dir_at(m->fd, dir);
}

int eg_mesh_del_file(struct eg_mesh_ctx *m, const char *dir, const char *name)
{
	char rel[STORE_PATH_MAX];

	if (snprintf(rel, sizeof(rel), "%s/%s", dir, name) >= (int)sizeof(rel))
		return -ENAMETOOLONG;
	if (unlinkat(m->fd, rel, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	return eg_file_fsync_dir_at(m->fd, dir);
}

int eg_mesh_get_file(struct eg_mesh_ctx *m, const char *rel, char *buf, size_t len)
{
	struct eg_buf b = EG_BUF_INIT(len - 1);
	int r = eg_file_read_at(m->fd, rel, EG_FILE_NOFOLLOW, len - 1, &b);

	buf[0] = '\0';
	if (r == 0) {
		memcpy(buf, eg_buf_cstr(&b), b.len + 1);
		r = (int)b.len;
	}
	eg_buf_done(&b);
	return r;
}

int eg_mesh_names(struct eg_mesh_ctx *m, const char *rel, char ***ret_names, size_t *ret_n)
{
	int r;

	*ret_names = NULL;
	*ret_n = 0;
	r = eg_file_list_at(m->fd, rel, ret_names, ret_n);
	return r == -ENOENT ? 0 : r;
}

/* --- IPv4 --- */

int eg_ip4_parse(const char *s, uint32_t *ret)
{
	uint32_t a = 0;

	if (!s)
		return -EINVAL;
	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part && *s++ != '.')
			return -EINVAL;
		while (*s >= '0' && *s <= '9') {
			if (digits && v == 0)
				return -EINVAL; /* a leading zero reads as octal elsewhere */
			v = v * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3 || v > 255)
				return -EINVAL;
		}
		if (!digits)
			return -EINVAL;
		a = a << 8 | v;
	}
	if (*s)
		return -EINVAL;
	*ret = a;
	return 0;
}

void eg_ip4_format(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static uint32_t mask_of(unsigned len)
{
	return len == 0 ? 0 : 0xffffffffu << (32 - len);
}

int eg_ip4net_parse(const char *s, struct eg_ip4net *ret)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	char addr[16];
	uint32_t a;
	unsigned len = 0;
	size_t n;

	if (!slash || (n = (size_t)(slash - s)) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (eg_ip4_parse(addr, &a) < 0)
		return -EINVAL;
	s = slash + 1;
	if (!*s || strlen(s) > 2 || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		len = len * 10 + (unsigned)(*s - '0');
	}
	if (len > 32 || (a & ~mask_of(len)))
		return -EINVAL;
	ret->base = a;
	ret->len = len;
	return 0;
}

uint32_t eg_ip4net_last(const struct eg_ip4net *n)
{
	return n->base | ~mask_of(n->len);
}

/* --- ClusterIPs --- */

/* The Service @ns/@name still holds @ip (its spec.clusterIP). */
static bool service_holds(struct eg_store *s, const char *ns, const char *name, const char *ip)
{
	const struct eg_kind *k = eg_mesh_kind("services");
	struct eg_resource *svc = NULL;
	struct eg_diag quiet;
	const char *have;
	bool holds;
	int r;

	eg_diag_init(&quiet);
	r = eg_store_get(s, k, ns, name, &svc, &quiet);
	eg_diag_done(&quiet);
	if (r < 0)
		return r != -ENOENT; /* unreadable is not "gone": only a missing Service frees it */
	have = eg_node_str(svc->root, "spec.clusterIP");
	holds = have && strcmp(have, ip) == 0;
	eg_resource_free(svc);
	return holds;
}

/* "ns/name" of the record of @ip; false when there is none. */
static bool ip_record(struct eg_mesh_ctx *m, const char *ip, char *owner, size_t len)
{
	char rel[64];
	int n;

	snprintf(rel, sizeof(rel), "%s/%s", MESH_IP_DIR, ip);
	n = eg_mesh_get_file(m, rel, owner, len);
	if (n <= 0)
		return false;
	owner[strcspn(owner, "\n")] = '\0';
	return true;
}

/* An owner record "ns/name" split in place. */
static bool split_owner(char *owner, const char **ns, const char **name)
{
	char *slash = strchr(owner, '/');

	if (!slash)
		return false;
	*slash = '\0';
	*ns = owner;
	*name = slash + 1;
	return **ns && **name;
}

bool eg_mesh_ip_owned(struct eg_mesh_ctx *m, const char *ip, const char *ns, const char *name)
{
	char owner[512];
	const char *ons, *oname;

	return ip_record(m, ip, owner, sizeof(owner)) && split_owner(owner, &ons, &oname) &&
	       strcmp(ons, ns) == 0 && strcmp(oname, name) == 0;
}

int eg_mesh_ip_release(struct eg_mesh_ctx *m, const char *ip, const char *ns, const char *name)
{
	uint32_t a;

	if (!ip || eg_ip4_parse(ip, &a) < 0 || !eg_mesh_ip_owned(m, ip, ns, name))
		return 0;
	return eg_mesh_del_file(m, MESH_IP_DIR, ip);
}

void eg_mesh_ip_release_ns(struct eg_mesh_ctx *m, const char *ns)
{
	char **names = NULL;
	size_t n = 0;

	if (eg_mesh_names(m, MESH_IP_DIR, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char owner[512];
		const char *ons, *oname;

		if (ip_record(m, names[i], owner, sizeof(owner)) &&
		    split_owner(owner, &ons, &oname) && strcmp(ons, ns) == 0)
			(void)eg_mesh_del_file(m, MESH_IP_DIR, names[i]);
	}
	eg_file_names_free(names, n);
}

int eg_mesh_ip_claim(struct eg_mesh_ctx *m, const struct eg_ip4net *cidr, const char *ip,
                     const char *ns, const char *name, struct eg_diag *d)
{
	char owner[512], record[512];
	const char *ons, *oname;
	uint32_t a;

	if (eg_ip4_parse(ip, &a) < 0 || a < cidr->base || a > eg_ip4net_last(cidr))
		return 0;
	if (ip_record(m, ip, owner, sizeof(owner)) && split_owner(owner, &ons, &oname)) {
		if (strcmp(ons, ns) == 0 && strcmp(oname, name) == 0)
			return 0;
		if (service_holds(m->s, ons, oname, ip)) {
			eg_diag_add(d, EG_DIAG_WARNING, NULL, NULL, NULL,
			            "Service %s/%s: spec.clusterIP: %s is already allocated to "
			            "Service %s/%s",
			            ns, name, ip, ons, oname);
			return 0;
		}
	}
	snprintf(record, sizeof(record), "%s/%s\n", ns, name);
	return eg_mesh_put_file(m, MESH_IP_DIR, ip, record);
}

/* Offsets in the service CIDR that are never handed out: the network and broadcast
 * addresses, the first host (the API server's `kubernetes` Service) and the tenth (kube-dns,
 * AKS's default --dns-service-ip 10.0.0.10). */
static bool ip_reserved(uint64_t off, uint64_t size)
{
	return off == 0 || off == size - 1 || off == 1 || (size > 16 && off == 10);
}

int eg_mesh_ip_alloc(struct eg_mesh_ctx *m, const struct eg_ip4net *cidr, const char *ns,
                     const char *name, char *ret_ip, size_t len, struct eg_diag *d)
{
	uint64_t size = (uint64_t)1 << (32 - cidr->len), start;
	char record[512], cidr_text[32];
	uint32_t rnd = 0;

	if (cidr->len > 30 || cidr->len < 8) {
		eg_ip4_format(cidr->base, cidr_text, sizeof(cidr_text));
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "the service CIDR %s/%u has no room for ClusterIPs (use /8 to /30)",
		            cidr_text, cidr->len);
		return -ENOSPC;
	}
	/* random like the API server's allocator, so a released address is not the next
	 * one handed out */
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)getpid() * 2654435761u;
	start = rnd % size;
	snprintf(record, sizeof(record), "%s/%s\n", ns, name);
	for (uint64_t i = 0; i < size; i++) {
		uint64_t off = (start + i) % size;
		char ip[16], owner[512];
		const char *ons, *oname;
		int r;

		if (ip_reserved(off, size))
			continue;
		eg_ip4_format(cidr->base + (uint32_t)off, ip, sizeof(ip));
		if (ip_record(m, ip, owner, sizeof(owner)) && split_owner(owner, &ons, &oname) &&
		    service_holds(m->s, ons, oname, ip))
			continue;
		r = eg_mesh_put_file(m, MESH_IP_DIR, ip, record);
		if (r < 0)
			return r;
		snprintf(ret_ip, len, "%s", ip);
		return 0;
	}
	eg_ip4_format(cidr->base, cidr_text, sizeof(cidr_text));
	eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
	            "no free ClusterIP left in the service CIDR %s/%u", cidr_text, cidr->len);
	return -ENOSPC;
}

/* --- egress prefixes --- */

struct taken {
	uint32_t lo, hi;
	size_t owner; /* index in the SGC list */
};

struct taken_set {
	struct taken *v;
	size_t n, cap;
};

static int taken_add(struct taken_set *t, uint32_t lo, uint32_t hi, size_t owner)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		struct taken *nv = realloc(t->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = cap;
	}
	t->v[t->n++] = (struct taken){lo, hi, owner};
	return 0;
}

static void taken_drop_owner(struct taken_set *t, size_t owner)
{
	size_t j = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].owner != owner)
			t->v[j++] = t->v[i];
	t->n = j;
}

/* The ranges a status.egressIpPrefix covers: "A.B.C.D/LEN", or a comma list of
 * addresses (private mode). Unparseable text covers nothing. */
static int prefix_ranges(const char *text, struct taken_set *t, size_t owner)
{
	struct eg_ip4net net;
	char part[64];

	while (text && *text) {
		size_t n = strcspn(text, ",");
		uint32_t a;

		if (n < sizeof(part)) {
			memcpy(part, text, n);
			part[n] = '\0';
			if (eg_ip4net_parse(part, &net) == 0) {
				if (taken_add(t, net.base, eg_ip4net_last(&net), owner) < 0)
					return -ENOMEM;
			} else if (eg_ip4_parse(part, &a) == 0) {
				if (taken_add(t, a, a, owner) < 0)
					return -ENOMEM;
			}
		}
		text += n;
		if (*text == ',')
			text++;
	}
	return 0;
}

static bool overlaps_other(const struct taken_set *t, uint32_t lo, uint32_t hi, size_t owner,
                           uint32_t *ret_hi)
{
	bool any = false;

	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].owner == owner || t->v[i].hi < lo || t->v[i].lo > hi)
			continue;
		if (!any || t->v[i].hi > *ret_hi)
			*ret_hi = t->v[i].hi;
		any = true;
	}
	return any;
}

/* First-fit: the lowest block of 2^(32-@len) addresses of @pool that overlaps nobody
 * else's range. */
static bool find_block(const struct taken_set *t, const struct eg_ip4net *pool, unsigned len,
                       size_t owner, uint32_t *ret)
{
	uint64_t size = (uint64_t)1 << (32 - len);
	uint64_t last = eg_ip4net_last(pool);
	uint64_t cand = pool->base;

	if (len < pool->len)
		return false;
	/* each step jumps past at least one taken range: at most t->n + 1 rounds */
	for (size_t round = 0; round <= t->n + 1 && cand + size - 1 <= last; round++) {
		uint32_t hi = 0;

		if (!overlaps_other(t, (uint32_t)cand, (uint32_t)(cand + size - 1), owner, &hi)) {
			*ret = (uint32_t)cand;
			return true;
		}
		cand = ((uint64_t)hi + 1 + size - 1) / size * size;
	}
	return false;
}

/* The prefix length an SGC asks for. */
static unsigned wanted_len(const struct eg_resource *sgc)
{
	const struct eg_node *n =
	        eg_node_path(sgc->root, "spec.gatewayVmssProfile.publicIpPrefixSize");
	int64_t v;

	if (n && n->kind == EG_NODE_SCALAR && eg_scalar_int(n->s, &v) == 0 && v >= 0 && v <= 32)
		return (unsigned)v;
	return EG_MESH_DEFAULT_PREFIX_LEN;
}

static bool in_set(const struct eg_resource_set *only, const struct eg_resource *r)
{
	if (!only)
		return true;
	for (size_t i = 0; i < only->n; i++)
		if (only->v[i]->kind == r->kind && strcmp(only->v[i]->name, r->name) == 0 &&
		    strcmp(only->v[i]->ns, r->ns) == 0)
			return true;
	return false;
}

static int write_prefix(struct eg_store *s, const struct eg_resource *sgc, const char *prefix,
                        struct eg_diag *d)
{
	const struct eg_node *old = eg_node_get(sgc->root, "status");
	struct eg_node *status =
	        old && old->kind == EG_NODE_MAP ? eg_node_clone(old) : eg_node_new_map();
	struct eg_node *val;
	int r;

	if (!status)
		return -ENOMEM;
	val = eg_node_new_scalar(prefix, strlen(prefix), true);
	if (!val || eg_node_map_put(status, "egressIpPrefix", val) < 0) {
		eg_node_free(val);
		eg_node_free(status);
		return -ENOMEM;
	}
	r = eg_store_set_status(s, sgc->kind, sgc->ns, sgc->name, status, d);
	eg_node_free(status);
	return r;
}

int eg_mesh_assign_prefixes(struct eg_mesh_ctx *m, const struct eg_mesh_settings *st,
                            const struct eg_resource_set *only, struct eg_diag *d)
{
	const struct eg_kind *k = eg_mesh_kind("staticgatewayconfigurations");
	struct taken_set t = {0};
	struct eg_resource_set all;
	struct eg_ip4net pool;
	struct eg_diag quiet;
	int r, assigned = 0;

	if (eg_ip4net_parse(st->egress_pool, &pool) < 0)
		return -EINVAL; /* settings are checked before they are stored */
	eg_resource_set_init(&all);
	eg_diag_init(&quiet);
	/* objects that no longer parse are left out (and reported by `get`), not fatal here */
	r = eg_store_list(m->s, k, NULL, &all, &quiet);
	eg_diag_done(&quiet);
	if (r < 0 && r != -EINVAL)
		goto out_free;
	r = 0;
	for (size_t i = 0; i < all.n && r == 0; i++)
		r = prefix_ranges(eg_node_str(all.v[i]->root, "status.egressIpPrefix"), &t, i);
	for (size_t i = 0; i < all.n && r >= 0; i++) {
		const struct eg_resource *sgc = all.v[i];
		const char *cur = eg_node_str(sgc->root, "status.egressIpPrefix");
		unsigned len = wanted_len(sgc);
		struct eg_ip4net have;
		char prefix[40], pool_text[40];
		uint32_t base, hi = 0;

		if (!in_set(only, sgc))
			continue;
		if (cur && eg_ip4net_parse(cur, &have) == 0 && have.len == len &&
		    have.base >= pool.base && eg_ip4net_last(&have) <= eg_ip4net_last(&pool) &&
		    !overlaps_other(&t, have.base, eg_ip4net_last(&have), i, &hi))
			continue; /* keeps what it has */
		eg_ip4_format(pool.base, pool_text, sizeof(pool_text));
		if (!find_block(&t, &pool, len, i, &base)) {
			eg_diag_add(d, EG_DIAG_WARNING, NULL, sgc->what, "status.egressIpPrefix",
			            len < pool.len ? "a /%u prefix does not fit in the egress pool "
			                             "%s/%u; left unassigned"
			                           : "no free /%u prefix left in the egress pool "
			                             "%s/%u; left unassigned",
			            len, pool_text, pool.len);
			continue;
		}
		eg_ip4_format(base, prefix, sizeof(prefix));
		snprintf(prefix + strlen(prefix), sizeof(prefix) - strlen(prefix), "/%u", len);
		r = write_prefix(m->s, sgc, prefix, d);
		if (r == -ENOENT) {
			r = 0; /* deleted meanwhile: nothing to assign */
			continue;
		}
		if (r < 0)
			break;
		taken_drop_owner(&t, i);
		r = taken_add(&t, base, base + (uint32_t)((1ull << (32 - len)) - 1), i);
		assigned++;
	}
out_free:
	free(t.v);
	eg_resource_set_done(&all);
	return r < 0 ? r : assigned;
}
