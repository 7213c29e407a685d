// SPDX-License-Identifier: GPL-2.0
/* The per-VM control socket: lkvm list/stop/pause/resume/debug/stat. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

#define CONTROL_CMD_MAX 128

bool control_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n > CONTROL_NAME_MAX || name[0] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int control_dir(char *buf, size_t len, bool create, struct lkvm_err *e)
{
	const char *rt = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
	int n;

	if (rt && *rt)
		n = snprintf(buf, len, "%s/lkvm", rt);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.lkvm", home);
	else
		return err_set(e, "neither XDG_RUNTIME_DIR nor HOME is set: no place for control sockets");
	if (n < 0 || (size_t)n >= len)
		return err_set(e, "control socket directory name too long");
	if (create && mkdir(buf, 0700) < 0 && errno != EEXIST)
		return err_errno(e, errno, "cannot create %s", buf);
	return 0;
}

static int control_path(const char *name, char *buf, size_t len, bool create, struct lkvm_err *e)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n;

	if (!control_name_ok(name))
		return err_set(e, "bad VM name '%s' (letters, digits, . _ -; at most %d)", name,
			       CONTROL_NAME_MAX);
	if (control_dir(dir, sizeof(dir), create, e))
		return -1;
	n = snprintf(buf, len, "%s/%s.sock", dir, name);
	if (n < 0 || (size_t)n >= len)
		return err_set(e, "control socket path for '%s' is too long", name);
	return 0;
}

static int control_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

static void control_accept(struct ev_source *src, uint32_t events)
{
	struct control *c = src->opaque;
	struct timeval tv = { .tv_sec = 1 };
	char cmd[CONTROL_CMD_MAX];
	struct lkvm_err e = { "" };
	size_t n = 0;
	FILE *out;
	int fd;

	(void)events;
	fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* a client that sends nothing must not stall the VM's main loop */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (n < sizeof(cmd) - 1) {
		ssize_t r = read(fd, cmd + n, 1);

		if (r <= 0 || cmd[n] == '\n')
			break;
		n++;
	}
	cmd[n] = 0;
	out = fdopen(fd, "w");
	if (!out) {
		close(fd);
		return;
	}
	if (c->handle(c->opaque, cmd, out, &e))
		fprintf(out, "ERR %s\n", e.msg);
	else
		fprintf(out, "OK\n");
	fclose(out);
}

int control_open(struct control *c, const char *name, struct evloop *loop, struct lkvm_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (control_path(name, c->path, sizeof(c->path), true, e))
		return -1;
	r = control_connect(c->path);
	if (r >= 0) {
		close(r);
		c->path[0] = 0;
		return err_set(e, "a VM named '%s' is already running", name);
	}
	/* nobody answers: a socket left by a VM that died */
	if (r == -ECONNREFUSED)
		unlink(c->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_errno(e, errno, "socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(c->path, 0600) < 0 ||
	    listen(fd, 4) < 0) {
		r = errno;
		close(fd);
		c->path[0] = 0;
		return err_errno(e, r, "cannot serve the control socket %s", sa.sun_path);
	}
	c->src = (struct ev_source){ .fd = fd, .cb = control_accept, .opaque = c };
	if (evloop_add(loop, &c->src, EPOLLIN, e)) {
		close(fd);
		unlink(c->path);
		c->path[0] = 0;
		return -1;
	}
	return 0;
}

void control_close(struct control *c, struct evloop *loop)
{
	if (!c->path[0])
		return;
	evloop_del(loop, &c->src);
	close(c->src.fd);
	unlink(c->path);
	c->path[0] = 0;
}

int control_request(const char *name, const char *cmd, FILE *out, struct lkvm_err *e)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)], line[512];
	bool ok = false;
	FILE *in;
	int fd;

	if (control_path(name, path, sizeof(path), false, e))
		return -1;
	fd = control_connect(path);
	if (fd == -ENOENT)
		return err_set(e, "no VM named '%s' is running", name);
	if (fd == -ECONNREFUSED) {
		unlink(path);
		return err_set(e, "the VM named '%s' is gone (stale socket removed)", name);
	}
	if (fd < 0)
		return err_errno(e, -fd, "cannot reach the VM named '%s'", name);
	if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0) {
		close(fd);
		return err_errno(e, errno, "cannot talk to the VM named '%s'", name);
	}
	in = fdopen(fd, "r");
	if (!in) {
		close(fd);
		return err_set(e, "out of memory");
	}
	err_set(e, "the VM named '%s' hung up without an answer", name);
	while (fgets(line, sizeof(line), in)) {
		if (!strcmp(line, "OK\n")) {
			ok = true;
			break;
		}
		if (!strncmp(line, "ERR ", 4)) {
			line[strcspn(line, "\n")] = 0;
			err_set(e, "%s: %s", name, line + 4);
			break;
		}
		fputs(line, out);
	}
	fclose(in);
	return ok ? 0 : -1;
}
