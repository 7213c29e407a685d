// SPDX-License-Identifier: GPL-2.0
/*
 * The parsers of what a user types: `lkvm run` options (run_opts.c, with
 * getopt_long), the -d, -n and --9p specs (disk/disk.c, net/net.c,
 * virtio/9p.c), RAM sizes, log levels, VM names, and `lkvm test` matrix
 * files (cmd_test.c: sh-like word splitting, $VAR expansion, regexes). The
 * input is
 *
 *   sel[1]  then words, split on NUL bytes (at most FO_MAX_WORDS)
 *
 * sel % 4: 0 `lkvm run WORDS...`; 1 every word through every spec parser;
 * 2 word 0 as a matrix file, each guest's args through the run parser,
 * word 1 as a guest's log through the output checks; 3 every word through
 * the matrix word splitter, with and without $ expansion.
 *
 * Checked: a parser returns 0 or -1 (1 for --help), with a non-empty
 * message on error, one line without control characters whatever the words
 * held; what it accepts is within its limits (counts,
 * enums, RAM size, name, tag and interface lengths) and points into the
 * user's words; parsing the same words twice gives the same result (no
 * getopt state carried over: optind = 0 resets glibc's, even in the middle
 * of "-zc8"); all it allocates is freed (LeakSanitizer).
 *
 * FUZZ_STRICT_MESSAGES=1 also checks that a message quotes the user, not
 * something else: words without control characters or backslashes give a
 * message without "\x" escapes, and "unknown option X" or "option X ..."
 * names an X the user typed (off by default: see tests/fuzz/README.md).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_test.h"
#include "control.h"
#include "disk.h"
#include "fuzz_common.h"
#include "net.h"
#include "p9.h"
#include "run.h"
#include "util.h"
#include "virtio_devs.h"
#include "vm.h"

#define FO_MAX_WORDS 64
#define FO_TAG_MAX 64 /* virtio/9p.c's P9_TAG_MAX, with its NUL */

enum { SEL_RUN, SEL_SPECS, SEL_MATRIX, SEL_SPLIT };

struct fo_words {
	char *buf; /* the input after sel, NUL-terminated, split in place */
	size_t len;
	char *w[FO_MAX_WORDS + 2];
	unsigned int n;
};

static bool fo_strict, fo_debug;

/* x[0..len) is an option as the user typed it: a word, up to a '=', or -c in a cluster */
static bool fo_typed(const struct fo_words *in, const char *x, size_t len)
{
	unsigned int i;

	for (i = 0; i < in->n; i++) {
		const char *w = in->w[i];

		if (!strncmp(w, x, len) && (!w[len] || w[len] == '='))
			return true;
		if (len == 2 && x[0] == '-' && x[1] != '-' && w[0] == '-' && w[1] != '-' &&
		    strchr(w + 1, x[1]))
			return true;
	}
	return false;
}

/*
 * A message "<prefix>X ..." about an option X names an option the user
 * typed; an unknown one, that fails on its own too.
 */
static void fo_check_named(const char *msg, const char *prefix, const struct fo_words *in)
{
	size_t n = strlen(prefix);
	const char *x = msg + n, *end;
	char word[sizeof(((struct lkvm_err *)0)->msg)], *argv[5];
	struct vm_config cfg;
	struct lkvm_err e;

	unsigned int i;

	if (strncmp(msg, prefix, n))
		return;
	/* a word that holds the message's own words makes X ambiguous: skip */
	for (i = 0; i < in->n; i++)
		if (strstr(in->w[i], " (see lkvm run --help)") || strstr(in->w[i], " needs a value") ||
		    strstr(in->w[i], " takes no value"))
			return;
	/* X may hold blanks: it ends where the message goes on */
	end = strstr(x, " takes no value");
	if (!end)
		end = strstr(x, " (see lkvm run --help)");
	if (!end)
		end = strstr(x, " needs a value");
	if (!end)
		return;
	FZ_ASSERT(x[0] == '-' && fo_typed(in, x, end - x));
	if (strcmp(prefix, "unknown option "))
		return;
	memcpy(word, x, end - x);
	word[end - x] = 0;
	argv[0] = "run";
	argv[1] = "-k";
	argv[2] = "Image";
	argv[3] = word;
	argv[4] = NULL;
	FZ_ASSERT(run_parse_options(4, argv, &cfg, &e) == -1);
}

