/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gm_vq: the device side of split (virtio 1.2 section 2.7) and packed (2.8)
 * virtqueues.
 *
 * Everything read from the rings comes from the guest and is validated
 * before use.  A chain is first walked and checked into the request's guest
 * range list without mapping anything, then mapped; so a hostile chain is
 * refused with nothing mapped.
 *
 * One map call per direction per pop: a grant mapping has one permission,
 * and a driver grants device-readable buffers read-only, so a chain with
 * both directions cannot be one batch.  When it has both, the smaller
 * direction (a request header, a status byte: at most GM_VQ_COPY_MAX
 * bytes) is copied instead — read at pop, written back at push — and only
 * the other direction is mapped.  gm_vq_pop_batch takes several chains and
 * maps the readable buffers of all of them with one gm_map_sg call and the
 * writable ones with another; since a grant batch is unmapped only as a
 * whole, the requests of a transient batch are published together, once
 * the last of them is pushed.
 *
 * Limits: a request over the queue's byte or segment limit, or one that
 * needs more pages mapped at once than the memory's budget, is refused at
 * pop (req->error, nothing mapped) and completed by the device with its
 * own error status: it never waits in the ring for room that cannot come.
 *
 * Indices are free-running uint16_t (split) or position + wrap counter
 * (packed); all arithmetic on them is modulo 2^16 or modulo 2 * size.
 */
#include "config.h"

#include "base/base.h"

#include <grantmem/virtio.h>

#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Split ring offsets (bytes). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING(i) (4 + 2 * (size_t)(i))
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING(i) (4 + 8 * (size_t)(i))
/* Packed event suppression structure. */
#define EVT_OFF_WRAP 0
#define EVT_FLAGS 2

/*
 * A request is FREE in the pool, OUT between pop and push, DONE once pushed
 * while the rest of its batch is still out (unmapped, its used element not
 * yet written), and BATCH only inside gm_vq_push_batch's validation.
 */
enum req_state { REQ_FREE = 0, REQ_OUT = 1, REQ_BATCH = 2, REQ_DONE = 3 };

struct vq_batch;

struct vq_req {
	struct gm_vq_req pub; /* must stay first: pointers are interchangeable */
	enum req_state state;
	uint16_t ndesc;    /* packed: ring slots the chain used */
	bool any_write;    /* packed: used descriptor gets F_WRITE */
	struct gm_sg *sg;  /* max_chain entries */
	struct iovec *iov; /* iov_cap entries */
	struct vq_req *next_free;
	/* The pop it came from; published when all of it is pushed. */
	struct vq_batch *batch;
	struct vq_req *batch_next;
	uint32_t used_len; /* DONE: the length push was given (clamped) */
	uint64_t pages;    /* what its mapped part takes of a page budget */
	/* Where the chain starts in the ring, to give it back unpopped. */
	uint16_t start_idx;  /* split: last_avail */
	uint16_t start_pos;  /* packed: avail_pos, avail_wrap */
	bool start_wrap;
	/* The direction copied instead of mapped (see the top of the file). */
	bool copied_out, copied_in;
	unsigned char copy[GM_VQ_COPY_MAX];
};

/* The requests one pop handed out. */
struct vq_batch {
	unsigned left;            /* not yet pushed */
	struct vq_req *members;   /* through batch_next */
	struct vq_batch *next_free;
};

struct gm_vq {
	gm_mem *mem;
	struct gm_vq_config cfg;
	unsigned size, max_chain, iov_cap, nreq, max_batch;
	bool packed, event_idx, indirect;
	int buf_flags; /* GM_MAP_TRANSIENT or GM_MAP_PERSISTENT */
	bool defer;    /* transient: a batch is published whole */
	uint64_t max_bytes, max_pages;
	uint64_t unmapped_max; /* requests up to this many bytes: not mapped */
	unsigned max_segs;
	gm_ring *desc, *drv, *dev;

	bool broken;
	bool notify_on; /* device notifications wanted (gm_vq_set_notify) */

	/* split */
	uint16_t last_avail; /* next avail ring entry to take */
	uint16_t used_idx;   /* next used ring entry to write */
	uint16_t event_sent; /* last avail_event / packed event off_wrap written */

	/* packed */
	uint16_t avail_pos, used_pos;
	bool avail_wrap, used_wrap;

	unsigned inflight;
	uint8_t *id_out;      /* [size]: 1 while the head / buffer id is out */
	struct vq_req *reqs;  /* [nreq] */
	struct vq_req *free_list;
	struct vq_batch *batches; /* [nreq] */
	struct vq_batch *free_batches;
	struct gm_sg *sg_store;
	struct iovec *iov_store;
	unsigned char *itab;  /* indirect table bounce, max_chain * 16 bytes */
	/* A batch's ranges and iovecs for its one map call per direction. */
	struct gm_sg *bsg;    /* [max_batch * max_chain] */
	struct iovec *biov;   /* [max_batch * iov_cap] */

	/* Counters: written by the queue's thread only, read by any. */
	struct {
		_Atomic uint64_t requests, batches, map_calls, refused, fallbacks, copy_calls;
	} st;
};

/* ---- helpers ---- */

/* Add to a counter only this queue's thread writes. */
static void stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static void vq_break(gm_vq *vq, int err, const char *fmt, ...) GM__PRINTF(3, 4);

/* Mark the queue broken and log the one line it gets. */
static void vq_break(gm_vq *vq, int err, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vq->broken = true;
	gm__warn("virtqueue %u (%s): %s (%s); queue broken until reset", vq->cfg.index,
		 vq->packed ? "packed" : "split", msg, gm_strerror(err));
}

static int map_flags_out(const gm_vq *vq)
{
	return GM_PROT_READ | vq->buf_flags;
}

static int map_flags_in(const gm_vq *vq)
{
	return GM_PROT_WRITE | vq->buf_flags;
}

/* Did the host fail (memory, Xen), rather than the guest take its buffer
 * back?  Then the guest must not see the request completed. */
static bool host_error(int err)
{
	switch (err) {
	case -ENOMEM:
	case -EIO:
	case -EAGAIN:
	case -EBUSY:
	case -ENOSPC:
	case -EINTR:
	case -ENOBUFS:
	case -EMFILE:
	case -ENFILE:
		return true;
	default:
		return false;
	}
}

/*
 * Write back the first @written bytes of a copied device-writable part.
 * Pop did not map it, so this is where a guest that does not let us write
 * it (a read-only grant, a revoked one, read-only memory) shows; and the
 * host may fail.  Either way the completion would claim bytes (a status
 * byte, typically) that never reached the guest, which would read whatever
 * was there before: the queue is broken instead, so push completes nothing
 * and says -EIO.
 */
static void copy_back(gm_vq *vq, struct vq_req *q, uint64_t written)
{
	const struct gm_sg *sg = q->sg + q->pub.nsg_out;
	size_t done = 0;

	for (unsigned i = 0; i < q->pub.nsg_in && done < written; i++) {
		size_t l = (size_t)GM__MIN((uint64_t)sg[i].len, written - done);
		int ret = gm_write(vq->mem, sg[i].addr, q->copy + done, l);
		if (ret) {
			if (!vq->broken)
				vq_break(vq, ret, "request %u: %s %zu bytes at 0x%" PRIx64,
					 q->pub.id,
					 host_error(ret) ? "failed to write back"
							 : "the guest does not let us write back",
					 l, sg[i].addr);
			return;
		}
		done += l;
	}
}

