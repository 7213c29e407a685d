// SPDX-License-Identifier: GPL-2.0
/*
 * virtio/virtqueue.c: the split-ring walker (virtio 1.2, 2.7) on rings a
 * fake driver lays out in fake guest RAM. Every functional test runs with
 * LE and with BE rings (suffix _le / _be), and checks raw ring bytes where
 * the order matters, so it holds on a host of either order.
 */
#include <stdlib.h>
#include <string.h>

#include "fake_driver.h"
#include "test.h"
#include "virtqueue.h"

/* where the fake driver puts its rings; buffers come after BUF_BASE */
#define DESC_GPA (FAKE_RAM_GPA + 0x1000)
#define AVAIL_GPA (FAKE_RAM_GPA + 0x3000)
#define USED_GPA (FAKE_RAM_GPA + 0x4000)
#define BUF_BASE (FAKE_RAM_GPA + 0x10000)

struct vqt {
	struct fake_ram ram;
	struct fake_ring fr;
	struct virtqueue vq;
	struct vq_elem elem;
};

static void vqt_free(struct vqt *t)
{
	if (!t)
		return;
	fake_ram_free(&t->ram);
	free(t);
}

/* A driver with rings of num entries in order e, and a queue activated on them. */
static struct vqt *vqt_new(enum vq_endian e, uint16_t num, bool event_idx, bool indirect)
{
	struct vqt *t = calloc(1, sizeof(*t));

	if (!CHECK(t))
		return NULL;
	if (!fake_ram_init(&t->ram, NULL)) {
		free(t);
		return NULL;
	}
	t->ram.next = BUF_BASE;
	fr_init(&t->fr, &t->ram, e, num, DESC_GPA, AVAIL_GPA, USED_GPA);
	if (!CHECK(vq_activate(&t->vq, t->ram.mem, e, num, DESC_GPA, AVAIL_GPA, USED_GPA,
			       event_idx, indirect))) {
		vqt_free(t);
		return NULL;
	}
	return t;
}

static uint8_t *host(struct vqt *t, uint64_t gpa)
{
	return fake_ram_ptr(&t->ram, gpa);
}

/* Runs body for LE and for BE rings, as two tests: name_le and name_be. */
#define TEST_BOTH(name)                                   \
	static void name(enum vq_endian e);               \
	TEST(virtqueue, name##_le) { name(VQ_LE); }      \
	TEST(virtqueue, name##_be) { name(VQ_BE); }      \
	static void name(enum vq_endian e)

/* A 16-bit ring field as the queue's order lays it out in memory. */
static void bytes16(enum vq_endian e, uint8_t *out, uint16_t v)
{
	out[0] = e == VQ_BE ? v >> 8 : v & 0xff;
	out[1] = e == VQ_BE ? v & 0xff : v >> 8;
}

static void bytes32(enum vq_endian e, uint8_t *out, uint32_t v)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		out[i] = (uint8_t)(v >> (e == VQ_BE ? 24 - 8 * i : 8 * i));
}

/*
 * 2.7.5/2.7.8: a chain of 1 device-readable + 2 device-writable descriptors,
 * linked out of order (head 3 -> 1 -> 5) so that next is really followed.
 * Lengths and addresses are chosen so that a byte-swapped read would point
 * outside RAM and fail.
 */
TEST_BOTH(pop_push_chain)
{
	struct vqt *t = vqt_new(e, 8, false, false);
	uint64_t a, b, c;
	uint8_t raw[8];
	uint32_t id, len;

	REQUIRE(t);
	a = fake_ram_alloc(&t->ram, 0x123, 16);
	b = fake_ram_alloc(&t->ram, 0x200, 16);
	c = fake_ram_alloc(&t->ram, 0x31, 16);
	fr_desc(&t->fr, 3, a, 0x123, VQ_DESC_F_NEXT, 1);
	fr_desc(&t->fr, 1, b, 0x200, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 5);
	fr_desc(&t->fr, 5, c, 0x31, VQ_DESC_F_WRITE, 0);
	CHECK(!vq_has_avail(&t->vq));
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 0);
	fr_avail_add(&t->fr, 3);
	CHECK(vq_has_avail(&t->vq));

	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 1);
	CHECK_EQ_U64(t->elem.head, 3);
	CHECK_EQ_U64(t->elem.out_num, 1);
	CHECK_EQ_U64(t->elem.in_num, 2);
	CHECK_EQ_U64(t->elem.out_len, 0x123);
	CHECK_EQ_U64(t->elem.in_len, 0x231);
	CHECK(t->elem.iov[0].iov_base == host(t, a));
	CHECK_EQ_U64(t->elem.iov[0].iov_len, 0x123);
	CHECK(t->elem.iov[1].iov_base == host(t, b));
	CHECK_EQ_U64(t->elem.iov[1].iov_len, 0x200);
	CHECK(t->elem.iov[2].iov_base == host(t, c));
	CHECK_EQ_U64(t->elem.iov[2].iov_len, 0x31);
	CHECK(!vq_has_avail(&t->vq));
	CHECK_EQ_U64(t->vq.last_avail, 1);

	/* 2.7.8: used elem {id = head, len} and used->idx, in the queue's order */
	vq_push(&t->vq, 3, 0x01020304);
	bytes32(e, raw, 3);
	bytes32(e, raw + 4, 0x01020304);
	CHECK_MEM(fr_used_entry(&t->fr, 0), raw, 8);
	bytes16(e, raw, 1);
	CHECK_MEM(fr_used_idx_raw(&t->fr), raw, 2);
	fr_used_elem(&t->fr, 0, &id, &len);
	CHECK_EQ_U64(id, 3);
	CHECK_EQ_U64(len, 0x01020304);
	CHECK_EQ_U64(fr_used_idx(&t->fr), 1);

	/* empty again: not an error */
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 0);
	CHECK(!t->vq.broken);
	vqt_free(t);
}

