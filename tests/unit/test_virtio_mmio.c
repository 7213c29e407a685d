// SPDX-License-Identifier: GPL-2.0
/*
 * virtio/mmio.c + device.c + blk/rng/console, no KVM: a hand-built VM with
 * fake RAM, registers accessed through the MMIO bus as a vCPU would, and a
 * fake driver (fake_driver.h) that brings devices up like Linux does, for
 * version 1 (legacy, rings in guest order) and version 2 (modern, LE).
 */
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "fake_driver.h"
#include "test.h"
#include "vcpu.h"
#include "virtio_devs.h"
#include "vm.h"

#define MMIO_BASE 0x0a000000ULL
#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRIVER VIRTIO_CONFIG_S_DRIVER
#define S_DRIVER_OK VIRTIO_CONFIG_S_DRIVER_OK
#define S_FEATURES_OK VIRTIO_CONFIG_S_FEATURES_OK
#define S_NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define BIT(n) (1ULL << (n))
#define F_GUEST_LE BIT(VIRTIO_RING_F_GUEST_LE)
#define F_GUEST_BE BIT(VIRTIO_RING_F_GUEST_BE)
#define F_VERSION_1 BIT(VIRTIO_F_VERSION_1)
#define F_RING (BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_RING_F_EVENT_IDX))
#define BLK_FEATURES \
	(BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH))

#define DISK_SIZE 0x10000ULL /* 128 sectors */
#define RO_DISK_SIZE 0x2000ULL

/* ---- the hand-built VM ---- */

/* virtio-mmio interrupts are edges: count the rising ones per line */
static _Atomic int irq_level[VM_MAX_IRQ_LINES];
static _Atomic int irq_edges[VM_MAX_IRQ_LINES];
static int vcpu_order = GUEST_LE; /* byte order the test vCPU runs in now */
static struct vcpu fake_vcpu;
#define FAKE_VCPU (&fake_vcpu)

static int test_irq_line(struct vm *vm, uint32_t irq, int level)
{
	if (irq < VM_MAX_IRQ_LINES && atomic_exchange(&irq_level[irq], level) != level && level)
		irq_edges[irq]++;
	return 0;
}

/* Edges on d's line since the last call (waits a little for a late one). */
static int irq_take(const struct virtio_mmio_dev *d, bool want)
{
	for (unsigned int i = 0; want && !irq_edges[d->irq] && i < 2000; i++)
		usleep(1000);
	return atomic_exchange(&irq_edges[d->irq], 0);
}

static int test_vcpu_endian(struct vcpu *vcpu)
{
	return vcpu == FAKE_VCPU ? vcpu_order : 0;
}

struct rig {
	struct vm vm;
	struct vm_config cfg;
	struct arch_ops arch;
	struct fake_ram ram;
	int log_pipe[2];
	char dir[64];
	char files[4][128];
	unsigned int nr_files;
	char log[4096];
	size_t log_len;
};

static bool rig_init(struct rig *r, enum virtio_transport t, enum virtio_endian_offer offer)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->log_pipe[0] = r->log_pipe[1] = -1;
	r->cfg.transport = t;
	r->cfg.endian_offer = offer;
	r->arch = (struct arch_ops){
		.name = "test",
		.virtio_mmio_base = MMIO_BASE,
		.virtio_mmio_slots = 32,
		.irq_line = test_irq_line,
		.vcpu_endian = test_vcpu_endian,
	};
	r->vm.arch = &r->arch;
	r->vm.cfg = &r->cfg;
	r->vm.kvm_fd = r->vm.vm_fd = r->vm.stop_efd = -1;
	fake_vcpu.vm = &r->vm;
	vcpu_order = GUEST_LE;
	/* a test may build several VMs in turn: their irq lines start low */
	for (i = 0; i < VM_MAX_IRQ_LINES; i++)
		irq_level[i] = irq_edges[i] = 0;
	if (!CHECK(pipe2(r->log_pipe, O_NONBLOCK | O_CLOEXEC) == 0))
		return false;
	r->vm.log = (struct logger){ .level = LOG_ERROR, .fd = r->log_pipe[1] };
	snprintf(r->dir, sizeof(r->dir), "/tmp/lkvm-virtio-mmio-XXXXXX");
	if (!CHECK(mkdtemp(r->dir)))
		return false;
	if (!fake_ram_init(&r->ram, &r->vm.mem))
		return false;
	r->ram.next = FAKE_RAM_GPA + 0x1000;
	return true;
}

static void rig_exit(struct rig *r)
{
	unsigned int i;

	/* device threads joined before RAM goes (ARCHITECTURE: run.c order) */
	vm_stop_devices(&r->vm);
	vm_destroy_devices(&r->vm);
	for (i = 0; i < r->nr_files; i++)
		unlink(r->files[i]);
	if (r->dir[0] == '/')
		rmdir(r->dir);
	fake_ram_free(&r->ram);
	if (r->log_pipe[0] >= 0)
		close(r->log_pipe[0]);
	if (r->log_pipe[1] >= 0)
		close(r->log_pipe[1]);
}

/* What every image holds at byte off. */
static uint8_t pat(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) * 13 + 1);
}

static const char *make_image(struct rig *r, const char *name, uint64_t size)
{
	char *path = r->files[r->nr_files];
	uint8_t *buf = malloc(size);
	uint64_t i;
	int fd;
	bool ok;

	if (!CHECK(buf && r->nr_files < 4))
		return NULL;
	snprintf(path, sizeof(r->files[0]), "%s/%s", r->dir, name);
	r->nr_files++;
	for (i = 0; i < size; i++)
		buf[i] = pat(i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ok = CHECK(fd >= 0) && CHECK(write(fd, buf, size) == (ssize_t)size);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok ? path : NULL;
}

/* The device added last (vm->devices is newest first), answering the test vCPU. */
static struct virtio_mmio_dev *newest(struct rig *r)
{
	struct virtio_mmio_dev *d = (struct virtio_mmio_dev *)r->vm.devices;

	if (d)
		d->mmio.vcpu_endian = test_vcpu_endian;
	return d;
}

static struct virtio_mmio_dev *add_blk(struct rig *r, const char *spec)
{
	struct lkvm_err e = { "" };

	if (!spec || !CHECK(virtio_blk_add(&r->vm, spec, &e) == 0)) {
		if (spec)
			test_fail(__FILE__, __LINE__, "virtio_blk_add: %s", e.msg);
		return NULL;
	}
	return newest(r);
}

static struct virtio_mmio_dev *add_rng(struct rig *r)
{
	struct lkvm_err e = { "" };

	if (!CHECK(virtio_rng_add(&r->vm, &e) == 0))
		return NULL;
	return newest(r);
}

static struct virtio_mmio_dev *add_console(struct rig *r, int fd, struct virtio_console **con)
{
	struct lkvm_err e = { "" };

	if (!CHECK(virtio_console_add(&r->vm, fd, -1, con, &e) == 0))
		return NULL;
	return newest(r);
}

/* Log lines written so far (the whole log is kept in r->log). */
static unsigned int log_lines(struct rig *r)
{
	unsigned int n = 0;
	ssize_t got;
	size_t i;

	while (r->log_len < sizeof(r->log) - 1 &&
	       (got = read(r->log_pipe[0], r->log + r->log_len, sizeof(r->log) - 1 - r->log_len)) > 0)
		r->log_len += got;
	r->log[r->log_len] = 0;
	for (i = 0; i < r->log_len; i++)
		n += r->log[i] == '\n';
	return n;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Polls cond for up to 2 s: the device works on its own thread. */
#define WAIT_UNTIL(cond)                                  \
	({                                                \
		unsigned int wait_n_ = 0;                 \
		while (!(cond) && wait_n_++ < 2000)       \
			sleep_ms(1);                      \
		(cond);                                   \
	})

/* ---- registers, as a vCPU accesses them: 32-bit LE on the bus (4.2.2) ---- */

static uint32_t reg_rd(struct virtio_mmio_dev *d, uint64_t off)
{
	uint8_t b[4] = { 0xee, 0xee, 0xee, 0xee };

	mmio_bus_access(&d->vm->bus, FAKE_VCPU, d->mmio.mdev.base + off, b, 4, false);
	return (uint32_t)mmio_get_le(b, 4);
}

static void reg_wr(struct virtio_mmio_dev *d, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	mmio_put_le(b, 4, v);
	mmio_bus_access(&d->vm->bus, FAKE_VCPU, d->mmio.mdev.base + off, b, 4, true);
}

static void cfg_rd(struct virtio_mmio_dev *d, uint64_t off, uint8_t *out, unsigned int len)
{
	memset(out, 0xee, len);
	mmio_bus_access(&d->vm->bus, FAKE_VCPU, d->mmio.mdev.base + VIRTIO_MMIO_CONFIG + off, out,
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

static void drv_features(struct virtio_mmio_dev *d, uint64_t f)
{
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static bool is_legacy(struct virtio_mmio_dev *d)
{
	return d->vdev.transport == VIRTIO_MMIO_LEGACY;
}

/* ---- the fake driver, Linux's order (3.1.1, 4.2.3.1, 4.2.4) ---- */

struct drv {
	struct virtio_mmio_dev *d;
	struct fake_ram *ram;
	enum vq_endian e;  /* the order the driver writes its rings in */
	uint64_t ack;      /* features it acks */
	unsigned int nq;   /* queues it sets up */
	uint16_t num;
	int vcpu_reset;    /* vCPU order when writing Status = 0 */
	int vcpu_after;    /* and for everything after (0: the same) */
	bool keep_page_size; /* legacy: GuestPageSize already written (Linux: once, at probe) */
	struct fake_ring q[VIRTIO_MAX_QUEUES];
};

static void drv_reset(struct drv *dv)
{
	vcpu_order = dv->vcpu_reset ? dv->vcpu_reset : vcpu_order;
	reg_wr(dv->d, VIRTIO_MMIO_STATUS, 0);
	if (dv->vcpu_after)
		vcpu_order = dv->vcpu_after;
}

/* Queue q of num entries, rings in fresh fake RAM. */
static bool drv_queue(struct drv *dv, unsigned int q, uint16_t num)
{
	struct virtio_mmio_dev *d = dv->d;
	struct fake_ring *fr = &dv->q[q];

	reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
	if (!CHECK(reg_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX) >= num))
		return false;
	reg_wr(d, VIRTIO_MMIO_QUEUE_NUM, num);
	if (is_legacy(d)) {
		/* 4.2.4: desc | avail (+used_event) | pad | used, at QueuePFN * GuestPageSize */
		uint64_t base = fake_ram_alloc(dv->ram, fr_legacy_size(num, 4096), 4096);

		fr_init_legacy(fr, dv->ram, dv->e, num, base, 4096);
		reg_wr(d, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
		reg_wr(d, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(base / 4096));
		return CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_PFN), base / 4096);
	}
	/* 4.2.3.2: the three parts anywhere, each aligned (2.7) */
	fr_init(fr, dv->ram, dv->e, num, fake_ram_alloc(dv->ram, 16 * num, 16),
		fake_ram_alloc(dv->ram, 6 + 2 * num, 2), fake_ram_alloc(dv->ram, 6 + 8 * num, 4));
	if (!CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_READY), 0))
		return false;
	reg_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)fr->desc);
	reg_wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(fr->desc >> 32));
	reg_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)fr->avail);
	reg_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(fr->avail >> 32));
	reg_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)fr->used);
	reg_wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(fr->used >> 32));
	reg_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_READY), 1);
}

