// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * grantmem-guest - a test domain's virtio-blk driver over the vdev transport.
 *
 *   grantmem-guest [--xen SPEC] [--devid N] [--type T] [--requests N]
 *                  [--seconds S] [--depth D] [--size BYTES] [--seq]
 *                  [--queues N] [--queue-size N] [--packed] [--no-persistent]
 *                  [--discard] [--reconnect-every N] [--timeout S] [--quiet]
 *                  [--tolerate-errors MS] [--storm-queue Q]
 *   grantmem-guest --transport ram --socket PATH [the I/O options above]
 *
 * It finds its device in its own xenstore directory (device/<type>/<devid>,
 * created by the toolstack: grantmem-vdev add), waits for the backend named
 * there, puts each queue's rings (split, or --packed) in granted pages (one
 * run of consecutive grefs per ring part, as Linux's grant-dma-ops does;
 * the ring code is the tests' driver side, tests/virtq-driver.h, over RAM
 * regions laid on the shared pages at their grant addresses), publishes them and
 * drives random (or --seq sequential) reads and writes of --size bytes with
 * --depth requests in flight per queue.
 *
 * Data buffers use FRESH grants per request, ended as soon as the request
 * completes: gm_gntshr_end_access must succeed, so a backend that still maps
 * a buffer after completing it is caught (counted as an error).  When the
 * backend offers feature-persistent (and --no-persistent is not given) the
 * guest instead reuses one pool of granted buffers per in-flight slot, and
 * ends them only after disconnecting.
 *
 * --transport ram --socket PATH: no Xen; the guest's memory is a memfd it
 * shares with grantmem-blk --transport ram over the unix socket PATH
 * (tools/blk-ram.h), with the rings and one buffer per in-flight slot at
 * guest-physical addresses in it and a kick and a call eventfd per queue:
 * the same driver, verification and figures on plain shared RAM, the
 * baseline of the grant modes.
 *
 * Every byte read is checked against a shadow of what was written (each
 * disk slot remembers the generation of its last write; slots never
 * written are written before they are read).  A progress line is printed
 * every second; at the end IOPS, MB/s, latency percentiles and exactly one
 * line
 *
 *   summary: requests=N bytes_verified=N errors=N map_calls_per_request=X iops=N
 *
 * where requests counts the measured requests (the I/O of --requests or
 * --seconds, over every connection; not the disk identification, the
 * persistent warm-up or the final flush), the same requests as the result
 * line's and the backend's figures, and map_calls_per_request is what the
 * backend published in stats/ for them (in persistent mode: after a warm-up
 * that touches every pool buffer, i.e. the steady state).  Exit status 0
 * when errors=0, 1 otherwise, 2 for usage.
 *
 * --tolerate-errors MS is for tests that make the backend fail on purpose:
 * error statuses are counted per queue instead of as errors, a queue that
 * stalls for MS milliseconds is given up until the next connection, and
 * the summary line ends with " q<i>_ok=N q<i>_failed=N q<i>_stalls=N" for
 * every queue.  Everything else (data, grants left mapped) still counts.
 *
 * --storm-queue Q is a hostile guest for tests: while the queues do their
 * I/O, a thread notifies queue Q's event channel without pause, whether or
 * not there is anything in its ring, until the main phase is over (or,
 * when the backend went away, for --timeout seconds more: it does not stop
 * for that).  Then the guest waits until the backend's
 * stats/queue-Q/wakeups stops growing (a backend that keeps waking is an
 * error), runs the final flush on every queue, and prints
 *
 *   storm: queue=Q notifies=N wakeups=W served=S
 *
 * with N every notification of Q in the main phase (the storm's and the
 * driver's own kicks), W the backend's wakeups for Q from then on, and S
 * the requests Q completed in the main phase.
 */
#include "config.h"

#include "args.h"
#include "blk-ram.h"
#include "virtq-driver.h"

#include <grantmem/grantmem.h>

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAGES 65 /* header page + 256 KiB of data */
#define STATUS_OFF 2048u /* the status byte's offset in the header page */
#define MAX_DESC (MAX_PAGES + 2)

/* What the command line asked for. */
static struct guest_config {
	const char *spec, *type, *socket;
	int want_backend; /* --backend-domid: the backend the device must name (-1: any) */
	unsigned devid;
	uint64_t requests;
	double seconds;
	unsigned depth, size, queues, queue_size;
	bool seq, packed, no_persistent, quiet, discard;
	uint64_t reconnect_every;
	int timeout;
	/*
	 * --tolerate-errors MS (for fault-injection tests of the backend): a
	 * request that completes with an error status is counted, not an error;
	 * a queue without any completion for MS milliseconds gives up alone
	 * until the next connection while the others go on; the summary line
	 * gets per-queue counts.  0: off.
	 */
	unsigned tolerate_ms;
	/* --storm-queue Q: the queue that is notified without pause (-1: none). */
	int storm_queue;
	/*
	 * --follow S: a backend that goes away (its state leaves Connected,
	 * its directory goes, or nothing completes for --timeout seconds) is
	 * not an error: every grant is ended, and the device is waited for (up
	 * to S seconds) and served again, by the same backend restarted or by
	 * the one the toolstack names next.  0: off.
	 */
	int follow;
	/* --rate N: steady I/O, at most N requests a second (0: as fast as served). */
	unsigned rate;
	/* --hostile MODE: the last queue sends requests a device must refuse. */
	enum hostile { H_NONE, H_OVERSIZE, H_REPEAT, H_IMPOSSIBLE, H_FLOOD } hostile;
} opt = {
	.want_backend = -1, .depth = 8, .size = 4096, .queues = 1, .queue_size = 128,
	.timeout = 30, .storm_queue = -1,
};

static struct {
	gm_xen *x;
	gm_xs *xs;
	gm_gntshr *shr;
	gm_domid self, backend;
	char fe_dir[256], be_dir[256], be_state[300];
	struct gm_vdev_back_info bi;
	uint64_t features;
	bool persistent; /* negotiated: pool of reused grants */
	bool emulated;
	bool ram;                /* --transport ram: a memfd instead of grants */
	struct blk_ram_guest rg; /* its connection and memory */
	atomic_bool ram_up;      /* served: SETUP accepted, no CLOSE sent yet */
	uint64_t ram_done0;      /* requests completed before this connection */
	uint64_t nslots;  /* disk slots of --size bytes */
	uint32_t *gen;    /* per slot: generation of the last completed write, 0 unknown */
	unsigned char *listed; /* per slot: in its queue's known list */
} G;

/* The run's counters and flags, shared by the queue, progress and storm threads. */
static struct {
	atomic_uint_fast64_t issued, completed, bytes_done, bytes_verified, errors;
	atomic_uint_fast64_t busy_errors; /* end_access refused: the backend kept a mapping */
	atomic_uint_fast64_t discards;
	atomic_uint_fast64_t claimed; /* requests of the budget taken (claim()) */
	atomic_bool stop_io, abort_run;
	atomic_bool reconnecting; /* --reconnect-every: we closed the device ourselves */
	/*
	 * Set while a main phase ends for a reconnect: the queue threads stop
	 * at once and leave their requests in flight, so that the backend has
	 * to disconnect in the middle of I/O.
	 */
	atomic_bool leave_inflight;
	/* --storm-queue */
	atomic_bool storm_stop;
	atomic_uint_fast64_t storm_notifies, storm_served;
	double t_start; /* the main phase's start (set before the progress thread) */
	double t_lost;  /* --follow: when the backend was last lost */
	/* --follow: the backend went away (the queue threads stopped for it) */
	atomic_bool lost;
	uint64_t losses, moves; /* connections lost; times the backend domain changed */
	/* --hostile: requests sent, completed with OK / an error status, never answered */
	atomic_bool hostile_stop;
	uint64_t h_sent, h_ok, h_refused, h_unanswered;
	double h_max_refusal_ms;
} S;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&S.errors, 1);
	va_start(ap, fmt);
	fputs("grantmem-guest: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The content of slot @slot after its write of generation @gen, 8 bytes at a time. */
static void pattern_fill(unsigned char *p, size_t len, uint64_t slot, uint32_t gen)
{
	uint64_t seed = mix64(slot * 0x9e3779b97f4a7c15ull ^ gen);

	for (size_t i = 0; i < len; i += 8) {
		uint64_t w = mix64(seed + i);

		memcpy(p + i, &w, 8);
	}
}

/* The generation of a discarded slot: it reads back as zeros. */
#define GEN_ZERO UINT32_MAX

static long pattern_check(const unsigned char *p, size_t len, uint64_t slot, uint32_t gen)
{
	uint64_t seed = mix64(slot * 0x9e3779b97f4a7c15ull ^ gen);

	if (gen == GEN_ZERO) {
		for (size_t i = 0; i < len; i++)
			if (p[i])
				return (long)i;
		return -1;
	}

	for (size_t i = 0; i < len; i += 8) {
		uint64_t w = mix64(seed + i);

		if (memcmp(p + i, &w, 8))
			return (long)i;
	}
	return -1;
}

/* ---- a driver-side split virtqueue in granted pages --------------------------- */

struct area {
	unsigned char *va;
	gm_gref ref;   /* first of a run of consecutive refs */
	uint64_t gpa;  /* --transport ram: its guest-physical address instead */
	unsigned pages;
};

struct buf {
	unsigned char *va;
	gm_gref refs[MAX_PAGES];
	uint64_t gpa;  /* --transport ram: its guest-physical address instead */
	unsigned pages;
};

struct req {
	bool busy;
	unsigned char warm; /* warm-up: 0 to do, 1 written (its read is next), 2 done */
	uint32_t type;
	uint64_t slot;
	uint32_t gen;
	struct buf b;
	double t0;
};

struct dq {
	unsigned index, size;
	struct area desc, avail, used; /* packed: ring, driver and device event areas */
	/* the driver's view of the rings: RAM regions over the shared pages */
	gm_space *sp;
	gm_region *rg[3];
	struct vqd d;
	bool ready;
	gm_evtchn *ev;
	int port;
	int kick_fd, call_fd; /* --transport ram: eventfds instead (-1: none) */
	/* the thread's state */
	pthread_t thread;
	bool started;
	struct req *reqs; /* depth */
	uint64_t rng;
	uint64_t seq_next;
	double *lat;
	size_t nlat, clat;
	uint64_t *known; /* slots written at least once */
	size_t nknown, cknown;
	/* --tolerate-errors: completions with status OK and not, stalls */
	uint64_t n_ok, n_failed;
	unsigned stalls;
	bool gave_up; /* stalled: skipped until the next connection */
	bool hostile; /* --hostile's queue: no ordinary I/O on it in the main phase */
	struct req *hpending; /* --hostile: a chain the device never answered */
	struct req *hkeep;    /* --hostile, persistent grants: its one reused buffer */
};

static struct dq *queues;
static unsigned nqueues;

static uint64_t rnd(struct dq *q)
{
	q->rng += 0x9e3779b97f4a7c15ull;
	return mix64(q->rng);
}

static int share_area(struct area *a, size_t bytes)
{
	gm_gref refs[64];
	int err = 0;

	a->pages = (unsigned)((bytes + GM_PAGE_SIZE - 1) / GM_PAGE_SIZE);
	if (G.ram) {
		/* plain RAM: pages of the memfd, contiguous in guest-physical space */
		a->va = blk_ram_guest_alloc(&G.rg, (size_t)a->pages * GM_PAGE_SIZE, &a->gpa);
		return a->va ? 0 : -ENOMEM;
	}
	if (a->pages > 64)
		return -E2BIG;
	a->va = gm_gntshr_share(G.shr, G.backend, a->pages, refs, 1, &err);
	if (!a->va)
		return err;
	for (unsigned i = 1; i < a->pages; i++)
		if (refs[i] != refs[0] + i) {
			/* grant-dma-ops needs a run; this world gave us scattered refs */
			gm_gntshr_unshare(G.shr, a->va, a->pages);
			a->va = NULL;
			return -EOPNOTSUPP;
		}
	a->ref = refs[0];
	return 0;
}

/* End access to every page of a share, then free it; -EBUSY is the backend's fault. */
static int release_grants(unsigned char *va, const gm_gref *refs, unsigned n)
{
	int bad = 0, r;

	if (G.ram)
		return 0; /* plain RAM: nothing to end; the memory goes with the connection */
	for (unsigned i = 0; i < n; i++)
		if ((r = gm_gntshr_end_access(G.shr, refs[i])) < 0)
			bad = r;
	if (bad == -EBUSY)
		atomic_fetch_add(&S.busy_errors, 1);
	if ((r = gm_gntshr_unshare(G.shr, va, n)) < 0 && !bad)
		bad = r;
	return bad;
}

static int release_area(struct area *a)
{
	gm_gref refs[64];
	int r;

	if (!a->va)
		return 0;
	for (unsigned i = 0; i < a->pages; i++)
		refs[i] = a->ref + i;
	r = release_grants(a->va, refs, a->pages);
	a->va = NULL;
	return r;
}

static uint64_t area_addr(const struct area *a, size_t off)
{
	if (G.ram)
		return a->gpa + off;
	return GM_GRANT_ADDR(a->ref + off / GM_PAGE_SIZE, off % GM_PAGE_SIZE);
}

/* Show a shared ring area to the driver code at its grant address. */
static int map_area(struct dq *q, unsigned i, const struct area *a)
{
	int r = gm_ram_region_new(a->va, (size_t)a->pages * GM_PAGE_SIZE, GM_PROT_RW, &q->rg[i]);

	if (r == 0)
		r = gm_space_add(q->sp, area_addr(a, 0), q->rg[i]);
	return r;
}

static int dq_setup(struct dq *q, bool packed, bool event_idx)
{
	struct vqd_config c = {.size = q->size, .packed = packed, .event_idx = event_idx};
	int r;

	if ((r = share_area(&q->desc, vqd_desc_size(&c))) < 0 ||
	    (r = share_area(&q->avail, vqd_driver_size(&c))) < 0 ||
	    (r = share_area(&q->used, vqd_device_size(&c))) < 0)
		return r;
	if ((r = gm_space_new(&q->sp)) < 0 || (r = map_area(q, 0, &q->desc)) < 0 ||
	    (r = map_area(q, 1, &q->avail)) < 0 || (r = map_area(q, 2, &q->used)) < 0)
		return r;
	c.desc_addr = area_addr(&q->desc, 0);
	c.driver_addr = area_addr(&q->avail, 0);
	c.device_addr = area_addr(&q->used, 0);
	if ((r = vqd_init(&q->d, gm_space_mem(q->sp), &c)) < 0)
		return r;
	q->ready = true;
	if (G.ram) {
		/* an eventfd each way, handed to the backend with the layout */
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		return q->kick_fd < 0 || q->call_fd < 0 ? -errno : 0;
	}
	q->ev = NULL;
	if ((r = gm_evtchn_open(G.x, &q->ev)) < 0)
		return r;
	q->port = gm_evtchn_bind_unbound(q->ev, G.backend);
	return q->port < 0 ? q->port : 0;
}

static void dq_teardown(struct dq *q)
{
	if (q->ready)
		vqd_fini(&q->d);
	q->ready = false;
	gm_space_free(q->sp);
	q->sp = NULL;
	for (int i = 0; i < 3; i++) {
		gm_region_free(q->rg[i]);
		q->rg[i] = NULL;
	}
	if (release_area(&q->desc) < 0 || release_area(&q->avail) < 0 ||
	    release_area(&q->used) < 0)
		fail("queue %u: cannot end access to the ring grants (still mapped by the backend?)",
		     q->index);
	if (q->ev && q->port >= 0)
		gm_evtchn_unbind(q->ev, (gm_port)q->port);
	gm_evtchn_close(q->ev);
	q->ev = NULL;
	q->port = -1;
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	if (q->call_fd >= 0)
		close(q->call_fd);
	q->kick_fd = q->call_fd = -1;
}

/* Does the device want a kick for what we added? */
static bool dq_need_kick(struct dq *q)
{
	return vqd_kick_needed(&q->d) != 0;
}

/* Kick the device: our event channel, or the RAM transport's kick eventfd. */
static void dq_kick(struct dq *q)
{
	uint64_t one = 1;

	if (!G.ram) {
		gm_evtchn_notify(q->ev, (gm_port)q->port);
		if ((int)q->index == opt.storm_queue)
			atomic_fetch_add(&S.storm_notifies, 1);
	} else if (write(q->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		fail("queue %u: kick: %s", q->index, strerror(errno));
}

/* Take one completion; NULL if none.  *len: the bytes the device wrote. */
static struct req *dq_get(struct dq *q, uint32_t *len)
{
	void *tok = NULL;
	int r = vqd_get_used(&q->d, &tok, len);

	if (r == -EIO)
		fail("queue %u: the device completed a buffer that is not in flight", q->index);
	return r == 0 ? tok : NULL;
}

/* ---- requests --------------------------------------------------------------- */

static unsigned data_pages(void)
{
	return (opt.size + GM_PAGE_SIZE - 1) / GM_PAGE_SIZE;
}

static int buf_get(struct buf *b, unsigned pages)
{
	int err = 0;

	b->pages = pages;
	if (G.ram) {
		b->va = blk_ram_guest_alloc(&G.rg, (size_t)pages * GM_PAGE_SIZE, &b->gpa);
		return b->va ? 0 : -ENOMEM;
	}
	b->va = gm_gntshr_share(G.shr, G.backend, pages, b->refs, 1, &err);
	return b->va ? 0 : err;
}

/* The guest address of byte @off of page @p of @b: a grant address, or guest-physical. */
static uint64_t buf_addr(const struct buf *b, unsigned p, unsigned off)
{
	return G.ram ? b->gpa + (uint64_t)p * GM_PAGE_SIZE + off : GM_GRANT_ADDR(b->refs[p], off);
}

/* Build the descriptors of a request in @rq's buffer. */
static unsigned build(struct req *rq, uint32_t len, struct vqd_buf *s)
{
	struct buf *b = &rq->b;
	unsigned n = 0;
	bool in = rq->type != GM_VIRTIO_BLK_T_OUT && rq->type != GM_VIRTIO_BLK_T_DISCARD;

	s[n++] = (struct vqd_buf){buf_addr(b, 0, 0), 16, false};
	/* data: one descriptor per run of contiguous pages (consecutive grefs) */
	for (unsigned p = 1; p < b->pages && len;) {
		unsigned run = 1;
		uint32_t l;

		while (p + run < b->pages &&
		       buf_addr(b, p + run, 0) == buf_addr(b, p, 0) + (uint64_t)run * GM_PAGE_SIZE)
			run++;
		l = run * GM_PAGE_SIZE < len ? run * GM_PAGE_SIZE : len;
		s[n++] = (struct vqd_buf){buf_addr(b, p, 0), l, in};
		len -= l;
		p += run;
	}
	s[n++] = (struct vqd_buf){buf_addr(b, 0, STATUS_OFF), 1, true};
	return n;
}

static void put_header(struct req *rq, uint64_t sector)
{
	unsigned char *h = rq->b.va;

	gm_virtio_blk_put_le(h, rq->type, 4);
	gm_virtio_blk_put_le(h + 4, 0, 4);
	gm_virtio_blk_put_le(h + 8, sector, 8);
	h[STATUS_OFF] = 0xff;
}

/*
 * Pick a slot of this queue that is not in flight.  Random reads go to
 * slots written before (q->known), so that they can be verified.
 */
static uint64_t pick_slot(struct dq *q, bool *busy_map, bool for_read)
{
	uint64_t per = (G.nslots - q->index + nqueues - 1) / nqueues;
	uint64_t k;

	for (unsigned tries = 0;; tries++) {
		if (opt.seq)
			k = q->seq_next++ % per;
		else if (for_read && q->nknown && tries < 8)
			k = (q->known[rnd(q) % q->nknown] - q->index) / nqueues;
		else
			k = rnd(q) % per;
		if (!busy_map[k] || tries > 4 * opt.depth)
			break;
	}
	busy_map[k] = true;
	return k * nqueues + q->index;
}

/* Remember that @slot holds data we know (once). */
static void note_known(struct dq *q, uint64_t slot)
{
	if (G.listed[slot])
		return;
	if (q->nknown == q->cknown) {
		size_t nc = q->cknown ? 2 * q->cknown : 1024;
		uint64_t *nk = realloc(q->known, nc * sizeof(*nk));

		if (!nk)
			return;
		q->known = nk;
		q->cknown = nc;
	}
	G.listed[slot] = 1;
	q->known[q->nknown++] = slot;
}

static int issue(struct dq *q, struct req *rq, bool *busy_map, int force_type, bool keep_slot)
{
	bool want_read = force_type < 0 && !opt.seq && (rnd(q) & 1);
	struct vqd_buf s[MAX_DESC];
	uint32_t len = opt.size;
	unsigned n;
	int r;

	if (keep_slot)
		busy_map[(rq->slot - q->index) / nqueues] = true;
	else
		rq->slot = pick_slot(q, busy_map, want_read);
	if (force_type >= 0)
		rq->type = (uint32_t)force_type;
	else if (!G.gen[rq->slot])
		rq->type = GM_VIRTIO_BLK_T_OUT; /* unknown content: write it before reading it */
	else if (opt.seq)
		/* sequential: a write sweep, then a read sweep, and so on */
		rq->type = ((q->seq_next - 1) / ((G.nslots - q->index + nqueues - 1) / nqueues)) % 2
				   ? GM_VIRTIO_BLK_T_IN
				   : GM_VIRTIO_BLK_T_OUT;
	else
		rq->type = want_read ? GM_VIRTIO_BLK_T_IN : GM_VIRTIO_BLK_T_OUT;
	/* --discard: one write in eight becomes a discard of the slot */
	if (opt.discard && force_type < 0 && rq->type == GM_VIRTIO_BLK_T_OUT && G.gen[rq->slot] &&
	    rnd(q) % 8 == 0)
		rq->type = GM_VIRTIO_BLK_T_DISCARD;
	if (rq->type == GM_VIRTIO_BLK_T_GET_ID)
		len = GM_VIRTIO_BLK_ID_BYTES;
	else if (rq->type == GM_VIRTIO_BLK_T_DISCARD)
		len = 16; /* one segment */
	else if (rq->type == GM_VIRTIO_BLK_T_FLUSH)
		len = 0;
	if (!G.persistent && (r = buf_get(&rq->b, 1 + data_pages())) < 0) {
		busy_map[(rq->slot - q->index) / nqueues] = false;
		fail("cannot share a request buffer: %s", gm_strerror(r));
		return r;
	}
	if (rq->type == GM_VIRTIO_BLK_T_OUT) {
		static atomic_uint gen_counter;

		rq->gen = atomic_fetch_add(&gen_counter, 1) + 1;
		pattern_fill(rq->b.va + GM_PAGE_SIZE, opt.size, rq->slot, rq->gen);
		G.gen[rq->slot] = 0; /* unknown until the write completes */
	} else if (rq->type == GM_VIRTIO_BLK_T_DISCARD) {
		unsigned char *seg = rq->b.va + GM_PAGE_SIZE;

		gm_virtio_blk_put_le(seg, rq->slot * (opt.size / GM_VIRTIO_BLK_SECTOR), 8);
		gm_virtio_blk_put_le(seg + 8, opt.size / GM_VIRTIO_BLK_SECTOR, 4);
		gm_virtio_blk_put_le(seg + 12, 0, 4);
		rq->gen = GEN_ZERO;
		G.gen[rq->slot] = 0; /* unknown until the discard completes */
	} else {
		rq->gen = G.gen[rq->slot];
	}
	put_header(rq, rq->slot * (opt.size / GM_VIRTIO_BLK_SECTOR));
	n = build(rq, len, s);
	rq->busy = true;
	rq->t0 = now();
	if ((r = vqd_add(&q->d, s, n, 0, rq)) < 0) {
		fail("queue %u: ring full", q->index);
		return r;
	}
	atomic_fetch_add(&S.issued, 1);
	return 0;
}

static void complete(struct dq *q, struct req *rq, uint32_t written, bool *busy_map)
{
	unsigned char st = rq->b.va[STATUS_OFF];
	double lat = now() - rq->t0;
	int r;

	if (st != GM_VIRTIO_BLK_S_OK && opt.tolerate_ms) {
		/* a write that failed left its slot unknown (issue() said so) */
		q->n_failed++;
	} else if (st != GM_VIRTIO_BLK_S_OK) {
		fail("queue %u: request type %u slot %" PRIu64 ": status %u", q->index, rq->type,
		     rq->slot, st);
	} else if (rq->type == GM_VIRTIO_BLK_T_IN && !rq->gen && opt.tolerate_ms) {
		/* the warm-up's read of a slot whose write failed: nothing to verify */
	} else if (rq->type == GM_VIRTIO_BLK_T_IN) {
		long m = pattern_check(rq->b.va + GM_PAGE_SIZE, opt.size, rq->slot, rq->gen);

		if (written != opt.size + 1)
			fail("queue %u: read of slot %" PRIu64 ": device wrote %u bytes, want %u",
			     q->index, rq->slot, written, opt.size + 1);
		else if (m >= 0)
			fail("queue %u: read of slot %" PRIu64 " (generation %u): byte %ld differs",
			     q->index, rq->slot, rq->gen, m);
		else
			atomic_fetch_add(&S.bytes_verified, opt.size);
		atomic_fetch_add(&S.bytes_done, opt.size);
	} else if (rq->type == GM_VIRTIO_BLK_T_OUT || rq->type == GM_VIRTIO_BLK_T_DISCARD) {
		G.gen[rq->slot] = rq->gen;
		note_known(q, rq->slot);
		if (rq->type == GM_VIRTIO_BLK_T_DISCARD)
			atomic_fetch_add(&S.discards, 1);
		else
			atomic_fetch_add(&S.bytes_done, opt.size);
	} else if (rq->type == GM_VIRTIO_BLK_T_GET_ID) {
		if (written < 2 || rq->b.va[GM_PAGE_SIZE] == 0)
			fail("GET_ID returned nothing");
	}
	busy_map[(rq->slot - q->index) / nqueues] = false;
	if (!G.persistent) {
		/* the device completed it: it must not map the buffer any more */
		r = release_grants(rq->b.va, rq->b.refs, rq->b.pages);
		if (r < 0)
			fail("queue %u: ending access to a completed request's grants: %s", q->index,
			     gm_strerror(r));
		rq->b.va = NULL;
	}
	rq->busy = false;
	if (q->nlat == q->clat) {
		size_t nc = q->clat ? 2 * q->clat : 4096;
		double *nl = realloc(q->lat, nc * sizeof(*nl));

		if (nl) {
			q->lat = nl;
			q->clat = nc;
		}
	}
	if (q->nlat < q->clat)
		q->lat[q->nlat++] = lat;
	if (st == GM_VIRTIO_BLK_S_OK)
		q->n_ok++;
	atomic_fetch_add(&S.completed, 1);
}


/* May another request be issued?  Claims one from the global budget. */

static bool claim(void)
{
	uint_fast64_t c = atomic_load(&S.claimed);

	do {
		if (atomic_load(&S.stop_io) || (opt.requests && c >= opt.requests))
			return false;
	} while (!atomic_compare_exchange_weak(&S.claimed, &c, c + 1));
	/* --rate: request c goes out at c / rate seconds into the main phase */
	for (double wait; opt.rate && !atomic_load(&S.stop_io) &&
	     (wait = S.t_start + (double)c / opt.rate - now()) > 0;)
		usleep((useconds_t)(wait > 0.05 ? 50000 : wait * 1e6));
	return true;
}


enum phase { PH_MAIN, PH_SPECIAL, PH_WARM };

/*
 * --follow: the backend is gone (said once per loss); every queue thread
 * stops, leaving its requests where they are, and run() follows the device.
 */
static void lose_backend(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void lose_backend(const char *fmt, ...)
{
	va_list ap;

	if (!atomic_exchange(&S.lost, true)) {
		S.t_lost = now();
		va_start(ap, fmt);
		fputs("grantmem-guest: ", stdout);
		vprintf(fmt, ap);
		va_end(ap);
		puts(": following the device");
		fflush(stdout);
	}
	atomic_store(&S.abort_run, true);
}

struct run_arg {
	struct dq *q;
	enum phase kind;
	unsigned count; /* PH_SPECIAL: requests to issue */
	int type;       /* PH_SPECIAL: the request type */
};

static unsigned harvest(struct dq *q, bool *busy_map)
{
	unsigned n = 0;
	struct req *rq;
	uint32_t w;

	while ((rq = dq_get(q, &w)) != NULL) {
		complete(q, rq, w, busy_map);
		n++;
	}
	return n;
}

static void wait_event(struct dq *q, int ms)
{
	struct pollfd p = {.fd = G.ram ? q->call_fd : gm_evtchn_fd(q->ev), .events = POLLIN};
	uint64_t n;
	int pp;

	if (poll(&p, 1, ms) <= 0)
		return;
	if (G.ram) {
		if (read(q->call_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			fail("queue %u: interrupt: %s", q->index, strerror(errno));
		return;
	}
	/* the queue's one port, acked once: as the backend does, so that a
	 * backend notifying without pause cannot keep us here */
	if ((pp = gm_evtchn_pending(q->ev)) >= 0)
		gm_evtchn_unmask(q->ev, (gm_port)pp);
}

/*
 * One phase on queue @q: issue while the phase allows, keep --depth in
 * flight, verify completions, return when everything issued has completed
 * (or on a stall / abort, leaving requests in the ring for the teardown).
 */
static void *queue_main(void *arg)
{
	struct run_arg *ra = arg;
	struct dq *q = ra->q;
	uint64_t per = (G.nslots - q->index + nqueues - 1) / nqueues;
	bool *busy_map = calloc(per ? per : 1, 1);
	double last = now();
	unsigned inflight = 0, left = ra->count;

	if (!busy_map) {
		fail("out of memory");
		return NULL;
	}
	/* --hostile's queue belongs to its thread once the main phase started */
	if (q->gave_up || (q->hostile && ra->kind != PH_WARM)) {
		free(busy_map);
		return NULL;
	}
	for (unsigned i = 0; i < opt.depth; i++)
		if (q->reqs[i].busy) {
			/* left over from an aborted phase: its slot stays taken */
			busy_map[(q->reqs[i].slot - q->index) / nqueues] = true;
			inflight++;
		}
	for (;;) {
		bool more = true, added = false;
		unsigned got;

		while (inflight < opt.depth && !atomic_load(&S.abort_run)) {
			struct req *rq = NULL;
			int type = -1;
			bool keep = false;

			if (ra->kind == PH_WARM) {
				/* a write, then a read of it, through every pool buffer once */
				more = false;
				for (unsigned i = 0; i < opt.depth; i++)
					if (q->reqs[i].warm < 2) {
						more = true;
						if (!q->reqs[i].busy && !rq)
							rq = &q->reqs[i];
					}
			} else {
				for (unsigned i = 0; i < opt.depth && !rq; i++)
					if (!q->reqs[i].busy)
						rq = &q->reqs[i];
			}
			/* a request takes at most 2 + data_pages() descriptors */
			if (!more || !rq || q->d.num_free < 2 + data_pages())
				break;
			if (ra->kind == PH_MAIN) {
				more = claim();
			} else if (ra->kind == PH_WARM) {
				keep = rq->warm == 1;
				type = rq->warm ? GM_VIRTIO_BLK_T_IN : GM_VIRTIO_BLK_T_OUT;
				rq->warm++;
			} else if (!left) {
				more = false;
			} else {
				left--;
				type = ra->type;
			}
			if (!more)
				break;
			if (issue(q, rq, busy_map, type, keep) < 0) {
				atomic_store(&S.abort_run, true);
				break;
			}
			inflight++;
			added = true;
		}
		if (added && dq_need_kick(q))
			dq_kick(q);
		if (atomic_load(&S.abort_run) || (!more && atomic_load(&S.leave_inflight)))
			break;
		got = harvest(q, busy_map);
		inflight -= got;
		if (ra->kind == PH_MAIN && (int)q->index == opt.storm_queue)
			atomic_fetch_add(&S.storm_served, got);
		if (!more && !inflight)
			break;
		if (got) {
			last = now();
			continue;
		}
		if (opt.tolerate_ms && now() - last > opt.tolerate_ms / 1e3) {
			/* the backend broke this queue: the others go on without it */
			printf("grantmem-guest: queue %u: no completion for %u ms (%u in flight); "
			       "giving up on it until the next connection\n", q->index, opt.tolerate_ms,
			       inflight);
			fflush(stdout);
			q->stalls++;
			q->gave_up = true;
			break;
		}
		if (now() - last > opt.timeout) {
			/* a backend that died without a word looks like this */
			if (opt.follow && !G.ram)
				lose_backend("queue %u: no completion for %d s (%u in flight)",
					     q->index, opt.timeout, inflight);
			else
				fail("queue %u: no completion for %d s (%u in flight)", q->index,
				     opt.timeout, inflight);
			atomic_store(&S.abort_run, true);
			break;
		}
		wait_event(q, 100);
	}
	free(busy_map);
	return NULL;
}

/* Run a phase on every queue and wait for it. */
static void run_phase(enum phase kind, unsigned count, int type)
{
	struct run_arg *ra = calloc(nqueues, sizeof(*ra));

	if (!ra) {
		fail("out of memory");
		return;
	}
	for (unsigned i = 0; i < nqueues; i++) {
		ra[i] = (struct run_arg){.q = &queues[i], .kind = kind, .count = count, .type = type};
		if (pthread_create(&queues[i].thread, NULL, queue_main, &ra[i]) == 0)
			queues[i].started = true;
		else
			fail("cannot start a queue thread");
	}
	for (unsigned i = 0; i < nqueues; i++)
		if (queues[i].started) {
			pthread_join(queues[i].thread, NULL);
			queues[i].started = false;
		}
	free(ra);
}

/* ---- xenstore handshake --------------------------------------------------------- */

static int read_str_node(const char *dir, const char *key, char *buf, size_t size)
{
	char path[320], *v;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if ((r = gm_xs_read(G.xs, 0, path, &v, &len)) < 0)
		return r;
	if (len >= size || strlen(v) != len) {
		free(v);
		return -EINVAL;
	}
	memcpy(buf, v, len + 1);
	free(v);
	return 0;
}

static enum gm_vdev_state be_state(void)
{
	enum gm_vdev_state s = GM_VDEV_STATE_UNKNOWN;

	gm_vdev_read_state(G.xs, G.be_dir, &s);
	return s;
}

/* Wait until the backend's state satisfies @ok (watch-driven, with a timeout). */
static int wait_backend(bool (*ok)(enum gm_vdev_state), enum gm_vdev_state *out)
{
	double deadline = now() + opt.timeout;

	for (;;) {
		enum gm_vdev_state s = be_state();
		struct pollfd p = {.fd = gm_xs_fd(G.xs), .events = POLLIN};
		char *wp, *wt;
		double left;

		if (ok(s)) {
			if (out)
				*out = s;
			return 0;
		}
		left = deadline - now();
		if (left <= 0) {
			fail("the backend stayed %s (%s) for %d s", gm_vdev_state_name(s), G.be_dir,
			     opt.timeout);
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, left > 0.2 ? 200 : (int)(left * 1000) + 1) > 0)
			while (gm_xs_read_watch(G.xs, &wp, &wt) == 0) {
				free(wp);
				free(wt);
			}
	}
}

static bool st_initwait(enum gm_vdev_state s)
{
	return s == GM_VDEV_STATE_INITWAIT;
}

static bool st_connected(enum gm_vdev_state s)
{
	return s == GM_VDEV_STATE_CONNECTED;
}

static bool st_closed(enum gm_vdev_state s)
{
	return s == GM_VDEV_STATE_CLOSED || s == GM_VDEV_STATE_UNKNOWN;
}

static void set_state(enum gm_vdev_state s)
{
	int r = gm_vdev_write_state(G.xs, G.fe_dir, s);

	if (r < 0)
		fail("cannot write %s/state: %s", G.fe_dir, gm_strerror(r));
}

/* Per-connection stats as the backend published them. */
struct bstats {
	uint64_t requests, map_calls;
};

static void read_stats(struct bstats *st)
{
	char dir[300];

	memset(st, 0, sizeof(*st));
	if (G.ram) {
		/* plain RAM: nothing is mapped per request and nothing published;
		 * what completed here on this connection is what the backend served */
		st->requests = atomic_load(&S.completed) - G.ram_done0;
		return;
	}
	snprintf(dir, sizeof(dir), "%s/stats", G.be_dir);
	gm_vdev_read_u64(G.xs, dir, "requests", UINT64_MAX, &st->requests);
	gm_vdev_read_u64(G.xs, dir, "map-calls", UINT64_MAX, &st->map_calls);
}

static void alloc_pool(void)
{
	for (unsigned i = 0; i < nqueues; i++)
		for (unsigned k = 0; k < opt.depth; k++) {
			struct req *rq = &queues[i].reqs[k];
			int r;

			if (!rq->b.va && (r = buf_get(&rq->b, 1 + data_pages())) < 0) {
				fail("cannot share a pool buffer: %s", gm_strerror(r));
				atomic_store(&S.abort_run, true);
				return;
			}
		}
}

/* After the backend closed: every request buffer still shared goes. */
static void release_requests(bool pool_too)
{
	for (unsigned i = 0; i < nqueues; i++)
		for (unsigned k = 0; k < opt.depth; k++) {
			struct req *rq = &queues[i].reqs[k];

			if (rq->busy && rq->type == GM_VIRTIO_BLK_T_OUT)
				G.gen[rq->slot] = 0; /* may or may not have reached the disk */
			rq->busy = false;
			rq->warm = 0;
			if (rq->b.va && (pool_too || !G.persistent)) {
				if (release_grants(rq->b.va, rq->b.refs, rq->b.pages) < 0)
					fail("a request buffer is still mapped after the backend closed");
				rq->b.va = NULL;
			}
		}
	for (unsigned i = 0; i < nqueues; i++) {
		struct req *h[2] = {queues[i].hpending, queues[i].hkeep};

		for (int k = 0; k < 2; k++) {
			if (!h[k])
				continue;
			if (release_grants(h[k]->b.va, h[k]->b.refs, h[k]->b.pages) < 0)
				fail("queue %u: a hostile request's buffer is still mapped after the "
				     "backend closed", i);
			free(h[k]);
		}
		queues[i].hpending = queues[i].hkeep = NULL;
	}
}

/*
 * --transport ram: the guest's memory, at RAM_BASE: each queue's rings and
 * one buffer per in-flight slot.
 */
#define RAM_BASE 0x40000000ull /* 1 GiB; any page-aligned base would do */

static size_t ram_bytes(void)
{
	struct vqd_config c = {.size = opt.queue_size, .packed = opt.packed, .event_idx = true};
	size_t ring = (vqd_desc_size(&c) + GM_PAGE_SIZE - 1) / GM_PAGE_SIZE +
		      (vqd_driver_size(&c) + GM_PAGE_SIZE - 1) / GM_PAGE_SIZE +
		      (vqd_device_size(&c) + GM_PAGE_SIZE - 1) / GM_PAGE_SIZE;

	return (size_t)nqueues * (ring + (size_t)opt.depth * (1 + data_pages())) * GM_PAGE_SIZE;
}

/* --transport ram: hand the backend our memory, the queues and their eventfds. */
static int ram_setup(const struct gm_vdev_front_info *fi)
{
	int kick[BLK_RAM_MAX_QUEUES], call[BLK_RAM_MAX_QUEUES], r;

	for (unsigned i = 0; i < nqueues; i++) {
		kick[i] = queues[i].kick_fd;
		call[i] = queues[i].call_fd;
	}
	r = blk_ram_guest_setup(&G.rg, fi, kick, call, opt.timeout * 1000);
	if (r < 0) {
		fail("the backend refused our memory and queues: %s", gm_strerror(r));
		return r;
	}
	G.ram_done0 = atomic_load(&S.completed);
	atomic_store(&G.ram_up, true);
	return r;
}

/* The handshake, up to Connected.  Returns 0 or -errno (counted as an error). */
static int connect_device(void)
{
	struct gm_vdev_front_info *fi = calloc(1, sizeof(*fi));
	uint64_t want;
	unsigned maxq;
	int r;

	if (!fi)
		return -ENOMEM;
	if (G.ram &&
	    (r = blk_ram_guest_connect(&G.rg, opt.socket, &G.bi, opt.timeout * 1000)) < 0) {
		fail("no backend at %s: %s", opt.socket, gm_strerror(r));
		goto out;
	}
	if (!G.ram && (r = wait_backend(st_initwait, NULL)) < 0)
		goto out;
	if (!G.ram && (r = gm_vdev_read_backend(G.xs, G.be_dir, &G.bi)) < 0) {
		fail("the backend's nodes are unusable: %s", gm_strerror(r));
		goto out;
	}
	if (G.bi.device_id != GM_VIRTIO_BLK_DEVICE_ID ||
	    G.bi.config_len < GM_VIRTIO_BLK_CFG_NUM_QUEUES + 2) {
		fail("not a block device (device-id %u)", G.bi.device_id);
		r = -ENODEV;
		goto out;
	}
	want = GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1) | GM_VIRTIO_BIT(GM_VIRTIO_F_ACCESS_PLATFORM) |
	       GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_FLUSH) | GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_BLK_SIZE) |
	       GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_SEG_MAX) | GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_MQ) |
	       GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX);
	if (opt.packed)
		want |= GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	if (opt.discard)
		want |= GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_DISCARD);
	G.features = G.bi.features & want;
	if (opt.discard && !(G.features & GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_DISCARD))) {
		fail("--discard: the backend does not offer discard");
		r = -EOPNOTSUPP;
		goto out;
	}
	if (opt.packed && !(G.features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED))) {
		fail("--packed: the backend does not offer packed rings");
		r = -EOPNOTSUPP;
		goto out;
	}
	maxq = G.bi.max_queues;
	if (!(G.features & GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_MQ)))
		maxq = 1;
	if (opt.queues > maxq) {
		fail("--queues %u: the backend offers %u", opt.queues, maxq);
		r = -EINVAL;
		goto out;
	}
	if (opt.queue_size > G.bi.max_queue_size)
		opt.queue_size = G.bi.max_queue_size;
	if (opt.queue_size < 2 + data_pages()) {
		fail("queue size %u is too small", opt.queue_size);
		r = -EINVAL;
		goto out;
	}
	/* plain RAM: one buffer per in-flight slot, reused, like the persistent pool */
	G.persistent = G.ram || (G.bi.persistent && !opt.no_persistent);
	{
		uint64_t sectors =
			gm_virtio_blk_get_le(G.bi.config + GM_VIRTIO_BLK_CFG_CAPACITY, 8);
		uint64_t nslots = sectors * GM_VIRTIO_BLK_SECTOR / opt.size;

		if (G.gen && nslots != G.nslots) {
			fail("the disk changed size");
			r = -EINVAL;
			goto out;
		}
		if (nslots < (uint64_t)opt.depth * nqueues * 2) {
			fail("the disk (%" PRIu64 " sectors) is too small for --depth %u and --size %u",
			     sectors, opt.depth, opt.size);
			r = -ENOSPC;
			goto out;
		}
		G.nslots = nslots;
		if (!G.gen && (!(G.gen = calloc(nslots, sizeof(*G.gen))) ||
			       !(G.listed = calloc(nslots, 1)))) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (G.ram && (r = blk_ram_guest_mem(&G.rg, RAM_BASE, ram_bytes())) < 0) {
		fail("cannot create the guest's memory: %s", gm_strerror(r));
		goto out;
	}
	fi->features = G.features;
	fi->num_queues = nqueues;
	fi->persistent = G.persistent;
	for (unsigned i = 0; i < nqueues; i++) {
		struct dq *q = &queues[i];

		q->index = i;
		q->size = opt.queue_size;
		q->gave_up = false;
		if ((r = dq_setup(q, opt.packed,
				  G.features & GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX))) < 0) {
			fail("queue %u: cannot set up the rings: %s", i, gm_strerror(r));
			goto out;
		}
		fi->queues[i] = (struct gm_vdev_queue_info){
			.size = q->size, .layout = opt.packed ? GM_VDEV_PACKED : GM_VDEV_SPLIT,
			.desc = area_addr(&q->desc, 0), .driver = area_addr(&q->avail, 0),
			.device = area_addr(&q->used, 0), .port = (gm_port)q->port,
		};
	}
	if (G.persistent)
		alloc_pool();
	if (G.ram) {
		r = ram_setup(fi);
		goto out;
	}
	if ((r = gm_vdev_publish_frontend(G.xs, G.fe_dir, fi)) < 0) {
		fail("cannot publish the queues: %s", gm_strerror(r));
		goto out;
	}
	if ((r = wait_backend(st_connected, NULL)) < 0)
		goto out;
	set_state(GM_VDEV_STATE_CONNECTED);
