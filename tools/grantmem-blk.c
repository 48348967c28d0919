// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * grantmem-blk - a virtio-blk device backend over the vdev transport
 * (xenstore + grants + event channels), serving a raw image file.
 *
 *   grantmem-blk --image PATH [--xen SPEC] [--frontend-domid N] [--queues N]
 *                [--queue-size N] [--persistent] [--packed] [--type T]
 *                [--read-only] [--stats] [--verbose]
 *   grantmem-blk --transport ioreq --frontend-domid N --image PATH
 *                [--mmio-base ADDR] [--xen SPEC] [--stats]
 *   grantmem-blk --transport ram --socket PATH --image PATH [--queues N]
 *                [--queue-size N] [--packed] [--read-only] [--stats] [--verbose]
 *
 * The default transport is "xenstore" (the vdev protocol, PV domains); with
 * "ioreq" the same request code serves an HVM/PVH guest's own virtio-mmio
 * driver through an ioreq server (tools/blk-ioreq.c); with "ram" the same
 * queue threads and request code serve a guest whose memory is a memfd it
 * shares over a unix socket, like vhost-user (tools/blk-ram.c): the
 * plain-shared-RAM baseline the grant transports are measured against.
 *
 * It needs no foreign-mapping privilege: it runs in any domain (a driver
 * domain), waits for the toolstack to create backend/<type>/<fe>/<devid>
 * directories under its own xenstore path, and serves every frontend (or
 * only --frontend-domid N).  One thread per queue, each with its own event
 * channel handle; data moves with preadv/pwritev straight between the image
 * and the mapped request buffers (no copy).  Requests: IN, OUT, FLUSH,
 * GET_ID, and DISCARD (punches holes in the image).
 *
 * Stats are published in the backend directory every 250 ms and when the
 * frontend disconnects: stats/requests, stats/map-calls, stats/unmap-calls
 * and stats/pages-mapped, counted from the moment the queues were set up
 * (ring mappings excluded: only what the requests cost), and per queue
 * stats/queue-<i>/wakeups: how often its thread woke for a kick (kicks that
 * arrive while the port is masked, from delivery until the thread unmasks
 * it, coalesce into one).
 *
 * SIGINT/SIGTERM: disconnect every frontend (all mappings released), set the
 * backend states to Closed, exit 0.
 *
 * Testing aid: --fault SITE:N[:ERRNO] [--fault-on connect|disconnect] makes
 * one library call fail once the device serves (see "fault injection"
 * below; tests/test-fault-sweep-blk.sh sweeps every site).
 */
#include "config.h"

#include "args.h"
#include "blk-ioreq.h"
#include "blk-ram.h"
#include <grantmem/virtio-blk.h>

#include <grantmem/grantmem.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SEG_MAX 126u
#define MAX_DEVS 64
#define DATA_MAX (GM_VQ_MAX_CHAIN * 2)
#define DISCARD_SEGS 16u
#define DISCARD_SECTORS (1u << 22)

static struct {
	int fd;
	uint64_t sectors;
	bool readonly;
	bool verbose;
	char id[GM_VIRTIO_BLK_ID_BYTES + 1];
} img;

struct blkdev;

struct queue {
	struct blkdev *dev;
	unsigned index;
	gm_vq *vq;
	/*
	 * The transport's ties: readable when the driver kicked (the event
	 * channel's fd, or an eventfd), and where the RAM transport's
	 * interrupts go (an eventfd; -1 on the xenstore transport).
	 */
	int kick_fd, call_fd;
	pthread_t thread;
	bool started;
	atomic_uint_fast64_t served; /* requests completed on this connection */
	atomic_uint_fast64_t wakeups; /* times the thread woke for a kick */
	/*
	 * Failed event-channel calls, tried again every RETRY_MS until they
	 * succeed (a lost interrupt or a port left masked would stall the
	 * queue for good): a port to unmask (0: none), an interrupt owed.
	 */
	gm_port masked;
	bool owed;
	int retry_ms; /* the next retry's delay: RETRY_MS, doubling up to RETRY_MAX_MS */
};

#define RETRY_MS 10
#define RETRY_MAX_MS 1000

/* Errors that say the event channel's peer (the hub, Xen) is gone for good. */
static bool evtchn_gone(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ESHUTDOWN;
}

struct blkdev {
	gm_vdev *vd;         /* the xenstore transport's device; NULL on RAM */
	char name[32];       /* for log lines: "frontend N", "RAM guest" */
	gm_vdev_backend *be;
	int stop_fd; /* eventfd: the queue threads stop */
	atomic_bool stopping;
	unsigned nq;
	struct queue q[GM_VDEV_MAX_QUEUES];
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t errors;
	struct gm_grant_stats base; /* cache counters when the queues were set up */
	uint64_t last_published, last_wakeups;
};

static struct blkdev *devs[MAX_DEVS];
static bool xs_lost; /* xenstore went away: nothing to publish any more */
static atomic_uint_fast64_t total_requests;

/* ---- fault injection: a testing aid (tests/test-fault-sweep-blk.sh) ---------- */

/*
 * --fault SITE:N[:ERRNO] makes the Nth call at the library's fault site SITE
 * (see gm_fault_inject) fail with -ERRNO (default EIO; ENOMEM for "alloc"),
 * counting from the moment the first frontend is connected and its queues
 * are serving, or with --fault-on disconnect from the start of the first
 * disconnect.  N = 0 only counts the calls.  Reported on stdout: when the
 * fault fired and what each queue had served by then, what each queue
 * served per connection, and at exit the calls every site saw after the
 * arming.
 */
