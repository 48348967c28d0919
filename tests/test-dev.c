/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend loop (dev.h) over a transport of the test's own: the queues
 * of a RAM guest driven by the driver side of tests/virtq-driver.h, kicks
 * through eventfds, interrupts counted.  Synchronous and asynchronous
 * handlers, queues sharing a thread, refused requests, a broken queue
 * among good ones, retries of a failed kick acknowledgement, of a failed
 * interrupt and of a pop that ran out of mapping budget (no kick comes for
 * it), a watched descriptor, kicks without a descriptor, and the
 * configuration's checks.
 */
#include "test-virtq-common.h"

#include <grantmem/dev.h>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define NQ 4
#define QSIZE 16

/* ---- the transport ---- */

struct ttr {
	int kick[NQ];
	atomic_int notifies[NQ];
	atomic_int acks[NQ];
	atomic_int broken[NQ];
	atomic_int ack_fail;    /* the next N acks fail -EIO */
	atomic_int notify_fail; /* the next N notifies fail with notify_err */
	int notify_err;
	atomic_int notify_calls;
};

static int t_ack(void *opaque, unsigned q)
{
	struct ttr *t = opaque;
	uint64_t v;

	atomic_fetch_add(&t->acks[q], 1);
	if (atomic_load(&t->ack_fail) > 0) {
		atomic_fetch_sub(&t->ack_fail, 1);
		return -EIO;
	}
	if (read(t->kick[q], &v, sizeof(v)) < 0)
		return -errno;
	return 0;
}

static int t_notify(void *opaque, unsigned q)
{
	struct ttr *t = opaque;

	atomic_fetch_add(&t->notify_calls, 1);
	if (atomic_load(&t->notify_fail) > 0) {
		atomic_fetch_sub(&t->notify_fail, 1);
		return t->notify_err;
	}
	atomic_fetch_add(&t->notifies[q], 1);
	return 0;
}

static void t_broken(void *opaque, unsigned q)
{
	struct ttr *t = opaque;

	atomic_fetch_add(&t->broken[q], 1);
}

static const struct gm_dev_transport transport = {
	.ack = t_ack, .notify = t_notify, .broken = t_broken,
};

/* ---- the driver ---- */

struct drv {
	struct vqd d[NQ];
	struct ttr tr;
	unsigned nq;
	gm_dev_conn *c;
};

static uint64_t ring_base(unsigned q)
{
	return ga(RING_AREA) + (uint64_t)q * 0x4000;
}

static void drv_init(struct drv *v, gm_mem *m, unsigned nq, bool packed)
{
	memset(v, 0, sizeof(*v));
	v->nq = nq;
	for (unsigned q = 0; q < nq; q++) {
		struct vqd_config c = {.size = QSIZE, .packed = packed, .indirect = true};

		c.desc_addr = ring_base(q);
		c.driver_addr = c.desc_addr + 0x1000;
		c.device_addr = c.desc_addr + 0x2000;
		ASSERT_OK(vqd_init(&v->d[q], m, &c));
		v->tr.kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_TRUE(v->tr.kick[q] >= 0);
	}
}

static void drv_fini(struct drv *v)
{
	for (unsigned q = 0; q < v->nq; q++) {
		vqd_fini(&v->d[q]);
		close(v->tr.kick[q]);
	}
}

/* Attach @dev and add the first @nq queues, kicks through eventfds (or not). */
static void drv_attach(struct drv *v, gm_dev *dev, gm_mem *m, bool kick_fds)
{
	struct gm_dev_attach a = {.size = sizeof(a), .name = "test guest", .mem = m,
				  .ops = &transport, .opaque = &v->tr};

	ASSERT_OK(gm_dev_attach(dev, &a, &v->c));
	for (unsigned q = 0; q < v->nq; q++) {
		struct gm_vq_config vc;

		vqd_gm_config(&v->d[q], &vc);
		ASSERT_OK(gm_dev_conn_add_queue(v->c, q, &vc, kick_fds ? v->tr.kick[q] : -1));
	}
}

static void drv_kick(struct drv *v, unsigned q)
{
	uint64_t one = 1;

	if (vqd_kick_needed(&v->d[q]) > 0)
		ASSERT_EQ(write(v->tr.kick[q], &one, sizeof(one)), sizeof(one));
}

/* A kick even if the queue's thread has notifications off (still in its
 * first look at the ring since it started): for cases about the kick's
 * handling (acknowledgement, wakeups), which must not depend on timing. */
