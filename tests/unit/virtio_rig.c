// SPDX-License-Identifier: GPL-2.0
/* The virtio device test rig (virtio_rig.h): a VM without KVM and a fake driver. */
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "test.h"
#include "vcpu.h"
#include "virtio_rig.h"

#define VRIG_MMIO_BASE 0x0a000000ULL

static _Atomic int vrig_irq_level[VM_MAX_IRQ_LINES];
static _Atomic int vrig_irq_edges[VM_MAX_IRQ_LINES]; /* rising, not yet taken */
static int vrig_order = GUEST_LE;
static struct vcpu vrig_vcpu;

static int vrig_irq_line(struct vm *vm, uint32_t irq, int level)
{
	if (irq < VM_MAX_IRQ_LINES && atomic_exchange(&vrig_irq_level[irq], level) != level && level)
		vrig_irq_edges[irq]++;
	return 0;
}

static int vrig_vcpu_endian(struct vcpu *vcpu)
{
	return vcpu == &vrig_vcpu ? vrig_order : 0;
}

void vrig_vcpu_order(int guest_endian)
{
	vrig_order = guest_endian;
}

int vrig_irq(const struct virtio_mmio_dev *d, bool want)
{
	if (d->irq >= VM_MAX_IRQ_LINES)
		return -1;
	for (unsigned int i = 0; want && !vrig_irq_edges[d->irq] && i < 2000; i++)
		vrig_sleep_ms(1);
	return atomic_exchange(&vrig_irq_edges[d->irq], 0);
}

void vrig_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

bool vrig_init(struct vrig *r, enum virtio_transport t, enum virtio_endian_offer offer)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->log_pipe[0] = r->log_pipe[1] = -1;
	r->cfg.transport = t;
	r->cfg.endian_offer = offer;
	r->arch = (struct arch_ops){
		.name = "test",
		.virtio_mmio_base = VRIG_MMIO_BASE,
		.virtio_mmio_slots = 32,
		.irq_line = vrig_irq_line,
		.vcpu_endian = vrig_vcpu_endian,
	};
	r->vm.arch = &r->arch;
	r->vm.cfg = &r->cfg;
	r->vm.kvm_fd = r->vm.vm_fd = r->vm.stop_efd = -1;
	vrig_vcpu.vm = &r->vm;
	vrig_order = GUEST_LE;
	for (i = 0; i < VM_MAX_IRQ_LINES; i++)
		vrig_irq_level[i] = vrig_irq_edges[i] = 0;
	if (!CHECK(pipe2(r->log_pipe, O_NONBLOCK | O_CLOEXEC) == 0))
		return false;
	r->vm.log = (struct logger){ .level = LOG_ERROR, .fd = r->log_pipe[1] };
	if (!fake_ram_init(&r->ram, &r->vm.mem))
		return false;
	r->ram.next = FAKE_RAM_GPA + 0x1000;
	return true;
}

void vrig_exit(struct vrig *r)
{
	/* device threads joined before the RAM goes, as run.c does */
	vm_stop_devices(&r->vm);
	vm_destroy_devices(&r->vm);
	fake_ram_free(&r->ram);
	if (r->log_pipe[0] >= 0)
		close(r->log_pipe[0]);
	if (r->log_pipe[1] >= 0)
		close(r->log_pipe[1]);
}

struct virtio_mmio_dev *vrig_newest(struct vrig *r)
{
	/* vm->devices is newest first; every virtio device begins with its vm_device */
	struct virtio_mmio_dev *d = (struct virtio_mmio_dev *)r->vm.devices;

	if (d)
		d->mmio.vcpu_endian = vrig_vcpu_endian;
	return d;
}

unsigned int vrig_log_lines(struct vrig *r)
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

uint32_t vrig_rd(struct virtio_mmio_dev *d, uint64_t off)
{
	uint8_t b[4] = { 0xee, 0xee, 0xee, 0xee };

	mmio_bus_access(&d->vm->bus, &vrig_vcpu, d->mmio.mdev.base + off, b, 4, false);
	return (uint32_t)mmio_get_le(b, 4);
}

void vrig_wr(struct virtio_mmio_dev *d, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	mmio_put_le(b, 4, v);
	mmio_bus_access(&d->vm->bus, &vrig_vcpu, d->mmio.mdev.base + off, b, 4, true);
}

void vrig_cfg_rd(struct virtio_mmio_dev *d, uint64_t off, uint8_t *out, unsigned int len)
{
	memset(out, 0xee, len);
	mmio_bus_access(&d->vm->bus, &vrig_vcpu, d->mmio.mdev.base + VIRTIO_MMIO_CONFIG + off, out,
			len, false);
}

