// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * grantmem-net - a virtio-net device backend attached to a Linux tap.
 *
 *   grantmem-net --tap NAME [--xen SPEC] [--frontend-domid N] [--queue-pairs N]
 *                [--queue-size N] [--mac MAC] [--mtu N] [--persistent]
 *                [--packed] [--no-offloads] [--no-mrg-rxbuf] [--type T]
 *                [--data map|copy|auto] [--stats] [--verbose]
 *   grantmem-net --transport ioreq --domid N --tap NAME [--mmio-base ADDR] ...
 *   grantmem-net --transport ram --socket PATH --tap NAME ...
 *
 * A driver domain that owns a NIC (or any bridge or route behind a tap)
 * serves the network of other guests through their grants: the backend
 * loop (dev.h) runs each receive and transmit queue pair on one thread,
 * over the vdev transport (PV domains), the ioreq transport (virtio-mmio
 * for HVM/PVH guests: tools/blk-ioreq.c) or the RAM transport (a memfd
 * shared over a unix socket, tools/common/blk-ram.c: the plain-RAM
 * baseline of the benchmark).
 *
 * Transmit: the guest's chain (the 12-byte virtio-net header, then the
 * frame) is checked and written to the tap with one writev straight from
 * the mapped grants: the tap takes the same header (IFF_VNET_HDR), so
 * checksum and segmentation offloads (CSUM, HOST_TSO4/6) pass through to
 * the kernel untouched.  Receive: the guest's buffers wait, mapped, until
 * the tap has a packet; it is read with one readv straight into them
 * (spread over several buffers with MRG_RXBUF, num_buffers set), with the
 * kernel's partial checksums and 64 KiB segments when the guest took
 * GUEST_CSUM and GUEST_TSO4/6 (TUNSETOFFLOAD follows what it accepted, and
 * VIRTIO_NET_CTRL_GUEST_OFFLOADS).  Multiqueue: --queue-pairs N opens the
 * tap with N queues (IFF_MULTI_QUEUE); the control queue's
 * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET attaches the pairs in use and detaches
 * the others, so the kernel steers flows only to queues that are served.
 *
 * --data copy (and --data auto for chains of up to DATA_AUTO_COPY_MAX
 * bytes): nothing of the guest's buffers is mapped.  A transmit chain is
 * gathered into the queue's buffer with one grant copy call
 * (gm_vq_req_read) and written to the tap from there; a packet is read
 * from the tap into the receive queue's buffer and scattered into the
 * guest's receive buffers (each of the mergeable ones it takes) with one
 * grant copy call per buffer (gm_vq_req_write).  --stats counts each
 * queue's map calls and copy calls per packet; the backend loop publishes
 * them as stats/queue-<i>/map-calls and copy-calls.
 *
 * Hostile guests: a transmit chain that is too short or too long, has
 * device-writable buffers or a header the guest did not negotiate (bad
 * GSO type, checksum offsets outside the frame) is dropped and completed;
 * a receive chain with device-readable buffers or too small for the header
 * is handed back unused; a chain the guest does not let us copy (a
 * transmit buffer it revoked, a receive buffer granted read-only) is
 * dropped, its packet with it, and its buffers handed back unused (with
 * mapping, such a chain cannot be mapped and breaks its queue); the
 * virtqueue layer refuses chains that never end
 * or are too big and breaks only that queue.  Each kind of fault logs one
 * line per second at most, with a count of what it kept quiet.  The other
 * queues and guests go on.
 *
 * Link status (VIRTIO_NET_F_STATUS): up while the tap is up with carrier,
 * followed by a netlink watcher (net-link.h) on a thread of its own; each
 * change reaches the driver through gm_dev_set_config (--no-link-watch:
 * always up).
 *
 * SIGINT/SIGTERM: disconnect every frontend (all mappings released) and
 * exit 0.
 */
#include "config.h"

#include "args.h"
#include "blk-ioreq.h"
#include "blk-ram.h"
#include "net-link.h"
#include "net-tap.h"
#include "serve.h"

#include <grantmem/grantmem.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HDR GM_VIRTIO_NET_HDR_SIZE
#define ETH_HDR 14u
#define VLAN_HDR 4u
#define GSO_MAX 65535u              /* an IP packet's largest size */
#define RX_BIG_MAX (20u * 4096)     /* the largest chain taken, both ways */
#define RX_BURST 64                 /* packets one tap wakeup reads at most */
#define RX_IOV 1024                 /* iovecs one readv takes */
#define MAX_PAIRS NET_TAP_MAX_QUEUES
/*
 * --data auto: chains of up to one page and a header (a frame of up to the
 * MTU going out, a one-page or smaller receive buffer) are copied, bigger
 * ones (TSO frames, the big receive chains of drivers without MRG_RXBUF)
 * mapped.  How it was chosen: grantmem-bench's net rows (64 and 1500 B
 * frames, transient grants, emulated Xen) and the backend's CPU time per
 * packet.  A receive buffer is mapped on its own (a receive queue takes
 * one request a pop): copying into it gave 1.5-2.4x the packets/s at a
 * third of the backend's CPU time per packet.  A transmit chain is mapped
 * with up to 31 others in one call: copying it gave 0.4-0.9x the
 * packets/s at as much CPU time per packet or more.  The bound is one for
 * both directions (gm_dev_config.unmapped_max, on a chain's size) and
 * receive buffers are a page or less, so it is a page: on real Xen, where
 * a map and an unmap cost what 10-40 grant copies do (README), copying
 * small frames pays both ways.  Past a page, grantmem-blk's crossover:
 * copying stops paying somewhere between 16 and 64 KiB.
 */
#define DATA_AUTO_COPY_MAX (4096u + HDR)
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- logging: the tool's own, one line per kind per second -------------------- */

enum fault {
	F_TX_SHORT, F_TX_LONG, F_TX_WRITABLE, F_TX_HDR, F_TX_REFUSED, F_TX_TAP,
	F_RX_READONLY, F_RX_SMALL, F_RX_REFUSED, F_RX_TAP, F_RX_TOOBIG, F_CTRL,
	F_TX_COPY, F_RX_COPY, F_COUNT
};

static struct {
	pthread_mutex_t lock;
	time_t last[F_COUNT];
	uint64_t quiet[F_COUNT];
	bool verbose;
} lg = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Every fault counted, for --stats. */
static atomic_uint_fast64_t faults[F_COUNT];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("grantmem-net: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vlog(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (!lg.verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("%s", buf);
}

/*
 * A guest's fault of kind @k: counted; one line per second per kind, which
 * says how many went unsaid since the last.  Returns @err.
 */
