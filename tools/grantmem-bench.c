/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem-bench - grantmem against the alternatives a backend author would
 * pick, side by side in one run, as ratios.
 *
 *   grantmem-bench [--xen emu|emu:SOCKET|real] [--quick] [--reps N]
 *                  [--json FILE|-] [--tools-dir DIR] [--only GROUP,...]
 *
 * World: "emu" (default) spawns an emulated Xen hub of its own; "real" runs
 * in dom0 on Xen.  Either way a forked *granter* process shares a pool of
 * pages with this process's domain through gm_gntshr (an emulated guest
 * domain, or dom0 granting to itself) and this process maps them.
 *
 * Rows (each the median of --reps repetitions, every repetition calibrated
 * to run long enough to be stable, with min-max):
 *   translation  gm_map+gm_unmap of 64 bytes, cache hit vs RAM region
 *   strategy     reads/writes of 64 B..64 KiB: grantmem cached, map per
 *                access (vm-memory's grant mode), grant copy, transient map,
 *                memcpy on RAM; a descriptor's four fields read one call
 *                each vs through one gm_span
 *   batching     a request of N scattered pages: gm_map_sg (one map call)
 *                vs one gnttab map per descriptor
 *   scaling      1..8 threads on shared cache hits
 *   e2e          tools/grantmem-guest + grantmem-blk when they are built:
 *                grants (transient, persistent) vs the same backend on
 *                plain shared RAM (its memfd transport), grant copy
 *                (grantmem-blk --data copy) vs mapping from 4 to 256 KiB
 *                and their crossover, and transient grants' map calls per
 *                request at depths 1 to 32
 *   xen          one gnttab map+unmap vs mmap+munmap of a memfd page, and
 *                a 512 B grant copy vs a 4 KiB memcpy
 *   net          tools/grantmem-netguest + grantmem-net on a tap (root):
 *                packets/s and MB/s of 64 B and 1500 B frames, tx and rx,
 *                transient and persistent grants and grant copy
 *                (grantmem-net --data copy) vs plain shared RAM
 * with map/unmap calls and pages mapped per operation from the cache's
 * counters.  A missed performance bar is reported, never an exit status:
 * this is a report, not a test.  Exit status 0, 1 when the run could not be
 * set up, 2 for a usage error.
 */
#include "config.h"

#include "args.h"

#include <grantmem/grantmem.h>
#include <grantmem/emu.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE GM_PAGE_SIZE
#define CHUNK 64                   /* pages per share call */
#define POOL_CHUNKS 9
#define POOL (CHUNK * POOL_CHUNKS) /* 576 pages: below gntalloc's 1024 */
#define MAX_ENTRIES 512            /* translation: cached entries */
#define RUN_FIRST 512              /* strategy rows: 16 consecutive pages */
#define RUN_PAGES 16
#define MAX_DESC 64                /* batching: descriptors per request */
#define EMU_GRANTER_DOMID 7
#define MAX_ROWS 160
#define MAX_THREADS 8
#define SHARED_ENTRIES 16          /* scaling: entries all threads hit */

/* ---- small helpers ------------------------------------------------------------ */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("grantmem-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keep the compiler from dropping work whose result nobody reads. */
static inline void use_ptr(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- the granter process ------------------------------------------------------ */

enum { OP_SHARE = 1, OP_QUIT };

struct greq {
	int op;
	gm_domid to;
};

struct grep {
	int ret;
	gm_domid self;
	gm_gref refs[CHUNK];
};

static int sp_send(int fd, const void *p, size_t n)
{
	return send(fd, p, n, 0) == (ssize_t)n ? 0 : -EPIPE;
}

static int sp_recv(int fd, void *p, size_t n)
{
	return recv(fd, p, n, 0) == (ssize_t)n ? 0 : -EPIPE;
}

/* The forked granter: shares CHUNK pages per request until told to quit. */
static void granter(int fd, const char *spec)
{
	void *va[POOL_CHUNKS];
	unsigned nva = 0;
	gm_gntshr *shr = NULL;
	gm_xen *x = NULL;
	struct greq q;
	struct grep p;
	int r;

	memset(&p, 0, sizeof(p));
	if ((r = gm_xen_open(spec, &x)) == 0 && (r = gm_xen_self_domid(x, &p.self)) == 0)
		r = gm_gntshr_open(x, &shr);
	p.ret = r;
	if (sp_send(fd, &p, sizeof(p)) < 0 || r < 0)
		_exit(1);
	while (sp_recv(fd, &q, sizeof(q)) == 0 && q.op == OP_SHARE) {
		int err = 0;

		memset(&p, 0, sizeof(p));
		if (nva == POOL_CHUNKS) {
			p.ret = -ENOSPC;
		} else {
			va[nva] = gm_gntshr_share(shr, q.to, CHUNK, p.refs, 1, &err);
			p.ret = va[nva] ? 0 : err;
			if (va[nva])
				memset(va[nva++], 0x5a, (size_t)CHUNK * PAGE);
		}
		if (sp_send(fd, &p, sizeof(p)) < 0)
			break;
	}
	for (unsigned i = 0; i < nva; i++)
		gm_gntshr_unshare(shr, va[i], CHUNK);
	gm_gntshr_close(shr);
	gm_xen_close(x);
	_exit(0);
}

/* ---- the benchmark's world ------------------------------------------------------ */

struct bench {
	bool real, quick;
	unsigned reps;
	double rep_s;       /* target duration of one repetition */
	const char *tools_dir;
	const char *only;   /* comma-separated groups to run, NULL: all */
	char dir[64];       /* our temp dir (emulated world), or "" */
	char sock[128];     /* our hub's socket, or "" */
	gm_xen *x;
	gm_domid self, granter;
	gm_gref pool[POOL];
	/* raw handle: map per access, grant copy, per-descriptor maps */
	gm_gnttab *g0;
	/* persistent cache: hits, cached strategy, scaling */
	gm_gnttab *gp;
	gm_grant_cache *cp;
	gm_region *rp;
	gm_space *sp;
	/* transient cache: transient strategy, map_sg batching */
	gm_gnttab *gt;
	gm_grant_cache *ct;
	gm_region *rt;
	gm_space *st;
	/* persistent cache for steady-state map_sg */
	gm_gnttab *gb;
	gm_grant_cache *cb;
	gm_region *rb;
	gm_space *sb;
	/* plain RAM */
	unsigned char *ram_src, *ram_dst;
	gm_region *ram_region; /* 64 KiB RAM region for the bytes API on RAM */
	gm_space *ram_space;
};

/* Calls the benchmark makes itself, outside any cache (raw gnttab rows). */
static uint64_t raw_map_calls, raw_unmap_calls, raw_pages;

/* ---- rows and measurement ------------------------------------------------------ */

struct row {
	char group[16];
	char name[64];
	char key[48];       /* JSON key, unique */
	const char *unit;   /* "ns/op" or "ops/s" */
	bool cpu;           /* med/min/max from this thread's CPU time, not wall */
	double med, min, max;
	double other_med;   /* the median by the other clock */
	const char *base;   /* baseline row key, or NULL */
	double ratio;       /* med / baseline med (NAN: none) */
	const char *base2;
	double ratio2;
	double maps, unmaps, pages; /* per op (NAN: not counted) */
	/* strategy rows, for the plot */
	const char *strategy, *dir;
	unsigned bytes;
	/* scaling rows */
	unsigned threads;
	double wall_ops, wall_ratio;
	/* e2e rows: MB/s, and the ratio to the plain-RAM row of the same point */
	double mbs;
	const char *ram_base;
	double ram_ratio;
};

static struct row rows[MAX_ROWS];
static unsigned nrows;

static struct row *row_new(const char *group, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct row *row_new(const char *group, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (nrows == MAX_ROWS)
		die("too many rows");
	struct row *r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->group, sizeof(r->group), "%s", group);
	snprintf(r->key, sizeof(r->key), "%s", key);
	va_start(ap, fmt);
	vsnprintf(r->name, sizeof(r->name), fmt, ap);
	va_end(ap);
	r->unit = "ns/op";
	r->ratio = r->ratio2 = NAN;
	r->maps = r->unmaps = r->pages = NAN;
	r->wall_ops = r->wall_ratio = NAN;
	r->other_med = NAN;
	r->mbs = r->ram_ratio = NAN;
	return r;
}

static struct row *row_find(const char *key)
{
	for (unsigned i = 0; i < nrows; i++)
		if (!strcmp(rows[i].key, key))
			return &rows[i];
	return NULL;
}

static double row_med(const char *key)
{
	struct row *r = row_find(key);

	return r ? r->med : NAN;
}

/* Set @r's ratios against the rows named @base (and @base2). */
static void row_ratio(struct row *r, const char *base, const char *base2)
{
	r->base = base;
	r->ratio = base ? r->med / row_med(base) : NAN;
	r->base2 = base2;
	r->ratio2 = base2 ? r->med / row_med(base2) : NAN;
}

/* One operation, run @n times in a row. */
typedef void (*op_fn)(void *ctx, uint64_t n);

struct counts {
	uint64_t maps, unmaps, pages;
};

static struct counts counts_now(gm_grant_cache *c)
{
	struct counts k = {raw_map_calls, raw_unmap_calls, raw_pages};

	if (c) {
		struct gm_grant_stats st = {.size = sizeof(st)};

		gm_grant_cache_stats(c, &st);
		k.maps += st.map_calls;
		k.unmaps += st.unmap_calls;
		k.pages += st.pages_mapped;
	}
	return k;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Time @fn: find an iteration count that runs about b->rep_s, then run it
 * b->reps times.  Results in ns per op; the counters of cache @c (and the
 * raw calls) are divided by every op of the repetitions.
 *
 * Two clocks.  Work that stays in this thread (cache hits, memcpy, the
 * bytes API on mapped memory) is timed by the thread's CPU time: on a
 * loaded machine wall time mostly measures how long other processes kept
 * us off the CPU.  Work that calls Xen (or the emulated Xen's hub, another
 * process) is timed by wall clock, since part of its cost is spent outside
 * this thread.  @cpu picks the reported one; the other is kept for the JSON.
 */
static void measure(struct bench *b, struct row *r, op_fn fn, void *ctx, gm_grant_cache *c,
		    bool cpu)
{
	double tw[16], tc[16];
	uint64_t n = 1;

	/* Calibrate (also warms caches and the mapping cache). */
	for (;;) {
		double t0 = now_s();
		fn(ctx, n);
		double dt = now_s() - t0;
		if (dt >= b->rep_s / 10 || n >= (1ull << 40)) {
			double want = (double)n * b->rep_s / (dt > 0 ? dt : 1e-9);
			n = want < 1 ? 1 : (uint64_t)want;
			break;
		}
		n *= dt < b->rep_s / 1000 ? 16 : 2;
	}
	struct counts k0 = counts_now(c);
	for (unsigned i = 0; i < b->reps; i++) {
		double c0 = thread_cpu_s(), t0 = now_s();
		fn(ctx, n);
		tw[i] = (now_s() - t0) * 1e9 / (double)n;
		tc[i] = (thread_cpu_s() - c0) * 1e9 / (double)n;
	}
	struct counts k1 = counts_now(c);
	double ops = (double)n * b->reps;
	r->maps = (double)(k1.maps - k0.maps) / ops;
	r->unmaps = (double)(k1.unmaps - k0.unmaps) / ops;
	r->pages = (double)(k1.pages - k0.pages) / ops;
	double *t = cpu ? tc : tw;
	r->cpu = cpu;
	r->other_med = median(cpu ? tw : tc, b->reps);
	r->med = median(t, b->reps);
	r->min = t[0];
	r->max = t[b->reps - 1];
}

/* ---- 1. translation ---------------------------------------------------------------- */

struct tctx {
	gm_mem *m;
	uint64_t addr[MAX_ENTRIES];
	unsigned n, i;
	bool by_host; /* unmap by pointer alone (gm_unmap_host), as QEMU does */
};

static void op_translate(void *p, uint64_t n)
{
	struct tctx *t = p;

	for (uint64_t k = 0; k < n; k++) {
		uint64_t a = t->addr[t->i];
		size_t len = 64;
		int err;

		if (++t->i == t->n)
			t->i = 0;
		void *q = gm_map(t->m, a, &len, GM_PROT_READ, &err);
		if (!q)
			die("gm_map at %#" PRIx64 ": %s", a, gm_strerror(err));
		use_ptr(q);
		if (t->by_host)
			gm_unmap_host(t->m, q, GM_PROT_READ, 0);
		else
			gm_unmap(t->m, a, q, len, GM_PROT_READ, 0);
	}
}

/* 64-byte slots spread over a page, so consecutive ops hit other lines. */
static unsigned slot_off(unsigned i)
{
	return (i * 64u * 7u) % (PAGE - 64);
}

/* Map (and release) one page of @ref in the persistent cache: it stays. */
static void warm(gm_mem *m, uint64_t addr, size_t len, int prot)
{
	int err;
	size_t l = len;
	void *q = gm_map(m, addr, &l, prot, &err);

	if (!q)
		die("warming the cache at %#" PRIx64 ": %s", addr, gm_strerror(err));
	if (l != len)
		die("warming the cache: %zu of %zu bytes mapped", l, len);
	gm_unmap(m, addr, q, l, prot, 0);
}

static void bench_translation(struct bench *b)
{
	static const unsigned counts[] = {1, 16, 512};
	struct tctx *t = calloc(1, sizeof(*t));
	gm_region *ram[MAX_ENTRIES];
	gm_space *rs;
	unsigned char *ramb = aligned_alloc(PAGE, (size_t)MAX_ENTRIES * PAGE);

	if (!t || !ramb)
		die("out of memory");
	memset(ramb, 1, (size_t)MAX_ENTRIES * PAGE);
	for (unsigned c = 0; c < 3; c++) {
		unsigned n = counts[c];

		/* RAM: @n regions of a page, 64 KiB apart, like guest RAM banks. */
		if (gm_space_new(&rs))
			die("gm_space_new");
		for (unsigned i = 0; i < n; i++) {
			if (gm_ram_region_new(ramb + (size_t)i * PAGE, PAGE, GM_PROT_RW, &ram[i]) ||
			    gm_space_add(rs, (uint64_t)i << 16, ram[i]))
				die("RAM region %u", i);
			t->addr[i] = ((uint64_t)i << 16) + slot_off(i);
		}
		t->m = gm_space_mem(rs);
		t->n = n;
		t->i = 0;
		struct row *r = row_new("translation", "", "RAM region lookup, %u region%s", n,
					n > 1 ? "s" : "");
		snprintf(r->key, sizeof(r->key), "ram_lookup_%u", n);
		fprintf(stderr, "  %s\n", r->name);
		measure(b, r, op_translate, t, NULL, true);
		gm_space_free(rs);
		for (unsigned i = 0; i < n; i++)
			gm_region_free(ram[i]);

		/* Grants: @n single-page entries, all mapped first. */
		for (unsigned i = 0; i < n; i++) {
			t->addr[i] = GM_GRANT_ADDR(b->pool[i], slot_off(i));
			warm(gm_space_mem(b->sp), GM_GRANT_ADDR(b->pool[i], 0), 64, GM_PROT_READ);
		}
		t->m = gm_space_mem(b->sp);
		t->i = 0;
		r = row_new("translation", "", "grant cache hit, %u entr%s", n, n > 1 ? "ies" : "y");
		snprintf(r->key, sizeof(r->key), "grant_hit_%u", n);
		fprintf(stderr, "  %s\n", r->name);
		measure(b, r, op_translate, t, b->cp, true);
		char base[32];
		snprintf(base, sizeof(base), "ram_lookup_%u", n);
		row_ratio(r, row_find(base)->key, NULL);
		if (n != 16)
			continue;
		/* The same hits released by pointer alone: the cache's host index. */
		t->by_host = true;
		t->i = 0;
		r = row_new("translation", "grant_hit_16_unmap_host",
			    "grant cache hit, 16 entries, gm_unmap_host");
		fprintf(stderr, "  %s\n", r->name);
		measure(b, r, op_translate, t, b->cp, true);
		row_ratio(r, "grant_hit_16", NULL);
		t->by_host = false;
	}
	free(ramb);
	free(t);
}

/* ---- 2b. small accesses: the four fields of a 16-byte descriptor ------------------------ */

struct fctx {
	gm_mem *m;
	uint64_t at;
	bool span;
};

/* A split-ring descriptor's fields: one bytes-API call each, or one span. */
static void op_fields(void *p, uint64_t n)
{
	struct fctx *c = p;
	uint64_t addr = 0;
	uint32_t len = 0;
	uint16_t flags = 0, next = 0;
	int err = 0;

	for (uint64_t k = 0; k < n && !err; k++) {
		if (c->span) {
			gm_span s;
			err = gm_span_begin(&s, c->m, c->at, 16, GM_PROT_READ);
			if (!err) {
				gm_span_read_le64(&s, 0, &addr);
				gm_span_read_le32(&s, 8, &len);
				gm_span_read_le16(&s, 12, &flags);
				gm_span_read_le16(&s, 14, &next);
				gm_span_end(&s);
			}
		} else {
			err = gm_read_le64(c->m, c->at, &addr);
			if (!err)
				err = gm_read_le32(c->m, c->at + 8, &len);
			if (!err)
				err = gm_read_le16(c->m, c->at + 12, &flags);
			if (!err)
				err = gm_read_le16(c->m, c->at + 14, &next);
		}
		use_ptr(&addr), use_ptr(&len), use_ptr(&flags), use_ptr(&next);
	}
	if (err)
		die("descriptor fields%s: %s", c->span ? " (span)" : "", gm_strerror(err));
}

/* Per field against per span, on a transient grant (a grant copy per
 * call) and on a mapped one (a cache hit per call).  Ratio: x per field. */
static void bench_fields(struct bench *b)
{
	static const char *const how[2] = {"gm_read_le* each", "one gm_span"};
	const struct {
		const char *name, *key;
		gm_mem *m;
		gm_grant_cache *c;
		bool cpu;
	} where[2] = {
		{"transient", "transient", gm_space_mem(b->st), b->ct, false},
		{"cached", "cached", gm_space_mem(b->sp), b->cp, true},
	};

	for (unsigned w = 0; w < 2; w++) {
		for (unsigned s = 0; s < 2; s++) {
			struct fctx c = {.m = where[w].m,
					 .at = GM_GRANT_ADDR(b->pool[RUN_FIRST], 128),
					 .span = s};
			struct row *r = row_new("strategy", "", "16 B descriptor, 4 fields, %s: %s",
						where[w].name, how[s]);
			snprintf(r->key, sizeof(r->key), "fields_%s_%s", where[w].key,
				 s ? "span" : "per_field");
			fprintf(stderr, "  %s\n", r->name);
			measure(b, r, op_fields, &c, where[w].c, where[w].cpu);
			if (s)
				row_ratio(r, rows[nrows - 2].key, NULL);
		}
	}
}

/* ---- 2. access strategies ------------------------------------------------------------ */

enum strat { S_MEMCPY, S_BYTES_RAM, S_CACHED, S_MAP_PER_ACCESS, S_COPY, S_TRANSIENT, S_COUNT };

static const char *const strat_key[S_COUNT] = {
	"memcpy", "bytes_ram", "cached", "map_per_access", "grant_copy", "transient",
};
static const char *const strat_name[S_COUNT] = {
	"memcpy, plain RAM",
	"gm_read/gm_write, RAM region",
	"grantmem cached (gm_read/gm_write hit)",
	"map per access (gnttab map/copy/unmap)",
	"grant copy (gm_gnttab_copy)",
	"transient map (gm_map/copy/gm_unmap)",
};

struct sctx {
	struct bench *b;
	enum strat s;
	bool write;
	size_t len;
	unsigned char *buf;
};

static void op_strategy(void *p, uint64_t n)
{
	struct sctx *c = p;
	struct bench *b = c->b;
	uint64_t ga = GM_GRANT_ADDR(b->pool[RUN_FIRST], 0);
	uint32_t npages = (uint32_t)((c->len + PAGE - 1) / PAGE);
	int prot = c->write ? GM_PROT_RW : GM_PROT_READ;
	int err = 0;

	for (uint64_t k = 0; k < n; k++) {
		switch (c->s) {
		case S_MEMCPY:
			if (c->write)
				memcpy(b->ram_dst, c->buf, c->len);
			else
				memcpy(c->buf, b->ram_src, c->len);
			break;
		case S_BYTES_RAM:
			err = c->write ? gm_write(gm_space_mem(b->ram_space), 0, c->buf, c->len)
				       : gm_read(gm_space_mem(b->ram_space), 0, c->buf, c->len);
			break;
		case S_CACHED:
			err = c->write ? gm_write(gm_space_mem(b->sp), ga, c->buf, c->len)
				       : gm_read(gm_space_mem(b->sp), ga, c->buf, c->len);
			break;
		case S_MAP_PER_ACCESS: {
			void *q = gm_gnttab_map(b->g0, npages, b->granter, &b->pool[RUN_FIRST], prot,
						&err);
			if (!q)
				break;
			raw_map_calls++;
			raw_pages += npages;
			if (c->write)
				memcpy(q, c->buf, c->len);
			else
				memcpy(c->buf, q, c->len);
			err = gm_gnttab_unmap(b->g0, q, npages);
			raw_unmap_calls++;
			break;
		}
		case S_COPY: {
			struct gm_copy_seg seg[RUN_PAGES];
			for (uint32_t i = 0; i < npages; i++) {
				struct gm_copy_seg *s = &seg[i];
				size_t l = c->len - (size_t)i * PAGE;
				memset(s, 0, sizeof(*s));
				s->len = (uint16_t)(l < PAGE ? l : PAGE);
				if (c->write) {
					s->flags = GM_COPY_DEST_GREF;
					s->source.virt = c->buf + (size_t)i * PAGE;
					s->dest.foreign.ref = b->pool[RUN_FIRST + i];
					s->dest.foreign.domid = b->granter;
				} else {
					s->flags = GM_COPY_SOURCE_GREF;
					s->dest.virt = c->buf + (size_t)i * PAGE;
					s->source.foreign.ref = b->pool[RUN_FIRST + i];
					s->source.foreign.domid = b->granter;
				}
			}
			err = gm_gnttab_copy(b->g0, npages, seg);
			for (uint32_t i = 0; !err && i < npages; i++)
				err = gm_gntst_errno(seg[i].status);
			break;
		}
		case S_TRANSIENT: {
			size_t done = 0;
			while (done < c->len) {
				size_t l = c->len - done;
				void *q = gm_map(gm_space_mem(b->st), ga + done, &l, prot, &err);
				if (!q)
					break;
				if (c->write)
					memcpy(q, c->buf + done, l);
				else
					memcpy(c->buf + done, q, l);
				gm_unmap(gm_space_mem(b->st), ga + done, q, l, prot, c->write ? l : 0);
				done += l;
			}
			break;
		}
		case S_COUNT:
			break;
		}
		if (err)
			die("%s %s of %zu bytes: %s", strat_key[c->s], c->write ? "write" : "read",
			    c->len, gm_strerror(err));
		use_ptr(c->buf);
	}
}

static void bench_strategies(struct bench *b)
{
	static const size_t sizes[] = {64, 512, 4096, 65536};
	struct sctx c = {.b = b};

	c.buf = aligned_alloc(PAGE, (size_t)RUN_PAGES * PAGE);
	if (!c.buf)
		die("out of memory");
	memset(c.buf, 3, (size_t)RUN_PAGES * PAGE);
	/* The cached strategy's run: one entry of RUN_PAGES pages, read-write. */
	warm(gm_space_mem(b->sp), GM_GRANT_ADDR(b->pool[RUN_FIRST], 0), (size_t)RUN_PAGES * PAGE,
	     GM_PROT_RW);
	for (unsigned w = 0; w < 2; w++) {
		for (unsigned z = 0; z < 4; z++) {
			for (unsigned s = 0; s < S_COUNT; s++) {
				struct row *r;
				gm_grant_cache *cache = s == S_CACHED	 ? b->cp
							: s == S_TRANSIENT ? b->ct
									   : NULL;
				c.s = (enum strat)s;
				c.write = w;
				c.len = sizes[z];
				r = row_new("strategy", "", "%s %zu B: %s", w ? "write" : "read",
					    sizes[z], strat_name[s]);
				snprintf(r->key, sizeof(r->key), "%s_%s_%zu", strat_key[s],
					 w ? "write" : "read", sizes[z]);
				r->strategy = strat_key[s];
				r->dir = w ? "write" : "read";
				r->bytes = (unsigned)sizes[z];
				fprintf(stderr, "  %s\n", r->name);
				measure(b, r, op_strategy, &c, cache, s <= S_CACHED);
				if (s == S_COPY || s == S_MEMCPY || s == S_BYTES_RAM)
					r->maps = r->unmaps = r->pages = 0;
			}
			/* Ratios once the row set of this size is complete. */
			for (unsigned s = 0; s < S_COUNT; s++) {
				char key[48], base[48], cached[48];
				const char *d = w ? "write" : "read";
				snprintf(key, sizeof(key), "%s_%s_%zu", strat_key[s], d, sizes[z]);
				snprintf(base, sizeof(base), "memcpy_%s_%zu", d, sizes[z]);
				snprintf(cached, sizeof(cached), "cached_%s_%zu", d, sizes[z]);
				struct row *r = row_find(key);
				if (s == S_MEMCPY)
					continue;
				row_ratio(r, row_find(base)->key,
					  s > S_CACHED ? row_find(cached)->key : NULL);
			}
		}
	}
	free(c.buf);
	bench_fields(b);
}

/* ---- 3. batching -------------------------------------------------------------------- */

enum bmode { B_MAP_SG_TRANSIENT, B_GNTTAB_PER_DESC, B_GM_MAP_PER_DESC, B_MAP_SG_PERSISTENT };

struct bctx {
	struct bench *b;
	enum bmode mode;
	unsigned n;
	gm_gref refs[MAX_DESC];
	struct gm_sg sg[MAX_DESC];
};

static void op_batch(void *p, uint64_t n)
{
	struct bctx *c = p;
	struct bench *b = c->b;
	struct iovec iov[MAX_DESC];
	void *va[MAX_DESC];
	int flags = GM_PROT_RW, err = 0;

	for (uint64_t k = 0; k < n; k++) {
		switch (c->mode) {
		case B_MAP_SG_TRANSIENT:
		case B_MAP_SG_PERSISTENT: {
			gm_mem *m = gm_space_mem(c->mode == B_MAP_SG_TRANSIENT ? b->st : b->sb);
			int ret = gm_map_sg(m, c->sg, c->n, iov, MAX_DESC, flags);
			if (ret != (int)c->n)
				die("gm_map_sg of %u pages: %s", c->n,
				    ret < 0 ? gm_strerror(ret) : "split");
			use_ptr(iov);
			gm_unmap_sg(m, c->sg, c->n, iov, (unsigned)ret, flags, 0);
			break;
		}
		case B_GNTTAB_PER_DESC:
			for (unsigned i = 0; i < c->n; i++) {
				va[i] = gm_gnttab_map(b->g0, 1, b->granter, &c->refs[i], GM_PROT_RW,
						      &err);
				if (!va[i])
					die("gm_gnttab_map: %s", gm_strerror(err));
			}
			use_ptr(va);
			for (unsigned i = 0; i < c->n; i++)
				gm_gnttab_unmap(b->g0, va[i], 1);
			raw_map_calls += c->n;
			raw_unmap_calls += c->n;
			raw_pages += c->n;
			break;
		case B_GM_MAP_PER_DESC: {
			gm_mem *m = gm_space_mem(b->st);
			for (unsigned i = 0; i < c->n; i++) {
				size_t l = PAGE;
				va[i] = gm_map(m, c->sg[i].addr, &l, flags, &err);
				if (!va[i] || l != PAGE)
					die("gm_map: %s", gm_strerror(err));
			}
			use_ptr(va);
			for (unsigned i = 0; i < c->n; i++)
				gm_unmap(m, c->sg[i].addr, va[i], PAGE, flags, 0);
			break;
		}
		}
	}
}

static void bench_batching(struct bench *b)
{
	static const unsigned ns[] = {1, 4, 16, 64};
	static const char *const key[] = {"map_sg_transient", "gnttab_per_desc",
					  "gm_map_per_desc", "map_sg_persistent"};
	static const char *const name[] = {
		"gm_map_sg, transient (one map call)",
		"gm_gnttab_map per descriptor",
		"gm_map per descriptor, transient",
		"gm_map_sg, persistent, steady state",
	};
	struct bctx *c = calloc(1, sizeof(*c));

	if (!c)
		die("out of memory");
	c->b = b;
	/* Scattered refs: every 7th page of the pool, never adjacent. */
	for (unsigned i = 0; i < MAX_DESC; i++) {
		c->refs[i] = b->pool[(i * 7u) % MAX_ENTRIES];
		c->sg[i] = (struct gm_sg){GM_GRANT_ADDR(c->refs[i], 0), PAGE};
	}
	for (unsigned z = 0; z < 4; z++) {
		c->n = ns[z];
		for (unsigned mo = 0; mo < 4; mo++) {
			gm_grant_cache *cache = mo == B_MAP_SG_PERSISTENT ? b->cb
						: mo == B_GNTTAB_PER_DESC ? NULL
									  : b->ct;
			c->mode = (enum bmode)mo;
			struct row *r = row_new("batching", "", "N=%-2u %s", ns[z], name[mo]);
			snprintf(r->key, sizeof(r->key), "%s_%u", key[mo], ns[z]);
			fprintf(stderr, "  %s\n", r->name);
			measure(b, r, op_batch, c, cache, mo == B_MAP_SG_PERSISTENT);
		}
		for (unsigned mo = 0; mo < 4; mo++) {
			char k[48], base[48];
			snprintf(k, sizeof(k), "%s_%u", key[mo], ns[z]);
			snprintf(base, sizeof(base), "gnttab_per_desc_%u", ns[z]);
			if (mo != B_GNTTAB_PER_DESC)
				row_ratio(row_find(k), row_find(base)->key, NULL);
		}
	}
	free(c);
}

/* ---- 4. scaling --------------------------------------------------------------------- */

struct thr {
	pthread_t t;
	struct bench *b;
	pthread_barrier_t *bar;
	atomic_bool *stop;
	unsigned start;
	uint64_t ops;
	double cpu_s;
	struct tctx tc;
};

static void *scaling_thread(void *p)
{
	struct thr *t = p;

	pthread_barrier_wait(t->bar);
	double c0 = thread_cpu_s();
	while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
		op_translate(&t->tc, 256);
		t->ops += 256;
	}
	t->cpu_s = thread_cpu_s() - c0;
	return NULL;
}

/* One run of @n threads; per-thread ops per CPU-second and wall aggregate.
 * @disjoint: each thread hits entries of its own instead of shared ones. */
static void scaling_run(struct bench *b, unsigned n, bool disjoint, double *cpu_rate,
			double *wall_rate)
{
	struct thr th[MAX_THREADS];
	pthread_barrier_t bar;
	atomic_bool stop = false;
	struct timespec d;
	double dur = b->rep_s * 1.5;

	pthread_barrier_init(&bar, NULL, n + 1);
	for (unsigned i = 0; i < n; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].b = b;
		th[i].bar = &bar;
		th[i].stop = &stop;
		th[i].tc.m = gm_space_mem(b->sp);
		th[i].tc.n = SHARED_ENTRIES;
		th[i].tc.i = (i * 5u) % SHARED_ENTRIES;
		unsigned first = disjoint ? SHARED_ENTRIES * (i + 1) : 0;
		for (unsigned e = 0; e < SHARED_ENTRIES; e++)
			th[i].tc.addr[e] = GM_GRANT_ADDR(b->pool[first + e], slot_off(e));
		if (pthread_create(&th[i].t, NULL, scaling_thread, &th[i]))
			die("pthread_create");
	}
	pthread_barrier_wait(&bar);
	double t0 = now_s();
	d.tv_sec = (time_t)dur;
	d.tv_nsec = (long)((dur - (double)d.tv_sec) * 1e9);
	nanosleep(&d, NULL);
	atomic_store(&stop, true);
	uint64_t total = 0;
	double rate = 0;
	for (unsigned i = 0; i < n; i++) {
		pthread_join(th[i].t, NULL);
		total += th[i].ops;
		rate += (double)th[i].ops / th[i].cpu_s;
	}
	double wall = now_s() - t0;
	pthread_barrier_destroy(&bar);
	*cpu_rate = rate / n;
	*wall_rate = (double)total / wall;
}

static void bench_scaling(struct bench *b)
{
	static const unsigned ns[] = {1, 2, 4, 8};
	double base_cpu = NAN, base_wall = NAN;

	/* the shared entries, then MAX_THREADS sets of entries of one thread */
	for (unsigned i = 0; i < SHARED_ENTRIES * (MAX_THREADS + 1); i++)
		warm(gm_space_mem(b->sp), GM_GRANT_ADDR(b->pool[i], 0), 64, GM_PROT_READ);
	/* 1, 2, 4, 8 threads on shared entries; 8 on their own (z == 4) */
	for (unsigned z = 0; z < 5; z++) {
		double cpu[16], wall[16];
		bool own = z == 4;
		unsigned nt = own ? MAX_THREADS : ns[z];
		struct row *r = row_new("scaling", "", "%u thread%s, hits on %u %s entries", nt,
					nt > 1 ? "s" : "", SHARED_ENTRIES,
					own ? "own (per thread)" : "shared");
		snprintf(r->key, sizeof(r->key), "scaling_%ut%s", nt, own ? "_disjoint" : "");
		fprintf(stderr, "  %s\n", r->name);
		for (unsigned k = 0; k < b->reps; k++)
			scaling_run(b, nt, own, &cpu[k], &wall[k]);
		qsort(cpu, b->reps, sizeof(cpu[0]), cmp_double);
		qsort(wall, b->reps, sizeof(wall[0]), cmp_double);
		r->unit = "ops/s";
		r->cpu = true;
		r->threads = nt;
		r->min = cpu[0];
		r->max = cpu[b->reps - 1];
		r->med = cpu[b->reps / 2];
		r->wall_ops = wall[b->reps / 2];
		if (z == 0) {
			base_cpu = r->med;
			base_wall = r->wall_ops;
		}
		r->base = "scaling_1t";
		r->ratio = r->med / base_cpu;
		/* Wall clock per thread: aggregate / threads, vs one thread. */
		r->wall_ratio = r->wall_ops / nt / base_wall;
	}
}

/* ---- 5. end to end (tools/grantmem-guest + tools/grantmem-blk) ------------------------ */

/*
 * The demo pipeline on the emulated Xen: the toolstack (grantmem-vdev add)
 * creates a virtio-blk device, grantmem-blk serves it from a sparse image
 * as driver domain E2E_BACKEND, and grantmem-guest (a fresh frontend domain
 * per run) drives it at a queue depth, printing one "summary:" line.  The
 * baseline is the same backend code on plain shared RAM: grantmem-blk
 * --transport ram serving grantmem-guest --transport ram, whose memory is a
 * memfd both map (no Xen, no grants, no mapping per request), with the same
 * image, driver, verification and buffer reuse as persistent grants.  Runs
 * only when the three tools are built next to this program and the guest
 * knows --depth (and --transport ram for the baseline); otherwise the row
 * says "not available".  MB/s is IOPS x the request size: every request of
 * the measured phase reads or writes that many bytes.
 */
#define E2E_BACKEND 1
#define E2E_FIRST_FRONTEND 20

/* E2E_COPY: transient grants, grantmem-blk --data copy; only the copy rows
 * (bench_e2e_copy) run it, not every point. */
enum e2e_mode { E2E_TRANSIENT, E2E_PERSISTENT, E2E_RAM, E2E_MODES, E2E_COPY = E2E_MODES };

static const char *const e2e_mode_key[E2E_MODES] = {"transient", "persistent", "ram"};
static const char *const e2e_mode_name[E2E_MODES] = {"transient", "persistent", "plain RAM"};

/* Does the guest know --transport ram?  (Set by e2e_available.) */
static bool e2e_ram;

static bool e2e_available(struct bench *b)
{
	static const char *const tools[] = {"grantmem-guest", "grantmem-blk", "grantmem-vdev"};
	char path[4200], line[512];
	bool depth = false;

	if (b->real || !b->sock[0])
		return false; /* needs domains of its own: emulated world only */
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", b->tools_dir, tools[i]);
		if (access(path, X_OK) != 0)
			return false;
	}
	snprintf(path, sizeof(path), "'%s/grantmem-guest' --help 2>&1", b->tools_dir);
	FILE *f = popen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		depth |= strstr(line, "--depth") != NULL;
		e2e_ram |= strstr(line, "--transport ram") != NULL;
	}
	pclose(f);
	return depth;
}

