// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * grantmem-vdev - the toolstack's part of the vdev transport, for the
 * emulated Xen and for test setups without xl.
 *
 *   grantmem-vdev add    [--xen SPEC] --backend-domid B --frontend-domid F
 *                        [--devid N] [--type T]
 *   grantmem-vdev remove [--xen SPEC] --backend-domid B --frontend-domid F
 *                        [--devid N] [--type T]
 *   grantmem-vdev xl     [--xen SPEC] --backend-domid B --frontend-domid F
 *                        [--devid N]
 *
 * add:    create the backend and frontend directories with their
 *         permissions, as a toolstack does (needs dom0's rights);
 * remove: remove them (the backend releases the device);
 * xl:     show what xl wrote for a `virtio = [...]` device in
 *         backend/virtio/<F>/<N> (gm_vdev_parse_xl_virtio).
 *
 * Exit status 0 on success, 1 on failure, 2 for a usage error.
 */
#include "config.h"

#include <grantmem/grantmem.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: grantmem-vdev add|remove|xl [--xen SPEC] --backend-domid B\n"
		   "                     --frontend-domid F [--devid N] [--type T]\n");
}

static long num(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < 0 || v > max) {
		fprintf(stderr, "grantmem-vdev: bad number \"%s\"\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"xen", required_argument, NULL, 'x'},
		{"backend-domid", required_argument, NULL, 'b'},
		{"frontend-domid", required_argument, NULL, 'f'},
		{"devid", required_argument, NULL, 'd'},
		{"type", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *spec = NULL, *type = NULL, *cmd;
	long be = -1, fe = -1, devid = 0;
	gm_xen *x = NULL;
	gm_xs *xs = NULL;
	int c, r;

	/* "emu:" worlds (--xen emu:...) come from libgrantmem-emu */
	gm_emu_register();

	while ((c = getopt_long(argc, argv, "x:b:f:d:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'x':
			spec = optarg;
			break;
		case 'b':
			be = num(optarg, 0x7fef);
			break;
		case 'f':
			fe = num(optarg, 0x7fef);
			break;
		case 'd':
			devid = num(optarg, INT32_MAX);
			break;
		case 't':
			type = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc || be < 0 || fe < 0) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if ((r = gm_xen_open(spec, &x)) < 0 || (r = gm_xs_open(x, &xs)) < 0) {
		fprintf(stderr, "grantmem-vdev: cannot open xenstore: %s\n", gm_strerror(r));
		gm_xen_close(x);
		return 1;
	}
	if (!strcmp(cmd, "add")) {
		r = gm_vdev_toolstack_add(xs, type, (gm_domid)be, (gm_domid)fe, (unsigned)devid);
	} else if (!strcmp(cmd, "remove")) {
		r = gm_vdev_toolstack_remove(xs, type, (gm_domid)be, (gm_domid)fe, (unsigned)devid);
	} else if (!strcmp(cmd, "xl")) {
		struct gm_xl_virtio v;
		char dir[128];

		snprintf(dir, sizeof(dir), "/local/domain/%ld/backend/virtio/%ld/%ld", be, fe, devid);
		r = gm_vdev_parse_xl_virtio(xs, dir, &v);
		if (r == 0)
			printf("%s: frontend-id=%u frontend=%s online=%u state=%s type=%s "
			       "device-id=%u transport=%s grant_usage=%u base=%s0x%" PRIx64
			       " irq=%s%u\n",
			       dir, v.frontend_id, v.frontend, v.online, gm_vdev_state_name(v.state),
			       v.type, v.device_id, v.transport, v.grant_usage,
			       v.has_base ? "" : "(none)", v.base, v.has_irq ? "" : "(none)", v.irq);
	} else {
		usage(stderr);
		r = -EINVAL;
	}
	if (r < 0 && r != -EINVAL)
		fprintf(stderr, "grantmem-vdev %s: %s\n", cmd, gm_strerror(r));
	else if (r == -EINVAL && strcmp(cmd, "add") && strcmp(cmd, "remove") && strcmp(cmd, "xl"))
		r = -EINVAL;
	else if (r == -EINVAL)
		fprintf(stderr, "grantmem-vdev %s: %s\n", cmd, gm_strerror(r));
	gm_xs_close(xs);
	gm_xen_close(x);
	return r < 0 ? 1 : 0;
}
