/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-space: address translation and the bytes API on a space of RAM
 * regions, grant regions (over the in-process fake Xen, tests/fake-xen.c)
 * and views, checked against a model.
 *
 * The input declares the grants of three frontend domains (domain 3 grants
 * nothing: an unknown domain), some read-only, several refs sharing a page,
 * then runs a program of operations: add/remove regions, views, read,
 * write, fill, copy, map/unmap, map_sg/unmap_sg, atomics, endian accessors,
 * revoking and re-granting, cache invalidation.  Addresses are drawn near
 * region edges, grant pages, 2^63 and 2^64; lengths from 0 to SIZE_MAX.
 *
 * Invariants: no crash and no sanitizer report; every result agrees with
 * the model (reads return what the model holds; a failure's errno is one a
 * failing byte of the range explains: -EFAULT outside regions and windows,
 * -EACCES on read-only memory, -EINVAL for a ref not granted; -ENOSPC and
 * -EMSGSIZE (the budget) only
 * when grant memory is involved); a failed write changed each byte to
 * either its old or its new value; gm_map never returns more than is valid;
 * at the end of every input nothing is pinned and, once the cache is
 * invalidated, it holds no entry and the fake Xen has nothing mapped.
 *
 * Speed: the mapping caches (one per copy threshold) and their grant
 * regions live across inputs, emptied by the invalidation each input ends
 * with, and only the memory the model saw written is restored before the
 * next input (check_all() has just proved the rest untouched).
 */
#include "config.h"

#include "fuzz-common.h"
#include "../fake-xen.h"

#include <grantmem/grantmem.h>

#include <endian.h>
#include <errno.h>
#include <stdbool.h>

#define PG 4096u
#define NRAM 3
#define RAMSZ (2 * PG + 512)
#define NPAGES 24
#define NREF 20
#define NDOM 3 /* grant regions of domains 1..3 */
#define NREG (NRAM + NDOM)
#define NVIEW 2
#define NMAP 8
#define NSG 4
#define SCRATCH (64u * PG)
/* How far past the first failing byte a failure may be reported: one map
 * run (gm_map shortens to 1024 pages) or one grant-copy batch. */
#define LOOKAHEAD ((uint64_t)1100 * PG)

enum { E_FAULT = 1, E_ACCES = 2, E_INVAL = 4, E_NOSPC = 8, E_2BIG = 16 };

static struct fake_xen *fx;
static gm_gnttab *gt;
static uint8_t ram_buf[NRAM][RAMSZ] __attribute__((aligned(4096)));
static uint8_t ram_sh[NRAM][RAMSZ];
static uint8_t pool_sh[NPAGES][PG];
static uint8_t scratch[SCRATCH], scratch2[SCRATCH];
/* Initial contents, computed once: per-byte loops are slow under coverage
 * instrumentation. */
static uint8_t ram_init[NRAM][RAMSZ], pool_init[NPAGES][PG];

struct mreg {
	bool in;
	uint64_t base, size;
	int prot;
	gm_region *r;
};

struct mgrant {
	bool on, w;
	unsigned page;
};

struct mview {
	gm_view *v;
	struct gm_sg win[3];
	unsigned n;
	int prot;
};

struct mmap {
	bool on, sg;
	int t;
	uint64_t addr;
	void *p;
	size_t len;
	int flags;
	struct gm_sg in[NSG];
	struct iovec iov[16];
	unsigned n, niov;
};

static struct mreg reg[NREG];
static struct mgrant gr[NDOM][NREF];
static struct mview view[NVIEW];
static struct mmap maps[NMAP];
static gm_space *sp;
static gm_grant_cache *cache;
#define NTHRESH 4
static gm_grant_cache *caches[NTHRESH];
/* Grant regions, kept across inputs: [cache][domain][policy] */
static gm_region *gregions[NTHRESH][NDOM][2];
/* Memory the model changed in this input: restored before the next one. */
static bool ram_dirty[NRAM], pool_dirty[NPAGES];

/* The model is about to change shadow bytes [sh, sh + l). */
MODEL_LOOP static void mark_dirty(const uint8_t *sh, size_t l)
{
	const uint8_t *r0 = &ram_sh[0][0], *p0 = &pool_sh[0][0];

	if (!l)
		return;
	if (sh >= r0 && sh < r0 + sizeof(ram_sh)) {
		size_t first = (size_t)(sh - r0) / RAMSZ, last = (size_t)(sh + l - 1 - r0) / RAMSZ;

		for (size_t i = first; i <= last; i++)
			ram_dirty[i] = true;
	} else if (sh >= p0 && sh < p0 + sizeof(pool_sh)) {
		for (size_t p = (size_t)(sh - p0) / PG; p <= (size_t)(sh + l - 1 - p0) / PG; p++)
			pool_dirty[p] = true;
	} else {
		FUZZ_CHECK(0, "shadow pointer outside the model");
	}
}

struct seg {
	int err;
	uint64_t avail;
	uint8_t *sh, *real;
	bool grant;
	bool many;      /* grant pages never granted, up to the region's end */
	unsigned pgoff; /* grant: the offset in the first page */
};

static unsigned errbit(int err)
{
	switch (err) {
	case -EFAULT:
		return E_FAULT;
	case -EACCES:
		return E_ACCES;
	case -EINVAL:
		return E_INVAL;
	case -ENOSPC:
		return E_NOSPC;
	case -E2BIG:
		return E_2BIG;
	}
	return 0x100;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Bytes from @a to 2^64, capped at UINT64_MAX. */
static uint64_t to_top(uint64_t a)
{
	return a ? 0 - a : UINT64_MAX;
}

MODEL_LOOP static void mseg_space(uint64_t a, int prot, struct seg *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < NREG; i++) {
		const struct mreg *m = &reg[i];

		if (!m->in || a - m->base >= m->size)
			continue;
		uint64_t off = a - m->base;
		if (i < NRAM) {
			s->avail = m->size - off;
			s->err = (prot & ~m->prot) ? -EACCES : 0;
			s->sh = &ram_sh[i][off];
			s->real = &ram_buf[i][off];
			return;
		}
		const struct mgrant *g = NULL;
		uint64_t ref = GM_GRANT_REF(off);
		s->grant = true;
		s->avail = PG - GM_GRANT_OFFSET(off);
		s->pgoff = GM_GRANT_OFFSET(off);
		if (ref >= NREF) {
			/* no ref from here on is granted: one segment (scans of
			 * huge lengths would otherwise go page by page) */
			s->err = -EINVAL;
			s->avail = m->size - off;
			s->many = true;
			return;
		}
		if (gr[i - NRAM][ref].on)
			g = &gr[i - NRAM][ref];
		if (!g)
			s->err = -EINVAL;
		else if ((prot & GM_PROT_WRITE) && !g->w)
			s->err = -EACCES;
		if (g) {
			s->sh = &pool_sh[g->page][GM_GRANT_OFFSET(off)];
			s->real = (uint8_t *)fake_xen_page(fx, g->page) + GM_GRANT_OFFSET(off);
		}
		return;
	}
	s->err = -EFAULT;
	s->avail = to_top(a);
	for (unsigned i = 0; i < NREG; i++)
		if (reg[i].in && reg[i].base > a)
			s->avail = min64(s->avail, reg[i].base - a);
}

