/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Emulated Xen: what lib/xen.c and the emulation's two halves share.
 *
 * lib/xen.c's gm_xen_open() turns "emu:<rest>" into gm__emu_open("<rest>").
 */
#ifndef GM_BACKENDS_EMU_H
#define GM_BACKENDS_EMU_H

#include "internal.h"
#include "xen-internal.h"

#include <grantmem/emu.h>

#include <sys/types.h>
#include <sys/uio.h>

#include "emu-proto.h"

/*
 * gm__emu_open (declared in lib/xen-internal.h) opens the emulated world
 * described by @spec, the part of "emu:<spec>" after the colon:
 * "<socket path>[,domid=N][,ram=BYTES]".  It connects to the hub and joins
 * domain N.  Returns 0, -EINVAL (bad spec), -ENOENT/-ECONNREFUSED (no hub),
 * -EEXIST (domid taken by another process), -EBUSY (domid still dying),
 * -ENOMEM.  The world is freed by gm_xen_close() through ops->world_close.
 */

/* The ops of the emulated world (emu-client.c). */
extern const struct gm_xen_ops gm__emu_ops;

/*
 * Message transport shared by hub and client.  gm__emu_send sends hdr +
 * payload (@iov, @niov) with @nfds fds; gm__emu_recv receives one message
 * into @buf (@cap bytes, header included) and up to @maxfds fds (*nfds out;
 * extra fds are closed).  Both return 0 or -errno; recv gives -ECONNRESET
 * at end of stream and -EPROTO for a truncated/short message.
 */
int gm__emu_send(int fd, const struct gm__emu_hdr *hdr, const struct iovec *iov, int niov,
		 const int *fds, unsigned nfds, int flags);
int gm__emu_recv(int fd, void *buf, size_t cap, int *fds, unsigned maxfds, unsigned *nfds,
		 int flags);

/* Connect to a hub socket and say HELLO; returns the fd or -errno. */
int gm__emu_connect(const char *path, uint32_t kind, gm_domid domid, const int *fds,
		    unsigned nfds, uint64_t ram_size);

/*
 * gm__emu_hub_main - the hub: listen at @path, write an int 0 to @ready_fd
 * (if >= 0) once listening, serve until SIGTERM/SIGINT/SIGHUP (taken from a
 * signalfd; the caller's thread has them blocked on return) or a SHUTDOWN
 * request.  Returns 0, or -errno if it could not start (emu-hub.c).
 */
int gm__emu_hub_main(const char *path, int ready_fd);

#endif /* GM_BACKENDS_EMU_H */
