// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile cases on the split ring (2.7) and the virtio-mmio registers (4.2.2,
 * 4.2.4): descriptor chains, indirect tables, buffer and ring addresses,
 * avail indices, queue set-up, register accesses, config space, features.
 */
#include "cases.h"

/* ------------------------------------------------------------ descriptors */

int c_desc_loop(struct vdev *v)
{
	u64 b = (u64)buf(64);
	struct d ds[2] = { { b, 16, DESC_WRITE | DESC_NEXT, 1 },
			   { b + 16, 16, DESC_WRITE | DESC_NEXT, 0 } };

	return bad_chain(v, 0, ds, 2);
}

/* a chain of exactly QueueSize descriptors is fine; one that goes on is not */
int c_chain_long(struct vdev *v)
{
	u64 b = (u64)buf(1024);
	u16 i;

	TRY(vdev_setup(v, 0));
	for (i = 0; i < v->num; i++) {
		struct d d = { b + 8 * i, 8, DESC_WRITE | DESC_NEXT, (u16)(i + 1) };

		if (i == v->num - 1)
			d.flags = DESC_WRITE;
		vq_write_desc(v, i, &d);
	}
	vq_publish(v, 0);
	CHECK(vq_wait(v, TIMEOUT_US) == 1, "a full-length chain was not used", status(v));
	CHECK(v->last_len == 8U * v->num, "full-length chain: used length", v->last_len);
	/* the same chain, its last descriptor pointing back into it */
	for (i = 0; i < v->num; i++) {
		struct d d = { b + 8 * i, 8, DESC_WRITE | DESC_NEXT, (u16)((i + 1) % v->num) };

		if (i == v->num - 1)
			d.next = (u16)(v->num / 2);
		vq_write_desc(v, i, &d);
	}
	vq_publish(v, 0);
	return expect_nr(v);
}

int c_desc_next_oob(struct vdev *v)
{
	u64 b = (u64)buf(64);
	struct d ds[1] = { { b, 16, DESC_WRITE | DESC_NEXT, 0xffff } };

	TRY(bad_chain(v, 0, ds, 1));
	TRY(recover(v));
	ds[0].next = v->num; /* one past the table */
	return bad_chain(v, 0, ds, 1);
}

/* 2.7.4.2: readable descriptors come before writable ones */
int c_desc_order(struct vdev *v)
{
	u64 b = (u64)buf(64);
	struct d ds[2] = { { b, 16, DESC_WRITE | DESC_NEXT, 1 }, { b + 16, 16, 0, 0 } };

	return bad_chain(v, 0, ds, 2);
}

/* ---------------------------------------------------------------- indirect */

static void *itable(struct vdev *v, const struct d *ds, int n)
{
	u8 *t = heap_alloc(16ULL * (n ? n : 1), 16);
	int i;

	for (i = 0; i < n; i++) {
		rput64(v, t + 16 * i, ds[i].addr);
		rput32(v, t + 16 * i + 8, ds[i].len);
		rput16(v, t + 16 * i + 12, ds[i].flags);
		rput16(v, t + 16 * i + 14, ds[i].next);
	}
	return t;
}

static int need_indirect(struct vdev *v)
{
	TRY(vdev_setup(v, F(F_INDIRECT)));
	CHECK(v->features & F(F_INDIRECT), "device does not offer INDIRECT_DESC", v->host_features);
	return 0;
}

int c_indirect_loop(struct vdev *v)
{
	u64 b = (u64)buf(64);
	struct d t[4] = { { b, 8, DESC_WRITE | DESC_NEXT, 1 }, { b + 8, 8, DESC_WRITE | DESC_NEXT, 2 },
			  { b + 16, 8, DESC_WRITE | DESC_NEXT, 0 }, { b + 24, 8, DESC_WRITE, 0 } };
	struct d d;

	TRY(need_indirect(v));
	/* first a good indirect chain: 0 -> 1 -> 3 */
	t[1].next = 3;
	d = (struct d){ (u64)itable(v, t, 4), 64, DESC_INDIRECT, 0 };
	vq_write_desc(v, 0, &d);
	vq_publish(v, 0);
	CHECK(vq_wait(v, TIMEOUT_US) == 1, "a good indirect chain was not used", status(v));
	CHECK(v->last_len == 24, "good indirect chain: used length", v->last_len);
	t[1].next = 2;
	d.addr = (u64)itable(v, t, 4);
	vq_write_desc(v, 0, &d);
	vq_publish(v, 0);
	return expect_nr(v);
}

