/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The real Xen world: `struct gm_xen_ops` over libxengnttab (and its
 * gntshr half), libxenevtchn and libxenstore.
 *
 * This file is the boundary: every -1/errno, NULL or false that libxen*
 * returns becomes a negative errno here, and an errno of 0 (a library that
 * failed without saying why) becomes -EIO, never success.  Every libxen*
 * call goes through the world's `struct gm__xenlibs` (see real.h) so
 * that the conversions can be tested without Xen.
 *
 * When Xen is not there at all, the errno (-ENOENT from a device that does
 * not exist) says little: a failing open checks whether its device is
 * absent and, if so, has the wrapper's failure line name it and the remedy
 * (gm__xen_explain); errno and level stay as they are.
 *
 * libxen* messages go to grantmem's log through the xentoollog bridge
 * (xtl.c), at debug: the wrappers in lib/xen log the converted failure once,
 * at the level it deserves (libxengnttab would otherwise print an error line
 * on stderr for every bad ref a guest hands us).
 */
#include "config.h"

#include "base/base.h"
#include "real.h"
#include "xen/xen-internal.h"
#include "xtl.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert(sizeof(gm_gref) == sizeof(uint32_t), "gm_gref is a Xen grant_ref_t");

/* ---- the default table: libxen* itself --------------------------------------- */

static int sys_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

static bool sys_path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static ssize_t sys_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, size);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return n;
}

const struct gm__xenlibs gm__xenlibs_real = {
	.gnttab_open = xengnttab_open,
	.gnttab_close = xengnttab_close,
	.gnttab_set_max_grants = xengnttab_set_max_grants,
	.gnttab_map_domain_grant_refs = xengnttab_map_domain_grant_refs,
	.gnttab_unmap = xengnttab_unmap,
	.gnttab_grant_copy = xengnttab_grant_copy,
	.gntshr_open = xengntshr_open,
	.gntshr_close = xengntshr_close,
	.gntshr_share_pages = xengntshr_share_pages,
	.gntshr_unshare = xengntshr_unshare,
	.evtchn_open = xenevtchn_open,
	.evtchn_close = xenevtchn_close,
	.evtchn_fd = xenevtchn_fd,
	.evtchn_bind_interdomain = xenevtchn_bind_interdomain,
	.evtchn_bind_unbound_port = xenevtchn_bind_unbound_port,
	.evtchn_unbind = xenevtchn_unbind,
	.evtchn_notify = xenevtchn_notify,
	.evtchn_pending = xenevtchn_pending,
	.evtchn_unmask = xenevtchn_unmask,
	.xs_open = xs_open,
	.xs_close = xs_close,
	.xs_fileno = xs_fileno,
	.xs_read = xs_read,
	.xs_write = xs_write,
	.xs_directory = xs_directory,
	.xs_rm = xs_rm,
	.xs_mkdir = xs_mkdir,
	.xs_set_permissions = xs_set_permissions,
	.xs_watch = xs_watch,
	.xs_unwatch = xs_unwatch,
	.xs_check_watch = xs_check_watch,
	.xs_transaction_start = xs_transaction_start,
	.xs_transaction_end = xs_transaction_end,
	.xs_get_domain_path = xs_get_domain_path,
	.set_nonblock = sys_set_nonblock,
	.read_file = sys_read_file,
	.path_exists = sys_path_exists,
};

/* ---- helpers -------------------------------------------------------------------- */

/* The negative errno of a failed libxen* call; -EIO if it left errno at 0. */
static int neg_errno(void)
{
	int e = errno;

	return e > 0 ? -e : -EIO;
}

/* ---- when there is no Xen here -------------------------------------------------- */

#define NO_XEN_REMEDY "; for the emulated Xen use --xen emu:SOCKET or GRANTMEM_XEN=emu:SOCKET"

/*
 * Opening @dev (a device of the kernel module @module) failed with @err: if
 * @dev is absent, explain that in the wrapper's failure line.  Returns @err.
 */
