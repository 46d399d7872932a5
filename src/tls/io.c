/* src/tls/io.c: the "tls" transport (struct eg_io_ops) over a non-blocking socket.
 *
 * OpenSSL talks to the socket through a BIO of ours: it feeds bytes the proxy already read
 * (a peeked ClientHello) before reading the socket, sends with MSG_NOSIGNAL, and keeps the
 * errno of a failed call so a reset surfaces as -ECONNRESET rather than a TLS error. Each
 * connection is an SSL (io->ctx) whose app data is a struct eg_tls_conn. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/compiler.h"
#include "net/net.h"
#include "tls/tls-int.h"

/* send(): small buffers are joined into one record of up to this size (on the stack); a
 * buffer at least this large is written from where it is. */
#define COALESCE_MAX 16384

void eg_tls_conn_reason(struct eg_tls_conn *tc, const char *fmt, ...)
{
	va_list ap;

	if (tc->reason[0])
		return;
	va_start(ap, fmt);
	(void)vsnprintf(tc->reason, sizeof(tc->reason), fmt, ap);
	va_end(ap);
}

void eg_tls_conn_set_peer(struct eg_tls_conn *tc, const char *id)
{
	char *copy = strdup(id);

	if (!copy)
		return; /* the id is for logs: its absence is not worth failing the connection */
	free(tc->peer_id);
	tc->peer_id = copy;
}

/* ---- the socket BIO ---- */

static BIO_METHOD *sock_method;
static pthread_once_t sock_once = PTHREAD_ONCE_INIT;

static int sock_read(BIO *b, char *buf, size_t len, size_t *ret)
{
	struct eg_tls_conn *tc = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	*ret = 0;
	if (tc->preload_off < tc->preload_len) {
		size_t k = tc->preload_len - tc->preload_off;

		if (k > len)
			k = len;
		memcpy(buf, tc->preload + tc->preload_off, k);
		tc->preload_off += k;
		if (tc->preload_off == tc->preload_len) {
			free(tc->preload);
			tc->preload = NULL;
			tc->preload_len = tc->preload_off = 0;
		}
		*ret = k;
		return 1;
	}
	do
		n = recv(tc->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		*ret = (size_t)n;
		return 1;
	}
	if (n == 0)
		tc->eof = true;
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_read(b);
	else
		tc->sock_err = errno;
	return 0;
}

static int sock_write(BIO *b, const char *buf, size_t len, size_t *ret)
{
	struct eg_tls_conn *tc = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	*ret = 0;
	do
		n = send(tc->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0) {
		*ret = (size_t)n;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_write(b);
	else
		tc->sock_err = errno;
	return 0;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct eg_tls_conn *tc = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return tc && tc->eof;
	case BIO_CTRL_PENDING:
		return tc ? (long)(tc->preload_len - tc->preload_off) : 0;
	default:
		return 0;
	}
}

static int sock_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int sock_destroy(BIO *b)
{
	BIO_set_data(b, NULL); /* the fd and the state are the connection's */
	return 1;
}

static void sock_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "egressd socket");

	if (!m)
		return;
	if (BIO_meth_set_read_ex(m, sock_read) != 1 || BIO_meth_set_write_ex(m, sock_write) != 1 ||
	    BIO_meth_set_ctrl(m, sock_ctrl) != 1 || BIO_meth_set_create(m, sock_create) != 1 ||
	    BIO_meth_set_destroy(m, sock_destroy) != 1) {
		BIO_meth_free(m);
		return;
	}
	sock_method = m;
}

/* ---- connection state ---- */

static struct eg_tls_conn *conn_of(const struct eg_io *io)
{
	return io && io->ctx ? SSL_get_app_data((SSL *)io->ctx) : NULL;
}

static void conn_free(SSL *ssl)
{
	struct eg_tls_conn *tc = ssl ? SSL_get_app_data(ssl) : NULL;

	SSL_free(ssl); /* frees the BIO; may still reach tc through callbacks, so it goes after */
	if (!tc)
		return;
	free(tc->preload);
	free(tc->sess_key);
	free(tc->peer_id);
	eg_tls_server_unref(tc->srv);
	eg_tls_client_unref(tc->cli);
	free(tc);
}

