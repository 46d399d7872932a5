/* src/runtime/netns.c: the netns topology. Every pod is a network namespace PREFIX-POD
 * whose eth0 hangs on the bridge PREFIX-br0 of the router namespace PREFIX-rtr; the router
 * forwards everything else to the "internet" namespace PREFIX-inet, which holds the
 * addresses of the hosts file and drops connections that do not come from an egress
 * prefix. Nothing is created in the host's own namespace except /etc/netns/PREFIX-* (the
 * per-namespace hosts and resolv.conf that `ip netns exec` bind-mounts).
 *
 *   pod PREFIX-curl-...   eth0 198.18.0.N/17 --- PREFIX-vN ]
 *   pod PREFIX-gw-...     eth0 198.18.0.M/17 --- PREFIX-vM ]-- PREFIX-br0 198.18.0.1 (PREFIX-rtr)
 *                                                          PREFIX-vinet 198.19.255.253/30
 *   PREFIX-inet           eth0 198.19.255.254/30, lo: every hosts-file address /32
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "runtime/runtime-int.h"

int rt_cmd(int log_fd, const char *fmt, ...)
{
	char line[2048], *argv[64], *save = NULL;
	va_list ap;
	int n, argc = 0, r;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -E2BIG;
	{
		char copy[2048];

		memcpy(copy, line, (size_t)n + 1);
		for (char *t = strtok_r(copy, " ", &save); t && argc < 63;
		     t = strtok_r(NULL, " ", &save))
			argv[argc++] = t;
		argv[argc] = NULL;
		if (argc == 0)
			return -EINVAL;
		r = eg_rt_run(argv, NULL, log_fd);
	}
	if (r != 0 && log_fd >= 0)
		dprintf(log_fd, "command failed (%d): %s\n", r, line);
	return r;
}

/* nft -f - in namespace @ns with @rules on stdin. */
static int nft_in(struct rt_net *n, const char *ns, const char *rules)
{
	char *argv[] = {"ip", "netns", "exec", (char *)ns, "nft", "-f", "-", NULL};
	int r = eg_rt_run(argv, rules, n->log_fd);

	if (r != 0 && n->log_fd >= 0)
		dprintf(n->log_fd, "nft in %s failed (%d):\n%s\n", ns, r, rules);
	return r;
}

int rt_net_init(struct rt_net *n, const struct eg_rt_config *cfg, int log_fd)
{
	memset(n, 0, sizeof(*n));
	n->cfg = cfg;
	n->log_fd = log_fd;
	if (eg_rt_net_parse(cfg->pod_cidr, &n->pods) < 0 || eg_rt_slots(&n->pods) == 0)
		return -EINVAL;
	eg_rt_ip_format(n->pods.base + 1, n->router, sizeof(n->router));
	eg_rt_netns_name(cfg, "rtr", n->rtr_ns, sizeof(n->rtr_ns));
	eg_rt_netns_name(cfg, "inet", n->inet_ns, sizeof(n->inet_ns));
	return 0;
}

