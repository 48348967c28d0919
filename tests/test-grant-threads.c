/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Eight threads map, read, write and unmap shared grants at once, through
 * persistent and transient regions, and find their mappings from host
 * pointers (gm_host_to_guest, gm_unmap_host) while entries come and go:
 * run under TSan in CI.  Checks the data, that concurrent misses were
 * merged, and that nothing stays mapped.  Then the same over a budget of
 * EVICT_BUDGET pages, so that persistent entries are evicted all the time
 * while other threads hit them: an entry chosen as a victim and pinned in
 * that instant is released by its last unpin, which may come at once.
 */
#include "test-emu-common.h"
#include "no-membarrier.h"

#include <pthread.h>

#define GUEST 7
#define NTHREADS 8
#define NPAGES 8
#define ROUNDS 300
#define EVICT_BUDGET 3
#define EVICT_ROUNDS 3000

static struct emu_test T;
static gm_mem *M, *ME; /* ME: over a budget of EVICT_BUDGET pages */
static gm_gref R[NPAGES];

/* Persistent maps of random pages over a small budget: evictions race with hits. */
static void *evictor(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	unsigned seed = id * 104729u + 3;

	for (unsigned round = 0; round < EVICT_ROUNDS; round++) {
		seed = seed * 1103515245u + 12345u;
		uint64_t slot = GM_GRANT_ADDR(R[(seed >> 8) % NPAGES], 2048 + id * 64);
		size_t len = 64;
		int err;
		unsigned char *p = gm_map(ME, slot, &len, GM_PROT_RW | GM_MAP_PERSISTENT, &err);

		if (!p) {
			/* every page of the budget pinned by the others: wait */
			if (err != -ENOSPC)
				GM_TEST_FAIL("evictor %u: map: %s", id, strerror(-err));
			continue;
		}
		memset(p, (int)(round & 0xff), 64);
		gm_unmap(ME, slot, p, len, GM_PROT_RW | GM_MAP_PERSISTENT, 64);
	}
	return NULL;
}

/* Thread i owns the 64-byte slot i of every page; everything else is the
 * guest's pattern and read-only by convention. */
static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	unsigned seed = id * 7919u + 1;

	for (unsigned round = 0; round < ROUNDS; round++) {
		seed = seed * 1103515245u + 12345u;
		unsigned pg = (seed >> 8) % NPAGES;
		uint64_t slot = GM_GRANT_ADDR(R[pg], 1024 + id * 64);
		int flags = GM_PROT_RW | ((seed >> 20) & 1 ? GM_MAP_TRANSIENT : GM_MAP_PERSISTENT) |
			    ((seed >> 21) & 1 ? GM_MAP_WHOLE : 0);
		size_t len = 64;
		int err;
		uint64_t back_addr;
		unsigned char *p = gm_map(M, slot, &len, flags, &err);
		if (!p)
			GM_TEST_FAIL("thread %u: map: %s", id, strerror(-err));
		if (len != 64)
			GM_TEST_FAIL("thread %u: short map %zu", id, len);
		memset(p, (int)(round & 0xff), 64);
		/* The pointer alone finds the mapping, while others come and go. */
		ASSERT_OK(gm_host_to_guest(M, p + 63, &back_addr));
		ASSERT_EQ_U64(back_addr, slot + 63);
		if ((seed >> 22) & 1)
			ASSERT_OK(gm_unmap_host(M, p + (seed >> 23) % 64, flags, 64));
		else
			gm_unmap(M, slot, p, len, flags, 64);
		unsigned char back[64];
		ASSERT_OK(gm_read(M, slot, back, sizeof(back)));
		for (int k = 0; k < 64; k++)
			if (back[k] != (round & 0xff))
				GM_TEST_FAIL("thread %u: lost write", id);
		unsigned char guest[16];
		gm_span sp;
		ASSERT_OK(gm_span_begin(&sp, M, GM_GRANT_ADDR(R[pg], 16), sizeof(guest),
					GM_PROT_READ));
		ASSERT_OK(gm_span_read(&sp, 0, guest, sizeof(guest)));
		ASSERT_OK(gm_span_end(&sp));
		if (!pattern_ok_at(guest, (size_t)pg * GM_PAGE_SIZE + 16, sizeof(guest), 31))
			GM_TEST_FAIL("thread %u: guest data wrong", id);
		if (round % 50 == 0)
			gm_grant_cache_invalidate_refs(NULL, 0, 0, 1); /* bad args: harmless */
	}
	return NULL;
}

