/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated Xen's grant table of one domain (see gnttab.h).  Kept
 * free of I/O and of the hub's structures so that it can be fuzzed
 * in-process against a model of Xen's rules.
 */
#include "config.h"

#include "gnttab.h"

#include <grantmem/xen.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void gm__gt_init(struct gm__gt *t, const struct gm__gt_ram_ops *ops)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
}

void gm__gt_destroy(struct gm__gt *t)
{
	free(t->e);
	t->e = NULL;
	t->size = t->low = t->hi = 0;
}

static void entry_free(struct gm__gt *t, uint32_t ref)
{
	struct gm__gt_ent *e = &t->e[ref];

	t->ops->put(e->ram);
	memset(e, 0, sizeof(*e));
	t->used--;
	if (ref < t->low)
		t->low = ref;
	/* the highest entry went: lower hi past the free ones below it */
	if (ref + 1 == t->hi)
		while (t->hi && !t->e[t->hi - 1].ram)
			t->hi--;
}

static void entry_update_flags(struct gm__gt_ent *e)
{
	e->flags &= (uint16_t)~(GM__GTF_READING | GM__GTF_WRITING);
	if (e->rd_maps || e->wr_maps)
		e->flags |= GM__GTF_READING;
	if (e->wr_maps)
		e->flags |= GM__GTF_WRITING;
}

/* Grow the table to hold @need entries, a grant frame at a time. */
static int grow(struct gm__gt *t, uint32_t need)
{
	uint32_t size = t->size;
	struct gm__gt_ent *e;

	if (need <= size)
		return 0;
	if (need > GM__GT_MAX_ENTRIES)
		return -ENOSPC;
	while (size < need)
		size += GM__GT_FRAME_ENTRIES;
	/* The hub's own allocation (it is a separate process): not a
	 * fault-injection site of the library. */
	e = realloc(t->e, size * sizeof(*e));
	if (!e)
		return -ENOMEM;
	memset(e + t->size, 0, (size - t->size) * sizeof(*e));
	t->e = e;
	t->size = size;
	return 0;
}

int gm__gt_grant(struct gm__gt *t, uint32_t count, const uint32_t *frames, void *ram,
		 const void *owner, uint16_t grantee, bool writable, uint32_t *refs)
{
	uint32_t got = 0, ref;
	int r;

	if (!count || !ram || !owner)
		return -EINVAL;
	/* refs below GM__GT_FIRST_REF are never handed out; 64-bit sum: a huge
	 * count must not wrap into a small table */
	if ((uint64_t)GM__GT_FIRST_REF + t->used + count > GM__GT_MAX_ENTRIES)
		return -ENOSPC;
	if (t->size < GM__GT_FIRST_REF + t->used + count &&
	    (r = grow(t, GM__GT_FIRST_REF + t->used + count)) < 0)
		return r;
	/* every ref below t->low is in use: the lowest free ones are above */
	for (ref = t->low > GM__GT_FIRST_REF ? t->low : GM__GT_FIRST_REF;
	     got < count && ref < t->size; ref++)
		if (!t->e[ref].ram)
			refs[got++] = ref;
	if (got < count)
		return -ENOSPC;
	for (uint32_t i = 0; i < count; i++) {
		struct gm__gt_ent *e = &t->e[refs[i]];

		e->frame = frames[i];
		e->ram = ram;
		t->ops->get(ram);
		e->owner = owner;
		e->grantee = grantee;
		e->flags = (uint16_t)(GM__GTF_PERMIT_ACCESS | (writable ? 0 : GM__GTF_READONLY));
		e->rd_maps = e->wr_maps = 0;
		t->used++;
	}
	/* the refs up to the last one taken are all in use now */
	t->low = refs[count - 1] + 1;
	if (t->low > t->hi)
		t->hi = t->low;
	return 0;
}

