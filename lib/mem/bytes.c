/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bytes API: copies, fills, endian accessors and atomics over any
 * gm_mem handle.  Accesses are split at region boundaries here; each piece
 * goes to the region's RAM fast path, its read/write callback, or a
 * map-copy-unmap through its map callback.
 */
#include "config.h"

#include "mem-internal.h"

#include <endian.h>
#include <string.h>

enum xfer_kind { X_READ, X_WRITE, X_FILL };

struct xfer {
	enum xfer_kind kind;
	unsigned char *buf; /* X_READ: destination; X_WRITE: source */
	int byte;           /* X_FILL */
};

static void host_op(const struct xfer *x, void *host, size_t done, size_t l)
{
	switch (x->kind) {
	case X_READ:
		memcpy(x->buf + done, host, l);
		break;
	case X_WRITE:
		memcpy(host, x->buf + done, l);
		break;
	case X_FILL:
		memset(host, x->byte, l);
		break;
	}
}

/*
 * Fill through a write callback, a page of pattern at a time (on grant
 * memory each write is a grant copy, or a map past copy_threshold: a page
 * per call keeps their number down).
 */
static int fill_by_write(gm_region *r, uint64_t off, int byte, size_t l)
{
	unsigned char pat[GM_PAGE_SIZE];

	memset(pat, byte, GM__MIN(l, sizeof(pat)));
	while (l) {
		size_t n = GM__MIN(l, sizeof(pat));
		int ret = r->ops->write(r, off, pat, n);
		if (ret)
			return ret;
		off += n;
		l -= n;
	}
	return 0;
}

/* One piece inside one region.  Inside enter/exit. */
static int piece_io(gm_region *r, uint64_t off, size_t l, const struct xfer *x, size_t done)
{
	int prot = x->kind == X_READ ? GM_PROT_READ : GM_PROT_WRITE;

	if (GM__LIKELY(r->host != NULL)) {
		if (!(r->host_prot & prot))
			return -EACCES;
		host_op(x, r->host + off, done, l);
		return 0;
	}
	if (x->kind == X_READ && r->ops->read)
		return r->ops->read(r, off, x->buf + done, l);
	if (x->kind == X_WRITE && r->ops->write)
		return r->ops->write(r, off, x->buf + done, l);
	if (x->kind == X_FILL && r->ops->write)
		return fill_by_write(r, off, x->byte, l);
	if (!r->ops->map)
		return -EACCES;
	while (l) {
		size_t ml = l;
		int err = 0;
		void *p = r->ops->map(r, off, &ml, prot, &err);
		if (!p)
			return err == -EOPNOTSUPP ? -EACCES : err;
		host_op(x, p, done, ml);
		r->ops->unmap(r, p, off, ml, prot, x->kind == X_READ ? 0 : ml);
		off += ml;
		done += ml;
		l -= ml;
	}
	return 0;
}

static int xfer(gm_mem *m, uint64_t addr, size_t len, const struct xfer *x)
{
	struct gm__rd rd;
	int prot = x->kind == X_READ ? GM_PROT_READ : GM_PROT_WRITE;
	size_t done = 0;
	int ret = 0;

	if (!m || (len && x->kind != X_FILL && !x->buf))
		return -EINVAL;
	if (!len)
		return 0;
	if (!gm__range_ok(addr, len))
		return -EFAULT;
	gm__enter(m, &rd);
	while (done < len) {
		struct gm__loc loc;
		ret = gm__locate(m, addr + done, prot, &loc);
		if (ret)
			break;
		size_t l = GM__MIN(len - done, loc.avail);
		ret = piece_io(loc.r, loc.off, l, x, done);
		if (ret)
			break;
		done += l;
	}
	gm__exit(&rd);
	if (ret)
		gm__dbg("%s of %zu bytes at 0x%" PRIx64 " failed: %s",
			x->kind == X_READ ? "read" : "write", len, addr, gm_strerror(ret));
	return ret;
}

/*
 * Scatter-gather: the pieces of consecutive ranges that lie on one region
 * with a read_sg/write_sg callback, gathered for one call to it.
 */
#define SG_BATCH 64

struct sg_pending {
	gm_region *r;   /* the region of in[0 .. n) */
	size_t at;      /* where in the buffer in[0] starts */
	unsigned n;
	struct gm_sg in[SG_BATCH];
};

static int sg_flush(struct sg_pending *p, const struct xfer *x)
{
	int ret = 0;

	if (p->n)
		ret = x->kind == X_READ ? p->r->ops->read_sg(p->r, p->in, p->n, x->buf + p->at)
					: p->r->ops->write_sg(p->r, p->in, p->n, x->buf + p->at);
	p->n = 0;
	return ret;
}

