/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem internals, base layer (lib/base): logging, fault injection,
 * allocation, read-side sections and small helpers.  Every layer above may
 * include it; it includes no other layer.  Never installed.
 */
#ifndef GM_BASE_H
#define GM_BASE_H

#include <grantmem/common.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#define GM__LIKELY(x) __builtin_expect(!!(x), 1)
#define GM__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GM__CACHELINE 64
#define GM__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define GM__MIN(a, b) ((a) < (b) ? (a) : (b))
#define GM__PRINTF(f, a) __attribute__((format(printf, f, a)))
/*
 * Exported from libgrantmem for grantmem's own libraries built on it
 * (libgrantmem-emu, libgrantmem-ioreq) under the version node
 * GRANTMEM_PRIVATE: one log sink and one fault-injection switch for all of
 * them.  No ABI promise.  Other internal headers of libgrantmem may
 * declare GM__PRIVATE names too (tests/test-symbols.sh reads them all).
 */
#define GM__PRIVATE __attribute__((visibility("default")))

/* ---- logging (log.c) ---- */
GM__PRIVATE void gm__log(gm_log_level level, const char *fmt, ...) GM__PRINTF(2, 3);
GM__PRIVATE bool gm__log_enabled(gm_log_level level);
#define gm__err(...) gm__log(GM_LOG_ERROR, __VA_ARGS__)
#define gm__warn(...) gm__log(GM_LOG_WARNING, __VA_ARGS__)
#define gm__info(...) gm__log(GM_LOG_INFO, __VA_ARGS__)
#define gm__dbg(...)                                                                       \
	do {                                                                               \
		if (gm__log_enabled(GM_LOG_DEBUG))                                         \
			gm__log(GM_LOG_DEBUG, __VA_ARGS__);                                \
	} while (0)

/* ---- rate-limited logging (log.c) ----
 *
 * For lines a guest can trigger as often as it likes.  Each call site keeps
 * its own zeroed, static struct gm__ratelimit (the gm__*_rl() macros make
 * one) and logs through gm__log_rl(): the site lets GM__RL_BURST lines
 * through at once, then about one per GM__RL_INTERVAL_NS, and a quiet site
 * earns its burst back at that rate.  The first line let through after
 * some were dropped is preceded by one saying how many.  Lock-free: a line
 * let through costs a compare-and-swap, a dropped one an atomic add, and a
 * line whose level is disabled nothing (it neither logs nor counts).
 */
#define GM__RL_BURST 10
#define GM__RL_INTERVAL_NS 1000000000ull
struct gm__ratelimit {
	_Atomic uint64_t tat;          /* when the bucket is empty again (ns) */
	atomic_uint_least64_t dropped; /* lines dropped since one was let through */
};
GM__PRIVATE void gm__log_rl(struct gm__ratelimit *rl, gm_log_level level, const char *fmt, ...)
	GM__PRINTF(3, 4);
#define GM__LOG_RL(level, ...)                                                             \
	do {                                                                               \
		static struct gm__ratelimit gm__rl_;                                       \
		gm__log_rl(&gm__rl_, level, __VA_ARGS__);                                  \
	} while (0)
#define gm__err_rl(...) GM__LOG_RL(GM_LOG_ERROR, __VA_ARGS__)
#define gm__warn_rl(...) GM__LOG_RL(GM_LOG_WARNING, __VA_ARGS__)
#define gm__info_rl(...) GM__LOG_RL(GM_LOG_INFO, __VA_ARGS__)
/* For tests: the limiter's clock (monotonic nanoseconds); NULL restores the
 * real one.  Set it while no thread logs. */
void gm__ratelimit_set_clock(uint64_t (*now)(void));

/* ---- fault injection (fault.c) ---- */
/*
 * gm__fault(site): count a call at @site and return the injected negative
 * errno if this call is armed to fail, else 0.  One relaxed load when no site
 * is armed.
 */
GM__PRIVATE int gm__fault_slow(const char *site);
GM__PRIVATE extern atomic_int gm__fault_armed;
static inline int gm__fault(const char *site)
{
	if (GM__LIKELY(!atomic_load_explicit(&gm__fault_armed, memory_order_relaxed)))
		return 0;
	return gm__fault_slow(site);
}

/* Allocation through the "alloc" fault site.  Free with free(). */
GM__PRIVATE void *gm__malloc(size_t n);
GM__PRIVATE void *gm__calloc(size_t n, size_t size);
GM__PRIVATE void *gm__realloc(void *p, size_t n); /* on failure @p is untouched */
GM__PRIVATE char *gm__strdup(const char *s);

