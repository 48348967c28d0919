/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated Xen's message framing, used by both ends of a connection:
 * the hub (hub.c) and the world's handles (client.c).  See proto.h for what
 * the messages say.
 */
#ifndef GM_BACKENDS_EMU_WIRE_H
#define GM_BACKENDS_EMU_WIRE_H

#include "base/base.h"

#include <grantmem/xen.h>

#include <stdint.h>
#include <sys/uio.h>

#include "proto.h"

/*
 * gm__emu_send sends hdr + payload (@iov, @niov, at most 7) with @nfds fds
 * (at most GM__EMU_MAX_FDS); gm__emu_recv receives one message into @buf
 * (@cap bytes, header included) and up to @maxfds fds (*nfds out; extra fds
 * are closed, and so are all of them on error).  @flags go to
 * sendmsg/recvmsg (MSG_DONTWAIT).  Both return 0 or -errno; recv gives
 * -ECONNRESET at end of stream and -EPROTO for a truncated or short message.
 */
int gm__emu_send(int fd, const struct gm__emu_hdr *hdr, const struct iovec *iov, int niov,
		 const int *fds, unsigned nfds, int flags);
int gm__emu_recv(int fd, void *buf, size_t cap, int *fds, unsigned maxfds, unsigned *nfds,
		 int flags);

/*
 * gm__emu_connect - connect to the hub at @path and say HELLO as a @kind
 * connection running in @domid, passing @nfds fds (and @ram_size for a
 * GNTSHR connection's RAM).  *@rep (if not NULL) gets the hub's answer,
 * *@rfd (if not NULL) the fd it sent along, or -1.  Returns the connected
 * fd, or -EINVAL (path too long), the errno of socket/connect, or the hub's
 * refusal (-errno).
 */
int gm__emu_connect(const char *path, uint32_t kind, gm_domid domid, const int *fds,
		    unsigned nfds, uint64_t ram_size, struct gm__emu_hello_rep *rep, int *rfd);

#endif /* GM_BACKENDS_EMU_WIRE_H */
