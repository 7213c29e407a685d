/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_9P_SERVER_H
#define LKVM_9P_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fid.h"
#include "p9.h"
#include "wire.h"

struct p9_server {
	int root_fd;   /* O_PATH|O_DIRECTORY: every resolution starts here */
	dev_t root_dev;
	bool ro;
	bool keep_setid;   /* P9_SHARE_SETID */
	bool guest_owners; /* P9_SHARE_OWNERS */
	uint32_t msize;
	struct fid_table fids;
};

/*
 * An op parses its T-message body from in, writes its R-message body to out
 * (the header is the dispatcher's) and returns 0, or a positive Linux errno
 * for an Rlerror.
 */
typedef int p9_op_fn(struct p9_server *s, struct p9_in *in, struct p9_out *out);

/* confine.c: every path the guest names is resolved here */

/* A guest name as one path component (copied to buf, NUL-terminated): 0 or an errno. */
int p9_name(struct p9_str name, char buf[NAME_MAX + 1]);
/* dir + "/" + name (name alone when dir is "."), in a new string: 0 or an errno. */
int p9_join(const char *dir, const char *name, char **out);
/*
 * openat2(root, rel, flags, mode) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS
 * (plus O_CLOEXEC): an fd, or -errno. An escape (EXDEV) comes back as -EACCES.
 */
int p9_open(const struct p9_server *s, const char *rel, int flags, mode_t mode);
/* rel as a directory (following a final symlink, beneath): O_PATH fd or -errno. */
int p9_open_dir(const struct p9_server *s, const char *rel);
/*
 * The directory holding rel's last component (O_PATH fd, or -errno; -EBUSY
 * for the root itself) and that component (a pointer into rel).
 */
int p9_open_parent(const struct p9_server *s, const char *rel, const char **name);
/* Opens the very inode of fd (O_PATH or not) again with flags: fd or -errno. */
int p9_reopen(int fd, int flags);
/* chmod of the inode of fd (O_PATH or not; never a symlink): 0 or an errno. */
int p9_chmod_fd(int fd, mode_t mode);
/* The permission bits a guest may give a host file: set-id bits only with SETID. */
mode_t p9_guest_mode(const struct p9_server *s, uint32_t mode);
/* The owner to give (fchown's -1: leave lkvm's) for a guest's uid and gid. */
uid_t p9_guest_uid(const struct p9_server *s, uint32_t uid);
gid_t p9_guest_gid(const struct p9_server *s, uint32_t gid);
void p9_qid(const struct p9_server *s, const struct stat *st, struct p9_qid *q);
/* errno, never 0 (for the rare call that fails without setting it) */
int p9_errno(void);

/* ops_file.c */
p9_op_fn p9_op_lopen, p9_op_lcreate, p9_op_read, p9_op_write, p9_op_fsync, p9_op_readdir,
	p9_op_statfs, p9_op_getattr, p9_op_setattr, p9_op_lock, p9_op_getlock;
/* ops_dir.c */
p9_op_fn p9_op_mkdir, p9_op_symlink, p9_op_mknod, p9_op_link, p9_op_rename, p9_op_renameat,
	p9_op_unlinkat, p9_op_remove, p9_op_readlink;

#endif
