/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_RUN_H
#define LKVM_RUN_H

#include "config.h"
#include "err.h"

/* lkvm's exit status (documented in `lkvm run --help` and the README) */
#define LKVM_EXIT_POWEROFF 0
#define LKVM_EXIT_ERROR 1
#define LKVM_EXIT_RESET 2
#define LKVM_EXIT_CRASH 3
#define LKVM_EXIT_USER 4
#define LKVM_EXIT_SIGNAL_BASE 128

int cmd_run(int argc, char **argv);
/* Parses `lkvm run` options; 1 = --help was printed, -1 = error in e. */
int run_parse_options(int argc, char **argv, struct vm_config *cfg, struct lkvm_err *e);
int parse_mem_size(const char *s, uint64_t *bytes);

#endif
