// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net (virtio/net.c) and its backends (net/), no KVM: a hand-built VM
 * with fake RAM, the device's registers reached through the MMIO bus as a
 * vCPU would, a fake driver that writes rings and virtio-net headers in a
 * chosen byte order (legacy BE and LE, modern), and a fake backend on a
 * socketpair; then the real user-mode (libslirp) and tap backends end to end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "fake_driver.h"
#include "net.h"
#include "run.h"
#include "test.h"
#include "util.h"
#include "vcpu.h"
#include "virtio_devs.h"
#include "vm.h"

#define MMIO_BASE 0x0a000000ULL
#define BIT(n) (1ULL << (n))
#define F_GUEST_LE BIT(VIRTIO_RING_F_GUEST_LE)
#define F_GUEST_BE BIT(VIRTIO_RING_F_GUEST_BE)
#define F_VERSION_1 BIT(VIRTIO_F_VERSION_1)
#define F_MRG BIT(VIRTIO_NET_F_MRG_RXBUF)
#define F_OFFLOADS                                                                             \
	(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |    \
	 BIT(VIRTIO_NET_F_GUEST_TSO4))
#define QNUM 64
#define SLOT 2048 /* bytes of fake RAM behind each descriptor */
#define RXQ 0
#define TXQ 1

/* ---- the hand-built VM ---- */

static int vcpu_order = GUEST_LE;
static struct vcpu fake_vcpu;

static int t_irq_line(struct vm *vm, uint32_t irq, int level)
{
	return 0;
}

static int t_vcpu_endian(struct vcpu *vcpu)
{
	return vcpu == &fake_vcpu ? vcpu_order : 0;
}

struct rig {
	struct vm vm;
	struct vm_config cfg;
	struct arch_ops arch;
	struct fake_ram ram;
	int log_pipe[2];
	char log[8192];
	size_t log_len;
};

static bool rig_init(struct rig *r, enum virtio_transport t)
{
	memset(r, 0, sizeof(*r));
	r->log_pipe[0] = r->log_pipe[1] = -1;
	r->cfg.transport = t;
	r->cfg.endian_offer = VIRTIO_OFFER_BOTH;
	r->arch = (struct arch_ops){
		.name = "test",
		.virtio_mmio_base = MMIO_BASE,
		.virtio_mmio_slots = 32,
		.irq_line = t_irq_line,
		.vcpu_endian = t_vcpu_endian,
	};
	r->vm.arch = &r->arch;
	r->vm.cfg = &r->cfg;
	r->vm.kvm_fd = r->vm.vm_fd = r->vm.stop_efd = -1;
	fake_vcpu.vm = &r->vm;
	vcpu_order = GUEST_LE;
	if (!CHECK(pipe2(r->log_pipe, O_NONBLOCK | O_CLOEXEC) == 0))
		return false;
	r->vm.log = (struct logger){ .level = LOG_ERROR, .fd = r->log_pipe[1] };
	if (!fake_ram_init(&r->ram, &r->vm.mem))
		return false;
	r->ram.next = FAKE_RAM_GPA + 0x1000;
	return true;
}

static void rig_exit(struct rig *r)
{
	vm_stop_devices(&r->vm);
	vm_destroy_devices(&r->vm);
	fake_ram_free(&r->ram);
	if (r->log_pipe[0] >= 0)
		close(r->log_pipe[0]);
	if (r->log_pipe[1] >= 0)
		close(r->log_pipe[1]);
}

static const char *rig_log(struct rig *r)
{
	ssize_t got;

	while (r->log_len < sizeof(r->log) - 1 &&
	       (got = read(r->log_pipe[0], r->log + r->log_len, sizeof(r->log) - 1 - r->log_len)) > 0)
		r->log_len += got;
	r->log[r->log_len] = 0;
	return r->log;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

#define WAIT_UNTIL(cond)                            \
	({                                          \
		unsigned int wait_n_ = 0;           \
		while (!(cond) && wait_n_++ < 3000) \
			sleep_ms(1);                \
		(cond);                             \
	})

/* ---- registers ---- */

static uint32_t reg_rd(struct virtio_mmio_dev *d, uint64_t off)
{
	uint8_t b[4] = { 0xee, 0xee, 0xee, 0xee };

	mmio_bus_access(&d->vm->bus, &fake_vcpu, d->mmio.mdev.base + off, b, 4, false);
	return (uint32_t)mmio_get_le(b, 4);
}

static void reg_wr(struct virtio_mmio_dev *d, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	mmio_put_le(b, 4, v);
	mmio_bus_access(&d->vm->bus, &fake_vcpu, d->mmio.mdev.base + off, b, 4, true);
}

static void cfg_rd(struct virtio_mmio_dev *d, uint64_t off, uint8_t *out, unsigned int len)
{
	memset(out, 0xee, len);
	mmio_bus_access(&d->vm->bus, &fake_vcpu, d->mmio.mdev.base + VIRTIO_MMIO_CONFIG + off, out,
			len, false);
}

static uint64_t dev_features(struct virtio_mmio_dev *d)
{
	uint64_t f;

	reg_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = reg_rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	reg_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)reg_rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

/* ---- a fake backend on a SOCK_SEQPACKET pair: [struct net_hdr][frame] per message ---- */

struct fake_be {
	int fd[2]; /* [0]: the backend's end (nonblocking), [1]: the test's */
	int pidx;
	bool push_always; /* like slirp: read even when the NIC has no room */
	bool link;
	uint32_t tx_off, rx_off;
	_Atomic uint32_t set_off;
	_Atomic int set_off_calls;
	uint8_t buf[sizeof(struct net_hdr) + NET_MAX_FRAME];
};

static struct fake_be *fake_cur;

static bool fake_be_init(struct fake_be *f)
{
	memset(f, 0, sizeof(*f));
	f->link = true;
	f->tx_off = f->rx_off = NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6 | NET_OFF_ECN;
	if (!CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->fd) == 0))
		return false;
	fcntl(f->fd[0], F_SETFL, O_NONBLOCK);
	fake_cur = f;
	return true;
}

static void fake_be_exit(struct fake_be *f)
{
	close(f->fd[0]);
	close(f->fd[1]);
}

static int fake_open(struct net_backend *nb, const struct net_opts *o, struct lkvm_err *e)
{
	nb->priv = fake_cur;
	nb->tx_offloads = fake_cur->tx_off;
	nb->rx_offloads = fake_cur->rx_off;
	nb->link_up = fake_cur->link;
	return 0;
}

static void fake_close(struct net_backend *nb)
{
}

static int fake_send(struct net_backend *nb, const struct net_hdr *hdr, const struct iovec *iov,
		     unsigned int n, size_t len)
{
	struct fake_be *f = nb->priv;
	struct iovec v[64];
	struct msghdr m = { .msg_iov = v, .msg_iovlen = n + 1 };
	size_t sum = 0;
	unsigned int i;

	if (n + 1 > 64)
		return -1;
	v[0] = (struct iovec){ .iov_base = (void *)hdr, .iov_len = sizeof(*hdr) };
	for (i = 0; i < n; i++) {
		v[i + 1] = iov[i];
		sum += iov[i].iov_len;
	}
	if (sum != len)
		return -1;
	return sendmsg(f->fd[0], &m, MSG_DONTWAIT) < 0 ? -1 : 0;
}

static int fake_set_rx_offloads(struct net_backend *nb, uint32_t off)
{
	struct fake_be *f = nb->priv;

	f->set_off = off;
	f->set_off_calls++;
	return 0;
}

static void fake_poll_fill(struct net_backend *nb, struct net_pollset *ps, bool want_rx,
			   int *timeout_ms)
{
	struct fake_be *f = nb->priv;

	f->pidx = want_rx || f->push_always ? net_pollset_add(ps, f->fd[0], POLLIN) : -1;
}

static void fake_poll_done(struct net_backend *nb, struct net_pollset *ps)
{
	struct fake_be *f = nb->priv;

	if (f->pidx < 0 || !(ps->fds[f->pidx].revents & POLLIN))
		return;
	for (;;) {
		ssize_t r = recv(f->fd[0], f->buf, sizeof(f->buf), MSG_DONTWAIT);
		struct net_hdr h;

		if (r < (ssize_t)sizeof(h))
			return;
		memcpy(&h, f->buf, sizeof(h));
		if (!nb->sink.frame(nb->sink.opaque, &h, f->buf + sizeof(h), r - sizeof(h)) &&
		    !f->push_always)
			return;
	}
}

static const struct net_backend_ops fake_ops = {
	.name = "fake",
	.open = fake_open,
	.close = fake_close,
	.send = fake_send,
	.set_rx_offloads = fake_set_rx_offloads,
	.poll_fill = fake_poll_fill,
	.poll_done = fake_poll_done,
};

/* A frame for the guest, as the backend would get it. */
static bool fake_inject(struct fake_be *f, const struct net_hdr *h, const void *frame, size_t len)
{
	struct iovec v[2] = { { (void *)h, sizeof(*h) }, { (void *)frame, len } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };

	return CHECK(sendmsg(f->fd[1], &m, 0) == (ssize_t)(sizeof(*h) + len));
}

