// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "file.h"

int file_read_all(const char *path, const char *what, size_t max, uint8_t **out, size_t *len,
		  struct lkvm_err *e)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno, "cannot open %s %s", what, path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_errno(e, errno, "cannot stat %s %s", what, path);
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return err_set(e, "%s %s is a directory, not a file", what, path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "%s %s is not a regular file", what, path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return err_set(e, "%s %s is %llu MiB, more than the %llu MiB that fit", what, path,
			       (unsigned long long)st.st_size >> 20, (unsigned long long)max >> 20);
	}
	if (st.st_size == 0) {
		close(fd);
		return err_set(e, "%s %s is empty", what, path);
	}
	buf = malloc(st.st_size);
	if (!buf) {
		close(fd);
		return err_set(e, "out of memory reading %s %s", what, path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			free(buf);
			close(fd);
			return err_errno(e, err, "cannot read %s %s", what, path);
		}
		got += n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

int file_write_atomic(const char *path, const void *buf, size_t len, struct lkvm_err *e)
{
	char tmp[4096];
	size_t done = 0;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return err_set(e, "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_errno(e, errno, "cannot create %s", tmp);
	while (done < len) {
		ssize_t n = write(fd, (const uint8_t *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			close(fd);
			unlink(tmp);
			return err_errno(e, err, "cannot write %s", path);
		}
		done += n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		int err = errno;

		unlink(tmp);
		return err_errno(e, err, "cannot write %s", path);
	}
	if (rename(tmp, path) < 0) {
		int err = errno;

		unlink(tmp);
		return err_errno(e, err, "cannot write %s", path);
	}
	return 0;
}

int file_gunzip(const uint8_t *in, size_t in_len, size_t max, uint8_t **out, size_t *out_len,
		struct lkvm_err *e)
{
	size_t cap = in_len < (1u << 20) ? (4u << 20) : in_len * 4;
	z_stream zs;
	uint8_t *buf;
	int r;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return err_set(e, "zlib: inflateInit2 failed");
	if (cap > max)
		cap = max;
	buf = malloc(cap);
	if (!buf) {
		inflateEnd(&zs);
		return err_set(e, "out of memory inflating");
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = in_len;
	for (;;) {
		zs.next_out = buf + zs.total_out;
		zs.avail_out = cap - zs.total_out;
		r = inflate(&zs, Z_NO_FLUSH);
		if (r == Z_STREAM_END)
			break;
		if (r != Z_OK && r != Z_BUF_ERROR) {
			inflateEnd(&zs);
			free(buf);
			return err_set(e, "corrupt gzip data (%s)", zs.msg ? zs.msg : "zlib error");
		}
		if (zs.avail_out == 0) {
			uint8_t *nb;

			if (cap >= max) {
				inflateEnd(&zs);
				free(buf);
				return err_set(e, "gzip data inflates to more than %zu MiB", max >> 20);
			}
			cap = cap * 2 > max ? max : cap * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				inflateEnd(&zs);
				free(buf);
				return err_set(e, "out of memory inflating");
			}
			buf = nb;
		} else if (zs.avail_in == 0) {
			inflateEnd(&zs);
			free(buf);
			return err_set(e, "truncated gzip data");
		}
	}
	*out_len = zs.total_out;
	*out = buf;
	inflateEnd(&zs);
	return 0;
}
