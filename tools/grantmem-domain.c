/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem-domain - an emulated test domain for manual testing.
 *
 *   grantmem-domain --socket PATH --domid N [--ram BYTES] [--pages N]
 *                   [--to DOMID] [--ro]
 *
 * Joins the emulated Xen at PATH as domain N, shares N pages (default 1)
 * with domain --to (default 0), read-only with --ro, fills page i with the
 * byte 'A' + i, allocates an unbound event channel for that domain and
 * publishes under /local/domain/<N>/data/grantmem-domain/:
 *   refs           the grant refs, space-separated
 *   event-channel  the port
 *   pages          how many pages
 * Then it waits: every event that arrives is printed with the first bytes
 * of page 0 and echoed back with a notify.  SIGINT/SIGTERM end it.
 */
#include "config.h"

#include <grantmem/grantmem.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: grantmem-domain --socket PATH --domid N [--ram BYTES] [--pages N]"
			" [--to DOMID] [--ro]\n");
}

static int publish(gm_xs *xs, unsigned domid, const gm_gref *refs, unsigned n, int port)
{
	char path[128], buf[1024];
	size_t off = 0;
	int r;

	for (unsigned i = 0; i < n && off < sizeof(buf) - 16; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%u", i ? " " : "", refs[i]);
	snprintf(path, sizeof(path), "/local/domain/%u/data/grantmem-domain/refs", domid);
	if ((r = gm_xs_write_str(xs, 0, path, buf)) < 0)
		return r;
	snprintf(path, sizeof(path), "/local/domain/%u/data/grantmem-domain/pages", domid);
	snprintf(buf, sizeof(buf), "%u", n);
	if ((r = gm_xs_write_str(xs, 0, path, buf)) < 0)
		return r;
	snprintf(path, sizeof(path), "/local/domain/%u/data/grantmem-domain/event-channel", domid);
	snprintf(buf, sizeof(buf), "%d", port);
	return gm_xs_write_str(xs, 0, path, buf);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'}, {"domid", required_argument, NULL, 'd'},
		{"ram", required_argument, NULL, 'm'},    {"pages", required_argument, NULL, 'p'},
		{"to", required_argument, NULL, 't'},     {"ro", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *ram = "16m";
	unsigned domid = 1, pages = 1, to = 0;
	int c, r, ro = 0, port, err = 0, rc = 1;
	char spec[512];
	gm_gref *refs = NULL;
	unsigned char *p = NULL;
	gm_xen *x = NULL;
	gm_gntshr *shr = NULL;
	gm_evtchn *ev = NULL;
	gm_xs *xs = NULL;
	struct sigaction sa = {.sa_handler = on_signal};

	/* "emu:" worlds (--xen emu:...) come from libgrantmem-emu */
	gm_emu_register();

	while ((c = getopt_long(argc, argv, "s:d:m:p:t:rh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'd': domid = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'm': ram = optarg; break;
		case 'p': pages = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': to = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': ro = 1; break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (!sock || optind != argc || !pages || pages > 4096 || to > 0x7fef) {
		usage();
		return 2;
	}
	snprintf(spec, sizeof(spec), "emu:%s,domid=%u,ram=%s", sock, domid, ram);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((r = gm_xen_open(spec, &x)) < 0 || (r = gm_gntshr_open(x, &shr)) < 0 ||
	    (r = gm_evtchn_open(x, &ev)) < 0 || (r = gm_xs_open(x, &xs)) < 0) {
		fprintf(stderr, "grantmem-domain: %s: %s\n", spec, gm_strerror(r));
		goto out;
	}
	refs = calloc(pages, sizeof(*refs));
	if (!refs || !(p = gm_gntshr_share(shr, (gm_domid)to, pages, refs, !ro, &err))) {
		fprintf(stderr, "grantmem-domain: share: %s\n", gm_strerror(refs ? err : -ENOMEM));
		goto out;
	}
	for (unsigned i = 0; i < pages; i++)
		memset(p + (size_t)i * GM_PAGE_SIZE, 'A' + (int)(i % 26), GM_PAGE_SIZE);
	port = gm_evtchn_bind_unbound(ev, (gm_domid)to);
	if (port < 0 || (r = publish(xs, domid, refs, pages, port)) < 0) {
		fprintf(stderr, "grantmem-domain: %s\n", gm_strerror(port < 0 ? port : r));
		goto out;
	}
	printf("domain %u: %u page(s) %s for dom %u, refs from %u, port %d\n", domid, pages,
	       ro ? "read-only" : "read-write", to, refs[0], port);
	fflush(stdout);
	while (!stop) {
		struct pollfd pf = {.fd = gm_evtchn_fd(ev), .events = POLLIN};
		int got;

		if (poll(&pf, 1, 200) <= 0)
			continue;
		/* one port: acked once per wakeup, so a peer that notifies without
		 * pause cannot keep us in here */
		if ((got = gm_evtchn_pending(ev)) >= 0) {
			printf("event on port %d; page 0 starts \"%.16s\"; echoing\n", got, p);
			fflush(stdout);
			gm_evtchn_unmask(ev, (gm_port)got);
			gm_evtchn_notify(ev, (gm_port)got);
		}
	}
	rc = 0;
out:
	if (p) {
		for (unsigned i = 0; i < pages; i++)
			if (gm_gntshr_end_access(shr, refs[i]) == -EBUSY)
				fprintf(stderr, "grantmem-domain: ref %u still mapped\n", refs[i]);
		gm_gntshr_unshare(shr, p, pages);
	}
	free(refs);
	gm_xs_close(xs);
	gm_evtchn_close(ev);
	gm_gntshr_close(shr);
	gm_xen_close(x);
	return rc;
}
