// SPDX-License-Identifier: GPL-2.0
/*
 * qcow2 images, versions 2 and 3 (QEMU's docs/interop/qcow2.txt), read-write.
 *
 * Supported: L1/L2 mapping, refcounts of 1 to 64 bits (allocation grows
 * refcount blocks and the refcount table), backing files (raw or qcow2,
 * opened read-only through disk_open, a name relative to the image's
 * directory), copy-on-write from the backing file, zlib-compressed clusters
 * (read; a write rewrites the cluster uncompressed), zero clusters (v3),
 * discard and write zeroes that free clusters, internal snapshots read-only.
 * Refused, with one line saying why: encryption, external data files,
 * compression other than zlib, extended L2 entries, unknown incompatible
 * features; for writing also images with internal snapshots and images
 * marked dirty or corrupt (qemu-img check -r all repairs those).
 *
 * Nothing from the file is trusted: the header and the L1 and refcount
 * tables are checked at open (a bad one: one line, no disk); every L1/L2
 * entry is checked when used (aligned, inside the file, not the header or
 * the tables, reserved bits clear) and a data cluster's refcount before it
 * is written in place. A bad one fails the request with -EIO (logged once),
 * never an access outside the file or our buffers.
 *
 * Writes never land on metadata (qcow2_refcount.c keeps the map): a
 * writable open refuses metadata that overlaps other metadata or has
 * refcount 0; every allocation and every L2 entry a write, discard or
 * write zeroes acts on is checked against the header, the L1 table, the L2
 * tables, the refcount table and blocks. An overlap fails the request, sets
 * the header's corrupt bit (v3) with one line, and every later write fails.
 *
 * A write that needs a new cluster: the cluster's refcount is raised and
 * synced first (in batches, qcow2_refcount.c); a new L2 table is written
 * and synced before the L1 entry points to it; the data goes to the new
 * cluster, then the L2 entry (one pwrite each); the replaced cluster's
 * refcount drops only after the next barrier. Writes to clusters of
 * refcount 1 go in place. A guest flush is one fdatasync, which makes every
 * write acknowledged before it durable, metadata included.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qcow2.h"
#include "util.h"

#define Q2_V2_HEADER 72
#define Q2_V3_HEADER 104
#define Q2_EXT_BACKING_FMT 0xe2792acau
#define Q2_EXT_FEATURES 0x6803f857u
#define Q2_INCOMPAT_KNOWN                                                               \
	(Q2_INCOMPAT_DIRTY | Q2_INCOMPAT_CORRUPT | Q2_INCOMPAT_DATA_FILE |              \
	 Q2_INCOMPAT_COMPRESSION | Q2_INCOMPAT_EXTL2)

enum q2_kind { Q2_UNALLOC = 1, Q2_ZEROES, Q2_DATA, Q2_COMPR };

/* ---- file I/O ---- */

int q2_pread(struct qcow2 *q, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(q->fd, (uint8_t *)buf + done, len - done, off + done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += r;
	}
	return 0;
}

int q2_pwrite(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (q->ro)
		return -EROFS;
	while (done < len) {
		ssize_t r = pwrite(q->fd, (const uint8_t *)buf + done, len - done, off + done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += r;
	}
	q->file_size = MAX(q->file_size, off + len);
	return 0;
}

int q2_sync(struct qcow2 *q)
{
	if (q->ro)
		return 0;
	return fdatasync(q->fd) < 0 ? -errno : 0;
}

/* q->siov[0..cnt) at off, whole; the vector is consumed */
static int q2_rw_siov(struct qcow2 *q, int cnt, uint64_t off, size_t len, bool wr)
{
	struct iovec *v = q->siov;
	size_t done = 0;

	if (wr && q->ro)
		return -EROFS;
	while (done < len) {
		ssize_t r = wr ? pwritev(q->fd, v, MIN(cnt, IOV_MAX), off + done)
			       : preadv(q->fd, v, MIN(cnt, IOV_MAX), off + done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += r;
		while (r > 0 && cnt) {
			if ((size_t)r >= v->iov_len) {
				r -= v->iov_len;
				v++;
				cnt--;
			} else {
				v->iov_base = (uint8_t *)v->iov_base + r;
				v->iov_len -= r;
				r = 0;
			}
		}
	}
	if (wr)
		q->file_size = MAX(q->file_size, off + len);
	return 0;
}

static void q2_vlog(const struct qcow2 *q, const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf), "lkvm: disk %s: %s", q->d->path, prefix);
	if (n < 0 || (size_t)n >= sizeof(buf) - 2)
		return;
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	n = strlen(buf);
	buf[n++] = '\n';
	/* one write: the line stays whole between threads */
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere to say it */
	}
}

void q2_log(const struct qcow2 *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	q2_vlog(q, "", fmt, ap);
	va_end(ap);
}

int q2_corrupt(struct qcow2 *q, const char *fmt, ...)
{
	va_list ap;

	if (q->warned)
		return -EIO;
	q->warned = true;
	va_start(ap, fmt);
	q2_vlog(q, "corrupt qcow2 image: ", fmt, ap);
	va_end(ap);
	return -EIO;
}

/* ---- iovec helpers ---- */