/* ---- read-side sections (epoch.c) ----
 *
 * Readers announce themselves in a counter of the current parity and never
 * block; a writer publishes new data, then gm__epoch_synchronize() flips the
 * parity and waits until every reader that could have seen the old data has
 * left.
 *
 * Each thread owns one of GM__EPOCH_OWNED slots (a cache line per epoch),
 * taken on its first section and given back when it exits; threads beyond
 * that share one overflow slot.  Only a slot's owner writes it, so when the
 * kernel offers an expedited membarrier (Linux 4.14 and later) a reader
 * enters and leaves with plain loads and stores: the writer's membarrier()
 * provides the store-load ordering a reader would otherwise need a locked
 * instruction for.  Without it (or on the overflow slot) readers use atomic
 * read-modify-writes, as correct and a few nanoseconds slower.
 */
#define GM__EPOCH_OWNED 64
#define GM__EPOCH_SLOTS (GM__EPOCH_OWNED + 1) /* the last one is shared */
struct gm__epoch_slot {
	atomic_uint n[2];
} __attribute__((aligned(GM__CACHELINE)));
struct gm__epoch {
	atomic_uint parity;
	struct gm__epoch_slot slots[GM__EPOCH_SLOTS];
};
struct gm__epoch_token {
	unsigned slot, parity;
};

/* This thread's slot + 1, 0 until its first section; see epoch.c. */
extern __thread unsigned gm__tslot __attribute__((tls_model("initial-exec")));
/* Readers of owned slots may skip the locked instructions (set once, before
 * any thread has a slot). */
extern bool gm__epoch_asym;
unsigned gm__thread_slot_slow(void);

/* This thread's slot, 0..GM__EPOCH_SLOTS-1. */
static inline unsigned gm__thread_slot(void)
{
	unsigned s = gm__tslot;

	return GM__LIKELY(s) ? s - 1 : gm__thread_slot_slow();
}

/* Does this thread write slot @slot alone, without locked instructions? */
static inline bool gm__slot_owned(unsigned slot)
{
	return slot < GM__EPOCH_OWNED && gm__epoch_asym;
}

/* Add @v to a per-slot counter: a plain store on an owned slot. */
static inline void gm__slot_add(atomic_uint_least64_t *ctr, unsigned slot, uint64_t v)
{
	if (gm__slot_owned(slot))
		atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + v,
				      memory_order_relaxed);
	else
		atomic_fetch_add_explicit(ctr, v, memory_order_relaxed);
}

void gm__epoch_enter_shared(struct gm__epoch *e, struct gm__epoch_token *t);

static inline void gm__epoch_enter(struct gm__epoch *e, struct gm__epoch_token *t)
{
	unsigned slot = gm__thread_slot();

	if (GM__UNLIKELY(!gm__slot_owned(slot))) {
		gm__epoch_enter_shared(e, t);
		return;
	}
	/*
	 * Count ourselves in the current parity, then check it is still
	 * current: a writer that flipped in between may have scanned our slot
	 * before the count reached memory, so go again in the new parity.  No
	 * fence between the store and the check: the writer's membarrier()
	 * stands in for it (epoch.c).
	 */
	struct gm__epoch_slot *s = &e->slots[slot];
	for (;;) {
		unsigned p = atomic_load_explicit(&e->parity, memory_order_relaxed) & 1;
		unsigned n = atomic_load_explicit(&s->n[p], memory_order_relaxed);
		atomic_store_explicit(&s->n[p], n + 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst); /* compiler-only */
		if ((atomic_load_explicit(&e->parity, memory_order_relaxed) & 1) == p) {
			t->slot = slot;
			t->parity = p;
			return;
		}
		atomic_store_explicit(&s->n[p], n, memory_order_release);
	}
}

static inline void gm__epoch_exit(struct gm__epoch *e, const struct gm__epoch_token *t)
{
	atomic_uint *n = &e->slots[t->slot].n[t->parity];

	/* release: what the section read happens before the writer's free */
	if (GM__LIKELY(gm__slot_owned(t->slot)))
		atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) - 1,
				      memory_order_release);
	else
		atomic_fetch_sub_explicit(n, 1, memory_order_release);
}

/* Wait for pre-existing readers.  Never call inside a section of @e. */
void gm__epoch_synchronize(struct gm__epoch *e);

/* Zeroed memory aligned to a cache line (for structures holding epochs),
 * through the "alloc" fault site.  Free with free(). */
void *gm__zalloc_aligned(size_t n);

/* Overflow-safe: does [addr, addr + len) fit below 2^64? (len > 0) */
static inline bool gm__range_ok(uint64_t addr, uint64_t len)
{
	return len == 0 || addr + (len - 1) >= addr;
}

#endif /* GM_BASE_H */
