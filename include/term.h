/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_TERM_H
#define LKVM_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "err.h"
#include "evloop.h"

#define TERM_ESCAPE_CHAR 0x01 /* Ctrl-A; then 'x' quits */

/*
 * The host side of the console: stdin in raw mode when it is a tty (and
 * restored on every exit path), plain reads otherwise so scripts can pipe.
 */
struct term {
	int in_fd;
	bool in_tty;
	bool raw;
	bool eof;
	bool paused; /* stdin out of the poll set until the guest takes input */
	struct termios saved;
	bool esc; /* the last byte was the escape char */
	struct ev_source src;
	struct evloop *loop;
	/* input the guest has not taken yet (its buffer was full) */
	uint8_t pend[256];
	size_t pend_off, pend_len;
	/* where input goes; returns how many bytes were taken */
	size_t (*sink)(void *opaque, const uint8_t *buf, size_t len);
	void *sink_opaque;
	void (*quit)(void *opaque);
	void *quit_opaque;
};

int term_init(struct term *t, int in_fd, struct evloop *loop, struct lkvm_err *e);
/* Puts a tty into raw mode; a no-op for pipes and files. */
int term_raw(struct term *t, struct lkvm_err *e);
void term_restore(struct term *t);
/* Offers pending input to the sink again; true if some is still pending. */
bool term_flush_pending(struct term *t);
/* Splits raw input into guest bytes and escape commands; used by the tests. */
size_t term_filter(struct term *t, const uint8_t *in, size_t len, uint8_t *out, bool *quit);

#endif