/* What the guest sent, as the backend got it; -1 if nothing within 3 s. */
static ssize_t fake_expect_tx(struct fake_be *f, struct net_hdr *h, uint8_t *frame, size_t cap)
{
	static uint8_t buf[sizeof(struct net_hdr) + NET_MAX_FRAME];
	struct pollfd p = { .fd = f->fd[1], .events = POLLIN };
	ssize_t r;

	if (poll(&p, 1, 3000) != 1)
		return -1;
	r = recv(f->fd[1], buf, sizeof(buf), 0);
	if (r < (ssize_t)sizeof(*h))
		return -1;
	memcpy(h, buf, sizeof(*h));
	r -= sizeof(*h);
	memcpy(frame, buf + sizeof(*h), MIN((size_t)r, cap));
	return r;
}

static bool fake_nothing_sent(struct fake_be *f, unsigned int ms)
{
	struct pollfd p = { .fd = f->fd[1], .events = POLLIN };

	return poll(&p, 1, (int)ms) == 0;
}

/* ---- the fake driver ---- */

/* How the queues get their byte order (ARCHITECTURE: the rules). */
struct mode {
	const char *name;
	enum virtio_transport t;
	enum vq_endian e;  /* the rings' order */
	uint64_t ack;      /* the byte-order bit it acks (or VERSION_1) */
	int vcpu;          /* the vCPU's order at reset */
};

static const struct mode modes[] = {
	{ "legacy, guest acks BE", VIRTIO_MMIO_LEGACY, VQ_BE, F_GUEST_BE, GUEST_LE },
	{ "legacy, guest acks LE", VIRTIO_MMIO_LEGACY, VQ_LE, F_GUEST_LE, GUEST_BE },
	{ "legacy, BE vCPU at reset", VIRTIO_MMIO_LEGACY, VQ_BE, 0, GUEST_BE },
	{ "modern", VIRTIO_MMIO_MODERN, VQ_LE, F_VERSION_1, GUEST_BE },
};

struct drv {
	struct virtio_mmio_dev *d;
	struct fake_ram *ram;
	enum vq_endian e;
	size_t hlen;
	struct fake_ring q[2];
	uint64_t buf[2]; /* gpa of each queue's QNUM slots of SLOT bytes */
	uint16_t next[2]; /* next free descriptor */
};

static uint8_t *slot_ptr(struct drv *dv, unsigned int q, uint16_t i)
{
	return fake_ram_ptr(dv->ram, dv->buf[q] + (uint64_t)i * SLOT);
}

static bool drv_queue(struct drv *dv, unsigned int q)
{
	struct virtio_mmio_dev *d = dv->d;
	struct fake_ring *fr = &dv->q[q];

	reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
	if (!CHECK(reg_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX) >= QNUM))
		return false;
	reg_wr(d, VIRTIO_MMIO_QUEUE_NUM, QNUM);
	dv->buf[q] = fake_ram_alloc(dv->ram, (uint64_t)QNUM * SLOT, 64);
	if (d->vdev.transport == VIRTIO_MMIO_LEGACY) {
		uint64_t base = fake_ram_alloc(dv->ram, fr_legacy_size(QNUM, 4096), 4096);

		fr_init_legacy(fr, dv->ram, dv->e, QNUM, base, 4096);
		reg_wr(d, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
		reg_wr(d, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(base / 4096));
		return CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_PFN), base / 4096);
	}
	fr_init(fr, dv->ram, dv->e, QNUM, fake_ram_alloc(dv->ram, 16 * QNUM, 16),
		fake_ram_alloc(dv->ram, 6 + 2 * QNUM, 2), fake_ram_alloc(dv->ram, 6 + 8 * QNUM, 4));
	reg_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)fr->desc);
	reg_wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(fr->desc >> 32));
	reg_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)fr->avail);
	reg_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(fr->avail >> 32));
	reg_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)fr->used);
	reg_wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(fr->used >> 32));
	reg_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_READY), 1);
}

/* Linux's order (3.1.1): reset, ACK, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. */
static bool drv_start(struct drv *dv, struct virtio_mmio_dev *d, struct fake_ram *ram,
		      const struct mode *m, uint64_t extra)
{
	uint32_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	uint64_t ack = m->ack | extra;

	memset(dv, 0, sizeof(*dv));
	dv->d = d;
	dv->ram = ram;
	dv->e = m->e;
	d->mmio.vcpu_endian = t_vcpu_endian;
	vcpu_order = m->vcpu;
	reg_wr(d, VIRTIO_MMIO_STATUS, 0);
	reg_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	reg_wr(d, VIRTIO_MMIO_STATUS, status);
	if (!CHECK_EQ_U64(ack & ~dev_features(d), 0))
		return false;
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)ack);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(ack >> 32));
	if (m->t == VIRTIO_MMIO_MODERN) {
		status |= VIRTIO_CONFIG_S_FEATURES_OK;
		reg_wr(d, VIRTIO_MMIO_STATUS, status);
	} else {
		reg_wr(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	}
	dv->hlen = (ack & (F_VERSION_1 | F_MRG)) ? 12 : 10;
	if (!drv_queue(dv, RXQ) || !drv_queue(dv, TXQ))
		return false;
	status |= VIRTIO_CONFIG_S_DRIVER_OK;
	reg_wr(d, VIRTIO_MMIO_STATUS, status);
	/* Linux kicks its receive queue once it is up (virtnet_open); here with no buffers yet */
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, RXQ);
	return CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS), status);
}

/* A virtio-net header in the driver's byte order. */
static void hdr_put(const struct drv *dv, uint8_t *p, const struct net_hdr *h, uint16_t nbufs)
{
	memset(p, 0, 12);
	p[0] = h->flags;
	p[1] = h->gso_type;
	ve_put16(dv->e, p + 2, h->hdr_len);
	ve_put16(dv->e, p + 4, h->gso_size);
	ve_put16(dv->e, p + 6, h->csum_start);
	ve_put16(dv->e, p + 8, h->csum_offset);
	if (dv->hlen == 12)
		ve_put16(dv->e, p + 10, nbufs);
}

static void hdr_get(const struct drv *dv, const uint8_t *p, struct net_hdr *h, uint16_t *nbufs)
{
	h->flags = p[0];
	h->gso_type = p[1];
	h->hdr_len = ve_get16(dv->e, p + 2);
	h->gso_size = ve_get16(dv->e, p + 4);
	h->csum_start = ve_get16(dv->e, p + 6);
	h->csum_offset = ve_get16(dv->e, p + 8);
	*nbufs = dv->hlen == 12 ? ve_get16(dv->e, p + 10) : 1;
}

static bool hdr_eq(const struct net_hdr *a, const struct net_hdr *b)
{
	return a->flags == b->flags && a->gso_type == b->gso_type && a->hdr_len == b->hdr_len &&
	       a->gso_size == b->gso_size && a->csum_start == b->csum_start &&
	       a->csum_offset == b->csum_offset;
}

/*
 * Transmits a frame: the header in its own descriptor, then the frame in
 * pieces of at most piece bytes; waits until the device has used it.
 */
static bool drv_tx(struct drv *dv, const struct net_hdr *h, const uint8_t *frame, size_t len,
		   size_t piece)
{
	struct fake_ring *fr = &dv->q[TXQ];
	uint16_t head = dv->next[TXQ], i = head, want;
	size_t off = 0;

	hdr_put(dv, slot_ptr(dv, TXQ, i), h, 0);
	for (;;) {
		uint16_t nx = (uint16_t)((i + 1) % QNUM);
		size_t c = MIN(piece, len - off);
		bool last = off + c >= len;

		if (i == head) {
			fr_desc(fr, i, dv->buf[TXQ] + (uint64_t)i * SLOT, (uint32_t)dv->hlen,
				len ? VRING_DESC_F_NEXT : 0, nx);
		} else {
			memcpy(slot_ptr(dv, TXQ, i), frame + off, c);
			fr_desc(fr, i, dv->buf[TXQ] + (uint64_t)i * SLOT, (uint32_t)c,
				last ? 0 : VRING_DESC_F_NEXT, nx);
			off += c;
			if (last)
				break;
		}
		i = nx;
		if (!len)
			break;
	}
	dv->next[TXQ] = (uint16_t)((i + (len ? 1 : 0)) % QNUM);
	want = fr->last_used + 1;
	fr_avail_add(fr, head);
	reg_wr(dv->d, VIRTIO_MMIO_QUEUE_NOTIFY, TXQ);
	if (!CHECK(WAIT_UNTIL(fr_used_idx(fr) == want)))
		return false;
	fr->last_used = want;
	return true;
}

/* Posts n receive buffers of len bytes (one descriptor each) and kicks. */
static void drv_rx_post(struct drv *dv, unsigned int n, uint32_t len)
{
	struct fake_ring *fr = &dv->q[RXQ];
	unsigned int k;

	for (k = 0; k < n; k++) {
		uint16_t i = dv->next[RXQ];

		memset(slot_ptr(dv, RXQ, i), 0xcc, SLOT);
		fr_desc(fr, i, dv->buf[RXQ] + (uint64_t)i * SLOT, len, VRING_DESC_F_WRITE, 0);
		fr_avail_add(fr, i);
		dv->next[RXQ] = (uint16_t)((i + 1) % QNUM);
	}
	reg_wr(dv->d, VIRTIO_MMIO_QUEUE_NOTIFY, RXQ);
}

