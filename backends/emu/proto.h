/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Wire protocol between the emulated-Xen hub and its clients.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET, so every message arrives whole.  Every
 * connection is strictly request/reply: the client sends one request and
 * reads one reply; the hub never sends anything unsolicited.  Asynchronous
 * news (an event channel fired, a watch fired) is signalled through an
 * eventfd the client hands over in its HELLO; the client then fetches the
 * news with a request.  That keeps the client free of reader threads and
 * makes the handle's fd (the eventfd) pollable.
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
#define GM__EMU_VERSION 1u
/* Well under the default AF_UNIX send buffer (212992 bytes). */
#define GM__EMU_MSG_MAX (128u * 1024u)
#define GM__EMU_MAX_FDS 16u /* fds in one reply (distinct RAM objects per map) */

/* Per-chunk limits the client splits by (each fits GM__EMU_MSG_MAX). */
#define GM__EMU_MAP_CHUNK 8192u   /* refs per GNT_MAP request */
#define GM__EMU_COPY_DATA 65536u  /* payload bytes per GNT_COPY request/reply */
#define GM__EMU_COPY_SEGS 1024u   /* segments per GNT_COPY request */

/* Xenstore limits, as xenstored's. */
#define GM__EMU_XS_PATH_MAX 3072u
#define GM__EMU_XS_VALUE_MAX 4096u

enum gm__emu_kind {
	GM__EMU_K_CONTROL = 1, /* introspection / shutdown; claims no domain */
	GM__EMU_K_DOMAIN,      /* the world: keeps its domain alive */
	GM__EMU_K_GNTTAB,
	GM__EMU_K_GNTSHR,      /* HELLO carries the RAM memfd */
	GM__EMU_K_EVTCHN,      /* HELLO carries an eventfd */
	GM__EMU_K_XS,          /* HELLO carries an eventfd */
};

enum gm__emu_type {
	GM__EMU_HELLO = 1,
	GM__EMU_SHUTDOWN,
	GM__EMU_INFO,
	GM__EMU_BYE, /* the client closes: the hub cleans up, replies, hangs up */

	GM__EMU_GNT_MAP = 16,
	GM__EMU_GNT_UNMAP,
	GM__EMU_GNT_COPY,
	GM__EMU_SHR_GRANT,
	GM__EMU_SHR_END,

	GM__EMU_EVT_BIND_UNBOUND = 32,
	GM__EMU_EVT_BIND_INTER,
	GM__EMU_EVT_UNBIND,
	GM__EMU_EVT_NOTIFY,
	GM__EMU_EVT_UNMASK,
	GM__EMU_EVT_PENDING,

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

/* HELLO request payload.  Reply: status only. */
struct gm__emu_hello {
	uint32_t magic;
	uint32_t version;
	uint32_t kind;    /* enum gm__emu_kind */
	uint32_t domid;   /* the domain the peer runs in */
	uint64_t ram_size; /* GNTSHR: bytes of the memfd sent along */
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
 * GNT_MAP request: payload gm__emu_map_req + refs[count].  Reply payload:
 * gm__emu_map_rep + gm__emu_frame[count]; fds: nfds RAM objects (read-only
 * fds for read-only maps) indexed by gm__emu_frame.slot.
 */
struct gm__emu_map_req {
	uint32_t domid;
	uint32_t prot;  /* GM_PROT_* */
	uint32_t count;
	uint32_t pad;
};
struct gm__emu_map_rep {
	uint64_t handle; /* pass to GNT_UNMAP */
	uint32_t nfds;
	uint32_t pad;
};
struct gm__emu_frame {
	uint32_t slot; /* index into the fds of the reply */
	uint32_t page; /* page index in that RAM object */
};

/* GNT_UNMAP request payload: one uint64_t handle. */

/*
 * GNT_COPY request: arg = count; payload gm__emu_seg[count] then the bytes
 * of every segment whose source is local (flags lacks SOURCE_GREF), in order.
 * Reply: payload int32_t status[count] then the bytes of every segment whose
 * destination is local and whose status is okay, in order.
 */
struct gm__emu_seg {
	uint32_t flags; /* GM_COPY_SOURCE_GREF / GM_COPY_DEST_GREF */
	uint32_t len;
	uint32_t src_ref, src_off, src_dom;
	uint32_t dst_ref, dst_off, dst_dom;
};

/* SHR_GRANT request: gm__emu_grant_req + frames[count] (uint32_t pages of
 * the connection's RAM).  Reply: refs[count] (uint32_t). */
struct gm__emu_grant_req {
	uint32_t domid;
	uint32_t writable;
	uint32_t count;
	uint32_t pad;
};

/*
 * SHR_END request: arg = 1 to defer busy entries (unshare/close: they are
 * revoked now and freed on their last unmap), 0 for end_access (-EBUSY if
 * any is mapped, nothing changed); payload refs[].  Reply status: the number
 * of deferred entries (or -errno).
 */

/* EVT_*: arg = port (UNBIND/NOTIFY/UNMASK) or remote domid (BIND_UNBOUND);
 * BIND_INTER payload: uint32_t remote, uint32_t remote_port.  Reply status:
 * the port or 0 or -errno.  PENDING reply: status = port or -EAGAIN, arg = 1
 * when more ports are ready. */

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
