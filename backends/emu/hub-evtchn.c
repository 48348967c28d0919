/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hub's event channels (hub-internal.h): it alone allocates, binds and
 * closes ports, keeping its own record of each and mirroring it into the
 * domain's shared page (evtchn.h), where processes notify, unmask and take
 * delivered ports without asking the hub.  It also hands a notifier the
 * eventfd of the handle that owns the port it notifies (EVT_PEER).
 */
#include "config.h"

#include "hub-internal.h"

#include <stdlib.h>
#include <string.h>

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

/* Record port @port of @d and publish it on the shared page. */
static void port_set(struct domain *d, uint32_t port, uint8_t state, uint16_t remote,
		     uint32_t rport, struct conn *owner, bool keep)
{
	struct port *p = &d->ports[port];

	p->state = state;
	p->remote = remote;
	p->rport = rport;
	p->owner = owner;
	gm__ev_set(&d->shm->ev, port,
		   state == PORT_INTER ? GM__EV_INTER : state == PORT_UNBOUND ? GM__EV_UNBOUND
									   : GM__EV_FREE,
		   remote, rport, owner ? owner->id : 0, keep);
}

static void port_close(struct hub *h, struct domain *d, uint32_t port)
{
	struct port *p = &d->ports[port];

	if (p->state == PORT_INTER) {
		struct domain *rd = gm__hub_dom_find(h, p->remote);
		struct port *rp = rd ? port_get(rd, p->rport) : NULL;

		/* Xen: the peer's end goes back to unbound, for us */
		if (rp && rp->state == PORT_INTER && rp->remote == d->id && rp->rport == port)
			port_set(rd, p->rport, PORT_UNBOUND, d->id, 0, rp->owner, true);
	}
	memset(p, 0, sizeof(*p));
	gm__ev_close(&d->shm->ev, port);
}

static int bind_inter(struct hub *h, struct rq *q)
{
	struct domain *d = q->c->dom, *rd;
	struct port *rp;
	uint32_t a[2], owner;
	int port;

	if (q->len != sizeof(a))
		return -EINVAL;
	memcpy(a, q->p, sizeof(a));
	rd = a[0] <= 0xffff ? gm__hub_dom_find(h, gm__hub_domid(q->c, a[0])) : NULL;
	if (!rd || rd->dying)
		return -ESRCH;
	rp = port_get(rd, a[1]);
	if (!rp || rp->state != PORT_UNBOUND || rp->remote != d->id)
		return -EINVAL;
	port = port_alloc(d); /* may move d->ports (and rd's if rd == d) */
	if (port < 0)
		return port;
	rp = &rd->ports[a[1]];
	port_set(d, (uint32_t)port, PORT_INTER, rd->id, a[1], q->c, false);
	port_set(rd, a[1], PORT_INTER, d->id, (uint32_t)port, rp->owner, true);
	/* Xen may have lost events on the unbound port: it raises one */
	if (gm__ev_raise(&d->shm->ev, (uint32_t)port, 0, 0, &owner))
		gm__hub_signal(q->c);
	return port;
}

/* The eventfd of event-channel handle @id, for a notifier. */
static int peer(struct hub *h, struct rq *q)
{
	for (struct conn *c = h->conns; c; c = c->next)
		if (c->id == q->arg && c->kind == GM__EMU_K_EVTCHN && !c->dead && c->evfd >= 0) {
			q->ofds[0] = c->evfd;
			q->nofds = 1;
			return 0;
		}
	return -ENOENT;
}

int gm__hub_evt_request(struct hub *h, struct rq *q)
{
	struct domain *d = q->c->dom;
	struct port *p;
	int port;

	if (q->type == GM__EMU_EVT_PEER)
		return d && !q->len ? peer(h, q) : -EINVAL;
	if (q->c->kind != GM__EMU_K_EVTCHN)
		return -EINVAL;
	switch (q->type) {
	case GM__EMU_EVT_BIND_UNBOUND:
		if (q->arg > 0xffff || (q->arg > GM_DOMID_MAX && q->arg != GM_DOMID_SELF))
			return -EINVAL;
		port = port_alloc(d);
		if (port < 0)
			return port;
		port_set(d, (uint32_t)port, PORT_UNBOUND, gm__hub_domid(q->c, q->arg), 0, q->c, false);
		return port;
	case GM__EMU_EVT_BIND_INTER:
		return bind_inter(h, q);
	case GM__EMU_EVT_UNBIND:
		if (q->arg >= EVT_MAX_PORTS)
			return -EINVAL;
		p = port_get(d, q->arg);
		if (!p || p->owner != q->c)
			return -ENOTCONN;
		port_close(h, d, q->arg);
		return 0;
	}
	return -EINVAL;
}

void gm__hub_evt_release(struct hub *h, struct conn *c)
{
	if (c->dom)
		for (uint32_t p = 1; p < c->dom->nports; p++)
			if (c->dom->ports[p].owner == c)
				port_close(h, c->dom, p);
}

unsigned gm__hub_evt_ports(const struct domain *d)
{
	unsigned n = 0;

	for (uint32_t i = 1; i < d->nports; i++)
		n += d->ports[i].state != PORT_FREE;
	return n;
}
