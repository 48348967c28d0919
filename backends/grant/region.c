/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grant regions (see grant.h for the contract): the gm_region_ops callbacks
 * over the mapping cache.  map and map_sg translate region offsets (gref <<
 * 12 | page offset) through the cache's hit path or map what misses; read
 * and write copy to and from mapped pages, and reach unmapped ones with
 * grant copy or a transient map.  When Xen refuses a write it answers
 * EINVAL whatever the reason, so a read-only probe tells a read-only grant
 * (-EACCES) from a bad ref (-EINVAL).  Failures are logged here, once.
 *
 * This file calls the cache through grant-internal.h; the cache never calls
 * back.
 */
#include "config.h"

#include "grant-internal.h"
#include "mem/mem-internal.h"
#include "xen/xen-internal.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#define PAGE GM_PAGE_SIZE
#define MAX_MAP_SHORT 1024u  /* gm_map may shorten: never map more per call */
#define COPY_BATCH 32
#define SG_COPY_BATCH 128 /* gm_read_sg/gm_write_sg: segments a copy call */
#define HIT_COPY_MAX (64u << 10) /* bytes copied in one read-side section */

struct gregion {
	gm_grant_cache *c;
	struct gm__gdom *dom;
	bool persistent;
	struct gm__gshare share; /* its say in the domain's share */
};

static bool want_persistent(const struct gregion *gr, int flags)
{
	if (flags & GM_MAP_PERSISTENT)
		return true;
	if (flags & GM_MAP_TRANSIENT)
		return false;
	return gr->persistent;
}

static int prot_of(int flags)
{
	return flags & GM_PROT_WRITE ? GM_PROT_RW : GM_PROT_READ;
}

/* Pages [off, off + len) touches (len > 0).  Not capped: a guest-sized
 * length may span more pages than any mapping holds, and every caller
 * decides what to do about that (shorten, or refuse). */
static uint64_t pages_spanned(uint64_t off, size_t len)
{
	uint64_t first = off >> GM_PAGE_SHIFT;
	uint64_t last = (off + len - 1) >> GM_PAGE_SHIFT;

	return last - first + 1;
}

/*
 * Map @refs through the cache for a translation in @gr.  A write Xen
 * refuses is probed read-only, to tell a read-only grant (-EACCES) from a
 * bad ref (-EINVAL).  A failure logs one line: info when the guest caused
 * it, warning when Xen or the host did.  Returns the entry, pinned once, or
 * NULL with *err (GM__GCACHE_RETRY: look again; not a failure).
 */
static struct gm__gentry *map_refs(struct gregion *gr, const gm_gref *refs, uint32_t n, int prot,
				   bool persistent, bool may_wait, int *err, uint32_t *room)
{
	gm_grant_cache *c = gr->c;
	struct gm__gentry *e =
		gm__gcache_map(c, gr->dom, refs, n, prot, persistent, may_wait, err, room);

	if (e || *err == GM__GCACHE_RETRY)
		return e;
	if ((*err == -ENOSPC || *err == -EMSGSIZE) && room && *room && *room < n)
		return NULL; /* the caller shortens: not a failure yet */
	if (*err == -EINVAL && (prot & GM_PROT_WRITE) &&
	    !gm__gcache_probe(c, gr->dom, refs, n, GM_PROT_READ))
		*err = -EACCES;
	if (*err == -ENOSPC) {
		uint32_t used, max;
		gm__gcache_budget(c, &used, &max);
		gm__info_rl("no room to map %u grant page(s) of domain %u: %u of %u pages in use",
			    n, gr->dom->domid, used, max);
	} else if (*err == -EMSGSIZE) {
		gm__info_rl("cannot map %u grant page(s) of domain %u at once: more than its "
			    "share of the budget can ever hold", n, gr->dom->domid);
	} else {
		GM__LOG_RL(gm__xen_fail_level(*err),
			   "mapping %u grant page(s) of domain %u from ref %u %s failed: %s", n,
			   gr->dom->domid, refs[0],
			   prot & GM_PROT_WRITE ? "read-write" : "read-only", gm_strerror(*err));
	}
	return NULL;
}

