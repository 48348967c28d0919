/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Virtqueue tests that hold for both layouts, on RAM.  Included by
 * test-virtq-split.c and test-virtq-packed.c with VT_PACKED set to 0 or 1.
 */
#ifndef VT_PACKED
#error "define VT_PACKED"
#endif

#include "test-virtq-common.h"

static const bool P = VT_PACKED;

/* A size that is legal for the layout and not a power of 2 where allowed. */
#define ODD_SIZE (VT_PACKED ? 5u : 4u)

static struct tq_opts opts(unsigned size)
{
	return (struct tq_opts){.packed = P, .size = size};
}

static void t_basic(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(8);
	int tok = 0;

	tq_init(&t, &g, &o);
	ASSERT_EQ(gm_vq_size(t.vq), 8);
	ASSERT_EQ(gm_vq_is_packed(t.vq), P);
	gm_test_fill(g.host + DATA_AREA, 100, 1);
	gm_test_fill(g.host + DATA_AREA + 0x1000, 3000, 2);
	const struct vqd_buf b[3] = {
		{ga(DATA_AREA), 100, false},
		{ga(DATA_AREA + 0x1000), 3000, false},
		{ga(DATA_AREA + 0x3000), 500, true},
	};
	struct gm_vq_req *r;

	ASSERT_ERR(gm_vq_pop(t.vq, &r), -EAGAIN);
	ASSERT_NULL(r);
	ASSERT_EQ(gm_vq_pending(t.vq), 0);
	int id = vqd_add(&t.d, b, 3, 0, &tok);
	ASSERT_TRUE(id >= 0);
	ASSERT_EQ(vqd_kick_needed(&t.d), 1);
	ASSERT_EQ(gm_vq_pending(t.vq), 1);
	r = tq_pop(&t);
	ASSERT_EQ(r->id, id);
	ASSERT_EQ(r->nout, 2);
	ASSERT_EQ(r->nin, 1);
	ASSERT_EQ(r->nsg_out, 2);
	ASSERT_EQ(r->nsg_in, 1);
	ASSERT_EQ(r->out_len, 3100);
	ASSERT_EQ(r->in_len, 500);
	ASSERT_EQ_U64(r->sg[1].addr, ga(DATA_AREA + 0x1000));
	ASSERT_EQ(r->sg[2].len, 500);
	ASSERT_PTR_EQ(r->iov[0].iov_base, g.host + DATA_AREA); /* zero-copy */
	ASSERT_TRUE(vt_pattern_ok(r->iov[1].iov_base, 3000, 2));
	ASSERT_EQ(gm_vq_inflight(t.vq), 1);
	ASSERT_EQ(req_scatter_pattern(r, 3, 200), 200);
	bool notify = false;
	ASSERT_OK(gm_vq_push(t.vq, r, 200, &notify));
	ASSERT_TRUE(notify);
	ASSERT_EQ(gm_vq_inflight(t.vq), 0);
	void *got = NULL;
	uint32_t len = 0;
	ASSERT_OK(vqd_get_used(&t.d, &got, &len));
	ASSERT_PTR_EQ(got, &tok);
	ASSERT_EQ(len, 200);
	ASSERT_TRUE(vt_pattern_ok(g.host + DATA_AREA + 0x3000, 200, 3));
	ASSERT_ERR(vqd_get_used(&t.d, &got, &len), -EAGAIN);
	ASSERT_ERR(gm_vq_pop(t.vq, &r), -EAGAIN);
	ASSERT_TRUE(!gm_vq_broken(t.vq));
	tq_fini(&t);
	ram_free(&g);
}

/* Only readable, only writable, and the persistent buffer policy. */
static void t_directions(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(ODD_SIZE);

	o.buf_flags = GM_MAP_PERSISTENT;
	tq_init(&t, &g, &o);
	const struct vqd_buf rd = {ga(DATA_AREA), 64, false}, wr = {ga(DATA_AREA + 64), 64, true};
	struct gm_vq_req *r;

	ASSERT_TRUE(vqd_add(&t.d, &rd, 1, 0, NULL) >= 0);
	ASSERT_TRUE(vqd_add(&t.d, &wr, 1, 0, NULL) >= 0);
	r = tq_pop(&t);
	ASSERT_EQ(r->nout, 1);
	ASSERT_EQ(r->nin, 0);
	ASSERT_OK(gm_vq_push(t.vq, r, 0, NULL));
	r = tq_pop(&t);
	ASSERT_EQ(r->nout, 0);
	ASSERT_EQ(r->nin, 1);
	/* more than was writable is clamped to in_len */
	ASSERT_OK(gm_vq_push(t.vq, r, 1000, NULL));
	uint32_t len;
	ASSERT_OK(vqd_get_used(&t.d, NULL, &len));
	ASSERT_EQ(len, 0);
	ASSERT_OK(vqd_get_used(&t.d, NULL, &len));
	ASSERT_EQ(len, 64);
	tq_fini(&t);
	ram_free(&g);
}

