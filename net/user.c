// SPDX-License-Identifier: GPL-2.0
/*
 * -n mode=user[,hostfwd=RULE]...: user-mode networking with libslirp, no
 * privileges needed. The guest's network is 10.0.2.0/24: the gateway (and
 * the host's loopback services) at 10.0.2.2, DNS forwarding at 10.0.2.3,
 * DHCP from 10.0.2.15. hostfwd rules let the host connect into the guest.
 *
 * libslirp is not thread-safe: every call into it comes from the NIC thread.
 * Its frames are plain Ethernet with full checksums, so they reach the guest
 * marked VIRTIO_NET_HDR_F_DATA_VALID. slirp wants plain frames from the guest
 * too: its partial checksums are completed here and its TCPv4 TSO frames
 * segmented here (net_tso4_segment), which saves the guest a transmit, and a
 * kick, per 1.5 KB.
 *
 * Debian ships libslirp only as a shared library: a static lkvm is built
 * without it (HAVE_SLIRP unset) and -n mode=user then says so.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net.h"
#include "util.h"

#ifdef HAVE_SLIRP
#include <arpa/inet.h>
#include <slirp/libslirp.h>

const bool net_have_user = true;

#define USER_MAX_TIMERS 8

struct user_timer {
	bool used;
	bool opaque_id; /* timer_new_opaque: fire through slirp_handle_timer */
	SlirpTimerId id;
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
};

struct net_user {
	struct net_backend *nb;
	Slirp *slirp;
	uint8_t *txbuf; /* NET_MAX_FRAME: slirp_input wants one flat frame */
	uint8_t *segbuf; /* NET_MAX_FRAME: one segment of a TSO frame */
	struct user_timer timers[USER_MAX_TIMERS];
	/* this poll round */
	struct net_pollset *ps;
	bool want_rx;
};

static int64_t user_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ssize_t user_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_user *u = opaque;
	struct net_hdr h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };

	/* the NIC copies it or drops (and counts) it: slirp's TCP retransmits */
	u->nb->sink.frame(u->nb->sink.opaque, &h, buf, len);
	return (ssize_t)len;
}

static void user_guest_error(const char *msg, void *opaque)
{
	struct net_user *u = opaque;

	if (u->nb->guest_errors++ < 10)
		log_warn(u->nb->log, "user-mode network: guest error: %s", msg);
}

static int64_t user_clock_get_ns(void *opaque)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct user_timer *user_timer_alloc(struct net_user *u)
{
	unsigned int i;

	for (i = 0; i < USER_MAX_TIMERS; i++) {
		if (!u->timers[i].used) {
			u->timers[i] = (struct user_timer){ .used = true, .expire_ms = -1 };
			return &u->timers[i];
		}
	}
	log_err(u->nb->log, "user-mode network: out of timers");
	return NULL;
}

