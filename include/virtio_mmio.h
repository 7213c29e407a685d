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

	pthread_mutex_t irq_lock;
	uint32_t isr;
	int irq_level;
	void (*set_irq)(void *opaque, int level);
	void *irq_opaque;

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
		      const struct guest_mem *mem, void (*set_irq)(void *opaque, int level),
		      void *irq_opaque, int (*vcpu_endian)(struct vcpu *vcpu));
void virtio_mmio_exit(struct virtio_mmio *m);

#endif
