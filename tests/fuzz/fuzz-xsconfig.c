/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-xsconfig: the device configuration a frontend (or a toolstack)
 * leaves in xenstore, as lib/vdev/vdev.c parses it, against a model of the
 * documented grammar (include/grantmem/vdev.h, docs/vdev-protocol.md).
 *
 * The xenstore is an in-process one, behind a custom world (gm_xen_open_ops):
 * nodes with any bytes as values (embedded NULs, up to 640 bytes), parents
 * made on write, directories, watches that fire on changes below them,
 * transactions (aborts roll back), no permissions, and calls that fail on
 * demand.  The same world has
 * event channels that count what is bound, and forwards grant-table calls
 * to the fake Xen (tests/fake-xen.c), where the frontend has granted a few
 * ring pages.
 *
 * The input picks one of:
 *   - gm_vdev_parse_u64 on raw bytes and a maximum;
 *   - gm_vdev_read_frontend on a frontend directory (features, num-queues,
 *     feature-persistent, queue-<i>/{size,layout,desc,driver,device,
 *     event-channel}) against limits it also picks;
 *   - gm_vdev_read_backend (device-id, features, max-queues, max-queue-size,
 *     feature-persistent, layouts, config);
 *   - gm_vdev_parse_xl_virtio (the nodes xl writes) and gm_vdev_read_state;
 *   - a whole backend (gm_vdev_backend_new, _process) serving a device the
 *     toolstack adds and removes, a frontend that publishes, breaks,
 *     repairs and closes its configuration, and xenstore calls that fail.
 * Every node is written mostly well formed, and otherwise missing, empty,
 * out of range, overflowing, too long, signed, padded, in the other base,
 * with an embedded NUL or as raw bytes.
 *
 * Invariants: a value is accepted only if it is well formed and in range
 * (the model parses every stored byte itself), and then to exactly the
 * model's value; a rejected one gives the model's negative errno (-EINVAL,
 * or -ENOENT for a required node that is missing) and leaves the output
 * untouched; the backend connects a device only with a configuration the
 * model accepts, hands the device exactly that configuration, writes only
 * XenbusState numbers, and once the device is gone (or the backend freed)
 * has nothing mapped, no event channel bound or open, no watch left, and
 * called disconnect once per connect.
 */
#include "config.h"

#include "fuzz-common.h"
#include "../fake-xen.h"

#include <grantmem/grantmem.h>
#include <grantmem/vdev.h>
#include <grantmem/virtio.h>

#include <errno.h>
#include <stdbool.h>

#define BE 1
#define FE 5
#define TYPE "gm-virtio"
static const char BE_DIR[] = "/local/domain/1/backend/" TYPE "/5/0";
static const char FE_DIR[] = "/local/domain/5/device/" TYPE "/0";
static const char XL_DIR[] = "/local/domain/0/backend/virtio/7/0";

#define NQ_MAX 4      /* queue directories the input writes */
#define NREF 12       /* ring pages the frontend granted (refs 0..11) */
#define STEPS 32

/* ---- an in-process xenstore ---- */

/*
 * Fixed-size nodes, no allocation: an input's nodes are dropped at its end
 * without leaving anything for the leak checker, and a transaction keeps a
 * journal of the nodes it changed (the old node, or "absent") to roll back.
 * Comparisons are the world's own, not libc's: libFuzzer hooks strcmp and
 * memcmp, and the store's lookups are not what it should learn from.
 */
#define XS_NODES 192
#define XS_PATH 320
#define XS_VAL 640
#define XS_JOURNAL 96
#define XS_WATCHES 16
#define XS_EVENTS 64

struct xnode {
	char path[XS_PATH];
	size_t plen;
	uint32_t hash;        /* of the path: compared first */
	char val[XS_VAL + 1]; /* NUL after the value */
	size_t len;
	bool absent;          /* journal: there was no such node */
};

struct xevent {
	char path[XS_PATH];
	char token[64];
};

static struct {
	struct xnode n[XS_NODES];
	unsigned nn;
	struct xnode j[XS_JOURNAL]; /* the open transaction's journal */
	unsigned nj;
	gm_xs_tx tx;
	bool jfull;                 /* journal overflow: the commit fails */
	struct {
		char path[XS_PATH];
		char token[64];
		void *h; /* the handle that set it */
	} w[XS_WATCHES];
	unsigned nw;
	struct xevent ev[XS_EVENTS]; /* a ring: nev from ev[ev0] on */
	unsigned ev0, nev;
	int fail_at;  /* fail the fail_at-th next call (1: the next)... */
	int fail_err; /* ... with this errno */
	unsigned open_xs, open_evtchn, bound;
} X;

static void xs_reset(void)
{
	X.nn = X.nj = X.nw = X.nev = X.ev0 = 0;
	X.tx = 0;
	X.jfull = false;
	X.fail_at = 0;
}

MODEL_LOOP static bool bytes_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

MODEL_LOOP static size_t slen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

MODEL_LOOP static bool str_eq(const char *a, const char *b)
{
	size_t n = slen(a);

	return n == slen(b) && bytes_eq(a, b, n);
}

/* Is @p @dir itself or below it? */
MODEL_LOOP static bool under(const char *p, const char *dir)
{
	size_t n = slen(dir);

	return slen(p) >= n && bytes_eq(p, dir, n) && (p[n] == '\0' || p[n] == '/');
}

/* FNV-1a of a path. */
MODEL_LOOP static uint32_t phash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

MODEL_LOOP static struct xnode *xs_find(const char *path)
{
	size_t n = slen(path);
	uint32_t h = phash(path, n);

	for (unsigned i = 0; i < X.nn; i++)
		if (X.n[i].hash == h && X.n[i].plen == n && bytes_eq(X.n[i].path, path, n))
			return &X.n[i];
	return NULL;
}

/* Queue a watch event (dropped when full: a pass over everything is due). */
static void xs_event(const char *path, const char *token)
{
	struct xevent *e;

	if (X.nev == XS_EVENTS)
		return;
	e = &X.ev[(X.ev0 + X.nev++) % XS_EVENTS];
	snprintf(e->path, XS_PATH, "%s", path);
	snprintf(e->token, sizeof(e->token), "%s", token);
}

/* Something changed at @path: fire the watches on it, above or below. */
MODEL_LOOP static void xs_fire(const char *path)
{
	for (unsigned i = 0; i < X.nw; i++)
		if (under(path, X.w[i].path) || under(X.w[i].path, path))
			xs_event(path, X.w[i].token);
}

/* In a transaction, remember how @path was before its first change. */
MODEL_LOOP static void journal(const char *path)
{
	const struct xnode *n;

	size_t len = slen(path);
	uint32_t h = phash(path, len);

	if (!X.tx)
		return;
	for (unsigned i = 0; i < X.nj; i++)
		if (X.j[i].hash == h && X.j[i].plen == len && bytes_eq(X.j[i].path, path, len))
			return;
	if (X.nj == XS_JOURNAL) {
		X.jfull = true;
		return;
	}
	n = xs_find(path);
	if (n) {
		X.j[X.nj] = *n;
		X.j[X.nj].absent = false;
	} else {
		snprintf(X.j[X.nj].path, XS_PATH, "%s", path);
		X.j[X.nj].plen = len;
		X.j[X.nj].hash = h;
		X.j[X.nj].absent = true;
	}
	X.nj++;
}

