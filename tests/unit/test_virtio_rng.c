// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-rng through the virtio-mmio transport, with LE and BE rings, no KVM.
 *
 * This is the template for a new device's test (docs/new-device.md): copy
 * it to tests/unit/test_virtio_foo.c, replace virtio_rng_add() with your
 * device's *_add(), and rewrite request() and the checks for what your
 * device does. `make check` picks the file up; it needs no other change.
 *
 * Every case runs the same scenario under one of the ways a queue's byte
 * order is fixed (ARCHITECTURE.md, "Byte order: the rules"):
 *   legacy transport, the driver acks VIRTIO_RING_F_GUEST_LE or _GUEST_BE
 *   (whatever the vCPU's own order), or acks neither and the order of the
 *   vCPU that reset the device decides; modern transport: always LE.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "test.h"
#include "vcpu.h"
#include "virtio_rig.h"

#define BIT(n) (1ULL << (n))
#define F_GUEST_LE BIT(VIRTIO_RING_F_GUEST_LE)
#define F_GUEST_BE BIT(VIRTIO_RING_F_GUEST_BE)
#define F_VERSION_1 BIT(VIRTIO_F_VERSION_1)
#define F_RING (BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_RING_F_EVENT_IDX))

#define FILL 0xa5 /* what the driver's buffers hold before the device writes */

struct rng_case {
	enum virtio_transport transport;
	uint64_t ack;     /* the driver's feature bits */
	int vcpu;         /* the vCPU's byte order when it resets the device */
	enum vq_endian e; /* the order the rings must then be in */
	enum virtio_endian_rule rule;
};

/* Bytes of buf the device changed (random data: nearly all of them). */
static unsigned int changed(const uint8_t *buf, size_t len)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < len; i++)
		n += buf[i] != FILL;
	return n;
}

/* A device-writable buffer of len bytes at a fresh gpa, filled with FILL. */
static uint64_t wbuf(struct vrig *r, uint32_t len)
{
	uint64_t gpa = fake_ram_alloc(&r->ram, len, 16);

	memset(fake_ram_ptr(&r->ram, gpa), FILL, len);
	return gpa;
}