/* A chain of exactly num descriptors is legal (2.7.5.1: not longer than the queue). */
TEST_BOTH(chain_of_queue_size)
{
	struct vqt *t = vqt_new(e, 4, false, false);
	uint64_t buf;
	uint16_t i;

	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 64, 16);
	for (i = 0; i < 4; i++)
		fr_desc(&t->fr, i, buf + 16 * i, 16, i < 3 ? VQ_DESC_F_NEXT : 0, i + 1);
	fr_avail_add(&t->fr, 0);
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 1);
	CHECK_EQ_U64(t->elem.out_num, 4);
	CHECK_EQ_U64(t->elem.out_len, 64);
	CHECK(!t->vq.broken);
	vqt_free(t);
}

/* Lays out a 3-entry indirect table like the direct chain above; returns its gpa. */
static uint64_t indirect_table3(struct vqt *t, enum vq_endian e, uint64_t *a, uint64_t *b,
				uint64_t *c)
{
	uint64_t tbl = fake_ram_alloc(&t->ram, 3 * VQ_DESC_SIZE, 16);

	*a = fake_ram_alloc(&t->ram, 0x123, 16);
	*b = fake_ram_alloc(&t->ram, 0x200, 16);
	*c = fake_ram_alloc(&t->ram, 0x31, 16);
	/* 2.7.5.3.2: the table is walked by next, like a ring: 0 -> 2 -> 1 */
	fd_put_desc(e, host(t, tbl), *a, 0x123, VQ_DESC_F_NEXT, 2);
	fd_put_desc(e, host(t, tbl + 32), *b, 0x200, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 1);
	fd_put_desc(e, host(t, tbl + 16), *c, 0x31, VQ_DESC_F_WRITE, 0);
	return tbl;
}

/* 2.7.5.3: VIRTIO_RING_F_INDIRECT_DESC negotiated, a table of 3 gives the same elem. */
TEST_BOTH(indirect)
{
	struct vqt *t = vqt_new(e, 8, false, true);
	uint64_t tbl, a, b, c;
	uint32_t id, len;

	REQUIRE(t);
	tbl = indirect_table3(t, e, &a, &b, &c);
	/* 2.7.5.3.1: the device ignores WRITE on the descriptor naming the table */
	fr_desc(&t->fr, 6, tbl, 3 * VQ_DESC_SIZE, VQ_DESC_F_INDIRECT | VQ_DESC_F_WRITE, 0);
	fr_avail_add(&t->fr, 6);
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 1);
	CHECK_EQ_U64(t->elem.head, 6);
	CHECK_EQ_U64(t->elem.out_num, 1);
	CHECK_EQ_U64(t->elem.in_num, 2);
	CHECK_EQ_U64(t->elem.out_len, 0x123);
	CHECK_EQ_U64(t->elem.in_len, 0x231);
	CHECK(t->elem.iov[0].iov_base == host(t, a));
	CHECK(t->elem.iov[1].iov_base == host(t, b));
	CHECK(t->elem.iov[2].iov_base == host(t, c));
	CHECK_EQ_U64(t->elem.iov[2].iov_len, 0x31);
	vq_push(&t->vq, 6, 0x231);
	fr_used_elem(&t->fr, 0, &id, &len);
	CHECK_EQ_U64(id, 6);
	CHECK_EQ_U64(len, 0x231);
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 0);
	vqt_free(t);
}

/* 2.7.5.3.1: the driver must not set INDIRECT unless negotiated. */
TEST_BOTH(indirect_not_negotiated)
{
	struct vqt *t = vqt_new(e, 8, false, false);
	uint64_t tbl, a, b, c;

	REQUIRE(t);
	tbl = indirect_table3(t, e, &a, &b, &c);
	fr_desc(&t->fr, 0, tbl, 3 * VQ_DESC_SIZE, VQ_DESC_F_INDIRECT, 0);
	fr_avail_add(&t->fr, 0);
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), (uint64_t)-1);
	CHECK(t->vq.broken);
	CHECK(t->vq.why != NULL);
	vqt_free(t);
}

/* The largest indirect table accepted (VQ_MAX_INDIRECT) works, every entry used. */
TEST_BOTH(indirect_max_table)
{
	struct vqt *t = vqt_new(e, 8, false, true);
	uint64_t tbl, buf;
	unsigned int i;

	REQUIRE(t);
	tbl = fake_ram_alloc(&t->ram, VQ_MAX_INDIRECT * VQ_DESC_SIZE, 16);
	buf = fake_ram_alloc(&t->ram, VQ_MAX_INDIRECT, 16);
	for (i = 0; i < VQ_MAX_INDIRECT; i++)
		fd_put_desc(e, host(t, tbl + VQ_DESC_SIZE * i), buf + i, 1,
			    i + 1 < VQ_MAX_INDIRECT ? VQ_DESC_F_NEXT : VQ_DESC_F_WRITE, i + 1);
	fr_desc(&t->fr, 0, tbl, VQ_MAX_INDIRECT * VQ_DESC_SIZE, VQ_DESC_F_INDIRECT, 0);
	fr_avail_add(&t->fr, 0);
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 1);
	CHECK_EQ_U64(t->elem.out_num, VQ_MAX_INDIRECT - 1);
	CHECK_EQ_U64(t->elem.in_num, 1);
	CHECK(t->elem.iov[VQ_MAX_INDIRECT - 1].iov_base == host(t, buf + VQ_MAX_INDIRECT - 1));
	vqt_free(t);
}