/* Create @path (and its parents) if missing; the node or NULL. */
MODEL_LOOP static struct xnode *xs_make(const char *path)
{
	struct xnode *n = xs_find(path);
	size_t len = slen(path);
	char parent[XS_PATH];

	if (n)
		return n;
	if (len >= XS_PATH || path[0] != '/')
		return NULL;
	memcpy(parent, path, len + 1);
	for (size_t i = len; i-- > 1;)
		if (parent[i] == '/') {
			parent[i] = '\0';
			if (!xs_make(parent))
				return NULL;
			break;
		}
	if (X.nn == XS_NODES)
		return NULL;
	journal(path);
	n = &X.n[X.nn++];
	memcpy(n->path, path, len + 1);
	n->plen = len;
	n->hash = phash(path, len);
	n->val[0] = '\0';
	n->len = 0;
	return n;
}

/* The driver side: set a node to @len bytes (NULL: remove it and below). */
static void xs_set(const char *path, const void *val, size_t len)
{
	if (!val) {
		for (unsigned i = 0; i < X.nn;) {
			if (under(X.n[i].path, path)) {
				journal(X.n[i].path);
				X.n[i] = X.n[--X.nn];
			} else {
				i++;
			}
		}
		xs_fire(path);
		return;
	}
	struct xnode *n = xs_make(path);

	if (!n || len > XS_VAL)
		return;
	journal(path);
	memcpy(n->val, val, len);
	n->val[len] = '\0';
	n->len = len;
	xs_fire(path);
}

static void xs_set_str(const char *path, const char *s)
{
	xs_set(path, s, slen(s));
}

/* An injected failure of the world's next calls (mode "device"). */
static int xs_failing(void)
{
	if (X.fail_at && --X.fail_at == 0)
		return X.fail_err;
	return 0;
}

static int w_xs_open(void *world, void **h)
{
	(void)world;
	*h = malloc(1);
	if (!*h)
		return -ENOMEM;
	X.open_xs++;
	return 0;
}

static void w_xs_close(void *h)
{
	/* its watches go with it */
	for (unsigned i = 0; i < X.nw;)
		if (X.w[i].h == h)
			X.w[i] = X.w[--X.nw];
		else
			i++;
	free(h);
	X.open_xs--;
}

static int w_xs_read(void *h, gm_xs_tx tx, const char *path, char **value, size_t *len)
{
	struct xnode *n;
	int r;

	(void)h, (void)tx;
	if ((r = xs_failing()))
		return r;
	if (!(n = xs_find(path)))
		return -ENOENT;
	*value = malloc(n->len + 1);
	if (!*value)
		return -ENOMEM;
	memcpy(*value, n->val, n->len + 1);
	*len = n->len;
	return 0;
}

static int w_xs_write(void *h, gm_xs_tx tx, const char *path, const void *value, size_t len)
{
	int r;

	(void)h, (void)tx;
	if ((r = xs_failing()))
		return r;
	if (len > XS_VAL)
		return -E2BIG;
	if (!xs_make(path))
		return -ENOSPC;
	xs_set(path, value ? value : "", len);
	return 0;
}

MODEL_LOOP static int w_xs_directory(void *h, gm_xs_tx tx, const char *path, char ***names)
{
	size_t plen = slen(path), bytes = 0;
	const char *kids[XS_NODES];
	size_t klen[XS_NODES];
	unsigned nk = 0;
	int r;

	(void)h, (void)tx;
	if ((r = xs_failing()))
		return r;
	if (!xs_find(path))
		return -ENOENT;
	for (unsigned i = 0; i < X.nn; i++) {
		const char *p = X.n[i].path;

		if (X.n[i].plen <= plen + 1 || !bytes_eq(p, path, plen) || p[plen] != '/')
			continue;
		p += plen + 1;
		size_t l = 0;
		while (p[l] && p[l] != '/')
			l++;
		bool dup = false;
		for (unsigned k = 0; k < nk && !dup; k++)
			dup = klen[k] == l && bytes_eq(kids[k], p, l);
		if (dup)
			continue;
		kids[nk] = p;
		klen[nk++] = l;
		bytes += l + 1;
	}
	char **a = malloc((nk + 1) * sizeof(char *) + bytes + 1);
	if (!a)
		return -ENOMEM;
	char *s = (char *)(a + nk + 1);
	for (unsigned k = 0; k < nk; k++) {
		a[k] = s;
		memcpy(s, kids[k], klen[k]);
		s[klen[k]] = '\0';
		s += klen[k] + 1;
	}
	a[nk] = NULL;
	*names = a;
	return (int)nk;
}

static int w_xs_rm(void *h, gm_xs_tx tx, const char *path)
{
	int r;

	(void)h, (void)tx;
	if ((r = xs_failing()))
		return r;
	if (!xs_find(path))
		return -ENOENT;
	xs_set(path, NULL, 0);
	return 0;
}

static int w_xs_mkdir(void *h, gm_xs_tx tx, const char *path)
{
	int r;

	(void)h, (void)tx;
	if ((r = xs_failing()))
		return r;
	if (xs_find(path))
		return 0;
	if (!xs_make(path))
		return -ENOSPC;
	xs_fire(path);
	return 0;
}

static int w_xs_set_perms(void *h, gm_xs_tx tx, const char *path, const struct gm_xs_perm *p,
			  unsigned n)
{
	(void)h, (void)tx, (void)p, (void)n;
	return xs_find(path) ? xs_failing() : -ENOENT;
}

static int w_xs_watch(void *h, const char *path, const char *token)
{
	int r;

	if ((r = xs_failing()))
		return r;
	if (X.nw == XS_WATCHES)
		return -ENOSPC;
	snprintf(X.w[X.nw].path, XS_PATH, "%s", path);
	snprintf(X.w[X.nw].token, sizeof(X.w[0].token), "%s", token);
	X.w[X.nw++].h = h;
	xs_event(path, token); /* a new watch fires once */
	return 0;
}

static int w_xs_unwatch(void *h, const char *path, const char *token)
{
	for (unsigned i = 0; i < X.nw; i++)
		if (X.w[i].h == h && str_eq(X.w[i].path, path) && str_eq(X.w[i].token, token)) {
			X.w[i] = X.w[--X.nw];
			return 0;
		}
	return -ENOENT;
}

static int w_xs_read_watch(void *h, char **path, char **token)
{
	int r;

	(void)h;
	if (!X.nev)
		return -EAGAIN;
	if ((r = xs_failing()))
		return r;
	*path = strdup(X.ev[X.ev0].path);
	*token = strdup(X.ev[X.ev0].token);
	X.ev0 = (X.ev0 + 1) % XS_EVENTS;
	X.nev--;
	if (!*path || !*token) {
		free(*path);
		free(*token);
		return -ENOMEM;
	}
	return 0;
}

static int w_xs_tx_start(void *h, gm_xs_tx *tx)
{
	int r;

	(void)h;
	if ((r = xs_failing()))
		return r;
	if (X.tx)
		return -EBUSY; /* one at a time here */
	X.nj = 0;
	X.jfull = false;
	*tx = X.tx = 7;
	return 0;
}

