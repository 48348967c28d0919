/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: the backend loop — a virtio device's queues served by threads,
 * over any transport.
 *
 * Every virtio backend runs the same loop around its virtqueues: wait for
 * the driver's kick, acknowledge it (once per wakeup: draining an event
 * channel until it is empty would starve a queue under a notification
 * storm), pop what the kick brought, serve it, push it, interrupt the
 * driver; and when something fails, try again later, because no new kick
 * will come for it: a map that ran out of memory or budget, an interrupt or
 * an unmask Xen refused.  It publishes what the guest may read about it
 * (stats/ nodes) and lets go of everything when the driver disconnects.
 * gm_dev is that loop, so that a device is only its request handlers.
 *
 *   gm_dev      the device: its identity (virtio device id, features,
 *               config space, queue limits) and one request handler per
 *               queue (or one for all), in the spirit of libvhost-user's
 *               queue handlers;
 *   gm_dev_conn one driver connected through a transport: its queues, each
 *               served by a thread of the loop (one per queue, or a given
 *               number shared by the queues);
 *   gm_dev_queue one queue of a connection, as its handler sees it.
 *
 * Transports.  The vdev transport (vdev.h) is built in: gm_dev_vdev_new()
 * runs a vdev backend whose every frontend becomes a connection.  The
 * ioreq transport (ioreq.h, libgrantmem-ioreq) has its own binding,
 * gm_ioreq_server_new_dev().  A transport of the caller's own attaches a
 * connection with gm_dev_attach() and adds its queues as the driver sets
 * them up, handing the loop a few callbacks (struct gm_dev_transport).
 *
 *   static int64_t serve(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
 *   {
 *           if (req->error)            ... refused: write an error status ...
 *           ... read req->iov[0 .. nout), write req->iov[nout .. nout + nin) ...
 *           return written;            (or GM_DEV_ASYNC, then gm_dev_complete)
 *   }
 *   static const struct gm_dev_handler handler = {.request = serve};
 *   struct gm_dev_config cfg = {.size = sizeof(cfg), .device_id = 2, ...,
 *                               .handler = &handler};
 *   gm_dev_new(&cfg, &dev);
 *   gm_dev_vdev_new(dev, x, &vdev_cfg, &v);   then gm_dev_vdev_run(v, stop_fd)
 *
 * Requests.  The loop takes what a kick brought with gm_vq_pop_batch (one
 * map call per direction for the batch, on grant memory) and hands each
 * request to its queue's handler on the queue's thread.  A handler that
 * returns the bytes it wrote completes the request at once: the loop
 * pushes a batch's requests together and interrupts the driver once.  A
 * handler that returns GM_DEV_ASYNC completes it later with
 * gm_dev_complete(), from any thread.  A refused request (req->error,
 * virtio.h "Limits") reaches the handler too: it must write the device's
 * error status (gm_vq_req_write) and return.
 *
 * Failures.  A hostile ring breaks its queue: the loop logs it once, stops
 * serving the queue and tells the transport (virtio-mmio sets
 * DEVICE_NEEDS_RESET); the other queues go on.  -ENOMEM, -ENOSPC and -EBUSY
 * from a pop are tried again after 1 ms, backing off to 100 ms; -ENOBUFS
 * (every request out) waits for completions; a failed interrupt or kick
 * acknowledgement is tried again after 10 ms, backing off to 1 s, until it
 * succeeds or the transport says its peer is gone (-ECONNRESET, -EPIPE,
 * -ENOTCONN, -ESHUTDOWN).  Each distinct failure logs one warning.
 *
 * Threads: gm_dev and its handler tables are read-only once serving starts;
 * a connection's set-up calls (gm_dev_attach, gm_dev_conn_add_queue,
 * gm_dev_conn_remove_queue, gm_dev_detach) come from one thread, the
 * transport's; handlers run on their queue's thread; gm_dev_complete,
 * gm_dev_conn_kick, gm_dev_set_config and the stats calls may come from any
 * thread.
 */
#ifndef GRANTMEM_DEV_H
#define GRANTMEM_DEV_H