/* q->siov = bytes [skip, skip + len) of iov; the number of entries, or -ENOMEM */
static int q2_slice(struct qcow2 *q, const struct iovec *iov, int n, size_t skip, size_t len)
{
	int i, cnt = 0;

	if (n > q->siov_cap) {
		struct iovec *v = realloc(q->siov, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		q->siov = v;
		q->siov_cap = n;
	}
	for (i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len, c;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		c = MIN(l - skip, len);
		q->siov[cnt++] = (struct iovec){ .iov_base = (uint8_t *)iov[i].iov_base + skip,
						 .iov_len = c };
		len -= c;
		skip = 0;
	}
	return cnt;
}

/* buf (NULL: zeroes) into bytes [skip, skip + len) of iov */
static void iov_fill(const struct iovec *iov, int n, size_t skip, const uint8_t *buf, size_t len)
{
	int i;

	for (i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len, c;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		c = MIN(l - skip, len);
		if (buf) {
			memcpy((uint8_t *)iov[i].iov_base + skip, buf, c);
			buf += c;
		} else {
			memset((uint8_t *)iov[i].iov_base + skip, 0, c);
		}
		len -= c;
		skip = 0;
	}
}

/* bytes [skip, skip + len) of iov into buf */
static void iov_gather(const struct iovec *iov, int n, size_t skip, uint8_t *buf, size_t len)
{
	int i;

	for (i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len, c;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		c = MIN(l - skip, len);
		memcpy(buf, (uint8_t *)iov[i].iov_base + skip, c);
		buf += c;
		len -= c;
		skip = 0;
	}
}

/* ---- table cache (write-through: entries are never dirty) ---- */

int q2_cache_init(struct q2_cache *c, unsigned int nr, uint64_t cs)
{
	unsigned int i;

	c->nr = MIN(nr, (unsigned int)ARRAY_SIZE(c->buf));
	for (i = 0; i < c->nr; i++) {
		c->buf[i] = malloc(cs);
		if (!c->buf[i])
			return -ENOMEM;
	}
	return 0;
}

void q2_cache_free(struct q2_cache *c)
{
	unsigned int i;

	for (i = 0; i < c->nr; i++)
		free(c->buf[i]);
	memset(c, 0, sizeof(*c));
}

int q2_cache_get(struct qcow2 *q, struct q2_cache *c, uint64_t off, bool fresh, uint8_t **buf)
{
	unsigned int i, victim = 0;
	int r;

	for (i = 0; i < c->nr; i++) {
		if (c->off[i] == off) {
			c->used[i] = ++c->tick;
			if (fresh)
				memset(c->buf[i], 0, q->cs);
			*buf = c->buf[i];
			return 0;
		}
		if (c->used[i] < c->used[victim])
			victim = i;
	}
	c->off[victim] = 0;
	c->used[victim] = 0;
	if (fresh) {
		memset(c->buf[victim], 0, q->cs);
	} else {
		r = q2_pread(q, c->buf[victim], q->cs, off);
		if (r)
			return r;
	}
	c->off[victim] = off;
	c->used[victim] = ++c->tick;
	*buf = c->buf[victim];
	return 0;
}

void q2_cache_drop(struct q2_cache *c, uint64_t off)
{
	unsigned int i;

	for (i = 0; i < c->nr; i++) {
		if (c->off[i] == off) {
			c->off[i] = 0;
			c->used[i] = 0;
		}
	}
}

/* ---- mapping ---- */

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* the header, the L1 table and the refcount table: never data, never L2 */
static bool q2_is_fixed_meta(const struct qcow2 *q, uint64_t off)
{
	return off < q->cs || overlaps(off, q->cs, q->l1_off, (uint64_t)q->l1_size * 8) ||
	       overlaps(off, q->cs, q->rt_off, (uint64_t)q->rt_clusters * q->cs);
}

/* The L2 table of L1 entry l1i; *l2off = 0 when there is none. */
static int q2_l2_table(struct qcow2 *q, uint64_t l1i, uint64_t *l2off)
{
	uint64_t e, off;

	if (l1i >= q->l1_size)
		return q2_corrupt(q, "L1 index %llu past the L1 table", (unsigned long long)l1i);
	e = q->l1[l1i];
	if (e & Q2_L1_RESERVED)
		return q2_corrupt(q, "L1 entry %llu has reserved bits set (%#llx)",
				  (unsigned long long)l1i, (unsigned long long)e);
	off = e & Q2_OFFSET_MASK;
	if (off && (off % q->cs || off > q->file_size || q->file_size - off < q->cs ||
		    q2_is_fixed_meta(q, off)))
		return q2_corrupt(q, "L1 entry %llu points to %#llx, not an L2 table in the file",
				  (unsigned long long)l1i, (unsigned long long)off);
	*l2off = off;
	return 0;
}

/* L2 entry of guest cluster gcl (0 without an L2 table) */
static int q2_lookup(struct qcow2 *q, uint64_t gcl, uint64_t *entry, uint64_t *l2off)
{
	uint8_t *b;
	int r = q2_l2_table(q, gcl / q->l2_entries, l2off);

	*entry = 0;
	if (r || !*l2off)
		return r;
	r = q2_cache_get(q, &q->l2c, *l2off, false, &b);
	if (r)
		return r;
	*entry = q2_get64(b + 8 * (gcl % q->l2_entries));
	return 0;
}

/* compressed descriptor: host offset and the bytes that may hold the data */
static void q2_compr_range(const struct qcow2 *q, uint64_t e, uint64_t *coff, uint64_t *sectors)
{
	unsigned int x = 62 - (q->cluster_bits - 8);

	*coff = e & ((1ULL << x) - 1);
	*sectors = ((e & ~(Q2_COPIED | Q2_COMPRESSED)) >> x) + 1;
}

/*
 * What an L2 entry is (enum q2_kind), or -EIO; *host: its host offset.
 * wr: NULL for a read, else what the caller is about to do with the entry's
 * cluster (write into it, free it, keep it): an entry pointing into any
 * metadata is then an overlap, which marks the image corrupt. A read only
 * fails on the header and the tables, as it always did.
 */
static int q2_kind(struct qcow2 *q, uint64_t e, uint64_t *host, const char *wr)
{
	uint64_t off;

	*host = 0;
	if (e & Q2_COMPRESSED) {
		uint64_t sectors;

		q2_compr_range(q, e, host, &sectors);
		if ((e & Q2_COPIED) || (!wr && *host < q->cs) || *host >= q->file_size ||
		    *host >= Q2_MAX_HOST)
			return q2_corrupt(q, "bad compressed cluster entry %#llx",
					  (unsigned long long)e);
		/* freeing it drops the refcounts of every cluster it touches */
		if (wr && q2_overlap_check(q, wr, *host & ~511ULL, sectors * 512, 0))
			return -EIO;
		return Q2_COMPR;
	}
	if (e & Q2_L2_RESERVED)
		return q2_corrupt(q, "L2 entry %#llx has reserved bits set", (unsigned long long)e);
	off = e & Q2_OFFSET_MASK;
	if (e & Q2_ZERO) {
		if (q->version < 3)
			return q2_corrupt(q, "zero cluster entry %#llx in a version 2 image",
					  (unsigned long long)e);
		if (off % q->cs || (off && !wr && q2_is_fixed_meta(q, off)))
			return q2_corrupt(q, "zero cluster entry %#llx preallocates a bad cluster",
					  (unsigned long long)e);
		if (off && wr && q2_overlap_check(q, wr, off, q->cs, 0))
			return -EIO;
		*host = off;
		return Q2_ZEROES;
	}
	if (!off) {
		if (e & Q2_COPIED)
			return q2_corrupt(q, "L2 entry %#llx maps host offset 0",
					  (unsigned long long)e);
		return Q2_UNALLOC;
	}
	if (off % q->cs || off >= q->file_size || (!wr && q2_is_fixed_meta(q, off)))
		return q2_corrupt(q, "L2 entry %#llx points outside the file or into metadata",
				  (unsigned long long)e);
	if (wr && q2_overlap_check(q, wr, off, q->cs, 0))
		return -EIO;
	*host = off;
	return Q2_DATA;
}

/* q->zbuf = the compressed cluster of entry e */
static int q2_decompress(struct qcow2 *q, uint64_t e)
{
	uint64_t coff, sectors, len;
	int r;

	if (q->zbuf_entry == e)
		return 0;
	q2_compr_range(q, e, &coff, &sectors);
	len = sectors * 512 - (coff & 511);
	/* the last sectors may lie past the end of the file */
	len = MIN(len, q->file_size - coff);
	r = q2_pread(q, q->cbuf, len, coff);
	if (r)
		return r;
	if (inflateReset(&q->zs) != Z_OK)
		return -EIO;
	q->zs.next_in = q->cbuf;
	q->zs.avail_in = (uInt)len;
	q->zs.next_out = q->zbuf;
	q->zs.avail_out = (uInt)q->cs;
	r = inflate(&q->zs, Z_FINISH);
	/* done when a cluster came out, even if the stream goes on */
	if ((r != Z_STREAM_END && r != Z_OK && r != Z_BUF_ERROR) || q->zs.avail_out)
		return q2_corrupt(q, "compressed cluster at %#llx does not inflate to a cluster",
				  (unsigned long long)coff);
	q->zbuf_entry = e;
	return 0;
}

/* ---- reads ---- */

/* bytes [goff, goff + len) of the backing file (zeroes past its end) into iov at pos */
static int q2_read_backing(struct qcow2 *q, uint64_t goff, const struct iovec *iov, int n,
			   size_t pos, size_t len)
{
	size_t have = 0;
	int r, cnt;

	if (q->backing && goff < q->backing->size) {
		have = MIN(len, q->backing->size - goff);
		cnt = q2_slice(q, iov, n, pos, have);
		if (cnt < 0)
			return cnt;
		r = q->backing->ops->readv(q->backing, goff, q->siov, cnt, have);
		if (r)
			return r;
	}
	iov_fill(iov, n, pos + have, NULL, len - have);
	return 0;
}

/* len bytes at host offset off, of which those past the end of the file read as zeroes */
static int q2_read_data(struct qcow2 *q, uint64_t off, const struct iovec *iov, int n,
			size_t pos, size_t len)
{
	size_t have = off < q->file_size ? MIN(len, q->file_size - off) : 0;
	int cnt, r;

	if (have) {
		cnt = q2_slice(q, iov, n, pos, have);
		if (cnt < 0)
			return cnt;
		r = q2_rw_siov(q, cnt, off, have, false);
		if (r)
			return r;
	}
	iov_fill(iov, n, pos + have, NULL, len - have);
	return 0;
}

static int q2_read_locked(struct qcow2 *q, uint64_t off, const struct iovec *iov, int n,
			  size_t len)
{
	size_t pos, chunk;
	int r;

	for (pos = 0; pos < len; pos += chunk) {
		uint64_t goff = off + pos, in = goff & (q->cs - 1), e, l2off, host;
		int kind;

		chunk = MIN(q->cs - in, len - pos);
		r = q2_lookup(q, goff >> q->cluster_bits, &e, &l2off);
		if (r)
			return r;
		kind = q2_kind(q, e, &host, NULL);
		switch (kind) {
		case Q2_UNALLOC:
			r = q2_read_backing(q, goff, iov, n, pos, chunk);
			break;
		case Q2_ZEROES:
			iov_fill(iov, n, pos, NULL, chunk);
			r = 0;
			break;
		case Q2_COMPR:
			r = q2_decompress(q, e);
			if (!r)
				iov_fill(iov, n, pos, q->zbuf + in, chunk);
			break;
		case Q2_DATA: {
			uint64_t next_host = host + q->cs, gcl = goff >> q->cluster_bits;

			/* one read for clusters that follow each other in the file too */
			while (pos + chunk < len && (gcl + 1) % q->l2_entries) {
				uint64_t e2, h2, l2b;

				gcl++;
				if (q2_lookup(q, gcl, &e2, &l2b) || l2b != l2off ||
				    q2_kind(q, e2, &h2, NULL) != Q2_DATA || h2 != next_host)
					break;
				chunk += MIN(q->cs, len - pos - chunk);
				next_host += q->cs;
			}
			r = q2_read_data(q, host + in, iov, n, pos, chunk);
			break;
		}
		default:
			r = kind;
			break;
		}
		if (r)
			return r;
	}
	return 0;
}

static bool q2_in_range(const struct disk *d, uint64_t off, uint64_t len)
{
	return off <= d->size && len <= d->size - off;
}

static int q2_readv(struct disk *d, uint64_t off, const struct iovec *iov, int n, size_t len)
{
	struct qcow2 *q = d->priv;
	int r;

	if (!q2_in_range(d, off, len))
		return -EIO;
	pthread_mutex_lock(&q->lock);
	r = q2_read_locked(q, off, iov, n, len);
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* ---- writes ---- */

static int q2_set_l1(struct qcow2 *q, uint64_t l1i, uint64_t v)
{
	uint8_t b[8];
	int r;

	q2_put64(b, v);
	r = q2_pwrite(q, b, sizeof(b), q->l1_off + 8 * l1i);
	if (!r)
		q->l1[l1i] = v;
	return r;
}

static int q2_set_l2(struct qcow2 *q, uint64_t l2off, uint64_t idx, uint64_t v)
{
	uint8_t b[8], *t;
	int r;

	q2_put64(b, v);
	r = q2_pwrite(q, b, sizeof(b), l2off + 8 * idx);
	if (r) {
		q2_cache_drop(&q->l2c, l2off);
		return r;
	}
	r = q2_cache_get(q, &q->l2c, l2off, false, &t);
	if (!r)
		memcpy(t + 8 * idx, b, sizeof(b));
	return r;
}

static int q2_refcount_is(struct qcow2 *q, uint64_t off, uint64_t *rc)
{
	int r = q2_rc_get(q, off / q->cs, rc);

	if (!r && !*rc)
		return q2_corrupt(q, "cluster %#llx is in use but has refcount 0",
				  (unsigned long long)off);
	return r;
}

/* The L2 table of l1i for a write: allocated when missing, refcount 1. */
static int q2_l2_for_write(struct qcow2 *q, uint64_t l1i, uint64_t *l2off)
{
	uint64_t off, rc;
	uint8_t *b;
	int r = q2_l2_table(q, l1i, &off);

	if (r)
		return r;
	if (off) {
		if (!(q->l1[l1i] & Q2_COPIED)) {
			r = q2_refcount_is(q, off, &rc);
			if (r)
				return r;
			if (rc != 1)
				return q2_corrupt(q, "L2 table %#llx is shared (refcount %llu)",
						  (unsigned long long)off, (unsigned long long)rc);
			r = q2_set_l1(q, l1i, off | Q2_COPIED);
			if (r)
				return r;
		}
		*l2off = off;
		return 0;
	}
	/* room in the metadata map first: a table it misses would be fair game for data */
	r = q2_set_reserve(&q->l2s, 1);
	if (!r)
		r = q2_alloc_cluster(q, &off);
	if (r)
		return r;
	/*
	 * an empty table, durable (the cluster may be a freed one that still
	 * holds old bytes), then the L1 entry that points to it
	 */
	r = q2_cache_get(q, &q->l2c, off, true, &b);
	if (!r)
		r = q2_pwrite(q, b, q->cs, off);
	if (!r)
		r = q2_sync(q);
	if (!r)
		r = q2_set_l1(q, l1i, off | Q2_COPIED);
	if (r) {
		q2_cache_drop(&q->l2c, off);
		q2_unget_cluster(q, off);
		return r;
	}
	q2_set_add(&q->l2s, off >> q->cluster_bits);
	*l2off = off;
	return 0;
}

/* drops the allocation an L2 entry had once nothing points to it (after a barrier) */
static void q2_release_entry(struct qcow2 *q, uint64_t e, int kind, uint64_t host)
{
	uint64_t coff, sectors;

	switch (kind) {
	case Q2_DATA:
		q2_free_later(q, host, q->cs);
		break;
	case Q2_ZEROES:
		if (host)
			q2_free_later(q, host, q->cs);
		break;
	case Q2_COMPR:
		q2_compr_range(q, e, &coff, &sectors);
		if (q->zbuf_entry == e)
			q->zbuf_entry = 0;
		q2_free_later(q, coff & ~511ULL, sectors * 512);
		break;
	default:
		break;
	}
}

/* fills q->cow with what guest cluster gcl reads as now */
static int q2_cow_source(struct qcow2 *q, uint64_t gcl, uint64_t e, int kind, uint64_t host)
{
	struct iovec v = { .iov_base = q->cow, .iov_len = q->cs };
	int r;

	switch (kind) {
	case Q2_UNALLOC:
		return q2_read_backing(q, gcl << q->cluster_bits, &v, 1, 0, q->cs);
	case Q2_COMPR:
		r = q2_decompress(q, e);
		if (!r)
			memcpy(q->cow, q->zbuf, q->cs);
		return r;
	case Q2_DATA:
		return q2_read_data(q, host, &v, 1, 0, q->cs);
	default:
		memset(q->cow, 0, q->cs);
		return 0;
	}
}

/*
 * Writes [in, in + len) of the guest cluster at goff from iov at pos
 * (iov NULL: zeroes). In place when the cluster is ours alone, else into a
 * new cluster that gets the rest of the old contents.
 */
static int q2_write_cluster(struct qcow2 *q, uint64_t goff, const struct iovec *iov, int n,
			    size_t pos, size_t len)
{
	uint64_t gcl = goff >> q->cluster_bits, in = goff & (q->cs - 1), idx = gcl % q->l2_entries;
	uint64_t l2off, e, host, rc = 0, newoff;
	uint8_t *t;
	int kind, r, cnt;
	bool keep_alloc = false;

	r = q2_l2_for_write(q, gcl / q->l2_entries, &l2off);
	if (r)
		return r;
	r = q2_cache_get(q, &q->l2c, l2off, false, &t);
	if (r)
		return r;
	e = q2_get64(t + 8 * idx);
	kind = q2_kind(q, e, &host, "guest write");
	if (kind < 0)
		return kind;
	if (kind == Q2_DATA || (kind == Q2_ZEROES && host)) {
		r = q2_refcount_is(q, host, &rc);
		if (r)
			return r;
	}
	if (kind == Q2_DATA && rc == 1) {
		/* ours alone: in place */
		if (!(e & Q2_COPIED)) {
			r = q2_set_l2(q, l2off, idx, e | Q2_COPIED);
			if (r)
				return r;
		}
		if (!iov) {
			memset(q->cow, 0, len);
			return q2_pwrite(q, q->cow, len, host + in);
		}
		cnt = q2_slice(q, iov, n, pos, len);
		if (cnt < 0)
			return cnt;
		return q2_rw_siov(q, cnt, host + in, len, true);
	}
	if (!iov && (kind == Q2_ZEROES || (kind == Q2_UNALLOC && (!q->backing ||
								 gcl << q->cluster_bits >= q->backing->size))))
		return 0; /* reads as zeroes already */
	/* a preallocated zero cluster of ours is filled in place */
	keep_alloc = kind == Q2_ZEROES && host && rc == 1;
	/* the rest of the cluster keeps what it reads as now */
	if (len < q->cs) {
		r = q2_cow_source(q, gcl, e, kind, host);
		if (r)
			return r;
	}
	if (keep_alloc) {
		newoff = host;
	} else {
		r = q2_alloc_cluster(q, &newoff);
		if (r)
			return r;
	}
	if (iov && len == q->cs) {
		cnt = q2_slice(q, iov, n, pos, len);
		r = cnt < 0 ? cnt : q2_rw_siov(q, cnt, newoff, len, true);
	} else {
		if (iov)
			iov_gather(iov, n, pos, q->cow + in, len);
		else
			memset(q->cow + in, 0, len);
		r = q2_pwrite(q, q->cow, q->cs, newoff);
	}
	if (r) {
		/* the old mapping stands */
		if (!keep_alloc)
			q2_unget_cluster(q, newoff);
		return r;
	}
	/* the data is there: now the L2 entry */
	r = q2_set_l2(q, l2off, idx, newoff | Q2_COPIED);
	if (!r && !keep_alloc)
		q2_release_entry(q, e, kind, host);
	return r;
}

static int q2_write_locked(struct qcow2 *q, uint64_t off, const struct iovec *iov, int n,
			   size_t len)
{
	size_t pos, chunk;
	int r;

	for (pos = 0; pos < len; pos += chunk) {
		uint64_t goff = off + pos;

		chunk = MIN(q->cs - (goff & (q->cs - 1)), len - pos);
		r = q2_write_cluster(q, goff, iov, n, pos, chunk);
		if (r)
			return r;
	}
	return 0;
}

static int q2_writev(struct disk *d, uint64_t off, const struct iovec *iov, int n, size_t len)
{
	struct qcow2 *q = d->priv;
	int r;

	if (d->ro)
		return -EROFS;
	if (!q2_in_range(d, off, len))
		return -EIO;
	pthread_mutex_lock(&q->lock);
	/* marked corrupt: "must not be written to" (the spec's incompatible bit 1) */
	r = q->corrupt ? -EIO : q2_write_locked(q, off, iov, n, len);
	pthread_mutex_unlock(&q->lock);
	return r;
}

static int q2_flush(struct disk *d)
{
	struct qcow2 *q = d->priv;
	int r;

	if (d->ro)
		return 0;
	pthread_mutex_lock(&q->lock);
	r = q2_sync(q);
	/* references dropped before the sync are durably gone: free their clusters */
	if (!r)
		q2_apply_frees(q, true);
	pthread_mutex_unlock(&q->lock);
	return r;
}

/*
 * Guest cluster gcl reads as zeroes (zero) or from the backing file, and
 * holds no cluster of its own, unless keep: then a cluster of ours alone
 * stays allocated as a preallocated zero cluster.
 */
static int q2_unmap_cluster(struct qcow2 *q, uint64_t gcl, bool zero, bool keep)
{
	uint64_t idx = gcl % q->l2_entries, e, l2off, host, rc = 0, ne;
	int kind, r;

	r = q2_lookup(q, gcl, &e, &l2off);
	if (r)
		return r;
	kind = q2_kind(q, e, &host, zero ? "guest write of zeroes" : "guest discard");
	if (kind < 0)
		return kind;
	if (kind == Q2_UNALLOC && (!zero || !q->backing))
		return 0;
	if (kind == Q2_ZEROES && (!host || keep))
		return 0;
	if (keep && kind == Q2_DATA) {
		r = q2_refcount_is(q, host, &rc);
		if (r)
			return r;
	}
	if (zero && q->version < 3) {
		/* v2 has no zero flag: unmapped reads as zeroes only without a backing file */
		if (q->backing || (keep && rc == 1))
			return q2_write_cluster(q, gcl << q->cluster_bits, NULL, 0, 0, q->cs);
		ne = 0;
	} else if (keep && rc == 1) {
		ne = host | Q2_ZERO | Q2_COPIED;
	} else {
		ne = zero && q->backing ? Q2_ZERO : 0;
	}
	r = q2_l2_for_write(q, gcl / q->l2_entries, &l2off);
	if (!r)
		r = q2_set_l2(q, l2off, idx, ne);
	if (!r && !(ne & Q2_OFFSET_MASK))
		q2_release_entry(q, e, kind, host);
	return r;
}

/*
 * Whole clusters in [off, off + len) go through unmap; a cluster that
 * sticks out past the virtual size counts as whole. Partial ones: part(),
 * or nothing.
 */
static int q2_for_clusters(struct qcow2 *q, uint64_t off, uint64_t len, bool zero, bool keep,
			   bool partial_zeroes)
{
	uint64_t end = off + len, cur = off;
	int r;

	while (cur < end) {
		uint64_t cstart = ALIGN_DOWN(cur, q->cs), cend = cstart + q->cs;
		uint64_t stop = MIN(end, cend);

		if (cur == cstart && (stop == cend || end == q->d->size))
			r = q2_unmap_cluster(q, cstart >> q->cluster_bits, zero, keep);
		else if (partial_zeroes)
			r = q2_write_locked(q, cur, NULL, 0, stop - cur);
		else
			r = 0;
		if (r)
			return r;
		cur = stop;
	}
	return 0;
}

static int q2_discard(struct disk *d, uint64_t off, uint64_t len)
{
	struct qcow2 *q = d->priv;
	int r;

	if (d->ro)
		return -EROFS;
	if (!q2_in_range(d, off, len))
		return -EIO;
	pthread_mutex_lock(&q->lock);
	/* advisory: whole clusters only; v3 keeps a backing file's data hidden */
	r = q->corrupt ? -EIO : q2_for_clusters(q, off, len, q->version >= 3, false, false);
	pthread_mutex_unlock(&q->lock);
	return r;
}

static int q2_write_zeroes(struct disk *d, uint64_t off, uint64_t len, bool may_unmap)
{
	struct qcow2 *q = d->priv;
	int r;

	if (d->ro)
		return -EROFS;
	if (!q2_in_range(d, off, len))
		return -EIO;
	pthread_mutex_lock(&q->lock);
	r = q->corrupt ? -EIO : q2_for_clusters(q, off, len, true, !may_unmap, true);
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* ---- open and close ---- */

static void q2_free(struct qcow2 *q)
{
	if (q->zs_ready)
		inflateEnd(&q->zs);
	q2_cache_free(&q->l2c);
	q2_cache_free(&q->rbc);
	q2_set_free(&q->l2s);
	q2_set_free(&q->rbs);
	free(q->l1);
	free(q->rt);
	free(q->frees);
	free(q->cow);
	free(q->cbuf);
	free(q->zbuf);
	free(q->siov);
	disk_close(q->backing);
	if (q->fd >= 0)
		close(q->fd);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static void q2_close(struct disk *d)
{
	struct qcow2 *q = d->priv;

	if (!q)
		return;
	if (!q->ro) {
		/* nothing is lost by an error here: at worst clusters leak (all, if corrupt) */
		if (!q2_sync(q))
			q2_apply_frees(q, true);
		q2_release_pool(q);
		q2_sync(q);
	}
	q2_free(q);
	d->priv = NULL;
	d->fd = -1;
}

static const struct disk_ops qcow2_ops = {
	.name = "qcow2",
	.readv = q2_readv,
	.writev = q2_writev,
	.flush = q2_flush,
	.discard = q2_discard,
	.write_zeroes = q2_write_zeroes,
	.close = q2_close,
};

struct q2_hdr {
	uint8_t *buf; /* the first cluster (or the whole file if shorter) */
	size_t len;
	uint64_t backing_off, size, snap_off, incompat, compat, autoclear;
	uint32_t backing_len, crypt, nb_snap, header_len;
	const uint8_t *features; /* feature name table extension */
	uint32_t features_len;
	char backing_fmt[32];
};

/* "bit 5 (name)" for the incompatible bits in mask */
static void q2_name_bits(const struct q2_hdr *h, uint64_t mask, char *out, size_t size)
{
	size_t n = 0;
	unsigned int bit;

	out[0] = 0;
	for (bit = 0; bit < 64 && n < size; bit++) {
		const char *name = NULL;
		char nb[47];
		uint32_t i;

		if (!(mask & (1ULL << bit)))
			continue;
		for (i = 0; h->features && i + 48 <= h->features_len; i += 48) {
			if (h->features[i] == 0 && h->features[i + 1] == bit) {
				memcpy(nb, h->features + i + 2, 46);
				nb[46] = 0;
				name = nb;
				break;
			}
		}
		n += snprintf(out + n, size - n, "%s%u%s%s%s", n ? ", " : "", bit,
			      name ? " (" : "", name ? name : "", name ? ")" : "");
	}
}

static int q2_parse_header(struct qcow2 *q, struct q2_hdr *h, struct lkvm_err *e)
{
	const char *path = q->d->path;
	const uint8_t *b = h->buf;
	uint64_t off, end;

	if (h->len < Q2_V2_HEADER || q2_get32(b) != Q2_MAGIC)
		return err_set(e, "disk %s is not a qcow2 image (no QFI\\xfb header)", path);
	q->version = q2_get32(b + 4);
	if (q->version != 2 && q->version != 3)
		return err_set(e, "disk %s: qcow2 version %u is not supported (2 and 3 are)", path,
			       q->version);
	h->backing_off = q2_get64(b + 8);
	h->backing_len = q2_get32(b + 16);
	q->cluster_bits = q2_get32(b + 20);
	h->size = q2_get64(b + 24);
	h->crypt = q2_get32(b + 32);
	q->l1_size = q2_get32(b + 36);
	q->l1_off = q2_get64(b + 40);
	q->rt_off = q2_get64(b + 48);
	q->rt_clusters = q2_get32(b + 56);
	h->nb_snap = q2_get32(b + 60);
	h->snap_off = q2_get64(b + 64);
	q->refcount_order = 4;
	h->header_len = Q2_V2_HEADER;
	if (q->cluster_bits < 9 || q->cluster_bits > 21)
		return err_set(e, "disk %s: qcow2 cluster_bits %u is out of range (9 to 21)", path,
			       q->cluster_bits);
	q->cs = 1ULL << q->cluster_bits;
	h->len = MIN(h->len, q->cs);
	if (q->version == 3) {
		if (h->len < Q2_V3_HEADER)
			return err_set(e, "disk %s: qcow2 header is cut short", path);
		h->incompat = q2_get64(b + 72);
		h->compat = q2_get64(b + 80);
		h->autoclear = q2_get64(b + 88);
		q->refcount_order = q2_get32(b + 96);
		h->header_len = q2_get32(b + 100);
		if (h->header_len < Q2_V3_HEADER || h->header_len % 8 || h->header_len > h->len)
			return err_set(e, "disk %s: qcow2 header_length %u is invalid", path,
				       h->header_len);
	}
	/* header extensions: the backing format and the feature names */
	for (off = h->header_len; off + 8 <= h->len;) {
		uint32_t type = q2_get32(b + off), len = q2_get32(b + off + 4);

		if (!type)
			break;
		if (len > h->len - off - 8)
			return err_set(e, "disk %s: qcow2 header extension %#x runs past the first cluster",
				       path, type);
		if (type == Q2_EXT_BACKING_FMT) {
			if (len >= sizeof(h->backing_fmt))
				return err_set(e, "disk %s: qcow2 backing format name too long", path);
			memcpy(h->backing_fmt, b + off + 8, len);
			h->backing_fmt[len] = 0;
		} else if (type == Q2_EXT_FEATURES) {
			h->features = b + off + 8;
			h->features_len = len;
		}
		off += 8 + ALIGN_UP((uint64_t)len, 8);
	}
	if (h->incompat & ~Q2_INCOMPAT_KNOWN) {
		char names[256];

		q2_name_bits(h, h->incompat & ~Q2_INCOMPAT_KNOWN, names, sizeof(names));
		return err_set(e, "disk %s: qcow2 incompatible feature bit %s is unknown to lkvm",
			       path, names);
	}
	if (h->crypt)
		return err_set(e, "disk %s: the qcow2 image is encrypted (crypt_method %u), which lkvm does not support",
			       path, h->crypt);
	if (h->incompat & Q2_INCOMPAT_DATA_FILE)
		return err_set(e, "disk %s: qcow2 external data files are not supported", path);
	if (h->incompat & Q2_INCOMPAT_COMPRESSION)
		return err_set(e, "disk %s: qcow2 compression type %u is not supported (zlib only)",
			       path, h->header_len > Q2_V3_HEADER ? b[Q2_V3_HEADER] : 0);
	if (h->header_len > Q2_V3_HEADER && b[Q2_V3_HEADER])
		return err_set(e, "disk %s: qcow2 compression type %u is not supported (zlib only)",
			       path, b[Q2_V3_HEADER]);
	if (h->incompat & Q2_INCOMPAT_EXTL2)
		return err_set(e, "disk %s: qcow2 extended L2 entries (subclusters) are not supported",
			       path);
	if (!q->ro && (h->incompat & Q2_INCOMPAT_CORRUPT))
		return err_set(e, "disk %s: the qcow2 image is marked corrupt; repair it with `qemu-img check -r all %s` or open it ,ro",
			       path, path);
	if (!q->ro && (h->incompat & Q2_INCOMPAT_DIRTY))
		return err_set(e, "disk %s: the qcow2 image was not closed cleanly (dirty); repair its refcounts with `qemu-img check -r all %s` or open it ,ro",
			       path, path);
	if (!q->ro && h->nb_snap)
		return err_set(e, "disk %s: the qcow2 image has %u internal snapshots; lkvm opens it only ,ro (or delete them with qemu-img snapshot -d)",
			       path, h->nb_snap);
	if (q->refcount_order > 6)
		return err_set(e, "disk %s: qcow2 refcount_order %u is invalid (0 to 6)", path,
			       q->refcount_order);
	q->l2_entries = q->cs / 8;
	q->rb_entries = q->cs * 8 >> q->refcount_order;

	/* the L1 table covers the virtual size, and lies inside the file */
	end = h->size / (q->cs * q->l2_entries) + !!(h->size % (q->cs * q->l2_entries));
	if ((uint64_t)q->l1_size * 8 > Q2_MAX_L1_BYTES || end > q->l1_size)
		return err_set(e, "disk %s: qcow2 L1 table of %u entries does not fit a %llu-byte disk",
			       path, q->l1_size, (unsigned long long)h->size);
	if (q->l1_size && (q->l1_off % q->cs || !q->l1_off || q->l1_off > q->file_size ||
			   q->file_size - q->l1_off < (uint64_t)q->l1_size * 8))
		return err_set(e, "disk %s: qcow2 L1 table at %#llx is not inside the file", path,
			       (unsigned long long)q->l1_off);
	if (!q->rt_clusters || (uint64_t)q->rt_clusters * q->cs > Q2_MAX_RT_BYTES ||
	    q->rt_off % q->cs || !q->rt_off || q->rt_off > q->file_size ||
	    q->file_size - q->rt_off < (uint64_t)q->rt_clusters * q->cs)
		return err_set(e, "disk %s: qcow2 refcount table (%u clusters at %#llx) is not inside the file",
			       path, q->rt_clusters, (unsigned long long)q->rt_off);
	if (overlaps(q->l1_off, (uint64_t)q->l1_size * 8, q->rt_off,
		     (uint64_t)q->rt_clusters * q->cs))
		return err_set(e, "disk %s: qcow2 L1 and refcount tables overlap", path);
	if (h->backing_off) {
		if (!h->backing_len || h->backing_len > 1023 || h->backing_off > h->len ||
		    h->len - h->backing_off < h->backing_len ||
		    memchr(b + h->backing_off, 0, h->backing_len))
			return err_set(e, "disk %s: qcow2 backing file name is invalid", path);
	}
	q->incompat = h->incompat;
	q->d->size = h->size;
	return 0;
}

static int q2_load_tables(struct qcow2 *q, struct lkvm_err *e)
{
	const char *path = q->d->path;
	size_t l1_bytes = (size_t)q->l1_size * 8, rt_bytes = (size_t)q->rt_clusters * q->cs;
	uint8_t *raw = malloc(MAX(l1_bytes, rt_bytes) + 1);
	uint64_t i;
	int r;

	q->rt_entries = rt_bytes / 8;
	q->l1 = calloc(q->l1_size + 1, sizeof(*q->l1));
	q->rt = calloc(q->rt_entries, sizeof(*q->rt));
	if (!raw || !q->l1 || !q->rt) {
		free(raw);
		return err_set(e, "out of memory");
	}
	r = q2_pread(q, raw, l1_bytes, q->l1_off);
	if (r) {
		free(raw);
		return err_errno(e, -r, "disk %s: cannot read the qcow2 L1 table", path);
	}
	for (i = 0; i < q->l1_size; i++)
		q->l1[i] = q2_get64(raw + 8 * i);
	r = q2_pread(q, raw, rt_bytes, q->rt_off);
	if (r) {
		free(raw);
		return err_errno(e, -r, "disk %s: cannot read the qcow2 refcount table", path);
	}
	for (i = 0; i < q->rt_entries; i++) {
		uint64_t v = q2_get64(raw + 8 * i);

		if (v && ((v & Q2_RT_RESERVED) || v % q->cs || v > q->file_size ||
			  q->file_size - v < q->cs || q2_is_fixed_meta(q, v))) {
			free(raw);
			return err_set(e, "disk %s: qcow2 refcount block %llu at %#llx is not inside the file",
				       path, (unsigned long long)i, (unsigned long long)v);
		}
		q->rt[i] = v;
	}
	free(raw);
	return 0;
}

static int q2_open_backing(struct qcow2 *q, const struct q2_hdr *h, unsigned int depth,
			   struct lkvm_err *e)
{
	const char *path = q->d->path, *slash = strrchr(path, '/');
	struct disk_opts bo = { .ro = true };
	char name[1024], *full;
	struct lkvm_err be;
	int r;

	if (!h->backing_off)
		return 0;
	memcpy(name, h->buf + h->backing_off, h->backing_len);
	name[h->backing_len] = 0;
	/* the backing format extension, else a guess from the magic */
	if (!strcmp(h->backing_fmt, "raw"))
		bo.format = DISK_FMT_RAW;
	else if (!strcmp(h->backing_fmt, "qcow2"))
		bo.format = DISK_FMT_QCOW2;
	else if (h->backing_fmt[0])
		return err_set(e, "disk %s: backing file %s has format %s (lkvm reads raw and qcow2)",
			       path, name, h->backing_fmt);
	/* like qemu-img: relative to the directory of the image that names it */
	if (name[0] == '/' || !slash)
		r = asprintf(&full, "%s", name);
	else
		r = asprintf(&full, "%.*s/%s", (int)(slash - path), path, name);
	if (r < 0)
		return err_set(e, "out of memory");
	r = disk_open_nested(&q->backing, full, &bo, depth + 1, &be);
	free(full);
	if (r)
		return err_set(e, "disk %s: backing file: %s", path, be.msg);
	return 0;
}

int disk_qcow2_open(struct disk *d, const struct disk_opts *opts, unsigned int depth,
		    struct lkvm_err *e)
{
	struct q2_hdr h = { 0 };
	struct qcow2 *q = calloc(1, sizeof(*q));
	struct stat st;
	ssize_t got;
	int r;

	if (!q)
		return err_set(e, "out of memory");
	q->d = d;
	q->ro = opts->ro;
	pthread_mutex_init(&q->lock, NULL);
	/* the descriptor that holds the lock, so the lock and the I/O are on one file */
	q->fd = fcntl(d->lock_fd, F_DUPFD_CLOEXEC, 0);
	if (q->fd < 0) {
		r = err_errno(e, errno, "disk %s", d->path);
		goto fail;
	}
	if (fstat(q->fd, &st) < 0) {
		r = err_errno(e, errno, "cannot stat disk %s", d->path);
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(q->fd, BLKGETSIZE64, &q->file_size) < 0) {
			r = err_errno(e, errno, "cannot size block device %s", d->path);
			goto fail;
		}
	} else {
		q->file_size = st.st_size;
	}
	/* the first cluster is at most 2 MiB; read what there is of it */
	h.len = MIN(q->file_size, 1ULL << 21);
	h.buf = calloc(1, h.len + 1);
	if (!h.buf) {
		r = err_set(e, "out of memory");
		goto fail;
	}
	do {
		got = pread(q->fd, h.buf, h.len, 0);
	} while (got < 0 && errno == EINTR);
	if (got < 0) {
		r = err_errno(e, errno, "cannot read disk %s", d->path);
		goto fail;
	}
	h.len = got;
	r = q2_parse_header(q, &h, e);
	if (!r)
		r = q2_load_tables(q, e);
	/* before anything is written, the header's autoclear bits included */
	if (!r && !q->ro)
		r = q2_meta_init(q, e);
	if (r)
		goto fail;
	if (q2_cache_init(&q->l2c, Q2_CACHE_L2, q->cs) || q2_cache_init(&q->rbc, Q2_CACHE_RB, q->cs)) {
		r = err_set(e, "out of memory");
		goto fail;
	}
	q->cow = malloc(q->cs);
	q->cbuf = malloc(2 * q->cs + 512);
	q->zbuf = malloc(q->cs);
	if (!q->cow || !q->cbuf || !q->zbuf) {
		r = err_set(e, "out of memory");
		goto fail;
	}
	/* raw deflate, 4 KiB window (the spec's compressed clusters) */
	if (inflateInit2(&q->zs, -12) != Z_OK) {
		r = err_set(e, "disk %s: zlib init failed", d->path);
		goto fail;
	}
	q->zs_ready = true;
	r = q2_open_backing(q, &h, depth, e);
	if (r)
		goto fail;
	if (!q->ro && h.autoclear) {
		/* bitmaps and the like we do not keep up to date: say so first */
		uint8_t zero[8] = { 0 };

		r = q2_pwrite(q, zero, sizeof(zero), Q2_HDR_AUTOCLEAR);
		if (!r)
			r = q2_sync(q);
		if (r) {
			r = err_errno(e, -r, "disk %s: cannot update the qcow2 header", d->path);
			goto fail;
		}
	}
	free(h.buf);
	d->priv = q;
	d->ops = &qcow2_ops;
	d->fd = q->fd;
	d->ro = opts->ro;
	d->direct = false;
	d->blk_size = 512;
	return 0;
fail:
	free(h.buf);
	q2_free(q);
	d->size = 0;
	return -1;
}
