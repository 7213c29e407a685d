// SPDX-License-Identifier: GPL-2.0
/*
 * The split-ring walker (virtio/virtqueue.c) against a hostile driver, in
 * either byte order. The input is
 *
 *   flags[1] numsel[1] (num[2] if FL_RAW_NUM) (desc[4] avail[4] used[4] if FL_ADDRS)
 *   nops[1] op[8] * nops  guest RAM image (the rest, from gpa FZ_RAM_GPA)
 *
 * and each op is what a driver or the device does next: pop, push, kick
 * (drain), rewrite the avail index, an avail entry, a descriptor or any
 * word of RAM, ask about interrupts, reset. After every step the walker's
 * invariants are checked; a violation traps.
 *
 * With FL_TWIN the RAM image is read as an LE ring, and a twin of it with
 * every ring field byte-swapped is walked as BE beside it: both must see
 * the same chains, errors and interrupt decisions, op for op.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "util.h"
#include "virtqueue.h"

#define VQF_RAM_SIZE 0x10000ULL
#define VQF_MAX_OPS 64

enum {
	FL_BE = 1,
	FL_EVENT_IDX = 2,
	FL_INDIRECT = 4,
	FL_ADDRS = 8,   /* ring addresses from the input, else the legacy layout */
	FL_RAW_NUM = 16, /* any 16-bit queue size, else a power of two */
	FL_TWIN = 32,    /* LE and BE twins walked side by side */
};

enum {
	OP_DRAIN,      /* a kick: pop and push everything, then "interrupt?" */
	OP_POP,        /* pop one chain and keep it */
	OP_PUSH,       /* push the oldest kept chain with len c */
	OP_AVAIL_IDX,  /* driver publishes avail->idx = b */
	OP_AVAIL_ENT,  /* avail->ring[a] = b */
	OP_DESC,       /* desc[b] = { FZ_RAM_GPA + c % RAM, c >> 16, flags a & 7, next a >> 3 } */
	OP_POKE,       /* raw 32-bit write c at RAM offset b */
	OP_SIGNAL,     /* vq_should_signal / vq_set_no_notify(a & 1) / vq_has_avail */
	OP_RESET,      /* vq_reset and activate again */
	OP_COUNT,
};

struct vqf {
	struct guest_mem mem;
	uint8_t *ram;
	struct virtqueue vq;
	struct vq_elem *elem;
	enum vq_endian e;
	uint16_t num;
	uint64_t desc, avail, used;
	bool event_idx, indirect;
	bool active;
	/* chains popped and not yet pushed, oldest first */
	uint16_t kept[VQ_MAX_SIZE];
	unsigned int nkept;
	uint32_t pops, pushes; /* since the last activation */
	bool twin;             /* the device writes nothing into buffers */
	uint64_t trace;        /* a hash of everything the device observed */
};

/* Folds an observation into the trace the twins compare. */
static void vqf_see(struct vqf *f, uint64_t v)
{
	f->trace = (f->trace ^ v) * 0x100000001b3ULL;
}

static bool vqf_in_ram(const struct vqf *f, const void *p, size_t len)
{
	const uint8_t *b = p;

	return b >= f->ram && len <= VQF_RAM_SIZE && b - f->ram <= (ptrdiff_t)(VQF_RAM_SIZE - len);
}

static void vqf_activate(struct vqf *f)
{
	f->active = vq_activate(&f->vq, &f->mem, f->e, f->num, f->desc, f->avail, f->used,
				f->event_idx, f->indirect);
	/* refused: the queue is broken with a reason, and never ready */
	FZ_ASSERT(f->active == f->vq.ready);
	FZ_ASSERT(f->active || (f->vq.broken && f->vq.why));
	f->nkept = 0;
	f->pops = f->pushes = 0;
}

