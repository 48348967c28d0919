/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fake-xen: a small in-memory Xen world for unit tests of the layers above
 * the xen ops (the grant region and its mapping cache).  Link
 * $(FAKE_XEN_SOURCES) into the test; it uses only the public API.
 *
 * The "guest" is a pool of pages in one memfd.  A test declares grants
 * (granting domain, ref -> pool page, read-only or writable) and opens
 * handles on fake_xen_world() with the ordinary gm_gnttab_* / gm_gntshr_*
 * calls.  What it does, as Xen does:
 *
 *  - gm_gnttab_map maps the granted pages into one fresh contiguous range,
 *    each page mmap()ed MAP_FIXED from the memfd, so bytes are really shared
 *    with fake_xen_page(); read-only grants are mapped PROT_READ (a write
 *    through them faults) and mapping one for writing fails with -EINVAL,
 *    like a ref never granted, revoked, or granted by another domain.
 *    All or nothing.  gm_gnttab_set_max_grants caps the pages mapped through
 *    a handle (-ENOSPC beyond; no cap by default).
 *  - gm_gnttab_unmap takes exactly (address, count) of one batch (-EINVAL
 *    otherwise).  gm_gnttab_close unmaps what is left and counts it as
 *    leaked (fake_xen_stats().leaked_batches) so a test can assert none.
 *  - gm_gnttab_copy honours read-only grants and bad refs with Xen's status
 *    codes: a ref not granted by that domain GNTST_BAD_GNTREF, a domain that
 *    never granted anything GNTST_BAD_DOMAIN, a write into a read-only grant
 *    GNTST_GENERAL_ERROR (what real Xen reports); a foreign side crossing a
 *    page end fails the whole call with -EINVAL.
 *  - ending access (fake_xen_revoke, gm_gntshr_end_access) fails with -EBUSY
 *    while any handle maps the ref; gm_gntshr_share hands out free pool pages
 *    granted by the fake's own domain (fake_xen_set_self, default 0).
 *
 * Every call counts (fake_xen_stats) and every call can be made to fail:
 * the gm_* wrappers pass their fault sites ("gnttab_map", "gnttab_unmap",
 * "gnttab_copy", ...) before calling the fake, so gm_fault_inject() works on
 * this world as on any other (and gm_fault_count() counts its calls).
 * Event channels and xenstore are absent (-EOPNOTSUPP).
 *
 * Thread-safe: one mutex inside the fake.  Not for production: mmap per
 * page, linear searches.
 */
#ifndef GM_TESTS_FAKE_XEN_H
#define GM_TESTS_FAKE_XEN_H

#include <grantmem/xen.h>

#include <stdbool.h>
#include <stdint.h>

struct fake_xen;

/* A pool of @npages zeroed guest pages.  NULL (errno set) on failure. */
struct fake_xen *fake_xen_new(unsigned npages);
/* Free the fake and its world; close every handle opened on it first. */
void fake_xen_free(struct fake_xen *f);

/* The world to open handles on (owned by the fake: do not gm_xen_close it). */
gm_xen *fake_xen_world(struct fake_xen *f);
/* The domain the fake runs in: gm_xen_self_domid, the granter of gntshr. */
void fake_xen_set_self(struct fake_xen *f, gm_domid self);

/* The guest's own read-write view of pool page @page (NULL if out of range). */
void *fake_xen_page(struct fake_xen *f, unsigned page);

/*
 * fake_xen_grant - @domid grants @ref: pool page @page, writable or not.
 * Re-granting a (domid, ref) that is not mapped replaces it.  Returns 0,
 * -EINVAL (page out of range) or -EBUSY (the ref is mapped) or -ENOMEM.
 */
int fake_xen_grant(struct fake_xen *f, gm_domid domid, gm_gref ref, unsigned page,
		   bool writable);
/* fake_xen_revoke - end access: 0, -ENOENT (not granted), -EBUSY (mapped). */
int fake_xen_revoke(struct fake_xen *f, gm_domid domid, gm_gref ref);
/* How many mappings of (@domid, @ref) exist now, over every handle. */
unsigned fake_xen_ref_mapped(struct fake_xen *f, gm_domid domid, gm_gref ref);

struct fake_xen_stats {
	unsigned long map_calls;      /* gnttab_map calls that reached the fake */
	unsigned long map_fails;      /* ... of which failed */
	unsigned long unmap_calls;    /* gnttab_unmap calls that reached the fake */
	unsigned long copy_calls;     /* gnttab_copy calls */
	unsigned long copy_segs;      /* segments in them */
	unsigned long pages_mapped;   /* pages mapped now, over all handles */
	unsigned long batches_mapped; /* batches mapped now */
	unsigned long leaked_batches; /* batches still mapped at gnttab_close */
};
void fake_xen_stats(struct fake_xen *f, struct fake_xen_stats *st);

#endif /* GM_TESTS_FAKE_XEN_H */