/* Pull "key=value" out of a "summary:" line. */
static double summary_field(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	return p ? strtod(p + strlen(pat), NULL) : NAN;
}

static int run_quiet(const char *cmd)
{
	char full[4700];

	snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
	return system(full);
}

/* One guest run against a fresh backend; IOPS and map calls per request. */
static bool e2e_run(struct bench *b, enum e2e_mode mode, unsigned depth, bool seq, unsigned size,
		    unsigned secs, double *iops, double *mcpr)
{
	static unsigned next_fe = E2E_FIRST_FRONTEND;
	unsigned fe = next_fe++;
	char cmd[4600], line[1024], img[160], ram_sock[160], guest_to[200];
	const char *d = b->tools_dir;
	bool ok = false;
	pid_t be;

	snprintf(img, sizeof(img), "%s/disk.img", b->dir);
	if (mode == E2E_RAM) {
		/* no Xen: the guest connects to the backend's socket (retrying until it listens) */
		snprintf(ram_sock, sizeof(ram_sock), "%s/ram-%u.sock", b->dir, fe);
		snprintf(cmd, sizeof(cmd),
			 "exec '%s/grantmem-blk' --transport ram --socket '%s' --image '%s' "
			 ">/dev/null 2>&1",
			 d, ram_sock, img);
		snprintf(guest_to, sizeof(guest_to), "--transport ram --socket '%s'", ram_sock);
	} else {
		snprintf(cmd, sizeof(cmd),
			 "'%s/grantmem-vdev' add --xen emu:%s --backend-domid %u --frontend-domid %u",
			 d, b->sock, E2E_BACKEND, fe);
		if (run_quiet(cmd) != 0)
			return false;
		snprintf(cmd, sizeof(cmd),
			 "exec '%s/grantmem-blk' --image '%s' --xen emu:%s,domid=%u --frontend-domid %u "
			 "%s >/dev/null 2>&1",
			 d, img, b->sock, E2E_BACKEND, fe,
			 mode == E2E_PERSISTENT ? "--persistent" : mode == E2E_COPY ? "--data copy" : "");
		snprintf(guest_to, sizeof(guest_to), "--xen emu:%s,domid=%u", b->sock, fe);
	}
	fflush(NULL);
	be = fork();
	if (be == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (be < 0)
		return false;
	snprintf(cmd, sizeof(cmd),
		 "'%s/grantmem-guest' %s --seconds %u --depth %u --size %u %s --quiet 2>&1", d,
		 guest_to, secs, depth, size, seq ? "--seq" : "");
	FILE *f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "summary:", 8))
			continue;
		*iops = summary_field(line, "iops");
		*mcpr = summary_field(line, "map_calls_per_request");
		ok = !isnan(*iops) && summary_field(line, "errors") == 0;
	}
	if (f)
		ok &= pclose(f) == 0;
	kill(be, SIGTERM);
	waitpid(be, NULL, 0);
	if (mode != E2E_RAM) {
		snprintf(cmd, sizeof(cmd),
			 "'%s/grantmem-vdev' remove --xen emu:%s --backend-domid %u --frontend-domid %u",
			 d, b->sock, E2E_BACKEND, fe);
		run_quiet(cmd);
	}
	return ok;
}

