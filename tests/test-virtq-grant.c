/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Virtqueues on grants, on the emulated Xen.  A forked guest domain grants
 * pages for the rings and the buffers and drives the queue with
 * tests/virtq-driver.h over its own memory (RAM regions placed at the grant
 * addresses it hands out, so both sides use the same addresses); this
 * process is the backend and reaches everything through a grant region.
 */
#include "test-emu-common.h"
#include "test-virtq-common.h"

#define GUEST 7
#define NPAGES 8 /* 0: rings, 1: indirect table, 2..7: data */

static struct emu_test T;
static gm_xen *X;
static gm_gnttab *GT;

/* ---- the guest: commands over a pipe ---- */

enum { V_INIT = 1, V_ADD, V_USED, V_FILL, V_CHECK, V_BYTE, V_SPLIT_DESC, V_HEAD,
       V_PACKED_RAW, V_EXIT };

struct v_cmd {
	int op;
	struct vqd_config cfg;
	unsigned n;
	struct vqd_buf bufs[8];
	struct vqd_raw raw[4];
	uint64_t addr, itab;
	uint32_t len;
	uint16_t flags, next;
	uint64_t seed;
};

struct v_rep {
	int r;
	uint32_t len;
	gm_gref ref0, ro_ref;
};

struct vguest {
	pid_t pid;
	int cmd, rep;
	gm_gref ref0, ro_ref;
};

static uint64_t page(unsigned i, unsigned off)
{
	return GM_GRANT_ADDR(0, 0) + (uint64_t)i * GM_PAGE_SIZE + off; /* + ref0 later */
}

static int guest_main(void *arg)
{
	int *fds = arg;
	gm_xen *x = emu_world(&T, GUEST);
	gm_gntshr *sh;
	gm_gref refs[NPAGES], ro;
	int err = 0;
	gm_space *s;
	gm_region *rw_r, *ro_r;
	struct vqd d;
	bool have_d = false;

	ASSERT_OK(gm_gntshr_open(x, &sh));
	void *rw = gm_gntshr_share(sh, 0, NPAGES, refs, 1, &err);
	ASSERT_NOT_NULL(rw);
	void *rop = gm_gntshr_share(sh, 0, 1, &ro, 0, &err);
	ASSERT_NOT_NULL(rop);
	for (unsigned i = 1; i < NPAGES; i++)
		ASSERT_EQ(refs[i], refs[0] + i);
	/* the guest's view: its pages at the addresses the backend will use */
	ASSERT_OK(gm_space_new(&s));
	ASSERT_OK(gm_ram_region_new(rw, NPAGES * GM_PAGE_SIZE, GM_PROT_RW, &rw_r));
	ASSERT_OK(gm_ram_region_new(rop, GM_PAGE_SIZE, GM_PROT_RW, &ro_r));
	ASSERT_OK(gm_space_add(s, GM_GRANT_ADDR(refs[0], 0), rw_r));
	ASSERT_OK(gm_space_add(s, GM_GRANT_ADDR(ro, 0), ro_r));
	gm_mem *m = gm_space_mem(s);
	struct v_rep rep = {.ref0 = refs[0], .ro_ref = ro};

	emu_send(fds[1], &rep, sizeof(rep));
	for (;;) {
		struct v_cmd c;
		unsigned char buf[GM_PAGE_SIZE];

		emu_recv(fds[0], &c, sizeof(c));
		memset(&rep, 0, sizeof(rep));
		switch (c.op) {
		case V_INIT:
			if (have_d)
				vqd_fini(&d);
			rep.r = vqd_init(&d, m, &c.cfg);
			have_d = !rep.r;
			break;
		case V_ADD:
			rep.r = vqd_add(&d, c.bufs, c.n, c.itab, NULL);
			break;
		case V_USED:
			rep.r = vqd_get_used(&d, NULL, &rep.len);
			break;
		case V_FILL:
			gm_test_fill(buf, c.len, c.seed);
			rep.r = gm_write(m, c.addr, buf, c.len);
			break;
		case V_CHECK:
			rep.r = gm_read(m, c.addr, buf, c.len);
			if (!rep.r && !vt_pattern_ok(buf, c.len, c.seed))
				rep.r = -EILSEQ;
			break;
		case V_BYTE:
			rep.r = gm_read(m, c.addr, buf, 1);
			rep.len = buf[0];
			break;
		case V_SPLIT_DESC:
			rep.r = vqd_split_write_desc(&d, c.n, c.addr, c.len, c.flags, c.next);
			break;
		case V_HEAD:
			rep.r = vqd_split_push_head(&d, (uint16_t)c.n);
			break;
		case V_PACKED_RAW:
			rep.r = vqd_packed_push_raw(&d, c.raw, c.n);
			break;
		case V_EXIT:
			if (have_d)
				vqd_fini(&d);
			gm_space_free(s);
			gm_region_free(rw_r);
			gm_region_free(ro_r);
			gm_gntshr_close(sh); /* the hub revokes what is left */
			gm_xen_close(x);
			emu_send(fds[1], &rep, sizeof(rep));
			return 0;
		}
		emu_send(fds[1], &rep, sizeof(rep));
	}
}

