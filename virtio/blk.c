// SPDX-License-Identifier: GPL-2.0
/* virtio-blk (virtio 1.2, 5.2) over a disk/ backend. */
#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "endian_util.h"
#include "util.h"
#include "virtio_devs.h"

#define BLK_QUEUE_MAX 256
#define BLK_SEG_MAX (BLK_QUEUE_MAX - 2)
#define BLK_SECTOR 512ULL
#define BLK_HDR_SIZE 16
#define BLK_SEG_SIZE 16 /* discard / write zeroes segment */
#define BLK_MAX_DWZ_SEGS 32
#define BLK_MAX_DWZ_SECTORS (1u << 22) /* 2 GiB per segment */
#define BLK_CONFIG_SIZE 60

struct virtio_blk {
	struct virtio_mmio_dev dev;
	struct disk *disk;
	char id[VIRTIO_BLK_ID_BYTES];
	struct iovec data[VQ_MAX_IOV]; /* the data part of one request */
};

static void blk_config_encode(struct virtio_dev *vdev, enum vq_endian e, uint8_t *c)
{
	struct virtio_blk *b = vdev->priv;

	/* 5.2.4: struct virtio_blk_config, field by field in byte order e */
	ve_put64(e, c + 0, b->disk->size / BLK_SECTOR);
	ve_put32(e, c + 12, BLK_SEG_MAX);
	ve_put32(e, c + 20, b->disk->blk_size);
	ve_put32(e, c + 36, BLK_MAX_DWZ_SECTORS);
	ve_put32(e, c + 40, BLK_MAX_DWZ_SEGS);
	ve_put32(e, c + 44, b->disk->blk_size / BLK_SECTOR);
	ve_put32(e, c + 48, BLK_MAX_DWZ_SECTORS);
	ve_put32(e, c + 52, BLK_MAX_DWZ_SEGS);
	c[56] = 1; /* write_zeroes_may_unmap */
}

/* [sector, sector + bytes/512) inside the disk, overflow-safe */
static bool blk_in_range(const struct virtio_blk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t cap = b->disk->size / BLK_SECTOR;

	return sector <= cap && bytes / BLK_SECTOR <= cap - sector;
}

/* Builds b->data: len bytes of elem's iovs starting at byte skip of the out or in side. */
static int blk_data_iov(struct virtio_blk *b, const struct iovec *iov, unsigned int n,
			size_t skip, size_t len)
{
	unsigned int i;
	int cnt = 0;

	for (i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len, c;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		c = MIN(l - skip, len);
		b->data[cnt++] = (struct iovec){ .iov_base = (uint8_t *)iov[i].iov_base + skip,
						 .iov_len = c };
		len -= c;
		skip = 0;
	}
	return cnt;
}

static uint8_t blk_errno_status(int r)
{
	return r == 0 ? VIRTIO_BLK_S_OK : r == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
}

