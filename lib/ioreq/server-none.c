/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ioreq server in a build without the Xen device-model libraries: the
 * API stays (a program links the same way either way) and says -ENOTSUP.
 * The register file (ioreq-mmio.c) is always built.
 */
#include "config.h"

#include <grantmem/ioreq.h>

#include "base/base.h"

#include <errno.h>
#include <string.h>

int gm_ioreq_server_new(gm_xen *x, const struct gm_ioreq_server_config *cfg,
			const struct gm_ioreq_dev_config *dcfg, const struct gm_ioreq_dev_ops *ops,
			void *opaque, gm_ioreq_server **out)
{
	(void)x;
	(void)cfg;
	(void)dcfg;
	(void)ops;
	(void)opaque;
	if (out)
		*out = NULL;
	return -ENOTSUP;
}

void gm_ioreq_server_free(gm_ioreq_server *s)
{
	(void)s;
}

int gm_ioreq_server_fd(gm_ioreq_server *s)
{
	(void)s;
	return -EINVAL;
}

int gm_ioreq_server_process(gm_ioreq_server *s)
{
	(void)s;
	return -EINVAL;
}

int gm_ioreq_server_run(gm_ioreq_server *s, int stop_fd, int tick_ms)
{
	(void)s;
	(void)stop_fd;
	(void)tick_ms;
	return -EINVAL;
}

int gm_ioreq_server_guest_alive(gm_ioreq_server *s)
{
	(void)s;
	return -EINVAL;
}

gm_ioreq_dev *gm_ioreq_server_dev(gm_ioreq_server *s)
{
	(void)s;
	return NULL;
}

gm_grant_cache *gm_ioreq_server_cache(gm_ioreq_server *s)
{
	(void)s;
	return NULL;
}

void gm_ioreq_server_stats(gm_ioreq_server *s, struct gm_ioreq_server_stats *st)
{
	struct gm_ioreq_server_stats z = {0};

	(void)s;
	if (st)
		gm__abi_out(st, &z, sizeof(z), GM__ABI_V1(struct gm_ioreq_server_stats, late));
}
