// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-mmio transport (virtio 1.2, 4.2): ONE decoder for version 1
 * (legacy: GuestPageSize, QueuePFN, QueueAlign) and version 2 (modern).
 * Registers are 32-bit LE on any host (mmio_get_le); QueueSel, QueueNum and
 * every config offset are checked here, once, for both versions.
 */
#include <linux/virtio_mmio.h>
#include <string.h>

#include "util.h"
#include "virtio_mmio.h"

static enum vq_endian mmio_vcpu_endian(struct virtio_mmio *m, struct vcpu *vcpu)
{
	return m->vcpu_endian && vcpu ? virtio_endian_from_guest(m->vcpu_endian(vcpu)) : 0;
}

/*
 * The vCPU's byte order costs two KVM_GET_ONE_REG: ask only when the rules
 * will use it (legacy, no bit acked, no sample from a reset yet).
 */
static enum vq_endian mmio_vcpu_endian_lazy(struct virtio_mmio *m, struct vcpu *vcpu)
{
	struct virtio_dev *vdev = m->vdev;

	if (vdev->force_endian || vdev->reset_endian || vdev->transport == VIRTIO_MMIO_MODERN ||
	    virtio_has_feature(vdev, VIRTIO_F_VERSION_1) ||
	    virtio_has_feature(vdev, VIRTIO_RING_F_GUEST_LE) ||
	    virtio_has_feature(vdev, VIRTIO_RING_F_GUEST_BE))
		return 0;
	return mmio_vcpu_endian(m, vcpu);
}

static void mmio_interrupt(struct virtio_dev *vdev, uint32_t bits)
{
	struct virtio_mmio *m = vdev->trans_priv;
	bool edge;

	pthread_mutex_lock(&m->irq_lock);
	edge = bits & ~m->isr;
	m->isr |= bits;
	pthread_mutex_unlock(&m->irq_lock);
	/* after the unlock: an ack that clears the bit first gets a fresh edge */
	if (edge && m->irq_edge) {
		atomic_fetch_add_explicit(&m->nr_irqs, 1, memory_order_relaxed);
		m->irq_edge(m->irq_opaque);
	}
}

static const struct virtio_trans_ops mmio_trans_ops = {
	.interrupt = mmio_interrupt,
};

static bool mmio_legacy(const struct virtio_mmio *m)
{
	return m->vdev->transport == VIRTIO_MMIO_LEGACY;
}

/* QueueSel names a queue this device has (else accesses are ignored). */
static bool mmio_queue_valid(const struct virtio_mmio *m)
{
	return m->queue_sel < m->vdev->ops->nr_queues;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static void mmio_config_access(struct virtio_mmio *m, struct vcpu *vcpu, uint64_t off,
			       uint8_t *data, unsigned int len, bool is_write)
{
	struct virtio_dev *vdev = m->vdev;
	uint8_t buf[VIRTIO_CONFIG_MAX];
	enum vq_endian e;

	/* 4.2.2.2: any width at any offset, but nothing past the end */
	if (off >= vdev->ops->config_size || len > vdev->ops->config_size - off)
		return;
	e = virtio_dev_config_endian(vdev, mmio_vcpu_endian_lazy(m, vcpu));
	memset(buf, 0, sizeof(buf));
	vdev->ops->config_encode(vdev, e, buf);
	if (!is_write) {
		memcpy(data, buf + off, len);
		return;
	}
	memcpy(buf + off, data, len);
	if (vdev->ops->config_write)
		vdev->ops->config_write(vdev, e, buf, off, len);
}

static void mmio_read(struct mmio_dev *dev, struct vcpu *vcpu, uint64_t off, uint8_t *data,
		      unsigned int len)
{
	struct virtio_mmio *m = dev->opaque;
	struct virtio_dev *vdev = m->vdev;
	uint32_t v = 0;

	atomic_fetch_add_explicit(&m->nr_exits, 1, memory_order_relaxed);
	if (off >= VIRTIO_MMIO_CONFIG) {
		pthread_mutex_lock(&vdev->lock);
		mmio_config_access(m, vcpu, off - VIRTIO_MMIO_CONFIG, data, len, false);
		pthread_mutex_unlock(&vdev->lock);
		return;
	}
	/* 4.2.2.2: registers are read 32 bits at a time, aligned */
	if (len != 4 || (off & 3))
		return;
	if (off == VIRTIO_MMIO_INTERRUPT_STATUS) {
		pthread_mutex_lock(&m->irq_lock);
		v = m->isr;
		pthread_mutex_unlock(&m->irq_lock);
		mmio_put_le(data, 4, v);
		return;
	}
	pthread_mutex_lock(&vdev->lock);
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		v = VIRTIO_MMIO_MAGIC;
		break;
	case VIRTIO_MMIO_VERSION:
		v = mmio_legacy(m) ? 1 : 2;
		break;
	case VIRTIO_MMIO_DEVICE_ID:
		v = vdev->ops->device_id;
		break;
	case VIRTIO_MMIO_VENDOR_ID:
		v = VIRTIO_MMIO_VENDOR;
		break;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (m->dev_feat_sel < 2)
			v = (uint32_t)(vdev->host_features >> (32 * m->dev_feat_sel));
		break;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		if (mmio_queue_valid(m))
			v = vdev->ops->queue_max;
		break;
	case VIRTIO_MMIO_QUEUE_PFN:
		if (mmio_legacy(m) && mmio_queue_valid(m))
			v = m->q[m->queue_sel].pfn;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (!mmio_legacy(m) && mmio_queue_valid(m))
			v = m->q[m->queue_sel].ready;
		break;
	case VIRTIO_MMIO_STATUS:
		v = vdev->status;
		break;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		if (!mmio_legacy(m))
			v = vdev->config_generation;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&vdev->lock);
	mmio_put_le(data, 4, v);
}