static int explain_dev(const struct gm__xenlibs *L, int err, const char *dev, const char *module)
{
	if (!L->path_exists(dev))
		gm__xen_explain("no Xen here: %s is absent (not running on Xen, or the %s "
				"module is not loaded)" NO_XEN_REMEDY,
				dev, module);
	return err;
}

/*
 * Is xenstore absent from where xs_open(0) looks for it?  As libxenstore
 * does: $XENSTORED_PATH alone if set, else the daemon's socket (in
 * $XENSTORED_RUNDIR, default /var/run/xenstored), then the xenbus device
 * (/dev/xen/xenbus, or /proc/xen/xenbus on older kernels).  If so, @what
 * says which paths are missing.
 */
static bool xs_absent(const struct gm__xenlibs *L, char *what, size_t size)
{
	const char *env = getenv("XENSTORED_PATH");
	const char *rundir = getenv("XENSTORED_RUNDIR");
	char sock[256];

	if (env) {
		snprintf(what, size, "XENSTORED_PATH %s does not exist", env);
		return !L->path_exists(env);
	}
	snprintf(sock, sizeof(sock), "%s/socket", rundir ? rundir : "/var/run/xenstored");
	snprintf(what, size, "neither %s nor /dev/xen/xenbus exists", sock);
	return !L->path_exists(sock) && !L->path_exists("/dev/xen/xenbus") &&
	       !L->path_exists("/proc/xen/xenbus");
}

/* Opening xenstore failed with @err: explain it if xenstore is absent. */
static int explain_xs(const struct gm__xenlibs *L, int err)
{
	char what[300];

	if (xs_absent(L, what, sizeof(what)))
		gm__xen_explain("no Xen here: %s (not running on Xen, or neither xenstored nor "
				"the xenbus device is there)" NO_XEN_REMEDY,
				what);
	return err;
}

static const struct gm__xenlibs *libs_of(void *world)
{
	return world;
}

/* One handle shape for every kind: the table and the libxen* handle. */
struct real_h {
	const struct gm__xenlibs *L;
	void *h; /* xengnttab_handle *, xengntshr_handle *, ... */
};

static int real_h_new(void *world, void *h, void **out)
{
	struct real_h *r = gm__calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->L = libs_of(world);
	r->h = h;
	*out = r;
	return 0;
}

#define RH(hp) ((struct real_h *)(hp))

/* ---- gnttab ---------------------------------------------------------------------- */

static int real_gnttab_open(void *world, void **out)
{
	const struct gm__xenlibs *L = libs_of(world);
	xengnttab_handle *h;
	int r;

	errno = 0;
	h = L->gnttab_open(gm__xtl_logger(), 0);
	if (!h)
		return explain_dev(L, neg_errno(), "/dev/xen/gntdev", "xen-gntdev");
	r = real_h_new(world, h, out);
	if (r < 0)
		L->gnttab_close(h);
	return r;
}

static void real_gnttab_close(void *hp)
{
	struct real_h *t = RH(hp);

	t->L->gnttab_close(t->h);
	free(t);
}

static int real_gnttab_set_max_grants(void *hp, uint32_t count)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->gnttab_set_max_grants(t->h, count) ? neg_errno() : 0;
}

static void *real_gnttab_map(void *hp, uint32_t count, gm_domid domid, const gm_gref *refs,
			     int prot, int *err)
{
	struct real_h *t = RH(hp);
	int mprot = PROT_READ | ((prot & GM_PROT_WRITE) ? PROT_WRITE : 0);
	void *p;

	/* libxengnttab takes a non-const array but only reads it */
	errno = 0;
	p = t->L->gnttab_map_domain_grant_refs(t->h, count, domid, (uint32_t *)(uintptr_t)refs,
					       mprot);
	if (!p || p == MAP_FAILED) {
		*err = neg_errno();
		return NULL;
	}
	*err = 0;
	return p;
}

static int real_gnttab_unmap(void *hp, void *addr, uint32_t count)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->gnttab_unmap(t->h, addr, count) ? neg_errno() : 0;
}

