/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gm_ring: persistent ring mappings and their bounds-checked accessors. */
#include "helpers.h"

#include <grantmem/grantmem.h>

static int ro_read(gm_region *r, uint64_t off, void *buf, size_t len)
{
	(void)r, (void)off;
	memset(buf, 0, len);
	return 0;
}

static const struct gm_region_ops copy_only_ops = {.read = ro_read};

/* A map callback that always asks for a bounce buffer instead. */
static void *bounce_please(gm_region *r, uint64_t off, size_t *len, int flags, int *err)
{
	(void)r, (void)off, (void)len, (void)flags;
	*err = -EOPNOTSUPP;
	return NULL;
}

static void no_unmap(gm_region *r, void *p, uint64_t off, size_t len, int flags, size_t acc)
{
	(void)r, (void)p, (void)off, (void)len, (void)flags, (void)acc;
	GM_TEST_FAIL("unmap of a mapping never made");
}

static const struct gm_region_ops bounce_ops = {
	.map = bounce_please, .unmap = no_unmap, .read = ro_read};

static void t_accessors(void)
{
	gm_region *rg;
	gm_space *s;
	gm_ring *r, *ro;
	unsigned char *host;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
	unsigned char buf[8];

	ASSERT_OK(gm_space_new(&s));
	ASSERT_OK(gm_ram_region_new_anon(1 << 16, &rg));
	ASSERT_OK(gm_space_add(s, 0x10000, rg));
	host = gm_ram_region_host(rg);
	gm_mem *m = gm_space_mem(s);

	ASSERT_OK(gm_ring_new(m, 0x10100, 64, GM_PROT_RW, &r));
	ASSERT_EQ_U64(gm_ring_addr(r), 0x10100);
	ASSERT_EQ(gm_ring_len(r), 64);
	ASSERT_EQ(gm_ring_npieces(r), 1);
	ASSERT_OK(gm_ring_write_le16(r, 0, 0x1234));
	ASSERT_OK(gm_ring_write_le32(r, 3, 0xa1b2c3d4));
	ASSERT_OK(gm_ring_write_le64(r, 56, 0x0102030405060708ull));
	ASSERT_EQ(host[0x100], 0x34);
	ASSERT_EQ(host[0x101], 0x12);
	ASSERT_EQ(host[0x103], 0xd4);
	ASSERT_EQ(host[0x100 + 63], 0x01);
	ASSERT_OK(gm_ring_read_le32(r, 3, &v32));
	ASSERT_EQ(v32, 0xa1b2c3d4);
	ASSERT_OK(gm_ring_read_le64(r, 56, &v64));
	ASSERT_EQ_U64(v64, 0x0102030405060708ull);
	ASSERT_OK(gm_ring_store_release16(r, 10, 0xbeef));
	ASSERT_OK(gm_ring_load_acquire16(r, 10, &v16));
	ASSERT_EQ(v16, 0xbeef);
	ASSERT_OK(gm_ring_read_le16(r, 10, &v16));
	ASSERT_EQ(v16, 0xbeef);
	gm_ring_fence();
	/* bounds: never past the end, whatever the offset */
	ASSERT_ERR(gm_ring_read_le16(r, 63, &v16), -EFAULT);
	ASSERT_ERR(gm_ring_read_le64(r, 57, &v64), -EFAULT);
	ASSERT_ERR(gm_ring_write_le32(r, 61, 0), -EFAULT);
	ASSERT_ERR(gm_ring_read(r, SIZE_MAX, buf, 2), -EFAULT);
	ASSERT_ERR(gm_ring_read(r, 1, buf, SIZE_MAX), -EFAULT);
	ASSERT_ERR(gm_ring_load_acquire16(r, 64, &v16), -EFAULT);
	ASSERT_ERR(gm_ring_store_release16(r, SIZE_MAX - 1, 0), -EFAULT);
	ASSERT_OK(gm_ring_read(r, 64, buf, 0));
	/* atomics need natural alignment */
	ASSERT_ERR(gm_ring_load_acquire16(r, 1, &v16), -EINVAL);
	ASSERT_ERR(gm_ring_store_release16(r, 3, 1), -EINVAL);

	/* read-only rings refuse stores */
	ASSERT_OK(gm_ring_new(m, 0x10100, 64, GM_PROT_READ, &ro));
	ASSERT_OK(gm_ring_read_le16(ro, 0, &v16));
	ASSERT_EQ(v16, 0x1234);
	ASSERT_ERR(gm_ring_write_le16(ro, 0, 1), -EACCES);
	ASSERT_ERR(gm_ring_store_release16(ro, 0, 1), -EACCES);
	gm_ring_free(ro);
	gm_ring_free(r);
	gm_ring_free(NULL);

	/* bad arguments and memory */
	r = (gm_ring *)s;
	ASSERT_ERR(gm_ring_new(m, 0x10100, 0, GM_PROT_READ, &r), -EINVAL);
	ASSERT_NULL(r);
	ASSERT_ERR(gm_ring_new(m, UINT64_MAX - 4, 64, GM_PROT_READ, &r), -EINVAL);
	ASSERT_ERR(gm_ring_new(m, 0x10100, 64, 0, &r), -EINVAL);
	ASSERT_ERR(gm_ring_new(m, 0x10100, 64, GM_PROT_READ | GM_MAP_TRANSIENT, &r), -EINVAL);
	ASSERT_ERR(gm_ring_new(m, 0x100, 64, GM_PROT_READ, &r), -EFAULT);
	ASSERT_ERR(gm_ring_new(m, 0x1fff0, 64, GM_PROT_READ, &r), -EFAULT); /* runs off */
	ASSERT_NULL(r);
	gm_space_free(s);
	gm_region_free(rg);
}

