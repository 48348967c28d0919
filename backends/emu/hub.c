/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated-Xen hub: one single-threaded process that holds what Xen and
 * xenstored hold — grant tables, event channels, the xenstore tree — and
 * serves every connection with poll().  See proto.h for the protocol and
 * include/grantmem/emu.h for the semantics it promises.
 *
 * Trust: every peer may be hostile.  Every length, index, domain and ref in
 * a request is checked before use; a request that breaks the framing closes
 * its connection; nothing a peer sends can make the hub abort.
 */
#include "config.h"

#include "gnttab.h"
#include "hub.h"
#include "wire.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define EVT_MAX_PORTS 4096u          /* 2-level ABI, 64-bit guest */
#define CONN_MAX 1024u
#define CONN_MAP_MAX (1u << 20)      /* pages one connection may map */
#define RAM_MAX (64ull << 30)
#define XS_MAX_NODES 200000u         /* all trees, transactions included */
#define XS_MAX_WATCHES 128u          /* per connection, xenstored's quota */
#define XS_MAX_EVENTS 4096u          /* queued per connection */
#define XS_MAX_TX 16u                /* per connection */
#define XS_MAX_PERMS 64u
#define DOMID_MAX 0x7fefu            /* DOMID_FIRST_RESERVED - 1 */

struct conn;

/* A RAM object: the memfd of one guest gntshr connection. */
struct ram {
	int fd;        /* read-write, as the guest sent it */
	int ro_fd;     /* read-only reopening (-1: fall back to fd) */
	uint8_t *base; /* the hub's own mapping, for grant copy */
	uint32_t pages;
	unsigned refs; /* the owning connection + every entry in use */
};

enum { PORT_FREE, PORT_UNBOUND, PORT_INTER };

struct port {
	uint8_t state, pending, masked, queued;
	uint16_t remote; /* UNBOUND: who may bind; INTER: the peer domain */
	uint32_t rport;  /* INTER: the peer port */
	struct conn *owner;
};

struct domain {
	struct domain *next;
	uint16_t id;
	pid_t pid;       /* the owning process (domains other than 0) */
	unsigned nconns;
	bool dying;      /* no connection left, entries still mapped */
	struct gm__gt gt; /* its grant table (emu-gnttab.c) */
	struct port *ports;
	uint32_t nports; /* slots allocated */
};

/* One GNT_MAP batch of one connection (maptrack). */
struct maph {
	struct maph *next;
	uint64_t id;
	struct domain *dom;
	bool rw;
	uint32_t count;
	uint32_t refs[];
};

struct watch {
	struct watch *next;
	bool rel;    /* registered relative to the domain path */
	char *token; /* points into path's allocation */
	char path[];
};

struct wevent {
	struct wevent *next;
	uint32_t len; /* path\0token\0 */
	char data[];
};

struct xnode {
	struct xnode *parent, *child, *next; /* children in creation order */
	char *name;
	char *value;
	uint32_t vlen;
	uint32_t nperms;
	struct gm__emu_xs_perm *perms; /* [0]: owner and default */
	uint64_t gen; /* bumped on any change of value, perms or children */
};

struct xacc {
	char *path;
	uint64_t gen; /* at transaction start, 0 = absent */
};

enum { XOP_WRITE, XOP_MKDIR, XOP_RM, XOP_PERMS };

struct xop {
	int type;
	char *path;
	void *data; /* WRITE: value; PERMS: gm__emu_xs_perm[] */
	uint32_t len; /* bytes / perms */
};

struct tx {
	struct tx *next;
	uint32_t id;
	struct xnode *pristine; /* the tree at start: generations to compare */
	struct xnode *work;     /* the tree the transaction sees */
	struct xacc *acc;
	unsigned nacc, cacc;
	struct xop *ops;
	unsigned nops, cops;
};

struct conn {
	struct conn *next;
	int fd, evfd;
	uint32_t kind; /* 0 until HELLO */
	bool dead;
	pid_t pid;
	struct domain *dom;
	struct ram *ram;         /* GNTSHR */
	struct maph *maps;       /* GNTTAB */
	uint64_t mapped;
	uint32_t *ready;         /* EVTCHN: delivered ports, FIFO */
	unsigned nready, cready;
	struct watch *watches;   /* XS */
	unsigned nwatches;
	struct wevent *wq, **wq_tail;
	unsigned nwq;
	struct tx *txs;
	unsigned ntx;
};

struct hub {
	int lfd, sfd;
	bool running;
	struct conn *conns;
	unsigned nconns;
	struct domain *doms;
	struct xnode *root;
	unsigned xs_nodes;
	uint64_t gen;
	uint64_t next_map;
	uint32_t next_tx;
	uint8_t *in, *out;
};

/* The request being served and its reply. */
struct rq {
	struct conn *c;
	uint32_t type, arg, len;
	const uint8_t *p;
	int *fds;
	unsigned nfds;
	uint8_t *out;
	uint32_t olen, oarg;
	int ofds[GM__EMU_MAX_FDS];
	unsigned nofds;
};

