/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated world's grant handles (client.h), on the domains' shared
 * grant tables (gnttab.c) with Xen's atomic protocol, without a message to
 * the hub per call:
 *
 *  - gnttab: a map pins each entry (its busy bits), records it in the
 *    handle's maptrack (shm.h) for the hub to undo if this process dies,
 *    and maps the granted frames from the granter's RAM memfd (its
 *    read-only reopening for read-only maps), as gntdev does; an unmap
 *    undoes it in the reverse order.  A grant copy pins both sides for the
 *    copy and copies through a whole mapping of each RAM object.
 *  - gntshr: the world's RAM is one sealed memfd that every gntshr handle
 *    registers with the hub (which hands it to mappers); a share writes the
 *    entries of the world's own table, an end of access is Xen's
 *    compare-and-swap, refused while the busy bits are set.
 */
#include "config.h"

#include "client.h"

#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EMU_DEFAULT_MAX_GRANTS 65536u /* pages mapped at once per gnttab handle */
#define MAP_BATCH_MAX (1u << 26)      /* refs in one map call */

enum { PAGE_FREE, PAGE_USED, PAGE_QUARANTINED };

/* ---- the world's RAM (gntshr) ------------------------------------------------------------ */

/* The sealed memfd behind gm_gntshr_share, made on first use; ram_lock held. */
static int ram_setup(struct emu_world *w)
{
	int fd;

	if (w->ram)
		return 0;
	fd = memfd_create("grantmem-emu-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)w->ram_size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	w->ram_pages = (uint32_t)(w->ram_size / GM_PAGE_SIZE);
	w->ram_state = gm__calloc(w->ram_pages, 1);
	if (!w->ram_state) {
		errno = ENOMEM;
		goto fail;
	}
	w->ram = mmap(NULL, w->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w->ram == MAP_FAILED) {
		w->ram = NULL;
		free(w->ram_state);
		w->ram_state = NULL;
		goto fail;
	}
	w->ram_fd = fd;
	w->ram_free = w->ram_pages;
	return 0;
fail:
	fd = (close(fd), -errno);
	return fd;
}

/* First fit of @count contiguous free pages; ram_lock held. */
static int64_t ram_alloc(struct emu_world *w, uint32_t count)
{
	uint32_t run = 0;

	for (uint32_t i = 0; i < w->ram_pages; i++) {
		run = w->ram_state[i] == PAGE_FREE ? run + 1 : 0;
		if (run == count) {
			uint32_t first = i + 1 - count;

			memset(w->ram_state + first, PAGE_USED, count);
			w->ram_free -= count;
			return first;
		}
	}
	return -ENOMEM;
}

/* Give pages back, zeroed (a hole reads as zeros); ram_lock held. */
static void ram_release(struct emu_world *w, uint32_t first, uint32_t count, bool quarantine)
{
	if (quarantine) {
		/* a backend still maps them: never hand them out again */
		memset(w->ram_state + first, PAGE_QUARANTINED, count);
		return;
	}
	if (fallocate(w->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)first * GM_PAGE_SIZE, (off_t)count * GM_PAGE_SIZE) < 0)
		memset(w->ram + (size_t)first * GM_PAGE_SIZE, 0, (size_t)count * GM_PAGE_SIZE);
	memset(w->ram_state + first, PAGE_FREE, count);
	w->ram_free += count;
}


/* ---- gnttab ---------------------------------------------------------------------------- */

/* One map call's mapping: its pages' refs and maptrack slots. */
struct tmap {
	struct tmap *next; /* hash chain */
	uint8_t *addr;
	uint32_t count;
	bool rw;
	struct emu_dom *dom;
	uint32_t *slots;   /* count, after refs */
	uint32_t refs[];
};

struct emu_tab {
	struct econn c;
	struct emu_world *w;
	struct gm__emu_maptrack *mt; /* shared with the hub */
	size_t mt_size;
	uint32_t mt_cap;
	pthread_mutex_t lock;        /* protects everything below */
	uint64_t mapped;
	uint32_t max;
	uint32_t hwm;                /* slots at or above never used */
	uint32_t *free_slots;        /* released slots, reused first */
	uint32_t nfree, cfree;
	struct tmap **bucket;        /* mappings by address */
	uint32_t nbuckets, nmaps;
};