static struct vguest vg;

static struct v_rep vcall(struct v_cmd c)
{
	struct v_rep r;

	emu_send(vg.cmd, &c, sizeof(c));
	emu_recv(vg.rep, &r, sizeof(r));
	return r;
}

static void vguest_start(void)
{
	static int fds[2];
	int cp[2], rp[2];

	ASSERT_OK(pipe(cp));
	ASSERT_OK(pipe(rp));
	fds[0] = cp[0];
	fds[1] = rp[1];
	vg.pid = emu_fork(guest_main, fds);
	close(cp[0]);
	close(rp[1]);
	vg.cmd = cp[1];
	vg.rep = rp[0];
	struct v_rep r;
	emu_recv(vg.rep, &r, sizeof(r));
	vg.ref0 = r.ref0;
	vg.ro_ref = r.ro_ref;
}

/* Guest address of byte @off of shared page @i. */
static uint64_t gp(unsigned i, unsigned off)
{
	return page(i, off) + ((uint64_t)vg.ref0 << 12);
}

/* ---- the backend ---- */

struct be {
	gm_grant_cache *c;
	gm_region *r;
	gm_space *s;
	gm_mem *m;
	gm_vq *vq;
	struct vqd_config dc;
};

static struct gm_grant_stats stats(struct be *b)
{
	struct gm_grant_stats st = {.size = sizeof(st)};

	gm_grant_cache_stats(b->c, &st);
	return st;
}

static unsigned mapped(void)
{
	unsigned n;

	ASSERT_OK(gm_emu_mapped_count(X, GUEST, &n));
	return n;
}

/* A backend whose cache maps at most @max_pages pages at once (0: default),
 * told to its queue as the budget, of which the guest's region may hold at
 * most @ceiling (0: all), and which hands out requests of at most @unmapped
 * bytes unmapped. */
static struct be be_new_cfg(bool packed, bool indirect, uint32_t max_pages, uint32_t ceiling,
			    uint64_t unmapped)
{
	struct be b;
	struct gm_vq_config vc = {0};
	struct vqd_config *dc = &b.dc;
	struct gm_grant_cache_config cc = {.max_pages = max_pages};
	struct gm_grant_region_config rc = {
		.size = sizeof(rc), .policy = GM_GRANT_TRANSIENT, .max_pages = ceiling};

	ASSERT_OK(gm_grant_cache_new(GT, &cc, &b.c));
	ASSERT_OK(gm_grant_region_new_cfg(b.c, GUEST, &rc, &b.r));
	ASSERT_OK(gm_space_new(&b.s));
	ASSERT_OK(gm_space_add(b.s, GM_GRANT_BASE, b.r));
	b.m = gm_space_mem(b.s);
	/* all three ring parts in page 0 */
	*dc = (struct vqd_config){.size = 8, .packed = packed, .event_idx = true,
				  .indirect = indirect, .desc_addr = gp(0, 0),
				  .driver_addr = gp(0, 1024), .device_addr = gp(0, 2048)};
	ASSERT_OK(vcall((struct v_cmd){.op = V_INIT, .cfg = *dc}).r);
	vc.size = dc->size;
	vc.desc_addr = dc->desc_addr;
	vc.driver_addr = dc->driver_addr;
	vc.device_addr = dc->device_addr;
	vc.features = GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX) |
		      (packed ? GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED) : 0) |
		      (indirect ? GM_VIRTIO_BIT(GM_VIRTIO_F_INDIRECT_DESC) : 0);
	vc.max_map_pages = max_pages;
	vc.unmapped_max = unmapped;
	ASSERT_OK(gm_vq_new(b.m, &vc, &b.vq));
	/* the ring page stays mapped (persistent), nothing else */
	ASSERT_EQ(mapped(), 1);
	return b;
}

static struct be be_new_budget(bool packed, bool indirect, uint32_t max_pages)
{
	return be_new_cfg(packed, indirect, max_pages, 0, 0);
}

static struct be be_new(bool packed, bool indirect)
{
	return be_new_budget(packed, indirect, 0);
}

static void be_free(struct be *b)
{
	gm_vq_free(b->vq);
	/* the ring's persistent entry stays cached until invalidated */
	ASSERT_EQ(mapped(), 1);
	ASSERT_EQ(gm_grant_cache_invalidate_all(b->c), 1);
	ASSERT_EQ(mapped(), 0);
	gm_space_free(b->s);
	gm_region_free(b->r);
	gm_grant_cache_free(b->c);
}

static int add(unsigned n, const struct vqd_buf *bufs, uint64_t itab)
{
	struct v_cmd c = {.op = V_ADD, .n = n, .itab = itab};

	memcpy(c.bufs, bufs, n * sizeof(*bufs));
	return vcall(c).r;
}

static void fill(uint64_t addr, uint32_t len, uint64_t seed)
{
	ASSERT_OK(vcall((struct v_cmd){.op = V_FILL, .addr = addr, .len = len, .seed = seed}).r);
}

