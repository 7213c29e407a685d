// SPDX-License-Identifier: GPL-2.0
/* lkvm's command table and dispatch; main.c only supplies the version. */
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "commands.h"
#include "err.h"
#include "run.h"
#include "util.h"

static const char *lkvm_version = "0.1";

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct lkvm_command commands[] = {
	{ "run", cmd_run, "boot a guest (lkvm run --help)" },
	{ "test", cmd_test, "test MATRIXFILE: boot a list of guests, check them, print TAP" },
	{ "list", cmd_list, "list running VMs: name pid state cpus memory (gives up after 5 s)" },
	{ "stop", cmd_stop, "stop NAME|--all: stop running VMs (they exit 4)" },
	{ "pause", cmd_pause, "pause NAME: park its vCPUs" },
	{ "resume", cmd_resume, "resume NAME: let them run again" },
	{ "debug", cmd_debug, "debug NAME --dump: vCPU registers and virtqueue state" },
	{ "stat", cmd_stat, "stat NAME: uptime and exit counters" },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "this list" },
};

const struct lkvm_command *lkvm_commands(unsigned int *nr)
{
	*nr = ARRAY_SIZE(commands);
	return commands;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("lkvm %s (%s backend)\n", lkvm_version, arch_host_ops.name);
	return 0;
}

static void usage(FILE *f)
{
	unsigned int i;

	/* kvm-unit-tests' runner finds a kvmtool-like VMM by this phrase */
	fprintf(f, "usage: lkvm COMMAND [options]\n\nThe most commonly used lkvm commands are:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nlkvm COMMAND --help for a command's options; man lkvm for all of it.\n");
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

int lkvm_main(int argc, char **argv, const char *version)
{
	unsigned int i;

	if (version)
		lkvm_version = version;
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
	err_print("unknown command '%s' (see lkvm help)", argv[1]);
	return 1;
}