/*
 * Takes one received frame (its num_buffers used entries): header into h,
 * data into out; returns the data length, -1 if none came within 3 s.
 */
static ssize_t drv_rx(struct drv *dv, struct net_hdr *h, uint8_t *out, size_t cap,
		      uint16_t *nbufs_out, uint32_t *first_len)
{
	struct fake_ring *fr = &dv->q[RXQ];
	uint16_t nbufs = 1, k;
	size_t got = 0;

	for (k = 0; k < nbufs; k++) {
		uint32_t id, len;
		const uint8_t *p;
		size_t skip = k ? 0 : dv->hlen;

		if (!WAIT_UNTIL(fr_used_idx(fr) != fr->last_used))
			return -1;
		fr_used_elem(fr, fr->last_used, &id, &len);
		fr->last_used++;
		if (!CHECK(id < QNUM && len <= SLOT && len >= skip))
			return -1;
		p = slot_ptr(dv, RXQ, (uint16_t)id);
		if (!k) {
			hdr_get(dv, p, h, &nbufs);
			if (first_len)
				*first_len = len;
			if (!CHECK(nbufs >= 1 && nbufs <= QNUM))
				return -1;
		}
		memcpy(out + got, p + skip, MIN(len - skip, cap - got));
		got += MIN(len - skip, cap - got);
	}
	if (nbufs_out)
		*nbufs_out = nbufs;
	return (ssize_t)got;
}

static bool drv_rx_none(struct drv *dv, unsigned int ms)
{
	sleep_ms(ms);
	return fr_used_idx(&dv->q[RXQ]) == dv->q[RXQ].last_used;
}

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

static struct virtio_mmio_dev *add_nic(struct rig *r, const struct net_backend_ops *ops,
				       const char *spec)
{
	struct lkvm_err e = { "" };
	struct net_opts o;

	if (!CHECK(net_parse_spec(spec, &o, &e) == 0))
		return NULL;
	if (virtio_net_add_backend(&r->vm, ops ? ops : net_backend_ops(o.mode), &o, 0, &e)) {
		test_fail(__FILE__, __LINE__, "virtio_net_add_backend: %s", e.msg);
		return NULL;
	}
	return (struct virtio_mmio_dev *)r->vm.devices;
}

/* ---- -n parsing ---- */

TEST(net, parse_spec)
{
	struct lkvm_err e = { "" };
	struct net_opts o;

	REQUIRE(net_parse_spec("mode=user", &o, &e) == 0);
	CHECK_EQ_U64(o.mode, NET_MODE_USER);
	CHECK(!o.mac_set && !o.nr_fwd);
	REQUIRE(net_parse_spec("mode=tap,tapif=tap7,host_ip=192.168.33.1/24,guest_mac=02:AB:cd:00:01:ff",
			       &o, &e) == 0);
	CHECK_EQ_U64(o.mode, NET_MODE_TAP);
	CHECK_STR(o.tapif, "tap7");
	CHECK(o.host_ip_set);
	CHECK_EQ_U64(ntohl(o.host_ip.s_addr), 0xc0a82101);
	CHECK_EQ_U64(o.host_prefix, 24);
	CHECK(o.mac_set);
	CHECK_MEM(o.guest_mac, ((uint8_t[6]){ 0x02, 0xab, 0xcd, 0x00, 0x01, 0xff }), 6);
	REQUIRE(net_parse_spec("mode=none", &o, &e) == 0);
	CHECK_EQ_U64(o.mode, NET_MODE_NONE);
	/* no mode: user, as kvmtool */
	REQUIRE(net_parse_spec("hostfwd=tcp:5555-:80,hostfwd=udp:127.0.0.2:53-10.0.2.16:5353", &o,
			       &e) == 0);
	CHECK_EQ_U64(o.mode, NET_MODE_USER);
	REQUIRE(CHECK_EQ_U64(o.nr_fwd, 2));
	CHECK(!o.fwd[0].udp);
	CHECK_EQ_U64(ntohl(o.fwd[0].host_addr.s_addr), 0x7f000001);
	CHECK_EQ_U64(o.fwd[0].host_port, 5555);
	CHECK_EQ_U64(ntohl(o.fwd[0].guest_addr.s_addr), 0x0a00020f);
	CHECK_EQ_U64(o.fwd[0].guest_port, 80);
	CHECK(o.fwd[1].udp);
	CHECK_EQ_U64(ntohl(o.fwd[1].host_addr.s_addr), 0x7f000002);
	CHECK_EQ_U64(o.fwd[1].host_port, 53);
	CHECK_EQ_U64(ntohl(o.fwd[1].guest_addr.s_addr), 0x0a000210);
	CHECK_EQ_U64(o.fwd[1].guest_port, 5353);
	/* QEMU's spelling, and 0.0.0.0 for every host address */
	REQUIRE(net_parse_spec("mode=user,hostfwd=tcp::2222-:22,hostfwd=tcp:0.0.0.0:8080-:80", &o,
			       &e) == 0);
	CHECK_EQ_U64(ntohl(o.fwd[0].host_addr.s_addr), 0x7f000001);
	CHECK_EQ_U64(o.fwd[0].host_port, 2222);
	CHECK_EQ_U64(o.fwd[1].host_addr.s_addr, 0);
}

TEST(net, parse_spec_errors)
{
	static const char *const bad[] = {
		"mode=bridge",
		"mode",
		"mode=user,foo=1",
		"guest_mac=01:00:5e:00:00:01", /* multicast */
		"guest_mac=52:54:00:12:34",
		"guest_mac=52:54:00:12:34:56:78",
		"guest_mac=52-54-00-12-34-56",
		"mode=user,tapif=tap0",
		"mode=user,host_ip=10.0.0.1",
		"mode=tap,hostfwd=tcp:1-:2",
		"mode=tap,tapif=",
		"mode=tap,tapif=waytoolonginterfacename",
		"mode=tap,tapif=a/b",
		"mode=tap,host_ip=10.0.0.300",
		"mode=tap,host_ip=10.0.0.1/33",
		"mode=tap,host_ip=10.0.0.1/",
		"hostfwd=tcp:0-:80",
		"hostfwd=tcp:65536-:80",
		"hostfwd=tcp:80",
		"hostfwd=sctp:80-:80",
		"hostfwd=tcp:80-:x",
		"hostfwd=tcp:1.2.3:80-:80",
		"hostfwd=tcp:80--:80",
	};
	struct lkvm_err e;
	struct net_opts o;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		e.msg[0] = 0;
		if (!CHECK(net_parse_spec(bad[i], &o, &e) == -1))
			test_fail(__FILE__, __LINE__, "accepted '%s'", bad[i]);
		CHECK_CONTAINS(e.msg, "-n ");
		CHECK_CONTAINS(e.msg, bad[i]);
		CHECK(!strchr(e.msg, '\n'));
	}
}

/* ---- the frame ring ---- */

TEST(net, rxq_order_wrap_and_bound)
{
	static uint8_t frame[NET_MAX_FRAME], out[NET_MAX_FRAME];
	struct net_rxq q;
	struct net_hdr h, g;
	const uint8_t *data;
	unsigned int pushed = 0, popped = 0, i, rounds;
	size_t len;

	REQUIRE(net_rxq_init(&q, 64 * 1024) == 0);
	CHECK(!net_rxq_peek(&q, &g, &data, &len));
	/* a frame bigger than the ring never fits, even empty */
	CHECK(!net_rxq_room(&q, NET_MAX_FRAME));
	CHECK(!net_rxq_push(&q, &h, frame, NET_MAX_FRAME));
	/* odd sizes, so records wrap at every possible place; FIFO throughout */
	for (rounds = 0; rounds < 2000; rounds++) {
		len = 14 + (rounds * 977) % 3000;
		memset(&h, 0, sizeof(h));
		h.hdr_len = (uint16_t)pushed;
		fill(frame, len, pushed);
		if (net_rxq_push(&q, &h, frame, len)) {
			pushed++;
		} else {
			/* full: everything it holds fits in 64 KiB */
			CHECK(q.count > 0);
			CHECK(!net_rxq_room(&q, len));
		}
		for (i = 0; i < (rounds % 3); i++) {
			if (!net_rxq_peek(&q, &g, &data, &len))
				break;
			CHECK_EQ_U64(g.hdr_len, (uint16_t)popped);
			fill(out, len, popped);
			CHECK_MEM(data, out, len);
			net_rxq_pop(&q);
			popped++;
		}
		CHECK(q.bytes <= q.size);
	}
	while (net_rxq_peek(&q, &g, &data, &len)) {
		CHECK_EQ_U64(g.hdr_len, (uint16_t)popped);
		net_rxq_pop(&q);
		popped++;
	}
	CHECK_EQ_U64(pushed, popped);
	CHECK(pushed > 1000);
	CHECK_EQ_U64(q.bytes, 0);
	net_rxq_clear(&q);
	CHECK(net_rxq_push(&q, &h, frame, 64 * 1024 - 64));
	net_rxq_free(&q);
}

/* ---- checksums ---- */

static uint16_t csum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void put16be(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = (uint8_t)v;
}