static void drv_kick_always(struct drv *v, unsigned q)
{
	uint64_t one = 1;

	ASSERT_EQ(write(v->tr.kick[q], &one, sizeof(one)), sizeof(one));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Take @n used entries of queue @q, waiting up to 10 s for them. */
static void drv_wait_used(struct drv *v, unsigned q, unsigned n, uint32_t *lens)
{
	double end = now_s() + 10;
	unsigned got = 0;

	while (got < n) {
		uint32_t len;
		int r = vqd_get_used(&v->d[q], NULL, &len);

		if (r == -EAGAIN) {
			if (now_s() > end)
				GM_TEST_FAIL("queue %u: %u of %u requests completed", q, got, n);
			usleep(1000);
			continue;
		}
		ASSERT_OK(r);
		if (lens)
			lens[got] = len;
		got++;
	}
}

/* Nothing more completes on @q for a while (the loop stopped serving it). */
static void drv_expect_nothing(struct drv *v, unsigned q)
{
	usleep(50000);
	ASSERT_ERR(vqd_get_used(&v->d[q], NULL, NULL), -EAGAIN);
}

/* A request: a 16-byte header to read, @len bytes and a status to write. */
static void drv_add(struct drv *v, unsigned q, unsigned k, uint32_t len)
{
	uint64_t at = ga(DATA_AREA) + (uint64_t)q * 0x40000 + (uint64_t)k * 0x4000;
	const struct vqd_buf b[3] = {{at, 16, false}, {at + 0x100, len, true},
				     {at + 0x100 + len, 1, true}};

	ASSERT_TRUE(vqd_add(&v->d[q], b, 3, 0, NULL) >= 0);
}

/* ---- handlers ---- */

static atomic_int served, refused_seen, watch_calls, stops, starts;

/* Fill the data with the request's id, status 0 (or 0xee if refused). */
static int64_t h_sync(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
{
	const unsigned char st = req->error ? 0xee : 0;

	(void)opaque;
	if (req->error) {
		atomic_fetch_add(&refused_seen, 1);
		ASSERT_OK(gm_vq_req_write(gm_dev_queue_vq(q), req, req->in_len - 1, &st, 1));
		return 1;
	}
	for (unsigned i = req->nout; i < req->nout + req->nin; i++)
		memset(req->iov[i].iov_base, (int)(req->id + 1), req->iov[i].iov_len);
	ASSERT_EQ(gm_iov_from_buf(req->iov + req->nout, req->nin, req->in_len - 1, &st, 1), 1);
	atomic_fetch_add(&served, 1);
	return (int64_t)req->in_len;
}

static const struct gm_dev_handler sync_handler = {.request = h_sync};

/* Asynchronous: requests go to a worker thread that completes them. */
struct async_ctx {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct {
		gm_dev_queue *q;
		struct gm_vq_req *req;
	} list[NQ * QSIZE];
	unsigned n;
	bool quit, hold;
};

static int64_t h_async(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
{
	struct async_ctx *a = opaque;

	pthread_mutex_lock(&a->lock);
	a->list[a->n].q = q;
	a->list[a->n++].req = req;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	return GM_DEV_ASYNC;
}

static void h_stop(void *opaque, gm_dev_queue *q)
{
	struct async_ctx *a = opaque;

	(void)q;
	atomic_fetch_add(&stops, 1);
	if (a) {
		/* abandon what is still held: the loop releases it */
		pthread_mutex_lock(&a->lock);
		a->n = 0;
		pthread_mutex_unlock(&a->lock);
	}
}

static int h_start(void *opaque, gm_dev_queue *q)
{
	(void)opaque;
	(void)q;
	atomic_fetch_add(&starts, 1);
	return 0;
}

static void *async_worker(void *arg)
{
	struct async_ctx *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->quit && (!a->n || a->hold))
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->quit)
			break;
		while (a->n) {
			struct gm_vq_req *req = a->list[--a->n].req;
			gm_dev_queue *q = a->list[a->n].q;
			unsigned char st = 0;

			gm_iov_from_buf(req->iov + req->nout, req->nin, req->in_len - 1, &st, 1);
			ASSERT_OK(gm_dev_complete(q, req, (uint32_t)req->in_len));
		}
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static const struct gm_dev_handler async_handler = {
	.request = h_async, .stop = h_stop, .start = h_start, .max_batch = 1,
};

static gm_dev *dev_new(unsigned threads, uint64_t max_bytes)
{
	struct gm_dev_config c = {.size = sizeof(c), .name = "test device", .device_id = 2,
				  .max_queues = NQ, .threads = threads,
				  .max_request_bytes = max_bytes, .handler = &sync_handler};
	gm_dev *d;

	ASSERT_OK(gm_dev_new(&c, &d));
	return d;
}

/* ---- tests ---- */

/* Two queues, each its own thread: every request served, data and status in place. */
static void t_sync(bool packed)
{
	struct ram g = ram_new();
	gm_dev *dev = dev_new(0, 0);
	struct drv v;
	struct gm_dev_stats st = {.size = sizeof(st)};
	uint32_t lens[12];

	drv_init(&v, g.m, 2, packed);
	drv_attach(&v, dev, g.m, true);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned q = 0; q < 2; q++) {
			for (unsigned k = 0; k < 4; k++)
				drv_add(&v, q, k, 512 + k);
			drv_kick(&v, q);
		}
		for (unsigned q = 0; q < 2; q++) {
			drv_wait_used(&v, q, 4, lens);
			for (unsigned k = 0; k < 4; k++)
				ASSERT_EQ(lens[k], 513 + k);
		}
	}
	ASSERT_OK(gm_dev_conn_stats(v.c, -1, &st));
	ASSERT_EQ(st.requests, 24);
	ASSERT_EQ(st.refused, 0);
	ASSERT_EQ(st.errors, 0);
	ASSERT_TRUE(st.batches >= 2 && st.batches <= 24);
	ASSERT_TRUE(st.wakeups >= 2);
	ASSERT_OK(gm_dev_conn_stats(v.c, 1, &st));
	ASSERT_EQ(st.requests, 12);
	ASSERT_TRUE(atomic_load(&v.tr.notifies[0]) >= 1 && atomic_load(&v.tr.notifies[1]) >= 1);
	gm_dev_detach(v.c);
	drv_fini(&v);
	gm_dev_free(dev);
	ram_free(&g);
}