#define GM__COPY_STACK 16

static int real_gnttab_copy(void *hp, uint32_t count, struct gm_copy_seg *segs)
{
	struct real_h *t = RH(hp);
	xengnttab_grant_copy_segment_t stack[GM__COPY_STACK], *x = stack;
	int r;

	if (count > GM__COPY_STACK) {
		x = gm__calloc(count, sizeof(*x));
		if (!x)
			return -ENOMEM;
	}
	/* field by field: the two layouts are alike but not ours to assume */
	for (uint32_t i = 0; i < count; i++) {
		const struct gm_copy_seg *s = &segs[i];
		xengnttab_grant_copy_segment_t *d = &x[i];

		memset(d, 0, sizeof(*d));
		d->flags = 0;
		if (s->flags & GM_COPY_SOURCE_GREF) {
			d->source.foreign.ref = s->source.foreign.ref;
			d->source.foreign.offset = s->source.foreign.offset;
			d->source.foreign.domid = s->source.foreign.domid;
			d->flags |= GNTCOPY_source_gref;
		} else {
			d->source.virt = s->source.virt;
		}
		if (s->flags & GM_COPY_DEST_GREF) {
			d->dest.foreign.ref = s->dest.foreign.ref;
			d->dest.foreign.offset = s->dest.foreign.offset;
			d->dest.foreign.domid = s->dest.foreign.domid;
			d->flags |= GNTCOPY_dest_gref;
		} else {
			d->dest.virt = s->dest.virt;
		}
		d->len = s->len;
		/* what a segment reports if the call never reached it */
		d->status = GNTST_general_error;
	}
	errno = 0;
	r = t->L->gnttab_grant_copy(t->h, count, x) ? neg_errno() : 0;
	for (uint32_t i = 0; i < count; i++)
		segs[i].status = x[i].status;
	if (x != stack)
		free(x);
	return r;
}

/* ---- gntshr ---------------------------------------------------------------------- */

static int real_gntshr_open(void *world, void **out)
{
	const struct gm__xenlibs *L = libs_of(world);
	xengntshr_handle *h;
	int r;

	errno = 0;
	h = L->gntshr_open(gm__xtl_logger(), 0);
	if (!h)
		return explain_dev(L, neg_errno(), "/dev/xen/gntalloc", "xen-gntalloc");
	r = real_h_new(world, h, out);
	if (r < 0)
		L->gntshr_close(h);
	return r;
}

static void real_gntshr_close(void *hp)
{
	struct real_h *t = RH(hp);

	t->L->gntshr_close(t->h);
	free(t);
}

static void *real_gntshr_share(void *hp, gm_domid domid, uint32_t count, gm_gref *refs,
			       int writable, int *err)
{
	struct real_h *t = RH(hp);
	void *p;

	if (count > INT32_MAX) {
		*err = -EINVAL;
		return NULL;
	}
	errno = 0;
	p = t->L->gntshr_share_pages(t->h, domid, (int)count, refs, writable);
	if (!p || p == MAP_FAILED) {
		*err = neg_errno();
		return NULL;
	}
	*err = 0;
	return p;
}

/*
 * gntalloc has no "end access" call: the kernel ends foreign access when the
 * pages are unshared, and defers it until the grantee has unmapped them.
 * So ending access always succeeds here, and a mapping the grantee still
 * holds stays valid until it unmaps (it never sees -EBUSY from us).
 */
static int real_gntshr_end_access(void *hp, gm_gref ref)
{
	(void)hp;
	(void)ref;
	return 0;
}

static int real_gntshr_unshare(void *hp, void *addr, uint32_t count)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->gntshr_unshare(t->h, addr, count) ? neg_errno() : 0;
}

/* ---- evtchn ---------------------------------------------------------------------- */

