/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: common definitions — export macro, access flags, logging.
 *
 * Every grantmem call returns a negative errno on failure (or NULL with the
 * errno stored through an `int *err` argument).  No call aborts or exits.
 */
#ifndef GRANTMEM_COMMON_H
#define GRANTMEM_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GM_API __attribute__((visibility("default")))
#else
#define GM_API
#endif

/*
 * Versioned structs.  Every public struct a caller fills in for the
 * library (a config) or that the library fills in for the caller (stats,
 * info) starts with `size_t size` (gm_vq_config: struct_size, as its size
 * is the queue's), so that fields can be added at its end
 * without breaking programs built against an older, shorter layout:
 *
 *     struct gm_grant_stats st = {.size = sizeof(st)};
 *     gm_grant_cache_stats(c, &st);
 *
 * size is the caller's sizeof; 0 stands for the struct's first version (so
 * a zeroed struct or one filled with designated initializers alone is
 * fine).  A config's fields beyond the caller's size take their defaults,
 * and a config from a newer caller is refused (-E2BIG) only when it sets a
 * field this library does not know.  Stats and info are filled up to the
 * caller's size, and size is set to the bytes filled: fields past it (a
 * newer caller's, which an older library does not know) were not written.
 * Ops tables (gm_region_ops, gm_xen_ops, gm_vdev_backend_ops,
 * gm_ioreq_dev_ops, gm_ioreq_irq_ops, gm_dev_handler) are versioned as
 * configs are: the library keeps a copy at its own size, callbacks the
 * caller's version lacks are NULL (absent), and a newer caller's table that
 * sets a callback this library does not know is refused (-E2BIG).  Structs
 * the library hands out (gm_vq_req, gm_ioreq_queue) and arrays of fixed
 * wire formats (gm_sg, gm_copy_seg, gm_xs_perm, gm_vdev_queue_info) are not
 * versioned this way.
 */

/*
 * Access and mapping flags, passed wherever a call takes `flags`.
 *
 * GM_PROT_READ / GM_PROT_WRITE say what the caller will do with the memory.
 * A request for write never gets memory the guest made read-only.
 *
 * GM_MAP_TRANSIENT / GM_MAP_PERSISTENT override a region's mapping policy for
 * one call (grant regions: release the mapping on the last unpin, or keep it
 * cached).  Regions without a policy ignore them.
 *
 * GM_MAP_NO_BOUNCE (gm_map, gm_map_sg) refuses bounce buffers: where the
 * memory cannot be mapped in place and the call would hand out a private
 * copy instead, it fails -EOPNOTSUPP.  For memory both sides keep using
 * while it is mapped (rings, shared indices), where a copy would never see
 * the other side's stores, nor it ours.
 *
 * GM_MAP_WHOLE (gm_map only) makes gm_map all or nothing: it maps the
 * whole range in one mapping or fails, where it would otherwise shorten
 * the length at a region or mapping boundary.  For callers that take the
 * length they asked for as the length they got, as QEMU's
 * address_space_map does after a MemoryRegion's map callback.
 */
#define GM_PROT_READ 0x1
#define GM_PROT_WRITE 0x2
#define GM_PROT_RW (GM_PROT_READ | GM_PROT_WRITE)
#define GM_MAP_TRANSIENT 0x10
#define GM_MAP_PERSISTENT 0x20
#define GM_MAP_NO_BOUNCE 0x40
#define GM_MAP_WHOLE 0x80

/* Xen's page: the unit of grants and of every mapping grantmem makes. */
#define GM_PAGE_SHIFT 12
#define GM_PAGE_SIZE 4096u

/* Log levels, most severe first. */
typedef enum gm_log_level {
	GM_LOG_ERROR = 0,
	GM_LOG_WARNING = 1,
	GM_LOG_INFO = 2,
	GM_LOG_DEBUG = 3,
} gm_log_level;

/*
 * A log sink.  @msg is one line without a trailing newline, valid only for
 * the duration of the call.  It may be called from any thread, concurrently.
 */
typedef void gm_log_fn(void *opaque, gm_log_level level, const char *msg);

/*
 * gm_set_log - route grantmem's log lines.
 * @fn:        the sink, or NULL for the default (stderr, "grantmem: " prefix).
 * @opaque:    passed back to @fn.
 * @max_level: lines less severe than this are dropped (default GM_LOG_WARNING,
 *             or the level GRANTMEM_LOG names, below).
 *
 * Process-wide.  Thread-safe: lines in flight may still reach the previous
 * sink.  Never fails, never logs.
 *
 * Until the program calls gm_set_log(), the default sink's level is the one
 * the environment variable GRANTMEM_LOG names when the library is loaded:
 * "error", "warning", "info" or "debug" (any case), or 0 to 3.  Unset or
 * empty means warning; any other value is ignored with one warning line.
 * Set-user-ID programs ignore it.
 */
GM_API void gm_set_log(gm_log_fn *fn, void *opaque, gm_log_level max_level);

/*
 * gm_strerror - a short description of a negative errno returned by grantmem.
 * Returns a static string.  Thread-safe.
 */
GM_API const char *gm_strerror(int err);

/* ---- fault injection (for tests of error paths) ---------------------------- */

/*
 * gm_fault_inject - make the @nth next call (1 = the very next) to the call
 * site @site fail with @err (a negative errno), once.  Sites: the names of the
 * Xen-ops wrappers (xen.h) without "gm_" ("gnttab_map", "gnttab_unmap", "gnttab_copy",
 * "evtchn_notify", "xs_read", ...), "alloc" for the library's own
 * allocations, and "membarrier": the process's one check, at its first
 * read-side section, that the kernel offers an expedited membarrier
 * (failed, the library runs as where it does not: readers use locked
 * instructions).  @nth == 0 disarms @site.  Process-wide, thread-safe; a call
 * that is made to fail logs a debug line.  Returns 0 or -EINVAL (unknown
 * site, err >= 0).
 */
GM_API int gm_fault_inject(const char *site, unsigned nth, int err);
/*
 * gm_fault_inject_times - as gm_fault_inject, but the @nth next call and
 * the @times - 1 calls after it fail (Xen refusing again and again).
 * Returns 0 or -EINVAL (as above, or @times == 0 with @nth != 0).
 */
GM_API int gm_fault_inject_times(const char *site, unsigned nth, unsigned times, int err);
/* gm_fault_reset - disarm every site. */
GM_API void gm_fault_reset(void);
/* gm_fault_count - how many calls reached @site since the last reset. */
GM_API unsigned long gm_fault_count(const char *site);

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_COMMON_H */
