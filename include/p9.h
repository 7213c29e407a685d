/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_P9_H
#define LKVM_P9_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * A 9P2000.L file server for one shared host directory. It knows nothing
 * of virtio: it takes one T-message and writes the R-message. Messages are
 * 9P's little-endian wire format on any host. Every path it touches is
 * resolved beneath the share's directory (openat2 RESOLVE_BENEATH), so no
 * sequence of messages reaches outside it.
 */
struct p9_server;

#define P9_HDR_SIZE 7           /* size[4] type[1] tag[2] */
#define P9_MSIZE_MAX (512 * 1024) /* largest msize the server agrees to */

/* p9_server_create's flags */
#define P9_SHARE_RO 1u     /* every change refused (EROFS) */
/*
 * By default a guest cannot make a host file set-user/group-ID: the bits
 * are dropped on create, mkdir, mknod and chmod (a share must not become a
 * way to plant setuid binaries for the host). SETID keeps them (a trusted
 * share, e.g. a guest's root with su/sudo).
 */
#define P9_SHARE_SETID 2u
/*
 * By default new entries belong to lkvm's user and a guest chown is ignored
 * (QEMU's security_model=none does the same). OWNERS honours the guest's
 * uids and gids; only when lkvm runs as root (else it is refused).
 */
#define P9_SHARE_OWNERS 4u

int p9_server_create(struct p9_server **out, const char *dir, unsigned int flags,
		     struct lkvm_err *e);
void p9_server_destroy(struct p9_server *s);
/* Forgets every fid (virtio device reset, or a new Tversion). */
void p9_server_reset(struct p9_server *s);
/* The msize agreed by the last Tversion (P9_MSIZE_MAX before any). */
uint32_t p9_server_msize(const struct p9_server *s);

/*
 * Handles the T-message req[0..req_len) and builds its R-message (an
 * Rlerror with a Linux errno on any failure, malformed input included) in
 * resp[0..resp_cap). Returns the R-message length, 0 only if resp_cap <
 * P9_HDR_SIZE + 4 (no room for even an Rlerror). Never reads or writes
 * outside the two buffers, whatever the guest sent.
 */
size_t p9_server_handle(struct p9_server *s, const uint8_t *req, size_t req_len, uint8_t *resp,
			size_t resp_cap);

#endif
