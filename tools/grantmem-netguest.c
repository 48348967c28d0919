// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * grantmem-netguest - a test domain's virtio-net driver and a small IPv4
 * stack, over the vdev transport (or the RAM transport), for tests, the
 * demo and the benchmark.
 *
 *   grantmem-netguest [--xen SPEC] [--devid N] [--type T] --ip A.B.C.D
 *                     --peer A.B.C.D [--ping N] [--udp N] [--udp-port P]
 *                     [--tcp BYTES] [--tcp-port P] [--tso] [--pairs N]
 *                     [--queue-size N] [--packed] [--no-persistent]
 *                     [--no-offloads] [--no-mrg-rxbuf] [--hostile]
 *                     [--readonly-rx N] [--link-cycle]
 *                     [--timeout S] [--quiet]
 *   grantmem-netguest ... --blast tx|rx --frame BYTES --seconds S
 *   grantmem-netguest --transport ram --socket PATH [the options above]
 *
 * The driver: it finds its device in xenstore as grantmem-guest does,
 * negotiates MAC, MTU, STATUS, MRG_RXBUF, CSUM, GUEST_CSUM, HOST_TSO4 and
 * GUEST_TSO4 (unless --no-offloads), CTRL_VQ and MQ (--pairs), lays every
 * queue's rings in granted pages and keeps each receive queue full of
 * one-page buffers.  Buffers are granted FRESH per packet and their grants
 * ended when the packet completes (so a backend that keeps a mapping past
 * completion is caught), or, when the backend offers feature-persistent
 * (and --no-persistent is not given), taken from a pool granted once.
 *
 * The stack: Ethernet, ARP (asks and answers), IPv4 (header checksums
 * checked, no fragments), ICMP echo (--ping N requests to the peer, every
 * reply's payload checked), UDP (--udp N datagrams to an echo server on
 * --udp-port, each echo checked) and a TCP client (--tcp BYTES to an echo
 * server on --tcp-port: handshake with MSS, the bytes sent in order within
 * the peer's window, every echoed byte checked against what was sent, FIN
 * both ways).  Segments that are not the next expected one (out of order,
 * duplicates) are refused: dropped, counted, and answered with an ACK of
 * what is expected; a segment of ours the peer has not acknowledged within
 * 300 ms is sent again (go-back-N).  Checksums: sent with NEEDS_CSUM when
 * CSUM was negotiated (the backend's tap completes them), else computed
 * here; received frames marked NEEDS_CSUM are completed here as a NIC
 * would, DATA_VALID ones trusted, others checked.  --tso sends TCP data in
 * 64 KiB TSO frames (gso_type TCPV4) for the tap to segment.
 *
 * The link: with STATUS, the config space's status says whether the
 * backend's link is up; over xenstore the driver watches the backend's
 * config-generation node and reads config again whenever it moves (each
 * change logged, counted in the summary).  A link that is down at connect
 * is no error (a driver waits for it).  --link-cycle, after the traffic:
 * print "link-cycle: up ...", wait for the link to go down, print
 * "link-cycle: down ...", wait for it to come up, print "link-cycle: up
 * again ...", then send the TCP stream again (every byte checked); each
 * wait is bounded by --timeout.
 *
 * --blast tx: send --frame-byte frames (to a MAC nobody has) for --seconds;
 * --blast rx: count the frames that arrive for --seconds.  Both print
 * packets/s and MB/s.
 *
 * --hostile, before the traffic: a transmit frame with a GSO type nobody
 * negotiated, one with its checksum offset outside the frame, a runt and a
 * frame over 64 KiB: the backend must drop them and go on serving.
 *
 * --readonly-rx N: the first N receive buffers of the first receive queue
 * are granted read-only (device-writable descriptors all the same): a
 * backend that copies must drop the packet it meant for each and hand the
 * buffer back unused (0 bytes), counted as rx_unused; any other use of
 * such a buffer is an error.  (A backend that maps them cannot map them
 * and breaks the queue.)
 *
 * At the end, exactly one line:
 *
 *   summary: ping=OK/N udp=OK/N tcp_bytes=B tcp_verified=V refused_segments=R
 *            retransmits=T tcp_MBps=X tx_packets=N rx_packets=N rx_unused=U
 *            errors=E [blast_pps=P blast_MBps=M]
 *
 * Exit status 0 when errors=0 and everything asked for was done, 1
 * otherwise, 2 for usage.
 */
#include "config.h"

#include "args.h"
#include "blk-ram.h"
#include "virtq-driver.h"

#include <grantmem/grantmem.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define HDR GM_VIRTIO_NET_HDR_SIZE
#define PAGE GM_PAGE_SIZE
#define MAXQ (2 * 8 + 1)
#define MAX_PAIRS 8
#define TX_PAGES 17                 /* a 64 KiB TSO frame and the header */
#define TX_SLOTS 64                 /* frames in flight per transmit queue */
#define FRAME_MAX (HDR + 65535 + 18)
#define RAM_BASE 0x40000000ull
#define RTO_S 0.3

/* ---- options --------------------------------------------------------------- */

static struct {
	const char *spec, *type, *socket;
	unsigned devid, pairs, queue_size;
	uint32_t ip, peer;
	unsigned ping, udp, udp_port, tcp_port;
	uint64_t tcp;
	bool tso, packed, no_persistent, no_offloads, no_mrg, hostile, quiet, link_cycle;
	unsigned readonly_rx;       /* receive buffers still to grant read-only */
	int blast;                  /* 0 none, 1 tx, 2 rx */
	unsigned frame;
	double seconds;
	int timeout;
} opt = {.pairs = 1, .queue_size = 256, .udp_port = 7, .tcp_port = 7, .frame = 64,
	 .seconds = 2, .timeout = 20};

static unsigned errors;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	errors++;
	va_start(ap, fmt);
	fputs("grantmem-netguest: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
	va_list ap;

	if (opt.quiet)
		return;
	va_start(ap, fmt);
	fputs("grantmem-netguest: ", stdout);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the device's memory: grants or the RAM transport's memfd ----------------- */

static struct {
	gm_xen *x;
	gm_xs *xs;
	gm_gntshr *shr;
	gm_evtchn *ev;
	gm_domid self, backend;
	char fe_dir[256], be_dir[256], be_state[300];
	struct gm_vdev_back_info bi;
	uint64_t features;
	bool ram, persistent, emulated, mrg, csum, guest_csum, host_tso, mq;
	struct blk_ram_guest rg;
	unsigned char mac[6];
	unsigned mtu, pairs, nq;
	/* the config space's status (VIRTIO_NET_F_STATUS), as last read */
	bool status, link, watching;
	uint32_t cfg_gen;
	unsigned cfg_changes, link_changes;
} G;

/* A run of granted pages (or of the memfd). */
struct buf {
	unsigned char *va;
	gm_gref ref;
	unsigned pages;
	uint64_t gpa;
	bool pooled;
};

static uint64_t buf_addr(const struct buf *b, size_t off)
{
	return G.ram ? b->gpa + off : GM_GRANT_ADDR(b->ref + off / PAGE, off % PAGE);
}

/*
 * Share @pages pages, consecutive grefs (what grant-dma-ops needs).
 * -EAGAIN: the free refs are not consecutive now (others are in flight).
 */
static int buf_share(struct buf *b, unsigned pages, bool writable)
{
	gm_gref refs[TX_PAGES + 64];
	int err = 0;

	b->pages = pages;
	if (G.ram) {
		b->va = blk_ram_guest_alloc(&G.rg, (size_t)pages * PAGE, &b->gpa);
		return b->va ? 0 : -ENOMEM;
	}
	if (pages > TX_PAGES + 64)
		return -E2BIG;
	b->va = gm_gntshr_share(G.shr, G.backend, pages, refs, writable, &err);
	if (!b->va)
		return err;
	for (unsigned i = 1; i < pages; i++)
		if (refs[i] != refs[0] + i) {
			gm_gntshr_unshare(G.shr, b->va, pages);
			b->va = NULL;
			return -EAGAIN;
		}
	b->ref = refs[0];
	return 0;
}

/* End the grants (they must not be mapped any more) and free. */
static void buf_release(struct buf *b)
{
	int bad = 0;

	if (!b->va || G.ram)
		return;
	for (unsigned i = 0; i < b->pages; i++)
		if (gm_gntshr_end_access(G.shr, b->ref + i) < 0)
			bad = 1;
	if (bad)
		fail("the backend still maps a buffer it completed");
	gm_gntshr_unshare(G.shr, b->va, b->pages);
	b->va = NULL;
}

/* ---- queues ------------------------------------------------------------------ */

struct slot {
	struct buf b;
	bool busy;
	bool ro; /* --readonly-rx: granted read-only */
};

struct nq {
	unsigned index, size;
	struct buf desc, avail, used;
	gm_space *sp;
	gm_region *rg[3];
	struct vqd d;
	int port;                   /* event channel */
	int kick_fd, call_fd;       /* RAM transport */
	unsigned nslots;
	struct slot *slots;         /* rx: one per ring entry; tx: TX_SLOTS */
	unsigned rx_pages;
	uint64_t done;
};

static struct nq Q[MAXQ];

static int map_area(struct nq *q, unsigned i, const struct buf *b)
{
	int r = gm_ram_region_new(b->va, (size_t)b->pages * PAGE, GM_PROT_RW, &q->rg[i]);

	return r ? r : gm_space_add(q->sp, buf_addr(b, 0), q->rg[i]);
}

static int pages_of(size_t bytes)
{
	return (int)((bytes + PAGE - 1) / PAGE);
}

static int q_setup(struct nq *q, unsigned index)
{
	struct vqd_config c = {.size = q->size, .packed = opt.packed, .event_idx = true};
	int r;

	q->index = index;
	q->port = -1;
	q->kick_fd = q->call_fd = -1;
	if ((r = buf_share(&q->desc, (unsigned)pages_of(vqd_desc_size(&c)), true)) < 0 ||
	    (r = buf_share(&q->avail, (unsigned)pages_of(vqd_driver_size(&c)), true)) < 0 ||
	    (r = buf_share(&q->used, (unsigned)pages_of(vqd_device_size(&c)), true)) < 0)
		return r;
	if ((r = gm_space_new(&q->sp)) < 0 || (r = map_area(q, 0, &q->desc)) < 0 ||
	    (r = map_area(q, 1, &q->avail)) < 0 || (r = map_area(q, 2, &q->used)) < 0)
		return r;
	c.desc_addr = buf_addr(&q->desc, 0);
	c.driver_addr = buf_addr(&q->avail, 0);
	c.device_addr = buf_addr(&q->used, 0);
	if ((r = vqd_init(&q->d, gm_space_mem(q->sp), &c)) < 0)
		return r;
	if (G.ram) {
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		return q->kick_fd < 0 || q->call_fd < 0 ? -errno : 0;
	}
	q->port = gm_evtchn_bind_unbound(G.ev, G.backend);
	return q->port < 0 ? q->port : 0;
}

static void q_teardown(struct nq *q)
{
	vqd_fini(&q->d);
	gm_space_free(q->sp);
	for (int i = 0; i < 3; i++)
		gm_region_free(q->rg[i]);
	for (unsigned i = 0; q->slots && i < q->nslots; i++)
		buf_release(&q->slots[i].b);
	free(q->slots);
	buf_release(&q->desc);
	buf_release(&q->avail);
	buf_release(&q->used);
	if (q->port >= 0)
		gm_evtchn_unbind(G.ev, (gm_port)q->port);
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	if (q->call_fd >= 0)
		close(q->call_fd);
	memset(q, 0, sizeof(*q));
}

static void q_kick(struct nq *q)
{
	uint64_t one = 1;

	if (vqd_kick_needed(&q->d) == 0)
		return;
	if (G.ram) {
		if (write(q->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			fail("kick: %s", strerror(errno));
	} else {
		gm_evtchn_notify(G.ev, (gm_port)q->port);
	}
}

/* ---- the config space: the link status ----------------------------------------- */

/*
 * Read config-generation, config, and config-generation again until both
 * generations agree (the backend writes both in one transaction), and take
 * the status from it.  0 or -errno.
 */
static int config_read(void)
{
	for (int tries = 0; tries < 100; tries++) {
		uint64_t gen, again;
		int r;

		if ((r = gm_vdev_read_u64(G.xs, G.be_dir, "config-generation", UINT32_MAX, &gen)) < 0 ||
		    (r = gm_vdev_read_backend(G.xs, G.be_dir, &G.bi)) < 0 ||
		    (r = gm_vdev_read_u64(G.xs, G.be_dir, "config-generation", UINT32_MAX,
					  &again)) < 0)
			return r;
		if (gen != again)
			continue;
		if (G.bi.config_len < GM_VIRTIO_NET_CFG_STATUS + 2)
			return -EPROTO;
		G.cfg_gen = (uint32_t)gen;
		return 0;
	}
	return -EAGAIN;
}

/* The status bit of the config space last read. */
static bool config_link(void)
{
	return !G.status || (gm_virtio_net_get_le(G.bi.config + GM_VIRTIO_NET_CFG_STATUS, 2) &
			     GM_VIRTIO_NET_S_LINK_UP);
}

/* The config-generation watch fired: read the config space again. */
static void config_changed(void)
{
	char *path, *token;
	uint32_t before = G.cfg_gen;
	bool was = G.link;
	int r;

	while ((r = gm_xs_read_watch(G.xs, &path, &token)) == 0) {
		free(path);
		free(token);
	}
	if (r != -EAGAIN) {
		fail("the config space's watch: %s", gm_strerror(r));
		return;
	}
	if ((r = config_read()) < 0) {
		/* no node yet: the config space published at InitWait stands */
		if (r != -ENOENT)
			fail("reading the config space again: %s", gm_strerror(r));
		return;
	}
	if (G.cfg_gen == before)
		return;
	G.cfg_changes++;
	G.link = config_link();
	if (G.link != was) {
		G.link_changes++;
		info("link %s (config generation %u)", G.link ? "up" : "down", G.cfg_gen);
	}
}

/* Wait up to @ms for an interrupt of any queue; acknowledge them. */
static void wait_irq(int ms)
{
	struct pollfd p[MAXQ];
	unsigned n = 0;
	uint64_t v;
	int port;

	if (G.ram) {
		for (unsigned i = 0; i < G.nq; i++)
			p[n++] = (struct pollfd){.fd = Q[i].call_fd, .events = POLLIN};
	} else {
		p[n++] = (struct pollfd){.fd = gm_evtchn_fd(G.ev), .events = POLLIN};
		if (G.watching)
			p[n++] = (struct pollfd){.fd = gm_xs_fd(G.xs), .events = POLLIN};
	}
	if (poll(p, n, ms) <= 0)
		return;
	if (G.watching && p[1].revents)
		config_changed();
	if (G.ram) {
		for (unsigned i = 0; i < n; i++)
			if (p[i].revents && read(p[i].fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				fail("interrupt: %s", strerror(errno));
		return;
	}
	for (int k = 0; k < MAXQ && (port = gm_evtchn_pending(G.ev)) >= 0; k++)
		gm_evtchn_unmask(G.ev, (gm_port)port);
}

/* ---- receive buffers ----------------------------------------------------------- */

static int rx_post(struct nq *q, unsigned s)
{
	struct slot *sl = &q->slots[s];
	struct vqd_buf vb;
	int r;

	if (!sl->b.va) {
		sl->ro = q->index == 0 && opt.readonly_rx && !G.ram;
		if ((r = buf_share(&sl->b, q->rx_pages, !sl->ro)) < 0)
			return r;
		if (sl->ro)
			opt.readonly_rx--;
	}
	/* a read-only one is shared once: writable when it comes back */
	sl->b.pooled = (G.persistent || G.ram) && !sl->ro;
	vb = (struct vqd_buf){buf_addr(&sl->b, 0), q->rx_pages * PAGE, true};
	r = vqd_add(&q->d, &vb, 1, 0, (void *)(uintptr_t)(s + 1));
	if (r < 0)
		return r;
	sl->busy = true;
	return 0;
}

/* Back from the device: the buffer's grant ends unless it is pooled. */
static void rx_done(struct nq *q, unsigned s)
{
	struct slot *sl = &q->slots[s];

	sl->busy = false;
	if (!sl->b.pooled)
		buf_release(&sl->b);
}

/* ---- transmit ---------------------------------------------------------------- */

static uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes, rx_dropped, rx_unused;

static void tx_reap(struct nq *q)
{
	void *tok;
	uint32_t len;
	int r;

	while ((r = vqd_get_used(&q->d, &tok, &len)) == 0) {
		struct slot *sl = &q->slots[(uintptr_t)tok - 1];

		sl->busy = false;
		if (!sl->b.pooled)
			buf_release(&sl->b);
	}
	if (r == -EIO)
		fail("transmit queue %u: the device completed a buffer not in flight", q->index);
}

/*
 * Send one frame (@hdr and @len bytes of @frame) on pair @pair's transmit
 * queue; waits for a free slot.  0 or -errno.
 */
static int tx_send(unsigned pair, const unsigned char *hdr, const void *frame, size_t len)
{
	struct nq *q = &Q[2 * pair + 1];
	unsigned pages = (unsigned)pages_of(HDR + len), s;
	double end = now() + opt.timeout;
	struct vqd_buf vb;
	int r;

	if (pages > TX_PAGES)
		return -EMSGSIZE;
	for (;;) {
		tx_reap(q);
		for (s = 0; s < q->nslots && q->slots[s].busy; s++)
			;
		if (s < q->nslots)
			break;
		if (now() > end)
			return -ETIMEDOUT;
		wait_irq(10);
	}
	struct slot *sl = &q->slots[s];

	/* fresh grants can run short while the device holds others: reap, wait */
	while (!sl->b.va &&
	       (r = buf_share(&sl->b, G.persistent || G.ram ? TX_PAGES : pages, false)) < 0) {
		if ((r != -EAGAIN && r != -ENOSPC && r != -ENOMEM && r != -EBUSY) || now() > end)
			return r;
		tx_reap(q);
		wait_irq(10);
	}
	sl->b.pooled = G.persistent || G.ram;
	memcpy(sl->b.va, hdr, HDR);
	memcpy(sl->b.va + HDR, frame, len);
	vb = (struct vqd_buf){buf_addr(&sl->b, 0), (uint32_t)(HDR + len), false};
	if ((r = vqd_add(&q->d, &vb, 1, 0, (void *)(uintptr_t)(s + 1))) < 0)
		return r;
	sl->busy = true;
	q_kick(q);
	tx_packets++;
	tx_bytes += len;
	return 0;
}

/* ---- checksums ------------------------------------------------------------------ */

static uint32_t csum_add(uint32_t sum, const unsigned char *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t pseudo(uint32_t src, uint32_t dst, unsigned proto, size_t len)
{
	unsigned char ph[12];

	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = (unsigned char)proto;
	ph[10] = (unsigned char)(len >> 8);
	ph[11] = (unsigned char)len;
	return csum_add(0, ph, 12);
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* ---- Ethernet, ARP, IPv4 ---------------------------------------------------------- */

#define ETH 14
#define IP4 20
#define ETH_ARP 0x0806
#define ETH_IP 0x0800
#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17

static unsigned char peer_mac[6];
static bool peer_known;
static const unsigned char bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static unsigned char frame_buf[FRAME_MAX];

/* The pair a flow uses: one per port pair. */
static unsigned flow_pair(unsigned sport)
{
	return G.pairs > 1 ? sport % G.pairs : 0;
}

static void eth_fill(unsigned char *f, const unsigned char *dst, unsigned type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, G.mac, 6);
	put16(f + 12, type);
}

static void arp_send(unsigned op, const unsigned char *tha, uint32_t tpa)
{
	unsigned char f[ETH + 28], h[HDR] = {0};

	eth_fill(f, op == 1 ? bcast : tha, ETH_ARP);
	put16(f + ETH, 1);
	put16(f + ETH + 2, ETH_IP);
	f[ETH + 4] = 6;
	f[ETH + 5] = 4;
	put16(f + ETH + 6, op);
	memcpy(f + ETH + 8, G.mac, 6);
	memcpy(f + ETH + 14, &opt.ip, 4);
	memcpy(f + ETH + 18, op == 1 ? (const unsigned char[6]){0} : tha, 6);
	memcpy(f + ETH + 24, &tpa, 4);
	if (tx_send(0, h, f, sizeof(f)) < 0)
		fail("cannot send an ARP packet");
}

static void arp_input(const unsigned char *p, size_t len)
{
	uint32_t spa, tpa;

	if (len < 28 || get16(p) != 1 || get16(p + 2) != ETH_IP || p[4] != 6 || p[5] != 4)
		return;
	memcpy(&spa, p + 14, 4);
	memcpy(&tpa, p + 24, 4);
	if (spa == opt.peer) {
		memcpy(peer_mac, p + 8, 6);
		peer_known = true;
	}
	if (get16(p + 6) == 1 && tpa == opt.ip)
		arp_send(2, p + 8, spa);
}

static uint16_t ip_id;

/*
 * Send an IPv4 packet to the peer: @l4 (@len bytes, its checksum field at
 * @csum_off zeroed) with protocol @proto.  The L4 checksum is offloaded
 * (NEEDS_CSUM) when CSUM was negotiated, else computed.  @gso_size: a TSO
 * frame (TCP) of segments that size.
 */
static int ip_send(unsigned pair, unsigned proto, unsigned char *l4, size_t len, size_t csum_off,
		   unsigned gso_size)
{
	unsigned char h[HDR] = {0}, *f = frame_buf, *ip = f + ETH;
	struct gm_virtio_net_hdr vh = {0};
	uint32_t ps;

	if (ETH + IP4 + len > sizeof(frame_buf) - HDR)
		return -EMSGSIZE;
	eth_fill(f, peer_mac, ETH_IP);
	memset(ip, 0, IP4);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(IP4 + len));
	put16(ip + 4, ip_id++);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = (unsigned char)proto;
	memcpy(ip + 12, &opt.ip, 4);
	memcpy(ip + 16, &opt.peer, 4);
	put16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, IP4)));
	memcpy(ip + IP4, l4, len);
	ps = pseudo(opt.ip, opt.peer, proto, len);
	if (proto == P_ICMP) {
		/* no pseudo-header: the caller's checksum stands */
	} else if (G.csum) {
		/* the pseudo-header's sum in place; the device completes it */
		put16(ip + IP4 + csum_off, csum_fold(ps));
		vh.flags = GM_VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_start = ETH + IP4;
		vh.csum_offset = (uint16_t)csum_off;
	} else {
		uint16_t c = (uint16_t)~csum_fold(csum_add(ps, ip + IP4, len));

		if (proto == P_UDP && !c)
			c = 0xffff;
		put16(ip + IP4 + csum_off, c);
	}
	if (gso_size) {
		vh.gso_type = GM_VIRTIO_NET_HDR_GSO_TCPV4;
		vh.gso_size = (uint16_t)gso_size;
		vh.hdr_len = (uint16_t)(ETH + IP4 + 20);
	}
	gm_virtio_net_hdr_put(h, &vh);
	return tx_send(pair, h, f, ETH + IP4 + len);
}

/* ---- ICMP and UDP -------------------------------------------------------------------- */

static unsigned ping_ok, udp_ok;
static unsigned ping_seq_seen[1024], udp_seen[1024];

static void pattern(unsigned char *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)((seed + i) * 131 + ((seed + i) >> 8));
}

static void icmp_input(const unsigned char *p, size_t len, uint32_t src)
{
	unsigned char exp[56];

	if (len < 8 || csum_fold(csum_add(0, p, len)) != 0xffff) {
		fail("an ICMP message with a bad checksum");
		return;
	}
	if (p[0] == 8) { /* answer echo requests too */
		unsigned char r[1500];

		if (len > sizeof(r) || src != opt.peer)
			return;
		memcpy(r, p, len);
		r[0] = 0;
		put16(r + 2, 0);
		put16(r + 2, (uint16_t)~csum_fold(csum_add(0, r, len)));
		if (ip_send(0, P_ICMP, r, len, 2, 0) < 0)
			fail("cannot answer an echo request");
		return;
	}
	if (p[0] != 0 || get16(p + 4) != 0x6d67 || len != 8 + sizeof(exp))
		return;
	pattern(exp, sizeof(exp), get16(p + 6));
	if (memcmp(p + 8, exp, sizeof(exp))) {
		fail("ping %u: the reply's payload differs", get16(p + 6));
		return;
	}
	if (get16(p + 6) < 1024 && !ping_seq_seen[get16(p + 6)]++)
		ping_ok++;
}

static int icmp_echo(unsigned seq)
{
	unsigned char m[8 + 56];

	m[0] = 8;
	m[1] = 0;
	put16(m + 2, 0);
	put16(m + 4, 0x6d67);
	put16(m + 6, seq);
	pattern(m + 8, 56, seq);
	put16(m + 2, (uint16_t)~csum_fold(csum_add(0, m, sizeof(m))));
	return ip_send(0, P_ICMP, m, sizeof(m), 2, 0);
}

#define UDP_LEN 1000u
#define UDP_SPORT 40000u

static void udp_input(const unsigned char *p, size_t len)
{
	unsigned char exp[UDP_LEN];
	unsigned n;

	if (len < 8 + 4 || get16(p) != opt.udp_port || get16(p + 2) < UDP_SPORT ||
	    get16(p + 4) != len)
		return;
	n = get32(p + 8);
	pattern(exp, UDP_LEN, n * 7u);
	if (len != 8 + UDP_LEN || memcmp(p + 8 + 4, exp + 4, UDP_LEN - 4)) {
		fail("UDP echo %u: %zu bytes, not what was sent", n, len);
		return;
	}
	if (n < 1024 && !udp_seen[n]++)
		udp_ok++;
}

static int udp_send(unsigned n)
{
	unsigned char m[8 + UDP_LEN];
	unsigned sport = UDP_SPORT + n % (G.pairs * 4);

	put16(m, sport);
	put16(m + 2, opt.udp_port);
	put16(m + 4, sizeof(m));
	put16(m + 6, 0);
	pattern(m + 8, UDP_LEN, n * 7u);
	put32(m + 8, n);
	return ip_send(flow_pair(sport), P_UDP, m, sizeof(m), 6, 0);
}

/* ---- TCP -------------------------------------------------------------------------- */

enum tstate { T_CLOSED, T_SYN_SENT, T_EST, T_FIN_WAIT1, T_FIN_WAIT2, T_CLOSE_WAIT, T_LAST_ACK,
	      T_DONE };

static struct {
	enum tstate st;
	unsigned sport;
	uint32_t iss, snd_una, snd_nxt, snd_wnd, irs, rcv_nxt;
	unsigned mss;
	uint64_t total;           /* bytes to send */
	uint64_t sent_max;        /* highest offset ever sent */
	uint64_t received;        /* echoed bytes verified */
	bool fin_sent, fin_acked, peer_fin;
	double last_progress;
	uint64_t refused, retransmits;
	double t0, t1;
} T;

static unsigned char tcp_byte(uint64_t off)
{
	return (unsigned char)((off * 7 + (off >> 9)) ^ 0x5a);
}

/* Send a TCP segment: @flags, data from stream offset @off (@len bytes). */
static int tcp_send(unsigned flags, uint32_t seq, uint64_t off, size_t len, bool syn_opts)
{
	static unsigned char m[20 + 4 + 65536];
	size_t hl = syn_opts ? 24 : 20;
	unsigned gso = 0;

	put16(m, T.sport);
	put16(m + 2, opt.tcp_port);
	put32(m + 4, seq);
	put32(m + 8, flags & 0x10 ? T.rcv_nxt : 0);
	m[12] = (unsigned char)((hl / 4) << 4);
	m[13] = (unsigned char)flags;
	put16(m + 14, 65535);
	put16(m + 16, 0);
	put16(m + 18, 0);
	if (syn_opts) {
		m[20] = 2;
		m[21] = 4;
		put16(m + 22, G.mtu - 40);
	}
	for (size_t i = 0; i < len; i++)
		m[hl + i] = tcp_byte(off + i);
	if (len > T.mss)
		gso = T.mss;
	return ip_send(flow_pair(T.sport), P_TCP, m, hl + len, 16, gso);
}

static uint64_t seq_off(uint32_t seq)
{
	return (uint32_t)(seq - T.iss - 1);
}

/* Send what the window allows. */
static void tcp_output(void)
{
	uint64_t una = seq_off(T.snd_una);
	size_t chunk = opt.tso && G.host_tso ? 65536 - 20 - 20 - 14 : T.mss;

	if (T.st != T_EST && T.st != T_CLOSE_WAIT)
		return;
	for (;;) {
		uint64_t nxt = seq_off(T.snd_nxt);
		uint64_t wnd_end = una + T.snd_wnd;
		size_t len;

		if (nxt >= T.total || nxt >= wnd_end)
			break;
		len = (size_t)(T.total - nxt < chunk ? T.total - nxt : chunk);
		if (nxt + len > wnd_end)
			len = (size_t)(wnd_end - nxt);
		if (len < T.mss && nxt + len < T.total && len < T.snd_wnd / 2)
			break; /* wait for a bigger window: no silly windows */
		int r = tcp_send(0x18, T.snd_nxt, nxt, len, false);

		if (r < 0) {
			fail("TCP: cannot send %zu bytes: %s", len, gm_strerror(r));
			return;
		}
		if (nxt + len > T.sent_max) {
			T.sent_max = nxt + len;
		} else {
			T.retransmits++;
		}
		T.snd_nxt += (uint32_t)len;
	}
	if (seq_off(T.snd_una) >= T.total && T.received >= T.total && !T.fin_sent) {
		tcp_send(0x11, T.snd_nxt, 0, 0, false);
		T.snd_nxt++;
		T.fin_sent = true;
		T.st = T.st == T_CLOSE_WAIT ? T_LAST_ACK : T_FIN_WAIT1;
	}
}

static void tcp_input(const unsigned char *p, size_t len)
{
	unsigned hl, flags;
	uint32_t seq, ack;
	size_t dlen;

	if (len < 20 || get16(p) != opt.tcp_port || get16(p + 2) != T.sport || T.st == T_CLOSED)
		return;
	hl = (unsigned)(p[12] >> 4) * 4;
	if (hl < 20 || hl > len)
		return;
	flags = p[13];
	seq = get32(p + 4);
	ack = get32(p + 8);
	dlen = len - hl;
	if (flags & 0x04) {
		fail("TCP: the peer reset the connection");
		T.st = T_DONE;
		return;
	}
	if (T.st == T_SYN_SENT) {
		if ((flags & 0x12) != 0x12 || ack != T.iss + 1)
			return;
		T.irs = seq;
		T.rcv_nxt = seq + 1;
		T.snd_una = ack;
		T.snd_wnd = get16(p + 14);
		T.mss = 536;
		for (unsigned o = 20; o + 1 < hl;) {
			if (p[o] == 0)
				break;
			if (p[o] == 1) {
				o++;
				continue;
			}
			if (p[o] == 2 && p[o + 1] == 4 && o + 4 <= hl)
				T.mss = get16(p + o + 2);
			if (p[o + 1] < 2)
				break;
			o += p[o + 1];
		}
		if (T.mss > G.mtu - 40)
			T.mss = G.mtu - 40;
		T.st = T_EST;
		T.t0 = now();
		T.last_progress = T.t0;
		tcp_send(0x10, T.snd_nxt, 0, 0, false);
		info("TCP: connected (peer MSS %u, window %u)", T.mss, T.snd_wnd);
		tcp_output();
		return;
	}
	/* ACK processing */
	if (flags & 0x10) {
		if ((int32_t)(ack - T.snd_una) > 0 && (int32_t)(ack - T.snd_nxt) <= 0) {
			T.snd_una = ack;
			T.last_progress = now();
		} else if ((int32_t)(ack - T.snd_nxt) > 0) {
			/* go-back-N may have pulled snd_nxt back below what the peer has */
			T.snd_una = T.snd_nxt = ack;
			T.last_progress = now();
		}
		T.snd_wnd = get16(p + 14);
		if (T.fin_sent && ack == T.snd_nxt)
			T.fin_acked = true;
	}
	/* data and FIN: only the next expected segment */
	if (dlen || (flags & 0x01)) {
		if (seq != T.rcv_nxt) {
			T.refused++;
			tcp_send(0x10, T.snd_nxt, 0, 0, false);
			return;
		}
		for (size_t i = 0; i < dlen; i++)
			if (p[hl + i] != tcp_byte(T.received + i)) {
				fail("TCP: echoed byte %" PRIu64 " is 0x%02x, sent 0x%02x", T.received + i,
				     p[hl + i], tcp_byte(T.received + i));
				T.st = T_DONE;
				return;
			}
		T.received += dlen;
		T.rcv_nxt += (uint32_t)dlen;
		if (T.received > T.total) {
			fail("TCP: more bytes echoed than sent");
			T.st = T_DONE;
		}
		if (flags & 0x01) {
			T.rcv_nxt++;
			T.peer_fin = true;
		}
		tcp_send(0x10, T.snd_nxt, 0, 0, false);
	}
	if (T.received >= T.total && !T.t1)
		T.t1 = now();
	if (T.peer_fin && T.fin_acked)
		T.st = T_DONE;
	else if (T.peer_fin && T.st == T_EST)
		T.st = T_CLOSE_WAIT;
	tcp_output();
}

/* Go-back-N after RTO_S without progress. */
static void tcp_timer(void)
{
	double t = now();

	if (T.st == T_CLOSED || T.st == T_DONE || t - T.last_progress < RTO_S)
		return;
	T.last_progress = t;
	if (T.st == T_SYN_SENT) {
		tcp_send(0x02, T.iss, 0, 0, true);
		T.retransmits++;
		return;
	}
	if (T.snd_una != T.snd_nxt) {
		if (T.fin_sent && !T.fin_acked && seq_off(T.snd_una) >= T.total) {
			tcp_send(0x11, T.snd_una, 0, 0, false);
			T.retransmits++;
			return;
		}
		T.snd_nxt = T.snd_una;
		T.fin_sent = false;
		if (T.st == T_FIN_WAIT1)
			T.st = T_EST;
		if (T.st == T_LAST_ACK)
			T.st = T_CLOSE_WAIT;
		tcp_output();
	}
}

/* ---- the receive path ------------------------------------------------------------------ */

static unsigned char rx_frame[FRAME_MAX];
static uint64_t blast_rx;

static void ip_input(const unsigned char *p, size_t len, const struct gm_virtio_net_hdr *vh,
		     unsigned char *frame)
{
	unsigned ihl, tot, proto;
	uint32_t src, dst;

	if (len < IP4 || (p[0] >> 4) != 4)
		return;
	ihl = (unsigned)(p[0] & 15) * 4;
	tot = get16(p + 2);
	if (ihl < IP4 || tot < ihl || tot > len) {
		fail("an IPv4 packet with bad lengths");
		return;
	}
	if (csum_fold(csum_add(0, p, ihl)) != 0xffff) {
		fail("an IPv4 header with a bad checksum");
		return;
	}
	if (get16(p + 6) & 0x3fff) {
		fail("an IPv4 fragment (the stack takes none)");
		return;
	}
	proto = p[9];
	memcpy(&src, p + 12, 4);
	memcpy(&dst, p + 16, 4);
	if (dst != opt.ip)
		return;
	if (proto == P_TCP || proto == P_UDP) {
		size_t l4 = tot - ihl;
		unsigned char *q = frame + (p - frame) + ihl;

		if (vh->flags & GM_VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			/* complete it, as a NIC would: the sum from csum_start on */
			size_t cs = vh->csum_start, co = vh->csum_offset;
			size_t flen = (size_t)(p - frame) + tot;

			if (cs + co + 2 > flen) {
				fail("a partial checksum outside the frame");
				return;
			}
			put16(frame + cs + co, (uint16_t)~csum_fold(csum_add(0, frame + cs, flen - cs)));
		} else if (!(vh->flags & GM_VIRTIO_NET_HDR_F_DATA_VALID) &&
			   !(proto == P_UDP && l4 >= 8 && get16(q + 6) == 0) &&
			   csum_fold(csum_add(pseudo(src, dst, proto, l4), q, l4)) != 0xffff) {
			fail("a %s segment with a bad checksum", proto == P_TCP ? "TCP" : "UDP");
			return;
		}
		if (proto == P_TCP)
			tcp_input(q, l4);
		else
			udp_input(q, l4);
	} else if (proto == P_ICMP) {
		icmp_input(p + ihl, tot - ihl, src);
	}
}

static void eth_input(unsigned char *f, size_t len, const struct gm_virtio_net_hdr *vh)
{
	if (len < ETH)
		return;
	rx_packets++;
	rx_bytes += len;
	if (opt.blast == 2) {
		blast_rx++;
		return;
	}
	if (memcmp(f, G.mac, 6) && memcmp(f, bcast, 6))
		return;
	switch (get16(f + 12)) {
	case ETH_ARP:
		arp_input(f + ETH, len - ETH);
		break;
	case ETH_IP:
		ip_input(f + ETH, len - ETH, vh, f);
		break;
	}
}

/* Take what the receive queues hold; repost their buffers. */
static unsigned rx_poll(void)
{
	unsigned got = 0;

	for (unsigned pi = 0; pi < G.pairs; pi++) {
		struct nq *q = &Q[2 * pi];
		void *tok;
		uint32_t len;
		int r;

		while ((r = vqd_get_used(&q->d, &tok, &len)) == 0) {
			unsigned s = (unsigned)(uintptr_t)tok - 1, nb;
			struct gm_virtio_net_hdr vh;
			size_t flen = 0;

			if (q->slots[s].ro) {
				/* --readonly-rx: only ever handed back unused */
				if (len)
					fail("receive queue %u: %u bytes used of a read-only buffer",
					     q->index, len);
				rx_unused++;
				rx_done(q, s);
				rx_post(q, s);
				continue;
			}
			if (len < HDR || len > q->rx_pages * PAGE) {
				fail("receive queue %u: %u bytes used of a buffer", q->index, len);
				rx_done(q, s);
				rx_post(q, s);
				continue;
			}
			gm_virtio_net_hdr_get(q->slots[s].b.va, &vh);
			nb = G.mrg ? vh.num_buffers : 1;
			memcpy(rx_frame, q->slots[s].b.va + HDR, len - HDR);
			flen = len - HDR;
			rx_done(q, s);
			rx_post(q, s);
			if (!nb) {
				fail("receive queue %u: num_buffers 0", q->index);
				nb = 1;
			}
			for (unsigned k = 1; k < nb; k++) {
				double end = now() + opt.timeout;

				while ((r = vqd_get_used(&q->d, &tok, &len)) == -EAGAIN && now() < end)
					wait_irq(1);
				if (r < 0) {
					fail("receive queue %u: a packet's buffer %u of %u never came",
					     q->index, k + 1, nb);
					break;
				}
				s = (unsigned)(uintptr_t)tok - 1;
				if (flen + len > sizeof(rx_frame) || len > q->rx_pages * PAGE) {
					fail("receive queue %u: a packet over %zu bytes", q->index,
					     sizeof(rx_frame));
					len = 0;
				}
				memcpy(rx_frame + flen, q->slots[s].b.va, len);
				flen += len;
				rx_done(q, s);
				rx_post(q, s);
			}
			q_kick(q);
			eth_input(rx_frame, flen, &vh);
			got++;
		}
		if (r == -EIO)
			fail("receive queue %u: the device completed a buffer not in flight",
			     q->index);
	}
	return got;
}

/* Reap, receive, time out: one turn of the main loop. */
static void turn(int ms)
{
	for (unsigned p = 0; p < G.pairs; p++)
		tx_reap(&Q[2 * p + 1]);
	if (!rx_poll())
		wait_irq(ms);
	rx_poll();
	tcp_timer();
}

/* ---- the control queue ------------------------------------------------------------------ */

static int ctrl(unsigned cls, unsigned cmd, const void *data, size_t len)
{
	struct nq *q = &Q[G.nq - 1];
	struct buf b = {0};
	struct vqd_buf vb[2];
	double end = now() + opt.timeout;
	unsigned char ack;
	void *tok;
	uint32_t ul;
	int r;

	if ((r = buf_share(&b, 1, true)) < 0)
		return r;
	b.va[0] = (unsigned char)cls;
	b.va[1] = (unsigned char)cmd;
	memcpy(b.va + 2, data, len);
	b.va[2048] = 0xee;
	vb[0] = (struct vqd_buf){buf_addr(&b, 0), (uint32_t)(2 + len), false};
	vb[1] = (struct vqd_buf){buf_addr(&b, 2048), 1, true};
	if ((r = vqd_add(&q->d, vb, 2, 0, &b)) < 0)
		goto out;
	q_kick(q);
	while ((r = vqd_get_used(&q->d, &tok, &ul)) == -EAGAIN && now() < end)
		wait_irq(10);
	if (r == 0) {
		ack = b.va[2048];
		r = ack == GM_VIRTIO_NET_OK ? 0 : -EPROTO;
	}
out:
	buf_release(&b);
	return r;
}

/* ---- connect ------------------------------------------------------------------------------ */

static int read_str_node(const char *dir, const char *key, char *buf, size_t size)
{
	char path[512], *v = NULL;
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if ((r = gm_xs_read(G.xs, 0, path, &v, &len)) < 0)
		return r;
	snprintf(buf, size, "%.*s", (int)len, v);
	free(v);
	return 0;
}

static int be_state(void)
{
	char s[16];
	uint64_t v;

	if (read_str_node(G.be_dir, "state", s, sizeof(s)) < 0 ||
	    gm_vdev_parse_u64(s, 8, &v) < 0)
		return -1;
	return (int)v;
}

static int wait_be(int want)
{
	double end = now() + opt.timeout;
	int s;

	while ((s = be_state()) != want) {
		if (now() > end) {
			fail("the backend stays in state %d (waiting for %d)", s, want);
			return -ETIMEDOUT;
		}
		usleep(5000);
	}
	return 0;
}

static void set_state(enum gm_vdev_state s)
{
	int r = gm_vdev_write_state(G.xs, G.fe_dir, s);

	if (r < 0)
		fail("cannot write %s/state: %s", G.fe_dir, gm_strerror(r));
}

static int open_xen(void)
{
	char bid[16];
	uint64_t b;
	int r;

	if ((r = gm_xen_open(opt.spec, &G.x)) < 0) {
		fail("cannot open Xen: %s", gm_strerror(r));
		return r;
	}
	{
		struct gm_emu_world_info wi = {.size = sizeof(wi)};

		G.emulated = gm_emu_world_info(G.x, &wi) == 0;
	}
	if ((r = gm_xen_self_domid(G.x, &G.self)) < 0 || (r = gm_xs_open(G.x, &G.xs)) < 0 ||
	    (r = gm_gntshr_open(G.x, &G.shr)) < 0 || (r = gm_evtchn_open(G.x, &G.ev)) < 0) {
		fail("cannot open Xen handles: %s", gm_strerror(r));
		return r;
	}
	snprintf(G.fe_dir, sizeof(G.fe_dir), "/local/domain/%u/device/%s/%u", G.self,
		 opt.type ? opt.type : GM_VDEV_TYPE_DEFAULT, opt.devid);
	if (read_str_node(G.fe_dir, "backend", G.be_dir, sizeof(G.be_dir)) < 0 ||
	    read_str_node(G.fe_dir, "backend-id", bid, sizeof(bid)) < 0 ||
	    gm_vdev_parse_u64(bid, GM_DOMID_MAX, &b) < 0) {
		fail("no device at %s (create it: grantmem-vdev add)", G.fe_dir);
		return -ENODEV;
	}
	G.backend = (gm_domid)b;
	return 0;
}

static int connect_device(void)
{
	static struct gm_vdev_front_info fi;
	uint64_t want;
	unsigned rx_pages;
	int r;

	if (G.ram) {
		if ((r = blk_ram_guest_connect(&G.rg, opt.socket, &G.bi, opt.timeout * 1000)) < 0) {
			fail("no backend at %s: %s", opt.socket, gm_strerror(r));
			return r;
		}
	} else {
		if ((r = wait_be(GM_VDEV_STATE_INITWAIT)) < 0)
			return r;
		if ((r = gm_vdev_read_backend(G.xs, G.be_dir, &G.bi)) < 0) {
			fail("the backend's nodes are unusable: %s", gm_strerror(r));
			return r;
		}
	}
	if (G.bi.device_id != GM_VIRTIO_NET_DEVICE_ID || G.bi.config_len < GM_VIRTIO_NET_CFG_MTU + 2) {
		fail("not a network device (device-id %u)", G.bi.device_id);
		return -ENODEV;
	}
	want = GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1) | GM_VIRTIO_BIT(GM_VIRTIO_F_ACCESS_PLATFORM) |
	       GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX) | GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MAC) |
	       GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MTU) | GM_VIRTIO_BIT(GM_VIRTIO_NET_F_STATUS) |
	       GM_VIRTIO_BIT(GM_VIRTIO_NET_F_CTRL_VQ);
	if (!opt.no_mrg)
		want |= GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MRG_RXBUF);
	if (!opt.no_offloads)
		want |= GM_VIRTIO_BIT(GM_VIRTIO_NET_F_CSUM) | GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_CSUM) |
			GM_VIRTIO_BIT(GM_VIRTIO_NET_F_HOST_TSO4) |
			GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_TSO4);
	if (opt.pairs > 1)
		want |= GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MQ);
	if (opt.packed)
		want |= GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	G.features = G.bi.features & want;
	if (opt.packed && !(G.features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED))) {
		fail("--packed: the backend does not offer packed rings");
		return -EOPNOTSUPP;
	}
	G.mrg = G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MRG_RXBUF);
	G.csum = G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_CSUM);
	G.guest_csum = G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_CSUM);
	G.host_tso = G.csum && (G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_HOST_TSO4));
	G.mq = G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MQ);
	if (!(G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MAC)) ||
	    !(G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_CTRL_VQ))) {
		fail("the backend offers no MAC or no control queue");
		return -EOPNOTSUPP;
	}
	memcpy(G.mac, G.bi.config + GM_VIRTIO_NET_CFG_MAC, 6);
	G.mtu = G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MTU)
			? (unsigned)gm_virtio_net_get_le(G.bi.config + GM_VIRTIO_NET_CFG_MTU, 2) : 1500;
	if (G.mtu < 576 || G.mtu > 1500)
		G.mtu = 1500;
	/* the link may be down: a driver waits for it (config changes) */
	G.status = G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_STATUS);
	G.link = config_link();
	G.pairs = 1;
	if (G.mq) {
		unsigned maxp = (unsigned)gm_virtio_net_get_le(G.bi.config +
							       GM_VIRTIO_NET_CFG_MAX_VIRTQUEUE_PAIRS, 2);

		if (opt.pairs > maxp || opt.pairs > MAX_PAIRS) {
			fail("--pairs %u: the backend offers %u", opt.pairs, maxp);
			return -EINVAL;
		}
		G.pairs = opt.pairs;
		/* the control queue comes after every pair the device has */
		G.nq = 2 * maxp + 1;
		if (G.nq > MAXQ) {
			fail("the backend offers %u pairs: more than this driver handles", maxp);
			return -EINVAL;
		}
	} else {
		if (opt.pairs > 1) {
			fail("--pairs %u: the backend offers no multiqueue", opt.pairs);
			return -EOPNOTSUPP;
		}
		G.nq = 3;
	}
	if (G.nq > G.bi.max_queues) {
		fail("the backend takes %u queues, the device needs %u", G.bi.max_queues, G.nq);
		return -EINVAL;
	}
	G.persistent = !G.ram && G.bi.persistent && !opt.no_persistent;
	if (opt.queue_size > G.bi.max_queue_size)
		opt.queue_size = G.bi.max_queue_size;
	rx_pages = G.mrg || !(G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_TSO4)) ? 1 : TX_PAGES;
	if (G.ram) {
		size_t per_q = (size_t)pages_of(vqd_desc_size(&(struct vqd_config){
				       .size = opt.queue_size, .packed = opt.packed})) + 4;
		size_t total = (size_t)G.nq * (per_q + 8) +
			       (size_t)G.nq * (opt.queue_size * rx_pages + TX_SLOTS * TX_PAGES) + 64;

		if ((r = blk_ram_guest_mem(&G.rg, RAM_BASE, total * PAGE)) < 0) {
			fail("cannot create the guest's memory: %s", gm_strerror(r));
			return r;
		}
	}
	memset(&fi, 0, sizeof(fi));
	fi.features = G.features;
	fi.num_queues = G.nq;
	fi.persistent = G.persistent;
	for (unsigned i = 0; i < G.nq; i++) {
		struct nq *q = &Q[i];

		q->size = i == G.nq - 1 ? 16 : opt.queue_size;
		if ((r = q_setup(q, i)) < 0) {
			fail("queue %u: cannot set up the rings: %s", i, gm_strerror(r));
			return r;
		}
		q->rx_pages = rx_pages;
		q->nslots = i == G.nq - 1 ? 0 : i % 2 ? TX_SLOTS : q->size;
		if (q->nslots && !(q->slots = calloc(q->nslots, sizeof(*q->slots))))
			return -ENOMEM;
		fi.queues[i] = (struct gm_vdev_queue_info){
			.size = q->size, .layout = opt.packed ? GM_VDEV_PACKED : GM_VDEV_SPLIT,
			.desc = buf_addr(&q->desc, 0), .driver = buf_addr(&q->avail, 0),
			.device = buf_addr(&q->used, 0), .port = (gm_port)q->port,
		};
	}
	/* receive buffers before the device starts: every ring full */
	for (unsigned p = 0; p < G.nq / 2; p++) {
		struct nq *q = &Q[2 * p];

		for (unsigned s = 0; s < q->nslots; s++)
			if ((r = rx_post(q, s)) < 0) {
				fail("cannot post a receive buffer: %s", gm_strerror(r));
				return r;
			}
	}
	if (G.ram) {
		int kick[BLK_RAM_MAX_QUEUES], call[BLK_RAM_MAX_QUEUES];

		for (unsigned i = 0; i < G.nq; i++) {
			kick[i] = Q[i].kick_fd;
			call[i] = Q[i].call_fd;
		}
		if ((r = blk_ram_guest_setup(&G.rg, &fi, kick, call, opt.timeout * 1000)) < 0) {
			fail("the backend refused our memory and queues: %s", gm_strerror(r));
			return r;
		}
	} else {
		if ((r = gm_vdev_publish_frontend(G.xs, G.fe_dir, &fi)) < 0) {
			fail("cannot publish the queues: %s", gm_strerror(r));
			return r;
		}
		if ((r = wait_be(GM_VDEV_STATE_CONNECTED)) < 0)
			return r;
		set_state(GM_VDEV_STATE_CONNECTED);
		/* the config space changes under config-generation's watch (it
		 * fires once now: what was published at InitWait may be older) */
		if (G.status) {
			char path[320];

			snprintf(path, sizeof(path), "%s/config-generation", G.be_dir);
			if ((r = gm_xs_watch(G.xs, path, "gm-net-config")) < 0) {
				fail("watching %s: %s", path, gm_strerror(r));
				return r;
			}
			G.watching = true;
			config_changed();
		}
	}
	for (unsigned p = 0; p < G.nq / 2; p++)
		q_kick(&Q[2 * p]);
	if (G.pairs > 1) {
		unsigned char d[2];

		gm_virtio_net_put_le(d, G.pairs, 2);
		if ((r = ctrl(GM_VIRTIO_NET_CTRL_MQ, GM_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, d, 2)) < 0) {
			fail("VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET %u: %s", G.pairs, gm_strerror(r));
			return r;
		}
	}
	info("connected: MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, %u pair(s), %s rings, %s "
	     "grants, features%s%s%s%s%s",
	     G.mac[0], G.mac[1], G.mac[2], G.mac[3], G.mac[4], G.mac[5], G.mtu, G.pairs,
	     opt.packed ? "packed" : "split", G.ram ? "no" : G.persistent ? "persistent" : "transient",
	     G.mrg ? " mrg-rxbuf" : "", G.csum ? " csum" : "", G.guest_csum ? " guest-csum" : "",
	     G.host_tso ? " host-tso4" : "",
	     G.features & GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_TSO4) ? " guest-tso4" : "");
	return 0;
}

