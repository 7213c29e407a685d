// SPDX-License-Identifier: GPL-2.0
/*
 * qcow2 refcounts and cluster allocation (widths 1 to 64 bits).
 *
 * Ordering, so that a crash (process kill or power loss) never leaves a
 * reference to a cluster whose refcount is lower than the references:
 *  - a new cluster's refcount is raised and made durable (fdatasync) before
 *    anything can point to it: clusters are reserved Q2_POOL at a time, one
 *    fdatasync per batch; a crash leaks the unused ones (qemu-img check
 *    reports leaks, not corruption), a clean close gives them back;
 *  - a refcount drops only after the write that removed the reference is
 *    durable: dropped references queue in q->frees until the next barrier
 *    (a guest flush, Q2_FREES_MAX of them, or close);
 *  - a new refcount block is written and synced before the refcount table
 *    entry that points to it; a grown refcount table (and the blocks that
 *    cover it) is written and synced before the header points to it, and
 *    the old table is freed only after that header write is synced.
 * All metadata is written through (no dirty caches), so lazy refcounts and
 * the dirty bit are never needed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"
#include "util.h"

static uint64_t rb_get(const struct qcow2 *q, const uint8_t *b, uint64_t i)
{
	unsigned int bits = 1u << q->refcount_order;

	switch (q->refcount_order) {
	case 0:
	case 1:
	case 2:
		/* sub-byte entries: entry 0 in the least significant bits */
		return (b[i * bits / 8] >> (i * bits % 8)) & ((1u << bits) - 1);
	case 3:
		return b[i];
	case 4:
		return q2_get16(b + 2 * i);
	case 5:
		return q2_get32(b + 4 * i);
	default:
		return q2_get64(b + 8 * i);
	}
}

/* Sets entry i of block b; *boff, *blen: the bytes that changed. */
static void rb_set(const struct qcow2 *q, uint8_t *b, uint64_t i, uint64_t v, size_t *boff,
		   size_t *blen)
{
	unsigned int bits = 1u << q->refcount_order;

	if (bits < 8) {
		unsigned int shift = i * bits % 8, mask = ((1u << bits) - 1) << shift;

		*boff = i * bits / 8;
		*blen = 1;
		b[*boff] = (uint8_t)((b[*boff] & ~mask) | ((v << shift) & mask));
		return;
	}
	*blen = bits / 8;
	*boff = i * *blen;
	switch (bits) {
	case 8:
		b[i] = (uint8_t)v;
		break;
	case 16:
		q2_put16(b + *boff, (uint16_t)v);
		break;
	case 32:
		q2_put32(b + *boff, (uint32_t)v);
		break;
	default:
		q2_put64(b + *boff, v);
		break;
	}
}

int q2_rc_get(struct qcow2 *q, uint64_t cl, uint64_t *rc)
{
	uint64_t k = cl / q->rb_entries;
	uint8_t *b;
	int r;

	*rc = 0;
	if (k >= q->rt_entries || !q->rt[k])
		return 0;
	r = q2_cache_get(q, &q->rbc, q->rt[k], false, &b);
	if (r)
		return r;
	*rc = rb_get(q, b, cl % q->rb_entries);
	return 0;
}

static int rc_set(struct qcow2 *q, uint64_t cl, uint64_t v)
{
	uint64_t k = cl / q->rb_entries;
	size_t boff, blen;
	uint8_t *b;
	int r;

	if (k >= q->rt_entries || !q->rt[k])
		return q2_corrupt(q, "cluster %#llx has no refcount block",
				  (unsigned long long)(cl * q->cs));
	r = q2_cache_get(q, &q->rbc, q->rt[k], false, &b);
	if (r)
		return r;
	rb_set(q, b, cl % q->rb_entries, v, &boff, &blen);
	r = q2_pwrite(q, b + boff, blen, q->rt[k] + boff);
	if (r)
		/* the cached block no longer matches the file: read it again */
		q2_cache_drop(&q->rbc, q->rt[k]);
	return r;
}

