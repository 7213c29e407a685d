// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm test MATRIXFILE: boots a list of guests one after another, each as a
 * child `lkvm run ARGS` (this same binary), checks what each printed and how
 * it exited, and prints TAP. The format is in test_usage() and lkvm(1).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd_test.h"
#include "run.h"
#include "util.h"

#define MATRIX_TAIL_LINES 10

void test_usage(FILE *f)
{
	fprintf(f,
		"usage: lkvm test [--logs DIR] MATRIXFILE [NAME...]\n"
		"\n"
		"Boots the guests of MATRIXFILE one after another, each as `lkvm run ARGS`\n"
		"(this same lkvm) with stdin /dev/null and stdout and stderr in DIR/NAME.log;\n"
		"checks each guest's output and exit status and prints TAP. With NAMEs, only\n"
		"those guests run.\n"
		"\n"
		"      --logs DIR         where the per-guest logs go (default ./%s)\n"
		"  -h, --help             this help\n"
		"\n"
		"MATRIXFILE: one guest per line, KEY=VALUE words quoted as in sh(1); blank\n"
		"lines and lines starting with # are skipped, a line ending in \\ goes on.\n"
		"  name=NAME              required, unique: letters, digits, '.', '_', '-'\n"
		"  args=\"ARGS\"            the `lkvm run` arguments, split again as in sh,\n"
		"                         so quote inside: args=\"-k Image -p 'quiet'\"\n"
		"  timeout=SECONDS        fail with \"timeout\" after SECONDS: SIGTERM, then\n"
		"                         SIGKILL 2 s later (default %d)\n"
		"  rc=N                   the expected exit status (default 0: powered off)\n"
		"  expect=\"LINE\"          a line the guest must print exactly (\\r dropped)\n"
		"  expect-re=\"ERE\"        a line must match this extended regex\n"
		"  reject-re=\"ERE\"        no line may match it\n"
		"expect, expect-re and reject-re may be repeated. $NAME and ${NAME} outside\n"
		"single quotes come from the environment (unset: an error); nothing is ever\n"
		"run: $(...) and `...` are refused, and there is no globbing.\n"
		"\n"
		"Example:\n"
		"  # guests.matrix\n"
		"  name=be args=\"-k be/Image -i initrd.gz -p 'console=ttyS0 quiet'\" \\\n"
		"      expect=\"GUEST-DONE\" reject-re=\"Oops|BUG\"\n"
		"  name=reboot timeout=60 rc=2 args=\"-k $KDIR/Image -p reboot=psci\"\n"
		"\n"
		"Output (TAP version 13): \"1..N\", then per guest \"ok K - NAME\" or\n"
		"\"not ok K - NAME # REASONS\" (lines starting \"#\" say more), then\n"
		"\"N passed, N failed\".\n"
		"\n"
		"Exit status:\n"
		"  0    every guest passed\n"
		"  1    one or more failed\n"
		"  2    bad matrix file (one line: FILE:LINE: the problem) or usage\n",
		MATRIX_DEFAULT_LOGS, MATRIX_DEFAULT_TIMEOUT);
}

/* ---- words ---- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static int sb_add(struct sbuf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *s;

		while (cap < b->len + n + 1)
			cap *= 2;
		s = realloc(b->s, cap);
		if (!s)
			return -1;
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = 0;
	return 0;
}

static int sb_addc(struct sbuf *b, char c)
{
	return sb_add(b, &c, 1);
}

/* A NULL-terminated, growing array of strings. */
struct wordv {
	char **w;
	unsigned int n, cap;
};

static int wv_push(struct wordv *v, char *s)
{
	if (!s)
		return -1;
	if (v->n + 2 > v->cap) {
		unsigned int cap = v->cap ? v->cap * 2 : 8;
		char **w = realloc(v->w, cap * sizeof(*w));

		if (!w) {
			free(s);
			return -1;
		}
		v->w = w;
		v->cap = cap;
	}
	v->w[v->n++] = s;
	v->w[v->n] = NULL;
	return 0;
}

