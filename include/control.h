/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_CONTROL_H
#define LKVM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "evloop.h"

/*
 * One UNIX socket per running VM ($XDG_RUNTIME_DIR/lkvm/NAME.sock, else
 * ~/.lkvm/NAME.sock; directory 0700, socket 0600). A client sends one
 * command line; the VM answers with lines, the last "OK" or "ERR <why>",
 * and closes. Served from the main loop, one client at a time.
 */
#define CONTROL_NAME_MAX 64

struct control {
	char path[108]; /* sun_path */
	struct ev_source src;
	/* writes the answer to out, returns 0 for OK or -1 (message in e) */
	int (*handle)(void *opaque, const char *cmd, FILE *out, struct lkvm_err *e);
	void *opaque;
};

bool control_name_ok(const char *name);
/* The socket directory (created 0700 when create is set). */
int control_dir(char *buf, size_t len, bool create, struct lkvm_err *e);
int control_open(struct control *c, const char *name, struct evloop *loop, struct lkvm_err *e);
void control_close(struct control *c, struct evloop *loop);
/* Client side: sends cmd to the VM NAME and copies its answer to out. 0 = OK. */
int control_request(const char *name, const char *cmd, FILE *out, struct lkvm_err *e);

#endif