static bool sg_capable(const gm_region *r, const struct xfer *x)
{
	if (r->host)
		return false;
	return x->kind == X_READ ? r->ops->read_sg != NULL : r->ops->write_sg != NULL;
}

/* Add region piece [off, off + l) at buffer offset @at to @p (which has room). */
static void sg_add(struct sg_pending *p, gm_region *r, uint64_t off, size_t l, size_t at)
{
	struct gm_sg *last = p->n ? &p->in[p->n - 1] : NULL;

	if (!p->n) {
		p->r = r;
		p->at = at;
	}
	if (last && last->addr + last->len == off)
		last->len += l;
	else
		p->in[p->n++] = (struct gm_sg){.addr = off, .len = l};
}

static int xfer_sg(gm_mem *m, const struct gm_sg *sg, unsigned n, const struct xfer *x)
{
	int prot = x->kind == X_READ ? GM_PROT_READ : GM_PROT_WRITE;
	struct sg_pending p;
	struct gm__rd rd;
	size_t done = 0;
	int ret = 0;

	if (!m || (n && (!sg || !x->buf)))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!gm__range_ok(sg[i].addr, sg[i].len))
			return -EFAULT;
	p.n = 0;
	gm__enter(m, &rd);
	for (unsigned i = 0; i < n && !ret; i++) {
		for (size_t o = 0; o < sg[i].len;) {
			struct gm__loc loc;
			ret = gm__locate(m, sg[i].addr + o, prot, &loc);
			if (ret)
				break;
			size_t l = GM__MIN(sg[i].len - o, loc.avail);
			bool batch = sg_capable(loc.r, x);
			if (p.n && (p.r != loc.r || p.n == SG_BATCH || !batch))
				ret = sg_flush(&p, x);
			if (ret)
				break;
			if (batch)
				sg_add(&p, loc.r, loc.off, l, done);
			else if ((ret = piece_io(loc.r, loc.off, l, x, done)))
				break;
			o += l;
			done += l;
		}
	}
	if (!ret)
		ret = sg_flush(&p, x);
	gm__exit(&rd);
	if (ret)
		gm__dbg("scatter-gather %s of %u ranges failed: %s",
			x->kind == X_READ ? "read" : "write", n, gm_strerror(ret));
	return ret;
}

GM_API int gm_read_sg(gm_mem *m, const struct gm_sg *sg, unsigned n, void *buf)
{
	struct xfer x = {.kind = X_READ, .buf = buf};

	return xfer_sg(m, sg, n, &x);
}

GM_API int gm_write_sg(gm_mem *m, const struct gm_sg *sg, unsigned n, const void *buf)
{
	struct xfer x = {.kind = X_WRITE, .buf = (unsigned char *)buf};

	return xfer_sg(m, sg, n, &x);
}

GM_API int gm_read(gm_mem *m, uint64_t addr, void *buf, size_t len)
{
	struct xfer x = {.kind = X_READ, .buf = buf};

	return xfer(m, addr, len, &x);
}

GM_API int gm_write(gm_mem *m, uint64_t addr, const void *buf, size_t len)
{
	struct xfer x = {.kind = X_WRITE, .buf = (unsigned char *)buf};

	return xfer(m, addr, len, &x);
}

GM_API int gm_fill(gm_mem *m, uint64_t addr, int byte, size_t len)
{
	struct xfer x = {.kind = X_FILL, .byte = byte};

	return xfer(m, addr, len, &x);
}

GM_API int gm_copy(gm_mem *dst, uint64_t dst_addr, gm_mem *src, uint64_t src_addr, size_t len)
{
	if (!dst || !src)
		return -EINVAL;
	if (!gm__range_ok(dst_addr, len) || !gm__range_ok(src_addr, len))
		return -EFAULT;
	while (len) {
		size_t l = GM__MIN(len, (size_t)64 << 10), dl;
		int err;
		void *p = gm_map(src, src_addr, &l, GM_PROT_READ, &err);
		if (!p)
			return err;
		/*
		 * Map the destination too and move, never memcpy: the guest
		 * picks both addresses and may name the same memory twice
		 * (overlapping addresses, two refs of one page, a view), and
		 * memcpy over overlapping host ranges is undefined.
		 */
		dl = l;
		void *q = gm_map(dst, dst_addr, &dl, GM_PROT_WRITE, &err);
		if (q) {
			memmove(q, p, dl);
			gm_unmap(dst, dst_addr, q, dl, GM_PROT_WRITE, dl);
		}
		gm_unmap(src, src_addr, p, l, GM_PROT_READ, 0);
		if (!q)
			return err;
		src_addr += dl;
		dst_addr += dl;
		len -= dl;
	}
	return 0;
}

/* ---- endian accessors ---- */