/* Joins @ssl and @tc with a socket BIO and fills @io. 0 or -ENOMEM (nothing freed). */
static int conn_attach(struct eg_io *io, SSL *ssl, struct eg_tls_conn *tc)
{
	BIO *b;

	pthread_once(&sock_once, sock_method_init);
	if (!sock_method || !(b = BIO_new(sock_method)))
		return -ENOMEM;
	BIO_set_data(b, tc);
	tc->ssl = ssl;
	SSL_set_app_data(ssl, tc);
	SSL_set_bio(ssl, b, b);
	io->ops = &eg_io_tls;
	io->fd = tc->fd;
	io->ctx = ssl;
	io->recv_want = EG_IO_READ;
	io->send_want = EG_IO_WRITE;
	return 0;
}

int eg_tls_io_server(struct eg_io *io, int fd, struct eg_tls_server *srv, const void *preload,
                     size_t preload_len, int chain)
{
	struct eg_tls_conn *tc = calloc(1, sizeof(*tc));
	SSL *ssl = NULL;

	if (!tc)
		goto out_close;
	tc->fd = fd;
	tc->is_server = true;
	tc->forced_chain = chain;
	tc->srv = eg_tls_server_ref(srv);
	if (preload_len) {
		tc->preload = malloc(preload_len);
		if (!tc->preload)
			goto out_free;
		memcpy(tc->preload, preload, preload_len);
		tc->preload_len = preload_len;
	}
	ssl = eg_tls_server_ssl_new(srv);
	if (!ssl || conn_attach(io, ssl, tc) < 0)
		goto out_free;
	SSL_set_accept_state(ssl);
	return 0;
out_free:
	if (ssl && SSL_get_app_data(ssl)) {
		conn_free(ssl);
	} else {
		SSL_free(ssl);
		free(tc->preload);
		eg_tls_server_unref(tc->srv);
		free(tc);
	}
out_close:
	(void)close(fd);
	ERR_clear_error();
	return -ENOMEM;
}

/* The name in an authority: "host", "host:port", "[v6]:port", "v6". 0 or -EINVAL. */
static int authority_host(const char *a, char *out, size_t cap)
{
	const char *start = a, *end;
	size_t n;

	if (!a)
		return -EINVAL;
	if (*a == '[') {
		start = a + 1;
		end = strchr(start, ']');
		if (!end)
			return -EINVAL;
	} else {
		const char *colon = strchr(a, ':');

		/* one colon: a port; more: a bare IPv6 address */
		end = colon && !strchr(colon + 1, ':') ? colon : a + strlen(a);
	}
	n = (size_t)(end - start);
	if (n && start[n - 1] == '.')
		n--; /* "example.com." names the same host */
	if (n == 0 || n >= cap || n > EG_TLS_SNI_MAX)
		return -EINVAL;
	memcpy(out, start, n);
	out[n] = '\0';
	return 0;
}

int eg_tls_io_client(struct eg_io *io, int fd, struct eg_tls_client *cli, const char *host)
{
	char name[EG_TLS_SNI_MAX + 1];
	const char *sni = eg_tls_client_sni(cli);
	struct eg_tls_conn *tc;
	SSL *ssl;
	int r = -ENOMEM;

	if (!sni) {
		if (authority_host(host, name, sizeof(name)) < 0) {
			r = -EINVAL;
			goto out_close;
		}
		sni = name;
	}
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		goto out_close;
	tc->fd = fd;
	tc->forced_chain = -1;
	tc->cli = eg_tls_client_ref(cli);
	tc->sess_key = strdup(sni);
	ssl = tc->sess_key ? eg_tls_client_ssl_new(cli, tc, sni, sni) : NULL;
	if (!ssl || conn_attach(io, ssl, tc) < 0) {
		r = ssl ? -ENOMEM : -EIO;
		SSL_free(ssl);
		free(tc->sess_key);
		eg_tls_client_unref(tc->cli);
		free(tc);
		goto out_close;
	}
	SSL_set_connect_state(ssl);
	return 0;
out_close:
	(void)close(fd);
	ERR_clear_error();
	return r;
}

/* ---- errors ---- */

