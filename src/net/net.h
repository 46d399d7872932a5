/* src/net/net.h: sockets for the data plane: addresses and prefixes, listeners (one
 * SO_REUSEPORT socket per worker), non-blocking connect with a bound source address and a
 * timeout, SO_ORIGINAL_DST, the transport ops table (STYLE.md R14) with its tcp
 * implementation, and a splice() relay between two connections.
 * May include: core.
 *
 * Everything that takes a struct eg_loop runs on that loop's thread; the socket helpers
 * without a loop may be called from any thread. Objects (listener, connector, relay) are
 * embedded by their owner and hold no allocation of their own unless said. Functions return
 * >= 0 on success and -errno on failure; one that takes a callback and fails never calls it. */
#ifndef EG_NET_NET_H
#define EG_NET_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/compiler.h"
#include "core/loop.h"
#include "core/timer.h"
#include "core/worker.h"

/* ---- addresses (values) ---- */

struct eg_net_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} u;
	socklen_t len; /* sizeof(in4) or sizeof(in6); 0 = unset */
};

/* Longest "[ffff:...:255.255.255.255%scope]:65535" plus NUL, rounded up. */
#define EG_NET_ADDR_STRLEN 72

/* "127.0.0.1:80" or "[::1]:80" (@n bytes, no NUL needed). The port is required and may be 0.
 * 0 or -EINVAL. */
int eg_net_addr_parse(const char *s, size_t n, struct eg_net_addr *ret);
/* "127.0.0.1", "::1" or "[::1]" with the given @port. 0 or -EINVAL. */
int eg_net_addr_parse_ip(const char *s, size_t n, uint16_t port, struct eg_net_addr *ret);
/* From a kernel sockaddr (AF_INET or AF_INET6). 0 or -EAFNOSUPPORT. */
int eg_net_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct eg_net_addr *ret);
/* Writes "127.0.0.1:80" / "[::1]:80" (NUL-terminated). Returns the length, or -ENOSPC when
 * @size is too small (@buf then holds ""), -EAFNOSUPPORT for an unset address. */
int eg_net_addr_format(const struct eg_net_addr *a, char *buf, size_t size);
/* Same without the port and brackets: "127.0.0.1" / "::1". */
int eg_net_addr_format_ip(const struct eg_net_addr *a, char *buf, size_t size);
int eg_net_addr_family(const struct eg_net_addr *a); /* AF_INET, AF_INET6 or AF_UNSPEC */
uint16_t eg_net_addr_port(const struct eg_net_addr *a);
void eg_net_addr_set_port(struct eg_net_addr *a, uint16_t port);
bool eg_net_addr_equal(const struct eg_net_addr *a, const struct eg_net_addr *b); /* ip+port */
bool eg_net_addr_ip_equal(const struct eg_net_addr *a, const struct eg_net_addr *b);

/* ---- prefixes: egress IP ranges such as a StaticGatewayConfiguration egressIpPrefix ---- */

struct eg_net_prefix {
	struct eg_net_addr net; /* network address, port 0, host bits all zero */
	uint8_t bits;           /* prefix length: <= 32 (IPv4) or <= 128 (IPv6) */
};

/* "127.0.16.0/28", "2001:db8::/64". -EINVAL when malformed or when host bits are set. */
int eg_net_prefix_parse(const char *s, size_t n, struct eg_net_prefix *ret);
/* Writes "127.0.16.0/28". Length or -ENOSPC. */
int eg_net_prefix_format(const struct eg_net_prefix *p, char *buf, size_t size);
/* Usable addresses: IPv4 skips the network and broadcast addresses when bits <= 30, IPv6
 * skips the all-zero host (subnet-router anycast) when bits <= 126. Capped at UINT64_MAX. */
uint64_t eg_net_prefix_size(const struct eg_net_prefix *p);
/* The (@i mod size)-th usable address, port 0. */
void eg_net_prefix_nth(const struct eg_net_prefix *p, uint64_t i, struct eg_net_addr *ret);
/* Round robin: the *@cursor-th usable address, then ++*@cursor. The cursor is the caller's
 * (one per worker: no sharing, no atomics); spreading connections over the addresses of the
 * prefix multiplies the ephemeral ports available towards one destination. */
