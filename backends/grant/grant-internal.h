/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem internals, backends/grant: the mapping cache's internal API, as
 * the grant region (region.c) uses it.  The cache (cache.c) never calls the
 * region.  Never installed.
 *
 * Data structures
 *   entry   one batch mapping: refs[] of one domain mapped at va, as a whole.
 *           Users pin it: a persistent entry's pins are a distributed
 *           reference (base.h: each thread counts its own, so hits write no
 *           shared line), a transient entry's an atomic count whose last
 *           unpin gives the pages back at once.  A dead entry is never
 *           pinned again; its last unpin releases it.
 *   domain  one frontend (gm__gdom): its table, gref -> (entry, index of the
 *           gref in entry->refs), three levels (10/11/11 bits) allocated on
 *           first use and read without locks inside a read-side section; its
 *           share of the budget (pages used, minimum, ceiling); its lists of
 *           linked entries: persistent ones in LRU order (the order they
 *           were last put at the tail), transient ones apart.  It lives
 *           while a region or an entry of it does.
 *   heap    the domains by excess (pages used above their minimum): where
 *           eviction looks first for room taken from others.
 *   tree    every mapped entry by address (tsearch): unmap by pointer.
 *   va      linked entries by host page (struct gm__gvl2): host-pointer
 *           lookups without the lock.
 *
 * Hit path:  section enter, the table's three loads, a pin (a store to this
 *            thread's own cell for a persistent entry), section exit.  No
 *            lock, no system call, no shared line written.
 * Miss path: the cache lock to reserve room in the frontend's share, evict
 *            (a few entries examined per victim: O(1)), and register the
 *            map as in flight (other misses for the same refs wait for it),
 *            then the map call with no lock held, then the lock again to
 *            publish.
 * Release:   unlink under the lock, wait for readers (epoch), unmap, free.
 *
 * Locking rules
 *  - The cache lock (c->lock) guards what is marked "lock" below.  It is
 *    never held across a call into Xen, an epoch wait or a log line, nor
 *    across work proportional to the number of entries: long walks
 *    (invalidation, sweeps, statistics) drop it every GM__GCACHE_BATCH
 *    entries, holding their place with a cursor in the list.  The hit path
 *    never takes it.
 *  - c->sync_lock only serialises epoch waits; it is never taken with the
 *    cache lock held, nor the other way round.
 *  - The tables are written under the cache lock and read without it inside
 *    a read-side section (gm__epoch_enter/exit on c->ep).  An entry found in
 *    a slot stays mapped and allocated until the section ends: release
 *    unlinks it, then waits for readers before it unmaps and frees it.
 *  - Beyond the section, only a pin keeps an entry mapped.  A pin is taken
 *    with gm__gcache_try_pin (fails on a dead entry) and dropped with
 *    gm__gcache_unpin; after the drop the entry may be freed at any time.
 *  - Immutable once published: an entry's dom, domid, va, npages, prot,
 *    persistent and refs; the cache's g, idle_ms and copy_threshold; a
 *    domain's domid.
 *  - Counters are relaxed atomics, added to from anywhere (GM__GCACHE_STAT),
 *    or per-thread lines (hits).
 *
 * The functions declared below (not inline) take the locks they need: call
 * them with no lock held and outside any read-side section of c->ep.
 */
#ifndef GM_GRANT_INTERNAL_H
#define GM_GRANT_INTERNAL_H

#include "base/base.h"

#include <grantmem/grant.h>

#define GM__GCACHE_L1_BITS 10
#define GM__GCACHE_L2_BITS 11
#define GM__GCACHE_L3_BITS 11
#define GM__GCACHE_DEAD 0x80000000u
/* Pages in one map call: gntdev's per-request limit. */
#define GM__GCACHE_MAX_MAP_PAGES 65536u
/* Calls Xen answers "try again" (paged-out grants) are retried this often. */
#define GM__GCACHE_EAGAIN_TRIES 5
/* Idle sweeps remembered (their time and LRU clock). */
#define GM__GCACHE_SWEEPS 8
/* gm__gcache_map: another thread mapped the refs meanwhile, look again. */
#define GM__GCACHE_RETRY 1
/* Entries a long walk handles per hold of the cache lock. */
#define GM__GCACHE_BATCH 64

enum gm__glist { GM__GL_NONE, GM__GL_LRU, GM__GL_LIVE, GM__GL_CURSOR };

