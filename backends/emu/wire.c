/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated Xen's message framing (proto.h), shared by the hub and the
 * world's handles: one message per sendmsg() with its file descriptors, and
 * the connect-and-HELLO every connection starts with.
 */
#include "config.h"

#include "wire.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int gm__emu_send(int fd, const struct gm__emu_hdr *hdr, const struct iovec *iov, int niov,
		 const int *fds, unsigned nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * GM__EMU_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec v[8];
	struct msghdr m = {.msg_iov = v};
	size_t total = sizeof(*hdr);
	ssize_t n;

	if (niov > 7 || nfds > GM__EMU_MAX_FDS)
		return -EINVAL;
	v[0].iov_base = (void *)hdr;
	v[0].iov_len = sizeof(*hdr);
	for (int i = 0; i < niov; i++) {
		v[i + 1] = iov[i];
		total += iov[i].iov_len;
	}
	if (total > GM__EMU_MSG_MAX)
		return -EMSGSIZE;
	m.msg_iovlen = (size_t)niov + 1;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(fd, &m, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE ? -ECONNRESET : -errno;
	return (size_t)n == total ? 0 : -EPROTO;
}

int gm__emu_recv(int fd, void *buf, size_t cap, int *fds, unsigned maxfds, unsigned *nfds,
		 int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * GM__EMU_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec v = {.iov_base = buf, .iov_len = cap};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	struct gm__emu_hdr hdr;
	unsigned got = 0;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		for (unsigned i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
			if (got < maxfds)
				fds[got++] = f;
			else
				close(f); /* more than the caller takes */
		}
	}
	*nfds = got;
	if (n == 0)
		goto reset;
	if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(hdr))
		goto bad;
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.len != (size_t)n - sizeof(hdr))
		goto bad;
	return 0;
reset:
	n = -ECONNRESET;
	goto drop;
bad:
	n = -EPROTO;
drop:
	for (unsigned i = 0; i < got; i++)
		close(fds[i]);
	*nfds = 0;
	return (int)n;
}

int gm__emu_connect(const char *path, uint32_t kind, gm_domid domid, const int *fds,
		    unsigned nfds, uint64_t ram_size, struct gm__emu_hello_rep *rep, int *rfd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct gm__emu_hello hello = {.magic = GM__EMU_MAGIC, .version = GM__EMU_VERSION,
				      .kind = kind, .domid = domid, .ram_size = ram_size};
	struct gm__emu_hdr hdr = {.type = GM__EMU_HELLO, .len = sizeof(hello)};
	struct iovec iov = {.iov_base = &hello, .iov_len = sizeof(hello)};
	unsigned char buf[256];
	int got[GM__EMU_MAX_FDS];
	unsigned nr = 0;
	int fd, r;

	if (rfd)
		*rfd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto fail;
	}
	r = gm__emu_send(fd, &hdr, &iov, 1, fds, nfds, 0);
	if (r == 0)
		r = gm__emu_recv(fd, buf, sizeof(buf), got, GM__EMU_MAX_FDS, &nr, 0);
	if (r == 0) {
		memcpy(&hdr, buf, sizeof(hdr));
		r = hdr.type != GM__EMU_HELLO ? -EPROTO : hdr.status;
		if (r == 0 && hdr.len != sizeof(*rep))
			r = -EPROTO;
		if (r == 0 && rep)
			memcpy(rep, buf + sizeof(hdr), sizeof(*rep));
	}
	for (unsigned i = 0; i < nr; i++) {
		if (r == 0 && rfd && *rfd < 0)
			*rfd = got[i];
		else
			close(got[i]);
	}
	if (r == 0)
		return fd;
fail:
	close(fd);
	return r > 0 ? -EPROTO : r;
}