void eg_net_prefix_pick(const struct eg_net_prefix *p, uint64_t *cursor, struct eg_net_addr *ret);
bool eg_net_prefix_contains(const struct eg_net_prefix *p, const struct eg_net_addr *a);

/* ---- socket helpers (no loop) ---- */

struct eg_net_listen_opts {
	int backlog;      /* 0 = 4096 (the kernel caps it at net.core.somaxconn) */
	bool reuseport;   /* SO_REUSEPORT: one socket per worker on the same address */
	bool v6only;      /* IPV6_V6ONLY on "[::]" sockets (default: dual stack) */
	bool transparent; /* IP_TRANSPARENT (TPROXY; needs CAP_NET_ADMIN) */
	bool freebind;    /* IP_FREEBIND: bind an address that is not (yet) local */
};

/* A non-blocking, CLOEXEC, SO_REUSEADDR listening socket bound to @addr. 0 or -errno. */
int eg_net_listen_fd(const struct eg_net_addr *addr, const struct eg_net_listen_opts *o,
                     int *ret_fd);
/* @n listening sockets on one address with SO_REUSEPORT (forced on), for @n workers; the
 * kernel spreads new connections over them. When @addr's port is 0 the first socket gets a
 * kernel-chosen port and the others join it. @ret_bound (may be NULL) gets the bound
 * address. 0 or -errno (then no socket is left open). */
int eg_net_listen_group(const struct eg_net_addr *addr, const struct eg_net_listen_opts *o,
                        unsigned n, int *ret_fds, struct eg_net_addr *ret_bound);
int eg_net_local_addr(int fd, struct eg_net_addr *ret);
int eg_net_peer_addr(int fd, struct eg_net_addr *ret);
/* Where a connection redirected by iptables/nft REDIRECT was going: SO_ORIGINAL_DST (IPv4) or
 * IP6T_SO_ORIGINAL_DST (IPv6). 0, -ENOENT when the connection was not redirected (no
 * conntrack NAT entry), or -errno. */
int eg_net_original_dst(int fd, struct eg_net_addr *ret);

#define EG_NET_IN_PROGRESS 1
/* Opens a non-blocking CLOEXEC TCP socket, binds it to @src when not NULL (address only:
 * IP_BIND_ADDRESS_NO_PORT lets the kernel pick the port at connect time, per 4-tuple, so one
 * source address serves many destinations; @src's port is honoured when not 0), and starts
 * connecting to @dst. Returns 0 (connected), EG_NET_IN_PROGRESS, or -errno (no fd left). */
int eg_net_connect_fd(const struct eg_net_addr *dst, const struct eg_net_addr *src, int *ret_fd);
/* The pending error of a socket (SO_ERROR): 0 or -errno. */
int eg_net_socket_error(int fd);
int eg_net_set_nodelay(int fd);
/* SO_LINGER {1, 0}: the next close() sends a RST instead of a FIN. */
int eg_net_set_linger0(int fd);

/* ---- listener: the accept4 loop on a loop ---- */

struct eg_net_listener;
/* @fd: the accepted connection (non-blocking, CLOEXEC), now the callback's. When the listener
 * has a worker gate, the connection holds one slot of the cap: call eg_worker_conn_release()
 * when it closes. */
typedef void (*eg_net_accept_cb)(struct eg_net_listener *l, int fd, const struct eg_net_addr *peer,
                                 void *data);

struct eg_net_listener {
	struct eg_io_watch io;
	struct eg_timer resume; /* re-enables accepting after EMFILE & co */
	struct eg_loop *loop;
	struct eg_worker *gate; /* connection cap; NULL = none */
	eg_net_accept_cb cb;
	void *data;
	unsigned batch;    /* accepts per wake-up, so one busy listener cannot starve the loop */
	bool paused;       /* eg_net_listener_pause() */
	uint64_t accepted; /* handed to the callback */
	uint64_t refused;  /* closed at once: over the cap or draining */
	uint64_t errors;   /* accept4 failures (EMFILE, ENFILE, ENOBUFS, ...) */
};