void matrix_words_free(char **words)
{
	unsigned int i;

	for (i = 0; words && words[i]; i++)
		free(words[i]);
	free(words);
}

static bool name_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/*
 * s[0] == '$': appends the value of $NAME or ${NAME} and returns the
 * characters taken, 0 when this $ is a plain character, -1 (e) on error.
 */
static int split_var(const char *s, struct sbuf *b, struct lkvm_err *e)
{
	char name[128];
	size_t i = 1, n = 0;
	bool brace = false;
	const char *v;

	if (s[1] == '(')
		return err_set(e, "$(...) would run a command: lkvm test never does");
	if (s[1] == '{') {
		brace = true;
		i = 2;
	}
	if (!name_start(s[i])) {
		if (brace)
			return err_set(e, "${ must be followed by a variable name and }");
		return 0;
	}
	while (name_char(s[i])) {
		if (n >= sizeof(name) - 1)
			return err_set(e, "variable name too long");
		name[n++] = s[i++];
	}
	name[n] = 0;
	if (brace) {
		if (s[i] != '}')
			return err_set(e, "${%s: no closing }", name);
		i++;
	}
	v = getenv(name);
	if (!v)
		return err_set(e, "$%s is not set", name);
	if (sb_add(b, v, strlen(v)))
		return err_set(e, "out of memory");
	return (int)i;
}

int matrix_split(const char *s, bool expand, char ***words, unsigned int *n, struct lkvm_err *e)
{
	struct wordv v = { NULL, 0, 0 };
	struct sbuf b = { NULL, 0, 0 };
	bool in_word = false;
	const char *p = s;
	int r;

	*words = NULL;
	*n = 0;
	while (*p) {
		char c = *p;

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (in_word) {
				if (wv_push(&v, b.s ? b.s : strdup("")))
					goto oom;
				b = (struct sbuf){ NULL, 0, 0 };
				in_word = false;
			}
			p++;
			continue;
		}
		if (c == '#' && !in_word)
			break; /* a comment to the end of the line */
		in_word = true;
		if (c == '\'') {
			const char *end = strchr(p + 1, '\'');

			if (!end) {
				err_set(e, "unterminated ' quote");
				goto fail;
			}
			if (sb_add(&b, p + 1, end - p - 1))
				goto oom;
			p = end + 1;
			continue;
		}
		if (c == '"') {
			for (p++;; p++) {
				if (!*p) {
					err_set(e, "unterminated \" quote");
					goto fail;
				}
				if (*p == '"')
					break;
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1])) {
					if (sb_addc(&b, *++p))
						goto oom;
					continue;
				}
				if (expand && *p == '`') {
					err_set(e, "`...` would run a command: lkvm test never does");
					goto fail;
				}
				if (expand && *p == '$') {
					r = split_var(p, &b, e);
					if (r < 0)
						goto fail;
					if (r > 0) {
						p += r - 1;
						continue;
					}
				}
				if (sb_addc(&b, *p))
					goto oom;
			}
			p++;
			continue;
		}
		if (c == '\\') {
			if (!p[1]) {
				err_set(e, "a \\ at the end");
				goto fail;
			}
			if (sb_addc(&b, p[1]))
				goto oom;
			p += 2;
			continue;
		}
		if (strchr("|&;<>()", c)) {
			err_set(e, "an unquoted '%c': quote the value", c);
			goto fail;
		}
		if (expand && c == '`') {
			err_set(e, "`...` would run a command: lkvm test never does");
			goto fail;
		}
		if (expand && c == '$') {
			r = split_var(p, &b, e);
			if (r < 0)
				goto fail;
			if (r > 0) {
				p += r;
				continue;
			}
		}
		if (sb_addc(&b, c))
			goto oom;
		p++;
	}
	if (in_word && wv_push(&v, b.s ? b.s : strdup("")))
		goto oom;
	if (!v.w) {
		v.w = calloc(1, sizeof(*v.w));
		if (!v.w)
			goto oom;
	}
	*words = v.w;
	*n = v.n;
	return 0;
