/* src/telemetry/logwriter.c: the access log writer. Each worker owns one single-producer ring
 * of length-prefixed lines; one logger thread drains the rings and write()s batches to the
 * file. Workers never block and never lock: a full ring drops the line (counted).
 *
 * Wake-ups are batched, because a write() to the eventfd per line (plus the logger's
 * poll()/read() per line) cost 2-3x the proxy's throughput: a worker wakes the logger only
 * when its ring goes from empty to non-empty while the logger idles, or when the ring is more
 * than half full while the logger naps. After a drain that found lines the logger naps
 * NAP_MS, then drains every ring into one batch and one write(); so under load there is
 * about one wake-up and one write() per NAP_MS, and a line still reaches the file within
 * about NAP_MS (IDLE_POLL_MS at worst, when a wake-up races the logger falling asleep). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/compiler.h"
#include "telemetry/telemetry.h"

#define RING_DEFAULT (1u << 20)
#define RING_MIN     (1u << 12)
#define RING_MAX     ((size_t)1 << 30)
#define BATCH_BYTES  (256 * 1024) /* one write() at most; >= a line + its length prefix */
#define NAP_MS       50           /* logger's batching pause after a drain that found lines */
#define IDLE_POLL_MS 100          /* backstop wake-up of an idle logger (bounds a lost wake) */
#define HDR          4            /* length prefix of a record */

_Static_assert(BATCH_BYTES >= EG_ACCESSLOG_LINE_MAX + HDR, "a line fits a batch");

struct ring {
	/* producer (its worker) side */
	_Alignas(64) _Atomic uint64_t tail; /* bytes ever published; release-stored */
	struct eg_buf scratch;              /* eg_accesslog_writer_log() rendering */
	/* consumer (logger) side */
	_Alignas(64) _Atomic uint64_t head; /* bytes ever consumed and written; release-stored */
	char *data;                         /* cap bytes; records may wrap around the end */
};

struct eg_accesslog_writer {
	struct ring *rings;
	unsigned n_rings;
	size_t cap; /* ring bytes, a power of two: tail - head <= cap, always */
	char *path; /* NULL: not reopenable (an fd, /dev/stdout, /dev/stderr) */
	int fd;
	int efd; /* eventfd waking the logger */
	pthread_t thread;
	atomic_int sleeping; /* LOGGER_*: what the logger is (about to be) doing */
	atomic_int stop;
	atomic_int reopen;
	struct eg_accesslog_counters own;
	struct eg_accesslog_counters *ctr;
	char *batch;    /* logger only */
	uint64_t *next; /* logger only: per-ring head after the batch being built */
	unsigned first; /* logger only: ring that starts the next batch (fairness) */
};

enum {
	LOGGER_AWAKE = 0, /* draining: nobody needs to wake it */
	LOGGER_NAP,       /* batching pause: wake it only for a ring more than half full */
	LOGGER_IDLE,      /* nothing queued: wake it for the first line */
};

/* Called by a worker after publishing a line: @was_empty when its ring held nothing before,
 * @over_half when it now holds more than half its capacity. */
static void maybe_wake(struct eg_accesslog_writer *w, bool was_empty, bool over_half)
{
	uint64_t one = 1;
	int s;

	if (!was_empty && !over_half)
		return; /* the common case under load: no fence, no syscall */
	/* Pairs with the logger's store of sleeping + fence + re-check: either it sees our
	 * data, or we see it idle. */
	atomic_thread_fence(memory_order_seq_cst);
	s = atomic_load_explicit(&w->sleeping, memory_order_relaxed);
	if (s == LOGGER_AWAKE || (s == LOGGER_NAP && !over_half))
		return;
	/* one waker per sleep; the write never blocks (EFD_NONBLOCK) */
	if (!atomic_compare_exchange_strong(&w->sleeping, &s, LOGGER_AWAKE))
		return;
	(void)!write(w->efd, &one, sizeof(one));
	atomic_fetch_add_explicit(&w->ctr->wakeups, 1, memory_order_relaxed);
}

