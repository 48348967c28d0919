/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Concurrent readers while regions come and go: run under TSan in CI.
 * Readers see either a region (with its full, consistent content) or
 * -EFAULT, never freed memory or a torn layout.  First a few readers, then
 * batches of more threads than there are read-side slots of their own
 * (GM__EPOCH_OWNED, 64), so that some share the overflow slot, and the
 * slots of exited threads are taken by the next batch.
 */
#include "test-regions.h"
#include "no-membarrier.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <stdatomic.h>

#define NREG 8
#define NREADERS 4
#define MANY 72 /* > the 64 owned read-side slots */
#define ROUNDS 400

static gm_space *s;
static atomic_int stop;
static atomic_int warnings; /* e.g. a gm_unmap that found no region */
static atomic_long hits_total; /* reads that found their region */

/* Region i is filled with byte i+1 everywhere; it lives at i * 0x10000. */
static void *reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	unsigned char buf[256];
	long hits = 0;

	while (!atomic_load(&stop)) {
		seed = seed * 1103515245u + 12345u;
		unsigned i = (seed >> 8) % NREG;
		uint64_t addr = (uint64_t)i * 0x10000 + ((seed >> 16) % 0x0f00);
		int ret = gm_read(gm_space_mem(s), addr, buf, sizeof(buf));
		if (ret == 0) {
			for (size_t k = 0; k < sizeof(buf); k++)
				if (buf[k] != i + 1)
					GM_TEST_FAIL("torn read in region %u: %u", i, buf[k]);
			hits++;
			atomic_fetch_add(&hits_total, 1);
			size_t len = 64;
			int err;
			void *p = gm_map(gm_space_mem(s), addr, &len, GM_PROT_READ, &err);
			if (p) {
				if (*(unsigned char *)p != i + 1)
					GM_TEST_FAIL("mapped byte wrong");
				gm_unmap(gm_space_mem(s), addr, p, len, GM_PROT_READ, 0);
			}
		} else if (ret != -EFAULT) {
			GM_TEST_FAIL("read: %d", ret);
		}
	}
	return (void *)hits;
}

static void count_warnings(void *opaque, gm_log_level level, const char *msg)
{
	(void)opaque;
	if (level <= GM_LOG_WARNING) {
		fprintf(stderr, "%s\n", msg);
		atomic_fetch_add(&warnings, 1);
	}
}

/*
 * @n readers against a writer that adds and removes regions, @rounds times
 * at least.  Every round waits for the readers inside a section; with many
 * more busy readers than CPUs that takes a scheduler round each, so the
 * big batches run few rounds.
 */
static void churn(gm_region **r, unsigned n, unsigned rounds)
{
	pthread_t t[MANY];

	atomic_store(&stop, 0);
	atomic_store(&hits_total, 0);
	for (unsigned i = 0; i < n; i++)
		ASSERT_OK(pthread_create(&t[i], NULL, reader, (void *)(uintptr_t)(i + 1)));
	/* ...and until the readers got going, or 10 s on a machine too loaded
	 * for that (a deadlock trips the alarm). */
	alarm(60);
	time_t start = time(NULL);
	for (unsigned round = 0;
	     round < rounds || (atomic_load(&hits_total) < 2000 && time(NULL) - start < 10);
	     round++) {
		unsigned i = round % NREG;
		int ret = gm_space_add(s, (uint64_t)i * 0x10000, r[i]);
		if (ret == -EEXIST)
			ASSERT_OK(gm_space_remove(s, r[i]));
		else if (ret != -EBUSY) /* -EBUSY: still mapped by a reader */
			ASSERT_OK(ret);
	}
	atomic_store(&stop, 1);
	long total = 0;
	for (unsigned i = 0; i < n; i++) {
		void *hits;
		ASSERT_OK(pthread_join(t[i], &hits));
		total += (long)hits;
	}
	ASSERT_TRUE(total > 0);
	ASSERT_EQ(atomic_load(&warnings), 0); /* every mapping found at unmap */
	alarm(0);
}

int main(void)
{
	gm_region *r[NREG];
	/* the fallback: one batch of many (the second is about slot reuse) */
	int batches = test_also_without_membarrier() ? 1 : 2;

	gm_set_log(count_warnings, NULL, GM_LOG_WARNING);
	ASSERT_OK(gm_space_new(&s));
	for (unsigned i = 0; i < NREG; i++) {
		ASSERT_OK(gm_ram_region_new_anon(0x1000, &r[i]));
		memset(gm_ram_region_host(r[i]), (int)i + 1, 0x1000);
	}
	churn(r, NREADERS, ROUNDS);
	for (int batch = 0; batch < batches; batch++)
		churn(r, MANY, 8);
	for (unsigned i = 0; i < NREG; i++) {
		gm_space_remove(s, r[i]); /* -ENOENT if the churn left it out */
		gm_region_free(r[i]);
	}
	gm_space_free(s);
	return 0;
}
