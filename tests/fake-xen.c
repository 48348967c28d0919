/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fake-xen: an in-memory, fault-injectable Xen world for unit tests. */
#include "config.h"

#include "fake-xen.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG GM_PAGE_SIZE

struct fx_grant {
	gm_domid dom;
	gm_gref ref;
	unsigned page;
	bool writable;
	bool live;     /* granted and not revoked */
	unsigned maps; /* mappings now, over every handle */
};

struct fx_batch {
	struct fx_batch *next;
	uint8_t *va;
	uint32_t count;
	size_t grant[]; /* indices into fake_xen.grants */
};

struct fx_gnttab {
	struct fake_xen *f;
	uint32_t max;     /* 0: no cap */
	uint32_t mapped;  /* pages mapped through this handle */
	struct fx_batch *batches;
};

struct fake_xen {
	pthread_mutex_t lock; /* protects everything below but the constants */
	int memfd;            /* constant */
	unsigned npages;      /* constant */
	uint8_t *guest;       /* constant: the guest's view of the pool */
	gm_xen *world;        /* constant */
	gm_domid self;
	struct fx_grant *grants;
	size_t ngrants, cap;
	unsigned *page_used; /* grants declared on each page (gntshr wants 0) */
	struct fake_xen_stats st;
};

/* ---- grants (lock held) -------------------------------------------------- */

static struct fx_grant *find(struct fake_xen *f, gm_domid dom, gm_gref ref)
{
	for (size_t i = 0; i < f->ngrants; i++)
		if (f->grants[i].dom == dom && f->grants[i].ref == ref)
			return &f->grants[i];
	return NULL;
}

static struct fx_grant *find_live(struct fake_xen *f, gm_domid dom, gm_gref ref)
{
	struct fx_grant *g = find(f, dom, ref);

	return g && g->live ? g : NULL;
}

static bool dom_known(struct fake_xen *f, gm_domid dom)
{
	if (dom == f->self)
		return true;
	for (size_t i = 0; i < f->ngrants; i++)
		if (f->grants[i].dom == dom)
			return true;
	return false;
}

