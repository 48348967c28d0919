/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One connection of the emulated world to the hub (client.h): HELLO,
 * strictly request/reply over wire.c's framing, and a BYE that waits for
 * the hub's clean-up.  Also the eventfd that event-channel and xenstore
 * handles hand the hub in their HELLO.
 */
#include "config.h"

#include "client.h"

#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int gm__ec_open(struct econn *c, const char *path, uint32_t kind, gm_domid domid,
		const int *fds, unsigned nfds, uint64_t ram_size, int *rfd)
{
	c->fd = -1;
	c->buf = gm__malloc(GM__EMU_MSG_MAX);
	if (!c->buf)
		return -ENOMEM;
	if (pthread_mutex_init(&c->lock, NULL)) {
		free(c->buf);
		return -ENOMEM;
	}
	c->fd = gm__emu_connect(path, kind, domid, fds, nfds, ram_size, &c->hello, rfd);
	if (c->fd < 0) {
		int r = c->fd;

		pthread_mutex_destroy(&c->lock);
		free(c->buf);
		return r;
	}
	return 0;
}

void gm__ec_close(struct econn *c)
{
	if (c->fd >= 0) {
		struct gm__emu_hdr hdr = {.type = GM__EMU_BYE}, rh;
		unsigned nr;

		/* Say goodbye and wait: the hub has released everything the
		 * connection held when close returns, as a kernel device would. */
		if (gm__emu_send(c->fd, &hdr, NULL, 0, NULL, 0, 0) == 0)
			gm__emu_recv(c->fd, &rh, sizeof(rh), NULL, 0, &nr, 0);
		close(c->fd);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->buf);
}

int gm__ec_call_locked(struct econn *c, uint32_t type, uint32_t arg, const struct iovec *iov,
		       int niov, struct gm__emu_hdr *rh, int *rfds, unsigned maxfds,
		       unsigned *nrfds)
{
	struct gm__emu_hdr hdr = {.type = type, .arg = arg};
	unsigned dummy;
	int r;

	if (!nrfds)
		nrfds = &dummy;
	*nrfds = 0;
	for (int i = 0; i < niov; i++)
		hdr.len += (uint32_t)iov[i].iov_len;
	r = gm__emu_send(c->fd, &hdr, iov, niov, NULL, 0, 0);
	if (r == 0)
		r = gm__emu_recv(c->fd, c->buf, GM__EMU_MSG_MAX, rfds, maxfds, nrfds, 0);
	if (r < 0)
		return r == -EPIPE ? -ECONNRESET : r;
	memcpy(rh, c->buf, sizeof(*rh));
	r = rh->type != type ? -EPROTO : rh->status;
	if (r < 0) {
		for (unsigned i = 0; i < *nrfds; i++)
			close(rfds[i]);
		*nrfds = 0;
	}
	return r;
}

int gm__ec_call(struct econn *c, uint32_t type, uint32_t arg, const void *p, size_t len,
		struct gm__emu_hdr *rh)
{
	struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
	struct gm__emu_hdr dummy;
	int r;

	pthread_mutex_lock(&c->lock);
	r = gm__ec_call_locked(c, type, arg, &iov, len ? 1 : 0, rh ? rh : &dummy, NULL, 0, NULL);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int gm__ec_alive(struct econn *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	int r;

	/* strictly request/reply: between requests nothing is there to read
	 * but the end of the stream */
	pthread_mutex_lock(&c->lock);
	r = poll(&p, 1, 0);
	pthread_mutex_unlock(&c->lock);
	return r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) ? -ECONNRESET : 0;
}

int gm__emu_evfd_conn_open(struct emu_world *w, uint32_t kind, struct econn *c, int *evfd)
{
	int r;

	*evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*evfd < 0)
		return -errno;
	r = gm__ec_open(c, w->path, kind, w->domid, evfd, 1, 0, NULL);
	if (r < 0)
		close(*evfd);
	return r;
}

void gm__emu_evfd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		gm__dbg("emu: eventfd read: %s", strerror(errno));
}

void gm__emu_evfd_kick(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		gm__dbg("emu: eventfd write: %s", strerror(errno));
}