/* Fill @r (unit, median, min-max, MB/s, map calls) from @ok runs. */
static void e2e_fill(struct row *r, double *iops, double *mc, unsigned ok, unsigned size)
{
	r->unit = "ops/s";
	r->med = r->min = r->max = NAN;
	if (!ok)
		return;
	r->maps = median(mc, ok);
	r->med = median(iops, ok);
	r->min = iops[0];
	r->max = iops[ok - 1];
	r->mbs = r->med * size / 1e6;
}

/*
 * Runs of @mode and @mode2 (random, depth @depth, @size bytes) in pairs,
 * one right after the other, into @r and @r2 (@r may be NULL: its runs
 * only pair); @r2's ratio is the median of the pairs' ratios, so that the
 * machine's load, which drifts between runs, weighs on both sides alike.
 */
static void e2e_pairs(struct bench *b, struct row *r, enum e2e_mode mode, struct row *r2,
		      enum e2e_mode mode2, unsigned depth, unsigned size)
{
	double iops[16], mc[16], iops2[16], mc2[16], ratio[16];
	unsigned ok = 0, reps = b->quick ? 1 : b->reps > 3 ? 3 : b->reps;

	if (r)
		fprintf(stderr, "  %s\n", r->name);
	fprintf(stderr, "  %s\n", r2->name);
	for (unsigned k = 0; k < reps; k++)
		if (e2e_run(b, mode, depth, false, size, b->quick ? 1 : 2, &iops[ok], &mc[ok]) &&
		    e2e_run(b, mode2, depth, false, size, b->quick ? 1 : 2, &iops2[ok], &mc2[ok])) {
			ratio[ok] = iops2[ok] / iops[ok];
			ok++;
		}
	if (r)
		e2e_fill(r, iops, mc, ok, size);
	e2e_fill(r2, iops2, mc2, ok, size);
	r2->ratio = ok ? median(ratio, ok) : NAN;
}

