// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel image loaders (arm/loader.c, core/file.c): arm64 Image and
 * arm zImage headers of either byte order, gzip, flat binaries, and the
 * RAM layout planned from what the header claims. The input is
 *
 *   flags[1] ram[4] base[2] initrd_len[4]  kernel file (the rest)
 *
 * flags: bit 0 the file is named *.flat, bit 1 --aarch32, bits 2-3 the
 * most the loader may read or inflate (4 << n MiB). ram: guest RAM in
 * pages; base: 4 KiB pages above 2 GiB where it starts.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "loader.h"

#define LF_RAM_BASE 0x80000000ULL

/* What a successful probe promises about the header it read. */
static void lf_check_probe(const struct kernel_info *ki, size_t len)
{
	switch (ki->format) {
	case KERNEL_ARM64_IMAGE:
		FZ_ASSERT(ki->text_offset % SZ_4K == 0 && ki->text_offset < SZ_2M);
		FZ_ASSERT(ki->image_size >= len && ki->image_size <= SZ_1G);
		break;
	case KERNEL_ARM_ZIMAGE:
		FZ_ASSERT(ki->image_size == len);
		break;
	default:
		__builtin_trap();
	}
}

/* The plan puts everything inside RAM, without overlaps. */
static void lf_check_plan(const struct boot_layout *bl, uint64_t base, uint64_t ram,
			  const struct kernel_info *ki, size_t klen, uint64_t ilen)
{
	uint64_t kend = bl->kernel_addr + MAX((uint64_t)klen, ki->image_size);

	FZ_ASSERT(bl->kernel_addr >= base && bl->entry == bl->kernel_addr);
	FZ_ASSERT(kend >= bl->kernel_addr && kend <= bl->dtb_addr);
	FZ_ASSERT(bl->dtb_addr >= base && bl->dtb_addr % SZ_2M == 0);
	FZ_ASSERT(bl->dtb_addr + BOOT_DTB_MAX <= base + ram);
	if (!ilen) {
		FZ_ASSERT(!bl->initrd_addr);
		return;
	}
	FZ_ASSERT(bl->initrd_addr % SZ_4K == 0 && bl->initrd_addr >= kend);
	FZ_ASSERT(ilen <= bl->dtb_addr - bl->initrd_addr);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_scratch();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	uint8_t flags = fz_u8(&in);
	uint64_t ram = (uint64_t)(fz_u32(&in) % (1u << 24) + 1) << 12; /* up to 64 GiB */
	uint64_t base = LF_RAM_BASE + ((uint64_t)fz_u16(&in) << 12);
	uint64_t ilen = fz_u32(&in), max = (4ULL << ((flags >> 2) & 3)) << 20;
	struct kernel_info ki;
	struct boot_files bf;
	struct boot_layout bl;
	struct lkvm_err e;
	char path[256];
	int fds = fz_fd_mark();

	/* the header parser on its own, on the bytes as they are */
	if (!kernel_probe(in.p, in.n, &ki, &e))
		lf_check_probe(&ki, in.n);
	snprintf(path, sizeof(path), "%s/kernel%s", fz_scratch(), flags & 1 ? ".flat" : "");
	if (fz_write_file(path, in.p, in.n))
		__builtin_trap();
	/* what lkvm run does: read (gunzip), probe, check the mode, plan */
	if (boot_files_load(&bf, path, NULL, max, &e) == 0) {
		FZ_ASSERT(bf.kernel_len <= max);
		if (bf.ki.format != KERNEL_FLAT)
			lf_check_probe(&bf.ki, bf.kernel_len);
		if (boot_files_check_mode(&bf, flags & 2, &e) == 0 &&
		    boot_layout_plan(base, ram, &bf.ki, bf.kernel_len, ilen, &bl, &e) == 0)
			lf_check_plan(&bl, base, ram, &bf.ki, bf.kernel_len, ilen);
	}
	boot_files_free(&bf);
	fz_fd_check(fds);
	return 0;
}
