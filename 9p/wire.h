/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_9P_WIRE_H
#define LKVM_9P_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * 9P's little-endian wire format, byte by byte on any host. A reader never
 * reads past its length: the first short field sets bad, and every later
 * read returns zeros, so a handler parses all its fields and checks bad
 * once. A writer never writes past its cap: the first field that does not
 * fit sets full and nothing more is written.
 */
struct p9_in {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	bool bad;
};

/* a string of the message: not NUL-terminated, may hold NULs */
struct p9_str {
	const char *s;
	uint16_t len;
};

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

struct p9_out {
	uint8_t *buf;
	size_t cap;
	size_t pos;
	bool full;
};

uint8_t in_u8(struct p9_in *in);
uint16_t in_u16(struct p9_in *in);
uint32_t in_u32(struct p9_in *in);
uint64_t in_u64(struct p9_in *in);
struct p9_str in_str(struct p9_in *in);
/* n bytes of data in place, NULL (and bad) if fewer remain */
const uint8_t *in_data(struct p9_in *in, size_t n);

void out_u8(struct p9_out *out, uint8_t v);
void out_u16(struct p9_out *out, uint16_t v);
void out_u32(struct p9_out *out, uint32_t v);
void out_u64(struct p9_out *out, uint64_t v);
void out_str(struct p9_out *out, const char *s, size_t len);
void out_qid(struct p9_out *out, const struct p9_qid *q);
/* Room for n bytes the caller fills in; NULL (and full) if they do not fit. */
uint8_t *out_reserve(struct p9_out *out, size_t n);
/* bytes still free */
static inline size_t out_room(const struct p9_out *out)
{
	return out->full ? 0 : out->cap - out->pos;
}
/* Stores a u16/u32 at an earlier position (a count known only at the end). */
void out_patch_u16(struct p9_out *out, size_t pos, uint16_t v);
void out_patch_u32(struct p9_out *out, size_t pos, uint32_t v);

#endif