#include <grantmem/grant.h>
#include <grantmem/vdev.h>
#include <grantmem/virtio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_dev gm_dev;
typedef struct gm_dev_conn gm_dev_conn;
typedef struct gm_dev_queue gm_dev_queue;

#define GM_DEV_MAX_QUEUES 64u
/* A handler's return value: the request is completed later (gm_dev_complete). */
#define GM_DEV_ASYNC (-1)
/* gm_dev_set_handler's queue number: every queue without a handler of its own. */
#define GM_DEV_ALL_QUEUES (-1)

/*
 * A queue's handler, with @opaque as given to gm_dev_set_handler (or
 * gm_dev_config.opaque).  request and fd_ready run on the queue's thread;
 * start and stop on the transport's, while the queue's thread does not
 * serve the queue.
 *
 * request:  serve @req (see "Requests" above).  Return the bytes written
 *           into its device-writable buffers (clamped to req->in_len), or
 *           GM_DEV_ASYNC to complete it later with gm_dev_complete(), or
 *           another negative errno: the device could not serve it at all;
 *           the request is completed with 0 bytes written and counted in
 *           the errors (a virtio device should rather write an error
 *           status and return its length).  Required.
 * start:    optional; the queue is about to be served (its connection
 *           came, or the driver enabled it): set up per-queue state
 *           (gm_dev_queue_set_priv) and an extra descriptor
 *           (gm_dev_queue_watch).  0, or a negative errno: the queue is
 *           not served (gm_dev_conn_add_queue fails with it).
 * stop:     optional; the queue stops (disconnect, reset, the driver
 *           disabled it).  Finish or abandon asynchronous requests: after
 *           stop returns, gm_dev_complete() must not be called for them;
 *           the loop then releases every request still out.
 * fd_ready: optional; the descriptor given to gm_dev_queue_watch() is
 *           ready (@revents: poll's).  The queue's vq may be used here
 *           (gm_dev_queue_vq), and gm_dev_complete called.
 * max_batch: requests one pop takes for this queue (0: the device's
 *           gm_dev_config.max_batch).  1 for a queue whose requests wait
 *           for outside events (a network device's receive queue), whose
 *           transient batches would otherwise wait for each other.
 */
struct gm_dev_handler {
	size_t size; /* versioned (common.h): sizeof or 0; the device keeps a copy */
	int64_t (*request)(void *opaque, gm_dev_queue *q, struct gm_vq_req *req);
	int (*start)(void *opaque, gm_dev_queue *q);
	void (*stop)(void *opaque, gm_dev_queue *q);
	void (*fd_ready)(void *opaque, gm_dev_queue *q, int fd, unsigned revents);
	unsigned max_batch;
};

/*
 * The device.  Versioned (common.h): set @size to sizeof(struct
 * gm_dev_config), or 0 for the first version; fields a caller built
 * against an older, shorter struct does not know take their defaults.  Copied by gm_dev_new (strings and the config space
 * must outlive the device).
 *
 * name:           for log lines; NULL: "device".
 * device_id:      the virtio device id (2: block, 1: network); not 0.
 * features:       device features offered (the transports add VERSION_1
 *                 and ACCESS_PLATFORM).
 * config, config_len: the virtio config space (<= 256 bytes).
 * max_queues:     1..GM_DEV_MAX_QUEUES; 0: 1.
 * max_queue_size: the largest queue a driver may set up; 0: 256.
 * threads:        0: one thread per queue; N: the queues of a connection
 *                 share N threads (queue i on thread i % N).
 * max_chain, max_request_segments, max_request_bytes, max_batch: every
 *                 queue's gm_vq_config limits (virtio.h; 0: its defaults;
 *                 max_chain applies to queues larger than it).  A queue's
 *                 handler may ask for a smaller max_batch.
 * handler, opaque: every queue's handler, unless gm_dev_set_handler
 *                 gives one of its own.
 * connect:        optional; a driver connected (@c has no queue serving
 *                 yet): set up per-connection state (gm_dev_conn_set_priv).
 *                 0, or a negative errno refuses it.
 * disconnect:     optional; every queue of @c has stopped and released
 *                 its mappings: drop the connection's state.
 * tick:           optional; called about every stats_ms on the thread of a
 *                 transport that has a loop of its own (gm_dev_vdev_run),
 *                 for housekeeping.
 * stats_ms:       how often gm_dev_vdev_run publishes stats/ nodes
 *                 (0: 250).
 * queues_per_thread: consecutive queues one thread serves together
 *                 (0: 1): queue i is served by thread
 *                 (i / queues_per_thread) % threads (threads 0: one thread
 *                 per group).  2 for a network device, whose receive and
 *                 transmit queues of a pair share one thread (and one tap
 *                 queue): their handlers then never run at the same time.
 * unmapped_max:   every queue's gm_vq_config.unmapped_max: requests of at
 *                 most this many bytes reach the handler unmapped
 *                 (req->unmapped: move their bytes with gm_vq_req_read /
 *                 gm_vq_req_write, grant copies on grant memory); 0: none,
 *                 GM_VQ_UNMAPPED_ALL: every one.
 */