static void t_indirect(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(4);
	struct vqd_buf b[8];

	o.indirect = true;
	o.max_chain = 8; /* above the queue size: allowed when configured */
	tq_init(&t, &g, &o);
	for (unsigned i = 0; i < 8; i++) {
		b[i] = (struct vqd_buf){ga(DATA_AREA + i * 0x2000), 1000 + i, i >= 5};
		if (i < 5)
			gm_test_fill(g.host + DATA_AREA + i * 0x2000, 1000 + i, 10 + i);
	}
	/* 8 buffers through one ring descriptor of a 4-entry queue */
	int id = vqd_add(&t.d, b, 8, ga(ITAB_AREA), NULL);
	ASSERT_TRUE(id >= 0);
	ASSERT_EQ(t.d.num_free, 3);
	struct gm_vq_req *r = tq_pop(&t);
	ASSERT_EQ(r->id, id);
	ASSERT_EQ(r->nout, 5);
	ASSERT_EQ(r->nin, 3);
	for (unsigned i = 0; i < 5; i++)
		ASSERT_TRUE(vt_pattern_ok(r->iov[i].iov_base, 1000 + i, 10 + i));
	ASSERT_EQ(r->in_len, 1005 + 1006 + 1007);
	ASSERT_OK(gm_vq_push(t.vq, r, 1005, NULL));
	uint32_t len;
	ASSERT_OK(vqd_get_used(&t.d, NULL, &len));
	ASSERT_EQ(len, 1005);
	ASSERT_EQ(t.d.num_free, 4);
	tq_fini(&t);
	ram_free(&g);
}

/* A full queue in flight, completed in a scrambled order. */
static void t_out_of_order(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(16);
	struct gm_vq_req *r[16];
	int tok[16];
	const unsigned order[16] = {3, 0, 15, 7, 8, 1, 2, 14, 4, 13, 5, 12, 6, 11, 9, 10};

	tq_init(&t, &g, &o);
	/* two-descriptor chains: the driver runs out of descriptors at 8 */
	for (unsigned i = 0; i < 9; i++) {
		const struct vqd_buf b[2] = {{ga(DATA_AREA + i * 256), 16, false},
					     {ga(DATA_AREA + i * 256 + 128), 64, true}};
		tok[i] = (int)i;
		int id = vqd_add(&t.d, b, 2, 0, &tok[i]);
		if (i < 8)
			ASSERT_TRUE(id >= 0);
		else
			ASSERT_EQ(id, -ENOSPC);
	}
	for (unsigned i = 0; i < 8; i++)
		r[i] = tq_pop(&t);
	ASSERT_EQ(gm_vq_inflight(t.vq), 8);
	/* freeing the queue releases what is in flight */
	tq_fini(&t);
	ram_free(&g);

	/* with single-descriptor chains the whole queue fits */
	g = ram_new();
	tq_init(&t, &g, &o);
	for (unsigned i = 0; i < 16; i++) {
		const struct vqd_buf b = {ga(DATA_AREA + i * 256), 64, true};
		tok[i] = (int)i;
		ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, &tok[i]) >= 0);
	}
	for (unsigned i = 0; i < 16; i++)
		r[i] = tq_pop(&t);
	struct gm_vq_req *extra;
	ASSERT_ERR(gm_vq_pop(t.vq, &extra), -EAGAIN);
	for (unsigned k = 0; k < 16; k++) {
		unsigned i = order[k];
		ASSERT_OK(gm_vq_push(t.vq, r[i], i + 1, NULL));
	}
	for (unsigned k = 0; k < 16; k++) {
		void *got;
		uint32_t len;
		ASSERT_OK(vqd_get_used(&t.d, &got, &len));
		ASSERT_PTR_EQ(got, &tok[order[k]]);
		ASSERT_EQ(len, order[k] + 1);
	}
	ASSERT_EQ(gm_vq_inflight(t.vq), 0);
	tq_fini(&t);
	ram_free(&g);
}

/* More than 65536 requests through a tiny queue: 16-bit wrap, wrap counters. */
static void t_wrap(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(ODD_SIZE);
	struct gm_vq_req *r[2];
	unsigned long n = 0;

	o.event_idx = true;
	tq_init(&t, &g, &o);
	for (unsigned round = 0; round < 70000 / 2; round++) {
		int tok[2];
		for (unsigned k = 0; k < 2; k++) {
			const struct vqd_buf b[2] = {{ga(DATA_AREA + k * 64), 8, false},
						     {ga(DATA_AREA + 256 + k * 64), 8, true}};
			uint64_t v = n + k;
			memcpy(g.host + DATA_AREA + k * 64, &v, 8);
			tok[k] = (int)k;
			ASSERT_TRUE(vqd_add(&t.d, b, 2, 0, &tok[k]) >= 0);
		}
		for (unsigned k = 0; k < 2; k++) {
			uint64_t v;
			r[k] = tq_pop(&t);
			memcpy(&v, r[k]->iov[0].iov_base, 8);
			ASSERT_EQ(v, n + k);
			memcpy(r[k]->iov[1].iov_base, &v, 8);
		}
		/* alternate completion order */
		for (unsigned k = 0; k < 2; k++)
			ASSERT_OK(gm_vq_push(t.vq, r[round & 1 ? 1 - k : k], 8, NULL));
		for (unsigned k = 0; k < 2; k++) {
			void *got;
			uint32_t len;
			ASSERT_OK(vqd_get_used(&t.d, &got, &len));
			unsigned i = round & 1 ? 1 - k : k;
			ASSERT_PTR_EQ(got, &tok[i]);
			uint64_t v;
			memcpy(&v, g.host + DATA_AREA + 256 + i * 64, 8);
			ASSERT_EQ(v, n + i);
		}
		n += 2;
	}
	ASSERT_TRUE(n > 65536);
	ASSERT_TRUE(!gm_vq_broken(t.vq));
	tq_fini(&t);
	ram_free(&g);
}

