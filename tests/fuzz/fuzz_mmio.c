// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio-mmio register decoder (virtio/mmio.c) and the device core
 * (virtio/device.c) under a hostile driver, with a real device behind them
 * (blk on a scratch disk file, rng, console or 9p) walking the rings the
 * input lays out in guest RAM. The input is
 *
 *   setup[1] nops[1] op[8] * nops  guest RAM image (the rest)
 *
 * setup: bits 0-1 device, bit 2 legacy transport, bits 3-4 byte-order
 * offer, bit 5 read-only disk / share, bit 6 vCPU big-endian.
 * op: kind[1] a[1] b[2] v[4]. Kicks are run synchronously: the device's
 * thread never starts (below), and each QueueNotify is followed by what
 * that thread would do (virtio/device.c).
 */
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "util.h"
#include "virtio_devs.h"

#define MF_RAM_SIZE 0x10000ULL
#define MF_DISK_SIZE 0x10000
#define MF_MAX_OPS 128

enum { DEV_BLK, DEV_RNG, DEV_CONSOLE, DEV_9P };

enum {
	OP_REG_WRITE, /* 32-bit write v to register table[a] */
	OP_WRITE,     /* write of size 1 << (a & 3) at offset b & 0x1ff */
	OP_READ,      /* read, likewise */
	OP_NOTIFY,    /* QueueNotify = v, then the device thread's work */
	OP_RAM,       /* guest stores v at RAM offset b * 4 (rings, buffers) */
	OP_VCPU,      /* the vCPU now runs in order a (0: unknown, 1 LE, 2 BE) */
	OP_INPUT,     /* console: host input of a bytes of the RAM image at b */
	OP_ISR,       /* read InterruptStatus and ack what is there */
	OP_BRINGUP,   /* reset, ACK, DRIVER, features v|b<<32, FEATURES_OK, DRIVER_OK */
	OP_COUNT,
};

static const uint16_t regs[] = {
	VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES,
	VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_GUEST_PAGE_SIZE,
	VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_ALIGN,
	VIRTIO_MMIO_QUEUE_PFN, VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_NOTIFY,
	VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_DESC_LOW,
	VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_AVAIL_LOW, VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
	VIRTIO_MMIO_QUEUE_USED_LOW, VIRTIO_MMIO_QUEUE_USED_HIGH, VIRTIO_MMIO_CONFIG,
};

struct mf {
	struct fz_vm f;
	struct virtio_mmio_dev *d;
	struct virtio_console *con;
	const uint8_t *image; /* the RAM image part of the input */
	size_t image_len;
};

/*
 * Linked with -Wl,--wrap=virtio_dev_start (tests/fuzz/Makefile): a device
 * added here does not start its thread, whose work mf_run_kicks() does in
 * this one. Starting a thread per input only to stop it at once took most
 * of an input's time: ASan's thread set-up and teardown, and the join
 * waiting for the new thread to be scheduled on a busy machine.
 */
int __wrap_virtio_dev_start(struct virtio_dev *vdev);

int __wrap_virtio_dev_start(struct virtio_dev *vdev)
{
	(void)vdev;
	return 0;
}

static void mf_access(struct mf *m, uint64_t off, uint8_t *buf, unsigned int len, bool wr)
{
	mmio_bus_access(&m->f.vm.bus, &m->f.vcpu, m->d->mmio.mdev.base + off, buf, len, wr);
}

static void mf_wr32(struct mf *m, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	mmio_put_le(b, 4, v);
	mf_access(m, off, b, 4, true);
}

static uint32_t mf_rd32(struct mf *m, uint64_t off)
{
	uint8_t b[4];

	mf_access(m, off, b, 4, false);
	return (uint32_t)mmio_get_le(b, 4);
}

/* What the device thread does with the queues kicked so far (device.c). */
static void mf_run_kicks(struct mf *m)
{
	struct virtio_dev *vdev = &m->d->vdev;
	uint32_t mask = atomic_exchange(&vdev->kicked, 0);
	unsigned int q;

	pthread_mutex_lock(&vdev->lock);
	for (q = 0; q < vdev->ops->nr_queues; q++)
		if ((mask & (1u << q)) && virtio_dev_live(vdev) && vdev->vqs[q].ready)
			vdev->ops->notify(vdev, q);
	pthread_mutex_unlock(&vdev->lock);
}