struct gm_dev_config {
	size_t size;
	const char *name;
	uint32_t device_id;
	uint64_t features;
	const void *config;
	size_t config_len;
	unsigned max_queues;
	unsigned max_queue_size;
	unsigned threads;
	unsigned max_chain;
	unsigned max_request_segments;
	uint64_t max_request_bytes;
	unsigned max_batch;
	const struct gm_dev_handler *handler;
	void *opaque;
	int (*connect)(void *opaque, gm_dev_conn *c);
	void (*disconnect)(void *opaque, gm_dev_conn *c);
	void (*tick)(void *opaque);
	unsigned stats_ms;
	unsigned queues_per_thread;
	uint64_t unmapped_max;
};

/*
 * gm_dev_new - a device as @cfg describes it.
 * Returns 0; -EINVAL (NULL @cfg or @out, a nonzero cfg->size smaller than
 * the first version of the struct, device_id 0, max_queues, max_queue_size,
 * config_len or a limit out of range); -E2BIG (fields newer than this
 * library set); -ENOMEM.  Logs a bad configuration
 * at warning.  Free with gm_dev_free().
 */
GM_API int gm_dev_new(const struct gm_dev_config *cfg, gm_dev **out);

/* gm_dev_free - free a device no connection uses any more.  Accepts NULL. */
GM_API void gm_dev_free(gm_dev *d);

/* gm_dev_get_config - the device's configuration (complete, defaults filled
 * in; valid while it lives).  Its config points at the config space the
 * device was created with: gm_dev_read_config() gives the one of now. */
GM_API const struct gm_dev_config *gm_dev_get_config(const gm_dev *d);

/*
 * gm_dev_set_handler - queue @q's handler (GM_DEV_ALL_QUEUES: the default
 * for every queue without its own), with @opaque.  @h is copied (versioned,
 * common.h).  Before any connection serves.  0, -EINVAL (q out of range,
 * no request callback, h->size below the first version's) or -E2BIG (a
 * newer caller's handler sets a field this library does not know).  Never
 * logs.
 */
GM_API int gm_dev_set_handler(gm_dev *d, int q, const struct gm_dev_handler *h, void *opaque);

/* ---- the config space ---------------------------------------------------------- */

/*
 * gm_dev_set_config - the device's config space changed (a network
 * device's link went down or up): replace bytes [@offset, @offset + @len)
 * of it with @buf and tell every connected driver, each over its
 * transport, before returning.  Virtio-mmio (the ioreq transport): the
 * register file's config space is updated, ConfigGeneration bumped and,
 * once the driver set DRIVER_OK, InterruptStatus bit 1 (configuration
 * change) raised with the device's interrupt.  The vdev transport: the
 * backend directory's `config` and `config-generation` nodes are written
 * in one transaction, which fires the frontend's watch
 * (docs/vdev-protocol.md).  A transport of the caller's own is told
 * through gm_dev_conn_set_config_notify().  Drivers that connect later
 * see the new bytes.
 * @offset, @len: within the device's config_len (the space does not grow).
 * Returns 0 or -EINVAL (NULL @d, NULL @buf with a length, out of range).
 * A transport that could not tell its driver logs a warning (the vdev
 * transport tries again at its next stats tick); the change stands.
 * Thread-safe: any thread, the device's handlers included (not a
 * transport's config_notify callback); changes are told in the order made.
 */