static int write_etc(const char *netns, const char *hosts_text)
{
	char dir[512], path[600];
	int r;

	snprintf(dir, sizeof(dir), "/etc/netns/%s", netns);
	if (mkdir("/etc/netns", 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/hosts", dir);
	r = rt_write_file(path, hosts_text, 0644);
	if (r < 0)
		return r;
	/* without it the namespace uses the host's nameserver, which it cannot reach: every
	 * name missing from hosts would stall for 5 s */
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	return rt_write_file(path, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", 0644);
}

static int ns_add(struct rt_net *n, const char *ns)
{
	if (rt_cmd(n->log_fd, "ip netns add %s", ns) != 0)
		return -EIO;
	if (rt_cmd(n->log_fd, "ip -n %s link set lo up", ns) != 0)
		return -EIO;
	return 0;
}

struct addr_list {
	struct rt_net *n;
	int failed;
	uint32_t seen[256];
	size_t nseen;
};

static void add_site(uint32_t ip, void *ctx)
{
	struct addr_list *a = ctx;
	char s[16];

	for (size_t i = 0; i < a->nseen; i++)
		if (a->seen[i] == ip)
			return;
	if (a->nseen < EG_ARRAY_SIZE(a->seen))
		a->seen[a->nseen++] = ip;
	if ((ip >> 24) == 127)
		return; /* loopback names ("localhost") are every namespace's own */
	eg_rt_ip_format(ip, s, sizeof(s));
	if (rt_cmd(a->n->log_fd, "ip -n %s addr add %s/32 dev lo", a->n->inet_ns, s) != 0)
		a->failed = 1;
}

int rt_net_base_up(struct rt_net *n, const char *hosts_text)
{
	const char *p = n->cfg->prefix;
	struct addr_list sites = {.n = n};
	char why[256];

	if (ns_add(n, n->rtr_ns) < 0 || ns_add(n, n->inet_ns) < 0)
		return -EIO;
	if (rt_cmd(n->log_fd, "ip netns exec %s sysctl -qw net.ipv4.ip_forward=1", n->rtr_ns))
		return -EIO;
	if (rt_cmd(n->log_fd, "ip -n %s link add %s-br0 type bridge", n->rtr_ns, p) ||
	    rt_cmd(n->log_fd, "ip -n %s addr add %s/%u dev %s-br0", n->rtr_ns, n->router,
	           n->pods.len, p) ||
	    rt_cmd(n->log_fd, "ip -n %s link set %s-br0 up", n->rtr_ns, p))
		return -EIO;
	if (rt_cmd(n->log_fd, "ip link add eth0 netns %s type veth peer name %s-vinet netns %s",
	           n->inet_ns, p, n->rtr_ns) ||
	    rt_cmd(n->log_fd, "ip -n %s addr add %s/30 dev %s-vinet", n->rtr_ns,
	           EG_RT_INET_LINK_RTR, p) ||
	    rt_cmd(n->log_fd, "ip -n %s link set %s-vinet up", n->rtr_ns, p) ||
	    rt_cmd(n->log_fd, "ip -n %s addr add %s/30 dev eth0", n->inet_ns,
	           EG_RT_INET_LINK_INET) ||
	    rt_cmd(n->log_fd, "ip -n %s link set eth0 up", n->inet_ns) ||
	    rt_cmd(n->log_fd, "ip -n %s route add default via %s", n->inet_ns,
	           EG_RT_INET_LINK_RTR) ||
	    rt_cmd(n->log_fd, "ip -n %s route add default via %s", n->rtr_ns, EG_RT_INET_LINK_INET))
		return -EIO;
	if (eg_rt_hosts_check(hosts_text, false, why, sizeof(why), add_site, &sites) < 0 ||
	    sites.failed)
		return -EIO;
	if (write_etc(n->inet_ns, hosts_text) < 0 || write_etc(n->rtr_ns, hosts_text) < 0)
		return -EIO;
	return rt_net_firewall(n, "");
}

int rt_net_firewall(struct rt_net *n, const char *prefixes)
{
	struct eg_buf b = EG_BUF_INIT(1u << 20);
	int r;

	/* one transaction: create (so that delete cannot fail), delete, define again */
	r = eg_buf_puts(&b, "table inet egressd_fw\ndelete table inet egressd_fw\n"
	                    "table inet egressd_fw {\n"
	                    "\tset egress {\n\t\ttype ipv4_addr\n\t\tflags interval\n");
	if (r == 0 && prefixes[0]) {
		r = eg_buf_puts(&b, "\t\telements = { ");
		for (const char *q = prefixes; r == 0 && *q;) {
			size_t len = strcspn(q, ",");

			r = eg_buf_printf(&b, "%s%.*s", q == prefixes ? "" : ", ", (int)len, q);
			q += len;
			if (*q == ',')
				q++;
		}
		if (r == 0)
			r = eg_buf_puts(&b, " }\n");
	}
	if (r == 0)
		r = eg_buf_puts(&b, "\t}\n\tchain input {\n"
		                    "\t\ttype filter hook input priority filter; policy drop;\n"
		                    "\t\tiif lo accept\n"
		                    "\t\tct state established,related accept\n"
		                    "\t\tmeta l4proto { icmp, ipv6-icmp } accept\n"
		                    "\t\tip saddr @egress accept\n"
		                    "\t\tcounter comment \"dropped: not from an egress prefix\"\n"
		                    "\t}\n}\n");
	if (r == 0)
		r = nft_in(n, n->inet_ns, eg_buf_cstr(&b)) == 0 ? 0 : -EIO;
	eg_buf_done(&b);
	return r;
}

/* Calls @fn for every element of a comma-separated prefix list. */
static int each_prefix(const char *prefixes,
                       int (*fn)(struct rt_net *, const char *, const char *, const char *),
                       struct rt_net *n, const char *netns, const char *ip)
{
	int r = 0;

	for (const char *q = prefixes; q && *q;) {
		char one[64];
		size_t len = strcspn(q, ",");

		if (len > 0 && len < sizeof(one)) {
			memcpy(one, q, len);
			one[len] = '\0';
			if (fn(n, netns, ip, one) != 0)
				r = -EIO;
		}
		q += len;
		if (*q == ',')
			q++;
	}
	return r;
}

static int prefix_up(struct rt_net *n, const char *netns, const char *ip, const char *prefix)
{
	/* AnyIP: every address of the prefix is local in the gateway pod without adding them
	 * one by one, and the router sends the answers to them back to that pod */
	if (rt_cmd(n->log_fd, "ip -n %s route add local %s dev lo", netns, prefix))
		return -EIO;
	return rt_cmd(n->log_fd, "ip -n %s route replace %s via %s", n->rtr_ns, prefix, ip) ? -EIO
	                                                                                    : 0;
}

static int prefix_route(struct rt_net *n, const char *netns, const char *ip, const char *prefix)
{
	(void)netns;
	return rt_cmd(n->log_fd, "ip -n %s route replace %s via %s", n->rtr_ns, prefix, ip) ? -EIO
	                                                                                    : 0;
}

static int prefix_down(struct rt_net *n, const char *netns, const char *ip, const char *prefix)
{
	(void)netns;
	return rt_cmd(-1, "ip -n %s route del %s via %s", n->rtr_ns, prefix, ip) ? -EIO : 0;
}

int rt_net_pod_up(struct rt_net *n, const char *netns, uint32_t slot, const char *ip,
                  enum eg_rt_role role, const char *prefix, const char *hosts_text)
{
	const char *p = n->cfg->prefix;

	if (write_etc(netns, hosts_text) < 0)
		return -EIO;
	if (ns_add(n, netns) < 0)
		return -EIO;
	if (rt_cmd(n->log_fd, "ip link add eth0 netns %s type veth peer name %s-v%u netns %s",
	           netns, p, slot, n->rtr_ns) ||
	    rt_cmd(n->log_fd, "ip -n %s link set %s-v%u master %s-br0", n->rtr_ns, p, slot, p) ||
	    rt_cmd(n->log_fd, "ip -n %s link set %s-v%u up", n->rtr_ns, p, slot) ||
	    rt_cmd(n->log_fd, "ip -n %s addr add %s/%u dev eth0", netns, ip, n->pods.len) ||
	    rt_cmd(n->log_fd, "ip -n %s link set eth0 up", netns) ||
	    rt_cmd(n->log_fd, "ip -n %s route add default via %s", netns, n->router))
		return -EIO;
	if (role == EG_RT_ROLE_SIDECAR) {
		/* Istio's init container: outbound TCP to the sidecar, except the sidecar's own
		 * connections (uid 1337) and loopback. IPv4 is sent to POD_IP:15001 (DNAT keeps
		 * SO_ORIGINAL_DST, and a sidecar bound to its pod address receives it; REDIRECT
		 * would go to 127.0.0.1) */
		char rules[1024];

		snprintf(rules, sizeof(rules),
		         "table inet egressd_capture {\n"
		         "\tchain output {\n"
		         "\t\ttype nat hook output priority -100; policy accept;\n"
		         "\t\tmeta l4proto tcp skuid %d return\n"
		         "\t\tip daddr 127.0.0.0/8 return\n"
		         "\t\tip6 daddr ::1 return\n"
		         "\t\tmeta nfproto ipv4 meta l4proto tcp dnat ip to %s:%d\n"
		         "\t\tmeta nfproto ipv6 meta l4proto tcp redirect to :%d\n"
		         "\t}\n}\n",
		         EG_RT_PROXY_UID, ip, EG_RT_OUTBOUND_PORT, EG_RT_OUTBOUND_PORT);
		if (nft_in(n, netns, rules) != 0)
			return -EIO;
	}
	if (role == EG_RT_ROLE_GATEWAY && prefix)
		return each_prefix(prefix, prefix_up, n, netns, ip);
	return 0;
}

int rt_net_prefix_route(struct rt_net *n, const char *ip, const char *prefix)
{
	return each_prefix(prefix, prefix_route, n, NULL, ip);
}

void rt_net_pod_down(struct rt_net *n, const char *netns, const char *ip, const char *prefix)
{
	if (prefix)
		(void)each_prefix(prefix, prefix_down, n, netns, ip);
	rt_net_del(n->log_fd, netns);
}

/* SIGKILLs every process whose network namespace is the one bound at @path. */
static void kill_inside(const char *path)
{
	struct stat ns, st;
	struct dirent *de;
	DIR *d;

	if (stat(path, &ns) < 0)
		return;
	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[300];
		pid_t pid = (pid_t)atol(de->d_name);

		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(p, sizeof(p), "/proc/%s/ns/net", de->d_name);
		if (stat(p, &st) == 0 && st.st_ino == ns.st_ino && st.st_dev == ns.st_dev)
			(void)kill(pid, SIGKILL);
	}
	closedir(d);
}

static void rm_etc(const char *netns)
{
	char path[600];

	snprintf(path, sizeof(path), "/etc/netns/%s/hosts", netns);
	(void)unlink(path);
	snprintf(path, sizeof(path), "/etc/netns/%s/resolv.conf", netns);
	(void)unlink(path);
	snprintf(path, sizeof(path), "/etc/netns/%s", netns);
	(void)rmdir(path);
}

void rt_net_del(int log_fd, const char *netns)
{
	char path[600];

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	kill_inside(path);
	if (access(path, F_OK) == 0)
		(void)rt_cmd(log_fd, "ip netns del %s", netns);
	rm_etc(netns);
}

static void del_matching(int log_fd, const char *dir, const char *prefix, bool netns)
{
	size_t pl = strlen(prefix);
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, pl) != 0 || de->d_name[pl] != '-')
			continue;
		if (netns)
			rt_net_del(log_fd, de->d_name);
		else
			rm_etc(de->d_name);
	}
	closedir(d);
}

void rt_net_del_prefix(int log_fd, const char *prefix)
{
	if (!eg_rt_prefix_valid(prefix))
		return;
	del_matching(log_fd, "/run/netns", prefix, true);
	del_matching(log_fd, "/etc/netns", prefix, false);
}

int rt_hosts_text(const struct eg_rt_config *cfg, char **ret)
{
	struct eg_buf b = EG_BUF_INIT(4u << 20);
	char *extra = NULL;
	int r;

	r = eg_buf_puts(&b, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	if (r == 0 && cfg->hosts_file[0]) {
		r = rt_read_file(cfg->hosts_file, 4u << 20, &extra);
		if (r == 0)
			r = eg_buf_puts(&b, extra);
	}
	free(extra);
	if (r < 0) {
		eg_buf_done(&b);
		return r;
	}
	*ret = eg_buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}