/* What holds after any access, whatever the guest did. */
static void mf_check(struct mf *m)
{
	struct virtio_dev *vdev = &m->d->vdev;
	bool needs_reset = vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET;
	unsigned int q;

	/* only the two defined interrupt bits, ever */
	FZ_ASSERT(!(m->d->mmio.isr & ~3u));
	/* features the guest holds were offered (legacy masks them, modern refuses FEATURES_OK) */
	if (vdev->status & VIRTIO_CONFIG_S_FEATURES_OK)
		FZ_ASSERT(!(vdev->guest_features & ~vdev->host_features));
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		const struct virtqueue *vq = &vdev->vqs[q];

		FZ_ASSERT(q < vdev->ops->nr_queues || (!vq->ready && !vq->broken));
		/* a guest that broke a ring gets DEVICE_NEEDS_RESET */
		FZ_ASSERT(!vq->broken || needs_reset);
		if (!vq->ready)
			continue;
		FZ_ASSERT(vq->endian == VQ_LE || vq->endian == VQ_BE);
		FZ_ASSERT(vq->num && vq->num <= vdev->ops->queue_max);
		/*
		 * the devices here finish each chain before the next: used->idx
		 * never passes what was popped, and catches up with it unless
		 * the device gave up on the guest
		 */
		FZ_ASSERT((uint16_t)(vq->last_avail - vq->used_idx) <= (needs_reset ? 1 : 0));
	}
}

/* Status = 0 (4.2.2.1): everything the driver set up is gone, NEEDS_RESET too. */
static void mf_check_reset(struct mf *m)
{
	struct virtio_dev *vdev = &m->d->vdev;
	unsigned int q;

	FZ_ASSERT(vdev->status == 0 && vdev->guest_features == 0 && m->d->mmio.isr == 0);
	FZ_ASSERT(mf_rd32(m, VIRTIO_MMIO_STATUS) == 0);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		FZ_ASSERT(!vdev->vqs[q].ready && !vdev->vqs[q].broken && !m->d->mmio.q[q].ready);
}

