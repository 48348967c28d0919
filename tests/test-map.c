/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gm_map / gm_unmap / gm_map_sg: clamping, bounce buffers, batching, regions
 * of host memory. */
#include "test-regions.h"

static gm_space *s;
static gm_mem *m;
static gm_region *ram, *copy, *chunk, *batch;
static struct test_buf tcopy, tchunk, tbatch;

static void setup(void)
{
	ASSERT_OK(gm_space_new(&s));
	m = gm_space_mem(s);
	ASSERT_OK(gm_ram_region_new_anon(0x1000, &ram));
	copy = test_region(&copy_ops, &tcopy, 0x1000, 0);
	chunk = test_region(&chunk_ops, &tchunk, 0x1000, 100);
	batch = test_region(&batch_ops, &tbatch, 0x4000, 0x4000);
	ASSERT_OK(gm_space_add(s, 0x1000, ram));
	ASSERT_OK(gm_space_add(s, 0x2000, copy));
	ASSERT_OK(gm_space_add(s, 0x3000, chunk));
	ASSERT_OK(gm_space_add(s, 0x10000, batch));
}

static void test_clamp(void)
{
	size_t len = 0x10000;
	int err = 0;

	/* RAM: direct pointer, clamped at the region end. */
	unsigned char *p = gm_map(m, 0x1800, &len, GM_PROT_RW, &err);
	ASSERT_PTR_EQ(p, (unsigned char *)gm_ram_region_host(ram) + 0x800);
	ASSERT_EQ(len, 0x800);
	gm_unmap(m, 0x1800, p, len, GM_PROT_RW, len);
	/* Callback region: clamped at its mapping boundary. */
	len = 0x1000;
	p = gm_map(m, 0x3000, &len, GM_PROT_READ, &err);
	ASSERT_PTR_EQ(p, tchunk.mem);
	ASSERT_EQ(len, 100);
	ASSERT_EQ(tchunk.outstanding, 1);
	gm_unmap(m, 0x3000, p, len, GM_PROT_READ, 0);
	ASSERT_EQ(tchunk.outstanding, 0);
	/* Nothing there. */
	len = 1;
	ASSERT_NULL(gm_map(m, 0x9000, &len, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EFAULT);
	len = 0;
	ASSERT_NULL(gm_map(m, 0x1000, &len, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	len = 1;
	ASSERT_NULL(gm_map(m, 0x1000, &len, 0, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(gm_map(m, 0x1000, &len, GM_PROT_READ | GM_MAP_TRANSIENT | GM_MAP_PERSISTENT,
			   &err));
	ASSERT_EQ(err, -EINVAL);
	/* A failing map callback reports its error. */
	tchunk.fail_map = -ENOSPC;
	len = 8;
	ASSERT_NULL(gm_map(m, 0x3000, &len, GM_PROT_READ, &err));
	ASSERT_EQ(err, -ENOSPC);
	tchunk.fail_map = 0;
}

static void test_bounce(void)
{
	size_t len = 0x2000;
	int err;

	gm_test_fill(tcopy.mem, 0x1000, 3);
	/* Read bounce: filled from the region, clamped at its end. */
	unsigned char *p = gm_map(m, 0x2100, &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(len, 0xf00);
	ASSERT_TRUE(p != tcopy.mem + 0x100);
	ASSERT_MEM_EQ(p, tcopy.mem + 0x100, len);
	gm_unmap(m, 0x2100, p, len, GM_PROT_READ, 0);
	/* Write bounce: only access_len bytes are written back, on unmap. */
	int writes = tcopy.writes;
	len = 64;
	p = gm_map(m, 0x2000, &len, GM_PROT_WRITE, &err);
	ASSERT_NOT_NULL(p);
	memset(p, 0xee, 64);
	ASSERT_TRUE(tcopy.mem[0] != 0xee);
	gm_unmap(m, 0x2000, p, len, GM_PROT_WRITE, 10);
	ASSERT_EQ(tcopy.writes, writes + 1);
	ASSERT_EQ(tcopy.mem[9], 0xee);
	ASSERT_TRUE(tcopy.mem[10] != 0xee);
	/* The budget: shortened when partly used, -ENOSPC when spent. */
	ASSERT_OK(gm_space_set_bounce_limit(s, 0x300));
	size_t l1 = 0x200, l2 = 0x200, l3 = 1;
	void *b1 = gm_map(m, 0x2000, &l1, GM_PROT_READ, &err);
	void *b2 = gm_map(m, 0x2200, &l2, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(b1);
	ASSERT_NOT_NULL(b2);
	ASSERT_EQ(l1, 0x200);
	ASSERT_EQ(l2, 0x100);
	ASSERT_NULL(gm_map(m, 0x2400, &l3, GM_PROT_READ, &err));
	ASSERT_EQ(err, -ENOSPC);
	gm_unmap(m, 0x2000, b1, l1, GM_PROT_READ, 0);
	l3 = 1;
	void *b3 = gm_map(m, 0x2400, &l3, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(b3);
	gm_unmap(m, 0x2400, b3, l3, GM_PROT_READ, 0);
	gm_unmap(m, 0x2200, b2, l2, GM_PROT_READ, 0);
	ASSERT_OK(gm_space_set_bounce_limit(s, 1 << 20));
}

static void test_sg(void)
{
	struct iovec iov[16];
	int n;

	/* One range over RAM, copy-only and chunked: split per region. */
	struct gm_sg one = {.addr = 0x1f00, .len = 0x1200};
	n = gm_map_sg(m, &one, 1, iov, 16, GM_PROT_READ);
	/* RAM 0x100 + bounce 0x1000 + chunked 0x100 as 100,100,56 */
	ASSERT_EQ(n, 5);
	ASSERT_EQ(iov[0].iov_len, 0x100);
	ASSERT_EQ(iov[1].iov_len, 0x1000);
	ASSERT_EQ(iov[2].iov_len, 100);
	ASSERT_EQ(iov[4].iov_len, 56);
	ASSERT_EQ(tchunk.outstanding, 3);
	gm_unmap_sg(m, &one, 1, iov, (unsigned)n, GM_PROT_READ, 0);
	ASSERT_EQ(tchunk.outstanding, 0);
	/* Too few iovecs: all or nothing. */
	ASSERT_ERR(gm_map_sg(m, &one, 1, iov, 4, GM_PROT_READ), -E2BIG);
	ASSERT_EQ(tchunk.outstanding, 0);

	/* A batch region gets one map_sg call for all of its ranges, even
	 * interleaved with other regions. */
	struct gm_sg req[5] = {
		{0x10000, 0x200}, {0x1000, 0x10}, {0x13000, 0x1000}, {0x11000, 0x800},
		{0x12ff0, 0x20},
	};
	int before = tbatch.map_sgs;
	n = gm_map_sg(m, req, 5, iov, 16, GM_PROT_RW);
	ASSERT_EQ(n, 5);
	ASSERT_EQ(tbatch.map_sgs, before + 1);
	ASSERT_EQ(tbatch.maps, 0);
	ASSERT_EQ(tbatch.outstanding, 4);
	ASSERT_PTR_EQ(iov[2].iov_base, tbatch.mem + 0x3000);
	ASSERT_PTR_EQ(iov[1].iov_base, (char *)gm_ram_region_host(ram));
	gm_unmap_sg(m, req, 5, iov, (unsigned)n, GM_PROT_RW, SIZE_MAX);
	ASSERT_EQ(tbatch.outstanding, 0);

	/* A region's map_sg may stop short of a range: the library maps the
	 * rest; one that claims more than the range is held to the range. */
	struct gm_sg longr = {0x10100, 0x800};
	tbatch.sg_short = 0x100;
	n = gm_map_sg(m, &longr, 1, iov, 16, GM_PROT_RW);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(iov[0].iov_len, 0x100);
	ASSERT_PTR_EQ(iov[1].iov_base, tbatch.mem + 0x200);
	ASSERT_EQ(iov[1].iov_len, 0x700);
	ASSERT_EQ(tbatch.outstanding, 2);
	gm_unmap_sg(m, &longr, 1, iov, (unsigned)n, GM_PROT_RW, SIZE_MAX);
	ASSERT_EQ(tbatch.outstanding, 0);
	ASSERT_ERR(gm_map_sg(m, &longr, 1, iov, 1, GM_PROT_RW), -E2BIG);
	ASSERT_EQ(tbatch.outstanding, 0);
	tbatch.sg_short = 0;
	tbatch.sg_long = 0x1000;
	n = gm_map_sg(m, &longr, 1, iov, 16, GM_PROT_RW);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(iov[0].iov_len, 0x800);
	gm_unmap_sg(m, &longr, 1, iov, (unsigned)n, GM_PROT_RW, SIZE_MAX);
	tbatch.sg_long = 0;
	ASSERT_EQ(tbatch.outstanding, 0);

	/* A failure after some ranges were mapped undoes them all. */
	struct gm_sg bad[3] = {{0x10000, 0x10}, {0x3000, 0x300}, {0x9000, 1}};
	ASSERT_ERR(gm_map_sg(m, bad, 3, iov, 16, GM_PROT_READ), -EFAULT);
	ASSERT_EQ(tbatch.outstanding, 0);
	ASSERT_EQ(tchunk.outstanding, 0);
	tchunk.fail_map = -EIO;
	struct gm_sg bad2[2] = {{0x10000, 0x10}, {0x3000, 0x300}};
	ASSERT_ERR(gm_map_sg(m, bad2, 2, iov, 16, GM_PROT_READ), -EIO);
	ASSERT_EQ(tbatch.outstanding, 0);
	tchunk.fail_map = 0;
	/* Bad lists. */
	struct gm_sg zero = {0x1000, 0}, wrap = {UINT64_MAX, 2};
	ASSERT_ERR(gm_map_sg(m, &zero, 1, iov, 16, GM_PROT_READ), -EINVAL);
	ASSERT_ERR(gm_map_sg(m, &wrap, 1, iov, 16, GM_PROT_READ), -EFAULT);
	ASSERT_ERR(gm_map_sg(m, &one, 0, iov, 16, GM_PROT_READ), -EINVAL);
}

/*
 * gm_map_sg's errno: the ranges are checked in order before anything is
 * mapped, and the first bad one decides, whatever fails in later ranges or
 * would fail when mapping.
 */
static void test_sg_order(void)
{
	static unsigned char ro_buf[0x1000];
	gm_region *ro;
	gm_view *v;
	struct iovec iov[16];
	const int w = GM_PROT_WRITE;

	ASSERT_OK(gm_ram_region_new(ro_buf, sizeof(ro_buf), GM_PROT_READ, &ro));
	ASSERT_OK(gm_space_add(s, 0x5000, ro));
	/* Read-only RAM asked for write, before a batch that would fail. */
	tbatch.fail_map = -EIO;
	struct gm_sg a[2] = {{0x5000, 0x10}, {0x10000, 0x10}};
	ASSERT_ERR(gm_map_sg(m, a, 2, iov, 16, w), -EACCES);
	/* ... and after it: the batch is never called, the check comes first. */
	struct gm_sg a2[2] = {{0x10000, 0x10}, {0x5000, 0x10}};
	int calls = tbatch.map_sgs;
	ASSERT_ERR(gm_map_sg(m, a2, 2, iov, 16, w), -EACCES);
	ASSERT_EQ(tbatch.map_sgs, calls);
	/* A bounce buffer that cannot be (no write callback on chunk) or is
	 * refused, before the failing batch. */
	struct gm_sg b[2] = {{0x3000, 0x10}, {0x10000, 0x10}};
	ASSERT_ERR(gm_map_sg(m, b, 2, iov, 16, GM_PROT_READ | GM_MAP_NO_BOUNCE), -EIO);
	b[0].addr = 0x2000;
	ASSERT_ERR(gm_map_sg(m, b, 2, iov, 16, GM_PROT_READ | GM_MAP_NO_BOUNCE), -EOPNOTSUPP);
	/* With every check passed, the mapping's own failure shows. */
	ASSERT_ERR(gm_map_sg(m, b, 2, iov, 16, GM_PROT_READ), -EIO);
	tbatch.fail_map = 0;
	ASSERT_EQ(tbatch.outstanding, 0);
	ASSERT_EQ(tchunk.outstanding, 0);

	/* Zero length, wrap, hole, in either order. */
	struct gm_sg zero = {0x1000, 0}, wrap = {UINT64_MAX, 2}, hole = {0x9000, 1};
	struct gm_sg into_hole = {0x3f00, 0x200}; /* a good piece, then nothing */
	struct gm_sg l1[2] = {hole, zero}, l2[2] = {zero, hole}, l3[2] = {wrap, zero},
		     l4[2] = {zero, wrap}, l5[2] = {into_hole, zero}, l6[2] = {zero, into_hole};
	ASSERT_ERR(gm_map_sg(m, l1, 2, iov, 16, GM_PROT_READ), -EFAULT);
	ASSERT_ERR(gm_map_sg(m, l2, 2, iov, 16, GM_PROT_READ), -EINVAL);
	ASSERT_ERR(gm_map_sg(m, l3, 2, iov, 16, GM_PROT_READ), -EFAULT);
	ASSERT_ERR(gm_map_sg(m, l4, 2, iov, 16, GM_PROT_READ), -EINVAL);
	ASSERT_ERR(gm_map_sg(m, l5, 2, iov, 16, GM_PROT_READ), -EFAULT);
	ASSERT_ERR(gm_map_sg(m, l6, 2, iov, 16, GM_PROT_READ), -EINVAL);
	/* Permission against an address outside a read-only view's window. */
	struct gm_sg window = {0x1000, 0x1000};
	ASSERT_OK(gm_view_new(m, &window, 1, GM_PROT_READ, &v));
	struct gm_sg p1[2] = {{0x1000, 0x10}, hole}, p2[2] = {hole, {0x1000, 0x10}};
	ASSERT_ERR(gm_map_sg(gm_view_mem(v), p1, 2, iov, 16, w), -EACCES);
	ASSERT_ERR(gm_map_sg(gm_view_mem(v), p2, 2, iov, 16, w), -EFAULT);
	gm_view_free(v);
	/* Room for the pieces is a check of its range too: 5 pieces, 2 iovecs. */
	struct gm_sg big = {0x1f00, 0x1200}, e1[2] = {big, hole}, e2[2] = {hole, big};
	ASSERT_ERR(gm_map_sg(m, e1, 2, iov, 2, GM_PROT_READ), -E2BIG);
	ASSERT_ERR(gm_map_sg(m, e2, 2, iov, 2, GM_PROT_READ), -EFAULT);
	ASSERT_EQ(tchunk.outstanding, 0);
	ASSERT_OK(gm_space_remove(s, ro));
	gm_region_free(ro);
}

/* GM_MAP_NO_BOUNCE: -EOPNOTSUPP wherever a bounce buffer would stand in. */
static void test_no_bounce(void)
{
	static const struct gm_region_ops mixed_ops = {
		.map = tb_map, .unmap = tb_unmap, .read = tb_read, .write = tb_write};
	struct test_buf tmixed;
	gm_region *mixed = test_region(&mixed_ops, &tmixed, 0x1000, 0x1000);
	const int nb = GM_PROT_READ | GM_MAP_NO_BOUNCE;
	struct iovec iov[8];
	size_t len;
	int err;

	ASSERT_OK(gm_space_add(s, 0x20000, mixed));
	/* A region with only read/write callbacks: refused, nothing read. */
	int reads = tcopy.reads;
	len = 16;
	err = 0;
	ASSERT_NULL(gm_map(m, 0x2000, &len, nb, &err));
	ASSERT_EQ(err, -EOPNOTSUPP);
	ASSERT_NULL(gm_map(m, 0x2000, &len, GM_PROT_WRITE | GM_MAP_NO_BOUNCE, &err));
	ASSERT_EQ(err, -EOPNOTSUPP);
	ASSERT_EQ(tcopy.reads, reads);
	/* A map callback that asks for a bounce buffer: bounced without the
	 * flag, refused with it. */
	tmixed.fail_map = -EOPNOTSUPP;
	len = 16;
	unsigned char *p = gm_map(m, 0x20000, &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_TRUE(p != tmixed.mem);
	gm_unmap(m, 0x20000, p, len, GM_PROT_READ, 0);
	ASSERT_NULL(gm_map(m, 0x20000, &len, nb, &err));
	ASSERT_EQ(err, -EOPNOTSUPP);
	/* Any other failure of the callback is still its own. */
	tmixed.fail_map = -EIO;
	ASSERT_NULL(gm_map(m, 0x20000, &len, nb, &err));
	ASSERT_EQ(err, -EIO);
	tmixed.fail_map = 0;
	/* Memory mapped in place is unaffected: RAM, callbacks, views. */
	len = 0x10000;
	p = gm_map(m, 0x1800, &len, GM_PROT_RW | GM_MAP_NO_BOUNCE | GM_MAP_PERSISTENT, &err);
	ASSERT_PTR_EQ(p, (unsigned char *)gm_ram_region_host(ram) + 0x800);
	ASSERT_EQ(len, 0x800);
	gm_unmap(m, 0x1800, p, len, GM_PROT_RW | GM_MAP_NO_BOUNCE | GM_MAP_PERSISTENT, 0);
	len = 0x1000;
	p = gm_map(m, 0x20000, &len, nb, &err);
	ASSERT_PTR_EQ(p, tmixed.mem);
	gm_unmap(m, 0x20000, p, len, nb, 0);
	ASSERT_EQ(tmixed.outstanding, 0);
	gm_view *v;
	struct gm_sg win = {0x2000, 0x1000};
	ASSERT_OK(gm_view_new(m, &win, 1, GM_PROT_READ, &v));
	ASSERT_NULL(gm_map(gm_view_mem(v), 0x2000, &len, nb, &err));
	ASSERT_EQ(err, -EOPNOTSUPP);
	gm_view_free(v);
	/* Bad flag combinations stay -EINVAL. */
	ASSERT_NULL(gm_map(gm_region_mem(copy), 0, &len, GM_PROT_READ | GM_MAP_TRANSIENT |
				   GM_MAP_PERSISTENT | GM_MAP_NO_BOUNCE, &err));
	ASSERT_EQ(err, -EINVAL);
	/* gm_map_sg: all or nothing, as for any other error. */
	struct gm_sg sg[2] = {{0x1000, 0x10}, {0x2000, 0x10}};
	ASSERT_ERR(gm_map_sg(m, sg, 2, iov, 8, nb), -EOPNOTSUPP);
	ASSERT_EQ(gm_map_sg(m, sg, 2, iov, 8, GM_PROT_READ), 2);
	gm_unmap_sg(m, sg, 2, iov, 2, GM_PROT_READ, 0);
	sg[1].addr = 0x20000;
	ASSERT_EQ(gm_map_sg(m, sg, 2, iov, 8, nb), 2);
	ASSERT_PTR_EQ(iov[1].iov_base, tmixed.mem);
	gm_unmap_sg(m, sg, 2, iov, 2, nb, 0);
	ASSERT_EQ(tmixed.outstanding, 0);
	ASSERT_OK(gm_space_remove(s, mixed));
	gm_region_free(mixed);
	test_buf_free(&tmixed);
}

/* ---- a region type of host memory (gm_region_new_host) ---- */

static int host_frees;

static void *host_never_map(gm_region *r, uint64_t off, size_t *len, int flags, int *err)
{
	(void)r, (void)off, (void)len, (void)flags, (void)err;
	GM_TEST_FAIL("map callback of a host region called");
}

static int host_never_read(gm_region *r, uint64_t off, void *buf, size_t len)
{
	(void)r, (void)off, (void)buf, (void)len;
	GM_TEST_FAIL("read callback of a host region called");
}

static void host_free(gm_region *r)
{
	ASSERT_PTR_EQ(gm_region_opaque(r), &host_frees);
	host_frees++;
}

/* The access callbacks are there only to prove they are never called. */
static const struct gm_region_ops host_ops = {
	.map = host_never_map,
	.unmap = tb_unmap,
	.read = host_never_read,
	.free = host_free,
};

static void test_host(void)
{
	static unsigned char buf[0x2000] __attribute__((aligned(8)));
	gm_space *hs;
	gm_region *h, *c;
	struct iovec iov[4];
	size_t len = 0x10000;
	uint32_t v;
	int err;

	gm_test_fill(buf, sizeof(buf), 7);
	ASSERT_OK(gm_space_new(&hs));
	gm_mem *hm = gm_space_mem(hs);
	ASSERT_OK(gm_region_new_host(buf, sizeof(buf), GM_PROT_READ, &host_ops, &host_frees, &h));
	ASSERT_PTR_EQ(gm_region_host(h), buf);
	ASSERT_PTR_EQ(gm_ram_region_host(h), buf);
	ASSERT_EQ(gm_region_size(h), sizeof(buf));
	ASSERT_OK(gm_space_add(hs, 0x40000, h));
	gm_region_free(h); /* the space holds it */
	ASSERT_EQ(host_frees, 0);

	/* gm_map: the memory in place, clamped at the region's end only. */
	unsigned char *p = gm_map(hm, 0x40100, &len, GM_PROT_READ, &err);
	ASSERT_PTR_EQ(p, buf + 0x100);
	ASSERT_EQ(len, sizeof(buf) - 0x100);
	gm_unmap(hm, 0x40100, p, len, GM_PROT_READ, 0);
	len = 8;
	ASSERT_NULL(gm_map(hm, 0x40100, &len, GM_PROT_WRITE, &err));
	ASSERT_EQ(err, -EACCES);
	/* The bytes API and the atomics, in place. */
	unsigned char got[64];
	ASSERT_OK(gm_read(hm, 0x41ff0, got, 16));
	ASSERT_MEM_EQ(got, buf + 0x1ff0, 16);
	ASSERT_ERR(gm_write(hm, 0x40000, got, 1), -EACCES);
	ASSERT_OK(gm_load_acquire32(hm, 0x40008, &v));
	ASSERT_EQ(v, (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 |
			     (uint32_t)buf[11] << 24);
	ASSERT_ERR(gm_store_release32(hm, 0x40008, 1), -EACCES);
	/* gm_map_sg: host pointers, no batch call. */
	struct gm_sg sg[2] = {{0x40010, 0x10}, {0x41000, 0x1000}};
	ASSERT_EQ(gm_map_sg(hm, sg, 2, iov, 4, GM_PROT_READ), 2);
	ASSERT_PTR_EQ(iov[0].iov_base, buf + 0x10);
	ASSERT_PTR_EQ(iov[1].iov_base, buf + 0x1000);
	ASSERT_EQ(iov[1].iov_len, 0x1000);
	gm_unmap_sg(hm, sg, 2, iov, 2, GM_PROT_READ, 0);
	/* free runs once, with the last reference. */
	gm_space_free(hs);
	ASSERT_EQ(host_frees, 1);

	/* No ops at all; write-only memory. */
	ASSERT_OK(gm_region_new_host(buf, 16, GM_PROT_WRITE, NULL, NULL, &h));
	ASSERT_NULL(gm_region_opaque(h));
	ASSERT_OK(gm_write(gm_region_mem(h), 0, "host", 4));
	ASSERT_MEM_EQ(buf, "host", 4);
	ASSERT_ERR(gm_read(gm_region_mem(h), 0, got, 1), -EACCES);
	ASSERT_ERR(gm_read(gm_region_mem(h), 16, got, 1), -EFAULT);
	gm_region_free(h);

	/* Callback regions have no host address. */
	ASSERT_NULL(gm_region_host(copy));
	ASSERT_NULL(gm_region_host(NULL));
	c = NULL;
	ASSERT_ERR(gm_region_new_host(NULL, 16, GM_PROT_RW, NULL, NULL, &c), -EINVAL);
	ASSERT_ERR(gm_region_new_host(buf, 0, GM_PROT_RW, NULL, NULL, &c), -EINVAL);
	ASSERT_ERR(gm_region_new_host(buf, 16, 0, NULL, NULL, &c), -EINVAL);
	ASSERT_ERR(gm_region_new_host(buf, 16, GM_PROT_RW | GM_MAP_TRANSIENT, NULL, NULL, &c),
		   -EINVAL);
	ASSERT_ERR(gm_region_new_host((void *)(UINTPTR_MAX - 0xff), 0x101, GM_PROT_RW, NULL,
				      NULL, &c), -EINVAL);
	ASSERT_NULL(c);
	ASSERT_ERR(gm_region_new_host(buf, 16, GM_PROT_RW, NULL, NULL, NULL), -EINVAL);
	/* The last byte of the address space is still addressable. */
	ASSERT_OK(gm_region_new_host((void *)(UINTPTR_MAX - 0xff), 0x100, GM_PROT_RW, NULL, NULL,
				     &c));
	gm_region_free(c);
}

int main(void)
{
	setup();
	test_clamp();
	test_bounce();
	test_sg();
	test_sg_order();
	test_no_bounce();
	test_host();
	gm_region_free(ram);
	gm_region_free(copy);
	gm_region_free(chunk);
	gm_region_free(batch);
	gm_space_free(s);
	test_buf_free(&tcopy);
	test_buf_free(&tchunk);
	test_buf_free(&tbatch);
	return 0;
}
