// SPDX-License-Identifier: GPL-2.0
/*
 * Raw images and host block devices. Buffered I/O with preadv/pwritev, or
 * O_DIRECT through libaio (`direct`), where requests that are not aligned
 * to the logical block size go through an aligned bounce buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "util.h"

struct raw_priv {
	io_context_t aio;
	bool have_aio;
	bool is_blkdev;
	int buffered_fd; /* direct: the same image without O_DIRECT, for its tail */
};

/* Loops over short transfers; -errno on error, -EIO at end of file. */
static int raw_rw_sync(int fd, uint64_t off, const struct iovec *iov, int n, size_t len, bool wr)
{
	struct iovec local[64];
	const struct iovec *cur = iov;
	int cn = n;
	size_t done = 0;

	while (done < len) {
		ssize_t r = wr ? pwritev(fd, cur, MIN(cn, IOV_MAX), off + done)
			       : preadv(fd, cur, MIN(cn, IOV_MAX), off + done);
		size_t skip;
		int i;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += r;
		if (done >= len)
			break;
		/* rebuild the remaining vector after a short transfer */
		skip = done;
		for (i = 0; i < n && skip >= iov[i].iov_len; i++)
			skip -= iov[i].iov_len;
		cn = MIN(n - i, (int)ARRAY_SIZE(local));
		memcpy(local, iov + i, cn * sizeof(*local));
		local[0].iov_base = (uint8_t *)local[0].iov_base + skip;
		local[0].iov_len -= skip;
		cur = local;
	}
	return 0;
}

static int raw_aio_one(struct disk *d, int op, uint64_t off, const struct iovec *iov, int n)
{
	struct raw_priv *p = d->priv;
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	size_t want = 0;
	int i, r;

	for (i = 0; i < n; i++)
		want += iov[i].iov_len;
	if (op == IO_CMD_PREADV)
		io_prep_preadv(&cb, d->fd, iov, n, off);
	else
		io_prep_pwritev(&cb, d->fd, iov, n, off);
	do {
		r = io_submit(p->aio, 1, cbs);
	} while (r == -EINTR || r == -EAGAIN);
	if (r != 1)
		return r < 0 ? r : -EIO;
	do {
		r = io_getevents(p->aio, 1, 1, &ev, NULL);
	} while (r == -EINTR);
	if (r != 1)
		return r < 0 ? r : -EIO;
	if ((long)ev.res < 0)
		return (int)(long)ev.res;
	/* a short transfer (end of the image) is an error, like in raw_rw_sync */
	return ev.res == want ? 0 : -EIO;
}

static bool raw_aligned(const struct disk *d, uint64_t off, const struct iovec *iov, int n,
			size_t len)
{
	uint32_t a = d->blk_size;
	int i;

	if (off % a || len % a)
		return false;
	for (i = 0; i < n; i++)
		if ((uintptr_t)iov[i].iov_base % a || iov[i].iov_len % a)
			return false;
	return true;
}

/* O_DIRECT needs aligned offset, length and memory: bounce what is not. */
static int raw_direct(struct disk *d, uint64_t off, const struct iovec *iov, int n, size_t len,
		      bool wr)
{
	uint64_t a = d->blk_size, start = ALIGN_DOWN(off, a), end = ALIGN_UP(off + len, a);
	struct iovec biov;
	uint8_t *bounce;
	size_t copied = 0;
	int i, r;

	if (raw_aligned(d, off, iov, n, len))
		return raw_aio_one(d, wr ? IO_CMD_PWRITEV : IO_CMD_PREADV, off, iov, n);
	/*
	 * An aligned span past the end of a file whose size is not a block
	 * multiple would read short, or grow the file on write: go buffered.
	 * Linux keeps the two coherent (O_DIRECT flushes/invalidates the range).
	 */
	if (end > d->size)
		return raw_rw_sync(((struct raw_priv *)d->priv)->buffered_fd, off, iov, n, len, wr);
	if (posix_memalign((void **)&bounce, a, end - start))
		return -ENOMEM;
	biov = (struct iovec){ .iov_base = bounce, .iov_len = end - start };
	/* reads, and writes that keep the edges: read the aligned span first */
	r = raw_aio_one(d, IO_CMD_PREADV, start, &biov, 1);
	if (!r) {
		for (i = 0; i < n; i++) {
			uint8_t *g = iov[i].iov_base, *h = bounce + (off - start) + copied;

			if (wr)
				memcpy(h, g, iov[i].iov_len);
			else
				memcpy(g, h, iov[i].iov_len);
			copied += iov[i].iov_len;
		}
		if (wr)
			r = raw_aio_one(d, IO_CMD_PWRITEV, start, &biov, 1);
	}
	free(bounce);
	return r;
}

static int raw_readv(struct disk *d, uint64_t off, const struct iovec *iov, int n, size_t len)
{
	if (d->direct)
		return raw_direct(d, off, iov, n, len, false);
	return raw_rw_sync(d->fd, off, iov, n, len, false);
}

/*
 * A raw image whose format was guessed must not start with the qcow2 magic
 * after a write: at the next start it would be opened as qcow2, with the
 * guest choosing its backing file on the host (QEMU refuses the same).
 */
