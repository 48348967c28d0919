/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grant mappings found from their host pointers, whole maps and spans,
 * against the emulated Xen: gm_unmap_host and gm_host_to_guest on pointers
 * anywhere in a cache entry (made for this map or for another, superseded,
 * invalidated, of another frontend), GM_MAP_WHOLE over entries that hold
 * part of a range, and the grant calls a span costs.  Every test ends with
 * the emulator's busy bits clear.
 */
#include "test-grant-common.h"

#define PAGE GM_PAGE_SIZE

static struct be be_new(enum gm_grant_policy policy)
{
	return be_new_cfg(policy, NULL);
}

static void end_all(const gm_gref *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ASSERT_OK(guest_end(&G, r[i]));
}

/* Refs 1..2 of a run mapped as one entry: gm_map from ref 2 for two pages
 * shortens at the entry's end; whole, it maps 2..3 anew as one batch. */
static void test_whole(void)
{
	struct be b = be_new(GM_GRANT_PERSISTENT);
	gm_gref r[4];
	size_t len = 2 * PAGE;
	int err;

	share(4, 1, 21, r);
	unsigned char *p = gm_map(b.m, GM_GRANT_ADDR(r[1], 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(len, 2 * PAGE);
	ASSERT_OK(gm_unmap_host(b.m, p, GM_PROT_READ, 0));
	struct gm_grant_stats st = stats(&b);

	len = 2 * PAGE;
	unsigned char *q = gm_map(b.m, GM_GRANT_ADDR(r[2], 0), &len, GM_PROT_READ, &err);
	ASSERT_PTR_EQ(q, p + PAGE); /* the second page of the entry */
	ASSERT_EQ(len, PAGE);
	ASSERT_EQ(stats(&b).map_calls, st.map_calls);
	ASSERT_OK(gm_unmap_host(b.m, q, GM_PROT_READ, 0));

	len = 2 * PAGE;
	q = gm_map(b.m, GM_GRANT_ADDR(r[2], 0), &len, GM_PROT_READ | GM_MAP_WHOLE, &err);
	ASSERT_NOT_NULL(q);
	ASSERT_EQ(len, 2 * PAGE);
	ASSERT_EQ(stats(&b).map_calls, st.map_calls + 1);
	ASSERT_EQ(stats(&b).pages_mapped, st.pages_mapped + 2);
	ASSERT_TRUE(pattern_ok_at(q, 2 * PAGE, 2 * PAGE, 21));
	uint64_t a;
	ASSERT_OK(gm_host_to_guest(b.m, q + PAGE + 7, &a));
	ASSERT_EQ_U64(a, GM_GRANT_ADDR(r[3], 7));
	ASSERT_OK(gm_unmap_host(b.m, q + 6000, GM_PROT_READ, 0));
	/* Held whole by the new entry now: a hit, inside a page too. */
	len = 2 * PAGE;
	q = gm_map(b.m, GM_GRANT_ADDR(r[2], 0), &len, GM_PROT_READ | GM_MAP_WHOLE, &err);
	ASSERT_NOT_NULL(q);
	ASSERT_EQ(stats(&b).map_calls, st.map_calls + 1);
	ASSERT_OK(gm_unmap_host(b.m, q, GM_PROT_READ, 0));
	len = 100;
	q = gm_map(b.m, GM_GRANT_ADDR(r[2], 4000), &len, GM_PROT_READ | GM_MAP_WHOLE, &err);
	ASSERT_NOT_NULL(q);
	ASSERT_EQ(len, 100);
	ASSERT_EQ(stats(&b).map_calls, st.map_calls + 1);
	ASSERT_OK(gm_unmap_host(b.m, q + 99, GM_PROT_READ, 0));
	/* More than one map call can hold. */
	len = (size_t)65537 * PAGE;
	ASSERT_NULL(gm_map(b.m, GM_GRANT_ADDR(r[0], 0), &len, GM_PROT_READ | GM_MAP_WHOLE, &err));
	ASSERT_EQ(err, -ERANGE);
	ASSERT_EQ(stats(&b).pinned_entries, 0);
	ASSERT_TRUE(gm_grant_cache_invalidate_all(b.c) >= 0);
	ASSERT_EQ(emu_wait_mapped(X, GUEST, 0), 0);
	be_free(&b);
	end_all(r, 4);
}

/* Transient: a pointer into the middle releases the batch, now. */
static void test_transient_mid(void)
{
	struct be b = be_new(GM_GRANT_TRANSIENT);
	gm_gref r[3];
	size_t len = 3 * PAGE;
	int err;
	uint64_t a;

	share(3, 1, 22, r);
	unsigned char *p = gm_map(b.m, GM_GRANT_ADDR(r[0], 0), &len, GM_PROT_RW | GM_MAP_WHOLE,
				  &err);
	ASSERT_NOT_NULL(p);
	ASSERT_OK(gm_host_to_guest(b.m, p + 5000, &a));
	ASSERT_EQ_U64(a, GM_GRANT_ADDR(r[1], 5000 - PAGE));
	ASSERT_OK(gm_host_to_guest(gm_region_mem(b.r), p + 2 * PAGE + 1, &a));
	ASSERT_EQ_U64(a, GM_GRANT_ADDR(r[2], 1) - GM_GRANT_BASE);
	ASSERT_ERR(gm_host_to_guest(b.m, p - 1, &a), -ENOENT);
	ASSERT_EQ(stats(&b).unmap_calls, 0);
	ASSERT_OK(gm_unmap_host(b.m, p + 5000, GM_PROT_RW, 0));
	ASSERT_EQ(stats(&b).unmap_calls, 1);
	ASSERT_EQ(emu_wait_mapped(X, GUEST, 0), 0);
	ASSERT_ERR(gm_host_to_guest(b.m, p + 5000, &a), -ENOENT);
	ASSERT_ERR(gm_unmap_host(b.m, p, GM_PROT_RW, 0), -ENOENT);
	be_free(&b);
	end_all(r, 3);
}

/* One batch for scattered refs: each pointer gives its own gref. */
static void test_batch(void)
{
	struct be b = be_new(GM_GRANT_TRANSIENT);
	gm_gref r[4];
	struct iovec iov[3];
	uint64_t a;

	share(4, 1, 23, r);
	struct gm_sg sg[3] = {{GM_GRANT_ADDR(r[3], 16), 100},
			      {GM_GRANT_ADDR(r[0], 0), PAGE},
			      {GM_GRANT_ADDR(r[2], 4000), 96}};
	ASSERT_EQ(gm_map_sg(b.m, sg, 3, iov, 3, GM_PROT_READ), 3);
	ASSERT_EQ(stats(&b).map_calls, 1);
	for (unsigned i = 0; i < 3; i++) {
		ASSERT_OK(gm_host_to_guest(b.m, (char *)iov[i].iov_base + iov[i].iov_len - 1, &a));
		ASSERT_EQ_U64(a, sg[i].addr + sg[i].len - 1);
	}
	/* In any order; the batch goes with the last. */
	ASSERT_OK(gm_unmap_host(b.m, iov[1].iov_base, GM_PROT_READ, 0));
	ASSERT_OK(gm_unmap_host(b.m, (char *)iov[0].iov_base + 50, GM_PROT_READ, 0));
	ASSERT_EQ(stats(&b).unmap_calls, 0);
	ASSERT_OK(gm_unmap_host(b.m, iov[2].iov_base, GM_PROT_READ, 0));
	ASSERT_EQ(stats(&b).unmap_calls, 1);
	be_free(&b);
	end_all(r, 4);
}

/* Entries that left the table while mapped: invalidated, superseded. */
static void test_dying(void)
{
	struct be b = be_new(GM_GRANT_PERSISTENT);
	gm_gref r[2];
	size_t len = PAGE;
	int err;
	uint64_t a;

	share(2, 1, 24, r);
	unsigned char *p = gm_map(b.m, GM_GRANT_ADDR(r[0], 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(gm_grant_cache_invalidate_domain(b.c, GUEST), 1);
	ASSERT_OK(gm_host_to_guest(b.m, p + 3, &a));
	ASSERT_EQ_U64(a, GM_GRANT_ADDR(r[0], 3));
	ASSERT_OK(gm_unmap_host(b.m, p + 3, GM_PROT_READ, 0));
	ASSERT_EQ(stats(&b).mapped_pages, 0);
	ASSERT_EQ(emu_wait_mapped(X, GUEST, 0), 0);

	/* Read-only first, then read-write supersedes it while it is out. */
	len = PAGE;
	unsigned char *ro = gm_map(b.m, GM_GRANT_ADDR(r[1], 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(ro);
	len = PAGE;
	unsigned char *rw = gm_map(b.m, GM_GRANT_ADDR(r[1], 0), &len, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(rw);
	ASSERT_TRUE(ro != rw);
	ASSERT_OK(gm_host_to_guest(b.m, ro + 9, &a));
	ASSERT_EQ_U64(a, GM_GRANT_ADDR(r[1], 9));
	ASSERT_OK(gm_unmap_host(b.m, ro, GM_PROT_READ, 0));
	ASSERT_OK(gm_unmap_host(b.m, rw, GM_PROT_RW, 0));
	struct gm_grant_stats st = stats(&b);
	ASSERT_EQ(st.entries, 1); /* the read-write one, kept */
	ASSERT_EQ(st.pinned_entries, 0);
	/* Kept by the cache: it still translates (a persistent entry's pins
	 * are per thread, so a kept one counts as out). */
	ASSERT_OK(gm_host_to_guest(b.m, rw + 5, &a));
	ASSERT_EQ_U64(a, GM_GRANT_ADDR(r[1], 5));
	ASSERT_EQ(stats(&b).entries, 1);
	be_free(&b);
	end_all(r, 2);
}

/* Two frontends on one cache, in one space and in spaces of their own. */
static void test_two_domains(void)
{
	struct guest g2;
	gm_grant_cache *c;
	gm_region *r5, *r6;
	gm_space *s, *s6;
	gm_gref a, b;
	size_t len;
	int err;
	uint64_t addr;

	guest_start(&g2, &T, OTHER);
	ASSERT_OK(gm_grant_cache_new(GT, NULL, &c));
	ASSERT_OK(gm_grant_region_new(c, GUEST, GM_GRANT_PERSISTENT, &r5));
	ASSERT_OK(gm_grant_region_new(c, OTHER, GM_GRANT_PERSISTENT, &r6));
	ASSERT_OK(gm_space_new(&s));
	ASSERT_OK(gm_space_new(&s6));
	ASSERT_OK(gm_space_add(s, GM_GRANT_BASE, r5));
	ASSERT_OK(gm_space_add(s6, GM_GRANT_BASE, r6));
	guest_share(&G, 0, 1, 1, 25, &a);
	guest_share(&g2, 0, 1, 1, 26, &b);
	len = 64;
	void *p6 = gm_map(gm_space_mem(s6), GM_GRANT_ADDR(b, 64), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p6);
	ASSERT_ERR(gm_host_to_guest(gm_space_mem(s), p6, &addr), -ENOENT);
	ASSERT_ERR(gm_unmap_host(gm_space_mem(s), p6, GM_PROT_READ, 0), -ENOENT);
	/* Both regions in one space: each answers for its own. */
	ASSERT_OK(gm_space_add(s, GM_GRANT_BASE + GM_GRANT_REGION_SIZE, r6));
	ASSERT_OK(gm_host_to_guest(gm_space_mem(s), p6, &addr));
	ASSERT_EQ_U64(addr, GM_GRANT_ADDR(b, 64) + GM_GRANT_REGION_SIZE);
	len = 64;
	void *p5 = gm_map(gm_space_mem(s), GM_GRANT_ADDR(a, 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p5);
	ASSERT_OK(gm_host_to_guest(gm_space_mem(s), p5, &addr));
	ASSERT_EQ_U64(addr, GM_GRANT_ADDR(a, 0));
	ASSERT_OK(gm_unmap_host(gm_space_mem(s), p5, GM_PROT_READ, 0));
	ASSERT_OK(gm_unmap_host(gm_space_mem(s6), p6, GM_PROT_READ, 0));
	struct gm_grant_stats st = {.size = sizeof(st)};
	gm_grant_cache_stats(c, &st);
	ASSERT_EQ(st.pinned_entries, 0);
	gm_space_free(s);
	gm_space_free(s6);
	gm_region_free(r5);
	gm_region_free(r6);
	gm_grant_cache_free(c);
	ASSERT_EQ(emu_wait_mapped(X, GUEST, 0), 0);
	ASSERT_OK(guest_end(&G, a));
	guest_stop(&g2);
}

/* Pointers a caller should never pass: around a live mapping, into the
 * stack, past the index's reach, unaligned: -ENOENT, nothing released. */
static void test_hostile(void)
{
	struct be b = be_new(GM_GRANT_TRANSIENT);
	gm_gref r[1];
	size_t len = PAGE;
	int err;
	uint64_t a;
	static const uintptr_t wild[] = {
		1, 4095, (uintptr_t)1 << 47, ((uintptr_t)1 << 48) - 1, (uintptr_t)1 << 48,
		UINTPTR_MAX & ~(uintptr_t)4095, UINTPTR_MAX,
	};

	share(1, 1, 30, r);
	unsigned char *p = gm_map(b.m, GM_GRANT_ADDR(r[0], 0), &len, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_ERR(gm_host_to_guest(b.m, p - 1, &a), -ENOENT);
	ASSERT_ERR(gm_host_to_guest(b.m, p + PAGE, &a), -ENOENT);
	ASSERT_ERR(gm_unmap_host(b.m, p - 1, GM_PROT_READ, 0), -ENOENT);
	ASSERT_ERR(gm_unmap_host(b.m, p + PAGE, GM_PROT_READ, 0), -ENOENT);
	ASSERT_ERR(gm_unmap_host(b.m, &a, GM_PROT_READ, 0), -ENOENT);
	for (unsigned i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
		ASSERT_ERR(gm_host_to_guest(b.m, (void *)wild[i], &a), -ENOENT);
		ASSERT_ERR(gm_unmap_host(b.m, (void *)wild[i], GM_PROT_READ, 0), -ENOENT);
	}
	ASSERT_EQ(stats(&b).pinned_entries, 1); /* still out */
	ASSERT_OK(gm_host_to_guest(b.m, p + PAGE - 1, &a));
	ASSERT_EQ_U64(a, GM_GRANT_ADDR(r[0], PAGE - 1));
	ASSERT_OK(gm_unmap_host(b.m, p + PAGE - 1, GM_PROT_READ, 0));
	ASSERT_EQ(stats(&b).pinned_entries, 0);
	/* Transient: unmapped now; a second release is refused. */
	ASSERT_ERR(gm_unmap_host(b.m, p, GM_PROT_READ, 0), -ENOENT);
	be_free(&b);
	end_all(r, 1);
}

/* Four fields of an unmapped grant: four copies field by field, one in a
 * span; what the span writes goes back with one more. */
static void test_span_calls(void)
{
	struct be b = be_new(GM_GRANT_TRANSIENT);
	gm_gref r[2];
	unsigned idx = share(2, 1, 27, r);
	uint64_t at = GM_GRANT_ADDR(r[0], 100);
	uint32_t old[4], v[4];
	gm_span s;

	uint64_t c0 = stats(&b).copy_calls;
	for (unsigned i = 0; i < 4; i++)
		ASSERT_OK(gm_read_le32(b.m, at + 4 * i, &old[i]));
	ASSERT_EQ(stats(&b).copy_calls, c0 + 4);
	ASSERT_OK(gm_span_begin(&s, b.m, at, 16, GM_PROT_RW));
	for (unsigned i = 0; i < 4; i++) {
		ASSERT_OK(gm_span_read_le32(&s, 4 * i, &v[i]));
		ASSERT_EQ(v[i], old[i]);
	}
	ASSERT_EQ(stats(&b).copy_calls, c0 + 5);
	ASSERT_OK(gm_span_write_le32(&s, 0, 0xa1a2a3a4));
	ASSERT_OK(gm_span_write_le32(&s, 12, 0xb1b2b3b4));
	ASSERT_EQ(stats(&b).copy_calls, c0 + 5);
	ASSERT_OK(gm_span_end(&s));
	ASSERT_EQ(stats(&b).copy_calls, c0 + 6);
	ASSERT_EQ(stats(&b).map_calls, 0);
	struct g_rep rep = guest_call(&G, (struct g_cmd){.op = G_PEEK, .idx = idx, .off = 100});
	const unsigned char *peek = (const unsigned char *)rep.refs;
	ASSERT_EQ(peek[0], 0xa4);
	ASSERT_EQ(peek[15], 0xb1);
	ASSERT_EQ(peek[4], gm_test_pattern(27, 104));

	/* Across a page boundary: still one copy call (two segments). */
	c0 = stats(&b).copy_calls;
	ASSERT_OK(gm_span_begin(&s, b.m, GM_GRANT_ADDR(r[0], PAGE - 6), 12, GM_PROT_READ));
	ASSERT_OK(gm_span_read_le32(&s, 4, &v[0]));
	ASSERT_EQ(v[0] & 0xff, gm_test_pattern(27, PAGE - 2));
	ASSERT_EQ(v[0] >> 24, gm_test_pattern(27, PAGE + 1));
	ASSERT_OK(gm_span_end(&s));
	ASSERT_EQ(stats(&b).copy_calls, c0 + 1);

	/* Longer than GM_SPAN_INLINE: one map call, one unmap call. */
	ASSERT_OK(gm_span_begin(&s, b.m, GM_GRANT_ADDR(r[0], 0), 2 * PAGE, GM_PROT_RW));
	ASSERT_EQ(stats(&b).map_calls, 1);
	ASSERT_OK(gm_span_write_be32(&s, PAGE + 8, 0x01020304));
	ASSERT_OK(gm_span_end(&s));
	ASSERT_EQ(stats(&b).unmap_calls, 1);
	rep = guest_call(&G, (struct g_cmd){.op = G_PEEK, .idx = idx, .off = PAGE + 8});
	peek = (const unsigned char *)rep.refs;
	ASSERT_EQ(peek[0], 1);
	ASSERT_EQ(peek[3], 4);
	be_free(&b);
	end_all(r, 2);

	/* Mapped already: no grant call at all. */
	b = be_new(GM_GRANT_PERSISTENT);
	share(1, 1, 28, r);
	ASSERT_OK(gm_read_le32(b.m, GM_GRANT_ADDR(r[0], 0), &v[0])); /* one copy */
	size_t len = PAGE;
	int err;
	void *p = gm_map(b.m, GM_GRANT_ADDR(r[0], 0), &len, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_OK(gm_unmap_host(b.m, p, GM_PROT_RW, 0));
	struct gm_grant_stats st = stats(&b);
	ASSERT_OK(gm_span_begin(&s, b.m, GM_GRANT_ADDR(r[0], 32), 16, GM_PROT_RW));
	ASSERT_OK(gm_span_write_le16(&s, 0, 0x7777));
	ASSERT_OK(gm_span_end(&s));
	ASSERT_EQ(stats(&b).copy_calls, st.copy_calls);
	ASSERT_EQ(stats(&b).map_calls, st.map_calls);
	ASSERT_EQ(((unsigned char *)p)[32], 0x77);
	ASSERT_TRUE(gm_grant_cache_invalidate_all(b.c) >= 0);
	be_free(&b);
	end_all(r, 1);

	/* A read-only grant: reading works, the write back is refused. */
	b = be_new(GM_GRANT_TRANSIENT);
	share(1, 0, 29, r);
	ASSERT_OK(gm_span_begin(&s, b.m, GM_GRANT_ADDR(r[0], 0), 8, GM_PROT_RW));
	ASSERT_OK(gm_span_read_le32(&s, 0, &v[0]));
	ASSERT_OK(gm_span_write_le32(&s, 0, 1));
	ASSERT_ERR(gm_span_end(&s), -EACCES);
	ASSERT_OK(gm_span_end(&s));
	be_free(&b);
	end_all(r, 1);
}

int main(void)
{
	emu_test_start(&T);
	guest_start(&G, &T, GUEST);
	X = emu_world(&T, 0);
	ASSERT_OK(gm_gnttab_open(X, &GT));
	test_whole();
	test_transient_mid();
	test_batch();
	test_dying();
	test_two_domains();
	test_hostile();
	test_span_calls();
	gm_gnttab_close(GT);
	guest_stop(&G);
	gm_xen_close(X);
	emu_test_stop(&T);
	return 0;
}