int c_indirect_nested(struct vdev *v)
{
	u64 b = (u64)buf(64);
	struct d inner[1] = { { b, 8, DESC_WRITE, 0 } };
	struct d outer[1] = { { 0, 16, DESC_INDIRECT, 0 } };
	struct d d;

	TRY(need_indirect(v));
	outer[0].addr = (u64)itable(v, inner, 1);
	d = (struct d){ (u64)itable(v, outer, 1), 16, DESC_INDIRECT, 0 };
	vq_write_desc(v, 0, &d);
	vq_publish(v, 0);
	return expect_nr(v);
}

/* 2.7.5.3.1: an indirect descriptor with NEXT */
int c_indirect_chain(struct vdev *v)
{
	u64 b = (u64)buf(64);
	struct d t[1] = { { b, 8, DESC_WRITE, 0 } };
	struct d ds[2] = { { 0, 16, DESC_INDIRECT | DESC_NEXT, 1 }, { b + 8, 8, DESC_WRITE, 0 } };

	TRY(need_indirect(v));
	ds[0].addr = (u64)itable(v, t, 1);
	vq_write_desc(v, 0, &ds[0]);
	vq_write_desc(v, 1, &ds[1]);
	vq_publish(v, 0);
	return expect_nr(v);
}

/* bad tables: INDIRECT not negotiated, length not a multiple of 16, 0, outside RAM */
int c_indirect_bad(struct vdev *v)
{
	u64 b = (u64)buf(64);
	struct d t[2] = { { b, 8, DESC_WRITE, 0 }, { b, 8, DESC_WRITE, 0 } };
	u64 tab = (u64)itable(v, t, 2);
	struct d ds[1] = { { tab, 32, DESC_INDIRECT, 0 } };

	TRY(bad_chain(v, 0, ds, 1)); /* not negotiated */
	TRY(recover(v));
	ds[0].len = 17;
	TRY(bad_chain(v, F(F_INDIRECT), ds, 1));
	TRY(recover(v));
	ds[0].len = 0;
	TRY(bad_chain(v, F(F_INDIRECT), ds, 1));
	TRY(recover(v));
	ds[0] = (struct d){ ram_end() - 16, 32, DESC_INDIRECT, 0 };
	return bad_chain(v, F(F_INDIRECT), ds, 1);
}

/* ----------------------------------------------------------- buffer places */

int c_buf_past_ram(struct vdev *v)
{
	const struct d cases[] = {
		{ ram_end() - 8, 16, DESC_WRITE, 0 },		/* straddles the end */
		{ ram_end(), 1, DESC_WRITE, 0 },		/* just past it */
		{ 0xfffffffffffff000ULL, 0x2000, DESC_WRITE, 0 }, /* wraps */
		{ dt->ram_base, 0xffffffffU, DESC_WRITE, 0 },	/* longer than RAM */
		{ dt->ram_base - 4096, 8192, DESC_WRITE, 0 },	/* starts below RAM */
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (i)
			TRY(recover(v));
		TRY(bad_chain(v, 0, &cases[i], 1));
	}
	return 0;
}