out:
	free(fi);
	return r;
}

/*
 * Start from a fresh handshake.  A driver that restarts finds its device as
 * an earlier run left it: Connected (the run was killed), Closed (it ended
 * cleanly), or half way through a handshake.  Like a driver whose module
 * is reloaded it closes that first (Closing; the backend answers Closed
 * once nothing of ours is mapped, or its directory is gone) and starts
 * again from Initialising.  0, or -errno (counted).
 */
static int fresh_handshake(void)
{
	enum gm_vdev_state fs = GM_VDEV_STATE_UNKNOWN;
	int r;

	if (G.ram)
		return 0;
	if ((r = gm_vdev_read_state(G.xs, G.fe_dir, &fs)) < 0) {
		fail("cannot read %s/state: %s", G.fe_dir, gm_strerror(r));
		return r;
	}
	if (fs == GM_VDEV_STATE_INITIALISING || fs == GM_VDEV_STATE_UNKNOWN)
		return 0;
	printf("grantmem-guest: the device was left %s (backend %s): closing it first\n",
	       gm_vdev_state_name(fs), gm_vdev_state_name(be_state()));
	fflush(stdout);
	set_state(GM_VDEV_STATE_CLOSING);
	if ((r = wait_backend(st_closed, NULL)) < 0)
		return r;
	set_state(GM_VDEV_STATE_INITIALISING);
	return 0;
}

