/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend loop (dev.h) over the ioreq transport (ioreq.h,
 * gm_ioreq_loop): the virtio-mmio register file's device callbacks add,
 * kick and remove the queues of one connection of a gm_dev, and the loop's
 * transport callbacks raise the device's interrupt and report broken
 * queues.  The register file's callbacks run on the ioreq thread; the
 * loop's on the queue threads (gm_ioreq_dev_interrupt and
 * gm_ioreq_dev_needs_reset may be called there).
 */
#include "config.h"

#include <grantmem/ioreq.h>

#include "base/base.h"

#include <stdio.h>

struct gm_ioreq_loop {
	gm_dev *d;
	gm_ioreq_server *srv;
	gm_ioreq_dev *dev;
	gm_dev_conn *conn;
};

/* ---- the register file's device model ---- */

static int l_enable(void *opaque, gm_ioreq_dev *d, unsigned q, const struct gm_ioreq_queue *info)
{
	struct gm_ioreq_loop *l = opaque;
	struct gm_vq_config ring = {
		.size = info->size,
		.desc_addr = info->desc,
		.driver_addr = info->driver,
		.device_addr = info->device,
		.features = gm_ioreq_dev_features(d),
	};

	/* the connection exists before the guest can reach the device */
	if (!l->conn)
		return -EAGAIN;
	return gm_dev_conn_add_queue(l->conn, q, &ring, -1);
}

static void l_disable(void *opaque, gm_ioreq_dev *d, unsigned q)
{
	struct gm_ioreq_loop *l = opaque;

	(void)d;
	gm_dev_conn_remove_queue(l->conn, q);
}

static void l_notify(void *opaque, gm_ioreq_dev *d, unsigned q)
{
	struct gm_ioreq_loop *l = opaque;

	(void)d;
	gm_dev_conn_kick(l->conn, q);
}

static const struct gm_ioreq_dev_ops l_dev_ops = {
	.queue_enable = l_enable,
	.queue_disable = l_disable,
	.queue_notify = l_notify,
};

/* ---- the loop's transport ---- */

static int l_interrupt(void *opaque, unsigned q)
{
	struct gm_ioreq_loop *l = opaque;

	(void)q;
	return gm_ioreq_dev_interrupt(l->dev, GM_VMMIO_INT_VRING);
}

static void l_broken(void *opaque, unsigned q)
{
	struct gm_ioreq_loop *l = opaque;
	char why[32];

	snprintf(why, sizeof(why), "queue %u is broken", q);
	gm_ioreq_dev_needs_reset(l->dev, why);
}

/* gm_dev_set_config: the register file takes the config space of now. */
static int l_config(void *opaque, gm_dev_conn *c)
{
	struct gm_ioreq_loop *l = opaque;
	unsigned char cs[GM_IOREQ_CONFIG_MAX];
	int n = gm_dev_read_config(gm_dev_conn_dev(c), cs, sizeof(cs), NULL);

	return n < 0 ? n : gm_ioreq_dev_set_config(l->dev, 0, cs, (size_t)n);
}

static const struct gm_dev_transport l_transport = {
	.notify = l_interrupt,
	.broken = l_broken,
};

/* ---- set-up ---- */

static void dev_config(gm_dev *d, struct gm_ioreq_dev_config *dc)
{
	const struct gm_dev_config *c = gm_dev_get_config(d);

	*dc = (struct gm_ioreq_dev_config){
		.device_id = c->device_id,
		.features = c->features,
		.num_queues = c->max_queues,
		.max_queue_size = c->max_queue_size,
		.config = c->config,
		.config_len = c->config_len,
	};
}

/* Attach the connection once the register file exists. */
static int attach(struct gm_ioreq_loop *l, gm_grant_cache *cache, gm_domid domid,
		  enum gm_grant_policy policy)
{
	char name[32];
	struct gm_dev_attach a = {
		.size = sizeof(a),
		.name = name,
		.mem = gm_ioreq_dev_mem(l->dev),
		.buf_flags = policy == GM_GRANT_PERSISTENT ? GM_MAP_PERSISTENT : GM_MAP_TRANSIENT,
		.cache = cache,
		.ops = &l_transport,
		.opaque = l,
	};

	int r;

	snprintf(name, sizeof(name), "domain %u", domid);
	r = gm_dev_attach(l->d, &a, &l->conn);
	return r < 0 ? r : gm_dev_conn_set_config_notify(l->conn, l_config, l);
}

GM_API int gm_ioreq_loop_new(gm_xen *x, const struct gm_ioreq_server_config *cfg, gm_dev *d,
			     gm_ioreq_loop **out)
{
	struct gm_ioreq_dev_config dc;
	struct gm_ioreq_loop *l;
	int r;

	if (out)
		*out = NULL;
	if (!x || !cfg || !d || !out)
		return -EINVAL;
	l = gm__calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->d = d;
	dev_config(d, &dc);
	r = gm_ioreq_server_new(x, cfg, &dc, &l_dev_ops, l, &l->srv);
	if (!r) {
		l->dev = gm_ioreq_server_dev(l->srv);
		r = attach(l, gm_ioreq_server_cache(l->srv), cfg->domid, cfg->policy);
	}
	if (r) {
		gm_ioreq_loop_free(l);
		return r;
	}
	*out = l;
	return 0;
}

GM_API int gm_ioreq_loop_new_dev(gm_mem *mem, gm_grant_cache *cache, gm_domid domid,
				 enum gm_grant_policy policy, gm_dev *d,
				 const struct gm_ioreq_irq_ops *irq, void *irq_opaque,
				 gm_ioreq_loop **out)
{
	struct gm_ioreq_dev_config dc;
	struct gm_ioreq_loop *l;
	int r;

	if (out)
		*out = NULL;
	if (!mem || !d || !out)
		return -EINVAL;
	l = gm__calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->d = d;
	dev_config(d, &dc);
	r = gm_ioreq_dev_new(mem, cache, domid, &dc, &l_dev_ops, l, irq, irq_opaque, &l->dev);
	if (!r)
		r = attach(l, cache, domid, policy);
	if (r) {
		gm_ioreq_loop_free(l);
		return r;
	}
	*out = l;
	return 0;
}

GM_API gm_ioreq_server *gm_ioreq_loop_server(gm_ioreq_loop *l)
{
	return l ? l->srv : NULL;
}

GM_API gm_ioreq_dev *gm_ioreq_loop_dev(gm_ioreq_loop *l)
{
	return l ? l->dev : NULL;
}

GM_API gm_dev_conn *gm_ioreq_loop_conn(gm_ioreq_loop *l)
{
	return l ? l->conn : NULL;
}

GM_API void gm_ioreq_loop_free(gm_ioreq_loop *l)
{
	if (!l)
		return;
	/* no config change reaches the register file while it goes */
	if (l->conn)
		gm_dev_conn_set_config_notify(l->conn, NULL, NULL);
	/* the reset inside disables every queue: the loop lets go of them */
	if (l->srv)
		gm_ioreq_server_free(l->srv);
	else
		gm_ioreq_dev_free(l->dev);
	gm_dev_detach(l->conn);
	free(l);
}