/* Release a request's buffers; @written: bytes the device wrote. */
static void req_unmap(gm_vq *vq, struct vq_req *q, uint64_t written)
{
	struct gm_vq_req *p = &q->pub;

	if (p->nout && !q->copied_out)
		gm_unmap_sg(vq->mem, q->sg, p->nsg_out, q->iov, p->nout, map_flags_out(vq), 0);
	if (p->nin && !q->copied_in)
		gm_unmap_sg(vq->mem, q->sg + p->nsg_out, p->nsg_in, q->iov + p->nout, p->nin,
			    map_flags_in(vq), (size_t)GM__MIN(written, (uint64_t)SIZE_MAX));
	if (q->copied_in)
		copy_back(vq, q, written);
	p->nout = p->nin = 0;
	q->copied_out = q->copied_in = false;
}

/* Back to the pool (its head / buffer id may be made available again). */
static void req_release(gm_vq *vq, struct vq_req *q)
{
	vq->id_out[q->pub.id] = 0;
	q->state = REQ_FREE;
	q->batch = NULL;
	q->batch_next = NULL;
	q->next_free = vq->free_list;
	vq->free_list = q;
}

static void batch_release(gm_vq *vq, struct vq_batch *b)
{
	b->members = NULL;
	b->left = 0;
	b->next_free = vq->free_batches;
	vq->free_batches = b;
}

/* The request @p points to, if it is one of ours that is out. */
static struct vq_req *req_of(gm_vq *vq, struct gm_vq_req *p)
{
	uintptr_t base = (uintptr_t)vq->reqs, at = (uintptr_t)p;

	if (!p || at < base || at - base >= (uintptr_t)vq->nreq * sizeof(struct vq_req) ||
	    (at - base) % sizeof(struct vq_req))
		return NULL;
	struct vq_req *q = &vq->reqs[(at - base) / sizeof(struct vq_req)];

	return q->state == REQ_OUT ? q : NULL;
}

/* ---- chain walking ---- */

/* What walking a chain builds, before anything is mapped. */
struct chain {
	struct vq_req *q;
	unsigned n;        /* guest ranges so far */
	unsigned nout;     /* of which device-readable (all come first) */
	bool seen_write;
	const char *why;   /* for the log line */
	uint64_t bad;      /* the offending value, for the log line */
};

static int chain_add(const gm_vq *vq, struct chain *c, uint64_t addr, uint32_t len, bool write)
{
	if (c->n >= vq->max_chain) {
		c->why = "chain longer than max_chain";
		c->bad = vq->max_chain;
		return -ELOOP;
	}
	if (!len) {
		c->why = "zero-length buffer at";
		c->bad = addr;
		return -EFAULT;
	}
	if (!gm__range_ok(addr, len)) {
		c->why = "buffer wraps past 2^64 at";
		c->bad = addr;
		return -EFAULT;
	}
	if (write) {
		c->seen_write = true;
	} else if (c->seen_write) {
		c->why = "device-readable buffer after a device-writable one at";
		c->bad = addr;
		return -EPROTO;
	} else {
		c->nout++;
	}
	c->q->sg[c->n++] = (struct gm_sg){.addr = addr, .len = len};
	return 0;
}

/*
 * Check an indirect descriptor and read its table into vq->itab.
 * Returns the number of entries or a negative errno.
 */
static int read_indirect(gm_vq *vq, struct chain *c, uint64_t addr, uint32_t len,
			 uint16_t flags)
{
	int ret;

	if (!vq->indirect) {
		c->why = "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC at";
		c->bad = addr;
		return -EPROTO;
	}
	if (flags & GM_VRING_DESC_F_NEXT) {
		c->why = "indirect descriptor with NEXT at";
		c->bad = addr;
		return -EPROTO;
	}
	if (!len || len % GM_VRING_DESC_SIZE) {
		c->why = "indirect table length";
		c->bad = len;
		return -EINVAL;
	}
	if (len / GM_VRING_DESC_SIZE > vq->max_chain - c->n) {
		c->why = "indirect table longer than max_chain, entries";
		c->bad = len / GM_VRING_DESC_SIZE;
		return -ELOOP;
	}
	if (!gm__range_ok(addr, len)) {
		c->why = "indirect table wraps past 2^64 at";
		c->bad = addr;
		return -EFAULT;
	}
	ret = gm_read(vq->mem, addr, vq->itab, len);
	if (ret) {
		c->why = "indirect table not readable at";
		c->bad = addr;
		return ret;
	}
	return (int)(len / GM_VRING_DESC_SIZE);
}

/* One 16-byte descriptor, split or packed layout, as host values. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next_or_id; /* split: next; packed: buffer id */
};

static void desc_parse(const unsigned char *b, bool packed, struct desc *d)
{
	uint64_t a;
	uint32_t l;
	uint16_t x, y;

	memcpy(&a, b, 8);
	memcpy(&l, b + 8, 4);
	memcpy(&x, b + 12, 2);
	memcpy(&y, b + 14, 2);
	d->addr = le64toh(a);
	d->len = le32toh(l);
	/* split: flags, next; packed: id, flags */
	d->flags = le16toh(packed ? y : x);
	d->next_or_id = le16toh(packed ? x : y);
}

static int desc_read(gm_vq *vq, unsigned i, struct desc *d)
{
	unsigned char b[GM_VRING_DESC_SIZE];
	int ret = gm_ring_read(vq->desc, (size_t)i * GM_VRING_DESC_SIZE, b, sizeof(b));

	if (!ret)
		desc_parse(b, vq->packed, d);
	return ret;
}

/* Walk an indirect table already in vq->itab (split: follow next). */
static int walk_indirect(gm_vq *vq, struct chain *c, unsigned entries)
{
	unsigned i = 0, visited = 0;
	struct desc d;
	int ret;

	for (;;) {
		if (++visited > entries) {
			c->why = "loop in indirect table";
			c->bad = i;
			return -ELOOP;
		}
		desc_parse(vq->itab + (size_t)i * GM_VRING_DESC_SIZE, vq->packed, &d);
		if (d.flags & GM_VRING_DESC_F_INDIRECT) {
			c->why = "indirect descriptor inside an indirect table, entry";
			c->bad = i;
			return -EPROTO;
		}
		ret = chain_add(vq, c, d.addr, d.len, d.flags & GM_VRING_DESC_F_WRITE);
		if (ret)
			return ret;
		if (vq->packed) {
			/* packed tables are sequential; NEXT is reserved there */
			if (++i == entries)
				return 0;
			continue;
		}
		if (!(d.flags & GM_VRING_DESC_F_NEXT))
			return 0;
		if (d.next_or_id >= entries) {
			c->why = "next index beyond the indirect table";
			c->bad = d.next_or_id;
			return -EINVAL;
		}
		i = d.next_or_id;
	}
}

/*
 * Split: walk the chain starting at descriptor @head into c.
 */
static int walk_split(gm_vq *vq, struct chain *c, uint16_t head)
{
	unsigned i = head, visited = 0;
	struct desc d;
	int ret;

	for (;;) {
		/* a chain in the table can visit each descriptor once */
		if (++visited > vq->size) {
			c->why = "descriptor loop at";
			c->bad = i;
			return -ELOOP;
		}
		ret = desc_read(vq, i, &d);
		if (ret) {
			c->why = "descriptor not readable";
			c->bad = i;
			return ret;
		}
		if (d.flags & GM_VRING_DESC_F_INDIRECT) {
			ret = read_indirect(vq, c, d.addr, d.len, d.flags);
			if (ret < 0)
				return ret;
			/* nothing may follow an indirect descriptor (no NEXT) */
			return walk_indirect(vq, c, (unsigned)ret);
		}
		ret = chain_add(vq, c, d.addr, d.len, d.flags & GM_VRING_DESC_F_WRITE);
		if (ret)
			return ret;
		if (!(d.flags & GM_VRING_DESC_F_NEXT))
			return 0;
		if (d.next_or_id >= vq->size) {
			c->why = "next index out of range";
			c->bad = d.next_or_id;
			return -EINVAL;
		}
		i = d.next_or_id;
	}
}

