/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bytes API: spanning accesses, endianness, fill, copy, atomics. */
#include "test-regions.h"

/*
 * Layout: [0x1000, 0x2000) RAM | [0x2000, 0x3000) copy-only |
 *         [0x3000, 0x4000) chunked map (100-byte mappings) | hole | RO RAM.
 */
static gm_space *s;
static gm_mem *m;
static gm_region *ram, *copy, *chunk, *ro;
static struct test_buf tcopy, tchunk;
static unsigned char ro_mem[0x1000];

static void setup(void)
{
	ASSERT_OK(gm_space_new(&s));
	m = gm_space_mem(s);
	ASSERT_OK(gm_ram_region_new_anon(0x1000, &ram));
	copy = test_region(&copy_ops, &tcopy, 0x1000, 0);
	chunk = test_region(&chunk_ops, &tchunk, 0x1000, 100);
	ASSERT_OK(gm_ram_region_new(ro_mem, sizeof(ro_mem), GM_PROT_READ, &ro));
	ASSERT_OK(gm_space_add(s, 0x1000, ram));
	ASSERT_OK(gm_space_add(s, 0x2000, copy));
	ASSERT_OK(gm_space_add(s, 0x3000, chunk));
	ASSERT_OK(gm_space_add(s, 0x8000, ro));
}

static void test_spanning(void)
{
	static unsigned char in[0x3000], out[0x3000];

	gm_test_fill(in, sizeof(in), 1);
	/* One write covering three regions of three kinds. */
	ASSERT_OK(gm_write(m, 0x1000, in, sizeof(in)));
	ASSERT_MEM_EQ(gm_ram_region_host(ram), in, 0x1000);
	ASSERT_MEM_EQ(tcopy.mem, in + 0x1000, 0x1000);
	ASSERT_MEM_EQ(tchunk.mem, in + 0x2000, 0x1000);
	ASSERT_EQ(tchunk.maps, (0x1000 + 99) / 100); /* split at every mapping */
	ASSERT_EQ(tchunk.outstanding, 0);
	ASSERT_OK(gm_read(m, 0x1000, out, sizeof(out)));
	ASSERT_MEM_EQ(out, in, sizeof(out));
	/* Unaligned piece across the RAM/copy boundary. */
	memset(out, 0, 16);
	ASSERT_OK(gm_read(m, 0x1ff9, out, 16));
	ASSERT_MEM_EQ(out, in + 0xff9, 16);
	/* Into the hole after the chunked region: error, prefix written. */
	ASSERT_ERR(gm_write(m, 0x3ff0, in, 32), -EFAULT);
	ASSERT_ERR(gm_read(m, 0x3ff0, out, 32), -EFAULT);
	/* Read-only RAM. */
	ASSERT_OK(gm_read(m, 0x8000, out, 8));
	ASSERT_ERR(gm_write(m, 0x8000, in, 8), -EACCES);
	ASSERT_ERR(gm_fill(m, 0x8000, 0, 8), -EACCES);
	/* Wrapping ranges fail before touching anything. */
	ASSERT_ERR(gm_read(m, UINT64_MAX - 3, out, 8), -EFAULT);
	ASSERT_ERR(gm_write(m, 0x1000, in, SIZE_MAX), -EFAULT);
	/* Zero length succeeds anywhere. */
	ASSERT_OK(gm_read(m, 0xdead0000, out, 0));
}

static void test_fill_copy(void)
{
	unsigned char out[0x300];

	ASSERT_OK(gm_fill(m, 0x1f00, 0x5a, 0x300)); /* RAM -> copy-only */
	ASSERT_OK(gm_read(m, 0x1f00, out, sizeof(out)));
	for (size_t i = 0; i < sizeof(out); i++)
		ASSERT_EQ(out[i], 0x5a);
	ASSERT_OK(gm_fill(m, 0x3000, 0x11, 0x1000)); /* chunked */
	ASSERT_EQ(tchunk.mem[0xfff], 0x11);
	/* Copy RAM+copy-only -> chunked, then check. */
	unsigned char pat[0x200];
	gm_test_fill(pat, sizeof(pat), 7);
	ASSERT_OK(gm_write(m, 0x1f00, pat, sizeof(pat)));
	ASSERT_OK(gm_copy(m, 0x3100, m, 0x1f00, sizeof(pat)));
	ASSERT_MEM_EQ(tchunk.mem + 0x100, pat, sizeof(pat));
	ASSERT_ERR(gm_copy(m, 0x3f00, m, 0x1f00, sizeof(pat)), -EFAULT);
	ASSERT_EQ(tchunk.outstanding, 0);
}