static void mf_bringup(struct mf *m, uint64_t feat)
{
	uint32_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	mf_wr32(m, VIRTIO_MMIO_STATUS, 0);
	mf_check_reset(m);
	mf_wr32(m, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	mf_wr32(m, VIRTIO_MMIO_STATUS, st);
	mf_wr32(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mf_wr32(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	mf_wr32(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mf_wr32(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	st |= VIRTIO_CONFIG_S_FEATURES_OK;
	mf_wr32(m, VIRTIO_MMIO_STATUS, st);
	mf_wr32(m, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
}

static void mf_op(struct mf *m, const uint8_t *o)
{
	uint8_t a = o[1], buf[8];
	uint16_t b = (uint16_t)(o[2] | o[3] << 8);
	uint32_t v = (uint32_t)o[4] | (uint32_t)o[5] << 8 | (uint32_t)o[6] << 16 |
		     (uint32_t)o[7] << 24;
	struct virtio_dev *vdev = &m->d->vdev;

	switch (o[0] % OP_COUNT) {
	case OP_REG_WRITE:
		mf_wr32(m, regs[a % (sizeof(regs) / sizeof(regs[0]))], v);
		if (regs[a % (sizeof(regs) / sizeof(regs[0]))] == VIRTIO_MMIO_QUEUE_NOTIFY)
			mf_run_kicks(m);
		if (regs[a % (sizeof(regs) / sizeof(regs[0]))] == VIRTIO_MMIO_STATUS && !v)
			mf_check_reset(m);
		break;
	case OP_WRITE:
		mmio_put_le(buf, 8, v | (uint64_t)b << 32);
		mf_access(m, b & 0x1ff, buf, 1u << (a & 3), true);
		break;
	case OP_READ:
		mf_access(m, b & 0x1ff, buf, 1u << (a & 3), false);
		break;
	case OP_NOTIFY:
		mf_wr32(m, VIRTIO_MMIO_QUEUE_NOTIFY, v);
		mf_run_kicks(m);
		break;
	case OP_RAM:
		memcpy(m->f.ram + ((uint64_t)b * 4) % (MF_RAM_SIZE - 3), &v, 4);
		break;
	case OP_VCPU:
		m->f.vcpu_order = a % 3;
		break;
	case OP_INPUT:
		if (m->con && b < m->image_len)
			virtio_console_input(m->con, m->image + b, MIN(a, m->image_len - b));
		break;
	case OP_ISR:
		mf_wr32(m, VIRTIO_MMIO_INTERRUPT_ACK, mf_rd32(m, VIRTIO_MMIO_INTERRUPT_STATUS));
		break;
	case OP_BRINGUP:
		mf_bringup(m, ((uint64_t)b << 32 | v) & vdev->host_features);
		break;
	}
	mf_check(m);
}

static int mf_add_device(struct mf *m, unsigned int dev, bool ro, struct lkvm_err *e)
{
	char spec[256];

	switch (dev) {
	case DEV_BLK:
		/* a fresh zeroed disk per input */
		snprintf(spec, sizeof(spec), "%s/disk.img", fz_scratch());
		if (fz_write_file(spec, "", 0) || truncate(spec, MF_DISK_SIZE))
			return -1;
		if (ro)
			strcat(spec, ",ro");
		return virtio_blk_add(&m->f.vm, spec, e);
	case DEV_RNG:
		return virtio_rng_add(&m->f.vm, e);
	case DEV_CONSOLE:
		return virtio_console_add(&m->f.vm, fz_devnull(), -1, &m->con, e);
	default:
		return virtio_9p_add(&m->f.vm, fz_share_reset(), "fuzz", ro, e);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_scratch();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	uint8_t setup = fz_u8(&in), nops = fz_u8(&in) % (MF_MAX_OPS + 1);
	unsigned int dev = setup & 3, i;
	const uint8_t *ops = in.p;
	int fds = fz_fd_mark();
	struct lkvm_err e;
	struct mf *m;

	if (in.n < (size_t)nops * 8)
		nops = in.n / 8;
	in.p += nops * 8;
	in.n -= nops * 8;
	m = calloc(1, sizeof(*m));
	if (!m)
		return 0;
	if (!fz_vm_init(&m->f, MF_RAM_SIZE, setup & 4 ? VIRTIO_MMIO_LEGACY : VIRTIO_MMIO_MODERN,
			(enum virtio_endian_offer)((setup >> 3) & 3))) {
		free(m);
		return 0;
	}
	m->f.vcpu_order = setup & 0x40 ? GUEST_BE : GUEST_LE;
	m->image = in.p;
	m->image_len = in.n;
	memcpy(m->f.ram, in.p, MIN(in.n, MF_RAM_SIZE));
	if (mf_add_device(m, dev, setup & 0x20, &e) == 0) {
		m->d = (struct virtio_mmio_dev *)m->f.vm.devices;
		m->d->mmio.vcpu_endian = fz_vcpu_endian;
		/* the device has no thread: the kicks run in this one, synchronously */
		FZ_ASSERT(!m->d->vdev.thread_started);
		for (i = 0; i < nops; i++)
			mf_op(m, ops + 8 * i);
		/* seed debugging: what the device made of the input */
		if (getenv("LKVM_FUZZ_DEBUG"))
			fprintf(stderr, "mmio: %s status=%#x used=%llu isr=%#x why=%s\n", m->d->vdev.label,
				m->d->vdev.status, (unsigned long long)virtio_dev_nr_used(&m->d->vdev),
				m->d->mmio.isr, m->d->vdev.vqs[0].why ? m->d->vdev.vqs[0].why : "-");
	}
	fz_vm_exit(&m->f);
	if (dev == DEV_9P)
		fz_share_check();
	free(m);
	fz_fd_check(fds);
	return 0;
}