static uint16_t get16be(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * An Ethernet + IPv4 + UDP frame. partial: the UDP checksum field holds the
 * pseudo-header sum only, as Linux leaves it for a NEEDS_CSUM transmit.
 */
static size_t build_udp(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t sip,
			uint32_t dip, uint16_t sport, uint16_t dport, const void *payload, size_t plen,
			bool partial)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint8_t pseudo[12];
	uint16_t ulen = (uint16_t)(8 + plen);

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16be(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16be(ip + 2, (uint16_t)(20 + ulen));
	put16be(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = 17;
	put16be(ip + 12, (uint16_t)(sip >> 16));
	put16be(ip + 14, (uint16_t)sip);
	put16be(ip + 16, (uint16_t)(dip >> 16));
	put16be(ip + 18, (uint16_t)dip);
	put16be(ip + 10, (uint16_t)~csum16(ip, 20, 0));
	put16be(udp, sport);
	put16be(udp + 2, dport);
	put16be(udp + 4, ulen);
	put16be(udp + 6, 0);
	memcpy(udp + 8, payload, plen);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16be(pseudo + 10, ulen);
	if (partial) {
		put16be(udp + 6, csum16(pseudo, 12, 0));
	} else {
		uint16_t c = (uint16_t)~csum16(udp, ulen, csum16(pseudo, 12, 0));

		put16be(udp + 6, c ? c : 0xffff);
	}
	return 14 + 20 + ulen;
}

static bool udp_csum_ok(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *udp = ip + 20;
	uint8_t pseudo[12];
	uint16_t ulen = get16be(udp + 4);

	if (len < 14 + 20 + 8 || ulen > len - 34)
		return false;
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16be(pseudo + 10, ulen);
	return !get16be(udp + 6) || csum16(udp, ulen, csum16(pseudo, 12, 0)) == 0xffff;
}

TEST(net, csum_complete)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	uint8_t f[200], payload[101];
	struct net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6 };
	size_t len;

	fill(payload, sizeof(payload), 3); /* odd length: the last byte pads */
	len = build_udp(f, mac, mac, 0x0a00020f, 0x0a000202, 1000, 2000, payload, sizeof(payload), true);
	CHECK(!udp_csum_ok(f, len));
	CHECK(net_csum_complete(f, len, &h));
	CHECK(udp_csum_ok(f, len));
	/* offsets outside the frame are refused, nothing written */
	h.csum_start = (uint16_t)len;
	CHECK(!net_csum_complete(f, len, &h));
	h.csum_start = (uint16_t)(len - 1);
	h.csum_offset = 0;
	CHECK(!net_csum_complete(f, len, &h));
	h.csum_start = 34;
	h.csum_offset = (uint16_t)(len - 35);
	CHECK(!net_csum_complete(f, len, &h));
}

/* An Ethernet + IPv4 + TCP frame (no options), full checksums unless partial. */
static size_t build_tcp(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t sip,
			uint32_t dip, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, const void *payload, size_t plen, bool partial)
{
	uint8_t *ip = f + 14, *tcp = ip + 20;
	uint8_t pseudo[12];
	uint16_t tlen = (uint16_t)(20 + plen);

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16be(f + 12, 0x0800);
	memset(ip, 0, 40);
	ip[0] = 0x45;
	put16be(ip + 2, (uint16_t)(20 + tlen));
	put16be(ip + 4, 0x4321);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	put16be(ip + 12, (uint16_t)(sip >> 16));
	put16be(ip + 14, (uint16_t)sip);
	put16be(ip + 16, (uint16_t)(dip >> 16));
	put16be(ip + 18, (uint16_t)dip);
	put16be(ip + 10, (uint16_t)~csum16(ip, 20, 0));
	put16be(tcp, sport);
	put16be(tcp + 2, dport);
	put16be(tcp + 4, (uint16_t)(seq >> 16));
	put16be(tcp + 6, (uint16_t)seq);
	put16be(tcp + 8, (uint16_t)(ack >> 16));
	put16be(tcp + 10, (uint16_t)ack);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16be(tcp + 14, 65535);
	if (plen)
		memcpy(tcp + 20, payload, plen);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16be(pseudo + 10, tlen);
	if (partial)
		put16be(tcp + 16, csum16(pseudo, 12, 0));
	else
		put16be(tcp + 16, (uint16_t)~csum16(tcp, tlen, csum16(pseudo, 12, 0)));
	return 14 + 20 + tlen;
}

static uint32_t get32be(const uint8_t *p)
{
	return (uint32_t)get16be(p) << 16 | get16be(p + 2);
}

struct segs {
	unsigned int n;
	size_t len[8];
	uint8_t f[8][1600];
};

static void segs_emit(void *opaque, const uint8_t *f, size_t len)
{
	struct segs *s = opaque;

	if (s->n < 8 && len <= sizeof(s->f[0])) {
		memcpy(s->f[s->n], f, len);
		s->len[s->n] = len;
	}
	s->n++;
}

/* net_tso4_segment: what Linux's tcp_gso_segment would put on the wire */
TEST(net, tso4_segment)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	static uint8_t f[8000], seg[NET_MAX_FRAME], payload[3500], got[3500];
	struct net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
			     .hdr_len = 54, .gso_size = 1000, .csum_start = 34, .csum_offset = 16 };
	static struct segs s;
	size_t len, at = 0;
	unsigned int i;

	fill(payload, sizeof(payload), 4);
	/* FIN|PSH|ACK|CWR: FIN and PSH belong to the last segment, CWR to the first */
	len = build_tcp(f, mac, mac, 0x0a00020f, 0x0a000202, 40001, 80, 0xfffffc00, 77, 0x80 | 0x19,
			payload, sizeof(payload), true);
	REQUIRE(CHECK_EQ_U64(net_tso4_segment(f, len, &h, seg, segs_emit, &s), 4));
	for (i = 0; i < 4; i++) {
		const uint8_t *ip = s.f[i] + 14, *tcp = ip + 20;
		size_t c = i < 3 ? 1000 : 500;

		CHECK_EQ_U64(s.len[i], 54 + c);
		CHECK_EQ_U64(get16be(ip + 2), 40 + c);
		CHECK_EQ_U64(get16be(ip + 4), 0x4321 + i);
		CHECK_EQ_U64(csum16(ip, 20, 0), 0xffff);
		CHECK_EQ_U64(get32be(tcp + 4), (uint32_t)(0xfffffc00u + 1000 * i)); /* wraps */
		CHECK_EQ_U64(get32be(tcp + 8), 77);
		CHECK_EQ_U64(tcp[13], i == 0 ? 0x90 : i == 3 ? 0x19 : 0x10);
		{
			uint8_t pseudo[12];

			memcpy(pseudo, ip + 12, 8);
			pseudo[8] = 0;
			pseudo[9] = 6;
			put16be(pseudo + 10, (uint16_t)(20 + c));
			CHECK_EQ_U64(csum16(tcp, 20 + c, csum16(pseudo, 12, 0)), 0xffff);
		}
		memcpy(got + at, tcp + 20, c);
		at += c;
	}
	CHECK_MEM(got, payload, sizeof(payload));
	/* not TCPv4, or segments too small: refused, nothing emitted */
	s.n = 0;
	len = build_udp(f, mac, mac, 1, 2, 3, 4, payload, 100, false);
	CHECK_EQ_U64(net_tso4_segment(f, len, &h, seg, segs_emit, &s), (uint64_t)-1);
	len = build_tcp(f, mac, mac, 1, 2, 3, 4, 0, 0, 0x10, payload, 100, false);
	h.gso_size = NET_TSO_MIN_MSS - 1;
	CHECK_EQ_U64(net_tso4_segment(f, len, &h, seg, segs_emit, &s), (uint64_t)-1);
	h.gso_size = 1000;
	CHECK_EQ_U64(net_tso4_segment(f, 40, &h, seg, segs_emit, &s), (uint64_t)-1);
	CHECK_EQ_U64(s.n, 0);
	/* one segment when it fits */
	CHECK_EQ_U64(net_tso4_segment(f, len, &h, seg, segs_emit, &s), 1);
}

/* ---- the device over the fake backend, every byte-order rule ---- */

/* Features and config (5.1.4): MAC bytes, status and mtu in the rings' order. */
TEST(net, config_and_features)
{
	unsigned int m;

	for (m = 0; m < ARRAY_SIZE(modes); m++) {
		struct virtio_mmio_dev *d;
		struct fake_be f;
		struct drv dv;
		struct rig r;
		uint8_t c[12];
		uint64_t feat;

		REQUIRE(rig_init(&r, modes[m].t));
		if (!fake_be_init(&f)) {
			rig_exit(&r);
			return;
		}
		f.link = m != 1; /* one NIC with its link down */
		d = add_nic(&r, &fake_ops, "mode=user,guest_mac=02:11:22:33:44:55");
		if (!CHECK(d) || !drv_start(&dv, d, &r.ram, &modes[m], F_MRG)) {
			rig_exit(&r);
			fake_be_exit(&f);
			return;
		}
		CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
		feat = dev_features(d);
		CHECK_EQ_U64(feat & (BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |
				     BIT(VIRTIO_NET_F_MTU) | F_MRG | F_OFFLOADS),
			     BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MTU) |
				     F_MRG | F_OFFLOADS);
		CHECK_EQ_U64(feat & (BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_MQ) |
				     BIT(VIRTIO_NET_F_GUEST_UFO) | BIT(VIRTIO_NET_F_HOST_UFO)), 0);
		cfg_rd(d, 0, c, 12);
		CHECK_MEM(c, ((uint8_t[6]){ 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 }), 6);
		CHECK_EQ_U64(ve_get16(modes[m].e, c + 6), m != 1 ? VIRTIO_NET_S_LINK_UP : 0);
		CHECK_EQ_U64(ve_get16(modes[m].e, c + 10), 1500);
		/* every width, as Linux's virtio_cread16 does it */
		cfg_rd(d, 10, c, 2);
		CHECK_EQ_U64(ve_get16(modes[m].e, c), 1500);
		/* past the end reads 0 */
		cfg_rd(d, 12, c, 1);
		CHECK_EQ_U64(c[0], 0);
		rig_exit(&r);
		fake_be_exit(&f);
	}
}

