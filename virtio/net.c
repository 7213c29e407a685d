// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net (virtio 1.2, 5.1) over a net/ backend: receive queue 0,
 * transmit queue 1; MAC, STATUS, MTU, MRG_RXBUF, and the checksum and TSO
 * offloads the backend can do.
 *
 * Byte order: the virtio-net header (and the config's status and mtu) are in
 * the device's order, the guest's on a legacy transport. Every header field
 * goes through the queue accessors (vq_read16/vq_write16 of the queue the
 * header travels on); backends only ever see struct net_hdr in host order.
 *
 * Threads: the device thread only forwards kicks. One NIC thread per device
 * polls the backend's fds and a wake eventfd and does all the work, with
 * vdev->lock held (but never while it sleeps in poll()): transmit in batches,
 * then receive, so a guest that stops reading never stalls its transmits.
 * Frames for the guest that find no receive buffer wait in a bounded ring
 * (net_rxq, 1 MiB); beyond it they are dropped and counted, and while it is
 * full the backend is not polled for input at all (tap frames stay in the
 * kernel's queue, slirp's data in its host sockets).
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "net.h"
#include "thread.h"
#include "util.h"
#include "virtio_devs.h"

#define NET_RX 0
#define NET_TX 1
#define NET_QUEUE_MAX 256
#define NET_CONFIG_SIZE 12 /* mac[6], status, max_virtqueue_pairs, mtu */
#define NET_HDR_LEGACY 10  /* struct virtio_net_hdr */
#define NET_HDR_MRG 12     /* struct virtio_net_hdr_mrg_rxbuf (and every modern header) */
#define NET_TX_BATCH 256   /* transmits per round before receive gets its turn */
#define NET_RXQ_BYTES (1u << 20)

#define BIT(n) (1ULL << (n))

enum net_rx_result {
	NET_RX_DONE,   /* in the guest's buffers */
	NET_RX_WAIT,   /* not enough buffers yet: nothing consumed */
	NET_RX_DROP,   /* the guest cannot take this frame */
	NET_RX_BROKEN, /* the guest broke the ring: device needs reset */
};

struct net_rxbuf {
	uint16_t head;
	uint32_t len;
};

struct virtio_net {
	struct virtio_mmio_dev dev;
	struct virtio_dev_ops ops; /* this NIC's: its features depend on the backend */
	struct net_backend nb;
	uint8_t mac[6];

	/* the NIC thread */
	pthread_t thread;
	bool thread_started;
	int wake_fd;
	_Atomic bool stopping;
	struct net_pollset ps;

	/* NIC thread state, vdev->lock held (reset clears it from a vCPU) */
	struct net_rxq rxq;
	struct vq_elem *rx_elem; /* transmit uses vdev->scratch: a send may receive */
	struct net_rxbuf rxbufs[VQ_MAX_SIZE];
	struct iovec tx_iov[VQ_MAX_IOV];
	bool offloads_set;
	uint64_t offloads_for; /* the guest features they were set for */
	struct net_stats stats;
	void (*mmio_dump)(struct vm_device *base, FILE *f); /* the transport's part */
};

static size_t net_hdr_size(const struct virtio_dev *vdev)
{
	return virtio_has_feature(vdev, VIRTIO_F_VERSION_1) ||
			       virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF) ?
		       NET_HDR_MRG :
		       NET_HDR_LEGACY;
}

static void net_wake(struct virtio_net *n)
{
	uint64_t one = 1;

	if (write(n->wake_fd, &one, sizeof(one)) < 0) {
		/* a saturated counter: the thread wakes anyway */
	}
}

static void net_config_encode(struct virtio_dev *vdev, enum vq_endian e, uint8_t *c)
{
	struct virtio_net *n = vdev->priv;

	/* 5.1.4: the MAC is bytes; status, max_virtqueue_pairs and mtu in order e */
	memcpy(c, n->mac, 6);
	ve_put16(e, c + 6, n->nb.link_up ? VIRTIO_NET_S_LINK_UP : 0);
	ve_put16(e, c + 8, 1);
	ve_put16(e, c + 10, NET_MTU);
}

static void net_config_write(struct virtio_dev *vdev, enum vq_endian e, const uint8_t *buf,
			     uint32_t off, uint32_t len)
{
	struct virtio_net *n = vdev->priv;

	/* a legacy driver without CTRL_MAC_ADDR sets the MAC here (5.1.4.1) */
	if (vdev->transport == VIRTIO_MMIO_LEGACY && off < 6)
		memcpy(n->mac, buf, 6);
}

