/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_VCPU_H
#define LKVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct vm;

/* Data byte order a vCPU runs in right now; 0 = could not tell. */
enum guest_endian {
	GUEST_LE = 1,
	GUEST_BE = 2,
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	uint64_t mpidr; /* arm: affinity for the DT cpu node */
	/* exits by reason, for lkvm stat (written by this vCPU's thread only) */
	_Atomic uint64_t nr_exits, nr_mmio_exits;
};

int vcpu_create(struct vm *vm, unsigned int id, struct lkvm_err *e);
/* Starts one thread per vCPU; signals are blocked in them. */
int vcpus_start(struct vm *vm, struct lkvm_err *e);
/* Kicks every vCPU out of KVM_RUN and joins its thread. */
void vcpus_stop(struct vm *vm);
void vcpus_destroy(struct vm *vm);
/* Parks every vCPU outside KVM_RUN (returns when all are parked) / lets them go. */
void vcpus_pause(struct vm *vm);
void vcpus_resume(struct vm *vm);
bool vcpus_paused(struct vm *vm);
/*
 * Samples the byte order of the vCPU's current context. Call it from the
 * vCPU's own thread while it handles an exit (its registers are stable).
 */
enum guest_endian vcpu_guest_endian(struct vcpu *vcpu);

#endif
