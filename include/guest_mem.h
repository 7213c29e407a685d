/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_GUEST_MEM_H
#define LKVM_GUEST_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define GUEST_MEM_MAX_REGIONS 8

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

/* Guest RAM: a few regions, fixed before any vCPU runs, read-only after. */
struct guest_mem {
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nr;
};

/* Adds a region; refuses empty, wrapping or overlapping ranges. */
int guest_mem_add(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *host,
		  struct lkvm_err *e);

/*
 * THE way to turn a guest address into a host pointer: non-NULL only if
 * [gpa, gpa + len) lies inside one RAM region (overflow-checked). len 0 is
 * refused, so a zero-length buffer never yields a dangling pointer.
 */
void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers built on guest_mem_ptr(); false if out of RAM. */
bool guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);
bool guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);

#endif
