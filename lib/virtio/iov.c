/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iovec helpers (virtio.h): a request's iovecs gathered into a buffer,
 * scattered from one, and sliced (a header or status byte off).
 */
#include "config.h"

#include "base/base.h"

#include <grantmem/virtio.h>

#include <string.h>

GM_API size_t gm_iov_size(const struct iovec *iov, unsigned n)
{
	size_t t = 0;

	for (unsigned i = 0; iov && i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Copy between the list and @buf from byte @off: to @buf, or from it. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len,
		       bool to_buf)
{
	unsigned char *b = buf;
	size_t done = 0;

	for (unsigned i = 0; iov && i < n && done < len; i++) {
		size_t l;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		l = GM__MIN(iov[i].iov_len - off, len - done);
		if (to_buf)
			memcpy(b + done, (const unsigned char *)iov[i].iov_base + off, l);
		else
			memcpy((unsigned char *)iov[i].iov_base + off, b + done, l);
		done += l;
		off = 0;
	}
	return done;
}

GM_API size_t gm_iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf,
			    size_t len)
{
	return buf ? iov_copy(iov, n, off, buf, len, true) : 0;
}

GM_API size_t gm_iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf,
			      size_t len)
{
	return buf ? iov_copy(iov, n, off, (void *)buf, len, false) : 0;
}

GM_API int gm_iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
			struct iovec *out, unsigned max)
{
	unsigned k = 0;

	if (off > gm_iov_size(iov, n) || len > gm_iov_size(iov, n) - off)
		return -EFAULT;
	for (unsigned i = 0; i < n && len; i++) {
		size_t l;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		if (k == max)
			return -E2BIG;
		l = GM__MIN(iov[i].iov_len - off, len);
		out[k++] = (struct iovec){.iov_base = (unsigned char *)iov[i].iov_base + off,
					  .iov_len = l};
		len -= l;
		off = 0;
	}
	return (int)k;
}
