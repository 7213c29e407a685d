// SPDX-License-Identifier: GPL-2.0
/*
 * qcow2 refcounts and cluster allocation (widths 1 to 64 bits), and the
 * metadata map that keeps allocations and writes off the metadata.
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
	if (k < q->rt_entries) {
		size_t boff, blen;

		/* no refcount block, so nothing in the range is in use: unless metadata is */
		r = q2_overlap_check(q, "new refcount block", c0 * cs, cs, 0);
		if (!r)
			r = q2_set_reserve(&q->rbs, 1);
		if (r)
			return r;
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
		q2_set_add(&q->rbs, c0);
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
	r = q2_overlap_check(q, "new refcount table", c0 * cs, (nb + nt) * cs, 0);
	if (!r)
		r = q2_set_reserve(&q->rbs, nb);
	if (r)
		return r;
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
	for (i = 0; i < nb; i++)
		q2_set_add(&q->rbs, c0 + i);
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
		/*
		 * free by its refcount, yet metadata: handed out, it would take
		 * guest data (over the header: a backing file of the guest's choice)
		 */
		r = q2_overlap_check(q, "cluster allocation", cl * q->cs, q->cs, 0);
		if (r)
			return r;
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
		/* an overlap fails this request too, not only the later ones */
		if (!n || q->corrupt)
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

	/* marked corrupt: no more refcount updates; the clusters leak until the repair */
	if (!q->nr_frees || q->corrupt)
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

	if (q->corrupt)
		return 0;
	while (q->pool_n) {
		r2 = rc_dec(q, q->pool[q->pool_head++]);
		q->pool_n--;
		if (r2 && !r)
			r = r2;
	}
	return r;
}

/*
 * ---- the metadata map ----
 *
 * A write of guest data onto metadata hands the image to the guest: over
 * the header it names any host file as the backing file, which the next
 * open serves it; over a table it maps guest clusters anywhere in the file.
 * Refcounts alone do not prevent it: a metadata cluster whose refcount is 0
 * (or that an L2 entry names as data) looks free or like data. So, as
 * QEMU's overlap checks do, every allocation and every data write (and
 * free) is checked against the metadata: the header, the L1 table and the
 * refcount table, whose places the header gives, and the L2 tables and
 * refcount blocks, kept as sorted sets of clusters, built at a writable
 * open and added to as they are allocated (neither is ever freed). A check
 * is two binary searches and a few compares, never a scan.
 *
 * Internal snapshots make an image read-only for lkvm (qcow2.c), so a
 * writable image has no snapshot table and no inactive L1 or L2 tables.
 */

/* the index of the first member >= cl (s->n if none); a conditional move per step */
static size_t set_lower_bound(const struct q2_set *s, uint64_t cl)
{
	const uint64_t *base = s->v;
	size_t n = s->n;

	if (!n)
		return 0;
	while (n > 1) {
		size_t half = n / 2;

		base = base[half] < cl ? base + half : base;
		n -= half;
	}
	return base - s->v + (*base < cl);
}