/*
 * 2.7.10 event idx: the device publishes avail_event (used->ring[num]) =
 * the next avail index it will look at, in the queue's order.
 */
TEST_BOTH(event_idx_avail_event)
{
	struct vqt *t = vqt_new(e, 8, true, false);
	uint8_t raw[2];
	uint64_t buf;
	uint16_t i;

	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 16, 16);
	for (i = 0; i < 8; i++)
		fr_desc(&t->fr, i, buf, 16, VQ_DESC_F_WRITE, 0);
	for (i = 0; i < 3; i++)
		fr_avail_add(&t->fr, i);
	for (i = 1; i <= 3; i++) {
		CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 1);
		CHECK_EQ_U64(t->vq.last_avail, i);
		CHECK_EQ_U64(fr_avail_event(&t->fr), i);
		bytes16(e, raw, i);
		CHECK_MEM(host(t, USED_GPA + 4 + 8 * 8), raw, 2);
	}
	/* with event idx, used->flags stays the driver's business */
	vq_set_no_notify(&t->vq, true);
	CHECK_EQ_U64(fr_used_flags(&t->fr), 0);
	vqt_free(t);
}

static void push_n(struct vqt *t, unsigned int n)
{
	while (n--)
		vq_push(&t->vq, 0, 0);
}

/*
 * 2.7.10: with event idx the device interrupts only when used->idx passes
 * used_event (avail->ring[num]) since its last interrupt: vring_need_event().
 */
TEST_BOTH(event_idx_used_event)
{
	struct vqt *t = vqt_new(e, 8, true, false);

	REQUIRE(t);
	fr_set_used_event(&t->fr, 0);
	push_n(t, 1); /* used 1: passes 0 */
	CHECK(vq_should_signal(&t->vq));
	CHECK(!vq_should_signal(&t->vq)); /* nothing new since */

	/* "interrupt me once entry 5 is used": used_idx must go beyond 5 */
	fr_set_used_event(&t->fr, 5);
	push_n(t, 1); /* 2 */
	CHECK(!vq_should_signal(&t->vq));
	push_n(t, 3); /* 5: not past 5 yet */
	CHECK(!vq_should_signal(&t->vq));
	push_n(t, 1); /* 6 */
	CHECK(vq_should_signal(&t->vq));

	/* several at once: passing the event inside a batch counts */
	fr_set_used_event(&t->fr, 7);
	push_n(t, 2); /* 8 */
	CHECK(vq_should_signal(&t->vq));
	/* a stale event (already passed) does not interrupt again */
	push_n(t, 1); /* 9 */
	CHECK(!vq_should_signal(&t->vq));

	/*
	 * A used_event of 0x0100 and of 0x0001 differ only in byte order: with
	 * used_idx at 9 -> 10, only 9 (in the ring's order) means "now".
	 */
	fr_set_used_event(&t->fr, 9);
	push_n(t, 1); /* 10 */
	CHECK(vq_should_signal(&t->vq));
	fr_set_used_event(&t->fr, 0x0a00);
	push_n(t, 1); /* 11 */
	CHECK(!vq_should_signal(&t->vq));
	vqt_free(t);
}

/* 2.7.7: without event idx, VIRTQ_AVAIL_F_NO_INTERRUPT suppresses interrupts. */
TEST_BOTH(no_interrupt_flag)
{
	struct vqt *t = vqt_new(e, 8, false, false);
	uint8_t raw[2];

	REQUIRE(t);
	push_n(t, 1);
	CHECK(vq_should_signal(&t->vq));
	fr_set_avail_flags(&t->fr, VQ_AVAIL_F_NO_INTERRUPT);
	push_n(t, 1);
	CHECK(!vq_should_signal(&t->vq));
	/* 0x0100 is flag 1 only in the other byte order */
	bytes16(e, raw, 0x0100);
	memcpy(host(t, AVAIL_GPA), raw, 2);
	push_n(t, 1);
	CHECK(vq_should_signal(&t->vq));
	fr_set_avail_flags(&t->fr, 0);
	push_n(t, 1);
	CHECK(vq_should_signal(&t->vq));

	/* 2.7.7: VIRTQ_USED_F_NO_NOTIFY in used->flags, in the queue's order */
	vq_set_no_notify(&t->vq, true);
	bytes16(e, raw, VQ_USED_F_NO_NOTIFY);
	CHECK_MEM(host(t, USED_GPA), raw, 2);
	vq_set_no_notify(&t->vq, false);
	CHECK_EQ_U64(fr_used_flags(&t->fr), 0);
	vqt_free(t);
}

