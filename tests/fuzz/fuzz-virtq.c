/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-virtq: the device side of split and packed virtqueues
 * (lib/virtio/virtq.c over the ring mappings of lib/virtio/ring.c) against a
 * hostile driver, checked against a model.
 *
 * Guest memory is RAM regions of one space (cheap, and with a direct host
 * pointer the model can check every iovec exactly): RAM A holds the rings,
 * four indirect tables and data; RAMs C, D and E follow it without a gap,
 * so a buffer or a ring may straddle regions (a buffer up to four, which
 * runs a request out of iovecs); RAM R is read-only, elsewhere; everything
 * else is unbacked.  The input first picks a queue configuration (layout,
 * size, features, max_chain, max_inflight, mapping policy, request limits,
 * batch size, ring addresses: sometimes misaligned, straddling, read-only,
 * unbacked or wrapping), then runs a program: write descriptors and
 * indirect entries with any address, length, flags and next/id, publish
 * heads or whole chains, move the avail index anywhere, flip packed wrap
 * bits, write the driver's event suppression fields, scribble on the rings,
 * and pop (one, or a batch), push (one, a batch, a stale, foreign or
 * still-waiting request), enable and disable notifications, ask for
 * pending work and reset the queue.
 *
 * The model is the driver's view of the virtio 1.2 rules as virtio.h
 * documents them: it walks each chain itself from guest memory and predicts
 * the exact pop result (errno, or head / buffer id and every guest range in
 * order, chain after chain for a batch, up to the first that cannot be
 * taken), which requests are refused for the limits, which direction is
 * copied rather than mapped, the iovecs of the mapped one (exactly the
 * region pieces of each range), the map calls (one per direction for a
 * batch, or one by one after that fails), the used elements and used index
 * push writes (a transient batch all at once, when its last request is
 * pushed), the copy-back of device-written bytes, the status byte written
 * into a refused request, the interrupt decision (EVENT_IDX arithmetic
 * modulo 2^16 and 2 * size), the suppression fields the device writes, and
 * pending work.  A queue whose rings overlap each other gets only the
 * checks that need no prediction.
 *
 * Invariants on top: a broken queue stays broken (pop, pending and
 * set_notify fail -EIO) with exactly one warning logged when it broke, and
 * nothing else logs; a failed pop maps nothing; the regions' mapping
 * counters equal the rings' mappings plus the mapped iovecs of requests out,
 * so after push, reset and free nothing stays mapped; readable iovecs hold
 * the guest's bytes; no writable iovec points into read-only memory; the
 * read-only region is never written.
 */
#include "config.h"

#include "fuzz-common.h"
#include "mem/mem-internal.h" /* struct gm_region's mapping counter */

#include <grantmem/grantmem.h>
#include <grantmem/virtio.h>

#include <errno.h>
#include <stdbool.h>

/* Guest memory. */
#define A_BASE 0x10000ull
#define A_SIZE 0x8000u
#define C_BASE (A_BASE + A_SIZE) /* C, D, E right after A: ranges may straddle */
#define C_SIZE 0x1008u /* D starts mid-descriptor: ring reads cross pieces */
#define D_BASE (C_BASE + C_SIZE)
#define D_SIZE 0x100u
#define E_BASE (D_BASE + D_SIZE)
#define E_SIZE 0x100u
#define R_BASE 0x40000ull        /* read-only */
#define R_SIZE 0x2000u
#define NREGION 5
/* Inside A: rings, then four indirect tables, then data up to C's end. */
#define DESC_AREA (A_BASE + 0x0000)
#define DRV_AREA (A_BASE + 0x1000)
#define DEV_AREA (A_BASE + 0x2000)
#define ITAB_AREA (A_BASE + 0x3000)
#define ITAB_STRIDE 0x400u
#define NITAB 4
#define DATA_AREA (A_BASE + 0x4000)
#define DATA_END (E_BASE + E_SIZE)

#define MAX_SIZE 64u       /* queue sizes the input picks */
#define MAX_CHAIN 1024u    /* GM_VQ_MAX_CHAIN: the largest max_chain */
#define MAX_OUT 64u        /* requests out at once (max_inflight <= size) */
#define STEPS 64

#define NX GM_VRING_DESC_F_NEXT
#define WR GM_VRING_DESC_F_WRITE
#define IN GM_VRING_DESC_F_INDIRECT
#define P_AVAIL GM_VRING_PACKED_DESC_F_AVAIL
#define P_USED GM_VRING_PACKED_DESC_F_USED

struct mregion {
	uint64_t base;
	size_t size;
	uint8_t *host;
	bool ro;
	gm_region *r;
};

static uint8_t ram_a[A_SIZE] __attribute__((aligned(4096)));
static uint8_t ram_c[C_SIZE] __attribute__((aligned(4096)));
static uint8_t ram_d[D_SIZE] __attribute__((aligned(256)));
static uint8_t ram_e[E_SIZE] __attribute__((aligned(256)));
static uint8_t ram_r[R_SIZE] __attribute__((aligned(4096)));
static uint8_t ram_r_init[R_SIZE];
static struct mregion regs[NREGION] = {
	{A_BASE, A_SIZE, ram_a, false, NULL},
	{C_BASE, C_SIZE, ram_c, false, NULL},
	{D_BASE, D_SIZE, ram_d, false, NULL},
	{E_BASE, E_SIZE, ram_e, false, NULL},
	{R_BASE, R_SIZE, ram_r, true, NULL},
};
static gm_space *space;
static gm_mem *mem;

static int warnings; /* log lines at warning level or above */

static void count_log(void *opaque, gm_log_level level, const char *msg)
{
	(void)opaque;
	if (level <= GM_LOG_WARNING)
		warnings++;
	if (trace)
		fprintf(stderr, "log: %s\n", msg);
}

/* ---- guest memory, as the model sees it ---- */

/* The region holding guest address @a, or NULL. */
MODEL_LOOP static const struct mregion *region_of(uint64_t a)
{
	for (unsigned i = 0; i < NREGION; i++)
		if (a - regs[i].base < regs[i].size)
			return &regs[i];
	return NULL;
}

/* Copy guest [a, a + len) into @buf; false if a byte is unbacked. */
MODEL_LOOP static bool g_read(uint64_t a, void *buf, size_t len)
{
	uint8_t *b = buf;

	while (len) {
		const struct mregion *m = region_of(a);
		if (!m)
			return false;
		size_t l = GM__FUZZ_MIN(len, m->size - (size_t)(a - m->base));
		memcpy(b, m->host + (a - m->base), l);
		a += l;
		b += l;
		len -= l;
	}
	return true;
}

/* The driver writes its own memory (A and C only: R stays as it was). */
MODEL_LOOP static void g_write(uint64_t a, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	for (size_t i = 0; i < len; i++) {
		const struct mregion *m = region_of(a + i);
		if (m && !m->ro)
			m->host[a + i - m->base] = b[i];
	}
}

static uint8_t g_byte(uint64_t a)
{
	uint8_t b = 0;

	g_read(a, &b, 1);
	return b;
}

