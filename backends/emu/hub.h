/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated Xen's hub as the rest of the library sees it: one entry
 * point that serves until told to stop (control.c runs it).  Its state and
 * the files that share it are in hub-internal.h.
 */
#ifndef GM_BACKENDS_EMU_HUB_H
#define GM_BACKENDS_EMU_HUB_H

/*
 * gm__emu_hub_main - the hub: listen at @path, write an int 0 to @ready_fd
 * (if >= 0) once listening, serve until SIGTERM/SIGINT/SIGHUP (taken from a
 * signalfd; the caller's thread has them blocked on return) or a SHUTDOWN
 * request.  Only a stale socket at @path is replaced.  Returns 0, or -errno
 * if it could not start: -EINVAL (NULL, empty or too long a path),
 * -ENOTSOCK (something else than a socket is there: left alone),
 * -EADDRINUSE (a hub listens there), the errno of socket/bind/listen.
 */
int gm__emu_hub_main(const char *path, int ready_fd);

#endif /* GM_BACKENDS_EMU_HUB_H */
