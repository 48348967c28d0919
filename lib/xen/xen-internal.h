/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem internals of the Xen ops facade: the world behind a gm_xen
 * (lib/xen/xen.c), and the quiet wrappers that the layers above in
 * libgrantmem use when they log a failure themselves.  Never installed.
 */
#ifndef GM_XEN_INTERNAL_H
#define GM_XEN_INTERNAL_H

#include <grantmem/xen.h>

/*
 * A world: an ops table and the world's own state.  Immutable after
 * creation, so it may be shared by every thread without a lock.
 */
struct gm_xen {
	const struct gm_xen_ops *ops; /* &opsv */
	const struct gm_xen_ops *id;  /* the caller's table: gm_xen_world() */
	struct gm_xen_ops opsv;       /* its copy, at this library's size */
	void *world;                  /* passed to ops->*_open, ops->self_domid */
	const char *name;             /* for logs: ops->name or "custom" */
};

/*
 * A world is built with gm_xen_open_ops(); gm_xen_close() releases @world
 * through ops->world_close.  If gm_xen_open_ops() fails, world_close is NOT
 * called: the caller still owns @world.
 */

/*
 * gm__gnttab_map_quiet, gm__gnttab_unmap_quiet - gm_gnttab_map and
 * gm_gnttab_unmap exactly (arguments, fault sites, errors) except that a
 * failure of the world is not logged: for callers that say more about it
 * than the wrapper can (the grant cache retries, probes, then logs one line).
 */
void *gm__gnttab_map_quiet(gm_gnttab *g, uint32_t count, gm_domid domid, const gm_gref *refs,
			   int prot, int *err);
int gm__gnttab_unmap_quiet(gm_gnttab *g, void *addr, uint32_t count);

/*
 * gm__xen_fail_level - the level a failure with negative errno @err logs at
 * (xen.h): info for what a guest can cause (-EINVAL, -ESRCH, -ENOENT,
 * -EACCES, -EPERM, -ENOSPC, -EBUSY), warning for the rest.  The same
 * errnos are what a caller may expect when opening a world (no device, no
 * rights, a bad argument): gm_xen_open logs those at info too.
 */
gm_log_level gm__xen_fail_level(int err);

/*
 * gm__xen_explain - for a world's *_open and self_domid callbacks that are
 * about to fail where the errno alone would not tell the user what is wrong
 * (a device that is absent, and what to do about it).  The wrapper's one
 * failure line then carries this text in place of the errno's; the errno
 * returned and the line's level stay as they are.  Per thread, and read only
 * by the opens and gm_xen_self_domid, which clear it before calling the
 * world.  Never logs.
 */
void gm__xen_explain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* GM_XEN_INTERNAL_H */
