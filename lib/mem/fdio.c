/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * File-descriptor transfers straight over mapped guest memory: the guest
 * range is mapped chunk by chunk (gm_map_sg-style, up to GM__FD_IOV pieces)
 * and handed to readv/writev (preadv/pwritev with an offset).
 */
#include "config.h"

#include "mem-internal.h"

#include <limits.h>
#include <unistd.h>

#define GM__FD_IOV 16

struct fd_batch {
	struct iovec iov[GM__FD_IOV];
	uint64_t addr[GM__FD_IOV];
	unsigned n;
	size_t total;
};

/*
 * Map as much of [addr, addr + len) as fits in one batch.  Returns 0 with at
 * least one iovec, or the error of the very first map.
 */
static int batch_map(gm_mem *m, uint64_t addr, size_t len, int flags, struct fd_batch *b)
{
	b->n = 0;
	b->total = 0;
	while (len && b->n < GM__FD_IOV) {
		size_t l = GM__MIN(len, (size_t)SSIZE_MAX - b->total);
		int err;
		void *p = gm_map(m, addr, &l, flags, &err);
		if (!p) {
			if (b->n)
				break; /* transfer what we have: a partial success */
			return err;
		}
		b->iov[b->n] = (struct iovec){.iov_base = p, .iov_len = l};
		b->addr[b->n++] = addr;
		b->total += l;
		addr += l;
		len -= l;
		if (b->total == SSIZE_MAX)
			break;
	}
	return 0;
}

static void batch_unmap(gm_mem *m, struct fd_batch *b, int flags, size_t done)
{
	for (unsigned i = 0; i < b->n; i++) {
		size_t acc = GM__MIN(done, b->iov[i].iov_len);
		gm_unmap(m, b->addr[i], b->iov[i].iov_base, b->iov[i].iov_len, flags, acc);
		done -= acc;
	}
}

/* One system call over one batch.  to_guest: read from @fd into memory. */
static ssize_t fd_once(gm_mem *m, uint64_t addr, int fd, off_t off, size_t len, bool to_guest)
{
	struct fd_batch b;
	int flags = to_guest ? GM_PROT_WRITE : GM_PROT_READ;
	ssize_t n;

	if (!m || fd < 0 || off < -1)
		return -EINVAL;
	if (!len)
		return 0;
	if (!gm__range_ok(addr, len))
		return -EFAULT;
	int ret = batch_map(m, addr, len, flags, &b);
	if (ret)
		return ret;
	do {
		if (to_guest)
			n = off >= 0 ? preadv(fd, b.iov, (int)b.n, off) : readv(fd, b.iov, (int)b.n);
		else
			n = off >= 0 ? pwritev(fd, b.iov, (int)b.n, off) : writev(fd, b.iov, (int)b.n);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	batch_unmap(m, &b, flags, n > 0 ? (size_t)n : 0);
	return n;
}

GM_API ssize_t gm_read_from(gm_mem *m, uint64_t addr, int fd, off_t off, size_t len)
{
	return fd_once(m, addr, fd, off, len, true);
}

GM_API ssize_t gm_write_to(gm_mem *m, uint64_t addr, int fd, off_t off, size_t len)
{
	return fd_once(m, addr, fd, off, len, false);
}

static int fd_all(gm_mem *m, uint64_t addr, int fd, off_t off, size_t len, bool to_guest)
{
	while (len) {
		ssize_t n = fd_once(m, addr, fd, off, len, to_guest);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return to_guest ? -ENODATA : -EIO;
		addr += (size_t)n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

GM_API int gm_read_exact_from(gm_mem *m, uint64_t addr, int fd, off_t off, size_t len)
{
	return fd_all(m, addr, fd, off, len, true);
}

GM_API int gm_write_all_to(gm_mem *m, uint64_t addr, int fd, off_t off, size_t len)
{
	return fd_all(m, addr, fd, off, len, false);
}
