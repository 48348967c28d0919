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

#include "args.h"

#include <grantmem/grantmem.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct tool_opt opts[] = {
	{"xen", 'x', "SPEC", "the Xen world (gm_xen_open: \"real\", \"emu:SOCKET\");\n"
			     "default $GRANTMEM_XEN, else real Xen"},
	{"backend-domid", 'b', "B", "the backend's domain id (required)"},
	{"frontend-domid", 'f', "F", "the frontend's domain id (required)"},
	{"devid", 'd', "N", "the device number (default 0)"},
	{"type", 't', "T", "the device type (add, remove; default " GM_VDEV_TYPE_DEFAULT ");\n"
			   "1 to 32 characters of a-z, 0-9, '-' and '_'"},
	{NULL, 0, NULL, NULL},
};

static struct tool T = {
	.name = "grantmem-vdev",
	.synopsis = "grantmem-vdev add|remove|xl [--xen SPEC] --backend-domid B\n"
		    "              --frontend-domid F [--devid N] [--type T]",
	.about = "commands:\n"
		 "  add     create the backend and frontend directories with their permissions\n"
		 "  remove  remove them (the backend releases the device)\n"
		 "  xl      show what xl wrote for a `virtio = [...]` device\n"
		 "exit status: 0 done, 1 failed, 2 usage error",
	.opts = opts,
};

int main(int argc, char **argv)
{
	static const char *const cmds[] = {"add", "remove", "xl", NULL};
	const char *spec = NULL, *type = NULL, *cmd;
	long be = -1, fe = -1, devid = 0;
	gm_xen *x = NULL;
	gm_xs *xs = NULL;
	int c, r;

	/* "emu:" worlds (--xen emu:...) come from libgrantmem-emu */
	gm_emu_register();

	while ((c = tool_next(&T, argc, argv)) != -1) {
		switch (c) {
		case 'x':
			spec = optarg;
			break;
		case 'b':
			be = (long)tool_num(&T, optarg, 0, GM_DOMID_MAX);
			break;
		case 'f':
			fe = (long)tool_num(&T, optarg, 0, GM_DOMID_MAX);
			break;
		case 'd':
			devid = (long)tool_num(&T, optarg, 0, INT32_MAX);
			break;
		case 't':
			type = tool_vdev_type(&T, optarg);
			break;
		}
	}
	if (optind == argc)
		tool_usage_error(&T, "no command (add, remove or xl)");
	if (optind + 1 != argc)
		tool_usage_error(&T, "one command only, not \"%s\"", argv[optind + 1]);
	cmd = argv[optind];
	for (c = 0; cmds[c] && strcmp(cmd, cmds[c]); c++)
		;
	if (!cmds[c])
		tool_usage_error(&T, "unknown command \"%s\" (add, remove or xl)", cmd);
	if (be < 0 || fe < 0)
		tool_usage_error(&T, "--%s is required", be < 0 ? "backend-domid" : "frontend-domid");
	if (be == fe)
		tool_usage_error(&T, "--backend-domid and --frontend-domid are both %ld: a device "
			       "joins two domains", be);
	if (type && !strcmp(cmd, "xl"))
		tool_usage_error(&T, "--type: xl devices are always of type virtio");
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
	} else {
		struct gm_xl_virtio v = {.size = sizeof(v)};
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
	}
	if (r < 0)
		fprintf(stderr, "grantmem-vdev %s: %s\n", cmd, gm_strerror(r));
	gm_xs_close(xs);
	gm_xen_close(x);
	return r < 0 ? 1 : 0;
}
