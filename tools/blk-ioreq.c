// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * grantmem-blk (and grantmem-net) --transport ioreq: virtio over virtio-mmio, served
 * through a Xen ioreq server to an unmodified Linux guest (virtio_mmio +
 * virtio_blk with CONFIG_XEN_VIRTIO grant DMA).
 *
 * The ioreq thread answers the guest's MMIO accesses; QueueNotify kicks
 * the backend loop's queue thread (gm_ioreq_loop), which pops what the
 * kick brought (one map call per direction for the batch), has the block
 * code serve it, pushes it (unmapped before the used elements are
 * published) and raises the interrupt when the driver wants one.
 *
 * Printed at the end (one line, for scripts):
 *   grantmem-blk: ioreq stats: requests=N map_calls=M ring_map_calls=R unmap_calls=U
 *     pages_mapped=P mapped_after=K ioreqs=I interrupts=J irq_errors=E late_ioreqs=L
 *     queue_errors=Q seconds=S
 *   grantmem-blk: ioreq copies: copy_calls=C copy_segs=G bounce_uses=B
 * map/unmap calls are counted over the whole run, rings included.
 */
#include "config.h"

#include "blk-ioreq.h"

#include <grantmem/ioreq.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

int blk_ioreq_run(gm_xen *x, gm_dev *dev, const struct blk_ioreq_opts *o)
{
	struct gm_ioreq_server_config sc = {
		.domid = o->domid,
		.base = o->base,
		.irq = GM_IOREQ_IRQ_EVTCHN,
		.policy = GM_GRANT_TRANSIENT,
	};
	struct gm_ioreq_server_stats ss = {.size = sizeof(ss)};
	struct gm_ioreq_dev_stats ds = {.size = sizeof(ds)};
	struct gm_grant_stats gs = {.size = sizeof(gs)};
	struct gm_dev_stats st = {.size = sizeof(st)};
	gm_ioreq_server *srv;
	gm_ioreq_loop *l;
	const char *me = o->name ? o->name : "grantmem-blk";
	double secs;
	int r;

	r = gm_ioreq_loop_new(x, &sc, dev, &l);
	if (r < 0) {
		fprintf(stderr, "%s: cannot serve domain %u through an ioreq server: %s\n",
			me, o->domid, gm_strerror(r));
		return 1;
	}
	srv = gm_ioreq_loop_server(l);
	printf("%s: ioreq server ready: domain %u, virtio-mmio at 0x%" PRIx64
	       ", interrupt = the guest's event channel (register 0x%x)\n",
	       me, o->domid, o->base ? o->base : GM_IOREQ_DEFAULT_BASE, GM_VMMIO_IRQ_EVTCHN);
	fflush(stdout);

	r = gm_ioreq_server_run(srv, o->stop_fd, 250);
	if (r == -ESHUTDOWN)
		printf("%s: domain %u shut down\n", me, o->domid);
	else if (r < 0)
		fprintf(stderr, "%s: ioreq server: %s\n", me, gm_strerror(r));
	/* the guest is gone or we stop: a reset releases every mapping of it */
	gm_ioreq_dev_reset(gm_ioreq_loop_dev(l));
	gm_dev_conn_stats(gm_ioreq_loop_conn(l), -1, &st);
	gm_grant_cache_stats(gm_ioreq_server_cache(srv), &gs);
	gm_ioreq_server_stats(srv, &ss);
	gm_ioreq_dev_stats(gm_ioreq_loop_dev(l), &ds);
	gm_ioreq_loop_free(l);

	secs = o->seconds ? o->seconds() : 0.0;
	if (o->stats) {
		printf("%s: ioreq stats: requests=%" PRIu64 " map_calls=%" PRIu64
		       " ring_map_calls=%" PRIu64 " unmap_calls=%" PRIu64 " pages_mapped=%" PRIu64
		       " mapped_after=%u ioreqs=%" PRIu64 " interrupts=%" PRIu64
		       " irq_errors=%" PRIu64 " late_ioreqs=%" PRIu64 " queue_errors=%" PRIu64
		       " seconds=%.3f\n",
		       me, st.requests, gs.map_calls, st.ring_map_calls, gs.unmap_calls, gs.pages_mapped,
		       gs.mapped_pages, ss.ioreqs, ds.interrupts, ss.irq_errors, ss.late, st.broken,
		       secs);
		printf("%s: ioreq copies: copy_calls=%" PRIu64 " copy_segs=%" PRIu64
		       " bounce_uses=%" PRIu64 "\n", me, gs.copy_calls, gs.copy_segs, gs.bounce_uses);
		if (st.requests)
			printf("%s: %.3f map calls and %.3f unmap calls per request (rings excluded), %.1f requests/s\n",
			       me, (double)(gs.map_calls - st.ring_map_calls) / (double)st.requests,
			       (double)(gs.unmap_calls - st.ring_map_calls) / (double)st.requests,
			       secs > 0 ? (double)st.requests / secs : 0.0);
	}
	printf("%s: stopped\n", me);
	return (r == 0 || r == -ESHUTDOWN) && gs.mapped_pages == 0 ? 0 : 1;
}