/* The model's view of byte @a of target @t for @prot, and how many bytes on
 * behave the same. */
MODEL_LOOP static void mseg(int t, uint64_t a, int prot, struct seg *s)
{
	if (t == 0) {
		mseg_space(a, prot, s);
		return;
	}
	const struct mview *v = &view[t - 1];
	for (unsigned i = 0; i < v->n; i++) {
		uint64_t into = a - v->win[i].addr;

		if (into >= v->win[i].len)
			continue;
		uint64_t wav = v->win[i].len - into;
		if (prot & ~v->prot) {
			memset(s, 0, sizeof(*s));
			s->err = -EACCES;
			s->avail = wav;
			return;
		}
		mseg_space(a, prot, s);
		s->avail = min64(s->avail, wav);
		return;
	}
	memset(s, 0, sizeof(*s));
	s->err = -EFAULT;
	s->avail = to_top(a);
	for (unsigned i = 0; i < v->n; i++)
		if (v->win[i].addr > a)
			s->avail = min64(s->avail, v->win[i].addr - a);
}

struct scan {
	unsigned fails;  /* errbit()s of failing bytes */
	bool grant;      /* grant memory involved */
	uint64_t first;  /* offset of the first failing byte, or UINT64_MAX */
	unsigned pieces; /* segments, an upper bound on iovecs */
};

MODEL_LOOP static void scan(int t, uint64_t addr, uint64_t len, int prot, struct scan *r)
{
	uint64_t done = 0;

	memset(r, 0, sizeof(*r));
	r->first = UINT64_MAX;
	while (done < len) {
		struct seg s;

		if (r->first != UINT64_MAX && done - r->first > LOOKAHEAD)
			break;
		mseg(t, addr + done, prot, &s);
		uint64_t l = min64(len - done, s.avail);
		if (s.err) {
			r->fails |= errbit(s.err);
			if (r->first == UINT64_MAX)
				r->first = done;
		}
		r->grant |= s.grant;
		/* at least one iovec per grant page of it */
		uint64_t pages = s.many ? (s.pgoff + l + PG - 1) / PG : 1;
		r->pieces += (unsigned)min64(pages, UINT32_MAX - r->pieces);
		done += l;
	}
}

/*
 * May an access of @len bytes at @addr run with the scratch buffers?  The
 * library touches the caller's buffer only for valid bytes, and at most a
 * grant-copy batch (32 pages) past the first failure.  Marks a wrapping
 * range as failing -EFAULT (the library checks that first).
 */
#define PAST_FAILURE (33u * PG)
static bool big_ok(uint64_t addr, uint64_t len, struct scan *sc)
{
	if (len && addr + (len - 1) < addr) {
		sc->fails |= E_FAULT;
		return true;
	}
	return len <= SCRATCH || (sc->first != UINT64_MAX && sc->first + PAST_FAILURE <= SCRATCH);
}

/*
 * The grant cache's budget is not in the model: a grant map may also say
 * -ENOSPC (the budget is held now) or -EMSGSIZE (the request can never fit
 * the frontend's share of it).
 */
static bool budget_said(int ret, const struct scan *sc)
{
	return sc->grant && (ret == -ENOSPC || ret == -EMSGSIZE);
}

/* Does the library's result @ret agree with the model's scan? */
static void check_result(const char *what, int ret, const struct scan *sc, unsigned extra)
{
	if (!sc->fails && !ret)
		return;
	if (!sc->fails) {
		FUZZ_CHECK(budget_said(ret, sc) || (errbit(ret) & extra), "%s: %d (%s)", what, ret,
			   gm_strerror(ret));
		return;
	}
	FUZZ_CHECK(ret < 0, "%s succeeded, model fails 0x%x", what, sc->fails);
	FUZZ_CHECK((errbit(ret) & (sc->fails | extra)) || budget_said(ret, sc),
		   "%s: %d (%s), model fails 0x%x", what, ret, gm_strerror(ret), sc->fails);
}

/* Walk the model bytes of [addr, addr + len) (all valid), calling @fn. */
MODEL_LOOP static void walk(int t, uint64_t addr, uint64_t len, int prot,
		 void (*fn)(uint8_t *sh, uint8_t *real, size_t done, size_t l, void *arg), void *arg)
{
	uint64_t done = 0;

	while (done < len) {
		struct seg s;

		mseg(t, addr + done, prot, &s);
		FUZZ_CHECK(!s.err && s.sh, "walk over a failing byte");
		size_t l = (size_t)min64(len - done, s.avail);
		fn(s.sh, s.real, (size_t)done, l, arg);
		done += l;
	}
}

MODEL_LOOP static void cmp_fn(uint8_t *sh, uint8_t *real, size_t done, size_t l, void *arg)
{
	(void)real;
	FUZZ_CHECK(!memcmp((uint8_t *)arg + done, sh, l), "read content differs at +%zu", done);
}

MODEL_LOOP static void set_fn(uint8_t *sh, uint8_t *real, size_t done, size_t l, void *arg)
{
	(void)real;
	mark_dirty(sh, l);
	memcpy(sh, (uint8_t *)arg + done, l);
}

MODEL_LOOP static void fill_fn(uint8_t *sh, uint8_t *real, size_t done, size_t l, void *arg)
{
	(void)real, (void)done;
	mark_dirty(sh, l);
	memset(sh, *(int *)arg, l);
}

MODEL_LOOP static void save_fn(uint8_t *sh, uint8_t *real, size_t done, size_t l, void *arg)
{
	(void)real;
	memcpy((uint8_t *)arg + done, sh, l);
}

/* After a failed write of @src: each byte is old or new; adopt it. */
struct partial {
	const uint8_t *src; /* NULL: fill with byte */
	int byte;
};

