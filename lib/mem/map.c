/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gm_map / gm_unmap / gm_map_sg: zero-copy windows onto guest memory, with
 * bounce buffers for regions that can only be copied; gm_unmap_host and
 * gm_host_to_guest, which find a mapping from a host pointer alone.
 *
 * Every successful map holds a reference on its region, so a region removed
 * from its space stays alive (and reachable by gm_unmap) until unmapped.
 */
#include "config.h"

#include "mem-internal.h"

#include <string.h>

#define GM__FLAGS_VALID                                                                    \
	(GM_PROT_RW | GM_MAP_TRANSIENT | GM_MAP_PERSISTENT | GM_MAP_NO_BOUNCE | GM_MAP_WHOLE)

/* ---- bounce buffers ---- */

struct gm__bounce {
	struct gm__bounce *next;
	gm_mem *budget; /* whose bounce budget pays for it */
	gm_region *r;
	uint64_t off;
	uint64_t addr;  /* the address data[0] stands for, in @budget */
	size_t len;
	unsigned char data[] __attribute__((aligned(16)));
};

static pthread_mutex_t bounce_lock = PTHREAD_MUTEX_INITIALIZER; /* protects bounces */
static struct gm__bounce *bounces;
static atomic_uint nbounces; /* lets gm_unmap skip the list when empty */

/*
 * May a bounce buffer stand in for @r's memory with @flags?  0; -EOPNOTSUPP
 * (the caller refuses bounce buffers); -EACCES (no callback to copy with).
 */
static int bounce_allowed(const gm_region *r, int flags)
{
	if (flags & GM_MAP_NO_BOUNCE)
		return -EOPNOTSUPP;
	if (((flags & GM_PROT_READ) && !r->ops->read) ||
	    ((flags & GM_PROT_WRITE) && !r->ops->write))
		return -EACCES;
	return 0;
}

static void *bounce_map(gm_mem *m, gm_region *r, uint64_t off, uint64_t addr, size_t *len,
			int flags, int *err)
{
	*err = bounce_allowed(r, flags);
	if (*err)
		return NULL;
	size_t take = gm__bounce_get(m, *len);
	if (!take || ((flags & GM_MAP_WHOLE) && take < *len)) {
		if (take)
			gm__bounce_put(m, take);
		*err = -ENOSPC;
		return NULL;
	}
	struct gm__bounce *b = gm__malloc(sizeof(*b) + take);
	if (!b) {
		gm__bounce_put(m, take);
		*err = -ENOMEM;
		return NULL;
	}
	if (flags & GM_PROT_READ) {
		int ret = r->ops->read(r, off, b->data, take);
		if (ret) {
			gm__bounce_put(m, take);
			free(b);
			*err = ret;
			return NULL;
		}
	}
	b->budget = m;
	b->r = gm__region_map_get(r);
	b->off = off;
	b->addr = addr;
	b->len = take;
	pthread_mutex_lock(&bounce_lock);
	b->next = bounces;
	bounces = b;
	atomic_fetch_add(&nbounces, 1);
	pthread_mutex_unlock(&bounce_lock);
	*len = take;
	return b->data;
}

/*
 * The bounce buffer that holds @ptr, made on a handle over @base (any,
 * when NULL), or NULL.  *addr (if non-NULL) = the address @ptr stands for.
 * With @take, it leaves the list: the caller releases it.
 */
static struct gm__bounce *bounce_find(const gm_mem *base, const void *ptr, bool take,
				      uint64_t *addr)
{
	struct gm__bounce *found = NULL;

	if (!atomic_load_explicit(&nbounces, memory_order_acquire))
		return NULL;
	pthread_mutex_lock(&bounce_lock);
	for (struct gm__bounce **pp = &bounces; *pp; pp = &(*pp)->next) {
		struct gm__bounce *b = *pp;
		if ((const unsigned char *)ptr < b->data ||
		    (size_t)((const unsigned char *)ptr - b->data) >= b->len ||
		    (base && b->budget->base != base))
			continue;
		found = b;
		if (addr)
			*addr = b->addr + (uint64_t)((const unsigned char *)ptr - b->data);
		if (take) {
			*pp = b->next;
			atomic_fetch_sub(&nbounces, 1);
		}
		break;
	}
	pthread_mutex_unlock(&bounce_lock);
	return found;
}

static void bounce_unmap(struct gm__bounce *b, int flags, size_t access_len)
{
	if ((flags & GM_PROT_WRITE) && access_len) {
		int ret = b->r->ops->write(b->r, b->off, b->data, GM__MIN(access_len, b->len));
		if (ret)
			gm__warn("bounce write-back of %zu bytes failed: %s",
				 GM__MIN(access_len, b->len), gm_strerror(ret));
	}
	gm__bounce_put(b->budget, b->len);
	gm__region_map_put(b->r);
	free(b);
}

