// SPDX-License-Identifier: GPL-2.0
/*
 * docs/lkvm.1 against what lkvm itself says, both ways:
 *   the commands of the command table (commands.c) = the .TP tags of COMMANDS;
 *   every -x / --long option in `lkvm run --help` (run_usage) = those of the
 *   .TP tags of RUN OPTIONS, and the same for `lkvm test --help` / TEST OPTIONS;
 *   the exit statuses listed by each --help = the .TP tags of EXIT STATUS,
 *   subsections "lkvm run" and "lkvm test".
 * The help texts are produced now, by the code, so a new option fails this
 * test until the man page documents it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_test.h"
#include "commands.h"
#include "run.h"
#include "test.h"
#include "util.h"

struct strset {
	char **s;
	unsigned int n;
};

static bool set_has(const struct strset *set, const char *s)
{
	unsigned int i;

	for (i = 0; i < set->n; i++)
		if (!strcmp(set->s[i], s))
			return true;
	return false;
}

static void set_add(struct strset *set, const char *s, size_t len)
{
	char *c = strndup(s, len);
	char **grown;

	if (!CHECK(c))
		return;
	if (set_has(set, c)) {
		free(c);
		return;
	}
	grown = realloc(set->s, (set->n + 1) * sizeof(*grown));
	if (!CHECK(grown)) {
		free(c);
		return;
	}
	set->s = grown;
	set->s[set->n++] = c;
}

static void set_free(struct strset *set)
{
	unsigned int i;

	for (i = 0; i < set->n; i++)
		free(set->s[i]);
	free(set->s);
	set->s = NULL;
	set->n = 0;
}

/* What f writes, as a string. */
static char *capture(void (*fn)(FILE *f))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!CHECK(f))
		return NULL;
	fn(f);
	fclose(f);
	return text;
}

static bool opt_char(char c)
{
	return isalnum((unsigned char)c) || c == '-';
}

/*
 * The options at the start of p: "-d, --disk FILE[,ro]" gives -d and --disk;
 * the first word that is not an option ends them.
 */
static void option_words(const char *p, struct strset *out)
{
	for (;;) {
		size_t n = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '-')
			return;
		while (opt_char(p[n]))
			n++;
		if ((n == 2 && p[1] != '-') || (n > 2 && p[1] == '-' && isalnum((unsigned char)p[2])))
			set_add(out, p, n);
		p += n;
		/* "-d," / "--logs=DIR" / "--disk FILE": skip to the next word */
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
}

