/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated Xen's event channels of one domain, in memory every process
 * of the world shares (shm.h), so that a notify, an unmask and a pending
 * query need no message to the hub:
 *
 *  - each port has a word: its state (free, unbound, interdomain), the
 *    peer domain and port, and Xen's pending and mask bits;
 *  - a ready bitmap holds the ports delivered and not yet taken by
 *    gm_evtchn_pending() (Linux's evtchn ring, as a set);
 *  - each port's owner is the id of the event-channel handle bound to it,
 *    whose eventfd the notifier writes after a delivery.
 *
 * Delivery follows /dev/xen/evtchn: a delivered port is masked until its
 * owner unmasks it; events raised meanwhile leave one coalesced pending
 * event, delivered by the unmask.  Only the hub binds and closes ports
 * (gm__ev_set, gm__ev_close); everyone raises, unmasks and takes with
 * atomic operations.
 */
#ifndef GM_BACKENDS_EMU_EVTCHN_H
#define GM_BACKENDS_EMU_EVTCHN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GM__EV_PORTS 4096u /* the 2-level ABI's ports, 64-bit guest */

enum { GM__EV_FREE, GM__EV_UNBOUND, GM__EV_INTER };

/* One domain's ports.  All zero: every port free. */
struct gm__ev {
	_Atomic uint64_t ready[GM__EV_PORTS / 64];
	/* state (bits 0-1), pending (2), masked (3), peer domain (16-31),
	 * peer port (32-47) */
	_Atomic uint64_t word[GM__EV_PORTS];
	_Atomic uint32_t owner[GM__EV_PORTS]; /* the bound handle's id, 0 if free */
};

/* Port @port's state, peer domain and peer port. */
void gm__ev_get(struct gm__ev *e, uint32_t port, unsigned *state, uint16_t *rdom,
		uint32_t *rport);
/* Port @port's owner (0 for a free port or one beyond the table). */
uint32_t gm__ev_owner(struct gm__ev *e, uint32_t port);

/*
 * The hub binds @port: @state with peer @rdom/@rport, owned by handle
 * @owner; pending and mask bits are cleared unless @keep (the peer's end of
 * a new interdomain channel keeps its own).
 */
void gm__ev_set(struct gm__ev *e, uint32_t port, unsigned state, uint16_t rdom, uint32_t rport,
		uint32_t owner, bool keep);
/* The hub closes @port: free, nothing pending, not ready. */
void gm__ev_close(struct gm__ev *e, uint32_t port);

/*
 * gm__ev_raise - an event on @port.  With @from_dom/@from_port (a notify
 * from that peer port, @from_port non-zero) only an interdomain port bound
 * to exactly that peer takes it; with @from_port 0 (the hub's own raise)
 * any bound port does.  A masked port keeps it pending; an unmasked one is
 * delivered: masked, made ready, and 1 is returned with *owner set: the
 * caller writes that handle's eventfd.  0 otherwise.
 */
int gm__ev_raise(struct gm__ev *e, uint32_t port, uint16_t from_dom, uint32_t from_port,
		 uint32_t *owner);

/* Unmask @port; a pending event is delivered now (returns 1: the caller
 * kicks the owner's eventfd), else 0. */
int gm__ev_unmask(struct gm__ev *e, uint32_t port);

/*
 * gm__ev_take - take one ready port owned by handle @me, scanning from
 * *@hint (updated, for fairness between ports).  Returns the port, or -1 if
 * none; *@more says whether another of @me's ports is ready.
 */
int gm__ev_take(struct gm__ev *e, uint32_t me, uint32_t *hint, bool *more);

#endif /* GM_BACKENDS_EMU_EVTCHN_H */
