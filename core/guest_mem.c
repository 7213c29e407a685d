// SPDX-License-Identifier: GPL-2.0
#include <string.h>

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

	if (!p)
		return false;
	memcpy(p, src, len);
	return true;
}