static void signal_evfd(struct conn *c)
{
	uint64_t one = 1;

	if (c->evfd >= 0 && write(c->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		gm__dbg("emu hub: eventfd write: %s", strerror(errno));
}

/* ---- RAM objects ------------------------------------------------------------ */

static int ram_new(int fd, uint64_t size, struct ram **out)
{
	struct stat st;
	char proc[64];
	struct ram *r;
	int seals = fcntl(fd, F_GET_SEALS);

	/* Unsealed RAM could shrink under our mapping: SIGBUS in the hub. */
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EINVAL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size ||
	    !size || size > RAM_MAX || size % GM_PAGE_SIZE)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->base == MAP_FAILED) {
		free(r);
		return -EINVAL;
	}
	/* A read-only reopening, so that read-only maps cannot be mprotect()ed
	 * writable by the backend. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r->ro_fd = open(proc, O_RDONLY | O_CLOEXEC);
	r->fd = fd;
	r->pages = (uint32_t)(size / GM_PAGE_SIZE);
	r->refs = 1;
	*out = r;
	return 0;
}

static void ram_put(struct ram *r)
{
	if (!r || --r->refs)
		return;
	munmap(r->base, (size_t)r->pages * GM_PAGE_SIZE);
	close(r->fd);
	if (r->ro_fd >= 0)
		close(r->ro_fd);
	free(r);
}

static void ram_get_op(void *r)
{
	((struct ram *)r)->refs++;
}

static void ram_put_op(void *r)
{
	ram_put(r);
}

static const struct gm__gt_ram_ops gt_ram_ops = {.get = ram_get_op, .put = ram_put_op};

/* ---- xenstore tree ------------------------------------------------------------ */

static struct xnode *xn_new(struct hub *h, const char *name, size_t nlen)
{
	struct xnode *n;

	if (h->xs_nodes >= XS_MAX_NODES)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strndup(name, nlen);
	if (!n->name) {
		free(n);
		return NULL;
	}
	h->xs_nodes++;
	return n;
}

static void xn_free(struct hub *h, struct xnode *n)
{
	while (n) {
		struct xnode *next = n->next;

		xn_free(h, n->child);
		free(n->name);
		free(n->value);
		free(n->perms);
		free(n);
		h->xs_nodes--;
		n = next;
	}
}

static int xn_set_perms(struct xnode *n, const struct gm__emu_xs_perm *p, uint32_t np)
{
	struct gm__emu_xs_perm *q = malloc(np * sizeof(*q));

	if (!q)
		return -ENOMEM;
	memcpy(q, p, np * sizeof(*q));
	free(n->perms);
	n->perms = q;
	n->nperms = np;
	return 0;
}

static struct xnode *xn_child(const struct xnode *n, const char *name, size_t len)
{
	for (struct xnode *c = n->child; c; c = c->next)
		if (strlen(c->name) == len && !memcmp(c->name, name, len))
			return c;
	return NULL;
}

static void xn_link(struct xnode *parent, struct xnode *n)
{
	struct xnode **pp = &parent->child;

	while (*pp)
		pp = &(*pp)->next;
	*pp = n;
	n->parent = parent;
}

static void xn_unlink(struct xnode *n)
{
	struct xnode **pp = &n->parent->child;

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	n->next = NULL;
	n->parent = NULL;
}

/* @path is absolute and valid. */
static struct xnode *xn_lookup(struct xnode *root, const char *path)
{
	struct xnode *n = root;
	const char *s = path + 1;

	while (n && *s) {
		const char *e = strchrnul(s, '/');

		n = xn_child(n, s, (size_t)(e - s));
		s = *e ? e + 1 : e;
	}
	return n;
}

/* Deep copy of @n and its children (not its siblings). */
static struct xnode *xn_copy(struct hub *h, const struct xnode *n)
{
	struct xnode *c = xn_new(h, n->name, strlen(n->name));

	if (!c)
		return NULL;
	c->gen = n->gen;
	c->vlen = n->vlen;
	if (n->vlen && !(c->value = malloc(n->vlen)))
		goto fail;
	if (n->vlen)
		memcpy(c->value, n->value, n->vlen);
	if (xn_set_perms(c, n->perms, n->nperms) < 0)
		goto fail;
	for (const struct xnode *k = n->child; k; k = k->next) {
		struct xnode *kc = xn_copy(h, k);

		if (!kc)
			goto fail;
		xn_link(c, kc);
	}
	return c;
fail:
	xn_free(h, c);
	return NULL;
}

static unsigned xn_perm(const struct xnode *n, uint16_t dom)
{
	if (dom == 0 || n->perms[0].id == dom)
		return GM_XS_PERM_READ | GM_XS_PERM_WRITE;
	for (uint32_t i = 1; i < n->nperms; i++)
		if (n->perms[i].id == dom)
			return n->perms[i].perms;
	return n->perms[0].perms;
}

static bool xs_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '/' || ch == '_' || ch == '@';
}

/*
 * Make @in (as the client sent it) absolute in @out: a relative path is
 * below the caller's domain path, as with xenstored.  Special watch paths
 * ("@releaseDomain", "@introduceDomain") only when @special.
 */
static int xs_abs(const struct conn *c, const char *in, char *out, bool *rel, bool special)
{
	size_t n;

	*rel = false;
	if (in[0] == '@') {
		if (!special || (strcmp(in, "@releaseDomain") && strcmp(in, "@introduceDomain")))
			return -EINVAL;
		strcpy(out, in);
		return 0;
	}
	if (in[0] == '/') {
		n = strlen(in);
		if (n > GM__EMU_XS_PATH_MAX)
			return -EINVAL;
		memcpy(out, in, n + 1);
	} else {
		int k = snprintf(out, GM__EMU_XS_PATH_MAX + 1, "/local/domain/%u/%s", c->dom->id, in);

		if (k < 0 || (size_t)k > GM__EMU_XS_PATH_MAX)
			return -EINVAL;
		*rel = true;
		n = (size_t)k;
	}
	if (n > 1 && out[n - 1] == '/')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!xs_char_ok(out[i]) || (out[i] == '/' && out[i + 1] == '/'))
			return -EINVAL;
	return 0;
}

/* Is @p @base or below it? */
static bool path_under(const char *p, const char *base)
{
	size_t bl = strlen(base);

	if (base[0] == '@' || p[0] == '@')
		return !strcmp(p, base);
	if (bl == 1)
		return true; /* "/" */
	return !strncmp(p, base, bl) && (p[bl] == '\0' || p[bl] == '/');
}

static void watch_queue(struct conn *c, const char *path, const struct watch *w)
{
	char prefix[32];
	size_t pl = (size_t)snprintf(prefix, sizeof(prefix), "/local/domain/%u/", c->dom->id);
	size_t lp, lt = strlen(w->token);
	struct wevent *ev;

	if (w->rel && !strncmp(path, prefix, pl) && path[pl])
		path += pl;
	lp = strlen(path);
	if (c->nwq >= XS_MAX_EVENTS) {
		gm__warn("emu hub: dom %u: watch queue full, event %s dropped", c->dom->id, path);
		return;
	}
	ev = malloc(sizeof(*ev) + lp + lt + 2);
	if (!ev)
		return;
	ev->next = NULL;
	ev->len = (uint32_t)(lp + lt + 2);
	memcpy(ev->data, path, lp + 1);
	memcpy(ev->data + lp + 1, w->token, lt + 1);
	*c->wq_tail = ev;
	c->wq_tail = &ev->next;
	if (!c->nwq++)
		signal_evfd(c);
}

/*
 * Fire the watches on a change of @path: watches at or above it see @path;
 * with @recurse (a removal), watches below it see their own path.
 */
static void fire(struct hub *h, const char *path, bool recurse)
{
	for (struct conn *c = h->conns; c; c = c->next) {
		if (c->kind != GM__EMU_K_XS || c->dead)
			continue;
		for (struct watch *w = c->watches; w; w = w->next) {
			if (path_under(path, w->path))
				watch_queue(c, path, w);
			else if (recurse && path_under(w->path, path))
				watch_queue(c, w->path, w);
		}
	}
}

/* Where a xenstore operation runs: the real tree, or a transaction's copy. */
struct xctx {
	struct hub *h;
	struct xnode *root;
	uint16_t dom;
	struct tx *tx; /* NULL: the real tree (fires watches, no recording) */
};

/* Remember that the transaction touched @path, with its start generation. */
static int tx_record(struct xctx *x, const char *path)
{
	struct tx *t = x->tx;
	struct xnode *n;

	if (!t)
		return 0;
	for (unsigned i = 0; i < t->nacc; i++)
		if (!strcmp(t->acc[i].path, path))
			return 0;
	if (t->nacc == t->cacc) {
		unsigned nc = t->cacc ? 2 * t->cacc : 16;
		struct xacc *a = realloc(t->acc, nc * sizeof(*a));

		if (!a)
			return -ENOMEM;
		t->acc = a;
		t->cacc = nc;
	}
	if (!(t->acc[t->nacc].path = strdup(path)))
		return -ENOMEM;
	n = xn_lookup(t->pristine, path);
	t->acc[t->nacc++].gen = n ? n->gen : 0;
	return 0;
}

