/* src/proxy/worker.h: the control thread's messages to a worker (private to the module). */
#ifndef EG_PROXY_WORKER_H
#define EG_PROXY_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/worker.h"

struct pconf;

#define WMSG_MAX_LISTENERS 64

/* One message per worker per publication: its snapshot reference and its listener
 * changes. The worker owns everything in it once posted. */
struct wmsg {
	struct pconf *pc; /* one reference, or NULL */
	unsigned nadd, ndel;
	struct {
		uint16_t port;
		int fd;
		bool capture;
	} add[WMSG_MAX_LISTENERS];
	uint16_t del[WMSG_MAX_LISTENERS];
};

int proxy_worker_post(struct eg_worker *w, struct wmsg *m);
int proxy_worker_init(struct eg_worker *w, void *data);
void proxy_worker_drain(struct eg_worker *w, void *data);
void proxy_worker_fini(struct eg_worker *w, void *data);

#endif /* EG_PROXY_WORKER_H */
