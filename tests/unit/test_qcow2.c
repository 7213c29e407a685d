// SPDX-License-Identifier: GPL-2.0
/*
 * disk/qcow2*: images made by qemu-img/qemu-io, read and written through
 * lkvm's code, cross-checked with qemu-img (convert, check, compare);
 * hostile images, image locking, and a process killed mid-write.
 * Needs qemu-utils: without it these tests fail and say so.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk.h"
#include "qcow2_util.h"
#include "test.h"

#define MIB (1024 * 1024ULL)

/* runs a shell command that must succeed */
static bool run_ok(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool run_ok(int line, const char *fmt, ...)
{
	char cmd[4096], out[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = q2t_sh(out, sizeof(out), "%s", cmd);
	if (st) {
		test_fail(__FILE__, line, "`%s` exited %d: %s", cmd, st, out);
		return false;
	}
	return true;
}
#define RUN(...) run_ok(__LINE__, __VA_ARGS__)

static char *pathf(char *buf, size_t size, const char *dir, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
	return buf;
}
#define PATH(buf, dir, name) pathf(buf, sizeof(buf), dir, name)

static struct disk *open_disk(const char *path, bool ro, enum disk_format fmt, int line)
{
	struct disk_opts o = { .ro = ro, .format = fmt };
	struct lkvm_err e;
	struct disk *d;

	if (disk_open(&d, path, &o, &e)) {
		test_fail(__FILE__, line, "disk_open(%s): %s", path, e.msg);
		return NULL;
	}
	return d;
}
#define OPEN(path, ro) open_disk(path, ro, DISK_FMT_AUTO, __LINE__)

/* disk_open must fail; its message must contain what */
static bool open_fails(const char *path, bool ro, const char *what, int line)
{
	struct disk_opts o = { .ro = ro };
	struct lkvm_err e;
	struct disk *d;

	if (!disk_open(&d, path, &o, &e)) {
		test_fail(__FILE__, line, "disk_open(%s%s) succeeded, expected \"%s\"", path,
			  ro ? ",ro" : "", what);
		disk_close(d);
		return false;
	}
	if (!strstr(e.msg, what)) {
		test_fail(__FILE__, line, "disk_open(%s): \"%s\" does not say \"%s\"", path, e.msg,
			  what);
		return false;
	}
	if (strchr(e.msg, '\n'))
		test_fail(__FILE__, line, "error is more than one line: %s", e.msg);
	return true;
}
#define OPEN_FAILS(path, ro, what) open_fails(path, ro, what, __LINE__)

static int rd(struct disk *d, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = { buf, len };

	return d->ops->readv(d, off, &iov, 1, len);
}

static int wr(struct disk *d, uint64_t off, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	return d->ops->writev(d, off, &iov, 1, len);
}

/* the whole disk through lkvm equals qemu-img's raw conversion */
static void check_reads_like_qemu(const char *img, const char *dir)
{
	size_t rawlen;
	uint8_t *raw = q2t_to_raw(img, dir, &rawlen), *mine;
	struct disk *d;

	if (!raw)
		return;
	d = OPEN(img, true);
	if (!d) {
		free(raw);
		return;
	}
	CHECK_STR(d->ops->name, "qcow2");
	CHECK_EQ_U64(d->size, rawlen);
	mine = malloc(rawlen + 1);
	if (CHECK(mine) && q2t_read_disk(d, mine, rawlen))
		CHECK_MEM(mine, raw, rawlen);
	free(mine);
	free(raw);
	disk_close(d);
}

/* qemu-img check finds nothing, not even leaks, and the image equals ref */
static void check_like_ref(const char *img, const char *dir, const uint8_t *ref, size_t len)
{
	char out[4096], refpath[512];
	int st;

	st = q2t_check(img, out, sizeof(out));
	if (!CHECK_EQ_U64(st, 0))
		test_fail(__FILE__, __LINE__, "qemu-img check %s: %s", img, out);
	PATH(refpath, dir, "ref.raw");
	if (!CHECK(q2t_write_file(refpath, ref, len)))
		return;
	st = q2t_sh(out, sizeof(out), "qemu-img compare -f raw -F qcow2 '%s' '%s'", refpath, img);
	if (!CHECK_EQ_U64(st, 0))
		test_fail(__FILE__, __LINE__, "qemu-img compare: %s", out);
}

TEST(qcow2, parse_format)
{
	struct disk_opts o;
	struct lkvm_err e;
	char *path = NULL;

	REQUIRE(disk_parse_spec("a.img,format=qcow2,ro", &path, &o, &e) == 0);
	CHECK_STR(path, "a.img");
	CHECK(o.ro && o.format == DISK_FMT_QCOW2);
	free(path);
	REQUIRE(disk_parse_spec("a.img,format=raw", &path, &o, &e) == 0);
	CHECK(o.format == DISK_FMT_RAW);
	free(path);
	REQUIRE(disk_parse_spec("a.img", &path, &o, &e) == 0);
	CHECK(o.format == DISK_FMT_AUTO);
	free(path);
	CHECK(disk_parse_spec("a.img,format=vmdk", &path, &o, &e) == -1);
	CHECK_CONTAINS(e.msg, "vmdk");
	CHECK_CONTAINS(e.msg, "format");
	CHECK(disk_parse_spec("a.img,format=", &path, &o, &e) == -1);
}

TEST(qcow2, detect_and_force_format)
{
	char *dir = q2t_mkdir(), img[512], raw[512];
	struct disk *d;
	uint8_t b[512];

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "a.qcow2");
	PATH(raw, dir, "a.raw");
	if (!RUN("qemu-img create -f qcow2 '%s' 3M && qemu-img create -f raw '%s' 1M", img, raw))
		goto out;
	d = OPEN(img, false);
	if (CHECK(d)) {
		CHECK_STR(d->ops->name, "qcow2");
		CHECK_EQ_U64(d->size, 3 * MIB);
		disk_close(d);
	}
	d = OPEN(raw, false);
	if (CHECK(d)) {
		CHECK_STR(d->ops->name, "raw");
		CHECK_EQ_U64(d->size, MIB);
		disk_close(d);
	}
	/* format=raw shows the qcow2 file itself */
	d = open_disk(img, true, DISK_FMT_RAW, __LINE__);
	if (CHECK(d)) {
		CHECK_STR(d->ops->name, "raw");
		CHECK_EQ_U64(d->size, q2t_file_size(img));
		CHECK_EQ_U64(rd(d, 0, b, 4), 0);
		CHECK_MEM(b, "QFI\xfb", 4);
		disk_close(d);
	}
	/* format=qcow2 on a raw file: one clear line */
	{
		struct disk_opts o = { .format = DISK_FMT_QCOW2 };
		struct lkvm_err e;

		CHECK(disk_open(&d, raw, &o, &e) == -1);
		CHECK_CONTAINS(e.msg, "not a qcow2 image");
		o.direct = true;
		CHECK(disk_open(&d, img, &o, &e) == -1);
		CHECK_CONTAINS(e.msg, "direct");
	}
out:
	q2t_rmdir(dir);
}

/* a guessed raw image cannot be turned into a qcow2 header by the guest */
TEST(qcow2, probed_raw_refuses_magic)
{
	char *dir = q2t_mkdir(), raw[512];
	uint8_t z[4096] = { 0 };
	struct disk *d;

	REQUIRE(dir);
	PATH(raw, dir, "p.raw");
	REQUIRE(q2t_write_file(raw, z, sizeof(z)));
	d = OPEN(raw, false);
	if (CHECK(d)) {
		CHECK_EQ_U64(wr(d, 0, "QFI\xfb", 4), (uint64_t)-EPERM);
		/* byte by byte too */
		CHECK_EQ_U64(wr(d, 0, "QF", 2), 0);
		CHECK_EQ_U64(wr(d, 2, "I\xfb", 2), (uint64_t)-EPERM);
		CHECK_EQ_U64(wr(d, 2, "I\xfa", 2), 0);
		disk_close(d);
	}
	d = open_disk(raw, false, DISK_FMT_RAW, __LINE__);
	if (CHECK(d)) {
		CHECK_EQ_U64(wr(d, 0, "QFI\xfb", 4), 0);
		disk_close(d);
	}
	q2t_rmdir(dir);
}

static void read_case(const char *create_opts, const char *qemu_io)
{
	char *dir = q2t_mkdir(), img[512];

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "r.qcow2");
	if (!RUN("qemu-img create -f qcow2 -o %s '%s' 5M", create_opts, img) ||
	    !RUN("qemu-io -f qcow2 %s '%s'", qemu_io, img))
		goto out;
	check_reads_like_qemu(img, dir);
out:
	q2t_rmdir(dir);
}

#define SOME_WRITES                                                                        \
	"-c 'write -P 0x11 0 64k' -c 'write -P 0x22 100k 3k' -c 'write -P 0x33 1M 200k' " \
	"-c 'write -P 0x44 4194304 512' -c 'write -P 0x55 5241344 1024'"

TEST(qcow2, read_v2)
{
	read_case("compat=0.10", SOME_WRITES);
}

TEST(qcow2, read_v3_4k_clusters)
{
	read_case("compat=1.1,cluster_size=4096", SOME_WRITES);
}

TEST(qcow2, read_v3_512_clusters_refcount_bits_1)
{
	read_case("compat=1.1,cluster_size=512,refcount_bits=1", SOME_WRITES);
}

/* a pattern file: every byte different enough to catch misplaced clusters */
static bool make_pattern(const char *path, size_t len, unsigned int seed)
{
	uint8_t *b = malloc(len);
	size_t i;
	bool ok;

	if (!b)
		return false;
	for (i = 0; i < len; i++)
		b[i] = (uint8_t)((i >> 9) * 7 + i * 13 + seed);
	ok = q2t_write_file(path, b, len);
	free(b);
	return ok;
}