oom:
	err_set(e, "out of memory");
fail:
	free(b.s);
	matrix_words_free(v.w);
	return -1;
}

/* ---- the matrix file ---- */

static void matrix_guest_free(struct matrix_guest *g)
{
	unsigned int i;

	free(g->name);
	matrix_words_free(g->argv);
	for (i = 0; i < g->nr_expect; i++)
		free(g->expect[i]);
	free(g->expect);
	for (i = 0; i < g->nr_expect_re; i++) {
		regfree(&g->expect_re[i].re);
		free(g->expect_re[i].src);
	}
	free(g->expect_re);
	for (i = 0; i < g->nr_reject_re; i++) {
		regfree(&g->reject_re[i].re);
		free(g->reject_re[i].src);
	}
	free(g->reject_re);
	memset(g, 0, sizeof(*g));
}

void matrix_free(struct matrix *m)
{
	unsigned int i;

	for (i = 0; i < m->n; i++)
		matrix_guest_free(&m->g[i]);
	free(m->g);
	m->g = NULL;
	m->n = 0;
}

static bool matrix_name_ok(const char *s)
{
	size_t i;

	if (!isalnum((unsigned char)s[0]) || strlen(s) > MATRIX_NAME_MAX)
		return false;
	for (i = 1; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static int matrix_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int matrix_add_re(struct matrix_re **res, unsigned int *nr, const char *key,
			 const char *src, struct lkvm_err *e)
{
	struct matrix_re *r = realloc(*res, (*nr + 1) * sizeof(**res));
	char msg[128];
	int rc;

	if (!r)
		return err_set(e, "out of memory");
	*res = r;
	r += *nr;
	rc = regcomp(&r->re, src, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		regerror(rc, &r->re, msg, sizeof(msg));
		return err_set(e, "%s=\"%s\": %s", key, src, msg);
	}
	r->src = strdup(src);
	if (!r->src) {
		regfree(&r->re);
		return err_set(e, "out of memory");
	}
	(*nr)++;
	return 0;
}

/* One guest's words into g; e without the FILE:LINE prefix. */
static int matrix_guest_parse(char **w, unsigned int n, struct matrix_guest *g,
			      struct lkvm_err *e)
{
	bool have_timeout = false, have_rc = false;
	struct lkvm_err sub;
	unsigned long v;
	unsigned int i;

	g->timeout_s = MATRIX_DEFAULT_TIMEOUT;
	for (i = 0; i < n; i++) {
		const char *eq = strchr(w[i], '=');
		const char *val;
		size_t klen;

		if (!eq || eq == w[i])
			return err_set(e, "'%s' is not KEY=VALUE", w[i]);
		klen = eq - w[i];
		val = eq + 1;
#define KEY(k) (klen == sizeof(k) - 1 && !memcmp(w[i], k, klen))
		if (KEY("name")) {
			if (g->name)
				return err_set(e, "name= given twice");
			if (!matrix_name_ok(val))
				return err_set(e, "name=%s: letters, digits, '.', '_' and '-', from a letter or digit, at most %d",
					       val, MATRIX_NAME_MAX);
			g->name = strdup(val);
			if (!g->name)
				return err_set(e, "out of memory");
		} else if (KEY("timeout")) {
			if (have_timeout)
				return err_set(e, "timeout= given twice");
			if (matrix_uint(val, 7 * 24 * 3600, &v) || !v)
				return err_set(e, "timeout=%s: want a number of seconds > 0", val);
			g->timeout_s = v;
			have_timeout = true;
		} else if (KEY("rc")) {
			if (have_rc)
				return err_set(e, "rc= given twice");
			if (matrix_uint(val, 255, &v))
				return err_set(e, "rc=%s: want an exit status, 0 to 255", val);
			g->rc = (int)v;
			have_rc = true;
		} else if (KEY("args")) {
			if (g->argv)
				return err_set(e, "args= given twice");
			if (matrix_split(val, false, &g->argv, &g->argc, &sub))
				return err_set(e, "args: %s", sub.msg);
			if (!g->argc)
				return err_set(e, "args= is empty");
		} else if (KEY("expect")) {
			char **x = realloc(g->expect, (g->nr_expect + 1) * sizeof(*x));

			if (!x)
				return err_set(e, "out of memory");
			g->expect = x;
			x[g->nr_expect] = strdup(val);
			if (!x[g->nr_expect])
				return err_set(e, "out of memory");
			g->nr_expect++;
		} else if (KEY("expect-re")) {
			if (matrix_add_re(&g->expect_re, &g->nr_expect_re, "expect-re", val, e))
				return -1;
		} else if (KEY("reject-re")) {
			if (matrix_add_re(&g->reject_re, &g->nr_reject_re, "reject-re", val, e))
				return -1;
		} else {
			return err_set(e, "unknown key '%.*s' (name, args, timeout, rc, expect, expect-re, reject-re)",
				       (int)MIN(klen, 64), w[i]);
		}
#undef KEY
	}
	if (!g->name)
		return err_set(e, "no name=");
	if (!g->argv)
		return err_set(e, "%s: no args=", g->name);
	return 0;
}

static int matrix_parse_line(const char *text, const char *file, unsigned int line,
			     struct matrix *m, struct lkvm_err *e)
{
	struct matrix_guest g;
	struct matrix_guest *grown;
	struct lkvm_err sub;
	unsigned int n, i;
	char **w;

	memset(&g, 0, sizeof(g));
	if (matrix_split(text, true, &w, &n, &sub))
		return err_set(e, "%s:%u: %s", file, line, sub.msg);
	if (!n) {
		matrix_words_free(w);
		return 0;
	}
	g.line = line;
	if (matrix_guest_parse(w, n, &g, &sub)) {
		matrix_words_free(w);
		matrix_guest_free(&g);
		return err_set(e, "%s:%u: %s", file, line, sub.msg);
	}
	matrix_words_free(w);
	for (i = 0; i < m->n; i++) {
		if (!strcmp(m->g[i].name, g.name)) {
			err_set(e, "%s:%u: duplicate name '%s' (first on line %u)", file, line, g.name,
				m->g[i].line);
			matrix_guest_free(&g);
			return -1;
		}
	}
	grown = realloc(m->g, (m->n + 1) * sizeof(*grown));
	if (!grown) {
		matrix_guest_free(&g);
		return err_set(e, "out of memory");
	}
	m->g = grown;
	m->g[m->n++] = g;
	return 0;
}

int matrix_parse(FILE *f, const char *file, struct matrix *m, struct lkvm_err *e)
{
	struct sbuf logical = { NULL, 0, 0 };
	unsigned int lineno = 0, start = 0;
	bool continuing = false;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0;

	memset(m, 0, sizeof(*m));
	while (!r && (len = getline(&line, &cap, f)) >= 0) {
		size_t slashes = 0;

		lineno++;
		len = strlen(line); /* a NUL ends the line */
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (!continuing)
			start = lineno;
		while (slashes < (size_t)len && line[len - 1 - slashes] == '\\')
			slashes++;
		continuing = slashes % 2;
		if (sb_add(&logical, line, len - continuing)) {
			r = err_set(e, "out of memory");
			break;
		}
		if (continuing)
			continue;
		r = matrix_parse_line(logical.s, file, start, m, e);
		logical.len = 0;
	}
	if (!r && continuing)
		r = matrix_parse_line(logical.s, file, start, m, e);
	if (!r && ferror(f))
		r = err_set(e, "%s: cannot read it", file);
	if (!r && !m->n)
		r = err_set(e, "%s:%u: no guests in this file", file, lineno);
	free(line);
	free(logical.s);
	if (r)
		matrix_free(m);
	return r;
}

/* ---- checking a guest's output ---- */

__attribute__((format(printf, 3, 4)))
static void add_reason(char *why, size_t size, const char *fmt, ...)
{
	size_t n = strlen(why);
	va_list ap;

	if (n && n + 2 < size) {
		memcpy(why + n, "; ", 3);
		n += 2;
	}
	if (n + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(why + n, size - n, fmt, ap);
	va_end(ap);
}

/* Reads one line of log into *line without \r, \n and NULs; false at the end. */
static bool next_line(FILE *log, char **line, size_t *cap)
{
	ssize_t len = getline(line, cap, log);
	ssize_t i, k = 0;

	if (len < 0)
		return false;
	for (i = 0; i < len; i++)
		if ((*line)[i] != '\r' && (*line)[i] != '\n' && (*line)[i])
			(*line)[k++] = (*line)[i];
	(*line)[k] = 0;
	return true;
}

unsigned int matrix_check_output(const struct matrix_guest *g, FILE *log, char *why, size_t size)
{
	bool *seen = calloc(g->nr_expect + g->nr_expect_re + 1, sizeof(*seen));
	char **rejected = calloc(g->nr_reject_re + 1, sizeof(*rejected));
	unsigned int fails = 0, i;
	char *line = NULL;
	size_t cap = 0;

	if (!seen || !rejected) {
		free(seen);
		free(rejected);
		add_reason(why, size, "out of memory");
		return 1;
	}
	while (next_line(log, &line, &cap)) {
		for (i = 0; i < g->nr_expect; i++)
			if (!seen[i] && !strcmp(line, g->expect[i]))
				seen[i] = true;
		for (i = 0; i < g->nr_expect_re; i++)
			if (!seen[g->nr_expect + i] && !regexec(&g->expect_re[i].re, line, 0, NULL, 0))
				seen[g->nr_expect + i] = true;
		for (i = 0; i < g->nr_reject_re; i++)
			if (!rejected[i] && !regexec(&g->reject_re[i].re, line, 0, NULL, 0))
				rejected[i] = strdup(line);
	}
	for (i = 0; i < g->nr_expect; i++) {
		if (!seen[i]) {
			add_reason(why, size, "missing line '%.100s'", g->expect[i]);
			fails++;
		}
	}
	for (i = 0; i < g->nr_expect_re; i++) {
		if (!seen[g->nr_expect + i]) {
			add_reason(why, size, "no line matches '%.100s'", g->expect_re[i].src);
			fails++;
		}
	}
	for (i = 0; i < g->nr_reject_re; i++) {
		if (rejected[i]) {
			add_reason(why, size, "line '%.80s' matches reject-re '%.100s'", rejected[i],
				   g->reject_re[i].src);
			fails++;
		}
		free(rejected[i]);
	}
	free(line);
	free(seen);
	free(rejected);
	return fails;
}

/* ---- running the guests ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* mkdir -p DIR */
static int mkdir_p(const char *dir, struct lkvm_err *e)
{
	char *p = strdup(dir);
	struct stat st;
	char *s;

	if (!p)
		return err_set(e, "out of memory");
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) && errno != EEXIST) {
			err_errno(e, errno, "--logs %s: cannot create %s", dir, p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return err_errno(e, errno, "--logs %s: cannot create it", dir);
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return err_set(e, "--logs %s: not a directory", dir);
	return 0;
}

/* Starts o->cmd + g->argv in its own process group, output to log_fd. */
static pid_t matrix_spawn(const struct matrix_guest *g, const struct matrix_run_opts *o, int log_fd,
			  struct lkvm_err *e)
{
	unsigned int nc = 0, i;
	pid_t parent = getpid(), pid;
	char **argv;
	int null_fd;

	while (o->cmd[nc])
		nc++;
	argv = calloc(nc + g->argc + 1, sizeof(*argv));
	if (!argv)
		return err_set(e, "out of memory");
	for (i = 0; i < nc; i++)
		argv[i] = (char *)o->cmd[i];
	for (i = 0; i < g->argc; i++)
		argv[nc + i] = g->argv[i];
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0) {
		free(argv);
		return err_errno(e, errno, "/dev/null");
	}
	fflush(o->out);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		/* its own group, so a timeout kills everything it started */
		setpgid(0, 0);
		/* and it goes when lkvm test goes (Ctrl-C, kill) */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
		    dup2(log_fd, STDERR_FILENO) < 0)
			_exit(127);
		if (o->exe)
			execv(o->exe, argv);
		else
			execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "lkvm test: cannot run %s: %s\n", o->exe ? o->exe : argv[0],
			strerror(errno));
		_exit(127);
	}
	if (pid < 0)
		err_errno(e, errno, "fork");
	else
		setpgid(pid, pid); /* whichever of the two runs first */
	close(null_fd);
	free(argv);
	return pid;
}

