/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The real world's conversions at the libxen* boundary (backends/world/real.c),
 * without Xen: the world runs on a table of fake libxen* functions that fail
 * with chosen errno values (0 included), return NULL/false/-1, fill partial
 * statuses, and check what they were given.  Also the xentoollog bridge
 * (backends/world/xtl.c) that every libxen* handle logs through.
 */
#include "config.h"

#include "world/real.h"
#include "world/xtl.h"

#include "helpers.h"

#include <stdarg.h>
#include <sys/mman.h>

/* ---- failure control ------------------------------------------------------- */

static unsigned fail_in; /* the fail_in-th next fake call fails (0: none) ... */
static int fail_err;     /* ... with this errno (0 allowed) */
static unsigned long ncalls;

static void fail_nth(unsigned n, int err)
{
	fail_in = n;
	fail_err = err;
}

static void fail_next(int err)
{
	fail_nth(1, err);
}

/* Count a call; true if it must fail (errno set). */
static bool failing(void)
{
	ncalls++;
	if (!fail_in || --fail_in)
		return false;
	errno = fail_err;
	return true;
}

/* Fake handles: addresses of these. */
static int gt_h, gs_h, ev_h, xs_h;
static int closes;

/* ---- libxengnttab ---------------------------------------------------------------- */

static xengnttab_handle *f_gnttab_open(xentoollog_logger *l, unsigned flags)
{
	ASSERT_PTR_EQ(l, gm__xtl_logger()); /* the bridge, never libxengnttab's stderr logger */
	ASSERT_EQ(flags, 0);
	return failing() ? NULL : (xengnttab_handle *)&gt_h;
}

static int f_gnttab_close(xengnttab_handle *h)
{
	ASSERT_PTR_EQ(h, &gt_h);
	closes++;
	return 0;
}

static int f_set_max(xengnttab_handle *h, uint32_t n)
{
	ASSERT_PTR_EQ(h, &gt_h);
	ASSERT_EQ(n, 64);
	return failing() ? -1 : 0;
}

static _Alignas(4096) unsigned char mapped[2 * 4096];
static int last_prot;

static void *f_map(xengnttab_handle *h, uint32_t count, uint32_t domid, uint32_t *refs, int prot)
{
	ASSERT_PTR_EQ(h, &gt_h);
	ASSERT_EQ(count, 2);
	ASSERT_EQ(domid, 5);
	ASSERT_EQ(refs[0], 8);
	ASSERT_EQ(refs[1], 9);
	last_prot = prot;
	return failing() ? NULL : mapped;
}

static int f_unmap(xengnttab_handle *h, void *addr, uint32_t count)
{
	ASSERT_PTR_EQ(h, &gt_h);
	ASSERT_PTR_EQ(addr, mapped);
	ASSERT_EQ(count, 2);
	return failing() ? -1 : 0;
}

static unsigned copy_fill; /* how many statuses the fake writes */

static int f_copy(xengnttab_handle *h, uint32_t count, xengnttab_grant_copy_segment_t *segs)
{
	ASSERT_PTR_EQ(h, &gt_h);
	for (uint32_t i = 0; i < count; i++) {
		xengnttab_grant_copy_segment_t *s = &segs[i];

		if (i % 2 == 0) { /* gref -> local */
			ASSERT_EQ(s->flags, GNTCOPY_source_gref);
			ASSERT_EQ(s->source.foreign.ref, 100 + i);
			ASSERT_EQ(s->source.foreign.offset, 10 * i);
			ASSERT_EQ(s->source.foreign.domid, 5);
			ASSERT_PTR_EQ(s->dest.virt, mapped + i);
		} else { /* local -> gref */
			ASSERT_EQ(s->flags, GNTCOPY_dest_gref);
			ASSERT_PTR_EQ(s->source.virt, mapped + i);
			ASSERT_EQ(s->dest.foreign.ref, 100 + i);
			ASSERT_EQ(s->dest.foreign.offset, 10 * i);
			ASSERT_EQ(s->dest.foreign.domid, 5);
		}
		ASSERT_EQ(s->len, 64 + i);
		ASSERT_EQ(s->status, GNTST_general_error);
	}
	for (uint32_t i = 0; i < count && i < copy_fill; i++)
		segs[i].status = i == 1 ? GNTST_bad_gntref : GNTST_okay;
	return failing() ? -1 : 0;
}

/* ---- libxengntshr ------------------------------------------------------------------ */

static xengntshr_handle *f_gntshr_open(xentoollog_logger *l, unsigned flags)
{
	ASSERT_PTR_EQ(l, gm__xtl_logger());
	ASSERT_EQ(flags, 0);
	return failing() ? NULL : (xengntshr_handle *)&gs_h;
}

static int f_gntshr_close(xengntshr_handle *h)
{
	ASSERT_PTR_EQ(h, &gs_h);
	closes++;
	return 0;
}

static void *f_share(xengntshr_handle *h, uint32_t domid, int count, uint32_t *refs, int writable)
{
	ASSERT_PTR_EQ(h, &gs_h);
	ASSERT_EQ(domid, 5);
	ASSERT_EQ(count, 2);
	ASSERT_EQ(writable, 1);
	if (failing())
		return NULL;
	refs[0] = 30;
	refs[1] = 31;
	return mapped;
}