struct gm__gentry {
	struct gm__gentry *prev, *next; /* its domain's list (see list); lock */
	uint64_t listed;     /* LRU clock when put at the tail of the LRU list; lock */
	uint8_t list;        /* enum gm__glist: which list it is on; lock */
	bool linked;         /* reachable from the table; lock */
	bool counted;        /* its pages count in its domain's share; lock */
	bool evicted;        /* killed by eviction (its pages given back early); lock */
	bool persistent;
	int prot;            /* GM_PROT_READ or GM_PROT_RW, as mapped */
	struct gm__gdom *dom;
	gm_domid domid;
	void *va;
	uint32_t npages;
	atomic_uint_least64_t stamp; /* last use (gm__lru_touch) */
	atomic_uint pins;    /* transient: users | GM__GCACHE_DEAD */
	struct gm__dref ref; /* persistent: users (protocol of base.h, epoch c->ep) */
	gm_gref refs[];
};

/*
 * A gref's place in the table.  A reader loads e, then idx, then e again,
 * and keeps idx only if e did not change: a slot goes from one entry to
 * another only through NULL (unlink_slots), and idx is stored with release
 * after that and loaded with acquire, so a reader that sees the new idx
 * sees at least the NULL on its second load of e.  (With a relaxed idx the
 * second load of e may be satisfied first on Arm64, or the new idx become
 * visible before the NULL, and an entry would be paired with a page index
 * of another: a pointer outside its mapping.)
 */
struct gm__gslot {
	_Atomic(struct gm__gentry *) e;
	atomic_uint idx;
};

struct gm__gl3 {
	struct gm__gslot s[1u << GM__GCACHE_L3_BITS];
};

struct gm__gl2 {
	_Atomic(struct gm__gl3 *) p[1u << GM__GCACHE_L2_BITS];
};

/*
 * The host-address index: linked entries by the page numbers of their
 * mappings (va >> GM_PAGE_SHIFT), three levels of 13/12/12 bits, written
 * under the cache lock and read without it inside a read-side section,
 * as the domains' tables are (a slot is set when the entry is published,
 * cleared when it is unlinked).  It answers host-pointer lookups
 * (gm_unmap_host, gm_host_to_guest) lock-free; page numbers beyond its 37
 * bits and unlinked entries still pinned are found in the tree.
 */
#define GM__GCACHE_VA_L1_BITS 13
#define GM__GCACHE_VA_L2_BITS 12
#define GM__GCACHE_VA_L3_BITS 12
#define GM__GCACHE_VA_BITS (GM__GCACHE_VA_L1_BITS + GM__GCACHE_VA_L2_BITS + GM__GCACHE_VA_L3_BITS)

struct gm__gvl3 {
	_Atomic(struct gm__gentry *) e[1u << GM__GCACHE_VA_L3_BITS];
};

struct gm__gvl2 {
	_Atomic(struct gm__gvl3 *) p[1u << GM__GCACHE_VA_L2_BITS];
};

/* One region's say in its domain's share (region.c owns it). */
struct gm__gshare {
	struct gm__gshare *next; /* the domain's; lock */
	uint32_t min_pages, max_pages; /* as asked (0: default) */
	uint32_t min_granted;    /* the minimum it got: the default is clamped */
};

/* One frontend domain.  Lives while a region or an entry of it does. */
struct gm__gdom {
	struct gm__gdom *next, *prev; /* the cache's domains; lock */
	struct gm__gentry lru;  /* persistent linked entries, LRU first; lock */
	struct gm__gentry live; /* transient linked entries; lock */
	struct gm__gshare *shares; /* its regions' knobs; lock */
	uint32_t used;          /* pages mapped or reserved, not yet released; lock */
	uint32_t min_pages;     /* guaranteed (largest of its regions'); lock */
	uint32_t max_pages;     /* ceiling, 0: the budget (largest of its regions'); lock */
	unsigned regions;       /* regions on it; lock */
	unsigned entries;       /* entries allocated and not freed, zombies too; lock */
	unsigned inflight;      /* map calls in progress; lock */
	unsigned heap_at;       /* its index in c->heap; lock */
	size_t table_bytes;     /* its table levels and itself; lock */
	gm_domid domid;
	_Atomic(struct gm__gl2 *) l1[1u << GM__GCACHE_L1_BITS];
	atomic_uint_least64_t map_calls; /* its share (gm_grant_cache_domain_stats) */
};

