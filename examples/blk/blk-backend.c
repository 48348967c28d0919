// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * blk-backend - a complete multi-queue virtio-blk backend for Xen guests.
 *
 *   blk-backend XEN-SPEC IMAGE [QUEUES]    e.g.  blk-backend real disk.img 4
 *
 * What it shows: on grantmem's backend loop (grantmem/dev.h) a virtio
 * device is its request handler.  The loop serves every frontend the
 * toolstack gives this domain over the vdev transport (xenstore, grants,
 * event channels): a thread per queue; one event-channel port acknowledged
 * per wakeup; what a kick brings popped as a batch whose buffers take one
 * grant map call per direction, unmapped before the guest sees any of it
 * completed; retries when Xen says no; stats in xenstore; everything let
 * go of when a frontend leaves.  The handler gets a request as host iovecs
 * (readable first) and returns the bytes it wrote; a request beyond the
 * queue's limits comes refused, nothing mapped, and gets an I/O error like
 * any failed one.  No grant reference, event channel or ring index appears
 * below.  XEN-SPEC: "real", or "emu:SOCKET,domid=N" (grantmem's emulated
 * Xen, as make check runs it).
 */
#include <grantmem/grantmem.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SEG_MAX 126   /* data buffers per request, as offered in the config */
#define HDR GM_VIRTIO_BLK_OUTHDR_SIZE

static int image;
static uint64_t sectors;

/* preadv/pwritev of exactly the slice [skip, skip + len) of @v. */
static int io(bool write, const struct iovec *v, unsigned n, size_t skip, size_t len, off_t at)
{
	struct iovec d[SEG_MAX];
	int k = gm_iov_slice(v, n, skip, len, d, SEG_MAX);
	ssize_t r;

	if (k < 0 || at < 0 || len % GM_VIRTIO_BLK_SECTOR ||
	    len / GM_VIRTIO_BLK_SECTOR > sectors - (uint64_t)at / GM_VIRTIO_BLK_SECTOR)
		return -1;
	r = write ? pwritev(image, d, k, at) : preadv(image, d, k, at);
	return r == (ssize_t)len ? 0 : -1;
}

static int64_t serve(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
{
	const struct iovec *rd = req->iov, *wr = req->iov + req->nout;
	unsigned char hdr[HDR], st = GM_VIRTIO_BLK_S_IOERR;
	size_t in = req->in_len ? (size_t)req->in_len - 1 : 0, written = 0;

	(void)opaque;
	if (!req->in_len)
		return 0; /* no room for a status byte: nothing to answer */
	if (!req->error && gm_iov_to_buf(rd, req->nout, 0, hdr, HDR) == HDR) {
		uint64_t sector = gm_virtio_blk_get_le(hdr + 8, 8);
		off_t at = sector <= sectors ? (off_t)(sector * GM_VIRTIO_BLK_SECTOR) : -1;

		switch (gm_virtio_blk_get_le(hdr, 4)) {
		case GM_VIRTIO_BLK_T_IN:
			if (!io(false, wr, req->nin, 0, in, at)) {
				st = GM_VIRTIO_BLK_S_OK;
				written = in;
			}
			break;
		case GM_VIRTIO_BLK_T_OUT:
			if (!io(true, rd, req->nout, HDR, (size_t)req->out_len - HDR, at))
				st = GM_VIRTIO_BLK_S_OK;
			break;
		case GM_VIRTIO_BLK_T_FLUSH:
			st = fdatasync(image) ? GM_VIRTIO_BLK_S_IOERR : GM_VIRTIO_BLK_S_OK;
			break;
		case GM_VIRTIO_BLK_T_GET_ID:
			written = gm_iov_from_buf(wr, req->nin, 0, "blk-backend", in < 11 ? in : 11);
			st = GM_VIRTIO_BLK_S_OK;
			break;
		default:
			st = GM_VIRTIO_BLK_S_UNSUPP;
		}
	}
	/* the last writable byte: mapped, copied or (refused) not mapped at all */
	gm_vq_req_write(gm_dev_queue_vq(q), req, in, &st, 1);
	return (int64_t)written + 1;
}

int main(int argc, char **argv)
{
	static const struct gm_dev_handler handler = {.request = serve};
	unsigned char cs[GM_VIRTIO_BLK_CFG_SIZE] = {0};
	uint64_t queues = 1;
	struct gm_vdev_backend_config vcfg = {.frontend = -1};
	struct stat sb;
	sigset_t sigs;
	gm_dev_vdev *v;
	gm_dev *dev;
	gm_xen *x;
	int r, sfd;

	if (argc < 3 || (argc > 3 && gm_vdev_parse_u64(argv[3], GM_DEV_MAX_QUEUES, &queues) < 0) ||
	    queues < 1) {
		fprintf(stderr, "usage: blk-backend XEN-SPEC IMAGE [QUEUES]\n");
		return 2;
	}
	unsigned nq = (unsigned)queues;

	if ((image = open(argv[2], O_RDWR | O_CLOEXEC)) < 0 || fstat(image, &sb) < 0) {
		perror(argv[2]);
		return 1;
	}
	sectors = (uint64_t)sb.st_size / GM_VIRTIO_BLK_SECTOR;
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_CAPACITY, sectors, 8);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_SEG_MAX, SEG_MAX, 4);
	gm_virtio_blk_put_le(cs + GM_VIRTIO_BLK_CFG_NUM_QUEUES, nq, 2);
	struct gm_dev_config cfg = {
		.size = sizeof(cfg), .name = "blk-backend", .device_id = GM_VIRTIO_BLK_DEVICE_ID,
		.features = GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_SEG_MAX) |
			    GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_FLUSH) | GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_MQ) |
			    GM_VIRTIO_BIT(GM_VIRTIO_F_INDIRECT_DESC) |
			    GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX),
		.config = cs, .config_len = sizeof(cs), .max_queues = nq,
		.max_request_segments = SEG_MAX + 2, .handler = &handler,
	};

	/* stop on SIGINT/SIGTERM, through a descriptor the loop polls */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	gm_emu_register(); /* "emu:" worlds */
	if ((r = gm_xen_open(argv[1], &x)) < 0 || (r = gm_dev_new(&cfg, &dev)) < 0 ||
	    (r = gm_dev_vdev_new(dev, x, &vcfg, &v)) < 0) {
		fprintf(stderr, "blk-backend: %s\n", gm_strerror(r));
		return 1;
	}
	printf("blk-backend: serving %s, %" PRIu64 " sectors, %u queue(s)\n", argv[2], sectors, nq);
	fflush(stdout);
	r = gm_dev_vdev_run(v, sfd);
	gm_dev_vdev_free(v); /* every frontend let go of, its mappings released */
	gm_dev_free(dev);
	gm_xen_close(x);
	printf("blk-backend: stopped (%s)\n", r ? gm_strerror(r) : "signal");
	return r ? 1 : 0;
}