static void *gr_map(gm_region *r, uint64_t off, size_t *len, int flags, int *err)
{
	struct gregion *gr = gm_region_opaque(r);
	gm_grant_cache *c = gr->c;
	gm_gref ref = GM_GRANT_REF(off);
	size_t pgoff = GM_GRANT_OFFSET(off);
	bool whole = flags & GM_MAP_WHOLE;
	/* A guest-sized length must not turn into a huge mapping, nor one
	 * bigger than the frontend's share has room for: map shortens (the
	 * miss path says how much room there is).  Whole, it is one map
	 * call's worth at most, and never shortened. */
	uint64_t spanned = pages_spanned(off, *len);
	if (whole && spanned > GM__GCACHE_MAX_MAP_PAGES) {
		*err = -ERANGE;
		return NULL;
	}
	uint32_t want = whole ? (uint32_t)spanned : (uint32_t)GM__MIN(spanned, MAX_MAP_SHORT);
	int prot = prot_of(flags);

	for (int attempt = 0;; attempt++) {
		uint32_t idx;
		/* Whole: only an entry that holds every page serves it. */
		struct gm__gentry *e =
			gm__gcache_lookup_pin(c, gr->dom, ref, prot, whole ? want : 1, &idx);
		if (e) {
			size_t avail = (size_t)gm__gcache_run_len(e, idx, ref, want) * PAGE - pgoff;
			if (*len > avail)
				*len = avail;
			return (char *)e->va + (size_t)idx * PAGE + pgoff;
		}
		/* A run of consecutive refs; never past the last gref. */
		if ((uint64_t)ref + want - 1 > UINT32_MAX)
			want = (uint32_t)(UINT32_MAX - ref + 1);
		gm_gref stack_refs[64];
		gm_gref *refs = want <= 64 ? stack_refs : gm__malloc(want * sizeof(*refs));
		if (!refs) {
			*err = -ENOMEM;
			return NULL;
		}
		for (uint32_t i = 0; i < want; i++)
			refs[i] = ref + i;
		uint32_t room = 0;
		e = map_refs(gr, refs, want, prot, want_persistent(gr, flags), attempt < 3, err,
			     &room);
		if (refs != stack_refs)
			free(refs);
		if (e) {
			size_t avail = (size_t)want * PAGE - pgoff;
			if (*len > avail)
				*len = avail;
			return (char *)e->va + pgoff;
		}
		if ((*err == -ENOSPC || *err == -EMSGSIZE) && room && room < want && attempt < 8 &&
		    !whole) {
			want = room; /* what the share has room for now: shorter */
			continue;
		}
		if (*err != GM__GCACHE_RETRY)
			return NULL;
	}
}

/* The entry a pointer from gr_map/gr_map_sg came from. */
static struct gm__gentry *entry_of(gm_grant_cache *c, struct gm__gdom *d, gm_gref ref,
				   const void *ptr)
{
	struct gm__epoch_token t;
	struct gm__gentry *e;

	gm__epoch_enter(&c->ep, &t);
	struct gm__gslot *s = gm__gcache_slot(d, ref);
	e = s ? atomic_load_explicit(&s->e, memory_order_acquire) : NULL;
	if (e && ((const char *)ptr < (char *)e->va ||
		  (const char *)ptr >= (char *)e->va + (size_t)e->npages * PAGE))
		e = NULL;
	gm__epoch_exit(&c->ep, &t);
	if (e)
		return e; /* our own pin keeps it alive */
	/* Superseded or invalidated since: search the list. */
	return gm__gcache_entry_at(c, ptr);
}

static void gr_unmap(gm_region *r, void *ptr, uint64_t off, size_t len, int flags,
		     size_t access_len)
{
	struct gregion *gr = gm_region_opaque(r);
	struct gm__gentry *e = entry_of(gr->c, gr->dom, GM_GRANT_REF(off), ptr);

	(void)len, (void)flags, (void)access_len;
	if (!e) {
		gm__warn_rl("grant unmap: %p is not a mapping of domain %u", ptr, gr->dom->domid);
		return;
	}
	gm__gcache_unpin(gr->c, e);
}