/* ---- receive: frames for the guest ---- */

static bool net_rx_live(struct virtio_net *n)
{
	struct virtio_dev *vdev = &n->dev.vdev;

	return n->nb.link_up && virtio_dev_live(vdev) && vdev->vqs[NET_RX].ready;
}

/* Can the NIC take a frame now (to the guest or the ring)? */
static bool net_rx_room(struct virtio_net *n)
{
	return net_rx_live(n) && net_rxq_room(&n->rxq, NET_MAX_FRAME);
}

/* The header the guest gets: only what it acked. false: it cannot take the frame. */
static bool net_rx_hdr(const struct virtio_dev *vdev, const struct net_hdr *in, struct net_hdr *h)
{
	bool csum = virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM);
	uint8_t gso = in->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	*h = *in;
	h->flags &= csum ? VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID : 0;
	/* a partial checksum the guest did not agree to (tap offloads of an older session) */
	if ((in->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !csum)
		return false;
	if ((in->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_ECN))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !(in->gso_type & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO6);
	default:
		return false;
	}
}

/* Gives back the last nbufs chains popped: the guest keeps them for the next frame. */
static void net_rx_unpop(struct virtqueue *vq, unsigned int nbufs)
{
	/*
	 * Nothing was pushed, so the guest has seen none of it. With event idx,
	 * avail_event stays where vq_pop left it: at most the guest's avail
	 * index, so its next buffer still kicks us.
	 */
	vq->last_avail -= (uint16_t)nbufs;
}

/*
 * One frame into the guest's receive buffers (5.1.6.4): the header in the
 * first chain, the data across as many chains as it takes with MRG_RXBUF,
 * else in one.
 */
static enum net_rx_result net_rx_deliver(struct virtio_net *n, const struct net_hdr *in,
					 const uint8_t *data, size_t len)
{
	struct virtio_dev *vdev = &n->dev.vdev;
	struct virtqueue *vq = &vdev->vqs[NET_RX];
	struct vq_elem *elem = n->rx_elem;
	bool mrg = virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
	size_t hlen = net_hdr_size(vdev), done = 0;
	struct iovec hiov[NET_HDR_MRG];
	unsigned int nh = 0, nbufs = 0, i;
	uint8_t raw[NET_HDR_MRG];
	struct net_hdr h;

	if (!net_rx_hdr(vdev, in, &h))
		return NET_RX_DROP;
	while (!nbufs || done < len) {
		size_t skip = nbufs ? 0 : hlen, w;
		int r;

		if (nbufs == vq->num) {
			/* more than a whole ring of buffers: it never fits */
			net_rx_unpop(vq, nbufs);
			return NET_RX_DROP;
		}
		r = vq_pop(vq, elem);
		if (r < 0) {
			virtio_dev_needs_reset(vdev, vq->why);
			return NET_RX_BROKEN;
		}
		if (!r) {
			net_rx_unpop(vq, nbufs);
			return NET_RX_WAIT;
		}
		if (elem->out_num || elem->in_len < skip) {
			virtio_dev_needs_reset(vdev, elem->out_num ? "receive buffer is not writable" :
								     "receive buffer smaller than the header");
			return NET_RX_BROKEN;
		}
		if (!nbufs) {
			/* where the header goes: the first hlen bytes of the first chain */
			size_t left = hlen;

			for (i = 0; i < elem->in_num && left; i++) {
				size_t c = MIN(elem->iov[i].iov_len, left);

				hiov[nh++] = (struct iovec){ .iov_base = elem->iov[i].iov_base, .iov_len = c };
				left -= c;
			}
		}
		w = vq_iov_write(elem->iov, elem->in_num, skip, data + done, len - done);
		done += w;
		n->rxbufs[nbufs++] = (struct net_rxbuf){ .head = elem->head, .len = (uint32_t)(skip + w) };
		if (!mrg && done < len) {
			/* without MRG_RXBUF a frame must fit one chain */
			net_rx_unpop(vq, nbufs);
			return NET_RX_DROP;
		}
	}
	raw[0] = h.flags;
	raw[1] = h.gso_type;
	vq_write16(vq, raw + 2, h.hdr_len);
	vq_write16(vq, raw + 4, h.gso_size);
	vq_write16(vq, raw + 6, h.csum_start);
	vq_write16(vq, raw + 8, h.csum_offset);
	if (hlen == NET_HDR_MRG)
		vq_write16(vq, raw + 10, (uint16_t)nbufs); /* 1 without MRG_RXBUF */
	vq_iov_write(hiov, nh, 0, raw, hlen);
	for (i = 0; i < nbufs; i++)
		vq_push(vq, n->rxbufs[i].head, n->rxbufs[i].len);
	n->stats.rx_frames++;
	n->stats.rx_bytes += len;
	return NET_RX_DONE;
}

