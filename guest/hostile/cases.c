// SPDX-License-Identifier: GPL-2.0
/*
 * The hostile cases, one per word of "hostile=CASE[,CASE...]" (or "all") on
 * the command line. Each breaks the protocol one way, checks lkvm's answer
 * (DEVICE_NEEDS_RESET where virtio 1.2 2.1.2 says the device is broken,
 * else "ignored and still working"), then the runner resets the device and
 * proves a good request works. Prints "HOSTILE <case> PASS" or
 * "HOSTILE <case> FAIL <why> <value>".
 */
#include "cases.h"

const struct dt_info *dt;

u64 ram_end(void)
{
	return dt->ram_base + dt->ram_size;
}

u32 status(struct vdev *v)
{
	return vr(v, R_STATUS);
}

/*
 * The device must set NEEDS_RESET (2.1.2) with a config change interrupt
 * (ISR bit 1), the driver cannot clear it, and the broken chain is not used.
 */
int expect_nr(struct vdev *v)
{
	u32 st;

	if (!wait_needs_reset(v, TIMEOUT_US))
		return fail("no DEVICE_NEEDS_RESET", status(v));
	st = status(v);
	CHECK(vr(v, R_ISR) & 2, "NEEDS_RESET without a config change interrupt", vr(v, R_ISR));
	vw(v, R_STATUS, st & ~S_NEEDS_RESET);
	CHECK(status(v) & S_NEEDS_RESET, "the driver cleared NEEDS_RESET", status(v));
	if (v->num && v->used)
		CHECK(rget16(v, v->used + 2) == v->used_seen, "a broken chain was used",
		      rget16(v, v->used + 2));
	return 0;
}

/* ignored: no NEEDS_RESET, and a good request works without a reset */
int expect_fine(struct vdev *v)
{
	CHECK(!(status(v) & S_NEEDS_RESET), "unexpected NEEDS_RESET", status(v));
	return good_request(v);
}

void *buf(u64 size)
{
	return heap_alloc(size, 64);
}

/* sets up rng (or v's device) with features, writes descs at 0..n-1, publishes head 0, expects NEEDS_RESET */
int bad_chain(struct vdev *v, u64 feats, const struct d *ds, int n)
{
	int i;

	TRY(vdev_setup(v, feats));
	for (i = 0; i < n; i++)
		vq_write_desc(v, (u16)i, &ds[i]);
	vq_publish(v, 0);
	return expect_nr(v);
}

struct hcase {
	const char *name;
	u32 dev;
	int ro; /* blk: 1 the read-only disk, 0 the writable one */
	int (*fn)(struct vdev *v);
	bool solo; /* not part of "all": it may end lkvm */
};

static const struct hcase cases[] = {
	{ "desc-loop", ID_RNG, -1, c_desc_loop, false },
	{ "chain-long", ID_RNG, -1, c_chain_long, false },
	{ "desc-next-oob", ID_RNG, -1, c_desc_next_oob, false },
	{ "desc-order", ID_RNG, -1, c_desc_order, false },
	{ "indirect-loop", ID_RNG, -1, c_indirect_loop, false },
	{ "indirect-nested", ID_RNG, -1, c_indirect_nested, false },
	{ "indirect-chain", ID_RNG, -1, c_indirect_chain, false },
	{ "indirect-bad", ID_RNG, -1, c_indirect_bad, false },
	{ "buf-past-ram", ID_RNG, -1, c_buf_past_ram, false },
	{ "buf-mmio", ID_RNG, -1, c_buf_mmio, false },
	{ "avail-ahead", ID_RNG, -1, c_avail_ahead, false },
	{ "ring-oob", ID_RNG, -1, c_ring_oob, false },
	{ "queuesel-oob", ID_BLK, 0, c_queuesel_oob, false },
	{ "queuenum-bad", ID_BLK, 0, c_queuenum_bad, false },
	{ "legacy-regs", ID_BLK, 0, c_legacy_regs, false },
	{ "queue-live", ID_BLK, 0, c_queue_live, false },
	{ "reg-access", ID_BLK, 0, c_reg_access, false },
	{ "config-oob", ID_BLK, 0, c_config_oob, false },
	{ "features-both", ID_BLK, 0, c_features_both, false },
	{ "p9-oversize", ID_9P, -1, c_p9_oversize, false },
	{ "p9-liesize", ID_9P, -1, c_p9_liesize, false },
	{ "blk-range", ID_BLK, 0, c_blk_range, false },
	{ "blk-ro", ID_BLK, 1, c_blk_ro, false },
	{ "blk-malformed", ID_BLK, 0, c_blk_malformed, false },
	{ "kick-storm", ID_RNG, -1, c_kick_storm, false },
	/* solo: it may stop lkvm (see the comment at c_mmio_nisv) */
	{ "mmio-nisv", ID_BLK, 0, c_mmio_nisv, true },
};

