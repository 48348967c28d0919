/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Packed virtqueues on RAM: the common tests, plus packed-only cases. */
#define VT_PACKED 1
#include "test-virtq-body.h"

/* Used descriptors: id and len where the chain started, both wrap bits. */
static void t_used_layout(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = {.packed = true, .size = 3};
	const struct vqd_buf b[2] = {{ga(DATA_AREA), 8, false}, {ga(DATA_AREA + 8), 8, true}};
	uint16_t flags, id;
	uint32_t len;

	tq_init(&t, &g, &o);
	/* a 2-descriptor chain at slots 0-1, then one at slots 2-0 (wraps) */
	ASSERT_EQ(vqd_add(&t.d, b, 2, 0, NULL), 0);
	struct gm_vq_req *r = tq_pop(&t);
	ASSERT_OK(gm_vq_push(t.vq, r, 5, NULL));
	ASSERT_OK(gm_read_le16(g.m, t.d.cfg.desc_addr + 14, &flags));
	ASSERT_EQ(flags, GM_VRING_PACKED_DESC_F_AVAIL | GM_VRING_PACKED_DESC_F_USED |
				 GM_VRING_DESC_F_WRITE);
	ASSERT_OK(gm_read_le32(g.m, t.d.cfg.desc_addr + 8, &len));
	ASSERT_EQ(len, 5);
	ASSERT_OK(vqd_get_used(&t.d, NULL, NULL));
	ASSERT_EQ(vqd_add(&t.d, b, 2, 0, NULL), 0);
	r = tq_pop(&t);
	ASSERT_EQ(r->id, 0);
	ASSERT_OK(gm_vq_push(t.vq, r, 6, NULL));
	/* written at slot 2 with wrap counter 1 (the device's lap had not ended) */
	ASSERT_OK(gm_read_le16(g.m, t.d.cfg.desc_addr + 2 * 16 + 14, &flags));
	ASSERT_EQ(flags & (GM_VRING_PACKED_DESC_F_AVAIL | GM_VRING_PACKED_DESC_F_USED),
		  GM_VRING_PACKED_DESC_F_AVAIL | GM_VRING_PACKED_DESC_F_USED);
	ASSERT_OK(gm_read_le16(g.m, t.d.cfg.desc_addr + 2 * 16 + 12, &id));
	ASSERT_EQ(id, 0);
	ASSERT_OK(vqd_get_used(&t.d, NULL, &len));
	ASSERT_EQ(len, 6);
	/* next chain starts at slot 1 on lap 2: wrap bits now 0 for used */
	ASSERT_EQ(vqd_add(&t.d, b, 1, 0, NULL), 0);
	r = tq_pop(&t);
	ASSERT_OK(gm_vq_push(t.vq, r, 0, NULL));
	ASSERT_OK(gm_read_le16(g.m, t.d.cfg.desc_addr + 16 + 14, &flags));
	ASSERT_EQ(flags & (GM_VRING_PACKED_DESC_F_AVAIL | GM_VRING_PACKED_DESC_F_USED), 0);
	ASSERT_OK(vqd_get_used(&t.d, NULL, NULL));
	tq_fini(&t);
	ram_free(&g);
}

int main(void)
{
	run_common_tests();
	t_used_layout();
	return 0;
}
