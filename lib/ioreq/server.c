/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Xen side of the ioreq transport: an ioreq server (libxendevicemodel),
 * its ioreq page (libxenforeignmemory), the vCPUs' event channels and the
 * guest's liveness (libxenctrl), around a gm_ioreq_dev.  See
 * include/grantmem/ioreq.h.  Built only when configure found those
 * libraries (server-none.c stands in otherwise).
 *
 * Every libxen* failure becomes a negative errno here (0 errno: -EIO),
 * logged once by the caller; libxen*'s own messages go through the
 * xentoollog bridge of backends/world (xtl.h).
 * Grants and event channels go through the caller's gm_xen world, so the
 * mapping cache and the event-channel wrappers are the ones every other
 * transport uses.
 */
#include "config.h"

/* the device-model interfaces of Xen's public headers are for tools only */
#define __XEN_TOOLS__ 1

#include <grantmem/ioreq.h>
#include <grantmem/virtio.h>

#include "base/base.h"
#include "world/xtl.h"

#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

/* One ioreq page holds a slot per vCPU. */
#define GM__IOREQ_MAX_VCPUS (GM_PAGE_SIZE / sizeof(ioreq_t))

struct gm_ioreq_server {
	gm_xen *x;
	gm_domid domid;
	uint64_t base;
	enum gm_ioreq_irq_method method;
	unsigned isa_irq;

	xendevicemodel_handle *dm;
	xenforeignmemory_handle *fmem;
	xc_interface *xch;
	xenforeignmemory_resource_handle *res;
	shared_iopage_t *iopage;
	ioservid_t id;
	bool created;

	gm_evtchn *evt;
	unsigned nr_vcpus;
	int vcpu_port[GM__IOREQ_MAX_VCPUS]; /* local ports, -1: unbound */
	int guest_port;                     /* the interrupt's local port, -1: none */

	gm_gnttab *gt;
	gm_grant_cache *cache;
	gm_region *region;
	gm_space *space;
	gm_ioreq_dev *dev;

	bool dead; /* the guest shut down or died: the device was reset */

	/* counters: the loop thread writes, anyone reads */
	atomic_uint_least64_t n_ioreqs, n_mmio, n_invalidates, n_unhandled, n_irq_errors, n_late;
};

static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

