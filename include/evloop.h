/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_EVLOOP_H
#define LKVM_EVLOOP_H

#include <stdint.h>

#include "err.h"

/* The main thread's epoll loop: terminal input, signals, stop requests. */
struct ev_source {
	int fd;
	void (*cb)(struct ev_source *src, uint32_t events);
	void *opaque;
};

struct evloop {
	int epfd;
};

int evloop_init(struct evloop *loop, struct lkvm_err *e);
int evloop_add(struct evloop *loop, struct ev_source *src, uint32_t events, struct lkvm_err *e);
int evloop_mod(struct evloop *loop, struct ev_source *src, uint32_t events);
void evloop_del(struct evloop *loop, struct ev_source *src);
/* Waits up to timeout_ms (-1: forever) and runs the callbacks of ready sources. */
int evloop_run_once(struct evloop *loop, int timeout_ms);
void evloop_exit(struct evloop *loop);

#endif
