/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grant regions and the mapping cache (see grant.h for the contract).
 *
 * Data structures
 *   entry   one batch mapping: refs[] of one domain mapped at va, as a whole.
 *           pins counts gm_map users; the DEAD bit says "never pin again,
 *           the last unpin releases it".
 *   table   per domain, gref -> (entry, index of gref in entry->refs): three
 *           levels (10/11/11 bits), allocated on first use, never freed
 *           before the cache.  Read without locks inside an epoch section.
 *   list    every entry that is still mapped (reachable or dying), under
 *           the cache lock: eviction, invalidation and unmap-by-pointer.
 *
 * Hit path:  epoch enter, three loads, pin CAS, epoch exit.  No lock, no
 *            system call.
 * Miss path: the cache lock to reserve budget, evict and register the map as
 *            in flight (other misses for the same refs wait for it), then the
 *            map call with no lock held, then the lock again to publish.
 * Release:   unlink under the lock, wait for readers (epoch), unmap, free.
 */
#include "config.h"

#include "base/base.h"

#include <grantmem/grant.h>

#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE GM_PAGE_SIZE
#define L1_BITS 10
#define L2_BITS 11
#define L3_BITS 11
#define DEAD 0x80000000u
#define DEFAULT_MAX_PAGES 65536u
#define MAX_MAP_PAGES 65536u /* one map call; gntdev's per-request limit */
#define MAX_MAP_SHORT 1024u  /* gm_map may shorten: never map more per call */
#define EAGAIN_TRIES 5
#define COPY_BATCH 32
#define HIT_COPY_MAX (64u << 10) /* bytes copied in one read-side section */
#define SWEEPS 8
#define RETRY_LOOKUP 1 /* internal: another thread mapped it, look again */

struct gentry {
	struct gentry *prev, *next; /* the cache's list; lock */
	struct gdom *dom;
	void *va;
	uint32_t npages;
	int prot;            /* GM_PROT_READ or GM_PROT_RW, as mapped */
	bool persistent;
	bool linked;         /* reachable from the table; lock */
	bool uncounted;      /* pages already taken off the budget; lock */
	atomic_uint pins;    /* users | DEAD */
	atomic_uint_least64_t last_used; /* LRU clock */
	gm_gref refs[];
};

struct slot {
	_Atomic(struct gentry *) e;
	atomic_uint idx;
};

struct l3 {
	struct slot s[1u << L3_BITS];
};

struct l2 {
	_Atomic(struct l3 *) p[1u << L2_BITS];
};

struct gdom {
	struct gdom *next; /* lock */
	gm_domid domid;
	_Atomic(struct l2 *) l1[1u << L1_BITS];
};

/* A map call in progress, on its caller's stack while on the list. */
struct inflight {
	struct inflight *next;
	struct gdom *dom;
	const gm_gref *refs;
	uint32_t n;
	int prot;
};

struct stat_slot {
	atomic_uint_least64_t hits;
} __attribute__((aligned(GM__CACHELINE)));

struct gm_grant_cache {
	gm_gnttab *g;
	struct gm__epoch ep;         /* read-side sections over the tables */
	pthread_mutex_t sync_lock;   /* serialises epoch waits */
	pthread_mutex_t lock;        /* the cache lock: everything marked "lock" */
	pthread_cond_t cond;         /* an in-flight map finished */
	struct gdom *doms;
	struct gentry list;          /* list head */
	struct gentry *zombies;      /* unmap failed: retried later; lock */
	atomic_bool have_zombies;    /* lets release() skip the retry */
	struct inflight *inflight;
	uint32_t max_pages, mapped_pages, entries;
	unsigned idle_ms;
	size_t copy_threshold;
	struct {
		uint64_t ns, clock;
	} sweeps[SWEEPS];            /* recent idle sweeps, newest first; lock */
	atomic_uint_least64_t clock; /* LRU: bumped when a different entry is used */
	atomic_bool no_copy;         /* the world has no grant copy */
	struct stat_slot st[GM__EPOCH_SLOTS];
	atomic_uint_least64_t misses, map_calls, pages_mapped, unmap_calls, evictions,
		invalidations, copy_calls, copy_segs, bounce_uses, dedup_waits, map_errors;
};

struct gregion {
	gm_grant_cache *c;
	struct gdom *dom;
	bool persistent;
};

#define STAT_ADD(c, f, n) atomic_fetch_add_explicit(&(c)->f, (n), memory_order_relaxed)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- lists (lock held) ---- */

static void list_add(gm_grant_cache *c, struct gentry *e)
{
	e->next = c->list.next;
	e->prev = &c->list;
	c->list.next->prev = e;
	c->list.next = e;
	c->entries++;
}

static void list_del(gm_grant_cache *c, struct gentry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	c->entries--;
}

/* ---- the table ---- */

static struct slot *slot_of(struct gdom *d, gm_gref ref)
{
	struct l2 *l2 = atomic_load_explicit(&d->l1[ref >> (L2_BITS + L3_BITS)],
					     memory_order_acquire);
	if (!l2)
		return NULL;
	struct l3 *l3 = atomic_load_explicit(&l2->p[(ref >> L3_BITS) & ((1u << L2_BITS) - 1)],
					     memory_order_acquire);
	if (!l3)
		return NULL;
	return &l3->s[ref & ((1u << L3_BITS) - 1)];
}

