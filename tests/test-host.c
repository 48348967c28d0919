/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host pointers and whole mappings on the memory core: gm_host_to_guest
 * and gm_unmap_host over RAM regions, bounce buffers, a region with a
 * from_host callback, views and removed regions; GM_MAP_WHOLE at every
 * boundary gm_map would shorten at.  (Grant mappings: test-grant-host.)
 */
#include "helpers.h"

#include <grantmem/grantmem.h>

/* A region whose maps come from a buffer and that can tell its own
 * mappings from a pointer; a map never holds more than @chunk bytes, and
 * ignores GM_MAP_WHOLE (the library must catch it). */
struct fh {
	unsigned char mem[0x4000];
	size_t chunk;
	int outstanding, unmaps, from_hosts;
	uint64_t last_off;
	size_t last_len;
};

static void *fh_map(gm_region *r, uint64_t off, size_t *len, int flags, int *err)
{
	struct fh *f = gm_region_opaque(r);

	(void)flags, (void)err;
	if (*len > f->chunk)
		*len = f->chunk;
	f->outstanding++;
	return f->mem + off;
}

static void fh_unmap(gm_region *r, void *p, uint64_t off, size_t len, int flags, size_t acc)
{
	struct fh *f = gm_region_opaque(r);

	(void)flags, (void)acc;
	if (p != f->mem + off)
		GM_TEST_FAIL("unmap of %p at offset %" PRIu64, p, off);
	f->outstanding--;
	f->unmaps++;
	f->last_off = off;
	f->last_len = len;
}

/* Any pointer into the buffer counts while a mapping is out. */
static int fh_from_host(gm_region *r, const void *ptr, uint64_t *off, size_t *len)
{
	struct fh *f = gm_region_opaque(r);
	const unsigned char *p = ptr;

	f->from_hosts++;
	if (!f->outstanding || p < f->mem || p >= f->mem + sizeof(f->mem))
		return -ENOENT;
	*off = (uint64_t)(p - f->mem);
	*len = sizeof(f->mem) - *off;
	return 0;
}

static const struct gm_region_ops fh_ops = {
	.map = fh_map, .unmap = fh_unmap, .from_host = fh_from_host};

/* Copies only: gm_map hands out bounce buffers. */
struct cp {
	unsigned char mem[0x2000];
	int reads, writes;
};

static int cp_read(gm_region *r, uint64_t off, void *buf, size_t len)
{
	struct cp *c = gm_region_opaque(r);

	c->reads++;
	memcpy(buf, c->mem + off, len);
	return 0;
}

static int cp_write(gm_region *r, uint64_t off, const void *buf, size_t len)
{
	struct cp *c = gm_region_opaque(r);

	c->writes++;
	memcpy(c->mem + off, buf, len);
	return 0;
}

static const struct gm_region_ops cp_ops = {.read = cp_read, .write = cp_write};

static gm_space *S;
static gm_mem *M;
static gm_region *ram, *ram2, *fhr, *cpr;
static struct fh F;
static struct cp C;

/* Layout: RAM 0x10000-0x10fff and, right after it, RAM 0x11000-0x11fff;
 * the from_host region at 0x20000, the copy region at 0x30000. */
static void setup(void)
{
	ASSERT_OK(gm_space_new(&S));
	M = gm_space_mem(S);
	ASSERT_OK(gm_ram_region_new_anon(0x1000, &ram));
	ASSERT_OK(gm_ram_region_new_anon(0x1000, &ram2));
	F.chunk = 0x1000;
	ASSERT_OK(gm_region_new(sizeof(F.mem), &fh_ops, &F, &fhr));
	ASSERT_OK(gm_region_new(sizeof(C.mem), &cp_ops, &C, &cpr));
	ASSERT_OK(gm_space_add(S, 0x10000, ram));
	ASSERT_OK(gm_space_add(S, 0x11000, ram2));
	ASSERT_OK(gm_space_add(S, 0x20000, fhr));
	ASSERT_OK(gm_space_add(S, 0x30000, cpr));
}

