// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket (core/control.c): the VM's server under hostile local
 * clients, and the client's answer parser under a hostile "VM". The input is
 *
 *   mode[1], then if mode bit 0 is clear (the server):
 *     op* with op = kind[1] a[1] b[1], and OP_SEND's b bytes after it
 *   else (the client):
 *     cflags[1] tsel[1] clen[1] cmd[clen] answer (the rest, at most 64 KiB)
 *
 * Server: the real control_open() on a private XDG_RUNTIME_DIR, with a
 * handler like run.c's run_control, its evloop pumped with a zero timeout
 * only by OP_PUMP (so several events share one epoll batch, in the order
 * the input made them) and at the end. Up to 8 clients (more than
 * CONTROL_CLIENTS: some wait in the backlog) connect, send bytes (partial
 * lines, NULs, no newline), send EOF, read, hang up, or have their slot's
 * deadline pass (its timerfd set to fire now). Checked: no pass of the loop
 * takes long (the server never waits on a client); a client gets bytes only
 * for a complete command, and exactly the handler's answer to its line (or
 * "ERR command too long" when CONTROL_CMD_MAX - 1 bytes hold no newline),
 * ending with an "OK" or "ERR" line; it is hung up on only after that,
 * unless its deadline passed (or it sent EOF before any byte: no answer);
 * every slot is free in the end; no fd outlives the input.
 *
 * Client: control_request_timeout() against a fake VM, a thread of this
 * process (made once, one connection per input) that reads the command or
 * not (cflags bit 0), sends the answer (bit 1: padded with one long line
 * and "OK" to 512 KiB + tsel * 8448 bytes, across CONTROL_ANSWER_MAX), then
 * hangs up, or holds on until the client gives up (bit 2; timeout tsel & 3
 * ms). Checked against a model of the parser: the lines before "OK"/"ERR"
 * reach out as sent (cut at a NUL), never more than was read; an endless
 * answer, or one of twice the cap, is an error (FUZZ_STRICT_ANSWER_CAP=1:
 * one over the cap is); bit 3 also asks a VM that is not there, by a name
 * made of cmd. No leak.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "fuzz_common.h"
#include "util.h"

#define CF_NAME "vm"   /* the real server's socket */
#define CF_FAKE "fake" /* the fake VM of the client half */
#define CF_MAX_CLIENTS 8
#define CF_MAX_OPS 128
#define CF_SENT_KEEP 256 /* more than a command line: all that decides the answer */
#define CF_PUMP_MAX_MS 1000 /* one pass of the loop; a server that waited would take longer */
#define CF_DRAIN_PUMPS 20000
#define CF_BIG (256 * 1024) /* an answer larger than the socket buffer: sent in pieces */
#define CF_TILE 65536 /* a fake VM's answer from the input: at most this; padding by this */

enum {
	OP_CONNECT, /* a new client connects; it waits in the backlog until accepted */
	OP_SEND,    /* client a sends the next b bytes of the input */
	OP_CMD,     /* client a sends the line cmds[b] */
	OP_SHUT,    /* client a sends EOF (shutdown SHUT_WR) */
	OP_READ,    /* client a reads what is there */
	OP_CLOSE,   /* client a hangs up */
	OP_EXPIRE,  /* the deadline of client a's slot passes now */
	OP_PUMP,    /* the main loop runs (a & 3) + 1 times, timeout 0 */
	OP_COUNT,
};

static const char *const cf_cmds[] = {
	"info\n", "stat\n", "big\n", "stop\n", "fail\n", "nonsense\n", "info", "\n", "in", "fo\n",
	"info\r\n", "\x1b[31m\n",
};

/* the largest line the server takes (CONTROL_CMD_MAX - 2 bytes and \n) and one too long */
#define CF_NR_CMDS (ARRAY_SIZE(cf_cmds) + 2)

static char cf_big[CF_BIG];

