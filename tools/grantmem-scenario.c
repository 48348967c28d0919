/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem-scenario - one guest/backend exchange, the same binary on the
 * emulated world and on real Xen.
 *
 *   grantmem-scenario guest   [--xen SPEC] [--backend-domid N] [--pages N]
 *                             [--timeout SEC]
 *   grantmem-scenario backend [--xen SPEC] [--guest-domid N] [--timeout SEC]
 *
 * SPEC is a gm_xen_open() spec ("real", "emu:<socket>[,domid=N]"); without
 * --xen, $GRANTMEM_XEN, else real Xen.
 *
 * The guest shares @pages read-write pages (default 2, at least 2) and one
 * read-only page with the backend domain (default 0), fills them with known
 * patterns, allocates an unbound event channel for the backend, and
 * publishes, in one xenstore transaction, under
 * /local/domain/<guest>/data/grantmem-scenario/:
 *
 *   rw-refs        grant refs of the read-write pages, decimal, space-separated,
 *                  in page order
 *   ro-ref         grant ref of the read-only page
 *   pages          how many read-write pages
 *   event-channel  the guest's unbound port (for the backend domain)
 *   backend-domid  the domain the pages are granted to
 *   state          "ready" (written last; the backend watches it)
 *
 * The backend watches /local/domain (or just the guest's directory with
 * --guest-domid) until a "state" of "ready" appears, maps the read-write
 * pages (all but the last) and checks the pattern, checks that the
 * read-only page maps read-only and not writable, reads it by grant copy,
 * writes the reply pattern (mapped pages directly, the last page by grant
 * copy), unmaps everything, writes "backend-state" = "done", binds the
 * event channel and notifies.  The guest waits for the event, checks the
 * reply, checks that the read-only page is unchanged and ends access to every
 * grant.
 *
 * Each check prints "PASS <name>" or "FAIL <name>: <why>"; the exit status
 * is 0 when every check passed, 1 otherwise, 2 for a usage error.
 */
#include "config.h"

#include "args.h"

#include <grantmem/grantmem.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYS "data/grantmem-scenario"
#define MAX_PAGES 64
#define SEED_GUEST 0x51u
#define SEED_RO 0x52u
#define SEED_REPLY 0x53u

static int failures;
static int timeout_s = 30;

