// SPDX-License-Identifier: GPL-2.0
/* core/guest_mem.c: guest address -> host pointer, the one bounds check. */
#include <string.h>

#include "guest_mem.h"
#include "test.h"

static uint8_t ram_a[0x1000], ram_b[0x1000];

/* A: [0x1000, 0x2000), B: [0x2000, 0x3000) right after it */
static bool two_regions(struct guest_mem *gm)
{
	struct lkvm_err e = { "" };

	memset(gm, 0, sizeof(*gm));
	return CHECK(guest_mem_add(gm, 0x1000, sizeof(ram_a), ram_a, &e) == 0) &&
	       CHECK(guest_mem_add(gm, 0x2000, sizeof(ram_b), ram_b, &e) == 0) &&
	       CHECK_EQ_U64(gm->nr, 2);
}

TEST(guest_mem, add_refuses_bad_regions)
{
	static uint8_t other[0x10000];
	struct guest_mem gm;
	struct lkvm_err e;

	REQUIRE(two_regions(&gm));
	e.msg[0] = 0;
	CHECK(guest_mem_add(&gm, 0x1800, 0x1000, other, &e) == -1); /* straddles A/B */
	CHECK_CONTAINS(e.msg, "overlap");
	CHECK(guest_mem_add(&gm, 0x0, 0x10000, other, &e) == -1);    /* contains both */
	CHECK(guest_mem_add(&gm, 0x2800, 0x10, other, &e) == -1);    /* inside B */
	CHECK(guest_mem_add(&gm, 0x0, 0x1001, other, &e) == -1);     /* last byte in A */
	e.msg[0] = 0;
	CHECK(guest_mem_add(&gm, 0x4000, 0, other, &e) == -1);       /* empty */
	CHECK_CONTAINS(e.msg, "empty");
	CHECK(guest_mem_add(&gm, 0x4000, 0x1000, NULL, &e) == -1);   /* no host memory */
	e.msg[0] = 0;
	CHECK(guest_mem_add(&gm, UINT64_MAX - 0xfff, 0x2000, other, &e) == -1);
	CHECK_CONTAINS(e.msg, "wraps");
	CHECK_EQ_U64(gm.nr, 2);
	/* adjacent on either side is fine */
	CHECK(guest_mem_add(&gm, 0x0, 0x1000, other, &e) == 0);
	CHECK(guest_mem_add(&gm, 0x3000, 0x1000, other + 0x1000, &e) == 0);
	CHECK_EQ_U64(gm.nr, 4);
}