#define GM__DEFINE_ENDIAN(name, type, conv_in, conv_out)                                   \
	GM_API int gm_read_##name(gm_mem *m, uint64_t addr, type *v)                       \
	{                                                                                  \
		type raw;                                                                  \
		int ret;                                                                   \
		if (!v)                                                                    \
			return -EINVAL;                                                    \
		ret = gm_read(m, addr, &raw, sizeof(raw));                                 \
		if (!ret)                                                                  \
			*v = conv_in(raw);                                                 \
		return ret;                                                                \
	}                                                                                  \
	GM_API int gm_write_##name(gm_mem *m, uint64_t addr, type v)                       \
	{                                                                                  \
		type raw = conv_out(v);                                                    \
		return gm_write(m, addr, &raw, sizeof(raw));                               \
	}

GM__DEFINE_ENDIAN(le16, uint16_t, le16toh, htole16)
GM__DEFINE_ENDIAN(le32, uint32_t, le32toh, htole32)
GM__DEFINE_ENDIAN(le64, uint64_t, le64toh, htole64)
GM__DEFINE_ENDIAN(be16, uint16_t, be16toh, htobe16)
GM__DEFINE_ENDIAN(be32, uint32_t, be32toh, htobe32)
GM__DEFINE_ENDIAN(be64, uint64_t, be64toh, htobe64)

/* ---- atomics ---- */

/*
 * Pin @size bytes at @addr for an atomic access: a real mapping, never a
 * bounce buffer.  Returns the host pointer or NULL with *err.
 */
static void *atomic_map(gm_mem *m, uint64_t addr, size_t size, int prot, struct gm__rd *rd,
			struct gm__loc *loc, int *err)
{
	if (!m) {
		*err = -EINVAL;
		return NULL;
	}
	if (addr & (size - 1)) {
		*err = -EINVAL;
		return NULL;
	}
	gm__enter(m, rd);
	*err = gm__locate(m, addr, prot, loc);
	if (*err)
		goto fail;
	if (loc->avail < size) {
		*err = -EINVAL; /* straddles a region end: cannot be atomic */
		goto fail;
	}
	gm_region *r = loc->r;
	void *p;
	if (r->host) {
		if (!(r->host_prot & prot)) {
			*err = -EACCES;
			goto fail;
		}
		p = r->host + loc->off;
	} else if (r->ops->map) {
		size_t l = size;
		p = r->ops->map(r, loc->off, &l, prot, err);
		if (!p)
			goto fail;
		if (l < size) {
			r->ops->unmap(r, p, loc->off, l, prot, 0);
			*err = -EINVAL;
			goto fail;
		}
	} else {
		*err = -EOPNOTSUPP;
		goto fail;
	}
	if ((uintptr_t)p & (size - 1)) {
		if (!r->host)
			r->ops->unmap(r, p, loc->off, size, prot, 0);
		*err = -EINVAL;
		goto fail;
	}
	return p;
fail:
	gm__exit(rd);
	return NULL;
}

static void atomic_unmap(void *p, size_t size, int prot, struct gm__rd *rd,
			 const struct gm__loc *loc)
{
	gm_region *r = loc->r;

	if (!r->host)
		r->ops->unmap(r, p, loc->off, size, prot, prot & GM_PROT_WRITE ? size : 0);
	gm__exit(rd);
}

#define GM__DEFINE_ATOMIC(bits)                                                            \
	GM_API int gm_load_acquire##bits(gm_mem *m, uint64_t addr, uint##bits##_t *v)      \
	{                                                                                  \
		struct gm__rd rd;                                                          \
		struct gm__loc loc;                                                        \
		int err;                                                                   \
		if (!v)                                                                    \
			return -EINVAL;                                                    \
		uint##bits##_t *p = atomic_map(m, addr, sizeof(*p), GM_PROT_READ, &rd,     \
					       &loc, &err);                                \
		if (!p)                                                                    \
			return err;                                                        \
		*v = le##bits##toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));                  \
		atomic_unmap(p, sizeof(*p), GM_PROT_READ, &rd, &loc);                      \
		return 0;                                                                  \
	}                                                                                  \
	GM_API int gm_store_release##bits(gm_mem *m, uint64_t addr, uint##bits##_t v)      \
	{                                                                                  \
		struct gm__rd rd;                                                          \
		struct gm__loc loc;                                                        \
		int err;                                                                   \
		uint##bits##_t *p = atomic_map(m, addr, sizeof(*p), GM_PROT_WRITE, &rd,    \
					       &loc, &err);                                \
		if (!p)                                                                    \
			return err;                                                        \
		__atomic_store_n(p, htole##bits(v), __ATOMIC_RELEASE);                     \
		atomic_unmap(p, sizeof(*p), GM_PROT_WRITE, &rd, &loc);                     \
		return 0;                                                                  \
	}

GM__DEFINE_ATOMIC(16)
GM__DEFINE_ATOMIC(32)
GM__DEFINE_ATOMIC(64)
