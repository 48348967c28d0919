/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated world's event-channel handles (client.h).  Binding and
 * unbinding go to the hub, which owns the ports; a notify, an unmask and a
 * pending query work on the domains' shared pages (evtchn.c) and write the
 * owning handle's eventfd, which is what gm_evtchn_fd() polls: no message
 * to the hub.  The eventfd of a port's peer handle is asked of the hub
 * once and kept with the port until it is unbound.
 */
#include "config.h"

#include "client.h"

#include <unistd.h>

/* The handle at the other end of one of our ports. */
struct peer {
	uint32_t port;  /* ours */
	uint32_t owner; /* the peer port's handle */
	int fd;         /* its eventfd */
};

struct emu_evt {
	struct econn c;       /* hello.id: the id ports we own carry */
	struct emu_world *w;
	struct emu_dom *self; /* the world's own domain: our ports */
	int evfd;             /* readable once a port of ours was delivered */
	pthread_mutex_t lock; /* protects hint and peers */
	uint32_t hint;        /* where the next pending query starts */
	struct peer *peers;
	unsigned npeers, cpeers;
};

int gm__emu_evt_open(void *world, void **out)
{
	struct emu_world *w = world;
	struct emu_evt *e = gm__calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	if (pthread_mutex_init(&e->lock, NULL)) {
		free(e);
		return -ENOMEM;
	}
	r = gm__emu_evfd_conn_open(w, GM__EMU_K_EVTCHN, &e->c, &e->evfd);
	if (r == 0 && (r = gm__emu_dom_get(w, w->domid, &e->self)) < 0) {
		gm__ec_close(&e->c);
		close(e->evfd);
	}
	if (r < 0) {
		pthread_mutex_destroy(&e->lock);
		free(e);
		return r;
	}
	e->w = w;
	*out = e;
	return 0;
}

void gm__emu_evt_close(void *h)
{
	struct emu_evt *e = h;
	struct emu_world *w = e->w;

	gm__ec_close(&e->c); /* the hub closes our ports */
	gm__emu_dom_put(e->w, e->self);
	for (unsigned i = 0; i < e->npeers; i++)
		close(e->peers[i].fd);
	free(e->peers);
	close(e->evfd);
	pthread_mutex_destroy(&e->lock);
	free(e);
	gm__emu_dom_sweep(w); /* a peer gone with its ports may be gone for good */
}

int gm__emu_evt_fd(void *h)
{
	return ((struct emu_evt *)h)->evfd;
}

int gm__emu_evt_bind_inter(void *h, gm_domid remote, gm_port rport)
{
	uint32_t a[2] = {remote, rport};

	return gm__ec_call(&((struct emu_evt *)h)->c, GM__EMU_EVT_BIND_INTER, 0, a, sizeof(a), NULL);
}

int gm__emu_evt_bind_unbound(void *h, gm_domid remote)
{
	return gm__ec_call(&((struct emu_evt *)h)->c, GM__EMU_EVT_BIND_UNBOUND, remote, NULL, 0,
			   NULL);
}

/* Forget the peer of our @port; lock held. */
static void peer_drop(struct emu_evt *e, uint32_t port)
{
	for (unsigned i = 0; i < e->npeers; i++)
		if (e->peers[i].port == port) {
			close(e->peers[i].fd);
			e->peers[i] = e->peers[--e->npeers];
			return;
		}
}

int gm__emu_evt_unbind(void *h, gm_port port)
{
	struct emu_evt *e = h;
	int r = gm__ec_call(&e->c, GM__EMU_EVT_UNBIND, port, NULL, 0, NULL);

	pthread_mutex_lock(&e->lock);
	peer_drop(e, port);
	pthread_mutex_unlock(&e->lock);
	gm__emu_dom_sweep(e->w);
	return r;
}

/*
 * Tell handle @owner, at the other end of our @port, that an event was
 * delivered: write its eventfd, asked of the hub the first time (and again
 * when another handle has bound the peer port since).
 */
