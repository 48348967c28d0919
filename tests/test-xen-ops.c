/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The gm_xen wrappers (lib/xen/xen.c) over a counting fake ops table:
 * argument checks, -EOPNOTSUPP, fault injection on every site, each call's
 * log class, outputs a world left empty, xenstore serialisation,
 * gm_xs_transact, gm_gntst_errno, world selection by spec and $GRANTMEM_XEN.
 */
#include "config.h"

#include <grantmem/world.h>
#include <grantmem/xen.h>

#include "helpers.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

/* ---- a counting world ------------------------------------------------------ */

#define MAXOPS 64

static struct {
	const char *op;
	unsigned long calls;
	int fail; /* returned by the op when nonzero */
} ops_tab[MAXOPS];
static unsigned nops;
static unsigned long total_calls;

static unsigned slot(const char *op)
{
	for (unsigned i = 0; i < nops; i++)
		if (!strcmp(ops_tab[i].op, op))
			return i;
	if (nops == MAXOPS) {
		fprintf(stderr, "too many ops\n");
		exit(GM_TEST_HARD_ERROR);
	}
	ops_tab[nops].op = op;
	return nops++;
}

/* Count a call to @op; its configured failure (0: succeed). */
static int bump(const char *op)
{
	unsigned i = slot(op);

	ops_tab[i].calls++;
	total_calls++;
	return ops_tab[i].fail;
}

static unsigned long calls_of(const char *op)
{
	return ops_tab[slot(op)].calls;
}

static void set_fail(const char *op, int err)
{
	ops_tab[slot(op)].fail = err;
}

static _Alignas(4096) unsigned char pages[2][4096];
static int handle_token;
static int world_closed;
static int conflicts_left; /* xs_tx_end answers -EAGAIN this many times */
static int last_abort = -1;

static int f_open(void *world, void **h, const char *op)
{
	int r = bump(op);

	ASSERT_PTR_EQ(world, &handle_token);
	if (r)
		return r;
	*h = &handle_token;
	return 0;
}

static int f_gnttab_open(void *w, void **h) { return f_open(w, h, "gnttab_open"); }
static int f_gntshr_open(void *w, void **h) { return f_open(w, h, "gntshr_open"); }
static int f_evtchn_open(void *w, void **h) { return f_open(w, h, "evtchn_open"); }
static int f_xs_open(void *w, void **h) { return f_open(w, h, "xs_open"); }
static void f_close(void *h) { ASSERT_PTR_EQ(h, &handle_token); bump("close"); }

static int f_set_max(void *h, uint32_t n) { (void)h; (void)n; return bump("gnttab_set_max_grants"); }

static void *f_map(void *h, uint32_t count, gm_domid domid, const gm_gref *refs, int prot, int *err)
{
	(void)h; (void)count; (void)domid; (void)refs; (void)prot;
	*err = bump("gnttab_map");
	return *err ? NULL : pages[0];
}

static int f_unmap(void *h, void *a, uint32_t c) { (void)h; (void)a; (void)c; return bump("gnttab_unmap"); }

static int f_copy(void *h, uint32_t count, struct gm_copy_seg *segs)
{
	int r = bump("gnttab_copy");

	(void)h;
	for (uint32_t i = 0; !r && i < count; i++)
		segs[i].status = GM_GNTST_OKAY;
	return r;
}

static void *f_share(void *h, gm_domid d, uint32_t count, gm_gref *refs, int w, int *err)
{
	(void)h; (void)d; (void)w;
	*err = bump("gntshr_share");
	for (uint32_t i = 0; !*err && i < count; i++)
		refs[i] = 100 + i;
	return *err ? NULL : pages[1];
}

static int f_end(void *h, gm_gref r) { (void)h; (void)r; return bump("gntshr_end_access"); }
static int f_unshare(void *h, void *a, uint32_t c) { (void)h; (void)a; (void)c; return bump("gntshr_unshare"); }
static int f_fd(void *h) { (void)h; bump("fd"); return 42; }

static int f_bind_i(void *h, gm_domid d, gm_port p)
{
	int r = bump("evtchn_bind_interdomain");
	(void)h; (void)d; (void)p;
	return r ? r : 5;
}

static int f_bind_u(void *h, gm_domid d)
{
	int r = bump("evtchn_bind_unbound");
	(void)h; (void)d;
	return r ? r : 6;
}

static int f_unbind(void *h, gm_port p) { (void)h; (void)p; return bump("evtchn_unbind"); }
static int f_notify(void *h, gm_port p) { (void)h; (void)p; return bump("evtchn_notify"); }
static int f_unmask(void *h, gm_port p) { (void)h; (void)p; return bump("evtchn_unmask"); }

static int f_pending(void *h)
{
	int r = bump("evtchn_pending");
	(void)h;
	return r ? r : 5;
}

static int f_xs_read(void *h, gm_xs_tx tx, const char *path, char **value, size_t *len)
{
	int r = bump("xs_read");

	(void)h; (void)tx; (void)path;
	if (r)
		return r;
	*value = strdup("value");
	*len = 5;
	return 0;
}

static size_t last_write_len;
static char last_write[64];

static int f_xs_write(void *h, gm_xs_tx tx, const char *path, const void *v, size_t len)
{
	int r = bump("xs_write");

	(void)h; (void)tx; (void)path;
	if (!r) {
		last_write_len = len;
		memcpy(last_write, v, len < sizeof(last_write) ? len : sizeof(last_write));
	}
	return r;
}

static int f_xs_dir(void *h, gm_xs_tx tx, const char *path, char ***names)
{
	int r = bump("xs_directory");
	char **n;

	(void)h; (void)tx; (void)path;
	if (r)
		return r;
	n = malloc(2 * sizeof(char *) + 2);
	n[0] = (char *)(n + 2);
	strcpy(n[0], "a");
	n[1] = NULL;
	*names = n;
	return 1;
}

static int f_xs_rm(void *h, gm_xs_tx tx, const char *p) { (void)h; (void)tx; (void)p; return bump("xs_rm"); }
static int f_xs_mkdir(void *h, gm_xs_tx tx, const char *p) { (void)h; (void)tx; (void)p; return bump("xs_mkdir"); }

static int f_xs_perms(void *h, gm_xs_tx tx, const char *p, const struct gm_xs_perm *pp, unsigned n)
{
	(void)h; (void)tx; (void)p; (void)pp; (void)n;
	return bump("xs_set_perms");
}

static int f_xs_watch(void *h, const char *p, const char *t) { (void)h; (void)p; (void)t; return bump("xs_watch"); }
static int f_xs_unwatch(void *h, const char *p, const char *t) { (void)h; (void)p; (void)t; return bump("xs_unwatch"); }

static int f_xs_read_watch(void *h, char **path, char **token)
{
	int r = bump("xs_read_watch");

	(void)h;
	if (r)
		return r;
	*path = strdup("/p");
	*token = strdup("t");
	return 0;
}

static int f_tx_start(void *h, gm_xs_tx *tx)
{
	int r = bump("xs_tx_start");

	(void)h;
	if (!r)
		*tx = 7;
	return r;
}

static int f_tx_end(void *h, gm_xs_tx tx, int abort)
{
	int r = bump("xs_tx_end");

	(void)h;
	ASSERT_EQ(tx, 7);
	last_abort = abort;
	if (r)
		return r;
	if (!abort && conflicts_left > 0) {
		conflicts_left--;
		return -EAGAIN;
	}
	return 0;
}