/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, (FEATURES_OK), queues, DRIVER_OK. */
static bool drv_start(struct drv *dv, struct virtio_mmio_dev *d, struct fake_ram *ram)
{
	uint32_t status = S_ACK | S_DRIVER;
	uint64_t host;
	unsigned int q;

	dv->d = d;
	dv->ram = ram;
	drv_reset(dv);
	if (!CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS), 0))
		return false;
	reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK);
	reg_wr(d, VIRTIO_MMIO_STATUS, status);
	host = dev_features(d);
	if (!CHECK_EQ_U64(dv->ack & ~host, 0))
		return false;
	drv_features(d, dv->ack);
	if (!is_legacy(d)) {
		status |= S_FEATURES_OK;
		reg_wr(d, VIRTIO_MMIO_STATUS, status);
		if (!CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS), status))
			return false;
	} else if (!dv->keep_page_size) {
		reg_wr(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	}
	for (q = 0; q < dv->nq; q++)
		if (!drv_queue(dv, q, dv->num))
			return false;
	status |= S_DRIVER_OK;
	reg_wr(d, VIRTIO_MMIO_STATUS, status);
	return CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS), status);
}

/*
 * Makes head available on queue q, kicks, waits for the used entry and the
 * interrupt (4.2.3.4), then acks it. Returns the used length, -1 on failure.
 */
static int64_t drv_submit(struct drv *dv, unsigned int q, uint16_t head)
{
	struct virtio_mmio_dev *d = dv->d;
	struct fake_ring *fr = &dv->q[q];
	uint32_t id, len;
	uint16_t want = fr->last_used + 1;

	/* 2.7.10 (if negotiated): interrupt me once the next entry is used */
	fr_set_used_event(fr, fr->last_used);
	fr_avail_add(fr, head);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	if (!CHECK(WAIT_UNTIL(fr_used_idx(fr) == want &&
			      (reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING))))
		return -1;
	CHECK_EQ_U64(irq_take(d, true), 1);
	fr_used_elem(fr, fr->last_used, &id, &len);
	fr->last_used++;
	CHECK_EQ_U64(id, head);
	/* 4.2.2: InterruptACK clears the bit and lowers the line */
	reg_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING, 0);
	CHECK_EQ_U64(irq_take(d, false), 0);
	return id == head ? (int64_t)len : -1;
}

/* ---- decoder ---- */

static const enum virtio_transport transports[] = { VIRTIO_MMIO_LEGACY, VIRTIO_MMIO_MODERN };

/* 4.2.2: MagicValue, Version, DeviceID, VendorID, QueueNumMax; slots, irqs, bus */
TEST(virtio_mmio, identity_registers)
{
	unsigned int t;

	for (t = 0; t < 2; t++) {
		struct virtio_mmio_dev *blk, *rng, *con, *devs[3];
		static const uint32_t ids[3] = { VIRTIO_ID_BLOCK, VIRTIO_ID_RNG, VIRTIO_ID_CONSOLE };
		static const uint32_t qmax[3] = { 256, 64, 128 };
		struct virtio_console *c;
		struct rig r;
		unsigned int i;

		REQUIRE(rig_init(&r, transports[t], VIRTIO_OFFER_BOTH));
		blk = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
		rng = add_rng(&r);
		con = add_console(&r, r.log_pipe[1], &c);
		devs[0] = blk, devs[1] = rng, devs[2] = con;
		if (!CHECK(blk && rng && con)) {
			rig_exit(&r);
			return;
		}
		for (i = 0; i < 3; i++) {
			struct virtio_mmio_dev *d = devs[i];

			CHECK_EQ_U64(d->mmio.mdev.base, MMIO_BASE + 0x200 * i);
			CHECK(mmio_bus_find(&r.vm.bus, MMIO_BASE + 0x200 * i, 4)->opaque == &d->mmio);
			CHECK_EQ_U64(d->irq, i);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_VERSION), t ? 2 : 1);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_DEVICE_ID), ids[i]);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS), 0);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
			reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), qmax[i]);
			/* 4.2.2: QueueNumMax 0 means "no such queue" */
			reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, d == con ? 2 : 1);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
			reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MAX_QUEUES);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
			reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
			/* unknown and write-only registers read 0 */
			CHECK_EQ_U64(reg_rd(d, 0x0ac), 0);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_DRIVER_FEATURES), 0);
			/* legacy has no ConfigGeneration (4.2.4) */
			if (!t)
				CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_CONFIG_GENERATION), 0);
		}
		reg_wr(con, VIRTIO_MMIO_QUEUE_SEL, 1);
		CHECK_EQ_U64(reg_rd(con, VIRTIO_MMIO_QUEUE_NUM_MAX), 128);
		rig_exit(&r);
	}
}

/*
 * Features are 64-bit on both versions. Legacy: VIRTIO_RING_F_GUEST_LE/BE
 * (44/45) per --virtio-endian-offer, never VERSION_1; modern: VERSION_1,
 * never 44/45 (lkvm's guest/linux patch; 6 Reserved Feature Bits).
 */
TEST(virtio_mmio, device_features_offer)
{
	static const enum virtio_endian_offer offers[] = { VIRTIO_OFFER_BOTH, VIRTIO_OFFER_LE,
							   VIRTIO_OFFER_BE, VIRTIO_OFFER_NONE };
	static const uint64_t legacy_bits[] = { F_GUEST_LE | F_GUEST_BE, F_GUEST_LE, F_GUEST_BE, 0 };
	unsigned int t, o;

	for (t = 0; t < 2; t++) {
		for (o = 0; o < 4; o++) {
			struct virtio_mmio_dev *d;
			struct rig r;
			uint64_t f;

			REQUIRE(rig_init(&r, transports[t], offers[o]));
			d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
			if (!CHECK(d)) {
				rig_exit(&r);
				return;
			}
			f = dev_features(d);
			CHECK_EQ_U64(f & (F_GUEST_LE | F_GUEST_BE | F_VERSION_1),
				     t ? F_VERSION_1 : legacy_bits[o]);
			CHECK_EQ_U64(f & (F_RING | BLK_FEATURES), F_RING | BLK_FEATURES);
			CHECK_EQ_U64(f & BIT(VIRTIO_BLK_F_RO), 0);
			/* selector 2 and beyond: no more feature words */
			reg_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_DEVICE_FEATURES), 0);
			reg_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0x80000001);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_DEVICE_FEATURES), 0);
			rig_exit(&r);
		}
	}
}

