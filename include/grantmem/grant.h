/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: grant regions and the mapping cache.
 *
 * A grant region makes a frontend domain's grants look like guest memory:
 * region offset `gref << 12 | page offset` is byte `page offset` of the page
 * granted as `gref`.  Placed at `1ULL << 63` in a space it gives exactly the
 * addresses Linux's grant-dma-ops hands to devices:
 *
 *     guest address = (1ULL << 63) | (gref << 12) | offset
 *
 * and a multi-page buffer is a run of consecutive grefs.  The device model
 * never sees a gref: it uses gm_map/gm_read/... on the space.
 *
 * Mapping cache.  Every region shares the cache it was created on.  An entry
 * is one batch mapping, (domid, refs[], prot) -> host VA, unmapped only as a
 * whole (libxengnttab cannot unmap part of a batch).
 *
 *  - Hits take no system call and no lock: a three-level direct table per
 *    domain, indexed by gref, and an atomic pin count per entry.  Concurrent
 *    misses for the same refs are merged: one map call, the others wait.
 *  - gm_map pins, gm_unmap unpins.  Policy per region, overridable per call
 *    with GM_MAP_TRANSIENT / GM_MAP_PERSISTENT:
 *      transient:  the batch is unmapped when its last pin drops, inside
 *                  gm_unmap, so the guest can end foreign access as soon as
 *                  the request completes;
 *      persistent: kept after the last pin, evicted least-recently-used when
 *                  the page budget is reached, or when idle for longer than
 *                  the idle time (checked on misses and by
 *                  gm_grant_cache_evict_idle).  Use it for rings.
 *  - Permissions are exact: a read-only entry never satisfies a write; a
 *    write to a page cached read-only maps it again read-write (and fails
 *    -EACCES if the guest granted it read-only).
 *  - Budget: at most max_pages mapped at once (default 65536, gntdev's
 *    limit).  When pinned entries use it all, a map fails -ENOSPC at once.
 *  - Invalidation (of refs, of a domain, of everything) unmaps unpinned
 *    entries now and pinned ones on their last unpin.
 *  - gm_map_sg over grant ranges maps every missing page of the request with
 *    one map call (the refs need not be consecutive) and the request's
 *    gm_unmap_sg releases it with one unmap call.  A range longer than one
 *    map call holds (65,536 pages) is mapped piece by piece instead, one
 *    iovec per mapping (-E2BIG when @max_out is too small for them).  No
 *    iovec, and no length gm_map reports, is ever longer than the mapping
 *    behind it.
 *  - Mappings get MADV_DONTDUMP and MADV_DONTFORK.
 *
 * Reads and writes of grant memory that is not mapped use grant copy (page-
 * split, batched segments) up to copy_threshold bytes and a transient map
 * above it; without grant copy, map-copy-unmap.  Atomics pin a mapping for
 * the access.  gm_read_sg/gm_write_sg (mem.h) copy every page of their list
 * with grant copy, whatever copy_threshold, 128 segments a call: a device
 * that copies a request's buffers instead of mapping them (grantmem-blk
 * --data copy) makes one copy call per direction of a request.
 *
 * Errors: -EFAULT outside the region; -EACCES writing a read-only grant;
 * -EINVAL a ref the guest did not grant to us (bad, revoked, foreign,
 * unknown domain — Xen does not say which); -ENOSPC budget exhausted
 * (pinned entries hold the room: it clears as they are released);
 * -EMSGSIZE (gm_map_sg) more pages at once than the frontend's share, or
 * one map call, can ever hold: retrying cannot help (gm_map shortens
 * instead);
 * -EAGAIN when Xen kept answering "try again" (paged-out grants, retried
 * a few times first); other negative errnos from the Xen ops.  A failure
 * leaves nothing mapped and logs one line (info: guest-caused; warning: Xen).
 * Every line a guest can trigger is rate-limited per call site (a burst of
 * ten, then about one a second, with a count of those dropped): a guest
 * that fails on purpose cannot flood the log.
 *
 * Threads: everything here is thread-safe.  The cache lock (slow path only)
 * is never held across a call into Xen.
 */