/*
 * Are the @want pages from @ref (range @i) inside a range before it that
 * lists its own pages?  If so, first[i] is set to where they are in it.
 */
static bool listed_in(const struct gm_sg *in, struct gm__gentry *const *hit, const bool *own,
		      uint32_t *first, unsigned i, gm_gref ref, uint32_t want)
{
	for (unsigned j = 0; j < i; j++) {
		if (hit[j] || !own[j])
			continue;
		gm_gref rj = GM_GRANT_REF(in[j].addr);
		uint64_t end_j = (uint64_t)rj + pages_spanned(in[j].addr, in[j].len);
		if (ref >= rj && (uint64_t)ref + want <= end_j) {
			first[i] = first[j] + (ref - rj);
			return true;
		}
	}
	return false;
}

/*
 * All ranges of a request: ranges mapped whole are pinned as they are;
 * every page of the others goes into one list mapped with one call, each
 * page once: a range inside one listed before (a header and a status byte
 * on one page, a chain along one page again and again) shares its pages.
 * Xen counts a grant's mappings in a byte and refuses the 129th (a PV
 * backend's gntdev takes two per page), so a chain that names one page
 * seg_max times must not map it seg_max times.
 */
static int gr_map_sg(gm_region *r, const struct gm_sg *in, unsigned n, struct iovec *out,
		     int flags)
{
	struct gregion *gr = gm_region_opaque(r);
	gm_grant_cache *c = gr->c;
	int prot = prot_of(flags);
	struct gm__gentry *stack_hit[32];
	uint32_t stack_first[32];
	struct gm__gentry **hit = n <= 32 ? stack_hit : gm__calloc(n, sizeof(*hit));
	uint32_t *first = n <= 32 ? stack_first : gm__calloc(n, sizeof(*first));
	/* own[i]: range i's pages are listed at first[i] (else an earlier range's) */
	bool stack_own[32], *own = n <= 32 ? stack_own : gm__calloc(n, sizeof(*own));
	gm_gref *refs = NULL;
	int ret = 0;

	if (!hit || !first || !own) {
		ret = -ENOMEM;
		goto out;
	}
	/* A range longer than one map call can hold cannot be mapped whole:
	 * the library maps it piece by piece instead, each piece as long as
	 * its mapping (an iovec never covers more than the memory behind it). */
	for (unsigned i = 0; i < n; i++) {
		if (pages_spanned(in[i].addr, in[i].len) > GM__GCACHE_MAX_MAP_PAGES) {
			ret = -EAGAIN;
			goto out;
		}
	}
	for (int attempt = 0;; attempt++) {
		uint64_t total = 0;
		for (unsigned i = 0; i < n; i++) {
			gm_gref ref = GM_GRANT_REF(in[i].addr);
			uint32_t want = (uint32_t)pages_spanned(in[i].addr, in[i].len);
			uint32_t idx;
			/* Only an entry that holds the whole range serves it (and
			 * counts as a hit); any other is mapped whole below. */
			hit[i] = gm__gcache_lookup_pin(c, gr->dom, ref, prot, want, &idx);
			if (hit[i]) {
				out[i].iov_base = (char *)hit[i]->va + (size_t)idx * PAGE +
						  GM_GRANT_OFFSET(in[i].addr);
				out[i].iov_len = in[i].len;
				continue;
			}
			own[i] = !listed_in(in, hit, own, first, i, ref, want);
			if (own[i]) {
				first[i] = (uint32_t)total;
				total += want;
			}
		}
		if (!total)
			goto out;
		if (total > GM__GCACHE_MAX_MAP_PAGES) {
			ret = -EMSGSIZE; /* more than one map call can ever hold */
			goto undo;
		}
		refs = gm__malloc(total * sizeof(*refs));
		if (!refs) {
			ret = -ENOMEM;
			goto undo;
		}
		for (unsigned i = 0; i < n; i++) {
			if (hit[i] || !own[i])
				continue;
			gm_gref ref = GM_GRANT_REF(in[i].addr);
			uint32_t want = (uint32_t)pages_spanned(in[i].addr, in[i].len);
			for (uint32_t k = 0; k < want; k++)
				refs[first[i] + k] = ref + k;
		}
		int err;
		struct gm__gentry *e = map_refs(gr, refs, (uint32_t)total, prot,
						want_persistent(gr, flags), attempt < 3, &err,
						NULL);
		free(refs);
		refs = NULL;
		if (!e && err == GM__GCACHE_RETRY) {
			for (unsigned i = 0; i < n; i++)
				if (hit[i])
					gm__gcache_unpin(c, hit[i]);
			continue;
		}
		if (!e) {
			ret = err;
			goto undo;
		}
		/* One pin per range handed out; drop the creation pin last. */
		for (unsigned i = 0; i < n; i++) {
			if (hit[i])
				continue;
			gm__gcache_pin_more(e, 1);
			out[i].iov_base = (char *)e->va + (size_t)first[i] * PAGE +
					  GM_GRANT_OFFSET(in[i].addr);
			out[i].iov_len = in[i].len;
		}
		gm__gcache_unpin(c, e);
		goto out;
	}
undo:
	for (unsigned i = 0; i < n; i++)
		if (hit[i])
			gm__gcache_unpin(c, hit[i]);
out:
	if (hit != stack_hit)
		free(hit);
	if (first != stack_first)
		free(first);
	if (own != stack_own)
		free(own);
	return ret;
}

