// SPDX-License-Identifier: GPL-2.0
/*
 * 9p/: the 9P2000.L server driven with hand-built T-messages against a
 * temporary share (build/p9-XXXXXX/share, with build/p9-XXXXXX/outside
 * next to it for escape attempts), results checked on the host side.
 * The message constants here are written from the protocol, not taken
 * from the server's headers, so the two check each other.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "p9.h"
#include "virtio_devs.h"
#include "test.h"

enum {
	T_LERROR = 6, R_LERROR = 7, T_STATFS = 8, T_LOPEN = 12, T_LCREATE = 14, T_SYMLINK = 16,
	T_MKNOD = 18, T_RENAME = 20, T_READLINK = 22, T_GETATTR = 24, T_SETATTR = 26,
	T_XATTRWALK = 30, T_XATTRCREATE = 32, T_READDIR = 40, T_FSYNC = 50, T_LOCK = 52,
	T_GETLOCK = 54, T_LINK = 70, T_MKDIR = 72, T_RENAMEAT = 74, T_UNLINKAT = 76,
	T_VERSION = 100, T_AUTH = 102, T_ATTACH = 104, T_FLUSH = 108, T_WALK = 110, T_OPEN = 112,
	T_READ = 116, T_WRITE = 118, T_CLUNK = 120, T_REMOVE = 122,
};

#define NOFID 0xffffffffu
#define ROOT 0u /* the fid fx_start attaches */
/* Tlopen flags on the wire (Linux's generic O_* values, on any host) */
#define L_RDONLY 0u
#define L_WRONLY 1u
#define L_RDWR 2u
#define L_CREATE 0100u
#define L_EXCL 0200u
#define L_TRUNC 01000u
#define L_APPEND 02000u
#define L_DIRECTORY 0200000u
/* Tsetattr valid */
#define A_MODE 0x1u
#define A_UID 0x2u
#define A_GID 0x4u
#define A_SIZE 0x8u
#define A_ATIME 0x10u
#define A_MTIME 0x20u
#define A_ATIME_SET 0x80u
#define A_MTIME_SET 0x100u

#define Q(x) ((uint64_t)(x))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define REQ_CAP (P9_MSIZE_MAX + 64)

struct tq {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

struct fx {
	char base[64];
	char share[96];
	char outside[96];
	struct p9_server *s;
	uint8_t *req, *resp;
	size_t rlen, cap;
	uint16_t tag;
	unsigned int walked; /* names sent by the last walk() */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/*
 * A T-message: header, then per format character
 * b u8, w u16, d u32, q u64 (pass a uint64_t: Q()), s C string,
 * S (unsigned len, const char *) string with any bytes, D (unsigned n, const void *) count[4]
 * and data, N (unsigned n, const char **) nwname[2] and n strings.
 * Returns the length, 0 (and a failure) if it does not fit cap.
 */
static size_t vbuild(uint8_t *buf, size_t cap, uint8_t type, uint16_t tag, const char *fmt,
		     va_list ap)
{
	size_t pos = 7, n, i;
	const char *str, **names;
	const void *data;
	uint64_t v;

#define ROOM(k)                                                           \
	do {                                                              \
		if (cap - pos < (k)) {                                    \
			test_fail(__FILE__, __LINE__, "message too long"); \
			return 0;                                         \
		}                                                         \
	} while (0)
	for (; *fmt; fmt++) {
		switch (*fmt) {
		case 'b':
			ROOM(1);
			buf[pos++] = (uint8_t)va_arg(ap, unsigned int);
			break;
		case 'w':
			ROOM(2);
			put16(buf + pos, (uint16_t)va_arg(ap, unsigned int));
			pos += 2;
			break;
		case 'd':
			ROOM(4);
			put32(buf + pos, va_arg(ap, unsigned int));
			pos += 4;
			break;
		case 'q':
			ROOM(8);
			v = va_arg(ap, uint64_t);
			put32(buf + pos, (uint32_t)v);
			put32(buf + pos + 4, (uint32_t)(v >> 32));
			pos += 8;
			break;
		case 's':
		case 'S':
			if (*fmt == 's') {
				str = va_arg(ap, const char *);
				n = strlen(str);
			} else {
				n = va_arg(ap, unsigned int);
				str = va_arg(ap, const char *);
			}
			ROOM(2 + n);
			put16(buf + pos, (uint16_t)n);
			memcpy(buf + pos + 2, str, n);
			pos += 2 + n;
			break;
		case 'D':
			n = va_arg(ap, unsigned int);
			data = va_arg(ap, const void *);
			ROOM(4 + n);
			put32(buf + pos, (uint32_t)n);
			memcpy(buf + pos + 4, data, n);
			pos += 4 + n;
			break;
		case 'N':
			n = va_arg(ap, unsigned int);
			names = va_arg(ap, const char **);
			ROOM(2);
			put16(buf + pos, (uint16_t)n);
			pos += 2;
			for (i = 0; i < n; i++) {
				size_t l = strlen(names[i]);

				ROOM(2 + l);
				put16(buf + pos, (uint16_t)l);
				memcpy(buf + pos + 2, names[i], l);
				pos += 2 + l;
			}
			break;
		default:
			test_fail(__FILE__, __LINE__, "bad format %c", *fmt);
			return 0;
		}
	}
#undef ROOM
	put32(buf, (uint32_t)pos);
	buf[4] = type;
	put16(buf + 5, tag);
	return pos;
}

static size_t build(uint8_t *buf, size_t cap, uint8_t type, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = vbuild(buf, cap, type, 1, fmt, ap);
	va_end(ap);
	return n;
}

/*
 * Sends f->req[0..len) and checks the R-message's frame. Returns 0 for the
 * expected R-type, the errno of an Rlerror, -1 for anything else.
 */
static int send_req(struct fx *f, size_t len, uint8_t type, uint16_t tag)
{
	uint32_t e;

	f->rlen = p9_server_handle(f->s, f->req, len, f->resp, f->cap);
	if (f->rlen < 7 || f->rlen > f->cap || f->rlen > p9_server_msize(f->s) ||
	    get32(f->resp) != f->rlen || get16(f->resp + 5) != tag) {
		test_fail(__FILE__, __LINE__, "bad R-message frame (len %zu) for type %u", f->rlen,
			  type);
		return -1;
	}
	if (f->resp[4] == R_LERROR) {
		e = get32(f->resp + 7);
		if (f->rlen != 11 || !e) {
			test_fail(__FILE__, __LINE__, "bad Rlerror for type %u", type);
			return -1;
		}
		return (int)e;
	}
	if (f->resp[4] != (uint8_t)(type + 1)) {
		test_fail(__FILE__, __LINE__, "R-type %u for T-type %u", f->resp[4], type);
		return -1;
	}
	return 0;
}

static int call(struct fx *f, uint8_t type, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	f->tag = (uint16_t)(f->tag + 1) % 0xfff0;
	va_start(ap, fmt);
	n = vbuild(f->req, REQ_CAP, type, f->tag, fmt, ap);
	va_end(ap);
	if (!n)
		return -1;
	return send_req(f, n, type, f->tag);
}

/*
 * Parses the last R-message's body: b/w/d/q into uint8_t/16/32/64 pointers,
 * s into a char[PATH_MAX + 1], Q into a struct tq, D into (uint32_t *count,
 * const uint8_t **data). The body must be consumed exactly.
 */
static bool rget(struct fx *f, const char *fmt, ...)
{
	size_t pos = 7, len = f->rlen, n;
	const uint8_t *r = f->resp;
	struct tq *q;
	va_list ap;
	char *s;
	bool ok = true;

	va_start(ap, fmt);
	for (; *fmt && ok; fmt++) {
		size_t need = *fmt == 'b' ? 1 : *fmt == 'w' ? 2 : *fmt == 'd' ? 4 :
			      *fmt == 'q' ? 8 : *fmt == 'Q' ? 13 : *fmt == 's' ? 2 : 4;

		if (len - pos < need) {
			ok = false;
			break;
		}
		switch (*fmt) {
		case 'b':
			*va_arg(ap, uint8_t *) = r[pos];
			break;
		case 'w':
			*va_arg(ap, uint16_t *) = get16(r + pos);
			break;
		case 'd':
			*va_arg(ap, uint32_t *) = get32(r + pos);
			break;
		case 'q':
			*va_arg(ap, uint64_t *) = get64(r + pos);
			break;
		case 'Q':
			q = va_arg(ap, struct tq *);
			q->type = r[pos];
			q->version = get32(r + pos + 1);
			q->path = get64(r + pos + 5);
			break;
		case 's':
			s = va_arg(ap, char *);
			n = get16(r + pos);
			if (len - pos - 2 < n || n > PATH_MAX) {
				ok = false;
				break;
			}
			memcpy(s, r + pos + 2, n);
			s[n] = 0;
			pos += n;
			break;
		case 'D':
			n = get32(r + pos);
			*va_arg(ap, uint32_t *) = (uint32_t)n;
			*va_arg(ap, const uint8_t **) = r + pos + 4;
			if (len - pos - 4 < n)
				ok = false;
			pos += n;
			break;
		}
		pos += need;
	}
	va_end(ap);
	if (!ok || pos != len)
		test_fail(__FILE__, __LINE__, "R-message body does not parse as \"%s\"", fmt);
	return ok && pos == len;
}

/* the share's path of rel, in one of a few rotating buffers */
static const char *sp(struct fx *f, const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", f->share, rel);
	return b;
}

static const char *op(struct fx *f, const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", f->outside, rel);
	return b;
}

static bool put_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, data, len) == (ssize_t)len;
	close(fd);
	return ok;
}

static bool put_str(const char *path, const char *s)
{
	return put_file(path, s, strlen(s));
}

/* the file's contents as a string (at most cap - 1 bytes), "" on error */
static const char *get_str(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	buf[0] = 0;
	if (fd < 0)
		return "<missing>";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0 : st.st_ino;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int walk(struct fx *f, uint32_t fid, uint32_t newfid, const char *path);

/*
 * The server needs openat2 (RESOLVE_BENEATH) and refuses to start without
 * it; qemu-user before 9.1 does not emulate it (the s390x run with an old
 * qemu-s390x-static): then the test skips, loudly.
 */
static bool openat2_missing(void)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH };
	long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how));

	if (fd >= 0) {
		close((int)fd);
		return false;
	}
	if (errno != ENOSYS)
		return false;
	test_skip("openat2: ENOSYS (Linux < 5.6, or qemu-user < 9.1)");
	return true;
}

/*
 * false: failed or skipped (already reported). ro: a read-only share;
 * otherwise flags as given (the pass-through tests take the guest's
 * owners and set-id bits: P9_FX_PASS).
 */
#define P9_FX_PASS (P9_SHARE_SETID | (geteuid() == 0 ? P9_SHARE_OWNERS : 0))
static bool fx_start_flags(struct fx *f, unsigned int flags)
{
	struct lkvm_err e;

	if (openat2_missing())
		return false;

	memset(f, 0, sizeof(*f));
	mkdir("build", 0755);
	snprintf(f->base, sizeof(f->base), "build/p9-XXXXXX");
	if (!mkdtemp(f->base)) {
		test_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
		return false;
	}
	snprintf(f->share, sizeof(f->share), "%s/share", f->base);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
	f->req = malloc(REQ_CAP);
	f->resp = malloc(P9_MSIZE_MAX);
	f->cap = P9_MSIZE_MAX;
	if (!f->req || !f->resp || mkdir(f->share, 0755) || mkdir(f->outside, 0755) ||
	    !put_str(op(f, "secret"), "secret")) {
		test_fail(__FILE__, __LINE__, "fixture setup failed");
		goto fail;
	}
	if (p9_server_create(&f->s, f->share, flags, &e)) {
		test_fail(__FILE__, __LINE__, "p9_server_create: %s", e.msg);
		goto fail;
	}
	if (call(f, T_VERSION, "ds", P9_MSIZE_MAX, "9P2000.L") ||
	    call(f, T_ATTACH, "ddssd", ROOT, NOFID, "root", "", 0)) {
		test_fail(__FILE__, __LINE__, "version/attach failed");
		p9_server_destroy(f->s);
		goto fail;
	}
	return true;
fail:
	free(f->req);
	free(f->resp);
	rm_rf(f->base);
	return false;
}

static bool fx_start(struct fx *f, bool ro)
{
	return fx_start_flags(f, (ro ? P9_SHARE_RO : 0) | P9_FX_PASS);
}

static void fx_end(struct fx *f)
{
	p9_server_destroy(f->s);
	free(f->req);
	free(f->resp);
	rm_rf(f->base);
}

/* A test with a fresh share (rw or ro) that is removed whatever the body does. */
#define P9_TEST(name, ro)                             \
	static void body_##name(struct fx *f);        \
	TEST(p9, name)                                \
	{                                             \
		struct fx fx;                         \
		if (!fx_start(&fx, ro))               \
			return;                       \
		body_##name(&fx);                     \
		fx_end(&fx);                          \
	}                                             \
	static void body_##name(struct fx *f)

/* Twalk by a slash-separated path (the names are sent one by one; "" walks none). */
static int walk(struct fx *f, uint32_t fid, uint32_t newfid, const char *path)
{
	char buf[PATH_MAX], *save = NULL, *tok;
	const char *names[32];
	unsigned int n = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok && n < 32; tok = strtok_r(NULL, "/", &save))
		names[n++] = tok;
	f->walked = n;
	return call(f, T_WALK, "ddN", fid, newfid, n, names);
}

/* the number of qids in the last Rwalk */
static unsigned int nwqid(struct fx *f)
{
	return f->rlen >= 9 ? get16(f->resp + 7) : 0xffff;
}

/* A walk that does not get all the way (an error, or a partial Rwalk), leaving no newfid. */
static bool walk_refused(struct fx *f, uint32_t fid, uint32_t newfid, const char *path)
{
	int r = walk(f, fid, newfid, path);

	if (!r && nwqid(f) == f->walked)
		return false;
	return call(f, T_CLUNK, "d", newfid) == EBADF;
}

