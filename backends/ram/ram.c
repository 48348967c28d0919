/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * RAM regions: host memory at a fixed address.  They take the library's
 * fast path (no callback on access); the callbacks below exist for callers
 * that use the region ops directly and for map_sg.
 */
#include "config.h"

#include "mem/mem-internal.h"

#include <grantmem/ram.h>

#include <sys/mman.h>
#include <unistd.h>

struct ram {
	void *base;   /* what to munmap, NULL for caller memory */
	size_t mlen;
};

static void *ram_map(gm_region *r, uint64_t off, size_t *len, int flags, int *err)
{
	(void)len;
	if (flags & GM_PROT_RW & ~r->ram_prot) {
		*err = -EACCES;
		return NULL;
	}
	return r->ram_host + off;
}

static void ram_unmap(gm_region *r, void *p, uint64_t off, size_t len, int flags,
		      size_t access_len)
{
	(void)r, (void)p, (void)off, (void)len, (void)flags, (void)access_len;
}

static void ram_free(gm_region *r)
{
	struct ram *ram = r->opaque;

	if (ram->base)
		munmap(ram->base, ram->mlen);
	free(ram);
}

static const struct gm_region_ops ram_ops = {
	.map = ram_map,
	.unmap = ram_unmap,
	.free = ram_free,
};

static int ram_new(void *host, void *base, size_t mlen, size_t size, int prot, gm_region **out)
{
	struct ram *ram = gm__malloc(sizeof(*ram));
	if (!ram)
		return -ENOMEM;
	ram->base = base;
	ram->mlen = mlen;
	int ret = gm_region_new(size, &ram_ops, ram, out);
	if (ret) {
		free(ram);
		return ret;
	}
	(*out)->ram_host = host;
	(*out)->ram_prot = prot;
	return 0;
}

static bool prot_ok(int prot)
{
	return (prot & GM_PROT_READ) && !(prot & ~GM_PROT_RW);
}

GM_API int gm_ram_region_new(void *host, size_t size, int prot, gm_region **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!host || !size || !prot_ok(prot))
		return -EINVAL;
	return ram_new(host, NULL, 0, size, prot, out);
}

GM_API int gm_ram_region_new_anon(size_t size, gm_region **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!size)
		return -EINVAL;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	int ret = ram_new(p, p, size, size, GM_PROT_RW, out);
	if (ret)
		munmap(p, size);
	return ret;
}

GM_API int gm_ram_region_new_memfd(int fd, uint64_t offset, size_t size, int prot,
				   gm_region **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	long page = sysconf(_SC_PAGESIZE);
	if (fd < 0 || !size || !prot_ok(prot) || (offset & (uint64_t)(page - 1)) ||
	    offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	int mprot = PROT_READ | ((prot & GM_PROT_WRITE) ? PROT_WRITE : 0);
	void *p = mmap(NULL, size, mprot, MAP_SHARED, fd, (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	int ret = ram_new(p, p, size, size, prot, out);
	if (ret)
		munmap(p, size);
	return ret;
}

GM_API void *gm_ram_region_host(const gm_region *r)
{
	return r ? r->ram_host : NULL;
}
