/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test regions with callbacks, over a plain buffer:
 *   copy_region: read/write callbacks only (cannot be mapped: bounce);
 *   chunk_region: map/unmap only, each mapping at most `chunk` bytes, so
 *                 every split and clamp path runs; counts outstanding maps.
 */
#ifndef GM_TEST_REGIONS_H
#define GM_TEST_REGIONS_H

#include <grantmem/grantmem.h>

#include "helpers.h"

struct test_buf {
	unsigned char *mem;
	size_t size;
	size_t chunk;
	int reads, writes, maps, unmaps, map_sgs;
	long outstanding;
	int fail_map; /* nonzero: map fails with this */
	/* map_sg: iovecs stop this many bytes into their range (0: whole)... */
	size_t sg_short;
	/* ... or claim this many bytes past it */
	size_t sg_long;
};

static int tb_read(gm_region *r, uint64_t off, void *buf, size_t len)
{
	struct test_buf *t = gm_region_opaque(r);
	__atomic_fetch_add(&t->reads, 1, __ATOMIC_RELAXED);
	memcpy(buf, t->mem + off, len);
	return 0;
}

static int tb_write(gm_region *r, uint64_t off, const void *buf, size_t len)
{
	struct test_buf *t = gm_region_opaque(r);
	__atomic_fetch_add(&t->writes, 1, __ATOMIC_RELAXED);
	memcpy(t->mem + off, buf, len);
	return 0;
}

static void *tb_map(gm_region *r, uint64_t off, size_t *len, int flags, int *err)
{
	struct test_buf *t = gm_region_opaque(r);
	(void)flags;
	if (t->fail_map) {
		*err = t->fail_map;
		return NULL;
	}
	if (*len > t->chunk)
		*len = t->chunk;
	__atomic_fetch_add(&t->maps, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&t->outstanding, 1, __ATOMIC_RELAXED);
	return t->mem + off;
}

static void tb_unmap(gm_region *r, void *p, uint64_t off, size_t len, int flags, size_t acc)
{
	struct test_buf *t = gm_region_opaque(r);
	(void)flags, (void)acc, (void)len;
	if (p != t->mem + off)
		GM_TEST_FAIL("unmap of %p at offset %" PRIu64 " does not match", p, off);
	__atomic_fetch_add(&t->unmaps, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&t->outstanding, 1, __ATOMIC_RELAXED);
}

/* map_sg: one call for all ranges (like grant regions). */
static int tb_map_sg(gm_region *r, const struct gm_sg *in, unsigned n, struct iovec *out,
		     int flags)
{
	struct test_buf *t = gm_region_opaque(r);
	(void)flags;
	if (t->fail_map)
		return t->fail_map;
	__atomic_fetch_add(&t->map_sgs, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < n; i++) {
		out[i].iov_base = t->mem + in[i].addr;
		out[i].iov_len = in[i].len + t->sg_long;
		if (t->sg_short && out[i].iov_len > t->sg_short)
			out[i].iov_len = t->sg_short;
		__atomic_fetch_add(&t->outstanding, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

static const struct gm_region_ops copy_ops = {.read = tb_read, .write = tb_write};
static const struct gm_region_ops chunk_ops = {.map = tb_map, .unmap = tb_unmap};
static const struct gm_region_ops batch_ops = {
	.map = tb_map, .unmap = tb_unmap, .map_sg = tb_map_sg};

static inline gm_region *test_region(const struct gm_region_ops *ops, struct test_buf *t,
				     size_t size, size_t chunk)
{
	gm_region *r;
	memset(t, 0, sizeof(*t));
	t->mem = calloc(1, size);
	ASSERT_NOT_NULL(t->mem);
	t->size = size;
	t->chunk = chunk;
	ASSERT_OK(gm_region_new(size, ops, t, &r));
	return r;
}

static inline void test_buf_free(struct test_buf *t)
{
	free(t->mem);
}

#endif
