/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the grant cache's tests against the emulated Xen share: the world,
 * a forked guest domain that grants pages, and a backend made of a cache,
 * a grant region of the guest and a space that holds it.  The test's main
 * starts T, G, X and GT (and stops them).
 */
#ifndef GM_TEST_GRANT_COMMON_H
#define GM_TEST_GRANT_COMMON_H

#include "test-emu-common.h"

#define GUEST 5
#define OTHER 6

static struct emu_test T;
static struct guest G;
static gm_xen *X;
static gm_gnttab *GT;

struct be {
	gm_grant_cache *c;
	gm_region *r;
	gm_space *s;
	gm_mem *m;
};

/* A backend of the guest's grants under @policy, on a cache made with @cfg
 * (NULL: the defaults), the region at GM_GRANT_BASE of its space. */
static inline struct be be_new_cfg(enum gm_grant_policy policy,
				   const struct gm_grant_cache_config *cfg)
{
	struct be b;

	ASSERT_OK(gm_grant_cache_new(GT, cfg, &b.c));
	ASSERT_OK(gm_grant_region_new(b.c, GUEST, policy, &b.r));
	ASSERT_OK(gm_space_new(&b.s));
	ASSERT_OK(gm_space_add(b.s, GM_GRANT_BASE, b.r));
	b.m = gm_space_mem(b.s);
	return b;
}

/* Free it all; nothing of the guest's may stay mapped. */
static inline void be_free(struct be *b)
{
	gm_space_free(b->s);
	gm_region_free(b->r);
	gm_grant_cache_free(b->c);
	ASSERT_EQ(emu_wait_mapped(X, GUEST, 0), 0);
}

static inline struct gm_grant_stats stats(struct be *b)
{
	struct gm_grant_stats st = {.size = sizeof(st)};

	gm_grant_cache_stats(b->c, &st);
	return st;
}

/* Share @n consecutive pages (the emulator hands out refs in order). */
static inline unsigned share(unsigned n, int writable, uint64_t seed, gm_gref *refs)
{
	unsigned idx = guest_share(&G, 0, n, writable, seed, refs);

	for (unsigned i = 1; i < n; i++)
		ASSERT_EQ(refs[i], refs[0] + i);
	return idx;
}

#endif /* GM_TEST_GRANT_COMMON_H */
