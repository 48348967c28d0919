/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: Xen ops — grant tables, event channels, xenstore.
 *
 * grantmem reaches Xen only through the handles declared here.  Each handle
 * is opened on a *world*: an ops table and its state.  world.h opens one by
 * name at run time (gm_xen_open: real Xen through libxengnttab, libxengntshr,
 * libxenevtchn and libxenstore; the emulated Xen of emu.h; worlds registered
 * by name); gm_xen_open_ops() below makes one from any `struct gm_xen_ops`
 * the caller supplies.
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
 * serialised inside the handle.  Closing is not: close a handle only when no
 * other thread uses it.
 *
 * Every wrapper below checks its arguments (-EINVAL for NULL handles and
 * pointers, empty paths, a count of 0), returns -EOPNOTSUPP when the world
 * lacks the callback, passes its fault-injection site (an injected failure
 * returns that errno without calling the world) and only then calls the
 * world.  Logging (through gm_set_log): failures a guest can cause (a bad or
 * read-only ref, a bad port, a forbidden xenstore node, a full mapping
 * budget: -EINVAL, -ESRCH, -ENOENT, -EACCES, -EPERM, -ENOSPC, -EBUSY) log at
 * info (missing xenstore nodes and busy grants at debug), so that a guest
 * cannot flood the log; other failures of Xen or of the host, which the
 * caller must act on, log at warning; argument errors at debug; the expected
 * "nothing yet" (-EAGAIN from pending and read_watch) not at all.  Output
 * pointers are NULL (lengths 0) after every failure.
 */
#ifndef GRANTMEM_XEN_H
#define GRANTMEM_XEN_H

#include <grantmem/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t gm_gref;
typedef uint16_t gm_domid;
typedef uint32_t gm_port;

/* The largest id of a real domain (DOMID_FIRST_RESERVED - 1); ids above it
 * name Xen's special domains. */
#define GM_DOMID_MAX 0x7fefu
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
 * Versioned (common.h): size first, sizeof or 0; the world keeps a copy.
 */
struct gm_xen_ops {
	size_t size;
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
	/* release @world: called once by gm_xen_close() (NULL: nothing to do) */
	void (*world_close)(void *world);
};

/* ---- worlds -------------------------------------------------------------- */

typedef struct gm_xen gm_xen;

/*
 * gm_xen_open_ops - a custom world.
 * @ops:   the world's callbacks (NULL: -EINVAL), copied; gm_xen_world()
 *         recognises the world by this pointer.
 * @world: passed to the *_open callbacks, self_domid and world_close.
 * @out:   the world, NULL on failure.
 * Returns 0, -EINVAL (also ops->size below the first version's), -E2BIG (a
 * newer caller's table sets a callback this library does not know) or
 * -ENOMEM.  On success gm_xen_close() releases @world
 * through ops->world_close; on failure the caller still owns @world.
 * Thread-safe.  Does not log.
 */
GM_API int gm_xen_open_ops(const struct gm_xen_ops *ops, void *world, gm_xen **out);

/*
 * gm_xen_world - the @world pointer @x was opened with, if it was opened
 * with @ops; NULL otherwise (or for NULL arguments).  Lets a world's own
 * functions find their state from a gm_xen.  Thread-safe, never logs.
 */
GM_API void *gm_xen_world(const gm_xen *x, const struct gm_xen_ops *ops);

/*
 * gm_xen_close - free a world (NULL is fine): calls ops->world_close(world)
 * if set.  Every handle opened on it must be closed first.  Does not log.
 */
GM_API void gm_xen_close(gm_xen *x);

/*
 * gm_xen_name - the world's name for logs: ops->name ("real", "emulated",
 * ...), "custom" if the ops have none, "(none)" for NULL.  Static string,
 * valid as long as the world.  Thread-safe, never logs.
 */
GM_API const char *gm_xen_name(const gm_xen *x);

/*
 * gm_xen_self_domid - the domain id this process runs in (0 for dom0).
 * Real Xen: 0 when /proc/xen/capabilities says "control_d", else the "domid"
 * node of the domain's xenstore directory (opens a xenstore connection).
 * Returns 0, -EINVAL (NULL argument), -EOPNOTSUPP, -EPROTO (garbage in
 * xenstore) or the world's error, logged at warning (naming what is absent
 * when Xen is not there).
 */
GM_API int gm_xen_self_domid(gm_xen *x, gm_domid *domid);

/* ---- gnttab: backend side ------------------------------------------------ */

typedef struct gm_gnttab gm_gnttab;

