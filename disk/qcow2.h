/* SPDX-License-Identifier: GPL-2.0 */
/* qcow2 internals shared by qcow2.c (mapping, I/O) and qcow2_refcount.c (allocation). */
#ifndef LKVM_DISK_QCOW2_H
#define LKVM_DISK_QCOW2_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <zlib.h>

#include "disk.h"

/* all qcow2 metadata is big-endian on disk: byte-wise, on any host */
static inline uint16_t q2_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t q2_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t q2_get64(const uint8_t *p)
{
	return (uint64_t)q2_get32(p) << 32 | q2_get32(p + 4);
}

static inline void q2_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void q2_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void q2_put64(uint8_t *p, uint64_t v)
{
	q2_put32(p, v >> 32);
	q2_put32(p + 4, (uint32_t)v);
}

#define Q2_MAGIC 0x514649fbu
#define Q2_HDR_RT_OFFSET 48 /* refcount_table_offset (8) then refcount_table_clusters (4) */
#define Q2_HDR_INCOMPAT 72
#define Q2_HDR_AUTOCLEAR 88

#define Q2_INCOMPAT_DIRTY (1ULL << 0)
#define Q2_INCOMPAT_CORRUPT (1ULL << 1)
#define Q2_INCOMPAT_DATA_FILE (1ULL << 2)
#define Q2_INCOMPAT_COMPRESSION (1ULL << 3)
#define Q2_INCOMPAT_EXTL2 (1ULL << 4)

#define Q2_OFFSET_MASK 0x00fffffffffffe00ULL /* bits 9-55 of L1, L2 entries */
#define Q2_COPIED (1ULL << 63)               /* refcount is exactly one */
#define Q2_COMPRESSED (1ULL << 62)
#define Q2_ZERO 1ULL                         /* v3: reads as zeroes */
#define Q2_L1_RESERVED 0x7f000000000001ffULL
#define Q2_L2_RESERVED 0x3f000000000001feULL /* standard clusters */
#define Q2_RT_RESERVED 0x1ffULL
#define Q2_MAX_HOST (1ULL << 56)             /* L1/L2 entries address 56 bits */
#define Q2_MAX_L1_BYTES (32ULL << 20)        /* QEMU's limits */
#define Q2_MAX_RT_BYTES (8ULL << 20)

#define Q2_CACHE_L2 16
#define Q2_CACHE_RB 8
#define Q2_POOL 32      /* clusters reserved per refcount barrier */
#define Q2_FREES_MAX 4096 /* pending refcount decrements before a forced barrier */

/* metadata kinds, for the overlap checks (a mask: the kinds to ignore) */
#define Q2_META_HEADER (1u << 0)
#define Q2_META_L1 (1u << 1)
#define Q2_META_L2 (1u << 2)
#define Q2_META_RT (1u << 3)
#define Q2_META_RB (1u << 4)

/* cluster indexes, sorted, no duplicates */
struct q2_set {
	uint64_t *v;
	size_t n, cap;
};

struct q2_cache {
	unsigned int nr;
	uint64_t tick;
	uint64_t off[Q2_CACHE_L2];  /* 0: empty slot */
	uint64_t used[Q2_CACHE_L2];
	uint8_t *buf[Q2_CACHE_L2];
};

struct qcow2 {
	struct disk *d;
	int fd;
	bool ro;
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cs;           /* cluster size */
	uint64_t l2_entries;
	uint32_t refcount_order;
	uint64_t rb_entries;   /* refcounts per refcount block */
	uint64_t file_size;    /* bytes in the file, including our own writes */

	uint64_t l1_off;
	uint32_t l1_size;
	uint64_t *l1;          /* host order */

	uint64_t rt_off;
	uint32_t rt_clusters;
	uint64_t rt_entries;
	uint64_t *rt;          /* host order */

	/*
	 * writable opens: the clusters of every active L2 table and refcount
	 * block, so that no allocation or data write lands on metadata (with the
	 * header, L1 and refcount table, whose places are known)
	 */
	struct q2_set l2s;
	struct q2_set rbs;
	uint64_t incompat;     /* the header's incompatible features */
	bool corrupt;          /* a write would have hit metadata: no more writes */