static int tx_log(struct xctx *x, int type, const char *path, const void *data, uint32_t len,
		  size_t elem)
{
	struct tx *t = x->tx;
	struct xop *o;

	if (!t)
		return 0;
	if (t->nops == t->cops) {
		unsigned nc = t->cops ? 2 * t->cops : 16;
		struct xop *a = realloc(t->ops, nc * sizeof(*a));

		if (!a)
			return -ENOMEM;
		t->ops = a;
		t->cops = nc;
	}
	o = &t->ops[t->nops];
	memset(o, 0, sizeof(*o));
	o->type = type;
	o->len = len;
	if (!(o->path = strdup(path)))
		return -ENOMEM;
	if (len && !(o->data = malloc(len * elem))) {
		free(o->path);
		return -ENOMEM;
	}
	if (len)
		memcpy(o->data, data, len * elem);
	t->nops++;
	return 0;
}

/* The parent path of @path into @buf ("/" for a top-level node). */
static void parent_path(const char *path, char *buf)
{
	const char *s = strrchr(path, '/');
	size_t n = s == path ? 1 : (size_t)(s - path);

	memcpy(buf, path, n);
	buf[n] = '\0';
}

static void bump(struct xctx *x, struct xnode *n)
{
	n->gen = ++x->h->gen;
}

/*
 * Find @path, creating what is missing (mkdir -p) when @create.  Creation
 * needs write permission on the nearest existing ancestor; new nodes
 * inherit their parent's permissions, and are owned by their creator unless
 * dom0 creates them (xenstored's rules).  *created says whether @path was new.
 */
static int xs_walk_create(struct xctx *x, const char *path, struct xnode **out, bool *created)
{
	char buf[GM__EMU_XS_PATH_MAX + 1];
	struct xnode *n = x->root, *c;
	const char *s = path + 1;
	int r;

	*created = false;
	while (*s) {
		const char *e = strchrnul(s, '/');

		c = xn_child(n, s, (size_t)(e - s));
		if (!c) {
			if (!*created) {
				/* first missing component: n is the nearest ancestor */
				memcpy(buf, path, (size_t)(s - path));
				buf[s - path > 1 ? s - path - 1 : 1] = '\0';
				if ((r = tx_record(x, buf)) < 0)
					return r;
				if (!(xn_perm(n, x->dom) & GM_XS_PERM_WRITE))
					return -EACCES;
			}
			c = xn_new(x->h, s, (size_t)(e - s));
			if (!c)
				return -ENOSPC;
			if (xn_set_perms(c, n->perms, n->nperms) < 0) {
				xn_free(x->h, c);
				return -ENOMEM;
			}
			if (x->dom != 0)
				c->perms[0].id = x->dom;
			xn_link(n, c);
			bump(x, n);
			bump(x, c);
			*created = true;
			memcpy(buf, path, (size_t)(e - path));
			buf[e - path] = '\0';
			if ((r = tx_record(x, buf)) < 0)
				return r;
		}
		n = c;
		s = *e ? e + 1 : e;
	}
	*out = n;
	return 0;
}

static int xs_read_node(struct xctx *x, const char *path, struct xnode **out)
{
	struct xnode *n;
	int r = tx_record(x, path);

	if (r < 0)
		return r;
	n = xn_lookup(x->root, path);
	if (!n)
		return -ENOENT;
	if (!(xn_perm(n, x->dom) & GM_XS_PERM_READ))
		return -EACCES;
	*out = n;
	return 0;
}

static int xs_do_write(struct xctx *x, const char *path, const void *val, uint32_t len)
{
	struct xnode *n = xn_lookup(x->root, path);
	bool created;
	void *v = NULL;
	int r;

	if (strlen(path) + 1 + len > GM__EMU_XS_VALUE_MAX)
		return -E2BIG;
	if ((r = tx_record(x, path)) < 0)
		return r;
	if (n && !(xn_perm(n, x->dom) & GM_XS_PERM_WRITE))
		return -EACCES;
	if (len && !(v = malloc(len)))
		return -ENOMEM;
	if (!n && (r = xs_walk_create(x, path, &n, &created)) < 0) {
		free(v);
		return r;
	}
	if (len)
		memcpy(v, val, len);
	free(n->value);
	n->value = v;
	n->vlen = len;
	bump(x, n);
	if (!x->tx)
		fire(x->h, path, false);
	return tx_log(x, XOP_WRITE, path, val, len, 1);
}

static int xs_do_mkdir(struct xctx *x, const char *path)
{
	struct xnode *n = xn_lookup(x->root, path);
	bool created;
	int r;

	if ((r = tx_record(x, path)) < 0)
		return r;
	if (n)
		return (xn_perm(n, x->dom) & GM_XS_PERM_WRITE) ? 0 : -EACCES;
	if ((r = xs_walk_create(x, path, &n, &created)) < 0)
		return r;
	if (!x->tx)
		fire(x->h, path, false);
	return tx_log(x, XOP_MKDIR, path, NULL, 0, 1);
}

static int xs_do_rm(struct xctx *x, const char *path)
{
	char pp[GM__EMU_XS_PATH_MAX + 1];
	struct xnode *n, *parent;
	int r;

	if (!strcmp(path, "/"))
		return -EINVAL;
	parent_path(path, pp);
	if ((r = tx_record(x, path)) < 0 || (r = tx_record(x, pp)) < 0)
		return r;
	n = xn_lookup(x->root, path);
	if (!n)
		return xn_lookup(x->root, pp) ? 0 : -ENOENT; /* as xenstored */
	if (!(xn_perm(n, x->dom) & GM_XS_PERM_WRITE))
		return -EACCES;
	parent = n->parent;
	xn_unlink(n);
	xn_free(x->h, n);
	bump(x, parent);
	if (!x->tx)
		fire(x->h, path, true);
	return tx_log(x, XOP_RM, path, NULL, 0, 1);
}

static int xs_do_perms(struct xctx *x, const char *path, const struct gm__emu_xs_perm *p,
		       uint32_t np)
{
	struct xnode *n;
	int r;

	if ((r = tx_record(x, path)) < 0)
		return r;
	n = xn_lookup(x->root, path);
	if (!n)
		return -ENOENT;
	if (x->dom != 0 && n->perms[0].id != x->dom)
		return -EACCES;
	if (x->dom != 0 && p[0].id != n->perms[0].id)
		return -EPERM; /* unprivileged domains may not give nodes away */
	if ((r = xn_set_perms(n, p, np)) < 0)
		return r;
	bump(x, n);
	if (!x->tx)
		fire(x->h, path, false);
	return tx_log(x, XOP_PERMS, path, p, np, sizeof(*p));
}

/* ---- transactions ------------------------------------------------------------- */

static void tx_free(struct hub *h, struct tx *t)
{
	xn_free(h, t->pristine);
	xn_free(h, t->work);
	for (unsigned i = 0; i < t->nacc; i++)
		free(t->acc[i].path);
	for (unsigned i = 0; i < t->nops; i++) {
		free(t->ops[i].path);
		free(t->ops[i].data);
	}
	free(t->acc);
	free(t->ops);
	free(t);
}

/* Apply a conflict-free transaction's log to the real tree. */
static void tx_replay(struct hub *h, struct conn *c, struct tx *t)
{
	struct xctx x = {.h = h, .root = h->root, .dom = c->dom->id};

	for (unsigned i = 0; i < t->nops; i++) {
		struct xop *o = &t->ops[i];
		int r = 0;

		switch (o->type) {
		case XOP_WRITE:
			r = xs_do_write(&x, o->path, o->data, o->len);
			break;
		case XOP_MKDIR:
			r = xs_do_mkdir(&x, o->path);
			break;
		case XOP_RM:
			r = xs_do_rm(&x, o->path);
			break;
		case XOP_PERMS:
			r = xs_do_perms(&x, o->path, o->data, o->len);
			break;
		}
		if (r < 0)
			gm__dbg("emu hub: tx %u replay of %s: %d", t->id, o->path, r);
	}
}