static uint32_t bucket_of(const struct emu_tab *t, const void *addr)
{
	return (uint32_t)(((uintptr_t)addr >> 12) * 0x9e3779b97f4a7c15ull >> 40) &
	       (t->nbuckets - 1);
}

/* Index @m by its address, growing the table as it fills; lock held. */
static int maps_add(struct emu_tab *t, struct tmap *m)
{
	if (t->nmaps >= 2 * t->nbuckets) {
		uint32_t n = t->nbuckets ? 2 * t->nbuckets : 64, old = t->nbuckets;
		struct tmap **b = gm__calloc(n, sizeof(*b)), **ob = t->bucket;

		if (!b)
			return -ENOMEM;
		t->bucket = b;
		t->nbuckets = n;
		for (uint32_t i = 0; i < old; i++)
			while (ob[i]) {
				struct tmap *x = ob[i];

				ob[i] = x->next;
				x->next = b[bucket_of(t, x->addr)];
				b[bucket_of(t, x->addr)] = x;
			}
		free(ob);
	}
	m->next = t->bucket[bucket_of(t, m->addr)];
	t->bucket[bucket_of(t, m->addr)] = m;
	t->nmaps++;
	return 0;
}

/* Take the mapping at @addr of @count pages out of the index; lock held. */
static struct tmap *maps_take(struct emu_tab *t, const void *addr, uint32_t count)
{
	if (!t->nbuckets)
		return NULL;
	for (struct tmap **pp = &t->bucket[bucket_of(t, addr)]; *pp; pp = &(*pp)->next)
		if ((*pp)->addr == addr && (*pp)->count == count) {
			struct tmap *m = *pp;

			*pp = m->next;
			t->nmaps--;
			return m;
		}
	return NULL;
}

/* @n maptrack slots into @slots; lock held.  0 or -ENOSPC. */
static int slots_get(struct emu_tab *t, uint32_t n, uint32_t *slots)
{
	uint32_t reuse;

	if ((uint64_t)t->nfree + (t->mt_cap - t->hwm) < n)
		return -ENOSPC; /* the hub's bound on what one handle maps */
	reuse = GM__MIN(n, t->nfree);
	t->nfree -= reuse;
	if (reuse)
		memcpy(slots, t->free_slots + t->nfree, reuse * sizeof(*slots));
	for (uint32_t i = reuse; i < n; i++)
		slots[i] = t->hwm++;
	/* the hub reads the records below hwm if we die */
	atomic_store_explicit(&t->mt->hwm, t->hwm, memory_order_release);
	return 0;
}

/* Give @n slots back; lock held.  0 or -ENOMEM (then they stay used). */
static int slots_put(struct emu_tab *t, uint32_t n, const uint32_t *slots)
{
	if (t->nfree + n > t->cfree) {
		uint32_t c = t->nfree + n > 2 * t->cfree ? t->nfree + n : 2 * t->cfree;
		uint32_t *a = realloc(t->free_slots, (size_t)c * sizeof(*a));

		if (!a)
			return -ENOMEM;
		t->free_slots = a;
		t->cfree = c;
	}
	memcpy(t->free_slots + t->nfree, slots, n * sizeof(*slots));
	t->nfree += n;
	return 0;
}

/*
 * While the hub settles entry @key (shm.h), wait: the hub lifts it within
 * a tenth of a second.  0 once lifted; -ETIMEDOUT after a second (a hub
 * that stopped answering).
 */
static int wait_unblocked(struct emu_tab *t, uint64_t key)
{
	for (unsigned i = 0; i < 10000; i++) {
		if (atomic_load(&t->mt->block) != key)
			return 0;
		if (i < 16)
			sched_yield();
		else
			usleep(100);
	}
	return -ETIMEDOUT;
}

/*
 * Pin @ref of @d (a map, or a copy's side) and record it in @slot: the
 * record says "pinning" before the entry moves, so that the hub can settle
 * it if we die in between.  A map's 0 or -EINVAL; a copy's Xen status.
 */