/* ---- single mappings ---- */

/*
 * What can be told about mapping @r with @flags without calling it: the
 * permission of host memory and, for a region without a map callback,
 * whether a bounce buffer may and can stand in.  0 or gm_map's errno.
 */
static int access_check(const gm_region *r, int flags)
{
	if (r->host)
		return (flags & GM_PROT_RW & ~r->host_prot) ? -EACCES : 0;
	return r->ops->map ? 0 : bounce_allowed(r, flags);
}

/*
 * Map what @loc (at guest address @addr of @m) names for up to *len bytes
 * (already clamped to loc->avail).  Inside enter/exit.  Takes a region
 * reference on success.
 */
static void *map_loc(gm_mem *m, const struct gm__loc *loc, uint64_t addr, size_t *len, int flags,
		     int *err)
{
	gm_region *r = loc->r;

	*err = access_check(r, flags);
	if (*err)
		return NULL;
	if (r->host) {
		gm__region_map_get(r);
		return r->host + loc->off;
	}
	if (r->ops->map) {
		size_t want = *len;
		void *p = r->ops->map(r, loc->off, len, flags, err);
		if (p && (flags & GM_MAP_WHOLE) && *len < want) {
			/* the region shortened anyway: not what the caller takes */
			r->ops->unmap(r, p, loc->off, *len, flags, 0);
			*len = want;
			*err = -ERANGE;
			return NULL;
		}
		if (p) {
			gm__region_map_get(r);
			return p;
		}
		if (*err != -EOPNOTSUPP)
			return NULL;
	}
	return bounce_map(m, r, loc->off, addr, len, flags, err);
}

static bool flags_ok(int flags)
{
	return (flags & GM_PROT_RW) && !(flags & ~GM__FLAGS_VALID) &&
	       (flags & (GM_MAP_TRANSIENT | GM_MAP_PERSISTENT)) !=
		       (GM_MAP_TRANSIENT | GM_MAP_PERSISTENT);
}

GM_API void *gm_map(gm_mem *m, uint64_t addr, size_t *len, int flags, int *err)
{
	struct gm__rd rd;
	struct gm__loc loc;
	int dummy;
	void *p = NULL;

	if (!err)
		err = &dummy;
	if (!m || !len || !*len || !flags_ok(flags)) {
		*err = -EINVAL;
		return NULL;
	}
	if ((flags & GM_MAP_WHOLE) && !gm__range_ok(addr, *len)) {
		*err = -EFAULT;
		return NULL;
	}
	gm__enter(m, &rd);
	*err = gm__locate(m, addr, flags & GM_PROT_RW, &loc);
	if (!*err && (flags & GM_MAP_WHOLE) && loc.avail < *len) {
		/* Past the region (or the view's window): is there memory at all? */
		struct gm__loc next;
		*err = gm__locate(m, addr + loc.avail, flags & GM_PROT_RW, &next);
		if (!*err)
			*err = -ERANGE;
	}
	if (!*err) {
		size_t l = GM__MIN(*len, loc.avail);
		p = map_loc(m, &loc, addr, &l, flags, err);
		if (p)
			*len = l;
	}
	gm__exit(&rd);
	if (!p)
		gm__dbg("map of %zu bytes at 0x%" PRIx64 " failed: %s", *len, addr,
			gm_strerror(*err));
	return p;
}

/* Release one mapping of region @r; drops the reference map_loc took. */
static void unmap_region(gm_region *r, void *ptr, uint64_t off, size_t len, int flags,
			 size_t access_len)
{
	if (!r->host)
		r->ops->unmap(r, ptr, off, len, flags, GM__MIN(access_len, len));
	gm__region_map_put(r);
}

GM_API void gm_unmap(gm_mem *m, uint64_t addr, void *ptr, size_t len, int flags,
		     size_t access_len)
{
	struct gm__rd rd;
	uint64_t off;

	if (!m || !ptr)
		return;
	struct gm__bounce *b = bounce_find(NULL, ptr, true, NULL);
	if (b) {
		bounce_unmap(b, flags, access_len);
		return;
	}
	gm__enter(m, &rd);
	gm_region *r = gm__locate_for_unmap(m, addr, &off);
	gm__exit(&rd);
	if (!r) {
		gm__warn("gm_unmap: nothing mapped at 0x%" PRIx64 " (pointer %p)", addr, ptr);
		return;
	}
	/* No reference of our own: the one this mapping holds (map_loc) keeps
	 * @r alive past the section, until unmap_region drops it. */
	unmap_region(r, ptr, off, len, flags, access_len);
}

