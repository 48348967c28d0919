/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ioreq transport with real virtqueues, without Xen: a driver (the
 * test, as Linux's virtio_mmio + a virtio driver would) sets the device up
 * through the MMIO handlers, puts requests in rings that live in granted
 * pages of the fake Xen, kicks; the device model creates gm_vq queues over
 * the transport's grant space, serves the kicks from gm_ioreq_dev_process
 * and interrupts.  Checks the data, one map call per request direction,
 * read-only grants for what the device reads, and that a reset leaves
 * nothing mapped (the guest could end access to every grant).  Then the
 * same through the backend loop (gm_ioreq_loop): the kicks served on the
 * loop's queue thread, one map call per direction per batch, the
 * interrupts raised from there, a hostile chain that sets
 * DEVICE_NEEDS_RESET from the queue thread, and a reset that stops the
 * queue with nothing left mapped.
 */
#include "config.h"

#include <grantmem/grantmem.h>
#include <grantmem/ioreq.h>
#include <grantmem/virtio.h>

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "fake-xen.h"
#include "helpers.h"
#include "virtq-driver.h"

#define GUEST 7
#define NPAGES 12 /* refs 100.. : 3 ring pages, then data pages */
#define REF0 100
#define QSIZE 16
#define ROUNDS 300

static struct fake_xen *f;
static gm_vq *vq;
static gm_ioreq_dev *dev;
static unsigned served;
static atomic_uint irqs;

static int q_enable(void *opaque, gm_ioreq_dev *d, unsigned q, const struct gm_ioreq_queue *info)
{
	struct gm_vq_config c = {
		.size = info->size,
		.desc_addr = info->desc,
		.driver_addr = info->driver,
		.device_addr = info->device,
		.features = gm_ioreq_dev_features(d),
		.index = q,
	};

	(void)opaque;
	return gm_vq_new(gm_ioreq_dev_mem(d), &c, &vq);
}

static void q_disable(void *opaque, gm_ioreq_dev *d, unsigned q)
{
	(void)opaque;
	(void)d;
	(void)q;
	gm_vq_free(vq);
	vq = NULL;
}

/* The "device": copy the request's readable bytes, reversed, into its writable part. */
static void q_notify(void *opaque, gm_ioreq_dev *d, unsigned q)
{
	struct gm_vq_req *req;
	bool notify, any = false;

	(void)opaque;
	(void)q;
	while (gm_vq_pop(vq, &req) == 0) {
		unsigned char *in = req->iov[0].iov_base, *out = req->iov[req->nout].iov_base;
		size_t n = req->iov[0].iov_len;

		ASSERT_EQ(req->nout, 1);
		ASSERT_EQ(req->nin, 1);
		ASSERT_EQ(req->iov[req->nout].iov_len, n);
		for (size_t i = 0; i < n; i++)
			out[i] = in[n - 1 - i];
		ASSERT_OK(gm_vq_push(vq, req, (uint32_t)n, &notify));
		served++;
		any |= notify;
	}
	if (any)
		ASSERT_OK(gm_ioreq_dev_interrupt(d, GM_VMMIO_INT_VRING));
}

static const struct gm_ioreq_dev_ops ops = {
	.queue_enable = q_enable,
	.queue_disable = q_disable,
	.queue_notify = q_notify,
};

static int irq_raise(void *opaque, gm_ioreq_dev *d, uint32_t bits)
{
	(void)opaque;
	(void)d;
	(void)bits;
	atomic_fetch_add(&irqs, 1);
	return 0;
}

static const struct gm_ioreq_irq_ops irq_ops = {.raise = irq_raise};

static void wr(uint64_t off, uint32_t v)
{
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, off, 4, v));
}

static uint32_t rd(uint64_t off)
{
	uint64_t v;

	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, off, 4, &v));
	return (uint32_t)v;
}

