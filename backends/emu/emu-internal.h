/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Emulated Xen: what the emulation's two halves (hub and client) share.
 */
#ifndef GM_EMU_INTERNAL_H
#define GM_EMU_INTERNAL_H

#include "base/base.h"

#include <grantmem/emu.h>

#include <sys/types.h>
#include <sys/uio.h>

#include "proto.h"

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

#endif /* GM_EMU_INTERNAL_H */