TEST(qcow2, read_backing_chain)
{
	char *dir = q2t_mkdir(), base[512], mid[512], top[512];

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(base, dir, "base.raw");
	PATH(mid, dir, "mid.qcow2");
	PATH(top, dir, "top.qcow2");
	/* the raw base is smaller than the images over it: zeroes past its end */
	if (!CHECK(make_pattern(base, 3 * MIB + 512, 1)))
		goto out;
	/* backing names relative to the image's directory, like qemu-img */
	if (!RUN("qemu-img create -f qcow2 -o compat=0.10 -b base.raw -F raw '%s' 4M", mid) ||
	    !RUN("qemu-io -f qcow2 -c 'write -P 0x66 64k 4k' -c 'write -P 0x67 3M 600k' '%s'", mid) ||
	    !RUN("qemu-img create -f qcow2 -o compat=1.1,cluster_size=4096 -b mid.qcow2 -F qcow2 '%s' 5M",
		 top) ||
	    !RUN("qemu-io -f qcow2 -c 'write -P 0x77 1000k 8k' -c 'write -z 2M 64k' '%s'", top))
		goto out;
	check_reads_like_qemu(mid, dir);
	check_reads_like_qemu(top, dir);
out:
	q2t_rmdir(dir);
}

TEST(qcow2, read_compressed_and_zero_clusters)
{
	char *dir = q2t_mkdir(), raw[512], img[512], img2[512];

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(raw, dir, "c.raw");
	PATH(img, dir, "c.qcow2");
	PATH(img2, dir, "c2.qcow2");
	if (!CHECK(make_pattern(raw, 2 * MIB, 9)))
		goto out;
	if (!RUN("qemu-img convert -c -f raw -O qcow2 -o compat=1.1 '%s' '%s'", raw, img) ||
	    /* zero clusters: unmapped and preallocated */
	    !RUN("qemu-io -f qcow2 -c 'write -z -u 64k 128k' -c 'write -P 0x12 1M 64k' "
		 "-c 'write -z 1M 64k' -c 'write -z 1536k 1k' '%s'", img) ||
	    !RUN("qemu-img convert -c -f raw -O qcow2 -o compat=0.10,cluster_size=4096 '%s' '%s'",
		 raw, img2))
		goto out;
	check_reads_like_qemu(img, dir);
	check_reads_like_qemu(img2, dir);
out:
	q2t_rmdir(dir);
}

TEST(qcow2, read_snapshot_image_ro_only)
{
	char *dir = q2t_mkdir(), img[512];

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "s.qcow2");
	if (!RUN("qemu-img create -f qcow2 '%s' 2M && qemu-io -f qcow2 -c 'write -P 1 0 64k' '%s'",
		 img, img) ||
	    !RUN("qemu-img snapshot -c snap1 '%s' && qemu-io -f qcow2 -c 'write -P 2 0 4k' '%s'",
		 img, img))
		goto out;
	OPEN_FAILS(img, false, "snapshots");
	check_reads_like_qemu(img, dir);
out:
	q2t_rmdir(dir);
}

/* ---- random writes against a raw reference ---- */

struct rw_setup {
	const char *name;
	const char *base_cmd;   /* makes the backing file base.* (NULL: none), %s = dir */
	const char *base_name;  /* the backing file, to know what unmapped clusters show */
	const char *create;     /* makes img.qcow2, %s = dir */
	const char *prep;       /* qemu-io commands on it (may be NULL) */
	uint64_t size, cs;
	bool v3;
};

static void fill_rand(uint8_t *b, size_t n, uint64_t *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(q2t_rand(s) >> 56);
}

/* one request in 1 to 3 iovecs */
static int io_split(struct disk *d, bool write, uint64_t off, uint8_t *buf, size_t len,
		    uint64_t *s)
{
	struct iovec iov[3];
	size_t a = len ? q2t_rand(s) % (len + 1) : 0, b = len - a ? q2t_rand(s) % (len - a + 1) : 0;
	int n = 0;

	if (a)
		iov[n++] = (struct iovec){ buf, a };
	if (b)
		iov[n++] = (struct iovec){ buf + a, b };
	if (len - a - b || !n)
		iov[n++] = (struct iovec){ buf + a + b, len - a - b };
	return write ? d->ops->writev(d, off, iov, n, len) : d->ops->readv(d, off, iov, n, len);
}

/*
 * nops random writes, zeroes, discards, flushes and reads on d and on ref;
 * under: what an unmapped cluster shows (the backing file), for discard on
 * images without zero clusters.
 */
static void random_ops(struct disk *d, uint8_t *ref, const uint8_t *under, uint64_t size,
		       uint64_t cs, bool discard_zeroes, uint64_t seed, int nops)
{
	uint64_t s = seed;
	size_t maxlen = 4 * cs + 3000;
	/* lengths round up to a sector */
	uint8_t *buf = malloc(maxlen + 512), *chk = malloc(maxlen + 512);
	int i;

	if (!CHECK(buf && chk))
		goto out;
	for (i = 0; i < nops; i++) {
		unsigned int what = q2t_rand(&s) % 100;
		size_t len = 1 + q2t_rand(&s) % maxlen;
		uint64_t off;
		int r;

		if (len > size)
			len = size;
		off = q2t_rand(&s) % (size - len + 1);
		if (q2t_rand(&s) % 2) {
			/* sector-aligned, like virtio-blk */
			off &= ~511ULL;
			len = (len + 511) & ~511ULL;
			if (off + len > size)
				len = size - off;
		}
		if (what < 55) {
			fill_rand(buf, len, &s);
			r = io_split(d, true, off, buf, len, &s);
			if (!CHECK_EQ_U64(r, 0))
				break;
			memcpy(ref + off, buf, len);
		} else if (what < 65) {
			r = d->ops->write_zeroes(d, off, len, q2t_rand(&s) % 2);
			if (!CHECK_EQ_U64(r, 0))
				break;
			memset(ref + off, 0, len);
		} else if (what < 75) {
			uint64_t c, end = off + len;

			if (q2t_rand(&s) % 2) {
				off &= ~(cs - 1);
				end = (end + cs - 1) & ~(cs - 1);
				if (end > size)
					end = size;
			}
			r = d->ops->discard(d, off, end - off);
			if (!CHECK_EQ_U64(r, 0))
				break;
			/* whole clusters (and the disk's last one) are gone, parts stay */
			for (c = (off + cs - 1) & ~(cs - 1); c < end; c += cs) {
				uint64_t ce = c + cs < size ? c + cs : size;

				if (ce > end)
					break;
				if (discard_zeroes || !under)
					memset(ref + c, 0, ce - c);
				else
					memcpy(ref + c, under + c, ce - c);
			}
		} else if (what < 80) {
			if (!CHECK_EQ_U64(d->ops->flush(d), 0))
				break;
		} else {
			r = io_split(d, false, off, chk, len, &s);
			if (!CHECK_EQ_U64(r, 0) || !CHECK_MEM(chk, ref + off, len))
				break;
		}
	}
out:
	free(buf);
	free(chk);
}

static void random_write_case(const struct rw_setup *c, int nops)
{
	char *dir = q2t_mkdir(), img[512], base[512];
	uint8_t *ref = NULL, *under = NULL, *back;
	size_t len, blen;
	struct disk *d;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "img.qcow2");
	if (c->base_cmd && !RUN(c->base_cmd, dir, dir, dir))
		goto out;
	if (!RUN(c->create, dir) || (c->prep && !RUN("qemu-io -f qcow2 %s '%s'", c->prep, img)))
		goto out;
	ref = q2t_to_raw(img, dir, &len);
	if (!ref || !CHECK_EQ_U64(len, c->size))
		goto out;
	if (c->base_name) {
		back = q2t_to_raw(PATH(base, dir, c->base_name), dir, &blen);
		under = calloc(1, c->size);
		if (!back || !under) {
			free(back);
			goto out;
		}
		memcpy(under, back, blen < c->size ? blen : c->size);
		free(back);
	}
	d = OPEN(img, false);
	if (!d)
		goto out;
	random_ops(d, ref, under, c->size, c->cs, c->v3, 0x1234567 + c->size + c->cs, nops);
	/* lkvm reads its own writes */
	{
		uint8_t *all = malloc(c->size);

		if (CHECK(all) && q2t_read_disk(d, all, c->size))
			CHECK_MEM(all, ref, c->size);
		free(all);
	}
	disk_close(d);
	check_like_ref(img, dir, ref, c->size);
	/* and again after a reopen (nothing was only in memory) */
	d = OPEN(img, false);
	if (d) {
		random_ops(d, ref, under, c->size, c->cs, c->v3, 99 + c->cs, nops / 2);
		disk_close(d);
		check_like_ref(img, dir, ref, c->size);
	}
out:
	free(ref);
	free(under);
	q2t_rmdir(dir);
}

TEST(qcow2, random_writes_v2)
{
	static const struct rw_setup c = {
		.create = "qemu-img create -f qcow2 -o compat=0.10 %s/img.qcow2 6M",
		.prep = SOME_WRITES,
		.size = 6 * MIB, .cs = 65536, .v3 = false,
	};

	random_write_case(&c, 300);
}

TEST(qcow2, random_writes_v3_4k)
{
	static const struct rw_setup c = {
		.create = "qemu-img create -f qcow2 -o compat=1.1,cluster_size=4096 %s/img.qcow2 6M",
		.prep = SOME_WRITES,
		.size = 6 * MIB, .cs = 4096, .v3 = true,
	};

	random_write_case(&c, 400);
}

TEST(qcow2, random_writes_v3_over_raw_backing)
{
	static const struct rw_setup c = {
		.base_cmd = "head -c 5000000 /dev/urandom > %s/base.raw",
		.base_name = "base.raw",
		.create = "cd %s && qemu-img create -f qcow2 -o compat=1.1,cluster_size=8192 "
			  "-b base.raw -F raw img.qcow2 6M",
		.prep = "-c 'write -P 0x31 0 100k' -c 'write -z 1M 64k' -c 'write -P 0x32 5000k 10k'",
		.size = 6 * MIB, .cs = 8192, .v3 = true,
	};

	random_write_case(&c, 400);
}

TEST(qcow2, random_writes_v2_over_qcow2_backing)
{
	static const struct rw_setup c = {
		.base_cmd = "head -c 3000000 /dev/urandom > %s/b.raw && "
			    "qemu-img convert -f raw -O qcow2 -o cluster_size=4096 %s/b.raw %s/base.qcow2",
		.base_name = "base.qcow2",
		.create = "cd %s && qemu-img create -f qcow2 -o compat=0.10,cluster_size=16384 "
			  "-b base.qcow2 -F qcow2 img.qcow2 4M",
		.prep = "-c 'write -P 0x41 8k 100k'",
		.size = 4 * MIB, .cs = 16384, .v3 = false,
	};

	random_write_case(&c, 400);
}

