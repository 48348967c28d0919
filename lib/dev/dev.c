/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend loop (dev.h): devices, connections, and the threads that
 * serve their queues.
 *
 * A connection's queues are spread over its threads (one per queue, or
 * queue i on thread i % threads).  A thread polls its wake eventfd, the
 * kick descriptor and the watched descriptor of each of its queues, and
 * after a wakeup serves each queue that has something to do: a kick to
 * acknowledge, the ring to drain, completions to push, a retry that is
 * due, an interrupt to raise.  Adding or removing a queue stops the thread
 * that serves it and starts it again: queues come and go only when a
 * driver connects, resets or disconnects, so a thread's set of queues is
 * fixed while it runs and needs no lock.
 */
#include "config.h"

#include "base/base.h"
#include "dev-internal.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Batches one wakeup drains from a queue before its thread looks around. */
#define ROUNDS_PER_WAKEUP 16
/* Retries: pops after host errors, and failed interrupts or acks (ms). */
#define POP_RETRY_MS 1
#define POP_RETRY_MAX_MS 100
#define CALL_RETRY_MS 10
#define CALL_RETRY_MAX_MS 1000

struct handler_slot {
	struct gm_dev_handler h; /* the caller's, at this library's size; no request: unset */
	void *opaque;
};

/* Set @s to a copy of @h (versioned, common.h): 0, -EINVAL, -E2BIG. */
static int slot_set(struct handler_slot *s, const struct gm_dev_handler *h, void *opaque)
{
	struct gm_dev_handler hv;
	int r = gm__abi_in(&hv, sizeof(hv), h, GM__ABI_V1(struct gm_dev_handler, max_batch));

	if (r < 0)
		return r;
	if (!hv.request)
		return -EINVAL;
	s->h = hv;
	s->opaque = opaque;
	return 0;
}

struct gm_dev {
	struct gm_dev_config cfg; /* complete: defaults filled in */
	struct handler_slot all;
	struct handler_slot q[GM_DEV_MAX_QUEUES];
	/* the config space now (gm_dev_set_config) and its generation */
	pthread_mutex_t cfg_lock;
	unsigned char config[GM_VDEV_CONFIG_MAX]; /* protected by cfg_lock */
	uint32_t generation;                      /* protected by cfg_lock */
	/* the connections, and whom to tell of a change: one change told at a time */
	pthread_mutex_t conns_lock;
	gm_dev_conn *conns; /* protected by conns_lock */
};

struct completion {
	struct gm_vq_req *req;
	uint32_t written;
};

/* Counters of a queue: written by its thread, read by any. */
struct qstats {
	atomic_uint_least64_t requests, refused, errors, wakeups, broken;
};

struct thr;

struct gm_dev_queue {
	gm_dev_conn *conn;
	unsigned index;
	gm_vq *vq;
	const struct gm_dev_handler *h;
	void *hop;
	void *priv;
	struct thr *thr;
	uint64_t features;        /* as the transport set the queue up */
	unsigned max_batch;
	int kick_fd;              /* the transport's, or -1 */
	atomic_bool kicked;       /* gm_dev_conn_kick */
	int watch_fd;
	unsigned watch_events;

	/* the queue's thread */
	bool more;                /* work left: come back without waiting */
	bool want_notify;         /* an interrupt to raise */
	bool notify_owed, ack_owed, broken, res_wait, fd_gone;
	int notify_ms, ack_ms, res_ms, last_err;
	uint64_t notify_at, ack_at, res_at;

	/* completions (gm_dev_complete, any thread) */
	pthread_mutex_t lock;
	struct completion *done;  /* [cap]: protected by lock */
	unsigned ndone, cap;
	atomic_bool has_done;

	struct qstats st;
};

struct thr {
	gm_dev_conn *conn;
	pthread_t t;
	bool running;
	atomic_bool stop;
	int wake_fd;
	unsigned nq;
	gm_dev_queue *qs[GM_DEV_MAX_QUEUES];
};

struct gm_dev_conn {
	gm_dev *dev;
	char name[64];
	gm_mem *mem;
	int buf_flags;
	gm_grant_cache *cache;
	const struct gm_dev_transport *ops; /* &opsv */
	struct gm_dev_transport opsv;
	void *opaque;
	gm_vdev *vdev;
	void *priv;
	struct gm_grant_stats base; /* the cache when attached */
	unsigned nthreads;
	struct thr thr[GM_DEV_MAX_QUEUES];
	/* queue pointers and the counters of removed queues */
	pthread_mutex_t lock;
	gm_dev_queue *q[GM_DEV_MAX_QUEUES];
	struct gm_dev_stats gone[GM_DEV_MAX_QUEUES];
	atomic_uint_least64_t ring_map_calls;
	/* gm_dev_conn_set_config_notify; all three protected by dev->conns_lock */
	int (*config_notify)(void *opaque, gm_dev_conn *c);
	void *config_opaque;
	gm_dev_conn *next;
};

