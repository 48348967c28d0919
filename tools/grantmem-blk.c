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
 *
 * The default transport is "xenstore" (the vdev protocol, PV domains); with
 * "ioreq" the same request code serves an HVM/PVH guest's own virtio-mmio
 * driver through an ioreq server (tools/blk-ioreq.c).
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
 * (ring mappings excluded: only what the requests cost).
 *
 * SIGINT/SIGTERM: disconnect every frontend (all mappings released), set the
 * backend states to Closed, exit 0.
 */
#include "config.h"

#include "blk-ioreq.h"
#include "virtio-blk.h"

#include <grantmem/grantmem.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
	char id[VBLK_ID_BYTES + 1];
} img;

struct blkdev;

struct queue {
	struct blkdev *dev;
	unsigned index;
	gm_vq *vq;
	pthread_t thread;
	bool started;
};

struct blkdev {
	gm_vdev *vd;
	gm_vdev_backend *be;
	int stop_fd; /* eventfd: the queue threads stop */
	atomic_bool stopping;
	unsigned nq;
	struct queue q[GM_VDEV_MAX_QUEUES];
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t errors;
	struct gm_grant_stats base; /* cache counters when the queues were set up */
	uint64_t last_published;
};

static struct blkdev *devs[MAX_DEVS];
static atomic_uint_fast64_t total_requests;

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
	int st = VBLK_S_OK, n;

	/* a status byte is the least a request must carry */
	if (req->nin == 0 || req->in_len < 1 || req->out_len < sizeof(hdr))
		return 0;
	iov_gather(rd, req->nout, 0, hdr, sizeof(hdr));
	type = (uint32_t)vblk_get_le(hdr, 4);
	sector = vblk_get_le(hdr + 8, 8);
	{
		const struct iovec *last = &wr[req->nin - 1];

		/* the status byte is the last byte of the last writable buffer */
		status = (unsigned char *)last->iov_base + last->iov_len - 1;
	}
	switch (type) {
	case VBLK_T_IN:
	case VBLK_T_OUT: {
		bool out = type == VBLK_T_OUT;
		size_t len;

		if (out)
			n = iov_slice(rd, req->nout, sizeof(hdr), 0, data, DATA_MAX);
		else
			n = iov_slice(wr, req->nin, 0, 1, data, DATA_MAX);
		len = n > 0 ? iov_total(data, n) : 0;
		if (n < 0 || len % VBLK_SECTOR || sector > img.sectors ||
		    len / VBLK_SECTOR > img.sectors - sector) {
			st = VBLK_S_IOERR;
			break;
		}
		if (out && img.readonly) {
			st = VBLK_S_IOERR;
			break;
		}
		if (len && image_io(out, data, n, (off_t)(sector * VBLK_SECTOR)) < 0) {
			st = VBLK_S_IOERR;
			break;
		}
		if (!out)
			written = (uint32_t)len;
		break;
	}
	case VBLK_T_FLUSH:
		if (fdatasync(img.fd) < 0)
			st = VBLK_S_IOERR;
		break;
	case VBLK_T_DISCARD: {
		unsigned char seg[16];
		uint64_t len = req->out_len - sizeof(hdr);

		if (len == 0 || len % sizeof(seg) || len / sizeof(seg) > DISCARD_SEGS) {
			st = VBLK_S_IOERR;
			break;
		}
		for (uint64_t off = sizeof(hdr); off < req->out_len && st == VBLK_S_OK;
		     off += sizeof(seg)) {
			uint64_t sec, num;

			iov_gather(rd, req->nout, (size_t)off, seg, sizeof(seg));
			sec = vblk_get_le(seg, 8);
			num = vblk_get_le(seg + 8, 4);
			if (sec > img.sectors || num > img.sectors - sec || num > DISCARD_SECTORS ||
			    img.readonly) {
				st = VBLK_S_IOERR;
			} else if (num && fallocate(img.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						   (off_t)(sec * VBLK_SECTOR),
						   (off_t)(num * VBLK_SECTOR)) < 0) {
				/* a file system without holes: the guest learns it once */
				st = errno == EOPNOTSUPP ? VBLK_S_UNSUPP : VBLK_S_IOERR;
			}
		}
		break;
	}
	case VBLK_T_GET_ID: {
		size_t left = VBLK_ID_BYTES;
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
		st = VBLK_S_UNSUPP;
		break;
	}
	*status = (unsigned char)st;
	return written + 1;
}

/* ---- queue threads ----------------------------------------------------------- */

