// SPDX-License-Identifier: GPL-2.0
/*
 * What every virtio device shares, whatever its transport: feature and
 * status handling, the per-queue byte-order rules, the device thread, and
 * DEVICE_NEEDS_RESET for guests that break the protocol.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "thread.h"
#include "vcpu.h"
#include "virtio.h"

/* a guest that keeps breaking the device must not flood the log */
#define VIRTIO_ERRORS_LOGGED_MAX 10

#define VIRTIO_RING_BITS                                                                 \
	((1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_RING_F_EVENT_IDX))

const char *virtio_rule_name(enum virtio_endian_rule rule)
{
	switch (rule) {
	case VIRTIO_RULE_VERSION_1:
		return "VIRTIO_F_VERSION_1";
	case VIRTIO_RULE_GUEST_BIT:
		return "guest-acked-bit";
	case VIRTIO_RULE_VCPU:
		return "vcpu-at-reset";
	case VIRTIO_RULE_FORCED:
		return "forced";
	default:
		return "none";
	}
}

enum vq_endian virtio_endian_from_guest(int guest_endian)
{
	return guest_endian == GUEST_BE ? VQ_BE : guest_endian == GUEST_LE ? VQ_LE : 0;
}

static uint64_t virtio_host_features(const struct virtio_dev *vdev)
{
	uint64_t f = vdev->ops->features | VIRTIO_RING_BITS;

	if (vdev->transport == VIRTIO_MMIO_MODERN)
		return f | (1ULL << VIRTIO_F_VERSION_1);
	/* legacy: offer the byte-order bits (never with VERSION_1) */
	if (vdev->offer == VIRTIO_OFFER_BOTH || vdev->offer == VIRTIO_OFFER_LE)
		f |= 1ULL << VIRTIO_RING_F_GUEST_LE;
	if (vdev->offer == VIRTIO_OFFER_BOTH || vdev->offer == VIRTIO_OFFER_BE)
		f |= 1ULL << VIRTIO_RING_F_GUEST_BE;
	return f;
}

/*
 * Waits for kicks: kick_fd (MMIO exits, stop) and the ioeventfds. Returns
 * the queues kicked, each handled once per wake-up however many kicks
 * came: the handlers drain every available buffer.
 */
