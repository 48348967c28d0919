/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xen-selfgrant - grant regions and the mapping cache against one Xen world,
 * with dom0 granting pages to itself.
 *
 *   xen-selfgrant [--xen SPEC] [--revoke-timeout SEC]
 *
 * SPEC: "real" (default: Xen itself, run in dom0), "emu" (spawn an emulated
 * Xen hub in a temporary directory) or "emu:<socket>" (a running hub).
 *
 * Two processes.  A forked *granter* shares pages with gm_gntshr to the
 * domain of the *mapper* (dom0 granting to dom0 on real Xen; domain 7 on
 * the emulated world, where each non-zero domain is one process) and does
 * what the mapper asks over a socketpair: share, refill, check contents, end
 * access.  The mapper reaches those pages only through grantmem: a grant
 * region on a mapping cache over gm_gnttab, placed in a gm_space at
 * GM_GRANT_BASE, so every access below uses guest addresses
 * GM_GRANT_ADDR(gref, offset).
 *
 * Each check prints "PASS <name>" or "FAIL <name>: <why>"; other lines are
 * information.  Exit status: 0 when every check passed, 1 otherwise, 2 for a
 * usage error, 77 when the world cannot be opened because it was not built.
 */
#include "config.h"

#include <grantmem/grantmem.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE GM_PAGE_SIZE
#define MAX_SHARE 16
#define MAX_SHARES 16
/* the emulated granter's domain (any domain but 0 works) */
#define EMU_GRANTER_DOMID 7
/* a ref nobody granted, and one beyond any grant table */
#define BAD_REF 60000u
#define HUGE_REF (1u << 30)
/* a domain that does not exist */
#define NO_DOMID 777

static int failures;

static void check(const char *name, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check(const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS %s\n", name);
	} else {
		failures++;
		printf("FAIL %s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	fflush(stdout);
}

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Byte @i of the pattern tagged @seed: offsets are share-relative. */
static unsigned char pat(unsigned seed, size_t i)
{
	uint32_t x = (uint32_t)(i * 2654435761u) ^ (seed * 40503u);

	return (unsigned char)(x ^ (x >> 13) ^ (x >> 24));
}

static void fill(unsigned char *p, size_t n, unsigned seed, size_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(seed, start + i);
}

/* Offset of the first byte that differs from the pattern, or -1. */
static long mismatch(const unsigned char *p, size_t n, unsigned seed, size_t start)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(seed, start + i))
			return (long)i;
	return -1;
}

/* The pattern read as a little- or big-endian integer of @n bytes. */
static uint64_t pat_le(unsigned seed, size_t off, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = v << 8 | pat(seed, off + i);
	return v;
}