/* The VM's commands, like run.c's run_control; the answer depends on cmd alone. */
static int cf_handle(void *opaque, const char *cmd, FILE *out, struct lkvm_err *e)
{
	(void)opaque;
	if (!strcmp(cmd, "info"))
		fprintf(out, "name=" CF_NAME " state=running cpus=1 mem_mib=256\n");
	else if (!strcmp(cmd, "stat"))
		fprintf(out, "uptime 1.0 s\nstate running\nmemory 256 MiB\nvcpu 0 exits 7 mmio 3\n");
	else if (!strcmp(cmd, "big"))
		fwrite(cf_big, 1, sizeof(cf_big), out);
	else if (!strcmp(cmd, "fail"))
		return err_set(e, "the handler failed");
	else if (strcmp(cmd, "stop"))
		return err_set(e, "unknown command '%s'", cmd);
	return 0;
}

static int64_t cf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* an error message: there, one line, no control characters (err_set escapes them) */
static bool cf_one_line(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* ------------------------------------------------------------ the server */

struct cf_client {
	int fd;          /* -1: closed */
	unsigned int id; /* its abstract address, to find its slot */
	bool shut;       /* sent EOF */
	bool expired;    /* its deadline was made to pass */
	bool ended;      /* the server hung up */
	uint8_t sent[CF_SENT_KEEP];
	size_t sent_len; /* all the bytes the socket took, kept or not */
	char *owed;      /* the answer it is owed, once settled (NULL: not yet) */
	size_t owed_len, got_len; /* its length, and how much of it came */
};

struct cf_server {
	struct evloop loop;
	struct control c;
	struct cf_client k[CF_MAX_CLIENTS];
	unsigned int n;
};

static socklen_t cf_client_addr(unsigned int id, struct sockaddr_un *sa)
{
	int n;

	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	/* abstract (leading NUL): nothing in the file system, gone with the socket */
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "lkvm-fuzz-%d-%u", (int)getpid(),
		     id);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

/* The server's slot serving k, by the peer address of its connection. */
static struct control_client *cf_slot_of(struct cf_server *s, const struct cf_client *k)
{
	struct sockaddr_un want, sa;
	socklen_t wlen = cf_client_addr(k->id, &want), len;
	unsigned int i;

	for (i = 0; i < CONTROL_CLIENTS; i++) {
		struct control_client *cl = &s->c.clients[i];

		len = sizeof(sa);
		if (cl->src.fd >= 0 && !getpeername(cl->src.fd, (struct sockaddr *)&sa, &len) &&
		    len == wlen && !memcmp(&sa, &want, len))
			return cl;
	}
	return NULL;
}

/* the answer to "big", made once */
static char *cf_big_ok;
static size_t cf_big_ok_len;

/*
 * What the server owes k for the bytes it sent, into k->owed; false while
 * the command is incomplete and the server must wait for more.
 */
static bool cf_owe(struct cf_client *k)
{
	size_t n = MIN(k->sent_len, (size_t)CONTROL_CMD_MAX - 1);
	const uint8_t *nl = memchr(k->sent, '\n', n);
	char cmd[CONTROL_CMD_MAX];
	struct lkvm_err e = { "" };
	FILE *out;
	int r;

	if (nl)
		n = nl - k->sent;
	else if (k->sent_len < CONTROL_CMD_MAX - 1 && !k->shut)
		return false;
	memcpy(cmd, k->sent, n);
	cmd[n] = 0;
	if (nl && !strcmp(cmd, "big")) {
		k->owed = cf_big_ok;
		k->owed_len = cf_big_ok_len;
		return true;
	}
	out = open_memstream(&k->owed, &k->owed_len);
	FZ_ASSERT(out);
	if (!k->sent_len)
		r = 0; /* EOF and nothing else: no answer at all */
	else if (!nl && k->sent_len >= CONTROL_CMD_MAX - 1)
		r = fprintf(out, "ERR command too long\n") < 0;
	else if (cf_handle(NULL, cmd, out, &e))
		r = fprintf(out, "ERR %s\n", e.msg) < 0;
	else
		r = fprintf(out, "OK\n") < 0;
	FZ_ASSERT(!r && !fclose(out) && k->owed);
	return true;
}

/* The server hung up on k: it must have had its whole answer. */
static void cf_ended(struct cf_client *k)
{
	const char *end, *last;

	k->ended = true;
	if (k->expired)
		return; /* cut off at its deadline: what came was a start of its answer */
	/* never hung up on while its command is incomplete, nor mid-answer */
	FZ_ASSERT(k->owed || cf_owe(k));
	FZ_ASSERT(k->got_len == k->owed_len);
	/* which (it came whole) ends with the line that says how it went */
	if (!k->owed_len)
		return;
	end = k->owed + k->owed_len;
	FZ_ASSERT(end[-1] == '\n');
	last = memrchr(k->owed, '\n', k->owed_len - 1);
	last = last ? last + 1 : k->owed;
	FZ_ASSERT((end - last == 3 && !memcmp(last, "OK", 2)) ||
		  (end - last > 4 && !memcmp(last, "ERR ", 4)));
}

/* k reads what is there, checking it against its answer; at EOF the exchange ends */
static void cf_read(struct cf_client *k)
{
	static char buf[65536];
	ssize_t r;

	while (k->fd >= 0 && !k->ended) {
		r = recv(k->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0) {
			/* an answer only to a complete command: which one is settled by now */
			FZ_ASSERT(k->owed || cf_owe(k));
			FZ_ASSERT(k->got_len + r <= k->owed_len &&
				  !memcmp(buf, k->owed + k->got_len, r));
			k->got_len += r;
			continue;
		}
		/* a server closing with our bytes unread resets: its answer came first */
		if (r == 0 || errno == ECONNRESET || errno == EPIPE)
			cf_ended(k);
		else
			FZ_ASSERT(errno == EAGAIN || errno == EINTR);
		return;
	}
}

static void cf_send(struct cf_client *k, const void *p, size_t n)
{
	ssize_t r;

	if (k->fd < 0 || k->shut || !n)
		return;
	r = send(k->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r > 0) {
		if (k->sent_len < CF_SENT_KEEP)
			memcpy(k->sent + k->sent_len, p, MIN((size_t)r, CF_SENT_KEEP - k->sent_len));
		k->sent_len += r;
	} else if (r < 0 && errno != EAGAIN) {
		cf_read(k); /* the server hung up: it must have been owed nothing more */
	}
}

static void cf_pump(struct cf_server *s)
{
	int64_t t0 = cf_now_ms();

	FZ_ASSERT(evloop_run_once(&s->loop, 0) >= 0);
	FZ_ASSERT(cf_now_ms() - t0 < CF_PUMP_MAX_MS);
}

static void cf_connect(struct cf_server *s)
{
	struct cf_client *k = &s->k[s->n];
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (s->n == CF_MAX_CLIENTS)
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	FZ_ASSERT(fd >= 0);
	*k = (struct cf_client){ .fd = fd, .id = s->n };
	len = cf_client_addr(k->id, &sa);
	FZ_ASSERT(!bind(fd, (struct sockaddr *)&sa, len));
	sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	memcpy(sa.sun_path, s->c.path, sizeof(s->c.path));
	/* the backlog (16) holds them all: a UNIX connect completes at once */
	FZ_ASSERT(!connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	s->n++;
}

static void cf_expire(struct cf_server *s, struct cf_client *k)
{
	struct itimerspec now = { .it_value.tv_nsec = 1 };
	struct control_client *cl;

	if (k->fd < 0 || k->ended)
		return;
	cl = cf_slot_of(s, k);
	if (!cl)
		return; /* still in the backlog: no deadline yet */
	FZ_ASSERT(!timerfd_settime(cl->timer.fd, 0, &now, NULL));
	/* fired before the next op: the order of events in a batch is the input's */
	FZ_ASSERT(poll(&(struct pollfd){ .fd = cl->timer.fd, .events = POLLIN }, 1, 1000) == 1);
	k->expired = true;
}

static void cf_op(struct cf_server *s, struct fz_in *in)
{
	uint8_t kind = fz_u8(in) % OP_COUNT, a = fz_u8(in), b = fz_u8(in), buf[255];
	struct cf_client *k = s->n ? &s->k[a % s->n] : NULL;
	unsigned int i;
	size_t n;

	if (kind == OP_CONNECT) {
		cf_connect(s);
		return;
	}
	if (kind == OP_PUMP) {
		for (i = 0; i <= (a & 3u); i++)
			cf_pump(s);
		return;
	}
	if (kind == OP_SEND)
		n = fz_bytes(in, buf, b);
	if (!k || k->fd < 0)
		return;
	switch (kind) {
	case OP_SEND:
		cf_send(k, buf, n);
		break;
	case OP_CMD:
		b %= CF_NR_CMDS;
		if (b < ARRAY_SIZE(cf_cmds)) {
			cf_send(k, cf_cmds[b], strlen(cf_cmds[b]));
		} else {
			n = CONTROL_CMD_MAX - 2 + (b - ARRAY_SIZE(cf_cmds));
			memset(buf, 'x', n);
			buf[n] = '\n';
			cf_send(k, buf, n + 1);
		}
		break;
	case OP_SHUT:
		if (!k->shut)
			FZ_ASSERT(!shutdown(k->fd, SHUT_WR));
		k->shut = true;
		break;
	case OP_READ:
		cf_read(k);
		break;
	case OP_CLOSE:
		close(k->fd);
		k->fd = -1;
		break;
	case OP_EXPIRE:
		cf_expire(s, k);
		break;
	}
}

/* Every client ends its command and reads to the end; then every slot must be free. */
static void cf_drain(struct cf_server *s)
{
	unsigned int i, left, pumps;

	cf_pump(s);
	/* before any EOF of ours: whoever was hung up on had its answer */
	for (i = 0; i < s->n; i++)
		cf_read(&s->k[i]);
	for (i = 0; i < s->n; i++) {
		if (s->k[i].fd >= 0 && !s->k[i].shut && !s->k[i].ended)
			FZ_ASSERT(!shutdown(s->k[i].fd, SHUT_WR));
		s->k[i].shut = true;
	}
	for (pumps = 0;; pumps++) {
		/* a server that stops serving its clients stalls here */
		FZ_ASSERT(pumps < CF_DRAIN_PUMPS);
		cf_pump(s);
		for (i = left = 0; i < s->n; i++) {
			cf_read(&s->k[i]);
			left += s->k[i].fd >= 0 && !s->k[i].ended;
		}
		if (!left)
			break;
	}
	for (i = 0; i < s->n; i++) {
		if (s->k[i].fd >= 0)
			close(s->k[i].fd);
		if (s->k[i].owed != cf_big_ok)
			free(s->k[i].owed);
	}
	/* clients that hung up in the backlog are accepted and dropped */
	for (pumps = 0; evloop_run_once(&s->loop, 0) > 0; pumps++)
		FZ_ASSERT(pumps < CF_DRAIN_PUMPS);
	for (i = 0; i < CONTROL_CLIENTS; i++)
		FZ_ASSERT(s->c.clients[i].src.fd < 0 && !s->c.clients[i].answer);
	FZ_ASSERT(!s->c.accept_paused);
}

static void cf_server(struct fz_in *in)
{
	struct cf_server *s = calloc(1, sizeof(*s));
	struct lkvm_err e = { "" };
	unsigned int i;

	FZ_ASSERT(s);
	FZ_ASSERT(!evloop_init(&s->loop, &e));
	s->c.handle = cf_handle;
	if (control_open(&s->c, CF_NAME, &s->loop, &e)) {
		fprintf(stderr, "fuzz-control: %s\n", e.msg);
		__builtin_trap(); /* the private directory always works (checked at start) */
	}
	for (i = 0; i < CF_MAX_OPS && in->n; i++)
		cf_op(s, in);
	cf_drain(s);
	control_close(&s->c, &s->loop);
	evloop_exit(&s->loop);
	free(s);
}

/* ------------------------------------------------------------ the client */

enum {
	CF_READ_CMD = 1 << 0, /* the fake reads the command line before answering */
	CF_PAD = 1 << 1,      /* the answer padded to CONTROL_ANSWER_MAX / 2 + tsel * 8448 bytes */
	CF_HOLD = 1 << 2,     /* the fake never hangs up: the client must give up */
	CF_BAD_NAME = 1 << 3, /* also ask a VM named "x" + cmd, which is not there */
};

#define CF_TAIL "\nOK\n" /* ends a padded answer */

static char cf_xs[CF_TILE]; /* the padding: 'x', sent CF_TILE at a time */

/* The fake VM: a thread serving one connection per job. */
static struct cf_fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;
	int lfd;
	unsigned int job, done;
	const char *head; /* the answer: head, then pad bytes of 'x', then tail */
	size_t len, pad;
	const char *tail;
	size_t read_cmd; /* bytes of command to take first */
	bool hold;
} cf_fake = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* sends len bytes of p; false once the client is gone */
static bool cf_fake_send(int fd, const char *p, size_t len)
{
	ssize_t r;

	for (; len; p += r, len -= r) {
		r = send(fd, p, len, MSG_NOSIGNAL);
		if (r <= 0)
			return false;
	}
	return true;
}

static void cf_fake_serve(struct cf_fake *f, int fd)
{
	size_t got = 0, pad;
	char buf[4096];
	ssize_t r;

	while (got < f->read_cmd) {
		r = recv(fd, buf, MIN(sizeof(buf), f->read_cmd - got), 0);
		if (r <= 0)
			break;
		got += r;
	}
	if (!cf_fake_send(fd, f->head, f->len))
		return; /* the client gave up */
	for (pad = f->pad; pad; pad -= MIN(pad, sizeof(cf_xs)))
		if (!cf_fake_send(fd, cf_xs, MIN(pad, sizeof(cf_xs))))
			return;
	if (f->tail && !cf_fake_send(fd, f->tail, strlen(f->tail)))
		return;
	/* until the client hangs up */
	while (f->hold && recv(fd, buf, sizeof(buf), 0) > 0)
		;
}

static void *cf_fake_main(void *arg)
{
	struct cf_fake *f = arg;
	int fd;

	for (;;) {
		pthread_mutex_lock(&f->lock);
		while (f->done == f->job)
			pthread_cond_wait(&f->cond, &f->lock);
		pthread_mutex_unlock(&f->lock);
		fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			cf_fake_serve(f, fd);
			close(fd);
		}
		pthread_mutex_lock(&f->lock);
		f->done = f->job;
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
	}
	return NULL;
}