static uint16_t g_le16(uint64_t a)
{
	uint8_t b[2] = {0, 0};

	g_read(a, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static uint32_t g_le32(uint64_t a)
{
	uint8_t b[4] = {0, 0, 0, 0};

	g_read(a, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void g_put16(uint64_t a, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	g_write(a, b, 2);
}

static void g_put32(uint64_t a, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	g_write(a, b, 4);
}

static void g_put64(uint64_t a, uint64_t v)
{
	g_put32(a, (uint32_t)v);
	g_put32(a + 4, (uint32_t)(v >> 32));
}

/* Is every byte of [a, a + len) backed (and writable, if @w)? */
MODEL_LOOP static bool g_backed(uint64_t a, uint64_t len, bool w)
{
	while (len) {
		const struct mregion *m = region_of(a);
		if (!m || (w && m->ro))
			return false;
		uint64_t l = GM__FUZZ_MIN(len, m->size - (a - m->base));
		a += l;
		len -= l;
	}
	return true;
}

/* Sum of the regions' mapping counts (mem-internal.h): what is mapped now. */
static unsigned maps_now(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NREGION; i++)
		n += gm__region_maps(regs[i].r);
	return n;
}

/* ---- the queue and the model's state ---- */

/* A request popped and not yet published (out, or pushed and waiting). */
struct mreq {
	struct gm_vq_req *p;
	uint16_t id;
	unsigned ndesc;        /* packed: ring slots */
	bool any_write;
	bool copied_in;        /* the writable part is a copy (written back at push) */
	unsigned mapped;       /* iovecs holding a mapping */
	unsigned batch, seq;   /* the pop it came from, its place in it */
	bool done;             /* pushed; published with the rest of its batch */
	uint32_t used_len;     /* done: the used length push was given (clamped) */
};

/* The most chains one pop takes here (max_batch is picked up to it). */
#define MODEL_BATCH 32u

static struct {
	gm_vq *vq;
	/* configuration */
	unsigned size, max_chain, nreq, iov_cap, max_batch, max_segs;
	uint64_t max_bytes, max_pages;
	bool packed, event_idx, indirect;
	bool defer;             /* transient buffers: batches are published whole */
	uint64_t desc, drv, dev;
	size_t dlen, drvlen, devlen;
	bool exact;             /* rings do not overlap: predict everything */
	unsigned ring_maps;     /* mappings the rings hold */
	/* the device, as the model predicts it */
	bool broken, notify_on;
	uint16_t last_avail, used_idx, event_sent;
	uint16_t avail_pos, used_pos;
	bool avail_wrap, used_wrap;
	struct mreq out[MAX_OUT]; /* out or done */
	unsigned nout;
	unsigned next_batch;
	struct gm_vq_stats st;    /* the queue's counters, as predicted */
	struct gm_vq_req *stale[8]; /* pushed requests, for double pushes */
	unsigned nstale, next_stale;
	/* the driver's own positions */
	uint16_t d_avail;        /* split: next avail idx to publish */
	uint16_t d_pos;          /* packed: next slot */
	bool d_wrap;
} Q;

/* Split ring offsets (bytes). */
#define AVAIL_IDX 2
#define AVAIL_RING(i) (4 + 2 * (uint64_t)(i))
#define USED_IDX 2
#define USED_RING(i) (4 + 8 * (uint64_t)(i))

/* Is @id taken: out, or pushed and not yet published? */
static bool in_flight(uint16_t id)
{
	for (unsigned i = 0; i < Q.nout; i++)
		if (Q.out[i].id == id)
			return true;
	return false;
}

/* Requests popped and not yet pushed (gm_vq_inflight). */
static unsigned inflight(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < Q.nout; i++)
		n += !Q.out[i].done;
	return n;
}

/* The value the device writes as avail_event / packed event offset. */
static uint16_t avail_event_value(void)
{
	if (Q.packed)
		return (uint16_t)(Q.avail_pos | (Q.avail_wrap ? 0x8000u : 0));
	return Q.last_avail;
}

static uint64_t avail_event_addr(void)
{
	return Q.packed ? Q.dev : Q.dev + USED_RING(Q.size);
}

/* Chains available: split avail idx - last_avail; packed 0 or 1. */
static unsigned avail_count(void)
{
	if (Q.packed) {
		uint16_t f = g_le16(Q.desc + 16u * Q.avail_pos + 14);
		bool a = f & P_AVAIL, u = f & P_USED;

		return a == Q.avail_wrap && u != Q.avail_wrap;
	}
	return (uint16_t)(g_le16(Q.drv + AVAIL_IDX) - Q.last_avail);
}

/* ---- the model's chain walk ---- */

struct mdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next_or_id;
};

static void parse_desc(const uint8_t *b, struct mdesc *d)
{
	uint16_t x = (uint16_t)(b[12] | b[13] << 8), y = (uint16_t)(b[14] | b[15] << 8);

	d->addr = 0;
	for (int i = 7; i >= 0; i--)
		d->addr = d->addr << 8 | b[i];
	d->len = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 |
		 (uint32_t)b[11] << 24;
	d->flags = Q.packed ? y : x;
	d->next_or_id = Q.packed ? x : y;
}

struct mchain {
	struct gm_sg sg[MAX_CHAIN];
	unsigned n, nout;
	bool seen_write;
	uint16_t id;
	unsigned ndesc;
};

/* the chains one pop walks; mc: the one being walked */
static struct mchain mcs[MODEL_BATCH], *mc = mcs;
static uint8_t itab[MAX_CHAIN * 16];

static int chain_add(uint64_t addr, uint32_t len, bool write)
{
	if (mc->n >= Q.max_chain)
		return -ELOOP;
	if (!len || addr + (len - 1) < addr)
		return -EFAULT;
	if (write)
		mc->seen_write = true;
	else if (mc->seen_write)
		return -EPROTO;
	else
		mc->nout++;
	mc->sg[mc->n++] = (struct gm_sg){.addr = addr, .len = len};
	return 0;
}

/* An indirect descriptor: check it, read its table.  Entries or -errno. */
static int read_indirect(const struct mdesc *d)
{
	if (!Q.indirect || (d->flags & NX))
		return -EPROTO;
	if (!d->len || d->len % 16)
		return -EINVAL;
	if (d->len / 16 > Q.max_chain - mc->n)
		return -ELOOP;
	if (d->addr + (d->len - 1) < d->addr)
		return -EFAULT;
	if (!g_read(d->addr, itab, d->len))
		return -EFAULT;
	return (int)(d->len / 16);
}

MODEL_LOOP static int walk_indirect(unsigned entries)
{
	unsigned i = 0, visited = 0;
	struct mdesc d;
	int ret;

	for (;;) {
		if (++visited > entries)
			return -ELOOP;
		parse_desc(itab + 16 * i, &d);
		if (d.flags & IN)
			return -EPROTO;
		if ((ret = chain_add(d.addr, d.len, d.flags & WR)))
			return ret;
		if (Q.packed) {
			if (++i == entries)
				return 0;
			continue;
		}
		if (!(d.flags & NX))
			return 0;
		if (d.next_or_id >= entries)
			return -EINVAL;
		i = d.next_or_id;
	}
}

static void ring_desc(unsigned i, struct mdesc *d)
{
	uint8_t b[16];

	g_read(Q.desc + 16u * i, b, 16);
	parse_desc(b, d);
}

MODEL_LOOP static int walk_split(uint16_t head)
{
	unsigned i = head, visited = 0;
	struct mdesc d;
	int ret;

	for (;;) {
		if (++visited > Q.size)
			return -ELOOP;
		ring_desc(i, &d);
		if (d.flags & IN) {
			if ((ret = read_indirect(&d)) < 0)
				return ret;
			return walk_indirect((unsigned)ret);
		}
		if ((ret = chain_add(d.addr, d.len, d.flags & WR)))
			return ret;
		if (!(d.flags & NX))
			return 0;
		if (d.next_or_id >= Q.size)
			return -EINVAL;
		i = d.next_or_id;
	}
}

MODEL_LOOP static int walk_packed(void)
{
	unsigned pos = Q.avail_pos, n = 0;
	struct mdesc d;
	int ret;

	for (;;) {
		if (++n > Q.size)
			return -ELOOP;
		ring_desc(pos, &d);
		mc->id = d.next_or_id;
		if (d.flags & IN) {
			if ((ret = read_indirect(&d)) < 0)
				return ret;
			ret = walk_indirect((unsigned)ret);
			break;
		}
		ret = chain_add(d.addr, d.len, d.flags & WR);
		if (ret || !(d.flags & NX))
			break;
		if (++pos == Q.size)
			pos = 0;
	}
	mc->ndesc = n;
	return ret;
}

/*
 * gm_map_sg of @n ranges, as the model sees it: the iovec count or the
 * errno.  Ranges are split at region ends and checked in order, piece by
 * piece, before anything is mapped: unbacked bytes (-EFAULT), read-only
 * memory for writing (-EACCES), running out of iovecs (-E2BIG).  The first
 * bad piece decides.
 */
MODEL_LOOP static int map_sg(const struct gm_sg *sg, unsigned n, unsigned max_out, bool w)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t a = sg[i].addr, left = sg[i].len;

		while (left) {
			const struct mregion *m = region_of(a);
			if (!m)
				return -EFAULT;
			if (w && m->ro)
				return -EACCES;
			if (k == max_out)
				return -E2BIG;
			uint64_t l = GM__FUZZ_MIN(left, m->size - (a - m->base));
			k++;
			a += l;
			left -= l;
		}
	}
	return (int)k;
}

static uint64_t sg_total(const struct gm_sg *sg, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += sg[i].len;
	return t;
}

/* What pop will do with a walked chain: refuse, copy or map, and the errno. */
struct mpop {
	int err;
	bool refused;
	bool copied_out, copied_in;
	unsigned k1, k2;  /* iovecs: readable, writable */
	uint64_t pages;   /* what its mapped part takes of a page budget */
	/* mapped on its own: the map calls it makes, whether one fails */
	bool ro_try, ro_fail, wo_try, wo_fail;
};

static struct mpop mps[MODEL_BATCH];

MODEL_LOOP static uint64_t sg_pages(const struct gm_sg *sg, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += ((sg[i].addr & 4095) + sg[i].len + 4095) >> 12;
	return t;
}

/* The copy decision (before iovec room is known) and the pages mapped. */
static void plan(struct mpop *p)
{
	unsigned nin = mc->n - mc->nout;

	p->copied_out = p->copied_in = false;
	if (mc->nout && nin) {
		uint64_t out = sg_total(mc->sg, mc->nout), in = sg_total(mc->sg + mc->nout, nin);

		if (out <= in && out <= GM_VQ_COPY_MAX && mc->nout <= Q.iov_cap - nin)
			p->copied_out = true;
		else if (in < out && in <= GM_VQ_COPY_MAX)
			p->copied_in = true;
	}
	p->pages = (p->copied_out ? 0 : sg_pages(mc->sg, mc->nout)) +
		   (p->copied_in ? 0 : sg_pages(mc->sg + mc->nout, nin));
	p->refused = mc->n > Q.max_segs || sg_total(mc->sg, mc->n) > Q.max_bytes ||
		     (Q.max_pages && p->pages > Q.max_pages);
}

/* Can a copied readable part be read?  (Pop reads it before mapping.) */
static bool copy_ok(const struct mpop *p)
{
	if (!p->copied_out)
		return true;
	for (unsigned i = 0; i < mc->nout; i++)
		if (!g_backed(mc->sg[i].addr, mc->sg[i].len, false))
			return false;
	return true;
}

/* Mapping the planned chain on its own: iovecs, or the first map errno. */
static void predict_map(struct mpop *p)
{
	unsigned nin = mc->n - mc->nout;
	int k;

	p->k1 = p->k2 = 0;
	p->ro_try = p->ro_fail = p->wo_try = p->wo_fail = false;
	p->err = 0;
	if (p->copied_out) {
		p->k1 = mc->nout;
	} else if (mc->nout) {
		p->ro_try = true;
		k = map_sg(mc->sg, mc->nout, Q.iov_cap - nin, false);
		if (k < 0) {
			p->ro_fail = true;
			p->err = k;
			return;
		}
		p->k1 = (unsigned)k;
	}
	if (p->copied_in && nin > Q.iov_cap - p->k1)
		p->copied_in = false;
	if (p->copied_in) {
		p->k2 = nin;
	} else if (nin) {
		p->wo_try = true;
		k = map_sg(mc->sg + mc->nout, nin, Q.iov_cap - p->k1, true);
		if (k < 0) {
			p->wo_fail = true;
			p->err = k;
			return;
		}
		p->k2 = (unsigned)k;
	}
}

/* The model's prediction of one pop (gm_vq_pop, or a batch of up to max). */
struct mbatch {
	int ret;         /* requests handed out, or the errno */
	unsigned map_calls;
	bool fallback;   /* the batch was mapped one by one */
};

/* Walk the chain at the model's position into mcs[k] (mc). */
static int model_walk(unsigned k)
{
	mc = &mcs[k];
	mc->n = mc->nout = 0;
	mc->seen_write = false;
	mc->ndesc = 1;
	mc->id = 0;
	int err;

	if (Q.packed) {
		err = walk_packed();
		if (!err && mc->id >= Q.size)
			err = -EINVAL;
	} else {
		mc->id = g_le16(Q.drv + AVAIL_RING(Q.last_avail & (Q.size - 1)));
		err = mc->id >= Q.size ? -EINVAL : walk_split(mc->id);
	}
	if (!err && in_flight(mc->id))
		err = -EINVAL;
	for (unsigned j = 0; !err && j < k; j++)
		if (mcs[j].id == mc->id)
			err = -EINVAL;
	return err;
}