/* 2.7.6/2.7.8: avail->idx and used->idx are free-running u16s that wrap. */
TEST_BOTH(index_wrap_one_by_one)
{
	struct vqt *t = vqt_new(e, 4, true, false);
	unsigned int round, bad = 0;
	uint64_t buf;
	uint32_t id, len;

	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 32, 16);
	fr_desc(&t->fr, 2, buf, 32, VQ_DESC_F_WRITE, 0);
	for (round = 0; round < 65536 + 100; round++) {
		fr_avail_add(&t->fr, 2);
		if (vq_pop(&t->vq, &t->elem) != 1 || t->elem.head != 2 || t->elem.in_len != 32) {
			bad++;
			break;
		}
		vq_push(&t->vq, 2, round & 31);
		fr_used_elem(&t->fr, (uint16_t)round, &id, &len);
		if (fr_used_idx(&t->fr) != (uint16_t)(round + 1) || id != 2 || len != (round & 31) ||
		    fr_avail_event(&t->fr) != (uint16_t)(round + 1)) {
			bad++;
			break;
		}
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(round, 65536 + 100);
	CHECK(!t->vq.broken);
	CHECK_EQ_U64(fr_used_idx(&t->fr), 100);
	CHECK_EQ_U64(t->vq.last_avail, 100);
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 0);
	vqt_free(t);
}

/* Same, with the ring full (avail exactly num ahead) at every wrap point. */
TEST_BOTH(index_wrap_full_ring)
{
	struct vqt *t = vqt_new(e, 4, false, false);
	unsigned int round, i, bad = 0;
	uint64_t buf;

	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 4 * 8, 16);
	for (i = 0; i < 4; i++)
		fr_desc(&t->fr, i, buf + 8 * i, 8, VQ_DESC_F_WRITE, 0);
	for (round = 0; round < 65536 / 4 + 10 && !bad; round++) {
		for (i = 0; i < 4; i++)
			fr_avail_add(&t->fr, (uint16_t)(3 - i));
		for (i = 0; i < 4; i++) {
			if (vq_pop(&t->vq, &t->elem) != 1 || t->elem.head != 3 - i) {
				bad++;
				break;
			}
			vq_push(&t->vq, t->elem.head, 8);
		}
		if (fr_used_idx(&t->fr) != (uint16_t)(4 * round + 4))
			bad++;
	}
	CHECK_EQ_U64(bad, 0);
	CHECK(!t->vq.broken);
	CHECK_EQ_U64(fr_used_idx(&t->fr), 40);
	vqt_free(t);
}

/* Gather/scatter over several iovs, starting inside one of them. */
TEST(virtqueue, iov_read_write)
{
	uint8_t a[3], b[5], c[7], out[32];
	struct iovec iov[3] = {
		{ .iov_base = a, .iov_len = sizeof(a) },
		{ .iov_base = b, .iov_len = sizeof(b) },
		{ .iov_base = c, .iov_len = sizeof(c) },
	};
	static const uint8_t src[15] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(c, 0, sizeof(c));
	/* write 8 bytes at offset 4: b[1..4], c[0..2] */
	CHECK_EQ_U64(vq_iov_write(iov, 3, 4, src, 8), 8);
	CHECK_MEM(a, ((uint8_t[3]){ 0, 0, 0 }), 3);
	CHECK_MEM(b, ((uint8_t[5]){ 0, 1, 2, 3, 4 }), 5);
	CHECK_MEM(c, ((uint8_t[7]){ 5, 6, 7, 8, 0, 0, 0 }), 7);
	/* truncated at the end of the iovs */
	CHECK_EQ_U64(vq_iov_write(iov, 3, 10, src, 15), 5);
	CHECK_MEM(c, ((uint8_t[7]){ 5, 6, 1, 2, 3, 4, 5 }), 7);
	/* offset at or past the end: nothing */
	CHECK_EQ_U64(vq_iov_write(iov, 3, 15, src, 1), 0);
	CHECK_EQ_U64(vq_iov_write(iov, 3, 100, src, 1), 0);

	memset(out, 0xee, sizeof(out));
	CHECK_EQ_U64(vq_iov_read(iov, 3, 2, out, 6), 6);
	CHECK_MEM(out, ((uint8_t[7]){ 0, 0, 1, 2, 3, 4, 0xee }), 7);
	memset(out, 0xee, sizeof(out));
	CHECK_EQ_U64(vq_iov_read(iov, 3, 3, out, sizeof(out)), 12);
	CHECK_MEM(out, ((uint8_t[13]){ 0, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 0xee }), 13);
	CHECK_EQ_U64(vq_iov_read(iov, 3, 15, out, 4), 0);
	CHECK_EQ_U64(vq_iov_read(iov, 0, 0, out, 4), 0);
	/* an offset exactly at an iov boundary */
	CHECK_EQ_U64(vq_iov_read(iov, 3, 8, out, 2), 2);
	CHECK_MEM(out, ((uint8_t[2]){ 5, 6 }), 2);
}

/* ---- hostile rings: -1, broken, a reason, no crash, and it stays broken ---- */

static void expect_broken_at(struct vqt *t, const char *what, int line)
{
	int r = vq_pop(&t->vq, &t->elem);

	if (r != -1)
		test_fail(__FILE__, line, "vq_pop on a hostile ring returned %d, not -1", r);
	if (!t->vq.broken)
		test_fail(__FILE__, line, "vq->broken not set");
	if (!t->vq.why)
		test_fail(__FILE__, line, "vq->why is NULL");
	else if (what && !strstr(t->vq.why, what))
		test_fail(__FILE__, line, "vq->why \"%s\" does not mention \"%s\"", t->vq.why, what);
	/* sticky: a broken queue is never walked again */
	r = vq_pop(&t->vq, &t->elem);
	if (r != -1)
		test_fail(__FILE__, line, "second vq_pop returned %d, not -1", r);
	if (vq_has_avail(&t->vq))
		test_fail(__FILE__, line, "a broken queue still has buffers");
}