/* A FILE that only counts what is written to it. */
static ssize_t cf_count_write(void *cookie, const char *buf, size_t len)
{
	*(size_t *)cookie += len;
	return (ssize_t)len;
}

static FILE *cf_counter(size_t *n)
{
	*n = 0;
	return fopencookie(n, "w", (cookie_io_functions_t){ .write = cf_count_write });
}

/*
 * A model of the client's parser over the complete lines of a: what it
 * writes to out; 0 for an "OK" line, -1 for "ERR ...", 1 for neither.
 */
static int cf_model(const char *a, size_t len, FILE *out)
{
	const char *p = a, *end = a + len, *nl;

	for (; (nl = memchr(p, '\n', end - p)); p = nl + 1) {
		size_t n = strnlen(p, nl - p); /* a line ends at a NUL in it */

		if (n == 2 && !memcmp(p, "OK", 2))
			return 0;
		if (n >= 4 && !memcmp(p, "ERR ", 4))
			return -1;
		fwrite(p, 1, n, out);
		fputc('\n', out);
	}
	return 1;
}

/*
 * The same for a padded answer: head, pad bytes of 'x', CF_TAIL. Only the
 * line the padding extends needs care; *olen: the bytes written to out.
 */
static int cf_model_padded(const char *head, size_t len, size_t pad, size_t *olen)
{
	const char *last = memrchr(head, '\n', len);
	size_t done = last ? (size_t)(last + 1 - head) : 0, plen = len - done, c, i;
	FILE *out = cf_counter(olen);
	char first[4];
	int r;

	FZ_ASSERT(out);
	r = cf_model(head, done, out);
	FZ_ASSERT(!fclose(out));
	if (r != 1)
		return r;
	/* the line: the rest of head, then the padding, cut at a NUL */
	c = strnlen(head + done, plen);
	if (c == plen)
		c += pad;
	for (i = 0; i < sizeof(first); i++)
		first[i] = i < plen ? head[done + i] : 'x';
	if (c == 2 && !memcmp(first, "OK", 2))
		return 0;
	if (c >= 4 && !memcmp(first, "ERR ", 4))
		return -1;
	*olen += c + 1;
	return 0; /* then the tail's "OK" */
}