/* The backend's sink (NIC thread, vdev->lock held). */
static bool net_sink_frame(void *opaque, const struct net_hdr *hdr, const void *data, size_t len)
{
	struct virtio_net *n = opaque;

	if (!net_rx_live(n) || len < NET_MIN_FRAME || len > NET_MAX_FRAME) {
		n->stats.rx_dropped++;
		return false;
	}
	if (!n->rxq.count) {
		switch (net_rx_deliver(n, hdr, data, len)) {
		case NET_RX_DONE:
			return net_rx_room(n);
		case NET_RX_DROP:
			n->stats.rx_dropped++;
			return net_rx_room(n);
		case NET_RX_BROKEN:
			n->stats.rx_dropped++;
			return false;
		case NET_RX_WAIT:
			break;
		}
	}
	if (!net_rxq_push(&n->rxq, hdr, data, len)) {
		n->stats.rx_dropped++;
		return false;
	}
	return net_rx_room(n);
}

/* Frames that waited for buffers, oldest first. */
static void net_rx_flush(struct virtio_net *n)
{
	const uint8_t *data;
	struct net_hdr h;
	size_t len;

	if (!net_rx_live(n)) {
		n->stats.rx_dropped += n->rxq.count;
		net_rxq_clear(&n->rxq);
		return;
	}
	while (net_rxq_peek(&n->rxq, &h, &data, &len)) {
		enum net_rx_result r = net_rx_deliver(n, &h, data, len);

		if (r == NET_RX_WAIT)
			return;
		if (r == NET_RX_DROP)
			n->stats.rx_dropped++;
		net_rxq_pop(&n->rxq);
		if (r == NET_RX_BROKEN) {
			n->stats.rx_dropped += n->rxq.count;
			net_rxq_clear(&n->rxq);
			return;
		}
	}
}

/* ---- transmit: frames from the guest ---- */

/* Checks a transmit header against what was negotiated. */
static bool net_tx_hdr_ok(const struct virtio_net *n, struct net_hdr *h, size_t len)
{
	const struct virtio_dev *vdev = &n->dev.vdev;
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	/* DATA_VALID and RSC_INFO mean nothing from a driver */
	h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (h->flags) {
		if (!virtio_has_feature(vdev, VIRTIO_NET_F_CSUM) || !(n->nb.tx_offloads & NET_OFF_CSUM))
			return false;
		if (h->csum_start >= len || (size_t)h->csum_offset + 2 > len - h->csum_start)
			return false;
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    (gso == VIRTIO_NET_HDR_GSO_NONE || !virtio_has_feature(vdev, VIRTIO_NET_F_HOST_ECN)))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return virtio_has_feature(vdev, VIRTIO_NET_F_HOST_TSO4) && h->gso_size;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return virtio_has_feature(vdev, VIRTIO_NET_F_HOST_TSO6) && h->gso_size;
	default:
		return false;
	}
}

/* One transmit chain (5.1.6.2): header, then the frame. false: malformed. */
static bool net_tx_one(struct virtio_net *n, struct virtqueue *vq, struct vq_elem *elem)
{
	size_t hlen = net_hdr_size(&n->dev.vdev), len, skip = hlen;
	uint8_t raw[NET_HDR_MRG];
	unsigned int i, cnt = 0;
	struct net_hdr h;

	if (elem->in_num || elem->out_len < hlen)
		return false;
	vq_iov_read(elem->iov, elem->out_num, 0, raw, hlen);
	h.flags = raw[0];
	h.gso_type = raw[1];
	h.hdr_len = vq_read16(vq, raw + 2);
	h.gso_size = vq_read16(vq, raw + 4);
	h.csum_start = vq_read16(vq, raw + 6);
	h.csum_offset = vq_read16(vq, raw + 8);
	len = elem->out_len - hlen;
	if (len < NET_MIN_FRAME || len > NET_MAX_FRAME || !net_tx_hdr_ok(n, &h, len)) {
		n->stats.tx_dropped++;
		return true;
	}
	for (i = 0; i < elem->out_num; i++) {
		size_t l = elem->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		n->tx_iov[cnt++] = (struct iovec){ .iov_base = (uint8_t *)elem->iov[i].iov_base + skip,
						   .iov_len = l - skip };
		skip = 0;
	}
	if (n->nb.ops->send(&n->nb, &h, n->tx_iov, cnt, len) < 0) {
		n->stats.tx_dropped++;
	} else {
		n->stats.tx_frames++;
		n->stats.tx_bytes += len;
	}
	return true;
}