MODEL_LOOP static void partial_fn(uint8_t *sh, uint8_t *real, size_t done, size_t l, void *arg)
{
	const struct partial *pw = arg;

	/* fast paths: the whole piece old, or the whole piece written */
	if (!memcmp(real, sh, l))
		return;
	mark_dirty(sh, l);
	if (pw->src && !memcmp(real, pw->src + done, l)) {
		memcpy(sh, real, l);
		return;
	}
	for (size_t i = 0; i < l; i++) {
		uint8_t nv = pw->src ? pw->src[done + i] : (uint8_t)pw->byte;

		FUZZ_CHECK(real[i] == sh[i] || real[i] == nv,
			   "failed write left byte +%zu neither old nor new", done + i);
		sh[i] = real[i];
	}
}

/* Resync the model with memory for bytes anything may have written. */
MODEL_LOOP static void resync_fn(uint8_t *sh, uint8_t *real, size_t done, size_t l, void *arg)
{
	(void)done, (void)arg;
	mark_dirty(sh, l);
	memcpy(sh, real, l);
}

/* Everything the model holds equals memory (outside live write mappings). */
MODEL_LOOP static void check_all(void)
{
	for (unsigned i = 0; i < NRAM; i++)
		FUZZ_CHECK(!memcmp(ram_buf[i], ram_sh[i], RAMSZ), "RAM %u differs from model", i);
	for (unsigned p = 0; p < NPAGES; p++)
		FUZZ_CHECK(!memcmp(fake_xen_page(fx, p), pool_sh[p], PG),
			   "pool page %u differs from model", p);
}

/* ---- input decoding ---- */

static gm_mem *tmem(int t)
{
	return t ? gm_view_mem(view[t - 1].v) : gm_space_mem(sp);
}

static int pick_target(struct fin *in)
{
	unsigned t = fin_below(in, NVIEW + 1);

	return t && view[t - 1].v ? (int)t : 0;
}

static uint64_t pick_addr(struct fin *in)
{
	unsigned k = fin_u8(in);
	int16_t d = (int16_t)fin_u16(in);

	switch (k % 8) {
	case 0:
	case 1: {
		const struct mreg *m = &reg[(k / 8) % NRAM];
		return m->base + (uint64_t)(int64_t)d;
	}
	case 2:
	case 3:
		return GM_GRANT_ADDR(fin_below(in, NREF + 2), (uint16_t)d % PG);
	case 4: {
		const struct mreg *m = &reg[NRAM + (k / 8) % NDOM];
		return m->base + (uint64_t)fin_below(in, NREF + 2) * PG + (uint16_t)d % PG;
	}
	case 5:
		return UINT64_MAX - (uint16_t)d;
	case 6:
		return GM_GRANT_BASE - (uint16_t)d;
	default:
		return fin_u64(in);
	}
}

static uint64_t pick_len(struct fin *in)
{
	unsigned k = fin_u8(in);

	switch (k % 8) {
	case 0:
		return 0;
	case 1:
	case 2:
		return 1 + fin_u8(in);
	case 3:
		return (1u << (fin_u8(in) % 4)); /* 1, 2, 4, 8 */
	case 4:
		return PG - 8 + fin_below(in, 17);
	case 5:
		return 1 + fin_u16(in) % (5 * PG);
	case 6:
		return (k & 8) ? SIZE_MAX : (1ULL << (32 + fin_below(in, 31)));
	default:
		return 1 + fin_u32(in) % SCRATCH;
	}
}

static int pick_prot(struct fin *in)
{
	static const int p[] = {GM_PROT_READ, GM_PROT_WRITE, GM_PROT_RW, GM_PROT_READ};

	return p[fin_below(in, 4)];
}

static uint64_t pick_base(struct fin *in, uint64_t size)
{
	switch (fin_below(in, 6)) {
	case 0:
		return (uint64_t)fin_below(in, 16) * PG;
	case 1:
		return (uint64_t)fin_below(in, 16) * (RAMSZ / 2);
	case 2:
		return GM_GRANT_BASE - size + (uint64_t)fin_below(in, 3) * 512;
	case 3:
		return UINT64_MAX - size + 1 - (uint64_t)fin_below(in, 2) * 512;
	case 4:
		return GM_GRANT_BASE + GM_GRANT_REGION_SIZE + (uint64_t)fin_below(in, 4) * PG;
	default:
		return fin_u64(in) & ~(uint64_t)(PG - 1);
	}
}

/* Would the model overlap region @i at @base with another region? */
MODEL_LOOP static bool overlaps(unsigned i, uint64_t base)
{
	uint64_t last = base + (reg[i].size - 1);

	if (last < base)
		return true; /* wraps: -EOVERFLOW */
	for (unsigned j = 0; j < NREG; j++) {
		if (j == i || !reg[j].in)
			continue;
		uint64_t jl = reg[j].base + (reg[j].size - 1);
		if (base <= jl && reg[j].base <= last)
			return true;
	}
	return false;
}

static void op_add(struct fin *in)
{
	unsigned i = fin_below(in, NREG);
	struct mreg *m = &reg[i];

	if (m->in)
		return;
	uint64_t base = pick_base(in, m->size);
	if (i < NRAM) {
		/* A fresh RAM region over the same buffer, maybe another prot. */
		int prot = fin_u8(in) & 1 ? GM_PROT_READ : GM_PROT_RW;
		gm_region *r;

		FUZZ_CHECK(gm_ram_region_new(ram_buf[i], RAMSZ, prot, &r) == 0, "ram region");
		gm_region_free(m->r);
		m->r = r;
		m->prot = prot;
	}
	bool bad = overlaps(i, base);
	int ret = gm_space_add(sp, base, m->r);
	TRACE("add %u at 0x%llx prot %d: %d\n", i, (unsigned long long)base, m->prot, ret);
	if (bad) {
		FUZZ_CHECK(ret == -EEXIST || ret == -EOVERFLOW, "add over another: %d", ret);
		return;
	}
	/* A removed region with live mappings keeps its addresses. */
	bool live = false;
	for (unsigned k = 0; k < NMAP; k++)
		live |= maps[k].on;
	if (ret == -EBUSY && live)
		return;
	FUZZ_CHECK(ret == 0, "add region %u at 0x%llx: %d", i, (unsigned long long)base, ret);
	m->in = true;
	m->base = base;
}

static void op_remove(struct fin *in)
{
	unsigned i = fin_below(in, NREG);
	int ret = gm_space_remove(sp, reg[i].r);

	TRACE("remove %u: %d\n", i, ret);

	FUZZ_CHECK(ret == (reg[i].in ? 0 : -ENOENT), "remove %u: %d", i, ret);
	reg[i].in = false;
}

