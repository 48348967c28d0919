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

/*
 * gm__xen_real_open - the real world (backends/xen-real.c; only built with
 * GM_HAVE_XEN).  Opening the world touches no device: handles opened on it
 * do.  Returns 0 or -ENOMEM.
 */
int gm__xen_real_open(gm_xen **out);

/*
 * gm__emu_open - the emulated world (backends/emu-client.c, see emu.h).
 * @spec is what follows "emu:" in the spec string.  Declared weak and hidden
 * so that lib/xen.c links before (or without) the emulated world: absent, it
 * resolves to NULL at link time (no dynamic symbol) and gm_xen_open()
 * returns -ENOTSUP.
 */
int gm__emu_open(const char *spec, gm_xen **out) __attribute__((weak, visibility("hidden")));

#endif /* GM_XEN_INTERNAL_H */