static int check(uint64_t addr, uint32_t len, uint64_t seed)
{
	return vcall((struct v_cmd){.op = V_CHECK, .addr = addr, .len = len, .seed = seed}).r;
}

/* A multi-descriptor chain: one map call, one unmap call, all released. */
static void t_one_map_call(bool packed)
{
	struct be b = be_new(packed, false);
	const struct vqd_buf rd[3] = {{gp(2, 100), 200, false},
				      {gp(3, 0), GM_PAGE_SIZE, false},
				      {gp(4, 4000), 96, false}};
	struct gm_vq_req *r;

	fill(gp(2, 100), 200, 1);
	fill(gp(3, 0), GM_PAGE_SIZE, 2);
	ASSERT_TRUE(add(3, rd, 0) >= 0);
	struct gm_grant_stats s0 = stats(&b);
	ASSERT_OK(gm_vq_pop(b.vq, &r));
	struct gm_grant_stats s1 = stats(&b);
	ASSERT_EQ(s1.map_calls - s0.map_calls, 1);
	ASSERT_EQ(r->nout, 3);
	ASSERT_TRUE(vt_pattern_ok(r->iov[0].iov_base, 200, 1));
	ASSERT_TRUE(vt_pattern_ok(r->iov[1].iov_base, GM_PAGE_SIZE, 2));
	ASSERT_EQ(mapped(), 4);
	bool notify;
	ASSERT_OK(gm_vq_push(b.vq, r, 0, &notify));
	ASSERT_TRUE(notify);
	/* released before the guest could see the completion */
	ASSERT_EQ(mapped(), 1);
	ASSERT_EQ(stats(&b).unmap_calls - s1.unmap_calls, 1);
	ASSERT_OK(vcall((struct v_cmd){.op = V_USED}).r);
	be_free(&b);
}

/*
 * Readable and writable buffers: one map call per request.  The small
 * direction (here the 16-byte header; below the 1-byte status) is copied.
 */
static void t_mixed(bool packed)
{
	struct be b = be_new(packed, false);
	const struct vqd_buf bufs[3] = {{gp(2, 0), 16, false},
					{gp(5, 8), 3000, true},
					{gp(6, 0), 1, true}};
	struct gm_vq_req *r;

	fill(gp(2, 0), 16, 3);
	ASSERT_TRUE(add(3, bufs, 0) >= 0);
	struct gm_grant_stats s0 = stats(&b);
	ASSERT_OK(gm_vq_pop(b.vq, &r));
	ASSERT_EQ(stats(&b).map_calls - s0.map_calls, 1);
	ASSERT_EQ(r->nout, 1);
	ASSERT_EQ(r->nin, 2);
	ASSERT_TRUE(vt_pattern_ok(r->iov[0].iov_base, 16, 3));
	ASSERT_EQ(req_scatter_pattern(r, 4, 3000), 3000);
	ASSERT_OK(gm_vq_push(b.vq, r, 3000, NULL));
	ASSERT_EQ(mapped(), 1);
	struct v_rep u = vcall((struct v_cmd){.op = V_USED});
	ASSERT_OK(u.r);
	ASSERT_EQ(u.len, 3000);
	ASSERT_OK(check(gp(5, 8), 3000, 4));

	/* A write request: header and data mapped read-only by one call, the
	 * status byte copied and written back at push. */
	const struct vqd_buf wr[3] = {{gp(2, 0), 16, false},
				      {gp(5, 8), 3000, false},
				      {gp(6, 0), 1, true}};
	fill(gp(5, 8), 3000, 5);
	ASSERT_TRUE(add(3, wr, 0) >= 0);
	s0 = stats(&b);
	ASSERT_OK(gm_vq_pop(b.vq, &r));
	ASSERT_EQ(stats(&b).map_calls - s0.map_calls, 1);
	ASSERT_EQ(r->nout, 2);
	ASSERT_EQ(r->nin, 1);
	ASSERT_TRUE(vt_pattern_ok(r->iov[1].iov_base, 3000, 5));
	ASSERT_EQ(req_scatter_pattern(r, 7, 1), 1);
	ASSERT_OK(gm_vq_push(b.vq, r, 1, NULL));
	ASSERT_EQ(stats(&b).unmap_calls - s0.unmap_calls, 1);
	ASSERT_EQ(mapped(), 1);
	u = vcall((struct v_cmd){.op = V_USED});
	ASSERT_OK(u.r);
	ASSERT_EQ(u.len, 1);
	ASSERT_OK(check(gp(6, 0), 1, 7));
	be_free(&b);
}

/*
 * The host fails to write back a copied status byte (grant copy refused):
 * the request must not complete with a status the guest never got, so the
 * queue breaks, push says -EIO and the used ring stays as it was.
 */
