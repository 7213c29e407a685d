/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_VM_H
#define LKVM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "err.h"
#include "guest_mem.h"
#include "log.h"
#include "mmio_bus.h"

struct arch_ops;
struct vcpu;

/*
 * A device with threads or host resources. run.c stops every device (its
 * threads joined: no more guest RAM access) before RAM is unmapped.
 */
struct vm_device {
	void (*stop)(struct vm_device *dev);
	void (*destroy)(struct vm_device *dev);
	/* lkvm debug --dump: its state, a line each (optional; vCPUs paused) */
	void (*dump)(struct vm_device *dev, FILE *f);
	/* the irqchip is initialised: bind irqfds (optional) */
	void (*ready)(struct vm_device *dev);
	/* at exit, after stop: its counters, one "stats:" line (optional) */
	void (*stats)(struct vm_device *dev, const struct logger *log);
	struct vm_device *next;
};

/* Why the VM stopped; run.c maps it to lkvm's exit status. */
enum vm_stop {
	VM_RUNNING = 0,
	VM_STOP_POWEROFF,  /* PSCI SYSTEM_OFF */
	VM_STOP_RESET,     /* PSCI SYSTEM_RESET */
	VM_STOP_CRASH,     /* KVM_SYSTEM_EVENT_CRASH */
	VM_STOP_ERROR,     /* lkvm failed while running */
	VM_STOP_USER,      /* escape key */
	VM_STOP_SIGNAL,    /* SIGINT/SIGTERM/SIGHUP */
	VM_STOP_TIMEOUT,   /* --timeout ran out */
};

#define VM_MAX_VCPUS 512
/* irq lines the irqchip is sized for (arm: SPIs 0..VM_MAX_IRQ_LINES-1) */
#define VM_MAX_IRQ_LINES 96
/* guest RAM's host mapping: a transparent huge page boundary */
#define VM_RAM_ALIGN (2UL << 20)

struct vm {
	struct logger log;
	const struct vm_config *cfg;
	const struct arch_ops *arch;
	void *arch_priv;

	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;

	/* guest RAM: one anonymous mapping, registered as memory slot 0 */
	uint64_t ram_base;
	uint64_t ram_size;
	uint8_t *ram;
	struct guest_mem mem;

	struct mmio_bus bus;
	uint32_t nr_irqs; /* irq lines handed out by irq_alloc() */
	unsigned int nr_virtio; /* virtio-mmio slots handed out */
	struct vm_device *devices; /* newest first */

	struct vcpu *vcpus[VM_MAX_VCPUS];
	unsigned int nr_vcpus;

	/* lkvm pause/resume: vCPU threads park between KVM_RUNs */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	_Atomic bool pause_req; /* read without the lock on the vCPU fast path */
	unsigned int nr_parked;

	/* CLOCK_MONOTONIC ns of vCPU 0's first KVM_RUN (0: not yet) */
	_Atomic uint64_t first_run_ns;

	_Atomic int stop;    /* enum vm_stop; first writer wins */
	_Atomic int stop_signal;
	int stop_efd;        /* eventfd: wakes the main loop on stop */
};

/* Opens /dev/kvm, creates the VM and its RAM. */
int vm_create(struct vm *vm, const struct vm_config *cfg, const struct arch_ops *arch,
	      struct lkvm_err *e);
/* Unmaps RAM and closes fds; every vCPU and device thread must be joined. */
void vm_destroy(struct vm *vm);
int vm_check_extension(const struct vm *vm, long cap);
/* Records why the VM stops (the first reason wins) and wakes the main loop. */
void vm_request_stop(struct vm *vm, enum vm_stop why);
enum vm_stop vm_stopped(const struct vm *vm);

void vm_add_device(struct vm *vm, struct vm_device *dev);
void vm_stop_devices(struct vm *vm);
void vm_destroy_devices(struct vm *vm);
void vm_dump_devices(struct vm *vm, FILE *f);
void vm_ready_devices(struct vm *vm);
void vm_stats_devices(struct vm *vm);
/*
 * KVM_IOEVENTFD: a len-byte write of datamatch (in bus order, as the value
 * KVM compares: the bytes of the access read as a host integer) to addr
 * signals fd instead of exiting. -1 (errno) if KVM cannot.
 */
int vm_ioeventfd_add(struct vm *vm, uint64_t addr, unsigned int len, uint64_t datamatch, int fd);

/* Irq lines: a number per device; the arch maps it to an interrupt. */
int irq_alloc(struct vm *vm, uint32_t *irq, struct lkvm_err *e);
void irq_set_level(struct vm *vm, uint32_t irq, int level);
/* One edge on the line. */
void irq_pulse(struct vm *vm, uint32_t irq);
/* KVM_IRQFD: a write to fd is an edge on the line, with no exit. -1 if not. */
int irq_bind_eventfd(struct vm *vm, uint32_t irq, int fd);

#endif