/* Pops one chain and checks what the walker promises about it. */
static int vqf_pop(struct vqf *f)
{
	struct vq_elem *el = f->elem;
	uint16_t before = f->vq.last_avail;
	bool was_broken = f->vq.broken;
	uint64_t out = 0, in = 0;
	unsigned int i;
	int r = vq_pop(&f->vq, el);

	vqf_see(f, (uint64_t)(r + 1));
	if (r < 0) {
		FZ_ASSERT(f->vq.broken && f->vq.why);
		FZ_ASSERT(f->vq.last_avail == before);
		FZ_ASSERT(!vq_has_avail(&f->vq));
		return r;
	}
	FZ_ASSERT(!was_broken && !f->vq.broken);
	if (!r) {
		FZ_ASSERT(f->vq.last_avail == before);
		return 0;
	}
	/* one chain taken, from a valid head, within the caps */
	FZ_ASSERT(f->vq.last_avail == (uint16_t)(before + 1));
	FZ_ASSERT(el->head < f->num);
	FZ_ASSERT(el->out_num + el->in_num <= VQ_MAX_IOV);
	for (i = 0; i < el->out_num + el->in_num; i++) {
		const struct iovec *v = &el->iov[i];

		FZ_ASSERT(v->iov_len && vqf_in_ram(f, v->iov_base, v->iov_len));
		fz_touch(v->iov_base, v->iov_len);
		vqf_see(f, (uint64_t)((uint8_t *)v->iov_base - f->ram) << 32 ^ v->iov_len);
		if (i < el->out_num) {
			out += v->iov_len;
		} else if (!f->twin) {
			in += v->iov_len;
			/* the device writes what it was given to write */
			((uint8_t *)v->iov_base)[0] = 0xa5;
			((uint8_t *)v->iov_base)[v->iov_len - 1] = 0x5a;
		} else {
			in += v->iov_len;
		}
	}
	vqf_see(f, (uint64_t)el->head << 32 ^ el->out_num << 16 ^ el->in_num);
	FZ_ASSERT(out == el->out_len && in == el->in_len);
	if (f->event_idx)
		FZ_ASSERT(vq_read16(&f->vq, f->vq.used + 4 + 8 * f->num) == f->vq.last_avail);
	f->pops++;
	return 1;
}

static void vqf_push(struct vqf *f, uint16_t head, uint32_t len)
{
	uint16_t before = f->vq.used_idx;

	vq_push(&f->vq, head, len);
	f->pushes++;
	/* used->idx moves by one, never past what was popped, and is published */
	FZ_ASSERT(f->vq.used_idx == (uint16_t)(before + 1));
	FZ_ASSERT(f->pushes <= f->pops);
	FZ_ASSERT(f->vq.used_idx == (uint16_t)f->pushes);
	FZ_ASSERT(vq_read16(&f->vq, f->vq.used + 2) == f->vq.used_idx);
	FZ_ASSERT(vq_read32(&f->vq, f->vq.used + 4 + 8 * ((uint16_t)(f->vq.used_idx - 1) % f->num)) ==
		  head);
}

static void vqf_op(struct vqf *f, uint8_t op, uint8_t a, uint16_t b, uint32_t c)
{
	unsigned int n;

	switch (op % OP_COUNT) {
	case OP_DRAIN:
		if (!f->active)
			break;
		/*
		 * bounded here only: buffers the device writes may overlap the
		 * avail ring, so the guest can keep it non-empty
		 */
		for (n = 0; n < 4u * f->num && vqf_pop(f) > 0; n++)
			vqf_push(f, f->elem->head, c);
		vqf_see(f, vq_should_signal(&f->vq));
		break;
	case OP_POP:
		if (f->active && f->nkept < VQ_MAX_SIZE && vqf_pop(f) > 0)
			f->kept[f->nkept++] = f->elem->head;
		break;
	case OP_PUSH:
		if (!f->active || !f->nkept)
			break;
		vqf_push(f, f->kept[0], c);
		memmove(f->kept, f->kept + 1, --f->nkept * sizeof(f->kept[0]));
		break;
	case OP_AVAIL_IDX:
		if (f->active)
			vq_write16(&f->vq, f->vq.avail + 2, b);
		break;
	case OP_AVAIL_ENT:
		if (f->active)
			vq_write16(&f->vq, f->vq.avail + 4 + 2 * (a % f->num), b);
		break;
	case OP_DESC:
		if (f->active) {
			uint8_t *d = f->vq.desc + (size_t)VQ_DESC_SIZE * (b % f->num);

			vq_write64(&f->vq, d, FZ_RAM_GPA + c % VQF_RAM_SIZE);
			vq_write32(&f->vq, d + 8, c >> 16);
			/* a twin's indirect tables are swapped once, at the start */
			vq_write16(&f->vq, d + 12, a & (f->twin ? 3 : 7));
			vq_write16(&f->vq, d + 14, a >> 3);
		}
		break;
	case OP_POKE:
		/* raw bytes mean different things to the twins */
		if (!f->twin)
			memcpy(f->ram + (b % (VQF_RAM_SIZE - 3)), &c, 4);
		break;
	case OP_SIGNAL:
		if (a & 2)
			vq_set_no_notify(&f->vq, a & 1);
		else if (a & 4)
			vqf_see(f, vq_has_avail(&f->vq));
		else
			vqf_see(f, vq_should_signal(&f->vq));
		break;
	case OP_RESET:
		vq_reset(&f->vq);
		FZ_ASSERT(!f->vq.ready && !vq_has_avail(&f->vq));
		vqf_activate(f);
		break;
	}
}

