/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated Xen's event channels of one domain, shared by every process
 * of the world (see evtchn.h).  Like gnttab.c: no I/O, atomics only, safe
 * on words another process scribbled over.
 *
 * Memory ordering: the notifier's writes before its notify happen before
 * the delivery's release (the port word's compare-and-swap and the ready
 * bit's fetch-or); the owner takes the ready bit with an acquire.  A
 * coalesced event is carried by the pending bit, which the unmask reads
 * with an acquire before it delivers.
 */
#include "config.h"

#include "evtchn.h"

#define ST_MASK 3ull
#define PENDING 4ull
#define MASKED 8ull
#define NWORDS (GM__EV_PORTS / 64)

static inline uint64_t bit(uint32_t port)
{
	return 1ull << (port % 64);
}

void gm__ev_get(struct gm__ev *e, uint32_t port, unsigned *state, uint16_t *rdom,
		uint32_t *rport)
{
	uint64_t w = port < GM__EV_PORTS ? atomic_load_explicit(&e->word[port],
								 memory_order_acquire)
					 : 0;

	*state = (unsigned)(w & ST_MASK);
	*rdom = (uint16_t)(w >> 16);
	*rport = (uint32_t)(w >> 32) & 0xffffu;
}

uint32_t gm__ev_owner(struct gm__ev *e, uint32_t port)
{
	return port < GM__EV_PORTS ? atomic_load_explicit(&e->owner[port], memory_order_relaxed)
				   : 0;
}

void gm__ev_set(struct gm__ev *e, uint32_t port, unsigned state, uint16_t rdom, uint32_t rport,
		uint32_t owner, bool keep)
{
	uint64_t w, nw, cfg = (state & ST_MASK) | (uint64_t)rdom << 16 |
			      (uint64_t)(rport & 0xffffu) << 32;

	if (port >= GM__EV_PORTS)
		return;
	atomic_store_explicit(&e->owner[port], owner, memory_order_relaxed);
	w = atomic_load_explicit(&e->word[port], memory_order_relaxed);
	do
		nw = cfg | (keep ? w & (PENDING | MASKED) : 0);
	while (!atomic_compare_exchange_weak_explicit(&e->word[port], &w, nw, memory_order_release,
						      memory_order_relaxed));
	if (!keep)
		atomic_fetch_and_explicit(&e->ready[port / 64], ~bit(port), memory_order_relaxed);
}

void gm__ev_close(struct gm__ev *e, uint32_t port)
{
	if (port >= GM__EV_PORTS)
		return;
	atomic_store_explicit(&e->word[port], 0, memory_order_release);
	atomic_fetch_and_explicit(&e->ready[port / 64], ~bit(port), memory_order_relaxed);
	atomic_store_explicit(&e->owner[port], 0, memory_order_relaxed);
}

/* Make @port ready; 1 if it was not (its owner must be told). */
static int make_ready(struct gm__ev *e, uint32_t port, uint32_t *owner)
{
	uint64_t old = atomic_fetch_or_explicit(&e->ready[port / 64], bit(port),
						 memory_order_acq_rel);

	if (old & bit(port))
		return 0; /* still queued: its owner has been told */
	*owner = atomic_load_explicit(&e->owner[port], memory_order_relaxed);
	return 1;
}

int gm__ev_raise(struct gm__ev *e, uint32_t port, uint16_t from_dom, uint32_t from_port,
		 uint32_t *owner)
{
	uint64_t w, nw;

	if (!port || port >= GM__EV_PORTS)
		return 0;
	w = atomic_load_explicit(&e->word[port], memory_order_relaxed);
	do {
		if ((w & ST_MASK) == GM__EV_FREE)
			return 0;
		if (from_port && ((w & ST_MASK) != GM__EV_INTER || (uint16_t)(w >> 16) != from_dom ||
				  ((w >> 32) & 0xffffu) != from_port))
			return 0; /* not the peer's any more: Xen drops it */
		/* Linux evtchn: a delivered port is masked until its user unmasks */
		nw = (w & MASKED) ? w | PENDING : (w | MASKED) & ~PENDING;
	} while (!atomic_compare_exchange_weak_explicit(&e->word[port], &w, nw,
							memory_order_acq_rel, memory_order_relaxed));
	if (w & MASKED)
		return 0; /* coalesced until the unmask */
	return make_ready(e, port, owner);
}

int gm__ev_unmask(struct gm__ev *e, uint32_t port)
{
	uint64_t w, nw;
	uint32_t owner;

	if (!port || port >= GM__EV_PORTS)
		return 0;
	w = atomic_load_explicit(&e->word[port], memory_order_relaxed);
	do {
		if ((w & ST_MASK) == GM__EV_FREE || !(w & MASKED))
			return 0;
		/* an event waits: deliver it at once, which masks again */
		nw = (w & PENDING) ? w & ~PENDING : w & ~MASKED;
	} while (!atomic_compare_exchange_weak_explicit(&e->word[port], &w, nw,
							memory_order_acq_rel, memory_order_relaxed));
	return (w & PENDING) ? make_ready(e, port, &owner) : 0;
}

int gm__ev_take(struct gm__ev *e, uint32_t me, uint32_t *hint, bool *more)
{
	uint32_t start = *hint % GM__EV_PORTS, first = start / 64;
	unsigned lo = start % 64;
	int got = -1;

	*more = false;
	/* every word once from the hint on, then the start word's low bits */
	for (uint32_t k = 0; k <= NWORDS; k++) {
		uint32_t i = (first + k) % NWORDS;
		uint64_t bits = atomic_load_explicit(&e->ready[i], memory_order_relaxed);

		if (k == 0)
			bits &= ~0ull << lo;
		else if (k == NWORDS)
			bits &= lo ? ~(~0ull << lo) : 0;
		while (bits) {
			uint32_t port = i * 64 + (uint32_t)__builtin_ctzll(bits);
			uint64_t old;

			bits &= bits - 1;
			if (!port || atomic_load_explicit(&e->owner[port], memory_order_relaxed) != me)
				continue;
			if (got >= 0) {
				*more = true;
				return got;
			}
			old = atomic_fetch_and_explicit(&e->ready[i], ~bit(port), memory_order_acq_rel);
			if (old & bit(port)) {
				got = (int)port;
				*hint = port + 1;
			}
		}
	}
	return got;
}
