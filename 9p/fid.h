/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_9P_FID_H
#define LKVM_9P_FID_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The fid table of one server: a hash of the guest's fid numbers, bounded
 * to FID_MAX entries (one more is ENFILE). A fid names a path relative to
 * the share root ("." is the root, else "a/b", never with "." or ".."
 * components), resolved beneath the root at each use; once opened it also
 * holds the fd, and for a directory the readdir stream.
 */
#define FID_MAX 65536u
#define FID_BUCKETS 1024u

struct p9_fid {
	uint32_t id;
	uint32_t uid;  /* the attach's n_uname: owner of what this fid creates */
	char *path;
	int fd;        /* -1 until Tlopen/Tlcreate */
	int oflags;    /* host open flags of fd */
	bool is_dir;   /* fd is a directory */
	DIR *dir;      /* readdir stream on a dup of fd, made on first Treaddir */
	struct p9_fid *next;
};

struct fid_table {
	struct p9_fid *bucket[FID_BUCKETS];
	unsigned int count;
};

struct p9_fid *fid_get(struct fid_table *t, uint32_t id);
/* Adds fid id naming path (copied). Returns 0 or EEXIST, ENFILE, ENOMEM. */
int fid_add(struct fid_table *t, uint32_t id, const char *path, uint32_t uid,
	    struct p9_fid **out);
/* Removes fid id, closing what it holds. Returns 0 or EBADF. */
int fid_del(struct fid_table *t, uint32_t id);
/* Removes every fid. */
void fid_clear(struct fid_table *t);
/* Closes the fid's fd and readdir stream (it stays in the table). */
void fid_close(struct p9_fid *f);
/* Hands the fid the path (which it takes over) instead of its own. */
void fid_set_path(struct p9_fid *f, char *path);
/* After a rename of from to to: every fid at from or beneath follows it. */
void fid_renamed(struct fid_table *t, const char *from, const char *to);

#endif