static int f_unshare(xengntshr_handle *h, void *addr, uint32_t count)
{
	ASSERT_PTR_EQ(h, &gs_h);
	ASSERT_PTR_EQ(addr, mapped);
	ASSERT_EQ(count, 2);
	return failing() ? -1 : 0;
}

/* ---- libxenevtchn ------------------------------------------------------------------ */

static int nonblock_fd = -1, nonblock_fail;

static xenevtchn_handle *f_evtchn_open(xentoollog_logger *l, unsigned flags)
{
	ASSERT_PTR_EQ(l, gm__xtl_logger());
	ASSERT_EQ(flags, 0);
	return failing() ? NULL : (xenevtchn_handle *)&ev_h;
}

static int f_evtchn_close(xenevtchn_handle *h)
{
	ASSERT_PTR_EQ(h, &ev_h);
	closes++;
	return 0;
}

static int f_evtchn_fd(xenevtchn_handle *h)
{
	ASSERT_PTR_EQ(h, &ev_h);
	return 33;
}

static xenevtchn_port_or_error_t f_bind_i(xenevtchn_handle *h, uint32_t domid, evtchn_port_t p)
{
	ASSERT_PTR_EQ(h, &ev_h);
	ASSERT_EQ(domid, 5);
	ASSERT_EQ(p, 17);
	return failing() ? -1 : 4;
}

static xenevtchn_port_or_error_t f_bind_u(xenevtchn_handle *h, uint32_t domid)
{
	ASSERT_PTR_EQ(h, &ev_h);
	ASSERT_EQ(domid, 5);
	return failing() ? -1 : 6;
}

static int f_port_op(xenevtchn_handle *h, evtchn_port_t p)
{
	ASSERT_PTR_EQ(h, &ev_h);
	ASSERT_EQ(p, 4);
	return failing() ? -1 : 0;
}

static xenevtchn_port_or_error_t f_pending(xenevtchn_handle *h)
{
	ASSERT_PTR_EQ(h, &ev_h);
	return failing() ? -1 : 4;
}

static int f_set_nonblock(int fd)
{
	nonblock_fd = fd;
	if (nonblock_fail) {
		errno = nonblock_fail;
		return -1;
	}
	return 0;
}

/* ---- libxenstore ---------------------------------------------------------------------- */

static const char *domid_value = "7";
static ssize_t caps_len = -1;
static const char *caps = "";

static struct xs_handle *f_xs_open(unsigned long flags)
{
	ASSERT_EQ(flags, 0);
	return failing() ? NULL : (struct xs_handle *)&xs_h;
}

static void f_xs_close(struct xs_handle *h)
{
	ASSERT_PTR_EQ(h, &xs_h);
	closes++;
}

static int f_xs_fileno(struct xs_handle *h)
{
	ASSERT_PTR_EQ(h, &xs_h);
	return failing() ? -1 : 44;
}

static void *f_xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned *len)
{
	const char *v = !strcmp(path, "domid") ? domid_value : "abc";

	ASSERT_PTR_EQ(h, &xs_h);
	ASSERT_EQ(t, !strcmp(path, "domid") ? XBT_NULL : 3);
	if (failing())
		return NULL;
	*len = (unsigned)strlen(v);
	return strdup(v);
}

static bool f_xs_write(struct xs_handle *h, xs_transaction_t t, const char *path,
		       const void *data, unsigned len)
{
	ASSERT_PTR_EQ(h, &xs_h);
	ASSERT_EQ(t, 3);
	ASSERT_TRUE(!strcmp(path, "/w"));
	ASSERT_EQ(len, 2);
	ASSERT_MEM_EQ(data, "hi", 2);
	return !failing();
}

static char **f_xs_directory(struct xs_handle *h, xs_transaction_t t, const char *path,
			     unsigned *num)
{
	static const char *const names[] = {"backend", "device", "x"};
	size_t bytes = sizeof(names) / sizeof(names[0]) * sizeof(char *);
	char **d, *p;

	ASSERT_PTR_EQ(h, &xs_h);
	ASSERT_EQ(t, 0);
	ASSERT_TRUE(!strcmp(path, "/d"));
	if (failing())
		return NULL;
	for (unsigned i = 0; i < 3; i++)
		bytes += strlen(names[i]) + 1;
	/* libxenstore's layout: no NULL terminator */
	d = malloc(bytes);
	p = (char *)(d + 3);
	for (unsigned i = 0; i < 3; i++) {
		strcpy(p, names[i]);
		d[i] = p;
		p += strlen(names[i]) + 1;
	}
	*num = 3;
	return d;
}

static bool f_xs_path_op(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	ASSERT_PTR_EQ(h, &xs_h);
	ASSERT_EQ(t, 0);
	ASSERT_TRUE(!strcmp(path, "/p"));
	return !failing();
}