static void cf_client(struct fz_in *in)
{
	uint8_t cflags = fz_u8(in), tsel = fz_u8(in), clen = fz_u8(in);
	char cmd[256], name[sizeof(cmd) + 1], *obuf = NULL, *mbuf = NULL;
	/* on since the cap counts what was read; FUZZ_STRICT_ANSWER_CAP=0 turns it off */
	bool strict = !getenv("FUZZ_STRICT_ANSWER_CAP") || atoi(getenv("FUZZ_STRICT_ANSWER_CAP")),
	     padded = cflags & CF_PAD;
	struct cf_fake *f = &cf_fake;
	struct lkvm_err e = { "" };
	size_t total, olen = 0, mlen = 0;
	int timeout, r, mr;
	FILE *out;

	cmd[fz_bytes(in, cmd, clen)] = 0;
	f->head = (const char *)in->p;
	f->len = MIN(in->n, (size_t)CF_TILE);
	f->pad = 0;
	f->tail = NULL;
	total = f->len;
	if (padded) {
		/* 512 KiB to 2.6 MiB: across the cap and twice the cap */
		total = MAX((size_t)CONTROL_ANSWER_MAX / 2 + tsel * 8448, f->len + strlen(CF_TAIL));
		f->pad = total - f->len - strlen(CF_TAIL);
		f->tail = CF_TAIL;
	}
	f->hold = cflags & CF_HOLD;
	f->read_cmd = 0;
	if ((cflags & CF_READ_CMD) && strlen(cmd) < CONTROL_CMD_MAX)
		f->read_cmd = strlen(cmd) + 1;
	/* a fake that hangs up always does so long before this */
	timeout = f->hold ? (tsel & 3) : 10000;
	if (!f->started) {
		FZ_ASSERT(!pthread_create(&f->thread, NULL, cf_fake_main, f));
		f->started = true;
	}

	/* huge answers are only counted */
	out = padded ? cf_counter(&olen) : open_memstream(&obuf, &olen);
	FZ_ASSERT(out);
	pthread_mutex_lock(&f->lock);
	f->job++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	/* the name is valid and the socket listens: the client always connects */
	r = control_request_timeout(CF_FAKE, cmd, out, timeout, &e);
	FZ_ASSERT(!fclose(out));
	pthread_mutex_lock(&f->lock);
	while (f->done != f->job)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);

	FZ_ASSERT(r == 0 || (r == -1 && cf_one_line(e.msg)));
	/* never more out than in */
	FZ_ASSERT(olen <= total);
	if (strlen(cmd) >= CONTROL_CMD_MAX || f->hold || !f->read_cmd) {
		/* refused, timed out, or reset by a fake that left the command unread */
		FZ_ASSERT(r == -1 && !olen);
	} else if (total >= 2 * (size_t)CONTROL_ANSWER_MAX ||
		   (strict && total > CONTROL_ANSWER_MAX)) {
		/* what a client buffers is bounded */
		FZ_ASSERT(r == -1 && !olen && strstr(e.msg, "answered more than"));
	} else if (padded) {
		/* under twice the cap, over it may be refused (FUZZ_STRICT_ANSWER_CAP: must be) */
		if (!(total > CONTROL_ANSWER_MAX && r == -1 && strstr(e.msg, "answered more than"))) {
			mr = cf_model_padded(f->head, f->len, f->pad, &mlen);
			FZ_ASSERT(r == mr && olen == mlen);
		}
	} else {
		/* the lines before OK/ERR, as the model reads them */
		out = open_memstream(&mbuf, &mlen);
		FZ_ASSERT(out);
		mr = cf_model(f->head, f->len, out);
		FZ_ASSERT(!fclose(out));
		FZ_ASSERT(r == (mr ? -1 : 0) && olen == mlen && !memcmp(obuf, mbuf, olen));
		free(mbuf);
	}
	free(obuf);

	if (cflags & CF_BAD_NAME) {
		/* "x...": never the fake's name nor the server's */
		snprintf(name, sizeof(name), "x%s", cmd);
		out = fopen("/dev/null", "w");
		FZ_ASSERT(out);
		r = control_request_timeout(name, "info", out, 0, &e);
		fclose(out);
		FZ_ASSERT(r == -1 && cf_one_line(e.msg));
	}
}