static int pin(struct emu_tab *t, struct emu_dom *d, uint32_t ref, bool rw, uint32_t slot,
	       uint32_t *frame, uint32_t *ram, bool copy)
{
	struct gm__emu_mt_rec *rec = &t->mt->rec[slot];
	uint64_t key = gm__mt_block(d->id, ref);
	int r;

	atomic_store_explicit(&rec->instance, d->instance, memory_order_relaxed);
	for (;;) {
		atomic_store(&rec->w, gm__mt_rec(GM__MT_PINNING, d->id, ref, rw));
		if (atomic_load(&t->mt->block) != key)
			break;
		atomic_store_explicit(&rec->w, 0, memory_order_release);
		if (wait_unblocked(t, key) < 0) {
			gm__warn("emu: the hub kept entry %u of domain %u blocked", ref, d->id);
			return copy ? GM_GNTST_GENERAL_ERROR : -EINVAL;
		}
	}
	r = copy ? gm__gt_copy_pin(&d->shm->gt, ref, t->w->domid, rw, frame, ram)
		 : gm__gt_map(&d->shm->gt, ref, t->w->domid, rw, frame, ram);
	atomic_store_explicit(&rec->w, r == 0 ? gm__mt_rec(GM__MT_HELD, d->id, ref, rw) : 0,
			      memory_order_release);
	return r;
}

/* Undo pin(): marked releasing first, so that the hub never drops it twice
 * (if we die in between, it settles the entry). */
static void unpin(struct emu_tab *t, struct emu_dom *d, uint32_t ref, bool rw, uint32_t slot)
{
	atomic_store_explicit(&t->mt->rec[slot].w, gm__mt_rec(GM__MT_RELEASING, d->id, ref, rw),
			      memory_order_relaxed);
	gm__gt_unmap(&d->shm->gt, ref, rw);
	atomic_store_explicit(&t->mt->rec[slot].w, 0, memory_order_release);
}

int gm__emu_tab_open(void *world, void **out)
{
	struct emu_world *w = world;
	struct emu_tab *t = gm__calloc(1, sizeof(*t));
	int fd = -1, r;
	void *p = MAP_FAILED;

	if (!t)
		return -ENOMEM;
	if (pthread_mutex_init(&t->lock, NULL)) {
		free(t);
		return -ENOMEM;
	}
	r = gm__ec_open(&t->c, w->path, GM__EMU_K_GNTTAB, w->domid, NULL, 0, 0, &fd);
	if (r < 0) {
		pthread_mutex_destroy(&t->lock);
		free(t);
		return r;
	}
	t->mt_cap = t->c.hello.mt_cap;
	t->mt_size = sizeof(struct gm__emu_maptrack) + (size_t)t->mt_cap * sizeof(t->mt->rec[0]);
	if (fd >= 0 && t->mt_cap && t->mt_cap <= GM__EMU_MAPTRACK_MAX)
		p = mmap(NULL, t->mt_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED) {
		gm__ec_close(&t->c);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return -EPROTO;
	}
	t->mt = p;
	t->w = w;
	t->max = EMU_DEFAULT_MAX_GRANTS;
	*out = t;
	return 0;
}

/* Undo the pins of @m's first @n pages. */
static void tmap_unpin(struct emu_tab *t, struct tmap *m, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		unpin(t, m->dom, m->refs[i], m->rw, m->slots[i]);
}

/* Give back what a mapping of @m holds in the handle, and free it. */
static void tmap_free(struct emu_tab *t, struct tmap *m, bool counted)
{
	pthread_mutex_lock(&t->lock);
	if (slots_put(t, m->count, m->slots) < 0)
		gm__warn("emu: out of memory: %u maptrack slots lost", m->count);
	if (counted)
		t->mapped -= m->count;
	pthread_mutex_unlock(&t->lock);
	gm__emu_dom_put(t->w, m->dom);
	free(m);
}

