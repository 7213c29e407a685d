// SPDX-License-Identifier: GPL-2.0
/*
 * The qcow2 reader and writer (disk/qcow2*.c) on hostile images: the
 * header, its extensions, the L1, L2 and refcount tables, compressed
 * clusters, backing files. The input is
 *
 *   flags[1] nops[1] op[12] * nops  image (the rest)
 *
 * flags: bit 0 read-only, bit 1 format probed (else format=qcow2).
 * op: kind[1] x[1] len[2] off[8], I/O as virtio-blk issues it (bounded
 * like blk.c bounds it). The image is written to the scratch directory,
 * next to base.raw and base.qcow2, which it may name as its backing file.
 *
 * Besides the I/O results: the header cluster never takes guest data (over
 * it, a guest names any host file as the backing file), and once lkvm has
 * marked the image corrupt no write, discard or write zeroes succeeds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "disk.h"
#include "fuzz_common.h"
#include "util.h"

#define QF_MAX_OPS 32
#define QF_MAX_DWZ (1ULL << 31) /* blk.c: BLK_MAX_DWZ_SECTORS * 512 */
#define QF_BASE_SIZE 0x20000

enum { OP_READ, OP_WRITE, OP_FLUSH, OP_DISCARD, OP_ZEROES, OP_COUNT };

static void qf_base_files(void)
{
	static const char *const names[] = { "base.raw", "base.qcow2" };
	char path[256];
	uint8_t *buf = malloc(QF_BASE_SIZE);
	unsigned int i;

	if (!buf)
		abort();
	for (i = 0; i < QF_BASE_SIZE; i++)
		buf[i] = (uint8_t)(i * 7 + (i >> 9));
	snprintf(path, sizeof(path), "%s/%s", fz_scratch(), names[0]);
	if (fz_write_file(path, buf, QF_BASE_SIZE))
		abort();
	/* base.qcow2: not a valid image unless the fuzzer writes one; a raw by probe */
	snprintf(path, sizeof(path), "%s/%s", fz_scratch(), names[1]);
	if (fz_write_file(path, buf, 4096))
		abort();
	free(buf);
}

/* An offset near the disk's end as often as near its start, sometimes anything. */
static uint64_t qf_off(const struct disk *d, uint64_t raw)
{
	if (raw >> 63)
		return raw << 1;
	if (raw >> 62)
		return d->size - (raw & 0xffffff) % (d->size + 1);
	return (raw & 0x3fffffffffffffffULL) % (d->size + 1);
}

static int qf_rw(struct disk *d, bool wr, uint64_t off, size_t len, uint8_t x)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct iovec iov[3];
	size_t cut1 = len ? (size_t)x % (len + 1) : 0, cut2 = cut1 + (len - cut1) / 2;
	int n = 0, r;

	if (!buf)
		return 0;
	memset(buf, x, len);
	/* one to three pieces, as a chain of guest buffers arrives */
	if (cut1)
		iov[n++] = (struct iovec){ buf, cut1 };
	if (cut2 > cut1)
		iov[n++] = (struct iovec){ buf + cut1, cut2 - cut1 };
	if (len > cut2)
		iov[n++] = (struct iovec){ buf + cut2, len - cut2 };
	r = wr ? d->ops->writev(d, off, iov, n, len) : d->ops->readv(d, off, iov, n, len);
	if (!wr && !r)
		fz_touch(buf, len);
	free(buf);
	return r;
}

static uint32_t qf_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* the first len bytes of path into buf (the file never shrinks) */
static void qf_read(const char *path, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	FZ_ASSERT(fd >= 0);
	FZ_ASSERT(pread(fd, buf, len, 0) == (ssize_t)len);
	close(fd);
}

/* a v3 image that lkvm has marked corrupt (incompatible feature bit 1) since img */
static bool qf_marked(const char *path, const uint8_t *img)
{
	uint8_t hdr[80];

	qf_read(path, hdr, sizeof(hdr));
	return (hdr[79] & 2) && !(img[79] & 2);
}

