/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Address spaces: placement, overlap, edges, wrap, removal, -EBUSY. */
#include <grantmem/grantmem.h>

#include "helpers.h"

static gm_region *ram(size_t size)
{
	gm_region *r;
	ASSERT_OK(gm_ram_region_new_anon(size, &r));
	return r;
}

static void test_overlap(void)
{
	gm_space *s;
	gm_region *a = ram(0x1000), *b = ram(0x1000), *c = ram(0x2000);

	ASSERT_OK(gm_space_new(&s));
	ASSERT_OK(gm_space_add(s, 0x10000, a));
	ASSERT_ERR(gm_space_add(s, 0x10000, b), -EEXIST);      /* same base */
	ASSERT_ERR(gm_space_add(s, 0x10fff, b), -EEXIST);      /* last byte */
	ASSERT_ERR(gm_space_add(s, 0xf001, b), -EEXIST);       /* ends inside */
	ASSERT_ERR(gm_space_add(s, 0xf000, c), -EEXIST);       /* covers it */
	ASSERT_ERR(gm_space_add(s, 0x20000, a), -EEXIST);      /* already in */
	ASSERT_OK(gm_space_add(s, 0xf000, b));                 /* adjacent below */
	ASSERT_OK(gm_space_add(s, 0x11000, c));                /* adjacent above */
	ASSERT_ERR(gm_space_add(s, UINT64_MAX - 0xffe, c), -EOVERFLOW);
	{
		gm_region *x = ram(1);
		ASSERT_ERR(gm_space_remove(s, x), -ENOENT);
		gm_region_free(x);
	}
	gm_region_free(a);
	gm_region_free(b);
	gm_region_free(c);
	gm_space_free(s);
}

static void test_edges(void)
{
	gm_space *s;
	gm_region *top = ram(0x1000), *low = ram(0x1000);
	unsigned char b[2] = {0};

	ASSERT_OK(gm_space_new(&s));
	gm_mem *m = gm_space_mem(s);
	/* A region that ends exactly at 2^64 - 1. */
	ASSERT_OK(gm_space_add(s, UINT64_MAX - 0xfff, top));
	ASSERT_OK(gm_space_add(s, 0, low));
	ASSERT_OK(gm_write(m, UINT64_MAX, "x", 1));
	ASSERT_OK(gm_read(m, UINT64_MAX, b, 1));
	ASSERT_EQ(b[0], 'x');
	ASSERT_ERR(gm_read(m, UINT64_MAX, b, 2), -EFAULT);   /* wraps past 2^64 */
	ASSERT_OK(gm_read(m, 0, b, 1));
	ASSERT_OK(gm_read(m, 0xfff, b, 1));
	ASSERT_ERR(gm_read(m, 0x1000, b, 1), -EFAULT);
	ASSERT_ERR(gm_read(m, 0xfff, b, 2), -EFAULT);         /* runs off the end */
	ASSERT_ERR(gm_read(m, UINT64_MAX - 0x1000, b, 1), -EFAULT); /* just below */
	ASSERT_OK(gm_read(m, 0x5000, b, 0));                  /* zero length */
	gm_region_free(top);
	gm_region_free(low);
	gm_space_free(s);
}

/* Many regions: every lookup lands in the right one. */
static void test_many(void)
{
	enum { N = 300 };
	gm_space *s;
	gm_region *r[N];

	ASSERT_OK(gm_space_new(&s));
	/* Add in a scrambled order so the table is sorted by insertion. */
	for (unsigned k = 0; k < N; k++) {
		unsigned i = (k * 7919u) % N;
		r[i] = ram(0x1000);
		ASSERT_OK(gm_space_add(s, (uint64_t)i * 0x3000 + 0x1000, r[i]));
	}
	for (unsigned i = 0; i < N; i++) {
		uint32_t v = 0xa5000000u | i, got = 0;
		uint64_t base = (uint64_t)i * 0x3000 + 0x1000;
		ASSERT_OK(gm_write_le32(gm_space_mem(s), base + 0xffc, v));
		ASSERT_EQ(*(uint32_t *)((char *)gm_ram_region_host(r[i]) + 0xffc), v);
		ASSERT_OK(gm_read_le32(gm_space_mem(s), base + 0xffc, &got));
		ASSERT_EQ(got, v);
		ASSERT_ERR(gm_read_le32(gm_space_mem(s), base + 0x1000, &got), -EFAULT);
		ASSERT_ERR(gm_read_le32(gm_space_mem(s), base - 4, &got), -EFAULT);
	}
	for (unsigned i = 0; i < N; i += 2)
		ASSERT_OK(gm_space_remove(s, r[i]));
	for (unsigned i = 0; i < N; i++) {
		uint32_t got;
		int ret = gm_read_le32(gm_space_mem(s), (uint64_t)i * 0x3000 + 0x1000, &got);
		ASSERT_EQ(ret, i % 2 ? 0 : -EFAULT);
		gm_region_free(r[i]);
	}
	gm_space_free(s);
}