static void test_endian(void)
{
	static const unsigned char pat[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
	unsigned char raw[8];

	/* Every region kind and an unaligned, boundary-straddling address. */
	const uint64_t addrs[] = {0x1000, 0x1003, 0x1ffc, 0x2001, 0x3061};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		uint64_t a = addrs[i];
		ASSERT_OK(gm_write(m, a, pat, 8));
		ASSERT_OK(gm_read_le16(m, a, &v16));
		ASSERT_EQ(v16, 0x2301);
		ASSERT_OK(gm_read_be16(m, a, &v16));
		ASSERT_EQ(v16, 0x0123);
		ASSERT_OK(gm_read_le32(m, a, &v32));
		ASSERT_EQ(v32, 0x67452301);
		ASSERT_OK(gm_read_be32(m, a, &v32));
		ASSERT_EQ(v32, 0x01234567);
		ASSERT_OK(gm_read_le64(m, a, &v64));
		ASSERT_EQ_U64(v64, 0xefcdab8967452301ull);
		ASSERT_OK(gm_read_be64(m, a, &v64));
		ASSERT_EQ_U64(v64, 0x0123456789abcdefull);

		ASSERT_OK(gm_write_le64(m, a, 0x0123456789abcdefull));
		ASSERT_OK(gm_read(m, a, raw, 8));
		static const unsigned char le[8] = {0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
		ASSERT_MEM_EQ(raw, le, 8);
		ASSERT_OK(gm_write_be64(m, a, 0x0123456789abcdefull));
		ASSERT_OK(gm_read(m, a, raw, 8));
		ASSERT_MEM_EQ(raw, pat, 8);
		ASSERT_OK(gm_write_be32(m, a, 0xa1b2c3d4));
		ASSERT_OK(gm_read(m, a, raw, 4));
		ASSERT_EQ(raw[0], 0xa1);
		ASSERT_EQ(raw[3], 0xd4);
		ASSERT_OK(gm_write_le32(m, a, 0xa1b2c3d4));
		ASSERT_OK(gm_read(m, a, raw, 4));
		ASSERT_EQ(raw[0], 0xd4);
		ASSERT_OK(gm_write_be16(m, a, 0xbeef));
		ASSERT_OK(gm_read(m, a, raw, 2));
		ASSERT_EQ(raw[0], 0xbe);
		ASSERT_OK(gm_write_le16(m, a, 0xbeef));
		ASSERT_OK(gm_read(m, a, raw, 2));
		ASSERT_EQ(raw[0], 0xef);
	}
	ASSERT_ERR(gm_read_le32(m, 0x3ffe, &v32), -EFAULT);
	ASSERT_ERR(gm_read_le32(m, 0x1000, NULL), -EINVAL);
	struct { uint32_t a; uint16_t b; } obj = {7, 9}, back;
	ASSERT_OK(gm_write_obj(m, 0x1100, &obj));
	ASSERT_OK(gm_read_obj(m, 0x1100, &back));
	ASSERT_EQ(back.a, 7);
	ASSERT_EQ(back.b, 9);
}

static void test_atomics(void)
{
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	ASSERT_OK(gm_store_release16(m, 0x1010, 0x1234));
	ASSERT_OK(gm_read_le16(m, 0x1010, &v16));
	ASSERT_EQ(v16, 0x1234);
	ASSERT_OK(gm_load_acquire16(m, 0x1010, &v16));
	ASSERT_EQ(v16, 0x1234);
	ASSERT_OK(gm_store_release32(m, 0x1020, 0xdeadbeef));
	ASSERT_OK(gm_load_acquire32(m, 0x1020, &v32));
	ASSERT_EQ(v32, 0xdeadbeef);
	ASSERT_OK(gm_store_release64(m, 0x1040, 0x1122334455667788ull));
	ASSERT_OK(gm_load_acquire64(m, 0x1040, &v64));
	ASSERT_EQ_U64(v64, 0x1122334455667788ull);
	/* Guest little-endian in memory. */
	ASSERT_EQ(((unsigned char *)gm_ram_region_host(ram))[0x40], 0x88);
	/* Through a map callback: pinned for the access, released after. */
	ASSERT_OK(gm_store_release32(m, 0x3040, 0xcafef00d));
	ASSERT_OK(gm_load_acquire32(m, 0x3040, &v32));
	ASSERT_EQ(v32, 0xcafef00d);
	ASSERT_EQ(tchunk.outstanding, 0);
	ASSERT_ERR(gm_load_acquire32(m, 0x1022, &v32), -EINVAL);   /* misaligned */
	ASSERT_ERR(gm_load_acquire32(m, 0x2000, &v32), -EOPNOTSUPP); /* copy only */
	ASSERT_ERR(gm_store_release16(m, 0x8000, 1), -EACCES);      /* read-only */
	ASSERT_OK(gm_load_acquire16(m, 0x8000, &v16));
	ASSERT_ERR(gm_load_acquire64(m, 0x5000, &v64), -EFAULT);    /* hole */
}

/* The same calls on a region handle: addresses are offsets. */
static void test_region_handle(void)
{
	gm_mem *rm = gm_region_mem(copy);
	uint32_t v;

	ASSERT_OK(gm_write_le32(rm, 0x10, 0x01020304));
	ASSERT_OK(gm_read_le32(m, 0x2010, &v));
	ASSERT_EQ(v, 0x01020304);
	ASSERT_ERR(gm_read_le32(rm, 0xffe, &v), -EFAULT);
	ASSERT_ERR(gm_read_le32(rm, 0x1000, &v), -EFAULT);
	ASSERT_OK(gm_read_le32(GM_MEM(chunk), 0x40, &v));
	ASSERT_EQ(v, 0xcafef00d);
}

/* Scatter-gather: ranges over regions without read_sg/write_sg, one by one. */
static void test_sg(void)
{
	static unsigned char in[0x2000], out[0x2000];
	const struct gm_sg sg[4] = {{0x1ff0, 0x20}, {0x5000, 0}, {0x3010, 0x100}, {0x1000, 8}};
	const struct gm_sg bad[2] = {{0x1000, 8}, {0x3ff0, 32}};
	const struct gm_sg ro_sg[1] = {{0x8000, 8}};
	const struct gm_sg wrap[1] = {{UINT64_MAX - 3, 8}};

	gm_test_fill(in, sizeof(in), 7);
	ASSERT_OK(gm_write_sg(m, sg, 4, in));
	ASSERT_MEM_EQ((unsigned char *)gm_ram_region_host(ram) + 0xff0, in, 0x10);
	ASSERT_MEM_EQ(tcopy.mem, in + 0x10, 0x10);
	ASSERT_MEM_EQ(tchunk.mem + 0x10, in + 0x20, 0x100);
	ASSERT_MEM_EQ(gm_ram_region_host(ram), in + 0x120, 8);
	ASSERT_OK(gm_read_sg(m, sg, 4, out));
	ASSERT_MEM_EQ(out, in, 0x128);
	ASSERT_EQ(tchunk.outstanding, 0);
	ASSERT_ERR(gm_read_sg(m, bad, 2, out), -EFAULT);
	ASSERT_ERR(gm_write_sg(m, ro_sg, 1, in), -EACCES);
	ASSERT_OK(gm_read_sg(m, ro_sg, 1, out));
	ASSERT_ERR(gm_read_sg(m, wrap, 1, out), -EFAULT);
	ASSERT_ERR(gm_read_sg(NULL, sg, 4, out), -EINVAL);
	ASSERT_ERR(gm_read_sg(m, sg, 4, NULL), -EINVAL);
	ASSERT_OK(gm_write_sg(m, NULL, 0, NULL));
}

int main(void)
{
	setup();
	test_spanning();
	test_sg();
	test_fill_copy();
	test_endian();
	test_atomics();
	test_region_handle();
	gm_region_free(ram);
	gm_region_free(copy);
	gm_region_free(chunk);
	gm_region_free(ro);
	gm_space_free(s);
	test_buf_free(&tcopy);
	test_buf_free(&tchunk);
	return 0;
}