static int tx_commit(struct hub *h, struct conn *c, struct tx *t)
{
	for (unsigned i = 0; i < t->nacc; i++) {
		struct xnode *n = xn_lookup(h->root, t->acc[i].path);

		if ((n ? n->gen : 0) != t->acc[i].gen)
			return -EAGAIN;
	}
	tx_replay(h, c, t);
	return 0;
}

static struct tx *tx_find(struct conn *c, uint32_t id, struct tx ***link)
{
	for (struct tx **pp = &c->txs; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			if (link)
				*link = pp;
			return *pp;
		}
	return NULL;
}

/* ---- domains --------------------------------------------------------------------- */

static struct domain *dom_find(struct hub *h, unsigned id)
{
	for (struct domain *d = h->doms; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

static void dom_free(struct hub *h, struct domain *d)
{
	for (struct domain **pp = &h->doms; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	gm__gt_destroy(&d->gt);
	free(d->ports);
	free(d);
}

/* Drop a domain that has neither connections nor mapped entries. */
static void dom_maybe_free(struct hub *h, struct domain *d)
{
	if (d->id != 0 && d->nconns == 0 && d->gt.used == 0)
		dom_free(h, d);
}

static int dom_path(uint16_t id, char *buf)
{
	return snprintf(buf, 32, "/local/domain/%u", id);
}

static struct domain *dom_create(struct hub *h, uint16_t id, pid_t pid)
{
	static const struct gm__emu_xs_perm none;
	struct xctx x = {.h = h, .root = h->root, .dom = 0};
	struct domain *d = calloc(1, sizeof(*d));
	struct gm__emu_xs_perm own = {.id = id, .perms = GM_XS_PERM_NONE};
	char path[32];

	if (!d)
		return NULL;
	d->id = id;
	d->pid = pid;
	gm__gt_init(&d->gt, &gt_ram_ops);
	d->next = h->doms;
	h->doms = d;
	dom_path(id, path);
	/* /local/domain/<id>, owned by the domain (as the toolstack does) */
	if (xs_do_mkdir(&x, path) == 0) {
		struct xnode *n = xn_lookup(h->root, path);

		if (n)
			xn_set_perms(n, id ? &own : &none, 1);
	}
	fire(h, "@introduceDomain", false);
	return d;
}

/* A connection joins domain @id. */
static int dom_join(struct hub *h, struct conn *c, uint32_t id)
{
	struct domain *d;

	if (id > DOMID_MAX)
		return -EINVAL;
	d = dom_find(h, id);
	if (d && d->dying)
		return -EBUSY;
	if (d && id != 0 && d->pid != c->pid)
		return -EEXIST;
	if (!d && !(d = dom_create(h, (uint16_t)id, c->pid)))
		return -ENOMEM;
	d->nconns++;
	c->dom = d;
	return 0;
}

/* The last connection of a domain went away: tear it down as Xen does. */
static void dom_leave(struct hub *h, struct domain *d)
{
	struct xctx x = {.h = h, .root = h->root, .dom = 0};
	char path[32];

	if (--d->nconns || d->id == 0)
		return;
	dom_path(d->id, path);
	xs_do_rm(&x, path);
	fire(h, "@releaseDomain", false);
	if (d->gt.used)
		d->dying = true; /* freed when the last mapping goes */
	dom_maybe_free(h, d);
}

/* ---- grant tables ------------------------------------------------------------------ */

static uint16_t resolve_domid(const struct conn *c, uint32_t d)
{
	return d == GM_DOMID_SELF ? c->dom->id : (uint16_t)d;
}

/* Release one map batch (unmap, or its connection died). */
static void maph_release(struct hub *h, struct conn *c, struct maph *m)
{
	struct domain *d = m->dom;

	for (uint32_t i = 0; i < m->count; i++)
		gm__gt_unmap(&d->gt, m->refs[i], m->rw);
	c->mapped -= m->count;
	free(m);
	if (d->dying)
		dom_maybe_free(h, d);
}

static int h_map(struct hub *h, struct rq *q)
{
	struct gm__emu_map_req req;
	struct gm__emu_map_rep rep = {0};
	struct gm__emu_frame *fr;
	struct ram *rams[GM__EMU_MAX_FDS];
	struct domain *d;
	struct maph *m;
	uint32_t *refs;
	bool rw;

	if (q->c->kind != GM__EMU_K_GNTTAB || q->len < sizeof(req))
		return -EINVAL;
	memcpy(&req, q->p, sizeof(req));
	if (!req.count || req.count > GM__EMU_MAP_CHUNK || req.domid > 0xffff ||
	    q->len != sizeof(req) + (size_t)req.count * sizeof(uint32_t) ||
	    !(req.prot & GM_PROT_RW) || (req.prot & ~(uint32_t)GM_PROT_RW))
		return -EINVAL;
	if (q->c->mapped + req.count > CONN_MAP_MAX)
		return -ENOSPC;
	rw = req.prot & GM_PROT_WRITE;
	d = dom_find(h, resolve_domid(q->c, req.domid));
	if (!d)
		return -EINVAL; /* unknown domain: Xen says GNTST_bad_domain, gntdev EINVAL */
	m = malloc(sizeof(*m) + req.count * sizeof(uint32_t));
	if (!m)
		return -ENOMEM;
	refs = m->refs;
	memcpy(refs, q->p + sizeof(req), req.count * sizeof(uint32_t));
	fr = (struct gm__emu_frame *)(void *)(q->out + sizeof(rep));
	/* All or nothing: check everything before touching anything. */
	for (uint32_t i = 0; i < req.count; i++) {
		struct gm__gt_ent *e;
		unsigned s;

		if (!gm__gt_mappable(&d->gt, refs[i], q->c->dom->id, rw)) {
			free(m);
			return -EINVAL;
		}
		e = &d->gt.e[refs[i]];
		for (s = 0; s < rep.nfds && rams[s] != e->ram; s++)
			;
		if (s == rep.nfds) {
			if (rep.nfds == GM__EMU_MAX_FDS) {
				free(m);
				return -EINVAL;
			}
			rams[rep.nfds++] = e->ram;
		}
		fr[i].slot = s;
		fr[i].page = e->frame;
	}
	for (uint32_t i = 0; i < req.count; i++)
		gm__gt_map(&d->gt, refs[i], rw);
	m->id = ++h->next_map;
	m->dom = d;
	m->rw = rw;
	m->count = req.count;
	m->next = q->c->maps;
	q->c->maps = m;
	q->c->mapped += req.count;
	for (unsigned s = 0; s < rep.nfds; s++)
		q->ofds[s] = (!rw && rams[s]->ro_fd >= 0) ? rams[s]->ro_fd : rams[s]->fd;
	q->nofds = rep.nfds;
	rep.handle = m->id;
	memcpy(q->out, &rep, sizeof(rep));
	q->olen = (uint32_t)(sizeof(rep) + req.count * sizeof(*fr));
	return 0;
}

static int h_unmap(struct hub *h, struct rq *q)
{
	uint64_t id;

	if (q->c->kind != GM__EMU_K_GNTTAB || q->len != sizeof(id))
		return -EINVAL;
	memcpy(&id, q->p, sizeof(id));
	for (struct maph **pp = &q->c->maps; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			struct maph *m = *pp;

			*pp = m->next;
			maph_release(h, q->c, m);
			return 0;
		}
	return -EINVAL;
}

/*
 * One side of a copy segment: the page of (@domid, @ref) for @writing by
 * the caller, or a GNTST_* status (Xen's codes for the same failures).
 */
static int copy_resolve(struct hub *h, struct conn *c, uint32_t domid, uint32_t ref, bool writing,
			uint8_t **page)
{
	struct domain *d = domid <= 0xffff ? dom_find(h, resolve_domid(c, domid)) : NULL;
	const struct gm__gt_ent *e;
	int st;

	if (!d)
		return GM_GNTST_BAD_DOMAIN;
	st = gm__gt_copy_check(&d->gt, ref, c->dom->id, writing);
	if (st != GM_GNTST_OKAY)
		return st;
	e = &d->gt.e[ref];
	*page = ((struct ram *)e->ram)->base + (size_t)e->frame * GM_PAGE_SIZE;
	return GM_GNTST_OKAY;
}

static int h_copy(struct hub *h, struct rq *q)
{
	uint32_t n = q->arg, in = 0, out = 0;
	const struct gm__emu_seg *segs = (const void *)q->p;
	const uint8_t *data;
	int32_t *st;
	uint8_t *odata;
	struct gm__emu_seg s;

	if (q->c->kind != GM__EMU_K_GNTTAB || !n || n > GM__EMU_COPY_SEGS ||
	    q->len < (size_t)n * sizeof(s))
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&s, &segs[i], sizeof(s));
		if ((s.flags & ~(uint32_t)(GM_COPY_SOURCE_GREF | GM_COPY_DEST_GREF)) ||
		    s.len > 0xffff)
			return -EINVAL;
		/* a foreign side crossing its page: the whole call fails, as gntdev */
		if ((s.flags & GM_COPY_SOURCE_GREF) &&
		    (s.src_off > GM_PAGE_SIZE || s.len > GM_PAGE_SIZE - s.src_off))
			return -EINVAL;
		if ((s.flags & GM_COPY_DEST_GREF) &&
		    (s.dst_off > GM_PAGE_SIZE || s.len > GM_PAGE_SIZE - s.dst_off))
			return -EINVAL;
		if (!(s.flags & GM_COPY_SOURCE_GREF))
			in += s.len;
		if (!(s.flags & GM_COPY_DEST_GREF))
			out += s.len;
	}
	if (q->len != n * sizeof(s) + in || out > GM__EMU_COPY_DATA)
		return -EPROTO;
	data = q->p + n * sizeof(s);
	st = (int32_t *)(void *)q->out;
	odata = q->out + n * sizeof(*st);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *src = data;
		uint8_t *dst = odata, *page = NULL;
		int r = GM_GNTST_OKAY;

		memcpy(&s, &segs[i], sizeof(s));
		if (s.flags & GM_COPY_SOURCE_GREF) {
			r = copy_resolve(h, q->c, s.src_dom, s.src_ref, false, &page);
			if (r == GM_GNTST_OKAY)
				src = page + s.src_off;
		} else {
			data += s.len;
		}
		if (r == GM_GNTST_OKAY && (s.flags & GM_COPY_DEST_GREF)) {
			r = copy_resolve(h, q->c, s.dst_dom, s.dst_ref, true, &page);
			if (r == GM_GNTST_OKAY)
				dst = page + s.dst_off;
		}
		st[i] = r;
		if (r != GM_GNTST_OKAY)
			continue;
		memmove(dst, src, s.len);
		if (!(s.flags & GM_COPY_DEST_GREF))
			odata += s.len;
	}
	q->olen = (uint32_t)(odata - q->out);
	return 0;
}

