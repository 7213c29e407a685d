// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel image formats and where they go in guest RAM. Pure code: no KVM,
 * so the unit tests run it on any host.
 */
#include <stdlib.h>
#include <string.h>

#include "endian_util.h"
#include "file.h"
#include "loader.h"

/* arm64 Image flags (Documentation/arm64/booting.rst) */
#define ARM64_IMAGE_FLAG_BE 0x1
/* kernels before 3.17 have image_size 0 and this implied text_offset */
#define ARM64_IMAGE_OLD_TEXT_OFFSET 0x80000
/* zImage: the endianness word at 0x30 as stored by an LE / BE8 kernel */
#define ZIMAGE_ENDIAN_LE 0x04030201u
#define ZIMAGE_ENDIAN_BE 0x01020304u
/* AArch32 zImage load offset from RAM base (kvmtool/QEMU use 32 KiB-ish) */
#define ZIMAGE_LOAD_OFFSET 0x8000
/* DTB and initrd go below this much RAM: AArch32 lowmem and decompressor room */
#define BOOT_HIGH_LIMIT SZ_256M

int kernel_probe(const uint8_t *buf, size_t len, struct kernel_info *ki, struct lkvm_err *e)
{
	memset(ki, 0, sizeof(*ki));
	if (len >= ARM64_IMAGE_HDR_SIZE && get_le32(buf + 56) == ARM64_IMAGE_MAGIC) {
		uint64_t flags = get_le64(buf + 24);

		ki->format = KERNEL_ARM64_IMAGE;
		ki->text_offset = get_le64(buf + 8);
		ki->image_size = get_le64(buf + 16);
		ki->big_endian = flags & ARM64_IMAGE_FLAG_BE;
		if (ki->image_size == 0) {
			ki->text_offset = ARM64_IMAGE_OLD_TEXT_OFFSET;
			ki->image_size = len;
		}
		if (ki->text_offset % SZ_4K || ki->text_offset >= SZ_2M)
			return err_set(e, "arm64 Image header has a bad text_offset 0x%llx",
				       (unsigned long long)ki->text_offset);
		if (ki->image_size < len || ki->image_size > SZ_1G)
			return err_set(e, "arm64 Image header has a bad image_size 0x%llx (file is %zu bytes)",
				       (unsigned long long)ki->image_size, len);
		return 0;
	}
	if (len >= ZIMAGE_HDR_SIZE && get_le32(buf + 0x24) == ZIMAGE_MAGIC) {
		uint32_t start = get_le32(buf + 0x28), end = get_le32(buf + 0x2c);
		uint32_t endian = get_le32(buf + 0x30);

		ki->format = KERNEL_ARM_ZIMAGE;
		/* kernels before 3.10 have no endianness word: they are LE */
		ki->big_endian = endian == ZIMAGE_ENDIAN_BE;
		if (end <= start || end - start > len)
			return err_set(e, "zImage header says %u bytes but the file has %zu",
				       end - start, len);
		ki->text_offset = ZIMAGE_LOAD_OFFSET;
		ki->image_size = len;
		return 0;
	}
	if (len >= 4 && !memcmp(buf, "\x7f" "ELF", 4))
		return err_set(e, "is an ELF file (vmlinux?): give the Image or zImage from arch/*/boot");
	return err_set(e, "is not an arm64 Image (no magic at 0x38) nor an arm zImage (no magic at 0x24)");
}