static void disconnect_device(void)
{
	if (G.ram) {
		blk_ram_guest_close(&G.rg, opt.timeout * 1000);
	} else {
		set_state(GM_VDEV_STATE_CLOSING);
		if (wait_be(GM_VDEV_STATE_CLOSED) == 0 && G.emulated) {
			unsigned n = 1;

			for (int i = 0; i < 200; i++) {
				if (gm_emu_mapped_count(G.x, G.self, &n) < 0 || n == 0)
					break;
				usleep(10000);
			}
			if (n)
				fail("%u of our grants are still mapped after the backend closed", n);
		}
	}
	for (unsigned i = 0; i < G.nq; i++)
		q_teardown(&Q[i]);
	if (G.ram)
		blk_ram_guest_free_mem(&G.rg);
	else
		set_state(GM_VDEV_STATE_CLOSED);
}

/* ---- what the command line asks for ---------------------------------------------------- */

static bool resolve(void)
{
	double end = now() + opt.timeout, next = 0;

	while (!peer_known && now() < end) {
		if (now() >= next) {
			arp_send(1, NULL, opt.peer);
			next = now() + 0.5;
		}
		turn(20);
	}
	if (!peer_known)
		fail("ARP: no answer from the peer");
	else
		info("ARP: the peer is at %02x:%02x:%02x:%02x:%02x:%02x", peer_mac[0], peer_mac[1],
		     peer_mac[2], peer_mac[3], peer_mac[4], peer_mac[5]);
	return peer_known;
}

