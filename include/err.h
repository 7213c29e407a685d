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

/* Sets the message (printf style) and returns -1. */
int err_set(struct lkvm_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Same, with ": strerror(errnum)" appended. */
int err_errno(struct lkvm_err *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
