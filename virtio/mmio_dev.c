// SPDX-License-Identifier: GPL-2.0
/* Glue between a virtio device model, the virtio-mmio transport and the VM. */
#include <endian.h>
#include <linux/virtio_mmio.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch.h"
#include "vcpu.h"
#include "virtio_devs.h"

static void virtio_mmio_dev_irq(void *opaque)
{
	struct virtio_mmio_dev *dev = opaque;
	uint64_t one = 1;

	/* irqfd: the edge without a syscall into the vGIC's ioctl path */
	if (dev->irq_fd >= 0 && write(dev->irq_fd, &one, sizeof(one)) == sizeof(one))
		return;
	irq_pulse(dev->vm, dev->irq);
}

/*
 * QueueNotify by KVM_IOEVENTFD, one eventfd per queue: the vCPU does not
 * leave the kernel for a kick. The value is matched as KVM reads the bytes
 * of the access on this host: the register is LE (4.2.2), so cpu_to_le32.
 * Status and the rest still trap: Status=0 samples the vCPU's byte order.
 */
static void virtio_mmio_dev_ioeventfds(struct virtio_mmio_dev *dev)
{
	struct virtio_dev *vdev = &dev->vdev;
	unsigned int q;

	if (dev->vm->cfg->no_ioeventfd)
		return;
	for (q = 0; q < vdev->ops->nr_queues; q++) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (fd < 0)
			break;
		if (vm_ioeventfd_add(dev->vm, dev->mmio.mdev.base + VIRTIO_MMIO_QUEUE_NOTIFY, 4,
				     htole32(q), fd)) {
			log_debug(&dev->vm->log, "%s: no ioeventfd (%s); kicks trap", vdev->label,
				  strerror(errno));
			close(fd);
			break;
		}
		vdev->queue_fd[q] = fd;
	}
}

static void virtio_mmio_dev_ready(struct vm_device *base)
{
	struct virtio_mmio_dev *dev = (struct virtio_mmio_dev *)base;
	int fd;

	if (dev->vm->cfg->no_irqfd)
		return;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return;
	if (irq_bind_eventfd(dev->vm, dev->irq, fd)) {
		log_debug(&dev->vm->log, "%s: no irqfd; interrupts by KVM_IRQ_LINE", dev->vdev.label);
		close(fd);
		return;
	}
	dev->irq_fd = fd;
}

static void virtio_mmio_dev_stats(struct vm_device *base, const struct logger *log)
{
	struct virtio_mmio_dev *dev = (struct virtio_mmio_dev *)base;
	struct virtio_dev *vdev = &dev->vdev;
	int64_t cpu_ns = atomic_load(&vdev->thread_cpu_ns);
	char cpu[40] = "";

	/* the device thread's CPU time: lkvm's own cost, free of the guest's speed */
	if (cpu_ns >= 0)
		snprintf(cpu, sizeof(cpu), " thread_cpu_us=%lld", (long long)(cpu_ns / 1000));
	log_info(log, "stats: %s: buffers=%llu mmio_exits=%llu kick_exits=%llu ioeventfd_kicks=%llu irqs=%llu irqfd=%d%s",
		 vdev->label, (unsigned long long)virtio_dev_nr_used(vdev),
		 (unsigned long long)atomic_load(&dev->mmio.nr_exits),
		 (unsigned long long)atomic_load(&vdev->nr_kicks_exit),
		 (unsigned long long)atomic_load(&vdev->nr_kicks_ioeventfd),
		 (unsigned long long)atomic_load(&dev->mmio.nr_irqs), dev->irq_fd >= 0, cpu);
}

static int virtio_mmio_vcpu_endian(struct vcpu *vcpu)
{
	return vcpu_guest_endian(vcpu);
}

static void virtio_mmio_dev_stop(struct vm_device *base)
{
	struct virtio_mmio_dev *dev = (struct virtio_mmio_dev *)base;

	virtio_dev_stop(&dev->vdev);
}

/* lkvm debug --dump: status, features and every queue's state and byte order */
static void virtio_mmio_dev_dump(struct vm_device *base, FILE *f)
{
	struct virtio_mmio_dev *dev = (struct virtio_mmio_dev *)base;
	struct virtio_dev *vdev = &dev->vdev;
	unsigned int q;

	pthread_mutex_lock(&vdev->lock);
	fprintf(f, "%s: %s status=0x%02x features=0x%016llx%s\n", vdev->label,
		vdev->transport == VIRTIO_MMIO_LEGACY ? "mmio-legacy" : "mmio", vdev->status,
		(unsigned long long)vdev->guest_features,
		(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET) ? " NEEDS_RESET" : "");
	for (q = 0; q < vdev->ops->nr_queues; q++) {
		const struct virtqueue *vq = &vdev->vqs[q];

		if (!vq->ready) {
			fprintf(f, "%s: queue %u: not ready%s\n", vdev->label, q,
				vq->broken ? " (broken)" : "");
			continue;
		}
		fprintf(f, "%s: queue %u: num=%u %s-endian rule=%s last_avail=%u used_idx=%u event_idx=%d indirect=%d\n",
			vdev->label, q, vq->num, vq->endian == VQ_BE ? "big" : "little",
			virtio_rule_name(vdev->vq_rule[q]), vq->last_avail, vq->used_idx,
			vq->event_idx, vq->indirect);
	}
	pthread_mutex_unlock(&vdev->lock);
}