/* Waits for pid, killing its group at the timeout; returns its wait status. */
static int matrix_wait(pid_t pid, unsigned int timeout_s, unsigned int grace_ms, bool *timed_out)
{
	double deadline = now_s() + timeout_s;
	int status = 0;
	pid_t r;

	*timed_out = false;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_s() >= deadline)
			break;
		sleep_ms(20);
	}
	*timed_out = true;
	kill(-pid, SIGTERM);
	kill(pid, SIGTERM);
	deadline = now_s() + grace_ms / 1000.0;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			goto done;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_s() >= deadline)
			break;
		sleep_ms(20);
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -1;
done:
	/* anything left of its group */
	kill(-pid, SIGKILL);
	return status;
}

/* "#   | line" for the last lines of a failed guest's log */
static void matrix_print_tail(FILE *out, const char *path)
{
	char *ring[MATRIX_TAIL_LINES] = { NULL };
	unsigned int n = 0, i;
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (next_line(f, &line, &cap)) {
		free(ring[n % MATRIX_TAIL_LINES]);
		ring[n % MATRIX_TAIL_LINES] = strdup(line);
		n++;
	}
	fclose(f);
	free(line);
	for (i = n > MATRIX_TAIL_LINES ? n - MATRIX_TAIL_LINES : 0; i < n; i++) {
		const char *s = ring[i % MATRIX_TAIL_LINES];

		fprintf(out, "#   | %s\n", s ? s : "");
	}
	for (i = 0; i < MATRIX_TAIL_LINES; i++)
		free(ring[i]);
}