	struct q2_cache l2c;   /* L2 tables, big-endian as on disk */
	struct q2_cache rbc;   /* refcount blocks */

	uint64_t free_hint;    /* no free cluster below this cluster index */
	uint64_t pool[Q2_POOL]; /* refcount 1, durable, not referenced yet */
	unsigned int pool_head, pool_n;
	uint64_t *frees;       /* clusters whose reference is gone; decrement at the next barrier */
	size_t nr_frees, frees_cap;

	struct disk *backing;

	uint8_t *cow;          /* one cluster: copy-on-write, zeroes */
	uint8_t *cbuf;         /* compressed input: up to two clusters and a sector */
	uint8_t *zbuf;         /* the last decompressed cluster */
	uint64_t zbuf_entry;   /* its L2 entry; 0: none */
	z_stream zs;
	bool zs_ready;
	struct iovec *siov;    /* scratch sub-vector */
	int siov_cap;
	bool warned;           /* said once that the image is corrupt */
	pthread_mutex_t lock;
};

/* whole transfers: 0 or -errno (-EIO at end of file) */
int q2_pread(struct qcow2 *q, void *buf, size_t len, uint64_t off);
int q2_pwrite(struct qcow2 *q, const void *buf, size_t len, uint64_t off);
int q2_sync(struct qcow2 *q);
/* logs (once per image) why a request fails with -EIO */
int q2_corrupt(struct qcow2 *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* one line "lkvm: disk PATH: ..." on stderr */
void q2_log(const struct qcow2 *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int q2_cache_init(struct q2_cache *c, unsigned int nr, uint64_t cs);
void q2_cache_free(struct q2_cache *c);
/* the table at off, read from the file unless fresh (then zeroed) */
int q2_cache_get(struct qcow2 *q, struct q2_cache *c, uint64_t off, bool fresh, uint8_t **buf);
void q2_cache_drop(struct q2_cache *c, uint64_t off);

/* refcounts: cluster indexes */
int q2_rc_get(struct qcow2 *q, uint64_t cl, uint64_t *rc);
/* a cluster with refcount 1, durable before any reference can be written */
int q2_alloc_cluster(struct qcow2 *q, uint64_t *off);
/* gives back the cluster q2_alloc_cluster just returned, unused */
void q2_unget_cluster(struct qcow2 *q, uint64_t off);
/* the reference to [off, off + len) is gone (written); decrement after a barrier */
void q2_free_later(struct qcow2 *q, uint64_t off, uint64_t len);
/* barrier (unless synced), then the pending decrements; fails only if the barrier does */
int q2_apply_frees(struct qcow2 *q, bool synced);
/* close: back to refcount 0 for the reserved, unused clusters */
int q2_release_pool(struct qcow2 *q);

/* the metadata map: cluster sets */
int q2_set_reserve(struct q2_set *s, size_t more);
/* after q2_set_reserve: cannot fail */
void q2_set_add(struct q2_set *s, uint64_t cl);
void q2_set_free(struct q2_set *s);
/*
 * The metadata (a Q2_META_* kind, none in ign) that a cluster of
 * [off, off + len) holds, 0 if none; *at: where that metadata starts.
 */
unsigned int q2_meta_find(const struct qcow2 *q, uint64_t off, uint64_t len, unsigned int ign,
			  uint64_t *at);
/*
 * Before what (e.g. "guest write") touches [off, off + len): 0, or if that
 * is metadata, the image is marked corrupt, one line says so and -EIO.
 */
int q2_overlap_check(struct qcow2 *q, const char *what, uint64_t off, uint64_t len,
		     unsigned int ign);
/*
 * Writable open: builds the map; refuses (one line in e) metadata that
 * overlaps other metadata or has refcount 0, which the allocator would hand out.
 */
int q2_meta_init(struct qcow2 *q, struct lkvm_err *e);

#endif
