/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: the emulated Xen ("emulated world").
 *
 * A hub process runs the xenstore (a tree with watches, transactions and
 * permissions) and the domains' lives, and hands out what the processes
 * share: each domain's grant table (v1 entries with the busy bits that make
 * ending access fail while mapped) and event channels live in a page of
 * shared memory.  Every process that opens the world
 * "<socket path>[,domid=N][,ram=BYTES]" with gm_emu_open(), or
 * "emu:<socket path>..." with gm_xen_open() (world.h), joins as domain N
 * (default 0, the backend domain dom0).
 * A guest's RAM is a sealed memfd it registers with the hub; a backend that
 * maps a grant gets the granted frames mapped from that memfd at an address
 * of its own, so it sees the guest's bytes exactly as through gntdev.
 *
 * Grants, maps, unmaps, grant copies, ends of access, notifies, unmasks and
 * pending queries send no message to the hub: a process gets a domain's
 * shared page and RAM memfds from the hub once, the first time it uses the
 * domain, and then follows Xen's protocol with atomic operations on the
 * shared entries, as Xen itself does: the mapper sets the busy bits with a
 * compare-and-swap after checking permit, grantee and read-only, the
 * granter ends access with a compare-and-swap that fails while they are set.
 * Binding and closing event channels, xenstore and introspection are
 * requests to the hub.  gm_evtchn_pending() returns the delivered ports of
 * the handle in port order, starting after the last one it returned (a
 * fair set, where Linux keeps a ring in delivery order).  A gnttab handle
 * maps at most 1048576 pages at once (-ENOSPC beyond, as its own budget,
 * gm_gnttab_set_max_grants(), gives).
 *
 *   domid=N    0..GM_DOMID_MAX (32751).  A domain other than 0 belongs to one
 *              process at a time (-EEXIST for another one); dom0 is shared.
 *   ram=BYTES  the size of this process's RAM for gm_gntshr_share() (suffix
 *              k, m or g allowed; default 64m); it is a sparse memfd.
 *
 * A domain other than 0 lives while its process keeps any handle open on the
 * hub (the world itself holds one); when the last one closes (or the process
 * dies) the hub revokes its grants (entries still mapped by a backend stay
 * until that backend unmaps, as on Xen), closes its event channels (their
 * peers become unbound), drops its watches and transactions, removes
 * /local/domain/<id> and fires "@releaseDomain"; the domain stays dying
 * until nobody maps its grants any more.  A backend that dies loses its
 * mappings: every gnttab handle records what it maps in memory it shares
 * with the hub, which clears the busy bits a dead backend held.
 *
 * Error codes follow the table in xen.h; see each call there.  Beyond it:
 * the hub unreachable gives -ENOENT/-ECONNREFUSED at open and -ECONNRESET
 * afterwards (also from gm_evtchn_pending() with no port pending, though it
 * sends no message); event channel calls on ports not bound through the handle give
 * -ENOTCONN (as Linux's /dev/xen/evtchn); gm_gnttab_copy statuses are Xen's:
 * GNTST_bad_gntref for a ref beyond the table, GNTST_general_error for a ref
 * not granted to the caller or a write into a read-only grant,
 * GNTST_bad_domain for an unknown domain.
 *
 * Closing a handle is synchronous: when gm_*_close() returns, what it held
 * is released (mappings, ports, watches, grants), so a query made next sees
 * the cleanup.  A peer that dies is noticed asynchronously, and so is the
 * last unmap of a dying domain (it happens in the mapper): the hub looks
 * when asked, and every half second meanwhile.
 *
 * Like Xen, binding an interdomain event channel conservatively raises an
 * event on the new local port: expect one spurious event after
 * gm_evtchn_bind_interdomain().
 *
 * It is a test world, not a sandbox.  The protocol keeps honest processes
 * to Xen's rules, the kernel does not: every process of the world can read
 * and write the shared grant tables and event channels of the domains it
 * has used (its own and its peers'), and a process that maps a grant holds
 * a descriptor for the granter's whole RAM (read-only mappings come from a
 * read-only one).  A misbehaving process can corrupt other domains' tables
 * and pages; the hub reads the shared memory only to count and clean up,
 * and survives whatever it finds there.
 */
#ifndef GRANTMEM_EMU_H
#define GRANTMEM_EMU_H

#include <grantmem/common.h>
#include <grantmem/world.h>
#include <grantmem/xen.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * gm_emu_open - open the emulated world described by @spec:
 * "<socket path>[,domid=N][,ram=BYTES]" (see above).  It connects to the
 * hub and joins domain N.  libgrantmem-emu also registers this opener as
 * the world "emu" when it is loaded, so gm_xen_open("emu:<spec>") does the
 * same.
 * @out: the world, NULL on failure; free it with gm_xen_close().
 * Returns 0, -EINVAL (bad spec, logged at warning), -ENOENT/-ECONNREFUSED
 * (no hub), -EEXIST (domid taken by another process), -EBUSY (domid still
 * dying), -ENOMEM.  Thread-safe.
 */
GM_API int gm_emu_open(const char *spec, gm_xen **out);

/*
 * gm_emu_register - register gm_emu_open() as the world "emu" (world.h),
 * so that gm_xen_open("emu:<spec>") opens it.  The library does this
 * itself when it is loaded, but a program linked with --as-needed (the
 * default of Debian's toolchain) that calls nothing else of
 * libgrantmem-emu does not load it: such a program calls this once.
 * Returns 0 or gm_xen_world_register()'s error.  Thread-safe; calling it
 * again is harmless.  Never logs.
 */
GM_API int gm_emu_register(void);

/*
 * gm_emu_hub_spawn - fork a hub listening at @socket_path and wait until it
 * accepts connections.
 * @socket_path: a UNIX socket path (at most 107 bytes) that does not exist
 *               yet, or a stale socket nobody listens on (it is replaced).
 *               Nothing but a socket is ever removed: a file, directory or
 *               symbolic link at @socket_path is left untouched.
 * @pid:         out: the hub's process id, for gm_emu_hub_stop().
 * Returns 0, -EINVAL (path empty, too long or NULL), -ENOTSOCK (something
 * other than a socket is at @socket_path), -EADDRINUSE (a hub already
 * listens there), or the errno of fork/socket/bind/listen.
 * The hub closes every inherited file descriptor and gets SIGTERM when the
 * calling *thread* exits (PR_SET_PDEATHSIG), so a crashed test leaks no
 * hub; call it from a thread that outlives the hub's use (usually main).
 * Thread-safe.  Logs failures of the hub itself to stderr.
 */
GM_API int gm_emu_hub_spawn(const char *socket_path, pid_t *pid);

/*
 * gm_emu_hub_stop - SIGTERM the hub @pid from gm_emu_hub_spawn() and reap it.
 * Returns 0 when it exited cleanly, -ECHILD if @pid is not our child,
 * -EIO if it died of a signal other than SIGTERM or exited non-zero.
 * The hub removes its socket file on the way out.  Thread-safe.  No logging.
 */
GM_API int gm_emu_hub_stop(pid_t pid);

/*
 * gm_emu_hub_run - run a hub in the calling process until SIGTERM, SIGINT
 * or a gm_emu_hub_shutdown() request (for tools/grantmem-xen-emu).
 * @ready_fd: if >= 0, an int 0 (4 bytes) is written to it once the hub
 *            listens; it is not closed.
 * @socket_path is taken as by gm_emu_hub_spawn(): a stale socket there is
 * replaced, anything else that is not a socket is left alone (-ENOTSOCK).
 * Blocks SIGTERM, SIGINT, SIGHUP and ignores SIGPIPE in the calling thread
 * (it waits for them with a signalfd).  Removes its socket file at the end
 * (if it is still the one it made).
 * Returns 0 after a clean stop or a negative errno if it could not start:
 * gm_emu_hub_spawn()'s, but for fork's.
 * Not thread-safe with itself on one path.  Logs through gm_set_log's sink.
 */
GM_API int gm_emu_hub_run(const char *socket_path, int ready_fd);

/*
 * gm_emu_hub_shutdown - ask the hub at @socket_path to exit.  It closes
 * every connection (peers see -ECONNRESET) and removes its socket.
 * Returns 0, or the errno of connecting.  Thread-safe.  No logging.
 */
GM_API int gm_emu_hub_shutdown(const char *socket_path);

/* What the hub knows about one domain (gm_emu_domain_info).  Versioned
 * (common.h): set size to sizeof, or 0, before the call. */
struct gm_emu_domain_info {
	size_t size;
	unsigned exists;      /* 1 if the domain is known to the hub */
	unsigned dying;       /* its processes are gone, grants still mapped */
	unsigned connections; /* open handles (connections) running in it */
	unsigned grants;      /* grant entries in use, incl. revoked-but-mapped */
	unsigned mapped;      /* entries with busy bits (mapped at least once) */
	unsigned maps;        /* sum of the map counts of those entries */
	unsigned ports;       /* event-channel ports in use */
	unsigned watches;     /* xenstore watches of its connections */
};

/*
 * gm_emu_domain_info - ask the hub of the emulated world @x about @domid.
 * An unknown domain gives 0 with info->exists == 0.
 * Returns 0, -EINVAL (@x is not an emulated world, NULL args), or
 * -ECONNRESET (hub gone).  Thread-safe.  No logging.
 */
GM_API int gm_emu_domain_info(gm_xen *x, gm_domid domid, struct gm_emu_domain_info *info);

/*
 * gm_emu_mapped_count - how many grant entries of domain @granter are
 * mapped right now (busy bits set, in its shared table) by anyone; tests use
 * it to prove that nothing stays mapped.  0 for an unknown domain.  The hub
 * sees a dead peer asynchronously: poll until the count drops.
 * Returns 0 or a negative errno as gm_emu_domain_info().  Thread-safe.
 */
GM_API int gm_emu_mapped_count(gm_xen *x, gm_domid granter, unsigned *n);

/* Facts of one emulated world, taken from its spec (gm_emu_world_info).
 * Versioned (common.h): set size to sizeof, or 0, before the call. */
struct gm_emu_world_info {
	size_t size;
	char socket_path[108];
	gm_domid domid;
	uint64_t ram_size;     /* bytes available to gm_gntshr_share */
	uint64_t ram_free;     /* bytes not shared right now */
};

/*
 * gm_emu_world_info - the facts of the emulated world @x.
 * Returns 0 or -EINVAL if @x is not an emulated world.  Thread-safe.  No
 * logging, no hub call.
 */
GM_API int gm_emu_world_info(gm_xen *x, struct gm_emu_world_info *info);

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_EMU_H */