static void *user_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct user_timer *t = user_timer_alloc(opaque);

	if (t) {
		t->cb = cb;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void *user_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct user_timer *t = user_timer_alloc(opaque);

	if (t) {
		t->opaque_id = true;
		t->id = id;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void user_timer_free(void *timer, void *opaque)
{
	struct user_timer *t = timer;

	if (t)
		t->used = false;
}

static void user_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct user_timer *t = timer;

	if (t)
		t->expire_ms = expire_ms;
}

static void user_register_poll_fd(int fd, void *opaque)
{
	/* every round asks slirp_pollfds_fill for its fds */
}

static void user_unregister_poll_fd(int fd, void *opaque)
{
}

static void user_notify(void *opaque)
{
	/* only guestfwd uses it; lkvm has none */
}

static const SlirpCb user_cb = {
	.send_packet = user_send_packet,
	.guest_error = user_guest_error,
	.clock_get_ns = user_clock_get_ns,
	.timer_new = user_timer_new,
	.timer_free = user_timer_free,
	.timer_mod = user_timer_mod,
	.register_poll_fd = user_register_poll_fd,
	.unregister_poll_fd = user_unregister_poll_fd,
	.notify = user_notify,
	.timer_new_opaque = user_timer_new_opaque,
};

static void user_free(struct net_user *u)
{
	if (u->slirp)
		slirp_cleanup(u->slirp);
	free(u->txbuf);
	free(u->segbuf);
	free(u);
}

static int user_open(struct net_backend *nb, const struct net_opts *o, struct lkvm_err *e)
{
	struct net_user *u = calloc(1, sizeof(*u));
	SlirpConfig cfg;
	unsigned int i;

	if (!u)
		return err_set(e, "out of memory");
	u->nb = nb;
	u->txbuf = malloc(NET_MAX_FRAME);
	u->segbuf = malloc(NET_MAX_FRAME);
	if (!u->txbuf || !u->segbuf) {
		user_free(u);
		return err_set(e, "out of memory");
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = 4;
	cfg.in_enabled = true;
	cfg.vnetwork.s_addr = htonl(0x0a000200);    /* 10.0.2.0 */
	cfg.vnetmask.s_addr = htonl(0xffffff00);    /* /24 */
	cfg.vhost.s_addr = htonl(0x0a000202);       /* 10.0.2.2: gateway, host loopback */
	cfg.vdhcp_start.s_addr = htonl(0x0a00020f); /* 10.0.2.15 */
	cfg.vnameserver.s_addr = htonl(0x0a000203); /* 10.0.2.3 */
	cfg.vhostname = "lkvm";
	cfg.if_mtu = NET_MTU;
	cfg.if_mru = NET_MTU;
	u->slirp = slirp_new(&cfg, &user_cb, u);
	if (!u->slirp) {
		user_free(u);
		return err_set(e, "-n mode=user: libslirp would not start");
	}
	for (i = 0; i < o->nr_fwd; i++) {
		const struct net_hostfwd *f = &o->fwd[i];

		if (slirp_add_hostfwd(u->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
				      f->guest_port) < 0) {
			char host[INET_ADDRSTRLEN];
			int err = errno;

			inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
			err_set(e, "-n mode=user: cannot forward %s %s:%u to the guest's port %u%s%s",
				f->udp ? "udp" : "tcp", host, f->host_port, f->guest_port,
				err ? ": " : "", err ? strerror(err) : "");
			user_free(u);
			return -1;
		}
	}
	nb->priv = u;
	nb->link_up = true;
	/* checksums and TSO are completed here, in software */
	nb->tx_offloads = NET_OFF_CSUM | NET_OFF_TSO4;
	nb->rx_offloads = NET_OFF_CSUM;
	log_info(nb->log, "user-mode network (libslirp %s): 10.0.2.0/24, gateway 10.0.2.2, %u hostfwd rule(s)",
		 slirp_version_string(), o->nr_fwd);
	return 0;
}

static void user_close(struct net_backend *nb)
{
	if (nb->priv)
		user_free(nb->priv);
	nb->priv = NULL;
}

static void user_input(void *opaque, const uint8_t *f, size_t len)
{
	struct net_user *u = opaque;

	slirp_input(u->slirp, f, (int)len);
}

static int user_send(struct net_backend *nb, const struct net_hdr *hdr, const struct iovec *iov,
		     unsigned int n, size_t len)
{
	struct net_user *u = nb->priv;
	size_t off = 0;
	unsigned int i;

	if ((hdr->gso_type != VIRTIO_NET_HDR_GSO_NONE && hdr->gso_type != VIRTIO_NET_HDR_GSO_TCPV4) ||
	    len > NET_MAX_FRAME)
		return -1;
	/* one copy: the guest cannot change the frame while slirp parses it */
	for (i = 0; i < n && off < len; i++) {
		size_t c = MIN(iov[i].iov_len, len - off);

		memcpy(u->txbuf + off, iov[i].iov_base, c);
		off += c;
	}
	/* TSO: slirp wants segments it could have had from the wire, checksummed */
	if (hdr->gso_type == VIRTIO_NET_HDR_GSO_TCPV4)
		return net_tso4_segment(u->txbuf, off, hdr, u->segbuf, user_input, u) < 0 ? -1 : 0;
	if ((hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !net_csum_complete(u->txbuf, off, hdr))
		return -1;
	slirp_input(u->slirp, u->txbuf, (int)off);
	return 0;
}

static int user_add_poll(int fd, int events, void *opaque)
{
	struct net_user *u = opaque;
	short ev = 0;

	/* no room for the guest: leave the host's data in its sockets */
	if ((events & SLIRP_POLL_IN) && u->want_rx)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	/* nothing to wait for (polling it would only spin on a hang-up); slirp skips -1 */
	if (!ev)
		return -1;
	return net_pollset_add(u->ps, fd, ev);
}

static int user_get_revents(int idx, void *opaque)
{
	struct net_user *u = opaque;
	short re;
	int r = 0;

	if (idx < 0 || (unsigned int)idx >= u->ps->n)
		return 0;
	re = u->ps->fds[idx].revents;
	if (re & POLLIN)
		r |= SLIRP_POLL_IN;
	if (re & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (re & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (re & (POLLERR | POLLNVAL))
		r |= SLIRP_POLL_ERR;
	if (re & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

static void user_poll_fill(struct net_backend *nb, struct net_pollset *ps, bool want_rx,
			   int *timeout_ms)
{
	struct net_user *u = nb->priv;
	uint32_t t = UINT32_MAX;
	int64_t now = user_now_ms();
	unsigned int i;

	u->ps = ps;
	u->want_rx = want_rx;
	slirp_pollfds_fill(u->slirp, &t, user_add_poll, u);
	for (i = 0; i < USER_MAX_TIMERS; i++) {
		const struct user_timer *tm = &u->timers[i];

		if (tm->used && tm->expire_ms >= 0)
			t = MIN(t, (uint32_t)MAX(tm->expire_ms - now, 0));
	}
	if (t != UINT32_MAX && (*timeout_ms < 0 || t < (uint32_t)*timeout_ms))
		*timeout_ms = (int)MIN(t, (uint32_t)INT32_MAX);
}

static void user_poll_done(struct net_backend *nb, struct net_pollset *ps)
{
	struct net_user *u = nb->priv;
	int64_t now;
	unsigned int i;

	u->ps = ps;
	slirp_pollfds_poll(u->slirp, 0, user_get_revents, u);
	now = user_now_ms();
	for (i = 0; i < USER_MAX_TIMERS; i++) {
		struct user_timer *t = &u->timers[i];

		if (!t->used || t->expire_ms < 0 || t->expire_ms > now)
			continue;
		t->expire_ms = -1;
		if (t->opaque_id)
			slirp_handle_timer(u->slirp, t->id, t->cb_opaque);
		else
			t->cb(t->cb_opaque);
	}
}

const struct net_backend_ops net_user_ops = {
	.name = "user",
	.open = user_open,
	.close = user_close,
	.send = user_send,
	.poll_fill = user_poll_fill,
	.poll_done = user_poll_done,
};

#else /* !HAVE_SLIRP */

const bool net_have_user = false;

static int user_open(struct net_backend *nb, const struct net_opts *o, struct lkvm_err *e)
{
	return err_set(e, "-n mode=user: this lkvm is built without user-mode networking (no libslirp; a static build never has it): use mode=tap, or a dynamic build (see README)");
}

static void user_close(struct net_backend *nb)
{
}

static int user_send(struct net_backend *nb, const struct net_hdr *hdr, const struct iovec *iov,
		     unsigned int n, size_t len)
{
	return -1;
}

const struct net_backend_ops net_user_ops = {
	.name = "user",
	.open = user_open,
	.close = user_close,
	.send = user_send,
};

#endif
