/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mapping cache of grant regions: per-domain gref tables, entries and
 * their pins, the frontends' shares of the budget, the miss path (merged
 * misses, eviction, idle sweeps), release, invalidation, statistics, and
 * the unmaps Xen refused (zombies, retried).  The contract is in grant.h;
 * the internal API, its data structures and locking rules in
 * grant-internal.h.  Nothing here calls the region (region.c).
 *
 * Shares.  Each domain d has a minimum (min_d, guaranteed) and a ceiling
 * (max_d); used_d counts its pages mapped or being mapped.  A map of n
 * pages for d goes ahead when
 *   used_d + n <= max_d                      (its ceiling), and
 *   used + n + (the minimums of the others not used yet) <= the budget,
 * so the pages a domain has not used of its minimum stay free for it.  When
 * the ceiling stops it, d evicts its own least recently used entries; when
 * the budget does, it evicts from the domains furthest above their minimum
 * (itself included), never taking another below its minimum.  Pinned
 * entries (rings, requests in flight) are never evicted.
 *
 * Eviction.  Each domain lists its persistent entries in the order they
 * were last put at the tail.  A victim is the least recently used unpinned
 * entry among the first LRU_SAMPLE of the list; those found used since they
 * were listed, or pinned, go to the tail.  So each victim costs O(1) list
 * work and O(threads) for the pin hint, however big the cache, and with
 * few entries (tests) it is exact LRU.
 */
#include "config.h"

#include "grant-internal.h"
#include "xen/xen-internal.h"

#include <search.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* Walks keep a cursor on their stack in a list while they run and take it
 * out before they return, which GCC cannot see. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

#define PAGE GM_PAGE_SIZE
#define DEFAULT_MAX_PAGES 65536u
#define ALL_REFS (1ULL << 32) /* a count of refs: every gref, 0 to 0xffffffff */
#define LRU_SAMPLE 8          /* entries looked at for one victim */
#define HEAP_LOOK 8           /* domains looked at for one victim */
#define TABLE_WALK_MAX 4096u  /* invalidate through the table up to this many refs */
#define DEFAULT_MIN_PAGES GM_GRANT_MIN_PAGES_DEFAULT

/* A map call in progress, on its caller's stack while on the list. */
struct gm__ginflight {
	struct gm__ginflight *next;
	struct gm__gdom *dom;
	const gm_gref *sorted; /* its refs, sorted; NULL: others may not wait for it */
	uint32_t n;
	int prot;
};

/* Entries killed under the lock, finished after it (finish_kills). */
struct kills {
	struct gm__gentry **e;
	unsigned n, cap;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- lists (lock held) ---- */

static void list_init(struct gm__gentry *h)
{
	h->next = h->prev = h;
}

static void list_insert_after(struct gm__gentry *at, struct gm__gentry *e)
{
	e->prev = at;
	e->next = at->next;
	at->next->prev = e;
	at->next = e;
}

static void list_del(struct gm__gentry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->next = e->prev = e;
}

/* Put @e at the tail of its domain's LRU list, listed now. */
static void lru_to_tail(struct gm__gentry *e)
{
	if (e->list == GM__GL_LRU)
		list_del(e);
	list_insert_after(e->dom->lru.prev, e);
	e->list = GM__GL_LRU;
	e->listed = gm__lru_tick();
}

/* Take @e off whatever list it is on. */
static void list_leave(struct gm__gentry *e)
{
	if (e->list != GM__GL_NONE)
		list_del(e);
	e->list = GM__GL_NONE;
}

/*
 * A walk that drops the lock between batches keeps its place with a
 * cursor: a node in the list that every other walker skips.  Returns the
 * next real entry after @cur (moving @cur past it), or NULL at the end.
 */
static struct gm__gentry *cursor_next(struct gm__gentry *head, struct gm__gentry *cur)
{
	struct gm__gentry *e = cur->next;