/* Up to NET_TX_BATCH transmits; true if more are waiting. */
static bool net_tx(struct virtio_net *n)
{
	struct virtio_dev *vdev = &n->dev.vdev;
	struct virtqueue *vq = &vdev->vqs[NET_TX];
	struct vq_elem *elem = vdev->scratch;
	unsigned int budget = NET_TX_BATCH;

	if (!virtio_dev_live(vdev) || !vq->ready)
		return false;
	for (;;) {
		int r = 0;

		while (budget && virtio_dev_live(vdev) && (r = vq_pop(vq, elem)) > 0) {
			budget--;
			if (!net_tx_one(n, vq, elem)) {
				virtio_dev_needs_reset(vdev, "transmit chain with writable buffers, or shorter than its header");
				return false;
			}
			vq_push(vq, elem->head, 0);
		}
		if (r < 0) {
			virtio_dev_needs_reset(vdev, vq->why);
			return false;
		}
		virtio_dev_signal(vdev, vq);
		if (!budget || !virtio_dev_live(vdev))
			return virtio_dev_live(vdev) && vq_has_avail(vq);
		/* the driver may have added buffers while it saw our old avail_event */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!vq_has_avail(vq))
			return false;
	}
}

/* ---- the NIC thread ---- */

/* Tells the backend which offloads the guest takes, once per driver session. */
static void net_apply_offloads(struct virtio_net *n)
{
	struct virtio_dev *vdev = &n->dev.vdev;
	uint32_t off = 0;

	if (!virtio_dev_live(vdev) || (n->offloads_set && n->offloads_for == vdev->guest_features))
		return;
	n->offloads_set = true;
	n->offloads_for = vdev->guest_features;
	if (!n->nb.ops->set_rx_offloads)
		return;
	if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM))
		off |= NET_OFF_CSUM;
	if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO4))
		off |= NET_OFF_TSO4;
	if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO6))
		off |= NET_OFF_TSO6;
	if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_ECN))
		off |= NET_OFF_ECN;
	if (n->nb.ops->set_rx_offloads(&n->nb, off) < 0)
		log_warn(vdev->log, "%s: the %s backend refused the guest's offloads 0x%x", vdev->label,
			 n->nb.ops->name, off);
}

/* One round of work (vdev->lock held); true if transmits are still waiting. */
static bool net_work(struct virtio_net *n)
{
	struct virtio_dev *vdev = &n->dev.vdev;
	bool more;

	net_apply_offloads(n);
	more = net_tx(n);
	net_rx_flush(n);
	virtio_dev_signal(vdev, &vdev->vqs[NET_RX]);
	return more;
}

static void *net_thread(void *arg)
{
	struct virtio_net *n = arg;
	struct virtio_dev *vdev = &n->dev.vdev;
	uint64_t v;

	while (!atomic_load(&n->stopping)) {
		int timeout = -1, r, qidx[2] = { -1, -1 };
		bool more, want_rx;
		unsigned int q;

		pthread_mutex_lock(&vdev->lock);
		more = net_work(n);
		want_rx = net_rx_room(n);
		pthread_mutex_unlock(&vdev->lock);

		n->ps.n = 0;
		if (net_pollset_add(&n->ps, n->wake_fd, POLLIN) < 0)
			break;
		/* ioeventfd kicks wake this thread itself: one hop, not two */
		for (q = 0; q < 2; q++)
			if (vdev->queue_fd[q] >= 0)
				qidx[q] = net_pollset_add(&n->ps, vdev->queue_fd[q], POLLIN);
		if (n->nb.ops->poll_fill)
			n->nb.ops->poll_fill(&n->nb, &n->ps, want_rx, &timeout);
		if (more)
			timeout = 0;
		r = poll(n->ps.fds, n->ps.n, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_err(vdev->log, "%s: poll: %s; the NIC stops", vdev->label, strerror(errno));
			break;
		}
		if (n->ps.fds[0].revents & POLLIN) {
			if (read(n->wake_fd, &v, sizeof(v)) < 0) {
				/* EAGAIN: drained already */
			}
		}
		for (q = 0; q < 2; q++)
			if (qidx[q] > 0 && (n->ps.fds[qidx[q]].revents & POLLIN))
				virtio_dev_queue_fd_read(vdev, q);
		if (atomic_load(&n->stopping))
			break;
		pthread_mutex_lock(&vdev->lock);
		if (n->nb.ops->poll_done)
			n->nb.ops->poll_done(&n->nb, &n->ps);
		virtio_dev_signal(vdev, &vdev->vqs[NET_RX]);
		pthread_mutex_unlock(&vdev->lock);
	}
	return NULL;
}