/* Move the model's position past chain mcs[k]. */
static void model_advance_chain(unsigned k)
{
	if (!Q.packed) {
		Q.last_avail++;
		return;
	}
	unsigned pos = Q.avail_pos + mcs[k].ndesc;

	if (pos >= Q.size) {
		pos -= Q.size;
		Q.avail_wrap = !Q.avail_wrap;
	}
	Q.avail_pos = (uint16_t)pos;
}

/* Move the model's position past the @n chains walked into mcs[]. */
static void model_advance(unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		model_advance_chain(k);
}

/*
 * The model's pop, before the library's: the result, the chains in mcs[],
 * what becomes of each in mps[].  Applies the one store pop may make
 * (avail_event, when the ring is empty with EVENT_IDX and notifications
 * on) so that memory is what the library will read after making it.
 */
static void model_pop(unsigned max, struct mbatch *b)
{
	uint16_t la = Q.last_avail, ap = Q.avail_pos;
	bool aw = Q.avail_wrap;
	uint64_t bpages = 0;
	unsigned n, got = 0, mapped;
	int err = 0;

	memset(b, 0, sizeof(*b));
	if (Q.broken) {
		b->ret = -EIO;
		return;
	}
	n = avail_count();
	if (!n && Q.notify_on && Q.event_idx && Q.event_sent != avail_event_value()) {
		Q.event_sent = avail_event_value();
		g_put16(avail_event_addr(), Q.event_sent);
		n = avail_count();
	}
	if (!n) {
		b->ret = -EAGAIN;
		return;
	}
	if (!Q.packed && n > Q.size) {
		b->ret = -EOVERFLOW;
		return;
	}
	max = GM__FUZZ_MIN(max, Q.max_batch);
	while (got < max) {
		struct mpop *p = &mps[got];

		if (got && (Q.packed ? !avail_count() : got == n))
			break;
		if (Q.nout + got == Q.nreq) {
			err = -ENOBUFS;
			break;
		}
		memset(p, 0, sizeof(*p));
		err = model_walk(got);
		if (err)
			break;
		plan(p);
		if (p->refused) {
			p->copied_out = p->copied_in = false;
		} else {
			if (got && Q.max_pages && bpages + p->pages > Q.max_pages)
				break;
			if (!copy_ok(p)) {
				err = -EFAULT;
				break;
			}
			bpages += p->pages;
		}
		model_advance_chain(got); /* the next chain is walked from there */
		got++;
	}
	Q.last_avail = la;
	Q.avail_pos = ap;
	Q.avail_wrap = aw;
	if (!got) {
		b->ret = err;
		return;
	}
	for (unsigned k = 0; k < got; k++) {
		mc = &mcs[k];
		if (!mps[k].refused)
			predict_map(&mps[k]);
	}
	/* one map call for all readable parts, one for all writable ones */
	mapped = got;
	if (got > 1) {
		/* each call has room for every range cut once at a region end */
		bool ro = false, ro_fail = false, wo = false, wo_fail = false;
		unsigned ro_ranges = 0, ro_pieces = 0, wo_ranges = 0, wo_pieces = 0;

		for (unsigned k = 0; k < got; k++) {
			const struct mpop *p = &mps[k];

			if (p->refused || p->copied_out || !mcs[k].nout)
				continue;
			ro = true;
			ro_fail |= p->ro_fail;
			ro_ranges += mcs[k].nout;
			ro_pieces += p->k1;
		}
		ro_fail |= ro_pieces > 2 * ro_ranges;
		b->map_calls = ro;
		if (!ro_fail) {
			for (unsigned k = 0; k < got; k++) {
				wo |= mps[k].wo_try;
				wo_fail |= mps[k].wo_fail;
				if (mps[k].wo_try && !mps[k].wo_fail) {
					wo_ranges += mcs[k].n - mcs[k].nout;
					wo_pieces += mps[k].k2;
				}
			}
			wo_fail |= wo_pieces > 2 * wo_ranges;
			b->map_calls += wo;
		}
		b->fallback = ro_fail || wo_fail;
	}
	if (got == 1 || b->fallback) {
		for (mapped = 0; mapped < got; mapped++) {
			const struct mpop *p = &mps[mapped];

			if (p->refused)
				continue;
			b->map_calls += p->ro_try + p->wo_try;
			if (p->err) {
				err = p->err;
				break;
			}
		}
	}
	b->ret = mapped ? (int)mapped : err;
}

/* ---- checks of a popped request ---- */

/* Where the device's pattern byte @off of request @id's writable part goes. */
static uint8_t pattern(uint16_t id, size_t off)
{
	return (uint8_t)(id * 7u + off * 13u + 1u);
}

/* Is @p inside guest RAM's host memory? */
static bool in_ram(const void *p)
{
	for (unsigned i = 0; i < NREGION; i++)
		if ((uintptr_t)p - (uintptr_t)regs[i].host < regs[i].size)
			return true;
	return false;
}

/*
 * Check the iovecs of one direction (@n ranges @sg as @niov iovecs @iov):
 * mapped, they are exactly the region pieces of the ranges; copied, one
 * per range, outside guest memory, at most GM_VQ_COPY_MAX bytes in all.
 * Returns how many iovecs hold a mapping.
 */
MODEL_LOOP static unsigned check_iov(const struct gm_sg *sg, unsigned n, const struct iovec *iov,
				     unsigned niov, bool w, bool *copied)
{
	unsigned k = 0;

	*copied = false;
	if (!n) {
		FUZZ_CHECK(!niov, "%u iovecs for no range", niov);
		return 0;
	}
	FUZZ_CHECK(niov, "no iovec for %u ranges", n);
	if (!in_ram(iov[0].iov_base)) {
		*copied = true;
		FUZZ_CHECK(niov == n, "copied part: %u iovecs for %u ranges", niov, n);
		FUZZ_CHECK(sg_total(sg, n) <= GM_VQ_COPY_MAX, "copied %llu bytes",
			   (unsigned long long)sg_total(sg, n));
		for (unsigned i = 0; i < n; i++) {
			FUZZ_CHECK(iov[i].iov_len == sg[i].len && !in_ram(iov[i].iov_base),
				   "copied range %u: iovec of %zu bytes", i, iov[i].iov_len);
			if (w) {
				/* nothing of the host may reach the guest */
				for (size_t b = 0; b < iov[i].iov_len; b++)
					FUZZ_CHECK(!((uint8_t *)iov[i].iov_base)[b],
						   "copied writable range %u not zeroed", i);
			} else {
				static uint8_t buf[GM_VQ_COPY_MAX];
				FUZZ_CHECK(g_read(sg[i].addr, buf, sg[i].len) &&
						   !memcmp(buf, iov[i].iov_base, sg[i].len),
					   "copied readable range %u differs from guest memory", i);
			}
		}
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = sg[i].addr, left = sg[i].len;

		while (left) {
			const struct mregion *m = region_of(a);
			FUZZ_CHECK(m, "range %u (0x%llx) mapped where nothing is", i,
				   (unsigned long long)a);
			FUZZ_CHECK(!(w && m->ro), "writable range %u mapped on read-only memory",
				   i);
			uint64_t l = GM__FUZZ_MIN(left, m->size - (a - m->base));
			FUZZ_CHECK(k < niov, "range %u: iovecs run out", i);
			uint8_t *want = m->host + (a - m->base);

			FUZZ_CHECK(iov[k].iov_base == want && iov[k].iov_len == l,
				   "range %u: iovec %u is %p+%zu, want %p+%llu", i, k,
				   iov[k].iov_base, iov[k].iov_len, (void *)want,
				   (unsigned long long)l);
			k++;
			a += l;
			left -= l;
		}
	}
	FUZZ_CHECK(k == niov, "%u iovecs for %u pieces", niov, k);
	return k;
}

/* Checks that need no model; fills in the request's record. */
static void check_request(const struct gm_vq_req *r, struct mreq *q)
{
	unsigned n = r->nsg_out + r->nsg_in;
	uint64_t out = 0, inl = 0;
	bool cout, cin;

	FUZZ_CHECK(n >= 1 && n <= Q.max_chain, "request of %u ranges (max_chain %u)", n,
		   Q.max_chain);
	FUZZ_CHECK(r->id < Q.size, "id %u of a queue of %u", r->id, Q.size);
	FUZZ_CHECK(!r->user, "user not NULL after pop");
	for (unsigned i = 0; i < n; i++) {
		FUZZ_CHECK(r->sg[i].len && r->sg[i].len <= UINT32_MAX &&
				   r->sg[i].addr + (r->sg[i].len - 1) >= r->sg[i].addr,
			   "range %u: 0x%llx+%zu", i, (unsigned long long)r->sg[i].addr,
			   r->sg[i].len);
		if (i < r->nsg_out)
			out += r->sg[i].len;
		else
			inl += r->sg[i].len;
	}
	FUZZ_CHECK(r->out_len == out && r->in_len == inl, "lengths %llu/%llu, ranges say %llu/%llu",
		   (unsigned long long)r->out_len, (unsigned long long)r->in_len,
		   (unsigned long long)out, (unsigned long long)inl);
	/* refused exactly when over a limit (pages: at most what both
	 * directions span, at least what the larger one does) */
	uint64_t pg_out = sg_pages(r->sg, r->nsg_out), pg_in = sg_pages(r->sg + r->nsg_out, r->nsg_in);
	bool over = n > Q.max_segs || out + inl > Q.max_bytes;

	if (r->error) {
		FUZZ_CHECK(r->error == -EMSGSIZE && !r->nout && !r->nin,
			   "refused request: error %d, %u+%u iovecs", r->error, r->nout, r->nin);
		FUZZ_CHECK(over || (Q.max_pages && pg_out + pg_in > Q.max_pages),
			   "request refused within the limits");
		q->mapped = 0;
		cin = false;
	} else {
		FUZZ_CHECK(!over, "request of %u ranges, %llu bytes not refused", n,
			   (unsigned long long)(out + inl));
		FUZZ_CHECK(!Q.max_pages || GM__FUZZ_MIN(pg_out, pg_in) <= Q.max_pages,
			   "request of %llu+%llu pages not refused", (unsigned long long)pg_out,
			   (unsigned long long)pg_in);
		q->mapped = check_iov(r->sg, r->nsg_out, r->iov, r->nout, false, &cout);
		q->mapped += check_iov(r->sg + r->nsg_out, r->nsg_in, r->iov + r->nout, r->nin,
				       true, &cin);
		/* only a chain that goes both ways has a direction copied, and one */
		FUZZ_CHECK(!(cout || cin) || (r->nsg_out && r->nsg_in && !(cout && cin)),
			   "copied a direction of a one-way chain");
	}
	q->p = (struct gm_vq_req *)r;
	q->id = r->id;
	q->any_write = r->nsg_in != 0;
	q->copied_in = cin;
	q->done = false;
	q->used_len = 0;
}