static int lopen(struct fx *f, uint32_t fid, uint32_t flags)
{
	return call(f, T_LOPEN, "dd", fid, flags);
}

static int clunk(struct fx *f, uint32_t fid)
{
	return call(f, T_CLUNK, "d", fid);
}

/* walk from the root to newfid and open it */
static int wopen(struct fx *f, uint32_t newfid, const char *path, uint32_t flags)
{
	int r = walk(f, ROOT, newfid, path);

	if (r)
		return r;
	if (nwqid(f) != f->walked)
		return -2; /* a partial walk: newfid was not made */
	return lopen(f, newfid, flags);
}

static int twrite(struct fx *f, uint32_t fid, uint64_t off, const void *data, size_t len)
{
	uint32_t count;
	int r = call(f, T_WRITE, "dqD", fid, off, (unsigned int)len, data);

	if (r)
		return r;
	if (!rget(f, "d", &count))
		return -1;
	return count == len ? 0 : -1;
}

/* Tread into buf; *got is the count */
static int tread(struct fx *f, uint32_t fid, uint64_t off, uint32_t count, void *buf,
		 uint32_t *got)
{
	const uint8_t *data;
	int r = call(f, T_READ, "dqd", fid, off, count);

	if (r)
		return r;
	if (!rget(f, "D", got, &data))
		return -1;
	if (buf)
		memcpy(buf, data, *got);
	return 0;
}

struct tattr {
	uint64_t valid;
	struct tq qid;
	uint32_t mode, uid, gid;
	uint64_t nlink, rdev, size, blksize, blocks;
	uint64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns, btime, btime_ns, gen, dv;
};

static int getattr(struct fx *f, uint32_t fid, struct tattr *a)
{
	int r = call(f, T_GETATTR, "dq", fid, Q(0x3fff));

	if (r)
		return r;
	return rget(f, "qQdddqqqqqqqqqqqqqqq", &a->valid, &a->qid, &a->mode, &a->uid, &a->gid,
		    &a->nlink, &a->rdev, &a->size, &a->blksize, &a->blocks, &a->atime,
		    &a->atime_ns, &a->mtime, &a->mtime_ns, &a->ctime, &a->ctime_ns, &a->btime,
		    &a->btime_ns, &a->gen, &a->dv) ? 0 : -1;
}

static int setattr(struct fx *f, uint32_t fid, uint32_t valid, uint32_t mode, uint32_t uid,
		   uint32_t gid, uint64_t size, uint64_t as, uint64_t ans, uint64_t ms,
		   uint64_t mns)
{
	return call(f, T_SETATTR, "dddddqqqqq", fid, valid, mode, uid, gid, size, as, ans, ms,
		    mns);
}

/* count of this process's open fds */
static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own */
}

TEST(p9, create_errors)
{
	struct p9_server *s;
	struct lkvm_err e;

	CHECK(p9_server_create(&s, "build/p9-does-not-exist/x", false, &e) == -1);
	CHECK_CONTAINS(e.msg, "build/p9-does-not-exist/x");
	CHECK(p9_server_create(&s, "Makefile", false, &e) == -1);
	CHECK_CONTAINS(e.msg, "Makefile");
}

P9_TEST(version_msize, false)
{
	char v[PATH_MAX + 1];
	uint8_t *big;
	uint32_t msize, got;

	REQUIRE(call(f, T_VERSION, "ds", 8192, "9P2000.L") == 0);
	REQUIRE(rget(f, "ds", &msize, v));
	CHECK_EQ_U64(msize, 8192);
	CHECK_STR(v, "9P2000.L");
	CHECK_EQ_U64(p9_server_msize(f->s), 8192);
	/* a Tversion forgot the attach's fid */
	CHECK_EQ_U64(clunk(f, ROOT), EBADF);

	/* more than we agree to: ours */
	REQUIRE(call(f, T_VERSION, "ds", 1u << 24, "9P2000.L") == 0);
	REQUIRE(rget(f, "ds", &msize, v));
	CHECK_EQ_U64(msize, P9_MSIZE_MAX);
	/* another dialect: "unknown", and still a reset */
	CHECK_EQ_U64(call(f, T_ATTACH, "ddssd", 5, NOFID, "", "", 0), 0);
	REQUIRE(call(f, T_VERSION, "ds", 8192, "9P2000.u") == 0);
	REQUIRE(rget(f, "ds", &msize, v));
	CHECK_STR(v, "unknown");
	CHECK_EQ_U64(clunk(f, 5), EBADF);
	REQUIRE(call(f, T_VERSION, "ds", 8192, "9P2000.L.x") == 0);
	REQUIRE(rget(f, "ds", &msize, v));
	CHECK_STR(v, "unknown");
	/* too small to serve */
	CHECK_EQ_U64(call(f, T_VERSION, "ds", 100, "9P2000.L"), EINVAL);

	/* with msize 8192, a Tread gets at most 8192 - 11 bytes and no reply is larger */
	REQUIRE(call(f, T_VERSION, "ds", 8192, "9P2000.L") == 0);
	big = calloc(1, 20000);
	REQUIRE(big);
	CHECK(put_file(sp(f, "big"), big, 20000));
	CHECK_EQ_U64(call(f, T_ATTACH, "ddssd", ROOT, NOFID, "", "", 0), 0);
	CHECK_EQ_U64(wopen(f, 1, "big", L_RDWR), 0);
	CHECK_EQ_U64(tread(f, 1, 0, 100000, NULL, &got), 0);
	CHECK_EQ_U64(got, 8192 - 11);
	CHECK_EQ_U64(f->rlen, 8192);
	/* a T-message larger than msize */
	CHECK_EQ_U64(call(f, T_WRITE, "dqD", 1, Q(0), 9000, big), EMSGSIZE);
	CHECK_EQ_U64(twrite(f, 1, 0, big, 8000), 0);
	free(big);
	p9_server_reset(f->s);
	CHECK_EQ_U64(p9_server_msize(f->s), P9_MSIZE_MAX);
	CHECK_EQ_U64(clunk(f, 1), EBADF);
}

P9_TEST(attach, false)
{
	struct tq q;

	CHECK_EQ_U64(call(f, T_ATTACH, "ddssd", 1, NOFID, "u", "whatever", 1000), 0);
	REQUIRE(rget(f, "Q", &q));
	CHECK_EQ_U64(q.type, 0x80);
	CHECK_EQ_U64(q.path, ino_of(f->share));
	/* a fid in use; an auth fid (there is no Tauth) */
	CHECK(call(f, T_ATTACH, "ddssd", 1, NOFID, "u", "", 0) > 0);
	CHECK(call(f, T_ATTACH, "ddssd", 2, 7, "u", "", 0) > 0);
	CHECK_EQ_U64(clunk(f, 2), EBADF);
	CHECK_EQ_U64(clunk(f, 1), 0);
	CHECK_EQ_U64(clunk(f, 1), EBADF); /* double clunk */
}

P9_TEST(walk_clone_partial, false)
{
	const char *deep[16], *many[17];
	struct tq q[3];
	struct tattr a;
	char path[256] = "";
	int i;

	REQUIRE(!mkdir(sp(f, "a"), 0755) && !mkdir(sp(f, "a/b"), 0755));
	REQUIRE(put_str(sp(f, "a/b/f"), "hello"));

	/* nwname 0 clones */
	CHECK_EQ_U64(walk(f, ROOT, 1, ""), 0);
	CHECK_EQ_U64(nwqid(f), 0);
	CHECK_EQ_U64(f->rlen, 9);
	CHECK(getattr(f, 1, &a) == 0 && a.qid.path == ino_of(f->share));

	/* a full walk: one qid per name */
	CHECK_EQ_U64(walk(f, ROOT, 2, "a/b/f"), 0);
	REQUIRE(rget(f, "wQQQ", &(uint16_t){ 0 }, &q[0], &q[1], &q[2]));
	CHECK_EQ_U64(q[0].type, 0x80);
	CHECK_EQ_U64(q[0].path, ino_of(sp(f, "a")));
	CHECK_EQ_U64(q[1].type, 0x80);
	CHECK_EQ_U64(q[1].path, ino_of(sp(f, "a/b")));
	CHECK_EQ_U64(q[2].type, 0);
	CHECK_EQ_U64(q[2].path, ino_of(sp(f, "a/b/f")));

	/* partial: the qids so far, and no newfid */
	CHECK_EQ_U64(walk(f, ROOT, 3, "a/x/y"), 0);
	CHECK_EQ_U64(nwqid(f), 1);
	CHECK_EQ_U64(f->rlen, 9 + 13);
	CHECK_EQ_U64(clunk(f, 3), EBADF);
	/* the first name failing is an error */
	CHECK_EQ_U64(walk(f, ROOT, 3, "x"), ENOENT);
	CHECK_EQ_U64(walk(f, 2, 4, "z"), ENOTDIR);
	CHECK_EQ_U64(clunk(f, 4), EBADF);

	/* newfid == fid moves the fid, only on a complete walk */
	CHECK_EQ_U64(walk(f, 1, 1, "a"), 0);
	CHECK(getattr(f, 1, &a) == 0 && a.qid.path == ino_of(sp(f, "a")));
	CHECK_EQ_U64(walk(f, 1, 1, "nope/b"), ENOENT);
	CHECK_EQ_U64(walk(f, 1, 1, "b/nope"), 0);
	CHECK_EQ_U64(nwqid(f), 1);
	CHECK(getattr(f, 1, &a) == 0 && a.qid.path == ino_of(sp(f, "a")));
	CHECK_EQ_U64(walk(f, 1, 1, "b"), 0);
	CHECK(getattr(f, 1, &a) == 0 && a.qid.path == ino_of(sp(f, "a/b")));

	/* newfid in use, unknown fid */
	CHECK_EQ_U64(walk(f, ROOT, 2, "a"), EEXIST);
	CHECK_EQ_U64(walk(f, 77, 78, "a"), EBADF);
	CHECK_EQ_U64(walk(f, 77, 78, ""), EBADF);

	/* 16 names is the most */
	for (i = 0; i < 16; i++) {
		strcat(path, "d/");
		REQUIRE(!mkdir(sp(f, path), 0755));
		deep[i] = "d";
	}
	CHECK_EQ_U64(call(f, T_WALK, "ddN", ROOT, 10, 16, deep), 0);
	CHECK_EQ_U64(nwqid(f), 16);
	for (i = 0; i < 17; i++)
		many[i] = "d";
	CHECK_EQ_U64(call(f, T_WALK, "ddN", ROOT, 11, 17, many), EINVAL);
	CHECK_EQ_U64(clunk(f, 11), EBADF);
	/* a walk from an open fid to itself would change what it names */
	CHECK_EQ_U64(wopen(f, 12, "a", L_RDONLY), 0);
	CHECK(walk(f, 12, 12, "b") > 0);
	CHECK_EQ_U64(walk(f, 12, 13, "b"), 0);
}

P9_TEST(walk_bad_names, false)
{
	static const char *const bad[] = { "..", ".", "", "/", "a/b", "/etc", "b/" };
	struct tq q;
	unsigned int i;

	REQUIRE(!mkdir(sp(f, "a"), 0755) && !mkdir(sp(f, "a/b"), 0755));
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		const char *one[1] = { bad[i] };

		CHECK(call(f, T_WALK, "ddN", ROOT, 1, 1, one) > 0);
		CHECK_EQ_U64(clunk(f, 1), EBADF);
		/* and as a later name: a partial walk that stops there */
		CHECK_EQ_U64(call(f, T_WALK, "ddwsS", ROOT, 1, 2, "a", (unsigned int)strlen(bad[i]),
				  bad[i]), 0);
		CHECK_EQ_U64(nwqid(f), 1);
		CHECK_EQ_U64(clunk(f, 1), EBADF);
	}
	/* a NUL inside a name */
	CHECK(call(f, T_WALK, "ddwS", ROOT, 1, 1, 3, "a\0b") > 0);
	CHECK_EQ_U64(clunk(f, 1), EBADF);
	/* ".." from a subdirectory */
	CHECK_EQ_U64(walk(f, ROOT, 2, "a"), 0);
	CHECK(call(f, T_WALK, "ddws", 2, 3, 1, "..") > 0);
	CHECK_EQ_U64(clunk(f, 3), EBADF);
	CHECK_EQ_U64(walk(f, 2, 3, "b"), 0);
	REQUIRE(rget(f, "wQ", &(uint16_t){ 0 }, &q));
	CHECK_EQ_U64(q.path, ino_of(sp(f, "a/b")));
}