TEST(guest_mem, add_limit)
{
	static uint8_t buf[GUEST_MEM_MAX_REGIONS + 1][16];
	struct guest_mem gm;
	struct lkvm_err e = { "" };
	unsigned int i;

	memset(&gm, 0, sizeof(gm));
	for (i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		CHECK(guest_mem_add(&gm, 0x1000 * (i + 1), 16, buf[i], &e) == 0);
	CHECK(guest_mem_add(&gm, 0x100000, 16, buf[i], &e) == -1);
	CHECK_EQ_U64(gm.nr, GUEST_MEM_MAX_REGIONS);
}

TEST(guest_mem, ptr_bounds)
{
	struct guest_mem gm;

	REQUIRE(two_regions(&gm));
	CHECK(guest_mem_ptr(&gm, 0x1000, 1) == ram_a);
	CHECK(guest_mem_ptr(&gm, 0x1234, 8) == ram_a + 0x234);
	CHECK(guest_mem_ptr(&gm, 0x1000, 0x1000) == ram_a);   /* all of A */
	CHECK(guest_mem_ptr(&gm, 0x1fff, 1) == ram_a + 0xfff); /* exact end */
	CHECK(guest_mem_ptr(&gm, 0x2000, 1) == ram_b);
	CHECK(guest_mem_ptr(&gm, 0x2fff, 1) == ram_b + 0xfff);
	CHECK(guest_mem_ptr(&gm, 0x3000, 1) == NULL);          /* one past B */
	CHECK(guest_mem_ptr(&gm, 0x2ff8, 9) == NULL);          /* ends one past B */
	CHECK(guest_mem_ptr(&gm, 0x0fff, 1) == NULL);          /* just below A */
	CHECK(guest_mem_ptr(&gm, 0x0fff, 2) == NULL);          /* starts below A */
	/* adjacent regions are separate host buffers: no pointer may span them */
	CHECK(guest_mem_ptr(&gm, 0x1fff, 2) == NULL);
	CHECK(guest_mem_ptr(&gm, 0x1000, 0x2000) == NULL);
}

/* len 0 would give a pointer that is valid for nothing (maybe one past the end) */
TEST(guest_mem, ptr_len_zero)
{
	struct guest_mem gm;

	REQUIRE(two_regions(&gm));
	CHECK(guest_mem_ptr(&gm, 0x1000, 0) == NULL);
	CHECK(guest_mem_ptr(&gm, 0x2000, 0) == NULL);
}

/* gpa + len wrapping to a small number must not look "in range" */
TEST(guest_mem, ptr_overflow)
{
	static uint8_t top[0x1000];
	struct guest_mem gm;
	struct lkvm_err e = { "" };

	REQUIRE(two_regions(&gm));
	CHECK(guest_mem_ptr(&gm, UINT64_MAX - 1, 4) == NULL);
	CHECK(guest_mem_ptr(&gm, 0x1000, UINT64_MAX) == NULL);
	CHECK(guest_mem_ptr(&gm, 0x1800, UINT64_MAX - 0x7ff) == NULL); /* wraps to 0x1000 */
	CHECK(guest_mem_ptr(&gm, UINT64_MAX, 1) == NULL);
	/* a region near the top of the address space */
	REQUIRE(guest_mem_add(&gm, UINT64_MAX - 0x1fff, sizeof(top), top, &e) == 0);
	CHECK(guest_mem_ptr(&gm, UINT64_MAX - 0x1fff, 0x1000) == top);
	CHECK(guest_mem_ptr(&gm, UINT64_MAX - 0x1000, 1) == top + 0xfff);
	CHECK(guest_mem_ptr(&gm, UINT64_MAX - 0x1000, 2) == NULL);
	CHECK(guest_mem_ptr(&gm, UINT64_MAX - 0x1800, UINT64_MAX) == NULL);
}

TEST(guest_mem, read_write)
{
	struct guest_mem gm;
	uint8_t out[8], before_a[sizeof(ram_a)], before_b[sizeof(ram_b)];

	REQUIRE(two_regions(&gm));
	memset(ram_a, 0, sizeof(ram_a));
	memset(ram_b, 0, sizeof(ram_b));
	CHECK(guest_mem_write(&gm, 0x1ffb, "hello", 5));
	CHECK_MEM(ram_a + 0xffb, "hello", 5);
	memset(out, 0, sizeof(out));
	CHECK(guest_mem_read(&gm, 0x1ffc, out, 4));
	CHECK_MEM(out, "ello", 4);
	CHECK(guest_mem_write(&gm, 0x2000, "B", 1));
	CHECK_EQ_U64(ram_b[0], 'B');

	/* refused accesses copy nothing, not even the part that would fit */
	memcpy(before_a, ram_a, sizeof(ram_a));
	memcpy(before_b, ram_b, sizeof(ram_b));
	CHECK(!guest_mem_write(&gm, 0x1ffe, "XYZW", 4));
	CHECK(!guest_mem_write(&gm, 0x2ffe, "XYZW", 4));
	CHECK(!guest_mem_write(&gm, 0x1000, "", 0));
	CHECK_MEM(ram_a, before_a, sizeof(ram_a));
	CHECK_MEM(ram_b, before_b, sizeof(ram_b));
	memset(out, 0x77, sizeof(out));
	CHECK(!guest_mem_read(&gm, 0x2ffc, out, 8));
	CHECK_EQ_U64(out[0], 0x77);
}
