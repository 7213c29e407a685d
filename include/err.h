/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_ERR_H
#define LKVM_ERR_H

/*
 * One error message, filled by the code that found the problem and printed
 * once by whoever gives up ("lkvm: <msg>"): bad input gets exactly one line.
 */
struct lkvm_err {
	char msg[512];
};

#include <stddef.h>

/*
 * Messages quote what the user typed: control characters in it are
 * escaped (\n, \t, \xNN) so that one message stays one line and an
 * argument cannot forge a second "lkvm:" line or drive the terminal.
 */

/* Sets the message (printf style) and returns -1. */
int err_set(struct lkvm_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Same, with ": strerror(errnum)" appended. */
int err_errno(struct lkvm_err *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prints "lkvm: <message>" on stderr, escaped like err_set. */
void err_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Copies src to dst escaping control characters; returns the length. */
size_t err_escape(char *dst, size_t size, const char *src);

#endif