static int f_domain_path(void *h, gm_domid d, char **path)
{
	int r = bump("xs_domain_path");

	(void)h; (void)d;
	if (!r)
		*path = strdup("/local/domain/3");
	return r;
}

static int f_self(void *w, gm_domid *d)
{
	(void)w;
	bump("self_domid");
	*d = 3;
	return 0;
}

static void f_world_close(void *w)
{
	ASSERT_PTR_EQ(w, &handle_token);
	world_closed++;
}

static const struct gm_xen_ops full_ops = {
	.name = "counting",
	.gnttab_open = f_gnttab_open, .gnttab_close = f_close,
	.gnttab_set_max_grants = f_set_max, .gnttab_map = f_map, .gnttab_unmap = f_unmap,
	.gnttab_copy = f_copy,
	.gntshr_open = f_gntshr_open, .gntshr_close = f_close, .gntshr_share = f_share,
	.gntshr_end_access = f_end, .gntshr_unshare = f_unshare,
	.evtchn_open = f_evtchn_open, .evtchn_close = f_close, .evtchn_fd = f_fd,
	.evtchn_bind_interdomain = f_bind_i, .evtchn_bind_unbound = f_bind_u,
	.evtchn_unbind = f_unbind, .evtchn_notify = f_notify, .evtchn_pending = f_pending,
	.evtchn_unmask = f_unmask,
	.xs_open = f_xs_open, .xs_close = f_close, .xs_fd = f_fd, .xs_read = f_xs_read,
	.xs_write = f_xs_write, .xs_directory = f_xs_dir, .xs_rm = f_xs_rm,
	.xs_mkdir = f_xs_mkdir, .xs_set_perms = f_xs_perms, .xs_watch = f_xs_watch,
	.xs_unwatch = f_xs_unwatch, .xs_read_watch = f_xs_read_watch,
	.xs_tx_start = f_tx_start, .xs_tx_end = f_tx_end, .xs_domain_path = f_domain_path,
	.self_domid = f_self, .world_close = f_world_close,
};

/* Only opens and closes: everything else is -EOPNOTSUPP. */
static const struct gm_xen_ops open_only_ops = {
	.gnttab_open = f_gnttab_open, .gnttab_close = f_close,
	.gntshr_open = f_gntshr_open, .gntshr_close = f_close,
	.evtchn_open = f_evtchn_open, .evtchn_close = f_close,
	.xs_open = f_xs_open, .xs_close = f_close,
};

static const struct gm_xen_ops empty_ops = { .name = NULL };

/* ---- log capture --------------------------------------------------------------- */

static int log_lines[4];
static char last_log[512];

