// SPDX-License-Identifier: GPL-2.0
/* 9P2000.L ops on a file or directory itself: open, I/O, attributes, locks. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "proto.h"
#include "server.h"
#include "util.h"

#define P9_IOHDR (P9_HDR_SIZE + 4) /* Rread: header + count */

/* Host open flags for the wire's Tlopen/Tlcreate flags (not the host's O_* values). */
static int dotl_to_host(uint32_t fl, int *host)
{
	static const struct {
		uint32_t dotl;
		int host;
	} map[] = {
		{ P9_DOTL_TRUNC, O_TRUNC }, { P9_DOTL_APPEND, O_APPEND },
		{ P9_DOTL_DSYNC, O_DSYNC }, { P9_DOTL_SYNC, O_SYNC },
		{ P9_DOTL_DIRECTORY, O_DIRECTORY }, { P9_DOTL_NOFOLLOW, O_NOFOLLOW },
	};
	size_t i;

	/*
	 * Ignored: CREATE/EXCL (Tlcreate decides), NOCTTY and CLOEXEC (always
	 * set), NONBLOCK (regular files and directories only), FASYNC, NOATIME,
	 * LARGEFILE, and DIRECT (our buffers are not aligned for it).
	 */
	switch (fl & P9_DOTL_ACCMODE) {
	case P9_DOTL_RDONLY:
		*host = O_RDONLY;
		break;
	case P9_DOTL_WRONLY:
		*host = O_WRONLY;
		break;
	case P9_DOTL_RDWR:
		*host = O_RDWR;
		break;
	default:
		return EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (fl & map[i].dotl)
			*host |= map[i].host;
	*host |= O_CLOEXEC | O_NOCTTY | O_LARGEFILE;
	return 0;
}

static bool host_writes(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/*
 * Opens pfd's inode (an O_PATH fd, already stat'ed in st) for the guest:
 * only regular files and directories, never a device, FIFO or socket.
 */
static int open_checked(int pfd, const struct stat *st, int flags, int *fd)
{
	if (S_ISDIR(st->st_mode)) {
		if (host_writes(flags))
			return EISDIR;
		flags = (flags & ~(O_ACCMODE | O_APPEND)) | O_RDONLY | O_DIRECTORY;
	} else if (S_ISREG(st->st_mode)) {
		if (flags & O_DIRECTORY)
			return ENOTDIR;
	} else if (S_ISLNK(st->st_mode)) {
		return ELOOP; /* only with NOFOLLOW: others were followed */
	} else {
		return EPERM;
	}
	*fd = p9_reopen(pfd, flags & ~O_NOFOLLOW);
	return *fd < 0 ? -*fd : 0;
}

static void fid_opened(struct p9_fid *f, int fd, int flags, const struct stat *st)
{
	f->fd = fd;
	f->oflags = flags;
	f->is_dir = S_ISDIR(st->st_mode);
}

int p9_op_lopen(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), fl = in_u32(in);
	struct p9_qid qid;
	struct p9_fid *f;
	struct stat st;
	int r, flags, pfd, fd;

	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f || f->fd >= 0)
		return EBADF;
	r = dotl_to_host(fl, &flags);
	if (r)
		return r;
	if (s->ro && host_writes(flags))
		return EROFS;
	/* a final symlink is followed, beneath the root, unless NOFOLLOW */
	pfd = p9_open(s, f->path, O_PATH | (flags & O_NOFOLLOW), 0);
	if (pfd < 0)
		return -pfd;
	if (fstat(pfd, &st))
		r = p9_errno();
	else
		r = open_checked(pfd, &st, flags, &fd);
	close(pfd);
	if (r)
		return r;
	fid_opened(f, fd, flags, &st);
	p9_qid(s, &st, &qid);
	out_qid(out, &qid);
	out_u32(out, 0); /* iounit: the client uses msize */
	return 0;
}

