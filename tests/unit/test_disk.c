// SPDX-License-Identifier: GPL-2.0
/* disk/: -d spec parsing and the raw backend, buffered and O_DIRECT (libaio). */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "test.h"

#define IMG_SIZE (64 * 1024)

/* A temp image in the build tree (tmpfs /tmp may refuse O_DIRECT). */
static char *make_image(void)
{
	char *path = strdup("build/unit-disk-XXXXXX");
	uint8_t buf[IMG_SIZE];
	int fd, i;

	fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	for (i = 0; i < IMG_SIZE; i++)
		buf[i] = (uint8_t)(i * 13 + 7);
	if (write(fd, buf, sizeof(buf)) != sizeof(buf)) {
		close(fd);
		unlink(path);
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

static void drop_image(char *path)
{
	unlink(path);
	free(path);
}

static uint8_t pattern(size_t off)
{
	return (uint8_t)(off * 13 + 7);
}

TEST(disk, parse_spec)
{
	struct disk_opts o;
	struct lkvm_err e;
	char *path = NULL;

	REQUIRE(disk_parse_spec("a.img", &path, &o, &e) == 0);
	CHECK_STR(path, "a.img");
	CHECK(!o.ro && !o.direct);
	free(path);
	REQUIRE(disk_parse_spec("/x/b.img,ro,direct", &path, &o, &e) == 0);
	CHECK_STR(path, "/x/b.img");
	CHECK(o.ro && o.direct);
	free(path);
	/* an unknown option names itself; an empty name is refused */
	CHECK(disk_parse_spec("c.img,rw", &path, &o, &e) == -1);
	CHECK_CONTAINS(e.msg, "rw");
	CHECK(disk_parse_spec(",ro", &path, &o, &e) == -1);
	CHECK(disk_parse_spec("d.img,ro,", &path, &o, &e) == -1);
}

TEST(disk, missing_file_one_message)
{
	struct disk_opts o = { 0 };
	struct lkvm_err e;
	struct disk *d;

	CHECK(disk_open(&d, "/nonexistent/dir/x.img", &o, &e) == -1);
	CHECK_CONTAINS(e.msg, "/nonexistent/dir/x.img");
	CHECK_CONTAINS(e.msg, "No such file");
}

/*
 * Linux AIO can be absent for environmental reasons (qemu-user does not
 * emulate io_setup: the s390x run): then the O_DIRECT tests skip, loudly.
 */
static bool aio_missing(void)
{
	io_context_t ctx = 0;
	int r = io_setup(1, &ctx);

	if (r == -ENOSYS) {
		test_skip("io_setup: ENOSYS (no Linux AIO here, e.g. under qemu-user)");
		return true;
	}
	if (r == 0)
		io_destroy(ctx);
	return false;
}

/* unaligned reads and writes through the bounce buffer, both modes */
static void rw_roundtrip(bool direct)
{
	struct disk_opts o = { .direct = direct };
	struct lkvm_err e;
	struct disk *d;
	uint8_t rd[700], wr[700], check[IMG_SIZE];
	struct iovec iov[2];
	char *path = make_image();
	size_t i;
	int fd;

	REQUIRE(path);
	if (direct && aio_missing()) {
		drop_image(path);
		return;
	}
	if (disk_open(&d, path, &o, &e)) {
		test_fail(__FILE__, __LINE__, "disk_open(%s): %s", direct ? "direct" : "buffered", e.msg);
		drop_image(path);
		return;
	}
	CHECK_EQ_U64(d->size, IMG_SIZE);
	/* 300 bytes at 100, split over two iovs of odd sizes */
	iov[0] = (struct iovec){ rd, 123 };
	iov[1] = (struct iovec){ rd + 123, 177 };
	CHECK_EQ_U64(d->ops->readv(d, 100, iov, 2, 300), 0);
	for (i = 0; i < 300; i++)
		if (!CHECK_EQ_U64(rd[i], pattern(100 + i)))
			break;
	for (i = 0; i < sizeof(wr); i++)
		wr[i] = 0xa5;
	iov[0] = (struct iovec){ wr, sizeof(wr) };
	CHECK_EQ_U64(d->ops->writev(d, 1000, iov, 1, sizeof(wr)), 0);
	CHECK_EQ_U64(d->ops->flush(d), 0);
	/* reading past the end is an error, not a short success */
	iov[0] = (struct iovec){ rd, 512 };
	CHECK(d->ops->readv(d, IMG_SIZE - 256, iov, 1, 512) < 0);
	disk_close(d);

	fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0);
	CHECK_EQ_U64(read(fd, check, sizeof(check)), sizeof(check));
	close(fd);
	for (i = 0; i < IMG_SIZE; i++) {
		uint8_t want = (i >= 1000 && i < 1700) ? 0xa5 : pattern(i);

		if (!CHECK_EQ_U64(check[i], want))
			break;
	}
	drop_image(path);
}

TEST(disk, buffered_unaligned_rw)
{
	rw_roundtrip(false);
}

TEST(disk, direct_unaligned_rw_bounces)
{
	rw_roundtrip(true);
}

TEST(disk, ro_never_writable)
{
	struct disk_opts o = { .ro = true };
	struct lkvm_err e;
	struct disk *d;
	uint8_t b[512] = { 0 };
	struct iovec iov = { b, sizeof(b) };
	char *path = make_image();
	int flags;

	REQUIRE(path);
	REQUIRE(disk_open(&d, path, &o, &e) == 0);
	/* the fd itself is read-only, so no code path can write through it */
	flags = fcntl(d->fd, F_GETFL);
	CHECK_EQ_U64(flags & O_ACCMODE, O_RDONLY);
	CHECK_EQ_U64(d->ops->writev(d, 0, &iov, 1, sizeof(b)), (uint64_t)-EROFS);
	CHECK_EQ_U64(d->ops->write_zeroes(d, 0, 512, false), (uint64_t)-EROFS);
	CHECK_EQ_U64(d->ops->discard(d, 0, 512), (uint64_t)-EROFS);
	disk_close(d);
	drop_image(path);
}

TEST(disk, write_zeroes_and_discard)
{
	struct disk_opts o = { 0 };
	struct lkvm_err e;
	struct disk *d;
	uint8_t b[4096];
	struct iovec iov = { b, sizeof(b) };
	char *path = make_image();
	size_t i;

	REQUIRE(path);
	REQUIRE(disk_open(&d, path, &o, &e) == 0);
	CHECK_EQ_U64(d->ops->write_zeroes(d, 8192, 4096, false), 0);
	CHECK_EQ_U64(d->ops->readv(d, 8192, &iov, 1, sizeof(b)), 0);
	for (i = 0; i < sizeof(b); i++)
		if (!CHECK_EQ_U64(b[i], 0))
			break;
	/* discard is advisory, but must leave the size alone and not fail */
	CHECK_EQ_U64(d->ops->discard(d, 16384, 4096), 0);
	CHECK_EQ_U64(d->ops->readv(d, 4096, &iov, 1, sizeof(b)), 0);
	CHECK_EQ_U64(b[0], pattern(4096));
	disk_close(d);
	drop_image(path);
}

/* direct on an image that ends mid-block: the tail works and never grows it */
TEST(disk, direct_tail_of_odd_sized_image)
{
	struct disk_opts o = { .direct = true };
	struct lkvm_err e;
	struct disk *d;
	uint8_t b[512], z[512];
	struct iovec iov = { b, sizeof(b) };
	char *path = make_image();
	struct stat st;
	int fd;

	REQUIRE(path);
	if (aio_missing()) {
		drop_image(path);
		return;
	}
	memset(z, 0x3c, sizeof(z));
	fd = open(path, O_WRONLY | O_APPEND);
	REQUIRE(fd >= 0);
	CHECK_EQ_U64(write(fd, z, sizeof(z)), sizeof(z));
	close(fd);
	REQUIRE(disk_open(&d, path, &o, &e) == 0);
	CHECK_EQ_U64(d->size, IMG_SIZE + 512);
	CHECK_EQ_U64(d->ops->readv(d, IMG_SIZE, &iov, 1, sizeof(b)), 0);
	CHECK_MEM(b, z, sizeof(b));
	memset(b, 0x77, sizeof(b));
	CHECK_EQ_U64(d->ops->writev(d, IMG_SIZE, &iov, 1, sizeof(b)), 0);
	disk_close(d);
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ_U64(st.st_size, IMG_SIZE + 512);
	fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0);
	CHECK_EQ_U64(pread(fd, z, sizeof(z), IMG_SIZE), sizeof(z));
	close(fd);
	CHECK_MEM(z, b, sizeof(z));
	drop_image(path);
}