static void t_batch(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(8);
	struct gm_vq_req *r[4];
	const uint32_t written[4] = {1, 2, 3, 4};
	bool notify = false;

	tq_init(&t, &g, &o);
	for (unsigned i = 0; i < 4; i++) {
		const struct vqd_buf b = {ga(DATA_AREA + i * 64), 8, true};
		ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
		r[i] = tq_pop(&t);
	}
	/* a batch naming one request twice does nothing */
	struct gm_vq_req *dup[2] = {r[0], r[0]};
	ASSERT_ERR(gm_vq_push_batch(t.vq, dup, written, 2, &notify), -EINVAL);
	ASSERT_EQ(gm_vq_inflight(t.vq), 4);
	ASSERT_ERR(gm_vq_push_batch(t.vq, r, written, 0, &notify), -EINVAL);
	ASSERT_OK(gm_vq_push_batch(t.vq, r, written, 4, &notify));
	ASSERT_TRUE(notify);
	for (unsigned i = 0; i < 4; i++) {
		uint32_t len;
		ASSERT_OK(vqd_get_used(&t.d, NULL, &len));
		ASSERT_EQ(len, written[i]);
	}
	tq_fini(&t);
	ram_free(&g);
}

/*
 * A batch: six chains of every shape (a read and a write request with
 * their small direction copied, an indirect one mapped both ways, one-way
 * chains) taken by one pop, mapped with one gm_map_sg per direction, and
 * published together once the last of them is pushed.
 */