static uint64_t rx_dropped(struct virtio_mmio_dev *d)
{
	struct net_stats st;

	virtio_net_get_stats(d, &st);
	return st.rx_dropped;
}

static void check_tx_rx(const struct mode *m, uint64_t extra)
{
	static uint8_t frame[4096], out[8192];
	struct net_hdr tx = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
			      .hdr_len = 54, .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	struct net_hdr rx = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
			      .hdr_len = 66, .gso_size = 1448, .csum_start = 0x0122, .csum_offset = 0x0310 };
	struct net_hdr small = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	struct virtio_mmio_dev *d;
	struct net_hdr got;
	struct net_stats st;
	struct fake_be f;
	struct drv dv;
	struct rig r;
	uint16_t nbufs;
	uint32_t first;
	ssize_t n;

	REQUIRE(rig_init(&r, m->t));
	if (!fake_be_init(&f)) {
		rig_exit(&r);
		return;
	}
	d = add_nic(&r, &fake_ops, "mode=user");
	if (!CHECK(d) || !drv_start(&dv, d, &r.ram, m, extra)) {
		rig_exit(&r);
		fake_be_exit(&f);
		return;
	}
	/* the backend learns what the guest takes, once it is live */
	CHECK(WAIT_UNTIL(f.set_off_calls == 1));
	CHECK_EQ_U64(f.set_off, (extra & F_OFFLOADS) ? NET_OFF_CSUM | NET_OFF_TSO4 : 0);

	/* transmit: the header arrives in host order, the frame across three pieces intact */
	fill(frame, 3000, 1);
	if (!(extra & F_OFFLOADS))
		tx = (struct net_hdr){ 0 };
	REQUIRE(drv_tx(&dv, &tx, frame, 3000, 1200));
	n = fake_expect_tx(&f, &got, out, sizeof(out));
	REQUIRE(CHECK_EQ_U64(n, 3000));
	CHECK(hdr_eq(&got, &tx));
	CHECK_MEM(out, frame, 3000);

	/* receive, the guest with no buffers yet: the frame waits */
	fill(frame, 3000, 2);
	if (!(extra & F_OFFLOADS))
		rx = (struct net_hdr){ 0 };
	REQUIRE(fake_inject(&f, &rx, frame, 3000));
	CHECK(drv_rx_none(&dv, 50));
	drv_rx_post(&dv, 8, 1536);
	if (extra & F_MRG) {
		n = drv_rx(&dv, &got, out, sizeof(out), &nbufs, &first);
		/* 12 + 3000 bytes: 1536 + 1476 */
		REQUIRE(CHECK_EQ_U64(n, 3000));
		CHECK_EQ_U64(nbufs, 2);
		CHECK_EQ_U64(first, 1536);
		CHECK(hdr_eq(&got, &rx));
		CHECK_MEM(out, frame, 3000);
	} else {
		/* without MRG_RXBUF it fits no buffer: dropped, the buffers kept */
		CHECK(WAIT_UNTIL(rx_dropped(d) == 1));
		CHECK(drv_rx_none(&dv, 20));
	}
	/* a small frame, DATA_VALID kept only when GUEST_CSUM was acked */
	fill(frame, 60, 3);
	REQUIRE(fake_inject(&f, &small, frame, 60));
	n = drv_rx(&dv, &got, out, sizeof(out), &nbufs, &first);
	REQUIRE(CHECK_EQ_U64(n, 60));
	CHECK_EQ_U64(nbufs, 1);
	CHECK_EQ_U64(first, dv.hlen + 60);
	CHECK_EQ_U64(got.flags, (extra & F_OFFLOADS) ? VIRTIO_NET_HDR_F_DATA_VALID : 0);
	CHECK_MEM(out, frame, 60);
	virtio_net_get_stats(d, &st);
	CHECK_EQ_U64(st.tx_frames, 1);
	CHECK_EQ_U64(st.tx_bytes, 3000);
	CHECK_EQ_U64(st.rx_frames, (extra & F_MRG) ? 2 : 1);
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	CHECK_STR(rig_log(&r), "");
	rig_exit(&r);
	fake_be_exit(&f);
}

TEST(net, tx_rx_legacy_guest_be)
{
	check_tx_rx(&modes[0], F_MRG | F_OFFLOADS);
}

TEST(net, tx_rx_legacy_guest_le)
{
	check_tx_rx(&modes[1], F_MRG | F_OFFLOADS);
}

TEST(net, tx_rx_legacy_vcpu_be)
{
	check_tx_rx(&modes[2], F_MRG | F_OFFLOADS);
}

TEST(net, tx_rx_modern)
{
	check_tx_rx(&modes[3], F_MRG | F_OFFLOADS);
}

/* legacy without MRG_RXBUF: a 10-byte header, a frame per buffer */
TEST(net, tx_rx_legacy_be_no_mrg)
{
	check_tx_rx(&modes[0], F_OFFLOADS);
}

TEST(net, tx_rx_legacy_le_no_offloads)
{
	check_tx_rx(&modes[1], 0);
}

/*
 * A guest that stops reading: frames pushed at the NIC regardless (like
 * slirp's) fill the bounded ring, the rest are dropped and counted; its
 * transmits still go out; once it reads, the oldest frames come first.
 */
TEST(net, rx_stuck_guest_is_bounded)
{
	static uint8_t frame[1500], out[2048];
	struct net_hdr h = { 0 }, got;
	struct virtio_mmio_dev *d;
	struct net_stats st;
	struct fake_be f;
	struct drv dv;
	struct rig r;
	unsigned int i, total = 1500;
	ssize_t n;

	REQUIRE(rig_init(&r, VIRTIO_MMIO_LEGACY));
	if (!fake_be_init(&f)) {
		rig_exit(&r);
		return;
	}
	f.push_always = true;
	d = add_nic(&r, &fake_ops, "mode=user");
	if (!CHECK(d) || !drv_start(&dv, d, &r.ram, &modes[0], F_MRG)) {
		rig_exit(&r);
		fake_be_exit(&f);
		return;
	}
	for (i = 0; i < total; i++) {
		put16be(frame, (uint16_t)i);
		fill(frame + 2, sizeof(frame) - 2, i);
		if (!fake_inject(&f, &h, frame, sizeof(frame)))
			break;
	}
	/* everything was taken from the backend: queued or dropped */
	CHECK(WAIT_UNTIL(rx_dropped(d) > total - 720));
	sleep_ms(50);
	virtio_net_get_stats(d, &st);
	/* 1 MiB holds about 690 such frames */
	CHECK(st.rx_dropped > total - 720 && st.rx_dropped < total - 600);
	CHECK_EQ_U64(st.rx_frames, 0);
	/* rx never blocks tx */
	fill(frame, 100, 9);
	REQUIRE(drv_tx(&dv, &h, frame, 100, 100));
	CHECK_EQ_U64(fake_expect_tx(&f, &got, out, sizeof(out)), 100);
	/* now it reads: the oldest first, in order */
	for (i = 0; i < 40; i++) {
		drv_rx_post(&dv, 1, 2048);
		n = drv_rx(&dv, &got, out, sizeof(out), NULL, NULL);
		if (!CHECK_EQ_U64(n, sizeof(frame)))
			break;
		CHECK_EQ_U64(get16be(out), i);
	}
	virtio_net_get_stats(d, &st);
	CHECK_EQ_U64(st.rx_frames, 40);
	rig_exit(&r);
	fake_be_exit(&f);
}