static void t_status_lost(bool packed)
{
	struct be b = be_new(packed, false);
	const struct vqd_buf wr[2] = {{gp(2, 0), 16, false}, {gp(6, 0), 1, true}};
	struct gm_vq_req *r;
	int w = atomic_load(&vt_warnings);

	ASSERT_TRUE(add(2, wr, 0) >= 0);
	ASSERT_OK(gm_vq_pop(b.vq, &r));
	ASSERT_EQ(r->nin, 1);
	ASSERT_EQ(req_scatter_pattern(r, 9, 1), 1);
	ASSERT_OK(gm_fault_inject("gnttab_copy", 1, -EIO));
	ASSERT_ERR(gm_vq_push(b.vq, r, 1, NULL), -EIO);
	gm_fault_reset();
	ASSERT_TRUE(gm_vq_broken(b.vq));
	/* one line for the failed call, one for the broken queue */
	ASSERT_EQ(atomic_load(&vt_warnings), w + 2);
	ASSERT_TRUE(vcall((struct v_cmd){.op = V_USED}).r < 0); /* nothing completed */
	ASSERT_EQ(mapped(), 1); /* only the ring */
	be_free(&b);
}

/*
 * A write request whose status byte is on a read-only grant, or on a bad
 * gref.  Pop cannot see it (the status is copied, nothing of it mapped);
 * push must not complete a request whose status never reached the guest:
 * the queue breaks, push says -EIO with one warning, the used ring stays as
 * it was and only the ring stays mapped.
 */
static void t_status_refused(bool packed, bool bad_ref)
{
	struct be b = be_new(packed, false);
	uint64_t st = bad_ref ? gp(0, 0) + (1000ull << 12) : GM_GRANT_ADDR(vg.ro_ref, 0);
	const struct vqd_buf wr[3] = {{gp(2, 0), 16, false}, {gp(5, 8), 3000, false}, {st, 1, true}};
	struct gm_vq_req *r;
	bool notify = true;
	int w;

	ASSERT_TRUE(add(3, wr, 0) >= 0);
	ASSERT_OK(gm_vq_pop(b.vq, &r));
	ASSERT_EQ(r->nout, 2);
	ASSERT_EQ(r->nin, 1);
	ASSERT_EQ(req_scatter_pattern(r, 9, 1), 1);
	w = atomic_load(&vt_warnings);
	ASSERT_ERR(gm_vq_push(b.vq, r, 1, &notify), -EIO);
	ASSERT_TRUE(gm_vq_broken(b.vq));
	ASSERT_TRUE(!notify);
	ASSERT_EQ(atomic_load(&vt_warnings), w + 1);
	ASSERT_TRUE(vcall((struct v_cmd){.op = V_USED}).r < 0); /* nothing completed */
	ASSERT_EQ(mapped(), 1);
	ASSERT_ERR(gm_vq_pop(b.vq, &r), -EIO);
	be_free(&b);
}

/* An indirect table in grant memory: read (copied), buffers mapped once. */
static void t_indirect(bool packed)
{
	struct be b = be_new(packed, true);
	struct vqd_buf bufs[4];
	struct gm_vq_req *r;

	for (unsigned i = 0; i < 4; i++)
		bufs[i] = (struct vqd_buf){gp(2 + i, 64 * i), 512, true};
	ASSERT_TRUE(add(4, bufs, gp(1, 0)) >= 0);
	struct gm_grant_stats s0 = stats(&b);
	ASSERT_OK(gm_vq_pop(b.vq, &r));
	ASSERT_EQ(stats(&b).map_calls - s0.map_calls, 1);
	ASSERT_EQ(r->nin, 4);
	ASSERT_EQ(mapped(), 5); /* ring + 4 buffers; the table is not kept */
	ASSERT_EQ(req_scatter_pattern(r, 5, 2048), 2048);
	ASSERT_OK(gm_vq_push(b.vq, r, 2048, NULL));
	ASSERT_EQ(mapped(), 1);
	ASSERT_OK(vcall((struct v_cmd){.op = V_USED}).r);
	/* the first buffer got the first 512 bytes of the pattern */
	ASSERT_OK(check(gp(2, 0), 512, 5));
	be_free(&b);
}

/* Many requests, wrapping the indices, all through grants. */
static void t_many(bool packed)
{
	struct be b = be_new(packed, false);
	struct gm_vq_req *r[4];

	for (unsigned round = 0; round < 40; round++) {
		for (unsigned k = 0; k < 4; k++) {
			const struct vqd_buf bb[2] = {{gp(2 + k, 0), 8, false},
						      {gp(2 + k, 64), 8, true}};
			ASSERT_TRUE(add(2, bb, 0) >= 0);
		}
		for (unsigned k = 0; k < 4; k++)
			ASSERT_OK(gm_vq_pop(b.vq, &r[k]));
		for (unsigned k = 4; k--;) /* out of order */
			ASSERT_OK(gm_vq_push(b.vq, r[k], 8, NULL));
		ASSERT_EQ(mapped(), 1);
		for (unsigned k = 0; k < 4; k++)
			ASSERT_OK(vcall((struct v_cmd){.op = V_USED}).r);
	}
	be_free(&b);
}

