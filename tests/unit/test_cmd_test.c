// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm test: the matrix file parser (quoting, bad lines, duplicate names),
 * the output checks, and the runner itself with /bin/sh in place of
 * `lkvm run` (exit status, timeout with SIGTERM then SIGKILL, TAP).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_test.h"
#include "test.h"
#include "util.h"

/* ---- matrix_split ---- */

/* Splits s and joins the words with '|' into out; -1 and the error in out. */
static int split_join(const char *s, bool expand, char *out, size_t size)
{
	struct lkvm_err e = { "" };
	unsigned int n, i;
	size_t len = 0;
	char **w;

	out[0] = 0;
	if (matrix_split(s, expand, &w, &n, &e)) {
		snprintf(out, size, "%s", e.msg);
		return -1;
	}
	for (i = 0; i < n; i++)
		len += snprintf(out + len, size - len, "%s[%s]", i ? "|" : "", w[i]);
	CHECK(w[n] == NULL);
	matrix_words_free(w);
	return (int)n;
}

TEST(cmd_test, split_plain_and_quotes)
{
	char out[512];

	CHECK_EQ_U64(split_join("  a bb\tccc  ", true, out, sizeof(out)), 3);
	CHECK_STR(out, "[a]|[bb]|[ccc]");
	CHECK_EQ_U64(split_join("", true, out, sizeof(out)), 0);
	CHECK_EQ_U64(split_join("   # all comment", true, out, sizeof(out)), 0);
	/* single quotes: everything literal, also \ $ " and # */
	CHECK_EQ_U64(split_join("x='a b\\c $HOME \"q\" #h'", true, out, sizeof(out)), 1);
	CHECK_STR(out, "[x=a b\\c $HOME \"q\" #h]");
	/* double quotes: \ only before " \ $ ` */
	CHECK_EQ_U64(split_join("\"a \\\"b\\\" \\\\ \\n 'c'\"", true, out, sizeof(out)), 1);
	CHECK_STR(out, "[a \"b\" \\ \\n 'c']");
	/* quotes join with their neighbours into one word; empty quotes are a word */
	CHECK_EQ_U64(split_join("a'b c'\"d\"e '' \"\"", true, out, sizeof(out)), 3);
	CHECK_STR(out, "[ab cde]|[]|[]");
	/* backslash outside quotes */
	CHECK_EQ_U64(split_join("a\\ b \\'c", true, out, sizeof(out)), 2);
	CHECK_STR(out, "[a b]|['c]");
	/* # inside a word is a character; at a word's start a comment */
	CHECK_EQ_U64(split_join("a#b c #d e", true, out, sizeof(out)), 2);
	CHECK_STR(out, "[a#b]|[c]");
	/* quoted metacharacters */
	CHECK_EQ_U64(split_join("re='a|b' x=\"(c);<d>&\"", true, out, sizeof(out)), 2);
	CHECK_STR(out, "[re=a|b]|[x=(c);<d>&]");
}

TEST(cmd_test, split_variables)
{
	char out[512];

	setenv("LKVM_T_K", "/k dir/Image", 1);
	unsetenv("LKVM_T_UNSET");
	/* expanded, never split, not in single quotes */
	CHECK_EQ_U64(split_join("k=$LKVM_T_K \"${LKVM_T_K}.gz\" '$LKVM_T_K'", true, out,
				sizeof(out)), 3);
	CHECK_STR(out, "[k=/k dir/Image]|[/k dir/Image.gz]|[$LKVM_T_K]");
	/* $ not followed by a name is a character: regex anchors */
	CHECK_EQ_U64(split_join("re=\"^a$\" b=$ c=$1 \"\\$LKVM_T_K\"", true, out, sizeof(out)), 4);
	CHECK_STR(out, "[re=^a$]|[b=$]|[c=$1]|[$LKVM_T_K]");
	CHECK_EQ_U64(split_join("a=$LKVM_T_UNSET", true, out, sizeof(out)), (uint64_t)-1);
	CHECK_CONTAINS(out, "$LKVM_T_UNSET is not set");
	CHECK_EQ_U64(split_join("a=\"${LKVM_T_K\"", true, out, sizeof(out)), (uint64_t)-1);
	CHECK_CONTAINS(out, "no closing }");
	/* no expansion in the second-level split (args=) */
	CHECK_EQ_U64(split_join("-k $LKVM_T_K `x` \"$(y)\"", false, out, sizeof(out)), 4);
	CHECK_STR(out, "[-k]|[$LKVM_T_K]|[`x`]|[$(y)]");
}

