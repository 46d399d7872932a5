/* src/policy/policy.h: the outbound traffic policy as the data plane applies it: which
 * destinations a proxy may reach (SPEC.md §2.2), and the deny reasons it reports (SPEC §0:
 * "x-egressd-deny-reason: <host>: <rule>").
 * May include: core, compile.
 *
 * Pure functions of a snapshot: no I/O, no allocation, no clock. The proxy asks before it
 * resolves or connects anything, so a denied CONNECT costs no DNS query. */
#ifndef EG_POLICY_POLICY_H
#define EG_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile/compile.h"
#include "core/str.h"

#define EG_POLICY_REASON_MAX 512 /* longest deny reason written (longer is cut) */

/* What a connection to host:port (CONNECT, or an absolute-form request) would meet, decided
 * from the snapshot alone. */
enum eg_policy_verdict {
	EG_POLICY_ALLOW,    /* a route to a real cluster (or Passthrough under ALLOW_ANY) */
	EG_POLICY_DENY,     /* block_all or BlackHoleCluster: refuse before any lookup */
	EG_POLICY_NO_ROUTE, /* gateway or HTTP table without a virtual host (404 NR) */
};

struct eg_policy_decision {
	enum eg_policy_verdict verdict;
	const char *rule;                 /* the rule that decided: "block_all", "BlackHoleCluster",
	                                   * "allow_any", "PassthroughCluster", "route", "sni", "no_route" */
	const struct eg_port_entry *port; /* the sidecar port entry, or NULL */
	const struct eg_route_table *http; /* HTTP chain: the table the host was looked up in */
	const struct eg_vhost *vhost;      /* ... and its virtual host (catch-all included) */
	const struct eg_tcp_route *tcp;    /* TLS/TCP chain: the route (fallback included) */
};

/* Decides a sidecar capture-listener destination @host (a name or an address literal) and
 * @port: the port entry's chain (HTTP: virtual host of "host:port"; TLS: the SNI route of
 * @host; TCP: its route), else the listener's catch-all/fallback. 0, or -ENOENT when the
 * snapshot has no capture listener. */
int eg_policy_decide(const struct eg_snapshot *s, struct eg_str host, uint16_t port,
                     struct eg_policy_decision *ret);

/* True for the generated deny route (block_all) of REGISTRY_ONLY. */
bool eg_policy_route_denies(const struct eg_route *r);
/* True when @r sends everything to BlackHoleCluster (or to no cluster at all). */
bool eg_policy_tcp_denies(const struct eg_tcp_route *r);

/* Writes "<host>: not in the service registry (outboundTrafficPolicy REGISTRY_ONLY,
 * <policy source>)" into @out (NUL-terminated, cut at @cap). Returns the length. */
size_t eg_policy_deny_reason(const struct eg_snapshot *s, struct eg_str host, char *out,
                             size_t cap);
/* The short reason label of the deny metric ("registry_only"). */
const char *eg_policy_deny_label(const struct eg_snapshot *s);

#endif /* EG_POLICY_POLICY_H */