static int fault(enum fault k, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fault(enum fault k, int err, const char *fmt, ...)
{
	time_t now = time(NULL);
	uint64_t quiet = 0;
	bool speak = false;
	char buf[256];
	va_list ap;

	atomic_fetch_add(&faults[k], 1);
	pthread_mutex_lock(&lg.lock);
	if (now != lg.last[k]) {
		lg.last[k] = now;
		quiet = lg.quiet[k];
		lg.quiet[k] = 0;
		speak = true;
	} else {
		lg.quiet[k]++;
	}
	pthread_mutex_unlock(&lg.lock);
	if (!speak)
		return err;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (quiet)
		say("%s: %s (%d); %" PRIu64 " more like it not logged", buf, strerror(-err), err,
		    quiet);
	else
		say("%s: %s (%d)", buf, strerror(-err), err);
	return err;
}

/* ---- the device -------------------------------------------------------------- */

static struct {
	const char *tap_name;
	unsigned pairs;              /* queue pairs offered */
	unsigned mtu;
	unsigned char mac[6];
	bool offloads, mrg;
	struct net_tap tap;          /* opened at start, shared by connections in turn */
	atomic_bool tap_busy;        /* a connection has it */
	unsigned char cfg[GM_VIRTIO_NET_CFG_SIZE];
} net = {.pairs = 1, .mtu = 1500, .offloads = true, .mrg = true,
	 .mac = {0x02, 0x67, 0x6d, 0x00, 0x00, 0x01}};

static atomic_uint_fast64_t tx_packets, tx_bytes, rx_packets, rx_bytes, total_requests;
/* CLOCK_MONOTONIC of the first and the last packet (ioreq's report) */
static atomic_uint_fast64_t first_ns, last_ns;

static void packet_seen(void)
{
	struct timespec ts;
	uint64_t t, zero = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	atomic_compare_exchange_strong(&first_ns, &zero, t);
	atomic_store(&last_ns, t);
}

/*
 * Per queue index, over every connection: packets, and (folded in when a
 * connection ends) requests, data map calls and copy calls, for --stats.
 */
static struct {
	atomic_uint_fast64_t packets;
	uint64_t requests, map_calls, copy_calls;
} qcount[GM_DEV_MAX_QUEUES];
static uint64_t unmapped_max; /* --data: gm_dev_config.unmapped_max */

static void queue_packet(gm_dev_queue *q)
{
	atomic_fetch_add(&qcount[gm_dev_queue_index(q)].packets, 1);
	packet_seen();
}

/* A connection ends: its queues' requests, map calls and copy calls. */
static void queue_counts(gm_dev_conn *c)
{
	for (unsigned i = 0; i < GM_DEV_MAX_QUEUES; i++) {
		struct gm_dev_stats st = {.size = sizeof(st)};

		if (gm_dev_conn_stats(c, (int)i, &st) < 0)
			continue;
		qcount[i].requests += st.requests;
		qcount[i].map_calls += st.pop_map_calls;
		qcount[i].copy_calls += st.copy_calls;
	}
}

/* Seconds from the first packet to the last. */
static double busy_seconds(void)
{
	uint64_t a = atomic_load(&first_ns), b = atomic_load(&last_ns);

	return a && b > a ? (double)(b - a) / 1e9 : 0.0;
}

/* A connection: the tap it has, what its driver negotiated. */
struct netconn {
	struct net_tap *tap;
	atomic_bool have_features;
	uint64_t features;
	atomic_uint_fast32_t rx_max;  /* bytes a received packet may take, header included */
	unsigned pairs;               /* pairs in use (control queue) */
};

static bool has(uint64_t f, int bit)
{
	return (f & GM_VIRTIO_BIT(bit)) != 0;
}

/* The largest packet the tap may hand a driver that took @guest_gso. */
static uint32_t rx_max_for(bool guest_gso)
{
	return HDR + (guest_gso ? GSO_MAX + ETH_HDR + VLAN_HDR : net.mtu + ETH_HDR + VLAN_HDR);
}

/* What the driver takes from the tap: GUEST_* of @f. */
static int apply_guest_offloads(struct netconn *nc, uint64_t f)
{
	bool csum = has(f, GM_VIRTIO_NET_F_GUEST_CSUM);
	bool t4 = csum && has(f, GM_VIRTIO_NET_F_GUEST_TSO4);
	bool t6 = csum && has(f, GM_VIRTIO_NET_F_GUEST_TSO6);
	int r = net_tap_set_offload(nc->tap, csum, t4, t6);

	atomic_store(&nc->rx_max, rx_max_for(t4 || t6));
	return r;
}

/* ---- transmit ---------------------------------------------------------------- */

struct txq {
	int fd;
	uint64_t features;
	const char *who;
	unsigned char buf[]; /* --data copy, auto: a frame gathered (rx_max_for(true)) */
};

/* Check a transmit header against what was negotiated; 0 or -errno. */
static int tx_check(const struct txq *t, const struct gm_virtio_net_hdr *h, uint64_t frame)
{
	uint8_t gso = h->gso_type & (uint8_t)~GM_VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~(GM_VIRTIO_NET_HDR_F_NEEDS_CSUM | GM_VIRTIO_NET_HDR_F_DATA_VALID))
		return -EPROTO;
	if (h->flags & GM_VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!has(t->features, GM_VIRTIO_NET_F_CSUM))
			return -EPROTO;
		if ((uint64_t)h->csum_start + h->csum_offset + 2 > frame)
			return -ERANGE;
	}
	if ((h->gso_type & GM_VIRTIO_NET_HDR_GSO_ECN) && !has(t->features, GM_VIRTIO_NET_F_HOST_ECN))
		return -EPROTO;
	switch (gso) {
	case GM_VIRTIO_NET_HDR_GSO_NONE:
		if (frame > (uint64_t)net.mtu + ETH_HDR + VLAN_HDR)
			return -EMSGSIZE;
		return 0;
	case GM_VIRTIO_NET_HDR_GSO_TCPV4:
		if (!has(t->features, GM_VIRTIO_NET_F_HOST_TSO4))
			return -EPROTO;
		break;
	case GM_VIRTIO_NET_HDR_GSO_TCPV6:
		if (!has(t->features, GM_VIRTIO_NET_F_HOST_TSO6))
			return -EPROTO;
		break;
	default:
		return -EPROTO;
	}
	/* a segmented frame: checksum offloaded, segments of a sane size */
	if (!(h->flags & GM_VIRTIO_NET_HDR_F_NEEDS_CSUM) || !h->gso_size || h->gso_size > net.mtu ||
	    h->hdr_len > frame)
		return -EPROTO;
	return 0;
}