TEST(cmd_test, split_refuses)
{
	static const struct {
		const char *s;
		const char *msg;
	} bad[] = {
		{ "a='b", "unterminated ' quote" },
		{ "a=\"b", "unterminated \" quote" },
		{ "a=\"b\\\"", "unterminated \" quote" },
		{ "a=$(touch /tmp/x)", "would run a command" },
		{ "a=\"$(id)\"", "would run a command" },
		{ "a=`id`", "would run a command" },
		{ "a=\"`id`\"", "would run a command" },
		{ "a=b;c", "unquoted ';'" },
		{ "a=b|c", "unquoted '|'" },
		{ "a=(b)", "unquoted '('" },
		{ "a=b >c", "unquoted '>'" },
		{ "a=b &", "unquoted '&'" },
		{ "a\\", "a \\ at the end" },
	};
	char out[512];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (!CHECK_EQ_U64(split_join(bad[i].s, true, out, sizeof(out)), (uint64_t)-1))
			test_fail(__FILE__, __LINE__, "'%s' was accepted", bad[i].s);
		CHECK_CONTAINS(out, bad[i].msg);
	}
}

/* ---- matrix_parse ---- */

static int parse_str(const char *text, struct matrix *m, struct lkvm_err *e)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r;

	if (!CHECK(f))
		return -2;
	e->msg[0] = 0;
	r = matrix_parse(f, "m.matrix", m, e);
	fclose(f);
	return r;
}

TEST(cmd_test, parse_good_file)
{
	static const char text[] =
		"# a comment, then a blank line\n"
		"\n"
		"name=be args=\"-k be/Image -i be/initrd -p 'console=ttyS0 earlycon quiet'\" \\\n"
		"   expect=\"GUEST-INIT-OK endian=big arch=arm64\" expect='GUEST-DONE' \\\n"
		"   expect-re='^GUEST-UNAME Linux .* aarch64_be$' reject-re=\"Oops|BUG\" # the end\n"
		"  # indented comment\r\n"
		"name=arm.le_2 timeout=30 rc=2 args='--aarch32 -k \"arm le/zImage\"'\r\n";
	struct lkvm_err e;
	struct matrix m;
	struct matrix_guest *g;

	REQUIRE(parse_str(text, &m, &e) == 0);
	REQUIRE(CHECK_EQ_U64(m.n, 2));
	g = &m.g[0];
	CHECK_STR(g->name, "be");
	CHECK_EQ_U64(g->line, 3);
	CHECK_EQ_U64(g->timeout_s, MATRIX_DEFAULT_TIMEOUT);
	CHECK_EQ_U64(g->rc, 0);
	if (CHECK_EQ_U64(g->argc, 6)) {
		CHECK_STR(g->argv[0], "-k");
		CHECK_STR(g->argv[3], "be/initrd");
		CHECK_STR(g->argv[5], "console=ttyS0 earlycon quiet");
		CHECK(g->argv[6] == NULL);
	}
	if (CHECK_EQ_U64(g->nr_expect, 2)) {
		CHECK_STR(g->expect[0], "GUEST-INIT-OK endian=big arch=arm64");
		CHECK_STR(g->expect[1], "GUEST-DONE");
	}
	if (CHECK_EQ_U64(g->nr_expect_re, 1))
		CHECK_STR(g->expect_re[0].src, "^GUEST-UNAME Linux .* aarch64_be$");
	if (CHECK_EQ_U64(g->nr_reject_re, 1))
		CHECK_STR(g->reject_re[0].src, "Oops|BUG");
	g = &m.g[1];
	CHECK_STR(g->name, "arm.le_2");
	CHECK_EQ_U64(g->line, 7);
	CHECK_EQ_U64(g->timeout_s, 30);
	CHECK_EQ_U64(g->rc, 2);
	if (CHECK_EQ_U64(g->argc, 3))
		CHECK_STR(g->argv[2], "arm le/zImage");
	CHECK_EQ_U64(g->nr_expect + g->nr_expect_re + g->nr_reject_re, 0);
	matrix_free(&m);
	CHECK_EQ_U64(m.n, 0);
}

