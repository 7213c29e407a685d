// SPDX-License-Identifier: GPL-2.0
/* The per-VM control socket: lkvm list/stop/pause/resume/debug/stat. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#define CONTROL_SUN_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

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

/*
 * The directory is where a stale socket gets unlinked and a new one bound:
 * if it were a symlink, or writable by others, someone else would choose
 * which file lkvm removes or which path it binds (issue 14, 20).
 */
int control_dir_open(char *buf, size_t len, bool create, struct lkvm_err *e)
{
	const char *rt = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
	struct stat st;
	int n, fd, err;

	if (rt && *rt)
		n = snprintf(buf, len, "%s/lkvm", rt);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.lkvm", home);
	else
		return err_set(e, "neither XDG_RUNTIME_DIR nor HOME is set: no place for control sockets");
	if (n < 0 || (size_t)n >= len)
		return err_set(e, "control socket directory name too long");
	if (create && mkdir(buf, 0700) < 0 && errno != EEXIST)
		return err_errno(e, errno, "cannot create the control directory %s", buf);
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == ENOENT && !create)
			return -ENOENT;
		if ((err == ELOOP || err == ENOTDIR) && lstat(buf, &st) == 0 && S_ISLNK(st.st_mode))
			return err_set(e, "the control directory %s is a symlink; refusing to use it (remove it)",
				       buf);
		if (err == ENOTDIR)
			return err_set(e, "the control directory %s is not a directory", buf);
		return err_errno(e, err, "cannot open the control directory %s", buf);
	}
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		return err_errno(e, err, "cannot stat the control directory %s", buf);
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return err_set(e, "the control directory %s belongs to uid %u, not to you (uid %u); refusing to use it",
			       buf, (unsigned int)st.st_uid, (unsigned int)geteuid());
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		close(fd);
		return err_set(e, "the control directory %s is writable by others (mode %04o); `chmod 700 %s` to use it",
			       buf, (unsigned int)(st.st_mode & 07777), buf);
	}
	return fd;
}

bool control_is_own_socket(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
	       st.st_uid == geteuid();
}

static int control_sock_name(const char *name, char *buf, size_t len, struct lkvm_err *e)
{
	int n;

	if (!control_name_ok(name))
		return err_set(e, "bad VM name '%s' (letters, digits, . _ -; at most %d)", name,
			       CONTROL_NAME_MAX);
	n = snprintf(buf, len, "%s.sock", name);
	return n < 0 || (size_t)n >= len ? err_set(e, "VM name too long") : 0;
}

static int control_sun(struct sockaddr_un *sa, const char *dir, const char *file)
{
	int n;

	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, file);
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0;
}

static int64_t control_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* waits for events on fd until the deadline: >0 ready, 0 timed out, <0 -errno */
static int control_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - control_now_ms();
		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)left);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}

/* a non-blocking connect that gives up at the deadline: fd, or -errno */
static int control_connect(const struct sockaddr_un *sa, int64_t deadline)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err;
	socklen_t elen;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			return fd;
		err = errno;
		if (err == EINTR)
			continue;
		if (err == EINPROGRESS) {
			elen = sizeof(err);
			if (control_wait(fd, POLLOUT, deadline) <= 0)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
				err = errno;
			else if (!err)
				return fd;
			break;
		}
		/* a full backlog says EAGAIN on a UNIX socket: retry until the deadline */
		if (err != EAGAIN)
			break;
		if (control_now_ms() >= deadline) {
			err = ETIMEDOUT;
			break;
		}
		usleep(10000);
	}
	close(fd);
	return -err;
}

/* ------------------------------------------------------------ the server */

static void control_client_end(struct control_client *cl)
{
	struct itimerspec off = { 0 };

	if (cl->src.fd < 0)
		return;
	evloop_del(cl->ctl->loop, &cl->src);
	evloop_del(cl->ctl->loop, &cl->timer);
	timerfd_settime(cl->timer.fd, 0, &off, NULL);
	close(cl->src.fd);
	cl->src.fd = -1;
	free(cl->answer);
	cl->answer = NULL;
	if (cl->ctl->accept_paused && !evloop_mod(cl->ctl->loop, &cl->ctl->src, EPOLLIN))
		cl->ctl->accept_paused = false;
}

/* writes what the client takes of the answer now; ends the client when all is sent */
static void control_client_send(struct control_client *cl)
{
	ssize_t r;

	while (cl->answer_off < cl->answer_len) {
		r = send(cl->src.fd, cl->answer + cl->answer_off, cl->answer_len - cl->answer_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0)
			break;
		cl->answer_off += r;
	}
	control_client_end(cl);
}

