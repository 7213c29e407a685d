// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch.h"
#include "thread.h"
#include "vcpu.h"
#include "vm.h"

/* Sent to a vCPU thread to make KVM_RUN return -EINTR. */
#define SIG_VCPU_KICK SIGUSR2

int vcpu_create(struct vm *vm, unsigned int id, struct lkvm_err *e)
{
	struct vcpu *vcpu;

	if (id >= VM_MAX_VCPUS)
		return err_set(e, "too many vCPUs (max %d)", VM_MAX_VCPUS);
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return err_set(e, "out of memory");
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->run = MAP_FAILED;
	vm->vcpus[id] = vcpu;
	vm->nr_vcpus = id + 1;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0)
		return err_errno(e, errno, "KVM_CREATE_VCPU %u", id);
	vcpu->run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED)
		return err_errno(e, errno, "mmap of vCPU %u kvm_run", id);
	return vm->arch->vcpu_init(vcpu, e);
}

static void vcpu_system_event(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		log_debug(&vm->log, "vCPU %u: guest powered off", vcpu->id);
		vm_request_stop(vm, VM_STOP_POWEROFF);
		break;
	case KVM_SYSTEM_EVENT_RESET:
#ifdef KVM_SYSTEM_EVENT_RESET_FLAG_PSCI_RESET2
		/*
		 * A warm reset (PSCI SYSTEM_RESET2) is how lkvm's default
		 * reboot=panic_warm ends a panicked kernel: a crash, not a
		 * reboot (run.c adds it to the command line).
		 */
		if (vcpu->run->system_event.ndata &&
		    (vcpu->run->system_event.data[0] & KVM_SYSTEM_EVENT_RESET_FLAG_PSCI_RESET2)) {
			log_err(&vm->log, "vCPU %u: the guest kernel panicked (it asked for a warm reset)",
				vcpu->id);
			vm_request_stop(vm, VM_STOP_CRASH);
			break;
		}
#endif
		log_debug(&vm->log, "vCPU %u: guest reset", vcpu->id);
		vm_request_stop(vm, VM_STOP_RESET);
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		log_err(&vm->log, "vCPU %u: guest reported a crash", vcpu->id);
		vm_request_stop(vm, VM_STOP_CRASH);
		break;
	default:
		log_err(&vm->log, "vCPU %u: unknown system event %u", vcpu->id,
			vcpu->run->system_event.type);
		vm_request_stop(vm, VM_STOP_ERROR);
	}
}

/* Returns false when the vCPU thread must end. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;

	atomic_fetch_add_explicit(&vcpu->nr_exits, 1, memory_order_relaxed);
	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		atomic_fetch_add_explicit(&vcpu->nr_mmio_exits, 1, memory_order_relaxed);
		if (run->mmio.len > sizeof(run->mmio.data)) {
			log_err(&vm->log, "vCPU %u: MMIO access of %u bytes", vcpu->id, run->mmio.len);
			vm_request_stop(vm, VM_STOP_ERROR);
			return false;
		}
		if (!mmio_bus_access(&vm->bus, vcpu, run->mmio.phys_addr, run->mmio.data,
				     run->mmio.len, run->mmio.is_write))
			log_debug(&vm->log, "vCPU %u: %s of %u bytes at 0x%llx: no device there",
				  vcpu->id, run->mmio.is_write ? "write" : "read", run->mmio.len,
				  (unsigned long long)run->mmio.phys_addr);
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_system_event(vcpu);
		return false;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_FAIL_ENTRY:
		log_err(&vm->log, "vCPU %u: KVM entry failed, reason 0x%llx", vcpu->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		log_err(&vm->log, "vCPU %u: KVM internal error, suberror %u", vcpu->id,
			run->internal.suberror);
		break;
	default:
		if (vm->arch->vcpu_exit && vm->arch->vcpu_exit(vcpu))
			return true;
		log_err(&vm->log, "vCPU %u: unhandled KVM exit reason %u", vcpu->id,
			run->exit_reason);
		break;
	}
	vm_request_stop(vm, VM_STOP_ERROR);
	return false;
}

/*
 * lkvm pause: park here, outside KVM_RUN, until resumed or stopped. The
 * kick that got us out set immediate_exit; clear it (it is ours) unless
 * the VM is stopping, so the next KVM_RUN really runs.
 */