/* A ring across two regions (boundary at an odd address). */
static void t_pieces(void)
{
	gm_region *a, *b, *c, *d, *e;
	gm_space *s;
	gm_ring *r;
	uint16_t v16;
	uint32_t v32;
	unsigned char in[64], out[64];

	ASSERT_OK(gm_space_new(&s));
	ASSERT_OK(gm_ram_region_new_anon(0x1001, &a));
	ASSERT_OK(gm_ram_region_new_anon(0x1000, &b));
	ASSERT_OK(gm_space_add(s, 0, a));
	ASSERT_OK(gm_space_add(s, 0x1001, b));
	gm_mem *m = gm_space_mem(s);

	ASSERT_OK(gm_ring_new(m, 0xff0, 64, GM_PROT_RW, &r));
	ASSERT_EQ(gm_ring_npieces(r), 2);
	ASSERT_OK(gm_ring_write_le32(r, 0xf, 0x11223344)); /* 0xfff..0x1002 */
	ASSERT_OK(gm_ring_read_le32(r, 0xf, &v32));
	ASSERT_EQ(v32, 0x11223344);
	ASSERT_OK(gm_read_le32(m, 0xfff, &v32));
	ASSERT_EQ(v32, 0x11223344);
	gm_test_fill(in, sizeof(in), 9);
	ASSERT_OK(gm_ring_write(r, 0, in, sizeof(in)));
	ASSERT_OK(gm_ring_read(r, 0, out, sizeof(out)));
	ASSERT_MEM_EQ(in, out, sizeof(in));
	/* an aligned 16-bit word split by the boundary cannot be atomic */
	ASSERT_ERR(gm_ring_load_acquire16(r, 0x10, &v16), -EINVAL);
	/* guest-aligned but odd on the host (region b starts at 0x1001) */
	ASSERT_ERR(gm_ring_store_release16(r, 0x12, 7), -EINVAL);
	ASSERT_OK(gm_ring_store_release16(r, 0x2, 7));
	ASSERT_OK(gm_ring_load_acquire16(r, 0x2, &v16));
	ASSERT_EQ(v16, 7);
	gm_ring_free(r);

	/* memory that can only be copied: no ring (it would be a stale copy) */
	ASSERT_OK(gm_region_new(0x1000, &copy_only_ops, NULL, &c));
	ASSERT_OK(gm_space_add(s, 0x10000, c));
	r = NULL;
	ASSERT_ERR(gm_ring_new(m, 0x10000, 64, GM_PROT_READ, &r), -EOPNOTSUPP);
	ASSERT_NULL(r);
	/* nor memory whose map callback asks for a bounce buffer */
	ASSERT_OK(gm_region_new(0x1000, &bounce_ops, NULL, &d));
	ASSERT_OK(gm_space_add(s, 0x20000, d));
	ASSERT_ERR(gm_ring_new(m, 0x20000, 64, GM_PROT_READ, &r), -EOPNOTSUPP);
	ASSERT_NULL(r);
	/* and a ring that runs from RAM into such memory keeps nothing mapped:
	 * a leaked mapping would keep the RAM's addresses busy once removed */
	ASSERT_OK(gm_ram_region_new_anon(0x1000, &e));
	ASSERT_OK(gm_space_add(s, 0x1f000, e));
	ASSERT_OK(gm_ring_new(m, 0x1ff80, 0x80, GM_PROT_RW, &r)); /* RAM alone maps */
	gm_ring_free(r);
	ASSERT_ERR(gm_ring_new(m, 0x1ffc0, 0x80, GM_PROT_READ, &r), -EOPNOTSUPP);
	ASSERT_NULL(r);
	ASSERT_OK(gm_space_remove(s, e));
	ASSERT_OK(gm_space_add(s, 0x1f000, e));
	gm_region_free(d);
	gm_region_free(e);
	gm_space_free(s);
	gm_region_free(a);
	gm_region_free(b);
	gm_region_free(c);
}

int main(void)
{
	gm_set_log(NULL, NULL, GM_LOG_ERROR);
	t_accessors();
	t_pieces();
	return 0;
}
