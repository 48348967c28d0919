// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * grantmem-blk --transport ioreq: virtio-blk over virtio-mmio, served
 * through a Xen ioreq server to an unmodified Linux guest (virtio_mmio +
 * virtio_blk with CONFIG_XEN_VIRTIO grant DMA).
 *
 * One thread: the ioreq loop answers the guest's MMIO accesses and, after
 * releasing the vCPU, serves the queue it kicked: pop (one gm_map_sg per
 * request), the block code's serve(), push (unmapped before the used
 * element is published), and an interrupt when the driver wants one.
 *
 * Printed at the end (one line, for scripts):
 *   grantmem-blk: ioreq stats: requests=N map_calls=M ring_map_calls=R unmap_calls=U
 *     pages_mapped=P mapped_after=K ioreqs=I interrupts=J irq_errors=E late_ioreqs=L
 *     queue_errors=Q seconds=S
 * map/unmap calls are counted over the whole run, rings included.
 */
#include "config.h"

#include "blk-ioreq.h"

#include <grantmem/ioreq.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct {
	const struct blk_ioreq_opts *o;
	gm_ioreq_server *srv;
	gm_vq *vq[1];
	uint64_t requests, queue_errors;
	uint64_t ring_map_calls; /* map calls made to set up rings */
	struct timespec first, last;
} blk;

static int q_enable(void *opaque, gm_ioreq_dev *d, unsigned q, const struct gm_ioreq_queue *info)
{
	struct gm_vq_config c = {
		.size = info->size,
		.desc_addr = info->desc,
		.driver_addr = info->driver,
		.device_addr = info->device,
		.features = gm_ioreq_dev_features(d),
		.max_chain = blk.o->max_chain && blk.o->max_chain < info->size ? blk.o->max_chain : 0,
		/* released on push, so the guest can end access at completion */
		.buf_flags = GM_MAP_TRANSIENT,
		.index = q,
	};

	struct gm_grant_stats before, after;
	int r;

	(void)opaque;
	if (q >= 1)
		return -EINVAL;
	gm_grant_cache_stats(gm_ioreq_server_cache(blk.srv), &before);
	r = gm_vq_new(gm_ioreq_dev_mem(d), &c, &blk.vq[q]);
	gm_grant_cache_stats(gm_ioreq_server_cache(blk.srv), &after);
	/* what the requests cost is reported without the rings */
	blk.ring_map_calls += after.map_calls - before.map_calls;
	return r;
}

static void q_disable(void *opaque, gm_ioreq_dev *d, unsigned q)
{
	(void)opaque;
	(void)d;
	gm_vq_free(blk.vq[q]);
	blk.vq[q] = NULL;
}

