/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem-xen-emu - run the emulated Xen's hub in the foreground.
 *
 *   grantmem-xen-emu [-v] [--ready-fd N] SOCKET   serve until SIGTERM/SIGINT
 *   grantmem-xen-emu --stop SOCKET                 ask a running hub to exit
 *   grantmem-xen-emu --domain-info DOMID SOCKET    what the hub holds for DOMID
 *
 * Processes then join with gm_xen_open("emu:SOCKET[,domid=N][,ram=BYTES]")
 * (or GRANTMEM_XEN=emu:SOCKET,...).  --ready-fd N: write an int 0 (4 bytes)
 * to descriptor N once the hub listens.  Exit status 0 after a clean stop.
 * SOCKET must not exist, or be a stale socket (it is replaced); anything
 * else there (a file, a directory) is left alone and the hub does not start
 * (exit status 1).
 *
 * --domain-info prints one line (gm_emu_domain_info, asked as dom0):
 *   domain N: exists=0|1 dying=0|1 connections=N grants=N mapped=N maps=N ports=N watches=N
 * where mapped counts the domain's grant entries whose busy bits are set:
 * pages some backend still maps.  Tests use it to prove that nothing stays
 * mapped.
 */
#include "config.h"

#include "args.h"

#include <grantmem/grantmem.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Print what the hub at @path holds for domain @domid. */
static int domain_info(const char *path, gm_domid domid)
{
	struct gm_emu_domain_info di = {.size = sizeof(di)};
	char spec[160];
	gm_xen *x;
	int r;

	if (snprintf(spec, sizeof(spec), "emu:%s", path) >= (int)sizeof(spec))
		return -ENAMETOOLONG;
	if ((r = gm_xen_open(spec, &x)) < 0)
		return r;
	r = gm_emu_domain_info(x, domid, &di);
	gm_xen_close(x);
	if (r < 0)
		return r;
	printf("domain %u: exists=%u dying=%u connections=%u grants=%u mapped=%u maps=%u "
	       "ports=%u watches=%u\n",
	       domid, di.exists, di.dying, di.connections, di.grants, di.mapped, di.maps, di.ports,
	       di.watches);
	return 0;
}

static const struct tool_opt opts[] = {
	{"ready-fd", 'r', "N", "write an int 0 (4 bytes) to descriptor N once the hub listens"},
	{"stop", 's', NULL, "ask the hub at SOCKET to exit"},
	{"domain-info", 'i', "DOMID", "print what the hub at SOCKET holds for domain DOMID"},
	{"verbose", 'v', NULL, "log at debug level"},
	{NULL, 0, NULL, NULL},
};

static struct tool T = {
	.name = "grantmem-xen-emu",
	.synopsis = "grantmem-xen-emu [-v] [--ready-fd N] SOCKET\n"
		    "grantmem-xen-emu --stop SOCKET\n"
		    "grantmem-xen-emu --domain-info DOMID SOCKET",
	.about = "Runs the emulated Xen's hub in the foreground until SIGTERM or SIGINT;\n"
		 "processes join with gm_xen_open(\"emu:SOCKET[,domid=N][,ram=BYTES]\").\n"
		 "exit status: 0 after a clean stop, 1 on failure, 2 usage error",
	.opts = opts,
};

int main(int argc, char **argv)
{
	int c, r, ready = -1, stop = 0;
	long info = -1;

	while ((c = tool_next(&T, argc, argv)) != -1) {
		switch (c) {
		case 'r':
			ready = (int)tool_num(&T, optarg, 0, INT32_MAX);
			break;
		case 's':
			stop = 1;
			break;
		case 'i':
			info = (long)tool_num(&T, optarg, 0, GM_DOMID_MAX);
			break;
		case 'v':
			gm_set_log(NULL, NULL, GM_LOG_DEBUG);
			break;
		}
	}
	if (optind == argc)
		tool_usage_error(&T, "no SOCKET");
	if (optind + 1 != argc)
		tool_usage_error(&T, "one SOCKET only, not \"%s\"", argv[optind + 1]);
	if (stop && info >= 0)
		tool_usage_error(&T, "--stop and --domain-info exclude each other");
	if (ready >= 0 && (stop || info >= 0))
		tool_usage_error(&T, "--ready-fd is for running a hub");
	if (ready >= 0 && fcntl(ready, F_GETFD) < 0)
		tool_usage_error(&T, "--ready-fd: descriptor %d is not open", ready);
	/* --stop and --domain-info talk to a hub; without them we are one */
	bool client = stop || info >= 0;

	if (stop)
		r = gm_emu_hub_shutdown(argv[optind]);
	else if (info >= 0)
		r = domain_info(argv[optind], (gm_domid)info);
	else
		r = gm_emu_hub_run(argv[optind], ready);
	if (r == -ENOTSOCK && !client) {
		fprintf(stderr,
			"grantmem-xen-emu: %s exists and is not a socket: not replacing it "
			"(give the path of a socket to create)\n",
			argv[optind]);
		return 1;
	}
	if ((r == -ENOENT || r == -ECONNREFUSED) && client) {
		fprintf(stderr,
			"grantmem-xen-emu: no hub is listening at %s (%s); start one with "
			"grantmem-xen-emu %s\n",
			argv[optind], gm_strerror(r), argv[optind]);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "grantmem-xen-emu: %s: %s\n", argv[optind], gm_strerror(r));
		return 1;
	}
	return 0;
}