struct gm__ginflight; /* a map call in progress (cache.c) */

struct gm_grant_cache {
	gm_gnttab *g;
	struct gm__epoch ep;         /* read-side sections over the tables */
	pthread_mutex_t sync_lock;   /* serialises epoch waits */
	pthread_mutex_t lock;        /* the cache lock: everything marked "lock" */
	pthread_cond_t cond;         /* an in-flight map finished */
	struct gm__gdom doms;        /* list head (only next, prev used); lock */
	struct gm__gdom **heap;      /* domains by excess, a max-heap; lock */
	unsigned ndoms, heap_cap;    /* lock */
	void *tree;                  /* mapped entries by address (tsearch); lock */
	_Atomic(struct gm__gvl2 *) va[1u << GM__GCACHE_VA_L1_BITS]; /* linked entries by host page */
	struct gm__gentry *zombies;  /* unmap failed: retried later; lock */
	atomic_bool have_zombies;    /* lets release skip the retry */
	struct gm__ginflight *inflight; /* lock */
	uint32_t max_pages;          /* the budget; lock */
	uint32_t used;               /* pages of every domain's share; lock */
	uint32_t reserved;           /* minimums not used yet: sum of min - used; lock */
	uint32_t min_total;          /* sum of the domains' minimums; lock */
	uint32_t entries;            /* lock */
	uint64_t table_bytes;        /* every domain's; lock */
	unsigned idle_ms;
	size_t copy_threshold;
	struct {
		uint64_t ns, clock;
	} sweeps[GM__GCACHE_SWEEPS]; /* recent idle sweeps, newest first; lock */
	atomic_bool no_copy;         /* the world has no grant copy */
	struct gm__slot_ctr hits[GM__EPOCH_SLOTS];
	atomic_uint_least64_t misses, map_calls, pages_mapped, unmap_calls, evictions,
		invalidations, copy_calls, copy_segs, bounce_uses, dedup_waits, map_errors;
};

#define GM__GCACHE_STAT(c, f, n) atomic_fetch_add_explicit(&(c)->f, (n), memory_order_relaxed)

/* ---- the hit path (inline, lock-free) ---- */

/* The slot of @ref in @d's table, NULL if its levels do not exist yet.
 * Inside a read-side section of c->ep (or with the cache lock). */
static inline struct gm__gslot *gm__gcache_slot(struct gm__gdom *d, gm_gref ref)
{
	/* acquire: a level published with release is seen initialised */
	struct gm__gl2 *l2 = atomic_load_explicit(
		&d->l1[ref >> (GM__GCACHE_L2_BITS + GM__GCACHE_L3_BITS)], memory_order_acquire);
	if (!l2)
		return NULL;
	struct gm__gl3 *l3 = atomic_load_explicit(
		&l2->p[(ref >> GM__GCACHE_L3_BITS) & ((1u << GM__GCACHE_L2_BITS) - 1)],
		memory_order_acquire);
	if (!l3)
		return NULL;
	return &l3->s[ref & ((1u << GM__GCACHE_L3_BITS) - 1)];
}

/* Is @e dead (never to be pinned again)?  A hint outside the lock. */
static inline bool gm__gcache_dead(struct gm__gentry *e)
{
	/* relaxed: a hint; the pin that matters (try_pin) checks again */
	if (e->persistent)
		return atomic_load_explicit(&e->ref.state, memory_order_relaxed) & GM__DREF_DEAD;
	return atomic_load_explicit(&e->pins, memory_order_relaxed) & GM__GCACHE_DEAD;
}

/*
 * The entry that maps @ref with at least @prot, with *idx = the page index
 * of @ref in it, or NULL.  Inside a read-side section of c->ep; the entry
 * may be dying (check gm__gcache_dead, or pin it).  Counts nothing.
 */
static inline struct gm__gentry *gm__gcache_find(struct gm__gdom *d, gm_gref ref, int prot,
						 uint32_t *idx)
{
	struct gm__gslot *s = gm__gcache_slot(d, ref);
	/* acquire: the entry was published with release, fully built */
	struct gm__gentry *e = s ? atomic_load_explicit(&s->e, memory_order_acquire) : NULL;

	if (!e)
		return NULL;
	*idx = atomic_load_explicit(&s->idx, memory_order_acquire);
	/* e unchanged: idx is its own (see struct gm__gslot). */
	if (atomic_load_explicit(&s->e, memory_order_acquire) != e || (prot & ~e->prot))
		return NULL;
	return e;
}

