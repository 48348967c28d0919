/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Address spaces.
 *
 * A space publishes its layout as an immutable, sorted table behind an
 * atomic pointer.  Readers never lock: inside a read-side section (epoch.c)
 * they load the table and binary-search it: by guest address, or, for a
 * host pointer (gm_unmap_host, gm_host_to_guest), by host address among the
 * regions of host memory, then through the from_host callbacks of the
 * others that have one.  A writer (add/remove, serialised by a mutex)
 * publishes a new table and waits for the readers that could have seen the
 * old one; only then is the old table freed.  A removed region with
 * mappings outstanding moves to a retired list, so gm_unmap still finds it.
 */
#include "config.h"

#include "mem-internal.h"

#include <sched.h>
#include <string.h>

struct gm__entry {
	uint64_t base;
	uint64_t last; /* inclusive: base + size - 1 never wraps */
	gm_region *r;
};

/* A region of host memory by its host range, for host-pointer lookups. */
struct gm__hent {
	uintptr_t lo, last; /* inclusive */
	uintptr_t maxlast;  /* the largest @last up to this one (host ranges may overlap) */
	unsigned i;         /* its entry */
};

/*
 * The layout, immutable once published.  Two indexes for host pointers
 * follow the entries in the same allocation: @host, the regions of host
 * memory sorted by host address, and @from, the entries of regions with a
 * from_host callback (grant regions).
 */
struct gm__table {
	unsigned n, nhost, nfrom;
	struct gm__hent *host;
	unsigned *from;
	struct gm__entry e[];
};

/* A removed region that mappings still reference, so gm_unmap finds it. */
struct gm__retired {
	struct gm__retired *next;
	struct gm__entry e;
};

struct gm_space {
	struct gm_mem mem; /* must stay first */
	_Atomic(struct gm__table *) table; /* readers: inside enter/exit */
	pthread_mutex_t wlock; /* serialises writers (held across grace periods) */
	/* Readers may take retired_lock inside a read-side section, so it is
	 * never held while waiting for readers (lock order: wlock, retired_lock). */
	pthread_mutex_t retired_lock; /* protects retired */
	struct gm__retired *retired;
	atomic_uint nretired; /* lets gm_unmap skip the retired list */
	atomic_size_t bounce_used;
	atomic_size_t bounce_limit;
	struct gm__epoch rd; /* read-side sections over table */
};

/* ---- lookup ---- */