static int64_t tx_request(struct txq *t, gm_dev_queue *q, struct gm_vq_req *req)
{
	unsigned char raw[HDR];
	struct gm_virtio_net_hdr h;
	struct iovec one, *iov = req->iov;
	unsigned niov = req->nout;
	uint64_t frame;
	ssize_t n;
	int r;

	if (req->error) {
		fault(F_TX_REFUSED, req->error, "%s: a transmit chain over the limits is dropped",
		      t->who);
		return 0;
	}
	if (req->nin || req->nsg_in) {
		fault(F_TX_WRITABLE, -EPROTO, "%s: a transmit chain with device-writable buffers "
			      "is dropped", t->who);
		return 0;
	}
	if (req->out_len < HDR + ETH_HDR) {
		fault(F_TX_SHORT, -EINVAL, "%s: a %" PRIu64 "-byte transmit chain is dropped",
		      t->who, req->out_len);
		return 0;
	}
	frame = req->out_len - HDR;
	if (frame > GSO_MAX + ETH_HDR + VLAN_HDR) {
		fault(F_TX_LONG, -EMSGSIZE, "%s: a %" PRIu64 "-byte frame is dropped", t->who,
		      frame);
		return 0;
	}
	if (req->unmapped) {
		/* nothing mapped: the whole chain, gathered with one grant copy */
		if ((r = gm_vq_req_read(gm_dev_queue_vq(q), req, 0, t->buf, req->out_len)) < 0) {
			fault(F_TX_COPY, r, "%s: a transmit chain that cannot be copied is dropped",
			      t->who);
			return 0;
		}
		one = (struct iovec){t->buf, (size_t)req->out_len};
		iov = &one;
		niov = 1;
	}
	gm_iov_to_buf(iov, niov, 0, raw, HDR);
	gm_virtio_net_hdr_get(raw, &h);
	if ((r = tx_check(t, &h, frame)) < 0) {
		fault(r == -EMSGSIZE ? F_TX_LONG : F_TX_HDR, r,
		      "%s: a frame with a bad header (flags 0x%x, gso %u, csum %u+%u, %" PRIu64
		      " bytes) is dropped", t->who, h.flags, h.gso_type, h.csum_start,
		      h.csum_offset, frame);
		return 0;
	}
	/* the tap takes the same header: straight from the guest's pages */
	do
		n = writev(t->fd, iov, (int)MIN(niov, (unsigned)IOV_MAX));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		fault(F_TX_TAP, -errno, "%s: the tap refused a frame", t->who);
		return 0;
	}
	atomic_fetch_add(&tx_packets, 1);
	atomic_fetch_add(&tx_bytes, frame);
	queue_packet(q);
	return 0;
}

/* ---- receive ----------------------------------------------------------------- */

struct rxq {
	gm_dev_queue *q;
	struct netconn *nc;
	int fd;
	bool mrg, watching;
	const char *who;
	unsigned cap, head, n;        /* held buffers: a ring of cap */
	uint64_t room;                /* bytes they hold */
	struct gm_vq_req **held;
	unsigned char *scratch;       /* a packet too big for a buffer (no MRG_RXBUF) */
};

static struct gm_vq_req *held_at(const struct rxq *r, unsigned i)
{
	return r->held[(r->head + i) % r->cap];
}

static void held_drop(struct rxq *r, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		r->room -= held_at(r, i)->in_len;
	r->head = (r->head + k) % r->cap;
	r->n -= k;
}

/* Poll the tap when the buffers held can take any packet it may have. */
static void rx_watch(struct rxq *r)
{
	bool want = r->mrg ? r->room >= atomic_load(&r->nc->rx_max) : r->n > 0;

	if (want != r->watching) {
		gm_dev_queue_watch(r->q, r->fd, want ? POLLIN : 0);
		r->watching = want;
	}
}

static int64_t rx_request(struct rxq *r, gm_dev_queue *q, struct gm_vq_req *req)
{
	if (req->error) {
		fault(F_RX_REFUSED, req->error, "%s: a receive chain over the limits is handed back",
		      r->who);
		return 0;
	}
	if (req->nout || req->nsg_out) {
		fault(F_RX_READONLY, -EACCES, "%s: a receive chain with device-readable buffers "
			      "is handed back unused", r->who);
		return 0;
	}
	if (req->in_len < HDR) {
		fault(F_RX_SMALL, -EMSGSIZE, "%s: a %" PRIu64 "-byte receive buffer is handed "
			      "back unused", r->who, req->in_len);
		return 0;
	}
	if (r->n == r->cap) /* cannot happen: at most the queue size is out */
		return -ENOBUFS;
	r->held[(r->head + r->n++) % r->cap] = req;
	r->room += req->in_len;
	(void)q;
	rx_watch(r);
	return GM_DEV_ASYNC;
}

/*
 * The held buffers the next packet may take, of rx_max bytes at most: with
 * MRG_RXBUF as many as hold that much, else the first.  Does any of them
 * arrive unmapped (--data copy, auto)?
 */
static bool rx_unmapped(const struct rxq *r, uint32_t max)
{
	uint64_t got = 0;

	for (unsigned k = 0; k < r->n && (k == 0 || (r->mrg && got < max)); k++) {
		if (held_at(r, k)->unmapped)
			return true;
		got += held_at(r, k)->in_len;
	}
	return false;
}

/*
 * A packet of @n bytes read into the scratch buffer goes to the first @k
 * held buffers, with one grant copy call each (gm_vq_req_write: mapped ones
 * take a memcpy).  0, or the copy's error (the guest did not let us write a
 * buffer).
 */
static int rx_scatter(struct rxq *r, unsigned k, uint64_t n)
{
	uint64_t at = 0;
	int e;

	for (unsigned i = 0; i < k; i++) {
		struct gm_vq_req *q = held_at(r, i);
		uint64_t take = MIN(n - at, q->in_len);

		if ((e = gm_vq_req_write(gm_dev_queue_vq(r->q), q, 0, r->scratch + at, take)) < 0)
			return e;
		at += take;
	}
	return 0;
}