/* The request size up to which copying beat mapping (bench_e2e_copy). */
static double copy_crossover = NAN;

/*
 * Grant copy against mapping, transient grants, random I/O at depth 32
 * (grantmem-blk --data copy against its default): the same requests, their
 * buffers mapped by one map call per direction of a batch, or filled and
 * drained with one grant copy call per direction of a request, measured in
 * pairs.  Copying pays per byte, mapping per call and per page: the
 * crossover is the largest size from which down copying wins at every size
 * measured (0 when it loses already at 4 KiB), what --data auto picks by.
 * And copy at depth 1, 4 KiB, against transient mapping.
 */
static void bench_e2e_copy(struct bench *b)
{
	static const unsigned sizes[] = {4, 16, 32, 64, 256}; /* KiB: the guest's largest is 256 */
	bool wins = true;
	struct row *r;

	r = row_new("e2e", "e2e_rand_4_qd1_copy", "random 4 KiB, depth 1 , copy");
	r->base = "e2e_rand_4_qd1_transient";
	e2e_pairs(b, NULL, E2E_TRANSIENT, r, E2E_COPY, 1, 4096);
	copy_crossover = 0;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct row *map = NULL, *copy;
		char key[48];

		/* 4 KiB: the map row of the same point above; its runs here only pair */
		snprintf(key, sizeof(key), "e2e_rand_%u_qd32_transient", sizes[i]);
		if (!row_find(key))
			map = row_new("e2e", key, "random %u KiB, depth 32, transient", sizes[i]);
		copy = row_new("e2e", "", "random %u KiB, depth 32, copy", sizes[i]);
		snprintf(copy->key, sizeof(copy->key), "e2e_rand_%u_qd32_copy", sizes[i]);
		copy->base = row_find(key)->key;
		e2e_pairs(b, map, E2E_TRANSIENT, copy, E2E_COPY, 32, sizes[i] << 10);
		if (isnan(copy->ratio)) {
			copy_crossover = NAN;
			break;
		}
		wins &= copy->ratio >= 1;
		if (wins)
			copy_crossover = (double)(sizes[i] << 10);
	}
}

/*
 * Map calls per request against queue depth: transient grants, 4 KiB
 * random, depths 1 to 32.  A backend that maps the requests it pops after
 * one notification together makes one map call per direction per batch,
 * so the figure falls as the depth grows.  Depths 1 and 32 are the rows
 * above; the others run here.
 */
static void bench_e2e_depths(struct bench *b)
{
	static const unsigned depths[] = {1, 2, 4, 8, 16, 32};

	for (unsigned dd = 0; dd < sizeof(depths) / sizeof(depths[0]); dd++) {
		char key[48];
		const struct row *same;
		struct row *r = row_new("e2e", "", "map calls, transient 4 KiB, depth %-2u", depths[dd]);
		double iops[16], mc[16];
		unsigned ok = 0, reps = b->quick ? 1 : b->reps > 3 ? 3 : b->reps;

		snprintf(r->key, sizeof(r->key), "e2e_map_calls_transient_qd%u", depths[dd]);
		r->unit = "ops/s";
		r->med = r->min = r->max = NAN;
		snprintf(key, sizeof(key), "e2e_rand_4_qd%u_transient", depths[dd]);
		if ((same = row_find(key))) {
			r->med = same->med;
			r->min = same->min;
			r->max = same->max;
			r->mbs = same->mbs;
			r->maps = same->maps;
			continue;
		}
		fprintf(stderr, "  %s\n", r->name);
		for (unsigned k = 0; k < reps; k++)
			if (e2e_run(b, E2E_TRANSIENT, depths[dd], false, 4096, b->quick ? 1 : 2,
				    &iops[ok], &mc[ok]))
				ok++;
		if (!ok)
			continue;
		r->maps = median(mc, ok);
		r->med = median(iops, ok);
		r->min = iops[0];
		r->max = iops[ok - 1];
		r->mbs = r->med * 4096 / 1e6;
	}
}

static void bench_e2e(struct bench *b)
{
	static const unsigned depths[] = {1, 32};
	char img[160];

	if (!e2e_available(b)) {
		struct row *r = row_new("e2e", "e2e", "grantmem-guest + grantmem-blk");
		r->med = r->min = r->max = NAN;
		return;
	}
	snprintf(img, sizeof(img), "%s/disk.img", b->dir);
	FILE *f = fopen(img, "w");
	if (!f || ftruncate(fileno(f), 256 << 20) || fclose(f))
		die("%s: %s", img, strerror(errno));
	for (unsigned p = 0; p < 2; p++) {
		bool seq = p;
		unsigned size = seq ? 128u << 10 : 4096u;
		const char *pat = seq ? "seq" : "rand";
		for (unsigned dd = 0; dd < 2; dd++) {
			struct row *mr[E2E_MODES];

			for (unsigned m = 0; m < E2E_MODES; m++) {
				double iops[16], mc[16];
				unsigned ok = 0;
				struct row *r = row_new("e2e", "", "%s %u KiB, depth %-2u, %s",
							seq ? "sequential" : "random", size >> 10,
							depths[dd], e2e_mode_name[m]);
				snprintf(r->key, sizeof(r->key), "e2e_%s_%u_qd%u_%s", pat, size >> 10,
					 depths[dd], e2e_mode_key[m]);
				r->unit = "ops/s";
				mr[m] = r;
				r->med = r->min = r->max = NAN;
				if (m == E2E_RAM && !e2e_ram)
					continue; /* a guest without the RAM transport */
				fprintf(stderr, "  %s\n", r->name);
				/* Whole seconds (the guest's unit), and each run sets
				 * up a device: --quick runs once, a full run thrice. */
				unsigned reps = b->quick ? 1 : b->reps > 3 ? 3 : b->reps;
				for (unsigned k = 0; k < reps; k++)
					if (e2e_run(b, m, depths[dd], seq, size, b->quick ? 1 : 2,
						    &iops[ok], &mc[ok]))
						ok++;
				if (!ok)
					continue;
				r->maps = median(mc, ok);
				r->med = median(iops, ok);
				r->min = iops[0];
				r->max = iops[ok - 1];
				r->mbs = r->med * size / 1e6;
			}
			/* persistent against transient, as before; every mode against RAM */
			mr[E2E_PERSISTENT]->base = mr[E2E_TRANSIENT]->key;
			mr[E2E_PERSISTENT]->ratio = mr[E2E_PERSISTENT]->med / mr[E2E_TRANSIENT]->med;
			for (unsigned m = 0; m < E2E_MODES; m++) {
				mr[m]->ram_base = mr[E2E_RAM]->key;
				mr[m]->ram_ratio = mr[m]->med / mr[E2E_RAM]->med;
			}
		}
	}
	bench_e2e_copy(b);
	bench_e2e_depths(b);
	unlink(img);
}