/* ---- reads and writes of unmapped grant memory ---- */

/* Xen's copy statuses, in the cache's errno terms (see grant.h). */
static int copy_status_errno(int st)
{
	switch (st) {
	case GM_GNTST_OKAY:
		return 0;
	case GM_GNTST_GENERAL_ERROR:
	case GM_GNTST_BAD_GNTREF:
	case GM_GNTST_BAD_DOMAIN:
		return -EINVAL;
	default:
		return gm_gntst_errno(st);
	}
}

/* One copy call, counted (copy_calls, copy_segs). */
static int copy_call(gm_grant_cache *c, unsigned n, struct gm_copy_seg *seg)
{
	GM__GCACHE_STAT(c, copy_calls, 1);
	GM__GCACHE_STAT(c, copy_segs, n);
	return gm_gnttab_copy(c->g, n, seg);
}

/* Does the guest let us read @ref?  (Tells read-only grants from bad refs.) */
static bool ref_readable(gm_grant_cache *c, struct gm__gdom *d, gm_gref ref)
{
	unsigned char b;
	struct gm_copy_seg seg = {.len = 1, .flags = GM_COPY_SOURCE_GREF};

	seg.source.foreign.ref = ref;
	seg.source.foreign.domid = d->domid;
	seg.dest.virt = &b;
	return copy_call(c, 1, &seg) == 0 && seg.status == GM_GNTST_OKAY;
}

/* Segment @s: @l bytes (inside one page) between guest @o and host @buf. */
static void seg_set(struct gm_copy_seg *s, const struct gm__gdom *d, uint64_t o,
		    unsigned char *buf, size_t l, bool write)
{
	memset(s, 0, sizeof(*s));
	s->len = (uint16_t)l;
	if (write) {
		s->flags = GM_COPY_DEST_GREF;
		s->source.virt = buf;
		s->dest.foreign.ref = GM_GRANT_REF(o);
		s->dest.foreign.offset = (uint16_t)GM_GRANT_OFFSET(o);
		s->dest.foreign.domid = d->domid;
	} else {
		s->flags = GM_COPY_SOURCE_GREF;
		s->dest.virt = buf;
		s->source.foreign.ref = GM_GRANT_REF(o);
		s->source.foreign.offset = (uint16_t)GM_GRANT_OFFSET(o);
		s->source.foreign.domid = d->domid;
	}
}

/*
 * Run @n segments in one copy call (again, a few times, while Xen says
 * "try again"); the first refused segment decides the errno and logs.
 */
