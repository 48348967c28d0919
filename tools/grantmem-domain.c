/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem-domain - an emulated test domain for manual testing.
 *
 *   grantmem-domain --socket PATH --domid N [--ram BYTES] [--pages N]
 *                   [--to DOMID] [--ro]
 *
 * A testing aid (built, not installed).
 *
 * Joins the emulated Xen at PATH as domain N, shares N pages (default 1)
 * with domain --to (default 0), read-only with --ro, fills page i with the
 * byte 'A' + i, allocates an unbound event channel for that domain and
 * publishes under /local/domain/<N>/data/grantmem-domain/:
 *   refs           the grant refs, space-separated
 *   event-channel  the port
 *   pages          how many pages
 * Then it waits: every event that arrives is printed with the first bytes
 * of page 0 and echoed back with a notify.  SIGINT/SIGTERM end it (exit 0);
 * so does the hub going away (exit 1, with a message).  Exit status 2 for
 * a usage error.
 */
#include "config.h"

#include "args.h"

#include <grantmem/grantmem.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
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

#define MAX_PAGES 4096

static const struct tool_opt opts[] = {
	{"socket", 's', "PATH", "the emulated Xen's hub to join (required)"},
	{"domid", 'd', "N", "this domain's id (required)"},
	{"ram", 'm', "BYTES", "the domain's memory, with k, m or g (default 16m)"},
	{"pages", 'p', "N", "pages to share (1 to 4096; default 1)"},
	{"to", 't', "DOMID", "the domain they are shared with (default 0)"},
	{"ro", 'r', NULL, "share them read-only"},
	{NULL, 0, NULL, NULL},
};

static struct tool T = {
	.name = "grantmem-domain",
	.synopsis = "grantmem-domain --socket PATH --domid N [--ram BYTES] [--pages N]"
		    " [--to DOMID] [--ro]",
	.about = "An emulated test domain: shares pages filled with 'A' + page number and an\n"
		 "event channel, publishes them under /local/domain/N/data/grantmem-domain/ and\n"
		 "echoes every event, until SIGINT or SIGTERM (exit 0) or the hub goes away\n"
		 "(exit 1).  A testing aid.",
	.opts = opts,
};

/* Errors that say the hub is gone: the connection broke. */
static bool hub_gone(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ESHUTDOWN;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	unsigned long long ram = 16ull << 20;
	long domid = -1;
	unsigned pages = 1, to = 0;
	int c, r, ro = 0, port, err = 0, rc = 1;
	bool gone = false;
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

	while ((c = tool_next(&T, argc, argv)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'd': domid = (long)tool_num(&T, optarg, 0, GM_DOMID_MAX); break;
		case 'm': ram = tool_size(&T, optarg, GM_PAGE_SIZE, 1ull << 40); break;
		case 'p': pages = (unsigned)tool_num(&T, optarg, 1, MAX_PAGES); break;
		case 't': to = (unsigned)tool_num(&T, optarg, 0, GM_DOMID_MAX); break;
		case 'r': ro = 1; break;
		}
	}
	if (optind != argc)
		tool_usage_error(&T, "unexpected argument \"%s\"", argv[optind]);
	if (!sock || domid < 0)
		tool_usage_error(&T, "--%s is required", !sock ? "socket" : "domid");
	if (snprintf(spec, sizeof(spec), "emu:%s,domid=%ld,ram=%llu", sock, domid, ram) >=
	    (int)sizeof(spec))
		tool_usage_error(&T, "--socket: the path is too long");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((r = gm_xen_open(spec, &x)) < 0 || (r = gm_gntshr_open(x, &shr)) < 0 ||
	    (r = gm_evtchn_open(x, &ev)) < 0 || (r = gm_xs_open(x, &xs)) < 0) {
		fprintf(stderr, "grantmem-domain: cannot join the hub at %s as domain %ld: %s\n",
			sock, domid, gm_strerror(r));
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
	if (port < 0 || (r = publish(xs, (unsigned)domid, refs, pages, port)) < 0) {
		fprintf(stderr, "grantmem-domain: %s\n", gm_strerror(port < 0 ? port : r));
		goto out;
	}
	printf("domain %ld: %u page(s) %s for dom %u, refs from %u, port %d\n", domid, pages,
	       ro ? "read-only" : "read-write", to, refs[0], port);
	fflush(stdout);
	while (!stop) {
		struct pollfd pf = {.fd = gm_evtchn_fd(ev), .events = POLLIN};
		int got;

		/* no event for 200 ms: ask anyway, which tells whether the hub is there */
		if (poll(&pf, 1, 200) < 0)
			continue;
		/* one port: acked once per wakeup, so a peer that notifies without
		 * pause cannot keep us in here */
		got = gm_evtchn_pending(ev);
		if (hub_gone(got)) {
			fprintf(stderr, "grantmem-domain: the hub at %s went away: %s\n", sock,
				gm_strerror(got));
			gone = true;
			goto out;
		}
		if (got >= 0) {
			printf("event on port %d; page 0 starts \"%.16s\"; echoing\n", got, p);
			fflush(stdout);
			gm_evtchn_unmask(ev, (gm_port)got);
			gm_evtchn_notify(ev, (gm_port)got);
		}
	}
	rc = 0;
out:
	if (p) {
		/* (without the hub there is no grant table to end access in) */
		for (unsigned i = 0; !gone && i < pages; i++)
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