void gm__emu_tab_close(void *h)
{
	struct emu_tab *t = h;

	/* Like gntdev: closing the handle unmaps what is left. */
	for (uint32_t i = 0; i < t->nbuckets; i++)
		while (t->bucket[i]) {
			struct tmap *m = t->bucket[i];

			t->bucket[i] = m->next;
			munmap(m->addr, (size_t)m->count * GM_PAGE_SIZE);
			tmap_unpin(t, m, m->count);
			tmap_free(t, m, true);
		}
	munmap(t->mt, t->mt_size);
	gm__ec_close(&t->c);
	pthread_mutex_destroy(&t->lock);
	free(t->bucket);
	free(t->free_slots);
	free(t);
}

int gm__emu_tab_set_max(void *h, uint32_t count)
{
	struct emu_tab *t = h;

	pthread_mutex_lock(&t->lock);
	t->max = count;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/*
 * Map @m's pages at a new address: one mmap for a single page, else a
 * reservation and one fixed mmap per run of consecutive frames of one RAM
 * object.  @frames and @rams from the pins.  Returns the address or NULL
 * with *err set.
 */
static uint8_t *place(struct emu_tab *t, struct tmap *m, const uint32_t *frames,
		      const uint32_t *rams, int *err)
{
	int prot = m->rw ? PROT_READ | PROT_WRITE : PROT_READ;
	size_t len = (size_t)m->count * GM_PAGE_SIZE;
	uint8_t *va = NULL;
	int r = 0;

	for (uint32_t i = 0; i < m->count;) {
		struct emu_ram *ram;
		uint32_t run = 1;
		void *p;

		r = gm__emu_dom_ram(t->w, m->dom, rams[i], false, &ram);
		if (r < 0) {
			r = r == -ENOENT || r == -ESRCH ? -EINVAL : r; /* revoked */
			break;
		}
		while (i + run < m->count && rams[i + run] == rams[i] &&
		       frames[i + run] == frames[i] + run)
			run++;
		if (frames[i] >= ram->pages || run > ram->pages - frames[i]) {
			r = -EINVAL; /* the granter's entry names no page of its RAM */
			break;
		}
		if (!va && run < m->count) {
			va = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
				  0);
			if (va == MAP_FAILED) {
				va = NULL;
				r = -ENOMEM;
				break;
			}
		}
		p = mmap(va ? va + (size_t)i * GM_PAGE_SIZE : NULL, (size_t)run * GM_PAGE_SIZE, prot,
			 MAP_SHARED | (va ? MAP_FIXED : 0), m->rw ? ram->fd : ram->ro_fd,
			 (off_t)frames[i] * GM_PAGE_SIZE);
		if (p == MAP_FAILED) {
			r = errno == ENOMEM ? -ENOMEM : -EINVAL;
			break;
		}
		if (!va)
			va = p;
		i += run;
	}
	if (r < 0) {
		if (va)
			munmap(va, len);
		*err = r;
		return NULL;
	}
	return va;
}

void *gm__emu_tab_map(void *h, uint32_t count, gm_domid domid, const gm_gref *refs, int prot,
		      int *err)
{
	struct emu_tab *t = h;
	uint32_t scratch[32], *fr = scratch, done = 0;
	uint8_t *va = NULL;
	struct tmap *m;
	int r = 0;

	if (!count || count > MAP_BATCH_MAX || !(prot & GM_PROT_RW) || (prot & ~GM_PROT_RW)) {
		*err = -EINVAL;
		return NULL;
	}
	m = gm__malloc(sizeof(*m) + 2 * (size_t)count * sizeof(uint32_t));
	if (m && count > 16)
		fr = gm__malloc(2 * (size_t)count * sizeof(uint32_t));
	if (!m || !fr) {
		free(m);
		*err = -ENOMEM;
		return NULL;
	}
	m->count = count;
	m->rw = prot & GM_PROT_WRITE;
	m->dom = NULL;
	m->slots = m->refs + count;
	memcpy(m->refs, refs, count * sizeof(uint32_t));
	pthread_mutex_lock(&t->lock);
	if (t->mapped + count > t->max)
		r = -ENOSPC; /* gntdev's per-file budget */
	else if ((r = slots_get(t, count, m->slots)) == 0)
		t->mapped += count;
	pthread_mutex_unlock(&t->lock);
	if (r < 0) {
		free(m);
		goto out;
	}
	r = gm__emu_dom_get(t->w, domid, &m->dom);
	if (r == 0) {
		/* ref by ref, as Xen maps a batch: a refusal undoes what was done */
		for (; done < count; done++)
			if ((r = pin(t, m->dom, m->refs[done], m->rw, m->slots[done], &fr[done],
				     &fr[count + done], false)) < 0)
				break;
		if (r == 0 && (m->addr = place(t, m, fr, fr + count, &r))) {
			pthread_mutex_lock(&t->lock);
			r = maps_add(t, m);
			pthread_mutex_unlock(&t->lock);
			if (r == 0) {
				va = m->addr;
				goto out;
			}
			munmap(m->addr, (size_t)count * GM_PAGE_SIZE);
		}
		tmap_unpin(t, m, done);
	} else if (r == -ESRCH) {
		r = -EINVAL; /* an unknown domain: Xen says GNTST_bad_domain, gntdev EINVAL */
	}
	tmap_free(t, m, true);
out:
	if (fr != scratch)
		free(fr);
	if (r < 0)
		*err = r;
	return va;
}