int virtio_mmio_dev_add(struct vm *vm, struct virtio_mmio_dev *dev,
			const struct virtio_dev_ops *ops, void *priv, void (*destroy)(struct vm_device *),
			struct lkvm_err *e)
{
	const struct vm_config *cfg = vm->cfg;
	char label[48];
	uint64_t base;

	if (vm->nr_virtio >= vm->arch->virtio_mmio_slots)
		return err_set(e, "too many virtio devices (max %u)", vm->arch->virtio_mmio_slots);
	base = vm->arch->virtio_mmio_base + (uint64_t)vm->nr_virtio * VIRTIO_MMIO_REGION_SIZE;
	snprintf(label, sizeof(label), "%s@0x%llx", ops->name, (unsigned long long)base);
	dev->vm = vm;
	if (virtio_dev_init(&dev->vdev, ops, priv, &vm->log, cfg->transport, cfg->endian_offer,
			    cfg->endian_force, label))
		return err_set(e, "%s: out of resources", label);
	virtio_mmio_init(&dev->mmio, &dev->vdev, base, &vm->mem, virtio_mmio_dev_irq, dev,
			 virtio_mmio_vcpu_endian);
	dev->base.stop = virtio_mmio_dev_stop;
	dev->base.dump = virtio_mmio_dev_dump;
	dev->base.ready = virtio_mmio_dev_ready;
	dev->base.stats = virtio_mmio_dev_stats;
	dev->base.destroy = destroy;
	dev->irq_fd = -1;
	/* from here on run.c owns teardown, whatever fails next */
	vm_add_device(vm, &dev->base);
	if (irq_alloc(vm, &dev->irq, e))
		return -1;
	dev->mmio.mdev.dt.irq = dev->irq;
	if (mmio_bus_register(&vm->bus, &dev->mmio.mdev, e))
		return -1;
	vm->nr_virtio++;
	virtio_mmio_dev_ioeventfds(dev);
	if (virtio_dev_start(&dev->vdev))
		return err_set(e, "%s: cannot start its thread", label);
	return 0;
}

/* Base teardown for device models: the caller frees its own container. */
void virtio_mmio_dev_release(struct virtio_mmio_dev *dev)
{
	unsigned int q;

	virtio_dev_exit(&dev->vdev);
	virtio_mmio_exit(&dev->mmio);
	/* KVM keeps its own reference to ioeventfds and irqfds until the VM goes */
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (dev->vdev.queue_fd[q] >= 0)
			close(dev->vdev.queue_fd[q]);
		dev->vdev.queue_fd[q] = -1;
	}
	if (dev->irq_fd >= 0)
		close(dev->irq_fd);
	dev->irq_fd = -1;
}

void virtio_dev_drain(struct virtio_dev *vdev, struct virtqueue *vq,
		      long (*fn)(struct virtio_dev *vdev, struct virtqueue *vq, struct vq_elem *elem))
{
	struct vq_elem *elem = vdev->scratch;
	unsigned int budget = VIRTIO_DRAIN_BUDGET;

	for (;;) {
		int r;

		while ((r = vq_pop(vq, elem)) > 0) {
			long len = fn(vdev, vq, elem);

			if (len < 0) {
				virtio_dev_needs_reset(vdev, vq->why ? vq->why : "malformed request");
				return;
			}
			vq_push(vq, elem->head, (uint32_t)len);
			/*
			 * A guest can make a device refill its own avail ring (a
			 * read into the ring and the next header): stop, let the
			 * thread see stop and status writes, and come back.
			 */
			if (!--budget) {
				virtio_dev_signal(vdev, vq);
				virtio_dev_kick(vdev, (unsigned int)(vq - vdev->vqs));
				return;
			}
		}
		if (r < 0) {
			virtio_dev_needs_reset(vdev, vq->why);
			return;
		}
		virtio_dev_signal(vdev, vq);
		/* the driver may have added buffers while it saw our old avail_event */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!vq_has_avail(vq))
			return;
	}
}
