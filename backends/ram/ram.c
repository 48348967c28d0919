/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * RAM regions: host memory at a fixed address, made with
 * gm_region_new_host() so the core reaches it directly (no callback on
 * access).  Memory we mapped ourselves is unmapped by the free callback;
 * the caller's memory stays the caller's.
 */
#include "config.h"

#include <grantmem/ram.h>

#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

static void ram_unmap_free(gm_region *r)
{
	munmap(gm_region_host(r), (size_t)gm_region_size(r));
}

/* Memory mmap()ed here for the region: the region owns it. */
static const struct gm_region_ops owned_ops = {.free = ram_unmap_free};

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
	return gm_region_new_host(host, size, prot, NULL, NULL, out);
}

/* A region over @p, just mmap()ed with @size bytes: unmapped on failure. */
static int ram_new_owned(void *p, size_t size, int prot, gm_region **out)
{
	int ret = gm_region_new_host(p, size, prot, &owned_ops, NULL, out);

	if (ret)
		munmap(p, size);
	return ret;
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
	return ram_new_owned(p, size, GM_PROT_RW, out);
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
	return ram_new_owned(p, size, prot, out);
}

GM_API void *gm_ram_region_host(const gm_region *r)
{
	return gm_region_host(r);
}
