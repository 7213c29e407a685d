// SPDX-License-Identifier: GPL-2.0
/*
 * The 9P2000.L server: one T-message in, one R-message out. This file holds
 * the dispatcher and the session ops (version, attach, walk, clunk, flush);
 * ops_file.c and ops_dir.c the rest, confine.c every path resolution.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "server.h"
#include "util.h"

int p9_server_create(struct p9_server **out, const char *dir, unsigned int flags,
		     struct lkvm_err *e)
{
	struct p9_server *s;
	struct stat st;
	int fd;

	if ((flags & P9_SHARE_OWNERS) && geteuid() != 0)
		return err_set(e, "9p: %s: owners (the guest's uids and gids) needs lkvm to run as root",
			       dir);
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, "out of memory");
	s->root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		err_errno(e, errno, "9p: cannot open directory %s", dir);
		free(s);
		return -1;
	}
	if (fstat(s->root_fd, &st)) {
		err_errno(e, errno, "9p: cannot stat %s", dir);
		goto fail;
	}
	s->root_dev = st.st_dev;
	/* confinement needs openat2 (Linux 5.6): no fallback without it */
	fd = p9_open(s, ".", O_PATH | O_DIRECTORY, 0);
	if (fd < 0) {
		err_errno(e, -fd, "9p: %s: openat2 (Linux 5.6 or later) is needed", dir);
		goto fail;
	}
	close(fd);
	s->ro = flags & P9_SHARE_RO;
	s->keep_setid = flags & P9_SHARE_SETID;
	s->guest_owners = flags & P9_SHARE_OWNERS;
	s->msize = P9_MSIZE_MAX;
	*out = s;
	return 0;
fail:
	close(s->root_fd);
	free(s);
	return -1;
}

void p9_server_destroy(struct p9_server *s)
{
	if (!s)
		return;
	fid_clear(&s->fids);
	close(s->root_fd);
	free(s);
}

void p9_server_reset(struct p9_server *s)
{
	fid_clear(&s->fids);
	s->msize = P9_MSIZE_MAX;
}

uint32_t p9_server_msize(const struct p9_server *s)
{
	return s->msize;
}

static int op_version(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t msize = in_u32(in);
	struct p9_str v = in_str(in);
	bool ok;

	if (in->bad)
		return EPROTO;
	if (msize < P9_MSIZE_MIN)
		return EINVAL;
	/* a new session, whatever version: every fid goes */
	p9_server_reset(s);
	s->msize = MIN(msize, (uint32_t)P9_MSIZE_MAX);
	ok = v.len == strlen(P9_VERSION_L) && !memcmp(v.s, P9_VERSION_L, v.len);
	out_u32(out, s->msize);
	if (ok)
		out_str(out, P9_VERSION_L, strlen(P9_VERSION_L));
	else
		out_str(out, "unknown", 7);
	return 0;
}

static int op_attach(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), afid = in_u32(in), n_uname;
	struct p9_qid qid;
	struct stat st;
	int r;

	in_str(in); /* uname */
	in_str(in); /* aname: there is one tree */
	n_uname = in_u32(in);
	if (in->bad)
		return EPROTO;
	if (afid != P9_NOFID)
		return EBADF; /* no Tauth, so no auth fid */
	if (fstat(s->root_fd, &st))
		return p9_errno();
	r = fid_add(&s->fids, fid, ".", n_uname, NULL);
	if (r)
		return r;
	p9_qid(s, &st, &qid);
	out_qid(out, &qid);
	return 0;
}

static int walk_one(struct p9_server *s, const char *path, struct p9_str wname, char **newpath,
		    struct p9_qid *qid)
{
	char name[NAME_MAX + 1];
	struct stat st;
	int r, fd;

	r = p9_name(wname, name);
	if (r)
		return r;
	r = p9_join(path, name, newpath);
	if (r)
		return r;
	/* intermediate symlinks are followed beneath the root, the last one not */
	fd = p9_open(s, *newpath, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0) {
		r = -fd;
	} else {
		if (fstat(fd, &st))
			r = p9_errno();
		else
			p9_qid(s, &st, qid);
		close(fd);
	}
	if (r) {
		free(*newpath);
		*newpath = NULL;
	}
	return r;
}

static int op_walk(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in), newfid = in_u32(in);
	uint16_t nwname = in_u16(in), i;
	struct p9_str names[P9_MAXWELEM];
	struct p9_fid *f;
	size_t nwqid_pos;
	char *path, *next;
	int r = 0;

	if (in->bad)
		return EPROTO;
	if (nwname > P9_MAXWELEM)
		return EINVAL;
	for (i = 0; i < nwname; i++)
		names[i] = in_str(in);
	if (in->bad)
		return EPROTO;
	f = fid_get(&s->fids, fid);
	if (!f)
		return EBADF;
	if (newfid != fid && fid_get(&s->fids, newfid))
		return EEXIST;
	/* an open fid keeps naming the file it opened */
	if (newfid == fid && nwname && f->fd >= 0)
		return EBUSY;
	path = strdup(f->path);
	if (!path)
		return ENOMEM;
	nwqid_pos = out->pos;
	out_u16(out, 0);
	for (i = 0; i < nwname; i++) {
		struct p9_qid qid;

		r = walk_one(s, path, names[i], &next, &qid);
		if (r)
			break;
		free(path);
		path = next;
		out_qid(out, &qid);
	}
	if (i == 0 && nwname) {
		free(path);
		return r; /* only a failing first name is an error */
	}
	out_patch_u16(out, nwqid_pos, i);
	if (i == nwname) {
		/* newfid is made (or moved) only by a complete walk */
		if (newfid == fid) {
			fid_set_path(f, path);
			return 0;
		}
		r = fid_add(&s->fids, newfid, path, f->uid, NULL);
		free(path);
		return r;
	}
	free(path);
	return 0;
}