/* Hostile: a device-writable buffer on a read-only grant, a bad gref. */
static void t_hostile(bool packed, bool bad_ref)
{
	struct be b = be_new(packed, false);
	struct gm_vq_req *r = NULL;
	uint64_t bad = bad_ref ? gp(0, 0) + (1000ull << 12) : GM_GRANT_ADDR(vg.ro_ref, 0);
	int want = bad_ref ? -EINVAL : -EACCES;
	int w = atomic_load(&vt_warnings);

	if (packed) {
		struct v_cmd c = {.op = V_PACKED_RAW, .n = 2};
		c.raw[0] = (struct vqd_raw){gp(2, 0), 16, 0, GM_VRING_DESC_F_NEXT};
		c.raw[1] = (struct vqd_raw){bad, 16, 0, GM_VRING_DESC_F_WRITE};
		ASSERT_OK(vcall(c).r);
	} else {
		ASSERT_OK(vcall((struct v_cmd){.op = V_SPLIT_DESC, .n = 0, .addr = gp(2, 0),
					       .len = 16, .flags = GM_VRING_DESC_F_NEXT,
					       .next = 1}).r);
		ASSERT_OK(vcall((struct v_cmd){.op = V_SPLIT_DESC, .n = 1, .addr = bad, .len = 16,
					       .flags = GM_VRING_DESC_F_WRITE}).r);
		ASSERT_OK(vcall((struct v_cmd){.op = V_HEAD, .n = 0}).r);
	}
	ASSERT_ERR(gm_vq_pop(b.vq, &r), want);
	ASSERT_NULL(r);
	ASSERT_TRUE(gm_vq_broken(b.vq));
	ASSERT_EQ(atomic_load(&vt_warnings), w + 1);
	ASSERT_EQ(mapped(), 1); /* the readable buffer was released again */
	ASSERT_ERR(gm_vq_pop(b.vq, &r), -EIO);
	be_free(&b);
}

/*
 * A batch on grants: four requests (reads and writes, as virtio-blk makes
 * them: a 16-byte header, data, a status byte) popped together cost one map
 * call for every readable part and one for every writable part; the guest
 * sees none completed before all are pushed, and then nothing is mapped.
 */
static void t_batch(bool packed)
{
	struct be b = be_new(packed, true);
	struct gm_vq_req *r[8];
	struct vqd_buf req[4][3];

	for (unsigned i = 0; i < 4; i++) {
		bool write = i & 1;

		req[i][0] = (struct vqd_buf){gp(2, 64 * i), 16, false};
		req[i][1] = (struct vqd_buf){gp(3 + i, 0), 1024, !write};
		req[i][2] = (struct vqd_buf){gp(7, 64 * i), 1, true};
		fill(gp(3 + i, 0), 1024, 20 + i);
		/* the last two through indirect tables */
		ASSERT_TRUE(add(3, req[i], i >= 2 ? gp(1, 64 * i) : 0) >= 0);
	}
	struct gm_grant_stats s0 = stats(&b);
	ASSERT_EQ(gm_vq_pop_batch(b.vq, r, 8), 4);
	struct gm_grant_stats s1 = stats(&b);
	ASSERT_EQ_U64(s1.map_calls - s0.map_calls, 2);
	/* the ring; the reads' data and status pages (3, 5, 7: one entry); the
	 * writes' header and data pages (2, 4, 6: another) */
	ASSERT_EQ(mapped(), 1 + 3 + 3);
	for (unsigned i = 0; i < 4; i++) {
		if (i & 1) {
			ASSERT_TRUE(vt_pattern_ok(r[i]->iov[1].iov_base, 1024, 20 + i));
			ASSERT_EQ(req_scatter_pattern(r[i], 40 + i, 1), 1);
		} else {
			ASSERT_EQ(req_scatter_pattern(r[i], 40 + i, 1025), 1025);
		}
	}
	for (unsigned i = 0; i < 3; i++) {
		ASSERT_OK(gm_vq_push(b.vq, r[i], i & 1 ? 1 : 1025, NULL));
		ASSERT_TRUE(vcall((struct v_cmd){.op = V_USED}).r < 0);
	}
	ASSERT_OK(gm_vq_push(b.vq, r[3], 1, NULL));
	ASSERT_EQ(mapped(), 1);
	ASSERT_EQ_U64(stats(&b).unmap_calls - s1.unmap_calls, 2);
	for (unsigned i = 0; i < 4; i++) {
		struct v_rep u = vcall((struct v_cmd){.op = V_USED});

		ASSERT_OK(u.r);
		ASSERT_EQ(u.len, i & 1 ? 1 : 1025);
	}
	for (unsigned i = 0; i < 4; i += 2)
		ASSERT_OK(check(gp(3 + i, 0), 1024, 40 + i));
	be_free(&b);
}

/*
 * A bad gref in the middle of a batch: the batch's map fails, its requests
 * are mapped one by one, the two before the bad one are handed out and
 * complete; the next pop meets the bad one and breaks the queue.  Nothing
 * of the guest stays mapped.
 */
