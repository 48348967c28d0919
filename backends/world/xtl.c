/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The xentoollog bridge: libxen*'s messages go to grantmem's log.
 *
 * Levels.  A libxen* call that fails also returns -1/NULL with errno, and
 * grantmem's caller converts that errno and logs the failure once, at the
 * level its errno class deserves (lib/xen's wrappers, the ioreq server's
 * set-up).  libxen*'s own line about the same failure is therefore detail:
 * libxengnttab would otherwise print an error line for every bad ref a guest
 * hands in, and a guest could flood the host's log.  So every message of
 * substance goes to debug, and libxen*'s tracing is dropped:
 *
 *	xentoollog                                grantmem
 *	XTL_DEBUG, XTL_VERBOSE                    dropped
 *	XTL_DETAIL, XTL_PROGRESS, XTL_INFO,       GM_LOG_DEBUG
 *	XTL_NOTICE, XTL_WARN, XTL_ERROR,
 *	XTL_CRITICAL
 *	anything else                             dropped
 *
 * A line reads "<context>: <message>[: <strerror(errnoval)>]", the context
 * being libxen*'s own ("libxengnttab", "xc", ...) or "libxen" when it gives
 * none.  Progress reports are not forwarded.
 */
#include "config.h"

#include "xtl.h"

#include <stdio.h>
#include <string.h>

#define DROPPED (-1)

static const int level_of[XTL_NUM_LEVELS] = {
	[XTL_NONE] = DROPPED,
	[XTL_DEBUG] = DROPPED,
	[XTL_VERBOSE] = DROPPED,
	[XTL_DETAIL] = GM_LOG_DEBUG,
	[XTL_PROGRESS] = GM_LOG_DEBUG,
	[XTL_INFO] = GM_LOG_DEBUG,
	[XTL_NOTICE] = GM_LOG_DEBUG,
	[XTL_WARN] = GM_LOG_DEBUG,
	[XTL_ERROR] = GM_LOG_DEBUG,
	[XTL_CRITICAL] = GM_LOG_DEBUG,
};

static void bridge_vmessage(xentoollog_logger *logger, xentoollog_level level, int errnoval,
			    const char *context, const char *format, va_list al)
	__attribute__((format(printf, 5, 0)));

static void bridge_vmessage(xentoollog_logger *logger, xentoollog_level level, int errnoval,
			    const char *context, const char *format, va_list al)
{
	int saved = errno; /* the caller reads errno after the call that logged */
	char msg[256];
	int lvl;

	(void)logger;
	lvl = (unsigned)level < XTL_NUM_LEVELS ? level_of[level] : DROPPED;
	if (lvl != DROPPED && gm__log_enabled((gm_log_level)lvl)) {
		vsnprintf(msg, sizeof(msg), format, al);
		gm__log((gm_log_level)lvl, "%s: %s%s%s", context ? context : "libxen", msg,
			errnoval > 0 ? ": " : "", errnoval > 0 ? strerror(errnoval) : "");
	}
	errno = saved;
}

static void bridge_destroy(xentoollog_logger *logger)
{
	(void)logger; /* static: nothing to free */
}

static xentoollog_logger bridge = {
	.vmessage = bridge_vmessage,
	.progress = NULL, /* allowed: xtl_progress() then does nothing */
	.destroy = bridge_destroy,
};

xentoollog_logger *gm__xtl_logger(void)
{
	return &bridge;
}
