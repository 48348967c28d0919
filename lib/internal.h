/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* grantmem internals: shared by lib/ and backends/, never installed. */
#ifndef GM_INTERNAL_H
#define GM_INTERNAL_H

#include <grantmem/mem.h>
#include <grantmem/xen.h>

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

/* ---- logging (lib/log.c) ---- */
void gm__log(gm_log_level level, const char *fmt, ...) GM__PRINTF(2, 3);
bool gm__log_enabled(gm_log_level level);
#define gm__err(...) gm__log(GM_LOG_ERROR, __VA_ARGS__)
#define gm__warn(...) gm__log(GM_LOG_WARNING, __VA_ARGS__)
#define gm__info(...) gm__log(GM_LOG_INFO, __VA_ARGS__)
#define gm__dbg(...)                                                                       \
	do {                                                                               \
		if (gm__log_enabled(GM_LOG_DEBUG))                                         \
			gm__log(GM_LOG_DEBUG, __VA_ARGS__);                                \
	} while (0)

/* ---- fault injection (lib/fault.c) ---- */
/*
 * gm__fault(site): count a call at @site and return the injected negative
 * errno if this call is armed to fail, else 0.  One relaxed load when no site
 * is armed.
 */
int gm__fault_slow(const char *site);
extern atomic_int gm__fault_armed;
static inline int gm__fault(const char *site)
{
	if (GM__LIKELY(!atomic_load_explicit(&gm__fault_armed, memory_order_relaxed)))
		return 0;
	return gm__fault_slow(site);
}

/* Allocation through the "alloc" fault site.  Free with free(). */
void *gm__malloc(size_t n);
void *gm__calloc(size_t n, size_t size);
void *gm__realloc(void *p, size_t n); /* on failure @p is untouched */
char *gm__strdup(const char *s);

/* ---- read-side sections (lib/epoch.c) ----
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

/* ---- bytes-API handles ---- */
enum gm__mem_kind { GM__MEM_SPACE, GM__MEM_REGION, GM__MEM_VIEW };

struct gm_mem {
	enum gm__mem_kind kind;
};

/*
 * A located piece of guest memory: region @r at region offset @off, of which
 * @avail bytes are contiguous in the region (and inside the view's window).
 */
struct gm__loc {
	gm_region *r;
	uint64_t off;
	uint64_t avail;
};

/*
 * Read-side section: between gm__enter() and gm__exit(), regions found by
 * gm__locate() stay valid (gm_space_remove() waits for the section to end).
 */
struct gm__rd {
	struct gm_space *s; /* NULL when nothing was entered */
	struct gm__epoch_token t;
};
void gm__enter(gm_mem *m, struct gm__rd *rd);
void gm__exit(struct gm__rd *rd);

/*
 * gm__locate - find the memory at @addr for an access with @prot.
 * Returns 0, -EFAULT (no region / outside the view), -EACCES (the view's
 * permission).  Must run inside gm__enter/exit.
 */
int gm__locate(gm_mem *m, uint64_t addr, int prot, struct gm__loc *loc);

/* ---- regions ---- */
struct gm_region {
	struct gm_mem mem; /* must stay first */
	const struct gm_region_ops *ops;
	void *opaque;
	uint64_t size;
	atomic_uint refs;
	/* Mappings handed out (gm_map, gm_map_sg, bounce buffers) and not yet
	 * unmapped: a removed region keeps its addresses while any is live.
	 * Each also holds one of @refs. */
	atomic_uint maps;
	/* RAM fast path: non-NULL when the region is host memory at a fixed
	 * address; @ram_prot says what it allows. */
	uint8_t *ram_host;
	int ram_prot;
};

/* Spaces (lib/space.c) */
/* Bounce budget of the space behind @m: reserve up to @len bytes (returns
 * how many, 0 when exhausted) and give them back. */
size_t gm__bounce_get(gm_mem *m, size_t len);
void gm__bounce_put(gm_mem *m, size_t len);
/* A mapping of @r starts (takes a reference) / ends (drops it). */
static inline gm_region *gm__region_map_get(gm_region *r)
{
	atomic_fetch_add_explicit(&r->maps, 1, memory_order_relaxed);
	return gm_region_ref(r);
}
void gm__region_map_put(gm_region *r);
/* Region lookup for gm_unmap: also finds regions removed since the map. */
gm_region *gm__locate_for_unmap(gm_mem *m, uint64_t addr, uint64_t *off);
/* Views (lib/view.c). */
gm_mem *gm__view_target(gm_mem *m);
int gm__view_locate(gm_mem *m, uint64_t addr, int prot, struct gm__loc *loc);

/* Overflow-safe: does [addr, addr + len) fit below 2^64? (len > 0) */
static inline bool gm__range_ok(uint64_t addr, uint64_t len)
{
	return len == 0 || addr + (len - 1) >= addr;
}

#endif /* GM_INTERNAL_H */
