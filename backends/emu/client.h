/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated world's side of the emulated Xen (the "client"): what its
 * files share.  Each calls only the ones listed before it:
 *
 *   client-conn.c    one connection to the hub: HELLO, request/reply, BYE
 *   client-dom.c     the domains this world has looked at: their shared
 *                    pages and RAM objects, got once from the hub
 *   client-gnttab.c  gnttab and gntshr: maps, unmaps, copies, grants and
 *                    ends of access on the shared grant tables
 *   client-evtchn.c  event channels: binds at the hub, notifies, unmasks
 *                    and pending ports on the shared pages
 *   client-xs.c      the xenstore, at the hub
 *   client.c         the world: its spec, open and close, the ops table,
 *                    the public gm_emu_* calls on a world
 */
#ifndef GM_BACKENDS_EMU_CLIENT_H
#define GM_BACKENDS_EMU_CLIENT_H

#include "shm.h"
#include "wire.h"

#include <grantmem/emu.h>

#include <pthread.h>

/* ---- client-conn.c ---- */

/* One connection to the hub. */
struct econn {
	int fd;
	pthread_mutex_t lock; /* one request in flight; protects buf */
	uint8_t *buf;         /* the reply: header + payload */
	struct gm__emu_hello_rep hello; /* what the hub said to HELLO */
};

/*
 * Connect @c to the hub at @path as a @kind connection in @domid, with
 * @nfds fds for the HELLO (@ram_size for gntshr); *@rfd (if not NULL) gets
 * the fd the hub answers with.  0 or -errno as gm__emu_connect().
 */
int gm__ec_open(struct econn *c, const char *path, uint32_t kind, gm_domid domid,
		const int *fds, unsigned nfds, uint64_t ram_size, int *rfd);
/* Say BYE, wait for the hub's clean-up, close. */
void gm__ec_close(struct econn *c);
/*
 * One request/reply with c->lock held.  Returns the reply's status (a count
 * or -errno) or a transport error (-ECONNRESET when the hub went); *rh gets
 * the reply header, the payload is at gm__ec_payload(c).  Received fds land
 * in @rfds (*nrfds; none on error).
 */
int gm__ec_call_locked(struct econn *c, uint32_t type, uint32_t arg, const struct iovec *iov,
		       int niov, struct gm__emu_hdr *rh, int *rfds, unsigned maxfds,
		       unsigned *nrfds);
/* -ECONNRESET if the hub has hung up on @c, else 0 (no message sent). */
int gm__ec_alive(struct econn *c);
/* A call with @len bytes of payload whose reply is a status (and *rh). */
int gm__ec_call(struct econn *c, uint32_t type, uint32_t arg, const void *p, size_t len,
		struct gm__emu_hdr *rh);

static inline const uint8_t *gm__ec_payload(const struct econn *c)
{
	return c->buf + sizeof(struct gm__emu_hdr);
}

/* ---- the world (client.c) and what client-dom.c keeps in it ---- */

/* One of a domain's RAM objects, as this world has it. */
struct emu_ram {
	uint32_t id;
	uint32_t pages;
	int fd, ro_fd;  /* read-write; read-only (for read-only maps) */
	uint8_t *base;  /* the whole of it, read-write, for grant copy; lazily */
};

/* One life of a domain, as this world sees it. */
struct emu_dom {
	struct emu_dom *next;
	gm_domid id;
	uint64_t instance;
	struct gm__emu_dom_shm *shm; /* its shared page */
	size_t size;
	unsigned refs;               /* the world's list holds one while listed */
	struct emu_ram **rams;       /* got so far */
	unsigned nrams, crams;
};

struct emu_world {
	char path[108];
	gm_domid domid;
	uint64_t ram_size;
	struct econn dom;         /* keeps the domain alive; DOM_*, INFO */
	pthread_mutex_t ram_lock; /* protects every ram_* field below */
	int ram_fd;
	uint8_t *ram;
	uint32_t ram_pages, ram_free;
	uint8_t *ram_state;       /* per page: 0 free, 1 shared, 2 quarantined */
	pthread_mutex_t dlock;    /* protects doms (and their refs and rams) */
	struct emu_dom *doms;
};

/* ---- client-dom.c ---- */