/*
 * A message lkvm prints as "lkvm: <msg>": there, and one line without
 * control characters whatever the user typed (err_set escapes them): a
 * newline in an argument must not forge a second "lkvm:" line, nor an
 * escape sequence reach the terminal.
 */
static void fo_check_msg(const struct lkvm_err *e, const struct fo_words *in)
{
	const char *p;
	unsigned int i;

	FZ_ASSERT(e->msg[0]);
	FZ_ASSERT(strnlen(e->msg, sizeof(e->msg)) < sizeof(e->msg));
	for (p = e->msg; *p; p++)
		FZ_ASSERT(!iscntrl((unsigned char)*p));
	if (!fo_strict || !in)
		return;
	/* the message quotes words as typed: no escapes unless the words need them */
	for (i = 0; i < in->n; i++) {
		for (p = in->w[i]; *p; p++)
			if (*p == '\\' || iscntrl((unsigned char)*p))
				return;
	}
	/* "\x06" where the user typed "--rng=1" quotes nothing the user typed */
	FZ_ASSERT(!strstr(e->msg, "\\x"));
	/* nor does "unknown option run" for "-zc8" (argv[optind - 1] is a word too early) */
	fo_check_named(e->msg, "unknown option ", in);
	fo_check_named(e->msg, "option ", in);
}

/* p is NULL or points into the words: run_parse_options copies nothing */
static bool fo_in_words(const struct fo_words *in, const char *p)
{
	return !p || !in || (p >= in->buf && p < in->buf + in->len + 1);
}

static void fo_disk(const char *spec)
{
	struct disk_opts o;
	struct lkvm_err e = { "" };
	const char *comma = strchr(spec, ',');
	char *path = NULL;

	if (disk_parse_spec(spec, &path, &o, &e)) {
		FZ_ASSERT(!path);
		fo_check_msg(&e, NULL);
		return;
	}
	/* FILE is everything before the first comma, never empty */
	FZ_ASSERT(path && *path && !strchr(path, ','));
	FZ_ASSERT(strlen(path) == (comma ? (size_t)(comma - spec) : strlen(spec)));
	FZ_ASSERT(o.format == DISK_FMT_AUTO || o.format == DISK_FMT_RAW ||
		  o.format == DISK_FMT_QCOW2);
	free(path);
}

static void fo_net(const char *spec)
{
	struct lkvm_err e = { "" };
	struct net_opts o;
	unsigned int i;

	if (net_parse_spec(spec, &o, &e)) {
		fo_check_msg(&e, NULL);
		return;
	}
	FZ_ASSERT(o.mode == NET_MODE_USER || o.mode == NET_MODE_TAP || o.mode == NET_MODE_NONE);
	FZ_ASSERT(o.nr_fwd <= NET_MAX_HOSTFWD);
	/* an interface name the kernel takes: IFNAMSIZ with its NUL, no '/' */
	FZ_ASSERT(strnlen(o.tapif, sizeof(o.tapif)) < sizeof(o.tapif) && !strchr(o.tapif, '/'));
	/* a guest MAC is unicast */
	FZ_ASSERT(!o.mac_set || !(o.guest_mac[0] & 1));
	FZ_ASSERT(!o.host_ip_set || (o.host_prefix >= 1 && o.host_prefix <= 30));
	/* tap options only for tap, forwards only for user */
	FZ_ASSERT(o.mode == NET_MODE_TAP || (!o.tapif[0] && !o.host_ip_set));
	FZ_ASSERT(o.mode == NET_MODE_USER || !o.nr_fwd);
	for (i = 0; i < o.nr_fwd; i++)
		FZ_ASSERT(o.fwd[i].host_port && o.fwd[i].guest_port);
}