/*
 * The header cluster as the input had it, but for what lkvm writes there:
 * the refcount table's place (it grows), and in v3 the corrupt bit and the
 * autoclear bits (cleared).
 */
static void qf_header_kept(const char *path, const uint8_t *img, size_t n)
{
	size_t len = MIN(n, (size_t)1 << qf_be32(img + 20)), i;
	bool v3 = qf_be32(img + 4) == 3;
	uint8_t *now = malloc(len);

	if (!now)
		return;
	qf_read(path, now, len);
	for (i = 0; i < len; i++) {
		if (i >= 48 && i < 60)
			continue;
		if (v3 && i >= 72 && i < 80)
			FZ_ASSERT(now[i] == img[i] || (i == 79 && now[i] == (img[i] | 2)));
		else if (v3 && i >= 88 && i < 96)
			FZ_ASSERT(now[i] == img[i] || !now[i]);
		else
			FZ_ASSERT(now[i] == img[i]);
	}
	free(now);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	qf_base_files();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	uint8_t flags = fz_u8(&in), nops = fz_u8(&in) % (QF_MAX_OPS + 1), op[12];
	struct disk_opts opts = { .ro = flags & 1, .format = flags & 2 ? DISK_FMT_AUTO : DISK_FMT_QCOW2 };
	const uint8_t *ops = in.p;
	int fds = fz_fd_mark();
	struct lkvm_err e;
	struct disk *d;
	char path[256];
	uint64_t size0;
	unsigned int i;
	bool writable, v3, marked = false;

	if (in.n < (size_t)nops * 12)
		nops = in.n / 12;
	in.p += nops * 12;
	in.n -= nops * 12;
	snprintf(path, sizeof(path), "%s/img.qcow2", fz_scratch());
	if (fz_write_file(path, in.p, in.n))
		abort();
	if (disk_open(&d, path, &opts, &e))
		goto out;
	size0 = d->size;
	FZ_ASSERT(d->ro == opts.ro);
	/*
	 * probed as raw: not this target's business (the raw backend trusts
	 * blk.c's range checks; the mmio target drives it through them)
	 */
	if (strcmp(d->ops->name, "qcow2"))
		nops = 0;
	/* a qcow2 image lkvm opened has its whole header (past byte 100 if v3) */
	writable = !opts.ro && !strcmp(d->ops->name, "qcow2");
	v3 = writable && qf_be32(in.p + 4) == 3;
	for (i = 0; i < nops; i++) {
		uint64_t off, len;
		int r = 0;

		memcpy(op, ops + 12 * i, 12);
		len = (uint64_t)op[2] | (uint64_t)op[3] << 8;
		off = 0;
		memcpy(&off, op + 4, 8);
		off = qf_off(d, off);
		switch (op[0] % OP_COUNT) {
		case OP_READ:
			r = qf_rw(d, false, off, len, op[1]);
			break;
		case OP_WRITE:
			r = qf_rw(d, true, off, len, op[1]);
			FZ_ASSERT(!opts.ro || r);
			break;
		case OP_FLUSH:
			r = d->ops->flush(d);
			break;
		case OP_DISCARD:
			len = ((uint64_t)op[1] << 24 | len << 8) % QF_MAX_DWZ;
			r = d->ops->discard(d, off, len);
			break;
		case OP_ZEROES:
			len = ((uint64_t)op[1] << 24 | len << 8) % QF_MAX_DWZ;
			r = d->ops->write_zeroes(d, off, len, op[1] & 1);
			break;
		}
		/* 0 or a negative errno, nothing else */
		FZ_ASSERT(r <= 0 && r > -4096);
		FZ_ASSERT(d->size == size0);
		/* marked corrupt: "must not be written to" */
		if (marked && op[0] % OP_COUNT != OP_READ && op[0] % OP_COUNT != OP_FLUSH)
			FZ_ASSERT(r);
		if (v3 && !marked)
			marked = qf_marked(path, in.p);
	}
	disk_close(d);
	if (writable)
		qf_header_kept(path, in.p, in.n);
out:
	fz_fd_check(fds);
	return 0;
}