/* buffers over MMIO: the UART, this device's own registers, address 0 */
int c_buf_mmio(struct vdev *v)
{
	const struct d cases[] = {
		{ dt->uart, 8, DESC_WRITE, 0 },
		{ v->base, MMIO_WINDOW, DESC_WRITE, 0 },
		{ v->base + R_STATUS, 4, DESC_WRITE, 0 },
		{ 0, 64, DESC_WRITE, 0 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (i)
			TRY(recover(v));
		TRY(bad_chain(v, 0, &cases[i], 1));
		CHECK(vr(v, R_MAGIC) == 0x74726976, "the device's registers changed", vr(v, R_MAGIC));
	}
	return 0;
}

/* ---------------------------------------------------------------- avail ring */

int c_avail_ahead(struct vdev *v)
{
	u64 b = (u64)buf(64);
	struct d d = { b, 16, DESC_WRITE, 0 };
	const u16 idx[] = { 0, 0xffff, 0x8000 };
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (i)
			TRY(recover(v));
		TRY(vdev_setup(v, 0));
		vq_write_desc(v, 0, &d);
		rput16(v, v->avail + 4, 0);
		rput16(v, v->avail + 2, idx[i] ? idx[i] : (u16)(v->num + 1));
		mb();
		vw(v, R_QUEUE_NOTIFY, 0);
		TRY(expect_nr(v));
	}
	/* an avail entry naming a descriptor past the table */
	TRY(recover(v));
	TRY(vdev_setup(v, 0));
	vq_publish(v, v->num);
	return expect_nr(v);
}

/* ------------------------------------------------------- queue registers */

/* queue 0 of num entries with these ring addresses (or legacy pfn) */
static void queue_raw(struct vdev *v, u32 num, u64 desc, u64 avail, u64 used)
{
	vw(v, R_QUEUE_SEL, 0);
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
	}
}

static int queue_refused(struct vdev *v)
{
	TRY(expect_nr(v));
	if (v->legacy)
		return 0;
	CHECK(vr(v, R_QUEUE_READY) == 0, "a refused queue reads ready", vr(v, R_QUEUE_READY));
	return 0;
}

/* rings outside RAM, straddling its end, over the UART, misaligned */
int c_ring_oob(struct vdev *v)
{
	u64 r = (u64)heap_alloc(4 * PAGE, PAGE), e = ram_end();

	TRY(vdev_begin(v, 0, 0));
	queue_raw(v, 8, e, r + 1024, r + 2 * PAGE);
	TRY(queue_refused(v));
	TRY(vdev_begin(v, 0, 0));
	queue_raw(v, 8, e - PAGE, e - PAGE + 128, e - 16);
	TRY(queue_refused(v));
	TRY(vdev_begin(v, 0, 0));
	queue_raw(v, 8, dt->uart, r + 1024, r + 2 * PAGE);
	TRY(queue_refused(v));
	/* addresses at the top: a 64-bit wrap, or legacy pfn * page size near 2^63 */
	TRY(vdev_begin(v, 0, 0));
	if (v->legacy) {
		vw(v, R_GUEST_PAGE_SIZE, 0x80000000U);
		vw(v, R_QUEUE_SEL, 0);
		vw(v, R_QUEUE_NUM, 8);
		vw(v, R_QUEUE_ALIGN, 0x80000000U);
		vw(v, R_QUEUE_PFN, 0xffffffffU);
	} else {
		queue_raw(v, 8, 0xfffffffffffffff0ULL, 0xfffffffffffffffeULL, 0xfffffffffffffffcULL);
	}
	TRY(queue_refused(v));
	if (!v->legacy) {
		/* 2.7: desc 16-aligned, avail 2, used 4 */
		TRY(vdev_begin(v, 0, 0));
		queue_raw(v, 8, r + 8, r + 1024, r + 2 * PAGE);
		TRY(queue_refused(v));
		TRY(vdev_begin(v, 0, 0));
		queue_raw(v, 8, r, r + 1025, r + 2 * PAGE);
		TRY(queue_refused(v));
		TRY(vdev_begin(v, 0, 0));
		queue_raw(v, 8, r, r + 1024, r + 2 * PAGE + 2);
		TRY(queue_refused(v));
	}
	return 0;
}

