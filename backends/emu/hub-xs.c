/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hub's xenstore (hub-internal.h): a tree of nodes with values and
 * xenstored's permissions, watches with their event queues, and
 * transactions (a copy of the tree, replayed on commit when nothing they
 * read has changed since).
 */
#include "config.h"

#include "hub-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XS_MAX_NODES 200000u         /* all trees, transactions included */
#define XS_MAX_WATCHES 128u          /* per connection, xenstored's quota */
#define XS_MAX_EVENTS 4096u          /* queued per connection */
#define XS_MAX_TX 16u                /* per connection */
#define XS_MAX_PERMS 64u

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
		gm__hub_signal(c);
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

int gm__hub_xs_request(struct hub *h, struct rq *q)
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

/* ---- what the rest of the hub uses --------------------------------------------------- */

int gm__hub_xs_init(struct hub *h)
{
	static const struct gm__emu_xs_perm root_perm = {0, GM_XS_PERM_NONE};
	struct xctx x = {.h = h, .dom = 0};

	h->root = xn_new(h, "", 0);
	if (!h->root || xn_set_perms(h->root, &root_perm, 1) < 0)
		return -ENOMEM;
	x.root = h->root;
	return xs_do_mkdir(&x, "/local/domain") < 0 ? -ENOMEM : 0;
}

void gm__hub_xs_free(struct hub *h)
{
	xn_free(h, h->root);
	h->root = NULL;
}

int gm__hub_xs_mkdir(struct hub *h, const char *path, const struct gm__emu_xs_perm *perms,
		     uint32_t np)
{
	struct xctx x = {.h = h, .root = h->root, .dom = 0};
	struct xnode *n;
	int r = xs_do_mkdir(&x, path);

	if (r < 0)
		return r;
	n = xn_lookup(h->root, path);
	return n ? xn_set_perms(n, perms, np) : -ENOENT;
}

int gm__hub_xs_rm(struct hub *h, const char *path)
{
	struct xctx x = {.h = h, .root = h->root, .dom = 0};

	return xs_do_rm(&x, path);
}

void gm__hub_xs_fire(struct hub *h, const char *path)
{
	fire(h, path, false);
}

void gm__hub_xs_release(struct hub *h, struct conn *c)
{
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
}