/* Pages of the run that starts at @idx of @e and continues @ref upwards, at
 * most @want.  Pinned, or inside a read-side section. */
static inline uint32_t gm__gcache_run_len(const struct gm__gentry *e, uint32_t idx, gm_gref ref,
					  uint32_t want)
{
	uint32_t n = 1;

	while (n < want && idx + n < e->npages && e->refs[idx + n] == ref + n)
		n++;
	return n;
}

/* Take a pin on @e unless it is dead.  Inside a read-side section of c->ep. */
static inline bool gm__gcache_try_pin(struct gm__gentry *e)
{
	if (e->persistent)
		return gm__dref_get(&e->ref);
	/* relaxed first load: the CAS decides */
	unsigned p = atomic_load_explicit(&e->pins, memory_order_relaxed);

	do {
		if (p & GM__GCACHE_DEAD)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&e->pins, &p, p + 1, memory_order_acquire,
							 memory_order_relaxed));
	return true;
}

/* @k more pins on @e, which the caller already holds pinned. */
static inline void gm__gcache_pin_more(struct gm__gentry *e, unsigned k)
{
	/* relaxed: our own pin keeps @e alive; the count is what matters */
	if (e->persistent)
		atomic_fetch_add_explicit(&e->ref.central, k, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&e->pins, k, memory_order_relaxed);
}

/* Count a hit (this thread's line). */
static inline void gm__gcache_hit(gm_grant_cache *c)
{
	gm__slot_ctr_inc(c->hits);
}

/*
 * The hit path: pin the entry that maps @ref with at least @prot and holds
 * the @want pages from @ref on as one run; *idx = the page index of @ref in
 * it.  Counts a hit and touches the entry when it pins one.  NULL if none.
 */
static inline struct gm__gentry *gm__gcache_lookup_pin(gm_grant_cache *c, struct gm__gdom *d,
						       gm_gref ref, int prot, uint32_t want,
						       uint32_t *idx)
{
	struct gm__epoch_token t;

	gm__epoch_enter(&c->ep, &t);
	struct gm__gentry *e = gm__gcache_find(d, ref, prot, idx);
	if (e && (gm__gcache_run_len(e, *idx, ref, want) < want || !gm__gcache_try_pin(e)))
		e = NULL;
	gm__epoch_exit(&c->ep, &t);
	if (e) {
		gm__lru_touch(&e->stamp); /* pinned: @e stays */
		gm__gcache_hit(c);
	}
	return e;
}

/*
 * gm__gcache_release - release entries that are dead and no longer pinned
 * (the caller owns them): unlink, wait for readers unless @synced (a grace
 * period has passed since they were unlinked), unmap, free.  With @n == 0,
 * retries unmaps Xen refused before.  No lock held.
 */
void gm__gcache_release(gm_grant_cache *c, struct gm__gentry **victims, unsigned n,
			bool synced);

/*
 * Drop one pin.  Once our pin is gone, @e may be killed and freed by
 * another thread at any moment (invalidation, eviction), so nothing here
 * touches @e after the decrement unless it owns @e or sits in a read-side
 * section, which release waits for before it frees.  The last unpin of a
 * dead or transient entry releases it: call outside any read-side section
 * of c->ep.
 *
 * The transient decrement is acq_rel: release, so that what we did through
 * the mapping comes before whoever unmaps it; acquire, because the thread
 * that drops the last pin of a dead entry is the one that unmaps and frees
 * it, after every other user's accesses (their release decrements).  The
 * persistent put orders the same way (gm__dref_put).
 */