static void *queue_main(void *arg)
{
	struct queue *q = arg;
	struct blkdev *d = q->dev;
	gm_evtchn *ev = gm_vdev_queue_evtchn(d->vd, q->index);
	int efd = gm_evtchn_fd(ev);

	for (;;) {
		struct pollfd p[2] = {{.fd = efd, .events = POLLIN}, {.fd = d->stop_fd, .events = POLLIN}};
		bool kick = false;
		int r;

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

			if (gm_vq_push(q->vq, req, w, &notify) == 0) {
				atomic_fetch_add(&d->requests, 1);
				atomic_fetch_add(&total_requests, 1);
				kick |= notify;
			}
		}
		if (kick)
			gm_vdev_notify(d->vd, q->index);
		if (r == -EIO || (r < 0 && gm_vq_broken(q->vq))) {
			fprintf(stderr, "grantmem-blk: frontend %u queue %u is broken; waiting for a reset\n",
				gm_vdev_frontend_id(d->vd), q->index);
			atomic_fetch_add(&d->errors, 1);
			p[0].fd = -1;
		} else if (r == -ENOMEM || r == -ENOSPC || r == -ENOBUFS || r == -EBUSY) {
			/* host resources: try again shortly */
			poll(&p[1], 1, 1);
			continue;
		}
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN) {
			int pp;

			while ((pp = gm_evtchn_pending(ev)) >= 0)
				gm_evtchn_unmask(ev, (gm_port)pp);
		}
	}
	return NULL;
}

/* ---- device callbacks -------------------------------------------------------- */