static void do_ping(void)
{
	double end = now() + opt.timeout;

	for (unsigned i = 0; i < opt.ping; i++) {
		double t = now() + 0.2;

		icmp_echo(i);
		while (ping_ok < i + 1 && now() < t)
			turn(5);
	}
	while (ping_ok < opt.ping && now() < end)
		turn(20);
	info("ping: %u of %u answered", ping_ok, opt.ping);
}

static void do_udp(void)
{
	double end;

	for (unsigned i = 0; i < opt.udp; i++) {
		double t = now() + 0.5;

		udp_send(i);
		while (udp_ok < i + 1 && now() < t)
			turn(5);
	}
	end = now() + opt.timeout;
	while (udp_ok < opt.udp && now() < end)
		turn(20);
	info("UDP: %u of %u datagrams echoed", udp_ok, opt.udp);
}

static double do_tcp(void)
{
	double end = now() + opt.timeout, last = 0;

	memset(&T, 0, sizeof(T));
	T.sport = 41000 + (unsigned)(now() * 1000) % 1000;
	T.iss = (uint32_t)(now() * 1e6);
	T.snd_una = T.snd_nxt = T.iss + 1;
	T.total = opt.tcp;
	T.mss = 536;
	T.st = T_SYN_SENT;
	T.last_progress = now();
	tcp_send(0x02, T.iss, 0, 0, true);
	while (T.st != T_DONE && now() < end) {
		uint64_t before = T.received;

		turn(10);
		if (T.received != before)
			end = now() + opt.timeout;
		if (!opt.quiet && now() - last >= 1) {
			last = now();
			info("TCP: %" PRIu64 " of %" PRIu64 " bytes echoed and verified", T.received,
			     T.total);
		}
	}
	if (T.st != T_DONE)
		fail("TCP: timed out in state %d with %" PRIu64 " of %" PRIu64 " bytes back", T.st,
		     T.received, T.total);
	else if (T.received != T.total)
		fail("TCP: %" PRIu64 " of %" PRIu64 " bytes came back", T.received, T.total);
	/* the peer's FIN was acknowledged: linger a moment for a retransmitted one */
	for (double t = now() + 0.05; now() < t;)
		turn(5);
	if (T.t1 > T.t0) {
		double mbps = (double)T.received / (T.t1 - T.t0) / 1e6;

		info("TCP: %" PRIu64 " bytes echoed in %.3f s: %.1f MB/s each way", T.received,
		     T.t1 - T.t0, mbps);
		return mbps;
	}
	return 0;
}