/* Undo the open transaction's changes, newest first. */
MODEL_LOOP static void rollback(void)
{
	gm_xs_tx tx = X.tx;

	X.tx = 0; /* no journaling of the undo */
	for (unsigned i = X.nj; i--;) {
		struct xnode *n = xs_find(X.j[i].path);

		if (X.j[i].absent) {
			if (n)
				*n = X.n[--X.nn];
		} else if (n) {
			*n = X.j[i];
		} else if (X.nn < XS_NODES) {
			X.n[X.nn++] = X.j[i];
		}
	}
	X.tx = tx;
}

static int w_xs_tx_end(void *h, gm_xs_tx tx, int abort)
{
	int r = xs_failing();

	(void)h;
	if (tx != X.tx)
		return -EINVAL;
	if (!r && X.jfull && !abort)
		r = -EAGAIN; /* too big to roll back: as a conflict, once */
	if (abort || r) /* a failed commit leaves nothing either */
		rollback();
	X.nj = 0;
	X.jfull = false;
	X.tx = 0;
	return r;
}

static int w_xs_domain_path(void *h, gm_domid domid, char **path)
{
	(void)h;
	*path = malloc(32);
	if (!*path)
		return -ENOMEM;
	snprintf(*path, 32, "/local/domain/%u", domid);
	return 0;
}

static int w_self_domid(void *world, gm_domid *domid)
{
	(void)world;
	*domid = BE;
	return 0;
}

/* ---- event channels: counted; a frontend port above 4096 is not bound ---- */

static int w_evtchn_open(void *world, void **h)
{
	int r;

	(void)world;
	if ((r = xs_failing()))
		return r;
	*h = calloc(1, sizeof(unsigned));
	if (!*h)
		return -ENOMEM;
	X.open_evtchn++;
	return 0;
}

static void w_evtchn_close(void *h)
{
	X.bound -= *(unsigned *)h; /* closing unbinds */
	free(h);
	X.open_evtchn--;
}

static int w_evtchn_bind(void *h, gm_domid remote, gm_port port)
{
	int r;

	if ((r = xs_failing()))
		return r;
	if (remote != FE || port > 4096)
		return -EINVAL;
	(*(unsigned *)h)++;
	X.bound++;
	return (int)port + 100;
}

static int w_evtchn_unbind(void *h, gm_port port)
{
	(void)port;
	if (!*(unsigned *)h)
		return -EINVAL;
	(*(unsigned *)h)--;
	X.bound--;
	return 0;
}

static int w_evtchn_notify(void *h, gm_port port)
{
	(void)h, (void)port;
	return 0;
}

/* ---- grant tables: the fake Xen's ---- */

static struct fake_xen *fx;

static int w_gnttab_open(void *world, void **h)
{
	(void)world;
	return gm_gnttab_open(fake_xen_world(fx), (gm_gnttab **)h);
}

static void w_gnttab_close(void *h)
{
	gm_gnttab_close(h);
}

static int w_gnttab_set_max_grants(void *h, uint32_t count)
{
	return gm_gnttab_set_max_grants(h, count);
}

static void *w_gnttab_map(void *h, uint32_t count, gm_domid domid, const gm_gref *refs, int prot,
			  int *err)
{
	return gm_gnttab_map(h, count, domid, refs, prot, err);
}

static int w_gnttab_unmap(void *h, void *addr, uint32_t count)
{
	return gm_gnttab_unmap(h, addr, count);
}

static int w_gnttab_copy(void *h, uint32_t count, struct gm_copy_seg *segs)
{
	return gm_gnttab_copy(h, count, segs);
}

static const struct gm_xen_ops world_ops = {
	.name = "fuzz",
	.gnttab_open = w_gnttab_open,
	.gnttab_close = w_gnttab_close,
	.gnttab_set_max_grants = w_gnttab_set_max_grants,
	.gnttab_map = w_gnttab_map,
	.gnttab_unmap = w_gnttab_unmap,
	.gnttab_copy = w_gnttab_copy,
	.evtchn_open = w_evtchn_open,
	.evtchn_close = w_evtchn_close,
	.evtchn_bind_interdomain = w_evtchn_bind,
	.evtchn_unbind = w_evtchn_unbind,
	.evtchn_notify = w_evtchn_notify,
	.xs_open = w_xs_open,
	.xs_close = w_xs_close,
	.xs_read = w_xs_read,
	.xs_write = w_xs_write,
	.xs_directory = w_xs_directory,
	.xs_rm = w_xs_rm,
	.xs_mkdir = w_xs_mkdir,
	.xs_set_perms = w_xs_set_perms,
	.xs_watch = w_xs_watch,
	.xs_unwatch = w_xs_unwatch,
	.xs_read_watch = w_xs_read_watch,
	.xs_tx_start = w_xs_tx_start,
	.xs_tx_end = w_xs_tx_end,
	.xs_domain_path = w_xs_domain_path,
	.self_domid = w_self_domid,
};

static gm_xen *world;
static gm_xs *xs; /* the test's own connection: toolstack, frontend, reader */

/* ---- the model: the documented grammar, on the stored bytes ---- */

static int hexdigit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A number: 1 to GM_VDEV_VALUE_MAX characters, decimal digits, or "0x" /
 * "0X" and at least one hexadecimal digit; below 2^64 and at most @max.
 */
MODEL_LOOP static int m_num(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	unsigned __int128 v = 0;
	unsigned base = 10;
	size_t i = 0;

	if (!len || len > GM_VDEV_VALUE_MAX)
		return -EINVAL;
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
		if (len == 2)
			return -EINVAL;
	}
	for (; i < len; i++) {
		int d = base == 16 ? hexdigit((unsigned char)s[i])
				   : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
		if (d < 0)
			return -EINVAL;
		v = v * base + (unsigned)d;
		if (v > UINT64_MAX)
			return -EINVAL;
	}
	if (v > max)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

/* A string node: missing -ENOENT; longer than @max or with a NUL -EINVAL. */
static int m_str(const char *dir, const char *key, size_t max, const char **s)
{
	char path[XS_PATH];
	const struct xnode *n;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (!(n = xs_find(path)))
		return -ENOENT;
	if (n->len > max || slen(n->val) != n->len)
		return -EINVAL;
	*s = n->val;
	return 0;
}

static int m_u64(const char *dir, const char *key, uint64_t max, uint64_t *out)
{
	const char *s;
	int r = m_str(dir, key, GM_VDEV_VALUE_MAX, &s);

	return r ? r : m_num(s, slen(s), max, out);
}