/* QueueSel past the device's queues: every queue register ignores it, no crash. */
TEST(virtio_mmio, queue_sel_out_of_range)
{
	static const uint32_t sels[] = { 1, 3, VIRTIO_MAX_QUEUES, 0x7fffffff, 0xffffffff };
	unsigned int t, s;

	for (t = 0; t < 2; t++) {
		struct virtio_mmio_dev *d;
		struct drv dv = { .e = VQ_LE, .nq = 0, .num = 8, .vcpu_reset = GUEST_LE };
		struct rig r;

		REQUIRE(rig_init(&r, transports[t], VIRTIO_OFFER_BOTH));
		d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
		if (!CHECK(d)) {
			rig_exit(&r);
			return;
		}
		dv.ack = t ? F_VERSION_1 : F_GUEST_LE;
		CHECK(drv_start(&dv, d, &r.ram));
		reg_wr(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
		for (s = 0; s < sizeof(sels) / sizeof(sels[0]); s++) {
			reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, sels[s]);
			reg_wr(d, VIRTIO_MMIO_QUEUE_NUM, 8);
			reg_wr(d, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
			reg_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)FAKE_RAM_GPA);
			reg_wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
			reg_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)FAKE_RAM_GPA + 0x1000);
			reg_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)FAKE_RAM_GPA + 0x2000);
			reg_wr(d, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(FAKE_RAM_GPA >> 12));
			reg_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
			reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, sels[s]);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_PFN), 0);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
			CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		}
		/* nothing happened: no queue, no error, the real queue 0 untouched */
		CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS) & S_NEEDS_RESET, 0);
		CHECK(!d->vdev.vqs[0].ready && !d->vdev.vqs[1].ready && !d->vdev.vqs[3].ready);
		CHECK_EQ_U64(d->mmio.q[0].num, 0);
		CHECK_EQ_U64(d->mmio.q[1].num, 0);
		CHECK_EQ_U64(d->mmio.q[1].desc, 0);
		CHECK_EQ_U64(d->mmio.q[3].num, 0);
		CHECK_EQ_U64(log_lines(&r), 0);
		rig_exit(&r);
	}
}

/* 4.2.2.2: registers are 32-bit accesses; narrower, wider or unaligned ones do nothing. */
TEST(virtio_mmio, narrow_register_access)
{
	unsigned int t;

	for (t = 0; t < 2; t++) {
		struct virtio_mmio_dev *d;
		struct rig r;
		uint8_t b[8];
		unsigned int len;

		REQUIRE(rig_init(&r, transports[t], VIRTIO_OFFER_BOTH));
		d = add_rng(&r);
		if (!CHECK(d)) {
			rig_exit(&r);
			return;
		}
		for (len = 1; len <= 8; len *= 2) {
			if (len == 4)
				continue;
			memset(b, 0xee, sizeof(b));
			mmio_bus_access(&r.vm.bus, FAKE_VCPU, MMIO_BASE, b, len, false);
			CHECK_MEM(b, ((uint8_t[8]){ 0 }), len);
			memset(b, 0xee, sizeof(b));
			mmio_bus_access(&r.vm.bus, FAKE_VCPU, MMIO_BASE + VIRTIO_MMIO_DEVICE_ID, b, len,
					false);
			CHECK_MEM(b, ((uint8_t[8]){ 0 }), len);
		}
		/* unaligned 32-bit */
		memset(b, 0xee, sizeof(b));
		mmio_bus_access(&r.vm.bus, FAKE_VCPU, MMIO_BASE + 1, b, 4, false);
		CHECK_MEM(b, ((uint8_t[4]){ 0 }), 4);
		memset(b, 0xee, sizeof(b));
		mmio_bus_access(&r.vm.bus, FAKE_VCPU, MMIO_BASE + VIRTIO_MMIO_VERSION + 2, b, 4, false);
		CHECK_MEM(b, ((uint8_t[4]){ 0 }), 4);
		/* a 16-bit Status write and an unaligned one are ignored */
		mmio_put_le(b, 2, S_ACK);
		mmio_bus_access(&r.vm.bus, FAKE_VCPU, MMIO_BASE + VIRTIO_MMIO_STATUS, b, 2, true);
		CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS), 0);
		mmio_put_le(b, 4, S_ACK);
		mmio_bus_access(&r.vm.bus, FAKE_VCPU, MMIO_BASE + VIRTIO_MMIO_STATUS + 1, b, 4, true);
		CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS), 0);
		/* the 32-bit one works */
		reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK);
		CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS), S_ACK);
		/* rng has no config space: every width reads 0 (4.2.2.2, 5.4.4) */
		for (len = 1; len <= 8; len *= 2) {
			cfg_rd(d, 0, b, len);
			CHECK_MEM(b, ((uint8_t[8]){ 0 }), len);
		}
		rig_exit(&r);
	}
}

/* Checks blk config space (5.2.4) in byte order e: every width, inside and past the end. */
static void check_blk_config(struct virtio_mmio_dev *d, enum vq_endian e, uint64_t sectors)
{
	uint8_t want[8], b[8];
	unsigned int off;

	ve_put64(e, want, sectors);
	cfg_rd(d, 0, b, 8);
	CHECK_MEM(b, want, 8);
	for (off = 0; off < 8; off++) {
		cfg_rd(d, off, b, 1);
		CHECK_EQ_U64(b[0], want[off]);
	}
	for (off = 0; off < 8; off += 2) {
		cfg_rd(d, off, b, 2);
		CHECK_MEM(b, want + off, 2);
	}
	for (off = 0; off < 8; off += 4) {
		cfg_rd(d, off, b, 4);
		CHECK_MEM(b, want + off, 4);
	}
	/* seg_max (12) and blk_size (20) */
	ve_put32(e, want, 254);
	cfg_rd(d, 12, b, 4);
	CHECK_MEM(b, want, 4);
	ve_put32(e, want, 512);
	cfg_rd(d, 20, b, 4);
	CHECK_MEM(b, want, 4);
	/* 8 bytes ending exactly at config_size (60): max_write_zeroes_seg, may_unmap */
	ve_put32(e, want, 32);
	memcpy(want + 4, (uint8_t[4]){ 1, 0, 0, 0 }, 4);
	cfg_rd(d, 52, b, 8);
	CHECK_MEM(b, want, 8);
	/* crossing or past the end: refused, reads zeroes */
	cfg_rd(d, 53, b, 8);
	CHECK_MEM(b, ((uint8_t[8]){ 0 }), 8);
	cfg_rd(d, 56, b, 8);
	CHECK_MEM(b, ((uint8_t[8]){ 0 }), 8);
	cfg_rd(d, 60, b, 1);
	CHECK_EQ_U64(b[0], 0);
	cfg_rd(d, 0xfc, b, 4);
	CHECK_MEM(b, ((uint8_t[4]){ 0 }), 4);
}

/*
 * 2.5.3 legacy config in guest order, else LE: the order follows the acked
 * bit, else the vCPU that reset the device; modern is always LE.
 */
TEST(virtio_mmio, blk_config_space_order)
{
	static const struct {
		enum virtio_transport t;
		int vcpu_reset, vcpu_after;
		uint64_t ack;
		enum vq_endian e;
	} cases[] = {
		{ VIRTIO_MMIO_LEGACY, GUEST_LE, GUEST_LE, F_GUEST_BE, VQ_BE },
		{ VIRTIO_MMIO_LEGACY, GUEST_BE, GUEST_BE, F_GUEST_LE, VQ_LE },
		{ VIRTIO_MMIO_LEGACY, GUEST_BE, GUEST_LE, 0, VQ_BE },
		{ VIRTIO_MMIO_LEGACY, GUEST_LE, GUEST_BE, 0, VQ_LE },
		{ VIRTIO_MMIO_MODERN, GUEST_BE, GUEST_BE, F_VERSION_1, VQ_LE },
		{ VIRTIO_MMIO_MODERN, GUEST_LE, GUEST_LE, F_VERSION_1, VQ_LE },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct virtio_mmio_dev *d;
		struct drv dv = { .e = cases[i].e, .ack = cases[i].ack, .nq = 1, .num = 8,
				  .vcpu_reset = cases[i].vcpu_reset, .vcpu_after = cases[i].vcpu_after };
		struct rig r;

		REQUIRE(rig_init(&r, cases[i].t, VIRTIO_OFFER_BOTH));
		d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
		if (!CHECK(d)) {
			rig_exit(&r);
			return;
		}
		if (CHECK(drv_start(&dv, d, &r.ram)))
			check_blk_config(d, cases[i].e, DISK_SIZE / 512);
		rig_exit(&r);
	}
}

/*
 * Version 2 is a non-legacy interface: its config space is LE (2.5) from the
 * start, not only once VERSION_1 is acked. Linux reads config before it
 * writes its features (virtblk_validate() reads blk_size, virtnet_validate()
 * the MTU): a BE guest must see LE there too.
 */