static bool vcpu_park_if_asked(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	bool parked = false;

	/*
	 * Fast path, every exit: nothing asked and no kick to clear. A pause
	 * request racing with this read is followed by a kick, so KVM_RUN
	 * comes straight back and the next pass takes the slow path.
	 */
	if (!atomic_load_explicit(&vm->pause_req, memory_order_relaxed) &&
	    !__atomic_load_n(&vcpu->run->immediate_exit, __ATOMIC_RELAXED))
		return false;
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->pause_req) {
		parked = true;
		vm->nr_parked++;
		pthread_cond_broadcast(&vm->pause_cond);
		while (vm->pause_req && vm_stopped(vm) == VM_RUNNING)
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
		vm->nr_parked--;
	}
	if (vm_stopped(vm) == VM_RUNNING)
		vcpu->run->immediate_exit = 0;
	pthread_mutex_unlock(&vm->pause_lock);
	return parked;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t set;

	/* the main thread takes SIGINT/TERM/HUP; here only the kick gets in */
	thread_async_signals(&set);
	sigdelset(&set, SIG_VCPU_KICK);
	pthread_sigmask(SIG_SETMASK, &set, NULL);

	while (vm_stopped(vm) == VM_RUNNING) {
		if (vcpu_park_if_asked(vcpu))
			continue;
		if (!vcpu->id && !atomic_load_explicit(&vm->first_run_ns, memory_order_relaxed)) {
			struct timespec t;

			clock_gettime(CLOCK_MONOTONIC, &t);
			atomic_store(&vm->first_run_ns, t.tv_sec * 1000000000ULL + t.tv_nsec);
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_err(&vm->log, "vCPU %u: KVM_RUN: %s", vcpu->id, strerror(errno));
			vm_request_stop(vm, VM_STOP_ERROR);
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	return NULL;
}

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpus_start(struct vm *vm, struct lkvm_err *e)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };
	unsigned int i;
	int r;

	/* no SA_RESTART: KVM_RUN must come back with EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIG_VCPU_KICK, &sa, NULL) < 0)
		return err_errno(e, errno, "sigaction");
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = vm->vcpus[i];

		r = thread_start(&vcpu->thread, vcpu_thread, vcpu);
		if (r)
			return err_errno(e, r, "cannot start vCPU %u thread", i);
		vcpu->started = true;
	}
	return 0;
}

/*
 * Under pause_lock: a vCPU clears its own immediate_exit under the same
 * lock after checking the stop flag, so a kick is never undone.
 */
static void vcpus_kick(struct vm *vm)
{
	unsigned int i;

	pthread_mutex_lock(&vm->pause_lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = vm->vcpus[i];

		if (!vcpu || !vcpu->started)
			continue;
		/*
		 * immediate_exit covers the window between the thread's checks
		 * and its entry into KVM_RUN; the signal covers a vCPU already
		 * inside it (e.g. in WFI).
		 */
		vcpu->run->immediate_exit = 1;
		pthread_kill(vcpu->thread, SIG_VCPU_KICK);
	}
	pthread_mutex_unlock(&vm->pause_lock);
}

static unsigned int vcpus_started(const struct vm *vm)
{
	unsigned int i, n = 0;

	for (i = 0; i < vm->nr_vcpus; i++)
		n += vm->vcpus[i] && vm->vcpus[i]->started;
	return n;
}

void vcpus_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_req = true;
	pthread_mutex_unlock(&vm->pause_lock);
	vcpus_kick(vm);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->nr_parked < vcpus_started(vm) && vm_stopped(vm) == VM_RUNNING) {
		struct timespec ts;

		/* a vCPU stuck in an MMIO handler is kicked again, not waited on forever */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &ts)) {
			pthread_mutex_unlock(&vm->pause_lock);
			vcpus_kick(vm);
			pthread_mutex_lock(&vm->pause_lock);
		}
	}
	pthread_mutex_unlock(&vm->pause_lock);
}

void vcpus_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_req = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

bool vcpus_paused(struct vm *vm)
{
	bool p;

	pthread_mutex_lock(&vm->pause_lock);
	p = vm->pause_req;
	pthread_mutex_unlock(&vm->pause_lock);
	return p;
}

void vcpus_stop(struct vm *vm)
{
	unsigned int i;

	vm_request_stop(vm, VM_STOP_ERROR); /* no-op when a reason is set */
	/* parked vCPUs wake up, see the stop and leave */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	vcpus_kick(vm);
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = vm->vcpus[i];

		if (!vcpu || !vcpu->started)
			continue;
		pthread_join(vcpu->thread, NULL);
		vcpu->started = false;
	}
}

void vcpus_destroy(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = vm->vcpus[i];

		if (!vcpu)
			continue;
		if (vcpu->run != MAP_FAILED)
			munmap(vcpu->run, vm->vcpu_mmap_size);
		if (vcpu->fd >= 0)
			close(vcpu->fd);
		free(vcpu);
		vm->vcpus[i] = NULL;
	}
	vm->nr_vcpus = 0;
}

enum guest_endian vcpu_guest_endian(struct vcpu *vcpu)
{
	const struct arch_ops *arch = vcpu->vm->arch;

	return arch->vcpu_endian ? (enum guest_endian)arch->vcpu_endian(vcpu) : 0;
}