/* ------------------------------------------------------------ */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct lkvm_err e = { "" };
	struct evloop loop;
	struct control c = { .handle = cf_handle };
	char dir[sizeof(sa.sun_path)];
	size_t i;
	int dfd;

	/* the sockets live in this process's scratch directory, nowhere else */
	setenv("XDG_RUNTIME_DIR", fz_scratch(), 1);
	for (i = 0; i < sizeof(cf_big); i += 64)
		snprintf(cf_big + i, 65, "%-63zu", i / 64);
	for (i = 63; i < sizeof(cf_big); i += 64)
		cf_big[i] = '\n';
	memset(cf_xs, 'x', sizeof(cf_xs));
	cf_big_ok_len = sizeof(cf_big) + 3;
	cf_big_ok = malloc(cf_big_ok_len);
	if (!cf_big_ok)
		exit(1);
	memcpy(cf_big_ok, cf_big, sizeof(cf_big));
	memcpy(cf_big_ok + sizeof(cf_big), "OK\n", 3);
	/* a server can be opened and closed here: else no input could run */
	if (evloop_init(&loop, &e) || control_open(&c, CF_NAME, &loop, &e)) {
		fprintf(stderr, "fuzz-control: %s\n", e.msg);
		exit(1);
	}
	control_close(&c, &loop);
	evloop_exit(&loop);
	dfd = control_dir_open(dir, sizeof(dir), true, &e);
	cf_fake.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (dfd < 0 || cf_fake.lfd < 0 ||
	    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" CF_FAKE ".sock", dir) >=
		    (int)sizeof(sa.sun_path) ||
	    bind(cf_fake.lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(cf_fake.lfd, 4)) {
		perror("fuzz-control: the fake VM's socket");
		exit(1);
	}
	close(dfd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	int fds = fz_nr_fds();

	if (fz_u8(&in) & 1)
		cf_client(&in);
	else
		cf_server(&in);
	/* nothing of the exchange stays open: slots, timers, connections */
	FZ_ASSERT(fz_nr_fds() == fds);
	return 0;
}