int p9_op_lcreate(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), fl, mode, gid;
	struct p9_str sname = in_str(in);
	char name[NAME_MAX + 1], *path;
	struct p9_qid qid;
	struct p9_fid *f;
	struct stat st;
	int r, flags, dfd, fd;

	fl = in_u32(in);
	mode = in_u32(in);
	gid = in_u32(in);
	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f || f->fd >= 0)
		return EBADF;
	if (s->ro)
		return EROFS;
	r = p9_name(sname, name);
	if (!r)
		r = dotl_to_host(fl, &flags);
	if (r)
		return r;
	flags &= ~(O_DIRECTORY | O_NOFOLLOW);
	r = p9_join(f->path, name, &path);
	if (r)
		return r;
	dfd = p9_open_dir(s, f->path);
	if (dfd < 0) {
		free(path);
		return -dfd;
	}
	/* O_EXCL: never follows a symlink, never opens what exists */
	fd = openat(dfd, name, flags | O_CREAT | O_EXCL, p9_guest_mode(s, mode));
	if (fd >= 0) {
		uid_t u = p9_guest_uid(s, f->uid);
		gid_t g = p9_guest_gid(s, gid);

		/* ownership and exact mode (no host umask); best effort, errors ignored */
		if (u != (uid_t)-1 || g != (gid_t)-1)
			(void)!fchown(fd, u, g);
		(void)!fchmod(fd, p9_guest_mode(s, mode));
		if (fstat(fd, &st)) {
			r = p9_errno();
			close(fd);
		}
	} else if (errno == EEXIST && !(fl & P9_DOTL_EXCL)) {
		/* exists, no EXCL: open it as Tlopen would, the one component not followed */
		int pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

		if (pfd < 0) {
			r = p9_errno();
		} else {
			if (fstat(pfd, &st))
				r = p9_errno();
			else if (S_ISDIR(st.st_mode))
				r = EISDIR;
			else
				r = open_checked(pfd, &st, flags, &fd);
			close(pfd);
		}
	} else {
		r = p9_errno();
	}
	close(dfd);
	if (r) {
		free(path);
		return r;
	}
	fid_set_path(f, path);
	fid_opened(f, fd, flags, &st);
	p9_qid(s, &st, &qid);
	out_qid(out, &qid);
	out_u32(out, 0);
	return 0;
}

