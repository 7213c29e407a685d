// SPDX-License-Identifier: GPL-2.0
/* virtio-console, one port (virtio 1.2, 5.3): hvc0 on stdin/stdout. */
#include <errno.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <unistd.h>

#include "virtio_devs.h"

#define CON_RX 0
#define CON_TX 1
#define CON_CONFIG_SIZE 12

struct virtio_console {
	struct virtio_mmio_dev dev;
	int out_fd;
	int log_fd; /* --console-log, or -1 */
	uint16_t cols, rows;
};

static void con_config_encode(struct virtio_dev *vdev, enum vq_endian e, uint8_t *c)
{
	struct virtio_console *con = vdev->priv;

	/* 5.3.4: cols, rows, max_nr_ports, emerg_wr */
	ve_put16(e, c + 0, con->cols);
	ve_put16(e, c + 2, con->rows);
	ve_put32(e, c + 4, 1);
}

static void con_out(struct virtio_console *con, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (con->log_fd >= 0 && write(con->log_fd, buf, len) < 0) {
		/* a full disk must not stop the guest */
	}
	while (len) {
		ssize_t n = write(con->out_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* output gone: drop it, never stall the guest */
		p += n;
		len -= n;
	}
}

static void con_config_write(struct virtio_dev *vdev, enum vq_endian e, const uint8_t *buf,
			     uint32_t off, uint32_t len)
{
	struct virtio_console *con = vdev->priv;
	uint8_t c;

	/* emerg_wr (VIRTIO_CONSOLE_F_EMERG_WRITE): one character, any width write */
	if (off == 8) {
		c = (uint8_t)ve_get32(e, buf + 8);
		con_out(con, &c, 1);
	}
}

static long con_tx(struct virtio_dev *vdev, struct virtqueue *vq, struct vq_elem *elem)
{
	struct virtio_console *con = vdev->priv;
	unsigned int i;

	for (i = 0; i < elem->out_num; i++)
		con_out(con, elem->iov[i].iov_base, elem->iov[i].iov_len);
	return 0;
}

static void con_notify(struct virtio_dev *vdev, unsigned int q)
{
	/* rx buffers are filled when input comes (virtio_console_input) */
	if (q == CON_TX)
		virtio_dev_drain(vdev, &vdev->vqs[q], con_tx);
}

size_t virtio_console_input(struct virtio_console *con, const uint8_t *buf, size_t len)
{
	struct virtio_dev *vdev = &con->dev.vdev;
	struct virtqueue *vq = &vdev->vqs[CON_RX];
	struct vq_elem *elem;
	size_t done = 0;

	pthread_mutex_lock(&vdev->lock);
	/* the device thread uses vdev->scratch under the same lock */
	elem = vdev->scratch;
	while (done < len && virtio_dev_live(vdev)) {
		size_t n;
		int r = vq_pop(vq, elem);

		if (r < 0)
			virtio_dev_needs_reset(vdev, vq->why);
		if (r <= 0)
			break;
		if (elem->out_num) {
			virtio_dev_needs_reset(vdev, "console input buffer is not writable");
			break;
		}
		n = vq_iov_write(elem->iov, elem->in_num, 0, buf + done, len - done);
		vq_push(vq, elem->head, n);
		done += n;
	}
	if (done)
		virtio_dev_signal(vdev, vq);
	pthread_mutex_unlock(&vdev->lock);
	return done;
}

void virtio_console_resize(struct virtio_console *con, uint16_t cols, uint16_t rows)
{
	struct virtio_dev *vdev = &con->dev.vdev;

	pthread_mutex_lock(&vdev->lock);
	if (cols != con->cols || rows != con->rows) {
		con->cols = cols;
		con->rows = rows;
		if (virtio_dev_live(vdev))
			virtio_dev_config_changed(vdev);
	}
	pthread_mutex_unlock(&vdev->lock);
}

static void con_destroy(struct vm_device *base)
{
	struct virtio_console *con = (struct virtio_console *)base;

	virtio_mmio_dev_release(&con->dev);
	free(con);
}

static const struct virtio_dev_ops con_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.nr_queues = 2,
	.queue_max = 128,
	.config_size = CON_CONFIG_SIZE,
	.features = (1ULL << VIRTIO_CONSOLE_F_SIZE) | (1ULL << VIRTIO_CONSOLE_F_EMERG_WRITE),
	.config_encode = con_config_encode,
	.config_write = con_config_write,
	.notify = con_notify,
};

int virtio_console_add(struct vm *vm, int out_fd, int log_fd, struct virtio_console **out,
		       struct lkvm_err *e)
{
	struct virtio_console *con = calloc(1, sizeof(*con));
	int r;

	if (!con)
		return err_set(e, "out of memory");
	con->out_fd = out_fd;
	con->log_fd = log_fd;
	con->cols = 80;
	con->rows = 25;
	r = virtio_mmio_dev_add(vm, &con->dev, &con_ops, con, con_destroy, e);
	if (r && !con->dev.base.destroy)
		free(con);
	if (!r)
		*out = con;
	return r;
}
