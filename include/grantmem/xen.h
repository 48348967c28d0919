/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: Xen ops — grant tables, event channels, xenstore.
 *
 * grantmem reaches Xen only through the handles declared here.  Each handle
 * is opened on a *world*, chosen at run time:
 *
 *   real      Xen itself, through libxengnttab, libxengntshr, libxenevtchn and
 *             libxenstore (built when configure finds them);
 *   emulated  the in-tree emulated Xen (see emu.h): test domains are
 *             processes that meet the backend at a UNIX socket;
 *   custom    any `struct gm_xen_ops` the caller supplies.
 *
 * Backend side (a device model): gm_gnttab, gm_evtchn, gm_xs.
 * Guest side (a test domain):    gm_gntshr, plus gm_evtchn and gm_xs.
 *
 * Errors: every call returns 0 (or a count / pointer) on success and a
 * negative errno on failure; the real world converts libxen*'s -1/errno at
 * the boundary.  Map failures on real Xen all come back as -EINVAL (Xen does
 * not say whether the ref was bad, the domain unknown or the grant read-only);
 * the emulated world gives the same errno for the same causes:
 *
 *   cause                                        errno
 *   ref never granted / beyond the table         -EINVAL
 *   ref granted to another domain                -EINVAL
 *   unknown domain                               -EINVAL
 *   read-only grant mapped for writing           -EINVAL
 *   mapping budget (set_max_grants) exceeded     -ENOSPC  (gntdev: ENOSPC)
 *   ending access while the backend maps it      -EBUSY
 *
 * Threads: a handle may be used from several threads at once unless a call
 * says otherwise (as libxengnttab and libxenevtchn allow).  gm_xs calls are
 * serialised inside the handle.
 */
#ifndef GRANTMEM_XEN_H
#define GRANTMEM_XEN_H

#include <grantmem/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GM_PAGE_SHIFT 12
#define GM_PAGE_SIZE 4096u

typedef uint32_t gm_gref;
typedef uint16_t gm_domid;
typedef uint32_t gm_port;

#define GM_DOMID_SELF 0x7ff0u /* "the domain I run in" (DOMID_SELF) */

/* Grant-copy segment, the shape of xengnttab_grant_copy_segment. */
struct gm_copy_seg {
	union {
		void *virt;
		struct {
			gm_gref ref;
			uint16_t offset;
			gm_domid domid;
		} foreign;
	} source, dest;
	uint16_t len;   /* offset + len <= GM_PAGE_SIZE on the foreign side */
	uint16_t flags; /* GM_COPY_SOURCE_GREF and/or GM_COPY_DEST_GREF */
	int16_t status; /* out: Xen's GNTST_* code, 0 = okay */
};
#define GM_COPY_SOURCE_GREF 0x1
#define GM_COPY_DEST_GREF 0x2

/* Xen's grant status codes (GNTST_*), as found in gm_copy_seg.status. */
#define GM_GNTST_OKAY 0
#define GM_GNTST_GENERAL_ERROR (-1)
#define GM_GNTST_BAD_DOMAIN (-2)
#define GM_GNTST_BAD_GNTREF (-3)
#define GM_GNTST_BAD_HANDLE (-4)
#define GM_GNTST_BAD_VIRT_ADDR (-5)
#define GM_GNTST_BAD_DEV_ADDR (-6)
#define GM_GNTST_NO_DEVICE_SPACE (-7)
#define GM_GNTST_PERMISSION_DENIED (-8)
#define GM_GNTST_BAD_PAGE (-9)
#define GM_GNTST_BAD_COPY_ARG (-10)
#define GM_GNTST_ADDRESS_TOO_BIG (-11)
#define GM_GNTST_EAGAIN (-12)

/*
 * gm_gntst_errno - a negative errno for a GNTST_* code (0 for okay):
 * bad_gntref/bad_handle -EINVAL, bad_domain -ESRCH, permission_denied -EACCES,
 * eagain -EAGAIN, no_device_space -ENOSPC, bad_copy_arg/bad_*_addr/
 * address_too_big -EINVAL, general_error and the rest -EIO.
 */
GM_API int gm_gntst_errno(int gntst);

/* xenstore permissions, the shape of struct xs_permissions. */
#define GM_XS_PERM_NONE 0
#define GM_XS_PERM_READ 1
#define GM_XS_PERM_WRITE 2
struct gm_xs_perm {
	gm_domid id;
	unsigned perms; /* GM_XS_PERM_* */
};