static void net_notify(struct virtio_dev *vdev, unsigned int q)
{
	/* transmits to send or receive buffers to fill: the NIC thread does both */
	net_wake(vdev->priv);
}

static void net_reset(struct virtio_dev *vdev)
{
	struct virtio_net *n = vdev->priv;

	n->stats.rx_dropped += n->rxq.count;
	net_rxq_clear(&n->rxq);
	n->offloads_set = false;
}

static void net_thread_stop(struct virtio_net *n)
{
	if (!n->thread_started)
		return;
	atomic_store(&n->stopping, true);
	net_wake(n);
	pthread_join(n->thread, NULL);
	n->thread_started = false;
}

static void net_stop(struct vm_device *base)
{
	struct virtio_net *n = (struct virtio_net *)base;

	virtio_dev_stop(&n->dev.vdev);
	net_thread_stop(n);
}

/* lkvm debug NAME --dump: the transport's lines, then the NIC's counters and queues */
static void net_dump(struct vm_device *base, FILE *f)
{
	struct virtio_net *n = (struct virtio_net *)base;
	struct virtio_dev *vdev = &n->dev.vdev;
	unsigned int q;

	if (n->mmio_dump)
		n->mmio_dump(base, f);
	pthread_mutex_lock(&vdev->lock);
	fprintf(f, "%s: %s backend, link %s; tx %llu frames (%llu dropped), rx %llu frames (%llu dropped); %u frames (%zu bytes) wait for receive buffers\n",
		vdev->label, n->nb.ops->name, n->nb.link_up ? "up" : "down",
		(unsigned long long)n->stats.tx_frames, (unsigned long long)n->stats.tx_dropped,
		(unsigned long long)n->stats.rx_frames, (unsigned long long)n->stats.rx_dropped,
		n->rxq.count, n->rxq.bytes);
	for (q = 0; q < 2; q++) {
		struct virtqueue *vq = &vdev->vqs[q];

		if (vq->ready)
			fprintf(f, "%s: %s queue: the guest's avail idx %u, ours %u, used idx %u\n",
				vdev->label, q == NET_RX ? "receive" : "transmit",
				vq_read16(vq, vq->avail + 2), vq->last_avail, vq->used_idx);
	}
	pthread_mutex_unlock(&vdev->lock);
}

static void net_free(struct virtio_net *n)
{
	if (n->nb.ops)
		n->nb.ops->close(&n->nb);
	if (n->wake_fd >= 0)
		close(n->wake_fd);
	net_rxq_free(&n->rxq);
	net_pollset_free(&n->ps);
	free(n->rx_elem);
	free(n);
}

static void net_destroy(struct vm_device *base)
{
	struct virtio_net *n = (struct virtio_net *)base;
	struct virtio_dev *vdev = &n->dev.vdev;

	net_thread_stop(n);
	log_info(vdev->log, "%s: %s: tx %llu frames %llu bytes (%llu dropped), rx %llu frames %llu bytes (%llu dropped)",
		 vdev->label, n->nb.ops->name, (unsigned long long)n->stats.tx_frames,
		 (unsigned long long)n->stats.tx_bytes, (unsigned long long)n->stats.tx_dropped,
		 (unsigned long long)n->stats.rx_frames, (unsigned long long)n->stats.rx_bytes,
		 (unsigned long long)n->stats.rx_dropped);
	virtio_mmio_dev_release(&n->dev);
	net_free(n);
}