TEST(qcow2, random_writes_over_compressed_and_zero_clusters)
{
	static const struct rw_setup c = {
		.base_cmd = "head -c 4194304 /dev/urandom | base64 | head -c 4194304 > %s/c.raw && "
			    "qemu-img convert -c -f raw -O qcow2 -o compat=1.1,cluster_size=4096 "
			    "%s/c.raw %s/img.qcow2",
		.create = "test -f %s/img.qcow2",
		.prep = "-c 'write -z -u 64k 128k' -c 'write -P 0x12 1M 64k' -c 'write -z 1M 32k' "
			"-c 'write -z 2M 4k'",
		.size = 4 * MIB, .cs = 4096, .v3 = true,
	};

	random_write_case(&c, 400);
}

TEST(qcow2, random_writes_512_clusters_refcount_bits_64)
{
	static const struct rw_setup c = {
		.base_cmd = "head -c 1000000 /dev/urandom > %s/base.raw",
		.base_name = "base.raw",
		.create = "cd %s && qemu-img create -f qcow2 -o compat=1.1,cluster_size=512,"
			  "refcount_bits=64 -b base.raw -F raw img.qcow2 3M",
		.size = 3 * MIB, .cs = 512, .v3 = true,
	};

	random_write_case(&c, 400);
}

TEST(qcow2, random_writes_preallocated_metadata_v3)
{
	static const struct rw_setup c = {
		.create = "qemu-img create -f qcow2 -o compat=1.1,cluster_size=4096,"
			  "preallocation=metadata %s/img.qcow2 4M",
		.prep = "-c 'write -P 0x21 0 100k'",
		.size = 4 * MIB, .cs = 4096, .v3 = true,
	};

	random_write_case(&c, 300);
}

TEST(qcow2, random_writes_preallocated_falloc_v2)
{
	static const struct rw_setup c = {
		.create = "qemu-img create -f qcow2 -o compat=0.10,cluster_size=4096,"
			  "preallocation=falloc %s/img.qcow2 4M",
		.size = 4 * MIB, .cs = 4096, .v3 = false,
	};

	random_write_case(&c, 300);
}

TEST(qcow2, random_writes_2m_clusters_lazy_refcounts)
{
	static const struct rw_setup c = {
		.create = "qemu-img create -f qcow2 -o compat=1.1,cluster_size=2M,"
			  "lazy_refcounts=on %s/img.qcow2 12M",
		.prep = "-c 'write -P 0x21 3M 100k'",
		.size = 12 * MIB, .cs = 2 * MIB, .v3 = true,
	};

	random_write_case(&c, 60);
}

/* a persistent dirty bitmap: lkvm does not keep it, so it clears the autoclear bit */
TEST(qcow2, bitmaps_marked_inconsistent_on_write)
{
	char *dir = q2t_mkdir(), img[512], out[4096];
	uint8_t b[4096];
	struct disk *d;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "bm.qcow2");
	if (!RUN("qemu-img create -f qcow2 '%s' 4M && qemu-img bitmap --add '%s' b0", img, img))
		goto out;
	CHECK_EQ_U64(q2t_get_be64(img, 88) & 1, 1);
	d = OPEN(img, false);
	if (d) {
		memset(b, 0x42, sizeof(b));
		CHECK_EQ_U64(wr(d, 65536, b, sizeof(b)), 0);
		disk_close(d);
	}
	CHECK_EQ_U64(q2t_get_be64(img, 88), 0);
	/* QEMU then ignores the bitmaps, whose clusters it reports as leaks */
	CHECK_EQ_U64(q2t_check(img, out, sizeof(out)), 3);
	CHECK_CONTAINS(out, "lacking bitmap support");
	CHECK(!strstr(out, "ERROR"));
	check_reads_like_qemu(img, dir);
out:
	q2t_rmdir(dir);
}

/* ---- discard and write zeroes, exactly ---- */

static void discard_case(const char *opts, uint64_t cs, bool v3)
{
	char *dir = q2t_mkdir(), img[512], out[4096];
	uint64_t size = 2 * MIB;
	uint8_t *ref = calloc(1, size), *buf = malloc(size);
	struct disk *d;
	size_t i;

	if (!CHECK(dir && ref && buf))
		goto out;
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "d.qcow2");
	if (!RUN("qemu-img create -f qcow2 -o %s '%s' %llu", opts, img, (unsigned long long)size))
		goto out;
	d = OPEN(img, false);
	if (!d)
		goto out;
	for (i = 0; i < size; i++)
		ref[i] = (uint8_t)(i * 31 + 5);
	CHECK_EQ_U64(wr(d, 0, ref, size), 0);
	CHECK_EQ_U64(d->ops->flush(d), 0);
	/* discard: whole clusters go, a partial cluster stays */
	CHECK_EQ_U64(d->ops->discard(d, cs, 3 * cs), 0);
	memset(ref + cs, 0, 3 * cs);
	CHECK_EQ_U64(d->ops->discard(d, 8 * cs + 100, cs), 0);
	/* zeroes: unmapped, kept allocated, partial */
	CHECK_EQ_U64(d->ops->write_zeroes(d, 12 * cs, 2 * cs, true), 0);
	CHECK_EQ_U64(d->ops->write_zeroes(d, 16 * cs, 2 * cs, false), 0);
	CHECK_EQ_U64(d->ops->write_zeroes(d, 20 * cs + 7, cs, true), 0);
	memset(ref + 12 * cs, 0, 2 * cs);
	memset(ref + 16 * cs, 0, 2 * cs);
	memset(ref + 20 * cs + 7, 0, cs);
	/* the disk's end, discarded */
	CHECK_EQ_U64(d->ops->discard(d, size - cs, cs), 0);
	memset(ref + size - cs, 0, cs);
	/* and written again over the freed clusters */
	memset(buf, 0xc3, 2 * cs);
	CHECK_EQ_U64(wr(d, 2 * cs + 1, buf, 2 * cs), 0);
	memset(ref + 2 * cs + 1, 0xc3, 2 * cs);
	CHECK_EQ_U64(d->ops->flush(d), 0);
	if (q2t_read_disk(d, buf, size))
		CHECK_MEM(buf, ref, size);
	disk_close(d);
	check_like_ref(img, dir, ref, size);
	/* the discarded clusters were freed: reused, the file did not grow */
	CHECK(q2t_sh(out, sizeof(out), "qemu-img check '%s'", img) == 0);
	(void)v3;
out:
	free(ref);
	free(buf);
	q2t_rmdir(dir);
}

TEST(qcow2, discard_and_zeroes_v2)
{
	discard_case("compat=0.10,cluster_size=4096", 4096, false);
}

TEST(qcow2, discard_and_zeroes_v3)
{
	discard_case("compat=1.1,cluster_size=65536", 65536, true);
}

/* discard frees clusters: rewriting the same data does not grow the file */
TEST(qcow2, discard_frees_for_reuse)
{
	char *dir = q2t_mkdir(), img[512];
	uint8_t *buf = malloc(MIB);
	uint64_t size1;
	struct disk *d;

	if (!CHECK(dir && buf))
		goto out;
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "f.qcow2");
	memset(buf, 0x5c, MIB);
	if (!RUN("qemu-img create -f qcow2 -o cluster_size=4096 '%s' 4M", img))
		goto out;
	d = OPEN(img, false);
	if (!d)
		goto out;
	CHECK_EQ_U64(wr(d, 0, buf, MIB), 0);
	disk_close(d);
	size1 = q2t_file_size(img);
	d = OPEN(img, false);
	if (!d)
		goto out;
	CHECK_EQ_U64(d->ops->discard(d, 0, MIB), 0);
	CHECK_EQ_U64(d->ops->flush(d), 0);
	/* in the same L2 table */
	CHECK_EQ_U64(wr(d, MIB, buf, MIB), 0);
	disk_close(d);
	CHECK_EQ_U64(q2t_file_size(img), size1);
	CHECK_EQ_U64(q2t_check(img, NULL, 0), 0);
out:
	free(buf);
	q2t_rmdir(dir);
}

/* ---- refcount blocks and the refcount table grow ---- */

static void growth_case(const char *opts, uint64_t data, bool table_grows)
{
	char *dir = q2t_mkdir(), img[512];
	uint64_t size = data + MIB, off, s = 77;
	uint8_t *ref = calloc(1, size), chunk[65536];
	uint32_t rt_clusters0;
	struct disk *d;

	if (!CHECK(dir && ref))
		goto out;
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "g.qcow2");
	if (!RUN("qemu-img create -f qcow2 -o %s '%s' %llu", opts, img, (unsigned long long)size))
		goto out;
	rt_clusters0 = q2t_get_be32(img, 56);
	d = OPEN(img, false);
	if (!d)
		goto out;
	for (off = 0; off < data; off += sizeof(chunk)) {
		fill_rand(chunk, sizeof(chunk), &s);
		memcpy(ref + off, chunk, sizeof(chunk));
		if (!CHECK_EQ_U64(wr(d, off, chunk, sizeof(chunk)), 0))
			break;
		if (off % (1 * MIB) == 0)
			CHECK_EQ_U64(d->ops->flush(d), 0);
	}
	disk_close(d);
	if (table_grows)
		CHECK(q2t_get_be32(img, 56) > rt_clusters0);
	check_like_ref(img, dir, ref, size);
out:
	free(ref);
	q2t_rmdir(dir);
}

/* 512-byte clusters: a refcount block covers 128 KiB, the first table 8 MiB */
TEST(qcow2, refcount_table_grows_16bit)
{
	growth_case("compat=1.1,cluster_size=512", 9 * MIB, true);
}

TEST(qcow2, refcount_table_grows_64bit)
{
	growth_case("compat=1.1,cluster_size=512,refcount_bits=64", 3 * MIB, true);
}

TEST(qcow2, refcount_blocks_grow_1bit_v2_style)
{
	growth_case("compat=1.1,cluster_size=512,refcount_bits=1", 5 * MIB, false);
	growth_case("compat=0.10,cluster_size=1024", 3 * MIB, false);
}

/* ---- hostile images ---- */

