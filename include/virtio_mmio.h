/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_VIRTIO_MMIO_H
#define LKVM_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "mmio_bus.h"
#include "virtio.h"

#define VIRTIO_MMIO_REGION_SIZE 0x200
#define VIRTIO_MMIO_MAGIC 0x74726976u  /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x4d564b4cu /* "LKVM" */

struct vcpu;

/* One virtio-mmio register window (virtio 1.2, 4.2), legacy or modern. */
struct virtio_mmio {
	struct mmio_dev mdev;
	struct virtio_dev *vdev;
	const struct guest_mem *mem;
	/* the accessing vCPU's byte order; vcpu_guest_endian() in lkvm */
	int (*vcpu_endian)(struct vcpu *vcpu);

	/*
	 * The interrupt is edge-triggered (DT): an edge each time InterruptStatus
	 * gains a bit, so that it can be an irqfd write. A bit already set needs
	 * none: the driver acks only what it read, and reads the rings after.
	 */
	pthread_mutex_t irq_lock;
	uint32_t isr;
	void (*irq_edge)(void *opaque);
	void *irq_opaque;
	_Atomic uint64_t nr_exits; /* register accesses that trapped (stats) */
	_Atomic uint64_t nr_irqs;  /* edges sent */

	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	uint32_t guest_page_size; /* legacy */
	struct {
		uint32_t num;
		uint32_t align; /* legacy */
		uint32_t pfn;   /* legacy */
		uint64_t desc, avail, used;
		uint32_t ready;
	} q[VIRTIO_MAX_QUEUES];
};

void virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *vdev, uint64_t base,
		      const struct guest_mem *mem, void (*irq_edge)(void *opaque),
		      void *irq_opaque, int (*vcpu_endian)(struct vcpu *vcpu));
void virtio_mmio_exit(struct virtio_mmio *m);

#endif
