// SPDX-License-Identifier: GPL-2.0
/* Hostile requests of one device kind: virtio-9p (5.11) and virtio-blk (5.2.6). */
#include "cases.h"

/* -------------------------------------------------------------------- 9p */

static void p9_hdr(u8 *m, u32 size, u8 type, u16 tag)
{
	m[0] = (u8)size;
	m[1] = (u8)(size >> 8);
	m[2] = (u8)(size >> 16);
	m[3] = (u8)(size >> 24);
	m[4] = type;
	m[5] = (u8)tag;
	m[6] = (u8)(tag >> 8);
}

static u32 le32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

/* sends req, expects an Rlerror with ecode (and this tag) */
static int p9_expect_err(struct vdev *v, const u8 *req, u32 len, u16 tag, u32 ecode)
{
	u8 *resp = buf(256);
	int n = p9_rpc(v, req, len, resp, 256);

	TRY(n);
	CHECK(n == 11 && le32(resp) == 11, "Rlerror length", (u64)n);
	CHECK(resp[4] == 7, "not an Rlerror: type", resp[4]);
	CHECK((resp[5] | resp[6] << 8) == tag, "Rlerror tag", resp[5] | resp[6] << 8);
	CHECK(le32(resp + 7) == ecode, "Rlerror ecode", le32(resp + 7));
	return 0;
}

#define EPROTO 71
#define EMSGSIZE 90
#define EOPNOTSUPP 95
#define EINVAL 22
#define P9_MSIZE_MAX (512 * 1024)

/* size > msize: Rlerror EMSGSIZE; a chain larger than any msize: NEEDS_RESET */
int c_p9_oversize(struct vdev *v)
{
	u8 *m = buf(16384);
	u64 big;
	struct d ds[3];

	TRY(vdev_setup(v, 0));
	TRY(p9_version(v, 8192));
	p9_hdr(m, 9000, 8 /* Tstatfs */, 7);
	m[7] = 1;
	TRY(p9_expect_err(v, m, 9000, 7, EMSGSIZE));
	CHECK(!(status(v) & S_NEEDS_RESET), "NEEDS_RESET for size > msize", status(v));
	TRY(p9_version(v, 8192));
	/* a T-message chain of 512 KiB + 8 KiB */
	big = (u64)heap_alloc(P9_MSIZE_MAX + 8192, PAGE);
	p9_hdr((u8 *)big, P9_MSIZE_MAX + 8192, 100, 1);
	ds[0] = (struct d){ big, P9_MSIZE_MAX / 2, DESC_NEXT, 1 };
	ds[1] = (struct d){ big + P9_MSIZE_MAX / 2, P9_MSIZE_MAX / 2 + 8192, DESC_NEXT, 2 };
	ds[2] = (struct d){ (u64)m, 256, DESC_WRITE, 0 };
	vq_write_desc(v, 0, &ds[0]);
	vq_write_desc(v, 1, &ds[1]);
	vq_write_desc(v, 2, &ds[2]);
	vq_publish(v, 0);
	return expect_nr(v);
}

/* size fields that lie, strings that run off the end, unknown types */
int c_p9_liesize(struct vdev *v)
{
	u8 *m = buf(256), *resp;
	int n;

	TRY(vdev_setup(v, 0));
	TRY(p9_version(v, 8192));
	/* a Tversion claiming 4 GiB */
	p9_hdr(m, 0xffffffffU, 100, 3);
	m[7] = 0;
	m[8] = 0x20;
	m[9] = 0;
	m[10] = 0;
	m[11] = 8;
	m[12] = 0;
	memcpy(m + 13, "9P2000.L", 8);
	TRY(p9_expect_err(v, m, 21, 3, EPROTO));
	/* smaller than its header */
	p9_hdr(m, 4, 100, 4);
	TRY(p9_expect_err(v, m, 21, 4, EPROTO));
	/* the header alone: the body runs past size */
	p9_hdr(m, 7, 100, 5);
	TRY(p9_expect_err(v, m, 21, 5, EPROTO));
	/* a string length past the message */
	p9_hdr(m, 21, 100, 6);
	m[11] = 0xff;
	m[12] = 0xff;
	TRY(p9_expect_err(v, m, 21, 6, EPROTO));
	/* an unknown type */
	p9_hdr(m, 21, 0xfe, 8);
	TRY(p9_expect_err(v, m, 21, 8, EOPNOTSUPP));
	/* Twalk with 65535 names */
	p9_hdr(m, 17, 110, 9);
	memset(m + 7, 0, 8);
	m[15] = 0xff;
	m[16] = 0xff;
	TRY(p9_expect_err(v, m, 17, 9, EINVAL));
	/* 3 bytes: no header at all (tag unknown: NOTAG) */
	TRY(p9_expect_err(v, m, 3, 0xffff, EPROTO));
	CHECK(!(status(v) & S_NEEDS_RESET), "NEEDS_RESET for a bad T-message", status(v));
	TRY(p9_version(v, 8192));
	/* no room for even an Rlerror: the request cannot be answered */
	resp = buf(64);
	p9_hdr(m, 21, 100, 10);
	m[11] = 8;
	m[12] = 0;
	n = p9_rpc(v, m, 21, resp, 8);
	CHECK(n < 0, "an 8-byte reply buffer was used", (u64)n);
	why = NULL;
	return expect_nr(v);
}

