/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated-Xen hub's shared state: one single-threaded process that
 * holds what Xen and xenstored hold and serves every connection with
 * poll().  Its files, each calling only the ones listed before it:
 *
 *   hub-xs.c      the xenstore: nodes, permissions, watches, transactions
 *   hub-domain.c  domains (life, death, their xenstore directory, their
 *                 shared page) and RAM objects; DOM_OPEN and DOM_RAM
 *   hub-grant.c   grant handles: maptracks, and clean-up of what a dead
 *                 mapper held or a gone granter granted
 *   hub-evtchn.c  binding and closing event channels
 *   hub.c         connections: HELLO, dispatch, the poll loop, listening
 *
 * Grant maps, copies, grants, ends and event delivery happen in the
 * processes themselves, on each domain's shared page (shm.h); the hub makes
 * those pages, hands them over, and is the only one to bind ports and to
 * clean up after a connection.
 *
 * Trust: every peer may be hostile.  Every length, index, domain and ref in
 * a request is checked before use; a request that breaks the framing closes
 * its connection; nothing a peer sends can make the hub abort.
 */
#ifndef GM_BACKENDS_EMU_HUB_INTERNAL_H
#define GM_BACKENDS_EMU_HUB_INTERNAL_H

#include "shm.h"
#include "wire.h"

#include <stdbool.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define EVT_MAX_PORTS GM__EV_PORTS
#define CONN_MAX 1024u
#define RAM_MAX (64ull << 30)

struct conn;
struct watch;
struct wevent;
struct tx;
struct xnode;

/* A RAM object: the memfd of one guest gntshr connection. */
struct ram {
	struct ram *next;
	uint32_t id;   /* in its domain: entries name it */
	int fd;        /* read-write, as the guest sent it */
	int ro_fd;     /* read-only reopening (-1: fall back to fd) */
	uint32_t pages;
};

enum { PORT_FREE, PORT_UNBOUND, PORT_INTER };

/* The hub's own record of a port; the shared page mirrors it (evtchn.h). */
struct port {
	uint8_t state;
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
	uint64_t instance;
	int shm_fd;      /* its shared page: grant table and event channels */
	struct gm__emu_dom_shm *shm;
	struct ram *rams;
	uint32_t next_ram;
	struct port *ports;
	uint32_t nports; /* slots allocated */
};

struct conn {
	struct conn *next;
	int fd, evfd;
	uint32_t id;   /* never 0, never reused */
	uint32_t kind; /* 0 until HELLO */
	bool dead;
	pid_t pid;
	struct domain *dom;
	struct ram *ram;         /* GNTSHR: in dom->rams */
	int mt_fd;               /* GNTTAB: the maptrack */
	struct gm__emu_maptrack *mt;
	size_t mt_size;
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
	uint32_t next_id;
	uint64_t next_instance;
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

/* Tell @c that news is queued (its eventfd, if it has one). */
static inline void gm__hub_signal(struct conn *c)
{
	uint64_t one = 1;

	if (c->evfd >= 0 && write(c->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		gm__dbg("emu hub: eventfd write: %s", strerror(errno));
}

/* A domain id from a peer: DOMID_SELF is the peer's own domain. */
static inline uint16_t gm__hub_domid(const struct conn *c, uint32_t d)
{
	return d == GM_DOMID_SELF ? c->dom->id : (uint16_t)d;
}

/* ---- hub-xs.c: the xenstore ---- */

/* The tree with "/" and "/local/domain"; 0 or -ENOMEM. */
int gm__hub_xs_init(struct hub *h);
/* Free the tree (every connection's watches and transactions went first). */
void gm__hub_xs_free(struct hub *h);
/*
 * As dom0 on the real tree: make @path (and what is missing above it,
 * firing watches), then give it the permissions @perms (@np of them) without
 * firing; remove @path and what is below it (firing).  Return 0 or -errno.
 */
int gm__hub_xs_mkdir(struct hub *h, const char *path, const struct gm__emu_xs_perm *perms,
		     uint32_t np);
int gm__hub_xs_rm(struct hub *h, const char *path);
/* Fire the watches on @path (a special path such as "@releaseDomain"). */
void gm__hub_xs_fire(struct hub *h, const char *path);
/* Serve a GM__EMU_XS_* request. */
int gm__hub_xs_request(struct hub *h, struct rq *q);
/* Drop @c's watches, queued watch events and transactions. */
void gm__hub_xs_release(struct hub *h, struct conn *c);

/* ---- hub-domain.c: domains and their RAM ---- */

struct domain *gm__hub_dom_find(struct hub *h, unsigned id);
/* Domain @id with its xenstore directory and shared page, owned by process
 * @pid; NULL: no memory. */
struct domain *gm__hub_dom_create(struct hub *h, uint16_t id, pid_t pid);
/* Connection @c joins domain @id: 0, -EINVAL, -EBUSY (dying), -EEXIST
 * (another process's), -ENOMEM. */
int gm__hub_dom_join(struct hub *h, struct conn *c, uint32_t id);
/* A connection of @d went: the last one tears the domain down as Xen does
 * and leaves it dying (gm__hub_gnt_sweep() frees it). */
void gm__hub_dom_leave(struct hub *h, struct domain *d);
void gm__hub_dom_free(struct hub *h, struct domain *d);
/* Grant entries of @d in use, with busy bits, and their map counts. */
void gm__hub_dom_counts(struct domain *d, unsigned *used, unsigned *mapped, unsigned *maps);
/* A RAM object of @d from the sealed memfd @fd of @size bytes (taken on
 * success): 0 or -EINVAL/-ENOMEM. */
int gm__hub_ram_new(struct domain *d, int fd, uint64_t size, struct ram **out);
/* Drop RAM object @r of @d (NULL is fine). */
void gm__hub_ram_free(struct domain *d, struct ram *r);
/* Serve DOM_OPEN or DOM_RAM. */
int gm__hub_dom_request(struct hub *h, struct rq *q);

/* ---- hub-grant.c: grant handles ---- */

/* HELLO of a GNTTAB or GNTSHR connection: its maptrack, its RAM object. */
int gm__hub_gnt_hello(struct hub *h, struct rq *q, const struct gm__emu_hello *hello,
		      struct gm__emu_hello_rep *rep);
/*
 * Release what the dead connections' mappings held, before they are
 * destroyed: held records at once; records caught mid-operation settled
 * against every live maptrack (shm.h).  May wait up to 0.1 s for live
 * mappers' own operations on those entries.
 */
void gm__hub_gnt_gone(struct hub *h);
/* Release what @c's mappings held (unless gm__hub_gnt_gone() did) and
 * revoke its grants. */
void gm__hub_gnt_release(struct hub *h, struct conn *c);
/*
 * Free the dying domains nobody maps any more (their last unmap happens in
 * the mapper, so the hub looks: before it answers about domains, and now
 * and then).  Returns true if some stay dying.
 */
bool gm__hub_gnt_sweep(struct hub *h);

/* ---- hub-evtchn.c: event channels ---- */

/* Serve a GM__EMU_EVT_* request. */
int gm__hub_evt_request(struct hub *h, struct rq *q);
/* Close @c's ports. */
void gm__hub_evt_release(struct hub *h, struct conn *c);
/* Ports of @d in use. */
unsigned gm__hub_evt_ports(const struct domain *d);

#endif /* GM_BACKENDS_EMU_HUB_INTERNAL_H */