static void test_host_to_guest_ram(void)
{
	unsigned char *h = gm_ram_region_host(ram), *h2 = gm_ram_region_host(ram2);
	uint64_t a = 0;

	ASSERT_OK(gm_host_to_guest(M, h, &a));
	ASSERT_EQ_U64(a, 0x10000);
	ASSERT_OK(gm_host_to_guest(M, h + 0x7ff, &a));
	ASSERT_EQ_U64(a, 0x107ff);
	ASSERT_OK(gm_host_to_guest(M, h2 + 0xfff, &a));
	ASSERT_EQ_U64(a, 0x11fff);
	/* Not memory of the space. */
	ASSERT_ERR(gm_host_to_guest(M, &a, &a), -ENOENT);
	ASSERT_ERR(gm_host_to_guest(M, F.mem, &a), -ENOENT); /* nothing mapped there */
	ASSERT_ERR(gm_host_to_guest(M, NULL, &a), -EINVAL);
	ASSERT_ERR(gm_host_to_guest(M, h, NULL), -EINVAL);
	ASSERT_ERR(gm_host_to_guest(NULL, h, &a), -EINVAL);
	/* A region handle answers with offsets. */
	ASSERT_OK(gm_host_to_guest(gm_region_mem(ram2), h2 + 0x10, &a));
	ASSERT_EQ_U64(a, 0x10);
	ASSERT_ERR(gm_host_to_guest(gm_region_mem(ram2), h + 0x10, &a), -ENOENT);
	/* A view answers inside its windows only. */
	struct gm_sg w = {.addr = 0x10800, .len = 0x100};
	gm_view *v;
	ASSERT_OK(gm_view_new(M, &w, 1, GM_PROT_READ, &v));
	ASSERT_OK(gm_host_to_guest(gm_view_mem(v), h + 0x880, &a));
	ASSERT_EQ_U64(a, 0x10880);
	ASSERT_ERR(gm_host_to_guest(gm_view_mem(v), h + 0x900, &a), -ENOENT);
	gm_view_free(v);
}

/* Two RAM regions over the same host memory (an alias): either address. */
static void test_host_alias(void)
{
	unsigned char *h = gm_ram_region_host(ram);
	gm_region *alias;
	uint64_t a;

	ASSERT_OK(gm_ram_region_new(h + 0x800, 0x100, GM_PROT_READ, &alias));
	ASSERT_OK(gm_space_add(S, 0x50000, alias));
	ASSERT_OK(gm_host_to_guest(M, h + 0x810, &a));
	ASSERT_TRUE(a == 0x10810 || a == 0x50010);
	ASSERT_OK(gm_host_to_guest(M, h + 0x7ff, &a));
	ASSERT_EQ_U64(a, 0x107ff);
	ASSERT_OK(gm_host_to_guest(M, h + 0x900, &a)); /* past the alias */
	ASSERT_EQ_U64(a, 0x10900);
	ASSERT_OK(gm_space_remove(S, alias));
	gm_region_free(alias);
}