/*
 * The device writes its pattern over the whole writable part; into a
 * refused request, its status byte only, with gm_vq_req_write (through the
 * bytes API: it lands where the last writable byte is, if that is
 * writable guest memory).
 */
MODEL_LOOP static void device_writes(const struct gm_vq_req *r)
{
	size_t off = 0;

	if (r->error && r->in_len) {
		const struct gm_sg *last = &r->sg[r->nsg_out + r->nsg_in - 1];
		uint64_t a = last->addr + last->len - 1;
		uint8_t v = pattern(r->id, 0);
		bool ok = g_backed(a, 1, true);
		int ret = gm_vq_req_write(Q.vq, (struct gm_vq_req *)r, r->in_len - 1, &v, 1);

		FUZZ_CHECK(ok ? ret == 0 : ret < 0, "status of a refused request: %d (backed %d)",
			   ret, ok);
		FUZZ_CHECK(!ok || g_byte(a) == v, "status of a refused request not written");
		return;
	}
	for (unsigned i = r->nout; i < r->nout + r->nin; i++)
		for (size_t b = 0; b < r->iov[i].iov_len; b++)
			((uint8_t *)r->iov[i].iov_base)[b] = pattern(r->id, off++);
}

static bool documented_pop_error(int err)
{
	switch (err) {
	case -EINVAL: case -ELOOP: case -EFAULT: case -EPROTO: case -EOVERFLOW:
	case -EACCES: case -E2BIG: case -EAGAIN: case -ENOBUFS: case -EIO:
		return true;
	}
	return false;
}

/* gm_vq_pop (@batch false), or gm_vq_pop_batch of up to @max. */
static void op_pop(bool batch, unsigned max)
{
	struct mbatch mb = {0};
	struct gm_vq_req *rs[MODEL_BATCH + 8];
	struct gm_vq_req *const poison = (struct gm_vq_req *)&Q;
	unsigned m0 = maps_now(), mapped = 0, nref = 0;
	int w0 = warnings, ret;
	bool was_broken = Q.broken;
	struct gm_vq_stats st = {.size = sizeof(st)};

	for (unsigned i = 0; i < sizeof(rs) / sizeof(rs[0]); i++)
		rs[i] = poison; /* untouched after a failure */
	if (!batch)
		max = 1;
	if (Q.exact)
		model_pop(max, &mb);
	if (batch) {
		ret = gm_vq_pop_batch(Q.vq, rs, max);
	} else {
		ret = gm_vq_pop(Q.vq, &rs[0]);
		if (!ret)
			ret = 1;
		else
			FUZZ_CHECK(!rs[0], "failed pop left its request pointer set");
	}
	TRACE("pop%s of %u: %d (model %d)\n", batch ? " batch" : "", max, ret,
	      Q.exact ? mb.ret : 1);
	if (ret < 0) {
		bool breaks = ret != -EAGAIN && ret != -ENOBUFS && ret != -EIO;

		FUZZ_CHECK(!batch || rs[0] == poison, "failed pop handed out a request");
		FUZZ_CHECK(documented_pop_error(ret), "pop: %d (%s)", ret, gm_strerror(ret));
		if (Q.exact)
			FUZZ_CHECK(ret == mb.ret, "pop: %d (%s), model %d (%s)", ret,
				   gm_strerror(ret), mb.ret, mb.ret < 0 ? gm_strerror(mb.ret) : "");
		FUZZ_CHECK(!was_broken || ret == -EIO, "pop of a broken queue: %d", ret);
		FUZZ_CHECK(maps_now() == m0, "failed pop: %u mappings, %u before", maps_now(), m0);
		FUZZ_CHECK(gm_vq_broken(Q.vq) == (was_broken || breaks), "broken %d after pop %d",
			   gm_vq_broken(Q.vq), ret);
		FUZZ_CHECK(warnings == w0 + breaks, "pop %d logged %d warnings", ret,
			   warnings - w0);
		FUZZ_CHECK(gm_vq_inflight(Q.vq) == inflight(), "inflight %u, model %u",
			   gm_vq_inflight(Q.vq), inflight());
		Q.broken |= breaks;
		if (Q.exact) {
			gm_vq_stats(Q.vq, &st);
			FUZZ_CHECK(st.map_calls == Q.st.map_calls + mb.map_calls &&
					   st.fallbacks == Q.st.fallbacks + mb.fallback,
				   "failed pop: %llu map calls, %llu fallbacks; model %llu + %u, %llu",
				   (unsigned long long)st.map_calls,
				   (unsigned long long)st.fallbacks,
				   (unsigned long long)Q.st.map_calls, mb.map_calls,
				   (unsigned long long)Q.st.fallbacks);
			Q.st = st;
		}
		return;
	}
	FUZZ_CHECK(!was_broken, "pop of a broken queue succeeded");
	FUZZ_CHECK(ret >= 1 && (unsigned)ret <= GM__FUZZ_MIN(max, Q.max_batch),
		   "pop of up to %u (max_batch %u) handed out %d", max, Q.max_batch, ret);
	FUZZ_CHECK(!batch || rs[ret] == poison, "pop wrote past its %d requests", ret);
	FUZZ_CHECK(warnings == w0, "pop logged");
	if (Q.exact)
		FUZZ_CHECK(ret == mb.ret, "pop: %d requests, model %d (%s)", ret, mb.ret,
			   mb.ret < 0 ? gm_strerror(mb.ret) : "");
	for (int k = 0; k < ret; k++) {
		const struct gm_vq_req *r = rs[k];
		struct mreq *q = &Q.out[Q.nout];

		FUZZ_CHECK(r && r != poison, "request %d of the pop missing", k);
		TRACE("  id %u: %u+%u ranges, %u+%u iovecs, %llu+%llu bytes%s\n", r->id,
		      r->nsg_out, r->nsg_in, r->nout, r->nin, (unsigned long long)r->out_len,
		      (unsigned long long)r->in_len, r->error ? " refused" : "");
		check_request(r, q);
		mapped += q->mapped;
		nref += r->error != 0;
		if (Q.exact) {
			const struct mchain *m = &mcs[k];
			const struct mpop *p = &mps[k];

			FUZZ_CHECK(r->id == m->id && r->nsg_out == m->nout &&
					   r->nsg_in == m->n - m->nout,
				   "pop: id %u, %u+%u ranges; model id %u, %u+%u", r->id, r->nsg_out,
				   r->nsg_in, m->id, m->nout, m->n - m->nout);
			for (unsigned i = 0; i < m->n; i++)
				FUZZ_CHECK(r->sg[i].addr == m->sg[i].addr &&
						   r->sg[i].len == m->sg[i].len,
					   "pop: range %u", i);
			FUZZ_CHECK(!!r->error == p->refused, "refused %d, model %d", r->error,
				   p->refused);
			if (!p->refused)
				FUZZ_CHECK(r->nout == p->k1 && r->nin == p->k2 &&
						   q->copied_in == p->copied_in,
					   "pop: %u+%u iovecs (copied in %d), model %u+%u (%d)",
					   r->nout, r->nin, q->copied_in, p->k1, p->k2,
					   p->copied_in);
			q->ndesc = m->ndesc;
		} else {
			FUZZ_CHECK(!in_flight(r->id), "id %u handed out twice", r->id);
		}
		q->batch = Q.next_batch;
		q->seq = (unsigned)k;
		Q.nout++;
	}
	Q.next_batch++;
	FUZZ_CHECK(maps_now() == m0 + mapped, "pop: %u mappings, %u + %u expected", maps_now(), m0,
		   mapped);
	FUZZ_CHECK(gm_vq_inflight(Q.vq) == inflight(), "inflight %u, model %u", gm_vq_inflight(Q.vq),
		   inflight());
	gm_vq_stats(Q.vq, &st);
	FUZZ_CHECK(st.requests == Q.st.requests + (unsigned)ret && st.batches == Q.st.batches + 1 &&
			   st.refused == Q.st.refused + nref,
		   "pop: stats %llu requests %llu batches %llu refused",
		   (unsigned long long)st.requests, (unsigned long long)st.batches,
		   (unsigned long long)st.refused);
	if (Q.exact) {
		FUZZ_CHECK(st.map_calls == Q.st.map_calls + mb.map_calls &&
				   st.fallbacks == Q.st.fallbacks + mb.fallback,
			   "pop: %llu map calls, %llu fallbacks; model %llu + %u, %llu + %d",
			   (unsigned long long)st.map_calls, (unsigned long long)st.fallbacks,
			   (unsigned long long)Q.st.map_calls, mb.map_calls,
			   (unsigned long long)Q.st.fallbacks, mb.fallback);
		/* the device's position moves on past the chains taken */
		model_advance((unsigned)ret);
	}
	Q.st = st;
	for (int k = 0; k < ret; k++)
		device_writes(rs[k]);
}

/* ---- push ---- */

/* Bytes copy-back writes: one overlay over A to E (contiguous). */
#define OV_BASE A_BASE
#define OV_SIZE (DATA_END - A_BASE)
static uint8_t ov_val[OV_SIZE];
static bool ov_set[OV_SIZE];
struct ov_range {
	uint64_t a;
	size_t len;
};
/* at most 8 requests a push, each copying back at most GM_VQ_COPY_MAX bytes */
static struct ov_range ov_ranges[8 * GM_VQ_COPY_MAX];
static unsigned nov;

