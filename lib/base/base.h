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
#include <string.h>

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

/* ---- per-thread counters (dref.c) ----
 *
 * A counter of which each thread with an owned read-side slot keeps its
 * own line: the owner adds with a plain store, a reader sums the lines.
 */
struct gm__slot_ctr {
	atomic_uint_least64_t v;
} __attribute__((aligned(GM__CACHELINE)));

/* Add 1 to this thread's line of @ctr (an array of GM__EPOCH_SLOTS). */
static inline void gm__slot_ctr_inc(struct gm__slot_ctr *ctr)
{
	unsigned slot = gm__thread_slot();

	gm__slot_add(&ctr[slot].v, slot, 1);
}

/* The sum of every line of @ctr. */
uint64_t gm__slot_ctr_sum(const struct gm__slot_ctr *ctr);

/* ---- a sampled LRU clock (dref.c) ----
 *
 * Objects carry a stamp of their last use.  The shared clock moves only on
 * slow-path events (a miss, an insertion, an eviction, a sweep), never on a
 * hit; a hit writes an object's stamp only when the stamp is not newer than
 * the clock, i.e. once per object between two events, and takes the new
 * stamp from a per-thread clock that runs ahead of the shared one.  So in a
 * steady state of hits nothing is written at all, and one thread's order of
 * use is exact (stamps from different threads compare approximately).
 */
extern atomic_uint_least64_t gm__lru_clock;
extern __thread uint64_t gm__lru_mine __attribute__((tls_model("initial-exec")));

/* A slow-path event: move the shared clock on and return its new value. */
static inline uint64_t gm__lru_tick(void)
{
	return atomic_fetch_add_explicit(&gm__lru_clock, 1, memory_order_relaxed) + 1;
}

/* The shared clock now. */
static inline uint64_t gm__lru_now(void)
{
	return atomic_load_explicit(&gm__lru_clock, memory_order_relaxed);
}

/* Mark the object of @stamp used now.  The stamp must stay allocated (a
 * pin, or a read-side section).  Relaxed throughout: a stamp orders
 * nothing, it only ranks. */
static inline void gm__lru_touch(atomic_uint_least64_t *stamp)
{
	uint64_t g = gm__lru_now();

	if (GM__LIKELY(atomic_load_explicit(stamp, memory_order_relaxed) > g))
		return;
	uint64_t t = gm__lru_mine > g ? gm__lru_mine + 1 : g + 1;
	gm__lru_mine = t;
	atomic_store_explicit(stamp, t, memory_order_relaxed);
}

/* ---- distributed references (dref.c) ----
 *
 * A reference count that hits do not share: each thread with an owned
 * read-side slot keeps its references to an object in a cell of its own
 * table (hashed by the object's address), written with plain stores; the
 * count is the object's central word plus every thread's cell for it.  A
 * thread whose cell is taken by another object, or without a slot of its
 * own, uses the central word.  Cells may go negative (a reference taken on
 * one thread and dropped on another): only the sum means anything.
 *
 * Protocol.  Every get and put runs inside a read-side section of the
 * epoch the object's owner names ("E").  To read the count exactly, or to
 * kill the object, the owner first freezes it -- from then on gets and puts
 * that see the freeze use the central word only -- then waits for E's
 * readers (gm__epoch_synchronize): every get or put that did not see the
 * freeze has finished, so no cell of the object changes any more, and the
 * owner folds the cells into the central word.
 *
 *   gm__dref_get   in E: fails (false) only on a dead object;
 *   gm__dref_put   in E: true when it dropped the last reference of a dead
 *                  object (the caller then frees it);
 *   freeze/fold/thaw: an exact count at fold time (see below);
 *   kill_begin (no new gets), synchronize E, kill_end: true when no
 *                  reference is left (the caller frees), else the last put
 *                  of one returns true.
 *   gm__dref_peek  a racy sum (a hint: is anybody holding it?).
 *
 * Memory: an object's cells must be folded (kill_end) before its memory is
 * reused, so that no cell of a dead object survives.
 */
#define GM__DREF_DEAD 0x80000000u
#define GM__DREF_BIAS (INT64_C(1) << 40) /* more than any real count */
#define GM__DREF_CELLS 256

struct gm__dref {
	atomic_int_least64_t central;
	atomic_uint state; /* freezes (low bits) | GM__DREF_DEAD */
};

struct gm__dref_cell {
	_Atomic(struct gm__dref *) key;
	atomic_int_least64_t n;
};

struct gm__dref_table {
	struct gm__dref_cell c[GM__DREF_CELLS];
} __attribute__((aligned(GM__CACHELINE)));

extern struct gm__dref_table gm__dref_tables[GM__EPOCH_OWNED];

static inline void gm__dref_init(struct gm__dref *d, int64_t count)
{
	atomic_init(&d->central, count);
	atomic_init(&d->state, 0);
}

static inline struct gm__dref_cell *gm__dref_cell(unsigned slot, const struct gm__dref *d)
{
	uint64_t h = (uint64_t)(uintptr_t)d * UINT64_C(0x9e3779b97f4a7c15);

	return &gm__dref_tables[slot].c[h >> 56];
}

/*
 * This thread's cell for @d, or NULL (no slot of our own, or the cell holds
 * another object's references).  A cell whose count is 0 belongs to nobody:
 * it is taken over.  Only the owner writes its cells (but see kill_end).
 */