/*
 * --link-cycle: the link goes down and comes up again under us (the test
 * sets the backend's tap down, then up, when the lines below say so); each
 * change must come as a config change within --timeout; then TCP again.
 */
static bool wait_link(bool up, const char *say)
{
	double end = now() + opt.timeout;

	while (G.link != up && now() < end)
		turn(50);
	if (G.link != up) {
		fail("the link did not go %s within %d s (config generation %u)", up ? "up" : "down",
		     opt.timeout, G.cfg_gen);
		return false;
	}
	if (say) {
		printf("link-cycle: %s, config generation %u\n", say, G.cfg_gen);
		fflush(stdout);
	}
	return true;
}

static bool do_link_cycle(void)
{
	if (!G.watching) {
		fail("--link-cycle: no link status to follow (VIRTIO_NET_F_STATUS over xenstore)");
		return false;
	}
	/* the status may come a moment after the traffic it let through */
	if (!wait_link(true, NULL))
		return false;
	printf("link-cycle: up, config generation %u; waiting for down\n", G.cfg_gen);
	fflush(stdout);
	return wait_link(false, "down") && wait_link(true, "up again");
}

/* A frame to nobody, or counting what arrives. */
static void do_blast(double *pps, double *mbps)
{
	static unsigned char f[1514];
	unsigned char h[HDR] = {0};
	const unsigned char nobody[6] = {0x02, 0, 0, 0, 0, 0x99};
	double t0 = now(), end = t0 + opt.seconds;
	uint64_t n = 0;

	eth_fill(f, nobody, 0x88b5); /* the local experimental ethertype */
	pattern(f + ETH, sizeof(f) - ETH, 1);
	if (opt.blast == 1) {
		while (now() < end) {
			for (int i = 0; i < 64; i++)
				if (tx_send((unsigned)(n % G.pairs), h, f, opt.frame) == 0)
					n++;
			rx_poll();
		}
	} else {
		blast_rx = 0;
		while (now() < end)
			turn(10);
		n = blast_rx;
	}
	*pps = (double)n / (now() - t0);
	*mbps = *pps * opt.frame / 1e6;
	info("blast %s: %" PRIu64 " frames of %u bytes in %.2f s: %.0f packets/s, %.1f MB/s",
	     opt.blast == 1 ? "tx" : "rx", n, opt.frame, now() - t0, *pps, *mbps);
}

