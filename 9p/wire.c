// SPDX-License-Identifier: GPL-2.0
/* 9P wire format: bounds-checked little-endian readers and writers. */
#include <string.h>

#include "wire.h"

static const uint8_t *in_take(struct p9_in *in, size_t n)
{
	const uint8_t *p;

	if (in->bad || in->pos > in->len || in->len - in->pos < n) {
		in->bad = true;
		return NULL;
	}
	p = in->buf + in->pos;
	in->pos += n;
	return p;
}

uint8_t in_u8(struct p9_in *in)
{
	const uint8_t *p = in_take(in, 1);

	return p ? p[0] : 0;
}

uint16_t in_u16(struct p9_in *in)
{
	const uint8_t *p = in_take(in, 2);

	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t in_u32(struct p9_in *in)
{
	const uint8_t *p = in_take(in, 4);

	if (!p)
		return 0;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t in_u64(struct p9_in *in)
{
	uint64_t lo = in_u32(in);

	return lo | (uint64_t)in_u32(in) << 32;
}

struct p9_str in_str(struct p9_in *in)
{
	struct p9_str str = { "", 0 };
	uint16_t len = in_u16(in);
	const uint8_t *p = in_take(in, len);

	if (p) {
		str.s = (const char *)p;
		str.len = len;
	}
	return str;
}

const uint8_t *in_data(struct p9_in *in, size_t n)
{
	return in_take(in, n);
}

uint8_t *out_reserve(struct p9_out *out, size_t n)
{
	uint8_t *p;

	if (out->full || out->pos > out->cap || out->cap - out->pos < n) {
		out->full = true;
		return NULL;
	}
	p = out->buf + out->pos;
	out->pos += n;
	return p;
}

void out_u8(struct p9_out *out, uint8_t v)
{
	uint8_t *p = out_reserve(out, 1);

	if (p)
		p[0] = v;
}

void out_u16(struct p9_out *out, uint16_t v)
{
	uint8_t *p = out_reserve(out, 2);

	if (p) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
	}
}

void out_u32(struct p9_out *out, uint32_t v)
{
	uint8_t *p = out_reserve(out, 4);
	int i;

	if (p)
		for (i = 0; i < 4; i++)
			p[i] = (uint8_t)(v >> (8 * i));
}

void out_u64(struct p9_out *out, uint64_t v)
{
	uint8_t *p = out_reserve(out, 8);
	int i;

	if (p)
		for (i = 0; i < 8; i++)
			p[i] = (uint8_t)(v >> (8 * i));
}

void out_str(struct p9_out *out, const char *s, size_t len)
{
	uint8_t *p;

	if (len > UINT16_MAX) {
		out->full = true;
		return;
	}
	out_u16(out, (uint16_t)len);
	p = out_reserve(out, len);
	if (p && len)
		memcpy(p, s, len);
}

void out_qid(struct p9_out *out, const struct p9_qid *q)
{
	out_u8(out, q->type);
	out_u32(out, q->version);
	out_u64(out, q->path);
}

void out_patch_u16(struct p9_out *out, size_t pos, uint16_t v)
{
	if (pos <= out->cap && out->cap - pos >= 2) {
		out->buf[pos] = (uint8_t)v;
		out->buf[pos + 1] = (uint8_t)(v >> 8);
	}
}

void out_patch_u32(struct p9_out *out, size_t pos, uint32_t v)
{
	int i;

	if (pos <= out->cap && out->cap - pos >= 4)
		for (i = 0; i < 4; i++)
			out->buf[pos + i] = (uint8_t)(v >> (8 * i));
}
