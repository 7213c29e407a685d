// SPDX-License-Identifier: GPL-2.0
/* arm/loader.c and file_gunzip(): kernel formats, boot files, RAM layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "endian_util.h"
#include "file.h"
#include "loader.h"
#include "test.h"
#include "util.h"

#define RAM_BASE 0x80000000ULL

/* An arm64 Image header: every field LE, whatever the kernel's order. */
static void make_image(uint8_t *buf, size_t len, uint64_t text_offset, uint64_t image_size,
		       uint64_t flags)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	memset(buf, 0, ARM64_IMAGE_HDR_SIZE);
	put_le32(buf, 0x91005a4d); /* code0: "MZ" + branch, as real kernels */
	put_le64(buf + 8, text_offset);
	put_le64(buf + 16, image_size);
	put_le64(buf + 24, flags);
	put_le32(buf + 56, ARM64_IMAGE_MAGIC);
}

/* An arm zImage header; endian is the 4 bytes at 0x30 in memory order. */
static void make_zimage(uint8_t *buf, size_t len, uint32_t start, uint32_t end,
			const uint8_t endian[4])
{
	memset(buf, 0, len);
	put_le32(buf + 0x24, ZIMAGE_MAGIC);
	put_le32(buf + 0x28, start);
	put_le32(buf + 0x2c, end);
	memcpy(buf + 0x30, endian, 4);
}

static const uint8_t zimage_le_word[4] = { 0x01, 0x02, 0x03, 0x04 }; /* 0x04030201 LE */
static const uint8_t zimage_be8_word[4] = { 0x04, 0x03, 0x02, 0x01 };

/* gzip (not raw zlib) as `gzip -9 Image` makes it; caller frees *out */
static bool gzip_buf(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream zs;
	uLong cap;
	uint8_t *buf;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	cap = deflateBound(&zs, len) + 64;
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&zs);
		return false;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = len;
	zs.next_out = buf;
	zs.avail_out = cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&zs);
		free(buf);
		return false;
	}
	*out_len = zs.total_out;
	*out = buf;
	deflateEnd(&zs);
	return true;
}