TEST(virtio_mmio, modern_config_le_before_features)
{
	struct virtio_mmio_dev *d;
	struct rig r;
	uint8_t b[4];

	REQUIRE(rig_init(&r, VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH));
	d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
	if (!CHECK(d)) {
		rig_exit(&r);
		return;
	}
	vcpu_order = GUEST_BE;
	reg_wr(d, VIRTIO_MMIO_STATUS, 0);
	reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER);
	dev_features(d);
	cfg_rd(d, 20, b, 4); /* blk_size = 512 */
	CHECK_MEM(b, ((uint8_t[4]){ 0x00, 0x02, 0x00, 0x00 }), 4);
	rig_exit(&r);
}

/* 3.1.1 / 2.2.1: the device refuses FEATURES_OK for a feature set it cannot accept. */
TEST(virtio_mmio, features_ok_refused)
{
	static const struct {
		enum virtio_transport t;
		enum virtio_endian_offer offer;
		uint64_t ack;
		bool ok;
	} cases[] = {
		{ VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH, F_VERSION_1 | F_RING, true },
		{ VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH, F_RING, false },           /* no VERSION_1 */
		{ VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH, 0, false },
		{ VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH, F_VERSION_1 | F_GUEST_BE, false },
		{ VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH, F_VERSION_1 | F_GUEST_LE | F_GUEST_BE, false },
		{ VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH, F_VERSION_1 | BIT(63), false },
		{ VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH, F_VERSION_1 | BIT(VIRTIO_BLK_F_RO), false },
		{ VIRTIO_MMIO_LEGACY, VIRTIO_OFFER_BOTH, F_GUEST_LE | F_GUEST_BE, false },
		{ VIRTIO_MMIO_LEGACY, VIRTIO_OFFER_BOTH, F_GUEST_BE | F_RING, true },
		{ VIRTIO_MMIO_LEGACY, VIRTIO_OFFER_BOTH, F_GUEST_LE, true },
		{ VIRTIO_MMIO_LEGACY, VIRTIO_OFFER_BOTH, 0, true },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct virtio_mmio_dev *d;
		struct rig r;
		uint32_t st;

		REQUIRE(rig_init(&r, cases[i].t, cases[i].offer));
		d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
		if (!CHECK(d)) {
			rig_exit(&r);
			return;
		}
		reg_wr(d, VIRTIO_MMIO_STATUS, 0);
		reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER);
		dev_features(d);
		drv_features(d, cases[i].ack);
		reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
		st = reg_rd(d, VIRTIO_MMIO_STATUS);
		if ((st == (S_ACK | S_DRIVER | S_FEATURES_OK)) != cases[i].ok)
			test_fail(__FILE__, __LINE__, "case %u: features 0x%llx: status 0x%x", i,
				  (unsigned long long)cases[i].ack, st);
		CHECK_EQ_U64(st & (S_ACK | S_DRIVER), S_ACK | S_DRIVER);
		/* after FEATURES_OK the features are fixed */
		if (cases[i].ok) {
			uint64_t before = d->vdev.guest_features;

			drv_features(d, 0);
			CHECK_EQ_U64(d->vdev.guest_features, before);
		}
		rig_exit(&r);
	}
}

/* Legacy: an order bit the device did not offer is not taken (the vCPU rule applies). */
TEST(virtio_mmio, legacy_unoffered_order_bit_ignored)
{
	struct virtio_mmio_dev *d;
	struct drv dv = { .e = VQ_LE, .nq = 1, .num = 8, .vcpu_reset = GUEST_LE };
	struct rig r;

	REQUIRE(rig_init(&r, VIRTIO_MMIO_LEGACY, VIRTIO_OFFER_LE));
	d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
	if (!CHECK(d)) {
		rig_exit(&r);
		return;
	}
	dv.ack = 0;
	REQUIRE(drv_start(&dv, d, &r.ram));
	/* start over acking BE, which was not offered */
	reg_wr(d, VIRTIO_MMIO_STATUS, 0);
	reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER);
	drv_features(d, F_GUEST_BE | BIT(63));
	CHECK_EQ_U64(d->vdev.guest_features & (F_GUEST_BE | BIT(63)), 0);
	reg_wr(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	CHECK(drv_queue(&dv, 0, 8));
	CHECK_EQ_U64(d->vdev.vq_rule[0], VIRTIO_RULE_VCPU);
	CHECK_EQ_U64(d->vdev.vqs[0].endian, VQ_LE);
	rig_exit(&r);
}

/* The driver cannot set NEEDS_RESET itself (2.1.2: the device's to set). */
TEST(virtio_mmio, status_needs_reset_is_the_devices)
{
	unsigned int t;

	for (t = 0; t < 2; t++) {
		struct virtio_mmio_dev *d;
		struct rig r;

		REQUIRE(rig_init(&r, transports[t], VIRTIO_OFFER_BOTH));
		d = add_rng(&r);
		if (!CHECK(d)) {
			rig_exit(&r);
			return;
		}
		reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_NEEDS_RESET);
		CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS), S_ACK);
		rig_exit(&r);
	}
}

/* ---- virtio-blk requests (5.2.6) ---- */

/* The request header in the ring's order: type, reserved, sector. */
static uint64_t blk_hdr(struct drv *dv, uint32_t type, uint64_t sector)
{
	uint64_t gpa = fake_ram_alloc(dv->ram, 16, 16);
	uint8_t *p = fake_ram_ptr(dv->ram, gpa);

	ve_put32(dv->e, p, type);
	ve_put32(dv->e, p + 4, 0);
	ve_put64(dv->e, p + 8, sector);
	return gpa;
}

static uint64_t status_byte(struct drv *dv)
{
	uint64_t gpa = fake_ram_alloc(dv->ram, 1, 1);

	*fake_ram_ptr(dv->ram, gpa) = 0xee;
	return gpa;
}

static void pread_file(const char *path, uint64_t off, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(buf, 0xee, len);
	if (CHECK(fd >= 0)) {
		CHECK(pread(fd, buf, len, off) == (ssize_t)len);
		close(fd);
	}
}