/* Takes ownership of the listening @fd and starts accepting on @loop. @gate (may be NULL):
 * each accepted connection first takes a slot with eg_worker_conn_acquire(); when it is
 * refused the connection is closed at once and counted in @refused. 0 or -errno (the fd is
 * left to the caller then). */
int eg_net_listener_start(struct eg_net_listener *l, struct eg_loop *loop, int fd,
                          struct eg_worker *gate, eg_net_accept_cb cb, void *data);
/* Stops/starts taking connections (they wait in the kernel backlog meanwhile). */
void eg_net_listener_pause(struct eg_net_listener *l);
void eg_net_listener_resume(struct eg_net_listener *l);
/* Stops accepting and closes the socket. No-op on a closed listener. */
void eg_net_listener_close(struct eg_net_listener *l);

/* ---- connector: non-blocking connect with a timeout ---- */

struct eg_net_connector;
/* @fd_or_err: the connected socket (now the callback's), or -ETIMEDOUT, -ECONNREFUSED,
 * -EHOSTUNREACH, ... Called exactly once unless cancelled, never from eg_net_connect(). */
typedef void (*eg_net_connect_cb)(struct eg_net_connector *c, int fd_or_err, void *data);

struct eg_net_connector {
	struct eg_io_watch io;
	struct eg_timer timer;
	struct eg_loop *loop;
	eg_net_connect_cb cb;
	void *data;
	bool busy; /* between eg_net_connect() and the callback/cancel */
};

/* Starts connecting to @dst from @src (NULL: any) with @timeout_ms (0: none). 0 or -errno. */
int eg_net_connect(struct eg_net_connector *c, struct eg_loop *loop, const struct eg_net_addr *dst,
                   const struct eg_net_addr *src, uint64_t timeout_ms, eg_net_connect_cb cb,
                   void *data);
/* Abandons a connect in progress: closes the socket; the callback is not called. */
void eg_net_connect_cancel(struct eg_net_connector *c);

/* ---- transports (STYLE.md R14) ---- */

struct eg_io;
struct eg_io_ops {
	const char *name; /* "tcp", "tls" */
	/* > 0 bytes read, 0 end of stream, -EAGAIN (then io->recv_want says what to wait for),
	 * or -errno (-ECONNRESET when the peer reset). */
	ssize_t (*recv)(struct eg_io *io, void *buf, size_t len);
	/* > 0 bytes written, -EAGAIN (then io->send_want says what to wait for), or -errno. */
	ssize_t (*send)(struct eg_io *io, const struct iovec *iov, int iovcnt);
	/* Half-close: no more sending (TCP FIN; TLS close_notify then FIN). 0 or -errno. */
	int (*shutdown_write)(struct eg_io *io);
	/* Orderly close of the fd and of the transport state; sets io->fd to -1. */
	void (*close)(struct eg_io *io);
	/* Abortive close: RST (SO_LINGER 0), no TLS close_notify; sets io->fd to -1. */
	void (*abort)(struct eg_io *io);
};

struct eg_io {
	const struct eg_io_ops *ops;
	int fd;             /* -1 once closed */
	void *ctx;          /* transport state: NULL for tcp, the SSL * for tls */
	uint32_t recv_want; /* EG_IO_READ/EG_IO_WRITE to wait for after recv gave -EAGAIN */
	uint32_t send_want; /* likewise after send gave -EAGAIN */
};

/* Plain TCP: recv(2)/sendmsg(2) with MSG_NOSIGNAL, shutdown(SHUT_WR), close(2). */
extern const struct eg_io_ops eg_io_tcp;
void eg_io_tcp_init(struct eg_io *io, int fd);

/* ---- relay: moves bytes both ways between two connections ---- */

/* A free list of empty pipes, one per worker thread: a relay takes a pipe only while bytes
 * are in flight in one direction and gives it back when it drained, so idle tunnels hold no
 * pipe fds (each pipe costs two of the process's 20,000 fds). Loop thread only. */