/* the command is complete: run it, then write the answer as the client reads */
static void control_client_answer(struct control_client *cl, const char *early_err)
{
	struct control *c = cl->ctl;
	struct lkvm_err e = { "" };
	FILE *out;
	int r;

	cl->answer = NULL;
	cl->answer_len = 0;
	out = open_memstream(&cl->answer, &cl->answer_len);
	if (!out) {
		control_client_end(cl);
		return;
	}
	if (early_err)
		r = err_set(&e, "%s", early_err);
	else
		r = c->handle(c->opaque, cl->cmd, out, &e);
	if (r)
		fprintf(out, "ERR %s\n", e.msg);
	else
		fprintf(out, "OK\n");
	if (fclose(out) || !cl->answer) {
		free(cl->answer);
		cl->answer = NULL;
		control_client_end(cl);
		return;
	}
	cl->answer_off = 0;
	/*
	 * Most answers fit the socket buffer: sent now. That matters for
	 * "stop", after which the main loop may not turn again.
	 */
	control_client_send(cl);
	if (cl->src.fd >= 0 && evloop_mod(c->loop, &cl->src, EPOLLOUT))
		control_client_end(cl);
}

static void control_client_io(struct ev_source *src, uint32_t events)
{
	(void)events;
	struct control_client *cl = src->opaque;
	ssize_t r;

	if (cl->src.fd < 0)
		return; /* a stale event for a slot ended in this batch */
	if (cl->answer) {
		control_client_send(cl);
		return;
	}
	for (;;) {
		char *nl;

		r = recv(cl->src.fd, cl->cmd + cl->cmd_len, sizeof(cl->cmd) - 1 - cl->cmd_len,
			 MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		/*
		 * Nothing to read: wait. Never end the client on EPOLLHUP here:
		 * the event may be a stale one of the slot's previous client,
		 * ended earlier in this batch (found by tests/fuzz control). A
		 * real hang-up reads as EOF, an error as an error.
		 */
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			/* EOF: what came is the command (a client may omit the newline) */
			cl->cmd[cl->cmd_len] = 0;
			if (r == 0 && cl->cmd_len)
				control_client_answer(cl, NULL);
			else
				control_client_end(cl);
			return;
		}
		cl->cmd_len += r;
		cl->cmd[cl->cmd_len] = 0;
		nl = memchr(cl->cmd, '\n', cl->cmd_len);
		if (nl) {
			*nl = 0;
			control_client_answer(cl, NULL);
			return;
		}
		if (cl->cmd_len == sizeof(cl->cmd) - 1) {
			control_client_answer(cl, "command too long");
			return;
		}
	}
}

static void control_client_timeout(struct ev_source *src, uint32_t events)
{
	struct control_client *cl = src->opaque;
	uint64_t n;

	(void)events;
	/* EAGAIN: a stale event after the slot was ended or reused */
	if (read(src->fd, &n, sizeof(n)) == sizeof(n))
		control_client_end(cl);
}

static void control_accept(struct ev_source *src, uint32_t events)
{
	struct control *c = src->opaque;
	struct itimerspec its = {
		.it_value.tv_sec = CONTROL_SERVE_MS / 1000,
		.it_value.tv_nsec = (CONTROL_SERVE_MS % 1000) * 1000000L,
	};
	unsigned int i;
	int fd;

	(void)events;
	for (;;) {
		struct control_client *cl = NULL;
		struct lkvm_err e;

		for (i = 0; i < CONTROL_CLIENTS && !cl; i++)
			if (c->clients[i].src.fd < 0)
				cl = &c->clients[i];
		if (!cl)
			break;
		fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		cl->src.fd = fd;
		cl->cmd_len = 0;
		cl->answer = NULL;
		if (timerfd_settime(cl->timer.fd, 0, &its, NULL) < 0 ||
		    evloop_add(c->loop, &cl->src, EPOLLIN | EPOLLRDHUP, &e)) {
			close(fd);
			cl->src.fd = -1;
			continue;
		}
		if (evloop_add(c->loop, &cl->timer, EPOLLIN, &e)) {
			evloop_del(c->loop, &cl->src);
			close(fd);
			cl->src.fd = -1;
		}
	}
	/*
	 * Every slot busy: stop listening until one ends (the next client waits
	 * in the backlog, and its own deadline bounds it); a level-triggered
	 * listener left armed would spin the main loop.
	 */
	if (!evloop_mod(c->loop, &c->src, 0))
		c->accept_paused = true;
}

