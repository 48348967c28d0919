/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem internals: the xentoollog bridge (backends/world/xtl.c).
 *
 * Every libxen* library reports through a xentoollog_logger; given none, it
 * makes one that prints on stderr.  grantmem hands each of them
 * gm__xtl_logger() instead, which forwards the messages to grantmem's log
 * (gm_set_log) at the levels of the table in xtl.c.  Used by the real world
 * (real.c) and by the ioreq server of libgrantmem-ioreq, hence exported
 * under GRANTMEM_PRIVATE.  Only built with GM_HAVE_XEN.
 */
#ifndef GM_WORLD_XTL_H
#define GM_WORLD_XTL_H

#include "base/base.h"

#include <xentoollog.h>

/*
 * gm__xtl_logger - the bridge: one static logger for every handle of every
 * libxen* library, safe to use from any thread.  Its destroy does nothing;
 * never free it.  Leaves errno as it found it (callers read errno after the
 * libxen* call that logged).
 */
GM__PRIVATE xentoollog_logger *gm__xtl_logger(void);

#endif /* GM_WORLD_XTL_H */