/* --hostile: frames the backend must drop, then go on. */
static void do_hostile(void)
{
	static unsigned char f[70000];
	unsigned char h[HDR];
	struct gm_virtio_net_hdr vh;

	memset(f, 0, sizeof(f));
	eth_fill(f, bcast, 0x88b5);
	vh = (struct gm_virtio_net_hdr){.gso_type = 99, .gso_size = 1000, .flags = 1};
	gm_virtio_net_hdr_put(h, &vh);
	tx_send(0, h, f, 200);
	vh = (struct gm_virtio_net_hdr){.flags = GM_VIRTIO_NET_HDR_F_NEEDS_CSUM,
					 .csum_start = 190, .csum_offset = 20};
	gm_virtio_net_hdr_put(h, &vh);
	tx_send(0, h, f, 200);
	memset(h, 0, sizeof(h));
	tx_send(0, h, f, 6);
	/* 96 KiB: over any limit; no slot takes it, the chain is built by hand */
	{
		struct nq *q = &Q[1];
		struct buf b = {0};
		struct vqd_buf vb[2];
		void *tok;
		uint32_t len;
		double end = now() + opt.timeout;
		int r;

		if (buf_share(&b, 24, false) == 0) {
			vb[0] = (struct vqd_buf){buf_addr(&b, 0), 24 * PAGE / 2, false};
			vb[1] = (struct vqd_buf){buf_addr(&b, 24 * PAGE / 2), 24 * PAGE / 2, false};
			if (vqd_add(&q->d, vb, 2, 0, NULL) >= 0) {
				q_kick(q);
				/* the tx slots' tokens are not NULL: wait for ours */
				for (;;) {
					r = vqd_get_used(&q->d, &tok, &len);
					if (r == 0 && !tok)
						break;
					if (r == 0) {
						q->slots[(uintptr_t)tok - 1].busy = false;
						if (!q->slots[(uintptr_t)tok - 1].b.pooled)
							buf_release(&q->slots[(uintptr_t)tok - 1].b);
						continue;
					}
					if (now() > end) {
						fail("--hostile: the oversize frame never completed");
						break;
					}
					wait_irq(10);
				}
			}
			buf_release(&b);
		}
	}
	info("hostile frames sent: bad GSO type, checksum outside the frame, runt, 96 KiB");
}