/* One guest: fills why (empty: passed) and what (how it ended). */
static void matrix_run_one(const struct matrix_guest *g, const struct matrix_run_opts *o,
			   const char *path, char *why, size_t size, char *what, size_t wsize)
{
	struct lkvm_err e;
	bool timed_out;
	int log_fd, status;
	FILE *log;
	pid_t pid;

	log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		add_reason(why, size, "cannot create its log %s: %s", path, strerror(errno));
		snprintf(what, wsize, "not started");
		return;
	}
	pid = matrix_spawn(g, o, log_fd, &e);
	close(log_fd);
	if (pid < 0) {
		add_reason(why, size, "%s", e.msg);
		snprintf(what, wsize, "not started");
		return;
	}
	status = matrix_wait(pid, g->timeout_s, o->kill_grace_ms, &timed_out);
	if (timed_out)
		add_reason(why, size, "timeout");
	if (status < 0) {
		add_reason(why, size, "waitpid: %s", strerror(errno));
		snprintf(what, wsize, "lost");
	} else if (WIFEXITED(status)) {
		snprintf(what, wsize, "exit status %d", WEXITSTATUS(status));
		if (!timed_out && WEXITSTATUS(status) != g->rc)
			add_reason(why, size, "exit status %d, expected %d", WEXITSTATUS(status), g->rc);
	} else {
		snprintf(what, wsize, "killed by signal %d", WTERMSIG(status));
		if (!timed_out)
			add_reason(why, size, "killed by signal %d", WTERMSIG(status));
	}
	log = fopen(path, "r");
	if (!log) {
		add_reason(why, size, "cannot read its log %s: %s", path, strerror(errno));
		return;
	}
	matrix_check_output(g, log, why, size);
	fclose(log);
}