static int op_clunk(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = in_u32(in);

	if (in->bad)
		return EPROTO;
	return fid_del(&s->fids, fid);
}

static int op_flush(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	in_u16(in); /* oldtag: requests are answered one at a time, so it is done */
	return in->bad ? EPROTO : 0;
}

static int op_xattrwalk(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	in_u32(in); /* fid */
	in_u32(in); /* newfid */
	in_str(in); /* name */
	return in->bad ? EPROTO : EOPNOTSUPP;
}

static int op_xattrcreate(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	in_u32(in); /* fid */
	in_str(in); /* name */
	in_u64(in); /* attr_size */
	in_u32(in); /* flags */
	return in->bad ? EPROTO : EOPNOTSUPP;
}

struct p9_op {
	uint8_t type;
	uint16_t rsize; /* fixed size of the R-message body (checked up front) */
	p9_op_fn *fn;
};

static const struct p9_op p9_ops[] = {
	{ P9_TVERSION, 4 + 2 + 8, op_version },
	{ P9_TATTACH, P9_QID_SIZE, op_attach },
	{ P9_TWALK, 2, op_walk },
	{ P9_TCLUNK, 0, op_clunk },
	{ P9_TFLUSH, 0, op_flush },
	{ P9_TXATTRWALK, 8, op_xattrwalk },
	{ P9_TXATTRCREATE, 0, op_xattrcreate },
	{ P9_TLOPEN, P9_QID_SIZE + 4, p9_op_lopen },
	{ P9_TLCREATE, P9_QID_SIZE + 4, p9_op_lcreate },
	{ P9_TREAD, 4, p9_op_read },
	{ P9_TWRITE, 4, p9_op_write },
	{ P9_TFSYNC, 0, p9_op_fsync },
	{ P9_TREADDIR, 4, p9_op_readdir },
	{ P9_TSTATFS, 4 + 4 + 8 * 6 + 4, p9_op_statfs },
	{ P9_TGETATTR, 8 + P9_QID_SIZE + 4 * 3 + 8 * 15, p9_op_getattr },
	{ P9_TSETATTR, 0, p9_op_setattr },
	{ P9_TLOCK, 1, p9_op_lock },
	{ P9_TGETLOCK, 1 + 8 + 8 + 4 + 2, p9_op_getlock },
	{ P9_TMKDIR, P9_QID_SIZE, p9_op_mkdir },
	{ P9_TSYMLINK, P9_QID_SIZE, p9_op_symlink },
	{ P9_TMKNOD, P9_QID_SIZE, p9_op_mknod },
	{ P9_TLINK, 0, p9_op_link },
	{ P9_TRENAME, 0, p9_op_rename },
	{ P9_TRENAMEAT, 0, p9_op_renameat },
	{ P9_TUNLINKAT, 0, p9_op_unlinkat },
	{ P9_TREMOVE, 0, p9_op_remove },
	{ P9_TREADLINK, 2, p9_op_readlink },
};

static const struct p9_op *p9_op_find(uint8_t type)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(p9_ops); i++)
		if (p9_ops[i].type == type)
			return &p9_ops[i];
	return NULL;
}

size_t p9_server_handle(struct p9_server *s, const uint8_t *req, size_t req_len, uint8_t *resp,
			size_t resp_cap)
{
	struct p9_out out = { .buf = resp, .pos = P9_HDR_SIZE };
	struct p9_in in = { .buf = req, .pos = P9_HDR_SIZE };
	const struct p9_op *op = NULL;
	uint16_t tag = P9_NOTAG;
	uint8_t type = 0;
	uint32_t size = 0;
	int err;

	if (resp_cap < P9_HDR_SIZE + 4)
		return 0;
	out.cap = resp_cap;
	if (req_len >= P9_HDR_SIZE) {
		size = (uint32_t)req[0] | (uint32_t)req[1] << 8 | (uint32_t)req[2] << 16 |
		       (uint32_t)req[3] << 24;
		type = req[4];
		tag = (uint16_t)(req[5] | req[6] << 8);
		op = p9_op_find(type);
	}
	/* no R-message larger than the agreed msize (Rversion is tiny anyway) */
	if (type != P9_TVERSION && out.cap > s->msize)
		out.cap = s->msize;
	if (req_len < P9_HDR_SIZE || size < P9_HDR_SIZE || size > req_len)
		err = EPROTO;
	else if (size > s->msize)
		err = EMSGSIZE;
	else if (!op)
		err = EOPNOTSUPP;
	else if (out.cap - P9_HDR_SIZE < op->rsize)
		err = EMSGSIZE;
	else {
		in.len = size;
		err = op->fn(s, &in, &out);
		if (!err && out.full)
			err = EMSGSIZE;
	}
	if (err) {
		out.pos = P9_HDR_SIZE;
		out.full = false;
		out_u32(&out, (uint32_t)err);
		type = P9_TLERROR;
	}
	resp[0] = (uint8_t)out.pos;
	resp[1] = (uint8_t)(out.pos >> 8);
	resp[2] = (uint8_t)(out.pos >> 16);
	resp[3] = (uint8_t)(out.pos >> 24);
	resp[4] = type + 1;
	resp[5] = (uint8_t)tag;
	resp[6] = (uint8_t)(tag >> 8);
	return out.pos;
}
