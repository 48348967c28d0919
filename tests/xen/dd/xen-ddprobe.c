// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * xen-ddprobe - what a domain may do to another domain's memory without its
 * grants, asked of Xen directly (libxenforeignmemory, libxengnttab,
 * libxenctrl; no grantmem code).  The driver-domain scenario of
 * `make check-xen` runs it in the driver domain, where every attempt must be
 * refused, and in dom0, where the same calls must work: so a refusal in the
 * driver domain is Xen's doing, not a broken probe.
 *
 *   xen-ddprobe --domid D --frame F --gref R
 *
 * D: the target domain; F: a frame of D (for a PV domain, its machine frame,
 * e.g. /local/domain/D/store/ring-ref); R: a grant reference of D that is not
 * granted to the caller (the domain builder grants ref 1, D's xenstore
 * ring, to dom0).  One line per attempt:
 *
 *   ddprobe foreign-map: mapped|refused errno=N (text)
 *   ddprobe grant-map: mapped|refused errno=N (text)
 *   ddprobe domain-list: listed N|refused errno=N (text)
 *
 * "unavailable" instead of refused means the interface could not even be
 * opened (no driver): that proves nothing and the scenario fails on it.
 * Exit status 0 when every attempt ran, 2 for a usage error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>

static void refused(const char *what, int err)
{
	printf("ddprobe %s: refused errno=%d (%s)\n", what, err, strerror(err));
}

static void unavailable(const char *what, int err)
{
	printf("ddprobe %s: unavailable errno=%d (%s)\n", what, err, strerror(err));
}

/* Map frame @frame of domain @domid read-only: a privileged domain may. */
static void foreign_map(uint32_t domid, xen_pfn_t frame)
{
	xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
	int err = 0;
	void *p;

	if (!fm) {
		unavailable("foreign-map", errno);
		return;
	}
	errno = 0;
	p = xenforeignmemory_map(fm, domid, PROT_READ, 1, &frame, &err);
	if (p && !err) {
		volatile const unsigned char *b = p;

		printf("ddprobe foreign-map: mapped (first byte 0x%02x)\n", b[0]);
		xenforeignmemory_unmap(fm, p, 1);
	} else {
		refused("foreign-map", err ? (err < 0 ? -err : err) : errno);
		if (p)
			xenforeignmemory_unmap(fm, p, 1);
	}
	xenforeignmemory_close(fm);
}

/* Map grant @ref of domain @domid: only its grantee may. */
static void grant_map(uint32_t domid, uint32_t ref)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	void *p;

	if (!gt) {
		unavailable("grant-map", errno);
		return;
	}
	errno = 0;
	p = xengnttab_map_grant_ref(gt, domid, ref, PROT_READ);
	if (p) {
		printf("ddprobe grant-map: mapped\n");
		xengnttab_unmap(gt, p, 1);
	} else {
		refused("grant-map", errno);
	}
	xengnttab_close(gt);
}

/* List the domains, as xl list does: a privileged (sysctl) call. */
static void domain_list(void)
{
	xc_interface *xch = xc_interface_open(NULL, NULL, 0);
	xc_domaininfo_t info[64];
	int n;

	if (!xch) {
		unavailable("domain-list", errno);
		return;
	}
	errno = 0;
	n = xc_domain_getinfolist(xch, 0, 64, info);
	if (n >= 0)
		printf("ddprobe domain-list: listed %d\n", n);
	else
		refused("domain-list", errno);
	xc_interface_close(xch);
}

static unsigned long long num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "xen-ddprobe: bad number \"%s\"\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"domid", required_argument, NULL, 'd'},
		{"frame", required_argument, NULL, 'f'},
		{"gref", required_argument, NULL, 'g'},
		{NULL, 0, NULL, 0},
	};
	unsigned long long domid = ~0ull, frame = ~0ull, gref = ~0ull;
	int c;

	while ((c = getopt_long(argc, argv, "d:f:g:", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			domid = num(optarg);
			break;
		case 'f':
			frame = num(optarg);
			break;
		case 'g':
			gref = num(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || domid >= DOMID_FIRST_RESERVED || frame == ~0ull || gref > UINT32_MAX)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	foreign_map((uint32_t)domid, (xen_pfn_t)frame);
	grant_map((uint32_t)domid, (uint32_t)gref);
	domain_list();
	return 0;
usage:
	fprintf(stderr, "usage: xen-ddprobe --domid D --frame F --gref R\n");
	return 2;
}