P9_TEST(lopen_read_write, false)
{
	char buf[64];
	uint32_t got;
	struct tq q;
	uint32_t iounit;

	REQUIRE(put_str(sp(f, "f"), "0123456789"));
	REQUIRE(!mkdir(sp(f, "d"), 0755));
	CHECK_EQ_U64(wopen(f, 1, "f", L_RDWR), 0);
	REQUIRE(rget(f, "Qd", &q, &iounit));
	CHECK_EQ_U64(q.type, 0);
	CHECK_EQ_U64(q.path, ino_of(sp(f, "f")));
	CHECK_EQ_U64(iounit, 0);
	CHECK_EQ_U64(twrite(f, 1, 5, "abc", 3), 0);
	CHECK_STR(get_str(sp(f, "f")), "01234abc89");
	CHECK_EQ_U64(tread(f, 1, 3, 4, buf, &got), 0);
	CHECK_EQ_U64(got, 4);
	CHECK_MEM(buf, "34ab", 4);
	CHECK_EQ_U64(tread(f, 1, 100, 10, buf, &got), 0);
	CHECK_EQ_U64(got, 0);
	/* a write past the end extends the file */
	CHECK_EQ_U64(twrite(f, 1, 12, "Z", 1), 0);
	CHECK_EQ_U64(get_str(sp(f, "f"))[10], 0); /* the hole */
	CHECK_EQ_U64(lopen(f, 1, L_RDONLY), EBADF); /* open twice */

	/* unopened fids, a read-only fid */
	CHECK_EQ_U64(walk(f, ROOT, 2, "f"), 0);
	CHECK_EQ_U64(tread(f, 2, 0, 4, buf, &got), EBADF);
	CHECK_EQ_U64(twrite(f, 2, 0, "x", 1), EBADF);
	CHECK_EQ_U64(lopen(f, 2, L_RDONLY), 0);
	CHECK_EQ_U64(twrite(f, 2, 0, "x", 1), EBADF);
	CHECK_EQ_U64(tread(f, 2, 0, 2, buf, &got), 0);
	CHECK_MEM(buf, "01", 2);
	CHECK_EQ_U64(tread(f, 99, 0, 2, buf, &got), EBADF);
	CHECK_EQ_U64(call(f, T_READ, "dqd", 2, Q(1) << 63, 2), EINVAL);

	/* directories: read-only, never read() */
	CHECK_EQ_U64(wopen(f, 3, "d", L_RDONLY | L_DIRECTORY), 0);
	REQUIRE(rget(f, "Qd", &q, &iounit));
	CHECK_EQ_U64(q.type, 0x80);
	CHECK_EQ_U64(tread(f, 3, 0, 4, buf, &got), EISDIR);
	CHECK_EQ_U64(wopen(f, 4, "d", L_WRONLY), EISDIR);
	CHECK_EQ_U64(wopen(f, 5, "f", L_RDONLY | L_DIRECTORY), ENOTDIR);
	CHECK_EQ_U64(lopen(f, 5, 3), EINVAL); /* no access mode 3 */

	/* TRUNC and APPEND */
	CHECK_EQ_U64(wopen(f, 6, "f", L_WRONLY | L_TRUNC), 0);
	CHECK_STR(get_str(sp(f, "f")), "");
	CHECK_EQ_U64(wopen(f, 7, "f", L_WRONLY | L_APPEND), 0);
	CHECK_EQ_U64(twrite(f, 6, 0, "ab", 2), 0);
	CHECK_EQ_U64(twrite(f, 7, 0, "cd", 2), 0);
	CHECK_STR(get_str(sp(f, "f")), "abcd");

	/* a path the host removed */
	CHECK_EQ_U64(walk(f, ROOT, 8, "d"), 0);
	REQUIRE(!rmdir(sp(f, "d")));
	CHECK_EQ_U64(lopen(f, 8, L_RDONLY), ENOENT);
	/* an open fid survives the unlink of its file */
	REQUIRE(!unlink(sp(f, "f")));
	CHECK_EQ_U64(tread(f, 2, 0, 4, buf, &got), 0);
	CHECK_EQ_U64(got, 4);
	CHECK_MEM(buf, "abcd", 4);
}

P9_TEST(lcreate, false)
{
	struct stat st;
	struct tq q;
	uint32_t iounit;
	char buf[16];
	uint32_t got;

	REQUIRE(!mkdir(sp(f, "d"), 0755));
	umask(022);
	/* as user 4321: that owner, the given gid, the exact mode (no host umask) */
	CHECK_EQ_U64(call(f, T_ATTACH, "ddssd", 9, NOFID, "u", "", 4321), 0);
	CHECK_EQ_U64(walk(f, 9, 1, "d"), 0);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 1, "new", L_RDWR | L_CREATE, 0100666, 1234), 0);
	REQUIRE(rget(f, "Qd", &q, &iounit));
	REQUIRE(!lstat(sp(f, "d/new"), &st));
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ_U64(st.st_mode & 07777, 0666);
	CHECK_EQ_U64(st.st_uid, 4321);
	CHECK_EQ_U64(st.st_gid, 1234);
	CHECK_EQ_U64(q.type, 0);
	CHECK_EQ_U64(q.path, st.st_ino);
	/* the fid is now the open new file */
	CHECK_EQ_U64(twrite(f, 1, 0, "data", 4), 0);
	CHECK_STR(get_str(sp(f, "d/new")), "data");
	CHECK_EQ_U64(tread(f, 1, 0, 16, buf, &got), 0);
	CHECK_EQ_U64(got, 4);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 1, "x", L_RDWR, 0644, 0), EBADF);

	/* exists: EXCL fails; without EXCL it is opened (TRUNC honoured) */
	CHECK_EQ_U64(walk(f, ROOT, 2, "d"), 0);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 2, "new", L_RDWR | L_CREATE | L_EXCL, 0644, 0),
		     EEXIST);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 2, "new", L_RDWR | L_CREATE, 0644, 0), 0);
	CHECK_STR(get_str(sp(f, "d/new")), "data");
	CHECK_EQ_U64(walk(f, ROOT, 3, "d"), 0);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 3, "new", L_WRONLY | L_TRUNC, 0644, 0), 0);
	CHECK_STR(get_str(sp(f, "d/new")), "");
	/* an existing directory is not a file to create */
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", ROOT, "d", L_RDONLY, 0644, 0), EISDIR);

	/* not a directory; bad names; unknown fid */
	CHECK_EQ_U64(walk(f, ROOT, 4, "d/new"), 0);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 4, "x", L_RDWR, 0644, 0), ENOTDIR);
	CHECK_EQ_U64(walk(f, ROOT, 5, "d"), 0);
	CHECK(call(f, T_LCREATE, "dsddd", 5, "..", L_RDWR, 0644, 0) > 0);
	CHECK(call(f, T_LCREATE, "dsddd", 5, "a/b", L_RDWR, 0644, 0) > 0);
	CHECK(call(f, T_LCREATE, "dsddd", 5, "", L_RDWR, 0644, 0) > 0);
	CHECK(call(f, T_LCREATE, "dsddd", 5, ".", L_RDWR, 0644, 0) > 0);
	CHECK(call(f, T_LCREATE, "dSddd", 5, 3, "a\0b", L_RDWR, 0644, 0) > 0);
	CHECK(!exists(sp(f, "a")) && !exists(sp(f, "d/a")));
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 55, "x", L_RDWR, 0644, 0), EBADF);
	/* the fid that failed is still the directory */
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 5, "ok", L_RDWR, 0600, 0), 0);
	CHECK(exists(sp(f, "d/ok")));
}

P9_TEST(large_read_write, false)
{
	const size_t len = 400 * 1024;
	uint8_t *data = malloc(600 * 1024), *back = malloc(600 * 1024);
	uint32_t got;
	size_t i;

	REQUIRE(data && back);
	for (i = 0; i < 600 * 1024; i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	CHECK_EQ_U64(p9_server_msize(f->s), 512 * 1024);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", ROOT, "big", L_RDWR | L_CREATE, 0644, 0), 0);
	/* 400 KiB in one Twrite and one Tread */
	CHECK_EQ_U64(twrite(f, ROOT, 0, data, len), 0);
	CHECK_EQ_U64(tread(f, ROOT, 0, (uint32_t)len, back, &got), 0);
	CHECK_EQ_U64(got, len);
	CHECK(!memcmp(back, data, len));
	CHECK_EQ_U64(f->rlen, 11 + len);
	/* the host sees it */
	{
		int fd = open(sp(f, "big"), O_RDONLY);

		REQUIRE(fd >= 0);
		memset(back, 0, len);
		CHECK_EQ_U64(pread(fd, back, len, 0), len);
		CHECK(!memcmp(back, data, len));
		close(fd);
	}
	/* more than msize - 11 asked: msize - 11 given */
	CHECK(put_file(sp(f, "big"), data, 600 * 1024));
	CHECK_EQ_U64(tread(f, ROOT, 0, 0xffffffffu, back, &got), 0);
	CHECK_EQ_U64(got, 512 * 1024 - 11);
	CHECK_EQ_U64(f->rlen, 512 * 1024);
	CHECK(!memcmp(back, data, got));
	/* and no more than the reply buffer holds */
	f->cap = 1000;
	CHECK_EQ_U64(tread(f, ROOT, 100, 0xffffffffu, back, &got), 0);
	CHECK_EQ_U64(got, 989);
	CHECK(!memcmp(back, data + 100, got));
	f->cap = P9_MSIZE_MAX;
	free(data);
	free(back);
}

P9_TEST(getattr, false)
{
	struct tattr a;
	struct stat st;

	REQUIRE(put_file(sp(f, "g"), "0123456789", 10));
	REQUIRE(!chmod(sp(f, "g"), 02751) && !chown(sp(f, "g"), 11, 22));
	REQUIRE(!symlink("g", sp(f, "l")));
	REQUIRE(!lstat(sp(f, "g"), &st));
	CHECK_EQ_U64(walk(f, ROOT, 1, "g"), 0);
	REQUIRE(getattr(f, 1, &a) == 0);
	CHECK_EQ_U64(a.valid & 0x7ff, 0x7ff);
	CHECK_EQ_U64(a.qid.type, 0);
	CHECK_EQ_U64(a.qid.path, st.st_ino);
	CHECK_EQ_U64(a.mode, st.st_mode);
	CHECK_EQ_U64(a.uid, 11);
	CHECK_EQ_U64(a.gid, 22);
	CHECK_EQ_U64(a.nlink, 1);
	CHECK_EQ_U64(a.rdev, 0);
	CHECK_EQ_U64(a.size, 10);
	CHECK_EQ_U64(a.blksize, st.st_blksize);
	CHECK_EQ_U64(a.blocks, st.st_blocks);
	CHECK_EQ_U64(a.atime, st.st_atim.tv_sec);
	CHECK_EQ_U64(a.atime_ns, st.st_atim.tv_nsec);
	CHECK_EQ_U64(a.mtime, st.st_mtim.tv_sec);
	CHECK_EQ_U64(a.mtime_ns, st.st_mtim.tv_nsec);
	CHECK_EQ_U64(a.ctime, st.st_ctim.tv_sec);
	CHECK_EQ_U64(a.ctime_ns, st.st_ctim.tv_nsec);
	/* a symlink is itself */
	CHECK_EQ_U64(walk(f, ROOT, 2, "l"), 0);
	REQUIRE(getattr(f, 2, &a) == 0);
	CHECK(S_ISLNK(a.mode));
	CHECK_EQ_U64(a.qid.type, 0x02);
	CHECK_EQ_U64(a.qid.path, ino_of(sp(f, "l")));
	CHECK_EQ_U64(a.size, 1);
	/* the root */
	REQUIRE(getattr(f, ROOT, &a) == 0);
	CHECK(S_ISDIR(a.mode));
	CHECK_EQ_U64(a.qid.type, 0x80);
	/* an open fid of an unlinked file: its fd */
	CHECK_EQ_U64(wopen(f, 3, "g", L_RDONLY), 0);
	REQUIRE(!unlink(sp(f, "g")));
	REQUIRE(getattr(f, 3, &a) == 0);
	CHECK_EQ_U64(a.nlink, 0);
	CHECK_EQ_U64(a.size, 10);
	/* a walked fid whose file is gone; an unknown fid */
	CHECK_EQ_U64(getattr(f, 1, &a), ENOENT);
	CHECK_EQ_U64(getattr(f, 42, &a), EBADF);
}

P9_TEST(setattr, false)
{
	struct timespec t0;
	struct stat st;

	REQUIRE(put_str(sp(f, "s"), "0123456789"));
	REQUIRE(!symlink("s", sp(f, "l")));
	REQUIRE(!mkdir(sp(f, "d"), 0755));
	CHECK_EQ_U64(walk(f, ROOT, 1, "s"), 0);
	/* owner and mode together: the set-id bit stays */
	CHECK_EQ_U64(setattr(f, 1, A_MODE | A_UID | A_GID, 0104750, 1000, 2000, 0, 0, 0, 0, 0), 0);
	REQUIRE(!stat(sp(f, "s"), &st));
	CHECK_EQ_U64(st.st_mode & 07777, 04750);
	CHECK_EQ_U64(st.st_uid, 1000);
	CHECK_EQ_U64(st.st_gid, 2000);
	/* only the gid (a chown alone drops set-id bits, as anywhere on Linux) */
	CHECK_EQ_U64(setattr(f, 1, A_GID, 0, 7, 3000, 0, 0, 0, 0, 0), 0);
	REQUIRE(!stat(sp(f, "s"), &st));
	CHECK_EQ_U64(st.st_uid, 1000);
	CHECK_EQ_U64(st.st_gid, 3000);
	CHECK_EQ_U64(st.st_mode & 07777, 0750);
	/* size: shrink, grow */
	CHECK_EQ_U64(setattr(f, 1, A_SIZE, 0, 0, 0, 3, 0, 0, 0, 0), 0);
	CHECK_STR(get_str(sp(f, "s")), "012");
	CHECK_EQ_U64(setattr(f, 1, A_SIZE, 0, 0, 0, 100, 0, 0, 0, 0), 0);
	REQUIRE(!stat(sp(f, "s"), &st));
	CHECK_EQ_U64(st.st_size, 100);
	/* times: given, and "now" */
	CHECK_EQ_U64(setattr(f, 1, A_ATIME | A_ATIME_SET | A_MTIME | A_MTIME_SET, 0, 0, 0, 0,
			     1000000, 5, 2000000, 7), 0);
	REQUIRE(!stat(sp(f, "s"), &st));
	CHECK_EQ_U64(st.st_atim.tv_sec, 1000000);
	CHECK_EQ_U64(st.st_atim.tv_nsec, 5);
	CHECK_EQ_U64(st.st_mtim.tv_sec, 2000000);
	CHECK_EQ_U64(st.st_mtim.tv_nsec, 7);
	clock_gettime(CLOCK_REALTIME, &t0);
	CHECK_EQ_U64(setattr(f, 1, A_MTIME, 0, 0, 0, 0, 0, 0, 5, 5), 0);
	REQUIRE(!stat(sp(f, "s"), &st));
	CHECK(st.st_mtim.tv_sec >= t0.tv_sec - 1);
	CHECK_EQ_U64(st.st_atim.tv_sec, 1000000); /* atime untouched */
	CHECK_EQ_U64(setattr(f, 1, A_ATIME | A_ATIME_SET, 0, 0, 0, 0, 1, 2000000000ULL, 0, 0),
		     EINVAL);
	/* an open fid: through its fd */
	CHECK_EQ_U64(wopen(f, 2, "s", L_RDWR), 0);
	CHECK_EQ_U64(setattr(f, 2, A_SIZE, 0, 0, 0, 1, 0, 0, 0, 0), 0);
	CHECK_STR(get_str(sp(f, "s")), "0");

	/* a symlink: no chmod, no truncate; owner and times are the link's own */
	CHECK_EQ_U64(walk(f, ROOT, 3, "l"), 0);
	CHECK_EQ_U64(setattr(f, 3, A_MODE, 0777, 0, 0, 0, 0, 0, 0, 0), EOPNOTSUPP);
	CHECK_EQ_U64(setattr(f, 3, A_SIZE, 0, 0, 0, 0, 0, 0, 0, 0), EINVAL);
	REQUIRE(!stat(sp(f, "s"), &st));
	CHECK_EQ_U64(st.st_mode & 07777, 0750);
	CHECK_EQ_U64(st.st_size, 1);
	CHECK_EQ_U64(setattr(f, 3, A_UID | A_MTIME | A_MTIME_SET, 0, 55, 0, 0, 0, 0, 3000000, 0),
		     0);
	REQUIRE(!lstat(sp(f, "l"), &st));
	CHECK_EQ_U64(st.st_uid, 55);
	CHECK_EQ_U64(st.st_mtim.tv_sec, 3000000);
	REQUIRE(!stat(sp(f, "s"), &st));
	CHECK_EQ_U64(st.st_uid, 1000);
	CHECK(st.st_mtim.tv_sec != 3000000);
	/* a directory cannot be truncated; unknown fid */
	CHECK_EQ_U64(walk(f, ROOT, 4, "d"), 0);
	CHECK_EQ_U64(setattr(f, 4, A_SIZE, 0, 0, 0, 0, 0, 0, 0, 0), EISDIR);
	CHECK_EQ_U64(setattr(f, 4, A_MODE, 040700, 0, 0, 0, 0, 0, 0, 0), 0);
	REQUIRE(!stat(sp(f, "d"), &st));
	CHECK_EQ_U64(st.st_mode & 07777, 0700);
	CHECK_EQ_U64(setattr(f, 44, A_MODE, 0, 0, 0, 0, 0, 0, 0, 0), EBADF);
}

struct tdirent {
	struct tq qid;
	uint64_t off;
	uint8_t type;
	char name[256];
};

/* Treaddir: the entries into ents (at most max); returns the count or -errno */
static int readdir_call(struct fx *f, uint32_t fid, uint64_t off, uint32_t count,
			struct tdirent *ents, int max)
{
	const uint8_t *p, *end;
	uint32_t n;
	int r = call(f, T_READDIR, "dqd", fid, off, count), k = 0;

	if (r)
		return -r;
	if (!rget(f, "D", &n, &p))
		return -1000;
	if (n > count)
		test_fail(__FILE__, __LINE__, "Rreaddir count %u > %u", n, count);
	for (end = p + n; p < end; k++) {
		uint16_t len;

		if (end - p < 24 || k >= max)
			return -1000;
		len = get16(p + 22);
		if (end - p - 24 < len || len > 255)
			return -1000;
		ents[k].qid.type = p[0];
		ents[k].qid.version = get32(p + 1);
		ents[k].qid.path = get64(p + 5);
		ents[k].off = get64(p + 13);
		ents[k].type = p[21];
		memcpy(ents[k].name, p + 24, len);
		ents[k].name[len] = 0;
		p += 24 + len;
	}
	return k;
}

P9_TEST(readdir_paging, false)
{
	struct tdirent ents[64];
	bool seen[40] = { false };
	int i, n, calls = 0, total = 0, others = 0;
	uint64_t off = 0;
	char name[64];

	REQUIRE(!mkdir(sp(f, "d"), 0755));
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "d/file-%02d", i);
		REQUIRE(put_str(sp(f, name), "x"));
	}
	REQUIRE(!mkdir(sp(f, "d/sub"), 0755));
	REQUIRE(!symlink("file-00", sp(f, "d/ln")));
	CHECK_EQ_U64(readdir_call(f, ROOT, 0, 4096, ents, 64), -EBADF); /* not open */
	CHECK_EQ_U64(wopen(f, 1, "d", L_RDONLY | L_DIRECTORY), 0);
	/* 128 bytes at a time: a few entries per call, each one exactly once */
	for (;;) {
		n = readdir_call(f, 1, off, 128, ents, 64);
		REQUIRE(n >= 0);
		if (!n)
			break;
		REQUIRE(++calls < 100);
		for (i = 0; i < n; i++) {
			int idx;

			total++;
			if (sscanf(ents[i].name, "file-%d", &idx) == 1 && idx >= 0 && idx < 40) {
				CHECK(!seen[idx]);
				seen[idx] = true;
				CHECK_EQ_U64(ents[i].type, DT_REG);
				CHECK_EQ_U64(ents[i].qid.type, 0);
				snprintf(name, sizeof(name), "d/%s", ents[i].name);
				CHECK_EQ_U64(ents[i].qid.path, ino_of(sp(f, name)));
			} else if (!strcmp(ents[i].name, "sub")) {
				CHECK_EQ_U64(ents[i].type, DT_DIR);
				CHECK_EQ_U64(ents[i].qid.type, 0x80);
				CHECK_EQ_U64(ents[i].qid.path, ino_of(sp(f, "d/sub")));
				others++;
			} else if (!strcmp(ents[i].name, "ln")) {
				CHECK_EQ_U64(ents[i].type, DT_LNK);
				CHECK_EQ_U64(ents[i].qid.type, 0x02);
				others++;
			} else if (!strcmp(ents[i].name, ".") || !strcmp(ents[i].name, "..")) {
				CHECK_EQ_U64(ents[i].type, DT_DIR);
				others++;
			} else {
				test_fail(__FILE__, __LINE__, "unexpected entry %s", ents[i].name);
			}
		}
		off = ents[n - 1].off;
	}
	CHECK_EQ_U64(total, 44);
	CHECK_EQ_U64(others, 4);
	CHECK(calls >= 8);
	for (i = 0; i < 40; i++)
		CHECK(seen[i]);
	/* offset 0 starts again; a count too small for one entry */
	n = readdir_call(f, 1, 0, 8192, ents, 64);
	CHECK_EQ_U64(n, 44);
	CHECK_EQ_U64(readdir_call(f, 1, 0, 20, ents, 64), -EINVAL);
	CHECK_EQ_U64(readdir_call(f, 1, 0, 0, ents, 64), -EINVAL);
	/* at the end: nothing */
	CHECK_EQ_U64(readdir_call(f, 1, ents[n - 1].off, 8192, ents, 64), 0);
	/* a file is not a directory */
	CHECK_EQ_U64(wopen(f, 2, "d/file-01", L_RDONLY), 0);
	CHECK_EQ_U64(readdir_call(f, 2, 0, 4096, ents, 64), -ENOTDIR);
	CHECK_EQ_U64(readdir_call(f, 99, 0, 4096, ents, 64), -EBADF);
	/* the root's ".." is the root itself */
	CHECK_EQ_U64(wopen(f, 3, "", L_RDONLY), 0);
	n = readdir_call(f, 3, 0, 8192, ents, 64);
	CHECK_EQ_U64(n, 3);
	for (i = 0; i < n; i++)
		if (!strcmp(ents[i].name, ".."))
			CHECK_EQ_U64(ents[i].qid.path, ino_of(f->share));
}