/* A backend that waits for room (tap) is simply not read while the guest does not read. */
TEST(net, rx_backpressure_leaves_frames_in_backend)
{
	static uint8_t frame[1000], out[2048];
	struct net_hdr h = { 0 }, got;
	struct virtio_mmio_dev *d;
	struct net_stats st;
	struct fake_be f;
	struct drv dv;
	struct rig r;
	unsigned int i, sent = 0;

	REQUIRE(rig_init(&r, VIRTIO_MMIO_MODERN));
	if (!fake_be_init(&f)) {
		rig_exit(&r);
		return;
	}
	fcntl(f.fd[1], F_SETFL, O_NONBLOCK);
	d = add_nic(&r, &fake_ops, "mode=user");
	if (!CHECK(d) || !drv_start(&dv, d, &r.ram, &modes[3], 0)) {
		rig_exit(&r);
		fake_be_exit(&f);
		return;
	}
	/* inject until the socket is full: the NIC takes 1 MiB, then leaves the rest */
	for (i = 0; i < 100000; i++) {
		struct iovec v[2] = { { &h, sizeof(h) }, { frame, sizeof(frame) } };
		struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };

		put16be(frame, (uint16_t)i);
		if (sendmsg(f.fd[1], &m, 0) < 0) {
			if (errno != EAGAIN)
				break;
			sleep_ms(20);
			if (sendmsg(f.fd[1], &m, 0) < 0)
				break;
		}
		sent++;
	}
	CHECK(sent < 100000);
	virtio_net_get_stats(d, &st);
	CHECK_EQ_U64(st.rx_dropped, 0);
	for (i = 0; i < 20; i++) {
		drv_rx_post(&dv, 1, 2048);
		if (!CHECK_EQ_U64(drv_rx(&dv, &got, out, sizeof(out), NULL, NULL), sizeof(frame)))
			break;
		CHECK_EQ_U64(get16be(out), i);
	}
	rig_exit(&r);
	fake_be_exit(&f);
}

/* The guest breaks the protocol: needs reset, one log line; a bad header only drops. */
TEST(net, hostile_guest)
{
	static uint8_t frame[256], out[512];
	struct virtio_mmio_dev *d;
	struct net_hdr h = { 0 }, got;
	struct net_stats st;
	struct fake_ring *fr;
	struct fake_be f;
	struct drv dv;
	struct rig r;
	unsigned int round;

	for (round = 0; round < 4; round++) {
		REQUIRE(rig_init(&r, VIRTIO_MMIO_LEGACY));
		if (!fake_be_init(&f)) {
			rig_exit(&r);
			return;
		}
		d = add_nic(&r, &fake_ops, "mode=user");
		if (!CHECK(d) || !drv_start(&dv, d, &r.ram, &modes[round & 1 ? 1 : 0], F_MRG)) {
			rig_exit(&r);
			fake_be_exit(&f);
			return;
		}
		fr = &dv.q[TXQ];
		fill(frame, sizeof(frame), round);
		switch (round) {
		case 0:
			/* offloads it did not negotiate, a checksum outside the frame: dropped */
			h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
			h.gso_size = 1000;
			REQUIRE(drv_tx(&dv, &h, frame, 100, 100));
			h = (struct net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 99 };
			REQUIRE(drv_tx(&dv, &h, frame, 100, 100));
			h = (struct net_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_UDP, .gso_size = 100 };
			REQUIRE(drv_tx(&dv, &h, frame, 100, 100));
			/* shorter than an Ethernet header */
			h = (struct net_hdr){ 0 };
			REQUIRE(drv_tx(&dv, &h, frame, 10, 10));
			CHECK(fake_nothing_sent(&f, 100));
			virtio_net_get_stats(d, &st);
			CHECK_EQ_U64(st.tx_dropped, 4);
			CHECK_EQ_U64(st.tx_frames, 0);
			/* and the NIC works on */
			REQUIRE(drv_tx(&dv, &h, frame, 100, 100));
			CHECK_EQ_U64(fake_expect_tx(&f, &got, out, sizeof(out)), 100);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
			CHECK_STR(rig_log(&r), "");
			break;
		case 1:
			/* a writable buffer in a transmit chain */
			hdr_put(&dv, slot_ptr(&dv, TXQ, 0), &h, 0);
			fr_desc(fr, 0, dv.buf[TXQ], (uint32_t)dv.hlen, VRING_DESC_F_NEXT, 1);
			fr_desc(fr, 1, dv.buf[TXQ] + SLOT, 100, VRING_DESC_F_WRITE, 0);
			fr_avail_add(fr, 0);
			reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, TXQ);
			CHECK(WAIT_UNTIL(reg_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));
			CHECK_CONTAINS(rig_log(&r), "transmit chain");
			break;
		case 2:
			/* a transmit chain shorter than its header */
			fr_desc(fr, 0, dv.buf[TXQ], 4, 0, 0);
			fr_avail_add(fr, 0);
			reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, TXQ);
			CHECK(WAIT_UNTIL(reg_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));
			CHECK_CONTAINS(rig_log(&r), "needs reset");
			break;
		case 3:
			/* a read-only receive buffer */
			fr = &dv.q[RXQ];
			fr_desc(fr, 0, dv.buf[RXQ], 1536, 0, 0);
			fr_avail_add(fr, 0);
			reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, RXQ);
			REQUIRE(fake_inject(&f, &h, frame, 60));
			CHECK(WAIT_UNTIL(reg_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));
			CHECK_CONTAINS(rig_log(&r), "receive buffer is not writable");
			break;
		}
		/* one line per episode */
		if (round) {
			const char *l = rig_log(&r), *nl = strchr(l, '\n');

			CHECK(nl && !strchr(nl + 1, '\n'));
		}
		rig_exit(&r);
		fake_be_exit(&f);
	}
}

/* A reset drops what waited and makes the backend learn the new session's offloads. */
TEST(net, reset_drops_queue_and_reapplies_offloads)
{
	static uint8_t frame[100], out[512];
	struct virtio_mmio_dev *d;
	struct net_hdr h = { 0 }, got;
	struct net_stats st;
	struct fake_be f;
	struct drv dv;
	struct rig r;

	REQUIRE(rig_init(&r, VIRTIO_MMIO_MODERN));
	if (!fake_be_init(&f)) {
		rig_exit(&r);
		return;
	}
	d = add_nic(&r, &fake_ops, "mode=user");
	if (!CHECK(d) || !drv_start(&dv, d, &r.ram, &modes[3], F_OFFLOADS)) {
		rig_exit(&r);
		fake_be_exit(&f);
		return;
	}
	CHECK(WAIT_UNTIL(f.set_off_calls == 1));
	fill(frame, sizeof(frame), 5);
	REQUIRE(fake_inject(&f, &h, frame, sizeof(frame)));
	REQUIRE(fake_inject(&f, &h, frame, sizeof(frame)));
	CHECK(drv_rx_none(&dv, 50));
	REQUIRE(drv_start(&dv, d, &r.ram, &modes[3], 0));
	CHECK(WAIT_UNTIL(f.set_off_calls == 2));
	CHECK_EQ_U64(f.set_off, 0);
	virtio_net_get_stats(d, &st);
	CHECK_EQ_U64(st.rx_dropped, 2);
	drv_rx_post(&dv, 2, 1536);
	CHECK(drv_rx_none(&dv, 50));
	REQUIRE(fake_inject(&f, &h, frame, sizeof(frame)));
	CHECK_EQ_U64(drv_rx(&dv, &got, out, sizeof(out), NULL, NULL), sizeof(frame));
	rig_exit(&r);
	fake_be_exit(&f);
}

/* several -n: a slot, an irq and a MAC each (52:54:00:12:34:56, then :57) */
TEST(net, several_nics)
{
	struct lkvm_err e = { "" };
	struct virtio_mmio_dev *d[2];
	struct rig r;
	unsigned int i;
	uint8_t c[6];

	REQUIRE(rig_init(&r, VIRTIO_MMIO_MODERN));
	for (i = 0; i < 2; i++) {
		if (!CHECK(virtio_net_add(&r.vm, "mode=none", i, &e) == 0)) {
			rig_exit(&r);
			return;
		}
		d[i] = (struct virtio_mmio_dev *)r.vm.devices;
		d[i]->mmio.vcpu_endian = t_vcpu_endian;
	}
	for (i = 0; i < 2; i++) {
		CHECK_EQ_U64(d[i]->mmio.mdev.base, MMIO_BASE + 0x200 * i);
		CHECK_EQ_U64(d[i]->irq, i);
		cfg_rd(d[i], 0, c, 6);
		CHECK_MEM(c, ((uint8_t[6]){ 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + i) }), 6);
	}
	/* a bad spec adds nothing */
	CHECK(virtio_net_add(&r.vm, "mode=tap,hostfwd=tcp:1-:2", 2, &e) == -1);
	CHECK_CONTAINS(e.msg, "hostfwd= is for mode=user");
	CHECK(r.vm.devices == &d[1]->base);
	rig_exit(&r);
}

/* mode=none: the link is down, nothing goes anywhere */
TEST(net, mode_none)
{
	static uint8_t frame[100];
	struct virtio_mmio_dev *d;
	struct net_hdr h = { 0 };
	struct net_stats st;
	struct drv dv;
	struct rig r;
	uint8_t c[2];

	REQUIRE(rig_init(&r, VIRTIO_MMIO_LEGACY));
	d = add_nic(&r, NULL, "mode=none");
	if (!CHECK(d) || !drv_start(&dv, d, &r.ram, &modes[0], F_MRG)) {
		rig_exit(&r);
		return;
	}
	cfg_rd(d, 6, c, 2);
	CHECK_EQ_U64(ve_get16(VQ_BE, c), 0);
	REQUIRE(drv_tx(&dv, &h, frame, sizeof(frame), 100));
	virtio_net_get_stats(d, &st);
	CHECK_EQ_U64(st.tx_dropped, 1);
	rig_exit(&r);
}