/* T_IN of n bytes at sector into two buffers; returns the used length, status in *st. */
static int64_t blk_read(struct drv *dv, uint64_t sector, uint32_t n, uint8_t *out, uint8_t *st)
{
	uint64_t hdr = blk_hdr(dv, VIRTIO_BLK_T_IN, sector);
	uint64_t d1 = fake_ram_alloc(dv->ram, n / 2, 16), d2 = fake_ram_alloc(dv->ram, n - n / 2, 16);
	uint64_t s = status_byte(dv);
	struct fake_ring *fr = &dv->q[0];
	int64_t len;

	memset(fake_ram_ptr(dv->ram, d1), 0xcc, n / 2);
	memset(fake_ram_ptr(dv->ram, d2), 0xcc, n - n / 2);
	fr_desc(fr, 4, hdr, 16, VRING_DESC_F_NEXT, 7);
	fr_desc(fr, 7, d1, n / 2, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	fr_desc(fr, 2, d2, n - n / 2, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
	fr_desc(fr, 0, s, 1, VRING_DESC_F_WRITE, 0);
	len = drv_submit(dv, 0, 4);
	if (out) {
		memcpy(out, fake_ram_ptr(dv->ram, d1), n / 2);
		memcpy(out + n / 2, fake_ram_ptr(dv->ram, d2), n - n / 2);
	}
	*st = *fake_ram_ptr(dv->ram, s);
	return len;
}

/* T_OUT of n bytes; through an indirect table when INDIRECT_DESC was acked (2.7.5.3). */
static int64_t blk_write(struct drv *dv, uint64_t sector, const uint8_t *data, uint32_t n,
			 uint8_t *st)
{
	uint64_t hdr = blk_hdr(dv, VIRTIO_BLK_T_OUT, sector);
	uint64_t d = fake_ram_alloc(dv->ram, n, 16), s = status_byte(dv);
	struct fake_ring *fr = &dv->q[0];
	int64_t len;

	memcpy(fake_ram_ptr(dv->ram, d), data, n);
	if (dv->ack & BIT(VIRTIO_RING_F_INDIRECT_DESC)) {
		uint64_t tbl = fake_ram_alloc(dv->ram, 3 * 16, 16);

		fd_put_desc(dv->e, fake_ram_ptr(dv->ram, tbl), hdr, 16, VRING_DESC_F_NEXT, 1);
		fd_put_desc(dv->e, fake_ram_ptr(dv->ram, tbl + 16), d, n, VRING_DESC_F_NEXT, 2);
		fd_put_desc(dv->e, fake_ram_ptr(dv->ram, tbl + 32), s, 1, VRING_DESC_F_WRITE, 0);
		fr_desc(fr, 5, tbl, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	} else {
		fr_desc(fr, 5, hdr, 16, VRING_DESC_F_NEXT, 6);
		fr_desc(fr, 6, d, n, VRING_DESC_F_NEXT, 3);
		fr_desc(fr, 3, s, 1, VRING_DESC_F_WRITE, 0);
	}
	len = drv_submit(dv, 0, 5);

	*st = *fake_ram_ptr(dv->ram, s);
	return len;
}

/* A request with no data: FLUSH (or GET_ID with a buffer of idlen). */
static int64_t blk_simple(struct drv *dv, uint32_t type, uint64_t idbuf, uint32_t idlen,
			  uint8_t *st)
{
	uint64_t hdr = blk_hdr(dv, type, 0), s = status_byte(dv);
	struct fake_ring *fr = &dv->q[0];
	int64_t len;

	if (idlen) {
		fr_desc(fr, 1, hdr, 16, VRING_DESC_F_NEXT, 2);
		fr_desc(fr, 2, idbuf, idlen, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	} else {
		fr_desc(fr, 1, hdr, 16, VRING_DESC_F_NEXT, 3);
	}
	fr_desc(fr, 3, s, 1, VRING_DESC_F_WRITE, 0);
	len = drv_submit(dv, 0, 1);
	*st = *fake_ram_ptr(dv->ram, s);
	return len;
}

/*
 * One blk device (and a ,ro one) driven end to end: transport t, the vCPU
 * order at reset and after, the order bit acked; rings in order e by rule.
 */
static void blk_scenario(enum virtio_transport t, int vcpu_reset, int vcpu_after, uint64_t order,
			 enum vq_endian e, enum virtio_endian_rule rule)
{
	struct virtio_mmio_dev *d, *dro;
	struct drv dv = { .e = e, .nq = 1, .num = 16, .vcpu_reset = vcpu_reset,
			  .vcpu_after = vcpu_after };
	struct drv dvro;
	const char *path, *ropath;
	char spec[160];
	uint8_t buf[1024], file[1024], st, id[20];
	uint64_t idbuf;
	struct rig r;
	unsigned int i;

	REQUIRE(rig_init(&r, t, VIRTIO_OFFER_BOTH));
	path = make_image(&r, "disk.img", DISK_SIZE);
	ropath = make_image(&r, "ro.img", RO_DISK_SIZE);
	d = add_blk(&r, path);
	snprintf(spec, sizeof(spec), "%s,ro", ropath ? ropath : "");
	dro = ropath ? add_blk(&r, spec) : NULL;
	if (!CHECK(d && dro)) {
		rig_exit(&r);
		return;
	}
	/* like Linux: indirect descriptors and event idx, flush, seg_max, blk_size */
	dv.ack = order | F_RING | BLK_FEATURES;
	dvro = dv;
	if (!CHECK(drv_start(&dv, d, &r.ram)) || !CHECK(drv_start(&dvro, dro, &r.ram))) {
		rig_exit(&r);
		return;
	}
	CHECK_EQ_U64(d->vdev.vq_rule[0], rule);
	CHECK_EQ_U64(d->vdev.vqs[0].endian, e);
	CHECK_EQ_U64(dro->vdev.vq_rule[0], rule);
	CHECK(d->vdev.vqs[0].event_idx && d->vdev.vqs[0].indirect);
	check_blk_config(d, e, DISK_SIZE / 512);
	check_blk_config(dro, e, RO_DISK_SIZE / 512);

	/* read sectors 1..2 */
	CHECK_EQ_U64(blk_read(&dv, 1, 1024, buf, &st), 1025);
	CHECK_EQ_U64(st, VIRTIO_BLK_S_OK);
	for (i = 0; i < 1024; i++)
		file[i] = pat(512 + i);
	CHECK_MEM(buf, file, 1024);

	/* write sectors 3..4, read the file back */
	for (i = 0; i < 1024; i++)
		buf[i] = (uint8_t)(0xa5 ^ i);
	CHECK_EQ_U64(blk_write(&dv, 3, buf, 1024, &st), 1);
	CHECK_EQ_U64(st, VIRTIO_BLK_S_OK);
	pread_file(path, 3 * 512, file, 1024);
	CHECK_MEM(file, buf, 1024);
	pread_file(path, 5 * 512, file, 1);
	CHECK_EQ_U64(file[0], pat(5 * 512));

	/* past the end: the last sector and one more; a sector that overflows */
	CHECK_EQ_U64(blk_read(&dv, DISK_SIZE / 512 - 1, 1024, NULL, &st), 1);
	CHECK_EQ_U64(st, VIRTIO_BLK_S_IOERR);
	CHECK_EQ_U64(blk_read(&dv, UINT64_MAX, 1024, NULL, &st), 1);
	CHECK_EQ_U64(st, VIRTIO_BLK_S_IOERR);
	CHECK_EQ_U64(blk_write(&dv, DISK_SIZE / 512, buf, 512, &st), 1);
	CHECK_EQ_U64(st, VIRTIO_BLK_S_IOERR);
	/* the very last two sectors are fine */
	CHECK_EQ_U64(blk_read(&dv, DISK_SIZE / 512 - 2, 1024, buf, &st), 1025);
	CHECK_EQ_U64(st, VIRTIO_BLK_S_OK);
	CHECK_EQ_U64(buf[1023], pat(DISK_SIZE - 1));

	/* GET_ID: the image's base name, 20 bytes (5.2.6) */
	idbuf = fake_ram_alloc(&r.ram, 20, 16);
	memset(fake_ram_ptr(&r.ram, idbuf), 0xcc, 20);
	CHECK_EQ_U64(blk_simple(&dv, VIRTIO_BLK_T_GET_ID, idbuf, 20, &st), 21);
	CHECK_EQ_U64(st, VIRTIO_BLK_S_OK);
	memset(id, 0, sizeof(id));
	memcpy(id, "disk.img", 8);
	CHECK_MEM(fake_ram_ptr(&r.ram, idbuf), id, 20);

	CHECK_EQ_U64(blk_simple(&dv, VIRTIO_BLK_T_FLUSH, 0, 0, &st), 1);
	CHECK_EQ_U64(st, VIRTIO_BLK_S_OK);

	/* ,ro: reads work, a write is an I/O error and leaves the file alone */
	CHECK_EQ_U64(blk_read(&dvro, 2, 512, buf, &st), 513);
	CHECK_EQ_U64(st, VIRTIO_BLK_S_OK);
	CHECK_EQ_U64(buf[0], pat(1024));
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ_U64(blk_write(&dvro, 1, buf, 512, &st), 1);
	CHECK_EQ_U64(st, VIRTIO_BLK_S_IOERR);
	pread_file(ropath, 512, file, 512);
	for (i = 0; i < 512; i++)
		buf[i] = pat(512 + i);
	CHECK_MEM(file, buf, 512);

	/* nothing was a guest error */
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS) & S_NEEDS_RESET, 0);
	CHECK_EQ_U64(log_lines(&r), 0);
	rig_exit(&r);
}

/* 2.7 legacy + lkvm's bit 45: BE rings, BE request headers, whatever the vCPU */
TEST(virtio_mmio, blk_legacy_guest_be_bit)
{
	blk_scenario(VIRTIO_MMIO_LEGACY, GUEST_LE, 0, F_GUEST_BE, VQ_BE, VIRTIO_RULE_GUEST_BIT);
}

TEST(virtio_mmio, blk_legacy_guest_le_bit)
{
	blk_scenario(VIRTIO_MMIO_LEGACY, GUEST_BE, 0, F_GUEST_LE, VQ_LE, VIRTIO_RULE_GUEST_BIT);
}

/* no bit acked: the order of the vCPU that wrote Status = 0, not of later accesses */
TEST(virtio_mmio, blk_legacy_vcpu_be_at_reset)
{
	blk_scenario(VIRTIO_MMIO_LEGACY, GUEST_BE, GUEST_LE, 0, VQ_BE, VIRTIO_RULE_VCPU);
}

TEST(virtio_mmio, blk_legacy_vcpu_le_at_reset)
{
	blk_scenario(VIRTIO_MMIO_LEGACY, GUEST_LE, GUEST_BE, 0, VQ_LE, VIRTIO_RULE_VCPU);
}

/* VIRTIO_F_VERSION_1: LE, even for a BE vCPU */
TEST(virtio_mmio, blk_modern_be_vcpu)
{
	blk_scenario(VIRTIO_MMIO_MODERN, GUEST_BE, 0, F_VERSION_1, VQ_LE, VIRTIO_RULE_VERSION_1);
}

TEST(virtio_mmio, blk_modern_le_vcpu)
{
	blk_scenario(VIRTIO_MMIO_MODERN, GUEST_LE, 0, F_VERSION_1, VQ_LE, VIRTIO_RULE_VERSION_1);
}

/* ---- virtio-rng (5.4) ---- */

static void rng_scenario(enum virtio_transport t, int vcpu, uint64_t ack, enum vq_endian e)
{
	struct virtio_mmio_dev *d;
	struct drv dv = { .e = e, .ack = ack, .nq = 1, .num = 8, .vcpu_reset = vcpu };
	struct rig r;
	uint64_t buf;
	uint8_t *p;
	unsigned int i, nonzero = 0;

	REQUIRE(rig_init(&r, t, VIRTIO_OFFER_BOTH));
	d = add_rng(&r);
	if (!CHECK(d) || !CHECK(drv_start(&dv, d, &r.ram))) {
		rig_exit(&r);
		return;
	}
	CHECK_EQ_U64(d->vdev.vqs[0].endian, e);
	buf = fake_ram_alloc(&r.ram, 64, 16);
	fr_desc(&dv.q[0], 3, buf, 64, VRING_DESC_F_WRITE, 0);
	CHECK_EQ_U64(drv_submit(&dv, 0, 3), 64);
	p = fake_ram_ptr(&r.ram, buf);
	for (i = 0; i < 64; i++)
		nonzero += p[i] != 0;
	CHECK(nonzero > 32);
	/*
	 * The driver asks for no interrupt (2.7.10 used_event far ahead with
	 * event idx, else 2.7.7 VIRTQ_AVAIL_F_NO_INTERRUPT): used, line stays low.
	 */
	if (ack & BIT(VIRTIO_RING_F_EVENT_IDX))
		fr_set_used_event(&dv.q[0], dv.q[0].last_used + 10);
	else
		fr_set_avail_flags(&dv.q[0], VRING_AVAIL_F_NO_INTERRUPT);
	fr_avail_add(&dv.q[0], 3);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK(WAIT_UNTIL(fr_used_idx(&dv.q[0]) == dv.q[0].last_used + 1));
	dv.q[0].last_used++;
	sleep_ms(50);
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ_U64(irq_take(d, false), 0);
	fr_set_avail_flags(&dv.q[0], 0);
	/* and asks again */
	CHECK_EQ_U64(drv_submit(&dv, 0, 3), 64);
	/* 5.4.6: a device-readable buffer is a driver error */
	fr_desc(&dv.q[0], 1, buf, 64, 0, 0);
	fr_avail_add(&dv.q[0], 1);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK(WAIT_UNTIL(reg_rd(d, VIRTIO_MMIO_STATUS) & S_NEEDS_RESET));
	CHECK(WAIT_UNTIL(log_lines(&r) == 1));
	rig_exit(&r);
}

TEST(virtio_mmio, rng_legacy_be)
{
	rng_scenario(VIRTIO_MMIO_LEGACY, GUEST_BE, 0, VQ_BE);
}

TEST(virtio_mmio, rng_modern)
{
	rng_scenario(VIRTIO_MMIO_MODERN, GUEST_BE, F_VERSION_1 | F_RING, VQ_LE);
}

/*
 * A guest that refills its avail ring as fast as the device empties it (a
 * blk read into the ring and into the next request's header does that):
 * virtio_dev_drain must give the thread back after its budget, re-kicked,
 * not loop while holding the device lock.
 */
static struct fake_ring *refill_ring;
static unsigned int refill_calls;

static long refill_fn(struct virtio_dev *vdev, struct virtqueue *vq, struct vq_elem *elem)
{
	(void)vdev;
	(void)vq;
	(void)elem;
	/* stops by itself after 64 budgets: without the budget this test ends, failing */
	if (++refill_calls < 64 * VIRTIO_DRAIN_BUDGET)
		fr_avail_add(refill_ring, 3);
	return 0;
}

TEST(virtio_mmio, drain_budget_self_refilling_ring)
{
	struct drv dv = { .e = VQ_LE, .ack = F_VERSION_1, .nq = 1, .num = 8 };
	struct virtio_mmio_dev *d;
	struct rig r;
	uint16_t used0;

	REQUIRE(rig_init(&r, VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH));
	d = add_rng(&r);
	if (!CHECK(d) || !CHECK(drv_start(&dv, d, &r.ram))) {
		rig_exit(&r);
		return;
	}
	fr_desc(&dv.q[0], 3, fake_ram_alloc(&r.ram, 64, 16), 64, VRING_DESC_F_WRITE, 0);
	refill_ring = &dv.q[0];
	refill_calls = 0;
	used0 = fr_used_idx(&dv.q[0]);
	fr_avail_add(&dv.q[0], 3);
	/* as the device thread runs it: under the device lock */
	pthread_mutex_lock(&d->vdev.lock);
	virtio_dev_drain(&d->vdev, &d->vdev.vqs[0], refill_fn);
	/* still under the lock: the re-kicked thread cannot have run yet */
	CHECK_EQ_U64(refill_calls, VIRTIO_DRAIN_BUDGET);
	CHECK_EQ_U64((uint16_t)(fr_used_idx(&dv.q[0]) - used0), VIRTIO_DRAIN_BUDGET);
	pthread_mutex_unlock(&d->vdev.lock);
	/* the re-kick: the device thread (rng) takes the buffer left over */
	CHECK(WAIT_UNTIL((uint16_t)(fr_used_idx(&dv.q[0]) - used0) == VIRTIO_DRAIN_BUDGET + 1));
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS) & S_NEEDS_RESET, 0);
	CHECK_EQ_U64(log_lines(&r), 0);
	rig_exit(&r);
}

