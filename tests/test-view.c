/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Views: windows and permissions on top of a space. */
#include "test-regions.h"

int main(void)
{
	gm_space *s;
	gm_region *ram;
	gm_view *v, *ro, *nested;
	unsigned char buf[0x100];
	size_t len;
	int err;

	ASSERT_OK(gm_space_new(&s));
	ASSERT_OK(gm_ram_region_new_anon(0x4000, &ram));
	ASSERT_OK(gm_space_add(s, 0x10000, ram));
	gm_mem *m = gm_space_mem(s);

	const struct gm_sg wins[2] = {{0x12000, 0x100}, {0x10000, 0x1000}};
	ASSERT_OK(gm_view_new(m, wins, 2, GM_PROT_RW, &v));
	gm_mem *vm = gm_view_mem(v);
	gm_test_fill(buf, sizeof(buf), 5);
	ASSERT_OK(gm_write(vm, 0x10fc0, buf, 0x40));            /* last bytes of a window */
	ASSERT_ERR(gm_write(vm, 0x10fc1, buf, 0x40), -EFAULT);  /* one past */
	ASSERT_ERR(gm_read(vm, 0x11000, buf, 1), -EFAULT);      /* between windows */
	ASSERT_OK(gm_read(vm, 0x12000, buf, 0x40));
	ASSERT_ERR(gm_read(vm, 0x120f0, buf, 0x20), -EFAULT);
	ASSERT_ERR(gm_read(vm, 0xffff, buf, 1), -EFAULT);
	/* gm_map is clamped at the window end, not the region end. */
	len = 0x4000;
	void *p = gm_map(vm, 0x10800, &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(len, 0x800);
	gm_unmap(vm, 0x10800, p, len, GM_PROT_READ, 0);

	/* A read-only view of the same memory. */
	const struct gm_sg all = {0x10000, 0x4000};
	ASSERT_OK(gm_view_new(m, &all, 1, GM_PROT_READ, &ro));
	gm_mem *rm = gm_view_mem(ro);
	ASSERT_OK(gm_read(rm, 0x10fc0, buf, 0x40));
	ASSERT_ERR(gm_write(rm, 0x10000, buf, 1), -EACCES);
	ASSERT_ERR(gm_write_le32(rm, 0x10000, 1), -EACCES);
	ASSERT_ERR(gm_store_release32(rm, 0x10000, 1), -EACCES);
	len = 4;
	ASSERT_NULL(gm_map(rm, 0x10000, &len, GM_PROT_WRITE, &err));
	ASSERT_EQ(err, -EACCES);
	struct iovec iov[2];
	struct gm_sg sg = {0x10000, 16};
	ASSERT_ERR(gm_map_sg(rm, &sg, 1, iov, 2, GM_PROT_RW), -EACCES);
	ASSERT_EQ(gm_map_sg(rm, &sg, 1, iov, 2, GM_PROT_READ), 1);
	gm_unmap_sg(rm, &sg, 1, iov, 1, GM_PROT_READ, 0);

	/* A view of a view narrows both window and permission. */
	const struct gm_sg narrow = {0x10f00, 0x200};
	ASSERT_OK(gm_view_new(vm, &narrow, 1, GM_PROT_READ, &nested));
	ASSERT_OK(gm_read(gm_view_mem(nested), 0x10f00, buf, 0x100));
	ASSERT_ERR(gm_read(gm_view_mem(nested), 0x10f00, buf, 0x101), -EFAULT);
	ASSERT_ERR(gm_write(gm_view_mem(nested), 0x10f00, buf, 1), -EACCES);

	/* Bad windows. */
	gm_view *bad;
	const struct gm_sg overlap[2] = {{0x10000, 0x100}, {0x100ff, 0x10}};
	const struct gm_sg wrap = {UINT64_MAX, 2}, empty = {0x10000, 0};
	ASSERT_ERR(gm_view_new(m, overlap, 2, GM_PROT_READ, &bad), -EINVAL);
	ASSERT_ERR(gm_view_new(m, &wrap, 1, GM_PROT_READ, &bad), -EINVAL);
	ASSERT_ERR(gm_view_new(m, &empty, 1, GM_PROT_READ, &bad), -EINVAL);
	ASSERT_ERR(gm_view_new(m, &all, 1, 0, &bad), -EINVAL);
	ASSERT_ERR(gm_view_new(m, &all, 0, GM_PROT_READ, &bad), -EINVAL);

	gm_view_free(nested);
	gm_view_free(ro);
	gm_view_free(v);
	gm_region_free(ram);
	gm_space_free(s);
	return 0;
}