struct hostile {
	char *dir;
	char img[512];
	uint64_t l1_off, l2_off, data_off;
};

/* v3, 4 KiB clusters, 64 KiB of data at 0 */
static bool hostile_init(struct hostile *h, const char *opts)
{
	h->dir = q2t_mkdir();
	if (!CHECK(h->dir))
		return false;
	if (!q2t_need_qemu())
		return false;
	PATH(h->img, h->dir, "h.qcow2");
	if (!RUN("qemu-img create -f qcow2 -o %s '%s' 1M && "
		 "qemu-io -f qcow2 -c 'write -P 0x5a 0 64k' '%s'",
		 opts ? opts : "compat=1.1,cluster_size=4096", h->img, h->img))
		return false;
	h->l1_off = q2t_get_be64(h->img, 40);
	h->l2_off = q2t_get_be64(h->img, h->l1_off) & 0x00fffffffffffe00ULL;
	h->data_off = q2t_get_be64(h->img, h->l2_off) & 0x00fffffffffffe00ULL;
	return CHECK(h->l2_off && h->data_off);
}

/*
 * opens read-write; reads and writes of the first cluster fail with -EIO,
 * and (unless the whole L2 table is bad) the rest of the disk works
 */
static void expect_eio(struct hostile *h, bool rest_ok, int line)
{
	struct disk *d = open_disk(h->img, false, DISK_FMT_AUTO, line);
	uint8_t b[4096];

	if (!d)
		return;
	if (rd(d, 0, b, sizeof(b)) != -EIO)
		test_fail(__FILE__, line, "read of a bad cluster did not fail with -EIO");
	if (wr(d, 0, b, 512) != -EIO)
		test_fail(__FILE__, line, "write of a bad cluster did not fail with -EIO");
	/* the rest of the disk still works */
	if (rest_ok && rd(d, 512 * 1024, b, sizeof(b)) != 0)
		test_fail(__FILE__, line, "read of a good cluster failed");
	disk_close(d);
}

static void hostile_done(struct hostile *h)
{
	q2t_rmdir(h->dir);
}

TEST(qcow2, hostile_l1_table_past_eof)
{
	struct hostile h = { 0 };

	if (hostile_init(&h, NULL)) {
		CHECK(q2t_put_be64(h.img, 40, (q2t_file_size(h.img) + 65536) & ~4095ULL));
		OPEN_FAILS(h.img, true, "L1 table");
	}
	hostile_done(&h);
}

TEST(qcow2, hostile_huge_l1_size)
{
	struct hostile h = { 0 };

	if (hostile_init(&h, NULL)) {
		CHECK(q2t_put_be32(h.img, 36, 0x7fffffff));
		OPEN_FAILS(h.img, false, "L1 table");
		/* and too small for the virtual size */
		CHECK(q2t_put_be32(h.img, 36, 1));
		CHECK(q2t_put_be64(h.img, 24, 1ULL << 40));
		OPEN_FAILS(h.img, true, "L1 table");
	}
	hostile_done(&h);
}

TEST(qcow2, hostile_l2_entry_outside_file)
{
	struct hostile h = { 0 };

	if (hostile_init(&h, NULL)) {
		CHECK(q2t_put_be64(h.img, h.l2_off,
				   (1ULL << 63) | ((q2t_file_size(h.img) + 1048576) & ~4095ULL)));
		expect_eio(&h, true, __LINE__);
	}
	hostile_done(&h);
}

TEST(qcow2, hostile_l2_entry_unaligned_or_into_metadata)
{
	struct hostile h = { 0 };

	if (hostile_init(&h, NULL)) {
		CHECK(q2t_put_be64(h.img, h.l2_off, (1ULL << 63) | (h.data_off + 512)));
		expect_eio(&h, true, __LINE__);
		/* onto the header, the L1 table: the write marks the image corrupt */
		CHECK(q2t_put_be64(h.img, h.l2_off, (1ULL << 63) | h.l1_off));
		expect_eio(&h, true, __LINE__);
		CHECK_EQ_U64(q2t_get_be64(h.img, 72), 2);
		CHECK(q2t_put_be64(h.img, 72, 0));
		/* reserved bits */
		CHECK(q2t_put_be64(h.img, h.l2_off, (1ULL << 63) | h.data_off | 0x2));
		expect_eio(&h, true, __LINE__);
	}
	hostile_done(&h);
}

TEST(qcow2, hostile_l1_entry_bad)
{
	struct hostile h = { 0 };

	if (hostile_init(&h, NULL)) {
		CHECK(q2t_put_be64(h.img, h.l1_off, (1ULL << 63) | (h.l2_off + 512)));
		expect_eio(&h, false, __LINE__);
		CHECK(q2t_put_be64(h.img, h.l1_off, (1ULL << 63) | (1ULL << 50)));
		expect_eio(&h, false, __LINE__);
		CHECK(q2t_put_be64(h.img, h.l1_off, (1ULL << 63) | h.l2_off | 1));
		expect_eio(&h, false, __LINE__);
	}
	hostile_done(&h);
}

TEST(qcow2, hostile_refcount_table)
{
	struct hostile h = { 0 };
	uint64_t rt;

	if (hostile_init(&h, NULL)) {
		rt = q2t_get_be64(h.img, 48);
		CHECK(q2t_put_be64(h.img, 48, 12345));
		OPEN_FAILS(h.img, true, "refcount table");
		CHECK(q2t_put_be64(h.img, 48, 1ULL << 55));
		OPEN_FAILS(h.img, true, "refcount table");
		CHECK(q2t_put_be64(h.img, 48, rt));
		CHECK(q2t_put_be32(h.img, 56, 0));
		OPEN_FAILS(h.img, true, "refcount table");
		CHECK(q2t_put_be32(h.img, 56, 0x10000000));
		OPEN_FAILS(h.img, true, "refcount table");
		CHECK(q2t_put_be32(h.img, 56, 1));
		/* a refcount block past the end */
		CHECK(q2t_put_be64(h.img, rt, 1ULL << 45));
		OPEN_FAILS(h.img, false, "refcount block");
	}
	hostile_done(&h);
}

/* the refcount of a cluster in use is 0: writing there fails, reading works */
TEST(qcow2, hostile_refcount_zero_for_data)
{
	struct hostile h = { 0 };
	uint64_t rb;
	uint8_t b[512];
	struct disk *d;

	if (hostile_init(&h, NULL)) {
		rb = q2t_get_be64(h.img, q2t_get_be64(h.img, 48));
		/* 16-bit refcounts: the data cluster's entry */
		CHECK(q2t_put_be32(h.img, rb + 2 * (h.data_off / 4096) - 2,
				   q2t_get_be32(h.img, rb + 2 * (h.data_off / 4096) - 2) & 0xffff0000));
		d = OPEN(h.img, false);
		if (d) {
			CHECK_EQ_U64(rd(d, 0, b, sizeof(b)), 0);
			CHECK_EQ_U64(b[0], 0x5a);
			CHECK_EQ_U64(wr(d, 0, b, sizeof(b)), (uint64_t)-EIO);
			disk_close(d);
		}
	}
	hostile_done(&h);
}

TEST(qcow2, hostile_header_features)
{
	struct hostile h = { 0 };
	uint64_t inc;
	struct disk *d;

	if (!hostile_init(&h, NULL)) {
		hostile_done(&h);
		return;
	}
	inc = q2t_get_be64(h.img, 72);
	CHECK(q2t_put_be64(h.img, 72, inc | (1ULL << 10)));
	OPEN_FAILS(h.img, true, "incompatible feature bit 10");
	CHECK(q2t_put_be64(h.img, 72, inc | (1ULL << 2)));
	OPEN_FAILS(h.img, true, "external data");
	CHECK(q2t_put_be64(h.img, 72, inc | (1ULL << 3)));
	OPEN_FAILS(h.img, true, "compression type");
	CHECK(q2t_put_be64(h.img, 72, inc | (1ULL << 4)));
	OPEN_FAILS(h.img, true, "extended L2");
	/* dirty and corrupt: refused for writing, read-only is fine */
	CHECK(q2t_put_be64(h.img, 72, inc | 1));
	OPEN_FAILS(h.img, false, "qemu-img check -r all");
	d = OPEN(h.img, true);
	disk_close(d);
	CHECK(q2t_put_be64(h.img, 72, inc | 2));
	OPEN_FAILS(h.img, false, "corrupt");
	d = OPEN(h.img, true);
	disk_close(d);
	CHECK(q2t_put_be64(h.img, 72, inc));
	/* encryption */
	CHECK(q2t_put_be32(h.img, 32, 1));
	OPEN_FAILS(h.img, true, "encrypted");
	CHECK(q2t_put_be32(h.img, 32, 0));
	/* snapshots, by the count alone */
	CHECK(q2t_put_be32(h.img, 60, 3));
	OPEN_FAILS(h.img, false, "snapshots");
	CHECK(q2t_put_be32(h.img, 60, 0));
	/* versions, cluster sizes, header lengths */
	CHECK(q2t_put_be32(h.img, 4, 4));
	OPEN_FAILS(h.img, true, "version 4");
	CHECK(q2t_put_be32(h.img, 4, 3));
	CHECK(q2t_put_be32(h.img, 20, 30));
	OPEN_FAILS(h.img, true, "cluster_bits");
	CHECK(q2t_put_be32(h.img, 20, 12));
	CHECK(q2t_put_be32(h.img, 100, 5000));
	OPEN_FAILS(h.img, true, "header_length");
	CHECK(q2t_put_be32(h.img, 100, 112));
	CHECK(q2t_put_be32(h.img, 96, 7));
	OPEN_FAILS(h.img, true, "refcount_order");
	CHECK(q2t_put_be32(h.img, 96, 4));
	/* all repaired: it opens again */
	d = OPEN(h.img, false);
	disk_close(d);
	hostile_done(&h);
}

TEST(qcow2, hostile_autoclear_bits_cleared_on_write_open)
{
	struct hostile h = { 0 };
	struct disk *d;

	if (hostile_init(&h, NULL)) {
		CHECK(q2t_put_be64(h.img, 88, 0xff));
		d = OPEN(h.img, true);
		disk_close(d);
		CHECK_EQ_U64(q2t_get_be64(h.img, 88), 0xff);
		d = OPEN(h.img, false);
		disk_close(d);
		CHECK_EQ_U64(q2t_get_be64(h.img, 88), 0);
	}
	hostile_done(&h);
}