/*
 * The bytes push writes back for copied request @q with @written bytes:
 * range by range, piece by piece, up to the first piece that is not
 * writable guest memory (gm_write fails there, and push breaks the queue).
 * The bytes are recorded when @record (exact mode).  Returns whether the
 * write-back fails.
 */
MODEL_LOOP static bool expect_copy_back(const struct mreq *q, uint64_t written, bool record)
{
	const struct gm_vq_req *r = q->p;
	const struct gm_sg *sg = r->sg + r->nsg_out;
	size_t done = 0;

	for (unsigned i = 0; i < r->nsg_in && done < written; i++) {
		size_t l = (size_t)GM__FUZZ_MIN((uint64_t)sg[i].len, written - done);
		uint64_t a = sg[i].addr;

		for (size_t k = 0; k < l;) {
			const struct mregion *m = region_of(a + k);
			if (!m || m->ro)
				return true;
			size_t pl = GM__FUZZ_MIN(l - k, m->size - (size_t)(a + k - m->base));
			if (!record) {
				k += pl;
				continue;
			}
			for (size_t b = 0; b < pl; b++) {
				ov_val[a + k + b - OV_BASE] = pattern(q->id, done + k + b);
				ov_set[a + k + b - OV_BASE] = true;
			}
			FUZZ_CHECK(nov < sizeof(ov_ranges) / sizeof(ov_ranges[0]),
				   "copy-back pieces");
			ov_ranges[nov++] = (struct ov_range){a + k, pl};
			k += pl;
		}
		done += l;
	}
	return false;
}

/* Are the written-back bytes in memory, outside what push writes after? */
MODEL_LOOP static void check_copy_back(void)
{
	for (unsigned i = 0; i < nov; i++) {
		for (size_t b = 0; b < ov_ranges[i].len; b++) {
			uint64_t a = ov_ranges[i].a + b;
			bool later = Q.packed ? (a - Q.desc < Q.dlen || a - Q.dev < Q.devlen)
					      : a - Q.dev < Q.devlen;
			if (ov_set[a - OV_BASE] && !later)
				FUZZ_CHECK(g_byte(a) == ov_val[a - OV_BASE],
					   "copy-back byte at 0x%llx", (unsigned long long)a);
			ov_set[a - OV_BASE] = false;
		}
	}
	nov = 0;
}

/* Packed position counter modulo 2 * size (wrap counter 1: the first lap). */
static uint32_t lin(unsigned pos, bool wrap)
{
	return wrap ? pos : pos + Q.size;
}

/* The interrupt decision for used entries [old, now), from driver memory. */
static bool model_notify(uint16_t old_idx, unsigned old_pos, bool old_wrap)
{
	if (!Q.packed) {
		if (Q.event_idx) {
			uint16_t ev = g_le16(Q.drv + AVAIL_RING(Q.size));

			return (uint16_t)(Q.used_idx - ev - 1) < (uint16_t)(Q.used_idx - old_idx);
		}
		return !(g_le16(Q.drv) & GM_VRING_AVAIL_F_NO_INTERRUPT);
	}
	uint16_t flags = g_le16(Q.drv + 2);

	if (flags == GM_VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != GM_VRING_PACKED_EVENT_FLAG_DESC || !Q.event_idx)
		return true;
	uint16_t ev = g_le16(Q.drv);
	uint32_t span = 2 * Q.size, o = lin(old_pos, old_wrap), nw = lin(Q.used_pos, Q.used_wrap);
	uint32_t e = lin(ev & 0x7fff, ev >> 15) % span;

	return (e + span - o) % span < (nw + span - o) % span;
}

static uint32_t pick_written(struct fin *in, const struct gm_vq_req *r)
{
	switch (fin_below(in, 6)) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)GM__FUZZ_MIN(r->in_len, UINT32_MAX);
	case 2:
		return (uint32_t)(r->in_len + 1 + fin_u8(in));
	case 3:
		return UINT32_MAX;
	default:
		return r->in_len ? (uint32_t)(fin_u16(in) % r->in_len) : fin_u8(in);
	}
}

static void forget(unsigned i)
{
	Q.stale[Q.next_stale++ % (sizeof(Q.stale) / sizeof(Q.stale[0]))] = Q.out[i].p;
	if (Q.nstale < sizeof(Q.stale) / sizeof(Q.stale[0]))
		Q.nstale++;
	Q.out[i] = Q.out[--Q.nout];
}

/* Forget the record of request @p (published or released). */
static void forget_req(const struct gm_vq_req *p)
{
	for (unsigned i = 0; i < Q.nout; i++)
		if (Q.out[i].p == p) {
			forget(i);
			return;
		}
	FUZZ_CHECK(0, "no record of a request to forget");
}

/*
 * A request pointer that is not out: stale (pushed before), pushed and
 * waiting for its batch, or foreign.
 */
static struct gm_vq_req *not_out(struct fin *in)
{
	static struct gm_vq_req foreign;
	unsigned k = fin_below(in, 4);

	if (k < 2 && Q.nstale) {
		struct gm_vq_req *p = Q.stale[fin_below(in, Q.nstale)];
		for (unsigned i = 0; i < Q.nout; i++)
			if (Q.out[i].p == p && !Q.out[i].done) /* popped again since */
				return &foreign;
		return p;
	}
	if (k == 2 && Q.nout) /* inside a request, not at its start */
		return (struct gm_vq_req *)((char *)Q.out[0].p + 8);
	for (unsigned i = 0; k == 3 && i < Q.nout; i++)
		if (Q.out[i].done)
			return Q.out[i].p;
	return &foreign;
}

/* Check the used elements push wrote for @pub[0..n) (exact mode). */
static void check_used(struct mreq *const *pub, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct mreq *q = pub[i];
		uint32_t len = q->used_len;

		if (!Q.packed) {
			uint64_t e = Q.dev + USED_RING(Q.used_idx & (Q.size - 1));

			FUZZ_CHECK(g_le32(e) == q->id && g_le32(e + 4) == len,
				   "used element %u: {%u, %u}, want {%u, %u}", Q.used_idx,
				   g_le32(e), g_le32(e + 4), q->id, len);
			Q.used_idx++;
			continue;
		}
		uint64_t e = Q.desc + 16u * Q.used_pos;
		uint16_t f = (uint16_t)((Q.used_wrap ? P_AVAIL | P_USED : 0) |
					(q->any_write ? WR : 0));
		unsigned pos = Q.used_pos + q->ndesc;
		/* a later element of the batch may start at the same slot */
		bool again = false;
		unsigned p2 = pos % Q.size;

		for (unsigned j = i + 1; j < n; j++) {
			again |= p2 == Q.used_pos;
			p2 = (p2 + pub[j]->ndesc) % Q.size;
		}
		if (!again)
			FUZZ_CHECK(g_le32(e + 8) == len && g_le16(e + 12) == q->id &&
					   g_le16(e + 14) == f,
				   "used slot %u: len %u id %u flags 0x%x, want %u %u 0x%x",
				   Q.used_pos, g_le32(e + 8), g_le16(e + 12), g_le16(e + 14), len,
				   q->id, f);
		if (pos >= Q.size) {
			pos -= Q.size;
			Q.used_wrap = !Q.used_wrap;
		}
		Q.used_pos = (uint16_t)pos;
	}
	if (!Q.packed && n) /* nothing published: the used index is not written */
		FUZZ_CHECK(g_le16(Q.dev + USED_IDX) == Q.used_idx, "used idx %u, want %u",
			   g_le16(Q.dev + USED_IDX), Q.used_idx);
}

/* Requests of batch @b still out (not pushed). */
static unsigned batch_left(unsigned b)
{
	unsigned n = 0;

	for (unsigned i = 0; i < Q.nout; i++)
		n += Q.out[i].batch == b && !Q.out[i].done;
	return n;
}

/*
 * What a push of @n requests (out[idx[]], now done) publishes, in order:
 * every batch it completes, its requests in pop order; with persistent
 * buffers (or on a broken queue, which publishes nothing but releases)
 * each request whose batch goes on, alone.  Returns the count.
 */
static unsigned model_publish(const unsigned *idx, unsigned n, struct mreq **pub)
{
	bool mark[MAX_OUT] = {false};
	unsigned np = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct mreq *q = &Q.out[idx[i]];

		if (mark[idx[i]])
			continue;
		if (batch_left(q->batch)) {
			if (Q.defer && !Q.broken)
				continue;
			mark[idx[i]] = true;
			pub[np++] = &Q.out[idx[i]];
			continue;
		}
		for (unsigned seq = 0; seq < MODEL_BATCH; seq++)
			for (unsigned j = 0; j < Q.nout; j++)
				if (Q.out[j].batch == q->batch && Q.out[j].seq == seq && !mark[j]) {
					mark[j] = true;
					pub[np++] = &Q.out[j];
				}
	}
	return np;
}