static void q_notify(void *opaque, gm_ioreq_dev *d, unsigned q)
{
	gm_vq *vq = blk.vq[q];
	bool kick = false;
	int r;

	(void)opaque;
	/* no kicks while draining; re-enabling re-checks for raced-in work */
	gm_vq_set_notify(vq, false);
	for (;;) {
		struct gm_vq_req *req;
		bool notify = false;

		r = gm_vq_pop(vq, &req);
		if (r == -EAGAIN) {
			r = gm_vq_set_notify(vq, true);
			if (r == 1)
				continue;
			break;
		}
		if (r < 0)
			break;
		if (!blk.requests)
			clock_gettime(CLOCK_MONOTONIC, &blk.first);
		if (gm_vq_push(vq, req, blk.o->serve(req), &notify) == 0) {
			blk.requests++;
			kick |= notify;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &blk.last);
	if (kick)
		gm_ioreq_dev_interrupt(d, GM_VMMIO_INT_VRING);
	if (r < 0 && (r == -EIO || gm_vq_broken(vq))) {
		blk.queue_errors++;
		gm_ioreq_dev_needs_reset(d, "queue 0 is broken");
	} else if (r < 0) {
		/* host resources: serve it again on the next kick */
		fprintf(stderr, "grantmem-blk: queue %u: %s\n", q, gm_strerror(r));
	}
}

static const struct gm_ioreq_dev_ops blk_ioreq_ops = {
	.queue_enable = q_enable,
	.queue_disable = q_disable,
	.queue_notify = q_notify,
};

int blk_ioreq_run(gm_xen *x, const struct blk_ioreq_opts *o)
{
	struct gm_ioreq_server_config sc = {
		.domid = o->domid,
		.base = o->base,
		.irq = GM_IOREQ_IRQ_EVTCHN,
		.policy = GM_GRANT_TRANSIENT,
	};
	struct gm_ioreq_dev_config dc = {
		.device_id = 2, /* block */
		.features = o->features,
		.num_queues = 1,
		.max_queue_size = o->queue_size,
		.config = o->config,
		.config_len = o->config_len,
	};
	struct gm_ioreq_server_stats ss;
	struct gm_ioreq_dev_stats ds;
	struct gm_grant_stats gs;
	gm_ioreq_server *srv;
	double secs;
	int r;

	blk.o = o;
	r = gm_ioreq_server_new(x, &sc, &dc, &blk_ioreq_ops, NULL, &srv);
	blk.srv = srv;
	if (r < 0) {
		fprintf(stderr, "grantmem-blk: cannot serve domain %u through an ioreq server: %s\n",
			o->domid, gm_strerror(r));
		return 1;
	}
	printf("grantmem-blk: ioreq server ready: domain %u, virtio-mmio at 0x%" PRIx64
	       ", interrupt = the guest's event channel (register 0x%x)\n",
	       o->domid, o->base ? o->base : GM_IOREQ_DEFAULT_BASE, GM_VMMIO_IRQ_EVTCHN);
	fflush(stdout);

	r = gm_ioreq_server_run(srv, o->stop_fd, 250);
	if (r == -ESHUTDOWN)
		printf("grantmem-blk: domain %u shut down\n", o->domid);
	else if (r < 0)
		fprintf(stderr, "grantmem-blk: ioreq server: %s\n", gm_strerror(r));
	/* the guest is gone or we stop: a reset releases every mapping of it */
	gm_ioreq_dev_reset(gm_ioreq_server_dev(srv));
	gm_grant_cache_stats(gm_ioreq_server_cache(srv), &gs);
	gm_ioreq_server_stats(srv, &ss);
	gm_ioreq_dev_stats(gm_ioreq_server_dev(srv), &ds);
	gm_ioreq_server_free(srv);

	secs = (double)(blk.last.tv_sec - blk.first.tv_sec) +
	       (double)(blk.last.tv_nsec - blk.first.tv_nsec) / 1e9;
	if (o->stats) {
		printf("grantmem-blk: ioreq stats: requests=%" PRIu64 " map_calls=%" PRIu64
		       " ring_map_calls=%" PRIu64 " unmap_calls=%" PRIu64 " pages_mapped=%" PRIu64 " mapped_after=%u ioreqs=%" PRIu64
		       " interrupts=%" PRIu64 " irq_errors=%" PRIu64 " late_ioreqs=%" PRIu64 " queue_errors=%" PRIu64
		       " seconds=%.3f\n",
		       blk.requests, gs.map_calls, blk.ring_map_calls, gs.unmap_calls, gs.pages_mapped, gs.mapped_pages,
		       ss.ioreqs, ds.interrupts, ss.irq_errors, ss.late, blk.queue_errors, secs);
		if (blk.requests)
			printf("grantmem-blk: %.3f map calls and %.3f unmap calls per request (rings excluded), %.1f requests/s\n",
			       (double)(gs.map_calls - blk.ring_map_calls) / (double)blk.requests,
			       (double)(gs.unmap_calls - blk.ring_map_calls) / (double)blk.requests,
			       secs > 0 ? (double)blk.requests / secs : 0.0);
	}
	printf("grantmem-blk: stopped\n");
	return (r == 0 || r == -ESHUTDOWN) && gs.mapped_pages == 0 ? 0 : 1;
}