static void ring_copy_in(struct ring *r, size_t cap, uint64_t pos, const void *src, size_t n)
{
	size_t off = (size_t)(pos & (cap - 1)), first = EG_MIN(n, cap - off);

	memcpy(r->data + off, src, first);
	memcpy(r->data, (const char *)src + first, n - first);
}

static void ring_copy_out(const struct ring *r, size_t cap, uint64_t pos, void *dst, size_t n)
{
	size_t off = (size_t)(pos & (cap - 1)), first = EG_MIN(n, cap - off);

	memcpy(dst, r->data + off, first);
	memcpy((char *)dst + first, r->data, n - first);
}

static void count_drop(struct eg_accesslog_writer *w)
{
	/* Only reached when the logger falls behind: contention here is the degraded case. */
	atomic_fetch_add_explicit(&w->ctr->dropped, 1, memory_order_relaxed);
}

int eg_accesslog_writer_push(struct eg_accesslog_writer *w, unsigned ring, const char *line,
                             size_t len)
{
	struct ring *r = &w->rings[ring % w->n_rings];
	uint64_t tail, head;
	uint32_t hdr;

	if (len > EG_ACCESSLOG_LINE_MAX) {
		count_drop(w);
		return -E2BIG;
	}
	tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	head = atomic_load_explicit(&r->head, memory_order_acquire);
	if (w->cap - (size_t)(tail - head) < HDR + len) {
		count_drop(w);
		return -ENOBUFS;
	}
	hdr = (uint32_t)len;
	ring_copy_in(r, w->cap, tail, &hdr, HDR);
	ring_copy_in(r, w->cap, tail + HDR, line, len);
	atomic_store_explicit(&r->tail, tail + HDR + len, memory_order_release);
	/* head may be stale (smaller): that only makes the ring look fuller, never emptier */
	maybe_wake(w, tail == head, (size_t)(tail + HDR + len - head) > w->cap / 2);
	return 0;
}

int eg_accesslog_writer_log(struct eg_accesslog_writer *w, unsigned ring,
                            const struct eg_accesslog_format *f, const struct eg_accesslog_entry *e)
{
	struct ring *r = &w->rings[ring % w->n_rings];
	int ret;

	r->scratch.len = 0;
	ret = eg_accesslog_format(f, e, &r->scratch);
	if (ret < 0) {
		count_drop(w);
		return ret;
	}
	ret = eg_accesslog_writer_push(w, ring, r->scratch.data, r->scratch.len);
	/* a huge line once must not pin its memory in every later request */
	if (r->scratch.cap > 16 * 1024)
		eg_buf_done(&r->scratch);
	return ret;
}

void eg_accesslog_writer_reopen(struct eg_accesslog_writer *w)
{
	uint64_t one = 1;

	atomic_store(&w->reopen, 1);
	(void)!write(w->efd, &one, sizeof(one));
}

const struct eg_accesslog_counters *
eg_accesslog_writer_counters(const struct eg_accesslog_writer *w)
{
	return w->ctr;
}

/* ---- logger thread ----------------------------------------------------------------------- */

static int open_path(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);

	return fd < 0 ? -errno : fd;
}

/* Writes one batch; a failure is counted and the batch is lost (never retried: a full disk
 * must not stall the rings forever). */
static void write_batch(struct eg_accesslog_writer *w, const char *p, size_t n, uint64_t lines)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = write(w->fd, p + done, n - done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k < 0 && errno == EPIPE) {
				/* SIGPIPE is blocked in this thread: take the pending one so it
				 * can never be delivered later. */
				sigset_t set;
				struct timespec zero = {0, 0};

				sigemptyset(&set);
				sigaddset(&set, SIGPIPE);
				(void)sigtimedwait(&set, NULL, &zero);
			}
			atomic_fetch_add_explicit(&w->ctr->errors, 1, memory_order_relaxed);
			return;
		}
		done += (size_t)k;
	}
	atomic_fetch_add_explicit(&w->ctr->writes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->ctr->lines, lines, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->ctr->bytes, n, memory_order_relaxed);
}

/* Drains every ring into batches of up to BATCH_BYTES, one write() each, lines of several
 * rings sharing a batch (each ring's lines stay in order). Returns the lines taken. */
