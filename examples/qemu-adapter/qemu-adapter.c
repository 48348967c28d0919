// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * qemu-adapter - guest grants behind QEMU-style MemoryRegion map/unmap
 * callbacks, with no table of the adapter's own.
 *
 *   qemu-adapter        (starts an emulated Xen, prints OK, exits 0)
 *
 * What it shows: the two callbacks a MemoryRegion of grant memory needs
 * (map, unmap) and the host-pointer lookup behind memory_region_from_host,
 * each a single grantmem call:
 *   map    -> gm_map(..., GM_MAP_WHOLE): the whole length or NULL, because
 *             address_space_map takes the length it asked for as the one
 *             it got;
 *   unmap  -> gm_unmap_host(): QEMU hands back only the pointer (and an
 *             offset it derived itself), never the address it mapped;
 *   from_host -> gm_host_to_guest(): the region offset of any host byte
 *             of a mapping.
 * QEMU's types are stubbed below with only what the callbacks see, and a
 * small driver plays address_space_map/unmap and address_space_cache_*
 * the way QEMU calls them, against a guest of grantmem's emulated Xen.
 */
#include <grantmem/grantmem.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- stubs of QEMU's types: only what the callbacks see ---- */
typedef uint64_t hwaddr;
typedef uint64_t ram_addr_t;
typedef struct { unsigned unspecified : 1; } MemTxAttrs;
typedef struct MemoryRegion MemoryRegion;
typedef struct MemoryRegionOps {
	void *(*map)(MemoryRegion **mr, hwaddr addr, hwaddr *plen, bool is_write,
		     MemTxAttrs attrs);
	void (*unmap)(MemoryRegion *mr, void *buffer, ram_addr_t addr, hwaddr len, bool is_write,
		      hwaddr access_len);
} MemoryRegionOps;
struct MemoryRegion {
	const MemoryRegionOps *ops;
	void *opaque; /* here: the grant region's gm_mem */
	hwaddr base, size;
};

/* ---- the adapter: everything a device model writes ---- */
static int prot(bool is_write)
{
	return is_write ? GM_PROT_RW : GM_PROT_READ;
}

static void *grant_map(MemoryRegion **mr, hwaddr addr, hwaddr *plen, bool is_write,
		       MemTxAttrs attrs)
{
	size_t len = *plen;
	int err;

	(void)attrs;
	/* NULL (a bad ref, more than one map call can hold): QEMU bounces. */
	return gm_map((*mr)->opaque, addr, &len, prot(is_write) | GM_MAP_WHOLE, &err);
}

static void grant_unmap(MemoryRegion *mr, void *buffer, ram_addr_t addr, hwaddr len,
			bool is_write, hwaddr access_len)
{
	(void)addr, (void)len; /* the pointer alone says which mapping */
	gm_unmap_host(mr->opaque, buffer, prot(is_write), access_len);
}

/* memory_region_from_host's part for this region: is @ptr ours, where? */
static bool grant_from_host(MemoryRegion *mr, const void *ptr, ram_addr_t *offset)
{
	uint64_t off;

	if (gm_host_to_guest(mr->opaque, ptr, &off) < 0)
		return false;
	*offset = off;
	return true;
}

static const MemoryRegionOps grant_ops = {.map = grant_map, .unmap = grant_unmap};

/* ---- a driver that calls them as QEMU's memory core does ---- */
static MemoryRegion *as_mr; /* the address space: one region */

static void *address_space_map(hwaddr addr, hwaddr *plen, bool is_write)
{
	MemoryRegion *mr = as_mr;
	hwaddr asked = *plen;

	if (addr < mr->base || addr - mr->base >= mr->size)
		return NULL;
	void *p = mr->ops->map(&mr, addr - mr->base, plen, is_write, (MemTxAttrs){0});
	*plen = asked; /* as the patched address_space_map does */
	return p;
}

static MemoryRegion *memory_region_from_host(void *ptr, ram_addr_t *offset)
{
	return grant_from_host(as_mr, ptr, offset) ? as_mr : NULL;
}

static int address_space_unmap(void *buffer, hwaddr len, bool is_write, hwaddr access_len)
{
	ram_addr_t offset;
	MemoryRegion *mr = memory_region_from_host(buffer, &offset);

	if (!mr)
		return -1; /* QEMU would abort here */
	mr->ops->unmap(mr, buffer, offset, len, is_write, access_len);
	return 0;
}

typedef struct { void *ptr; hwaddr len; bool is_write; } MemoryRegionCache;

static int address_space_cache_init(MemoryRegionCache *c, hwaddr addr, hwaddr len, bool is_write)
{
	c->len = len;
	c->is_write = is_write;
	c->ptr = address_space_map(addr, &c->len, is_write);
	return c->ptr ? 0 : -1;
}