int p9_op_read(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), count;
	uint64_t offset = in_u64(in);
	size_t pos, got = 0;
	struct p9_fid *f;
	uint8_t *data;

	count = in_u32(in);
	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f || f->fd < 0)
		return EBADF;
	if (f->is_dir)
		return EISDIR;
	if (offset > INT64_MAX)
		return EINVAL;
	/* out's cap is min(msize, resp_cap): count fits msize - 11 and the buffer */
	count = (uint32_t)MIN((size_t)count, out_room(out) - 4);
	pos = out->pos;
	out_u32(out, 0);
	data = out_reserve(out, count);
	while (got < count) {
		ssize_t n = pread(f->fd, data + got, count - got, (off_t)(offset + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (!got)
				return p9_errno();
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	out->pos = pos + 4 + got;
	out_patch_u32(out, pos, (uint32_t)got);
	return 0;
}

int p9_op_write(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), count;
	uint64_t offset = in_u64(in);
	const uint8_t *data;
	struct p9_fid *f;
	size_t done = 0;

	count = in_u32(in);
	data = in_data(in, count);
	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f || f->fd < 0)
		return EBADF;
	if (s->ro)
		return EROFS;
	if (f->is_dir)
		return EISDIR;
	if (offset > INT64_MAX || count > INT64_MAX - offset)
		return EFBIG;
	while (done < count) {
		ssize_t n = pwrite(f->fd, data + done, count - done, (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (!done)
				return p9_errno();
			break;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	out_u32(out, (uint32_t)done);
	return 0;
}

int p9_op_fsync(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), datasync = in_u32(in);
	struct p9_fid *f;

	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f || f->fd < 0)
		return EBADF;
	if (datasync ? fdatasync(f->fd) : fsync(f->fd))
		return p9_errno();
	return 0;
}

/* qid of a directory entry without a stat: d_ino and d_type */
static void dirent_qid(const struct p9_server *s, const struct stat *dst, const struct dirent *de,
		       struct p9_qid *q)
{
	struct stat st = { .st_ino = de->d_ino, .st_dev = dst->st_dev };

	st.st_mode = de->d_type == DT_DIR ? S_IFDIR : de->d_type == DT_LNK ? S_IFLNK : S_IFREG;
	p9_qid(s, &st, q);
}

int p9_op_readdir(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), count;
	uint64_t offset = in_u64(in);
	size_t pos, end, n = 0;
	struct p9_fid *f;
	struct stat dst;
	int r = 0;

	count = in_u32(in);
	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f || f->fd < 0)
		return EBADF;
	if (!f->is_dir)
		return ENOTDIR;
	if (offset > LONG_MAX)
		return EINVAL;
	if (fstat(f->fd, &dst))
		return p9_errno();
	if (!f->dir) {
		int dfd = dup(f->fd);

		if (dfd < 0)
			return p9_errno();
		f->dir = fdopendir(dfd);
		if (!f->dir) {
			r = p9_errno();
			close(dfd);
			return r;
		}
	}
	/* the offset is the cookie of the last entry the client got (0: the start) */
	if (offset)
		seekdir(f->dir, (long)offset);
	else
		rewinddir(f->dir);
	pos = out->pos;
	out_u32(out, 0);
	end = out->pos + MIN((size_t)count, out_room(out));
	for (;;) {
		struct dirent *de;
		struct p9_qid qid;
		size_t len;

		errno = 0;
		de = readdir(f->dir);
		if (!de) {
			if (errno)
				r = errno;
			break;
		}
		len = strlen(de->d_name);
		if (end - out->pos < P9_QID_SIZE + 8 + 1 + 2 + len) {
			/* the next call starts here again, from the last cookie sent */
			if (!n)
				r = EINVAL; /* not even one entry fits in count */
			break;
		}
		if (!strcmp(f->path, ".") && !strcmp(de->d_name, "..")) {
			/* the share root's parent is not shown: it is the root again */
			p9_qid(s, &dst, &qid);
		} else {
			dirent_qid(s, &dst, de, &qid);
		}
		out_qid(out, &qid);
		out_u64(out, (uint64_t)de->d_off);
		out_u8(out, de->d_type);
		out_str(out, de->d_name, len);
		n++;
	}
	if (r && !n)
		return r;
	out_patch_u32(out, pos, (uint32_t)(out->pos - pos - 4));
	return 0;
}

/* The fid's inode: its open fd, or an O_PATH fd of its path (the last symlink not followed). */
static int fid_inode(struct p9_server *s, struct p9_fid *f, int *own)
{
	*own = -1;
	if (f->fd >= 0)
		return f->fd;
	*own = p9_open(s, f->path, O_PATH | O_NOFOLLOW, 0);
	return *own;
}

int p9_op_statfs(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in);
	struct p9_fid *f;
	struct statfs sf;
	int fd, own, r = 0;

	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f)
		return EBADF;
	fd = fid_inode(s, f, &own);
	if (fd < 0)
		return -fd;
	if (fstatfs(fd, &sf))
		r = p9_errno();
	if (own >= 0)
		close(own);
	if (r)
		return r;
	out_u32(out, (uint32_t)sf.f_type);
	out_u32(out, (uint32_t)sf.f_bsize);
	out_u64(out, sf.f_blocks);
	out_u64(out, sf.f_bfree);
	out_u64(out, sf.f_bavail);
	out_u64(out, sf.f_files);
	out_u64(out, sf.f_ffree);
	out_u64(out, (uint64_t)(uint32_t)sf.f_fsid.__val[0] |
			     (uint64_t)(uint32_t)sf.f_fsid.__val[1] << 32);
	out_u32(out, (uint32_t)sf.f_namelen);
	return 0;
}