static void op_push(struct fin *in, bool batch)
{
	struct gm_vq_req *reqs[9];
	uint32_t written[9];
	unsigned idx[8], outs[MAX_OUT], n = 1, nouts = 0, m0 = maps_now(), unmaps = 0;
	bool notify = true, *np;
	int w0 = warnings, ret;

	for (unsigned i = 0; i < Q.nout; i++)
		if (!Q.out[i].done)
			outs[nouts++] = i;
	if (!nouts || !fin_below(in, 8)) {
		/* not a request of ours that is out: refused, nothing done */
		reqs[0] = not_out(in);
		written[0] = fin_u8(in);
		ret = batch ? gm_vq_push_batch(Q.vq, reqs, written, 1, &notify)
			    : gm_vq_push(Q.vq, reqs[0], written[0], &notify);
		TRACE("push of a request not out: %d\n", ret);
		FUZZ_CHECK(ret == -EINVAL && !notify, "push of a request not out: %d", ret);
		FUZZ_CHECK(maps_now() == m0 && warnings == w0, "refused push did something");
		return;
	}
	/* n distinct requests out, in the input's order */
	if (batch)
		n = 1 + fin_below(in, GM__FUZZ_MIN(nouts, 8u));
	for (unsigned i = 0; i < n; i++) {
		unsigned k = fin_below(in, nouts);

		for (unsigned j = 0; j < i; j++)
			if (idx[j] == outs[k]) {
				k = (k + 1) % nouts; /* taken: try the next one */
				j = (unsigned)-1;
			}
		idx[i] = outs[k];
		reqs[i] = Q.out[idx[i]].p;
		written[i] = pick_written(in, reqs[i]);
		unmaps += Q.out[idx[i]].mapped;
	}
	if (batch && !fin_below(in, 8)) {
		/* one repeated or not out: the whole batch is refused */
		reqs[n] = fin_u8(in) & 1 ? reqs[fin_below(in, n)] : not_out(in);
		written[n] = 0;
		ret = gm_vq_push_batch(Q.vq, reqs, written, n + 1, &notify);
		TRACE("push batch of %u with a bad one: %d\n", n + 1, ret);
		FUZZ_CHECK(ret == -EINVAL && !notify, "bad batch: %d", ret);
		FUZZ_CHECK(maps_now() == m0 && warnings == w0, "refused batch did something");
		FUZZ_CHECK(gm_vq_inflight(Q.vq) == inflight(), "refused batch released requests");
	}
	uint16_t old_idx = Q.used_idx;
	unsigned old_pos = Q.used_pos;
	bool old_wrap = Q.used_wrap;

	/* a copied writable part that cannot be written back breaks the queue */
	bool was_broken = Q.broken, breaks = false;

	for (unsigned i = 0; i < n; i++) {
		const struct mreq *q = &Q.out[idx[i]];

		if (q->copied_in)
			breaks |= expect_copy_back(q, GM__FUZZ_MIN((uint64_t)written[i],
								   q->p->in_len), Q.exact);
	}
	Q.broken |= breaks;
	np = !batch || fin_u8(in) & 1 ? &notify : NULL;
	ret = batch ? gm_vq_push_batch(Q.vq, reqs, written, n, np)
		    : gm_vq_push(Q.vq, reqs[0], written[0], np);
	TRACE("push %u: %d notify %d (model breaks %d)\n", n, ret, notify, breaks);
	FUZZ_CHECK(ret == (Q.broken ? -EIO : 0), "push: %d (broken %d)", ret, Q.broken);
	FUZZ_CHECK(gm_vq_broken(Q.vq) == Q.broken, "broken %d after push, model %d",
		   gm_vq_broken(Q.vq), Q.broken);
	FUZZ_CHECK(maps_now() == m0 - unmaps, "push: %u mappings, %u - %u expected", maps_now(), m0,
		   unmaps);
	FUZZ_CHECK(warnings == w0 + (breaks && !was_broken), "push logged %d warnings",
		   warnings - w0);
	FUZZ_CHECK(!(Q.broken && np && notify), "push on a broken queue notifies");

	/* pushed: done; published (or released) with their batch */
	struct mreq *pub[MAX_OUT];
	const struct gm_vq_req *gone[MAX_OUT];
	unsigned npub;

	for (unsigned i = 0; i < n; i++) {
		struct mreq *q = &Q.out[idx[i]];

		q->done = true;
		q->used_len = (uint32_t)GM__FUZZ_MIN((uint64_t)written[i], q->p->in_len);
	}
	npub = model_publish(idx, n, pub);
	TRACE("  %u published\n", Q.broken ? 0 : npub);
	if (Q.exact) {
		check_copy_back();
		if (!Q.broken) {
			check_used(pub, npub);
			if (np)
				FUZZ_CHECK(notify == (npub && model_notify(old_idx, old_pos, old_wrap)),
					   "notify %d, model %d (%u published)", notify,
					   npub && model_notify(old_idx, old_pos, old_wrap), npub);
		}
	}
	if (!npub && np)
		FUZZ_CHECK(!notify, "push published nothing and notifies");
	for (unsigned i = 0; i < npub; i++)
		gone[i] = pub[i]->p;
	for (unsigned i = 0; i < npub; i++)
		forget_req(gone[i]);
	FUZZ_CHECK(gm_vq_inflight(Q.vq) == inflight(), "inflight %u, model %u", gm_vq_inflight(Q.vq),
		   inflight());
}

/* ---- notifications, pending, reset ---- */

/* What the device writes when it asks for (or stops) notifications. */
static void model_write_notify(bool enable)
{
	if (Q.packed) {
		uint16_t f = GM_VRING_PACKED_EVENT_FLAG_DISABLE;

		if (enable && Q.event_idx) {
			Q.event_sent = avail_event_value();
			f = GM_VRING_PACKED_EVENT_FLAG_DESC;
		} else if (enable) {
			f = GM_VRING_PACKED_EVENT_FLAG_ENABLE;
		}
		if (enable && Q.event_idx)
			FUZZ_CHECK(g_le16(Q.dev) == Q.event_sent,
				   "device event offset 0x%x, want 0x%x", g_le16(Q.dev),
				   Q.event_sent);
		FUZZ_CHECK(g_le16(Q.dev + 2) == f, "device event flags %u, want %u",
			   g_le16(Q.dev + 2), f);
		return;
	}
	if (Q.event_idx) {
		Q.event_sent = enable ? Q.last_avail : (uint16_t)(Q.last_avail - 1);
		FUZZ_CHECK(g_le16(avail_event_addr()) == Q.event_sent, "avail_event %u, want %u",
			   g_le16(avail_event_addr()), Q.event_sent);
		return;
	}
	FUZZ_CHECK(g_le16(Q.dev) == (enable ? 0 : GM_VRING_USED_F_NO_NOTIFY), "used flags %u",
		   g_le16(Q.dev));
}

static void op_notify(struct fin *in)
{
	bool enable = fin_u8(in) & 1;
	int w0 = warnings;
	int ret = gm_vq_set_notify(Q.vq, enable);

	TRACE("set_notify %d: %d\n", enable, ret);
	FUZZ_CHECK(warnings == w0, "set_notify logged");
	if (Q.broken) {
		FUZZ_CHECK(ret == -EIO, "set_notify on a broken queue: %d", ret);
		return;
	}
	FUZZ_CHECK(ret == 0 || (enable && ret == 1), "set_notify %d: %d", enable, ret);
	if (!Q.exact)
		return;
	Q.notify_on = enable;
	model_write_notify(enable);
	FUZZ_CHECK(ret == (enable && avail_count() != 0), "set_notify: %d, model pending %u", ret,
		   avail_count());
}

static void op_pending(void)
{
	int ret = gm_vq_pending(Q.vq);

	TRACE("pending: %d\n", ret);
	if (Q.broken)
		FUZZ_CHECK(ret == -EIO, "pending on a broken queue: %d", ret);
	else if (Q.exact)
		FUZZ_CHECK(ret == (avail_count() != 0), "pending: %d, model %u", ret,
			   avail_count());
	else
		FUZZ_CHECK(ret == 0 || ret == 1, "pending: %d", ret);
}

/* The device's state after gm_vq_new and gm_vq_reset. */
static void model_init(void)
{
	Q.broken = false;
	Q.notify_on = true;
	Q.last_avail = Q.used_idx = Q.event_sent = 0;
	Q.avail_pos = Q.used_pos = 0;
	Q.avail_wrap = Q.used_wrap = true;
	for (unsigned i = Q.nout; i--;)
		forget(i);
	if (Q.exact)
		model_write_notify(true);
}

static void op_reset(void)
{
	int w0 = warnings;
	int ret = gm_vq_reset(Q.vq);

	TRACE("reset: %d\n", ret);
	FUZZ_CHECK(ret == 0 && !gm_vq_broken(Q.vq) && !gm_vq_inflight(Q.vq), "reset: %d", ret);
	FUZZ_CHECK(maps_now() == Q.ring_maps, "reset: %u mappings, the rings hold %u", maps_now(),
		   Q.ring_maps);
	FUZZ_CHECK(warnings == w0, "reset logged");
	model_init();
}

/* ---- the driver ---- */

static uint64_t pick_buf_addr(struct fin *in)
{
	switch (fin_below(in, 16)) {
	case 8:
		return C_BASE - fin_u8(in) % 64; /* straddles A and C */
	case 9:
		return D_BASE - fin_u8(in) % 64; /* straddles C, D, E and beyond */
	case 10:
		return R_BASE + fin_u16(in) % R_SIZE; /* read-only */
	case 11:
		return A_BASE + fin_u16(in) % (DATA_AREA - A_BASE); /* rings and tables */
	case 12:
		return 0x30000 + fin_u16(in); /* nothing there */
	case 13:
		return UINT64_MAX - fin_u8(in); /* wraps */
	case 14:
		return ITAB_AREA + ITAB_STRIDE * fin_below(in, NITAB);
	case 15:
		return fin_u64(in);
	default:
		return DATA_AREA + fin_u16(in) % (DATA_END - DATA_AREA);
	}
}

static uint32_t pick_buf_len(struct fin *in)
{
	switch (fin_below(in, 8)) {
	case 0:
		return 0;
	case 4:
		return 1 + fin_u16(in) % 0x2000;
	case 5:
		return 16u * (1 + fin_below(in, 20)); /* an indirect table's */
	case 6:
		return UINT32_MAX - fin_u8(in);
	case 7:
		return fin_u32(in);
	default:
		return 1 + fin_u8(in);
	}
}

/* A descriptor index / next / buffer id: mostly in range. */
static uint16_t pick_index(struct fin *in)
{
	unsigned k = fin_u8(in);

	if (k < 0xf0)
		return (uint16_t)(k % (Q.size + 1));
	return fin_u16(in);
}

/* Flags: NEXT, WRITE, INDIRECT, now and then anything. */
static uint16_t pick_flags(struct fin *in)
{
	unsigned k = fin_u8(in);

	return (uint16_t)(k < 0xf8 ? k & 7 : fin_u16(in));
}

/* The wrap bits that make a packed descriptor available in lap @wrap. */
static uint16_t avail_bits(bool wrap)
{
	return wrap ? P_AVAIL : P_USED;
}

/* Write a 16-byte descriptor at @a in the queue's layout. */
static void put_desc(uint64_t a, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next_or_id)
{
	g_put64(a, addr);
	g_put32(a + 8, len);
	g_put16(a + 12, Q.packed ? next_or_id : flags);
	g_put16(a + 14, Q.packed ? flags : next_or_id);
}