static uint64_t drain_all(struct eg_accesslog_writer *w)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < w->n_rings; i++)
		w->next[i] = atomic_load_explicit(&w->rings[i].head, memory_order_relaxed);
	for (;;) {
		size_t n = 0;
		uint64_t lines = 0;
		bool full = false;

		for (unsigned k = 0; k < w->n_rings && !full; k++) {
			unsigned i = (w->first + k) % w->n_rings;
			struct ring *r = &w->rings[i];
			uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

			while (w->next[i] != tail) {
				uint32_t len;

				ring_copy_out(r, w->cap, w->next[i], &len, HDR);
				if (n + len > BATCH_BYTES) {
					full = true;
					break;
				}
				ring_copy_out(r, w->cap, w->next[i] + HDR, w->batch + n, len);
				n += len;
				w->next[i] += HDR + len;
				lines++;
			}
		}
		if (!lines)
			break;
		w->first = (w->first + 1) % w->n_rings;
		write_batch(w, w->batch, n, lines);
		/* space is released only once written: head == tail means "on disk" */
		for (unsigned i = 0; i < w->n_rings; i++)
			atomic_store_explicit(&w->rings[i].head, w->next[i], memory_order_release);
		total += lines;
	}
	return total;
}

static bool rings_empty(struct eg_accesslog_writer *w)
{
	for (unsigned i = 0; i < w->n_rings; i++)
		if (atomic_load_explicit(&w->rings[i].tail, memory_order_acquire) !=
		    atomic_load_explicit(&w->rings[i].head, memory_order_relaxed))
			return false;
	return true;
}

static bool rings_over_half(struct eg_accesslog_writer *w)
{
	for (unsigned i = 0; i < w->n_rings; i++)
		if (atomic_load_explicit(&w->rings[i].tail, memory_order_acquire) -
		            atomic_load_explicit(&w->rings[i].head, memory_order_relaxed) >
		    w->cap / 2)
			return true;
	return false;
}

/* Sleeps in state @state up to @ms unless @busy() already holds (after the fence that pairs
 * with maybe_wake()) or a stop/reopen is pending. */
static void doze(struct eg_accesslog_writer *w, int state, int ms,
                 bool (*busy)(struct eg_accesslog_writer *))
{
	struct pollfd pfd = {.fd = w->efd, .events = POLLIN};
	uint64_t junk;

	atomic_store(&w->sleeping, state);
	atomic_thread_fence(memory_order_seq_cst);
	if (!busy(w) && !atomic_load(&w->stop) && !atomic_load(&w->reopen))
		(void)poll(&pfd, 1, ms);
	atomic_store(&w->sleeping, LOGGER_AWAKE);
	(void)!read(w->efd, &junk, sizeof(junk));
}

static bool rings_not_empty(struct eg_accesslog_writer *w)
{
	return !rings_empty(w);
}

static void do_reopen(struct eg_accesslog_writer *w)
{
	int fd;

	if (!w->path)
		return;
	fd = open_path(w->path);
	if (fd < 0) { /* keep writing to the old file; the next request retries */
		atomic_fetch_add_explicit(&w->ctr->errors, 1, memory_order_relaxed);
		return;
	}
	(void)close(w->fd);
	w->fd = fd;
}