/* An optional number: missing is @def. */
static int m_u64_opt(const char *dir, const char *key, uint64_t max, uint64_t def, uint64_t *out)
{
	int r = m_u64(dir, key, max, out);

	if (r == -ENOENT) {
		*out = def;
		return 0;
	}
	return r;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* A ring area: a grant address, aligned, its bytes inside the grant region. */
static bool m_area_ok(uint64_t a, uint64_t size, uint64_t align)
{
	return GM_GRANT_IS_GRANT(a) && !(a % align) &&
	       (a & ~GM_GRANT_BASE) + size <= GM_GRANT_REGION_SIZE;
}

static int m_queue(const char *fe, unsigned qi, const struct gm_vdev_limits *lim, bool packed,
		   struct gm_vdev_queue_info *q)
{
	static const char *const area[3] = {"desc", "driver", "device"};
	char dir[XS_PATH];
	const char *s;
	uint64_t v, a[3], size[3], align[3];
	int r;

	snprintf(dir, sizeof(dir), "%s/queue-%u", fe, qi);
	if ((r = m_u64(dir, "size", lim->max_queue_size, &v)))
		return r;
	if (!v)
		return -EINVAL;
	q->size = (uint32_t)v;
	r = m_str(dir, "layout", 16, &s);
	if (r == -ENOENT)
		q->layout = GM_VDEV_SPLIT;
	else if (r)
		return r;
	else if (str_eq(s, "split"))
		q->layout = GM_VDEV_SPLIT;
	else if (str_eq(s, "packed"))
		q->layout = GM_VDEV_PACKED;
	else
		return -EINVAL;
	if ((q->layout == GM_VDEV_PACKED) != packed || !(lim->layouts & (1u << q->layout)))
		return -EINVAL;
	if (q->layout == GM_VDEV_SPLIT && !pow2(q->size))
		return -EINVAL;
	size[0] = 16ull * q->size;
	align[0] = 16;
	size[1] = packed ? 4 : 6 + 2ull * q->size;
	align[1] = packed ? 4 : 2;
	size[2] = packed ? 4 : 6 + 8ull * q->size;
	align[2] = 4;
	for (int i = 0; i < 3; i++) {
		if ((r = m_u64(dir, area[i], UINT64_MAX, &a[i])))
			return r;
		if (!m_area_ok(a[i], size[i], align[i]))
			return -EINVAL;
	}
	q->desc = a[0];
	q->driver = a[1];
	q->device = a[2];
	if ((r = m_u64(dir, "event-channel", (1u << 20) - 1, &v)))
		return r;
	if (!v)
		return -EINVAL;
	q->port = (gm_port)v;
	return 0;
}

/* gm_vdev_read_frontend, by the book. */
static int m_frontend(const char *fe, const struct gm_vdev_limits *lim,
		      struct gm_vdev_front_info *fi)
{
	uint64_t v;
	int r;

	if (!lim->max_queues || lim->max_queues > GM_VDEV_MAX_QUEUES || !lim->max_queue_size ||
	    lim->max_queue_size > GM_VDEV_MAX_QUEUE_SIZE)
		return -EINVAL;
	memset(fi, 0, sizeof(*fi));
	if ((r = m_u64(fe, "features", UINT64_MAX, &fi->features)))
		return r;
	if ((fi->features & ~lim->features) ||
	    !(fi->features & GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1)))
		return -EINVAL;
	if ((r = m_u64(fe, "num-queues", lim->max_queues, &v)))
		return r;
	if (!v)
		return -EINVAL;
	fi->num_queues = (unsigned)v;
	if ((r = m_u64_opt(fe, "feature-persistent", 1, 0, &v)))
		return r;
	fi->persistent = (unsigned)v;
	for (unsigned i = 0; i < fi->num_queues; i++)
		if ((r = m_queue(fe, i, lim, fi->features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED),
				 &fi->queues[i])))
			return r;
	return 0;
}