int p9_op_getattr(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in);
	struct p9_qid qid;
	struct p9_fid *f;
	struct stat st;
	int fd, own, r = 0;

	in_u64(in); /* request_mask: everything basic is cheap, so all of it comes */
	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f)
		return EBADF;
	fd = fid_inode(s, f, &own);
	if (fd < 0)
		return -fd;
	if (fstat(fd, &st))
		r = p9_errno();
	if (own >= 0)
		close(own);
	if (r)
		return r;
	p9_qid(s, &st, &qid);
	out_u64(out, P9_STATS_BASIC);
	out_qid(out, &qid);
	out_u32(out, st.st_mode);
	out_u32(out, st.st_uid);
	out_u32(out, st.st_gid);
	out_u64(out, st.st_nlink);
	out_u64(out, st.st_rdev);
	out_u64(out, (uint64_t)st.st_size);
	out_u64(out, (uint64_t)st.st_blksize);
	out_u64(out, (uint64_t)st.st_blocks);
	out_u64(out, (uint64_t)st.st_atim.tv_sec);
	out_u64(out, (uint64_t)st.st_atim.tv_nsec);
	out_u64(out, (uint64_t)st.st_mtim.tv_sec);
	out_u64(out, (uint64_t)st.st_mtim.tv_nsec);
	out_u64(out, (uint64_t)st.st_ctim.tv_sec);
	out_u64(out, (uint64_t)st.st_ctim.tv_nsec);
	out_u64(out, 0); /* btime, not valid */
	out_u64(out, 0);
	out_u64(out, 0); /* gen */
	out_u64(out, 0); /* data_version */
	return 0;
}

static int set_times(struct p9_server *s, struct p9_fid *f, int fd, const struct stat *st,
		     const struct timespec ts[2])
{
	const char *name;
	char proc[40];
	int dfd, r = 0;

	if (!S_ISLNK(st->st_mode)) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		return utimensat(AT_FDCWD, proc, ts, 0) ? p9_errno() : 0;
	}
	/* the symlink itself: from its parent, not followed */
	dfd = p9_open_parent(s, f->path, &name);
	if (dfd < 0)
		return -dfd;
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW))
		r = p9_errno();
	close(dfd);
	return r;
}

static int time_arg(uint32_t valid, uint32_t now_bit, uint32_t set_bit, uint64_t sec,
		    uint64_t nsec, struct timespec *ts)
{
	if (!(valid & now_bit)) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
	} else if (!(valid & set_bit)) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
	} else {
		if (nsec >= 1000000000 || sec > INT64_MAX)
			return EINVAL;
		ts->tv_sec = (time_t)sec;
		ts->tv_nsec = (long)nsec;
	}
	return 0;
}

static int do_setattr(struct p9_server *s, struct p9_fid *f, int fd, uint32_t valid,
		      uint32_t mode, uint32_t uid, uint32_t gid, uint64_t size,
		      const struct timespec ts[2])
{
	struct stat st;
	int r;

	if (fstat(fd, &st))
		return p9_errno();
	/*
	 * Owner first: a chown clears set-id bits the mode may want back. Not
	 * honoured without P9_SHARE_OWNERS: ignored, as QEMU's security_model=none.
	 */
	if ((valid & (P9_ATTR_UID | P9_ATTR_GID)) && s->guest_owners) {
		uid_t u = (valid & P9_ATTR_UID) ? (uid_t)uid : (uid_t)-1;
		gid_t g = (valid & P9_ATTR_GID) ? (gid_t)gid : (gid_t)-1;

		if (fchownat(fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			return p9_errno();
	}
	if (valid & P9_ATTR_MODE) {
		if (S_ISLNK(st.st_mode))
			return EOPNOTSUPP; /* as fchmodat(AT_SYMLINK_NOFOLLOW) */
		r = p9_chmod_fd(fd, p9_guest_mode(s, mode));
		if (r)
			return r;
	}
	if (valid & P9_ATTR_SIZE) {
		int wfd;

		if (S_ISDIR(st.st_mode))
			return EISDIR;
		if (!S_ISREG(st.st_mode))
			return EINVAL;
		if (size > INT64_MAX)
			return EFBIG;
		if (f->fd >= 0 && (f->oflags & O_ACCMODE) != O_RDONLY) {
			if (ftruncate(f->fd, (off_t)size))
				return p9_errno();
		} else {
			wfd = p9_reopen(fd, O_WRONLY);
			if (wfd < 0)
				return -wfd;
			r = ftruncate(wfd, (off_t)size) ? p9_errno() : 0;
			close(wfd);
			if (r)
				return r;
		}
	}
	/* times last: a truncate moves mtime */
	if (valid & (P9_ATTR_ATIME | P9_ATTR_MTIME))
		return set_times(s, f, fd, &st, ts);
	return 0;
}

int p9_op_setattr(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), valid = in_u32(in), mode = in_u32(in), uid = in_u32(in);
	uint32_t gid = in_u32(in);
	uint64_t size = in_u64(in), asec = in_u64(in), ansec = in_u64(in);
	uint64_t msec = in_u64(in), mnsec = in_u64(in);
	struct timespec ts[2];
	struct p9_fid *f;
	int fd, own, r;

	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f)
		return EBADF;
	if (s->ro)
		return EROFS;
	r = time_arg(valid, P9_ATTR_ATIME, P9_ATTR_ATIME_SET, asec, ansec, &ts[0]);
	if (!r)
		r = time_arg(valid, P9_ATTR_MTIME, P9_ATTR_MTIME_SET, msec, mnsec, &ts[1]);
	if (r)
		return r;
	fd = fid_inode(s, f, &own);
	if (fd < 0)
		return -fd;
	r = do_setattr(s, f, fd, valid, mode, uid, gid, size, ts);
	if (own >= 0)
		close(own);
	return r;
}