static void op_view(struct fin *in)
{
	struct mview *v = &view[fin_below(in, NVIEW)];

	if (v->v) {
		/* Mappings made through a view are released through it. */
		for (unsigned i = 0; i < NMAP; i++)
			if (maps[i].on && maps[i].t == (int)(v - view) + 1)
				return;
		gm_view_free(v->v);
		v->v = NULL;
	}
	unsigned n = 1 + fin_below(in, 3);
	for (unsigned i = 0; i < n; i++) {
		v->win[i].addr = pick_addr(in);
		v->win[i].len = (size_t)(1 + fin_u16(in) % (3 * PG));
	}
	v->n = n;
	v->prot = pick_prot(in);
	bool bad = false;
	for (unsigned i = 0; i < n; i++) {
		if (v->win[i].addr + (v->win[i].len - 1) < v->win[i].addr)
			bad = true;
		for (unsigned j = 0; j < i; j++)
			if (v->win[i].addr <= v->win[j].addr + (v->win[j].len - 1) &&
			    v->win[j].addr <= v->win[i].addr + (v->win[i].len - 1))
				bad = true;
	}
	int ret = gm_view_new(gm_space_mem(sp), v->win, n, v->prot, &v->v);
	TRACE("view%u prot %d n %u: %d\n", (unsigned)(v - view), v->prot, n, ret);
	FUZZ_CHECK(ret == (bad ? -EINVAL : 0), "view: %d (model %s)", ret, bad ? "bad" : "ok");
}

static bool self_alias(int t, uint64_t addr, uint64_t len, int prot);

static void op_read(struct fin *in, bool endian)
{
	int t = pick_target(in);
	uint64_t addr = pick_addr(in), len;
	struct scan sc;

	if (endian) {
		unsigned k = fin_below(in, 6);
		int ret = 0;
		uint64_t v = 0, want = 0;

		len = 2u << (k % 3);
		scan(t, addr, len, GM_PROT_READ, &sc);
		switch (k) {
		case 0: { uint16_t x; ret = gm_read_le16(tmem(t), addr, &x); v = x; break; }
		case 1: { uint32_t x; ret = gm_read_le32(tmem(t), addr, &x); v = x; break; }
		case 2: { uint64_t x; ret = gm_read_le64(tmem(t), addr, &x); v = x; break; }
		case 3: { uint16_t x; ret = gm_read_be16(tmem(t), addr, &x); v = x; break; }
		case 4: { uint32_t x; ret = gm_read_be32(tmem(t), addr, &x); v = x; break; }
		default: { uint64_t x; ret = gm_read_be64(tmem(t), addr, &x); v = x; break; }
		}
		if (len && addr + (len - 1) < addr)
			sc.fails |= E_FAULT;
		check_result("endian read", ret, &sc, 0);
		if (ret)
			return;
		uint8_t b[8];
		walk(t, addr, len, GM_PROT_READ, save_fn, b);
		for (unsigned i = 0; i < len; i++)
			want |= (uint64_t)b[k < 3 ? i : len - 1 - i] << (8 * i);
		FUZZ_CHECK(v == want, "endian read value");
		return;
	}
	len = pick_len(in);
	scan(t, addr, len, GM_PROT_READ, &sc);
	if (!big_ok(addr, len, &sc))
		return;
	int ret = gm_read(tmem(t), addr, scratch, (size_t)len);
	TRACE("read t%d 0x%llx +%llu: %d\n", t, (unsigned long long)addr, (unsigned long long)len,
	      ret);
	check_result("read", ret, &sc, 0);
	if (!ret)
		walk(t, addr, len, GM_PROT_READ, cmp_fn, scratch);
}

/* The bytes op_write writes: @byte ^ 0x5a with a marker every 61 bytes. */
MODEL_LOOP static void pattern(uint8_t *b, size_t len, int byte)
{
	memset(b, byte ^ 0x5a, len);
	for (size_t i = 0; i < len; i += 61)
		b[i] = (uint8_t)(i ^ byte);
}

static void op_write(struct fin *in, int kind)
{
	int t = pick_target(in);
	uint64_t addr = pick_addr(in), len;
	struct scan sc;
	int ret, byte = fin_u8(in);

	if (kind == 2) { /* endian store */
		unsigned k = fin_below(in, 6);
		uint64_t v = fin_u64(in);

		len = 2u << (k % 3);
		for (unsigned i = 0; i < len; i++)
			scratch2[k < 3 ? i : len - 1 - i] = (uint8_t)(v >> (8 * i));
		scan(t, addr, len, GM_PROT_WRITE, &sc);
		big_ok(addr, len, &sc);
		switch (k) {
		case 0: ret = gm_write_le16(tmem(t), addr, (uint16_t)v); break;
		case 1: ret = gm_write_le32(tmem(t), addr, (uint32_t)v); break;
		case 2: ret = gm_write_le64(tmem(t), addr, v); break;
		case 3: ret = gm_write_be16(tmem(t), addr, (uint16_t)v); break;
		case 4: ret = gm_write_be32(tmem(t), addr, (uint32_t)v); break;
		default: ret = gm_write_be64(tmem(t), addr, v); break;
		}
	} else {
		len = pick_len(in);
		scan(t, addr, len, GM_PROT_WRITE, &sc);
		if (!big_ok(addr, len, &sc))
			return;
		if (kind == 0) {
			pattern(scratch2, GM__FUZZ_MIN(len, SCRATCH), byte);
			ret = gm_write(tmem(t), addr, scratch2, (size_t)len);
		} else {
			ret = gm_fill(tmem(t), addr, byte, (size_t)len);
		}
	}
	TRACE("write%d t%d 0x%llx +%llu: %d\n", kind, t, (unsigned long long)addr,
	      (unsigned long long)len, ret);
	check_result(kind == 1 ? "fill" : "write", ret, &sc, 0);
	struct partial pw = {.src = kind == 1 ? NULL : scratch2, .byte = byte};
	bool alias = self_alias(t, addr, len, GM_PROT_WRITE);
	if (!ret && !alias) {
		if (kind == 1)
			walk(t, addr, len, GM_PROT_WRITE, fill_fn, &byte);
		else
			walk(t, addr, len, GM_PROT_WRITE, set_fn, scratch2);
	} else if (alias) {
		/* Two refs of the range share a page: a byte may hold the value
		 * of either position (memcpy's store order decides).  Adopt
		 * what memory holds. */
		uint64_t done = 0, lim = min64(len, sc.first == UINT64_MAX ? len :
						       sc.first + PAST_FAILURE);
		while (done < lim) {
			struct seg s;

			mseg(t, addr + done, GM_PROT_WRITE, &s);
			uint64_t l = min64(lim - done, s.avail);
			if (!s.err)
				resync_fn(s.sh, s.real, (size_t)done, (size_t)l, NULL);
			done += l;
		}
	} else {
		/* Bytes of the valid prefix may have been written; a grant-copy
		 * batch may also have written valid bytes past the failure. */
		uint64_t done = 0, lim = min64(len, sc.first == UINT64_MAX ? len :
						       sc.first + PAST_FAILURE);
		while (done < lim) {
			struct seg s;

			mseg(t, addr + done, GM_PROT_WRITE, &s);
			uint64_t l = min64(lim - done, s.avail);
			if (!s.err)
				partial_fn(s.sh, s.real, (size_t)done, (size_t)l, &pw);
			done += l;
		}
	}
}