TEST(qcow2, hostile_compressed_cluster)
{
	char *dir = q2t_mkdir(), raw[512], img[512];
	uint64_t l1, l2, e;
	uint8_t junk[600], b[4096];
	struct disk *d;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(raw, dir, "c.raw");
	PATH(img, dir, "c.qcow2");
	if (!CHECK(make_pattern(raw, 256 * 1024, 3)) ||
	    !RUN("qemu-img convert -c -f raw -O qcow2 -o cluster_size=4096 '%s' '%s'", raw, img))
		goto out;
	l1 = q2t_get_be64(img, 40);
	l2 = q2t_get_be64(img, l1) & 0x00fffffffffffe00ULL;
	e = q2t_get_be64(img, l2);
	if (!CHECK(e & (1ULL << 62)))
		goto out;
	/* garbage where the deflate stream was */
	memset(junk, 0xff, sizeof(junk));
	{
		int fd = open(img, O_WRONLY);

		CHECK(fd >= 0 && pwrite(fd, junk, 100, e & ((1ULL << 54) - 1)) == 100);
		if (fd >= 0)
			close(fd);
	}
	d = OPEN(img, false);
	if (d) {
		CHECK_EQ_U64(rd(d, 0, b, sizeof(b)), (uint64_t)-EIO);
		CHECK_EQ_U64(wr(d, 0, b, 512), (uint64_t)-EIO);
		CHECK_EQ_U64(rd(d, 8192, b, sizeof(b)), 0);
		disk_close(d);
	}
	/* a descriptor past the end of the file */
	CHECK(q2t_put_be64(img, l2, (1ULL << 62) | (1ULL << 53)));
	d = OPEN(img, true);
	if (d) {
		CHECK_EQ_U64(rd(d, 0, b, sizeof(b)), (uint64_t)-EIO);
		disk_close(d);
	}
	/* compressed and "copied" at once */
	CHECK(q2t_put_be64(img, l2, e | (1ULL << 63)));
	d = OPEN(img, true);
	if (d) {
		CHECK_EQ_U64(rd(d, 0, b, sizeof(b)), (uint64_t)-EIO);
		disk_close(d);
	}
out:
	q2t_rmdir(dir);
}

TEST(qcow2, hostile_truncated_and_tiny_files)
{
	char *dir = q2t_mkdir(), img[512];
	struct disk_opts o = { .format = DISK_FMT_QCOW2 };
	struct lkvm_err e;
	struct disk *d;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "t.qcow2");
	if (!RUN("qemu-img create -f qcow2 '%s' 1M", img))
		goto out;
	CHECK(truncate(img, 100) == 0);
	OPEN_FAILS(img, true, "");
	CHECK(truncate(img, 4) == 0);
	CHECK(disk_open(&d, img, &o, &e) == -1);
	/* four bytes of magic and nothing else: auto-detect says raw, tiny */
	CHECK(truncate(img, 0) == 0);
	d = OPEN(img, true);
	if (CHECK(d)) {
		CHECK_STR(d->ops->name, "raw");
		disk_close(d);
	}
out:
	q2t_rmdir(dir);
}

/* random bytes flipped in the metadata: never a crash, never out of bounds */
TEST(qcow2, hostile_fuzz_metadata)
{
	char *dir = q2t_mkdir(), base[512], img[512];
	uint8_t *orig, *copy, *buf = malloc(256 * 1024);
	size_t len, i;
	uint64_t s = 4242;
	int iter, opened = 0;

	if (!CHECK(dir && buf))
		goto out;
	if (!q2t_need_qemu())
		goto out;
	PATH(base, dir, "base.qcow2");
	PATH(img, dir, "fuzz.qcow2");
	if (!RUN("qemu-img create -f qcow2 -o compat=1.1,cluster_size=512 '%s' 512k && "
		 "qemu-io -f qcow2 -c 'write -P 1 0 20k' -c 'write -c -P 2 64k 4k' "
		 "-c 'write -z 128k 2k' -c 'write -P 3 300k 1k' '%s'", base, base))
		goto out;
	orig = q2t_read_file(base, &len);
	if (!CHECK(orig))
		goto out;
	/* hundreds of "corrupt qcow2 image" lines: to a file (a sanitizer report too) */
	{
		int log = open("build/unit-qcow2-fuzz.stderr", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (log >= 0) {
			fflush(stderr);
			dup2(log, STDERR_FILENO);
			close(log);
		}
	}
	copy = malloc(len);
	for (iter = 0; copy && iter < 300; iter++) {
		struct disk_opts o = { .ro = iter % 3 == 0 };
		struct lkvm_err e;
		struct disk *d;
		int flips = 1 + q2t_rand(&s) % 6;

		memcpy(copy, orig, len);
		while (flips--) {
			/* mostly the header and the tables at the front */
			size_t at = q2t_rand(&s) % (q2t_rand(&s) % 4 ? 4096 : len);

			copy[at] ^= (uint8_t)(1 + q2t_rand(&s) % 255);
		}
		if (!q2t_write_file(img, copy, len))
			break;
		if (disk_open(&d, img, &o, &e))
			continue;
		opened++;
		for (i = 0; i < 8; i++) {
			uint64_t off = q2t_rand(&s) % (512 * 1024), n = 1 + q2t_rand(&s) % 65536;

			if (d->size < n)
				break;
			off %= d->size - n + 1;
			memset(buf, (int)i, n);
			rd(d, off, buf, n);
			if (!o.ro) {
				wr(d, off, buf, n);
				d->ops->discard(d, off, n);
				d->ops->write_zeroes(d, off + 1, n / 2, i % 2);
			}
		}
		d->ops->flush(d);
		disk_close(d);
	}
	CHECK(opened > 10);
	free(copy);
	free(orig);
out:
	free(buf);
	q2t_rmdir(dir);
}

/*
 * ---- writes onto metadata (issue 14) ----
 *
 * A guest write that lands on the header rewrites the backing file name:
 * the next open serves the guest any host file. Every allocation and data
 * write is checked against the metadata; an overlap fails the request, sets
 * the corrupt bit (incompatible feature bit 1) and says so in one line. A
 * writable open refuses metadata that has refcount 0 or overlaps metadata.
 */

#define Q2_MASK 0x00fffffffffffe00ULL
#define COPIED (1ULL << 63)

/* disk_open must fail; msg gets its one line */
static bool open_msg(const char *path, bool ro, char *msg, size_t size, int line)
{
	struct disk_opts o = { .ro = ro };
	struct lkvm_err e;
	struct disk *d;

	if (!disk_open(&d, path, &o, &e)) {
		test_fail(__FILE__, line, "disk_open(%s%s) succeeded", path, ro ? ",ro" : "");
		disk_close(d);
		return false;
	}
	snprintf(msg, size, "%s", e.msg);
	if (strchr(msg, '\n'))
		test_fail(__FILE__, line, "error is more than one line: %s", msg);
	return true;
}

/* the file is as before, but for the corrupt bit (byte 79, bit 1) */
static void check_only_corrupt_bit(const uint8_t *before, size_t blen, const char *img, int line)
{
	size_t alen;
	uint8_t *after = q2t_read_file(img, &alen), *want = malloc(blen);

	if (!after || !want) {
		test_fail(__FILE__, line, "cannot read %s", img);
	} else if (alen != blen) {
		test_fail(__FILE__, line, "%s grew from %zu to %zu bytes", img, blen, alen);
	} else {
		memcpy(want, before, blen);
		want[79] |= 2;
		if (memcmp(after, want, blen)) {
			size_t i = 0;

			while (after[i] == want[i])
				i++;
			test_fail(__FILE__, line, "%s changed at %#zx: 0x%02x, was 0x%02x", img, i,
				  after[i], before[i]);
		}
	}
	free(after);
	free(want);
}

/* the log is one line that names the image and each string (NULL-terminated) */
static void check_one_line(const char *log, const char *img, int line, ...)
{
	uint8_t *text;
	const char *want;
	size_t len;
	va_list ap;

	text = q2t_read_file(log, &len);
	if (!text) {
		test_fail(__FILE__, line, "no log %s", log);
		return;
	}
	text[len] = 0;
	if (!len || !memchr(text, '\n', len) || memchr(text, '\n', len) != text + len - 1)
		test_fail(__FILE__, line, "not exactly one line: \"%s\"", (char *)text);
	if (!strstr((char *)text, img))
		test_fail(__FILE__, line, "\"%s\" does not name %s", (char *)text, img);
	va_start(ap, line);
	while ((want = va_arg(ap, const char *)))
		if (!strstr((char *)text, want))
			test_fail(__FILE__, line, "\"%s\" does not say \"%s\"", (char *)text, want);
	va_end(ap);
	free(text);
}

/* marked corrupt: QEMU sees it, lkvm refuses to write, reading still works */
static void check_marked_corrupt(const char *img, int line)
{
	char out[4096];
	struct disk *d;
	uint8_t b[4096];

	q2t_sh(out, sizeof(out), "qemu-img info '%s'", img);
	if (!strstr(out, "corrupt: true"))
		test_fail(__FILE__, line, "qemu-img info %s: not corrupt: %s", img, out);
	open_fails(img, false, "marked corrupt", line);
	d = open_disk(img, true, DISK_FMT_AUTO, line);
	if (!d)
		return;
	if (rd(d, 0, b, sizeof(b)) || b[0] != 0x5a || b[4095] != 0x5a)
		test_fail(__FILE__, line, "read of guest cluster 0 failed");
	disk_close(d);
}

TEST(qcow2, overlap_header_refcount_zero_refused_for_writing)
{
	struct hostile h = { 0 };
	char out[4096], msg[512], hint[600];
	uint8_t b[4096];
	struct disk *d;

	if (!hostile_init(&h, NULL))
		goto out;
	CHECK(q2t_put_be16(h.img, q2t_rc16_at(h.img, 0), 0));
	/* what qemu-img check says of it */
	CHECK_EQ_U64(q2t_check(h.img, out, sizeof(out)), 2);
	CHECK_CONTAINS(out, "cluster 0 refcount=0 reference=1");
	if (open_msg(h.img, false, msg, sizeof(msg), __LINE__)) {
		CHECK_CONTAINS(msg, h.img);
		CHECK_CONTAINS(msg, "header cluster at 0");
		CHECK_CONTAINS(msg, "refcount 0");
		snprintf(hint, sizeof(hint), "qemu-img check -r all %s`", h.img);
		CHECK_CONTAINS(msg, hint);
		CHECK_CONTAINS(msg, ",ro");
	}
	d = OPEN(h.img, true);
	if (d) {
		CHECK_EQ_U64(rd(d, 4096, b, sizeof(b)), 0);
		CHECK_EQ_U64(b[0], 0x5a);
		disk_close(d);
	}
	/* the repair the line names makes it writable */
	if (RUN("qemu-img check -r all '%s'", h.img)) {
		d = OPEN(h.img, false);
		if (d) {
			CHECK_EQ_U64(wr(d, 512 * 1024, b, sizeof(b)), 0);
			disk_close(d);
		}
		CHECK_EQ_U64(q2t_check(h.img, out, sizeof(out)), 0);
	}
out:
	hostile_done(&h);
}

TEST(qcow2, overlap_table_refcount_zero_refused_for_writing)
{
	struct hostile h = { 0 };
	struct {
		const char *name;
		uint64_t off;
	} t[4];
	char msg[512], hex[64];
	unsigned int i;
	struct disk *d;

	if (!hostile_init(&h, NULL))
		goto out;
	t[0].name = "L1 table";
	t[0].off = h.l1_off;
	t[1].name = "L2 table";
	t[1].off = h.l2_off;
	t[2].name = "refcount table";
	t[2].off = q2t_get_be64(h.img, 48);
	t[3].name = "refcount block";
	t[3].off = q2t_get_be64(h.img, t[2].off);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t at = q2t_rc16_at(h.img, t[i].off);
		uint16_t old = q2t_get_be16(h.img, at);

		CHECK_EQ_U64(old, 1);
		CHECK(q2t_put_be16(h.img, at, 0));
		if (open_msg(h.img, false, msg, sizeof(msg), __LINE__)) {
			snprintf(hex, sizeof(hex), "%s cluster at %#llx has refcount 0", t[i].name,
				 (unsigned long long)t[i].off);
			CHECK_CONTAINS(msg, hex);
			CHECK_CONTAINS(msg, "qemu-img check -r all");
		}
		d = OPEN(h.img, true);
		disk_close(d);
		CHECK(q2t_put_be16(h.img, at, old));
	}
	d = OPEN(h.img, false);
	disk_close(d);
out:
	hostile_done(&h);
}

