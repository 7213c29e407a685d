/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_CRASH_H
#define LKVM_CRASH_H

#include <stdbool.h>
#include <termios.h>

/*
 * A fault in lkvm itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL) prints one line
 * before the process dies as it would have: the signal, the faulting
 * address, the pc and the thread id, so a crash seen once in CI can be
 * placed with addr2line on the binary. The tty, when given, is restored
 * first. The handler returns; the fault recurs with the default action
 * (core dump, exit status 128+N).
 */
int crash_handler_install(int tty_fd, const struct termios *saved, bool tty_raw);

/* Formats the report for a fault (async-signal-safe); returns its length. */
unsigned int crash_format(char *buf, unsigned int size, int sig, unsigned long addr,
			  unsigned long pc, long tid);

#endif