/* Do two valid bytes of [addr, addr + len) share host memory (two refs of
 * one page)?  Looks at the first PAST_FAILURE + SCRATCH bytes. */
MODEL_LOOP static bool self_alias(int t, uint64_t addr, uint64_t len, int prot)
{
	const uint8_t *lo[64], *hi[64];
	unsigned n = 0;
	uint64_t done = 0;

	len = min64(len, SCRATCH + PAST_FAILURE);
	while (done < len && n < 64) {
		struct seg s;

		mseg(t, addr + done, prot, &s);
		uint64_t l = min64(len - done, s.avail);
		if (s.real) {
			for (unsigned i = 0; i < n; i++)
				if (s.real < hi[i] && lo[i] < s.real + l)
					return true;
			lo[n] = s.real;
			hi[n++] = s.real + l;
		}
		done += l;
	}
	return n == 64;
}

/* Host intervals of the model bytes of a range, to detect aliasing. */
MODEL_LOOP static bool host_overlap(int t1, uint64_t a1, int p1, int t2, uint64_t a2, int p2,
				     uint64_t len)
{
	uint64_t d1 = 0;

	while (d1 < len) {
		struct seg s1;

		/* each side as the copy sees it: a write-only view hides
		 * nothing from a write */
		mseg(t1, a1 + d1, p1, &s1);
		uint64_t l1 = min64(len - d1, s1.avail);
		uint64_t d2 = 0;
		while (s1.real && d2 < len) {
			struct seg s2;

			mseg(t2, a2 + d2, p2, &s2);
			uint64_t l2 = min64(len - d2, s2.avail);
			if (s2.real && s1.real < s2.real + l2 && s2.real < s1.real + l1)
				return true;
			d2 += l2;
		}
		d1 += l1;
	}
	return false;
}

static void op_copy(struct fin *in)
{
	int td = pick_target(in), ts = pick_target(in);
	uint64_t da = pick_addr(in), sa = pick_addr(in), len = pick_len(in);
	struct scan sd, ss;

	if (len > 5 * PG)
		len = len % (5 * PG);
	scan(td, da, len, GM_PROT_WRITE, &sd);
	scan(ts, sa, len, GM_PROT_READ, &ss);
	struct scan both = {.fails = sd.fails | ss.fails, .grant = sd.grant || ss.grant,
			    .first = min64(sd.first, ss.first)};
	if (len && (da + (len - 1) < da || sa + (len - 1) < sa))
		both.fails |= E_FAULT;
	bool alias = !both.fails &&
		     (host_overlap(td, da, GM_PROT_WRITE, ts, sa, GM_PROT_READ, len) ||
		      self_alias(td, da, len, GM_PROT_WRITE));
	if (!both.fails)
		walk(ts, sa, len, GM_PROT_READ, save_fn, scratch2);
	int ret = gm_copy(tmem(td), da, tmem(ts), sa, (size_t)len);
	TRACE("copy t%d 0x%llx <- t%d 0x%llx +%llu: %d (alias %d)\n", td, (unsigned long long)da,
	      ts, (unsigned long long)sa, (unsigned long long)len, ret, alias);
	check_result("copy", ret, &both, 0);
	if (!ret && !alias) {
		walk(td, da, len, GM_PROT_WRITE, set_fn, scratch2);
		return;
	}
	/* Overlapping or failed: adopt what memory holds in the valid part. */
	uint64_t done = 0;
	while (done < len) {
		struct seg s;

		mseg(td, da + done, GM_PROT_WRITE, &s);
		uint64_t l = min64(len - done, s.avail);
		if (!s.err)
			resync_fn(s.sh, s.real, (size_t)done, (size_t)l, NULL);
		done += l;
	}
}

static int pick_map_flags(struct fin *in)
{
	/* Every region here maps in place: GM_MAP_NO_BOUNCE changes nothing. */
	static const int extra[] = {0, GM_MAP_TRANSIENT, GM_MAP_PERSISTENT, GM_MAP_NO_BOUNCE};
	int f = pick_prot(in) | extra[fin_below(in, 4)];

	if (fin_u8(in) == 0xff)
		f = fin_u8(in); /* raw: possibly invalid */
	return f;
}

static bool flags_valid(int f)
{
	return (f & GM_PROT_RW) &&
	       !(f & ~(GM_PROT_RW | GM_MAP_TRANSIENT | GM_MAP_PERSISTENT | GM_MAP_NO_BOUNCE |
		       GM_MAP_WHOLE)) &&
	       (f & (GM_MAP_TRANSIENT | GM_MAP_PERSISTENT)) !=
		       (GM_MAP_TRANSIENT | GM_MAP_PERSISTENT);
}

