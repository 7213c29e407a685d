/* SPDX-License-Identifier: GPL-2.0 */
/* What the hostile cases share: checks, helpers, and the case functions. */
#ifndef HOSTILE_CASES_H
#define HOSTILE_CASES_H

#include "vdrv.h"

#define CHECK(cond, reason, val)                                                \
	do {                                                                    \
		if (!(cond))                                                    \
			return fail(reason, (u64)(val));                        \
	} while (0)
#define TRY(x)                                                                  \
	do {                                                                    \
		if ((x) < 0)                                                    \
			return -1;                                              \
	} while (0)

#define F(bit) (1ULL << (bit))
#define SHORT_US 300000ULL

extern const struct dt_info *dt;

u64 ram_end(void);
u32 status(struct vdev *v);
/* NEEDS_RESET (2.1.2) with a config interrupt, not clearable by the driver, chain not used */
int expect_nr(struct vdev *v);
/* ignored: no NEEDS_RESET, and a good request works without a reset */
int expect_fine(struct vdev *v);
void *buf(u64 size);
/* sets v up with feats, writes descs at 0..n-1, publishes head 0, expects NEEDS_RESET */
int bad_chain(struct vdev *v, u64 feats, const struct d *ds, int n);

/* cases_ring.c: rings, queues, registers, features */
int c_desc_loop(struct vdev *v);
int c_chain_long(struct vdev *v);
int c_desc_next_oob(struct vdev *v);
int c_desc_order(struct vdev *v);
int c_indirect_loop(struct vdev *v);
int c_indirect_nested(struct vdev *v);
int c_indirect_chain(struct vdev *v);
int c_indirect_bad(struct vdev *v);
int c_buf_past_ram(struct vdev *v);
int c_buf_mmio(struct vdev *v);
int c_avail_ahead(struct vdev *v);
int c_ring_oob(struct vdev *v);
int c_queuesel_oob(struct vdev *v);
int c_queuenum_bad(struct vdev *v);
int c_legacy_regs(struct vdev *v);
int c_queue_live(struct vdev *v);
int c_reg_access(struct vdev *v);
int c_mmio_nisv(struct vdev *v);
int c_config_oob(struct vdev *v);
int c_features_both(struct vdev *v);
int c_kick_storm(struct vdev *v);
/* cases_dev.c: requests of one device kind (9p, blk) */
int c_p9_oversize(struct vdev *v);
int c_p9_liesize(struct vdev *v);
int c_blk_range(struct vdev *v);
int c_blk_ro(struct vdev *v);
int c_blk_malformed(struct vdev *v);

#endif
