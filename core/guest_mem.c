// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_mem.h"

int guest_mem_add(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *host,
		  struct lkvm_err *e)
{
	unsigned int i;

	if (!size || !host)
		return err_set(e, "guest RAM region at 0x%llx is empty", (unsigned long long)gpa);
	if (gpa + size < gpa)
		return err_set(e, "guest RAM region at 0x%llx wraps the address space",
			       (unsigned long long)gpa);
	if (gm->nr >= GUEST_MEM_MAX_REGIONS)
		return err_set(e, "too many guest RAM regions (max %d)", GUEST_MEM_MAX_REGIONS);
	for (i = 0; i < gm->nr; i++) {
		const struct guest_region *r = &gm->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return err_set(e, "guest RAM regions overlap at 0x%llx",
				       (unsigned long long)gpa);
	}
	gm->regions[gm->nr++] = (struct guest_region){ .gpa = gpa, .size = size, .host = host };
	return 0;
}

void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	if (!len || gpa + len < gpa)
		return NULL;
	for (i = 0; i < gm->nr; i++) {
		const struct guest_region *r = &gm->regions[i];

		/* written so that no sum can overflow: gpa >= r->gpa first */
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

bool guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = guest_mem_ptr(gm, gpa, len);

	if (!p)
		return false;
	memcpy(dst, p, len);
	return true;
}

bool guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_mem_ptr(gm, gpa, len);
	uintptr_t start, end;

	if (!p)
		return false;
	/*
	 * Big copies (the kernel at boot) into untouched RAM: fault the pages
	 * in with one call, not one page fault each (Linux 5.14+; else plain).
	 */
	if (len >= (1u << 20)) {
		uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);

		start = (uintptr_t)p & ~(pg - 1);
		end = ((uintptr_t)p + len + pg - 1) & ~(pg - 1);
		madvise((void *)start, end - start, MADV_POPULATE_WRITE);
	}
	memcpy(p, src, len);
	return true;
}
