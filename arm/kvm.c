// SPDX-License-Identifier: GPL-2.0
/* arm64 KVM host backend: vCPUs (AArch64 or AArch32 EL1), vGIC, boot. */
#include <errno.h>
#include <libfdt.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch.h"
#include "dt.h"
#include "file.h"
#include "layout.h"
#include "loader.h"
#include "vcpu.h"
#include "vm.h"

#define ARM64_CORE_REG(x) \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))
#define ARM_MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)
#define ARM_SCTLR_EL1 ARM64_SYS_REG(3, 0, 1, 0, 0)
#define SCTLR_EL1_EE (1ULL << 25)  /* EL1 data accesses are big-endian */
#define SCTLR_EL1_E0E (1ULL << 24) /* EL0 data accesses are big-endian */
#define ARM_AA32_E_BIT (1ULL << 9) /* CPSR.E: AArch32 data big-endian */
#define ARM_AA32_MODE_SVC 0x13
#define ARM_AA32_A_BIT 0x100
#define ARM_AA32_I_BIT 0x80
#define ARM_AA32_F_BIT 0x40
/* KVM's default IPA size when the VM type does not ask for one */
#define ARM_DEFAULT_IPA_BITS 40

struct arm_vm {
	int gic_fd;
	int its_fd; /* -1: none */
	struct kvm_vcpu_init target;
	bool have_target;
	_Atomic unsigned int nisv_logged; /* undecodable accesses logged (capped) */
};

#define ARM_NISV_LOGGED_MAX 10

static struct arm_vm *arm_vm(struct vm *vm)
{
	return vm->arch_priv;
}

static int arm_vm_type(struct vm *vm, unsigned long *type, struct lkvm_err *e)
{
	uint64_t end = vm->ram_base + vm->ram_size;
	unsigned int bits = ARM_DEFAULT_IPA_BITS;
	int max;

	while (bits < 52 && end > (1ULL << bits))
		bits++;
	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
	if (max <= 0)
		max = ARM_DEFAULT_IPA_BITS;
	if (end > (1ULL << max))
		return err_set(e, "-m %llu MiB is too much RAM: this host's KVM addresses %d bits of guest memory (up to %llu MiB at 0x%llx)",
			       (unsigned long long)(vm->ram_size >> 20), max,
			       (unsigned long long)(((1ULL << max) - vm->ram_base) >> 20),
			       (unsigned long long)vm->ram_base);
	*type = bits > ARM_DEFAULT_IPA_BITS ? KVM_VM_TYPE_ARM_IPA_SIZE(bits) : 0;
	return 0;
}

static int gic_set_addr(int fd, uint64_t type, uint64_t addr)
{
	struct kvm_device_attr attr = {
		.group = KVM_DEV_ARM_VGIC_GRP_ADDR,
		.attr = type,
		.addr = (uintptr_t)&addr,
	};

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &attr);
}