static void t_pop_batch(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(16);
	struct gm_vq_req *r[6];
	struct gm_vq_stats s0 = {.size = sizeof(s0)}, s1 = {.size = sizeof(s1)};
	unsigned char *h = g.host + DATA_AREA;
	const uint32_t want_len[6] = {513, 1, 800, 0, 200, 8};
	bool notify = true;
	int tok[6];

	o.indirect = true;
	o.event_idx = true;
	tq_init(&t, &g, &o);
	for (unsigned i = 0; i < 4; i++)
		gm_test_fill(h + i * 0x1000, 0x1000, 50 + i);
	const struct vqd_buf rd[3] = {{ga(DATA_AREA), 16, false},
				      {ga(DATA_AREA + 0x4000), 512, true},
				      {ga(DATA_AREA + 0x4200), 1, true}};
	const struct vqd_buf wr[3] = {{ga(DATA_AREA + 0x1000), 16, false},
				      {ga(DATA_AREA + 0x1100), 600, false},
				      {ga(DATA_AREA + 0x4300), 1, true}};
	const struct vqd_buf ind[5] = {{ga(DATA_AREA + 0x2000), 300, false},
				       {ga(DATA_AREA + 0x2200), 300, false},
				       {ga(DATA_AREA + 0x2400), 300, false},
				       {ga(DATA_AREA + 0x5000), 400, true},
				       {ga(DATA_AREA + 0x5200), 400, true}};
	const struct vqd_buf only_rd = {ga(DATA_AREA + 0x3000), 100, false};
	const struct vqd_buf only_wr[2] = {{ga(DATA_AREA + 0x6000), 100, true},
					   {ga(DATA_AREA + 0x6100), 100, true}};
	const struct vqd_buf mixed[2] = {{ga(DATA_AREA + 0x3100), 8, false},
					 {ga(DATA_AREA + 0x6200), 8, true}};
	int ids[6];

	ids[0] = vqd_add(&t.d, rd, 3, 0, &tok[0]);
	ids[1] = vqd_add(&t.d, wr, 3, 0, &tok[1]);
	ids[2] = vqd_add(&t.d, ind, 5, ga(ITAB_AREA), &tok[2]);
	ids[3] = vqd_add(&t.d, &only_rd, 1, 0, &tok[3]);
	ids[4] = vqd_add(&t.d, only_wr, 2, 0, &tok[4]);
	ids[5] = vqd_add(&t.d, mixed, 2, 0, &tok[5]);
	for (unsigned i = 0; i < 6; i++)
		ASSERT_TRUE(ids[i] >= 0);
	gm_vq_stats(t.vq, &s0);
	tq_pop_n(&t, r, 6);
	gm_vq_stats(t.vq, &s1);
	ASSERT_EQ_U64(s1.map_calls - s0.map_calls, 2); /* one per direction */
	ASSERT_EQ_U64(s1.batches - s0.batches, 1);
	ASSERT_EQ_U64(s1.requests - s0.requests, 6);
	ASSERT_EQ(gm_vq_inflight(t.vq), 6);
	for (unsigned i = 0; i < 6; i++) {
		ASSERT_EQ(r[i]->id, ids[i]);
		ASSERT_EQ(r[i]->error, 0);
	}
	/* the read: header copied, data and status mapped in place */
	ASSERT_EQ(r[0]->nout, 1);
	ASSERT_EQ(r[0]->nin, 2);
	ASSERT_TRUE(vt_pattern_ok(r[0]->iov[0].iov_base, 16, 50));
	ASSERT_PTR_EQ(r[0]->iov[1].iov_base, h + 0x4000);
	ASSERT_PTR_EQ(r[0]->iov[2].iov_base, h + 0x4200);
	/* the write: header and data in place, status copied */
	ASSERT_EQ(r[1]->nout, 2);
	ASSERT_EQ(r[1]->nin, 1);
	ASSERT_PTR_EQ(r[1]->iov[0].iov_base, h + 0x1000);
	ASSERT_PTR_EQ(r[1]->iov[1].iov_base, h + 0x1100);
	ASSERT_TRUE(r[1]->iov[2].iov_base < (void *)g.host ||
		    r[1]->iov[2].iov_base >= (void *)(g.host + RAM_SIZE));
	/* indirect, both directions above GM_VQ_COPY_MAX: all mapped */
	ASSERT_EQ(r[2]->nout, 3);
	ASSERT_EQ(r[2]->nin, 2);
	for (unsigned i = 0; i < 3; i++)
		ASSERT_PTR_EQ(r[2]->iov[i].iov_base, h + 0x2000 + i * 0x200);
	ASSERT_PTR_EQ(r[2]->iov[4].iov_base, h + 0x5200);
	ASSERT_EQ(r[3]->nout, 1);
	ASSERT_EQ(r[3]->nin, 0);
	ASSERT_PTR_EQ(r[4]->iov[1].iov_base, h + 0x6100);
	ASSERT_EQ(r[5]->nout + r[5]->nin, 2);
	/* pushed one by one: the guest sees nothing until the last */
	for (unsigned i = 0; i < 5; i++) {
		ASSERT_EQ(req_scatter_pattern(r[i], 60 + i, r[i]->in_len), r[i]->in_len);
		ASSERT_OK(gm_vq_push(t.vq, r[i], (uint32_t)r[i]->in_len, &notify));
		ASSERT_TRUE(!notify);
		ASSERT_ERR(vqd_get_used(&t.d, NULL, NULL), -EAGAIN);
		ASSERT_EQ(gm_vq_inflight(t.vq), 5 - i);
	}
	ASSERT_EQ(req_scatter_pattern(r[5], 65, 8), 8);
	ASSERT_OK(gm_vq_push(t.vq, r[5], 8, &notify));
	ASSERT_TRUE(notify);
	for (unsigned i = 0; i < 6; i++) {
		void *got;
		uint32_t len;

		ASSERT_OK(vqd_get_used(&t.d, &got, &len));
		ASSERT_PTR_EQ(got, &tok[i]);
		ASSERT_EQ(len, want_len[i]);
	}
	ASSERT_ERR(vqd_get_used(&t.d, NULL, NULL), -EAGAIN);
	/* what the device wrote is in the guest, the copied status included */
	ASSERT_TRUE(vt_pattern_ok(h + 0x4000, 512, 60));
	ASSERT_EQ(h[0x4300], gm_test_pattern(61, 0));
	ASSERT_TRUE(vt_pattern_ok(h + 0x5000, 400, 62));
	ASSERT_EQ(h[0x6200], gm_test_pattern(65, 0));

	/* a batch of one is published at once; so is any with persistent
	 * mappings (nothing is shared that the guest would take back) */
	ASSERT_TRUE(vqd_add(&t.d, &only_rd, 1, 0, NULL) >= 0);
	tq_pop_n(&t, r, 1);
	ASSERT_OK(gm_vq_push(t.vq, r[0], 0, &notify));
	ASSERT_OK(vqd_get_used(&t.d, NULL, NULL));
	tq_fini(&t);

	o.buf_flags = GM_MAP_PERSISTENT;
	tq_init(&t, &g, &o);
	for (unsigned i = 0; i < 3; i++)
		ASSERT_TRUE(vqd_add(&t.d, &only_rd, 1, 0, NULL) >= 0);
	tq_pop_n(&t, r, 3);
	ASSERT_OK(gm_vq_push(t.vq, r[1], 0, NULL));
	ASSERT_OK(vqd_get_used(&t.d, NULL, NULL));
	ASSERT_OK(gm_vq_push_batch(t.vq, (struct gm_vq_req *[]){r[2], r[0]}, NULL, 2, NULL));
	ASSERT_OK(vqd_get_used(&t.d, NULL, NULL));
	ASSERT_OK(vqd_get_used(&t.d, NULL, NULL));
	tq_fini(&t);

	/* max_batch bounds a pop; requests pushed across batches */
	o.buf_flags = 0;
	o.max_batch = 2;
	tq_init(&t, &g, &o);
	for (unsigned i = 0; i < 5; i++)
		ASSERT_TRUE(vqd_add(&t.d, &only_rd, 1, 0, NULL) >= 0);
	tq_pop_n(&t, r, 2);
	tq_pop_n(&t, r + 2, 2);
	tq_pop_n(&t, r + 4, 1);
	/* r[1] (first batch) and r[2] (second): neither batch is complete */
	ASSERT_OK(gm_vq_push_batch(t.vq, (struct gm_vq_req *[]){r[1], r[2]}, NULL, 2, &notify));
	ASSERT_TRUE(!notify);
	ASSERT_ERR(vqd_get_used(&t.d, NULL, NULL), -EAGAIN);
	/* r[0] completes the first, r[4] is a batch of its own */
	ASSERT_OK(gm_vq_push_batch(t.vq, (struct gm_vq_req *[]){r[4], r[0]}, NULL, 2, &notify));
	ASSERT_TRUE(notify);
	for (unsigned i = 0; i < 3; i++)
		ASSERT_OK(vqd_get_used(&t.d, NULL, NULL));
	ASSERT_ERR(vqd_get_used(&t.d, NULL, NULL), -EAGAIN);
	/* a reset forgets the half-pushed batch */
	ASSERT_OK(gm_vq_reset(t.vq));
	ASSERT_EQ(gm_vq_inflight(t.vq), 0);
	ASSERT_TRUE(!gm_vq_broken(t.vq));
	tq_fini(&t);
	ASSERT_ERR(gm_vq_pop_batch(NULL, r, 1), -EINVAL);
	ram_free(&g);
}

/*
 * A hostile chain in the middle of a batch: the good chains before it are
 * handed out and complete; the next pop meets the hostile one and breaks
 * the queue as a pop of it alone would.  Twice: a chain the walk refuses
 * (readable after writable), and one the map refuses (a buffer where
 * nothing is), found when the batch's map fails and its chains are mapped
 * one by one.
 */