static bool f_xs_set_perms(struct xs_handle *h, xs_transaction_t t, const char *path,
			   struct xs_permissions *perms, unsigned num)
{
	ASSERT_PTR_EQ(h, &xs_h);
	ASSERT_EQ(t, 0);
	ASSERT_TRUE(!strcmp(path, "/p"));
	ASSERT_EQ(num, 3);
	ASSERT_EQ(perms[0].id, 0);
	ASSERT_EQ(perms[0].perms, XS_PERM_NONE);
	ASSERT_EQ(perms[1].id, 5);
	ASSERT_EQ(perms[1].perms, XS_PERM_READ);
	ASSERT_EQ(perms[2].id, 6);
	ASSERT_EQ(perms[2].perms, XS_PERM_READ | XS_PERM_WRITE);
	return !failing();
}

static bool f_xs_watch_op(struct xs_handle *h, const char *path, const char *token)
{
	ASSERT_PTR_EQ(h, &xs_h);
	ASSERT_TRUE(!strcmp(path, "/p") && !strcmp(token, "tok"));
	return !failing();
}

static char **f_xs_check_watch(struct xs_handle *h)
{
	char **ev;

	ASSERT_PTR_EQ(h, &xs_h);
	if (failing())
		return NULL;
	ev = malloc(2 * sizeof(char *) + 16);
	ev[XS_WATCH_PATH] = (char *)(ev + 2);
	strcpy(ev[XS_WATCH_PATH], "/p/q");
	ev[XS_WATCH_TOKEN] = ev[XS_WATCH_PATH] + 5;
	strcpy(ev[XS_WATCH_TOKEN], "tok");
	return ev;
}

static xs_transaction_t f_tx_start(struct xs_handle *h)
{
	ASSERT_PTR_EQ(h, &xs_h);
	return failing() ? XBT_NULL : 3;
}

static bool last_abort;

static bool f_tx_end(struct xs_handle *h, xs_transaction_t t, bool abort)
{
	ASSERT_PTR_EQ(h, &xs_h);
	ASSERT_EQ(t, 3);
	last_abort = abort;
	return !failing();
}

static char *f_domain_path(struct xs_handle *h, unsigned domid)
{
	ASSERT_PTR_EQ(h, &xs_h);
	ASSERT_EQ(domid, 5);
	return failing() ? NULL : strdup("/local/domain/5");
}

static ssize_t f_read_file(const char *path, char *buf, size_t size)
{
	ASSERT_TRUE(!strcmp(path, "/proc/xen/capabilities"));
	if (caps_len < 0) {
		errno = ENOENT;
		return -1;
	}
	ASSERT_TRUE((size_t)caps_len <= size);
	memcpy(buf, caps, (size_t)caps_len);
	return caps_len;
}

/* The paths that do not exist ("" by default: every path exists). */
static const char *absent[8];

static bool f_path_exists(const char *path)
{
	static const char *const known[] = {
		"/dev/xen/gntdev", "/dev/xen/gntalloc", "/dev/xen/evtchn", "/dev/xen/xenbus",
		"/proc/xen/xenbus", "/proc/xen/capabilities", "/var/run/xenstored/socket",
		"/tmp/gm-test-rundir/socket", "/tmp/gm-test-xenstored",
	};
	bool ok = false;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok |= !strcmp(path, known[i]);
	if (!ok)
		GM_TEST_FAIL("path_exists(\"%s\"): not a path the real world should ask for", path);
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]) && absent[i]; i++)
		if (!strcmp(path, absent[i]))
			return false;
	return true;
}

static void set_absent(const char *a, const char *b, const char *c, const char *d)
{
	memset(absent, 0, sizeof(absent));
	absent[0] = a;
	absent[1] = b;
	absent[2] = c;
	absent[3] = d;
}

static const struct gm__xenlibs fake = {
	.gnttab_open = f_gnttab_open,
	.gnttab_close = f_gnttab_close,
	.gnttab_set_max_grants = f_set_max,
	.gnttab_map_domain_grant_refs = f_map,
	.gnttab_unmap = f_unmap,
	.gnttab_grant_copy = f_copy,
	.gntshr_open = f_gntshr_open,
	.gntshr_close = f_gntshr_close,
	.gntshr_share_pages = f_share,
	.gntshr_unshare = f_unshare,
	.evtchn_open = f_evtchn_open,
	.evtchn_close = f_evtchn_close,
	.evtchn_fd = f_evtchn_fd,
	.evtchn_bind_interdomain = f_bind_i,
	.evtchn_bind_unbound_port = f_bind_u,
	.evtchn_unbind = f_port_op,
	.evtchn_notify = f_port_op,
	.evtchn_pending = f_pending,
	.evtchn_unmask = f_port_op,
	.xs_open = f_xs_open,
	.xs_close = f_xs_close,
	.xs_fileno = f_xs_fileno,
	.xs_read = f_xs_read,
	.xs_write = f_xs_write,
	.xs_directory = f_xs_directory,
	.xs_rm = f_xs_path_op,
	.xs_mkdir = f_xs_path_op,
	.xs_set_permissions = f_xs_set_perms,
	.xs_watch = f_xs_watch_op,
	.xs_unwatch = f_xs_watch_op,
	.xs_check_watch = f_xs_check_watch,
	.xs_transaction_start = f_tx_start,
	.xs_transaction_end = f_tx_end,
	.xs_get_domain_path = f_domain_path,
	.set_nonblock = f_set_nonblock,
	.read_file = f_read_file,
	.path_exists = f_path_exists,
};