/*
 * Packed: walk the chain starting at the available position; returns the
 * buffer id (of the last descriptor) in *id and the ring slots in *ndesc.
 */
static int walk_packed(gm_vq *vq, struct chain *c, uint16_t *id, unsigned *ndesc)
{
	unsigned pos = vq->avail_pos, n = 0;
	struct desc d;
	int ret;

	for (;;) {
		if (++n > vq->size) {
			c->why = "packed chain longer than the ring";
			c->bad = n;
			return -ELOOP;
		}
		ret = desc_read(vq, pos, &d);
		if (ret) {
			c->why = "descriptor not readable";
			c->bad = pos;
			return ret;
		}
		*id = d.next_or_id;
		if (d.flags & GM_VRING_DESC_F_INDIRECT) {
			ret = read_indirect(vq, c, d.addr, d.len, d.flags);
			if (ret < 0)
				return ret;
			ret = walk_indirect(vq, c, (unsigned)ret);
			break;
		}
		ret = chain_add(vq, c, d.addr, d.len, d.flags & GM_VRING_DESC_F_WRITE);
		if (ret || !(d.flags & GM_VRING_DESC_F_NEXT))
			break;
		if (++pos == vq->size)
			pos = 0;
	}
	*ndesc = n;
	return ret;
}

/* ---- availability ---- */

static bool packed_desc_avail(const gm_vq *vq, uint16_t flags)
{
	bool a = flags & GM_VRING_PACKED_DESC_F_AVAIL, u = flags & GM_VRING_PACKED_DESC_F_USED;

	return a == vq->avail_wrap && u != vq->avail_wrap;
}

/*
 * How many chains are available: split: avail idx - last_avail (may exceed
 * size for a hostile ring, the caller checks); packed: 0 or 1 (the next one).
 */
static int avail_count(gm_vq *vq, unsigned *n)
{
	uint16_t v;
	int ret;

	if (vq->packed) {
		ret = gm_ring_load_acquire16(vq->desc,
					     (size_t)vq->avail_pos * GM_VRING_DESC_SIZE + 14, &v);
		*n = !ret && packed_desc_avail(vq, v);
	} else {
		ret = gm_ring_load_acquire16(vq->drv, AVAIL_IDX, &v);
		*n = (uint16_t)(v - vq->last_avail);
	}
	return ret;
}

/*
 * With EVENT_IDX and notifications on, tell the driver where we stand so
 * that its next addition kicks us: split avail_event = last_avail; packed
 * device event offset = the next position.  Needs a full fence before the
 * ring is checked again (the caller's).
 */
static uint16_t avail_event_value(const gm_vq *vq)
{
	if (vq->packed)
		return (uint16_t)(vq->avail_pos |
				  (vq->avail_wrap ? 1u << GM_VRING_PACKED_EVENT_F_WRAP_CTR : 0));
	return vq->last_avail;
}

static int publish_avail_event(gm_vq *vq)
{
	vq->event_sent = avail_event_value(vq);
	return gm_ring_store_release16(vq->dev, vq->packed ? EVT_OFF_WRAP : USED_RING(vq->size),
				       vq->event_sent);
}

static int ring_error(gm_vq *vq, int ret)
{
	/* offsets are ours and checked at setup: only a bug gets here */
	vq_break(vq, -EIO, "ring access failed: %s", gm_strerror(ret));
	return -EIO;
}

/* ---- pop ---- */

/*
 * Point one iovec per range of @sg[0..n) into q->copy; read the guest's
 * bytes for a device-readable part, zero a device-writable one (no host
 * bytes may reach the guest).
 */
static int chain_copy(gm_vq *vq, struct vq_req *q, const struct gm_sg *sg, unsigned n,
		      struct iovec *iov, bool readable)
{
	size_t at = 0;

	for (unsigned i = 0; i < n; i++) {
		iov[i] = (struct iovec){.iov_base = q->copy + at, .iov_len = sg[i].len};
		if (readable) {
			int ret = gm_read(vq->mem, sg[i].addr, q->copy + at, sg[i].len);
			if (ret)
				return ret;
		} else {
			memset(q->copy + at, 0, sg[i].len);
		}
		at += sg[i].len;
	}
	return 0;
}

static uint64_t sg_total(const struct gm_sg *sg, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += sg[i].len;
	return t;
}

/* Pages the ranges span: what mapping them takes of a page budget. */
static uint64_t sg_pages(const struct gm_sg *sg, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += ((sg[i].addr & (GM_PAGE_SIZE - 1)) + sg[i].len + GM_PAGE_SIZE - 1) >>
		     GM_PAGE_SHIFT;
	return t;
}

/* Nothing of @q is mapped at pop: refused, or unmapped by choice. */
static bool no_map(const struct vq_req *q)
{
	return q->pub.error || q->pub.unmapped;
}

/*
 * Decide which direction of the walked chain in @q is copied rather than
 * mapped (see the top of the file); return the pages its mapped part takes.
 */
static uint64_t chain_plan(const gm_vq *vq, struct vq_req *q)
{
	unsigned nout = q->pub.nsg_out, nin = q->pub.nsg_in;
	uint64_t pages = 0;

	q->copied_out = q->copied_in = false;
	if (nout && nin) {
		uint64_t out = q->pub.out_len, in = q->pub.in_len;

		if (out <= in && out <= GM_VQ_COPY_MAX && nout <= vq->iov_cap - nin)
			q->copied_out = true;
		else if (in < out && in <= GM_VQ_COPY_MAX)
			q->copied_in = true;
	}
	if (!q->copied_out)
		pages += sg_pages(q->sg, nout);
	if (!q->copied_in)
		pages += sg_pages(q->sg + nout, nin);
	return pages;
}

/* Read a copied readable part into the request (before any mapping). */
static int chain_copy_out(gm_vq *vq, struct vq_req *q)
{
	if (!q->copied_out)
		return 0;
	return chain_copy(vq, q, q->sg, q->pub.nsg_out, q->iov, true);
}

/* Copied writable part: iovecs after the @k1 readable ones, unless there is
 * no room for one per range (then it is mapped after all). */
static bool chain_copy_in(gm_vq *vq, struct vq_req *q, unsigned k1)
{
	if (q->copied_in && q->pub.nsg_in > vq->iov_cap - k1)
		q->copied_in = false;
	if (q->copied_in)
		chain_copy(vq, q, q->sg + q->pub.nsg_out, q->pub.nsg_in, q->iov + k1, false);
	return q->copied_in;
}

/* Map one planned request on its own.  Nothing stays mapped on failure. */
static int chain_map(gm_vq *vq, struct vq_req *q)
{
	unsigned nout = q->pub.nsg_out, nin = q->pub.nsg_in;
	int k1 = 0, k2 = 0;

	if (q->copied_out) {
		k1 = (int)nout;
	} else if (nout) {
		/* leave at least one iovec per writable range */
		k1 = gm_map_sg(vq->mem, q->sg, nout, q->iov, vq->iov_cap - nin, map_flags_out(vq));
		stat_add(&vq->st.map_calls, 1);
		if (k1 < 0)
			return k1;
	}
	if (chain_copy_in(vq, q, (unsigned)k1)) {
		k2 = (int)nin;
	} else if (nin) {
		k2 = gm_map_sg(vq->mem, q->sg + nout, nin, q->iov + k1, vq->iov_cap - (unsigned)k1,
			       map_flags_in(vq));
		stat_add(&vq->st.map_calls, 1);
		if (k2 < 0) {
			if (k1 && !q->copied_out)
				gm_unmap_sg(vq->mem, q->sg, nout, q->iov, (unsigned)k1,
					    map_flags_out(vq), 0);
			return k2;
		}
	}
	q->pub.nout = (unsigned)k1;
	q->pub.nin = (unsigned)k2;
	return 0;
}