static int rc_dec(struct qcow2 *q, uint64_t cl)
{
	uint64_t rc;
	int r = q2_rc_get(q, cl, &rc);

	if (r)
		return r;
	if (!rc)
		return q2_corrupt(q, "freeing cluster %#llx, whose refcount is already 0",
				  (unsigned long long)(cl * q->cs));
	r = rc_set(q, cl, rc - 1);
	if (r || rc > 1)
		return r;
	if (cl < q->free_hint)
		q->free_hint = cl;
	/* it may come back as anything */
	q2_cache_drop(&q->l2c, cl * q->cs);
	q->zbuf_entry = 0;
	return 0;
}

static bool range_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * Refcount blocks for range k (refcounts of clusters [k * rb_entries, ...)),
 * which has none, so every cluster in it is free: the block goes to the
 * first cluster of its own range and counts itself. Past the end of the
 * refcount table, the table grows: new blocks then the new table go there,
 * as many blocks as the area they fill needs.
 */
static int rc_new_blocks(struct qcow2 *q, uint64_t k)
{
	uint64_t rbe = q->rb_entries, cs = q->cs, c0 = k * rbe, nb = 1, ne, nt, i, *rt;
	uint64_t old_off = q->rt_off, old_clusters = q->rt_clusters;
	uint8_t *blocks = NULL, *table = NULL, *b, hdr[12];
	int r;

	if (c0 > Q2_MAX_HOST / cs)
		return -ENOSPC;
	if (!c0 || range_overlaps(c0 * cs, cs, q->l1_off, (uint64_t)q->l1_size * 8) ||
	    range_overlaps(c0 * cs, cs, q->rt_off, (uint64_t)q->rt_clusters * cs))
		return q2_corrupt(q, "refcount table entry %llu is empty, but its clusters are in use",
				  (unsigned long long)k);
	if (k < q->rt_entries) {
		size_t boff, blen;

		r = q2_cache_get(q, &q->rbc, c0 * cs, true, &b);
		if (r)
			return r;
		rb_set(q, b, 0, 1, &boff, &blen);
		r = q2_pwrite(q, b, cs, c0 * cs);
		if (!r)
			r = q2_sync(q);
		if (!r) {
			q2_put64(hdr, c0 * cs);
			r = q2_pwrite(q, hdr, 8, q->rt_off + k * 8);
		}
		if (r) {
			q2_cache_drop(&q->rbc, c0 * cs);
			return r;
		}
		q->rt[k] = c0 * cs;
		return 0;
	}

	/* nb blocks then nt table clusters from c0; the blocks cover ranges k.. */
	for (;;) {
		uint64_t need;

		ne = MAX(q->rt_entries * 2, k + nb);
		nt = (ne * 8 + cs - 1) / cs;
		ne = nt * cs / 8;
		need = (nb + nt + rbe - 1) / rbe;
		if (need <= nb)
			break;
		nb = need;
	}
	if (nt * cs > Q2_MAX_RT_BYTES || c0 + nb + nt > Q2_MAX_HOST / cs)
		return -ENOSPC;
	blocks = calloc(nb, cs);
	table = calloc(nt, cs);
	rt = calloc(ne, sizeof(*rt));
	if (!blocks || !table || !rt) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nb + nt; i++) {
		size_t boff, blen;

		rb_set(q, blocks + (i / rbe) * cs, i % rbe, 1, &boff, &blen);
	}
	memcpy(rt, q->rt, q->rt_entries * sizeof(*rt));
	for (i = 0; i < nb; i++)
		rt[k + i] = (c0 + i) * cs;
	for (i = 0; i < ne; i++)
		q2_put64(table + 8 * i, rt[i]);
	r = q2_pwrite(q, blocks, nb * cs, c0 * cs);
	if (!r)
		r = q2_pwrite(q, table, nt * cs, (c0 + nb) * cs);
	if (!r)
		r = q2_sync(q);
	if (r)
		goto out;
	q2_put64(hdr, (c0 + nb) * cs);
	q2_put32(hdr + 8, (uint32_t)nt);
	r = q2_pwrite(q, hdr, sizeof(hdr), Q2_HDR_RT_OFFSET);
	if (!r)
		r = q2_sync(q);
	if (r)
		goto out;
	free(q->rt);
	q->rt = rt;
	rt = NULL;
	q->rt_entries = ne;
	q->rt_off = (c0 + nb) * cs;
	q->rt_clusters = (uint32_t)nt;
	/* the header no longer points to the old table */
	for (i = 0; i < old_clusters && !r; i++)
		r = rc_dec(q, old_off / cs + i);