int gm__emu_tab_unmap(void *h, void *addr, uint32_t count)
{
	struct emu_tab *t = h;
	struct tmap *m;

	pthread_mutex_lock(&t->lock);
	m = maps_take(t, addr, count);
	pthread_mutex_unlock(&t->lock);
	if (!m)
		return -EINVAL;
	/* Our mapping goes first, so the guest never ends access under it. */
	munmap(m->addr, (size_t)count * GM_PAGE_SIZE);
	tmap_unpin(t, m, count);
	tmap_free(t, m, true);
	return 0;
}

/* The domains one copy call has looked up (a reference each). */
struct copy_doms {
	unsigned n;
	struct {
		gm_domid id;
		int st; /* GM_GNTST_OKAY, or why it has no domain */
		struct emu_dom *d;
	} e[8];
};

static int copy_dom(struct emu_tab *t, struct copy_doms *cd, gm_domid id, struct emu_dom **d)
{
	unsigned i;
	int r;

	for (i = 0; i < cd->n; i++)
		if (cd->e[i].id == id) {
			*d = cd->e[i].d;
			return cd->e[i].st;
		}
	if (cd->n == sizeof(cd->e) / sizeof(cd->e[0])) {
		/* many domains in one call: start over */
		for (i = 0; i < cd->n; i++)
			gm__emu_dom_put(t->w, cd->e[i].d);
		cd->n = 0;
	}
	r = gm__emu_dom_get(t->w, id, d);
	if (r < 0)
		*d = NULL;
	cd->e[cd->n].id = id;
	cd->e[cd->n].d = *d;
	cd->e[cd->n].st = r == 0 ? GM_GNTST_OKAY
			  : r == -ESRCH ? GM_GNTST_BAD_DOMAIN
					: GM_GNTST_GENERAL_ERROR;
	return cd->e[cd->n++].st;
}

/*
 * One foreign side of a copy segment: pin (@domid, @ref) for @writing in
 * @slot and point *p at byte @off of its page, or return Xen's status for
 * the same failure (nothing pinned).
 */
static int copy_side(struct emu_tab *t, struct copy_doms *cd, gm_domid domid, uint32_t ref,
		     uint32_t off, bool writing, uint32_t slot, struct emu_dom **d, uint8_t **p)
{
	struct emu_ram *ram;
	uint32_t frame, id;
	int st = copy_dom(t, cd, domid, d);

	if (st != GM_GNTST_OKAY)
		return st;
	st = pin(t, *d, ref, writing, slot, &frame, &id, true);
	if (st != GM_GNTST_OKAY)
		return st;
	if (gm__emu_dom_ram(t->w, *d, id, true, &ram) < 0 || frame >= ram->pages) {
		unpin(t, *d, ref, writing, slot);
		return GM_GNTST_GENERAL_ERROR;
	}
	*p = ram->base + (size_t)frame * GM_PAGE_SIZE + off;
	return GM_GNTST_OKAY;
}