#ifndef GRANTMEM_GRANT_H
#define GRANTMEM_GRANT_H

#include <grantmem/mem.h>
#include <grantmem/xen.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where Linux grant-dma-ops puts grant addresses. */
#define GM_GRANT_BASE (1ULL << 63)
/* Offsets of every gref (2^32 refs of 4 KiB). */
#define GM_GRANT_REGION_SIZE (1ULL << 44)
/* The guest address of byte @off (0..4095) of the page granted as @gref. */
#define GM_GRANT_ADDR(gref, off) (GM_GRANT_BASE | ((uint64_t)(gref) << 12) | (uint64_t)(off))
/*
 * Decoders, the inverse of GM_GRANT_ADDR (integer constant expressions when
 * @addr is one; C and C++):
 *   GM_GRANT_IS_GRANT(addr)  bit 63: nonzero for an address in grant space
 *   GM_GRANT_REF(addr)       the gref, bits 12..43, as a gm_gref
 *   GM_GRANT_OFFSET(addr)    the byte in that page, bits 0..11, as a uint32_t
 * GM_GRANT_REF and GM_GRANT_OFFSET ignore bit 63, so they decode the offsets
 * a grant region is given (a grant address minus its base) alike.  They do
 * not check the bits in between: an address with any of bits 44..62 set
 * lies beyond the grant region (see GM_GRANT_REGION_SIZE).
 */
#define GM_GRANT_IS_GRANT(addr) (((uint64_t)(addr) & GM_GRANT_BASE) != 0)
#define GM_GRANT_REF(addr) ((gm_gref)(((uint64_t)(addr) >> 12) & 0xffffffffu))
#define GM_GRANT_OFFSET(addr) ((uint32_t)((uint64_t)(addr) & 0xfffu))

typedef struct gm_grant_cache gm_grant_cache;

enum gm_grant_policy {
	GM_GRANT_TRANSIENT = 0,
	GM_GRANT_PERSISTENT = 1,
};

/* Versioned (common.h): size first, sizeof or 0. */
struct gm_grant_cache_config {
	size_t size;
	uint32_t max_pages;    /* mapped-page budget; 0: 65536 */
	unsigned idle_ms;      /* persistent entries unused this long go; 0: never */
	size_t copy_threshold; /* unmapped reads/writes up to this use grant copy;
				* 0: the default (GM_GRANT_COPY_THRESHOLD);
				* SIZE_MAX: always copy */
};
#define GM_GRANT_COPY_THRESHOLD (16u << 10)

/*
 * The cache's counters.  The call counters count every call made to Xen,
 * whatever it was for: serving a miss, retrying after "try again" (-EAGAIN),
 * or probing a refused ref to tell a read-only grant from a bad one (a
 * read-only map, or a one-byte copy, answered and undone at once).
 * Versioned (common.h): set size to sizeof (or 0) before the call.
 */
struct gm_grant_stats {
	size_t size;
	uint64_t hits;           /* translations served by a mapped entry: a gm_map,
				  * a gm_map_sg range, or a piece of a read or
				  * write that found its pages mapped */
	uint64_t misses;         /* translations that found nothing usable mapped and
				  * went to map (merged ones too: dedup_waits) */
	uint64_t map_calls;      /* gnttab map calls, refused ones and probes included */
	uint64_t pages_mapped;   /* pages the map calls that succeeded mapped */
	uint64_t unmap_calls;    /* gnttab unmap calls, retries and probes included */
	uint64_t evictions;      /* persistent entries evicted (budget or idle) */
	uint64_t invalidations;  /* entries invalidated */
	uint64_t copy_calls;     /* gnttab copy calls, retries and probes included */
	uint64_t copy_segs;      /* segments the copy calls carried */
	uint64_t bounce_uses;    /* map-copy-unmap fallbacks for reads/writes */
	uint64_t dedup_waits;    /* misses that waited for another thread's map */
	uint64_t map_errors;     /* map calls Xen refused (a subset of map_calls) */
	uint32_t entries;        /* now: live entries */
	uint32_t pinned_entries; /* now: entries with pins */
	uint32_t mapped_pages;   /* now: pages mapped */
	uint32_t max_pages;      /* now: the budget */
	uint32_t domains;        /* now: frontends known (a region, or entries) */
	uint64_t table_bytes;    /* now: memory of their gref tables */
};

