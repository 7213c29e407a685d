/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_FUZZ_COMMON_H
#define LKVM_FUZZ_COMMON_H

/*
 * What the libFuzzer targets share: a cursor over the input, a per-process
 * scratch directory, and a VM without KVM (fake guest RAM, an irq line
 * that counts edges, a fake vCPU of a chosen byte order) for the virtio
 * targets. No state survives from one input to the next but the scratch
 * directory's path and an fd on /dev/null.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "vcpu.h"
#include "vm.h"

/* An lkvm invariant failed: a crash libFuzzer records, with its input. */
#define FZ_ASSERT(cond)                  \
	do {                             \
		if (!(cond))             \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Reads the input front to back; past its end every read is 0. */
struct fz_in {
	const uint8_t *p;
	size_t n;
};

uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
uint32_t fz_u32(struct fz_in *in);
uint64_t fz_u64(struct fz_in *in);
/* Up to len bytes (fewer at the end); returns how many. */
size_t fz_bytes(struct fz_in *in, void *dst, size_t len);

/*
 * A directory of this process (made at the first call, removed at exit) in
 * $TMPDIR, else /dev/shm, else /tmp; and an fd on /dev/null.
 */
const char *fz_scratch(void);
int fz_devnull(void);
/* Removes everything below dir (not dir itself). */
void fz_empty_dir(const char *dir);
/* Writes len bytes to path (created or truncated); -1 on error. */
int fz_write_file(const char *path, const void *buf, size_t len);

/*
 * The 9p share: scratch/p9/share, emptied and refilled with a few files,
 * a directory and symlinks (one pointing outside), next to
 * scratch/p9/outside/secret. Returns the share's path.
 */
const char *fz_share_reset(void);
/* Traps if anything beside the share changed: a 9p escape. */
void fz_share_check(void);

/*
 * The lowest free fd now; fz_fd_check(mark) at the end of the input traps
 * if something opened since is still open (it holds that number or one below).
 */
int fz_fd_mark(void);
void fz_fd_check(int mark);

/* How many fds this process has open (one of them the count's own). */
int fz_nr_fds(void);

/* Touches every byte of [p, p + len): ASan reports one outside its buffer. */
void fz_touch(const void *p, size_t len);

#define FZ_RAM_GPA 0x40000000ULL

/* A VM as the virtio code sees it, minus KVM. */
struct fz_vm {
	struct vm vm;
	struct vm_config cfg;
	struct arch_ops arch;
	struct vcpu vcpu;  /* the vCPU that makes every access */
	int vcpu_order;    /* GUEST_LE / GUEST_BE / 0 (unknown) */
	uint8_t *ram;      /* exactly ram_size bytes: ASan guards its ends */
	uint64_t ram_size;
	uint32_t edges[VM_MAX_IRQ_LINES]; /* rising edges seen per line */
	int level[VM_MAX_IRQ_LINES];
};

/* Zeroed RAM of ram_size at FZ_RAM_GPA; false if out of memory. */
bool fz_vm_init(struct fz_vm *f, uint64_t ram_size, enum virtio_transport t,
		enum virtio_endian_offer offer);
/* Stops and destroys the devices, frees the RAM. */
void fz_vm_exit(struct fz_vm *f);
/* The vCPU-order hook for a virtio_mmio, answering f->vcpu_order. */
int fz_vcpu_endian(struct vcpu *vcpu);

#endif