int gm__emu_tab_copy(void *h, uint32_t count, struct gm_copy_seg *segs)
{
	struct emu_tab *t = h;
	struct copy_doms cd = {0};
	uint32_t slot[2];
	int r;

	/* gntdev refuses the whole call if one foreign side crosses its page */
	for (uint32_t i = 0; i < count; i++) {
		const struct gm_copy_seg *s = &segs[i];

		if ((s->flags & ~(GM_COPY_SOURCE_GREF | GM_COPY_DEST_GREF)) ||
		    ((s->flags & GM_COPY_SOURCE_GREF) &&
		     (uint32_t)s->source.foreign.offset + s->len > GM_PAGE_SIZE) ||
		    ((s->flags & GM_COPY_DEST_GREF) &&
		     (uint32_t)s->dest.foreign.offset + s->len > GM_PAGE_SIZE))
			return -EINVAL;
	}
	/* two pins at a time: a segment's source and destination */
	pthread_mutex_lock(&t->lock);
	r = slots_get(t, 2, slot);
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < count; i++) {
		struct gm_copy_seg *s = &segs[i];
		struct emu_dom *sd = NULL, *dd = NULL;
		uint8_t *src = s->source.virt, *dst = s->dest.virt;
		bool src_pin = false, dst_pin = false;
		int st = GM_GNTST_OKAY;

		if (s->flags & GM_COPY_SOURCE_GREF) {
			st = copy_side(t, &cd, s->source.foreign.domid, s->source.foreign.ref,
				       s->source.foreign.offset, false, slot[0], &sd, &src);
			src_pin = st == GM_GNTST_OKAY;
		}
		if (st == GM_GNTST_OKAY && (s->flags & GM_COPY_DEST_GREF)) {
			st = copy_side(t, &cd, s->dest.foreign.domid, s->dest.foreign.ref,
				       s->dest.foreign.offset, true, slot[1], &dd, &dst);
			dst_pin = st == GM_GNTST_OKAY;
		}
		if (st == GM_GNTST_OKAY && s->len)
			memmove(dst, src, s->len);
		if (src_pin)
			unpin(t, sd, s->source.foreign.ref, false, slot[0]);
		if (dst_pin)
			unpin(t, dd, s->dest.foreign.ref, true, slot[1]);
		s->status = (int16_t)st;
	}
	for (unsigned i = 0; i < cd.n; i++)
		gm__emu_dom_put(t->w, cd.e[i].d);
	pthread_mutex_lock(&t->lock);
	if (slots_put(t, 2, slot) < 0)
		gm__warn("emu: out of memory: 2 maptrack slots lost");
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/* ---- gntshr ----------------------------------------------------------------------------- */

struct share {
	struct share *next;
	uint32_t first, count; /* pages of the world's RAM */
	gm_gref *refs;
	uint8_t *ended;        /* per ref: end_access succeeded */
};

struct emu_shr {
	struct econn c;       /* hello.id: the grants' owner; hello.ram: the RAM's id */
	struct emu_world *w;
	struct emu_dom *self; /* the world's own domain: its grant table */
	pthread_mutex_t lock; /* protects shares */
	struct share *shares;
};

int gm__emu_shr_open(void *world, void **out)
{
	struct emu_world *w = world;
	struct emu_shr *s = gm__calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&w->ram_lock);
	r = ram_setup(w);
	pthread_mutex_unlock(&w->ram_lock);
	if (r == 0 && pthread_mutex_init(&s->lock, NULL))
		r = -ENOMEM;
	if (r < 0) {
		free(s);
		return r;
	}
	r = gm__ec_open(&s->c, w->path, GM__EMU_K_GNTSHR, w->domid, &w->ram_fd, 1, w->ram_size,
			NULL);
	if (r == 0 && (r = gm__emu_dom_get(w, w->domid, &s->self)) < 0)
		gm__ec_close(&s->c);
	if (r < 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return r;
	}
	s->w = w;
	*out = s;
	return 0;
}

