// SPDX-License-Identifier: GPL-2.0
/* core/crash.c: the one line a fault in lkvm leaves behind */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash.h"
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
