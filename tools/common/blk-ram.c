// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The RAM transport (tools/blk-ram.h): grantmem-blk --transport ram serves a
 * guest whose memory is a memfd it shares with us, grantmem-guest
 * --transport ram is that guest.  Both ends of the protocol live here, so
 * that it is written down once.
 *
 * The backend end checks everything the guest sends before anything is
 * mapped or served: message sizes and headers, the number and kind of the
 * fds (a sealed memfd large enough for the memory the guest claims, and
 * eventfds), the features, the queue count and sizes.  Ring addresses are
 * checked by gm_vq_new() when the loop sets up the queues (outside the
 * memory: -EFAULT), buffer addresses by gm_vq_pop() on every request.
 * The guest's connection is a transport of the backend loop's (dev.h):
 * kicks through the kick eventfds, interrupts through the call eventfds.
 */
#include "config.h"

#include "blk-ram.h"

#include <grantmem/ram.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* the most fds a message carries: the memfd, a kick and a call per queue */
#define MAX_FDS (1 + 2 * BLK_RAM_MAX_QUEUES)

static void hdr_init(struct blk_ram_hdr *h, enum blk_ram_type type, int status)
{
	memset(h, 0, sizeof(*h));
	h->magic = BLK_RAM_MAGIC;
	h->version = BLK_RAM_VERSION;
	h->type = (uint16_t)type;
	h->status = status;
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* Send one message (one record) with @nfds fds.  0 or -errno. */
int blk_ram_send(int sock, const void *msg, size_t len, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (nfds > MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/*
 * Wait up to @timeout_ms (-1: for ever) for one message on @sock, or for
 * @stop_fd (-1: none) to become readable.  Up to @len bytes land in @buf and
 * up to @maxfds passed fds in fds[] (*nfds of them; more are closed).
 * Returns the message's full length (> @len: it was cut), 0 when the peer
 * closed the connection, -ECANCELED (stop_fd), -ETIMEDOUT, -EPROTO (fds
 * lost or too many: none kept), or -errno.
 */
static ssize_t recv_msg(int sock, void *buf, size_t len, int *fds, unsigned maxfds,
			unsigned *nfds, int stop_fd, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
	bool bad = false;
	unsigned got = 0;
	ssize_t n;
	int r;

	*nfds = 0;
	do
		r = poll(p, stop_fd >= 0 ? 2 : 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	if (stop_fd >= 0 && p[1].revents)
		return -ECANCELED;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		const unsigned char *d = CMSG_DATA(c);
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, d + i * sizeof(int), sizeof(fd));
			if (got < maxfds)
				fds[got++] = fd;
			else {
				close(fd);
				bad = true;
			}
		}
	}
	if (bad || (mh.msg_flags & MSG_CTRUNC)) {
		close_fds(fds, got);
		return -EPROTO;
	}
	*nfds = got;
	return n;
}

/* Is @n bytes at @h a message of @type and size @size? 0 or -errno. */
static int check_hdr(const struct blk_ram_hdr *h, ssize_t n, enum blk_ram_type type, size_t size)
{
	if (n < (ssize_t)sizeof(*h))
		return -EBADMSG;
	if (h->magic != BLK_RAM_MAGIC || h->version != BLK_RAM_VERSION || h->type != type)
		return -EPROTO;
	return (size_t)n == size ? 0 : -EBADMSG;
}

/* ---- backend ------------------------------------------------------------------- */

static int refuse(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("grantmem-blk: ram: refusing the guest: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (%s)\n", gm_strerror(err));
	return err;
}

static bool is_eventfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return !strcmp(link, "anon_inode:[eventfd]");
}

/* The memfd: a sealed file holding at least @size bytes.  0 or -errno. */
static int check_memfd(int fd, uint64_t size)
{
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0)
		return refuse(-errno, "cannot stat the memory fd");
	if (!S_ISREG(st.st_mode))
		return refuse(-EINVAL, "the memory fd is not a memfd");
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return refuse(-EPERM, "the memfd is not sealed against shrinking (F_SEAL_SHRINK)");
	if ((uint64_t)st.st_size < size)
		return refuse(-EINVAL, "%" PRIu64 " bytes of memory claimed, the memfd has %jd",
			      size, (intmax_t)st.st_size);
	return 0;
}