int matrix_run(const struct matrix *m, const struct matrix_run_opts *o, struct lkvm_err *e)
{
	unsigned int i, k = 0, total = 0, failed = 0;
	FILE *out = o->out;

	if (mkdir_p(o->logs, e))
		return -1;
	for (i = 0; i < m->n; i++)
		total += !m->g[i].skip;
	fprintf(out, "TAP version 13\n1..%u\n", total);
	fflush(out);
	for (i = 0; i < m->n; i++) {
		const struct matrix_guest *g = &m->g[i];
		char path[PATH_MAX], why[1024] = "", what[64] = "";
		double t0 = now_s();

		if (g->skip)
			continue;
		k++;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s.log", o->logs, g->name) >= sizeof(path))
			add_reason(why, sizeof(why), "log path too long");
		else
			matrix_run_one(g, o, path, why, sizeof(why), what, sizeof(what));
		if (why[0]) {
			fprintf(out, "not ok %u - %s # %s\n", k, g->name, why);
			failed++;
		} else {
			fprintf(out, "ok %u - %s\n", k, g->name);
		}
		fprintf(out, "#   %s: %s after %.1f s, log %s\n", g->name, what, now_s() - t0, path);
		if (why[0])
			matrix_print_tail(out, path);
		fflush(out);
	}
	fprintf(out, "%u passed, %u failed\n", total - failed, failed);
	fflush(out);
	return (int)failed;
}