static void t_batch_bad_ref(bool packed)
{
	struct be b = be_new(packed, false);
	uint64_t bad = gp(0, 0) + (1000ull << 12);
	struct gm_vq_req *r[4];
	int w = atomic_load(&vt_warnings);

	for (unsigned i = 0; i < 4; i++) {
		const struct vqd_buf bb[2] = {{gp(2, 64 * i), 16, false},
					      {i == 2 ? bad : gp(3 + i, 0), 1024, true}};
		ASSERT_TRUE(add(2, bb, 0) >= 0);
	}
	ASSERT_EQ(gm_vq_pop_batch(b.vq, r, 4), 2);
	ASSERT_TRUE(!gm_vq_broken(b.vq));
	ASSERT_EQ(mapped(), 1 + 2);
	ASSERT_OK(gm_vq_push_batch(b.vq, r, (const uint32_t[]){1024, 1024}, 2, NULL));
	ASSERT_EQ(mapped(), 1);
	for (unsigned i = 0; i < 2; i++)
		ASSERT_OK(vcall((struct v_cmd){.op = V_USED}).r);
	ASSERT_ERR(gm_vq_pop_batch(b.vq, r, 4), -EINVAL);
	ASSERT_TRUE(gm_vq_broken(b.vq));
	ASSERT_EQ(atomic_load(&vt_warnings), w + 1);
	ASSERT_EQ(mapped(), 1);
	be_free(&b);
}

/*
 * The request just added can never fit the mapping budget: popped with
 * -EMSGSIZE and one refusal more than @n0, nothing mapped for it since
 * @s0 (the rings' one page only), the queue not broken; completed with an
 * IOERR status byte (at its last byte, page 7's end), the driver sees it.
 */
static void refused_with_ioerr(struct be *b, int n0, const struct gm_grant_stats *s0)
{
	const unsigned char ioerr = 1;
	struct gm_vq_req *r;
	struct v_rep u;

	ASSERT_OK(gm_vq_pop(b->vq, &r));
	ASSERT_EQ(r->error, -EMSGSIZE);
	ASSERT_TRUE(!gm_vq_broken(b->vq));
	ASSERT_EQ(atomic_load(&vt_refusals), n0 + 1);
	ASSERT_EQ_U64(stats(b).map_calls, s0->map_calls);
	ASSERT_EQ(mapped(), 1);
	ASSERT_OK(gm_vq_req_write(b->vq, r, r->in_len - 1, &ioerr, 1));
	ASSERT_OK(gm_vq_push(b->vq, r, 1, NULL));
	u = vcall((struct v_cmd){.op = V_USED});
	ASSERT_OK(u.r);
	ASSERT_EQ(u.len, 1);
	u = vcall((struct v_cmd){.op = V_BYTE, .addr = gp(7, GM_PAGE_SIZE - 1)});
	ASSERT_OK(u.r);
	ASSERT_EQ(u.len, ioerr);
}

/*
 * The mapping budget.  A request that needs more pages mapped at once than
 * the cache can ever map is refused at once (nothing mapped, no map call)
 * and completed with the device's status, written through grant copy; the
 * queue serves on.  A request that fits, while others hold the budget,
 * waits in the ring (-ENOSPC) until they complete.
 */
static void t_budget(bool packed)
{
	/* 3 pages for data: the rings take the rest (split: page 0 read-only
	 * and read-write; packed: read-write only) */
	struct be b = be_new_budget(packed, false, packed ? 4 : 5);
	struct gm_vq_req *r, *r2;

	vt_log_level(true);
	const struct vqd_buf six[2] = {{gp(1, 0), 16, false}, {gp(2, 0), 6 * GM_PAGE_SIZE, true}};
	const struct vqd_buf three[2] = {{gp(2, 0), 16, false}, {gp(3, 0), 3 * GM_PAGE_SIZE, true}};
	const struct vqd_buf one[2] = {{gp(2, 64), 16, false}, {gp(7, 0), 100, true}};
	int n0 = atomic_load(&vt_refusals);
	struct gm_grant_stats s0 = stats(&b);

	ASSERT_TRUE(add(2, six, 0) >= 0);
	refused_with_ioerr(&b, n0, &s0);

	/* three pages fit; then one more page must wait for them */
	ASSERT_TRUE(add(2, three, 0) >= 0);
	ASSERT_TRUE(add(2, one, 0) >= 0);
	ASSERT_OK(gm_vq_pop(b.vq, &r));
	ASSERT_EQ(r->error, 0);
	ASSERT_EQ(mapped(), 4);
	ASSERT_ERR(gm_vq_pop(b.vq, &r2), -ENOSPC);
	ASSERT_TRUE(!gm_vq_broken(b.vq));
	ASSERT_OK(gm_vq_push(b.vq, r, 0, NULL));
	ASSERT_OK(gm_vq_pop(b.vq, &r2));
	ASSERT_EQ(r2->error, 0);
	ASSERT_OK(gm_vq_push(b.vq, r2, 0, NULL));
	ASSERT_EQ(mapped(), 1);
	for (unsigned i = 0; i < 2; i++)
		ASSERT_OK(vcall((struct v_cmd){.op = V_USED}).r);
	/* the same two as a batch: too much for what is left of the budget
	 * together, so the first is mapped alone and the other waits */
	struct gm_vq_req *rb[2];
	struct gm_vq_stats vs = {.size = sizeof(vs)};

	ASSERT_TRUE(add(2, three, 0) >= 0);
	ASSERT_TRUE(add(2, one, 0) >= 0);
	ASSERT_EQ(gm_vq_pop_batch(b.vq, rb, 2), 1);
	gm_vq_stats(b.vq, &vs);
	ASSERT_EQ_U64(vs.fallbacks, 1);
	ASSERT_OK(gm_vq_push(b.vq, rb[0], 0, NULL));
	ASSERT_EQ(gm_vq_pop_batch(b.vq, rb, 2), 1);
	ASSERT_OK(gm_vq_push(b.vq, rb[0], 0, NULL));
	ASSERT_EQ(mapped(), 1);
	vt_log_level(false);
	be_free(&b);
}

