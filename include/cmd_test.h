/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_CMD_TEST_H
#define LKVM_CMD_TEST_H

/*
 * lkvm test MATRIXFILE: the matrix parser, the output checks and the runner,
 * exposed for the unit tests (tests/unit/test_cmd_test.c).
 */
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>

#include "err.h"

#define MATRIX_DEFAULT_TIMEOUT 120
#define MATRIX_NAME_MAX 64
#define MATRIX_KILL_GRACE_MS 2000
#define MATRIX_DEFAULT_LOGS "lkvm-test-logs"

/* One regex of expect-re= or reject-re=, with its source for the messages. */
struct matrix_re {
	char *src;
	regex_t re;
};

/* One line of the matrix file: one guest. */
struct matrix_guest {
	char *name;
	unsigned int line;      /* where it was defined */
	unsigned int timeout_s; /* default MATRIX_DEFAULT_TIMEOUT */
	int rc;                 /* expected exit status, default 0 */
	char **argv;            /* the `lkvm run` arguments, NULL-terminated */
	unsigned int argc;
	char **expect;
	unsigned int nr_expect;
	struct matrix_re *expect_re;
	unsigned int nr_expect_re;
	struct matrix_re *reject_re;
	unsigned int nr_reject_re;
	bool skip;              /* not selected on the command line */
};

struct matrix {
	struct matrix_guest *g;
	unsigned int n;
};

/*
 * Splits s into words, quoted like sh(1): '...' is literal; "..." keeps
 * backslash only before " \ $ `; a backslash outside quotes escapes the next
 * character; an unquoted # at the start of a word ends the line. With expand,
 * $NAME and ${NAME} outside single quotes take the environment's value (unset:
 * an error) and are never split. $( and ` are refused (nothing is ever run),
 * so is an unquoted | & ; < > ( ). words: NULL-terminated, free with
 * matrix_words_free. -1 and e on error.
 */
int matrix_split(const char *s, bool expand, char ***words, unsigned int *n, struct lkvm_err *e);
void matrix_words_free(char **words);

/* Reads a whole matrix file; errors are "FILE:LINE: problem" in e. */
int matrix_parse(FILE *f, const char *file, struct matrix *m, struct lkvm_err *e);
void matrix_free(struct matrix *m);

/*
 * Checks a guest's output (its log) against expect=, expect-re= and
 * reject-re=: appends "; "-separated reasons to why (size bytes) and returns
 * how many checks failed.
 */
unsigned int matrix_check_output(const struct matrix_guest *g, FILE *log, char *why, size_t size);

struct matrix_run_opts {
	const char *logs;         /* log directory, created if missing */
	const char *exe;          /* the program to exec; NULL: cmd[0] from PATH */
	const char *const *cmd;   /* argv before a guest's args: {"lkvm", "run", NULL} */
	unsigned int kill_grace_ms; /* SIGTERM to SIGKILL at a timeout */
	FILE *out;                /* TAP */
};

/* Runs the guests not skipped, prints TAP; returns how many failed, -1 (e) if none could run. */
int matrix_run(const struct matrix *m, const struct matrix_run_opts *o, struct lkvm_err *e);

void test_usage(FILE *f);

#endif