/* The slot of @ref, creating the levels above it.  Lock held. */
static struct slot *slot_make(struct gdom *d, gm_gref ref)
{
	_Atomic(struct l2 *) *p1 = &d->l1[ref >> (L2_BITS + L3_BITS)];
	struct l2 *l2 = atomic_load(p1);
	if (!l2) {
		l2 = gm__calloc(1, sizeof(*l2));
		if (!l2)
			return NULL;
		atomic_store_explicit(p1, l2, memory_order_release);
	}
	_Atomic(struct l3 *) *p2 = &l2->p[(ref >> L3_BITS) & ((1u << L2_BITS) - 1)];
	struct l3 *l3 = atomic_load(p2);
	if (!l3) {
		l3 = gm__calloc(1, sizeof(*l3));
		if (!l3)
			return NULL;
		atomic_store_explicit(p2, l3, memory_order_release);
	}
	return &l3->s[ref & ((1u << L3_BITS) - 1)];
}

static bool try_pin(struct gentry *e)
{
	unsigned p = atomic_load_explicit(&e->pins, memory_order_relaxed);

	do {
		if (p & DEAD)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&e->pins, &p, p + 1, memory_order_acquire,
							 memory_order_relaxed));
	return true;
}

static void touch(gm_grant_cache *c, struct gentry *e)
{
	uint64_t now = atomic_load_explicit(&c->clock, memory_order_relaxed);

	/* Write only when another entry was used since: a hot entry stays a
	 * read-only cache line. */
	if (atomic_load_explicit(&e->last_used, memory_order_relaxed) != now)
		atomic_store_explicit(&e->last_used,
				      atomic_fetch_add_explicit(&c->clock, 1, memory_order_relaxed) + 1,
				      memory_order_relaxed);
}

/*
 * The hit path: pin the entry that maps @ref with at least @prot.
 * Returns it with *idx = the page index of @ref in it, or NULL.
 */
static struct gentry *lookup_pin(gm_grant_cache *c, struct gdom *d, gm_gref ref, int prot,
				 uint32_t *idx)
{
	struct gm__epoch_token t;
	struct gentry *e = NULL;

	gm__epoch_enter(&c->ep, &t);
	struct slot *s = slot_of(d, ref);
	if (s) {
		e = atomic_load_explicit(&s->e, memory_order_acquire);
		if (e) {
			*idx = atomic_load_explicit(&s->idx, memory_order_relaxed);
			/* idx is written before e; a changed slot means a new entry. */
			if (atomic_load_explicit(&s->e, memory_order_acquire) != e ||
			    (prot & ~e->prot) || !try_pin(e))
				e = NULL;
		}
	}
	gm__epoch_exit(&c->ep, &t);
	if (e) {
		touch(c, e);
		gm__slot_add(&c->st[t.slot].hits, t.slot, 1);
	}
	return e;
}

/* Make @e unreachable.  Lock held. */
static void unlink_slots(struct gentry *e)
{
	if (!e->linked)
		return;
	for (uint32_t i = 0; i < e->npages; i++) {
		struct slot *s = slot_of(e->dom, e->refs[i]);
		struct gentry *cur = e;
		if (s)
			atomic_compare_exchange_strong(&s->e, &cur, NULL);
	}
	e->linked = false;
}

/*
 * Mark @e dead.  Returns true if nobody pins it (the caller releases it),
 * false if the last unpin will.  Lock held.
 */