/*
 * gm_grant_cache_new - a mapping cache over grant-table handle @g.
 * @cfg may be NULL for defaults.  Calls gm_gnttab_set_max_grants(max_pages)
 * (failure only logged: recent kernels have no per-handle limit).  @g must
 * outlive the cache.  Returns 0, -EINVAL (also a cfg->size below the
 * first version's), -E2BIG (@cfg sets fields newer than this library),
 * -ENOMEM.
 */
GM_API int gm_grant_cache_new(gm_gnttab *g, const struct gm_grant_cache_config *cfg,
			      gm_grant_cache **out);

/*
 * gm_grant_cache_free - unmap everything and free.  Accepts NULL.  Regions
 * created on the cache must be freed (and out of every space) first;
 * mappings still pinned are unmapped anyway and logged as a warning.
 */
GM_API void gm_grant_cache_free(gm_grant_cache *c);

/* gm_grant_cache_set_max_pages - change the budget (evicts down to it). */
GM_API int gm_grant_cache_set_max_pages(gm_grant_cache *c, uint32_t max_pages);

/*
 * Invalidation.  Unpinned entries touching the refs are unmapped before the
 * call returns; pinned ones are unmapped by their last gm_unmap.  Returns the
 * number of entries invalidated (>= 0) or a negative errno: -ENOMEM when
 * some entries could not be taken (they stay mapped), -EBUSY when Xen
 * refused to unmap pages in the range (the cache retries them at every
 * later invalidation and release).  After an error, some of the guest's
 * pages may still be mapped: call again before telling it they are free.
 *   _refs:   entries of @domid holding any of [first, first + count)
 *   _domain: every entry of @domid (a frontend went away)
 *   _all:    everything (device reset)
 */
GM_API int gm_grant_cache_invalidate_refs(gm_grant_cache *c, gm_domid domid, gm_gref first,
					  uint32_t count);
GM_API int gm_grant_cache_invalidate_domain(gm_grant_cache *c, gm_domid domid);
GM_API int gm_grant_cache_invalidate_all(gm_grant_cache *c);

/*
 * gm_grant_cache_evict_idle - unmap unpinned persistent entries not used for
 * idle_ms.  Returns how many went.  Device models call it from their loop
 * (misses also do it, at most every idle_ms / 4).
 */
GM_API int gm_grant_cache_evict_idle(gm_grant_cache *c);

/* gm_grant_cache_stats - a snapshot of the counters, up to st->size
 * (versioned, common.h).  Thread-safe. */
GM_API void gm_grant_cache_stats(gm_grant_cache *c, struct gm_grant_stats *st);

/*
 * gm_grant_cache_domain_stats - the map calls of frontend @domid's grants
 * alone, in @st->map_calls; every other field is 0.  Counted while the
 * cache knows the domain: from its first region or mapping until it has
 * neither (then from 0 again).  A backend serving several frontends from
 * one cache tells each one's map cost with it.  All zero for a domain the
 * cache does not know.  Filled up to st->size (versioned, common.h).
 * Thread-safe (it takes the cache lock briefly);
 * never logs.
 */
GM_API void gm_grant_cache_domain_stats(gm_grant_cache *c, gm_domid domid,
					 struct gm_grant_stats *st);