GM_API int gm_dev_set_config(gm_dev *d, uint32_t offset, const void *buf, size_t len);

/*
 * gm_dev_read_config - copy the first @len bytes (at most config_len) of
 * the config space of now into @buf, and its generation into
 * *@generation if not NULL: 0 as created, one more at each
 * gm_dev_set_config().  Returns the bytes copied, or -EINVAL (NULL @d,
 * NULL @buf with a length).  Thread-safe; never logs.
 */
GM_API int gm_dev_read_config(gm_dev *d, void *buf, size_t len, uint32_t *generation);

/* ---- requests ------------------------------------------------------------------ */

/*
 * gm_dev_complete - complete @req, which @q's handler returned
 * GM_DEV_ASYNC for, with @written bytes written.  Any thread, until the
 * handler's stop callback returns: the queue's thread pushes it (with
 * others completed meanwhile, in the order of their gm_dev_complete
 * calls) and interrupts the driver.
 * Returns 0 or -EINVAL (NULL, or more completions than requests out).
 * On the queue's own thread (its fd_ready callback) it wakes nothing: the
 * thread pushes the completions before it waits again.  Never logs.
 */
GM_API int gm_dev_complete(gm_dev_queue *q, struct gm_vq_req *req, uint32_t written);

/*
 * gm_dev_queue_watch - poll @fd for @events (POLLIN, POLLOUT) on the
 * queue's thread and call its handler's fd_ready when ready; @fd -1 stops.
 * One descriptor per queue.  From the handler's start callback, or on the
 * queue's thread.  0 or -EINVAL (no fd_ready callback).
 */
GM_API int gm_dev_queue_watch(gm_dev_queue *q, int fd, unsigned events);

/* Queue accessors (its thread, or its handler's callbacks).  gm_dev_queue_vq
 * is for handlers that pop or push themselves (on the queue's thread).
 * gm_dev_queue_features: the feature bits the driver accepted, as the
 * transport set the queue up with them (gm_vq_config.features: the
 * device's own bits too, e.g. a network device's offloads), 0 for NULL. */
GM_API unsigned gm_dev_queue_index(const gm_dev_queue *q);
GM_API uint64_t gm_dev_queue_features(const gm_dev_queue *q);
GM_API gm_dev_conn *gm_dev_queue_conn(const gm_dev_queue *q);
GM_API gm_vq *gm_dev_queue_vq(const gm_dev_queue *q);
GM_API gm_mem *gm_dev_queue_mem(const gm_dev_queue *q);
GM_API void gm_dev_queue_set_priv(gm_dev_queue *q, void *priv);
GM_API void *gm_dev_queue_priv(const gm_dev_queue *q);

/* ---- connections ----------------------------------------------------------------- */

/*
 * A transport of the caller's own, as the loop uses it.  @q is the queue's
 * number.  Called on the queue's thread unless said otherwise.
 *
 * ack:    optional; the queue's kick descriptor woke the thread: consume
 *         the kick, once (read an eventfd; take the pending event-channel
 *         port and unmask it).  0, or a negative errno: the loop calls it
 *         again after a while (a port left masked hears no kick, so until
 *         then the loop also looks at the ring at each retry).  -EAGAIN:
 *         nothing to acknowledge (another wakeup took it).
 * notify: interrupt the driver for queue @q.  0, or a negative errno: tried
 *         again with a backoff, except -ECONNRESET, -EPIPE, -ENOTCONN and
 *         -ESHUTDOWN (the peer is gone).  Required.
 * broken: optional; queue @q broke (a hostile ring): ask the driver for a
 *         reset.  The queue is not served until it is removed.
 */
struct gm_dev_transport {
	size_t size; /* versioned (common.h): sizeof or 0; the connection keeps a copy */
	int (*ack)(void *opaque, unsigned q);
	int (*notify)(void *opaque, unsigned q);
	void (*broken)(void *opaque, unsigned q);
};