static void sink(void *opaque, gm_log_level level, const char *msg)
{
	(void)opaque;
	log_lines[level]++;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static void log_reset(void)
{
	memset(log_lines, 0, sizeof(log_lines));
	last_log[0] = '\0';
}

/* ---- fixtures -------------------------------------------------------------------- */

static gm_xen *X;
static gm_gnttab *G;
static gm_gntshr *S;
static gm_evtchn *E;
static gm_xs *H;
static const gm_gref refs[2] = {1, 2};

/* One call of each site's wrapper; returns 0 or the negative errno. */
static int c_gnttab_open(void)
{
	gm_gnttab *g;
	int r = gm_gnttab_open(X, &g);

	if (!r)
		gm_gnttab_close(g);
	else
		ASSERT_NULL(g);
	return r;
}

static int c_gntshr_open(void)
{
	gm_gntshr *s;
	int r = gm_gntshr_open(X, &s);

	if (!r)
		gm_gntshr_close(s);
	return r;
}

static int c_evtchn_open(void)
{
	gm_evtchn *e;
	int r = gm_evtchn_open(X, &e);

	if (!r)
		gm_evtchn_close(e);
	return r;
}

static int c_xs_open(void)
{
	gm_xs *h;
	int r = gm_xs_open(X, &h);

	if (!r)
		gm_xs_close(h);
	return r;
}

static int c_set_max(void) { return gm_gnttab_set_max_grants(G, 16); }

static int c_map(void)
{
	int err = 1;
	void *p = gm_gnttab_map(G, 2, 1, refs, GM_PROT_RW, &err);

	if (!p)
		return err;
	ASSERT_EQ(err, 0);
	ASSERT_PTR_EQ(p, pages[0]);
	return 0;
}

static int c_unmap(void) { return gm_gnttab_unmap(G, pages[0], 2); }

static int c_copy(void)
{
	struct gm_copy_seg seg = {0};
	static char buf[64];

	seg.source.foreign.ref = 1;
	seg.source.foreign.domid = 1;
	seg.dest.virt = buf;
	seg.len = sizeof(buf);
	seg.flags = GM_COPY_SOURCE_GREF;
	return gm_gnttab_copy(G, 1, &seg);
}

static int c_share(void)
{
	gm_gref r[2];
	int err = 1;
	void *p = gm_gntshr_share(S, 1, 2, r, 1, &err);

	if (!p)
		return err;
	ASSERT_EQ(r[1], 101);
	return 0;
}

static int c_end(void) { return gm_gntshr_end_access(S, 100); }
static int c_unshare(void) { return gm_gntshr_unshare(S, pages[1], 2); }
static int c_bind_i(void) { int r = gm_evtchn_bind_interdomain(E, 1, 3); return r < 0 ? r : 0; }
static int c_bind_u(void) { int r = gm_evtchn_bind_unbound(E, 1); return r < 0 ? r : 0; }
static int c_unbind(void) { return gm_evtchn_unbind(E, 5); }
static int c_notify(void) { return gm_evtchn_notify(E, 5); }
static int c_pending(void) { int r = gm_evtchn_pending(E); return r < 0 ? r : 0; }
static int c_unmask(void) { return gm_evtchn_unmask(E, 5); }

static int c_xs_read(void)
{
	char *v = (char *)1;
	size_t len = 99;
	int r = gm_xs_read(H, GM_XS_TX_NONE, "/a", &v, &len);

	if (r) {
		ASSERT_NULL(v);
		ASSERT_EQ(len, 0);
		return r;
	}
	ASSERT_EQ(len, 5);
	ASSERT_TRUE(!strcmp(v, "value"));
	free(v);
	return 0;
}

static int c_xs_write(void) { return gm_xs_write(H, GM_XS_TX_NONE, "/a", "xy", 2); }

static int c_xs_dir(void)
{
	char **n = (char **)1;
	int r = gm_xs_directory(H, GM_XS_TX_NONE, "/a", &n);

	if (r < 0) {
		ASSERT_NULL(n);
		return r;
	}
	ASSERT_EQ(r, 1);
	ASSERT_TRUE(!strcmp(n[0], "a"));
	free(n);
	return 0;
}

static int c_xs_rm(void) { return gm_xs_rm(H, GM_XS_TX_NONE, "/a"); }
static int c_xs_mkdir(void) { return gm_xs_mkdir(H, GM_XS_TX_NONE, "/a"); }

static int c_xs_perms(void)
{
	struct gm_xs_perm p[2] = {{0, GM_XS_PERM_NONE}, {3, GM_XS_PERM_READ}};

	return gm_xs_set_perms(H, GM_XS_TX_NONE, "/a", p, 2);
}

static int c_xs_watch(void) { return gm_xs_watch(H, "/a", "t"); }
static int c_xs_unwatch(void) { return gm_xs_unwatch(H, "/a", "t"); }

static int c_xs_read_watch(void)
{
	char *p = (char *)1, *t = (char *)1;
	int r = gm_xs_read_watch(H, &p, &t);

	if (r) {
		ASSERT_NULL(p);
		ASSERT_NULL(t);
		return r;
	}
	ASSERT_TRUE(!strcmp(p, "/p") && !strcmp(t, "t"));
	free(p);
	free(t);
	return 0;
}

static int c_tx_start(void)
{
	gm_xs_tx tx = 99;
	int r = gm_xs_tx_start(H, &tx);

	ASSERT_EQ(tx, r ? GM_XS_TX_NONE : 7);
	return r;
}

static int c_tx_end(void) { return gm_xs_tx_end(H, 7, 0); }

static int c_domain_path(void)
{
	char *p = (char *)1;
	int r = gm_xs_domain_path(H, 3, &p);

	if (r) {
		ASSERT_NULL(p);
		return r;
	}
	ASSERT_TRUE(!strcmp(p, "/local/domain/3"));
	free(p);
	return 0;
}

static const struct {
	const char *site;
	int (*call)(void);
} cases[] = {
	{"gnttab_open", c_gnttab_open},
	{"gnttab_set_max_grants", c_set_max},
	{"gnttab_map", c_map},
	{"gnttab_unmap", c_unmap},
	{"gnttab_copy", c_copy},
	{"gntshr_open", c_gntshr_open},
	{"gntshr_share", c_share},
	{"gntshr_end_access", c_end},
	{"gntshr_unshare", c_unshare},
	{"evtchn_open", c_evtchn_open},
	{"evtchn_bind_interdomain", c_bind_i},
	{"evtchn_bind_unbound", c_bind_u},
	{"evtchn_unbind", c_unbind},
	{"evtchn_notify", c_notify},
	{"evtchn_pending", c_pending},
	{"evtchn_unmask", c_unmask},
	{"xs_open", c_xs_open},
	{"xs_read", c_xs_read},
	{"xs_write", c_xs_write},
	{"xs_directory", c_xs_dir},
	{"xs_rm", c_xs_rm},
	{"xs_mkdir", c_xs_mkdir},
	{"xs_set_perms", c_xs_perms},
	{"xs_watch", c_xs_watch},
	{"xs_unwatch", c_xs_unwatch},
	{"xs_read_watch", c_xs_read_watch},
	{"xs_tx_start", c_tx_start},
	{"xs_tx_end", c_tx_end},
	{"xs_domain_path", c_domain_path},
};

static void open_all(const struct gm_xen_ops *ops)
{
	ASSERT_OK(gm_xen_open_ops(ops, &handle_token, &X));
	ASSERT_OK(gm_gnttab_open(X, &G));
	ASSERT_OK(gm_gntshr_open(X, &S));
	ASSERT_OK(gm_evtchn_open(X, &E));
	ASSERT_OK(gm_xs_open(X, &H));
}

static void close_all(void)
{
	gm_gnttab_close(G);
	gm_gntshr_close(S);
	gm_evtchn_close(E);
	gm_xs_close(H);
	gm_xen_close(X);
	G = NULL;
	S = NULL;
	E = NULL;
	H = NULL;
	X = NULL;
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_every_site_succeeds(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned long before = calls_of(cases[i].site);

		ASSERT_OK(cases[i].call());
		ASSERT_EQ(calls_of(cases[i].site), before + 1);
	}
}

static void test_fault_injection(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *site = cases[i].site;
		unsigned long before = calls_of(site);

		gm_fault_reset();
		/* the second call fails, with an errno no op returns */
		ASSERT_OK(gm_fault_inject(site, 2, -ENOTRECOVERABLE));
		ASSERT_OK(cases[i].call());
		ASSERT_EQ(calls_of(site), before + 1);
		ASSERT_EQ(gm_fault_count(site), 1);
		log_reset();
		if (cases[i].call() != -ENOTRECOVERABLE)
			GM_TEST_FAIL("site %s: injected failure not returned", site);
		if (calls_of(site) != before + 1)
			GM_TEST_FAIL("site %s: the op ran despite the injected failure", site);
		ASSERT_EQ(gm_fault_count(site), 2);
		/* a failure the caller must act on: logged at warning */
		if (log_lines[GM_LOG_WARNING] != 1)
			GM_TEST_FAIL("site %s: %d warning lines, last \"%s\"", site,
				     log_lines[GM_LOG_WARNING], last_log);
		/* armed once only */
		ASSERT_OK(cases[i].call());
		ASSERT_EQ(calls_of(site), before + 2);
		ASSERT_EQ(gm_fault_count(site), 3);
	}
	gm_fault_reset();

	/* several calls in a row: the 2nd and 3rd fail, the 4th goes through */
	{
		const char *site = cases[0].site;
		unsigned long ran = calls_of(site);

		ASSERT_ERR(gm_fault_inject_times(site, 1, 0, -EIO), -EINVAL);
		ASSERT_ERR(gm_fault_inject_times("no_such_site", 1, 2, -EIO), -EINVAL);
		ASSERT_OK(gm_fault_inject_times(site, 2, 2, -ENOTRECOVERABLE));
		ASSERT_OK(cases[0].call());
		ASSERT_ERR(cases[0].call(), -ENOTRECOVERABLE);
		ASSERT_ERR(cases[0].call(), -ENOTRECOVERABLE);
		ASSERT_OK(cases[0].call());
		ASSERT_EQ(calls_of(site), ran + 2);
		ASSERT_EQ(gm_fault_count(site), 4);
		gm_fault_reset();
	}

	/* "alloc": opening a handle allocates before calling the world */
	unsigned long before = calls_of("gnttab_open");
	gm_gnttab *g = (gm_gnttab *)1;

	ASSERT_OK(gm_fault_inject("alloc", 1, -ENOMEM));
	ASSERT_ERR(gm_gnttab_open(X, &g), -ENOMEM);
	ASSERT_NULL(g);
	ASSERT_EQ(calls_of("gnttab_open"), before);
	gm_fault_reset();
}