static const char *const fault_sites[] = {
	"alloc", "gnttab_open", "gnttab_set_max_grants", "gnttab_map", "gnttab_unmap",
	"gnttab_copy", "evtchn_open", "evtchn_bind_interdomain", "evtchn_unbind",
	"evtchn_notify", "evtchn_pending", "evtchn_unmask", "xs_open", "xs_read", "xs_write",
	"xs_directory", "xs_rm", "xs_mkdir", "xs_set_perms", "xs_watch", "xs_unwatch",
	"xs_read_watch", "xs_tx_start", "xs_tx_end", "xs_domain_path",
};

static struct {
	char *site; /* NULL: no --fault */
	unsigned nth;
	int err;
	bool on_disconnect;
	atomic_bool armed, fired;
} fault;

/* Parse SITE:N[:ERRNO] (ERRNO: a number or EIO, ENOMEM, ...).  0 or -EINVAL. */
static int fault_parse(const char *arg)
{
	static const struct {
		const char *name;
		int err;
	} names[] = {
		{"EIO", EIO}, {"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN}, {"ENOSPC", ENOSPC},
		{"EBUSY", EBUSY}, {"EINVAL", EINVAL}, {"ENOENT", ENOENT}, {"EACCES", EACCES},
		{"ECONNRESET", ECONNRESET},
	};
	char *s = strdup(arg), *n, *e, *end;
	unsigned long v;

	if (!s)
		return -ENOMEM;
	n = strchr(s, ':');
	if (!n)
		goto bad;
	*n++ = '\0';
	e = strchr(n, ':');
	if (e)
		*e++ = '\0';
	errno = 0;
	v = strtoul(n, &end, 10);
	if (errno || end == n || *end || v > UINT_MAX)
		goto bad;
	fault.nth = (unsigned)v;
	fault.err = strcmp(s, "alloc") ? -EIO : -ENOMEM;
	if (e) {
		long x = strtol(e, &end, 10);

		fault.err = 0;
		if (end != e && !*end && x != 0 && x > -4096 && x < 4096)
			fault.err = x < 0 ? (int)x : -(int)x;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(e, names[i].name))
				fault.err = -names[i].err;
		if (!fault.err)
			goto bad;
	}
	/* an unknown site is refused here, not when the device connects */
	if (gm_fault_inject(s, 0, fault.err) < 0)
		goto bad;
	gm_fault_reset();
	free(fault.site);
	fault.site = s;
	return 0;
bad:
	free(s);
	return -EINVAL;
}

/* " q0=N q1=N ...": what each queue of @d served on this connection. */
static void fault_served(const struct blkdev *d, char *buf, size_t size)
{
	size_t at = 0;

	buf[0] = '\0';
	for (unsigned i = 0; d && i < d->nq && at < size; i++)
		at += (size_t)snprintf(buf + at, size - at, " q%u=%" PRIu64, i,
				       (uint64_t)atomic_load(&d->q[i].served));
}

/* Arm the fault, once: when the first frontend is served or first disconnects. */
static void fault_arm(bool disconnecting)
{
	if (!fault.site || fault.on_disconnect != disconnecting || atomic_load(&fault.armed))
		return;
	gm_fault_reset(); /* every site counts from here */
	if (gm_fault_inject(fault.site, fault.nth, fault.err) < 0)
		return;
	atomic_store(&fault.armed, true);
	printf("grantmem-blk: fault %s:%u armed (%d) at %s\n", fault.site, fault.nth, fault.err,
	       disconnecting ? "disconnect" : "connect");
	fflush(stdout);
}

/*
 * Report the fault once it has fired (the first caller to see it), with
 * what device @d (NULL: none) had served by then.  Any thread.
 */
static void fault_check(const struct blkdev *d)
{
	char served[256];

	if (!atomic_load(&fault.armed) || !fault.nth || atomic_load(&fault.fired) ||
	    gm_fault_count(fault.site) < fault.nth || atomic_exchange(&fault.fired, true))
		return;
	fault_served(d, served, sizeof(served));
	printf("grantmem-blk: fault %s:%u fired (%d) %s%s\n", fault.site, fault.nth, fault.err,
	       !d ? "with no frontend connected" : atomic_load(&d->stopping) ? "while disconnecting:"
										 : "while serving:",
	       served);
	fflush(stdout);
}

/* At exit: the calls each site saw after the arming. */
static void fault_report(void)
{
	if (!fault.site)
		return;
	fault_check(NULL);
	printf("grantmem-blk: fault calls since armed:");
	for (size_t i = 0; i < sizeof(fault_sites) / sizeof(fault_sites[0]); i++) {
		unsigned long n = gm_fault_count(fault_sites[i]);

		if (n)
			printf(" %s=%lu", fault_sites[i], n);
	}
	printf("%s\n", atomic_load(&fault.armed) ? "" : " (never armed)");
	free(fault.site);
	fault.site = NULL;
}