/* One guest, once its SETUP has been checked: what the loop needs. */
struct ram_guest {
	unsigned num_queues;
	struct gm_vq_config vq[BLK_RAM_MAX_QUEUES]; /* size, ring addresses, features */
	int kick[BLK_RAM_MAX_QUEUES]; /* readable: the driver kicked (non-blocking eventfd) */
	int call[BLK_RAM_MAX_QUEUES]; /* write 1: interrupt the driver (non-blocking eventfd) */
};

/*
 * Check SETUP (@n bytes, @nfds fds: memfd, kick/call pairs) and fill @dev.
 * 0 or -errno with one line logged.
 */
static int check_setup(const struct gm_dev_config *dc, uint64_t offered,
		       const struct blk_ram_setup *s, ssize_t n, const int *fds, unsigned nfds,
		       struct ram_guest *dev)
{
	uint64_t page = GM_PAGE_SIZE;
	int r;

	if (n > (ssize_t)sizeof(*s))
		return refuse(-EBADMSG, "a %zd-byte message, SETUP has %zu", n, sizeof(*s));
	if ((r = check_hdr(&s->h, n, BLK_RAM_SETUP, sizeof(*s))) < 0)
		return refuse(r, "expected SETUP (%zu bytes), got %zd bytes%s", sizeof(*s), n,
			      r == -EPROTO ? " of something else" : "");
	if (s->num_queues < 1 || s->num_queues > dc->max_queues)
		return refuse(-EINVAL, "%" PRIu32 " queues (1..%u)", s->num_queues, dc->max_queues);
	if (nfds != 1 + 2 * s->num_queues)
		return refuse(-EINVAL, "%u fds for %" PRIu32 " queues (want %" PRIu32 ")", nfds,
			      s->num_queues, 1 + 2 * s->num_queues);
	if ((s->features & ~offered) || !(s->features & GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1)))
		return refuse(-EINVAL, "features %#" PRIx64 " (offered %#" PRIx64
			      ", VERSION_1 required)", s->features, offered);
	if (!s->mem_size || (s->mem_base | s->mem_size) & (page - 1) ||
	    (size_t)s->mem_size != s->mem_size || s->mem_base + s->mem_size < s->mem_base)
		return refuse(-EINVAL, "memory [%#" PRIx64 ", +%#" PRIx64 ")", s->mem_base,
			      s->mem_size);
	if ((r = check_memfd(fds[0], s->mem_size)) < 0)
		return r;
	for (unsigned i = 1; i < nfds; i++) {
		int fl = fcntl(fds[i], F_GETFL);

		if (!is_eventfd(fds[i]))
			return refuse(-EINVAL, "queue %u's %s fd is not an eventfd", (i - 1) / 2,
				      i % 2 ? "kick" : "call");
		/* a guest that lets the counter fill up must not block our threads */
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
			return refuse(-errno, "queue %u: fcntl", (i - 1) / 2);
	}
	memset(dev, 0, sizeof(*dev));
	dev->num_queues = s->num_queues;
	for (unsigned i = 0; i < s->num_queues; i++) {
		const struct blk_ram_queue *q = &s->q[i];

		if (q->size < 1 || q->size > dc->max_queue_size)
			return refuse(-EINVAL, "queue %u: size %" PRIu32 " (1..%u)", i, q->size,
				      dc->max_queue_size);
		dev->vq[i] = (struct gm_vq_config){
			.size = q->size,
			.desc_addr = q->desc,
			.driver_addr = q->driver,
			.device_addr = q->device,
			.features = s->features,
		};
		dev->kick[i] = fds[1 + 2 * i];
		dev->call[i] = fds[2 + 2 * i];
	}
	return 0;
}

/* ---- the guest's connection, as the loop's transport ---- */

static int ram_ack(void *opaque, unsigned q)
{
	const struct ram_guest *g = opaque;
	uint64_t n;

	/* EAGAIN: another wakeup took the count already */
	return read(g->kick[q], &n, sizeof(n)) < 0 ? -errno : 0;
}

