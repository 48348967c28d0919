/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated Xen's grant table of one domain, shared by every process of
 * the world (see gnttab.h).  Kept free of I/O and of the hub's and the
 * handles' structures so that it can be fuzzed in-process against a model
 * of Xen's rules.
 *
 * Memory ordering: a granter writes frame, ram and owner, then publishes
 * the flags with a release; mappers, copiers and enders read the word with
 * an acquire (their compare-and-swap) before they read those fields.  A
 * mapping's accesses to the page happen before its unmap's release, which
 * the granter's end (an acquire) sees before it reuses the page.
 */
#include "config.h"

#include "gnttab.h"

#include <grantmem/xen.h>

#include <errno.h>
#include <string.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
	       "the shared grant table needs lock-free 32- and 64-bit atomics");

#define BUSY (GM__GTF_READING | GM__GTF_WRITING)

static inline uint16_t w_flags(uint64_t w)
{
	return (uint16_t)w;
}

static inline uint16_t w_dom(uint64_t w)
{
	return (uint16_t)(w >> 16);
}

static inline uint32_t w_rd(uint64_t w)
{
	return (uint32_t)(w >> 32) & 0xffffu;
}

static inline uint32_t w_wr(uint64_t w)
{
	return (uint32_t)(w >> 48);
}

/* A mapped or unmapped entry's word: the busy bits follow the counts. */
static inline uint64_t w_make(uint16_t flags, uint16_t dom, uint32_t rd, uint32_t wr)
{
	flags &= (uint16_t)~BUSY;
	if (rd || wr)
		flags |= GM__GTF_READING;
	if (wr)
		flags |= GM__GTF_WRITING;
	return flags | (uint64_t)dom << 16 | (uint64_t)rd << 32 | (uint64_t)wr << 48;
}

/* Permitted, and not being filled in. */
static inline bool w_live(uint64_t w)
{
	return (w_flags(w) & (GM__GTF_PERMIT_ACCESS | GM__GTF_RESERVED)) == GM__GTF_PERMIT_ACCESS;
}

