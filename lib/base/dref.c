/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-thread counters, the sampled LRU clock and distributed references:
 * the slow paths (see base.h for the protocols).
 *
 * Why a fold is exact.  Gets and puts run inside read-side sections of the
 * object's epoch E and look at the object's state first.  A freeze is
 * stored before the freezer's grace period of E: a section that began
 * after the parity flip sees it (epoch.c explains why) and uses the central
 * word only; a section that did not see it is one the grace period waited
 * for, and its cell update happened before the wait ended (the section's
 * exit is a release, the writer's scan an acquire).  So after the grace
 * period no cell of the object changes, except that its owner may take
 * over a cell whose count is 0, which changes nothing of the sum; the fold
 * exchanges each nonzero cell of the object for 0 and adds the counts to
 * the central word.
 *
 * Why kill_begin adds a bias.  After the kill, puts decrement the central
 * word and the one that takes it to 0 frees the object.  Until kill_end
 * has folded the cells in, the central word alone is not the count; the
 * bias keeps it far above 0 until then, and kill_end removes it together
 * with adding the cells: exactly one of kill_end and the puts sees 0.
 */
#include "config.h"

#include "base.h"

struct gm__dref_table gm__dref_tables[GM__EPOCH_OWNED];
atomic_uint_least64_t gm__lru_clock __attribute__((aligned(GM__CACHELINE)));
__thread uint64_t gm__lru_mine __attribute__((tls_model("initial-exec")));

uint64_t gm__slot_ctr_sum(const struct gm__slot_ctr *ctr)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < GM__EPOCH_SLOTS; i++)
		s += atomic_load_explicit(&ctr[i].v, memory_order_relaxed);
	return s;
}

bool gm__dref_get_frozen(struct gm__dref *d)
{
	/* acquire: pairs with kill_begin's release of DEAD */
	if (atomic_load_explicit(&d->state, memory_order_acquire) & GM__DREF_DEAD)
		return false;
	atomic_fetch_add_explicit(&d->central, 1, memory_order_relaxed);
	return true;
}

bool gm__dref_put_frozen(struct gm__dref *d)
{
	/* acquire: a put that sees DEAD sees the bias added before it, so its
	 * decrement comes after the bias in the central word's order */
	bool dead = atomic_load_explicit(&d->state, memory_order_acquire) & GM__DREF_DEAD;
	/* acq_rel: release, what we did comes before the free; acquire, the
	 * one that frees comes after every other holder's release */
	int64_t v = atomic_fetch_sub_explicit(&d->central, 1, memory_order_acq_rel) - 1;

	return dead && v == 0;
}

int64_t gm__dref_peek(struct gm__dref *d)
{
	/* relaxed everywhere: a hint, not a count (see base.h) */
	int64_t s = atomic_load_explicit(&d->central, memory_order_relaxed);

	for (unsigned i = 0; i < GM__EPOCH_OWNED; i++) {
		struct gm__dref_cell *c = gm__dref_cell(i, d);
		int64_t n = atomic_load_explicit(&c->n, memory_order_relaxed);
		if (n && atomic_load_explicit(&c->key, memory_order_relaxed) == d)
			s += n;
	}
	return s;
}

void gm__dref_freeze(struct gm__dref *d)
{
	atomic_fetch_add_explicit(&d->state, 1, memory_order_release);
}

void gm__dref_thaw(struct gm__dref *d)
{
	atomic_fetch_sub_explicit(&d->state, 1, memory_order_release);
}

/* Take every thread's count of @d out of its cell.  Frozen, after a grace
 * period of E. */
static int64_t take_cells(struct gm__dref *d)
{
	int64_t sum = 0;

	for (unsigned i = 0; i < GM__EPOCH_OWNED; i++) {
		struct gm__dref_cell *c = gm__dref_cell(i, d);
		/* acquire, then the key: a count stored by a takeover (release)
		 * comes with its key, so a count is never paired with the key
		 * before it */
		if (!atomic_load_explicit(&c->n, memory_order_acquire) ||
		    atomic_load_explicit(&c->key, memory_order_relaxed) != d)
			continue;
		/* The owner leaves a nonzero cell of a frozen object alone, and
		 * an exchange keeps two folders from both taking it. */
		sum += atomic_exchange_explicit(&c->n, 0, memory_order_acq_rel);
	}
	return sum;
}

int64_t gm__dref_fold(struct gm__dref *d)
{
	int64_t l = take_cells(d);

	return atomic_fetch_add_explicit(&d->central, l, memory_order_acq_rel) + l;
}

void gm__dref_kill_begin(struct gm__dref *d)
{
	atomic_fetch_add_explicit(&d->central, GM__DREF_BIAS, memory_order_relaxed);
	/* release: whoever sees DEAD sees the bias */
	atomic_fetch_or_explicit(&d->state, GM__DREF_DEAD, memory_order_release);
}

bool gm__dref_kill_end(struct gm__dref *d)
{
	int64_t add = take_cells(d) - GM__DREF_BIAS;

	return atomic_fetch_add_explicit(&d->central, add, memory_order_acq_rel) + add == 0;
}
