// SPDX-License-Identifier: GPL-2.0
/*
 * The 9P2000.L server (9p/) against T-messages from a hostile guest, on a
 * scratch share rebuilt for every input, with a directory beside it that
 * no message may reach (checked after each input). The input is
 *
 *   flags[1]  then messages: mflags[1] len[2] bytes[len]
 *
 * flags: bit 0 read-only share, bit 1 start with Tversion + Tattach (fid 0
 * is the root). mflags: bit 0 sets the message's size field to len, bits
 * 1-3 pick the response buffer size. Requests and responses live in
 * buffers of exactly their size, so ASan sees any access past them.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "p9.h"
#include "util.h"

#define P9F_MAX_MSGS 64
#define P9F_RLERROR 7
#define P9F_TVERSION 100

static const size_t resp_caps[8] = {
	P9_HDR_SIZE + 3, P9_HDR_SIZE + 4, 24, 64, 256, 4096, 8192, P9_MSIZE_MAX,
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * The response buffer of each size, made once: exactly cap bytes, so ASan
 * still sees a write past its end. A fresh one per message cost a map and
 * unmap of 512 KiB for the largest.
 */
static uint8_t *p9f_resp(size_t cap)
{
	static uint8_t *bufs[ARRAY_SIZE(resp_caps)];
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(resp_caps) && resp_caps[k] != cap; k++)
		;
	FZ_ASSERT(k < ARRAY_SIZE(resp_caps));
	if (!bufs[k])
		bufs[k] = malloc(cap);
	return bufs[k];
}

/* One T-message through the server; checks the framing of its answer. */
static void p9f_handle(struct p9_server *s, const uint8_t *msg, size_t len, size_t cap)
{
	uint8_t *req = malloc(len ? len : 1), *resp = p9f_resp(cap);
	size_t got;

	if (!req || !resp)
		goto out;
	memcpy(req, msg, len);
	got = p9_server_handle(s, req, len, resp, cap);
	if (cap < P9_HDR_SIZE + 4) {
		FZ_ASSERT(got == 0);
		goto out;
	}
	/* an R-message that fits, says its own size, answers the tag */
	FZ_ASSERT(got >= P9_HDR_SIZE + 4 - 4 && got <= cap);
	FZ_ASSERT(le32(resp) == got);
	if (len >= P9_HDR_SIZE) {
		FZ_ASSERT(resp[5] == req[5] && resp[6] == req[6]);
		FZ_ASSERT(resp[4] == (uint8_t)(req[4] + 1) || resp[4] == P9F_RLERROR);
		if (req[4] != P9F_TVERSION)
			FZ_ASSERT(got <= p9_server_msize(s));
	} else {
		FZ_ASSERT(resp[4] == P9F_RLERROR);
	}
	/* Rlerror: ecode[4], a real errno */
	if (resp[4] == P9F_RLERROR)
		FZ_ASSERT(got == P9_HDR_SIZE + 4 && le32(resp + 7) && le32(resp + 7) < 4096);
out:
	free(req);
}

static void p9f_start(struct p9_server *s)
{
	static const uint8_t version[] = {
		0, 0, 0, 0, P9F_TVERSION, 0xff, 0xff, 0x00, 0x20, 0, 0, /* msize 8192 */
		8, 0, '9', 'P', '2', '0', '0', '0', '.', 'L',
	};
	static const uint8_t attach[] = {
		0, 0, 0, 0, 104, 1, 0, 0, 0, 0, 0, /* fid 0 */
		0xff, 0xff, 0xff, 0xff, /* afid NOFID */
		0, 0, 0, 0, /* uname "", aname "" */
		0, 0, 0, 0, /* n_uname 0 */
	};
	uint8_t m[sizeof(attach)];

	memcpy(m, version, sizeof(version));
	put_le32(m, sizeof(version));
	p9f_handle(s, m, sizeof(version), 4096);
	memcpy(m, attach, sizeof(attach));
	put_le32(m, sizeof(attach));
	p9f_handle(s, m, sizeof(attach), 4096);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_scratch();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	uint8_t flags = fz_u8(&in);
	struct p9_server *s;
	struct lkvm_err e;
	int fds = fz_fd_mark();
	unsigned int i;

	if (p9_server_create(&s, fz_share_reset(), flags & 1, &e))
		__builtin_trap(); /* the scratch share is always there */
	if (flags & 2)
		p9f_start(s);
	for (i = 0; i < P9F_MAX_MSGS && in.n; i++) {
		uint8_t mflags = fz_u8(&in), msg[4096];
		size_t len = fz_u16(&in) % sizeof(msg);

		len = fz_bytes(&in, msg, len);
		if ((mflags & 1) && len >= 4)
			put_le32(msg, (uint32_t)len);
		p9f_handle(s, msg, len, resp_caps[(mflags >> 1) & 7]);
		if (mflags & 0x10)
			p9_server_reset(s);
	}
	p9_server_destroy(s);
	fz_share_check();
	fz_fd_check(fds);
	return 0;
}
