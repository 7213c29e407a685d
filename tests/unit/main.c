// SPDX-License-Identifier: GPL-2.0
/*
 * Unit-test runner: unit-tests [DATADIR [FILTER...]]
 *
 * Runs every registered test whose "suite.name" contains one of the FILTER
 * substrings (all tests without a filter), each in a forked child so that a
 * crash, a hang (TEST_TIMEOUT seconds) or a sanitizer report fails only that
 * test. LKVM_TEST_NOFORK=1 runs them in this process instead (for gdb).
 * Exit status: 0 only if every test that ran passed.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define TEST_TIMEOUT 30

static struct test_case *registered;
/* global, not a local of main(): a forked child exits with it still allocated */
static struct test_case **tests;
static unsigned int nr_registered;
static const char *data_dir = "tests/unit/data";

/* the running test's state */
static char first_failure[1024];
static unsigned int nr_failures;
static char skip_reason[512];

/* a result message that starts with this is a skip, not a failure */
#define SKIP_TAG "\001skip "

void test_register(struct test_case *tc)
{
	tc->next = registered;
	registered = tc;
	nr_registered++;
}

const char *test_data_dir(void)
{
	return data_dir;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (nr_failures++)
		return;
	n = snprintf(first_failure, sizeof(first_failure), "%s:%d: ", file, line);
	if (n < 0 || (size_t)n >= sizeof(first_failure))
		return;
	va_start(ap, fmt);
	vsnprintf(first_failure + n, sizeof(first_failure) - n, fmt, ap);
	va_end(ap);
	/* one line per test: no newlines from the values */
	for (n = 0; first_failure[n]; n++)
		if (first_failure[n] == '\n' || first_failure[n] == '\r')
			first_failure[n] = ' ';
}