static int ram_notify(void *opaque, unsigned q)
{
	const struct ram_guest *g = opaque;
	uint64_t one = 1;

	/* EAGAIN: a counter the guest never reads is full; it has interrupts to see */
	if (write(g->call[q], &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static const struct gm_dev_transport ram_transport = {
	.ack = ram_ack,
	.notify = ram_notify,
};

/* Attach the guest to the device and serve its queues.  0 or -errno. */
static int serve(const struct blk_ram_opts *o, gm_mem *mem, struct ram_guest *g,
		 gm_dev_conn **out)
{
	struct gm_dev_attach a = {
		.size = sizeof(a),
		.name = "RAM guest",
		.mem = mem,
		.ops = &ram_transport,
		.opaque = g,
	};
	int r = gm_dev_attach(o->dev, &a, out);

	for (unsigned i = 0; !r && i < g->num_queues; i++)
		r = gm_dev_conn_add_queue(*out, i, &g->vq[i], g->kick[i]);
	if (r) {
		gm_dev_detach(*out);
		*out = NULL;
	}
	return r;
}

static int send_status(int sock, enum blk_ram_type type, int status)
{
	struct blk_ram_hdr h;

	hdr_init(&h, type, status);
	return blk_ram_send(sock, &h, sizeof(h), NULL, 0);
}

/*
 * One guest, from HELLO to the end of its connection.  Returns -ECANCELED
 * when stop_fd fired, else 0 or the errno the guest was refused with.
 */
static int session(const struct blk_ram_opts *o, int sock)
{
	const struct gm_dev_config *dc = gm_dev_get_config(o->dev);
	uint64_t offered = dc->features | o->features | GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1);
	struct blk_ram_hello hello;
	struct blk_ram_setup *s = NULL;
	struct ram_guest dev;
	struct blk_ram_hdr h;
	gm_region *ram = NULL;
	gm_space *space = NULL;
	gm_dev_conn *conn = NULL;
	int fds[MAX_FDS];
	unsigned nfds = 0;
	bool closing = false;
	ssize_t n;
	int r;

	memset(&hello, 0, sizeof(hello));
	hdr_init(&hello.h, BLK_RAM_HELLO, 0);
	hello.device_id = dc->device_id;
	hello.max_queues = dc->max_queues;
	hello.max_queue_size = dc->max_queue_size;
	hello.features = offered;
	hello.config_len = (uint32_t)dc->config_len;
	/* the config space of now: it may have changed since the device was made */
	gm_dev_read_config(o->dev, hello.config, dc->config_len, NULL);
	if ((r = blk_ram_send(sock, &hello, sizeof(hello), NULL, 0)) < 0)
		return refuse(r, "cannot send HELLO");

	/* one byte more than SETUP: a longer message shows as longer */
	if (!(s = calloc(1, sizeof(*s) + 1)))
		return refuse(-ENOMEM, "no memory for SETUP");
	n = recv_msg(sock, s, sizeof(*s) + 1, fds, MAX_FDS, &nfds, o->stop_fd, -1);
	if (n == -ECANCELED) {
		free(s);
		return n;
	}
	if (n <= 0)
		r = refuse(n ? (int)n : -ECONNRESET, "no SETUP");
	else if ((r = check_setup(dc, offered, s, n, fds, nfds, &dev)) == 0 &&
		 (r = gm_ram_region_new_memfd(fds[0], 0, (size_t)s->mem_size, GM_PROT_RW,
					      &ram)) < 0)
		refuse(r, "cannot map %" PRIu64 " bytes of the memfd", s->mem_size);
	if (r == 0 && ((r = gm_space_new(&space)) < 0 ||
		       (r = gm_space_add(space, s->mem_base, ram)) < 0))
		refuse(r, "cannot place the memory at %#" PRIx64, s->mem_base);
	/* rings outside the memory, misaligned, bad sizes: gm_vq_new says no */
	if (r == 0 && (r = serve(o, gm_space_mem(space), &dev, &conn)) < 0)
		refuse(r, "the device cannot serve its queues");
	free(s);
	if (nfds)
		close(fds[0]); /* mapped now, or refused */
	send_status(sock, BLK_RAM_READY, r);
	if (r < 0)
		goto out;

	/* serving: the guest says CLOSE or goes away */
	n = recv_msg(sock, &h, sizeof(h), NULL, 0, &(unsigned){0}, o->stop_fd, -1);
	if (n > 0 && check_hdr(&h, n, BLK_RAM_CLOSE, sizeof(h)) == 0)
		closing = true;
	else if (n > 0 || (n < 0 && n != -ECANCELED))
		fprintf(stderr, "grantmem-blk: ram: disconnecting the guest: %s instead of CLOSE\n",
			n > 0 ? "a bad message" : gm_strerror((int)n));
	gm_dev_detach(conn); /* every queue stopped, every mapping released */
	if (closing)
		send_status(sock, BLK_RAM_CLOSED, 0);
	r = n == -ECANCELED ? -ECANCELED : 0;
out:
	gm_space_free(space);
	gm_region_free(ram);
	if (nfds > 1)
		close_fds(fds + 1, nfds - 1);
	return r;
}

int blk_ram_run(const struct blk_ram_opts *o)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int lfd, r = 0;

	if (strlen(o->socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "grantmem-blk: socket path too long: %s\n", o->socket);
		return 1;
	}
	strcpy(sa.sun_path, o->socket);
	/* a socket left by an earlier run that died; never anything else */
	if (lstat(o->socket, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(o->socket);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
		fprintf(stderr, "grantmem-blk: %s: %s\n", o->socket, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return 1;
	}
	printf("grantmem-blk: serving plain shared RAM guests on %s\n", o->socket);
	fflush(stdout);
	while (r != -ECANCELED) {
		struct pollfd p[2] = {{.fd = lfd, .events = POLLIN},
				      {.fd = o->stop_fd, .events = POLLIN}};
		int c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		r = session(o, c);
		close(c);
	}
	close(lfd);
	unlink(o->socket);
	return 0;
}

/* ---- guest --------------------------------------------------------------------- */

void blk_ram_guest_init(struct blk_ram_guest *g)
{
	memset(g, 0, sizeof(*g));
	g->sock = -1;
	g->memfd = -1;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int blk_ram_guest_connect(struct blk_ram_guest *g, const char *path, struct gm_vdev_back_info *bi,
			  int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	double deadline = mono_ms() + timeout_ms;
	struct blk_ram_hello hello;
	unsigned nfds;
	ssize_t n;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	/* the backend may still be starting: retry until the deadline */
	for (;;) {
		g->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (g->sock < 0)
			return -errno;
		if (connect(g->sock, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		r = -errno;
		close(g->sock);
		g->sock = -1;
		if ((r != -ENOENT && r != -ECONNREFUSED) || mono_ms() > deadline)
			return r;
		usleep(20000);
	}
	n = recv_msg(g->sock, &hello, sizeof(hello), NULL, 0, &nfds, -1,
		     (int)(deadline > mono_ms() ? deadline - mono_ms() : 0) + 1);
	if (n == 0)
		r = -ECONNRESET;
	else if (n < 0)
		r = (int)n;
	else if ((r = check_hdr(&hello.h, n, BLK_RAM_HELLO, sizeof(hello))) == 0 &&
		 (hello.config_len > BLK_RAM_CONFIG_MAX || hello.max_queues < 1 ||
		  hello.max_queues > BLK_RAM_MAX_QUEUES || hello.max_queue_size < 1 ||
		  hello.max_queue_size > GM_VQ_MAX_SIZE))
		r = -EINVAL;
	if (r < 0) {
		close(g->sock);
		g->sock = -1;
		return r;
	}
	memset(bi, 0, sizeof(*bi));
	bi->device_id = hello.device_id;
	bi->features = hello.features;
	bi->max_queues = hello.max_queues;
	bi->max_queue_size = hello.max_queue_size;
	bi->layouts = 1u << GM_VDEV_SPLIT;
	if (hello.features & GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED))
		bi->layouts |= 1u << GM_VDEV_PACKED;
	bi->config_len = hello.config_len;
	memcpy(bi->config, hello.config, hello.config_len);
	return 0;
}

int blk_ram_guest_mem(struct blk_ram_guest *g, uint64_t base, size_t size)
{
	size = (size + GM_PAGE_SIZE - 1) & ~(size_t)(GM_PAGE_SIZE - 1);
	if (!size || (base & (GM_PAGE_SIZE - 1)) || base + size < base)
		return -EINVAL;
	g->memfd = memfd_create("grantmem-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (g->memfd < 0)
		return -errno;
	if (ftruncate(g->memfd, (off_t)size) < 0 ||
	    fcntl(g->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	g->va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
	if (g->va == MAP_FAILED) {
		g->va = NULL;
		goto fail;
	}
	g->base = base;
	g->size = size;
	g->used = 0;
	return 0;
fail: {
	int r = -errno;

	close(g->memfd);
	g->memfd = -1;
	return r;
}
}

void *blk_ram_guest_alloc(struct blk_ram_guest *g, size_t bytes, uint64_t *gpa)
{
	uint64_t len = ((uint64_t)bytes + GM_PAGE_SIZE - 1) & ~(uint64_t)(GM_PAGE_SIZE - 1);
	void *p;

	if (!g->va || !len || len > g->size - g->used)
		return NULL;
	p = g->va + g->used;
	*gpa = g->base + g->used;
	g->used += len;
	return p;
}

int blk_ram_guest_setup(struct blk_ram_guest *g, const struct gm_vdev_front_info *fi,
			const int *kick, const int *call, int timeout_ms)
{
	struct blk_ram_setup *s;
	struct blk_ram_hdr h;
	int fds[MAX_FDS];
	unsigned nfds;
	ssize_t n;
	int r;

	if (g->sock < 0 || g->memfd < 0 || fi->num_queues < 1 ||
	    fi->num_queues > BLK_RAM_MAX_QUEUES)
		return -EINVAL;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	hdr_init(&s->h, BLK_RAM_SETUP, 0);
	s->features = fi->features;
	s->mem_base = g->base;
	s->mem_size = g->size;
	s->num_queues = fi->num_queues;
	fds[0] = g->memfd;
	for (unsigned i = 0; i < fi->num_queues; i++) {
		const struct gm_vdev_queue_info *q = &fi->queues[i];

		s->q[i] = (struct blk_ram_queue){
			.size = q->size, .desc = q->desc, .driver = q->driver, .device = q->device,
		};
		fds[1 + 2 * i] = kick[i];
		fds[2 + 2 * i] = call[i];
	}
	r = blk_ram_send(g->sock, s, sizeof(*s), fds, 1 + 2 * fi->num_queues);
	free(s);
	if (r < 0)
		return r;
	n = recv_msg(g->sock, &h, sizeof(h), NULL, 0, &nfds, -1, timeout_ms);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return (int)n;
	if ((r = check_hdr(&h, n, BLK_RAM_READY, sizeof(h))) < 0)
		return r;
	return h.status > 0 ? -EPROTO : h.status;
}

bool blk_ram_guest_lost(struct blk_ram_guest *g)
{
	struct pollfd p = {.fd = g->sock, .events = POLLIN};

	/* while it serves us, the backend says nothing: anything is an end */
	return g->sock < 0 || poll(&p, 1, 0) != 0;
}

int blk_ram_guest_close(struct blk_ram_guest *g, int timeout_ms)
{
	struct blk_ram_hdr h;
	unsigned nfds;
	ssize_t n;
	int r;

	if (g->sock < 0)
		return -ENOTCONN;
	hdr_init(&h, BLK_RAM_CLOSE, 0);
	r = blk_ram_send(g->sock, &h, sizeof(h), NULL, 0);
	if (r == 0) {
		n = recv_msg(g->sock, &h, sizeof(h), NULL, 0, &nfds, -1, timeout_ms);
		if (n == 0)
			r = -EPIPE;
		else if (n < 0)
			r = (int)n;
		else
			r = check_hdr(&h, n, BLK_RAM_CLOSED, sizeof(h));
	}
	close(g->sock);
	g->sock = -1;
	return r;
}

void blk_ram_guest_free_mem(struct blk_ram_guest *g)
{
	if (g->va)
		munmap(g->va, g->size);
	if (g->memfd >= 0)
		close(g->memfd);
	g->va = NULL;
	g->memfd = -1;
	g->size = g->used = 0;
}