/* ---- main ---------------------------------------------------------------------------------- */

#define KEY_TCP_PORT TOOL_LONG_ONLY
#define KEY_UDP_PORT (TOOL_LONG_ONLY + 1)
#define KEY_NO_OFFLOADS (TOOL_LONG_ONLY + 2)
#define KEY_NO_MRG (TOOL_LONG_ONLY + 3)
#define KEY_HOSTILE (TOOL_LONG_ONLY + 4)
#define KEY_BLAST (TOOL_LONG_ONLY + 5)
#define KEY_FRAME (TOOL_LONG_ONLY + 6)
#define KEY_TSO (TOOL_LONG_ONLY + 7)
#define KEY_READONLY_RX (TOOL_LONG_ONLY + 8)
#define KEY_LINK_CYCLE (TOOL_LONG_ONLY + 9)

static const struct tool_opt opts[] = {
	{"xen", 'x', "SPEC", "the Xen world (gm_xen_open: \"emu:SOCKET,domid=N\", \"real\");\n"
			     "default $GRANTMEM_XEN, else real Xen"},
	{"transport", 'X', "NAME", "xenstore (default) or ram: no Xen, the guest's memory is a\n"
				   "memfd shared with grantmem-net --transport ram --socket PATH"},
	{"socket", 'U', "PATH", "--transport ram: the backend's unix socket (required)"},
	{"devid", 'd', "N", "the device number (default 0)"},
	{"type", 't', "T", "the device type (default " GM_VDEV_TYPE_DEFAULT ")"},
	{"ip", 'i', "A.B.C.D", "this guest's IPv4 address (required but for --blast)"},
	{"peer", 'p', "A.B.C.D", "the peer's IPv4 address (required but for --blast)"},
	{"ping", 'c', "N", "ICMP echo requests to the peer (0 to 1000; default 0)"},
	{"udp", 'u', "N", "UDP datagrams to the peer's echo server (0 to 1000)"},
	{"udp-port", KEY_UDP_PORT, "P", "the peer's UDP echo port (default 7)"},
	{"tcp", 'b', "BYTES", "bytes to send to the peer's TCP echo server and verify back\n"
			      "(with k, m, g; default 0)"},
	{"tcp-port", KEY_TCP_PORT, "P", "the peer's TCP echo port (default 7)"},
	{"tso", KEY_TSO, NULL, "send TCP data in 64 KiB TSO frames (HOST_TSO4)"},
	{"pairs", 'q', "N", "queue pairs to use (1 to 8; default 1; more: VIRTIO_NET_F_MQ)"},
	{"queue-size", 'z', "N", "ring size (default 256; at most the backend's)"},
	{"packed", 'P', NULL, "packed rings (the backend must offer them)"},
	{"no-persistent", 'N', NULL, "fresh grants per packet even if the backend offers\n"
				     "persistent ones"},
	{"no-offloads", KEY_NO_OFFLOADS, NULL, "negotiate no checksum or segmentation offload"},
	{"no-mrg-rxbuf", KEY_NO_MRG, NULL, "do not negotiate mergeable receive buffers"},
	{"hostile", KEY_HOSTILE, NULL, "first send frames the backend must drop"},
	{"readonly-rx", KEY_READONLY_RX, "N", "grant the first N receive buffers read-only: a\n"
					      "copying backend hands them back unused"},
	{"link-cycle", KEY_LINK_CYCLE, NULL, "after the traffic, wait for the link to go down\n"
				"and up (config changes), then the TCP stream again"},
	{"blast", KEY_BLAST, "DIR", "tx: send frames for --seconds; rx: count frames arriving"},
	{"frame", KEY_FRAME, "BYTES", "--blast tx: frame size (60 to 1514; default 64)"},
	{"seconds", 's', "S", "--blast: how long (default 2)"},
	{"timeout", 'T', "S", "give up after S seconds without progress (default 20)"},
	{"quiet", 'Y', NULL, "only the summary line"},
	{NULL, 0, NULL, NULL},
};