/* ---- 6. Xen calls against the kernel's ----------------------------------------------- */

/*
 * What one grant map or one grant copy costs next to what the kernel does
 * for plain shared memory: gm_gnttab_map + gm_gnttab_unmap of one page
 * against mmap + munmap of one page of a memfd, and gm_gnttab_copy of
 * 512 B against a memcpy of 4 KiB.  All four by the wall clock: on the
 * emulated Xen the grant calls may involve other processes.
 */
enum xmode { X_MMAP, X_MAP, X_MEMCPY, X_COPY, X_COUNT };

struct xctx {
	struct bench *b;
	enum xmode mode;
	int memfd;
	unsigned char *src, *dst;
};

static void op_xen(void *p, uint64_t n)
{
	struct xctx *c = p;
	struct bench *b = c->b;
	gm_gref ref = b->pool[RUN_FIRST];
	struct gm_copy_seg seg;
	int err = 0;

	for (uint64_t k = 0; k < n; k++) {
		void *q;

		switch (c->mode) {
		case X_MMAP:
			q = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c->memfd, 0);
			if (q == MAP_FAILED)
				die("mmap of a memfd page: %s", strerror(errno));
			use_ptr(q);
			munmap(q, PAGE);
			break;
		case X_MAP:
			q = gm_gnttab_map(b->g0, 1, b->granter, &ref, GM_PROT_RW, &err);
			if (!q)
				die("gm_gnttab_map: %s", gm_strerror(err));
			use_ptr(q);
			err = gm_gnttab_unmap(b->g0, q, 1);
			if (err)
				die("gm_gnttab_unmap: %s", gm_strerror(err));
			raw_map_calls++;
			raw_unmap_calls++;
			raw_pages++;
			break;
		case X_MEMCPY:
			memcpy(c->dst, c->src, PAGE);
			use_ptr(c->dst);
			break;
		case X_COPY:
			memset(&seg, 0, sizeof(seg));
			seg.flags = GM_COPY_SOURCE_GREF;
			seg.source.foreign.ref = ref;
			seg.source.foreign.domid = b->granter;
			seg.dest.virt = c->dst;
			seg.len = 512;
			err = gm_gnttab_copy(b->g0, 1, &seg);
			if (!err)
				err = gm_gntst_errno(seg.status);
			if (err)
				die("gm_gnttab_copy of 512 B: %s", gm_strerror(err));
			use_ptr(c->dst);
			break;
		case X_COUNT:
			break;
		}
	}
}

static void bench_xen(struct bench *b)
{
	static const char *const key[X_COUNT] = {"memfd_mmap_munmap", "gnttab_map_unmap",
						 "memcpy_4096_wall", "gnttab_copy_512"};
	static const char *const name[X_COUNT] = {
		"mmap + munmap of one memfd page (kernel)",
		"gm_gnttab_map + gm_gnttab_unmap of one page",
		"memcpy of 4 KiB",
		"gm_gnttab_copy of 512 B (one segment)",
	};
	static const enum xmode base[X_COUNT] = {X_COUNT, X_MMAP, X_COUNT, X_MEMCPY};
	struct xctx c = {.b = b};

	c.memfd = memfd_create("grantmem-bench", MFD_CLOEXEC);
	c.src = aligned_alloc(PAGE, PAGE);
	c.dst = aligned_alloc(PAGE, PAGE);
	if (c.memfd < 0 || ftruncate(c.memfd, PAGE) < 0 || !c.src || !c.dst)
		die("memfd: %s", strerror(errno));
	memset(c.src, 7, PAGE);
	memset(c.dst, 0, PAGE);
	for (unsigned m = 0; m < X_COUNT; m++) {
		struct row *r = row_new("xen", key[m], "%s", name[m]);

		c.mode = (enum xmode)m;
		fprintf(stderr, "  %s\n", r->name);
		measure(b, r, op_xen, &c, NULL, false);
		if (m != X_MAP)
			r->maps = r->unmaps = r->pages = 0;
		if (base[m] != X_COUNT)
			row_ratio(r, row_find(key[base[m]])->key, NULL);
	}
	close(c.memfd);
	free(c.src);
	free(c.dst);
}

/* ---- 7. network (tools/grantmem-netguest + tools/grantmem-net) ------------------------- */

/*
 * grantmem-net on a tap of its own (root and /dev/net/tun needed), served
 * to grantmem-netguest --blast: tx sends frames of a size for a while (to
 * a MAC nobody has: the kernel drops them as soon as it sees them), rx
 * counts the frames that arrive while this process injects them into the
 * tap through a packet socket as fast as it takes them.  Transient and
 * persistent grants on the emulated Xen, and grant copy (--data copy,
 * transient grants: nothing mapped), against the same backend on plain
 * shared RAM (its memfd transport).  packets/s, and MB/s of frame bytes.
 */
enum { NET_TX, NET_RX };

static bool net_available(struct bench *b)
{
	static const char *const tools[] = {"grantmem-netguest", "grantmem-net", "grantmem-vdev"};
	char path[4200];

	if (b->real || !b->sock[0] || geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK))
		return false;
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", b->tools_dir, tools[i]);
		if (access(path, X_OK) != 0)
			return false;
	}
	return true;
}

/* Bring interface @name up; its index, or -1. */
static int net_up(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), idx = -1;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) == 0 && ioctl(s, SIOCGIFINDEX, &ifr) == 0)
			idx = ifr.ifr_ifindex;
	}
	close(s);
	return idx;
}

