/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_FILE_H
#define LKVM_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * Reads a whole regular file of at most max bytes into a new buffer.
 * what names it in errors ("kernel", "initrd").
 */
int file_read_all(const char *path, const char *what, size_t max, uint8_t **out, size_t *len,
		  struct lkvm_err *e);
/* Writes buf to path through a temporary file and rename(): all or nothing. */
int file_write_atomic(const char *path, const void *buf, size_t len, struct lkvm_err *e);
/* Inflates gzip data into a new buffer of at most max bytes. */
int file_gunzip(const uint8_t *in, size_t in_len, size_t max, uint8_t **out, size_t *out_len,
		struct lkvm_err *e);

static inline int file_is_gzip(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

#endif
