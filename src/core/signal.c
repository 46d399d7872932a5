/* src/core/signal.c: signalfd-based signal delivery into a loop. */
#include "core/signal.h"

#include <errno.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

static int make_set(const int *signals, size_t n, sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < n; i++)
		if (sigaddset(set, signals[i]) < 0)
			return -errno;
	return 0;
}

int eg_signal_block(const int *signals, size_t n)
{
	sigset_t set;
	int r = make_set(signals, n, &set);

	if (r < 0)
		return r;
	r = pthread_sigmask(SIG_BLOCK, &set, NULL);
	return r ? -r : 0;
}

int eg_signal_ignore_sigpipe(void)
{
	struct sigaction sa = {0};

	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGPIPE, &sa, NULL) < 0 ? -errno : 0;
}

static void signal_io_cb(struct eg_io_watch *w, uint32_t events)
{
	struct eg_signal_watch *sw = w->data;
	struct signalfd_siginfo si;

	(void)events;
	/* One signal per wake-up: the fd is level-triggered, so the loop comes back for the
	 * next one, and the callback may stop (and free) the watch. */
	if (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		sw->cb(sw, (int)si.ssi_signo, (int)si.ssi_pid);
}

int eg_signal_watch_start(struct eg_signal_watch *sw, struct eg_loop *loop, const int *signals,
                          size_t n, eg_signal_cb cb, void *data)
{
	sigset_t set;
	int fd, r;

	r = make_set(signals, n, &set);
	if (r < 0)
		return r;
	r = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (r)
		return -r;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	sw->loop = loop;
	sw->cb = cb;
	sw->data = data;
	eg_io_watch_init(&sw->io, fd, signal_io_cb, sw);
	r = eg_loop_io_set(loop, &sw->io, EG_IO_READ);
	if (r < 0) {
		(void)close(fd);
		sw->io.fd = -1;
		sw->loop = NULL;
		return r;
	}
	return 0;
}

void eg_signal_watch_stop(struct eg_signal_watch *sw)
{
	if (!sw->loop)
		return;
	eg_loop_io_stop(sw->loop, &sw->io);
	(void)close(sw->io.fd);
	sw->io.fd = -1;
	sw->loop = NULL;
}