/* QueueSel past the device's queues: everything queue-ish is ignored */
int c_queuesel_oob(struct vdev *v)
{
	const u32 sels[] = { 1, 4, 31, 0x10000, 0xffffffffU };
	u64 r = (u64)heap_alloc(4 * PAGE, PAGE);
	unsigned int i;

	TRY(vdev_begin(v, 0, 0));
	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		vw(v, R_QUEUE_SEL, sels[i]);
		CHECK(vr(v, R_QUEUE_NUM_MAX) == 0, "QueueNumMax of a missing queue", sels[i]);
		vw(v, R_QUEUE_NUM, 8);
		if (v->legacy) {
			vw(v, R_QUEUE_ALIGN, PAGE);
			vw(v, R_QUEUE_PFN, (u32)(r / PAGE));
			CHECK(vr(v, R_QUEUE_PFN) == 0, "QueuePFN of a missing queue", sels[i]);
		} else {
			vw(v, R_DESC_LO, (u32)r);
			vw(v, R_AVAIL_LO, (u32)r + 1024);
			vw(v, R_USED_LO, (u32)r + 2 * PAGE);
			vw(v, R_QUEUE_READY, 1);
			CHECK(vr(v, R_QUEUE_READY) == 0, "QueueReady of a missing queue", sels[i]);
		}
		vw(v, R_QUEUE_NOTIFY, sels[i]);
		CHECK(!(status(v) & S_NEEDS_RESET), "NEEDS_RESET for a missing queue", sels[i]);
	}
	vw(v, R_QUEUE_NOTIFY, 0xffff);
	/* queue 0 is untouched by all that */
	TRY(vdev_queue(v, 16, true));
	return expect_fine(v);
}

/* QueueNum above QueueNumMax, 0, not a power of two, beyond 16 bits */
int c_queuenum_bad(struct vdev *v)
{
	u64 r = (u64)heap_alloc(16 * PAGE, PAGE);
	u32 nums[] = { 0, 0, 3, 0xffff, 0x10000, 0x10008 };
	unsigned int i;

	TRY(vdev_begin(v, 0, 0));
	vw(v, R_QUEUE_SEL, 0);
	nums[0] = vr(v, R_QUEUE_NUM_MAX) * 2;
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (i)
			TRY(vdev_begin(v, 0, 0));
		queue_raw(v, nums[i], r, r + 4 * PAGE, r + 8 * PAGE);
		TRY(queue_refused(v));
	}
	return 0;
}

/* legacy GuestPageSize / QueueAlign (4.2.4): bad values; a modern device ignores them */
int c_legacy_regs(struct vdev *v)
{
	const u32 bad[][2] = { { 0, PAGE }, { 3, PAGE }, { PAGE, 0 }, { PAGE, 3 } };
	u64 r = (u64)heap_alloc(4 * PAGE, PAGE);
	unsigned int i;

	if (!v->legacy) {
		TRY(vdev_begin(v, 0, 0));
		vw(v, R_GUEST_PAGE_SIZE, 0);
		vw(v, R_QUEUE_SEL, 0);
		vw(v, R_QUEUE_ALIGN, 3);
		vw(v, R_QUEUE_PFN, (u32)(r / PAGE));
		CHECK(vr(v, R_QUEUE_PFN) == 0, "a modern device took QueuePFN", vr(v, R_QUEUE_PFN));
		CHECK(!(status(v) & S_NEEDS_RESET), "NEEDS_RESET for legacy registers", status(v));
		TRY(vdev_queue(v, 16, true));
		return expect_fine(v);
	}
	for (i = 0; i < 4; i++) {
		TRY(vdev_begin(v, 0, 0));
		vw(v, R_GUEST_PAGE_SIZE, bad[i][0]);
		vw(v, R_QUEUE_SEL, 0);
		vw(v, R_QUEUE_NUM, 8);
		vw(v, R_QUEUE_ALIGN, bad[i][1]);
		vw(v, R_QUEUE_PFN, (u32)(r / PAGE));
		TRY(expect_nr(v));
	}
	return 0;
}