uint64_t vrig_dev_features(struct virtio_mmio_dev *d)
{
	uint64_t f;

	vrig_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = vrig_rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	vrig_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)vrig_rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static bool vrig_legacy(const struct virtio_mmio_dev *d)
{
	return d->vdev.transport == VIRTIO_MMIO_LEGACY;
}

static bool vdrv_queue(struct vdrv *dv, unsigned int q, uint16_t num)
{
	struct virtio_mmio_dev *d = dv->d;
	struct fake_ring *fr = &dv->q[q];

	vrig_wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
	if (!CHECK(vrig_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX) >= num))
		return false;
	vrig_wr(d, VIRTIO_MMIO_QUEUE_NUM, num);
	if (vrig_legacy(d)) {
		/* 4.2.4: desc | avail (+used_event) | pad | used, at QueuePFN * GuestPageSize */
		uint64_t base = fake_ram_alloc(dv->ram, fr_legacy_size(num, 4096), 4096);

		fr_init_legacy(fr, dv->ram, dv->e, num, base, 4096);
		vrig_wr(d, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
		vrig_wr(d, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(base / 4096));
		return CHECK_EQ_U64(vrig_rd(d, VIRTIO_MMIO_QUEUE_PFN), base / 4096);
	}
	/* 4.2.3.2: the three parts anywhere, each aligned (2.7) */
	fr_init(fr, dv->ram, dv->e, num, fake_ram_alloc(dv->ram, 16 * num, 16),
		fake_ram_alloc(dv->ram, 6 + 2 * num, 2), fake_ram_alloc(dv->ram, 6 + 8 * num, 4));
	vrig_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)fr->desc);
	vrig_wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(fr->desc >> 32));
	vrig_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)fr->avail);
	vrig_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(fr->avail >> 32));
	vrig_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)fr->used);
	vrig_wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(fr->used >> 32));
	vrig_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return CHECK_EQ_U64(vrig_rd(d, VIRTIO_MMIO_QUEUE_READY), 1);
}

bool vdrv_start(struct vdrv *dv, struct virtio_mmio_dev *d, struct fake_ram *ram)
{
	uint32_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	unsigned int q;

	dv->d = d;
	dv->ram = ram;
	/* the vCPU that writes Status = 0 is the one whose byte order is sampled */
	if (dv->vcpu_reset)
		vrig_order = dv->vcpu_reset;
	vrig_wr(d, VIRTIO_MMIO_STATUS, 0);
	if (!CHECK_EQ_U64(vrig_rd(d, VIRTIO_MMIO_STATUS), 0))
		return false;
	vrig_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vrig_wr(d, VIRTIO_MMIO_STATUS, status);
	if (!CHECK_EQ_U64(dv->ack & ~vrig_dev_features(d), 0))
		return false;
	vrig_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vrig_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)dv->ack);
	vrig_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vrig_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(dv->ack >> 32));
	if (!vrig_legacy(d)) {
		status |= VIRTIO_CONFIG_S_FEATURES_OK;
		vrig_wr(d, VIRTIO_MMIO_STATUS, status);
		if (!CHECK_EQ_U64(vrig_rd(d, VIRTIO_MMIO_STATUS), status))
			return false;
	} else {
		vrig_wr(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	}
	for (q = 0; q < dv->nq; q++)
		if (!vdrv_queue(dv, q, dv->num))
			return false;
	status |= VIRTIO_CONFIG_S_DRIVER_OK;
	vrig_wr(d, VIRTIO_MMIO_STATUS, status);
	return CHECK_EQ_U64(vrig_rd(d, VIRTIO_MMIO_STATUS), status);
}

int64_t vdrv_submit(struct vdrv *dv, unsigned int q, uint16_t head)
{
	struct virtio_mmio_dev *d = dv->d;
	struct fake_ring *fr = &dv->q[q];
	uint16_t want = fr->last_used + 1;
	uint32_t id, len;

	/* 2.7.10 (if negotiated): interrupt me once the next entry is used */
	fr_set_used_event(fr, fr->last_used);
	fr_avail_add(fr, head);
	vrig_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	if (!CHECK(VRIG_WAIT_UNTIL(fr_used_idx(fr) == want &&
				   (vrig_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING))))
		return -1;
	CHECK_EQ_U64(vrig_irq(d, true), 1);
	fr_used_elem(fr, fr->last_used, &id, &len);
	fr->last_used++;
	CHECK_EQ_U64(id, head);
	/* 4.2.2: InterruptACK clears the bit and lowers the line */
	vrig_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ_U64(vrig_irq(d, false), 0);
	return id == head ? (int64_t)len : -1;
}
