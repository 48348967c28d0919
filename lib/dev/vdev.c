/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend loop over the vdev transport (dev.h, gm_dev_vdev_*): a vdev
 * backend whose every frontend becomes a connection of the device, its
 * queues kicked by the frontend's event channels, and its counters
 * published as stats/ nodes of the backend directory.
 */
#include "config.h"

#include "base/base.h"
#include "dev-internal.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

/* One frontend. */
struct vconn {
	struct gm_dev_vdev *v;
	gm_vdev *vd;
	gm_dev_conn *c;
	unsigned nq;
	/* a port whose unmask failed, tried again at the next ack (0: none);
	 * each queue's thread writes its own */
	gm_port masked[GM_DEV_MAX_QUEUES];
	/* what was published last */
	uint64_t requests, wakeups;
	/* the config space's nodes: written one at a time, each with the config
	 * space of then; owed: the last write failed, the run loop tries again */
	pthread_mutex_t cfg_lock;
	atomic_bool cfg_owed;
	struct vconn *next;
};

struct gm_dev_vdev {
	gm_dev *dev;
	gm_vdev_backend *be;
	struct vconn *conns; /* the run thread's */
	bool xs_lost;        /* xenstore is gone: nothing to publish */
};

/* ---- the transport's side of the loop ---- */

static int vd_ack(void *opaque, unsigned q)
{
	struct vconn *vc = opaque;
	gm_evtchn *ev = gm_vdev_queue_evtchn(vc->vd, q);
	int pp, r;

	/* the queue's handle carries its one port: ack it once */
	if (vc->masked[q]) {
		r = gm_evtchn_unmask(ev, vc->masked[q]);
		if (r < 0)
			return r;
		vc->masked[q] = 0;
	}
	pp = gm_evtchn_pending(ev);
	if (pp < 0)
		return pp;
	r = gm_evtchn_unmask(ev, (gm_port)pp);
	if (r < 0)
		vc->masked[q] = (gm_port)pp;
	return r;
}

static int vd_notify(void *opaque, unsigned q)
{
	struct vconn *vc = opaque;

	return gm_vdev_notify(vc->vd, q);
}

static const struct gm_dev_transport vd_transport = {
	.ack = vd_ack,
	.notify = vd_notify,
};

/* Write the config space of now and its generation into the frontend's view. */
static int vd_config(void *opaque, gm_dev_conn *c)
{
	struct vconn *vc = opaque;
	unsigned char cs[GM_VDEV_CONFIG_MAX];
	uint32_t gen;
	int n, r;

	pthread_mutex_lock(&vc->cfg_lock);
	n = gm_dev_read_config(gm_dev_conn_dev(c), cs, sizeof(cs), &gen);
	r = n < 0 ? n : gm_vdev_set_config(vc->vd, cs, (size_t)n, gen);
	atomic_store(&vc->cfg_owed, r < 0);
	pthread_mutex_unlock(&vc->cfg_lock);
	return r;
}

/* ---- stats ---- */

/* Publish one stats node; a failure costs the reader one update (logged). */
static void stat_node(struct vconn *vc, const char *key, uint64_t v)
{
	char val[32];
	int r;

	snprintf(val, sizeof(val), "%" PRIu64, v);
	r = gm_vdev_write_node(vc->vd, key, val);
	if (r < 0)
		gm__warn("%s: publishing %s: %d (%s)", gm_dev_conn_name(vc->c), key, r,
			 gm_strerror(r));
}