static int arm_vm_init(struct vm *vm, struct lkvm_err *e)
{
	const struct vm_config *cfg = vm->cfg;
	struct kvm_create_device cd = { 0 };
	struct arm_vm *a;

	a = calloc(1, sizeof(*a));
	if (!a)
		return err_set(e, "out of memory");
	a->gic_fd = -1;
	a->its_fd = -1;
	vm->arch_priv = a;

	if (!vm_check_extension(vm, KVM_CAP_ARM_PSCI_0_2))
		return err_set(e, "this host's KVM has no PSCI 0.2 (KVM_CAP_ARM_PSCI_0_2)");
	if (cfg->aarch32 && !vm_check_extension(vm, KVM_CAP_ARM_EL1_32BIT))
		return err_set(e, "--aarch32: this host's CPUs cannot run 32-bit guests (KVM_CAP_ARM_EL1_32BIT is absent)");
	if (cfg->pmu && !vm_check_extension(vm, KVM_CAP_ARM_PMU_V3))
		return err_set(e, "--pmu: this host's KVM has no PMUv3 for guests (KVM_CAP_ARM_PMU_V3 is absent)");

	/*
	 * A guest access to MMIO that KVM cannot decode (no valid syndrome:
	 * load/store pair, writeback) would otherwise fail KVM_RUN with ENOSYS
	 * and stop lkvm: one hostile instruction must not. Ask for the exit
	 * and answer it with a data abort in the guest, as hardware would.
	 */
	if (vm_check_extension(vm, KVM_CAP_ARM_NISV_TO_USER) &&
	    vm_check_extension(vm, KVM_CAP_ARM_INJECT_EXT_DABT)) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_ARM_NISV_TO_USER };

		if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
			log_warn(&vm->log, "cannot enable KVM_CAP_ARM_NISV_TO_USER: %s",
				 strerror(errno));
	}

	/* the vGIC exists before the vCPUs; it is initialised after them */
	if (cfg->irqchip == IRQCHIP_GICV3) {
		if (cfg->nr_cpus > ARM_GICV3_MAX_CPUS)
			return err_set(e, "-c %u: the GICv3 layout has room for %llu vCPUs",
				       cfg->nr_cpus, (unsigned long long)ARM_GICV3_MAX_CPUS);
		cd.type = KVM_DEV_TYPE_ARM_VGIC_V3;
	} else {
		if (cfg->nr_cpus > ARM_GICV2_MAX_CPUS)
			return err_set(e, "-c %u: a GICv2 serves at most %d vCPUs", cfg->nr_cpus,
				       ARM_GICV2_MAX_CPUS);
		cd.type = KVM_DEV_TYPE_ARM_VGIC_V2;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &cd) < 0)
		return err_errno(e, errno, "this host's KVM cannot create a %s (try --irqchip %s)",
				 cfg->irqchip == IRQCHIP_GICV3 ? "GICv3" : "GICv2",
				 cfg->irqchip == IRQCHIP_GICV3 ? "gicv2" : "gicv3");
	a->gic_fd = cd.fd;
	if (cfg->irqchip == IRQCHIP_GICV3) {
		if (gic_set_addr(a->gic_fd, KVM_VGIC_V3_ADDR_TYPE_DIST, ARM_GIC_DIST_BASE) < 0 ||
		    gic_set_addr(a->gic_fd, KVM_VGIC_V3_ADDR_TYPE_REDIST, ARM_GIC_REDIST_BASE) < 0)
			return err_errno(e, errno, "cannot place the GICv3");
	} else {
		if (gic_set_addr(a->gic_fd, KVM_VGIC_V2_ADDR_TYPE_DIST, ARM_GIC_DIST_BASE) < 0 ||
		    gic_set_addr(a->gic_fd, KVM_VGIC_V2_ADDR_TYPE_CPU, ARM_GIC_CPU_BASE) < 0)
			return err_errno(e, errno, "cannot place the GICv2");
	}
	if (cfg->its) {
		struct kvm_create_device its = { .type = KVM_DEV_TYPE_ARM_VGIC_ITS };

		/* before any file is read: an ITS the host lacks is said first */
		if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &its) < 0)
			return err_errno(e, errno, "--irqchip gicv3-its: this host's KVM cannot create an ITS");
		a->its_fd = its.fd;
		if (gic_set_addr(a->its_fd, KVM_VGIC_ITS_ADDR_TYPE, ARM_GIC_ITS_BASE) < 0)
			return err_errno(e, errno, "cannot place the ITS");
	}
	return 0;
}

static int arm_vcpu_init(struct vcpu *vcpu, struct lkvm_err *e)
{
	struct vm *vm = vcpu->vm;
	struct arm_vm *a = arm_vm(vm);
	struct kvm_vcpu_init init;
	struct kvm_one_reg reg;

	if (!a->have_target) {
		if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &a->target) < 0)
			return err_errno(e, errno, "KVM_ARM_PREFERRED_TARGET");
		a->have_target = true;
	}
	init = a->target;
	memset(init.features, 0, sizeof(init.features));
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	/* secondaries wait for PSCI CPU_ON, which KVM handles */
	if (vcpu->id > 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (vm->cfg->aarch32)
		init.features[0] |= 1u << KVM_ARM_VCPU_EL1_32BIT;
	if (vm->cfg->pmu)
		init.features[0] |= 1u << KVM_ARM_VCPU_PMU_V3;
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return err_errno(e, errno, "KVM_ARM_VCPU_INIT of vCPU %u", vcpu->id);

	reg.id = ARM_MPIDR_EL1;
	reg.addr = (uintptr_t)&vcpu->mpidr;
	if (ioctl(vcpu->fd, KVM_GET_ONE_REG, &reg) < 0)
		return err_errno(e, errno, "cannot read MPIDR of vCPU %u", vcpu->id);
	return 0;
}