static void t_batch_hostile(bool at_map)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(16);
	struct gm_vq_req *r[4];
	struct gm_vq_stats st = {.size = sizeof(st)};
	const struct vqd_buf good[2] = {{ga(DATA_AREA), 300, false},
					{ga(DATA_AREA + 0x1000), 300, true}};
	const struct vqd_buf bad_walk[2] = {{ga(DATA_AREA + 0x2000), 8, true},
					    {ga(DATA_AREA + 0x2100), 8, false}};
	const struct vqd_buf bad_map[2] = {{ga(DATA_AREA + 0x2000), 300, false},
					   {0x10, 300, true}};
	int w;

	tq_init(&t, &g, &o);
	/* the driver helper writes chains as given, the bad ones too */
	ASSERT_TRUE(vqd_add(&t.d, good, 2, 0, NULL) >= 0);
	ASSERT_TRUE(vqd_add(&t.d, good, 2, 0, NULL) >= 0);
	ASSERT_TRUE(vqd_add(&t.d, at_map ? bad_map : bad_walk, 2, 0, NULL) >= 0);
	ASSERT_TRUE(vqd_add(&t.d, good, 2, 0, NULL) >= 0);
	w = atomic_load(&vt_warnings);
	tq_pop_n(&t, r, 2);
	ASSERT_EQ(atomic_load(&vt_warnings), w);
	ASSERT_TRUE(!gm_vq_broken(t.vq));
	gm_vq_stats(t.vq, &st);
	ASSERT_EQ_U64(st.fallbacks, at_map ? 1 : 0);
	ASSERT_OK(gm_vq_push_batch(t.vq, r, (const uint32_t[]){300, 300}, 2, NULL));
	for (unsigned i = 0; i < 2; i++) {
		uint32_t len;

		ASSERT_OK(vqd_get_used(&t.d, NULL, &len));
		ASSERT_EQ(len, 300);
	}
	ASSERT_ERR(gm_vq_pop_batch(t.vq, r, 4), at_map ? -EFAULT : -EPROTO);
	ASSERT_TRUE(gm_vq_broken(t.vq));
	ASSERT_EQ(atomic_load(&vt_warnings), w + 1);
	ASSERT_ERR(gm_vq_pop_batch(t.vq, r, 4), -EIO);
	tq_fini(&t);
	ram_free(&g);
}

/*
 * Requests over the limits are refused at once, with nothing mapped and one
 * info line, and handed out so that the device completes them with its own
 * error status; the queue serves on.
 */
static void t_limits(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(16);
	struct gm_vq_req *r[4];
	struct gm_vq_stats st = {.size = sizeof(st)};
	unsigned char *h = g.host + DATA_AREA;
	const unsigned char ioerr = 1;
	uint32_t len;
	int n0;

	vt_log_level(true);
	o.max_request_segments = 3;
	o.max_request_bytes = 8192;
	o.max_map_pages = 3;
	tq_init(&t, &g, &o);
	/* four buffers: over the segment limit */
	const struct vqd_buf four[4] = {{ga(DATA_AREA), 16, false},
					{ga(DATA_AREA + 0x100), 100, true},
					{ga(DATA_AREA + 0x200), 100, true},
					{ga(DATA_AREA + 0x300), 1, true}};
	/* 8193 bytes; and 4 pages to map in 3 buffers */
	const struct vqd_buf big[2] = {{ga(DATA_AREA), 16, false},
				       {ga(DATA_AREA + 0x1000), 8177, true}};
	const struct vqd_buf pages[3] = {{ga(DATA_AREA), 16, false},
					 {ga(DATA_AREA + 0x1800), 3 * 4096, true},
					 {ga(DATA_AREA + 0x9000), 1, true}};
	const struct vqd_buf ok[2] = {{ga(DATA_AREA), 16, false},
				      {ga(DATA_AREA + 0x1000), 8176, true}};

	gm_test_fill(h + 0x1000, 0x9000, 70);
	n0 = atomic_load(&vt_refusals);
	ASSERT_TRUE(vqd_add(&t.d, four, 4, 0, NULL) >= 0);
	ASSERT_TRUE(vqd_add(&t.d, big, 2, 0, NULL) >= 0);
	ASSERT_TRUE(vqd_add(&t.d, pages, 3, 0, NULL) >= 0);
	ASSERT_TRUE(vqd_add(&t.d, ok, 2, 0, NULL) >= 0);
	/* pages[] alone is within the bytes: it is refused for the budget */
	tq_pop_n(&t, r, 4);
	for (unsigned i = 0; i < 3; i++) {
		ASSERT_EQ(r[i]->error, -EMSGSIZE);
		ASSERT_EQ(r[i]->nout + r[i]->nin, 0);
	}
	ASSERT_EQ(r[0]->nsg_out + r[0]->nsg_in, 4);
	ASSERT_EQ_U64(r[1]->in_len, 8177);
	ASSERT_EQ(r[3]->error, 0);
	ASSERT_EQ(r[3]->nin, 1);
	ASSERT_EQ(atomic_load(&vt_refusals), n0 + 3); /* one line each (within the burst) */
	gm_vq_stats(t.vq, &st);
	ASSERT_EQ_U64(st.refused, 3);
	/* the device writes its status byte: through the bytes API */
	for (unsigned i = 0; i < 3; i++)
		ASSERT_OK(gm_vq_req_write(t.vq, r[i], r[i]->in_len - 1, &ioerr, 1));
	ASSERT_ERR(gm_vq_req_write(t.vq, r[0], r[0]->in_len, &ioerr, 1), -EFAULT);
	ASSERT_ERR(gm_vq_req_write(t.vq, r[0], 0, NULL, 1), -EINVAL);
	ASSERT_EQ(h[0x300], 1);
	ASSERT_EQ(h[0x1000 + 8176], 1);
	ASSERT_EQ(h[0x9000], 1);
	ASSERT_TRUE(vt_pattern_ok(h + 0x1000, 8176, 70)); /* nothing else written */
	ASSERT_OK(gm_vq_req_write(t.vq, r[3], r[3]->in_len - 1, &ioerr, 1));
	ASSERT_EQ(((unsigned char *)r[3]->iov[1].iov_base)[8175], 1);
	ASSERT_OK(gm_vq_push_batch(t.vq, r, (const uint32_t[]){1, 1, 1, 8176}, 4, NULL));
	for (unsigned i = 0; i < 4; i++) {
		ASSERT_OK(vqd_get_used(&t.d, NULL, &len));
		ASSERT_EQ(len, i < 3 ? 1 : 8176);
	}
	ASSERT_TRUE(!gm_vq_broken(t.vq));
	ASSERT_EQ(gm_vq_inflight(t.vq), 0);
	/* a batch never maps more than the budget at once: cut after 2 pages */
	const struct vqd_buf two[1] = {{ga(DATA_AREA + 0x1800), 4096, true}};
	for (unsigned i = 0; i < 2; i++)
		ASSERT_TRUE(vqd_add(&t.d, two, 1, 0, NULL) >= 0);
	tq_pop_n(&t, r, 1);
	tq_pop_n(&t, r + 1, 1);
	ASSERT_OK(gm_vq_push_batch(t.vq, r, NULL, 2, NULL));
	tq_fini(&t);

	/* the defaults: a writable buffer of 4 GiB - 4 KiB is refused at once */
	o = opts(8);
	tq_init(&t, &g, &o);
	const struct vqd_buf huge[2] = {{ga(DATA_AREA), 16, false},
					{ga(DATA_AREA + 0x1000), 0xfffff000u, true}};
	ASSERT_TRUE(vqd_add(&t.d, huge, 2, 0, NULL) >= 0);
	r[0] = tq_pop(&t);
	ASSERT_EQ(r[0]->error, -EMSGSIZE);
	/* its status byte lies beyond the guest's memory: not written */
	ASSERT_ERR(gm_vq_req_write(t.vq, r[0], r[0]->in_len - 1, &ioerr, 1), -EFAULT);
	ASSERT_OK(gm_vq_push(t.vq, r[0], 0, NULL));
	ASSERT_OK(vqd_get_used(&t.d, NULL, &len));
	ASSERT_EQ(len, 0);
	ASSERT_TRUE(vqd_add(&t.d, ok, 2, 0, NULL) >= 0);
	r[0] = tq_pop(&t);
	ASSERT_EQ(r[0]->error, 0);
	ASSERT_OK(gm_vq_push(t.vq, r[0], 0, NULL));
	ASSERT_TRUE(!gm_vq_broken(t.vq));
	tq_fini(&t);
	vt_log_level(false);
	ram_free(&g);
}

