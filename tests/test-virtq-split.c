/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Split virtqueues on RAM: the common tests, plus split-only layouts. */
#define VT_PACKED 0
#include "test-virtq-body.h"

/* Direct descriptors followed by an indirect one (2.7.5.3.2). */
static void t_direct_then_indirect(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = {.size = 8, .indirect = true};

	tq_init(&t, &g, &o);
	gm_test_fill(g.host + DATA_AREA, 32, 40);
	ASSERT_OK(vqd_split_write_desc(&t.d, 5, ga(DATA_AREA), 32, GM_VRING_DESC_F_NEXT, 2));
	ASSERT_OK(vqd_split_write_desc(&t.d, 2, ga(ITAB_AREA), 32, GM_VRING_DESC_F_INDIRECT, 0));
	/* table: entry 0 -> entry 1 (readable, then writable) */
	ASSERT_OK(vqd_write_itab(&t.d, ga(ITAB_AREA), 0, ga(DATA_AREA + 64), 16,
				 GM_VRING_DESC_F_NEXT, 1));
	ASSERT_OK(vqd_write_itab(&t.d, ga(ITAB_AREA), 1, ga(DATA_AREA + 128), 48,
				 GM_VRING_DESC_F_WRITE, 0));
	ASSERT_OK(vqd_split_push_head(&t.d, 5));
	struct gm_vq_req *r = tq_pop(&t);
	ASSERT_EQ(r->id, 5);
	ASSERT_EQ(r->nout, 2);
	ASSERT_EQ(r->nin, 1);
	ASSERT_EQ(r->out_len, 48);
	ASSERT_EQ(r->in_len, 48);
	ASSERT_TRUE(vt_pattern_ok(r->iov[0].iov_base, 32, 40));
	ASSERT_OK(gm_vq_push(t.vq, r, 48, NULL));
	/* the used ring says head 5, 48 bytes */
	uint32_t id, len;
	ASSERT_OK(gm_read_le32(g.m, t.d.cfg.device_addr + 4, &id));
	ASSERT_OK(gm_read_le32(g.m, t.d.cfg.device_addr + 8, &len));
	ASSERT_EQ(id, 5);
	ASSERT_EQ(len, 48);
	tq_fini(&t);
	ram_free(&g);
}

int main(void)
{
	run_common_tests();
	t_direct_then_indirect();
	return 0;
}
