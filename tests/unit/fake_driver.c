// SPDX-License-Identifier: GPL-2.0
/* Fake guest RAM and a fake split-ring driver for the virtio unit tests. */
#include <stdlib.h>
#include <string.h>

#include "fake_driver.h"
#include "test.h"
#include "util.h"

bool fake_ram_init(struct fake_ram *r, struct guest_mem *gm)
{
	struct lkvm_err e = { "" };

	memset(r, 0, sizeof(*r));
	r->mem = gm ? gm : &r->own;
	r->host = calloc(1, FAKE_RAM_SIZE);
	if (!CHECK(r->host))
		return false;
	r->next = FAKE_RAM_GPA;
	if (!CHECK(guest_mem_add(r->mem, FAKE_RAM_GPA, FAKE_RAM_SIZE, r->host, &e) == 0)) {
		free(r->host);
		r->host = NULL;
		return false;
	}
	return true;
}

void fake_ram_free(struct fake_ram *r)
{
	free(r->host);
	r->host = NULL;
}

uint8_t *fake_ram_ptr(struct fake_ram *r, uint64_t gpa)
{
	static uint8_t scratch[64];

	if (gpa < FAKE_RAM_GPA || gpa >= FAKE_RAM_END) {
		test_fail(__FILE__, __LINE__, "fake driver: gpa 0x%llx outside fake RAM",
			  (unsigned long long)gpa);
		return scratch;
	}
	return r->host + (gpa - FAKE_RAM_GPA);
}

uint64_t fake_ram_alloc(struct fake_ram *r, uint64_t size, uint64_t align)
{
	uint64_t gpa = ALIGN_UP(r->next, align);

	if (gpa > FAKE_RAM_END || size > FAKE_RAM_END - gpa) {
		test_fail(__FILE__, __LINE__, "fake driver: fake RAM is full");
		return 0;
	}
	r->next = gpa + size;
	memset(fake_ram_ptr(r, gpa), 0, size);
	return gpa;
}

void fr_init(struct fake_ring *fr, struct fake_ram *ram, enum vq_endian e, uint16_t num,
	     uint64_t desc, uint64_t avail, uint64_t used)
{
	memset(fr, 0, sizeof(*fr));
	fr->ram = ram;
	fr->e = e;
	fr->num = num;
	fr->desc = desc;
	fr->avail = avail;
	fr->used = used;
	/* room for the event fields too (2.7.10), whether negotiated or not */
	memset(fake_ram_ptr(ram, desc), 0, (size_t)VQ_DESC_SIZE * num);
	memset(fake_ram_ptr(ram, avail), 0, 6 + 2 * (size_t)num);
	memset(fake_ram_ptr(ram, used), 0, 6 + 8 * (size_t)num);
}

static uint64_t legacy_used_off(uint16_t num, uint64_t align)
{
	return ALIGN_UP((uint64_t)VQ_DESC_SIZE * num + 2 * (3 + (uint64_t)num), align);
}

uint64_t fr_legacy_size(uint16_t num, uint64_t align)
{
	return legacy_used_off(num, align) + 2 * 3 + 8 * (uint64_t)num;
}

void fr_init_legacy(struct fake_ring *fr, struct fake_ram *ram, enum vq_endian e, uint16_t num,
		    uint64_t base, uint64_t align)
{
	fr_init(fr, ram, e, num, base, base + (uint64_t)VQ_DESC_SIZE * num,
		base + legacy_used_off(num, align));
}

void fd_put_desc(enum vq_endian e, uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	ve_put64(e, p, addr);
	ve_put32(e, p + 8, len);
	ve_put16(e, p + 12, flags);
	ve_put16(e, p + 14, next);
}

void fr_desc(struct fake_ring *fr, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next)
{
	fd_put_desc(fr->e, fake_ram_ptr(fr->ram, fr->desc + (uint64_t)VQ_DESC_SIZE * i), addr, len,
		    flags, next);
}

void fr_avail_add(struct fake_ring *fr, uint16_t head)
{
	ve_put16(fr->e, fake_ram_ptr(fr->ram, fr->avail + 4 + 2 * (fr->avail_idx % fr->num)), head);
	__atomic_thread_fence(__ATOMIC_RELEASE); /* the driver's wmb() */
	fr_set_avail_idx(fr, fr->avail_idx + 1);
}

void fr_set_avail_idx(struct fake_ring *fr, uint16_t idx)
{
	fr->avail_idx = idx;
	ve_put16(fr->e, fake_ram_ptr(fr->ram, fr->avail + 2), idx);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void fr_set_avail_flags(struct fake_ring *fr, uint16_t flags)
{
	ve_put16(fr->e, fake_ram_ptr(fr->ram, fr->avail), flags);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void fr_set_used_event(struct fake_ring *fr, uint16_t v)
{
	ve_put16(fr->e, fake_ram_ptr(fr->ram, fr->avail + 4 + 2 * (uint64_t)fr->num), v);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint16_t fr_avail_event(struct fake_ring *fr)
{
	return ve_get16(fr->e, fake_ram_ptr(fr->ram, fr->used + 4 + 8 * (uint64_t)fr->num));
}

uint16_t fr_used_flags(struct fake_ring *fr)
{
	return ve_get16(fr->e, fake_ram_ptr(fr->ram, fr->used));
}

uint8_t *fr_used_idx_raw(struct fake_ring *fr)
{
	return fake_ram_ptr(fr->ram, fr->used + 2);
}

uint16_t fr_used_idx(struct fake_ring *fr)
{
	uint16_t raw = __atomic_load_n((uint16_t *)(void *)fr_used_idx_raw(fr), __ATOMIC_ACQUIRE);
	uint8_t b[2];

	memcpy(b, &raw, 2);
	return ve_get16(fr->e, b);
}

uint8_t *fr_used_entry(struct fake_ring *fr, uint16_t slot)
{
	return fake_ram_ptr(fr->ram, fr->used + 4 + 8 * (uint64_t)(slot % fr->num));
}

void fr_used_elem(struct fake_ring *fr, uint16_t slot, uint32_t *id, uint32_t *len)
{
	const uint8_t *p = fr_used_entry(fr, slot);

	*id = ve_get32(fr->e, p);
	*len = ve_get32(fr->e, p + 4);
}
