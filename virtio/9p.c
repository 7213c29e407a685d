// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-9p (virtio 1.2, 5.11 "9P transport"): one request queue; each chain
 * is a T-message (readable) and room for the R-message (writable). The 9P
 * server (9p/) sees flat buffers; 9P itself is LE on the wire, but the
 * config's tag_len is in the device's byte order (guest order on legacy).
 */
#include <linux/virtio_9p.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>

#include "p9.h"
#include "util.h"
#include "virtio_devs.h"

#define P9_TAG_MAX 64
#define P9_QUEUE_MAX 128

struct virtio_9p {
	struct virtio_mmio_dev dev;
	struct p9_server *server;
	char tag[P9_TAG_MAX];
	uint16_t tag_len;
	uint8_t *req;  /* P9_MSIZE_MAX: one T-message */
	uint8_t *resp; /* P9_MSIZE_MAX: one R-message */
};

static void p9_config_encode(struct virtio_dev *vdev, enum vq_endian e, uint8_t *c)
{
	struct virtio_9p *p = vdev->priv;

	ve_put16(e, c, p->tag_len);
	memcpy(c + 2, p->tag, p->tag_len);
}

static long p9_request(struct virtio_dev *vdev, struct virtqueue *vq, struct vq_elem *elem)
{
	struct virtio_9p *p = vdev->priv;
	size_t req_len, resp_len, cap;

	/* a T-message larger than any msize we agree to is a broken driver */
	if (!elem->out_len || elem->out_len > P9_MSIZE_MAX || !elem->in_len)
		return -1;
	req_len = vq_iov_read(elem->iov, elem->out_num, 0, p->req, elem->out_len);
	cap = MIN(elem->in_len, (uint64_t)P9_MSIZE_MAX);
	resp_len = p9_server_handle(p->server, p->req, req_len, p->resp, cap);
	if (!resp_len)
		return -1; /* not even room for an Rlerror */
	return vq_iov_write(elem->iov + elem->out_num, elem->in_num, 0, p->resp, resp_len);
}

static void p9_notify(struct virtio_dev *vdev, unsigned int q)
{
	virtio_dev_drain(vdev, &vdev->vqs[q], p9_request);
}

static void p9_reset(struct virtio_dev *vdev)
{
	struct virtio_9p *p = vdev->priv;

	/* a reset guest starts a new 9P session: every fid goes */
	p9_server_reset(p->server);
}

static void p9_free(struct virtio_9p *p)
{
	if (p->server)
		p9_server_destroy(p->server);
	free(p->req);
	free(p->resp);
	free(p);
}

static void p9_destroy(struct vm_device *base)
{
	struct virtio_9p *p = (struct virtio_9p *)base;

	virtio_mmio_dev_release(&p->dev);
	p9_free(p);
}

static const struct virtio_dev_ops p9_ops = {
	.name = "virtio-9p",
	.device_id = VIRTIO_ID_9P,
	.nr_queues = 1,
	.queue_max = P9_QUEUE_MAX,
	.config_size = 2 + P9_TAG_MAX,
	.features = 1ULL << VIRTIO_9P_MOUNT_TAG,
	.config_encode = p9_config_encode,
	.notify = p9_notify,
	.reset = p9_reset,
};

int virtio_9p_parse_spec(const char *spec, char **dir, char **tag, unsigned int *flags,
			 struct lkvm_err *e)
{
	char *s = strdup(spec), *comma, *opt, *next;

	if (!s)
		return err_set(e, "out of memory");
	*flags = 0;
	comma = strchr(s, ',');
	if (!comma && *s) {
		/* --9p DIR: kvmtool's default tag */
		*dir = s;
		*tag = strdup(P9_DEFAULT_TAG);
		if (!*tag) {
			free(s);
			return err_set(e, "out of memory");
		}
		return 0;
	}
	if (!comma || comma == s || !comma[1] || comma[1] == ',') {
		free(s);
		return err_set(e, "--9p %s: want DIR[,TAG[,ro][,setid][,owners]]", spec);
	}
	*comma = 0;
	for (opt = strchr(comma + 1, ','); opt; opt = next) {
		*opt++ = 0;
		next = strchr(opt, ',');
		if (next)
			*next = 0;
		if (!strcmp(opt, "ro")) {
			*flags |= P9_SHARE_RO;
		} else if (!strcmp(opt, "setid")) {
			*flags |= P9_SHARE_SETID;
		} else if (!strcmp(opt, "owners")) {
			*flags |= P9_SHARE_OWNERS;
		} else {
			err_set(e, "--9p %s: unknown option '%s' (ro, setid, owners)", spec, opt);
			free(s);
			return -1;
		}
		if (next)
			*next = ',';
	}
	if (strlen(comma + 1) >= P9_TAG_MAX) {
		free(s);
		return err_set(e, "--9p %s: the tag is longer than %d bytes", spec, P9_TAG_MAX - 1);
	}
	*dir = s;
	*tag = strdup(comma + 1);
	if (!*tag) {
		free(s);
		return err_set(e, "out of memory");
	}
	return 0;
}

int virtio_9p_add(struct vm *vm, const char *dir, const char *tag, unsigned int flags,
		  struct lkvm_err *e)
{
	struct virtio_9p *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return err_set(e, "out of memory");
	p->tag_len = strlen(tag);
	if (!p->tag_len || p->tag_len >= P9_TAG_MAX) {
		free(p);
		return err_set(e, "9p tag '%s' must be 1 to %d bytes", tag, P9_TAG_MAX - 1);
	}
	memcpy(p->tag, tag, p->tag_len);
	p->req = malloc(P9_MSIZE_MAX);
	p->resp = malloc(P9_MSIZE_MAX);
	if (!p->req || !p->resp) {
		p9_free(p);
		return err_set(e, "out of memory");
	}
	if (p9_server_create(&p->server, dir, flags, e)) {
		p9_free(p);
		return -1;
	}
	r = virtio_mmio_dev_add(vm, &p->dev, &p9_ops, p, p9_destroy, e);
	if (r && !p->dev.base.destroy)
		p9_free(p);
	return r;
}