static bool raw_write_makes_magic(struct disk *d, uint64_t off, const struct iovec *iov, int n,
				  size_t len)
{
	static const uint8_t magic[4] = { 'Q', 'F', 'I', 0xfb };
	uint8_t head[4] = { 0 };
	size_t pos = 0;
	int i;

	if (!d->probed || off >= sizeof(head) || !len)
		return false;
	if (pread(d->lock_fd, head, sizeof(head), 0) < 0)
		return true;
	for (i = 0; i < n && off + pos < sizeof(head) && pos < len; i++) {
		const uint8_t *b = iov[i].iov_base;
		size_t j;

		for (j = 0; j < iov[i].iov_len && off + pos < sizeof(head) && pos < len; j++, pos++)
			head[off + pos] = b[j];
	}
	return !memcmp(head, magic, sizeof(magic));
}

static int raw_writev(struct disk *d, uint64_t off, const struct iovec *iov, int n, size_t len)
{
	if (d->ro)
		return -EROFS;
	if (raw_write_makes_magic(d, off, iov, n, len))
		return -EPERM;
	if (d->direct)
		return raw_direct(d, off, iov, n, len, true);
	return raw_rw_sync(d->fd, off, iov, n, len, true);
}

static int raw_flush(struct disk *d)
{
	if (d->ro)
		return 0;
	return fdatasync(d->fd) < 0 ? -errno : 0;
}

static int raw_discard(struct disk *d, uint64_t off, uint64_t len)
{
	struct raw_priv *p = d->priv;

	if (d->ro)
		return -EROFS;
	if (p->is_blkdev) {
		uint64_t range[2] = { off, len };

		return ioctl(d->fd, BLKDISCARD, range) < 0 ? -errno : 0;
	}
	if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0)
		return errno == EOPNOTSUPP ? 0 : -errno; /* discard is advisory */
	return 0;
}

static int raw_write_zeroes(struct disk *d, uint64_t off, uint64_t len, bool may_unmap)
{
	struct raw_priv *p = d->priv;
	static const uint8_t zero[65536] __attribute__((aligned(4096)));
	uint64_t done = 0;

	if (d->ro)
		return -EROFS;
	if (p->is_blkdev) {
		uint64_t range[2] = { off, len };

		if (ioctl(d->fd, BLKZEROOUT, range) == 0)
			return 0;
	} else if (fallocate(d->fd, (may_unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) |
					    FALLOC_FL_KEEP_SIZE, off, len) == 0) {
		return 0;
	}
	/* the file system cannot: write zeroes */
	while (done < len) {
		struct iovec iov = { .iov_base = (void *)zero, .iov_len = MIN(len - done, sizeof(zero)) };
		int r = raw_writev(d, off + done, &iov, 1, iov.iov_len);

		if (r)
			return r;
		done += iov.iov_len;
	}
	return 0;
}

static void raw_close(struct disk *d)
{
	struct raw_priv *p = d->priv;

	if (p && p->have_aio)
		io_destroy(p->aio);
	if (p && p->buffered_fd >= 0)
		close(p->buffered_fd);
	free(p);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static const struct disk_ops raw_ops = {
	.name = "raw",
	.readv = raw_readv,
	.writev = raw_writev,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
	.close = raw_close,
};

int disk_raw_open(struct disk *d, const struct disk_opts *opts, struct lkvm_err *e)
{
	struct raw_priv *p;
	struct stat st;
	int flags = (opts->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | (opts->direct ? O_DIRECT : 0);
	int r;

	d->fd = open(d->path, flags);
	if (d->fd < 0) {
		r = errno;
		/* a read-only file or device: say how to use it anyway */
		return err_errno(e, r, "cannot open disk %s%s", d->path,
				 opts->direct && r == EINVAL
					 ? " with O_DIRECT (its file system has none: drop ,direct)"
				 : !opts->ro && (r == EACCES || r == EROFS || r == EPERM)
					 ? " for writing (add ,ro to use it read-only)"
					 : "");
	}
	if (fstat(d->fd, &st) < 0) {
		r = errno;
		close(d->fd);
		return err_errno(e, r, "cannot stat disk %s", d->path);
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(d->fd);
		return err_set(e, "out of memory");
	}
	p->buffered_fd = -1;
	d->priv = p;
	d->ops = &raw_ops;
	d->ro = opts->ro;
	d->direct = opts->direct;
	d->blk_size = 512;
	if (S_ISBLK(st.st_mode)) {
		p->is_blkdev = true;
		if (ioctl(d->fd, BLKGETSIZE64, &d->size) < 0) {
			r = errno;
			raw_close(d);
			return err_errno(e, r, "cannot size block device %s", d->path);
		}
		if (opts->direct) {
			int ss;

			if (ioctl(d->fd, BLKSSZGET, &ss) == 0 && ss >= 512)
				d->blk_size = ss;
		}
	} else if (S_ISREG(st.st_mode)) {
		d->size = st.st_size;
	} else {
		raw_close(d);
		return err_set(e, "disk %s is not a file or block device", d->path);
	}
	if (opts->direct) {
		r = io_setup(16, &p->aio);
		if (r) {
			raw_close(d);
			return err_errno(e, -r, "io_setup for disk %s", d->path);
		}
		p->have_aio = true;
		p->buffered_fd = open(d->path, (opts->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (p->buffered_fd < 0) {
			r = errno;
			raw_close(d);
			return err_errno(e, r, "cannot open disk %s", d->path);
		}
		/* O_DIRECT on a 4K-sector host file system wants 4K */
		if (!p->is_blkdev)
			d->blk_size = 4096;
	}
	return 0;
}