static uint64_t net_features(const struct net_backend *nb)
{
	uint64_t f = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MTU) |
		     BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_F_ANY_LAYOUT);

	if (nb->tx_offloads & NET_OFF_CSUM) {
		f |= BIT(VIRTIO_NET_F_CSUM);
		if (nb->tx_offloads & NET_OFF_TSO4)
			f |= BIT(VIRTIO_NET_F_HOST_TSO4);
		if (nb->tx_offloads & NET_OFF_TSO6)
			f |= BIT(VIRTIO_NET_F_HOST_TSO6);
		if ((nb->tx_offloads & NET_OFF_ECN) && (f & (BIT(VIRTIO_NET_F_HOST_TSO4) |
							       BIT(VIRTIO_NET_F_HOST_TSO6))))
			f |= BIT(VIRTIO_NET_F_HOST_ECN);
	}
	if (nb->rx_offloads & NET_OFF_CSUM) {
		f |= BIT(VIRTIO_NET_F_GUEST_CSUM);
		if (nb->rx_offloads & NET_OFF_TSO4)
			f |= BIT(VIRTIO_NET_F_GUEST_TSO4);
		if (nb->rx_offloads & NET_OFF_TSO6)
			f |= BIT(VIRTIO_NET_F_GUEST_TSO6);
		if ((nb->rx_offloads & NET_OFF_ECN) && (f & (BIT(VIRTIO_NET_F_GUEST_TSO4) |
							       BIT(VIRTIO_NET_F_GUEST_TSO6))))
			f |= BIT(VIRTIO_NET_F_GUEST_ECN);
	}
	return f;
}

int virtio_net_add_backend(struct vm *vm, const struct net_backend_ops *ops,
			   const struct net_opts *o, unsigned int index, struct lkvm_err *e)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return err_set(e, "out of memory");
	n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->rx_elem = malloc(sizeof(*n->rx_elem));
	if (n->wake_fd < 0 || !n->rx_elem || net_rxq_init(&n->rxq, NET_RXQ_BYTES)) {
		net_free(n);
		return err_set(e, "out of memory");
	}
	if (o->mac_set) {
		memcpy(n->mac, o->guest_mac, 6);
	} else {
		/* 52:54:00:12:34:56 for the first NIC, then :57... */
		static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

		memcpy(n->mac, base, 6);
		n->mac[5] = (uint8_t)(base[5] + index);
	}
	n->nb.log = &vm->log;
	n->nb.sink = (struct net_sink){ .frame = net_sink_frame, .opaque = n };
	if (ops->open(&n->nb, o, e)) {
		net_free(n);
		return -1;
	}
	n->nb.ops = ops;
	n->ops = (struct virtio_dev_ops){
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		.nr_queues = 2,
		.queue_max = NET_QUEUE_MAX,
		.config_size = NET_CONFIG_SIZE,
		.features = net_features(&n->nb),
		.config_encode = net_config_encode,
		.config_write = net_config_write,
		.notify = net_notify,
		.polls_queue_fds = true,
		.reset = net_reset,
	};
	r = virtio_mmio_dev_add(vm, &n->dev, &n->ops, n, net_destroy, e);
	if (r) {
		if (!n->dev.base.destroy)
			net_free(n); /* not handed over to the VM yet: still ours */
		return -1;
	}
	n->dev.base.stop = net_stop;
	n->mmio_dump = n->dev.base.dump;
	n->dev.base.dump = net_dump;
	if (thread_start(&n->thread, net_thread, n))
		return err_set(e, "%s: cannot start its thread", n->dev.vdev.label);
	n->thread_started = true;
	log_debug(&vm->log, "%s: %s backend, MAC %02x:%02x:%02x:%02x:%02x:%02x, features 0x%llx",
		  n->dev.vdev.label, ops->name, n->mac[0], n->mac[1], n->mac[2], n->mac[3],
		  n->mac[4], n->mac[5], (unsigned long long)n->ops.features);
	return 0;
}

int virtio_net_add(struct vm *vm, const char *spec, unsigned int index, struct lkvm_err *e)
{
	struct net_opts o;

	if (net_parse_spec(spec, &o, e))
		return -1;
	return virtio_net_add_backend(vm, net_backend_ops(o.mode), &o, index, e);
}

void virtio_net_get_stats(struct virtio_mmio_dev *dev, struct net_stats *s)
{
	struct virtio_net *n = (struct virtio_net *)dev;

	pthread_mutex_lock(&n->dev.vdev.lock);
	*s = n->stats;
	pthread_mutex_unlock(&n->dev.vdev.lock);
}