/* A raw descriptor anywhere in the table / ring. */
static void op_desc(struct fin *in)
{
	unsigned i = fin_below(in, Q.size);
	uint64_t addr = pick_buf_addr(in);
	uint32_t len = pick_buf_len(in);
	uint16_t flags = pick_flags(in), x = pick_index(in);

	if (Q.packed && fin_u8(in) & 1)
		flags = (uint16_t)((flags & 7) | avail_bits(fin_u8(in) & 1 ? Q.d_wrap : !Q.d_wrap));
	TRACE("desc %u: 0x%llx+%u flags 0x%x next/id %u\n", i, (unsigned long long)addr, len,
	      flags, x);
	put_desc(Q.desc + 16u * i, addr, len, flags, x);
}

/* A raw entry of one of the indirect tables. */
static void op_itab(struct fin *in)
{
	unsigned t = fin_below(in, NITAB), j = fin_below(in, ITAB_STRIDE / 16);
	uint64_t addr = pick_buf_addr(in);
	uint32_t len = pick_buf_len(in);
	uint16_t flags = pick_flags(in), x = pick_index(in);

	TRACE("itab %u[%u]: 0x%llx+%u flags 0x%x next/id %u\n", t, j, (unsigned long long)addr,
	      len, flags, x);
	put_desc(ITAB_AREA + ITAB_STRIDE * t + 16u * j, addr, len, flags, x);
}

/* Split: publish avail idx @idx. */
static void set_avail_idx(uint16_t idx)
{
	Q.d_avail = idx;
	g_put16(Q.drv + AVAIL_IDX, idx);
}

/* Make available: a head (split) / the next slots (packed). */
static void op_publish(struct fin *in)
{
	if (!Q.packed) {
		uint16_t head = pick_index(in);

		TRACE("publish head %u at %u\n", head, Q.d_avail);
		g_put16(Q.drv + AVAIL_RING(Q.d_avail & (Q.size - 1)), head);
		set_avail_idx((uint16_t)(Q.d_avail + 1));
		return;
	}
	unsigned k = 1 + fin_below(in, 3);

	for (unsigned i = k; i--;) { /* the head last, as a driver does */
		unsigned pos = (Q.d_pos + i) % Q.size;
		bool wrap = (Q.d_pos + i >= Q.size) != Q.d_wrap;
		uint64_t a = Q.desc + 16u * pos + 14;

		g_put16(a, (uint16_t)((g_le16(a) & ~(P_AVAIL | P_USED)) | avail_bits(wrap)));
	}
	TRACE("publish %u slots at %u (wrap %d)\n", k, Q.d_pos, Q.d_wrap);
	if (Q.d_pos + k >= Q.size)
		Q.d_wrap = !Q.d_wrap;
	Q.d_pos = (uint16_t)((Q.d_pos + k) % Q.size);
}

/* Move the driver's position anywhere: avail idx jumps, wrap flips. */
static void op_jump(struct fin *in)
{
	if (!Q.packed) {
		unsigned k = fin_u8(in);
		uint16_t idx = k < 0xc0 ? (uint16_t)(Q.last_avail + k % (2 * Q.size + 2))
					: fin_u16(in);

		TRACE("avail idx %u (last_avail %u)\n", idx, Q.last_avail);
		set_avail_idx(idx);
		return;
	}
	if (fin_u8(in) & 1)
		Q.d_wrap = !Q.d_wrap;
	else
		Q.d_pos = (uint16_t)fin_below(in, Q.size);
	TRACE("driver position %u wrap %d\n", Q.d_pos, Q.d_wrap);
}

/*
 * A chain as a driver builds it (mostly well formed: the fuzzer breaks it
 * where it likes), direct or in an indirect table, published at once.
 */
static void op_chain(struct fin *in)
{
	unsigned k = 1 + fin_below(in, 6), nr = fin_below(in, k + 1);
	bool ind = fin_u8(in) & 1;
	uint16_t id = pick_index(in);
	uint64_t addr[6];
	uint32_t len[6];

	for (unsigned i = 0; i < k; i++) {
		addr[i] = fin_below(in, 4) ? DATA_AREA + fin_u16(in) % (DATA_END - DATA_AREA)
					   : pick_buf_addr(in);
		len[i] = fin_below(in, 4) ? 1 + fin_u8(in) % 64 : pick_buf_len(in);
	}
	TRACE("chain of %u (%u readable)%s id %u\n", k, nr, ind ? " indirect" : "", id);
	if (ind) {
		uint64_t t = ITAB_AREA + ITAB_STRIDE * fin_below(in, NITAB);

		for (unsigned i = 0; i < k; i++)
			put_desc(t + 16u * i, addr[i], len[i],
				 (uint16_t)((i >= nr ? WR : 0) | (!Q.packed && i + 1 < k ? NX : 0)),
				 Q.packed ? 0 : (uint16_t)(i + 1));
		addr[0] = t;
		len[0] = 16u * k;
		k = 1;
	}
	if (!Q.packed) {
		unsigned s = fin_below(in, Q.size);

		for (unsigned i = 0; i < k; i++)
			put_desc(Q.desc + 16u * ((s + i) % Q.size), addr[i], len[i],
				 (uint16_t)(ind ? IN : (i >= nr ? WR : 0) | (i + 1 < k ? NX : 0)),
				 (uint16_t)((s + i + 1) % Q.size));
		g_put16(Q.drv + AVAIL_RING(Q.d_avail & (Q.size - 1)), (uint16_t)s);
		set_avail_idx((uint16_t)(Q.d_avail + 1));
		return;
	}
	uint16_t head = 0;

	for (unsigned i = 0; i < k; i++) {
		unsigned pos = (Q.d_pos + i) % Q.size;
		bool wrap = (Q.d_pos + i >= Q.size) != Q.d_wrap;
		uint16_t f = (uint16_t)((ind ? IN : (i >= nr ? WR : 0) | (i + 1 < k ? NX : 0)) |
					avail_bits(wrap));

		put_desc(Q.desc + 16u * pos, addr[i], len[i], i ? f : 0, id);
		if (!i)
			head = f;
	}
	g_put16(Q.desc + 16u * Q.d_pos + 14, head); /* the head last */
	if (Q.d_pos + k >= Q.size)
		Q.d_wrap = !Q.d_wrap;
	Q.d_pos = (uint16_t)((Q.d_pos + k) % Q.size);
}

/* The driver's event suppression: avail flags, used_event, packed event. */
static void op_driver_event(struct fin *in)
{
	unsigned k = fin_below(in, 4);
	uint16_t v = fin_u16(in);

	if (!Q.packed) {
		if (k == 0)
			g_put16(Q.drv, v & 1 ? GM_VRING_AVAIL_F_NO_INTERRUPT : 0);
		else if (k == 1 && Q.event_idx)
			g_put16(Q.drv + AVAIL_RING(Q.size), (uint16_t)(Q.used_idx + (int8_t)v));
		else if (Q.event_idx)
			g_put16(Q.drv + AVAIL_RING(Q.size), v);
		else
			g_put16(Q.drv, v);
		return;
	}
	if (k == 0)
		g_put16(Q.drv + 2, v % 4); /* ENABLE, DISABLE, DESC, reserved */
	else if (k == 1)
		g_put16(Q.drv, (uint16_t)((Q.used_pos + v % 3) % Q.size | (v & 0x8000)));
	else if (k == 2)
		g_put16(Q.drv, v);
	else
		g_put16(Q.drv + 2, v);
}

/* Any bytes anywhere in the rings and tables. */
static void op_scribble(struct fin *in)
{
	uint64_t a = A_BASE + fin_u16(in) % (DATA_AREA - A_BASE);
	unsigned n = 1 + fin_below(in, 8);
	uint8_t b[8];

	if (fin_u8(in) & 1) { /* somewhere in a ring, wherever it is */
		uint64_t base[3] = {Q.desc, Q.drv, Q.dev};
		size_t len[3] = {Q.dlen, Q.drvlen, Q.devlen};
		unsigned r = fin_below(in, 3);

		a = base[r] + fin_u16(in) % len[r];
	}
	for (unsigned i = 0; i < n; i++)
		b[i] = fin_u8(in);
	TRACE("scribble %u bytes at 0x%llx\n", n, (unsigned long long)a);
	g_write(a, b, n);
}

/* ---- one input ---- */

/* A ring address: mostly the usual place, sometimes a hostile one. */
static uint64_t pick_ring_addr(struct fin *in, uint64_t usual, unsigned align)
{
	switch (fin_below(in, 12)) {
	case 8: /* straddles A and C, or C and D (a ring of two pieces) */
		if (fin_u8(in) & 1)
			return D_BASE - 8 - align * fin_below(in, 8);
		return C_BASE - align * (1 + fin_below(in, 8));
	case 9: /* read-only memory */
		return R_BASE + 0x400u * fin_below(in, 8);
	case 10: /* partly or wholly unbacked */
		return fin_u8(in) & 1 ? 0x30000 : DATA_END - align;
	case 11: /* anywhere: misaligned, wrapping, overlapping */
		switch (fin_below(in, 3)) {
		case 0:
			return usual + fin_below(in, 16);
		case 1:
			return UINT64_MAX - fin_u8(in);
		default:
			return A_BASE + fin_u16(in) % (DATA_AREA - A_BASE);
		}
	default:
		return usual;
	}
}

/* gm_ring_new of [a, a + len): mappings it makes, or the errno. */
MODEL_LOOP static int ring_maps(uint64_t a, size_t len, bool w)
{
	int n = 0;

	while (len) {
		const struct mregion *m = region_of(a);
		if (!m)
			return -EFAULT;
		if (w && m->ro)
			return -EACCES;
		size_t l = GM__FUZZ_MIN(len, m->size - (size_t)(a - m->base));
		n++;
		a += l;
		len -= l;
	}
	return n;
}

/* Do [a, a + la) and [b, b + lb) overlap? */
static bool overlap(uint64_t a, size_t la, uint64_t b, size_t lb)
{
	return a < b + lb && b < a + la;
}