/* What this run knows of the disk's contents goes (another backend, another disk). */
static void forget_disk(void)
{
	free(G.gen);
	free(G.listed);
	G.gen = NULL;
	G.listed = NULL;
	for (unsigned i = 0; i < nqueues; i++)
		queues[i].nknown = 0;
}

/*
 * --follow: where the toolstack says the device's backend is now.  A new
 * backend directory (another domain, or the same one rebuilt) is watched
 * instead of the old one; another domain serves another disk.  0 when the
 * frontend directory names a backend, -ENOENT while it does not.
 */
static int follow_where(void)
{
	char dir[sizeof(G.be_dir)], bid[16];
	uint64_t b;

	if (read_str_node(G.fe_dir, "backend", dir, sizeof(dir)) < 0 ||
	    read_str_node(G.fe_dir, "backend-id", bid, sizeof(bid)) < 0 ||
	    gm_vdev_parse_u64(bid, GM_DOMID_MAX, &b) < 0)
		return -ENOENT;
	if (!strcmp(dir, G.be_dir) && b == G.backend)
		return 0;
	gm_xs_unwatch(G.xs, G.be_state, "be");
	if (b != G.backend) {
		S.moves++;
		forget_disk();
	}
	printf("grantmem-guest: the device is served from %s now (backend domain %" PRIu64 ")\n",
	       dir, b);
	fflush(stdout);
	snprintf(G.be_dir, sizeof(G.be_dir), "%s", dir);
	snprintf(G.be_state, sizeof(G.be_state), "%s/state", G.be_dir);
	G.backend = (gm_domid)b;
	gm_xs_watch(G.xs, G.be_state, "be");
	return 0;
}

