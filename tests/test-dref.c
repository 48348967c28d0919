/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Distributed references (lib/base/dref.c), an internal: threads take and
 * drop references to shared objects, on their own cells, across threads,
 * and colliding in one cell, while the main thread reads exact counts
 * (freeze, grace period, fold, thaw) and kills objects (kill_begin, grace
 * period, kill_end): every count must add up, every object must be freed
 * exactly once, by whoever dropped its last reference.  Run under TSan in
 * CI (check-threads).
 */
#include "helpers.h"

#include "base/base.h"

#include <pthread.h>
#include <string.h>

#define NTHREADS 6
#define NOBJ 64
#define ROUNDS 20000

struct obj {
	struct gm__dref ref;
	atomic_int frees;
	atomic_int holders; /* references the test knows are held */
};

static struct gm__epoch *ep;
static struct obj objs[NOBJ];
static atomic_bool stop;
static atomic_int freed_by_put;

/* A reference one thread took and may hand to another to drop. */
static _Atomic(struct obj *) handoff[NTHREADS];

static void put(struct obj *o)
{
	struct gm__epoch_token t;

	atomic_fetch_sub(&o->holders, 1);
	gm__epoch_enter(ep, &t);
	bool last = gm__dref_put(&o->ref);
	gm__epoch_exit(ep, &t);
	if (last) {
		atomic_fetch_add(&o->frees, 1);
		atomic_fetch_add(&freed_by_put, 1);
	}
}

static bool get(struct obj *o)
{
	struct gm__epoch_token t;

	gm__epoch_enter(ep, &t);
	bool ok = gm__dref_get(&o->ref);
	if (ok)
		atomic_fetch_add(&o->holders, 1);
	gm__epoch_exit(ep, &t);
	return ok;
}

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, seed = id * 2654435761u + 1;
	struct obj *held[8];
	unsigned n = 0;

	while (!atomic_load(&stop)) {
		seed = seed * 1103515245u + 12345u;
		unsigned what = (seed >> 16) % 4;
		if (what == 0 && n < 8) {
			struct obj *o = &objs[(seed >> 4) % NOBJ];
			if (get(o))
				held[n++] = o;
		} else if (what == 1 && n) {
			put(held[--n]);
		} else if (what == 2 && n) {
			/* hand a reference to the next thread: dropped there */
			struct obj *o = held[--n], *none = NULL;
			_Atomic(struct obj *) *next = &handoff[(id + 1) % NTHREADS];
			if (!atomic_compare_exchange_strong(next, &none, o))
				put(o);
		} else {
			struct obj *o = atomic_exchange(&handoff[id], NULL);
			if (o)
				put(o);
		}
	}
	while (n)
		put(held[--n]);
	return NULL;
}

int main(void)
{
	pthread_t th[NTHREADS];
	int killed = 0, freed_by_kill = 0;

	ep = gm__zalloc_aligned(sizeof(*ep));
	ASSERT_NOT_NULL(ep);
	for (unsigned i = 0; i < NOBJ; i++)
		gm__dref_init(&objs[i].ref, 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		ASSERT_OK(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i));
	/* Exact counts while everything runs: between freeze and thaw the
	 * central word is the count, whatever the threads do. */
	for (unsigned r = 0; r < ROUNDS / 100; r++) {
		struct obj *o = &objs[r % (NOBJ / 2)];
		gm__dref_freeze(&o->ref);
		gm__epoch_synchronize(ep);
		int64_t v = gm__dref_fold(&o->ref);
		ASSERT_TRUE(v >= 0 && v <= 8 * NTHREADS + NTHREADS);
		gm__dref_thaw(&o->ref);
	}
	/* Kill the upper half while it is in use. */
	for (unsigned i = NOBJ / 2; i < NOBJ; i++) {
		gm__dref_kill_begin(&objs[i].ref);
		gm__epoch_synchronize(ep);
		if (gm__dref_kill_end(&objs[i].ref)) {
			atomic_fetch_add(&objs[i].frees, 1);
			freed_by_kill++;
		}
		killed++;
	}
	atomic_store(&stop, true);
	for (unsigned i = 0; i < NTHREADS; i++)
		ASSERT_OK(pthread_join(th[i], NULL));
	for (unsigned i = 0; i < NTHREADS; i++) {
		struct obj *o = atomic_exchange(&handoff[i], NULL);
		if (o)
			put(o);
	}
	/* Every killed object freed exactly once; the live ones at 0, by a
	 * fold and by the racy sum alike. */
	for (unsigned i = 0; i < NOBJ; i++) {
		ASSERT_EQ(atomic_load(&objs[i].holders), 0);
		if (i >= NOBJ / 2) {
			ASSERT_EQ(atomic_load(&objs[i].frees), 1);
			continue;
		}
		ASSERT_EQ(atomic_load(&objs[i].frees), 0);
		ASSERT_EQ(gm__dref_peek(&objs[i].ref), 0);
		gm__dref_freeze(&objs[i].ref);
		gm__epoch_synchronize(ep);
		ASSERT_EQ(gm__dref_fold(&objs[i].ref), 0);
	}
	ASSERT_EQ(freed_by_kill + atomic_load(&freed_by_put), killed);
	printf("killed %d: %d freed at once, %d by their last put\n", killed, freed_by_kill,
	       atomic_load(&freed_by_put));
	free(ep);
	return 0;
}