/* Publish the connection's counters, if they moved (or @force). */
static void publish(struct vconn *vc, bool force)
{
	struct gm_dev_stats st = {.size = sizeof(st)}, qs[GM_DEV_MAX_QUEUES];
	uint64_t wakeups = 0;
	char key[48];

	if (vc->v->xs_lost)
		return;
	gm_dev_conn_stats(vc->c, -1, &st);
	for (unsigned i = 0; i < vc->nq; i++) {
		qs[i].size = sizeof(qs[i]);
		gm_dev_conn_stats(vc->c, (int)i, &qs[i]);
		wakeups += qs[i].wakeups;
	}
	if (!force && st.requests == vc->requests && wakeups == vc->wakeups)
		return;
	vc->requests = st.requests;
	vc->wakeups = wakeups;
	for (unsigned i = 0; i < vc->nq; i++) {
		snprintf(key, sizeof(key), "stats/queue-%u/wakeups", i);
		stat_node(vc, key, qs[i].wakeups);
		snprintf(key, sizeof(key), "stats/queue-%u/requests", i);
		stat_node(vc, key, qs[i].requests);
		snprintf(key, sizeof(key), "stats/queue-%u/map-calls", i);
		stat_node(vc, key, qs[i].pop_map_calls);
		snprintf(key, sizeof(key), "stats/queue-%u/copy-calls", i);
		stat_node(vc, key, qs[i].copy_calls);
	}
	stat_node(vc, "stats/map-calls", st.map_calls);
	stat_node(vc, "stats/unmap-calls", st.unmap_calls);
	stat_node(vc, "stats/pages-mapped", st.pages_mapped);
	stat_node(vc, "stats/batches", st.batches);
	stat_node(vc, "stats/pop-map-calls", st.pop_map_calls);
	stat_node(vc, "stats/copy-calls", st.copy_calls);
	stat_node(vc, "stats/refused", st.refused);
	/* requests last: a reader that sees the count sees the map calls with it */
	stat_node(vc, "stats/requests", st.requests);
}

/* ---- the vdev backend's device callbacks ---- */

static int vd_connect(void *opaque, gm_vdev *vd)
{
	struct gm_dev_vdev *v = opaque;
	const struct gm_vdev_front_info *fi = gm_vdev_frontend_info(vd);
	char name[32];
	struct vconn *vc = gm__calloc(1, sizeof(*vc));
	struct gm_dev_attach a = {
		.size = sizeof(a),
		.name = name,
		.mem = gm_vdev_mem(vd),
		.buf_flags = gm_vdev_policy(vd) == GM_GRANT_PERSISTENT ? GM_MAP_PERSISTENT
								 : GM_MAP_TRANSIENT,
		.cache = gm_vdev_backend_cache(v->be),
		.ops = &vd_transport,
		.opaque = vc,
	};
	int r;

	if (!vc)
		return -ENOMEM;
	snprintf(name, sizeof(name), "frontend %u", gm_vdev_frontend_id(vd));
	if (pthread_mutex_init(&vc->cfg_lock, NULL)) {
		free(vc);
		return -ENOMEM;
	}
	vc->v = v;
	vc->vd = vd;
	vc->nq = fi->num_queues;
	r = gm__dev_attach(v->dev, &a, vd, &vc->c);
	/* the config published at InitWait may be older than the device's */
	if (!r && gm_dev_conn_set_config_notify(vc->c, vd_config, vc) < 0)
		gm__warn("%s: cannot publish the config space; will retry", name);
	for (unsigned i = 0; !r && i < fi->num_queues; i++) {
		const struct gm_vdev_queue_info *qi = &fi->queues[i];
		struct gm_vq_config ring = {
			.size = qi->size,
			.desc_addr = qi->desc,
			.driver_addr = qi->driver,
			.device_addr = qi->device,
			.features = fi->features,
		};

		r = gm_dev_conn_add_queue(vc->c, i, &ring,
					  gm_evtchn_fd(gm_vdev_queue_evtchn(vd, i)));
	}
	if (r < 0) {
		gm_dev_detach(vc->c);
		pthread_mutex_destroy(&vc->cfg_lock);
		free(vc);
		return r;
	}
	vc->next = v->conns;
	v->conns = vc;
	gm_vdev_set_priv(vd, vc);
	publish(vc, true);
	return 0;
}

