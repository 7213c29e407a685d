// SPDX-License-Identifier: GPL-2.0
/* core/mmio_bus.c and the mmio_get_le()/mmio_put_le() helpers. */
#include <string.h>

#include "mmio_bus.h"
#include "test.h"

/* A device that records its last access and answers reads with 0xa5.. */
struct fake {
	struct mmio_dev dev;
	unsigned int reads, writes;
	uint64_t off;
	unsigned int len;
	uint8_t data[8];
};

static void fake_read(struct mmio_dev *dev, struct vcpu *vcpu, uint64_t off, uint8_t *data,
		      unsigned int len)
{
	struct fake *f = dev->opaque;

	f->reads++;
	f->off = off;
	f->len = len;
	data[0] = 0xa5; /* only one byte: the bus must have zeroed the rest */
}

static void fake_write(struct mmio_dev *dev, struct vcpu *vcpu, uint64_t off, const uint8_t *data,
		       unsigned int len)
{
	struct fake *f = dev->opaque;

	f->writes++;
	f->off = off;
	f->len = len;
	memcpy(f->data, data, len < 8 ? len : 8);
}

static const struct mmio_ops fake_ops = { .read = fake_read, .write = fake_write };

static void fake_init(struct fake *f, const char *name, uint64_t base, uint64_t size)
{
	memset(f, 0, sizeof(*f));
	f->dev = (struct mmio_dev){ .base = base, .size = size, .ops = &fake_ops, .opaque = f,
				    .dt = { .name = name } };
}