static int h_grant(struct hub *h, struct rq *q)
{
	struct gm__emu_grant_req req;
	struct domain *d = q->c->dom;
	uint32_t *refs = (uint32_t *)(void *)q->out, *frames;
	int r;

	(void)h;
	if (q->c->kind != GM__EMU_K_GNTSHR || !q->c->ram || q->len < sizeof(req))
		return -EINVAL;
	memcpy(&req, q->p, sizeof(req));
	if (!req.count || req.count > GM__EMU_MAP_CHUNK || req.domid > 0xffff ||
	    q->len != sizeof(req) + (size_t)req.count * sizeof(uint32_t))
		return -EINVAL;
	/* aligned copies for the table; the reply buffer has room behind the refs */
	frames = refs + req.count;
	memcpy(frames, q->p + sizeof(req), req.count * sizeof(*frames));
	for (uint32_t i = 0; i < req.count; i++)
		if (frames[i] >= q->c->ram->pages)
			return -EINVAL;
	r = gm__gt_grant(&d->gt, req.count, frames, q->c->ram, q->c,
			 resolve_domid(q->c, req.domid), req.writable != 0, refs);
	if (r < 0)
		return r;
	q->olen = req.count * (uint32_t)sizeof(uint32_t);
	return 0;
}

static int h_end(struct hub *h, struct rq *q)
{
	uint32_t n = q->len / sizeof(uint32_t);

	(void)h;
	if (q->c->kind != GM__EMU_K_GNTSHR || !n || q->len % sizeof(uint32_t))
		return -EINVAL;
	return gm__gt_end(&q->c->dom->gt, q->p, n, q->c, q->arg != 0);
}

/* ---- event channels -------------------------------------------------------------- */

static struct port *port_get(struct domain *d, uint32_t port)
{
	return port && port < d->nports ? &d->ports[port] : NULL;
}

static int port_alloc(struct domain *d)
{
	uint32_t p;

	for (p = 1; p < d->nports; p++)
		if (d->ports[p].state == PORT_FREE)
			return (int)p;
	if (d->nports >= EVT_MAX_PORTS)
		return -ENOSPC;
	{
		uint32_t n = d->nports ? d->nports * 2 : 64;
		struct port *a = realloc(d->ports, n * sizeof(*a));

		if (!a)
			return -ENOMEM;
		memset(a + d->nports, 0, (n - d->nports) * sizeof(*a));
		p = d->nports ? d->nports : 1;
		d->ports = a;
		d->nports = n;
	}
	return (int)p;
}

static void ready_remove(struct conn *c, uint32_t port)
{
	for (unsigned i = 0; i < c->nready; i++)
		if (c->ready[i] == port) {
			memmove(&c->ready[i], &c->ready[i + 1], (c->nready - i - 1) * sizeof(uint32_t));
			c->nready--;
			return;
		}
}

/* Linux evtchn: a delivered port is masked until the user unmasks it. */
static void port_deliver(struct domain *d, uint32_t port)
{
	struct port *p = &d->ports[port];
	struct conn *c = p->owner;

	p->masked = 1;
	p->pending = 0;
	if (p->queued || !c)
		return;
	if (c->nready == c->cready) {
		unsigned n = c->cready ? c->cready * 2 : 16;
		uint32_t *a = realloc(c->ready, n * sizeof(*a));

		if (!a) {
			p->pending = 1; /* keep it for the next unmask */
			return;
		}
		c->ready = a;
		c->cready = n;
	}
	c->ready[c->nready++] = port;
	p->queued = 1;
	if (c->nready == 1)
		signal_evfd(c);
}