/* Read one packet into the held buffers.  1: one more; 0: stop for now. */
static int rx_one(struct rxq *r)
{
	struct iovec iov[RX_IOV];
	unsigned niov = 0, k = 0;
	uint32_t max = atomic_load(&r->nc->rx_max);
	struct gm_vq_req *first;
	uint64_t got = 0;
	unsigned char nb[2];
	bool scratch;
	ssize_t n;
	int e;

	if (!r->n || (r->mrg && r->room < max))
		return 0;
	first = held_at(r, 0);
	/* unmapped buffers, or one too small for what may come: the scratch,
	 * then a copy into them */
	scratch = rx_unmapped(r, max) || (!r->mrg && first->in_len < max);
	if (scratch) {
		iov[0] = (struct iovec){r->scratch, max};
		niov = 1;
	} else if (r->mrg) {
		while (got < max && k < r->n) {
			struct gm_vq_req *q = held_at(r, k++);

			if (niov + q->nin > RX_IOV)
				break;
			memcpy(iov + niov, q->iov + q->nout, q->nin * sizeof(*iov));
			niov += q->nin;
			got += q->in_len;
		}
	} else {
		niov = MIN(first->nin, RX_IOV);
		memcpy(iov, first->iov, niov * sizeof(*iov));
	}
	do
		n = readv(r->fd, iov, (int)niov);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN)
			fault(F_RX_TAP, -errno, "%s: reading the tap", r->who);
		return 0;
	}
	if ((size_t)n < HDR + ETH_HDR) {
		fault(F_RX_TAP, -EIO, "%s: the tap gave a %zd-byte packet", r->who, n);
		return 1;
	}
	if (!r->mrg && (uint64_t)n > first->in_len) {
		fault(F_RX_TOOBIG, -EMSGSIZE, "%s: a %zd-byte packet does not fit a %" PRIu64
			      "-byte receive buffer; dropped", r->who, n, first->in_len);
		return 1;
	}
	/* which buffers it took */
	k = 0;
	for (uint64_t left = (uint64_t)n; left; k++) {
		uint64_t take = MIN(left, held_at(r, k)->in_len);

		left -= take;
	}
	gm_virtio_net_put_le(nb, k, 2);
	if (!scratch) {
		gm_iov_from_buf(first->iov, first->nin, GM_VIRTIO_NET_HDR_NUM_BUFFERS, nb, 2);
	} else {
		memcpy(r->scratch + GM_VIRTIO_NET_HDR_NUM_BUFFERS, nb, 2);
		if ((e = rx_scatter(r, k, (uint64_t)n)) < 0) {
			/* the packet is dropped, its buffers handed back unused */
			fault(F_RX_COPY, e, "%s: a receive buffer that cannot be written; a %zd-byte "
			      "packet dropped", r->who, n);
			for (unsigned i = 0; i < k; i++)
				gm_dev_complete(r->q, held_at(r, i), 0);
			held_drop(r, k);
			return 1;
		}
	}
	for (unsigned i = 0, left = (unsigned)n; i < k; i++) {
		struct gm_vq_req *q = held_at(r, i);
		uint32_t take = (uint32_t)MIN((uint64_t)left, q->in_len);

		gm_dev_complete(r->q, q, take);
		left -= take;
	}
	held_drop(r, k);
	atomic_fetch_add(&rx_packets, 1);
	atomic_fetch_add(&rx_bytes, (uint64_t)n - HDR);
	queue_packet(r->q);
	return 1;
}

static void rx_ready(struct rxq *r)
{
	for (int i = 0; i < RX_BURST && rx_one(r); i++)
		;
	rx_watch(r);
}

/* ---- control ----------------------------------------------------------------- */

static uint8_t ctrl_do(struct netconn *nc, const unsigned char *m, size_t len)
{
	unsigned cls = m[0], cmd = m[1];
	const unsigned char *d = m + 2;
	size_t dl = len - 2;

	switch (cls) {
	case GM_VIRTIO_NET_CTRL_MQ:
		if (cmd == GM_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET && dl == 2) {
			unsigned n = (unsigned)gm_virtio_net_get_le(d, 2);

			if (n < 1 || n > net.pairs || !has(nc->features, GM_VIRTIO_NET_F_MQ))
				return GM_VIRTIO_NET_ERR;
			if (net_tap_set_pairs(nc->tap, n) < 0)
				return GM_VIRTIO_NET_ERR;
			nc->pairs = n;
			vlog("%u queue pair(s) in use", n);
			return GM_VIRTIO_NET_OK;
		}
		break;
	case GM_VIRTIO_NET_CTRL_GUEST_OFFLOADS:
		if (cmd == GM_VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET && dl == 8) {
			uint64_t f = gm_virtio_net_get_le(d, 8);
			uint64_t allowed = GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_CSUM) |
					   GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_TSO4) |
					   GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_TSO6);

			/* only what was negotiated may be turned on again */
			if (f & ~(nc->features & allowed))
				return GM_VIRTIO_NET_ERR;
			return apply_guest_offloads(nc, f) < 0 ? GM_VIRTIO_NET_ERR : GM_VIRTIO_NET_OK;
		}
		break;
	case GM_VIRTIO_NET_CTRL_MAC:
		/* the tap sees every frame: filters and addresses need nothing */
		if ((cmd == GM_VIRTIO_NET_CTRL_MAC_ADDR_SET && dl == 6) ||
		    cmd == GM_VIRTIO_NET_CTRL_MAC_TABLE_SET)
			return GM_VIRTIO_NET_OK;
		break;
	case GM_VIRTIO_NET_CTRL_RX:
		if (cmd <= GM_VIRTIO_NET_CTRL_RX_NOBCAST && dl == 1)
			return GM_VIRTIO_NET_OK;
		break;
	case GM_VIRTIO_NET_CTRL_ANNOUNCE:
		if (cmd == GM_VIRTIO_NET_CTRL_ANNOUNCE_ACK)
			return GM_VIRTIO_NET_OK;
		break;
	}
	return GM_VIRTIO_NET_ERR;
}

static int64_t ctrl_request(struct netconn *nc, gm_dev_queue *q, struct gm_vq_req *req)
{
	unsigned char m[64], ack = GM_VIRTIO_NET_ERR;
	const char *who = gm_dev_conn_name(gm_dev_queue_conn(q));

	if (req->in_len < 1) {
		fault(F_CTRL, -EPROTO, "%s: a control request without an ack byte", who);
		return 0;
	}
	if (req->error) {
		gm_vq_req_write(gm_dev_queue_vq(q), req, req->in_len - 1, &ack, 1);
		return 1;
	}
	if (req->out_len < 2 || req->out_len > sizeof(m))
		fault(F_CTRL, -EPROTO, "%s: a %" PRIu64 "-byte control request", who, req->out_len);
	else if (gm_vq_req_read(gm_dev_queue_vq(q), req, 0, m, (size_t)req->out_len) == 0)
		ack = ctrl_do(nc, m, (size_t)req->out_len);
	if (ack != GM_VIRTIO_NET_OK)
		vlog("%s: control class %u command %u refused", who, req->out_len >= 2 ? m[0] : 0,
		     req->out_len >= 2 ? m[1] : 0);
	gm_vq_req_write(gm_dev_queue_vq(q), req, req->in_len - 1, &ack, 1);
	return 1;
}