static struct tool TL = {
	.name = "grantmem-netguest",
	.synopsis = "grantmem-netguest [--xen SPEC] [--devid N] --ip A.B.C.D --peer A.B.C.D\n"
		    "                  [--ping N] [--udp N] [--tcp BYTES] [--tso] [--pairs N]\n"
		    "                  [--packed] [--no-persistent] [--no-offloads] [--hostile]\n"
		    "                  [--readonly-rx N] [--link-cycle]\n"
		    "grantmem-netguest ... --blast tx|rx [--frame BYTES] [--seconds S]\n"
		    "grantmem-netguest --transport ram --socket PATH [the options above]",
	.about = "A test domain's virtio-net driver and IPv4 stack: ARP, ping, UDP and TCP echo\n"
		 "with every byte checked, then one summary line.\n"
		 "exit status: 0 no error, 1 errors, 2 usage error",
	.opts = opts,
};

static uint32_t parse_ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		tool_usage_error(&TL, "\"%s\" is not an IPv4 address", s);
	return a.s_addr;
}

static void parse_options(int argc, char **argv)
{
	static const char *const transports[] = {"xenstore", "ram", NULL};
	static const char *const dirs[] = {"tx", "rx", NULL};
	int c;

	while ((c = tool_next(&TL, argc, argv)) != -1) {
		switch (c) {
		case 'x': opt.spec = optarg; break;
		case 'X': G.ram = tool_choice(&TL, optarg, transports) == 1; break;
		case 'U': opt.socket = optarg; break;
		case 'd': opt.devid = (unsigned)tool_num(&TL, optarg, 0, 65535); break;
		case 't': opt.type = tool_vdev_type(&TL, optarg); break;
		case 'i': opt.ip = parse_ip(optarg); break;
		case 'p': opt.peer = parse_ip(optarg); break;
		case 'c': opt.ping = (unsigned)tool_num(&TL, optarg, 0, 1000); break;
		case 'u': opt.udp = (unsigned)tool_num(&TL, optarg, 0, 1000); break;
		case KEY_UDP_PORT: opt.udp_port = (unsigned)tool_num(&TL, optarg, 1, 65535); break;
		case 'b': opt.tcp = tool_size(&TL, optarg, 0, 1ull << 40); break;
		case KEY_TCP_PORT: opt.tcp_port = (unsigned)tool_num(&TL, optarg, 1, 65535); break;
		case KEY_TSO: opt.tso = true; break;
		case 'q': opt.pairs = (unsigned)tool_num(&TL, optarg, 1, MAX_PAIRS); break;
		case 'z': opt.queue_size = (unsigned)tool_num(&TL, optarg, 4, 4096); break;
		case 'P': opt.packed = true; break;
		case 'N': opt.no_persistent = true; break;
		case KEY_NO_OFFLOADS: opt.no_offloads = true; break;
		case KEY_NO_MRG: opt.no_mrg = true; break;
		case KEY_HOSTILE: opt.hostile = true; break;
		case KEY_READONLY_RX: opt.readonly_rx = (unsigned)tool_num(&TL, optarg, 0, 64); break;
		case KEY_LINK_CYCLE: opt.link_cycle = true; break;
		case KEY_BLAST: opt.blast = 1 + (int)tool_choice(&TL, optarg, dirs); break;
		case KEY_FRAME: opt.frame = (unsigned)tool_num(&TL, optarg, 60, 1514); break;
		case 's': opt.seconds = (double)tool_num(&TL, optarg, 1, 3600); break;
		case 'T': opt.timeout = (int)tool_num(&TL, optarg, 1, 3600); break;
		case 'Y': opt.quiet = true; break;
		}
	}
	if (optind != argc)
		tool_usage_error(&TL, "unexpected argument \"%s\"", argv[optind]);
	if (!opt.blast && (!opt.ip || !opt.peer))
		tool_usage_error(&TL, "--ip and --peer are required");
	if (G.ram && !opt.socket)
		tool_usage_error(&TL, "--transport ram needs --socket");
	if (opt.queue_size & (opt.queue_size - 1) && !opt.packed)
		tool_usage_error(&TL, "--queue-size: a power of 2 for split rings");
}

