/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_TEST_FAKE_DRIVER_H
#define LKVM_TEST_FAKE_DRIVER_H

/*
 * What the virtqueue and virtio-mmio tests share: fake guest RAM and a fake
 * guest driver that lays out a split ring (virtio 1.2, 2.7) in that RAM and
 * writes every ring field in a chosen byte order with ve_put16/32/64, so
 * the tests never depend on the host's own order.
 */

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "virtqueue.h"

#define FAKE_RAM_GPA 0x40000000ULL
#define FAKE_RAM_SIZE 0x100000ULL /* 1 MiB */
#define FAKE_RAM_END (FAKE_RAM_GPA + FAKE_RAM_SIZE)

struct fake_ram {
	uint8_t *host;
	struct guest_mem own; /* used when no guest_mem is given */
	struct guest_mem *mem;
	uint64_t next; /* bump allocator: next free gpa */
};

/* calloc's FAKE_RAM_SIZE bytes and adds them at FAKE_RAM_GPA to gm (or to r->own). */
bool fake_ram_init(struct fake_ram *r, struct guest_mem *gm);
void fake_ram_free(struct fake_ram *r);
/* Host address of gpa; the test fails (and gets a scratch page) if it lies outside. */
uint8_t *fake_ram_ptr(struct fake_ram *r, uint64_t gpa);
/* size bytes of zeroed RAM aligned to align; returns the gpa (0 when full). */
uint64_t fake_ram_alloc(struct fake_ram *r, uint64_t size, uint64_t align);

/* One split ring as the guest driver sees it. */
struct fake_ring {
	struct fake_ram *ram;
	enum vq_endian e;
	uint16_t num;
	uint64_t desc, avail, used; /* gpas */
	uint16_t avail_idx; /* the driver's copy of avail->idx */
	uint16_t last_used; /* used entries the driver has consumed */
};

/* Lays out the three parts at the given gpas and zeroes them. */
void fr_init(struct fake_ring *fr, struct fake_ram *ram, enum vq_endian e, uint16_t num,
	     uint64_t desc, uint64_t avail, uint64_t used);
/*
 * The legacy contiguous layout (2.7.2 legacy interface / 4.2.4): desc at
 * base, avail (flags, idx, ring[num], used_event) right after it, used at
 * the next multiple of align.
 */
void fr_init_legacy(struct fake_ring *fr, struct fake_ram *ram, enum vq_endian e, uint16_t num,
		    uint64_t base, uint64_t align);
/* Bytes the legacy layout of num entries takes. */
uint64_t fr_legacy_size(uint16_t num, uint64_t align);

/* A 16-byte descriptor at p (desc table or indirect table) in order e. */
void fd_put_desc(enum vq_endian e, uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next);
/* Descriptor i of the ring's table. */
void fr_desc(struct fake_ring *fr, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next);
/* Puts head in avail->ring[avail_idx % num], then publishes avail_idx + 1. */
void fr_avail_add(struct fake_ring *fr, uint16_t head);
/* Writes avail->idx (hostile tests: any value). */
void fr_set_avail_idx(struct fake_ring *fr, uint16_t idx);
void fr_set_avail_flags(struct fake_ring *fr, uint16_t flags);
/* used_event: avail->ring[num] (2.7.10) */
void fr_set_used_event(struct fake_ring *fr, uint16_t v);
/* avail_event: used->ring[num] (2.7.10) */
uint16_t fr_avail_event(struct fake_ring *fr);
uint16_t fr_used_flags(struct fake_ring *fr);
uint16_t fr_used_idx(struct fake_ring *fr);
/* Raw bytes of used->ring[slot % num] (8: id, len) and of used->idx (2). */
uint8_t *fr_used_entry(struct fake_ring *fr, uint16_t slot);
uint8_t *fr_used_idx_raw(struct fake_ring *fr);
/* used->ring[slot % num] decoded in the ring's order. */
void fr_used_elem(struct fake_ring *fr, uint16_t slot, uint32_t *id, uint32_t *len);

#endif