/* Tear one share down: end what is left, free or quarantine its pages. */
static void share_drop(struct emu_shr *s, struct share *sh)
{
	unsigned kept = 0;

	for (uint32_t i = 0; i < sh->count; i++) {
		int r;

		if (sh->ended[i])
			continue;
		/* revoked now if mapped, freed by the mapper's last unmap */
		r = gm__gt_end(&s->self->shm->gt, &sh->refs[i], 1, s->c.hello.id, true);
		kept += r != 0; /* mapped, or not ours any more: maybe mapped */
	}
	if (kept)
		gm__info("emu: %u granted page(s) still mapped by a backend: kept out of use", kept);
	pthread_mutex_lock(&s->w->ram_lock);
	ram_release(s->w, sh->first, sh->count, kept != 0);
	pthread_mutex_unlock(&s->w->ram_lock);
	free(sh->refs);
	free(sh->ended);
	free(sh);
}

void gm__emu_shr_close(void *h)
{
	struct emu_shr *s = h;

	while (s->shares) {
		struct share *sh = s->shares;

		s->shares = sh->next;
		share_drop(s, sh);
	}
	gm__ec_close(&s->c); /* the hub revokes anything left and drops the RAM */
	gm__emu_dom_put(s->w, s->self);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void *gm__emu_shr_share(void *h, gm_domid domid, uint32_t count, gm_gref *refs, int writable,
			int *err)
{
	struct emu_shr *s = h;
	struct emu_world *w = s->w;
	struct share *sh = gm__calloc(1, sizeof(*sh));
	uint32_t *frames = NULL;
	int64_t first = -ENOMEM;
	int r = -ENOMEM;

	if (!count) {
		free(sh);
		*err = -EINVAL;
		return NULL;
	}
	if (!sh || !(sh->refs = gm__calloc(count, sizeof(gm_gref))) ||
	    !(sh->ended = gm__calloc(count, 1)) || !(frames = gm__malloc(count * sizeof(*frames))))
		goto fail;
	pthread_mutex_lock(&w->ram_lock);
	first = count <= w->ram_pages ? ram_alloc(w, count) : -ENOMEM;
	pthread_mutex_unlock(&w->ram_lock);
	if (first < 0)
		goto fail;
	for (uint32_t i = 0; i < count; i++)
		frames[i] = (uint32_t)first + i;
	r = gm__gt_grant(&s->self->shm->gt, count, frames, s->c.hello.ram, s->c.hello.id,
			 domid == GM_DOMID_SELF ? w->domid : domid, writable != 0, sh->refs);
	if (r < 0)
		goto fail;
	free(frames);
	sh->first = (uint32_t)first;
	sh->count = count;
	memcpy(refs, sh->refs, count * sizeof(gm_gref));
	pthread_mutex_lock(&s->lock);
	sh->next = s->shares;
	s->shares = sh;
	pthread_mutex_unlock(&s->lock);
	return w->ram + (size_t)first * GM_PAGE_SIZE;
fail:
	if (first >= 0) {
		pthread_mutex_lock(&w->ram_lock);
		ram_release(w, (uint32_t)first, count, false);
		pthread_mutex_unlock(&w->ram_lock);
	}
	free(frames);
	if (sh) {
		free(sh->refs);
		free(sh->ended);
		free(sh);
	}
	*err = r;
	return NULL;
}

int gm__emu_shr_end_access(void *h, gm_gref ref)
{
	struct emu_shr *s = h;
	int r = -EINVAL;

	pthread_mutex_lock(&s->lock);
	for (struct share *sh = s->shares; sh; sh = sh->next)
		for (uint32_t i = 0; i < sh->count; i++)
			if (sh->refs[i] == ref && !sh->ended[i]) {
				/* Xen's compare-and-swap: refused while mapped */
				r = gm__gt_end(&s->self->shm->gt, &ref, 1, s->c.hello.id, false);
				if (r == 0)
					sh->ended[i] = 1;
				goto out;
			}
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int gm__emu_shr_unshare(void *h, void *addr, uint32_t count)
{
	struct emu_shr *s = h;
	struct share *sh = NULL;

	pthread_mutex_lock(&s->lock);
	for (struct share **pp = &s->shares; *pp; pp = &(*pp)->next)
		if (s->w->ram + (size_t)(*pp)->first * GM_PAGE_SIZE == addr && (*pp)->count == count) {
			sh = *pp;
			*pp = sh->next;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	if (!sh)
		return -EINVAL;
	share_drop(s, sh);
	return 0;
}