/*
 * The guest's share.  The budget is large, but this guest's region may hold
 * only a few pages: a request that fits the budget and not the share could
 * never be mapped, and waiting would not help.  It is refused at once like
 * one over a limit (no map call, completed with the device's status), and
 * the queue serves the next request.
 */
static void t_share(bool packed)
{
	/* a ceiling of 3 pages for data beside the rings' (as in t_budget) */
	struct be b = be_new_cfg(packed, false, 64, packed ? 4 : 5, 0);

	vt_log_level(true);
	const struct vqd_buf six[2] = {{gp(1, 0), 16, false}, {gp(2, 0), 6 * GM_PAGE_SIZE, true}};
	const struct vqd_buf three[2] = {{gp(2, 0), 16, false}, {gp(3, 0), 3 * GM_PAGE_SIZE, true}};
	int n0 = atomic_load(&vt_refusals);
	struct gm_grant_stats s0 = stats(&b);

	ASSERT_TRUE(add(2, six, 0) >= 0);
	refused_with_ioerr(&b, n0, &s0);
	/* the same in a batch: the one that can never fit is refused, the
	 * other is served */
	struct gm_vq_req *rb[2];

	ASSERT_TRUE(add(2, three, 0) >= 0);
	ASSERT_TRUE(add(2, six, 0) >= 0);
	ASSERT_EQ(gm_vq_pop_batch(b.vq, rb, 2), 2);
	ASSERT_EQ(rb[0]->error, 0);
	ASSERT_EQ(rb[1]->error, -EMSGSIZE);
	ASSERT_EQ(atomic_load(&vt_refusals), n0 + 2);
	ASSERT_EQ(mapped(), 4);
	ASSERT_OK(gm_vq_push_batch(b.vq, rb, (const uint32_t[]){0, 0}, 2, NULL));
	ASSERT_EQ(mapped(), 1);
	for (unsigned i = 0; i < 2; i++)
		ASSERT_OK(vcall((struct v_cmd){.op = V_USED}).r);
	vt_log_level(false);
	be_free(&b);
}

/*
 * Requests handed out unmapped (unmapped_max): nothing mapped at pop, not
 * even the small direction copied; gm_vq_req_read gathers a readable part
 * with one grant copy call, gm_vq_req_write scatters a writable part (data
 * and status byte across pages) with one.  A request over unmapped_max is
 * mapped as usual.
 */
