/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_TEST_VIRTIO_RIG_H
#define LKVM_TEST_VIRTIO_RIG_H

/*
 * A rig for testing one virtio device model through the real virtio-mmio
 * transport, without KVM (docs/new-device.md; tests/unit/test_virtio_rng.c
 * is the template):
 *
 * - vrig: a hand-built VM with fake guest RAM (fake_driver.h), an arch that
 *   counts rising edges on irq lines, and a fake vCPU whose byte order the test sets
 *   (vrig_vcpu_order), so "the vCPU that reset the device" can be BE or LE;
 * - vrig_rd/vrig_wr: 32-bit register accesses through the MMIO bus, as a vCPU
 *   makes them (LE on the bus, 4.2.2);
 * - vdrv: a fake driver that brings a device up the way Linux does (3.1.1),
 *   legacy (version 1, one contiguous ring at QueuePFN) or modern (version 2),
 *   with its rings written in the byte order it chooses, and submits chains.
 */
#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "fake_driver.h"
#include "virtio_devs.h"
#include "vm.h"

struct vrig {
	struct vm vm;
	struct vm_config cfg;
	struct arch_ops arch;
	struct fake_ram ram;
	int log_pipe[2]; /* the VM's log: a guest error must be one line */
	char log[4096];
	size_t log_len;
};

/* The VM; devices then come from their own *_add(&r->vm, ...), as in run.c. */
bool vrig_init(struct vrig *r, enum virtio_transport t, enum virtio_endian_offer offer);
/* Stops the device threads, destroys the devices, frees the RAM. */
void vrig_exit(struct vrig *r);
/* The device added last, its vCPU-order hook pointed at the fake vCPU. */
struct virtio_mmio_dev *vrig_newest(struct vrig *r);
/* GUEST_LE or GUEST_BE: the byte order the fake vCPU runs in from now on. */
void vrig_vcpu_order(int guest_endian);
/* Level of the device's interrupt line. */
/* Rising edges on d's line since the last call (want: wait up to 2 s for one). */
int vrig_irq(const struct virtio_mmio_dev *d, bool want);
/* Lines the VM has logged so far (the text is in r->log). */
unsigned int vrig_log_lines(struct vrig *r);
void vrig_sleep_ms(unsigned int ms);

/* Polls cond for up to 2 s: the device works on its own thread. */
#define VRIG_WAIT_UNTIL(cond)                              \
	({                                                 \
		unsigned int vrig_wait_n_ = 0;             \
		while (!(cond) && vrig_wait_n_++ < 2000)   \
			vrig_sleep_ms(1);                  \
		(cond);                                    \
	})

uint32_t vrig_rd(struct virtio_mmio_dev *d, uint64_t off);
void vrig_wr(struct virtio_mmio_dev *d, uint64_t off, uint32_t v);
/* Device config space, len bytes at off, any width (4.2.2.2). */
void vrig_cfg_rd(struct virtio_mmio_dev *d, uint64_t off, uint8_t *out, unsigned int len);
/* The 64 feature bits the device offers. */
uint64_t vrig_dev_features(struct virtio_mmio_dev *d);

/* The fake driver. Fill e, ack, nq, num, vcpu_reset; vdrv_start does the rest. */
struct vdrv {
	enum vq_endian e;  /* the order it writes its rings in */
	uint64_t ack;      /* feature bits it acks (must be offered) */
	unsigned int nq;   /* queues it sets up */
	uint16_t num;      /* entries per queue */
	int vcpu_reset;    /* GUEST_LE/BE: the vCPU's order when it writes Status = 0 */
	struct virtio_mmio_dev *d;
	struct fake_ram *ram;
	struct fake_ring q[VIRTIO_MAX_QUEUES];
};

/* reset, ACKNOWLEDGE, DRIVER, features, (FEATURES_OK), queues, DRIVER_OK. */
bool vdrv_start(struct vdrv *dv, struct virtio_mmio_dev *d, struct fake_ram *ram);
/*
 * Makes head available on queue q, kicks, waits for its used entry and the
 * interrupt, acks the interrupt. Returns the used length, -1 on failure.
 */
int64_t vdrv_submit(struct vdrv *dv, unsigned int q, uint16_t head);

#endif
