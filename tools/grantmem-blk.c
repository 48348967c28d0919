// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * grantmem-blk - a virtio-blk device backend serving a raw image file.
 *
 *   grantmem-blk --image PATH [--image-size BYTES] [--xen SPEC]
 *                [--frontend-domid N] [--queues N] [--queue-size N]
 *                [--persistent] [--packed] [--type T] [--read-only]
 *                [--data map|copy|auto] [--batch N] [--stats] [--verbose]
 *   grantmem-blk --transport ioreq --frontend-domid N --image PATH
 *                [--mmio-base ADDR] [--xen SPEC] [--data MODE] [--stats]
 *   grantmem-blk --transport ram --socket PATH --image PATH [--queues N]
 *                [--queue-size N] [--packed] [--read-only] [--data MODE]
 *                [--stats] [--verbose]
 *
 * The device is its request handler, serve(): the backend loop (dev.h)
 * does the rest — a thread per queue, kicks, batches of requests mapped
 * together, retries, stats, disconnects — over each transport: "xenstore"
 * (the default: the vdev protocol, PV domains, gm_dev_vdev), "ioreq" (an
 * HVM/PVH guest's own virtio-mmio driver through an ioreq server,
 * tools/blk-ioreq.c), and "ram" (a guest whose memory is a memfd it shares
 * over a unix socket, like vhost-user, tools/common/blk-ram.c: the
 * plain-shared-RAM baseline the grant transports are measured against).
 *
 * It needs no foreign-mapping privilege: it runs in any domain (a driver
 * domain), waits for the toolstack to create backend/<type>/<fe>/<devid>
 * directories under its own xenstore path, and serves every frontend (or
 * only --frontend-domid N), from one image, or from one image per frontend
 * (--image with "%u", its domid, and --image-size: a driver domain serving
 * guests that must not see each other's disks).  Data moves with
 * preadv/pwritev straight
 * between the image and the mapped request buffers (no copy), or, with
 * --data copy (and --data auto for requests up to DATA_AUTO_COPY_MAX
 * bytes), through a buffer of the queue's: the request arrives unmapped
 * and its guest buffers are filled or drained with grant copies, one copy
 * call per direction (gm_vq_req_read, gm_vq_req_write).  Requests:
 * IN, OUT, FLUSH, GET_ID, and DISCARD (punches holes in the image); a
 * request the queue refuses (over its limits: virtio.h) gets IOERR.
 *
 * Stats are published in the backend directory every 250 ms and when the
 * frontend disconnects (docs/vdev-protocol.md): stats/requests,
 * stats/map-calls, stats/unmap-calls and stats/pages-mapped, counted from
 * the moment the queues were set up (ring mappings excluded: only what the
 * requests cost), stats/batches, stats/refused, and per queue
 * stats/queue-<i>/wakeups (how often its thread woke for a kick: kicks
 * that arrive while the port is masked, from delivery until the thread
 * unmasks it, coalesce into one) and stats/queue-<i>/requests.
 *
 * SIGINT/SIGTERM: disconnect every frontend (all mappings released), set the
 * backend states to Closed, exit 0.  SIGUSR1 (xenstore transport): print
 * the grant cache's counters now, as --stats does at exit.
 *
 * Testing aid: --fault SITE:N[:ERRNO] [--fault-on connect|disconnect] makes
 * one library call fail once the device serves (tools/common/fault-aid.h;
 * tests/test-fault-sweep-blk.sh sweeps every site).
 */
#include "config.h"

#include "args.h"
#include "blk-ioreq.h"
#include "blk-ram.h"
#include "fault-aid.h"
#include "serve.h"

#include <grantmem/grantmem.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SEG_MAX 126u              /* data segments of a request (config seg_max) */
#define SIZE_MAX_SEG (32u << 10)  /* bytes of a segment (config size_max): seg_max of
				   * them stay within the queue's 4 MiB limit */
#define DATA_MAX (GM_VQ_MAX_CHAIN * 2)
#define DISCARD_SEGS 16u
#define DISCARD_SECTORS (1u << 22)
#define HDR GM_VIRTIO_BLK_OUTHDR_SIZE
/*
 * --data auto: requests of up to 64 KiB of data (with their header and
 * status byte) are copied, bigger ones mapped.  The crossover grantmem-bench
 * measures ("grant copy against mapping", bench/README.md): on the emulated
 * Xen, transient grants, random I/O at depth 32, copying gives 1.4-2.6x the
 * IOPS of batched mapping at 4 KiB, about as many from 16 to 64 KiB (0.7 to
 * 1.2x from run to run), and fewer at 256 KiB (0.7-0.9x), where moving the
 * bytes costs more than mapping the pages.  On real Xen a map costs what
 * some 40 grant copies do, so copying pays further up there.
 */
#define DATA_AUTO_COPY_MAX ((64u << 10) + HDR + 1)
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* A raw image the requests read and write. */
struct disk {
	int fd;
	uint64_t sectors;
	char id[GM_VIRTIO_BLK_ID_BYTES + 1]; /* what GET_ID answers */
};

static struct {
	struct disk disk; /* --image: the one image every frontend shares */
	/*
	 * --image with "%u" in its path: one image per frontend domain (the
	 * "%u" is its id), each of --image-size bytes, created sparse when
	 * missing; opened when the frontend connects, closed when it goes.
	 */
	bool per_frontend;
	const char *path;
	uint64_t size;
	bool readonly;
	bool verbose;
	size_t buf_max; /* the largest request a queue's copy buffer holds */
	/* when the first and the last request were served (ioreq's report) */
	atomic_uint_fast64_t first_ns, last_ns;
} img = {.disk = {.fd = -1}};

static const struct disk *conn_disk(gm_dev_conn *c);

/*
 * The requests of connections that have ended (--stats), and of every
 * connection those that carried no data: identify, flush, refused ones,
 * unknown types (counted as they come, off the read/write path).  The
 * rest are the reads, writes and discards a guest counts as its I/O.
 */
static atomic_uint_fast64_t total_requests, other_requests;

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
 * preadv/pwritev the whole list at @off, looping on short transfers and in
 * IOV_MAX pieces.  Returns 0 or a negative errno (-EIO at end of file).
 */
static int image_io(const struct disk *dk, bool write, struct iovec *v, int n, off_t off)
{
	while (n > 0) {
		int cnt = n > IOV_MAX ? IOV_MAX : n;
		ssize_t k = write ? pwritev(dk->fd, v, cnt, off) : preadv(dk->fd, v, cnt, off);

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

/* A queue's copy buffer (--data copy, auto), made on its first copied request. */
static unsigned char *copy_buf(gm_dev_queue *q)
{
	unsigned char *b = gm_dev_queue_priv(q);

	if (!b && (b = malloc(img.buf_max)))
		gm_dev_queue_set_priv(q, b);
	return b;
}

/* A guest that does not let us move its bytes: say why (verbose), IOERR. */
static int refused_copy(struct gm_vq_req *req, bool out, int err)
{
	vlog("request %u: cannot %s its buffers: %s", req->id, out ? "read" : "write",
	     gm_strerror(err));
	return GM_VIRTIO_BLK_S_IOERR;
}

/*
 * IN and OUT of an unmapped request: the data between the header and the
 * status byte goes through the queue's buffer, gathered from the guest with
 * one gm_vq_req_read (OUT) or scattered to it, the status byte with it,
 * with one gm_vq_req_write (IN: *@status_sent).
 */
static int rw_copy(gm_dev_queue *q, struct gm_vq_req *req, bool out, uint64_t sector,
		   uint32_t *written, bool *status_sent)
{
	const struct disk *dk = conn_disk(gm_dev_queue_conn(q));
	size_t len = out ? (size_t)req->out_len - HDR : (size_t)req->in_len - 1;
	unsigned char *b = copy_buf(q);
	struct iovec v;
	int r;

	if (!b || len % GM_VIRTIO_BLK_SECTOR || sector > dk->sectors ||
	    len / GM_VIRTIO_BLK_SECTOR > dk->sectors - sector || (out && img.readonly))
		return GM_VIRTIO_BLK_S_IOERR;
	if (out && (r = gm_vq_req_read(gm_dev_queue_vq(q), req, HDR, b, len)) < 0)
		return refused_copy(req, true, r);
	v = (struct iovec){.iov_base = b, .iov_len = len};
	if (len && image_io(dk, out, &v, 1, (off_t)(sector * GM_VIRTIO_BLK_SECTOR)) < 0)
		return GM_VIRTIO_BLK_S_IOERR;
	if (out)
		return GM_VIRTIO_BLK_S_OK;
	b[len] = GM_VIRTIO_BLK_S_OK;
	if ((r = gm_vq_req_write(gm_dev_queue_vq(q), req, 0, b, len + 1)) < 0)
		return refused_copy(req, false, r);
	*written = (uint32_t)len;
	*status_sent = true;
	return GM_VIRTIO_BLK_S_OK;
}

/* IN and OUT: the data between the header and the status byte. */
static int rw(gm_dev_queue *q, struct gm_vq_req *req, bool out, uint64_t sector,
	      uint32_t *written, bool *status_sent)
{
	const struct disk *dk = conn_disk(gm_dev_queue_conn(q));
	struct iovec data[DATA_MAX];
	size_t len;
	int n;

	if (req->unmapped)
		return rw_copy(q, req, out, sector, written, status_sent);
	n = out ? gm_iov_slice(req->iov, req->nout, HDR, (size_t)req->out_len - HDR, data,
			       DATA_MAX)
		: gm_iov_slice(req->iov + req->nout, req->nin, 0, (size_t)req->in_len - 1, data,
			       DATA_MAX);
	len = n > 0 ? gm_iov_size(data, (unsigned)n) : 0;
	if (n < 0 || len % GM_VIRTIO_BLK_SECTOR || sector > dk->sectors ||
	    len / GM_VIRTIO_BLK_SECTOR > dk->sectors - sector || (out && img.readonly))
		return GM_VIRTIO_BLK_S_IOERR;
	if (len && image_io(dk, out, data, n, (off_t)(sector * GM_VIRTIO_BLK_SECTOR)) < 0)
		return GM_VIRTIO_BLK_S_IOERR;
	if (!out)
		*written = (uint32_t)len;
	return GM_VIRTIO_BLK_S_OK;
}

/* DISCARD: punch holes for each 16-byte segment after the header. */
static int discard(const struct disk *dk, gm_vq *vq, struct gm_vq_req *req)
{
	uint64_t len = req->out_len - HDR;
	int st = GM_VIRTIO_BLK_S_OK;

	if (len == 0 || len % GM_VIRTIO_BLK_DISCARD_SIZE ||
	    len / GM_VIRTIO_BLK_DISCARD_SIZE > DISCARD_SEGS)
		return GM_VIRTIO_BLK_S_IOERR;
	for (uint64_t off = HDR; off < req->out_len && st == GM_VIRTIO_BLK_S_OK;
	     off += GM_VIRTIO_BLK_DISCARD_SIZE) {
		unsigned char seg[GM_VIRTIO_BLK_DISCARD_SIZE];
		uint64_t sec, num;

		if (gm_vq_req_read(vq, req, off, seg, sizeof(seg)) < 0)
			return GM_VIRTIO_BLK_S_IOERR;
		sec = gm_virtio_blk_get_le(seg, 8);
		num = gm_virtio_blk_get_le(seg + 8, 4);
		if (sec > dk->sectors || num > dk->sectors - sec || num > DISCARD_SECTORS ||
		    img.readonly)
			st = GM_VIRTIO_BLK_S_IOERR;
		else if (num && fallocate(dk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					  (off_t)(sec * GM_VIRTIO_BLK_SECTOR),
					  (off_t)(num * GM_VIRTIO_BLK_SECTOR)) < 0)
			/* a file system without holes: the guest learns it once */
			st = errno == EOPNOTSUPP ? GM_VIRTIO_BLK_S_UNSUPP : GM_VIRTIO_BLK_S_IOERR;
	}
	return st;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The device: serve one request; the bytes written into its writable part. */
static int64_t serve(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
{
	const struct disk *dk = conn_disk(gm_dev_queue_conn(q));
	unsigned char hdr[HDR], st = GM_VIRTIO_BLK_S_UNSUPP;
	uint32_t written = 0;
	uint64_t now = mono_ns(), zero = 0;
	gm_vq *vq = gm_dev_queue_vq(q);
	bool status_sent = false;
	int r;

	(void)opaque;
	atomic_compare_exchange_strong(&img.first_ns, &zero, now);
	atomic_store(&img.last_ns, now);
	if (fault_aid_active())
		fault_aid_check(gm_dev_queue_conn(q), false);
	/* a status byte is the least a request must carry */
	if (req->in_len < 1)
		return 0;
	if (req->error || req->out_len < HDR) {
		/* refused (over the queue's limits), or no header: nothing mapped
		 * of a refused one, the status goes through the bytes API */
		st = GM_VIRTIO_BLK_S_IOERR;
		gm_vq_req_write(vq, req, req->in_len - 1, &st, 1);
		atomic_fetch_add_explicit(&other_requests, 1, memory_order_relaxed);
		return 1;
	}
	if ((r = gm_vq_req_read(vq, req, 0, hdr, HDR)) < 0) {
		atomic_fetch_add_explicit(&other_requests, 1, memory_order_relaxed);
		st = (unsigned char)refused_copy(req, true, r);
		gm_vq_req_write(vq, req, req->in_len - 1, &st, 1);
		return 1;
	}
	switch (gm_virtio_blk_get_le(hdr, 4)) {
	case GM_VIRTIO_BLK_T_IN:
	case GM_VIRTIO_BLK_T_OUT:
		st = (unsigned char)rw(q, req, gm_virtio_blk_get_le(hdr, 4) == GM_VIRTIO_BLK_T_OUT,
				       gm_virtio_blk_get_le(hdr + 8, 8), &written, &status_sent);
		break;
	case GM_VIRTIO_BLK_T_FLUSH:
		atomic_fetch_add_explicit(&other_requests, 1, memory_order_relaxed);
		st = fdatasync(dk->fd) < 0 ? GM_VIRTIO_BLK_S_IOERR : GM_VIRTIO_BLK_S_OK;
		break;
	case GM_VIRTIO_BLK_T_DISCARD:
		st = (unsigned char)discard(dk, vq, req);
		break;
	case GM_VIRTIO_BLK_T_GET_ID:
		atomic_fetch_add_explicit(&other_requests, 1, memory_order_relaxed);
		written = (uint32_t)MIN(GM_VIRTIO_BLK_ID_BYTES, (size_t)req->in_len - 1);
		st = GM_VIRTIO_BLK_S_OK;
		if ((r = gm_vq_req_write(vq, req, 0, dk->id, written)) < 0) {
			st = (unsigned char)refused_copy(req, false, r);
			written = 0;
		}
		break;
	default: /* answered with the status set above */
		atomic_fetch_add_explicit(&other_requests, 1, memory_order_relaxed);
		break;
	}
	/* the status byte is the last byte of the last writable buffer (a
	 * guest that does not let us write it does not learn it) */
	if (!status_sent && (r = gm_vq_req_write(vq, req, req->in_len - 1, &st, 1)) < 0)
		refused_copy(req, false, r);
	return written + 1;
}

/* ---- the device's life --------------------------------------------------------- */

/* Per connection: its image; is it being torn down? (for the fault aid's lines) */
struct blkconn {
	const struct disk *disk; /* what its requests read and write */
	struct disk own;         /* its own image (per-frontend images), else fd -1 */
	atomic_bool stopping;
};

static const struct disk *conn_disk(gm_dev_conn *c)
{
	struct blkconn *b = gm_dev_conn_priv(c);

	return b ? b->disk : &img.disk;
}

/* GET_ID's answer for an image: its inode, unique on the host. */
static void disk_id(struct disk *dk, const struct stat *sb)
{
	snprintf(dk->id, sizeof(dk->id), "grantmem-%" PRIx64, (uint64_t)sb->st_ino);
}

/*
 * Per-frontend images: open (create sparse, when missing and writable)
 * the image of frontend @fdom in @dk.  A file of another size than
 * --image-size is refused: the device's capacity is published before any
 * frontend is known.  0 or -errno (printed).
 */
static int disk_open_frontend(struct disk *dk, gm_domid fdom)
{
	const char *at = strstr(img.path, "%u");
	char path[PATH_MAX];
	struct stat sb;
	int r, n;

	n = snprintf(path, sizeof(path), "%.*s%u%s", (int)(at - img.path), img.path, fdom, at + 2);
	if (n < 0 || n >= (int)sizeof(path))
		return -ENAMETOOLONG;
	dk->fd = open(path, img.readonly ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_CLOEXEC,
		      0600);
	if (dk->fd < 0 || fstat(dk->fd, &sb) < 0)
		goto fail;
	if (sb.st_size == 0 && !img.readonly && ftruncate(dk->fd, (off_t)img.size) < 0)
		goto fail;
	if (sb.st_size != 0 && (uint64_t)sb.st_size != img.size) {
		fprintf(stderr, "grantmem-blk: %s: %" PRIu64 " bytes, not --image-size %" PRIu64 "\n",
			path, (uint64_t)sb.st_size, img.size);
		close(dk->fd);
		dk->fd = -1;
		return -EINVAL;
	}
	dk->sectors = img.size / GM_VIRTIO_BLK_SECTOR;
	disk_id(dk, &sb);
	vlog("frontend %u: image %s", fdom, path);
	return 0;
fail:
	r = -errno;
	fprintf(stderr, "grantmem-blk: %s: %s\n", path, strerror(errno));
	if (dk->fd >= 0)
		close(dk->fd);
	dk->fd = -1;
	return r;
}

/* Connections of the vdev transport, for the fault aid (its thread only). */
#define MAX_CONNS 64
static gm_dev_conn *conns[MAX_CONNS];

static unsigned conn_queues(gm_dev_conn *c)
{
	gm_vdev *vd = gm_dev_conn_vdev(c);

	return vd ? gm_vdev_frontend_info(vd)->num_queues
		  : gm_dev_get_config(gm_dev_conn_dev(c))->max_queues;
}

static int blk_connect(void *opaque, gm_dev_conn *c)
{
	struct blkconn *b = calloc(1, sizeof(*b));
	gm_vdev *vd = gm_dev_conn_vdev(c);

	(void)opaque;
	if (!b)
		return -ENOMEM;
	b->disk = &img.disk;
	b->own.fd = -1;
	if (vd && img.per_frontend) {
		int r = disk_open_frontend(&b->own, gm_vdev_frontend_id(vd));

		if (r < 0) {
			free(b);
			return r;
		}
		b->disk = &b->own;
	}
	gm_dev_conn_set_priv(c, b);
	for (unsigned i = 0; vd && i < MAX_CONNS; i++)
		if (!conns[i]) {
			conns[i] = c;
			break;
		}
	if (vd)
		vlog("%s connected: %u queue(s), %s, %s grants", gm_dev_conn_name(c),
		     conn_queues(c),
		     gm_vdev_frontend_info(vd)->features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED)
			     ? "packed" : "split",
		     gm_vdev_policy(vd) == GM_GRANT_PERSISTENT ? "persistent" : "transient");
	else
		vlog("%s connected", gm_dev_conn_name(c));
	return 0;
}

static void blk_disconnect(void *opaque, gm_dev_conn *c)
{
	struct blkconn *b = gm_dev_conn_priv(c);
	struct gm_dev_stats st = {.size = sizeof(st)};

	(void)opaque;
	gm_dev_conn_stats(c, -1, &st);
	atomic_fetch_add(&total_requests, st.requests);
	if (fault_aid_active()) {
		char served[256];

		fault_aid_check(c, true);
		fault_aid_served(c, conn_queues(c), served, sizeof(served));
		printf("grantmem-blk: %s disconnected: served%s\n", gm_dev_conn_name(c), served);
		fflush(stdout);
	}
	vlog("%s disconnected after %" PRIu64 " requests", gm_dev_conn_name(c), st.requests);
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (conns[i] == c)
			conns[i] = NULL;
	if (b->own.fd >= 0)
		close(b->own.fd);
	free(b);
}

/* The fault aid counts from when the connection's last queue serves, or from
 * the start of its first disconnect (the first queue stops first). */
static int queue_start(void *opaque, gm_dev_queue *q)
{
	gm_dev_conn *c = gm_dev_queue_conn(q);

	(void)opaque;
	if (gm_dev_conn_vdev(c) && gm_dev_queue_index(q) + 1 == conn_queues(c))
		fault_aid_arm(false);
	return 0;
}

static void queue_stop(void *opaque, gm_dev_queue *q)
{
	gm_dev_conn *c = gm_dev_queue_conn(q);
	struct blkconn *b = gm_dev_conn_priv(c);

	(void)opaque;
	free(gm_dev_queue_priv(q));
	gm_dev_queue_set_priv(q, NULL);
	if (!gm_dev_conn_vdev(c) || gm_dev_queue_index(q))
		return;
	atomic_store(&b->stopping, true);
	fault_aid_arm(true);
}

/* Every stats period, on the vdev transport's thread. */
static void report_cache(const struct gm_grant_stats *st, const char *when);

static void tick(void *opaque)
{
	struct gm_grant_stats st = {.size = sizeof(st)};

	(void)opaque;
	if (tool_stats_asked(&st))
		report_cache(&st, "mapped_pages");
	for (unsigned i = 0; fault_aid_active() && i < MAX_CONNS; i++)
		if (conns[i]) {
			struct blkconn *b = gm_dev_conn_priv(conns[i]);

			fault_aid_check(conns[i], atomic_load(&b->stopping));
			break;
		}
}

static const struct gm_dev_handler blk_handler = {
	.request = serve,
	.start = queue_start,
	.stop = queue_stop,
};

/* ---- main -------------------------------------------------------------------- */

enum transport { TR_XENSTORE, TR_IOREQ, TR_RAM };

/* What the command line asked for, and the device it makes of the image. */
struct blk_config {
	const char *spec, *image, *type, *socket_path;
	enum transport transport;
	uint64_t unmapped_max; /* --data */
	unsigned batch;
	bool stats, packed;
	uint64_t mmio_base;
	struct gm_vdev_backend_config vdev; /* what the vdev transport offers */
	struct gm_grant_cache_config cache; /* --cache-pages (vdev.cache points here) */
	struct gm_dev_config dev;
	unsigned char cfgspace[GM_VIRTIO_BLK_CFG_SIZE];
};

#define KEY_FAULT TOOL_LONG_ONLY
#define KEY_FAULT_ON (TOOL_LONG_ONLY + 1)
#define KEY_DOMID (TOOL_LONG_ONLY + 2)
#define KEY_DATA (TOOL_LONG_ONLY + 3)
#define KEY_BATCH (TOOL_LONG_ONLY + 4)
#define KEY_IMAGE_SIZE (TOOL_LONG_ONLY + 5)
#define KEY_CACHE_PAGES (TOOL_LONG_ONLY + 6)

static const struct tool_opt opts[] = {
	{"image", 'i', "PATH", "the raw image file to serve (required); with \"%u\" in PATH, one\n"
			       "image per frontend domain (%u: its id), see --image-size"},
	{"image-size", KEY_IMAGE_SIZE, "BYTES", "with a per-frontend --image: each image's size,\n"
						"with k, m or g; created sparse when missing"},
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
	{"data", KEY_DATA, "MODE", "map (default): map the guest's buffers; copy: grant-copy\n"
				   "them through a buffer, nothing mapped; auto: copy requests\n"
				   "up to 64 KiB, map bigger ones"},
	{"cache-pages", KEY_CACHE_PAGES, "N", "the grant cache's budget: pages mapped at once, all\n"
					      "frontends together (default 65536), each frontend\n"
					      "guaranteed 256 of them"},
	{"batch", KEY_BATCH, "N", "requests a queue takes (and maps) together after a kick\n"
				  "(default 32; 1: each on its own)"},
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
	.synopsis = "grantmem-blk --image PATH [--image-size BYTES] [--xen SPEC]\n"
		    "             [--frontend-domid N] [--queues N] [--queue-size N]\n"
		    "             [--persistent] [--packed] [--type T] [--read-only]\n"
		    "             [--data map|copy|auto] [--batch N] [--cache-pages N]\n"
		    "             [--stats] [--verbose]\n"
		    "grantmem-blk --transport ioreq --domid N --image PATH\n"
		    "             [--mmio-base ADDR] [--xen SPEC] [--data MODE] [--stats]\n"
		    "grantmem-blk --transport ram --socket PATH --image PATH [--queues N]\n"
		    "             [--queue-size N] [--packed] [--read-only] [--data MODE]\n"
		    "             [--stats] [--verbose]",
	.about = "A virtio-blk backend.  ram: no Xen; serve grantmem-guest --transport ram\n"
		 "--socket PATH, one guest at a time, on the memfd it shares (the plain-shared-RAM\n"
		 "baseline of the grant modes).  --fault is for the xenstore transport; it\n"
		 "reports on stdout.  SIGINT/SIGTERM: disconnect every frontend and exit 0.\n"
		 "SIGUSR1 (xenstore transport): print the grant cache's counters.\n"
		 "exit status: 0 clean stop, 1 failure (also: xenstore went away), 2 usage error",
	.opts = opts,
};

/* The command line into @c.  Usage errors exit 2. */
static void parse_options(struct blk_config *c, int argc, char **argv)
{
	static const char *const transports[] = {"xenstore", "ioreq", "ram", NULL};
	static const char *const when[] = {"connect", "disconnect", NULL};
	int k;

	*c = (struct blk_config){.vdev = {.frontend = -1, .max_queues = 1},
				 .cache = {.size = sizeof(c->cache)}};
	while ((k = tool_next(&T, argc, argv)) != -1) {
		switch (k) {
		case 'x':
			c->spec = optarg;
			break;
		case 'i':
			c->image = optarg;
			break;
		case KEY_IMAGE_SIZE:
			img.size = tool_size(&T, optarg, GM_VIRTIO_BLK_SECTOR, UINT64_MAX / 2);
			if (img.size % GM_VIRTIO_BLK_SECTOR)
				tool_usage_error(&T, "--image-size: %s is not a multiple of 512", optarg);
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
			if (fault_aid_parse(T.name, optarg) < 0)
				tool_usage_error(&T, "--fault: bad \"%s\"; want SITE:N[:ERRNO] with a "
						 "fault site of the library", optarg);
			break;
		case KEY_BATCH:
			c->batch = (unsigned)tool_num(&T, optarg, 1, GM_VQ_MAX_BATCH);
			break;
		case KEY_CACHE_PAGES:
			c->cache.max_pages = (uint32_t)tool_num(&T, optarg, 1, 1u << 24);
			c->vdev.cache = &c->cache;
			break;
		case KEY_DATA:
			c->unmapped_max = tool_data_path(&T, optarg, DATA_AUTO_COPY_MAX);
			break;
		case KEY_FAULT_ON:
			fault_aid_on_disconnect(tool_choice(&T, optarg, when) == 1);
			break;
		}
	}
	if (optind != argc)
		tool_usage_error(&T, "unexpected argument \"%s\"", argv[optind]);
	if (!c->image)
		tool_usage_error(&T, "--image is required");
	img.path = c->image;
	img.per_frontend = strchr(c->image, '%') != NULL;
	if (img.per_frontend) {
		const char *at = strstr(c->image, "%u");

		if (!at || strchr(at + 2, '%') || strchr(c->image, '%') != at)
			tool_usage_error(&T, "--image: a per-frontend path has one \"%%u\" and no "
					 "other %%");
		if (!img.size)
			tool_usage_error(&T, "--image with \"%%u\" needs --image-size");
		if (c->transport != TR_XENSTORE)
			tool_usage_error(&T, "per-frontend images are for the xenstore transport");
	} else if (img.size) {
		tool_usage_error(&T, "--image-size is for a per-frontend --image (\"%%u\")");
	}
	if (c->transport == TR_IOREQ && c->vdev.frontend < 0)
		tool_usage_error(&T, "--transport ioreq needs --domid");
	if (c->transport == TR_RAM && !c->socket_path)
		tool_usage_error(&T, "--transport ram needs --socket");
	if (c->transport != TR_RAM && c->socket_path)
		tool_usage_error(&T, "--socket is for --transport ram");
}

/*
 * Open the image (img) and describe the device it makes in @c: the virtio
 * device of every transport (gm_dev_config: its config space, features,
 * limits and handler) and what the vdev transport offers.  0, or -1
 * (printed).
 */
static int open_image(struct blk_config *c)
{
	unsigned char *cs = c->cfgspace;
	unsigned nq = c->transport == TR_IOREQ ? 1 : c->vdev.max_queues;
	struct stat sb;

	if (img.per_frontend) {
		/* each frontend's own, opened when it connects */
		img.disk.sectors = img.size / GM_VIRTIO_BLK_SECTOR;
	} else {
		img.disk.fd = open(c->image, (img.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (img.disk.fd < 0 || fstat(img.disk.fd, &sb) < 0) {
			fprintf(stderr, "grantmem-blk: %s: %s\n", c->image, strerror(errno));
			return -1;
		}
		img.disk.sectors = (uint64_t)sb.st_size / GM_VIRTIO_BLK_SECTOR;
		disk_id(&img.disk, &sb);
	}

	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_CAPACITY, img.disk.sectors, 8);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_SIZE_MAX, SIZE_MAX_SEG, 4);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_SEG_MAX, SEG_MAX, 4);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_BLK_SIZE, GM_VIRTIO_BLK_SECTOR, 4);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_NUM_QUEUES, nq, 2);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, DISCARD_SECTORS, 4);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_MAX_DISCARD_SEG, DISCARD_SEGS, 4);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_DISCARD_ALIGN, 1, 4);
	c->dev = (struct gm_dev_config){
		.size = sizeof(c->dev),
		.name = "grantmem-blk",
		.device_id = GM_VIRTIO_BLK_DEVICE_ID,
		.features = GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_SIZE_MAX) |
			    GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_SEG_MAX) |
			    GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_BLK_SIZE) |
			    GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_FLUSH) |
			    GM_VIRTIO_BIT(GM_VIRTIO_F_INDIRECT_DESC) |
			    GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX) |
			    (img.readonly ? 0 : GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_DISCARD)) |
			    (nq > 1 ? GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_MQ) : 0),
		.config = cs,
		.config_len = sizeof(c->cfgspace),
		.max_queues = nq,
		.max_queue_size = c->vdev.max_queue_size,
		/* header + data segments + status: more is refused (IOERR); chains
		 * up to the queue size are walked to say so */
		.max_request_segments = SEG_MAX + 2,
		.max_batch = c->batch,
		.handler = &blk_handler,
		.connect = blk_connect,
		.disconnect = blk_disconnect,
		.tick = tick,
		.unmapped_max = c->unmapped_max,
	};
	/* the queues' request limit (its default): a copy buffer holds one */
	img.buf_max = GM_VQ_DEFAULT_MAX_REQUEST_BYTES;
	c->vdev.type = c->type;
	c->vdev.layouts = 1u << GM_VDEV_SPLIT | (c->packed ? 1u << GM_VDEV_PACKED : 0);
	return 0;
}

