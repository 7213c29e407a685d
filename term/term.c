// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "term.h"

/*
 * A fatal signal must not leave the user's terminal raw. The handler can
 * take no argument, so the saved state lives here: the one mutable static
 * in lkvm, written once before raw mode is entered.
 */
static struct {
	int fd;
	struct termios tio;
	volatile sig_atomic_t armed;
} term_crash_restore;

static void term_fatal_signal(int sig)
{
	if (term_crash_restore.armed)
		tcsetattr(term_crash_restore.fd, TCSANOW, &term_crash_restore.tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

size_t term_filter(struct term *t, const uint8_t *in, size_t len, uint8_t *out, bool *quit)
{
	size_t i, n = 0;

	*quit = false;
	for (i = 0; i < len; i++) {
		uint8_t c = in[i];

		if (!t->in_tty) {
			out[n++] = c;
			continue;
		}
		if (t->esc) {
			t->esc = false;
			if (c == 'x' || c == 'X') {
				*quit = true;
				return n;
			}
			/* Ctrl-A Ctrl-A sends one Ctrl-A; anything else passes both */
			if (c != TERM_ESCAPE_CHAR)
				out[n++] = TERM_ESCAPE_CHAR;
			out[n++] = c;
			continue;
		}
		if (c == TERM_ESCAPE_CHAR) {
			t->esc = true;
			continue;
		}
		out[n++] = c;
	}
	return n;
}

/*
 * While the guest's buffer is full, stdin is taken out of the poll set (a
 * level-triggered fd would spin) and the main loop retries on a timer.
 */
bool term_flush_pending(struct term *t)
{
	size_t n;

	if (t->pend_off < t->pend_len) {
		n = t->sink(t->sink_opaque, t->pend + t->pend_off, t->pend_len - t->pend_off);
		t->pend_off += n;
	}
	if (t->pend_off < t->pend_len) {
		if (!t->paused && !t->eof)
			t->paused = !evloop_mod(t->loop, &t->src, 0);
		return true;
	}
	t->pend_off = t->pend_len = 0;
	if (t->paused && !t->eof)
		t->paused = evloop_mod(t->loop, &t->src, EPOLLIN) != 0;
	return false;
}

static void term_input(struct ev_source *src, uint32_t events)
{
	struct term *t = src->opaque;
	uint8_t buf[sizeof(t->pend)];
	bool quit;
	ssize_t n;

	(void)events;
	if (term_flush_pending(t))
		return;
	n = read(t->in_fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF (or a dead tty): no more input, the guest keeps running */
		t->eof = true;
		evloop_del(t->loop, &t->src);
		return;
	}
	t->pend_len = term_filter(t, buf, n, t->pend, &quit);
	t->pend_off = 0;
	term_flush_pending(t);
	if (quit && t->quit)
		t->quit(t->quit_opaque);
}

int term_init(struct term *t, int in_fd, struct evloop *loop, struct lkvm_err *e)
{
	struct stat st;

	t->in_fd = in_fd;
	t->in_tty = isatty(in_fd);
	t->loop = loop;
	t->src = (struct ev_source){ .fd = in_fd, .cb = term_input, .opaque = t };
	/* epoll refuses regular files (stdin < file), /dev/null too: no input then */
	if (fstat(in_fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && !t->in_tty)) {
		t->eof = true;
		return 0;
	}
	return evloop_add(loop, &t->src, EPOLLIN, e);
}

int term_raw(struct term *t, struct lkvm_err *e)
{
	struct termios tio;
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
	unsigned int i;

	if (!t->in_tty)
		return 0;
	if (tcgetattr(t->in_fd, &t->saved) < 0)
		return err_errno(e, errno, "tcgetattr on stdin");
	term_crash_restore.fd = t->in_fd;
	term_crash_restore.tio = t->saved;
	term_crash_restore.armed = 1;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], term_fatal_signal);
	tio = t->saved;
	cfmakeraw(&tio);
	if (tcsetattr(t->in_fd, TCSANOW, &tio) < 0)
		return err_errno(e, errno, "tcsetattr on stdin");
	t->raw = true;
	return 0;
}

void term_restore(struct term *t)
{
	if (!t->raw)
		return;
	tcsetattr(t->in_fd, TCSANOW, &t->saved);
	t->raw = false;
	term_crash_restore.armed = 0;
}
