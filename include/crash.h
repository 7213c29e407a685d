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

/*
 * SIGINT, SIGTERM, SIGHUP during start-up end lkvm at once: one line
 * ("lkvm: interrupted by SIGTERM during start-up") and exit status 128+N.
 * A start-up step may block in open() or read() (a FIFO given as -k, -i,
 * -d, --console-log or a backing file), and nothing runs yet that needs an
 * orderly stop. Once the main loop takes them (signalfd, blocked in the
 * main thread), crash_stop_signals_to_main_loop(): a signal that a thread
 * lkvm did not create still takes is handed to the main thread.
 */
int crash_stop_signals_install(void);
void crash_stop_signals_to_main_loop(void);

#endif
