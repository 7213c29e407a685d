/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_SECCOMP_FILTER_H
#define LKVM_SECCOMP_FILTER_H

/*
 * lkvm's seccomp filter (libseccomp): once start-up is done, only the
 * syscalls lkvm itself uses are allowed. A denied syscall stops lkvm with
 * one line naming it (SIGSYS), the terminal restored, exit status 1.
 * (Not "seccomp.h": that is libseccomp's own header.)
 */

#include <stdbool.h>

#include "err.h"
#include "log.h"
#include "term.h"

/* false: built without libseccomp; seccomp_install() then only warns */
extern const bool seccomp_built_in;

struct seccomp_opts {
	bool net_sockets; /* a -n mode=user NIC: libslirp opens sockets */
	const struct term *term; /* restored by the SIGSYS handler if raw; may be NULL */
};

/*
 * Loads the filter into every thread of the process (TSYNC); threads
 * created later inherit it. Returns the number of rules in *nr_rules.
 */
int seccomp_install(const struct logger *log, const struct seccomp_opts *o,
		    unsigned int *nr_rules, struct lkvm_err *e);

struct vm_config;
/*
 * `lkvm run`, start-up done: seccomp_install() with what cfg needs, unless
 * --no-seccomp.
 */
int seccomp_run_install(const struct vm_config *cfg, const struct logger *log,
			const struct term *term, struct lkvm_err *e);

#endif
