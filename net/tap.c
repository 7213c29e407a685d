// SPDX-License-Identifier: GPL-2.0
/*
 * -n mode=tap[,tapif=NAME][,host_ip=ADDR[/LEN]]: a tap device, created (or,
 * if NAME exists and is persistent, attached to) through /dev/net/tun, with a
 * vnet header on every frame (IFF_VNET_HDR, TUNSETVNETHDRSZ 12).
 *
 * Byte order: the tap's vnet header is always little-endian (TUNSETVNETLE),
 * and lkvm converts between it and the guest's header, which virtio/net.c
 * decodes and encodes through the queue accessors (guest order on a legacy
 * transport). Matching the queue with TUNSETVNETBE instead would need
 * CONFIG_TUN_VNET_CROSS_LE, which Debian's arm64 kernel does not set; and this
 * way the host kernel only ever sees a header lkvm has checked.
 *
 * Offloads: the kernel takes partial checksums and TSO from the guest; it
 * sends them to the guest only once the guest has acked them
 * (TUNSETOFFLOAD, from set_rx_offloads).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net.h"
#include "util.h"

#define TAP_HDR_SIZE 12 /* struct virtio_net_hdr_mrg_rxbuf */
#define TAP_RX_BATCH 64
#define TAP_IOV_MAX 1024 /* writev's limit (IOV_MAX) */

struct net_tap {
	int fd;
	char name[NET_IFNAME_MAX];
	int pidx; /* its index in this round's poll set, -1: not polled */
	bool dead; /* reads failed: the interface went away */
	struct iovec *iov; /* TAP_IOV_MAX: the header, then the frame's pieces */
	uint8_t *rxbuf; /* TAP_HDR_SIZE + NET_MAX_FRAME */
	uint8_t *txbuf; /* a linear copy when a frame has too many pieces for writev */
};

static void le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void tap_hdr_encode(uint8_t *p, const struct net_hdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	le16_put(p + 2, h->hdr_len);
	le16_put(p + 4, h->gso_size);
	le16_put(p + 6, h->csum_start);
	le16_put(p + 8, h->csum_offset);
	le16_put(p + 10, 0); /* num_buffers: not the tap's business */
}

static void tap_hdr_decode(const uint8_t *p, struct net_hdr *h)
{
	h->flags = p[0];
	h->gso_type = p[1];
	h->hdr_len = le16_get(p + 2);
	h->gso_size = le16_get(p + 4);
	h->csum_start = le16_get(p + 6);
	h->csum_offset = le16_get(p + 8);
}

static unsigned int tap_tun_offloads(uint32_t off)
{
	unsigned int f = 0;

	if (off & NET_OFF_CSUM) {
		f |= TUN_F_CSUM;
		if (off & NET_OFF_TSO4)
			f |= TUN_F_TSO4;
		if (off & NET_OFF_TSO6)
			f |= TUN_F_TSO6;
		if ((off & NET_OFF_ECN) && (f & (TUN_F_TSO4 | TUN_F_TSO6)))
			f |= TUN_F_TSO_ECN;
	}
	return f;
}

/* host_ip, and IFF_UP unless it is up already */
static int tap_configure(struct net_tap *t, const struct net_opts *o, const struct logger *log,
			 struct lkvm_err *e)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	if (s < 0)
		return err_errno(e, errno, "tap %s: socket", t->name);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, sizeof(t->name));
	if (o->host_ip_set) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

		sin->sin_family = AF_INET;
		sin->sin_addr = o->host_ip;
		if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
			err_errno(e, errno, "tap %s: cannot set host_ip %s", t->name,
				  inet_ntoa(o->host_ip));
			goto out;
		}
		sin->sin_addr.s_addr = htonl(~0u << (32 - o->host_prefix));
		if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
			err_errno(e, errno, "tap %s: cannot set the netmask /%u", t->name,
				  o->host_prefix);
			goto out;
		}
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		err_errno(e, errno, "tap %s: SIOCGIFFLAGS", t->name);
		goto out;
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
			if (o->host_ip_set) {
				err_errno(e, errno, "tap %s: cannot bring it up", t->name);
				goto out;
			}
			/* someone else's persistent tap: its owner brings it up */
			log_warn(log, "tap %s is down and lkvm cannot bring it up: %s", t->name,
				 strerror(errno));
		}
	}
	r = 0;
out:
	close(s);
	return r;
}

static void tap_free(struct net_tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	free(t->iov);
	free(t->rxbuf);
	free(t->txbuf);
	free(t);
}