/* ---- virtio-console (5.3): rx queue 0, tx queue 1 ---- */

static void console_scenario(enum virtio_transport t, int vcpu, uint64_t ack, enum vq_endian e)
{
	struct virtio_mmio_dev *d;
	struct virtio_console *con = NULL;
	struct drv dv = { .e = e, .ack = ack, .nq = 2, .num = 8, .vcpu_reset = vcpu };
	struct pollfd pfd;
	struct rig r;
	int out[2] = { -1, -1 };
	uint64_t tx, rx1, rx2;
	uint8_t got[16], b[4];
	uint32_t id, len;

	REQUIRE(rig_init(&r, t, VIRTIO_OFFER_BOTH));
	if (!CHECK(pipe2(out, O_CLOEXEC) == 0)) {
		rig_exit(&r);
		return;
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	d = add_console(&r, out[1], &con);
	if (!CHECK(d && con))
		goto out;
	/* not live yet: input is not taken */
	CHECK_EQ_U64(virtio_console_input(con, (const uint8_t *)"abc", 3), 0);
	if (!CHECK(drv_start(&dv, d, &r.ram)))
		goto out;
	/* cols, rows (5.3.4) in the config's order */
	cfg_rd(d, 0, b, 4);
	ve_put16(e, got, 80);
	ve_put16(e, got + 2, 25);
	CHECK_MEM(b, got, 4);

	/* tx: "hello" comes out on the pipe, used length 0 */
	tx = fake_ram_alloc(&r.ram, 5, 1);
	memcpy(fake_ram_ptr(&r.ram, tx), "hello", 5);
	fr_desc(&dv.q[1], 6, tx, 5, 0, 0);
	CHECK_EQ_U64(drv_submit(&dv, 1, 6), 0);
	pfd = (struct pollfd){ .fd = out[0], .events = POLLIN };
	CHECK(poll(&pfd, 1, 2000) == 1);
	memset(got, 0, sizeof(got));
	CHECK_EQ_U64(read(out[0], got, sizeof(got)), 5);
	CHECK_MEM(got, "hello", 5);

	/* rx: no buffer posted -> nothing taken */
	CHECK_EQ_U64(virtio_console_input(con, (const uint8_t *)"abc", 3), 0);
	CHECK_EQ_U64(fr_used_idx(&dv.q[0]), 0);
	/* one 16-byte buffer: "abc", used length 3, an interrupt */
	rx1 = fake_ram_alloc(&r.ram, 16, 16);
	memset(fake_ram_ptr(&r.ram, rx1), 0xcc, 16);
	fr_desc(&dv.q[0], 2, rx1, 16, VRING_DESC_F_WRITE, 0);
	fr_set_used_event(&dv.q[0], 0);
	fr_avail_add(&dv.q[0], 2);
	CHECK_EQ_U64(virtio_console_input(con, (const uint8_t *)"abc", 3), 3);
	CHECK_EQ_U64(fr_used_idx(&dv.q[0]), 1);
	fr_used_elem(&dv.q[0], 0, &id, &len);
	CHECK_EQ_U64(id, 2);
	CHECK_EQ_U64(len, 3);
	CHECK_MEM(fake_ram_ptr(&r.ram, rx1), "abc\xcc", 4);
	CHECK(reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);
	CHECK_EQ_U64(irq_take(d, true), 1);
	reg_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ_U64(irq_take(d, false), 0);
	/* used up: nothing more is taken */
	CHECK_EQ_U64(virtio_console_input(con, (const uint8_t *)"xyz", 3), 0);
	/* two 2-byte buffers take "defg" split 2 + 2, and no more */
	rx1 = fake_ram_alloc(&r.ram, 2, 2);
	rx2 = fake_ram_alloc(&r.ram, 2, 2);
	fr_desc(&dv.q[0], 0, rx1, 2, VRING_DESC_F_WRITE, 0);
	fr_desc(&dv.q[0], 7, rx2, 2, VRING_DESC_F_WRITE, 0);
	fr_set_used_event(&dv.q[0], 1);
	fr_avail_add(&dv.q[0], 0);
	fr_avail_add(&dv.q[0], 7);
	CHECK_EQ_U64(virtio_console_input(con, (const uint8_t *)"defgh", 5), 4);
	CHECK_EQ_U64(fr_used_idx(&dv.q[0]), 3);
	fr_used_elem(&dv.q[0], 2, &id, &len);
	CHECK_EQ_U64(id, 7);
	CHECK_EQ_U64(len, 2);
	CHECK_MEM(fake_ram_ptr(&r.ram, rx1), "de", 2);
	CHECK_MEM(fake_ram_ptr(&r.ram, rx2), "fg", 2);

	/* 5.3.4 emerg_wr: a 32-bit config write of one character, in the config's order */
	ve_put32(e, b, 'X');
	mmio_bus_access(&r.vm.bus, FAKE_VCPU, d->mmio.mdev.base + VIRTIO_MMIO_CONFIG + 8, b, 4, true);
	CHECK(poll(&pfd, 1, 2000) == 1);
	CHECK_EQ_U64(read(out[0], got, sizeof(got)), 1);
	CHECK_EQ_U64(got[0], 'X');
	CHECK_EQ_U64(log_lines(&r), 0);
out:
	rig_exit(&r);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
}

TEST(virtio_mmio, console_legacy_vcpu_be)
{
	console_scenario(VIRTIO_MMIO_LEGACY, GUEST_BE, 0, VQ_BE);
}

TEST(virtio_mmio, console_legacy_guest_le_bit)
{
	console_scenario(VIRTIO_MMIO_LEGACY, GUEST_BE, F_GUEST_LE | F_RING, VQ_LE);
}

TEST(virtio_mmio, console_modern)
{
	console_scenario(VIRTIO_MMIO_MODERN, GUEST_BE, F_VERSION_1 | F_RING, VQ_LE);
}

/* ---- hostile drivers through the transport: DEVICE_NEEDS_RESET (2.1.2) ---- */

/* Status has NEEDS_RESET, a config interrupt is up, one log line says so. */
static void expect_needs_reset_at(struct rig *r, struct virtio_mmio_dev *d, unsigned int lines,
				  int line)
{
	if (!WAIT_UNTIL(reg_rd(d, VIRTIO_MMIO_STATUS) & S_NEEDS_RESET))
		test_fail(__FILE__, line, "no NEEDS_RESET in Status 0x%x",
			  reg_rd(d, VIRTIO_MMIO_STATUS));
	if (!(reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG))
		test_fail(__FILE__, line, "no config interrupt: InterruptStatus 0x%x",
			  reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS));
	if (irq_take(d, true) < 1)
		test_fail(__FILE__, line, "irq line %u is not raised", d->irq);
	if (log_lines(r) != lines)
		test_fail(__FILE__, line, "%u log lines, not %u: \"%s\"", log_lines(r), lines, r->log);
	else if (!strstr(r->log, "needs reset"))
		test_fail(__FILE__, line, "log \"%s\" does not say \"needs reset\"", r->log);
}