#define EXPECT_BROKEN(t, what) expect_broken_at((t), (what), __LINE__)

/* 2.7.5.1: loops in the descriptor chain (0 -> 1 -> 0) */
TEST_BOTH(hostile_desc_loop)
{
	struct vqt *t = vqt_new(e, 8, false, false);
	uint64_t buf;

	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 16, 16);
	fr_desc(&t->fr, 0, buf, 16, VQ_DESC_F_NEXT, 1);
	fr_desc(&t->fr, 1, buf, 16, VQ_DESC_F_NEXT, 0);
	fr_avail_add(&t->fr, 0);
	EXPECT_BROKEN(t, "loop");
	vqt_free(t);
}

/* 2.7.5.1: a chain longer than the queue (num 4: 0 1 2 3 1 ...), a self loop */
TEST_BOTH(hostile_chain_too_long)
{
	struct vqt *t = vqt_new(e, 4, false, false);
	uint64_t buf;
	uint16_t i;

	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 16, 16);
	for (i = 0; i < 4; i++)
		fr_desc(&t->fr, i, buf, 16, VQ_DESC_F_NEXT, i < 3 ? i + 1 : 1);
	fr_avail_add(&t->fr, 0);
	EXPECT_BROKEN(t, "longer");
	vqt_free(t);

	t = vqt_new(e, 4, false, false);
	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 16, 16);
	fr_desc(&t->fr, 2, buf, 16, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2);
	fr_avail_add(&t->fr, 2);
	EXPECT_BROKEN(t, "loop");
	vqt_free(t);
}

/* 2.7.6: avail->ring[] entries name a descriptor < num */
TEST_BOTH(hostile_head_out_of_range)
{
	static const uint16_t heads[] = { 8, 9, 0x8000, 0xffff };
	unsigned int i;

	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct vqt *t = vqt_new(e, 8, false, false);

		REQUIRE(t);
		fr_avail_add(&t->fr, heads[i]);
		EXPECT_BROKEN(t, "range");
		vqt_free(t);
	}
}

/* 2.7.5: next must name a descriptor < num */
TEST_BOTH(hostile_next_out_of_range)
{
	struct vqt *t = vqt_new(e, 8, false, false);
	uint64_t buf;

	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 16, 16);
	fr_desc(&t->fr, 0, buf, 16, VQ_DESC_F_NEXT, 8);
	fr_avail_add(&t->fr, 0);
	EXPECT_BROKEN(t, "range");
	vqt_free(t);
}

/* Buffers must lie inside guest RAM, overflow-checked (ARCHITECTURE: guest memory safety). */
TEST_BOTH(hostile_buffer_outside_ram)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
		{ FAKE_RAM_END, 16 },                 /* just past the end */
		{ FAKE_RAM_END - 8, 16 },             /* straddles the end */
		{ FAKE_RAM_GPA - 16, 16 },            /* just before */
		{ FAKE_RAM_GPA - 8, 16 },             /* straddles the start */
		{ 0, 16 },                            /* nowhere */
		{ 0xfffffffffffff000ULL, 0x2000 },   /* addr + len wraps 2^64 */
		{ UINT64_MAX, 2 },                    /* wraps by one */
		{ FAKE_RAM_GPA, 0xffffffffu },        /* longer than RAM */
	};
	unsigned int i, w;

	for (w = 0; w < 2; w++) {
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct vqt *t = vqt_new(e, 8, false, false);

			REQUIRE(t);
			fr_desc(&t->fr, 0, bad[i].addr, bad[i].len, w ? VQ_DESC_F_WRITE : 0, 0);
			fr_avail_add(&t->fr, 0);
			EXPECT_BROKEN(t, "RAM");
			vqt_free(t);
		}
	}
}

/* The last bytes of RAM are a fine buffer (no off-by-one in the bound). */
TEST_BOTH(buffer_at_end_of_ram)
{
	struct vqt *t = vqt_new(e, 8, false, false);

	REQUIRE(t);
	fr_desc(&t->fr, 0, FAKE_RAM_END - 16, 16, VQ_DESC_F_WRITE, 0);
	fr_avail_add(&t->fr, 0);
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 1);
	CHECK(t->elem.iov[0].iov_base == host(t, FAKE_RAM_END - 16));
	vqt_free(t);
}

/* 2.7.6: the driver never makes more than num buffers available at once */
TEST_BOTH(hostile_avail_idx_too_far)
{
	static const uint16_t idx[] = { 9, 100, 0x8000, 0xffff };
	unsigned int i;

	for (i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		struct vqt *t = vqt_new(e, 8, false, false);
		uint64_t buf;
		uint16_t d;

		REQUIRE(t);
		buf = fake_ram_alloc(&t->ram, 16, 16);
		for (d = 0; d < 8; d++)
			fr_desc(&t->fr, d, buf, 16, 0, 0);
		fr_set_avail_idx(&t->fr, idx[i]);
		EXPECT_BROKEN(t, "ahead");
		vqt_free(t);
	}
}