/* Documentation/virt/kvm/devices/vcpu.rst: PMUv3 IRQ, then INIT, after the vGIC */
static int arm_pmu_init(struct vcpu *vcpu, struct lkvm_err *e)
{
	int irq = 16 + ARM_PMU_PPI; /* an INTID */
	struct kvm_device_attr attr = {
		.group = KVM_ARM_VCPU_PMU_V3_CTRL,
		.attr = KVM_ARM_VCPU_PMU_V3_IRQ,
		.addr = (uintptr_t)&irq,
	};

	if (ioctl(vcpu->fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return err_errno(e, errno, "--pmu: cannot route the PMU interrupt of vCPU %u",
				 vcpu->id);
	attr.attr = KVM_ARM_VCPU_PMU_V3_INIT;
	attr.addr = 0;
	if (ioctl(vcpu->fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return err_errno(e, errno, "--pmu: cannot initialise the PMU of vCPU %u", vcpu->id);
	return 0;
}

static int arm_vm_finalize(struct vm *vm, struct lkvm_err *e)
{
	struct arm_vm *a = arm_vm(vm);
	uint32_t nr_irqs = 32 + VM_MAX_IRQ_LINES; /* SGIs+PPIs, then our SPIs */
	struct kvm_device_attr attr = {
		.group = KVM_DEV_ARM_VGIC_GRP_NR_IRQS,
		.addr = (uintptr_t)&nr_irqs,
	};

	if (ioctl(a->gic_fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return err_errno(e, errno, "cannot size the vGIC to %u interrupts", nr_irqs);
	attr = (struct kvm_device_attr){
		.group = KVM_DEV_ARM_VGIC_GRP_CTRL,
		.attr = KVM_DEV_ARM_VGIC_CTRL_INIT,
	};
	if (ioctl(a->gic_fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return err_errno(e, errno, "cannot initialise the vGIC");
	/* the ITS and the PMU's interrupt exist only once the vGIC does */
	if (a->its_fd >= 0 && ioctl(a->its_fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return err_errno(e, errno, "cannot initialise the ITS");
	if (vm->cfg->pmu) {
		unsigned int i;

		for (i = 0; i < vm->nr_vcpus; i++)
			if (arm_pmu_init(vm->vcpus[i], e))
				return -1;
	}
	return 0;
}

static int set_core_reg(struct vcpu *vcpu, uint64_t id, uint64_t val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)&val };

	return ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg);
}

static int arm_boot_regs(struct vcpu *vcpu, const struct boot_layout *bl, struct lkvm_err *e)
{
	int r;

	if (vcpu->vm->cfg->aarch32) {
		/* arch/arm/Booting: r0 = 0, r1 = ~0 (machine type: use the DT), r2 = DTB */
		r = set_core_reg(vcpu, ARM64_CORE_REG(regs.regs[0]), 0) ||
		    set_core_reg(vcpu, ARM64_CORE_REG(regs.regs[1]), 0xffffffff) ||
		    set_core_reg(vcpu, ARM64_CORE_REG(regs.regs[2]), bl->dtb_addr) ||
		    set_core_reg(vcpu, ARM64_CORE_REG(regs.pstate),
				 ARM_AA32_MODE_SVC | ARM_AA32_A_BIT | ARM_AA32_I_BIT | ARM_AA32_F_BIT) ||
		    set_core_reg(vcpu, ARM64_CORE_REG(regs.pc), bl->entry);
	} else {
		/* Documentation/arm64/booting.rst: x0 = DTB, x1-x3 = 0, EL1h, DAIF masked */
		r = set_core_reg(vcpu, ARM64_CORE_REG(regs.regs[0]), bl->dtb_addr) ||
		    set_core_reg(vcpu, ARM64_CORE_REG(regs.regs[1]), 0) ||
		    set_core_reg(vcpu, ARM64_CORE_REG(regs.regs[2]), 0) ||
		    set_core_reg(vcpu, ARM64_CORE_REG(regs.regs[3]), 0) ||
		    set_core_reg(vcpu, ARM64_CORE_REG(regs.pstate),
				 PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT) ||
		    set_core_reg(vcpu, ARM64_CORE_REG(regs.pc), bl->entry);
	}
	if (r)
		return err_errno(e, errno, "cannot set the boot registers of vCPU 0");
	return 0;
}

static int arm_boot(struct vm *vm, const struct boot_files *bf, struct lkvm_err *e)
{
	const struct vm_config *cfg = vm->cfg;
	struct boot_layout bl;
	struct arm_dt_desc d;
	uint64_t mpidr[VM_MAX_VCPUS];
	unsigned int i;
	void *dtb;
	int r;

	if (boot_layout_plan(vm->ram_base, vm->ram_size, bf->kernel ? &bf->ki : NULL,
			     bf->kernel_len, bf->initrd_len, &bl, e))
		return -1;

	for (i = 0; i < vm->nr_vcpus; i++)
		mpidr[i] = vm->vcpus[i]->mpidr;
	d = (struct arm_dt_desc){
		.ram_base = vm->ram_base,
		.ram_size = vm->ram_size,
		.nr_cpus = vm->nr_vcpus,
		.mpidr = mpidr,
		.aarch32 = cfg->aarch32,
		.gic = cfg->irqchip,
		.gic_dist_base = ARM_GIC_DIST_BASE,
		.gic_dist_size = ARM_GIC_DIST_SIZE,
		.gic_redist_base = ARM_GIC_REDIST_BASE,
		.gic_redist_size = ARM_GIC_REDIST_STRIDE * vm->nr_vcpus,
		.gic_cpu_base = ARM_GIC_CPU_BASE,
		.gic_cpu_size = ARM_GIC_CPU_SIZE,
		.its_base = ARM_GIC_ITS_BASE,
		.its_size = cfg->its ? ARM_GIC_ITS_SIZE : 0,
		.pmu = cfg->pmu,
		.pmu_ppi = ARM_PMU_PPI,
		.bus = &vm->bus,
		.bootargs = cfg->cmdline,
		.initrd_start = bf->initrd ? bl.initrd_addr : 0,
		.initrd_end = bf->initrd ? bl.initrd_addr + bf->initrd_len : 0,
	};
	dtb = guest_mem_ptr(&vm->mem, bl.dtb_addr, BOOT_DTB_MAX);
	if (!dtb)
		return err_set(e, "no guest RAM for the DTB at 0x%llx", (unsigned long long)bl.dtb_addr);
	if (arm_dt_build(&d, dtb, BOOT_DTB_MAX, e))
		return -1;
	if (cfg->dump_dtb)
		return file_write_atomic(cfg->dump_dtb, dtb, fdt_totalsize(dtb), e);

	if (bf->kernel && !guest_mem_write(&vm->mem, bl.kernel_addr, bf->kernel, bf->kernel_len))
		return err_set(e, "kernel does not fit in guest RAM");
	if (bf->initrd && !guest_mem_write(&vm->mem, bl.initrd_addr, bf->initrd, bf->initrd_len))
		return err_set(e, "initrd does not fit in guest RAM");
	log_debug(&vm->log, "kernel at 0x%llx (%zu bytes), initrd at 0x%llx (%zu bytes), dtb at 0x%llx (%u bytes)",
		  (unsigned long long)bl.kernel_addr, bf->kernel_len,
		  (unsigned long long)bl.initrd_addr, bf->initrd_len,
		  (unsigned long long)bl.dtb_addr, fdt_totalsize(dtb));
	r = arm_boot_regs(vm->vcpus[0], &bl, e);
	return r;
}

static int arm_irq_line(struct vm *vm, uint32_t irq, int level)
{
	struct kvm_irq_level il = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (irq + 32),
		.level = level,
	};

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &il) < 0 ? -1 : 0;
}

/* KVM_EXIT_ARM_NISV: the guest gets an external data abort; lkvm runs on. */
static bool arm_vcpu_exit(struct vcpu *vcpu)
{
	struct arm_vm *a = arm_vm(vcpu->vm);
	struct kvm_vcpu_events ev;
	unsigned int n;

	if (vcpu->run->exit_reason != KVM_EXIT_ARM_NISV)
		return false;
	n = atomic_fetch_add(&a->nisv_logged, 1);
	if (n < ARM_NISV_LOGGED_MAX)
		log_err(&vcpu->vm->log, "vCPU %u: guest access at 0x%llx that KVM cannot decode (no syndrome); data abort injected",
			vcpu->id, (unsigned long long)vcpu->run->arm_nisv.fault_ipa);
	else if (n == ARM_NISV_LOGGED_MAX)
		log_err(&vcpu->vm->log, "more undecodable guest accesses; no longer logged");
	memset(&ev, 0, sizeof(ev));
	ev.exception.ext_dabt_pending = 1;
	if (ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
		log_err(&vcpu->vm->log, "vCPU %u: cannot inject a data abort: %s", vcpu->id,
			strerror(errno));
		return false;
	}
	return true;
}

/* The vGIC's default routing maps GSI n to SPI n (INTID 32 + n). */
static int arm_irqfd(struct vm *vm, uint32_t irq, int fd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = irq };

	if (!vm_check_extension(vm, KVM_CAP_IRQFD))
		return -1;
	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -1 : 0;
}

static int get_reg(struct vcpu *vcpu, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)val };

	return ioctl(vcpu->fd, KVM_GET_ONE_REG, &reg);
}

/*
 * The byte order of the context that made this exit: AArch32 (PSTATE.nRW)
 * by CPSR.E; AArch64 by SCTLR_EL1.EE at EL1 or SCTLR_EL1.E0E at EL0.
 */
static int arm_vcpu_endian(struct vcpu *vcpu)
{
	uint64_t pstate, sctlr;

	if (get_reg(vcpu, ARM64_CORE_REG(regs.pstate), &pstate) < 0)
		return 0;
	if (pstate & PSR_MODE32_BIT)
		return (pstate & ARM_AA32_E_BIT) ? GUEST_BE : GUEST_LE;
	if (get_reg(vcpu, ARM_SCTLR_EL1, &sctlr) < 0)
		return 0;
	if ((pstate & PSR_MODE_MASK) == PSR_MODE_EL0t)
		return (sctlr & SCTLR_EL1_E0E) ? GUEST_BE : GUEST_LE;
	return (sctlr & SCTLR_EL1_EE) ? GUEST_BE : GUEST_LE;
}

/* lkvm debug --dump: the registers that say where a vCPU is and its byte order */
static void arm_vcpu_dump(struct vcpu *vcpu, FILE *f)
{
	uint64_t pc = 0, pstate = 0, sp = 0, sctlr = 0, x0 = 0;
	int e;

	if (get_reg(vcpu, ARM64_CORE_REG(regs.pc), &pc) < 0 ||
	    get_reg(vcpu, ARM64_CORE_REG(regs.pstate), &pstate) < 0 ||
	    get_reg(vcpu, ARM64_CORE_REG(sp_el1), &sp) < 0 ||
	    get_reg(vcpu, ARM64_CORE_REG(regs.regs[0]), &x0) < 0 ||
	    get_reg(vcpu, ARM_SCTLR_EL1, &sctlr) < 0) {
		fprintf(f, " registers unreadable: %s", strerror(errno));
		return;
	}
	e = arm_vcpu_endian(vcpu);
	fprintf(f, " pc=0x%llx pstate=0x%llx %s sp_el1=0x%llx x0=0x%llx sctlr_el1=0x%llx ee=%d e0e=%d",
		(unsigned long long)pc, (unsigned long long)pstate,
		(pstate & PSR_MODE32_BIT) ? "aarch32" : "aarch64", (unsigned long long)sp,
		(unsigned long long)x0, (unsigned long long)sctlr, !!(sctlr & SCTLR_EL1_EE),
		!!(sctlr & SCTLR_EL1_E0E));
	if (pstate & PSR_MODE32_BIT)
		fprintf(f, " cpsr.e=%d", !!(pstate & ARM_AA32_E_BIT));
	fprintf(f, " endian=%s", e == GUEST_BE ? "big" : e == GUEST_LE ? "little" : "unknown");
}

static void arm_vm_exit(struct vm *vm)
{
	struct arm_vm *a = arm_vm(vm);

	if (!a)
		return;
	if (a->its_fd >= 0)
		close(a->its_fd);
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	free(a);
	vm->arch_priv = NULL;
}

const struct arch_ops arch_host_ops = {
	.name = "arm64",
	.ram_base = ARM_RAM_BASE,
	.uart_base = ARM_UART_BASE,
	.virtio_mmio_base = ARM_VIRTIO_MMIO_BASE,
	.virtio_mmio_slots = ARM_VIRTIO_MMIO_SLOTS,
	.vm_type = arm_vm_type,
	.vm_init = arm_vm_init,
	.vcpu_init = arm_vcpu_init,
	.vm_finalize = arm_vm_finalize,
	.boot = arm_boot,
	.irq_line = arm_irq_line,
	.irqfd = arm_irqfd,
	.vcpu_exit = arm_vcpu_exit,
	.vcpu_endian = arm_vcpu_endian,
	.vcpu_dump = arm_vcpu_dump,
	.vm_exit = arm_vm_exit,
};