/* The rx source: @len-byte frames for the guest's MAC into tap @idx, until killed. */
static void net_inject(int idx, unsigned len)
{
	static unsigned char f[1514];
	struct sockaddr_ll sa = {.sll_family = AF_PACKET, .sll_ifindex = idx, .sll_halen = 6};
	struct mmsghdr m[32];
	struct iovec v = {f, len};
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (s < 0)
		_exit(1);
	memcpy(f, (const unsigned char[]){0x02, 0x67, 0x6d, 0, 0, 1}, 6);
	memcpy(f + 6, (const unsigned char[]){0x02, 0, 0, 0, 0, 0xaa}, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memset(m, 0, sizeof(m));
	for (unsigned i = 0; i < 32; i++) {
		m[i].msg_hdr.msg_name = &sa;
		m[i].msg_hdr.msg_namelen = sizeof(sa);
		m[i].msg_hdr.msg_iov = &v;
		m[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;)
		if (sendmmsg(s, m, 32, 0) < 0 && errno != ENOBUFS && errno != EAGAIN)
			usleep(100);
}

/* One guest run against a fresh backend; packets/s. */
static bool net_run(struct bench *b, enum e2e_mode mode, int dir, unsigned frame, unsigned secs,
		    double *pps)
{
	static unsigned next_fe = E2E_FIRST_FRONTEND + 200;
	unsigned fe = next_fe++;
	char cmd[4600], line[1024], sock[160], guest_to[200], tap[16], sys[64];
	const char *d = b->tools_dir;
	pid_t be, inj = -1;
	bool ok = false;
	int idx = -1;

	snprintf(tap, sizeof(tap), "gmb%u", (unsigned)getpid() % 100000);
	if (mode == E2E_RAM) {
		snprintf(sock, sizeof(sock), "%s/net-%u.sock", b->dir, fe);
		snprintf(cmd, sizeof(cmd),
			 "exec '%s/grantmem-net' --transport ram --socket '%s' --tap %s "
			 ">/dev/null 2>&1", d, sock, tap);
		snprintf(guest_to, sizeof(guest_to), "--transport ram --socket '%s'", sock);
	} else {
		snprintf(cmd, sizeof(cmd),
			 "'%s/grantmem-vdev' add --xen emu:%s --backend-domid %u --frontend-domid %u",
			 d, b->sock, E2E_BACKEND, fe);
		if (run_quiet(cmd) != 0)
			return false;
		snprintf(cmd, sizeof(cmd),
			 "exec '%s/grantmem-net' --tap %s --xen emu:%s,domid=%u --frontend-domid %u "
			 "%s >/dev/null 2>&1", d, tap, b->sock, E2E_BACKEND, fe,
			 mode == E2E_PERSISTENT ? "--persistent" : mode == E2E_COPY ? "--data copy" : "");
		snprintf(guest_to, sizeof(guest_to), "--xen emu:%s,domid=%u,ram=256m", b->sock, fe);
	}
	fflush(NULL);
	be = fork();
	if (be == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (be < 0)
		return false;
	snprintf(sys, sizeof(sys), "/sys/class/net/%s", tap);
	for (int i = 0; i < 200 && access(sys, F_OK); i++)
		usleep(25000);
	idx = net_up(tap);
	if (idx > 0 && dir == NET_RX && (inj = fork()) == 0)
		net_inject(idx, frame);
	if (idx > 0) {
		snprintf(cmd, sizeof(cmd),
			 "'%s/grantmem-netguest' %s --blast %s --frame %u --seconds %u --quiet 2>&1",
			 d, guest_to, dir == NET_TX ? "tx" : "rx", frame, secs);
		FILE *f = popen(cmd, "r");
		while (f && fgets(line, sizeof(line), f)) {
			if (strncmp(line, "summary:", 8))
				continue;
			*pps = summary_field(line, "blast_pps");
			ok = !isnan(*pps) && summary_field(line, "errors") == 0;
		}
		if (f)
			ok &= pclose(f) == 0;
	}
	if (inj > 0) {
		kill(inj, SIGKILL);
		waitpid(inj, NULL, 0);
	}
	kill(be, SIGTERM);
	waitpid(be, NULL, 0);
	if (mode != E2E_RAM) {
		snprintf(cmd, sizeof(cmd),
			 "'%s/grantmem-vdev' remove --xen emu:%s --backend-domid %u --frontend-domid %u",
			 d, b->sock, E2E_BACKEND, fe);
		run_quiet(cmd);
	}
	return ok;
}

static void bench_net(struct bench *b)
{
	static const unsigned frames[] = {64, 1500};

	if (!net_available(b)) {
		struct row *r = row_new("net", "net", "grantmem-netguest + grantmem-net");
		r->med = r->min = r->max = NAN;
		return;
	}
	for (unsigned fi = 0; fi < 2; fi++)
		for (int dir = NET_TX; dir <= NET_RX; dir++) {
			struct row *mr[E2E_MODES + 1];

			for (unsigned m = 0; m <= E2E_COPY; m++) {
				double pps[16];
				unsigned ok = 0, reps = b->quick ? 1 : b->reps > 3 ? 3 : b->reps;
				struct row *r = row_new("net", "", "%s %4u B frames, %s",
							dir == NET_TX ? "tx" : "rx", frames[fi],
							m == E2E_COPY ? "copy" : e2e_mode_name[m]);

				snprintf(r->key, sizeof(r->key), "net_%s_%u_%s",
					 dir == NET_TX ? "tx" : "rx", frames[fi],
					 m == E2E_COPY ? "copy" : e2e_mode_key[m]);
				r->unit = "packets/s";
				mr[m] = r;
				r->med = r->min = r->max = NAN;
				fprintf(stderr, "  %s\n", r->name);
				for (unsigned k = 0; k < reps; k++)
					if (net_run(b, m, dir, frames[fi], b->quick ? 1 : 2, &pps[ok]))
						ok++;
				if (!ok)
					continue;
				r->med = median(pps, ok);
				r->min = pps[0];
				r->max = pps[ok - 1];
				r->mbs = r->med * frames[fi] / 1e6;
			}
			mr[E2E_PERSISTENT]->base = mr[E2E_TRANSIENT]->key;
			mr[E2E_PERSISTENT]->ratio = mr[E2E_PERSISTENT]->med / mr[E2E_TRANSIENT]->med;
			mr[E2E_COPY]->base = mr[E2E_TRANSIENT]->key;
			mr[E2E_COPY]->ratio = mr[E2E_COPY]->med / mr[E2E_TRANSIENT]->med;
			for (unsigned m = 0; m <= E2E_COPY; m++) {
				mr[m]->ram_base = mr[E2E_RAM]->key;
				mr[m]->ram_ratio = mr[m]->med / mr[E2E_RAM]->med;
			}
		}
}

/* ---- setup and teardown -------------------------------------------------------------- */

static void grant_space(struct bench *b, gm_gnttab **g, gm_grant_cache **c, gm_region **r,
			gm_space **s, enum gm_grant_policy pol)
{
	int ret;

	if ((ret = gm_gnttab_open(b->x, g)) || (ret = gm_grant_cache_new(*g, NULL, c)) ||
	    (ret = gm_grant_region_new(*c, b->granter, pol, r)) || (ret = gm_space_new(s)) ||
	    (ret = gm_space_add(*s, GM_GRANT_BASE, *r)))
		die("setting up a grant space: %s", gm_strerror(ret));
}

static void grant_space_free(gm_gnttab *g, gm_grant_cache *c, gm_region *r, gm_space *s)
{
	gm_space_free(s);
	gm_region_free(r);
	gm_grant_cache_free(c);
	gm_gnttab_close(g);
}

static void setup(struct bench *b, const char *spec, int fd)
{
	int ret;

	if ((ret = gm_xen_open(spec, &b->x)))
		die("opening the world %s: %s", spec, gm_strerror(ret));
	if ((ret = gm_xen_self_domid(b->x, &b->self)))
		die("self domid: %s", gm_strerror(ret));
	for (unsigned k = 0; k < POOL_CHUNKS; k++) {
		struct greq q = {.op = OP_SHARE, .to = b->self};
		struct grep p;
		if (sp_send(fd, &q, sizeof(q)) || sp_recv(fd, &p, sizeof(p)))
			die("the granter went away");
		if (p.ret)
			die("sharing %u pages: %s", CHUNK, gm_strerror(p.ret));
		memcpy(&b->pool[k * CHUNK], p.refs, sizeof(p.refs));
	}
	/* The strategy rows map the run as one batch: refs must be a run. */
	for (unsigned i = 1; i < RUN_PAGES; i++)
		if (b->pool[RUN_FIRST + i] != b->pool[RUN_FIRST] + i)
			die("the granter's refs are not consecutive");
	if ((ret = gm_gnttab_open(b->x, &b->g0)))
		die("gm_gnttab_open: %s", gm_strerror(ret));
	grant_space(b, &b->gp, &b->cp, &b->rp, &b->sp, GM_GRANT_PERSISTENT);
	grant_space(b, &b->gt, &b->ct, &b->rt, &b->st, GM_GRANT_TRANSIENT);
	grant_space(b, &b->gb, &b->cb, &b->rb, &b->sb, GM_GRANT_PERSISTENT);
	b->ram_src = aligned_alloc(PAGE, (size_t)RUN_PAGES * PAGE);
	b->ram_dst = aligned_alloc(PAGE, (size_t)RUN_PAGES * PAGE);
	if (!b->ram_src || !b->ram_dst)
		die("out of memory");
	memset(b->ram_src, 7, (size_t)RUN_PAGES * PAGE);
	memset(b->ram_dst, 8, (size_t)RUN_PAGES * PAGE);
	if ((ret = gm_ram_region_new(b->ram_src, (size_t)RUN_PAGES * PAGE, GM_PROT_RW,
				     &b->ram_region)) ||
	    (ret = gm_space_new(&b->ram_space)) || (ret = gm_space_add(b->ram_space, 0, b->ram_region)))
		die("RAM space: %s", gm_strerror(ret));
}

static void teardown(struct bench *b)
{
	gm_space_free(b->ram_space);
	gm_region_free(b->ram_region);
	free(b->ram_src);
	free(b->ram_dst);
	grant_space_free(b->gb, b->cb, b->rb, b->sb);
	grant_space_free(b->gt, b->ct, b->rt, b->st);
	grant_space_free(b->gp, b->cp, b->rp, b->sp);
	gm_gnttab_close(b->g0);
	gm_xen_close(b->x);
}

/* ---- output -------------------------------------------------------------------------- */

static void machine(char *cpu, size_t len, long *cores)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(cpu, len, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');
		if (!strncmp(line, "model name", 10) && c) {
			c += 1 + strspn(c + 1, " \t");
			c[strcspn(c, "\n")] = 0;
			snprintf(cpu, len, "%s", c);
			break;
		}
	}
	if (f)
		fclose(f);
	*cores = sysconf(_SC_NPROCESSORS_ONLN);
}

static void fmt_num(char *s, size_t len, double v)
{
	if (isnan(v))
		snprintf(s, len, "-");
	else if (v >= 1e6)
		snprintf(s, len, "%.3gM", v / 1e6);
	else if (v >= 1e4)
		snprintf(s, len, "%.0f", v);
	else if (v >= 100)
		snprintf(s, len, "%.0f", v);
	else if (v >= 10)
		snprintf(s, len, "%.1f", v);
	else
		snprintf(s, len, "%.2f", v);
}

static void fmt_ratio(char *s, size_t len, double v, const char *base)
{
	if (isnan(v) || !base)
		snprintf(s, len, "-");
	else
		snprintf(s, len, "%.3gx %s", v, base);
}

static void fmt_calls(char *s, size_t len, const struct row *r)
{
	if (isnan(r->maps))
		snprintf(s, len, "-");
	else if (isnan(r->unmaps))
		snprintf(s, len, "%.2f map", r->maps);
	else
		snprintf(s, len, "%.2f/%.2f/%.2f", r->maps, r->unmaps, r->pages);
}

struct summary {
	double hit_ns, ram_ns, mpa512, cached512, memcpy4k, bytes4k;
	double maps_req, unmaps_req, pmaps_req, punmaps_req, scale8, scale8_wall;
	double map_unmap, mmap_munmap, copy512, memcpy4k_wall;
	double tmaps_qd32; /* end to end: transient map calls per request at depth 32 */
	double scale8_own, bytes64, memcpy64; /* 8 threads on their own entries; 64 B reads */
	/* end to end, random 4 KiB: IOPS ratios; the copy/map crossover (bytes) */
	double t_vs_p_qd32, p_vs_ram_qd32, p_vs_ram_qd1, copy_vs_t_qd32, crossover;
	int bar[8]; /* 1 pass, 0 miss, -1 not measured */
};

static const char *verdict(int bar)
{
	return bar < 0 ? "n/a" : bar ? "PASS" : "MISS";
}

static const char *jbool(int bar)
{
	return bar < 0 ? "null" : bar ? "true" : "false";
}

/*
 * The end-to-end rows: IOPS and MB/s (wall clock), each mode's ratio to
 * plain shared RAM at the same point (the same for IOPS and MB/s: every
 * request moves the same bytes), persistent against transient, map calls
 * per request.
 */
static void print_e2e(FILE *out, const char *group)
{
	bool net = !strcmp(group, "net");

	fprintf(out, "  %-46s %9s %9s %17s %-20s %-36s %s\n", "", net ? "packets/s" : "IOPS", "MB/s",
		net ? "min-max packets/s" : "min-max IOPS", net ? "x RAM" : "x RAM (IOPS, MB/s)",
		"ratio", net ? "" : "calls");
	for (unsigned i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		char med[32], mbs[32], mn[32], mx[32], mm[72], xram[64], rat[96], calls[64];

		if (strcmp(r->group, group))
			continue;
		if (net && !strcmp(r->key, "net")) {
			fprintf(out, "  %-46s not available (emulated world, root, /dev/net/tun, "
				"grantmem-netguest, grantmem-net, grantmem-vdev built)\n", r->name);
			continue;
		}
		if (!strcmp(r->key, "e2e")) {
			fprintf(out, "  %-46s not available (emulated world, with "
				"grantmem-guest --depth, grantmem-blk, grantmem-vdev built)\n",
				r->name);
			continue;
		}
		fmt_num(med, sizeof(med), r->med);
		fmt_num(mbs, sizeof(mbs), r->mbs);
		fmt_num(mn, sizeof(mn), r->min);
		fmt_num(mx, sizeof(mx), r->max);
		snprintf(mm, sizeof(mm), "%s-%s", mn, mx);
		if (isnan(r->ram_ratio))
			snprintf(xram, sizeof(xram), "-");
		else if (r->ram_base && !strcmp(r->ram_base, r->key))
			snprintf(xram, sizeof(xram), "1 (baseline)");
		else
			snprintf(xram, sizeof(xram), "%.3gx, %.3gx", r->ram_ratio, r->ram_ratio);
		fmt_ratio(rat, sizeof(rat), r->ratio, r->base);
		fmt_calls(calls, sizeof(calls), r);
		fprintf(out, "  %-46s %9s %9s %17s %-20s %-36s %s\n", r->name, med, mbs, mm, xram, rat,
			calls);
	}
}

static bool wanted(const char *only, const char *g);

/*
 * One bar: its verdict, what it asks (@what, printed as it is)
 * and the measured figures (@fmt), or "not run" when its rows were not
 * measured (@bar < 0: their group did not run, or failed).
 */
static void bar_line(FILE *out, int bar, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void bar_line(FILE *out, int bar, const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "  %-4s ", verdict(bar));
	fputs(what, out);
	if (bar < 0) {
		fprintf(out, " not run\n");
		return;
	}
	fputc(' ', out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

static void print_table(FILE *out, struct bench *b, const struct summary *s, const char *cpu, long cores)
{
	static const char *const titles[][2] = {
		{"translation", "1. Translation: gm_map + gm_unmap of 64 B, round-robin (ratio: x RAM)"},
		{"strategy", "2. Access strategies on granted memory (ratio: x memcpy on RAM; x cached)"},
		{"batching", "3. Batching: one request of N scattered pages, map + unmap (ratio: x per-descriptor gnttab)"},
		{"scaling", "4. Scaling: threads hitting shared entries (ops/s per thread per CPU-second; ratio: x 1 thread)"},
		{"e2e", "5. End to end: grantmem-guest -> grantmem-blk (IOPS, MB/s; x RAM: same backend, plain shared RAM)"},
		{"xen", "6. Xen calls against the kernel's (ratio: x mmap+munmap of a memfd page; x memcpy of 4 KiB)"},
		{"net", "7. Network: grantmem-netguest -> grantmem-net -> tap (packets/s, MB/s; x RAM: same backend, plain shared RAM)"},
	};
	struct utsname u;
	char la[64] = "?";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fgets(la, sizeof(la), f))
			la[strcspn(la, "\n")] = 0;
		fclose(f);
	}
	uname(&u);
	fprintf(out, "grantmem-bench %s\n", PACKAGE_VERSION);
	fprintf(out, "machine: %s, %ld cores online, Linux %s, load average %s\n", cpu, cores,
	       u.release, la);
	fprintf(out, "world:   %s; median of %u repetitions of ~%.0f ms each (min-max)%s\n",
	       b->real ? "real Xen (dom0 granting to itself)" : "emulated Xen (forked guest domain)",
	       b->reps, b->rep_s * 1e3, b->quick ? "; --quick" : "");
	fprintf(out, "calls:   map/unmap/pages-mapped per operation, from the cache's counters "
	       "(raw gnttab rows: the benchmark's own calls)\n");
	fprintf(out, "clock:   cpu = this thread's CPU time (work that stays in the thread: "
		"immune to other load on the machine);\n"
		"         wall = elapsed time (work that calls Xen or the emulated hub, "
		"partly done by other processes)\n");
	for (unsigned g = 0; g < sizeof(titles) / sizeof(titles[0]); g++) {
		fprintf(out, "\n%s\n", titles[g][1]);
		if (!wanted(b->only, titles[g][0])) {
			fprintf(out, "  not run (--only %s)\n", b->only);
			continue;
		}
		if (!strcmp(titles[g][0], "e2e") || !strcmp(titles[g][0], "net")) {
			print_e2e(out, titles[g][0]);
			continue;
		}
		fprintf(out, "  %-58s %10s %5s %21s %-34s %s\n", "", "median", "clock", "min-max",
			"ratio", "calls");
		for (unsigned i = 0; i < nrows; i++) {
			const struct row *r = &rows[i];
			char med[32], mn[32], mx[32], rat[96], rat2[64], calls[64], mm[72];

			if (strcmp(r->group, titles[g][0]))
				continue;
			if (!strcmp(r->key, "e2e")) {
				fprintf(out, "  %-58s not available (emulated world, with "
					"grantmem-guest --depth, grantmem-blk, grantmem-vdev built)\n",
					r->name);
				continue;
			}
			fmt_num(med, sizeof(med), r->med);
			fmt_num(mn, sizeof(mn), r->min);
			fmt_num(mx, sizeof(mx), r->max);
			snprintf(mm, sizeof(mm), "%s-%s", mn, mx);
			fmt_ratio(rat, sizeof(rat), r->ratio, r->base);
			if (!isnan(r->ratio2)) {
				fmt_ratio(rat2, sizeof(rat2), r->ratio2, "cached");
				size_t l = strlen(rat);
				snprintf(rat + l, sizeof(rat) - l, ", %s", rat2);
			}
			fmt_calls(calls, sizeof(calls), r);
			fprintf(out, "  %-58s %4s %5s %5s %21s %-34s %s\n", r->name, med, r->unit,
				r->cpu ? "cpu" : "wall", mm, rat, calls);
			if (r->threads) {
				char w[32];
				fmt_num(w, sizeof(w), r->wall_ops);
				fprintf(out, "  %-58s %10s %21s %.3gx 1 thread per thread (wall)\n",
				       "    wall clock, all threads", w, "", r->wall_ratio);
			}
		}
	}
	if (!isnan(s->scale8_wall))
		fprintf(out, "\nscaling_8t_per_thread_ratio uses ops per thread-CPU-second "
			"(CLOCK_THREAD_CPUTIME_ID): with %ld cores, 8 threads share the CPUs, so "
			"wall-clock\nper-thread throughput falls to %ld/8 of one thread whatever the "
			"library does; CPU time shows only the cost of contention (wall: %.2fx).\n",
			cores, cores, s->scale8_wall);
	fprintf(out, "\nBars (the performance targets, bench/README.md):\n");
	bar_line(out, s->bar[0], "cache-hit translation within 2x of a RAM lookup:  ",
		 "%.1f ns vs %.1f ns (%.2fx)", s->hit_ns, s->ram_ns, s->hit_ns / s->ram_ns);
	bar_line(out, s->bar[1], ">= 100x cheaper than map-per-access at 512 B:    ",
		 "%.0f ns vs %.1f ns (%.0fx)", s->mpa512, s->cached512, s->mpa512 / s->cached512);
	bar_line(out, s->bar[2], "bytes API on mapped 4 KiB within 10% of memcpy: ",
		 "%.1f ns vs %.1f ns (%+.1f%%)", s->bytes4k, s->memcpy4k,
		 (s->bytes4k / s->memcpy4k - 1) * 100);
	bar_line(out, s->bar[3], "one map + one unmap per request, any N; 0 when persistent:",
		 "%.2f map, %.2f unmap (worst N); persistent %.2f/%.2f", s->maps_req,
		 s->unmaps_req, s->pmaps_req, s->punmaps_req);
	bar_line(out, s->bar[4], "8 threads per thread >= 70% of 1 thread (CPU time):",
		 "%.0f%%", s->scale8 * 100);
	bar_line(out, s->bar[5], "emulated map+unmap within 3x of a memfd mmap+munmap:",
		 "%.0f ns vs %.0f ns (%.2fx)", s->map_unmap, s->mmap_munmap,
		 s->map_unmap / s->mmap_munmap);
	bar_line(out, s->bar[6], "emulated grant copy of 512 B within 20x of a 4 KiB memcpy:",
		 "%.0f ns vs %.1f ns (%.1fx)", s->copy512, s->memcpy4k_wall,
		 s->copy512 / s->memcpy4k_wall);
	bar_line(out, s->bar[7], "transient grants end to end, depth 32: <= 0.25 map calls per request:",
		 "%.3f", s->tmaps_qd32);
	if (!isnan(s->t_vs_p_qd32 + s->p_vs_ram_qd32 + s->p_vs_ram_qd1))
		fprintf(out, "\nEnd to end, random 4 KiB (IOPS): transient %.3fx persistent at depth "
			"32; persistent %.3fx plain RAM at depth 32, %.3fx at depth 1\n",
			s->t_vs_p_qd32, s->p_vs_ram_qd32, s->p_vs_ram_qd1);
	if (!isnan(s->crossover))
		fprintf(out, "Grant copy against mapping (transient, depth 32): copy %.3fx map at "
			"4 KiB; copy wins up to %.0f KiB (grantmem-blk --data auto)\n",
			s->copy_vs_t_qd32, s->crossover / 1024);
}

static void json_num(FILE *f, const char *key, double v, bool comma)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "\"%s\":null%s", key, comma ? "," : "");
	else
		fprintf(f, "\"%s\":%.6g%s", key, v, comma ? "," : "");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/*
 * summary.e2e_ram_baseline: per end-to-end point, plain shared RAM's IOPS
 * and MB/s and each grant mode's ratio to them.
 */
static void json_e2e_summary(FILE *f)
{
	static const char *const pts[] = {"rand_4_qd1", "rand_4_qd32", "seq_128_qd1", "seq_128_qd32"};
	bool first = true;

	fprintf(f, " \"e2e_ram_baseline\":{");
	for (unsigned i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
		char k[48];
		const struct row *ram, *r;

		snprintf(k, sizeof(k), "e2e_%s_ram", pts[i]);
		if (!(ram = row_find(k)))
			continue;
		fprintf(f, "%s\"%s\":{", first ? "" : ",", pts[i]);
		first = false;
		json_num(f, "ram_iops", ram->med, true);
		json_num(f, "ram_mb_per_s", ram->mbs, true);
		for (unsigned m = 0; m < 2; m++) {
			char name[64];

			snprintf(k, sizeof(k), "e2e_%s_%s", pts[i], e2e_mode_key[m]);
			r = row_find(k);
			snprintf(name, sizeof(name), "%s_iops_vs_ram", e2e_mode_key[m]);
			json_num(f, name, r ? r->ram_ratio : NAN, true);
			snprintf(name, sizeof(name), "%s_mb_per_s_vs_ram", e2e_mode_key[m]);
			json_num(f, name, r ? r->ram_ratio : NAN, m == 0);
		}
		fputc('}', f);
	}
	fprintf(f, "}");
}

/* One row per line, so that line tools (the plot script) can read it. */
static void write_json(FILE *f, struct bench *b, const struct summary *s, const char *cpu,
		       long cores)
{
	struct utsname u;

	uname(&u);
	fprintf(f, "{\n\"tool\":\"grantmem-bench\",\"version\":\"%s\",\n", PACKAGE_VERSION);
	fprintf(f, "\"machine\":{\"cpu\":");
	json_str(f, cpu);
	fprintf(f, ",\"cores\":%ld,\"kernel\":", cores);
	json_str(f, u.release);
	fprintf(f, "},\n\"world\":\"%s\",\"quick\":%s,\"reps\":%u,\"rep_seconds\":%.3f,\n",
		b->real ? "real" : "emulated", b->quick ? "true" : "false", b->reps, b->rep_s);
	fprintf(f, "\"summary\":{");
	json_num(f, "hit_ns", s->hit_ns, true);
	json_num(f, "ram_lookup_ns", s->ram_ns, true);
	json_num(f, "map_per_access_ns_512", s->mpa512, true);
	json_num(f, "cached_ns_512", s->cached512, true);
	json_num(f, "memcpy_4k_ns", s->memcpy4k, true);
	json_num(f, "bytes_4k_ns", s->bytes4k, true);
	json_num(f, "map_calls_per_request", s->maps_req, true);
	json_num(f, "unmap_calls_per_request", s->unmaps_req, true);
	json_num(f, "persistent_map_calls_per_request", s->pmaps_req, true);
	json_num(f, "persistent_unmap_calls_per_request", s->punmaps_req, true);
	json_num(f, "scaling_8t_per_thread_ratio", s->scale8, true);
	json_num(f, "scaling_8t_per_thread_ratio_wall", s->scale8_wall, true);
	json_num(f, "emu_map_unmap_ns", s->map_unmap, true);
	json_num(f, "memfd_mmap_munmap_ns", s->mmap_munmap, true);
	json_num(f, "emu_copy_512_ns", s->copy512, true);
	json_num(f, "memcpy_4k_wall_ns", s->memcpy4k_wall, true);
	json_num(f, "transient_map_calls_per_request_qd32", s->tmaps_qd32, true);
	json_num(f, "scaling_8t_disjoint_per_thread_ratio", s->scale8_own, true);
	json_num(f, "bytes_64_ns", s->bytes64, true);
	json_num(f, "memcpy_64_ns", s->memcpy64, true);
	json_num(f, "e2e_rand4k_qd32_transient_vs_persistent", s->t_vs_p_qd32, true);
	json_num(f, "e2e_rand4k_qd32_persistent_vs_ram", s->p_vs_ram_qd32, true);
	json_num(f, "e2e_rand4k_qd1_persistent_vs_ram", s->p_vs_ram_qd1, true);
	json_num(f, "e2e_rand4k_qd32_copy_vs_transient", s->copy_vs_t_qd32, true);
	json_num(f, "data_copy_crossover_bytes", s->crossover, true);
	fprintf(f, "\"scaling_metric\":\"ops per thread-CPU-second (CLOCK_THREAD_CPUTIME_ID)\",\n");
	fprintf(f, " \"bars\":{\"hit_within_2x_ram\":%s,\"map_per_access_100x\":%s,"
		   "\"bytes_4k_within_10pct_memcpy\":%s,\"one_map_unmap_per_request\":%s,"
		   "\"scaling_8t_70pct\":%s,\"emu_map_unmap_within_3x_mmap\":%s,"
		   "\"emu_copy_512_within_20x_memcpy_4k\":%s,"
		   "\"transient_quarter_map_call_qd32\":%s},\n",
		jbool(s->bar[0]), jbool(s->bar[1]),
		jbool(s->bar[2]), jbool(s->bar[3]),
		jbool(s->bar[4]), jbool(s->bar[5]), jbool(s->bar[6]), jbool(s->bar[7]));
	json_e2e_summary(f);
	fprintf(f, "},\n");
	fprintf(f, "\"rows\":[\n");
	for (unsigned i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		fprintf(f, "{\"group\":\"%s\",\"key\":\"%s\",\"name\":", r->group, r->key);
		json_str(f, r->name);
		fprintf(f, ",\"unit\":\"%s\",", r->unit);
		if (r->strategy)
			fprintf(f, "\"strategy\":\"%s\",\"dir\":\"%s\",\"bytes\":%u,", r->strategy,
				r->dir, r->bytes);
		if (r->threads) {
			fprintf(f, "\"threads\":%u,", r->threads);
			json_num(f, "wall_ops_per_s", r->wall_ops, true);
			json_num(f, "wall_per_thread_ratio", r->wall_ratio, true);
		}
		if (r->ram_base) {
			json_num(f, "mb_per_s", r->mbs, true);
			fprintf(f, "\"ram_baseline\":");
			json_str(f, r->ram_base);
			fputc(',', f);
			json_num(f, "ratio_to_ram", r->ram_ratio, true);
			json_num(f, "mb_per_s_ratio_to_ram", r->ram_ratio, true);
		}
		fprintf(f, "\"clock\":\"%s\",", r->cpu ? "cpu" : "wall");
		json_num(f, "median", r->med, true);
		json_num(f, r->cpu ? "wall_median" : "cpu_median", r->other_med, true);
		json_num(f, "min", r->min, true);
		json_num(f, "max", r->max, true);
		fprintf(f, "\"baseline\":");
		if (r->base)
			json_str(f, r->base);
		else
			fputs("null", f);
		fputc(',', f);
		json_num(f, "ratio", r->ratio, true);
		json_num(f, "map_calls_per_op", r->maps, true);
		json_num(f, "unmap_calls_per_op", r->unmaps, true);
		json_num(f, "pages_mapped_per_op", r->pages, false);
		fprintf(f, "}%s\n", i + 1 < nrows ? "," : "");
	}
	fprintf(f, "]\n}\n");
}

static double row_field(const char *key, size_t off)
{
	const struct row *r = row_find(key);

	return r ? *(const double *)((const char *)r + off) : NAN;
}

static void summarize(struct summary *s, bool real)
{
	static const unsigned ns[] = {1, 4, 16, 64};

	s->hit_ns = row_med("grant_hit_1");
	s->ram_ns = row_med("ram_lookup_1");
	s->mpa512 = row_med("map_per_access_read_512");
	s->cached512 = row_med("cached_read_512");
	s->memcpy4k = row_med("memcpy_read_4096");
	s->bytes4k = row_med("cached_read_4096");
	s->maps_req = s->unmaps_req = s->pmaps_req = s->punmaps_req = 0;
	bool exact = true;
	for (unsigned i = 0; i < 4; i++) {
		char k[48];
		snprintf(k, sizeof(k), "map_sg_transient_%u", ns[i]);
		double m = row_field(k, offsetof(struct row, maps));
		double u = row_field(k, offsetof(struct row, unmaps));
		/* fmax ignores NaN: a missing row must not look like a pass. */
		s->maps_req = i ? fmax(s->maps_req, m) : m;
		s->unmaps_req = i ? fmax(s->unmaps_req, u) : u;
		exact &= fabs(m - 1) < 1e-9 && fabs(u - 1) < 1e-9;
		snprintf(k, sizeof(k), "map_sg_persistent_%u", ns[i]);
		m = row_field(k, offsetof(struct row, maps));
		u = row_field(k, offsetof(struct row, unmaps));
		s->pmaps_req = i ? fmax(s->pmaps_req, m) : m;
		s->punmaps_req = i ? fmax(s->punmaps_req, u) : u;
	}
	s->scale8 = row_field("scaling_8t", offsetof(struct row, ratio));
	s->scale8_wall = row_field("scaling_8t", offsetof(struct row, wall_ratio));
	s->map_unmap = row_med("gnttab_map_unmap");
	s->mmap_munmap = row_med("memfd_mmap_munmap");
	s->copy512 = row_med("gnttab_copy_512");
	s->memcpy4k_wall = row_med("memcpy_4096_wall");
	s->tmaps_qd32 = row_field("e2e_rand_4_qd32_transient", offsetof(struct row, maps));
	s->scale8_own = row_field("scaling_8t_disjoint", offsetof(struct row, ratio));
	s->bytes64 = row_med("cached_read_64");
	s->memcpy64 = row_med("memcpy_read_64");
	s->t_vs_p_qd32 = row_med("e2e_rand_4_qd32_transient") / row_med("e2e_rand_4_qd32_persistent");
	s->p_vs_ram_qd32 = row_med("e2e_rand_4_qd32_persistent") / row_med("e2e_rand_4_qd32_ram");
	s->p_vs_ram_qd1 = row_med("e2e_rand_4_qd1_persistent") / row_med("e2e_rand_4_qd1_ram");
	s->copy_vs_t_qd32 = row_field("e2e_rand_4_qd32_copy", offsetof(struct row, ratio));
	s->crossover = copy_crossover;
#define BAR(have, ok) ((have) ? (int)(ok) : -1)
	s->bar[0] = BAR(!isnan(s->hit_ns + s->ram_ns), s->hit_ns <= 2 * s->ram_ns);
	s->bar[1] = BAR(!isnan(s->mpa512 + s->cached512), s->mpa512 >= 100 * s->cached512);
	s->bar[2] = BAR(!isnan(s->bytes4k + s->memcpy4k), s->bytes4k <= 1.10 * s->memcpy4k);
	s->bar[3] = BAR(!isnan(s->maps_req + s->pmaps_req),
			exact && s->pmaps_req == 0 && s->punmaps_req == 0);
	s->bar[4] = BAR(!isnan(s->scale8), s->scale8 >= 0.70);
	/* the emulated Xen's own bars: real Xen's calls are what they are */
	s->bar[5] = BAR(!real && !isnan(s->map_unmap + s->mmap_munmap),
			s->map_unmap <= 3 * s->mmap_munmap);
	s->bar[6] = BAR(!real && !isnan(s->copy512 + s->memcpy4k_wall),
			s->copy512 <= 20 * s->memcpy4k_wall);
	s->bar[7] = BAR(!isnan(s->tmaps_qd32), s->tmaps_qd32 <= 0.25);
#undef BAR
}

/* ---- main ------------------------------------------------------------------------------ */

/* Is group @g in the comma-separated list @only (NULL: everything)? */
static bool wanted(const char *only, const char *g)
{
	size_t n = strlen(g);

	for (const char *p = only; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, g, n) && (p[n] == ',' || !p[n]))
			return true;
	return !only;
}

