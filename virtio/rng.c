// SPDX-License-Identifier: GPL-2.0
/* virtio-rng / entropy device (virtio 1.2, 5.4), fed by getrandom(2). */
#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <sys/random.h>

#include "virtio_devs.h"

struct virtio_rng {
	struct virtio_mmio_dev dev;
};

static void rng_config_encode(struct virtio_dev *vdev, enum vq_endian e, uint8_t *buf)
{
	/* no config space */
}

static long rng_request(struct virtio_dev *vdev, struct virtqueue *vq, struct vq_elem *elem)
{
	unsigned int i;
	long done = 0;

	/* 5.4.6: only device-writable buffers; anything readable is an error */
	if (elem->out_num)
		return -1;
	for (i = 0; i < elem->in_num; i++) {
		struct iovec *iov = &elem->iov[i];
		size_t got = 0;

		while (got < iov->iov_len) {
			ssize_t n = getrandom((uint8_t *)iov->iov_base + got, iov->iov_len - got, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return done + got;
			got += n;
		}
		done += got;
	}
	return done;
}

static void rng_notify(struct virtio_dev *vdev, unsigned int q)
{
	virtio_dev_drain(vdev, &vdev->vqs[q], rng_request);
}

static void rng_destroy(struct vm_device *base)
{
	struct virtio_rng *r = (struct virtio_rng *)base;

	virtio_mmio_dev_release(&r->dev);
	free(r);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_max = 64,
	.config_size = 0,
	.config_encode = rng_config_encode,
	.notify = rng_notify,
};

int virtio_rng_add(struct vm *vm, struct lkvm_err *e)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return err_set(e, "out of memory");
	ret = virtio_mmio_dev_add(vm, &r->dev, &rng_ops, r, rng_destroy, e);
	if (ret && !r->dev.base.destroy)
		free(r);
	return ret;
}
