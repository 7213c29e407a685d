// SPDX-License-Identifier: GPL-2.0
/*
 * Split virtqueue, device side (virtio 1.2, 2.7; legacy layout 2.7.2 with
 * rings in the guest's byte order). The guest is hostile: every ring index
 * is bounded, each descriptor is copied once, chains are bounded by the
 * queue (or indirect table) size, nested indirect tables are refused.
 */
#include <string.h>

#include "util.h"
#include "virtqueue.h"

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Marks the queue broken by the guest; the first reason is kept for the log. */
static int vq_fail(struct virtqueue *vq, const char *why)
{
	if (!vq->broken)
		vq->why = why;
	vq->broken = true;
	return -1;
}

/*
 * 16-bit ring fields the driver updates concurrently (indices, flags,
 * event fields) are loaded and stored in one access, then decoded in the
 * queue's byte order: a torn index would look like a hostile guest.
 */
static uint16_t vq_load16(const struct virtqueue *vq, const uint8_t *p)
{
	uint16_t raw = __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);
	uint8_t b[2];

	memcpy(b, &raw, 2);
	return vq_read16(vq, b);
}

static void vq_store16(const struct virtqueue *vq, uint8_t *p, uint16_t v)
{
	uint16_t raw;
	uint8_t b[2];

	vq_write16(vq, b, v);
	memcpy(&raw, b, 2);
	__atomic_store_n((uint16_t *)(void *)p, raw, __ATOMIC_RELAXED);
}

static bool vq_refuse(struct virtqueue *vq, const char *why)
{
	vq_fail(vq, why);
	return false;
}

bool vq_activate(struct virtqueue *vq, const struct guest_mem *mem, enum vq_endian endian,
		 uint16_t num, uint64_t desc, uint64_t avail, uint64_t used, bool event_idx,
		 bool indirect)
{
	uint64_t extra = event_idx ? 2 : 0;

	vq_reset(vq);
	vq->mem = mem;
	vq->endian = endian;
	if (endian != VQ_LE && endian != VQ_BE)
		return vq_refuse(vq, "queue byte order unset");
	if (!is_pow2(num) || num > VQ_MAX_SIZE)
		return vq_refuse(vq, "queue size is not a power of two <= 1024");
	/* alignment: desc 16, avail 2, used 4 (2.7) */
	if ((desc & 15) || (avail & 1) || (used & 3))
		return vq_refuse(vq, "misaligned ring");
	vq->desc = guest_mem_ptr(mem, desc, (uint64_t)VQ_DESC_SIZE * num);
	vq->avail = guest_mem_ptr(mem, avail, 4 + 2ULL * num + extra);
	vq->used = guest_mem_ptr(mem, used, 4 + 8ULL * num + extra);
	if (!vq->desc || !vq->avail || !vq->used)
		return vq_refuse(vq, "ring outside guest RAM");
	vq->num = num;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	/* 2.7.13/2.7.14: both indices start at 0 after a reset */
	vq->used_idx = 0;
	vq->last_avail = 0;
	vq->ready = true;
	return true;
}

void vq_reset(struct virtqueue *vq)
{
	uint64_t nr_used = vq->nr_used;

	memset(vq, 0, sizeof(*vq));
	vq->nr_used = nr_used;
}

bool vq_has_avail(struct virtqueue *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	return vq_load16(vq, vq->avail + 2) != vq->last_avail;
}

/* Reads the guest's descriptor i of a table of n entries into host order. */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static void vq_desc_load(const struct virtqueue *vq, const uint8_t *table, uint16_t i,
			 struct vq_desc *d)
{
	uint8_t raw[VQ_DESC_SIZE];

	/* one copy: the guest may rewrite the descriptor under us */
	memcpy(raw, table + (size_t)i * VQ_DESC_SIZE, sizeof(raw));
	d->addr = vq_read64(vq, raw);
	d->len = vq_read32(vq, raw + 8);
	d->flags = vq_read16(vq, raw + 12);
	d->next = vq_read16(vq, raw + 14);
}

static int vq_add_buf(struct virtqueue *vq, struct vq_elem *elem, const struct vq_desc *d)
{
	void *p;

	if (d->flags & VQ_DESC_F_WRITE) {
		if (elem->in_len + d->len < elem->in_len)
			return vq_fail(vq, "buffer length overflow");
	} else if (elem->in_num) {
		/* 2.7.4.2: device-readable descriptors come before writable ones */
		return vq_fail(vq, "readable descriptor after a writable one");
	}
	if (!d->len)
		return 0; /* an empty buffer carries nothing */
	if (elem->out_num + elem->in_num >= VQ_MAX_IOV)
		return vq_fail(vq, "too many buffers in one chain");
	p = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!p)
		return vq_fail(vq, "buffer outside guest RAM");
	elem->iov[elem->out_num + elem->in_num] = (struct iovec){ .iov_base = p, .iov_len = d->len };
	if (d->flags & VQ_DESC_F_WRITE) {
		elem->in_num++;
		elem->in_len += d->len;
	} else {
		elem->out_num++;
		elem->out_len += d->len;
	}
	return 0;
}

/*
 * Walks an indirect table (2.7.5.3); nested indirect is an error. vq_pop has
 * already refused an indirect descriptor that is chained (NEXT, or not first).
 */