static int copy_run(gm_grant_cache *c, struct gm__gdom *d, struct gm_copy_seg *seg, unsigned n,
		    bool write)
{
	int ret = 0;

	for (int tries = 0; tries < GM__GCACHE_EAGAIN_TRIES; tries++) {
		ret = copy_call(c, n, seg);
		if (ret)
			return ret;
		bool again = false;
		for (unsigned i = 0; i < n; i++)
			again |= seg[i].status == GM_GNTST_EAGAIN;
		if (!again)
			break;
		struct timespec ts = {0, 1000000L << tries};
		nanosleep(&ts, NULL);
	}
	for (unsigned i = 0; i < n; i++) {
		if (seg[i].status == GM_GNTST_OKAY)
			continue;
		gm_gref ref = write ? seg[i].dest.foreign.ref : seg[i].source.foreign.ref;
		ret = copy_status_errno(seg[i].status);
		if (write && ret == -EINVAL && ref_readable(c, d, ref))
			ret = -EACCES;
		GM__LOG_RL(gm__xen_fail_level(ret),
			   "grant copy %s ref %u of domain %u failed: status %d (%s)",
			   write ? "to" : "from", ref, d->domid, seg[i].status, gm_strerror(ret));
		return ret;
	}
	return 0;
}

/* Grant copy of [off, off + len), page-split, COPY_BATCH segments a call. */
static int copy_rw(gm_grant_cache *c, struct gm__gdom *d, uint64_t off, unsigned char *buf,
		   size_t len, bool write)
{
	struct gm_copy_seg seg[COPY_BATCH];

	while (len) {
		unsigned n = 0;
		size_t done = 0;
		for (; n < COPY_BATCH && done < len; n++) {
			size_t l = GM__MIN(len - done, PAGE - GM_GRANT_OFFSET(off + done));
			seg_set(&seg[n], d, off + done, buf + done, l, write);
			done += l;
		}
		int ret = copy_run(c, d, seg, n, write);
		if (ret)
			return ret;
		off += done;
		buf += done;
		len -= done;
	}
	return 0;
}

/* Copy through a transient mapping (large accesses, or no grant copy). */
static int map_rw(gm_region *r, uint64_t off, unsigned char *buf, size_t len, bool write)
{
	struct gregion *gr = gm_region_opaque(r);
	int flags = (write ? GM_PROT_WRITE : GM_PROT_READ) | GM_MAP_TRANSIENT;

	GM__GCACHE_STAT(gr->c, bounce_uses, 1);
	while (len) {
		size_t l = len;
		int err;
		void *p = gr_map(r, off, &l, flags, &err);
		if (!p)
			return err;
		if (write)
			memcpy(p, buf, l);
		else
			memcpy(buf, p, l);
		gr_unmap(r, p, off, l, flags, write ? l : 0);
		off += l;
		buf += l;
		len -= l;
	}
	return 0;
}

static bool copy_unsupported(int err)
{
	return err == -EOPNOTSUPP || err == -ENOSYS || err == -ENOTTY;
}

/* Xen said it has no grant copy (@err): from now on, map instead. */
static void copy_gone(gm_grant_cache *c, int err)
{
	gm__info("no grant copy here (%s): reads and writes map instead", gm_strerror(err));
	atomic_store(&c->no_copy, true);
}

/*
 * The hit path of reads and writes: copy to or from the mapping of @off if
 * there is one with @prot.  No pin: inside the read-side section the entry
 * stays mapped (release unlinks it, then waits for readers before it
 * unmaps), so the copy is safe without the pin's two atomic operations.
 * At most HIT_COPY_MAX bytes, so that a writer never waits long for us.
 * Returns the bytes copied, 0 if nothing usable is mapped there.
 */
static size_t copy_hit(gm_grant_cache *c, struct gm__gdom *d, uint64_t off, unsigned char *buf,
		       size_t len, int prot, bool write)
{
	gm_gref ref = GM_GRANT_REF(off);
	struct gm__epoch_token t;
	uint32_t idx;
	size_t l = 0;

	gm__epoch_enter(&c->ep, &t);
	struct gm__gentry *e = gm__gcache_find(d, ref, prot, &idx);
	/* A dying entry is left to the slow path. */
	if (e && !gm__gcache_dead(e)) {
		size_t pgoff = GM_GRANT_OFFSET(off);
		len = GM__MIN(len, HIT_COPY_MAX);
		uint32_t run = gm__gcache_run_len(e, idx, ref, (uint32_t)pages_spanned(off, len));
		l = GM__MIN(len, (size_t)run * PAGE - pgoff);
		char *p = (char *)e->va + (size_t)idx * PAGE + pgoff;
		if (write)
			memcpy(p, buf, l);
		else
			memcpy(buf, p, l);
		gm__lru_touch(&e->stamp); /* inside: @e may go once we leave */
	}
	gm__epoch_exit(&c->ep, &t);
	if (l)
		gm__gcache_hit(c);
	return l;
}