/* registers rewritten while the queue runs are ignored; turning it off stops it */
int c_queue_live(struct vdev *v)
{
	u8 *b = buf(512), st;
	u16 used;
	int r;

	TRY(vdev_setup(v, 0));
	vw(v, R_QUEUE_SEL, 0);
	vw(v, R_QUEUE_NUM, 3);
	if (v->legacy) {
		vw(v, R_QUEUE_ALIGN, 5);
		vw(v, R_GUEST_PAGE_SIZE, 3);
	} else {
		vw(v, R_DESC_LO, (u32)ram_end());
		vw(v, R_AVAIL_LO, 1);
		vw(v, R_USED_LO, (u32)dt->uart);
	}
	TRY(expect_fine(v));
	/* queue off: QueuePFN 0 / QueueReady 0 (4.2.4, 4.2.3.2); a kick does nothing */
	vw(v, v->legacy ? R_QUEUE_PFN : R_QUEUE_READY, 0);
	CHECK(vr(v, v->legacy ? R_QUEUE_PFN : R_QUEUE_READY) == 0, "the queue did not turn off", 0);
	used = rget16(v, v->used + 2);
	*b = 0;
	req_timeout_us = SHORT_US;
	r = blk_rw(v, 0, 0, b, 512, &st);
	req_timeout_us = TIMEOUT_US;
	if (r == 0)
		return fail("a queue turned off still answered", st);
	why = NULL;
	CHECK(rget16(v, v->used + 2) == used, "a queue turned off still used buffers", used);
	CHECK(!(status(v) & S_NEEDS_RESET), "NEEDS_RESET for a stopped queue", status(v));
	return 0;
}

/* -------------------------------------------------------- register accesses */

/* 4.2.2.2: 32-bit aligned accesses only; lkvm ignores the rest (reads give 0) */
int c_reg_access(struct vdev *v)
{
	const u32 reserved[] = { 0x018, 0x01c, 0x02c, 0x048, 0x04c, 0x054, 0x058, 0x05c,
				 0x068, 0x06c, 0x074, 0x078, 0x07c, 0x088, 0x08c, 0x098 };
	u32 st, ver, numax, f0;
	u64 next_slot = 0;
	unsigned int i;

	TRY(vdev_setup(v, 0));
	st = status(v);
	ver = vr(v, R_VERSION);
	vw(v, R_QUEUE_SEL, 0);
	numax = vr(v, R_QUEUE_NUM_MAX);
	vw(v, R_DEV_FEATURES_SEL, 0);
	f0 = vr(v, R_DEV_FEATURES);
	/* narrow and wide accesses */
	CHECK(mmio_r8(v->base + R_MAGIC) == 0, "8-bit read of Magic", mmio_r8(v->base));
	CHECK(mmio_r16(v->base + R_MAGIC + 2) == 0, "16-bit read of Magic", 0);
	CHECK(mmio_r64(v->base + R_MAGIC) == 0, "64-bit read of Magic", 0);
	mmio_w8(v->base + R_STATUS, 0);
	mmio_w16(v->base + R_STATUS, 0);
	mmio_w64(v->base + R_STATUS, 0);
	mmio_w64(v->base + R_QUEUE_NOTIFY, 0);
	mmio_w8(v->base + R_QUEUE_SEL, 5);
	CHECK(status(v) == st, "a narrow or wide write reached Status", status(v));
	CHECK(vr(v, R_QUEUE_NUM_MAX) == numax, "a narrow write reached QueueSel", 0);
	/* read-only registers */
	vw(v, R_MAGIC, 0);
	vw(v, R_VERSION, 7);
	vw(v, R_DEVICE_ID, 0);
	vw(v, R_VENDOR_ID, 0);
	vw(v, R_QUEUE_NUM_MAX, 1);
	vw(v, R_DEV_FEATURES, 0);
	vw(v, R_ISR, 0xff);
	vw(v, R_CONFIG_GEN, 0x55);
	CHECK(vr(v, R_MAGIC) == 0x74726976 && vr(v, R_VERSION) == ver && vr(v, R_DEVICE_ID) == v->id,
	      "a read-only register changed", vr(v, R_VERSION));
	CHECK(vr(v, R_QUEUE_NUM_MAX) == numax, "QueueNumMax changed", vr(v, R_QUEUE_NUM_MAX));
	vw(v, R_DEV_FEATURES_SEL, 0);
	CHECK(vr(v, R_DEV_FEATURES) == f0, "DeviceFeatures changed", vr(v, R_DEV_FEATURES));
	/* write-only and reserved registers read 0; writes to them do nothing */
	CHECK(vr(v, R_QUEUE_NOTIFY) == 0 && vr(v, R_ISR_ACK) == 0, "a write-only register reads", 0);
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		vw(v, reserved[i], 0xffffffffU);
		CHECK(vr(v, reserved[i]) == 0, "a reserved register reads", reserved[i]);
	}
	/* feature words past the second */
	vw(v, R_DEV_FEATURES_SEL, 2);
	CHECK(vr(v, R_DEV_FEATURES) == 0, "DeviceFeatures word 2", vr(v, R_DEV_FEATURES));
	vw(v, R_DEV_FEATURES_SEL, 0xffffffffU);
	CHECK(vr(v, R_DEV_FEATURES) == 0, "DeviceFeatures word ~0", vr(v, R_DEV_FEATURES));
	vw(v, R_DRV_FEATURES_SEL, 0xffffffffU);
	vw(v, R_DRV_FEATURES, 0xffffffffU);
	/* no device: the slot after the last one in the DT, and address 0 */
	for (i = 0; i < dt->nr_virtio; i++)
		if (dt->virtio[i] + MMIO_WINDOW > next_slot)
			next_slot = dt->virtio[i] + MMIO_WINDOW;
	CHECK(mmio_r32(next_slot + R_MAGIC) == 0, "a device where the DT has none", next_slot);
	mmio_w32(next_slot + R_STATUS, 0);
	CHECK(mmio_r32(0) == 0, "something at address 0", 0);
	mmio_w32(0, 0xdeadbeef);
	CHECK(status(v) == st, "Status changed", status(v));
	return expect_fine(v);
}

