/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mapping cache of grant regions: per-domain gref tables, entries and
 * their pins, the miss path (merged misses, budget, eviction, idle sweeps),
 * release, invalidation, statistics, and the unmaps Xen refused (zombies,
 * retried).  The contract is in grant.h; the internal API, its data
 * structures and locking rules in grant-internal.h.  Nothing here calls the
 * region (region.c).
 */
#include "config.h"

#include "grant-internal.h"
#include "xen/xen-internal.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE GM_PAGE_SIZE
#define DEFAULT_MAX_PAGES 65536u
#define ALL_REFS (1ULL << 32) /* a count of refs: every gref, 0 to 0xffffffff */

/* A map call in progress, on its caller's stack while on the list. */
struct gm__ginflight {
	struct gm__ginflight *next;
	struct gm__gdom *dom;
	const gm_gref *refs;
	uint32_t n;
	int prot;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- lists (lock held) ---- */

static void list_add(gm_grant_cache *c, struct gm__gentry *e)
{
	e->next = c->list.next;
	e->prev = &c->list;
	c->list.next->prev = e;
	c->list.next = e;
	c->entries++;
}

static void list_del(gm_grant_cache *c, struct gm__gentry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	c->entries--;
}

/* ---- the table ---- */

/* The slot of @ref, creating the levels above it.  Lock held. */
static struct gm__gslot *slot_make(struct gm__gdom *d, gm_gref ref)
{
	_Atomic(struct gm__gl2 *) *p1 = &d->l1[ref >> (GM__GCACHE_L2_BITS + GM__GCACHE_L3_BITS)];
	struct gm__gl2 *l2 = atomic_load(p1);
	if (!l2) {
		l2 = gm__calloc(1, sizeof(*l2));
		if (!l2)
			return NULL;
		atomic_store_explicit(p1, l2, memory_order_release);
	}
	_Atomic(struct gm__gl3 *) *p2 =
		&l2->p[(ref >> GM__GCACHE_L3_BITS) & ((1u << GM__GCACHE_L2_BITS) - 1)];
	struct gm__gl3 *l3 = atomic_load(p2);
	if (!l3) {
		l3 = gm__calloc(1, sizeof(*l3));
		if (!l3)
			return NULL;
		atomic_store_explicit(p2, l3, memory_order_release);
	}
	return &l3->s[ref & ((1u << GM__GCACHE_L3_BITS) - 1)];
}

/* Make @e unreachable.  Lock held. */
static void unlink_slots(struct gm__gentry *e)
{
	if (!e->linked)
		return;
	for (uint32_t i = 0; i < e->npages; i++) {
		struct gm__gslot *s = gm__gcache_slot(e->dom, e->refs[i]);
		struct gm__gentry *cur = e;
		if (s)
			atomic_compare_exchange_strong(&s->e, &cur, NULL);
	}
	e->linked = false;
}

/*
 * Mark @e dead.  Returns true if nobody pins it (the caller releases it),
 * false if the last unpin will.  Lock held.
 */
static bool kill_entry(struct gm__gentry *e)
{
	unsigned p = atomic_load(&e->pins);

	for (;;) {
		if (p & GM__GCACHE_DEAD)
			return false; /* already dying: its owner releases it */
		if (atomic_compare_exchange_weak(&e->pins, &p, p | GM__GCACHE_DEAD))
			return p == 0;
	}
}

static void wait_readers(gm_grant_cache *c)
{
	pthread_mutex_lock(&c->sync_lock);
	gm__epoch_synchronize(&c->ep);
	pthread_mutex_unlock(&c->sync_lock);
}

/* Unmap and free @e; if Xen refuses, keep it to retry (a grant left
 * mapped forever would stop the guest from ever reusing the page).  A
 * refusal logs one line, here. */
static void unmap_entry(gm_grant_cache *c, struct gm__gentry *e)
{
	int ret = gm__gnttab_unmap_quiet(c->g, e->va, e->npages);

	GM__GCACHE_STAT(c, unmap_calls, 1);
	if (!ret) {
		free(e);
		return;
	}
	gm__warn_rl("unmap of %u grant page(s) of domain %u failed: %s (will retry)", e->npages,
		    e->dom->domid, gm_strerror(ret));
	pthread_mutex_lock(&c->lock);
	e->next = c->zombies;
	c->zombies = e;
	atomic_store(&c->have_zombies, true);
	pthread_mutex_unlock(&c->lock);
}

static void retry_zombies(gm_grant_cache *c)
{
	pthread_mutex_lock(&c->lock);
	struct gm__gentry *z = c->zombies;
	c->zombies = NULL;
	atomic_store(&c->have_zombies, false);
	pthread_mutex_unlock(&c->lock);
	while (z) {
		struct gm__gentry *next = z->next;
		unmap_entry(c, z);
		z = next;
	}
}

/* Take dead entries off the list, wait until no reader can still be
 * looking at them, unmap, free (grant-internal.h). */
void gm__gcache_release(gm_grant_cache *c, struct gm__gentry **victims, unsigned n)
{
	if (!n) {
		/* nothing new: earlier refusals get another try */
		if (GM__UNLIKELY(atomic_load_explicit(&c->have_zombies, memory_order_relaxed)))
			retry_zombies(c);
		return;
	}
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < n; i++) {
		struct gm__gentry *e = victims[i];
		unlink_slots(e);
		list_del(c, e);
		if (!e->uncounted)
			c->mapped_pages -= e->npages;
	}
	pthread_mutex_unlock(&c->lock);
	wait_readers(c);
	for (unsigned i = 0; i < n; i++)
		unmap_entry(c, victims[i]);
	/* Once more at once: a transient request completes after this, and
	 * its guest ends access to the pages right away. */
	if (GM__UNLIKELY(atomic_load_explicit(&c->have_zombies, memory_order_relaxed)))
		retry_zombies(c);
}