/*
 * --follow: the backend went away (it left Connected, its directory went,
 * or nothing completed for --timeout seconds).  Close our side as after
 * any close: Closing, then the backend's Closed or its directory gone (a
 * killed backend that nobody restarts says nothing: not waited for beyond
 * --follow), and end every grant, which must succeed: nothing may stay
 * mapped by a backend that is gone.  Then wait for the device to be served
 * again, by the same backend started again (it says Closed, then
 * publishes) or by the domain the toolstack names next in our directory,
 * and connect.  0 when connected again; -1 (counted) when it did not come
 * back within --follow seconds, -2 when told to stop meanwhile.
 */
static int follow_device(void)
{
	double deadline = now() + opt.follow;
	enum gm_vdev_state bs;

	S.losses++;
	atomic_store(&S.reconnecting, true);
	set_state(GM_VDEV_STATE_CLOSING);
	while (!st_closed(be_state()) && now() < deadline && !atomic_load(&S.stop_io))
		usleep(200 * 1000);
	release_requests(true);
	for (unsigned i = 0; i < nqueues; i++)
		dq_teardown(&queues[i]);
	set_state(GM_VDEV_STATE_CLOSED);
	printf("grantmem-guest: every grant ended (backend %s) %.1f s after the loss; waiting up to "
	       "%d s for the device\n", gm_vdev_state_name(be_state()), now() - S.t_lost, opt.follow);
	fflush(stdout);
	for (;;) {
		if (atomic_load(&S.stop_io))
			return -2;
		if (follow_where() == 0) {
			bs = be_state();
			/* a backend that is there: fresh (Initialising, InitWait) or done */
			if (bs == GM_VDEV_STATE_INITIALISING || bs == GM_VDEV_STATE_INITWAIT ||
			    bs == GM_VDEV_STATE_CLOSED)
				break;
		}
		if (now() > deadline) {
			fail("the device was not served again within %d s (backend %s)", opt.follow,
			     gm_vdev_state_name(be_state()));
			return -1;
		}
		usleep(200 * 1000);
	}
	if (fresh_handshake() < 0 || connect_device() < 0)
		return -1;
	atomic_store(&S.reconnecting, false);
	printf("grantmem-guest: served again by backend domain %u, %.1f s after the loss\n",
	       G.backend, now() - S.t_lost);
	fflush(stdout);
	return 0;
}