/* ---- user mode (libslirp), end to end ---- */

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static size_t build_arp_request(uint8_t *f, uint32_t sip, uint32_t tip)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	put16be(f + 12, 0x0806);
	put16be(f + 14, 1);
	put16be(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16be(f + 20, 1);
	memcpy(f + 22, guest_mac, 6);
	put16be(f + 28, (uint16_t)(sip >> 16));
	put16be(f + 30, (uint16_t)sip);
	memset(f + 32, 0, 6);
	put16be(f + 38, (uint16_t)(tip >> 16));
	put16be(f + 40, (uint16_t)tip);
	return 42;
}

/* Receives frames until one is an ARP reply from tip; its MAC into mac. */
static bool drv_wait_arp_reply(struct drv *dv, uint32_t tip, uint8_t *mac)
{
	static uint8_t out[NET_MAX_FRAME];
	unsigned int i;

	for (i = 0; i < 16; i++) {
		struct net_hdr h;
		ssize_t n;

		drv_rx_post(dv, 1, SLOT);
		n = drv_rx(dv, &h, out, sizeof(out), NULL, NULL);
		if (n < 0)
			return false;
		if (n >= 42 && get16be(out + 12) == 0x0806 && get16be(out + 20) == 2 &&
		    get16be(out + 28) == (uint16_t)(tip >> 16) && get16be(out + 30) == (uint16_t)tip) {
			memcpy(mac, out + 22, 6);
			return true;
		}
	}
	return false;
}

/* Receives frames until a UDP one to dport; returns its payload length, -1 if none. */
static ssize_t drv_wait_udp(struct drv *dv, uint16_t dport, uint8_t *payload, size_t cap,
			    struct net_hdr *hdr_out, uint8_t *frame_out, size_t *frame_len)
{
	static uint8_t out[NET_MAX_FRAME];
	unsigned int i;

	for (i = 0; i < 16; i++) {
		ssize_t n;

		drv_rx_post(dv, 1, SLOT);
		n = drv_rx(dv, hdr_out, out, sizeof(out), NULL, NULL);
		if (n < 0)
			return -1;
		if (n >= 42 && get16be(out + 12) == 0x0800 && out[23] == 17 &&
		    get16be(out + 36) == dport) {
			size_t plen = get16be(out + 38) - 8;

			memcpy(payload, out + 42, MIN(plen, cap));
			if (frame_out) {
				memcpy(frame_out, out, (size_t)n);
				*frame_len = (size_t)n;
			}
			return (ssize_t)plen;
		}
	}
	return -1;
}

#ifdef HAVE_SLIRP
/*
 * ARP for the gateway, then a UDP datagram (its checksum left partial for
 * the NIC to complete) to a service on the host's loopback through
 * 10.0.2.2, and the answer back: libslirp checks every checksum.
 */
static void check_user_udp(const struct mode *m)
{
	static uint8_t frame[2048], payload[600], got[2048];
	struct sockaddr_in sa = { .sin_family = AF_INET }, from;
	socklen_t sl = sizeof(sa), fl = sizeof(from);
	uint8_t gw_mac[6];
	struct virtio_mmio_dev *d;
	struct net_hdr h = { 0 }, rh;
	struct drv dv;
	struct rig r;
	size_t len;
	ssize_t n;
	int s;

	REQUIRE(rig_init(&r, m->t));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!CHECK(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		   getsockname(s, (struct sockaddr *)&sa, &sl) == 0)) {
		rig_exit(&r);
		return;
	}
	d = add_nic(&r, NULL, "mode=user");
	if (!CHECK(d) || !drv_start(&dv, d, &r.ram, m, F_MRG | BIT(VIRTIO_NET_F_CSUM) |
							     BIT(VIRTIO_NET_F_GUEST_CSUM))) {
		close(s);
		rig_exit(&r);
		return;
	}
	len = build_arp_request(frame, 0x0a00020f, 0x0a000202);
	REQUIRE(drv_tx(&dv, &h, frame, len, 1000));
	REQUIRE(drv_wait_arp_reply(&dv, 0x0a000202, gw_mac));

	fill(payload, sizeof(payload), 7);
	len = build_udp(frame, gw_mac, guest_mac, 0x0a00020f, 0x0a000202, 40000,
			ntohs(sa.sin_port), payload, sizeof(payload), true);
	h = (struct net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6 };
	REQUIRE(drv_tx(&dv, &h, frame, len, 300));
	{
		struct pollfd p = { .fd = s, .events = POLLIN };

		REQUIRE(poll(&p, 1, 3000) == 1);
	}
	n = recvfrom(s, got, sizeof(got), 0, (struct sockaddr *)&from, &fl);
	REQUIRE(CHECK_EQ_U64(n, sizeof(payload)));
	CHECK_MEM(got, payload, sizeof(payload));
	/* the answer: from 10.0.2.2:port to the guest's port, full checksums, DATA_VALID */
	fill(payload, 333, 8);
	REQUIRE(sendto(s, payload, 333, 0, (struct sockaddr *)&from, fl) == 333);
	n = drv_wait_udp(&dv, 40000, got, sizeof(got), &rh, frame, &len);
	REQUIRE(CHECK_EQ_U64(n, 333));
	CHECK_MEM(got, payload, 333);
	CHECK(udp_csum_ok(frame, len));
	CHECK_EQ_U64(get16be(frame + 34), ntohs(sa.sin_port));
	CHECK_EQ_U64(rh.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	close(s);
	rig_exit(&r);
}

TEST(net, user_udp_legacy_be)
{
	check_user_udp(&modes[0]);
}

TEST(net, user_udp_legacy_vcpu_be)
{
	check_user_udp(&modes[2]);
}

TEST(net, user_udp_modern)
{
	check_user_udp(&modes[3]);
}

/* Receives frames until a TCP one to dport with the flags; its seq into *seq. */
static bool drv_wait_tcp(struct drv *dv, uint16_t dport, uint8_t flags, uint32_t *seq)
{
	static uint8_t out[NET_MAX_FRAME];
	unsigned int i;

	for (i = 0; i < 16; i++) {
		struct net_hdr h;
		ssize_t n;

		drv_rx_post(dv, 1, SLOT);
		n = drv_rx(dv, &h, out, sizeof(out), NULL, NULL);
		if (n < 0)
			return false;
		if (n >= 54 && get16be(out + 12) == 0x0800 && out[23] == 6 &&
		    get16be(out + 36) == dport && (out[47] & flags) == flags) {
			*seq = get32be(out + 38);
			return true;
		}
	}
	return false;
}

/*
 * A TCP connection from the guest to a host loopback listener through
 * 10.0.2.2, its data sent as one TSO frame: lkvm segments it, libslirp
 * checks every segment's checksums, the host reads it all, in order.
 */
static void check_user_tcp_tso(const struct mode *m)
{
	static uint8_t frame[NET_MAX_FRAME], payload[12000], got[12000];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	uint8_t gw_mac[6];
	struct virtio_mmio_dev *d;
	struct net_hdr h = { 0 };
	struct net_stats st;
	struct drv dv;
	struct rig r;
	uint32_t sseq;
	size_t len, at = 0;
	int s, c = -1;

	REQUIRE(rig_init(&r, m->t));
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!CHECK(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(s, 1) == 0 &&
		   getsockname(s, (struct sockaddr *)&sa, &sl) == 0)) {
		rig_exit(&r);
		return;
	}
	d = add_nic(&r, NULL, "mode=user");
	if (!CHECK(d) || !drv_start(&dv, d, &r.ram, m, F_MRG | BIT(VIRTIO_NET_F_CSUM) |
							     BIT(VIRTIO_NET_F_HOST_TSO4))) {
		close(s);
		rig_exit(&r);
		return;
	}
	CHECK(dev_features(d) & BIT(VIRTIO_NET_F_HOST_TSO4));
	CHECK(!(dev_features(d) & BIT(VIRTIO_NET_F_HOST_TSO6)));
	len = build_arp_request(frame, 0x0a00020f, 0x0a000202);
	REQUIRE(drv_tx(&dv, &h, frame, len, 1000));
	REQUIRE(drv_wait_arp_reply(&dv, 0x0a000202, gw_mac));
	/* SYN, SYN-ACK (once slirp has connected to the listener), ACK */
	len = build_tcp(frame, gw_mac, guest_mac, 0x0a00020f, 0x0a000202, 40002, ntohs(sa.sin_port),
			1000, 0, 0x02, NULL, 0, false);
	REQUIRE(drv_tx(&dv, &h, frame, len, 1000));
	REQUIRE(drv_wait_tcp(&dv, 40002, 0x12, &sseq));
	len = build_tcp(frame, gw_mac, guest_mac, 0x0a00020f, 0x0a000202, 40002, ntohs(sa.sin_port),
			1001, sseq + 1, 0x10, NULL, 0, false);
	REQUIRE(drv_tx(&dv, &h, frame, len, 1000));
	c = accept(s, NULL, NULL);
	REQUIRE(c >= 0);
	/* 12000 bytes, one TSO frame of 1460-byte segments, in 4 pieces of guest RAM */
	fill(payload, sizeof(payload), 13);
	len = build_tcp(frame, gw_mac, guest_mac, 0x0a00020f, 0x0a000202, 40002, ntohs(sa.sin_port),
			1001, sseq + 1, 0x18, payload, sizeof(payload), true);
	h = (struct net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
			      .hdr_len = 54, .gso_size = 1460, .csum_start = 34, .csum_offset = 16 };
	REQUIRE(drv_tx(&dv, &h, frame, len, SLOT));
	{
		struct timeval tv = { .tv_sec = 3 };

		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	while (at < sizeof(got)) {
		ssize_t n = read(c, got + at, sizeof(got) - at);

		if (n <= 0)
			break;
		at += (size_t)n;
	}
	CHECK_EQ_U64(at, sizeof(payload));
	CHECK_MEM(got, payload, sizeof(payload));
	virtio_net_get_stats(d, &st);
	CHECK_EQ_U64(st.tx_dropped, 0);
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	close(c);
	close(s);
	rig_exit(&r);
}