/* ---- budget and eviction (lock held) ---- */

/* The unpinned persistent entry used longest ago, or NULL. */
static struct gm__gentry *lru_victim(gm_grant_cache *c)
{
	struct gm__gentry *best = NULL;
	uint64_t best_t = UINT64_MAX;

	for (struct gm__gentry *e = c->list.next; e != &c->list; e = e->next) {
		if (!e->persistent || !e->linked || atomic_load(&e->pins) != 0)
			continue;
		uint64_t t = atomic_load_explicit(&e->last_used, memory_order_relaxed);
		if (t < best_t) {
			best = e;
			best_t = t;
		}
	}
	return best;
}

/*
 * Room for @more victims in @vic.  Reserved before an entry is killed, so
 * that a failed allocation never leaves a dead entry that nobody releases.
 */
static bool victim_reserve(struct gm__gentry ***vic, unsigned nvic, unsigned more)
{
	struct gm__gentry **nv = gm__realloc(*vic, ((size_t)nvic + more) * sizeof(**vic));

	if (!nv)
		return false;
	*vic = nv;
	return true;
}

/*
 * Evict unpinned persistent @e into @vic (the caller releases it after
 * unlocking) and take its pages off the budget now.  Returns 0, or -ENOMEM
 * with @e left as it was.  Lock held.
 */
static int evict_entry(gm_grant_cache *c, struct gm__gentry *e, struct gm__gentry ***vic,
		       unsigned *nvic)
{
	if (!victim_reserve(vic, *nvic, 1))
		return -ENOMEM;
	unlink_slots(e);
	if (!kill_entry(e))
		return 0; /* pinned by a hit meanwhile: its last unpin releases it */
	(*vic)[(*nvic)++] = e;
	c->mapped_pages -= e->npages;
	e->uncounted = true;
	GM__GCACHE_STAT(c, evictions, 1);
	return 0;
}

/*
 * Make room for @need more pages, evicting LRU entries into @vic (caller
 * releases them after unlocking).  Returns 0, -ENOSPC or -ENOMEM.
 */
static int make_room(gm_grant_cache *c, uint32_t need, struct gm__gentry ***vic, unsigned *nvic)
{
	if (need > c->max_pages)
		return -ENOSPC; /* evicting everything would not help */
	while (c->mapped_pages + (uint64_t)need > c->max_pages) {
		struct gm__gentry *e = lru_victim(c);
		if (!e)
			return -ENOSPC;
		if (evict_entry(c, e, vic, nvic))
			return -ENOMEM;
	}
	return 0;
}

/* Idle sweep: record a sweep; evict entries not used since the newest sweep
 * older than idle_ms.  Lock held. */