static int control_bind(struct control *c, int dirfd, const char *dir, const char *file,
			struct lkvm_err *e)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, r;

	if (control_sun(&sa, dir, file))
		return err_set(e, "control socket path %s/%s is too long", dir, file);
	r = control_connect(&sa, control_now_ms() + CONTROL_CLIENT_MS);
	if (r >= 0) {
		close(r);
		return err_set(e, "a VM named '%.*s' is already running", (int)(strlen(file) - 5),
			       file);
	}
	if (r != -ENOENT) {
		/* nobody answers: a socket left by a VM that died; anything else stays */
		if (r != -ECONNREFUSED || !control_is_own_socket(dirfd, file))
			return err_set(e, "%s exists and is not a stale lkvm socket; not touching it",
				       sa.sun_path);
		if (unlinkat(dirfd, file, 0) < 0 && errno != ENOENT)
			return err_errno(e, errno, "cannot remove the stale socket %s", sa.sun_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_errno(e, errno, "socket");
	/*
	 * The mode comes from the umask at bind(): a chmod() by path afterwards
	 * would follow whatever was put at that path meanwhile (issue 20).
	 * lkvm has no other thread creating files at this point.
	 */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 16) < 0) {
		r = errno;
		close(fd);
		return err_errno(e, r, "cannot serve the control socket %s", sa.sun_path);
	}
	memcpy(c->path, sa.sun_path, sizeof(c->path));
	return fd;
}

int control_open(struct control *c, const char *name, struct evloop *loop, struct lkvm_err *e)
{
	char dir[CONTROL_SUN_LEN], file[CONTROL_NAME_MAX + 8];
	unsigned int i;
	int dirfd, fd;

	c->path[0] = 0;
	c->loop = loop;
	c->accept_paused = false;
	for (i = 0; i < CONTROL_CLIENTS; i++)
		c->clients[i] = (struct control_client){ .src.fd = -1, .timer.fd = -1 };
	if (control_sock_name(name, file, sizeof(file), e))
		return -1;
	dirfd = control_dir_open(dir, sizeof(dir), true, e);
	if (dirfd < 0)
		return -1;
	fd = control_bind(c, dirfd, dir, file, e);
	close(dirfd);
	if (fd < 0)
		return -1;
	c->src = (struct ev_source){ .fd = fd, .cb = control_accept, .opaque = c };
	/* the timers exist from the start: serving a client makes no new fds */
	for (i = 0; i < CONTROL_CLIENTS; i++) {
		struct control_client *cl = &c->clients[i];

		cl->ctl = c;
		cl->src.cb = control_client_io;
		cl->src.opaque = cl;
		cl->timer.cb = control_client_timeout;
		cl->timer.opaque = cl;
		cl->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (cl->timer.fd < 0) {
			err_errno(e, errno, "timerfd for the control socket");
			goto fail;
		}
	}
	if (evloop_add(loop, &c->src, EPOLLIN, e))
		goto fail;
	return 0;
fail:
	for (i = 0; i < CONTROL_CLIENTS; i++)
		if (c->clients[i].timer.fd >= 0)
			close(c->clients[i].timer.fd);
	close(fd);
	unlink(c->path);
	c->path[0] = 0;
	return -1;
}

void control_close(struct control *c, struct evloop *loop)
{
	unsigned int i;

	if (!c->path[0])
		return;
	for (i = 0; i < CONTROL_CLIENTS; i++) {
		/* an answer still queued (the VM stopped meanwhile): what fits goes */
		if (c->clients[i].src.fd >= 0 && c->clients[i].answer)
			control_client_send(&c->clients[i]);
		control_client_end(&c->clients[i]);
		close(c->clients[i].timer.fd);
	}
	evloop_del(loop, &c->src);
	close(c->src.fd);
	unlink(c->path);
	c->path[0] = 0;
}

/* ------------------------------------------------------------ the client */