struct eg_net_pipe_pool {
	int (*pipes)[2]; /* [n] empty pipes ready for use */
	unsigned n;
	unsigned max;     /* kept at most; extra pipes are closed */
	size_t pipe_size; /* F_SETPIPE_SZ for new pipes; 0 = kernel default (64 KiB) */
	uint64_t created; /* pipes ever created */
};
/* 0 or -ENOMEM. */
int eg_net_pipe_pool_init(struct eg_net_pipe_pool *pool, unsigned max, size_t pipe_size);
void eg_net_pipe_pool_done(struct eg_net_pipe_pool *pool);

enum {
	EG_NET_RELAY_A = 0, /* the first endpoint (usually downstream) */
	EG_NET_RELAY_B = 1, /* the second (usually upstream) */
};

struct eg_net_relay_result {
	int status;        /* 0: both directions ended with an orderly EOF; else the first
	                    * failure: -ECONNRESET, -EPIPE, -ETIMEDOUT (idle), ... */
	int failed_side;   /* EG_NET_RELAY_A/_B: whose socket failed; -1 when status == 0 or
	                    * on idle timeout */
	bool spliced;      /* true when splice() moved the bytes, false for the copy path */
	uint64_t bytes[2]; /* [A] bytes delivered A -> B, [B] bytes delivered B -> A */
};

struct eg_net_relay;
/* Called once when the relay is over and both connections are closed (a reset on one side is
 * passed on to the other as a reset). The relay does not touch itself after the callback
 * returns, so the callback may free it. */
typedef void (*eg_net_relay_cb)(struct eg_net_relay *r, const struct eg_net_relay_result *res,
                                void *data);

struct eg_net_relay_opts {
	uint64_t idle_timeout_ms;      /* 0: none; else close both after that long without bytes */
	bool no_splice;                /* force the read/write path */
	size_t copy_buf_size;          /* read/write path buffer per direction; 0 = 16 KiB */
	struct eg_net_pipe_pool *pool; /* NULL: the relay makes its own pipes (at most two) */
	const void *preload[2];        /* bytes to send before relaying: [A] to B, [B] to A */
	size_t preload_len[2];
};

/* Per-direction state (private). */
struct eg_net_relay_dir {
	int pipe[2];    /* splice path: [0] read end, [1] write end; -1 when none held */
	size_t in_pipe; /* bytes in the pipe */
	char *buf;      /* copy path (and preload): pending bytes buf[off..len) */
	size_t off, len, cap;
	bool eof;        /* the source reached end of stream */
	bool done;       /* EOF passed on (shutdown_write on the destination) */
	bool want_read;  /* waiting for the source */
	bool want_write; /* waiting for the destination */
};

struct eg_net_relay {
	struct eg_loop *loop;
	struct eg_io io[2];
	struct eg_io_watch watch[2];
	struct eg_timer idle;
	struct eg_net_relay_dir dir[2]; /* [A]: A -> B, [B]: B -> A */
	struct eg_net_pipe_pool *pool;
	size_t copy_buf_size;
	uint64_t idle_timeout_ms;
	uint64_t last_active; /* loop ms of the last byte moved */
	bool splice;
	bool active;
	eg_net_relay_cb cb;
	void *data;
	struct eg_net_relay_result res;
};

/* Takes over connections @a and @b (copied in; their fds must be non-blocking) and relays
 * until both directions ended or one failed: EOF from one side is passed on as
 * shutdown_write to the other (half-close), a reset as a reset. Bytes move with splice()
 * through a pipe per direction when both ends are eg_io_tcp and !no_splice, with
 * recv/send through the ops otherwise (tls). 0 or -errno (then the connections are still the
 * caller's). */
int eg_net_relay_start(struct eg_net_relay *r, struct eg_loop *loop, const struct eg_io *a,
                       const struct eg_io *b, const struct eg_net_relay_opts *o, eg_net_relay_cb cb,
                       void *data);
/* Ends a running relay now: closes both connections (@abort: with a reset) without calling
 * the callback; @ret (may be NULL) gets the counters. */
void eg_net_relay_close(struct eg_net_relay *r, bool abort, struct eg_net_relay_result *ret);

#endif /* EG_NET_NET_H */