static void count(atomic_uint_least64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- interrupt methods -------------------------------------------------------- */

static int evtchn_irq_setup(void *opaque, gm_ioreq_dev *d, uint32_t port)
{
	gm_ioreq_server *s = opaque;
	int p;

	(void)d;
	/* a driver that loads again gives a new port: the old one is stale */
	if (s->guest_port >= 0) {
		gm_evtchn_unbind(s->evt, (gm_port)s->guest_port);
		s->guest_port = -1;
	}
	p = gm_evtchn_bind_interdomain(s->evt, s->domid, port);
	if (p < 0)
		return p;
	s->guest_port = p;
	gm__info("ioreq: domain %u: interrupt = its event channel %u (local port %d)", s->domid,
		 port, p);
	return 0;
}

static int evtchn_irq_raise(void *opaque, gm_ioreq_dev *d, uint32_t bits)
{
	gm_ioreq_server *s = opaque;
	int err;

	(void)d;
	(void)bits;
	if (s->guest_port < 0)
		err = -ENOTCONN;
	else
		err = gm_evtchn_notify(s->evt, (gm_port)s->guest_port);
	if (err)
		count(&s->n_irq_errors);
	return err;
}

static void evtchn_irq_release(void *opaque, gm_ioreq_dev *d)
{
	gm_ioreq_server *s = opaque;

	(void)d;
	if (s->guest_port >= 0)
		gm_evtchn_unbind(s->evt, (gm_port)s->guest_port);
	s->guest_port = -1;
}

static const struct gm_ioreq_irq_ops evtchn_irq_ops = {
	.setup = evtchn_irq_setup,
	.raise = evtchn_irq_raise,
	.release = evtchn_irq_release,
};

static int isa_irq_level(gm_ioreq_server *s, unsigned level)
{
	if (xendevicemodel_set_isa_irq_level(s->dm, s->domid, (uint8_t)s->isa_irq, level)) {
		int err = neg_errno();

		count(&s->n_irq_errors);
		gm__warn("ioreq: domain %u: set_isa_irq_level(%u, %u): %s", s->domid, s->isa_irq,
			 level, gm_strerror(err));
		return err;
	}
	return 0;
}

static int isa_irq_raise(void *opaque, gm_ioreq_dev *d, uint32_t bits)
{
	(void)d;
	(void)bits;
	return isa_irq_level(opaque, 1);
}

static void isa_irq_lower(void *opaque, gm_ioreq_dev *d)
{
	(void)d;
	isa_irq_level(opaque, 0);
}

static const struct gm_ioreq_irq_ops isa_irq_ops = {
	.raise = isa_irq_raise,
	.lower = isa_irq_lower,
};

/* ---- set-up and tear-down ---------------------------------------------------- */

void gm_ioreq_server_free(gm_ioreq_server *s)
{
	unsigned i;

	if (!s)
		return;
	/* first the device: its reset releases every mapping of the guest */
	gm_ioreq_dev_free(s->dev);
	/* a guest that is gone took its ioreq servers with it (ESRCH / ENOENT) */
	if (s->created && xendevicemodel_destroy_ioreq_server(s->dm, s->domid, s->id) &&
	    errno != ESRCH && errno != ENOENT)
		gm__warn("ioreq: domain %u: destroying ioreq server %u: %s", s->domid, s->id,
			 gm_strerror(neg_errno()));
	for (i = 0; i < s->nr_vcpus; i++)
		if (s->vcpu_port[i] >= 0)
			gm_evtchn_unbind(s->evt, (gm_port)s->vcpu_port[i]);
	if (s->res)
		xenforeignmemory_unmap_resource(s->fmem, s->res);
	gm_evtchn_close(s->evt);
	if (s->space && s->region)
		gm_space_remove(s->space, s->region);
	gm_space_free(s->space);
	gm_region_free(s->region);
	gm_grant_cache_free(s->cache);
	gm_gnttab_close(s->gt);
	if (s->xch)
		xc_interface_close(s->xch);
	if (s->fmem)
		xenforeignmemory_close(s->fmem);
	if (s->dm)
		xendevicemodel_close(s->dm);
	free(s);
}

/* Log a failed Xen call of the set-up and return its errno. */
static int setup_failed(gm_ioreq_server *s, const char *what)
{
	int err = neg_errno();

	gm__warn("ioreq: domain %u: %s: %s", s->domid, what, gm_strerror(err));
	return err;
}

static int server_open_xen(gm_ioreq_server *s)
{
	unsigned int n = 0;
	void *page = NULL;
	unsigned i;
	int p;

	s->dm = xendevicemodel_open(gm__xtl_logger(), 0);
	if (!s->dm)
		return setup_failed(s, "xendevicemodel_open");
	s->fmem = xenforeignmemory_open(gm__xtl_logger(), 0);
	if (!s->fmem)
		return setup_failed(s, "xenforeignmemory_open");
	s->xch = xc_interface_open(gm__xtl_logger(), gm__xtl_logger(), 0);
	if (!s->xch)
		return setup_failed(s, "xc_interface_open");
	if (xendevicemodel_nr_vcpus(s->dm, s->domid, &n))
		return setup_failed(s, "nr_vcpus");
	if (n == 0 || n > GM__IOREQ_MAX_VCPUS) {
		gm__warn("ioreq: domain %u: %u vCPUs (1..%zu supported)", s->domid, n,
			 (size_t)GM__IOREQ_MAX_VCPUS);
		return -EINVAL;
	}
	s->nr_vcpus = n;

	/* synchronous ioreqs only: a buffered write would need its own ring */
	if (xendevicemodel_create_ioreq_server(s->dm, s->domid, HVM_IOREQSRV_BUFIOREQ_OFF, &s->id))
		return setup_failed(s, "create_ioreq_server");
	s->created = true;
	s->res = xenforeignmemory_map_resource(s->fmem, s->domid, XENMEM_resource_ioreq_server,
					       s->id, XENMEM_resource_ioreq_server_frame_ioreq(0),
					       1, &page, PROT_READ | PROT_WRITE, 0);
	if (!s->res)
		return setup_failed(s, "mapping the ioreq page");
	s->iopage = page;
	if (xendevicemodel_map_io_range_to_ioreq_server(s->dm, s->domid, s->id, 1, s->base,
							 s->base + GM_VMMIO_WINDOW_SIZE - 1))
		return setup_failed(s, "claiming the MMIO window");
	if (xendevicemodel_set_ioreq_server_state(s->dm, s->domid, s->id, 1))
		return setup_failed(s, "enabling the ioreq server");
	for (i = 0; i < n; i++) {
		p = gm_evtchn_bind_interdomain(s->evt, s->domid, s->iopage->vcpu_ioreq[i].vp_eport);
		if (p < 0)
			return p;
		s->vcpu_port[i] = p;
	}
	return 0;
}

int gm_ioreq_server_new(gm_xen *x, const struct gm_ioreq_server_config *cfg,
			const struct gm_ioreq_dev_config *dcfg, const struct gm_ioreq_dev_ops *ops,
			void *opaque, gm_ioreq_server **out)
{
	struct gm_ioreq_server_config cf;
	const struct gm_ioreq_irq_ops *irq;
	void *irq_opaque;
	gm_ioreq_server *s;
	unsigned i;
	int err;

	if (out)
		*out = NULL;
	if (cfg) {
		err = gm__abi_in(&cf, sizeof(cf), cfg,
				 GM__ABI_V1(struct gm_ioreq_server_config, cache));
		if (err)
			return err;
		cfg = &cf;
	}
	/* a guest's own id: DOMID_SELF and Xen's other special ids are not guests */
	if (!x || !cfg || !dcfg || !ops || !out || cfg->domid > GM_DOMID_MAX ||
	    cfg->base & (GM_PAGE_SIZE - 1) || cfg->irq > GM_IOREQ_IRQ_CUSTOM ||
	    (cfg->irq == GM_IOREQ_IRQ_ISA && cfg->isa_irq > 15) ||
	    (cfg->irq == GM_IOREQ_IRQ_CUSTOM && (!cfg->irq_ops || !cfg->irq_ops->raise)))
		return -EINVAL;
	s = gm__calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->x = x;
	s->domid = cfg->domid;
	s->base = cfg->base ? cfg->base : GM_IOREQ_DEFAULT_BASE;
	s->method = cfg->irq;
	s->isa_irq = cfg->isa_irq;
	s->guest_port = -1;
	for (i = 0; i < GM__IOREQ_MAX_VCPUS; i++)
		s->vcpu_port[i] = -1;

	err = gm_evtchn_open(x, &s->evt);
	if (err)
		goto fail;
	err = gm_gnttab_open(x, &s->gt);
	if (err)
		goto fail;
	err = gm_grant_cache_new(s->gt, cfg->cache, &s->cache);
	if (err)
		goto fail;
	err = gm_grant_region_new(s->cache, s->domid, cfg->policy, &s->region);
	if (err)
		goto fail;
	err = gm_space_new(&s->space);
	if (err)
		goto fail;
	err = gm_space_add(s->space, GM_GRANT_BASE, s->region);
	if (err)
		goto fail;

	switch (cfg->irq) {
	case GM_IOREQ_IRQ_EVTCHN:
		irq = &evtchn_irq_ops;
		irq_opaque = s;
		break;
	case GM_IOREQ_IRQ_ISA:
		irq = &isa_irq_ops;
		irq_opaque = s;
		break;
	default:
		irq = cfg->irq_ops;
		irq_opaque = cfg->irq_opaque;
		break;
	}
	err = gm_ioreq_dev_new(gm_space_mem(s->space), s->cache, s->domid, dcfg, ops, opaque, irq,
			       irq_opaque, &s->dev);
	if (err)
		goto fail;
	err = server_open_xen(s);
	if (err)
		goto fail;
	gm__info("ioreq: domain %u: ioreq server %u serves virtio-mmio at 0x%" PRIx64
		 ", %u vCPU(s)",
		 s->domid, s->id, s->base, s->nr_vcpus);
	*out = s;
	return 0;
fail:
	gm_ioreq_server_free(s);
	return err;
}

/* ---- serving ----------------------------------------------------------------------- */

static void serve_mmio(gm_ioreq_server *s, ioreq_t *req)
{
	uint64_t off = req->addr - s->base;

	count(&s->n_mmio);
	if (req->dir == IOREQ_READ) {
		uint64_t v;

		gm_ioreq_dev_mmio_read(s->dev, off, req->size, &v);
		req->data = v;
	} else {
		gm_ioreq_dev_mmio_write(s->dev, off, req->size, req->data);
	}
}

/* Answer one ioreq: @req is the shared slot, READY. */
static void serve(gm_ioreq_server *s, volatile ioreq_t *slot)
{
	ioreq_t req;

	/* the slot's fields are valid once READY is seen (Xen's write barrier) */
	gm_ring_fence(); /* full barrier; also what ThreadSanitizer understands */
	memcpy(&req, (const void *)slot, sizeof(req));
	count(&s->n_ioreqs);
	switch (req.type) {
	case IOREQ_TYPE_COPY:
		if (!req.data_is_ptr && req.count == 1 && req.addr >= s->base &&
		    req.addr - s->base < GM_VMMIO_WINDOW_SIZE) {
			serve_mmio(s, &req);
			break;
		}
		/*
		 * A string or rep access would name guest-physical memory we
		 * cannot reach (we only map grants): complete it without effect.
		 */
		count(&s->n_unhandled);
		/* the guest may issue one per instruction: rate-limited */
		gm__info_rl("ioreq: domain %u: unsupported MMIO access at 0x%" PRIx64
			    " (count %u, %s)",
			    s->domid, (uint64_t)req.addr, req.count,
			    req.data_is_ptr ? "via memory" : "repeated");
		if (req.dir == IOREQ_READ && !req.data_is_ptr)
			req.data = ~0ull;
		break;
	case IOREQ_TYPE_INVALIDATE:
		/* "drop your map cache": we never map guest RAM, only grants */
		count(&s->n_invalidates);
		break;
	default:
		count(&s->n_unhandled);
		gm__dbg("ioreq: domain %u: ioreq type %u ignored", s->domid, req.type);
		if (req.dir == IOREQ_READ && !req.data_is_ptr)
			req.data = ~0ull;
		break;
	}
	slot->data = req.data;
	gm_ring_fence();
	slot->state = STATE_IORESP_READY;
}

int gm_ioreq_server_guest_alive(gm_ioreq_server *s)
{
	xc_dominfo_t info;
	int n;

	if (!s)
		return -EINVAL;
	if (s->dead)
		return 0;
	n = xc_domain_getinfo(s->xch, s->domid, 1, &info);
	if (n < 0)
		return neg_errno();
	if (n == 1 && info.domid == s->domid && !info.dying && !info.shutdown)
		return 1;
	gm__info("ioreq: domain %u %s: resetting its device", s->domid,
		 n == 1 && info.domid == s->domid ? (info.dying ? "is dying" : "shut down")
						  : "is gone");
	s->dead = true;
	gm_ioreq_dev_reset(s->dev);
	return 0;
}

int gm_ioreq_server_process(gm_ioreq_server *s)
{
	unsigned i;
	int port, n = 0;

	if (!s)
		return -EINVAL;
	if (s->dead)
		return -ESHUTDOWN;
	/*
	 * Unmask before looking at the slots, so no kick is lost in between.
	 * Each port (one per vCPU, the guest's interrupt) is acked at most once
	 * per call: a guest that notifies without pause would otherwise keep
	 * this loop going (the unmask delivers the coalesced event at once); a
	 * port pending again keeps the fd readable for the next call.
	 */
	for (i = 0; i <= s->nr_vcpus && (port = gm_evtchn_pending(s->evt)) >= 0; i++)
		gm_evtchn_unmask(s->evt, (gm_port)port);
	if (port < 0 && port != -EAGAIN)
		return port;
	for (i = 0; i < s->nr_vcpus; i++) {
		volatile ioreq_t *slot = &s->iopage->vcpu_ioreq[i];

		if (slot->state != STATE_IOREQ_READY)
			continue;
		slot->state = STATE_IOREQ_INPROCESS;
		serve(s, slot);
		gm_evtchn_notify(s->evt, (gm_port)s->vcpu_port[i]);
		n++;
	}
	/* queues last: the vCPUs that kicked them run again meanwhile */
	gm_ioreq_dev_process(s->dev);
	return n;
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int gm_ioreq_server_run(gm_ioreq_server *s, int stop_fd, int tick_ms)
{
	struct pollfd pfd[2];
	int64_t next;
	int err;

	if (!s)
		return -EINVAL;
	if (tick_ms <= 0)
		tick_ms = 1000;
	pfd[0].fd = gm_evtchn_fd(s->evt);
	if (pfd[0].fd < 0)
		return pfd[0].fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = stop_fd;
	pfd[1].events = POLLIN;
	next = now_ms() + tick_ms;
	for (;;) {
		int r = poll(pfd, stop_fd >= 0 ? 2 : 1, tick_ms);

		if (r < 0 && errno != EINTR)
			return neg_errno();
		if (stop_fd >= 0 && r > 0 && pfd[1].revents)
			return 0;
		err = gm_ioreq_server_process(s);
		if (err < 0)
			return err;
		if (r == 0 && err > 0)
			atomic_fetch_add_explicit(&s->n_late, (unsigned)err, memory_order_relaxed);
		if (now_ms() >= next) {
			next = now_ms() + tick_ms;
			err = gm_ioreq_server_guest_alive(s);
			if (err < 0)
				return err;
			if (err == 0)
				return -ESHUTDOWN;
		}
	}
}

int gm_ioreq_server_fd(gm_ioreq_server *s)
{
	return s ? gm_evtchn_fd(s->evt) : -EINVAL;
}

gm_ioreq_dev *gm_ioreq_server_dev(gm_ioreq_server *s)
{
	return s ? s->dev : NULL;
}

gm_grant_cache *gm_ioreq_server_cache(gm_ioreq_server *s)
{
	return s ? s->cache : NULL;
}

void gm_ioreq_server_stats(gm_ioreq_server *s, struct gm_ioreq_server_stats *out)
{
	struct gm_ioreq_server_stats z = {0}, *st = &z;

	if (!out)
		return;
	if (!s) {
		gm__abi_out(out, st, sizeof(*st), GM__ABI_V1(struct gm_ioreq_server_stats, late));
		return;
	}
	st->ioreqs = atomic_load_explicit(&s->n_ioreqs, memory_order_relaxed);
	st->mmio = atomic_load_explicit(&s->n_mmio, memory_order_relaxed);
	st->invalidates = atomic_load_explicit(&s->n_invalidates, memory_order_relaxed);
	st->unhandled = atomic_load_explicit(&s->n_unhandled, memory_order_relaxed);
	st->irq_errors = atomic_load_explicit(&s->n_irq_errors, memory_order_relaxed);
	st->late = atomic_load_explicit(&s->n_late, memory_order_relaxed);
	gm__abi_out(out, st, sizeof(*st), GM__ABI_V1(struct gm_ioreq_server_stats, late));
}