TEST(cmd_test, parse_bad_lines)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "args=\"-k I\"\n", "m.matrix:1: no name=" },
		{ "\nname=a\n", "m.matrix:2: a: no args=" },
		{ "name=a args=\"\"\n", "m.matrix:1: args= is empty" },
		{ "name=a args=x bogus\n", "m.matrix:1: 'bogus' is not KEY=VALUE" },
		{ "name=a args=x =v\n", "m.matrix:1: '=v' is not KEY=VALUE" },
		{ "name=a args=x colour=red\n", "m.matrix:1: unknown key 'colour'" },
		{ "name=a name=b args=x\n", "name= given twice" },
		{ "name=a args=x args=y\n", "args= given twice" },
		{ "name=a args=x timeout=1 timeout=2\n", "timeout= given twice" },
		{ "name=a args=x rc=1 rc=2\n", "rc= given twice" },
		{ "name=a args=x timeout=0\n", "timeout=0: want a number of seconds > 0" },
		{ "name=a args=x timeout=-1\n", "timeout=-1:" },
		{ "name=a args=x timeout=10s\n", "timeout=10s:" },
		{ "name=a args=x rc=256\n", "rc=256: want an exit status, 0 to 255" },
		{ "name=a args=x rc=\n", "rc=: want an exit status" },
		{ "name=../x args=x\n", "name=../x: letters, digits" },
		{ "name=a/b args=x\n", "name=a/b: letters" },
		{ "name= args=x\n", "name=: letters" },
		{ "name=a args=x expect-re='a('\n", "m.matrix:1: expect-re=\"a(\": " },
		{ "name=a args=x reject-re='*['\n", "m.matrix:1: reject-re=\"*[\": " },
		{ "name=a args=\"-p 'x\"\n", "m.matrix:1: args: unterminated ' quote" },
		{ "name=a args='x' expect=\"$(reboot)\"\n", "m.matrix:1: $(...) would run a command" },
		{ "#\n\n# only comments\n", "m.matrix:3: no guests in this file" },
		{ "", "m.matrix:0: no guests" },
		/* the error names the first line of a continued guest */
		{ "name=ok args=x\n\nname=b \\\n args=x \\\n colour=1\n", "m.matrix:3: unknown key" },
	};
	struct lkvm_err e;
	struct matrix m;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (!CHECK(parse_str(bad[i].text, &m, &e) == -1)) {
			test_fail(__FILE__, __LINE__, "accepted: %s", bad[i].text);
			matrix_free(&m);
			continue;
		}
		CHECK_CONTAINS(e.msg, bad[i].msg);
		/* one line */
		CHECK(!strchr(e.msg, '\n'));
		CHECK(m.n == 0 && m.g == NULL);
	}
}

TEST(cmd_test, parse_duplicate_names)
{
	static const char text[] = "name=a args=x\n"
				   "name=b args=x\n"
				   "# c\n"
				   "name=a args=y\n";
	struct lkvm_err e;
	struct matrix m;

	REQUIRE(parse_str(text, &m, &e) == -1);
	CHECK_STR(e.msg, "m.matrix:4: duplicate name 'a' (first on line 1)");
	/* names are case-sensitive, as file names are */
	REQUIRE(parse_str("name=a args=x\nname=A args=x\n", &m, &e) == 0);
	CHECK_EQ_U64(m.n, 2);
	matrix_free(&m);
}

/* ---- matrix_check_output ---- */

static unsigned int check_str(const struct matrix_guest *g, const char *out, char *why,
			      size_t size)
{
	FILE *f = fmemopen((void *)out, strlen(out), "r");
	unsigned int n;

	why[0] = 0;
	if (!CHECK(f))
		return 99;
	n = matrix_check_output(g, f, why, size);
	fclose(f);
	return n;
}

TEST(cmd_test, check_output)
{
	static const char text[] =
		"name=g args=x expect='GUEST-DONE' expect='endian=big' "
		"expect-re='^UNAME .* aarch64_be$' reject-re='Oops|BUG:' reject-re='^panic'\n";
	struct lkvm_err e;
	struct matrix m;
	char why[1024];

	REQUIRE(parse_str(text, &m, &e) == 0);
	/* \r dropped (a raw console), lines exact, order free */
	CHECK_EQ_U64(check_str(&m.g[0], "boot\r\nUNAME Linux 6.1 aarch64_be\r\nendian=big\r\nGUEST-DONE",
			       why, sizeof(why)), 0);
	CHECK_STR(why, "");
	/* exact: a longer line is not the line; each miss is a reason */
	CHECK_EQ_U64(check_str(&m.g[0], "GUEST-DONE!\n endian=big\nUNAME x aarch64\n", why,
			       sizeof(why)), 3);
	CHECK_STR(why, "missing line 'GUEST-DONE'; missing line 'endian=big'; "
		       "no line matches '^UNAME .* aarch64_be$'");
	CHECK_EQ_U64(check_str(&m.g[0], "GUEST-DONE\nendian=big\nUNAME a aarch64_be\n"
				       "[ 1.0] BUG: x\n[ 2.0] Oops: y\n",
			       why, sizeof(why)), 1);
	CHECK_STR(why, "line '[ 1.0] BUG: x' matches reject-re 'Oops|BUG:'");
	/* the reasons never overflow */
	CHECK(check_str(&m.g[0], "", why, 40) == 3 && strlen(why) < 40);
	matrix_free(&m);
}

/* ---- matrix_run, with sh -c in place of lkvm run ---- */

