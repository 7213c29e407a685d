// SPDX-License-Identifier: GPL-2.0
/*
 * One line when lkvm itself faults (include/crash.h). Everything here runs
 * in a signal handler: no stdio, no allocation, only write and tcsetattr.
 */
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "crash.h"

/*
 * The handler's only way to the tty: written once before any thread
 * exists (crash_handler_install), then only read.
 */
static struct {
	int tty_fd;
	struct termios tio;
	volatile sig_atomic_t tty_armed;
} crash_tty;

static unsigned int crash_put(char *buf, unsigned int off, unsigned int size, const char *s)
{
	while (*s && off + 1 < size)
		buf[off++] = *s++;
	return off;
}

static unsigned int crash_put_num(char *buf, unsigned int off, unsigned int size,
				  unsigned long v, unsigned int base)
{
	char num[24];
	unsigned int d = sizeof(num);

	num[--d] = '\0';
	do {
		num[--d] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && d);
	if (base == 16)
		off = crash_put(buf, off, size, "0x");
	return crash_put(buf, off, size, num + d);
}

static const char *crash_sig_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGFPE:
		return "SIGFPE";
	case SIGILL:
		return "SIGILL";
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	default:
		return "signal";
	}
}

unsigned int crash_format(char *buf, unsigned int size, int sig, unsigned long addr,
			  unsigned long pc, long tid)
{
	unsigned int n = 0;

	n = crash_put(buf, n, size, "lkvm: crashed: ");
	n = crash_put(buf, n, size, crash_sig_name(sig));
	n = crash_put(buf, n, size, " (");
	n = crash_put_num(buf, n, size, (unsigned long)sig, 10);
	n = crash_put(buf, n, size, ") at ");
	n = crash_put_num(buf, n, size, addr, 16);
	n = crash_put(buf, n, size, ", pc ");
	n = crash_put_num(buf, n, size, pc, 16);
	n = crash_put(buf, n, size, ", thread ");
	n = crash_put_num(buf, n, size, (unsigned long)tid, 10);
	n = crash_put(buf, n, size, "; please report it with this line\n");
	buf[n] = '\0';
	return n;
}

static unsigned long crash_pc(const void *ucv)
{
	const ucontext_t *uc = ucv;

#if defined(__aarch64__)
	return uc->uc_mcontext.pc;
#elif defined(__x86_64__)
	return (unsigned long)uc->uc_mcontext.gregs[REG_RIP];
#else
	(void)uc;
	return 0;
#endif
}

static void __attribute__((unused)) crash_handler(int sig, siginfo_t *si, void *uc)
{
	char buf[192];
	unsigned int n;

	if (crash_tty.tty_armed)
		tcsetattr(crash_tty.tty_fd, TCSANOW, &crash_tty.tio);
	n = crash_format(buf, sizeof(buf), sig, (unsigned long)si->si_addr, crash_pc(uc),
			 syscall(SYS_gettid));
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere left to say it */
	}
	/* SA_RESETHAND: returning re-runs the fault under the default action */
}

int crash_handler_install(int tty_fd, const struct termios *saved, bool tty_raw)
{
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's own report of a fault says more: keep its handler */
	(void)tty_fd;
	(void)saved;
	(void)tty_raw;
	return 0;
#else
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	struct sigaction sa = { .sa_sigaction = crash_handler,
				.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER };
	unsigned int i;

	if (tty_raw && saved) {
		crash_tty.tty_fd = tty_fd;
		crash_tty.tio = *saved;
		crash_tty.tty_armed = 1;
	}
	sigfillset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	return 0;
#endif
}

/*
 * SIGINT/TERM/HUP (crash.h): written before any thread exists, then only
 * the flag changes, once.
 */
static struct {
	volatile sig_atomic_t main_loop;
	pid_t main_tid;
} crash_stop;

static void crash_stop_handler(int sig)
{
	char buf[96];
	unsigned int n = 0;

	if (crash_stop.main_loop) {
		/* a thread lkvm did not start (a library's) took it: to the main loop */
		syscall(SYS_tgkill, getpid(), crash_stop.main_tid, sig);
		return;
	}
	n = crash_put(buf, n, sizeof(buf), "lkvm: interrupted by ");
	n = crash_put(buf, n, sizeof(buf), crash_sig_name(sig));
	n = crash_put(buf, n, sizeof(buf), " during start-up\n");
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere left to say it */
	}
	_exit(128 + sig);
}

int crash_stop_signals_install(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	/* no SA_RESTART: a blocked open() or read() must end with EINTR */
	struct sigaction sa = { .sa_handler = crash_stop_handler };
	unsigned int i;

	crash_stop.main_tid = syscall(SYS_gettid);
	crash_stop.main_loop = 0;
	sigfillset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	return 0;
}

void crash_stop_signals_to_main_loop(void)
{
	crash_stop.main_loop = 1;
}