static int real_evtchn_open(void *world, void **out)
{
	const struct gm__xenlibs *L = libs_of(world);
	xenevtchn_handle *h;
	int fd, r;

	errno = 0;
	h = L->evtchn_open(gm__xtl_logger(), 0);
	if (!h)
		return explain_dev(L, neg_errno(), "/dev/xen/evtchn", "xen-evtchn");
	/* pending must not block: it returns -EAGAIN when nothing fired */
	errno = 0;
	fd = L->evtchn_fd(h);
	if (fd < 0 || L->set_nonblock(fd) < 0) {
		r = neg_errno();
		L->evtchn_close(h);
		return r;
	}
	r = real_h_new(world, h, out);
	if (r < 0)
		L->evtchn_close(h);
	return r;
}

static void real_evtchn_close(void *hp)
{
	struct real_h *t = RH(hp);

	t->L->evtchn_close(t->h);
	free(t);
}

static int real_evtchn_fd(void *hp)
{
	struct real_h *t = RH(hp);
	int fd;

	errno = 0;
	fd = t->L->evtchn_fd(t->h);
	return fd < 0 ? neg_errno() : fd;
}

static int real_evtchn_bind_interdomain(void *hp, gm_domid remote, gm_port remote_port)
{
	struct real_h *t = RH(hp);
	int p;

	errno = 0;
	p = t->L->evtchn_bind_interdomain(t->h, remote, remote_port);
	return p < 0 ? neg_errno() : p;
}

static int real_evtchn_bind_unbound(void *hp, gm_domid remote)
{
	struct real_h *t = RH(hp);
	int p;

	errno = 0;
	p = t->L->evtchn_bind_unbound_port(t->h, remote);
	return p < 0 ? neg_errno() : p;
}

static int real_evtchn_unbind(void *hp, gm_port port)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->evtchn_unbind(t->h, port) < 0 ? neg_errno() : 0;
}

static int real_evtchn_notify(void *hp, gm_port port)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->evtchn_notify(t->h, port) < 0 ? neg_errno() : 0;
}

static int real_evtchn_pending(void *hp)
{
	struct real_h *t = RH(hp);
	int p;

	/* the fd is non-blocking: nothing pending is -1/EAGAIN */
	errno = 0;
	p = t->L->evtchn_pending(t->h);
	if (p < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : neg_errno();
	return p;
}

static int real_evtchn_unmask(void *hp, gm_port port)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->evtchn_unmask(t->h, port) < 0 ? neg_errno() : 0;
}

/* ---- xenstore -------------------------------------------------------------------- */

static int real_xs_open(void *world, void **out)
{
	const struct gm__xenlibs *L = libs_of(world);
	struct xs_handle *h;
	int r;

	errno = 0;
	h = L->xs_open(0);
	if (!h)
		return explain_xs(L, neg_errno());
	r = real_h_new(world, h, out);
	if (r < 0)
		L->xs_close(h);
	return r;
}

static void real_xs_close(void *hp)
{
	struct real_h *t = RH(hp);

	t->L->xs_close(t->h);
	free(t);
}

static int real_xs_fd(void *hp)
{
	struct real_h *t = RH(hp);
	int fd;

	errno = 0;
	fd = t->L->xs_fileno(t->h);
	return fd < 0 ? neg_errno() : fd;
}

static int real_xs_read(void *hp, gm_xs_tx tx, const char *path, char **value, size_t *len)
{
	struct real_h *t = RH(hp);
	unsigned n = 0;
	void *v;

	errno = 0;
	v = t->L->xs_read(t->h, tx, path, &n);
	if (!v)
		return neg_errno();
	/* libxenstore NUL-terminates the value and allocates it with malloc */
	*value = v;
	*len = n;
	return 0;
}

static int real_xs_write(void *hp, gm_xs_tx tx, const char *path, const void *value, size_t len)
{
	struct real_h *t = RH(hp);

	if (len > UINT32_MAX)
		return -E2BIG;
	errno = 0;
	return t->L->xs_write(t->h, tx, path, value, (unsigned)len) ? 0 : neg_errno();
}

