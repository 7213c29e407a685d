// SPDX-License-Identifier: GPL-2.0
/*
 * vq-instr: the harness tests/bench/instr.sh runs under callgrind to count
 * the instructions lkvm spends per virtio-blk request, without KVM.
 *
 *	vq-instr CONFIG OP N
 *
 * CONFIG: legacy-be | legacy-le (virtio-mmio version 1, rings in that order
 * by VIRTIO_RING_F_GUEST_BE/LE) | modern (version 2, LE rings); OP: read |
 * write. It builds a VM by hand (fake guest RAM, an arch that counts irq
 * edges), adds a real virtio-blk on a memfd disk, brings it up as Linux
 * does (3.1.1), stops the device thread and then, N times: the driver lays
 * out a 4 KiB request (header, data, status: 5.2.6) in the ring, and
 * vqi_device_side() does what lkvm does for it: the QueueNotify exit, one
 * wake-up of the device thread (vq pop -> blk -> disk -> vq push -> irq),
 * and the driver's InterruptStatus read and InterruptACK exits. Only that
 * function is counted (callgrind --toggle-collect=vqi_device_side); the
 * driver's own work is not lkvm's. Every request is checked (used entry,
 * status byte, data, one irq edge); exit 1 on any mismatch.
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch.h"
#include "vcpu.h"
#include "virtio_devs.h"
#include "vm.h"

#define VQI_RAM_GPA 0x40000000ULL
#define VQI_RAM_SIZE 0x100000ULL
#define VQI_MMIO_BASE 0x0a000000ULL
#define VQI_QNUM 256
#define VQI_ALIGN 4096 /* legacy QueueAlign and GuestPageSize */
/* ring parts (legacy: one block at QueuePFN, 2.7.2 legacy layout) */
#define VQI_DESC (VQI_RAM_GPA)
#define VQI_AVAIL (VQI_DESC + 16 * VQI_QNUM)
#define VQI_USED (VQI_RAM_GPA + 2 * VQI_ALIGN)
/* one request's buffers */
#define VQI_HDR (VQI_RAM_GPA + 0x10000)
#define VQI_STATUS (VQI_HDR + 16)
#define VQI_DATA (VQI_RAM_GPA + 0x11000)
#define VQI_BLOCK 4096
#define VQI_DISK_SIZE (16ULL << 20)

struct vqi {
	struct vm vm;
	struct vm_config cfg;
	struct arch_ops arch;
	struct vcpu vcpu;
	int vcpu_order;      /* GUEST_LE or GUEST_BE */
	unsigned int edges;  /* rising irq edges not yet taken */
	int level;
	uint8_t *ram;
	int disk_fd;
	struct virtio_mmio_dev *d;
	enum vq_endian e;    /* the driver's ring order */
	uint16_t avail_idx, last_used;
};

#define VQI_OF(p, member) ((struct vqi *)((char *)(p) - offsetof(struct vqi, member)))

static int vqi_irq_line(struct vm *vm, uint32_t irq, int level)
{
	struct vqi *h = VQI_OF(vm, vm);

	if (level && !h->level)
		h->edges++;
	h->level = level;
	return 0;
}

static int vqi_vcpu_endian(struct vcpu *vcpu)
{
	return VQI_OF(vcpu, vcpu)->vcpu_order;
}

static uint8_t *gpa(struct vqi *h, uint64_t a)
{
	return h->ram + (a - VQI_RAM_GPA);
}

static uint32_t rd(struct vqi *h, uint64_t off)
{
	uint8_t b[4] = { 0 };

	mmio_bus_access(&h->vm.bus, &h->vcpu, h->d->mmio.mdev.base + off, b, 4, false);
	return (uint32_t)mmio_get_le(b, 4);
}

static void wr(struct vqi *h, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	/* the registers are LE on the bus whatever the guest's order (4.2.2) */
	mmio_put_le(b, 4, v);
	mmio_bus_access(&h->vm.bus, &h->vcpu, h->d->mmio.mdev.base + off, b, 4, true);
}