/* reads the whole answer (at most CONTROL_ANSWER_MAX) until EOF or deadline */
static int control_read_answer(int fd, char **buf, size_t *len, int64_t deadline,
			       int timeout_ms, const char *name, struct lkvm_err *e)
{
	size_t cap = 4096;
	char *b = malloc(cap);
	ssize_t r;

	*len = 0;
	if (!b)
		return err_set(e, "out of memory");
	for (;;) {
		if (*len + 1 == cap) {
			size_t ncap = cap * 2 > CONTROL_ANSWER_MAX + 1 ? CONTROL_ANSWER_MAX + 1 : cap * 2;
			char *nb;

			/* the cap is what was read, not what was allocated */
			if (*len >= CONTROL_ANSWER_MAX) {
				free(b);
				return err_set(e, "the VM named '%s' answered more than %d bytes; giving up",
					       name, CONTROL_ANSWER_MAX);
			}
			nb = realloc(b, ncap);
			if (!nb) {
				free(b);
				return err_set(e, "out of memory");
			}
			b = nb;
			cap = ncap;
		}
		r = recv(fd, b + *len, cap - 1 - *len, MSG_DONTWAIT);
		if (r > 0) {
			*len += r;
			continue;
		}
		if (r == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			free(b);
			return err_errno(e, errno, "cannot read the answer of the VM named '%s'", name);
		}
		r = control_wait(fd, POLLIN, deadline);
		if (r <= 0) {
			free(b);
			return err_set(e, "the VM named '%s' did not answer within %.1f s", name,
				       timeout_ms / 1000.0);
		}
	}
	b[*len] = 0;
	*buf = b;
	return 0;
}

static int control_send_cmd(int fd, const char *cmd, int64_t deadline, const char *name,
			    struct lkvm_err *e)
{
	size_t len = strlen(cmd), off = 0;
	char line[CONTROL_CMD_MAX + 1];

	/* the server takes CONTROL_CMD_MAX - 2 bytes and the newline */
	if (len >= CONTROL_CMD_MAX - 1)
		return err_set(e, "command too long");
	memcpy(line, cmd, len);
	line[len++] = '\n';
	while (off < len) {
		ssize_t r = send(fd, line + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r > 0) {
			off += r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN && control_wait(fd, POLLOUT, deadline) > 0)
			continue;
		return err_set(e, "cannot talk to the VM named '%s'", name);
	}
	return 0;
}

int control_request_timeout(const char *name, const char *cmd, FILE *out, int timeout_ms,
			    struct lkvm_err *e)
{
	char dir[CONTROL_SUN_LEN], file[CONTROL_NAME_MAX + 8], *answer = NULL, *line, *next;
	int64_t deadline = control_now_ms() + timeout_ms;
	struct sockaddr_un sa;
	size_t len;
	int dirfd, fd, r;

	if (control_sock_name(name, file, sizeof(file), e))
		return -1;
	dirfd = control_dir_open(dir, sizeof(dir), false, e);
	if (dirfd == -ENOENT)
		return err_set(e, "no VM named '%s' is running", name);
	if (dirfd < 0)
		return -1;
	if (control_sun(&sa, dir, file)) {
		close(dirfd);
		return err_set(e, "control socket path for '%s' is too long", name);
	}
	fd = control_connect(&sa, deadline);
	if (fd == -ENOENT) {
		close(dirfd);
		return err_set(e, "no VM named '%s' is running", name);
	}
	if (fd == -ECONNREFUSED && control_is_own_socket(dirfd, file)) {
		unlinkat(dirfd, file, 0);
		close(dirfd);
		return err_set(e, "the VM named '%s' is gone (stale socket removed)", name);
	}
	close(dirfd);
	if (fd == -ETIMEDOUT)
		return err_set(e, "the VM named '%s' did not accept within %.1f s", name,
			       timeout_ms / 1000.0);
	if (fd < 0)
		return err_errno(e, -fd, "cannot reach the VM named '%s'", name);
	if (control_send_cmd(fd, cmd, deadline, name, e) ||
	    control_read_answer(fd, &answer, &len, deadline, timeout_ms, name, e)) {
		close(fd);
		return -1;
	}
	close(fd);
	r = err_set(e, "the VM named '%s' hung up without an answer", name);
	for (line = answer; line < answer + len; line = next) {
		next = memchr(line, '\n', answer + len - line);
		if (!next)
			break; /* an unterminated last line is no answer */
		*next++ = 0;
		if (!strcmp(line, "OK")) {
			r = 0;
			break;
		}
		if (!strncmp(line, "ERR ", 4)) {
			err_set(e, "%s: %s", name, line + 4);
			break;
		}
		fprintf(out, "%s\n", line);
	}
	free(answer);
	return r;
}

int control_request(const char *name, const char *cmd, FILE *out, struct lkvm_err *e)
{
	return control_request_timeout(name, cmd, out, CONTROL_CLIENT_MS, e);
}