typedef uint32_t gm_xs_tx; /* 0 = no transaction */
#define GM_XS_TX_NONE 0u

/*
 * The ops of one world.  Every callback returns 0 / a count / a pointer, or
 * a negative errno (pointers: NULL with *err set).  A NULL callback means the
 * world does not support the call: the wrapper returns -EOPNOTSUPP.
 * Handles are the world's own `void *`.  Callbacks may be called from several
 * threads at once on one handle (gm_xs wrappers serialise xenstore calls).
 */
struct gm_xen_ops {
	const char *name; /* "real", "emulated", ... for logs */

	/* gnttab (backend) */
	int (*gnttab_open)(void *world, void **h);
	void (*gnttab_close)(void *h);
	int (*gnttab_set_max_grants)(void *h, uint32_t count);
	/* map @count refs of @domid into one contiguous VA (prot: GM_PROT_*) */
	void *(*gnttab_map)(void *h, uint32_t count, gm_domid domid, const gm_gref *refs,
			    int prot, int *err);
	/* unmap a whole batch: @addr and @count exactly as mapped */
	int (*gnttab_unmap)(void *h, void *addr, uint32_t count);
	/* returns 0 when the call ran (per-segment status filled) or -errno */
	int (*gnttab_copy)(void *h, uint32_t count, struct gm_copy_seg *segs);

	/* gntshr (guest) */
	int (*gntshr_open)(void *world, void **h);
	void (*gntshr_close)(void *h);
	/* share @count fresh zeroed pages with @domid; refs[] out; local VA */
	void *(*gntshr_share)(void *h, gm_domid domid, uint32_t count, gm_gref *refs,
			      int writable, int *err);
	/* end foreign access to one ref: -EBUSY while the peer maps it */
	int (*gntshr_end_access)(void *h, gm_gref ref);
	/* release pages from gntshr_share (after end_access of every ref) */
	int (*gntshr_unshare)(void *h, void *addr, uint32_t count);

	/* evtchn (both sides) */
	int (*evtchn_open)(void *world, void **h);
	void (*evtchn_close)(void *h);
	int (*evtchn_fd)(void *h);
	/* returns the local port (>= 0) or -errno */
	int (*evtchn_bind_interdomain)(void *h, gm_domid remote, gm_port remote_port);
	int (*evtchn_bind_unbound)(void *h, gm_domid remote);
	int (*evtchn_unbind)(void *h, gm_port port);
	int (*evtchn_notify)(void *h, gm_port port);
	/* returns a pending port (>= 0), -EAGAIN if none, or -errno */
	int (*evtchn_pending)(void *h);
	int (*evtchn_unmask)(void *h, gm_port port);

	/* xenstore (both sides); strings are NUL-terminated paths */
	int (*xs_open)(void *world, void **h);
	void (*xs_close)(void *h);
	int (*xs_fd)(void *h);
	/* value is malloc()ed, NUL-terminated beyond *len; caller frees */
	int (*xs_read)(void *h, gm_xs_tx tx, const char *path, char **value, size_t *len);
	int (*xs_write)(void *h, gm_xs_tx tx, const char *path, const void *value, size_t len);
	/* *names is one malloc()ed block (array + strings); returns the count */
	int (*xs_directory)(void *h, gm_xs_tx tx, const char *path, char ***names);
	int (*xs_rm)(void *h, gm_xs_tx tx, const char *path);
	int (*xs_mkdir)(void *h, gm_xs_tx tx, const char *path);
	int (*xs_set_perms)(void *h, gm_xs_tx tx, const char *path, const struct gm_xs_perm *p,
			    unsigned n);
	int (*xs_watch)(void *h, const char *path, const char *token);
	int (*xs_unwatch)(void *h, const char *path, const char *token);
	/* next fired watch: *path and *token malloc()ed; -EAGAIN if none yet */
	int (*xs_read_watch)(void *h, char **path, char **token);
	int (*xs_tx_start)(void *h, gm_xs_tx *tx);
	/* abort != 0 discards; -EAGAIN: conflict, run the transaction again */
	int (*xs_tx_end)(void *h, gm_xs_tx tx, int abort);
	/* "/local/domain/<domid>", malloc()ed */
	int (*xs_domain_path)(void *h, gm_domid domid, char **path);
	/* the domain id this process runs in */
	int (*self_domid)(void *world, gm_domid *domid);
};

/* ---- worlds -------------------------------------------------------------- */

typedef struct gm_xen gm_xen;