static void *logger_main(void *arg)
{
	struct eg_accesslog_writer *w = arg;

	for (;;) {
		uint64_t taken;

		if (atomic_exchange(&w->reopen, 0))
			do_reopen(w);
		taken = drain_all(w);
		if (!taken && atomic_load(&w->stop))
			break;
		if (taken) /* more is probably coming: let it gather into one batch */
			doze(w, LOGGER_NAP, NAP_MS, rings_over_half);
		else
			doze(w, LOGGER_IDLE, IDLE_POLL_MS, rings_not_empty);
	}
	return NULL;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static size_t pow2_at_least(size_t n)
{
	size_t c = RING_MIN;

	while (c < n && c < RING_MAX)
		c <<= 1;
	return c;
}

int eg_accesslog_writer_new(const struct eg_accesslog_writer_conf *conf,
                            struct eg_accesslog_writer **ret)
{
	struct eg_accesslog_writer *w;
	sigset_t all, old;
	int r;

	if (!conf || (!conf->path && conf->fd < 0))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = w->efd = -1;
	w->n_rings = conf->n_rings ? conf->n_rings : 1;
	w->cap = pow2_at_least(conf->ring_bytes ? conf->ring_bytes : RING_DEFAULT);
	w->ctr = conf->counters ? conf->counters : &w->own;
	if (!conf->path)
		w->fd = fcntl(conf->fd, F_DUPFD_CLOEXEC, 3);
	else if (strcmp(conf->path, "/dev/stdout") == 0)
		w->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	else if (strcmp(conf->path, "/dev/stderr") == 0)
		w->fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	else if (!(w->path = strdup(conf->path)))
		goto out_nomem;
	else
		w->fd = open_path(w->path);
	if (w->fd < 0) {
		r = w->path ? w->fd : -errno;
		w->fd = -1;
		goto out_free;
	}
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		r = -errno;
		goto out_free;
	}
	w->batch = malloc(BATCH_BYTES);
	w->next = calloc(w->n_rings, sizeof(*w->next));
	w->rings = aligned_alloc(64, w->n_rings * sizeof(*w->rings));
	if (!w->batch || !w->next || !w->rings)
		goto out_nomem;
	memset(w->rings, 0, w->n_rings * sizeof(*w->rings));
	for (unsigned i = 0; i < w->n_rings; i++) {
		w->rings[i].scratch = EG_BUF_INIT(EG_ACCESSLOG_LINE_MAX);
		w->rings[i].data = malloc(w->cap);
		if (!w->rings[i].data)
			goto out_nomem;
	}
	/* The logger runs with every signal blocked: SIGPIPE from a closed pipe becomes EPIPE,
	 * and SIGTERM/SIGHUP keep going to the threads that handle them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&w->thread, NULL, logger_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto out_free;
	*ret = w;
	return 0;

out_nomem:
	r = -ENOMEM;
out_free:
	if (w->rings)
		for (unsigned i = 0; i < w->n_rings; i++)
			free(w->rings[i].data);
	free(w->rings);
	free(w->next);
	free(w->batch);
	if (w->efd >= 0)
		(void)close(w->efd);
	if (w->fd >= 0)
		(void)close(w->fd);
	free(w->path);
	free(w);
	return r;
}

int eg_accesslog_writer_flush(struct eg_accesslog_writer *w, int timeout_ms)
{
	uint64_t target[64];
	unsigned n = EG_MIN(w->n_rings, 64u);
	struct timespec t0, now;

	/* what was queued before the call: head must pass these tails */
	for (unsigned i = 0; i < n; i++)
		target[i] = atomic_load_explicit(&w->rings[i].tail, memory_order_acquire);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		bool done = !atomic_load(&w->reopen);
		uint64_t one = 1;

		for (unsigned i = 0; i < w->n_rings && done; i++) {
			uint64_t head =
			        atomic_load_explicit(&w->rings[i].head, memory_order_acquire);
			uint64_t want = i < n ? target[i]
			                      : atomic_load_explicit(&w->rings[i].tail,
			                                             memory_order_acquire);

			done = head >= want;
		}
		if (done)
			return 0;
		(void)!write(w->efd, &one, sizeof(one));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >=
		    timeout_ms)
			return -ETIMEDOUT;
		(void)poll(NULL, 0, 1);
	}
}

struct eg_accesslog_writer *eg_accesslog_writer_free(struct eg_accesslog_writer *w)
{
	uint64_t one = 1;

	if (!w)
		return NULL;
	atomic_store(&w->stop, 1);
	(void)!write(w->efd, &one, sizeof(one));
	pthread_join(w->thread, NULL);
	for (unsigned i = 0; i < w->n_rings; i++) {
		free(w->rings[i].data);
		eg_buf_done(&w->rings[i].scratch);
	}
	free(w->rings);
	free(w->next);
	free(w->batch);
	(void)close(w->efd);
	(void)close(w->fd);
	free(w->path);
	free(w);
	return NULL;
}