static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vlog(const char *fmt, ...)
{
	va_list ap;

	if (!img.verbose)
		return;
	va_start(ap, fmt);
	fputs("grantmem-blk: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- requests ---------------------------------------------------------------- */

/*
 * Take @skip bytes off the front and @trim off the back of @in[0..n) into
 * @out (at most @max entries): the data part of a request without its
 * header or status byte.  Returns the entries used, or -1 if @max is short.
 */
static int iov_slice(const struct iovec *in, unsigned n, size_t skip, size_t trim,
		     struct iovec *out, unsigned max)
{
	size_t total = 0, want, at = 0;
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		total += in[i].iov_len;
	if (skip + trim > total)
		return 0;
	want = total - skip - trim;
	for (unsigned i = 0; i < n && want; i++) {
		size_t len = in[i].iov_len, off = 0;

		if (at + len <= skip) {
			at += len;
			continue;
		}
		if (at < skip)
			off = skip - at;
		at += len;
		len -= off;
		if (len > want)
			len = want;
		if (k == max)
			return -1;
		out[k].iov_base = (char *)in[i].iov_base + off;
		out[k].iov_len = len;
		k++;
		want -= len;
	}
	return (int)k;
}

static size_t iov_total(const struct iovec *v, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += v[i].iov_len;
	return t;
}

/*
 * preadv/pwritev the whole list at @off, looping on short transfers and in
 * IOV_MAX pieces.  Returns 0 or a negative errno (-EIO at end of file).
 */
static int image_io(bool write, struct iovec *v, int n, off_t off)
{
	while (n > 0) {
		int cnt = n > IOV_MAX ? IOV_MAX : n;
		ssize_t k = write ? pwritev(img.fd, v, cnt, off) : preadv(img.fd, v, cnt, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		off += k;
		while (n > 0 && (size_t)k >= v->iov_len) {
			k -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0 && k) {
			v->iov_base = (char *)v->iov_base + k;
			v->iov_len -= (size_t)k;
		}
	}
	return 0;
}

/* Copy @len bytes from byte @off of the iovec list @v[0..n) into @buf. */
static void iov_gather(const struct iovec *v, unsigned n, size_t off, void *buf, size_t len)
{
	unsigned char *out = buf;

	for (unsigned i = 0; i < n && len; i++) {
		size_t c;

		if (off >= v[i].iov_len) {
			off -= v[i].iov_len;
			continue;
		}
		c = v[i].iov_len - off < len ? v[i].iov_len - off : len;
		memcpy(out, (const char *)v[i].iov_base + off, c);
		out += c;
		len -= c;
		off = 0;
	}
	memset(out, 0, len);
}

/* Serve one request; returns the bytes written into its writable buffers. */
static uint32_t serve(struct gm_vq_req *req)
{
	struct iovec *rd = req->iov, *wr = req->iov + req->nout;
	struct iovec data[DATA_MAX];
	unsigned char hdr[16], *status;
	uint32_t type, written = 0;
	uint64_t sector;
	int st = GM_VIRTIO_BLK_S_OK, n;

	/* a status byte is the least a request must carry */
	if (req->nin == 0 || req->in_len < 1 || req->out_len < sizeof(hdr))
		return 0;
	iov_gather(rd, req->nout, 0, hdr, sizeof(hdr));
	type = (uint32_t)gm_virtio_blk_get_le(hdr, 4);
	sector = gm_virtio_blk_get_le(hdr + 8, 8);
	{
		const struct iovec *last = &wr[req->nin - 1];

		/* the status byte is the last byte of the last writable buffer */
		status = (unsigned char *)last->iov_base + last->iov_len - 1;
	}
	switch (type) {
	case GM_VIRTIO_BLK_T_IN:
	case GM_VIRTIO_BLK_T_OUT: {
		bool out = type == GM_VIRTIO_BLK_T_OUT;
		size_t len;

		if (out)
			n = iov_slice(rd, req->nout, sizeof(hdr), 0, data, DATA_MAX);
		else
			n = iov_slice(wr, req->nin, 0, 1, data, DATA_MAX);
		len = n > 0 ? iov_total(data, n) : 0;
		if (n < 0 || len % GM_VIRTIO_BLK_SECTOR || sector > img.sectors ||
		    len / GM_VIRTIO_BLK_SECTOR > img.sectors - sector) {
			st = GM_VIRTIO_BLK_S_IOERR;
			break;
		}
		if (out && img.readonly) {
			st = GM_VIRTIO_BLK_S_IOERR;
			break;
		}
		if (len && image_io(out, data, n, (off_t)(sector * GM_VIRTIO_BLK_SECTOR)) < 0) {
			st = GM_VIRTIO_BLK_S_IOERR;
			break;
		}
		if (!out)
			written = (uint32_t)len;
		break;
	}
	case GM_VIRTIO_BLK_T_FLUSH:
		if (fdatasync(img.fd) < 0)
			st = GM_VIRTIO_BLK_S_IOERR;
		break;
	case GM_VIRTIO_BLK_T_DISCARD: {
		unsigned char seg[16];
		uint64_t len = req->out_len - sizeof(hdr);

		if (len == 0 || len % sizeof(seg) || len / sizeof(seg) > DISCARD_SEGS) {
			st = GM_VIRTIO_BLK_S_IOERR;
			break;
		}
		for (uint64_t off = sizeof(hdr); off < req->out_len && st == GM_VIRTIO_BLK_S_OK;
		     off += sizeof(seg)) {
			uint64_t sec, num;

			iov_gather(rd, req->nout, (size_t)off, seg, sizeof(seg));
			sec = gm_virtio_blk_get_le(seg, 8);
			num = gm_virtio_blk_get_le(seg + 8, 4);
			if (sec > img.sectors || num > img.sectors - sec || num > DISCARD_SECTORS ||
			    img.readonly) {
				st = GM_VIRTIO_BLK_S_IOERR;
			} else if (num && fallocate(img.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						   (off_t)(sec * GM_VIRTIO_BLK_SECTOR),
						   (off_t)(num * GM_VIRTIO_BLK_SECTOR)) < 0) {
				/* a file system without holes: the guest learns it once */
				st = errno == EOPNOTSUPP ? GM_VIRTIO_BLK_S_UNSUPP : GM_VIRTIO_BLK_S_IOERR;
			}
		}
		break;
	}
	case GM_VIRTIO_BLK_T_GET_ID: {
		size_t left = GM_VIRTIO_BLK_ID_BYTES;
		const char *src = img.id;

		n = iov_slice(wr, req->nin, 0, 1, data, DATA_MAX);
		for (int i = 0; i < n && left; i++) {
			size_t c = data[i].iov_len < left ? data[i].iov_len : left;

			memcpy(data[i].iov_base, src, c);
			src += c;
			left -= c;
			written += (uint32_t)c;
		}
		break;
	}
	default:
		st = GM_VIRTIO_BLK_S_UNSUPP;
		break;
	}
	*status = (unsigned char)st;
	return written + 1;
}

/* ---- queue threads ----------------------------------------------------------- */

/*
 * The queue threads' only ties to the transport: consume the kicks that woke
 * a thread (event channel ports to unmask, or an eventfd's count), and
 * interrupt the driver (the event channel, or the call eventfd).
 */
static void queue_ack_kick(struct queue *q)
{
	struct blkdev *d = q->dev;
	gm_evtchn *ev;
	uint64_t n;
	int pp, k;

	if (!d->vd) {
		/* EAGAIN: another wakeup took the count already */
		if (read(q->kick_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			fprintf(stderr, "grantmem-blk: %s queue %u: kick: %s\n", d->name, q->index,
				strerror(errno));
		return;
	}
	/*
	 * The queue's handle carries its one port: ack it once.  Acking until
	 * -EAGAIN would not end while the guest notifies without pause (the
	 * unmask delivers the coalesced event at once), keeping the thread from
	 * its ring and from a disconnect; a port pending again keeps the fd
	 * readable instead.
	 */
	ev = gm_vdev_queue_evtchn(d->vd, q->index);
	pp = gm_evtchn_pending(ev);
	if (pp >= 0 && (k = gm_evtchn_unmask(ev, (gm_port)pp)) < 0) {
		fprintf(stderr, "grantmem-blk: %s queue %u: unmask: %d (%s)\n", d->name, q->index,
			k, gm_strerror(k));
		q->masked = (gm_port)pp; /* queue_main tries again */
	}
	if (pp < 0 && pp != -EAGAIN)
		fprintf(stderr, "grantmem-blk: %s queue %u: pending: %d (%s)\n",
			d->name, q->index, pp, gm_strerror(pp));
}

static int queue_interrupt(struct queue *q)
{
	uint64_t one = 1;

	if (q->dev->vd)
		return gm_vdev_notify(q->dev->vd, q->index);
	/* EAGAIN: a counter the guest never reads is full; it has interrupts to see */
	if (write(q->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static void *queue_main(void *arg)
{
	struct queue *q = arg;
	struct blkdev *d = q->dev;
	int last_err = 0;
	bool broken_told = false;

	for (;;) {
		struct pollfd p[2] = {{.fd = q->kick_fd, .events = POLLIN},
				      {.fd = d->stop_fd, .events = POLLIN}};
		bool kick = false;
		int r;

		/* a port left masked hears no kick: the queue is polled until it is unmasked */
		if (q->masked &&
		    gm_evtchn_unmask(gm_vdev_queue_evtchn(d->vd, q->index), q->masked) == 0)
			q->masked = 0;
		/* drain: notifications off while there is work, then re-check */
		gm_vq_set_notify(q->vq, false);
		for (;;) {
			struct gm_vq_req *req;
			bool notify = false;

			/* a frontend that keeps the queue full must not delay a disconnect */
			if (atomic_load(&d->stopping)) {
				r = -EAGAIN;
				break;
			}
			r = gm_vq_pop(q->vq, &req);
			if (r == -EAGAIN) {
				r = gm_vq_set_notify(q->vq, true);
				if (r == 1)
					continue; /* work raced in: keep going */
				break;
			}
			if (r < 0)
				break;
			uint32_t w = serve(req);
			int k = gm_vq_push(q->vq, req, w, &notify);

			if (k == 0) {
				atomic_fetch_add(&d->requests, 1);
				atomic_fetch_add(&total_requests, 1);
				atomic_fetch_add(&q->served, 1);
				kick |= notify;
			} else {
				fprintf(stderr, "grantmem-blk: %s queue %u: completing a request: %d (%s)\n",
					d->name, q->index, k, gm_strerror(k));
			}
			if (fault.site)
				fault_check(d);
		}
		if (r < 0 && r != -EAGAIN && r != last_err)
			fprintf(stderr, "grantmem-blk: %s queue %u: taking requests: %d (%s)\n",
				d->name, q->index, r, gm_strerror(r));
		last_err = r;
		if (kick || q->owed) {
			int k = queue_interrupt(q);

			if (k < 0 && !q->owed)
				fprintf(stderr, "grantmem-blk: %s queue %u: notify: %d (%s)\n",
					d->name, q->index, k, gm_strerror(k));
			/* the driver may wait for this one: send it again until it goes
			 * (not when the event channels went away with the hub) */
			q->owed = k < 0 && !evtchn_gone(k);
		}
		if (fault.site)
			fault_check(d);
		if (r == -EIO || (r < 0 && gm_vq_broken(q->vq))) {
			/* once: a retry (RETRY_MS) comes back here */
			if (!broken_told) {
				fprintf(stderr, "grantmem-blk: %s queue %u is broken; waiting for a reset\n",
					d->name, q->index);
				atomic_fetch_add(&d->errors, 1);
				broken_told = true;
			}
			p[0].fd = -1;
		} else if (r == -ENOMEM || r == -ENOSPC || r == -ENOBUFS || r == -EBUSY) {
			/* host resources: try again shortly */
			poll(&p[1], 1, 1);
			continue;
		}
		/* retries back off while they keep failing */
		if ((!q->masked && !q->owed) || !q->retry_ms)
			q->retry_ms = RETRY_MS;
		if (poll(p, 2, q->masked || q->owed ? q->retry_ms : -1) < 0 && errno != EINTR)
			break;
		if (q->masked || q->owed)
			q->retry_ms = q->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : q->retry_ms * 2;
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN) {
			atomic_fetch_add(&q->wakeups, 1);
			queue_ack_kick(q);
		}
	}
	return NULL;
}

/* ---- device callbacks -------------------------------------------------------- */

/* Publish one stats node; a failure costs the reader one update (logged). */
static void stat_node(struct blkdev *d, const char *key, const char *v)
{
	int r = gm_vdev_write_node(d->vd, key, v);

	if (r < 0)
		fprintf(stderr, "grantmem-blk: frontend %u: publishing %s: %d (%s)\n",
			gm_vdev_frontend_id(d->vd), key, r, gm_strerror(r));
}

static void publish_stats(struct blkdev *d, bool force)
{
	struct gm_grant_stats st;
	uint64_t req = atomic_load(&d->requests), wk[GM_VDEV_MAX_QUEUES], wsum = 0;
	char v[32], key[40];

	for (unsigned i = 0; i < d->nq; i++)
		wsum += wk[i] = atomic_load(&d->q[i].wakeups);
	if (xs_lost || (!force && req == d->last_published && wsum == d->last_wakeups))
		return;
	gm_grant_cache_stats(gm_vdev_backend_cache(d->be), &st);
	d->last_published = req;
	d->last_wakeups = wsum;
	for (unsigned i = 0; i < d->nq; i++) {
		snprintf(key, sizeof(key), "stats/queue-%u/wakeups", i);
		snprintf(v, sizeof(v), "%" PRIu64, wk[i]);
		stat_node(d, key, v);
	}
	snprintf(v, sizeof(v), "%" PRIu64, st.map_calls - d->base.map_calls);
	stat_node(d, "stats/map-calls", v);
	snprintf(v, sizeof(v), "%" PRIu64, st.unmap_calls - d->base.unmap_calls);
	stat_node(d, "stats/unmap-calls", v);
	snprintf(v, sizeof(v), "%" PRIu64, st.pages_mapped - d->base.pages_mapped);
	stat_node(d, "stats/pages-mapped", v);
	/* requests last: a reader that sees the count sees the map calls with it */
	snprintf(v, sizeof(v), "%" PRIu64, req);
	stat_node(d, "stats/requests", v);
}

static void stop_queues(struct blkdev *d)
{
	uint64_t one = 1;

	atomic_store(&d->stopping, true);
	if (write(d->stop_fd, &one, sizeof(one)) < 0)
		perror("grantmem-blk: eventfd");
	for (unsigned i = 0; i < d->nq; i++)
		if (d->q[i].started)
			pthread_join(d->q[i].thread, NULL);
	for (unsigned i = 0; i < d->nq; i++) {
		gm_vq_free(d->q[i].vq);
		d->q[i].vq = NULL;
	}
}

static void blk_free(struct blkdev *d)
{
	for (unsigned i = 0; i < MAX_DEVS; i++)
		if (devs[i] == d)
			devs[i] = NULL;
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	free(d);
}

/* A device of @nq queues, nothing serving yet.  0 or -errno. */
static int blkdev_new(unsigned nq, struct blkdev **out)
{
	struct blkdev *d = calloc(1, sizeof(*d));
	int r;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->nq = nq;
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (d->stop_fd < 0) {
		r = -errno;
		free(d);
		return r;
	}
	*out = d;
	return 0;
}

/*
 * Set up queue @i of @d on @mem as the driver laid it out in @c (size, ring
 * addresses, features, buffer policy), with the block device's own chain
 * limit.  Every transport comes through here and through start_queues().
 */
static int queue_setup(struct blkdev *d, unsigned i, gm_mem *mem, struct gm_vq_config c,
		       int kick_fd, int call_fd)
{
	struct queue *q = &d->q[i];

	c.max_chain = SEG_MAX + 2 < c.size ? SEG_MAX + 2 : 0;
	c.index = i;
	q->dev = d;
	q->index = i;
	q->kick_fd = kick_fd;
	q->call_fd = call_fd;
	return gm_vq_new(mem, &c, &q->vq);
}

/* One thread per queue: serving from here.  0 or -errno (then stop_queues). */
static int start_queues(struct blkdev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		int r = -pthread_create(&d->q[i].thread, NULL, queue_main, &d->q[i]);

		if (r < 0)
			return r;
		d->q[i].started = true;
	}
	return 0;
}

static gm_vdev_backend *backend;

static int blk_connect(void *opaque, gm_vdev *vd)
{
	const struct gm_vdev_front_info *fi = gm_vdev_frontend_info(vd);
	struct blkdev *d;
	unsigned slot;
	int r;

	(void)opaque;
	for (slot = 0; slot < MAX_DEVS && devs[slot]; slot++)
		;
	if (slot == MAX_DEVS)
		return -EBUSY;
	if ((r = blkdev_new(fi->num_queues, &d)) < 0)
		return r;
	d->vd = vd;
	d->be = backend;
	snprintf(d->name, sizeof(d->name), "frontend %u", gm_vdev_frontend_id(vd));
	for (unsigned i = 0; i < d->nq; i++) {
		const struct gm_vdev_queue_info *qi = &fi->queues[i];
		struct gm_vq_config c = {
			.size = qi->size,
			.desc_addr = qi->desc,
			.driver_addr = qi->driver,
			.device_addr = qi->device,
			.features = fi->features,
			.buf_flags = gm_vdev_policy(vd) == GM_GRANT_PERSISTENT ? GM_MAP_PERSISTENT
									 : GM_MAP_TRANSIENT,
		};

		if ((r = queue_setup(d, i, gm_vdev_mem(vd), c,
				     gm_evtchn_fd(gm_vdev_queue_evtchn(vd, i)), -1)) < 0)
			goto fail;
	}
	/* what the requests cost is counted from here: the rings are mapped */
	gm_grant_cache_stats(gm_vdev_backend_cache(backend), &d->base);
	if ((r = start_queues(d)) < 0)
		goto fail;
	devs[slot] = d;
	gm_vdev_set_priv(vd, d);
	publish_stats(d, true);
	vlog("frontend %u connected: %u queue(s), %s, %s grants", gm_vdev_frontend_id(vd), d->nq,
	     fi->features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED) ? "packed" : "split",
	     gm_vdev_policy(vd) == GM_GRANT_PERSISTENT ? "persistent" : "transient");
	fault_arm(false);
	return 0;
fail:
	stop_queues(d);
	blk_free(d);
	return r;
}

static void blk_disconnect(void *opaque, gm_vdev *vd)
{
	struct blkdev *d = gm_vdev_priv(vd);

	(void)opaque;
	if (!d)
		return;
	fault_arm(true);
	stop_queues(d);
	if (fault.site) {
		char served[256];

		fault_check(d);
		fault_served(d, served, sizeof(served));
		printf("grantmem-blk: frontend %u disconnected: served%s\n", gm_vdev_frontend_id(vd),
		       served);
		fflush(stdout);
	}
	publish_stats(d, true);
	vlog("frontend %u disconnected after %" PRIu64 " requests", gm_vdev_frontend_id(vd),
	     (uint64_t)atomic_load(&d->requests));
	gm_vdev_set_priv(vd, NULL);
	blk_free(d);
}

static const struct gm_vdev_backend_ops blk_ops = {
	.connect = blk_connect,
	.disconnect = blk_disconnect,
};

/* The RAM transport's guest (tools/blk-ram.c): the same queues, on its memfd. */
static int ram_connect(void *opaque, const struct blk_ram_dev *rd, void **priv)
{
	struct blkdev *d;
	int r;

	(void)opaque;
	if ((r = blkdev_new(rd->num_queues, &d)) < 0)
		return r;
	snprintf(d->name, sizeof(d->name), "RAM guest");
	for (unsigned i = 0; i < d->nq; i++)
		if ((r = queue_setup(d, i, rd->mem, rd->vq[i], rd->kick[i], rd->call[i])) < 0) {
			fprintf(stderr, "grantmem-blk: RAM guest queue %u: %s\n", i, gm_strerror(r));
			goto fail;
		}
	if ((r = start_queues(d)) < 0)
		goto fail;
	*priv = d;
	vlog("RAM guest connected: %u queue(s), %s", d->nq,
	     rd->vq[0].features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED) ? "packed" : "split");
	return 0;
fail:
	stop_queues(d);
	blk_free(d);
	return r;
}

static void ram_disconnect(void *opaque, void *priv)
{
	struct blkdev *d = priv;

	(void)opaque;
	stop_queues(d);
	vlog("RAM guest disconnected after %" PRIu64 " requests",
	     (uint64_t)atomic_load(&d->requests));
	blk_free(d);
}

/* ---- main -------------------------------------------------------------------- */

enum transport { TR_XENSTORE, TR_IOREQ, TR_RAM };

/* What the command line asked for, and the device it makes of the image. */
struct blk_config {
	const char *spec, *image, *type, *socket_path;
	enum transport transport;
	bool stats, packed;
	uint64_t mmio_base;
	struct gm_vdev_backend_config vdev; /* what the vdev transport offers */
	unsigned char cfgspace[GM_VIRTIO_BLK_CFG_SIZE];
};

#define KEY_FAULT TOOL_LONG_ONLY
#define KEY_FAULT_ON (TOOL_LONG_ONLY + 1)
#define KEY_DOMID (TOOL_LONG_ONLY + 2)

static const struct tool_opt opts[] = {
	{"image", 'i', "PATH", "the raw image file to serve (required)"},
	{"xen", 'x', "SPEC", "the Xen world (gm_xen_open: \"real\", \"emu:SOCKET,domid=N\");\n"
			     "default $GRANTMEM_XEN, else real Xen"},
	{"transport", 'T', "NAME", "xenstore (default: the vdev protocol, PV domains), ioreq\n"
				   "(an HVM/PVH guest's virtio-mmio) or ram (no Xen)"},
	{"frontend-domid", 'f', "N", "serve only this frontend domain (default: every one);\n"
				     "required with --transport ioreq"},
	{"domid", KEY_DOMID, "N", "the same as --frontend-domid (for --transport ioreq)"},
	{"queues", 'q', "N", "queues offered (default 1)"},
	{"queue-size", 'Q', "N", "largest queue size accepted (default 256)"},
	{"persistent", 'p', NULL, "offer persistent grants (feature-persistent)"},
	{"packed", 'P', NULL, "offer packed rings"},
	{"type", 't', "T", "the device type (default " GM_VDEV_TYPE_DEFAULT ")"},
	{"read-only", 'r', NULL, "open the image read-only; writes fail"},
	{"stats", 's', NULL, "print the request and mapping statistics at the end"},
	{"verbose", 'v', NULL, "log connections and library messages at info"},
	{"mmio-base", 'B', "ADDR", "--transport ioreq: the virtio-mmio window's address"},
	{"socket", 'S', "PATH", "--transport ram: the unix socket guests connect to (required)"},
	{"fault", KEY_FAULT, "SITE:N[:ERRNO]", "testing aid: the Nth call at the library's fault\n"
						"site SITE (gm_fault_inject) fails with -ERRNO (default\n"
						"EIO, ENOMEM for alloc); N = 0 only counts"},
	{"fault-on", KEY_FAULT_ON, "WHEN", "connect (default): count from when the first frontend\n"
					  "is served; disconnect: from its first disconnect"},
	{NULL, 0, NULL, NULL},
};

static struct tool T = {
	.name = "grantmem-blk",
	.synopsis = "grantmem-blk --image PATH [--xen SPEC] [--frontend-domid N] [--queues N]\n"
		    "             [--queue-size N] [--persistent] [--packed] [--type T]\n"
		    "             [--read-only] [--stats] [--verbose]\n"
		    "grantmem-blk --transport ioreq --domid N --image PATH\n"
		    "             [--mmio-base ADDR] [--xen SPEC] [--stats]\n"
		    "grantmem-blk --transport ram --socket PATH --image PATH [--queues N]\n"
		    "             [--queue-size N] [--packed] [--read-only] [--stats] [--verbose]",
	.about = "A virtio-blk backend.  ram: no Xen; serve grantmem-guest --transport ram\n"
		 "--socket PATH, one guest at a time, on the memfd it shares (the plain-shared-RAM\n"
		 "baseline of the grant modes).  --fault is for the xenstore transport; it\n"
		 "reports on stdout.  SIGINT/SIGTERM: disconnect every frontend and exit 0.\n"
		 "exit status: 0 clean stop, 1 failure (also: xenstore went away), 2 usage error",
	.opts = opts,
};

/* The command line into @c.  Usage errors exit 2. */
static void parse_options(struct blk_config *c, int argc, char **argv)
{
	static const char *const transports[] = {"xenstore", "ioreq", "ram", NULL};
	static const char *const when[] = {"connect", "disconnect", NULL};
	int k;

	*c = (struct blk_config){.vdev = {.frontend = -1, .max_queues = 1}};
	while ((k = tool_next(&T, argc, argv)) != -1) {
		switch (k) {
		case 'x':
			c->spec = optarg;
			break;
		case 'i':
			c->image = optarg;
			break;
		case 'f':
		case KEY_DOMID:
			c->vdev.frontend = (int)tool_num(&T, optarg, 0, GM_DOMID_MAX);
			break;
		case 'q':
			c->vdev.max_queues = (unsigned)tool_num(&T, optarg, 1, GM_VDEV_MAX_QUEUES);
			break;
		case 'Q':
			c->vdev.max_queue_size = (unsigned)tool_num(&T, optarg, 1, GM_VQ_MAX_SIZE);
			break;
		case 'p':
			c->vdev.offer_persistent = 1;
			break;
		case 'P':
			c->packed = true;
			break;
		case 't':
			c->type = tool_vdev_type(&T, optarg);
			break;
		case 'r':
			img.readonly = true;
			break;
		case 's':
			c->stats = true;
			break;
		case 'v':
			img.verbose = true;
			gm_set_log(NULL, NULL, GM_LOG_INFO);
			break;
		case 'T':
			c->transport = (enum transport)tool_choice(&T, optarg, transports);
			break;
		case 'S':
			c->socket_path = optarg;
			break;
		case 'B':
			c->mmio_base = tool_num(&T, optarg, 0, UINT64_MAX);
			break;
		case KEY_FAULT:
			if (fault_parse(optarg) < 0)
				tool_usage_error(&T, "--fault: bad \"%s\"; want SITE:N[:ERRNO] with a "
						 "fault site of the library", optarg);
			break;
		case KEY_FAULT_ON:
			fault.on_disconnect = tool_choice(&T, optarg, when) == 1;
			break;
		}
	}
	if (optind != argc)
		tool_usage_error(&T, "unexpected argument \"%s\"", argv[optind]);
	if (!c->image)
		tool_usage_error(&T, "--image is required");
	if (c->transport == TR_IOREQ && c->vdev.frontend < 0)
		tool_usage_error(&T, "--transport ioreq needs --domid");
	if (c->transport == TR_RAM && !c->socket_path)
		tool_usage_error(&T, "--transport ram needs --socket");
	if (c->transport != TR_RAM && c->socket_path)
		tool_usage_error(&T, "--socket is for --transport ram");
}

/* Open the image (img) and describe the device it makes in @c.  0, or -1 (printed). */
static int open_image(struct blk_config *c)
{
	struct gm_vdev_backend_config *cfg = &c->vdev;
	unsigned char *cs = c->cfgspace;
	struct stat sb;

	img.fd = open(c->image, (img.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (img.fd < 0 || fstat(img.fd, &sb) < 0) {
		fprintf(stderr, "grantmem-blk: %s: %s\n", c->image, strerror(errno));
		return -1;
	}
	img.sectors = (uint64_t)sb.st_size / GM_VIRTIO_BLK_SECTOR;
	snprintf(img.id, sizeof(img.id), "grantmem-%" PRIx64, (uint64_t)sb.st_ino);

	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_CAPACITY, img.sectors, 8);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_SEG_MAX, SEG_MAX, 4);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_BLK_SIZE, GM_VIRTIO_BLK_SECTOR, 4);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_NUM_QUEUES, cfg->max_queues, 2);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, DISCARD_SECTORS, 4);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_MAX_DISCARD_SEG, DISCARD_SEGS, 4);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_DISCARD_ALIGN, 1, 4);
	cfg->type = c->type;
	cfg->device_id = GM_VIRTIO_BLK_DEVICE_ID;
	cfg->features = GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_SEG_MAX) | GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_BLK_SIZE) |
			GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_FLUSH) | GM_VIRTIO_BIT(GM_VIRTIO_F_INDIRECT_DESC) |
			(img.readonly ? 0 : GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_DISCARD)) |
			GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX);
	if (cfg->max_queues > 1)
		cfg->features |= GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_MQ);
	cfg->config = cs;
	cfg->config_len = sizeof(c->cfgspace);
	cfg->layouts = 1u << GM_VDEV_SPLIT | (c->packed ? 1u << GM_VDEV_PACKED : 0);
	return 0;
}

