/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Xen ops: the public wrappers over a world's `struct gm_xen_ops`.
 *
 * Every wrapper takes the same steps, written once in GM__RUN below:
 * validate its arguments (-EINVAL, logged at debug: the caller's bug), find
 * the callback (-EOPNOTSUPP when the world lacks it; not logged), pass the
 * fault site of the call (an injected errno is returned as the op's own
 * failure, without calling the op), call the op (holding the handle's lock
 * for xenstore), then log a failure at the level of its class.  Each
 * wrapper is one entry of the lists at the end of this file: its signature,
 * its validation, its log class and what its log line says.
 *
 * Log levels (xen.h states them for callers): failures a hostile or
 * departing guest can cause (a bad ref, port or path, a mapping budget
 * reached, a busy grant) log at info or debug so that a guest cannot flood
 * the host's log; failures of Xen or of the host that the caller must act on
 * (a handle that does not open, an unmap that fails) log at warning.
 */
#include "config.h"

#include "base/base.h"
#include "xen-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Every handle: the world's ops, the world's handle, the world's name for
 * logs.  Immutable after open, so calls need no lock, except on a serial
 * handle (gm_xs), whose every ops call holds @lock.
 */
struct gm__hdr {
	const struct gm_xen_ops *ops;
	void *h;
	const char *world;
	bool serial;
	pthread_mutex_t lock; /* initialised only if @serial */
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
};

static inline void hd_lock(struct gm__hdr *hd)
{
	if (hd->serial)
		pthread_mutex_lock(&hd->lock);
}

static inline void hd_unlock(struct gm__hdr *hd)
{
	if (hd->serial)
		pthread_mutex_unlock(&hd->lock);
}

/* An argument error: the caller's bug. */
#define GM__BADARG(fn)                                                                     \
	({                                                                                 \
		gm__dbg("%s: invalid argument", fn);                                       \
		-EINVAL;                                                                   \
	})

/* ---- log classes ----------------------------------------------------------------- */

gm_log_level gm__xen_fail_level(int err)
{
	switch (err) {
	case -EINVAL:
	case -ESRCH:
	case -ENOENT:
	case -EACCES:
	case -EPERM:
	case -ENOSPC:
	case -EBUSY:
		return GM_LOG_INFO;
	default:
		return GM_LOG_WARNING;
	}
}

/*
 * How a wrapper logs the failure of its op:
 *
 *   class   level
 *   HOST    warning: Xen or the host failed, the caller must act
 *   GUEST   gm__xen_fail_level(): info for what a guest can cause, else warning
 *   XS      as GUEST, but a missing node (-ENOENT) at debug: it is routine
 *   QUIET   not logged: the quiet twins, whose callers log the failure
 *
 * LOG(class) is the rule of most ops.  LOG_BUT(class, errno, level) names one
 * errno of the op's normal life, logged at @level instead, or not at all
 * (NOLOG).
 */
enum fail_class { FAIL_HOST, FAIL_GUEST, FAIL_XS, FAIL_QUIET };

#define NOLOG (-1)

struct fail_rule {
	enum fail_class cls;
	int expected; /* 0, or an errno ... */
	int level;    /* ... logged at this level (or NOLOG) */
};

#define LOG(cls) ((struct fail_rule){FAIL_##cls, 0, NOLOG})
#define LOG_BUT(cls, err, lvl) ((struct fail_rule){FAIL_##cls, (err), (lvl)})

static int fail_level(struct fail_rule rule, int err)
{
	if (rule.cls == FAIL_QUIET)
		return NOLOG;
	if (rule.expected && err == rule.expected)
		return rule.level;
	if (rule.cls == FAIL_XS && err == -ENOENT)
		return GM_LOG_DEBUG;
	if (rule.cls == FAIL_HOST)
		return GM_LOG_WARNING;
	return gm__xen_fail_level(err);
}

/*
 * Log the failure @err of @site on @world as @rule says:
 * "<world>: <site><detail>: <error>", where <error> is the world's
 * explanation @why if it gave one (NULL: none), else the errno's text.
 */
static void call_failed(const char *world, struct fail_rule rule, const char *site, int err,
			const char *why, const char *fmt, ...) GM__PRINTF(6, 7);

static void call_failed(const char *world, struct fail_rule rule, const char *site, int err,
			const char *why, const char *fmt, ...)
{
	int level = fail_level(rule, err);
	char detail[160];
	va_list ap;

	if (level == NOLOG || !gm__log_enabled((gm_log_level)level))
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	gm__log((gm_log_level)level, "%s: %s%s: %s", world, site, detail,
		why ? why : gm_strerror(err));
}

#define NO_DETAIL "%s", ""

/*
 * A world's explanation of the open (or self_domid) in progress on this
 * thread: gm__xen_explain() writes it, why_clear() and why_take() frame the
 * world's call.
 */
static __thread char explained[400];

void gm__xen_explain(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(explained, sizeof(explained), fmt, ap);
	va_end(ap);
}

static void why_clear(void)
{
	explained[0] = '\0';
}

/* The explanation, if the world gave one since why_clear(); NULL if not. */
static const char *why_take(void)
{
	return explained[0] ? explained : NULL;
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
	int r = gm__abi_in(&x->opsv, sizeof(x->opsv), ops,
			   GM__ABI_V1(struct gm_xen_ops, world_close));
	if (r < 0) {
		free(x);
		return r;
	}
	x->ops = &x->opsv;
	x->id = ops;
	x->world = world;
	x->name = x->ops->name ? x->ops->name : "custom";
	*out = x;
	return 0;
}

GM_API void *gm_xen_world(const gm_xen *x, const struct gm_xen_ops *ops)
{
	return x && ops && x->id == ops ? x->world : NULL;
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
	why_clear();
	r = x->ops->self_domid(x->world, domid);
	if (r < 0)
		call_failed(x->name, LOG(HOST), "self_domid", r, why_take(), NO_DETAIL);
	why_clear();
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

/* ---- opening and closing handles ---------------------------------------------------- */

/*
 * Open a handle of any kind on @x with @op (x->ops-><kind>_open, NULL if the
 * world has none) for the wrapper @fn; fault site and log name @site.  A
 * @serial handle holds its lock across every ops call.
 */
static struct gm__hdr *open_handle(gm_xen *x, const char *fn, const char *site,
				   int (*op)(void *world, void **h), bool serial, int *err)
{
	struct gm__hdr *hd;
	int r;

	*err = 0;
	if (!x) {
		*err = GM__BADARG(fn);
		return NULL;
	}
	if (!op) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	hd = gm__calloc(1, sizeof(*hd));
	if (!hd) {
		*err = -ENOMEM;
		return NULL;
	}
	hd->ops = x->ops;
	hd->world = x->name;
	why_clear();
	r = gm__fault(site);
	if (!r && serial)
		r = -pthread_mutex_init(&hd->lock, NULL);
	hd->serial = serial && !r;
	if (!r) {
		r = op(x->world, &hd->h);
		if (r >= 0 && !hd->h)
			r = -EIO; /* a world that "succeeded" without a handle */
	}
	if (r < 0) {
		call_failed(x->name, LOG(HOST), site, r, why_take(), NO_DETAIL);
		why_clear();
		if (hd->serial)
			pthread_mutex_destroy(&hd->lock);
		free(hd);
		*err = r;
		return NULL;
	}
	return hd;
}

static void close_handle(struct gm__hdr *hd, void (*op)(void *h))
{
	if (op)
		op(hd->h);
	if (hd->serial)
		pthread_mutex_destroy(&hd->lock);
	free(hd);
}

/*
 * GM__KIND(type, kind, serial): gm_<kind>_open(gm_xen *x, type **out) and
 * gm_<kind>_close(type *v) over ops-><kind>_open and ops-><kind>_close;
 * fault site "<kind>_open".  A handle type is its struct gm__hdr.
 */
#define GM__KIND(T, kind, serial)                                                          \
	GM_API int gm_##kind##_open(gm_xen *x, T **out)                                    \
	{                                                                                  \
		struct gm__hdr *hd;                                                        \
		int r;                                                                     \
                                                                                           \
		if (!out)                                                                  \
			return GM__BADARG("gm_" #kind "_open");                            \
		hd = open_handle(x, "gm_" #kind "_open", #kind "_open",                    \
				 x ? x->ops->kind##_open : NULL, (serial), &r);            \
		*out = hd ? (T *)(void *)hd : NULL;                                        \
		return r;                                                                  \
	}                                                                                  \
                                                                                           \
	GM_API void gm_##kind##_close(T *v)                                                \
	{                                                                                  \
		if (v)                                                                     \
			close_handle(&v->hd, v->hd.ops->kind##_close);                     \
	}

/* ---- calls ---------------------------------------------------------------------------- */

/* ", a, b" for (a, b); nothing for (): what follows the handle in a list. */
#define GM__TAIL(...) , ##__VA_ARGS__

/*
 * The steps of every call, written once: sets @r to -EINVAL unless @v and
 * @valid; else to -EOPNOTSUPP when the world has no ops-><op>; else to the
 * errno fault site "<op>" injects; else to the value of @call (the op,
 * under the handle's lock) and then, if that succeeded and @check (0 or a
 * negative errno) fails, to @check.  Failures of the last two are logged as
 * @rule says, with the detail (a format and its arguments).
 */
#define GM__RUN(r, v, op, rule, valid, call, check, ...)                                   \
	do {                                                                               \
		if (!(v) || !(valid)) {                                                    \
			r = GM__BADARG("gm_" #op);                                         \
			break;                                                             \
		}                                                                          \
		if (!(v)->hd.ops->op) {                                                    \
			r = -EOPNOTSUPP;                                                   \
			break;                                                             \
		}                                                                          \
		r = gm__fault(#op);                                                        \
		if (!r) {                                                                  \
			hd_lock(&(v)->hd);                                                 \
			r = (call);                                                        \
			hd_unlock(&(v)->hd);                                               \
			if (r >= 0) {                                                      \
				int c_ = (check);                                          \
				if (c_ < 0)                                                \
					r = c_;                                            \
			}                                                                  \
		}                                                                          \
		if (r < 0)                                                                 \
			call_failed((v)->hd.world, (rule), #op, r, NULL, __VA_ARGS__);     \
	} while (0)

/*
 * GM__CALL_OUT(type, v, op, rule, (params), valid, (args), reset, check, detail...)
 *
 *	GM_API int gm_<op>(type *v, params)
 *
 * calls ops-><op>(v's world handle, args) as GM__RUN says and returns its
 * result.  @reset clears the call's outputs: on entry (so it must accept
 * NULL pointers) and after any failure (what a failing world left there is
 * its own).  @check runs once the op succeeded: 0, or a negative errno
 * that becomes the result (NEED(): -EIO for an output the world left empty).
 */
#define GM__CALL_OUT(T, v, op, rule, params, valid, args, reset, check, ...)               \
	GM_API int gm_##op(T *v GM__TAIL params)                                           \
	GM__INT_BODY(v, op, rule, valid, args, reset, check, __VA_ARGS__)

#define GM__INT_BODY(v, op, rule, valid, args, reset, check, ...)                          \
	{                                                                                  \
		int r_;                                                                    \
                                                                                           \
		reset;                                                                     \
		GM__RUN(r_, v, op, rule, valid, v->hd.ops->op(v->hd.h GM__TAIL args), check, \
			__VA_ARGS__);                                                      \
		if (r_ < 0)                                                                \
			reset;                                                             \
		return r_;                                                                 \
	}

/* GM__CALL(type, v, op, rule, (params), valid, (args), detail...): no outputs. */
#define GM__CALL(T, v, op, rule, params, valid, args, ...)                                 \
	GM__CALL_OUT(T, v, op, rule, params, valid, args, (void)0, 0, __VA_ARGS__)

/*
 * GM__CALL_QUIET_TOO(...): GM__CALL, and its quiet twin
 *
 *	int gm__<op>_quiet(type *v, params)
 *
 * the same call but for the failure's log line (xen-internal.h).
 */
#define GM__CALL_QUIET_TOO(T, v, op, rule, params, valid, args, ...)                       \
	GM__CALL(T, v, op, rule, params, valid, args, __VA_ARGS__)                         \
	int gm__##op##_quiet(T *v GM__TAIL params)                                         \
	GM__INT_BODY(v, op, LOG(QUIET), valid, args, (void)0, 0, __VA_ARGS__)

/*
 * GM__CALL_PTR(type, v, op, rule, (params), valid, (args), detail...)
 *
 *	GM_API void *gm_<op>(type *v, params, int *err)
 *
 * for an op that returns a pointer, or NULL with its errno in its last
 * argument: returns the pointer, or NULL with *err (if @err) set; a NULL
 * without an errno is -EIO, never success.
 */
#define GM__CALL_PTR(T, v, op, rule, params, valid, args, ...)                             \
	GM_API void *gm_##op(T *v GM__TAIL params, int *err)                               \
	GM__PTR_BODY(v, op, rule, valid, args, __VA_ARGS__)

#define GM__PTR_BODY(v, op, rule, valid, args, ...)                                        \
	{                                                                                  \
		void *p_ = NULL;                                                           \
		int r_, e_ = 0;                                                            \
                                                                                           \
		GM__RUN(r_, v, op, rule, valid,                                            \
			(p_ = v->hd.ops->op(v->hd.h GM__TAIL args, &e_),                   \
			 p_ ? 0 : e_ < 0 ? e_ : -EIO),                                     \
			0, __VA_ARGS__);                                                   \
		if (err)                                                                   \
			*err = r_ < 0 ? r_ : 0;                                            \
		return r_ < 0 ? NULL : p_;                                                 \
	}

/* GM__CALL_PTR_QUIET_TOO(...): GM__CALL_PTR, and gm__<op>_quiet() likewise. */
#define GM__CALL_PTR_QUIET_TOO(T, v, op, rule, params, valid, args, ...)                   \
	GM__CALL_PTR(T, v, op, rule, params, valid, args, __VA_ARGS__)                     \
	void *gm__##op##_quiet(T *v GM__TAIL params, int *err)                             \
	GM__PTR_BODY(v, op, LOG(QUIET), valid, args, __VA_ARGS__)

/*
 * GM__FD(type, v, op): GM_API int gm_<op>(type *v), the handle's fd; no fault
 * site, never logs.
 */
#define GM__FD(T, v, op)                                                                   \
	GM_API int gm_##op(T *v)                                                           \
	{                                                                                  \
		if (!v)                                                                    \
			return GM__BADARG("gm_" #op);                                      \
		if (!v->hd.ops->op)                                                        \
			return -EOPNOTSUPP;                                                \
		return v->hd.ops->op(v->hd.h);                                             \
	}

/* Clear one output (@p may be NULL). */
#define CLEAR(p) ((p) ? (void)(*(p) = 0) : (void)0)
/* An op that succeeded must have filled its output. */
#define NEED(c) ((c) ? 0 : -EIO)

_Static_assert(GM_XS_TX_NONE == 0, "CLEAR() of a transaction is GM_XS_TX_NONE");

/* ---- validation and checks of single calls ------------------------------------------- */

static inline bool page_aligned(const void *addr)
{
	return !((uintptr_t)addr & (GM_PAGE_SIZE - 1));
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

/* Known flags, and no foreign side crossing a page end (Xen refuses it). */
static bool segs_ok(const struct gm_copy_seg *segs, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		const struct gm_copy_seg *s = &segs[i];

		if ((s->flags & ~(GM_COPY_SOURCE_GREF | GM_COPY_DEST_GREF)) ||
		    !seg_side_ok(s, s->flags & GM_COPY_SOURCE_GREF, true) ||
		    !seg_side_ok(s, s->flags & GM_COPY_DEST_GREF, false)) {
			gm__dbg("gm_gnttab_copy: segment %u malformed (flags %#x, len %u)", i,
				s->flags, s->len);
			return false;
		}
	}
	return true;
}

/* After a copy ran: failed segments are the caller's to judge (debug). */
static int copy_report(const gm_gnttab *g, uint32_t count, const struct gm_copy_seg *segs)
{
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

static inline bool path_ok(const char *path)
{
	return path && *path;
}

static bool perms_ok(const struct gm_xs_perm *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i].perms & ~(unsigned)(GM_XS_PERM_READ | GM_XS_PERM_WRITE))
			return false;
	return true;
}

/* A fired watch has both strings: else free the one there is (ours: the
 * call succeeded) and say so. */
static bool watch_complete(char **path, char **token)
{
	if (*path && *token)
		return true;
	free(*path);
	free(*token);
	*path = *token = NULL;
	return false;
}

/* ---- the wrappers ------------------------------------------------------------------------ */

GM__KIND(gm_gnttab, gnttab, false)
GM__KIND(gm_gntshr, gntshr, false)
GM__KIND(gm_evtchn, evtchn, false)
GM__KIND(gm_xs, xs, true)

GM__FD(gm_evtchn, e, evtchn_fd)
GM__FD(gm_xs, h, xs_fd)

/* gnttab */

GM__CALL(gm_gnttab, g, gnttab_set_max_grants, LOG(HOST),
	 (uint32_t count), count,
	 (count), "(%u)", count)

GM__CALL_PTR_QUIET_TOO(gm_gnttab, g, gnttab_map, LOG(GUEST),
		       (uint32_t count, gm_domid domid, const gm_gref *refs, int prot),
		       count && refs && prot && !(prot & ~GM_PROT_RW),
		       (count, domid, refs, prot),
		       " dom %u, %u ref(s) from %u, %s", domid, count, refs[0],
		       (prot & GM_PROT_WRITE) ? "rw" : "ro")

GM__CALL_QUIET_TOO(gm_gnttab, g, gnttab_unmap, LOG(HOST),
		   (void *addr, uint32_t count), addr && count && page_aligned(addr),
		   (addr, count), " %p, %u page(s)", addr, count)

GM__CALL_OUT(gm_gnttab, g, gnttab_copy, LOG(HOST),
	     (uint32_t count, struct gm_copy_seg *segs), count && segs && segs_ok(segs, count),
	     (count, segs), (void)0, copy_report(g, count, segs),
	     " of %u segment(s)", count)

/* gntshr */

GM__CALL_PTR(gm_gntshr, s, gntshr_share, LOG(HOST),
	     (gm_domid domid, uint32_t count, gm_gref *refs, int writable), count && refs,
	     (domid, count, refs, !!writable), " %u page(s) with dom %u", count, domid)

GM__CALL(gm_gntshr, s, gntshr_end_access, LOG_BUT(HOST, -EBUSY, GM_LOG_DEBUG),
	 (gm_gref ref), true,
	 (ref), " ref %u", ref)

GM__CALL(gm_gntshr, s, gntshr_unshare, LOG_BUT(HOST, -EBUSY, GM_LOG_INFO),
	 (void *addr, uint32_t count), addr && count,
	 (addr, count), " %p, %u page(s)", addr, count)

/* evtchn */

GM__CALL(gm_evtchn, e, evtchn_bind_interdomain, LOG(GUEST),
	 (gm_domid remote, gm_port remote_port), true,
	 (remote, remote_port), " dom %u port %u", remote, remote_port)

GM__CALL(gm_evtchn, e, evtchn_bind_unbound, LOG(HOST),
	 (gm_domid remote), true,
	 (remote), " for dom %u", remote)

GM__CALL(gm_evtchn, e, evtchn_unbind, LOG(GUEST),
	 (gm_port port), true,
	 (port), " port %u", port)

GM__CALL(gm_evtchn, e, evtchn_notify, LOG(GUEST),
	 (gm_port port), true,
	 (port), " port %u", port)

GM__CALL(gm_evtchn, e, evtchn_unmask, LOG(GUEST),
	 (gm_port port), true,
	 (port), " port %u", port)

GM__CALL(gm_evtchn, e, evtchn_pending, LOG_BUT(HOST, -EAGAIN, NOLOG),
	 (), true,
	 (), NO_DETAIL)

/* xenstore: every call holds the handle's lock */

GM__CALL_OUT(gm_xs, h, xs_read, LOG(XS),
	     (gm_xs_tx tx, const char *path, char **value, size_t *len), path_ok(path) && value,
	     (tx, path, value, len ? len : &(size_t){0}),
	     (CLEAR(value), CLEAR(len)), NEED(*value), " %s", path)

GM__CALL(gm_xs, h, xs_write, LOG(XS),
	 (gm_xs_tx tx, const char *path, const void *value, size_t len),
	 path_ok(path) && (value || !len),
	 (tx, path, value ? value : "", len), " %s", path)

GM__CALL_OUT(gm_xs, h, xs_directory, LOG(XS),
	     (gm_xs_tx tx, const char *path, char ***names), path_ok(path) && names,
	     (tx, path, names), CLEAR(names), NEED(*names), " %s", path)

GM__CALL(gm_xs, h, xs_rm, LOG(XS),
	 (gm_xs_tx tx, const char *path), path_ok(path),
	 (tx, path), " %s", path)

GM__CALL(gm_xs, h, xs_mkdir, LOG(XS),
	 (gm_xs_tx tx, const char *path), path_ok(path),
	 (tx, path), " %s", path)

GM__CALL(gm_xs, h, xs_set_perms, LOG(XS),
	 (gm_xs_tx tx, const char *path, const struct gm_xs_perm *p, unsigned n),
	 path_ok(path) && p && n && perms_ok(p, n),
	 (tx, path, p, n), " %s", path)

GM__CALL(gm_xs, h, xs_watch, LOG(XS),
	 (const char *path, const char *token), path_ok(path) && token,
	 (path, token), " %s", path)

GM__CALL(gm_xs, h, xs_unwatch, LOG(XS),
	 (const char *path, const char *token), path_ok(path) && token,
	 (path, token), " %s", path)

GM__CALL_OUT(gm_xs, h, xs_read_watch, LOG_BUT(XS, -EAGAIN, NOLOG),
	     (char **path, char **token), path && token,
	     (path, token), (CLEAR(path), CLEAR(token)), NEED(watch_complete(path, token)),
	     NO_DETAIL)

GM__CALL_OUT(gm_xs, h, xs_tx_start, LOG(XS),
	     (gm_xs_tx *tx), tx,
	     (tx), CLEAR(tx), NEED(*tx != GM_XS_TX_NONE), NO_DETAIL)

GM__CALL(gm_xs, h, xs_tx_end, LOG_BUT(XS, -EAGAIN, GM_LOG_DEBUG),
	 (gm_xs_tx tx, int abort), tx != GM_XS_TX_NONE,
	 (tx, !!abort), NO_DETAIL)

GM__CALL_OUT(gm_xs, h, xs_domain_path, LOG(HOST),
	     (gm_domid domid, char **path), path,
	     (domid, path), CLEAR(path), NEED(*path), " dom %u", domid)

/* ---- built on the wrappers ------------------------------------------------------------- */

GM_API int gm_xs_write_str(gm_xs *h, gm_xs_tx tx, const char *path, const char *value)
{
	if (!value)
		return GM__BADARG("gm_xs_write_str");
	return gm_xs_write(h, tx, path, value, strlen(value));
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