static void port_raise(struct domain *d, uint32_t port)
{
	struct port *p = &d->ports[port];

	if (p->masked)
		p->pending = 1; /* coalesced until unmask */
	else
		port_deliver(d, port);
}

static void port_close(struct hub *h, struct domain *d, uint32_t port)
{
	struct port *p = &d->ports[port];

	if (p->state == PORT_INTER) {
		struct domain *rd = dom_find(h, p->remote);
		struct port *rp = rd ? port_get(rd, p->rport) : NULL;

		/* Xen: the peer's end goes back to unbound, for us */
		if (rp && rp->state == PORT_INTER && rp->remote == d->id && rp->rport == port) {
			rp->state = PORT_UNBOUND;
			rp->remote = d->id;
			rp->rport = 0;
		}
	}
	if (p->owner && p->queued)
		ready_remove(p->owner, port);
	memset(p, 0, sizeof(*p));
}

static int h_evt(struct hub *h, struct rq *q)
{
	struct domain *d = q->c->dom;
	struct port *p;
	int port;

	if (q->c->kind != GM__EMU_K_EVTCHN)
		return -EINVAL;
	switch (q->type) {
	case GM__EMU_EVT_BIND_UNBOUND:
		if (q->arg > 0xffff || (q->arg > DOMID_MAX && q->arg != GM_DOMID_SELF))
			return -EINVAL;
		port = port_alloc(d);
		if (port < 0)
			return port;
		p = &d->ports[port];
		p->state = PORT_UNBOUND;
		p->remote = resolve_domid(q->c, q->arg);
		p->owner = q->c;
		return port;
	case GM__EMU_EVT_BIND_INTER: {
		uint32_t a[2];
		struct domain *rd;
		struct port *rp;

		if (q->len != sizeof(a))
			return -EINVAL;
		memcpy(a, q->p, sizeof(a));
		rd = a[0] <= 0xffff ? dom_find(h, resolve_domid(q->c, a[0])) : NULL;
		if (!rd || rd->dying)
			return -ESRCH;
		rp = port_get(rd, a[1]);
		if (!rp || rp->state != PORT_UNBOUND || rp->remote != d->id)
			return -EINVAL;
		port = port_alloc(d); /* may move d->ports (and rd's if rd == d) */
		if (port < 0)
			return port;
		rp = &rd->ports[a[1]];
		p = &d->ports[port];
		p->state = PORT_INTER;
		p->remote = rd->id;
		p->rport = a[1];
		p->owner = q->c;
		rp->state = PORT_INTER;
		rp->remote = d->id;
		rp->rport = (uint32_t)port;
		/* Xen may have lost events on the unbound port: it raises one */
		port_raise(d, (uint32_t)port);
		return port;
	}
	case GM__EMU_EVT_UNBIND:
	case GM__EMU_EVT_NOTIFY:
	case GM__EMU_EVT_UNMASK:
		if (q->arg >= EVT_MAX_PORTS)
			return q->type == GM__EMU_EVT_UNMASK ? 0 : -EINVAL;
		p = port_get(d, q->arg);
		if (!p || p->owner != q->c)
			return q->type == GM__EMU_EVT_UNMASK ? 0 : -ENOTCONN;
		if (q->type == GM__EMU_EVT_UNBIND) {
			port_close(h, d, q->arg);
		} else if (q->type == GM__EMU_EVT_UNMASK) {
			p->masked = 0;
			if (p->pending)
				port_deliver(d, q->arg);
		} else if (p->state == PORT_INTER) {
			struct domain *rd = dom_find(h, p->remote);

			if (rd && port_get(rd, p->rport))
				port_raise(rd, p->rport);
		} /* unbound: Xen drops the notification silently */
		return 0;
	case GM__EMU_EVT_PENDING:
		if (!q->c->nready)
			return -EAGAIN;
		port = (int)q->c->ready[0];
		memmove(q->c->ready, q->c->ready + 1, --q->c->nready * sizeof(uint32_t));
		d->ports[port].queued = 0;
		q->oarg = q->c->nready != 0;
		return port;
	}
	return -EINVAL;
}

/* ---- xenstore requests ------------------------------------------------------------- */

/* The NUL-terminated path at the start of the payload; *rest after it. */
static int rq_path(struct rq *q, char *abs, bool *rel, bool special, const uint8_t **rest,
		   uint32_t *rlen)
{
	const uint8_t *nul = memchr(q->p, 0, q->len);
	uint32_t pl;

	if (!nul || nul == q->p)
		return -EINVAL;
	pl = (uint32_t)(nul - q->p);
	if (pl > GM__EMU_XS_PATH_MAX)
		return -EINVAL;
	*rest = nul + 1;
	*rlen = q->len - pl - 1;
	return xs_abs(q->c, (const char *)q->p, abs, rel, special);
}

static int xs_ctx(struct hub *h, struct rq *q, struct xctx *x)
{
	x->h = h;
	x->root = h->root;
	x->dom = q->c->dom->id;
	x->tx = NULL;
	if (q->arg != GM_XS_TX_NONE) {
		x->tx = tx_find(q->c, q->arg, NULL);
		if (!x->tx)
			return -ENOENT; /* xenstored: unknown transaction */
		x->root = x->tx->work;
	}
	return 0;
}

static int h_xs_watch(struct hub *h, struct rq *q, const char *abs, bool rel, const uint8_t *rest,
		      uint32_t rlen)
{
	const uint8_t *nul = memchr(rest, 0, rlen);
	size_t pl = strlen(abs), tl;
	struct watch *w, **pp;

	(void)h;
	if (!nul || nul + 1 != rest + rlen)
		return -EINVAL;
	tl = (size_t)(nul - rest);
	for (pp = &q->c->watches; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->path, abs) && !strcmp((*pp)->token, (const char *)rest))
			break;
	if (q->type == GM__EMU_XS_UNWATCH) {
		if (!*pp)
			return -ENOENT;
		w = *pp;
		*pp = w->next;
		free(w);
		q->c->nwatches--;
		return 0;
	}
	if (*pp)
		return -EEXIST;
	if (q->c->nwatches >= XS_MAX_WATCHES)
		return -E2BIG;
	w = malloc(sizeof(*w) + pl + tl + 2);
	if (!w)
		return -ENOMEM;
	memcpy(w->path, abs, pl + 1);
	w->token = w->path + pl + 1;
	memcpy(w->token, rest, tl + 1);
	w->rel = rel;
	w->next = q->c->watches;
	q->c->watches = w;
	q->c->nwatches++;
	/* xenstored fires a new watch once, on its own path */
	watch_queue(q->c, abs, w);
	return 0;
}