/* Where the other tools are: next to this program (libtool: above .libs). */
static char *default_tools_dir(void)
{
	static char dir[4096];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	if (n <= 0)
		return strcpy(dir, ".");
	dir[n] = 0;
	char *s = strrchr(dir, '/');
	if (s)
		*s = 0;
	s = strrchr(dir, '/');
	if (s && !strcmp(s, "/.libs"))
		*s = 0;
	return dir;
}

static const char *const group_names[] = {"translation", "strategy", "batching", "scaling",
					    "e2e", "xen", "net", NULL};

static const struct tool_opt opts[] = {
	{"xen", 'x', "WORLD", "emu (default: a hub of its own), emu:SOCKET, or real (dom0 on Xen)"},
	{"quick", 'q', NULL, "short repetitions: under a minute, noisier"},
	{"reps", 'r', "N", "repetitions per row, the median is reported (1 to 15; default 5)"},
	{"json", 'j', "FILE", "also write the results as JSON to FILE (- for stdout: the table\n"
			      "then goes to stderr)"},
	{"tools-dir", 't', "DIR", "where grantmem-guest, grantmem-blk and grantmem-vdev are\n"
				  "(default: next to this program)"},
	{"only", 'o', "GROUP,...", "run only these groups: translation, strategy, batching,\n"
				   "scaling, e2e, xen (default: all)"},
	{NULL, 0, NULL, NULL},
};

