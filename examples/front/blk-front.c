// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * blk-front - the guest's side: a virtio-blk frontend over the vdev
 * transport, for examples/blk's backend (or grantmem-blk).
 *
 *   blk-front XEN-SPEC [DEVID]    e.g.  blk-front emu:/tmp/hub,domid=5
 *
 * What it shows: what a guest does so that a grantmem backend can serve
 * it, in the order the handshake wants it (docs/vdev-protocol.md): wait
 * for the backend's InitWait and read what it offers; grant a page for a
 * split ring and a page for requests (the backend can reach nothing
 * else); allocate an event channel; publish the queue in one transaction;
 * connect; then write a sector, read it back, ask for the device's id --
 * each a three-descriptor chain (header, data, status) made available,
 * kicked, and waited for on the used ring; finally close and end access
 * to the grants, which succeeds only because the backend unmapped them.
 * The two granted pages are wrapped in a RAM region so the ring is
 * written with grantmem's little-endian and release/acquire accessors.
 * Prints OK and exits 0 when every answer was right.
 */
#include <grantmem/grantmem.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QSIZE 8
#define PAGE GM_PAGE_SIZE
/* Page 0, the ring: descriptors, available ring, used ring. */
#define DESC 0
#define AVAIL 128
#define USED 256
/* Page 1, the request: header, status byte, data. */
#define HDR PAGE
#define STATUS (PAGE + 16)
#define DATA (PAGE + 512)
#define DATA_LEN 1024

static gm_mem *g;     /* the two granted pages, by offset */
static gm_gref ref[2];
static gm_evtchn *ev;
static gm_port port;
static uint16_t avail_idx;

static uint64_t ga(uint64_t off) /* the address the backend sees for @off */
{
	return GM_GRANT_ADDR(ref[off / PAGE], off % PAGE);
}

static void desc(unsigned i, uint64_t off, uint32_t len, uint16_t flags)
{
	gm_write_le64(g, DESC + 16 * i, ga(off));
	gm_write_le32(g, DESC + 16 * i + 8, len);
	gm_write_le16(g, DESC + 16 * i + 12, flags | (i < 2 ? GM_VRING_DESC_F_NEXT : 0));
	gm_write_le16(g, DESC + 16 * i + 14, (uint16_t)(i + 1));
}

/* One request: header, @len bytes of data (@in: the device writes them), status. */
static int request(uint32_t type, uint64_t sector, uint32_t len, bool in)
{
	uint16_t used;
	unsigned char st = 0xff;

	gm_write_le32(g, HDR, type);
	gm_write_le32(g, HDR + 4, 0);
	gm_write_le64(g, HDR + 8, sector);
	gm_write(g, STATUS, &st, 1);
	desc(0, HDR, 16, 0);
	desc(1, DATA, len, in ? GM_VRING_DESC_F_WRITE : 0);
	desc(2, STATUS, 1, GM_VRING_DESC_F_WRITE);
	gm_write_le16(g, AVAIL + 4 + 2 * (avail_idx % QSIZE), 0); /* the chain's head */
	gm_store_release16(g, AVAIL + 2, ++avail_idx);            /* then publish it */
	if (gm_evtchn_notify(ev, port) < 0)
		return -1;
	for (int waits = 0; waits < 50; waits++) {
		gm_load_acquire16(g, USED + 2, &used);
		if (used == avail_idx) {
			gm_read(g, STATUS, &st, 1);
			return st;
		}
		struct pollfd pfd = {.fd = gm_evtchn_fd(ev), .events = POLLIN};
		if (poll(&pfd, 1, 100) == 1) {
			int p = gm_evtchn_pending(ev);
			if (p >= 0)
				gm_evtchn_unmask(ev, (gm_port)p);
		}
	}
	return -1;
}

/* Wait up to 10 s for @dir's state to reach @want. */
static int wait_state(gm_xs *xs, const char *dir, enum gm_vdev_state want)
{
	enum gm_vdev_state s = GM_VDEV_STATE_UNKNOWN;

	for (int i = 0; i < 1000 && (gm_vdev_read_state(xs, dir, &s) < 0 || s != want); i++)
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	return s == want ? 0 : -1;
}