static inline uint32_t load32(const _Atomic uint32_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

static inline uint32_t table_size(struct gm__gt *t)
{
	uint32_t s = atomic_load_explicit(&t->size, memory_order_acquire);

	return s < GM__GT_MAX_ENTRIES ? s : GM__GT_MAX_ENTRIES;
}

void gm__gt_init(struct gm__gt *t)
{
	atomic_store(&t->size, 0);
	atomic_store(&t->used, 0);
	atomic_store(&t->low, 0);
	t->pad = 0;
}

/* Ref @ref was freed: the lowest free ref may be lower now. */
static void lower_low(struct gm__gt *t, uint32_t ref)
{
	uint32_t cur = atomic_load_explicit(&t->low, memory_order_relaxed);

	while (ref < cur &&
	       !atomic_compare_exchange_weak_explicit(&t->low, &cur, ref, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* The entry at @ref, whose word was @w, is free now (the caller freed it). */
static void freed(struct gm__gt *t, uint32_t ref)
{
	atomic_fetch_sub_explicit(&t->used, 1, memory_order_relaxed);
	lower_low(t, ref);
}

/* Grow the table to hold @need entries, a grant frame at a time. */
static void grow(struct gm__gt *t, uint32_t need)
{
	uint32_t want = (need + GM__GT_FRAME_ENTRIES - 1) / GM__GT_FRAME_ENTRIES *
			GM__GT_FRAME_ENTRIES;
	uint32_t cur = atomic_load_explicit(&t->size, memory_order_relaxed);

	while (cur < want &&
	       !atomic_compare_exchange_weak_explicit(&t->size, &cur, want, memory_order_release,
						      memory_order_relaxed))
		;
}

/* Claim up to @count free refs in [@from, @to) for @owner, lowest first. */
static uint32_t claim(struct gm__gt *t, uint32_t from, uint32_t to, uint32_t count,
		      uint32_t owner, uint32_t *refs)
{
	uint64_t mine = GM__GTF_RESERVED | (uint64_t)owner << 32;
	uint32_t got = 0;

	for (uint32_t ref = from; got < count && ref < to; ref++) {
		uint64_t w = 0;

		if (atomic_load_explicit(&t->e[ref].w, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong_explicit(&t->e[ref].w, &w, mine,
							    memory_order_acquire,
							    memory_order_relaxed)) {
			atomic_fetch_add_explicit(&t->used, 1, memory_order_relaxed);
			refs[got++] = ref;
		}
	}
	return got;
}

/* Give back claimed refs that were never published. */
static void unclaim(struct gm__gt *t, const uint32_t *refs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		atomic_store_explicit(&t->e[refs[i]].w, 0, memory_order_release);
		freed(t, refs[i]);
	}
}

int gm__gt_grant(struct gm__gt *t, uint32_t count, const uint32_t *frames, uint32_t ram,
		 uint32_t owner, uint16_t grantee, bool writable, uint32_t *refs)
{
	uint32_t used, low, start, size, got;
	uint16_t flags = (uint16_t)(GM__GTF_PERMIT_ACCESS | (writable ? 0 : GM__GTF_READONLY));

	if (!count || !owner)
		return -EINVAL;
	/* refs below GM__GT_FIRST_REF are never handed out; 64-bit sum: a huge
	 * count must not wrap into a small table */
	used = atomic_load_explicit(&t->used, memory_order_relaxed);
	if ((uint64_t)GM__GT_FIRST_REF + used + count > GM__GT_MAX_ENTRIES)
		return -ENOSPC;
	/* at most @used refs are taken: the lowest @count free ones are below */
	grow(t, GM__GT_FIRST_REF + used + count);
	size = table_size(t);
	/* every ref below the hint is in use: the lowest free ones are above */
	low = atomic_load_explicit(&t->low, memory_order_relaxed);
	start = low > GM__GT_FIRST_REF && low < size ? low : GM__GT_FIRST_REF;
	got = claim(t, start, size, count, owner, refs);
	if (got < count && start > GM__GT_FIRST_REF) {
		/* the hint was stale (others freed refs meanwhile): from the start */
		unclaim(t, refs, got);
		got = claim(t, GM__GT_FIRST_REF, size, count, owner, refs);
	}
	if (got < count) {
		unclaim(t, refs, got);
		return -ENOSPC;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct gm__gt_ent *e = &t->e[refs[i]];
		uint64_t w = GM__GTF_RESERVED | (uint64_t)owner << 32;

		atomic_store_explicit(&e->frame, frames[i], memory_order_relaxed);
		atomic_store_explicit(&e->ram, ram, memory_order_relaxed);
		atomic_store_explicit(&e->owner, owner, memory_order_relaxed);
		/* publish; fails only if the owner was revoked meanwhile */
		atomic_compare_exchange_strong_explicit(&e->w, &w, w_make(flags, grantee, 0, 0),
							memory_order_release, memory_order_relaxed);
	}
	/* the refs up to the last one taken are all in use now */
	atomic_compare_exchange_strong_explicit(&t->low, &low, refs[count - 1] + 1,
						memory_order_relaxed, memory_order_relaxed);
	return 0;
}

/* Pin @ref for @who (a mapping or a copy): 0, or -EINVAL for any refusal. */
static int pin(struct gm__gt *t, uint32_t ref, uint16_t who, bool rw, uint32_t *frame,
	       uint32_t *ram)
{
	struct gm__gt_ent *e = &t->e[ref];
	uint64_t w = atomic_load_explicit(&e->w, memory_order_acquire), nw;

	do {
		uint32_t rd = w_rd(w), wr = w_wr(w);

		if (!w_live(w) || w_dom(w) != who || (rw && (w_flags(w) & GM__GTF_READONLY)) ||
		    (rw ? wr : rd) >= GM__GT_MAP_COUNT_MAX)
			return -EINVAL;
		nw = rw ? w_make(w_flags(w), who, rd, wr + 1) : w_make(w_flags(w), who, rd + 1, wr);
	} while (!atomic_compare_exchange_weak_explicit(&e->w, &w, nw, memory_order_acq_rel,
							memory_order_acquire));
	/* pinned: the granter cannot end it, the fields stay put */
	*frame = load32(&e->frame);
	*ram = load32(&e->ram);
	return 0;
}

int gm__gt_map(struct gm__gt *t, uint32_t ref, uint16_t mapper, bool rw, uint32_t *frame,
	       uint32_t *ram)
{
	if (ref >= table_size(t))
		return -EINVAL;
	return pin(t, ref, mapper, rw, frame, ram);
}

int gm__gt_unmap(struct gm__gt *t, uint32_t ref, bool rw)
{
	struct gm__gt_ent *e;
	uint64_t w, nw;

	if (ref >= GM__GT_MAX_ENTRIES)
		return -EINVAL;
	e = &t->e[ref];
	w = atomic_load_explicit(&e->w, memory_order_relaxed);
	do {
		uint32_t rd = w_rd(w), wr = w_wr(w);
		uint16_t fl = w_flags(w);

		if ((fl & GM__GTF_RESERVED) || (rw ? !wr : !rd))
			return -EINVAL;
		if (rw)
			wr--;
		else
			rd--;
		/* ended while mapped: it goes with its last mapping */
		nw = !(fl & GM__GTF_PERMIT_ACCESS) && !rd && !wr ? 0 : w_make(fl, w_dom(w), rd, wr);
	} while (!atomic_compare_exchange_weak_explicit(&e->w, &w, nw, memory_order_acq_rel,
							memory_order_relaxed));
	if (!nw)
		freed(t, ref);
	return 0;
}

/*
 * End @owner's grant @ref, whose word is *w (updated on failure): revoke
 * it if mapped and @defer, free it if not mapped.  1 if deferred, 0 if
 * freed, -EBUSY (mapped, no @defer), -EINVAL (not @owner's permitted grant
 * any more: a duplicate, or ended meanwhile).
 */
static int end_one(struct gm__gt *t, uint32_t ref, uint32_t owner, bool defer)
{
	struct gm__gt_ent *e = &t->e[ref];
	uint64_t w = atomic_load_explicit(&e->w, memory_order_acquire), nw;

	do {
		if (!w_live(w) || load32(&e->owner) != owner)
			return -EINVAL;
		if (w_rd(w) || w_wr(w)) {
			if (!defer)
				return -EBUSY; /* Xen: busy bits set, the entry stays */
			/* revoked now, freed by the last unmap (gntalloc defers too) */
			nw = w & ~(uint64_t)GM__GTF_PERMIT_ACCESS;
		} else {
			nw = 0;
		}
	} while (!atomic_compare_exchange_weak_explicit(&e->w, &w, nw, memory_order_acq_rel,
							memory_order_acquire));
	if (nw)
		return 1;
	freed(t, ref);
	return 0;
}

int gm__gt_end(struct gm__gt *t, const void *refs, uint32_t n, uint32_t owner, bool defer)
{
	const unsigned char *p = refs;
	int deferred = 0;
	uint32_t ref, size = table_size(t);

	if (!n || !owner)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t w;

		memcpy(&ref, p + i * sizeof(ref), sizeof(ref));
		if (ref >= size)
			return -EINVAL;
		w = atomic_load_explicit(&t->e[ref].w, memory_order_acquire);
		if (!w_live(w) || load32(&t->e[ref].owner) != owner)
			return -EINVAL;
		if (!defer && (w_rd(w) || w_wr(w)))
			return -EBUSY;
	}
	for (uint32_t i = 0; i < n; i++) {
		int r;

		memcpy(&ref, p + i * sizeof(ref), sizeof(ref));
		r = end_one(t, ref, owner, defer);
		if (r == -EBUSY)
			return r; /* mapped since the check: only under a concurrent mapper */
		if (r > 0)
			deferred++;
		/* -EINVAL: a duplicate in the list, ended already */
	}
	return deferred;
}

void gm__gt_revoke_owner(struct gm__gt *t, uint32_t owner)
{
	uint32_t size = table_size(t);

	if (!owner)
		return;
	for (uint32_t ref = 0; ref < size; ref++) {
		uint64_t w = atomic_load_explicit(&t->e[ref].w, memory_order_acquire);

		if ((w_flags(w) & GM__GTF_RESERVED) && (uint32_t)(w >> 32) == owner) {
			/* claimed by a granter that is gone before it published */
			if (atomic_compare_exchange_strong_explicit(&t->e[ref].w, &w, 0,
								    memory_order_acq_rel,
								    memory_order_relaxed))
				freed(t, ref);
		} else if (w_live(w) && load32(&t->e[ref].owner) == owner) {
			end_one(t, ref, owner, true);
		}
	}
}

int gm__gt_copy_pin(struct gm__gt *t, uint32_t ref, uint16_t caller, bool writing,
		    uint32_t *frame, uint32_t *ram)
{
	if (ref >= table_size(t))
		return GM_GNTST_BAD_GNTREF;
	return pin(t, ref, caller, writing, frame, ram) ? GM_GNTST_GENERAL_ERROR : GM_GNTST_OKAY;
}

void gm__gt_counts(struct gm__gt *t, unsigned *used, unsigned *mapped, unsigned *maps)
{
	uint32_t size = table_size(t);
	unsigned u = 0, a = 0, b = 0;

	for (uint32_t i = 0; i < size; i++) {
		uint64_t w = atomic_load_explicit(&t->e[i].w, memory_order_relaxed);
		uint32_t m = (w_flags(w) & GM__GTF_RESERVED) ? 0 : w_rd(w) + w_wr(w);

		u += w != 0;
		a += m != 0;
		b += m;
	}
	*used = u;
	*mapped = a;
	*maps = b;
}

void gm__gt_peek(struct gm__gt *t, uint32_t ref, struct gm__gt_view *v)
{
	uint64_t w;

	memset(v, 0, sizeof(*v));
	if (ref >= GM__GT_MAX_ENTRIES)
		return;
	w = atomic_load_explicit(&t->e[ref].w, memory_order_acquire);
	v->flags = w_flags(w);
	v->grantee = w_dom(w);
	if (!(v->flags & GM__GTF_RESERVED)) {
		v->rd_maps = w_rd(w);
		v->wr_maps = w_wr(w);
	}
	v->frame = load32(&t->e[ref].frame);
	v->ram = load32(&t->e[ref].ram);
	v->owner = load32(&t->e[ref].owner);
}
