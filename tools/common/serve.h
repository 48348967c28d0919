/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * serve.h - what every backend tool on the backend loop does around it:
 * stop signals as a descriptor, and one run of the vdev transport.
 */
#ifndef GM_TOOLS_SERVE_H
#define GM_TOOLS_SERVE_H

#include <grantmem/grantmem.h>

#include <stdbool.h>

/*
 * SIGINT and SIGTERM blocked in every thread (call before starting any)
 * and delivered through the returned signalfd, the loop's stop descriptor;
 * SIGPIPE ignored.  Returns the descriptor, or -1 with "NAME: signalfd: ..."
 * printed.
 */
int tool_signals_fd(const char *name);

/*
 * Serve @dev over the vdev transport of world @x with @cfg until @stop_fd
 * is readable or xenstore goes away.  @banner (this domain's id is
 * prepended: "NAME: domain N BANNER") is printed once the backend is up.
 * The grant cache's statistics at the end land in @st.  Returns 0 after a
 * stop or a failed run (said on stderr: the frontends were let go and the
 * statistics hold), 1 when xenstore went away (said on stderr), -1 when the
 * backend did not start (said on stderr).
 */
int tool_serve_vdev(const char *name, gm_xen *x, gm_dev *dev,
		    const struct gm_vdev_backend_config *cfg, int stop_fd, const char *banner,
		    struct gm_grant_stats *st);

/*
 * SIGUSR1 asks for the grant cache's counters while tool_serve_vdev runs:
 * tool_stats_on_usr1 installs the handler (0, or a negative errno), and
 * tool_stats_asked, polled from the device's tick, fills @st once per
 * signal (true) while a backend is serving.
 */
int tool_stats_on_usr1(void);
bool tool_stats_asked(struct gm_grant_stats *st);

#endif