/* ---- the loop's callbacks ------------------------------------------------------ */

enum qkind { Q_RX, Q_TX, Q_CTRL };

/* Queue @i of a connection whose driver accepted @f. */
static enum qkind kind_of(unsigned i, uint64_t f)
{
	unsigned ctrl = has(f, GM_VIRTIO_NET_F_MQ) ? 2 * net.pairs : 2;

	if (i == ctrl)
		return Q_CTRL;
	return i % 2 ? Q_TX : Q_RX;
}

static int q_start(void *opaque, gm_dev_queue *q)
{
	gm_dev_conn *c = gm_dev_queue_conn(q);
	struct netconn *nc = gm_dev_conn_priv(c);
	uint64_t f = gm_dev_queue_features(q);
	unsigned i = gm_dev_queue_index(q), pair = i / 2;
	int r;

	(void)opaque;
	if (!atomic_load(&nc->have_features)) {
		/* the first queue: what the driver accepted decides the offloads */
		nc->features = f;
		if ((r = apply_guest_offloads(nc, f)) < 0) {
			say("%s: TUNSETOFFLOAD: %s", gm_dev_conn_name(c), strerror(-r));
			return r;
		}
		atomic_store(&nc->have_features, true);
		vlog("%s: features 0x%" PRIx64 " (%s%s%s%s), %s rings", gm_dev_conn_name(c), f,
		     has(f, GM_VIRTIO_NET_F_MRG_RXBUF) ? "mrg-rxbuf " : "",
		     has(f, GM_VIRTIO_NET_F_CSUM) ? "csum " : "",
		     has(f, GM_VIRTIO_NET_F_GUEST_TSO4) ? "guest-tso4 " : "",
		     has(f, GM_VIRTIO_NET_F_MQ) ? "mq" : "",
		     has(f, GM_VIRTIO_F_RING_PACKED) ? "packed" : "split");
	}
	switch (kind_of(i, f)) {
	case Q_CTRL:
		gm_dev_queue_set_priv(q, NULL);
		return 0;
	case Q_TX: {
		struct txq *t;

		if (pair >= nc->tap->nq)
			return -EINVAL;
		if (!(t = calloc(1, sizeof(*t) + (unmapped_max ? rx_max_for(true) : 0))))
			return -ENOMEM;
		t->fd = nc->tap->fd[pair];
		t->features = f;
		t->who = gm_dev_conn_name(c);
		gm_dev_queue_set_priv(q, t);
		return 0;
	}
	case Q_RX: {
		struct rxq *rx;
		unsigned cap = gm_vq_size(gm_dev_queue_vq(q));

		if (pair >= nc->tap->nq)
			return -EINVAL;
		if (!(rx = calloc(1, sizeof(*rx))) || !(rx->held = calloc(cap, sizeof(*rx->held))) ||
		    !(rx->scratch = malloc(rx_max_for(true)))) {
			if (rx)
				free(rx->held);
			free(rx);
			return -ENOMEM;
		}
		rx->q = q;
		rx->nc = nc;
		rx->fd = nc->tap->fd[pair];
		rx->mrg = has(f, GM_VIRTIO_NET_F_MRG_RXBUF);
		rx->who = gm_dev_conn_name(c);
		rx->cap = cap;
		gm_dev_queue_set_priv(q, rx);
		return 0;
	}
	}
	return -EINVAL;
}

static void q_stop(void *opaque, gm_dev_queue *q)
{
	struct netconn *nc = gm_dev_conn_priv(gm_dev_queue_conn(q));
	void *p = gm_dev_queue_priv(q);

	(void)opaque;
	if (kind_of(gm_dev_queue_index(q), nc->features) == Q_RX && p) {
		struct rxq *rx = p;

		/* the buffers held are abandoned: the loop releases them */
		gm_dev_queue_watch(q, -1, 0);
		free(rx->held);
		free(rx->scratch);
	}
	free(p);
	gm_dev_queue_set_priv(q, NULL);
}

static int64_t q_request(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
{
	struct netconn *nc = gm_dev_conn_priv(gm_dev_queue_conn(q));

	(void)opaque;
	switch (kind_of(gm_dev_queue_index(q), nc->features)) {
	case Q_RX:
		return rx_request(gm_dev_queue_priv(q), q, req);
	case Q_TX:
		return tx_request(gm_dev_queue_priv(q), q, req);
	case Q_CTRL:
		return ctrl_request(nc, q, req);
	}
	return -EINVAL;
}

static void q_fd_ready(void *opaque, gm_dev_queue *q, int fd, unsigned revents)
{
	(void)opaque;
	(void)fd;
	(void)revents;
	rx_ready(gm_dev_queue_priv(q));
}

/*
 * Receive queues take one request per pop: their buffers wait for packets,
 * and a transient batch is published only when all of it is pushed.
 */
static const struct gm_dev_handler rx_handler = {
	.request = q_request, .start = q_start, .stop = q_stop, .fd_ready = q_fd_ready,
	.max_batch = 1,
};
static const struct gm_dev_handler tx_handler = {
	.request = q_request, .start = q_start, .stop = q_stop,
};

static int net_connect(void *opaque, gm_dev_conn *c)
{
	struct netconn *nc;
	bool busy = false;

	(void)opaque;
	if (!atomic_compare_exchange_strong(&net.tap_busy, &busy, true)) {
		say("%s refused: tap %s serves another frontend", gm_dev_conn_name(c),
		    net.tap.name);
		return -EBUSY;
	}
	if (!(nc = calloc(1, sizeof(*nc)))) {
		atomic_store(&net.tap_busy, false);
		return -ENOMEM;
	}
	nc->tap = &net.tap;
	nc->pairs = 1;
	atomic_store(&nc->rx_max, rx_max_for(false));
	/* until the driver says otherwise, the first pair only */
	net_tap_set_pairs(nc->tap, 1);
	gm_dev_conn_set_priv(c, nc);
	vlog("%s connected to tap %s", gm_dev_conn_name(c), net.tap.name);
	return 0;
}

static void net_disconnect(void *opaque, gm_dev_conn *c)
{
	struct netconn *nc = gm_dev_conn_priv(c);
	struct gm_dev_stats st = {.size = sizeof(st)};

	(void)opaque;
	gm_dev_conn_stats(c, -1, &st);
	atomic_fetch_add(&total_requests, st.requests);
	queue_counts(c);
	vlog("%s disconnected after %" PRIu64 " requests", gm_dev_conn_name(c), st.requests);
	net_tap_set_offload(nc->tap, false, false, false);
	free(nc);
	atomic_store(&net.tap_busy, false);
}

/* ---- link status: the tap's state in the config space -------------------------- */

static struct {
	bool off;            /* --no-link-watch: always up */
	struct net_link nl;  /* fd -1: not watching */
	gm_dev *dev;
	int stop_fd;
	pthread_t t;
	bool running;
} lk = {.nl.fd = -1, .stop_fd = -1};

/* The link bit the driver should see now. */
static bool link_up(void)
{
	return lk.off || lk.nl.fd < 0 || lk.nl.up;
}

/* Follow the tap: each change goes into the config space and to the driver. */
static void *link_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = lk.stop_fd, .events = POLLIN},
				      {.fd = lk.nl.fd, .events = POLLIN}};
		unsigned char st[2];
		int r;

		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			say("link watcher: poll: %s", strerror(errno));
			return NULL;
		}
		if (p[0].revents)
			return NULL;
		if (!p[1].revents)
			continue;
		r = net_link_process(&lk.nl);
		if (r < 0) {
			say("link watcher: tap %s: %s; the link stays %s", net.tap.name,
			    gm_strerror(r), lk.nl.up ? "up" : "down");
			return NULL;
		}
		if (!r)
			continue;
		gm_virtio_net_put_le(st, link_up() ? GM_VIRTIO_NET_S_LINK_UP : 0, 2);
		gm_dev_set_config(lk.dev, GM_VIRTIO_NET_CFG_STATUS, st, sizeof(st));
		say("tap %s: link %s%s", net.tap.name, lk.nl.up ? "up" : "down",
		    lk.nl.lost ? " (moved where its state cannot be followed)" : "");
	}
}

