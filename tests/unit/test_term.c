// SPDX-License-Identifier: GPL-2.0
/* term_filter(): Ctrl-A escapes on a tty, a transparent pipe otherwise. */
#include <string.h>

#include "term.h"
#include "test.h"

static void term_setup(struct term *t, bool tty)
{
	memset(t, 0, sizeof(*t));
	t->in_tty = tty;
}

/* out is as large as in: the filter never produces more than it takes */
#define FILTER(t, s, out, quit) term_filter((t), (const uint8_t *)(s), sizeof(s) - 1, (out), (quit))

TEST(term, plain_bytes_pass)
{
	struct term t;
	uint8_t out[16];
	bool quit = true;

	term_setup(&t, true);
	CHECK_EQ_U64(FILTER(&t, "hello\r\n", out, &quit), 7);
	CHECK_MEM(out, "hello\r\n", 7);
	CHECK(!quit);
	CHECK(!t.esc);
}

/* Ctrl-A x quits; what follows is not for the guest */
TEST(term, escape_x_quits)
{
	struct term t;
	uint8_t out[16];
	bool quit = false;

	term_setup(&t, true);
	CHECK_EQ_U64(FILTER(&t, "ab\x01xcd", out, &quit), 2);
	CHECK_MEM(out, "ab", 2);
	CHECK(quit);
	CHECK(!t.esc);

	term_setup(&t, true);
	quit = false;
	CHECK_EQ_U64(FILTER(&t, "\x01X", out, &quit), 0);
	CHECK(quit);
}

TEST(term, escape_escape_sends_one)
{
	struct term t;
	uint8_t out[16];
	bool quit = true;

	term_setup(&t, true);
	CHECK_EQ_U64(FILTER(&t, "\x01\x01", out, &quit), 1);
	CHECK_EQ_U64(out[0], 0x01);
	CHECK(!quit);
	CHECK(!t.esc);
	/* and a following x is just an x */
	CHECK_EQ_U64(FILTER(&t, "x", out, &quit), 1);
	CHECK_EQ_U64(out[0], 'x');
	CHECK(!quit);
}

TEST(term, escape_other_passes_both)
{
	struct term t;
	uint8_t out[16];
	bool quit = true;

	term_setup(&t, true);
	CHECK_EQ_U64(FILTER(&t, "\x01z", out, &quit), 2);
	CHECK_MEM(out, "\x01z", 2);
	CHECK(!quit);
	CHECK(!t.esc);
}

/* the escape char ends one read and the command starts the next */
TEST(term, escape_split_across_reads)
{
	struct term t;
	uint8_t out[16];
	bool quit = true;

	term_setup(&t, true);
	CHECK_EQ_U64(FILTER(&t, "a\x01", out, &quit), 1);
	CHECK_EQ_U64(out[0], 'a');
	CHECK(!quit);
	CHECK(t.esc);
	CHECK_EQ_U64(FILTER(&t, "x", out, &quit), 0);
	CHECK(quit);
	CHECK(!t.esc);

	term_setup(&t, true);
	CHECK_EQ_U64(FILTER(&t, "\x01", out, &quit), 0);
	CHECK(t.esc);
	CHECK_EQ_U64(FILTER(&t, "\x01" "b", out, &quit), 2);
	CHECK_MEM(out, "\x01" "b", 2);
	CHECK(!quit);

	term_setup(&t, true);
	CHECK_EQ_U64(FILTER(&t, "\x01", out, &quit), 0);
	CHECK_EQ_U64(FILTER(&t, "q", out, &quit), 2);
	CHECK_MEM(out, "\x01q", 2);
}

/* piped input (scripts): every byte is the guest's, Ctrl-A x included */
TEST(term, not_a_tty_is_transparent)
{
	static const char in[] = "ab\x01xcd\x01\x01\x01";
	struct term t;
	uint8_t out[16];
	bool quit = true;

	term_setup(&t, false);
	CHECK_EQ_U64(FILTER(&t, in, out, &quit), sizeof(in) - 1);
	CHECK_MEM(out, in, sizeof(in) - 1);
	CHECK(!quit);
	CHECK(!t.esc);
}