/*
 * The reported attack: the header's refcount is 0, so the allocator hands
 * cluster 0 to the guest's next write, a header naming a host file as the
 * backing file. The refcount drops after the open check here (lkvm reads
 * refcount blocks when it needs them): this is the allocator's own check.
 */
TEST(qcow2, overlap_allocation_of_header_refused)
{
	struct hostile h = { 0 };
	char evil[512], secret[512], log[512];
	uint8_t *before = NULL, *payload = NULL, b[4096];
	size_t blen, plen;
	int saved, r1, r2, r3;
	struct disk *d;

	if (!hostile_init(&h, NULL))
		goto out;
	PATH(secret, h.dir, "secret");
	PATH(evil, h.dir, "evil.qcow2");
	PATH(log, h.dir, "log");
	memset(b, 'S', sizeof(b));
	if (!CHECK(q2t_write_file(secret, b, sizeof(b))) ||
	    !RUN("cd '%s' && qemu-img create -f qcow2 -o cluster_size=4096 -b secret -F raw evil.qcow2 1M",
		 h.dir))
		goto out;
	payload = q2t_read_file(evil, &plen);
	if (!CHECK(payload && plen >= 4096))
		goto out;
	d = OPEN(h.img, false);
	if (!d)
		goto out;
	CHECK(q2t_put_be16(h.img, q2t_rc16_at(h.img, 0), 0));
	before = q2t_read_file(h.img, &blen);
	saved = q2t_stderr_to(log);
	/* a new cluster: the allocator's first free one is the header */
	r1 = wr(d, 512 * 1024, payload, 4096);
	/* then every write fails, in place or not, without another line */
	r2 = wr(d, 0, payload, 4096);
	r3 = d->ops->discard(d, 0, 4096);
	CHECK_EQ_U64(rd(d, 0, b, sizeof(b)), 0);
	CHECK_EQ_U64(b[0], 0x5a);
	disk_close(d);
	q2t_stderr_back(saved);
	CHECK_EQ_U64(r1, (uint64_t)-EIO);
	CHECK_EQ_U64(r2, (uint64_t)-EIO);
	CHECK_EQ_U64(r3, (uint64_t)-EIO);
	if (before)
		check_only_corrupt_bit(before, blen, h.img, __LINE__);
	check_one_line(log, h.img, __LINE__, "cluster allocation at host offset 0", "header",
		       "marked corrupt", "qemu-img check -r all", NULL);
	check_marked_corrupt(h.img, __LINE__);
	/* no backing file: the guest sees zeroes there, not the host's file */
	CHECK_EQ_U64(q2t_get_be64(h.img, 8), 0);
	d = OPEN(h.img, true);
	if (d) {
		CHECK_EQ_U64(rd(d, 512 * 1024, b, sizeof(b)), 0);
		CHECK_EQ_U64(b[0] | b[4095], 0);
		disk_close(d);
	}
out:
	free(before);
	free(payload);
	hostile_done(&h);
}

enum ol_op { OL_WRITE, OL_WRITE_PART, OL_DISCARD, OL_ZEROES_KEEP };

/* guest cluster 2's L2 entry points at the metadata at target; op on it is refused */
static void l2_into_meta_case(const char *kind, int which, enum ol_op op, int line)
{
	struct hostile h = { 0 };
	uint64_t target = 0, rt;
	uint8_t *before = NULL, b[4096];
	char log[512], out[4096];
	struct disk *d;
	size_t blen;
	int saved, r = 0;

	if (!hostile_init(&h, NULL))
		goto out;
	rt = q2t_get_be64(h.img, 48);
	switch (which) {
	case 0:
		target = 0;
		break;
	case 1:
		target = h.l1_off;
		break;
	case 2:
		target = h.l2_off;
		break;
	case 3:
		target = rt;
		break;
	default:
		target = q2t_get_be64(h.img, rt);
		break;
	}
	/*
	 * refcount 1: the cluster looks like data of ours alone; offset 0 is
	 * "unallocated", so the header is named by a compressed cluster in it
	 */
	CHECK(q2t_put_be64(h.img, h.l2_off + 8 * 2, target ? COPIED | target : (1ULL << 62) | 512));
	PATH(log, h.dir, "log");
	before = q2t_read_file(h.img, &blen);
	d = open_disk(h.img, false, DISK_FMT_AUTO, line);
	if (!d || !before)
		goto out;
	memset(b, 0xee, sizeof(b));
	saved = q2t_stderr_to(log);
	switch (op) {
	case OL_WRITE:
		r = wr(d, 2 * 4096, b, 4096);
		break;
	case OL_WRITE_PART:
		r = wr(d, 2 * 4096 + 512, b, 512);
		break;
	case OL_DISCARD:
		r = d->ops->discard(d, 2 * 4096, 4096);
		break;
	case OL_ZEROES_KEEP:
		r = d->ops->write_zeroes(d, 2 * 4096, 4096, false);
		break;
	}
	disk_close(d);
	q2t_stderr_back(saved);
	if (r != -EIO)
		test_fail(__FILE__, line, "op %d onto the %s: %d, not -EIO", op, kind, r);
	check_only_corrupt_bit(before, blen, h.img, line);
	check_one_line(log, h.img, line, kind, "refused", "marked corrupt", NULL);
	/* QEMU calls it corrupt too: the cluster has two references */
	if (q2t_check(h.img, out, sizeof(out)) != 2)
		test_fail(__FILE__, line, "qemu-img check: %s", out);
	check_marked_corrupt(h.img, line);
out:
	free(before);
	hostile_done(&h);
}

TEST(qcow2, overlap_l2_entry_into_metadata_refused)
{
	l2_into_meta_case("header", 0, OL_WRITE, __LINE__);
	l2_into_meta_case("L1 table", 1, OL_WRITE_PART, __LINE__);
	l2_into_meta_case("L2 table", 2, OL_WRITE, __LINE__);
	l2_into_meta_case("refcount table", 3, OL_WRITE, __LINE__);
	l2_into_meta_case("refcount block", 4, OL_WRITE_PART, __LINE__);
	/* freeing it would make it the allocator's */
	l2_into_meta_case("L2 table", 2, OL_DISCARD, __LINE__);
	l2_into_meta_case("header", 0, OL_DISCARD, __LINE__);
	l2_into_meta_case("refcount block", 4, OL_ZEROES_KEEP, __LINE__);
}

/* version 2 has no corrupt bit: the write is refused, the file unchanged, every time */
TEST(qcow2, overlap_v2_refused_without_corrupt_bit)
{
	struct hostile h = { 0 };
	uint8_t *before = NULL, *after = NULL, b[4096];
	char log[512];
	size_t blen, alen;
	struct disk *d;
	int saved, i;

	if (!hostile_init(&h, "compat=0.10,cluster_size=4096"))
		goto out;
	CHECK(q2t_put_be64(h.img, h.l2_off + 8 * 2, COPIED | h.l2_off));
	PATH(log, h.dir, "log");
	before = q2t_read_file(h.img, &blen);
	memset(b, 0xee, sizeof(b));
	for (i = 0; before && i < 2; i++) {
		d = OPEN(h.img, false);
		if (!d)
			break;
		saved = q2t_stderr_to(log);
		CHECK_EQ_U64(wr(d, 2 * 4096, b, sizeof(b)), (uint64_t)-EIO);
		CHECK_EQ_U64(wr(d, 512 * 1024, b, sizeof(b)), (uint64_t)-EIO);
		disk_close(d);
		q2t_stderr_back(saved);
		check_one_line(log, h.img, __LINE__, "L2 table", "version 2",
			       "qemu-img check -r all", NULL);
		after = q2t_read_file(h.img, &alen);
		if (CHECK(after) && CHECK_EQ_U64(alen, blen))
			CHECK_MEM(after, before, blen);
		free(after);
	}
out:
	free(before);
	hostile_done(&h);
}