/*
 * gm_grant_region_new - a region of GM_GRANT_REGION_SIZE bytes for the grants
 * of frontend @domid, on cache @c, with default @policy and the default
 * share of the budget (see gm_grant_region_new_cfg).  Add it to a space at
 * GM_GRANT_BASE (or any base).  Several regions (one per frontend) may
 * share a cache and its budget.  Free with gm_region_free(); the cache must
 * outlive it.  Returns 0, -EINVAL, -ENOMEM.  Thread-safe; does not log.
 */
GM_API int gm_grant_region_new(gm_grant_cache *c, gm_domid domid, enum gm_grant_policy policy,
			       gm_region **out);

/*
 * A grant region's knobs.  Versioned: set @size to sizeof(struct
 * gm_grant_region_config); fields a later version adds after those an
 * older caller knows take their defaults (a caller built against a later
 * header may pass a bigger @size: fields this library does not know must
 * then be zero).
 */
struct gm_grant_region_config {
	size_t size;                 /* sizeof(struct gm_grant_region_config) */
	enum gm_grant_policy policy; /* the default of gm_map without a policy flag */
	uint32_t min_pages;          /* guaranteed share; 0: the default
				      * (GM_GRANT_MIN_PAGES_DEFAULT, at most a
				      * sixteenth of the budget, less if it has
				      * no more room for minimums);
				      * GM_GRANT_PAGES_NONE: no guarantee */
	uint32_t max_pages;          /* ceiling; 0: none (the whole budget) */
};
#define GM_GRANT_MIN_PAGES_DEFAULT 256u /* 1 MiB: rings and a few requests */
#define GM_GRANT_PAGES_NONE UINT32_MAX

/*
 * gm_grant_region_new_cfg - gm_grant_region_new with knobs (@cfg required).
 *
 * Shares.  The regions on one cache are frontends that do not trust each
 * other, and each has a share of the cache's budget of mapped pages:
 *  - a minimum, guaranteed: the pages a frontend has not used of its
 *    minimum are kept free for it, so whatever the others do it can always
 *    map that many (if its own pinned pages do not hold them);
 *  - a ceiling: it never holds more pages than that at once.
 * A map that does not fit evicts persistent entries nobody pins: the
 * frontend's own least recently used when it is at its ceiling; otherwise
 * those of the frontends furthest above their minimum (itself included),
 * never taking another frontend below its minimum.  Pinned entries (rings,
 * kept mapped by gm_ring; requests in flight) are never evicted, by anyone.
 * The sum of the minimums never exceeds the budget: an explicit @min_pages
 * that does not fit beside the others' fails -ENOSPC, a default one gets
 * what is left (possibly nothing).  Regions of the same domain on one
 * cache share one table and one share: the largest of their minimums and
 * of their ceilings.  A domain's table is freed once its last region is
 * freed and nothing of it is mapped (invalidate the domain when its
 * frontend goes: its entries are unmapped at once, pinned ones at their
 * last unpin), or as soon as an invalidation of the domain leaves nothing
 * of it mapped: a frontend that leaves costs nothing afterwards.
 *
 * Returns 0, -EINVAL (NULL @c, @cfg or @out, a @size too small for the
 * fields above, a bad policy, a minimum above the ceiling), -E2BIG (a
 * bigger @size whose extra bytes are not zero), -ENOSPC, -ENOMEM.
 * Thread-safe; does not log.
 */
GM_API int gm_grant_region_new_cfg(gm_grant_cache *c, gm_domid domid,
				   const struct gm_grant_region_config *cfg, gm_region **out);

/* A frontend's share, now (gm_grant_region_share). */
struct gm_grant_share {
	uint32_t used;      /* pages mapped (or being mapped) for it */
	uint32_t min_pages; /* its minimum, as granted */
	uint32_t max_pages; /* its ceiling (the budget when it has none) */
	uint32_t entries;   /* its entries not yet unmapped */
};

/*
 * gm_grant_region_share - what grant region @r's frontend uses of its share
 * now.  Returns 0, or -EINVAL (NULL, or not a grant region).  Thread-safe;
 * does not log.
 */
GM_API int gm_grant_region_share(gm_region *r, struct gm_grant_share *out);

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_GRANT_H */