/* ------------------------------------------------------------------- blk */

#define BLK_IN 0
#define BLK_OUT 1
#define BLK_FLUSH 4
#define BLK_GET_ID 8
#define BLK_DISCARD 11
#define BLK_WZ 13

static u64 blk_cap(struct vdev *v)
{
	u32 lo = mmio_r32_raw(v->base + R_CONFIG), hi = mmio_r32_raw(v->base + R_CONFIG + 4);

	if (v->ring_be == CPU_BE)
		return CPU_BE ? (u64)lo << 32 | hi : (u64)hi << 32 | lo;
	lo = bswap32(lo);
	hi = bswap32(hi);
	return CPU_BE ? (u64)hi << 32 | lo : (u64)lo << 32 | hi;
}

static int blk_expect(struct vdev *v, u32 type, u64 sector, void *b, u32 len, u8 want)
{
	u8 st;

	TRY(blk_rw(v, type, sector, b, len, &st));
	CHECK(st == want, "blk status", (u64)type << 32 | (u64)st << 8 | want);
	return 0;
}

/* one discard / write-zeroes segment (5.2.6: sector, num_sectors, flags) */
static void *blk_seg(struct vdev *v, u64 sector, u32 n)
{
	u8 *s = buf(16);

	rput64(v, s, sector);
	rput32(v, s + 8, n);
	rput32(v, s + 12, 0);
	return s;
}

int c_blk_range(struct vdev *v)
{
	u8 *b = buf(4096);
	u64 cap;

	TRY(vdev_setup(v, 0));
	cap = blk_cap(v);
	CHECK(cap > 2, "capacity", cap);
	TRY(blk_expect(v, BLK_IN, ~0ULL, b, 512, 1));
	TRY(blk_expect(v, BLK_IN, cap, b, 512, 1));
	TRY(blk_expect(v, BLK_IN, cap - 1, b, 1024, 1));
	TRY(blk_expect(v, BLK_IN, 1ULL << 55, b, 512, 1));
	TRY(blk_expect(v, BLK_IN, 0, b, 100, 1));
	TRY(blk_expect(v, BLK_OUT, cap, b, 512, 1));
	TRY(blk_expect(v, BLK_OUT, ~0ULL, b, 512, 1));
	TRY(blk_expect(v, BLK_OUT, cap - 1, b, 1024, 1));
	TRY(blk_expect(v, BLK_OUT, 1ULL << 55, b, 512, 1));
	TRY(blk_expect(v, 0x1234, 0, b, 512, 2));
	if (v->host_features & F(13 /* DISCARD */)) {
		TRY(blk_expect(v, BLK_DISCARD, 0, blk_seg(v, cap, 1), 16, 1));
		TRY(blk_expect(v, BLK_WZ, 0, blk_seg(v, ~0ULL, 8), 16, 1));
		TRY(blk_expect(v, BLK_WZ, 0, blk_seg(v, cap - 1, 0xffffffffU), 16, 1));
	}
	memset(b, 0, 32);
	TRY(blk_expect(v, BLK_GET_ID, 0, b, 20, 0));
	CHECK(b[0] > ' ', "GET_ID gave nothing", b[0]);
	TRY(blk_read_check(v, cap - 1));
	return expect_fine(v);
}

/* a read-only disk: every write is refused (IOERR) and the disk reads as before */
int c_blk_ro(struct vdev *v)
{
	u8 *b = buf(1024);

	TRY(vdev_setup(v, 0));
	CHECK(v->host_features & F(F_BLK_RO), "disk is not read-only", v->host_features);
	memset(b, 'X', 1024);
	TRY(blk_expect(v, BLK_OUT, 0, b, 1024, 1));
	TRY(blk_expect(v, BLK_OUT, 1, b, 512, 1));
	TRY(blk_expect(v, BLK_WZ, 0, blk_seg(v, 0, 8), 16, 1));
	TRY(blk_expect(v, BLK_DISCARD, 0, blk_seg(v, 0, 8), 16, 1));
	TRY(blk_read_check(v, 0));
	TRY(blk_read_check(v, 1));
	return expect_fine(v);
}

/* requests without a whole header or without a status byte: NEEDS_RESET */
int c_blk_malformed(struct vdev *v)
{
	u8 *h = buf(64);
	struct d a[2] = { { (u64)h, 8, DESC_NEXT, 1 }, { (u64)h + 32, 1, DESC_WRITE, 0 } };
	struct d b[1] = { { (u64)h, 16, 0, 0 } };
	struct d c[2] = { { (u64)h, 16, DESC_NEXT, 1 }, { (u64)h + 32, 0, DESC_WRITE, 0 } };

	TRY(bad_chain(v, 0, a, 2));
	TRY(recover(v));
	TRY(bad_chain(v, 0, b, 1));
	TRY(recover(v));
	return bad_chain(v, 0, c, 2);
}