/* gm_vq_req_write into mapped, copied and refused writable parts. */
static void t_req_write(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(8);
	unsigned char *h = g.host + DATA_AREA;
	const unsigned char abc[3] = {'a', 'b', 'c'};
	struct gm_vq_req *r[2], fake;

	tq_init(&t, &g, &o);
	/* mapped: two writable buffers, written across their boundary */
	const struct vqd_buf rd[3] = {{ga(DATA_AREA), 16, false},
				      {ga(DATA_AREA + 0x100), 300, true},
				      {ga(DATA_AREA + 0x300), 300, true}};
	/* copied: a one-byte status after 300 readable bytes */
	const struct vqd_buf wr[2] = {{ga(DATA_AREA + 0x500), 300, false},
				      {ga(DATA_AREA + 0x700), 1, true}};
	ASSERT_TRUE(vqd_add(&t.d, rd, 3, 0, NULL) >= 0);
	ASSERT_TRUE(vqd_add(&t.d, wr, 2, 0, NULL) >= 0);
	tq_pop_n(&t, r, 2);
	ASSERT_OK(gm_vq_req_write(t.vq, r[0], 299, abc, 3));
	ASSERT_EQ(h[0x100 + 299], 'a');
	ASSERT_EQ(h[0x300], 'b');
	ASSERT_EQ(h[0x301], 'c');
	ASSERT_OK(gm_vq_req_write(t.vq, r[1], 0, abc + 2, 1));
	ASSERT_EQ(h[0x700], 0); /* written back at push */
	ASSERT_ERR(gm_vq_req_write(t.vq, r[1], 1, abc, 1), -EFAULT);
	ASSERT_ERR(gm_vq_req_write(t.vq, r[1], UINT64_MAX, abc, 1), -EFAULT);
	ASSERT_OK(gm_vq_req_write(t.vq, r[1], 1, abc, 0));
	memset(&fake, 0, sizeof(fake));
	ASSERT_ERR(gm_vq_req_write(t.vq, &fake, 0, abc, 1), -EINVAL);
	ASSERT_ERR(gm_vq_req_write(NULL, r[1], 0, abc, 1), -EINVAL);
	ASSERT_OK(gm_vq_push_batch(t.vq, r, (const uint32_t[]){600, 1}, 2, NULL));
	ASSERT_EQ(h[0x700], 'c');
	ASSERT_ERR(gm_vq_req_write(t.vq, r[1], 0, abc, 1), -EINVAL); /* pushed */
	tq_fini(&t);
	ram_free(&g);
}

/* Interrupt suppression by the driver, without EVENT_IDX. */
static void t_interrupt_flags(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(8);
	const struct vqd_buf b = {ga(DATA_AREA), 8, true};
	bool notify = true;

	tq_init(&t, &g, &o);
	ASSERT_OK(vqd_set_interrupt(&t.d, false));
	ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
	ASSERT_OK(gm_vq_push(t.vq, tq_pop(&t), 0, &notify));
	ASSERT_TRUE(!notify);
	ASSERT_OK(vqd_set_interrupt(&t.d, true));
	ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
	ASSERT_OK(gm_vq_push(t.vq, tq_pop(&t), 0, &notify));
	ASSERT_TRUE(notify);
	tq_fini(&t);
	ram_free(&g);
}