/* Copy an array of @n strings into one malloc()ed, NULL-terminated block. */
static char **copy_strings(char *const *src, unsigned n)
{
	size_t bytes = ((size_t)n + 1) * sizeof(char *);
	char **dst, *p;

	for (unsigned i = 0; i < n; i++)
		bytes += strlen(src[i]) + 1;
	dst = gm__malloc(bytes);
	if (!dst)
		return NULL;
	p = (char *)(dst + n + 1);
	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(src[i]) + 1;

		memcpy(p, src[i], l);
		dst[i] = p;
		p += l;
	}
	dst[n] = NULL;
	return dst;
}

static int real_xs_directory(void *hp, gm_xs_tx tx, const char *path, char ***names)
{
	struct real_h *t = RH(hp);
	unsigned n = 0;
	char **d, **c;

	errno = 0;
	d = t->L->xs_directory(t->h, tx, path, &n);
	if (!d)
		return neg_errno();
	if (n > INT32_MAX) {
		free(d);
		return -E2BIG;
	}
	/* our own block, NULL-terminated, whatever libxenstore's layout */
	c = copy_strings(d, n);
	free(d);
	if (!c)
		return -ENOMEM;
	*names = c;
	return (int)n;
}

static int real_xs_rm(void *hp, gm_xs_tx tx, const char *path)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->xs_rm(t->h, tx, path) ? 0 : neg_errno();
}

static int real_xs_mkdir(void *hp, gm_xs_tx tx, const char *path)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->xs_mkdir(t->h, tx, path) ? 0 : neg_errno();
}

static int real_xs_set_perms(void *hp, gm_xs_tx tx, const char *path, const struct gm_xs_perm *p,
			     unsigned n)
{
	struct real_h *t = RH(hp);
	struct xs_permissions *xp;
	int r;

	xp = gm__calloc(n, sizeof(*xp));
	if (!xp)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		xp[i].id = p[i].id;
		xp[i].perms = ((p[i].perms & GM_XS_PERM_READ) ? XS_PERM_READ : 0) |
			      ((p[i].perms & GM_XS_PERM_WRITE) ? XS_PERM_WRITE : 0);
	}
	errno = 0;
	r = t->L->xs_set_permissions(t->h, tx, path, xp, n) ? 0 : neg_errno();
	free(xp);
	return r;
}

static int real_xs_watch(void *hp, const char *path, const char *token)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->xs_watch(t->h, path, token) ? 0 : neg_errno();
}

static int real_xs_unwatch(void *hp, const char *path, const char *token)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->xs_unwatch(t->h, path, token) ? 0 : neg_errno();
}