static void test_unmap_host_ram(void)
{
	size_t len = 0x100;
	int err;
	unsigned char *p = gm_map(M, 0x10200, &len, GM_PROT_RW, &err);

	ASSERT_NOT_NULL(p);
	/* From a pointer into the middle of the mapping. */
	ASSERT_OK(gm_unmap_host(M, p + 0x80, GM_PROT_RW, 4));
	/* Nothing of the region is out any more. */
	ASSERT_ERR(gm_unmap_host(M, p, GM_PROT_RW, 0), -ENOENT);
	ASSERT_ERR(gm_unmap_host(M, p, 0x1000, 0), -EINVAL);
	ASSERT_ERR(gm_unmap_host(M, NULL, GM_PROT_READ, 0), -EINVAL);
	ASSERT_ERR(gm_unmap_host(M, &len, GM_PROT_READ, 0), -ENOENT);

	/* A region removed while mapped keeps its addresses until then;
	 * gm_unmap_host finds it among the removed ones. */
	len = 0x10;
	p = gm_map(M, 0x11000, &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_OK(gm_space_remove(S, ram2));
	gm_region *other;
	ASSERT_OK(gm_ram_region_new_anon(0x1000, &other));
	ASSERT_ERR(gm_space_add(S, 0x11000, other), -EBUSY);
	uint64_t a;
	ASSERT_OK(gm_host_to_guest(M, p + 1, &a));
	ASSERT_EQ_U64(a, 0x11001);
	ASSERT_OK(gm_unmap_host(M, p + 8, GM_PROT_READ, 0));
	ASSERT_OK(gm_space_add(S, 0x11000, other));
	ASSERT_OK(gm_space_remove(S, other));
	gm_region_free(other);
	ASSERT_OK(gm_space_add(S, 0x11000, ram2));
}

static void test_unmap_host_callback(void)
{
	size_t len = 0x800;
	int err;
	unsigned char *p = gm_map(M, 0x20400, &len, GM_PROT_READ, &err);
	uint64_t a;

	ASSERT_PTR_EQ(p, F.mem + 0x400);
	ASSERT_EQ(F.outstanding, 1);
	ASSERT_OK(gm_host_to_guest(M, p + 0x123, &a));
	ASSERT_EQ_U64(a, 0x20523);
	/* The region's unmap gets the offset its from_host found. */
	ASSERT_OK(gm_unmap_host(M, p + 0x123, GM_PROT_READ, 0));
	ASSERT_EQ(F.outstanding, 0);
	ASSERT_EQ(F.last_off, 0x523);
	ASSERT_EQ(F.last_len, sizeof(F.mem) - 0x523);
	ASSERT_ERR(gm_unmap_host(M, p, GM_PROT_READ, 0), -ENOENT);
	ASSERT_ERR(gm_host_to_guest(M, p, &a), -ENOENT);
}

static void test_unmap_host_bounce(void)
{
	size_t len = 0x200;
	int err;
	uint64_t a;

	gm_test_fill(C.mem, sizeof(C.mem), 4);
	unsigned char *p = gm_map(M, 0x30100, &len, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(len, 0x200);
	ASSERT_TRUE(p < C.mem || p >= C.mem + sizeof(C.mem));
	ASSERT_OK(gm_host_to_guest(M, p + 0x1ff, &a));
	ASSERT_EQ_U64(a, 0x302ff);
	/* Not a bounce buffer of another space. */
	gm_space *s2;
	ASSERT_OK(gm_space_new(&s2));
	ASSERT_ERR(gm_host_to_guest(gm_space_mem(s2), p, &a), -ENOENT);
	ASSERT_ERR(gm_unmap_host(gm_space_mem(s2), p, GM_PROT_RW, 0), -ENOENT);
	gm_space_free(s2);
	/* Written bytes go back from the buffer's start to ptr + access_len. */
	memset(p, 0xee, 0x200);
	int writes = C.writes;
	ASSERT_OK(gm_unmap_host(M, p + 0x10, GM_PROT_RW, 0x20));
	ASSERT_EQ(C.writes, writes + 1);
	for (unsigned i = 0; i < 0x30; i++)
		ASSERT_EQ(C.mem[0x100 + i], 0xee);
	ASSERT_EQ(C.mem[0x130], gm_test_pattern(4, 0x130));
	ASSERT_ERR(gm_unmap_host(M, p, GM_PROT_RW, 0), -ENOENT);
}

static void test_whole(void)
{
	size_t len;
	int err;
	unsigned char *p;

	/* RAM: shortened at the region's end, refused whole across it. */
	len = 0x200;
	p = gm_map(M, 0x10f00, &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(len, 0x100);
	gm_unmap(M, 0x10f00, p, len, GM_PROT_READ, 0);
	len = 0x200;
	ASSERT_NULL(gm_map(M, 0x10f00, &len, GM_PROT_READ | GM_MAP_WHOLE, &err));
	ASSERT_EQ(err, -ERANGE); /* memory there, in another region */
	ASSERT_EQ(len, 0x200);
	len = 0x200;
	ASSERT_NULL(gm_map(M, 0x11f00, &len, GM_PROT_READ | GM_MAP_WHOLE, &err));
	ASSERT_EQ(err, -EFAULT); /* nothing there */
	len = 2;
	ASSERT_NULL(gm_map(M, UINT64_MAX, &len, GM_PROT_READ | GM_MAP_WHOLE, &err));
	ASSERT_EQ(err, -EFAULT);
	len = 0x100;
	p = gm_map(M, 0x10f00, &len, GM_PROT_READ | GM_MAP_WHOLE, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(len, 0x100);
	gm_unmap(M, 0x10f00, p, len, GM_PROT_READ, 0);
	/* A region that shortens anyway is undone. */
	F.chunk = 0x100;
	len = 0x200;
	ASSERT_NULL(gm_map(M, 0x20000, &len, GM_PROT_READ | GM_MAP_WHOLE, &err));
	ASSERT_EQ(err, -ERANGE);
	ASSERT_EQ(F.outstanding, 0);
	len = 0x100;
	p = gm_map(M, 0x20000, &len, GM_PROT_READ | GM_MAP_WHOLE, &err);
	ASSERT_NOT_NULL(p);
	gm_unmap(M, 0x20000, p, len, GM_PROT_READ, 0);
	F.chunk = 0x1000;
	/* Bounce: whole within the budget, -ENOSPC beyond it. */
	ASSERT_OK(gm_space_set_bounce_limit(S, 0x100));
	len = 0x200;
	p = gm_map(M, 0x30000, &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(len, 0x100);
	gm_unmap(M, 0x30000, p, len, GM_PROT_READ, 0);
	len = 0x200;
	ASSERT_NULL(gm_map(M, 0x30000, &len, GM_PROT_READ | GM_MAP_WHOLE, &err));
	ASSERT_EQ(err, -ENOSPC);
	ASSERT_OK(gm_space_set_bounce_limit(S, 1 << 20));
	len = 0x200;
	p = gm_map(M, 0x30000, &len, GM_PROT_READ | GM_MAP_WHOLE, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(len, 0x200);
	gm_unmap(M, 0x30000, p, len, GM_PROT_READ, 0);
	/* Not a gm_map_sg flag. */
	struct gm_sg sg = {.addr = 0x10000, .len = 8};
	struct iovec iov;
	ASSERT_ERR(gm_map_sg(M, &sg, 1, &iov, 1, GM_PROT_READ | GM_MAP_WHOLE), -EINVAL);
}

static void test_span_ram(void)
{
	unsigned char *h = gm_ram_region_host(ram);
	gm_span s;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	for (unsigned i = 0; i < 32; i++)
		h[0x100 + i] = (unsigned char)i;
	ASSERT_OK(gm_span_begin(&s, M, 0x10100, 16, GM_PROT_READ));
	ASSERT_OK(gm_span_read_le64(&s, 0, &v64));
	ASSERT_EQ_U64(v64, 0x0706050403020100ull);
	ASSERT_OK(gm_span_read_le32(&s, 8, &v32));
	ASSERT_EQ(v32, 0x0b0a0908);
	ASSERT_OK(gm_span_read_le16(&s, 13, &v16));
	ASSERT_EQ(v16, 0x0e0d);
	ASSERT_OK(gm_span_read_be32(&s, 12, &v32));
	ASSERT_EQ(v32, 0x0c0d0e0f);
	ASSERT_OK(gm_span_read_be16(&s, 0, &v16));
	ASSERT_EQ(v16, 0x0001);
	ASSERT_OK(gm_span_read_be64(&s, 8, &v64));
	ASSERT_EQ_U64(v64, 0x08090a0b0c0d0e0full);
	/* A snapshot: the guest's later stores do not show. */
	h[0x100] = 0xaa;
	ASSERT_OK(gm_span_read_le16(&s, 0, &v16));
	ASSERT_EQ(v16, 0x0100);
	/* Outside, or without the permission. */
	ASSERT_ERR(gm_span_read_le32(&s, 13, &v32), -EFAULT);
	ASSERT_ERR(gm_span_read_le16(&s, SIZE_MAX, &v16), -EFAULT);
	ASSERT_ERR(gm_span_write_le16(&s, 0, 1), -EACCES);
	ASSERT_ERR(gm_span_read(&s, 0, NULL, 1), -EINVAL);
	unsigned char b[16];
	ASSERT_OK(gm_span_read(&s, 0, b, 16));
	ASSERT_EQ(b[15], 15);
	ASSERT_OK(gm_span_end(&s));
	ASSERT_EQ(h[0x100], 0xaa); /* nothing written back */
	ASSERT_OK(gm_span_end(&s)); /* a second end is harmless */
	ASSERT_ERR(gm_span_read_le16(&s, 0, &v16), -EINVAL);

	/* Writes go back at the end, only from the first to the last written. */
	ASSERT_OK(gm_span_begin(&s, M, 0x10100, 32, GM_PROT_RW));
	ASSERT_OK(gm_span_write_le32(&s, 4, 0x11223344));
	ASSERT_OK(gm_span_write_be16(&s, 10, 0x5566));
	ASSERT_EQ(h[0x104], 4); /* not yet */
	ASSERT_OK(gm_span_read_le16(&s, 10, &v16));
	ASSERT_EQ(v16, 0x6655);
	h[0x108] = 0xbb; /* between the written fields: the span's copy wins */
	h[0x10c] = 0xcc; /* after the last written byte: untouched */
	ASSERT_OK(gm_span_end(&s));
	ASSERT_EQ(h[0x103], 3);
	ASSERT_EQ(h[0x104], 0x44);
	ASSERT_EQ(h[0x107], 0x11);
	ASSERT_EQ(h[0x108], 8);
	ASSERT_EQ(h[0x10a], 0x55);
	ASSERT_EQ(h[0x10b], 0x66);
	ASSERT_EQ(h[0x10c], 0xcc);

	/* Write-only: nothing read, read accessors refused. */
	ASSERT_OK(gm_span_begin(&s, M, 0x10200, 8, GM_PROT_WRITE));
	ASSERT_ERR(gm_span_read_le16(&s, 0, &v16), -EACCES);
	ASSERT_OK(gm_span_write_le64(&s, 0, 0x0102030405060708ull));
	ASSERT_OK(gm_span_end(&s));
	ASSERT_EQ(h[0x200], 8);
	ASSERT_EQ(h[0x207], 1);

	/* Failures leave nothing held. */
	ASSERT_ERR(gm_span_begin(&s, M, 0x10000, 0, GM_PROT_READ), -EINVAL);
	ASSERT_ERR(gm_span_begin(&s, M, 0x10000, 8, 0), -EINVAL);
	ASSERT_ERR(gm_span_begin(&s, M, 0x10000, 8, GM_PROT_READ | GM_MAP_WHOLE), -EINVAL);
	ASSERT_ERR(gm_span_begin(NULL, M, 0x10000, 8, GM_PROT_READ), -EINVAL);
	ASSERT_ERR(gm_span_begin(&s, M, 0x9000, 8, GM_PROT_READ), -EFAULT);
	ASSERT_OK(gm_span_end(&s));
	ASSERT_OK(gm_span_end(NULL));
	/* Across two regions, copied. */
	ASSERT_OK(gm_span_begin(&s, M, 0x10ffc, 8, GM_PROT_READ));
	ASSERT_OK(gm_span_end(&s));
}

static void test_span_long(void)
{
	unsigned char *h = gm_ram_region_host(ram);
	gm_span s;
	uint32_t v;

	/* Longer than GM_SPAN_INLINE: mapped, accessed in place. */
	ASSERT_OK(gm_span_begin(&s, M, 0x10400, 0x400, GM_PROT_RW));
	ASSERT_OK(gm_span_write_le32(&s, 0x3fc, 0xdeadbeef));
	ASSERT_EQ(h[0x7fc], 0xef);
	h[0x500] = 9;
	ASSERT_OK(gm_span_read_le32(&s, 0x100, &v));
	ASSERT_EQ(v & 0xff, 9);
	ASSERT_ERR(gm_span_read_le32(&s, 0x3fd, &v), -EFAULT);
	ASSERT_OK(gm_span_end(&s));
	ASSERT_ERR(gm_unmap_host(M, h + 0x400, GM_PROT_READ, 0), -ENOENT); /* released */
	/* Mapped whole, or not at all. */
	ASSERT_ERR(gm_span_begin(&s, M, 0x10f00, 0x200, GM_PROT_READ), -ERANGE);
	/* On a region that can only be copied: one read, one write back. */
	gm_test_fill(C.mem, sizeof(C.mem), 5);
	int reads = C.reads, writes = C.writes;
	ASSERT_OK(gm_span_begin(&s, M, 0x30000, 0x1000, GM_PROT_RW));
	ASSERT_OK(gm_span_write_le32(&s, 0x10, 0x01020304));
	ASSERT_OK(gm_span_end(&s));
	ASSERT_EQ(C.reads, reads + 1);
	ASSERT_EQ(C.writes, writes + 1);
	ASSERT_EQ(C.mem[0x10], 4);
	ASSERT_EQ(C.mem[0x0f], gm_test_pattern(5, 0x0f));
	/* Short on it: one read and, for two fields, one write. */
	reads = C.reads, writes = C.writes;
	ASSERT_OK(gm_span_begin(&s, M, 0x30020, 16, GM_PROT_RW));
	for (unsigned i = 0; i < 4; i++)
		ASSERT_OK(gm_span_read_le32(&s, i * 4, &v));
	ASSERT_OK(gm_span_write_le32(&s, 0, 1));
	ASSERT_OK(gm_span_write_le32(&s, 12, 2));
	ASSERT_OK(gm_span_end(&s));
	ASSERT_EQ(C.reads, reads + 1);
	ASSERT_EQ(C.writes, writes + 1);
	ASSERT_EQ(C.mem[0x2c], 2);
}

int main(void)
{
	setup();
	test_host_to_guest_ram();
	test_host_alias();
	test_unmap_host_ram();
	test_unmap_host_callback();
	test_unmap_host_bounce();
	test_whole();
	test_span_ram();
	test_span_long();
	gm_space_free(S);
	gm_region_free(ram);
	gm_region_free(ram2);
	gm_region_free(fhr);
	gm_region_free(cpr);
	return 0;
}