/* A temporary file holding data; returns its malloc'ed path (unlink + free it). */
static char *tmp_file(const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *path;
	int fd;

	if (asprintf(&path, "%s/lkvm-unit-XXXXXX", dir) < 0)
		return NULL;
	fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

static void tmp_remove(char *path)
{
	if (path)
		unlink(path);
	free(path);
}

/* ---- kernel_probe() ---- */

TEST(probe, arm64_image_le)
{
	uint8_t buf[4096];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	make_image(buf, sizeof(buf), 0, 0x10000, 0xa);
	REQUIRE(kernel_probe(buf, sizeof(buf), &ki, &e) == 0);
	CHECK_EQ_U64(ki.format, KERNEL_ARM64_IMAGE);
	CHECK(!ki.big_endian);
	CHECK(!ki.gzipped);
	CHECK_EQ_U64(ki.text_offset, 0);
	CHECK_EQ_U64(ki.image_size, 0x10000);
}

/* a BE kernel still has an LE header: only flags bit 0 says BE */
TEST(probe, arm64_image_be)
{
	uint8_t buf[4096];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	make_image(buf, sizeof(buf), 0x80000, 0x1230000, 0xb);
	REQUIRE(kernel_probe(buf, sizeof(buf), &ki, &e) == 0);
	CHECK_EQ_U64(ki.format, KERNEL_ARM64_IMAGE);
	CHECK(ki.big_endian);
	CHECK_EQ_U64(ki.text_offset, 0x80000);
	CHECK_EQ_U64(ki.image_size, 0x1230000);
}

/* pre-3.17 kernels: image_size 0 means text_offset 0x80000 whatever it says */
TEST(probe, arm64_image_old_no_size)
{
	uint8_t buf[8192];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	make_image(buf, sizeof(buf), 0x1234567, 0, 0);
	REQUIRE(kernel_probe(buf, sizeof(buf), &ki, &e) == 0);
	CHECK_EQ_U64(ki.format, KERNEL_ARM64_IMAGE);
	CHECK(!ki.big_endian);
	CHECK_EQ_U64(ki.text_offset, 0x80000);
	CHECK_EQ_U64(ki.image_size, sizeof(buf));
}

TEST(probe, arm64_bad_text_offset)
{
	uint8_t buf[4096];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	make_image(buf, sizeof(buf), 0x123, 0x10000, 0);
	CHECK(kernel_probe(buf, sizeof(buf), &ki, &e) == -1);
	CHECK_CONTAINS(e.msg, "text_offset");

	/* must stay inside the 2 MiB the kernel is aligned to */
	e.msg[0] = 0;
	make_image(buf, sizeof(buf), SZ_2M, 0x10000, 0);
	CHECK(kernel_probe(buf, sizeof(buf), &ki, &e) == -1);
	CHECK_CONTAINS(e.msg, "text_offset");
}

/* image_size below the file size would let the layout overlap the kernel */
TEST(probe, arm64_image_size_below_file)
{
	uint8_t buf[4096];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	make_image(buf, sizeof(buf), 0, 1024, 0);
	CHECK(kernel_probe(buf, sizeof(buf), &ki, &e) == -1);
	CHECK_CONTAINS(e.msg, "image_size");
}

TEST(probe, arm64_image_size_huge)
{
	uint8_t buf[4096];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	make_image(buf, sizeof(buf), 0, UINT64_MAX - 0xfff, 0);
	CHECK(kernel_probe(buf, sizeof(buf), &ki, &e) == -1);
	CHECK_CONTAINS(e.msg, "image_size");
}

TEST(probe, zimage_le)
{
	uint8_t buf[0x2000];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	make_zimage(buf, sizeof(buf), 0, sizeof(buf), zimage_le_word);
	CHECK_EQ_U64(get_le32(buf + 0x30), 0x04030201);
	REQUIRE(kernel_probe(buf, sizeof(buf), &ki, &e) == 0);
	CHECK_EQ_U64(ki.format, KERNEL_ARM_ZIMAGE);
	CHECK(!ki.big_endian);
	CHECK_EQ_U64(ki.text_offset, 0x8000);
	CHECK_EQ_U64(ki.image_size, sizeof(buf));
}

/* BE8: the word is stored big-endian, so an LE read gives 0x01020304 */
TEST(probe, zimage_be8)
{
	uint8_t buf[0x2000];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	make_zimage(buf, sizeof(buf), 0, sizeof(buf), zimage_be8_word);
	CHECK_EQ_U64(get_le32(buf + 0x30), 0x01020304);
	REQUIRE(kernel_probe(buf, sizeof(buf), &ki, &e) == 0);
	CHECK_EQ_U64(ki.format, KERNEL_ARM_ZIMAGE);
	CHECK(ki.big_endian);
}

/* pre-3.10 zImages have code at 0x30, not the endianness word: LE */
TEST(probe, zimage_no_endian_word)
{
	static const uint8_t code[4] = { 0x00, 0x00, 0xa0, 0xe1 }; /* mov r0, r0 */
	uint8_t buf[0x1000];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	make_zimage(buf, sizeof(buf), 0, 0x800, code);
	REQUIRE(kernel_probe(buf, sizeof(buf), &ki, &e) == 0);
	CHECK(!ki.big_endian);
}

TEST(probe, zimage_larger_than_file)
{
	uint8_t buf[0x1000];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	make_zimage(buf, sizeof(buf), 0x1000, 0x1000 + sizeof(buf) + 1, zimage_le_word);
	CHECK(kernel_probe(buf, sizeof(buf), &ki, &e) == -1);
	CHECK(e.msg[0] != 0);

	/* end before start must not wrap into a huge size that "fits" */
	e.msg[0] = 0;
	make_zimage(buf, sizeof(buf), 0x2000, 0x1000, zimage_le_word);
	CHECK(kernel_probe(buf, sizeof(buf), &ki, &e) == -1);
	CHECK(e.msg[0] != 0);
}

TEST(probe, elf_rejected)
{
	uint8_t buf[256];
	struct kernel_info ki;
	struct lkvm_err e = { "" };

	memset(buf, 0, sizeof(buf));
	memcpy(buf, "\x7f" "ELF\x02\x01\x01", 7);
	CHECK(kernel_probe(buf, sizeof(buf), &ki, &e) == -1);
	CHECK_CONTAINS(e.msg, "ELF");
}

TEST(probe, random_bytes_rejected)
{
	uint8_t buf[4096];
	struct kernel_info ki;
	struct lkvm_err e = { "" };
	uint32_t x = 0x12345678;
	size_t i;

	for (i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245 + 12345;
		buf[i] = x >> 24;
	}
	CHECK(kernel_probe(buf, sizeof(buf), &ki, &e) == -1);
	CHECK_CONTAINS(e.msg, "not an arm64 Image");
}

/* short buffers must not be read past their end (ASan watches the heap copy) */
TEST(probe, short_buffers)
{
	uint8_t full[ARM64_IMAGE_HDR_SIZE];
	struct kernel_info ki;
	struct lkvm_err e;
	size_t len;

	make_image(full, sizeof(full), 0, 0x10000, 0);
	for (len = 0; len < sizeof(full); len++) {
		uint8_t *p = malloc(len ? len : 1);

		REQUIRE(p);
		memcpy(p, full, len);
		e.msg[0] = 0;
		if (kernel_probe(p, len, &ki, &e) != -1)
			test_fail(__FILE__, __LINE__, "accepted a %zu byte kernel", len);
		free(p);
	}
}

/* ---- boot_files_load() ---- */

TEST(boot_files, plain_image)
{
	static uint8_t img[8192];
	struct boot_files bf;
	struct lkvm_err e = { "" };
	char *path;

	make_image(img, sizeof(img), 0, 0x10000, 0);
	path = tmp_file(img, sizeof(img));
	REQUIRE(path);
	if (CHECK(boot_files_load(&bf, path, NULL, SZ_256M, &e) == 0)) {
		CHECK_EQ_U64(bf.kernel_len, sizeof(img));
		CHECK_MEM(bf.kernel, img, sizeof(img));
		CHECK_EQ_U64(bf.ki.format, KERNEL_ARM64_IMAGE);
		CHECK(!bf.ki.gzipped);
		CHECK_STR(bf.kernel_path, path);
		CHECK(bf.initrd == NULL);
		CHECK_EQ_U64(bf.initrd_len, 0);
	}
	boot_files_free(&bf);
	tmp_remove(path);
}

/* sizes past file_gunzip()'s first 4 MiB buffer exercise its realloc path */
static void check_gzip_image(size_t len)
{
	uint8_t *img = malloc(len), *gz = NULL;
	struct boot_files bf;
	struct lkvm_err e = { "" };
	size_t gz_len = 0;
	char *path = NULL;

	if (!CHECK(img))
		return;
	make_image(img, len, 0, len + SZ_1M, 0x1);
	if (!CHECK(gzip_buf(img, len, &gz, &gz_len)))
		goto out;
	CHECK(gz_len < len);
	path = tmp_file(gz, gz_len);
	if (!CHECK(path))
		goto out;
	if (CHECK(boot_files_load(&bf, path, NULL, SZ_256M, &e) == 0)) {
		CHECK_EQ_U64(bf.kernel_len, len);
		CHECK(bf.ki.gzipped);
		CHECK(bf.ki.big_endian);
		CHECK_EQ_U64(bf.ki.image_size, len + SZ_1M);
		if (bf.kernel_len == len)
			CHECK_MEM(bf.kernel, img, len);
	} else {
		test_fail(__FILE__, __LINE__, "load: %s", e.msg);
	}
	boot_files_free(&bf);
out:
	tmp_remove(path);
	free(gz);
	free(img);
}

TEST(boot_files, gzip_image)
{
	check_gzip_image(300 * 1024 + 17);
}

TEST(boot_files, gzip_image_large)
{
	check_gzip_image(9 * SZ_1M + 5);
}

TEST(boot_files, missing_file)
{
	const char *path = "/nonexistent-lkvm-dir/Image-missing";
	struct boot_files bf;
	struct lkvm_err e = { "" };

	CHECK(boot_files_load(&bf, path, NULL, SZ_256M, &e) == -1);
	CHECK_CONTAINS(e.msg, path);
	boot_files_free(&bf);
}

TEST(boot_files, directory)
{
	char dir[] = "/tmp/lkvm-unit-dir-XXXXXX";
	struct boot_files bf;
	struct lkvm_err e = { "" };

	REQUIRE(mkdtemp(dir));
	CHECK(boot_files_load(&bf, dir, NULL, SZ_256M, &e) == -1);
	CHECK_CONTAINS(e.msg, "is a directory");
	CHECK_CONTAINS(e.msg, dir);
	boot_files_free(&bf);
	rmdir(dir);
}

TEST(boot_files, empty_file)
{
	struct boot_files bf;
	struct lkvm_err e = { "" };
	char *path = tmp_file("", 0);

	REQUIRE(path);
	CHECK(boot_files_load(&bf, path, NULL, SZ_256M, &e) == -1);
	CHECK_CONTAINS(e.msg, "empty");
	boot_files_free(&bf);
	tmp_remove(path);
}

/* a kernel file bigger than guest RAM is refused before it is read */
TEST(boot_files, larger_than_ram)
{
	static uint8_t img[8192];
	struct boot_files bf;
	struct lkvm_err e = { "" };
	char *path;

	make_image(img, sizeof(img), 0, 0x10000, 0);
	path = tmp_file(img, sizeof(img));
	REQUIRE(path);
	CHECK(boot_files_load(&bf, path, NULL, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, path);
	boot_files_free(&bf);
	tmp_remove(path);
}

TEST(boot_files, corrupt_gzip)
{
	uint8_t bad[512];
	struct boot_files bf;
	struct lkvm_err e = { "" };
	char *path;
	size_t i;

	bad[0] = 0x1f;
	bad[1] = 0x8b;
	for (i = 2; i < sizeof(bad); i++)
		bad[i] = (uint8_t)(i * 37 + 11);
	path = tmp_file(bad, sizeof(bad));
	REQUIRE(path);
	CHECK(boot_files_load(&bf, path, NULL, SZ_256M, &e) == -1);
	CHECK_CONTAINS(e.msg, path);
	CHECK_CONTAINS(e.msg, "gzip");
	boot_files_free(&bf);
	tmp_remove(path);
}

/* a gzip of something that is not a kernel: the probe error names the file */
TEST(boot_files, gzip_of_garbage)
{
	static uint8_t junk[4096];
	struct boot_files bf;
	struct lkvm_err e = { "" };
	uint8_t *gz = NULL;
	size_t gz_len;
	char *path;

	memset(junk, 0x5a, sizeof(junk));
	REQUIRE(gzip_buf(junk, sizeof(junk), &gz, &gz_len));
	path = tmp_file(gz, gz_len);
	free(gz);
	REQUIRE(path);
	CHECK(boot_files_load(&bf, path, NULL, SZ_256M, &e) == -1);
	CHECK_CONTAINS(e.msg, path);
	CHECK_CONTAINS(e.msg, "not an arm64 Image");
	boot_files_free(&bf);
	tmp_remove(path);
}

TEST(boot_files, initrd)
{
	static uint8_t img[8192], rd[12345];
	struct boot_files bf;
	struct lkvm_err e = { "" };
	char *kpath, *ipath;
	size_t i;

	make_image(img, sizeof(img), 0, 0x10000, 0);
	for (i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i ^ (i >> 8));
	kpath = tmp_file(img, sizeof(img));
	ipath = tmp_file(rd, sizeof(rd));
	if (CHECK(kpath && ipath) &&
	    CHECK(boot_files_load(&bf, kpath, ipath, SZ_256M, &e) == 0)) {
		CHECK_EQ_U64(bf.initrd_len, sizeof(rd));
		CHECK_MEM(bf.initrd, rd, sizeof(rd));
		CHECK_STR(bf.initrd_path, ipath);
		CHECK_EQ_U64(bf.kernel_len, sizeof(img));
		boot_files_free(&bf);
		CHECK(bf.kernel == NULL && bf.initrd == NULL);
	}
	tmp_remove(kpath);
	tmp_remove(ipath);
}

TEST(boot_files, missing_initrd)
{
	static uint8_t img[8192];
	const char *ipath = "/nonexistent-lkvm-dir/initrd.img";
	struct boot_files bf;
	struct lkvm_err e = { "" };
	char *kpath;

	make_image(img, sizeof(img), 0, 0x10000, 0);
	kpath = tmp_file(img, sizeof(img));
	REQUIRE(kpath);
	CHECK(boot_files_load(&bf, kpath, ipath, SZ_256M, &e) == -1);
	CHECK_CONTAINS(e.msg, ipath);
	CHECK_CONTAINS(e.msg, "initrd");
	boot_files_free(&bf);
	tmp_remove(kpath);
}

/* ---- boot_files_check_mode() ---- */

TEST(boot_files, check_mode)
{
	uint8_t dummy = 0;
	struct boot_files bf = { .kernel_path = "/k/zImage", .kernel = &dummy, .kernel_len = 1 };
	struct lkvm_err e = { "" };

	bf.ki.format = KERNEL_ARM_ZIMAGE;
	CHECK(boot_files_check_mode(&bf, false, &e) == -1);
	CHECK_CONTAINS(e.msg, "--aarch32");
	CHECK_CONTAINS(e.msg, "/k/zImage");
	CHECK(boot_files_check_mode(&bf, true, &e) == 0);

	e.msg[0] = 0;
	bf.kernel_path = "/k/Image";
	bf.ki.format = KERNEL_ARM64_IMAGE;
	CHECK(boot_files_check_mode(&bf, true, &e) == -1);
	CHECK_CONTAINS(e.msg, "/k/Image");
	CHECK(boot_files_check_mode(&bf, false, &e) == 0);

	/* no kernel (--dump-dtb): nothing to check */
	bf.kernel = NULL;
	CHECK(boot_files_check_mode(&bf, true, &e) == 0);
}

/* ---- boot_layout_plan() ---- */

static const struct kernel_info arm64_ki = {
	.format = KERNEL_ARM64_IMAGE,
	.text_offset = 0x80000,
	.image_size = 24 * SZ_1M,
};

TEST(layout, arm64_image)
{
	struct boot_layout bl;
	struct lkvm_err e = { "" };
	size_t kernel_len = 18 * SZ_1M + 123, initrd_len = 10 * SZ_1M + 4321;
	uint64_t kernel_end;

	REQUIRE(boot_layout_plan(RAM_BASE, SZ_256M, &arm64_ki, kernel_len, initrd_len, &bl, &e) == 0);
	CHECK_EQ_U64(bl.kernel_addr, RAM_BASE + 0x80000);
	CHECK_EQ_U64(bl.entry, bl.kernel_addr);
	CHECK_EQ_U64(bl.dtb_addr, RAM_BASE + SZ_256M - SZ_2M);
	/* initrd: 4 KiB aligned, ends at most at the DTB and less than 4 KiB below it */
	CHECK_EQ_U64(bl.initrd_addr % SZ_4K, 0);
	CHECK(bl.initrd_addr + initrd_len <= bl.dtb_addr);
	CHECK(bl.dtb_addr - (bl.initrd_addr + initrd_len) < SZ_4K);
	/* and above the whole image_size, not just the file */
	kernel_end = bl.kernel_addr + arm64_ki.image_size;
	CHECK(bl.initrd_addr >= kernel_end);
}

TEST(layout, arm64_text_offset_zero)
{
	struct kernel_info ki = arm64_ki;
	struct boot_layout bl;
	struct lkvm_err e = { "" };

	ki.text_offset = 0;
	REQUIRE(boot_layout_plan(RAM_BASE, SZ_256M, &ki, SZ_1M, 0, &bl, &e) == 0);
	CHECK_EQ_U64(bl.kernel_addr, RAM_BASE);
	CHECK_EQ_U64(bl.initrd_addr, 0);
}

TEST(layout, zimage)
{
	struct kernel_info ki = { .format = KERNEL_ARM_ZIMAGE, .text_offset = 0x8000,
				  .image_size = 5 * SZ_1M };
	struct boot_layout bl;
	struct lkvm_err e = { "" };

	REQUIRE(boot_layout_plan(RAM_BASE, SZ_256M, &ki, 5 * SZ_1M, SZ_1M, &bl, &e) == 0);
	CHECK_EQ_U64(bl.kernel_addr, RAM_BASE + 0x8000);
	CHECK_EQ_U64(bl.entry, RAM_BASE + 0x8000);
	CHECK_EQ_U64(bl.dtb_addr, RAM_BASE + SZ_256M - SZ_2M);
}

/* AArch32 lowmem: the DTB and initrd stay in the first 256 MiB */
TEST(layout, big_ram_keeps_dtb_low)
{
	struct boot_layout bl;
	struct lkvm_err e = { "" };

	REQUIRE(boot_layout_plan(RAM_BASE, SZ_1G, &arm64_ki, SZ_1M, SZ_1M, &bl, &e) == 0);
	CHECK(bl.dtb_addr + BOOT_DTB_MAX <= RAM_BASE + SZ_256M);
	CHECK_EQ_U64(bl.dtb_addr, RAM_BASE + SZ_256M - SZ_2M);
	CHECK(bl.initrd_addr < bl.dtb_addr);
}

TEST(layout, initrd_too_large)
{
	struct boot_layout bl;
	struct lkvm_err e = { "" };

	CHECK(boot_layout_plan(RAM_BASE, SZ_256M, &arm64_ki, SZ_1M, 250 * SZ_1M, &bl, &e) == -1);
	CHECK_CONTAINS(e.msg, "initrd");
	/* exactly the room between the kernel and the DTB still fits... */
	e.msg[0] = 0;
	{
		uint64_t room = RAM_BASE + SZ_256M - SZ_2M - (RAM_BASE + 0x80000 + arm64_ki.image_size);

		CHECK(boot_layout_plan(RAM_BASE, SZ_256M, &arm64_ki, SZ_1M, room, &bl, &e) == 0);
		CHECK_EQ_U64(bl.initrd_addr, RAM_BASE + 0x80000 + arm64_ki.image_size);
		/* ...one byte more does not (alignment would push it into the kernel) */
		CHECK(boot_layout_plan(RAM_BASE, SZ_256M, &arm64_ki, SZ_1M, room + 1, &bl, &e) == -1);
	}
}

TEST(layout, tiny_ram)
{
	struct boot_layout bl;
	struct lkvm_err e = { "" };

	CHECK(boot_layout_plan(RAM_BASE, 4 * SZ_1M, &arm64_ki, 18 * SZ_1M, 0, &bl, &e) == -1);
	CHECK(e.msg[0] != 0);
	e.msg[0] = 0;
	/* no room for the DTB at all, whatever the kernel */
	CHECK(boot_layout_plan(RAM_BASE, SZ_2M, NULL, 0, 0, &bl, &e) == -1);
	CHECK_CONTAINS(e.msg, "too small");
}

TEST(layout, kernel_too_big)
{
	struct kernel_info ki = arm64_ki;
	struct boot_layout bl;
	struct lkvm_err e = { "" };

	ki.image_size = 300 * SZ_1M;
	CHECK(boot_layout_plan(RAM_BASE, SZ_1G, &ki, SZ_1M, 0, &bl, &e) == -1);
	CHECK_CONTAINS(e.msg, "kernel");
}

/* ---- file_gunzip() ---- */

static uint8_t *pattern(size_t len)
{
	uint8_t *p = malloc(len);
	size_t i;

	if (p)
		for (i = 0; i < len; i++)
			p[i] = (uint8_t)((i / 64) ^ (i % 7));
	return p;
}

TEST(gunzip, round_trip_and_max)
{
	size_t len = 65536, gz_len, out_len = 0;
	uint8_t *raw = pattern(len), *gz = NULL, *out = NULL;
	struct lkvm_err e = { "" };

	REQUIRE(raw);
	if (CHECK(gzip_buf(raw, len, &gz, &gz_len))) {
		/* exactly max is fine */
		if (CHECK(file_gunzip(gz, gz_len, len, &out, &out_len, &e) == 0)) {
			CHECK_EQ_U64(out_len, len);
			CHECK_MEM(out, raw, len);
			free(out);
		}
		/* one byte over is not */
		out = NULL;
		e.msg[0] = 0;
		CHECK(file_gunzip(gz, gz_len, len - 1, &out, &out_len, &e) == -1);
		CHECK(e.msg[0] != 0);
		CHECK(file_gunzip(gz, gz_len, 4096, &out, &out_len, &e) == -1);
		CHECK(out == NULL);
	}
	free(gz);
	free(raw);
}

TEST(gunzip, truncated)
{
	size_t len = 65536, gz_len, out_len;
	uint8_t *raw = pattern(len), *gz = NULL, *out = NULL;
	struct lkvm_err e = { "" };

	REQUIRE(raw);
	if (CHECK(gzip_buf(raw, len, &gz, &gz_len))) {
		/* cut in the middle of the deflate data */
		CHECK(file_gunzip(gz, gz_len / 2, SZ_256M, &out, &out_len, &e) == -1);
		CHECK(e.msg[0] != 0);
		/* all the data but no CRC/ISIZE trailer: not verified, so refused */
		e.msg[0] = 0;
		CHECK(file_gunzip(gz, gz_len - 8, SZ_256M, &out, &out_len, &e) == -1);
		CHECK(e.msg[0] != 0);
		/* just the magic */
		CHECK(file_gunzip(gz, 2, SZ_256M, &out, &out_len, &e) == -1);
		CHECK(out == NULL);
	}
	free(gz);
	free(raw);
}

/* a flipped byte in the data must fail the CRC, not yield a bad kernel */
TEST(gunzip, bad_crc)
{
	size_t len = 65536, gz_len, out_len;
	uint8_t *raw = pattern(len), *gz = NULL, *out = NULL;
	struct lkvm_err e = { "" };

	REQUIRE(raw);
	if (CHECK(gzip_buf(raw, len, &gz, &gz_len))) {
		gz[gz_len - 8] ^= 0xff; /* first byte of the CRC32 */
		CHECK(file_gunzip(gz, gz_len, SZ_256M, &out, &out_len, &e) == -1);
		CHECK_CONTAINS(e.msg, "gzip");
	}
	free(gz);
	free(raw);
}
