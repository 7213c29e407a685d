// SPDX-License-Identifier: GPL-2.0
/* Helpers for the qcow2 tests (tests/unit/test_qcow2.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qcow2_util.h"
#include "test.h"

int q2t_sh(char *out, size_t size, const char *fmt, ...)
{
	char cmd[4096], junk[256];
	size_t got = 0;
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
	va_end(ap);
	strcat(cmd, " 2>&1");
	fflush(stdout);
	fflush(stderr);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (out && size)
		out[0] = 0;
	for (;;) {
		size_t n;

		if (out && got + 1 < size) {
			n = fread(out + got, 1, size - 1 - got, f);
			got += n;
			out[got] = 0;
		} else {
			n = fread(junk, 1, sizeof(junk), f);
		}
		if (!n)
			break;
	}
	st = pclose(f);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

bool q2t_need_qemu(void)
{
	if (q2t_sh(NULL, 0, "qemu-img --version") == 0 && q2t_sh(NULL, 0, "qemu-io --version") == 0)
		return true;
	test_fail(__FILE__, __LINE__,
		  "qemu-img/qemu-io not found: install qemu-utils (apt-get install qemu-utils; tests/setup.sh does)");
	return false;
}

char *q2t_mkdir(void)
{
	char *dir = strdup("build/unit-qcow2-XXXXXX");

	if (!dir)
		return NULL;
	mkdir("build", 0755);
	if (!mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

void q2t_rmdir(char *dir)
{
	if (!dir)
		return;
	q2t_sh(NULL, 0, "rm -rf '%s'", dir);
	free(dir);
}

uint8_t *q2t_read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	buf = malloc(st.st_size + 1);
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);

		if (n <= 0) {
			free(buf);
			buf = NULL;
			break;
		}
		got += n;
	}
	close(fd);
	if (buf && len)
		*len = got;
	return buf;
}

bool q2t_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, buf, len) == (ssize_t)len;
	close(fd);
	return ok;
}

uint64_t q2t_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint64_t)st.st_size;
}

static bool rw_at(const char *path, uint64_t off, uint8_t *b, size_t n, bool wr)
{
	int fd = open(path, (wr ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = (wr ? pwrite(fd, b, n, off) : pread(fd, b, n, off)) == (ssize_t)n;
	close(fd);
	return ok;
}

uint64_t q2t_get_be64(const char *path, uint64_t off)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;
	int i;

	rw_at(path, off, b, 8, false);
	for (i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

uint32_t q2t_get_be32(const char *path, uint64_t off)
{
	return (uint32_t)(q2t_get_be64(path, off) >> 32);
}

bool q2t_put_be64(const char *path, uint64_t off, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	return rw_at(path, off, b, 8, true);
}

bool q2t_put_be32(const char *path, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	return rw_at(path, off, b, 4, true);
}

uint16_t q2t_get_be16(const char *path, uint64_t off)
{
	return (uint16_t)(q2t_get_be64(path, off) >> 48);
}

bool q2t_put_be16(const char *path, uint64_t off, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v };

	return rw_at(path, off, b, 2, true);
}

uint64_t q2t_rc16_at(const char *path, uint64_t off)
{
	uint64_t cs = 1ULL << q2t_get_be32(path, 20), per_block = cs / 2, cl = off / cs;
	uint64_t rb = q2t_get_be64(path, q2t_get_be64(path, 48) + 8 * (cl / per_block));

	return rb + 2 * (cl % per_block);
}

int q2t_stderr_to(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), saved;

	fflush(stderr);
	saved = dup(STDERR_FILENO);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	return saved;
}

void q2t_stderr_back(int saved)
{
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
}

bool q2t_read_disk(struct disk *d, uint8_t *buf, uint64_t len)
{
	uint64_t off = 0;
	int r;

	while (off < len) {
		size_t n = (size_t)(len - off < 300000 ? len - off : 300000);
		struct iovec iov[3];
		size_t a = n / 3, b = n / 3 + 7 > n - a ? n - a : n / 3 + 7;

		iov[0] = (struct iovec){ buf + off, a };
		iov[1] = (struct iovec){ buf + off + a, b };
		iov[2] = (struct iovec){ buf + off + a + b, n - a - b };
		r = d->ops->readv(d, off, iov, 3, n);
		if (r) {
			test_fail(__FILE__, __LINE__, "readv(%llu, %zu): %s", (unsigned long long)off, n,
				  strerror(-r));
			return false;
		}
		off += n;
	}
	return true;
}

uint8_t *q2t_to_raw(const char *img, const char *dir, size_t *len)
{
	char out[2048], raw[512];
	uint8_t *buf;

	snprintf(raw, sizeof(raw), "%s/convert-tmp.raw", dir);
	if (q2t_sh(out, sizeof(out), "qemu-img convert -U -O raw '%s' '%s'", img, raw)) {
		test_fail(__FILE__, __LINE__, "qemu-img convert %s: %s", img, out);
		return NULL;
	}
	buf = q2t_read_file(raw, len);
	unlink(raw);
	return buf;
}

int q2t_check(const char *img, char *out, size_t size)
{
	return q2t_sh(out, size, "qemu-img check '%s'", img);
}

uint64_t q2t_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}