/* One indirect chain of 2: desc 0 -> table; table entries set by the caller. */
static struct vqt *indirect_ring(enum vq_endian e, uint64_t *tbl, uint32_t tbl_len,
				 uint16_t head_flags)
{
	struct vqt *t = vqt_new(e, 8, false, true);

	if (!t)
		return NULL;
	*tbl = fake_ram_alloc(&t->ram, tbl_len ? tbl_len : 16, 16);
	fr_desc(&t->fr, 0, *tbl, tbl_len, VQ_DESC_F_INDIRECT | head_flags, 1);
	fr_desc(&t->fr, 1, fake_ram_alloc(&t->ram, 16, 16), 16, VQ_DESC_F_WRITE, 0);
	fr_avail_add(&t->fr, 0);
	return t;
}

/* 2.7.5.3.1: no indirect table inside an indirect table */
TEST_BOTH(hostile_nested_indirect)
{
	uint64_t tbl, inner;
	struct vqt *t = indirect_ring(e, &tbl, 2 * VQ_DESC_SIZE, 0);

	REQUIRE(t);
	inner = fake_ram_alloc(&t->ram, 16, 16);
	fd_put_desc(e, host(t, inner), fake_ram_alloc(&t->ram, 8, 8), 8, 0, 0);
	fd_put_desc(e, host(t, tbl), fake_ram_alloc(&t->ram, 8, 8), 8, VQ_DESC_F_NEXT, 1);
	fd_put_desc(e, host(t, tbl + 16), inner, 16, VQ_DESC_F_INDIRECT, 0);
	EXPECT_BROKEN(t, "indirect");
	vqt_free(t);

	/* the table naming itself */
	t = indirect_ring(e, &tbl, VQ_DESC_SIZE, 0);
	REQUIRE(t);
	fd_put_desc(e, host(t, tbl), tbl, VQ_DESC_SIZE, VQ_DESC_F_INDIRECT, 0);
	EXPECT_BROKEN(t, "indirect");
	vqt_free(t);
}

/* 2.7.5.3.1: the driver must not set both INDIRECT and NEXT */
TEST_BOTH(hostile_indirect_with_next)
{
	uint64_t tbl;
	struct vqt *t = indirect_ring(e, &tbl, VQ_DESC_SIZE, VQ_DESC_F_NEXT);

	REQUIRE(t);
	fd_put_desc(e, host(t, tbl), fake_ram_alloc(&t->ram, 8, 8), 8, VQ_DESC_F_WRITE, 0);
	EXPECT_BROKEN(t, "indirect");
	vqt_free(t);
}

/* lkvm: an indirect descriptor must be the only one of its chain */
TEST_BOTH(hostile_indirect_inside_chain)
{
	struct vqt *t = vqt_new(e, 8, false, true);
	uint64_t tbl;

	REQUIRE(t);
	tbl = fake_ram_alloc(&t->ram, 16, 16);
	fd_put_desc(e, host(t, tbl), fake_ram_alloc(&t->ram, 8, 8), 8, VQ_DESC_F_WRITE, 0);
	fr_desc(&t->fr, 0, fake_ram_alloc(&t->ram, 16, 16), 16, VQ_DESC_F_NEXT, 1);
	fr_desc(&t->fr, 1, tbl, 16, VQ_DESC_F_INDIRECT, 0);
	fr_avail_add(&t->fr, 0);
	EXPECT_BROKEN(t, "indirect");
	vqt_free(t);
}

/* 2.7.5.3.1: the table is a whole number of descriptors, bounded by VQ_MAX_INDIRECT */
TEST_BOTH(hostile_indirect_bad_length)
{
	static const uint32_t lens[] = { 0, 8, 40, 17, (VQ_MAX_INDIRECT + 1) * VQ_DESC_SIZE,
					 0x80000000u };
	unsigned int i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint64_t tbl;
		/* the table itself lies in RAM whenever it fits: the length alone is wrong */
		struct vqt *t = indirect_ring(e, &tbl, lens[i] < 0x10000 ? lens[i] : 16, 0);

		REQUIRE(t);
		fr_desc(&t->fr, 0, tbl, lens[i], VQ_DESC_F_INDIRECT, 0);
		fd_put_desc(e, host(t, tbl), fake_ram_alloc(&t->ram, 8, 8), 8, VQ_DESC_F_WRITE, 0);
		EXPECT_BROKEN(t, NULL);
		vqt_free(t);
	}
}

TEST_BOTH(hostile_indirect_outside_ram)
{
	uint64_t tbl;
	struct vqt *t = indirect_ring(e, &tbl, 48, 0);

	REQUIRE(t);
	fr_desc(&t->fr, 0, FAKE_RAM_END - 32, 48, VQ_DESC_F_INDIRECT, 0);
	EXPECT_BROKEN(t, "RAM");
	vqt_free(t);

	t = indirect_ring(e, &tbl, 48, 0);
	REQUIRE(t);
	fr_desc(&t->fr, 0, 0xfffffffffffffff0ULL, 48, VQ_DESC_F_INDIRECT, 0);
	EXPECT_BROKEN(t, "RAM");
	vqt_free(t);
}