/*
 * Hand each request of @qs[0..n) its share of the @got iovecs at @iov, which
 * one gm_map_sg made of their ranges in order (a range's pieces follow each
 * other): the readable parts (@in false: the writable ones) of those that
 * map them.  Returns 0, or -E2BIG when a request gets more iovecs than it
 * has room for (mapped on its own, it would fail the same way).
 */
static int batch_share(gm_vq *vq, struct vq_req **qs, unsigned n, const struct iovec *iov,
		       unsigned got, bool in)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		struct vq_req *q = qs[i];
		unsigned first = k, nr = in ? q->pub.nsg_in : q->pub.nsg_out;
		unsigned at = in ? q->pub.nout : 0;
		uint64_t want = in ? q->pub.in_len : q->pub.out_len;

		if (no_map(q) || !nr || (in ? q->copied_in : q->copied_out))
			continue;
		while (want && k < got)
			want -= iov[k++].iov_len;
		if (want || k - first > vq->iov_cap - at - (in ? 0 : q->pub.nsg_in))
			return -E2BIG;
		memcpy(q->iov + at, iov + first, (size_t)(k - first) * sizeof(*iov));
		if (in)
			q->pub.nin = k - first;
		else
			q->pub.nout = k - first;
	}
	return 0;
}

/*
 * Map the planned requests @qs[0..n) (refused ones are skipped) with one
 * gm_map_sg call for all their readable parts and one for all their
 * writable parts.  Returns 0, or a negative errno with nothing of theirs
 * mapped (the caller then maps them one by one).
 */
static int batch_map(gm_vq *vq, struct vq_req **qs, unsigned n)
{
	unsigned nr = 0, nw = 0, cap = n * vq->iov_cap;
	int got = 0, got2 = 0, ret;

	for (unsigned i = 0; i < n; i++) {
		struct vq_req *q = qs[i];

		q->pub.nout = q->copied_out ? q->pub.nsg_out : 0;
		q->pub.nin = 0;
		if (no_map(q) || q->copied_out || !q->pub.nsg_out)
			continue;
		memcpy(vq->bsg + nr, q->sg, q->pub.nsg_out * sizeof(*q->sg));
		nr += q->pub.nsg_out;
	}
	/*
	 * Room for each range to be cut once at a region boundary: more is
	 * rare, and then the requests are mapped one by one (gm_map_sg's
	 * working memory grows with what it is offered).
	 */
	if (nr) {
		got = gm_map_sg(vq->mem, vq->bsg, nr, vq->biov, GM__MIN(cap, 2 * nr),
				map_flags_out(vq));
		stat_add(&vq->st.map_calls, 1);
		if (got < 0)
			return got;
		ret = batch_share(vq, qs, n, vq->biov, (unsigned)got, false);
		if (ret)
			goto undo;
	}
	for (unsigned i = 0; i < n; i++) {
		struct vq_req *q = qs[i];

		if (no_map(q) || !q->pub.nsg_in)
			continue;
		if (chain_copy_in(vq, q, q->pub.nout)) {
			q->pub.nin = q->pub.nsg_in;
			continue;
		}
		memcpy(vq->bsg + nr + nw, q->sg + q->pub.nsg_out, q->pub.nsg_in * sizeof(*q->sg));
		nw += q->pub.nsg_in;
	}
	if (nw) {
		got2 = gm_map_sg(vq->mem, vq->bsg + nr, nw, vq->biov + got,
				 GM__MIN(cap - (unsigned)got, 2 * nw), map_flags_in(vq));
		stat_add(&vq->st.map_calls, 1);
		if (got2 < 0) {
			ret = got2;
			goto undo;
		}
		ret = batch_share(vq, qs, n, vq->biov + got, (unsigned)got2, true);
		if (ret) {
			gm_unmap_sg(vq->mem, vq->bsg + nr, nw, vq->biov + got, (unsigned)got2,
				    map_flags_in(vq), 0);
			goto undo;
		}
	}
	return 0;
undo:
	if (got > 0)
		gm_unmap_sg(vq->mem, vq->bsg, nr, vq->biov, (unsigned)got, map_flags_out(vq), 0);
	return ret;
}

/*
 * The memory says a request needs more mapped at once than it will ever map
 * for this guest (a grant region's share of the budget): refuse it like one
 * over a limit, nothing mapped, rather than leave it in the ring for room
 * that cannot come.
 */
static bool refuse_unmappable(struct vq_req *q, int err)
{
	if (err != -EMSGSIZE)
		return false;
	/* nothing of it mapped nor copied (a failed batch left its counts) */
	q->copied_out = q->copied_in = false;
	q->pub.nout = q->pub.nin = 0;
	q->pub.error = -EMSGSIZE;
	return true;
}

/* Errors of the host, not the guest: leave the chain for a later pop. */
static bool transient_error(int err)
{
	return err == -ENOMEM || err == -ENOSPC || err == -EAGAIN || err == -EBUSY;
}

/* Advance past the chain just walked. */
static void advance(gm_vq *vq, unsigned ndesc)
{
	if (vq->packed) {
		unsigned pos = vq->avail_pos + ndesc;

		if (pos >= vq->size) {
			pos -= vq->size;
			vq->avail_wrap = !vq->avail_wrap;
		}
		vq->avail_pos = (uint16_t)pos;
	} else {
		vq->last_avail++;
	}
}

/* Take the walked chain of @c out of the ring as request c->q. */
static void take(gm_vq *vq, struct chain *c, uint16_t id, unsigned ndesc)
{
	struct vq_req *q = c->q;

	vq->free_list = q->next_free;
	q->next_free = NULL;
	q->state = REQ_OUT;
	q->ndesc = (uint16_t)ndesc;
	q->any_write = c->n > c->nout;
	q->pub.id = id;
	q->pub.user = NULL;
	q->start_idx = vq->last_avail;
	q->start_pos = vq->avail_pos;
	q->start_wrap = vq->avail_wrap;
	vq->id_out[id] = 1;
	vq->inflight++;
	advance(vq, ndesc);
}

/*
 * Give back requests @qs[from..n), taken but not handed out and with
 * nothing mapped: the ring position goes back to the first of them, so the
 * next pop walks them again.
 */
static void unpop(gm_vq *vq, struct vq_req **qs, unsigned from, unsigned n)
{
	if (from >= n)
		return;
	vq->last_avail = qs[from]->start_idx;
	vq->avail_pos = qs[from]->start_pos;
	vq->avail_wrap = qs[from]->start_wrap;
	for (unsigned i = n; i-- > from;) {
		qs[i]->pub.nout = qs[i]->pub.nin = 0;
		qs[i]->copied_out = qs[i]->copied_in = false;
		req_release(vq, qs[i]);
		vq->inflight--;
	}
}

/*
 * A request handed out refused: over a limit, or more pages than the
 * memory can ever map at once.  The guest controls how often: one
 * rate-limited line.
 */
static void refused(gm_vq *vq, const struct vq_req *q)
{
	char budget[48] = "";

	stat_add(&vq->st.refused, 1);
	if (!gm__log_enabled(GM_LOG_INFO))
		return;
	if (vq->max_pages)
		snprintf(budget, sizeof(budget), ", %" PRIu64 " pages mapped at once", vq->max_pages);
	gm__info_rl("virtqueue %u (%s): request %u refused: %" PRIu64 " bytes in %u buffers, %" PRIu64
		    " pages to map (limits: %" PRIu64 " bytes, %u buffers%s)", vq->cfg.index,
		    vq->packed ? "packed" : "split", q->pub.id, q->pub.out_len + q->pub.in_len,
		    q->pub.nsg_out + q->pub.nsg_in, q->pages, vq->max_bytes, vq->max_segs, budget);
}

