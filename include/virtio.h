/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_VIRTIO_H
#define LKVM_VIRTIO_H

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "virtqueue.h"

/*
 * Not in Debian's uapi headers: lkvm's legacy-transport bits by which the
 * driver says the byte order of its rings and config (guest/linux patch).
 */
#ifndef VIRTIO_RING_F_GUEST_LE
#define VIRTIO_RING_F_GUEST_LE 44
#define VIRTIO_RING_F_GUEST_BE 45
#endif

#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_CONFIG_MAX 256

struct vcpu;
struct virtio_dev;

/* Which transport registers the guest sees (--virtio-transport). */
enum virtio_transport {
	VIRTIO_MMIO_MODERN = 0, /* version 2, VIRTIO_F_VERSION_1, LE */
	VIRTIO_MMIO_LEGACY,     /* version 1, guest byte order */
};

/* Which of VIRTIO_RING_F_GUEST_LE/BE a legacy transport offers. */
enum virtio_endian_offer {
	VIRTIO_OFFER_BOTH = 0,
	VIRTIO_OFFER_LE,
	VIRTIO_OFFER_BE,
	VIRTIO_OFFER_NONE,
};

/* The rule that fixed a queue's byte order (logged, and checked by tests). */
enum virtio_endian_rule {
	VIRTIO_RULE_NONE = 0,
	VIRTIO_RULE_VERSION_1,
	VIRTIO_RULE_GUEST_BIT,
	VIRTIO_RULE_VCPU,
	VIRTIO_RULE_FORCED,
};

/* What a device model provides; the transport does the rest. */
struct virtio_dev_ops {
	const char *name;   /* "virtio-blk" */
	uint32_t device_id; /* VIRTIO_ID_* */
	unsigned int nr_queues;
	uint16_t queue_max;
	uint32_t config_size;
	/*
	 * The device has a thread of its own that polls vdev->queue_fd[] (and
	 * drains them with virtio_dev_queue_fd_read): the shared device thread
	 * leaves them alone, so a kick wakes that thread directly.
	 */
	bool polls_queue_fds;
	/* device feature bits (the transport adds ring and version bits) */
	uint64_t features;
	/* config space as the guest sees it, in byte order endian */
	void (*config_encode)(struct virtio_dev *vdev, enum vq_endian endian, uint8_t *buf);
	/* the guest wrote [off, off+len) of buf (already merged); optional */
	void (*config_write)(struct virtio_dev *vdev, enum vq_endian endian, const uint8_t *buf,
			     uint32_t off, uint32_t len);
	/* the guest kicked queue q; runs on the device thread, vdev->lock held */
	void (*notify)(struct virtio_dev *vdev, unsigned int q);
	/* device reset: drop per-session state; vdev->lock held, queues stopped */
	void (*reset)(struct virtio_dev *vdev);
};

/* How a device reaches its transport (interrupts). */
struct virtio_trans_ops {
	void (*interrupt)(struct virtio_dev *vdev, uint32_t isr_bits);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;
	const struct logger *log;
	char label[48]; /* "virtio-blk@0xa000000", for the log */

	const struct virtio_trans_ops *trans;
	void *trans_priv;
	enum virtio_transport transport;
	enum virtio_endian_offer offer;
	enum vq_endian force_endian; /* 0: none; debug override */

	pthread_mutex_t lock; /* status, features, queues, config */
	uint64_t host_features;
	uint64_t guest_features;
	uint8_t status;
	enum vq_endian reset_endian; /* vCPU sample at the last Status=0 */
	struct virtqueue vqs[VIRTIO_MAX_QUEUES];
	enum virtio_endian_rule vq_rule[VIRTIO_MAX_QUEUES];
	uint32_t config_generation;
	unsigned int errors_logged; /* guest errors logged, capped */

	/*
	 * Device thread: woken by kick_fd (a bitmask of queues in kicked: kicks
	 * that came as MMIO exits, and stop) or by queue_fd[q], an eventfd the
	 * transport bound to QueueNotify with KVM_IOEVENTFD (-1: none).
	 */
	pthread_t thread;
	bool thread_started;
	int kick_fd;
	int queue_fd[VIRTIO_MAX_QUEUES];
	_Atomic uint32_t kicked;
	_Atomic bool stopping;
	void *scratch; /* one struct vq_elem for the device thread */

	/* counters for --loglevel info at exit (relaxed; read after stop) */
	_Atomic uint64_t nr_kicks_exit;      /* QueueNotify by MMIO exit */
	_Atomic uint64_t nr_kicks_ioeventfd; /* QueueNotify by ioeventfd */
	/* CPU time of the shared device thread, set as it ends (-1: none ran) */
	_Atomic int64_t thread_cpu_ns;
};

int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops, void *priv,
		    const struct logger *log, enum virtio_transport transport,
		    enum virtio_endian_offer offer, enum vq_endian force_endian, const char *label);
int virtio_dev_start(struct virtio_dev *vdev);
/* Stops and joins the device thread; after it no guest memory is touched. */
void virtio_dev_stop(struct virtio_dev *vdev);
void virtio_dev_exit(struct virtio_dev *vdev);

/* Transport side (vdev->lock held unless stated). */
void virtio_dev_reset(struct virtio_dev *vdev, enum vq_endian vcpu_endian);
void virtio_dev_set_status(struct virtio_dev *vdev, uint8_t status, enum vq_endian vcpu_endian);
/* Fixes a queue's byte order by the rules; 0 if it cannot be (both bits acked). */
enum vq_endian virtio_dev_ring_endian(struct virtio_dev *vdev, enum vq_endian vcpu_endian,
				      enum virtio_endian_rule *rule);
enum vq_endian virtio_dev_config_endian(struct virtio_dev *vdev, enum vq_endian vcpu_endian);
bool virtio_dev_activate_queue(struct virtio_dev *vdev, unsigned int q, const struct guest_mem *mem,
			       uint16_t num, uint64_t desc, uint64_t avail, uint64_t used,
			       enum vq_endian vcpu_endian);
/* Lock-free: wakes the device thread for queue q. */
void virtio_dev_kick(struct virtio_dev *vdev, unsigned int q);
/* Drains queue q's ioeventfd after poll() said POLLIN; true if it was kicked. */
bool virtio_dev_queue_fd_read(struct virtio_dev *vdev, unsigned int q);
/* Chains returned to the guest on all queues, ever. */
uint64_t virtio_dev_nr_used(const struct virtio_dev *vdev);

/* Device side. */
void virtio_dev_signal(struct virtio_dev *vdev, struct virtqueue *vq);
void virtio_dev_config_changed(struct virtio_dev *vdev);
/* The guest broke a ring or protocol: DEVICE_NEEDS_RESET + config irq, one log line. */
void virtio_dev_needs_reset(struct virtio_dev *vdev, const char *why);
bool virtio_dev_live(const struct virtio_dev *vdev);
static inline bool virtio_has_feature(const struct virtio_dev *vdev, unsigned int bit)
{
	return vdev->guest_features & (1ULL << bit);
}

const char *virtio_rule_name(enum virtio_endian_rule rule);
enum vq_endian virtio_endian_from_guest(int guest_endian);

#endif
