/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem internals, memory core (lib/mem): the objects behind gm_mem
 * handles and their ops, region internals, read-side sections over a space
 * and the locate step shared by map and bytes.  Never installed.
 */
#ifndef GM_MEM_INTERNAL_H
#define GM_MEM_INTERNAL_H

#include "base/base.h"

#include <grantmem/mem.h>

/* ---- bytes-API handles ----
 *
 * Every gm_mem handle (space, region, view) starts with struct gm_mem: the
 * callers of the core (map.c, bytes.c) reach any of them through its ops
 * table, and a view reaches its target the same way, so no file calls back
 * into one that calls it.  Below the chain of views there is always a space
 * or a region, its "base": what bounds sections, bounce budgets and the
 * search for a mapping's region.
 */

/*
 * A located piece of guest memory: region @r at region offset @off, of which
 * @avail bytes are contiguous in the region (and inside the view's window).
 */
struct gm__loc {
	gm_region *r;
	uint64_t off;
	uint64_t avail;
};

struct gm__mem_ops {
	/*
	 * locate: find the memory at @addr for an access with @prot.  Returns
	 * 0, -EFAULT (no region / outside the view), -EACCES (the view's
	 * permission).  Runs inside gm__enter/exit of the handle.
	 */
	int (*locate)(gm_mem *m, uint64_t addr, int prot, struct gm__loc *loc);
};

struct gm_mem {
	const struct gm__mem_ops *ops;
	/* The space or region under the views (the handle itself for those).
	 * Set at creation, never changes. */
	gm_mem *base;
	/* The read-side sections of @base when it is a space, else NULL. */
	struct gm__epoch *rd;
};

/*
 * Read-side section: between gm__enter() and gm__exit(), regions found by
 * gm__locate() stay valid (gm_space_remove() waits for the section to end).
 */
struct gm__rd {
	struct gm__epoch *e; /* NULL when nothing was entered */
	struct gm__epoch_token t;
};

static inline void gm__enter(gm_mem *m, struct gm__rd *rd)
{
	rd->e = m->rd;
	if (rd->e)
		gm__epoch_enter(rd->e, &rd->t);
}

static inline void gm__exit(struct gm__rd *rd)
{
	if (rd->e)
		gm__epoch_exit(rd->e, &rd->t);
	rd->e = NULL;
}

/* gm__locate - m->ops->locate: see struct gm__mem_ops. */
static inline int gm__locate(gm_mem *m, uint64_t addr, int prot, struct gm__loc *loc)
{
	return m->ops->locate(m, addr, prot, loc);
}

/* ---- regions (region.c) ---- */
struct gm_region {
	struct gm_mem mem; /* must stay first */
	const struct gm_region_ops *ops; /* &opsv */
	const struct gm_region_ops *id;  /* the caller's table: tells region types apart */
	struct gm_region_ops opsv;       /* the caller's, at this library's size */
	void *opaque;
	uint64_t size;
	/* Direct access: non-NULL when the region's bytes live in host memory
	 * at a fixed address (gm_region_new_host); @host_prot says what it
	 * allows.  Such a region's access callbacks are never called. */
	uint8_t *host;
	int host_prot;
	/* Everything above is read on every access, by every thread: @refs,
	 * written by every map and unmap, gets a cache line of its own. */
	char pad[GM__CACHELINE];
	/*
	 * References (low 32 bits) and, above them, the mappings handed out
	 * (gm_map, gm_map_sg, bounce buffers) and not yet unmapped: a removed
	 * region keeps its addresses while any is live.  Each mapping also
	 * holds a reference; one word, so that a map and an unmap each cost
	 * one atomic operation.
	 */
	atomic_uint_least64_t refs;
	char pad_after[GM__CACHELINE - sizeof(atomic_uint_least64_t)];
};

/* A mapping of @r starts (takes a reference) / ends (drops it) (region.c). */
#define GM__REGION_REF 1ull
#define GM__REGION_MAP (1ull << 32)

static inline gm_region *gm__region_map_get(gm_region *r)
{
	atomic_fetch_add_explicit(&r->refs, GM__REGION_MAP | GM__REGION_REF, memory_order_relaxed);
	return r;
}
void gm__region_map_put(gm_region *r);

/* Mappings of @r still out (a hint unless nothing can map @r meanwhile). */
static inline uint32_t gm__region_maps(gm_region *r)
{
	return (uint32_t)(atomic_load_explicit(&r->refs, memory_order_acquire) >> 32);
}

/*
 * What a host pointer reaches (gm__host_locate): region @r at region
 * offset @off, @avail bytes contiguous from there, the region placed at
 * guest address @base of the handle's base (0 on a region handle).
 */
struct gm__hloc {
	gm_region *r;
	uint64_t base;
	uint64_t off;
	size_t avail;
};

/* Does @ptr reach a byte of @r (its host memory, or a live mapping by its
 * from_host callback)?  Fills @h with @base.  0 or -ENOENT (region.c). */
int gm__region_from_host(gm_region *r, const void *ptr, uint64_t base, struct gm__hloc *h);

/* Spaces (space.c) */
/* Bounce budget of the space behind @m: reserve up to @len bytes (returns
 * how many, 0 when exhausted) and give them back. */
size_t gm__bounce_get(gm_mem *m, size_t len);
void gm__bounce_put(gm_mem *m, size_t len);
/* Region lookup for gm_unmap: also finds regions removed since the map. */
gm_region *gm__locate_for_unmap(gm_mem *m, uint64_t addr, uint64_t *off);
/* The region byte host pointer @ptr reaches under @m's base (regions
 * removed since a map included).  Inside enter/exit.  0 or -ENOENT. */
int gm__host_locate(gm_mem *m, const void *ptr, struct gm__hloc *h);

#endif /* GM_MEM_INTERNAL_H */