/*
 * gm_xen_open - open a world from a spec string, chosen at run time:
 *   "real"              real Xen (-ENOTSUP when built without Xen);
 *   "emu:<socket path>" the emulated Xen listening at that path;
 *   NULL or ""          $GRANTMEM_XEN if set, else "real".
 * Returns 0, -EINVAL (unknown spec), -ENOTSUP, or the world's error.
 * Free with gm_xen_close() (accepts NULL) after closing every handle on it.
 */
GM_API int gm_xen_open(const char *spec, gm_xen **out);

/*
 * gm_xen_open_ops - a custom world.  @ops must outlive it; @world is passed to
 * the *_open callbacks and self_domid.  Returns 0 or -ENOMEM.
 */
GM_API int gm_xen_open_ops(const struct gm_xen_ops *ops, void *world, gm_xen **out);
GM_API void gm_xen_close(gm_xen *x);

/* The world's name, for logs ("real", "emulated", or ops->name). */
GM_API const char *gm_xen_name(const gm_xen *x);

/* gm_xen_self_domid - the domain id this process runs in (0 for dom0). */
GM_API int gm_xen_self_domid(gm_xen *x, gm_domid *domid);

/* ---- gnttab: backend side ------------------------------------------------ */

typedef struct gm_gnttab gm_gnttab;

/* Open / close a grant-table handle.  Close unmaps nothing: unmap first. */
GM_API int gm_gnttab_open(gm_xen *x, gm_gnttab **out);
GM_API void gm_gnttab_close(gm_gnttab *g);
/* gm_gnttab_set_max_grants - cap on pages mapped at once through @g. */
GM_API int gm_gnttab_set_max_grants(gm_gnttab *g, uint32_t count);
/*
 * gm_gnttab_map - map @count refs of @domid, in order, into one contiguous
 * host range, readable (and writable if @prot has GM_PROT_WRITE).
 * Returns the range, or NULL with *err set (see the table above; -EINVAL for
 * count 0).  All or nothing.  The range must be released whole with
 * gm_gnttab_unmap().
 */
GM_API void *gm_gnttab_map(gm_gnttab *g, uint32_t count, gm_domid domid, const gm_gref *refs,
			   int prot, int *err);
/* gm_gnttab_unmap - unmap a whole batch returned by gm_gnttab_map. */
GM_API int gm_gnttab_unmap(gm_gnttab *g, void *addr, uint32_t count);
/*
 * gm_gnttab_copy - run @count copy segments.  Returns 0 when the call ran
 * (check each status: GNTST_* code) or a negative errno when it could not
 * (-EINVAL: a segment crosses a page end, as on Xen).
 */
GM_API int gm_gnttab_copy(gm_gnttab *g, uint32_t count, struct gm_copy_seg *segs);

/* ---- gntshr: guest side -------------------------------------------------- */

typedef struct gm_gntshr gm_gntshr;

GM_API int gm_gntshr_open(gm_xen *x, gm_gntshr **out);
GM_API void gm_gntshr_close(gm_gntshr *s);
/*
 * gm_gntshr_share - allocate @count zeroed pages and grant them to @domid
 * (read-only unless @writable).  Fills refs[count]; returns the local
 * address of the pages or NULL with *err set.
 */
GM_API void *gm_gntshr_share(gm_gntshr *s, gm_domid domid, uint32_t count, gm_gref *refs,
			     int writable, int *err);
/*
 * gm_gntshr_end_access - revoke one grant.  Returns 0, or -EBUSY while the
 * grantee still maps the page (Xen semantics: end access fails while mapped;
 * try again after the grantee unmaps).  On real Xen (gntalloc) the
 * revocation is deferred by the kernel until the page is unmapped.
 */
GM_API int gm_gntshr_end_access(gm_gntshr *s, gm_gref ref);
/* gm_gntshr_unshare - free pages returned by gm_gntshr_share. */
GM_API int gm_gntshr_unshare(gm_gntshr *s, void *addr, uint32_t count);

/* ---- event channels (both sides) ------------------------------------------ */

typedef struct gm_evtchn gm_evtchn;