static void check(const char *name, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void check(const char *name, int ok, const char *fmt, ...)
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

/* The byte at offset @i of a pattern tagged @seed. */
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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for @fd to be readable until @deadline. */
static int wait_fd(int fd, double deadline)
{
	for (;;) {
		double left = deadline - now();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* ---- guest ---------------------------------------------------------------------- */

struct pub {
	gm_domid self, backend;
	unsigned pages;
	gm_gref *rw;
	gm_gref ro;
	int port;
};

static int publish_tx(gm_xs *xs, gm_xs_tx tx, void *arg)
{
	const struct pub *p = arg;
	char base[64], path[128], buf[16 * MAX_PAGES];
	size_t off = 0;
	int r;

	snprintf(base, sizeof(base), "/local/domain/%u/" KEYS, p->self);
	for (unsigned i = 0; i < p->pages; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%u", i ? " " : "", p->rw[i]);
#define PUT(key, ...)                                                                      \
	do {                                                                               \
		char v_[32];                                                               \
		snprintf(v_, sizeof(v_), __VA_ARGS__);                                     \
		snprintf(path, sizeof(path), "%s/%s", base, key);                          \
		if ((r = gm_xs_write_str(xs, tx, path, v_)) < 0)                           \
			return r;                                                          \
	} while (0)
	snprintf(path, sizeof(path), "%s/rw-refs", base);
	if ((r = gm_xs_write_str(xs, tx, path, buf)) < 0)
		return r;
	PUT("ro-ref", "%u", p->ro);
	PUT("pages", "%u", p->pages);
	PUT("event-channel", "%d", p->port);
	PUT("backend-domid", "%u", p->backend);
	snprintf(path, sizeof(path), "%s/backend-state", base);
	if ((r = gm_xs_rm(xs, tx, path)) < 0 && r != -ENOENT)
		return r;
	PUT("state", "ready");
#undef PUT
	return 0;
}

static int run_guest(gm_xen *x, gm_domid backend, unsigned pages)
{
	gm_gref rw[MAX_PAGES], ro;
	gm_gntshr *shr = NULL;
	gm_evtchn *ev = NULL;
	gm_xs *xs = NULL;
	unsigned char *rwp = NULL, *rop = NULL;
	struct pub pub = {.backend = backend, .pages = pages, .rw = rw};
	double deadline;
	int r, err = 0;

	r = gm_xen_self_domid(x, &pub.self);
	check("guest-self-domid", r == 0, "%s", gm_strerror(r));
	if ((r = gm_gntshr_open(x, &shr)) == 0 && (r = gm_evtchn_open(x, &ev)) == 0)
		r = gm_xs_open(x, &xs);
	check("guest-open", r == 0, "%s", gm_strerror(r));
	if (r < 0)
		goto out;
	rwp = gm_gntshr_share(shr, backend, pages, rw, 1, &err);
	check("guest-share-rw", rwp != NULL, "%s", gm_strerror(err));
	rop = gm_gntshr_share(shr, backend, 1, &ro, 0, &err);
	check("guest-share-ro", rop != NULL, "%s", gm_strerror(err));
	if (!rwp || !rop)
		goto out;
	pub.ro = ro;
	fill(rwp, (size_t)pages * GM_PAGE_SIZE, SEED_GUEST, 0);
	fill(rop, GM_PAGE_SIZE, SEED_RO, 0);
	pub.port = gm_evtchn_bind_unbound(ev, backend);
	check("guest-bind-unbound", pub.port >= 0, "%s", gm_strerror(pub.port));
	if (pub.port < 0)
		goto out;
	r = gm_xs_transact(xs, publish_tx, &pub, 10);
	check("guest-publish", r == 0, "%s", gm_strerror(r));
	if (r < 0)
		goto out;
	printf("guest %u: %u rw page(s) + 1 ro page shared with dom %u, port %d; waiting\n",
	       pub.self, pages, backend, pub.port);
	fflush(stdout);

	/* the backend's notify */
	deadline = now() + timeout_s;
	for (r = -EAGAIN; r != pub.port;) {
		if ((r = wait_fd(gm_evtchn_fd(ev), deadline)) < 0)
			break;
		r = gm_evtchn_pending(ev);
		if (r >= 0)
			gm_evtchn_unmask(ev, (gm_port)r);
		else if (r != -EAGAIN)
			break;
	}
	check("guest-notified", r == pub.port, "%s", r < 0 ? gm_strerror(r) : "wrong port");
	if (r != pub.port)
		goto out;
	{
		long m = mismatch(rwp, (size_t)pages * GM_PAGE_SIZE, SEED_REPLY, 0);

		check("guest-reply", m < 0, "byte %ld differs", m);
		m = mismatch(rop, GM_PAGE_SIZE, SEED_RO, 0);
		check("guest-ro-unchanged", m < 0, "byte %ld differs", m);
	}
	/* the backend unmapped before notifying: every grant ends */
	{
		int bad = 0;

		for (unsigned i = 0; i < pages; i++)
			if ((r = gm_gntshr_end_access(shr, rw[i])) < 0)
				bad = r;
		if ((r = gm_gntshr_end_access(shr, ro)) < 0)
			bad = r;
		check("guest-end-access", bad == 0, "%s", gm_strerror(bad));
	}
out:
	if (rwp)
		gm_gntshr_unshare(shr, rwp, pages);
	if (rop)
		gm_gntshr_unshare(shr, rop, 1);
	if (xs && pub.self) {
		char path[96];

		snprintf(path, sizeof(path), "/local/domain/%u/" KEYS, pub.self);
		gm_xs_rm(xs, 0, path);
	}
	gm_xs_close(xs);
	gm_evtchn_close(ev);
	gm_gntshr_close(shr);
	return failures ? 1 : 0;
}

/* ---- backend -------------------------------------------------------------------- */

static int read_uint(gm_xs *xs, const char *base, const char *key, unsigned *out)
{
	char path[160], *v, *end;
	unsigned long n;
	int r;

	snprintf(path, sizeof(path), "%s/%s", base, key);
	r = gm_xs_read(xs, 0, path, &v, NULL);
	if (r < 0)
		return r;
	errno = 0;
	n = strtoul(v, &end, 10);
	r = (errno || end == v || *end || n > UINT32_MAX) ? -EINVAL : 0;
	free(v);
	*out = (unsigned)n;
	return r;
}

/* Is the guest at @base ready? */
static int guest_ready(gm_xs *xs, const char *base)
{
	char path[160], *v;
	int ok;

	snprintf(path, sizeof(path), "%s/state", base);
	if (gm_xs_read(xs, 0, path, &v, NULL) < 0)
		return 0;
	ok = !strcmp(v, "ready");
	free(v);
	return ok;
}

/* Find a ready guest: @want, or any domain's directory. */
static int find_guest(gm_xs *xs, int want, unsigned *domid)
{
	char base[96], **names;
	int n;

	if (want >= 0) {
		snprintf(base, sizeof(base), "/local/domain/%d/" KEYS, want);
		*domid = (unsigned)want;
		return guest_ready(xs, base);
	}
	n = gm_xs_directory(xs, 0, "/local/domain", &names);
	for (int i = 0; i < n; i++) {
		snprintf(base, sizeof(base), "/local/domain/%s/" KEYS, names[i]);
		if (guest_ready(xs, base)) {
			*domid = (unsigned)strtoul(names[i], NULL, 10);
			free(names);
			return 1;
		}
	}
	if (n >= 0)
		free(names);
	return 0;
}

static int parse_refs(const char *s, gm_gref *refs, unsigned want)
{
	unsigned n = 0;

	while (*s && n < want) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v > UINT32_MAX)
			return -EINVAL;
		refs[n++] = (gm_gref)v;
		s = end;
		while (*s == ' ')
			s++;
	}
	return n == want && !*s ? 0 : -EINVAL;
}

static int run_backend(gm_xen *x, int want_guest)
{
	char base[96], path[160], watch[96], *v = NULL;
	gm_gref rw[MAX_PAGES], ro;
	unsigned g = 0, pages = 0, port = 0, bdom = 0;
	gm_gnttab *tab = NULL;
	gm_evtchn *ev = NULL;
	gm_xs *xs = NULL;
	gm_domid self;
	double deadline;
	int r, err = 0, lport;

	if ((r = gm_xen_self_domid(x, &self)) == 0 && (r = gm_gnttab_open(x, &tab)) == 0 &&
	    (r = gm_evtchn_open(x, &ev)) == 0)
		r = gm_xs_open(x, &xs);
	check("backend-open", r == 0, "%s", gm_strerror(r));
	if (r < 0)
		goto out;
	if (want_guest >= 0)
		snprintf(watch, sizeof(watch), "/local/domain/%d/" KEYS, want_guest);
	else
		snprintf(watch, sizeof(watch), "/local/domain");
	r = gm_xs_watch(xs, watch, "scenario");
	check("backend-watch", r == 0, "%s", gm_strerror(r));
	if (r < 0)
		goto out;
	/* the watch fires once at registration: every event means "look again" */
	deadline = now() + timeout_s;
	for (r = 0; !r;) {
		char *wp, *wt;

		if ((r = wait_fd(gm_xs_fd(xs), deadline)) < 0)
			break;
		while (gm_xs_read_watch(xs, &wp, &wt) == 0) {
			free(wp);
			free(wt);
		}
		r = find_guest(xs, want_guest, &g);
	}
	gm_xs_unwatch(xs, watch, "scenario");
	check("backend-found-guest", r > 0, "%s", gm_strerror(r));
	if (r <= 0)
		goto out;
	printf("backend %u: serving guest %u\n", self, g);
	fflush(stdout);
	snprintf(base, sizeof(base), "/local/domain/%u/" KEYS, g);
	snprintf(path, sizeof(path), "%s/rw-refs", base);
	if ((r = read_uint(xs, base, "pages", &pages)) == 0 &&
	    (r = read_uint(xs, base, "ro-ref", &ro)) == 0 &&
	    (r = read_uint(xs, base, "event-channel", &port)) == 0 &&
	    (r = read_uint(xs, base, "backend-domid", &bdom)) == 0 &&
	    (r = (pages >= 2 && pages <= MAX_PAGES && bdom == self) ? 0 : -EINVAL) == 0 &&
	    (r = gm_xs_read(xs, 0, path, &v, NULL)) == 0)
		r = parse_refs(v, rw, pages);
	free(v);
	check("backend-read-keys", r == 0, "%s", gm_strerror(r));
	if (r < 0)
		goto out;

	/* mapped path: all read-write pages but the last */
	{
		unsigned n = pages - 1;
		unsigned char *p = gm_gnttab_map(tab, n, (gm_domid)g, rw, GM_PROT_RW, &err);

		check("backend-map-rw", p != NULL, "%s", gm_strerror(err));
		if (p) {
			long m = mismatch(p, (size_t)n * GM_PAGE_SIZE, SEED_GUEST, 0);

			check("backend-pattern", m < 0, "byte %ld differs", m);
			fill(p, (size_t)n * GM_PAGE_SIZE, SEED_REPLY, 0);
			r = gm_gnttab_unmap(tab, p, n);
			check("backend-unmap-rw", r == 0, "%s", gm_strerror(r));
		}
	}
	/* read-only: never writable, readable mapped and by copy */
	{
		unsigned char *p = gm_gnttab_map(tab, 1, (gm_domid)g, &ro, GM_PROT_RW, &err);

		check("backend-ro-not-writable", p == NULL && err == -EINVAL, "%s",
		      p ? "mapped writable" : gm_strerror(err));
		if (p)
			gm_gnttab_unmap(tab, p, 1);
		p = gm_gnttab_map(tab, 1, (gm_domid)g, &ro, GM_PROT_READ, &err);
		check("backend-map-ro", p != NULL, "%s", gm_strerror(err));
		if (p) {
			long m = mismatch(p, GM_PAGE_SIZE, SEED_RO, 0);

			check("backend-ro-pattern", m < 0, "byte %ld differs", m);
			gm_gnttab_unmap(tab, p, 1);
		}
	}
	/* grant copy: read the ro page, write the last rw page, refused into ro */
	{
		static unsigned char in[GM_PAGE_SIZE], out[GM_PAGE_SIZE];
		struct gm_copy_seg s[3];

		memset(s, 0, sizeof(s));
		s[0].source.foreign.ref = ro;
		s[0].source.foreign.domid = (gm_domid)g;
		s[0].dest.virt = in;
		s[0].len = GM_PAGE_SIZE;
		s[0].flags = GM_COPY_SOURCE_GREF;
		fill(out, sizeof(out), SEED_REPLY, (size_t)(pages - 1) * GM_PAGE_SIZE);
		s[1].source.virt = out;
		s[1].dest.foreign.ref = rw[pages - 1];
		s[1].dest.foreign.domid = (gm_domid)g;
		s[1].len = GM_PAGE_SIZE;
		s[1].flags = GM_COPY_DEST_GREF;
		s[2] = s[1];
		s[2].dest.foreign.ref = ro;
		r = gm_gnttab_copy(tab, 3, s);
		check("backend-copy-call", r == 0, "%s", gm_strerror(r));
		if (r == 0) {
			check("backend-copy-read", s[0].status == 0 &&
				  mismatch(in, sizeof(in), SEED_RO, 0) < 0, "status %d", s[0].status);
			check("backend-copy-write", s[1].status == 0, "status %d", s[1].status);
			check("backend-copy-ro-refused", s[2].status != 0, "status %d", s[2].status);
		}
	}
	snprintf(path, sizeof(path), "%s/backend-state", base);
	r = gm_xs_write_str(xs, 0, path, "done");
	check("backend-state", r == 0, "%s", gm_strerror(r));
	lport = gm_evtchn_bind_interdomain(ev, (gm_domid)g, port);
	check("backend-bind", lport >= 0, "%s", gm_strerror(lport));
	if (lport >= 0) {
		r = gm_evtchn_notify(ev, (gm_port)lport);
		check("backend-notify", r == 0, "%s", gm_strerror(r));
		gm_evtchn_unbind(ev, (gm_port)lport);
	}
out:
	gm_xs_close(xs);
	gm_evtchn_close(ev);
	gm_gnttab_close(tab);
	return failures ? 1 : 0;
}

static const struct tool_opt opts[] = {
	{"xen", 'x', "SPEC", "the Xen world (gm_xen_open: \"real\", \"emu:SOCKET[,domid=N]\");\n"
			     "default $GRANTMEM_XEN, else real Xen"},
	{"backend-domid", 'b', "N", "guest: the domain the pages are granted to (default 0)"},
	{"guest-domid", 'g', "N", "backend: serve only this guest (default: any)"},
	{"pages", 'p', "N", "guest: read-write pages to share (2 to 64; default 2)"},
	{"timeout", 't', "SEC", "give up after SEC seconds (default 30)"},
	{NULL, 0, NULL, NULL},
};

static struct tool T = {
	.name = "grantmem-scenario",
	.synopsis = "grantmem-scenario guest   [--xen SPEC] [--backend-domid N] [--pages N]"
		    " [--timeout SEC]\n"
		    "grantmem-scenario backend [--xen SPEC] [--guest-domid N] [--timeout SEC]",
	.about = "One guest/backend exchange of granted pages, an event channel and xenstore,\n"
		 "the same binary on the emulated world and on real Xen.  A testing aid.\n"
		 "exit status: 0 every check passed, 1 a check failed, 2 usage error",
	.opts = opts,
};

int main(int argc, char **argv)
{
	static const char *const modes[] = {"guest", "backend", NULL};
	const char *spec = NULL, *mode;
	unsigned backend = 0, pages = 2;
	int guest = -1, c, r;
	gm_xen *x;

	/* "emu:" worlds (--xen emu:...) come from libgrantmem-emu */
	gm_emu_register();

	while ((c = tool_next(&T, argc, argv)) != -1) {
		switch (c) {
		case 'x':
			spec = optarg;
			break;
		case 'b':
			backend = (unsigned)tool_num(&T, optarg, 0, GM_DOMID_MAX);
			break;
		case 'g':
			guest = (int)tool_num(&T, optarg, 0, GM_DOMID_MAX);
			break;
		case 'p':
			pages = (unsigned)tool_num(&T, optarg, 2, MAX_PAGES);
			break;
		case 't':
			timeout_s = (int)tool_num(&T, optarg, 1, 86400);
			break;
		}
	}
	if (optind == argc)
		tool_usage_error(&T, "no mode (guest or backend)");
	if (optind + 1 != argc)
		tool_usage_error(&T, "one mode only, not \"%s\"", argv[optind + 1]);
	for (c = 0; modes[c] && strcmp(argv[optind], modes[c]); c++)
		;
	if (!modes[c])
		tool_usage_error(&T, "unknown mode \"%s\" (guest or backend)", argv[optind]);
	mode = argv[optind];
	r = gm_xen_open(spec, &x);
	check("open-world", r == 0, "%s: %s", spec ? spec : "(default)", gm_strerror(r));
	if (r < 0)
		return 1;
	r = !strcmp(mode, "guest") ? run_guest(x, (gm_domid)backend, pages) : run_backend(x, guest);
	gm_xen_close(x);
	return r;
}