static void t_unmapped(bool packed)
{
	struct be b = be_new_cfg(packed, false, 0, 0, 8192);
	const struct vqd_buf rd[4] = {{gp(2, 0), 16, false},
				      {gp(4, 200), 4000, true}, /* crosses into page 5 */
				      {gp(5, 200), 100, true},
				      {gp(6, 0), 1, true}};
	unsigned char hdr[16], data[4101];
	struct gm_vq_req *r;

	fill(gp(2, 0), 16, 11);
	ASSERT_TRUE(add(4, rd, 0) >= 0);
	struct gm_grant_stats s0 = stats(&b);
	ASSERT_OK(gm_vq_pop(b.vq, &r));
	struct gm_grant_stats s1 = stats(&b);
	ASSERT_TRUE(r->unmapped);
	ASSERT_EQ(r->error, 0);
	ASSERT_EQ(r->nout + r->nin, 0);
	ASSERT_EQ(r->in_len, 4101);
	ASSERT_EQ(s1.map_calls - s0.map_calls, 0);
	ASSERT_EQ(s1.copy_calls - s0.copy_calls, 0);
	ASSERT_EQ(mapped(), 1);
	ASSERT_OK(gm_vq_req_read(b.vq, r, 0, hdr, sizeof(hdr)));
	ASSERT_TRUE(vt_pattern_ok(hdr, sizeof(hdr), 11));
	ASSERT_ERR(gm_vq_req_read(b.vq, r, 1, hdr, sizeof(hdr)), -EFAULT);
	ASSERT_ERR(gm_vq_req_write(b.vq, r, 1, data, sizeof(data)), -EFAULT);
	gm_test_fill(data, sizeof(data), 12);
	s1 = stats(&b);
	ASSERT_OK(gm_vq_req_write(b.vq, r, 0, data, sizeof(data)));
	ASSERT_EQ(stats(&b).copy_calls - s1.copy_calls, 1);
	ASSERT_EQ(stats(&b).copy_segs - s1.copy_segs, 4); /* page-split: 2 + 1 + 1 */
	ASSERT_OK(gm_vq_push(b.vq, r, sizeof(data), NULL));
	ASSERT_EQ(stats(&b).map_calls - s0.map_calls, 0);
	struct v_rep u = vcall((struct v_cmd){.op = V_USED});
	ASSERT_OK(u.r);
	ASSERT_EQ(u.len, sizeof(data));
	{
		/* the guest sees the bytes where its buffers are */
		unsigned char got[4101];
		struct gm_sg sg[3] = {{gp(4, 200), 4000}, {gp(5, 200), 100},
				      {gp(6, 0), 1}};
		ASSERT_OK(gm_read_sg(b.m, sg, 3, got));
		ASSERT_TRUE(vt_pattern_ok(got, sizeof(got), 12));
	}

	/* over unmapped_max: mapped as ever */
	const struct vqd_buf big[3] = {{gp(2, 0), 16, false},
				       {gp(3, 0), 3 * GM_PAGE_SIZE, true},
				       {gp(6, 0), 1, true}};
	ASSERT_TRUE(add(3, big, 0) >= 0);
	s0 = stats(&b);
	ASSERT_OK(gm_vq_pop(b.vq, &r));
	ASSERT_TRUE(!r->unmapped);
	ASSERT_EQ(stats(&b).map_calls - s0.map_calls, 1);
	ASSERT_OK(gm_vq_req_read(b.vq, r, 0, hdr, sizeof(hdr)));
	ASSERT_TRUE(vt_pattern_ok(hdr, sizeof(hdr), 11));
	ASSERT_OK(gm_vq_push(b.vq, r, 0, NULL));
	ASSERT_OK(vcall((struct v_cmd){.op = V_USED}).r);
	ASSERT_EQ(mapped(), 1);
	be_free(&b);
}

/*
 * A hostile guest under copying: a read-only grant as the target of a read
 * (a device-writable buffer).  Nothing is mapped, so pop does not see it;
 * gm_vq_req_write says -EACCES, the device writes its error status into
 * the status byte instead and completes the request: the queue is not
 * broken, nothing stays mapped.
 */
static void t_unmapped_readonly(bool packed)
{
	struct be b = be_new_cfg(packed, false, 0, 0, GM_VQ_UNMAPPED_ALL);
	const struct vqd_buf rd[3] = {{gp(2, 0), 16, false},
				      {GM_GRANT_ADDR(vg.ro_ref, 0), 512, true},
				      {gp(6, 0), 1, true}};
	unsigned char data[513] = {0}, ioerr = 1;
	struct gm_vq_req *r;
	int w = atomic_load(&vt_warnings);

	ASSERT_TRUE(add(3, rd, 0) >= 0);
	ASSERT_OK(gm_vq_pop(b.vq, &r));
	ASSERT_TRUE(r->unmapped);
	ASSERT_ERR(gm_vq_req_write(b.vq, r, 0, data, sizeof(data)), -EACCES);
	ASSERT_OK(gm_vq_req_write(b.vq, r, 512, &ioerr, 1));
	ASSERT_OK(gm_vq_push(b.vq, r, 1, NULL));
	ASSERT_TRUE(!gm_vq_broken(b.vq));
	ASSERT_EQ(atomic_load(&vt_warnings), w); /* guest-caused: not a warning */
	struct v_rep u = vcall((struct v_cmd){.op = V_USED});
	ASSERT_OK(u.r);
	ASSERT_EQ(u.len, 1);
	u = vcall((struct v_cmd){.op = V_BYTE, .addr = gp(6, 0)});
	ASSERT_OK(u.r);
	ASSERT_EQ(u.len, 1);
	ASSERT_EQ(mapped(), 1);
	be_free(&b);
}

int main(void)
{
	vt_log_init();
	emu_test_start(&T);
	vguest_start();
	X = emu_world(&T, 0);
	ASSERT_OK(gm_gnttab_open(X, &GT));
	for (int p = 0; p < 2; p++) {
		t_one_map_call(p);
		t_mixed(p);
		t_indirect(p);
		t_many(p);
		t_hostile(p, false);
		t_hostile(p, true);
		t_status_lost(p);
		t_status_refused(p, false);
		t_status_refused(p, true);
		t_batch(p);
		t_batch_bad_ref(p);
		t_budget(p);
		t_share(p);
		t_unmapped(p);
		t_unmapped_readonly(p);
	}
	gm_gnttab_close(GT);
	vcall((struct v_cmd){.op = V_EXIT});
	close(vg.cmd);
	close(vg.rep);
	emu_reap_ok(vg.pid);
	gm_xen_close(X);
	emu_test_stop(&T);
	return 0;
}
