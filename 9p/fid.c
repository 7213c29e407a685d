// SPDX-License-Identifier: GPL-2.0
/* The fid table: a bounded hash of fid numbers to paths and open files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fid.h"

static unsigned int fid_hash(uint32_t id)
{
	return (id * 2654435761u) >> 22; /* the top 10 bits: FID_BUCKETS */
}

struct p9_fid *fid_get(struct fid_table *t, uint32_t id)
{
	struct p9_fid *f;

	for (f = t->bucket[fid_hash(id)]; f; f = f->next)
		if (f->id == id)
			return f;
	return NULL;
}

int fid_add(struct fid_table *t, uint32_t id, const char *path, uint32_t uid,
	    struct p9_fid **out)
{
	unsigned int h = fid_hash(id);
	struct p9_fid *f;

	if (fid_get(t, id))
		return EEXIST;
	if (t->count >= FID_MAX)
		return ENFILE;
	f = calloc(1, sizeof(*f));
	if (!f)
		return ENOMEM;
	f->path = strdup(path);
	if (!f->path) {
		free(f);
		return ENOMEM;
	}
	f->id = id;
	f->uid = uid;
	f->fd = -1;
	f->next = t->bucket[h];
	t->bucket[h] = f;
	t->count++;
	if (out)
		*out = f;
	return 0;
}

void fid_close(struct p9_fid *f)
{
	if (f->dir)
		closedir(f->dir);
	f->dir = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->oflags = 0;
	f->is_dir = false;
}

static void fid_free(struct p9_fid *f)
{
	fid_close(f);
	free(f->path);
	free(f);
}

int fid_del(struct fid_table *t, uint32_t id)
{
	struct p9_fid **pp, *f;

	for (pp = &t->bucket[fid_hash(id)]; (f = *pp); pp = &f->next) {
		if (f->id == id) {
			*pp = f->next;
			t->count--;
			fid_free(f);
			return 0;
		}
	}
	return EBADF;
}

void fid_clear(struct fid_table *t)
{
	unsigned int i;
	struct p9_fid *f;

	for (i = 0; i < FID_BUCKETS; i++) {
		while ((f = t->bucket[i])) {
			t->bucket[i] = f->next;
			fid_free(f);
		}
	}
	t->count = 0;
}

void fid_set_path(struct p9_fid *f, char *path)
{
	free(f->path);
	f->path = path;
}

void fid_renamed(struct fid_table *t, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to);
	unsigned int i;
	struct p9_fid *f;

	for (i = 0; i < FID_BUCKETS; i++) {
		for (f = t->bucket[i]; f; f = f->next) {
			size_t plen = strlen(f->path);
			char *np;

			if (strncmp(f->path, from, flen) || (f->path[flen] && f->path[flen] != '/'))
				continue;
			np = malloc(tlen + plen - flen + 1);
			if (!np)
				continue; /* it keeps the old path: later uses fail, safely */
			memcpy(np, to, tlen);
			memcpy(np + tlen, f->path + flen, plen - flen + 1);
			fid_set_path(f, np);
		}
	}
}