static int h_xs(struct hub *h, struct rq *q)
{
	char abs[GM__EMU_XS_PATH_MAX + 1];
	const uint8_t *rest;
	uint32_t rlen;
	struct xctx x;
	struct xnode *n;
	bool rel;
	int r;

	if (q->c->kind != GM__EMU_K_XS)
		return -EINVAL;
	switch (q->type) {
	case GM__EMU_XS_READ_WATCH: {
		struct wevent *ev = q->c->wq;

		if (!ev)
			return -EAGAIN;
		q->c->wq = ev->next;
		if (!q->c->wq)
			q->c->wq_tail = &q->c->wq;
		q->c->nwq--;
		memcpy(q->out, ev->data, ev->len);
		q->olen = ev->len;
		q->oarg = q->c->nwq != 0;
		free(ev);
		return 0;
	}
	case GM__EMU_XS_TX_START: {
		struct tx *t;

		if (q->c->ntx >= XS_MAX_TX)
			return -ENOSPC;
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		t->pristine = xn_copy(h, h->root);
		t->work = xn_copy(h, h->root);
		if (!t->pristine || !t->work) {
			tx_free(h, t);
			return -ENOSPC;
		}
		/* ids fit the reply's status: 1 .. INT32_MAX */
		do
			t->id = ++h->next_tx & 0x7fffffffu;
		while (t->id == GM_XS_TX_NONE || tx_find(q->c, t->id, NULL));
		t->next = q->c->txs;
		q->c->txs = t;
		q->c->ntx++;
		return (int)t->id;
	}
	case GM__EMU_XS_TX_END: {
		struct tx **link, *t = tx_find(q->c, q->arg, &link);
		uint32_t abort_;

		if (!t)
			return -ENOENT;
		if (q->len != sizeof(abort_))
			return -EINVAL;
		memcpy(&abort_, q->p, sizeof(abort_));
		*link = t->next;
		q->c->ntx--;
		r = abort_ ? 0 : tx_commit(h, q->c, t);
		tx_free(h, t);
		return r;
	}
	}
	r = rq_path(q, abs, &rel, q->type == GM__EMU_XS_WATCH || q->type == GM__EMU_XS_UNWATCH,
		    &rest, &rlen);
	if (r < 0)
		return r;
	if (q->type == GM__EMU_XS_WATCH || q->type == GM__EMU_XS_UNWATCH)
		return h_xs_watch(h, q, abs, rel, rest, rlen);
	if ((r = xs_ctx(h, q, &x)) < 0)
		return r;
	switch (q->type) {
	case GM__EMU_XS_READ:
		if (rlen)
			return -EINVAL;
		if ((r = xs_read_node(&x, abs, &n)) < 0)
			return r;
		if (n->vlen)
			memcpy(q->out, n->value, n->vlen);
		q->olen = n->vlen;
		return 0;
	case GM__EMU_XS_DIRECTORY: {
		uint32_t off = 0;
		int count = 0;

		if (rlen)
			return -EINVAL;
		if ((r = xs_read_node(&x, abs, &n)) < 0)
			return r;
		for (struct xnode *k = n->child; k; k = k->next) {
			size_t l = strlen(k->name) + 1;

			if (off + l > GM__EMU_MSG_MAX - sizeof(struct gm__emu_hdr))
				return -E2BIG;
			memcpy(q->out + off, k->name, l);
			off += (uint32_t)l;
			count++;
		}
		q->olen = off;
		return count;
	}
	case GM__EMU_XS_WRITE:
		return xs_do_write(&x, abs, rest, rlen);
	case GM__EMU_XS_MKDIR:
		return rlen ? -EINVAL : xs_do_mkdir(&x, abs);
	case GM__EMU_XS_RM:
		return rlen ? -EINVAL : xs_do_rm(&x, abs);
	case GM__EMU_XS_SET_PERMS: {
		struct gm__emu_xs_perm p[XS_MAX_PERMS];
		uint32_t np;

		if (rlen < sizeof(np))
			return -EINVAL;
		memcpy(&np, rest, sizeof(np));
		if (!np || np > XS_MAX_PERMS || rlen != sizeof(np) + np * sizeof(p[0]))
			return -EINVAL;
		memcpy(p, rest + sizeof(np), np * sizeof(p[0]));
		for (uint32_t i = 0; i < np; i++)
			if (p[i].id > 0xffff || (p[i].perms & ~(uint32_t)(GM_XS_PERM_READ | GM_XS_PERM_WRITE)))
				return -EINVAL;
		return xs_do_perms(&x, abs, p, np);
	}
	}
	return -EINVAL;
}

/* ---- connections ------------------------------------------------------------------- */

static int h_info(struct hub *h, struct rq *q)
{
	struct gm__emu_info info = {0};
	struct domain *d = q->arg <= 0xffff ? dom_find(h, q->arg) : NULL;

	if (d) {
		info.exists = 1;
		info.dying = d->dying;
		info.connections = d->nconns;
		info.grants = d->gt.used;
		gm__gt_counts(&d->gt, &info.mapped, &info.maps);
		for (uint32_t i = 1; i < d->nports; i++)
			info.ports += d->ports[i].state != PORT_FREE;
		for (struct conn *c = h->conns; c; c = c->next)
			if (c->dom == d)
				info.watches += c->nwatches;
	}
	memcpy(q->out, &info, sizeof(info));
	q->olen = sizeof(info);
	return 0;
}

static int h_hello(struct hub *h, struct rq *q)
{
	struct gm__emu_hello hello;
	int r;

	if (q->c->kind || q->len != sizeof(hello))
		return -EPROTO;
	memcpy(&hello, q->p, sizeof(hello));
	if (hello.magic != GM__EMU_MAGIC || hello.version != GM__EMU_VERSION)
		return -EPROTO;
	if (hello.kind < GM__EMU_K_CONTROL || hello.kind > GM__EMU_K_XS)
		return -EINVAL;
	bool want_fd = hello.kind >= GM__EMU_K_GNTSHR;
	if (q->nfds != (want_fd ? 1u : 0u))
		return -EINVAL;
	if (hello.kind != GM__EMU_K_CONTROL && (r = dom_join(h, q->c, hello.domid)) < 0)
		return r;
	if (hello.kind == GM__EMU_K_GNTSHR) {
		r = ram_new(q->fds[0], hello.ram_size, &q->c->ram);
		if (r < 0) {
			dom_leave(h, q->c->dom);
			q->c->dom = NULL;
			return r;
		}
		q->fds[0] = -1; /* the RAM object owns it now */
	} else if (want_fd) {
		/* an eventfd: never let a write to it block the hub */
		int fl = fcntl(q->fds[0], F_GETFL);

		if (fl < 0 || fcntl(q->fds[0], F_SETFL, fl | O_NONBLOCK) < 0) {
			dom_leave(h, q->c->dom);
			q->c->dom = NULL;
			return -EINVAL;
		}
		q->c->evfd = q->fds[0];
		q->fds[0] = -1;
	}
	q->c->kind = hello.kind;
	return 0;
}

static void conn_destroy(struct hub *h, struct conn *c)
{
	while (c->maps) {
		struct maph *m = c->maps;

		c->maps = m->next;
		maph_release(h, c, m);
	}
	if (c->kind == GM__EMU_K_GNTSHR && c->dom)
		gm__gt_revoke_owner(&c->dom->gt, c);
	ram_put(c->ram);
	if (c->dom)
		for (uint32_t p = 1; p < c->dom->nports; p++)
			if (c->dom->ports[p].owner == c)
				port_close(h, c->dom, p);
	while (c->watches) {
		struct watch *w = c->watches;

		c->watches = w->next;
		free(w);
	}
	while (c->wq) {
		struct wevent *ev = c->wq;

		c->wq = ev->next;
		free(ev);
	}
	while (c->txs) {
		struct tx *t = c->txs;

		c->txs = t->next;
		tx_free(h, t);
	}
	free(c->ready);
	if (c->dom)
		dom_leave(h, c->dom);
	if (c->evfd >= 0)
		close(c->evfd);
	close(c->fd);
	free(c);
	h->nconns--;
}

