/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem internals: the real Xen world (backends/world/real.c).
 *
 * Every libxen* call of the real world goes through a `struct gm__xenlibs`:
 * the world's `void *world` *is* the table.  gm__xen_real_open() uses
 * gm__xenlibs_real (the libxen* functions themselves); a unit test builds a
 * world on a table of fakes with
 *
 *	gm_xen_open_ops(&gm__xen_real_ops, &my_fake_libs, &x);
 *
 * and checks how -1/errno, NULL, false and statuses are converted.
 * Only built with GM_HAVE_XEN.
 */
#ifndef GM_XEN_REAL_H
#define GM_XEN_REAL_H

#include <grantmem/xen.h>

#include <stdbool.h>
#include <sys/types.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>
#include <xentoollog.h>

/*
 * The libxen* entry points the real world uses, with libxen*'s own
 * signatures and error conventions (-1 / NULL / false with errno).  Every
 * member must be set.  The last three stand for the system calls the world
 * makes itself.
 */
struct gm__xenlibs {
	/* libxengnttab */
	xengnttab_handle *(*gnttab_open)(xentoollog_logger *logger, unsigned flags);
	int (*gnttab_close)(xengnttab_handle *h);
	int (*gnttab_set_max_grants)(xengnttab_handle *h, uint32_t count);
	void *(*gnttab_map_domain_grant_refs)(xengnttab_handle *h, uint32_t count, uint32_t domid,
					      uint32_t *refs, int prot);
	int (*gnttab_unmap)(xengnttab_handle *h, void *addr, uint32_t count);
	int (*gnttab_grant_copy)(xengnttab_handle *h, uint32_t count,
				 xengnttab_grant_copy_segment_t *segs);
	/* libxengntshr (part of libxengnttab) */
	xengntshr_handle *(*gntshr_open)(xentoollog_logger *logger, unsigned flags);
	int (*gntshr_close)(xengntshr_handle *h);
	void *(*gntshr_share_pages)(xengntshr_handle *h, uint32_t domid, int count, uint32_t *refs,
				    int writable);
	int (*gntshr_unshare)(xengntshr_handle *h, void *addr, uint32_t count);
	/* libxenevtchn */
	xenevtchn_handle *(*evtchn_open)(xentoollog_logger *logger, unsigned flags);
	int (*evtchn_close)(xenevtchn_handle *h);
	int (*evtchn_fd)(xenevtchn_handle *h);
	xenevtchn_port_or_error_t (*evtchn_bind_interdomain)(xenevtchn_handle *h, uint32_t domid,
							     evtchn_port_t remote_port);
	xenevtchn_port_or_error_t (*evtchn_bind_unbound_port)(xenevtchn_handle *h, uint32_t domid);
	int (*evtchn_unbind)(xenevtchn_handle *h, evtchn_port_t port);
	int (*evtchn_notify)(xenevtchn_handle *h, evtchn_port_t port);
	xenevtchn_port_or_error_t (*evtchn_pending)(xenevtchn_handle *h);
	int (*evtchn_unmask)(xenevtchn_handle *h, evtchn_port_t port);
	/* libxenstore */
	struct xs_handle *(*xs_open)(unsigned long flags);
	void (*xs_close)(struct xs_handle *h);
	int (*xs_fileno)(struct xs_handle *h);
	void *(*xs_read)(struct xs_handle *h, xs_transaction_t t, const char *path,
			 unsigned *len);
	bool (*xs_write)(struct xs_handle *h, xs_transaction_t t, const char *path,
			 const void *data, unsigned len);
	char **(*xs_directory)(struct xs_handle *h, xs_transaction_t t, const char *path,
			       unsigned *num);
	bool (*xs_rm)(struct xs_handle *h, xs_transaction_t t, const char *path);
	bool (*xs_mkdir)(struct xs_handle *h, xs_transaction_t t, const char *path);
	bool (*xs_set_permissions)(struct xs_handle *h, xs_transaction_t t, const char *path,
				   struct xs_permissions *perms, unsigned num);
	bool (*xs_watch)(struct xs_handle *h, const char *path, const char *token);
	bool (*xs_unwatch)(struct xs_handle *h, const char *path, const char *token);
	/* non-blocking: NULL with errno EAGAIN when no watch fired */
	char **(*xs_check_watch)(struct xs_handle *h);
	xs_transaction_t (*xs_transaction_start)(struct xs_handle *h);
	bool (*xs_transaction_end)(struct xs_handle *h, xs_transaction_t t, bool abort);
	char *(*xs_get_domain_path)(struct xs_handle *h, unsigned domid);
	/* system: make @fd non-blocking (0 or -1/errno) */
	int (*set_nonblock)(int fd);
	/* system: read up to @size bytes of @path (count or -1/errno) */
	ssize_t (*read_file)(const char *path, char *buf, size_t size);
	/* system: does @path exist?  (Only asked after a failure, to explain it.) */
	bool (*path_exists)(const char *path);
};

/* The real libxen* functions. */
extern const struct gm__xenlibs gm__xenlibs_real;

/* The real world's ops; its `world` is a `const struct gm__xenlibs *`. */
extern const struct gm_xen_ops gm__xen_real_ops;

/* The real world over gm__xenlibs_real (open.c's gm_xen_real_open). */
int gm__xen_real_open(gm_xen **out);

#endif /* GM_XEN_REAL_H */