static inline struct gm__dref_cell *gm__dref_my_cell(struct gm__dref *d)
{
	unsigned slot = gm__thread_slot();

	if (GM__UNLIKELY(!gm__slot_owned(slot)))
		return NULL;
	struct gm__dref_cell *c = gm__dref_cell(slot, d);
	/* relaxed: our own cell (the owner is the only writer while it is
	 * nonzero or ours; kill_end writes only cells of frozen objects) */
	if (atomic_load_explicit(&c->key, memory_order_relaxed) == d)
		return c;
	if (atomic_load_explicit(&c->n, memory_order_relaxed) != 0)
		return NULL;
	atomic_store_explicit(&c->key, d, memory_order_relaxed);
	return c;
}

/* Add @v to our cell @c.  release: a fold that reads the new count (with
 * acquire) also sees the key stored before it. */
static inline void gm__dref_cell_add(struct gm__dref_cell *c, int64_t v)
{
	atomic_store_explicit(&c->n, atomic_load_explicit(&c->n, memory_order_relaxed) + v,
			      memory_order_release);
}

bool gm__dref_get_frozen(struct gm__dref *d);
bool gm__dref_put_frozen(struct gm__dref *d);

/* Take a reference, inside a section of E.  False: @d is dead. */
static inline bool gm__dref_get(struct gm__dref *d)
{
	/* relaxed: a freeze is stored before its writer's grace period, so a
	 * section that does not see it is one the writer waits for */
	if (GM__UNLIKELY(atomic_load_explicit(&d->state, memory_order_relaxed)))
		return gm__dref_get_frozen(d);
	struct gm__dref_cell *c = gm__dref_my_cell(d);
	if (GM__LIKELY(c != NULL))
		gm__dref_cell_add(c, 1);
	else
		atomic_fetch_add_explicit(&d->central, 1, memory_order_relaxed);
	return true;
}

/* Drop a reference, inside a section of E.  True: it was the last one of a
 * dead object, which the caller now frees (outside the section). */
static inline bool gm__dref_put(struct gm__dref *d)
{
	/* relaxed: as in gm__dref_get */
	if (GM__UNLIKELY(atomic_load_explicit(&d->state, memory_order_relaxed)))
		return gm__dref_put_frozen(d);
	struct gm__dref_cell *c = gm__dref_my_cell(d);
	if (GM__LIKELY(c != NULL))
		gm__dref_cell_add(c, -1);
	else
		/* release: what we did under the reference happens before the
		 * fold that sums it (which acquires) */
		atomic_fetch_sub_explicit(&d->central, 1, memory_order_release);
	return false;
}

/* Racy sum of @d's references: exact only while nobody gets or puts. */
int64_t gm__dref_peek(struct gm__dref *d);

/* Freeze @d (counted: freezes nest).  No section of E held. */
void gm__dref_freeze(struct gm__dref *d);
/* After freezing and a grace period of E: move the cells into the central
 * word and return the exact count (it stays exact while frozen). */
int64_t gm__dref_fold(struct gm__dref *d);
/* Undo one freeze: gets and puts use cells again. */
void gm__dref_thaw(struct gm__dref *d);
/* No more gets: @d is dead from now on (freezes it).  Call once. */
void gm__dref_kill_begin(struct gm__dref *d);
/* After kill_begin and a grace period of E: true if no reference is left,
 * and the caller frees @d; otherwise the last gm__dref_put returns true. */
bool gm__dref_kill_end(struct gm__dref *d);

/* Overflow-safe: does [addr, addr + len) fit below 2^64? (len > 0) */
static inline bool gm__range_ok(uint64_t addr, uint64_t len)
{
	return len == 0 || addr + (len - 1) >= addr;
}

/*
 * Versioned public structs (common.h, "Versioned structs"): the first
 * field is `size_t size`, the caller's sizeof; 0 stands for @v1, the
 * struct's first versioned size.  @cur is the library's sizeof.
 *
 * gm__abi_in - copy a caller's input struct @src into @dst (@cur bytes):
 * fields the caller's version lacks are zero (their defaults), and
 * dst->size becomes @cur.  Returns 0; -EINVAL for a size below @v1 (but
 * 0); -E2BIG when a newer caller set a field this library does not know
 * (a nonzero byte beyond @cur).
 */
static inline int gm__abi_in(void *dst, size_t cur, const void *src, size_t v1)
{
	size_t size, n;

	memcpy(&size, src, sizeof(size));
	n = size ? size : v1;
	if (n < v1)
		return -EINVAL;
	for (size_t i = cur; i < n; i++)
		if (((const unsigned char *)src)[i])
			return -E2BIG;
	memset(dst, 0, cur);
	memcpy(dst, src, GM__MIN(n, cur));
	memcpy(dst, &cur, sizeof(cur));
	return 0;
}

/*
 * gm__abi_out - fill a caller's output struct @dst from the library's
 * @src (@cur bytes): as many bytes as the caller's version has (size 0:
 * @v1), and dst->size set to the bytes filled.  Newer fields this library
 * does not know are left alone (never written past min(size, cur): a
 * caller that forgot size cannot have memory past its struct cleared).
 * A size below sizeof(size_t) fills nothing.
 */
static inline void gm__abi_out(void *dst, const void *src, size_t cur, size_t v1)
{
	size_t size, n, fill;

	memcpy(&size, dst, sizeof(size));
	n = size ? size : v1;
	if (n < sizeof(size))
		return;
	fill = GM__MIN(n, cur);
	memcpy((char *)dst + sizeof(size), (const char *)src + sizeof(size), fill - sizeof(size));
	memcpy(dst, &fill, sizeof(fill));
}

/* The size of a versioned struct's first version: up to its field @last. */
#define GM__ABI_V1(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))

#endif /* GM_BASE_H */