static void op_map(struct fin *in)
{
	unsigned i = fin_below(in, NMAP);
	struct mmap *mp = &maps[i];

	if (mp->on)
		return;
	int t = pick_target(in), flags = pick_map_flags(in), err = 0;
	uint64_t addr = pick_addr(in), len0 = pick_len(in);
	size_t len = (size_t)len0;
	struct seg s;

	void *p = gm_map(tmem(t), addr, &len, flags, &err);
	TRACE("map%u t%d 0x%llx +%llu flags 0x%x: %p +%zu err %d\n", i, t,
	      (unsigned long long)addr, (unsigned long long)len0, flags, p, len, err);
	if (!len0 || !flags_valid(flags)) {
		FUZZ_CHECK(!p && err == -EINVAL, "map with len 0 / bad flags: %d", err);
		return;
	}
	int prot = flags & GM_PROT_RW;
	mseg(t, addr, prot, &s);
	if (!p) {
		/* all or nothing: what would have shortened fails instead, and
		 * the whole range is judged before its first page, so any byte
		 * of it may name the errno (the model scans from the start) */
		if (flags & GM_MAP_WHOLE) {
			FUZZ_CHECK(err == -ERANGE || err == -ENOSPC || err == -EMSGSIZE ||
					   err == -EFAULT || err == -EINVAL || err == -EACCES,
				   "GM_MAP_WHOLE map: %d (%s)", err, gm_strerror(err));
			return;
		}
		struct scan sc = {.fails = s.err ? errbit(s.err) : 0, .grant = s.grant, .first = 0};
		/* A map run that covers a failing page later fails as a whole. */
		struct scan rest;
		scan(t, addr, min64(len0, LOOKAHEAD), prot, &rest);
		sc.fails |= rest.fails;
		sc.grant |= rest.grant;
		FUZZ_CHECK(err < 0, "map failed without an errno");
		check_result("map", err, &sc, 0);
		return;
	}
	FUZZ_CHECK(len > 0 && len <= len0, "map length %zu of %llu", len,
		   (unsigned long long)len0);
	FUZZ_CHECK(!(flags & GM_MAP_WHOLE) || len == len0, "GM_MAP_WHOLE map shortened to %zu of %llu",
		   len, (unsigned long long)len0);
	struct scan sc;
	scan(t, addr, len, prot, &sc);
	FUZZ_CHECK(!sc.fails, "map handed out %zu bytes the model fails (0x%x)", len, sc.fails);
	walk(t, addr, len, prot, cmp_fn, p);
	if (flags & GM_PROT_WRITE) {
		/* Writes through the pointer reach guest memory. */
		uint8_t *q = p;
		for (size_t k = 0; k < len; k += 97)
			q[k] ^= 0xa5;
		walk(t, addr, len, prot, set_fn, p);
	}
	*mp = (struct mmap){.on = true, .t = t, .addr = addr, .p = p, .len = len, .flags = flags};
}

/*
 * The iovecs from iovec *v, offset *vo on hold the @len bytes @want (range
 * @k of a map_sg); moves (*v, *vo) past them.  The caller has checked that
 * the iovecs hold enough bytes.
 */
MODEL_LOOP static void iov_cmp(const struct iovec *iov, unsigned *v, size_t *vo,
			       const uint8_t *want, size_t len, unsigned k)
{
	size_t b = 0;

	while (b < len) {
		while (*vo == iov[*v].iov_len) {
			(*v)++;
			*vo = 0;
		}
		size_t l = GM__FUZZ_MIN(iov[*v].iov_len - *vo, len - b);
		const uint8_t *got = (const uint8_t *)iov[*v].iov_base + *vo;

		if (memcmp(got, want + b, l)) /* name the first byte that differs */
			for (size_t i = 0; i < l; i++)
				FUZZ_CHECK(got[i] == want[b + i], "map_sg byte %zu of range %u",
					   b + i, k);
		b += l;
		*vo += l;
	}
}

static void op_map_sg(struct fin *in)
{
	unsigned i = fin_below(in, NMAP);
	struct mmap *mp = &maps[i];

	if (mp->on)
		return;
	int t = pick_target(in), flags = pick_map_flags(in);
	unsigned n = 1 + fin_below(in, NSG), max_out = 1 + fin_below(in, 16);
	bool inval = !flags_valid(flags) || (flags & GM_MAP_WHOLE); /* gm_map only */
	struct scan all = {.first = UINT64_MAX};
	unsigned pieces = 0;
	uint64_t total = 0;

	for (unsigned k = 0; k < n; k++) {
		mp->in[k].addr = pick_addr(in);
		mp->in[k].len = (size_t)pick_len(in);
		if (mp->in[k].len > 5 * PG)
			mp->in[k].len %= 5 * PG;
		/* checked in order: the first bad range decides the errno */
		if (!mp->in[k].len) {
			all.fails |= E_INVAL;
			break;
		}
		if (mp->in[k].addr + (mp->in[k].len - 1) < mp->in[k].addr) {
			all.fails |= E_FAULT;
			break;
		}
		struct scan sc;
		scan(t, mp->in[k].addr, mp->in[k].len, flags & GM_PROT_RW, &sc);
		all.fails |= sc.fails;
		all.grant |= sc.grant;
		pieces += sc.pieces;
		total += mp->in[k].len;
	}
	int ret = gm_map_sg(tmem(t), mp->in, n, mp->iov, max_out, flags);
	TRACE("map_sg%u t%d n %u flags 0x%x: %d\n", i, t, n, flags, ret);
	if (inval) {
		FUZZ_CHECK(ret == -EINVAL, "map_sg with an invalid range/flags: %d", ret);
		return;
	}
	if (ret < 0) {
		check_result("map_sg", ret, &all, pieces > max_out ? E_2BIG : 0);
		return;
	}
	FUZZ_CHECK(!all.fails, "map_sg succeeded, model fails 0x%x", all.fails);
	FUZZ_CHECK((unsigned)ret >= n && (unsigned)ret <= max_out, "map_sg count %d", ret);
	uint64_t sum = 0;
	for (int k = 0; k < ret; k++)
		sum += mp->iov[k].iov_len;
	FUZZ_CHECK(sum == total, "map_sg covers %llu of %llu bytes", (unsigned long long)sum,
		   (unsigned long long)total);
	/* The concatenated iovecs hold the concatenated ranges. */
	unsigned v = 0;
	size_t vo = 0;
	for (unsigned k = 0; k < n; k++) {
		walk(t, mp->in[k].addr, mp->in[k].len, flags & GM_PROT_RW, save_fn, scratch2);
		iov_cmp(mp->iov, &v, &vo, scratch2, mp->in[k].len, k);
	}
	mp->on = true;
	mp->sg = true;
	mp->t = t;
	mp->flags = flags;
	mp->n = n;
	mp->niov = (unsigned)ret;
}

static void unmap_one(struct mmap *mp, size_t access)
{
	if (mp->sg)
		gm_unmap_sg(tmem(mp->t), mp->in, mp->n, mp->iov, mp->niov, mp->flags, access);
	else
		gm_unmap(tmem(mp->t), mp->addr, mp->p, mp->len, mp->flags,
			 access > mp->len ? mp->len : access);
	mp->on = false;
}