/* Walk the next available chain into c (c->q is the request to fill). */
static int walk_next(gm_vq *vq, struct chain *c, uint16_t *id, unsigned *ndesc)
{
	int ret;

	*ndesc = 1;
	if (vq->packed) {
		ret = walk_packed(vq, c, id, ndesc);
		if (!ret && *id >= vq->size) {
			c->why = "buffer id out of range";
			c->bad = *id;
			ret = -EINVAL;
		}
	} else {
		ret = gm_ring_read_le16(vq->drv, AVAIL_RING(vq->last_avail & (vq->size - 1)), id);
		if (ret)
			return ring_error(vq, ret);
		if (*id >= vq->size) {
			c->why = "head index out of range";
			c->bad = *id;
			ret = -EINVAL;
		} else {
			ret = walk_split(vq, c, *id);
		}
	}
	if (!ret && vq->id_out[*id]) {
		c->why = vq->packed ? "buffer id already in flight" : "head already in flight";
		c->bad = *id;
		ret = -EINVAL;
	}
	return ret;
}

/*
 * Take up to @max chains (see gm_vq_pop_batch).  A chain that cannot be
 * taken ends the batch: when it is the first, its error is returned (and,
 * if the guest's, breaks the queue); after good ones, it stays in the ring
 * and the next pop meets it again.
 */
static int pop_some(gm_vq *vq, struct gm_vq_req **out, unsigned max)
{
	struct vq_req *qs[GM_VQ_MAX_BATCH];
	struct chain c = {0};
	uint64_t batch_pages = 0;
	unsigned n, got = 0, mapped;
	int ret, err = 0;

	if (vq->broken)
		return -EIO;
	ret = avail_count(vq, &n);
	if (ret)
		return ring_error(vq, ret);
	if (!n && vq->notify_on && vq->event_idx) {
		/* Re-arm the event where we stand, then look again. */
		if (vq->event_sent != avail_event_value(vq)) {
			ret = publish_avail_event(vq);
			if (ret)
				return ring_error(vq, ret);
			gm_ring_fence();
			ret = avail_count(vq, &n);
			if (ret)
				return ring_error(vq, ret);
		}
	}
	if (!n)
		return -EAGAIN;
	if (!vq->packed && n > vq->size) {
		vq_break(vq, -EOVERFLOW, "avail idx %u is %u ahead of %u (size %u)",
			 (uint16_t)(vq->last_avail + n), n, vq->last_avail, vq->size);
		return -EOVERFLOW;
	}
	while (got < max) {
		uint16_t id = 0;
		unsigned ndesc;
		uint64_t pages;

		if (got) {
			/* split: n chains were published; packed: look at the next */
			if (vq->packed) {
				ret = avail_count(vq, &n);
				if (ret) {
					err = ring_error(vq, ret);
					break;
				}
				if (!n)
					break;
			} else if (got == n) {
				break;
			}
		}
		if (!vq->free_list) {
			err = -ENOBUFS;
			break;
		}
		c = (struct chain){.q = vq->free_list};
		err = walk_next(vq, &c, &id, &ndesc);
		if (err)
			break;
		struct vq_req *q = c.q;

		q->pub.id = id;
		q->pub.error = 0;
		q->pub.unmapped = false;
		q->pub.nsg_out = c.nout;
		q->pub.nsg_in = c.n - c.nout;
		q->pub.out_len = sg_total(q->sg, c.nout);
		q->pub.in_len = sg_total(q->sg + c.nout, c.n - c.nout);
		q->pub.nout = q->pub.nin = 0;
		pages = q->pages = chain_plan(vq, q);
		if (q->pub.out_len + q->pub.in_len <= vq->unmapped_max) {
			/* the device copies: no direction copied at pop, no page mapped */
			q->copied_out = q->copied_in = false;
			q->pub.unmapped = true;
			pages = q->pages = 0;
		}
		if (c.n > vq->max_segs || q->pub.out_len + q->pub.in_len > vq->max_bytes ||
		    (vq->max_pages && pages > vq->max_pages)) {
			q->copied_out = q->copied_in = false;
			q->pub.unmapped = false;
			q->pub.error = -EMSGSIZE;
		} else {
			/* a batch never asks for more than the budget in one map call */
			if (got && vq->max_pages && batch_pages + pages > vq->max_pages)
				break;
			err = chain_copy_out(vq, q);
			if (err) {
				c.why = "cannot read the buffers of chain";
				c.bad = id;
				break;
			}
			batch_pages += pages;
		}
		take(vq, &c, id, ndesc);
		qs[got++] = q;
	}
	if (vq->broken) {
		/* the rings themselves failed (ring_error): nothing is handed out */
		unpop(vq, qs, 0, got);
		return -EIO;
	}
	if (!got)
		goto failed;

	/* Map them: together, or one by one if that fails. */
	mapped = got;
	if (got > 1 && (err = batch_map(vq, qs, got)) < 0) {
		stat_add(&vq->st.fallbacks, 1);
		/* the guest decides how often (a bad buffer) */
		gm__info_rl("virtqueue %u (%s): %u requests mapped one by one: mapping them "
			    "together failed: %d (%s)", vq->cfg.index,
			    vq->packed ? "packed" : "split", got, err, gm_strerror(err));
		for (mapped = 0; mapped < got; mapped++) {
			struct vq_req *q = qs[mapped];

			if (no_map(q))
				continue;
			err = chain_map(vq, q);
			if (refuse_unmappable(q, err))
				err = 0;
			if (err)
				break;
		}
	} else if (got == 1 && !no_map(qs[0])) {
		err = chain_map(vq, qs[0]);
		if (refuse_unmappable(qs[0], err))
			err = 0;
		mapped = err ? 0 : 1;
	}
	if (!mapped) {
		c = (struct chain){.q = qs[0], .why = "cannot map buffers of chain", .bad = qs[0]->pub.id};
		unpop(vq, qs, 0, got);
		goto failed;
	}
	unpop(vq, qs, mapped, got);
	got = mapped;

	struct vq_batch *b = vq->free_batches;

	vq->free_batches = b->next_free;
	b->next_free = NULL;
	b->left = got;
	b->members = NULL;
	for (unsigned i = got; i--;) {
		qs[i]->batch = b;
		qs[i]->batch_next = b->members;
		b->members = qs[i];
		out[i] = &qs[i]->pub;
	}
	for (unsigned i = 0; i < got; i++)
		if (qs[i]->pub.error)
			refused(vq, qs[i]);
	stat_add(&vq->st.requests, got);
	stat_add(&vq->st.batches, 1);
	return (int)got;

failed:
	if (err == -EAGAIN)
		err = -EBUSY; /* -EAGAIN means "ring empty" to our caller */
	if (err == -ENOBUFS || transient_error(err))
		return err;
	vq_break(vq, err, "%s %" PRIu64, c.why ? c.why : "bad chain", c.bad);
	return err;
}

GM_API int gm_vq_pop(gm_vq *vq, struct gm_vq_req **req)
{
	struct gm_vq_req *r = NULL;
	int ret;

	if (req)
		*req = NULL;
	if (!vq || !req)
		return -EINVAL;
	ret = pop_some(vq, &r, 1);
	if (ret < 0)
		return ret;
	*req = r;
	return 0;
}