static uint32_t virtio_dev_wait(struct virtio_dev *vdev)
{
	struct pollfd pfd[1 + VIRTIO_MAX_QUEUES];
	unsigned int n = 0, i, qof[1 + VIRTIO_MAX_QUEUES];
	uint32_t mask = 0;
	uint64_t v;

	pfd[n++] = (struct pollfd){ .fd = vdev->kick_fd, .events = POLLIN };
	for (i = 0; i < vdev->ops->nr_queues; i++) {
		if (vdev->queue_fd[i] < 0 || vdev->ops->polls_queue_fds)
			continue;
		qof[n] = i;
		pfd[n++] = (struct pollfd){ .fd = vdev->queue_fd[i], .events = POLLIN };
	}
	if (n == 1) {
		/* no ioeventfd: block in read, one syscall per wake-up */
		if (read(vdev->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN && errno != EINTR)
			atomic_store(&vdev->stopping, true);
		return atomic_exchange(&vdev->kicked, 0);
	}
	if (poll(pfd, n, -1) < 0)
		return 0;
	if ((pfd[0].revents & POLLIN) && read(vdev->kick_fd, &v, sizeof(v)) == sizeof(v))
		mask |= atomic_exchange(&vdev->kicked, 0);
	for (i = 1; i < n; i++)
		if ((pfd[i].revents & POLLIN) && virtio_dev_queue_fd_read(vdev, qof[i]))
			mask |= 1u << qof[i];
	return mask;
}

bool virtio_dev_queue_fd_read(struct virtio_dev *vdev, unsigned int q)
{
	uint64_t v;

	if (q >= VIRTIO_MAX_QUEUES || vdev->queue_fd[q] < 0 ||
	    read(vdev->queue_fd[q], &v, sizeof(v)) != sizeof(v))
		return false;
	atomic_fetch_add_explicit(&vdev->nr_kicks_ioeventfd, v, memory_order_relaxed);
	return true;
}

static void *virtio_dev_thread(void *arg)
{
	struct virtio_dev *vdev = arg;
	struct timespec ts;

	while (!atomic_load(&vdev->stopping)) {
		uint32_t mask = virtio_dev_wait(vdev);
		unsigned int q;

		if (atomic_load(&vdev->stopping))
			break;
		if (!mask)
			continue;
		pthread_mutex_lock(&vdev->lock);
		for (q = 0; q < vdev->ops->nr_queues; q++)
			if ((mask & (1u << q)) && virtio_dev_live(vdev) && vdev->vqs[q].ready)
				vdev->ops->notify(vdev, q);
		pthread_mutex_unlock(&vdev->lock);
	}
	/* lkvm's own work for this device, whatever the guest's speed (stats) */
	if (!clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		atomic_store(&vdev->thread_cpu_ns, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	return NULL;
}

int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops, void *priv,
		    const struct logger *log, enum virtio_transport transport,
		    enum virtio_endian_offer offer, enum vq_endian force_endian, const char *label)
{
	memset(vdev, 0, sizeof(*vdev));
	vdev->ops = ops;
	vdev->priv = priv;
	vdev->log = log;
	vdev->transport = transport;
	vdev->offer = offer;
	vdev->force_endian = force_endian;
	snprintf(vdev->label, sizeof(vdev->label), "%s", label);
	pthread_mutex_init(&vdev->lock, NULL);
	vdev->host_features = virtio_host_features(vdev);
	vdev->kick_fd = eventfd(0, EFD_CLOEXEC);
	atomic_store(&vdev->thread_cpu_ns, -1);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vdev->queue_fd[q] = -1;
	vdev->scratch = malloc(sizeof(struct vq_elem));
	if (vdev->kick_fd < 0 || !vdev->scratch)
		return -1;
	return 0;
}

int virtio_dev_start(struct virtio_dev *vdev)
{
	if (thread_start(&vdev->thread, virtio_dev_thread, vdev))
		return -1;
	vdev->thread_started = true;
	return 0;
}

void virtio_dev_stop(struct virtio_dev *vdev)
{
	uint64_t one = 1;

	if (!vdev->thread_started)
		return;
	atomic_store(&vdev->stopping, true);
	if (write(vdev->kick_fd, &one, sizeof(one)) < 0) {
		/* the counter is non-zero already: the thread wakes anyway */
	}
	pthread_join(vdev->thread, NULL);
	vdev->thread_started = false;
}

void virtio_dev_exit(struct virtio_dev *vdev)
{
	virtio_dev_stop(vdev);
	if (vdev->kick_fd >= 0)
		close(vdev->kick_fd);
	vdev->kick_fd = -1;
	free(vdev->scratch);
	vdev->scratch = NULL;
	pthread_mutex_destroy(&vdev->lock);
}

void virtio_dev_kick(struct virtio_dev *vdev, unsigned int q)
{
	uint64_t one = 1;

	if (q >= vdev->ops->nr_queues)
		return;
	atomic_fetch_or(&vdev->kicked, 1u << q);
	if (write(vdev->kick_fd, &one, sizeof(one)) < 0) {
		/* saturated counter: a wake-up is pending */
	}
}

uint64_t virtio_dev_nr_used(const struct virtio_dev *vdev)
{
	uint64_t n = 0;
	unsigned int q;

	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		n += vdev->vqs[q].nr_used;
	return n;
}

bool virtio_dev_live(const struct virtio_dev *vdev)
{
	return (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(vdev->status & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED));
}

void virtio_dev_reset(struct virtio_dev *vdev, enum vq_endian vcpu_endian)
{
	unsigned int q;

	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vq_reset(&vdev->vqs[q]);
		vdev->vq_rule[q] = VIRTIO_RULE_NONE;
	}
	vdev->status = 0;
	vdev->guest_features = 0;
	/* 2.7 legacy: the vCPU that resets the device tells its byte order */
	if (vcpu_endian)
		vdev->reset_endian = vcpu_endian;
	atomic_store(&vdev->kicked, 0);
}

void virtio_dev_set_status(struct virtio_dev *vdev, uint8_t status, enum vq_endian vcpu_endian)
{
	if (!status) {
		virtio_dev_reset(vdev, vcpu_endian);
		return;
	}
	if ((status & VIRTIO_CONFIG_S_FEATURES_OK) && !(vdev->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		uint64_t gf = vdev->guest_features;
		uint64_t both = (1ULL << VIRTIO_RING_F_GUEST_LE) | (1ULL << VIRTIO_RING_F_GUEST_BE);

		/* 3.1.1: refuse features we did not offer, or both byte orders */
		if ((gf & ~vdev->host_features) || (gf & both) == both ||
		    (vdev->transport == VIRTIO_MMIO_MODERN && !(gf & (1ULL << VIRTIO_F_VERSION_1))))
			status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	/* NEEDS_RESET is the device's to set; the driver cannot clear it */
	vdev->status = (status & ~VIRTIO_CONFIG_S_NEEDS_RESET) |
		       (vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

enum vq_endian virtio_dev_ring_endian(struct virtio_dev *vdev, enum vq_endian vcpu_endian,
				      enum virtio_endian_rule *rule)
{
	bool le = virtio_has_feature(vdev, VIRTIO_RING_F_GUEST_LE);
	bool be = virtio_has_feature(vdev, VIRTIO_RING_F_GUEST_BE);

	if (vdev->force_endian) {
		*rule = VIRTIO_RULE_FORCED;
		return vdev->force_endian;
	}
	/* a modern transport is LE from the start (4.2.2), not only once VERSION_1 is acked */
	if (vdev->transport == VIRTIO_MMIO_MODERN || virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		*rule = VIRTIO_RULE_VERSION_1;
		return VQ_LE;
	}
	*rule = VIRTIO_RULE_GUEST_BIT;
	if (le && be)
		return 0;
	if (be)
		return VQ_BE;
	if (le)
		return VQ_LE;
	*rule = VIRTIO_RULE_VCPU;
	return vdev->reset_endian ? vdev->reset_endian : vcpu_endian;
}

enum vq_endian virtio_dev_config_endian(struct virtio_dev *vdev, enum vq_endian vcpu_endian)
{
	enum virtio_endian_rule rule;
	enum vq_endian e = virtio_dev_ring_endian(vdev, vcpu_endian, &rule);

	/* both bits acked: config order is moot, the queues will refuse */
	return e ? e : VQ_LE;
}

bool virtio_dev_activate_queue(struct virtio_dev *vdev, unsigned int q, const struct guest_mem *mem,
			       uint16_t num, uint64_t desc, uint64_t avail, uint64_t used,
			       enum vq_endian vcpu_endian)
{
	struct virtqueue *vq = &vdev->vqs[q];
	enum virtio_endian_rule rule;
	enum vq_endian e = virtio_dev_ring_endian(vdev, vcpu_endian, &rule);

	if (!e) {
		virtio_dev_needs_reset(vdev, "guest acked both VIRTIO_RING_F_GUEST_LE and _BE");
		return false;
	}
	if (!vq_activate(vq, mem, e, num, desc, avail, used,
			 virtio_has_feature(vdev, VIRTIO_RING_F_EVENT_IDX),
			 virtio_has_feature(vdev, VIRTIO_RING_F_INDIRECT_DESC))) {
		virtio_dev_needs_reset(vdev, vq->why);
		return false;
	}
	vdev->vq_rule[q] = rule;
	log_debug(vdev->log, "%s: queue %u: %u entries, %s-endian (rule: %s)", vdev->label, q, num,
		  e == VQ_BE ? "big" : "little", virtio_rule_name(rule));
	return true;
}

void virtio_dev_signal(struct virtio_dev *vdev, struct virtqueue *vq)
{
	if (vq_should_signal(vq))
		vdev->trans->interrupt(vdev, 1u /* VIRTIO_MMIO_INT_VRING */);
}

void virtio_dev_config_changed(struct virtio_dev *vdev)
{
	vdev->config_generation++;
	vdev->trans->interrupt(vdev, 2u /* VIRTIO_MMIO_INT_CONFIG */);
}

void virtio_dev_needs_reset(struct virtio_dev *vdev, const char *why)
{
	/* one line per episode (the flag stays until the guest resets us), capped */
	if (vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	if (vdev->errors_logged < VIRTIO_ERRORS_LOGGED_MAX)
		log_err(vdev->log, "%s: guest error: %s; device needs reset", vdev->label, why);
	else if (vdev->errors_logged == VIRTIO_ERRORS_LOGGED_MAX)
		log_err(vdev->log, "%s: more guest errors; no longer logged", vdev->label);
	vdev->errors_logged++;
	vdev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	virtio_dev_config_changed(vdev);
}