P9_TEST(statfs_fsync, false)
{
	uint32_t type, bsize, namelen;
	uint64_t blocks, bfree, bavail, files, ffree, fsid;
	struct statfs sf;

	REQUIRE(!statfs(f->share, &sf));
	CHECK_EQ_U64(call(f, T_STATFS, "d", ROOT), 0);
	REQUIRE(rget(f, "ddqqqqqqd", &type, &bsize, &blocks, &bfree, &bavail, &files, &ffree,
		     &fsid, &namelen));
	CHECK_EQ_U64(type, (uint32_t)sf.f_type);
	CHECK_EQ_U64(bsize, sf.f_bsize);
	CHECK_EQ_U64(blocks, sf.f_blocks);
	CHECK_EQ_U64(files, sf.f_files);
	CHECK_EQ_U64(namelen, sf.f_namelen);
	CHECK_EQ_U64(call(f, T_STATFS, "d", 5), EBADF);

	REQUIRE(put_str(sp(f, "f"), "x"));
	CHECK_EQ_U64(walk(f, ROOT, 1, "f"), 0);
	CHECK_EQ_U64(call(f, T_FSYNC, "dd", 1, 0), EBADF); /* not open */
	CHECK_EQ_U64(lopen(f, 1, L_RDWR), 0);
	CHECK_EQ_U64(call(f, T_FSYNC, "dd", 1, 0), 0);
	CHECK_EQ_U64(f->rlen, 7);
	CHECK_EQ_U64(call(f, T_FSYNC, "dd", 1, 1), 0);
	CHECK_EQ_U64(call(f, T_FSYNC, "dd", 9, 0), EBADF);
}

P9_TEST(mkdir, false)
{
	struct stat st;
	struct tq q;

	umask(022);
	CHECK_EQ_U64(call(f, T_ATTACH, "ddssd", 1, NOFID, "u", "", 777), 0);
	CHECK_EQ_U64(call(f, T_MKDIR, "dsdd", 1, "m", 040777, 4444), 0);
	REQUIRE(rget(f, "Q", &q));
	REQUIRE(!lstat(sp(f, "m"), &st));
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ_U64(st.st_mode & 07777, 0777);
	CHECK_EQ_U64(st.st_uid, 777);
	CHECK_EQ_U64(st.st_gid, 4444);
	CHECK_EQ_U64(q.type, 0x80);
	CHECK_EQ_U64(q.path, st.st_ino);
	CHECK_EQ_U64(call(f, T_MKDIR, "dsdd", ROOT, "m", 0755, 0), EEXIST);
	CHECK_EQ_U64(walk(f, ROOT, 2, "m"), 0);
	CHECK_EQ_U64(call(f, T_MKDIR, "dsdd", 2, "n", 01750, 0), 0);
	REQUIRE(!lstat(sp(f, "m/n"), &st));
	CHECK_EQ_U64(st.st_mode & 07777, 01750);
	CHECK(call(f, T_MKDIR, "dsdd", ROOT, "..", 0755, 0) > 0);
	CHECK(call(f, T_MKDIR, "dsdd", ROOT, "m/x", 0755, 0) > 0);
	CHECK(!exists(sp(f, "m/x")));
	REQUIRE(put_str(sp(f, "file"), ""));
	CHECK_EQ_U64(walk(f, ROOT, 3, "file"), 0);
	CHECK_EQ_U64(call(f, T_MKDIR, "dsdd", 3, "x", 0755, 0), ENOTDIR);
	CHECK_EQ_U64(call(f, T_MKDIR, "dsdd", 33, "x", 0755, 0), EBADF);
}

P9_TEST(symlink_readlink, false)
{
	char target[PATH_MAX + 1], buf[PATH_MAX];
	struct stat st;
	struct tq q;
	ssize_t n;

	CHECK_EQ_U64(call(f, T_SYMLINK, "dssd", ROOT, "sl", "target/x", 0), 0);
	REQUIRE(rget(f, "Q", &q));
	REQUIRE(!lstat(sp(f, "sl"), &st));
	CHECK(S_ISLNK(st.st_mode));
	CHECK_EQ_U64(q.type, 0x02);
	CHECK_EQ_U64(q.path, st.st_ino);
	n = readlink(sp(f, "sl"), buf, sizeof(buf) - 1);
	REQUIRE(n > 0);
	buf[n] = 0;
	CHECK_STR(buf, "target/x");
	/* a dangling symlink can be walked to and read */
	CHECK_EQ_U64(walk(f, ROOT, 1, "sl"), 0);
	CHECK_EQ_U64(call(f, T_READLINK, "d", 1), 0);
	REQUIRE(rget(f, "s", target));
	CHECK_STR(target, "target/x");
	/* one the host made, pointing anywhere: the text is just read */
	REQUIRE(!symlink("/etc/passwd", sp(f, "abs")));
	CHECK_EQ_U64(walk(f, ROOT, 2, "abs"), 0);
	CHECK_EQ_U64(call(f, T_READLINK, "d", 2), 0);
	REQUIRE(rget(f, "s", target));
	CHECK_STR(target, "/etc/passwd");
	/* errors */
	REQUIRE(put_str(sp(f, "reg"), "x"));
	CHECK_EQ_U64(walk(f, ROOT, 3, "reg"), 0);
	CHECK_EQ_U64(call(f, T_READLINK, "d", 3), EINVAL);
	CHECK_EQ_U64(call(f, T_READLINK, "d", 33), EBADF);
	CHECK_EQ_U64(call(f, T_SYMLINK, "dssd", ROOT, "sl", "y", 0), EEXIST);
	CHECK_EQ_U64(call(f, T_SYMLINK, "dssd", ROOT, "e", "", 0), ENOENT);
	CHECK(call(f, T_SYMLINK, "dsSd", ROOT, "z", 3, "a\0b", 0) > 0);
	CHECK(call(f, T_SYMLINK, "dssd", ROOT, "..", "y", 0) > 0);
	CHECK(!exists(sp(f, "e")) && !exists(sp(f, "z")));
}