/* Is the page at @off mapped with @prot?  A look only: no pin, no hit. */
static bool mapped_at(gm_grant_cache *c, struct gm__gdom *d, uint64_t off, int prot)
{
	struct gm__epoch_token t;
	uint32_t idx;

	gm__epoch_enter(&c->ep, &t);
	struct gm__gentry *e = gm__gcache_find(d, GM_GRANT_REF(off), prot, &idx);
	bool usable = e && !gm__gcache_dead(e);
	gm__epoch_exit(&c->ep, &t);
	return usable;
}

static int gr_rw(gm_region *r, uint64_t off, unsigned char *buf, size_t len, bool write)
{
	struct gregion *gr = gm_region_opaque(r);
	gm_grant_cache *c = gr->c;
	int prot = write ? GM_PROT_RW : GM_PROT_READ;

	while (len) {
		/* Mapped already?  Then it is a memcpy. */
		size_t l = copy_hit(c, gr->dom, off, buf, len, prot, write);
		if (l) {
			off += l;
			buf += l;
			len -= l;
			continue;
		}
		/* Not mapped: copy up to the next page that is, or the end, but
		 * look no further than one map call covers: a guest-sized
		 * length (up to the region's 2^44 bytes) must not turn into
		 * billions of lookups before the first byte moves. */
		l = PAGE - GM_GRANT_OFFSET(off);
		while (l < len && l < (size_t)MAX_MAP_SHORT * PAGE &&
		       !mapped_at(c, gr->dom, off + l, prot))
			l += PAGE;
		l = GM__MIN(l, len);
		int ret = -EOPNOTSUPP;
		if (l <= c->copy_threshold &&
		    !atomic_load_explicit(&c->no_copy, memory_order_relaxed)) {
			ret = copy_rw(c, gr->dom, off, buf, l, write);
			if (copy_unsupported(ret))
				copy_gone(c, ret);
		}
		if (copy_unsupported(ret) || ret == -EOPNOTSUPP)
			ret = map_rw(r, off, buf, l, write);
		if (ret)
			return ret;
		off += l;
		buf += l;
		len -= l;
	}
	return 0;
}

/*
 * Scatter-gather reads and writes (gm_read_sg, gm_write_sg): every page of
 * the ranges with grant copy, SG_COPY_BATCH segments a call, nothing mapped
 * (the caller chose copying over mapping).  Where Xen has no grant copy,
 * range by range as gm_read/gm_write.
 */
static int gr_rw_sg(gm_region *r, const struct gm_sg *in, unsigned n, unsigned char *buf,
		    bool write)
{
	struct gregion *gr = gm_region_opaque(r);
	struct gm_copy_seg seg[SG_COPY_BATCH];
	unsigned ns = 0;
	size_t at = 0;
	int ret = 0;

	if (atomic_load_explicit(&gr->c->no_copy, memory_order_relaxed))
		goto by_range;
	for (unsigned i = 0; i < n; i++) {
		for (size_t o = 0; o < in[i].len;) {
			uint64_t a = in[i].addr + o;
			size_t l = GM__MIN(in[i].len - o, PAGE - GM_GRANT_OFFSET(a));
			seg_set(&seg[ns++], gr->dom, a, buf + at, l, write);
			o += l;
			at += l;
			if (ns == SG_COPY_BATCH) {
				if ((ret = copy_run(gr->c, gr->dom, seg, ns, write)))
					goto fail;
				ns = 0;
			}
		}
	}
	if (ns && (ret = copy_run(gr->c, gr->dom, seg, ns, write)))
		goto fail;
	return 0;
fail:
	if (!copy_unsupported(ret))
		return ret;
	copy_gone(gr->c, ret);
by_range:
	at = 0;
	for (unsigned i = 0; i < n; i++) {
		if ((ret = gr_rw(r, in[i].addr, buf + at, in[i].len, write)))
			return ret;
		at += in[i].len;
	}
	return 0;
}