bool gm__gt_mappable(const struct gm__gt *t, uint32_t ref, uint16_t mapper, bool rw)
{
	const struct gm__gt_ent *e;

	if (ref >= t->size)
		return false;
	e = &t->e[ref];
	return e->ram && e->owner && (e->flags & GM__GTF_PERMIT_ACCESS) && e->grantee == mapper &&
	       !(rw && (e->flags & GM__GTF_READONLY)) && e->rd_maps < GM__GT_MAP_COUNT_MAX &&
	       e->wr_maps < GM__GT_MAP_COUNT_MAX;
}

void gm__gt_map(struct gm__gt *t, uint32_t ref, bool rw)
{
	struct gm__gt_ent *e = &t->e[ref];

	if (rw)
		e->wr_maps++;
	else
		e->rd_maps++;
	entry_update_flags(e);
}

void gm__gt_unmap(struct gm__gt *t, uint32_t ref, bool rw)
{
	struct gm__gt_ent *e = &t->e[ref];

	if (rw)
		e->wr_maps--;
	else
		e->rd_maps--;
	entry_update_flags(e);
	if (!e->owner && !e->rd_maps && !e->wr_maps)
		entry_free(t, ref); /* revoked while mapped: now gone */
}

int gm__gt_end(struct gm__gt *t, const void *refs, uint32_t n, const void *owner, bool defer)
{
	const unsigned char *p = refs;
	int deferred = 0;
	uint32_t ref;

	if (!n || !owner)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&ref, p + i * sizeof(ref), sizeof(ref));
		if (ref >= t->size || !t->e[ref].ram || t->e[ref].owner != owner)
			return -EINVAL;
		if (!defer && (t->e[ref].rd_maps || t->e[ref].wr_maps))
			return -EBUSY; /* Xen: busy bits set, the entry stays */
	}
	for (uint32_t i = 0; i < n; i++) {
		struct gm__gt_ent *e;

		memcpy(&ref, p + i * sizeof(ref), sizeof(ref));
		e = &t->e[ref];
		if (!e->owner)
			continue; /* a duplicate in the list */
		if (e->rd_maps || e->wr_maps) {
			/* revoked now, freed by the last unmap (gntalloc defers too) */
			e->owner = NULL;
			e->flags &= (uint16_t)~GM__GTF_PERMIT_ACCESS;
			deferred++;
		} else {
			entry_free(t, ref);
		}
	}
	return deferred;
}

void gm__gt_revoke_owner(struct gm__gt *t, const void *owner)
{
	/* refs at or above hi are free: no owner there */
	for (uint32_t ref = 0; ref < t->hi; ref++) {
		struct gm__gt_ent *e = &t->e[ref];

		if (!owner || e->owner != owner)
			continue;
		if (e->rd_maps || e->wr_maps) {
			e->owner = NULL;
			e->flags &= (uint16_t)~GM__GTF_PERMIT_ACCESS;
		} else {
			entry_free(t, ref);
		}
	}
}

int gm__gt_copy_check(const struct gm__gt *t, uint32_t ref, uint16_t caller, bool writing)
{
	const struct gm__gt_ent *e;

	if (ref >= t->size)
		return GM_GNTST_BAD_GNTREF;
	e = &t->e[ref];
	if (!e->ram || !e->owner || !(e->flags & GM__GTF_PERMIT_ACCESS) || e->grantee != caller)
		return GM_GNTST_GENERAL_ERROR;
	if (writing && (e->flags & GM__GTF_READONLY))
		return GM_GNTST_GENERAL_ERROR;
	return GM_GNTST_OKAY;
}

void gm__gt_counts(const struct gm__gt *t, unsigned *mapped, unsigned *maps)
{
	unsigned a = 0, b = 0;

	for (uint32_t i = 0; i < t->size; i++) {
		uint32_t m = t->e[i].rd_maps + t->e[i].wr_maps;

		a += m != 0;
		b += m;
	}
	*mapped = a;
	*maps = b;
}