/* Four queues on one thread: all served. */
static void t_shared_thread(void)
{
	struct ram g = ram_new();
	gm_dev *dev = dev_new(1, 0);
	struct drv v;

	drv_init(&v, g.m, NQ, false);
	drv_attach(&v, dev, g.m, true);
	for (unsigned q = 0; q < NQ; q++) {
		for (unsigned k = 0; k < 5; k++)
			drv_add(&v, q, k, 100);
		drv_kick(&v, q);
	}
	for (unsigned q = 0; q < NQ; q++)
		drv_wait_used(&v, q, 5, NULL);
	/* a queue removed and added again serves on; the others too */
	gm_dev_conn_remove_queue(v.c, 2);
	vqd_fini(&v.d[2]);
	{
		struct vqd_config c = v.d[0].cfg;
		struct gm_vq_config vc;

		c.desc_addr = ring_base(2);
		c.driver_addr = c.desc_addr + 0x1000;
		c.device_addr = c.desc_addr + 0x2000;
		ASSERT_OK(vqd_init(&v.d[2], g.m, &c));
		vqd_gm_config(&v.d[2], &vc);
		ASSERT_OK(gm_dev_conn_add_queue(v.c, 2, &vc, v.tr.kick[2]));
		ASSERT_ERR(gm_dev_conn_add_queue(v.c, 2, &vc, v.tr.kick[2]), -EEXIST);
		ASSERT_ERR(gm_dev_conn_add_queue(v.c, NQ, &vc, -1), -EINVAL);
	}
	for (unsigned q = 0; q < NQ; q++) {
		drv_add(&v, q, 7, 100);
		drv_kick(&v, q);
	}
	for (unsigned q = 0; q < NQ; q++)
		drv_wait_used(&v, q, 1, NULL);
	gm_dev_detach(v.c);
	drv_fini(&v);
	gm_dev_free(dev);
	ram_free(&g);
}

/* Which thread served each queue, and the features it was set up with. */
static pthread_t group_thr[NQ];
static uint64_t group_features[NQ];

