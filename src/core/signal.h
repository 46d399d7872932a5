/* src/core/signal.h: signals as loop events (signalfd), and the process-wide signal setup.
 * May include: core.
 *
 * Rule: call eg_signal_block() for every signal the process handles (SIGTERM, SIGINT, SIGHUP,
 * ...) on the main thread BEFORE starting any other thread, so that every thread inherits the
 * blocked mask and the signals can only be consumed through the signalfd of the loop that
 * watches them (usually the control thread's). core/worker.c additionally blocks all
 * asynchronous signals in worker threads. */
#ifndef EG_CORE_SIGNAL_H
#define EG_CORE_SIGNAL_H

#include <signal.h>
#include <stddef.h>

#include "core/compiler.h"
#include "core/loop.h"

struct eg_signal_watch;
/* @signo: the signal received; @pid: the sender (0 if the kernel). */
typedef void (*eg_signal_cb)(struct eg_signal_watch *sw, int signo, int pid);

struct eg_signal_watch {
	struct eg_io_watch io; /* on the signalfd */
	struct eg_loop *loop;
	eg_signal_cb cb;
	void *data;
};

/* Blocks @signals (n of them) in the calling thread. 0 or -errno. */
int eg_signal_block(const int *signals, size_t n);
/* Sets SIGPIPE to SIG_IGN for the process, so a write to a closed socket or pipe returns
 * -EPIPE instead of killing it. 0 or -errno. */
int eg_signal_ignore_sigpipe(void);
/* Blocks @signals in the calling thread and delivers them to @cb on @loop's thread through a
 * non-blocking signalfd. 0 or -errno (then nothing is watched). */
int eg_signal_watch_start(struct eg_signal_watch *sw, struct eg_loop *loop, const int *signals,
                          size_t n, eg_signal_cb cb, void *data);
/* Stops watching and closes the signalfd (the signals stay blocked). No-op if not started. */
void eg_signal_watch_stop(struct eg_signal_watch *sw);

#endif /* EG_CORE_SIGNAL_H */
