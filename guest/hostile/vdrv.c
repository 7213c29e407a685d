// SPDX-License-Identifier: GPL-2.0
/* A minimal polling virtio-mmio driver (4.2.3 device initialization) and one good request per device. */
#include "vdrv.h"

const char *why;
u64 why_val;
u64 req_timeout_us = TIMEOUT_US;

int fail(const char *reason, u64 val)
{
	if (!why) {
		why = reason;
		why_val = val;
	}
	return -1;
}

/* rings in the queue's byte order (2.7; legacy: the guest's, 2.7.1) */
void rput16(const struct vdev *v, void *p, u16 x)
{
	*(volatile u16 *)p = v->ring_be == CPU_BE ? x : bswap16(x);
}

void rput32(const struct vdev *v, void *p, u32 x)
{
	*(volatile u32 *)p = v->ring_be == CPU_BE ? x : bswap32(x);
}

void rput64(const struct vdev *v, void *p, u64 x)
{
	*(volatile u64 *)p = v->ring_be == CPU_BE ? x : bswap64(x);
}

u16 rget16(const struct vdev *v, const void *p)
{
	u16 x = *(const volatile u16 *)p;

	return v->ring_be == CPU_BE ? x : bswap16(x);
}

u32 rget32(const struct vdev *v, const void *p)
{
	u32 x = *(const volatile u32 *)p;

	return v->ring_be == CPU_BE ? x : bswap32(x);
}

u64 rget64(const struct vdev *v, const void *p)
{
	u64 x = *(const volatile u64 *)p;

	return v->ring_be == CPU_BE ? x : bswap64(x);
}

int vdev_find(struct vdev *v, const struct dt_info *dt, u32 id, int want_ro)
{
	unsigned int i;

	for (i = 0; i < dt->nr_virtio; i++) {
		u64 b = dt->virtio[i];

		if (mmio_r32(b + R_MAGIC) != 0x74726976 || mmio_r32(b + R_DEVICE_ID) != id)
			continue;
		memset(v, 0, sizeof(*v));
		v->base = b;
		v->id = id;
		v->legacy = mmio_r32(b + R_VERSION) == 1;
		if (id == ID_BLK && want_ro >= 0) {
			u32 f;

			mmio_w32(b + R_DEV_FEATURES_SEL, 0);
			f = mmio_r32(b + R_DEV_FEATURES);
			if (!!(f & (1u << F_BLK_RO)) != want_ro)
				continue;
		}
		return 1;
	}
	return 0;
}

void vdev_reset(struct vdev *v)
{
	vw(v, R_STATUS, 0);
	v->num = 0;
}

