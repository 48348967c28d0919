/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hub's grant-table requests (hub-internal.h): map batches tracked per
 * connection (so that a dead backend leaves no busy bits), unmap, grant
 * copy with Xen's statuses, grant and end access.  The table's rules are
 * gnttab.c's.
 */
#include "config.h"

#include "hub-internal.h"

#include <stdlib.h>
#include <string.h>

/* Release one map batch (unmap, or its connection died). */
static void maph_release(struct hub *h, struct conn *c, struct maph *m)
{
	struct domain *d = m->dom;

	for (uint32_t i = 0; i < m->count; i++)
		gm__gt_unmap(&d->gt, m->refs[i], m->rw);
	c->mapped -= m->count;
	free(m);
	if (d->dying)
		gm__hub_dom_maybe_free(h, d);
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
	d = gm__hub_dom_find(h, gm__hub_domid(q->c, req.domid));
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
	struct domain *d = domid <= 0xffff ? gm__hub_dom_find(h, gm__hub_domid(c, domid)) : NULL;
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
			 gm__hub_domid(q->c, req.domid), req.writable != 0, refs);
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

int gm__hub_gnt_request(struct hub *h, struct rq *q)
{
	switch (q->type) {
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
	return -EINVAL;
}

void gm__hub_gnt_release(struct hub *h, struct conn *c)
{
	while (c->maps) {
		struct maph *m = c->maps;

		c->maps = m->next;
		maph_release(h, c, m);
	}
	if (c->kind == GM__EMU_K_GNTSHR && c->dom)
		gm__gt_revoke_owner(&c->dom->gt, c);
}