static uint64_t pat_be(unsigned seed, size_t off, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | pat(seed, off + i);
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the granter process ------------------------------------------------------ */

enum op { OP_SHARE, OP_CHECK, OP_END, OP_QUIT };

struct req {
	int op;
	unsigned id;       /* CHECK, END: which share */
	unsigned pages;    /* SHARE */
	int writable;      /* SHARE */
	unsigned seed;     /* SHARE: fill; CHECK: expect */
	gm_domid to;       /* SHARE: the grantee */
	uint32_t off, len; /* CHECK: the range, share-relative */
};

struct rep {
	int ret;           /* 0 or a negative errno */
	long bad;          /* CHECK: first differing offset, or -1 */
	unsigned id;       /* SHARE: the share's id */
	gm_domid self;     /* the granter's domain */
	gm_gref refs[MAX_SHARE];
};


struct share {
	unsigned char *va;
	unsigned pages;
	gm_gref refs[MAX_SHARE];
};

static int xfer(int fd, const void *out, size_t olen, void *in, size_t ilen)
{
	if (out && send(fd, out, olen, 0) != (ssize_t)olen)
		return -EPIPE;
	if (in && recv(fd, in, ilen, 0) != (ssize_t)ilen)
		return -EPIPE;
	return 0;
}

/* The forked granter: shares pages and answers the mapper.  Never returns. */
static void granter(int fd, const char *spec)
{
	static struct share shares[MAX_SHARES];
	unsigned nshares = 0;
	gm_gntshr *shr = NULL;
	gm_domid self = 0;
	gm_xen *x = NULL;
	struct req q;
	struct rep p;
	int r;

	memset(&p, 0, sizeof(p));
	if ((r = gm_xen_open(spec, &x)) == 0 && (r = gm_xen_self_domid(x, &self)) == 0)
		r = gm_gntshr_open(x, &shr);
	p.ret = r;
	p.self = self;
	if (xfer(fd, &p, sizeof(p), NULL, 0) < 0 || r < 0)
		_exit(1);
	while (recv(fd, &q, sizeof(q), 0) == (ssize_t)sizeof(q) && q.op != OP_QUIT) {
		struct share *s = q.id < nshares ? &shares[q.id] : NULL;
		int err = 0;

		memset(&p, 0, sizeof(p));
		p.self = self;
		p.bad = -1;
		switch (q.op) {
		case OP_SHARE:
			if (nshares == MAX_SHARES || q.pages == 0 || q.pages > MAX_SHARE) {
				p.ret = -EINVAL;
				break;
			}
			s = &shares[nshares];
			s->va = gm_gntshr_share(shr, q.to, q.pages, s->refs, q.writable, &err);
			if (!s->va) {
				p.ret = err;
				break;
			}
			s->pages = q.pages;
			fill(s->va, (size_t)q.pages * PAGE, q.seed, 0);
			memcpy(p.refs, s->refs, sizeof(p.refs));
			p.id = nshares++;
			break;
		case OP_CHECK:
			if (!s || !s->va || (uint64_t)q.off + q.len > (uint64_t)s->pages * PAGE) {
				p.ret = -EINVAL;
				break;
			}
			p.bad = mismatch(s->va + q.off, q.len, q.seed, q.off);
			break;
		case OP_END:
			/*
			 * End access to every page, then free them.  The
			 * emulated world refuses (-EBUSY) while the mapper
			 * still maps a page; real gntalloc ends access lazily,
			 * once the pages are unshared and nobody maps them.
			 */
			if (!s || !s->va) {
				p.ret = -EINVAL;
				break;
			}
			for (unsigned i = 0; i < s->pages; i++)
				if ((r = gm_gntshr_end_access(shr, s->refs[i])) < 0 && !p.ret)
					p.ret = r;
			if (p.ret == 0) {
				p.ret = gm_gntshr_unshare(shr, s->va, s->pages);
				s->va = NULL;
			}
			break;
		default:
			p.ret = -EINVAL;
		}
		if (xfer(fd, &p, sizeof(p), NULL, 0) < 0)
			break;
	}
	for (unsigned i = 0; i < nshares; i++)
		if (shares[i].va)
			gm_gntshr_unshare(shr, shares[i].va, shares[i].pages);
	gm_gntshr_close(shr);
	gm_xen_close(x);
	_exit(0);
}

/* ---- the mapper: requests to the granter ---------------------------------------- */

struct ctx {
	int fd;                  /* socket to the granter */
	gm_domid self, granter;  /* the two domains */
	gm_xen *x;
	gm_gnttab *g, *g2;       /* g2: the small persistent cache's own handle */
	gm_grant_cache *c, *c2;  /* c: default config; c2: budget of 4 pages */
	gm_space *s, *s2, *s3;   /* transient region; persistent; unknown domain */
	gm_mem *m, *m2, *m3;
};

/* The pages of one share, as the mapper knows them. */
struct sh {
	unsigned id, pages;
	gm_gref refs[MAX_SHARE];
};

static int share(struct ctx *t, unsigned pages, bool writable, unsigned seed, struct sh *out)
{
	struct req q = {.op = OP_SHARE, .pages = pages, .writable = writable, .seed = seed,
			.to = t->self};
	struct rep p;
	int r;

	if ((r = xfer(t->fd, &q, sizeof(q), &p, sizeof(p))) < 0)
		return r;
	if (p.ret < 0)
		return p.ret;
	out->id = p.id;
	out->pages = pages;
	memcpy(out->refs, p.refs, sizeof(out->refs));
	/* a multi-page buffer is a run of consecutive grefs (grant-dma-ops) */
	for (unsigned i = 1; i < pages; i++)
		if (out->refs[i] != out->refs[0] + i)
			return -ERANGE;
	return 0;
}

/* Does the granter see pattern @seed in [off, off + len) of share @sh? */
static bool remote_has(struct ctx *t, const struct sh *sh, unsigned seed, uint32_t off,
		       uint32_t len, char *why, size_t whylen)
{
	struct req q = {.op = OP_CHECK, .id = sh->id, .seed = seed, .off = off, .len = len};
	struct rep p;
	int r = xfer(t->fd, &q, sizeof(q), &p, sizeof(p));

	if (r == 0)
		r = p.ret;
	if (r < 0)
		snprintf(why, whylen, "granter: %s", gm_strerror(r));
	else if (p.bad >= 0)
		snprintf(why, whylen, "granter sees byte %ld differ", (long)off + p.bad);
	return r == 0 && p.bad < 0;
}

static int end_share(struct ctx *t, const struct sh *sh)
{
	struct req q = {.op = OP_END, .id = sh->id};
	struct rep p;
	int r = xfer(t->fd, &q, sizeof(q), &p, sizeof(p));

	return r < 0 ? r : p.ret;
}

/* Guest address of byte @off of share @sh (its refs are consecutive). */
static uint64_t gaddr(const struct sh *sh, size_t off)
{
	return GM_GRANT_ADDR(sh->refs[0], 0) + off;
}

static struct gm_grant_stats stats(gm_grant_cache *c)
{
	struct gm_grant_stats st = {.size = sizeof(st)};

	gm_grant_cache_stats(c, &st);
	return st;
}

#define DELTA(a, b, f) ((long long)((b).f - (a).f))

/* ---- checks --------------------------------------------------------------------- */

/* Reads through the bytes API: small (grant copy), large (mapped), typed. */
static void check_bytes_read(struct ctx *t, const struct sh *a)
{
	size_t size = (size_t)a->pages * PAGE;
	unsigned char *buf = malloc(size);
	struct gm_grant_stats st = {.size = sizeof(st)};
	long bad = -2;
	int r;

	if (!buf) {
		check("bytes-read", false, "out of memory");
		return;
	}
	/* 3 pages from inside the first: two page boundaries */
	memset(buf, 0, size);
	r = gm_read(t->m, gaddr(a, 100), buf, 3 * PAGE);
	if (r == 0)
		bad = mismatch(buf, 3 * PAGE, 1, 100);
	check("bytes-read", r == 0 && bad < 0, "%s, byte %ld", gm_strerror(r), bad);

	/* the whole share at once: above the copy threshold */
	memset(buf, 0, size);
	r = gm_read(t->m, gaddr(a, 0), buf, size);
	bad = r == 0 ? mismatch(buf, size, 1, 0) : -2;
	check("bytes-read-large", r == 0 && bad < 0, "%s, byte %ld", gm_strerror(r), bad);
	free(buf);

	{
		uint16_t v16 = 0;
		uint32_t v32 = 0;
		uint64_t v64 = 0, b64 = 0;
		uint32_t b32 = 0;
		int r1 = gm_read_le16(t->m, gaddr(a, 3 * PAGE - 1), &v16);
		int r2 = gm_read_le32(t->m, gaddr(a, PAGE - 2), &v32);
		int r3 = gm_read_le64(t->m, gaddr(a, 2 * PAGE - 3), &v64);
		int r4 = gm_read_be32(t->m, gaddr(a, 4 * PAGE - 1), &b32);
		int r5 = gm_read_be64(t->m, gaddr(a, 777), &b64);

		check("bytes-read-typed",
		      !r1 && !r2 && !r3 && !r4 && !r5 && v16 == pat_le(1, 3 * PAGE - 1, 2) &&
			      v32 == pat_le(1, PAGE - 2, 4) && v64 == pat_le(1, 2 * PAGE - 3, 8) &&
			      b32 == pat_be(1, 4 * PAGE - 1, 4) && b64 == pat_be(1, 777, 8),
		      "errors %d %d %d %d %d, le16 %#x le32 %#" PRIx32 " le64 %#" PRIx64
		      " be32 %#" PRIx32 " be64 %#" PRIx64,
		      r1, r2, r3, r4, r5, v16, v32, v64, b32, b64);
	}
	st = stats(t->c);
	check("bytes-read-released", st.mapped_pages == 0, "%u page(s) still mapped",
	      st.mapped_pages);
}

/* Writes through the bytes API, checked by the granter. */
static void check_bytes_write(struct ctx *t, const struct sh *a)
{
	size_t size = (size_t)a->pages * PAGE;
	unsigned char *buf = malloc(size);
	struct gm_grant_stats st = {.size = sizeof(st)};
	char why[128] = "";
	int r = -ENOMEM;

	if (buf) {
		/* seed 2 over the share: bulk pieces around typed stores that
		 * straddle page ends; the last piece is above the copy threshold */
		uint64_t g = gaddr(a, 0);
		const size_t P = PAGE;

		fill(buf, size, 2, 0);
		if ((r = gm_write(t->m, g, buf, P - 2)) == 0 &&
		    (r = gm_write_le32(t->m, g + P - 2, (uint32_t)pat_le(2, P - 2, 4))) == 0 &&
		    (r = gm_write(t->m, g + P + 2, buf + P + 2, P - 5)) == 0 &&
		    (r = gm_write_be64(t->m, g + 2 * P - 3, pat_be(2, 2 * P - 3, 8))) == 0 &&
		    (r = gm_write_le16(t->m, g + 2 * P + 5, (uint16_t)pat_le(2, 2 * P + 5, 2))) == 0 &&
		    (r = gm_write_be32(t->m, g + 2 * P + 7, (uint32_t)pat_be(2, 2 * P + 7, 4))) == 0)
			r = gm_write(t->m, g + 2 * P + 11, buf + 2 * P + 11, size - 2 * P - 11);
		free(buf);
	}
	check("bytes-write", r == 0 && remote_has(t, a, 2, 0, (uint32_t)size, why, sizeof(why)),
	      "%s", r ? gm_strerror(r) : why);
	st = stats(t->c);
	check("bytes-write-released", st.mapped_pages == 0, "%u page(s) still mapped",
	      st.mapped_pages);
}

/* A read-only grant is never writable, but readable. */
static void check_readonly(struct ctx *t, const struct sh *b)
{
	unsigned char w[16] = {1, 2, 3};
	struct gm_grant_stats st = {.size = sizeof(st)};
	size_t len = PAGE;
	char why[128] = "";
	void *p;
	int r, r2, err = 0;

	r = gm_write(t->m, gaddr(b, 8), w, sizeof(w));
	r2 = gm_write_le32(t->m, gaddr(b, 100), 0xdeadbeef);
	check("ro-write-refused", r == -EACCES && r2 == -EACCES,
	      "gm_write %s, gm_write_le32 %s (want %s)", gm_strerror(r), gm_strerror(r2),
	      gm_strerror(-EACCES));

	p = gm_map(t->m, gaddr(b, 0), &len, GM_PROT_WRITE, &err);
	check("ro-map-write-refused", !p && err == -EACCES, "%s",
	      p ? "mapped for writing" : gm_strerror(err));
	if (p)
		gm_unmap(t->m, gaddr(b, 0), p, len, GM_PROT_WRITE, 0);
	len = PAGE;
	p = gm_map(t->m, gaddr(b, 0), &len, GM_PROT_RW, &err);
	check("ro-map-rw-refused", !p && err == -EACCES, "%s",
	      p ? "mapped read-write" : gm_strerror(err));
	if (p)
		gm_unmap(t->m, gaddr(b, 0), p, len, GM_PROT_RW, 0);

	len = PAGE;
	p = gm_map(t->m, gaddr(b, 0), &len, GM_PROT_READ, &err);
	{
		long bad = p ? mismatch(p, len, 4, 0) : -2;

		check("ro-map-read", p && len == PAGE && bad < 0, "%s, len %zu, byte %ld",
		      p ? "mapped" : gm_strerror(err), len, bad);
	}
	if (p)
		gm_unmap(t->m, gaddr(b, 0), p, len, GM_PROT_READ, 0);
	{
		unsigned char buf[300];
		long bad = -2;

		r = gm_read(t->m, gaddr(b, PAGE - 300), buf, sizeof(buf));
		if (r == 0)
			bad = mismatch(buf, sizeof(buf), 4, PAGE - 300);
		check("ro-read", r == 0 && bad < 0, "%s, byte %ld", gm_strerror(r), bad);
	}
	check("ro-unchanged", remote_has(t, b, 4, 0, PAGE, why, sizeof(why)), "%s", why);
	st = stats(t->c);
	check("ro-released", st.mapped_pages == 0, "%u page(s) still mapped", st.mapped_pages);
}

/* One map call for a request of several ranges (refs not consecutive). */
static void check_map_sg(struct ctx *t, const struct sh *c1, const struct sh *c2,
			 const struct sh *c3)
{
	/* 2 + 1 + 2 pages, from three shares */
	const struct gm_sg in[3] = {
		{gaddr(c1, 0), 2 * PAGE},
		{gaddr(c2, 0), PAGE},
		{gaddr(c3, PAGE + 512), 2 * PAGE - 512},
	};
	const unsigned seeds[3] = {5, 6, 7};
	const size_t starts[3] = {0, 0, PAGE + 512};
	const struct sh *shs[3] = {c1, c2, c3};
	struct iovec iov[16];
	struct gm_grant_stats a = {.size = sizeof(a)},
		b = {.size = sizeof(b)},
		d = {.size = sizeof(d)};
	char why[128] = "";
	long bad = -1;
	int n;

	a = stats(t->c);
	n = gm_map_sg(t->m, in, 3, iov, 16, GM_PROT_RW);
	b = stats(t->c);
	check("map-sg-one-call", n >= 3 && DELTA(a, b, map_calls) == 1 &&
		      DELTA(a, b, pages_mapped) == 5,
	      "%s, %lld map call(s), %lld page(s)", n < 0 ? gm_strerror(n) : "mapped",
	      DELTA(a, b, map_calls), DELTA(a, b, pages_mapped));
	if (n < 0)
		return;
	/* the iovecs cover the ranges in order: compare, then write seed 8 */
	{
		unsigned k = 0;
		size_t used = 0;

		for (unsigned i = 0; i < 3 && bad < 0; i++) {
			for (size_t done = 0; done < in[i].len && bad < 0;) {
				size_t l = iov[k].iov_len - used;
				unsigned char *p = (unsigned char *)iov[k].iov_base + used;

				if (l > in[i].len - done)
					l = in[i].len - done;
				if (mismatch(p, l, seeds[i], starts[i] + done) >= 0)
					bad = (long)i;
				fill(p, l, 8, starts[i] + done);
				done += l;
				used += l;
				if (used == iov[k].iov_len) {
					k++;
					used = 0;
				}
			}
		}
	}
	check("map-sg-data", bad < 0, "range %ld differs", bad);
	gm_unmap_sg(t->m, in, 3, iov, (unsigned)n, GM_PROT_RW, SIZE_MAX);
	d = stats(t->c);
	check("map-sg-one-unmap", DELTA(b, d, unmap_calls) == 1 && d.mapped_pages == 0,
	      "%lld unmap call(s), %u page(s) still mapped", DELTA(b, d, unmap_calls),
	      d.mapped_pages);
	{
		bool ok = true;

		for (unsigned i = 0; i < 3 && ok; i++)
			ok = remote_has(t, shs[i], 8, (uint32_t)starts[i], (uint32_t)in[i].len, why,
					sizeof(why));
		check("map-sg-written", ok, "%s", why);
	}
}

/*
 * A transient mapping is gone after gm_unmap: the granter ends access at
 * once, and a later map of the ref fails.  Real gntalloc revokes lazily
 * (the ref stays mappable for a moment after unshare), so poll.
 */
static void check_transient_revoke(struct ctx *t, const struct sh *d, double limit)
{
	struct gm_grant_stats st = {.size = sizeof(st)};
	size_t len = PAGE;
	double t0, waited = -1;
	void *p;
	int r, err = 0;

	p = gm_map(t->m, gaddr(d, 0), &len, GM_PROT_RW, &err);
	if (p) {
		memset(p, 0x5a, 64);
		gm_unmap(t->m, gaddr(d, 0), p, len, GM_PROT_RW, 64);
	}
	st = stats(t->c);
	check("transient-released", p && st.mapped_pages == 0 && st.entries == 0,
	      "%s, %u page(s) mapped, %u entries", p ? "mapped" : gm_strerror(err),
	      st.mapped_pages, st.entries);
	r = end_share(t, d);
	check("transient-end-access", r == 0, "%s", gm_strerror(r));
	if (r < 0)
		return;
	t0 = now();
	for (;;) {
		len = PAGE;
		p = gm_map(t->m, gaddr(d, 0), &len, GM_PROT_READ, &err);
		if (!p)
			break;
		gm_unmap(t->m, gaddr(d, 0), p, len, GM_PROT_READ, 0);
		if (now() - t0 > limit)
			break;
		usleep(250 * 1000);
	}
	if (!p)
		waited = now() - t0;
	info("revoked ref %u: map fails (%s) %.2f s after the end of access", d->refs[0],
	     p ? "never" : gm_strerror(err), waited);
	st = stats(t->c);
	check("transient-revoked", !p && err == -EINVAL && st.mapped_pages == 0,
	      "%s after %.0f s, %u page(s) mapped",
	      p ? "still mappable" : gm_strerror(err), limit, st.mapped_pages);
}

/* Persistent entries stay after unmap, hit, and are evicted LRU. */
static void check_persistent(struct ctx *t, const struct sh *e)
{
	struct gm_grant_stats a = {.size = sizeof(a)}, b = {.size = sizeof(b)};
	size_t len;
	void *p;
	int err = 0;
	long bad = -1;

	/* map page 0, unmap: still mapped; map again: a hit */
	a = stats(t->c2);
	len = PAGE;
	p = gm_map(t->m2, gaddr(e, 0), &len, GM_PROT_READ, &err);
	if (p)
		gm_unmap(t->m2, gaddr(e, 0), p, len, GM_PROT_READ, 0);
	b = stats(t->c2);
	check("persistent-kept", p && b.mapped_pages == 1 && b.entries == 1, "%s, %u page(s), %u entries",
	      p ? "mapped" : gm_strerror(err), b.mapped_pages, b.entries);
	len = PAGE;
	p = gm_map(t->m2, gaddr(e, 0), &len, GM_PROT_READ, &err);
	if (p) {
		bad = mismatch(p, len, 9, 0);
		gm_unmap(t->m2, gaddr(e, 0), p, len, GM_PROT_READ, 0);
	}
	a = b;
	b = stats(t->c2);
	check("persistent-hit", p && bad < 0 && DELTA(a, b, hits) >= 1 &&
		      DELTA(a, b, map_calls) == 0,
	      "%s, byte %ld, %lld hit(s), %lld map call(s)", p ? "mapped" : gm_strerror(err),
	      bad, DELTA(a, b, hits), DELTA(a, b, map_calls));

	/* 8 single pages through a budget of 4: the oldest go */
	a = b;
	for (unsigned i = 1; i < e->pages && bad < 0; i++) {
		len = PAGE;
		p = gm_map(t->m2, gaddr(e, (size_t)i * PAGE), &len, GM_PROT_READ, &err);
		if (!p) {
			bad = (long)i * PAGE;
			break;
		}
		if (mismatch(p, len, 9, (size_t)i * PAGE) >= 0)
			bad = (long)i * PAGE;
		gm_unmap(t->m2, gaddr(e, (size_t)i * PAGE), p, len, GM_PROT_READ, 0);
	}
	b = stats(t->c2);
	check("persistent-evict", bad < 0 && b.mapped_pages <= 4 && b.entries <= 4 &&
		      DELTA(a, b, evictions) >= (long long)e->pages - 4,
	      "%s at %ld, %u page(s) and %u entries for a budget of 4, %lld eviction(s)",
	      bad < 0 ? "ok" : gm_strerror(err), bad, b.mapped_pages, b.entries,
	      DELTA(a, b, evictions));
}

/* Invalidation unmaps unpinned entries now, pinned ones on their last unmap. */
static void check_invalidate(struct ctx *t, const struct sh *e)
{
	unsigned last = e->pages - 1;
	struct gm_grant_stats a = {.size = sizeof(a)}, b = {.size = sizeof(b)};
	size_t len = PAGE;
	void *p;
	int r, err = 0;

	/* the last page is cached (it was mapped last) */
	a = stats(t->c2);
	r = gm_grant_cache_invalidate_refs(t->c2, t->granter, e->refs[last], 1);
	b = stats(t->c2);
	check("invalidate-refs", r == 1 && DELTA(a, b, invalidations) == 1 &&
		      a.entries - b.entries == 1 && a.mapped_pages - b.mapped_pages == 1,
	      "returned %d, %lld invalidation(s), entries %u -> %u, pages %u -> %u", r,
	      DELTA(a, b, invalidations), a.entries, b.entries, a.mapped_pages, b.mapped_pages);

	/* mapping it again is a miss */
	a = b;
	p = gm_map(t->m2, gaddr(e, (size_t)last * PAGE), &len, GM_PROT_READ, &err);
	b = stats(t->c2);
	check("invalidate-refs-miss", p && DELTA(a, b, map_calls) == 1, "%s, %lld map call(s)",
	      p ? "mapped" : gm_strerror(err), DELTA(a, b, map_calls));
	if (!p)
		return;
	/* still pinned: invalidating the domain leaves it until the unmap */
	r = gm_grant_cache_invalidate_domain(t->c2, t->granter);
	a = stats(t->c2);
	gm_unmap(t->m2, gaddr(e, (size_t)last * PAGE), p, len, GM_PROT_READ, 0);
	b = stats(t->c2);
	check("invalidate-domain", r >= 1 && a.mapped_pages == 1 && b.mapped_pages == 0 &&
		      b.entries == 0,
	      "returned %d, %u page(s) mapped while pinned, %u after the unmap, %u entries", r,
	      a.mapped_pages, b.mapped_pages, b.entries);
}

/* Unmapped reads and writes across page ends go by grant copy. */
static void check_copy(struct ctx *t, const struct sh *f)
{
	unsigned char buf[7000];
	struct gm_grant_stats a = {.size = sizeof(a)}, b = {.size = sizeof(b)};
	char why[128] = "";
	long bad = -2;
	bool ok;
	int r;

	a = stats(t->c);
	r = gm_read(t->m, gaddr(f, 4000), buf, 6000); /* crosses 4096 and 8192 */
	b = stats(t->c);
	if (r == 0)
		bad = mismatch(buf, 6000, 10, 4000);
	check("copy-read", r == 0 && bad < 0 && DELTA(a, b, copy_calls) > 0 &&
		      DELTA(a, b, map_calls) == 0 && b.mapped_pages == 0,
	      "%s, byte %ld, %lld copy call(s), %lld map call(s)", gm_strerror(r), bad,
	      DELTA(a, b, copy_calls), DELTA(a, b, map_calls));

	fill(buf, sizeof(buf), 11, 3000);
	a = b;
	r = gm_write(t->m, gaddr(f, 3000), buf, sizeof(buf)); /* [3000, 10000) */
	b = stats(t->c);
	ok = r == 0 && remote_has(t, f, 10, 0, 3000, why, sizeof(why)) &&
	     remote_has(t, f, 11, 3000, 7000, why, sizeof(why)) &&
	     remote_has(t, f, 10, 10000, 3 * PAGE - 10000, why, sizeof(why));
	check("copy-write", ok && DELTA(a, b, copy_calls) > 0 && DELTA(a, b, map_calls) == 0 &&
		      b.mapped_pages == 0,
	      "%s, %lld copy call(s), %lld map call(s)", r ? gm_strerror(r) : why[0] ? why : "ok",
	      DELTA(a, b, copy_calls), DELTA(a, b, map_calls));
}

/* One error check: @r as @want and nothing left mapped in @c. */
static void check_err(struct ctx *t, const char *name, int r, int want)
{
	struct gm_grant_stats st = stats(t->c);

	check(name, r == want && st.mapped_pages == 0 && st.pinned_entries == 0,
	      "%s (want %s), %u page(s) still mapped", r ? gm_strerror(r) : "success",
	      gm_strerror(want), st.mapped_pages);
}

static int map_err(gm_mem *m, uint64_t addr, int flags)
{
	size_t len = PAGE;
	int err = 0;
	void *p = gm_map(m, addr, &len, flags, &err);

	if (p) {
		gm_unmap(m, addr, p, len, flags, 0);
		return 0;
	}
	return err;
}

/* Every refusal of Xen reaches the caller as grant.h documents it. */
static void check_errors(struct ctx *t, const struct sh *a, const struct sh *b)
{
	unsigned char buf[64];
	struct gm_sg sg[2];
	struct iovec iov[8];
	int n;

	check_err(t, "error-bad-ref-map", map_err(t->m, GM_GRANT_ADDR(BAD_REF, 0), GM_PROT_READ),
		  -EINVAL);
	check_err(t, "error-bad-ref-read", gm_read(t->m, GM_GRANT_ADDR(BAD_REF, 16), buf, 64),
		  -EINVAL);
	check_err(t, "error-bad-ref-write", gm_write(t->m, GM_GRANT_ADDR(BAD_REF, 16), buf, 64),
		  -EINVAL);
	check_err(t, "error-huge-ref-map", map_err(t->m, GM_GRANT_ADDR(HUGE_REF, 0), GM_PROT_READ),
		  -EINVAL);
	check_err(t, "error-huge-ref-read", gm_read(t->m, GM_GRANT_ADDR(HUGE_REF, 0), buf, 64),
		  -EINVAL);
	/* a valid ref of the granter, asked of a domain that does not exist */
	check_err(t, "error-unknown-domain-map", map_err(t->m3, gaddr(a, 0), GM_PROT_READ),
		  -EINVAL);
	check_err(t, "error-unknown-domain-read", gm_read(t->m3, gaddr(a, 0), buf, 64), -EINVAL);
	check_err(t, "error-ro-as-rw-map", map_err(t->m, gaddr(b, 0), GM_PROT_RW), -EACCES);
	check_err(t, "error-ro-as-rw-write", gm_write(t->m, gaddr(b, 0), buf, 64), -EACCES);
	/* all or nothing: a good range next to a bad one maps nothing */
	sg[0] = (struct gm_sg){gaddr(a, 0), 2 * PAGE};
	sg[1] = (struct gm_sg){GM_GRANT_ADDR(BAD_REF, 0), PAGE};
	n = gm_map_sg(t->m, sg, 2, iov, 8, GM_PROT_READ);
	if (n >= 0)
		gm_unmap_sg(t->m, sg, 2, iov, (unsigned)n, GM_PROT_READ, 0);
	check_err(t, "error-bad-ref-sg", n >= 0 ? 0 : n, -EINVAL);
	sg[1] = (struct gm_sg){gaddr(b, 0), PAGE};
	n = gm_map_sg(t->m, sg, 2, iov, 8, GM_PROT_RW);
	if (n >= 0)
		gm_unmap_sg(t->m, sg, 2, iov, (unsigned)n, GM_PROT_RW, 0);
	check_err(t, "error-ro-as-rw-sg", n >= 0 ? 0 : n, -EACCES);
}

/* ---- setup ------------------------------------------------------------------------ */

static int grant_space(gm_grant_cache *c, gm_domid domid, enum gm_grant_policy pol, gm_space **s)
{
	gm_region *r = NULL;
	int ret;

	if ((ret = gm_space_new(s)) < 0)
		return ret;
	if ((ret = gm_grant_region_new(c, domid, pol, &r)) == 0) {
		ret = gm_space_add(*s, GM_GRANT_BASE, r);
		gm_region_free(r); /* the space holds it */
	}
	return ret;
}

static int setup(struct ctx *t, const char *spec)
{
	const struct gm_grant_cache_config small = {.max_pages = 4};
	int r;

	if ((r = gm_xen_open(spec, &t->x)) < 0 || (r = gm_xen_self_domid(t->x, &t->self)) < 0 ||
	    (r = gm_gnttab_open(t->x, &t->g)) < 0 || (r = gm_gnttab_open(t->x, &t->g2)) < 0 ||
	    (r = gm_grant_cache_new(t->g, NULL, &t->c)) < 0 ||
	    (r = gm_grant_cache_new(t->g2, &small, &t->c2)) < 0 ||
	    (r = grant_space(t->c, t->granter, GM_GRANT_TRANSIENT, &t->s)) < 0 ||
	    (r = grant_space(t->c2, t->granter, GM_GRANT_PERSISTENT, &t->s2)) < 0 ||
	    (r = grant_space(t->c, NO_DOMID, GM_GRANT_TRANSIENT, &t->s3)) < 0)
		return r;
	t->m = gm_space_mem(t->s);
	t->m2 = gm_space_mem(t->s2);
	t->m3 = gm_space_mem(t->s3);
	return 0;
}

static void teardown(struct ctx *t)
{
	gm_space_free(t->s);
	gm_space_free(t->s2);
	gm_space_free(t->s3);
	gm_grant_cache_free(t->c);
	gm_grant_cache_free(t->c2);
	gm_gnttab_close(t->g);
	gm_gnttab_close(t->g2);
	gm_xen_close(t->x);
}

static void usage(void)
{
	fprintf(stderr, "usage: xen-selfgrant [--xen real|emu|emu:SOCKET] [--revoke-timeout SEC]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"xen", required_argument, NULL, 'x'},
		{"revoke-timeout", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *spec = "real";
	char dir[64] = "", sock[128], mspec[160], gspec[176];
	double revoke_limit = 20;
	struct ctx t = {.fd = -1};
	struct sh a, b, c1, c2, c3, d, e, f;
	pid_t hub = -1, child;
	int sv[2], r, c, status;
	struct rep hello = {0};

	/* "emu:" worlds (--xen emu:...) come from libgrantmem-emu */
	gm_emu_register();

	while ((c = getopt_long(argc, argv, "x:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'x':
			spec = optarg;
			break;
		case 'r':
			revoke_limit = atof(optarg);
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc || revoke_limit <= 0) {
		usage();
		return 2;
	}
	/* a hung Xen call must not hang the harness: the granter sees EOF */
	alarm(300);

	/*
	 * The worlds of the two processes.  Real Xen: both in dom0.  Emulated:
	 * the mapper is dom0, the granter a domain of its own (a non-zero
	 * domain belongs to one process).
	 */
	if (!strcmp(spec, "emu")) {
		snprintf(dir, sizeof(dir), "/tmp/gm-selfgrant-XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		snprintf(sock, sizeof(sock), "%s/hub", dir);
		r = gm_emu_hub_spawn(sock, &hub);
		if (r == -ENOTSUP || r == -EOPNOTSUPP) {
			rmdir(dir);
			printf("SKIP: the emulated Xen is not built\n");
			return 77;
		}
		check("emu-hub", r == 0, "%s", gm_strerror(r));
		if (r < 0) {
			rmdir(dir);
			return 1;
		}
		snprintf(mspec, sizeof(mspec), "emu:%s", sock);
	} else {
		snprintf(mspec, sizeof(mspec), "%s", spec);
	}
	if (!strncmp(mspec, "emu:", 4))
		snprintf(gspec, sizeof(gspec), "%s,domid=%d", mspec, EMU_GRANTER_DOMID);
	else
		snprintf(gspec, sizeof(gspec), "%s", mspec);

	/* the granter first, before this process maps anything */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		close(sv[0]);
		granter(sv[1], gspec);
	}
	close(sv[1]);
	t.fd = sv[0];
	r = xfer(t.fd, NULL, 0, &hello, sizeof(hello));
	if (r == 0)
		r = hello.ret;
	t.granter = hello.self;
	if (r == 0)
		r = setup(&t, mspec);
	if (r == -ENOTSUP && hub < 0 && !strcmp(spec, "real")) {
		printf("SKIP: built without real Xen\n");
		r = 77;
		goto out;
	}
	check("setup", r == 0, "%s", gm_strerror(r));
	if (r < 0) {
		r = 1;
		goto out;
	}
	info("world %s: mapper in domain %u, granter in domain %u", gm_xen_name(t.x), t.self,
	     t.granter);

	/* the granter's pages: a rw (seed 1), b ro (4), c1..c3 for map_sg,
	 * d transient revoke, e persistent (9), f grant copy (10) */
	if ((r = share(&t, 8, true, 1, &a)) == 0 && (r = share(&t, 1, false, 4, &b)) == 0 &&
	    (r = share(&t, 2, true, 5, &c1)) == 0 && (r = share(&t, 1, true, 6, &c2)) == 0 &&
	    (r = share(&t, 3, true, 7, &c3)) == 0 && (r = share(&t, 1, true, 3, &d)) == 0 &&
	    (r = share(&t, 8, true, 9, &e)) == 0)
		r = share(&t, 3, true, 10, &f);
	check("share", r == 0, "%s", r == -ERANGE ? "a share's refs are not consecutive" :
	      gm_strerror(r));
	if (r < 0) {
		r = 1;
		goto out;
	}
	info("refs: a %u+8 b %u c1 %u+2 c2 %u c3 %u+3 d %u e %u+8 f %u+3", a.refs[0], b.refs[0],
	     c1.refs[0], c2.refs[0], c3.refs[0], d.refs[0], e.refs[0], f.refs[0]);

	check_bytes_read(&t, &a);
	check_bytes_write(&t, &a);
	check_readonly(&t, &b);
	check_map_sg(&t, &c1, &c2, &c3);
	check_transient_revoke(&t, &d, revoke_limit);
	check_persistent(&t, &e);
	check_invalidate(&t, &e);
	check_copy(&t, &f);
	check_errors(&t, &a, &b);
	{
		struct gm_grant_stats s1 = stats(t.c), s2 = stats(t.c2);

		info("stats: hits %" PRIu64 " misses %" PRIu64 " map calls %" PRIu64
		     " unmap calls %" PRIu64 " copy calls %" PRIu64 " map errors %" PRIu64
		     " evictions %" PRIu64 " (small cache)",
		     s1.hits + s2.hits, s1.misses + s2.misses, s1.map_calls + s2.map_calls,
		     s1.unmap_calls + s2.unmap_calls, s1.copy_calls + s2.copy_calls,
		     s1.map_errors + s2.map_errors, s2.evictions);
		check("nothing-mapped", s1.mapped_pages == 0 && s2.mapped_pages == 0,
		      "%u and %u page(s) still mapped", s1.mapped_pages, s2.mapped_pages);
	}
	/* every grant can end now that nothing maps it */
	{
		const struct sh *all[] = {&a, &b, &c1, &c2, &c3, &e, &f};
		int bad = 0;

		for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			if ((r = end_share(&t, all[i])) < 0 && !bad)
				bad = r;
		check("end-access-all", bad == 0, "%s", gm_strerror(bad));
	}
	r = failures ? 1 : 0;
out:
	teardown(&t);
	{
		struct req q = {.op = OP_QUIT};

		xfer(t.fd, &q, sizeof(q), NULL, 0);
	}
	close(t.fd);
	if (waitpid(child, &status, 0) == child && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		check("granter-exit", false, "status %#x", status);
		r = 1;
	}
	if (hub > 0) {
		int h = gm_emu_hub_stop(hub);

		check("emu-hub-stop", h == 0, "%s", gm_strerror(h));
		if (h < 0)
			r = 1;
		rmdir(dir);
	}
	return r;
}
