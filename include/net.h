/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_NET_H
#define LKVM_NET_H

/*
 * Network backends (net/) behind one ops table: user (libslirp), tap and
 * none. They know nothing of virtio or KVM: a backend takes frames from the
 * guest through send() and hands frames for the guest to its sink, with the
 * frame's offload header in host byte order (struct net_hdr). The NIC
 * thread of virtio/net.c drives a backend's file descriptors through
 * poll_fill()/poll_done(); every call into a backend comes from that thread.
 */

#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "err.h"
#include "log.h"

/* the largest frame either way: a 64 KiB GSO packet, its Ethernet and VLAN headers */
#define NET_MAX_FRAME (65536 + 14 + 4)
#define NET_MIN_FRAME 14 /* an Ethernet header */
#define NET_MTU 1500
#define NET_IFNAME_MAX 16 /* IFNAMSIZ, with its NUL */
#define NET_MAX_HOSTFWD 16

enum net_mode {
	NET_MODE_USER = 0, /* the default: libslirp */
	NET_MODE_TAP,
	NET_MODE_NONE,
};

struct net_hostfwd {
	bool udp;
	struct in_addr host_addr; /* default 127.0.0.1 */
	uint16_t host_port;
	struct in_addr guest_addr; /* default: the DHCP address, 10.0.2.15 */
	uint16_t guest_port;
};

/* -n mode=user|tap|none[,guest_mac=MAC][,tapif=NAME][,host_ip=ADDR[/LEN]][,hostfwd=RULE]... */
struct net_opts {
	enum net_mode mode;
	bool mac_set;
	uint8_t guest_mac[6];
	char tapif[NET_IFNAME_MAX]; /* "" : the kernel names it (lkvm%d) */
	bool host_ip_set;
	struct in_addr host_ip;
	unsigned int host_prefix;
	struct net_hostfwd fwd[NET_MAX_HOSTFWD];
	unsigned int nr_fwd;
};

/* Parses one -n SPEC; errors name the spec ("-n SPEC: ..."). */
int net_parse_spec(const char *spec, struct net_opts *o, struct lkvm_err *e);
/* "tcp:[HOSTADDR:]HOSTPORT-[GUESTADDR]:GUESTPORT" (or udp:) */
int net_parse_hostfwd(const char *s, struct net_hostfwd *f);
const char *net_mode_name(enum net_mode mode);