/* 2.7.5.3: loops and out-of-range next inside an indirect table */
TEST_BOTH(hostile_indirect_loop)
{
	uint64_t tbl, buf;
	struct vqt *t = indirect_ring(e, &tbl, 3 * VQ_DESC_SIZE, 0);

	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 8, 8);
	fd_put_desc(e, host(t, tbl), buf, 8, VQ_DESC_F_NEXT, 1);
	fd_put_desc(e, host(t, tbl + 16), buf, 8, VQ_DESC_F_NEXT, 0);
	fd_put_desc(e, host(t, tbl + 32), buf, 8, 0, 0);
	EXPECT_BROKEN(t, "loop");
	vqt_free(t);

	t = indirect_ring(e, &tbl, 3 * VQ_DESC_SIZE, 0);
	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 8, 8);
	fd_put_desc(e, host(t, tbl), buf, 8, VQ_DESC_F_NEXT, 3); /* table has 3 */
	EXPECT_BROKEN(t, "range");
	vqt_free(t);
}

/* 2.7.4.2: device-readable descriptors come before device-writable ones */
TEST_BOTH(hostile_readable_after_writable)
{
	struct vqt *t = vqt_new(e, 8, false, false);
	uint64_t buf, tbl;

	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 16, 16);
	fr_desc(&t->fr, 0, buf, 8, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 1);
	fr_desc(&t->fr, 1, buf + 8, 8, 0, 0);
	fr_avail_add(&t->fr, 0);
	EXPECT_BROKEN(t, "readable");
	vqt_free(t);

	t = indirect_ring(e, &tbl, 2 * VQ_DESC_SIZE, 0);
	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 16, 16);
	fd_put_desc(e, host(t, tbl), buf, 8, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 1);
	fd_put_desc(e, host(t, tbl + 16), buf + 8, 8, 0, 0);
	EXPECT_BROKEN(t, "readable");
	vqt_free(t);
}

/* A hostile entry after good ones: the good ones come out, then -1. */
TEST_BOTH(hostile_after_good)
{
	struct vqt *t = vqt_new(e, 8, false, false);
	uint64_t buf;

	REQUIRE(t);
	buf = fake_ram_alloc(&t->ram, 16, 16);
	fr_desc(&t->fr, 0, buf, 16, VQ_DESC_F_WRITE, 0);
	fr_desc(&t->fr, 1, buf, 16, VQ_DESC_F_NEXT, 1);
	fr_avail_add(&t->fr, 0);
	fr_avail_add(&t->fr, 1);
	fr_avail_add(&t->fr, 0);
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 1);
	EXPECT_BROKEN(t, "loop");
	/* push still works for what was popped before; the ring stays broken */
	vq_push(&t->vq, 0, 16);
	CHECK_EQ_U64(fr_used_idx(&t->fr), 1);
	CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), (uint64_t)-1);
	vqt_free(t);
}