TEST(cmd_test, run_prints_tap)
{
	static const char text[] =
		"name=pass args=\"'echo GUEST-DONE; echo noise >&2; exit 0'\" expect=GUEST-DONE\n"
		"name=rc3 rc=3 args=\"'echo x; exit 3'\"\n"
		"name=wrong-rc args=\"'exit 2'\"\n"
		"name=missing args=\"'echo GUEST-DONE'\" expect=NOPE reject-re=^GUEST\n"
		"name=slow timeout=1 args=\"'echo started; sleep 20'\" expect=started\n"
		"name=stubborn timeout=1 args=\"'trap \\\"\\\" TERM; echo hi; sleep 20'\"\n"
		"name=skipped args=\"'exit 0'\"\n";
	static const char *const cmd[] = { "sh", "-c", NULL };
	char dir[] = "/tmp/lkvm-test-logs-XXXXXX", logs[64], path[128];
	struct lkvm_err e;
	struct matrix m;
	struct matrix_run_opts o = { .exe = "/bin/sh", .cmd = cmd, .kill_grace_ms = 300 };
	char *tap = NULL;
	size_t tap_len = 0;
	unsigned int i;
	int r;

	REQUIRE(mkdtemp(dir));
	/* a log directory that does not exist yet, two levels down */
	snprintf(logs, sizeof(logs), "%s/a/b", dir);
	o.logs = logs;
	REQUIRE(parse_str(text, &m, &e) == 0);
	m.g[6].skip = true;
	o.out = open_memstream(&tap, &tap_len);
	REQUIRE(o.out);
	r = matrix_run(&m, &o, &e);
	fclose(o.out);
	CHECK_EQ_U64(r, 4);
	CHECK(!strncmp(tap, "TAP version 13\n1..6\n", 20));
	CHECK_CONTAINS(tap, "\nok 1 - pass\n");
	CHECK_CONTAINS(tap, "\nok 2 - rc3\n");
	CHECK_CONTAINS(tap, "\nnot ok 3 - wrong-rc # exit status 2, expected 0\n");
	CHECK_CONTAINS(tap, "\nnot ok 4 - missing # missing line 'NOPE'; "
			    "line 'GUEST-DONE' matches reject-re '^GUEST'\n");
	/* a timeout is the reason, whatever status the kill gave; output still checked */
	CHECK_CONTAINS(tap, "\nnot ok 5 - slow # timeout\n");
	CHECK_CONTAINS(tap, "\n#   slow: killed by signal 15 after ");
	/* SIGTERM ignored: SIGKILL after the grace time */
	CHECK_CONTAINS(tap, "\nnot ok 6 - stubborn # timeout\n");
	CHECK_CONTAINS(tap, "\n#   stubborn: killed by signal 9 after ");
	/* a failure shows the end of its log */
	CHECK_CONTAINS(tap, "\n#   | hi\n");
	CHECK(!strstr(tap, "skipped"));
	CHECK(tap_len > 20 && !strcmp(tap + tap_len - 20, "\n2 passed, 4 failed\n"));
	/* stdout and stderr both in the log */
	snprintf(path, sizeof(path), "%s/pass.log", logs);
	{
		FILE *f = fopen(path, "r");
		char buf[64] = "";

		if (CHECK(f)) {
			CHECK_EQ_U64(fread(buf, 1, sizeof(buf) - 1, f), 17);
			CHECK_STR(buf, "GUEST-DONE\nnoise\n");
			fclose(f);
		}
	}
	free(tap);
	for (i = 0; i < m.n; i++) {
		snprintf(path, sizeof(path), "%s/%s.log", logs, m.g[i].name);
		unlink(path);
	}
	rmdir(logs);
	snprintf(path, sizeof(path), "%s/a", dir);
	rmdir(path);
	CHECK(rmdir(dir) == 0);
	matrix_free(&m);
}

TEST(cmd_test, run_bad_log_dir)
{
	static const char *const cmd[] = { "sh", "-c", NULL };
	struct matrix_run_opts o = { .exe = "/bin/sh", .cmd = cmd, .logs = "/proc/version/x" };
	struct lkvm_err e;
	struct matrix m;

	REQUIRE(parse_str("name=a args=true\n", &m, &e) == 0);
	o.out = stdout;
	CHECK_EQ_U64(matrix_run(&m, &o, &e), (uint64_t)-1);
	CHECK_CONTAINS(e.msg, "--logs /proc/version/x");
	matrix_free(&m);
}

/* the help documents every key of the format */
TEST(cmd_test, usage_documents_the_format)
{
	static const char *const keys[] = { "name=", "args=", "timeout=", "rc=", "expect=",
					    "expect-re=", "reject-re=", "--logs", "TAP version 13",
					    "N passed, N failed" };
	char *text = NULL;
	size_t len = 0;
	unsigned int i;
	FILE *f = open_memstream(&text, &len);

	REQUIRE(f);
	test_usage(f);
	fclose(f);
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		CHECK_CONTAINS(text, keys[i]);
	free(text);
}