static int64_t h_group(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
{
	unsigned i = gm_dev_queue_index(q);

	(void)opaque;
	group_thr[i] = pthread_self();
	group_features[i] = gm_dev_queue_features(q);
	/* on the queue's own thread: completed without a wakeup */
	ASSERT_OK(gm_dev_complete(q, req, 0));
	return GM_DEV_ASYNC;
}

static const struct gm_dev_handler group_handler = {.request = h_group};

/* queues_per_thread 2: queues 0 and 1 share a thread, 2 and 3 another. */
static void t_queue_groups(void)
{
	struct ram g = ram_new();
	struct gm_dev_config c = {.size = sizeof(c), .name = "pairs", .device_id = 1,
				  .max_queues = NQ, .queues_per_thread = 2,
				  .handler = &group_handler};
	gm_dev *dev;
	struct drv v;

	ASSERT_OK(gm_dev_new(&c, &dev));
	ASSERT_EQ(gm_dev_get_config(dev)->queues_per_thread, 2);
	drv_init(&v, g.m, NQ, false);
	drv_attach(&v, dev, g.m, true);
	for (unsigned q = 0; q < NQ; q++) {
		drv_add(&v, q, 0, 100);
		drv_kick(&v, q);
	}
	for (unsigned q = 0; q < NQ; q++)
		drv_wait_used(&v, q, 1, NULL);
	ASSERT_TRUE(pthread_equal(group_thr[0], group_thr[1]));
	ASSERT_TRUE(pthread_equal(group_thr[2], group_thr[3]));
	ASSERT_TRUE(!pthread_equal(group_thr[0], group_thr[2]));
	for (unsigned q = 0; q < NQ; q++)
		ASSERT_EQ(group_features[q], vqd_features(&v.d[q]));
	ASSERT_EQ(gm_dev_queue_features(NULL), 0);
	gm_dev_detach(v.c);
	drv_fini(&v);
	gm_dev_free(dev);
	c.queues_per_thread = GM_DEV_MAX_QUEUES + 1;
	ASSERT_ERR(gm_dev_new(&c, &dev), -EINVAL);
	ram_free(&g);
}

/* Completed from another thread, one request per pop. */
static void t_async(bool packed)
{
	struct ram g = ram_new();
	struct async_ctx a = {.n = 0};
	gm_dev *dev = dev_new(0, 0);
	pthread_t w;
	struct drv v;

	pthread_mutex_init(&a.lock, NULL);
	pthread_cond_init(&a.cond, NULL);
	ASSERT_OK(pthread_create(&w, NULL, async_worker, &a));
	ASSERT_OK(gm_dev_set_handler(dev, GM_DEV_ALL_QUEUES, &async_handler, &a));
	atomic_store(&starts, 0);
	atomic_store(&stops, 0);
	drv_init(&v, g.m, 2, packed);
	drv_attach(&v, dev, g.m, true);
	ASSERT_EQ(atomic_load(&starts), 2);
	for (unsigned round = 0; round < 4; round++) {
		for (unsigned q = 0; q < 2; q++) {
			for (unsigned k = 0; k < 5; k++)
				drv_add(&v, q, k, 64);
			drv_kick(&v, q);
		}
		for (unsigned q = 0; q < 2; q++)
			drv_wait_used(&v, q, 5, NULL);
	}
	/* requests held when the connection goes are released with it */
	pthread_mutex_lock(&a.lock);
	a.hold = true;
	pthread_mutex_unlock(&a.lock);
	for (unsigned k = 0; k < 3; k++)
		drv_add(&v, 0, k, 64);
	drv_kick(&v, 0);
	for (int i = 0; i < 1000; i++) {
		struct gm_dev_stats st = {.size = sizeof(st)};

		ASSERT_OK(gm_dev_conn_stats(v.c, 0, &st));
		pthread_mutex_lock(&a.lock);
		unsigned held = a.n;
		pthread_mutex_unlock(&a.lock);
		if (held == 3)
			break;
		usleep(1000);
	}
	gm_dev_detach(v.c);
	ASSERT_EQ(atomic_load(&stops), 2);
	pthread_mutex_lock(&a.lock);
	a.quit = true;
	pthread_cond_signal(&a.cond);
	pthread_mutex_unlock(&a.lock);
	pthread_join(w, NULL);
	drv_fini(&v);
	gm_dev_free(dev);
	ram_free(&g);
}

/*
 * A request over the limit reaches the handler refused (nothing mapped),
 * which writes its error status; a hostile chain breaks its queue only:
 * the transport hears of it once, the other queue serves on.
 */
static void t_refused_and_broken(bool packed)
{
	struct ram g = ram_new();
	gm_dev *dev = dev_new(0, 4096);
	struct drv v;
	struct gm_dev_stats st = {.size = sizeof(st)};
	uint32_t len;
	int w;

	drv_init(&v, g.m, 2, packed);
	drv_attach(&v, dev, g.m, true);
	atomic_store(&refused_seen, 0);
	drv_add(&v, 0, 0, 8192);
	drv_add(&v, 0, 1, 100);
	drv_kick(&v, 0);
	drv_wait_used(&v, 0, 1, &len);
	ASSERT_EQ(len, 1);
	drv_wait_used(&v, 0, 1, &len);
	ASSERT_EQ(len, 101);
	ASSERT_EQ(atomic_load(&refused_seen), 1);
	ASSERT_EQ(g.host[DATA_AREA + 0x100 + 8192], 0xee);
	ASSERT_OK(gm_dev_conn_stats(v.c, 0, &st));
	ASSERT_EQ(st.refused, 1);
	ASSERT_EQ(st.requests, 2);

	/* queue 1: readable after writable */
	uint64_t at = ga(DATA_AREA) + 0x40000;
	const struct vqd_buf bad[2] = {{at, 8, true}, {at + 8, 8, false}};

	w = atomic_load(&vt_warnings);
	ASSERT_TRUE(vqd_add(&v.d[1], bad, 2, 0, NULL) >= 0);
	drv_kick(&v, 1);
	for (int i = 0; i < 1000 && !atomic_load(&v.tr.broken[1]); i++)
		usleep(1000);
	ASSERT_EQ(atomic_load(&v.tr.broken[1]), 1);
	/* the ring's warning, then the loop's */
	ASSERT_EQ(atomic_load(&vt_warnings), w + 3);
	drv_add(&v, 1, 1, 100);
	drv_kick(&v, 1);
	drv_expect_nothing(&v, 1);
	drv_add(&v, 0, 2, 100);
	drv_kick(&v, 0);
	drv_wait_used(&v, 0, 1, NULL);
	ASSERT_EQ(atomic_load(&v.tr.broken[1]), 1);
	ASSERT_OK(gm_dev_conn_stats(v.c, -1, &st));
	ASSERT_EQ(st.broken, 1);
	gm_dev_detach(v.c);
	drv_fini(&v);
	gm_dev_free(dev);
	ram_free(&g);
}

/*
 * A kick acknowledgement that fails is tried again: the ring is looked at
 * meanwhile, so the request is served without another kick.  A failed
 * interrupt is raised again until it goes; one to a peer that is gone is
 * not.
 */
static void t_retries(void)
{
	struct ram g = ram_new();
	gm_dev *dev = dev_new(0, 0);
	struct drv v;
	int w;

	drv_init(&v, g.m, 1, false);
	drv_attach(&v, dev, g.m, true);
	w = atomic_load(&vt_warnings);
	atomic_store(&v.tr.ack_fail, 3);
	drv_add(&v, 0, 0, 100);
	drv_kick_always(&v, 0);
	drv_wait_used(&v, 0, 1, NULL);
	for (int i = 0; i < 2000 && atomic_load(&v.tr.ack_fail); i++)
		usleep(1000);
	ASSERT_EQ(atomic_load(&v.tr.ack_fail), 0);
	ASSERT_EQ(atomic_load(&vt_warnings), w + 1); /* one line for the series */
	/* a later kick is acknowledged as usual */
	drv_add(&v, 0, 1, 100);
	drv_kick(&v, 0);
	drv_wait_used(&v, 0, 1, NULL);

	int n0 = atomic_load(&v.tr.notifies[0]);

	v.tr.notify_err = -EIO;
	atomic_store(&v.tr.notify_fail, 2);
	drv_add(&v, 0, 2, 100);
	drv_kick(&v, 0);
	drv_wait_used(&v, 0, 1, NULL);
	for (int i = 0; i < 2000 && atomic_load(&v.tr.notifies[0]) == n0; i++)
		usleep(1000);
	ASSERT_EQ(atomic_load(&v.tr.notifies[0]), n0 + 1);
	ASSERT_EQ(atomic_load(&v.tr.notify_fail), 0);

	/* the peer is gone: one try, no more */
	v.tr.notify_err = -EPIPE;
	atomic_store(&v.tr.notify_fail, 100);
	int c0 = atomic_load(&v.tr.notify_calls);

	drv_add(&v, 0, 3, 100);
	drv_kick(&v, 0);
	drv_wait_used(&v, 0, 1, NULL);
	usleep(100000);
	ASSERT_EQ(atomic_load(&v.tr.notify_calls), c0 + 1);
	gm_dev_detach(v.c);
	drv_fini(&v);
	gm_dev_free(dev);
	ram_free(&g);
}

/*
 * Data memory whose maps fail -ENOSPC a few times (a mapping budget held
 * by others): the request waits in the ring and the loop tries again by
 * itself; no kick comes for it.
 */
static atomic_int map_fail;
static unsigned char *data_host;

static void *d_map(gm_region *r, uint64_t off, size_t *len, int flags, int *err)
{
	(void)r;
	(void)len;
	(void)flags;
	if (atomic_load(&map_fail) > 0) {
		atomic_fetch_sub(&map_fail, 1);
		*err = -ENOSPC;
		return NULL;
	}
	return data_host + off;
}

static void d_unmap(gm_region *r, void *p, uint64_t off, size_t len, int flags, size_t acc)
{
	(void)r, (void)p, (void)off, (void)len, (void)flags, (void)acc;
}

static const struct gm_region_ops data_ops = {.map = d_map, .unmap = d_unmap};

/* A device over rings in RAM and data in d_map's memory, one queue attached. */
struct data_dev {
	gm_space *s;
	gm_region *rings, *data;
	gm_dev *dev;
	struct drv v;
};

static void data_dev_up(struct data_dev *d)
{
	d->dev = dev_new(0, 0);
	data_host = calloc(1, 1 << 20);
	ASSERT_NOT_NULL(data_host);
	ASSERT_OK(gm_space_new(&d->s));
	ASSERT_OK(gm_ram_region_new_anon(1 << 20, &d->rings));
	ASSERT_OK(gm_region_new(1 << 20, &data_ops, NULL, &d->data));
	ASSERT_OK(gm_space_add(d->s, RAM_BASE, d->rings));
	ASSERT_OK(gm_space_add(d->s, RAM_BASE + DATA_AREA, d->data));
	drv_init(&d->v, gm_space_mem(d->s), 1, false);
	drv_attach(&d->v, d->dev, gm_space_mem(d->s), true);
}

static void data_dev_down(struct data_dev *d)
{
	gm_dev_detach(d->v.c);
	drv_fini(&d->v);
	gm_dev_free(d->dev);
	gm_space_free(d->s);
	gm_region_free(d->rings);
	gm_region_free(d->data);
	free(data_host);
}

/* One request whose data buffer's first @fails maps fail -ENOSPC; wait until it completed. */
static void request_waiting_for_room(struct drv *v, int fails)
{
	/* the driver writes its buffers' addresses, nothing into them */
	uint64_t at = ga(DATA_AREA);
	const struct vqd_buf b[2] = {{at, 300, false}, {at + 0x1000, 300, true}};

	atomic_store(&map_fail, fails);
	ASSERT_TRUE(vqd_add(&v->d[0], b, 2, 0, NULL) >= 0);
	drv_kick_always(v, 0);
	drv_wait_used(v, 0, 1, NULL);
	ASSERT_EQ(atomic_load(&map_fail), 0);
}

static void t_resource_retry(void)
{
	struct gm_dev_stats st = {.size = sizeof(st)};
	struct data_dev d;
	int w;

	data_dev_up(&d);
	w = atomic_load(&vt_warnings);
	request_waiting_for_room(&d.v, 4);
	ASSERT_EQ(atomic_load(&vt_warnings), w + 1); /* "taking requests: -28", once */
	ASSERT_OK(gm_dev_conn_stats(d.v.c, 0, &st));
	ASSERT_EQ(st.requests, 1);
	ASSERT_EQ(st.wakeups, 1);
	data_dev_down(&d);
}

/*
 * A guest whose requests wait for room, then go, then wait again, over and
 * over: each wait is one "taking requests: -28" episode, and the line is
 * rate-limited (10 at once, then about one a second), so the log does not
 * grow with the guest's requests.  Every request is served.
 */
#define FLAP_REQUESTS 40

static void t_resource_flapping(void)
{
	struct data_dev d;
	int w;

	data_dev_up(&d);
	w = atomic_load(&vt_warnings);
	for (unsigned i = 0; i < FLAP_REQUESTS; i++)
		request_waiting_for_room(&d.v, 1);
	w = atomic_load(&vt_warnings) - w;
	if (w < 1 || w > 10)
		GM_TEST_FAIL("%u waits for room: %d warnings, want 1 to 10", FLAP_REQUESTS, w);
	data_dev_down(&d);
}

/* A watched descriptor, and kicks without one (gm_dev_conn_kick). */
static int watch_efd;

static void h_fd_ready(void *opaque, gm_dev_queue *q, int fd, unsigned revents)
{
	uint64_t v;

	(void)opaque;
	(void)q;
	ASSERT_EQ(fd, watch_efd);
	ASSERT_TRUE(revents & POLLIN);
	ASSERT_EQ(read(fd, &v, sizeof(v)), sizeof(v));
	atomic_fetch_add(&watch_calls, (int)v);
}

static int h_watch_start(void *opaque, gm_dev_queue *q)
{
	(void)opaque;
	return gm_dev_queue_index(q) == 0 ? gm_dev_queue_watch(q, watch_efd, POLLIN) : 0;
}

static const struct gm_dev_handler watch_handler = {
	.request = h_sync, .start = h_watch_start, .fd_ready = h_fd_ready,
};

static void t_watch_and_kick(void)
{
	struct ram g = ram_new();
	gm_dev *dev = dev_new(0, 0);
	struct drv v;
	uint64_t three = 3;

	watch_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_TRUE(watch_efd >= 0);
	ASSERT_OK(gm_dev_set_handler(dev, 0, &watch_handler, NULL));
	drv_init(&v, g.m, 2, false);
	drv_attach(&v, dev, g.m, false);
	ASSERT_EQ(write(watch_efd, &three, sizeof(three)), sizeof(three));
	for (int i = 0; i < 2000 && atomic_load(&watch_calls) < 3; i++)
		usleep(1000);
	ASSERT_EQ(atomic_load(&watch_calls), 3);
	for (unsigned q = 0; q < 2; q++) {
		drv_add(&v, q, 0, 100);
		ASSERT_OK(gm_dev_conn_kick(v.c, q));
		drv_wait_used(&v, q, 1, NULL);
	}
	ASSERT_ERR(gm_dev_conn_kick(v.c, 3), -EINVAL);
	gm_dev_detach(v.c);
	close(watch_efd);
	drv_fini(&v);
	gm_dev_free(dev);
	ram_free(&g);
}

/* A handler that cannot serve a request at all: completed empty, counted. */
static int64_t h_fail(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
{
	(void)opaque;
	(void)q;
	(void)req;
	return -EIO;
}

static const struct gm_dev_handler fail_handler = {.request = h_fail};

static void t_handler_fails(void)
{
	struct ram g = ram_new();
	gm_dev *dev = dev_new(0, 0);
	struct drv v;
	struct gm_dev_stats st = {.size = sizeof(st)};
	uint32_t lens[2];
	int w = atomic_load(&vt_warnings);

	ASSERT_OK(gm_dev_set_handler(dev, GM_DEV_ALL_QUEUES, &fail_handler, NULL));
	drv_init(&v, g.m, 1, false);
	drv_attach(&v, dev, g.m, true);
	drv_add(&v, 0, 0, 100);
	drv_add(&v, 0, 1, 100);
	drv_kick(&v, 0);
	drv_wait_used(&v, 0, 2, lens);
	ASSERT_EQ(lens[0], 0);
	ASSERT_EQ(lens[1], 0);
	ASSERT_OK(gm_dev_conn_stats(v.c, 0, &st));
	ASSERT_EQ(st.errors, 2);
	ASSERT_EQ(st.requests, 2);
	ASSERT_EQ(atomic_load(&vt_warnings), w + 2);
	gm_dev_detach(v.c);
	drv_fini(&v);
	gm_dev_free(dev);
	ram_free(&g);
}

static void t_config(void)
{
	struct gm_dev_config c = {.size = sizeof(c), .device_id = 2, .handler = &sync_handler};
	struct gm_dev_handler none = {0};
	gm_dev *d = (gm_dev *)&c;
	int w = atomic_load(&vt_warnings);

	ASSERT_ERR(gm_dev_new(NULL, &d), -EINVAL);
	ASSERT_ERR(gm_dev_new(&c, NULL), -EINVAL);
	c.size = 8;
	ASSERT_ERR(gm_dev_new(&c, &d), -EINVAL);
	ASSERT_NULL(d);
	c.size = sizeof(c);
	c.device_id = 0;
	ASSERT_ERR(gm_dev_new(&c, &d), -EINVAL);
	c.device_id = 2;
	c.max_queues = GM_DEV_MAX_QUEUES + 1;
	ASSERT_ERR(gm_dev_new(&c, &d), -EINVAL);
	c.max_queues = 0;
	c.config_len = 300;
	ASSERT_ERR(gm_dev_new(&c, &d), -EINVAL);
	c.config_len = 0;
	ASSERT_EQ(atomic_load(&vt_warnings), w + 4);
	/* the defaults */
	ASSERT_OK(gm_dev_new(&c, &d));
	ASSERT_EQ(gm_dev_get_config(d)->max_queues, 1);
	ASSERT_EQ(gm_dev_get_config(d)->max_queue_size, 256);
	ASSERT_STREQ(gm_dev_get_config(d)->name, "device");
	ASSERT_ERR(gm_dev_set_handler(d, 0, &none, NULL), -EINVAL);
	ASSERT_ERR(gm_dev_set_handler(d, (int)GM_DEV_MAX_QUEUES, &sync_handler, NULL), -EINVAL);
	ASSERT_ERR(gm_dev_set_handler(d, -2, &sync_handler, NULL), -EINVAL);
	{
		struct ram g = ram_new();
		struct gm_dev_attach a = {.size = sizeof(a), .mem = g.m, .ops = &transport};
		gm_dev_conn *cn = (gm_dev_conn *)&a;

		a.size = 4;
		ASSERT_ERR(gm_dev_attach(d, &a, &cn), -EINVAL);
		ASSERT_NULL(cn);
		a.size = sizeof(a);
		a.mem = NULL;
		ASSERT_ERR(gm_dev_attach(d, &a, &cn), -EINVAL);
		ram_free(&g);
	}
	gm_dev_free(d);
	gm_dev_free(NULL);
	gm_dev_detach(NULL);
}

/* The iovec helpers. */
static void t_iov(void)
{
	unsigned char a[10], b[5], c[7], out[32];
	struct iovec v[3] = {{a, sizeof(a)}, {b, sizeof(b)}, {c, sizeof(c)}}, s[3];

	for (unsigned i = 0; i < 22; i++)
		out[i] = (unsigned char)i;
	ASSERT_EQ(gm_iov_size(v, 3), 22);
	ASSERT_EQ(gm_iov_size(NULL, 0), 0);
	/* scatter across all three, then gather back from an offset */
	ASSERT_EQ(gm_iov_from_buf(v, 3, 0, out, 22), 22);
	ASSERT_EQ(b[0], 10);
	ASSERT_EQ(c[6], 21);
	memset(out, 0xff, sizeof(out));
	ASSERT_EQ(gm_iov_to_buf(v, 3, 8, out, 32), 14);
	for (unsigned i = 0; i < 14; i++)
		ASSERT_EQ(out[i], 8 + i);
	ASSERT_EQ(gm_iov_to_buf(v, 3, 22, out, 1), 0);
	ASSERT_EQ(gm_iov_from_buf(v, 3, 100, out, 1), 0);
	ASSERT_EQ(gm_iov_to_buf(v, 3, 0, NULL, 1), 0);
	/* slice: a header off the front, a status byte off the back */
	ASSERT_EQ(gm_iov_slice(v, 3, 12, 9, s, 3), 2);
	ASSERT_PTR_EQ(s[0].iov_base, b + 2);
	ASSERT_EQ(s[0].iov_len, 3);
	ASSERT_PTR_EQ(s[1].iov_base, c);
	ASSERT_EQ(s[1].iov_len, 6);
	ASSERT_EQ(gm_iov_slice(v, 3, 0, 22, s, 3), 3);
	ASSERT_EQ(gm_iov_slice(v, 3, 5, 0, s, 3), 0);
	ASSERT_ERR(gm_iov_slice(v, 3, 0, 22, s, 2), -E2BIG);
	ASSERT_ERR(gm_iov_slice(v, 3, 20, 3, s, 3), -EFAULT);
	ASSERT_ERR(gm_iov_slice(v, 3, SIZE_MAX, 2, s, 3), -EFAULT);
}

int main(void)
{
	vt_log_init();
	t_iov();
	t_config();
	for (int p = 0; p < 2; p++) {
		t_sync(p);
		t_async(p);
		t_refused_and_broken(p);
	}
	t_shared_thread();
	t_queue_groups();
	t_retries();
	t_handler_fails();
	t_resource_retry();
	t_resource_flapping();
	t_watch_and_kick();
	return 0;
}