P9_TEST(mknod, false)
{
	struct stat st;
	struct tq q;

	umask(022);
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "p", S_IFIFO | 0666, 0, 0, 55), 0);
	REQUIRE(rget(f, "Q", &q));
	REQUIRE(!lstat(sp(f, "p"), &st));
	CHECK(S_ISFIFO(st.st_mode));
	CHECK_EQ_U64(st.st_mode & 07777, 0666);
	CHECK_EQ_U64(st.st_gid, 55);
	CHECK_EQ_U64(q.path, st.st_ino);
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "sock", S_IFSOCK | 0600, 0, 0, 0), 0);
	REQUIRE(!lstat(sp(f, "sock"), &st));
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "reg", S_IFREG | 0600, 0, 0, 0), 0);
	REQUIRE(!lstat(sp(f, "reg"), &st));
	CHECK(S_ISREG(st.st_mode));
	/* never a device */
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "null", S_IFCHR | 0666, 1, 3, 0), EPERM);
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "sda", S_IFBLK | 0666, 8, 0, 0), EPERM);
	CHECK(!exists(sp(f, "null")) && !exists(sp(f, "sda")));
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "dir", S_IFDIR | 0755, 0, 0, 0), EINVAL);
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "p", S_IFIFO | 0666, 0, 0, 0), EEXIST);
	CHECK(call(f, T_MKNOD, "dsdddd", ROOT, "../p2", S_IFIFO | 0666, 0, 0, 0) > 0);
	CHECK(!exists(sp(f, "../p2")));
	/* what was made is not opened for the guest either (and does not block) */
	CHECK_EQ_U64(wopen(f, 1, "p", L_RDONLY), EPERM);
	CHECK_EQ_U64(wopen(f, 2, "sock", L_RDWR), EPERM);
}

P9_TEST(link, false)
{
	struct stat st;

	REQUIRE(put_str(sp(f, "o"), "orig"));
	REQUIRE(!mkdir(sp(f, "d"), 0755));
	REQUIRE(!symlink("nowhere", sp(f, "sl")));
	CHECK_EQ_U64(walk(f, ROOT, 1, "o"), 0);
	CHECK_EQ_U64(walk(f, ROOT, 2, "d"), 0);
	CHECK_EQ_U64(call(f, T_LINK, "dds", 2, 1, "h"), 0);
	REQUIRE(!lstat(sp(f, "d/h"), &st));
	CHECK_EQ_U64(st.st_ino, ino_of(sp(f, "o")));
	CHECK_EQ_U64(st.st_nlink, 2);
	/* the link of a symlink is a symlink */
	CHECK_EQ_U64(walk(f, ROOT, 3, "sl"), 0);
	CHECK_EQ_U64(call(f, T_LINK, "dds", ROOT, 3, "sl2"), 0);
	REQUIRE(!lstat(sp(f, "sl2"), &st));
	CHECK(S_ISLNK(st.st_mode));
	/* errors */
	CHECK_EQ_U64(call(f, T_LINK, "dds", ROOT, 2, "dirlink"), EPERM);
	CHECK_EQ_U64(call(f, T_LINK, "dds", 2, 1, "h"), EEXIST);
	CHECK(call(f, T_LINK, "dds", 2, 1, "..") > 0);
	CHECK(call(f, T_LINK, "dds", 2, 1, "../h2") > 0);
	CHECK(call(f, T_LINK, "dds", 2, 1, "") > 0);
	CHECK(!exists(sp(f, "h2")) && !exists(sp(f, "../h2")));
	CHECK_EQ_U64(call(f, T_LINK, "dds", 2, 77, "x"), EBADF);
	CHECK_EQ_U64(call(f, T_LINK, "dds", 77, 1, "x"), EBADF);
	CHECK_EQ_U64(call(f, T_LINK, "dds", ROOT, ROOT, "x"), EBUSY);
}

P9_TEST(rename_renameat, false)
{
	struct tattr a;
	uint64_t ino;

	REQUIRE(put_str(sp(f, "r1"), "content"));
	REQUIRE(!mkdir(sp(f, "rd"), 0755));
	ino = ino_of(sp(f, "r1"));
	CHECK_EQ_U64(walk(f, ROOT, 1, "r1"), 0);
	CHECK_EQ_U64(walk(f, ROOT, 2, "rd"), 0);
	CHECK_EQ_U64(call(f, T_RENAME, "dds", 1, 2, "r2"), 0);
	CHECK(!exists(sp(f, "r1")));
	CHECK_STR(get_str(sp(f, "rd/r2")), "content");
	/* the fid follows its file */
	CHECK(getattr(f, 1, &a) == 0 && a.qid.path == ino);
	CHECK_EQ_U64(lopen(f, 1, L_RDONLY), 0);

	/* renameat of the directory: fids beneath it follow too */
	CHECK_EQ_U64(walk(f, ROOT, 3, "rd/r2"), 0);
	CHECK_EQ_U64(call(f, T_RENAMEAT, "dsds", ROOT, "rd", ROOT, "rd2"), 0);
	CHECK(exists(sp(f, "rd2/r2")) && !exists(sp(f, "rd")));
	CHECK(getattr(f, 3, &a) == 0 && a.qid.path == ino);
	CHECK(getattr(f, 2, &a) == 0 && a.qid.path == ino_of(sp(f, "rd2")));
	CHECK_EQ_U64(walk(f, 2, 4, "r2"), 0);
	/* into a subdirectory, by renameat */
	REQUIRE(!mkdir(sp(f, "sub"), 0755));
	CHECK_EQ_U64(walk(f, ROOT, 5, "sub"), 0);
	CHECK_EQ_U64(call(f, T_RENAMEAT, "dsds", 2, "r2", 5, "r3"), 0);
	CHECK_STR(get_str(sp(f, "sub/r3")), "content");
	CHECK(getattr(f, 4, &a) == 0 && a.qid.path == ino);

	/* errors: missing source, bad names on either side, the root */
	CHECK_EQ_U64(call(f, T_RENAMEAT, "dsds", ROOT, "nope", ROOT, "x"), ENOENT);
	CHECK(call(f, T_RENAMEAT, "dsds", 5, "r3", 5, "..") > 0);
	CHECK(call(f, T_RENAMEAT, "dsds", 5, "r3", 5, "../../x") > 0);
	CHECK(call(f, T_RENAMEAT, "dsds", 5, "..", ROOT, "x") > 0);
	CHECK(call(f, T_RENAME, "dds", 4, 5, "..") > 0);
	CHECK(call(f, T_RENAME, "dds", 4, 5, "a/b") > 0);
	CHECK(call(f, T_RENAME, "dds", 4, 5, "") > 0);
	CHECK(exists(sp(f, "sub/r3")) && !exists(sp(f, "x")));
	CHECK_EQ_U64(call(f, T_RENAME, "dds", ROOT, 5, "root"), EBUSY);
	CHECK_EQ_U64(call(f, T_RENAME, "dds", 99, 5, "x"), EBADF);
	CHECK_EQ_U64(call(f, T_RENAMEAT, "dsds", 99, "r3", 5, "x"), EBADF);
	/* a directory into itself */
	CHECK_EQ_U64(call(f, T_RENAMEAT, "dsds", ROOT, "sub", 5, "in"), EINVAL);
}

P9_TEST(unlinkat_remove, false)
{
	REQUIRE(put_str(sp(f, "f"), "x"));
	REQUIRE(!mkdir(sp(f, "d"), 0755));
	REQUIRE(!mkdir(sp(f, "full"), 0755));
	REQUIRE(put_str(sp(f, "full/x"), "x"));
	REQUIRE(!symlink("f", sp(f, "l")));
	CHECK_EQ_U64(call(f, T_UNLINKAT, "dsd", ROOT, "d", 0), EISDIR);
	CHECK_EQ_U64(call(f, T_UNLINKAT, "dsd", ROOT, "d", 1), EINVAL);
	CHECK_EQ_U64(call(f, T_UNLINKAT, "dsd", ROOT, "d", 0x200), 0);
	CHECK(!exists(sp(f, "d")));
	CHECK_EQ_U64(call(f, T_UNLINKAT, "dsd", ROOT, "full", 0x200), ENOTEMPTY);
	CHECK_EQ_U64(call(f, T_UNLINKAT, "dsd", ROOT, "l", 0), 0);
	CHECK(!exists(sp(f, "l")) && exists(sp(f, "f")));
	CHECK_EQ_U64(call(f, T_UNLINKAT, "dsd", ROOT, "nope", 0), ENOENT);
	CHECK(call(f, T_UNLINKAT, "dsd", ROOT, "..", 0x200) > 0);
	CHECK(call(f, T_UNLINKAT, "dsd", ROOT, "full/x", 0) > 0);
	CHECK(call(f, T_UNLINKAT, "dsd", ROOT, ".", 0x200) > 0);
	CHECK(exists(sp(f, "full/x")));
	CHECK_EQ_U64(call(f, T_UNLINKAT, "dsd", 9, "f", 0), EBADF);

	/* Tremove: the file goes, the fid too, even when it fails */
	CHECK_EQ_U64(walk(f, ROOT, 1, "f"), 0);
	CHECK_EQ_U64(call(f, T_REMOVE, "d", 1), 0);
	CHECK(!exists(sp(f, "f")));
	CHECK_EQ_U64(clunk(f, 1), EBADF);
	CHECK_EQ_U64(walk(f, ROOT, 2, "full"), 0);
	CHECK_EQ_U64(call(f, T_REMOVE, "d", 2), ENOTEMPTY);
	CHECK_EQ_U64(clunk(f, 2), EBADF);
	CHECK_EQ_U64(walk(f, ROOT, 3, "full/x"), 0);
	CHECK_EQ_U64(wopen(f, 4, "full", L_RDONLY), 0);
	CHECK_EQ_U64(call(f, T_REMOVE, "d", 3), 0);
	CHECK_EQ_U64(call(f, T_REMOVE, "d", 4), 0); /* an open, now empty, directory */
	CHECK(!exists(sp(f, "full")));
	CHECK_EQ_U64(call(f, T_REMOVE, "d", 4), EBADF);
	CHECK_EQ_U64(call(f, T_REMOVE, "d", ROOT), EBUSY); /* never the share itself */
	CHECK(exists(f->share));
	CHECK_EQ_U64(clunk(f, ROOT), EBADF);
}

P9_TEST(lock_getlock, false)
{
	uint8_t status, type;
	uint64_t start, len;
	uint32_t pid;
	char cid[PATH_MAX + 1];

	REQUIRE(put_str(sp(f, "lk"), "0123456789"));
	CHECK_EQ_U64(wopen(f, 1, "lk", L_RDWR), 0);
	CHECK_EQ_U64(wopen(f, 2, "lk", L_RDWR), 0);
	/* fid 1 write-locks [0, 5); fid 2 is refused at once, not made to wait */
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 1, 1, 0, Q(0), Q(5), 100, "guest"), 0);
	REQUIRE(rget(f, "b", &status));
	CHECK_EQ_U64(status, 0);
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 2, 1, 1, Q(2), Q(1), 200, "guest"), 0);
	REQUIRE(rget(f, "b", &status));
	CHECK_EQ_U64(status, 1); /* BLOCKED */
	/* a range that does not overlap is fine */
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 2, 0, 0, Q(5), Q(0), 200, "guest"), 0);
	REQUIRE(rget(f, "b", &status));
	CHECK_EQ_U64(status, 0);
	/* Tgetlock names the conflict, and echoes the client id */
	CHECK_EQ_U64(call(f, T_GETLOCK, "dbqqds", 2, 1, Q(0), Q(0), 200, "guest"), 0);
	REQUIRE(rget(f, "bqqds", &type, &start, &len, &pid, cid));
	CHECK_EQ_U64(type, 1);
	CHECK_EQ_U64(start, 0);
	CHECK_EQ_U64(len, 5);
	CHECK_STR(cid, "guest");
	CHECK_EQ_U64(call(f, T_GETLOCK, "dbqqds", 1, 1, Q(0), Q(5), 100, "g2"), 0);
	REQUIRE(rget(f, "bqqds", &type, &start, &len, &pid, cid));
	CHECK_EQ_U64(type, 2); /* its own lock does not conflict */
	CHECK_EQ_U64(pid, 100);
	CHECK_STR(cid, "g2");
	/* unlock; now fid 2 gets it */
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 1, 2, 0, Q(0), Q(0), 100, "guest"), 0);
	REQUIRE(rget(f, "b", &status));
	CHECK_EQ_U64(status, 0);
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 2, 1, 1, Q(0), Q(5), 200, "guest"), 0);
	REQUIRE(rget(f, "b", &status));
	CHECK_EQ_U64(status, 0);
	/* a clunk drops its locks */
	CHECK_EQ_U64(clunk(f, 2), 0);
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 1, 1, 0, Q(0), Q(0), 100, "guest"), 0);
	REQUIRE(rget(f, "b", &status));
	CHECK_EQ_U64(status, 0);
	/* errors */
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 1, 7, 0, Q(0), Q(0), 1, ""), EINVAL);
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 1, 0, 0, Q(-1), Q(0), 1, ""), EINVAL);
	CHECK_EQ_U64(call(f, T_GETLOCK, "dbqqds", 1, 2, Q(0), Q(0), 1, ""), EINVAL);
	CHECK_EQ_U64(walk(f, ROOT, 3, "lk"), 0);
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 3, 0, 0, Q(0), Q(0), 1, ""), EBADF);
	CHECK_EQ_U64(call(f, T_GETLOCK, "dbqqds", 3, 0, Q(0), Q(0), 1, ""), EBADF);
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 33, 0, 0, Q(0), Q(0), 1, ""), EBADF);
}

P9_TEST(misc_ops, false)
{
	/* Tflush: done (one request at a time) */
	CHECK_EQ_U64(call(f, T_FLUSH, "w", 3), 0);
	CHECK_EQ_U64(f->rlen, 7);
	/* no xattrs */
	CHECK_EQ_U64(call(f, T_XATTRWALK, "dds", ROOT, 1, "user.x"), EOPNOTSUPP);
	CHECK_EQ_U64(clunk(f, 1), EBADF);
	CHECK_EQ_U64(call(f, T_XATTRCREATE, "dsqd", ROOT, "user.x", Q(4), 0), EOPNOTSUPP);
	/* unknown and unsupported types */
	CHECK_EQ_U64(call(f, T_AUTH, "dssd", 1, "u", "", 0), EOPNOTSUPP);
	CHECK_EQ_U64(call(f, T_OPEN, "db", ROOT, 0), EOPNOTSUPP);
	CHECK_EQ_U64(call(f, T_LERROR, "d", 5), EOPNOTSUPP);
	CHECK_EQ_U64(call(f, 200, ""), EOPNOTSUPP);
	CHECK_EQ_U64(call(f, 255, "dd", 1, 2), EOPNOTSUPP);
	CHECK_EQ_U64(call(f, 0, ""), EOPNOTSUPP);
	/* the fid table still works */
	CHECK_EQ_U64(walk(f, ROOT, 1, ""), 0);
}

