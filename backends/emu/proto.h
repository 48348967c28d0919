/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Wire protocol between the emulated-Xen hub and its clients.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET, so every message arrives whole.  Every
 * connection is strictly request/reply: the client sends one request and
 * reads one reply; the hub never sends anything unsolicited.  Asynchronous
 * news (an event channel fired, a watch fired) is signalled through an
 * eventfd the client hands over in its HELLO; the client then fetches the
 * news with a request (watches) or from shared memory (event channels).
 * That keeps the client free of reader threads and makes the handle's fd
 * (the eventfd) pollable.
 *
 * Grant maps, unmaps, copies, grants, ends of access, notifies, unmasks and
 * pending queries are no messages at all: they work on the domains' shared
 * pages (shm.h), which a client gets once per domain with DOM_OPEN, and on
 * RAM objects it gets once each with DOM_RAM.  The hub binds and closes
 * event channels, runs the xenstore and domains' lives, and cleans up what
 * a connection that goes held.
 *
 * A message is a struct gm__emu_hdr followed by hdr.len payload bytes, at
 * most GM__EMU_MSG_MAX in all.  File descriptors travel as SCM_RIGHTS.
 * Both ends run on one host: fields are native-endian, fixed-width.
 * The hub checks every length and index; a malformed request gets an error
 * reply (-EPROTO / -EINVAL), a connection that breaks the framing is closed.
 */
#ifndef GM_EMU_PROTO_H
#define GM_EMU_PROTO_H

#include <stdint.h>

#define GM__EMU_MAGIC 0x676d656du /* "gmem" */
#define GM__EMU_VERSION 2u
/* Well under the default AF_UNIX send buffer (212992 bytes). */
#define GM__EMU_MSG_MAX (128u * 1024u)
#define GM__EMU_MAX_FDS 4u /* fds in one message */
#define GM__EMU_MAPTRACK_MAX (1u << 20) /* pages one gnttab handle may map */

/* Xenstore limits, as xenstored's. */
#define GM__EMU_XS_PATH_MAX 3072u
#define GM__EMU_XS_VALUE_MAX 4096u

enum gm__emu_kind {
	GM__EMU_K_CONTROL = 1, /* introspection / shutdown; claims no domain */
	GM__EMU_K_DOMAIN,      /* the world: keeps its domain alive */
	GM__EMU_K_GNTTAB,      /* HELLO's reply carries the maptrack */
	GM__EMU_K_GNTSHR,      /* HELLO carries the RAM memfd */
	GM__EMU_K_EVTCHN,      /* HELLO carries an eventfd */
	GM__EMU_K_XS,          /* HELLO carries an eventfd */
};

enum gm__emu_type {
	GM__EMU_HELLO = 1,
	GM__EMU_SHUTDOWN,
	GM__EMU_INFO,
	GM__EMU_BYE, /* the client closes: the hub cleans up, replies, hangs up */

	GM__EMU_DOM_OPEN = 16, /* a domain's shared page */
	GM__EMU_DOM_RAM,       /* one of a domain's RAM objects */

	GM__EMU_EVT_BIND_UNBOUND = 32,
	GM__EMU_EVT_BIND_INTER,
	GM__EMU_EVT_UNBIND,
	GM__EMU_EVT_PEER,      /* the eventfd of an event-channel handle */

	GM__EMU_XS_READ = 48,
	GM__EMU_XS_WRITE,
	GM__EMU_XS_DIRECTORY,
	GM__EMU_XS_RM,
	GM__EMU_XS_MKDIR,
	GM__EMU_XS_SET_PERMS,
	GM__EMU_XS_WATCH,
	GM__EMU_XS_UNWATCH,
	GM__EMU_XS_READ_WATCH,
	GM__EMU_XS_TX_START,
	GM__EMU_XS_TX_END,
};

/* Every message starts with this. */
struct gm__emu_hdr {
	uint32_t type;   /* enum gm__emu_type; replies echo it */
	int32_t status;  /* replies: 0, a count, or -errno; requests: 0 */
	uint32_t len;    /* payload bytes after the header */
	uint32_t arg;    /* small per-type argument (see below) */
};

/* HELLO request payload.  Reply: status, payload gm__emu_hello_rep. */
struct gm__emu_hello {
	uint32_t magic;
	uint32_t version;
	uint32_t kind;    /* enum gm__emu_kind */
	uint32_t domid;   /* the domain the peer runs in */
	uint64_t ram_size; /* GNTSHR: bytes of the memfd sent along */
};

/* HELLO reply payload; a GNTTAB reply carries the maptrack's memfd. */
struct gm__emu_hello_rep {
	uint32_t id;      /* the connection's id: grant owner, port owner */
	uint32_t ram;     /* GNTSHR: the RAM object's id in the domain */
	uint32_t mt_cap;  /* GNTTAB: records in the maptrack */
	uint32_t pad;
};

/* INFO: request arg = domid; reply payload: */
struct gm__emu_info {
	uint32_t exists;      /* 1 if the hub knows the domain */
	uint32_t dying;       /* no process left, grants still mapped */
	uint32_t connections; /* open connections that run in it */
	uint32_t grants;      /* grant entries in use (incl. ended-but-mapped) */
	uint32_t mapped;      /* entries with busy bits set (mapped) */
	uint32_t maps;        /* sum of the map counts of its entries */
	uint32_t ports;       /* event channel ports in use */
	uint32_t watches;     /* watches registered by its connections */
};

/*
 * DOM_OPEN: arg = domid (DOMID_SELF allowed).  Reply payload gm__emu_dom;
 * one fd: the domain's shared page (struct gm__emu_dom_shm), read-write.
 * -ESRCH for a domain the hub does not know.
 */
struct gm__emu_dom {
	uint64_t instance;
	uint64_t size;    /* bytes of the shared page's file */
	uint32_t domid;
	uint32_t pad;
};

/*
 * DOM_RAM: payload gm__emu_ram_req.  Reply payload: uint32_t pages; two
 * fds: the RAM memfd read-write and a read-only reopening of it.
 * -ESRCH if that life of the domain is over, -ENOENT if the RAM object is
 * gone (its granting handle closed: its grants are revoked).
 */
struct gm__emu_ram_req {
	uint64_t instance;
	uint32_t domid;
	uint32_t ram;
};

/* EVT_*: arg = port (UNBIND), remote domid (BIND_UNBOUND), or the handle
 * id (PEER: reply fd = that handle's eventfd, -ENOENT if it is gone).
 * BIND_INTER payload: uint32_t remote, uint32_t remote_port.  Reply status:
 * the port or 0 or -errno. */

/*
 * XS_*: request arg = transaction id.  Payload: the path, NUL-terminated,
 * then per type: WRITE the value bytes; SET_PERMS uint32_t n then n
 * gm__emu_xs_perm (path padded to 4 bytes first); WATCH/UNWATCH the token,
 * NUL-terminated.  Replies: READ the value; DIRECTORY the names, each
 * NUL-terminated (status = count); READ_WATCH path\0token\0 (arg = 1 when
 * more are queued); TX_START status = tx id.  TX_END: arg = tx, payload
 * uint32_t abort.
 */
struct gm__emu_xs_perm {
	uint32_t id;
	uint32_t perms;
};

#endif /* GM_EMU_PROTO_H */