/* ---- lkvm test ---- */

static const struct option test_options[] = {
	{ "logs", required_argument, NULL, 'L' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_test(int argc, char **argv)
{
	static const char *const cmd[] = { "lkvm", "run", NULL };
	struct matrix_run_opts o = {
		.logs = MATRIX_DEFAULT_LOGS,
		.cmd = cmd,
		.kill_grace_ms = MATRIX_KILL_GRACE_MS,
		.out = stdout,
	};
	struct lkvm_err e = { "" };
	const char *file;
	struct matrix m;
	unsigned int i;
	int c, r;
	FILE *f;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", test_options, NULL)) != -1) {
		switch (c) {
		case 'L':
			o.logs = optarg;
			break;
		case 'h':
			test_usage(stdout);
			return 0;
		case ':':
			err_print("option %s needs a value", argv[optind - 1]);
			return 2;
		default:
			if (optopt)
				err_print("unknown option -%c (see lkvm test --help)", optopt);
			else
				err_print("unknown option %s (see lkvm test --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "lkvm: test: no matrix file given (see lkvm test --help)\n");
		return 2;
	}
	file = argv[optind];
	f = fopen(file, "r");
	if (!f) {
		err_print("%s: %s", file, strerror(errno));
		return 2;
	}
	r = matrix_parse(f, file, &m, &e);
	fclose(f);
	if (r) {
		fprintf(stderr, "lkvm: %s\n", e.msg);
		return 2;
	}
	if (optind + 1 < argc) {
		for (i = 0; i < m.n; i++)
			m.g[i].skip = true;
		for (c = optind + 1; c < argc; c++) {
			for (i = 0; i < m.n && strcmp(m.g[i].name, argv[c]); i++)
				;
			if (i == m.n) {
				err_print("%s: no guest named '%s'", file, argv[c]);
				matrix_free(&m);
				return 2;
			}
			m.g[i].skip = false;
		}
	}
	/* this same binary, even if it was replaced since it started */
	if (!access("/proc/self/exe", X_OK))
		o.exe = "/proc/self/exe";
	r = matrix_run(&m, &o, &e);
	matrix_free(&m);
	if (r < 0) {
		fprintf(stderr, "lkvm: %s\n", e.msg);
		return 2;
	}
	return r ? 1 : 0;
}
