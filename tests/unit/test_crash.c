// SPDX-License-Identifier: GPL-2.0
/* core/crash.c: the one line a fault in lkvm leaves behind */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash.h"
#include "disk.h"
#include "loader.h"
#include "test.h"

TEST(crash, format)
{
	char buf[192];
	unsigned int n = crash_format(buf, sizeof(buf), SIGSEGV, 0x10, 0xabc, 42);

	CHECK_STR(buf, "lkvm: crashed: SIGSEGV (11) at 0x10, pc 0xabc, thread 42; please report it with this line\n");
	CHECK_EQ_U64(n, strlen(buf));
	/* a short buffer is cut, never overrun */
	n = crash_format(buf, 20, SIGBUS, ~0UL, ~0UL, 1);
	CHECK_EQ_U64(n, 19);
	CHECK_STR(buf, "lkvm: crashed: SIGB");
}

/* a child that faults: it says so on stderr and still dies of the signal */
TEST(crash, handler_reports_and_dies)
{
	char out[512] = "";
	int p[2], status = 0;
	ssize_t n, got = 0;
	pid_t pid;
	/* through a volatile pointer: the compiler cannot see it is 16 */
	volatile int *volatile bad = (volatile int *)16;

#if defined(__SANITIZE_ADDRESS__)
	test_skip("built with ASan, whose own SEGV handler stays");
	return;
#endif
	REQUIRE(pipe(p) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (!pid) {
		dup2(p[1], STDERR_FILENO);
		if (crash_handler_install(-1, NULL, false))
			_exit(3);
		*bad = 1;
		_exit(4);
	}
	close(p[1]);
	while ((n = read(p[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	/* s390x reports only the page of a faulting address: 0x0 for 0x10 */
	CHECK(strstr(out, "lkvm: crashed: SIGSEGV (11) at 0x") == out);
	CHECK(strstr(out, ", pc 0x") != NULL);
	CHECK(strstr(out, "; please report it with this line\n") != NULL);
}

/*
 * Start-up may block in open() or read() of a FIFO the user gave as a
 * file; SIGINT/TERM/HUP must still end lkvm, with 128+N and one line
 * (issue 14). Each case runs in a child that blocks; the parent signals it.
 */
struct startup_case {
	const char *what;
	int sig;
};

static void startup_expect(const char *what, int sig, void (*blocker)(const char *fifo),
			   const char *fifo)
{
	char out[256] = "", want[96];
	int p[2], status = 0;
	ssize_t n, got = 0;
	pid_t pid;

	REQUIRE(pipe(p) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (!pid) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		blocker(fifo);
		_exit(5); /* it did not block: the test cannot show anything */
	}
	close(p[1]);
	usleep(300000);
	kill(pid, sig);
	while ((n = read(p[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	if (!CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 128 + sig))
		fprintf(stderr, "%s: status %#x, stderr '%s'\n", what, status, out);
	snprintf(want, sizeof(want), "lkvm: interrupted by %s during start-up\n",
		 sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP");
	CHECK_STR(out, want);
}

/* what run.c does for -k and -i, under the same handler */
static void startup_run_kernel(const char *fifo)
{
	struct boot_files bf;
	struct lkvm_err e;

	if (crash_stop_signals_install())
		_exit(7);
	boot_files_load(&bf, fifo, NULL, 64 << 20, &e);
}

static void startup_run_initrd(const char *fifo)
{
	char kernel[] = "/tmp/lkvm-startup-Image";
	char hdr[4096] = { 0 };
	FILE *f = fopen(kernel, "w");
	struct boot_files bf;
	struct lkvm_err e;

	/* a minimal arm64 Image header: magic "ARM\x64" at 0x38 */
	memcpy(hdr + 0x38, "ARM\x64", 4);
	if (!f || fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr) || fclose(f))
		_exit(6);
	if (crash_stop_signals_install())
		_exit(7);
	boot_files_load(&bf, kernel, fifo, 64 << 20, &e);
}

static void startup_disk(const char *path)
{
	struct disk_opts o = { .ro = true };
	struct lkvm_err e;
	struct disk *d;

	if (crash_stop_signals_install())
		_exit(7);
	disk_open(&d, path, &o, &e);
}

static void startup_console_log(const char *fifo)
{
	/* what run.c does for --console-log, under the same handler */
	if (crash_stop_signals_install())
		_exit(7);
	open(fifo, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

TEST(crash, startup_signal_ends_blocked_open)
{
	char dir[] = "/tmp/lkvm-startup-XXXXXX", fifo[64], q[96], cmd[256];

	REQUIRE(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	REQUIRE(mkfifo(fifo, 0600) == 0);
	startup_expect("-k FIFO", SIGTERM, startup_run_kernel, fifo);
	startup_expect("-k FIFO", SIGINT, startup_run_kernel, fifo);
	startup_expect("-k FIFO", SIGHUP, startup_run_kernel, fifo);
	startup_expect("-i FIFO", SIGTERM, startup_run_initrd, fifo);
	startup_expect("-d FIFO,ro", SIGINT, startup_disk, fifo);
	startup_expect("--console-log FIFO", SIGTERM, startup_console_log, fifo);
	/* a qcow2 whose backing file is a FIFO */
	snprintf(q, sizeof(q), "%s/overlay.qcow2", dir);
	snprintf(cmd, sizeof(cmd),
		 "qemu-img create -q -f qcow2 -u -b %s -F raw %s 1M >/dev/null 2>&1", fifo, q);
	if (system(cmd) != 0) {
		test_skip("qemu-img cannot make the overlay (qemu-utils missing?)");
		return;
	}
	startup_expect("qcow2 backing FIFO", SIGTERM, startup_disk, q);
	unlink(q);
	unlink(fifo);
	rmdir(dir);
}