static void fo_9p(const char *spec)
{
	struct lkvm_err e = { "" };
	char *dir = NULL, *tag = NULL;
	unsigned int flags;

	if (virtio_9p_parse_spec(spec, &dir, &tag, &flags, &e)) {
		FZ_ASSERT(!dir && !tag);
		fo_check_msg(&e, NULL);
		return;
	}
	/* DIR[,TAG[,ro][,setid][,owners]]: both there; the tag fits the device's config space */
	FZ_ASSERT(dir && *dir && !strchr(dir, ','));
	FZ_ASSERT(tag && *tag && !strchr(tag, ',') && strlen(tag) < FO_TAG_MAX);
	FZ_ASSERT(!(flags & ~(P9_SHARE_RO | P9_SHARE_SETID | P9_SHARE_OWNERS)));
	free(dir);
	free(tag);
}

static void fo_hostfwd(const char *rule)
{
	struct net_hostfwd f;

	if (!net_parse_hostfwd(rule, &f))
		FZ_ASSERT(f.host_port && f.guest_port);
}

static void fo_mem(const char *s)
{
	uint64_t bytes = 0;

	/* digits and one of K M G T (none: MiB), never 0, never wrapped */
	if (!parse_mem_size(s, &bytes))
		FZ_ASSERT(bytes && !(bytes % 1024));
}

/* Everything a successful parse promises run.c. */
static void fo_check_cfg(const struct vm_config *cfg, const struct fo_words *in)
{
	unsigned int i;

	FZ_ASSERT(cfg->kernel_path || cfg->dump_dtb);
	FZ_ASSERT(cfg->ram_size && !(cfg->ram_size % SZ_2M));
	FZ_ASSERT(cfg->nr_cpus >= 1 && cfg->nr_cpus <= VM_MAX_VCPUS);
	FZ_ASSERT(cfg->irqchip == IRQCHIP_GICV3 || cfg->irqchip == IRQCHIP_GICV2);
	FZ_ASSERT(!cfg->its || cfg->irqchip == IRQCHIP_GICV3); /* an ITS is a GICv3's */
	FZ_ASSERT(cfg->console == CONSOLE_SERIAL || cfg->console == CONSOLE_VIRTIO);
	FZ_ASSERT(cfg->loglevel <= LOG_DEBUG);
	FZ_ASSERT(cfg->transport == VIRTIO_MMIO_MODERN || cfg->transport == VIRTIO_MMIO_LEGACY);
	FZ_ASSERT(cfg->endian_offer <= VIRTIO_OFFER_NONE);
	FZ_ASSERT(!cfg->endian_force || cfg->endian_force == VQ_LE || cfg->endian_force == VQ_BE);
	FZ_ASSERT(!cfg->name || control_name_ok(cfg->name));
	FZ_ASSERT(cfg->nr_disks <= CONFIG_MAX_DISKS && cfg->nr_p9 <= CONFIG_MAX_9P &&
		  cfg->nr_nets <= CONFIG_MAX_NETS);
	FZ_ASSERT(fo_in_words(in, cfg->kernel_path) && fo_in_words(in, cfg->initrd_path) &&
		  fo_in_words(in, cfg->cmdline) && fo_in_words(in, cfg->dump_dtb) &&
		  fo_in_words(in, cfg->name) && fo_in_words(in, cfg->console_log));
	for (i = 0; i < cfg->nr_disks; i++) {
		FZ_ASSERT(cfg->disks[i] && fo_in_words(in, cfg->disks[i]));
		fo_disk(cfg->disks[i]);
	}
	for (i = 0; i < cfg->nr_p9; i++) {
		FZ_ASSERT(cfg->p9[i] && fo_in_words(in, cfg->p9[i]));
		fo_9p(cfg->p9[i]);
	}
	for (i = 0; i < cfg->nr_nets; i++) {
		struct lkvm_err e;
		struct net_opts o;

		/* checked as it was taken: run.c parses it again and must not fail */
		FZ_ASSERT(cfg->nets[i] && fo_in_words(in, cfg->nets[i]));
		FZ_ASSERT(!net_parse_spec(cfg->nets[i], &o, &e));
		fo_net(cfg->nets[i]);
	}
}