static uint32_t address_space_ldl_le_cached(MemoryRegionCache *c, hwaddr at)
{
	const unsigned char *b = (const unsigned char *)c->ptr + at;

	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static void address_space_cache_destroy(MemoryRegionCache *c)
{
	address_space_unmap(c->ptr, c->len, c->is_write, c->is_write ? c->len : 0);
}

/* ---- the scenario ---- */
#define GUEST 5
#define NPAGES 4
#define PAGE GM_PAGE_SIZE
/* The region offset of byte @off of grant @gref. */
#define GA(gref, off) (GM_GRANT_ADDR(gref, off) - GM_GRANT_BASE)
#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "qemu-adapter: line %d: %s\n", __LINE__, #c);      \
			return 1;                                                          \
		}                                                                          \
	} while (0)

static int play(unsigned char *guest, const gm_gref *ref, gm_grant_cache *cache)
{
	hwaddr b = as_mr->base, len;
	ram_addr_t off;
	unsigned char *p;

	/* Refs 1..2 mapped, then 2..3 asked: one cache entry cannot serve it
	 * whole, so a new one is made and the 8 KiB asked for are all there. */
	len = 2 * PAGE;
	p = address_space_map(b + GA(ref[1], 0), &len, false);
	CHECK(p && p[PAGE] == guest[2 * PAGE]);
	CHECK(address_space_unmap(p + 100, len, false, 0) == 0); /* any pointer into it */
	len = 2 * PAGE;
	p = address_space_map(b + GA(ref[2], 0), &len, false);
	CHECK(p && len == 2 * PAGE && p[2 * PAGE - 1] == guest[4 * PAGE - 1]);
	CHECK(memory_region_from_host(p + PAGE + 5, &off) == as_mr);
	CHECK(off == GA(ref[3], 5));
	CHECK(address_space_unmap(p, len, false, 0) == 0);

	/* A DMA write: the guest sees it once unmapped. */
	len = 16;
	p = address_space_map(b + GA(ref[0], 8), &len, true);
	CHECK(p);
	memcpy(p, "written by DMA.", 16);
	CHECK(address_space_unmap(p, len, true, 16) == 0);
	CHECK(memcmp(guest + 8, "written by DMA.", 16) == 0);

	/* A vring's cache: mapped once, read field by field, destroyed. */
	MemoryRegionCache c;
	memcpy(guest + PAGE + 64, "\x01\x00\x00\x00\x2a\x00\x00\x00", 8);
	CHECK(address_space_cache_init(&c, b + GA(ref[1], 64), 64, false) == 0);
	CHECK(address_space_ldl_le_cached(&c, 0) == 1 && address_space_ldl_le_cached(&c, 4) == 42);
	address_space_cache_destroy(&c);

	/* Pointers that are no mapping: the lookup says so, nothing released. */
	CHECK(memory_region_from_host(&len, &off) == NULL);
	CHECK(memory_region_from_host(guest, &off) == NULL); /* the guest's side */
	struct gm_grant_stats st = {.size = sizeof(st)};
	gm_grant_cache_stats(cache, &st);
	CHECK(st.pinned_entries == 0); /* every map was unmapped */
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/gm-qemu-adapter-XXXXXX", sock[64], spec[96];
	gm_xen *gx = NULL, *bx = NULL;
	gm_gntshr *shr = NULL;
	gm_gnttab *gt = NULL;
	gm_grant_cache *cache = NULL;
	gm_region *grants = NULL;
	unsigned char *guest = NULL;
	gm_gref ref[NPAGES];
	pid_t hub = -1;
	int rc = 1;

	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/hub", dir);
	snprintf(spec, sizeof(spec), "%s,domid=%d", sock, GUEST);
	/* The guest grants four pages with a pattern in them ... */
	if (gm_emu_hub_spawn(sock, &hub) < 0 || gm_emu_open(spec, &gx) < 0 ||
	    gm_gntshr_open(gx, &shr) < 0 ||
	    !(guest = gm_gntshr_share(shr, 0, NPAGES, ref, 1, NULL)))
		goto out;
	for (unsigned i = 0; i < NPAGES * PAGE; i++)
		guest[i] = (unsigned char)(i * 7 + i / PAGE);
	/* ... and the device model puts its grant region behind a MemoryRegion. */
	snprintf(spec, sizeof(spec), "%s,domid=0", sock);
	if (gm_emu_open(spec, &bx) < 0 || gm_gnttab_open(bx, &gt) < 0 ||
	    gm_grant_cache_new(gt, NULL, &cache) < 0 ||
	    gm_grant_region_new(cache, GUEST, GM_GRANT_PERSISTENT, &grants) < 0)
		goto out;
	MemoryRegion mr = {.ops = &grant_ops, .opaque = gm_region_mem(grants),
			   .base = 0x100000000ull, .size = GM_GRANT_REGION_SIZE};
	as_mr = &mr;
	rc = play(guest, ref, cache);
out:
	gm_region_free(grants);
	gm_grant_cache_free(cache);
	gm_gnttab_close(gt);
	gm_xen_close(bx);
	for (unsigned i = 0; guest && i < NPAGES; i++)
		gm_gntshr_end_access(shr, ref[i]);
	if (guest)
		gm_gntshr_unshare(shr, guest, NPAGES);
	gm_gntshr_close(shr);
	gm_xen_close(gx);
	if (hub > 0 && gm_emu_hub_stop(hub) < 0)
		rc = 1;
	rmdir(dir);
	puts(rc ? "FAILED" : "OK");
	return rc;
}
