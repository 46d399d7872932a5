/* src/proxy/tls_proxy.h: TLS in the data plane (private to src/proxy): the process-wide
 * identity and trust (control thread), the contexts derived from one snapshot (built on the
 * control thread, shared read-only by the workers through struct pconf), the gateway's
 * ClientHello dispatch (passthrough or termination), the sidecar's ClientHello refusals,
 * and the upstream TLS handshake (ISTIO_MUTUAL to a gateway, SIMPLE/MUTUAL origination).
 * docs/running.md ("TLS") describes the behaviour; src/tls is the library underneath. */
#ifndef EG_PROXY_TLS_PROXY_H
#define EG_PROXY_TLS_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "compile/compile.h"
#include "core/loop.h"
#include "tls/tls.h"

struct proxy;
struct pconf;
struct dconn;
struct uconn;
struct eg_proxy_config;

/* ---- control thread (tls_conf.c) ---- */

/* The proxy's workload identity (rotator over the certificate directory), the origination
 * trust store and the rotation timer. Created once before the first snapshot. */
struct ptls_global;

/* 0 with *ret; a missing certificate directory is not an error (ISTIO_MUTUAL chains and
 * clusters are then refused with a log line), a broken one is logged and ignored the same
 * way. -ENOMEM only. */
int ptls_global_new(const struct eg_proxy_config *cfg, struct eg_loop *loop,
                    struct ptls_global **ret);
void ptls_global_free(struct ptls_global *g);

/* What one snapshot needs: a client context per cluster that originates TLS, a server
 * object per gateway listener with terminating chains. Reference counted (the pconf holds
 * one). Contexts of the previous configuration are reused when their settings did not
 * change, so session caches survive reloads. NULL when there is nothing TLS in @s. */
struct ptls_conf;

struct ptls_conf *ptls_conf_build(struct ptls_global *g, const struct eg_snapshot *s,
                                  const struct pconf *prev);
struct ptls_conf *ptls_conf_unref(struct ptls_conf *c); /* any thread; returns NULL */

/* ---- lookups (any thread) ---- */

/* The client context of @cl (NULL: the cluster does not originate TLS, or its context could
 * not be built: then *ret_err says why, else it is NULL). */
struct eg_tls_client *ptls_client(const struct pconf *pc, const struct eg_cluster *cl,
                                  const char **ret_err);
/* The server object of gateway listener @port and the index of @fc in it, or NULL with
 * *ret_err (the chain could not be built). */
struct eg_tls_server *ptls_server(const struct pconf *pc, uint16_t port,
                                  const struct eg_filter_chain *fc, int *ret_chain,
                                  const char **ret_err);

/* ---- downstream (tls_gateway.c) ---- */

/* Per-connection TLS facts of a downstream connection (NULL while plain text). */
struct dtls {
	const struct eg_filter_chain *fc; /* gateway: the terminated chain */
	char *peer_id;                    /* verified SPIFFE id of the client, or NULL */
	char sni[EG_TLS_SNI_MAX + 1];
	bool mutual;                      /* a client certificate was verified */
};

void dtls_free(struct dtls *t);
/* True when TLS on @d already holds bytes (read ahead) that no readiness event announces. */
bool dtls_pending(const struct dconn *d);

/* Gateway listener of @port: true when its chains are TLS (passthrough or terminating). */
bool gw_listener_tls(const struct pconf *pc, uint16_t port);
/* DS_TLS on a gateway connection: the bytes so far are in d->rbuf; waits for the whole
 * ClientHello, then relays (PASSTHROUGH) or starts the handshake (terminating chains). */
void gw_tls_hello(struct dconn *d);
/* DS_HANDSHAKE: one step of the server handshake. */
void gw_tls_handshake(struct dconn *d);
/* A kept-alive gateway connection whose listener changed between plain text and TLS in
 * the configuration published since it was accepted: it must not serve another request. */
bool gw_conn_stale(const struct dconn *d);

/* Sidecar: decides a ClientHello that cannot be routed (@r from eg_tls_hello_read, not 0):
 * malformed, oversized, without SNI, or not TLS on a TLS port: sends an alert, logs and
 * closes. Returns true when it did (the connection is gone). */
bool sc_tls_refuse(struct dconn *d, int r, const struct eg_tls_hello *h, bool tls_port);
/* The alert a denied TLS connection gets: unrecognized_name when the SNI matched no chain
 * (the route is a fallback), access_denied otherwise. */
enum eg_tls_alert sc_tls_deny_alert(const struct eg_tcp_route *route, const struct eg_chain *c,
                                    const struct eg_tcp_route *listener_fallback);

/* ---- upstream (tls_upstream.c) ---- */

/* Per upstream connection TLS state while it is being set up. */
struct utls {
	struct eg_tls_client *cli; /* borrowed from the pconf (the exchange holds it) */
	char *host;                /* authority to use as SNI / name to verify */
	struct eg_timer timer;     /* handshake deadline */
	char reason[EG_TLS_REASON_MAX];
	bool active;
};

/* Marks @u as TLS towards @host (before its connect completes). 0 or -ENOMEM. */
int utls_prepare(struct uconn *u, struct eg_tls_client *cli, struct eg_str host);
/* From the connector's callback with a connected @fd: 1 when a handshake started (the
 * connection callback runs when it ends), 0 when @u is plain TCP, or -errno (the fd was
 * closed; reason in u->ut->reason). */
int utls_start(struct uconn *u, int fd);
void utls_free(struct uconn *u);
/* The failure reason kept for the access log ("" when none). */
const char *utls_reason(const struct uconn *u);
/* Pool key extra of a TLS cluster (never 0): the context @cli, and @host when the SNI
 * follows the request (auto_sni). */
uint64_t utls_pool_salt(const struct eg_cluster *cl, const struct eg_tls_client *cli,
                        struct eg_str host);

#endif /* EG_PROXY_TLS_PROXY_H */
