// SPDX-License-Identifier: GPL-2.0
/*
 * A bounded queue of frames for the guest, in one byte ring: each record is
 * its length, its header and its bytes, 8-byte aligned. A record never wraps:
 * when it does not fit before the end, the rest of the ring is skipped
 * (q->wrap remembers where the records end) and it goes at offset 0.
 */
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "util.h"

struct net_rxq_rec {
	uint32_t len;
	struct net_hdr hdr;
};

#define REC_ALIGN 8

static size_t rec_size(size_t len)
{
	return ALIGN_UP(sizeof(struct net_rxq_rec) + len, (size_t)REC_ALIGN);
}

int net_rxq_init(struct net_rxq *q, size_t size)
{
	memset(q, 0, sizeof(*q));
	q->buf = malloc(size);
	if (!q->buf)
		return -1;
	q->size = size;
	net_rxq_clear(q);
	return 0;
}

void net_rxq_free(struct net_rxq *q)
{
	free(q->buf);
	q->buf = NULL;
}

void net_rxq_clear(struct net_rxq *q)
{
	q->head = q->tail = 0;
	q->wrap = SIZE_MAX;
	q->bytes = 0;
	q->count = 0;
}

/* Where a record of rs bytes would go, or SIZE_MAX if it does not fit now. */
static size_t rxq_slot(const struct net_rxq *q, size_t rs)
{
	if (!q->count)
		return rs <= q->size ? 0 : SIZE_MAX;
	if (q->tail > q->head) {
		/* records in [head, tail): free space at the end, then before head */
		if (q->size - q->tail >= rs)
			return q->tail;
		return q->head >= rs ? 0 : SIZE_MAX;
	}
	/* wrapped: records in [head, wrap) and [0, tail); free space in [tail, head) */
	return q->head - q->tail >= rs ? q->tail : SIZE_MAX;
}

bool net_rxq_room(const struct net_rxq *q, size_t len)
{
	return len <= NET_MAX_FRAME && rxq_slot(q, rec_size(len)) != SIZE_MAX;
}

bool net_rxq_push(struct net_rxq *q, const struct net_hdr *hdr, const void *data, size_t len)
{
	size_t rs = rec_size(len), at;
	struct net_rxq_rec rec = { .len = (uint32_t)len, .hdr = *hdr };

	if (len > NET_MAX_FRAME)
		return false;
	at = rxq_slot(q, rs);
	if (at == SIZE_MAX)
		return false;
	if (!q->count) {
		q->head = q->tail = 0;
		q->bytes = 0;
	} else if (at == 0 && q->tail != 0) {
		/* skip the end of the ring */
		q->wrap = q->tail;
		q->bytes += q->size - q->tail;
	}
	memcpy(q->buf + at, &rec, sizeof(rec));
	memcpy(q->buf + at + sizeof(rec), data, len);
	q->tail = at + rs;
	q->bytes += rs;
	q->count++;
	return true;
}

bool net_rxq_peek(const struct net_rxq *q, struct net_hdr *hdr, const uint8_t **data,
		  size_t *len)
{
	struct net_rxq_rec rec;

	if (!q->count)
		return false;
	memcpy(&rec, q->buf + q->head, sizeof(rec));
	*hdr = rec.hdr;
	*len = rec.len;
	*data = q->buf + q->head + sizeof(rec);
	return true;
}

void net_rxq_pop(struct net_rxq *q)
{
	struct net_rxq_rec rec;
	size_t rs;

	if (!q->count)
		return;
	memcpy(&rec, q->buf + q->head, sizeof(rec));
	rs = rec_size(rec.len);
	q->head += rs;
	q->bytes -= rs;
	q->count--;
	if (q->head == q->wrap) {
		q->bytes -= q->size - q->wrap;
		q->head = 0;
		q->wrap = SIZE_MAX;
	}
	if (!q->count)
		net_rxq_clear(q);
}
