/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem-xen-emu - run the emulated Xen's hub in the foreground.
 *
 *   grantmem-xen-emu [-v] [--ready-fd N] SOCKET   serve until SIGTERM/SIGINT
 *   grantmem-xen-emu --stop SOCKET                 ask a running hub to exit
 *
 * Processes then join with gm_xen_open("emu:SOCKET[,domid=N][,ram=BYTES]")
 * (or GRANTMEM_XEN=emu:SOCKET,...).  --ready-fd N: write an int 0 (4 bytes)
 * to descriptor N once the hub listens.  Exit status 0 after a clean stop.
 */
#include "config.h"

#include <grantmem/grantmem.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	fprintf(stderr, "usage: grantmem-xen-emu [-v] [--ready-fd N] SOCKET\n"
			"       grantmem-xen-emu --stop SOCKET\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ready-fd", required_argument, NULL, 'r'},
		{"stop", no_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, r, ready = -1, stop = 0;

	while ((c = getopt_long(argc, argv, "r:svh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			ready = atoi(optarg);
			break;
		case 's':
			stop = 1;
			break;
		case 'v':
			gm_set_log(NULL, NULL, GM_LOG_DEBUG);
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind + 1 != argc) {
		usage();
		return 2;
	}
	if (stop)
		r = gm_emu_hub_shutdown(argv[optind]);
	else
		r = gm_emu_hub_run(argv[optind], ready);
	if (r < 0) {
		fprintf(stderr, "grantmem-xen-emu: %s: %s\n", argv[optind], gm_strerror(r));
		return 1;
	}
	return 0;
}