/* 2.7 / 4.2.2: vq_activate refuses what cannot be a ring */
TEST(virtqueue, activate_refuses)
{
	static const struct {
		const char *what;
		int endian;
		uint32_t num;
		uint64_t desc, avail, used;
		bool event_idx;
	} bad[] = {
		{ "endian 0", 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, false },
		{ "endian 3", 3, 8, DESC_GPA, AVAIL_GPA, USED_GPA, false },
		{ "num 0", VQ_LE, 0, DESC_GPA, AVAIL_GPA, USED_GPA, false },
		{ "num 3", VQ_LE, 3, DESC_GPA, AVAIL_GPA, USED_GPA, false },
		{ "num 12", VQ_BE, 12, DESC_GPA, AVAIL_GPA, USED_GPA, false },
		{ "num 2048", VQ_LE, 2 * VQ_MAX_SIZE, DESC_GPA, AVAIL_GPA, USED_GPA, false },
		{ "num 32768", VQ_LE, 32768, DESC_GPA, AVAIL_GPA, USED_GPA, false },
		{ "desc misaligned", VQ_LE, 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, false },
		{ "desc misaligned 2", VQ_BE, 8, DESC_GPA + 2, AVAIL_GPA, USED_GPA, false },
		{ "avail odd", VQ_LE, 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, false },
		{ "used misaligned", VQ_LE, 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, false },
		{ "desc outside", VQ_LE, 8, FAKE_RAM_END, AVAIL_GPA, USED_GPA, false },
		{ "desc straddles", VQ_LE, 8, FAKE_RAM_END - 64, AVAIL_GPA, USED_GPA, false },
		{ "avail outside", VQ_LE, 8, DESC_GPA, FAKE_RAM_GPA - 0x1000, USED_GPA, false },
		{ "avail straddles", VQ_LE, 8, DESC_GPA, FAKE_RAM_END - 16, USED_GPA, false },
		{ "used outside", VQ_LE, 8, DESC_GPA, AVAIL_GPA, 0, false },
		{ "used straddles", VQ_LE, 8, DESC_GPA, AVAIL_GPA, FAKE_RAM_END - 64, false },
		{ "desc wraps", VQ_LE, 1024, 0xffffffffffffc000ULL, AVAIL_GPA, USED_GPA, false },
		/* fits without the event fields, not with them (2.7.10) */
		{ "used_event past end", VQ_LE, 8, DESC_GPA, FAKE_RAM_END - (4 + 2 * 8), USED_GPA,
		  true },
		{ "avail_event past end", VQ_LE, 8, DESC_GPA, AVAIL_GPA, FAKE_RAM_END - (4 + 8 * 8),
		  true },
	};
	struct fake_ram ram;
	unsigned int i;

	REQUIRE(fake_ram_init(&ram, NULL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct virtqueue vq;
		struct vq_elem *elem = malloc(sizeof(*elem));
		bool ok;

		memset(&vq, 0x5a, sizeof(vq));
		ok = vq_activate(&vq, ram.mem, (enum vq_endian)bad[i].endian, (uint16_t)bad[i].num,
				 bad[i].desc, bad[i].avail, bad[i].used, bad[i].event_idx, false);
		if (ok || !vq.broken || !vq.why || vq.ready)
			test_fail(__FILE__, __LINE__, "vq_activate accepted \"%s\" (ok %d broken %d ready %d)",
				  bad[i].what, ok, vq.broken, vq.ready);
		if (elem && vq_pop(&vq, elem) != -1)
			test_fail(__FILE__, __LINE__, "\"%s\": vq_pop on a refused queue is not -1",
				  bad[i].what);
		free(elem);
	}
	/* the same boundaries are fine without event idx, or one entry smaller */
	{
		struct virtqueue vq;

		CHECK(vq_activate(&vq, ram.mem, VQ_LE, 8, DESC_GPA, FAKE_RAM_END - (4 + 2 * 8),
				  FAKE_RAM_END - 0x1000, false, false));
		CHECK(vq_activate(&vq, ram.mem, VQ_BE, 8, DESC_GPA, AVAIL_GPA,
				  FAKE_RAM_END - (4 + 8 * 8), false, false));
		CHECK(vq_activate(&vq, ram.mem, VQ_BE, VQ_MAX_SIZE, FAKE_RAM_END - 16 * VQ_MAX_SIZE,
				  AVAIL_GPA, USED_GPA, true, true));
		CHECK(vq.ready && !vq.broken && vq.endian == VQ_BE && vq.num == VQ_MAX_SIZE);
		CHECK(vq_activate(&vq, ram.mem, VQ_LE, 1, DESC_GPA, AVAIL_GPA, USED_GPA, true,
				  false));
		/* reset: not ready, not broken, pop says empty */
		vq_reset(&vq);
		CHECK(!vq.ready && !vq.broken);
		{
			struct vq_elem *elem = malloc(sizeof(*elem));

			if (CHECK(elem))
				CHECK_EQ_U64(vq_pop(&vq, elem), 0);
			free(elem);
		}
	}
	fake_ram_free(&ram);
}

/*
 * The ring's bytes written here by hand, with no helper shared with lkvm
 * (fake_driver.c uses lkvm's ve_put*): on a host of either order a queue
 * in order e must decode exactly these bytes (2.7.5, 2.7.6) and write its
 * used element as these bytes (2.7.8). Literal arrays pin both orders.
 */
TEST(virtqueue, ring_bytes_literal)
{
	static const uint8_t desc_le[16] = { 0x00, 0x00, 0x01, 0x40, 0, 0, 0, 0,
					     0x34, 0x12, 0, 0, 0x02, 0x00, 0x00, 0x00 };
	static const uint8_t desc_be[16] = { 0, 0, 0, 0, 0x40, 0x01, 0x00, 0x00,
					     0, 0, 0x12, 0x34, 0x00, 0x02, 0x00, 0x00 };
	static const uint8_t used_le[8] = { 0x02, 0, 0, 0, 0x21, 0x43, 0x65, 0x07 };
	static const uint8_t used_be[8] = { 0, 0, 0, 0x02, 0x07, 0x65, 0x43, 0x21 };
	/* avail: flags 0, idx 1, ring[0] = 2; then used idx 1 */
	static const uint8_t avail_le[6] = { 0, 0, 1, 0, 2, 0 }, avail_be[6] = { 0, 0, 0, 1, 0, 2 };
	static const uint8_t idx_le[2] = { 1, 0 }, idx_be[2] = { 0, 1 };
	enum vq_endian order[2] = { VQ_LE, VQ_BE };
	unsigned int k;

	for (k = 0; k < 2; k++) {
		enum vq_endian e = order[k];
		struct vqt *t = vqt_new(e, 4, false, false);

		REQUIRE(t);
		/* descriptor 2: addr 0x40010000, len 0x1234, flags WRITE, next 0 */
		memcpy(host(t, DESC_GPA + 2 * VQ_DESC_SIZE), e == VQ_BE ? desc_be : desc_le, 16);
		memcpy(host(t, AVAIL_GPA), e == VQ_BE ? avail_be : avail_le, 6);
		CHECK(vq_has_avail(&t->vq));
		if (CHECK_EQ_U64(vq_pop(&t->vq, &t->elem), 1)) {
			CHECK_EQ_U64(t->elem.head, 2);
			CHECK_EQ_U64(t->elem.out_num, 0);
			CHECK_EQ_U64(t->elem.in_num, 1);
			CHECK(t->elem.iov[0].iov_base == host(t, 0x40010000));
			CHECK_EQ_U64(t->elem.iov[0].iov_len, 0x1234);
		}
		vq_push(&t->vq, 2, 0x07654321);
		CHECK_MEM(host(t, USED_GPA + 4), e == VQ_BE ? used_be : used_le, 8);
		CHECK_MEM(host(t, USED_GPA + 2), e == VQ_BE ? idx_be : idx_le, 2);
		CHECK(!t->vq.broken);
		vqt_free(t);
	}
}
