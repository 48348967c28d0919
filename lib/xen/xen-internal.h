/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem internals: Xen worlds (lib/xen.c) and the worlds that build them
 * (backends/xen-real.c, backends/emu*).  Never installed.
 */
#ifndef GM_XEN_INTERNAL_H
#define GM_XEN_INTERNAL_H

#include <grantmem/xen.h>

/*
 * A world: an ops table and the world's own state.  Immutable after
 * creation, so it may be shared by every thread without a lock.
 */
struct gm_xen {
	const struct gm_xen_ops *ops; /* never NULL */
	void *world;                  /* passed to ops->*_open, ops->self_domid */
	const char *name;             /* for logs: ops->name or "custom" */
};

/*
 * A world is built with gm_xen_open_ops(); gm_xen_close() releases @world
 * through ops->world_close.  If gm_xen_open_ops() fails, world_close is NOT
 * called: the caller still owns @world.
 */

#endif /* GM_XEN_INTERNAL_H */
