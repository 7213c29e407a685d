/* SPDX-License-Identifier: GPL-2.0 */
/* A minimal polling virtio-mmio driver (virtio 1.2, 4.2) for the hostile guest. */
#ifndef HOSTILE_VDRV_H
#define HOSTILE_VDRV_H

#include "hostile.h"

/* virtio-mmio register offsets (4.2.2, 4.2.4) */
#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_VENDOR_ID 0x00c
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_GUEST_PAGE_SIZE 0x028 /* legacy */
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_ALIGN 0x03c /* legacy */
#define R_QUEUE_PFN 0x040   /* legacy */
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_ISR 0x060
#define R_ISR_ACK 0x064
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_DESC_HI 0x084
#define R_AVAIL_LO 0x090
#define R_AVAIL_HI 0x094
#define R_USED_LO 0x0a0
#define R_USED_HI 0x0a4
#define R_CONFIG_GEN 0x0fc
#define R_CONFIG 0x100
#define MMIO_WINDOW 0x200

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40
#define S_FAILED 0x80

#define F_INDIRECT 28
#define F_EVENT_IDX 29
#define F_VERSION_1 32
#define F_GUEST_LE 44
#define F_GUEST_BE 45
#define F_BLK_RO 5

#define DESC_NEXT 1
#define DESC_WRITE 2
#define DESC_INDIRECT 4

#define ID_BLK 2
#define ID_RNG 4
#define ID_9P 9

#define PAGE 4096ULL

struct vdev {
	u64 base;
	u32 id;
	bool legacy;
	bool ring_be;  /* byte order of rings and legacy config */
	u64 host_features;
	u64 features; /* what we acked */
	/* queue 0 */
	u16 num;
	u8 *desc, *avail, *used;
	u16 avail_idx, used_seen;
	u32 last_len;
};

/* a descriptor to write: addr, len, flags, next */
struct d {
	u64 addr;
	u32 len;
	u16 flags, next;
};

static inline u32 vr(const struct vdev *v, u32 off) { return mmio_r32(v->base + off); }
static inline void vw(const struct vdev *v, u32 off, u32 val) { mmio_w32(v->base + off, val); }

/* ring-order fields */
void rput16(const struct vdev *v, void *p, u16 x);
void rput32(const struct vdev *v, void *p, u32 x);
void rput64(const struct vdev *v, void *p, u64 x);
u16 rget16(const struct vdev *v, const void *p);
u32 rget32(const struct vdev *v, const void *p);
u64 rget64(const struct vdev *v, const void *p);

/* find the nth device with this id (and, for blk, ro or not): 0 if none */
int vdev_find(struct vdev *v, const struct dt_info *dt, u32 id, int want_ro);
/*
 * Reset, ACK, DRIVER, features (wanted & offered, plus VERSION_1 on a
 * modern transport, plus extra as is), FEATURES_OK (modern). 0 or -1 (why
 * printed into the fail reason).
 */
int vdev_begin(struct vdev *v, u64 wanted, u64 extra);
/* Sets up queue 0 with num entries at fresh memory; DRIVER_OK if go (NEEDS_RESET not checked). */
int vdev_queue(struct vdev *v, u16 num, bool go);
/* begin + queue + DRIVER_OK with the defaults */
int vdev_setup(struct vdev *v, u64 wanted);
void vdev_reset(struct vdev *v);
/* writes descriptors at their indices (each at table index i of descs[i].next order given) */
void vq_write_desc(struct vdev *v, u16 idx, const struct d *d);
/* publishes head in the avail ring and kicks */
void vq_publish(struct vdev *v, u16 head);
/* 1: used entry (len in last_len); -1: NEEDS_RESET seen; 0: timeout */
int vq_wait(struct vdev *v, u64 timeout_us);
/* waits until Status has NEEDS_RESET: 1 yes, 0 timeout */
int wait_needs_reset(struct vdev *v, u64 timeout_us);

/* one good request per device kind: 0 ok, else -1 with why set */
int good_request(struct vdev *v);
/* reset, set up again and good_request */
int recover(struct vdev *v);

/* device requests */
int blk_rw(struct vdev *v, u32 type, u64 sector, void *buf, u32 len, u8 *status);
int rng_read(struct vdev *v, void *buf, u32 len);
int p9_rpc(struct vdev *v, const void *req, u32 req_len, void *resp, u32 resp_cap);
int p9_version(struct vdev *v, u32 msize);
int blk_read_check(struct vdev *v, u64 sector);

/* failure reason of the running case */
extern const char *why;
extern u64 why_val;
int fail(const char *reason, u64 val);

#define TIMEOUT_US 8000000ULL
extern u64 req_timeout_us; /* blk_rw, rng_read, p9_rpc; TIMEOUT_US unless a case expects no answer */

#endif
