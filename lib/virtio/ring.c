/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gm_ring: a guest range kept mapped for as long as a virtqueue lives, with
 * bounds-checked accessors.  The guest controls every offset a virtqueue
 * computes from ring contents, so no accessor may touch memory outside the
 * ring: each checks [off, off + size) against the ring's length first.
 */
#include "config.h"

#include "base/base.h"

#include <grantmem/virtio.h>

#include <endian.h>
#include <string.h>

/*
 * A ring is normally one piece; gm_map shortens at region or mapping
 * boundaries (e.g. a ring spanning two grant runs), so keep a few.
 */
#define RING_MAX_PIECES 16

struct ring_piece {
	size_t off; /* from the ring's start */
	size_t len;
	unsigned char *p;
};

struct gm_ring {
	gm_mem *m;
	uint64_t addr;
	size_t len;
	int prot;      /* GM_PROT_* the accessors may use */
	int map_flags; /* what gm_map was given, for gm_unmap */
	unsigned n;
	struct ring_piece pc[RING_MAX_PIECES];
};

static void ring_unmap_all(gm_ring *r)
{
	for (unsigned i = 0; i < r->n; i++)
		gm_unmap(r->m, r->addr + r->pc[i].off, r->pc[i].p, r->pc[i].len, r->map_flags,
			 (r->prot & GM_PROT_WRITE) ? r->pc[i].len : 0);
	r->n = 0;
}

GM_API int gm_ring_new(gm_mem *m, uint64_t addr, size_t len, int prot, gm_ring **out)
{
	gm_ring *r;
	size_t done = 0;
	int ret = 0;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!m || !len || !(prot & GM_PROT_RW) || (prot & ~GM_PROT_RW) ||
	    !gm__range_ok(addr, len))
		return -EINVAL;
	r = gm__calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->m = m;
	r->addr = addr;
	r->len = len;
	r->prot = prot;
	/* A bounce buffer would be a private copy: the guest would never see
	 * our stores, nor we its.  Only memory mapped in place will do. */
	r->map_flags = prot | GM_MAP_PERSISTENT | GM_MAP_NO_BOUNCE;
	while (done < len) {
		size_t l = len - done;
		void *p;

		if (r->n == RING_MAX_PIECES) {
			ret = -E2BIG;
			break;
		}
		p = gm_map(m, addr + done, &l, r->map_flags, &ret);
		if (!p)
			break;
		r->pc[r->n++] = (struct ring_piece){.off = done, .len = l, .p = p};
		done += l;
	}
	if (done < len) {
		gm__info("ring of %zu bytes at 0x%" PRIx64 " not mappable: %s", len, addr,
			 gm_strerror(ret));
		ring_unmap_all(r);
		free(r);
		return ret;
	}
	*out = r;
	return 0;
}

GM_API void gm_ring_free(gm_ring *r)
{
	if (!r)
		return;
	ring_unmap_all(r);
	free(r);
}

GM_API uint64_t gm_ring_addr(const gm_ring *r)
{
	return r ? r->addr : 0;
}

GM_API size_t gm_ring_len(const gm_ring *r)
{
	return r ? r->len : 0;
}

GM_API unsigned gm_ring_npieces(const gm_ring *r)
{
	return r ? r->n : 0;
}

/* Is [off, off + size) inside the ring?  Overflow-safe. */
static inline bool in_ring(const gm_ring *r, size_t off, size_t size)
{
	return off <= r->len && size <= r->len - off;
}

/*
 * Host pointer for [off, off + size) if one piece holds it all, else NULL.
 * The caller has checked in_ring().
 */
static inline unsigned char *contig(const gm_ring *r, size_t off, size_t size)
{
	if (GM__LIKELY(r->n == 1))
		return r->pc[0].p + off;
	for (unsigned i = 0; i < r->n; i++) {
		const struct ring_piece *pc = &r->pc[i];

		if (off >= pc->off && off - pc->off < pc->len)
			return size <= pc->len - (off - pc->off) ? pc->p + (off - pc->off) : NULL;
	}
	return NULL;
}