static inline void gm__gcache_unpin(gm_grant_cache *c, struct gm__gentry *e)
{
	struct gm__epoch_token t;
	bool mine;

	gm__epoch_enter(&c->ep, &t);
	if (e->persistent) { /* read while pinned: it never changes */
		/* Kept after the last pin; only a killed entry is ours to free,
		 * and its kill waited for readers already. */
		mine = gm__dref_put(&e->ref);
		gm__epoch_exit(&c->ep, &t);
		if (mine)
			gm__gcache_release(c, &e, 1, true);
		return;
	}
	/* Transient: the last user gives the grant back now.  The section keeps
	 * @e alive between the decrement and the claim. */
	unsigned p = atomic_fetch_sub_explicit(&e->pins, 1, memory_order_acq_rel) - 1;
	if (p == 0) {
		unsigned zero = 0;
		/* Fails if re-pinned meanwhile (that user releases it) or killed
		 * (the killer does). */
		mine = atomic_compare_exchange_strong(&e->pins, &zero, GM__GCACHE_DEAD);
	} else {
		mine = p == GM__GCACHE_DEAD;
	}
	gm__epoch_exit(&c->ep, &t);
	if (mine)
		gm__gcache_release(c, &e, 1, false);
}

/* ---- the slow path (cache.c) ---- */

/*
 * gm__gcache_dom_get - the domain @domid with one more region (@sh, its
 * knobs: min_pages 0 for the default, GM_GRANT_PAGES_NONE for none;
 * max_pages 0 for the budget), created on first use.  Returns 0, -ENOMEM,
 * or -ENOSPC when an explicit minimum does not fit beside the others'.
 * gm__gcache_dom_put - that region is gone: its knobs leave the domain.
 * The domain (and its table) goes when its last region and its last entry
 * have: entries still cached stay until invalidated or evicted.
 */
int gm__gcache_dom_get(gm_grant_cache *c, gm_domid domid, struct gm__gshare *sh,
		       struct gm__gdom **out);
void gm__gcache_dom_put(gm_grant_cache *c, struct gm__gdom *d, struct gm__gshare *sh);

/* gm__gcache_share - what @d uses now, and its minimum and ceiling. */
void gm__gcache_share(gm_grant_cache *c, struct gm__gdom *d, struct gm_grant_share *out);

/*
 * gm__gcache_map - map @refs (@n of them, any order, repeats allowed) of @d
 * with @prot as one new entry, pinned once for the caller.  Evicts for room
 * and sweeps idle entries as needed.  With @may_wait, a miss that another
 * thread is already mapping waits for it and returns NULL with
 * *err = GM__GCACHE_RETRY (look the refs up again).  Otherwise NULL with a
 * negative errno: -ENOSPC (no room in @d's share: then *room says how
 * many pages would fit, 0 when pinned entries hold it), -EMSGSIZE (more
 * than @d's share, or one map call, can ever hold at once: *room says how
 * much it can), -ENOMEM, or the map call's error after bounded -EAGAIN
 * retries.  Logs nothing: the caller says what failed, once.
 */
struct gm__gentry *gm__gcache_map(gm_grant_cache *c, struct gm__gdom *d, const gm_gref *refs,
				  uint32_t n, int prot, bool persistent, bool may_wait, int *err,
				  uint32_t *room);

/*
 * gm__gcache_probe - would Xen map @refs of @d with @prot?  One map call,
 * counted like any (map_calls, pages_mapped or map_errors); a mapping it
 * gets is unmapped at once (a refused unmap is retried like an entry's).
 * Nothing enters the cache.  Returns 0 or the map call's negative errno.
 * Logs nothing.
 */
int gm__gcache_probe(gm_grant_cache *c, struct gm__gdom *d, const gm_gref *refs, uint32_t n,
		     int prot);

/*
 * gm__gcache_entry_at - the live entry (reachable or dying) whose mapping
 * holds @ptr, or NULL.  O(log n) under the cache lock: for pointers whose
 * table slot has moved on.
 */
struct gm__gentry *gm__gcache_entry_at(gm_grant_cache *c, const void *ptr);

/*
 * gm__gcache_from_host - is @ptr inside a mapping of domain @d that a user
 * holds pinned (transient), or that is still mapped or pinned (persistent:
 * its pins are per thread, a live one counts as out)?  Then *off = the region offset of the byte at @ptr and
 * *len = the bytes from there the entry holds for consecutive refs, and 0;
 * else -ENOENT.  Under the cache lock.
 */
int gm__gcache_from_host(gm_grant_cache *c, struct gm__gdom *d, const void *ptr, uint64_t *off,
			 size_t *len);

/* gm__gcache_budget - the pages mapped (or reserved) now and the budget. */
void gm__gcache_budget(gm_grant_cache *c, uint32_t *used, uint32_t *max);

#endif /* GM_GRANT_INTERNAL_H */