/*
 * Signals arrive through a descriptor: every thread has them blocked.
 * Returns the signalfd, or -1 (printed).
 */
static int signals_fd(void)
{
	sigset_t sigs;
	int sfd;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		perror("grantmem-blk: signalfd");
	return sfd;
}

/* --transport ram: no Xen at all; the guest's memory is a memfd it gives us. */
static int run_ram(const struct blk_config *c, int sfd)
{
	struct blk_ram_opts o = {
		.socket = c->socket_path,
		.device_id = GM_VIRTIO_BLK_DEVICE_ID,
		.features = c->vdev.features |
			    (c->packed ? GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED) : 0),
		.config = c->cfgspace,
		.config_len = sizeof(c->cfgspace),
		.max_queues = c->vdev.max_queues,
		.max_queue_size = c->vdev.max_queue_size ? c->vdev.max_queue_size : 256,
		.stop_fd = sfd,
		.connect = ram_connect,
		.disconnect = ram_disconnect,
	};
	int r;

	printf("grantmem-blk: serving %s (%" PRIu64 " sectors), %u queue(s), plain shared RAM\n",
	       c->image, img.sectors, c->vdev.max_queues);
	r = blk_ram_run(&o);
	if (c->stats)
		printf("grantmem-blk: %" PRIu64 " requests (plain RAM: nothing mapped per request)\n",
		       (uint64_t)atomic_load(&total_requests));
	printf("grantmem-blk: stopped\n");
	return r;
}