static void op_unmap(struct fin *in)
{
	struct mmap *mp = &maps[fin_below(in, NMAP)];

	if (mp->on) {
		TRACE("unmap%u\n", (unsigned)(mp - maps));
		unmap_one(mp, (mp->flags & GM_PROT_WRITE) ? SIZE_MAX : 0);
	}
}

static void op_atomic(struct fin *in)
{
	int t = pick_target(in);
	uint64_t addr = pick_addr(in);
	unsigned k = fin_below(in, 6), size = 2u << (k % 3);
	bool store = k >= 3;
	uint64_t v = fin_u64(in), got = 0;
	int prot = store ? GM_PROT_WRITE : GM_PROT_READ, ret;
	struct seg s;

	switch (k) {
	case 0: { uint16_t x; ret = gm_load_acquire16(tmem(t), addr, &x); got = x; break; }
	case 1: { uint32_t x; ret = gm_load_acquire32(tmem(t), addr, &x); got = x; break; }
	case 2: ret = gm_load_acquire64(tmem(t), addr, &got); break;
	case 3: ret = gm_store_release16(tmem(t), addr, (uint16_t)v); break;
	case 4: ret = gm_store_release32(tmem(t), addr, (uint32_t)v); break;
	default: ret = gm_store_release64(tmem(t), addr, v); break;
	}
	TRACE("atomic%u t%d 0x%llx: %d\n", k, t, (unsigned long long)addr, ret);
	if (addr & (size - 1)) {
		FUZZ_CHECK(ret == -EINVAL, "misaligned atomic: %d", ret);
		return;
	}
	mseg(t, addr, prot, &s);
	if (s.err) {
		struct scan sc = {.fails = errbit(s.err), .grant = s.grant, .first = 0};
		/* straddling a region or window end is found before a grant's
		 * or a region's permission */
		check_result("atomic", ret, &sc, s.avail < size ? E_INVAL : 0);
		return;
	}
	if (s.avail < size) {
		FUZZ_CHECK(ret == -EINVAL, "atomic straddling a region or window end: %d", ret);
		return;
	}
	if (s.grant && (ret == -ENOSPC || ret == -EMSGSIZE)) /* the budget, as budget_said() */
		return;
	FUZZ_CHECK(ret == 0, "atomic: %d", ret);
	uint8_t b[8];
	if (store) {
		for (unsigned i = 0; i < size; i++)
			b[i] = (uint8_t)(v >> (8 * i));
		mark_dirty(s.sh, size);
		memcpy(s.sh, b, size);
	} else {
		uint64_t want = 0;
		for (unsigned i = 0; i < size; i++)
			want |= (uint64_t)s.sh[i] << (8 * i);
		FUZZ_CHECK(got == want, "atomic load value");
	}
}

/* Revoke or re-grant a ref: Xen refuses while it is mapped. */
static void op_grant(struct fin *in)
{
	unsigned d = fin_below(in, 2), ref = fin_below(in, NREF);
	struct mgrant *g = &gr[d][ref];
	unsigned mapped = fake_xen_ref_mapped(fx, (gm_domid)(d + 1), ref);
	int ret;

	if (fin_u8(in) & 1) {
		ret = fake_xen_revoke(fx, (gm_domid)(d + 1), ref);
		TRACE("revoke d%u ref %u: %d\n", d + 1, ref, ret);
		if (!g->on)
			FUZZ_CHECK(ret == -ENOENT, "revoke of a free ref: %d", ret);
		else
			FUZZ_CHECK(ret == (mapped ? -EBUSY : 0), "revoke: %d", ret);
		if (!ret)
			g->on = false;
	} else {
		unsigned page = fin_below(in, NPAGES);
		bool w = fin_u8(in) & 1;

		ret = fake_xen_grant(fx, (gm_domid)(d + 1), ref, page, w);
		TRACE("grant d%u ref %u page %u w %d: %d\n", d + 1, ref, page, w, ret);
		FUZZ_CHECK(ret == (mapped ? -EBUSY : 0), "grant: %d", ret);
		if (!ret)
			*g = (struct mgrant){.on = true, .w = w, .page = page};
	}
}

static void op_cache(struct fin *in)
{
	int ret;

	switch (fin_below(in, 4)) {
	case 0:
		ret = gm_grant_cache_invalidate_refs(cache, (gm_domid)(1 + fin_below(in, 3)),
						     fin_below(in, NREF), 1 + fin_below(in, 8));
		break;
	case 1:
		ret = gm_grant_cache_invalidate_domain(cache, (gm_domid)(1 + fin_below(in, 3)));
		break;
	case 2:
		ret = gm_grant_cache_invalidate_all(cache);
		break;
	default:
		ret = gm_grant_cache_set_max_pages(cache, 1 + fin_below(in, 32));
		break;
	}
	TRACE("cache op: %d\n", ret);
	FUZZ_CHECK(ret >= 0, "cache op: %d", ret);
}

/* ---- one input ---- */