/*
 * A connection's set-up (gm_dev_attach).  Versioned like gm_dev_config.
 *
 * name:          for log lines ("frontend 5", "RAM guest"); copied.
 * mem:           the driver's memory, as its rings and buffers are
 *                addressed; must outlive the connection.
 * buf_flags:     the data buffers' mapping policy (gm_vq_config.buf_flags).
 * cache:         optional; the grant cache behind @mem: its mapping budget
 *                becomes every queue's max_map_pages, and its counters the
 *                connection's map calls (gm_dev_stats).
 * ops, opaque:   the transport; @ops is copied (versioned, common.h).
 */
struct gm_dev_attach {
	size_t size;
	const char *name;
	gm_mem *mem;
	int buf_flags;
	gm_grant_cache *cache;
	const struct gm_dev_transport *ops;
	void *opaque;
};

/*
 * gm_dev_attach - connect a driver to @d through a transport of the
 * caller's own: calls the device's connect callback; no queue is served
 * until added.  @a is versioned (common.h): a->size sizeof or 0.
 * Returns 0, -EINVAL (bad @a), -E2BIG (fields newer than this library
 * set), -ENOMEM, or the connect
 * callback's error.  Free with gm_dev_detach().
 */
GM_API int gm_dev_attach(gm_dev *d, const struct gm_dev_attach *a, gm_dev_conn **out);

/*
 * gm_dev_conn_add_queue - serve queue @q of the connection: create its
 * virtqueue from @ring (size, ring addresses and negotiated features; the
 * device's limits, the connection's buffer policy and budget, and @q as
 * index are filled in), call the handler's start, and serve it on its
 * thread.  @kick_fd: readable when the driver kicked (an eventfd, an event
 * channel's descriptor; the transport's ack consumes it), or -1: kicks
 * come through gm_dev_conn_kick().  The connection does not close it.
 * Returns 0; -EINVAL (q out of range, no handler for it); -EEXIST (@q is
 * served already); gm_vq_new's error (bad rings: logged); the start
 * callback's error; -ENOMEM or pthread_create's error.
 */
GM_API int gm_dev_conn_add_queue(gm_dev_conn *c, unsigned q, const struct gm_vq_config *ring,
				 int kick_fd);

/*
 * gm_dev_conn_remove_queue - stop serving queue @q (its handler's stop
 * runs), free its virtqueue: every mapping of its requests and rings is
 * released before this returns.  Nothing if @q is not served.
 */
GM_API void gm_dev_conn_remove_queue(gm_dev_conn *c, unsigned q);

/*
 * gm_dev_conn_kick - the driver kicked queue @q (for transports without a
 * kick descriptor, e.g. an MMIO write).  Any thread.  0 or -EINVAL.
 */
GM_API int gm_dev_conn_kick(gm_dev_conn *c, unsigned q);

/*
 * gm_dev_detach - remove every queue (as gm_dev_conn_remove_queue), call
 * the device's disconnect callback, free.  Accepts NULL.
 */
GM_API void gm_dev_detach(gm_dev_conn *c);

/*
 * A connection's counters, since it was attached (queues removed and added
 * again included).  requests: completed; refused: of which refused
 * (virtio.h "Limits"); errors: requests a handler failed, completions that
 * failed; batches: pops that took requests; pop_map_calls: the queues'
 * gm_map_sg calls for data buffers; wakeups: kicks the threads woke for;
 * broken: queues broken; copy_calls: the queues' gm_read_sg / gm_write_sg
 * calls for requests with nothing mapped (gm_vq_stats).  With a grant cache (gm_dev_attach.cache): its
 * map and unmap calls and pages mapped since the attach, the rings' map
 * calls apart (ring_map_calls); a cache shared with other connections
 * counts their calls too, but for the map calls over the vdev transport:
 * those of this connection's frontend alone (gm_grant_cache_domain_stats).
 */
struct gm_dev_stats {
	size_t size; /* versioned (common.h): sizeof, or 0, before the call */
	uint64_t requests;
	uint64_t refused;
	uint64_t errors;
	uint64_t batches;
	uint64_t pop_map_calls;
	uint64_t wakeups;
	uint64_t broken;
	uint64_t map_calls;
	uint64_t unmap_calls;
	uint64_t pages_mapped;
	uint64_t ring_map_calls;
	uint64_t copy_calls;
};

