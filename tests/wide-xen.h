/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wide-xen: a custom Xen world (gm_xen_open_ops) whose domains grant every
 * ref writable, for tests that need more grants than a pool of real pages
 * can hold: runs of more than 65,536 consecutive refs, tens of thousands of
 * cache entries.  Header-only; include it in one test.
 *
 * A map call maps fresh anonymous pages (not shared with anyone: there is
 * no guest side, and bytes do not survive an unmap), followed by one
 * inaccessible guard page (unless wide_xen_set_guard turns them off), so
 * that anything that runs past the end of a mapping faults.  Every live
 * batch is remembered (domain, refs, address), so that a test can check
 * that a pointer and a length lie inside the mapping of the refs they
 * claim (wide_xen_covers).  Unmaps must name a batch exactly, as gntdev
 * requires.  No grant copy: reads and writes of
 * unmapped grants map.  Refs of domain WIDE_XEN_BAD_DOM are never granted.
 *
 * Thread-safe (one mutex).  O(log n) per call.
 */
#ifndef GM_TESTS_WIDE_XEN_H
#define GM_TESTS_WIDE_XEN_H

#include <grantmem/grantmem.h>

#include <errno.h>
#include <pthread.h>
#include <search.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define WIDE_XEN_BAD_DOM 999

struct wide_batch {
	unsigned char *va;
	uint32_t n;
	gm_domid dom;
	gm_gref refs[];
};

struct wide_xen {
	pthread_mutex_t lock;
	void *tree; /* tsearch tree of struct wide_batch, by va */
	unsigned long batches, pages, map_calls, unmap_calls;
	bool no_guard; /* wide_xen_set_guard(false) */
	gm_xen *x;
};

/* Batches by address; a probe (n == 0) equals the batch whose pages hold it. */
static int wide_cmp(const void *a, const void *b)
{
	const struct wide_batch *x = a, *y = b;

	if (!x->n && y->n) {
		if (x->va < y->va)
			return -1;
		return x->va >= y->va + (size_t)y->n * GM_PAGE_SIZE;
	}
	if (x->n && !y->n)
		return -wide_cmp(b, a);
	return x->va < y->va ? -1 : x->va > y->va;
}

/* The live batch holding @p, or NULL.  Lock held. */
static struct wide_batch *wide_batch_at(struct wide_xen *w, const void *p)
{
	struct wide_batch probe = {.va = (unsigned char *)p, .n = 0};
	void **node = tfind(&probe, &w->tree, wide_cmp);

	return node ? *(struct wide_batch **)node : NULL;
}

static int wide_gnttab_open(void *world, void **h)
{
	*h = world;
	return 0;
}

static void wide_gnttab_close(void *h)
{
	(void)h;
}

static int wide_set_max(void *h, uint32_t count)
{
	(void)h, (void)count;
	return 0;
}

static void *wide_map(void *h, uint32_t count, gm_domid domid, const gm_gref *refs, int prot,
		      int *err)
{
	struct wide_xen *w = h;
	size_t bytes = (size_t)count * GM_PAGE_SIZE;
	size_t guard = w->no_guard ? 0 : GM_PAGE_SIZE;

	(void)prot;
	if (domid == WIDE_XEN_BAD_DOM) {
		*err = -EINVAL;
		return NULL;
	}
	struct wide_batch *b = malloc(sizeof(*b) + count * sizeof(b->refs[0]));
	unsigned char *va = mmap(NULL, bytes + guard, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!b || va == MAP_FAILED || mprotect(va, bytes, PROT_READ | PROT_WRITE)) {
		if (va != MAP_FAILED)
			munmap(va, bytes + guard);
		free(b);
		*err = -ENOMEM;
		return NULL;
	}
	b->va = va;
	b->n = count;
	b->dom = domid;
	memcpy(b->refs, refs, count * sizeof(refs[0]));
	pthread_mutex_lock(&w->lock);
	tsearch(b, &w->tree, wide_cmp);
	w->batches++;
	w->pages += count;
	w->map_calls++;
	pthread_mutex_unlock(&w->lock);
	return va;
}

static int wide_unmap(void *h, void *addr, uint32_t count)
{
	struct wide_xen *w = h;
	struct wide_batch *b = NULL;

	pthread_mutex_lock(&w->lock);
	struct wide_batch *at = wide_batch_at(w, addr);
	if (at && at->va == addr && at->n == count) {
		b = at;
		tdelete(b, &w->tree, wide_cmp);
		w->batches--;
		w->pages -= count;
		w->unmap_calls++;
	}
	pthread_mutex_unlock(&w->lock);
	if (!b)
		return -EINVAL;
	munmap(b->va, (size_t)b->n * GM_PAGE_SIZE + (w->no_guard ? 0 : GM_PAGE_SIZE));
	free(b);
	return 0;
}

static int wide_self(void *world, gm_domid *d)
{
	(void)world;
	*d = 0;
	return 0;
}

static const struct gm_xen_ops wide_ops = {
	.name = "wide",
	.gnttab_open = wide_gnttab_open,
	.gnttab_close = wide_gnttab_close,
	.gnttab_set_max_grants = wide_set_max,
	.gnttab_map = wide_map,
	.gnttab_unmap = wide_unmap,
	.self_domid = wide_self,
};

static inline struct wide_xen *wide_xen_new(void)
{
	struct wide_xen *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	if (gm_xen_open_ops(&wide_ops, w, &w->x)) {
		free(w);
		return NULL;
	}
	return w;
}

static inline gm_xen *wide_xen_world(struct wide_xen *w)
{
	return w->x;
}

/*
 * Does [p, p + len) lie inside one live mapping of @dom, at byte @off of
 * the page of @ref and on (one page per ref, in the batch's order)?
 */
static inline bool wide_xen_covers(struct wide_xen *w, gm_domid dom, gm_gref ref, uint32_t off,
				   const void *p, size_t len)
{
	bool ok = false;

	pthread_mutex_lock(&w->lock);
	struct wide_batch *b = wide_batch_at(w, p);
	if (b && b->dom == dom) {
		size_t at = (size_t)((const unsigned char *)p - b->va);
		size_t page = at / GM_PAGE_SIZE;
		ok = at % GM_PAGE_SIZE == off && b->refs[page] == ref &&
		     len <= (size_t)b->n * GM_PAGE_SIZE - at;
	}
	pthread_mutex_unlock(&w->lock);
	return ok;
}

/* Without guard pages, many small mappings merge into few kernel VMAs
 * (tens of thousands of entries would pass vm.max_map_count otherwise).
 * Set before the first map. */
static inline void wide_xen_set_guard(struct wide_xen *w, bool on)
{
	w->no_guard = !on;
}

/* Batches and pages mapped now. */
static inline void wide_xen_mapped(struct wide_xen *w, unsigned long *batches,
				   unsigned long *pages)
{
	pthread_mutex_lock(&w->lock);
	*batches = w->batches;
	*pages = w->pages;
	pthread_mutex_unlock(&w->lock);
}

/* Close every handle first. */
static inline void wide_xen_free(struct wide_xen *w)
{
	if (!w)
		return;
	gm_xen_close(w->x);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

#endif /* GM_TESTS_WIDE_XEN_H */