/*
 * gm_gnttab_open - open a grant-table handle (gntdev) on world @x.
 * @out: the handle, NULL on failure.  Free with gm_gnttab_close().
 * Returns 0, -EINVAL, -EOPNOTSUPP, -ENOMEM or the world's error (real Xen:
 * -ENOENT without /dev/xen/gntdev); fault site "gnttab_open".  Logs a
 * failure at warning; when the real world's device is absent (no Xen here,
 * or its module not loaded) the line names it and the remedy.
 */
GM_API int gm_gnttab_open(gm_xen *x, gm_gnttab **out);
/*
 * gm_gnttab_close - close @g (NULL is fine).  Unmaps nothing: unmap every
 * batch first (on real Xen the mappings would outlive the handle until the
 * process unmaps or exits).  Not concurrently with other calls on @g.
 */
GM_API void gm_gnttab_close(gm_gnttab *g);
/*
 * gm_gnttab_set_max_grants - cap on pages mapped at once through @g; beyond
 * it gm_gnttab_map fails with -ENOSPC.  Call before the first map.
 * Returns 0, -EINVAL (@count 0), -EOPNOTSUPP or the world's error (logged at
 * warning); fault site "gnttab_set_max_grants".
 */
GM_API int gm_gnttab_set_max_grants(gm_gnttab *g, uint32_t count);
/*
 * gm_gnttab_map - map @count refs of @domid, in order, into one contiguous
 * host range, readable (and writable if @prot has GM_PROT_WRITE).
 * @prot: GM_PROT_READ or GM_PROT_RW (GM_PROT_WRITE alone maps read-write);
 *        other bits are -EINVAL.
 * @err:  out: 0 or the negative errno (may be NULL).
 * Returns the page-aligned range, or NULL with *err set (see the table
 * above; -EINVAL for a NULL @g or @refs, or @count 0).  All or nothing.  The
 * range must be released whole with gm_gnttab_unmap(@g, range, @count).
 * Fault site "gnttab_map".  Logs a failure at info for -EINVAL/-ENOSPC (a
 * guest's bad ref, the budget), at warning otherwise.
 */
GM_API void *gm_gnttab_map(gm_gnttab *g, uint32_t count, gm_domid domid, const gm_gref *refs,
			   int prot, int *err);
/*
 * gm_gnttab_unmap - unmap a whole batch returned by gm_gnttab_map: @addr and
 * @count exactly as mapped.  Returns 0, -EINVAL (NULL/unaligned @addr,
 * @count 0, or not a batch of @g) or the world's error; logged at warning.
 * Fault site "gnttab_unmap".
 */
GM_API int gm_gnttab_unmap(gm_gnttab *g, void *addr, uint32_t count);
/*
 * gm_gnttab_copy - run @count copy segments.  Returns 0 when the call ran
 * (check each status: a GNTST_* code, gm_gntst_errno() converts it) or a
 * negative errno when it could not: -EINVAL for @count 0, unknown flags, a
 * segment whose foreign side crosses a page end (checked here, as Xen does)
 * or a NULL local pointer with a nonzero length; then no segment ran.  When
 * the world fails mid-call, segments it did not reach report
 * GM_GNTST_GENERAL_ERROR.  Fault site "gnttab_copy".  A failed call logs at
 * warning; failed segments only at debug (the caller decides).
 */
GM_API int gm_gnttab_copy(gm_gnttab *g, uint32_t count, struct gm_copy_seg *segs);

/* ---- gntshr: guest side -------------------------------------------------- */

typedef struct gm_gntshr gm_gntshr;

/*
 * gm_gntshr_open - open a grant-sharing handle (gntalloc) on world @x.
 * Same contract as gm_gnttab_open(); fault site "gntshr_open".
 */
GM_API int gm_gntshr_open(gm_xen *x, gm_gntshr **out);
/* gm_gntshr_close - close @s (NULL is fine); unshare pages first. */
GM_API void gm_gntshr_close(gm_gntshr *s);
/*
 * gm_gntshr_share - allocate @count zeroed pages and grant them to @domid
 * (read-only unless @writable).  Fills refs[count]; returns the local
 * address of the pages or NULL with *err set (@err may be NULL): -EINVAL
 * (NULL @s/@refs, @count 0), -ENOSPC (real Xen: gntalloc's limit, 1024 pages
 * per process by default), -ENOMEM, or the world's error, logged at warning.
 * Release with gm_gntshr_unshare().  Fault site "gntshr_share".
 */
GM_API void *gm_gntshr_share(gm_gntshr *s, gm_domid domid, uint32_t count, gm_gref *refs,
			     int writable, int *err);