GM_API int gm_unmap_host(gm_mem *m, void *ptr, int flags, size_t access_len)
{
	struct gm__rd rd;
	struct gm__hloc h;

	if (!m || !ptr || (flags & ~GM__FLAGS_VALID))
		return -EINVAL;
	gm__enter(m, &rd);
	int ret = gm__host_locate(m, ptr, &h);
	gm__exit(&rd);
	if (!ret && gm__region_maps(h.r)) {
		/* The reference of the mapping keeps h.r alive, as in gm_unmap. */
		unmap_region(h.r, ptr, h.off, h.avail, flags, access_len);
		return 0;
	}
	struct gm__bounce *b = bounce_find(m->base, ptr, true, NULL);
	if (b) {
		size_t into = (size_t)((unsigned char *)ptr - b->data);
		bounce_unmap(b, flags, access_len > b->len - into ? b->len : into + access_len);
		return 0;
	}
	gm__warn_rl("gm_unmap_host: %p is in no mapping still out", ptr);
	return -ENOENT;
}

GM_API int gm_host_to_guest(gm_mem *m, const void *ptr, uint64_t *addr)
{
	struct gm__rd rd;
	struct gm__hloc h;
	struct gm__loc loc;

	if (!m || !ptr || !addr)
		return -EINVAL;
	uint64_t a = 0;
	gm__enter(m, &rd);
	int ret = gm__host_locate(m, ptr, &h);
	if (!ret)
		a = h.base + h.off;
	else if (bounce_find(m->base, ptr, false, &a))
		ret = 0;
	/* A view answers for its windows only. */
	if (!ret && m != m->base && gm__locate(m, a, 0, &loc))
		ret = -ENOENT;
	gm__exit(&rd);
	if (!ret)
		*addr = a;
	return ret;
}

/* ---- scatter-gather ---- */

struct gm__piece {
	gm_region *r;
	uint64_t off;
	uint64_t addr; /* the guest address of @off */
	size_t len;
	struct iovec pre; /* mapped by the region's map_sg, not yet handed out */
	bool has_pre;
};

/*
 * Split @in into region pieces, checking in order everything that needs no
 * mapping call (see gm_map_sg): the first bad range decides.  Inside
 * enter/exit.  Returns the count.
 */
static int split_pieces(gm_mem *m, const struct gm_sg *in, unsigned n, int flags,
			struct gm__piece *pc, unsigned max)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t addr = in[i].addr;
		size_t left = in[i].len;

		if (!left || !gm__range_ok(addr, left))
			return left ? -EFAULT : -EINVAL;
		while (left) {
			struct gm__loc loc;
			int ret = gm__locate(m, addr, flags & GM_PROT_RW, &loc);
			if (!ret)
				ret = access_check(loc.r, flags);
			if (ret)
				return ret;
			if (k == max)
				return -E2BIG;
			size_t l = GM__MIN(left, loc.avail);
			pc[k++] = (struct gm__piece){
				.r = loc.r, .off = loc.off, .addr = addr, .len = l};
			addr += l;
			left -= l;
		}
	}
	return (int)k;
}

/*
 * For every region with a map_sg callback (and no host memory, which needs
 * no call), map all of its pieces with one call, however many there are.
 * Inside enter/exit.  On failure everything premapped is released by the
 * caller (release_pre).
 */
static int premap_batches(struct gm__piece *pc, unsigned np, int flags)
{
	struct gm_sg stack_sg[128];
	struct iovec stack_iov[128];
	unsigned stack_idx[128];
	struct gm_sg *sg = stack_sg;
	struct iovec *iov = stack_iov;
	unsigned *idx = stack_idx;
	int ret = 0;

	for (unsigned i = 0; i < np && !ret; i++) {
		gm_region *r = pc[i].r;
		if (pc[i].has_pre || r->host || !r->ops->map_sg)
			continue;
		/* This region's pieces from here on; earlier ones are done. */
		unsigned cnt = 0;
		for (unsigned j = i; j < np; j++)
			cnt += pc[j].r == r && !pc[j].has_pre;
		if (cnt > GM__ARRAY_SIZE(stack_sg) && sg == stack_sg) {
			/* at most np pieces for any region: allocate once */
			sg = gm__calloc(np, sizeof(*sg));
			iov = gm__calloc(np, sizeof(*iov));
			idx = gm__calloc(np, sizeof(*idx));
			if (!sg || !iov || !idx) {
				ret = -ENOMEM;
				break;
			}
		}
		cnt = 0;
		for (unsigned j = i; j < np; j++) {
			if (pc[j].r != r || pc[j].has_pre)
				continue;
			sg[cnt] = (struct gm_sg){.addr = pc[j].off, .len = pc[j].len};
			idx[cnt++] = j;
		}
		ret = r->ops->map_sg(r, sg, cnt, iov, flags);
		if (ret == -EAGAIN) {
			ret = 0;
			continue; /* per-piece fallback */
		}
		if (ret)
			break;
		for (unsigned c = 0; c < cnt; c++) {
			pc[idx[c]].pre = iov[c];
			pc[idx[c]].has_pre = true;
			gm__region_map_get(r);
		}
	}
	if (sg != stack_sg) {
		free(sg);
		free(iov);
		free(idx);
	}
	return ret;
}