static void test_world_errors_and_log_levels(void)
{
	int err;

	/* a guest's bad ref: info, not warning */
	set_fail("gnttab_map", -EINVAL);
	log_reset();
	ASSERT_NULL(gm_gnttab_map(G, 1, 1, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_EQ(log_lines[GM_LOG_WARNING], 0);
	ASSERT_EQ(log_lines[GM_LOG_INFO], 1);
	ASSERT_TRUE(strstr(last_log, "gnttab_map") != NULL);
	/* err may be NULL */
	ASSERT_NULL(gm_gnttab_map(G, 1, 1, refs, GM_PROT_READ, NULL));
	/* the budget: info */
	set_fail("gnttab_map", -ENOSPC);
	log_reset();
	ASSERT_NULL(gm_gnttab_map(G, 1, 1, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -ENOSPC);
	ASSERT_EQ(log_lines[GM_LOG_WARNING], 0);
	/* a world that returns NULL without an errno: -EIO, never success */
	set_fail("gnttab_map", 1);
	ASSERT_NULL(gm_gnttab_map(G, 1, 1, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EIO);
	set_fail("gnttab_map", 0);

	/* unmap failing: warning */
	set_fail("gnttab_unmap", -EFAULT);
	log_reset();
	ASSERT_ERR(gm_gnttab_unmap(G, pages[0], 1), -EFAULT);
	ASSERT_EQ(log_lines[GM_LOG_WARNING], 1);
	set_fail("gnttab_unmap", 0);

	/* nothing pending: -EAGAIN, not logged */
	set_fail("evtchn_pending", -EAGAIN);
	log_reset();
	ASSERT_ERR(gm_evtchn_pending(E), -EAGAIN);
	ASSERT_EQ(log_lines[GM_LOG_WARNING] + log_lines[GM_LOG_INFO], 0);
	set_fail("evtchn_pending", 0);

	set_fail("xs_read_watch", -EAGAIN);
	log_reset();
	ASSERT_ERR(c_xs_read_watch(), -EAGAIN);
	ASSERT_EQ(log_lines[GM_LOG_WARNING] + log_lines[GM_LOG_INFO], 0);
	set_fail("xs_read_watch", 0);

	/* a missing node: debug only */
	set_fail("xs_read", -ENOENT);
	log_reset();
	ASSERT_ERR(c_xs_read(), -ENOENT);
	ASSERT_EQ(log_lines[GM_LOG_WARNING] + log_lines[GM_LOG_INFO], 0);
	ASSERT_EQ(log_lines[GM_LOG_DEBUG], 1);
	set_fail("xs_read", 0);

	/* a busy grant: debug */
	set_fail("gntshr_end_access", -EBUSY);
	log_reset();
	ASSERT_ERR(gm_gntshr_end_access(S, 1), -EBUSY);
	ASSERT_EQ(log_lines[GM_LOG_WARNING] + log_lines[GM_LOG_INFO], 0);
	set_fail("gntshr_end_access", 0);

	/* open failing: warning, no handle */
	gm_gnttab *g = (gm_gnttab *)1;

	set_fail("gnttab_open", -ENOENT);
	log_reset();
	ASSERT_ERR(gm_gnttab_open(X, &g), -ENOENT);
	ASSERT_NULL(g);
	ASSERT_EQ(log_lines[GM_LOG_WARNING], 1);
	set_fail("gnttab_open", 0);
}

/* The wrapper call of @site (from cases[]). */
static int (*call_of(const char *site))(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(cases[i].site, site))
			return cases[i].call;
	GM_TEST_FAIL("no case for site %s", site);
}

#define NOT_LOGGED (-1)

/*
 * Each wrapper's log class: the level a world's failure with this errno logs
 * at (xen.h: guest-caused errnos at info, a missing node or a busy grant at
 * debug, "nothing yet" not at all, the rest at warning, and always warning
 * for the calls whose failure the caller must act on).
 */
static const struct {
	const char *site;
	int err;
	int level;
} log_classes[] = {
	/* opening a handle: the caller must act */
	{"gnttab_open", -ENOENT, GM_LOG_WARNING},
	{"gntshr_open", -EACCES, GM_LOG_WARNING},
	{"evtchn_open", -ENOENT, GM_LOG_WARNING},
	{"xs_open", -EPERM, GM_LOG_WARNING},
	/* gnttab */
	{"gnttab_set_max_grants", -EINVAL, GM_LOG_WARNING},
	{"gnttab_map", -EINVAL, GM_LOG_INFO},
	{"gnttab_map", -ESRCH, GM_LOG_INFO},
	{"gnttab_map", -EACCES, GM_LOG_INFO},
	{"gnttab_map", -ENOSPC, GM_LOG_INFO},
	{"gnttab_map", -ENOMEM, GM_LOG_WARNING},
	{"gnttab_unmap", -EINVAL, GM_LOG_WARNING},
	{"gnttab_copy", -EINVAL, GM_LOG_WARNING},
	{"gnttab_copy", -EFAULT, GM_LOG_WARNING},
	/* gntshr */
	{"gntshr_share", -ENOSPC, GM_LOG_WARNING},
	{"gntshr_end_access", -EBUSY, GM_LOG_DEBUG},
	{"gntshr_end_access", -EINVAL, GM_LOG_WARNING},
	{"gntshr_unshare", -EBUSY, GM_LOG_INFO},
	{"gntshr_unshare", -EINVAL, GM_LOG_WARNING},
	/* evtchn */
	{"evtchn_bind_interdomain", -EINVAL, GM_LOG_INFO},
	{"evtchn_bind_interdomain", -ESRCH, GM_LOG_INFO},
	{"evtchn_bind_interdomain", -ENOMEM, GM_LOG_WARNING},
	{"evtchn_bind_unbound", -ESRCH, GM_LOG_WARNING},
	{"evtchn_unbind", -EINVAL, GM_LOG_INFO},
	{"evtchn_unbind", -ENOTCONN, GM_LOG_WARNING},
	{"evtchn_notify", -EINVAL, GM_LOG_INFO},
	{"evtchn_notify", -ENOTCONN, GM_LOG_WARNING},
	{"evtchn_unmask", -EINVAL, GM_LOG_INFO},
	{"evtchn_unmask", -ENOTCONN, GM_LOG_WARNING},
	{"evtchn_pending", -EAGAIN, NOT_LOGGED},
	{"evtchn_pending", -EINVAL, GM_LOG_WARNING},
	/* xenstore */
	{"xs_read", -ENOENT, GM_LOG_DEBUG},
	{"xs_read", -EACCES, GM_LOG_INFO},
	{"xs_read", -EIO, GM_LOG_WARNING},
	{"xs_write", -ENOENT, GM_LOG_DEBUG},
	{"xs_write", -EPERM, GM_LOG_INFO},
	{"xs_write", -ENOSPC, GM_LOG_INFO},
	{"xs_write", -E2BIG, GM_LOG_WARNING},
	{"xs_directory", -ENOENT, GM_LOG_DEBUG},
	{"xs_directory", -EACCES, GM_LOG_INFO},
	{"xs_rm", -ENOENT, GM_LOG_DEBUG},
	{"xs_rm", -EACCES, GM_LOG_INFO},
	{"xs_mkdir", -EEXIST, GM_LOG_WARNING},
	{"xs_set_perms", -EPERM, GM_LOG_INFO},
	{"xs_watch", -EINVAL, GM_LOG_INFO},
	{"xs_watch", -EEXIST, GM_LOG_WARNING},
	{"xs_unwatch", -ENOENT, GM_LOG_DEBUG},
	{"xs_read_watch", -EAGAIN, NOT_LOGGED},
	{"xs_read_watch", -ENOENT, GM_LOG_DEBUG},
	{"xs_read_watch", -EIO, GM_LOG_WARNING},
	{"xs_tx_start", -ENOSPC, GM_LOG_INFO},
	{"xs_tx_start", -EIO, GM_LOG_WARNING},
	{"xs_tx_end", -EAGAIN, GM_LOG_DEBUG},
	{"xs_tx_end", -EINVAL, GM_LOG_INFO},
	{"xs_tx_end", -EIO, GM_LOG_WARNING},
	{"xs_domain_path", -ENOENT, GM_LOG_WARNING},
	{"xs_domain_path", -EACCES, GM_LOG_WARNING},
};

static void test_log_classes(void)
{
	for (size_t i = 0; i < sizeof(log_classes) / sizeof(log_classes[0]); i++) {
		const char *site = log_classes[i].site;
		int err = log_classes[i].err, want = log_classes[i].level;
		int got = NOT_LOGGED, lines = 0;

		set_fail(site, err);
		log_reset();
		if (call_of(site)() != err)
			GM_TEST_FAIL("site %s: world's %d not returned", site, err);
		set_fail(site, 0);
		for (int l = GM_LOG_ERROR; l <= GM_LOG_DEBUG; l++) {
			lines += log_lines[l];
			if (log_lines[l])
				got = l;
		}
		if (lines > 1 || got != want)
			GM_TEST_FAIL("site %s, errno %d: %d line(s), last at level %d, "
				     "want one at %d (\"%s\")",
				     site, -err, lines, got, want, last_log);
		/* the line names the world and the call */
		if (want != NOT_LOGGED &&
		    (strncmp(last_log, "counting: ", 10) || !strstr(last_log, site)))
			GM_TEST_FAIL("site %s: line \"%s\"", site, last_log);
	}
}

/* A world whose calls "succeed" without their output: never success. */
static int l_open(void *w, void **h) { (void)w; *h = NULL; return 0; }
static void *l_map(void *h, uint32_t c, gm_domid d, const gm_gref *r, int p, int *err)
{
	(void)h; (void)c; (void)d; (void)r; (void)p;
	*err = 0;
	return NULL;
}
static void *l_share(void *h, gm_domid d, uint32_t c, gm_gref *r, int w, int *err)
{
	(void)h; (void)d; (void)c; (void)r; (void)w;
	*err = 0;
	return NULL;
}
static int l_xs_read(void *h, gm_xs_tx tx, const char *p, char **v, size_t *len)
{
	(void)h; (void)tx; (void)p;
	*v = NULL;
	*len = 3;
	return 0;
}
static int l_xs_dir(void *h, gm_xs_tx tx, const char *p, char ***names)
{
	(void)h; (void)tx; (void)p;
	*names = NULL;
	return 2;
}
static int l_read_watch(void *h, char **path, char **token)
{
	(void)h;
	*path = strdup("/half"); /* freed by the wrapper: the call "succeeded" */
	*token = NULL;
	return 0;
}
static int l_tx_start(void *h, gm_xs_tx *tx) { (void)h; *tx = GM_XS_TX_NONE; return 0; }
static int l_domain_path(void *h, gm_domid d, char **p) { (void)h; (void)d; *p = NULL; return 0; }

static const struct gm_xen_ops lying_open_ops = {
	.name = "lying",
	.gnttab_open = l_open,
	.gnttab_close = f_close,
};

static void test_missing_outputs(void)
{
	gm_gnttab *g = (gm_gnttab *)1;
	char *v = (char *)1, **n = (char **)1, *p = (char *)1, *t = (char *)1;
	size_t len = 99;
	gm_xs_tx tx = 99;
	gm_gref r[1];
	gm_xen *x;
	int err = 1;

	/* the counting world's handles, lying calls */
	static struct gm_xen_ops ops;

	ops = full_ops;
	ops.gnttab_map = l_map;
	ops.gntshr_share = l_share;
	ops.xs_read = l_xs_read;
	ops.xs_directory = l_xs_dir;
	ops.xs_read_watch = l_read_watch;
	ops.xs_tx_start = l_tx_start;
	ops.xs_domain_path = l_domain_path;
	open_all(&ops);

	log_reset();
	ASSERT_NULL(gm_gnttab_map(G, 1, 1, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EIO);
	err = 1;
	ASSERT_NULL(gm_gntshr_share(S, 1, 1, r, 1, &err));
	ASSERT_EQ(err, -EIO);
	ASSERT_ERR(gm_xs_read(H, 0, "/a", &v, &len), -EIO);
	ASSERT_NULL(v);
	ASSERT_EQ(len, 0);
	ASSERT_ERR(gm_xs_directory(H, 0, "/a", &n), -EIO);
	ASSERT_NULL(n);
	ASSERT_ERR(gm_xs_read_watch(H, &p, &t), -EIO);
	ASSERT_NULL(p);
	ASSERT_NULL(t);
	ASSERT_ERR(gm_xs_tx_start(H, &tx), -EIO);
	ASSERT_EQ(tx, GM_XS_TX_NONE);
	ASSERT_ERR(gm_xs_domain_path(H, 1, &p), -EIO);
	ASSERT_NULL(p);
	/* -EIO is the host's trouble: one warning each */
	ASSERT_EQ(log_lines[GM_LOG_WARNING], 7);
	ASSERT_EQ(log_lines[GM_LOG_INFO], 0);
	close_all();

	/* an open that "succeeds" without a handle */
	ASSERT_OK(gm_xen_open_ops(&lying_open_ops, &handle_token, &x));
	log_reset();
	ASSERT_ERR(gm_gnttab_open(x, &g), -EIO);
	ASSERT_NULL(g);
	ASSERT_EQ(log_lines[GM_LOG_WARNING], 1);
	gm_xen_close(x);
}

/* xenstore calls on one handle are serialised; the world sees one at a time. */
static atomic_int xs_inside, xs_overlaps;

static int s_xs_write(void *h, gm_xs_tx tx, const char *path, const void *v, size_t len)
{
	(void)h; (void)tx; (void)path; (void)v; (void)len;
	if (atomic_fetch_add(&xs_inside, 1) != 0)
		atomic_fetch_add(&xs_overlaps, 1);
	for (int i = 0; i < 3; i++)
		sched_yield();
	atomic_fetch_sub(&xs_inside, 1);
	return 0;
}

static void *xs_writer(void *arg)
{
	for (int i = 0; i < 300; i++)
		if (gm_xs_write_str(arg, 0, "/a", "v"))
			atomic_fetch_add(&xs_overlaps, 1000);
	return NULL;
}

static void test_xs_serialised(void)
{
	static struct gm_xen_ops ops;
	pthread_t th[4];

	ops = full_ops;
	ops.xs_write = s_xs_write;
	open_all(&ops);
	for (int i = 0; i < 4; i++)
		ASSERT_OK(pthread_create(&th[i], NULL, xs_writer, H));
	for (int i = 0; i < 4; i++)
		ASSERT_OK(pthread_join(th[i], NULL));
	ASSERT_EQ(atomic_load(&xs_overlaps), 0);
	close_all();
}

static void test_bad_arguments(void)
{
	unsigned long before = total_calls;
	struct gm_copy_seg seg = {0};
	struct gm_xs_perm perm = {0, GM_XS_PERM_READ};
	char buf[16], *v, **n, *p, *t;
	gm_gnttab *g;
	gm_gntshr *s;
	gm_evtchn *e;
	gm_xs *h;
	gm_xs_tx tx;
	gm_domid d;
	gm_gref r[1];
	int err;

	gm_xen *x = (gm_xen *)1;

	log_reset();
	ASSERT_ERR(gm_xen_open_ops(NULL, NULL, &x), -EINVAL);
	ASSERT_NULL(x);
	ASSERT_ERR(gm_xen_open_ops(&full_ops, NULL, NULL), -EINVAL);
	ASSERT_ERR(gm_xen_open(NULL, NULL), -EINVAL);
	ASSERT_ERR(gm_xen_self_domid(NULL, &d), -EINVAL);
	ASSERT_ERR(gm_xen_self_domid(X, NULL), -EINVAL);

	ASSERT_ERR(gm_gnttab_open(NULL, &g), -EINVAL);
	ASSERT_ERR(gm_gnttab_open(X, NULL), -EINVAL);
	ASSERT_ERR(gm_gntshr_open(NULL, &s), -EINVAL);
	ASSERT_ERR(gm_evtchn_open(NULL, &e), -EINVAL);
	ASSERT_ERR(gm_xs_open(NULL, &h), -EINVAL);

	ASSERT_ERR(gm_gnttab_set_max_grants(NULL, 1), -EINVAL);
	ASSERT_ERR(gm_gnttab_set_max_grants(G, 0), -EINVAL);
	ASSERT_NULL(gm_gnttab_map(NULL, 1, 1, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(gm_gnttab_map(G, 0, 1, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(gm_gnttab_map(G, 1, 1, NULL, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(gm_gnttab_map(G, 1, 1, refs, 0, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(gm_gnttab_map(G, 1, 1, refs, GM_PROT_READ | GM_MAP_TRANSIENT, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_ERR(gm_gnttab_unmap(NULL, pages[0], 1), -EINVAL);
	ASSERT_ERR(gm_gnttab_unmap(G, NULL, 1), -EINVAL);
	ASSERT_ERR(gm_gnttab_unmap(G, pages[0], 0), -EINVAL);
	ASSERT_ERR(gm_gnttab_unmap(G, pages[0] + 1, 1), -EINVAL);
	ASSERT_ERR(gm_gnttab_copy(NULL, 1, &seg), -EINVAL);
	ASSERT_ERR(gm_gnttab_copy(G, 0, &seg), -EINVAL);
	ASSERT_ERR(gm_gnttab_copy(G, 1, NULL), -EINVAL);
	/* crossing the page end on the foreign side, as Xen refuses */
	seg.flags = GM_COPY_SOURCE_GREF;
	seg.source.foreign.offset = 4000;
	seg.dest.virt = buf;
	seg.len = 200;
	ASSERT_ERR(gm_gnttab_copy(G, 1, &seg), -EINVAL);
	seg.source.foreign.offset = 0;
	seg.len = 16;
	seg.flags = 0x4 | GM_COPY_SOURCE_GREF;
	ASSERT_ERR(gm_gnttab_copy(G, 1, &seg), -EINVAL);
	seg.flags = GM_COPY_SOURCE_GREF;
	seg.dest.virt = NULL;
	ASSERT_ERR(gm_gnttab_copy(G, 1, &seg), -EINVAL);

	ASSERT_NULL(gm_gntshr_share(NULL, 1, 1, r, 1, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(gm_gntshr_share(S, 1, 0, r, 1, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(gm_gntshr_share(S, 1, 1, NULL, 1, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_ERR(gm_gntshr_end_access(NULL, 1), -EINVAL);
	ASSERT_ERR(gm_gntshr_unshare(NULL, pages[1], 1), -EINVAL);
	ASSERT_ERR(gm_gntshr_unshare(S, NULL, 1), -EINVAL);
	ASSERT_ERR(gm_gntshr_unshare(S, pages[1], 0), -EINVAL);

	ASSERT_ERR(gm_evtchn_fd(NULL), -EINVAL);
	ASSERT_ERR(gm_evtchn_bind_interdomain(NULL, 1, 1), -EINVAL);
	ASSERT_ERR(gm_evtchn_bind_unbound(NULL, 1), -EINVAL);
	ASSERT_ERR(gm_evtchn_unbind(NULL, 1), -EINVAL);
	ASSERT_ERR(gm_evtchn_notify(NULL, 1), -EINVAL);
	ASSERT_ERR(gm_evtchn_pending(NULL), -EINVAL);
	ASSERT_ERR(gm_evtchn_unmask(NULL, 1), -EINVAL);

	ASSERT_ERR(gm_xs_fd(NULL), -EINVAL);
	ASSERT_ERR(gm_xs_read(NULL, 0, "/a", &v, NULL), -EINVAL);
	ASSERT_ERR(gm_xs_read(H, 0, NULL, &v, NULL), -EINVAL);
	ASSERT_ERR(gm_xs_read(H, 0, "", &v, NULL), -EINVAL);
	ASSERT_ERR(gm_xs_read(H, 0, "/a", NULL, NULL), -EINVAL);
	ASSERT_ERR(gm_xs_write(H, 0, NULL, "x", 1), -EINVAL);
	ASSERT_ERR(gm_xs_write(H, 0, "/a", NULL, 1), -EINVAL);
	ASSERT_ERR(gm_xs_write_str(H, 0, "/a", NULL), -EINVAL);
	ASSERT_ERR(gm_xs_write_str(NULL, 0, "/a", "x"), -EINVAL);
	ASSERT_ERR(gm_xs_directory(H, 0, "/a", NULL), -EINVAL);
	ASSERT_ERR(gm_xs_directory(H, 0, NULL, &n), -EINVAL);
	ASSERT_ERR(gm_xs_rm(H, 0, NULL), -EINVAL);
	ASSERT_ERR(gm_xs_rm(NULL, 0, "/a"), -EINVAL);
	ASSERT_ERR(gm_xs_mkdir(H, 0, ""), -EINVAL);
	ASSERT_ERR(gm_xs_set_perms(H, 0, "/a", NULL, 1), -EINVAL);
	ASSERT_ERR(gm_xs_set_perms(H, 0, "/a", &perm, 0), -EINVAL);
	perm.perms = 0x80;
	ASSERT_ERR(gm_xs_set_perms(H, 0, "/a", &perm, 1), -EINVAL);
	ASSERT_ERR(gm_xs_watch(H, "/a", NULL), -EINVAL);
	ASSERT_ERR(gm_xs_watch(H, NULL, "t"), -EINVAL);
	ASSERT_ERR(gm_xs_unwatch(NULL, "/a", "t"), -EINVAL);
	ASSERT_ERR(gm_xs_read_watch(H, &p, NULL), -EINVAL);
	ASSERT_ERR(gm_xs_read_watch(H, NULL, &t), -EINVAL);
	ASSERT_ERR(gm_xs_tx_start(H, NULL), -EINVAL);
	ASSERT_ERR(gm_xs_tx_start(NULL, &tx), -EINVAL);
	ASSERT_ERR(gm_xs_tx_end(H, GM_XS_TX_NONE, 0), -EINVAL);
	ASSERT_ERR(gm_xs_domain_path(H, 1, NULL), -EINVAL);
	ASSERT_ERR(gm_xs_domain_path(NULL, 1, &p), -EINVAL);

	/* none of them reached the world; the caller's bugs log at debug only */
	ASSERT_EQ(total_calls, before);
	ASSERT_EQ(log_lines[GM_LOG_ERROR] + log_lines[GM_LOG_WARNING] + log_lines[GM_LOG_INFO], 0);
	ASSERT_TRUE(log_lines[GM_LOG_DEBUG] > 0);

	/* close functions accept NULL */
	gm_gnttab_close(NULL);
	gm_gntshr_close(NULL);
	gm_evtchn_close(NULL);
	gm_xs_close(NULL);
	gm_xen_close(NULL);
	ASSERT_TRUE(!strcmp(gm_xen_name(NULL), "(none)"));
}

static void test_null_ops(void)
{
	gm_xen *x;
	gm_gnttab *g;
	gm_domid d;
	struct gm_copy_seg seg = {0};
	char buf[8], *v, **n, *p, *t;
	gm_gref r[1];
	gm_xs_tx tx;
	int err;

	/* no callbacks at all */
	ASSERT_OK(gm_xen_open_ops(&empty_ops, &handle_token, &x));
	ASSERT_TRUE(!strcmp(gm_xen_name(x), "custom"));
	ASSERT_ERR(gm_gnttab_open(x, &g), -EOPNOTSUPP);
	ASSERT_NULL(g);
	ASSERT_ERR(gm_xen_self_domid(x, &d), -EOPNOTSUPP);
	gm_xen_close(x);

	/* handles open, nothing else works */
	open_all(&open_only_ops);
	unsigned long before = total_calls;
	struct gm_xs_perm perm = {0, GM_XS_PERM_READ};

	log_reset();

	ASSERT_ERR(gm_gnttab_set_max_grants(G, 1), -EOPNOTSUPP);
	ASSERT_NULL(gm_gnttab_map(G, 1, 1, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EOPNOTSUPP);
	ASSERT_ERR(gm_gnttab_unmap(G, pages[0], 1), -EOPNOTSUPP);
	seg.dest.virt = buf;
	seg.flags = GM_COPY_SOURCE_GREF;
	seg.len = sizeof(buf);
	ASSERT_ERR(gm_gnttab_copy(G, 1, &seg), -EOPNOTSUPP);
	ASSERT_NULL(gm_gntshr_share(S, 1, 1, r, 0, &err));
	ASSERT_EQ(err, -EOPNOTSUPP);
	ASSERT_ERR(gm_gntshr_end_access(S, 1), -EOPNOTSUPP);
	ASSERT_ERR(gm_gntshr_unshare(S, pages[1], 1), -EOPNOTSUPP);
	ASSERT_ERR(gm_evtchn_fd(E), -EOPNOTSUPP);
	ASSERT_ERR(gm_evtchn_bind_interdomain(E, 1, 1), -EOPNOTSUPP);
	ASSERT_ERR(gm_evtchn_bind_unbound(E, 1), -EOPNOTSUPP);
	ASSERT_ERR(gm_evtchn_unbind(E, 1), -EOPNOTSUPP);
	ASSERT_ERR(gm_evtchn_notify(E, 1), -EOPNOTSUPP);
	ASSERT_ERR(gm_evtchn_pending(E), -EOPNOTSUPP);
	ASSERT_ERR(gm_evtchn_unmask(E, 1), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_fd(H), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_read(H, 0, "/a", &v, NULL), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_write_str(H, 0, "/a", "x"), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_write(H, 0, "/a", "x", 1), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_set_perms(H, 0, "/a", &perm, 1), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_directory(H, 0, "/a", &n), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_rm(H, 0, "/a"), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_mkdir(H, 0, "/a"), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_watch(H, "/a", "t"), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_unwatch(H, "/a", "t"), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_read_watch(H, &p, &t), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_tx_start(H, &tx), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_tx_end(H, 7, 0), -EOPNOTSUPP);
	ASSERT_ERR(gm_xs_domain_path(H, 1, &p), -EOPNOTSUPP);
	ASSERT_EQ(total_calls, before);
	/* what the world cannot do is no failure of it: not logged */
	ASSERT_EQ(log_lines[GM_LOG_ERROR] + log_lines[GM_LOG_WARNING] + log_lines[GM_LOG_INFO] +
			  log_lines[GM_LOG_DEBUG],
		  0);
	close_all();
}

static int tx_runs;

static int tx_fn(gm_xs *h, gm_xs_tx tx, void *arg)
{
	tx_runs++;
	ASSERT_EQ(tx, 7);
	ASSERT_OK(gm_xs_write_str(h, tx, "/a", "v"));
	return *(int *)arg;
}

static void test_transact(void)
{
	int ret = 0;
	unsigned long ends;

	/* two conflicts, three tries: commits on the third run */
	conflicts_left = 2;
	tx_runs = 0;
	ends = calls_of("xs_tx_end");
	ret = 5;
	ASSERT_EQ(gm_xs_transact(H, tx_fn, &ret, 3), 5);
	ASSERT_EQ(tx_runs, 3);
	ASSERT_EQ(calls_of("xs_tx_end"), ends + 3);

	/* always conflicting: gives up after max_tries with -EAGAIN */
	conflicts_left = 1000;
	tx_runs = 0;
	ret = 0;
	log_reset();
	ASSERT_ERR(gm_xs_transact(H, tx_fn, &ret, 4), -EAGAIN);
	ASSERT_EQ(tx_runs, 4);
	ASSERT_EQ(log_lines[GM_LOG_INFO], 1);

	/* fn fails: aborted, its error returned, no retry */
	conflicts_left = 0;
	tx_runs = 0;
	ret = -EPERM;
	ASSERT_ERR(gm_xs_transact(H, tx_fn, &ret, 4), -EPERM);
	ASSERT_EQ(tx_runs, 1);
	ASSERT_EQ(last_abort, 1);

	/* a failing commit other than a conflict is returned at once */
	ret = 0;
	tx_runs = 0;
	set_fail("xs_tx_end", -EIO);
	ASSERT_ERR(gm_xs_transact(H, tx_fn, &ret, 4), -EIO);
	ASSERT_EQ(tx_runs, 1);
	set_fail("xs_tx_end", 0);

	/* start failing */
	set_fail("xs_tx_start", -ENOMEM);
	tx_runs = 0;
	ASSERT_ERR(gm_xs_transact(H, tx_fn, &ret, 4), -ENOMEM);
	ASSERT_EQ(tx_runs, 0);
	set_fail("xs_tx_start", 0);

	ASSERT_ERR(gm_xs_transact(H, tx_fn, &ret, 0), -EINVAL);
	ASSERT_ERR(gm_xs_transact(H, NULL, &ret, 1), -EINVAL);
	ASSERT_ERR(gm_xs_transact(NULL, tx_fn, &ret, 1), -EINVAL);
}

static void test_misc(void)
{
	gm_domid d = 99;

	ASSERT_TRUE(!strcmp(gm_xen_name(X), "counting"));
	ASSERT_OK(gm_xen_self_domid(X, &d));
	ASSERT_EQ(d, 3);
	ASSERT_EQ(gm_evtchn_fd(E), 42);
	ASSERT_EQ(gm_xs_fd(H), 42);
	ASSERT_EQ(gm_evtchn_bind_interdomain(E, 1, 2), 5);
	ASSERT_EQ(gm_evtchn_pending(E), 5);
	ASSERT_OK(gm_xs_write_str(H, 0, "/a", "hello"));
	ASSERT_EQ(last_write_len, 5);
	ASSERT_MEM_EQ(last_write, "hello", 5);
	ASSERT_OK(gm_xs_write(H, 0, "/a", NULL, 0));
	ASSERT_EQ(last_write_len, 0);
}

static void test_gntst(void)
{
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_OKAY), 0);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_GENERAL_ERROR), -EIO);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_BAD_DOMAIN), -ESRCH);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_BAD_GNTREF), -EINVAL);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_BAD_HANDLE), -EINVAL);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_BAD_VIRT_ADDR), -EINVAL);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_BAD_DEV_ADDR), -EINVAL);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_NO_DEVICE_SPACE), -ENOSPC);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_PERMISSION_DENIED), -EACCES);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_BAD_PAGE), -EIO);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_BAD_COPY_ARG), -EINVAL);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_ADDRESS_TOO_BIG), -EINVAL);
	ASSERT_EQ(gm_gntst_errno(GM_GNTST_EAGAIN), -EAGAIN);
	ASSERT_EQ(gm_gntst_errno(-13), -EIO);
	ASSERT_EQ(gm_gntst_errno(1), -EIO);
}

