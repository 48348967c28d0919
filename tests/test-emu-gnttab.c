/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Emulated Xen, grant tables across processes: a forked guest (dom 1)
 * shares pages, this process maps them as dom0.  Bytes both ways, read-only
 * grants, Xen's limit on one grant's mappings, busy bits and end access,
 * wrong domain, bad refs, all-or-nothing,
 * the mapping budget, and grant copy with Xen's statuses.
 */
#include "config.h"

#include "test-emu-common.h"

static struct emu_test t;
static struct guest g;
static gm_xen *x;
static gm_gnttab *tab;

static void test_map_rw(void)
{
	gm_gref refs[4];
	unsigned idx = guest_share(&g, 0, 4, 1, 11, refs);
	unsigned n;
	int err = 0;
	unsigned char *p = gm_gnttab_map(tab, 4, 1, refs, GM_PROT_RW, &err);

	ASSERT_OK(err);
	ASSERT_NOT_NULL(p);
	ASSERT_TRUE(pattern_ok(p, 4 * GM_PAGE_SIZE, 11));
	ASSERT_OK(gm_emu_mapped_count(x, 1, &n));
	ASSERT_EQ(n, 4);
	/* the backend writes, the guest sees it */
	gm_test_fill(p + 100, 3 * GM_PAGE_SIZE, 12);
	ASSERT_EQ(guest_check(&g, idx, 100, 3 * GM_PAGE_SIZE, 12), 0);
	/* the guest writes, the backend sees it */
	ASSERT_OK(guest_call(&g, (struct g_cmd){.op = G_FILL, .idx = idx, .off = 5000,
						.len = 1000, .seed = 13}).r);
	ASSERT_TRUE(pattern_ok(p + 5000, 1000, 13));
	/* mapping pages in another order lands them in that order */
	{
		gm_gref rev[2] = {refs[3], refs[0]};
		unsigned char *q = gm_gnttab_map(tab, 2, 1, rev, GM_PROT_READ, &err);

		ASSERT_NOT_NULL(q);
		ASSERT_MEM_EQ(q, p + 3 * GM_PAGE_SIZE, GM_PAGE_SIZE);
		ASSERT_MEM_EQ(q + GM_PAGE_SIZE, p, GM_PAGE_SIZE);
		ASSERT_OK(gm_gnttab_unmap(tab, q, 2));
	}
	/* busy: end access fails while mapped, works after unmap */
	ASSERT_ERR(guest_end(&g, refs[1]), -EBUSY);
	ASSERT_ERR(gm_gnttab_unmap(tab, p + GM_PAGE_SIZE, 4), -EINVAL); /* not a batch */
	ASSERT_OK(gm_gnttab_unmap(tab, p, 4));
	ASSERT_EQ(emu_wait_mapped(x, 1, 0), 0);
	ASSERT_OK(guest_end(&g, refs[1]));
	ASSERT_ERR(guest_end(&g, refs[1]), -EINVAL); /* already ended */
	/* an ended ref no longer maps */
	ASSERT_NULL(gm_gnttab_map(tab, 1, 1, &refs[1], GM_PROT_READ, &err));
	ASSERT_ERR(err, -EINVAL);
	ASSERT_OK(guest_call(&g, (struct g_cmd){.op = G_UNSHARE, .idx = idx}).r);
	/* unshared refs are gone too */
	ASSERT_NULL(gm_gnttab_map(tab, 1, 1, &refs[0], GM_PROT_READ, &err));
	ASSERT_ERR(err, -EINVAL);
}