#define EXPECT_NEEDS_RESET(r, d, lines) expect_needs_reset_at((r), (d), (lines), __LINE__)

/*
 * A descriptor loop in the blk queue: NEEDS_RESET, config irq, one log line,
 * the process lives; a second kick logs nothing; Status = 0 recovers.
 */
static void desc_loop_scenario(enum virtio_transport t, uint64_t ack, enum vq_endian e, int vcpu)
{
	struct virtio_mmio_dev *d;
	struct drv dv = { .e = e, .ack = ack | F_RING | BLK_FEATURES, .nq = 1, .num = 8,
			  .vcpu_reset = vcpu };
	struct rig r;
	uint64_t buf;
	uint8_t st, data[512];
	uint32_t gen;

	REQUIRE(rig_init(&r, t, VIRTIO_OFFER_BOTH));
	d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
	if (!CHECK(d) || !CHECK(drv_start(&dv, d, &r.ram))) {
		rig_exit(&r);
		return;
	}
	gen = reg_rd(d, VIRTIO_MMIO_CONFIG_GENERATION);
	buf = fake_ram_alloc(&r.ram, 16, 16);
	fr_desc(&dv.q[0], 0, buf, 16, VRING_DESC_F_NEXT, 1);
	fr_desc(&dv.q[0], 1, buf, 16, VRING_DESC_F_NEXT, 0);
	fr_avail_add(&dv.q[0], 0);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	EXPECT_NEEDS_RESET(&r, d, 1);
	CHECK_CONTAINS(r.log, "virtio-blk@0xa000000");
	CHECK_EQ_U64(fr_used_idx(&dv.q[0]), 0);
	/* 4.2.2: ConfigGeneration changes with a config change (modern only) */
	if (t == VIRTIO_MMIO_MODERN)
		CHECK(reg_rd(d, VIRTIO_MMIO_CONFIG_GENERATION) != gen);

	/* kicked again: still broken, no second line */
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	sleep_ms(100);
	CHECK_EQ_U64(log_lines(&r), 1);
	CHECK_EQ_U64(d->vdev.errors_logged, 1);
	CHECK(reg_rd(d, VIRTIO_MMIO_STATUS) & S_NEEDS_RESET);

	/* reset: NEEDS_RESET and the interrupt go, a good ring works again */
	reg_wr(d, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ_U64(irq_take(d, false), 0);
	/* Linux writes GuestPageSize once, at probe: a device reset keeps it */
	dv.keep_page_size = true;
	if (CHECK(drv_start(&dv, d, &r.ram))) {
		CHECK_EQ_U64(blk_read(&dv, 0, 512, data, &st), 513);
		CHECK_EQ_U64(st, VIRTIO_BLK_S_OK);
		CHECK_EQ_U64(data[511], pat(511));
	}
	CHECK_EQ_U64(log_lines(&r), 1);
	rig_exit(&r);
}

TEST(virtio_mmio, needs_reset_desc_loop_legacy_be)
{
	desc_loop_scenario(VIRTIO_MMIO_LEGACY, F_GUEST_BE, VQ_BE, GUEST_BE);
}

TEST(virtio_mmio, needs_reset_desc_loop_legacy_vcpu)
{
	desc_loop_scenario(VIRTIO_MMIO_LEGACY, 0, VQ_BE, GUEST_BE);
}

TEST(virtio_mmio, needs_reset_desc_loop_modern)
{
	desc_loop_scenario(VIRTIO_MMIO_MODERN, F_VERSION_1, VQ_LE, GUEST_BE);
}

/* A blk request without a status byte is a driver error (5.2.6.1), not a crash. */
TEST(virtio_mmio, needs_reset_blk_no_status)
{
	struct virtio_mmio_dev *d;
	struct drv dv = { .e = VQ_BE, .ack = F_GUEST_BE, .nq = 1, .num = 8, .vcpu_reset = GUEST_BE };
	struct rig r;

	REQUIRE(rig_init(&r, VIRTIO_MMIO_LEGACY, VIRTIO_OFFER_BOTH));
	d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
	if (!CHECK(d) || !CHECK(drv_start(&dv, d, &r.ram))) {
		rig_exit(&r);
		return;
	}
	fr_desc(&dv.q[0], 0, blk_hdr(&dv, VIRTIO_BLK_T_IN, 0), 16, 0, 0);
	fr_avail_add(&dv.q[0], 0);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	EXPECT_NEEDS_RESET(&r, d, 1);
	rig_exit(&r);
}

/* Legacy: both VIRTIO_RING_F_GUEST_LE and _BE acked, then QueuePFN. */
TEST(virtio_mmio, needs_reset_both_order_bits)
{
	struct virtio_mmio_dev *d;
	struct fake_ring fr;
	struct rig r;
	uint64_t base;

	REQUIRE(rig_init(&r, VIRTIO_MMIO_LEGACY, VIRTIO_OFFER_BOTH));
	d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
	if (!CHECK(d)) {
		rig_exit(&r);
		return;
	}
	reg_wr(d, VIRTIO_MMIO_STATUS, 0);
	reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER);
	drv_features(d, F_GUEST_LE | F_GUEST_BE);
	reg_wr(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NUM, 8);
	reg_wr(d, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
	base = fake_ram_alloc(&r.ram, fr_legacy_size(8, 4096), 4096);
	fr_init_legacy(&fr, &r.ram, VQ_LE, 8, base, 4096);
	reg_wr(d, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(base >> 12));
	EXPECT_NEEDS_RESET(&r, d, 1);
	CHECK(!d->vdev.vqs[0].ready);
	/* a kick after DRIVER_OK walks nothing */
	reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER | S_DRIVER_OK);
	fr_avail_add(&fr, 0);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	sleep_ms(50);
	CHECK_EQ_U64(fr_used_idx(&fr), 0);
	CHECK_EQ_U64(log_lines(&r), 1);
	rig_exit(&r);
}