/*
 * Close: Closing, wait for the backend to close (it releases every mapping
 * first), check that nothing of ours is mapped, take the stats, end every
 * grant.  @then: the state to leave the device in (Closed, or Initialising
 * to connect again).
 */
static void disconnect_device(struct bstats *st, enum gm_vdev_state then)
{
	int r;

	if (G.ram) {
		/* the backend stops every queue before it confirms */
		atomic_store(&G.ram_up, false);
		if ((r = blk_ram_guest_close(&G.rg, opt.timeout * 1000)) < 0)
			fail("the backend did not confirm the close: %s", gm_strerror(r));
		read_stats(st);
		release_requests(true);
		for (unsigned i = 0; i < nqueues; i++)
			dq_teardown(&queues[i]);
		blk_ram_guest_free_mem(&G.rg);
		return;
	}
	set_state(GM_VDEV_STATE_CLOSING);
	if (wait_backend(st_closed, NULL) == 0) {
		read_stats(st);
		if (G.emulated) {
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
	release_requests(true);
	for (unsigned i = 0; i < nqueues; i++)
		dq_teardown(&queues[i]);
	set_state(then);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- progress ------------------------------------------------------------------- */


static void *progress_main(void *arg)
{
	uint64_t last_bytes = 0;
	double last = now();

	(void)arg;
	for (;;) {
		/* short naps: a run that ends is not kept waiting for its progress line */
		struct timespec ts = {0, 20 * 1000 * 1000};
		double t;

		for (int i = 0; i < 50; i++) {
			if (atomic_load(&S.stop_io) || atomic_load(&S.abort_run))
				return NULL;
			nanosleep(&ts, NULL);
		}
		t = now();
		if (opt.seconds > 0 && t - S.t_start >= opt.seconds)
			atomic_store(&S.stop_io, true);
		/* (ram_up is read again: a close we started is not a loss) */
		if (G.ram && atomic_load(&G.ram_up) && blk_ram_guest_lost(&G.rg) &&
		    atomic_load(&G.ram_up)) {
			fail("the backend closed the connection");
			atomic_store(&S.abort_run, true);
			return NULL;
		}
		/* (reconnecting is read again: a reconnect may start meanwhile) */
		if (!G.ram && !atomic_load(&S.reconnecting) && be_state() != GM_VDEV_STATE_CONNECTED &&
		    !atomic_load(&S.reconnecting)) {
			/* requests in flight will never complete: do not wait for the timeout */
			if (opt.follow)
				lose_backend("the backend left Connected (%s)",
					     gm_vdev_state_name(be_state()));
			else
				fail("the backend left Connected (%s)", gm_vdev_state_name(be_state()));
			atomic_store(&S.abort_run, true);
			return NULL;
		}
		if (!opt.quiet) {
			uint64_t b = atomic_load(&S.bytes_done);

			printf("progress: t=%.0fs requests=%" PRIu64 " MB/s=%.1f errors=%" PRIu64 "\n",
			       t - S.t_start, (uint64_t)atomic_load(&S.completed),
			       (double)(b - last_bytes) / (t - last) / 1e6,
			       (uint64_t)atomic_load(&S.errors));
			fflush(stdout);
		}
		last_bytes = atomic_load(&S.bytes_done);
		last = t;
	}
}

/* ---- --storm-queue ---------------------------------------------------------------- */

/* Notify queue @arg's event channel as fast as we can. */
static void *storm_main(void *arg)
{
	struct dq *q = arg;

	while (!atomic_load(&S.storm_stop)) {
		int r = gm_evtchn_notify(q->ev, (gm_port)q->port);

		if (r < 0) {
			fail("storm: notify: %s", gm_strerror(r));
			break;
		}
		atomic_fetch_add(&S.storm_notifies, 1);
	}
	return NULL;
}

/* The backend's published wakeups of the storm queue; 0 if not there. */
static uint64_t storm_wakeups(void)
{
	char key[64];
	uint64_t v = 0;

	snprintf(key, sizeof(key), "stats/queue-%d/wakeups", opt.storm_queue);
	gm_vdev_read_u64(G.xs, G.be_dir, key, UINT64_MAX, &v);
	return v;
}

/*
 * After the storm: the backend's wakeups for the queue must stop growing
 * (published every 250 ms: two equal reads 300 ms apart).  Prints the
 * storm line.
 */
static void storm_report(uint64_t wakeups0)
{
	uint64_t w = storm_wakeups(), prev;
	int steady = 0;

	for (int i = 0; i < 50 && steady < 2; i++) {
		usleep(300 * 1000);
		prev = w;
		w = storm_wakeups();
		steady = w == prev ? steady + 1 : 0;
	}
	if (steady < 2)
		fail("storm: the backend still wakes for queue %d after the storm", opt.storm_queue);
	printf("storm: queue=%d notifies=%" PRIu64 " wakeups=%" PRIu64 " served=%" PRIu64 "\n",
	       opt.storm_queue, (uint64_t)atomic_load(&S.storm_notifies), w - wakeups0,
	       (uint64_t)atomic_load(&S.storm_served));
	fflush(stdout);
}

/* ---- --hostile ------------------------------------------------------------------ */

/*
 * Requests a device must refuse, or at least answer, on the last queue (no
 * ordinary I/O there in the main phase), one at a time, each in fresh
 * grants that are ended once it completed (with persistent grants: all in
 * one buffer, ended after the device closed, as the pool is):
 *
 *   oversize    writes that run past the end of the disk (an error status
 *               is the only right answer), and when the main phase is over
 *               one chain of seg_max + 8 data descriptors, more than the
 *               device said it takes: refused with an error status, or the
 *               queue is broken and the chain never completes (virtio's
 *               answer to a malformed ring); either way the other queues
 *               and guests go on, and nothing of it stays mapped once the
 *               device closes;
 *   repeat      reads whose HOSTILE_REPEAT data descriptors all name the
 *               same granted page: served or refused, but answered;
 *   impossible  reads into one buffer of 4 GiB - 4 KiB (one granted page,
 *               then refs never granted): no budget can ever hold it, so
 *               it must be refused with an error status within a second,
 *               its page left untouched; each is followed by an ordinary
 *               read on the same queue, which must be served;
 *   flood       no verified I/O at all, only the attack, as fast as the
 *               device answers: requests over the device's size limit (one
 *               16 MiB buffer: refused) in turn with reads whose seg_max
 *               data descriptors all name one page (served or refused).
 *
 * A request served where it must be refused, or not answered (but for the
 * final long chain), is an error.  Prints
 *
 *   hostile: mode=M sent=N ok=N refused=N unanswered=N max_refusal_ms=T
 *
 * (T: the longest a request that must be refused waited for its answer).
 */
#define HOSTILE_REPEAT 32
#define HOSTILE_IMPOSSIBLE 0xfffff000u /* 4 GiB - 4 KiB */
#define HOSTILE_OVERLIMIT (16u << 20)

static const char *const hostile_modes[] = {"oversize", "repeat", "impossible", "flood", NULL};

/* What one hostile request is. */
enum hreq {
	HR_PAST_END,   /* a write past the disk's end: refused */
	HR_LONG_CHAIN, /* seg_max + 8 data descriptors: refused or never answered */
	HR_REPEAT,     /* a read along one page repeated: served or refused */
	HR_IMPOSSIBLE, /* a read into 4 GiB - 4 KiB: refused */
	HR_OVERLIMIT,  /* a read into 16 MiB: refused */
	HR_PLAIN,      /* an ordinary read of one page: served */
};

static unsigned hostile_seg_max(void)
{
	if ((G.features & GM_VIRTIO_BIT(GM_VIRTIO_BLK_F_SEG_MAX)) &&
	    G.bi.config_len >= GM_VIRTIO_BLK_CFG_SEG_MAX + 4)
		return (unsigned)gm_virtio_blk_get_le(G.bi.config + GM_VIRTIO_BLK_CFG_SEG_MAX, 4);
	return opt.queue_size;
}

/* The data descriptors of a request of kind @k (its header, status aside). */
static void hostile_shape(struct dq *q, enum hreq k, unsigned *ndata, uint32_t *len,
			  uint64_t *sector)
{
	uint64_t sectors = gm_virtio_blk_get_le(G.bi.config + GM_VIRTIO_BLK_CFG_CAPACITY, 8);
	unsigned seg_max = hostile_seg_max();

	*ndata = 1;
	*len = GM_PAGE_SIZE;
	*sector = 0;
	switch (k) {
	case HR_PAST_END:
		*sector = sectors - 1; /* 8 sectors from the last one */
		break;
	case HR_LONG_CHAIN:
		*ndata = seg_max + 8;
		*len = GM_VIRTIO_BLK_SECTOR;
		break;
	case HR_REPEAT:
		*ndata = opt.hostile == H_FLOOD ? seg_max : HOSTILE_REPEAT;
		*sector = rnd(q) % (sectors - *ndata * 8) & ~7ull;
		break;
	case HR_IMPOSSIBLE:
		*len = HOSTILE_IMPOSSIBLE;
		break;
	case HR_OVERLIMIT:
		*len = HOSTILE_OVERLIMIT;
		break;
	case HR_PLAIN:
		*sector = rnd(q) % (sectors - 8) & ~7ull;
		break;
	}
}

/* One hostile request on @q; waits for its answer at most --timeout seconds. */
static void hostile_send(struct dq *q, enum hreq k)
{
	bool long_chain = k == HR_LONG_CHAIN, answered = false;
	bool must_refuse = k == HR_PAST_END || long_chain || k == HR_IMPOSSIBLE ||
			   k == HR_OVERLIMIT;
	bool in = k != HR_PAST_END && !long_chain;
	unsigned ndata, n = 0, max = hostile_seg_max() + 10;
	struct vqd_buf *sg = calloc(max, sizeof(*sg));
	struct req *rq = G.persistent ? q->hkeep : NULL;
	uint64_t sector;
	uint32_t len;
	double t0, waited;

	if (!rq && (!(rq = calloc(1, sizeof(*rq))) || buf_get(&rq->b, 2) < 0)) {
		fail("hostile: cannot share a buffer");
		atomic_store(&S.abort_run, true);
		goto out_free;
	}
	if (G.persistent)
		q->hkeep = rq;
	if (!sg)
		goto out_release;
	hostile_shape(q, k, &ndata, &len, &sector);
	rq->type = in ? GM_VIRTIO_BLK_T_IN : GM_VIRTIO_BLK_T_OUT;
	gm_virtio_blk_put_le(rq->b.va, rq->type, 4);
	gm_virtio_blk_put_le(rq->b.va + 4, 0, 4);
	gm_virtio_blk_put_le(rq->b.va + 8, sector, 8);
	rq->b.va[STATUS_OFF] = 0xff;
	/* a refused read must leave its buffer as it was */
	memset(rq->b.va + GM_PAGE_SIZE, 0xa5, GM_PAGE_SIZE);
	sg[n++] = (struct vqd_buf){buf_addr(&rq->b, 0, 0), 16, false};
	for (unsigned i = 0; i < ndata; i++)
		sg[n++] = (struct vqd_buf){buf_addr(&rq->b, 1, long_chain ? (i % 8) * len : 0), len,
					   in};
	sg[n++] = (struct vqd_buf){buf_addr(&rq->b, 0, STATUS_OFF), 1, true};
	if (q->d.num_free < n) {
		fail("hostile: queue %u (%u descriptors) cannot take a chain of %u: use a bigger "
		     "--queue-size", q->index, q->size, n);
		atomic_store(&S.abort_run, true);
		goto out_release;
	}
	if (vqd_add(&q->d, sg, n, 0, rq) < 0) {
		fail("hostile: queue %u: ring full", q->index);
		goto out_release;
	}
	dq_kick(q);
	S.h_sent++;
	for (t0 = now(); !answered && now() - t0 < (long_chain ? 3 : opt.timeout);) {
		uint32_t w;
		struct req *got = dq_get(q, &w);

		if (got == rq)
			answered = true;
		else if (!got)
			wait_event(q, 100);
	}
	waited = now() - t0;
	if (!answered) {
		S.h_unanswered++;
		if (!long_chain)
			fail("hostile: a %s request got no answer in %d s", hostile_modes[opt.hostile - 1],
			     opt.timeout);
		/* in the ring for good: its grants are ended after the device closed */
		if (!G.persistent)
			q->hpending = rq;
		rq = NULL;
		goto out_free;
	}
	if (must_refuse && waited * 1e3 > S.h_max_refusal_ms)
		S.h_max_refusal_ms = waited * 1e3;
	if (rq->b.va[STATUS_OFF] == GM_VIRTIO_BLK_S_OK) {
		S.h_ok++;
		if (must_refuse)
			fail("hostile: the device served a request it must refuse (%s)",
			     long_chain ? "a chain longer than seg_max" :
			     k == HR_PAST_END ? "beyond the end of the disk" :
			     "larger than any mapping budget");
	} else {
		S.h_refused++;
		if (k == HR_PLAIN)
			fail("hostile: an ordinary read after a refused one got status %u",
			     rq->b.va[STATUS_OFF]);
		if (in) {
			for (unsigned i = 0; i < GM_PAGE_SIZE; i++)
				if (rq->b.va[GM_PAGE_SIZE + i] != 0xa5) {
					fail("hostile: a refused read wrote into its buffer "
					     "(byte %u)", i);
					break;
				}
		}
	}
out_release:
	/* answered (or never sent): the device must not map it any more */
	if (G.persistent)
		rq = NULL; /* kept, as the pool is */
	else if (rq->b.va && release_grants(rq->b.va, rq->b.refs, rq->b.pages) < 0)
		fail("hostile: ending access to an answered request's grants failed");
out_free:
	if (rq && rq != q->hkeep)
		free(rq);
	free(sg);
}

static void *hostile_main(void *arg)
{
	struct dq *q = arg;

	for (unsigned i = 0; !atomic_load(&S.hostile_stop) && !atomic_load(&S.abort_run); i++) {
		switch (opt.hostile) {
		case H_OVERSIZE:
			hostile_send(q, HR_PAST_END);
			break;
		case H_REPEAT:
			hostile_send(q, HR_REPEAT);
			break;
		case H_IMPOSSIBLE:
			hostile_send(q, i % 2 ? HR_PLAIN : HR_IMPOSSIBLE);
			break;
		case H_FLOOD:
			hostile_send(q, i % 2 ? HR_REPEAT : HR_OVERLIMIT);
			break;
		case H_NONE:
			return NULL;
		}
	}
	if (opt.hostile == H_OVERSIZE && !atomic_load(&S.abort_run))
		hostile_send(q, HR_LONG_CHAIN);
	printf("hostile: mode=%s sent=%" PRIu64 " ok=%" PRIu64 " refused=%" PRIu64
	       " unanswered=%" PRIu64 " max_refusal_ms=%.1f\n", hostile_modes[opt.hostile - 1],
	       S.h_sent, S.h_ok, S.h_refused, S.h_unanswered, S.h_max_refusal_ms);
	fflush(stdout);
	return NULL;
}

/* ---- main ----------------------------------------------------------------------- */

/*
 * The Xen transports: open the world and the handles, find our device and
 * its backend in xenstore, watch the backend's state.  0, or -1 (printed).
 */
static int open_xen(void)
{
	char bid[16];
	int r;

	if ((r = gm_xen_open(opt.spec, &G.x)) < 0) {
		fprintf(stderr, "grantmem-guest: cannot open Xen: %s\n", gm_strerror(r));
		return -1;
	}
	{
		struct gm_emu_world_info wi = {.size = sizeof(wi)};

		G.emulated = gm_emu_world_info(G.x, &wi) == 0;
	}
	if ((r = gm_xen_self_domid(G.x, &G.self)) < 0 || (r = gm_xs_open(G.x, &G.xs)) < 0 ||
	    (r = gm_gntshr_open(G.x, &G.shr)) < 0) {
		fprintf(stderr, "grantmem-guest: cannot open Xen handles: %s\n", gm_strerror(r));
		return -1;
	}
	snprintf(G.fe_dir, sizeof(G.fe_dir), "/local/domain/%u/device/%s/%u", G.self,
		 opt.type ? opt.type : GM_VDEV_TYPE_DEFAULT, opt.devid);
	if (read_str_node(G.fe_dir, "backend", G.be_dir, sizeof(G.be_dir)) < 0 ||
	    read_str_node(G.fe_dir, "backend-id", bid, sizeof(bid)) < 0) {
		fprintf(stderr,
			"grantmem-guest: no device at %s (create it: grantmem-vdev add --backend-domid B "
			"--frontend-domid %u)\n", G.fe_dir, G.self);
		return -1;
	}
	{
		uint64_t b;

		if (gm_vdev_parse_u64(bid, GM_DOMID_MAX, &b) < 0 ||
		    (opt.want_backend >= 0 && b != (uint64_t)opt.want_backend)) {
			fprintf(stderr, "grantmem-guest: %s/backend-id is \"%s\"\n", G.fe_dir, bid);
			return -1;
		}
		G.backend = (gm_domid)b;
	}
	snprintf(G.be_state, sizeof(G.be_state), "%s/state", G.be_dir);
	if ((r = gm_xs_watch(G.xs, G.be_state, "be")) < 0) {
		fprintf(stderr, "grantmem-guest: cannot watch %s: %s\n", G.be_state, gm_strerror(r));
		return -1;
	}
	return 0;
}

#define KEY_TOLERATE TOOL_LONG_ONLY
#define KEY_STORM (TOOL_LONG_ONLY + 1)
#define KEY_FOLLOW (TOOL_LONG_ONLY + 2)
#define KEY_HOSTILE (TOOL_LONG_ONLY + 3)
#define KEY_RATE (TOOL_LONG_ONLY + 4)

static const struct tool_opt opts[] = {
	{"xen", 'x', "SPEC", "the Xen world (gm_xen_open: \"real\", \"emu:SOCKET,domid=N\");\n"
			     "default $GRANTMEM_XEN, else real Xen"},
	{"transport", 'X', "NAME", "xenstore (default) or ram: no Xen, the guest's memory is a\n"
				   "memfd shared with grantmem-blk --transport ram --socket PATH"},
	{"socket", 'U', "PATH", "--transport ram: the backend's unix socket (required)"},
	{"backend-domid", 'b', "N", "the backend domain the device must name (default: any)"},
	{"devid", 'd', "N", "the device number (default 0)"},
	{"type", 't', "T", "the device type (default " GM_VDEV_TYPE_DEFAULT ")"},
	{"requests", 'n', "N", "requests to complete (default 10000 without --seconds)"},
	{"seconds", 's', "S", "run for S seconds (1 to 86400)"},
	{"depth", 'D', "D", "requests in flight per queue (1 to 256; default 8)"},
	{"rate", KEY_RATE, "N", "steady I/O: at most N requests a second, all queues\n"
				"together (default: as fast as the device answers)"},
	{"size", 'S', "BYTES", "bytes per request, a multiple of 512, with k (default 4k)"},
	{"seq", 'q', NULL, "sequential sweeps instead of random slots"},
	{"queues", 'Q', "N", "queues to use (default 1)"},
	{"queue-size", 'z', "N", "ring size, a power of 2 (default 128; at most the backend's)"},
	{"packed", 'P', NULL, "packed rings (the backend must offer them)"},
	{"no-persistent", 'N', NULL, "fresh grants per request even if the backend offers\n"
				     "persistent ones"},
	{"discard", 'K', NULL, "one write in eight becomes a discard"},
	{"reconnect-every", 'R', "N", "close and reconnect the device every N requests"},
	{"timeout", 'T', "S", "give up when nothing completes for S seconds (1 to 3600;\n"
			      "default 30)"},
	{"quiet", 'Y', NULL, "no progress lines"},
	{"tolerate-errors", KEY_TOLERATE, "MS", "testing aid: count error statuses per queue, give\n"
						"up a queue that stalls MS milliseconds"},
	{"storm-queue", KEY_STORM, "Q", "testing aid: notify queue Q without pause during the run\n"
					"(needs --queues 2 or more, event channels)"},
	{"follow", KEY_FOLLOW, "S", "a backend that goes away is followed: end every grant, wait\n"
				    "up to S seconds for the device to be served again (the\n"
				    "backend restarted, or another one), go on"},
	{"hostile", KEY_HOSTILE, "MODE", "testing aid: the last queue sends requests a device must\n"
					 "refuse: oversize (past the disk's end, then a chain\n"
					 "longer than seg_max), repeat (one page, 32 times),\n"
					 "impossible (a 4 GiB - 4 KiB buffer, then an ordinary\n"
					 "read) or flood (16 MiB buffers and one page seg_max\n"
					 "times, nothing else)"},
	{NULL, 0, NULL, NULL},
};

static struct tool T = {
	.name = "grantmem-guest",
	.synopsis = "grantmem-guest [--xen SPEC] [--devid N] [--type T] [--requests N]\n"
		    "               [--seconds S] [--depth D] [--rate N] [--size BYTES] [--seq]\n"
		    "               [--queues N] [--queue-size N] [--packed] [--no-persistent]\n"
		    "               [--discard] [--reconnect-every N] [--timeout S] [--quiet]\n"
		    "               [--tolerate-errors MS] [--storm-queue Q] [--follow S]\n"
		    "               [--hostile oversize|repeat|impossible|flood]\n"
		    "grantmem-guest --transport ram --socket PATH [I/O options as above]",
	.about = "A test domain's virtio-blk driver: verified random or sequential I/O, then one\n"
		 "summary line.  exit status: 0 no error, 1 errors, 2 usage error",
	.opts = opts,
};

/* The command line into opt (and G.ram).  Usage errors exit 2. */
static void parse_options(int argc, char **argv)
{
	static const char *const transports[] = {"xenstore", "ram", NULL};
	int c;

	while ((c = tool_next(&T, argc, argv)) != -1) {
		switch (c) {
		case 'x':
			opt.spec = optarg;
			break;
		case 'b':
			opt.want_backend = (int)tool_num(&T, optarg, 0, GM_DOMID_MAX);
			break;
		case 'd':
			opt.devid = (unsigned)tool_num(&T, optarg, 0, UINT32_MAX);
			break;
		case 't':
			opt.type = tool_vdev_type(&T, optarg);
			break;
		case 'n':
			opt.requests = tool_num(&T, optarg, 1, UINT64_MAX / 2);
			break;
		case 's':
			opt.seconds = (double)tool_num(&T, optarg, 1, 86400);
			break;
		case 'D':
			opt.depth = (unsigned)tool_num(&T, optarg, 1, 256);
			break;
		case 'S':
			opt.size = (unsigned)tool_size(&T, optarg, GM_VIRTIO_BLK_SECTOR,
						       (MAX_PAGES - 1) * GM_PAGE_SIZE);
			if (opt.size % GM_VIRTIO_BLK_SECTOR)
				tool_usage_error(&T, "--size: %s is not a multiple of 512", optarg);
			break;
		case 'q':
			opt.seq = true;
			break;
		case 'Q':
			opt.queues = (unsigned)tool_num(&T, optarg, 1, GM_VDEV_MAX_QUEUES);
			break;
		case 'z':
			opt.queue_size = (unsigned)tool_num(&T, optarg, 1, 32768);
			if (opt.queue_size & (opt.queue_size - 1))
				tool_usage_error(&T, "--queue-size: %s is not a power of 2", optarg);
			break;
		case 'P':
			opt.packed = true;
			break;
		case 'N':
			opt.no_persistent = true;
			break;
		case 'R':
			opt.reconnect_every = tool_num(&T, optarg, 1, UINT64_MAX / 2);
			break;
		case 'T':
			opt.timeout = (int)tool_num(&T, optarg, 1, 3600);
			break;
		case 'Y':
			opt.quiet = true;
			break;
		case 'K':
			opt.discard = true;
			break;
		case 'X':
			G.ram = tool_choice(&T, optarg, transports) == 1;
			break;
		case 'U':
			opt.socket = optarg;
			break;
		case KEY_TOLERATE:
			opt.tolerate_ms = (unsigned)tool_num(&T, optarg, 1, 3600000);
			break;
		case KEY_STORM:
			opt.storm_queue = (int)tool_num(&T, optarg, 0, GM_VDEV_MAX_QUEUES - 1);
			break;
		case KEY_FOLLOW:
			opt.follow = (int)tool_num(&T, optarg, 1, 86400);
			break;
		case KEY_HOSTILE:
			opt.hostile = (enum hostile)(tool_choice(&T, optarg, hostile_modes) + 1);
			break;
		case KEY_RATE:
			opt.rate = (unsigned)tool_num(&T, optarg, 1, 10000000);
			break;
		}
	}
	if (optind != argc)
		tool_usage_error(&T, "unexpected argument \"%s\"", argv[optind]);
	if (G.ram && !opt.socket)
		tool_usage_error(&T, "--transport ram needs --socket");
	if (!G.ram && opt.socket)
		tool_usage_error(&T, "--socket is for --transport ram");
	if (opt.storm_queue >= 0 &&
	    ((unsigned)opt.storm_queue >= opt.queues || opt.queues < 2 || G.ram ||
	     opt.reconnect_every))
		tool_usage_error(&T, "--storm-queue needs a queue of --queues (at least 2) on event "
				 "channels, without --reconnect-every");
	if (opt.follow && (G.ram || opt.reconnect_every || opt.storm_queue >= 0))
		tool_usage_error(&T, "--follow is for the xenstore transport, without "
				 "--reconnect-every or --storm-queue");
	if (opt.hostile && ((opt.queues < 2 && opt.hostile != H_FLOOD) || G.ram ||
			    opt.reconnect_every || opt.follow))
		tool_usage_error(&T, "--hostile needs --queues 2 or more (it takes the last one; "
				 "flood: 1 will do) on event channels, without --reconnect-every "
				 "or --follow");
	if (!opt.requests && !opt.seconds)
		opt.requests = 10000;
}

/*
 * Set up the transport (Xen's handles and our device, or nothing for RAM)
 * and the queues' state.  0, or -1 (printed) for exit status 1.
 */
/* SIGINT, SIGTERM: the main phase ends as if its time were up. */
static void on_stop(int sig)
{
	(void)sig;
	atomic_store(&S.stop_io, true);
}

static int setup(void)
{
	struct sigaction sa = {.sa_handler = on_stop};

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	nqueues = opt.queues;
	if (!G.ram && open_xen() < 0)
		return -1;
	queues = calloc(nqueues, sizeof(*queues));
	if (!queues)
		return -1;
	for (unsigned i = 0; i < nqueues; i++) {
		queues[i].reqs = calloc(opt.depth, sizeof(*queues[i].reqs));
		queues[i].rng = mix64(((uint64_t)getpid() << 16) ^ i ^ (uint64_t)time(NULL));
		queues[i].port = -1;
		queues[i].kick_fd = queues[i].call_fd = -1;
		if (!queues[i].reqs)
			return -1;
	}
	if (!opt.quiet && G.ram)
		printf("grantmem-guest: plain shared RAM, backend at %s\n", opt.socket);
	else if (!opt.quiet)
		printf("grantmem-guest: domain %u, device %s, backend domain %u\n", G.self, G.fe_dir,
		       G.backend);
	return 0;
}

/* What the run measured, for the report. */
struct run_result {
	uint64_t main_requests, reconnects;
	double elapsed;
	struct bstats total; /* the backend's counts over every connection */
};

/*
 * Before the measured phase: identify the disk, warm up a persistent pool,
 * and wait until the backend's published stats caught up.  *@base: the
 * stats the main phase counts from.
 */
static void warm_up(struct bstats *base, uint64_t *done0)
{
	/* identify the disk once, as drivers do */
	run_phase(PH_SPECIAL, 1, GM_VIRTIO_BLK_T_GET_ID);
	if (G.persistent && !atomic_load(&S.abort_run)) {
		/* steady state: every pool buffer mapped once before we measure */
		run_phase(PH_WARM, 0, -1);
		for (int i = 0; i < 100; i++) {
			read_stats(base);
			if (base->requests >= atomic_load(&S.completed))
				break;
			usleep(20000);
		}
	} else {
		/* every request counts: only the identification went before */
		read_stats(base);
		for (int i = 0; i < 100 && base->requests < atomic_load(&S.completed); i++) {
			usleep(20000);
			read_stats(base);
		}
	}
	*done0 = atomic_load(&S.completed);
}

/*
 * The backend's stats once it has counted the requests completed since
 * @done0 on top of @base (it publishes them every 250 ms): what it did for
 * exactly the measured requests of this connection.
 */
static void read_stats_caught_up(struct bstats *st, const struct bstats *base, uint64_t done0)
{
	uint64_t want = base->requests + (atomic_load(&S.completed) - done0);

	read_stats(st);
	for (int i = 0; i < 100 && st->requests < want; i++) {
		usleep(20000);
		read_stats(st);
	}
}

/*
 * The measured phase: the I/O (with --reconnect-every, over several
 * connections), the storm, then the final flush and the disconnect.
 */
/* The backend's figures of a connection that ended, added to the run's. */
static void add_stats(struct run_result *res, const struct bstats *st, const struct bstats *base)
{
	/* a backend started again counts from 0: nothing to add for the old one */
	if (st->requests < base->requests || st->map_calls < base->map_calls)
		return;
	res->total.requests += st->requests - base->requests;
	res->total.map_calls += st->map_calls - base->map_calls;
}

static void run(struct bstats *base, uint64_t done0, struct run_result *res)
{
	uint64_t before = atomic_load(&S.completed), wakeups0 = 0;
	struct bstats st;
	pthread_t storm, prog, hostile;
	bool storming = false, prog_started = false, hostile_on = false;
	double t_main;

	if (opt.storm_queue >= 0 && !atomic_load(&S.abort_run)) {
		wakeups0 = storm_wakeups();
		atomic_store(&S.storm_notifies, 0); /* the main phase's from here */
		if (pthread_create(&storm, NULL, storm_main, &queues[opt.storm_queue]) == 0)
			storming = true;
		else
			fail("cannot start the storm thread");
	}
	if (opt.hostile && !atomic_load(&S.abort_run)) {
		queues[nqueues - 1].hostile = true;
		if (pthread_create(&hostile, NULL, hostile_main, &queues[nqueues - 1]) == 0)
			hostile_on = true;
		else
			fail("cannot start the hostile thread");
	}
	S.t_start = t_main = now();
	if (pthread_create(&prog, NULL, progress_main, NULL) == 0)
		prog_started = true;
	for (;;) {
		uint64_t budget = opt.requests, saved = opt.requests;
		bool up;

		if (opt.reconnect_every && (!opt.requests || opt.requests > atomic_load(&S.claimed) +
						 opt.reconnect_every))
			budget = atomic_load(&S.claimed) + opt.reconnect_every;
		opt.requests = budget;
		atomic_store(&S.leave_inflight, budget != saved);
		if (opt.hostile == H_FLOOD) {
			/* the attack alone, until --seconds are up or a signal */
			while (!atomic_load(&S.stop_io) && !atomic_load(&S.abort_run))
				usleep(20 * 1000);
		} else {
			run_phase(PH_MAIN, 0, -1);
		}
		opt.requests = saved;
		if (atomic_load(&S.lost)) {
			/* --follow: what it did for this connection went with the backend */
			if (prog_started)
				pthread_join(prog, NULL);
			prog_started = false;
			if (follow_device() < 0)
				break;
			*base = (struct bstats){0, 0};
			done0 = atomic_load(&S.completed);
			res->reconnects++;
			atomic_store(&S.lost, false);
			atomic_store(&S.abort_run, false);
			if (pthread_create(&prog, NULL, progress_main, NULL) == 0)
				prog_started = true;
			continue;
		}
		if (atomic_load(&S.abort_run) || atomic_load(&S.stop_io) || !opt.reconnect_every ||
		    (opt.requests && atomic_load(&S.claimed) >= opt.requests))
			break;
		/* close and reconnect: the backend must let go of everything */
		atomic_store(&S.reconnecting, true);
		disconnect_device(&st, GM_VDEV_STATE_INITIALISING);
		add_stats(res, &st, base);
		*base = (struct bstats){0, 0};
		done0 = atomic_load(&S.completed);
		res->reconnects++;
		up = connect_device() == 0;
		atomic_store(&S.reconnecting, false);
		if (!up)
			break;
	}
	res->main_requests = atomic_load(&S.completed) - before;
	res->elapsed = now() - t_main;
	if (hostile_on) {
		atomic_store(&S.hostile_stop, true);
		pthread_join(hostile, NULL);
	}
	if (storming) {
		/* hostile: the backend going away is no reason to stop */
		for (double t = now(); atomic_load(&S.abort_run) && now() - t < opt.timeout;)
			usleep(100 * 1000);
		atomic_store(&S.storm_stop, true);
		pthread_join(storm, NULL);
		if (!atomic_load(&S.abort_run))
			storm_report(wakeups0);
	}
	atomic_store(&S.stop_io, true);
	if (prog_started)
		pthread_join(prog, NULL);
	/* the backend's figures for the measured requests: before the flush */
	if (!atomic_load(&S.abort_run)) {
		read_stats_caught_up(&st, base, done0);
		add_stats(res, &st, base);
		/* the data reached the disk: flush, as a filesystem would */
		run_phase(PH_SPECIAL, 1, GM_VIRTIO_BLK_T_FLUSH);
		disconnect_device(&st, GM_VDEV_STATE_CLOSED);
	} else {
		disconnect_device(&st, GM_VDEV_STATE_CLOSED);
		if (!atomic_load(&S.lost))
			add_stats(res, &st, base);
	}
}

/* The result lines and the summary line.  Returns the errors counted. */
static uint64_t report(const struct run_result *res)
{
	uint64_t nerr = atomic_load(&S.errors);
	double mcpr = res->total.requests ? (double)res->total.map_calls /
						    (double)res->total.requests : 0;
	double mb = (double)atomic_load(&S.bytes_done) / 1e6;
	double elapsed = res->elapsed > 0 ? res->elapsed : 1e-9;
	size_t nlat = 0;
	double *lat;

	for (unsigned i = 0; i < nqueues; i++)
		nlat += queues[i].nlat;
	lat = calloc(nlat ? nlat : 1, sizeof(*lat));
	nlat = 0;
	for (unsigned i = 0; lat && i < nqueues; i++) {
		memcpy(lat + nlat, queues[i].lat, queues[i].nlat * sizeof(*lat));
		nlat += queues[i].nlat;
	}
	if (lat && nlat)
		qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("result: %" PRIu64 " requests in %.2f s: %.0f IOPS, %.1f MB/s; latency "
	       "p50=%.1fus p99=%.1fus; %" PRIu64 " reconnect(s); backend: %" PRIu64
	       " map calls for %" PRIu64 " requests%s\n",
	       res->main_requests, elapsed, (double)res->main_requests / elapsed, mb / elapsed,
	       nlat ? lat[nlat / 2] * 1e6 : 0.0,
	       nlat ? lat[(size_t)((double)(nlat - 1) * 0.99)] * 1e6 : 0.0, res->reconnects,
	       res->total.map_calls, res->total.requests,
	       G.persistent ? " (steady state, after warm-up)" : "");
	if (atomic_load(&S.discards))
		printf("result: %" PRIu64 " discard(s); discarded slots read back as zeros\n",
		       (uint64_t)atomic_load(&S.discards));
	if (atomic_load(&S.busy_errors))
		printf("result: %" PRIu64 " grant(s) could not be ended: the backend kept "
		       "them mapped\n", (uint64_t)atomic_load(&S.busy_errors));
	printf("summary: requests=%" PRIu64 " bytes_verified=%" PRIu64 " errors=%" PRIu64
	       " map_calls_per_request=%.2f iops=%.0f",
	       res->main_requests, (uint64_t)atomic_load(&S.bytes_verified), nerr,
	       mcpr, (double)res->main_requests / elapsed);
	for (unsigned i = 0; opt.tolerate_ms && i < nqueues; i++)
		printf(" q%u_ok=%" PRIu64 " q%u_failed=%" PRIu64 " q%u_stalls=%u", i,
		       queues[i].n_ok, i, queues[i].n_failed, i, queues[i].stalls);
	if (opt.follow)
		printf(" lost=%" PRIu64 " moved=%" PRIu64 " reconnects=%" PRIu64, S.losses, S.moves,
		       res->reconnects);
	printf("\n");
	fflush(stdout);
	free(lat);
	return nerr;
}

/* Everything setup() and the run left. */
static void teardown(void)
{
	for (unsigned i = 0; i < nqueues; i++) {
		free(queues[i].lat);
		free(queues[i].known);
		free(queues[i].reqs);
	}
	free(queues);
	free(G.gen);
	free(G.listed);
	if (!G.ram)
		gm_xs_unwatch(G.xs, G.be_state, "be");
	blk_ram_guest_free_mem(&G.rg);
	gm_gntshr_close(G.shr);
	gm_xs_close(G.xs);
	gm_xen_close(G.x);
}

int main(int argc, char **argv)
{
	struct run_result res = {0};
	struct bstats base = {0, 0};
	uint64_t nerr, done0 = 0;

	/* "emu:" worlds (--xen emu:...) come from libgrantmem-emu */
	gm_emu_register();

	blk_ram_guest_init(&G.rg);
	parse_options(argc, argv);
	if (setup() < 0)
		return 1;
	if (fresh_handshake() == 0 && connect_device() == 0) {
		if (!opt.quiet) {
			printf("grantmem-guest: connected: %u queue(s) of %u, depth %u, %u-byte %s "
			       "requests, %s, %" PRIu64 " MiB disk\n",
			       nqueues, opt.queue_size, opt.depth, opt.size,
			       opt.seq ? "sequential" : "random",
			       G.ram ? "plain shared RAM (pooled buffers)"
			       : G.persistent ? "persistent (pooled) grants" : "fresh per-request grants",
			       G.nslots * opt.size >> 20);
			fflush(stdout);
		}
		warm_up(&base, &done0);
		run(&base, done0, &res);
	}
	nerr = report(&res);
	teardown();
	return nerr ? 1 : 0;
}