/* Watch the tap before the device is described: its state is the first status. */
static void link_open(void)
{
	int r;

	if (lk.off)
		return;
	if ((r = net_link_open(&lk.nl, net.tap.name)) < 0)
		say("tap %s: cannot watch its link state (%s): reported up", net.tap.name,
		    gm_strerror(r));
	else if (!lk.nl.up)
		say("tap %s: link down (not up, or no carrier)", net.tap.name);
}

static void link_start(gm_dev *dev)
{
	lk.dev = dev;
	if (lk.nl.fd < 0)
		return;
	if ((lk.stop_fd = eventfd(0, EFD_CLOEXEC)) < 0 ||
	    pthread_create(&lk.t, NULL, link_main, NULL) != 0) {
		say("tap %s: cannot start the link watcher: the status stays %s", net.tap.name,
		    link_up() ? "up" : "down");
		return;
	}
	lk.running = true;
}

static void link_stop(void)
{
	uint64_t one = 1;

	if (lk.running && write(lk.stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(lk.t, NULL);
	lk.running = false;
	if (lk.stop_fd >= 0)
		close(lk.stop_fd);
	lk.stop_fd = -1;
	net_link_close(&lk.nl);
}

/* ---- main -------------------------------------------------------------------- */

enum transport { TR_XENSTORE, TR_IOREQ, TR_RAM };

struct net_config {
	const char *spec, *type, *socket_path;
	enum transport transport;
	bool stats, packed;
	uint64_t mmio_base;
	struct gm_vdev_backend_config vdev;
	struct gm_dev_config dev;
};

#define KEY_DOMID TOOL_LONG_ONLY
#define KEY_NO_OFFLOADS (TOOL_LONG_ONLY + 1)
#define KEY_NO_MRG (TOOL_LONG_ONLY + 2)
#define KEY_DATA (TOOL_LONG_ONLY + 3)
#define KEY_NO_LINK_WATCH (TOOL_LONG_ONLY + 4)

static const struct tool_opt opts[] = {
	{"tap", 'n', "NAME", "the tap device to attach (created if missing; required)"},
	{"xen", 'x', "SPEC", "the Xen world (gm_xen_open: \"real\", \"emu:SOCKET,domid=N\");\n"
			     "default $GRANTMEM_XEN, else real Xen"},
	{"transport", 'T', "NAME", "xenstore (default: the vdev protocol, PV domains), ioreq\n"
				   "(an HVM/PVH guest's virtio-mmio) or ram (no Xen)"},
	{"frontend-domid", 'f', "N", "serve only this frontend domain (default: every one, one\n"
				     "at a time); required with --transport ioreq"},
	{"domid", KEY_DOMID, "N", "the same as --frontend-domid (for --transport ioreq)"},
	{"queue-pairs", 'q', "N", "receive/transmit queue pairs offered (1 to 16, default 1;\n"
				  "more: VIRTIO_NET_F_MQ and a multiqueue tap)"},
	{"queue-size", 'Q', "N", "largest queue size accepted (default 256)"},
	{"mac", 'm', "MAC", "the guest's MAC address (default 02:67:6d:00:00:01)"},
	{"mtu", 'M', "N", "the MTU offered and set on the tap (68 to 9000, default 1500)"},
	{"persistent", 'p', NULL, "offer persistent grants (feature-persistent)"},
	{"packed", 'P', NULL, "offer packed rings"},
	{"no-offloads", KEY_NO_OFFLOADS, NULL, "offer no checksum or segmentation offload"},
	{"no-mrg-rxbuf", KEY_NO_MRG, NULL, "do not offer mergeable receive buffers"},
	{"no-link-watch", KEY_NO_LINK_WATCH, NULL, "report the link up always (default: the tap's)"},
	{"type", 't', "T", "the device type (default " GM_VDEV_TYPE_DEFAULT ")"},
	{"data", KEY_DATA, "MODE", "map (default): map the guest's buffers; copy: grant-copy\n"
				   "frames to and from them, nothing mapped; auto: copy chains\n"
				   "up to a page and a header, map bigger ones"},
	{"stats", 's', NULL, "print packet, fault and mapping statistics at the end"},
	{"verbose", 'v', NULL, "log connections and library messages at info"},
	{"mmio-base", 'B', "ADDR", "--transport ioreq: the virtio-mmio window's address"},
	{"socket", 'S', "PATH", "--transport ram: the unix socket guests connect to (required)"},
	{NULL, 0, NULL, NULL},
};

static struct tool T = {
	.name = "grantmem-net",
	.synopsis = "grantmem-net --tap NAME [--xen SPEC] [--frontend-domid N] [--queue-pairs N]\n"
		    "             [--queue-size N] [--mac MAC] [--mtu N] [--persistent] [--packed]\n"
		    "             [--no-offloads] [--no-mrg-rxbuf] [--no-link-watch] [--type T]\n"
		    "             [--data map|copy|auto] [--stats] [--verbose]\n"
		    "grantmem-net --transport ioreq --domid N --tap NAME [--mmio-base ADDR] ...\n"
		    "grantmem-net --transport ram --socket PATH --tap NAME ...",
	.about = "A virtio-net backend on a Linux tap (needs CAP_NET_ADMIN for the tap).\n"
		 "ram: no Xen; serve grantmem-netguest --transport ram --socket PATH.\n"
		 "SIGINT/SIGTERM: disconnect every frontend and exit 0.\n"
		 "exit status: 0 clean stop, 1 failure (also: xenstore went away), 2 usage error",
	.opts = opts,
};

static void parse_mac(const char *s)
{
	/* exactly six pairs of hex digits, colons between: nothing else */
	if (strlen(s) != 17)
		tool_usage_error(&T, "--mac: \"%s\" is not xx:xx:xx:xx:xx:xx", s);
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			tool_usage_error(&T, "--mac: \"%s\" is not xx:xx:xx:xx:xx:xx", s);
		net.mac[i] = (unsigned char)strtoul((char[]){p[0], p[1], 0}, NULL, 16);
	}
	if (net.mac[0] & 1)
		tool_usage_error(&T, "--mac: %s is a multicast address", s);
}

static void parse_options(struct net_config *c, int argc, char **argv)
{
	static const char *const transports[] = {"xenstore", "ioreq", "ram", NULL};
	int k;

	*c = (struct net_config){.vdev = {.frontend = -1}};
	while ((k = tool_next(&T, argc, argv)) != -1) {
		switch (k) {
		case 'n':
			net.tap_name = optarg;
			break;
		case 'x':
			c->spec = optarg;
			break;
		case 'T':
			c->transport = (enum transport)tool_choice(&T, optarg, transports);
			break;
		case 'f':
		case KEY_DOMID:
			c->vdev.frontend = (int)tool_num(&T, optarg, 0, GM_DOMID_MAX);
			break;
		case 'q':
			net.pairs = (unsigned)tool_num(&T, optarg, 1, MAX_PAIRS);
			break;
		case 'Q':
			c->vdev.max_queue_size = (unsigned)tool_num(&T, optarg, 2, GM_VQ_MAX_SIZE);
			break;
		case 'm':
			parse_mac(optarg);
			break;
		case 'M':
			net.mtu = (unsigned)tool_num(&T, optarg, 68, 9000);
			break;
		case 'p':
			c->vdev.offer_persistent = 1;
			break;
		case 'P':
			c->packed = true;
			break;
		case KEY_NO_OFFLOADS:
			net.offloads = false;
			break;
		case KEY_NO_MRG:
			net.mrg = false;
			break;
		case KEY_DATA:
			unmapped_max = tool_data_path(&T, optarg, DATA_AUTO_COPY_MAX);
			break;
		case KEY_NO_LINK_WATCH:
			lk.off = true;
			break;
		case 't':
			c->type = tool_vdev_type(&T, optarg);
			break;
		case 's':
			c->stats = true;
			break;
		case 'v':
			lg.verbose = true;
			gm_set_log(NULL, NULL, GM_LOG_INFO);
			break;
		case 'B':
			c->mmio_base = tool_num(&T, optarg, 0, UINT64_MAX);
			break;
		case 'S':
			c->socket_path = optarg;
			break;
		}
	}
	if (optind != argc)
		tool_usage_error(&T, "unexpected argument \"%s\"", argv[optind]);
	if (!net.tap_name)
		tool_usage_error(&T, "--tap is required");
	if (strlen(net.tap_name) >= IFNAMSIZ)
		tool_usage_error(&T, "--tap: \"%s\" is longer than an interface name", net.tap_name);
	if (c->transport == TR_IOREQ && c->vdev.frontend < 0)
		tool_usage_error(&T, "--transport ioreq needs --domid");
	if (c->transport == TR_RAM && !c->socket_path)
		tool_usage_error(&T, "--transport ram needs --socket");
	if (c->transport != TR_RAM && c->socket_path)
		tool_usage_error(&T, "--socket is for --transport ram");
}

/* The device the tap makes: features, config space, queues and handlers. */
static void describe(struct net_config *c)
{
	unsigned char *cs = net.cfg;
	unsigned off = net.tap.can_offload;
	uint64_t f = GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MAC) | GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MTU) |
		     GM_VIRTIO_BIT(GM_VIRTIO_NET_F_STATUS) | GM_VIRTIO_BIT(GM_VIRTIO_NET_F_CTRL_VQ) |
		     GM_VIRTIO_BIT(GM_VIRTIO_NET_F_CTRL_MAC_ADDR) |
		     GM_VIRTIO_BIT(GM_VIRTIO_F_INDIRECT_DESC) | GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX);
	unsigned nq = 2 * net.pairs + 1;

	if (net.mrg)
		f |= GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MRG_RXBUF);
	if (net.pairs > 1)
		f |= GM_VIRTIO_BIT(GM_VIRTIO_NET_F_MQ);
	if (net.offloads) {
		/* the tap always takes partial checksums and TSO frames from us */
		f |= GM_VIRTIO_BIT(GM_VIRTIO_NET_F_CSUM) | GM_VIRTIO_BIT(GM_VIRTIO_NET_F_HOST_TSO4) |
		     GM_VIRTIO_BIT(GM_VIRTIO_NET_F_HOST_TSO6);
		if (off & TUN_F_CSUM)
			f |= GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_CSUM) |
			     GM_VIRTIO_BIT(GM_VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
		if (off & TUN_F_TSO4)
			f |= GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_TSO4);
		if (off & TUN_F_TSO6)
			f |= GM_VIRTIO_BIT(GM_VIRTIO_NET_F_GUEST_TSO6);
	}
	memcpy(cs + GM_VIRTIO_NET_CFG_MAC, net.mac, 6);
	gm_virtio_net_put_le(cs + GM_VIRTIO_NET_CFG_STATUS, link_up() ? GM_VIRTIO_NET_S_LINK_UP : 0,
			     2);
	gm_virtio_net_put_le(cs + GM_VIRTIO_NET_CFG_MAX_VIRTQUEUE_PAIRS, net.pairs, 2);
	gm_virtio_net_put_le(cs + GM_VIRTIO_NET_CFG_MTU, net.mtu, 2);
	gm_virtio_net_put_le(cs + GM_VIRTIO_NET_CFG_SPEED, UINT32_MAX, 4);
	cs[GM_VIRTIO_NET_CFG_DUPLEX] = 0xff;
	c->dev = (struct gm_dev_config){
		.size = sizeof(c->dev),
		.name = "grantmem-net",
		.device_id = GM_VIRTIO_NET_DEVICE_ID,
		.features = f,
		.config = cs,
		.config_len = sizeof(net.cfg),
		.max_queues = nq,
		.max_queue_size = c->vdev.max_queue_size,
		/* a 64 KiB frame in 4 KiB pieces and the header, or a receive
		 * buffer of a driver without MRG_RXBUF (Linux: 19 pages): more
		 * is refused */
		.max_request_segments = 2 + (GSO_MAX + ETH_HDR + VLAN_HDR) / 4096 + 16,
		.max_request_bytes = RX_BIG_MAX,
		.handler = &tx_handler,
		.connect = net_connect,
		.disconnect = net_disconnect,
		.queues_per_thread = 2,
		.unmapped_max = unmapped_max,
	};
	c->vdev.type = c->type;
	c->vdev.max_queues = nq;
	c->vdev.layouts = 1u << GM_VDEV_SPLIT | (c->packed ? 1u << GM_VDEV_PACKED : 0);
}

