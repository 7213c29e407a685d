// SPDX-License-Identifier: GPL-2.0
/* One message, one line: what the user typed is escaped (issue 20). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "run.h"
#include "test.h"

TEST(err, escape_controls)
{
	char buf[64];
	size_t n = err_escape(buf, sizeof(buf), "a\nb\tc\x1b[2Jd\x7f");

	CHECK_EQ_U64(n, strlen(buf));
	CHECK_STR(buf, "a\\nb\\tc\\x1b[2Jd\\x7f");
	/* plain text, backslashes and UTF-8 pass as they are */
	err_escape(buf, sizeof(buf), "dir\\x/caf\xc3\xa9");
	CHECK_STR(buf, "dir\\x/caf\xc3\xa9");
	/* a short buffer cuts at a whole escape, never overruns */
	CHECK_EQ_U64(err_escape(buf, 4, "\n\n"), 2);
	CHECK_STR(buf, "\\n");
}

TEST(err, set_escapes_arguments)
{
	struct lkvm_err e;

	err_set(&e, "cannot open kernel %s", "/x\nlkvm: forged line");
	CHECK(!strchr(e.msg, '\n'));
	CHECK_STR(e.msg, "cannot open kernel /x\\nlkvm: forged line");
	err_errno(&e, 2, "disk %s", "a\rb");
	CHECK_STR(e.msg, "disk a\\x0db: No such file or directory");
}

/* the option parser's errors quote the argument on one line */
TEST(err, option_error_is_one_line)
{
	char *argv[] = { "run", "-k", "Image", "--bogus\nlkvm: forged", NULL };
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	memset(&cfg, 0, sizeof(cfg));
	CHECK(run_parse_options(4, argv, &cfg, &e) < 0);
	CHECK(!strchr(e.msg, '\n'));
	CHECK_CONTAINS(e.msg, "--bogus\\nlkvm: forged");
}