/* What gm_vq_new will say about @c: 0 or the errno. */
static int model_new(const struct gm_vq_config *c)
{
	bool packed = c->features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	unsigned s = c->size;
	int r, n = 0;

	if (!s || s > GM_VQ_MAX_SIZE || (!packed && (s & (s - 1))) || c->max_chain > MAX_CHAIN ||
	    c->max_batch > GM_VQ_MAX_BATCH ||
	    (c->buf_flags & ~(GM_MAP_TRANSIENT | GM_MAP_PERSISTENT)) ||
	    c->buf_flags == (GM_MAP_TRANSIENT | GM_MAP_PERSISTENT) || c->desc_addr % 16 ||
	    c->driver_addr % (packed ? 4 : 2) || c->device_addr % 4)
		return -EINVAL;
	if (Q.desc + (Q.dlen - 1) < Q.desc || Q.drv + (Q.drvlen - 1) < Q.drv ||
	    Q.dev + (Q.devlen - 1) < Q.dev)
		return -EINVAL;
	if ((r = ring_maps(Q.desc, Q.dlen, packed)) < 0)
		return r;
	n += r;
	if ((r = ring_maps(Q.drv, Q.drvlen, false)) < 0)
		return r;
	n += r;
	if ((r = ring_maps(Q.dev, Q.devlen, true)) < 0)
		return r;
	Q.ring_maps = (unsigned)(n + r);
	return 0;
}

/* Decode the queue configuration and create the queue; false if refused. */
static bool setup(struct fin *in)
{
	static const int buf_flags[] = {0, GM_MAP_TRANSIENT, GM_MAP_PERSISTENT, 0,
					GM_MAP_TRANSIENT | GM_MAP_PERSISTENT, 0x100};
	struct gm_vq_config c = {0};
	uint8_t f = fin_u8(in);
	int w0 = warnings;

	memset(&Q, 0, sizeof(Q));
	Q.packed = f & 1;
	Q.event_idx = f & 2;
	Q.indirect = f & 4;
	c.features = GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1) |
		     (Q.packed ? GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED) : 0) |
		     (Q.event_idx ? GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX) : 0) |
		     (Q.indirect ? GM_VIRTIO_BIT(GM_VIRTIO_F_INDIRECT_DESC) : 0);
	if (f & 8)
		c.features |= fin_u64(in) & ~GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED) &
			      ~GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX) &
			      ~GM_VIRTIO_BIT(GM_VIRTIO_F_INDIRECT_DESC); /* ignored */
	if (Q.packed) {
		c.size = 1 + fin_below(in, MAX_SIZE);
	} else {
		unsigned k = fin_u8(in);

		/* a power of 2, now and then any size up to 64 */
		c.size = k < 0xf0 ? 1u << (k % 7) : k % (MAX_SIZE + 1);
	}
	if (f == 0xff) /* out of range */
		c.size = fin_u8(in) & 1 ? 0 : GM_VQ_MAX_SIZE + 1 + fin_u8(in);
	switch (fin_below(in, 8)) {
	case 0:
	case 1:
		break; /* the default: min(size, GM_VQ_MAX_CHAIN) */
	case 6:
		c.max_chain = fin_u8(in) & 1 ? 64 : c.size;
		break;
	case 7:
		c.max_chain = MAX_CHAIN + (fin_u8(in) & 1); /* the largest, and one more */
		break;
	default:
		c.max_chain = 1 + fin_below(in, 16);
	}
	if (fin_below(in, 3))
		c.max_inflight = 1 + fin_below(in, MAX_SIZE + 1);
	c.buf_flags = buf_flags[fin_below(in, 6)];
	c.index = 7;
	/* limits: the defaults, small ones, none */
	switch (fin_below(in, 4)) {
	case 0:
		c.max_request_bytes = 1 + fin_u16(in) % 0x3000;
		break;
	case 1:
		c.max_request_bytes = UINT64_MAX;
		break;
	}
	if (fin_below(in, 3) == 0)
		c.max_request_segments = 1 + fin_below(in, 8);
	if (fin_below(in, 3) == 0)
		c.max_map_pages = 1 + fin_below(in, 6);
	{
		static const unsigned batches[] = {0, 1, 2, 3, 8, 32, GM_VQ_MAX_BATCH + 1, 0};

		c.max_batch = batches[fin_below(in, 8)];
	}
	Q.size = c.size;
	Q.max_chain = c.max_chain ? c.max_chain : GM__FUZZ_MIN(c.size, MAX_CHAIN);
	Q.iov_cap = 2 * Q.max_chain;
	Q.nreq = c.max_inflight ? GM__FUZZ_MIN(c.max_inflight, c.size) : c.size;
	Q.max_batch = GM__FUZZ_MIN(c.max_batch ? c.max_batch : GM_VQ_DEFAULT_BATCH, Q.nreq);
	Q.max_bytes = c.max_request_bytes ? c.max_request_bytes : GM_VQ_DEFAULT_MAX_REQUEST_BYTES;
	Q.max_segs = c.max_request_segments ? c.max_request_segments
					    : GM_VQ_DEFAULT_MAX_REQUEST_SEGMENTS;
	Q.max_pages = c.max_map_pages;
	Q.defer = !(c.buf_flags & GM_MAP_PERSISTENT);
	Q.desc = c.desc_addr = pick_ring_addr(in, DESC_AREA, 16);
	Q.drv = c.driver_addr = pick_ring_addr(in, DRV_AREA, Q.packed ? 4 : 2);
	Q.dev = c.device_addr = pick_ring_addr(in, DEV_AREA, 4);
	Q.dlen = 16u * (size_t)c.size;
	if (Q.packed) {
		Q.drvlen = Q.devlen = 4;
	} else {
		Q.drvlen = 4 + 2 * (size_t)c.size + (Q.event_idx ? 2 : 0);
		Q.devlen = 4 + 8 * (size_t)c.size + (Q.event_idx ? 2 : 0);
	}
	/* overlapping rings: no predictions (the device's own writes would
	 * change what it reads next) */
	Q.exact = !overlap(Q.desc, Q.dlen, Q.drv, Q.drvlen) &&
		  !overlap(Q.desc, Q.dlen, Q.dev, Q.devlen) &&
		  !overlap(Q.drv, Q.drvlen, Q.dev, Q.devlen);
	Q.d_wrap = true;

	int want = model_new(&c);
	int ret = gm_vq_new(mem, &c, &Q.vq);
	TRACE("new: %s size %u event_idx %d indirect %d max_chain %u nreq %u flags 0x%x "
	      "rings 0x%llx 0x%llx 0x%llx: %d (model %d)\n",
	      Q.packed ? "packed" : "split", c.size, Q.event_idx, Q.indirect, Q.max_chain, Q.nreq,
	      c.buf_flags, (unsigned long long)Q.desc, (unsigned long long)Q.drv,
	      (unsigned long long)Q.dev, ret, want);
	FUZZ_CHECK(ret == want, "gm_vq_new: %d (%s), model %d (%s)", ret, gm_strerror(ret), want,
		   gm_strerror(want));
	if (ret) {
		FUZZ_CHECK(!Q.vq && maps_now() == 0, "failed gm_vq_new left %u mappings",
			   maps_now());
		FUZZ_CHECK(warnings == w0 + 1, "failed gm_vq_new logged %d warnings",
			   warnings - w0);
		return false;
	}
	FUZZ_CHECK(maps_now() == Q.ring_maps, "the rings hold %u mappings, model %u", maps_now(),
		   Q.ring_maps);
	FUZZ_CHECK(warnings == w0, "gm_vq_new logged");
	FUZZ_CHECK(gm_vq_size(Q.vq) == c.size && gm_vq_is_packed(Q.vq) == Q.packed &&
			   !gm_vq_broken(Q.vq) && !gm_vq_inflight(Q.vq),
		   "new queue state");
	gm_vq_stats(Q.vq, &Q.st);
	FUZZ_CHECK(!Q.st.requests && !Q.st.batches && !Q.st.map_calls && !Q.st.refused &&
			   !Q.st.fallbacks,
		   "a new queue's counters are not zero");
	model_init();
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	trace = getenv("FUZZ_TRACE") != NULL;
	gm_set_log(count_log, NULL, trace ? GM_LOG_DEBUG : GM_LOG_WARNING);
	for (unsigned k = 0; k < R_SIZE; k++)
		ram_r_init[k] = (uint8_t)(k * 29 + 3);
	memcpy(ram_r, ram_r_init, R_SIZE);
	if (gm_space_new(&space)) {
		fprintf(stderr, "fuzz-virtq: no space\n");
		abort();
	}
	for (unsigned i = 0; i < NREGION; i++)
		if (gm_ram_region_new(regs[i].host, regs[i].size,
				      regs[i].ro ? GM_PROT_READ : GM_PROT_RW, &regs[i].r) ||
		    gm_space_add(space, regs[i].base, regs[i].r)) {
			fprintf(stderr, "fuzz-virtq: no RAM\n");
			abort();
		}
	mem = gm_space_mem(space);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = {data, size};

	/* a fresh guest: rings, tables and data zeroed */
	memset(ram_a, 0, sizeof(ram_a));
	memset(ram_c, 0, sizeof(ram_c));
	memset(ram_d, 0, sizeof(ram_d));
	memset(ram_e, 0, sizeof(ram_e));
	warnings = 0;
	if (!setup(&in))
		return 0;
	for (unsigned steps = 0; in.n && steps < STEPS; steps++) {
		switch (fin_below(&in, 16)) {
		case 0: op_desc(&in); break;
		case 1: op_itab(&in); break;
		case 2: op_publish(&in); break;
		case 3: op_jump(&in); break;
		case 4:
		case 5: op_chain(&in); break;
		case 6:
		case 7: op_pop(false, 1); break;
		case 8: op_pop(true, 1 + fin_below(&in, MODEL_BATCH + 4)); break;
		case 9: op_push(&in, false); break;
		case 10: op_push(&in, true); break;
		case 11: op_notify(&in); break;
		case 12: op_pending(); break;
		case 13: op_driver_event(&in); break;
		case 14: op_scribble(&in); break;
		default:
			if (fin_below(&in, 4))
				op_pop(fin_u8(&in) & 1, 1 + fin_below(&in, MODEL_BATCH + 4));
			else
				op_reset();
			break;
		}
	}
	/* what is still out is released with the queue */
	int w0 = warnings;
	gm_vq_free(Q.vq);
	Q.vq = NULL;
	FUZZ_CHECK(maps_now() == 0, "%u mappings left after gm_vq_free", maps_now());
	FUZZ_CHECK(warnings == w0, "gm_vq_free logged");
	FUZZ_CHECK(!memcmp(ram_r, ram_r_init, R_SIZE), "read-only memory was written");
	return 0;
}
