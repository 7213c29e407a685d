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
 * ~/.lkvm/NAME.sock). The directory must be a real directory (not a
 * symlink) owned by the user, with no group/other write; lkvm creates it
 * 0700. The socket is 0600. A client sends one command line; the VM answers
 * with lines, the last "OK" or "ERR <why>", and closes.
 *
 * The server never waits on a client: up to CONTROL_CLIENTS connections are
 * served by the main loop with non-blocking I/O, each with a deadline of
 * CONTROL_SERVE_MS for the whole exchange (more wait in the backlog). A client
 * gives up after CONTROL_CLIENT_MS and reads at most CONTROL_ANSWER_MAX.
 */
#define CONTROL_NAME_MAX 64
#define CONTROL_CMD_MAX 128
#define CONTROL_CLIENTS 4
#define CONTROL_SERVE_MS 2000
#define CONTROL_CLIENT_MS 5000
#define CONTROL_ANSWER_MAX (1024 * 1024)

struct control;

struct control_client {
	struct ev_source src; /* the connection; fd -1 when the slot is free */
	struct ev_source timer; /* its deadline (timerfd made at control_open) */
	struct control *ctl;
	char cmd[CONTROL_CMD_MAX];
	size_t cmd_len;
	char *answer; /* being written; NULL while the command is read */
	size_t answer_len, answer_off;
};

struct control {
	char path[108]; /* sun_path; empty when not serving */
	struct ev_source src;
	struct evloop *loop;
	bool accept_paused; /* every client slot busy */
	struct control_client clients[CONTROL_CLIENTS];
	/* writes the answer to out, returns 0 for OK or -1 (message in e) */
	int (*handle)(void *opaque, const char *cmd, FILE *out, struct lkvm_err *e);
	void *opaque;
};

bool control_name_ok(const char *name);
/*
 * Opens the socket directory (made 0700 when create is set) and checks it:
 * a directory, not a symlink, owned by this user, no group/other write.
 * Returns its fd (O_PATH-like, for *at() calls) and its path in buf; -1 with
 * e set; -ENOENT (e not set) when it does not exist and create is false.
 */
int control_dir_open(char *buf, size_t len, bool create, struct lkvm_err *e);
/* dirfd/name is a socket owned by this user: the only kind lkvm removes */
bool control_is_own_socket(int dirfd, const char *name);
int control_open(struct control *c, const char *name, struct evloop *loop, struct lkvm_err *e);
void control_close(struct control *c, struct evloop *loop);
/* Client side: sends cmd to the VM NAME and copies its answer to out. 0 = OK. */
int control_request(const char *name, const char *cmd, FILE *out, struct lkvm_err *e);
/* The same, giving up after timeout_ms (control_request: CONTROL_CLIENT_MS). */
int control_request_timeout(const char *name, const char *cmd, FILE *out, int timeout_ms,
			    struct lkvm_err *e);

#endif