static int add_grant(struct fake_xen *f, gm_domid dom, gm_gref ref, unsigned page,
		     bool writable)
{
	struct fx_grant *g = find(f, dom, ref);

	if (g && g->maps)
		return -EBUSY;
	if (!g) {
		if (f->ngrants == f->cap) {
			size_t cap = f->cap ? 2 * f->cap : 64;
			struct fx_grant *n = realloc(f->grants, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			f->grants = n;
			f->cap = cap;
		}
		g = &f->grants[f->ngrants++];
		memset(g, 0, sizeof(*g));
		g->dom = dom;
		g->ref = ref;
	} else if (g->live) {
		f->page_used[g->page]--;
	}
	g->page = page;
	g->writable = writable;
	g->live = true;
	f->page_used[page]++;
	return 0;
}

static int end_grant(struct fake_xen *f, struct fx_grant *g)
{
	if (g->maps)
		return -EBUSY;
	g->live = false;
	f->page_used[g->page]--;
	return 0;
}

/* ---- gnttab ------------------------------------------------------------------ */

static int fx_gnttab_open(void *world, void **h)
{
	struct fx_gnttab *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->f = world;
	*h = t;
	return 0;
}

static void unmap_batch(struct fx_gnttab *t, struct fx_batch *b)
{
	struct fake_xen *f = t->f;

	munmap(b->va, (size_t)b->count * PG);
	for (uint32_t i = 0; i < b->count; i++)
		f->grants[b->grant[i]].maps--;
	t->mapped -= b->count;
	f->st.pages_mapped -= b->count;
	f->st.batches_mapped--;
	free(b);
}

static void fx_gnttab_close(void *h)
{
	struct fx_gnttab *t = h;
	struct fake_xen *f = t->f;

	pthread_mutex_lock(&f->lock);
	while (t->batches) {
		struct fx_batch *b = t->batches;

		t->batches = b->next;
		f->st.leaked_batches++;
		unmap_batch(t, b);
	}
	pthread_mutex_unlock(&f->lock);
	free(t);
}

static int fx_gnttab_set_max_grants(void *h, uint32_t count)
{
	struct fx_gnttab *t = h;

	pthread_mutex_lock(&t->f->lock);
	t->max = count;
	pthread_mutex_unlock(&t->f->lock);
	return 0;
}

static void *fx_gnttab_map(void *h, uint32_t count, gm_domid domid, const gm_gref *refs,
			   int prot, int *err)
{
	struct fx_gnttab *t = h;
	struct fake_xen *f = t->f;
	bool wr = prot & GM_PROT_WRITE;
	int mprot = PROT_READ | (wr ? PROT_WRITE : 0);
	struct fx_batch *b = NULL;
	uint8_t *va = MAP_FAILED;
	int r = 0;

	pthread_mutex_lock(&f->lock);
	f->st.map_calls++;
	if (t->max && (uint64_t)t->mapped + count > t->max) {
		r = -ENOSPC;
		goto out;
	}
	b = malloc(sizeof(*b) + (size_t)count * sizeof(b->grant[0]));
	if (!b) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct fx_grant *g = find_live(f, domid, refs[i]);

		if (!g || (wr && !g->writable)) {
			r = -EINVAL; /* Xen does not say which */
			goto out;
		}
		b->grant[i] = (size_t)(g - f->grants);
	}
	va = mmap(NULL, (size_t)count * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (va == MAP_FAILED) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < count; i++) {
		off_t off = (off_t)f->grants[b->grant[i]].page * PG;

		if (mmap(va + (size_t)i * PG, PG, mprot, MAP_SHARED | MAP_FIXED, f->memfd, off) ==
		    MAP_FAILED) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (uint32_t i = 0; i < count; i++)
		f->grants[b->grant[i]].maps++;
	b->va = va;
	b->count = count;
	b->next = t->batches;
	t->batches = b;
	t->mapped += count;
	f->st.pages_mapped += count;
	f->st.batches_mapped++;
out:
	if (r) {
		f->st.map_fails++;
		if (va != MAP_FAILED)
			munmap(va, (size_t)count * PG);
		free(b);
		va = NULL;
	}
	pthread_mutex_unlock(&f->lock);
	*err = r;
	return va;
}

static int fx_gnttab_unmap(void *h, void *addr, uint32_t count)
{
	struct fx_gnttab *t = h;
	struct fake_xen *f = t->f;
	int r = -EINVAL;

	pthread_mutex_lock(&f->lock);
	f->st.unmap_calls++;
	for (struct fx_batch **p = &t->batches; *p; p = &(*p)->next) {
		struct fx_batch *b = *p;

		if (b->va == addr && b->count == count) {
			*p = b->next;
			unmap_batch(t, b);
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

/* The host address of one side of a copy segment, or a GNTST_* code. */
static int copy_side(struct fake_xen *f, const struct gm_copy_seg *s, bool source, bool write,
		     uint8_t **p)
{
	if (!(s->flags & (source ? GM_COPY_SOURCE_GREF : GM_COPY_DEST_GREF))) {
		*p = source ? s->source.virt : s->dest.virt;
		return GM_GNTST_OKAY;
	}
	gm_domid dom = source ? s->source.foreign.domid : s->dest.foreign.domid;
	gm_gref ref = source ? s->source.foreign.ref : s->dest.foreign.ref;
	uint16_t off = source ? s->source.foreign.offset : s->dest.foreign.offset;
	struct fx_grant *g = find_live(f, dom, ref);

	if (!g)
		return dom_known(f, dom) ? GM_GNTST_BAD_GNTREF : GM_GNTST_BAD_DOMAIN;
	if (write && !g->writable)
		return GM_GNTST_GENERAL_ERROR; /* what Xen says for a read-only dest */
	*p = f->guest + (size_t)g->page * PG + off;
	return GM_GNTST_OKAY;
}

static int fx_gnttab_copy(void *h, uint32_t count, struct gm_copy_seg *segs)
{
	struct fx_gnttab *t = h;
	struct fake_xen *f = t->f;

	for (uint32_t i = 0; i < count; i++) {
		const struct gm_copy_seg *s = &segs[i];

		uint32_t end_src = s->source.foreign.offset + (uint32_t)s->len;
		uint32_t end_dst = s->dest.foreign.offset + (uint32_t)s->len;

		if (((s->flags & GM_COPY_SOURCE_GREF) && end_src > PG) ||
		    ((s->flags & GM_COPY_DEST_GREF) && end_dst > PG))
			return -EINVAL;
	}
	pthread_mutex_lock(&f->lock);
	f->st.copy_calls++;
	f->st.copy_segs += count;
	for (uint32_t i = 0; i < count; i++) {
		struct gm_copy_seg *s = &segs[i];
		uint8_t *src = NULL, *dst = NULL;
		int st = copy_side(f, s, true, false, &src);

		if (st == GM_GNTST_OKAY)
			st = copy_side(f, s, false, true, &dst);
		if (st == GM_GNTST_OKAY && s->len)
			memmove(dst, src, s->len);
		s->status = (int16_t)st;
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* ---- gntshr (the fake's own domain grants pool pages) ------------------------ */

static int fx_gntshr_open(void *world, void **h)
{
	*h = world;
	return 0;
}

static void fx_gntshr_close(void *h)
{
	(void)h;
}

static void *fx_gntshr_share(void *h, gm_domid domid, uint32_t count, gm_gref *refs,
			     int writable, int *err)
{
	struct fake_xen *f = h;
	unsigned first = 0, run = 0;
	gm_gref next = 0x1000;
	void *p = NULL;
	int r = 0;

	(void)domid; /* the fake does not check who maps */
	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < f->npages && run < count; i++) {
		if (f->page_used[i]) {
			run = 0;
			continue;
		}
		if (!run)
			first = i;
		run++;
	}
	if (run < count) {
		r = -ENOSPC;
		goto out;
	}
	for (uint32_t i = 0; i < count; i++) {
		while (find(f, f->self, next))
			next++;
		r = add_grant(f, f->self, next, first + i, writable);
		if (r) {
			while (i--)
				end_grant(f, find(f, f->self, refs[i]));
			goto out;
		}
		refs[i] = next;
	}
	p = f->guest + (size_t)first * PG;
	memset(p, 0, (size_t)count * PG);
out:
	pthread_mutex_unlock(&f->lock);
	*err = r;
	return p;
}

static int fx_gntshr_end_access(void *h, gm_gref ref)
{
	struct fake_xen *f = h;
	struct fx_grant *g;
	int r;

	pthread_mutex_lock(&f->lock);
	g = find_live(f, f->self, ref);
	r = g ? end_grant(f, g) : -EINVAL;
	pthread_mutex_unlock(&f->lock);
	return r;
}

static int fx_gntshr_unshare(void *h, void *addr, uint32_t count)
{
	struct fake_xen *f = h;
	uint8_t *a = addr;
	unsigned first;
	int r = 0;

	if (a < f->guest || ((size_t)(a - f->guest) & (PG - 1)) ||
	    (size_t)(a - f->guest) / PG + count > f->npages)
		return -EINVAL;
	first = (unsigned)((size_t)(a - f->guest) / PG);
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->ngrants; i++) {
		struct fx_grant *g = &f->grants[i];

		if (g->live && g->dom == f->self && g->page >= first && g->page < first + count &&
		    g->maps)
			r = -EBUSY;
	}
	for (size_t i = 0; !r && i < f->ngrants; i++) {
		struct fx_grant *g = &f->grants[i];

		if (g->live && g->dom == f->self && g->page >= first && g->page < first + count)
			end_grant(f, g);
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

static int fx_self_domid(void *world, gm_domid *domid)
{
	struct fake_xen *f = world;

	pthread_mutex_lock(&f->lock);
	*domid = f->self;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static const struct gm_xen_ops fx_ops = {
	.name = "fake",
	.gnttab_open = fx_gnttab_open,
	.gnttab_close = fx_gnttab_close,
	.gnttab_set_max_grants = fx_gnttab_set_max_grants,
	.gnttab_map = fx_gnttab_map,
	.gnttab_unmap = fx_gnttab_unmap,
	.gnttab_copy = fx_gnttab_copy,
	.gntshr_open = fx_gntshr_open,
	.gntshr_close = fx_gntshr_close,
	.gntshr_share = fx_gntshr_share,
	.gntshr_end_access = fx_gntshr_end_access,
	.gntshr_unshare = fx_gntshr_unshare,
	.self_domid = fx_self_domid,
};

/* ---- the test's side ------------------------------------------------------------ */

struct fake_xen *fake_xen_new(unsigned npages)
{
	struct fake_xen *f;
	int e;

	if (!npages) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	f->npages = npages;
	f->guest = MAP_FAILED;
	f->page_used = calloc(npages, sizeof(*f->page_used));
	f->memfd = memfd_create("fake-xen", MFD_CLOEXEC);
	if (!f->page_used || f->memfd < 0 || ftruncate(f->memfd, (off_t)npages * PG) < 0)
		goto fail;
	f->guest = mmap(NULL, (size_t)npages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd,
			0);
	if (f->guest == MAP_FAILED)
		goto fail;
	e = gm_xen_open_ops(&fx_ops, f, &f->world);
	if (e < 0) {
		errno = -e;
		goto fail;
	}
	return f;
fail:
	e = errno;
	fake_xen_free(f);
	errno = e;
	return NULL;
}

void fake_xen_free(struct fake_xen *f)
{
	if (!f)
		return;
	gm_xen_close(f->world);
	if (f->guest != MAP_FAILED)
		munmap(f->guest, (size_t)f->npages * PG);
	if (f->memfd >= 0)
		close(f->memfd);
	free(f->grants);
	free(f->page_used);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

gm_xen *fake_xen_world(struct fake_xen *f)
{
	return f->world;
}

void fake_xen_set_self(struct fake_xen *f, gm_domid self)
{
	pthread_mutex_lock(&f->lock);
	f->self = self;
	pthread_mutex_unlock(&f->lock);
}

void *fake_xen_page(struct fake_xen *f, unsigned page)
{
	return page < f->npages ? f->guest + (size_t)page * PG : NULL;
}

int fake_xen_grant(struct fake_xen *f, gm_domid domid, gm_gref ref, unsigned page,
		   bool writable)
{
	int r;

	if (page >= f->npages)
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	r = add_grant(f, domid, ref, page, writable);
	pthread_mutex_unlock(&f->lock);
	return r;
}

int fake_xen_revoke(struct fake_xen *f, gm_domid domid, gm_gref ref)
{
	struct fx_grant *g;
	int r;

	pthread_mutex_lock(&f->lock);
	g = find_live(f, domid, ref);
	r = g ? end_grant(f, g) : -ENOENT;
	pthread_mutex_unlock(&f->lock);
	return r;
}

unsigned fake_xen_ref_mapped(struct fake_xen *f, gm_domid domid, gm_gref ref)
{
	struct fx_grant *g;
	unsigned n;

	pthread_mutex_lock(&f->lock);
	g = find(f, domid, ref);
	n = g ? g->maps : 0;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fake_xen_stats(struct fake_xen *f, struct fake_xen_stats *st)
{
	pthread_mutex_lock(&f->lock);
	*st = f->st;
	pthread_mutex_unlock(&f->lock);
}
