/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Regions: one object [0, size) with the map/unmap/read/write callbacks of
 * its type, or plain host memory the core reaches directly;
 * reference-counted.  A region also counts the mappings handed
 * out of it (gm_map, gm_map_sg, bounce buffers) and not yet released, so a
 * space knows when a removed region no longer owns its addresses.
 */
#include "config.h"

#include "mem-internal.h"

/* On a region handle, addresses are offsets into the region. */
static int region_locate(gm_mem *m, uint64_t addr, int prot, struct gm__loc *loc)
{
	gm_region *r = (gm_region *)m;

	(void)prot;
	if (addr >= r->size)
		return -EFAULT;
	loc->r = r;
	loc->off = addr;
	loc->avail = r->size - addr;
	return 0;
}

static const struct gm__mem_ops region_mem_ops = {.locate = region_locate};

/* A region made of host memory may have no callbacks at all. */
static const struct gm_region_ops no_ops;

static int region_alloc(uint64_t size, const struct gm_region_ops *ops, void *opaque,
			gm_region **out)
{
	gm_region *r = gm__calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int ret = gm__abi_in(&r->opsv, sizeof(r->opsv), ops,
			     GM__ABI_V1(struct gm_region_ops, from_host));
	if (ret < 0) {
		free(r);
		return ret;
	}
	r->mem = (struct gm_mem){.ops = &region_mem_ops, .base = &r->mem};
	r->ops = &r->opsv;
	r->id = ops;
	r->opaque = opaque;
	r->size = size;
	atomic_init(&r->refs, 1);
	*out = r;
	return 0;
}

GM_API int gm_region_new(uint64_t size, const struct gm_region_ops *ops, void *opaque,
			 gm_region **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!size || !ops)
		return -EINVAL;
	int ret = region_alloc(size, ops, opaque, out);
	if (ret < 0)
		return ret;
	/* checked on the copy: fields the caller's version lacks are NULL */
	ops = (*out)->ops;
	if ((!ops->map && !ops->read && !ops->write) || !ops->map != !ops->unmap) {
		free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

GM_API int gm_region_new_host(void *host, uint64_t size, int prot,
			      const struct gm_region_ops *ops, void *opaque, gm_region **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!host || !size || !(prot & GM_PROT_RW) || (prot & ~GM_PROT_RW))
		return -EINVAL;
	/* [host, host + size) must be addressable: no wrap past the top. */
	if (size - 1 > UINTPTR_MAX - (uintptr_t)host)
		return -EINVAL;
	int ret = region_alloc(size, ops ? ops : &no_ops, opaque, out);
	if (ret)
		return ret;
	(*out)->host = host;
	(*out)->host_prot = prot;
	return 0;
}

GM_API gm_region *gm_region_ref(gm_region *r)
{
	if (r)
		atomic_fetch_add_explicit(&r->refs, GM__REGION_REF, memory_order_relaxed);
	return r;
}

/* Drop @what (a reference, or a mapping and its reference); the last
 * reference frees @r. */
static void region_put(gm_region *r, uint64_t what)
{
	if ((uint32_t)atomic_fetch_sub_explicit(&r->refs, what, memory_order_acq_rel) != 1)
		return;
	if (r->ops->free)
		r->ops->free(r);
	free(r);
}

GM_API void gm_region_free(gm_region *r)
{
	if (r)
		region_put(r, GM__REGION_REF);
}

GM_API void *gm_region_opaque(const gm_region *r)
{
	return r ? r->opaque : NULL;
}

GM_API uint64_t gm_region_size(const gm_region *r)
{
	return r ? r->size : 0;
}

GM_API void *gm_region_host(const gm_region *r)
{
	return r ? r->host : NULL;
}

GM_API gm_mem *gm_region_mem(gm_region *r)
{
	return r ? &r->mem : NULL;
}

void gm__region_map_put(gm_region *r)
{
	region_put(r, GM__REGION_MAP | GM__REGION_REF);
}

int gm__region_from_host(gm_region *r, const void *ptr, uint64_t base, struct gm__hloc *h)
{
	uint64_t off;
	size_t avail;

	if (r->host) {
		uintptr_t p = (uintptr_t)ptr, lo = (uintptr_t)r->host;
		if (p < lo || p - lo >= r->size)
			return -ENOENT;
		off = p - lo;
		avail = r->size - off > SIZE_MAX ? SIZE_MAX : (size_t)(r->size - off);
	} else if (!r->ops->from_host || r->ops->from_host(r, ptr, &off, &avail) ||
		   off >= r->size || !avail) {
		return -ENOENT;
	}
	*h = (struct gm__hloc){.r = r, .base = base, .off = off, .avail = avail};
	return 0;
}