/* Byte-swaps a field of n bytes at RAM offset off, if it lies in RAM. */
static void swap_at(uint8_t *ram, uint64_t off, unsigned int n)
{
	unsigned int i;

	if (off > VQF_RAM_SIZE - n)
		return;
	for (i = 0; i < n / 2; i++) {
		uint8_t t = ram[off + i];

		ram[off + i] = ram[off + n - 1 - i];
		ram[off + n - 1 - i] = t;
	}
}

/* [gpa, gpa + len) as a RAM offset range; false if not wholly in RAM. */
static bool ram_range(uint64_t gpa, uint64_t len, uint64_t *off)
{
	if (gpa < FZ_RAM_GPA || gpa - FZ_RAM_GPA > VQF_RAM_SIZE || len > VQF_RAM_SIZE - (gpa - FZ_RAM_GPA))
		return false;
	*off = gpa - FZ_RAM_GPA;
	return true;
}

#define VQF_MAX_REGIONS 64

struct regions {
	uint64_t start[VQF_MAX_REGIONS], len[VQF_MAX_REGIONS];
	unsigned int n;
};

/* Adds a region; false if it overlaps one already there (or too many). */
static bool region_add(struct regions *r, uint64_t start, uint64_t len)
{
	unsigned int i;

	if (r->n == VQF_MAX_REGIONS)
		return false;
	for (i = 0; i < r->n; i++)
		if (start < r->start[i] + r->len[i] && r->start[i] < start + len)
			return false;
	r->start[r->n] = start;
	r->len[r->n++] = len;
	return true;
}

static void swap_desc(uint8_t *ram, uint64_t off)
{
	swap_at(ram, off, 8);
	swap_at(ram, off + 8, 4);
	swap_at(ram, off + 12, 2);
	swap_at(ram, off + 14, 2);
}

/*
 * Turns the LE rings in be->ram into BE: the descriptor table, the indirect
 * tables it points to, the avail ring. false if the layout is ambiguous
 * (regions overlap, or the device's writes could land in them): then the
 * twins could rightly differ.
 */
static bool vqf_make_twin(struct vqf *be)
{
	uint64_t extra = be->event_idx ? 2 : 0, d, a, u, i;
	struct regions r = { .n = 0 };

	if (!ram_range(be->desc, (uint64_t)VQ_DESC_SIZE * be->num, &d) ||
	    !ram_range(be->avail, 4 + 2ULL * be->num + extra, &a) ||
	    !ram_range(be->used, 4 + 8ULL * be->num + extra, &u) ||
	    !region_add(&r, d, (uint64_t)VQ_DESC_SIZE * be->num) ||
	    !region_add(&r, a, 4 + 2ULL * be->num + extra) ||
	    !region_add(&r, u, 4 + 8ULL * be->num + extra))
		return false;
	for (i = 0; i < be->num; i++) {
		const uint8_t *p = be->ram + d + VQ_DESC_SIZE * i;
		uint64_t t, tlen = ve_get32(VQ_LE, p + 8), j;

		if ((ve_get16(VQ_LE, p + 12) & VQ_DESC_F_INDIRECT) && tlen && !(tlen % VQ_DESC_SIZE) &&
		    ram_range(ve_get64(VQ_LE, p), tlen, &t)) {
			if (!region_add(&r, t, tlen))
				return false;
			for (j = 0; j < tlen; j += VQ_DESC_SIZE)
				swap_desc(be->ram, t + j);
		}
		swap_desc(be->ram, d + VQ_DESC_SIZE * i);
	}
	for (i = 0; i < 2 + be->num + (extra ? 1 : 0); i++)
		swap_at(be->ram, a + 2 * i, 2);
	/* the used ring: flags and idx are read nowhere, but keep them alike */
	swap_at(be->ram, u, 2);
	swap_at(be->ram, u + 2, 2);
	return true;
}

