/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated-Xen hub's shared state: one single-threaded process that
 * holds what Xen and xenstored hold and serves every connection with
 * poll().  Its files, each calling only the ones listed before it:
 *
 *   hub-xs.c      the xenstore: nodes, permissions, watches, transactions
 *   hub-domain.c  domains (life, death, their xenstore directory) and RAM
 *   hub-grant.c   grant-table requests (map, unmap, copy, grant, end)
 *   hub-evtchn.c  event channels
 *   hub.c         connections: HELLO, dispatch, the poll loop, listening
 *
 * Trust: every peer may be hostile.  Every length, index, domain and ref in
 * a request is checked before use; a request that breaks the framing closes
 * its connection; nothing a peer sends can make the hub abort.
 */
#ifndef GM_BACKENDS_EMU_HUB_INTERNAL_H
#define GM_BACKENDS_EMU_HUB_INTERNAL_H

#include "gnttab.h"
#include "wire.h"

#include <stdbool.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define EVT_MAX_PORTS 4096u          /* 2-level ABI, 64-bit guest */
#define CONN_MAX 1024u
#define CONN_MAP_MAX (1u << 20)      /* pages one connection may map */
#define RAM_MAX (64ull << 30)

struct conn;
struct watch;
struct wevent;
struct tx;
struct xnode;

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
	struct gm__gt gt; /* its grant table (gnttab.c) */
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
/* Domain @id with its xenstore directory, owned by process @pid; NULL: no memory. */
struct domain *gm__hub_dom_create(struct hub *h, uint16_t id, pid_t pid);
/* Connection @c joins domain @id: 0, -EINVAL, -EBUSY (dying), -EEXIST
 * (another process's), -ENOMEM. */
int gm__hub_dom_join(struct hub *h, struct conn *c, uint32_t id);
/* A connection of @d went: the last one tears the domain down as Xen does. */
void gm__hub_dom_leave(struct hub *h, struct domain *d);
/* Free @d if it is neither dom0, nor joined, nor mapped. */
void gm__hub_dom_maybe_free(struct hub *h, struct domain *d);
void gm__hub_dom_free(struct hub *h, struct domain *d);
/* A RAM object from the sealed memfd @fd of @size bytes: 0 or -EINVAL/-ENOMEM. */
int gm__hub_ram_new(int fd, uint64_t size, struct ram **out);
/* Drop one reference (NULL is fine). */
void gm__hub_ram_put(struct ram *r);

/* ---- hub-grant.c: grant tables ---- */

/* Serve a GM__EMU_GNT_* or GM__EMU_SHR_* request. */
int gm__hub_gnt_request(struct hub *h, struct rq *q);
/* Release @c's mappings and revoke its grants. */
void gm__hub_gnt_release(struct hub *h, struct conn *c);

/* ---- hub-evtchn.c: event channels ---- */

/* Serve a GM__EMU_EVT_* request. */
int gm__hub_evt_request(struct hub *h, struct rq *q);
/* Close @c's ports. */
void gm__hub_evt_release(struct hub *h, struct conn *c);
/* Ports of @d in use. */
unsigned gm__hub_evt_ports(const struct domain *d);

#endif /* GM_BACKENDS_EMU_HUB_INTERNAL_H */