/*
 * gm__emu_dom_get - domain @id (GM_DOMID_SELF: the world's own) with its
 * shared page, asking the hub the first time (and again once the hub has
 * let that life of the domain go).  Returns 0 with a reference in *out
 * (gm__emu_dom_put), -ESRCH for a domain the hub does not know, or the
 * error of talking to it.  Thread-safe.
 */
int gm__emu_dom_get(struct emu_world *w, gm_domid id, struct emu_dom **out);
void gm__emu_dom_put(struct emu_world *w, struct emu_dom *d);
/*
 * gm__emu_dom_ram - RAM object @id of @d (asking the hub the first time),
 * with its whole read-write mapping if @base.  The object lives as long as
 * @d.  Returns 0, -ENOENT (gone: its grants are revoked), -ESRCH, -ENOMEM
 * or the error of talking to the hub.  Thread-safe.
 */
int gm__emu_dom_ram(struct emu_world *w, struct emu_dom *d, uint32_t id, bool base,
		    struct emu_ram **out);
/* Drop the domains that are gone, or going and unused (a process that
 * talks to the hub calls this now and then).  Thread-safe. */
void gm__emu_dom_sweep(struct emu_world *w);
/* Drop every domain (the world closes). */
void gm__emu_doms_free(struct emu_world *w);

/* ---- the ops: client-gnttab.c, client-evtchn.c, client-xs.c ---- */

int gm__emu_tab_open(void *world, void **out);
void gm__emu_tab_close(void *h);
int gm__emu_tab_set_max(void *h, uint32_t count);
void *gm__emu_tab_map(void *h, uint32_t count, gm_domid domid, const gm_gref *refs, int prot,
		      int *err);
int gm__emu_tab_unmap(void *h, void *addr, uint32_t count);
int gm__emu_tab_copy(void *h, uint32_t count, struct gm_copy_seg *segs);
int gm__emu_shr_open(void *world, void **out);
void gm__emu_shr_close(void *h);
void *gm__emu_shr_share(void *h, gm_domid domid, uint32_t count, gm_gref *refs, int writable,
			int *err);
int gm__emu_shr_end_access(void *h, gm_gref ref);
int gm__emu_shr_unshare(void *h, void *addr, uint32_t count);

int gm__emu_evt_open(void *world, void **out);
void gm__emu_evt_close(void *h);
int gm__emu_evt_fd(void *h);
int gm__emu_evt_bind_inter(void *h, gm_domid remote, gm_port rport);
int gm__emu_evt_bind_unbound(void *h, gm_domid remote);
int gm__emu_evt_unbind(void *h, gm_port port);
int gm__emu_evt_notify(void *h, gm_port port);
int gm__emu_evt_pending(void *h);
int gm__emu_evt_unmask(void *h, gm_port port);

int gm__emu_xs_open(void *world, void **out);
void gm__emu_xs_close(void *h);
int gm__emu_xs_fd(void *h);
int gm__emu_xs_read(void *h, gm_xs_tx tx, const char *path, char **value, size_t *len);
int gm__emu_xs_write(void *h, gm_xs_tx tx, const char *path, const void *value, size_t len);
int gm__emu_xs_directory(void *h, gm_xs_tx tx, const char *path, char ***names);
int gm__emu_xs_rm(void *h, gm_xs_tx tx, const char *path);
int gm__emu_xs_mkdir(void *h, gm_xs_tx tx, const char *path);
int gm__emu_xs_set_perms(void *h, gm_xs_tx tx, const char *path, const struct gm_xs_perm *p,
			 unsigned n);
int gm__emu_xs_watch(void *h, const char *path, const char *token);
int gm__emu_xs_unwatch(void *h, const char *path, const char *token);
int gm__emu_xs_read_watch(void *h, char **path, char **token);
int gm__emu_xs_tx_start(void *h, gm_xs_tx *tx);
int gm__emu_xs_tx_end(void *h, gm_xs_tx tx, int abort_);
int gm__emu_xs_domain_path(void *h, gm_domid domid, char **path);

/* Shared by the eventfd-carrying handles (evtchn, xs). */
int gm__emu_evfd_conn_open(struct emu_world *w, uint32_t kind, struct econn *c, int *evfd);
void gm__emu_evfd_drain(int fd);
void gm__emu_evfd_kick(int fd);

#endif /* GM_BACKENDS_EMU_CLIENT_H */
