// SPDX-License-Identifier: GPL-2.0
/*
 * -d specs, format detection and image locking; the formats live in raw.c
 * and qcow2*.c behind struct disk_ops.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"

static const char qcow2_magic[4] = { 'Q', 'F', 'I', (char)0xfb };

int disk_parse_spec(const char *spec, char **path, struct disk_opts *opts, struct lkvm_err *e)
{
	const char *comma = strchr(spec, ',');
	size_t plen = comma ? (size_t)(comma - spec) : strlen(spec);

	memset(opts, 0, sizeof(*opts));
	if (!plen)
		return err_set(e, "-d %s: no file name", spec);
	while (comma) {
		const char *opt = comma + 1;
		size_t olen;

		comma = strchr(opt, ',');
		olen = comma ? (size_t)(comma - opt) : strlen(opt);
		if (olen == 2 && !strncmp(opt, "ro", 2)) {
			opts->ro = true;
		} else if (olen == 6 && !strncmp(opt, "direct", 6)) {
			opts->direct = true;
		} else if (olen >= 7 && !strncmp(opt, "format=", 7)) {
			const char *f = opt + 7;
			size_t flen = olen - 7;

			if (flen == 3 && !strncmp(f, "raw", 3))
				opts->format = DISK_FMT_RAW;
			else if (flen == 5 && !strncmp(f, "qcow2", 5))
				opts->format = DISK_FMT_QCOW2;
			else
				return err_set(e, "-d %s: unknown disk format '%.*s' (raw, qcow2)", spec,
					       (int)flen, f);
		} else {
			return err_set(e, "-d %s: unknown disk option '%.*s' (ro, direct, format=)",
				       spec, (int)olen, opt);
		}
	}
	*path = strndup(spec, plen);
	if (!*path)
		return err_set(e, "out of memory");
	return 0;
}

/*
 * QEMU's image locking (block/file-posix.c), so that lkvm and QEMU exclude
 * each other: an open file description holds a shared OFD lock on byte
 * 100 + i for each permission i it uses and on byte 200 + i for each one it
 * does not share with others, then looks for anyone else's lock on the
 * opposite bytes. i: 0 consistent read, 1 write, 2 write unchanged, 3 resize.
 * A writer uses read, write and resize and shares neither write nor resize;
 * a reader uses read and shares no write either, so readers share.
 */
#define LOCK_PERM_BASE 100
#define LOCK_SHARED_BASE 200
#define PERM_READ (1u << 0)
#define PERM_WRITE (1u << 1)
#define PERM_RESIZE (1u << 3)
#define PERM_BITS 4

/* 1: locked, 0: done, -errno: the file system has no OFD locks (or another error) */
static int lock_byte(int fd, off_t byte)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? 1 : -errno;
}

/* 1: another open file description holds a lock on byte, 0: none, -errno */
static int byte_taken(int fd, off_t byte)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

static int disk_lock(int fd, bool ro, const char *path, struct lkvm_err *e)
{
	unsigned int use = ro ? PERM_READ : PERM_READ | PERM_WRITE | PERM_RESIZE;
	unsigned int unshared = PERM_WRITE | PERM_RESIZE;
	unsigned int i;
	int r = 0;

	for (i = 0; i < PERM_BITS && r == 0; i++) {
		if (use & (1u << i))
			r = lock_byte(fd, LOCK_PERM_BASE + i);
		if (!r && (unshared & (1u << i)))
			r = lock_byte(fd, LOCK_SHARED_BASE + i);
	}
	for (i = 0; i < PERM_BITS && r == 0; i++) {
		if (use & (1u << i))
			r = byte_taken(fd, LOCK_SHARED_BASE + i);
		if (!r && (unshared & (1u << i)))
			r = byte_taken(fd, LOCK_PERM_BASE + i);
	}
	if (r == 1)
		return err_set(e, "disk %s is in use by another process (locked)", path);
	/* no OFD locks here (some network file systems): go on unlocked, like QEMU */
	return 0;
}

static int disk_probe(struct disk *d, const struct stat *st, enum disk_format *fmt)
{
	char magic[4];
	ssize_t n;

	if (*fmt != DISK_FMT_AUTO)
		return 0;
	/* a host block device is raw unless format= says otherwise */
	*fmt = DISK_FMT_RAW;
	if (!S_ISREG(st->st_mode))
		return 0;
	do {
		n = pread(d->lock_fd, magic, sizeof(magic), 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == sizeof(magic) && !memcmp(magic, qcow2_magic, sizeof(magic)))
		*fmt = DISK_FMT_QCOW2;
	else
		d->probed = true;
	return 0;
}

int disk_open_nested(struct disk **out, const char *path, const struct disk_opts *opts,
		     unsigned int depth, struct lkvm_err *e)
{
	enum disk_format fmt = opts->format;
	struct disk *d;
	struct stat st;
	int r;

	if (depth > DISK_MAX_BACKING_DEPTH)
		return err_set(e, "disk %s: more than %d backing files in a chain (a loop?)", path,
			       DISK_MAX_BACKING_DEPTH);
	d = calloc(1, sizeof(*d));
	if (!d)
		return err_set(e, "out of memory");
	d->fd = -1;
	d->lock_fd = -1;
	d->path = strdup(path);
	if (!d->path) {
		free(d);
		return err_set(e, "out of memory");
	}
	/* one descriptor for the format probe and the lock, kept while the disk is open */
	d->lock_fd = open(path, (opts->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (d->lock_fd < 0) {
		r = errno;
		err_errno(e, r, "cannot open disk %s%s", path,
			  !opts->ro && (r == EACCES || r == EROFS || r == EPERM)
				  ? " for writing (add ,ro to use it read-only)"
				  : "");
		goto fail;
	}
	if (fstat(d->lock_fd, &st) < 0) {
		err_errno(e, errno, "cannot stat disk %s", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		err_set(e, "disk %s is not a file or block device", path);
		goto fail;
	}
	if (disk_lock(d->lock_fd, opts->ro, path, e))
		goto fail;
	r = disk_probe(d, &st, &fmt);
	if (r) {
		err_errno(e, -r, "cannot read disk %s", path);
		goto fail;
	}
	if (fmt == DISK_FMT_QCOW2) {
		if (opts->direct) {
			err_set(e, "disk %s: direct is for raw images only (it is qcow2)", path);
			goto fail;
		}
		r = disk_qcow2_open(d, opts, depth, e);
	} else {
		r = disk_raw_open(d, opts, e);
	}
	if (r)
		goto fail;
	*out = d;
	return 0;
fail:
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	free(d->path);
	free(d);
	return -1;
}

int disk_open(struct disk **out, const char *path, const struct disk_opts *opts,
	      struct lkvm_err *e)
{
	return disk_open_nested(out, path, opts, 0, e);
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	if (d->ops && d->ops->close)
		d->ops->close(d);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	free(d->path);
	free(d);
}
