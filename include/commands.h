/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_COMMANDS_H
#define LKVM_COMMANDS_H

/* lkvm's commands (commands.c); main.c only calls lkvm_main(). */
struct lkvm_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* The command table, in `lkvm help` order (the man page test reads it). */
const struct lkvm_command *lkvm_commands(unsigned int *nr);
/* lkvm COMMAND [ARGS...]: returns the exit status. */
int lkvm_main(int argc, char **argv, const char *version);

#endif
