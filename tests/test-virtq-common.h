/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the virtqueue tests: a RAM-backed guest, a queue whose driver
 * side (tests/virtq-driver.h) and device side (gm_vq) share it, a log
 * counter, and request helpers.
 */
#ifndef GM_TEST_VIRTQ_COMMON_H
#define GM_TEST_VIRTQ_COMMON_H

#include "helpers.h"
#include "virtq-driver.h"

#include <grantmem/grantmem.h>

#include <stdatomic.h>
#include <stdbool.h>

/* Guest RAM: one region at RAM_BASE.  Rings first, then tables, then data. */
#define RAM_BASE 0x100000ull
#define RAM_SIZE (16u << 20)
#define RING_AREA 0x0ull     /* up to 1 MiB of rings */
#define ITAB_AREA 0x100000ull /* indirect tables: 16 KiB each */
#define DATA_AREA 0x400000ull /* data buffers */

struct ram {
	gm_space *s;
	gm_region *r;
	gm_mem *m;
	unsigned char *host;
};

static inline struct ram ram_new(void)
{
	struct ram g;

	ASSERT_OK(gm_space_new(&g.s));
	ASSERT_OK(gm_ram_region_new_anon(RAM_SIZE, &g.r));
	ASSERT_OK(gm_space_add(g.s, RAM_BASE, g.r));
	g.m = gm_space_mem(g.s);
	g.host = gm_ram_region_host(g.r);
	return g;
}

static inline void ram_free(struct ram *g)
{
	gm_space_free(g->s);
	gm_region_free(g->r);
}

/* Guest address of offset @off of guest RAM. */
static inline uint64_t ga(uint64_t off)
{
	return RAM_BASE + off;
}

/* Is @p filled with pattern @seed (byte i of the pattern at p[i])? */
static inline int vt_pattern_ok(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i] != gm_test_pattern(seed, i))
			return 0;
	return 1;
}

/* ---- log counting: hostile rings must log exactly one warning ---- */

static atomic_int vt_warnings;
/* info lines about refused requests (vt_log_init(true) lets them through) */
static atomic_int vt_refusals;

static inline void vt_log(void *opaque, gm_log_level level, const char *msg)
{
	(void)opaque;
	if (level <= GM_LOG_WARNING)
		atomic_fetch_add(&vt_warnings, 1);
	else if (strstr(msg, " refused: "))
		atomic_fetch_add(&vt_refusals, 1);
	if (getenv("VT_VERBOSE"))
		fprintf(stderr, "log: %s\n", msg);
}

/* Count warnings (and, with @info, the info lines of refused requests). */
static inline void vt_log_level(bool info)
{
	gm_set_log(vt_log, NULL, info ? GM_LOG_INFO : GM_LOG_WARNING);
}

static inline void vt_log_init(void)
{
	vt_log_level(false);
}

/* ---- a queue: both sides over one gm_mem ---- */

struct tq {
	struct vqd d;
	gm_vq *vq;
	gm_mem *m;
};

struct tq_opts {
	bool packed, event_idx, indirect;
	unsigned size;
	unsigned max_chain, max_inflight;
	int buf_flags;
	/* request limits and batches (gm_vq_config; 0: the defaults) */
	uint64_t max_request_bytes, max_map_pages;
	unsigned max_request_segments, max_batch;
};

/* Lay the rings out at RING_AREA (+ @slot * 64 KiB) and create both sides. */
static inline void tq_init_at(struct tq *t, gm_mem *m, uint64_t base, const struct tq_opts *o)
{
	struct vqd_config c = {.size = o->size, .packed = o->packed, .event_idx = o->event_idx,
			       .indirect = o->indirect};
	struct gm_vq_config vc;

	c.desc_addr = base;
	c.driver_addr = base + ((vqd_desc_size(&c) + 15) & ~(size_t)15);
	c.device_addr = c.driver_addr + ((vqd_driver_size(&c) + 15) & ~(size_t)15);
	t->m = m;
	ASSERT_OK(vqd_init(&t->d, m, &c));
	vqd_gm_config(&t->d, &vc);
	vc.max_chain = o->max_chain;
	vc.max_inflight = o->max_inflight;
	vc.buf_flags = o->buf_flags;
	vc.max_request_bytes = o->max_request_bytes;
	vc.max_request_segments = o->max_request_segments;
	vc.max_map_pages = o->max_map_pages;
	vc.max_batch = o->max_batch;
	ASSERT_OK(gm_vq_new(m, &vc, &t->vq));
}

static inline void tq_init(struct tq *t, struct ram *g, const struct tq_opts *o)
{
	tq_init_at(t, g->m, ga(RING_AREA), o);
}

static inline void tq_fini(struct tq *t)
{
	gm_vq_free(t->vq);
	vqd_fini(&t->d);
	t->vq = NULL;
}

/* Pop a batch of exactly @n requests into @r, requiring it. */
static inline void tq_pop_n(struct tq *t, struct gm_vq_req **r, unsigned n)
{
	struct gm_vq_req *all[GM_VQ_MAX_BATCH];

	ASSERT_EQ(gm_vq_pop_batch(t->vq, all, GM_VQ_MAX_BATCH), (int)n);
	memcpy(r, all, n * sizeof(*r));
}

/* Pop one request, requiring success. */
static inline struct gm_vq_req *tq_pop(struct tq *t)
{
	struct gm_vq_req *r = NULL;

	ASSERT_OK(gm_vq_pop(t->vq, &r));
	ASSERT_NOT_NULL(r);
	return r;
}

/* Copy the request's readable bytes into @buf (up to @max). */
static inline size_t req_gather(const struct gm_vq_req *r, void *buf, size_t max)
{
	size_t done = 0;

	for (unsigned i = 0; i < r->nout && done < max; i++) {
		size_t k = r->iov[i].iov_len < max - done ? r->iov[i].iov_len : max - done;

		memcpy((char *)buf + done, r->iov[i].iov_base, k);
		done += k;
	}
	return done;
}

/* Fill the request's writable buffers with pattern @seed (up to @len bytes). */
static inline size_t req_scatter_pattern(const struct gm_vq_req *r, uint64_t seed, size_t len)
{
	size_t done = 0;

	for (unsigned i = r->nout; i < r->nout + r->nin && done < len; i++) {
		unsigned char *p = r->iov[i].iov_base;
		size_t k = r->iov[i].iov_len < len - done ? r->iov[i].iov_len : len - done;

		for (size_t j = 0; j < k; j++)
			p[j] = gm_test_pattern(seed, done + j);
		done += k;
	}
	return done;
}

#endif /* GM_TEST_VIRTQ_COMMON_H */
