/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hostile rings, split and packed: each malformed chain is its own named
 * check asserting the exact errno, the broken state, one warning, and that
 * nothing but the rings stays mapped.  Guest memory is a region that counts
 * its outstanding mappings, plus a read-only RAM region.
 */
#include "test-virtq-common.h"

#define MEM_SIZE (8u << 20)
#define RO_BASE 0x10000000ull /* a read-only region */
#define RO_SIZE (1u << 20)

static unsigned char *mem_host;
static atomic_int mem_maps; /* mappings outstanding */

static void *cnt_map(gm_region *r, uint64_t off, size_t *len, int flags, int *err)
{
	(void)r, (void)flags, (void)err;
	(void)len; /* the library clamped it to the region already */
	atomic_fetch_add(&mem_maps, 1);
	return mem_host + off;
}

static void cnt_unmap(gm_region *r, void *ptr, uint64_t off, size_t len, int flags,
		      size_t access_len)
{
	(void)r, (void)ptr, (void)off, (void)len, (void)flags, (void)access_len;
	atomic_fetch_sub(&mem_maps, 1);
}

static int cnt_read(gm_region *r, uint64_t off, void *buf, size_t len)
{
	(void)r;
	memcpy(buf, mem_host + off, len);
	return 0;
}

static int cnt_write(gm_region *r, uint64_t off, const void *buf, size_t len)
{
	(void)r;
	memcpy(mem_host + off, buf, len);
	return 0;
}

static const struct gm_region_ops cnt_ops = {
	.map = cnt_map, .unmap = cnt_unmap, .read = cnt_read, .write = cnt_write};

struct world {
	gm_space *s;
	gm_region *r, *ro;
	gm_mem *m;
};

static struct world world_new(void)
{
	struct world w;
	static unsigned char *ro_host;

	if (!mem_host) {
		mem_host = calloc(1, MEM_SIZE);
		ro_host = calloc(1, RO_SIZE);
		ASSERT_NOT_NULL(mem_host);
		ASSERT_NOT_NULL(ro_host);
	}
	memset(mem_host, 0, MEM_SIZE);
	ASSERT_OK(gm_space_new(&w.s));
	ASSERT_OK(gm_region_new(MEM_SIZE, &cnt_ops, NULL, &w.r));
	ASSERT_OK(gm_ram_region_new(ro_host, RO_SIZE, GM_PROT_READ, &w.ro));
	ASSERT_OK(gm_space_add(w.s, RAM_BASE, w.r));
	ASSERT_OK(gm_space_add(w.s, RO_BASE, w.ro));
	w.m = gm_space_mem(w.s);
	return w;
}

static void world_free(struct world *w)
{
	gm_space_free(w->s);
	gm_region_free(w->r);
	gm_region_free(w->ro);
}

#define D(off) ga(DATA_AREA + (off))
#define IT ga(ITAB_AREA)
#define NX GM_VRING_DESC_F_NEXT
#define WR GM_VRING_DESC_F_WRITE
#define IN GM_VRING_DESC_F_INDIRECT

/* ---- split cases: write descriptors, then publish a head ---- */

static void s_head_range(struct tq *t)
{
	ASSERT_OK(vqd_split_push_head(&t->d, 8));
}