/*
 * The cache's counters that a connection's stats count from; over the vdev
 * transport, the map calls of its frontend's grants alone (one cache
 * serves every frontend of the backend).
 */
static void conn_cache_stats(const gm_dev_conn *c, struct gm_grant_stats *st)
{
	gm_grant_cache_stats(c->cache, st);
	if (c->vdev) {
		struct gm_grant_stats d = {.size = sizeof(d)};

		gm_grant_cache_domain_stats(c->cache, gm_vdev_frontend_id(c->vdev), &d);
		st->map_calls = d.map_calls;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void count(atomic_uint_least64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* Errors that say a transport's peer is gone for good. */
static bool peer_gone(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ESHUTDOWN;
}

/* Wake thread @t (its poll returns). */
static void thr_wake(struct thr *t)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is full, the thread has wakeups to see */
	if (write(t->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		gm__warn("%s: waking a queue thread: %s", t->conn->name, strerror(errno));
}

/* ---- devices ------------------------------------------------------------------ */

/* The first version of gm_dev_config: everything up to stats_ms. */
#define CONFIG_V1_SIZE (offsetof(struct gm_dev_config, stats_ms) + sizeof(unsigned))

static int bad_config(const char *why)
{
	gm__warn("device: bad configuration: %s", why);
	return -EINVAL;
}

GM_API int gm_dev_new(const struct gm_dev_config *cfg, gm_dev **out)
{
	gm_dev *d;

	if (out)
		*out = NULL;
	if (!cfg || !out)
		return -EINVAL;
	struct gm_dev_config cf;
	int r = gm__abi_in(&cf, sizeof(cf), cfg, CONFIG_V1_SIZE);
	if (r) {
		gm__warn("device: bad configuration: %s",
			 r == -EINVAL ? "size smaller than the first gm_dev_config"
				      : "fields newer than this library set");
		return r;
	}
	d = gm__calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (pthread_mutex_init(&d->cfg_lock, NULL)) {
		free(d);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&d->conns_lock, NULL)) {
		pthread_mutex_destroy(&d->cfg_lock);
		free(d);
		return -ENOMEM;
	}
	d->cfg = cf;
	if (!d->cfg.name)
		d->cfg.name = "device";
	if (!d->cfg.max_queues)
		d->cfg.max_queues = 1;
	if (!d->cfg.max_queue_size)
		d->cfg.max_queue_size = 256;
	if (!d->cfg.stats_ms)
		d->cfg.stats_ms = 250;
	if (!d->cfg.queues_per_thread)
		d->cfg.queues_per_thread = 1;
	if (!d->cfg.device_id || d->cfg.max_queues > GM_DEV_MAX_QUEUES ||
	    d->cfg.max_queue_size > GM_VQ_MAX_SIZE || d->cfg.config_len > GM_VDEV_CONFIG_MAX ||
	    (d->cfg.config_len && !d->cfg.config) || d->cfg.threads > GM_DEV_MAX_QUEUES ||
	    d->cfg.max_chain > GM_VQ_MAX_CHAIN || d->cfg.max_batch > GM_VQ_MAX_BATCH ||
	    d->cfg.queues_per_thread > GM_DEV_MAX_QUEUES ||
	    (d->cfg.handler && slot_set(&d->all, d->cfg.handler, d->cfg.opaque) < 0)) {
		gm_dev_free(d);
		return bad_config("device id 0, a count, size or limit out of range, or a bad "
				  "handler");
	}
	if (d->cfg.config_len)
		memcpy(d->config, d->cfg.config, d->cfg.config_len);
	*out = d;
	return 0;
}

GM_API void gm_dev_free(gm_dev *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->cfg_lock);
	pthread_mutex_destroy(&d->conns_lock);
	free(d);
}

GM_API const struct gm_dev_config *gm_dev_get_config(const gm_dev *d)
{
	return d ? &d->cfg : NULL;
}

GM_API int gm_dev_set_handler(gm_dev *d, int q, const struct gm_dev_handler *h, void *opaque)
{
	if (!d || !h || q < GM_DEV_ALL_QUEUES || q >= (int)GM_DEV_MAX_QUEUES)
		return -EINVAL;
	return slot_set(q == GM_DEV_ALL_QUEUES ? &d->all : &d->q[q], h, opaque);
}

/* ---- the config space ---------------------------------------------------------- */

GM_API int gm_dev_set_config(gm_dev *d, uint32_t offset, const void *buf, size_t len)
{
	if (!d || (len && !buf) || offset > d->cfg.config_len || len > d->cfg.config_len - offset)
		return -EINVAL;
	pthread_mutex_lock(&d->cfg_lock);
	memcpy(d->config + offset, buf, len);
	d->generation++;
	pthread_mutex_unlock(&d->cfg_lock);
	/* each connection reads the config space as it is when told: a change
	 * that raced in is told with this one, and again (no harm) */
	pthread_mutex_lock(&d->conns_lock);
	for (gm_dev_conn *c = d->conns; c; c = c->next) {
		int r = c->config_notify ? c->config_notify(c->config_opaque, c) : 0;

		if (r < 0)
			gm__warn("%s: telling the driver its config space changed: %d (%s)",
				 c->name, r, gm_strerror(r));
	}
	pthread_mutex_unlock(&d->conns_lock);
	return 0;
}

GM_API int gm_dev_read_config(gm_dev *d, void *buf, size_t len, uint32_t *generation)
{
	size_t n;

	if (!d || (len && !buf))
		return -EINVAL;
	n = GM__MIN(len, d->cfg.config_len);
	pthread_mutex_lock(&d->cfg_lock);
	if (n)
		memcpy(buf, d->config, n);
	if (generation)
		*generation = d->generation;
	pthread_mutex_unlock(&d->cfg_lock);
	return (int)n;
}

GM_API int gm_dev_conn_set_config_notify(gm_dev_conn *c, int (*fn)(void *opaque, gm_dev_conn *c),
					 void *opaque)
{
	gm_dev *d;
	uint32_t gen = 0;
	int r = 0;

	if (!c)
		return -EINVAL;
	d = c->dev;
	pthread_mutex_lock(&d->conns_lock);
	c->config_notify = fn;
	c->config_opaque = opaque;
	if (fn) {
		gm_dev_read_config(d, NULL, 0, &gen);
		/* a change before the transport listened: it catches up now */
		if (gen)
			r = fn(opaque, c);
	}
	pthread_mutex_unlock(&d->conns_lock);
	return r < 0 ? r : 0;
}

/* ---- serving a queue (its thread) ------------------------------------------------ */

static const char *qname(const gm_dev_queue *q)
{
	return q->conn->name;
}

/* The queue broke: say so once, and stop serving it. */
static void queue_broken(gm_dev_queue *q)
{
	const struct gm_dev_transport *ops = q->conn->ops;

	if (q->broken)
		return;
	q->broken = true;
	q->more = false;
	q->res_wait = false;
	count(&q->st.broken, 1);
	gm__warn("%s queue %u is broken; waiting for a reset", qname(q), q->index);
	if (ops->broken)
		ops->broken(q->conn->opaque, q->index);
}

/* Complete @n requests; the pushes published may ask for an interrupt. */
static void push(gm_dev_queue *q, struct gm_vq_req **reqs, const uint32_t *written, unsigned n)
{
	bool notify = false;
	unsigned refused = 0;
	int r;

	for (unsigned i = 0; i < n; i++)
		refused += reqs[i]->error != 0;
	r = gm_vq_push_batch(q->vq, reqs, written, n, &notify);
	if (r < 0) {
		/* a guest's buffers can make it fail: rate-limited */
		gm__warn_rl("%s queue %u: completing %u request(s): %d (%s)", qname(q), q->index,
			    n, r, gm_strerror(r));
		count(&q->st.errors, n);
		if (gm_vq_broken(q->vq))
			queue_broken(q);
		return;
	}
	count(&q->st.requests, n);
	count(&q->st.refused, refused);
	q->want_notify |= notify;
}

/* Push what gm_dev_complete queued. */
static void push_done(gm_dev_queue *q)
{
	struct gm_vq_req *reqs[GM_VQ_MAX_BATCH];
	uint32_t written[GM_VQ_MAX_BATCH];

	while (atomic_exchange(&q->has_done, false)) {
		for (;;) {
			unsigned n = 0;

			/* in the order they were completed: a network device's
			 * merged receive buffers must reach the driver in order */
			pthread_mutex_lock(&q->lock);
			n = GM__MIN(q->ndone, GM_VQ_MAX_BATCH);
			for (unsigned i = 0; i < n; i++) {
				reqs[i] = q->done[i].req;
				written[i] = q->done[i].written;
			}
			q->ndone -= n;
			memmove(q->done, q->done + n, q->ndone * sizeof(*q->done));
			pthread_mutex_unlock(&q->lock);
			if (!n)
				break;
			push(q, reqs, written, n);
		}
		q->more = true; /* requests free again: pop what waited for them */
	}
}

/* What a failed pop means, and when to look again. */
static void pop_failed(gm_dev_queue *q, int r, uint64_t now)
{
	/* once per change, and rate-limited: a guest whose requests wait for
	 * room, then go, then wait again, changes it as often as it likes */
	if (r != q->last_err && r != -ENOBUFS)
		gm__warn_rl("%s queue %u: taking requests: %d (%s)", qname(q), q->index, r,
			    gm_strerror(r));
	q->last_err = r;
	if (r == -EIO || gm_vq_broken(q->vq)) {
		queue_broken(q);
	} else if (r == -ENOMEM || r == -ENOSPC || r == -EBUSY) {
		/* host resources: no kick will come for what waits in the ring */
		q->res_ms = q->res_ms ? GM__MIN(2 * q->res_ms, POP_RETRY_MAX_MS) : POP_RETRY_MS;
		q->res_at = now + (uint64_t)q->res_ms;
		q->res_wait = true;
	}
	/* -ENOBUFS: every request is out; completions bring the thread back */
}

/* Drain the ring: pop batches, hand them to the handler, push them. */
static void serve(gm_dev_queue *q, uint64_t now)
{
	struct gm_vq_req *reqs[GM_VQ_MAX_BATCH], *sync[GM_VQ_MAX_BATCH];
	uint32_t written[GM_VQ_MAX_BATCH];
	int n = 0;

	if (gm_vq_set_notify(q->vq, false) < 0) {
		pop_failed(q, -EIO, now);
		return;
	}
	for (unsigned round = 0;; round++) {
		unsigned k = 0;

		/* a guest that keeps the ring full must not hold a stop back */
		if (atomic_load(&q->thr->stop) || round == ROUNDS_PER_WAKEUP) {
			q->more = true; /* notifications stay off: come back at once */
			return;
		}
		n = gm_vq_pop_batch(q->vq, reqs, q->max_batch);
		if (n == -EAGAIN) {
			n = gm_vq_set_notify(q->vq, true);
			if (n == 1)
				continue; /* work raced in */
			if (n == 0)
				break;
			n = -EIO;
		}
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			int64_t w = q->h->request(q->hop, q, reqs[i]);

			if (w == GM_DEV_ASYNC)
				continue;
			if (w < 0) {
				gm__warn_rl("%s queue %u: the device failed request %u: %" PRId64
					    " (%s)", qname(q), q->index, reqs[i]->id, w,
					    gm_strerror((int)w));
				count(&q->st.errors, 1);
				w = 0;
			}
			sync[k] = reqs[i];
			written[k++] = (uint32_t)GM__MIN((uint64_t)w, UINT32_MAX);
		}
		if (k)
			push(q, sync, written, k);
		if (atomic_load(&q->has_done))
			push_done(q);
		if (q->broken)
			return;
	}
	if (n < 0) {
		pop_failed(q, n, now);
	} else {
		q->res_wait = false;
		q->res_ms = 0;
		q->last_err = 0;
	}
}

static void notify(gm_dev_queue *q, uint64_t now)
{
	int r = q->conn->ops->notify(q->conn->opaque, q->index);

	q->want_notify = false;
	if (!r) {
		q->notify_owed = false;
		q->notify_ms = 0;
		return;
	}
	/* the driver may wait for this one: again until it goes, not to a peer
	 * that is gone */
	if (!q->notify_owed)
		gm__warn("%s queue %u: notify: %d (%s)", qname(q), q->index, r, gm_strerror(r));
	q->notify_owed = !peer_gone(r);
	q->notify_ms = q->notify_ms ? GM__MIN(2 * q->notify_ms, CALL_RETRY_MAX_MS) : CALL_RETRY_MS;
	q->notify_at = now + (uint64_t)q->notify_ms;
}

/*
 * Acknowledge the queue's kick, once per wakeup: a kick that comes while
 * it is being acknowledged keeps the descriptor readable instead (draining
 * until nothing is pending would never end under a notification storm).
 */
static void ack(gm_dev_queue *q, uint64_t now)
{
	int r = q->conn->ops->ack ? q->conn->ops->ack(q->conn->opaque, q->index) : 0;

	if (!r || r == -EAGAIN) {
		q->ack_owed = false;
		q->ack_ms = 0;
		return;
	}
	if (!q->ack_owed)
		gm__warn("%s queue %u: acknowledging a kick: %d (%s)", qname(q), q->index, r,
			 gm_strerror(r));
	q->ack_owed = !peer_gone(r);
	q->ack_ms = q->ack_ms ? GM__MIN(2 * q->ack_ms, CALL_RETRY_MAX_MS) : CALL_RETRY_MS;
	q->ack_at = now + (uint64_t)q->ack_ms;
}

/* Milliseconds until @at (0 if due), folded into a poll timeout. */
static int until(uint64_t at, uint64_t now, int timeout)
{
	int ms = at > now ? (int)GM__MIN(at - now, (uint64_t)CALL_RETRY_MAX_MS) : 0;

	return timeout < 0 || ms < timeout ? ms : timeout;
}

enum { FD_WAKE, FD_KICK, FD_WATCH };

/* The queue thread running on this thread, if any (gm_dev_complete). */
static _Thread_local struct thr *cur_thr;

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct pollfd p[1 + 2 * GM_DEV_MAX_QUEUES];
	unsigned char kind[1 + 2 * GM_DEV_MAX_QUEUES];
	gm_dev_queue *who[1 + 2 * GM_DEV_MAX_QUEUES];

	cur_thr = t;
	/* work may have come before the thread ran: look at every ring */
	for (unsigned i = 0; i < t->nq; i++)
		t->qs[i]->more = true;
	while (!atomic_load(&t->stop)) {
		uint64_t now = now_ms();
		unsigned n = 1;
		int timeout = -1, r;

		p[0] = (struct pollfd){.fd = t->wake_fd, .events = POLLIN};
		kind[0] = FD_WAKE;
		for (unsigned i = 0; i < t->nq; i++) {
			gm_dev_queue *q = t->qs[i];

			/* an unacknowledged kick may keep the descriptor readable:
			 * the retry brings the thread back instead */
			if (q->kick_fd >= 0 && !q->broken && !q->fd_gone && !q->ack_owed) {
				p[n] = (struct pollfd){.fd = q->kick_fd, .events = POLLIN};
				kind[n] = FD_KICK;
				who[n++] = q;
			}
			if (q->watch_fd >= 0) {
				p[n] = (struct pollfd){.fd = q->watch_fd,
						       .events = (short)q->watch_events};
				kind[n] = FD_WATCH;
				who[n++] = q;
			}
			if (q->more)
				timeout = 0;
			if (q->res_wait)
				timeout = until(q->res_at, now, timeout);
			if (q->ack_owed)
				timeout = until(q->ack_at, now, timeout);
			if (q->notify_owed)
				timeout = until(q->notify_at, now, timeout);
		}
		r = poll(p, n, timeout);
		if (r < 0 && errno != EINTR) {
			gm__warn("%s: queue thread: poll: %s", t->conn->name, strerror(errno));
			break;
		}
		if (atomic_load(&t->stop))
			break;
		if (r > 0 && p[0].revents) {
			uint64_t v;

			if (read(t->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				gm__warn("%s: queue thread: %s", t->conn->name, strerror(errno));
		}
		now = now_ms();
		for (unsigned i = 1; r > 0 && i < n; i++) {
			gm_dev_queue *q = who[i];

			if (!p[i].revents)
				continue;
			if (kind[i] == FD_WATCH) {
				q->h->fd_ready(q->hop, q, p[i].fd, (unsigned)p[i].revents);
				continue;
			}
			if (p[i].revents & POLLIN) {
				count(&q->st.wakeups, 1);
				ack(q, now);
				q->more = true;
			} else {
				/* the kick's peer went away: no kick will come */
				gm__warn("%s queue %u: its kick descriptor hung up", qname(q),
					 q->index);
				q->fd_gone = true;
			}
		}
		for (unsigned i = 0; i < t->nq; i++) {
			gm_dev_queue *q = t->qs[i];

			if (atomic_exchange(&q->kicked, false)) {
				count(&q->st.wakeups, 1);
				q->more = true;
			}
			if (q->ack_owed && now >= q->ack_at) {
				/* a port left masked hears no kick: look at the ring too */
				ack(q, now);
				q->more = true;
			}
			if (atomic_load(&q->has_done))
				push_done(q);
			if (q->res_wait && now >= q->res_at)
				q->more = true;
			if (q->more && !q->broken) {
				q->more = false;
				serve(q, now);
			}
			if (q->want_notify || (q->notify_owed && now >= q->notify_at))
				notify(q, now);
		}
	}
	return NULL;
}

static int thr_start(struct thr *t)
{
	int r;

	if (t->running || !t->nq)
		return 0;
	atomic_store(&t->stop, false);
	r = -pthread_create(&t->t, NULL, thr_main, t);
	if (r)
		return r;
	t->running = true;
	return 0;
}

static void thr_stop(struct thr *t)
{
	if (!t->running)
		return;
	atomic_store(&t->stop, true);
	thr_wake(t);
	pthread_join(t->t, NULL);
	t->running = false;
}

/* ---- requests (any thread) ------------------------------------------------------------ */

GM_API int gm_dev_complete(gm_dev_queue *q, struct gm_vq_req *req, uint32_t written)
{
	int r = 0;

	if (!q || !req)
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	if (q->ndone == q->cap)
		r = -EINVAL;
	else
		q->done[q->ndone++] = (struct completion){req, written};
	pthread_mutex_unlock(&q->lock);
	if (!r) {
		atomic_store(&q->has_done, true);
		/* the queue's own thread looks at has_done before it waits */
		if (cur_thr != q->thr)
			thr_wake(q->thr);
	}
	return r;
}

GM_API int gm_dev_queue_watch(gm_dev_queue *q, int fd, unsigned events)
{
	if (!q || (fd >= 0 && !q->h->fd_ready))
		return -EINVAL;
	q->watch_fd = fd;
	q->watch_events = events;
	return 0;
}

GM_API unsigned gm_dev_queue_index(const gm_dev_queue *q)
{
	return q ? q->index : 0;
}

GM_API uint64_t gm_dev_queue_features(const gm_dev_queue *q)
{
	return q ? q->features : 0;
}

GM_API gm_dev_conn *gm_dev_queue_conn(const gm_dev_queue *q)
{
	return q ? q->conn : NULL;
}

GM_API gm_vq *gm_dev_queue_vq(const gm_dev_queue *q)
{
	return q ? q->vq : NULL;
}

GM_API gm_mem *gm_dev_queue_mem(const gm_dev_queue *q)
{
	return q ? q->conn->mem : NULL;
}

GM_API void gm_dev_queue_set_priv(gm_dev_queue *q, void *priv)
{
	if (q)
		q->priv = priv;
}

GM_API void *gm_dev_queue_priv(const gm_dev_queue *q)
{
	return q ? q->priv : NULL;
}

/* ---- connections --------------------------------------------------------------------- */

#define ATTACH_V1_SIZE (offsetof(struct gm_dev_attach, opaque) + sizeof(void *))

int gm__dev_attach(gm_dev *d, const struct gm_dev_attach *a, gm_vdev *vd, gm_dev_conn **out)
{
	gm_dev_conn *c;
	struct gm_dev_attach at = {0};
	int r;

	if (out)
		*out = NULL;
	if (!d || !a || !out)
		return -EINVAL;
	struct gm_dev_transport tv;

	r = gm__abi_in(&at, sizeof(at), a, ATTACH_V1_SIZE);
	if (!r && at.ops)
		r = gm__abi_in(&tv, sizeof(tv), at.ops, GM__ABI_V1(struct gm_dev_transport, broken));
	if (r)
		return r;
	if (!at.mem || !at.ops || !tv.notify)
		return -EINVAL;
	c = gm__calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (pthread_mutex_init(&c->lock, NULL)) {
		free(c);
		return -ENOMEM;
	}
	c->dev = d;
	snprintf(c->name, sizeof(c->name), "%s", at.name ? at.name : d->cfg.name);
	c->mem = at.mem;
	c->buf_flags = at.buf_flags;
	c->cache = at.cache;
	c->opsv = tv;
	c->ops = &c->opsv;
	c->opaque = at.opaque;
	c->vdev = vd;
	c->nthreads = d->cfg.threads ? d->cfg.threads : GM_DEV_MAX_QUEUES;
	for (unsigned i = 0; i < c->nthreads; i++) {
		c->thr[i].conn = c;
		c->thr[i].wake_fd = -1;
	}
	c->base.size = sizeof(c->base);
	if (c->cache)
		conn_cache_stats(c, &c->base);
	if (d->cfg.connect && (r = d->cfg.connect(d->cfg.opaque, c)) < 0) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return r;
	}
	pthread_mutex_lock(&d->conns_lock);
	c->next = d->conns;
	d->conns = c;
	pthread_mutex_unlock(&d->conns_lock);
	*out = c;
	return 0;
}

GM_API int gm_dev_attach(gm_dev *d, const struct gm_dev_attach *a, gm_dev_conn **out)
{
	return gm__dev_attach(d, a, NULL, out);
}

static void queue_free(gm_dev_queue *q)
{
	if (!q)
		return;
	gm_vq_free(q->vq);
	pthread_mutex_destroy(&q->lock);
	free(q->done);
	free(q);
}

GM_API int gm_dev_conn_add_queue(gm_dev_conn *c, unsigned qi, const struct gm_vq_config *ring,
				 int kick_fd)
{
	const struct gm_dev_config *dc;
	const struct handler_slot *hs;
	struct gm_grant_stats before = {.size = sizeof(before)}, after = {.size = sizeof(after)};
	struct gm_vq_config vc;
	gm_dev_queue *q;
	struct thr *t;
	int r;

	if (!c || !ring || qi >= c->dev->cfg.max_queues)
		return -EINVAL;
	r = gm__abi_in(&vc, sizeof(vc), ring, GM__ABI_V1(struct gm_vq_config, unmapped_max));
	if (r < 0)
		return r;
	dc = &c->dev->cfg;
	hs = c->dev->q[qi].h.request ? &c->dev->q[qi] : &c->dev->all;
	if (!hs->h.request)
		return -EINVAL;
	if (c->q[qi])
		return -EEXIST;
	q = gm__calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	if (pthread_mutex_init(&q->lock, NULL)) {
		free(q);
		return -ENOMEM;
	}
	q->conn = c;
	q->index = qi;
	q->h = &hs->h;
	q->hop = hs->opaque;
	q->kick_fd = kick_fd;
	q->watch_fd = -1;
	q->features = vc.features;
	vc.index = qi;
	vc.buf_flags = c->buf_flags;
	vc.max_chain = dc->max_chain && dc->max_chain < vc.size ? dc->max_chain : vc.max_chain;
	vc.max_request_segments = dc->max_request_segments;
	vc.max_request_bytes = dc->max_request_bytes;
	vc.unmapped_max = dc->unmapped_max;
	vc.max_batch = hs->h.max_batch ? hs->h.max_batch : dc->max_batch;
	if (c->cache) {
		conn_cache_stats(c, &before);
		vc.max_map_pages = before.max_pages;
	}
	r = gm_vq_new(c->mem, &vc, &q->vq);
	if (c->cache) {
		conn_cache_stats(c, &after);
		count(&c->ring_map_calls, after.map_calls - before.map_calls);
	}
	if (r < 0) {
		gm__warn("%s queue %u: cannot set it up: %s", c->name, qi, gm_strerror(r));
		goto fail;
	}
	q->cap = vc.max_inflight ? GM__MIN(vc.max_inflight, vc.size) : vc.size;
	q->max_batch = GM__MIN(vc.max_batch ? vc.max_batch : GM_VQ_DEFAULT_BATCH, GM_VQ_MAX_BATCH);
	q->done = gm__calloc(q->cap, sizeof(*q->done));
	if (!q->done) {
		r = -ENOMEM;
		goto fail;
	}
	t = &c->thr[(qi / dc->queues_per_thread) % c->nthreads];
	if (t->wake_fd < 0 && (t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		r = -errno;
		goto fail;
	}
	q->thr = t;
	if (q->h->start && (r = q->h->start(q->hop, q)) < 0)
		goto fail;
	thr_stop(t);
	t->qs[t->nq++] = q;
	pthread_mutex_lock(&c->lock);
	c->q[qi] = q;
	pthread_mutex_unlock(&c->lock);
	r = thr_start(t);
	if (r < 0) {
		gm__warn("%s queue %u: cannot start its thread: %s", c->name, qi, gm_strerror(r));
		gm_dev_conn_remove_queue(c, qi);
	}
	return r;
fail:
	queue_free(q);
	return r;
}

/* Fold queue @q's counters into the connection's record of its index. */
static void queue_retire(gm_dev_conn *c, gm_dev_queue *q)
{
	struct gm_dev_stats *g = &c->gone[q->index];
	struct gm_vq_stats vs = {.size = sizeof(vs)};

	gm_vq_stats(q->vq, &vs);
	g->requests += atomic_load(&q->st.requests);
	g->refused += atomic_load(&q->st.refused);
	g->errors += atomic_load(&q->st.errors);
	g->wakeups += atomic_load(&q->st.wakeups);
	g->broken += atomic_load(&q->st.broken);
	g->batches += vs.batches;
	g->pop_map_calls += vs.map_calls;
	g->copy_calls += vs.copy_calls;
}

GM_API void gm_dev_conn_remove_queue(gm_dev_conn *c, unsigned qi)
{
	gm_dev_queue *q;
	struct thr *t;

	if (!c || qi >= GM_DEV_MAX_QUEUES || !(q = c->q[qi]))
		return;
	t = q->thr;
	thr_stop(t);
	for (unsigned i = 0; i < t->nq; i++)
		if (t->qs[i] == q) {
			t->qs[i] = t->qs[--t->nq];
			break;
		}
	if (q->h->stop)
		q->h->stop(q->hop, q);
	pthread_mutex_lock(&c->lock);
	queue_retire(c, q);
	c->q[qi] = NULL;
	pthread_mutex_unlock(&c->lock);
	queue_free(q); /* releases every mapping, of requests still out too */
	if (thr_start(t) < 0)
		gm__warn("%s: cannot restart a queue thread", c->name);
}

GM_API int gm_dev_conn_kick(gm_dev_conn *c, unsigned qi)
{
	gm_dev_queue *q;

	if (!c || qi >= GM_DEV_MAX_QUEUES)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	q = c->q[qi];
	if (q) {
		atomic_store(&q->kicked, true);
		thr_wake(q->thr);
	}
	pthread_mutex_unlock(&c->lock);
	return q ? 0 : -EINVAL;
}

GM_API void gm_dev_detach(gm_dev_conn *c)
{
	const struct gm_dev_config *dc;

	if (!c)
		return;
	/* no change is told to it any more (one being told is over) */
	pthread_mutex_lock(&c->dev->conns_lock);
	for (gm_dev_conn **pp = &c->dev->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&c->dev->conns_lock);
	for (unsigned i = 0; i < GM_DEV_MAX_QUEUES; i++)
		gm_dev_conn_remove_queue(c, i);
	dc = &c->dev->cfg;
	if (dc->disconnect)
		dc->disconnect(dc->opaque, c);
	for (unsigned i = 0; i < c->nthreads; i++)
		if (c->thr[i].wake_fd >= 0)
			close(c->thr[i].wake_fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void add_stats(struct gm_dev_stats *a, const struct gm_dev_stats *b)
{
	a->requests += b->requests;
	a->refused += b->refused;
	a->errors += b->errors;
	a->batches += b->batches;
	a->pop_map_calls += b->pop_map_calls;
	a->copy_calls += b->copy_calls;
	a->wakeups += b->wakeups;
	a->broken += b->broken;
}

GM_API int gm_dev_conn_stats(gm_dev_conn *c, int qi, struct gm_dev_stats *out)
{
	struct gm_dev_stats s = {0}, *st = &s;

	if (!c || !out || qi < -1 || qi >= (int)GM_DEV_MAX_QUEUES)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < GM_DEV_MAX_QUEUES; i++) {
		gm_dev_queue *q = c->q[i];

		if (qi >= 0 && (unsigned)qi != i)
			continue;
		add_stats(st, &c->gone[i]);
		if (q) {
			struct gm_vq_stats vs = {.size = sizeof(vs)};
			struct gm_dev_stats live = {
				.requests = atomic_load(&q->st.requests),
				.refused = atomic_load(&q->st.refused),
				.errors = atomic_load(&q->st.errors),
				.wakeups = atomic_load(&q->st.wakeups),
				.broken = atomic_load(&q->st.broken),
			};

			gm_vq_stats(q->vq, &vs);
			live.batches = vs.batches;
			live.pop_map_calls = vs.map_calls;
			live.copy_calls = vs.copy_calls;
			add_stats(st, &live);
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (qi < 0 && c->cache) {
		struct gm_grant_stats g = {.size = sizeof(g)};
		uint64_t rings = atomic_load(&c->ring_map_calls);

		conn_cache_stats(c, &g);
		st->ring_map_calls = rings;
		st->map_calls = g.map_calls - c->base.map_calls;
		st->map_calls = st->map_calls > rings ? st->map_calls - rings : 0;
		st->unmap_calls = g.unmap_calls - c->base.unmap_calls;
		st->pages_mapped = g.pages_mapped - c->base.pages_mapped;
	}
	gm__abi_out(out, st, sizeof(*st), GM__ABI_V1(struct gm_dev_stats, ring_map_calls));
	return 0;
}

GM_API gm_dev *gm_dev_conn_dev(const gm_dev_conn *c)
{
	return c ? c->dev : NULL;
}

GM_API const char *gm_dev_conn_name(const gm_dev_conn *c)
{
	return c ? c->name : NULL;
}

GM_API gm_vdev *gm_dev_conn_vdev(const gm_dev_conn *c)
{
	return c ? c->vdev : NULL;
}

GM_API void gm_dev_conn_set_priv(gm_dev_conn *c, void *priv)
{
	if (c)
		c->priv = priv;
}

GM_API void *gm_dev_conn_priv(const gm_dev_conn *c)
{
	return c ? c->priv : NULL;
}