/* --transport ioreq: the guest's own virtio-mmio driver, through an ioreq server. */
static int run_ioreq(const struct blk_config *c, gm_xen *x, int sfd)
{
	struct blk_ioreq_opts o = {
		.domid = (gm_domid)c->vdev.frontend,
		.base = c->mmio_base,
		.queue_size = c->vdev.max_queue_size,
		.features = c->vdev.features & ~GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_MQ),
		.config = c->cfgspace,
		.config_len = sizeof(c->cfgspace),
		.max_chain = SEG_MAX + 2,
		.stop_fd = sfd,
		.stats = c->stats,
		.serve = serve,
	};

	return blk_ioreq_run(x, &o);
}

/*
 * The vdev transport: serve every frontend the toolstack gives us until a
 * signal (0) or until xenstore goes away (1).  *@st: the cache's counters
 * at the end.
 */
static int serve_vdev(const struct blk_config *c, gm_xen *x, int sfd, struct gm_grant_stats *st)
{
	int r, last_err = 0, rc = 0;
	gm_domid self = 0;

	if ((r = gm_vdev_backend_new(x, &c->vdev, &blk_ops, NULL, &backend)) < 0) {
		fprintf(stderr, "grantmem-blk: cannot start the backend: %s\n", gm_strerror(r));
		return -1;
	}
	gm_xen_self_domid(x, &self);
	printf("grantmem-blk: domain %u serving %s (%" PRIu64 " sectors), %u queue(s), %s grants\n",
	       self, c->image, img.sectors, c->vdev.max_queues,
	       c->vdev.offer_persistent ? "persistent" : "transient");
	fflush(stdout);
	for (r = gm_vdev_backend_process(backend); r != -ENOTCONN;) {
		struct pollfd p[2] = {{.fd = gm_vdev_backend_fd(backend), .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};

		if (r < 0 && r != -EAGAIN && r != last_err)
			fprintf(stderr, "grantmem-blk: xenstore: %d (%s) (retrying)\n", r, gm_strerror(r));
		last_err = r;
		if (poll(p, 2, 250) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			fprintf(stderr, "grantmem-blk: lost xenstore; stopping\n");
			rc = 1;
			break;
		}
		r = gm_vdev_backend_process(backend);
		if (r == -ENOTCONN)
			break;
		for (unsigned i = 0; i < MAX_DEVS; i++)
			if (devs[i])
				publish_stats(devs[i], false);
		if (fault.site) {
			struct blkdev *cur = NULL;

			for (unsigned i = 0; i < MAX_DEVS && !cur; i++)
				cur = devs[i];
			fault_check(cur);
		}
	}
	if (r == -ENOTCONN) {
		/* the library said so once; gm_vdev_backend_free leaves xenstore alone */
		fprintf(stderr, "grantmem-blk: xenstore went away; stopping\n");
		xs_lost = true;
		rc = 1;
	}
	gm_grant_cache_stats(gm_vdev_backend_cache(backend), st);
	gm_vdev_backend_free(backend);
	return rc;
}

/* What the vdev transport's run cost, with --stats. */
static void report_vdev(const struct gm_grant_stats *st)
{
	uint64_t n = atomic_load(&total_requests);

	printf("grantmem-blk: %" PRIu64 " requests, %.3f map calls and %.3f unmap calls per request (rings included)\n",
	       n, n ? (double)st->map_calls / (double)n : 0.0,
	       n ? (double)st->unmap_calls / (double)n : 0.0);
	printf("grantmem-blk: cache: map_calls=%" PRIu64 " unmap_calls=%" PRIu64
	       " pages_mapped=%" PRIu64 " hits=%" PRIu64 " misses=%" PRIu64
	       " evictions=%" PRIu64 " invalidations=%" PRIu64 " mapped_pages_at_exit=%u\n",
	       st->map_calls, st->unmap_calls, st->pages_mapped, st->hits, st->misses,
	       st->evictions, st->invalidations, st->mapped_pages);
}

int main(int argc, char **argv)
{
	struct blk_config c;
	struct gm_grant_stats st;
	gm_xen *x = NULL;
	int r, sfd;

	/* "emu:" worlds (--xen emu:...) come from libgrantmem-emu */
	gm_emu_register();

	parse_options(&c, argc, argv);
	if (open_image(&c) < 0)
		return 1;
	if ((sfd = signals_fd()) < 0)
		return 1;
	if (c.transport == TR_RAM) {
		r = run_ram(&c, sfd);
		goto out;
	}
	if ((r = gm_xen_open(c.spec, &x)) < 0) {
		fprintf(stderr, "grantmem-blk: cannot open Xen (%s): %s\n",
			c.spec ? c.spec : "default", gm_strerror(r));
		r = 1;
		goto out;
	}
	if (c.transport == TR_IOREQ) {
		r = run_ioreq(&c, x, sfd);
		goto out;
	}
	r = serve_vdev(&c, x, sfd, &st);
	if (r < 0) {
		r = 1;
		goto out;
	}
	gm_xen_close(x);
	x = NULL;
	close(sfd);
	sfd = -1;
	close(img.fd);
	img.fd = -1;
	if (c.stats)
		report_vdev(&st);
	fault_report();
	printf("grantmem-blk: stopped\n");
out:
	gm_xen_close(x);
	if (sfd >= 0)
		close(sfd);
	if (img.fd >= 0)
		close(img.fd);
	return r;
}