/* `lkvm run` with these words, twice: the same both times. */
static void fo_run(char **words, unsigned int n, const struct fo_words *in)
{
	char *argv[2][FO_MAX_WORDS + 2];
	struct vm_config cfg[2];
	struct lkvm_err e[2];
	int r[2], k;

	for (k = 0; k < 2; k++) {
		/* getopt permutes argv: each run gets its own copy, as main() would */
		argv[k][0] = "run";
		memcpy(&argv[k][1], words, n * sizeof(*words));
		argv[k][n + 1] = NULL;
		memset(&cfg[k], 0, sizeof(cfg[k]));
		memset(&e[k], 0, sizeof(e[k]));
		r[k] = run_parse_options((int)n + 1, argv[k], &cfg[k], &e[k]);
		FZ_ASSERT(r[k] == 0 || r[k] == -1 || r[k] == 1);
	}
	/* seed debugging: what lkvm run would say */
	if (fo_debug)
		fprintf(stderr, "options: run -> %d %s\n", r[0], e[0].msg);
	FZ_ASSERT(r[0] == r[1] && !strcmp(e[0].msg, e[1].msg));
	FZ_ASSERT(!memcmp(&cfg[0], &cfg[1], sizeof(cfg[0])));
	if (r[0] == -1)
		fo_check_msg(&e[0], in);
	else if (r[0] == 0)
		fo_check_cfg(&cfg[0], in);
}

static void fo_specs(const struct fo_words *in)
{
	enum log_level lv;
	unsigned int i;

	for (i = 0; i < in->n; i++) {
		const char *s = in->w[i];

		fo_disk(s);
		fo_net(s);
		fo_9p(s);
		fo_hostfwd(s);
		fo_mem(s);
		if (!log_parse_level(s, &lv))
			FZ_ASSERT(lv <= LOG_DEBUG);
		/* a VM name is a file name in the control directory */
		if (control_name_ok(s))
			FZ_ASSERT(strlen(s) <= CONTROL_NAME_MAX && s[0] != '.' && !strchr(s, '/'));
	}
}

static void fo_split(const char *s, bool expand)
{
	struct lkvm_err e = { "" };
	unsigned int n, i;
	char **w;

	if (matrix_split(s, expand, &w, &n, &e)) {
		FZ_ASSERT(!w);
		fo_check_msg(&e, NULL);
		return;
	}
	/* NULL-terminated after n words; nothing is run, so no ` or $( survives unquoted */
	FZ_ASSERT(w);
	for (i = 0; i < n; i++)
		FZ_ASSERT(w[i]);
	FZ_ASSERT(!w[n]);
	matrix_words_free(w);
}