static void peer_kick(struct emu_evt *e, uint32_t port, uint32_t owner)
{
	struct gm__emu_hdr rh;
	unsigned nfd = 0;
	int fd = -1, r;

	pthread_mutex_lock(&e->lock);
	for (unsigned i = 0; i < e->npeers; i++)
		if (e->peers[i].port == port) {
			if (e->peers[i].owner == owner)
				fd = e->peers[i].fd;
			break;
		}
	if (fd >= 0)
		gm__emu_evfd_kick(fd);
	pthread_mutex_unlock(&e->lock);
	if (fd >= 0)
		return;
	pthread_mutex_lock(&e->c.lock);
	r = gm__ec_call_locked(&e->c, GM__EMU_EVT_PEER, owner, NULL, 0, &rh, &fd, 1, &nfd);
	pthread_mutex_unlock(&e->c.lock);
	if (r < 0 || nfd != 1) {
		if (nfd)
			close(fd);
		return; /* a handle that is gone hears nothing */
	}
	gm__emu_evfd_kick(fd);
	pthread_mutex_lock(&e->lock);
	peer_drop(e, port);
	if (e->npeers == e->cpeers) {
		unsigned n = e->cpeers ? 2 * e->cpeers : 4;
		struct peer *a = realloc(e->peers, n * sizeof(*a));

		if (a) {
			e->peers = a;
			e->cpeers = n;
		}
	}
	if (e->npeers < e->cpeers)
		e->peers[e->npeers++] = (struct peer){.port = port, .owner = owner, .fd = fd};
	else
		close(fd);
	pthread_mutex_unlock(&e->lock);
}

int gm__emu_evt_notify(void *h, gm_port port)
{
	struct emu_evt *e = h;
	struct gm__ev *ev = &e->self->shm->ev;
	struct emu_dom *rd;
	uint32_t rport, owner;
	uint16_t rdom;
	unsigned state;

	if (port >= GM__EV_PORTS)
		return -EINVAL;
	if (!port || gm__ev_owner(ev, port) != e->c.hello.id)
		return -ENOTCONN; /* not bound through this handle, as Linux says */
	gm__ev_get(ev, port, &state, &rdom, &rport);
	if (state != GM__EV_INTER)
		return 0; /* unbound: Xen drops the notification silently */
	if (gm__emu_dom_get(e->w, rdom, &rd) < 0)
		return 0; /* the peer domain is gone: nobody to tell */
	if (gm__ev_raise(&rd->shm->ev, rport, e->w->domid, port, &owner)) {
		if (owner == e->c.hello.id)
			gm__emu_evfd_kick(e->evfd); /* a loopback to ourselves */
		else if (owner)
			peer_kick(e, port, owner);
	}
	gm__emu_dom_put(e->w, rd);
	return 0;
}

int gm__emu_evt_unmask(void *h, gm_port port)
{
	struct emu_evt *e = h;
	struct gm__ev *ev = &e->self->shm->ev;

	/* a port not ours: nothing to do, as with Linux's evtchn */
	if (port >= GM__EV_PORTS || gm__ev_owner(ev, port) != e->c.hello.id)
		return 0;
	if (gm__ev_unmask(ev, port))
		gm__emu_evfd_kick(e->evfd); /* its pending event is delivered now */
	return 0;
}

int gm__emu_evt_pending(void *h)
{
	struct emu_evt *e = h;
	bool more;
	int port;

	/*
	 * Clear the eventfd first: a delivery after this writes it again, and
	 * we write it ourselves when more ports of ours are ready.
	 */
	gm__emu_evfd_drain(e->evfd);
	pthread_mutex_lock(&e->lock);
	port = gm__ev_take(&e->self->shm->ev, e->c.hello.id, &e->hint, &more);
	pthread_mutex_unlock(&e->lock);
	if (more)
		gm__emu_evfd_kick(e->evfd);
	if (port >= 0)
		return port;
	/* nothing for us: say so, or that the hub (and with it the ports'
	 * other ends) went away, as a query to it would */
	return gm__ec_alive(&e->c) < 0 ? -ECONNRESET : -EAGAIN;
}
