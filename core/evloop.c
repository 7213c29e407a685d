// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "evloop.h"

int evloop_init(struct evloop *loop, struct lkvm_err *e)
{
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return err_errno(e, errno, "epoll_create1");
	return 0;
}

int evloop_add(struct evloop *loop, struct ev_source *src, uint32_t events, struct lkvm_err *e)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0)
		return err_errno(e, errno, "epoll_ctl(add fd %d)", src->fd);
	return 0;
}

int evloop_mod(struct evloop *loop, struct ev_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, src->fd, &ev);
}

void evloop_del(struct evloop *loop, struct ev_source *src)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, src->fd, NULL);
}

int evloop_run_once(struct evloop *loop, int timeout_ms)
{
	struct epoll_event evs[8];
	int i, n;

	n = epoll_wait(loop->epfd, evs, 8, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		struct ev_source *src = evs[i].data.ptr;

		src->cb(src, evs[i].events);
	}
	return n;
}

void evloop_exit(struct evloop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}