static uint8_t blk_dwz(struct virtio_blk *b, struct virtqueue *vq, struct vq_elem *elem,
		       uint32_t type)
{
	uint64_t len = elem->out_len - BLK_HDR_SIZE, i;
	uint8_t seg[BLK_SEG_SIZE];

	if (b->disk->ro)
		return VIRTIO_BLK_S_IOERR;
	if (len % BLK_SEG_SIZE || len / BLK_SEG_SIZE > BLK_MAX_DWZ_SEGS)
		return VIRTIO_BLK_S_UNSUPP;
	for (i = 0; i < len / BLK_SEG_SIZE; i++) {
		uint64_t sector;
		uint32_t nsect, flags;
		int r;

		vq_iov_read(elem->iov, elem->out_num, BLK_HDR_SIZE + i * BLK_SEG_SIZE, seg, sizeof(seg));
		/*
		 * virtio 1.2 5.2.6: the segment's fields are le64/le32 on every
		 * transport; Linux and QEMU use LE even on legacy BE rings (found
		 * by tests/soak: a BE legacy guest's every discard failed).
		 */
		sector = get_le64(seg);
		nsect = get_le32(seg + 8);
		flags = get_le32(seg + 12);
		if (nsect > BLK_MAX_DWZ_SECTORS || !blk_in_range(b, sector, nsect * BLK_SECTOR))
			return VIRTIO_BLK_S_IOERR;
		if (type == VIRTIO_BLK_T_DISCARD) {
			if (flags)
				return VIRTIO_BLK_S_UNSUPP;
			r = b->disk->ops->discard(b->disk, sector * BLK_SECTOR, nsect * BLK_SECTOR);
		} else {
			if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
				return VIRTIO_BLK_S_UNSUPP;
			r = b->disk->ops->write_zeroes(b->disk, sector * BLK_SECTOR, nsect * BLK_SECTOR,
						       flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
		}
		if (r)
			return blk_errno_status(r);
	}
	return VIRTIO_BLK_S_OK;
}

/* One request (5.2.6): header, data, status byte. Returns the used length. */
static long blk_request(struct virtio_dev *vdev, struct virtqueue *vq, struct vq_elem *elem)
{
	struct virtio_blk *b = vdev->priv;
	uint8_t hdr[BLK_HDR_SIZE], status;
	uint64_t sector, len;
	uint32_t type, written = 0;
	int n, r;

	/* a request needs its header and a writable status byte */
	if (elem->out_len < BLK_HDR_SIZE || elem->in_len < 1)
		return -1;
	vq_iov_read(elem->iov, elem->out_num, 0, hdr, sizeof(hdr));
	type = vq_read32(vq, hdr);
	sector = vq_read64(vq, hdr + 8);

	switch (type) {
	case VIRTIO_BLK_T_IN:
		len = elem->in_len - 1;
		if (len % BLK_SECTOR || !blk_in_range(b, sector, len)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		n = blk_data_iov(b, elem->iov + elem->out_num, elem->in_num, 0, len);
		r = b->disk->ops->readv(b->disk, sector * BLK_SECTOR, b->data, n, len);
		status = blk_errno_status(r);
		if (!r)
			written = len;
		break;
	case VIRTIO_BLK_T_OUT:
		len = elem->out_len - BLK_HDR_SIZE;
		if (b->disk->ro || len % BLK_SECTOR || !blk_in_range(b, sector, len)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		n = blk_data_iov(b, elem->iov, elem->out_num, BLK_HDR_SIZE, len);
		status = blk_errno_status(b->disk->ops->writev(b->disk, sector * BLK_SECTOR, b->data,
								 n, len));
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = blk_errno_status(b->disk->ops->flush(b->disk));
		break;
	case VIRTIO_BLK_T_GET_ID:
		written = vq_iov_write(elem->iov + elem->out_num, elem->in_num, 0, b->id,
				       MIN(sizeof(b->id), elem->in_len - 1));
		status = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = blk_dwz(b, vq, elem, type);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	vq_iov_write(elem->iov + elem->out_num, elem->in_num, elem->in_len - 1, &status, 1);
	return written + 1;
}

static void blk_notify(struct virtio_dev *vdev, unsigned int q)
{
	virtio_dev_drain(vdev, &vdev->vqs[q], blk_request);
}

static void blk_destroy(struct vm_device *base)
{
	struct virtio_blk *b = (struct virtio_blk *)base;

	virtio_mmio_dev_release(&b->dev);
	/* SIGTERM or power-off: what the guest wrote reaches the disk */
	if (!b->disk->ro && b->disk->ops->flush(b->disk))
		log_warn(b->dev.vdev.log, "disk %s: flush at exit failed", b->disk->path);
	disk_close(b->disk);
	free(b);
}

#define BLK_FEATURES \
	((1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_FLUSH))
#define BLK_OPS(feat)                                  \
	{                                              \
		.name = "virtio-blk",                  \
		.device_id = VIRTIO_ID_BLOCK,          \
		.nr_queues = 1,                        \
		.queue_max = BLK_QUEUE_MAX,            \
		.config_size = BLK_CONFIG_SIZE,        \
		.features = BLK_FEATURES | (feat),     \
		.config_encode = blk_config_encode,    \
		.notify = blk_notify,                  \
	}

/* a read-only disk offers VIRTIO_BLK_F_RO and neither discard nor write zeroes */
static const struct virtio_dev_ops blk_ops_rw =
	BLK_OPS((1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
static const struct virtio_dev_ops blk_ops_ro = BLK_OPS(1ULL << VIRTIO_BLK_F_RO);

int virtio_blk_add(struct vm *vm, const char *spec, struct lkvm_err *e)
{
	struct disk_opts opts;
	struct virtio_blk *b;
	const char *base;
	char *path;
	int r;

	if (disk_parse_spec(spec, &path, &opts, e))
		return -1;
	b = calloc(1, sizeof(*b));
	if (!b) {
		free(path);
		return err_set(e, "out of memory");
	}
	r = disk_open(&b->disk, path, &opts, e);
	free(path);
	if (r) {
		free(b);
		return -1;
	}
	if (b->disk->size % BLK_SECTOR)
		log_warn(&vm->log, "disk %s: %llu bytes is not a whole number of sectors; the tail is not visible",
			 b->disk->path, (unsigned long long)b->disk->size);
	/* GET_ID: the image's base name, truncated to 20 bytes, no NUL needed */
	base = strrchr(b->disk->path, '/') ? strrchr(b->disk->path, '/') + 1 : b->disk->path;
	memcpy(b->id, base, MIN(strlen(base), sizeof(b->id)));
	r = virtio_mmio_dev_add(vm, &b->dev, opts.ro ? &blk_ops_ro : &blk_ops_rw, b, blk_destroy, e);
	if (r && !b->dev.base.destroy) {
		/* not handed over to the VM yet: still ours to free */
		disk_close(b->disk);
		free(b);
	}
	return r;
}
