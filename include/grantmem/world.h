/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: Xen worlds — opening one by name.
 *
 * A world is what the Xen ops of xen.h run on.  Programs name it at run
 * time, in a spec string:
 *
 *   "real"              Xen itself, through Debian's libxengnttab,
 *                       libxengntshr, libxenevtchn and libxenstore;
 *   "<name>:<args>"     a world registered under <name>, such as the
 *                       emulated Xen of emu.h ("emu:<socket>[,domid=N]
 *                       [,ram=BYTES]"), which libgrantmem-emu registers
 *                       when it is loaded;
 *   NULL or ""          $GRANTMEM_XEN if set and not empty, else "real".
 */
#ifndef GRANTMEM_WORLD_H
#define GRANTMEM_WORLD_H

#include <grantmem/xen.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * gm_xen_open - open the world named by @spec (see above).  $GRANTMEM_XEN
 * is read with secure_getenv: setuid programs ignore it.
 * @out: the world, set to NULL on failure.
 * Returns 0, -EINVAL (an unknown name, NULL @out), -ENOTSUP ("real" in a
 * build without the Xen libraries), -ENOMEM, or the world's error.  Opening
 * "real" touches no device: the handles do.  Free with gm_xen_close() after
 * closing every handle opened on it.  Thread-safe (but do not setenv()
 * concurrently).  Logs an unknown spec at info, a world that fails to open
 * at info (-ENOENT, -EACCES, ...) or warning.
 */
GM_API int gm_xen_open(const char *spec, gm_xen **out);

/*
 * gm_xen_real_open - open real Xen, whatever $GRANTMEM_XEN says.  Same
 * contract as gm_xen_open("real", out).
 */
GM_API int gm_xen_real_open(gm_xen **out);

/*
 * A world's opener: open the world from @args, the part of the spec after
 * "<name>:" (may be ""), into *out.  0 or a negative errno; it logs its own
 * failures.
 */
typedef int gm_xen_world_open_fn(const char *args, gm_xen **out);

/*
 * gm_xen_world_register - make "<name>:<args>" specs open worlds with @open.
 * @name: 1..15 characters of [a-z0-9_-]; "real" is taken.
 * Returns 0, -EINVAL (bad name, NULL @open), -EEXIST (@name is registered
 * with another opener; registering the same pair again is 0), -ENOSPC (16
 * worlds are registered).  Thread-safe, never logs.
 */
GM_API int gm_xen_world_register(const char *name, gm_xen_world_open_fn *open);

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_WORLD_H */