/* A region removed while mapped stays usable until unmapped. */
static void test_remove_while_mapped(void)
{
	gm_space *s;
	gm_region *r = ram(0x1000), *r2 = ram(0x1000);
	size_t len = 16;
	int err;

	ASSERT_OK(gm_space_new(&s));
	ASSERT_OK(gm_space_add(s, 0x4000, r));
	gm_region_free(r); /* the space holds it now */
	char *p = gm_map(gm_space_mem(s), 0x4000, &len, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_OK(gm_space_remove(s, r));
	memcpy(p, "still here", 11); /* must not be freed */
	ASSERT_ERR(gm_read(gm_space_mem(s), 0x4000, &err, 1), -EFAULT);
	/* Its addresses stay taken until the mapping goes: any overlap. */
	ASSERT_ERR(gm_space_add(s, 0x4000, r2), -EBUSY);
	ASSERT_ERR(gm_space_add(s, 0x3001, r2), -EBUSY);
	ASSERT_ERR(gm_space_add(s, 0x4fff, r2), -EBUSY);
	ASSERT_OK(gm_space_add(s, 0x5000, r2)); /* just past it */
	ASSERT_OK(gm_space_remove(s, r2));
	gm_unmap(gm_space_mem(s), 0x4000, p, len, GM_PROT_RW, len);
	ASSERT_OK(gm_space_add(s, 0x4000, r2));
	gm_region_free(r2);
	gm_space_free(s);
}

/* Every kind of mapping keeps a removed region's addresses: gm_map_sg's
 * iovecs and bounce buffers too. */
static int bounce_read(gm_region *r, uint64_t off, void *buf, size_t len)
{
	(void)r, (void)off;
	memset(buf, 0x5a, len);
	return 0;
}

static void test_busy_kinds(void)
{
	static const struct gm_region_ops copy_ops = {.read = bounce_read};
	gm_space *s;
	gm_region *r = ram(0x1000), *c, *other = ram(0x1000);
	struct gm_sg sg = {0x4100, 0x100};
	struct iovec iov[2];
	size_t len = 0x10;
	int err;

	ASSERT_OK(gm_space_new(&s));
	gm_mem *m = gm_space_mem(s);
	ASSERT_OK(gm_region_new(0x1000, &copy_ops, NULL, &c));
	ASSERT_OK(gm_space_add(s, 0x4000, r));
	ASSERT_OK(gm_space_add(s, 0x8000, c));
	ASSERT_EQ(gm_map_sg(m, &sg, 1, iov, 2, GM_PROT_READ), 1);
	void *b = gm_map(m, 0x8000, &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(b);
	ASSERT_EQ(((unsigned char *)b)[0], 0x5a);
	ASSERT_OK(gm_space_remove(s, r));
	ASSERT_OK(gm_space_remove(s, c));
	ASSERT_ERR(gm_space_add(s, 0x4000, other), -EBUSY);
	ASSERT_ERR(gm_space_add(s, 0x8000, other), -EBUSY);
	gm_unmap_sg(m, &sg, 1, iov, 1, GM_PROT_READ, 0);
	ASSERT_OK(gm_space_add(s, 0x4000, other));
	ASSERT_OK(gm_space_remove(s, other));
	ASSERT_ERR(gm_space_add(s, 0x8000, other), -EBUSY);
	gm_unmap(m, 0x8000, b, len, GM_PROT_READ, 0);
	ASSERT_OK(gm_space_add(s, 0x8000, other));
	gm_region_free(r);
	gm_region_free(c);
	gm_region_free(other);
	gm_space_free(s);
}

static void test_args(void)
{
	gm_region *r;
	gm_space *s;
	static const struct gm_region_ops none = {0};

	ASSERT_ERR(gm_region_new(0, &none, NULL, &r), -EINVAL);
	ASSERT_ERR(gm_region_new(10, &none, NULL, &r), -EINVAL);
	ASSERT_NULL(r);
	ASSERT_ERR(gm_space_new(NULL), -EINVAL);
	ASSERT_ERR(gm_ram_region_new(NULL, 10, GM_PROT_RW, &r), -EINVAL);
	ASSERT_ERR(gm_ram_region_new_anon(0, &r), -EINVAL);
	ASSERT_OK(gm_space_new(&s));
	ASSERT_ERR(gm_space_add(s, 0, NULL), -EINVAL);
	ASSERT_ERR(gm_space_remove(s, NULL), -EINVAL);
	ASSERT_ERR(gm_read(NULL, 0, &r, 1), -EINVAL);
	gm_space_free(s);
	gm_space_free(NULL);
	gm_region_free(NULL);
	gm_view_free(NULL);
}

int main(void)
{
	test_overlap();
	test_edges();
	test_many();
	test_remove_while_mapped();
	test_busy_kinds();
	test_args();
	return 0;
}