/* Copy across pieces: @to_ring selects the direction. */
static void copy_pieces(gm_ring *r, size_t off, void *buf, size_t len, bool to_ring)
{
	unsigned char *b = buf;

	for (unsigned i = 0; i < r->n && len; i++) {
		const struct ring_piece *pc = &r->pc[i];

		if (off < pc->off || off - pc->off >= pc->len)
			continue;
		size_t in = off - pc->off;
		size_t k = GM__MIN(len, pc->len - in);

		if (to_ring)
			memcpy(pc->p + in, b, k);
		else
			memcpy(b, pc->p + in, k);
		b += k;
		off += k;
		len -= k;
	}
}

GM_API int gm_ring_read(gm_ring *r, size_t off, void *buf, size_t len)
{
	if (!r || (!buf && len))
		return -EINVAL;
	if (!in_ring(r, off, len))
		return -EFAULT;
	if (!len)
		return 0;
	unsigned char *p = contig(r, off, len);

	if (p)
		memcpy(buf, p, len);
	else
		copy_pieces(r, off, buf, len, false);
	return 0;
}

GM_API int gm_ring_write(gm_ring *r, size_t off, const void *buf, size_t len)
{
	if (!r || (!buf && len))
		return -EINVAL;
	if (!in_ring(r, off, len))
		return -EFAULT;
	if (!(r->prot & GM_PROT_WRITE))
		return -EACCES;
	if (!len)
		return 0;
	unsigned char *p = contig(r, off, len);

	if (p)
		memcpy(p, buf, len);
	else
		copy_pieces(r, off, (void *)buf, len, true);
	return 0;
}

#define RING_LE(bits)                                                                      \
	GM_API int gm_ring_read_le##bits(gm_ring *r, size_t off, uint##bits##_t *v)         \
	{                                                                                  \
		uint##bits##_t x;                                                          \
		int ret;                                                                   \
                                                                                           \
		if (!v)                                                                    \
			return -EINVAL;                                                    \
		ret = gm_ring_read(r, off, &x, sizeof(x));                                 \
		if (ret)                                                                   \
			return ret;                                                        \
		*v = le##bits##toh(x);                                                     \
		return 0;                                                                  \
	}                                                                                  \
	GM_API int gm_ring_write_le##bits(gm_ring *r, size_t off, uint##bits##_t v)         \
	{                                                                                  \
		uint##bits##_t x = htole##bits(v);                                         \
                                                                                           \
		return gm_ring_write(r, off, &x, sizeof(x));                               \
	}

RING_LE(16)
RING_LE(32)
RING_LE(64)

/*
 * The atomics need a naturally aligned host word inside one piece.  Guest
 * alignment is what the spec promises; host alignment follows for mapped
 * pages, but a RAM region over an odd host buffer could break it.
 */
static uint16_t *atomic16_ptr(gm_ring *r, size_t off, int *err)
{
	unsigned char *p;

	if (!in_ring(r, off, 2)) {
		*err = -EFAULT;
		return NULL;
	}
	p = contig(r, off, 2);
	if (((r->addr + off) & 1) || !p || ((uintptr_t)p & 1)) {
		*err = -EINVAL;
		return NULL;
	}
	return (uint16_t *)(void *)p;
}

GM_API int gm_ring_load_acquire16(gm_ring *r, size_t off, uint16_t *v)
{
	uint16_t *p;
	int err;

	if (!r || !v)
		return -EINVAL;
	p = atomic16_ptr(r, off, &err);
	if (!p)
		return err;
	*v = le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
	return 0;
}

GM_API int gm_ring_store_release16(gm_ring *r, size_t off, uint16_t v)
{
	uint16_t *p;
	int err;

	if (!r)
		return -EINVAL;
	p = atomic16_ptr(r, off, &err);
	if (!p)
		return err;
	if (!(r->prot & GM_PROT_WRITE))
		return -EACCES;
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
	return 0;
}

#if defined(__SANITIZE_THREAD__)
#define RING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RING_TSAN 1
#endif
#endif

#ifdef RING_TSAN
/*
 * ThreadSanitizer does not model fences (GCC refuses them with -Werror);
 * a sequentially consistent read-modify-write is a full barrier on the
 * hardware and something TSan understands.
 */
static atomic_uint ring_fence_word;
#endif

GM_API void gm_ring_fence(void)
{
#ifdef RING_TSAN
	atomic_fetch_add_explicit(&ring_fence_word, 0, memory_order_seq_cst);
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}