static struct tool T = {
	.name = "grantmem-bench",
	.synopsis = "grantmem-bench [--xen emu|emu:SOCKET|real] [--quick] [--reps N]\n"
		    "               [--json FILE|-] [--tools-dir DIR]\n"
		    "               [--only translation,strategy,batching,scaling,e2e,xen]",
	.about = "grantmem against the alternatives, side by side, as ratios.  A missed bar is\n"
		 "reported, never an exit status.  exit status: 0 done, 1 the run could not be\n"
		 "set up, 2 usage error",
	.opts = opts,
};

/* --only: every name must be a group's. */
static void check_only(const char *only)
{
	for (const char *p = only;; p++) {
		size_t n = strcspn(p, ",");
		unsigned g;

		for (g = 0; group_names[g]; g++)
			if (strlen(group_names[g]) == n && !strncmp(p, group_names[g], n))
				break;
		if (!group_names[g])
			tool_usage_error(&T, "--only: unknown group \"%.*s\"; the groups are "
					 "translation, strategy, batching, scaling, e2e and xen", (int)n, p);
		p += n;
		if (!*p)
			return;
	}
}

int main(int argc, char **argv)
{
	static struct bench b;
	const char *spec = "emu", *json = NULL;
	char *dir = b.dir, *sock = b.sock, mspec[160], gspec[192], cpu[256];
	pid_t hub = -1, child;
	int sv[2], c, status;
	FILE *jf = NULL;
	long cores;

	/* "emu:" worlds (--xen emu:...) come from libgrantmem-emu */
	gm_emu_register();

	b.reps = 5;
	while ((c = tool_next(&T, argc, argv)) != -1) {
		switch (c) {
		case 'x':
			spec = optarg;
			break;
		case 'q':
			b.quick = true;
			break;
		case 'r':
			b.reps = (unsigned)tool_num(&T, optarg, 1, 15);
			break;
		case 'j':
			json = optarg;
			break;
		case 't':
			b.tools_dir = optarg;
			break;
		case 'o':
			check_only(optarg);
			b.only = optarg;
			break;
		}
	}
	if (optind != argc)
		tool_usage_error(&T, "unexpected argument \"%s\"", argv[optind]);
	if (strcmp(spec, "emu") && strcmp(spec, "real") && strncmp(spec, "emu:", 4))
		tool_usage_error(&T, "--xen: unknown world \"%s\"; want emu, emu:SOCKET or real",
				 spec);
	/* a JSON file that cannot be written fails now, not after the run */
	if (json && strcmp(json, "-") && !(jf = fopen(json, "w")))
		die("%s: %s", json, strerror(errno));
	if (!b.tools_dir)
		b.tools_dir = default_tools_dir();
	b.rep_s = b.quick ? 0.02 : 0.2;
	b.real = !strcmp(spec, "real");
	signal(SIGPIPE, SIG_IGN);

	if (!strcmp(spec, "emu")) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(b.dir), "%s/gm-bench-XXXXXX",
			 tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
		if (!mkdtemp(dir))
			die("mkdtemp %s: %s", dir, strerror(errno));
		snprintf(sock, sizeof(b.sock), "%s/hub", dir);
		int r = gm_emu_hub_spawn(sock, &hub);
		if (r < 0) {
			rmdir(dir);
			die("spawning the emulated Xen hub: %s", gm_strerror(r));
		}
		snprintf(mspec, sizeof(mspec), "emu:%s", sock);
	} else {
		snprintf(mspec, sizeof(mspec), "%s", spec);
	}
	/* Emulated: the granter is a domain of its own; real Xen: dom0 itself. */
	if (!strncmp(mspec, "emu:", 4))
		snprintf(gspec, sizeof(gspec), "%s,domid=%d,ram=16m", mspec, EMU_GRANTER_DOMID);
	else
		snprintf(gspec, sizeof(gspec), "%s", mspec);

	/* The granter first, before this process maps anything or runs threads. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	fflush(NULL);
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child == 0) {
		close(sv[0]);
		granter(sv[1], gspec);
	}
	close(sv[1]);
	struct grep hello;
	if (sp_recv(sv[0], &hello, sizeof(hello)) || hello.ret)
		die("the granter could not start: %s",
		    gm_strerror(hello.ret ? hello.ret : -EPIPE));
	b.granter = hello.self;
	setup(&b, mspec, sv[0]);
	machine(cpu, sizeof(cpu), &cores);
	fprintf(stderr, "grantmem-bench: %s world, granter domain %u, mapper domain %u\n",
		gm_xen_name(b.x), b.granter, b.self);

	static const struct {
		const char *name;
		void (*fn)(struct bench *b);
	} groups[] = {
		{"translation", bench_translation}, {"strategy", bench_strategies},
		{"batching", bench_batching},       {"scaling", bench_scaling},
		{"e2e", bench_e2e},                 {"xen", bench_xen},
		{"net", bench_net},
	};
	double t0 = now_s();
	for (unsigned i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (!wanted(b.only, groups[i].name))
			continue;
		fprintf(stderr, "%s\n", groups[i].name);
		groups[i].fn(&b);
	}
	fprintf(stderr, "done in %.1f s\n", now_s() - t0);

	struct summary s;
	summarize(&s, b.real);
	/* With the JSON on stdout, the table goes to stderr. */
	print_table(json && !strcmp(json, "-") ? stderr : stdout, &b, &s, cpu, cores);
	if (json) {
		FILE *f = jf ? jf : stdout;

		write_json(f, &b, &s, cpu, cores);
		if (f != stdout && fclose(f))
			die("%s: %s", json, strerror(errno));
	}

	teardown(&b);
	struct greq q = {.op = OP_QUIT};
	sp_send(sv[0], &q, sizeof(q));
	close(sv[0]);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		fprintf(stderr, "grantmem-bench: the granter exited with status %#x\n", status);
	if (hub > 0) {
		gm_emu_hub_stop(hub);
		rmdir(dir);
	}
	return 0;
}
