/* src/policy/policy.c: outbound traffic policy decisions (see policy.h). */
#include "policy/policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/compiler.h"

bool eg_policy_route_denies(const struct eg_route *r)
{
	return r && r->action == EG_ACTION_DIRECT && r->deny_reason != NULL;
}

bool eg_policy_tcp_denies(const struct eg_tcp_route *r)
{
	if (!r || r->nclusters == 0)
		return true;
	for (size_t i = 0; i < r->nclusters; i++) {
		const struct eg_weighted_cluster *wc = &r->clusters[i];

		if (wc->weight == 0 && r->nclusters > 1)
			continue;
		if (!wc->name || strcmp(wc->name, "BlackHoleCluster") != 0)
			return false;
	}
	return true;
}

static const struct eg_listener *capture_listener(const struct eg_snapshot *s)
{
	for (size_t i = 0; i < eg_snapshot_nlisteners(s); i++) {
		const struct eg_listener *l = eg_snapshot_listener_at(s, i);

		if (l->kind == EG_LISTENER_CAPTURE)
			return l;
	}
	return NULL;
}

static void decide_http(const struct eg_route_table *rt, struct eg_str host, uint16_t port,
                        struct eg_policy_decision *d)
{
	char auth[300];
	int n;

	d->http = rt;
	/* the virtual host of "host:port" (a domain "host:*" or "host" matches too) */
	n = snprintf(auth, sizeof(auth), "%.*s:%u", (int)host.len, host.ptr, port);
	if (n <= 0 || (size_t)n >= sizeof(auth)) {
		d->verdict = EG_POLICY_NO_ROUTE;
		d->rule = "no_route";
		return;
	}
	d->vhost = eg_route_table_vhost(rt, (struct eg_str){auth, (size_t)n});
	if (!d->vhost) {
		d->verdict = EG_POLICY_NO_ROUTE;
		d->rule = "no_route";
		return;
	}
	if (d->vhost->nroutes == 1 && eg_policy_route_denies(&d->vhost->routes[0])) {
		d->verdict = EG_POLICY_DENY;
		d->rule = "block_all";
		return;
	}
	d->verdict = EG_POLICY_ALLOW;
	d->rule = d->vhost == rt->catch_all ? "allow_any" : "route";
}

static void decide_tcp(const struct eg_tcp_route *r, struct eg_policy_decision *d)
{
	d->tcp = r;
	if (eg_policy_tcp_denies(r)) {
		d->verdict = EG_POLICY_DENY;
		d->rule = "BlackHoleCluster";
	} else {
		d->verdict = EG_POLICY_ALLOW;
		d->rule = r->nclusters && strcmp(r->clusters[0].name, "PassthroughCluster") == 0
		                  ? "PassthroughCluster"
		                  : "route";
	}
}

int eg_policy_decide(const struct eg_snapshot *s, struct eg_str host, uint16_t port,
                     struct eg_policy_decision *ret)
{
	const struct eg_listener *l = capture_listener(s);
	const struct eg_port_entry *pe;

	memset(ret, 0, sizeof(*ret));
	if (!l)
		return -ENOENT;
	pe = eg_snapshot_port(s, port);
	ret->port = pe;
	if (!pe) {
		/* no entry for the port: the listener's catch-all (HTTP) and fallback (TCP) agree
		 * on the policy, and a CONNECT carries no protocol yet: decide by the TCP
		 * fallback, as the tunnelled bytes will meet it unless they are HTTP */
		if (l->http_catch_all && l->http_catch_all->catch_all &&
		    l->http_catch_all->catch_all->nroutes == 1 &&
		    !eg_policy_route_denies(&l->http_catch_all->catch_all->routes[0])) {
			decide_tcp(l->fallback, ret);
			if (ret->verdict == EG_POLICY_DENY) /* HTTP allowed while TCP is not */
				ret->verdict = EG_POLICY_ALLOW, ret->rule = "allow_any";
			return 0;
		}
		decide_tcp(l->fallback, ret);
		return 0;
	}
	switch (pe->chain.proto) {
	case EG_CHAIN_HTTP:
		if (pe->chain.http)
			decide_http(pe->chain.http, host, port, ret);
		else
			decide_tcp(pe->chain.fallback, ret);
		break;
	case EG_CHAIN_TLS:
		decide_tcp(eg_chain_sni_route(&pe->chain, host), ret);
		if (ret->verdict == EG_POLICY_ALLOW && ret->tcp != pe->chain.fallback)
			ret->rule = "sni";
		break;
	case EG_CHAIN_TCP:
		decide_tcp(pe->chain.tcp ? pe->chain.tcp : pe->chain.fallback, ret);
		break;
	}
	return 0;
}

size_t eg_policy_deny_reason(const struct eg_snapshot *s, struct eg_str host, char *out, size_t cap)
{
	const struct eg_outbound_policy *p = eg_snapshot_policy(s);
	int n;

	if (cap == 0)
		return 0;
	if (host.len > 255)
		host.len = 255;
	if (p && p->mode == EG_POLICY_REGISTRY_ONLY)
		n = snprintf(out, cap,
		             "%.*s: not in the service registry (outboundTrafficPolicy "
		             "REGISTRY_ONLY, %s)",
		             (int)host.len, host.ptr ? host.ptr : "",
		             p->source ? p->source : "default");
	else
		n = snprintf(out, cap, "%.*s: routed to BlackHoleCluster (%s)", (int)host.len,
		             host.ptr ? host.ptr : "", p && p->source ? p->source : "default");
	if (n < 0) {
		out[0] = '\0';
		return 0;
	}
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

const char *eg_policy_deny_label(const struct eg_snapshot *s)
{
	const struct eg_outbound_policy *p = eg_snapshot_policy(s);

	return p && p->mode == EG_POLICY_REGISTRY_ONLY ? "registry_only" : "blackhole";
}
