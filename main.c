// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "run.h"
#include "util.h"

#ifndef LKVM_VERSION
#define LKVM_VERSION "0.1"
#endif

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "run", cmd_run, "boot a guest (lkvm run --help)" },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "this list" },
};

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("lkvm %s (%s backend)\n", LKVM_VERSION, arch_host_ops.name);
	return 0;
}

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f, "usage: lkvm COMMAND [options]\n\ncommands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int i;

	if (argc < 2) {
		fprintf(stderr, "lkvm: no command given (see lkvm help)\n");
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "lkvm: unknown command '%s' (see lkvm help)\n", argv[1]);
	return 1;
}