static void publish_stats(struct blkdev *d, bool force)
{
	struct gm_grant_stats st;
	uint64_t req = atomic_load(&d->requests);
	char v[32];

	if (!force && req == d->last_published)
		return;
	gm_grant_cache_stats(gm_vdev_backend_cache(d->be), &st);
	d->last_published = req;
	snprintf(v, sizeof(v), "%" PRIu64, st.map_calls - d->base.map_calls);
	gm_vdev_write_node(d->vd, "stats/map-calls", v);
	snprintf(v, sizeof(v), "%" PRIu64, st.unmap_calls - d->base.unmap_calls);
	gm_vdev_write_node(d->vd, "stats/unmap-calls", v);
	snprintf(v, sizeof(v), "%" PRIu64, st.pages_mapped - d->base.pages_mapped);
	gm_vdev_write_node(d->vd, "stats/pages-mapped", v);
	/* requests last: a reader that sees the count sees the map calls with it */
	snprintf(v, sizeof(v), "%" PRIu64, req);
	gm_vdev_write_node(d->vd, "stats/requests", v);
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

static gm_vdev_backend *backend;

static int blk_connect(void *opaque, gm_vdev *vd)
{
	const struct gm_vdev_front_info *fi = gm_vdev_frontend_info(vd);
	struct blkdev *d = calloc(1, sizeof(*d));
	unsigned slot;
	int r = 0;

	(void)opaque;
	if (!d)
		return -ENOMEM;
	for (slot = 0; slot < MAX_DEVS && devs[slot]; slot++)
		;
	if (slot == MAX_DEVS) {
		free(d);
		return -EBUSY;
	}
	d->vd = vd;
	d->be = backend;
	d->nq = fi->num_queues;
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (d->stop_fd < 0) {
		free(d);
		return -errno;
	}
	for (unsigned i = 0; i < d->nq; i++) {
		const struct gm_vdev_queue_info *qi = &fi->queues[i];
		struct gm_vq_config c = {
			.size = qi->size,
			.desc_addr = qi->desc,
			.driver_addr = qi->driver,
			.device_addr = qi->device,
			.features = fi->features,
			.max_chain = SEG_MAX + 2 < qi->size ? SEG_MAX + 2 : 0,
			.buf_flags = gm_vdev_policy(vd) == GM_GRANT_PERSISTENT ? GM_MAP_PERSISTENT
									 : GM_MAP_TRANSIENT,
			.index = i,
		};

		d->q[i].dev = d;
		d->q[i].index = i;
		if ((r = gm_vq_new(gm_vdev_mem(vd), &c, &d->q[i].vq)) < 0)
			goto fail;
	}
	/* what the requests cost is counted from here: the rings are mapped */
	gm_grant_cache_stats(gm_vdev_backend_cache(backend), &d->base);
	for (unsigned i = 0; i < d->nq; i++) {
		if ((r = -pthread_create(&d->q[i].thread, NULL, queue_main, &d->q[i])) < 0)
			goto fail;
		d->q[i].started = true;
	}
	devs[slot] = d;
	gm_vdev_set_priv(vd, d);
	publish_stats(d, true);
	vlog("frontend %u connected: %u queue(s), %s, %s grants", gm_vdev_frontend_id(vd), d->nq,
	     fi->features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED) ? "packed" : "split",
	     gm_vdev_policy(vd) == GM_GRANT_PERSISTENT ? "persistent" : "transient");
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
	stop_queues(d);
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

/* ---- main -------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: grantmem-blk --image PATH [--xen SPEC] [--frontend-domid N] [--queues N]\n"
		"                    [--queue-size N] [--persistent] [--packed] [--type T]\n"
		"                    [--read-only] [--stats] [--verbose]\n"
		"       grantmem-blk --transport ioreq --domid N --image PATH\n"
		"                    [--mmio-base ADDR] [--xen SPEC] [--stats]\n");
}

static long num_arg(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "grantmem-blk: bad %s \"%s\"\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"xen", required_argument, NULL, 'x'},
		{"image", required_argument, NULL, 'i'},
		{"frontend-domid", required_argument, NULL, 'f'},
		/* --transport ioreq --domid N: the guest served (= --frontend-domid) */
		{"domid", required_argument, NULL, 'f'},
		{"queues", required_argument, NULL, 'q'},
		{"queue-size", required_argument, NULL, 'Q'},
		{"persistent", no_argument, NULL, 'p'},
		{"packed", no_argument, NULL, 'P'},
		{"type", required_argument, NULL, 't'},
		{"read-only", no_argument, NULL, 'r'},
		{"stats", no_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{"transport", required_argument, NULL, 'T'},
		{"mmio-base", required_argument, NULL, 'B'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *spec = NULL, *image = NULL, *type = NULL;
	unsigned char cfgspace[VBLK_CFG_SIZE] = {0};
	struct gm_vdev_backend_config cfg = {.frontend = -1, .max_queues = 1};
	bool stats = false, packed = false, ioreq = false;
	uint64_t mmio_base = 0;
	struct gm_grant_stats st;
	struct stat sb;
	sigset_t sigs;
	gm_xen *x = NULL;
	int c, r, sfd;

	while ((c = getopt_long(argc, argv, "x:i:f:q:Q:pPt:rsvT:B:h", opts, NULL)) != -1) {
		switch (c) {
		case 'x':
			spec = optarg;
			break;
		case 'i':
			image = optarg;
			break;
		case 'f':
			cfg.frontend = (int)num_arg(optarg, 0, 0x7fef, "frontend domid");
			break;
		case 'q':
			cfg.max_queues = (unsigned)num_arg(optarg, 1, GM_VDEV_MAX_QUEUES, "queue count");
			break;
		case 'Q':
			cfg.max_queue_size = (unsigned)num_arg(optarg, 1, GM_VQ_MAX_SIZE, "queue size");
			break;
		case 'p':
			cfg.offer_persistent = 1;
			break;
		case 'P':
			packed = true;
			break;
		case 't':
			type = optarg;
			break;
		case 'r':
			img.readonly = true;
			break;
		case 's':
			stats = true;
			break;
		case 'v':
			img.verbose = true;
			gm_set_log(NULL, NULL, GM_LOG_INFO);
			break;
		case 'T':
			if (!strcmp(optarg, "ioreq")) {
				ioreq = true;
			} else if (strcmp(optarg, "xenstore")) {
				fprintf(stderr, "grantmem-blk: unknown transport \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'B': {
			char *end;

			errno = 0;
			mmio_base = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end) {
				fprintf(stderr, "grantmem-blk: bad MMIO base \"%s\"\n", optarg);
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!image || optind != argc || (ioreq && cfg.frontend < 0)) {
		usage(stderr);
		return 2;
	}
	img.fd = open(image, (img.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (img.fd < 0 || fstat(img.fd, &sb) < 0) {
		fprintf(stderr, "grantmem-blk: %s: %s\n", image, strerror(errno));
		return 1;
	}
	img.sectors = (uint64_t)sb.st_size / VBLK_SECTOR;
	snprintf(img.id, sizeof(img.id), "grantmem-%" PRIx64, (uint64_t)sb.st_ino);

	vblk_put_le(cfgspace + VBLK_CFG_CAPACITY, img.sectors, 8);
	vblk_put_le(cfgspace + VBLK_CFG_SEG_MAX, SEG_MAX, 4);
	vblk_put_le(cfgspace + VBLK_CFG_BLK_SIZE, VBLK_SECTOR, 4);
	vblk_put_le(cfgspace + VBLK_CFG_NUM_QUEUES, cfg.max_queues, 2);
	vblk_put_le(cfgspace + VBLK_CFG_MAX_DISCARD_SECTORS, DISCARD_SECTORS, 4);
	vblk_put_le(cfgspace + VBLK_CFG_MAX_DISCARD_SEG, DISCARD_SEGS, 4);
	vblk_put_le(cfgspace + VBLK_CFG_DISCARD_ALIGN, 1, 4);
	cfg.type = type;
	cfg.device_id = VBLK_DEVICE_ID;
	cfg.features = GM_VIRTIO_BIT(VBLK_F_SEG_MAX) | GM_VIRTIO_BIT(VBLK_F_BLK_SIZE) |
		       GM_VIRTIO_BIT(VBLK_F_FLUSH) | GM_VIRTIO_BIT(GM_VIRTIO_F_INDIRECT_DESC) |
		       (img.readonly ? 0 : GM_VIRTIO_BIT(VBLK_F_DISCARD)) |
		       GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX);
	if (cfg.max_queues > 1)
		cfg.features |= GM_VIRTIO_BIT(VBLK_F_MQ);
	cfg.config = cfgspace;
	cfg.config_len = sizeof(cfgspace);
	cfg.layouts = 1u << GM_VDEV_SPLIT | (packed ? 1u << GM_VDEV_PACKED : 0);

	/* signals arrive through a descriptor: every thread has them blocked */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("grantmem-blk: signalfd");
		return 1;
	}
	if ((r = gm_xen_open(spec, &x)) < 0) {
		fprintf(stderr, "grantmem-blk: cannot open Xen (%s): %s\n", spec ? spec : "default",
			gm_strerror(r));
		return 1;
	}
	if (ioreq) {
		struct blk_ioreq_opts o = {
			.domid = (gm_domid)cfg.frontend,
			.base = mmio_base,
			.queue_size = cfg.max_queue_size,
			.features = cfg.features & ~GM_VIRTIO_BIT(VBLK_F_MQ),
			.config = cfgspace,
			.config_len = sizeof(cfgspace),
			.max_chain = SEG_MAX + 2,
			.stop_fd = sfd,
			.stats = stats,
			.serve = serve,
		};

		r = blk_ioreq_run(x, &o);
		gm_xen_close(x);
		close(sfd);
		close(img.fd);
		return r;
	}
	if ((r = gm_vdev_backend_new(x, &cfg, &blk_ops, NULL, &backend)) < 0) {
		fprintf(stderr, "grantmem-blk: cannot start the backend: %s\n", gm_strerror(r));
		gm_xen_close(x);
		return 1;
	}
	{
		gm_domid self = 0;

		gm_xen_self_domid(x, &self);
		printf("grantmem-blk: domain %u serving %s (%" PRIu64 " sectors), %u queue(s), %s grants\n",
		       self, image, img.sectors, cfg.max_queues,
		       cfg.offer_persistent ? "persistent" : "transient");
		fflush(stdout);
	}
	int last_err = 0;

	for (r = gm_vdev_backend_process(backend);;) {
		struct pollfd p[2] = {{.fd = gm_vdev_backend_fd(backend), .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};

		if (r < 0 && r != -EAGAIN && r != last_err)
			fprintf(stderr, "grantmem-blk: xenstore: %s (retrying)\n", gm_strerror(r));
		last_err = r;
		if (poll(p, 2, 250) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			fprintf(stderr, "grantmem-blk: lost xenstore\n");
			break;
		}
		r = gm_vdev_backend_process(backend);
		for (unsigned i = 0; i < MAX_DEVS; i++)
			if (devs[i])
				publish_stats(devs[i], false);
	}
	gm_grant_cache_stats(gm_vdev_backend_cache(backend), &st);
	gm_vdev_backend_free(backend);
	gm_xen_close(x);
	close(sfd);
	close(img.fd);
	if (stats) {
		uint64_t n = atomic_load(&total_requests);

		printf("grantmem-blk: %" PRIu64 " requests, %.3f map calls and %.3f unmap calls per request (rings included)\n",
		       n, n ? (double)st.map_calls / (double)n : 0.0,
		       n ? (double)st.unmap_calls / (double)n : 0.0);
		printf("grantmem-blk: cache: map_calls=%" PRIu64 " unmap_calls=%" PRIu64
		       " pages_mapped=%" PRIu64 " hits=%" PRIu64 " misses=%" PRIu64
		       " evictions=%" PRIu64 " invalidations=%" PRIu64 " mapped_pages_at_exit=%u\n",
		       st.map_calls, st.unmap_calls, st.pages_mapped, st.hits, st.misses,
		       st.evictions, st.invalidations, st.mapped_pages);
	}
	printf("grantmem-blk: stopped\n");
	return 0;
}
