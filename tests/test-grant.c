/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The grant region and mapping cache against the emulated Xen: a guest
 * domain (forked process) grants pages, this process maps them through a
 * space.  Every test ends with the emulator's busy bits clear.
 */
#include "test-grant-common.h"

static struct be be_new(enum gm_grant_policy policy, uint32_t max_pages, unsigned idle_ms,
			size_t copy_threshold)
{
	struct gm_grant_cache_config cfg = {
		.max_pages = max_pages, .idle_ms = idle_ms, .copy_threshold = copy_threshold};

	return be_new_cfg(policy, &cfg);
}

static unsigned mapped(void)
{
	unsigned n;

	ASSERT_OK(gm_emu_mapped_count(X, GUEST, &n));
	return n;
}

/* GM_GRANT_ADDR and its decoders round-trip over the whole gref space. */
static void test_addr_codec(void)
{
	static const gm_gref refs[] = {0, 1, 0x7ff, 0x12345678, 0xfffffffeu, 0xffffffffu};
	static const uint32_t offs[] = {0, 1, 8, 2048, 4095};

	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		for (size_t j = 0; j < sizeof(offs) / sizeof(offs[0]); j++) {
			uint64_t a = GM_GRANT_ADDR(refs[i], offs[j]);
			ASSERT_TRUE(GM_GRANT_IS_GRANT(a));
			ASSERT_EQ(GM_GRANT_REF(a), refs[i]);
			ASSERT_EQ(GM_GRANT_OFFSET(a), offs[j]);
			ASSERT_TRUE(a - GM_GRANT_BASE < GM_GRANT_REGION_SIZE);
			/* a grant region's offset decodes alike */
			ASSERT_EQ(GM_GRANT_REF(a - GM_GRANT_BASE), refs[i]);
			ASSERT_EQ(GM_GRANT_OFFSET(a - GM_GRANT_BASE), offs[j]);
			ASSERT_EQ_U64(GM_GRANT_ADDR(GM_GRANT_REF(a), GM_GRANT_OFFSET(a)), a);
		}
	}
	/* the ends of the region */
	ASSERT_EQ_U64(GM_GRANT_ADDR(0, 0), GM_GRANT_BASE);
	ASSERT_EQ_U64(GM_GRANT_ADDR(0xffffffffu, 4095), GM_GRANT_BASE + GM_GRANT_REGION_SIZE - 1);
	/* the types: a gm_gref, and an offset that is not sign-extended */
	ASSERT_TRUE(sizeof(GM_GRANT_REF(0)) == sizeof(gm_gref));
	ASSERT_TRUE(GM_GRANT_REF(UINT64_MAX) == 0xffffffffu);
	ASSERT_TRUE(GM_GRANT_OFFSET(UINT64_MAX) == 4095);
	/* not grant addresses */
	ASSERT_TRUE(!GM_GRANT_IS_GRANT(0));
	ASSERT_TRUE(!GM_GRANT_IS_GRANT(GM_GRANT_BASE - 1));
	ASSERT_TRUE(GM_GRANT_IS_GRANT(UINT64_MAX));
}