TEST(mmio_bus, register_refuses_overlap)
{
	struct mmio_bus bus = { .nr = 0 };
	struct fake a, b, c, d, z, w;
	struct lkvm_err e = { "" };

	fake_init(&a, "a", 0x1000, 0x100);
	fake_init(&b, "b", 0x10ff, 0x10); /* last byte of a */
	fake_init(&c, "c", 0x0f00, 0x1000); /* covers a */
	fake_init(&d, "d", 0x1100, 0x100); /* adjacent: fine */
	fake_init(&z, "z", 0x4000, 0);
	fake_init(&w, "w", UINT64_MAX - 0xff, 0x200);

	CHECK(mmio_bus_register(&bus, &a.dev, &e) == 0);
	CHECK(mmio_bus_register(&bus, &b.dev, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps");
	CHECK(mmio_bus_register(&bus, &c.dev, &e) == -1);
	CHECK(mmio_bus_register(&bus, &z.dev, &e) == -1);
	CHECK(mmio_bus_register(&bus, &w.dev, &e) == -1);
	CHECK(mmio_bus_register(&bus, &d.dev, &e) == 0);
	CHECK_EQ_U64(bus.nr, 2);
}

TEST(mmio_bus, find)
{
	struct mmio_bus bus = { .nr = 0 };
	struct fake a, b;
	struct lkvm_err e = { "" };

	fake_init(&a, "a", 0x1000, 0x100);
	fake_init(&b, "b", 0x1100, 0x100);
	REQUIRE(mmio_bus_register(&bus, &a.dev, &e) == 0);
	REQUIRE(mmio_bus_register(&bus, &b.dev, &e) == 0);
	CHECK(mmio_bus_find(&bus, 0x1000, 4) == &a.dev);
	CHECK(mmio_bus_find(&bus, 0x10fc, 4) == &a.dev);
	CHECK(mmio_bus_find(&bus, 0x10ff, 1) == &a.dev);
	CHECK(mmio_bus_find(&bus, 0x1100, 8) == &b.dev);
	CHECK(mmio_bus_find(&bus, 0x11f8, 8) == &b.dev);
	/* straddling a's end (into b) belongs to neither */
	CHECK(mmio_bus_find(&bus, 0x10fd, 4) == NULL);
	CHECK(mmio_bus_find(&bus, 0x11f9, 8) == NULL);
	CHECK(mmio_bus_find(&bus, 0x0fff, 2) == NULL);
	CHECK(mmio_bus_find(&bus, 0x0fff, 1) == NULL);
	CHECK(mmio_bus_find(&bus, 0x1200, 1) == NULL);
	CHECK(mmio_bus_find(&bus, UINT64_MAX - 1, 8) == NULL);
}

TEST(mmio_bus, access)
{
	struct mmio_bus bus = { .nr = 0 };
	struct fake a;
	struct lkvm_err e = { "" };
	uint8_t data[8];
	static const uint8_t w[4] = { 1, 2, 3, 4 };
	static const uint8_t zeroes[8];

	fake_init(&a, "a", 0x1000, 0x100);
	REQUIRE(mmio_bus_register(&bus, &a.dev, &e) == 0);

	memcpy(data, w, 4);
	CHECK(mmio_bus_access(&bus, NULL, 0x1010, data, 4, true));
	CHECK_EQ_U64(a.writes, 1);
	CHECK_EQ_U64(a.off, 0x10); /* device-relative */
	CHECK_EQ_U64(a.len, 4);
	CHECK_MEM(a.data, w, 4);

	memset(data, 0xee, sizeof(data));
	CHECK(mmio_bus_access(&bus, NULL, 0x1020, data, 8, false));
	CHECK_EQ_U64(a.reads, 1);
	CHECK_EQ_U64(a.off, 0x20);
	CHECK_EQ_U64(mmio_get_le(data, 8), 0xa5); /* the rest zeroed, not stale */

	/* unclaimed: reads give zeroes, writes go nowhere */
	memset(data, 0xee, sizeof(data));
	CHECK(!mmio_bus_access(&bus, NULL, 0x2000, data, 8, false));
	CHECK_MEM(data, zeroes, 8);
	memset(data, 0xee, sizeof(data));
	CHECK(!mmio_bus_access(&bus, NULL, 0x10fe, data, 4, false));
	CHECK_MEM(data, zeroes, 4);
	CHECK_EQ_U64(data[4], 0xee); /* and nothing past len */
	CHECK(!mmio_bus_access(&bus, NULL, 0x10fe, data, 4, true));
	CHECK_EQ_U64(a.reads, 1);
	CHECK_EQ_U64(a.writes, 1);
}

/* device registers are LE on the bus whatever the host: bytes built by hand */
TEST(mmio_bus, get_le)
{
	static const uint8_t b[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };

	CHECK_EQ_U64(mmio_get_le(b, 1), 0x11);
	CHECK_EQ_U64(mmio_get_le(b, 2), 0x2211);
	CHECK_EQ_U64(mmio_get_le(b, 4), 0x44332211);
	CHECK_EQ_U64(mmio_get_le(b, 8), 0x8877665544332211ULL);
}

TEST(mmio_bus, put_le)
{
	static const uint8_t want8[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	static const uint8_t want2[8] = { 0x11, 0x22, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee };
	static const uint8_t want1[8] = { 0x11, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee };
	static const uint8_t want4[8] = { 0x11, 0x22, 0x33, 0x44, 0xee, 0xee, 0xee, 0xee };
	uint8_t d[8];

	memset(d, 0xee, sizeof(d));
	mmio_put_le(d, 8, 0x8877665544332211ULL);
	CHECK_MEM(d, want8, 8);
	memset(d, 0xee, sizeof(d));
	mmio_put_le(d, 4, 0x8877665544332211ULL); /* high bits dropped */
	CHECK_MEM(d, want4, 8);
	memset(d, 0xee, sizeof(d));
	mmio_put_le(d, 2, 0x2211);
	CHECK_MEM(d, want2, 8);
	memset(d, 0xee, sizeof(d));
	mmio_put_le(d, 1, 0x11);
	CHECK_MEM(d, want1, 8);
	CHECK_EQ_U64(mmio_get_le(want8, 8), 0x8877665544332211ULL);
}
