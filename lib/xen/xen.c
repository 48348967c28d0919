/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Xen ops: the public wrappers over a world's `struct gm_xen_ops`.
 *
 * Every wrapper does the same four steps: validate its arguments (-EINVAL),
 * find the callback (-EOPNOTSUPP when the world lacks it), pass the fault
 * site of the call (an injected errno is returned as the op's own failure,
 * without calling the op), then call the op and log a failure.
 *
 * Log levels: failures a hostile or departing guest can cause (a bad ref,
 * port or path, a mapping budget reached, a busy grant) log at info or debug
 * so that a guest cannot flood the host's log; failures of Xen or of the
 * host that the caller must act on (a handle that does not open, an unmap
 * that fails) log at warning.  Argument errors (the caller's bugs) log at
 * debug.
 */
#include "config.h"

#include "base/base.h"
#include "xen-internal.h"

#include <stdio.h>
#include <string.h>

/*
 * Handles: the world's ops, the world's handle, the world's name for logs.
 * Immutable after open, so calls need no lock (but gm_xs serialises).
 */
struct gm__hdr {
	const struct gm_xen_ops *ops;
	void *h;
	const char *world;
};

struct gm_gnttab {
	struct gm__hdr hd;
};

struct gm_gntshr {
	struct gm__hdr hd;
};

struct gm_evtchn {
	struct gm__hdr hd;
};

struct gm_xs {
	struct gm__hdr hd;
	pthread_mutex_t lock; /* held across every ops->xs_* call on hd.h */
};

/* An argument error: the caller's bug. */
#define GM__BADARG(fn)                                                                     \
	({                                                                                 \
		gm__dbg("%s: invalid argument", fn);                                       \
		-EINVAL;                                                                   \
	})

/* Errors a guest can cause by what it grants, binds or writes. */
static bool guest_caused(int err)
{
	switch (err) {
	case -EINVAL:
	case -ESRCH:
	case -ENOENT:
	case -EACCES:
	case -EPERM:
	case -ENOSPC:
	case -EBUSY:
		return true;
	default:
		return false;
	}
}

gm_log_level gm__xen_fail_level(int err)
{
	return guest_caused(err) ? GM_LOG_INFO : GM_LOG_WARNING;
}

/* ---- worlds ---------------------------------------------------------------- */

GM_API int gm_xen_open_ops(const struct gm_xen_ops *ops, void *world, gm_xen **out)
{
	gm_xen *x;

	if (!out)
		return GM__BADARG("gm_xen_open_ops");
	*out = NULL;
	if (!ops)
		return GM__BADARG("gm_xen_open_ops");
	x = gm__calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->ops = ops;
	x->world = world;
	x->name = ops->name ? ops->name : "custom";
	*out = x;
	return 0;
}

GM_API void *gm_xen_world(const gm_xen *x, const struct gm_xen_ops *ops)
{
	return x && ops && x->ops == ops ? x->world : NULL;
}

GM_API void gm_xen_close(gm_xen *x)
{
	if (!x)
		return;
	if (x->ops->world_close)
		x->ops->world_close(x->world);
	free(x);
}

GM_API const char *gm_xen_name(const gm_xen *x)
{
	return x ? x->name : "(none)";
}

GM_API int gm_xen_self_domid(gm_xen *x, gm_domid *domid)
{
	int r;

	if (!x || !domid)
		return GM__BADARG("gm_xen_self_domid");
	if (!x->ops->self_domid)
		return -EOPNOTSUPP;
	r = x->ops->self_domid(x->world, domid);
	if (r < 0)
		gm__warn("%s: self_domid: %s", x->name, gm_strerror(r));
	return r;
}

GM_API int gm_gntst_errno(int gntst)
{
	switch (gntst) {
	case GM_GNTST_OKAY:
		return 0;
	case GM_GNTST_BAD_GNTREF:
	case GM_GNTST_BAD_HANDLE:
	case GM_GNTST_BAD_VIRT_ADDR:
	case GM_GNTST_BAD_DEV_ADDR:
	case GM_GNTST_BAD_COPY_ARG:
	case GM_GNTST_ADDRESS_TOO_BIG:
		return -EINVAL;
	case GM_GNTST_BAD_DOMAIN:
		return -ESRCH;
	case GM_GNTST_PERMISSION_DENIED:
		return -EACCES;
	case GM_GNTST_EAGAIN:
		return -EAGAIN;
	case GM_GNTST_NO_DEVICE_SPACE:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

/*
 * Open a handle of one kind: the shared part of gm_{gnttab,gntshr,evtchn,xs}
 * _open.  @hsize is the size of the wrapper handle, which starts with a
 * struct gm__hdr.
 */
static struct gm__hdr *open_handle(gm_xen *x, size_t hsize, const char *site,
				  int (*op)(void *world, void **h), int *err)
{
	struct gm__hdr *hd;
	int r;

	*err = 0;
	if (!x) {
		*err = GM__BADARG(site);
		return NULL;
	}
	if (!op) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	hd = gm__calloc(1, hsize);
	if (!hd) {
		*err = -ENOMEM;
		return NULL;
	}
	hd->ops = x->ops;
	hd->world = x->name;
	r = gm__fault(site);
	if (!r) {
		r = op(x->world, &hd->h);
		if (r >= 0 && !hd->h)
			r = -EIO; /* a world that "succeeded" without a handle */
	}
	if (r < 0) {
		gm__warn("%s: %s: %s", x->name, site, gm_strerror(r));
		free(hd);
		*err = r;
		return NULL;
	}
	return hd;
}

/* The handle types start with their struct gm__hdr: convert back. */
#define GM__HANDLE(type, hd)                                                               \
	({                                                                                 \
		struct gm__hdr *hd_ = (hd);                                                \
		hd_ ? (type *)(void *)hd_ : NULL;                                          \
	})

/* ---- gnttab -------------------------------------------------------------------- */

GM_API int gm_gnttab_open(gm_xen *x, gm_gnttab **out)
{
	int r;

	if (!out)
		return GM__BADARG("gm_gnttab_open");
	*out = GM__HANDLE(gm_gnttab, open_handle(x, sizeof(gm_gnttab), "gnttab_open",
						  x ? x->ops->gnttab_open : NULL, &r));
	return r;
}

GM_API void gm_gnttab_close(gm_gnttab *g)
{
	if (!g)
		return;
	if (g->hd.ops->gnttab_close)
		g->hd.ops->gnttab_close(g->hd.h);
	free(g);
}

GM_API int gm_gnttab_set_max_grants(gm_gnttab *g, uint32_t count)
{
	int r;

	if (!g || !count)
		return GM__BADARG("gm_gnttab_set_max_grants");
	if (!g->hd.ops->gnttab_set_max_grants)
		return -EOPNOTSUPP;
	r = gm__fault("gnttab_set_max_grants");
	if (!r)
		r = g->hd.ops->gnttab_set_max_grants(g->hd.h, count);
	if (r < 0)
		gm__warn("%s: gnttab_set_max_grants(%u): %s", g->hd.world, count, gm_strerror(r));
	return r;
}

/* gm_gnttab_map, logging its failure unless @quiet. */
static void *gnttab_map(gm_gnttab *g, uint32_t count, gm_domid domid, const gm_gref *refs,
			int prot, int *err, bool quiet)
{
	int dummy, r;
	void *p = NULL;

	if (!err)
		err = &dummy;
	*err = 0;
	if (!g || !count || !refs || !prot || (prot & ~GM_PROT_RW)) {
		*err = GM__BADARG("gm_gnttab_map");
		return NULL;
	}
	if (!g->hd.ops->gnttab_map) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	r = gm__fault("gnttab_map");
	if (!r) {
		p = g->hd.ops->gnttab_map(g->hd.h, count, domid, refs, prot, &r);
		if (!p && r >= 0)
			r = -EIO;
		else if (p)
			r = 0;
	}
	if (r < 0) {
		if (!quiet)
			gm__log(gm__xen_fail_level(r),
				"%s: gnttab_map dom %u, %u ref(s) from %u, %s: %s", g->hd.world,
				domid, count, refs[0], (prot & GM_PROT_WRITE) ? "rw" : "ro",
				gm_strerror(r));
		*err = r;
		return NULL;
	}
	return p;
}

GM_API void *gm_gnttab_map(gm_gnttab *g, uint32_t count, gm_domid domid, const gm_gref *refs,
			   int prot, int *err)
{
	return gnttab_map(g, count, domid, refs, prot, err, false);
}

void *gm__gnttab_map_quiet(gm_gnttab *g, uint32_t count, gm_domid domid, const gm_gref *refs,
			   int prot, int *err)
{
	return gnttab_map(g, count, domid, refs, prot, err, true);
}

/* gm_gnttab_unmap, logging its failure unless @quiet. */
static int gnttab_unmap(gm_gnttab *g, void *addr, uint32_t count, bool quiet)
{
	int r;

	if (!g || !addr || !count || ((uintptr_t)addr & (GM_PAGE_SIZE - 1)))
		return GM__BADARG("gm_gnttab_unmap");
	if (!g->hd.ops->gnttab_unmap)
		return -EOPNOTSUPP;
	r = gm__fault("gnttab_unmap");
	if (!r)
		r = g->hd.ops->gnttab_unmap(g->hd.h, addr, count);
	if (r < 0 && !quiet)
		gm__warn("%s: gnttab_unmap %p, %u page(s): %s", g->hd.world, addr, count,
			 gm_strerror(r));
	return r;
}

GM_API int gm_gnttab_unmap(gm_gnttab *g, void *addr, uint32_t count)
{
	return gnttab_unmap(g, addr, count, false);
}

int gm__gnttab_unmap_quiet(gm_gnttab *g, void *addr, uint32_t count)
{
	return gnttab_unmap(g, addr, count, true);
}

/* Is one side of a copy segment well-formed? */
static bool seg_side_ok(const struct gm_copy_seg *s, bool gref, bool source)
{
	if (gref) {
		uint16_t off = source ? s->source.foreign.offset : s->dest.foreign.offset;

		return (uint32_t)off + s->len <= GM_PAGE_SIZE;
	}
	return s->len == 0 || (source ? s->source.virt : s->dest.virt) != NULL;
}

GM_API int gm_gnttab_copy(gm_gnttab *g, uint32_t count, struct gm_copy_seg *segs)
{
	int r;

	if (!g || !count || !segs)
		return GM__BADARG("gm_gnttab_copy");
	for (uint32_t i = 0; i < count; i++) {
		const struct gm_copy_seg *s = &segs[i];

		if ((s->flags & ~(GM_COPY_SOURCE_GREF | GM_COPY_DEST_GREF)) ||
		    !seg_side_ok(s, s->flags & GM_COPY_SOURCE_GREF, true) ||
		    !seg_side_ok(s, s->flags & GM_COPY_DEST_GREF, false)) {
			gm__dbg("gm_gnttab_copy: segment %u malformed (flags %#x, len %u)", i,
				s->flags, s->len);
			return -EINVAL;
		}
	}
	if (!g->hd.ops->gnttab_copy)
		return -EOPNOTSUPP;
	r = gm__fault("gnttab_copy");
	if (!r)
		r = g->hd.ops->gnttab_copy(g->hd.h, count, segs);
	if (r < 0) {
		gm__warn("%s: gnttab_copy of %u segment(s): %s", g->hd.world, count,
			 gm_strerror(r));
		return r;
	}
	if (gm__log_enabled(GM_LOG_DEBUG)) {
		unsigned bad = 0;

		for (uint32_t i = 0; i < count; i++)
			bad += segs[i].status != GM_GNTST_OKAY;
		if (bad)
			gm__dbg("%s: gnttab_copy: %u of %u segment(s) failed", g->hd.world, bad,
				count);
	}
	return 0;
}

/* ---- gntshr -------------------------------------------------------------------- */

GM_API int gm_gntshr_open(gm_xen *x, gm_gntshr **out)
{
	int r;

	if (!out)
		return GM__BADARG("gm_gntshr_open");
	*out = GM__HANDLE(gm_gntshr, open_handle(x, sizeof(gm_gntshr), "gntshr_open",
						  x ? x->ops->gntshr_open : NULL, &r));
	return r;
}

GM_API void gm_gntshr_close(gm_gntshr *s)
{
	if (!s)
		return;
	if (s->hd.ops->gntshr_close)
		s->hd.ops->gntshr_close(s->hd.h);
	free(s);
}

GM_API void *gm_gntshr_share(gm_gntshr *s, gm_domid domid, uint32_t count, gm_gref *refs,
			     int writable, int *err)
{
	int dummy, r;
	void *p = NULL;

	if (!err)
		err = &dummy;
	*err = 0;
	if (!s || !count || !refs) {
		*err = GM__BADARG("gm_gntshr_share");
		return NULL;
	}
	if (!s->hd.ops->gntshr_share) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	r = gm__fault("gntshr_share");
	if (!r) {
		p = s->hd.ops->gntshr_share(s->hd.h, domid, count, refs, !!writable, &r);
		if (!p && r >= 0)
			r = -EIO;
		else if (p)
			r = 0;
	}
	if (r < 0) {
		gm__warn("%s: gntshr_share %u page(s) with dom %u: %s", s->hd.world, count, domid,
			 gm_strerror(r));
		*err = r;
		return NULL;
	}
	return p;
}

GM_API int gm_gntshr_end_access(gm_gntshr *s, gm_gref ref)
{
	int r;

	if (!s)
		return GM__BADARG("gm_gntshr_end_access");
	if (!s->hd.ops->gntshr_end_access)
		return -EOPNOTSUPP;
	r = gm__fault("gntshr_end_access");
	if (!r)
		r = s->hd.ops->gntshr_end_access(s->hd.h, ref);
	if (r == -EBUSY)
		gm__dbg("%s: gntshr_end_access ref %u: still mapped", s->hd.world, ref);
	else if (r < 0)
		gm__warn("%s: gntshr_end_access ref %u: %s", s->hd.world, ref, gm_strerror(r));
	return r;
}

GM_API int gm_gntshr_unshare(gm_gntshr *s, void *addr, uint32_t count)
{
	int r;

	if (!s || !addr || !count)
		return GM__BADARG("gm_gntshr_unshare");
	if (!s->hd.ops->gntshr_unshare)
		return -EOPNOTSUPP;
	r = gm__fault("gntshr_unshare");
	if (!r)
		r = s->hd.ops->gntshr_unshare(s->hd.h, addr, count);
	if (r < 0)
		gm__log(r == -EBUSY ? GM_LOG_INFO : GM_LOG_WARNING,
			"%s: gntshr_unshare %p, %u page(s): %s", s->hd.world, addr, count,
			gm_strerror(r));
	return r;
}

/* ---- evtchn -------------------------------------------------------------------- */

GM_API int gm_evtchn_open(gm_xen *x, gm_evtchn **out)
{
	int r;

	if (!out)
		return GM__BADARG("gm_evtchn_open");
	*out = GM__HANDLE(gm_evtchn, open_handle(x, sizeof(gm_evtchn), "evtchn_open",
						  x ? x->ops->evtchn_open : NULL, &r));
	return r;
}

GM_API void gm_evtchn_close(gm_evtchn *e)
{
	if (!e)
		return;
	if (e->hd.ops->evtchn_close)
		e->hd.ops->evtchn_close(e->hd.h);
	free(e);
}

GM_API int gm_evtchn_fd(gm_evtchn *e)
{
	if (!e)
		return GM__BADARG("gm_evtchn_fd");
	if (!e->hd.ops->evtchn_fd)
		return -EOPNOTSUPP;
	return e->hd.ops->evtchn_fd(e->hd.h);
}

GM_API int gm_evtchn_bind_interdomain(gm_evtchn *e, gm_domid remote, gm_port remote_port)
{
	int r;

	if (!e)
		return GM__BADARG("gm_evtchn_bind_interdomain");
	if (!e->hd.ops->evtchn_bind_interdomain)
		return -EOPNOTSUPP;
	r = gm__fault("evtchn_bind_interdomain");
	if (!r)
		r = e->hd.ops->evtchn_bind_interdomain(e->hd.h, remote, remote_port);
	if (r < 0)
		gm__log(gm__xen_fail_level(r), "%s: evtchn_bind_interdomain dom %u port %u: %s",
			e->hd.world, remote, remote_port, gm_strerror(r));
	return r;
}

GM_API int gm_evtchn_bind_unbound(gm_evtchn *e, gm_domid remote)
{
	int r;

	if (!e)
		return GM__BADARG("gm_evtchn_bind_unbound");
	if (!e->hd.ops->evtchn_bind_unbound)
		return -EOPNOTSUPP;
	r = gm__fault("evtchn_bind_unbound");
	if (!r)
		r = e->hd.ops->evtchn_bind_unbound(e->hd.h, remote);
	if (r < 0)
		gm__warn("%s: evtchn_bind_unbound for dom %u: %s", e->hd.world, remote,
			 gm_strerror(r));
	return r;
}

/* The shared body of unbind, notify and unmask. */
static int evtchn_port_call(gm_evtchn *e, gm_port port, const char *site,
			    int (*op)(void *h, gm_port port))
{
	int r;

	if (!e)
		return GM__BADARG(site);
	if (!op)
		return -EOPNOTSUPP;
	r = gm__fault(site);
	if (!r)
		r = op(e->hd.h, port);
	if (r < 0)
		gm__log(gm__xen_fail_level(r), "%s: %s port %u: %s", e->hd.world, site, port,
			gm_strerror(r));
	return r;
}

GM_API int gm_evtchn_unbind(gm_evtchn *e, gm_port port)
{
	return evtchn_port_call(e, port, "evtchn_unbind", e ? e->hd.ops->evtchn_unbind : NULL);
}

GM_API int gm_evtchn_notify(gm_evtchn *e, gm_port port)
{
	return evtchn_port_call(e, port, "evtchn_notify", e ? e->hd.ops->evtchn_notify : NULL);
}

GM_API int gm_evtchn_unmask(gm_evtchn *e, gm_port port)
{
	return evtchn_port_call(e, port, "evtchn_unmask", e ? e->hd.ops->evtchn_unmask : NULL);
}

GM_API int gm_evtchn_pending(gm_evtchn *e)
{
	int r;

	if (!e)
		return GM__BADARG("gm_evtchn_pending");
	if (!e->hd.ops->evtchn_pending)
		return -EOPNOTSUPP;
	r = gm__fault("evtchn_pending");
	if (!r)
		r = e->hd.ops->evtchn_pending(e->hd.h);
	if (r < 0 && r != -EAGAIN)
		gm__warn("%s: evtchn_pending: %s", e->hd.world, gm_strerror(r));
	return r;
}

/* ---- xenstore ------------------------------------------------------------------ */

GM_API int gm_xs_open(gm_xen *x, gm_xs **out)
{
	int r;

	if (!out)
		return GM__BADARG("gm_xs_open");
	*out = GM__HANDLE(gm_xs, open_handle(x, sizeof(gm_xs), "xs_open",
					      x ? x->ops->xs_open : NULL, &r));
	if (r == 0 && (r = -pthread_mutex_init(&(*out)->lock, NULL)) < 0) {
		if ((*out)->hd.ops->xs_close)
			(*out)->hd.ops->xs_close((*out)->hd.h);
		free(*out);
		*out = NULL;
	}
	return r;
}

GM_API void gm_xs_close(gm_xs *h)
{
	if (!h)
		return;
	if (h->hd.ops->xs_close)
		h->hd.ops->xs_close(h->hd.h);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

GM_API int gm_xs_fd(gm_xs *h)
{
	if (!h)
		return GM__BADARG("gm_xs_fd");
	if (!h->hd.ops->xs_fd)
		return -EOPNOTSUPP;
	return h->hd.ops->xs_fd(h->hd.h);
}

/* Log a failed xenstore call on @path: a missing node is routine. */
static void xs_log_fail(gm_xs *h, const char *site, const char *path, int r)
{
	gm_log_level lvl = r == -ENOENT ? GM_LOG_DEBUG : gm__xen_fail_level(r);

	gm__log(lvl, "%s: %s %s: %s", h->hd.world, site, path ? path : "", gm_strerror(r));
}

static inline bool path_ok(const char *path)
{
	return path && *path;
}

GM_API int gm_xs_read(gm_xs *h, gm_xs_tx tx, const char *path, char **value, size_t *len)
{
	size_t dummy;
	int r;

	if (value)
		*value = NULL;
	if (!len)
		len = &dummy;
	*len = 0;
	if (!h || !path_ok(path) || !value)
		return GM__BADARG("gm_xs_read");
	if (!h->hd.ops->xs_read)
		return -EOPNOTSUPP;
	r = gm__fault("xs_read");
	if (!r) {
		pthread_mutex_lock(&h->lock);
		r = h->hd.ops->xs_read(h->hd.h, tx, path, value, len);
		pthread_mutex_unlock(&h->lock);
		if (r >= 0 && !*value)
			r = -EIO;
	}
	if (r < 0) {
		*value = NULL; /* a failing world owns what it left there */
		*len = 0;
		xs_log_fail(h, "xs_read", path, r);
	}
	return r;
}

GM_API int gm_xs_write(gm_xs *h, gm_xs_tx tx, const char *path, const void *value, size_t len)
{
	int r;

	if (!h || !path_ok(path) || (!value && len))
		return GM__BADARG("gm_xs_write");
	if (!h->hd.ops->xs_write)
		return -EOPNOTSUPP;
	r = gm__fault("xs_write");
	if (!r) {
		pthread_mutex_lock(&h->lock);
		r = h->hd.ops->xs_write(h->hd.h, tx, path, value ? value : "", len);
		pthread_mutex_unlock(&h->lock);
	}
	if (r < 0)
		xs_log_fail(h, "xs_write", path, r);
	return r;
}

GM_API int gm_xs_write_str(gm_xs *h, gm_xs_tx tx, const char *path, const char *value)
{
	if (!value)
		return GM__BADARG("gm_xs_write_str");
	return gm_xs_write(h, tx, path, value, strlen(value));
}

GM_API int gm_xs_directory(gm_xs *h, gm_xs_tx tx, const char *path, char ***names)
{
	int r;

	if (names)
		*names = NULL;
	if (!h || !path_ok(path) || !names)
		return GM__BADARG("gm_xs_directory");
	if (!h->hd.ops->xs_directory)
		return -EOPNOTSUPP;
	r = gm__fault("xs_directory");
	if (!r) {
		pthread_mutex_lock(&h->lock);
		r = h->hd.ops->xs_directory(h->hd.h, tx, path, names);
		pthread_mutex_unlock(&h->lock);
		if (r >= 0 && !*names)
			r = -EIO;
	}
	if (r < 0) {
		*names = NULL;
		xs_log_fail(h, "xs_directory", path, r);
	}
	return r;
}

/* The shared body of rm and mkdir. */
static int xs_path_call(gm_xs *h, gm_xs_tx tx, const char *path, const char *site,
			int (*op)(void *h, gm_xs_tx tx, const char *path))
{
	int r;

	if (!h || !path_ok(path))
		return GM__BADARG(site);
	if (!op)
		return -EOPNOTSUPP;
	r = gm__fault(site);
	if (!r) {
		pthread_mutex_lock(&h->lock);
		r = op(h->hd.h, tx, path);
		pthread_mutex_unlock(&h->lock);
	}
	if (r < 0)
		xs_log_fail(h, site, path, r);
	return r;
}

GM_API int gm_xs_rm(gm_xs *h, gm_xs_tx tx, const char *path)
{
	return xs_path_call(h, tx, path, "xs_rm", h ? h->hd.ops->xs_rm : NULL);
}

GM_API int gm_xs_mkdir(gm_xs *h, gm_xs_tx tx, const char *path)
{
	return xs_path_call(h, tx, path, "xs_mkdir", h ? h->hd.ops->xs_mkdir : NULL);
}

GM_API int gm_xs_set_perms(gm_xs *h, gm_xs_tx tx, const char *path, const struct gm_xs_perm *p,
			   unsigned n)
{
	int r;

	if (!h || !path_ok(path) || !p || !n)
		return GM__BADARG("gm_xs_set_perms");
	for (unsigned i = 0; i < n; i++)
		if (p[i].perms & ~(unsigned)(GM_XS_PERM_READ | GM_XS_PERM_WRITE))
			return GM__BADARG("gm_xs_set_perms");
	if (!h->hd.ops->xs_set_perms)
		return -EOPNOTSUPP;
	r = gm__fault("xs_set_perms");
	if (!r) {
		pthread_mutex_lock(&h->lock);
		r = h->hd.ops->xs_set_perms(h->hd.h, tx, path, p, n);
		pthread_mutex_unlock(&h->lock);
	}
	if (r < 0)
		xs_log_fail(h, "xs_set_perms", path, r);
	return r;
}

/* The shared body of watch and unwatch. */
static int xs_watch_call(gm_xs *h, const char *path, const char *token, const char *site,
			 int (*op)(void *h, const char *path, const char *token))
{
	int r;

	if (!h || !path_ok(path) || !token)
		return GM__BADARG(site);
	if (!op)
		return -EOPNOTSUPP;
	r = gm__fault(site);
	if (!r) {
		pthread_mutex_lock(&h->lock);
		r = op(h->hd.h, path, token);
		pthread_mutex_unlock(&h->lock);
	}
	if (r < 0)
		xs_log_fail(h, site, path, r);
	return r;
}

GM_API int gm_xs_watch(gm_xs *h, const char *path, const char *token)
{
	return xs_watch_call(h, path, token, "xs_watch", h ? h->hd.ops->xs_watch : NULL);
}

GM_API int gm_xs_unwatch(gm_xs *h, const char *path, const char *token)
{
	return xs_watch_call(h, path, token, "xs_unwatch", h ? h->hd.ops->xs_unwatch : NULL);
}

GM_API int gm_xs_read_watch(gm_xs *h, char **path, char **token)
{
	int r;

	if (path)
		*path = NULL;
	if (token)
		*token = NULL;
	if (!h || !path || !token)
		return GM__BADARG("gm_xs_read_watch");
	if (!h->hd.ops->xs_read_watch)
		return -EOPNOTSUPP;
	r = gm__fault("xs_read_watch");
	if (!r) {
		pthread_mutex_lock(&h->lock);
		r = h->hd.ops->xs_read_watch(h->hd.h, path, token);
		pthread_mutex_unlock(&h->lock);
		if (r >= 0 && (!*path || !*token)) {
			free(*path); /* ours: the call succeeded */
			free(*token);
			r = -EIO;
		}
	}
	if (r < 0) {
		*path = *token = NULL;
		if (r != -EAGAIN)
			xs_log_fail(h, "xs_read_watch", NULL, r);
	}
	return r;
}

GM_API int gm_xs_tx_start(gm_xs *h, gm_xs_tx *tx)
{
	int r;

	if (tx)
		*tx = GM_XS_TX_NONE;
	if (!h || !tx)
		return GM__BADARG("gm_xs_tx_start");
	if (!h->hd.ops->xs_tx_start)
		return -EOPNOTSUPP;
	r = gm__fault("xs_tx_start");
	if (!r) {
		pthread_mutex_lock(&h->lock);
		r = h->hd.ops->xs_tx_start(h->hd.h, tx);
		pthread_mutex_unlock(&h->lock);
		if (r >= 0 && *tx == GM_XS_TX_NONE)
			r = -EIO;
	}
	if (r < 0) {
		*tx = GM_XS_TX_NONE;
		xs_log_fail(h, "xs_tx_start", NULL, r);
	}
	return r;
}

GM_API int gm_xs_tx_end(gm_xs *h, gm_xs_tx tx, int abort)
{
	int r;

	if (!h || tx == GM_XS_TX_NONE)
		return GM__BADARG("gm_xs_tx_end");
	if (!h->hd.ops->xs_tx_end)
		return -EOPNOTSUPP;
	r = gm__fault("xs_tx_end");
	if (!r) {
		pthread_mutex_lock(&h->lock);
		r = h->hd.ops->xs_tx_end(h->hd.h, tx, !!abort);
		pthread_mutex_unlock(&h->lock);
	}
	if (r == -EAGAIN)
		gm__dbg("%s: xs_tx_end: conflict", h->hd.world);
	else if (r < 0)
		xs_log_fail(h, "xs_tx_end", NULL, r);
	return r;
}

GM_API int gm_xs_transact(gm_xs *h, int (*fn)(gm_xs *h, gm_xs_tx tx, void *arg), void *arg,
			  unsigned max_tries)
{
	if (!h || !fn || !max_tries)
		return GM__BADARG("gm_xs_transact");
	for (unsigned i = 0; i < max_tries; i++) {
		gm_xs_tx tx;
		int r, fr;

		r = gm_xs_tx_start(h, &tx);
		if (r < 0)
			return r;
		fr = fn(h, tx, arg);
		if (fr < 0) {
			gm_xs_tx_end(h, tx, 1);
			return fr;
		}
		r = gm_xs_tx_end(h, tx, 0);
		if (r == 0)
			return fr;
		if (r != -EAGAIN)
			return r;
	}
	gm__info("%s: xenstore transaction still conflicting after %u tries", h->hd.world,
		 max_tries);
	return -EAGAIN;
}

GM_API int gm_xs_domain_path(gm_xs *h, gm_domid domid, char **path)
{
	int r;

	if (path)
		*path = NULL;
	if (!h || !path)
		return GM__BADARG("gm_xs_domain_path");
	if (!h->hd.ops->xs_domain_path)
		return -EOPNOTSUPP;
	r = gm__fault("xs_domain_path");
	if (!r) {
		pthread_mutex_lock(&h->lock);
		r = h->hd.ops->xs_domain_path(h->hd.h, domid, path);
		pthread_mutex_unlock(&h->lock);
		if (r >= 0 && !*path)
			r = -EIO;
	}
	if (r < 0) {
		*path = NULL;
		gm__warn("%s: xs_domain_path dom %u: %s", h->hd.world, domid, gm_strerror(r));
	}
	return r;
}
