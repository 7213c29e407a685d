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
	/* every write acknowledged before it, data and metadata, is durable */
	int (*flush)(struct disk *d);
	int (*discard)(struct disk *d, uint64_t off, uint64_t len);
	int (*write_zeroes)(struct disk *d, uint64_t off, uint64_t len, bool may_unmap);
	void (*close)(struct disk *d);
};

enum disk_format {
	DISK_FMT_AUTO = 0, /* qcow2 if the file starts with its magic, else raw */
	DISK_FMT_RAW,
	DISK_FMT_QCOW2,
};

struct disk_opts {
	bool ro;
	bool direct; /* O_DIRECT through libaio (raw only) */
	enum disk_format format;
};

struct disk {
	const struct disk_ops *ops;
	char *path;
	uint64_t size;      /* bytes the guest sees */
	uint32_t blk_size;  /* logical block size (512, or the device's for direct) */
	bool ro;
	bool direct;
	/* raw by guess (no format=): a write may not make it start like an image format */
	bool probed;
	int fd;
	int lock_fd;        /* holds the image lock for the disk's lifetime */
	void *priv;
};

/* Longest chain of backing files below an image. */
#define DISK_MAX_BACKING_DEPTH 8

/* Parses "FILE[,ro][,direct][,format=raw|qcow2]". */
int disk_parse_spec(const char *spec, char **path, struct disk_opts *opts, struct lkvm_err *e);
/*
 * Opens a raw image, host block device or qcow2 image; never opens it
 * writable when ro. The image is locked like QEMU locks it: writable opens
 * exclude each other and read-only ones; read-only opens share.
 */
int disk_open(struct disk **out, const char *path, const struct disk_opts *opts,
	      struct lkvm_err *e);
/* disk_open for a backing file depth levels below the image the guest sees */
int disk_open_nested(struct disk **out, const char *path, const struct disk_opts *opts,
		     unsigned int depth, struct lkvm_err *e);
void disk_close(struct disk *d);

/* Backends: d->path, d->lock_fd are set; they fill the rest. */
int disk_raw_open(struct disk *d, const struct disk_opts *opts, struct lkvm_err *e);
int disk_qcow2_open(struct disk *d, const struct disk_opts *opts, unsigned int depth,
		    struct lkvm_err *e);

#endif