int vdev_begin(struct vdev *v, u64 wanted, u64 extra)
{
	u64 f;

	vdev_reset(v);
	if (vr(v, R_STATUS) != 0)
		return fail("status not 0 after reset", vr(v, R_STATUS));
	vw(v, R_STATUS, S_ACK);
	vw(v, R_STATUS, S_ACK | S_DRIVER);
	vw(v, R_DEV_FEATURES_SEL, 0);
	f = vr(v, R_DEV_FEATURES);
	vw(v, R_DEV_FEATURES_SEL, 1);
	f |= (u64)vr(v, R_DEV_FEATURES) << 32;
	v->host_features = f;
	if (v->legacy && (f & (1ULL << F_VERSION_1)))
		return fail("legacy device offers VERSION_1", f);
	if (!v->legacy && !(f & (1ULL << F_VERSION_1)))
		return fail("modern device does not offer VERSION_1", f);
	f &= wanted;
	if (!v->legacy)
		f |= 1ULL << F_VERSION_1;
	f |= extra;
	v->features = f;
	vw(v, R_DRV_FEATURES_SEL, 0);
	vw(v, R_DRV_FEATURES, (u32)f);
	vw(v, R_DRV_FEATURES_SEL, 1);
	vw(v, R_DRV_FEATURES, (u32)(f >> 32));
	/* the rule lkvm applies: VERSION_1 LE; else the acked bit; else this vCPU's order */
	if (!v->legacy)
		v->ring_be = false;
	else if (f & (1ULL << F_GUEST_BE))
		v->ring_be = true;
	else if (f & (1ULL << F_GUEST_LE))
		v->ring_be = false;
	else
		v->ring_be = CPU_BE;
	if (!v->legacy) {
		vw(v, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
		if (!(vr(v, R_STATUS) & S_FEATURES_OK))
			return fail("FEATURES_OK refused", f);
	} else {
		vw(v, R_GUEST_PAGE_SIZE, PAGE);
	}
	return 0;
}

int vdev_queue(struct vdev *v, u16 num, bool go)
{
	u64 ring, desc, avail, used;
	u32 max;

	vw(v, R_QUEUE_SEL, 0);
	max = vr(v, R_QUEUE_NUM_MAX);
	if (!max)
		return fail("QueueNumMax of queue 0 is 0", 0);
	if (num > max)
		num = (u16)max;
	/* legacy layout (2.7.2): desc, avail, then used at the next page */
	ring = (u64)heap_alloc(4 * PAGE + 16ULL * num + 8ULL * num, PAGE);
	desc = ring;
	avail = desc + 16ULL * num;
	used = (avail + 6 + 2ULL * num + PAGE - 1) & ~(PAGE - 1);
	v->num = num;
	v->desc = (u8 *)desc;
	v->avail = (u8 *)avail;
	v->used = (u8 *)used;
	v->avail_idx = v->used_seen = 0;
	vw(v, R_QUEUE_NUM, num);
	if (v->legacy) {
		vw(v, R_QUEUE_ALIGN, PAGE);
		vw(v, R_QUEUE_PFN, (u32)(desc / PAGE));
	} else {
		vw(v, R_DESC_LO, (u32)desc);
		vw(v, R_DESC_HI, (u32)(desc >> 32));
		vw(v, R_AVAIL_LO, (u32)avail);
		vw(v, R_AVAIL_HI, (u32)(avail >> 32));
		vw(v, R_USED_LO, (u32)used);
		vw(v, R_USED_HI, (u32)(used >> 32));
		vw(v, R_QUEUE_READY, 1);
		if (vr(v, R_QUEUE_READY) != 1)
			return fail("QueueReady did not stick", vr(v, R_STATUS));
	}
	if (go)
		vw(v, R_STATUS, vr(v, R_STATUS) | S_DRIVER_OK);
	return 0;
}

int vdev_setup(struct vdev *v, u64 wanted)
{
	if (vdev_begin(v, wanted, 0) || vdev_queue(v, v->id == ID_BLK ? 16 : 8, true))
		return -1;
	if (vr(v, R_STATUS) & S_NEEDS_RESET)
		return fail("NEEDS_RESET after a good set-up", vr(v, R_STATUS));
	return 0;
}

void vq_write_desc(struct vdev *v, u16 idx, const struct d *d)
{
	u8 *p = v->desc + 16 * (u64)idx;

	rput64(v, p, d->addr);
	rput32(v, p + 8, d->len);
	rput16(v, p + 12, d->flags);
	rput16(v, p + 14, d->next);
}

void vq_publish(struct vdev *v, u16 head)
{
	rput16(v, v->avail + 4 + 2 * (u64)(v->avail_idx % v->num), head);
	mb();
	v->avail_idx++;
	rput16(v, v->avail + 2, v->avail_idx);
	mb();
	vw(v, R_QUEUE_NOTIFY, 0);
}

int vq_wait(struct vdev *v, u64 timeout_us)
{
	u64 t0 = now_us();

	for (;;) {
		mb();
		if (rget16(v, v->used + 2) != v->used_seen) {
			u8 *e = v->used + 4 + 8 * (u64)(v->used_seen % v->num);

			v->last_len = rget32(v, e + 4);
			v->used_seen++;
			return 1;
		}
		if (vr(v, R_STATUS) & S_NEEDS_RESET)
			return -1;
		if (now_us() - t0 > timeout_us)
			return 0;
	}
}

int wait_needs_reset(struct vdev *v, u64 timeout_us)
{
	u64 t0 = now_us();

	while (!(vr(v, R_STATUS) & S_NEEDS_RESET))
		if (now_us() - t0 > timeout_us)
			return 0;
	return 1;
}

/* ---- requests */

/* virtio-blk (5.2.6): header (type, reserved, sector), data, status */
int blk_rw(struct vdev *v, u32 type, u64 sector, void *buf, u32 len, u8 *status)
{
	u8 *hdr = heap_alloc(16, 16), *st = heap_alloc(16, 16);
	/* the device reads the data of T_OUT, DISCARD and WRITE_ZEROES; writes the rest */
	bool in = type != 1 && type != 11 && type != 13;
	struct d d0 = { (u64)hdr, 16, DESC_NEXT, 1 };
	struct d d1 = { (u64)buf, len, (u16)(DESC_NEXT | (in ? DESC_WRITE : 0)), 2 };
	struct d d2 = { (u64)st, 1, DESC_WRITE, 0 };
	int r;

	rput32(v, hdr, type);
	rput32(v, hdr + 4, 0);
	rput64(v, hdr + 8, sector);
	*st = 0xee;
	if (len) {
		vq_write_desc(v, 0, &d0);
		vq_write_desc(v, 1, &d1);
		vq_write_desc(v, 2, &d2);
	} else {
		d0.next = 2;
		vq_write_desc(v, 0, &d0);
		vq_write_desc(v, 2, &d2);
	}
	vq_publish(v, 0);
	r = vq_wait(v, req_timeout_us);
	if (r <= 0)
		return fail(r ? "blk: NEEDS_RESET on a request" : "blk: no answer", vr(v, R_STATUS));
	*status = *st;
	return 0;
}

int rng_read(struct vdev *v, void *buf, u32 len)
{
	struct d d0 = { (u64)buf, len, DESC_WRITE, 0 };
	int r;

	vq_write_desc(v, 0, &d0);
	vq_publish(v, 0);
	r = vq_wait(v, req_timeout_us);
	if (r <= 0)
		return fail(r ? "rng: NEEDS_RESET on a request" : "rng: no answer", vr(v, R_STATUS));
	return (int)v->last_len;
}

/* one T-message (readable) and room for the R-message (writable): used length or -1 */
int p9_rpc(struct vdev *v, const void *req, u32 req_len, void *resp, u32 resp_cap)
{
	struct d d0 = { (u64)req, req_len, DESC_NEXT, 1 };
	struct d d1 = { (u64)resp, resp_cap, DESC_WRITE, 0 };
	int r;

	vq_write_desc(v, 0, &d0);
	vq_write_desc(v, 1, &d1);
	vq_publish(v, 0);
	r = vq_wait(v, req_timeout_us);
	if (r <= 0)
		return fail(r ? "9p: NEEDS_RESET on a request" : "9p: no answer", vr(v, R_STATUS));
	return (int)v->last_len;
}

static void le16_put(u8 *p, u16 x)
{
	p[0] = (u8)x;
	p[1] = (u8)(x >> 8);
}

static void le32_put(u8 *p, u32 x)
{
	le16_put(p, (u16)x);
	le16_put(p + 2, (u16)(x >> 16));
}

static u32 le32_get(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

/* Tversion (9P wire format: LE always) */
int p9_version(struct vdev *v, u32 msize)
{
	u8 *req = heap_alloc(64, 16), *resp = heap_alloc(256, 16);
	int n;

	le32_put(req, 7 + 4 + 2 + 8);
	req[4] = 100; /* Tversion */
	le16_put(req + 5, 0xffff);
	le32_put(req + 7, msize);
	le16_put(req + 11, 8);
	memcpy(req + 13, "9P2000.L", 8);
	n = p9_rpc(v, req, 21, resp, 256);
	if (n < 0)
		return -1;
	if (n != 21 || resp[4] != 101 || le32_get(resp) != 21 || le32_get(resp + 7) != msize ||
	    memcmp(resp + 13, "9P2000.L", 8))
		return fail("9p: bad Rversion", (u64)resp[4] << 32 | (u32)n);
	return 0;
}

/* the disk pattern written by hostile.jobs: "HOSTILE-SECTOR-%08u" at each sector */
static int blk_check_sector(const u8 *buf, u64 sector)
{
	char want[24];
	int i;

	memcpy(want, "HOSTILE-SECTOR-", 15);
	for (i = 7; i >= 0; i--) {
		want[15 + i] = (char)('0' + sector % 10);
		sector /= 10;
	}
	return memcmp(buf, want, 23) ? -1 : 0;
}

int blk_read_check(struct vdev *v, u64 sector)
{
	u8 *buf = heap_alloc(512, 512), st;

	if (blk_rw(v, 0, sector, buf, 512, &st))
		return -1;
	if (st != 0)
		return fail("blk: read of a good sector failed, status", st);
	if (v->last_len != 513)
		return fail("blk: used length of a sector read", v->last_len);
	if (blk_check_sector(buf, sector))
		return fail("blk: sector holds the wrong data", sector);
	return 0;
}

int good_request(struct vdev *v)
{
	if (v->id == ID_BLK)
		return blk_read_check(v, 0);
	if (v->id == ID_RNG) {
		u8 *buf = heap_alloc(64, 16);
		int n = rng_read(v, buf, 64), i, nz = 0;

		if (n < 0)
			return -1;
		if (n != 64)
			return fail("rng: short read", (u64)n);
		for (i = 0; i < 64; i++)
			nz += buf[i] != 0;
		if (nz < 32)
			return fail("rng: bytes look like zeros", (u64)nz);
		return 0;
	}
	if (v->id == ID_9P)
		return p9_version(v, 8192);
	return fail("no good request for this device id", v->id);
}

int recover(struct vdev *v)
{
	if (vdev_setup(v, 1ULL << F_INDIRECT))
		return -1;
	if (vr(v, R_STATUS) & S_NEEDS_RESET)
		return fail("NEEDS_RESET survived a reset", vr(v, R_STATUS));
	return good_request(v);
}