/* A world opened by name through the registry: it records its args. */
static char opened_args[64];
static int open_named(const char *args, gm_xen **out)
{
	snprintf(opened_args, sizeof(opened_args), "%s", args);
	return gm_xen_open_ops(&empty_ops, &handle_token, out);
}

static int open_other(const char *args, gm_xen **out)
{
	(void)args;
	(void)out;
	return -ECONNREFUSED;
}

static int open_absent(const char *args, gm_xen **out)
{
	(void)args;
	(void)out;
	return -ENOENT;
}

static void test_world_registry(void)
{
	gm_xen *x = NULL;

	ASSERT_ERR(gm_xen_world_register(NULL, open_named), -EINVAL);
	ASSERT_ERR(gm_xen_world_register("test", NULL), -EINVAL);
	ASSERT_ERR(gm_xen_world_register("", open_named), -EINVAL);
	ASSERT_ERR(gm_xen_world_register("real", open_named), -EINVAL);
	ASSERT_ERR(gm_xen_world_register("Caps", open_named), -EINVAL);
	ASSERT_ERR(gm_xen_world_register("has:colon", open_named), -EINVAL);
	ASSERT_ERR(gm_xen_world_register("sixteen-chars-xx", open_named), -EINVAL);
	ASSERT_OK(gm_xen_world_register("test-world", open_named));
	ASSERT_OK(gm_xen_world_register("test-world", open_named)); /* again: fine */
	ASSERT_ERR(gm_xen_world_register("test-world", open_other), -EEXIST);
	ASSERT_OK(gm_xen_world_register("refuses", open_other));

	/* the name picks the opener, which gets what follows the colon */
	ASSERT_OK(gm_xen_open("test-world:a,b=1", &x));
	ASSERT_STREQ(opened_args, "a,b=1");
	ASSERT_TRUE(gm_xen_world(x, &empty_ops) == &handle_token);
	ASSERT_NULL(gm_xen_world(x, &full_ops));
	ASSERT_NULL(gm_xen_world(NULL, &empty_ops));
	gm_xen_close(x);
	ASSERT_OK(gm_xen_open("test-world:", &x));
	ASSERT_STREQ(opened_args, "");
	gm_xen_close(x);
	/* a prefix of a registered name, or one without the colon, is unknown */
	x = (gm_xen *)1;
	ASSERT_ERR(gm_xen_open("test-worl:x", &x), -EINVAL);
	ASSERT_NULL(x);
	ASSERT_ERR(gm_xen_open("test-world", &x), -EINVAL);
	/* the opener's error comes back, with no world */
	x = (gm_xen *)1;
	log_reset();
	ASSERT_ERR(gm_xen_open("refuses:x", &x), -ECONNREFUSED);
	ASSERT_NULL(x);
	ASSERT_EQ(log_lines[GM_LOG_WARNING], 1);
	/* what a caller may expect (no such device or socket, no rights): info */
	ASSERT_OK(gm_xen_world_register("absent", open_absent));
	log_reset();
	ASSERT_ERR(gm_xen_open("absent:x", &x), -ENOENT);
	ASSERT_EQ(log_lines[GM_LOG_WARNING], 0);
	ASSERT_EQ(log_lines[GM_LOG_INFO], 1);
	/* the table is bounded */
	int r = 0;
	for (unsigned i = 0; i < 20 && r == 0; i++) {
		char name[16];
		snprintf(name, sizeof(name), "fill%u", i);
		r = gm_xen_world_register(name, open_named);
	}
	ASSERT_ERR(r, -ENOSPC);
}