/* The virtio-net header (virtio 1.2, 5.1.6) without num_buffers, in host order. */
struct net_hdr {
	uint8_t flags;    /* VIRTIO_NET_HDR_F_NEEDS_CSUM / _DATA_VALID */
	uint8_t gso_type; /* VIRTIO_NET_HDR_GSO_NONE / _TCPV4 / _TCPV6 (| _ECN) */
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* Offloads, one set of bits for both directions. */
#define NET_OFF_CSUM (1u << 0) /* partial checksums (NEEDS_CSUM) / DATA_VALID */
#define NET_OFF_TSO4 (1u << 1)
#define NET_OFF_TSO6 (1u << 2)
#define NET_OFF_ECN (1u << 3)

/* Where a backend puts frames for the guest (the NIC; vdev->lock held). */
struct net_sink {
	/* Takes one frame (copies it); returns true while the NIC has room for more now. */
	bool (*frame)(void *opaque, const struct net_hdr *hdr, const void *data, size_t len);
	void *opaque;
};

/* The file descriptors of one poll() round; the NIC owns index 0 (its wake eventfd). */
struct net_pollset {
	struct pollfd *fds;
	unsigned int n, cap;
};

/* Adds fd (events: POLLIN/POLLOUT/POLLPRI); returns its index, -1 when out of memory. */
int net_pollset_add(struct net_pollset *ps, int fd, short events);
void net_pollset_free(struct net_pollset *ps);

struct net_backend;

struct net_backend_ops {
	const char *name; /* "user" */
	/* Sets up the backend from o; fills nb->priv, tx/rx_offloads, link_up. */
	int (*open)(struct net_backend *nb, const struct net_opts *o, struct lkvm_err *e);
	void (*close)(struct net_backend *nb);
	/*
	 * One frame from the guest: len bytes in iov (guest RAM, which the guest
	 * may change under us), hdr validated against tx_offloads. 0, or -1 if
	 * the frame was dropped. Never blocks.
	 */
	int (*send)(struct net_backend *nb, const struct net_hdr *hdr, const struct iovec *iov,
		    unsigned int n, size_t len);
	/* What the guest accepts in frames it receives (a subset of rx_offloads); optional. */
	int (*set_rx_offloads)(struct net_backend *nb, uint32_t offloads);
	/*
	 * Before poll(): adds the backend's fds; want_rx is false while the NIC
	 * has no room (the backend then leaves its input where it is); lowers
	 * *timeout_ms (-1: none) for the backend's timers. Optional.
	 */
	void (*poll_fill)(struct net_backend *nb, struct net_pollset *ps, bool want_rx,
			  int *timeout_ms);
	/* After poll() (vdev->lock held): reads what is ready, runs due timers. Optional. */
	void (*poll_done)(struct net_backend *nb, struct net_pollset *ps);
};

struct net_backend {
	const struct net_backend_ops *ops;
	const struct logger *log;
	struct net_sink sink;
	void *priv;
	uint32_t tx_offloads; /* what send() takes */
	uint32_t rx_offloads; /* what the backend can hand to a guest that wants it */
	bool link_up;
	unsigned int guest_errors; /* rate limit for its log lines */
};

extern const struct net_backend_ops net_user_ops;
extern const struct net_backend_ops net_tap_ops;
extern const struct net_backend_ops net_none_ops;
/* true when this build has libslirp (user-mode networking) */
extern const bool net_have_user;

const struct net_backend_ops *net_backend_ops(enum net_mode mode);

/*
 * Completes a partial checksum in place (VIRTIO_NET_HDR_F_NEEDS_CSUM: the
 * ones' complement sum from csum_start to the end, stored at csum_start +
 * csum_offset). false if the offsets do not fit the frame.
 */
bool net_csum_complete(uint8_t *frame, size_t len, const struct net_hdr *hdr);

/* What a NIC counted: frames that made it, and frames dropped (never buffered without bound). */
struct net_stats {
	uint64_t tx_frames, tx_bytes, tx_dropped;
	uint64_t rx_frames, rx_bytes, rx_dropped;
};

/* The virtio-net device (virtio/net.c). */
struct vm;
struct virtio_mmio_dev;
/* -n SPEC for NIC number index (its default MAC is 52:54:00:12:34:56 + index) */
int virtio_net_add(struct vm *vm, const char *spec, unsigned int index, struct lkvm_err *e);
/* The same with the backend given (tests bring their own) */
int virtio_net_add_backend(struct vm *vm, const struct net_backend_ops *ops,
			   const struct net_opts *o, unsigned int index, struct lkvm_err *e);
void virtio_net_get_stats(struct virtio_mmio_dev *dev, struct net_stats *s);

/*
 * Software TSO for a backend that wants plain frames: splits a TCPv4 frame
 * of gso_type VIRTIO_NET_HDR_GSO_TCPV4 into frames of at most gso_size bytes
 * of payload, each with its own IP id, TCP sequence number, flags and full
 * IP and TCP checksums, built in seg (NET_MAX_FRAME bytes) and passed to
 * emit. Returns how many, or -1 (nothing emitted) if the frame is not TCPv4
 * or gso_size is below NET_TSO_MIN_MSS.
 */
#define NET_TSO_MIN_MSS 64
int net_tso4_segment(const uint8_t *frame, size_t len, const struct net_hdr *hdr, uint8_t *seg,
		     void (*emit)(void *opaque, const uint8_t *f, size_t len), void *opaque);

/*
 * Frames waiting for the guest's receive buffers: a byte ring of fixed size,
 * so a guest that stops reading costs a bounded amount of memory (the NIC
 * drops and counts what does not fit).
 */
struct net_rxq {
	uint8_t *buf;
	size_t size;
	size_t head, tail; /* read and write offsets */
	size_t wrap;       /* where the records before a wrap end; SIZE_MAX: none */
	size_t bytes;      /* space taken, including the tail skipped at a wrap */
	unsigned int count;
};

int net_rxq_init(struct net_rxq *q, size_t size);
void net_rxq_free(struct net_rxq *q);
void net_rxq_clear(struct net_rxq *q);
/* false (nothing stored) if the frame does not fit now */
bool net_rxq_push(struct net_rxq *q, const struct net_hdr *hdr, const void *data, size_t len);
/* The oldest frame, false when empty; stays queued until net_rxq_pop(). */
bool net_rxq_peek(const struct net_rxq *q, struct net_hdr *hdr, const uint8_t **data,
		  size_t *len);
void net_rxq_pop(struct net_rxq *q);
/* Can a frame of len bytes be pushed now? */
bool net_rxq_room(const struct net_rxq *q, size_t len);

#endif