static void test_hit_miss(void)
{
	struct be b = be_new(GM_GRANT_PERSISTENT, 0, 0, 0);
	gm_gref ref[2];
	unsigned idx = share(2, 1, 11, ref);
	size_t len = 2 * GM_PAGE_SIZE;
	int err;

	/* Miss: one map call for both pages, bytes as the guest wrote them. */
	unsigned char *p = gm_map(b.m, GM_GRANT_ADDR(ref[0], 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(len, 2 * GM_PAGE_SIZE);
	ASSERT_TRUE(pattern_ok(p, len, 11));
	struct gm_grant_stats st = stats(&b);
	ASSERT_EQ(st.map_calls, 1);
	ASSERT_EQ(st.pages_mapped, 2);
	ASSERT_EQ(st.misses, 1);
	gm_unmap(b.m, GM_GRANT_ADDR(ref[0], 0), p, len, GM_PROT_READ, 0);
	/* Persistent: still mapped; the next map and a read are hits. */
	ASSERT_EQ(mapped(), 2);
	len = 100;
	unsigned char *q = gm_map(b.m, GM_GRANT_ADDR(ref[1], 8), &len, GM_PROT_READ, &err);
	ASSERT_PTR_EQ(q, p + GM_PAGE_SIZE + 8);
	gm_unmap(b.m, GM_GRANT_ADDR(ref[1], 8), q, len, GM_PROT_READ, 0);
	unsigned char buf[64];
	ASSERT_OK(gm_read(b.m, GM_GRANT_ADDR(ref[0], 4090), buf, sizeof(buf)));
	ASSERT_TRUE(pattern_ok_at(buf, 4090, sizeof(buf), 11));
	st = stats(&b);
	ASSERT_EQ(st.map_calls, 1);
	ASSERT_EQ(st.copy_calls, 0);
	ASSERT_TRUE(st.hits >= 2);
	ASSERT_EQ(st.entries, 1);
	ASSERT_EQ(st.pinned_entries, 0);
	/* Typed accessors and atomics on grant memory. */
	uint32_t v;
	ASSERT_OK(gm_write_le32(b.m, GM_GRANT_ADDR(ref[0], 16), 0x11223344));
	ASSERT_OK(gm_read_be32(b.m, GM_GRANT_ADDR(ref[0], 16), &v));
	ASSERT_EQ(v, 0x44332211);
	ASSERT_OK(gm_store_release32(b.m, GM_GRANT_ADDR(ref[1], 64), 77));
	ASSERT_OK(gm_load_acquire32(b.m, GM_GRANT_ADDR(ref[1], 64), &v));
	ASSERT_EQ(v, 77);
	be_free(&b);
	ASSERT_OK(guest_end(&G, ref[0]));
	ASSERT_OK(guest_end(&G, ref[1]));
	(void)idx;
}

/* Transient: unmapped inside gm_unmap, so the guest can end access. */
static void test_transient(void)
{
	struct be b = be_new(GM_GRANT_TRANSIENT, 0, 0, 0);
	gm_gref ref[3];
	share(3, 1, 12, ref);
	size_t len = 3 * GM_PAGE_SIZE;
	int err;

	unsigned char *p = gm_map(b.m, GM_GRANT_ADDR(ref[0], 0), &len, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(mapped(), 3);
	ASSERT_ERR(guest_end(&G, ref[1]), -EBUSY); /* Xen: busy while mapped */
	/* A second user of the same entry keeps it alive. */
	size_t l2 = 10;
	void *q = gm_map(b.m, GM_GRANT_ADDR(ref[2], 0), &l2, GM_PROT_READ, &err);
	ASSERT_PTR_EQ(q, p + 2 * GM_PAGE_SIZE);
	gm_unmap(b.m, GM_GRANT_ADDR(ref[0], 0), p, len, GM_PROT_RW, len);
	ASSERT_EQ(mapped(), 3);
	gm_unmap(b.m, GM_GRANT_ADDR(ref[2], 0), q, l2, GM_PROT_READ, 0);
	/* No wait needed: the unmap happened before gm_unmap returned. */
	ASSERT_EQ(mapped(), 0);
	for (int i = 0; i < 3; i++)
		ASSERT_OK(guest_end(&G, ref[i]));
	struct gm_grant_stats st = stats(&b);
	ASSERT_EQ(st.map_calls, 1);
	ASSERT_EQ(st.unmap_calls, 1);
	/* The ref is gone now: mapping it fails, nothing stays mapped. */
	len = 1;
	ASSERT_NULL(gm_map(b.m, GM_GRANT_ADDR(ref[0], 0), &len, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	be_free(&b);
}

/* LRU order, budget, -ENOSPC when everything is pinned. */
static void test_lru_budget(void)
{
	struct be b = be_new(GM_GRANT_PERSISTENT, 3, 0, 0);
	gm_gref r[5];
	share(5, 1, 13, r);
	size_t len;
	int err;
	void *p;

#define TOUCH(i)                                                                           \
	do {                                                                               \
		len = 1;                                                                   \
		p = gm_map(b.m, GM_GRANT_ADDR(r[i], 0), &len, GM_PROT_READ, &err);         \
		ASSERT_NOT_NULL(p);                                                        \
		gm_unmap(b.m, GM_GRANT_ADDR(r[i], 0), p, len, GM_PROT_READ, 0);            \
	} while (0)

	TOUCH(0);
	TOUCH(1);
	TOUCH(2);
	TOUCH(0); /* now 1 is the least recently used */
	ASSERT_EQ(stats(&b).map_calls, 3);
	TOUCH(3); /* evicts 1 */
	struct gm_grant_stats st = stats(&b);
	ASSERT_EQ(st.evictions, 1);
	ASSERT_EQ(st.mapped_pages, 3);
	ASSERT_EQ(mapped(), 3);
	ASSERT_OK(guest_end(&G, r[1])); /* 1 was unmapped: the guest may end it */
	ASSERT_ERR(guest_end(&G, r[2]), -EBUSY);
	TOUCH(0);
	TOUCH(2);
	TOUCH(3);
	ASSERT_EQ(stats(&b).map_calls, 4); /* all hits */
	TOUCH(4); /* evicts 0, the LRU now */
	ASSERT_EQ(stats(&b).map_calls, 5);
	ASSERT_OK(guest_end(&G, r[0]));

	/* Pin all three slots: the next map cannot evict and fails at once. */
	void *pin[3];
	size_t pl[3];
	const int keep[3] = {2, 3, 4};
	for (int i = 0; i < 3; i++) {
		pl[i] = 1;
		pin[i] = gm_map(b.m, GM_GRANT_ADDR(r[keep[i]], 0), &pl[i], GM_PROT_READ, &err);
		ASSERT_NOT_NULL(pin[i]);
	}
	gm_gref extra;
	share(1, 1, 14, &extra);
	len = 1;
	ASSERT_NULL(gm_map(b.m, GM_GRANT_ADDR(extra, 0), &len, GM_PROT_READ, &err));
	ASSERT_EQ(err, -ENOSPC);
	/* A read of unmapped memory still works: grant copy needs no budget. */
	unsigned char c;
	ASSERT_OK(gm_read(b.m, GM_GRANT_ADDR(extra, 5), &c, 1));
	ASSERT_EQ(c, gm_test_pattern(14, 5));
	ASSERT_EQ(mapped(), 3);
	for (int i = 0; i < 3; i++)
		gm_unmap(b.m, GM_GRANT_ADDR(r[keep[i]], 0), pin[i], pl[i], GM_PROT_READ, 0);
	/* Shrinking the budget evicts down to it. */
	ASSERT_OK(gm_grant_cache_set_max_pages(b.c, 1));
	ASSERT_EQ(stats(&b).mapped_pages, 1);
	ASSERT_EQ(mapped(), 1);
	be_free(&b);
	for (int i = 2; i < 5; i++)
		ASSERT_OK(guest_end(&G, r[i]));
	ASSERT_OK(guest_end(&G, extra));
#undef TOUCH
}

static void test_invalidate(void)
{
	struct be b = be_new(GM_GRANT_PERSISTENT, 0, 0, 0);
	gm_gref a, r2[2];
	share(1, 1, 15, &a);
	share(2, 1, 16, r2);
	size_t la = 1, lb = 1;
	int err;

	unsigned char *pa = gm_map(b.m, GM_GRANT_ADDR(a, 0), &la, GM_PROT_RW, &err);
	void *pb = gm_map(b.m, GM_GRANT_ADDR(r2[0], 0), &lb, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(pa);
	ASSERT_NOT_NULL(pb);
	gm_unmap(b.m, GM_GRANT_ADDR(r2[0], 0), pb, lb, GM_PROT_RW, 0);
	ASSERT_EQ(mapped(), 2);
	/* Both touched: the unpinned one goes now, the pinned one is dead. */
	ASSERT_EQ(gm_grant_cache_invalidate_domain(b.c, GUEST), 2);
	ASSERT_EQ(mapped(), 1);
	ASSERT_OK(guest_end(&G, r2[0]));
	ASSERT_ERR(guest_end(&G, a), -EBUSY);
	pa[0] = 0x42; /* the pinned mapping stays valid until unpinned */
	ASSERT_EQ(stats(&b).entries, 1);
	/* A new map after invalidation maps afresh, not the dead entry. */
	size_t l3 = 1;
	unsigned char *pc = gm_map(b.m, GM_GRANT_ADDR(a, 0), &l3, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(pc);
	ASSERT_TRUE(pc != pa);
	ASSERT_EQ(pc[0], 0x42);
	gm_unmap(b.m, GM_GRANT_ADDR(a, 0), pc, l3, GM_PROT_READ, 0);
	gm_unmap(b.m, GM_GRANT_ADDR(a, 0), pa, la, GM_PROT_RW, 1);
	ASSERT_EQ(gm_grant_cache_invalidate_refs(b.c, GUEST, a, 1), 1);
	ASSERT_EQ(mapped(), 0);
	ASSERT_OK(guest_end(&G, a));
	ASSERT_EQ(gm_grant_cache_invalidate_all(b.c), 0);
	ASSERT_TRUE(stats(&b).invalidations >= 3);
	be_free(&b);
	ASSERT_OK(guest_end(&G, r2[1]));
}

/*
 * Read-only grants are never writable, and a read-only cache entry never
 * satisfies a write.  The second half reproduces the device-model bug where
 * a page first mapped for reading was later handed out for writing from the
 * same read-only mapping (a crash on the first write): here the write gets
 * a fresh read-write mapping.
 */
static void test_ro_rw(void)
{
	struct be b = be_new(GM_GRANT_PERSISTENT, 0, 0, 0);
	gm_gref ro, rw;
	unsigned ro_idx = guest_share(&G, 0, 1, 0, 17, &ro);
	unsigned rw_idx = guest_share(&G, 0, 1, 1, 18, &rw);
	size_t len;
	int err;
	unsigned char buf[32];

	/* Read-only grant. */
	ASSERT_OK(gm_read(b.m, GM_GRANT_ADDR(ro, 100), buf, sizeof(buf)));
	ASSERT_TRUE(pattern_ok_at(buf, 100, sizeof(buf), 17));
	ASSERT_ERR(gm_write(b.m, GM_GRANT_ADDR(ro, 0), buf, 4), -EACCES);
	ASSERT_ERR(gm_write_le16(b.m, GM_GRANT_ADDR(ro, 0), 1), -EACCES);
	ASSERT_ERR(gm_store_release32(b.m, GM_GRANT_ADDR(ro, 0), 1), -EACCES);
	len = 8;
	ASSERT_NULL(gm_map(b.m, GM_GRANT_ADDR(ro, 0), &len, GM_PROT_WRITE, &err));
	ASSERT_EQ(err, -EACCES);
	ASSERT_EQ(mapped(), 0);
	len = 8;
	void *p = gm_map(b.m, GM_GRANT_ADDR(ro, 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	/* Cached read-only now; a write must still fail, not reuse it. */
	ASSERT_ERR(gm_write(b.m, GM_GRANT_ADDR(ro, 0), buf, 4), -EACCES);
	gm_unmap(b.m, GM_GRANT_ADDR(ro, 0), p, len, GM_PROT_READ, 0);
	ASSERT_OK(guest_check(&G, ro_idx, 0, GM_PAGE_SIZE, 17));

	/* Read-write grant, first mapped (and cached) read-only. */
	uint64_t copies = stats(&b).copy_calls;
	len = GM_PAGE_SIZE;
	unsigned char *pr = gm_map(b.m, GM_GRANT_ADDR(rw, 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(pr);
	len = GM_PAGE_SIZE;
	unsigned char *pw = gm_map(b.m, GM_GRANT_ADDR(rw, 0), &len, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(pw);
	ASSERT_TRUE(pw != pr);
	memset(pw, 0xab, 16); /* would fault if it were the read-only mapping */
	ASSERT_EQ(pr[0], 0xab);
	gm_unmap(b.m, GM_GRANT_ADDR(rw, 0), pw, len, GM_PROT_RW, 16);
	gm_unmap(b.m, GM_GRANT_ADDR(rw, 0), pr, len, GM_PROT_READ, 0);
	/* The superseded read-only entry is gone; the read-write one serves both. */
	ASSERT_EQ(mapped(), 2); /* ro grant's entry + the rw entry */
	ASSERT_OK(gm_write(b.m, GM_GRANT_ADDR(rw, 16), "xyz", 3));
	ASSERT_OK(gm_read(b.m, GM_GRANT_ADDR(rw, 0), buf, 19));
	ASSERT_EQ(buf[0], 0xab);
	ASSERT_EQ(buf[16], 'x');
	ASSERT_EQ(stats(&b).copy_calls, copies); /* served by the mapping */
	be_free(&b);
	ASSERT_OK(guest_end(&G, ro));
	ASSERT_OK(guest_end(&G, rw));
	(void)rw_idx;
}

/* A request of scattered descriptors: one map call, one unmap call. */
static void test_batch(void)
{
	struct be b = be_new(GM_GRANT_TRANSIENT, 0, 0, 0);
	gm_gref a[2], c, d;
	share(2, 1, 19, a);
	share(1, 1, 20, &c);
	share(1, 0, 21, &d);
	const struct gm_sg req[4] = {
		{GM_GRANT_ADDR(c, 10), 100},            /* one page */
		{GM_GRANT_ADDR(a[0], 4000), 200},       /* across two pages */
		{GM_GRANT_ADDR(c, 500), 16},            /* the same page again */
		{GM_GRANT_ADDR(d, 0), GM_PAGE_SIZE},    /* read-only grant */
	};
	struct iovec iov[8];

	/* Writing a read-only grant: the whole request fails, nothing mapped. */
	ASSERT_ERR(gm_map_sg(b.m, req, 4, iov, 8, GM_PROT_RW), -EACCES);
	ASSERT_EQ(mapped(), 0);
	struct gm_grant_stats st0 = stats(&b);
	int n = gm_map_sg(b.m, req, 4, iov, 8, GM_PROT_READ);
	ASSERT_EQ(n, 4);
	struct gm_grant_stats st = stats(&b);
	ASSERT_EQ(st.map_calls - st0.map_calls, 1);
	/* each page once: c's second range shares the first's */
	ASSERT_EQ(st.pages_mapped - st0.pages_mapped, 4);
	ASSERT_TRUE(iov[2].iov_base == (char *)iov[0].iov_base + 490);
	ASSERT_TRUE(pattern_ok_at(iov[0].iov_base, 10, 100, 20));
	ASSERT_TRUE(pattern_ok_at(iov[1].iov_base, 4000, 200, 19));
	ASSERT_TRUE(pattern_ok_at(iov[3].iov_base, 0, GM_PAGE_SIZE, 21));
	ASSERT_ERR(guest_end(&G, c), -EBUSY);
	/* Releasing part of the request keeps the batch (unmapped as a whole). */
	gm_unmap_sg(b.m, req, 2, iov, 2, GM_PROT_READ, 0);
	ASSERT_ERR(guest_end(&G, a[1]), -EBUSY);
	gm_unmap_sg(b.m, req + 2, 2, iov + 2, 2, GM_PROT_READ, 0);
	st = stats(&b);
	ASSERT_EQ(st.unmap_calls - st0.unmap_calls, 1);
	ASSERT_EQ(mapped(), 0);
	ASSERT_OK(guest_end(&G, a[0]));
	ASSERT_OK(guest_end(&G, a[1]));
	ASSERT_OK(guest_end(&G, c));
	ASSERT_OK(guest_end(&G, d));
	be_free(&b);
}

/*
 * A request of more descriptors than any internal batch (the ring may hold
 * hundreds): still one map call and one unmap call, each page mapped once.
 */
static void test_batch_many(void)
{
	enum { N = 300 };
	struct be b = be_new(GM_GRANT_TRANSIENT, 0, 0, 0);
	gm_gref r[3];
	share(3, 1, 30, r);
	static struct gm_sg req[N];
	static struct iovec iov[N];

	/* 16 bytes somewhere in one of 3 pages; the last page only in the
	 * last third of the request */
#define PAGE_OF(i) ((i) < 2 * N / 3 ? (i) % 2 : 2)
	for (unsigned i = 0; i < N; i++)
		req[i] = (struct gm_sg){GM_GRANT_ADDR(r[PAGE_OF(i)], (i * 16) % GM_PAGE_SIZE), 16};
	struct gm_grant_stats st0 = stats(&b);
	/* Count the calls that reach Xen (a site armed far away counts them). */
	gm_fault_reset();
	ASSERT_OK(gm_fault_inject("gnttab_map", 1u << 30, -EIO));
	ASSERT_EQ(gm_map_sg(b.m, req, N, iov, N, GM_PROT_READ), N);
	ASSERT_EQ(gm_fault_count("gnttab_map"), 1);
	struct gm_grant_stats st = stats(&b);
	ASSERT_EQ(st.map_calls - st0.map_calls, 1);
	ASSERT_EQ(st.misses - st0.misses, 1);
	/* 300 ranges along 3 pages map 3 pages (Xen refuses a grant's 129th
	 * mapping: a chain along one page must not take one per range) */
	ASSERT_EQ(st.pages_mapped - st0.pages_mapped, 3);
	for (unsigned i = 0; i < N; i++) {
		ASSERT_EQ(iov[i].iov_len, 16);
		uint64_t at = PAGE_OF(i) * GM_PAGE_SIZE + (i * 16) % GM_PAGE_SIZE;
		ASSERT_TRUE(pattern_ok_at(iov[i].iov_base, at, 16, 30));
	}
	ASSERT_TRUE(mapped() > 0);
	ASSERT_ERR(guest_end(&G, r[0]), -EBUSY);
	gm_unmap_sg(b.m, req, N, iov, N, GM_PROT_READ, 0);
	st = stats(&b);
	ASSERT_EQ(st.unmap_calls - st0.unmap_calls, 1);
	ASSERT_EQ(gm_fault_count("gnttab_unmap"), 1);
	gm_fault_reset();
	ASSERT_EQ(mapped(), 0);
	for (int i = 0; i < 3; i++)
		ASSERT_OK(guest_end(&G, r[i]));
	be_free(&b);
#undef PAGE_OF
}

/* Unmapped memory: grant copy for small accesses, split at pages. */
static void test_copy(void)
{
	struct be b = be_new(GM_GRANT_TRANSIENT, 0, 0, 1024);
	gm_gref r[3];
	unsigned idx = share(3, 1, 22, r);
	unsigned char in[700], out[700];

	gm_test_fill(in, sizeof(in), 23);
	/* 700 bytes from offset 3800: two segments, one copy call. */
	ASSERT_OK(gm_write(b.m, GM_GRANT_ADDR(r[0], 3800), in, sizeof(in)));
	struct gm_grant_stats st = stats(&b);
	ASSERT_EQ(st.copy_calls, 1);
	ASSERT_EQ(st.copy_segs, 2);
	ASSERT_EQ(st.map_calls, 0);
	ASSERT_OK(guest_check(&G, idx, 3800, sizeof(in), 23));
	ASSERT_OK(gm_read(b.m, GM_GRANT_ADDR(r[0], 3800), out, sizeof(out)));
	ASSERT_MEM_EQ(out, in, sizeof(out));
	/* Larger than the threshold: one transient map, then unmapped. */
	static unsigned char big[2 * GM_PAGE_SIZE];
	ASSERT_OK(gm_read(b.m, GM_GRANT_ADDR(r[1], 0), big, sizeof(big)));
	/* (its first 404 bytes were written above) */
	ASSERT_MEM_EQ(big, in + 296, 404);
	ASSERT_TRUE(pattern_ok_at(big + 404, GM_PAGE_SIZE + 404, sizeof(big) - 404, 22));
	st = stats(&b);
	ASSERT_EQ(st.map_calls, 1);
	ASSERT_EQ(st.bounce_uses, 1);
	ASSERT_EQ(mapped(), 0);
	/* gm_fill writes a page of pattern at a time: 1000 bytes, one copy. */
	ASSERT_OK(gm_fill(b.m, GM_GRANT_ADDR(r[2], 100), 0x5a, 1000));
	ASSERT_EQ(stats(&b).copy_calls - st.copy_calls, 1);
	ASSERT_OK(gm_read(b.m, GM_GRANT_ADDR(r[2], 100), out, sizeof(out)));
	for (size_t i = 0; i < sizeof(out); i++)
		ASSERT_EQ(out[i], 0x5a);
	/* Bad ref, and a ref granted to someone else: -EINVAL. */
	ASSERT_ERR(gm_read(b.m, GM_GRANT_ADDR(r[2] + 1000, 0), out, 8), -EINVAL);
	gm_gref foreign;
	guest_share(&G, OTHER, 1, 1, 24, &foreign);
	ASSERT_ERR(gm_read(b.m, GM_GRANT_ADDR(foreign, 0), out, 8), -EINVAL);
	size_t len = 8;
	int err;
	ASSERT_NULL(gm_map(b.m, GM_GRANT_ADDR(foreign, 0), &len, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_EQ(mapped(), 0);
	ASSERT_OK(guest_end(&G, foreign));
	for (int i = 0; i < 3; i++)
		ASSERT_OK(guest_end(&G, r[i]));
	be_free(&b);
}

/* Faults injected at the ops layer: an errno, and nothing left mapped. */
static void test_faults(void)
{
	struct be b = be_new(GM_GRANT_PERSISTENT, 0, 0, 0);
	gm_gref r[2];
	share(2, 1, 25, r);
	size_t len = 2 * GM_PAGE_SIZE;
	int err;
	unsigned char buf[16];

	ASSERT_OK(gm_fault_inject("gnttab_map", 1, -ENOMEM));
	ASSERT_NULL(gm_map(b.m, GM_GRANT_ADDR(r[0], 0), &len, GM_PROT_READ, &err));
	ASSERT_EQ(err, -ENOMEM);
	ASSERT_EQ(mapped(), 0);
	/* Paged-out grants: EAGAIN is retried. */
	ASSERT_OK(gm_fault_inject("gnttab_map", 1, -EAGAIN));
	len = GM_PAGE_SIZE;
	void *p = gm_map(b.m, GM_GRANT_ADDR(r[0], 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	gm_unmap(b.m, GM_GRANT_ADDR(r[0], 0), p, len, GM_PROT_READ, 0);
	ASSERT_OK(gm_fault_inject("gnttab_copy", 1, -EIO));
	ASSERT_ERR(gm_read(b.m, GM_GRANT_ADDR(r[1], 0), buf, sizeof(buf)), -EIO);
	ASSERT_OK(gm_read(b.m, GM_GRANT_ADDR(r[1], 0), buf, sizeof(buf)));
	ASSERT_OK(gm_fault_inject("alloc", 1, -ENOMEM));
	len = GM_PAGE_SIZE;
	p = gm_map(b.m, GM_GRANT_ADDR(r[1], 0), &len, GM_PROT_READ, &err);
	if (p) /* the allocation hit may land before the map: either is fine */
		gm_unmap(b.m, GM_GRANT_ADDR(r[1], 0), p, len, GM_PROT_READ, 0);
	else
		ASSERT_EQ(err, -ENOMEM);
	/* disarmed if the map needed no allocation: the next steps count calls */
	gm_fault_reset();
	/* An unmap that fails is retried at once, not forgotten. */
	uint64_t unmaps = stats(&b).unmap_calls;
	ASSERT_OK(gm_fault_inject("gnttab_unmap", 1, -EIO));
	ASSERT_EQ(gm_grant_cache_invalidate_all(b.c) >= 1, 1);
	gm_fault_reset();
	ASSERT_EQ(stats(&b).unmap_calls - unmaps, 2);
	ASSERT_EQ(mapped(), 0);
	/* The same for the read-only probe that tells a read-only grant from a
	 * bad ref (a refused write map): a failed unmap of it is retried. */
	gm_gref ro;
	guest_share(&G, 0, 1, 0, 29, &ro);
	len = 8;
	unmaps = stats(&b).unmap_calls;
	ASSERT_OK(gm_fault_inject("gnttab_unmap", 1, -EIO));
	ASSERT_NULL(gm_map(b.m, GM_GRANT_ADDR(ro, 0), &len, GM_PROT_WRITE, &err));
	ASSERT_EQ(err, -EACCES);
	gm_fault_reset();
	ASSERT_OK(gm_grant_cache_invalidate_domain(b.c, GUEST));
	ASSERT_EQ(stats(&b).unmap_calls - unmaps, 2); /* refused, then retried */
	ASSERT_EQ(mapped(), 0);
	ASSERT_OK(guest_end(&G, ro));
	/* Xen refuses again at once (the immediate retry): the page stays
	 * mapped, and invalidation says -EBUSY so that the caller does not tell
	 * the guest it is free; the next invalidation unmaps it. */
	len = GM_PAGE_SIZE;
	p = gm_map(b.m, GM_GRANT_ADDR(r[0], 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	gm_unmap(b.m, GM_GRANT_ADDR(r[0], 0), p, len, GM_PROT_READ, 0);
	ASSERT_EQ(mapped(), 1); /* persistent: kept */
	unmaps = stats(&b).unmap_calls;
	ASSERT_OK(gm_fault_inject_times("gnttab_unmap", 1, 2, -EIO));
	ASSERT_ERR(gm_grant_cache_invalidate_domain(b.c, GUEST), -EBUSY);
	ASSERT_EQ(stats(&b).unmap_calls - unmaps, 2);
	ASSERT_EQ(mapped(), 1);
	ASSERT_ERR(guest_end(&G, r[0]), -EBUSY); /* Xen: still mapped */
	gm_fault_reset();
	ASSERT_EQ(gm_grant_cache_invalidate_domain(b.c, GUEST), 0);
	ASSERT_EQ(stats(&b).unmap_calls - unmaps, 3);
	ASSERT_EQ(mapped(), 0);
	be_free(&b);
	ASSERT_OK(guest_end(&G, r[0]));
	ASSERT_OK(guest_end(&G, r[1]));
}

static void test_idle(void)
{
	struct be b = be_new(GM_GRANT_PERSISTENT, 0, 40, 0);
	gm_gref r;
	share(1, 1, 26, &r);
	size_t len = 1;
	int err;

	void *p = gm_map(b.m, GM_GRANT_ADDR(r, 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	gm_unmap(b.m, GM_GRANT_ADDR(r, 0), p, len, GM_PROT_READ, 0);
	ASSERT_EQ(gm_grant_cache_evict_idle(b.c), 0); /* first sweep */
	emu_sleep_ms(60);
	ASSERT_EQ(gm_grant_cache_evict_idle(b.c), 1);
	ASSERT_EQ(mapped(), 0);
	ASSERT_OK(guest_end(&G, r));
	be_free(&b);
}

/* Two frontends and plain RAM in one space. */
static void test_two_domains(void)
{
	struct guest g2;
	gm_grant_cache *c;
	gm_region *r5, *r6, *ram;
	gm_space *s;
	gm_gref a, b;

	guest_start(&g2, &T, OTHER);
	ASSERT_OK(gm_grant_cache_new(GT, NULL, &c));
	ASSERT_OK(gm_grant_region_new(c, GUEST, GM_GRANT_PERSISTENT, &r5));
	ASSERT_OK(gm_grant_region_new(c, OTHER, GM_GRANT_PERSISTENT, &r6));
	ASSERT_OK(gm_ram_region_new_anon(1 << 20, &ram));
	ASSERT_OK(gm_space_new(&s));
	ASSERT_OK(gm_space_add(s, 0, ram));
	ASSERT_OK(gm_space_add(s, GM_GRANT_BASE, r5));
	ASSERT_ERR(gm_space_add(s, GM_GRANT_BASE, r6), -EEXIST);
	ASSERT_OK(gm_space_add(s, GM_GRANT_BASE + GM_GRANT_REGION_SIZE, r6));
	guest_share(&G, 0, 1, 1, 27, &a);
	guest_share(&g2, 0, 1, 1, 28, &b);
	unsigned char x, y;
	ASSERT_OK(gm_read(gm_space_mem(s), GM_GRANT_ADDR(a, 1), &x, 1));
	ASSERT_OK(gm_read(gm_space_mem(s), GM_GRANT_ADDR(b, 1) + GM_GRANT_REGION_SIZE, &y, 1));
	ASSERT_EQ(x, gm_test_pattern(27, 1));
	ASSERT_EQ(y, gm_test_pattern(28, 1));
	ASSERT_OK(gm_copy(gm_space_mem(s), 0x100, gm_space_mem(s), GM_GRANT_ADDR(a, 0), 64));
	ASSERT_TRUE(pattern_ok((char *)gm_ram_region_host(ram) + 0x100, 64, 27));
	/* each frontend's share of the map calls: 5 mapped twice (one miss,
	 * one hit: persistent), 6 once; 7 never */
	{
		struct gm_grant_stats all = {.size = sizeof(all)}, s5 = {.size = sizeof(s5)},
				      s6 = {.size = sizeof(s6)}, s7 = {.size = sizeof(s7)},
				      n5 = {.size = sizeof(n5)}, n6 = {.size = sizeof(n6)};
		gm_gref a2, b2;
		uint64_t addr[3];
		int err;

		guest_share(&G, 0, 1, 1, 29, &a2);
		guest_share(&g2, 0, 1, 1, 30, &b2);
		addr[0] = addr[1] = GM_GRANT_ADDR(a2, 0);
		addr[2] = GM_GRANT_ADDR(b2, 0) + GM_GRANT_REGION_SIZE;
		gm_grant_cache_domain_stats(c, GUEST, &s5);
		gm_grant_cache_domain_stats(c, OTHER, &s6);
		for (int i = 0; i < 3; i++) {
			size_t len = GM_PAGE_SIZE;
			void *p = gm_map(gm_space_mem(s), addr[i], &len, GM_PROT_READ, &err);

			ASSERT_NOT_NULL(p);
			gm_unmap(gm_space_mem(s), addr[i], p, len, GM_PROT_READ, 0);
		}
		gm_grant_cache_stats(c, &all);
		gm_grant_cache_domain_stats(c, GUEST, &n5);
		gm_grant_cache_domain_stats(c, OTHER, &n6);
		ASSERT_EQ_U64(n5.map_calls - s5.map_calls, 1);
		ASSERT_EQ_U64(n6.map_calls - s6.map_calls, 1);
		ASSERT_EQ_U64(n5.map_calls + n6.map_calls, all.map_calls);
		ASSERT_EQ_U64(n5.hits + n5.unmap_calls + n5.pages_mapped, 0); /* map calls only */
		gm_grant_cache_domain_stats(c, 7, &s7);
		ASSERT_EQ_U64(s7.map_calls, 0);
		ASSERT_TRUE(gm_grant_cache_invalidate_domain(c, GUEST) >= 1);
		ASSERT_OK(guest_end(&G, a2));
	}
	gm_space_free(s);
	gm_region_free(r5);
	gm_region_free(r6);
	gm_region_free(ram);
	gm_grant_cache_free(c);
	ASSERT_OK(guest_end(&G, a));
	guest_stop(&g2);
}

int main(void)
{
	test_addr_codec();
	emu_test_start(&T);
	guest_start(&G, &T, GUEST);
	X = emu_world(&T, 0);
	ASSERT_OK(gm_gnttab_open(X, &GT));
	test_hit_miss();
	test_transient();
	test_lru_budget();
	test_invalidate();
	test_ro_rw();
	test_batch();
	test_batch_many();
	test_copy();
	test_faults();
	test_idle();
	test_two_domains();
	gm_gnttab_close(GT);
	guest_stop(&G);
	gm_xen_close(X);
	emu_test_stop(&T);
	return 0;
}