/* "path mode uid gid size mtime [link]" of every entry under dir, in a string */
static char snap_buf[16384];
static size_t snap_len;

static int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char link[256] = "";
	int n;

	if (S_ISLNK(st->st_mode)) {
		ssize_t l = readlink(path, link, sizeof(link) - 1);

		link[l > 0 ? l : 0] = 0;
	}
	n = snprintf(snap_buf + snap_len, sizeof(snap_buf) - snap_len,
		     "%s %o %u %u %lld %lld.%09ld %s\n", path, st->st_mode, st->st_uid, st->st_gid,
		     (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		     link);
	if (n > 0 && (size_t)n < sizeof(snap_buf) - snap_len)
		snap_len += (size_t)n;
	return 0;
}

static char *snapshot(const char *dir)
{
	snap_len = 0;
	snap_buf[0] = 0;
	nftw(dir, snap_one, 16, FTW_PHYS);
	return strdup(snap_buf);
}

P9_TEST(read_only, true)
{
	char *before, *after, buf[16];
	uint32_t got;

	REQUIRE(put_str(sp(f, "f"), "keep"));
	REQUIRE(!mkdir(sp(f, "d"), 0755));
	REQUIRE(put_str(sp(f, "d/g"), "keep"));
	REQUIRE(!symlink("f", sp(f, "l")));
	before = snapshot(f->base);
	REQUIRE(before);

	CHECK_EQ_U64(walk(f, ROOT, 1, "d"), 0);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 1, "new", L_RDWR | L_CREATE, 0644, 0), EROFS);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 1, "g", L_RDONLY, 0644, 0), EROFS);
	CHECK_EQ_U64(wopen(f, 2, "f", L_WRONLY), EROFS);
	CHECK_EQ_U64(lopen(f, 2, L_RDWR), EROFS);
	CHECK_EQ_U64(lopen(f, 2, L_RDONLY | L_TRUNC), EROFS);
	CHECK_EQ_U64(lopen(f, 2, L_RDONLY), 0);
	CHECK_EQ_U64(tread(f, 2, 0, 16, buf, &got), 0);
	CHECK_EQ_U64(got, 4);
	CHECK_EQ_U64(call(f, T_WRITE, "dqD", 2, Q(0), 1, "x"), EROFS);
	CHECK_EQ_U64(call(f, T_FSYNC, "dd", 2, 0), 0);
	CHECK_EQ_U64(call(f, T_MKDIR, "dsdd", ROOT, "m", 0755, 0), EROFS);
	CHECK_EQ_U64(call(f, T_SYMLINK, "dssd", ROOT, "s", "f", 0), EROFS);
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "p", S_IFIFO | 0644, 0, 0, 0), EROFS);
	CHECK_EQ_U64(walk(f, ROOT, 3, "f"), 0);
	CHECK_EQ_U64(call(f, T_LINK, "dds", ROOT, 3, "h"), EROFS);
	CHECK_EQ_U64(call(f, T_RENAME, "dds", 3, ROOT, "f2"), EROFS);
	CHECK_EQ_U64(call(f, T_RENAMEAT, "dsds", ROOT, "f", ROOT, "f2"), EROFS);
	CHECK_EQ_U64(call(f, T_UNLINKAT, "dsd", ROOT, "f", 0), EROFS);
	CHECK_EQ_U64(call(f, T_UNLINKAT, "dsd", ROOT, "d", 0x200), EROFS);
	CHECK_EQ_U64(setattr(f, 3, A_MODE, 0777, 0, 0, 0, 0, 0, 0, 0), EROFS);
	CHECK_EQ_U64(setattr(f, 3, A_SIZE, 0, 0, 0, 0, 0, 0, 0, 0), EROFS);
	CHECK_EQ_U64(setattr(f, 3, A_MTIME, 0, 0, 0, 0, 0, 0, 0, 0), EROFS);
	CHECK_EQ_U64(setattr(f, 3, A_UID | A_GID, 0, 1, 1, 0, 0, 0, 0, 0), EROFS);
	CHECK_EQ_U64(call(f, T_REMOVE, "d", 3), EROFS);
	CHECK_EQ_U64(clunk(f, 3), EBADF); /* clunked all the same */
	/* reading is fine */
	CHECK_EQ_U64(walk(f, ROOT, 4, "l"), 0);
	CHECK_EQ_U64(call(f, T_READLINK, "d", 4), 0);
	CHECK_EQ_U64(wopen(f, 5, "d", L_RDONLY), 0);
	CHECK_EQ_U64(call(f, T_READDIR, "dqd", 5, Q(0), 4096), 0);
	CHECK_EQ_U64(call(f, T_STATFS, "d", ROOT), 0);

	after = snapshot(f->base);
	REQUIRE(after);
	CHECK_STR(after, before);
	free(before);
	free(after);
}

TEST(p9, no_fd_leaks)
{
	int before = fd_count(), mid;
	struct fx fx, *f = &fx;
	char name[32];
	uint32_t i;

	REQUIRE(before > 0);
	if (!fx_start(f, false))
		return;
	mid = fd_count();
	REQUIRE(!mkdir(sp(f, "d"), 0755));
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "d/f%u", i);
		CHECK(put_str(sp(f, name), "x"));
	}
	/* opens of every kind, readdir streams, then clunks: back to where it was */
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "d/f%u", i);
		CHECK_EQ_U64(wopen(f, 100 + i, name, i % 2 ? L_RDONLY : L_RDWR), 0);
	}
	for (i = 0; i < 5; i++) {
		CHECK_EQ_U64(wopen(f, 200 + i, "d", L_RDONLY), 0);
		CHECK_EQ_U64(call(f, T_READDIR, "dqd", 200 + i, Q(0), 100), 0);
	}
	CHECK_EQ_U64(walk(f, ROOT, 300, "d"), 0);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 300, "new", L_RDWR | L_CREATE, 0644, 0), 0);
	CHECK_EQ_U64(call(f, T_MKDIR, "dsdd", ROOT, "m", 0755, 0), 0);
	CHECK_EQ_U64(call(f, T_SYMLINK, "dssd", ROOT, "s", "d", 0), 0);
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "p", S_IFIFO | 0644, 0, 0, 0), 0);
	CHECK_EQ_U64(walk(f, ROOT, 301, "s"), 0);
	CHECK_EQ_U64(call(f, T_READLINK, "d", 301), 0);
	CHECK_EQ_U64(setattr(f, 301, A_MTIME, 0, 0, 0, 0, 0, 0, 0, 0), 0);
	CHECK_EQ_U64(call(f, T_STATFS, "d", 301), 0);
	CHECK_EQ_U64(call(f, T_RENAMEAT, "dsds", ROOT, "m", ROOT, "m2"), 0);
	CHECK_EQ_U64(wopen(f, 302, "p", L_RDONLY), EPERM);
	for (i = 0; i < 20; i++)
		CHECK_EQ_U64(clunk(f, 100 + i), 0);
	for (i = 0; i < 5; i++)
		CHECK_EQ_U64(clunk(f, 200 + i), 0);
	CHECK_EQ_U64(clunk(f, 300), 0);
	CHECK_EQ_U64(clunk(f, 301), 0);
	CHECK_EQ_U64(fd_count(), mid);
	/* a Tversion with open fids */
	for (i = 0; i < 10; i++)
		CHECK_EQ_U64(wopen(f, 400 + i, i % 2 ? "d" : "d/f1", L_RDONLY), 0);
	CHECK_EQ_U64(call(f, T_READDIR, "dqd", 401, Q(0), 100), 0);
	CHECK(fd_count() > mid);
	CHECK_EQ_U64(call(f, T_VERSION, "ds", 65536, "9P2000.L"), 0);
	CHECK_EQ_U64(fd_count(), mid);
	/* a reset with open fids */
	CHECK_EQ_U64(call(f, T_ATTACH, "ddssd", ROOT, NOFID, "", "", 0), 0);
	for (i = 0; i < 10; i++)
		CHECK_EQ_U64(wopen(f, 500 + i, i % 2 ? "d" : "d/f2", L_RDONLY), 0);
	CHECK_EQ_U64(call(f, T_READDIR, "dqd", 501, Q(0), 100), 0);
	p9_server_reset(f->s);
	CHECK_EQ_U64(fd_count(), mid);
	/* and destroy with open fids */
	CHECK_EQ_U64(call(f, T_ATTACH, "ddssd", ROOT, NOFID, "", "", 0), 0);
	for (i = 0; i < 10; i++)
		CHECK_EQ_U64(wopen(f, 600 + i, i % 2 ? "d" : "d/f3", L_RDONLY), 0);
	fx_end(f);
	CHECK_EQ_U64(fd_count(), before);
}

P9_TEST(fid_limit, false)
{
	uint32_t i;
	int bad = 0;

	/* the attach's fid + 65535 clones: the table is full */
	for (i = 1; i < 65536; i++)
		if (walk(f, ROOT, i, ""))
			bad++;
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(walk(f, ROOT, 70000, ""), ENFILE);
	CHECK_EQ_U64(call(f, T_ATTACH, "ddssd", 70001, NOFID, "", "", 0), ENFILE);
	CHECK_EQ_U64(clunk(f, 12345), 0);
	CHECK_EQ_U64(walk(f, ROOT, 70000, ""), 0);
	CHECK_EQ_U64(walk(f, ROOT, 70002, ""), ENFILE);
	/* fid numbers are any u32 but NOFID-looking ones still hash fine */
	CHECK_EQ_U64(clunk(f, 1), 0);
	CHECK_EQ_U64(walk(f, ROOT, 0xfffffffe, ""), 0);
	CHECK_EQ_U64(clunk(f, 0xfffffffe), 0);
}

/*
 * Sends req[0..len) from a heap buffer of exactly len bytes into a reply
 * buffer of exactly cap bytes (so ASan sees any over-read or over-write).
 * Returns the errno of the Rlerror, 0 for another R-message, -1 if broken.
 */
static int send_exact(struct p9_server *s, const uint8_t *req, size_t len, size_t cap,
		      size_t *rlen)
{
	uint8_t *q = malloc(len ? len : 1), *r = malloc(cap ? cap : 1);
	int ret = -1;
	size_t n;

	if (!q || !r) {
		free(q);
		free(r);
		return -1;
	}
	memcpy(q, req, len);
	n = p9_server_handle(s, q, len, r, cap);
	if (rlen)
		*rlen = n;
	if (cap < 11)
		ret = n ? -1 : 0;
	else if (n >= 11 && n <= cap && get32(r) == n && r[4] == R_LERROR)
		ret = n == 11 ? (int)get32(r + 7) : -1;
	else if (n >= 7 && n <= cap && get32(r) == n)
		ret = 0;
	free(q);
	free(r);
	return ret;
}

P9_TEST(truncated_messages, false)
{
	const char *names[2] = { "d", "f" };
	uint8_t msgs[32][300];
	size_t lens[32], n = 0, i, l;
	int failures = 0;

	REQUIRE(!mkdir(sp(f, "d"), 0755));
	REQUIRE(put_str(sp(f, "d/f"), "0123456789"));
	REQUIRE(!symlink("f", sp(f, "d/l")));
	CHECK_EQ_U64(wopen(f, 1, "d/f", L_RDWR), 0);
	CHECK_EQ_U64(wopen(f, 2, "d", L_RDONLY), 0);
	CHECK_EQ_U64(walk(f, ROOT, 3, "d"), 0);
	CHECK_EQ_U64(walk(f, ROOT, 4, "d/l"), 0);
	CHECK_EQ_U64(walk(f, ROOT, 5, "d"), 0);
#define ADD(...) (lens[n] = build(msgs[n], sizeof(msgs[n]), __VA_ARGS__), n++)
	ADD(T_VERSION, "ds", 8192, "9P2000.L");
	ADD(T_ATTACH, "ddssd", 10, NOFID, "user", "tree", 0);
	ADD(T_WALK, "ddN", ROOT, 11, 2, names);
	ADD(T_LOPEN, "dd", 4, L_RDONLY);
	ADD(T_LCREATE, "dsddd", 5, "newfile", L_RDWR | L_CREATE, 0644, 0);
	ADD(T_READ, "dqd", 1, Q(0), 10);
	ADD(T_WRITE, "dqD", 1, Q(0), 5, "hello");
	ADD(T_GETATTR, "dq", 1, Q(0x7ff));
	ADD(T_SETATTR, "dddddqqqqq", 1, A_SIZE, 0, 0, 0, Q(3), Q(0), Q(0), Q(0), Q(0));
	ADD(T_READDIR, "dqd", 2, Q(0), 4096);
	ADD(T_STATFS, "d", ROOT);
	ADD(T_FSYNC, "dd", 1, 0);
	ADD(T_MKDIR, "dsdd", 3, "newdir", 0755, 0);
	ADD(T_SYMLINK, "dssd", 3, "newlink", "target", 0);
	ADD(T_MKNOD, "dsdddd", 3, "newfifo", S_IFIFO | 0644, 0, 0, 0);
	ADD(T_LINK, "dds", 3, 1, "newhard");
	ADD(T_RENAME, "dds", 4, 3, "l2");
	ADD(T_RENAMEAT, "dsds", 3, "f", 3, "f2");
	ADD(T_UNLINKAT, "dsd", 3, "newhard", 0);
	ADD(T_LOCK, "dbdqqds", 1, 1, 0, Q(0), Q(0), 1, "client");
	ADD(T_GETLOCK, "dbqqds", 1, 1, Q(0), Q(0), 1, "client");
	ADD(T_READLINK, "d", 4);
	ADD(T_XATTRWALK, "dds", 3, 12, "user.a");
	ADD(T_XATTRCREATE, "dsqd", 3, "user.a", Q(1), 0);
	ADD(T_FLUSH, "w", 1);
	ADD(T_CLUNK, "d", 11);
	ADD(T_REMOVE, "d", 4);
#undef ADD
	for (i = 0; i < n; i++) {
		REQUIRE(lens[i] >= 7);
		for (l = 0; l < lens[i]; l++) {
			uint8_t m[300];
			int r;

			/* cut short, size field as it was: more than was sent */
			r = send_exact(f->s, msgs[i], l, 4096, NULL);
			if (r <= 0) {
				failures++;
				test_fail(__FILE__, __LINE__, "type %u cut at %zu: %d", msgs[i][4], l,
					  r);
			}
			/* cut short with a consistent size field: a field is missing */
			if (l < 7)
				continue;
			memcpy(m, msgs[i], l);
			put32(m, (uint32_t)l);
			r = send_exact(f->s, m, l, 4096, NULL);
			if (r <= 0) {
				failures++;
				test_fail(__FILE__, __LINE__, "type %u sized %zu: %d", msgs[i][4], l,
					  r);
			}
			if (failures > 5)
				return;
		}
	}
	/* nothing a truncated message asked for happened */
	CHECK(!exists(sp(f, "d/newfile")) && !exists(sp(f, "d/newdir")) &&
	      !exists(sp(f, "d/newlink")) && !exists(sp(f, "d/newfifo")) &&
	      !exists(sp(f, "d/newhard")) && !exists(sp(f, "d/f2")) && exists(sp(f, "d/l")));
	CHECK_STR(get_str(sp(f, "d/f")), "0123456789");
	/* and whole, they all work (in this order) */
	for (i = 0; i < n; i++) {
		int r = send_exact(f->s, msgs[i], lens[i], 8192, NULL);

		if (msgs[i][4] == T_XATTRWALK || msgs[i][4] == T_XATTRCREATE)
			CHECK_EQ_U64(r, EOPNOTSUPP);
		else if (r)
			test_fail(__FILE__, __LINE__, "whole type %u: %d", msgs[i][4], r);
		if (msgs[i][4] == T_VERSION) /* it reset the fids: again */
			CHECK(call(f, T_ATTACH, "ddssd", ROOT, NOFID, "", "", 0) == 0 &&
			      wopen(f, 1, "d/f", L_RDWR) == 0 && wopen(f, 2, "d", L_RDONLY) == 0 &&
			      walk(f, ROOT, 3, "d") == 0 && walk(f, ROOT, 4, "d/l") == 0 &&
			      walk(f, ROOT, 5, "d") == 0);
	}
	CHECK(exists(sp(f, "d/newdir")) && exists(sp(f, "d/f2")) && exists(sp(f, "d/newfile")));
	CHECK(!exists(sp(f, "d/newhard")) && !exists(sp(f, "d/l")) && !exists(sp(f, "d/l2")));
}