static void rng_scenario(const struct rng_case *c)
{
	struct vdrv dv = { .e = c->e, .ack = c->ack, .nq = 1, .num = 8, .vcpu_reset = c->vcpu };
	struct virtio_mmio_dev *d;
	struct lkvm_err e = { "" };
	struct vrig r;
	uint64_t a, b;

	/* 1. a VM and the device, added as run.c adds it */
	REQUIRE(vrig_init(&r, c->transport, VIRTIO_OFFER_BOTH));
	if (!CHECK(virtio_rng_add(&r.vm, &e) == 0)) {
		vrig_exit(&r);
		return;
	}
	d = vrig_newest(&r);
	CHECK_EQ_U64(vrig_rd(d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);

	/* 2. the driver brings it up; the queue's byte order follows the rules */
	if (!CHECK(vdrv_start(&dv, d, &r.ram))) {
		vrig_exit(&r);
		return;
	}
	CHECK_EQ_U64(d->vdev.vqs[0].endian, c->e);
	CHECK_EQ_U64(d->vdev.vq_rule[0], c->rule);

	/* 3. one writable buffer: all of it filled, used length = its size */
	a = wbuf(&r, 64);
	fr_desc(&dv.q[0], 0, a, 64, VRING_DESC_F_WRITE, 0);
	CHECK_EQ_U64(vdrv_submit(&dv, 0, 0), 64);
	CHECK(changed(fake_ram_ptr(&r.ram, a), 64) > 48);

	/* 4. a chain of two writable buffers (head 5 -> 2): used length is their sum */
	a = wbuf(&r, 16);
	b = wbuf(&r, 100);
	fr_desc(&dv.q[0], 5, a, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	fr_desc(&dv.q[0], 2, b, 100, VRING_DESC_F_WRITE, 0);
	CHECK_EQ_U64(vdrv_submit(&dv, 0, 5), 116);
	CHECK(changed(fake_ram_ptr(&r.ram, a), 16) > 8);
	CHECK(changed(fake_ram_ptr(&r.ram, b), 100) > 75);

	/*
	 * 5. a hostile driver: a device-readable buffer is a protocol error
	 * (5.4.6) so request() returns -1: the device sets DEVICE_NEEDS_RESET,
	 * raises a config interrupt and logs one line; nothing is used.
	 */
	a = wbuf(&r, 32);
	fr_desc(&dv.q[0], 1, a, 32, 0, 0);
	fr_avail_add(&dv.q[0], 1);
	vrig_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK(VRIG_WAIT_UNTIL(vrig_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));
	CHECK(vrig_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ_U64(vrig_irq(d, true), 1); /* one edge for the config change */
	CHECK(VRIG_WAIT_UNTIL(vrig_log_lines(&r) == 1));
	CHECK_CONTAINS(r.log, "virtio-rng@");
	CHECK_EQ_U64(fr_used_idx(&dv.q[0]), 2);
	CHECK_EQ_U64(changed(fake_ram_ptr(&r.ram, a), 32), 0);

	/* 6. a reset makes it usable again */
	dv.vcpu_reset = c->vcpu;
	if (CHECK(vdrv_start(&dv, d, &r.ram))) {
		a = wbuf(&r, 8);
		fr_desc(&dv.q[0], 0, a, 8, VRING_DESC_F_WRITE, 0);
		CHECK_EQ_U64(vdrv_submit(&dv, 0, 0), 8);
	}
	vrig_exit(&r);
}

TEST(virtio_rng, legacy_guest_le_bit)
{
	/* the acked bit wins over a BE vCPU */
	rng_scenario(&(struct rng_case){ VIRTIO_MMIO_LEGACY, F_GUEST_LE, GUEST_BE, VQ_LE,
					 VIRTIO_RULE_GUEST_BIT });
}

TEST(virtio_rng, legacy_guest_be_bit)
{
	rng_scenario(&(struct rng_case){ VIRTIO_MMIO_LEGACY, F_GUEST_BE | F_RING, GUEST_LE, VQ_BE,
					 VIRTIO_RULE_GUEST_BIT });
}

TEST(virtio_rng, legacy_vcpu_be)
{
	rng_scenario(&(struct rng_case){ VIRTIO_MMIO_LEGACY, 0, GUEST_BE, VQ_BE, VIRTIO_RULE_VCPU });
}

TEST(virtio_rng, legacy_vcpu_le)
{
	rng_scenario(&(struct rng_case){ VIRTIO_MMIO_LEGACY, F_RING, GUEST_LE, VQ_LE,
					 VIRTIO_RULE_VCPU });
}

TEST(virtio_rng, modern)
{
	/* version 2 is LE whatever the vCPU */
	rng_scenario(&(struct rng_case){ VIRTIO_MMIO_MODERN, F_VERSION_1 | F_RING, GUEST_BE, VQ_LE,
					 VIRTIO_RULE_VERSION_1 });
}

/*
 * The fast paths, without KVM: a queue eventfd (what KVM_IOEVENTFD signals)
 * wakes the device thread like a trapped QueueNotify, and is counted; the
 * interrupt is an edge only when InterruptStatus gains a bit.
 */
TEST(virtio_rng, queue_eventfd_and_edges)
{
	struct vdrv dv = { .e = VQ_LE, .ack = F_VERSION_1 | F_RING, .nq = 1, .num = 8,
			   .vcpu_reset = GUEST_LE };
	struct virtio_mmio_dev *d;
	struct lkvm_err e = { "" };
	uint64_t one = 1, a;
	struct vrig r;
	int efd;

	REQUIRE(vrig_init(&r, VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!CHECK(efd >= 0) || !CHECK(virtio_rng_add(&r.vm, &e) == 0) ||
	    !CHECK(vdrv_start(&dv, (d = vrig_newest(&r)), &r.ram))) {
		vrig_exit(&r);
		return;
	}
	CHECK(d->mmio.mdev.dt.irq_edge); /* edges in the DT: irqfd has no level */
	/* the rig has no KVM: no ioeventfd was bound, kicks trap */
	CHECK_EQ_U64(d->vdev.queue_fd[0], -1);
	d->vdev.queue_fd[0] = efd;
	/* an empty trapped kick makes the thread wait on the eventfd too */
	vrig_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);

	/* 1. a buffer, kicked through the eventfd: used, one edge, counted */
	a = wbuf(&r, 32);
	fr_desc(&dv.q[0], 0, a, 32, VRING_DESC_F_WRITE, 0);
	fr_set_used_event(&dv.q[0], 0); /* 2.7.10: interrupt me for it */
	fr_avail_add(&dv.q[0], 0);
	CHECK(write(efd, &one, sizeof(one)) == sizeof(one));
	CHECK(VRIG_WAIT_UNTIL(fr_used_idx(&dv.q[0]) == 1));
	CHECK_EQ_U64(vrig_irq(d, true), 1);
	CHECK_EQ_U64(atomic_load(&d->vdev.nr_kicks_ioeventfd), 1);
	CHECK_EQ_U64(atomic_load(&d->vdev.nr_kicks_exit), 1);

	/* 2. another before the driver acked: the bit is set already, no edge */
	fr_desc(&dv.q[0], 1, a, 32, VRING_DESC_F_WRITE, 0);
	fr_set_used_event(&dv.q[0], 1); /* 2.7.10: interrupt me for it */
	fr_avail_add(&dv.q[0], 1);
	CHECK(write(efd, &one, sizeof(one)) == sizeof(one));
	CHECK(VRIG_WAIT_UNTIL(fr_used_idx(&dv.q[0]) == 2));
	vrig_sleep_ms(20);
	CHECK_EQ_U64(vrig_irq(d, false), 0);

	/* 3. acked: the next one is an edge again */
	vrig_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	fr_desc(&dv.q[0], 2, a, 32, VRING_DESC_F_WRITE, 0);
	fr_set_used_event(&dv.q[0], 2); /* 2.7.10: interrupt me for it */
	fr_avail_add(&dv.q[0], 2);
	CHECK(write(efd, &one, sizeof(one)) == sizeof(one));
	CHECK(VRIG_WAIT_UNTIL(fr_used_idx(&dv.q[0]) == 3));
	CHECK_EQ_U64(vrig_irq(d, true), 1);
	CHECK_EQ_U64(virtio_dev_nr_used(&d->vdev), 3);
	vrig_exit(&r);
}