static int real_xs_read_watch(void *hp, char **path, char **token)
{
	struct real_h *t = RH(hp);
	char **ev;

	/* xs_check_watch never blocks: NULL/EAGAIN when nothing fired */
	errno = 0;
	ev = t->L->xs_check_watch(t->h);
	if (!ev)
		return errno == EWOULDBLOCK ? -EAGAIN : neg_errno();
	if (!ev[XS_WATCH_PATH] || !ev[XS_WATCH_TOKEN]) {
		free(ev);
		return -EIO;
	}
	*path = gm__strdup(ev[XS_WATCH_PATH]);
	*token = gm__strdup(ev[XS_WATCH_TOKEN]);
	free(ev);
	if (!*path || !*token) {
		free(*path);
		free(*token);
		*path = *token = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int real_xs_tx_start(void *hp, gm_xs_tx *tx)
{
	struct real_h *t = RH(hp);
	xs_transaction_t x;

	errno = 0;
	x = t->L->xs_transaction_start(t->h);
	if (x == XBT_NULL)
		return neg_errno();
	*tx = x;
	return 0;
}

static int real_xs_tx_end(void *hp, gm_xs_tx tx, int abort)
{
	struct real_h *t = RH(hp);

	errno = 0;
	return t->L->xs_transaction_end(t->h, tx, abort != 0) ? 0 : neg_errno();
}

static int real_xs_domain_path(void *hp, gm_domid domid, char **path)
{
	struct real_h *t = RH(hp);
	char *p;

	errno = 0;
	p = t->L->xs_get_domain_path(t->h, domid);
	if (!p)
		return neg_errno();
	*path = p;
	return 0;
}

/* ---- the world -------------------------------------------------------------------- */

/*
 * dom0 says "control_d" in /proc/xen/capabilities; any other domain reads
 * its id from its own xenstore directory ("domid", relative to it).
 */
static int real_self_domid(void *world, gm_domid *domid)
{
	const struct gm__xenlibs *L = libs_of(world);
	struct xs_handle *h;
	char caps[256], *v, *end;
	unsigned len = 0;
	unsigned long id;
	ssize_t n;
	int r;

	n = L->read_file("/proc/xen/capabilities", caps, sizeof(caps) - 1);
	if (n >= 0) {
		caps[n] = '\0';
		if (strstr(caps, "control_d")) {
			*domid = 0;
			return 0;
		}
	}
	errno = 0;
	h = L->xs_open(0);
	if (!h) {
		char what[300];

		r = neg_errno();
		if (n < 0 && !L->path_exists("/proc/xen/capabilities") &&
		    xs_absent(L, what, sizeof(what)))
			gm__xen_explain("no Xen here: /proc/xen/capabilities is absent and so is "
					"xenstore (not running on Xen, or xenfs is not mounted on "
					"/proc/xen)" NO_XEN_REMEDY);
		return r;
	}
	errno = 0;
	v = L->xs_read(h, XBT_NULL, "domid", &len);
	r = v ? 0 : neg_errno();
	L->xs_close(h);
	if (r < 0)
		return r;
	errno = 0;
	id = strtoul(v, &end, 10);
	if (errno || end == v || *end || id > GM_DOMID_MAX)
		r = -EPROTO;
	else
		*domid = (gm_domid)id;
	free(v);
	return r;
}

const struct gm_xen_ops gm__xen_real_ops = {
	.name = "real",
	.gnttab_open = real_gnttab_open,
	.gnttab_close = real_gnttab_close,
	.gnttab_set_max_grants = real_gnttab_set_max_grants,
	.gnttab_map = real_gnttab_map,
	.gnttab_unmap = real_gnttab_unmap,
	.gnttab_copy = real_gnttab_copy,
	.gntshr_open = real_gntshr_open,
	.gntshr_close = real_gntshr_close,
	.gntshr_share = real_gntshr_share,
	.gntshr_end_access = real_gntshr_end_access,
	.gntshr_unshare = real_gntshr_unshare,
	.evtchn_open = real_evtchn_open,
	.evtchn_close = real_evtchn_close,
	.evtchn_fd = real_evtchn_fd,
	.evtchn_bind_interdomain = real_evtchn_bind_interdomain,
	.evtchn_bind_unbound = real_evtchn_bind_unbound,
	.evtchn_unbind = real_evtchn_unbind,
	.evtchn_notify = real_evtchn_notify,
	.evtchn_pending = real_evtchn_pending,
	.evtchn_unmask = real_evtchn_unmask,
	.xs_open = real_xs_open,
	.xs_close = real_xs_close,
	.xs_fd = real_xs_fd,
	.xs_read = real_xs_read,
	.xs_write = real_xs_write,
	.xs_directory = real_xs_directory,
	.xs_rm = real_xs_rm,
	.xs_mkdir = real_xs_mkdir,
	.xs_set_perms = real_xs_set_perms,
	.xs_watch = real_xs_watch,
	.xs_unwatch = real_xs_unwatch,
	.xs_read_watch = real_xs_read_watch,
	.xs_tx_start = real_xs_tx_start,
	.xs_tx_end = real_xs_tx_end,
	.xs_domain_path = real_xs_domain_path,
	.self_domid = real_self_domid,
};

int gm__xen_real_open(gm_xen **out)
{
	return gm_xen_open_ops(&gm__xen_real_ops, (void *)(uintptr_t)&gm__xenlibs_real, out);
}