static void mmio_queue_off(struct virtio_mmio *m, unsigned int q)
{
	vq_reset(&m->vdev->vqs[q]);
	m->q[q].ready = 0;
	m->q[q].pfn = 0;
}

/* Legacy QueuePFN (4.2.4): one contiguous legacy ring at pfn * page size. */
static void mmio_legacy_activate(struct virtio_mmio *m, struct vcpu *vcpu, uint32_t pfn)
{
	struct virtio_dev *vdev = m->vdev;
	unsigned int q = m->queue_sel;
	uint64_t num = m->q[q].num, desc, avail, used;

	if (!pfn) {
		mmio_queue_off(m, q);
		return;
	}
	if (!is_pow2(m->guest_page_size) || !is_pow2(m->q[q].align) || !num ||
	    num > vdev->ops->queue_max) {
		virtio_dev_needs_reset(vdev, "legacy queue set up with a bad page size, align or size");
		return;
	}
	desc = (uint64_t)pfn * m->guest_page_size;
	avail = desc + VQ_DESC_SIZE * num;
	/* avail: flags, idx, ring[num], used_event (always there in legacy) */
	used = ALIGN_UP(avail + 2 * (3 + num), (uint64_t)m->q[q].align);
	m->q[q].pfn = pfn;
	virtio_dev_activate_queue(vdev, q, m->mem, num, desc, avail, used,
				  mmio_vcpu_endian_lazy(m, vcpu));
}

static void mmio_modern_ready(struct virtio_mmio *m, struct vcpu *vcpu, uint32_t ready)
{
	struct virtio_dev *vdev = m->vdev;
	unsigned int q = m->queue_sel;

	if (!ready) {
		mmio_queue_off(m, q);
		return;
	}
	if (!m->q[q].num || m->q[q].num > vdev->ops->queue_max) {
		virtio_dev_needs_reset(vdev, "queue enabled with a bad size");
		return;
	}
	if (virtio_dev_activate_queue(vdev, q, m->mem, m->q[q].num, m->q[q].desc, m->q[q].avail,
				      m->q[q].used, mmio_vcpu_endian_lazy(m, vcpu)))
		m->q[q].ready = 1;
}