static int gr_read_sg(gm_region *r, const struct gm_sg *in, unsigned n, void *buf)
{
	return gr_rw_sg(r, in, n, buf, false);
}

static int gr_write_sg(gm_region *r, const struct gm_sg *in, unsigned n, const void *buf)
{
	return gr_rw_sg(r, in, n, (unsigned char *)buf, true);
}

static int gr_read(gm_region *r, uint64_t off, void *buf, size_t len)
{
	return gr_rw(r, off, buf, len, false);
}

static int gr_write(gm_region *r, uint64_t off, const void *buf, size_t len)
{
	return gr_rw(r, off, (unsigned char *)buf, len, true);
}

static void gr_free(gm_region *r)
{
	struct gregion *gr = gm_region_opaque(r);

	gm__gcache_dom_put(gr->c, gr->dom, &gr->share);
	free(gr);
}

static int gr_from_host(gm_region *r, const void *ptr, uint64_t *off, size_t *len)
{
	struct gregion *gr = gm_region_opaque(r);

	return gm__gcache_from_host(gr->c, gr->dom, ptr, off, len);
}

static const struct gm_region_ops grant_ops = {
	.map = gr_map,
	.unmap = gr_unmap,
	.map_sg = gr_map_sg,
	.read = gr_read,
	.write = gr_write,
	.read_sg = gr_read_sg,
	.write_sg = gr_write_sg,
	.free = gr_free,
	.from_host = gr_from_host,
};

GM_API int gm_grant_region_new_cfg(gm_grant_cache *c, gm_domid domid,
				   const struct gm_grant_region_config *cfg, gm_region **out)
{
	struct gm_grant_region_config k = {.size = sizeof(k)};

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!c || !cfg || cfg->size < offsetof(struct gm_grant_region_config, max_pages) +
						  sizeof(cfg->max_pages))
		return -EINVAL;
	/* A newer caller's fields we do not know must be zero (defaults). */
	for (size_t i = sizeof(k); i < cfg->size; i++)
		if (((const unsigned char *)cfg)[i])
			return -E2BIG;
	memcpy(&k, cfg, GM__MIN(cfg->size, sizeof(k)));
	if ((k.policy != GM_GRANT_TRANSIENT && k.policy != GM_GRANT_PERSISTENT) ||
	    (k.max_pages && k.min_pages && k.min_pages != GM_GRANT_PAGES_NONE &&
	     k.min_pages > k.max_pages))
		return -EINVAL;
	struct gregion *gr = gm__calloc(1, sizeof(*gr));
	if (!gr)
		return -ENOMEM;
	gr->c = c;
	gr->persistent = k.policy == GM_GRANT_PERSISTENT;
	gr->share.min_pages = k.min_pages;
	gr->share.max_pages = k.max_pages;
	int ret = gm__gcache_dom_get(c, domid, &gr->share, &gr->dom);
	if (ret) {
		free(gr);
		return ret;
	}
	ret = gm_region_new(GM_GRANT_REGION_SIZE, &grant_ops, gr, out);
	if (ret) {
		gm__gcache_dom_put(c, gr->dom, &gr->share);
		free(gr);
	}
	return ret;
}

GM_API int gm_grant_region_new(gm_grant_cache *c, gm_domid domid, enum gm_grant_policy policy,
			       gm_region **out)
{
	struct gm_grant_region_config cfg = {.size = sizeof(cfg), .policy = policy};

	return gm_grant_region_new_cfg(c, domid, &cfg, out);
}

GM_API int gm_grant_region_share(gm_region *r, struct gm_grant_share *out)
{
	if (!r || !out || r->id != &grant_ops)
		return -EINVAL;
	struct gregion *gr = gm_region_opaque(r);
	gm__gcache_share(gr->c, gr->dom, out);
	return 0;
}