/* gm_vdev_read_backend, by the book. */
MODEL_LOOP static int m_backend(const char *be, struct gm_vdev_back_info *bi)
{
	const char *s;
	uint64_t v;
	int r;

	memset(bi, 0, sizeof(*bi));
	if ((r = m_u64(be, "device-id", UINT32_MAX, &v)))
		return r;
	bi->device_id = (uint32_t)v;
	if ((r = m_u64(be, "features", UINT64_MAX, &bi->features)))
		return r;
	if ((r = m_u64(be, "max-queues", GM_VDEV_MAX_QUEUES, &v)))
		return r;
	bi->max_queues = (unsigned)v;
	if ((r = m_u64(be, "max-queue-size", GM_VDEV_MAX_QUEUE_SIZE, &v)))
		return r;
	bi->max_queue_size = (unsigned)v;
	if (!bi->max_queues || !bi->max_queue_size)
		return -EINVAL;
	if ((r = m_u64_opt(be, "feature-persistent", 1, 0, &v)))
		return r;
	bi->persistent = (unsigned)v;
	r = m_str(be, "layouts", 32, &s);
	if (r == -ENOENT) {
		bi->layouts = 1u << GM_VDEV_SPLIT;
	} else if (r) {
		return r;
	} else {
		/* words separated by spaces: each "split" or "packed", one at least */
		for (const char *p = s; *p;) {
			size_t l = 0;

			while (*p == ' ')
				p++;
			while (p[l] && p[l] != ' ')
				l++;
			if (!l)
				break;
			if (l == 5 && bytes_eq(p, "split", 5))
				bi->layouts |= 1u << GM_VDEV_SPLIT;
			else if (l == 6 && bytes_eq(p, "packed", 6))
				bi->layouts |= 1u << GM_VDEV_PACKED;
			else
				return -EINVAL;
			p += l;
		}
		if (!bi->layouts)
			return -EINVAL;
	}
	r = m_str(be, "config", 2 * GM_VDEV_CONFIG_MAX, &s);
	if (r == -ENOENT)
		s = "";
	else if (r)
		return r;
	size_t n = slen(s);
	if (n % 2)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexdigit((unsigned char)s[i]), lo = hexdigit((unsigned char)s[i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		bi->config[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	bi->config_len = n / 2;
	return 0;
}

/* A string node into a buffer of @size (so at most size - 1 characters). */
static int m_str_into(const char *dir, const char *key, char *buf, size_t size)
{
	const char *s;
	int r = m_str(dir, key, size - 1, &s);

	if (!r)
		memcpy(buf, s, slen(s) + 1);
	return r;
}

/* gm_vdev_parse_xl_virtio, by the book. */
MODEL_LOOP static int m_xl(const char *dir, struct gm_xl_virtio *o)
{
	uint64_t v;
	int r;

	memset(o, 0, sizeof(*o));
	if ((r = m_u64(dir, "frontend-id", GM_DOMID_MAX, &v)))
		return r;
	o->frontend_id = (gm_domid)v;
	if ((r = m_str_into(dir, "type", o->type, sizeof(o->type))) ||
	    (r = m_str_into(dir, "transport", o->transport, sizeof(o->transport))))
		return r;
	r = m_str_into(dir, "frontend", o->frontend, sizeof(o->frontend));
	if (r && r != -ENOENT)
		return r;
	if ((r = m_u64_opt(dir, "online", 1, 0, &v)))
		return r;
	o->online = (unsigned)v;
	if ((r = m_u64_opt(dir, "state", GM_VDEV_STATE_CLOSED, 0, &v)))
		return r;
	o->state = (enum gm_vdev_state)v;
	if ((r = m_u64_opt(dir, "grant_usage", 1, 0, &v)))
		return r;
	o->grant_usage = (unsigned)v;
	r = m_u64(dir, "base", UINT64_MAX, &o->base);
	if (r && r != -ENOENT)
		return r;
	o->has_base = !r;
	r = m_u64(dir, "irq", UINT32_MAX, &v);
	if (r && r != -ENOENT)
		return r;
	o->has_irq = !r;
	o->irq = r ? 0 : (uint32_t)v;
	/* "virtio,device<id>": 1 to 8 hexadecimal digits name the device */
	if (bytes_eq(o->type, "virtio,device", 13) && o->type[13]) {
		const char *id = o->type + 13;
		size_t n = slen(id);

		if (n > 8)
			return -EINVAL;
		v = 0;
		for (size_t i = 0; i < n; i++) {
			int d = hexdigit((unsigned char)id[i]);
			if (d < 0)
				return -EINVAL;
			v = v << 4 | (unsigned)d;
		}
		o->device_id = (uint32_t)v;
	}
	return 0;
}

/* ---- writing nodes the way the input likes ---- */

static void node_path(char *path, const char *dir, const char *key)
{
	snprintf(path, XS_PATH, "%s/%s", dir, key);
}

/* A number node: mostly @good, in either base; sometimes anything else. */
static void put_num(struct fin *in, const char *dir, const char *key, uint64_t good, uint64_t max)
{
	static const char *const junk[] = {
		"", "0x", "0X", "-1", "+1", " 1", "1 ", "1a", "0x1g", "x1", "0b1", "1e3", "1.0",
		"0x-1", "0x 1", "\xd9\xa1", "1\n", "\t1", "0xffffffffffffffff", "00",
	};
	char path[XS_PATH], v[160];
	unsigned k = fin_u8(in);
	size_t n;

	node_path(path, dir, key);
	if (k < 0xa0) {
		n = (size_t)snprintf(v, sizeof(v), k & 1 ? "0x%llx" : "%llu",
				     (unsigned long long)good);
		xs_set(path, v, n);
		return;
	}
	uint64_t x = good;
	switch (k % 12) {
	case 0:
		xs_set(path, NULL, 0);
		return;
	case 1:
		x = max + 1 + fin_below(in, 3); /* above the range (wraps for UINT64_MAX) */
		break;
	case 2:
		x = fin_u64(in);
		break;
	case 3:
		x = 0;
		break;
	case 4: /* raw bytes */
		n = fin_below(in, 72);
		for (size_t i = 0; i < n; i++)
			v[i] = (char)fin_u8(in);
		xs_set(path, v, n);
		return;
	case 5:
		xs_set_str(path, junk[fin_below(in, sizeof(junk) / sizeof(junk[0]))]);
		return;
	case 6: /* zero-padded: fine up to 64 characters, refused beyond */
		n = (size_t)snprintf(v, sizeof(v), "%0*llu", 56 + (int)fin_below(in, 16),
				     (unsigned long long)good);
		xs_set(path, v, n);
		return;
	case 7: /* an embedded NUL */
		n = (size_t)snprintf(v, sizeof(v), "%llu", (unsigned long long)good);
		v[n] = '\0';
		v[n + 1] = (char)('0' + fin_below(in, 10));
		xs_set(path, v, n + 2);
		return;
	case 8:
		xs_set_str(path, fin_u8(in) & 1 ? "18446744073709551616" : "0x10000000000000000");
		return;
	case 9:
		n = (size_t)snprintf(v, sizeof(v), "0X%llX", (unsigned long long)good);
		xs_set(path, v, n);
		return;
	case 10: /* near it */
		x = good + fin_below(in, 7) - 3;
		break;
	default:
		x = max;
		break;
	}
	n = (size_t)snprintf(v, sizeof(v), fin_u8(in) & 1 ? "0x%llx" : "%llu",
			     (unsigned long long)x);
	xs_set(path, v, n);
}

/* A string node: mostly @good; sometimes missing, another word, broken. */
static void put_str(struct fin *in, const char *dir, const char *key, const char *good,
		    const char *const *words, unsigned nwords)
{
	char path[XS_PATH], v[600];
	unsigned k = fin_u8(in);
	size_t n;

	node_path(path, dir, key);
	if (k < 0xa0) {
		xs_set_str(path, good);
		return;
	}
	switch (k % 8) {
	case 0:
		xs_set(path, NULL, 0);
		return;
	case 1:
	case 2:
		xs_set_str(path, words[fin_below(in, nwords)]);
		return;
	case 3: /* raw bytes */
		n = fin_below(in, 72);
		for (size_t i = 0; i < n; i++)
			v[i] = (char)fin_u8(in);
		xs_set(path, v, n);
		return;
	case 4: /* an embedded NUL */
		n = (size_t)snprintf(v, sizeof(v), "%s", good);
		v[n] = '\0';
		v[n + 1] = 'x';
		xs_set(path, v, n + 2);
		return;
	case 5: /* too long, or just long enough */
		n = fin_u16(in) % sizeof(v);
		memset(v, fin_u8(in) & 1 ? 'a' : '0', n);
		xs_set(path, v, n);
		return;
	case 6:
		xs_set_str(path, "");
		return;
	default: /* @good with a character changed */
		n = (size_t)snprintf(v, sizeof(v), "%s", good);
		if (n)
			v[fin_below(in, (unsigned)n)] = (char)fin_u8(in);
		xs_set(path, v, n);
		return;
	}
}

/* A ring area address: mostly a granted page, aligned. */
static uint64_t pick_area(struct fin *in, unsigned align)
{
	switch (fin_below(in, 8)) {
	case 0: /* misaligned */
		return GM_GRANT_ADDR(fin_below(in, NREF), 1 + fin_below(in, align));
	case 1: /* not a grant address */
		return fin_u32(in);
	case 2: /* at the end of the grant region */
		return GM_GRANT_BASE | (GM_GRANT_REGION_SIZE - align * (1 + fin_below(in, 4)));
	case 3: /* above the region, or anything */
		return fin_u8(in) & 1 ? GM_GRANT_BASE | GM_GRANT_REGION_SIZE : fin_u64(in);
	default:
		return GM_GRANT_ADDR(fin_below(in, NREF), align * fin_below(in, 4));
	}
}

static const char *const layout_words[] = {"split", "packed", "Split", "split ", " packed",
					   "spli", "packedd", "split packed"};

/* The frontend's nodes, mostly good for @lim. */
static void put_frontend(struct fin *in, const struct gm_vdev_limits *lim)
{
	uint64_t feat = GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1) | (lim->features & fin_u64(in));
	bool packed;
	unsigned nq;

	if (!(lim->layouts & (1u << GM_VDEV_PACKED)) || fin_u8(in) & 1)
		feat &= ~GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	else
		feat |= GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	packed = feat & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	nq = 1 + fin_below(in, GM__FUZZ_MIN(NQ_MAX, lim->max_queues ? lim->max_queues : 1));
	put_num(in, FE_DIR, "features", feat, UINT64_MAX);
	put_num(in, FE_DIR, "num-queues", nq, lim->max_queues);
	put_num(in, FE_DIR, "feature-persistent", fin_u8(in) & 1, 1);
	for (unsigned i = 0; i < nq; i++) {
		char dir[XS_PATH];
		unsigned max = lim->max_queue_size ? lim->max_queue_size : 1;
		uint64_t size = packed ? 1 + fin_below(in, max) : 1u << fin_below(in, 16);

		if (!packed)
			while (size > max)
				size >>= 1;
		snprintf(dir, sizeof(dir), "%s/queue-%u", FE_DIR, i);
		put_num(in, dir, "size", size, max);
		put_str(in, dir, "layout", packed ? "packed" : "split", layout_words,
			sizeof(layout_words) / sizeof(layout_words[0]));
		put_num(in, dir, "desc", pick_area(in, 16), UINT64_MAX);
		put_num(in, dir, "driver", pick_area(in, packed ? 4 : 2), UINT64_MAX);
		put_num(in, dir, "device", pick_area(in, 4), UINT64_MAX);
		put_num(in, dir, "event-channel", 1 + fin_below(in, 200), (1u << 20) - 1);
	}
}

static void pick_limits(struct fin *in, struct gm_vdev_limits *lim)
{
	unsigned k = fin_u8(in);

	lim->size = sizeof(*lim);
	lim->features = GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1) | fin_u64(in);
	lim->max_queues = 1 + fin_below(in, GM_VDEV_MAX_QUEUES);
	lim->max_queue_size = k & 1 ? 1u << fin_below(in, 16) : 1 + fin_u16(in) % 1024;
	lim->layouts = 1 + fin_below(in, 3);
	if (k == 0xff) { /* out of range: refused before reading anything */
		lim->max_queues = fin_u8(in) & 1 ? 0 : GM_VDEV_MAX_QUEUES + 1;
		lim->max_queue_size = fin_u8(in) & 1 ? 0 : GM_VDEV_MAX_QUEUE_SIZE + 1;
	}
}

/* ---- the parsers, one call each ---- */

/* A struct the parsers must leave untouched when they fail. */
#define SENTINEL 0xa5

static bool untouched(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != SENTINEL)
			return false;
	return true;
}