/* The twins saw the same thing and are in the same state. */
static void vqf_same(const struct vqf *le, const struct vqf *be)
{
	FZ_ASSERT(le->trace == be->trace);
	FZ_ASSERT(le->active == be->active && le->vq.ready == be->vq.ready);
	FZ_ASSERT(le->vq.broken == be->vq.broken && le->vq.why == be->vq.why);
	FZ_ASSERT(le->vq.last_avail == be->vq.last_avail && le->vq.used_idx == be->vq.used_idx);
	FZ_ASSERT(le->pops == be->pops && le->pushes == be->pushes);
}

static struct vqf *vqf_new(void)
{
	struct vqf *f = calloc(1, sizeof(*f));
	struct lkvm_err err;

	if (!f)
		return NULL;
	f->ram = calloc(1, VQF_RAM_SIZE);
	f->elem = malloc(sizeof(*f->elem));
	if (f->ram && f->elem && !guest_mem_add(&f->mem, FZ_RAM_GPA, VQF_RAM_SIZE, f->ram, &err))
		return f;
	free(f->elem);
	free(f->ram);
	free(f);
	return NULL;
}

static void vqf_free(struct vqf *f)
{
	if (!f)
		return;
	free(f->elem);
	free(f->ram);
	free(f);
}

static void vqf_run(struct vqf *f, const uint8_t *o)
{
	vqf_op(f, o[0], o[1], (uint16_t)(o[2] | o[3] << 8),
	       (uint32_t)o[4] | (uint32_t)o[5] << 8 | (uint32_t)o[6] << 16 | (uint32_t)o[7] << 24);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t kick[8] = { OP_DRAIN };
	struct fz_in in = { data, size };
	uint8_t flags, sel, nops, ops[VQF_MAX_OPS][8];
	struct vqf *f = vqf_new(), *be = NULL;
	unsigned int i;

	if (!f)
		return 0;
	memset(ops, 0, sizeof(ops));
	flags = fz_u8(&in);
	sel = fz_u8(&in);
	f->e = (flags & FL_BE) && !(flags & FL_TWIN) ? VQ_BE : VQ_LE;
	f->event_idx = flags & FL_EVENT_IDX;
	f->indirect = flags & FL_INDIRECT;
	f->num = flags & FL_RAW_NUM ? fz_u16(&in) : 1u << (sel % 11);
	if (flags & FL_ADDRS) {
		f->desc = FZ_RAM_GPA + fz_u32(&in);
		f->avail = FZ_RAM_GPA + fz_u32(&in);
		f->used = FZ_RAM_GPA + fz_u32(&in);
	} else {
		/* the legacy layout (2.7.2): desc, avail, used on the next 4 KiB */
		f->desc = FZ_RAM_GPA;
		f->avail = f->desc + (uint64_t)VQ_DESC_SIZE * f->num;
		f->used = ALIGN_UP(f->avail + 6 + 2ULL * f->num, 4096);
	}
	nops = fz_u8(&in) % (VQF_MAX_OPS + 1);
	for (i = 0; i < nops; i++)
		fz_bytes(&in, ops[i], 8);
	fz_bytes(&in, f->ram, VQF_RAM_SIZE);

	if (flags & FL_TWIN) {
		be = vqf_new();
		if (!be)
			goto out;
		memcpy(be->ram, f->ram, VQF_RAM_SIZE);
		be->e = VQ_BE;
		be->event_idx = f->event_idx;
		be->indirect = f->indirect;
		be->num = f->num;
		be->desc = f->desc;
		be->avail = f->avail;
		be->used = f->used;
		f->twin = be->twin = true;
		if (!vqf_make_twin(be)) {
			vqf_free(be);
			be = NULL;
		}
	}
	vqf_activate(f);
	if (be) {
		vqf_activate(be);
		vqf_same(f, be);
	}
	for (i = 0; i < nops; i++) {
		vqf_run(f, ops[i]);
		if (be) {
			vqf_run(be, ops[i]);
			vqf_same(f, be);
		}
	}
	/* always end with a kick: the walker meets whatever the ops left */
	vqf_run(f, kick);
	if (be) {
		vqf_run(be, kick);
		vqf_same(f, be);
	}
out:
	vqf_free(be);
	vqf_free(f);
	return 0;
}