static bool fo_name_ok(const char *s)
{
	size_t i;

	if (!isalnum((unsigned char)s[0]) || strlen(s) > MATRIX_NAME_MAX)
		return false;
	for (i = 1; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

/*
 * glibc's regcomp() is slow on some regexes, whoever compiles them: it
 * copies a subexpression once per count of a {m,n} bound, so nested bounds
 * like ((a{100}){100}){100} take seconds and gigabytes, and its closure of
 * stacked repetitions (a**** ...) grows with their cube (48 stars: 1.7 s).
 * That is what `lkvm test` does with such an expect-re= (reported, not
 * lkvm's to fix). Texts with more than FO_MAX_REPEATS of * + ? { or bounds
 * whose product passes 4096 are left out, so the fuzzer does not chase it.
 */
#define FO_MAX_REPEATS 12

static bool fo_regex_bomb(const char *s)
{
	unsigned long product = 1, v, best;
	unsigned int repeats = 0;
	const char *p;
	char *end;

	for (p = s; *p; p++)
		repeats += !!strchr("*+?{", *p);
	if (repeats > FO_MAX_REPEATS)
		return true;
	while ((s = strchr(s, '{'))) {
		s++;
		best = 0;
		while (isdigit((unsigned char)*s)) {
			v = strtoul(s, &end, 10);
			best = MAX(best, MIN(v, 100000UL));
			s = end;
			if (*s == ',')
				s++;
		}
		if (best > 1)
			product *= best;
		if (product > 4096)
			return true;
	}
	return false;
}

static void fo_matrix(const struct fo_words *in)
{
	const char *text = in->n ? in->w[0] : "", *log = in->n > 1 ? in->w[1] : "";
	struct lkvm_err e = { "" };
	struct matrix m;
	unsigned int i, j, fails;
	char why[512];
	FILE *f;
	int r;

	if (!*text || fo_regex_bomb(text))
		return; /* fmemopen wants at least a byte */
	f = fmemopen((void *)text, strlen(text), "r");
	FZ_ASSERT(f);
	r = matrix_parse(f, "fuzz.matrix", &m, &e);
	fclose(f);
	FZ_ASSERT(r == 0 || r == -1);
	if (r) {
		/* matrix_free'd on error */
		FZ_ASSERT(!m.g && !m.n);
		fo_check_msg(&e, NULL);
		return;
	}
	FZ_ASSERT(m.n >= 1);
	for (i = 0; i < m.n; i++) {
		const struct matrix_guest *g = &m.g[i];

		FZ_ASSERT(g->name && fo_name_ok(g->name));
		for (j = 0; j < i; j++)
			FZ_ASSERT(strcmp(g->name, m.g[j].name));
		FZ_ASSERT(g->argv && g->argc >= 1 && !g->argv[g->argc]);
		FZ_ASSERT(g->timeout_s >= 1 && g->rc >= 0 && g->rc <= 255);
		/* what `lkvm test` will run: `lkvm run ARGS` */
		if (g->argc <= FO_MAX_WORDS)
			fo_run(g->argv, g->argc, NULL);
		/* a guest's log against its expectations: one TAP line of reasons */
		f = fmemopen((void *)log, strlen(log) + 1, "r");
		FZ_ASSERT(f);
		why[0] = 0;
		fails = matrix_check_output(g, f, why, sizeof(why));
		fclose(f);
		FZ_ASSERT(fails <= g->nr_expect + g->nr_expect_re + g->nr_reject_re);
		FZ_ASSERT(!fails == !why[0] && strnlen(why, sizeof(why)) < sizeof(why));
		FZ_ASSERT(!strchr(why, '\n'));
	}
	matrix_free(&m);
	FZ_ASSERT(!m.g && !m.n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* on since messages name the short option by its letter; =0 turns it off */
	fo_strict = !getenv("FUZZ_STRICT_MESSAGES") || atoi(getenv("FUZZ_STRICT_MESSAGES"));
	fo_debug = getenv("LKVM_FUZZ_DEBUG");
	/* for $VAR in matrix files: a value with blanks and quotes is never split */
	setenv("LKVM_FUZZ_WORDS", "a b 'c' \"d\" $HOME `x`", 1);
	setenv("KDIR", "/k", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fo_words in = { 0 };
	uint8_t sel = size ? data[0] : 0;
	size_t i;
	char *p;

	if (size)
		data++, size--;
	/* the words are read in place: copy with a final NUL */
	in.buf = malloc(size + 1);
	FZ_ASSERT(in.buf);
	memcpy(in.buf, data, size);
	in.buf[size] = 0;
	in.len = size;
	for (p = in.buf, i = 0; i <= size && in.n < FO_MAX_WORDS; i++) {
		if (!in.buf[i]) {
			in.w[in.n++] = p;
			p = in.buf + i + 1;
		}
	}
	in.w[in.n] = NULL;

	switch (sel % 4) {
	case SEL_RUN:
		fo_run(in.w, in.n, &in);
		break;
	case SEL_SPECS:
		fo_specs(&in);
		break;
	case SEL_MATRIX:
		fo_matrix(&in);
		break;
	default:
		for (i = 0; i < in.n; i++) {
			fo_split(in.w[i], false);
			fo_split(in.w[i], true);
		}
		break;
	}
	free(in.buf);
	return 0;
}