/* Field by field (struct copies need not copy padding); says what differs. */
MODEL_LOOP static bool same_front(const struct gm_vdev_front_info *a,
				  const struct gm_vdev_front_info *b)
{
	if (a->features != b->features || a->num_queues != b->num_queues ||
	    a->persistent != b->persistent) {
		fprintf(stderr, "features 0x%llx/0x%llx, queues %u/%u, persistent %u/%u\n",
			(unsigned long long)a->features, (unsigned long long)b->features,
			a->num_queues, b->num_queues, a->persistent, b->persistent);
		return false;
	}
	for (unsigned i = 0; i < GM_VDEV_MAX_QUEUES; i++) {
		const struct gm_vdev_queue_info *x = &a->queues[i], *y = &b->queues[i];

		if (x->size != y->size || x->layout != y->layout || x->desc != y->desc ||
		    x->driver != y->driver || x->device != y->device || x->port != y->port) {
			fprintf(stderr,
				"queue %u: size %u/%u layout %d/%d desc 0x%llx/0x%llx driver "
				"0x%llx/0x%llx device 0x%llx/0x%llx port %u/%u\n",
				i, x->size, y->size, x->layout, y->layout,
				(unsigned long long)x->desc, (unsigned long long)y->desc,
				(unsigned long long)x->driver, (unsigned long long)y->driver,
				(unsigned long long)x->device, (unsigned long long)y->device,
				x->port, y->port);
			return false;
		}
	}
	return true;
}

static bool same_back(const struct gm_vdev_back_info *a, const struct gm_vdev_back_info *b)
{
	return a->device_id == b->device_id && a->features == b->features &&
	       a->max_queues == b->max_queues && a->max_queue_size == b->max_queue_size &&
	       a->layouts == b->layouts && a->persistent == b->persistent &&
	       a->config_len == b->config_len &&
	       bytes_eq((const char *)a->config, (const char *)b->config, sizeof(a->config));
}

static bool same_xl(const struct gm_xl_virtio *a, const struct gm_xl_virtio *b)
{
	return a->frontend_id == b->frontend_id &&
	       bytes_eq(a->frontend, b->frontend, sizeof(a->frontend)) &&
	       a->online == b->online && a->state == b->state &&
	       bytes_eq(a->type, b->type, sizeof(a->type)) && a->device_id == b->device_id &&
	       bytes_eq(a->transport, b->transport, sizeof(a->transport)) &&
	       a->grant_usage == b->grant_usage && a->base == b->base && a->irq == b->irq &&
	       a->has_base == b->has_base && a->has_irq == b->has_irq;
}

static void mode_parse(struct fin *in)
{
	char s[80];
	size_t n = fin_below(in, sizeof(s));
	uint64_t max, v = 0x5a5a, want = 0x5a5a;

	switch (fin_below(in, 4)) {
	case 0:
		max = UINT64_MAX;
		break;
	case 1:
		max = fin_u8(in);
		break;
	default:
		max = fin_u64(in);
	}
	for (size_t i = 0; i < n; i++)
		s[i] = (char)fin_u8(in);
	s[n] = '\0';
	int r = gm_vdev_parse_u64(s, max, &v);
	int m = m_num(s, slen(s), max, &want);
	TRACE("parse \"%.80s\" max %llu: %d (model %d)\n", s, (unsigned long long)max, r, m);
	FUZZ_CHECK(r == m, "parse_u64(\"%.80s\", %llu): %d, model %d", s,
		   (unsigned long long)max, r, m);
	FUZZ_CHECK(v == want, "parse_u64(\"%.80s\"): %llu, model %llu", s, (unsigned long long)v,
		   (unsigned long long)want);
	FUZZ_CHECK(gm_vdev_parse_u64(NULL, max, &v) == -EINVAL, "NULL string");
}

static void mode_frontend(struct fin *in)
{
	struct gm_vdev_limits lim;
	struct gm_vdev_front_info got = {.size = sizeof(got)}, want = {.size = sizeof(want)};

	pick_limits(in, &lim);
	put_frontend(in, &lim);
	memset(&got, SENTINEL, sizeof(got));
	got.size = sizeof(got);
	int r = gm_vdev_read_frontend(xs, FE_DIR, &lim, &got);
	int m = m_frontend(FE_DIR, &lim, &want);
	TRACE("read_frontend: %d (model %d)\n", r, m);
	FUZZ_CHECK(r == m, "read_frontend: %d (%s), model %d (%s)", r, gm_strerror(r), m,
		   gm_strerror(m));
	if (r) {
		FUZZ_CHECK(got.size == sizeof(got) &&
				   untouched(&got.size + 1, sizeof(got) - sizeof(got.size)),
			   "read_frontend failed and wrote its output");
		return;
	}
	FUZZ_CHECK(same_front(&got, &want), "read_frontend: output differs from the model");
}

static void mode_backend_nodes(struct fin *in)
{
	static const char *const layouts[] = {
		"split", "split packed", "packed split", "packed", "  split  ", "", " ",
		"split  packed", "split,packed", "splitpacked", "split\tpacked", "packed packed",
	};
	static const char *const config[] = {"", "0", "abc", "zz", "00ff", "DEADbeef", "0x00"};
	struct gm_vdev_back_info got = {.size = sizeof(got)}, want = {.size = sizeof(want)};
	char hex[2 * GM_VDEV_CONFIG_MAX + 1];
	size_t n = fin_below(in, GM_VDEV_CONFIG_MAX + 1);

	put_num(in, BE_DIR, "device-id", fin_u32(in), UINT32_MAX);
	put_num(in, BE_DIR, "features", fin_u64(in), UINT64_MAX);
	put_num(in, BE_DIR, "max-queues", 1 + fin_below(in, GM_VDEV_MAX_QUEUES),
		GM_VDEV_MAX_QUEUES);
	put_num(in, BE_DIR, "max-queue-size", 1 + fin_u16(in) % GM_VDEV_MAX_QUEUE_SIZE,
		GM_VDEV_MAX_QUEUE_SIZE);
	put_num(in, BE_DIR, "feature-persistent", fin_u8(in) & 1, 1);
	put_str(in, BE_DIR, "layouts", layouts[fin_below(in, 4)], layouts,
		sizeof(layouts) / sizeof(layouts[0]));
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", fin_u8(in));
	hex[2 * n] = '\0';
	put_str(in, BE_DIR, "config", hex, config, sizeof(config) / sizeof(config[0]));
	memset(&got, SENTINEL, sizeof(got));
	got.size = sizeof(got);
	int r = gm_vdev_read_backend(xs, BE_DIR, &got);
	int m = m_backend(BE_DIR, &want);
	TRACE("read_backend: %d (model %d)\n", r, m);
	FUZZ_CHECK(r == m, "read_backend: %d (%s), model %d (%s)", r, gm_strerror(r), m,
		   gm_strerror(m));
	if (r) {
		FUZZ_CHECK(got.size == sizeof(got) &&
				   untouched(&got.size + 1, sizeof(got) - sizeof(got.size)),
			   "read_backend failed and wrote its output");
		return;
	}
	FUZZ_CHECK(same_back(&got, &want), "read_backend: output differs from the model");
}