static void test_open_spec(void)
{
	gm_xen *x = (gm_xen *)1;

	ASSERT_ERR(gm_xen_open("bogus", &x), -EINVAL);
	ASSERT_NULL(x);
	ASSERT_ERR(gm_xen_open("realx", &x), -EINVAL);
	ASSERT_ERR(gm_xen_open("emu", &x), -EINVAL);

#ifdef GM_HAVE_XEN
	/* opening the real world touches no device */
	ASSERT_OK(gm_xen_open("real", &x));
	ASSERT_TRUE(!strcmp(gm_xen_name(x), "real"));
	gm_xen_close(x);
#else
	ASSERT_ERR(gm_xen_open("real", &x), -ENOTSUP);
#endif
	/* "emu:" is a registered world: without libgrantmem-emu loaded it is
	 * unknown (this test does not link it), with it there is no hub there */
	ASSERT_TRUE(gm_xen_open("emu:/nonexistent/grantmem-test.sock", &x) < 0);
	ASSERT_NULL(x);

	/* the default comes from $GRANTMEM_XEN */
	ASSERT_OK(setenv("GRANTMEM_XEN", "bogus", 1));
	ASSERT_ERR(gm_xen_open(NULL, &x), -EINVAL);
	ASSERT_ERR(gm_xen_open("", &x), -EINVAL);
	/* an explicit spec wins */
	ASSERT_ERR(gm_xen_open("emu", &x), -EINVAL);
	ASSERT_OK(setenv("GRANTMEM_XEN", "real", 1));
#ifdef GM_HAVE_XEN
	ASSERT_OK(gm_xen_open(NULL, &x));
	ASSERT_TRUE(!strcmp(gm_xen_name(x), "real"));
	gm_xen_close(x);
#else
	ASSERT_ERR(gm_xen_open(NULL, &x), -ENOTSUP);
#endif
	/* empty or unset: "real" */
	ASSERT_OK(setenv("GRANTMEM_XEN", "", 1));
#ifdef GM_HAVE_XEN
	ASSERT_OK(gm_xen_open(NULL, &x));
	gm_xen_close(x);
#else
	ASSERT_ERR(gm_xen_open(NULL, &x), -ENOTSUP);
#endif
	ASSERT_OK(unsetenv("GRANTMEM_XEN"));
#ifdef GM_HAVE_XEN
	ASSERT_OK(gm_xen_open(NULL, &x));
	gm_xen_close(x);
#else
	ASSERT_ERR(gm_xen_open(NULL, &x), -ENOTSUP);
#endif
}

int main(void)
{
	gm_set_log(sink, NULL, GM_LOG_DEBUG);

	test_gntst();
	test_world_registry();
	test_open_spec();
	test_null_ops();

	open_all(&full_ops);
	test_every_site_succeeds();
	test_fault_injection();
	test_world_errors_and_log_levels();
	test_log_classes();
	test_bad_arguments();
	test_transact();
	test_misc();
	close_all();
	ASSERT_EQ(world_closed, 1);

	test_missing_outputs();
	test_xs_serialised();
	return 0;
}