static void reason_from_queue(struct eg_tls_conn *tc)
{
	unsigned long code = ERR_peek_error();
	char buf[160];
	const char *p = buf;

	if (!code) {
		eg_tls_conn_reason(tc, "TLS error");
		return;
	}
	/* Envoy's shape: TLS_error:|CODE:LIBRARY:FUNCTION:REASON:TLS_error_end */
	ERR_error_string_n(code, buf, sizeof(buf));
	if (strncmp(buf, "error:", 6) == 0)
		p += 6;
	eg_tls_conn_reason(tc, "TLS_error:|%s:TLS_error_end", p);
}

/* Maps a failed SSL call. -EAGAIN with *want set, 0 at end of stream (not in a handshake),
 * or -errno with the reason recorded. */
static int ssl_fail(struct eg_tls_conn *tc, int ret, uint32_t *want, bool handshake)
{
	unsigned long code;
	int e = SSL_get_error(tc->ssl, ret);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = EG_IO_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = EG_IO_WRITE;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		if (!handshake)
			return 0;
		break;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (tc->sock_err) {
			tc->failed = true;
			eg_tls_conn_reason(tc, "%s", strerror(tc->sock_err));
			return -tc->sock_err;
		}
		if (!handshake)
			return 0;
		break;
	default:
		tc->failed = true;
		code = ERR_peek_error();
		if (tc->peer_refused) {
			ERR_clear_error();
			return -EACCES; /* the verify callback said why */
		}
		if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
		    ERR_GET_REASON(code) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
			eg_tls_conn_reason(tc, "peer did not return a certificate");
			ERR_clear_error();
			return -EACCES;
		}
		reason_from_queue(tc);
		ERR_clear_error();
		return -EPROTO;
	}
	tc->failed = true;
	eg_tls_conn_reason(tc, "connection closed during the TLS handshake");
	return -ECONNRESET;
}

int eg_tls_io_handshake(struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);
	uint32_t want = 0;
	int r;

	if (!tc)
		return -EBADF;
	if (tc->done)
		return 0;
	if (tc->failed)
		return -EPROTO;
	ERR_clear_error();
	r = SSL_do_handshake(tc->ssl);
	if (r == 1) {
		tc->done = true;
		eg_tls_conn_handshake_done(tc);
		return 0;
	}
	r = ssl_fail(tc, r, &want, true);
	if (r == -EAGAIN)
		io->recv_want = io->send_want = want;
	return r;
}

/* ---- ops ---- */

static void note_handshake(struct eg_tls_conn *tc)
{
	if (!tc->done && SSL_is_init_finished(tc->ssl)) {
		tc->done = true;
		eg_tls_conn_handshake_done(tc);
	}
}

static ssize_t tls_recv(struct eg_io *io, void *buf, size_t len)
{
	struct eg_tls_conn *tc = conn_of(io);
	size_t n = 0;
	int r;

	if (!tc)
		return -EBADF;
	if (!len)
		return -EINVAL;
	ERR_clear_error();
	r = SSL_read_ex(tc->ssl, buf, len, &n);
	if (r == 1) {
		note_handshake(tc);
		return (ssize_t)n;
	}
	return ssl_fail(tc, r, &io->recv_want, !tc->done);
}

static ssize_t tls_send(struct eg_io *io, const struct iovec *iov, int iovcnt)
{
	struct eg_tls_conn *tc = conn_of(io);
	char join[COALESCE_MAX];
	const void *p;
	size_t len, n = 0;
	int r;

	if (!tc)
		return -EBADF;
	while (iovcnt > 0 && iov[0].iov_len == 0) {
		iov++;
		iovcnt--;
	}
	if (iovcnt <= 0)
		return 0;
	if (iovcnt == 1 || iov[0].iov_len >= COALESCE_MAX || tc->wpend > COALESCE_MAX) {
		p = iov[0].iov_base;
		len = iov[0].iov_len;
	} else {
		/* a head and a body become one record, not a short one and a full one */
		len = 0;
		for (int i = 0; i < iovcnt && len < COALESCE_MAX; i++) {
			size_t k = iov[i].iov_len;

			if (k > COALESCE_MAX - len)
				k = COALESCE_MAX - len;
			memcpy(join + len, iov[i].iov_base, k);
			len += k;
		}
		p = join;
	}
	/* OpenSSL wants a retried write to carry at least the bytes of the one it retries */
	if (len < tc->wpend)
		return -EINVAL;
	ERR_clear_error();
	r = SSL_write_ex(tc->ssl, p, len, &n);
	if (r == 1) {
		tc->wpend = 0;
		note_handshake(tc);
		return (ssize_t)n;
	}
	r = ssl_fail(tc, r, &io->send_want, !tc->done);
	if (r == -EAGAIN)
		tc->wpend = len;
	return r == 0 ? -EPIPE : r;
}