/* EVENT_IDX: the interrupt comes exactly when the driver's event is crossed. */
static void t_event_idx(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(8);
	struct gm_vq_req *r[6];
	bool notify;

	o.event_idx = true;
	tq_init(&t, &g, &o);
	for (unsigned i = 0; i < 6; i++) {
		const struct vqd_buf b = {ga(DATA_AREA + i * 64), 8, true};
		ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
		r[i] = tq_pop(&t);
	}
	ASSERT_OK(vqd_set_used_event(&t.d, 2, true));
	for (unsigned i = 0; i < 4; i++) {
		ASSERT_OK(gm_vq_push(t.vq, r[i], 0, &notify));
		ASSERT_EQ(notify, i == 2);
	}
	/* a batch crossing the event notifies once */
	ASSERT_OK(vqd_set_used_event(&t.d, 5, true));
	ASSERT_OK(gm_vq_push_batch(t.vq, &r[4], NULL, 2, &notify));
	ASSERT_TRUE(notify);
	/* the driver's own flags are ignored with EVENT_IDX: the event rules */
	tq_fini(&t);
	ram_free(&g);
}

/* Device-side suppression and the lost-wakeup check. */
static void t_notify_suppress(bool event_idx)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(8);
	const struct vqd_buf b = {ga(DATA_AREA), 8, false};
	struct gm_vq_req *r;

	o.event_idx = event_idx;
	tq_init(&t, &g, &o);
	ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
	ASSERT_EQ(vqd_kick_needed(&t.d), 1);
	if (event_idx) {
		/* the device has not caught up: no kick for more work */
		ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
		ASSERT_EQ(vqd_kick_needed(&t.d), 0);
		ASSERT_OK(gm_vq_push(t.vq, tq_pop(&t), 0, NULL));
	}
	ASSERT_OK(gm_vq_push(t.vq, tq_pop(&t), 0, NULL));
	/* draining re-arms the event: the next addition kicks */
	ASSERT_ERR(gm_vq_pop(t.vq, &r), -EAGAIN);
	ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
	ASSERT_EQ(vqd_kick_needed(&t.d), 1);
	ASSERT_OK(gm_vq_push(t.vq, tq_pop(&t), 0, NULL));
	ASSERT_ERR(gm_vq_pop(t.vq, &r), -EAGAIN);

	/* disabled: no kicks, even after draining */
	ASSERT_EQ(gm_vq_set_notify(t.vq, false), 0);
	ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
	ASSERT_EQ(vqd_kick_needed(&t.d), 0);
	ASSERT_OK(gm_vq_push(t.vq, tq_pop(&t), 0, NULL));
	ASSERT_ERR(gm_vq_pop(t.vq, &r), -EAGAIN);
	ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
	ASSERT_EQ(vqd_kick_needed(&t.d), 0);
	/* re-enabling reports the work that came without a kick */
	ASSERT_EQ(gm_vq_set_notify(t.vq, true), 1);
	ASSERT_OK(gm_vq_push(t.vq, tq_pop(&t), 0, NULL));
	ASSERT_EQ(gm_vq_set_notify(t.vq, true), 0);
	ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
	ASSERT_EQ(vqd_kick_needed(&t.d), 1);
	ASSERT_OK(gm_vq_push(t.vq, tq_pop(&t), 0, NULL));
	tq_fini(&t);
	ram_free(&g);
}

static void t_pool_and_push_errors(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(8);
	const struct vqd_buf b = {ga(DATA_AREA), 8, true};
	struct gm_vq_req *r[2], *x, fake;

	o.max_inflight = 2;
	tq_init(&t, &g, &o);
	for (unsigned i = 0; i < 3; i++)
		ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
	r[0] = tq_pop(&t);
	r[1] = tq_pop(&t);
	ASSERT_ERR(gm_vq_pop(t.vq, &x), -ENOBUFS);
	ASSERT_TRUE(!gm_vq_broken(t.vq));
	/* foreign, misaligned and NULL pointers */
	memset(&fake, 0, sizeof(fake));
	ASSERT_ERR(gm_vq_push(t.vq, &fake, 0, NULL), -EINVAL);
	ASSERT_ERR(gm_vq_push(t.vq, (struct gm_vq_req *)((char *)r[0] + 8), 0, NULL), -EINVAL);
	ASSERT_ERR(gm_vq_push(t.vq, NULL, 0, NULL), -EINVAL);
	ASSERT_OK(gm_vq_push(t.vq, r[0], 0, NULL));
	/* double push */
	ASSERT_ERR(gm_vq_push(t.vq, r[0], 0, NULL), -EINVAL);
	ASSERT_EQ(gm_vq_inflight(t.vq), 1);
	x = tq_pop(&t);
	ASSERT_OK(gm_vq_push(t.vq, x, 0, NULL));
	ASSERT_OK(gm_vq_push(t.vq, r[1], 0, NULL));
	ASSERT_TRUE(!gm_vq_broken(t.vq));
	tq_fini(&t);
	ram_free(&g);
}