/*
 * gm_gntshr_end_access - revoke one grant.  Returns 0, or -EBUSY while the
 * grantee still maps the page (Xen semantics: end access fails while mapped;
 * try again after the grantee unmaps; logged at debug).  On real Xen
 * (gntalloc) this always returns 0: the kernel ends access when the pages are
 * unshared and defers it until the grantee has unmapped them.  Fault site
 * "gntshr_end_access".
 */
GM_API int gm_gntshr_end_access(gm_gntshr *s, gm_gref ref);
/*
 * gm_gntshr_unshare - free pages returned by gm_gntshr_share (@addr and
 * @count as returned).  Returns 0, -EINVAL, -EBUSY (a world that requires
 * end_access first; info) or the world's error (warning).  Fault site
 * "gntshr_unshare".
 */
GM_API int gm_gntshr_unshare(gm_gntshr *s, void *addr, uint32_t count);

/* ---- event channels (both sides) ------------------------------------------ */

typedef struct gm_evtchn gm_evtchn;

/*
 * gm_evtchn_open - open an event-channel handle on world @x.  Same contract
 * as gm_gnttab_open(); fault site "evtchn_open".  On real Xen the handle's fd
 * is made non-blocking.
 */
GM_API int gm_evtchn_open(gm_xen *x, gm_evtchn **out);
/* gm_evtchn_close - close @e (NULL is fine); its ports are unbound. */
GM_API void gm_evtchn_close(gm_evtchn *e);
/*
 * gm_evtchn_fd - pollable (POLLIN) when gm_evtchn_pending has a port.  The
 * fd belongs to @e.  Returns the fd or -EINVAL / -EOPNOTSUPP; never logs.
 */
GM_API int gm_evtchn_fd(gm_evtchn *e);
/*
 * gm_evtchn_bind_interdomain - bind to (@remote, @remote_port).  Returns the
 * local port (>= 0) or -errno (a bad remote port/domain: -EINVAL/-ESRCH,
 * logged at info; others at warning).  Fault site "evtchn_bind_interdomain".
 */
GM_API int gm_evtchn_bind_interdomain(gm_evtchn *e, gm_domid remote, gm_port remote_port);
/*
 * gm_evtchn_bind_unbound - allocate a port that @remote may bind.  Returns
 * the local port (>= 0) or -errno, logged at warning.  Fault site
 * "evtchn_bind_unbound".
 */
GM_API int gm_evtchn_bind_unbound(gm_evtchn *e, gm_domid remote);
/*
 * gm_evtchn_unbind / gm_evtchn_notify / gm_evtchn_unmask - on a port bound
 * through @e.  Return 0 or -errno (-EINVAL, e.g. a port whose peer went
 * away, logs at info; others, such as -ENOTCONN for a port not bound
 * through @e, at warning).  Fault sites "evtchn_unbind", "evtchn_notify",
 * "evtchn_unmask".
 */
GM_API int gm_evtchn_unbind(gm_evtchn *e, gm_port port);
GM_API int gm_evtchn_notify(gm_evtchn *e, gm_port port);
/*
 * gm_evtchn_pending - the next port that fired (>= 0), -EAGAIN if none
 * (never blocks; not logged).  The port stays masked until
 * gm_evtchn_unmask(); events on a masked port are kept pending (coalesced)
 * and delivered after the unmask.  Other errors log at warning.  Fault site
 * "evtchn_pending".
 */
GM_API int gm_evtchn_pending(gm_evtchn *e);
GM_API int gm_evtchn_unmask(gm_evtchn *e, gm_port port);

/* ---- xenstore (both sides) ------------------------------------------------ */

/*
 * Every gm_xs call takes the handle's lock around the world's call, so one
 * handle may be shared by threads; a slow xenstore call delays the others.
 * Paths are absolute ("/local/domain/1/...") or relative to the domain's own
 * directory; NULL or "" is -EINVAL.  -ENOENT (no such node) logs at debug,
 * -EACCES/-EPERM/-EINVAL at info, other failures at warning.
 */
typedef struct gm_xs gm_xs;

/*
 * gm_xs_open - open a xenstore connection on world @x.  Same contract as
 * gm_gnttab_open(); fault site "xs_open".
 */
GM_API int gm_xs_open(gm_xen *x, gm_xs **out);
/*
 * gm_xs_close - close @h (NULL is fine); its watches and open transactions
 * end.  Not concurrently with other calls on @h.
 */
GM_API void gm_xs_close(gm_xs *h);
/*
 * gm_xs_fd - pollable (POLLIN) when a watch fired (then call
 * gm_xs_read_watch until -EAGAIN).  The fd belongs to @h.  Returns the fd or
 * -EINVAL / -EOPNOTSUPP; never logs.
 */