int q2_set_reserve(struct q2_set *s, size_t more)
{
	size_t cap;
	uint64_t *v;

	if (s->cap - s->n >= more)
		return 0;
	cap = MAX(MAX(s->cap * 2, s->n + more), (size_t)64);
	v = realloc(s->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	s->cap = cap;
	return 0;
}

void q2_set_add(struct q2_set *s, uint64_t cl)
{
	size_t i = set_lower_bound(s, cl);

	if (i < s->n && s->v[i] == cl)
		return;
	/* callers reserve first; without room the set would miss metadata */
	if (s->n == s->cap && q2_set_reserve(s, 1))
		return;
	/* new tables mostly go past the old ones: a short move */
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = cl;
	s->n++;
}

void q2_set_free(struct q2_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* the first member of s in clusters [first, last] */
static bool set_hit(const struct q2_set *s, uint64_t first, uint64_t last, uint64_t *cl)
{
	size_t i = set_lower_bound(s, first);

	if (i == s->n || s->v[i] > last)
		return false;
	*cl = s->v[i];
	return true;
}

/* clusters [a, a + n) meet clusters [first, last] */
static bool clusters_meet(uint64_t a, uint64_t n, uint64_t first, uint64_t last)
{
	return n && a <= last && first < a + n;
}

static uint64_t l1_clusters(const struct qcow2 *q)
{
	return ((uint64_t)q->l1_size * 8 + q->cs - 1) >> q->cluster_bits;
}

unsigned int q2_meta_find(const struct qcow2 *q, uint64_t off, uint64_t len, unsigned int ign,
			  uint64_t *at)
{
	unsigned int cb = q->cluster_bits;
	uint64_t first = off >> cb, last, cl;

	if (!len)
		return 0;
	last = (off + len - 1) >> cb;
	/* whole clusters: the rest of a table's last cluster is refcounted with it */
	if (!(ign & Q2_META_HEADER) && !first) {
		*at = 0;
		return Q2_META_HEADER;
	}
	if (!(ign & Q2_META_L1) && clusters_meet(q->l1_off >> cb, l1_clusters(q), first, last)) {
		*at = q->l1_off;
		return Q2_META_L1;
	}
	if (!(ign & Q2_META_RT) && clusters_meet(q->rt_off >> cb, q->rt_clusters, first, last)) {
		*at = q->rt_off;
		return Q2_META_RT;
	}
	if (!(ign & Q2_META_L2) && set_hit(&q->l2s, first, last, &cl)) {
		*at = cl << cb;
		return Q2_META_L2;
	}
	if (!(ign & Q2_META_RB) && set_hit(&q->rbs, first, last, &cl)) {
		*at = cl << cb;
		return Q2_META_RB;
	}
	return 0;
}

static const char *meta_name(unsigned int kind)
{
	switch (kind) {
	case Q2_META_HEADER:
		return "header";
	case Q2_META_L1:
		return "L1 table";
	case Q2_META_L2:
		return "L2 table";
	case Q2_META_RT:
		return "refcount table";
	default:
		return "refcount block";
	}
}

int q2_overlap_check(struct qcow2 *q, const char *what, uint64_t off, uint64_t len,
		     unsigned int ign)
{
	const char *path = q->d->path;
	unsigned int kind;
	uint64_t at, v;
	uint8_t b[8];
	int r;

	kind = q2_meta_find(q, off, len, ign, &at);
	if (!kind)
		return 0;
	if (q->corrupt)
		return -EIO;
	/* this request fails, and so does every later write */
	q->corrupt = true;
	q->warned = true;
	if (q->version < 3) {
		q2_log(q, "%s at host offset %#llx refused: it overlaps the qcow2 %s at %#llx; a version 2 image has no corrupt flag: repair it with `qemu-img check -r all %s` before writing to it again",
		       what, (unsigned long long)off, meta_name(kind), (unsigned long long)at,
		       path);
		return -EIO;
	}
	/* incompatible bit 1: "the image must not be written to", until repaired */
	v = q->incompat | Q2_INCOMPAT_CORRUPT;
	q2_put64(b, v);
	r = q2_pwrite(q, b, sizeof(b), Q2_HDR_INCOMPAT);
	if (!r)
		r = q2_sync(q);
	if (!r)
		q->incompat = v;
	q2_log(q, "%s at host offset %#llx refused: it overlaps the qcow2 %s at %#llx; %s%s%s: repair it with `qemu-img check -r all %s`",
	       what, (unsigned long long)off, meta_name(kind), (unsigned long long)at,
	       r ? "marking the image corrupt failed (" : "the image is marked corrupt",
	       r ? strerror(-r) : "", r ? ")" : "", path);
	return -EIO;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* s = the clusters of the nonzero offsets v[0..n) in the file, sorted; *dup: one named twice */
static int set_build(struct qcow2 *q, struct q2_set *s, const uint64_t *v, size_t n,
		     uint64_t mask, uint64_t *dup)
{
	size_t i, m = 0;
	int r;

	*dup = 0;
	for (i = 0; i < n; i++)
		m += !!(v[i] & mask);
	r = q2_set_reserve(s, m);
	if (r)
		return r;
	for (i = 0; i < n; i++) {
		uint64_t off = v[i] & mask;

		/* one that is not a cluster in the file is never used (reads and writes fail) */
		if (off && !(off % q->cs) && off <= q->file_size && q->file_size - off >= q->cs)
			s->v[s->n++] = off >> q->cluster_bits;
	}
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	for (i = 1; i < s->n; i++)
		if (s->v[i] == s->v[i - 1])
			*dup = s->v[i] << q->cluster_bits;
	return 0;
}

/* refcounts for q2_meta_init: one block at a time, read past the cache */
struct rc_scan {
	uint8_t *buf;
	uint64_t k; /* the block in buf; UINT64_MAX: none */
};

static int scan_rc(struct qcow2 *q, struct rc_scan *s, uint64_t cl, uint64_t *rc)
{
	uint64_t k = cl / q->rb_entries;
	int r;

	*rc = 0;
	if (k >= q->rt_entries || !q->rt[k])
		return 0;
	if (s->k != k) {
		s->k = UINT64_MAX;
		r = q2_pread(q, s->buf, q->cs, q->rt[k]);
		if (r)
			return r;
		s->k = k;
	}
	*rc = rb_get(q, s->buf, cl % q->rb_entries);
	return 0;
}

/* clusters [cl, cl + n) of metadata kind have a refcount, else one line in e */
static int meta_counted(struct qcow2 *q, struct rc_scan *s, uint64_t cl, uint64_t n,
			unsigned int kind, struct lkvm_err *e)
{
	const char *path = q->d->path;
	uint64_t i, rc;
	int r;

	for (i = 0; i < n; i++) {
		r = scan_rc(q, s, cl + i, &rc);
		if (r)
			return err_errno(e, -r, "disk %s: cannot read a qcow2 refcount block", path);
		if (!rc)
			return err_set(e, "disk %s: the qcow2 %s cluster at %#llx has refcount 0, so it could be allocated as data; repair the image with `qemu-img check -r all %s` or open it ,ro",
				       path, meta_name(kind),
				       (unsigned long long)((cl + i) << q->cluster_bits), path);
	}
	return 0;
}

int q2_meta_init(struct qcow2 *q, struct lkvm_err *e)
{
	const char *path = q->d->path;
	unsigned int cb = q->cluster_bits, kind;
	struct rc_scan s = { .k = UINT64_MAX };
	uint64_t dup, at;
	size_t i;
	int r;

	/* the L2 tables every L1 entry names, the refcount blocks the table names */
	r = set_build(q, &q->l2s, q->l1, q->l1_size, Q2_OFFSET_MASK, &dup);
	if (r)
		return err_set(e, "out of memory");
	if (dup)
		return err_set(e, "disk %s: two qcow2 L1 entries name the L2 table at %#llx; repair the image with `qemu-img check -r all %s` or open it ,ro",
			       path, (unsigned long long)dup, path);
	r = set_build(q, &q->rbs, q->rt, q->rt_entries, ~0ULL, &dup);
	if (r)
		return err_set(e, "out of memory");
	if (dup)
		return err_set(e, "disk %s: two qcow2 refcount table entries name the block at %#llx; repair the image with `qemu-img check -r all %s` or open it ,ro",
			       path, (unsigned long long)dup, path);
	/* no table on another (the header, L1 and refcount table were checked at load) */
	for (i = 0; i < q->l2s.n; i++) {
		kind = q2_meta_find(q, q->l2s.v[i] << cb, q->cs, Q2_META_L2, &at);
		if (kind)
			return err_set(e, "disk %s: the qcow2 L2 table at %#llx overlaps the %s at %#llx; repair the image with `qemu-img check -r all %s` or open it ,ro",
				       path, (unsigned long long)(q->l2s.v[i] << cb),
				       meta_name(kind), (unsigned long long)at, path);
	}
	/* a metadata cluster of refcount 0 is one the allocator would hand out */
	s.buf = malloc(q->cs);
	if (!s.buf)
		return err_set(e, "out of memory");
	r = meta_counted(q, &s, 0, 1, Q2_META_HEADER, e);
	if (!r)
		r = meta_counted(q, &s, q->l1_off >> cb, l1_clusters(q), Q2_META_L1, e);
	if (!r)
		r = meta_counted(q, &s, q->rt_off >> cb, q->rt_clusters, Q2_META_RT, e);
	for (i = 0; !r && i < q->l2s.n; i++)
		r = meta_counted(q, &s, q->l2s.v[i], 1, Q2_META_L2, e);
	for (i = 0; !r && i < q->rbs.n; i++)
		r = meta_counted(q, &s, q->rbs.v[i], 1, Q2_META_RB, e);
	free(s.buf);
	return r;
}