static int fail(const char *what)
{
	fprintf(stderr, "vq-instr: %s\n", what);
	return -1;
}

static int vqi_setup(struct vqi *h, const char *config)
{
	struct lkvm_err err = { "" };
	bool legacy = strcmp(config, "modern") != 0;
	uint64_t ack = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		       (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |
		       (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	uint32_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	char spec[64];

	if (!strcmp(config, "legacy-be")) {
		h->e = VQ_BE;
		ack |= 1ULL << VIRTIO_RING_F_GUEST_BE;
	} else if (!strcmp(config, "legacy-le")) {
		h->e = VQ_LE;
		ack |= 1ULL << VIRTIO_RING_F_GUEST_LE;
	} else if (!strcmp(config, "modern")) {
		h->e = VQ_LE;
		ack |= 1ULL << VIRTIO_F_VERSION_1;
	} else {
		return fail("CONFIG is legacy-be, legacy-le or modern");
	}
	h->vcpu_order = h->e == VQ_BE ? GUEST_BE : GUEST_LE;
	h->cfg.transport = legacy ? VIRTIO_MMIO_LEGACY : VIRTIO_MMIO_MODERN;
	h->cfg.endian_offer = VIRTIO_OFFER_BOTH;
	h->arch = (struct arch_ops){
		.name = "vq-instr",
		.virtio_mmio_base = VQI_MMIO_BASE,
		.virtio_mmio_slots = 1,
		.irq_line = vqi_irq_line,
		.vcpu_endian = vqi_vcpu_endian,
	};
	h->vm.arch = &h->arch;
	h->vm.cfg = &h->cfg;
	h->vm.kvm_fd = h->vm.vm_fd = h->vm.stop_efd = -1;
	h->vm.log = (struct logger){ .level = LOG_ERROR, .fd = STDERR_FILENO };
	h->vcpu.vm = &h->vm;

	h->ram = calloc(1, VQI_RAM_SIZE);
	if (!h->ram || guest_mem_add(&h->vm.mem, VQI_RAM_GPA, VQI_RAM_SIZE, h->ram, &err))
		return fail("no guest RAM");
	/* the disk: a memfd, so nothing is left behind and no device is hit */
	h->disk_fd = memfd_create("vq-instr-disk", MFD_CLOEXEC);
	if (h->disk_fd < 0 || ftruncate(h->disk_fd, VQI_DISK_SIZE))
		return fail("no memfd for the disk");
	snprintf(spec, sizeof(spec), "/proc/self/fd/%d", h->disk_fd);
	if (virtio_blk_add(&h->vm, spec, &err)) {
		fprintf(stderr, "vq-instr: virtio_blk_add: %s\n", err.msg);
		return -1;
	}
	h->d = (struct virtio_mmio_dev *)h->vm.devices;
	/* the harness is the device thread from here on: counts must not depend on scheduling */
	virtio_dev_stop(&h->d->vdev);

	/* 3.1.1 driver initialisation, as virtio_mmio.c in Linux does it */
	if (rd(h, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
	    rd(h, VIRTIO_MMIO_VERSION) != (legacy ? 1u : 2u) ||
	    rd(h, VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_BLOCK)
		return fail("not a virtio-blk of the asked version");
	wr(h, VIRTIO_MMIO_STATUS, 0);
	wr(h, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(h, VIRTIO_MMIO_STATUS, status);
	wr(h, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	if ((uint32_t)ack & ~rd(h, VIRTIO_MMIO_DEVICE_FEATURES))
		return fail("a feature bit 0-31 is not offered");
	wr(h, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	if ((uint32_t)(ack >> 32) & ~rd(h, VIRTIO_MMIO_DEVICE_FEATURES))
		return fail("a feature bit 32-63 is not offered");
	wr(h, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(h, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)ack);
	wr(h, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(h, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(ack >> 32));
	if (!legacy) {
		status |= VIRTIO_CONFIG_S_FEATURES_OK;
		wr(h, VIRTIO_MMIO_STATUS, status);
		if (rd(h, VIRTIO_MMIO_STATUS) != status)
			return fail("FEATURES_OK refused");
	} else {
		wr(h, VIRTIO_MMIO_GUEST_PAGE_SIZE, VQI_ALIGN);
	}
	wr(h, VIRTIO_MMIO_QUEUE_SEL, 0);
	if (rd(h, VIRTIO_MMIO_QUEUE_NUM_MAX) < VQI_QNUM)
		return fail("queue too small");
	wr(h, VIRTIO_MMIO_QUEUE_NUM, VQI_QNUM);
	if (legacy) {
		wr(h, VIRTIO_MMIO_QUEUE_ALIGN, VQI_ALIGN);
		wr(h, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(VQI_DESC / VQI_ALIGN));
	} else {
		wr(h, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)VQI_DESC);
		wr(h, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(VQI_DESC >> 32));
		wr(h, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)VQI_AVAIL);
		wr(h, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(VQI_AVAIL >> 32));
		wr(h, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)VQI_USED);
		wr(h, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(VQI_USED >> 32));
		wr(h, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	status |= VIRTIO_CONFIG_S_DRIVER_OK;
	wr(h, VIRTIO_MMIO_STATUS, status);
	if (rd(h, VIRTIO_MMIO_STATUS) != status || !h->d->vdev.vqs[0].ready)
		return fail("device not live after DRIVER_OK");
	if (h->d->vdev.vqs[0].endian != h->e)
		return fail("queue byte order is not the one the driver asked for");
	return 0;
}

/* One wake-up of the device thread (virtio/device.c), run here synchronously. */
static void vqi_service(struct virtio_dev *vdev)
{
	uint64_t v;
	uint32_t mask;
	unsigned int q;

	if (read(vdev->kick_fd, &v, sizeof(v)) != sizeof(v))
		return;
	mask = atomic_exchange(&vdev->kicked, 0);
	pthread_mutex_lock(&vdev->lock);
	for (q = 0; q < vdev->ops->nr_queues; q++)
		if ((mask & (1u << q)) && virtio_dev_live(vdev) && vdev->vqs[q].ready)
			vdev->ops->notify(vdev, q);
	pthread_mutex_unlock(&vdev->lock);
}

/*
 * What lkvm does for one request, the part callgrind counts: the kick exit,
 * the device's work, and the driver's interrupt handler exits (4.2.3.4).
 */
__attribute__((noinline)) uint32_t vqi_device_side(struct vqi *h);
__attribute__((noinline)) uint32_t vqi_device_side(struct vqi *h)
{
	uint32_t isr;

	wr(h, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	vqi_service(&h->d->vdev);
	isr = rd(h, VIRTIO_MMIO_INTERRUPT_STATUS);
	wr(h, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}

static void put_desc(struct vqi *h, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *p = gpa(h, VQI_DESC + 16ULL * i);

	ve_put64(h->e, p, addr);
	ve_put32(h->e, p + 8, len);
	ve_put16(h->e, p + 12, flags);
	ve_put16(h->e, p + 14, next);
}

static uint8_t pattern(uint64_t sector, unsigned int i)
{
	return (uint8_t)(sector * 31 + i * 7 + 1);
}

/* One 4 KiB request at sector; checks everything the driver can see. */
static int vqi_request(struct vqi *h, bool write, uint64_t sector)
{
	uint16_t slot = h->avail_idx % VQI_QNUM, want = h->last_used + 1;
	uint8_t *used_elem, *data = gpa(h, VQI_DATA), buf[VQI_BLOCK];
	unsigned int i;
	uint32_t isr;

	/* header in the driver's order (legacy: guest order; 5.2.6) */
	ve_put32(h->e, gpa(h, VQI_HDR), write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
	ve_put32(h->e, gpa(h, VQI_HDR) + 4, 0);
	ve_put64(h->e, gpa(h, VQI_HDR) + 8, sector);
	*gpa(h, VQI_STATUS) = 0xff;
	for (i = 0; i < VQI_BLOCK; i++)
		data[i] = write ? pattern(sector, i) : 0;
	put_desc(h, 0, VQI_HDR, 16, VRING_DESC_F_NEXT, 1);
	put_desc(h, 1, VQI_DATA, VQI_BLOCK, VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE), 2);
	put_desc(h, 2, VQI_STATUS, 1, VRING_DESC_F_WRITE, 0);
	/* 2.7.10: used_event = the entry we wait for; then publish the head */
	ve_put16(h->e, gpa(h, VQI_AVAIL) + 4 + 2 * VQI_QNUM, h->last_used);
	ve_put16(h->e, gpa(h, VQI_AVAIL) + 4 + 2 * slot, 0);
	h->avail_idx++;
	ve_put16(h->e, gpa(h, VQI_AVAIL) + 2, h->avail_idx);

	isr = vqi_device_side(h);

	if (!(isr & VIRTIO_MMIO_INT_VRING) || h->edges != 1)
		return fail("no single interrupt for the request");
	h->edges = 0;
	if (ve_get16(h->e, gpa(h, VQI_USED) + 2) != want)
		return fail("used->idx did not advance by one");
	used_elem = gpa(h, VQI_USED) + 4 + 8 * (h->last_used % VQI_QNUM);
	h->last_used++;
	if (ve_get32(h->e, used_elem) != 0 ||
	    ve_get32(h->e, used_elem + 4) != (write ? 1u : VQI_BLOCK + 1u))
		return fail("wrong used entry (id or length)");
	if (*gpa(h, VQI_STATUS) != VIRTIO_BLK_S_OK)
		return fail("request status is not VIRTIO_BLK_S_OK");
	if (write && pread(h->disk_fd, buf, VQI_BLOCK, sector * 512) != VQI_BLOCK)
		return fail("cannot read the disk back");
	for (i = 0; i < VQI_BLOCK; i++)
		if ((write ? buf[i] : data[i]) != pattern(sector, i))
			return fail(write ? "the disk does not hold what was written"
					  : "read data differs from the disk");
	return 0;
}

int main(int argc, char **argv)
{
	struct vqi *h;
	bool write;
	unsigned long n, i;
	char *end;
	int rc = 0;

	if (argc != 4 || (strcmp(argv[2], "read") && strcmp(argv[2], "write"))) {
		fprintf(stderr, "usage: vq-instr legacy-be|legacy-le|modern read|write N\n");
		return 2;
	}
	n = strtoul(argv[3], &end, 10);
	if (*end || !n || n > 1000000) {
		fail("N: 1..1000000");
		return 2;
	}
	write = !strcmp(argv[2], "write");
	h = calloc(1, sizeof(*h));
	if (!h || vqi_setup(h, argv[1]))
		return 1;
	if (!write) {
		/* reads find the pattern a write would have left */
		uint8_t blk[VQI_BLOCK];

		for (i = 0; i < VQI_DISK_SIZE / VQI_BLOCK; i++) {
			for (unsigned int j = 0; j < VQI_BLOCK; j++)
				blk[j] = pattern(i * 8, j);
			if (pwrite(h->disk_fd, blk, VQI_BLOCK, i * VQI_BLOCK) != VQI_BLOCK) {
				fail("cannot fill the disk");
				return 1;
			}
		}
	}
	for (i = 0; i < n && !rc; i++)
		rc = vqi_request(h, write, (i * 8) % (VQI_DISK_SIZE / 512));
	printf("vq-instr: %s %s: %lu requests %s\n", argv[1], argv[2], i, rc ? "FAILED" : "ok");
	vm_stop_devices(&h->vm);
	vm_destroy_devices(&h->vm);
	close(h->disk_fd);
	free(h->ram);
	free(h);
	return rc ? 1 : 0;
}
