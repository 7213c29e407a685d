/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers for the qcow2 tests: qemu-img/qemu-io, files, big-endian patches. */
#ifndef LKVM_TEST_QCOW2_UTIL_H
#define LKVM_TEST_QCOW2_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk.h"

/* Fails the test, saying to install qemu-utils, when qemu-img or qemu-io is missing. */
bool q2t_need_qemu(void);
/* Runs "sh -c CMD 2>&1"; out (may be NULL) gets the output; the exit status, -1 on error. */
int q2t_sh(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A fresh directory under build/; q2t_rmdir removes it and frees the name. */
char *q2t_mkdir(void);
void q2t_rmdir(char *dir);

uint8_t *q2t_read_file(const char *path, size_t *len);
bool q2t_write_file(const char *path, const void *buf, size_t len);
uint64_t q2t_file_size(const char *path);
uint64_t q2t_get_be64(const char *path, uint64_t off);
uint32_t q2t_get_be32(const char *path, uint64_t off);
bool q2t_put_be64(const char *path, uint64_t off, uint64_t v);
bool q2t_put_be32(const char *path, uint64_t off, uint32_t v);
uint16_t q2t_get_be16(const char *path, uint64_t off);
bool q2t_put_be16(const char *path, uint64_t off, uint16_t v);
/* Where the 16-bit refcount of the cluster at off is (qemu-img's default refcount_bits). */
uint64_t q2t_rc16_at(const char *path, uint64_t off);

/* Sends stderr to path (what lkvm logs, to look at); the old stderr for q2t_stderr_back. */
int q2t_stderr_to(const char *path);
void q2t_stderr_back(int saved);

/* The whole virtual disk through d's ops, in odd-sized iovecs. */
bool q2t_read_disk(struct disk *d, uint8_t *buf, uint64_t len);
/* qemu-img convert -O raw; the raw contents (malloc'd), NULL on failure */
uint8_t *q2t_to_raw(const char *img, const char *dir, size_t *len);
/* qemu-img check: its exit status (0 clean, 2 corrupt, 3 leaks); out gets the text */
int q2t_check(const char *img, char *out, size_t size);

/* xorshift64* */
uint64_t q2t_rand(uint64_t *s);

#endif