P9_TEST(hostile_frames, false)
{
	uint8_t m[64] = { 0 };
	size_t len, rlen;
	int i;

	/* size field larger than what was sent, smaller than a header, zero */
	len = build(m, sizeof(m), T_CLUNK, "d", 5);
	put32(m, (uint32_t)len + 1);
	CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EPROTO);
	put32(m, 0xffffffff);
	CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EPROTO);
	for (i = 0; i < 7; i++) {
		put32(m, (uint32_t)i);
		CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EPROTO);
	}
	/* a size field smaller than what was sent: the rest is not part of it */
	CHECK_EQ_U64(walk(f, ROOT, 5, ""), 0);
	len = build(m, sizeof(m), T_CLUNK, "d", 5);
	CHECK_EQ_U64(send_exact(f->s, m, len + 20, 64, NULL), 0);
	/* a reply buffer too small for even an Rlerror: nothing */
	CHECK_EQ_U64(send_exact(f->s, m, len, 10, &rlen), 0);
	CHECK_EQ_U64(rlen, 0);
	CHECK_EQ_U64(send_exact(f->s, m, len, 0, &rlen), 0);
	/* room for an Rlerror but not for the reply */
	len = build(m, sizeof(m), T_GETATTR, "dq", ROOT, Q(0x7ff));
	CHECK_EQ_U64(send_exact(f->s, m, len, 11, &rlen), EMSGSIZE);
	CHECK_EQ_U64(send_exact(f->s, m, len, 100, &rlen), EMSGSIZE);
	CHECK_EQ_U64(send_exact(f->s, m, len, 200, &rlen), 0);
	/* a tag with no header: NOTAG */
	{
		uint8_t r[16];

		CHECK_EQ_U64(p9_server_handle(f->s, m, 3, r, sizeof(r)), 11);
		CHECK_EQ_U64(get16(r + 5), 0xffff);
		CHECK_EQ_U64(r[4], R_LERROR);
	}

	/* strings that run past the end */
	len = build(m, sizeof(m), T_WALK, "ddws", ROOT, 6, 1, "abc");
	put16(m + 17, 0xffff);
	CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EPROTO);
	put16(m + 17, 4);
	CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EPROTO);
	len = build(m, sizeof(m), T_VERSION, "ds", 8192, "9P2000.L");
	put16(m + 11, 9);
	CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EPROTO);
	/* a Twrite count past the end */
	len = build(m, sizeof(m), T_WRITE, "dqD", ROOT, Q(0), 4, "abcd");
	put32(m + 19, 5);
	CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EPROTO);
	put32(m + 19, 0xffffffff);
	CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EPROTO);
	/* nwname > 16, and more names than sent */
	len = build(m, sizeof(m), T_WALK, "ddws", ROOT, 6, 17, "a");
	CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EINVAL);
	len = build(m, sizeof(m), T_WALK, "ddws", ROOT, 6, 0xffff, "a");
	CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EINVAL);
	len = build(m, sizeof(m), T_WALK, "ddws", ROOT, 6, 3, "a");
	CHECK_EQ_U64(send_exact(f->s, m, len, 64, NULL), EPROTO);
	CHECK_EQ_U64(clunk(f, 6), EBADF);

	/* unknown fids everywhere */
	CHECK_EQ_U64(lopen(f, 77, 0), EBADF);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 77, "x", 0, 0644, 0), EBADF);
	CHECK_EQ_U64(call(f, T_READ, "dqd", 77, Q(0), 1), EBADF);
	CHECK_EQ_U64(call(f, T_WRITE, "dqD", 77, Q(0), 1, "x"), EBADF);
	CHECK_EQ_U64(call(f, T_GETATTR, "dq", 77, Q(0)), EBADF);
	CHECK_EQ_U64(setattr(f, 77, 0, 0, 0, 0, 0, 0, 0, 0, 0), EBADF);
	CHECK_EQ_U64(call(f, T_READDIR, "dqd", 77, Q(0), 100), EBADF);
	CHECK_EQ_U64(call(f, T_STATFS, "d", 77), EBADF);
	CHECK_EQ_U64(call(f, T_FSYNC, "dd", 77, 0), EBADF);
	CHECK_EQ_U64(call(f, T_MKDIR, "dsdd", 77, "x", 0755, 0), EBADF);
	CHECK_EQ_U64(call(f, T_SYMLINK, "dssd", 77, "x", "y", 0), EBADF);
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", 77, "x", S_IFIFO, 0, 0, 0), EBADF);
	CHECK_EQ_U64(call(f, T_LINK, "dds", 77, 78, "x"), EBADF);
	CHECK_EQ_U64(call(f, T_RENAME, "dds", 77, ROOT, "x"), EBADF);
	CHECK_EQ_U64(call(f, T_RENAMEAT, "dsds", 77, "x", ROOT, "y"), EBADF);
	CHECK_EQ_U64(call(f, T_UNLINKAT, "dsd", 77, "x", 0), EBADF);
	CHECK_EQ_U64(call(f, T_REMOVE, "d", 77), EBADF);
	CHECK_EQ_U64(call(f, T_READLINK, "d", 77), EBADF);
	CHECK_EQ_U64(call(f, T_LOCK, "dbdqqds", 77, 0, 0, Q(0), Q(0), 1, ""), EBADF);
	CHECK_EQ_U64(call(f, T_GETLOCK, "dbqqds", 77, 0, Q(0), Q(0), 1, ""), EBADF);
	CHECK_EQ_U64(call(f, T_CLUNK, "d", NOFID), EBADF);
	/* double clunk */
	CHECK_EQ_U64(clunk(f, 5), EBADF);
	/* a bad name that is also very long */
	{
		char longname[300];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = 0;
		CHECK_EQ_U64(call(f, T_MKDIR, "dsdd", ROOT, longname, 0755, 0), ENAMETOOLONG);
	}
	/* still serving */
	CHECK_EQ_U64(walk(f, ROOT, 7, ""), 0);
}

/* "name name ..." of the outside directory, sorted by readdir order */
static const char *outside_list(struct fx *f)
{
	static char buf[1024];
	struct dirent *de;
	DIR *d = opendir(f->outside);
	size_t n = 0;

	buf[0] = 0;
	if (!d)
		return "<none>";
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s ", de->d_name);
	closedir(d);
	return buf;
}

P9_TEST(escape_absolute_symlink, false)
{
	char abs[PATH_MAX], secret_abs[PATH_MAX + 16];
	struct stat before, after;
	struct tattr a;

	REQUIRE(!stat("/etc/passwd", &before));
	REQUIRE(!symlink("/etc/passwd", sp(f, "pw")));
	REQUIRE(realpath(f->outside, abs));
	snprintf(secret_abs, sizeof(secret_abs), "%s/secret", abs);
	REQUIRE(!symlink(secret_abs, sp(f, "sec")));
	REQUIRE(!symlink(abs, sp(f, "outdir")));

	/*
	 * A walk to the link is the link; opening it is refused. Only reads are
	 * tried against the real /etc/passwd (a broken server must not be able
	 * to harm the host running the tests): the writes go to our own file.
	 */
	CHECK_EQ_U64(walk(f, ROOT, 1, "pw"), 0);
	REQUIRE(getattr(f, 1, &a) == 0);
	CHECK(S_ISLNK(a.mode));
	if (!CHECK(lopen(f, 1, L_RDONLY) > 0))
		clunk(f, 1);
	REQUIRE(!stat("/etc/passwd", &after));
	CHECK_EQ_U64(after.st_size, before.st_size);
	CHECK_EQ_U64(after.st_mode, before.st_mode);
	CHECK_EQ_U64(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	CHECK_EQ_U64(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);

	/* the same against a file of ours, written to if anything leaks */
	CHECK_EQ_U64(walk(f, ROOT, 2, "sec"), 0);
	CHECK(lopen(f, 2, L_RDWR | L_TRUNC) > 0);
	CHECK(lopen(f, 2, L_RDONLY) > 0);
	CHECK_EQ_U64(call(f, T_READ, "dqd", 2, Q(0), 100), EBADF);
	CHECK(setattr(f, 2, A_SIZE, 0, 0, 0, 0, 0, 0, 0, 0) > 0);
	CHECK_EQ_U64(setattr(f, 2, A_MODE, 0777, 0, 0, 0, 0, 0, 0, 0), EOPNOTSUPP);
	CHECK(call(f, T_LCREATE, "dsddd", ROOT, "sec", L_RDWR | L_TRUNC, 0644, 0) > 0);
	CHECK_STR(get_str(op(f, "secret")), "secret");
	CHECK(walk_refused(f, ROOT, 3, "sec/x"));
	/* a directory outside, by an absolute link: not walked through, not created in */
	CHECK(walk_refused(f, ROOT, 3, "outdir/secret"));
	CHECK_EQ_U64(walk(f, ROOT, 3, "outdir"), 0);
	CHECK(call(f, T_LCREATE, "dsddd", 3, "pwn", L_RDWR | L_CREATE, 0644, 0) > 0);
	CHECK(call(f, T_MKDIR, "dsdd", 3, "pwn", 0755, 0) > 0);
	CHECK(lopen(f, 3, L_RDONLY) > 0);
	CHECK_STR(outside_list(f), "secret ");
}

P9_TEST(escape_relative_symlink, false)
{
	struct stat before, after;

	REQUIRE(!symlink("../outside/secret", sp(f, "up")));
	REQUIRE(!symlink("../outside", sp(f, "updir")));
	REQUIRE(!symlink("../../outside", sp(f, "upup")));
	REQUIRE(!symlink("../outside/created", sp(f, "dangle")));
	REQUIRE(!mkdir(sp(f, "in"), 0755));
	REQUIRE(!symlink("../../outside", sp(f, "in/deep")));
	REQUIRE(put_str(sp(f, "f"), "in the share"));
	REQUIRE(!stat(f->outside, &before));

	/* a file outside */
	CHECK_EQ_U64(walk(f, ROOT, 1, "up"), 0);
	CHECK(lopen(f, 1, L_RDONLY) > 0);
	CHECK(lopen(f, 1, L_WRONLY | L_TRUNC) > 0);
	CHECK_STR(get_str(op(f, "secret")), "secret");
	/* a directory outside: no walk through it, nothing made in it */
	CHECK(walk_refused(f, ROOT, 2, "updir/secret"));
	CHECK(walk_refused(f, ROOT, 2, "in/deep/secret"));
	CHECK(walk_refused(f, ROOT, 2, "upup/outside"));
	CHECK_EQ_U64(walk(f, ROOT, 2, "updir"), 0);
	CHECK_EQ_U64(walk(f, ROOT, 3, "f"), 0);
	CHECK(call(f, T_LCREATE, "dsddd", 2, "pwn", L_RDWR | L_CREATE, 0644, 0) > 0);
	CHECK(call(f, T_MKDIR, "dsdd", 2, "pwn", 0755, 0) > 0);
	CHECK(call(f, T_SYMLINK, "dssd", 2, "pwn", "x", 0) > 0);
	CHECK(call(f, T_MKNOD, "dsdddd", 2, "pwn", S_IFIFO | 0644, 0, 0, 0) > 0);
	CHECK(call(f, T_LINK, "dds", 2, 3, "pwn") > 0);
	CHECK(call(f, T_RENAME, "dds", 3, 2, "pwn") > 0);
	CHECK(call(f, T_RENAMEAT, "dsds", ROOT, "f", 2, "pwn") > 0);
	CHECK(call(f, T_RENAMEAT, "dsds", 2, "secret", ROOT, "stolen") > 0);
	CHECK(call(f, T_UNLINKAT, "dsd", 2, "secret", 0) > 0);
	CHECK(call(f, T_READDIR, "dqd", 2, Q(0), 4096) > 0);
	CHECK(lopen(f, 2, L_RDONLY | L_DIRECTORY) > 0);
	CHECK_EQ_U64(setattr(f, 2, A_MODE, 0777, 0, 0, 0, 0, 0, 0, 0), EOPNOTSUPP);
	CHECK(call(f, T_STATFS, "d", 2) == 0); /* of the link itself: harmless */
	/* a dangling link out: Tlcreate of its name neither follows nor opens it */
	CHECK(call(f, T_LCREATE, "dsddd", ROOT, "dangle", L_RDWR | L_CREATE, 0644, 0) > 0);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", ROOT, "dangle", L_RDWR | L_CREATE | L_EXCL, 0644,
			  0), EEXIST);
	CHECK_EQ_U64(walk(f, ROOT, 4, "dangle"), 0);
	CHECK(lopen(f, 4, L_RDWR) > 0);

	CHECK_STR(outside_list(f), "secret ");
	CHECK_STR(get_str(op(f, "secret")), "secret");
	CHECK_STR(get_str(sp(f, "f")), "in the share");
	REQUIRE(!stat(f->outside, &after));
	CHECK_EQ_U64(after.st_mode, before.st_mode);
	CHECK(!exists(sp(f, "stolen")));
	/* a relative link that stays inside is followed */
	REQUIRE(!symlink("../f", sp(f, "in/tof")));
	CHECK_EQ_U64(wopen(f, 5, "in/tof", L_RDONLY), 0);
	REQUIRE(!symlink("../in", sp(f, "in/self")));
	CHECK_EQ_U64(walk(f, ROOT, 6, "in/self/tof"), 0);
}