static int tls_shutdown_write(struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);

	if (!tc)
		return -EBADF;
	if (!tc->shut_sent) {
		if (tc->done && !tc->failed) {
			int r;

			ERR_clear_error();
			r = SSL_shutdown(tc->ssl);
			if (r < 0) {
				int e = SSL_get_error(tc->ssl, r);

				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					io->send_want = e == SSL_ERROR_WANT_WRITE ? EG_IO_WRITE
					                                          : EG_IO_READ;
					return -EAGAIN;
				}
				/* no close_notify then: the FIN still says we are done */
				ERR_clear_error();
			}
		}
		tc->shut_sent = true;
	}
	if (shutdown(tc->fd, SHUT_WR) < 0 && errno != ENOTCONN)
		return -errno;
	return 0;
}

static void tls_close(struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);

	if (tc && tc->done && !tc->shut_sent && !tc->failed) {
		/* best effort, never waits: a close_notify keeps the session resumable */
		ERR_clear_error();
		(void)SSL_shutdown(tc->ssl);
		ERR_clear_error();
	}
	if (io->fd >= 0)
		(void)close(io->fd);
	conn_free(io->ctx);
	io->fd = -1;
	io->ctx = NULL;
}

static void tls_abort(struct eg_io *io)
{
	if (io->fd >= 0) {
		(void)eg_net_set_linger0(io->fd);
		(void)close(io->fd);
	}
	conn_free(io->ctx); /* without close_notify the session is not resumed */
	io->fd = -1;
	io->ctx = NULL;
}

const struct eg_io_ops eg_io_tls = {
        .name = "tls",
        .recv = tls_recv,
        .send = tls_send,
        .shutdown_write = tls_shutdown_write,
        .close = tls_close,
        .abort = tls_abort,
};

/* ---- what the handshake found ---- */

const char *eg_tls_io_reason(const struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);

	return tc ? tc->reason : "";
}

const char *eg_tls_io_peer_id(const struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);

	return tc ? tc->peer_id : NULL;
}

const char *eg_tls_io_alpn(const struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);
	const unsigned char *p = NULL;
	unsigned int n = 0;

	if (!tc)
		return NULL;
	if (!tc->alpn[0]) {
		/* not NUL-terminated in OpenSSL: keep a copy (longer names are not ours) */
		SSL_get0_alpn_selected(tc->ssl, &p, &n);
		if (p && n && n < sizeof(tc->alpn)) {
			memcpy(tc->alpn, p, n);
			tc->alpn[n] = '\0';
		}
	}
	return tc->alpn[0] ? tc->alpn : NULL;
}

const char *eg_tls_io_sni(const struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);

	return tc ? SSL_get_servername(tc->ssl, TLSEXT_NAMETYPE_host_name) : NULL;
}

const char *eg_tls_io_version(const struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);

	return tc && tc->done ? SSL_get_version(tc->ssl) : NULL;
}

const char *eg_tls_io_cipher(const struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);

	return tc && tc->done ? SSL_get_cipher_name(tc->ssl) : NULL;
}

bool eg_tls_io_resumed(const struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);

	return tc && tc->done && SSL_session_reused(tc->ssl);
}

const void *eg_tls_io_chain(const struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);

	return tc && tc->chain ? eg_tls_chain_data(tc->chain) : NULL;
}

bool eg_tls_io_handshake_done(const struct eg_io *io)
{
	struct eg_tls_conn *tc = conn_of(io);

	return tc && tc->done;
}