static void sweep_idle(gm_grant_cache *c, struct gm__gentry ***vic, unsigned *nvic, int *count)
{
	uint64_t now = now_ns(), limit = (uint64_t)c->idle_ms * 1000000u;

	if (!c->idle_ms)
		return;
	/* Find the newest sweep at least idle_ms old. */
	uint64_t idle_clock = 0;
	for (unsigned i = 0; i < GM__GCACHE_SWEEPS; i++) {
		if (c->sweeps[i].ns && now - c->sweeps[i].ns >= limit) {
			idle_clock = c->sweeps[i].clock;
			break;
		}
	}
	/* Record this sweep (bumping the clock so later uses register). */
	memmove(&c->sweeps[1], &c->sweeps[0], (GM__GCACHE_SWEEPS - 1) * sizeof(c->sweeps[0]));
	c->sweeps[0].ns = now;
	c->sweeps[0].clock = atomic_fetch_add(&c->clock, 1) + 1;
	if (!idle_clock)
		return;
	for (struct gm__gentry *e = c->list.next; e != &c->list; e = e->next) {
		if (!e->persistent || !e->linked || atomic_load(&e->pins) ||
		    atomic_load(&e->last_used) >= idle_clock)
			continue;
		if (evict_entry(c, e, vic, nvic))
			return;
		(*count)++;
	}
}

static bool sweep_due(gm_grant_cache *c)
{
	return c->idle_ms &&
	       (!c->sweeps[0].ns || now_ns() - c->sweeps[0].ns >= (uint64_t)c->idle_ms * 250000u);
}

/* ---- the miss path ---- */