	while (e != head && e->list == GM__GL_CURSOR)
		e = e->next;
	if (e == head)
		return NULL;
	list_del(cur);
	list_insert_after(e, cur);
	return e;
}

/* ---- shares and the domains' heap (lock held) ---- */

static uint32_t reserve_of(const struct gm__gdom *d)
{
	return d->used < d->min_pages ? d->min_pages - d->used : 0;
}

static int64_t excess_of(const struct gm__gdom *d)
{
	return (int64_t)d->used - (int64_t)d->min_pages;
}

static uint32_t ceiling_of(const gm_grant_cache *c, const struct gm__gdom *d)
{
	return d->max_pages && d->max_pages < c->max_pages ? d->max_pages : c->max_pages;
}

static void heap_set(gm_grant_cache *c, unsigned i, struct gm__gdom *d)
{
	c->heap[i] = d;
	d->heap_at = i;
}

/* Restore the heap around @d after its excess changed. */
static void heap_fix(gm_grant_cache *c, struct gm__gdom *d)
{
	unsigned i = d->heap_at;

	while (i && excess_of(c->heap[(i - 1) / 2]) < excess_of(d)) {
		heap_set(c, i, c->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		int64_t best = excess_of(d);
		if (l < c->ndoms && excess_of(c->heap[l]) > best) {
			m = l;
			best = excess_of(c->heap[l]);
		}
		if (r < c->ndoms && excess_of(c->heap[r]) > best)
			m = r;
		if (m == i)
			break;
		heap_set(c, i, c->heap[m]);
		i = m;
	}
	heap_set(c, i, d);
}

/* Add @delta pages to @d's use (and the cache's). */
static void charge(gm_grant_cache *c, struct gm__gdom *d, int64_t delta)
{
	c->reserved -= reserve_of(d);
	c->used -= d->used;
	d->used = (uint32_t)((int64_t)d->used + delta);
	c->reserved += reserve_of(d);
	c->used += d->used;
	heap_fix(c, d);
}

/* Set @d's minimum and ceiling from its regions' knobs. */
static void share_recompute(gm_grant_cache *c, struct gm__gdom *d)
{
	uint32_t mn = 0, mx = 0;
	bool unlimited = false;

	for (struct gm__gshare *s = d->shares; s; s = s->next) {
		mn = s->min_granted > mn ? s->min_granted : mn;
		if (!s->max_pages)
			unlimited = true;
		else if (s->max_pages > mx)
			mx = s->max_pages;
	}
	c->reserved -= reserve_of(d);
	c->min_total -= d->min_pages;
	d->min_pages = mn;
	d->max_pages = unlimited ? 0 : mx;
	c->min_total += d->min_pages;
	c->reserved += reserve_of(d);
	heap_fix(c, d);
}

/* Pages a map for @d could take now without evicting anything of anyone. */
static uint32_t room_of(const gm_grant_cache *c, const struct gm__gdom *d)
{
	int64_t others = (int64_t)c->reserved - reserve_of(d);
	int64_t global = (int64_t)c->max_pages - c->used - others;
	int64_t own = (int64_t)ceiling_of(c, d) - d->used;
	int64_t r = global < own ? global : own;

	return r > 0 ? (uint32_t)r : 0;
}

/* ---- the table ---- */

/* The slot of @ref, creating the levels above it.  Lock held. */
static struct gm__gslot *slot_make(gm_grant_cache *c, struct gm__gdom *d, gm_gref ref)
{
	_Atomic(struct gm__gl2 *) *p1 = &d->l1[ref >> (GM__GCACHE_L2_BITS + GM__GCACHE_L3_BITS)];
	/* relaxed: only writers (holding the lock) store these */
	struct gm__gl2 *l2 = atomic_load_explicit(p1, memory_order_relaxed);
	if (!l2) {
		l2 = gm__calloc(1, sizeof(*l2));
		if (!l2)
			return NULL;
		d->table_bytes += sizeof(*l2);
		c->table_bytes += sizeof(*l2);
		atomic_store_explicit(p1, l2, memory_order_release);
	}
	_Atomic(struct gm__gl3 *) *p2 =
		&l2->p[(ref >> GM__GCACHE_L3_BITS) & ((1u << GM__GCACHE_L2_BITS) - 1)];
	struct gm__gl3 *l3 = atomic_load_explicit(p2, memory_order_relaxed);
	if (!l3) {
		l3 = gm__calloc(1, sizeof(*l3));
		if (!l3)
			return NULL;
		d->table_bytes += sizeof(*l3);
		c->table_bytes += sizeof(*l3);
		atomic_store_explicit(p2, l3, memory_order_release);
	}
	return &l3->s[ref & ((1u << GM__GCACHE_L3_BITS) - 1)];
}

/* ---- the host-address index ---- */

static uint64_t va_page(const void *p)
{
	return (uint64_t)(uintptr_t)p >> GM_PAGE_SHIFT;
}

/* The slot of host page @pn, NULL if its levels do not exist (or @pn is
 * beyond the index).  Inside a read-side section, or with the lock. */
static _Atomic(struct gm__gentry *) *va_slot(gm_grant_cache *c, uint64_t pn)
{
	if (pn >> GM__GCACHE_VA_BITS)
		return NULL;
	/* acquire: a level published with release is seen initialised */
	struct gm__gvl2 *l2 = atomic_load_explicit(
		&c->va[pn >> (GM__GCACHE_VA_L2_BITS + GM__GCACHE_VA_L3_BITS)], memory_order_acquire);
	if (!l2)
		return NULL;
	struct gm__gvl3 *l3 = atomic_load_explicit(
		&l2->p[(pn >> GM__GCACHE_VA_L3_BITS) & ((1u << GM__GCACHE_VA_L2_BITS) - 1)],
		memory_order_acquire);
	if (!l3)
		return NULL;
	return &l3->e[pn & ((1u << GM__GCACHE_VA_L3_BITS) - 1)];
}

/*
 * Create the index levels over @e's pages (pages beyond it need none).
 * Lock held.  0 or -ENOMEM (levels made so far stay: they are empty).
 * Levels stay until the cache is freed: 32 KiB per 16 MiB of the host's
 * address space that mappings ever used, nothing per frontend (they are
 * not in table_bytes, which frontends give back when they leave).
 */
static int va_make(gm_grant_cache *c, const struct gm__gentry *e)
{
	uint64_t first = va_page(e->va), last = first + e->npages - 1;
	const unsigned l3_shift = GM__GCACHE_VA_L3_BITS;

	/* one level-3 table per 2^12 pages: step through them */
	for (uint64_t pn = first; pn <= last && !(pn >> GM__GCACHE_VA_BITS);
	     pn = ((pn >> l3_shift) + 1) << l3_shift) {
		_Atomic(struct gm__gvl2 *) *p1 = &c->va[pn >> (GM__GCACHE_VA_L2_BITS + l3_shift)];
		/* relaxed: only writers (holding the lock) store these */
		struct gm__gvl2 *l2 = atomic_load_explicit(p1, memory_order_relaxed);
		if (!l2) {
			if (!(l2 = gm__calloc(1, sizeof(*l2))))
				return -ENOMEM;
			atomic_store_explicit(p1, l2, memory_order_release);
		}
		_Atomic(struct gm__gvl3 *) *p2 =
			&l2->p[(pn >> l3_shift) & ((1u << GM__GCACHE_VA_L2_BITS) - 1)];
		if (!atomic_load_explicit(p2, memory_order_relaxed)) {
			struct gm__gvl3 *l3 = gm__calloc(1, sizeof(*l3));
			if (!l3)
				return -ENOMEM;
			atomic_store_explicit(p2, l3, memory_order_release);
		}
	}
	return 0;
}

/* Point @e's pages at @to (@e, or NULL).  Lock held; levels made. */
static void va_set(gm_grant_cache *c, struct gm__gentry *e, struct gm__gentry *to)
{
	uint64_t pn = va_page(e->va);

	for (uint32_t i = 0; i < e->npages; i++) {
		_Atomic(struct gm__gentry *) *s = va_slot(c, pn + i);
		/* release: a reader that finds @e sees it fully built */
		if (s)
			atomic_store_explicit(s, to, memory_order_release);
	}
}

static void va_free(gm_grant_cache *c)
{
	for (unsigned i = 0; i < (1u << GM__GCACHE_VA_L1_BITS); i++) {
		struct gm__gvl2 *l2 = atomic_load_explicit(&c->va[i], memory_order_relaxed);
		if (!l2)
			continue;
		for (unsigned j = 0; j < (1u << GM__GCACHE_VA_L2_BITS); j++)
			free(atomic_load_explicit(&l2->p[j], memory_order_relaxed));
		free(l2);
	}
}

/* Make @e unreachable.  Lock held.  Readers that found it keep using it
 * until their section ends. */
static void unlink_slots(gm_grant_cache *c, struct gm__gentry *e)
{
	if (!e->linked)
		return;
	for (uint32_t i = 0; i < e->npages; i++) {
		struct gm__gslot *s = gm__gcache_slot(e->dom, e->refs[i]);
		struct gm__gentry *cur = e;
		if (s)
			atomic_compare_exchange_strong(&s->e, &cur, NULL);
	}
	va_set(c, e, NULL);
	e->linked = false;
}

/* Free @d's table levels: readers must be gone (or never able to come). */
static void table_free(_Atomic(struct gm__gl2 *) *l1)
{
	for (unsigned i = 0; i < (1u << GM__GCACHE_L1_BITS); i++) {
		struct gm__gl2 *l2 = atomic_load_explicit(&l1[i], memory_order_relaxed);
		if (!l2)
			continue;
		for (unsigned j = 0; j < (1u << GM__GCACHE_L2_BITS); j++)
			free(atomic_load_explicit(&l2->p[j], memory_order_relaxed));
		free(l2);
	}
}

static void wait_readers(gm_grant_cache *c)
{
	pthread_mutex_lock(&c->sync_lock);
	gm__epoch_synchronize(&c->ep);
	pthread_mutex_unlock(&c->sync_lock);
}

/* ---- the address index (lock held) ---- */

/* Entries by address; a probe (npages 0) equals the entry whose pages hold it. */
static int va_cmp(const void *a, const void *b)
{
	const struct gm__gentry *x = a, *y = b;

	if (!x->npages && y->npages) {
		if ((const char *)x->va < (const char *)y->va)
			return -1;
		return (const char *)x->va >= (const char *)y->va + (size_t)y->npages * PAGE;
	}
	if (x->npages && !y->npages)
		return -va_cmp(b, a);
	const char *xa = x->va, *ya = y->va;

	return xa < ya ? -1 : xa > ya;
}

/* The mapped entry whose pages hold @ptr, or NULL.  Lock held. */
static struct gm__gentry *tree_find(gm_grant_cache *c, const void *ptr)
{
	struct gm__gentry probe = {.va = (void *)ptr, .npages = 0};
	void **node = tfind(&probe, &c->tree, va_cmp);

	return node ? *(struct gm__gentry **)node : NULL;
}

struct gm__gentry *gm__gcache_entry_at(gm_grant_cache *c, const void *ptr)
{
	pthread_mutex_lock(&c->lock);
	struct gm__gentry *e = tree_find(c, ptr);
	pthread_mutex_unlock(&c->lock);
	return e;
}

/*
 * Does @e answer for @ptr of @d?  A transient entry's pins are exact: only
 * one a user holds counts.  A persistent entry's are per thread (a peek is
 * only a hint): any one still mapped counts, as gm_unmap takes it.  Then
 * *off and *len say where.  Inside a read-side section, or with the lock.
 */
static bool answers(struct gm__gentry *e, struct gm__gdom *d, const void *ptr, uint64_t *off,
		    size_t *len)
{
	if (e->dom != d || (e->persistent ? gm__gcache_dead(e) && !gm__dref_peek(&e->ref)
					  : !(atomic_load(&e->pins) & ~GM__GCACHE_DEAD)))
		return false;
	size_t into = (size_t)((const char *)ptr - (const char *)e->va);
	uint32_t idx = (uint32_t)(into / PAGE), pgoff = (uint32_t)(into % PAGE);
	uint32_t run = gm__gcache_run_len(e, idx, e->refs[idx], e->npages - idx);
	*off = ((uint64_t)e->refs[idx] << GM_PAGE_SHIFT) | pgoff;
	*len = (size_t)run * PAGE - pgoff;
	return true;
}

int gm__gcache_from_host(gm_grant_cache *c, struct gm__gdom *d, const void *ptr, uint64_t *off,
			 size_t *len)
{
	struct gm__epoch_token t;
	bool found;

	/* A linked entry: the index, no lock. */
	gm__epoch_enter(&c->ep, &t);
	_Atomic(struct gm__gentry *) *s = va_slot(c, va_page(ptr));
	struct gm__gentry *e = s ? atomic_load_explicit(s, memory_order_acquire) : NULL;
	found = e && answers(e, d, ptr, off, len);
	gm__epoch_exit(&c->ep, &t);
	if (e)
		return found ? 0 : -ENOENT;
	/* An entry unlinked while still in use (superseded, invalidated,
	 * evicted), or a pointer in no mapping: the tree. */
	pthread_mutex_lock(&c->lock);
	e = tree_find(c, ptr);
	found = e && answers(e, d, ptr, off, len);
	pthread_mutex_unlock(&c->lock);
	return found ? 0 : -ENOENT;
}

/* ---- domains ---- */

static void dom_unlink(gm_grant_cache *c, struct gm__gdom *d)
{
	c->table_bytes -= d->table_bytes;
	d->prev->next = d->next;
	d->next->prev = d->prev;
	struct gm__gdom *last = c->heap[--c->ndoms];
	if (last != d) {
		heap_set(c, d->heap_at, last);
		heap_fix(c, last);
	}
}

/* Unlink @d if nothing holds it any more; returns it for dom_free (after
 * the lock).  Lock held. */
static struct gm__gdom *dom_if_unused(gm_grant_cache *c, struct gm__gdom *d)
{
	if (d->regions || d->entries || d->inflight)
		return NULL;
	dom_unlink(c, d);
	return d;
}

/* Free a domain dom_if_unused gave: no region or entry can reach it. */
static void dom_free(struct gm__gdom *d)
{
	if (!d)
		return;
	table_free(d->l1);
	free(d);
}

int gm__gcache_dom_get(gm_grant_cache *c, gm_domid domid, struct gm__gshare *sh,
		       struct gm__gdom **out)
{
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	struct gm__gdom *d;
	for (d = c->doms.next; d != &c->doms; d = d->next)
		if (d->domid == domid)
			break;
	/* The minimum: what was asked, or the default clamped to what the
	 * others leave of the budget (then maybe nothing at all). */
	uint32_t others = c->min_total - (d != &c->doms ? d->min_pages : 0);
	uint32_t left = c->max_pages > others ? c->max_pages - others : 0;
	if (sh->min_pages == GM_GRANT_PAGES_NONE) {
		sh->min_granted = 0;
	} else if (!sh->min_pages) {
		/* at most a sixteenth of the budget: room for other frontends */
		sh->min_granted = GM__MIN(GM__MIN(DEFAULT_MIN_PAGES, c->max_pages / 16), left);
	} else if (sh->min_pages > left ||
		   (sh->max_pages && sh->max_pages < sh->min_pages)) {
		ret = -ENOSPC;
		goto out;
	} else {
		sh->min_granted = sh->min_pages;
	}
	if (d == &c->doms) {
		if (c->ndoms == c->heap_cap) {
			unsigned cap = c->heap_cap ? 2 * c->heap_cap : 16;
			struct gm__gdom **h = gm__realloc(c->heap, cap * sizeof(*h));
			if (!h) {
				ret = -ENOMEM;
				goto out;
			}
			c->heap = h;
			c->heap_cap = cap;
		}
		d = gm__calloc(1, sizeof(*d));
		if (!d) {
			ret = -ENOMEM;
			goto out;
		}
		d->domid = domid;
		d->table_bytes = sizeof(*d);
		c->table_bytes += sizeof(*d);
		list_init(&d->lru);
		list_init(&d->live);
		d->next = c->doms.next;
		d->prev = &c->doms;
		c->doms.next->prev = d;
		c->doms.next = d;
		heap_set(c, c->ndoms++, d);
		heap_fix(c, d);
	}
	sh->next = d->shares;
	d->shares = sh;
	d->regions++;
	share_recompute(c, d);
	*out = d;
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void gm__gcache_share(gm_grant_cache *c, struct gm__gdom *d, struct gm_grant_share *out)
{
	pthread_mutex_lock(&c->lock);
	out->used = d->used;
	out->min_pages = d->min_pages;
	out->max_pages = ceiling_of(c, d);
	out->entries = d->entries;
	pthread_mutex_unlock(&c->lock);
}

/* The most pages @d could ever hold at once: its ceiling, and the budget
 * less the others' minimums.  Lock held. */
static uint32_t cap_of(const gm_grant_cache *c, const struct gm__gdom *d)
{
	uint32_t others = c->min_total - d->min_pages;
	uint32_t global = c->max_pages > others ? c->max_pages - others : 0;

	return GM__MIN(global, ceiling_of(c, d));
}

/* ---- kills and release ---- */

static bool kills_reserve(struct kills *k, unsigned more)
{
	if (k->n + more <= k->cap)
		return true;
	unsigned cap = k->n + more > 2 * k->cap ? k->n + more : 2 * k->cap;
	struct gm__gentry **ne = gm__realloc(k->e, cap * sizeof(*ne));
	if (!ne)
		return false;
	k->e = ne;
	k->cap = cap;
	return true;
}

/*
 * Kill @e: unlink it, take it off its list, and mark it dead.  A transient
 * entry's pins say at once whether it is in use; a persistent entry's only
 * after a grace period (finish_kills).  Room in @k must be reserved.
 * Returns false if @e was dying already.  Lock held.
 */
static bool kill_entry(gm_grant_cache *c, struct gm__gentry *e, struct kills *k)
{
	if (e->persistent) {
		if (atomic_load_explicit(&e->ref.state, memory_order_relaxed) & GM__DREF_DEAD)
			return false;
		unlink_slots(c, e);
		list_leave(e);
		gm__dref_kill_begin(&e->ref);
		k->e[k->n++] = e;
		return true;
	}
	unsigned p = atomic_load(&e->pins);
	for (;;) {
		if (p & GM__GCACHE_DEAD)
			return false; /* already dying: its owner releases it */
		if (atomic_compare_exchange_weak(&e->pins, &p, p | GM__GCACHE_DEAD))
			break;
	}
	unlink_slots(c, e);
	list_leave(e);
	if (p == 0)
		k->e[k->n++] = e; /* nobody pins it: ours */
	return true;
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
		    e->domid, gm_strerror(ret));
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

/* Forget @e (dead, unpinned, ours): it leaves every structure and its
 * pages the budget.  Returns a domain to dom_free, or NULL.  Lock held. */
static struct gm__gdom *forget(gm_grant_cache *c, struct gm__gentry *e)
{
	struct gm__gdom *d = e->dom;

	unlink_slots(c, e);
	list_leave(e);
	tdelete(e, &c->tree, va_cmp);
	if (e->counted)
		charge(c, d, -(int64_t)e->npages);
	e->counted = false;
	e->dom = NULL; /* a zombie knows only its domid */
	c->entries--;
	d->entries--;
	return dom_if_unused(c, d);
}

void gm__gcache_release(gm_grant_cache *c, struct gm__gentry **victims, unsigned n,
			bool synced)
{
	struct gm__gdom *gone[8];
	unsigned ngone = 0;

	if (!n) {
		/* nothing new: earlier refusals get another try */
		if (GM__UNLIKELY(atomic_load_explicit(&c->have_zombies, memory_order_relaxed)))
			retry_zombies(c);
		return;
	}
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < n; i++) {
		struct gm__gdom *d = forget(c, victims[i]);
		if (d && ngone < GM__ARRAY_SIZE(gone))
			gone[ngone++] = d;
		else if (d) /* cannot happen: a release names few domains */
			dom_free(d);
	}
	pthread_mutex_unlock(&c->lock);
	if (!synced)
		wait_readers(c);
	for (unsigned i = 0; i < n; i++)
		unmap_entry(c, victims[i]);
	for (unsigned i = 0; i < ngone; i++)
		dom_free(gone[i]);
	/* Once more at once: a transient request completes after this, and
	 * its guest ends access to the pages right away. */
	if (GM__UNLIKELY(atomic_load_explicit(&c->have_zombies, memory_order_relaxed)))
		retry_zombies(c);
}

/*
 * Finish what kill_entry started for @k, with no lock held: one grace
 * period, then every entry nobody pins is released; a persistent entry
 * still pinned is released by its last unpin (an evicted one takes its
 * pages back until then).
 */
static void finish_kills(gm_grant_cache *c, struct kills *k)
{
	bool locked = false;
	unsigned n = 0;

	if (!k->n)
		return;
	wait_readers(c);
	for (unsigned i = 0; i < k->n; i++) {
		struct gm__gentry *e = k->e[i];
		if (!e->persistent) {
			k->e[n++] = e;
			continue;
		}
		/*
		 * The lock first: an entry still pinned is released by its last
		 * unpin, which may come the instant after the kill ends, and
		 * that release (forget, under the lock) must find its pages
		 * charged back, and must not free it while we look at it.
		 */
		if (!locked) {
			pthread_mutex_lock(&c->lock);
			locked = true;
		}
		if (gm__dref_kill_end(&e->ref)) {
			k->e[n++] = e;
			continue;
		}
		/* Pinned after all (a hit in the instant it was chosen). */
		if (e->evicted && !e->counted) {
			charge(c, e->dom, e->npages);
			e->counted = true;
		}
	}
	if (locked)
		pthread_mutex_unlock(&c->lock);
	gm__gcache_release(c, k->e, n, true);
	k->n = 0;
}

/* ---- budget and eviction (lock held) ---- */

/*
 * The entry of @d to evict, or NULL: the least recently used unpinned one,
 * of at most @max_pages pages, among the first LRU_SAMPLE of its LRU list.
 * Those looked at that were used since they were listed, or are pinned, go
 * to the tail.
 */
static struct gm__gentry *pick_victim(struct gm__gdom *d, uint32_t max_pages)
{
	struct gm__gentry *seen[LRU_SAMPLE], *best = NULL;
	bool pinned[LRU_SAMPLE];
	uint64_t best_stamp = UINT64_MAX;
	unsigned n = 0;

	for (struct gm__gentry *e = d->lru.next; e != &d->lru && n < LRU_SAMPLE; e = e->next) {
		if (e->list == GM__GL_CURSOR)
			continue;
		seen[n] = e;
		/* a hint: a pin taken right now is found by the kill */
		pinned[n] = gm__dref_peek(&e->ref) != 0;
		uint64_t s = atomic_load_explicit(&e->stamp, memory_order_relaxed);
		if (!pinned[n] && e->npages <= max_pages && s < best_stamp) {
			best = e;
			best_stamp = s;
		}
		n++;
	}
	for (unsigned i = 0; i < n; i++) {
		struct gm__gentry *e = seen[i];
		uint64_t s = atomic_load_explicit(&e->stamp, memory_order_relaxed);
		if (e != best && (pinned[i] || s > e->listed))
			lru_to_tail(e);
	}
	return best;
}

/* Evict @e into @k: dead, unlinked, its pages off its domain's share now.
 * Lock held, room in @k reserved. */
static void evict(gm_grant_cache *c, struct gm__gentry *e, struct kills *k)
{
	if (!kill_entry(c, e, k))
		return;
	e->evicted = true;
	if (e->counted) {
		charge(c, e->dom, -(int64_t)e->npages);
		e->counted = false;
	}
	GM__GCACHE_STAT(c, evictions, 1);
}

/*
 * A victim whose eviction helps a map for @d through the budget: from the
 * domains furthest above their minimum, @d included, never taking another
 * below its minimum.  Lock held.
 */
static struct gm__gentry *global_victim(gm_grant_cache *c, struct gm__gdom *d)
{
	bool looked_at_d = false;

	for (unsigned i = 0; i < c->ndoms && i < HEAP_LOOK; i++) {
		struct gm__gdom *o = c->heap[i];
		struct gm__gentry *e = NULL;
		if (o == d) {
			looked_at_d = true;
			e = pick_victim(d, UINT32_MAX);
		} else if (excess_of(o) > 0) {
			e = pick_victim(o, (uint32_t)excess_of(o));
		}
		if (e)
			return e;
	}
	return looked_at_d ? NULL : pick_victim(d, UINT32_MAX);
}

/*
 * Make room for @need more pages of @d, evicting into @k (the caller
 * finishes the kills after unlocking).  Returns 0, -ENOMEM, -ENOSPC with
 * *room = the pages that would fit (0: pinned entries hold the room), or
 * -EMSGSIZE with *room = the most @d may ever hold at once, when @need is
 * more than that.
 */
static int make_room(gm_grant_cache *c, struct gm__gdom *d, uint32_t need, struct kills *k,
		     uint32_t *room)
{
	if (need > cap_of(c, d)) {
		/* could never fit: evicting would not help, nor would waiting
		 * for pins to go (with no share at all, others leaving would) */
		if (room)
			*room = cap_of(c, d);
		return cap_of(c, d) ? -EMSGSIZE : -ENOSPC;
	}
	for (;;) {
		struct gm__gentry *e;
		if (need <= room_of(c, d))
			return 0;
		if (!kills_reserve(k, 1))
			return -ENOMEM;
		if (d->used + (uint64_t)need > ceiling_of(c, d))
			e = pick_victim(d, UINT32_MAX); /* over its ceiling: its own */
		else
			e = global_victim(c, d);
		if (!e)
			break;
		evict(c, e, k);
	}
	if (room)
		*room = room_of(c, d);
	return -ENOSPC;
}

/* ---- idle sweeps (lock held) ---- */

/*
 * Evict what has not been used since @idle_clock, at most @budget entries
 * looked at; returns how many are left to look at (0: done).  An entry
 * listed after @idle_clock ends a domain's walk: every entry behind it was
 * listed later still.
 */
static unsigned sweep_some(gm_grant_cache *c, uint64_t idle_clock, struct kills *k,
			   unsigned budget, int *count)
{
	for (struct gm__gdom *d = c->doms.next; d != &c->doms && budget; d = d->next) {
		while (budget) {
			struct gm__gentry *e = d->lru.next;
			while (e != &d->lru && e->list == GM__GL_CURSOR)
				e = e->next;
			if (e == &d->lru || e->listed >= idle_clock)
				break;
			budget--;
			if (atomic_load_explicit(&e->stamp, memory_order_relaxed) >= idle_clock ||
			    gm__dref_peek(&e->ref)) {
				lru_to_tail(e); /* used since, or in use: not idle */
				continue;
			}
			if (!kills_reserve(k, 1))
				return 0;
			evict(c, e, k);
			(*count)++;
		}
	}
	return budget ? 0 : 1;
}

/* Start a sweep: record it; the LRU clock of the newest sweep at least
 * idle_ms old (0: none yet, nothing is idle).  Lock held. */
static uint64_t sweep_start(gm_grant_cache *c)
{
	uint64_t now = now_ns(), limit = (uint64_t)c->idle_ms * 1000000u;
	uint64_t idle_clock = 0;

	for (unsigned i = 0; i < GM__GCACHE_SWEEPS; i++) {
		if (c->sweeps[i].ns && now - c->sweeps[i].ns >= limit) {
			idle_clock = c->sweeps[i].clock;
			break;
		}
	}
	memmove(&c->sweeps[1], &c->sweeps[0], (GM__GCACHE_SWEEPS - 1) * sizeof(c->sweeps[0]));
	c->sweeps[0].ns = now;
	c->sweeps[0].clock = gm__lru_tick(); /* later uses stamp after it */
	return idle_clock;
}

static bool sweep_due(gm_grant_cache *c)
{
	return c->idle_ms &&
	       (!c->sweeps[0].ns || now_ns() - c->sweeps[0].ns >= (uint64_t)c->idle_ms * 250000u);
}

/* ---- the miss path ---- */

static int cmp_ref(const void *a, const void *b)
{
	gm_gref x = *(const gm_gref *)a, y = *(const gm_gref *)b;

	return x < y ? -1 : x > y;
}

/* An in-flight map that will cover all of @refs with @prot: O(n log m)
 * per map in flight.  Lock held. */
static struct gm__ginflight *inflight_covering(gm_grant_cache *c, struct gm__gdom *d,
					       const gm_gref *refs, uint32_t n, int prot)
{
	for (struct gm__ginflight *f = c->inflight; f; f = f->next) {
		if (f->dom != d || !f->sorted || (prot & ~f->prot))
			continue;
		uint32_t i;
		for (i = 0; i < n && bsearch(&refs[i], f->sorted, f->n, sizeof(gm_gref), cmp_ref);
		     i++)
			;
		if (i == n)
			return f;
	}
	return NULL;
}

/* Publish @e in the table, retiring entries it overlaps into @k.  Lock held. */
static int publish(gm_grant_cache *c, struct gm__gentry *e, struct kills *k)
{
	for (uint32_t i = 0; i < e->npages; i++)
		if (!slot_make(c, e->dom, e->refs[i]))
			return -ENOMEM;
	/* At most one superseded entry per page: nothing can fail below. */
	if (!kills_reserve(k, e->npages))
		return -ENOMEM;
	if (va_make(c, e) < 0)
		return -ENOMEM;
	if (gm__fault("alloc") || !tsearch(e, &c->tree, va_cmp))
		return -ENOMEM;
	va_set(c, e, e);
	for (uint32_t i = 0; i < e->npages; i++) {
		struct gm__gslot *s = gm__gcache_slot(e->dom, e->refs[i]);
		/* relaxed: we hold the lock, the only writer */
		struct gm__gentry *old = atomic_load_explicit(&s->e, memory_order_relaxed);
		if (old && old != e)
			/* A newer mapping supersedes it (e.g. read-write over
			 * read-only): it goes when its users are done. */
			kill_entry(c, old, k);
		/* release: after the NULL that retired the slot's last entry */
		atomic_store_explicit(&s->idx, i, memory_order_release);
		atomic_store_explicit(&s->e, e, memory_order_release);
	}
	e->linked = true;
	if (e->persistent) {
		lru_to_tail(e);
	} else {
		list_insert_after(e->dom->live.prev, e);
		e->list = GM__GL_LIVE;
	}
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
	GM__GCACHE_STAT(d, map_calls, 1);
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
	e->domid = d->domid;
	e->va = va;
	e->npages = n;
	memcpy(e->refs, refs, n * sizeof(e->refs[0]));
	unmap_entry(c, e);
	return 0;
}

struct gm__gentry *gm__gcache_map(gm_grant_cache *c, struct gm__gdom *d, const gm_gref *refs,
				  uint32_t n, int prot, bool persistent, bool may_wait, int *err,
				  uint32_t *room)
{
	struct kills k = {0};
	int dummy = 0;
	gm_gref stack_sorted[64];
	gm_gref *sorted = n <= 64 ? stack_sorted : gm__malloc(n * sizeof(*sorted));
	struct gm__ginflight me = {.dom = d, .sorted = sorted, .n = n, .prot = prot};

	if (room)
		*room = 0;
	if (n > GM__GCACHE_MAX_MAP_PAGES) {
		*err = -EMSGSIZE;
		goto out_free;
	}
	/* Others may wait for this map only if they can tell what it covers
	 * (without the sorted copy, it is merely not merged). */
	if (sorted) {
		memcpy(sorted, refs, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_ref);
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
		goto out_free;
	}
	if (sweep_due(c)) {
		uint64_t idle_clock = sweep_start(c);
		if (idle_clock)
			sweep_some(c, idle_clock, &k, GM__GCACHE_BATCH, &dummy);
	}
	*err = make_room(c, d, n, &k, room);
	if (!*err) {
		charge(c, d, n); /* reserved */
		d->inflight++;
		me.next = c->inflight;
		c->inflight = &me;
	}
	pthread_mutex_unlock(&c->lock);
	if (k.n)
		finish_kills(c, &k);
	else
		gm__gcache_release(c, NULL, 0, true); /* earlier refusals: retried */
	if (*err)
		goto out_free;

	struct gm__gentry *failed = NULL;
	struct gm__gentry *e = gm__calloc(1, sizeof(*e) + n * sizeof(e->refs[0]));
	void *va = e ? do_map(c, d, refs, n, prot, err) : NULL;
	if (!e)
		*err = -ENOMEM;

	pthread_mutex_lock(&c->lock);
	if (va) {
		e->dom = d;
		e->domid = d->domid;
		e->va = va;
		e->npages = n;
		e->prot = prot & GM_PROT_WRITE ? GM_PROT_RW : GM_PROT_READ;
		e->persistent = persistent;
		e->counted = true;
		memcpy(e->refs, refs, n * sizeof(refs[0]));
		atomic_init(&e->pins, 1);
		gm__dref_init(&e->ref, 1);
		atomic_init(&e->stamp, gm__lru_tick());
		*err = publish(c, e, &k);
		if (!*err) {
			c->entries++;
			d->entries++;
		} else {
			/* Out of memory for the table: hand it back unmapped. */
			charge(c, d, -(int64_t)n);
			e->counted = false;
			e->dom = NULL;
			failed = e;
			e = NULL;
		}
	} else {
		charge(c, d, -(int64_t)n);
		free(e);
		e = NULL;
	}
	d->inflight--;
	for (struct gm__ginflight **pp = &c->inflight; *pp; pp = &(*pp)->next) {
		if (*pp == &me) {
			*pp = me.next;
			break;
		}
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (failed)
		unmap_entry(c, failed);
	finish_kills(c, &k);
	free(k.e);
	if (sorted != stack_sorted)
		free(sorted);
	return e;
out_free:
	free(k.e);
	if (sorted != stack_sorted)
		free(sorted);
	return NULL;
}

void gm__gcache_budget(gm_grant_cache *c, uint32_t *used, uint32_t *max)
{
	pthread_mutex_lock(&c->lock);
	*used = c->used;
	*max = c->max_pages;
	pthread_mutex_unlock(&c->lock);
}

/* ---- invalidation ---- */

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
		left = (!one_dom || z->domid == domid) && overlaps_refs(z, first, count);
	pthread_mutex_unlock(&c->lock);
	return left;
}

/* The domain @domid, or NULL.  Lock held. */
static struct gm__gdom *dom_find(gm_grant_cache *c, gm_domid domid)
{
	for (struct gm__gdom *d = c->doms.next; d != &c->doms; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

/*
 * Kill @d's entries touching the refs range, a batch per hold of the lock,
 * by walking its lists.  Returns the count or -ENOMEM.  Lock not held.
 */
static int invalidate_lists(gm_grant_cache *c, struct gm__gdom *d, gm_gref first, uint64_t count)
{
	struct gm__gentry cur[2] = {{.list = GM__GL_CURSOR}, {.list = GM__GL_CURSOR}};
	struct kills k = {0};
	int n = 0, ret = 0;

	pthread_mutex_lock(&c->lock);
	list_insert_after(&d->lru, &cur[0]);
	list_insert_after(&d->live, &cur[1]);
	for (unsigned l = 0; l < 2 && !ret; l++) {
		struct gm__gentry *head = l ? &d->live : &d->lru;
		bool more = true;
		while (more) {
			for (unsigned b = 0; b < GM__GCACHE_BATCH; b++) {
				struct gm__gentry *e = cursor_next(head, &cur[l]);
				if (!e) {
					more = false;
					break;
				}
				if (!overlaps_refs(e, first, count))
					continue;
				if (!kills_reserve(&k, 1)) {
					/* this one stays mapped; the caller may retry */
					ret = -ENOMEM;
					more = false;
					break;
				}
				n += kill_entry(c, e, &k);
			}
			pthread_mutex_unlock(&c->lock);
			finish_kills(c, &k);
			pthread_mutex_lock(&c->lock);
		}
	}
	list_del(&cur[0]);
	list_del(&cur[1]);
	pthread_mutex_unlock(&c->lock);
	free(k.e);
	return ret ? ret : n;
}

/* The same for a short range, through the table: O(count), not O(entries). */
static int invalidate_table(gm_grant_cache *c, struct gm__gdom *d, gm_gref first, uint32_t count)
{
	struct kills k = {0};
	int n = 0, ret = 0;

	for (uint32_t done = 0; done < count && !ret;) {
		pthread_mutex_lock(&c->lock);
		for (unsigned b = 0; b < 8 * GM__GCACHE_BATCH && done < count; b++, done++) {
			struct gm__gslot *s = gm__gcache_slot(d, first + done);
			struct gm__gentry *e =
				s ? atomic_load_explicit(&s->e, memory_order_relaxed) : NULL;
			if (!e)
				continue;
			if (!kills_reserve(&k, 1)) {
				ret = -ENOMEM;
				break;
			}
			n += kill_entry(c, e, &k);
		}
		pthread_mutex_unlock(&c->lock);
		finish_kills(c, &k);
	}
	free(k.e);
	return ret ? ret : n;
}

/*
 * Free @d's table levels if nothing of it is mapped or being mapped (the
 * caller holds @held of its inflight counts): a frontend that went away
 * leaves no memory behind even while its region stays.  Lock not held.
 */
static void table_trim(gm_grant_cache *c, struct gm__gdom *d, unsigned held)
{
	_Atomic(struct gm__gl2 *) *l1 = gm__calloc(1u << GM__GCACHE_L1_BITS, sizeof(*l1));
	bool any = false;

	if (!l1)
		return;
	pthread_mutex_lock(&c->lock);
	if (!d->entries && d->inflight == held) {
		for (unsigned i = 0; i < (1u << GM__GCACHE_L1_BITS); i++) {
			struct gm__gl2 *l2 = atomic_load_explicit(&d->l1[i], memory_order_relaxed);
			if (!l2)
				continue;
			atomic_init(&l1[i], l2);
			atomic_store_explicit(&d->l1[i], NULL, memory_order_release);
			any = true;
		}
		c->table_bytes -= d->table_bytes - sizeof(*d);
		d->table_bytes = sizeof(*d);
	}
	pthread_mutex_unlock(&c->lock);
	if (any)
		wait_readers(c); /* lookups in progress may still walk the levels */
	table_free(l1);
	free(l1);
}

/*
 * One step of a walk over the cache's domains that drops the lock on the
 * way: from @d (held by its inflight count) to the next domain, held in
 * turn, or NULL at the end (at once with @last).  @d is let go, and freed
 * if nothing holds it any more.  Lock held (dropped around a free).
 */
static struct gm__gdom *dom_walk_next(gm_grant_cache *c, struct gm__gdom *d, bool last)
{
	struct gm__gdom *next = last || d->next == &c->doms ? NULL : d->next;

	if (next)
		next->inflight++;
	d->inflight--;
	struct gm__gdom *gone = dom_if_unused(c, d);
	if (gone) {
		pthread_mutex_unlock(&c->lock);
		dom_free(gone);
		pthread_mutex_lock(&c->lock);
	}
	return next;
}

/* Invalidate entries of @domid (all domains unless @one_dom) touching the
 * refs range (overlaps_refs). */
static int invalidate(gm_grant_cache *c, gm_domid domid, bool one_dom, gm_gref first,
		      uint64_t count)
{
	int n = 0, ret = 0;

	pthread_mutex_lock(&c->lock);
	struct gm__gdom *d = one_dom ? dom_find(c, domid) : c->doms.next;
	if (d && d != &c->doms)
		d->inflight++; /* a domain stays while it is worked on */
	while (d && d != &c->doms) {
		pthread_mutex_unlock(&c->lock);
		int r = one_dom && count <= TABLE_WALK_MAX && (uint64_t)first + count <= ALL_REFS
				? invalidate_table(c, d, first, (uint32_t)count)
				: invalidate_lists(c, d, first, count);
		if (r >= 0 && one_dom && count == ALL_REFS)
			table_trim(c, d, 1);
		pthread_mutex_lock(&c->lock);
		if (r < 0)
			ret = r;
		else
			n += r;
		d = dom_walk_next(c, d, one_dom);
	}
	pthread_mutex_unlock(&c->lock);
	if (!n) /* nothing released (which retries them): earlier refusals */
		gm__gcache_release(c, NULL, 0, true);
	GM__GCACHE_STAT(c, invalidations, (unsigned)n);
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

void gm__gcache_dom_put(gm_grant_cache *c, struct gm__gdom *d, struct gm__gshare *sh)
{
	pthread_mutex_lock(&c->lock);
	for (struct gm__gshare **pp = &d->shares; *pp; pp = &(*pp)->next) {
		if (*pp == sh) {
			*pp = sh->next;
			break;
		}
	}
	d->regions--;
	share_recompute(c, d);
	/* Its entries (if any) stay until invalidated or evicted: the domain
	 * goes with the last of them. */
	struct gm__gdom *gone = dom_if_unused(c, d);
	pthread_mutex_unlock(&c->lock);
	dom_free(gone);
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
	struct gm_grant_cache_config cf;
	if (cfg) {
		int r = gm__abi_in(&cf, sizeof(cf), cfg,
				   GM__ABI_V1(struct gm_grant_cache_config, copy_threshold));
		if (r)
			return r;
		cfg = &cf;
	}
	gm_grant_cache *c = gm__zalloc_aligned(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->g = g;
	c->doms.next = c->doms.prev = &c->doms;
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

static __thread gm_grant_cache *freeing; /* the cache tdestroy works for */

/* Unmap an entry of the cache being freed, saying if it was still in use. */
static void free_entry(void *p)
{
	struct gm__gentry *e = p;
	unsigned pins = e->persistent ? (unsigned)gm__dref_peek(&e->ref)
				      : atomic_load(&e->pins) & ~GM__GCACHE_DEAD;

	if (pins)
		gm__warn("freeing the grant cache with %u pin(s) on %u page(s) of domain %u", pins,
			 e->npages, e->domid);
	/* Its per-thread cells go with it (nobody else uses it now): an object
	 * allocated at the same address later must not inherit their counts. */
	if (e->persistent)
		gm__dref_fold(&e->ref);
	unmap_entry(freeing, e);
}

GM_API void gm_grant_cache_free(gm_grant_cache *c)
{
	if (!c)
		return;
	/* Every mapped entry is in the address index, linked or dying. */
	freeing = c;
	tdestroy(c->tree, free_entry);
	freeing = NULL;
	while (c->doms.next != &c->doms) {
		struct gm__gdom *d = c->doms.next;
		d->prev->next = d->next;
		d->next->prev = d->prev;
		table_free(d->l1);
		free(d);
	}
	va_free(c);
	retry_zombies(c);
	while (c->zombies) { /* still refused: give up, loudly */
		struct gm__gentry *z = c->zombies;
		c->zombies = z->next;
		gm__err("%u grant page(s) of domain %u stay mapped: unmap keeps failing",
			z->npages, z->domid);
		free(z);
	}
	free(c->heap);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->sync_lock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

GM_API int gm_grant_cache_set_max_pages(gm_grant_cache *c, uint32_t max_pages)
{
	struct kills k = {0};

	if (!c || !max_pages)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	c->max_pages = max_pages;
	/* Evict down to it, a batch at a time, largest excess first (best
	 * effort: pinned entries stay). */
	for (bool more = true; more;) {
		for (unsigned b = 0; b < GM__GCACHE_BATCH; b++) {
			struct gm__gentry *e = NULL;
			if (c->used <= c->max_pages || !kills_reserve(&k, 1)) {
				more = false;
				break;
			}
			for (unsigned i = 0; i < c->ndoms && i < HEAP_LOOK && !e; i++)
				e = pick_victim(c->heap[i], UINT32_MAX);
			if (!e) {
				more = false;
				break;
			}
			evict(c, e, &k);
		}
		pthread_mutex_unlock(&c->lock);
		finish_kills(c, &k);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	free(k.e);
	int ret = gm_gnttab_set_max_grants(c->g, max_pages);
	if (ret)
		gm__dbg("set_max_grants(%u): %s", max_pages, gm_strerror(ret));
	return 0;
}

GM_API int gm_grant_cache_evict_idle(gm_grant_cache *c)
{
	struct kills k = {0};
	int n = 0;

	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	uint64_t idle_clock = sweep_start(c);
	while (idle_clock && sweep_some(c, idle_clock, &k, GM__GCACHE_BATCH, &n)) {
		pthread_mutex_unlock(&c->lock);
		finish_kills(c, &k);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	finish_kills(c, &k);
	free(k.e);
	return n;
}

/* Count the entries of @head's list and the pinned ones, a batch per hold
 * of the lock.  Lock held on entry and return. */
static void count_pinned(gm_grant_cache *c, struct gm__gentry *head, uint32_t *all,
			 uint32_t *pinned)
{
	struct gm__gentry cur = {.list = GM__GL_CURSOR};

	list_insert_after(head, &cur);
	for (bool more = true; more;) {
		for (unsigned b = 0; b < GM__GCACHE_BATCH; b++) {
			struct gm__gentry *e = cursor_next(head, &cur);
			if (!e) {
				more = false;
				break;
			}
			(*all)++;
			*pinned += e->persistent ? gm__dref_peek(&e->ref) != 0
						 : (atomic_load(&e->pins) & ~GM__GCACHE_DEAD) != 0;
		}
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_lock(&c->lock);
	}
	list_del(&cur);
}

GM_API void gm_grant_cache_domain_stats(gm_grant_cache *c, gm_domid domid,
					 struct gm_grant_stats *out)
{
	struct gm_grant_stats s = {0};

	if (!c || !out)
		return;
	pthread_mutex_lock(&c->lock);
	for (struct gm__gdom *d = c->doms.next; d != &c->doms; d = d->next)
		if (d->domid == domid) {
			s.map_calls = atomic_load_explicit(&d->map_calls, memory_order_relaxed);
			break;
		}
	pthread_mutex_unlock(&c->lock);
	gm__abi_out(out, &s, sizeof(s), GM__ABI_V1(struct gm_grant_stats, table_bytes));
}

GM_API void gm_grant_cache_stats(gm_grant_cache *c, struct gm_grant_stats *out)
{
	struct gm_grant_stats s, *st = &s;

	if (!c || !out)
		return;
	memset(st, 0, sizeof(*st));
	st->hits = gm__slot_ctr_sum(c->hits);
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
	uint32_t listed = 0, pinned = 0;
	pthread_mutex_lock(&c->lock);
	struct gm__gdom *d = c->doms.next;
	if (d != &c->doms)
		d->inflight++; /* a domain stays while the lock is dropped */
	while (d && d != &c->doms) {
		count_pinned(c, &d->lru, &listed, &pinned);
		count_pinned(c, &d->live, &listed, &pinned);
		d = dom_walk_next(c, d, false);
	}
	st->entries = c->entries;
	/* Entries on no list are dying ones a pin still holds. */
	st->pinned_entries = pinned + (c->entries > listed ? c->entries - listed : 0);
	st->mapped_pages = c->used;
	st->max_pages = c->max_pages;
	st->domains = c->ndoms;
	st->table_bytes = c->table_bytes;
	pthread_mutex_unlock(&c->lock);
	gm__abi_out(out, st, sizeof(*st), GM__ABI_V1(struct gm_grant_stats, table_bytes));
}