static void mmio_set_addr(struct virtio_mmio *m, uint64_t *field, bool high, uint32_t v)
{
	/* 4.2.2.3: ring addresses are written while the queue is not ready */
	if (!mmio_queue_valid(m) || m->q[m->queue_sel].ready)
		return;
	if (high)
		*field = (*field & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*field = (*field & ~0xffffffffULL) | v;
}

static void mmio_reset(struct virtio_mmio *m, struct vcpu *vcpu)
{
	unsigned int q;

	virtio_dev_reset(m->vdev, mmio_vcpu_endian(m, vcpu));
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		memset(&m->q[q], 0, sizeof(m->q[q]));
	m->dev_feat_sel = m->drv_feat_sel = m->queue_sel = 0;
	pthread_mutex_lock(&m->irq_lock);
	m->isr = 0;
	pthread_mutex_unlock(&m->irq_lock);
}

static void mmio_write(struct mmio_dev *dev, struct vcpu *vcpu, uint64_t off, const uint8_t *data,
		       unsigned int len)
{
	struct virtio_mmio *m = dev->opaque;
	struct virtio_dev *vdev = m->vdev;
	uint32_t v;

	atomic_fetch_add_explicit(&m->nr_exits, 1, memory_order_relaxed);
	if (off >= VIRTIO_MMIO_CONFIG) {
		pthread_mutex_lock(&vdev->lock);
		mmio_config_access(m, vcpu, off - VIRTIO_MMIO_CONFIG, (uint8_t *)data, len, true);
		pthread_mutex_unlock(&vdev->lock);
		return;
	}
	if (len != 4 || (off & 3))
		return;
	v = (uint32_t)mmio_get_le(data, 4);
	/* the two hot registers take no device lock */
	if (off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		atomic_fetch_add_explicit(&vdev->nr_kicks_exit, 1, memory_order_relaxed);
		virtio_dev_kick(vdev, v);
		return;
	}
	if (off == VIRTIO_MMIO_INTERRUPT_ACK) {
		pthread_mutex_lock(&m->irq_lock);
		m->isr &= ~v;
		pthread_mutex_unlock(&m->irq_lock);
		return;
	}
	pthread_mutex_lock(&vdev->lock);
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->dev_feat_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->drv_feat_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* features are fixed once FEATURES_OK (modern) or DRIVER_OK is set */
		if (m->drv_feat_sel >= 2 ||
		    (vdev->status & (VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)))
			break;
		if (mmio_legacy(m))
			v &= (uint32_t)(vdev->host_features >> (32 * m->drv_feat_sel));
		vdev->guest_features &= ~(0xffffffffULL << (32 * m->drv_feat_sel));
		vdev->guest_features |= (uint64_t)v << (32 * m->drv_feat_sel);
		break;
	case VIRTIO_MMIO_GUEST_PAGE_SIZE:
		if (mmio_legacy(m))
			m->guest_page_size = v;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (mmio_queue_valid(m))
			m->q[m->queue_sel].num = v;
		break;
	case VIRTIO_MMIO_QUEUE_ALIGN:
		if (mmio_legacy(m) && mmio_queue_valid(m))
			m->q[m->queue_sel].align = v;
		break;
	case VIRTIO_MMIO_QUEUE_PFN:
		if (mmio_legacy(m) && mmio_queue_valid(m))
			mmio_legacy_activate(m, vcpu, v);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (!mmio_legacy(m) && mmio_queue_valid(m))
			mmio_modern_ready(m, vcpu, v);
		break;
	case VIRTIO_MMIO_STATUS:
		if (!v)
			mmio_reset(m, vcpu);
		else
			virtio_dev_set_status(vdev, v, 0);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (!mmio_legacy(m) && mmio_queue_valid(m))
			mmio_set_addr(m, &m->q[m->queue_sel].desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (!mmio_legacy(m) && mmio_queue_valid(m))
			mmio_set_addr(m, &m->q[m->queue_sel].avail, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (!mmio_legacy(m) && mmio_queue_valid(m))
			mmio_set_addr(m, &m->q[m->queue_sel].used, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&vdev->lock);
}

static const struct mmio_ops virtio_mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
};

void virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *vdev, uint64_t base,
		      const struct guest_mem *mem, void (*irq_edge)(void *opaque),
		      void *irq_opaque, int (*vcpu_endian)(struct vcpu *vcpu))
{
	memset(m, 0, sizeof(*m));
	m->vdev = vdev;
	m->mem = mem;
	m->irq_edge = irq_edge;
	m->irq_opaque = irq_opaque;
	m->vcpu_endian = vcpu_endian;
	pthread_mutex_init(&m->irq_lock, NULL);
	vdev->trans = &mmio_trans_ops;
	vdev->trans_priv = m;
	m->mdev = (struct mmio_dev){
		.base = base,
		.size = VIRTIO_MMIO_REGION_SIZE,
		.ops = &virtio_mmio_ops,
		.opaque = m,
		.dt = {
			.name = "virtio",
			.compatible = "virtio,mmio",
			.has_irq = true,
			.irq_edge = true,
			.dma_coherent = true,
		},
	};
}

void virtio_mmio_exit(struct virtio_mmio *m)
{
	pthread_mutex_destroy(&m->irq_lock);
}
