/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_VIRTIO_DEVS_H
#define LKVM_VIRTIO_DEVS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "p9.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "vm.h"

/* What every virtio-mmio device of a VM is made of. */
struct virtio_mmio_dev {
	struct vm_device base;
	struct vm *vm;
	struct virtio_dev vdev;
	struct virtio_mmio mmio;
	uint32_t irq;
	int irq_fd; /* KVM_IRQFD eventfd, -1: KVM_IRQ_LINE */
};

/*
 * Gives dev its slot, irq and transport, puts it on the bus and starts its
 * thread; run.c later stops it. ops/priv describe the device model.
 */
int virtio_mmio_dev_add(struct vm *vm, struct virtio_mmio_dev *dev,
			const struct virtio_dev_ops *ops, void *priv, void (*destroy)(struct vm_device *),
			struct lkvm_err *e);

void virtio_mmio_dev_release(struct virtio_mmio_dev *dev);

/*
 * Runs fn on every available chain of vq and pushes each with the length fn
 * returns (>= 0); fn < 0 means the guest broke the protocol. Signals once.
 * After VIRTIO_DRAIN_BUDGET chains it signals, re-kicks vq and returns, so
 * a guest that keeps the ring full cannot hold the device thread (and its
 * lock, which status writes and stop take) forever.
 */
#define VIRTIO_DRAIN_BUDGET 1024
void virtio_dev_drain(struct virtio_dev *vdev, struct virtqueue *vq,
		      long (*fn)(struct virtio_dev *vdev, struct virtqueue *vq, struct vq_elem *elem));

int virtio_blk_add(struct vm *vm, const char *spec, struct lkvm_err *e);
int virtio_rng_add(struct vm *vm, struct lkvm_err *e);
/* --9p DIR,TAG[,ro] */
/* --9p DIR[,TAG[,ro][,setid][,owners]]: flags are p9.h's P9_SHARE_* */
#define P9_DEFAULT_TAG "kvm_9p" /* kvmtool's, for --9p DIR */
int virtio_9p_parse_spec(const char *spec, char **dir, char **tag, unsigned int *flags,
			 struct lkvm_err *e);
int virtio_9p_add(struct vm *vm, const char *dir, const char *tag, unsigned int flags,
		  struct lkvm_err *e);

struct virtio_console;
/* out_fd: the guest's output; log_fd: a copy for --console-log, or -1 */
int virtio_console_add(struct vm *vm, int out_fd, int log_fd, struct virtio_console **out,
		       struct lkvm_err *e);
/* Host input for the guest; returns the bytes taken (0 when it has no buffers). */
size_t virtio_console_input(struct virtio_console *con, const uint8_t *buf, size_t len);
void virtio_console_resize(struct virtio_console *con, uint16_t cols, uint16_t rows);

#endif