/* --transport ram: no Xen at all; the guest's memory is a memfd it gives us. */
static int run_ram(const struct blk_config *c, gm_dev *dev, int sfd)
{
	struct blk_ram_opts o = {
		.socket = c->socket_path,
		.dev = dev,
		.features = c->packed ? GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED) : 0,
		.stop_fd = sfd,
	};
	int r;

	printf("grantmem-blk: serving %s (%" PRIu64 " sectors), %u queue(s), plain shared RAM\n",
	       c->image, img.disk.sectors, c->vdev.max_queues);
	r = blk_ram_run(&o);
	if (c->stats)
		printf("grantmem-blk: %" PRIu64 " requests (plain RAM: nothing mapped per request)\n",
		       (uint64_t)atomic_load(&total_requests));
	printf("grantmem-blk: stopped\n");
	return r;
}

/* Seconds from the first request served to the last (ioreq's report). */
static double busy_seconds(void)
{
	uint64_t a = atomic_load(&img.first_ns), b = atomic_load(&img.last_ns);

	return a && b > a ? (double)(b - a) / 1e9 : 0.0;
}

/* --transport ioreq: the guest's own virtio-mmio driver, through an ioreq server. */
static int run_ioreq(const struct blk_config *c, gm_xen *x, gm_dev *dev, int sfd)
{
	struct blk_ioreq_opts o = {
		.domid = (gm_domid)c->vdev.frontend,
		.base = c->mmio_base,
		.stop_fd = sfd,
		.stats = c->stats,
		.seconds = busy_seconds,
	};

	return blk_ioreq_run(x, dev, &o);
}