static void setup(struct fin *in)
{
	struct gm_grant_cache_config cfg = {0};
	static const size_t thresholds[] = {0, 1, 100, SIZE_MAX};

	unsigned ti;

	cfg.max_pages = fin_u8(in) % 40;
	ti = fin_below(in, NTHRESH);
	cfg.copy_threshold = thresholds[ti];
	/* The cache of this threshold, empty since the last input's end; the
	 * budget as a fresh cache would set it (0: the default, 65536). */
	if (!caches[ti])
		FUZZ_CHECK(gm_grant_cache_new(gt, &cfg, &caches[ti]) == 0, "cache");
	cache = caches[ti];
	FUZZ_CHECK(gm_grant_cache_set_max_pages(cache, cfg.max_pages ? cfg.max_pages : 65536) == 0,
		   "cache budget");
	FUZZ_CHECK(gm_gnttab_set_max_grants(gt, cfg.max_pages ? cfg.max_pages : 65536) == 0,
		   "gnttab budget");
	FUZZ_CHECK(gm_space_new(&sp) == 0, "space");
	for (unsigned p = 0; p < NPAGES; p++) {
		if (!pool_dirty[p])
			continue;
		memcpy(pool_sh[p], pool_init[p], PG);
		memcpy(fake_xen_page(fx, p), pool_sh[p], PG);
		pool_dirty[p] = false;
	}
	for (unsigned d = 0; d < NDOM; d++) {
		for (unsigned ref = 0; ref < NREF; ref++) {
			struct mgrant *g = &gr[d][ref];
			uint8_t b = d < 2 ? fin_u8(in) : 0;

			*g = (struct mgrant){.on = b & 1, .w = b & 2, .page = (b >> 2) % NPAGES};
			/* default program: a handful of refs granted */
			if (!in->n && d == 0 && ref < 6)
				*g = (struct mgrant){.on = true, .w = ref & 1, .page = ref};
			if (g->on)
				FUZZ_CHECK(fake_xen_grant(fx, (gm_domid)(d + 1), ref, g->page,
							  g->w) == 0, "grant");
			else if (d < 2)
				FUZZ_CHECK(fake_xen_revoke(fx, (gm_domid)(d + 1), ref) != -EBUSY,
					   "a ref is still mapped from an earlier input");
		}
	}
	for (unsigned i = 0; i < NRAM; i++) {
		if (ram_dirty[i]) {
			memcpy(ram_sh[i], ram_init[i], RAMSZ);
			memcpy(ram_buf[i], ram_init[i], RAMSZ);
			ram_dirty[i] = false;
		}
		reg[i] = (struct mreg){.size = RAMSZ, .prot = GM_PROT_RW};
		FUZZ_CHECK(gm_ram_region_new(ram_buf[i], RAMSZ, GM_PROT_RW, &reg[i].r) == 0, "ram");
	}
	for (unsigned d = 0; d < NDOM; d++) {
		struct mreg *m = &reg[NRAM + d];
		unsigned pol = fin_u8(in) & 1 ? GM_GRANT_PERSISTENT : GM_GRANT_TRANSIENT;
		gm_region **r = &gregions[ti][d][pol];

		*m = (struct mreg){.size = GM_GRANT_REGION_SIZE, .prot = GM_PROT_RW};
		if (!*r)
			FUZZ_CHECK(gm_grant_region_new(cache, (gm_domid)(d + 1), pol, r) == 0,
				   "grant region");
		m->r = *r;
	}
	/* Initial layout: RAM at 0 and 64 KiB, domain 1's grants at 2^63. */
	FUZZ_CHECK(gm_space_add(sp, 0, reg[0].r) == 0, "add");
	reg[0].in = true;
	FUZZ_CHECK(gm_space_add(sp, 0x10000, reg[1].r) == 0, "add");
	reg[1].in = true;
	reg[1].base = 0x10000;
	FUZZ_CHECK(gm_space_add(sp, GM_GRANT_BASE, reg[NRAM].r) == 0, "add");
	reg[NRAM].in = true;
	reg[NRAM].base = GM_GRANT_BASE;
	memset(view, 0, sizeof(view));
	memset(maps, 0, sizeof(maps));
}

static void teardown(void)
{
	struct gm_grant_stats st = {.size = sizeof(st)};
	struct fake_xen_stats fs;

	for (unsigned i = 0; i < NMAP; i++)
		if (maps[i].on)
			unmap_one(&maps[i], 0);
	check_all();
	gm_grant_cache_stats(cache, &st);
	FUZZ_CHECK(st.pinned_entries == 0, "%u entries still pinned", st.pinned_entries);
	for (unsigned i = 0; i < NVIEW; i++)
		gm_view_free(view[i].v);
	gm_space_free(sp);
	for (unsigned i = 0; i < NRAM; i++)
		gm_region_free(reg[i].r);
	/* The grant regions stay for the next input; their cache is emptied. */
	FUZZ_CHECK(gm_grant_cache_invalidate_all(cache) >= 0, "invalidate all");
	gm_grant_cache_stats(cache, &st);
	FUZZ_CHECK(st.entries == 0 && st.mapped_pages == 0,
		   "%u entries (%u pages) left after invalidating all", st.entries,
		   st.mapped_pages);
	fake_xen_stats(fx, &fs);
	FUZZ_CHECK(fs.batches_mapped == 0 && fs.pages_mapped == 0,
		   "%lu batches still mapped after the cache was emptied", fs.batches_mapped);
}

static void quiet(void *opaque, gm_log_level level, const char *msg)
{
	(void)opaque, (void)level, (void)msg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	trace = getenv("FUZZ_TRACE") != NULL;
	gm_set_log(getenv("FUZZ_LOG") ? NULL : quiet, NULL,
		   getenv("FUZZ_LOG") ? GM_LOG_DEBUG : GM_LOG_ERROR);
	for (unsigned i = 0; i < NRAM; i++)
		for (unsigned k = 0; k < RAMSZ; k++)
			ram_init[i][k] = (uint8_t)(k * 31 + i);
	for (unsigned p = 0; p < NPAGES; p++)
		for (unsigned k = 0; k < PG; k++)
			pool_init[p][k] = (uint8_t)(k % 13 ? p * 7 + 1 : k ^ p);
	fx = fake_xen_new(NPAGES);
	if (!fx || gm_gnttab_open(fake_xen_world(fx), &gt)) {
		fprintf(stderr, "fuzz-space: no fake Xen\n");
		abort();
	}
	/* Memory starts as the initial contents; setup() restores what an
	 * input changed. */
	memcpy(ram_sh, ram_init, sizeof(ram_sh));
	memcpy(ram_buf, ram_init, sizeof(ram_buf));
	memcpy(pool_sh, pool_init, sizeof(pool_sh));
	for (unsigned p = 0; p < NPAGES; p++)
		memcpy(fake_xen_page(fx, p), pool_sh[p], PG);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = {data, size};

	setup(&in);
	if (trace)
		for (unsigned d = 0; d < 2; d++)
			for (unsigned r = 0; r < NREF; r++)
				if (gr[d][r].on)
					fprintf(stderr, "d%u ref %u -> page %u%s\n", d + 1, r,
						gr[d][r].page, gr[d][r].w ? " rw" : " ro");
	for (unsigned steps = 0; in.n && steps < 64; steps++) {
		switch (fin_u8(&in) % 16) {
		case 0: op_add(&in); break;
		case 1: op_remove(&in); break;
		case 2: op_view(&in); break;
		case 3: op_read(&in, false); break;
		case 4: op_read(&in, true); break;
		case 5: op_write(&in, 0); break;
		case 6: op_write(&in, 1); break;
		case 7: op_write(&in, 2); break;
		case 8: op_copy(&in); break;
		case 9: op_map(&in); break;
		case 10: op_map_sg(&in); break;
		case 11: op_unmap(&in); break;
		case 12: op_atomic(&in); break;
		case 13: op_grant(&in); break;
		case 14: op_cache(&in); break;
		default:
			if (!fin_below(&in, 8)) /* now and then, compare everything */
				check_all();
			break;
		}
	}
	teardown();
	return 0;
}