static bool kill_entry(struct gentry *e)
{
	unsigned p = atomic_load(&e->pins);

	for (;;) {
		if (p & DEAD)
			return false; /* already dying: its owner releases it */
		if (atomic_compare_exchange_weak(&e->pins, &p, p | DEAD))
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
 * mapped forever would stop the guest from ever reusing the page). */
static void unmap_entry(gm_grant_cache *c, struct gentry *e)
{
	int ret = gm_gnttab_unmap(c->g, e->va, e->npages);

	STAT_ADD(c, unmap_calls, 1);
	if (!ret) {
		free(e);
		return;
	}
	gm__warn("unmap of %u grant page(s) of domain %u failed: %s (will retry)", e->npages,
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
	struct gentry *z = c->zombies;
	c->zombies = NULL;
	atomic_store(&c->have_zombies, false);
	pthread_mutex_unlock(&c->lock);
	while (z) {
		struct gentry *next = z->next;
		unmap_entry(c, z);
		z = next;
	}
}

/*
 * Release dead entries: take them off the list, wait until no reader can
 * still be looking at them, unmap, free.  Called without the lock.
 */
static void release(gm_grant_cache *c, struct gentry **victims, unsigned n)
{
	if (!n) {
		/* nothing new: earlier refusals get another try */
		if (GM__UNLIKELY(atomic_load_explicit(&c->have_zombies, memory_order_relaxed)))
			retry_zombies(c);
		return;
	}
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < n; i++) {
		struct gentry *e = victims[i];
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

/*
 * Drop one pin.  Once our pin is gone, @e may be killed and freed by
 * another thread at any moment (invalidation, eviction), so nothing here
 * touches @e after the decrement unless it owns @e or sits in a read-side
 * section, which release() waits for before it frees.
 */
static void unpin(gm_grant_cache *c, struct gentry *e)
{
	if (e->persistent) { /* read while pinned: it never changes */
		/* Kept after the last pin; only a killed entry is ours to free. */
		if (atomic_fetch_sub_explicit(&e->pins, 1, memory_order_release) - 1 == DEAD)
			release(c, &e, 1);
		return;
	}
	/* Transient: the last user gives the grant back now.  The section keeps
	 * @e alive between the decrement and the claim. */
	struct gm__epoch_token t;
	bool mine;

	gm__epoch_enter(&c->ep, &t);
	unsigned p = atomic_fetch_sub_explicit(&e->pins, 1, memory_order_release) - 1;
	if (p == 0) {
		unsigned zero = 0;
		/* Fails if re-pinned meanwhile (that user releases it) or killed
		 * (the killer does). */
		mine = atomic_compare_exchange_strong(&e->pins, &zero, DEAD);
	} else {
		mine = p == DEAD;
	}
	gm__epoch_exit(&c->ep, &t);
	if (mine)
		release(c, &e, 1);
}

/* ---- budget and eviction (lock held) ---- */

/* The unpinned persistent entry used longest ago, or NULL. */
static struct gentry *lru_victim(gm_grant_cache *c)
{
	struct gentry *best = NULL;
	uint64_t best_t = UINT64_MAX;

	for (struct gentry *e = c->list.next; e != &c->list; e = e->next) {
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
static bool victim_reserve(struct gentry ***vic, unsigned nvic, unsigned more)
{
	struct gentry **nv = gm__realloc(*vic, ((size_t)nvic + more) * sizeof(**vic));

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
static int evict_entry(gm_grant_cache *c, struct gentry *e, struct gentry ***vic, unsigned *nvic)
{
	if (!victim_reserve(vic, *nvic, 1))
		return -ENOMEM;
	unlink_slots(e);
	if (!kill_entry(e))
		return 0; /* pinned by a hit meanwhile: its last unpin releases it */
	(*vic)[(*nvic)++] = e;
	c->mapped_pages -= e->npages;
	e->uncounted = true;
	STAT_ADD(c, evictions, 1);
	return 0;
}

/*
 * Make room for @need more pages, evicting LRU entries into @vic (caller
 * releases them after unlocking).  Returns 0, -ENOSPC or -ENOMEM.
 */
static int make_room(gm_grant_cache *c, uint32_t need, struct gentry ***vic, unsigned *nvic)
{
	if (need > c->max_pages)
		return -ENOSPC; /* evicting everything would not help */
	while (c->mapped_pages + (uint64_t)need > c->max_pages) {
		struct gentry *e = lru_victim(c);
		if (!e)
			return -ENOSPC;
		if (evict_entry(c, e, vic, nvic))
			return -ENOMEM;
	}
	return 0;
}

/* Idle sweep: record a sweep; evict entries not used since the newest sweep
 * older than idle_ms.  Lock held. */
static void sweep_idle(gm_grant_cache *c, struct gentry ***vic, unsigned *nvic, int *count)
{
	uint64_t now = now_ns(), limit = (uint64_t)c->idle_ms * 1000000u;

	if (!c->idle_ms)
		return;
	/* Find the newest sweep at least idle_ms old. */
	uint64_t idle_clock = 0;
	for (unsigned i = 0; i < SWEEPS; i++) {
		if (c->sweeps[i].ns && now - c->sweeps[i].ns >= limit) {
			idle_clock = c->sweeps[i].clock;
			break;
		}
	}
	/* Record this sweep (bumping the clock so later uses register). */
	memmove(&c->sweeps[1], &c->sweeps[0], (SWEEPS - 1) * sizeof(c->sweeps[0]));
	c->sweeps[0].ns = now;
	c->sweeps[0].clock = atomic_fetch_add(&c->clock, 1) + 1;
	if (!idle_clock)
		return;
	for (struct gentry *e = c->list.next; e != &c->list; e = e->next) {
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

static struct gdom *dom_get(gm_grant_cache *c, gm_domid domid)
{
	pthread_mutex_lock(&c->lock);
	struct gdom *d;
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
static struct inflight *inflight_covering(gm_grant_cache *c, struct gdom *d, const gm_gref *refs,
					  uint32_t n, int prot)
{
	for (struct inflight *f = c->inflight; f; f = f->next) {
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
static int publish(struct gentry *e, struct gentry ***vic, unsigned *nvic)
{
	for (uint32_t i = 0; i < e->npages; i++)
		if (!slot_make(e->dom, e->refs[i]))
			return -ENOMEM;
	/* At most one superseded entry per page: nothing can fail below. */
	if (!victim_reserve(vic, *nvic, e->npages))
		return -ENOMEM;
	for (uint32_t i = 0; i < e->npages; i++) {
		struct slot *s = slot_of(e->dom, e->refs[i]);
		struct gentry *old = atomic_load(&s->e);
		if (old && old != e) {
			/* A newer mapping supersedes it (e.g. read-write over
			 * read-only): it goes when its users are done. */
			unlink_slots(old);
			if (kill_entry(old))
				(*vic)[(*nvic)++] = old;
		}
		atomic_store_explicit(&s->idx, i, memory_order_relaxed);
		atomic_store_explicit(&s->e, e, memory_order_release);
	}
	e->linked = true;
	return 0;
}

/* The map call itself, with bounded retries on EAGAIN (paged-out grants). */
/*
 * Unmap a mapping that was only a probe.  If Xen refuses, it becomes a
 * zombie like any entry (retried later): a page left mapped could never be
 * ended by the guest.
 */
static void unmap_probe(gm_grant_cache *c, struct gdom *d, void *va, const gm_gref *refs,
			uint32_t n)
{
	struct gentry *e = gm__calloc(1, sizeof(*e) + n * sizeof(e->refs[0]));

	if (!e) {
		int ret = gm_gnttab_unmap(c->g, va, n);
		STAT_ADD(c, unmap_calls, 1);
		if (ret)
			gm__err("%u grant page(s) of domain %u stay mapped: unmap failed: %s", n,
				d->domid, gm_strerror(ret));
		return;
	}
	e->dom = d;
	e->va = va;
	e->npages = n;
	memcpy(e->refs, refs, n * sizeof(e->refs[0]));
	unmap_entry(c, e);
}

static void *do_map(gm_grant_cache *c, struct gdom *d, const gm_gref *refs, uint32_t n, int prot,
		    int *err)
{
	void *va = NULL;

	for (int tries = 0; tries < EAGAIN_TRIES; tries++) {
		STAT_ADD(c, map_calls, 1);
		va = gm_gnttab_map(c->g, n, d->domid, refs, prot, err);
		if (va || *err != -EAGAIN)
			break;
		struct timespec ts = {0, 1000000L << tries};
		nanosleep(&ts, NULL);
	}
	if (va) {
		STAT_ADD(c, pages_mapped, n);
		size_t bytes = (size_t)n * PAGE;
		if (madvise(va, bytes, MADV_DONTDUMP) || madvise(va, bytes, MADV_DONTFORK))
			gm__dbg("madvise on a grant mapping failed: %s", gm_strerror(-errno));
		return va;
	}
	STAT_ADD(c, map_errors, 1);
	/* Xen says EINVAL for every refusal: a write to a read-only grant is
	 * worth telling apart, by asking for read access only. */
	if (*err == -EINVAL && (prot & GM_PROT_WRITE)) {
		int e2;
		STAT_ADD(c, map_calls, 1);
		void *ro = gm_gnttab_map(c->g, n, d->domid, refs, GM_PROT_READ, &e2);
		if (ro) {
			unmap_probe(c, d, ro, refs, n);
			*err = -EACCES;
		}
	}
	gm__info("mapping %u grant page(s) of domain %u from ref %u %s failed: %s", n, d->domid,
		 refs[0], prot & GM_PROT_WRITE ? "read-write" : "read-only", gm_strerror(*err));
	return NULL;
}

/*
 * Map @refs of @d as one new entry, pinned once for the caller.
 * Returns NULL with *err = RETRY_LOOKUP when another thread was mapping the
 * same refs (the caller looks them up again), or a negative errno.
 */
static struct gentry *map_refs(gm_grant_cache *c, struct gdom *d, const gm_gref *refs, uint32_t n,
			       int prot, bool persistent, bool may_wait, int *err)
{
	struct gentry **vic = NULL;
	unsigned nvic = 0;
	int dummy = 0;
	struct inflight me = {.dom = d, .refs = refs, .n = n, .prot = prot};

	uint32_t used, max;

	if (n > MAX_MAP_PAGES) {
		*err = -ENOSPC;
		return NULL;
	}
	STAT_ADD(c, misses, 1);
	pthread_mutex_lock(&c->lock);
	struct inflight *f = may_wait ? inflight_covering(c, d, refs, n, prot) : NULL;
	if (f) {
		/* Wait until it leaves the list; never look inside it again: it
		 * lives on the mapping thread's stack. */
		STAT_ADD(c, dedup_waits, 1);
		for (;;) {
			pthread_cond_wait(&c->cond, &c->lock);
			struct inflight *g = c->inflight;
			while (g && g != f)
				g = g->next;
			if (!g)
				break;
		}
		pthread_mutex_unlock(&c->lock);
		*err = RETRY_LOOKUP;
		return NULL;
	}
	if (sweep_due(c))
		sweep_idle(c, &vic, &nvic, &dummy);
	*err = make_room(c, n, &vic, &nvic);
	used = c->mapped_pages;
	max = c->max_pages;
	if (!*err) {
		c->mapped_pages += n; /* reserved */
		me.next = c->inflight;
		c->inflight = &me;
	}
	pthread_mutex_unlock(&c->lock);
	release(c, vic, nvic);
	free(vic);
	vic = NULL;
	nvic = 0;
	if (*err) {
		gm__info("no room to map %u grant page(s) of domain %u: %u of %u pages pinned",
			 n, d->domid, used, max);
		return NULL;
	}

	struct gentry *e = gm__calloc(1, sizeof(*e) + n * sizeof(e->refs[0]));
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
			atomic_store(&e->pins, DEAD);
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
	for (struct inflight **pp = &c->inflight; *pp; pp = &(*pp)->next) {
		if (*pp == &me) {
			*pp = me.next;
			break;
		}
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	release(c, vic, nvic);
	free(vic);
	return e;
}

/* ---- region callbacks ---- */

static bool want_persistent(const struct gregion *gr, int flags)
{
	if (flags & GM_MAP_PERSISTENT)
		return true;
	if (flags & GM_MAP_TRANSIENT)
		return false;
	return gr->persistent;
}

static int prot_of(int flags)
{
	return flags & GM_PROT_WRITE ? GM_PROT_RW : GM_PROT_READ;
}

/* Pages of the run that starts at @idx of @e and continues @ref upwards. */
static uint32_t run_len(const struct gentry *e, uint32_t idx, gm_gref ref, uint32_t want)
{
	uint32_t n = 1;

	while (n < want && idx + n < e->npages && e->refs[idx + n] == ref + n)
		n++;
	return n;
}

static uint32_t pages_spanned(uint64_t off, size_t len)
{
	uint64_t first = off >> GM_PAGE_SHIFT;
	uint64_t last = (off + len - 1) >> GM_PAGE_SHIFT;
	uint64_t n = last - first + 1;

	return n > MAX_MAP_PAGES ? MAX_MAP_PAGES : (uint32_t)n;
}

static void *gr_map(gm_region *r, uint64_t off, size_t *len, int flags, int *err)
{
	struct gregion *gr = gm_region_opaque(r);
	gm_grant_cache *c = gr->c;
	gm_gref ref = (gm_gref)(off >> GM_PAGE_SHIFT);
	size_t pgoff = off & (PAGE - 1);
	/* A guest-sized length must not turn into a huge mapping: map shortens. */
	uint32_t want = GM__MIN(pages_spanned(off, *len), MAX_MAP_SHORT);
	int prot = prot_of(flags);

	for (int attempt = 0;; attempt++) {
		uint32_t idx;
		struct gentry *e = lookup_pin(c, gr->dom, ref, prot, &idx);
		if (e) {
			size_t avail = (size_t)run_len(e, idx, ref, want) * PAGE - pgoff;
			if (*len > avail)
				*len = avail;
			return (char *)e->va + (size_t)idx * PAGE + pgoff;
		}
		/* A run of consecutive refs; never past the last gref. */
		if ((uint64_t)ref + want - 1 > UINT32_MAX)
			want = (uint32_t)(UINT32_MAX - ref + 1);
		gm_gref stack_refs[64];
		gm_gref *refs = want <= 64 ? stack_refs : gm__malloc(want * sizeof(*refs));
		if (!refs) {
			*err = -ENOMEM;
			return NULL;
		}
		for (uint32_t i = 0; i < want; i++)
			refs[i] = ref + i;
		e = map_refs(c, gr->dom, refs, want, prot, want_persistent(gr, flags), attempt < 3,
			     err);
		if (refs != stack_refs)
			free(refs);
		if (e) {
			size_t avail = (size_t)want * PAGE - pgoff;
			if (*len > avail)
				*len = avail;
			return (char *)e->va + pgoff;
		}
		if (*err != RETRY_LOOKUP)
			return NULL;
	}
}

/* The entry a pointer from gr_map/gr_map_sg came from. */
static struct gentry *entry_of(gm_grant_cache *c, struct gdom *d, gm_gref ref, const void *ptr)
{
	struct gm__epoch_token t;
	struct gentry *e;

	gm__epoch_enter(&c->ep, &t);
	struct slot *s = slot_of(d, ref);
	e = s ? atomic_load_explicit(&s->e, memory_order_acquire) : NULL;
	if (e && ((const char *)ptr < (char *)e->va ||
		  (const char *)ptr >= (char *)e->va + (size_t)e->npages * PAGE))
		e = NULL;
	gm__epoch_exit(&c->ep, &t);
	if (e)
		return e; /* our own pin keeps it alive */
	/* Superseded or invalidated since: search the list. */
	pthread_mutex_lock(&c->lock);
	for (e = c->list.next; e != &c->list; e = e->next)
		if ((const char *)ptr >= (char *)e->va &&
		    (const char *)ptr < (char *)e->va + (size_t)e->npages * PAGE)
			break;
	pthread_mutex_unlock(&c->lock);
	return e == &c->list ? NULL : e;
}

static void gr_unmap(gm_region *r, void *ptr, uint64_t off, size_t len, int flags,
		     size_t access_len)
{
	struct gregion *gr = gm_region_opaque(r);
	struct gentry *e = entry_of(gr->c, gr->dom, (gm_gref)(off >> GM_PAGE_SHIFT), ptr);

	(void)len, (void)flags, (void)access_len;
	if (!e) {
		gm__warn("grant unmap: %p is not a mapping of domain %u", ptr, gr->dom->domid);
		return;
	}
	unpin(gr->c, e);
}

/*
 * All ranges of a request: hits are pinned as they are; every page of the
 * ranges that miss goes into one list mapped with one call.
 */
static int gr_map_sg(gm_region *r, const struct gm_sg *in, unsigned n, struct iovec *out,
		     int flags)
{
	struct gregion *gr = gm_region_opaque(r);
	gm_grant_cache *c = gr->c;
	int prot = prot_of(flags);
	struct gentry *stack_hit[32];
	uint32_t stack_first[32];
	struct gentry **hit = n <= 32 ? stack_hit : gm__calloc(n, sizeof(*hit));
	uint32_t *first = n <= 32 ? stack_first : gm__calloc(n, sizeof(*first));
	gm_gref *refs = NULL;
	int ret = 0;

	if (!hit || !first) {
		ret = -ENOMEM;
		goto out;
	}
	for (int attempt = 0;; attempt++) {
		uint64_t total = 0;
		for (unsigned i = 0; i < n; i++) {
			gm_gref ref = (gm_gref)(in[i].addr >> GM_PAGE_SHIFT);
			uint32_t want = pages_spanned(in[i].addr, in[i].len);
			uint32_t idx;
			hit[i] = lookup_pin(c, gr->dom, ref, prot, &idx);
			if (hit[i] && run_len(hit[i], idx, ref, want) == want) {
				out[i].iov_base = (char *)hit[i]->va + (size_t)idx * PAGE +
						  (in[i].addr & (PAGE - 1));
				out[i].iov_len = in[i].len;
				continue;
			}
			if (hit[i]) {
				unpin(c, hit[i]); /* only part of it: map it whole */
				hit[i] = NULL;
			}
			first[i] = (uint32_t)total;
			total += want;
		}
		if (!total)
			goto out;
		if (total > MAX_MAP_PAGES) {
			ret = -ENOSPC;
			goto undo;
		}
		refs = gm__malloc(total * sizeof(*refs));
		if (!refs) {
			ret = -ENOMEM;
			goto undo;
		}
		for (unsigned i = 0; i < n; i++) {
			if (hit[i])
				continue;
			gm_gref ref = (gm_gref)(in[i].addr >> GM_PAGE_SHIFT);
			uint32_t want = pages_spanned(in[i].addr, in[i].len);
			for (uint32_t k = 0; k < want; k++)
				refs[first[i] + k] = ref + k;
		}
		int err;
		struct gentry *e = map_refs(c, gr->dom, refs, (uint32_t)total, prot,
					    want_persistent(gr, flags), attempt < 3, &err);
		free(refs);
		refs = NULL;
		if (!e && err == RETRY_LOOKUP) {
			for (unsigned i = 0; i < n; i++)
				if (hit[i])
					unpin(c, hit[i]);
			continue;
		}
		if (!e) {
			ret = err;
			goto undo;
		}
		/* One pin per range handed out; drop the creation pin last. */
		for (unsigned i = 0; i < n; i++) {
			if (hit[i])
				continue;
			atomic_fetch_add(&e->pins, 1);
			out[i].iov_base = (char *)e->va + (size_t)first[i] * PAGE +
					  (in[i].addr & (PAGE - 1));
			out[i].iov_len = in[i].len;
		}
		unpin(c, e);
		goto out;
	}
undo:
	for (unsigned i = 0; i < n; i++)
		if (hit[i])
			unpin(c, hit[i]);
out:
	if (hit != stack_hit)
		free(hit);
	if (first != stack_first)
		free(first);
	return ret;
}

/* ---- reads and writes of unmapped grant memory ---- */

/* Xen's copy statuses, in the cache's errno terms (see grant.h). */
static int copy_status_errno(int st)
{
	switch (st) {
	case GM_GNTST_OKAY:
		return 0;
	case GM_GNTST_GENERAL_ERROR:
	case GM_GNTST_BAD_GNTREF:
	case GM_GNTST_BAD_DOMAIN:
		return -EINVAL;
	default:
		return gm_gntst_errno(st);
	}
}

/* Does the guest let us read @ref?  (Tells read-only grants from bad refs.) */
static bool ref_readable(gm_grant_cache *c, struct gdom *d, gm_gref ref)
{
	unsigned char b;
	struct gm_copy_seg seg = {.len = 1, .flags = GM_COPY_SOURCE_GREF};

	seg.source.foreign.ref = ref;
	seg.source.foreign.domid = d->domid;
	seg.dest.virt = &b;
	STAT_ADD(c, copy_calls, 1);
	return gm_gnttab_copy(c->g, 1, &seg) == 0 && seg.status == GM_GNTST_OKAY;
}

/* Grant copy of [off, off + len), page-split, COPY_BATCH segments a call. */
static int copy_rw(gm_grant_cache *c, struct gdom *d, uint64_t off, unsigned char *buf, size_t len,
		   bool write)
{
	struct gm_copy_seg seg[COPY_BATCH];

	while (len) {
		unsigned n = 0;
		size_t done = 0;
		for (; n < COPY_BATCH && done < len; n++) {
			uint64_t o = off + done;
			size_t l = GM__MIN(len - done, PAGE - (o & (PAGE - 1)));
			struct gm_copy_seg *s = &seg[n];
			memset(s, 0, sizeof(*s));
			s->len = (uint16_t)l;
			if (write) {
				s->flags = GM_COPY_DEST_GREF;
				s->source.virt = buf + done;
				s->dest.foreign.ref = (gm_gref)(o >> GM_PAGE_SHIFT);
				s->dest.foreign.offset = (uint16_t)(o & (PAGE - 1));
				s->dest.foreign.domid = d->domid;
			} else {
				s->flags = GM_COPY_SOURCE_GREF;
				s->dest.virt = buf + done;
				s->source.foreign.ref = (gm_gref)(o >> GM_PAGE_SHIFT);
				s->source.foreign.offset = (uint16_t)(o & (PAGE - 1));
				s->source.foreign.domid = d->domid;
			}
			done += l;
		}
		int ret = 0;
		for (int tries = 0; tries < EAGAIN_TRIES; tries++) {
			STAT_ADD(c, copy_calls, 1);
			STAT_ADD(c, copy_segs, n);
			ret = gm_gnttab_copy(c->g, n, seg);
			if (ret)
				return ret;
			bool again = false;
			for (unsigned i = 0; i < n; i++)
				again |= seg[i].status == GM_GNTST_EAGAIN;
			if (!again)
				break;
			struct timespec ts = {0, 1000000L << tries};
			nanosleep(&ts, NULL);
		}
		for (unsigned i = 0; i < n; i++) {
			if (seg[i].status == GM_GNTST_OKAY)
				continue;
			gm_gref ref = write ? seg[i].dest.foreign.ref : seg[i].source.foreign.ref;
			ret = copy_status_errno(seg[i].status);
			if (write && ret == -EINVAL && ref_readable(c, d, ref))
				ret = -EACCES;
			gm__info("grant copy %s ref %u of domain %u failed: status %d (%s)",
				 write ? "to" : "from", ref, d->domid, seg[i].status,
				 gm_strerror(ret));
			return ret;
		}
		off += done;
		buf += done;
		len -= done;
	}
	return 0;
}

/* Copy through a transient mapping (large accesses, or no grant copy). */
static int map_rw(gm_region *r, uint64_t off, unsigned char *buf, size_t len, bool write)
{
	struct gregion *gr = gm_region_opaque(r);
	int flags = (write ? GM_PROT_WRITE : GM_PROT_READ) | GM_MAP_TRANSIENT;

	STAT_ADD(gr->c, bounce_uses, 1);
	while (len) {
		size_t l = len;
		int err;
		void *p = gr_map(r, off, &l, flags, &err);
		if (!p)
			return err;
		if (write)
			memcpy(p, buf, l);
		else
			memcpy(buf, p, l);
		gr_unmap(r, p, off, l, flags, write ? l : 0);
		off += l;
		buf += l;
		len -= l;
	}
	return 0;
}

static bool copy_unsupported(int err)
{
	return err == -EOPNOTSUPP || err == -ENOSYS || err == -ENOTTY;
}

/*
 * The hit path of reads and writes: copy to or from the mapping of @off if
 * there is one with @prot.  No pin: inside the read-side section the entry
 * stays mapped (release() unlinks it, then waits for readers before it
 * unmaps), so the copy is safe without the pin's two atomic operations.
 * At most HIT_COPY_MAX bytes, so that a writer never waits long for us.
 * Returns the bytes copied, 0 if nothing usable is mapped there.
 */
static size_t copy_hit(gm_grant_cache *c, struct gdom *d, uint64_t off, unsigned char *buf,
		       size_t len, int prot, bool write)
{
	gm_gref ref = (gm_gref)(off >> GM_PAGE_SHIFT);
	struct gm__epoch_token t;
	size_t l = 0;

	gm__epoch_enter(&c->ep, &t);
	struct slot *s = slot_of(d, ref);
	struct gentry *e = s ? atomic_load_explicit(&s->e, memory_order_acquire) : NULL;
	if (e) {
		uint32_t idx = atomic_load_explicit(&s->idx, memory_order_relaxed);
		/* As in lookup_pin; a dying entry is left to the slow path. */
		if (atomic_load_explicit(&s->e, memory_order_acquire) == e && !(prot & ~e->prot) &&
		    !(atomic_load_explicit(&e->pins, memory_order_relaxed) & DEAD)) {
			size_t pgoff = off & (PAGE - 1);
			len = GM__MIN(len, HIT_COPY_MAX);
			l = GM__MIN(len, (size_t)run_len(e, idx, ref, pages_spanned(off, len)) *
						 PAGE - pgoff);
			char *p = (char *)e->va + (size_t)idx * PAGE + pgoff;
			if (write)
				memcpy(p, buf, l);
			else
				memcpy(buf, p, l);
			touch(c, e); /* inside: @e may go once we leave */
		}
	}
	gm__epoch_exit(&c->ep, &t);
	if (l)
		gm__slot_add(&c->st[t.slot].hits, t.slot, 1);
	return l;
}

static int gr_rw(gm_region *r, uint64_t off, unsigned char *buf, size_t len, bool write)
{
	struct gregion *gr = gm_region_opaque(r);
	gm_grant_cache *c = gr->c;
	int prot = write ? GM_PROT_RW : GM_PROT_READ;

	while (len) {
		/* Mapped already?  Then it is a memcpy. */
		size_t l = copy_hit(c, gr->dom, off, buf, len, prot, write);
		if (l) {
			off += l;
			buf += l;
			len -= l;
			continue;
		}
		/* Not mapped: copy up to the next page that is, or the end, but
		 * look no further than one map call covers: a guest-sized
		 * length (up to the region's 2^44 bytes) must not turn into
		 * billions of lookups before the first byte moves. */
		l = PAGE - (off & (PAGE - 1));
		while (l < len && l < (size_t)MAX_MAP_SHORT * PAGE) {
			uint32_t i2;
			struct gentry *e2 = lookup_pin(c, gr->dom, (gm_gref)((off + l) >> GM_PAGE_SHIFT),
						       prot, &i2);
			if (e2) {
				unpin(c, e2);
				break;
			}
			l += PAGE;
		}
		l = GM__MIN(l, len);
		int ret = -EOPNOTSUPP;
		if (l <= c->copy_threshold && !atomic_load_explicit(&c->no_copy, memory_order_relaxed)) {
			ret = copy_rw(c, gr->dom, off, buf, l, write);
			if (copy_unsupported(ret)) {
				gm__info("no grant copy here (%s): reads and writes map instead",
					 gm_strerror(ret));
				atomic_store(&c->no_copy, true);
			}
		}
		if (copy_unsupported(ret) || ret == -EOPNOTSUPP)
			ret = map_rw(r, off, buf, l, write);
		if (ret)
			return ret;
		off += l;
		buf += l;
		len -= l;
	}
	return 0;
}

static int gr_read(gm_region *r, uint64_t off, void *buf, size_t len)
{
	return gr_rw(r, off, buf, len, false);
}

static int gr_write(gm_region *r, uint64_t off, const void *buf, size_t len)
{
	return gr_rw(r, off, (unsigned char *)buf, len, true);
}

static void gr_free(gm_region *r)
{
	free(gm_region_opaque(r));
}

static const struct gm_region_ops grant_ops = {
	.map = gr_map,
	.unmap = gr_unmap,
	.map_sg = gr_map_sg,
	.read = gr_read,
	.write = gr_write,
	.free = gr_free,
};

GM_API int gm_grant_region_new(gm_grant_cache *c, gm_domid domid, enum gm_grant_policy policy,
			       gm_region **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!c || (policy != GM_GRANT_TRANSIENT && policy != GM_GRANT_PERSISTENT))
		return -EINVAL;
	struct gregion *gr = gm__calloc(1, sizeof(*gr));
	if (!gr)
		return -ENOMEM;
	gr->c = c;
	gr->persistent = policy == GM_GRANT_PERSISTENT;
	gr->dom = dom_get(c, domid);
	int ret = gr->dom ? gm_region_new(GM_GRANT_REGION_SIZE, &grant_ops, gr, out) : -ENOMEM;
	if (ret)
		free(gr);
	return ret;
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
		struct gentry *e = c->list.next;
		unsigned pins = atomic_load(&e->pins) & ~DEAD;
		if (pins)
			gm__warn("freeing the grant cache with %u pin(s) on %u page(s) of domain %u",
				 pins, e->npages, e->dom->domid);
		list_del(c, e);
		unmap_entry(c, e);
	}
	retry_zombies(c);
	while (c->zombies) { /* still refused: give up, loudly */
		struct gentry *z = c->zombies;
		c->zombies = z->next;
		gm__err("%u grant page(s) of domain %u stay mapped: unmap keeps failing",
			z->npages, z->dom->domid);
		free(z);
	}
	while (c->doms) {
		struct gdom *d = c->doms;
		c->doms = d->next;
		for (unsigned i = 0; i < (1u << L1_BITS); i++) {
			struct l2 *l2 = atomic_load(&d->l1[i]);
			if (!l2)
				continue;
			for (unsigned j = 0; j < (1u << L2_BITS); j++)
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
	struct gentry **vic = NULL;
	unsigned nvic = 0;

	if (!c || !max_pages)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	c->max_pages = max_pages;
	make_room(c, 0, &vic, &nvic); /* best effort: pinned entries stay */
	pthread_mutex_unlock(&c->lock);
	release(c, vic, nvic);
	free(vic);
	int ret = gm_gnttab_set_max_grants(c->g, max_pages);
	if (ret)
		gm__dbg("set_max_grants(%u): %s", max_pages, gm_strerror(ret));
	return 0;
}

static bool overlaps_refs(const struct gentry *e, gm_gref first, uint32_t count)
{
	for (uint32_t i = 0; i < e->npages; i++)
		if (e->refs[i] >= first && e->refs[i] - first < count)
			return true;
	return false;
}

/* Are pages of @domid (any domain unless @one_dom) in the refs range still
 * mapped because their unmap failed? */
static bool zombies_left(gm_grant_cache *c, gm_domid domid, bool one_dom, gm_gref first,
			 uint32_t count)
{
	bool left = false;

	pthread_mutex_lock(&c->lock);
	for (struct gentry *z = c->zombies; z && !left; z = z->next)
		left = (!one_dom || z->dom->domid == domid) && overlaps_refs(z, first, count);
	pthread_mutex_unlock(&c->lock);
	return left;
}

/* Invalidate entries of @d (all domains if NULL) touching the refs range. */
static int invalidate(gm_grant_cache *c, gm_domid domid, bool one_dom, gm_gref first,
		      uint32_t count)
{
	struct gentry **vic = NULL;
	unsigned nvic = 0;
	int n = 0, ret = 0;

	pthread_mutex_lock(&c->lock);
	for (struct gentry *e = c->list.next; e != &c->list; e = e->next) {
		if ((one_dom && e->dom->domid != domid) || !overlaps_refs(e, first, count))
			continue;
		if (atomic_load(&e->pins) & DEAD)
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
	STAT_ADD(c, invalidations, n);
	release(c, vic, nvic);
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
	return invalidate(c, domid, true, 0, UINT32_MAX);
}

GM_API int gm_grant_cache_invalidate_all(gm_grant_cache *c)
{
	if (!c)
		return -EINVAL;
	return invalidate(c, 0, false, 0, UINT32_MAX);
}

GM_API int gm_grant_cache_evict_idle(gm_grant_cache *c)
{
	struct gentry **vic = NULL;
	unsigned nvic = 0;
	int n = 0;

	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	sweep_idle(c, &vic, &nvic, &n);
	pthread_mutex_unlock(&c->lock);
	release(c, vic, nvic);
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
	for (struct gentry *e = c->list.next; e != &c->list; e = e->next)
		if (atomic_load(&e->pins) & ~DEAD)
			st->pinned_entries++;
	pthread_mutex_unlock(&c->lock);
}