static void test_map_ro(void)
{
	gm_gref refs[2];
	unsigned idx = guest_share(&g, 0, 2, 0, 21, refs);
	int err = 0;
	unsigned char *p;

	ASSERT_NULL(gm_gnttab_map(tab, 2, 1, refs, GM_PROT_RW, &err));
	ASSERT_ERR(err, -EINVAL);
	p = gm_gnttab_map(tab, 2, 1, refs, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_TRUE(pattern_ok(p, 2 * GM_PAGE_SIZE, 21));
	ASSERT_ERR(guest_end(&g, refs[0]), -EBUSY);
	ASSERT_OK(gm_gnttab_unmap(tab, p, 2));
	ASSERT_OK(guest_call(&g, (struct g_cmd){.op = G_UNSHARE, .idx = idx}).r);
}

/*
 * Xen counts a grant's mappings of each kind in a byte: the 129th
 * read-write mapping of one ref is refused (EINVAL, all or nothing: a
 * batch naming the ref twice past the limit maps nothing), read-only
 * mappings have a count of their own, and an unmap makes room again.
 */
static void test_map_count_limit(void)
{
	enum { LIMIT = 128 };
	gm_gref ref;
	unsigned idx = guest_share(&g, 0, 1, 1, 31, &ref);
	unsigned char *p[LIMIT], *q;
	int err = 0;

	/* one batch naming the ref LIMIT times: LIMIT mappings */
	gm_gref same[LIMIT];
	for (unsigned i = 0; i < LIMIT; i++)
		same[i] = ref;
	q = gm_gnttab_map(tab, LIMIT, 1, same, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(q);
	ASSERT_TRUE(pattern_ok(q + (LIMIT - 1) * GM_PAGE_SIZE, GM_PAGE_SIZE, 31));
	ASSERT_NULL(gm_gnttab_map(tab, 1, 1, &ref, GM_PROT_RW, &err));
	ASSERT_ERR(err, -EINVAL);
	ASSERT_OK(gm_gnttab_unmap(tab, q, LIMIT));
	/* one at a time: the 129th fails, a read-only one still maps */
	for (unsigned i = 0; i < LIMIT; i++) {
		p[i] = gm_gnttab_map(tab, 1, 1, &ref, GM_PROT_RW, &err);
		ASSERT_NOT_NULL(p[i]);
	}
	ASSERT_NULL(gm_gnttab_map(tab, 1, 1, &ref, GM_PROT_RW, &err));
	ASSERT_ERR(err, -EINVAL);
	q = gm_gnttab_map(tab, 1, 1, &ref, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(q);
	ASSERT_OK(gm_gnttab_unmap(tab, q, 1));
	/* a batch that would pass the limit maps nothing, even its first pages */
	gm_gref two[2] = {ref, ref};
	ASSERT_OK(gm_gnttab_unmap(tab, p[0], 1));
	ASSERT_NULL(gm_gnttab_map(tab, 2, 1, two, GM_PROT_RW, &err));
	ASSERT_ERR(err, -EINVAL);
	/* room again after an unmap */
	p[0] = gm_gnttab_map(tab, 1, 1, &ref, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(p[0]);
	for (unsigned i = 0; i < LIMIT; i++)
		ASSERT_OK(gm_gnttab_unmap(tab, p[i], 1));
	ASSERT_EQ(emu_wait_mapped(x, 1, 0), 0);
	ASSERT_OK(guest_end(&g, ref));
	ASSERT_OK(guest_call(&g, (struct g_cmd){.op = G_UNSHARE, .idx = idx}).r);
}

static void test_bad_refs(void)
{
	gm_gref refs[2], other, bad[3];
	unsigned idx = guest_share(&g, 0, 2, 1, 31, refs);
	unsigned idx5 = guest_share(&g, 5, 1, 1, 32, &other);
	unsigned n;
	int err = 0;

	/* granted to dom 5, not to us */
	ASSERT_NULL(gm_gnttab_map(tab, 1, 1, &other, GM_PROT_READ, &err));
	ASSERT_ERR(err, -EINVAL);
	/* beyond the table, never granted, unknown domain */
	bad[0] = 100000;
	ASSERT_NULL(gm_gnttab_map(tab, 1, 1, bad, GM_PROT_READ, &err));
	ASSERT_ERR(err, -EINVAL);
	bad[0] = 500;
	ASSERT_NULL(gm_gnttab_map(tab, 1, 1, bad, GM_PROT_READ, &err));
	ASSERT_ERR(err, -EINVAL);
	ASSERT_NULL(gm_gnttab_map(tab, 1, 77, refs, GM_PROT_READ, &err));
	ASSERT_ERR(err, -EINVAL);
	/* all or nothing: one bad ref, nothing mapped */
	bad[0] = refs[0];
	bad[1] = refs[1];
	bad[2] = 100000;
	ASSERT_NULL(gm_gnttab_map(tab, 3, 1, bad, GM_PROT_READ, &err));
	ASSERT_ERR(err, -EINVAL);
	ASSERT_OK(gm_emu_mapped_count(x, 1, &n));
	ASSERT_EQ(n, 0);
	ASSERT_OK(guest_end(&g, refs[0])); /* not busy: nothing stayed mapped */
	/* the budget */
	ASSERT_OK(gm_gnttab_set_max_grants(tab, 1));
	{
		gm_gref two[2] = {refs[1], refs[1]};
		void *p = gm_gnttab_map(tab, 1, 1, &refs[1], GM_PROT_READ, &err);

		ASSERT_NOT_NULL(p);
		ASSERT_NULL(gm_gnttab_map(tab, 1, 1, &refs[1], GM_PROT_READ, &err));
		ASSERT_ERR(err, -ENOSPC);
		ASSERT_OK(gm_gnttab_unmap(tab, p, 1));
		ASSERT_OK(gm_gnttab_set_max_grants(tab, 2));
		/* the same ref twice in one batch counts twice */
		p = gm_gnttab_map(tab, 2, 1, two, GM_PROT_RW, &err);
		ASSERT_NOT_NULL(p);
		ASSERT_OK(gm_emu_mapped_count(x, 1, &n));
		ASSERT_EQ(n, 1);
		ASSERT_OK(gm_gnttab_unmap(tab, p, 2));
	}
	ASSERT_OK(gm_gnttab_set_max_grants(tab, 65536));
	ASSERT_OK(guest_call(&g, (struct g_cmd){.op = G_UNSHARE, .idx = idx}).r);
	ASSERT_OK(guest_call(&g, (struct g_cmd){.op = G_UNSHARE, .idx = idx5}).r);
}

static void test_copy(void)
{
	gm_gref rw[2], ro, other;
	unsigned irw = guest_share(&g, 0, 2, 1, 41, rw);
	unsigned iro = guest_share(&g, 0, 1, 0, 42, &ro);
	unsigned io = guest_share(&g, 5, 1, 1, 43, &other);
	unsigned char buf[3][GM_PAGE_SIZE], src[GM_PAGE_SIZE];
	struct gm_copy_seg s[8];

	memset(s, 0, sizeof(s));
	memset(buf, 0, sizeof(buf));
	/* read: foreign -> local, a whole page and a piece */
	s[0].source.foreign.ref = rw[0];
	s[0].source.foreign.domid = 1;
	s[0].dest.virt = buf[0];
	s[0].len = GM_PAGE_SIZE;
	s[0].flags = GM_COPY_SOURCE_GREF;
	s[1].source.foreign.ref = ro;
	s[1].source.foreign.domid = 1;
	s[1].source.foreign.offset = 96;
	s[1].dest.virt = buf[1];
	s[1].len = 1000;
	s[1].flags = GM_COPY_SOURCE_GREF;
	ASSERT_OK(gm_gnttab_copy(tab, 2, s));
	ASSERT_EQ(s[0].status, GM_GNTST_OKAY);
	ASSERT_EQ(s[1].status, GM_GNTST_OKAY);
	ASSERT_TRUE(pattern_ok(buf[0], GM_PAGE_SIZE, 41));
	for (unsigned i = 0; i < 1000; i++)
		ASSERT_EQ(buf[1][i], gm_test_pattern(42, 96 + i));
	/* write: local -> foreign; into the read-only grant fails */
	gm_test_fill(src, sizeof(src), 44);
	memset(s, 0, sizeof(s));
	s[0].source.virt = src;
	s[0].dest.foreign.ref = rw[1];
	s[0].dest.foreign.domid = 1;
	s[0].dest.foreign.offset = 200;
	s[0].len = 3000;
	s[0].flags = GM_COPY_DEST_GREF;
	s[1] = s[0];
	s[1].dest.foreign.ref = ro;
	s[2] = s[0];
	s[2].dest.foreign.ref = 100000; /* beyond the table */
	s[3] = s[0];
	s[3].dest.foreign.domid = 99; /* unknown domain */
	s[4] = s[0];
	s[4].dest.foreign.ref = other; /* granted to dom 5 */
	s[5] = s[0];
	s[5].dest.foreign.ref = 300; /* in the table, never granted */
	/* foreign to foreign works too */
	s[6].source.foreign.ref = rw[0];
	s[6].source.foreign.domid = 1;
	s[6].dest.foreign.ref = rw[1];
	s[6].dest.foreign.domid = 1;
	s[6].dest.foreign.offset = 3500;
	s[6].len = 500;
	s[6].flags = GM_COPY_SOURCE_GREF | GM_COPY_DEST_GREF;
	ASSERT_OK(gm_gnttab_copy(tab, 7, s));
	ASSERT_EQ(s[0].status, GM_GNTST_OKAY);
	ASSERT_EQ(s[1].status, GM_GNTST_GENERAL_ERROR);
	ASSERT_EQ(s[2].status, GM_GNTST_BAD_GNTREF);
	ASSERT_EQ(s[3].status, GM_GNTST_BAD_DOMAIN);
	ASSERT_EQ(s[4].status, GM_GNTST_GENERAL_ERROR);
	ASSERT_EQ(s[5].status, GM_GNTST_GENERAL_ERROR);
	ASSERT_EQ(s[6].status, GM_GNTST_OKAY);
	ASSERT_EQ(guest_check(&g, irw, GM_PAGE_SIZE + 200, 3000, 44), 0);
	ASSERT_EQ(guest_check(&g, irw, GM_PAGE_SIZE + 3500, 500, 41), 0);
	ASSERT_EQ(guest_check(&g, iro, 0, GM_PAGE_SIZE, 42), 0); /* untouched */
	/* a foreign side crossing its page end: the whole call fails */
	memset(s, 0, sizeof(s));
	s[0].source.foreign.ref = rw[0];
	s[0].source.foreign.domid = 1;
	s[0].dest.virt = buf[2];
	s[0].len = 16;
	s[0].flags = GM_COPY_SOURCE_GREF;
	s[1] = s[0];
	s[1].source.foreign.offset = 4000;
	s[1].len = 200;
	ASSERT_ERR(gm_gnttab_copy(tab, 2, s), -EINVAL);
	/* many segments: split into several hub requests, all land */
	{
		enum { N = 3000 };
		static struct gm_copy_seg big[N];
		static unsigned char out[N][40];

		for (unsigned i = 0; i < N; i++) {
			memset(&big[i], 0, sizeof(big[i]));
			big[i].source.foreign.ref = rw[i % 2];
			big[i].source.foreign.domid = 1;
			big[i].source.foreign.offset = (uint16_t)(i % 100);
			big[i].dest.virt = out[i];
			big[i].len = 40;
			big[i].flags = GM_COPY_SOURCE_GREF;
		}
		ASSERT_OK(gm_gnttab_copy(tab, N, big));
		for (unsigned i = 0; i < N; i++) {
			ASSERT_EQ(big[i].status, 0);
			if (i % 2 == 0)
				for (unsigned k = 0; k < 40; k++)
					ASSERT_EQ(out[i][k], gm_test_pattern(41, i % 100 + k));
		}
	}
	ASSERT_OK(guest_call(&g, (struct g_cmd){.op = G_UNSHARE, .idx = irw}).r);
	ASSERT_OK(guest_call(&g, (struct g_cmd){.op = G_UNSHARE, .idx = iro}).r);
	ASSERT_OK(guest_call(&g, (struct g_cmd){.op = G_UNSHARE, .idx = io}).r);
}

/* A domain id belongs to one process at a time. */
static void test_domid_exclusive(void)
{
	char spec[400];
	gm_xen *y = NULL;
	gm_domid d;

	snprintf(spec, sizeof(spec), "emu:%s,domid=1", t.sock);
	ASSERT_ERR(gm_xen_open(spec, &y), -EEXIST);
	snprintf(spec, sizeof(spec), "emu:%s,domid=1,bogus=2", t.sock);
	ASSERT_ERR(gm_xen_open(spec, &y), -EINVAL);
	snprintf(spec, sizeof(spec), "emu:%s/nothere", t.dir);
	ASSERT_ERR(gm_xen_open(spec, &y), -ENOENT);
	ASSERT_OK(gm_xen_self_domid(x, &d));
	ASSERT_EQ(d, 0);
	ASSERT_TRUE(!strcmp(gm_xen_name(x), "emulated"));
}

int main(void)
{
	emu_test_start(&t);
	guest_start(&g, &t, 1);
	x = emu_world(&t, 0);
	ASSERT_OK(gm_gnttab_open(x, &tab));

	test_map_rw();
	test_map_ro();
	test_map_count_limit();
	test_bad_refs();
	test_copy();
	test_domid_exclusive();

	ASSERT_EQ(emu_wait_mapped(x, 1, 0), 0);
	gm_gnttab_close(tab);
	guest_stop(&g);
	gm_xen_close(x);
	emu_test_stop(&t);
	return 0;
}