GM_API int gm_vq_pop_batch(gm_vq *vq, struct gm_vq_req **reqs, unsigned max)
{
	if (!vq || !reqs || !max)
		return -EINVAL;
	return pop_some(vq, reqs, GM__MIN(max, vq->max_batch));
}

/* ---- push ---- */

/* Position counter modulo 2 * size: wrap counter 1 is the first lap. */
static uint32_t packed_lin(const gm_vq *vq, unsigned pos, bool wrap)
{
	return wrap ? pos : pos + vq->size;
}

/*
 * Does the driver want an interrupt for used entries [old, now)?  Runs
 * after the used index / flags are published; the fence orders that store
 * before our loads of the driver's suppression fields.
 */
static int want_interrupt(gm_vq *vq, uint16_t old_idx, unsigned old_pos, bool old_wrap,
			  bool *notify)
{
	uint16_t flags, ev;
	int ret;

	gm_ring_fence();
	if (!vq->packed) {
		if (vq->event_idx) {
			ret = gm_ring_load_acquire16(vq->drv, AVAIL_RING(vq->size), &ev);
			/* is ev in [old, new)? */
			*notify = !ret && (uint16_t)(vq->used_idx - ev - 1) <
						  (uint16_t)(vq->used_idx - old_idx);
		} else {
			ret = gm_ring_load_acquire16(vq->drv, AVAIL_FLAGS, &flags);
			*notify = !ret && !(flags & GM_VRING_AVAIL_F_NO_INTERRUPT);
		}
		return ret;
	}
	ret = gm_ring_load_acquire16(vq->drv, EVT_FLAGS, &flags);
	if (ret)
		return ret;
	if (flags == GM_VRING_PACKED_EVENT_FLAG_DISABLE) {
		*notify = false;
	} else if (flags == GM_VRING_PACKED_EVENT_FLAG_DESC && vq->event_idx) {
		uint32_t span = 2 * vq->size, o, nw, e;

		ret = gm_ring_load_acquire16(vq->drv, EVT_OFF_WRAP, &ev);
		if (ret)
			return ret;
		o = packed_lin(vq, old_pos, old_wrap);
		nw = packed_lin(vq, vq->used_pos, vq->used_wrap);
		e = packed_lin(vq, ev & 0x7fff, ev >> GM_VRING_PACKED_EVENT_F_WRAP_CTR);
		/* is e in [o, nw) modulo 2 * size? (e from the guest: reduce it) */
		*notify = (e % span + span - o) % span < (nw + span - o) % span;
	} else {
		*notify = true; /* ENABLE, or a value we do not understand */
	}
	return 0;
}

/* Write one used element (not yet published for split). */
static int write_used(gm_vq *vq, struct vq_req *q, uint32_t len)
{
	int ret;

	if (!vq->packed) {
		size_t off = USED_RING(vq->used_idx & (vq->size - 1));

		ret = gm_ring_write_le32(vq->dev, off, q->pub.id);
		if (!ret)
			ret = gm_ring_write_le32(vq->dev, off + 4, len);
		vq->used_idx++;
		return ret;
	}
	size_t off = (size_t)vq->used_pos * GM_VRING_DESC_SIZE;
	uint16_t flags = vq->used_wrap ? GM_VRING_PACKED_DESC_F_AVAIL | GM_VRING_PACKED_DESC_F_USED : 0;

	if (q->any_write)
		flags |= GM_VRING_DESC_F_WRITE;
	ret = gm_ring_write_le32(vq->desc, off + 8, len);
	if (!ret)
		ret = gm_ring_write_le16(vq->desc, off + 12, q->pub.id);
	/* the flags make it visible: release orders id and len before them */
	if (!ret)
		ret = gm_ring_store_release16(vq->desc, off + 14, flags);
	unsigned pos = vq->used_pos + q->ndesc;

	if (pos >= vq->size) {
		pos -= vq->size;
		vq->used_wrap = !vq->used_wrap;
	}
	vq->used_pos = (uint16_t)pos;
	return ret;
}

GM_API int gm_vq_push_batch(gm_vq *vq, struct gm_vq_req *const *reqs, const uint32_t *written,
			    unsigned n, bool *notify)
{
	uint16_t old_idx;
	unsigned old_pos, i, published = 0;
	bool old_wrap, broken;
	int ret = 0;

	if (notify)
		*notify = false;
	if (!vq || !reqs || !n)
		return -EINVAL;
	/* Validate all first; REQ_BATCH catches the same request twice. */
	for (i = 0; i < n; i++) {
		struct vq_req *q = req_of(vq, reqs[i]);

		if (!q)
			break;
		q->state = REQ_BATCH;
	}
	if (i < n) {
		while (i--)
			((struct vq_req *)reqs[i])->state = REQ_OUT;
		gm__dbg("virtqueue %u: push of a request that is not out", vq->cfg.index);
		return -EINVAL;
	}
	/* Mappings go before the guest can see any completion. */
	for (i = 0; i < n; i++) {
		struct vq_req *q = (struct vq_req *)reqs[i];
		uint64_t w = GM__MIN(written ? (uint64_t)written[i] : 0, q->pub.in_len);

		req_unmap(vq, q, w);
		q->used_len = (uint32_t)w;
		q->state = REQ_DONE;
		q->batch->left--;
		vq->inflight--;
	}
	/*
	 * Publish every batch now complete.  A transient batch shares its
	 * mappings: a request of it is unmapped only when all of it is, so
	 * none is published before.  A broken queue publishes nothing.
	 */
	broken = vq->broken;
	old_idx = vq->used_idx;
	old_pos = vq->used_pos;
	old_wrap = vq->used_wrap;
	for (i = 0; i < n; i++) {
		struct vq_batch *b = ((struct vq_req *)reqs[i])->batch;
		struct vq_req *m, *next;

		if (!b || (b->left && vq->defer && !broken))
			continue;
		if (b->left) {
			/* published one by one: this request alone */
			m = (struct vq_req *)reqs[i];
			if (!broken && !ret) {
				ret = write_used(vq, m, m->used_len);
				published++;
			}
			/* out of the batch's list, back to the pool */
			for (struct vq_req **pp = &b->members; *pp; pp = &(*pp)->batch_next)
				if (*pp == m) {
					*pp = m->batch_next;
					break;
				}
			req_release(vq, m);
			continue;
		}
		for (m = b->members; m; m = next) {
			next = m->batch_next;
			if (!broken && !ret) {
				ret = write_used(vq, m, m->used_len);
				published++;
			}
			req_release(vq, m);
		}
		batch_release(vq, b);
	}
	if (broken)
		return -EIO;
	if (!ret && published && !vq->packed)
		ret = gm_ring_store_release16(vq->dev, USED_IDX, vq->used_idx);
	if (ret)
		return ring_error(vq, ret);
	if (notify && published) {
		bool want = false;

		ret = want_interrupt(vq, old_idx, old_pos, old_wrap, &want);
		if (ret)
			return ring_error(vq, ret);
		*notify = want;
	}
	return 0;
}

GM_API int gm_vq_push(gm_vq *vq, struct gm_vq_req *req, uint32_t written, bool *notify)
{
	return gm_vq_push_batch(vq, &req, &written, 1, notify);
}

/*
 * Move [off, off + len) of a request part that is not mapped (the ranges
 * @sg[0 .. n)) with gm_read_sg / gm_write_sg: the ranges it touches, the
 * first and last cut, SLICE of them a call.
 */
#define SLICE 64