static int dispatch(struct hub *h, struct rq *q)
{
	if (!q->c->kind && q->type != GM__EMU_HELLO)
		return -EPROTO;
	switch (q->type) {
	case GM__EMU_HELLO:
		return h_hello(h, q);
	case GM__EMU_SHUTDOWN:
		h->running = false;
		return 0;
	case GM__EMU_BYE:
		/* destroyed before the next poll(): whatever the client asks
		 * next on another connection sees the cleanup done */
		q->c->dead = true;
		return 0;
	case GM__EMU_INFO:
		return h_info(h, q);
	case GM__EMU_GNT_MAP:
		return h_map(h, q);
	case GM__EMU_GNT_UNMAP:
		return h_unmap(h, q);
	case GM__EMU_GNT_COPY:
		return h_copy(h, q);
	case GM__EMU_SHR_GRANT:
		return h_grant(h, q);
	case GM__EMU_SHR_END:
		return h_end(h, q);
	}
	if (q->type >= GM__EMU_EVT_BIND_UNBOUND && q->type <= GM__EMU_EVT_PENDING)
		return h_evt(h, q);
	if (q->type >= GM__EMU_XS_READ && q->type <= GM__EMU_XS_TX_END)
		return h_xs(h, q);
	return -EINVAL;
}

/* Serve one message of @c; false when the connection must go. */
static bool conn_serve(struct hub *h, struct conn *c)
{
	struct gm__emu_hdr hdr, rep;
	int fds[GM__EMU_MAX_FDS];
	unsigned nfds = 0;
	struct rq q;
	struct iovec iov;
	int r = gm__emu_recv(c->fd, h->in, GM__EMU_MSG_MAX, fds, GM__EMU_MAX_FDS, &nfds,
			     MSG_DONTWAIT);

	if (r == -EAGAIN || r == -EINTR)
		return true;
	if (r < 0)
		return false;
	memcpy(&hdr, h->in, sizeof(hdr));
	memset(&q, 0, sizeof(q));
	q.c = c;
	q.type = hdr.type;
	q.arg = hdr.arg;
	q.len = hdr.len;
	q.p = h->in + sizeof(hdr);
	q.fds = fds;
	q.nfds = nfds;
	q.out = h->out + sizeof(hdr);
	r = dispatch(h, &q);
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	rep.type = hdr.type;
	rep.status = r;
	rep.len = r < 0 && r != -EAGAIN ? 0 : q.olen;
	rep.arg = q.oarg;
	iov.iov_base = q.out;
	iov.iov_len = rep.len;
	if (r < 0)
		q.nofds = 0;
	if (gm__emu_send(c->fd, &rep, &iov, 1, q.ofds, q.nofds, MSG_DONTWAIT) < 0)
		return false; /* a peer that does not read its replies */
	return !(q.type == GM__EMU_HELLO && r < 0) && !c->dead;
}

static void hub_accept(struct hub *h)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct conn *c;
	int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (h->nconns >= CONN_MAX || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    !(c = calloc(1, sizeof(*c)))) {
		gm__warn("emu hub: connection refused (%u open)", h->nconns);
		close(fd);
		return;
	}
	c->fd = fd;
	c->evfd = -1;
	c->pid = cred.pid;
	c->wq_tail = &c->wq;
	c->next = h->conns;
	h->conns = c;
	h->nconns++;
}

static void hub_loop(struct hub *h)
{
	struct pollfd *pfd = calloc(CONN_MAX + 2, sizeof(*pfd));
	struct conn **who = calloc(CONN_MAX + 2, sizeof(*who));

	if (!pfd || !who) {
		gm__err("emu hub: out of memory");
		goto out;
	}
	while (h->running) {
		unsigned n = 2;

		pfd[0] = (struct pollfd){.fd = h->lfd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = h->sfd, .events = POLLIN};
		for (struct conn *c = h->conns; c; c = c->next) {
			pfd[n] = (struct pollfd){.fd = c->fd, .events = POLLIN};
			who[n++] = c;
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			gm__err("emu hub: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(h->sfd, &si, sizeof(si)) > 0)
				h->running = false;
		}
		for (unsigned i = 2; i < n && h->running; i++) {
			if (pfd[i].revents & POLLIN) {
				if (!conn_serve(h, who[i]))
					who[i]->dead = true;
			} else if (pfd[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
				who[i]->dead = true;
			}
		}
		/* A dead peer leaves nothing behind. */
		for (struct conn **pp = &h->conns; *pp;) {
			struct conn *c = *pp;

			if (c->dead) {
				*pp = c->next;
				conn_destroy(h, c);
			} else {
				pp = &c->next;
			}
		}
		if (pfd[0].revents & POLLIN)
			hub_accept(h);
	}
out:
	free(pfd);
	free(who);
}

static int hub_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int probe;

		if (errno != EADDRINUSE)
			goto fail;
		/* a stale socket, or a live hub? */
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		r = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (r) {
			close(fd);
			return -EADDRINUSE;
		}
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	}
	if (listen(fd, 64) < 0)
		goto fail;
	return fd;
fail:
	r = -errno;
	close(fd);
	return r;
}

static void hub_free(struct hub *h)
{
	while (h->conns) {
		struct conn *c = h->conns;

		h->conns = c->next;
		conn_destroy(h, c);
	}
	while (h->doms)
		dom_free(h, h->doms);
	xn_free(h, h->root);
	free(h->in);
	free(h->out);
}

int gm__emu_hub_main(const char *path, int ready_fd)
{
	static const struct gm__emu_xs_perm root_perm = {0, GM_XS_PERM_NONE};
	struct hub h = {.lfd = -1, .sfd = -1, .running = true, .gen = 1};
	struct xctx x = {.h = &h, .dom = 0};
	sigset_t set;
	int r, zero = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	h.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	h.in = malloc(GM__EMU_MSG_MAX);
	h.out = malloc(GM__EMU_MSG_MAX);
	h.root = xn_new(&h, "", 0);
	if (h.sfd < 0 || !h.in || !h.out || !h.root || xn_set_perms(h.root, &root_perm, 1) < 0) {
		r = h.sfd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	x.root = h.root;
	if (xs_do_mkdir(&x, "/local/domain") < 0 || !dom_create(&h, 0, getpid())) {
		r = -ENOMEM;
		goto out;
	}
	r = hub_listen(path);
	if (r < 0)
		goto out;
	h.lfd = r;
	r = 0;
	if (ready_fd >= 0 && write(ready_fd, &zero, sizeof(zero)) != sizeof(zero))
		gm__warn("emu hub: cannot signal readiness: %s", strerror(errno));
	hub_loop(&h);
	unlink(path);
out:
	hub_free(&h);
	if (h.lfd >= 0)
		close(h.lfd);
	if (h.sfd >= 0)
		close(h.sfd);
	return r;
}