GM_API int gm_xs_fd(gm_xs *h);
/*
 * gm_xs_read - read a node.  *value is malloc()ed and NUL-terminated beyond
 * *len (caller free()s it); @len may be NULL.  Returns 0 or -errno (*value
 * NULL).  Fault site "xs_read".
 */
GM_API int gm_xs_read(gm_xs *h, gm_xs_tx tx, const char *path, char **value, size_t *len);
/*
 * gm_xs_write - create or overwrite a node with @len bytes of @value (NULL
 * only with @len 0).  Returns 0 or -errno.  Fault site "xs_write".
 */
GM_API int gm_xs_write(gm_xs *h, gm_xs_tx tx, const char *path, const void *value,
		       size_t len);
/*
 * gm_xs_write_str - write a NUL-terminated string (without its NUL).  Same
 * contract as gm_xs_write(); -EINVAL for a NULL @value.
 */
GM_API int gm_xs_write_str(gm_xs *h, gm_xs_tx tx, const char *path, const char *value);
/*
 * gm_xs_directory - children of @path.  Returns their count (>= 0) and sets
 * *names to one malloc()ed block (array + strings; one free()), or -errno
 * with *names NULL.  The real world's array is NULL-terminated.  Fault site
 * "xs_directory".
 */
GM_API int gm_xs_directory(gm_xs *h, gm_xs_tx tx, const char *path, char ***names);
/* gm_xs_rm - remove @path and its children.  0 or -errno; site "xs_rm". */
GM_API int gm_xs_rm(gm_xs *h, gm_xs_tx tx, const char *path);
/* gm_xs_mkdir - create @path (0 if it exists).  0 or -errno; site "xs_mkdir". */
GM_API int gm_xs_mkdir(gm_xs *h, gm_xs_tx tx, const char *path);
/*
 * gm_xs_set_perms - set @n (>= 1) permissions on @path: entry 0 is the owner
 * and the default for others.  Unknown perms bits are -EINVAL.  Returns 0 or
 * -errno.  Fault site "xs_set_perms".
 */
GM_API int gm_xs_set_perms(gm_xs *h, gm_xs_tx tx, const char *path, const struct gm_xs_perm *p,
			   unsigned n);
/*
 * gm_xs_watch / gm_xs_unwatch - watches fire for @path and everything below
 * it, and once at registration; @token (not NULL) comes back with each
 * event.  Return 0 or -errno.  Fault sites "xs_watch", "xs_unwatch".
 */
GM_API int gm_xs_watch(gm_xs *h, const char *path, const char *token);
GM_API int gm_xs_unwatch(gm_xs *h, const char *path, const char *token);
/*
 * gm_xs_read_watch - the next fired watch, without blocking: 0 with *path
 * and *token malloc()ed (caller frees both), -EAGAIN if none (not logged),
 * or -errno.  Both out-pointers are required.  Fault site "xs_read_watch".
 */
GM_API int gm_xs_read_watch(gm_xs *h, char **path, char **token);
/*
 * gm_xs_tx_start - start a transaction; *tx is never GM_XS_TX_NONE on
 * success.  Returns 0 or -errno.  Fault site "xs_tx_start".
 */
GM_API int gm_xs_tx_start(gm_xs *h, gm_xs_tx *tx);
/*
 * gm_xs_tx_end - commit (abort == 0) or discard.  Returns 0, -EAGAIN
 * (conflict: run the transaction again; logged at debug), -EINVAL
 * (GM_XS_TX_NONE) or -errno.  Fault site "xs_tx_end".
 */
GM_API int gm_xs_tx_end(gm_xs *h, gm_xs_tx tx, int abort);
/*
 * gm_xs_transact - run @fn inside a transaction, retrying it while the commit
 * conflicts (at most @max_tries runs, then -EAGAIN, logged at info).  @fn
 * returns >= 0 to commit (gm_xs_transact then returns that value) or a
 * negative errno to abort (returned as is).  @fn must not keep state across
 * runs that a retry would duplicate.  Returns -EINVAL for NULL @h/@fn or
 * @max_tries 0; a failed start or commit returns its error.  Do not call
 * from inside @fn.
 */
GM_API int gm_xs_transact(gm_xs *h, int (*fn)(gm_xs *h, gm_xs_tx tx, void *arg), void *arg,
			  unsigned max_tries);
/*
 * gm_xs_domain_path - "/local/domain/<domid>" as xenstore names it, in
 * *path (malloc()ed; caller frees).  Returns 0 or -errno, logged at warning.
 * Fault site "xs_domain_path".
 */
GM_API int gm_xs_domain_path(gm_xs *h, gm_domid domid, char **path);


#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_XEN_H */