int main(int argc, char **argv)
{
	char fe[64], *be = NULL, *beid = NULL;
	unsigned char buf[DATA_LEN];
	struct gm_vdev_back_info bi = {.size = sizeof(bi)};
	gm_xen *x = NULL;
	gm_xs *xs = NULL;
	gm_gntshr *shr = NULL;
	gm_region *pages = NULL;
	void *mem = NULL;
	int rc = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: blk-front XEN-SPEC [DEVID]\n");
		return 2;
	}
	snprintf(fe, sizeof(fe), "device/%s/%s", GM_VDEV_TYPE_DEFAULT, argc > 2 ? argv[2] : "0");
	gm_emu_register();
	if (gm_xen_open(argv[1], &x) < 0 || gm_xs_open(x, &xs) < 0 || gm_gntshr_open(x, &shr) < 0 ||
	    gm_evtchn_open(x, &ev) < 0)
		goto out;
	/* What the backend offers: a block device; its capacity in the config. */
	char path[96];
	snprintf(path, sizeof(path), "%s/backend-id", fe);
	if (gm_xs_read(xs, 0, path, &beid, NULL) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/backend", fe);
	if (gm_xs_read(xs, 0, path, &be, NULL) < 0 || wait_state(xs, be, GM_VDEV_STATE_INITWAIT) ||
	    gm_vdev_read_backend(xs, be, &bi) < 0 || bi.device_id != GM_VIRTIO_BLK_DEVICE_ID ||
	    gm_virtio_blk_get_le(bi.config + GM_VIRTIO_BLK_CFG_CAPACITY, 8) < 16)
		goto out;
	/* Two pages granted to the backend, one queue, one event channel. */
	uint64_t bd;
	int p;
	if (gm_vdev_parse_u64(beid, GM_DOMID_MAX, &bd) < 0 ||
	    !(mem = gm_gntshr_share(shr, (gm_domid)bd, 2, ref, 1, NULL)) ||
	    gm_ram_region_new(mem, 2 * PAGE, GM_PROT_RW, &pages) < 0 ||
	    (p = gm_evtchn_bind_unbound(ev, (gm_domid)bd)) < 0)
		goto out;
	g = gm_region_mem(pages);
	port = (gm_port)p;
	struct gm_vdev_front_info fi = {
		.features = GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1) |
			    GM_VIRTIO_BIT(GM_VIRTIO_F_ACCESS_PLATFORM),
		.num_queues = 1,
		.queues[0] = {.size = QSIZE, .layout = GM_VDEV_SPLIT, .desc = ga(DESC),
			      .driver = ga(AVAIL), .device = ga(USED), .port = port},
	};
	if (gm_vdev_publish_frontend(xs, fe, &fi) < 0 || wait_state(xs, be, GM_VDEV_STATE_CONNECTED) ||
	    gm_vdev_write_state(xs, fe, GM_VDEV_STATE_CONNECTED) < 0)
		goto out;

	/* Write two sectors, read them back, ask for the id. */
	for (unsigned i = 0; i < DATA_LEN; i++)
		buf[i] = (unsigned char)(i * 13 + 1);
	gm_write(g, DATA, buf, DATA_LEN);
	if (request(GM_VIRTIO_BLK_T_OUT, 8, DATA_LEN, false) != GM_VIRTIO_BLK_S_OK)
		goto out;
	memset(buf, 0, sizeof(buf));
	gm_write(g, DATA, buf, DATA_LEN);
	if (request(GM_VIRTIO_BLK_T_IN, 8, DATA_LEN, true) != GM_VIRTIO_BLK_S_OK ||
	    gm_read(g, DATA, buf, DATA_LEN) < 0)
		goto out;
	for (unsigned i = 0; i < DATA_LEN; i++)
		if (buf[i] != (unsigned char)(i * 13 + 1))
			goto out;
	if (request(GM_VIRTIO_BLK_T_GET_ID, 0, GM_VIRTIO_BLK_ID_BYTES, true) != GM_VIRTIO_BLK_S_OK ||
	    gm_read(g, DATA, buf, 11) < 0 || memcmp(buf, "blk-backend", 11) != 0)
		goto out;

	/* Close; once the backend is Closed nothing of ours is mapped. */
	if (gm_vdev_write_state(xs, fe, GM_VDEV_STATE_CLOSING) < 0 ||
	    wait_state(xs, be, GM_VDEV_STATE_CLOSED) || gm_gntshr_end_access(shr, ref[0]) < 0 ||
	    gm_gntshr_end_access(shr, ref[1]) < 0)
		goto out;
	gm_vdev_write_state(xs, fe, GM_VDEV_STATE_CLOSED);
	rc = 0;
out:
	gm_region_free(pages);
	if (mem)
		gm_gntshr_unshare(shr, mem, 2);
	gm_evtchn_close(ev);
	gm_gntshr_close(shr);
	gm_xs_close(xs);
	gm_xen_close(x);
	free(be);
	free(beid);
	puts(rc ? "blk-front: FAILED" : "blk-front: OK");
	return rc;
}