static void report(const struct gm_grant_stats *st)
{
	static const char *const names[F_COUNT] = {
		"tx_short", "tx_long", "tx_writable", "tx_bad_header", "tx_refused", "tx_tap",
		"rx_readonly", "rx_small", "rx_refused", "rx_tap", "rx_too_big", "ctrl",
		"tx_copy", "rx_copy",
	};
	uint64_t n = atomic_load(&total_requests);

	printf("grantmem-net: tx_packets=%" PRIu64 " tx_bytes=%" PRIu64 " rx_packets=%" PRIu64
	       " rx_bytes=%" PRIu64 " requests=%" PRIu64 "\n",
	       (uint64_t)atomic_load(&tx_packets), (uint64_t)atomic_load(&tx_bytes),
	       (uint64_t)atomic_load(&rx_packets), (uint64_t)atomic_load(&rx_bytes), n);
	printf("grantmem-net: faults:");
	for (int i = 0; i < F_COUNT; i++)
		printf(" %s=%" PRIu64, names[i], (uint64_t)atomic_load(&faults[i]));
	printf("\n");
	for (unsigned i = 0; i < GM_DEV_MAX_QUEUES; i++) {
		uint64_t p = atomic_load(&qcount[i].packets);

		if (!p && !qcount[i].requests)
			continue;
		printf("grantmem-net: queue %u: packets=%" PRIu64 " requests=%" PRIu64
		       " map_calls=%" PRIu64 " copy_calls=%" PRIu64
		       " (%.3f map calls, %.3f copy calls per packet)\n", i, p, qcount[i].requests,
		       qcount[i].map_calls, qcount[i].copy_calls,
		       p ? (double)qcount[i].map_calls / (double)p : 0.0,
		       p ? (double)qcount[i].copy_calls / (double)p : 0.0);
	}
	if (st)
		printf("grantmem-net: cache: map_calls=%" PRIu64 " unmap_calls=%" PRIu64
		       " pages_mapped=%" PRIu64 " mapped_pages_at_exit=%u (%.3f map calls per request)\n",
		       st->map_calls, st->unmap_calls, st->pages_mapped, st->mapped_pages,
		       n ? (double)st->map_calls / (double)n : 0.0);
}