/* --help: the option lines are the ones indented a little that start with '-'. */
static void help_options(const char *text, struct strset *out)
{
	const char *line = text;

	while (line && *line) {
		const char *p = line;

		while (*p == ' ')
			p++;
		if (p > line && p - line <= 8 && *p == '-')
			option_words(p, out);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
}

/* --help: the first word of each line of the "Exit status:" list. */
static void help_statuses(const char *text, struct strset *out)
{
	const char *line = strstr(text, "\nExit status:\n");

	if (!CHECK(line))
		return;
	line = strchr(line + 1, '\n') + 1;
	while (line[0] == ' ') {
		const char *p = line, *end;

		while (*p == ' ')
			p++;
		end = p;
		while (*end && *end != ' ' && *end != '\n')
			end++;
		set_add(out, p, end - p);
		line = strchr(line, '\n');
		if (!line)
			break;
		line++;
	}
}

/* roff to text, for a tag line: font changes dropped, \- is - */
static void man_unescape(const char *in, char *out, size_t size)
{
	size_t n = 0;

	while (*in && *in != '\n' && n + 1 < size) {
		if (*in != '\\') {
			out[n++] = *in++;
			continue;
		}
		in++;
		switch (*in) {
		case 'f': /* \fB, \f(CW, \f[B] */
			in++;
			if (*in == '(')
				in += *(in + 1) && *(in + 2) ? 3 : 1;
			else if (*in == '[')
				while (*in && *in++ != ']')
					;
			else if (*in)
				in++;
			break;
		case '&':
		case '%':
			in++;
			break;
		case 'e':
			out[n++] = '\\';
			in++;
			break;
		case '(': /* \(em and friends: a character we do not need */
			out[n++] = '?';
			in += *(in + 1) && *(in + 2) ? 3 : 1;
			break;
		case 0:
			break;
		default: /* \- \\ \" ... */
			out[n++] = *in++;
		}
	}
	out[n] = 0;
}

/*
 * A tag line as text: ".B run" is "run"; alternating-font macros join their
 * arguments (".BI 128+ N" is "128+N"); then man_unescape.
 */
static void man_tag_text(const char *line, char *out, size_t size)
{
	char joined[512];
	size_t n = 0;
	bool alternate;

	if (line[0] != '.') {
		man_unescape(line, out, size);
		return;
	}
	line++;
	alternate = line[0] && line[1] && line[1] != ' ' && line[1] != '\n';
	while (*line && *line != ' ' && *line != '\n')
		line++;
	while (*line == ' ')
		line++;
	while (*line && *line != '\n' && n + 1 < sizeof(joined)) {
		if (*line == '"') {
			for (line++; *line && *line != '"' && *line != '\n' && n + 1 < sizeof(joined);)
				joined[n++] = *line++;
			if (*line == '"')
				line++;
			continue;
		}
		if (*line == ' ') {
			while (*line == ' ')
				line++;
			if (!alternate && n + 1 < sizeof(joined))
				joined[n++] = ' ';
			continue;
		}
		joined[n++] = *line++;
	}
	joined[n] = 0;
	man_unescape(joined, out, size);
}

/* The .TP tags of man section sect (and subsection sub, if not NULL), unescaped. */
static void man_tags(const char *man, const char *sect, const char *sub,
		     void (*take)(const char *tag, struct strset *out), struct strset *out)
{
	char cur_sect[128] = "", cur_sub[128] = "", tag[512];
	const char *line = man;

	while (line && *line) {
		const char *next = strchr(line, '\n');

		next = next ? next + 1 : NULL;
		if (!strncmp(line, ".SH ", 4) || !strncmp(line, ".SS ", 4)) {
			char *dst = line[2] == 'H' ? cur_sect : cur_sub;
			const char *p = line + 4;
			size_t n = 0;

			while (*p && *p != '\n' && n + 1 < sizeof(cur_sect)) {
				if (*p != '"')
					dst[n++] = *p;
				p++;
			}
			dst[n] = 0;
			if (line[2] == 'H')
				cur_sub[0] = 0;
		} else if (!strncmp(line, ".TP", 3) && (line[3] == '\n' || line[3] == ' ') && next &&
			   !strcmp(cur_sect, sect) && (!sub || !strcmp(cur_sub, sub))) {
			man_tag_text(next, tag, sizeof(tag));
			take(tag, out);
		}
		line = next;
	}
}

static void take_first_word(const char *tag, struct strset *out)
{
	size_t n = 0;

	while (tag[n] && tag[n] != ' ')
		n++;
	set_add(out, tag, n);
}

static void take_options(const char *tag, struct strset *out)
{
	option_words(tag, out);
}

/* Appends to diff every member of a missing from b; returns how many. */
static unsigned int set_missing(const struct strset *a, const struct strset *b, const char *what,
				const char *in_a, const char *not_in_b, char *diff, size_t size)
{
	unsigned int i, n = 0;
	size_t len = strlen(diff);

	for (i = 0; i < a->n; i++) {
		if (set_has(b, a->s[i]))
			continue;
		n++;
		if (len + 1 < size)
			len += snprintf(diff + len, size - len, "%s%s %s is in %s but not in %s",
					len ? "; " : "", what, a->s[i], in_a, not_in_b);
	}
	return n;
}

static unsigned int compare(const struct strset *help, const struct strset *man, const char *what,
			    const char *help_name, char *diff, size_t size)
{
	return set_missing(help, man, what, help_name, "docs/lkvm.1", diff, size) +
	       set_missing(man, help, what, "docs/lkvm.1", help_name, diff, size);
}

/* Every difference between the man page text and lkvm's help; 0: none. */
static unsigned int man_diff(const char *man, char *diff, size_t size)
{
	struct strset help = { NULL, 0 }, doc = { NULL, 0 };
	const struct lkvm_command *cmds;
	char *run_help = capture(run_usage), *test_help = capture(test_usage);
	unsigned int n = 0, nr, i;

	diff[0] = 0;
	if (!run_help || !test_help)
		return 1;

	cmds = lkvm_commands(&nr);
	for (i = 0; i < nr; i++)
		set_add(&help, cmds[i].name, strlen(cmds[i].name));
	man_tags(man, "COMMANDS", NULL, take_first_word, &doc);
	n += compare(&help, &doc, "command", "the command table", diff, size);
	set_free(&help);
	set_free(&doc);

	help_options(run_help, &help);
	/* the extraction itself works: a few options every version has */
	CHECK(set_has(&help, "-k") && set_has(&help, "--kernel") && set_has(&help, "--aarch32") &&
	      set_has(&help, "--help") && !set_has(&help, "-t") && help.n > 20);
	man_tags(man, "RUN OPTIONS", NULL, take_options, &doc);
	n += compare(&help, &doc, "option", "lkvm run --help", diff, size);
	set_free(&help);
	set_free(&doc);

	help_options(test_help, &help);
	CHECK(set_has(&help, "--logs") && set_has(&help, "-h"));
	man_tags(man, "TEST OPTIONS", NULL, take_options, &doc);
	n += compare(&help, &doc, "option", "lkvm test --help", diff, size);
	set_free(&help);
	set_free(&doc);

	help_statuses(run_help, &help);
	CHECK(set_has(&help, "0") && set_has(&help, "124") && set_has(&help, "128+N"));
	man_tags(man, "EXIT STATUS", "lkvm run", take_first_word, &doc);
	n += compare(&help, &doc, "exit status", "lkvm run --help", diff, size);
	set_free(&help);
	set_free(&doc);

	help_statuses(test_help, &help);
	man_tags(man, "EXIT STATUS", "lkvm test", take_first_word, &doc);
	n += compare(&help, &doc, "exit status", "lkvm test --help", diff, size);
	set_free(&help);
	set_free(&doc);

	free(run_help);
	free(test_help);
	return n;
}

/* docs/lkvm.1 of the tree the tests run from: DATADIR is .../tests/unit/data */
static char *read_man(void)
{
	const char *data = test_data_dir(), *suffix = "tests/unit/data";
	size_t dl = strlen(data), sl = strlen(suffix), len = 0;
	char path[4096];
	char *text;
	FILE *f;

	if (dl >= sl && !strcmp(data + dl - sl, suffix))
		snprintf(path, sizeof(path), "%.*sdocs/lkvm.1", (int)(dl - sl), data);
	else
		snprintf(path, sizeof(path), "docs/lkvm.1");
	f = fopen(path, "r");
	if (!f) {
		test_fail(__FILE__, __LINE__, "cannot open %s (run from the top of the tree)", path);
		return NULL;
	}
	text = malloc(1 << 20);
	if (CHECK(text)) {
		len = fread(text, 1, (1 << 20) - 1, f);
		text[len] = 0;
	}
	fclose(f);
	return text;
}

TEST(man, agrees_with_help)
{
	char *man = read_man();
	char diff[4096];

	if (!man)
		return;
	if (man_diff(man, diff, sizeof(diff)))
		test_fail(__FILE__, __LINE__, "docs/lkvm.1 and --help disagree: %s", diff);
	free(man);
}

/* The check itself catches a missing and an extra option, command and status. */
TEST(man, disagreement_is_caught)
{
	static const struct {
		const char *from, *to, *expect;
	} edits[] = {
		{ "\\fB\\-\\-rng\\fR\n", "\\fB\\-\\-rnd\\fR\n",
		  "option --rng is in lkvm run --help but not in docs/lkvm.1; "
		  "option --rnd is in docs/lkvm.1 but not in lkvm run --help" },
		{ "\\fB\\-i\\fR, \\fB\\-\\-initrd\\fR", "\\fB\\-\\-initrd\\fR",
		  "option -i is in lkvm run --help but not in docs/lkvm.1" },
		{ "\\fB\\-\\-logs\\fR \\fIDIR\\fR", "\\fB\\-l\\fR, \\fB\\-\\-logs\\fR",
		  "option -l is in docs/lkvm.1 but not in lkvm test --help" },
		{ ".TP\n.B pause\n", ".TP\n.B suspend\n",
		  "command pause is in the command table but not in docs/lkvm.1; "
		  "command suspend is in docs/lkvm.1 but not in the command table" },
		{ ".TP\n.B 124\n", ".TP\n.B 125\n",
		  "exit status 124 is in lkvm run --help but not in docs/lkvm.1" },
	};
	char *man = read_man();
	char diff[4096];
	unsigned int i;

	if (!man)
		return;
	for (i = 0; i < ARRAY_SIZE(edits); i++) {
		const char *at = strstr(man, edits[i].from);
		size_t fl = strlen(edits[i].from), tl = strlen(edits[i].to);
		char *doctored;

		if (!CHECK(at))
			continue;
		doctored = malloc(strlen(man) + tl + 1);
		if (!CHECK(doctored))
			continue;
		memcpy(doctored, man, at - man);
		memcpy(doctored + (at - man), edits[i].to, tl);
		strcpy(doctored + (at - man) + tl, at + fl);
		CHECK(man_diff(doctored, diff, sizeof(diff)) > 0);
		CHECK_CONTAINS(diff, edits[i].expect);
		free(doctored);
	}
	free(man);
}
