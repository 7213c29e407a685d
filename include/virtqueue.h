/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_VIRTQUEUE_H
#define LKVM_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_mem.h"

/*
 * Byte order of one queue's rings, fixed at activation. 0 is invalid on
 * purpose: an unset value must never silently mean one order.
 */
enum vq_endian {
	VQ_LE = 1,
	VQ_BE = 2,
};

#define VQ_MAX_SIZE 1024    /* largest QueueNum accepted */
#define VQ_MAX_INDIRECT 1024 /* descriptors in one indirect table */
#define VQ_MAX_IOV (VQ_MAX_SIZE + VQ_MAX_INDIRECT)

/* split ring layout (virtio 1.2, 2.7) */
#define VQ_DESC_SIZE 16
#define VQ_DESC_F_NEXT 1
#define VQ_DESC_F_WRITE 2
#define VQ_DESC_F_INDIRECT 4
#define VQ_AVAIL_F_NO_INTERRUPT 1
#define VQ_USED_F_NO_NOTIFY 1

struct virtqueue {
	const struct guest_mem *mem;
	enum vq_endian endian;
	uint16_t num;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;  /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool ready;
	bool broken;    /* the guest broke the ring: device needs reset */
	/* host views of the rings, validated once at activation */
	uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;
	uint16_t last_avail; /* next avail entry the device will take */
	uint16_t used_idx;   /* device's copy of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt (0 at start) */
	const char *why; /* first reason it broke, for the log */
	uint64_t nr_used; /* chains returned, ever (stats; kept across resets) */
};

/* One popped chain: device-readable iovs first, then device-writable. */
struct vq_elem {
	uint16_t head;
	unsigned int out_num; /* readable (driver -> device) */
	unsigned int in_num;  /* writable (device -> driver) */
	uint64_t out_len, in_len;
	struct iovec iov[VQ_MAX_IOV];
};

/*
 * Validates and maps the three rings. false (and vq->why) if any lies
 * outside guest RAM or num is not a power of two <= VQ_MAX_SIZE.
 */
bool vq_activate(struct virtqueue *vq, const struct guest_mem *mem, enum vq_endian endian,
		 uint16_t num, uint64_t desc, uint64_t avail, uint64_t used, bool event_idx,
		 bool indirect);
void vq_reset(struct virtqueue *vq);
/* 1: elem filled; 0: ring empty; -1: guest error, vq->broken set */
int vq_pop(struct virtqueue *vq, struct vq_elem *elem);
/* Returns a chain to the guest with len bytes written to its buffers. */
void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len);
/* Should the guest be interrupted for what was pushed since the last time? */
bool vq_should_signal(struct virtqueue *vq);
/* Suppress (or re-enable) guest notifications while the device is busy. */
void vq_set_no_notify(struct virtqueue *vq, bool suppress);
bool vq_has_avail(struct virtqueue *vq);

/* Fields in byte order e (rings, legacy config) from/to unaligned bytes. */
static inline uint16_t ve_get16(enum vq_endian e, const uint8_t *p)
{
	return e == VQ_BE ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static inline uint32_t ve_get32(enum vq_endian e, const uint8_t *p)
{
	uint32_t a = ve_get16(e, p), b = ve_get16(e, p + 2);

	return e == VQ_BE ? a << 16 | b : b << 16 | a;
}

static inline uint64_t ve_get64(enum vq_endian e, const uint8_t *p)
{
	uint64_t a = ve_get32(e, p), b = ve_get32(e, p + 4);

	return e == VQ_BE ? a << 32 | b : b << 32 | a;
}

static inline void ve_put16(enum vq_endian e, uint8_t *p, uint16_t v)
{
	if (e == VQ_BE) {
		p[0] = v >> 8;
		p[1] = v;
	} else {
		p[0] = v;
		p[1] = v >> 8;
	}
}

static inline void ve_put32(enum vq_endian e, uint8_t *p, uint32_t v)
{
	ve_put16(e, p + (e == VQ_BE ? 0 : 2), v >> 16);
	ve_put16(e, p + (e == VQ_BE ? 2 : 0), v);
}

static inline void ve_put64(enum vq_endian e, uint8_t *p, uint64_t v)
{
	ve_put32(e, p + (e == VQ_BE ? 0 : 4), v >> 32);
	ve_put32(e, p + (e == VQ_BE ? 4 : 0), v);
}

/* Ring fields in the queue's byte order: device code never swaps by hand. */
static inline uint16_t vq_read16(const struct virtqueue *vq, const uint8_t *p)
{
	return ve_get16(vq->endian, p);
}

static inline uint32_t vq_read32(const struct virtqueue *vq, const uint8_t *p)
{
	return ve_get32(vq->endian, p);
}

static inline uint64_t vq_read64(const struct virtqueue *vq, const uint8_t *p)
{
	return ve_get64(vq->endian, p);
}

static inline void vq_write16(const struct virtqueue *vq, uint8_t *p, uint16_t v)
{
	ve_put16(vq->endian, p, v);
}

static inline void vq_write32(const struct virtqueue *vq, uint8_t *p, uint32_t v)
{
	ve_put32(vq->endian, p, v);
}

static inline void vq_write64(const struct virtqueue *vq, uint8_t *p, uint64_t v)
{
	ve_put64(vq->endian, p, v);
}

/* Gather/scatter helpers over an elem's iovs. */
size_t vq_iov_read(const struct iovec *iov, unsigned int n, size_t off, void *dst, size_t len);
size_t vq_iov_write(const struct iovec *iov, unsigned int n, size_t off, const void *src,
		    size_t len);

#endif