static int lock_range(uint64_t start, uint64_t length, struct flock *fl)
{
	if (start > INT64_MAX || length > INT64_MAX || length > (uint64_t)INT64_MAX - start)
		return EINVAL;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)start;
	fl->l_len = (off_t)length; /* 0: to the end */
	return 0;
}

static const short lock_types[] = {
	[P9_LOCK_TYPE_RDLCK] = F_RDLCK,
	[P9_LOCK_TYPE_WRLCK] = F_WRLCK,
	[P9_LOCK_TYPE_UNLCK] = F_UNLCK,
};

int p9_op_lock(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in);
	uint8_t type = in_u8(in);
	struct flock fl = { 0 };
	uint64_t start, length;
	struct p9_fid *f;
	int r;

	in_u32(in); /* flags: BLOCK is the client's business, it retries on BLOCKED */
	start = in_u64(in);
	length = in_u64(in);
	in_u32(in); /* proc_id */
	in_str(in); /* client_id */
	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f || f->fd < 0)
		return EBADF;
	if (type >= ARRAY_SIZE(lock_types))
		return EINVAL;
	r = lock_range(start, length, &fl);
	if (r)
		return r;
	fl.l_type = lock_types[type];
	/* an open-file-description lock per fid, and never waiting for one */
	if (fcntl(f->fd, F_OFD_SETLK, &fl)) {
		if (errno != EAGAIN && errno != EACCES)
			return p9_errno();
		out_u8(out, P9_LOCK_BLOCKED);
		return 0;
	}
	out_u8(out, P9_LOCK_SUCCESS);
	return 0;
}

int p9_op_getlock(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), proc_id;
	uint8_t type = in_u8(in);
	struct flock fl = { 0 };
	uint64_t start, length;
	struct p9_str client;
	struct p9_fid *f;
	int r;

	start = in_u64(in);
	length = in_u64(in);
	proc_id = in_u32(in);
	client = in_str(in);
	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f || f->fd < 0)
		return EBADF;
	if (type >= ARRAY_SIZE(lock_types) || type == P9_LOCK_TYPE_UNLCK)
		return EINVAL;
	r = lock_range(start, length, &fl);
	if (r)
		return r;
	fl.l_type = lock_types[type];
	if (fcntl(f->fd, F_OFD_GETLK, &fl))
		return p9_errno();
	if (fl.l_type == F_UNLCK) {
		out_u8(out, P9_LOCK_TYPE_UNLCK);
		out_u64(out, start);
		out_u64(out, length);
		out_u32(out, proc_id);
	} else {
		out_u8(out, fl.l_type == F_WRLCK ? P9_LOCK_TYPE_WRLCK : P9_LOCK_TYPE_RDLCK);
		out_u64(out, (uint64_t)fl.l_start);
		out_u64(out, (uint64_t)fl.l_len);
		out_u32(out, (uint32_t)fl.l_pid); /* -1 for an OFD lock: no process */
	}
	out_str(out, client.s, client.len);
	return 0;
}