static void s_next_range(struct tq *t)
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, D(0), 16, NX, 9));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_loop(struct tq *t)
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, D(0), 16, NX, 1));
	ASSERT_OK(vqd_split_write_desc(&t->d, 1, D(0), 16, NX, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_too_long(struct tq *t) /* queue max_chain is 4 */
{
	for (unsigned i = 0; i < 5; i++)
		ASSERT_OK(vqd_split_write_desc(&t->d, i, D(i * 16), 16, i < 4 ? NX : 0,
					       (uint16_t)(i + 1)));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_zero_len(struct tq *t)
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, D(0), 16, NX, 1));
	ASSERT_OK(vqd_split_write_desc(&t->d, 1, D(64), 0, 0, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_wrapping(struct tq *t)
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, UINT64_MAX - 10, 100, 0, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_unmapped(struct tq *t)
{
	/* the first buffer maps, the second has no memory: nothing stays */
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, D(0), 16, NX, 1));
	ASSERT_OK(vqd_split_write_desc(&t->d, 1, 0x40000000, 16, 0, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_order(struct tq *t)
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, D(0), 16, NX | WR, 1));
	ASSERT_OK(vqd_split_write_desc(&t->d, 1, D(64), 16, 0, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ro_write(struct tq *t)
{
	/* readable buffer maps first, then the read-only one fails for write */
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, D(0), 16, NX, 1));
	ASSERT_OK(vqd_split_write_desc(&t->d, 1, RO_BASE, 16, WR, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_in_flight(struct tq *t)
{
	const struct vqd_buf b = {D(0), 16, true};

	ASSERT_EQ(vqd_add(&t->d, &b, 1, 0, NULL), 0);
	(void)tq_pop(t); /* stays out */
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_avail_jump(struct tq *t)
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, D(0), 16, 0, 0));
	ASSERT_OK(vqd_split_set_avail_idx(&t->d, 9));
}

static void s_ind_next(struct tq *t)
{
	ASSERT_OK(vqd_write_itab(&t->d, IT, 0, D(0), 16, 0, 0));
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, IT, 16, IN | NX, 1));
	ASSERT_OK(vqd_split_write_desc(&t->d, 1, D(0), 16, 0, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ind_nested(struct tq *t)
{
	ASSERT_OK(vqd_write_itab(&t->d, IT, 0, D(0), 16, NX, 1));
	ASSERT_OK(vqd_write_itab(&t->d, IT, 1, IT + 256, 16, IN, 0));
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, IT, 32, IN, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ind_feature(struct tq *t) /* queue without INDIRECT_DESC */
{
	ASSERT_OK(vqd_write_itab(&t->d, IT, 0, D(0), 16, 0, 0));
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, IT, 16, IN, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ind_len(struct tq *t)
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, IT, 24, IN, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ind_len0(struct tq *t)
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, IT, 0, IN, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ind_big(struct tq *t) /* 5 entries, max_chain 4 */
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, IT, 5 * 16, IN, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ind_huge(struct tq *t) /* a 4 GiB table is refused unread */
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, IT, 0xfffffff0u, IN, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ind_next_range(struct tq *t)
{
	ASSERT_OK(vqd_write_itab(&t->d, IT, 0, D(0), 16, NX, 2));
	ASSERT_OK(vqd_write_itab(&t->d, IT, 1, D(0), 16, 0, 0));
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, IT, 32, IN, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ind_loop(struct tq *t)
{
	ASSERT_OK(vqd_write_itab(&t->d, IT, 0, D(0), 16, NX, 1));
	ASSERT_OK(vqd_write_itab(&t->d, IT, 1, D(0), 16, NX, 0));
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, IT, 32, IN, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ind_unmapped(struct tq *t)
{
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, 0x40000000, 32, IN, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

static void s_ind_zero(struct tq *t)
{
	ASSERT_OK(vqd_write_itab(&t->d, IT, 0, D(0), 0, 0, 0));
	ASSERT_OK(vqd_split_write_desc(&t->d, 0, IT, 16, IN, 0));
	ASSERT_OK(vqd_split_push_head(&t->d, 0));
}

/* ---- packed cases: raw chains at the driver's position ---- */

#define PUSH(...)                                                                          \
	do {                                                                               \
		const struct vqd_raw r_[] = {__VA_ARGS__};                                 \
		ASSERT_OK(vqd_packed_push_raw(&t->d, r_, sizeof(r_) / sizeof(r_[0])));     \
	} while (0)

static void p_id_range(struct tq *t)
{
	PUSH({D(0), 16, 8, 0});
}

static void p_too_long(struct tq *t) /* ring of 8, every slot says NEXT */
{
	struct vqd_raw r[8];

	for (unsigned i = 0; i < 8; i++)
		r[i] = (struct vqd_raw){D(i * 16), 16, 0, NX};
	ASSERT_OK(vqd_packed_push_raw(&t->d, r, 8));
}

static void p_max_chain(struct tq *t) /* max_chain 4 */
{
	PUSH({D(0), 16, 0, NX}, {D(16), 16, 0, NX}, {D(32), 16, 0, NX}, {D(48), 16, 0, NX},
	     {D(64), 16, 0, 0});
}

static void p_zero_len(struct tq *t)
{
	PUSH({D(0), 16, 0, NX}, {D(64), 0, 0, 0});
}

static void p_wrapping(struct tq *t)
{
	PUSH({UINT64_MAX - 10, 100, 0, 0});
}

static void p_unmapped(struct tq *t)
{
	PUSH({D(0), 16, 0, NX}, {0x40000000, 16, 0, 0});
}

static void p_order(struct tq *t)
{
	PUSH({D(0), 16, 0, NX | WR}, {D(64), 16, 0, 0});
}

static void p_ro_write(struct tq *t)
{
	PUSH({D(0), 16, 0, NX}, {RO_BASE, 16, 0, WR});
}

static void p_in_flight(struct tq *t)
{
	const struct vqd_buf b = {D(0), 16, true};

	ASSERT_EQ(vqd_add(&t->d, &b, 1, 0, NULL), 0);
	(void)tq_pop(t);
	PUSH({D(0), 16, 0, WR});
}

static void p_ind_next(struct tq *t)
{
	ASSERT_OK(vqd_write_itab(&t->d, IT, 0, D(0), 16, 0, 0));
	PUSH({IT, 16, 0, IN | NX}, {D(0), 16, 0, 0});
}

static void p_ind_nested(struct tq *t)
{
	ASSERT_OK(vqd_write_itab(&t->d, IT, 0, D(0), 16, 0, 0));
	ASSERT_OK(vqd_write_itab(&t->d, IT, 1, IT + 256, 16, IN, 0));
	PUSH({IT, 32, 0, IN});
}

static void p_ind_feature(struct tq *t)
{
	ASSERT_OK(vqd_write_itab(&t->d, IT, 0, D(0), 16, 0, 0));
	PUSH({IT, 16, 0, IN});
}

static void p_ind_len(struct tq *t)
{
	PUSH({IT, 40, 0, IN});
}

static void p_ind_big(struct tq *t)
{
	PUSH({IT, 5 * 16, 0, IN});
}

static void p_ind_order(struct tq *t)
{
	ASSERT_OK(vqd_write_itab(&t->d, IT, 0, D(0), 16, WR, 0));
	ASSERT_OK(vqd_write_itab(&t->d, IT, 1, D(64), 16, 0, 0));
	PUSH({IT, 32, 0, IN});
}

struct hcase {
	const char *name;
	bool packed;
	bool no_indirect; /* queue without VIRTIO_RING_F_INDIRECT_DESC */
	void (*setup)(struct tq *t);
	int err;
};

static const struct hcase cases[] = {
	{"split: head out of range", false, false, s_head_range, -EINVAL},
	{"split: next out of range", false, false, s_next_range, -EINVAL},
	{"split: descriptor loop", false, false, s_loop, -ELOOP},
	{"split: chain longer than max_chain", false, false, s_too_long, -ELOOP},
	{"split: zero-length buffer", false, false, s_zero_len, -EFAULT},
	{"split: buffer wrapping past 2^64", false, false, s_wrapping, -EFAULT},
	{"split: buffer without memory", false, false, s_unmapped, -EFAULT},
	{"split: readable after writable", false, false, s_order, -EPROTO},
	{"split: writable buffer on read-only memory", false, false, s_ro_write, -EACCES},
	{"split: head already in flight", false, false, s_in_flight, -EINVAL},
	{"split: avail idx jumps past size", false, false, s_avail_jump, -EOVERFLOW},
	{"split: indirect with NEXT", false, false, s_ind_next, -EPROTO},
	{"split: indirect inside indirect", false, false, s_ind_nested, -EPROTO},
	{"split: indirect not negotiated", false, true, s_ind_feature, -EPROTO},
	{"split: indirect length not a multiple of 16", false, false, s_ind_len, -EINVAL},
	{"split: indirect length 0", false, false, s_ind_len0, -EINVAL},
	{"split: indirect table above max_chain", false, false, s_ind_big, -ELOOP},
	{"split: indirect table of 4 GiB", false, false, s_ind_huge, -ELOOP},
	{"split: indirect next out of table", false, false, s_ind_next_range, -EINVAL},
	{"split: indirect loop", false, false, s_ind_loop, -ELOOP},
	{"split: indirect table without memory", false, false, s_ind_unmapped, -EFAULT},
	{"split: zero-length buffer in indirect table", false, false, s_ind_zero, -EFAULT},
	{"packed: buffer id out of range", true, false, p_id_range, -EINVAL},
	{"packed: chain around the whole ring", true, false, p_too_long, -ELOOP},
	{"packed: chain longer than max_chain", true, false, p_max_chain, -ELOOP},
	{"packed: zero-length buffer", true, false, p_zero_len, -EFAULT},
	{"packed: buffer wrapping past 2^64", true, false, p_wrapping, -EFAULT},
	{"packed: buffer without memory", true, false, p_unmapped, -EFAULT},
	{"packed: readable after writable", true, false, p_order, -EPROTO},
	{"packed: writable buffer on read-only memory", true, false, p_ro_write, -EACCES},
	{"packed: buffer id already in flight", true, false, p_in_flight, -EINVAL},
	{"packed: indirect with NEXT", true, false, p_ind_next, -EPROTO},
	{"packed: indirect inside indirect", true, false, p_ind_nested, -EPROTO},
	{"packed: indirect not negotiated", true, true, p_ind_feature, -EPROTO},
	{"packed: indirect length not a multiple of 16", true, false, p_ind_len, -EINVAL},
	{"packed: indirect table above max_chain", true, false, p_ind_big, -ELOOP},
	{"packed: readable after writable in a table", true, false, p_ind_order, -EPROTO},
};

/* One case, popped alone (@batch false) or as the first of a batch. */
static void run_case(const struct hcase *c, bool batch)
{
	struct world w = world_new();
	struct tq t;
	/* p_too_long needs max_chain >= size to reach the ring check */
	struct tq_opts o = {.packed = c->packed, .size = 8, .indirect = !c->no_indirect,
			    .max_chain = c->setup == p_too_long ? 16 : 4};
	struct gm_vq_req *r = (struct gm_vq_req *)&w, *rs[4] = {r, r, r, r};

	tq_init_at(&t, w.m, ga(RING_AREA), &o);
	int rings = atomic_load(&mem_maps);
	ASSERT_EQ(rings, 3);
	c->setup(&t);
	unsigned before = gm_vq_inflight(t.vq);
	int warn = atomic_load(&vt_warnings);
	int ret = batch ? gm_vq_pop_batch(t.vq, rs, 4) : gm_vq_pop(t.vq, &r);

	if (ret != c->err)
		GM_TEST_FAIL("%s: %s gave %d (%s), want %d (%s)", c->name,
			     batch ? "batch pop" : "pop", ret, strerror(-ret), c->err,
			     strerror(-c->err));
	if (batch ? rs[0] != (struct gm_vq_req *)&w : r != NULL)
		GM_TEST_FAIL("%s: request handed out", c->name);
	if (!gm_vq_broken(t.vq))
		GM_TEST_FAIL("%s: queue not broken", c->name);
	if (atomic_load(&vt_warnings) != warn + 1)
		GM_TEST_FAIL("%s: %d warnings, want 1", c->name, atomic_load(&vt_warnings) - warn);
	/* only the rings (and a request left out on purpose) stay mapped */
	if (atomic_load(&mem_maps) != rings + (int)before)
		GM_TEST_FAIL("%s: %d mappings, want %d", c->name, atomic_load(&mem_maps),
			     rings + (int)before);
	ASSERT_EQ(gm_vq_inflight(t.vq), before);
	/* broken: later pops fail -EIO without logging again */
	ASSERT_ERR(gm_vq_pop(t.vq, &r), -EIO);
	ASSERT_ERR(gm_vq_pending(t.vq), -EIO);
	ASSERT_ERR(gm_vq_set_notify(t.vq, true), -EIO);
	ASSERT_EQ(atomic_load(&vt_warnings), warn + 1);
	/* reset releases everything and the queue works again */
	ASSERT_OK(gm_vq_reset(t.vq));
	ASSERT_TRUE(!gm_vq_broken(t.vq));
	ASSERT_EQ(atomic_load(&mem_maps), rings);
	tq_fini(&t);
	ASSERT_EQ(atomic_load(&mem_maps), 0);
	world_free(&w);
	printf("ok - %s%s: %s\n", c->name, batch ? " (batch pop)" : "", strerror(-c->err));
}

/* A request out when the queue breaks: push releases it and says -EIO. */
static void t_push_after_break(void)
{
	struct world w = world_new();
	struct tq t;
	struct tq_opts o = {.size = 8};
	const struct vqd_buf b = {D(0), 16, true};
	bool notify = true;

	tq_init_at(&t, w.m, ga(RING_AREA), &o);
	ASSERT_EQ(vqd_add(&t.d, &b, 1, 0, NULL), 0);
	struct gm_vq_req *r = tq_pop(&t);
	ASSERT_EQ(atomic_load(&mem_maps), 4);
	s_head_range(&t);
	ASSERT_ERR(gm_vq_pop(t.vq, &r), -EINVAL);
	/* the one popped before is still ours to push */
	ASSERT_EQ(gm_vq_inflight(t.vq), 1);
	tq_fini(&t);
	ASSERT_EQ(atomic_load(&mem_maps), 0);

	tq_init_at(&t, w.m, ga(RING_AREA), &o);
	ASSERT_EQ(vqd_add(&t.d, &b, 1, 0, NULL), 0);
	r = tq_pop(&t);
	s_head_range(&t);
	struct gm_vq_req *x;
	ASSERT_ERR(gm_vq_pop(t.vq, &x), -EINVAL);
	ASSERT_ERR(gm_vq_push(t.vq, r, 16, &notify), -EIO);
	ASSERT_TRUE(!notify);
	ASSERT_EQ(atomic_load(&mem_maps), 3);
	ASSERT_EQ(gm_vq_inflight(t.vq), 0);
	/* nothing was published */
	uint16_t used;
	ASSERT_OK(gm_read_le16(w.m, t.d.cfg.device_addr + 2, &used));
	ASSERT_EQ(used, 0);
	tq_fini(&t);
	world_free(&w);
}

/*
 * A status byte on read-only memory after a larger readable buffer: the
 * status is copied, not mapped, so pop takes the request; push must not
 * complete a request whose status never reached the guest: -EIO, the
 * queue broken with one warning, nothing published, only the rings mapped.
 */
static void t_status_read_only(bool packed)
{
	struct world w = world_new();
	struct tq t;
	struct tq_opts o = {.packed = packed, .size = 8};
	const struct vqd_buf b[2] = {{D(0), 64, false}, {RO_BASE, 1, true}};
	bool notify = true;
	void *token;
	uint32_t len;

	tq_init_at(&t, w.m, ga(RING_AREA), &o);
	ASSERT_EQ(vqd_add(&t.d, b, 2, 0, NULL), 0);
	struct gm_vq_req *r = tq_pop(&t);
	ASSERT_EQ(r->nin, 1);
	ASSERT_EQ(atomic_load(&mem_maps), 4); /* the rings and the readable buffer */
	int warn = atomic_load(&vt_warnings);
	ASSERT_ERR(gm_vq_push(t.vq, r, 1, &notify), -EIO);
	ASSERT_TRUE(!notify);
	ASSERT_TRUE(gm_vq_broken(t.vq));
	ASSERT_EQ(atomic_load(&vt_warnings), warn + 1);
	ASSERT_EQ(atomic_load(&mem_maps), 3);
	ASSERT_EQ(gm_vq_inflight(t.vq), 0);
	ASSERT_ERR(vqd_get_used(&t.d, &token, &len), -EAGAIN); /* nothing completed */
	ASSERT_ERR(gm_vq_pop(t.vq, &r), -EIO);
	tq_fini(&t);
	ASSERT_EQ(atomic_load(&mem_maps), 0);
	world_free(&w);
	printf("ok - %s: status byte on read-only memory: %s at push\n",
	       packed ? "packed" : "split", strerror(EIO));
}

int main(void)
{
	vt_log_init();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_case(&cases[i], false);
		run_case(&cases[i], true);
	}
	t_push_after_break();
	t_status_read_only(false);
	t_status_read_only(true);
	/* any failure has exited above */
	printf("hostile ring: cases=%zu failed=0\n", 2 * (sizeof(cases) / sizeof(cases[0])) + 3);
	free(mem_host);
	return 0;
}