GM_API int gm_evtchn_open(gm_xen *x, gm_evtchn **out);
GM_API void gm_evtchn_close(gm_evtchn *e);
/* gm_evtchn_fd - pollable: readable when gm_evtchn_pending has a port. */
GM_API int gm_evtchn_fd(gm_evtchn *e);
/* Bind to (remote, remote_port); returns the local port or -errno. */
GM_API int gm_evtchn_bind_interdomain(gm_evtchn *e, gm_domid remote, gm_port remote_port);
/* Allocate a port that @remote may bind; returns the local port or -errno. */
GM_API int gm_evtchn_bind_unbound(gm_evtchn *e, gm_domid remote);
GM_API int gm_evtchn_unbind(gm_evtchn *e, gm_port port);
GM_API int gm_evtchn_notify(gm_evtchn *e, gm_port port);
/*
 * gm_evtchn_pending - the next port that fired (>= 0), -EAGAIN if none.
 * The port stays masked until gm_evtchn_unmask(); events on a masked port
 * are kept pending (coalesced) and delivered after the unmask.
 */
GM_API int gm_evtchn_pending(gm_evtchn *e);
GM_API int gm_evtchn_unmask(gm_evtchn *e, gm_port port);

/* ---- xenstore (both sides) ------------------------------------------------ */

typedef struct gm_xs gm_xs;

GM_API int gm_xs_open(gm_xen *x, gm_xs **out);
GM_API void gm_xs_close(gm_xs *h);
/* gm_xs_fd - pollable: readable when a watch fired (gm_xs_read_watch). */
GM_API int gm_xs_fd(gm_xs *h);
/* gm_xs_read - read a node; *value malloc()ed and NUL-terminated (free()). */
GM_API int gm_xs_read(gm_xs *h, gm_xs_tx tx, const char *path, char **value, size_t *len);
GM_API int gm_xs_write(gm_xs *h, gm_xs_tx tx, const char *path, const void *value,
		       size_t len);
/* gm_xs_write_str - write a NUL-terminated string. */
GM_API int gm_xs_write_str(gm_xs *h, gm_xs_tx tx, const char *path, const char *value);
/* gm_xs_directory - children of @path; *names one malloc()ed block. */
GM_API int gm_xs_directory(gm_xs *h, gm_xs_tx tx, const char *path, char ***names);
GM_API int gm_xs_rm(gm_xs *h, gm_xs_tx tx, const char *path);
GM_API int gm_xs_mkdir(gm_xs *h, gm_xs_tx tx, const char *path);
/* gm_xs_set_perms - entry 0 is the owner and the default for others. */
GM_API int gm_xs_set_perms(gm_xs *h, gm_xs_tx tx, const char *path, const struct gm_xs_perm *p,
			   unsigned n);
/* Watches fire for @path and everything below it, and once at registration. */
GM_API int gm_xs_watch(gm_xs *h, const char *path, const char *token);
GM_API int gm_xs_unwatch(gm_xs *h, const char *path, const char *token);
/* gm_xs_read_watch - next fired watch (-EAGAIN if none); strings malloc()ed. */
GM_API int gm_xs_read_watch(gm_xs *h, char **path, char **token);
GM_API int gm_xs_tx_start(gm_xs *h, gm_xs_tx *tx);
/* gm_xs_tx_end - commit (abort == 0) or discard; -EAGAIN: conflict, retry. */
GM_API int gm_xs_tx_end(gm_xs *h, gm_xs_tx tx, int abort);
/*
 * gm_xs_transact - run @fn inside a transaction, retrying it while the commit
 * conflicts (at most @max_tries times, then -EAGAIN).  @fn returns 0 to
 * commit or a negative errno to abort (returned as is).
 */
GM_API int gm_xs_transact(gm_xs *h, int (*fn)(gm_xs *h, gm_xs_tx tx, void *arg), void *arg,
			  unsigned max_tries);
GM_API int gm_xs_domain_path(gm_xs *h, gm_domid domid, char **path);

/* ---- fault injection (for tests of error paths) --------------------------- */

/*
 * gm_fault_inject - make the @nth next call (1 = the very next) to the call
 * site @site fail with @err (a negative errno), once.  Sites: the names of the
 * wrappers above without "gm_" ("gnttab_map", "gnttab_unmap", "gnttab_copy",
 * "evtchn_notify", "xs_read", ...) and "alloc" for the library's own
 * allocations.  @nth == 0 disarms @site.  Process-wide, thread-safe; a call
 * that is made to fail logs a debug line.  Returns 0 or -EINVAL (unknown
 * site, err >= 0).
 */
GM_API int gm_fault_inject(const char *site, unsigned nth, int err);
/* gm_fault_reset - disarm every site. */
GM_API void gm_fault_reset(void);
/* gm_fault_count - how many calls reached @site since the last reset. */
GM_API unsigned long gm_fault_count(const char *site);

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_XEN_H */