static void release_pre(struct gm__piece *pc, unsigned from, unsigned np, int flags)
{
	for (unsigned j = from; j < np; j++)
		if (pc[j].has_pre)
			unmap_region(pc[j].r, pc[j].pre.iov_base, pc[j].off, pc[j].len, flags, 0);
}

GM_API int gm_map_sg(gm_mem *m, const struct gm_sg *in, unsigned n, struct iovec *out,
		     unsigned max_out, int flags)
{
	struct gm__piece stack_pc[32];
	struct gm__piece *pc = stack_pc;
	struct gm__rd rd;
	unsigned k = 0, i = 0;
	int ret, np;

	if (!m || !in || !n || !out || !max_out || !flags_ok(flags) || (flags & GM_MAP_WHOLE) ||
	    n > INT32_MAX)
		return -EINVAL;
	if (max_out > GM__ARRAY_SIZE(stack_pc)) {
		pc = gm__calloc(max_out, sizeof(*pc));
		if (!pc)
			return -ENOMEM;
	}
	gm__enter(m, &rd);
	np = split_pieces(m, in, n, flags, pc, max_out);
	if (np < 0) {
		ret = np;
		goto out;
	}
	for (int j = 0; j < np; j++)
		pc[j].has_pre = false;
	ret = premap_batches(pc, (unsigned)np, flags);
	if (ret) {
		release_pre(pc, 0, (unsigned)np, flags);
		goto out;
	}
	/* Hand out iovecs in order; map the rest piece by piece. */
	for (i = 0; i < (unsigned)np; i++) {
		uint64_t off = pc[i].off;
		size_t left = pc[i].len;
		if (pc[i].has_pre) {
			if (k == max_out) {
				ret = -E2BIG;
				goto undo;
			}
			/* A region's map_sg may stop short of a range (a mapping
			 * ends there): the rest is mapped below, like any piece.
			 * It never covers more than the range asked for. */
			struct iovec v = pc[i].pre;
			if (v.iov_len > left)
				v.iov_len = left;
			out[k++] = v;
			pc[i].has_pre = false;
			off += v.iov_len;
			left -= v.iov_len;
		}
		while (left) {
			if (k == max_out) {
				ret = -E2BIG;
				goto undo;
			}
			struct gm__loc loc = {.r = pc[i].r, .off = off, .avail = left};
			size_t l = left;
			void *p = map_loc(m, &loc, pc[i].addr + (off - pc[i].off), &l, flags, &ret);
			if (!p)
				goto undo;
			out[k++] = (struct iovec){.iov_base = p, .iov_len = l};
			off += l;
			left -= l;
		}
	}
	ret = (int)k;
	goto out;
undo:
	release_pre(pc, i, (unsigned)np, flags);
	gm__exit(&rd);
	gm_unmap_sg(m, in, n, out, k, flags, 0);
	gm__dbg("map_sg of %u ranges failed: %s", n, gm_strerror(ret));
	if (pc != stack_pc)
		free(pc);
	return ret;
out:
	gm__exit(&rd);
	if (ret < 0)
		gm__dbg("map_sg of %u ranges failed: %s", n, gm_strerror(ret));
	if (pc != stack_pc)
		free(pc);
	return ret;
}

GM_API void gm_unmap_sg(gm_mem *m, const struct gm_sg *in, unsigned n, const struct iovec *out,
			unsigned niov, int flags, size_t access_len)
{
	unsigned i = 0;
	size_t used = 0;

	if (!m || !in || !out)
		return;
	for (unsigned k = 0; k < niov; k++) {
		if (i >= n || out[k].iov_len > in[i].len - used) {
			gm__warn("gm_unmap_sg: iovec %u does not match the ranges", k);
			return;
		}
		size_t acc = GM__MIN(access_len, out[k].iov_len);
		gm_unmap(m, in[i].addr + used, out[k].iov_base, out[k].iov_len, flags, acc);
		access_len -= acc;
		used += out[k].iov_len;
		if (used == in[i].len) {
			i++;
			used = 0;
		}
	}
}