/*
 * Two L2 entries share a cluster of refcount 1; the guest discards one, the
 * cluster is freed and becomes an L2 table lkvm allocates, and the other
 * entry still points at it: writing through it would rewrite the table.
 */
TEST(qcow2, overlap_freed_cluster_reused_as_l2_table)
{
	char *dir = q2t_mkdir(), img[512], log[512], out[4096];
	uint64_t l1, l2, e2, dc;
	uint8_t b[4096], *before = NULL, *after = NULL;
	struct disk *d;
	size_t len;
	int saved, r;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "f.qcow2");
	PATH(log, dir, "log");
	if (!RUN("qemu-img create -f qcow2 -o cluster_size=4096 '%s' 4M && "
		 "qemu-io -f qcow2 -c 'write -P 0x5a 0 64k' '%s'", img, img))
		goto out;
	l1 = q2t_get_be64(img, 40);
	l2 = q2t_get_be64(img, l1) & Q2_MASK;
	e2 = q2t_get_be64(img, l2 + 8 * 2);
	dc = e2 & Q2_MASK;
	CHECK(q2t_put_be64(img, l2 + 8 * 1, e2));
	d = OPEN(img, false);
	if (!d)
		goto out;
	CHECK_EQ_U64(d->ops->discard(d, 2 * 4096, 4096), 0);
	CHECK_EQ_U64(d->ops->flush(d), 0);
	/* a write past the first L2 table's reach: the new table takes the freed cluster */
	memset(b, 0x33, sizeof(b));
	CHECK_EQ_U64(wr(d, 2 * MIB, b, sizeof(b)), 0);
	CHECK_EQ_U64(q2t_get_be64(img, l1 + 8) & Q2_MASK, dc);
	before = q2t_read_file(img, &len);
	memset(b, 0xee, sizeof(b));
	saved = q2t_stderr_to(log);
	r = wr(d, 4096, b, sizeof(b));
	disk_close(d);
	q2t_stderr_back(saved);
	CHECK_EQ_U64(r, (uint64_t)-EIO);
	after = q2t_read_file(img, NULL);
	if (CHECK(before && after)) {
		CHECK_MEM(after + dc, before + dc, 4096);
		CHECK_EQ_U64(after[79] & 2, 2);
	}
	check_one_line(log, img, __LINE__, "guest write", "L2 table", "marked corrupt", NULL);
	CHECK_EQ_U64(q2t_check(img, out, sizeof(out)), 2);
out:
	free(before);
	free(after);
	q2t_rmdir(dir);
}

/* a refcount block lkvm adds is protected from then on */
TEST(qcow2, overlap_new_refcount_block_protected)
{
	char *dir = q2t_mkdir(), img[512], log[512];
	uint64_t l1, l2, rb1 = 0x20000, off;
	uint8_t b[4096], before[512], *after = NULL;
	struct disk *d;
	int saved, r;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "n.qcow2");
	PATH(log, dir, "log");
	/* 512-byte clusters: a refcount block covers 256 clusters, the second goes to 0x20000 */
	if (!RUN("qemu-img create -f qcow2 -o cluster_size=512 '%s' 4M && "
		 "qemu-io -f qcow2 -c 'write -P 0x5a 0 8k' '%s'", img, img))
		goto out;
	l1 = q2t_get_be64(img, 40);
	l2 = q2t_get_be64(img, l1) & Q2_MASK;
	CHECK(q2t_file_size(img) < rb1);
	/* guest cluster 1 points past the end of the file, where the block will be */
	CHECK(q2t_put_be64(img, l2 + 8, COPIED | rb1));
	d = OPEN(img, false);
	if (!d)
		goto out;
	memset(b, 0x33, sizeof(b));
	for (off = MIB; off < 2 * MIB && q2t_file_size(img) <= rb1 + 512; off += sizeof(b))
		if (!CHECK_EQ_U64(wr(d, off, b, sizeof(b)), 0))
			break;
	CHECK_EQ_U64(q2t_get_be64(img, q2t_get_be64(img, 48) + 8), rb1);
	{
		int fd = open(img, O_RDONLY);

		CHECK(fd >= 0 && pread(fd, before, sizeof(before), rb1) == sizeof(before));
		if (fd >= 0)
			close(fd);
	}
	saved = q2t_stderr_to(log);
	r = wr(d, 512, b, 512);
	disk_close(d);
	q2t_stderr_back(saved);
	CHECK_EQ_U64(r, (uint64_t)-EIO);
	after = q2t_read_file(img, NULL);
	if (CHECK(after)) {
		CHECK_MEM(after + rb1, before, sizeof(before));
		CHECK_EQ_U64(after[79] & 2, 2);
	}
	check_one_line(log, img, __LINE__, "refcount block at 0x20000", "marked corrupt", NULL);
out:
	free(after);
	q2t_rmdir(dir);
}

/* an L1 or refcount table entry naming other metadata: no writable open */
TEST(qcow2, overlap_tables_on_tables_refused_for_writing)
{
	char *dir = q2t_mkdir(), img[512], msg[512];
	uint64_t l1, l2a, l2b, rt, rb;
	struct disk *d;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "t.qcow2");
	if (!RUN("qemu-img create -f qcow2 -o cluster_size=4096 '%s' 4M && "
		 "qemu-io -f qcow2 -c 'write -P 0x5a 0 64k' -c 'write -P 0x5b 2M 4k' '%s'", img, img))
		goto out;
	l1 = q2t_get_be64(img, 40);
	l2a = q2t_get_be64(img, l1);
	l2b = q2t_get_be64(img, l1 + 8);
	rt = q2t_get_be64(img, 48);
	rb = q2t_get_be64(img, rt);
	/* an L2 table that is the refcount block, or the L1 table */
	CHECK(q2t_put_be64(img, l1 + 8, COPIED | rb));
	if (open_msg(img, false, msg, sizeof(msg), __LINE__)) {
		CHECK_CONTAINS(msg, "L2 table");
		CHECK_CONTAINS(msg, "overlaps the refcount block");
		CHECK_CONTAINS(msg, "qemu-img check -r all");
	}
	d = OPEN(img, true);
	disk_close(d);
	CHECK(q2t_put_be64(img, l1 + 8, COPIED | l1));
	if (open_msg(img, false, msg, sizeof(msg), __LINE__))
		CHECK_CONTAINS(msg, "overlaps the L1 table");
	/* one L2 table for two L1 entries */
	CHECK(q2t_put_be64(img, l1 + 8, l2a));
	if (open_msg(img, false, msg, sizeof(msg), __LINE__))
		CHECK_CONTAINS(msg, "two qcow2 L1 entries");
	d = OPEN(img, true);
	disk_close(d);
	CHECK(q2t_put_be64(img, l1 + 8, l2b));
	/* one refcount block for two ranges */
	CHECK(q2t_put_be64(img, rt + 8, rb));
	if (open_msg(img, false, msg, sizeof(msg), __LINE__))
		CHECK_CONTAINS(msg, "two qcow2 refcount table entries");
	CHECK(q2t_put_be64(img, rt + 8, 0));
	d = OPEN(img, false);
	disk_close(d);
out:
	q2t_rmdir(dir);
}

TEST(qcow2, backing_errors_loops_and_depth)
{
	char *dir = q2t_mkdir(), p[512], q[512];
	int i;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	/* missing backing file: names it */
	PATH(p, dir, "nob.qcow2");
	if (!RUN("cd '%s' && qemu-img create -f qcow2 -u -b gone.raw -F raw nob.qcow2 1M", dir))
		goto out;
	OPEN_FAILS(p, true, "gone.raw");
	/* a chain of 10 levels is refused, 8 below the top is fine */
	if (!RUN("cd '%s' && qemu-img create -f raw l0 1M", dir))
		goto out;
	for (i = 1; i <= 9; i++)
		if (!RUN("cd '%s' && qemu-img create -f qcow2 -b l%d -F %s l%d 1M", dir, i - 1,
			 i == 1 ? "raw" : "qcow2", i))
			goto out;
	{
		struct disk *d = OPEN(PATH(p, dir, "l8"), true);

		disk_close(d);
	}
	OPEN_FAILS(PATH(p, dir, "l9"), true, "backing files");
	/* a loop: x -> y -> z, z a link to x */
	if (!RUN("cd '%s' && qemu-img create -f qcow2 z 1M && "
		 "qemu-img create -f qcow2 -b z -F qcow2 y 1M && "
		 "qemu-img create -f qcow2 -b y -F qcow2 x 1M && rm z && ln -s x z", dir))
		goto out;
	OPEN_FAILS(PATH(q, dir, "x"), true, "backing");
	OPEN_FAILS(PATH(q, dir, "x"), false, "backing");
	/* a backing format lkvm does not read */
	if (RUN("cd '%s' && qemu-img create -f qcow2 -u -b l0 -F vmdk vm.qcow2 1M", dir))
		OPEN_FAILS(PATH(q, dir, "vm.qcow2"), true, "vmdk");
out:
	q2t_rmdir(dir);
}

TEST(qcow2, bounds_and_ro)
{
	char *dir = q2t_mkdir(), img[512];
	uint8_t b[1024] = { 0 };
	struct disk *d;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "b.qcow2");
	/* qemu-img rounds sizes up to a sector */
	if (!RUN("qemu-img create -f qcow2 '%s' 1000448", img))
		goto out;
	d = OPEN(img, false);
	if (d) {
		CHECK_EQ_U64(d->size, 1000448);
		CHECK_EQ_U64(rd(d, 1000448 - 1024, b, 1024), 0);
		CHECK_EQ_U64(rd(d, 1000448 - 1023, b, 1024), (uint64_t)-EIO);
		CHECK_EQ_U64(wr(d, 1000448, b, 1), (uint64_t)-EIO);
		CHECK_EQ_U64(wr(d, UINT64_MAX - 10, b, 100), (uint64_t)-EIO);
		CHECK_EQ_U64(d->ops->discard(d, 1000447, 2), (uint64_t)-EIO);
		CHECK_EQ_U64(d->ops->write_zeroes(d, UINT64_MAX, 2, true), (uint64_t)-EIO);
		disk_close(d);
	}
	d = OPEN(img, true);
	if (d) {
		int flags = fcntl(d->fd, F_GETFL);

		CHECK_EQ_U64(flags & O_ACCMODE, O_RDONLY);
		CHECK_EQ_U64(wr(d, 0, b, 512), (uint64_t)-EROFS);
		CHECK_EQ_U64(d->ops->discard(d, 0, 65536), (uint64_t)-EROFS);
		CHECK_EQ_U64(d->ops->write_zeroes(d, 0, 512, false), (uint64_t)-EROFS);
		CHECK_EQ_U64(d->ops->flush(d), 0);
		disk_close(d);
	}