/* virtio_mmio's probe, feature negotiation and set-up of queue 0 */
static void driver_setup(struct vqd *drv, gm_mem *guest, const struct vqd_config *vc)
{
	const uint64_t need = 1ull << GM_VMMIO_F_VERSION_1 | 1ull << GM_VMMIO_F_ACCESS_PLATFORM;

	wr(GM_VMMIO_STATUS, 0);
	wr(GM_VMMIO_STATUS, 3);
	wr(GM_VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(GM_VMMIO_DRIVER_FEATURES, (uint32_t)(need >> 32));
	wr(GM_VMMIO_STATUS, 0xb);
	ASSERT_EQ(rd(GM_VMMIO_STATUS), 0xb);
	ASSERT_OK(vqd_init(drv, guest, vc));
	wr(GM_VMMIO_QUEUE_SEL, 0);
	wr(GM_VMMIO_QUEUE_NUM, QSIZE);
	wr(GM_VMMIO_QUEUE_DESC_LOW, (uint32_t)vc->desc_addr);
	wr(GM_VMMIO_QUEUE_DESC_HIGH, (uint32_t)(vc->desc_addr >> 32));
	wr(GM_VMMIO_QUEUE_DRIVER_LOW, (uint32_t)vc->driver_addr);
	wr(GM_VMMIO_QUEUE_DRIVER_HIGH, (uint32_t)(vc->driver_addr >> 32));
	wr(GM_VMMIO_QUEUE_DEVICE_LOW, (uint32_t)vc->device_addr);
	wr(GM_VMMIO_QUEUE_DEVICE_HIGH, (uint32_t)(vc->device_addr >> 32));
	wr(GM_VMMIO_QUEUE_READY, 1);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_READY), 1);
	wr(GM_VMMIO_STATUS, 0xf);
}

static unsigned mapped_refs(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NPAGES; i++)
		n += fake_xen_ref_mapped(f, GUEST, REF0 + i);
	return n;
}

/* ---- the same through the backend loop ---- */

static atomic_uint loop_served;