/*
 * A load pair from the registers: no valid syndrome (ESR ISV = 0), so KVM
 * cannot emulate it and hands it to the VMM (KVM_EXIT_ARM_NISV) or fails
 * KVM_RUN. The guest must not be able to kill lkvm with it: an external
 * abort injected into the guest is the expected answer (what QEMU does).
 */
int c_mmio_nisv(struct vdev *v)
{
	u32 a = 1, b = 1;

	TRY(vdev_setup(v, 0));
	exc.expect = 1;
	exc.taken = 0;
	asm volatile("ldp %w0, %w1, [%2]" : "=&r"(a), "=&r"(b) : "r"(v->base) : "memory");
	asm volatile("stp %w0, %w0, [%1]" : : "r"(0), "r"(v->base + R_STATUS) : "memory");
	exc.expect = 0;
	puts("HOSTILE mmio-nisv aborts=");
	put_dec((u64)exc.taken);
	puts(" esr=");
	put_hex(exc.esr);
	puts("\n");
	(void)a;
	(void)b;
	return expect_fine(v);
}

/* 4.2.2.2 config space: any width in range; nothing past its end */
int c_config_oob(struct vdev *v)
{
	u64 c = v->base + R_CONFIG, cap, cap8;
	u32 lo, hi;
	u8 *b = buf(512), st;

	TRY(vdev_setup(v, 0));
	lo = mmio_r32_raw(c);
	hi = mmio_r32_raw(c + 4);
	cap8 = mmio_r64(c);
	/* capacity: LE on a modern device, the ring's order on a legacy one */
	if (v->ring_be == CPU_BE) {
		cap = CPU_BE ? (u64)lo << 32 | hi : (u64)hi << 32 | lo;
	} else {
		lo = bswap32(lo);
		hi = bswap32(hi);
		cap = CPU_BE ? (u64)hi << 32 | lo : (u64)lo << 32 | hi;
		cap8 = bswap64(cap8);
	}
	CHECK(cap && cap < (1ULL << 40), "capacity", cap);
	CHECK(cap8 == cap, "64-bit read of capacity differs", cap8);
	CHECK(mmio_r32(c + 60) == 0, "config read at its end", mmio_r32(c + 60));
	CHECK(mmio_r64(c + 56) == 0, "config read across its end", 0);
	CHECK(mmio_r8(c + 0xff) == 0, "config read at the window's end", 0);
	CHECK(mmio_r32(c + 0xfc) == 0, "config read at 0x1fc", 0);
	mmio_w64(c, 0);       /* capacity is read-only */
	mmio_w64(c + 56, ~0ULL);
	mmio_w32(c + 60, ~0U);
	mmio_w8(c + 0xff, 0xff);
	CHECK(mmio_r64(c) == (v->ring_be == CPU_BE ? cap : bswap64(cap)), "capacity was written", 0);
	TRY(expect_fine(v));
	/* the capacity is the disk's: its last sector reads, the next does not */
	TRY(blk_read_check(v, cap - 1));
	TRY(blk_rw(v, 0, cap, b, 512, &st));
	CHECK(st == 1, "read past the capacity: status", st);
	return 0;
}