int main(void)
{
	struct guest g;
	gm_xen *x;
	gm_gnttab *gt;
	gm_grant_cache *c;
	gm_region *r;
	gm_space *s;
	pthread_t t[NTHREADS];

	test_also_without_membarrier();
	emu_test_start(&T);
	guest_start(&g, &T, GUEST);
	guest_share(&g, 0, NPAGES, 1, 31, R);
	x = emu_world(&T, 0);
	ASSERT_OK(gm_gnttab_open(x, &gt));
	ASSERT_OK(gm_grant_cache_new(gt, NULL, &c));
	ASSERT_OK(gm_grant_region_new(c, GUEST, GM_GRANT_PERSISTENT, &r));
	ASSERT_OK(gm_space_new(&s));
	ASSERT_OK(gm_space_add(s, GM_GRANT_BASE, r));
	M = gm_space_mem(s);

	for (unsigned i = 0; i < NTHREADS; i++)
		ASSERT_OK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i));
	/* Meanwhile, invalidations race with the workers. */
	for (int i = 0; i < 20; i++) {
		ASSERT_TRUE(gm_grant_cache_invalidate_domain(c, GUEST) >= 0);
		emu_sleep_ms(2);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		ASSERT_OK(pthread_join(t[i], NULL));

	/* A budget of EVICT_BUDGET pages: evictions under hits. */
	{
		struct gm_grant_cache_config cfg = {.size = sizeof(cfg),
						    .max_pages = EVICT_BUDGET};
		struct gm_grant_stats es = {.size = sizeof(es)};
		gm_grant_cache *ce;
		gm_region *re;
		gm_space *se;

		ASSERT_OK(gm_grant_cache_new(gt, &cfg, &ce));
		ASSERT_OK(gm_grant_region_new(ce, GUEST, GM_GRANT_PERSISTENT, &re));
		ASSERT_OK(gm_space_new(&se));
		ASSERT_OK(gm_space_add(se, GM_GRANT_BASE, re));
		ME = gm_space_mem(se);
		for (unsigned i = 0; i < NTHREADS; i++)
			ASSERT_OK(pthread_create(&t[i], NULL, evictor, (void *)(uintptr_t)i));
		for (unsigned i = 0; i < NTHREADS; i++)
			ASSERT_OK(pthread_join(t[i], NULL));
		gm_grant_cache_stats(ce, &es);
		printf("over a budget of %u pages: hits %" PRIu64 " misses %" PRIu64
		       " evictions %" PRIu64 "\n", EVICT_BUDGET, es.hits, es.misses, es.evictions);
		ASSERT_TRUE(es.evictions > 0);
		ASSERT_EQ(es.pinned_entries, 0);
		ASSERT_TRUE(es.mapped_pages <= EVICT_BUDGET);
		gm_space_free(se);
		gm_region_free(re);
		gm_grant_cache_free(ce);
	}

	struct gm_grant_stats st = {.size = sizeof(st)};
	gm_grant_cache_stats(c, &st);
	printf("hits %" PRIu64 " misses %" PRIu64 " map calls %" PRIu64 " dedup waits %" PRIu64
	       " invalidations %" PRIu64 "\n",
	       st.hits, st.misses, st.map_calls, st.dedup_waits, st.invalidations);
	ASSERT_TRUE(st.hits > 0);
	ASSERT_EQ(st.pinned_entries, 0);
	ASSERT_EQ(gm_grant_cache_invalidate_all(c) >= 0, 1);
	gm_grant_cache_stats(c, &st);
	ASSERT_EQ(st.mapped_pages, 0);
	ASSERT_EQ(emu_wait_mapped(x, GUEST, 0), 0);
	gm_space_free(s);
	gm_region_free(r);
	gm_grant_cache_free(c);
	gm_gnttab_close(gt);
	guest_stop(&g);
	gm_xen_close(x);
	emu_test_stop(&T);
	return 0;
}