/* ---- tests ---------------------------------------------------------------------------- */

static gm_xen *X;
static const gm_gref refs[2] = {8, 9};

static void test_gnttab(void)
{
	struct gm_copy_seg segs[20];
	gm_gnttab *g = (gm_gnttab *)1;
	int err;

	fail_next(ENOENT);
	ASSERT_ERR(gm_gnttab_open(X, &g), -ENOENT);
	ASSERT_NULL(g);
	fail_next(0); /* NULL without errno: never success */
	ASSERT_ERR(gm_gnttab_open(X, &g), -EIO);
	ASSERT_OK(gm_gnttab_open(X, &g));

	fail_next(0);
	ASSERT_ERR(gm_gnttab_set_max_grants(g, 64), -EIO);
	fail_next(EPERM);
	ASSERT_ERR(gm_gnttab_set_max_grants(g, 64), -EPERM);
	ASSERT_OK(gm_gnttab_set_max_grants(g, 64));

	/* map: every failure is NULL/EINVAL on Xen */
	fail_next(EINVAL);
	ASSERT_NULL(gm_gnttab_map(g, 2, 5, refs, GM_PROT_RW, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_EQ(last_prot, PROT_READ | PROT_WRITE);
	fail_next(ENOSPC);
	ASSERT_NULL(gm_gnttab_map(g, 2, 5, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -ENOSPC);
	ASSERT_EQ(last_prot, PROT_READ);
	fail_next(0);
	ASSERT_NULL(gm_gnttab_map(g, 2, 5, refs, GM_PROT_READ, &err));
	ASSERT_EQ(err, -EIO);
	ASSERT_PTR_EQ(gm_gnttab_map(g, 2, 5, refs, GM_PROT_READ, &err), mapped);
	ASSERT_EQ(err, 0);

	fail_next(EINVAL);
	ASSERT_ERR(gm_gnttab_unmap(g, mapped, 2), -EINVAL);
	fail_next(0);
	ASSERT_ERR(gm_gnttab_unmap(g, mapped, 2), -EIO);
	ASSERT_OK(gm_gnttab_unmap(g, mapped, 2));

	/* copy: converted field by field (20 > the on-stack batch), statuses back */
	memset(segs, 0, sizeof(segs));
	for (unsigned i = 0; i < 20; i++) {
		struct gm_copy_seg *s = &segs[i];

		if (i % 2 == 0) {
			s->flags = GM_COPY_SOURCE_GREF;
			s->source.foreign.ref = 100 + i;
			s->source.foreign.offset = (uint16_t)(10 * i);
			s->source.foreign.domid = 5;
			s->dest.virt = mapped + i;
		} else {
			s->flags = GM_COPY_DEST_GREF;
			s->source.virt = mapped + i;
			s->dest.foreign.ref = 100 + i;
			s->dest.foreign.offset = (uint16_t)(10 * i);
			s->dest.foreign.domid = 5;
		}
		s->len = (uint16_t)(64 + i);
		s->status = 77;
	}
	copy_fill = 20;
	ASSERT_OK(gm_gnttab_copy(g, 20, segs));
	ASSERT_EQ(segs[0].status, GM_GNTST_OKAY);
	ASSERT_EQ(segs[1].status, GM_GNTST_BAD_GNTREF);
	ASSERT_EQ(segs[19].status, GM_GNTST_OKAY);
	/* the call ran part of the way: the rest say general error */
	copy_fill = 3;
	fail_next(EFAULT);
	ASSERT_ERR(gm_gnttab_copy(g, 20, segs), -EFAULT);
	ASSERT_EQ(segs[0].status, GM_GNTST_OKAY);
	ASSERT_EQ(segs[1].status, GM_GNTST_BAD_GNTREF);
	ASSERT_EQ(segs[2].status, GM_GNTST_OKAY);
	ASSERT_EQ(segs[3].status, GM_GNTST_GENERAL_ERROR);
	ASSERT_EQ(segs[19].status, GM_GNTST_GENERAL_ERROR);
	/* small batch, errno 0 */
	copy_fill = 0;
	fail_next(0);
	ASSERT_ERR(gm_gnttab_copy(g, 2, segs), -EIO);
	ASSERT_EQ(segs[0].status, GM_GNTST_GENERAL_ERROR);

	closes = 0;
	gm_gnttab_close(g);
	ASSERT_EQ(closes, 1);
}

static void test_gntshr(void)
{
	gm_gntshr *s;
	gm_gref r[2] = {0, 0};
	int err;

	fail_next(ENOENT);
	ASSERT_ERR(gm_gntshr_open(X, &s), -ENOENT);
	ASSERT_OK(gm_gntshr_open(X, &s));
	fail_next(ENOSPC);
	ASSERT_NULL(gm_gntshr_share(s, 5, 2, r, 1, &err));
	ASSERT_EQ(err, -ENOSPC);
	fail_next(0);
	ASSERT_NULL(gm_gntshr_share(s, 5, 2, r, 7, &err));
	ASSERT_EQ(err, -EIO);
	ASSERT_PTR_EQ(gm_gntshr_share(s, 5, 2, r, 1, &err), mapped);
	ASSERT_EQ(r[0], 30);
	ASSERT_EQ(r[1], 31);
	/* gntalloc defers revocation until unmapped: end access always works */
	unsigned long before = ncalls;
	ASSERT_OK(gm_gntshr_end_access(s, 30));
	ASSERT_EQ(ncalls, before);
	fail_next(EINVAL);
	ASSERT_ERR(gm_gntshr_unshare(s, mapped, 2), -EINVAL);
	ASSERT_OK(gm_gntshr_unshare(s, mapped, 2));
	gm_gntshr_close(s);
}

static void test_evtchn(void)
{
	gm_evtchn *e;

	fail_next(ENOENT);
	ASSERT_ERR(gm_evtchn_open(X, &e), -ENOENT);
	/* the fd could not be made non-blocking: handle closed, error back */
	nonblock_fail = EBADF;
	closes = 0;
	ASSERT_ERR(gm_evtchn_open(X, &e), -EBADF);
	ASSERT_EQ(closes, 1);
	nonblock_fail = 0;
	nonblock_fd = -1;
	ASSERT_OK(gm_evtchn_open(X, &e));
	ASSERT_EQ(nonblock_fd, 33);
	ASSERT_EQ(gm_evtchn_fd(e), 33);

	fail_next(ESRCH);
	ASSERT_ERR(gm_evtchn_bind_interdomain(e, 5, 17), -ESRCH);
	ASSERT_EQ(gm_evtchn_bind_interdomain(e, 5, 17), 4);
	fail_next(0);
	ASSERT_ERR(gm_evtchn_bind_unbound(e, 5), -EIO);
	ASSERT_EQ(gm_evtchn_bind_unbound(e, 5), 6);
	fail_next(ENOTCONN);
	ASSERT_ERR(gm_evtchn_notify(e, 4), -ENOTCONN);
	ASSERT_OK(gm_evtchn_notify(e, 4));
	fail_next(EINVAL);
	ASSERT_ERR(gm_evtchn_unmask(e, 4), -EINVAL);
	ASSERT_OK(gm_evtchn_unmask(e, 4));
	fail_next(EINVAL);
	ASSERT_ERR(gm_evtchn_unbind(e, 4), -EINVAL);
	ASSERT_OK(gm_evtchn_unbind(e, 4));

	/* nothing pending on the non-blocking fd */
	fail_next(EAGAIN);
	ASSERT_ERR(gm_evtchn_pending(e), -EAGAIN);
	fail_next(0);
	ASSERT_ERR(gm_evtchn_pending(e), -EIO);
	fail_next(EIO);
	ASSERT_ERR(gm_evtchn_pending(e), -EIO);
	ASSERT_EQ(gm_evtchn_pending(e), 4);
	gm_evtchn_close(e);
}

static int tx_fn(gm_xs *h, gm_xs_tx tx, void *arg)
{
	(void)arg;
	return gm_xs_write(h, tx, "/w", "hi", 2);
}

static void test_xs(void)
{
	struct gm_xs_perm perms[3] = {
		{0, GM_XS_PERM_NONE}, {5, GM_XS_PERM_READ}, {6, GM_XS_PERM_READ | GM_XS_PERM_WRITE}};
	char *v, **names, *path, *token;
	size_t len;
	unsigned long before;
	gm_xs_tx tx;
	gm_xs *h;

	fail_next(EACCES);
	ASSERT_ERR(gm_xs_open(X, &h), -EACCES);
	ASSERT_OK(gm_xs_open(X, &h));
	ASSERT_EQ(gm_xs_fd(h), 44);
	fail_next(EBADF);
	ASSERT_ERR(gm_xs_fd(h), -EBADF);

	fail_next(ENOENT);
	ASSERT_ERR(gm_xs_read(h, 3, "/r", &v, &len), -ENOENT);
	ASSERT_NULL(v);
	fail_next(0);
	ASSERT_ERR(gm_xs_read(h, 3, "/r", &v, &len), -EIO);
	ASSERT_OK(gm_xs_read(h, 3, "/r", &v, &len));
	ASSERT_EQ(len, 3);
	ASSERT_TRUE(!strcmp(v, "abc"));
	free(v);

	fail_next(0);
	ASSERT_ERR(gm_xs_write(h, 3, "/w", "hi", 2), -EIO);
	fail_next(EACCES);
	ASSERT_ERR(gm_xs_write_str(h, 3, "/w", "hi"), -EACCES);
	ASSERT_OK(gm_xs_write_str(h, 3, "/w", "hi"));

	/* directory: copied into our own NULL-terminated block */
	fail_next(ENOENT);
	ASSERT_ERR(gm_xs_directory(h, 0, "/d", &names), -ENOENT);
	ASSERT_NULL(names);
	ASSERT_EQ(gm_xs_directory(h, 0, "/d", &names), 3);
	ASSERT_TRUE(!strcmp(names[0], "backend"));
	ASSERT_TRUE(!strcmp(names[1], "device"));
	ASSERT_TRUE(!strcmp(names[2], "x"));
	ASSERT_NULL(names[3]);
	free(names);

	fail_next(ENOENT);
	ASSERT_ERR(gm_xs_rm(h, 0, "/p"), -ENOENT);
	ASSERT_OK(gm_xs_rm(h, 0, "/p"));
	fail_next(0);
	ASSERT_ERR(gm_xs_mkdir(h, 0, "/p"), -EIO);
	ASSERT_OK(gm_xs_mkdir(h, 0, "/p"));
	fail_next(EPERM);
	ASSERT_ERR(gm_xs_set_perms(h, 0, "/p", perms, 3), -EPERM);
	ASSERT_OK(gm_xs_set_perms(h, 0, "/p", perms, 3));
	fail_next(EEXIST);
	ASSERT_ERR(gm_xs_watch(h, "/p", "tok"), -EEXIST);
	ASSERT_OK(gm_xs_watch(h, "/p", "tok"));
	fail_next(ENOENT);
	ASSERT_ERR(gm_xs_unwatch(h, "/p", "tok"), -ENOENT);
	ASSERT_OK(gm_xs_unwatch(h, "/p", "tok"));

	/* watches: non-blocking, EAGAIN when none fired */
	fail_next(EAGAIN);
	ASSERT_ERR(gm_xs_read_watch(h, &path, &token), -EAGAIN);
	ASSERT_NULL(path);
	ASSERT_NULL(token);
	fail_next(0);
	ASSERT_ERR(gm_xs_read_watch(h, &path, &token), -EIO);
	ASSERT_OK(gm_xs_read_watch(h, &path, &token));
	ASSERT_TRUE(!strcmp(path, "/p/q"));
	ASSERT_TRUE(!strcmp(token, "tok"));
	free(path);
	free(token);

	/* transactions */
	fail_next(ENOSPC);
	ASSERT_ERR(gm_xs_tx_start(h, &tx), -ENOSPC);
	ASSERT_EQ(tx, GM_XS_TX_NONE);
	fail_next(0);
	ASSERT_ERR(gm_xs_tx_start(h, &tx), -EIO);
	ASSERT_OK(gm_xs_tx_start(h, &tx));
	ASSERT_EQ(tx, 3);
	fail_next(EAGAIN);
	ASSERT_ERR(gm_xs_tx_end(h, tx, 0), -EAGAIN);
	ASSERT_EQ(last_abort, false);
	fail_next(0);
	ASSERT_ERR(gm_xs_tx_end(h, tx, 1), -EIO);
	ASSERT_EQ(last_abort, true);
	ASSERT_OK(gm_xs_tx_end(h, tx, 0));
	/* the retry loop sees the converted -EAGAIN: start, write, end fails */
	fail_nth(3, EAGAIN);
	before = ncalls;
	ASSERT_OK(gm_xs_transact(h, tx_fn, NULL, 3));
	ASSERT_EQ(ncalls, before + 6);
	fail_nth(3, 0); /* a commit failing without errno is not a conflict */
	before = ncalls;
	ASSERT_ERR(gm_xs_transact(h, tx_fn, NULL, 3), -EIO);
	ASSERT_EQ(ncalls, before + 3);

	fail_next(ENOMEM);
	ASSERT_ERR(gm_xs_domain_path(h, 5, &path), -ENOMEM);
	ASSERT_NULL(path);
	ASSERT_OK(gm_xs_domain_path(h, 5, &path));
	ASSERT_TRUE(!strcmp(path, "/local/domain/5"));
	free(path);

	closes = 0;
	gm_xs_close(h);
	ASSERT_EQ(closes, 1);
}

static void test_self_domid(void)
{
	gm_domid d = 99;
	unsigned long before;

	/* dom0: from /proc/xen/capabilities, no xenstore */
	caps = "control_d\n";
	caps_len = (ssize_t)strlen(caps);
	before = ncalls;
	ASSERT_OK(gm_xen_self_domid(X, &d));
	ASSERT_EQ(d, 0);
	ASSERT_EQ(ncalls, before);

	/* a domU: "domid" in its xenstore directory */
	caps = "";
	caps_len = 0;
	domid_value = "7";
	closes = 0;
	ASSERT_OK(gm_xen_self_domid(X, &d));
	ASSERT_EQ(d, 7);
	ASSERT_EQ(closes, 1);
	caps_len = -1; /* no /proc/xen: same */
	ASSERT_OK(gm_xen_self_domid(X, &d));
	ASSERT_EQ(d, 7);
	domid_value = "junk";
	ASSERT_ERR(gm_xen_self_domid(X, &d), -EPROTO);
	domid_value = "";
	ASSERT_ERR(gm_xen_self_domid(X, &d), -EPROTO);
	domid_value = "32752";
	ASSERT_ERR(gm_xen_self_domid(X, &d), -EPROTO);
	domid_value = "7";
	fail_next(ENOENT); /* xs_open */
	ASSERT_ERR(gm_xen_self_domid(X, &d), -ENOENT);
	ASSERT_EQ(d, 7);
}

/* ---- the log sink ------------------------------------------------------------------ */

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

static int log_total(void)
{
	return log_lines[0] + log_lines[1] + log_lines[2] + log_lines[3];
}

/* ---- the xentoollog bridge (xtl.c) ----------------------------------------------------- */

static void xtl_say(xentoollog_level level, int errnoval, const char *context, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

static void xtl_say(xentoollog_level level, int errnoval, const char *context, const char *fmt,
		    ...)
{
	xentoollog_logger *l = gm__xtl_logger();
	va_list ap;

	va_start(ap, fmt);
	l->vmessage(l, level, errnoval, context, fmt, ap);
	va_end(ap);
}

static void test_xtl_bridge(void)
{
	xentoollog_logger *l = gm__xtl_logger();

	ASSERT_PTR_EQ(l, gm__xtl_logger()); /* one logger for every handle */
	ASSERT_NULL(l->progress);           /* allowed: progress reports are dropped */

	/* the table: tracing dropped, every message of substance at debug */
	for (int lvl = XTL_NONE; lvl <= XTL_NUM_LEVELS; lvl++) {
		bool kept = lvl >= XTL_DETAIL && lvl < XTL_NUM_LEVELS;

		log_reset();
		errno = ENOTRECOVERABLE;
		xtl_say((xentoollog_level)lvl, EACCES, "xengnttab", "level %d", lvl);
		ASSERT_EQ(errno, ENOTRECOVERABLE); /* the caller reads errno after */
		if (log_lines[GM_LOG_DEBUG] != kept || log_total() != kept)
			GM_TEST_FAIL("xentoollog level %d: %d debug line(s) of %d", lvl,
				     log_lines[GM_LOG_DEBUG], log_total());
	}

	/* "<context>: <message>[: <errno>]" */
	log_reset();
	xtl_say(XTL_ERROR, ENOENT, "xengnttab", "open %s", "/dev/xen/gntdev");
	ASSERT_STREQ(last_log, "xengnttab: open /dev/xen/gntdev: No such file or directory");
	xtl_say(XTL_CRITICAL, -1, NULL, "no errno");
	ASSERT_STREQ(last_log, "libxen: no errno");
	xtl_say(XTL_WARN, 0, "xc", "errno 0");
	ASSERT_STREQ(last_log, "xc: errno 0");

	/* not formatted when debug is off, errno untouched all the same */
	gm_set_log(sink, NULL, GM_LOG_INFO);
	log_reset();
	errno = ENOTRECOVERABLE;
	xtl_say(XTL_CRITICAL, EIO, "xc", "dropped");
	ASSERT_EQ(errno, ENOTRECOVERABLE);
	ASSERT_EQ(log_total(), 0);
	gm_set_log(sink, NULL, GM_LOG_DEBUG);

	l->destroy(l); /* static: does nothing, the logger still works */
	log_reset();
	xtl_say(XTL_ERROR, -1, "xc", "after destroy");
	ASSERT_EQ(log_lines[GM_LOG_DEBUG], 1);
}

/* ---- no Xen here: the failure line names what is absent --------------------------------- */

#define REMEDY "; for the emulated Xen use --xen emu:SOCKET or GRANTMEM_XEN=emu:SOCKET"

/* One line at warning, exactly @want. */
static void expect_line(const char *want)
{
	if (log_total() != 1 || log_lines[GM_LOG_WARNING] != 1)
		GM_TEST_FAIL("%d line(s), %d at warning; last \"%s\"", log_total(),
			     log_lines[GM_LOG_WARNING], last_log);
	ASSERT_STREQ(last_log, want);
}

static void test_no_xen_here(void)
{
	gm_gnttab *g = (gm_gnttab *)1;
	gm_gntshr *s;
	gm_evtchn *e;
	gm_domid d;
	gm_xs *h;

	ASSERT_OK(unsetenv("XENSTORED_PATH"));
	ASSERT_OK(unsetenv("XENSTORED_RUNDIR"));

	/* the device is there: the errno is all there is to say */
	set_absent(NULL, NULL, NULL, NULL);
	fail_next(ENOENT);
	log_reset();
	ASSERT_ERR(gm_gnttab_open(X, &g), -ENOENT);
	expect_line("real: gnttab_open: No such file or directory");

	/* each device absent: same errno, same level, the path and the remedy */
	set_absent("/dev/xen/gntdev", NULL, NULL, NULL);
	fail_next(ENOENT);
	log_reset();
	ASSERT_ERR(gm_gnttab_open(X, &g), -ENOENT);
	ASSERT_NULL(g);
	expect_line("real: gnttab_open: no Xen here: /dev/xen/gntdev is absent (not running on "
		    "Xen, or the xen-gntdev module is not loaded)" REMEDY);
	/* whatever errno libxengnttab reported */
	fail_next(0);
	log_reset();
	ASSERT_ERR(gm_gnttab_open(X, &g), -EIO);
	ASSERT_TRUE(strstr(last_log, "/dev/xen/gntdev is absent") != NULL);

	set_absent("/dev/xen/gntalloc", NULL, NULL, NULL);
	fail_next(ENOENT);
	log_reset();
	ASSERT_ERR(gm_gntshr_open(X, &s), -ENOENT);
	expect_line("real: gntshr_open: no Xen here: /dev/xen/gntalloc is absent (not running on "
		    "Xen, or the xen-gntalloc module is not loaded)" REMEDY);

	set_absent("/dev/xen/evtchn", NULL, NULL, NULL);
	fail_next(ENOENT);
	log_reset();
	ASSERT_ERR(gm_evtchn_open(X, &e), -ENOENT);
	expect_line("real: evtchn_open: no Xen here: /dev/xen/evtchn is absent (not running on "
		    "Xen, or the xen-evtchn module is not loaded)" REMEDY);

	/* xenstore: absent only if neither the socket nor a xenbus device is */
	set_absent("/var/run/xenstored/socket", "/proc/xen/xenbus", NULL, NULL);
	fail_next(EACCES);
	log_reset();
	ASSERT_ERR(gm_xs_open(X, &h), -EACCES);
	expect_line("real: xs_open: access not permitted (read-only grant or view)");
	set_absent("/var/run/xenstored/socket", "/dev/xen/xenbus", "/proc/xen/xenbus", NULL);
	fail_next(ENOENT);
	log_reset();
	ASSERT_ERR(gm_xs_open(X, &h), -ENOENT);
	expect_line("real: xs_open: no Xen here: neither /var/run/xenstored/socket nor "
		    "/dev/xen/xenbus exists (not running on Xen, or neither xenstored nor the "
		    "xenbus device is there)" REMEDY);
	/* where libxenstore would look */
	ASSERT_OK(setenv("XENSTORED_RUNDIR", "/tmp/gm-test-rundir", 1));
	set_absent("/tmp/gm-test-rundir/socket", "/dev/xen/xenbus", "/proc/xen/xenbus", NULL);
	fail_next(ENOENT);
	log_reset();
	ASSERT_ERR(gm_xs_open(X, &h), -ENOENT);
	ASSERT_TRUE(strstr(last_log, "neither /tmp/gm-test-rundir/socket nor") != NULL);
	ASSERT_OK(setenv("XENSTORED_PATH", "/tmp/gm-test-xenstored", 1));
	set_absent("/tmp/gm-test-xenstored", NULL, NULL, NULL);
	fail_next(ENOENT);
	log_reset();
	ASSERT_ERR(gm_xs_open(X, &h), -ENOENT);
	expect_line("real: xs_open: no Xen here: XENSTORED_PATH /tmp/gm-test-xenstored does not "
		    "exist (not running on Xen, or neither xenstored nor the xenbus device is "
		    "there)" REMEDY);
	ASSERT_OK(unsetenv("XENSTORED_PATH"));
	ASSERT_OK(unsetenv("XENSTORED_RUNDIR"));

	/* self_domid: no capabilities file and no xenstore */
	set_absent("/proc/xen/capabilities", "/var/run/xenstored/socket", "/dev/xen/xenbus",
		   "/proc/xen/xenbus");
	caps_len = -1;
	fail_next(ENOENT);
	log_reset();
	ASSERT_ERR(gm_xen_self_domid(X, &d), -ENOENT);
	expect_line("real: self_domid: no Xen here: /proc/xen/capabilities is absent and so is "
		    "xenstore (not running on Xen, or xenfs is not mounted on /proc/xen)" REMEDY);
	/* a domU without xenfs: xenstore is there, its failure is what it is */
	set_absent("/proc/xen/capabilities", "/var/run/xenstored/socket", NULL, NULL);
	fail_next(EACCES);
	log_reset();
	ASSERT_ERR(gm_xen_self_domid(X, &d), -EACCES);
	expect_line("real: self_domid: access not permitted (read-only grant or view)");

	/* an explanation never outlives its call */
	set_absent("/dev/xen/gntdev", NULL, NULL, NULL);
	fail_next(ENOENT);
	ASSERT_ERR(gm_gnttab_open(X, &g), -ENOENT);
	set_absent(NULL, NULL, NULL, NULL);
	gm_fault_reset();
	ASSERT_OK(gm_fault_inject("gnttab_open", 1, -ENODEV));
	log_reset();
	ASSERT_ERR(gm_gnttab_open(X, &g), -ENODEV);
	ASSERT_EQ(log_lines[GM_LOG_WARNING], 1); /* (and fault.c's debug line) */
	ASSERT_STREQ(last_log, "real: gnttab_open: No such device");
	gm_fault_reset();
	ASSERT_OK(gm_gnttab_open(X, &g));
	fail_next(ENOSPC);
	log_reset();
	ASSERT_ERR(gm_gnttab_set_max_grants(g, 64), -ENOSPC);
	expect_line("real: gnttab_set_max_grants(64): mapping or bounce budget exhausted");
	gm_gnttab_close(g);
}

int main(void)
{
	gm_set_log(sink, NULL, GM_LOG_DEBUG);
	test_xtl_bridge();
	ASSERT_OK(gm_xen_open_ops(&gm__xen_real_ops, (void *)(uintptr_t)&fake, &X));
	ASSERT_TRUE(!strcmp(gm_xen_name(X), "real"));
	test_gnttab();
	test_gntshr();
	test_evtchn();
	test_xs();
	test_self_domid();
	test_no_xen_here();
	gm_xen_close(X);

	/* the default table is libxen* itself */
	ASSERT_TRUE(gm__xenlibs_real.gnttab_map_domain_grant_refs ==
		    xengnttab_map_domain_grant_refs);
	ASSERT_TRUE(gm__xenlibs_real.xs_check_watch == xs_check_watch);
	return 0;
}
