/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Spans: a small range of guest memory held for a burst of typed accesses
 * (the fields of a descriptor, a request header) and paid for once.  Up to
 * GM_SPAN_INLINE bytes are copied in by one gm_read and the bytes written
 * go back by one gm_write; a longer span is mapped whole with one gm_map.
 * The accessors then touch only the span's own bytes.
 */
#include "config.h"

#include "mem-internal.h"

#include <endian.h>
#include <string.h>

#define SPAN_FLAGS (GM_PROT_RW | GM_MAP_TRANSIENT | GM_MAP_PERSISTENT)

GM_API int gm_span_begin(gm_span *s, gm_mem *m, uint64_t addr, size_t len, int flags)
{
	int ret = 0;

	if (!s)
		return -EINVAL;
	s->m_ = NULL; /* released until begun */
	if (!m || !len || !(flags & GM_PROT_RW) || (flags & ~SPAN_FLAGS) ||
	    (flags & (GM_MAP_TRANSIENT | GM_MAP_PERSISTENT)) ==
		    (GM_MAP_TRANSIENT | GM_MAP_PERSISTENT))
		return -EINVAL;
	s->addr_ = addr;
	s->len_ = len;
	s->flags_ = flags;
	s->lo_ = len;
	s->hi_ = 0;
	s->map_ = NULL;
	if (len <= GM_SPAN_INLINE) {
		s->p_ = s->buf_.b;
		if (flags & GM_PROT_READ)
			ret = gm_read(m, addr, s->p_, len);
		else
			memset(s->p_, 0, len);
	} else {
		/* Mapped with read too: a bounce buffer standing in is then filled,
		 * and what is written back between written bytes stays the guest's. */
		size_t l = len;
		s->map_ = gm_map(m, addr, &l, flags | GM_PROT_READ | GM_MAP_WHOLE, &ret);
		s->p_ = s->map_;
	}
	if (!ret)
		s->m_ = m;
	return ret;
}

GM_API int gm_span_end(gm_span *s)
{
	int ret = 0;

	if (!s || !s->m_)
		return 0;
	if (s->map_)
		gm_unmap(s->m_, s->addr_, s->map_, s->len_, s->flags_ | GM_PROT_READ, s->hi_);
	else if (s->hi_ > s->lo_)
		ret = gm_write(s->m_, s->addr_ + s->lo_, s->p_ + s->lo_, s->hi_ - s->lo_);
	s->m_ = NULL;
	return ret;
}

/* Is [off, off + len) inside @s, which allows @prot?  0 or the errno. */
static inline int span_check(const gm_span *s, size_t off, size_t len, int prot)
{
	if (!s || !s->m_)
		return -EINVAL;
	if (off > s->len_ || len > s->len_ - off)
		return -EFAULT;
	return s->flags_ & prot ? 0 : -EACCES;
}

static inline void span_dirty(gm_span *s, size_t off, size_t len)
{
	if (off < s->lo_)
		s->lo_ = off;
	if (off + len > s->hi_)
		s->hi_ = off + len;
}

GM_API int gm_span_read(const gm_span *s, size_t off, void *buf, size_t len)
{
	int ret = span_check(s, off, len, GM_PROT_READ);

	if (!ret && len && !buf)
		ret = -EINVAL;
	if (!ret && len)
		memcpy(buf, s->p_ + off, len);
	return ret;
}

GM_API int gm_span_write(gm_span *s, size_t off, const void *buf, size_t len)
{
	int ret = span_check(s, off, len, GM_PROT_WRITE);

	if (!ret && len && !buf)
		ret = -EINVAL;
	if (!ret && len) {
		memcpy(s->p_ + off, buf, len);
		span_dirty(s, off, len);
	}
	return ret;
}

/* The typed accessors: a bounds check, a memcpy of the span's bytes and a
 * byte swap where the host order differs. */
#define SPAN_RW(name, type, conv_in, conv_out)                                             \
	GM_API int gm_span_read_##name(const gm_span *s, size_t off, type *v)             \
	{                                                                                  \
		type x;                                                                    \
		int ret = span_check(s, off, sizeof(x), GM_PROT_READ);                     \
		if (ret)                                                                   \
			return ret;                                                        \
		if (!v)                                                                    \
			return -EINVAL;                                                    \
		memcpy(&x, s->p_ + off, sizeof(x));                                        \
		*v = conv_in(x);                                                           \
		return 0;                                                                  \
	}                                                                                  \
	GM_API int gm_span_write_##name(gm_span *s, size_t off, type v)                   \
	{                                                                                  \
		type x = conv_out(v);                                                      \
		int ret = span_check(s, off, sizeof(x), GM_PROT_WRITE);                    \
		if (ret)                                                                   \
			return ret;                                                        \
		memcpy(s->p_ + off, &x, sizeof(x));                                        \
		span_dirty(s, off, sizeof(x));                                             \
		return 0;                                                                  \
	}

SPAN_RW(le16, uint16_t, le16toh, htole16)
SPAN_RW(le32, uint32_t, le32toh, htole32)
SPAN_RW(le64, uint64_t, le64toh, htole64)
SPAN_RW(be16, uint16_t, be16toh, htobe16)
SPAN_RW(be32, uint32_t, be32toh, htobe32)
SPAN_RW(be64, uint64_t, be64toh, htobe64)