/*
 * gm_dev_conn_stats - the connection's counters (@q < 0), or queue @q's
 * (the cache's apart, which stay 0), up to st->size.  Any thread.  0, or -EINVAL (NULL,
 * @q out of range).  Never logs.
 */
GM_API int gm_dev_conn_stats(gm_dev_conn *c, int q, struct gm_dev_stats *st);

/*
 * gm_dev_conn_set_config_notify - for a transport of the caller's own:
 * call @fn(@opaque, @c) whenever gm_dev_set_config() changes the device's
 * config space, to pass it on to the driver (read it with
 * gm_dev_read_config(gm_dev_conn_dev(c), ...); update what the driver
 * reads, bump its generation, interrupt it).  @fn runs on the thread
 * that called gm_dev_set_config, one call at a time for the device; it
 * returns 0 or a negative errno (logged at warning by the caller).  If the
 * config space changed since gm_dev_new, @fn is called once before this
 * returns, so the transport starts from the config space of now (its
 * error is returned then).  @fn NULL: no more calls; when this returns,
 * none runs (call it before freeing what @opaque points to, if the
 * connection outlives it).  gm_dev_detach stops the calls too.  The
 * built-in transports set their own.  Returns 0, -EINVAL (NULL @c) or
 * @fn's error.  Thread-safe.
 */
GM_API int gm_dev_conn_set_config_notify(gm_dev_conn *c, int (*fn)(void *opaque, gm_dev_conn *c),
					 void *opaque);

/* Connection accessors.  gm_dev_conn_name: as attached; gm_dev_conn_vdev:
 * the frontend's device on the vdev transport, NULL on others. */
GM_API gm_dev *gm_dev_conn_dev(const gm_dev_conn *c);
GM_API const char *gm_dev_conn_name(const gm_dev_conn *c);
GM_API gm_vdev *gm_dev_conn_vdev(const gm_dev_conn *c);
GM_API void gm_dev_conn_set_priv(gm_dev_conn *c, void *priv);
GM_API void *gm_dev_conn_priv(const gm_dev_conn *c);

/* ---- the vdev transport ------------------------------------------------------------ */

typedef struct gm_dev_vdev gm_dev_vdev;

/*
 * gm_dev_vdev_new - serve @d over the vdev transport on world @x (a
 * gm_vdev_backend, vdev.h): every frontend that connects becomes a
 * connection (named "frontend <domid>"), its queues served by the loop,
 * its event channels acknowledged one port per wakeup, its grant cache's
 * budget and counters used; stats/ nodes published in its backend
 * directory every stats_ms and at disconnect (docs/vdev-protocol.md):
 * requests, refused, map-calls, unmap-calls, pages-mapped (the cache's,
 * rings excluded), batches and pop-map-calls (the queues' pops and their
 * gm_map_sg calls), and per queue queue-<i>/{wakeups,requests}.
 * @cfg: the backend's configuration; device_id, features, config and
 * max_queue_size left 0 (NULL) come from @d, and max_queues may not
 * exceed @d's.
 * Returns 0, -EINVAL, or gm_vdev_backend_new's error.  Nothing serves until
 * gm_dev_vdev_run.  Free with gm_dev_vdev_free().
 */
GM_API int gm_dev_vdev_new(gm_dev *d, gm_xen *x, const struct gm_vdev_backend_config *cfg,
			   gm_dev_vdev **out);

/*
 * gm_dev_vdev_run - serve until @stop_fd becomes readable (returns 0) or
 * xenstore goes away (-ENOTCONN, see gm_vdev_backend_process), calling the
 * device's tick callback and publishing stats every stats_ms.  Failed
 * xenstore calls are tried again (one warning each).  Another negative
 * errno if poll() fails.
 */
GM_API int gm_dev_vdev_run(gm_dev_vdev *v, int stop_fd);

/* gm_dev_vdev_backend - the vdev backend (its cache: gm_vdev_backend_cache). */
GM_API gm_vdev_backend *gm_dev_vdev_backend(gm_dev_vdev *v);

/*
 * gm_dev_vdev_free - disconnect every frontend (their queues stop, their
 * mappings go, stats published, backend state Closed) and free.  Accepts
 * NULL.
 */
GM_API void gm_dev_vdev_free(gm_dev_vdev *v);

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_DEV_H */
