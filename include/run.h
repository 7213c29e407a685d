/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_RUN_H
#define LKVM_RUN_H

#include <stdio.h>

#include "config.h"
#include "err.h"

/* lkvm's exit status (documented in `lkvm run --help` and the README) */
#define LKVM_EXIT_POWEROFF 0
#define LKVM_EXIT_ERROR 1
#define LKVM_EXIT_RESET 2
#define LKVM_EXIT_CRASH 3
#define LKVM_EXIT_USER 4
#define LKVM_EXIT_TIMEOUT 124 /* like timeout(1) */
#define LKVM_EXIT_SIGNAL_BASE 128

int cmd_run(int argc, char **argv);
/* lkvm test MATRIXFILE (cmd_test.c) */
int cmd_test(int argc, char **argv);
/* lkvm list | stop | pause | resume | debug | stat (cmd_ctl.c) */
int cmd_list(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_debug(int argc, char **argv);
int cmd_stat(int argc, char **argv);
/* Parses `lkvm run` options; 1 = --help was printed, -1 = error in e. */
int run_parse_options(int argc, char **argv, struct vm_config *cfg, struct lkvm_err *e);
int parse_mem_size(const char *s, uint64_t *bytes);
void run_usage(FILE *f);

#endif
