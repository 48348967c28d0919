/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-side sections with sharded counters; see internal.h. */
#include "config.h"

#include "internal.h"

#include <sched.h>

unsigned gm__thread_slot(void)
{
	static atomic_uint next_slot;
	static _Thread_local unsigned slot = UINT32_MAX;

	if (GM__UNLIKELY(slot == UINT32_MAX))
		slot = atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed) %
		       GM__EPOCH_SLOTS;
	return slot;
}

void gm__epoch_enter(struct gm__epoch *e, struct gm__epoch_token *t)
{
	unsigned slot = gm__thread_slot();

	/*
	 * Count ourselves in the current parity, then make sure it is still
	 * current: a writer that flipped in between may already have seen our
	 * slot empty, so retry in the new parity.  seq_cst pairs with the
	 * writer's flip and its counter loads.
	 */
	for (;;) {
		unsigned p = atomic_load(&e->parity) & 1;
		atomic_fetch_add(&e->slots[slot].n[p], 1);
		if ((atomic_load(&e->parity) & 1) == p) {
			t->slot = slot;
			t->parity = p;
			return;
		}
		atomic_fetch_sub(&e->slots[slot].n[p], 1);
	}
}

void gm__epoch_synchronize(struct gm__epoch *e)
{
	unsigned old = atomic_fetch_xor(&e->parity, 1) & 1;

	for (unsigned i = 0; i < GM__EPOCH_SLOTS; i++)
		while (atomic_load(&e->slots[i].n[old]) != 0)
			sched_yield();
}