static void run_case(const struct hcase *c)
{
	struct vdev v;
	int r;

	heap_reset();
	why = NULL;
	why_val = 0;
	if (!vdev_find(&v, dt, c->dev, c->ro)) {
		r = fail("no such device in the DT (check the lkvm options)", c->dev);
	} else {
		r = c->fn(&v);
		/* whatever happened, a reset brings the device back */
		if (!r)
			r = recover(&v);
		vdev_reset(&v);
	}
	puts("HOSTILE ");
	puts(c->name);
	if (!r) {
		puts(" PASS\n");
		return;
	}
	puts(" FAIL ");
	puts(why ? why : "?");
	puts(" ");
	put_hex(why_val);
	puts("\n");
}

/* runs the cases named in "hostile=a,b,c" ("all": every case) */
static void run_list(const char *s, unsigned int len)
{
	unsigned int i = 0, j, k;

	while (i < len) {
		for (j = i; j < len && s[j] != ','; j++)
			;
		if (j - i == 3 && !strncmp(s + i, "all", 3)) {
			for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
				if (!cases[k].solo)
					run_case(&cases[k]);
		} else {
			for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
				if (strlen(cases[k].name) == j - i && !strncmp(cases[k].name, s + i, j - i))
					break;
			if (k < sizeof(cases) / sizeof(cases[0])) {
				run_case(&cases[k]);
			} else {
				char name[64];
				unsigned int n = j - i < 63 ? j - i : 63;

				memcpy(name, s + i, n);
				name[n] = 0;
				puts("HOSTILE ");
				puts(name);
				puts(" FAIL unknown case\n");
			}
		}
		i = j + 1;
	}
}

extern char __image_end[];

void hostile_main(const void *fdt)
{
	static struct dt_info info;
	unsigned int i = 0, j, n = 0;

	if (dt_parse(fdt, &info))
		return; /* no UART to say so: powering off without a PASS line fails the job */
	dt = &info;
	uart_init(info.uart);
	/* the heap: above the image, below the DTB and initrd in the top of RAM */
	heap_init(((u64)__image_end + 0xfffff) & ~0xfffffULL, ram_end() - 8 * 1024 * 1024);
	puts("HOSTILE start endian=");
	puts(CPU_BE ? "big" : "little");
	puts(" devices=");
	put_dec(info.nr_virtio);
	puts("\n");
	while (i < info.bootargs_len) {
		const char *a = info.bootargs;

		while (i < info.bootargs_len && a[i] == ' ')
			i++;
		for (j = i; j < info.bootargs_len && a[j] != ' '; j++)
			;
		if (j - i > 8 && !strncmp(a + i, "hostile=", 8)) {
			run_list(a + i + 8, j - i - 8);
			n++;
		}
		i = j;
	}
	if (!n)
		puts("HOSTILE FAIL no hostile=CASE on the command line\n");
	puts("HOSTILE DONE\n");
}
