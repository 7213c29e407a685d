/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_ARCH_H
#define LKVM_ARCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

struct vm;
struct vcpu;
struct boot_files;

/*
 * What core/ asks of the host architecture backend. core/ knows no
 * architecture: it calls these, in this order, from run.c.
 */
struct arch_ops {
	const char *name;
	uint64_t ram_base;
	uint64_t uart_base;
	uint64_t virtio_mmio_base; /* slots of VIRTIO_MMIO_REGION_SIZE from here */
	unsigned int virtio_mmio_slots;
	/* KVM_CREATE_VM type for this RAM size (arm64: IPA size) */
	int (*vm_type)(struct vm *vm, unsigned long *type, struct lkvm_err *e);
	/* after RAM is mapped: in-kernel irqchip, arch checks */
	int (*vm_init)(struct vm *vm, struct lkvm_err *e);
	int (*vcpu_init)(struct vcpu *vcpu, struct lkvm_err *e);
	/* after every vCPU and device exists: irqchip init */
	int (*vm_finalize)(struct vm *vm, struct lkvm_err *e);
	/* loads kernel/initrd, builds the DT, sets boot registers */
	int (*boot)(struct vm *vm, const struct boot_files *bf, struct lkvm_err *e);
	int (*irq_line)(struct vm *vm, uint32_t irq, int level);
	/* an exit core/ does not know: true if handled, the vCPU runs on (optional) */
	bool (*vcpu_exit)(struct vcpu *vcpu);
	/* KVM_IRQFD for an irq line (optional; -1 if it cannot) */
	int (*irqfd)(struct vm *vm, uint32_t irq, int fd);
	/* enum guest_endian of the vCPU's current context, 0 if unknown */
	int (*vcpu_endian)(struct vcpu *vcpu);
	void (*vm_exit)(struct vm *vm);
	/* lkvm debug --dump: a vCPU's registers (the vCPU is parked) */
	void (*vcpu_dump)(struct vcpu *vcpu, FILE *f);
};

/* The backend for the host lkvm was built for. */
extern const struct arch_ops arch_host_ops;

#endif