out:
	q2t_rmdir(dir);
}

/* ---- locking ---- */

static void lock_case(const char *img)
{
	struct disk *a, *b;

	a = OPEN(img, false);
	if (!a)
		return;
	OPEN_FAILS(img, false, "in use by another process (locked)");
	OPEN_FAILS(img, true, "in use by another process (locked)");
	disk_close(a);
	a = OPEN(img, true);
	b = OPEN(img, true);
	CHECK(a && b);
	OPEN_FAILS(img, false, "in use by another process (locked)");
	disk_close(a);
	disk_close(b);
	/* all gone: writable again */
	a = OPEN(img, false);
	disk_close(a);
}

TEST(qcow2, lock_qcow2_and_raw)
{
	char *dir = q2t_mkdir(), img[512], raw[512], top[512];
	struct disk *d;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto out;
	PATH(img, dir, "l.qcow2");
	PATH(raw, dir, "l.raw");
	PATH(top, dir, "top.qcow2");
	if (!RUN("qemu-img create -f qcow2 '%s' 1M && qemu-img create -f raw '%s' 1M", img, raw) ||
	    !RUN("cd '%s' && qemu-img create -f qcow2 -b l.raw -F raw top.qcow2 1M", dir))
		goto out;
	lock_case(img);
	lock_case(raw);
	/* a backing file is shared read-only: two overlays over one base */
	d = OPEN(top, false);
	if (d) {
		struct disk *r = OPEN(raw, true);

		disk_close(r);
		OPEN_FAILS(raw, false, "in use");
		disk_close(d);
	}
out:
	q2t_rmdir(dir);
}

/* lkvm and QEMU see each other's locks */
TEST(qcow2, lock_interop_with_qemu)
{
	char *dir = q2t_mkdir(), img[512], out[2048];
	struct disk *d;
	FILE *qio;
	int i, fd;

	REQUIRE(dir);
	if (!q2t_need_qemu())
		goto done;
	PATH(img, dir, "q.qcow2");
	if (!RUN("qemu-img create -f qcow2 '%s' 1M", img))
		goto done;
	d = OPEN(img, false);
	if (d) {
		CHECK(q2t_sh(out, sizeof(out), "qemu-img info '%s'", img) != 0);
		CHECK_CONTAINS(out, "lock");
		CHECK(q2t_sh(out, sizeof(out), "qemu-io -f qcow2 -c 'read 0 512' '%s'", img) != 0);
		disk_close(d);
	}
	d = OPEN(img, true);
	if (d) {
		/* QEMU readers share with lkvm readers, writers do not */
		CHECK(q2t_sh(out, sizeof(out), "qemu-img info '%s'", img) == 0);
		CHECK(q2t_sh(out, sizeof(out), "qemu-io -f qcow2 -c 'write 0 512' '%s'", img) != 0);
		disk_close(d);
	}
	/* qemu-io holding the image for writing, waiting on its stdin */
	fflush(stdout);
	setenv("QIMG", img, 1);
	qio = popen("exec qemu-io -f qcow2 \"$QIMG\" >/dev/null 2>&1", "w");
	if (!CHECK(qio))
		goto done;
	fd = open(img, O_RDONLY);
	for (i = 0; fd >= 0 && i < 500; i++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 101,
				    .l_len = 1 };

		if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			break;
		usleep(10000);
	}
	if (fd >= 0)
		close(fd);
	CHECK(i < 500);
	OPEN_FAILS(img, false, "in use by another process (locked)");
	OPEN_FAILS(img, true, "in use by another process (locked)");
	fputs("quit\n", qio);
	pclose(qio);
	d = OPEN(img, false);
	disk_close(d);
done:
	q2t_rmdir(dir);
}

/* ---- a writer killed mid-stream leaves no corruption ---- */

#define K_SLOT 8192ULL
#define K_SLOTS 1024ULL
#define K_SIZE (K_SLOT * K_SLOTS)

struct kop {
	uint64_t slot;
	bool discard;
	uint8_t pat;
};

static struct kop kill_op(uint64_t seed, uint64_t i)
{
	uint64_t s = seed ^ (i * 0x9e3779b97f4a7c15ULL) ^ 0x5555;
	struct kop k;

	q2t_rand(&s);
	k.slot = q2t_rand(&s) % K_SLOTS;
	k.discard = i % 7 == 6;
	k.pat = (uint8_t)(1 + i % 250);
	return k;
}

static void kill_child(const char *img, uint64_t seed, int report)
{
	struct disk_opts o = { 0 };
	struct lkvm_err e;
	struct disk *d;
	uint8_t buf[5000];
	uint64_t i;

	if (disk_open(&d, img, &o, &e))
		_exit(2);
	for (i = 0;; i++) {
		struct kop k = kill_op(seed, i);
		int r;

		if (k.discard) {
			r = d->ops->discard(d, k.slot * K_SLOT, K_SLOT);
		} else {
			memset(buf, k.pat, sizeof(buf));
			r = wr(d, k.slot * K_SLOT + 100, buf, sizeof(buf));
		}
		if (r)
			_exit(3);
		if (i % 4 == 3) {
			if (d->ops->flush(d))
				_exit(4);
			/* every op up to i is durable */
			if (write(report, &i, sizeof(i)) != sizeof(i))
				_exit(5);
		}
	}
}

static void kill_round(const char *dir, const char *opts, uint64_t seed, unsigned int after)
{
	char img[512], out[4096];
	uint64_t last = 0, i, got = 0;
	uint8_t *raw;
	size_t len;
	int p[2], st;
	pid_t pid;

	PATH(img, dir, "k.qcow2");
	unlink(img);
	if (!RUN("qemu-img create -f qcow2 -o %s '%s' %llu", opts, img, (unsigned long long)K_SIZE))
		return;
	REQUIRE(pipe(p) == 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		kill_child(img, seed, p[1]);
		_exit(0);
	}
	close(p[1]);
	while (got < after && read(p[0], &last, sizeof(last)) == sizeof(last))
		got++;
	/* somewhere in the middle of whatever it does next */
	usleep(seed % 3000);
	kill(pid, SIGKILL);
	while (read(p[0], &i, sizeof(i)) == sizeof(i))
		last = i;
	close(p[0]);
	waitpid(pid, &st, 0);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL || got != after) {
		test_fail(__FILE__, __LINE__, "writer %s %d after %llu reports",
			  WIFSIGNALED(st) ? "killed by signal" : "exited with",
			  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), (unsigned long long)got);
		return;
	}
	st = q2t_check(img, out, sizeof(out));
	if (getenv("Q2DEBUG"))
		fprintf(stderr, "kill after %llu: check %d %s\n", (unsigned long long)last, st, out);
	if (!CHECK(st == 0 || st == 3) || !CHECK(!strstr(out, "ERROR")))
		test_fail(__FILE__, __LINE__, "after kill -9: qemu-img check exit %d: %s", st, out);
	/* every flushed op is there; slots touched after it may be either way */
	raw = q2t_to_raw(img, dir, &len);
	if (!raw || !CHECK_EQ_U64(len, K_SIZE)) {
		free(raw);
		return;
	}
	{
		int64_t *final = malloc(K_SLOTS * sizeof(*final));
		bool *unsure = calloc(K_SLOTS, sizeof(*unsure));

		for (i = 0; final && i < K_SLOTS; i++)
			final[i] = -1;
		for (i = 0; final && unsure && i <= last + 64; i++) {
			struct kop k = kill_op(seed, i);

			if (i <= last)
				final[k.slot] = (int64_t)i;
			else
				unsure[k.slot] = true;
		}
		for (i = 0; final && unsure && i < K_SLOTS; i++) {
			const uint8_t *s = raw + i * K_SLOT;
			uint8_t want = 0;
			size_t j;

			if (unsure[i] || final[i] < 0)
				continue;
			if (!kill_op(seed, final[i]).discard)
				want = kill_op(seed, final[i]).pat;
			for (j = 100; j < 5100; j++)
				if (s[j] != want)
					break;
			if (j < 5100) {
				test_fail(__FILE__, __LINE__, "slot %llu byte %zu: 0x%02x, not 0x%02x (op %lld)",
					  (unsigned long long)i, j, s[j], want, (long long)final[i]);
				break;
			}
		}
		free(final);
		free(unsure);
	}
	free(raw);
	/* lkvm opens it again and goes on writing */
	{
		struct disk *d = OPEN(img, false);
		uint8_t b[4096];

		memset(b, 0xee, sizeof(b));
		if (d) {
			CHECK_EQ_U64(wr(d, 12345, b, sizeof(b)), 0);
			disk_close(d);
		}
		st = q2t_check(img, out, sizeof(out));
		if (!CHECK(st == 0 || st == 3))
			test_fail(__FILE__, __LINE__, "qemu-img check exit %d: %s", st, out);
	}
}

TEST(qcow2, kill9_mid_write_no_corruption)
{
	char *dir = q2t_mkdir();
	static const struct {
		const char *opts;
		unsigned int after;
	} rounds[] = {
		{ "compat=1.1,cluster_size=1024", 30 },
		{ "compat=1.1,cluster_size=512,refcount_bits=64", 200 },
		{ "compat=0.10,cluster_size=4096", 120 },
		{ "compat=1.1,cluster_size=512", 400 },
		{ "compat=1.1,cluster_size=2048,refcount_bits=2", 77 },
	};
	unsigned int i;

	REQUIRE(dir);
	if (q2t_need_qemu())
		for (i = 0; i < sizeof(rounds) / sizeof(rounds[0]); i++)
			kill_round(dir, rounds[i].opts, 1000 + i * 777, rounds[i].after);
	q2t_rmdir(dir);
}
