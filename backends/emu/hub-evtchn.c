/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hub's event channels (hub-internal.h): ports per domain, unbound and
 * interdomain, Linux evtchn's mask-on-delivery with one coalesced pending
 * event until unmask, and each connection's FIFO of delivered ports.
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
		gm__hub_signal(c);
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
		struct domain *rd = gm__hub_dom_find(h, p->remote);
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

int gm__hub_evt_request(struct hub *h, struct rq *q)
{
	struct domain *d = q->c->dom;
	struct port *p;
	int port;

	if (q->c->kind != GM__EMU_K_EVTCHN)
		return -EINVAL;
	switch (q->type) {
	case GM__EMU_EVT_BIND_UNBOUND:
		if (q->arg > 0xffff || (q->arg > GM_DOMID_MAX && q->arg != GM_DOMID_SELF))
			return -EINVAL;
		port = port_alloc(d);
		if (port < 0)
			return port;
		p = &d->ports[port];
		p->state = PORT_UNBOUND;
		p->remote = gm__hub_domid(q->c, q->arg);
		p->owner = q->c;
		return port;
	case GM__EMU_EVT_BIND_INTER: {
		uint32_t a[2];
		struct domain *rd;
		struct port *rp;

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
			struct domain *rd = gm__hub_dom_find(h, p->remote);

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

void gm__hub_evt_release(struct hub *h, struct conn *c)
{
	if (c->dom)
		for (uint32_t p = 1; p < c->dom->nports; p++)
			if (c->dom->ports[p].owner == c)
				port_close(h, c->dom, p);
	free(c->ready);
	c->ready = NULL;
	c->nready = c->cready = 0;
}

unsigned gm__hub_evt_ports(const struct domain *d)
{
	unsigned n = 0;

	for (uint32_t i = 1; i < d->nports; i++)
		n += d->ports[i].state != PORT_FREE;
	return n;
}