int main(int argc, char **argv)
{
	double mbps = 0, bpps = 0, bmbps = 0;
	bool done = true, link_ok = true;
	int r;

	gm_emu_register();
	blk_ram_guest_init(&G.rg);
	parse_options(argc, argv);
	if (!G.ram && open_xen() < 0)
		return 1;
	if ((r = connect_device()) < 0) {
		printf("summary: ping=0/%u udp=0/%u tcp_bytes=0 tcp_verified=0 refused_segments=0 "
		       "retransmits=0 tcp_MBps=0 errors=%u\n", opt.ping, opt.udp, errors);
		return 1;
	}
	if (opt.hostile)
		do_hostile();
	if (opt.blast) {
		do_blast(&bpps, &bmbps);
	} else if (resolve()) {
		if (opt.ping)
			do_ping();
		if (opt.udp)
			do_udp();
		if (opt.tcp)
			mbps = do_tcp();
		if (opt.link_cycle && (link_ok = do_link_cycle()) && opt.tcp)
			mbps = do_tcp();
	}
	done = opt.blast || (ping_ok == opt.ping && udp_ok == opt.udp && T.received == opt.tcp &&
			     link_ok);
	/* everything sent must come back before the grants go */
	for (unsigned p = 0; p < G.pairs; p++) {
		double end = now() + opt.timeout;
		struct nq *q = &Q[2 * p + 1];
		bool busy = true;

		while (busy && now() < end) {
			tx_reap(q);
			busy = false;
			for (unsigned s = 0; s < q->nslots; s++)
				busy |= q->slots[s].busy;
			if (busy)
				wait_irq(10);
		}
	}
	disconnect_device();
	printf("summary: ping=%u/%u udp=%u/%u tcp_bytes=%" PRIu64 " tcp_verified=%" PRIu64
	       " refused_segments=%" PRIu64 " retransmits=%" PRIu64 " tcp_MBps=%.1f tx_packets=%"
	       PRIu64 " rx_packets=%" PRIu64 " rx_unused=%" PRIu64 " errors=%u",
	       ping_ok, opt.ping, udp_ok, opt.udp, opt.tcp, T.received, T.refused, T.retransmits,
	       mbps, tx_packets, rx_packets, rx_unused, errors);
	if (opt.blast)
		printf(" blast_pps=%.0f blast_MBps=%.1f", bpps, bmbps);
	if (G.status)
		printf(" link=%s config_changes=%u link_changes=%u", G.link ? "up" : "down",
		       G.cfg_changes, G.link_changes);
	printf("\n");
	(void)rx_bytes;
	(void)rx_dropped;
	return errors || !done ? 1 : 0;
}