TEST(net, user_tcp_tso_legacy_be)
{
	check_user_tcp_tso(&modes[0]);
}

TEST(net, user_tcp_tso_modern)
{
	check_user_tcp_tso(&modes[3]);
}

/* hostfwd: the host connects to 127.0.0.1:PORT, slirp forwards to the guest's port */
TEST(net, user_hostfwd_listens)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char spec[128];
	struct virtio_mmio_dev *d;
	socklen_t sl = sizeof(sa);
	struct rig r;
	int s, c;

	/* a free port: bind, read it, close */
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		getsockname(s, (struct sockaddr *)&sa, &sl) == 0);
	close(s);
	REQUIRE(rig_init(&r, VIRTIO_MMIO_MODERN));
	snprintf(spec, sizeof(spec), "mode=user,hostfwd=tcp:127.0.0.1:%u-:8000", ntohs(sa.sin_port));
	d = add_nic(&r, NULL, spec);
	CHECK(d);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(c);
	rig_exit(&r);
}

/* a port in use: one clear error */
TEST(net, user_hostfwd_port_in_use)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct lkvm_err e = { "" };
	struct net_opts o;
	socklen_t sl = sizeof(sa);
	char spec[128];
	struct rig r;
	int s;

	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(s, 1) == 0 &&
		getsockname(s, (struct sockaddr *)&sa, &sl) == 0);
	REQUIRE(rig_init(&r, VIRTIO_MMIO_MODERN));
	snprintf(spec, sizeof(spec), "mode=user,hostfwd=tcp:127.0.0.1:%u-:22", ntohs(sa.sin_port));
	REQUIRE(net_parse_spec(spec, &o, &e) == 0);
	CHECK(virtio_net_add_backend(&r.vm, &net_user_ops, &o, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "cannot forward tcp 127.0.0.1:");
	CHECK(r.vm.devices == NULL);
	close(s);
	rig_exit(&r);
}
#else
/* a build without libslirp: -n mode=user fails with one line that says so */
TEST(net, user_mode_unavailable)
{
	struct lkvm_err e = { "" };
	struct net_opts o;
	struct rig r;

	REQUIRE(rig_init(&r, VIRTIO_MMIO_MODERN));
	REQUIRE(net_parse_spec("mode=user", &o, &e) == 0);
	CHECK(virtio_net_add_backend(&r.vm, &net_user_ops, &o, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "without user-mode networking");
	CHECK(!net_have_user);
	rig_exit(&r);
}
#endif

/* ---- tap, end to end, where this host lets us make one ---- */

/* The kernel's UDP answers, through a tap whose vnet header lkvm keeps LE. */
static void check_tap(const struct mode *m, uint64_t extra)
{
	static uint8_t frame[2048], payload[700], got[2048];
	struct sockaddr_in sa = { .sin_family = AF_INET }, from;
	socklen_t sl = sizeof(sa), fl = sizeof(from);
	uint32_t net = 0x0ac90000 | ((uint32_t)(getpid() % 250) << 8), host = net | 1, guest = net | 2;
	struct virtio_mmio_dev *d;
	struct net_hdr h = { 0 }, rh;
	struct lkvm_err e = { "" };
	uint8_t host_mac[6];
	struct net_opts o;
	char spec[128];
	struct drv dv;
	struct rig r;
	size_t len;
	ssize_t n;
	int s, fd;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		test_skip("no /dev/net/tun here (%s)", strerror(errno));
		return;
	}
	close(fd);
	REQUIRE(rig_init(&r, m->t));
	snprintf(spec, sizeof(spec), "mode=tap,tapif=lkvmut%d,host_ip=%u.%u.%u.1/24", (int)getpid(),
		 net >> 24, (net >> 16) & 255, (net >> 8) & 255);
	REQUIRE(net_parse_spec(spec, &o, &e) == 0);
	if (virtio_net_add_backend(&r.vm, &net_tap_ops, &o, 0, &e)) {
		/* no CAP_NET_ADMIN: the error must say so, on one line */
		CHECK_CONTAINS(e.msg, "tap");
		test_skip("%s", e.msg);
		rig_exit(&r);
		return;
	}
	d = (struct virtio_mmio_dev *)r.vm.devices;
	if (!drv_start(&dv, d, &r.ram, m, F_MRG | extra)) {
		rig_exit(&r);
		return;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(host);
	REQUIRE(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		getsockname(s, (struct sockaddr *)&sa, &sl) == 0);
	/* ARP: the kernel answers, and learns the guest's MAC */
	len = build_arp_request(frame, guest, host);
	REQUIRE(drv_tx(&dv, &h, frame, len, 1000));
	REQUIRE(drv_wait_arp_reply(&dv, host, host_mac));
	/* a partial checksum: a wrong header byte order would have the kernel drop it */
	fill(payload, sizeof(payload), 11);
	len = build_udp(frame, host_mac, guest_mac, guest, host, 41000, ntohs(sa.sin_port), payload,
			sizeof(payload), (extra & BIT(VIRTIO_NET_F_CSUM)) != 0);
	if (extra & BIT(VIRTIO_NET_F_CSUM))
		h = (struct net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6 };
	REQUIRE(drv_tx(&dv, &h, frame, len, 200));
	{
		struct pollfd p = { .fd = s, .events = POLLIN };

		REQUIRE(poll(&p, 1, 3000) == 1);
	}
	n = recvfrom(s, got, sizeof(got), 0, (struct sockaddr *)&from, &fl);
	REQUIRE(CHECK_EQ_U64(n, sizeof(payload)));
	CHECK_MEM(got, payload, sizeof(payload));
	CHECK_EQ_U64(ntohl(from.sin_addr.s_addr), guest);
	/* the answer; with GUEST_CSUM its checksum may come partial (NEEDS_CSUM) */
	fill(payload, 444, 12);
	REQUIRE(sendto(s, payload, 444, 0, (struct sockaddr *)&from, fl) == 444);
	n = drv_wait_udp(&dv, 41000, got, sizeof(got), &rh, frame, &len);
	REQUIRE(CHECK_EQ_U64(n, 444));
	CHECK_MEM(got, payload, 444);
	if (rh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		CHECK(extra & BIT(VIRTIO_NET_F_GUEST_CSUM));
		CHECK_EQ_U64(rh.csum_start, 34);
		CHECK_EQ_U64(rh.csum_offset, 6);
		CHECK(net_csum_complete(frame, len, &rh));
	}
	CHECK(udp_csum_ok(frame, len));
	close(s);
	rig_exit(&r);
}

TEST(net, tap_legacy_be_offloads)
{
	check_tap(&modes[0], F_OFFLOADS);
}

TEST(net, tap_legacy_vcpu_be)
{
	check_tap(&modes[2], 0);
}

TEST(net, tap_modern_offloads)
{
	check_tap(&modes[3], F_OFFLOADS);
}

/* ---- lkvm run -n ---- */

#define RUN_PARSE(cfg, e, ...)                                                       \
	({                                                                           \
		char *argv_[] = { "run", __VA_ARGS__, NULL };                         \
		run_parse_options((int)ARRAY_SIZE(argv_) - 1, argv_, (cfg), (e));     \
	})

TEST(net, run_options)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	REQUIRE(RUN_PARSE(&cfg, &e, "-k", "Image") == 0);
	CHECK_EQ_U64(cfg.nr_nets, 0);
	REQUIRE(RUN_PARSE(&cfg, &e, "-k", "Image", "-n", "mode=user,hostfwd=tcp:2222-:22",
			  "--network", "mode=tap,tapif=tap3", "-nmode=none") == 0);
	REQUIRE(CHECK_EQ_U64(cfg.nr_nets, 3));
	CHECK_STR(cfg.nets[0], "mode=user,hostfwd=tcp:2222-:22");
	CHECK_STR(cfg.nets[1], "mode=tap,tapif=tap3");
	CHECK_STR(cfg.nets[2], "mode=none");
	/* a bad spec is refused while parsing, with one line naming it */
	CHECK(RUN_PARSE(&cfg, &e, "-k", "Image", "-n", "mode=bridge") == -1);
	CHECK_STR(e.msg, "-n mode=bridge: unknown mode 'bridge' (user, tap, none)");
	CHECK(RUN_PARSE(&cfg, &e, "-k", "Image", "-n", "mode=none", "-n", "mode=none", "-n",
			"mode=none", "-n", "mode=none", "-n", "mode=none") == -1);
	CHECK_CONTAINS(e.msg, "too many NICs (max 4)");
	CHECK(RUN_PARSE(&cfg, &e, "-k", "Image", "-n") == -1);
	CHECK_CONTAINS(e.msg, "-n");
}