void test_skip(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (skip_reason[0])
		return;
	va_start(ap, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	va_end(ap);
	for (n = 0; skip_reason[n]; n++)
		if (skip_reason[n] == '\n' || skip_reason[n] == '\r')
			skip_reason[n] = ' ';
	if (!skip_reason[0])
		snprintf(skip_reason, sizeof(skip_reason), "(no reason given)");
}

bool test_check_u64(const char *file, int line, const char *expr_a, const char *expr_b,
		    uint64_t a, uint64_t b)
{
	if (a == b)
		return true;
	test_fail(file, line, "%s == %s: 0x%llx (%llu) != 0x%llx (%llu)", expr_a, expr_b,
		  (unsigned long long)a, (unsigned long long)a, (unsigned long long)b,
		  (unsigned long long)b);
	return false;
}

bool test_check_str(const char *file, int line, const char *expr_a, const char *expr_b,
		    const char *a, const char *b)
{
	if (a && b && !strcmp(a, b))
		return true;
	test_fail(file, line, "%s == %s: \"%s\" != \"%s\"", expr_a, expr_b, a ? a : "(null)",
		  b ? b : "(null)");
	return false;
}

bool test_check_contains(const char *file, int line, const char *expr, const char *hay,
			 const char *needle)
{
	if (hay && strstr(hay, needle))
		return true;
	test_fail(file, line, "%s contains \"%s\": it is \"%s\"", expr, needle,
		  hay ? hay : "(null)");
	return false;
}

bool test_check_mem(const char *file, int line, const char *expr_a, const char *expr_b,
		    const void *a, const void *b, size_t len)
{
	const uint8_t *pa = a, *pb = b;
	size_t i;

	for (i = 0; i < len; i++) {
		if (pa[i] != pb[i]) {
			test_fail(file, line, "%s == %s (%zu bytes): byte %zu is 0x%02x, not 0x%02x",
				  expr_a, expr_b, len, i, pa[i], pb[i]);
			return false;
		}
	}
	return true;
}

static int cmp_suite(const void *a, const void *b)
{
	const struct test_case *x = *(struct test_case *const *)a;
	const struct test_case *y = *(struct test_case *const *)b;

	return strcmp(x->suite, y->suite);
}

static bool selected(const struct test_case *tc, int nr_filters, char **filters)
{
	char full[256];
	int i;

	if (!nr_filters)
		return true;
	snprintf(full, sizeof(full), "%s.%s", tc->suite, tc->name);
	for (i = 0; i < nr_filters; i++)
		if (strstr(full, filters[i]))
			return true;
	return false;
}

static void run_in_process(const struct test_case *tc, char *what, size_t size)
{
	what[0] = 0;
	nr_failures = 0;
	first_failure[0] = 0;
	skip_reason[0] = 0;
	tc->fn();
	if (nr_failures > 1)
		snprintf(what, size, "%s (+%u more)", first_failure, nr_failures - 1);
	else if (nr_failures)
		snprintf(what, size, "%s", first_failure);
	else if (skip_reason[0])
		snprintf(what, size, SKIP_TAG "%s", skip_reason);
}

/* Fills what (empty: passed). */
static void run_forked(const struct test_case *tc, char *what, size_t size)
{
	size_t got = 0;
	int fds[2], status;
	pid_t pid;

	what[0] = 0;
	fflush(stdout);
	fflush(stderr);
	if (pipe(fds) < 0) {
		snprintf(what, size, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(what, size, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		char msg[1200] = "";
		size_t len, off = 0;

		close(fds[0]);
		alarm(TEST_TIMEOUT);
		run_in_process(tc, msg, sizeof(msg));
		len = strlen(msg);
		while (off < len) {
			ssize_t n = write(fds[1], msg + off, len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += n;
		}
		close(fds[1]);
		/*
		 * exit(), not _exit(): LeakSanitizer checks this test at exit.
		 * Status 0 even if a CHECK failed (the message says so): any
		 * other status is a sanitizer or the code under test exiting.
		 */
		exit(0);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n;

		if (got + 1 >= size)
			break;
		n = read(fds[0], what + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	what[got] = 0;
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(what, size, "waitpid: %s", strerror(errno));
			return;
		}
	}
	/* a child that skipped and then died failed: drop the tag */
	if (!strncmp(what, SKIP_TAG, strlen(SKIP_TAG)) &&
	    (!WIFEXITED(status) || WEXITSTATUS(status))) {
		memmove(what, what + strlen(SKIP_TAG), got - strlen(SKIP_TAG) + 1);
		got -= strlen(SKIP_TAG);
	}
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);

		snprintf(what + got, size - got, "%skilled by signal %d (%s)%s", got ? "; " : "",
			 sig, strsignal(sig), sig == SIGALRM ? ": timed out" : "");
	} else if (WIFEXITED(status) && WEXITSTATUS(status)) {
		snprintf(what + got, size - got,
			 "%sexited with status %d (a sanitizer report on stderr, or exit())",
			 got ? "; " : "", WEXITSTATUS(status));
	}
}

int main(int argc, char **argv)
{
	struct test_case *tc;
	unsigned int i, n = 0, passed = 0, failed = 0, skipped = 0;
	bool nofork = getenv("LKVM_TEST_NOFORK") && strcmp(getenv("LKVM_TEST_NOFORK"), "0");
	char what[1400];

	if (argc > 1)
		data_dir = argv[1];
	tests = calloc(nr_registered ? nr_registered : 1, sizeof(*tests));
	if (!tests) {
		fprintf(stderr, "unit-tests: out of memory\n");
		return 2;
	}
	/* constructors ran in source order per file; the list is reversed */
	for (tc = registered; tc; tc = tc->next)
		tests[nr_registered - 1 - n++] = tc;
	/* group by suite, keeping source order inside one (a stable insertion sort) */
	for (i = 1; i < n; i++) {
		struct test_case *t = tests[i];
		unsigned int j = i;

		while (j > 0 && cmp_suite(&tests[j - 1], &t) > 0) {
			tests[j] = tests[j - 1];
			j--;
		}
		tests[j] = t;
	}

	for (i = 0; i < n; i++) {
		if (!selected(tests[i], argc > 2 ? argc - 2 : 0, argv + 2))
			continue;
		if (nofork)
			run_in_process(tests[i], what, sizeof(what));
		else
			run_forked(tests[i], what, sizeof(what));
		if (!strncmp(what, SKIP_TAG, strlen(SKIP_TAG))) {
			printf("SKIP %s.%s: %s\n", tests[i]->suite, tests[i]->name,
			       what + strlen(SKIP_TAG));
			skipped++;
		} else if (what[0]) {
			printf("FAIL %s.%s: %s\n", tests[i]->suite, tests[i]->name, what);
			failed++;
		} else {
			printf("PASS %s.%s\n", tests[i]->suite, tests[i]->name);
			passed++;
		}
	}
	/* skips are neither passes nor failures: said apart, before the summary */
	if (skipped)
		printf("%u skipped (SKIP lines above)\n", skipped);
	printf("%u passed, %u failed\n", passed, failed);
	free(tests);
	return failed ? 1 : 0;
}
