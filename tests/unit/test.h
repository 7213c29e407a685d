/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_TEST_H
#define LKVM_TEST_H

/*
 * A tiny unit-test harness. A test is
 *
 *	TEST(suite, name)
 *	{
 *		CHECK_EQ_U64(f(1), 2);
 *	}
 *
 * and registers itself from a constructor. tests/unit/main.c runs every
 * test in a child process (a crash or a sanitizer report fails that test
 * only) and prints "PASS suite.name", "FAIL suite.name: file:line: what" or
 * "SKIP suite.name: reason" (test_skip), then "N passed, N failed".
 *
 * The CHECK macros record a failure and carry on; each is an expression
 * that is true when the check held, so "if (!CHECK(p)) return;" stops a
 * test that cannot go on. REQUIRE(cond) is exactly that.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct test_case {
	const char *suite;
	const char *name;
	void (*fn)(void);
	struct test_case *next;
};

void test_register(struct test_case *tc);
/* Records a failure of the running test (the first one is reported). */
void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool test_check_u64(const char *file, int line, const char *expr_a, const char *expr_b,
		    uint64_t a, uint64_t b);
bool test_check_str(const char *file, int line, const char *expr_a, const char *expr_b,
		    const char *a, const char *b);
bool test_check_contains(const char *file, int line, const char *expr, const char *hay,
			 const char *needle);
bool test_check_mem(const char *file, int line, const char *expr_a, const char *expr_b,
		    const void *a, const void *b, size_t len);
/*
 * Marks the running test skipped (the environment cannot run it, e.g. a
 * syscall qemu-user does not emulate): the runner prints "SKIP suite.name:
 * reason" and counts it as neither passed nor failed. The test should
 * return right after; a failure recorded before or after still fails it.
 */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* argv[1] of the runner (may not exist); tests may ignore it. */
const char *test_data_dir(void);

#define TEST(suite, name)                                                         \
	static void test_##suite##_##name(void);                                   \
	static struct test_case test_case_##suite##_##name = {                     \
		#suite, #name, test_##suite##_##name, NULL                          \
	};                                                                         \
	__attribute__((constructor)) static void test_reg_##suite##_##name(void) \
	{                                                                          \
		test_register(&test_case_##suite##_##name);                         \
	}                                                                          \
	static void test_##suite##_##name(void)

#define CHECK(cond)                                                         \
	({                                                                  \
		bool test_ok_ = (cond);                                     \
		if (!test_ok_)                                              \
			test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond); \
		test_ok_;                                                   \
	})

#define CHECK_EQ_U64(a, b) \
	test_check_u64(__FILE__, __LINE__, #a, #b, (uint64_t)(a), (uint64_t)(b))
#define CHECK_STR(a, b) test_check_str(__FILE__, __LINE__, #a, #b, (a), (b))
/* hay contains needle (error messages) */
#define CHECK_CONTAINS(hay, needle) test_check_contains(__FILE__, __LINE__, #hay, (hay), (needle))
#define CHECK_MEM(a, b, len) test_check_mem(__FILE__, __LINE__, #a, #b, (a), (b), (len))

/* Stops the test (a void function) when cond is false. */
#define REQUIRE(cond)              \
	do {                       \
		if (!CHECK(cond))  \
			return;    \
	} while (0)

#endif
