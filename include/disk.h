/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_DISK_H
#define LKVM_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "err.h"

struct disk;

/* A disk image format or backend; knows nothing of virtio. Offsets in bytes. */
struct disk_ops {
	const char *name;
	/* return 0 or -errno; short transfers are errors (the device reports IOERR) */
	int (*readv)(struct disk *d, uint64_t off, const struct iovec *iov, int n, size_t len);
	int (*writev)(struct disk *d, uint64_t off, const struct iovec *iov, int n, size_t len);
	int (*flush)(struct disk *d);
	int (*discard)(struct disk *d, uint64_t off, uint64_t len);
	int (*write_zeroes)(struct disk *d, uint64_t off, uint64_t len, bool may_unmap);
	void (*close)(struct disk *d);
};

struct disk_opts {
	bool ro;
	bool direct; /* O_DIRECT through libaio */
};

struct disk {
	const struct disk_ops *ops;
	char *path;
	uint64_t size;      /* bytes */
	uint32_t blk_size;  /* logical block size (512, or the device's for direct) */
	bool ro;
	bool direct;
	int fd;
	void *priv;
};

/* Parses "FILE[,ro][,direct]". */
int disk_parse_spec(const char *spec, char **path, struct disk_opts *opts, struct lkvm_err *e);
/* Opens a raw image or host block device; never opens it writable when ro. */
int disk_open(struct disk **out, const char *path, const struct disk_opts *opts,
	      struct lkvm_err *e);
void disk_close(struct disk *d);

int disk_raw_open(struct disk *d, const struct disk_opts *opts, struct lkvm_err *e);

#endif
