// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch.h"
#include "vm.h"

int vm_check_extension(const struct vm *vm, long cap)
{
	int fd = vm->vm_fd >= 0 ? vm->vm_fd : vm->kvm_fd;
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, const struct arch_ops *arch,
	      struct lkvm_err *e)
{
	struct kvm_userspace_memory_region region;
	unsigned long type = 0;
	int r;

	vm->cfg = cfg;
	vm->arch = arch;
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->vm_fd = -1;
	vm->stop_efd = -1;
	vm->ram = MAP_FAILED;
	vm->ram_base = arch->ram_base;
	vm->ram_size = cfg->ram_size;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return err_errno(e, errno, "cannot open /dev/kvm (is KVM enabled on this host, and may you use it?)");
	r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION)
		return err_set(e, "/dev/kvm speaks KVM API %d, lkvm needs %d", r, KVM_API_VERSION);
	if (arch->vm_type(vm, &type, e))
		return -1;
	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, type);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0)
		return err_errno(e, errno, "KVM_CREATE_VM");
	if (!vm_check_extension(vm, KVM_CAP_IMMEDIATE_EXIT))
		return err_set(e, "this host's KVM lacks KVM_CAP_IMMEDIATE_EXIT (Linux 4.11+ needed)");
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run))
		return err_errno(e, errno, "KVM_GET_VCPU_MMAP_SIZE");

	/*
	 * NORESERVE: -m is a ceiling, pages come as the guest touches them.
	 * 2 MiB aligned (Linux 6.1 does not align it for us): each touch then
	 * faults in a transparent huge page and stage 2 maps it as one block,
	 * not 512 faults of 4 KiB, which is most of the kernel copy at boot.
	 */
	{
		size_t slack = VM_RAM_ALIGN;
		uint8_t *m = mmap(NULL, vm->ram_size + slack, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		uintptr_t start;

		if (m == MAP_FAILED)
			return err_errno(e, errno, "cannot map %llu MiB of guest RAM",
					 (unsigned long long)(vm->ram_size >> 20));
		start = ((uintptr_t)m + slack - 1) & ~(uintptr_t)(slack - 1);
		if (start > (uintptr_t)m)
			munmap(m, start - (uintptr_t)m);
		munmap((uint8_t *)start + vm->ram_size, (uintptr_t)m + slack - start);
		vm->ram = (uint8_t *)start;
	}
	/*
	 * No MADV_HUGEPAGE: with THP "always" the aligned mapping gets huge
	 * pages when free ones exist, while madvise'd faults may stall in
	 * direct compaction (defrag=madvise, the default): 2-4x slower boots
	 * measured on a fragmented host.
	 */
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = vm->ram_base,
		.memory_size = vm->ram_size,
		.userspace_addr = (uintptr_t)vm->ram,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return err_errno(e, errno, "KVM_SET_USER_MEMORY_REGION (%llu MiB at 0x%llx)",
				 (unsigned long long)(vm->ram_size >> 20),
				 (unsigned long long)vm->ram_base);
	if (guest_mem_add(&vm->mem, vm->ram_base, vm->ram_size, vm->ram, e))
		return -1;

	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return err_errno(e, errno, "eventfd");
	return arch->vm_init(vm, e);
}

void vm_destroy(struct vm *vm)
{
	if (vm->arch && vm->arch->vm_exit)
		vm->arch->vm_exit(vm);
	if (vm->ram != MAP_FAILED && vm->ram)
		munmap(vm->ram, vm->ram_size);
	vm->ram = MAP_FAILED;
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->stop_efd = vm->vm_fd = vm->kvm_fd = -1;
}

void vm_request_stop(struct vm *vm, enum vm_stop why)
{
	int expected = VM_RUNNING;
	uint64_t one = 1;

	if (atomic_compare_exchange_strong(&vm->stop, &expected, (int)why) && vm->stop_efd >= 0) {
		if (write(vm->stop_efd, &one, sizeof(one)) < 0) {
			/* counter saturated: the main loop is awake anyway */
		}
	}
}

enum vm_stop vm_stopped(const struct vm *vm)
{
	return (enum vm_stop)atomic_load(&vm->stop);
}

void vm_add_device(struct vm *vm, struct vm_device *dev)
{
	dev->next = vm->devices;
	vm->devices = dev;
}

void vm_stop_devices(struct vm *vm)
{
	struct vm_device *d;

	for (d = vm->devices; d; d = d->next)
		if (d->stop)
			d->stop(d);
}

void vm_destroy_devices(struct vm *vm)
{
	while (vm->devices) {
		struct vm_device *d = vm->devices;

		vm->devices = d->next;
		if (d->destroy)
			d->destroy(d);
	}
}

void vm_dump_devices(struct vm *vm, FILE *f)
{
	struct vm_device *d;

	for (d = vm->devices; d; d = d->next)
		if (d->dump)
			d->dump(d, f);
}

void vm_ready_devices(struct vm *vm)
{
	struct vm_device *d;

	for (d = vm->devices; d; d = d->next)
		if (d->ready)
			d->ready(d);
}

void vm_stats_devices(struct vm *vm)
{
	struct vm_device *d;

	for (d = vm->devices; d; d = d->next)
		if (d->stats)
			d->stats(d, &vm->log);
}

int vm_ioeventfd_add(struct vm *vm, uint64_t addr, unsigned int len, uint64_t datamatch, int fd)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	if (vm->vm_fd < 0) {
		errno = ENODEV;
		return -1;
	}
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io);
}