static int part_io(gm_vq *vq, const struct gm_sg *sg, unsigned n, uint64_t off,
		   unsigned char *buf, size_t len, bool write)
{
	struct gm_sg part[SLICE];
	unsigned k = 0;
	size_t at = 0, done = 0;

	for (unsigned i = 0; i < n && done + at < len; i++) {
		if (off >= sg[i].len) {
			off -= sg[i].len;
			continue;
		}
		size_t l = (size_t)GM__MIN((uint64_t)(len - done - at), sg[i].len - off);
		part[k++] = (struct gm_sg){.addr = sg[i].addr + off, .len = l};
		at += l;
		off = 0;
		if (k == SLICE || done + at == len) {
			int ret = write ? gm_write_sg(vq->mem, part, k, buf + done)
					: gm_read_sg(vq->mem, part, k, buf + done);

			/* any thread may move a request's bytes: a true atomic add */
			atomic_fetch_add_explicit(&vq->st.copy_calls, 1, memory_order_relaxed);
			if (ret)
				return ret;
			done += at;
			at = 0;
			k = 0;
		}
	}
	return 0;
}

GM_API int gm_vq_req_write(gm_vq *vq, struct gm_vq_req *req, uint64_t off, const void *buf,
			   size_t len)
{
	struct vq_req *q = vq ? req_of(vq, req) : NULL;

	if (!q || (!buf && len))
		return -EINVAL;
	if (off > q->pub.in_len || len > q->pub.in_len - off)
		return -EFAULT;
	if (!len)
		return 0;
	if (q->copied_in) {
		memcpy(q->copy + off, buf, len);
		return 0;
	}
	if (q->pub.nin) {
		gm_iov_from_buf(q->iov + q->pub.nout, q->pub.nin, (size_t)off, buf, len);
		return 0;
	}
	/* nothing mapped (refused or unmapped): into guest memory, now */
	return part_io(vq, q->sg + q->pub.nsg_out, q->pub.nsg_in, off, (unsigned char *)buf, len,
		       true);
}

GM_API int gm_vq_req_read(gm_vq *vq, struct gm_vq_req *req, uint64_t off, void *buf, size_t len)
{
	struct vq_req *q = vq ? req_of(vq, req) : NULL;

	if (!q || (!buf && len))
		return -EINVAL;
	if (off > q->pub.out_len || len > q->pub.out_len - off)
		return -EFAULT;
	if (!len)
		return 0;
	if (q->copied_out) {
		memcpy(buf, q->copy + off, len);
		return 0;
	}
	if (q->pub.nout) {
		gm_iov_to_buf(q->iov, q->pub.nout, (size_t)off, buf, len);
		return 0;
	}
	return part_io(vq, q->sg, q->pub.nsg_out, off, buf, len, false);
}

/* ---- notifications ---- */

GM_API int gm_vq_pending(gm_vq *vq)
{
	unsigned n;
	int ret;

	if (!vq)
		return -EINVAL;
	if (vq->broken)
		return -EIO;
	ret = avail_count(vq, &n);
	if (ret)
		return ring_error(vq, ret);
	return n != 0;
}

static int write_notify(gm_vq *vq, bool enable)
{
	if (vq->packed) {
		uint16_t f = GM_VRING_PACKED_EVENT_FLAG_DISABLE;
		int ret = 0;

		if (enable && vq->event_idx) {
			ret = publish_avail_event(vq);
			f = GM_VRING_PACKED_EVENT_FLAG_DESC;
		} else if (enable) {
			f = GM_VRING_PACKED_EVENT_FLAG_ENABLE;
		}
		return ret ? ret : gm_ring_store_release16(vq->dev, EVT_FLAGS, f);
	}
	if (vq->event_idx) {
		/*
		 * The driver ignores used->flags then.  To disable, move
		 * avail_event just behind us: the driver kicks only when its
		 * index reaches it again, 65535 entries on.
		 */
		if (enable)
			return publish_avail_event(vq);
		vq->event_sent = (uint16_t)(vq->last_avail - 1);
		return gm_ring_store_release16(vq->dev, USED_RING(vq->size), vq->event_sent);
	}
	return gm_ring_store_release16(vq->dev, USED_FLAGS,
				       enable ? 0 : GM_VRING_USED_F_NO_NOTIFY);
}

GM_API int gm_vq_set_notify(gm_vq *vq, bool enable)
{
	int ret;

	if (!vq)
		return -EINVAL;
	if (vq->broken)
		return -EIO;
	vq->notify_on = enable;
	ret = write_notify(vq, enable);
	if (ret)
		return ring_error(vq, ret);
	if (!enable)
		return 0;
	/* The driver may have added work before it saw our store. */
	gm_ring_fence();
	return gm_vq_pending(vq);
}

/* ---- setup ---- */

GM_API bool gm_vq_broken(const gm_vq *vq)
{
	return !vq || vq->broken;
}

GM_API unsigned gm_vq_size(const gm_vq *vq)
{
	return vq ? vq->size : 0;
}

GM_API unsigned gm_vq_inflight(const gm_vq *vq)
{
	return vq ? vq->inflight : 0;
}

GM_API bool gm_vq_is_packed(const gm_vq *vq)
{
	return vq && vq->packed;
}

GM_API void gm_vq_stats(const gm_vq *vq, struct gm_vq_stats *out)
{
	struct gm_vq_stats s = {0}, *st = &s;

	if (!out)
		return;
	if (vq) {
		st->requests = atomic_load_explicit(&vq->st.requests, memory_order_relaxed);
		st->batches = atomic_load_explicit(&vq->st.batches, memory_order_relaxed);
		st->map_calls = atomic_load_explicit(&vq->st.map_calls, memory_order_relaxed);
		st->refused = atomic_load_explicit(&vq->st.refused, memory_order_relaxed);
		st->fallbacks = atomic_load_explicit(&vq->st.fallbacks, memory_order_relaxed);
		st->copy_calls = atomic_load_explicit(&vq->st.copy_calls, memory_order_relaxed);
	}
	gm__abi_out(out, st, sizeof(*st), GM__ABI_V1(struct gm_vq_stats, fallbacks));
}

/* Release every request that is out or waits for its batch. */
static void release_all(gm_vq *vq)
{
	for (unsigned i = 0; i < vq->nreq; i++) {
		struct vq_req *q = &vq->reqs[i];

		if (q->state == REQ_FREE)
			continue;
		/* unknown how much was written: copy back nothing */
		if (q->state != REQ_DONE)
			req_unmap(vq, q, 0);
		req_release(vq, q);
	}
	vq->inflight = 0;
}

static void state_init(gm_vq *vq)
{
	vq->broken = false;
	vq->last_avail = vq->used_idx = vq->event_sent = 0;
	vq->avail_pos = vq->used_pos = 0;
	vq->avail_wrap = vq->used_wrap = true;
	vq->notify_on = true;
	vq->free_list = NULL;
	for (unsigned i = vq->nreq; i--;) {
		vq->reqs[i].state = REQ_FREE;
		vq->reqs[i].batch = NULL;
		vq->reqs[i].batch_next = NULL;
		vq->reqs[i].next_free = vq->free_list;
		vq->free_list = &vq->reqs[i];
	}
	vq->free_batches = NULL;
	for (unsigned i = vq->nreq; i--;) {
		vq->batches[i] = (struct vq_batch){.next_free = vq->free_batches};
		vq->free_batches = &vq->batches[i];
	}
	vq->inflight = 0;
	memset(vq->id_out, 0, vq->size);
}

GM_API int gm_vq_reset(gm_vq *vq)
{
	if (!vq)
		return -EINVAL;
	release_all(vq);
	state_init(vq);
	/* best effort: a read-only or vanished ring only costs the hint */
	(void)write_notify(vq, true);
	return 0;
}