/* The loop's handler: the readable bytes, reversed, into the writable part. */
static int64_t h_reverse(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
{
	unsigned char buf[GM_PAGE_SIZE], rev[GM_PAGE_SIZE];
	size_t n = (size_t)req->out_len;

	(void)opaque;
	(void)q;
	ASSERT_TRUE(!req->error && n == req->in_len && n <= sizeof(buf));
	ASSERT_EQ(gm_iov_to_buf(req->iov, req->nout, 0, buf, n), n);
	for (size_t i = 0; i < n; i++)
		rev[i] = buf[n - 1 - i];
	ASSERT_EQ(gm_iov_from_buf(req->iov + req->nout, req->nin, 0, rev, n), n);
	atomic_fetch_add(&loop_served, 1);
	return (int64_t)n;
}

static const struct gm_dev_handler reverse_handler = {.request = h_reverse};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void loop_part(gm_mem *mem, gm_grant_cache *cache, gm_mem *guest,
		      const struct vqd_config *vc)
{
	struct gm_dev_config cfg = {.size = sizeof(cfg), .name = "reverser", .device_id = 2,
				    .max_queue_size = QSIZE, .handler = &reverse_handler};
	struct gm_grant_stats before = {.size = sizeof(before)}, after = {.size = sizeof(after)};
	struct gm_dev_stats st = {.size = sizeof(st)};
	gm_ioreq_loop *loop;
	struct vqd drv;
	gm_dev *d;
	unsigned i0 = atomic_load(&irqs);

	ASSERT_OK(gm_dev_new(&cfg, &d));
	ASSERT_OK(gm_ioreq_loop_new_dev(mem, cache, GUEST, GM_GRANT_TRANSIENT, d, &irq_ops, NULL,
					&loop));
	ASSERT_NULL(gm_ioreq_loop_server(loop));
	dev = gm_ioreq_loop_dev(loop);
	driver_setup(&drv, guest, vc);
	gm_grant_cache_stats(cache, &before);
	for (unsigned r = 0; r < ROUNDS / 3; r++) {
		unsigned n = 1 + r % 4, k, i;
		double end = now_s() + 10;

		for (k = 0; k < n; k++) {
			unsigned rp = 3 + 2 * k, wp = rp + 1, len_k = 1 + (r * 53 + k * 97) % GM_PAGE_SIZE;
			struct vqd_buf b[2] = {
				{.addr = GM_GRANT_ADDR(REF0 + rp, 0), .len = len_k},
				{.addr = GM_GRANT_ADDR(REF0 + wp, 0), .len = len_k, .write = true},
			};
			unsigned char *src = fake_xen_page(f, rp);

			for (i = 0; i < len_k; i++)
				src[i] = (unsigned char)(r * 3 + k + i * 5);
			ASSERT_TRUE(vqd_add(&drv, b, 2, 0, (void *)(uintptr_t)(k + 1)) >= 0);
		}
		/* The kick goes to the loop.  A queue thread still busy with the
		 * last round has notifications off: no kick is due, and it finds
		 * the new requests before it turns them on again. */
		int kicked = vqd_kick_needed(&drv) == 1;

		if (kicked)
			wr(GM_VMMIO_QUEUE_NOTIFY, 0);
		ASSERT_EQ(gm_ioreq_dev_process(dev), kicked);
		for (k = 0; k < n;) {
			void *token;
			uint32_t len;
			int ret = vqd_get_used(&drv, &token, &len);
			unsigned idx;

			if (ret == -EAGAIN) {
				if (now_s() > end)
					GM_TEST_FAIL("round %u: %u of %u completed", r, k, n);
				usleep(500);
				continue;
			}
			ASSERT_OK(ret);
			idx = (unsigned)(uintptr_t)token - 1;
			const unsigned char *src = fake_xen_page(f, 3 + 2 * idx);
			const unsigned char *dst = fake_xen_page(f, 4 + 2 * idx);

			for (i = 0; i < len; i++)
				ASSERT_EQ(dst[i], src[len - 1 - i]);
			k++;
		}
		for (i = 3; i < NPAGES; i++)
			ASSERT_EQ(fake_xen_ref_mapped(f, GUEST, REF0 + i), 0);
		wr(GM_VMMIO_INTERRUPT_ACK, rd(GM_VMMIO_INTERRUPT_STATUS));
	}
	gm_grant_cache_stats(cache, &after);
	ASSERT_OK(gm_dev_conn_stats(gm_ioreq_loop_conn(loop), -1, &st));
	ASSERT_EQ(st.requests, atomic_load(&loop_served));
	/* one map call per direction of a batch */
	ASSERT_TRUE(after.map_calls - before.map_calls <= 2 * st.batches);
	ASSERT_EQ(after.map_calls - before.map_calls, st.pop_map_calls);
	ASSERT_TRUE(atomic_load(&irqs) > i0);
	fprintf(stderr, "loop: %u requests in %llu batches, %.2f map calls per request\n",
		atomic_load(&loop_served), (unsigned long long)st.batches,
		(double)(after.map_calls - before.map_calls) / atomic_load(&loop_served));

	/* a hostile head: the queue thread sets DEVICE_NEEDS_RESET */
	ASSERT_OK(vqd_split_push_head(&drv, QSIZE + 3));
	wr(GM_VMMIO_QUEUE_NOTIFY, 0);
	ASSERT_EQ(gm_ioreq_dev_process(dev), 1);
	for (int i = 0; i < 2000 && !(rd(GM_VMMIO_STATUS) & GM_VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	ASSERT_TRUE(rd(GM_VMMIO_STATUS) & GM_VIRTIO_STATUS_NEEDS_RESET);
	ASSERT_EQ(gm_ioreq_dev_process(dev), 0);
	/* the reset stops the queue: the rings are let go of */
	ASSERT_TRUE(mapped_refs() > 0);
	wr(GM_VMMIO_STATUS, 0);
	ASSERT_EQ(mapped_refs(), 0);
	vqd_fini(&drv);
	/* and once more, then the loop goes with its queue up */
	driver_setup(&drv, guest, vc);
	ASSERT_TRUE(mapped_refs() > 0);
	gm_ioreq_loop_free(loop);
	ASSERT_EQ(mapped_refs(), 0);
	vqd_fini(&drv);
	gm_dev_free(d);
}

int main(void)
{
	const uint64_t need = 1ull << GM_VMMIO_F_VERSION_1 | 1ull << GM_VMMIO_F_ACCESS_PLATFORM;
	struct gm_ioreq_dev_config dc = {.device_id = 2, .num_queues = 1, .max_queue_size = QSIZE};
	struct vqd_config vc = {
		.size = QSIZE,
		.desc_addr = GM_GRANT_ADDR(REF0, 0),
		.driver_addr = GM_GRANT_ADDR(REF0 + 1, 0),
		.device_addr = GM_GRANT_ADDR(REF0 + 2, 0),
	};
	struct gm_grant_stats before = {.size = sizeof(before)}, after = {.size = sizeof(after)};
	gm_region *reg, *ram[NPAGES];
	gm_space *space, *guest;
	gm_grant_cache *cache;
	struct vqd drv;
	gm_gnttab *gt;
	unsigned i, r;

	f = fake_xen_new(NPAGES);
	ASSERT_NOT_NULL(f);
	/* the guest's memory as the guest sees it: its pages at their grant addresses */
	ASSERT_OK(gm_space_new(&guest));
	for (i = 0; i < NPAGES; i++) {
		/* data pages alternate: even ones the device only reads (read-only grants) */
		bool writable = i < 3 || (i - 3) % 2;

		ASSERT_OK(fake_xen_grant(f, GUEST, REF0 + i, i, writable));
		ASSERT_OK(gm_ram_region_new(fake_xen_page(f, i), GM_PAGE_SIZE, GM_PROT_RW, &ram[i]));
		ASSERT_OK(gm_space_add(guest, GM_GRANT_ADDR(REF0 + i, 0), ram[i]));
	}
	ASSERT_OK(gm_gnttab_open(fake_xen_world(f), &gt));
	ASSERT_OK(gm_grant_cache_new(gt, NULL, &cache));
	ASSERT_OK(gm_grant_region_new(cache, GUEST, GM_GRANT_TRANSIENT, &reg));
	ASSERT_OK(gm_space_new(&space));
	ASSERT_OK(gm_space_add(space, GM_GRANT_BASE, reg));
	ASSERT_OK(gm_ioreq_dev_new(gm_space_mem(space), cache, GUEST, &dc, &ops, NULL, &irq_ops, NULL,
				   &dev));

	/* virtio_mmio's probe, feature negotiation and queue set-up */
	wr(GM_VMMIO_STATUS, 0);
	wr(GM_VMMIO_STATUS, 3);
	wr(GM_VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(GM_VMMIO_DRIVER_FEATURES, (uint32_t)(need >> 32));
	wr(GM_VMMIO_STATUS, 0xb);
	ASSERT_EQ(rd(GM_VMMIO_STATUS), 0xb);
	ASSERT_OK(vqd_init(&drv, gm_space_mem(guest), &vc));
	wr(GM_VMMIO_QUEUE_SEL, 0);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_READY), 0);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_NUM_MAX), QSIZE);
	wr(GM_VMMIO_QUEUE_NUM, QSIZE);
	wr(GM_VMMIO_QUEUE_DESC_LOW, (uint32_t)vc.desc_addr);
	wr(GM_VMMIO_QUEUE_DESC_HIGH, (uint32_t)(vc.desc_addr >> 32));
	wr(GM_VMMIO_QUEUE_DRIVER_LOW, (uint32_t)vc.driver_addr);
	wr(GM_VMMIO_QUEUE_DRIVER_HIGH, (uint32_t)(vc.driver_addr >> 32));
	wr(GM_VMMIO_QUEUE_DEVICE_LOW, (uint32_t)vc.device_addr);
	wr(GM_VMMIO_QUEUE_DEVICE_HIGH, (uint32_t)(vc.device_addr >> 32));
	wr(GM_VMMIO_QUEUE_READY, 1);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_READY), 1);
	ASSERT_NOT_NULL(vq);
	wr(GM_VMMIO_STATUS, 0xf);

	gm_grant_cache_stats(cache, &before);
	for (r = 0; r < ROUNDS; r++) {
		/* up to 4 requests in flight: read page 3+2k, write page 4+2k */
		unsigned n = 1 + r % 4, k;
		void *token;
		uint32_t len;

		for (k = 0; k < n; k++) {
			unsigned rp = 3 + 2 * k, wp = rp + 1, len_k = 1 + (r * 37 + k * 101) % GM_PAGE_SIZE;
			struct vqd_buf b[2] = {
				{.addr = GM_GRANT_ADDR(REF0 + rp, 0), .len = len_k},
				{.addr = GM_GRANT_ADDR(REF0 + wp, 0), .len = len_k, .write = true},
			};
			unsigned char *src = fake_xen_page(f, rp);

			for (i = 0; i < len_k; i++)
				src[i] = (unsigned char)(r + k + i * 7);
			ASSERT_TRUE(vqd_add(&drv, b, 2, 0, (void *)(uintptr_t)(k + 1)) >= 0);
		}
		if (vqd_kick_needed(&drv) == 1)
			wr(GM_VMMIO_QUEUE_NOTIFY, 0);
		/* nothing is served inside the MMIO write */
		ASSERT_EQ(vqd_get_used(&drv, &token, &len), -EAGAIN);
		ASSERT_EQ(gm_ioreq_dev_process(dev), 1);
		ASSERT_EQ(rd(GM_VMMIO_INTERRUPT_STATUS) & GM_VMMIO_INT_VRING, GM_VMMIO_INT_VRING);
		wr(GM_VMMIO_INTERRUPT_ACK, GM_VMMIO_INT_VRING);
		for (k = 0; k < n; k++) {
			unsigned char *src, *dst;
			unsigned idx;

			ASSERT_OK(vqd_get_used(&drv, &token, &len));
			idx = (unsigned)(uintptr_t)token - 1;
			src = fake_xen_page(f, 3 + 2 * idx);
			dst = fake_xen_page(f, 4 + 2 * idx);
			for (i = 0; i < len; i++)
				ASSERT_EQ(dst[i], src[len - 1 - i]);
		}
		/* completed means unmapped: the guest could end access now */
		for (i = 3; i < NPAGES; i++)
			ASSERT_EQ(fake_xen_ref_mapped(f, GUEST, REF0 + i), 0);
	}
	gm_grant_cache_stats(cache, &after);
	ASSERT_EQ(served, ROUNDS * 5 / 2);
	/* at most one map call per direction of a request, and an unmap for each */
	ASSERT_TRUE(after.map_calls - before.map_calls <= 2 * served);
	ASSERT_EQ(after.unmap_calls - before.unmap_calls, after.map_calls - before.map_calls);
	ASSERT_TRUE(atomic_load(&irqs) > 0 && atomic_load(&irqs) <= ROUNDS);
	fprintf(stderr, "%u requests, %u interrupts, %.2f map calls per request\n", served,
		atomic_load(&irqs), (double)(after.map_calls - before.map_calls) / served);

	/* the rings stay mapped while the queue lives; the reset releases them */
	ASSERT_TRUE(mapped_refs() > 0);
	wr(GM_VMMIO_STATUS, 0);
	ASSERT_NULL(vq);
	ASSERT_EQ(mapped_refs(), 0);

	/* a second life after the reset, then the device goes with its queue up */
	wr(GM_VMMIO_STATUS, 3);
	wr(GM_VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(GM_VMMIO_DRIVER_FEATURES, (uint32_t)(need >> 32));
	wr(GM_VMMIO_STATUS, 0xb);
	vqd_fini(&drv);
	ASSERT_OK(vqd_init(&drv, gm_space_mem(guest), &vc));
	wr(GM_VMMIO_QUEUE_NUM, QSIZE);
	wr(GM_VMMIO_QUEUE_DESC_HIGH, (uint32_t)(vc.desc_addr >> 32));
	wr(GM_VMMIO_QUEUE_DESC_LOW, (uint32_t)vc.desc_addr);
	wr(GM_VMMIO_QUEUE_DRIVER_HIGH, (uint32_t)(vc.driver_addr >> 32));
	wr(GM_VMMIO_QUEUE_DRIVER_LOW, (uint32_t)vc.driver_addr);
	wr(GM_VMMIO_QUEUE_DEVICE_HIGH, (uint32_t)(vc.device_addr >> 32));
	wr(GM_VMMIO_QUEUE_DEVICE_LOW, (uint32_t)vc.device_addr);
	wr(GM_VMMIO_QUEUE_READY, 1);
	ASSERT_NOT_NULL(vq);
	ASSERT_TRUE(mapped_refs() > 0);
	gm_ioreq_dev_free(dev);
	ASSERT_EQ(mapped_refs(), 0);
	vqd_fini(&drv);

	loop_part(gm_space_mem(space), cache, gm_space_mem(guest), &vc);

	gm_space_free(space);
	gm_region_free(reg);
	gm_grant_cache_free(cache);
	gm_gnttab_close(gt);
	gm_space_free(guest);
	for (i = 0; i < NPAGES; i++)
		gm_region_free(ram[i]);
	fake_xen_free(f);
	return 0;
}
