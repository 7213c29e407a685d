/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_LOADER_H
#define LKVM_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

enum kernel_format {
	KERNEL_ARM64_IMAGE = 1,
	KERNEL_ARM_ZIMAGE,
	KERNEL_FLAT, /* FILE.flat without a header (kvm-unit-tests): loaded as is */
};

struct kernel_info {
	enum kernel_format format;
	bool big_endian;
	bool gzipped;         /* the file was gzip; buf holds it inflated */
	uint64_t text_offset; /* arm64: offset from a 2 MiB aligned base */
	uint64_t image_size;  /* bytes the kernel needs from its load address */
};

/* The kernel and initrd, read and checked before any VM exists. */
struct boot_files {
	const char *kernel_path;
	uint8_t *kernel;
	size_t kernel_len;
	struct kernel_info ki;
	const char *initrd_path;
	uint8_t *initrd;
	size_t initrd_len;
};

/* arm64 Image header (Documentation/arm64/booting.rst), all fields LE */
#define ARM64_IMAGE_MAGIC 0x644d5241u /* "ARM\x64" at offset 56 */
#define ARM64_IMAGE_HDR_SIZE 64
/* arm zImage: LE words at 0x24 (magic), 0x28 start, 0x2c end, 0x30 endian flag */
#define ZIMAGE_MAGIC 0x016f2818u
#define ZIMAGE_HDR_SIZE 0x34

int kernel_probe(const uint8_t *buf, size_t len, struct kernel_info *ki, struct lkvm_err *e);
/* Reads kernel (gunzipping if needed) and initrd; checks formats. */
int boot_files_load(struct boot_files *bf, const char *kernel, const char *initrd,
		    uint64_t ram_size, struct lkvm_err *e);
void boot_files_free(struct boot_files *bf);
/* An AArch32 guest needs a zImage, an AArch64 one an Image; places a flat binary. */
int boot_files_check_mode(struct boot_files *bf, bool aarch32, struct lkvm_err *e);

/* Where things go in guest RAM. */
struct boot_layout {
	uint64_t kernel_addr;
	uint64_t entry;
	uint64_t initrd_addr; /* 0: none */
	uint64_t dtb_addr;
};

#define BOOT_DTB_MAX SZ_2M

int boot_layout_plan(uint64_t ram_base, uint64_t ram_size, const struct kernel_info *ki,
		     size_t kernel_len, size_t initrd_len, struct boot_layout *bl,
		     struct lkvm_err *e);

#endif