GM_API void gm_vq_free(gm_vq *vq)
{
	if (!vq)
		return;
	if (vq->reqs)
		release_all(vq);
	gm_ring_free(vq->desc);
	gm_ring_free(vq->drv);
	gm_ring_free(vq->dev);
	free(vq->reqs);
	free(vq->batches);
	free(vq->sg_store);
	free(vq->iov_store);
	free(vq->itab);
	free(vq->bsg);
	free(vq->biov);
	free(vq->id_out);
	free(vq);
}

static int bad_config(const struct gm_vq_config *cfg, const char *why)
{
	gm__warn("virtqueue %u: bad configuration: %s", cfg->index, why);
	return -EINVAL;
}

static int check_config(const struct gm_vq_config *cfg)
{
	bool packed = cfg->features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	unsigned s = cfg->size;

	if (!s || s > GM_VQ_MAX_SIZE)
		return bad_config(cfg, "size not in [1, 32768]");
	if (!packed && (s & (s - 1)))
		return bad_config(cfg, "split queue size not a power of 2");
	if (cfg->max_chain > GM_VQ_MAX_CHAIN)
		return bad_config(cfg, "max_chain above GM_VQ_MAX_CHAIN");
	if (cfg->max_batch > GM_VQ_MAX_BATCH)
		return bad_config(cfg, "max_batch above GM_VQ_MAX_BATCH");
	if (cfg->buf_flags & ~(GM_MAP_TRANSIENT | GM_MAP_PERSISTENT) ||
	    cfg->buf_flags == (GM_MAP_TRANSIENT | GM_MAP_PERSISTENT))
		return bad_config(cfg, "buf_flags not GM_MAP_TRANSIENT or GM_MAP_PERSISTENT");
	if (cfg->desc_addr % (packed ? GM_VRING_PACKED_DESC_ALIGN : GM_VRING_SPLIT_DESC_ALIGN))
		return bad_config(cfg, "descriptor area misaligned");
	if (cfg->driver_addr % (packed ? GM_VRING_PACKED_EVENT_ALIGN : GM_VRING_SPLIT_AVAIL_ALIGN))
		return bad_config(cfg, "driver area misaligned");
	if (cfg->device_addr % (packed ? GM_VRING_PACKED_EVENT_ALIGN : GM_VRING_SPLIT_USED_ALIGN))
		return bad_config(cfg, "device area misaligned");
	return 0;
}

GM_API int gm_vq_new(gm_mem *mem, const struct gm_vq_config *cfg, gm_vq **out)
{
	gm_vq *vq;
	size_t dlen, drvlen, devlen;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!mem || !cfg)
		return -EINVAL;
	struct gm_vq_config cf;
	ret = gm__abi_in(&cf, sizeof(cf), cfg, GM__ABI_V1(struct gm_vq_config, unmapped_max));
	if (ret)
		return ret;
	cfg = &cf;
	ret = check_config(cfg);
	if (ret)
		return ret;
	vq = gm__calloc(1, sizeof(*vq));
	if (!vq)
		return -ENOMEM;
	vq->mem = mem;
	vq->cfg = *cfg;
	vq->size = cfg->size;
	vq->packed = cfg->features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	vq->event_idx = cfg->features & GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX);
	vq->indirect = cfg->features & GM_VIRTIO_BIT(GM_VIRTIO_F_INDIRECT_DESC);
	vq->max_chain = cfg->max_chain ? cfg->max_chain : GM__MIN(vq->size, GM_VQ_MAX_CHAIN);
	/* a buffer crossing a region boundary takes more than one iovec */
	vq->iov_cap = 2 * vq->max_chain;
	vq->nreq = cfg->max_inflight ? GM__MIN(cfg->max_inflight, vq->size) : vq->size;
	vq->max_batch = GM__MIN(cfg->max_batch ? cfg->max_batch : GM_VQ_DEFAULT_BATCH, vq->nreq);
	vq->buf_flags = cfg->buf_flags ? cfg->buf_flags : GM_MAP_TRANSIENT;
	vq->defer = vq->buf_flags == GM_MAP_TRANSIENT;
	vq->max_bytes = cfg->max_request_bytes ? cfg->max_request_bytes
					       : GM_VQ_DEFAULT_MAX_REQUEST_BYTES;
	vq->max_segs = cfg->max_request_segments ? cfg->max_request_segments
						 : GM_VQ_DEFAULT_MAX_REQUEST_SEGMENTS;
	vq->max_pages = cfg->max_map_pages;
	vq->unmapped_max = cfg->unmapped_max;

	if (vq->packed) {
		dlen = GM_VRING_PACKED_RING_SIZE(vq->size);
		drvlen = devlen = GM_VRING_PACKED_EVENT_SIZE;
	} else {
		size_t ev = vq->event_idx ? 2 : 0;

		dlen = GM_VRING_SPLIT_DESC_TABLE_SIZE(vq->size);
		drvlen = GM_VRING_SPLIT_AVAIL_SIZE(vq->size) - 2 + ev;
		devlen = GM_VRING_SPLIT_USED_SIZE(vq->size) - 2 + ev;
	}
	if (!gm__range_ok(cfg->desc_addr, dlen) || !gm__range_ok(cfg->driver_addr, drvlen) ||
	    !gm__range_ok(cfg->device_addr, devlen)) {
		free(vq);
		return bad_config(cfg, "ring wraps past 2^64");
	}

	vq->reqs = gm__calloc(vq->nreq, sizeof(*vq->reqs));
	vq->batches = gm__calloc(vq->nreq, sizeof(*vq->batches));
	vq->sg_store = gm__calloc((size_t)vq->nreq * vq->max_chain, sizeof(*vq->sg_store));
	vq->iov_store = gm__calloc((size_t)vq->nreq * vq->iov_cap, sizeof(*vq->iov_store));
	vq->itab = gm__malloc((size_t)vq->max_chain * GM_VRING_DESC_SIZE);
	vq->id_out = gm__calloc(vq->size, 1);
	if (vq->max_batch > 1) {
		vq->bsg = gm__calloc((size_t)vq->max_batch * vq->max_chain, sizeof(*vq->bsg));
		vq->biov = gm__calloc((size_t)vq->max_batch * vq->iov_cap, sizeof(*vq->biov));
	}
	if (!vq->reqs || !vq->batches || !vq->sg_store || !vq->iov_store || !vq->itab ||
	    !vq->id_out || (vq->max_batch > 1 && (!vq->bsg || !vq->biov))) {
		ret = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < vq->nreq; i++) {
		vq->reqs[i].sg = vq->sg_store + (size_t)i * vq->max_chain;
		vq->reqs[i].iov = vq->iov_store + (size_t)i * vq->iov_cap;
		vq->reqs[i].pub.iov = vq->reqs[i].iov;
		vq->reqs[i].pub.sg = vq->reqs[i].sg;
	}

	ret = gm_ring_new(mem, cfg->desc_addr, dlen, vq->packed ? GM_PROT_RW : GM_PROT_READ,
			  &vq->desc);
	if (!ret)
		ret = gm_ring_new(mem, cfg->driver_addr, drvlen, GM_PROT_READ, &vq->drv);
	if (!ret)
		ret = gm_ring_new(mem, cfg->device_addr, devlen, GM_PROT_RW, &vq->dev);
	if (ret) {
		gm__warn("virtqueue %u: cannot map the rings: %s", cfg->index, gm_strerror(ret));
		goto fail;
	}
	state_init(vq);
	ret = write_notify(vq, true);
	if (ret) {
		gm__warn("virtqueue %u: cannot write the device area: %s", cfg->index,
			 gm_strerror(ret));
		goto fail;
	}
	*out = vq;
	return 0;
fail:
	vq->nreq = 0; /* nothing is out */
	gm_vq_free(vq);
	return ret;
}