/*
 * The vdev transport: serve every frontend the toolstack gives us until a
 * signal (0) or until xenstore goes away (1).  *@st: the cache's counters
 * at the end.
 */
/* What the vdev transport's run cost, with --stats. */
static void report_vdev(const struct gm_grant_stats *st)
{
	uint64_t n = atomic_load(&total_requests), other = atomic_load(&other_requests);

	printf("grantmem-blk: %" PRIu64 " requests: %" PRIu64 " reads, writes and discards, %" PRIu64
	       " others (identify, flush, refused, unknown); %.3f map calls and %.3f unmap calls per "
	       "request (rings included)\n",
	       n, n > other ? n - other : 0, other, n ? (double)st->map_calls / (double)n : 0.0,
	       n ? (double)st->unmap_calls / (double)n : 0.0);
	report_cache(st, "mapped_pages_at_exit");
}

/* The grant cache's counters, one line (at exit, and on SIGUSR1). */
static void report_cache(const struct gm_grant_stats *st, const char *when)
{
	printf("grantmem-blk: cache: map_calls=%" PRIu64 " unmap_calls=%" PRIu64
	       " pages_mapped=%" PRIu64 " hits=%" PRIu64 " misses=%" PRIu64
	       " evictions=%" PRIu64 " invalidations=%" PRIu64 " %s=%u\n",
	       st->map_calls, st->unmap_calls, st->pages_mapped, st->hits, st->misses,
	       st->evictions, st->invalidations, when, st->mapped_pages);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct blk_config c;
	struct gm_grant_stats st = {.size = sizeof(st)};
	gm_dev *dev = NULL;
	gm_xen *x = NULL;
	char banner[PATH_MAX + 128];
	int r, sfd;

	/* "emu:" worlds (--xen emu:...) come from libgrantmem-emu */
	gm_emu_register();

	parse_options(&c, argc, argv);
	if (open_image(&c) < 0)
		return 1;
	if ((sfd = tool_signals_fd("grantmem-blk")) < 0)
		return 1;
	if ((r = tool_stats_on_usr1()) < 0)
		fprintf(stderr, "grantmem-blk: SIGUSR1: %s\n", gm_strerror(r));
	if ((r = gm_dev_new(&c.dev, &dev)) < 0) {
		fprintf(stderr, "grantmem-blk: %s\n", gm_strerror(r));
		r = 1;
		goto out;
	}
	if (c.transport == TR_RAM) {
		r = run_ram(&c, dev, sfd);
		goto out;
	}
	if ((r = gm_xen_open(c.spec, &x)) < 0) {
		fprintf(stderr, "grantmem-blk: cannot open Xen (%s): %s\n",
			c.spec ? c.spec : "default", gm_strerror(r));
		r = 1;
		goto out;
	}
	if (c.transport == TR_IOREQ) {
		r = run_ioreq(&c, x, dev, sfd);
		goto out;
	}
	snprintf(banner, sizeof(banner), "serving %s (%" PRIu64 " sectors), %u queue(s), %s grants",
		 c.image, img.disk.sectors, c.vdev.max_queues,
		 c.vdev.offer_persistent ? "persistent" : "transient");
	r = tool_serve_vdev("grantmem-blk", x, dev, &c.vdev, sfd, banner, &st);
	if (r < 0) {
		r = 1;
		goto out;
	}
	if (c.stats)
		report_vdev(&st);
	fault_aid_report();
	printf("grantmem-blk: stopped\n");
out:
	gm_xen_close(x);
	gm_dev_free(dev);
	close(sfd);
	if (img.disk.fd >= 0)
		close(img.disk.fd);
	return r;
}
