/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fake Xen world (tests/fake-xen.c) behaves as the header promises. */
#include "config.h"

#include "fake-xen.h"
#include "helpers.h"

#include <pthread.h>

/* The permissions of the mapping at @addr in /proc/self/maps ("r--s"...). */
static void perms_of(const void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	perms[0] = '\0';
	if (!f)
		exit(GM_TEST_HARD_ERROR);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && (uintptr_t)addr >= lo &&
		    (uintptr_t)addr < hi) {
			memcpy(perms, p, 5);
			break;
		}
	}
	fclose(f);
}

static void test_map(struct fake_xen *f, gm_gnttab *g)
{
	struct fake_xen_stats st;
	gm_gref rw[2] = {10, 11}, ro[1] = {12}, bad[2] = {10, 99};
	unsigned char *m, *p0 = fake_xen_page(f, 0), *p1 = fake_xen_page(f, 1);
	char perms[5];
	int err;

	gm_test_fill(p0, GM_PAGE_SIZE, 1);
	gm_test_fill(p1, GM_PAGE_SIZE, 2);
	m = gm_gnttab_map(g, 2, 1, rw, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(m);
	ASSERT_EQ(err, 0);
	ASSERT_EQ((uintptr_t)m % GM_PAGE_SIZE, 0);
	/* the same bytes both ways */
	ASSERT_MEM_EQ(m, p0, GM_PAGE_SIZE);
	ASSERT_MEM_EQ(m + GM_PAGE_SIZE, p1, GM_PAGE_SIZE);
	m[5] = 0xaa;
	ASSERT_EQ(p0[5], 0xaa);
	p1[7] = 0x55;
	ASSERT_EQ(m[GM_PAGE_SIZE + 7], 0x55);
	ASSERT_EQ(fake_xen_ref_mapped(f, 1, 10), 1);
	ASSERT_EQ(fake_xen_ref_mapped(f, 1, 11), 1);
	fake_xen_stats(f, &st);
	ASSERT_EQ(st.pages_mapped, 2);
	ASSERT_EQ(st.batches_mapped, 1);

	/* ending access while mapped fails */
	ASSERT_ERR(fake_xen_revoke(f, 1, 10), -EBUSY);
	ASSERT_ERR(fake_xen_grant(f, 1, 10, 3, true), -EBUSY);

	/* a read-only grant: never writable */
	ASSERT_NULL(gm_gnttab_map(g, 1, 1, ro, GM_PROT_RW, &err));
	ASSERT_EQ(err, -EINVAL);
	unsigned char *r = gm_gnttab_map(g, 1, 1, ro, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(r);
	perms_of(r, perms);
	ASSERT_TRUE(!strcmp(perms, "r--s"));
	perms_of(m, perms);
	ASSERT_TRUE(!strcmp(perms, "rw-s"));
	ASSERT_EQ(fake_xen_ref_mapped(f, 1, 12), 1);
	ASSERT_OK(gm_gnttab_unmap(g, r, 1));

	/* bad ref, wrong domain: -EINVAL, all or nothing */
	ASSERT_NULL(gm_gnttab_map(g, 2, 1, bad, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(gm_gnttab_map(g, 1, 2, rw, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_EQ(fake_xen_ref_mapped(f, 1, 10), 1);

	/* unmap takes exactly a batch */
	ASSERT_ERR(gm_gnttab_unmap(g, m, 1), -EINVAL);
	ASSERT_ERR(gm_gnttab_unmap(g, m + GM_PAGE_SIZE, 1), -EINVAL);
	ASSERT_OK(gm_gnttab_unmap(g, m, 2));
	ASSERT_EQ(fake_xen_ref_mapped(f, 1, 10), 0);
	fake_xen_stats(f, &st);
	ASSERT_EQ(st.pages_mapped, 0);
	ASSERT_EQ(st.batches_mapped, 0);
	ASSERT_EQ(st.map_fails, 3);

	/* revoked: mapping fails */
	ASSERT_OK(fake_xen_revoke(f, 1, 11));
	ASSERT_ERR(fake_xen_revoke(f, 1, 11), -ENOENT);
	ASSERT_NULL(gm_gnttab_map(g, 1, 1, &rw[1], GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_OK(fake_xen_grant(f, 1, 11, 1, true));
}

static void test_budget_and_faults(struct fake_xen *f, gm_xen *x)
{
	struct fake_xen_stats st, st2;
	gm_gref refs[3] = {10, 11, 12};
	gm_gnttab *g;
	void *m;
	int err;

	ASSERT_OK(gm_gnttab_open(x, &g));
	ASSERT_OK(gm_gnttab_set_max_grants(g, 2));
	ASSERT_NULL(gm_gnttab_map(g, 3, 1, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -ENOSPC);
	m = gm_gnttab_map(g, 2, 1, refs, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(m);
	ASSERT_NULL(gm_gnttab_map(g, 1, 1, &refs[2], GM_PROT_READ, &err));
	ASSERT_EQ(err, -ENOSPC);
	ASSERT_OK(gm_gnttab_unmap(g, m, 2));

	/* every op through the wrappers' fault sites */
	fake_xen_stats(f, &st);
	gm_fault_reset();
	ASSERT_OK(gm_fault_inject("gnttab_map", 1, -ENOMEM));
	ASSERT_NULL(gm_gnttab_map(g, 1, 1, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -ENOMEM);
	fake_xen_stats(f, &st2);
	ASSERT_EQ(st2.map_calls, st.map_calls);
	m = gm_gnttab_map(g, 1, 1, refs, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(m);
	ASSERT_EQ(gm_fault_count("gnttab_map"), 2);
	ASSERT_OK(gm_fault_inject("gnttab_unmap", 1, -EIO));
	ASSERT_ERR(gm_gnttab_unmap(g, m, 1), -EIO);
	ASSERT_EQ(fake_xen_ref_mapped(f, 1, 10), 1);
	ASSERT_OK(gm_gnttab_unmap(g, m, 1));
	gm_fault_reset();

	/* closing with a batch still mapped: counted as a leak */
	m = gm_gnttab_map(g, 1, 1, refs, GM_PROT_READ, &err);
	ASSERT_NOT_NULL(m);
	gm_gnttab_close(g);
	fake_xen_stats(f, &st);
	ASSERT_EQ(st.leaked_batches, 1);
	ASSERT_EQ(st.pages_mapped, 0);
	ASSERT_EQ(fake_xen_ref_mapped(f, 1, 10), 0);
}

static void test_copy(struct fake_xen *f, gm_gnttab *g)
{
	unsigned char buf[256], *p1 = fake_xen_page(f, 1), *p2 = fake_xen_page(f, 2);
	struct gm_copy_seg s[4];

	memset(s, 0, sizeof(s));
	/* ref 11 (page 1, rw) at offset 100 -> buf */
	s[0].flags = GM_COPY_SOURCE_GREF;
	s[0].source.foreign = (typeof(s[0].source.foreign)){.ref = 11, .offset = 100, .domid = 1};
	s[0].dest.virt = buf;
	s[0].len = 128;
	/* buf -> ref 12 (read-only): Xen says general error */
	s[1].flags = GM_COPY_DEST_GREF;
	s[1].source.virt = buf;
	s[1].dest.foreign = (typeof(s[1].dest.foreign)){.ref = 12, .offset = 0, .domid = 1};
	s[1].len = 16;
	/* a ref never granted */
	s[2].flags = GM_COPY_SOURCE_GREF;
	s[2].source.foreign = (typeof(s[2].source.foreign)){.ref = 999, .offset = 0, .domid = 1};
	s[2].dest.virt = buf;
	s[2].len = 16;
	/* a domain that granted nothing */
	s[3] = s[2];
	s[3].source.foreign.domid = 9;
	s[3].source.foreign.ref = 10;

	gm_test_fill(p1, GM_PAGE_SIZE, 7);
	memset(p2, 0x11, GM_PAGE_SIZE);
	ASSERT_OK(gm_gnttab_copy(g, 4, s));
	ASSERT_EQ(s[0].status, GM_GNTST_OKAY);
	ASSERT_MEM_EQ(buf, p1 + 100, 128);
	ASSERT_EQ(s[1].status, GM_GNTST_GENERAL_ERROR);
	ASSERT_EQ(p2[0], 0x11);
	ASSERT_EQ(s[2].status, GM_GNTST_BAD_GNTREF);
	ASSERT_EQ(s[3].status, GM_GNTST_BAD_DOMAIN);

	/* buf -> ref 10 (rw) */
	memset(buf, 0x77, sizeof(buf));
	s[0].flags = GM_COPY_DEST_GREF;
	s[0].source.virt = buf;
	s[0].dest.foreign = (typeof(s[0].dest.foreign)){.ref = 10, .offset = 4000, .domid = 1};
	s[0].len = 96;
	ASSERT_OK(gm_gnttab_copy(g, 1, s));
	ASSERT_EQ(s[0].status, GM_GNTST_OKAY);
	ASSERT_MEM_EQ((unsigned char *)fake_xen_page(f, 0) + 4000, buf, 96);
	/* crossing the page end: the whole call fails */
	s[0].len = 97;
	ASSERT_ERR(gm_gnttab_copy(g, 1, s), -EINVAL);
}

static void test_gntshr(struct fake_xen *f, gm_xen *x, gm_gnttab *g)
{
	gm_gntshr *s;
	gm_gref refs[2];
	unsigned char *shared, *m;
	gm_domid self = 99;
	int err;

	ASSERT_OK(gm_xen_self_domid(x, &self));
	ASSERT_EQ(self, 0);
	ASSERT_OK(gm_gntshr_open(x, &s));
	shared = gm_gntshr_share(s, 1, 2, refs, 1, &err);
	ASSERT_NOT_NULL(shared);
	ASSERT_EQ(shared[0], 0);
	/* pages 0..2 hold declared grants: the share uses free ones */
	ASSERT_TRUE(shared >= (unsigned char *)fake_xen_page(f, 3));
	ASSERT_NE(refs[0], refs[1]);
	shared[GM_PAGE_SIZE + 1] = 0x42;
	m = gm_gnttab_map(g, 2, 0, refs, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(m);
	ASSERT_EQ(m[GM_PAGE_SIZE + 1], 0x42);
	ASSERT_ERR(gm_gntshr_end_access(s, refs[0]), -EBUSY);
	ASSERT_ERR(gm_gntshr_unshare(s, shared, 2), -EBUSY);
	ASSERT_OK(gm_gnttab_unmap(g, m, 2));
	ASSERT_OK(gm_gntshr_end_access(s, refs[0]));
	ASSERT_ERR(gm_gntshr_end_access(s, refs[0]), -EINVAL);
	ASSERT_OK(gm_gntshr_unshare(s, shared, 2));
	ASSERT_NULL(gm_gnttab_map(g, 1, 0, &refs[1], GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	gm_gntshr_close(s);
}

struct thr {
	gm_gnttab *g;
	int fails;
};

static void *thread_fn(void *arg)
{
	struct thr *t = arg;
	gm_gref refs[2] = {10, 11};
	int err;

	for (int i = 0; i < 200; i++) {
		void *m = gm_gnttab_map(t->g, 2, 1, refs, GM_PROT_READ, &err);

		if (!m || gm_gnttab_unmap(t->g, m, 2))
			t->fails++;
	}
	return NULL;
}

static void test_threads(struct fake_xen *f, gm_gnttab *g)
{
	struct thr t[4];
	pthread_t th[4];
	struct fake_xen_stats st;

	for (int i = 0; i < 4; i++) {
		t[i].g = g;
		t[i].fails = 0;
		ASSERT_OK(pthread_create(&th[i], NULL, thread_fn, &t[i]));
	}
	for (int i = 0; i < 4; i++) {
		ASSERT_OK(pthread_join(th[i], NULL));
		ASSERT_EQ(t[i].fails, 0);
	}
	fake_xen_stats(f, &st);
	ASSERT_EQ(st.pages_mapped, 0);
}

int main(void)
{
	struct fake_xen *f = fake_xen_new(8);
	gm_gnttab *g;
	gm_xen *x;

	if (!f)
		return GM_TEST_HARD_ERROR;
	x = fake_xen_world(f);
	ASSERT_TRUE(!strcmp(gm_xen_name(x), "fake"));
	ASSERT_OK(fake_xen_grant(f, 1, 10, 0, true));
	ASSERT_OK(fake_xen_grant(f, 1, 11, 1, true));
	ASSERT_OK(fake_xen_grant(f, 1, 12, 2, false));
	ASSERT_ERR(fake_xen_grant(f, 1, 13, 8, false), -EINVAL);
	ASSERT_OK(gm_gnttab_open(x, &g));

	test_map(f, g);
	test_copy(f, g);
	test_gntshr(f, x, g);
	test_threads(f, g);
	test_budget_and_faults(f, x);

	gm_gnttab_close(g);
	fake_xen_free(f);
	return 0;
}
