// SPDX-License-Identifier: GPL-2.0
/*
 * 9P2000.L ops on directory entries: create, link, rename, remove, readlink.
 * Each resolves the directory beneath the root (confine.c) and then acts on
 * one validated component with the *at() call, never following it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"
#include "server.h"

/* Fid dirfid as a directory (O_PATH fd in *dfd): 0 or an errno. */
static int dir_of(struct p9_server *s, uint32_t dirfid, struct p9_fid **fp, int *dfd)
{
	struct p9_fid *f = fid_get(&s->fids, dirfid);

	if (!f)
		return EBADF;
	*dfd = p9_open_dir(s, f->path);
	if (*dfd < 0)
		return -*dfd;
	if (fp)
		*fp = f;
	return 0;
}

/* stat of a new entry and its qid: the entry itself, never followed */
static int entry_qid(struct p9_server *s, int dfd, const char *name, struct p9_out *out)
{
	struct p9_qid qid;
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return p9_errno();
	p9_qid(s, &st, &qid);
	out_qid(out, &qid);
	return 0;
}

/*
 * Owner and exact mode (no host umask) of a new entry, through an O_PATH fd
 * of it, not followed. Best effort: errors are ignored (the entry exists;
 * a filesystem without owners still serves).
 */
static void new_entry_owner(int dfd, const char *name, uid_t uid, gid_t gid, mode_t mode,
			    bool chmod_too)
{
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return;
	if (uid != (uid_t)-1 || gid != (gid_t)-1)
		(void)!fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (chmod_too && !fstat(fd, &st) && !S_ISLNK(st.st_mode))
		(void)!p9_chmod_fd(fd, mode);
	close(fd);
}

int p9_op_mkdir(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t dfid = in_u32(in), mode, gid;
	struct p9_str sname = in_str(in);
	char name[NAME_MAX + 1];
	struct p9_fid *f;
	int r, dfd;

	mode = in_u32(in);
	gid = in_u32(in);
	if (in->bad)
		return EPROTO;
	if (!fid_get(&s->fids, dfid))
		return EBADF;
	if (s->ro)
		return EROFS;
	r = p9_name(sname, name);
	if (!r)
		r = dir_of(s, dfid, &f, &dfd);
	if (r)
		return r;
	if (mkdirat(dfd, name, p9_guest_mode(s, mode))) {
		r = p9_errno();
	} else {
		new_entry_owner(dfd, name, p9_guest_uid(s, f->uid), p9_guest_gid(s, gid),
				p9_guest_mode(s, mode), true);
		r = entry_qid(s, dfd, name, out);
	}
	close(dfd);
	return r;
}

int p9_op_symlink(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t dfid = in_u32(in), gid;
	struct p9_str sname = in_str(in), stgt = in_str(in);
	char name[NAME_MAX + 1], *tgt;
	struct p9_fid *f;
	int r, dfd;

	gid = in_u32(in);
	if (in->bad)
		return EPROTO;
	if (!fid_get(&s->fids, dfid))
		return EBADF;
	if (s->ro)
		return EROFS;
	r = p9_name(sname, name);
	if (r)
		return r;
	/* any target text may be stored: following it is what is confined */
	if (!stgt.len)
		return ENOENT;
	if (stgt.len >= PATH_MAX)
		return ENAMETOOLONG;
	if (memchr(stgt.s, 0, stgt.len))
		return EINVAL;
	tgt = strndup(stgt.s, stgt.len);
	if (!tgt)
		return ENOMEM;
	r = dir_of(s, dfid, &f, &dfd);
	if (!r) {
		if (symlinkat(tgt, dfd, name)) {
			r = p9_errno();
		} else {
			new_entry_owner(dfd, name, p9_guest_uid(s, f->uid), p9_guest_gid(s, gid), 0,
					false);
			r = entry_qid(s, dfd, name, out);
		}
		close(dfd);
	}
	free(tgt);
	return r;
}

int p9_op_mknod(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t dfid = in_u32(in), mode, gid;
	struct p9_str sname = in_str(in);
	char name[NAME_MAX + 1];
	struct p9_fid *f;
	mode_t type;
	int r, dfd;

	mode = in_u32(in);
	in_u32(in); /* major */
	in_u32(in); /* minor: no device is ever made */
	gid = in_u32(in);
	if (in->bad)
		return EPROTO;
	if (!fid_get(&s->fids, dfid))
		return EBADF;
	if (s->ro)
		return EROFS;
	type = (mode_t)(mode & S_IFMT);
	switch (type) {
	case 0:
		type = S_IFREG;
		break;
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFCHR:
	case S_IFBLK:
		return EPERM; /* the guest never gets a host device */
	default:
		return EINVAL;
	}
	r = p9_name(sname, name);
	if (!r)
		r = dir_of(s, dfid, &f, &dfd);
	if (r)
		return r;
	if (mknodat(dfd, name, type | p9_guest_mode(s, mode), 0)) {
		r = p9_errno();
	} else {
		new_entry_owner(dfd, name, p9_guest_uid(s, f->uid), p9_guest_gid(s, gid),
				p9_guest_mode(s, mode), true);
		r = entry_qid(s, dfd, name, out);
	}
	close(dfd);
	return r;
}

