/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: RAM regions — guest memory that is plain host memory.
 *
 * A RAM region is a region of host memory (gm_region_new_host() in mem.h):
 * it maps directly (gm_map returns a pointer into it, no copy) and
 * is what a device model uses for guest RAM it may access, for test memory,
 * and what the emulated Xen shares between processes (memfd).
 */
#ifndef GRANTMEM_RAM_H
#define GRANTMEM_RAM_H

#include <grantmem/mem.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * gm_ram_region_new - a region over caller memory [host, host + size).
 * @prot: GM_PROT_READ, optionally | GM_PROT_WRITE; accesses the region does
 *        not allow fail -EACCES.
 * The memory stays the caller's: it must outlive the region and is not freed.
 * Returns 0, -EINVAL (NULL host, size 0, no prot), -ENOMEM.
 */
GM_API int gm_ram_region_new(void *host, size_t size, int prot, gm_region **out);

/*
 * gm_ram_region_new_anon - a region over fresh zeroed anonymous memory,
 * unmapped when the region is freed.  Returns 0, -EINVAL, -ENOMEM.
 */
GM_API int gm_ram_region_new_anon(size_t size, gm_region **out);

/*
 * gm_ram_region_new_memfd - a region over [offset, offset + size) of a memfd
 * (or any mmap-able fd), mapped MAP_SHARED, so other processes that map the
 * same fd see the same bytes.  @fd is not kept: the caller may close it.
 * @offset must be page aligned.
 * Returns 0, -EINVAL, -ENOMEM, or the negative errno of mmap.
 */
GM_API int gm_ram_region_new_memfd(int fd, uint64_t offset, size_t size, int prot,
				   gm_region **out);

/*
 * gm_ram_region_host - the host address of offset 0 of a RAM region, or NULL
 * if @r is not one.  The same as gm_region_host() (mem.h), which also
 * answers for other regions of host memory (gm_region_new_host()).  Valid
 * while the region lives.  Thread-safe.
 */
GM_API void *gm_ram_region_host(const gm_region *r);

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_RAM_H */