static int vq_walk_indirect(struct virtqueue *vq, struct vq_elem *elem, const struct vq_desc *d)
{
	const uint8_t *table;
	uint32_t n, count = 0;
	struct vq_desc id;
	uint16_t i = 0;

	if (!vq->indirect)
		return vq_fail(vq, "indirect descriptor not negotiated");
	if (!d->len || d->len % VQ_DESC_SIZE || d->len / VQ_DESC_SIZE > VQ_MAX_INDIRECT)
		return vq_fail(vq, "bad indirect table length");
	n = d->len / VQ_DESC_SIZE;
	table = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!table)
		return vq_fail(vq, "indirect table outside guest RAM");
	for (;;) {
		if (++count > n)
			return vq_fail(vq, "loop in indirect table");
		vq_desc_load(vq, table, i, &id);
		if (id.flags & VQ_DESC_F_INDIRECT)
			return vq_fail(vq, "nested indirect table");
		if (vq_add_buf(vq, elem, &id))
			return -1;
		if (!(id.flags & VQ_DESC_F_NEXT))
			return 0;
		if (id.next >= n)
			return vq_fail(vq, "indirect next out of range");
		i = id.next;
	}
}

int vq_pop(struct virtqueue *vq, struct vq_elem *elem)
{
	uint16_t avail_idx, head, i;
	unsigned int count = 0;
	struct vq_desc d;

	if (!vq->ready || vq->broken)
		return vq->broken ? -1 : 0;
	avail_idx = vq_load16(vq, vq->avail + 2);
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num) {
		return vq_fail(vq, "avail index ran more than a queue ahead");
	}
	/* read ring entries only after seeing the index (pairs with the driver's wmb) */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = vq_load16(vq, vq->avail + 4 + 2 * (vq->last_avail % vq->num));
	if (head >= vq->num) {
		return vq_fail(vq, "avail ring entry out of range");
	}
	elem->head = head;
	elem->out_num = elem->in_num = 0;
	elem->out_len = elem->in_len = 0;
	i = head;
	for (;;) {
		if (++count > vq->num) {
			return vq_fail(vq, "descriptor chain longer than the queue (loop?)");
		}
		vq_desc_load(vq, vq->desc, i, &d);
		if (d.flags & VQ_DESC_F_INDIRECT) {
			/* 2.7.5.3.1: an indirect descriptor is the only one of its chain */
			if (count != 1 || (d.flags & VQ_DESC_F_NEXT)) {
				return vq_fail(vq, "indirect descriptor inside a chain");
			}
			if (vq_walk_indirect(vq, elem, &d))
				return -1;
			break;
		}
		if (vq_add_buf(vq, elem, &d))
			return -1;
		if (!(d.flags & VQ_DESC_F_NEXT))
			break;
		if (d.next >= vq->num) {
			return vq_fail(vq, "descriptor next out of range");
		}
		i = d.next;
	}
	vq->last_avail++;
	if (vq->event_idx) {
		/* avail_event (used->ring[num]): notify us once past what we took */
		vq_store16(vq, vq->used + 4 + 8 * vq->num, vq->last_avail);
	}
	return 1;
}

void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	uint8_t *e;

	if (!vq->ready)
		return;
	e = vq->used + 4 + 8 * (vq->used_idx % vq->num);
	vq_write32(vq, e, head);
	vq_write32(vq, e + 4, len);
	/* the entry must be visible before the index that publishes it */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vq->used_idx++;
	vq_store16(vq, vq->used + 2, vq->used_idx);
	vq->nr_used++;
}

bool vq_should_signal(struct virtqueue *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx, event;

	/* nothing used since the last interrupt: an interrupt would be spurious */
	if (!vq->ready || new == old)
		return false;
	vq->signalled_used = new;
	/* order the used->idx store before reading the driver's suppression */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(vq_load16(vq, vq->avail) & VQ_AVAIL_F_NO_INTERRUPT);
	event = vq_load16(vq, vq->avail + 4 + 2 * vq->num);
	/* vring_need_event(): did the used index pass used_event since old? */
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

void vq_set_no_notify(struct virtqueue *vq, bool suppress)
{
	if (!vq->ready || vq->event_idx)
		return; /* with event idx, avail_event in vq_pop does the job */
	vq_store16(vq, vq->used, suppress ? VQ_USED_F_NO_NOTIFY : 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Copies between a flat buffer and [off, off + len) of an iov array. */
static size_t vq_iov_copy(const struct iovec *iov, unsigned int n, size_t off, uint8_t *buf,
			  size_t len, bool to_iov)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, c;
		uint8_t *p = iov[i].iov_base;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = MIN(l - off, len - done);
		if (to_iov)
			memcpy(p + off, buf + done, c);
		else
			memcpy(buf + done, p + off, c);
		done += c;
		off = 0;
	}
	return done;
}

size_t vq_iov_read(const struct iovec *iov, unsigned int n, size_t off, void *dst, size_t len)
{
	return vq_iov_copy(iov, n, off, dst, len, false);
}

size_t vq_iov_write(const struct iovec *iov, unsigned int n, size_t off, const void *src,
		    size_t len)
{
	return vq_iov_copy(iov, n, off, (uint8_t *)src, len, true);
}