static void mode_xl(struct fin *in)
{
	static const char *const types[] = {
		"virtio,device22", "virtio,device1a", "virtio,device", "virtio,deviceZZ",
		"virtio,device123456789", "virtio,device0x12", "virtio,mmio", "virtio-device22",
		"virtio,device00000022", "virtio,deviceffffffff", "virtio,device 2",
	};
	static const char *const transports[] = {"mmio", "pci", "", "mmio mmio", "transport"};
	struct gm_xl_virtio got = {.size = sizeof(got)}, want = {.size = sizeof(want)};
	enum gm_vdev_state st = (enum gm_vdev_state)SENTINEL, mst = GM_VDEV_STATE_UNKNOWN;
	uint64_t v;

	put_num(in, XL_DIR, "frontend-id", 1 + fin_below(in, GM_DOMID_MAX), GM_DOMID_MAX);
	put_str(in, XL_DIR, "type", types[fin_below(in, 2)], types,
		sizeof(types) / sizeof(types[0]));
	put_str(in, XL_DIR, "transport", "mmio", transports,
		sizeof(transports) / sizeof(transports[0]));
	put_str(in, XL_DIR, "frontend", "/local/domain/7/device/virtio/0", transports,
		sizeof(transports) / sizeof(transports[0]));
	put_num(in, XL_DIR, "online", fin_u8(in) & 1, 1);
	put_num(in, XL_DIR, "state", fin_below(in, 7), GM_VDEV_STATE_CLOSED);
	put_num(in, XL_DIR, "grant_usage", fin_u8(in) & 1, 1);
	put_num(in, XL_DIR, "base", fin_u32(in) & ~0xfffu, UINT64_MAX);
	put_num(in, XL_DIR, "irq", 32 + fin_u8(in), UINT32_MAX);
	memset(&got, SENTINEL, sizeof(got));
	got.size = sizeof(got);
	int r = gm_vdev_parse_xl_virtio(xs, XL_DIR, &got);
	int m = m_xl(XL_DIR, &want);
	TRACE("parse_xl_virtio: %d (model %d)\n", r, m);
	FUZZ_CHECK(r == m, "parse_xl_virtio: %d (%s), model %d (%s)", r, gm_strerror(r), m,
		   gm_strerror(m));
	if (r)
		FUZZ_CHECK(got.size == sizeof(got) &&
				   untouched(&got.size + 1, sizeof(got) - sizeof(got.size)),
			   "parse_xl_virtio failed and wrote its output");
	else
		FUZZ_CHECK(same_xl(&got, &want), "parse_xl_virtio: output differs from the model");
	/* the state node of the same directory */
	r = gm_vdev_read_state(xs, XL_DIR, &st);
	m = m_u64(XL_DIR, "state", GM_VDEV_STATE_CLOSED, &v);
	if (!m)
		mst = (enum gm_vdev_state)v;
	else if (m == -ENOENT)
		m = 0;
	FUZZ_CHECK(r == m && (r || st == mst) && (!r || st == (enum gm_vdev_state)SENTINEL),
		   "read_state: %d (%d), model %d (%d)", r, st, m, mst);
}

/* ---- a whole backend ---- */

static struct {
	gm_vdev_backend *b;
	struct gm_vdev_limits lim; /* what it lets a frontend ask for */
	int connects, disconnects;
	gm_vq *vq[GM_VDEV_MAX_QUEUES];
	unsigned nvq;
	bool scribbled; /* the input wrote the backend's state node itself */
} B;

static void free_queues(void)
{
	for (unsigned i = 0; i < B.nvq; i++)
		gm_vq_free(B.vq[i]);
	B.nvq = 0;
}

/*
 * The device: the configuration must be one the model accepts, and exactly
 * what the model read; then a virtqueue per queue on the frontend's grants
 * (refused when the rings are not granted, as a device model would).
 */
static int dev_connect(void *opaque, gm_vdev *d)
{
	const struct gm_vdev_front_info *fi = gm_vdev_frontend_info(d);
	struct gm_vdev_front_info want = {.size = sizeof(want)};
	int r = m_frontend(FE_DIR, &B.lim, &want);

	(void)opaque;
	TRACE("connect (model %d)\n", r);
	FUZZ_CHECK(!r, "connect with a configuration the model refuses: %d (%s)", r,
		   gm_strerror(r));
	FUZZ_CHECK(same_front(fi, &want), "connect: the configuration differs from the model");
	FUZZ_CHECK(gm_vdev_frontend_id(d) == FE && gm_vdev_devid(d) == 0 &&
			   str_eq(gm_vdev_backend_dir(d), BE_DIR) && gm_vdev_mem(d),
		   "connect: device identity");
	FUZZ_CHECK(B.connects == B.disconnects, "connect while connected");
	for (unsigned i = 0; i < fi->num_queues; i++) {
		struct gm_vq_config c = {
			.size = fi->queues[i].size,
			.desc_addr = fi->queues[i].desc,
			.driver_addr = fi->queues[i].driver,
			.device_addr = fi->queues[i].device,
			.features = fi->features,
			.max_inflight = 4,
			.index = i,
		};

		FUZZ_CHECK(gm_vdev_queue_evtchn(d, i) && gm_vdev_queue_port(d, i),
			   "queue %u has no event channel", i);
		r = gm_vq_new(gm_vdev_mem(d), &c, &B.vq[i]);
		if (r) {
			free_queues();
			return r;
		}
		B.nvq++;
	}
	B.connects++;
	return 0;
}

static void dev_disconnect(void *opaque, gm_vdev *d)
{
	(void)opaque, (void)d;
	TRACE("disconnect\n");
	free_queues();
	B.disconnects++;
	FUZZ_CHECK(B.connects == B.disconnects, "disconnect without a connect");
}

static const struct gm_vdev_backend_ops dev_ops = {.connect = dev_connect,
						   .disconnect = dev_disconnect};

/* Nothing of the frontend mapped, no event channel left when not connected. */
static void check_released(const char *when)
{
	struct fake_xen_stats fs;

	fake_xen_stats(fx, &fs);
	FUZZ_CHECK(fs.batches_mapped == 0, "%s: %lu batches still mapped", when, fs.batches_mapped);
	FUZZ_CHECK(X.bound == 0, "%s: %u event channels still bound", when, X.bound);
}

