// SPDX-License-Identifier: LGPL-2.1-or-later
#include "config.h"

#include "serve.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/signalfd.h>

/* The cache tool_serve_vdev's backend maps through, while it runs. */
static _Atomic(gm_grant_cache *) serving;
static volatile sig_atomic_t stats_asked;

static void on_usr1(int sig)
{
	(void)sig;
	stats_asked = 1;
}

int tool_stats_on_usr1(void)
{
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR1, &sa, NULL) < 0 ? -errno : 0;
}

bool tool_stats_asked(struct gm_grant_stats *st)
{
	gm_grant_cache *c;

	if (!stats_asked)
		return false;
	stats_asked = 0;
	if (!(c = atomic_load(&serving)))
		return false;
	gm_grant_cache_stats(c, st);
	return true;
}

int tool_signals_fd(const char *name)
{
	sigset_t sigs;
	int sfd;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		fprintf(stderr, "%s: signalfd: %s\n", name, gm_strerror(-errno));
	return sfd;
}

int tool_serve_vdev(const char *name, gm_xen *x, gm_dev *dev,
		    const struct gm_vdev_backend_config *cfg, int stop_fd, const char *banner,
		    struct gm_grant_stats *st)
{
	gm_dev_vdev *v;
	gm_domid self = 0;
	int r, rc = 0;

	if ((r = gm_dev_vdev_new(dev, x, cfg, &v)) < 0) {
		fprintf(stderr, "%s: cannot start the backend: %s\n", name, gm_strerror(r));
		return -1;
	}
	gm_xen_self_domid(x, &self);
	printf("%s: domain %u %s\n", name, self, banner);
	fflush(stdout);
	atomic_store(&serving, gm_vdev_backend_cache(gm_dev_vdev_backend(v)));
	r = gm_dev_vdev_run(v, stop_fd);
	atomic_store(&serving, NULL);
	if (r == -ENOTCONN) {
		/* the library said so once; freeing the backend leaves xenstore alone */
		fprintf(stderr, "%s: xenstore went away; stopping\n", name);
		rc = 1;
	} else if (r < 0) {
		fprintf(stderr, "%s: %s\n", name, gm_strerror(r));
	}
	gm_grant_cache_stats(gm_vdev_backend_cache(gm_dev_vdev_backend(v)), st);
	gm_dev_vdev_free(v);
	return rc;
}