int boot_files_load(struct boot_files *bf, const char *kernel, const char *initrd,
		    uint64_t ram_size, struct lkvm_err *e)
{
	struct lkvm_err sub;

	memset(bf, 0, sizeof(*bf));
	bf->kernel_path = kernel;
	bf->initrd_path = initrd;
	if (kernel) {
		bool gz;

		if (file_read_all(kernel, "kernel", ram_size, &bf->kernel, &bf->kernel_len, &sub)) {
			/*
			 * kvm-unit-tests' runner probes with a missing kernel and
			 * looks for kvmtool's words: they ride on lkvm's line.
			 */
			if (!strncmp(sub.msg, "cannot open kernel", 18))
				return err_set(e, "%s (Fatal: Unable to open kernel %s)", sub.msg,
					       kernel);
			*e = sub;
			return -1;
		}
		gz = file_is_gzip(bf->kernel, bf->kernel_len);
		if (gz) {
			uint8_t *raw;
			size_t raw_len;

			if (file_gunzip(bf->kernel, bf->kernel_len, ram_size, &raw, &raw_len, &sub))
				return err_set(e, "kernel %s: %s", kernel, sub.msg);
			free(bf->kernel);
			bf->kernel = raw;
			bf->kernel_len = raw_len;
		}
		if (kernel_probe(bf->kernel, bf->kernel_len, &bf->ki, &sub)) {
			size_t n = strlen(kernel);

			/* no header at all: only a file that says it is flat is taken as is */
			if (n < 5 || strcmp(kernel + n - 5, ".flat"))
				return err_set(e, "kernel %s %s", kernel, sub.msg);
			memset(&bf->ki, 0, sizeof(bf->ki));
			bf->ki.format = KERNEL_FLAT;
			bf->ki.image_size = bf->kernel_len;
		}
		bf->ki.gzipped = gz;
	}
	if (initrd && file_read_all(initrd, "initrd", ram_size, &bf->initrd, &bf->initrd_len, e))
		return -1;
	return 0;
}

void boot_files_free(struct boot_files *bf)
{
	free(bf->kernel);
	free(bf->initrd);
	bf->kernel = bf->initrd = NULL;
}

/*
 * Kernel at the bottom (arm64: 2 MiB aligned base + text_offset; zImage:
 * base + 32 KiB, it decompresses upwards from there), DTB in the top 2 MiB
 * below min(RAM end, base + 256 MiB), initrd right below the DTB.
 */
int boot_layout_plan(uint64_t ram_base, uint64_t ram_size, const struct kernel_info *ki,
		     size_t kernel_len, size_t initrd_len, struct boot_layout *bl,
		     struct lkvm_err *e)
{
	uint64_t limit = ram_base + MIN(ram_size, BOOT_HIGH_LIMIT);
	uint64_t kernel_end;

	memset(bl, 0, sizeof(*bl));
	limit = ALIGN_DOWN(limit, SZ_2M);
	if (limit < ram_base + 2 * BOOT_DTB_MAX)
		return err_set(e, "guest RAM of %llu MiB is too small",
			       (unsigned long long)(ram_size >> 20));
	bl->kernel_addr = ALIGN_UP(ram_base, SZ_2M) + (ki ? ki->text_offset : 0);
	bl->entry = bl->kernel_addr;
	kernel_end = bl->kernel_addr + (ki ? MAX((uint64_t)kernel_len, ki->image_size) : 0);
	bl->dtb_addr = limit - BOOT_DTB_MAX;
	if (kernel_end > bl->dtb_addr)
		return err_set(e, "kernel (%llu MiB loaded) does not fit in %llu MiB of guest RAM",
			       (unsigned long long)((kernel_end - ram_base) >> 20),
			       (unsigned long long)(ram_size >> 20));
	if (initrd_len) {
		if (initrd_len > bl->dtb_addr - kernel_end)
			return err_set(e, "initrd (%zu KiB) does not fit between the kernel and the DTB; give the guest more RAM with -m",
				       initrd_len >> 10);
		bl->initrd_addr = ALIGN_DOWN(bl->dtb_addr - initrd_len, SZ_4K);
		if (bl->initrd_addr < kernel_end)
			return err_set(e, "initrd (%zu KiB) does not fit between the kernel and the DTB; give the guest more RAM with -m",
				       initrd_len >> 10);
	}
	return 0;
}

int boot_files_check_mode(struct boot_files *bf, bool aarch32, struct lkvm_err *e)
{
	if (!bf->kernel)
		return 0;
	/* where kvmtool puts a flat binary: the Image / zImage load offsets */
	if (bf->ki.format == KERNEL_FLAT) {
		bf->ki.text_offset = aarch32 ? ZIMAGE_LOAD_OFFSET : ARM64_IMAGE_OLD_TEXT_OFFSET;
		return 0;
	}
	if (bf->ki.format == KERNEL_ARM_ZIMAGE && !aarch32)
		return err_set(e, "kernel %s is a 32-bit ARM zImage: add --aarch32", bf->kernel_path);
	if (bf->ki.format == KERNEL_ARM64_IMAGE && aarch32)
		return err_set(e, "--aarch32 needs a 32-bit ARM zImage, but %s is an arm64 Image",
			       bf->kernel_path);
	return 0;
}
