// SPDX-License-Identifier: GPL-2.0
/* -n mode=none: a NIC with its cable unplugged. The link is down; frames are dropped. */
#include "net.h"

static int none_open(struct net_backend *nb, const struct net_opts *o, struct lkvm_err *e)
{
	nb->link_up = false;
	return 0;
}

static void none_close(struct net_backend *nb)
{
}

static int none_send(struct net_backend *nb, const struct net_hdr *hdr, const struct iovec *iov,
		     unsigned int n, size_t len)
{
	return -1;
}

const struct net_backend_ops net_none_ops = {
	.name = "none",
	.open = none_open,
	.close = none_close,
	.send = none_send,
};
