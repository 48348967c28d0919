// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * toy-device - the smallest device model: a mailbox and a data buffer that
 * a guest grants, an event channel, and a device that sums the buffer.
 *
 *   toy-device        (starts an emulated Xen, plays guest and device, prints OK)
 *
 * What it shows, on the device's side (device_serve): how guest memory is
 * reached through grants with no grant call in sight -- a grant region in a
 * space, addresses made with GM_GRANT_ADDR; the request's fields read with
 * one gm_span (one grant operation for all of them, and a snapshot the
 * guest cannot change between check and use); the buffer reached with
 * gm_map and released with gm_unmap; the answer written back with one span
 * more; and hostile fields answered with an error status, never trusted.
 * The guest's side (a few lines with gm_gntshr and gm_evtchn) is there only
 * to drive it.
 *
 * The mailbox (little-endian, in the guest's first granted page):
 *   0: u32 seq     the guest bumps it to post a request
 *   4: u32 done    the device copies seq here when it has answered
 *   8: u32 gref    the page that holds the data
 *  12: u16 off, 14: u16 len    the bytes of it to sum
 *  16: u32 result  the sum, or 0xffffffff for a request it refused
 */
#include <grantmem/grantmem.h>

#include <endian.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GUEST 5
#define REFUSED 0xffffffffu

/* ---- the device ---- */
struct device {
	gm_mem *m;      /* the guest's grants, at GM_GRANT_BASE */
	gm_evtchn *ev;
	gm_port port;
	gm_gref mailbox;
};

/* Answer the request in the mailbox, if there is a new one. */
static int device_serve(struct device *d)
{
	uint32_t seq, done, gref, sum = REFUSED;
	uint16_t off, len;
	gm_span s;
	int err = gm_span_begin(&s, d->m, GM_GRANT_ADDR(d->mailbox, 0), 20, GM_PROT_RW);

	if (err < 0)
		return err;
	gm_span_read_le32(&s, 0, &seq);
	gm_span_read_le32(&s, 4, &done);
	gm_span_read_le32(&s, 8, &gref);
	gm_span_read_le16(&s, 12, &off);
	gm_span_read_le16(&s, 14, &len);
	if (seq == done)
		return gm_span_end(&s); /* nothing new */
	if (len && (uint32_t)off + len <= GM_PAGE_SIZE) {
		size_t l = len;
		unsigned char *p =
			gm_map(d->m, GM_GRANT_ADDR(gref, off), &l, GM_PROT_READ | GM_MAP_WHOLE, &err);
		if (p) { /* not a grant of this guest: err says why, we refuse */
			sum = 0;
			for (size_t i = 0; i < l; i++)
				sum += p[i];
			gm_unmap(d->m, GM_GRANT_ADDR(gref, off), p, l, GM_PROT_READ, 0);
		}
	}
	gm_span_write_le32(&s, 16, sum);
	gm_span_write_le32(&s, 4, seq);
	err = gm_span_end(&s);
	return err < 0 ? err : gm_evtchn_notify(d->ev, d->port);
}

/* Wait for a kick on @ev, acknowledge it and unmask the port. */
static int wait_kick(gm_evtchn *ev)
{
	struct pollfd pfd = {.fd = gm_evtchn_fd(ev), .events = POLLIN};

	if (poll(&pfd, 1, 5000) != 1)
		return -1;
	int port = gm_evtchn_pending(ev);
	return port < 0 ? port : gm_evtchn_unmask(ev, (gm_port)port);
}

/* ---- a guest to drive it ---- */
static unsigned char *mbox;
static uint32_t seq;

/* Post a request, let the device run, return its answer. */
static uint32_t request(struct device *d, gm_evtchn *gev, gm_port gport, uint32_t gref,
			uint16_t off, uint16_t len)
{
	uint32_t v32 = htole32(gref), done, result;
	uint16_t v16 = htole16(off);

	memcpy(mbox + 8, &v32, 4);
	memcpy(mbox + 12, &v16, 2);
	v16 = htole16(len);
	memcpy(mbox + 14, &v16, 2);
	v32 = htole32(++seq);
	memcpy(mbox, &v32, 4);
	if (gm_evtchn_notify(gev, gport) < 0 || wait_kick(d->ev) < 0 || device_serve(d) < 0 ||
	    wait_kick(gev) < 0)
		return 0xdead;
	memcpy(&done, mbox + 4, 4);
	memcpy(&result, mbox + 16, 4);
	return le32toh(done) == seq ? le32toh(result) : 0xdead;
}

int main(void)
{
	char dir[] = "/tmp/gm-toy-XXXXXX", sock[64], spec[96];
	gm_xen *gx = NULL, *bx = NULL;
	gm_gntshr *shr = NULL;
	gm_evtchn *gev = NULL;
	gm_gnttab *gt = NULL;
	gm_grant_cache *cache = NULL;
	gm_region *grants = NULL;
	gm_space *space = NULL;
	struct device d = {0};
	gm_gref ref[2];
	pid_t hub = -1;
	int gport = -1, rc = 1;

	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/hub", dir);
	snprintf(spec, sizeof(spec), "%s,domid=%d", sock, GUEST);
	/* The guest: a mailbox page and a data page, an unbound port. */
	if (gm_emu_hub_spawn(sock, &hub) < 0 || gm_emu_open(spec, &gx) < 0 ||
	    gm_gntshr_open(gx, &shr) < 0 || gm_evtchn_open(gx, &gev) < 0 ||
	    !(mbox = gm_gntshr_share(shr, 0, 2, ref, 1, NULL)) ||
	    (gport = gm_evtchn_bind_unbound(gev, 0)) < 0)
		goto out;
	for (unsigned i = 0; i < GM_PAGE_SIZE; i++)
		mbox[GM_PAGE_SIZE + i] = (unsigned char)i;
	/* The device (dom0): grants in a space, the port bound. */
	snprintf(spec, sizeof(spec), "%s,domid=0", sock);
	if (gm_emu_open(spec, &bx) < 0 || gm_gnttab_open(bx, &gt) < 0 ||
	    gm_grant_cache_new(gt, NULL, &cache) < 0 ||
	    gm_grant_region_new(cache, GUEST, GM_GRANT_TRANSIENT, &grants) < 0 ||
	    gm_space_new(&space) < 0 || gm_space_add(space, GM_GRANT_BASE, grants) < 0 ||
	    gm_evtchn_open(bx, &d.ev) < 0)
		goto out;
	int port = gm_evtchn_bind_interdomain(d.ev, GUEST, (gm_port)gport);
	if (port < 0)
		goto out;
	d = (struct device){.m = gm_space_mem(space), .ev = d.ev, .port = (gm_port)port,
			    .mailbox = ref[0]};

	uint32_t want = 0;
	for (unsigned i = 100; i < 300; i++)
		want += i & 0xff;
	if (request(&d, gev, (gm_port)gport, ref[1], 100, 200) != want ||
	    request(&d, gev, (gm_port)gport, ref[1], 4000, 200) != REFUSED || /* past the page */
	    request(&d, gev, (gm_port)gport, ref[1] + 100, 0, 16) != REFUSED || /* no such grant */
	    request(&d, gev, (gm_port)gport, ref[1], 0, 4096) != 4096 / 256 * (255 * 128))
		goto out;
	rc = 0;
out:
	gm_evtchn_close(d.ev);
	gm_space_free(space);
	gm_region_free(grants);
	gm_grant_cache_free(cache);
	gm_gnttab_close(gt);
	gm_xen_close(bx);
	gm_evtchn_close(gev);
	if (mbox) {
		gm_gntshr_end_access(shr, ref[0]);
		gm_gntshr_end_access(shr, ref[1]);
		gm_gntshr_unshare(shr, mbox, 2);
	}
	gm_gntshr_close(shr);
	gm_xen_close(gx);
	if (hub > 0 && gm_emu_hub_stop(hub) < 0)
		rc = 1;
	rmdir(dir);
	puts(rc ? "FAILED" : "OK");
	return rc;
}