out:
	free(blocks);
	free(table);
	free(rt);
	return r;
}

/* Raises the first free cluster's refcount to 1 (not durable yet). */
static int rc_alloc_one(struct qcow2 *q, uint64_t *out)
{
	uint64_t rbe = q->rb_entries;
	int r;

	for (;;) {
		uint64_t cl = q->free_hint, k = cl / rbe, i;
		uint8_t *b;

		if (cl >= Q2_MAX_HOST / q->cs)
			return -ENOSPC;
		if (k >= q->rt_entries || !q->rt[k]) {
			r = rc_new_blocks(q, k);
			if (r)
				return r;
			continue;
		}
		r = q2_cache_get(q, &q->rbc, q->rt[k], false, &b);
		if (r)
			return r;
		for (i = cl % rbe; i < rbe; i++)
			if (!rb_get(q, b, i))
				break;
		if (i == rbe) {
			q->free_hint = (k + 1) * rbe;
			continue;
		}
		cl = k * rbe + i;
		r = rc_set(q, cl, 1);
		if (r)
			return r;
		q->free_hint = cl + 1;
		*out = cl;
		return 0;
	}
}

int q2_alloc_cluster(struct qcow2 *q, uint64_t *off)
{
	if (!q->pool_n) {
		unsigned int n = 0;
		uint64_t cl;
		int r = 0;

		while (n < Q2_POOL) {
			r = rc_alloc_one(q, &cl);
			if (r)
				break;
			q->pool[n++] = cl;
		}
		if (!n)
			return r;
		/* the refcounts are durable before anything points to these */
		r = q2_sync(q);
		if (r)
			return r; /* leaked: refcount 1, no reference */
		q->pool_head = 0;
		q->pool_n = n;
	}
	*off = q->pool[q->pool_head++] * q->cs;
	q->pool_n--;
	/* a free cluster is in no cache, unless the image lied about it */
	q2_cache_drop(&q->l2c, *off);
	q2_cache_drop(&q->rbc, *off);
	return 0;
}

void q2_unget_cluster(struct qcow2 *q, uint64_t off)
{
	if (q->pool_head && q->pool[q->pool_head - 1] == off / q->cs) {
		q->pool_head--;
		q->pool_n++;
	}
}

void q2_free_later(struct qcow2 *q, uint64_t off, uint64_t len)
{
	uint64_t cl, first = off / q->cs, last = (off + len - 1) / q->cs;

	if (!len)
		return;
	for (cl = first; cl <= last; cl++) {
		if (q->nr_frees == q->frees_cap) {
			size_t cap = q->frees_cap ? q->frees_cap * 2 : 64;
			uint64_t *f = realloc(q->frees, cap * sizeof(*f));

			if (!f)
				return; /* leaked */
			q->frees = f;
			q->frees_cap = cap;
		}
		q->frees[q->nr_frees++] = cl;
	}
	if (q->nr_frees >= Q2_FREES_MAX)
		q2_apply_frees(q, false);
}

int q2_apply_frees(struct qcow2 *q, bool synced)
{
	size_t i;
	int r;

	if (!q->nr_frees)
		return 0;
	/* the writes that dropped these references are durable first */
	if (!synced) {
		r = q2_sync(q);
		if (r)
			return r; /* still queued */
	}
	/* a decrement that fails leaks its cluster, nothing worse (and is logged) */
	for (i = 0; i < q->nr_frees; i++)
		rc_dec(q, q->frees[i]);
	q->nr_frees = 0;
	return 0;
}

int q2_release_pool(struct qcow2 *q)
{
	int r = 0, r2;

	while (q->pool_n) {
		r2 = rc_dec(q, q->pool[q->pool_head++]);
		q->pool_n--;
		if (r2 && !r)
			r = r2;
	}
	return r;
}