P9_TEST(escape_names, false)
{
	REQUIRE(!mkdir(sp(f, "d"), 0755));
	REQUIRE(put_str(sp(f, "d/f"), "x"));
	CHECK_EQ_U64(walk(f, ROOT, 1, "d/f"), 0);
	CHECK_EQ_U64(walk(f, ROOT, 2, "d"), 0);
	/* ".." and "../x" as the target of rename, link, renameat; and as a source */
	CHECK(call(f, T_RENAME, "dds", 1, 2, "..") > 0);
	CHECK(call(f, T_RENAME, "dds", 1, 2, "../../f") > 0);
	CHECK(call(f, T_RENAME, "dds", 1, ROOT, "../f") > 0);
	CHECK(call(f, T_LINK, "dds", ROOT, 1, "..") > 0);
	CHECK(call(f, T_LINK, "dds", ROOT, 1, "../f") > 0);
	CHECK(call(f, T_LINK, "dds", 2, 1, "../../outside/f") > 0);
	CHECK(call(f, T_RENAMEAT, "dsds", 2, "f", ROOT, "..") > 0);
	CHECK(call(f, T_RENAMEAT, "dsds", 2, "f", ROOT, "../f") > 0);
	CHECK(call(f, T_RENAMEAT, "dsds", 2, "f", 2, "../../f") > 0);
	CHECK(call(f, T_RENAMEAT, "dsds", ROOT, "..", ROOT, "x") > 0);
	CHECK(call(f, T_RENAMEAT, "dsds", 2, "../../outside", ROOT, "x") > 0);
	CHECK(call(f, T_RENAMEAT, "dsds", 2, "/x", ROOT, "x") > 0);
	CHECK(call(f, T_SYMLINK, "dssd", ROOT, "../s", "x", 0) > 0);
	CHECK(call(f, T_MKNOD, "dsdddd", ROOT, "../n", S_IFIFO | 0600, 0, 0, 0) > 0);
	CHECK(call(f, T_UNLINKAT, "dsd", 2, "../../outside/secret", 0) > 0);
	CHECK(call(f, T_UNLINKAT, "dsd", ROOT, "..", 0x200) > 0);
	CHECK(call(f, T_WALK, "ddws", ROOT, 3, 1, "..") > 0);
	CHECK(call(f, T_LCREATE, "dsddd", ROOT, "../x", L_RDWR | L_CREATE, 0644, 0) > 0);
	/* nothing moved, nothing appeared next to the share */
	CHECK_STR(get_str(sp(f, "d/f")), "x");
	CHECK(!exists(sp(f, "../f")) && !exists(sp(f, "../x")) && !exists(sp(f, "../s")) &&
	      !exists(sp(f, "../n")) && !exists(sp(f, "f")) && !exists(op(f, "f")));
	CHECK_STR(outside_list(f), "secret ");
}

P9_TEST(device_nodes, false)
{
	char buf[8];
	uint32_t got;
	struct stat st;

	REQUIRE(!mknod(sp(f, "null"), S_IFCHR | 0666, makedev(1, 3)));
	REQUIRE(!mkfifo(sp(f, "fifo"), 0666));
	REQUIRE(!symlink("null", sp(f, "tonull")));
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int sk = socket(AF_UNIX, SOCK_STREAM, 0);

		REQUIRE(sk >= 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sp(f, "sock"));
		CHECK(!bind(sk, (struct sockaddr *)&sa, sizeof(sa)));
		close(sk);
	}
	/* walk and getattr are fine; open is not, in any mode */
	CHECK_EQ_U64(walk(f, ROOT, 1, "null"), 0);
	CHECK_EQ_U64(lopen(f, 1, L_RDONLY), EPERM);
	CHECK_EQ_U64(lopen(f, 1, L_WRONLY), EPERM);
	CHECK_EQ_U64(lopen(f, 1, L_RDWR | L_TRUNC), EPERM);
	CHECK_EQ_U64(tread(f, 1, 0, 8, buf, &got), EBADF);
	CHECK_EQ_U64(wopen(f, 2, "tonull", L_RDONLY), EPERM);
	CHECK_EQ_U64(wopen(f, 3, "fifo", L_RDONLY), EPERM); /* and no hang */
	CHECK_EQ_U64(wopen(f, 4, "fifo", L_WRONLY), EPERM);
	CHECK_EQ_U64(wopen(f, 5, "sock", L_RDWR), EPERM);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", ROOT, "null", L_RDWR | L_CREATE, 0644, 0), EPERM);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", ROOT, "fifo", L_WRONLY | L_CREATE, 0644, 0),
		     EPERM);
	CHECK_EQ_U64(setattr(f, 1, A_SIZE, 0, 0, 0, 0, 0, 0, 0, 0), EINVAL);
	/* attributes are the node's (no side effects) */
	REQUIRE(!lstat(sp(f, "null"), &st));
	CHECK(S_ISCHR(st.st_mode));
	{
		struct tattr a;

		REQUIRE(getattr(f, 1, &a) == 0);
		CHECK(S_ISCHR(a.mode));
		CHECK_EQ_U64(a.rdev, makedev(1, 3));
	}
	/* Tmknod of a device by the guest: never */
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "zero", S_IFCHR | 0666, 1, 5, 0), EPERM);
	CHECK(!exists(sp(f, "zero")));
}

P9_TEST(host_rename_race, false)
{
	char buf[32];
	uint32_t got;

	REQUIRE(!mkdir(sp(f, "d"), 0755));
	REQUIRE(put_str(sp(f, "d/f"), "original"));
	CHECK_EQ_U64(wopen(f, 1, "d/f", L_RDWR), 0);
	CHECK_EQ_U64(walk(f, ROOT, 2, "d"), 0);
	CHECK_EQ_U64(walk(f, ROOT, 3, "d/f"), 0);
	/* the host moves the directory and puts a link out in its place */
	REQUIRE(!rename(sp(f, "d"), sp(f, "d2")));
	REQUIRE(!symlink("../outside", sp(f, "d")));

	/* the open fid still writes its own file, which is inside */
	CHECK_EQ_U64(twrite(f, 1, 0, "CHANGED!", 8), 0);
	CHECK_STR(get_str(sp(f, "d2/f")), "CHANGED!");
	CHECK_EQ_U64(tread(f, 1, 0, 8, buf, &got), 0);
	CHECK_MEM(buf, "CHANGED!", 8);
	/* every fresh resolution of "d" meets the link, and stops */
	CHECK(call(f, T_LCREATE, "dsddd", 2, "x", L_RDWR | L_CREATE, 0644, 0) > 0);
	CHECK(call(f, T_MKDIR, "dsdd", 2, "x", 0755, 0) > 0);
	CHECK(call(f, T_SYMLINK, "dssd", 2, "x", "y", 0) > 0);
	CHECK(call(f, T_UNLINKAT, "dsd", 2, "secret", 0) > 0);
	CHECK(lopen(f, 3, L_RDWR) > 0);
	CHECK(setattr(f, 3, A_SIZE, 0, 0, 0, 0, 0, 0, 0, 0) > 0);
	CHECK(walk_refused(f, 2, 4, "secret"));
	CHECK(call(f, T_REMOVE, "d", 3) > 0);
	CHECK_STR(outside_list(f), "secret ");
	CHECK_STR(get_str(op(f, "secret")), "secret");
	/* the host puts it back: the fids work again */
	REQUIRE(!unlink(sp(f, "d")));
	REQUIRE(!rename(sp(f, "d2"), sp(f, "d")));
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 2, "x", L_RDWR | L_CREATE, 0644, 0), 0);
	CHECK(exists(sp(f, "d/x")));
}

/*
 * A default share (issue 20): the guest cannot plant set-id files for the
 * host (bits dropped on create, mkdir, mknod and chmod) and cannot give
 * files away (new entries are lkvm's; a chown is ignored).
 */
TEST(p9, default_share_drops_setid_and_owners)
{
	struct fx fx, *f = &fx;
	struct stat st;
	struct tq q;
	uint32_t iounit;

	if (!fx_start_flags(f, 0))
		return;
	umask(022);
	CHECK_EQ_U64(call(f, T_ATTACH, "ddssd", 9, NOFID, "u", "", 4321), 0);
	CHECK_EQ_U64(walk(f, 9, 1, ""), 0);
	CHECK_EQ_U64(call(f, T_LCREATE, "dsddd", 1, "suid", L_RDWR | L_CREATE, 0106755, 0), 0);
	REQUIRE(rget(f, "Qd", &q, &iounit));
	REQUIRE(!lstat(sp(f, "suid"), &st));
	CHECK_EQ_U64(st.st_mode & 07777, 0755);
	CHECK_EQ_U64(st.st_uid, geteuid());
	CHECK_EQ_U64(st.st_gid, getegid());
	/* chmod u+s, g+s: dropped; the rest of the mode is taken */
	CHECK_EQ_U64(walk(f, ROOT, 2, "suid"), 0);
	CHECK_EQ_U64(setattr(f, 2, A_MODE, 0106711, 0, 0, 0, 0, 0, 0, 0), 0);
	REQUIRE(!lstat(sp(f, "suid"), &st));
	CHECK_EQ_U64(st.st_mode & 07777, 0711);
	/* chown to root and to another user: ignored, not an error */
	CHECK_EQ_U64(setattr(f, 2, A_UID | A_GID, 0, 0, 0, 0, 0, 0, 0, 0), 0);
	CHECK_EQ_U64(setattr(f, 2, A_UID | A_GID | A_MODE, 04755, 1000, 2000, 0, 0, 0, 0, 0), 0);
	REQUIRE(!lstat(sp(f, "suid"), &st));
	CHECK_EQ_U64(st.st_uid, geteuid());
	CHECK_EQ_U64(st.st_mode & 07777, 0755);
	/* mkdir with set-gid, mknod with set-uid */
	CHECK_EQ_U64(call(f, T_MKDIR, "dsdd", ROOT, "sgid", 042775, 4444), 0);
	REQUIRE(!lstat(sp(f, "sgid"), &st));
	CHECK_EQ_U64(st.st_mode & 07777, 0775);
	CHECK_EQ_U64(st.st_gid, getegid());
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "node", 0104755, 0, 0, 0), 0);
	REQUIRE(!lstat(sp(f, "node"), &st));
	CHECK_EQ_U64(st.st_mode & 07777, 0755);
	fx_end(f);
}

/* setid: a trusted share keeps the bits the guest sets */
TEST(p9, setid_share_keeps_bits)
{
	struct fx fx, *f = &fx;
	struct stat st;

	if (!fx_start_flags(f, P9_SHARE_SETID))
		return;
	umask(022);
	CHECK_EQ_U64(call(f, T_MKNOD, "dsdddd", ROOT, "node", 0104755, 0, 0, 0), 0);
	REQUIRE(!lstat(sp(f, "node"), &st));
	CHECK_EQ_U64(st.st_mode & 07777, 04755);
	fx_end(f);
}

TEST(p9, spec_options)
{
	struct lkvm_err e;
	unsigned int flags;
	char *dir, *tag;

	REQUIRE(virtio_9p_parse_spec("/srv,share,ro,setid", &dir, &tag, &flags, &e) == 0);
	CHECK_STR(dir, "/srv");
	CHECK_STR(tag, "share");
	CHECK_EQ_U64(flags, P9_SHARE_RO | P9_SHARE_SETID);
	free(dir);
	free(tag);
	REQUIRE(virtio_9p_parse_spec("/srv,t,owners", &dir, &tag, &flags, &e) == 0);
	CHECK_EQ_U64(flags, P9_SHARE_OWNERS);
	free(dir);
	free(tag);
	/* --9p DIR: kvmtool's default tag */
	REQUIRE(virtio_9p_parse_spec("/srv", &dir, &tag, &flags, &e) == 0);
	CHECK_STR(dir, "/srv");
	CHECK_STR(tag, "kvm_9p");
	CHECK_EQ_U64(flags, 0);
	free(dir);
	free(tag);
	CHECK(virtio_9p_parse_spec("/srv,t,suid", &dir, &tag, &flags, &e) < 0);
	CHECK_CONTAINS(e.msg, "unknown option 'suid'");
}