/* Binary search: the last entry with base <= addr. */
static const struct gm__entry *table_find(const struct gm__table *t, uint64_t addr)
{
	unsigned lo = 0, hi = t->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (t->e[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct gm__entry *e = &t->e[lo - 1];
	return addr <= e->last ? e : NULL;
}

static int space_locate(gm_mem *m, uint64_t addr, int prot, struct gm__loc *loc)
{
	gm_space *s = (gm_space *)m;
	const struct gm__table *t = atomic_load_explicit(&s->table, memory_order_acquire);
	const struct gm__entry *e = table_find(t, addr);

	(void)prot;
	if (!e)
		return -EFAULT;
	loc->r = e->r;
	loc->off = addr - e->base;
	loc->avail = e->last - addr + 1; /* may wrap to 0 for 2^64: see below */
	if (GM__UNLIKELY(loc->avail == 0))
		loc->avail = UINT64_MAX;
	return 0;
}

static const struct gm__mem_ops space_mem_ops = {.locate = space_locate};

/* ---- tables ---- */

/* An unpublished table of @n entries, with room for its host indexes. */
static struct gm__table *table_alloc(unsigned n)
{
	struct gm__table *t = gm__malloc(sizeof(*t) + n * sizeof(t->e[0]) +
					 n * sizeof(struct gm__hent) + n * sizeof(unsigned));
	if (t) {
		t->n = n;
		t->host = (struct gm__hent *)&t->e[n];
		t->from = (unsigned *)&t->host[n];
	}
	return t;
}

static int cmp_hent(const void *a, const void *b)
{
	const struct gm__hent *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Build @t's host indexes from its entries (before it is published). */
static void table_index(struct gm__table *t)
{
	t->nhost = t->nfrom = 0;
	for (unsigned i = 0; i < t->n; i++) {
		const gm_region *r = t->e[i].r;
		if (r->host) {
			uintptr_t lo = (uintptr_t)r->host;
			t->host[t->nhost++] =
				(struct gm__hent){.lo = lo, .last = lo + (uintptr_t)(r->size - 1), .i = i};
		} else if (r->ops->from_host) {
			t->from[t->nfrom++] = i;
		}
	}
	qsort(t->host, t->nhost, sizeof(t->host[0]), cmp_hent);
	for (unsigned i = 0; i < t->nhost; i++)
		t->host[i].maxlast = i && t->host[i - 1].maxlast > t->host[i].last
					     ? t->host[i - 1].maxlast
					     : t->host[i].last;
}

/* The entry whose host memory holds @p, or NULL. */
static const struct gm__entry *table_find_host(const struct gm__table *t, uintptr_t p)
{
	unsigned lo = 0, hi = t->nhost;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (t->host[mid].lo <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Back over earlier ranges only while one of them can still reach @p. */
	while (lo-- > 0 && t->host[lo].maxlast >= p)
		if (p <= t->host[lo].last)
			return &t->e[t->host[lo].i];
	return NULL;
}

/* The space under @m's views, or NULL when a region is. */
static gm_space *base_space(gm_mem *m)
{
	return m->base->ops == &space_mem_ops ? (gm_space *)m->base : NULL;
}

/* ---- spaces ---- */

GM_API int gm_space_new(gm_space **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	gm_space *s = gm__zalloc_aligned(sizeof(*s));
	struct gm__table *t = table_alloc(0);
	if (!s || !t) {
		free(s);
		free(t);
		return -ENOMEM;
	}
	table_index(t);
	s->mem = (struct gm_mem){.ops = &space_mem_ops, .base = &s->mem, .rd = &s->rd};
	atomic_init(&s->table, t);
	atomic_init(&s->bounce_limit, (size_t)1 << 20);
	pthread_mutex_init(&s->wlock, NULL);
	pthread_mutex_init(&s->retired_lock, NULL);
	*out = s;
	return 0;
}

GM_API void gm_space_free(gm_space *s)
{
	if (!s)
		return;
	struct gm__table *t = atomic_load(&s->table);
	for (unsigned i = 0; i < t->n; i++)
		gm_region_free(t->e[i].r);
	free(t);
	while (s->retired) {
		struct gm__retired *z = s->retired;
		s->retired = z->next;
		gm_region_free(z->e.r);
		free(z);
	}
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->retired_lock);
	free(s);
}

GM_API gm_mem *gm_space_mem(gm_space *s)
{
	return s ? &s->mem : NULL;
}

GM_API int gm_space_set_bounce_limit(gm_space *s, size_t bytes)
{
	if (!s || !bytes)
		return -EINVAL;
	atomic_store(&s->bounce_limit, bytes);
	return 0;
}

/* Find the region a mapping at @addr came from, even if it was removed since.
 * Inside enter/exit.  Returns NULL if none. */
gm_region *gm__locate_for_unmap(gm_mem *m, uint64_t addr, uint64_t *off)
{
	struct gm__loc loc;

	/* Views change no address: ask what is under them, past their windows
	 * and permission (which the mapping passed when it was made). */
	if (gm__locate(m->base, addr, GM_PROT_READ, &loc) == 0) {
		*off = loc.off;
		return loc.r;
	}
	gm_space *s = base_space(m);
	if (!s || !atomic_load(&s->nretired))
		return NULL;
	gm_region *r = NULL;
	pthread_mutex_lock(&s->retired_lock);
	for (struct gm__retired *z = s->retired; z; z = z->next) {
		if (addr >= z->e.base && addr <= z->e.last) {
			r = z->e.r;
			*off = addr - z->e.base;
			break;
		}
	}
	pthread_mutex_unlock(&s->retired_lock);
	return r;
}

int gm__host_locate(gm_mem *m, const void *ptr, struct gm__hloc *h)
{
	gm_space *s = base_space(m);

	if (!s)
		return gm__region_from_host((gm_region *)m->base, ptr, 0, h);
	const struct gm__table *t = atomic_load_explicit(&s->table, memory_order_acquire);
	const struct gm__entry *e = table_find_host(t, (uintptr_t)ptr);
	if (e)
		return gm__region_from_host(e->r, ptr, e->base, h);
	for (unsigned i = 0; i < t->nfrom; i++) {
		e = &t->e[t->from[i]];
		if (!gm__region_from_host(e->r, ptr, e->base, h))
			return 0;
	}
	if (!atomic_load(&s->nretired))
		return -ENOENT;
	int ret = -ENOENT;
	pthread_mutex_lock(&s->retired_lock);
	for (struct gm__retired *z = s->retired; z && ret; z = z->next)
		ret = gm__region_from_host(z->e.r, ptr, z->e.base, h);
	pthread_mutex_unlock(&s->retired_lock);
	return ret;
}

/*
 * Drop retired entries no mapping uses any more.  retired_lock held.
 * Counts mappings, not references: the caller's own handle (and other
 * spaces) also hold references, and a region removed and added back while
 * its owner keeps it must not stay busy forever.
 */
static void reap_retired(gm_space *s)
{
	struct gm__retired **pp = &s->retired;

	while (*pp) {
		struct gm__retired *z = *pp;
		if (gm__region_maps(z->e.r) == 0) {
			*pp = z->next;
			gm_region_free(z->e.r);
			free(z);
			atomic_fetch_sub(&s->nretired, 1);
		} else {
			pp = &z->next;
		}
	}
}

static bool overlaps(const struct gm__entry *e, uint64_t base, uint64_t last)
{
	return base <= e->last && e->base <= last;
}

GM_API int gm_space_add(gm_space *s, uint64_t base, gm_region *r)
{
	if (!s || !r)
		return -EINVAL;
	uint64_t last = base + (r->size - 1);
	if (last < base)
		return -EOVERFLOW;

	pthread_mutex_lock(&s->wlock);
	struct gm__table *old = atomic_load(&s->table);
	int ret = 0;
	unsigned pos = 0;
	for (unsigned i = 0; i < old->n; i++) {
		if (old->e[i].r == r || overlaps(&old->e[i], base, last)) {
			ret = -EEXIST;
			goto out;
		}
		if (old->e[i].base < base)
			pos = i + 1;
	}
	/* A removed region with live mappings still owns its addresses. */
	pthread_mutex_lock(&s->retired_lock);
	reap_retired(s);
	for (struct gm__retired *z = s->retired; z && !ret; z = z->next)
		if (overlaps(&z->e, base, last))
			ret = -EBUSY;
	pthread_mutex_unlock(&s->retired_lock);
	if (ret)
		goto out;
	struct gm__table *t = table_alloc(old->n + 1);
	if (!t) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(t->e, old->e, pos * sizeof(t->e[0]));
	t->e[pos] = (struct gm__entry){.base = base, .last = last, .r = gm_region_ref(r)};
	memcpy(&t->e[pos + 1], &old->e[pos], (old->n - pos) * sizeof(t->e[0]));
	table_index(t);
	atomic_store_explicit(&s->table, t, memory_order_release);
	gm__epoch_synchronize(&s->rd);
	free(old);
out:
	pthread_mutex_unlock(&s->wlock);
	return ret;
}

GM_API int gm_space_remove(gm_space *s, gm_region *r)
{
	if (!s || !r)
		return -EINVAL;
	pthread_mutex_lock(&s->wlock);
	struct gm__table *old = atomic_load(&s->table);
	unsigned pos;
	for (pos = 0; pos < old->n && old->e[pos].r != r; pos++)
		;
	if (pos == old->n) {
		pthread_mutex_unlock(&s->wlock);
		return -ENOENT;
	}
	struct gm__retired *z = gm__malloc(sizeof(*z));
	struct gm__table *t = table_alloc(old->n - 1);
	if (!t || !z) {
		free(t);
		free(z);
		pthread_mutex_unlock(&s->wlock);
		return -ENOMEM;
	}
	memcpy(t->e, old->e, pos * sizeof(t->e[0]));
	memcpy(&t->e[pos], &old->e[pos + 1], (old->n - pos - 1) * sizeof(t->e[0]));
	table_index(t);
	/*
	 * Retire @r (with the space's reference) before the new table hides
	 * it: a gm_unmap that no longer finds it in the table must find it
	 * here, with no window in between.  Reaped only after the grace
	 * period, when every mapping a reader of the old table took is counted.
	 */
	z->e = old->e[pos];
	pthread_mutex_lock(&s->retired_lock);
	z->next = s->retired;
	s->retired = z;
	atomic_fetch_add(&s->nretired, 1);
	pthread_mutex_unlock(&s->retired_lock);
	atomic_store_explicit(&s->table, t, memory_order_release);
	gm__epoch_synchronize(&s->rd);
	free(old);
	pthread_mutex_lock(&s->retired_lock);
	reap_retired(s);
	pthread_mutex_unlock(&s->retired_lock);
	pthread_mutex_unlock(&s->wlock);
	return 0;
}

/* ---- bounce budget ---- */

static atomic_size_t region_bounce_used;
#define GM__REGION_BOUNCE_LIMIT ((size_t)1 << 20)

/* Reserve up to @len bounce bytes; returns how many (0: budget exhausted). */
size_t gm__bounce_get(gm_mem *m, size_t len)
{
	gm_space *s = base_space(m);
	atomic_size_t *used = s ? &s->bounce_used : &region_bounce_used;
	size_t limit = s ? atomic_load(&s->bounce_limit) : GM__REGION_BOUNCE_LIMIT;
	size_t cur = atomic_load(used);

	for (;;) {
		if (cur >= limit)
			return 0;
		size_t take = GM__MIN(len, limit - cur);
		if (atomic_compare_exchange_weak(used, &cur, cur + take))
			return take;
	}
}

void gm__bounce_put(gm_mem *m, size_t len)
{
	gm_space *s = base_space(m);
	atomic_fetch_sub(s ? &s->bounce_used : &region_bounce_used, len);
}
