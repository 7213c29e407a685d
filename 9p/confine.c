// SPDX-License-Identifier: GPL-2.0
/*
 * Confinement: the guest is hostile. It names files by fid paths built
 * only from single components (never "", ".", "..", nor with '/' or NUL),
 * and every resolution goes through openat2 beneath the share's root fd
 * with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so symlinks (the share's
 * own, or ones the host swaps in at any time) are followed only while they
 * stay beneath the root. Ops on a final component resolve its parent that
 * way and then use the *at() call on the one component, not following it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proto.h"
#include "server.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

int p9_errno(void)
{
	return errno ? errno : EIO;
}

int p9_name(struct p9_str name, char buf[NAME_MAX + 1])
{
	if (!name.len)
		return ENOENT;
	if (name.len > NAME_MAX)
		return ENAMETOOLONG;
	if (memchr(name.s, '/', name.len) || memchr(name.s, 0, name.len))
		return EINVAL;
	if ((name.len == 1 && name.s[0] == '.') ||
	    (name.len == 2 && name.s[0] == '.' && name.s[1] == '.'))
		return EINVAL;
	memcpy(buf, name.s, name.len);
	buf[name.len] = 0;
	return 0;
}

int p9_join(const char *dir, const char *name, char **out)
{
	size_t dlen = strlen(dir), nlen = strlen(name);
	char *p;

	if (!strcmp(dir, "."))
		dlen = 0;
	if (dlen + 1 + nlen >= PATH_MAX)
		return ENAMETOOLONG;
	p = malloc(dlen + 1 + nlen + 1);
	if (!p)
		return ENOMEM;
	if (dlen) {
		memcpy(p, dir, dlen);
		p[dlen++] = '/';
	}
	memcpy(p + dlen, name, nlen + 1);
	*out = p;
	return 0;
}

static int openat2_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int i, fd = -1;

	/* EAGAIN: a concurrent rename made the kernel unsure; ask again */
	for (i = 0; i < 16; i++) {
		fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd >= 0)
		return fd;
	return errno == EXDEV ? -EACCES : -p9_errno();
}

int p9_open(const struct p9_server *s, const char *rel, int flags, mode_t mode)
{
	if (strlen(rel) >= PATH_MAX)
		return -ENAMETOOLONG;
	return openat2_beneath(s->root_fd, rel, flags, mode);
}

int p9_open_dir(const struct p9_server *s, const char *rel)
{
	return p9_open(s, rel, O_PATH | O_DIRECTORY, 0);
}

int p9_open_parent(const struct p9_server *s, const char *rel, const char **name)
{
	const char *slash = strrchr(rel, '/');
	char dir[PATH_MAX];
	size_t dlen;

	if (!strcmp(rel, "."))
		return -EBUSY;
	if (!slash) {
		*name = rel;
		return p9_open_dir(s, ".");
	}
	dlen = (size_t)(slash - rel);
	if (dlen >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, rel, dlen);
	dir[dlen] = 0;
	*name = slash + 1;
	return p9_open_dir(s, dir);
}

int p9_reopen(int fd, int flags)
{
	char proc[40];
	int nfd;

	/* our own fd's magic link: the same inode, whatever its path now is */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	nfd = open(proc, (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC | O_NOCTTY);
	return nfd >= 0 ? nfd : -p9_errno();
}

int p9_chmod_fd(int fd, mode_t mode)
{
	char proc[40];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return chmod(proc, mode & 07777) ? p9_errno() : 0;
}

mode_t p9_guest_mode(const struct p9_server *s, uint32_t mode)
{
	mode_t m = (mode_t)(mode & 07777);

	return s->keep_setid ? m : m & ~(mode_t)(S_ISUID | S_ISGID);
}

uid_t p9_guest_uid(const struct p9_server *s, uint32_t uid)
{
	return s->guest_owners && uid != P9_NONUNAME ? (uid_t)uid : (uid_t)-1;
}

gid_t p9_guest_gid(const struct p9_server *s, uint32_t gid)
{
	return s->guest_owners && gid != P9_NONUNAME ? (gid_t)gid : (gid_t)-1;
}

void p9_qid(const struct p9_server *s, const struct stat *st, struct p9_qid *q)
{
	q->type = S_ISDIR(st->st_mode) ? P9_QTDIR : S_ISLNK(st->st_mode) ? P9_QTSYMLINK : P9_QTFILE;
	/* 0: the Linux client treats a new version as a new inode */
	q->version = 0;
	q->path = st->st_ino;
	/* another filesystem mounted inside the share: keep its inodes apart */
	if (st->st_dev != s->root_dev)
		q->path ^= (uint64_t)st->st_dev * 0x9e3779b97f4a7c15ULL & 0xffff000000000000ULL;
}