static void t_reset(void)
{
	struct ram g = ram_new();
	struct tq t;
	struct tq_opts o = opts(8);
	const struct vqd_buf b = {ga(DATA_AREA), 8, true};
	tq_init(&t, &g, &o);
	for (unsigned i = 0; i < 3; i++)
		ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
	struct gm_vq_req *r = tq_pop(&t);
	(void)tq_pop(&t);
	ASSERT_OK(gm_vq_push(t.vq, r, 1, NULL));
	ASSERT_OK(gm_vq_reset(t.vq));
	ASSERT_EQ(gm_vq_inflight(t.vq), 0);
	/* the driver resets too: fresh rings at the same place work */
	vqd_fini(&t.d);
	struct vqd_config c = t.d.cfg;
	ASSERT_OK(vqd_init(&t.d, g.m, &c));
	ASSERT_OK(gm_vq_reset(t.vq));
	ASSERT_TRUE(vqd_add(&t.d, &b, 1, 0, NULL) >= 0);
	r = tq_pop(&t);
	ASSERT_EQ(r->id, 0);
	ASSERT_OK(gm_vq_push(t.vq, r, 3, NULL));
	uint32_t len;
	ASSERT_OK(vqd_get_used(&t.d, NULL, &len));
	ASSERT_EQ(len, 3);
	tq_fini(&t);
	ram_free(&g);
}

static void t_config(void)
{
	struct ram g = ram_new();
	gm_vq *vq = (gm_vq *)&g; /* must be overwritten with NULL */
	const uint64_t pk = P ? GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED) : 0;
	struct gm_vq_config good = {.size = 8, .desc_addr = ga(0), .driver_addr = ga(0x1000),
				    .device_addr = ga(0x2000), .features = pk};
	struct gm_vq_config c;
	int w;

#define BAD(field, value)                                                                  \
	do {                                                                               \
		c = good;                                                                  \
		c.field = value;                                                           \
		w = atomic_load(&vt_warnings);                                             \
		ASSERT_ERR(gm_vq_new(g.m, &c, &vq), -EINVAL);                              \
		ASSERT_NULL(vq);                                                           \
		ASSERT_EQ(atomic_load(&vt_warnings), w + 1);                               \
	} while (0)

	BAD(size, 0);
	BAD(size, 32769);
	if (!P)
		BAD(size, 6);
	BAD(desc_addr, ga(8));
	BAD(driver_addr, ga(0x1000 + (P ? 2 : 1)));
	BAD(device_addr, ga(0x2000 + 2));
	BAD(max_chain, GM_VQ_MAX_CHAIN + 1);
	BAD(max_batch, GM_VQ_MAX_BATCH + 1);
	BAD(buf_flags, GM_MAP_TRANSIENT | GM_MAP_PERSISTENT);
	BAD(buf_flags, GM_PROT_READ);
	BAD(desc_addr, UINT64_MAX - 15);
#undef BAD
	ASSERT_ERR(gm_vq_new(NULL, &good, &vq), -EINVAL);
	ASSERT_ERR(gm_vq_new(g.m, NULL, &vq), -EINVAL);
	ASSERT_ERR(gm_vq_new(g.m, &good, NULL), -EINVAL);
	/* rings where there is no memory */
	c = good;
	c.desc_addr = 0x10;
	ASSERT_ERR(gm_vq_new(g.m, &c, &vq), -EFAULT);
	ASSERT_NULL(vq);
	/* good ones: sizes at the limits */
	c = good;
	c.size = 32768;
	c.max_chain = 4;
	c.driver_addr = ga(0x80000);
	c.device_addr = ga(0xa0000);
	ASSERT_OK(gm_vq_new(g.m, &c, &vq));
	gm_vq_free(vq);
	if (P) {
		c = good;
		c.size = 3;
		ASSERT_OK(gm_vq_new(g.m, &c, &vq));
		gm_vq_free(vq);
	}
	gm_vq_free(NULL);
	ASSERT_TRUE(gm_vq_broken(NULL));
	ASSERT_ERR(gm_vq_reset(NULL), -EINVAL);
	ram_free(&g);
}

/* A buffer crossing two RAM regions takes two iovecs. */
static void t_region_split(void)
{
	gm_space *s;
	gm_region *r1, *r2;
	struct tq t;
	struct tq_opts o = opts(4);

	ASSERT_OK(gm_space_new(&s));
	ASSERT_OK(gm_ram_region_new_anon(1 << 20, &r1));
	ASSERT_OK(gm_ram_region_new_anon(1 << 20, &r2));
	ASSERT_OK(gm_space_add(s, 0, r1));
	ASSERT_OK(gm_space_add(s, 1 << 20, r2));
	tq_init_at(&t, gm_space_mem(s), 0, &o);
	/* Both directions above GM_VQ_COPY_MAX: both are mapped. */
	const struct vqd_buf b[2] = {{(1 << 20) - 300, 600, false}, {(1 << 20) - 350, 700, true}};
	ASSERT_TRUE(vqd_add(&t.d, b, 2, 0, NULL) >= 0);
	struct gm_vq_req *r = tq_pop(&t);
	ASSERT_EQ(r->nsg_out, 1);
	ASSERT_EQ(r->nout, 2);
	ASSERT_EQ(r->nin, 2);
	ASSERT_EQ(r->iov[0].iov_len, 300);
	ASSERT_PTR_EQ(r->iov[1].iov_base, gm_ram_region_host(r2));
	ASSERT_EQ(r->iov[3].iov_len, 350);
	ASSERT_OK(gm_vq_push(t.vq, r, 700, NULL));
	tq_fini(&t);
	gm_space_free(s);
	gm_region_free(r1);
	gm_region_free(r2);
}

static void run_common_tests(void)
{
	vt_log_init();
	t_basic();
	t_directions();
	t_indirect();
	t_out_of_order();
	t_wrap();
	t_batch();
	t_pop_batch();
	t_batch_hostile(false);
	t_batch_hostile(true);
	t_limits();
	t_req_write();
	t_interrupt_flags();
	t_event_idx();
	t_notify_suppress(false);
	t_notify_suppress(true);
	t_pool_and_push_errors();
	t_reset();
	t_config();
	t_region_split();
	/* none of the above is hostile: nothing may have warned but t_config */
}
