// SPDX-License-Identifier: GPL-2.0
/*
 * Hosts without a backend yet (x86_64): lkvm still builds there for its
 * unit tests and input checks, and `lkvm run` says plainly it cannot run.
 */
#include <sys/utsname.h>

#include "arch.h"
#include "vm.h"

static int none_vm_type(struct vm *vm, unsigned long *type, struct lkvm_err *e)
{
	struct utsname u;

	(void)vm;
	(void)type;
	if (uname(&u) < 0)
		u.machine[0] = 0;
	return err_set(e, "lkvm has no KVM backend for this host (%s): it runs guests on arm64 hosts",
		       u.machine);
}

const struct arch_ops arch_host_ops = {
	.name = "none",
	.ram_base = 0x80000000ULL,
	.uart_base = 0x01000000ULL,
	.virtio_mmio_base = 0x0a000000ULL,
	.virtio_mmio_slots = 32,
	.vm_type = none_vm_type,
};