static int tap_open(struct net_backend *nb, const struct net_opts *o, struct lkvm_err *e)
{
	struct net_tap *t = calloc(1, sizeof(*t));
	unsigned int features = 0, all;
	struct ifreq ifr;
	int hdrsz = TAP_HDR_SIZE, le = 1;

	if (!t)
		return err_set(e, "out of memory");
	t->pidx = -1;
	t->rxbuf = malloc(TAP_HDR_SIZE + NET_MAX_FRAME);
	t->txbuf = malloc(TAP_HDR_SIZE + NET_MAX_FRAME);
	t->iov = calloc(TAP_IOV_MAX, sizeof(*t->iov));
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (!t->rxbuf || !t->txbuf || !t->iov) {
		tap_free(t);
		return err_set(e, "out of memory");
	}
	if (t->fd < 0) {
		err_errno(e, errno, "-n mode=tap: cannot open /dev/net/tun (modprobe tun?)");
		tap_free(t);
		return -1;
	}
	if (ioctl(t->fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR)) {
		tap_free(t);
		return err_set(e, "-n mode=tap: this kernel's tun has no IFF_VNET_HDR");
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->tapif[0] ? o->tapif : "lkvm%d");
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;

		err_errno(e, err, "-n mode=tap: cannot %s tap %s%s", o->tapif[0] ? "create or attach" : "create",
			  ifr.ifr_name,
			  err == EPERM ? " (needs CAP_NET_ADMIN, or a persistent tap you own)" :
			  err == EBUSY ? " (in use)" : "");
		tap_free(t);
		return -1;
	}
	memcpy(t->name, ifr.ifr_name, sizeof(t->name) - 1);
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
		err_errno(e, errno, "tap %s: TUNSETVNETHDRSZ", t->name);
		tap_free(t);
		return -1;
	}
	/* the header is LE whatever the host: on an LE host that is also the default */
	if (ioctl(t->fd, TUNSETVNETLE, &le) < 0 && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) {
		err_errno(e, errno, "tap %s: TUNSETVNETLE", t->name);
		tap_free(t);
		return -1;
	}
	/* which offloads the kernel can hand us; none until the guest acks them */
	all = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	nb->rx_offloads = ioctl(t->fd, TUNSETOFFLOAD, all) == 0 ?
				  NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6 | NET_OFF_ECN : 0;
	if (ioctl(t->fd, TUNSETOFFLOAD, 0) < 0)
		nb->rx_offloads = 0;
	if (tap_configure(t, o, nb->log, e)) {
		tap_free(t);
		return -1;
	}
	nb->tx_offloads = NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6 | NET_OFF_ECN;
	nb->link_up = true;
	nb->priv = t;
	log_info(nb->log, "tap %s: vnet header %d bytes, little-endian", t->name, TAP_HDR_SIZE);
	return 0;
}

static void tap_close(struct net_backend *nb)
{
	if (nb->priv)
		tap_free(nb->priv);
	nb->priv = NULL;
}

static int tap_set_rx_offloads(struct net_backend *nb, uint32_t off)
{
	struct net_tap *t = nb->priv;

	return ioctl(t->fd, TUNSETOFFLOAD, tap_tun_offloads(off & nb->rx_offloads)) < 0 ? -1 : 0;
}

static int tap_send(struct net_backend *nb, const struct net_hdr *hdr, const struct iovec *iov,
		    unsigned int n, size_t len)
{
	struct net_tap *t = nb->priv;
	uint8_t vh[TAP_HDR_SIZE];
	ssize_t r;

	tap_hdr_encode(vh, hdr);
	if (n < TAP_IOV_MAX) {
		t->iov[0] = (struct iovec){ .iov_base = vh, .iov_len = sizeof(vh) };
		memcpy(t->iov + 1, iov, n * sizeof(*iov));
		r = writev(t->fd, t->iov, (int)n + 1);
	} else {
		size_t off = TAP_HDR_SIZE;
		unsigned int i;

		/* more pieces than writev takes: one copy */
		memcpy(t->txbuf, vh, sizeof(vh));
		for (i = 0; i < n && off - TAP_HDR_SIZE < len; i++) {
			size_t c = MIN(iov[i].iov_len, len - (off - TAP_HDR_SIZE));

			memcpy(t->txbuf + off, iov[i].iov_base, c);
			off += c;
		}
		r = write(t->fd, t->txbuf, off);
	}
	if (r != (ssize_t)(len + TAP_HDR_SIZE)) {
		/* EAGAIN (a full tap), EIO (it is down), EINVAL (a header the kernel refused): drop */
		if (r < 0 && errno != EAGAIN && errno != EIO && nb->guest_errors++ < 5)
			log_debug(nb->log, "tap %s: frame of %zu bytes dropped: %s", t->name, len,
				  strerror(errno));
		return -1;
	}
	return 0;
}

static void tap_poll_fill(struct net_backend *nb, struct net_pollset *ps, bool want_rx,
			  int *timeout_ms)
{
	struct net_tap *t = nb->priv;

	/* no room: the frames wait in the tap's queue, which the kernel bounds */
	t->pidx = want_rx && !t->dead ? net_pollset_add(ps, t->fd, POLLIN) : -1;
}

static void tap_poll_done(struct net_backend *nb, struct net_pollset *ps)
{
	struct net_tap *t = nb->priv;
	unsigned int i;

	if (t->pidx < 0 || !(ps->fds[t->pidx].revents & (POLLIN | POLLERR | POLLHUP)))
		return;
	for (i = 0; i < TAP_RX_BATCH; i++) {
		ssize_t r = read(t->fd, t->rxbuf, TAP_HDR_SIZE + NET_MAX_FRAME);
		struct net_hdr h;

		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			log_err(nb->log, "tap %s: read: %s; no more input from it", t->name,
				strerror(errno));
			t->dead = true;
			return;
		}
		if (r < TAP_HDR_SIZE + NET_MIN_FRAME)
			continue;
		tap_hdr_decode(t->rxbuf, &h);
		if (!nb->sink.frame(nb->sink.opaque, &h, t->rxbuf + TAP_HDR_SIZE,
				    (size_t)r - TAP_HDR_SIZE))
			return;
	}
}

const struct net_backend_ops net_tap_ops = {
	.name = "tap",
	.open = tap_open,
	.close = tap_close,
	.send = tap_send,
	.set_rx_offloads = tap_set_rx_offloads,
	.poll_fill = tap_poll_fill,
	.poll_done = tap_poll_done,
};