static void vd_disconnect(void *opaque, gm_vdev *vd)
{
	struct gm_dev_vdev *v = opaque;
	struct vconn *vc = gm_vdev_priv(vd);

	if (!vc)
		return;
	for (struct vconn **pp = &v->conns; *pp; pp = &(*pp)->next)
		if (*pp == vc) {
			*pp = vc->next;
			break;
		}
	/* every queue stopped and unmapped, then what they did, then free */
	for (unsigned i = 0; i < vc->nq; i++)
		gm_dev_conn_remove_queue(vc->c, i);
	publish(vc, true);
	gm_dev_detach(vc->c);
	gm_vdev_set_priv(vd, NULL);
	pthread_mutex_destroy(&vc->cfg_lock);
	free(vc);
}

static const struct gm_vdev_backend_ops vd_ops = {
	.connect = vd_connect,
	.disconnect = vd_disconnect,
};

/* ---- public ---- */

GM_API int gm_dev_vdev_new(gm_dev *d, gm_xen *x, const struct gm_vdev_backend_config *cfg,
			   gm_dev_vdev **out)
{
	const struct gm_dev_config *dc = gm_dev_get_config(d);
	struct gm_vdev_backend_config bc;
	gm_dev_vdev *v;
	int r;

	if (out)
		*out = NULL;
	if (!d || !x || !cfg || !out)
		return -EINVAL;
	r = gm__abi_in(&bc, sizeof(bc), cfg, GM__ABI_V1(struct gm_vdev_backend_config, cache));
	if (r)
		return r;
	if (!bc.device_id)
		bc.device_id = dc->device_id;
	if (!bc.features)
		bc.features = dc->features;
	if (!bc.config) {
		bc.config = dc->config;
		bc.config_len = dc->config_len;
	}
	if (!bc.max_queues)
		bc.max_queues = dc->max_queues;
	if (!bc.max_queue_size)
		bc.max_queue_size = dc->max_queue_size;
	if (bc.max_queues > dc->max_queues) {
		gm__warn("%s: %u queues offered, the device has %u", dc->name, bc.max_queues,
			 dc->max_queues);
		return -EINVAL;
	}
	v = gm__calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->dev = d;
	r = gm_vdev_backend_new(x, &bc, &vd_ops, v, &v->be);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	return 0;
}

GM_API int gm_dev_vdev_run(gm_dev_vdev *v, int stop_fd)
{
	const struct gm_dev_config *dc;
	int r, last = 0;

	if (!v)
		return -EINVAL;
	dc = gm_dev_get_config(v->dev);
	for (r = gm_vdev_backend_process(v->be); r != -ENOTCONN;) {
		struct pollfd p[2] = {{.fd = gm_vdev_backend_fd(v->be), .events = POLLIN},
				      {.fd = stop_fd, .events = POLLIN}};

		if (r < 0 && r != -EAGAIN && r != last)
			gm__warn("%s: xenstore: %d (%s) (retrying)", dc->name, r, gm_strerror(r));
		last = r;
		if (poll(p, 2, (int)dc->stats_ms) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return 0;
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			r = -ENOTCONN;
			break;
		}
		r = gm_vdev_backend_process(v->be);
		if (r == -ENOTCONN)
			break;
		for (struct vconn *vc = v->conns; vc; vc = vc->next) {
			if (atomic_load(&vc->cfg_owed) && !v->xs_lost)
				vd_config(vc, vc->c);
			publish(vc, false);
		}
		if (dc->tick)
			dc->tick(dc->opaque);
	}
	v->xs_lost = true;
	return -ENOTCONN;
}

GM_API gm_vdev_backend *gm_dev_vdev_backend(gm_dev_vdev *v)
{
	return v ? v->be : NULL;
}

GM_API void gm_dev_vdev_free(gm_dev_vdev *v)
{
	if (!v)
		return;
	gm_vdev_backend_free(v->be); /* disconnects every frontend */
	free(v);
}