int main(int argc, char **argv)
{
	struct net_config c;
	struct gm_grant_stats st = {.size = sizeof(st)};
	gm_dev *dev = NULL;
	gm_xen *x = NULL;
	char banner[128];
	int r, sfd = -1;

	gm_emu_register();
	parse_options(&c, argc, argv);
	if ((r = net_tap_open(&net.tap, net.tap_name, net.pairs, net.mtu)) < 0) {
		say("cannot open tap %s: %s%s", net.tap_name, gm_strerror(r),
		    r == -EPERM ? " (CAP_NET_ADMIN is needed)" : "");
		return 1;
	}
	link_open();
	describe(&c);
	if ((sfd = tool_signals_fd("grantmem-net")) < 0) {
		r = 1;
		goto out;
	}
	if ((r = gm_dev_new(&c.dev, &dev)) < 0 ||
	    (r = gm_dev_set_handler(dev, GM_DEV_ALL_QUEUES, &tx_handler, NULL)) < 0) {
		say("%s", gm_strerror(r));
		r = 1;
		goto out;
	}
	for (unsigned p = 0; p < net.pairs; p++)
		gm_dev_set_handler(dev, (int)(2 * p), &rx_handler, NULL);
	link_start(dev);
	if (c.transport == TR_RAM) {
		struct blk_ram_opts o = {
			.socket = c.socket_path,
			.dev = dev,
			.features = c.packed ? GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED) : 0,
			.stop_fd = sfd,
		};

		printf("grantmem-net: serving tap %s, %u queue pair(s), plain shared RAM\n",
		       net.tap.name, net.pairs);
		fflush(stdout);
		r = blk_ram_run(&o);
		if (c.stats)
			report(NULL);
		printf("grantmem-net: stopped\n");
		goto out;
	}
	if ((r = gm_xen_open(c.spec, &x)) < 0) {
		say("cannot open Xen (%s): %s", c.spec ? c.spec : "default", gm_strerror(r));
		r = 1;
		goto out;
	}
	if (c.transport == TR_IOREQ) {
		struct blk_ioreq_opts o = {
			.name = "grantmem-net",
			.domid = (gm_domid)c.vdev.frontend,
			.base = c.mmio_base,
			.stop_fd = sfd,
			.stats = c.stats,
			.seconds = busy_seconds,
		};

		r = blk_ioreq_run(x, dev, &o);
		if (c.stats)
			report(NULL);
		goto out;
	}
	snprintf(banner, sizeof(banner), "serving tap %s, %u queue pair(s), %s grants",
		 net.tap.name, net.pairs, c.vdev.offer_persistent ? "persistent" : "transient");
	r = tool_serve_vdev("grantmem-net", x, dev, &c.vdev, sfd, banner, &st);
	if (r < 0) {
		r = 1;
		goto out;
	}
	if (c.stats)
		report(&st);
	printf("grantmem-net: stopped\n");
out:
	link_stop();
	gm_xen_close(x);
	gm_dev_free(dev);
	if (sfd >= 0)
		close(sfd);
	net_tap_close(&net.tap);
	return r;
}