/* --------------------------------------------------------------- features */

int c_features_both(struct vdev *v)
{
	u64 both = F(F_GUEST_LE) | F(F_GUEST_BE), mine = CPU_BE ? F(F_GUEST_BE) : F(F_GUEST_LE);
	u64 other = CPU_BE ? F(F_GUEST_LE) : F(F_GUEST_BE);

	if (!v->legacy) {
		/* 3.1.1: bits not offered (and no VERSION_1): FEATURES_OK does not stick */
		CHECK(vdev_begin(v, 0, both) < 0, "FEATURES_OK taken with bits not offered", 0);
		why = NULL;
		CHECK(!(v->host_features & both), "a modern device offers GUEST_LE/BE", v->host_features);
		CHECK(!(status(v) & S_NEEDS_RESET), "NEEDS_RESET for refused features", status(v));
		vdev_reset(v);
		vw(v, R_STATUS, S_ACK | S_DRIVER);
		vw(v, R_DRV_FEATURES_SEL, 1);
		vw(v, R_DRV_FEATURES, 0);
		vw(v, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
		CHECK(!(status(v) & S_FEATURES_OK), "FEATURES_OK taken without VERSION_1", status(v));
		return 0;
	}
	/* legacy: both orders acked: the queue refuses to start */
	TRY(vdev_begin(v, 0, both));
	CHECK((v->host_features & both) == both, "legacy device does not offer both bits",
	      v->host_features);
	TRY(vdev_queue(v, 8, true));
	TRY(expect_nr(v));
	/* the other order than this vCPU's: rings in that order work (the bit wins) */
	TRY(vdev_begin(v, 0, other));
	TRY(vdev_queue(v, 16, true));
	CHECK(v->ring_be != CPU_BE, "driver ring order", v->ring_be);
	TRY(expect_fine(v));
	TRY(vdev_begin(v, 0, mine));
	TRY(vdev_queue(v, 16, true));
	return expect_fine(v);
}

/* -------------------------------------------------------------- the rest */

/* kicks with nothing to do, kicks before DRIVER_OK, Status FAILED */
int c_kick_storm(struct vdev *v)
{
	u64 r = (u64)heap_alloc(4 * PAGE, PAGE);
	int i;

	TRY(vdev_begin(v, 0, 0));
	for (i = 0; i < 100; i++)
		vw(v, R_QUEUE_NOTIFY, 0);
	queue_raw(v, 8, r, r + 1024, r + 2 * PAGE);
	for (i = 0; i < 100; i++)
		vw(v, R_QUEUE_NOTIFY, 0); /* queue set up, not DRIVER_OK, ring empty */
	TRY(vdev_setup(v, 0));
	for (i = 0; i < 2000; i++)
		vw(v, R_QUEUE_NOTIFY, (u32)i & 1);
	TRY(expect_fine(v));
	/* FAILED (2.1.1): the driver gave up; lkvm must not process more */
	vw(v, R_STATUS, status(v) | S_FAILED);
	CHECK(status(v) & S_FAILED, "FAILED did not stick", status(v));
	{
		u8 *b = buf(64);
		struct d d = { (u64)b, 64, DESC_WRITE, 0 };
		u64 t0;

		vq_write_desc(v, 0, &d);
		vq_publish(v, 0);
		t0 = now_us();
		while (now_us() - t0 < SHORT_US)
			;
		CHECK(rget16(v, v->used + 2) == v->used_seen, "a FAILED device used a buffer", 0);
	}
	return 0;
}

