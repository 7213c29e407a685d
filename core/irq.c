// SPDX-License-Identifier: GPL-2.0
#include "arch.h"
#include "vm.h"

int irq_alloc(struct vm *vm, uint32_t *irq, struct lkvm_err *e)
{
	if (vm->nr_irqs >= VM_MAX_IRQ_LINES)
		return err_set(e, "out of interrupt lines (%d)", VM_MAX_IRQ_LINES);
	*irq = vm->nr_irqs++;
	return 0;
}

void irq_set_level(struct vm *vm, uint32_t irq, int level)
{
	if (vm->arch->irq_line(vm, irq, level))
		log_err(&vm->log, "cannot set irq %u to %d", irq, level);
}

void irq_pulse(struct vm *vm, uint32_t irq)
{
	irq_set_level(vm, irq, 1);
	irq_set_level(vm, irq, 0);
}

int irq_bind_eventfd(struct vm *vm, uint32_t irq, int fd)
{
	if (!vm->arch->irqfd || vm->vm_fd < 0)
		return -1;
	return vm->arch->irqfd(vm, irq, fd);
}