/* QueueNum above QueueNumMax (4.2.3.2: the driver must not), or not a power of 2. */
TEST(virtio_mmio, needs_reset_queue_num)
{
	static const uint32_t nums[] = { 512, 257, 0x10000, 0xffffffff, 3 };
	unsigned int t, i;

	for (t = 0; t < 2; t++) {
		for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
			struct virtio_mmio_dev *d;
			struct rig r;
			uint64_t base;

			REQUIRE(rig_init(&r, transports[t], VIRTIO_OFFER_BOTH));
			d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
			if (!CHECK(d)) {
				rig_exit(&r);
				return;
			}
			vcpu_order = GUEST_LE;
			reg_wr(d, VIRTIO_MMIO_STATUS, 0);
			reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER);
			drv_features(d, t ? F_VERSION_1 : F_GUEST_LE);
			if (t)
				reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
			reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
			reg_wr(d, VIRTIO_MMIO_QUEUE_NUM, nums[i]);
			/* room for the largest ring, so that only the size is wrong */
			base = fake_ram_alloc(&r.ram, 0x40000, 4096);
			if (t) {
				reg_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)base);
				reg_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)base + 0x10000);
				reg_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)base + 0x20000);
				reg_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
				CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
			} else {
				reg_wr(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
				reg_wr(d, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
				reg_wr(d, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(base >> 12));
			}
			EXPECT_NEEDS_RESET(&r, d, 1);
			CHECK(!d->vdev.vqs[0].ready);
			/* the same mistake again: one line per episode */
			if (t)
				reg_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
			else
				reg_wr(d, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(base >> 12));
			CHECK_EQ_U64(log_lines(&r), 1);
			CHECK_EQ_U64(d->vdev.errors_logged, 1);
			rig_exit(&r);
		}
	}
}

/* Rings past the end of RAM, or a legacy layout made of nonsense. */
TEST(virtio_mmio, needs_reset_ring_outside_ram)
{
	static const struct {
		uint32_t page_size, align, pfn;
	} legacy[] = {
		{ 4096, 4096, (uint32_t)(FAKE_RAM_END / 4096) - 1 }, /* desc fits, used does not */
		{ 4096, 4096, (uint32_t)(FAKE_RAM_END / 4096) },     /* just past the end */
		{ 4096, 4096, 1 },                                   /* below RAM */
		{ 4096, 4096, 0xffffffff },                          /* far above */
		{ 0x80000000u, 4096, 0xffffffff },                   /* 2^63-ish */
		{ 0, 4096, (uint32_t)(FAKE_RAM_GPA / 4096) },        /* no page size */
		{ 3000, 4096, (uint32_t)(FAKE_RAM_GPA / 3000) },     /* not a power of 2 */
		{ 4096, 0, (uint32_t)(FAKE_RAM_GPA / 4096) + 16 },   /* no align */
		{ 4096, 3, (uint32_t)(FAKE_RAM_GPA / 4096) + 16 },
		{ 1, 4096, (uint32_t)FAKE_RAM_GPA + 0x1008 },        /* desc not 16-aligned */
	};
	unsigned int i;

	for (i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
		struct virtio_mmio_dev *d;
		struct rig r;

		REQUIRE(rig_init(&r, VIRTIO_MMIO_LEGACY, VIRTIO_OFFER_BOTH));
		d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
		if (!CHECK(d)) {
			rig_exit(&r);
			return;
		}
		reg_wr(d, VIRTIO_MMIO_STATUS, 0);
		reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER);
		drv_features(d, F_GUEST_BE);
		reg_wr(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, legacy[i].page_size);
		reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
		reg_wr(d, VIRTIO_MMIO_QUEUE_NUM, 256);
		reg_wr(d, VIRTIO_MMIO_QUEUE_ALIGN, legacy[i].align);
		reg_wr(d, VIRTIO_MMIO_QUEUE_PFN, legacy[i].pfn);
		if (!(reg_rd(d, VIRTIO_MMIO_STATUS) & S_NEEDS_RESET))
			test_fail(__FILE__, __LINE__, "legacy case %u: no NEEDS_RESET", i);
		CHECK(!d->vdev.vqs[0].ready);
		CHECK_EQ_U64(log_lines(&r), 1);
		rig_exit(&r);
	}

	/* modern: each part outside RAM in turn */
	for (i = 0; i < 3; i++) {
		uint64_t addr[3] = { FAKE_RAM_GPA + 0x1000, FAKE_RAM_GPA + 0x2000,
				     FAKE_RAM_GPA + 0x3000 };
		static const uint32_t regs[3] = { VIRTIO_MMIO_QUEUE_DESC_LOW,
						  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
						  VIRTIO_MMIO_QUEUE_USED_LOW };
		struct virtio_mmio_dev *d;
		struct rig r;
		unsigned int k;

		REQUIRE(rig_init(&r, VIRTIO_MMIO_MODERN, VIRTIO_OFFER_BOTH));
		d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
		if (!CHECK(d)) {
			rig_exit(&r);
			return;
		}
		addr[i] = FAKE_RAM_END - 16;
		reg_wr(d, VIRTIO_MMIO_STATUS, 0);
		reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER);
		drv_features(d, F_VERSION_1);
		reg_wr(d, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
		reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
		reg_wr(d, VIRTIO_MMIO_QUEUE_NUM, 16);
		for (k = 0; k < 3; k++) {
			reg_wr(d, regs[k], (uint32_t)addr[k]);
			reg_wr(d, regs[k] + 4, (uint32_t)(addr[k] >> 32));
		}
		reg_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
		CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
		EXPECT_NEEDS_RESET(&r, d, 1);
		rig_exit(&r);
	}
}

/*
 * Legacy, no order bit, and the vCPU's order unknown (0) at reset and at
 * QueuePFN: the queue is refused, never silently given an order.
 */
TEST(virtio_mmio, legacy_unknown_vcpu_order_refused)
{
	struct virtio_mmio_dev *d;
	struct drv dv = { .e = VQ_LE, .nq = 0, .num = 8, .vcpu_reset = 0 };
	struct rig r;

	REQUIRE(rig_init(&r, VIRTIO_MMIO_LEGACY, VIRTIO_OFFER_BOTH));
	d = add_blk(&r, make_image(&r, "disk.img", DISK_SIZE));
	if (!CHECK(d)) {
		rig_exit(&r);
		return;
	}
	vcpu_order = 0;
	CHECK(drv_start(&dv, d, &r.ram));
	reg_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NUM, 8);
	reg_wr(d, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
	reg_wr(d, VIRTIO_MMIO_QUEUE_PFN,
	       (uint32_t)(fake_ram_alloc(&r.ram, fr_legacy_size(8, 4096), 4096) >> 12));
	EXPECT_NEEDS_RESET(&r, d, 1);
	CHECK(!d->vdev.vqs[0].ready);
	rig_exit(&r);
}

/*
 * 2.7.7.2 / 2.7.10: a used buffer notification follows used ring writes. A
 * kick that finds no buffer uses none, so it must not interrupt: Linux's
 * vm_interrupt() then finds no used buffer, returns IRQ_NONE, and enough of
 * those disable the line ("nobody cared").
 */
static void empty_kick_scenario(enum virtio_transport t, uint64_t ack, enum vq_endian e)
{
	struct virtio_mmio_dev *d;
	struct drv dv = { .e = e, .ack = ack, .nq = 1, .num = 8, .vcpu_reset = GUEST_BE };
	struct rig r;
	uint64_t buf;

	REQUIRE(rig_init(&r, t, VIRTIO_OFFER_BOTH));
	d = add_rng(&r);
	if (!CHECK(d) || !CHECK(drv_start(&dv, d, &r.ram))) {
		rig_exit(&r);
		return;
	}
	/* a kick before any buffer was ever made available */
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	sleep_ms(50);
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* one real request, then a kick with nothing new */
	buf = fake_ram_alloc(&r.ram, 16, 16);
	fr_desc(&dv.q[0], 0, buf, 16, VRING_DESC_F_WRITE, 0);
	CHECK_EQ_U64(drv_submit(&dv, 0, 0), 16);
	reg_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	sleep_ms(50);
	CHECK_EQ_U64(reg_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ_U64(irq_take(d, false), 0);
	rig_exit(&r);
}

TEST(virtio_mmio, empty_kick_no_interrupt_legacy)
{
	empty_kick_scenario(VIRTIO_MMIO_LEGACY, F_GUEST_BE, VQ_BE);
}

TEST(virtio_mmio, empty_kick_no_interrupt_event_idx)
{
	empty_kick_scenario(VIRTIO_MMIO_MODERN, F_VERSION_1 | F_RING, VQ_LE);
}