int p9_op_link(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t dfid = in_u32(in), fid = in_u32(in);
	struct p9_str sname = in_str(in);
	char name[NAME_MAX + 1];
	const char *oldname;
	struct p9_fid *f;
	int r, dfd, odfd;

	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f || !fid_get(&s->fids, dfid))
		return EBADF;
	if (s->ro)
		return EROFS;
	r = p9_name(sname, name);
	if (!r)
		r = dir_of(s, dfid, NULL, &dfd);
	if (r)
		return r;
	odfd = p9_open_parent(s, f->path, &oldname);
	if (odfd < 0) {
		close(dfd);
		return -odfd;
	}
	/* the entry itself (a symlink stays a symlink): no AT_SYMLINK_FOLLOW */
	r = linkat(odfd, oldname, dfd, name, 0) ? p9_errno() : 0;
	close(odfd);
	close(dfd);
	return r;
}

/* renameat of two resolved (dir, name) pairs, and the fids follow */
static int do_rename(struct p9_server *s, int odfd, const char *opath, const char *oname,
		     int ndfd, const char *ndir, const char *nname)
{
	char *npath;
	int r;

	r = p9_join(ndir, nname, &npath);
	if (r)
		return r;
	if (renameat(odfd, oname, ndfd, nname))
		r = p9_errno();
	else
		fid_renamed(&s->fids, opath, npath);
	free(npath);
	return r;
}

int p9_op_rename(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), dfid = in_u32(in);
	struct p9_str sname = in_str(in);
	char name[NAME_MAX + 1], *opath;
	struct p9_fid *f, *d;
	const char *oname;
	int r, dfd, odfd;

	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f || !fid_get(&s->fids, dfid))
		return EBADF;
	if (s->ro)
		return EROFS;
	r = p9_name(sname, name);
	if (!r)
		r = dir_of(s, dfid, &d, &dfd);
	if (r)
		return r;
	opath = strdup(f->path); /* fid_renamed() replaces f->path */
	if (!opath) {
		close(dfd);
		return ENOMEM;
	}
	odfd = p9_open_parent(s, opath, &oname);
	if (odfd < 0) {
		r = -odfd;
	} else {
		r = do_rename(s, odfd, opath, oname, dfd, d->path, name);
		close(odfd);
	}
	free(opath);
	close(dfd);
	return r;
}

int p9_op_renameat(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t ofid = in_u32(in), nfid;
	struct p9_str soname = in_str(in), snname;
	char oname[NAME_MAX + 1], nname[NAME_MAX + 1], *opath = NULL;
	struct p9_fid *of, *nf;
	int r, odfd = -1, ndfd = -1;

	nfid = in_u32(in);
	snname = in_str(in);
	if (in->bad)
		return EPROTO;
	if (!fid_get(&s->fids, ofid) || !fid_get(&s->fids, nfid))
		return EBADF;
	if (s->ro)
		return EROFS;
	r = p9_name(soname, oname);
	if (!r)
		r = p9_name(snname, nname);
	if (!r)
		r = dir_of(s, ofid, &of, &odfd);
	if (!r)
		r = dir_of(s, nfid, &nf, &ndfd);
	if (!r)
		r = p9_join(of->path, oname, &opath);
	if (!r)
		r = do_rename(s, odfd, opath, oname, ndfd, nf->path, nname);
	free(opath);
	if (odfd >= 0)
		close(odfd);
	if (ndfd >= 0)
		close(ndfd);
	return r;
}

int p9_op_unlinkat(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t dfid = in_u32(in), flags;
	struct p9_str sname = in_str(in);
	char name[NAME_MAX + 1];
	int r, dfd;

	flags = in_u32(in);
	if (in->bad)
		return EPROTO;
	if (!fid_get(&s->fids, dfid))
		return EBADF;
	if (s->ro)
		return EROFS;
	if (flags & ~(uint32_t)P9_DOTL_AT_REMOVEDIR)
		return EINVAL;
	r = p9_name(sname, name);
	if (!r)
		r = dir_of(s, dfid, NULL, &dfd);
	if (r)
		return r;
	if (unlinkat(dfd, name, (flags & P9_DOTL_AT_REMOVEDIR) ? AT_REMOVEDIR : 0))
		r = p9_errno();
	close(dfd);
	return r;
}

static int remove_path(struct p9_server *s, const char *path)
{
	const char *name;
	struct stat st;
	int r = 0, dfd;

	if (s->ro)
		return EROFS;
	dfd = p9_open_parent(s, path, &name);
	if (dfd < 0)
		return -dfd;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) ||
	    unlinkat(dfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0))
		r = p9_errno();
	close(dfd);
	return r;
}

int p9_op_remove(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in);
	struct p9_fid *f;
	int r;

	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f)
		return EBADF;
	r = remove_path(s, f->path);
	/* the fid is clunked even when the remove fails */
	fid_del(&s->fids, fid);
	return r;
}

int p9_op_readlink(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in);
	char buf[PATH_MAX];
	struct p9_fid *f;
	struct stat st;
	ssize_t n = -1;
	int fd, r = 0;

	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f)
		return EBADF;
	fd = p9_open(s, f->path, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return -fd;
	if (fstat(fd, &st))
		r = p9_errno();
	else if (!S_ISLNK(st.st_mode))
		r = EINVAL;
	if (!r) {
		/* the link itself, by its O_PATH fd */
		n = readlinkat(fd, "", buf, sizeof(buf));
		if (n < 0)
			r = p9_errno();
		else if ((size_t)n >= sizeof(buf))
			r = ENAMETOOLONG;
	}
	close(fd);
	if (r)
		return r;
	out_str(out, buf, (size_t)n);
	return 0;
}