struct gm__gdom *gm__gcache_dom(gm_grant_cache *c, gm_domid domid)
{
	pthread_mutex_lock(&c->lock);
	struct gm__gdom *d;
	for (d = c->doms; d; d = d->next)
		if (d->domid == domid)
			break;
	if (!d) {
		d = gm__calloc(1, sizeof(*d));
		if (d) {
			d->domid = domid;
			d->next = c->doms;
			c->doms = d;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return d;
}

static bool contains(const gm_gref *refs, uint32_t n, gm_gref r)
{
	for (uint32_t i = 0; i < n; i++)
		if (refs[i] == r)
			return true;
	return false;
}

/* An in-flight map that will cover all of @refs with @prot.  Lock held. */
static struct gm__ginflight *inflight_covering(gm_grant_cache *c, struct gm__gdom *d,
					       const gm_gref *refs, uint32_t n, int prot)
{
	for (struct gm__ginflight *f = c->inflight; f; f = f->next) {
		if (f->dom != d || (prot & ~f->prot))
			continue;
		uint32_t i;
		for (i = 0; i < n && contains(f->refs, f->n, refs[i]); i++)
			;
		if (i == n)
			return f;
	}
	return NULL;
}

/* Publish @e in the table, retiring entries it overlaps.  Lock held. */
static int publish(struct gm__gentry *e, struct gm__gentry ***vic, unsigned *nvic)
{
	for (uint32_t i = 0; i < e->npages; i++)
		if (!slot_make(e->dom, e->refs[i]))
			return -ENOMEM;
	/* At most one superseded entry per page: nothing can fail below. */
	if (!victim_reserve(vic, *nvic, e->npages))
		return -ENOMEM;
	for (uint32_t i = 0; i < e->npages; i++) {
		struct gm__gslot *s = gm__gcache_slot(e->dom, e->refs[i]);
		struct gm__gentry *old = atomic_load(&s->e);
		if (old && old != e) {
			/* A newer mapping supersedes it (e.g. read-write over
			 * read-only): it goes when its users are done. */
			unlink_slots(old);
			if (kill_entry(old))
				(*vic)[(*nvic)++] = old;
		}
		/* release: after the NULL that retired the slot's last entry */
		atomic_store_explicit(&s->idx, i, memory_order_release);
		atomic_store_explicit(&s->e, e, memory_order_release);
	}
	e->linked = true;
	return 0;
}

/*
 * One map call, counted: map_calls, then pages_mapped or map_errors.
 * Quiet: the caller logs.
 */
static void *map_call(gm_grant_cache *c, struct gm__gdom *d, const gm_gref *refs, uint32_t n,
		      int prot, int *err)
{
	void *va;

	GM__GCACHE_STAT(c, map_calls, 1);
	va = gm__gnttab_map_quiet(c->g, n, d->domid, refs, prot, err);
	if (va)
		GM__GCACHE_STAT(c, pages_mapped, n);
	else
		GM__GCACHE_STAT(c, map_errors, 1);
	return va;
}

/* The map call of a miss, with bounded retries on EAGAIN (paged-out grants). */
static void *do_map(gm_grant_cache *c, struct gm__gdom *d, const gm_gref *refs, uint32_t n,
		    int prot, int *err)
{
	void *va = NULL;

	for (int tries = 0; tries < GM__GCACHE_EAGAIN_TRIES; tries++) {
		va = map_call(c, d, refs, n, prot, err);
		if (va || *err != -EAGAIN)
			break;
		struct timespec ts = {0, 1000000L << tries};
		nanosleep(&ts, NULL);
	}
	if (va) {
		size_t bytes = (size_t)n * PAGE;
		if (madvise(va, bytes, MADV_DONTDUMP) || madvise(va, bytes, MADV_DONTFORK))
			gm__dbg("madvise on a grant mapping failed: %s", gm_strerror(-errno));
	}
	return va;
}

int gm__gcache_probe(gm_grant_cache *c, struct gm__gdom *d, const gm_gref *refs, uint32_t n,
		     int prot)
{
	int err;
	void *va = map_call(c, d, refs, n, prot, &err);

	if (!va)
		return err;
	/* Unmapped like an entry: if Xen refuses, it becomes a zombie and is
	 * retried (a page left mapped could never be ended by the guest). */
	struct gm__gentry *e = gm__calloc(1, sizeof(*e) + n * sizeof(e->refs[0]));
	if (!e) {
		int ret = gm__gnttab_unmap_quiet(c->g, va, n);
		GM__GCACHE_STAT(c, unmap_calls, 1);
		if (ret)
			gm__err_rl("%u grant page(s) of domain %u stay mapped: unmap failed: %s", n,
				   d->domid, gm_strerror(ret));
		return 0;
	}
	e->dom = d;
	e->va = va;
	e->npages = n;
	memcpy(e->refs, refs, n * sizeof(e->refs[0]));
	unmap_entry(c, e);
	return 0;
}

struct gm__gentry *gm__gcache_map(gm_grant_cache *c, struct gm__gdom *d, const gm_gref *refs,
				  uint32_t n, int prot, bool persistent, bool may_wait, int *err)
{
	struct gm__gentry **vic = NULL;
	unsigned nvic = 0;
	int dummy = 0;
	struct gm__ginflight me = {.dom = d, .refs = refs, .n = n, .prot = prot};

	if (n > GM__GCACHE_MAX_MAP_PAGES) {
		*err = -ENOSPC;
		return NULL;
	}
	GM__GCACHE_STAT(c, misses, 1);
	pthread_mutex_lock(&c->lock);
	struct gm__ginflight *f = may_wait ? inflight_covering(c, d, refs, n, prot) : NULL;
	if (f) {
		/* Wait until it leaves the list; never look inside it again: it
		 * lives on the mapping thread's stack. */
		GM__GCACHE_STAT(c, dedup_waits, 1);
		for (;;) {
			pthread_cond_wait(&c->cond, &c->lock);
			struct gm__ginflight *g = c->inflight;
			while (g && g != f)
				g = g->next;
			if (!g)
				break;
		}
		pthread_mutex_unlock(&c->lock);
		*err = GM__GCACHE_RETRY;
		return NULL;
	}
	if (sweep_due(c))
		sweep_idle(c, &vic, &nvic, &dummy);
	*err = make_room(c, n, &vic, &nvic);
	if (!*err) {
		c->mapped_pages += n; /* reserved */
		me.next = c->inflight;
		c->inflight = &me;
	}
	pthread_mutex_unlock(&c->lock);
	gm__gcache_release(c, vic, nvic);
	free(vic);
	vic = NULL;
	nvic = 0;
	if (*err)
		return NULL;

	struct gm__gentry *e = gm__calloc(1, sizeof(*e) + n * sizeof(e->refs[0]));
	void *va = e ? do_map(c, d, refs, n, prot, err) : NULL;
	if (!e)
		*err = -ENOMEM;

	pthread_mutex_lock(&c->lock);
	if (va) {
		e->dom = d;
		e->va = va;
		e->npages = n;
		e->prot = prot & GM_PROT_WRITE ? GM_PROT_RW : GM_PROT_READ;
		e->persistent = persistent;
		memcpy(e->refs, refs, n * sizeof(refs[0]));
		atomic_init(&e->pins, 1);
		atomic_init(&e->last_used, atomic_fetch_add(&c->clock, 1) + 1);
		list_add(c, e);
		*err = publish(e, &vic, &nvic);
		if (*err) {
			/* Out of memory for the table: hand it back unmapped. */
			unlink_slots(e);
			atomic_store(&e->pins, GM__GCACHE_DEAD);
			list_del(c, e);
			c->mapped_pages -= n;
			pthread_mutex_unlock(&c->lock);
			unmap_entry(c, e);
			e = NULL;
			pthread_mutex_lock(&c->lock);
		}
	} else {
		c->mapped_pages -= n;
		free(e);
		e = NULL;
	}
	for (struct gm__ginflight **pp = &c->inflight; *pp; pp = &(*pp)->next) {
		if (*pp == &me) {
			*pp = me.next;
			break;
		}
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	gm__gcache_release(c, vic, nvic);
	free(vic);
	return e;
}

struct gm__gentry *gm__gcache_entry_at(gm_grant_cache *c, const void *ptr)
{
	struct gm__gentry *e;

	pthread_mutex_lock(&c->lock);
	for (e = c->list.next; e != &c->list; e = e->next)
		if ((const char *)ptr >= (char *)e->va &&
		    (const char *)ptr < (char *)e->va + (size_t)e->npages * PAGE)
			break;
	pthread_mutex_unlock(&c->lock);
	return e == &c->list ? NULL : e;
}

void gm__gcache_budget(gm_grant_cache *c, uint32_t *used, uint32_t *max)
{
	pthread_mutex_lock(&c->lock);
	*used = c->mapped_pages;
	*max = c->max_pages;
	pthread_mutex_unlock(&c->lock);
}

/* ---- the cache ---- */

GM_API int gm_grant_cache_new(gm_gnttab *g, const struct gm_grant_cache_config *cfg,
			      gm_grant_cache **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!g)
		return -EINVAL;
	gm_grant_cache *c = gm__zalloc_aligned(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->g = g;
	c->list.next = c->list.prev = &c->list;
	c->max_pages = cfg && cfg->max_pages ? cfg->max_pages : DEFAULT_MAX_PAGES;
	c->idle_ms = cfg ? cfg->idle_ms : 0;
	c->copy_threshold = cfg && cfg->copy_threshold ? cfg->copy_threshold
						       : GM_GRANT_COPY_THRESHOLD;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->sync_lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	int ret = gm_gnttab_set_max_grants(g, c->max_pages);
	if (ret)
		gm__dbg("set_max_grants(%u): %s (no per-handle limit here)", c->max_pages,
			gm_strerror(ret));
	*out = c;
	return 0;
}

GM_API void gm_grant_cache_free(gm_grant_cache *c)
{
	if (!c)
		return;
	while (c->list.next != &c->list) {
		struct gm__gentry *e = c->list.next;
		unsigned pins = atomic_load(&e->pins) & ~GM__GCACHE_DEAD;
		if (pins)
			gm__warn("freeing the grant cache with %u pin(s) on %u page(s) of domain %u",
				 pins, e->npages, e->dom->domid);
		list_del(c, e);
		unmap_entry(c, e);
	}
	retry_zombies(c);
	while (c->zombies) { /* still refused: give up, loudly */
		struct gm__gentry *z = c->zombies;
		c->zombies = z->next;
		gm__err("%u grant page(s) of domain %u stay mapped: unmap keeps failing",
			z->npages, z->dom->domid);
		free(z);
	}
	while (c->doms) {
		struct gm__gdom *d = c->doms;
		c->doms = d->next;
		for (unsigned i = 0; i < (1u << GM__GCACHE_L1_BITS); i++) {
			struct gm__gl2 *l2 = atomic_load(&d->l1[i]);
			if (!l2)
				continue;
			for (unsigned j = 0; j < (1u << GM__GCACHE_L2_BITS); j++)
				free(atomic_load(&l2->p[j]));
			free(l2);
		}
		free(d);
	}
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->sync_lock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

GM_API int gm_grant_cache_set_max_pages(gm_grant_cache *c, uint32_t max_pages)
{
	struct gm__gentry **vic = NULL;
	unsigned nvic = 0;

	if (!c || !max_pages)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	c->max_pages = max_pages;
	make_room(c, 0, &vic, &nvic); /* best effort: pinned entries stay */
	pthread_mutex_unlock(&c->lock);
	gm__gcache_release(c, vic, nvic);
	free(vic);
	int ret = gm_gnttab_set_max_grants(c->g, max_pages);
	if (ret)
		gm__dbg("set_max_grants(%u): %s", max_pages, gm_strerror(ret));
	return 0;
}

/* Does @e hold a ref in [first, first + count)?  @count may be 2^32: every
 * ref from @first on, up to and including 0xffffffff. */
static bool overlaps_refs(const struct gm__gentry *e, gm_gref first, uint64_t count)
{
	for (uint32_t i = 0; i < e->npages; i++)
		if (e->refs[i] >= first && (uint64_t)(e->refs[i] - first) < count)
			return true;
	return false;
}

/* Are pages of @domid (any domain unless @one_dom) in the refs range still
 * mapped because their unmap failed? */
static bool zombies_left(gm_grant_cache *c, gm_domid domid, bool one_dom, gm_gref first,
			 uint64_t count)
{
	bool left = false;

	pthread_mutex_lock(&c->lock);
	for (struct gm__gentry *z = c->zombies; z && !left; z = z->next)
		left = (!one_dom || z->dom->domid == domid) && overlaps_refs(z, first, count);
	pthread_mutex_unlock(&c->lock);
	return left;
}

/* Invalidate entries of @domid (all domains unless @one_dom) touching the
 * refs range (overlaps_refs). */
static int invalidate(gm_grant_cache *c, gm_domid domid, bool one_dom, gm_gref first,
		      uint64_t count)
{
	struct gm__gentry **vic = NULL;
	unsigned nvic = 0;
	int n = 0, ret = 0;

	pthread_mutex_lock(&c->lock);
	for (struct gm__gentry *e = c->list.next; e != &c->list; e = e->next) {
		if ((one_dom && e->dom->domid != domid) || !overlaps_refs(e, first, count))
			continue;
		if (atomic_load(&e->pins) & GM__GCACHE_DEAD)
			continue; /* already going */
		if (!victim_reserve(&vic, nvic, 1)) {
			ret = -ENOMEM; /* this one stays mapped; the caller may retry */
			break;
		}
		unlink_slots(e);
		n++;
		if (kill_entry(e))
			vic[nvic++] = e;
	}
	pthread_mutex_unlock(&c->lock);
	GM__GCACHE_STAT(c, invalidations, n);
	gm__gcache_release(c, vic, nvic);
	free(vic);
	/* Pages Xen would not unmap are still mapped: say so, so that the
	 * caller does not tell the guest they are free (they are retried). */
	if (!ret && zombies_left(c, domid, one_dom, first, count))
		ret = -EBUSY;
	return ret ? ret : n;
}

GM_API int gm_grant_cache_invalidate_refs(gm_grant_cache *c, gm_domid domid, gm_gref first,
					  uint32_t count)
{
	if (!c || !count)
		return -EINVAL;
	return invalidate(c, domid, true, first, count);
}

GM_API int gm_grant_cache_invalidate_domain(gm_grant_cache *c, gm_domid domid)
{
	if (!c)
		return -EINVAL;
	return invalidate(c, domid, true, 0, ALL_REFS);
}

GM_API int gm_grant_cache_invalidate_all(gm_grant_cache *c)
{
	if (!c)
		return -EINVAL;
	return invalidate(c, 0, false, 0, ALL_REFS);
}

GM_API int gm_grant_cache_evict_idle(gm_grant_cache *c)
{
	struct gm__gentry **vic = NULL;
	unsigned nvic = 0;
	int n = 0;

	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	sweep_idle(c, &vic, &nvic, &n);
	pthread_mutex_unlock(&c->lock);
	gm__gcache_release(c, vic, nvic);
	free(vic);
	return n;
}

GM_API void gm_grant_cache_stats(gm_grant_cache *c, struct gm_grant_stats *st)
{
	if (!c || !st)
		return;
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < GM__EPOCH_SLOTS; i++)
		st->hits += atomic_load_explicit(&c->st[i].hits, memory_order_relaxed);
#define LOAD(f) st->f = atomic_load_explicit(&c->f, memory_order_relaxed)
	LOAD(misses);
	LOAD(map_calls);
	LOAD(pages_mapped);
	LOAD(unmap_calls);
	LOAD(evictions);
	LOAD(invalidations);
	LOAD(copy_calls);
	LOAD(copy_segs);
	LOAD(bounce_uses);
	LOAD(dedup_waits);
	LOAD(map_errors);
#undef LOAD
	pthread_mutex_lock(&c->lock);
	st->entries = c->entries;
	st->mapped_pages = c->mapped_pages;
	st->max_pages = c->max_pages;
	for (struct gm__gentry *e = c->list.next; e != &c->list; e = e->next)
		if (atomic_load(&e->pins) & ~GM__GCACHE_DEAD)
			st->pinned_entries++;
	pthread_mutex_unlock(&c->lock);
}