static void step_process(void)
{
	uint64_t st;
	int r = gm_vdev_backend_process(B.b);
	unsigned c = gm_vdev_backend_connected(B.b);

	TRACE("process: %d (connected %u)\n", r, c);
	FUZZ_CHECK(r < 0 || (unsigned)r == c, "process: %d, connected %u", r, c);
	FUZZ_CHECK(c == (unsigned)(B.connects - B.disconnects), "connected %u, device says %d", c,
		   B.connects - B.disconnects);
	/* the backend writes XenbusState numbers only */
	r = m_u64(BE_DIR, "state", GM_VDEV_STATE_CLOSED, &st);
	FUZZ_CHECK(r == 0 || r == -ENOENT || B.scribbled, "backend state node: %d", r);
	if (!c)
		check_released("unconnected");
}

static void mode_device(struct fin *in)
{
	/* not -ENOENT: an optional node that seems missing gets its default,
	 * a configuration the model cannot know of */
	static const int errs[] = {-EIO, -EACCES, -EAGAIN, -ENOMEM, -EINVAL, -EPERM, -EBUSY};
	struct gm_vdev_backend_config cfg = {0};
	unsigned k = fin_u8(in);

	cfg.features = fin_u64(in);
	cfg.max_queues = fin_below(in, 5);
	cfg.max_queue_size = k & 1 ? 0 : 1u << fin_below(in, 9);
	cfg.layouts = fin_below(in, 4);
	cfg.frontend = k & 2 ? -1 : (k & 4 ? FE : FE + 1);
	cfg.offer_persistent = (k >> 3) & 1;
	/* what the backend offers, as vdev.h says it completes the config */
	B.lim.max_queues = cfg.max_queues ? cfg.max_queues : 1;
	B.lim.max_queue_size = cfg.max_queue_size ? cfg.max_queue_size : 256;
	B.lim.layouts = cfg.layouts ? cfg.layouts : 1u << GM_VDEV_SPLIT;
	B.lim.features = cfg.features | GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1) |
			 GM_VIRTIO_BIT(GM_VIRTIO_F_ACCESS_PLATFORM);
	if (B.lim.layouts & (1u << GM_VDEV_PACKED))
		B.lim.features |= GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	else
		B.lim.features &= ~GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	B.connects = B.disconnects = 0;
	B.nvq = 0;
	B.scribbled = false;
	/* the device as gm_vdev_toolstack_add creates it (cheaper written here) */
	xs_set_str("/local/domain/1/backend/" TYPE "/5/0/frontend", FE_DIR);
	xs_set_str("/local/domain/1/backend/" TYPE "/5/0/frontend-id", "5");
	xs_set_str("/local/domain/1/backend/" TYPE "/5/0/online", "1");
	xs_set_str("/local/domain/1/backend/" TYPE "/5/0/state", "1");
	xs_set_str("/local/domain/5/device/" TYPE "/0/backend", BE_DIR);
	xs_set_str("/local/domain/5/device/" TYPE "/0/backend-id", "1");
	xs_set_str("/local/domain/5/device/" TYPE "/0/state", "1");
	int r = gm_vdev_backend_new(world, &cfg, &dev_ops, NULL, &B.b);
	TRACE("backend: %d\n", r);
	FUZZ_CHECK(r == 0, "backend: %d (%s)", r, gm_strerror(r));
	for (unsigned steps = 0; in->n && steps < STEPS; steps++) {
		switch (fin_below(in, 12)) {
		case 0:
		case 1: /* the frontend publishes its queues */
			put_frontend(in, &B.lim);
			put_num(in, FE_DIR, "state", GM_VDEV_STATE_INITIALISED,
				GM_VDEV_STATE_CLOSED);
			break;
		case 2: /* a frontend state, or garbage */
			put_num(in, FE_DIR, "state", fin_below(in, 7), GM_VDEV_STATE_CLOSED);
			break;
		case 3:
		case 4:
		case 5:
			step_process();
			break;
		case 6: /* the toolstack removes or re-adds the device */
			if (fin_u8(in) & 1)
				gm_vdev_toolstack_remove(xs, NULL, BE, FE, 0);
			else
				gm_vdev_toolstack_add(xs, NULL, BE, FE, 0);
			break;
		case 7: /* xenstore (or an event channel) fails, a few calls on */
			X.fail_at = 1 + (int)fin_below(in, 12);
			X.fail_err = errs[fin_below(in, sizeof(errs) / sizeof(errs[0]))];
			break;
		case 8: /* a hostile toolstack entry */
			if (fin_u8(in) & 1)
				put_num(in, BE_DIR, "frontend-id", FE, GM_DOMID_MAX);
			else
				put_str(in, BE_DIR, "frontend", FE_DIR, (const char *const[]){
						"/local/domain/6/device/" TYPE "/0",
						"/local/domain/5/device/" TYPE "/0/..",
						"/local/domain/5/device/" TYPE "/",
						"/local/domain/5/device/" TYPE "/0/../../../6"}, 4);
			break;
		case 9: /* the frontend's domain goes away */
			xs_set(FE_DIR, NULL, 0);
			break;
		case 10: /* one frontend node changed */
			put_frontend(in, &B.lim);
			break;
		default: /* the backend's own state node, scribbled on */
			put_num(in, BE_DIR, "state", fin_below(in, 7), GM_VDEV_STATE_CLOSED);
			B.scribbled = true;
			break;
		}
	}
	X.fail_at = 0;
	step_process();
	gm_vdev_backend_free(B.b);
	B.b = NULL;
	TRACE("freed: %d connects, %d disconnects\n", B.connects, B.disconnects);
	FUZZ_CHECK(B.connects == B.disconnects, "%d connects, %d disconnects", B.connects,
		   B.disconnects);
	check_released("backend freed");
	FUZZ_CHECK(X.open_evtchn == 0 && X.open_xs == 1 && X.nw == 0,
		   "backend freed: %u event channel handles, %u xenstore handles, %u watches",
		   X.open_evtchn, X.open_xs, X.nw);
}

/* ---- entry points ---- */

static void quiet(void *opaque, gm_log_level level, const char *msg)
{
	(void)opaque, (void)level;
	if (trace)
		fprintf(stderr, "log: %s\n", msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	trace = getenv("FUZZ_TRACE") != NULL;
	gm_set_log(quiet, NULL, trace ? GM_LOG_DEBUG : GM_LOG_ERROR);
	fx = fake_xen_new(NREF);
	if (!fx || gm_xen_open_ops(&world_ops, NULL, &world) || gm_xs_open(world, &xs)) {
		fprintf(stderr, "fuzz-xsconfig: no world\n");
		abort();
	}
	/* the frontend granted NREF ring pages, writable */
	for (unsigned r = 0; r < NREF; r++)
		if (fake_xen_grant(fx, FE, r, r, true)) {
			fprintf(stderr, "fuzz-xsconfig: no grants\n");
			abort();
		}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = {data, size};

	xs_reset();
	switch (fin_below(&in, 8)) {
	case 0:
		mode_parse(&in);
		break;
	case 1:
	case 2:
	case 3:
		mode_frontend(&in);
		break;
	case 4:
		mode_backend_nodes(&in);
		break;
	case 5:
		mode_xl(&in);
		break;
	default:
		mode_device(&in);
		break;
	}
	return 0;
}
