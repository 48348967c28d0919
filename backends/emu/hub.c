/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated-Xen hub's connections (hub-internal.h): HELLO, dispatching
 * requests to the xenstore, grant-table and event-channel files, the poll
 * loop, listening, and clean-up when a peer goes.  See proto.h for the
 * protocol and include/grantmem/emu.h for the semantics it promises.
 */
#include "config.h"

#include "hub.h"
#include "hub-internal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int h_info(struct hub *h, struct rq *q)
{
	struct gm__emu_info info = {0};
	struct domain *d;

	d = q->arg <= 0xffff ? gm__hub_dom_find(h, q->arg) : NULL;
	if (d) {
		info.exists = 1;
		info.dying = d->dying;
		info.connections = d->nconns;
		gm__hub_dom_counts(d, &info.grants, &info.mapped, &info.maps);
		info.ports = gm__hub_evt_ports(d);
		for (struct conn *c = h->conns; c; c = c->next)
			if (c->dom == d)
				info.watches += c->nwatches;
	}
	memcpy(q->out, &info, sizeof(info));
	q->olen = sizeof(info);
	return 0;
}

static int h_hello(struct hub *h, struct rq *q)
{
	struct gm__emu_hello hello;
	struct gm__emu_hello_rep rep = {.id = q->c->id};
	int r = 0;

	if (q->c->kind || q->len != sizeof(hello))
		return -EPROTO;
	memcpy(&hello, q->p, sizeof(hello));
	if (hello.magic != GM__EMU_MAGIC || hello.version != GM__EMU_VERSION)
		return -EPROTO;
	if (hello.kind < GM__EMU_K_CONTROL || hello.kind > GM__EMU_K_XS)
		return -EINVAL;
	bool want_fd = hello.kind >= GM__EMU_K_GNTSHR;
	if (q->nfds != (want_fd ? 1u : 0u))
		return -EINVAL;
	if (hello.kind != GM__EMU_K_CONTROL && (r = gm__hub_dom_join(h, q->c, hello.domid)) < 0)
		return r;
	if (hello.kind == GM__EMU_K_GNTTAB || hello.kind == GM__EMU_K_GNTSHR) {
		r = gm__hub_gnt_hello(h, q, &hello, &rep);
	} else if (want_fd) {
		/* an eventfd: never let a write to it block the hub */
		int fl = fcntl(q->fds[0], F_GETFL);

		if (fl < 0 || fcntl(q->fds[0], F_SETFL, fl | O_NONBLOCK) < 0) {
			r = -EINVAL;
		} else {
			q->c->evfd = q->fds[0];
			q->fds[0] = -1;
		}
	}
	if (r < 0) {
		gm__hub_dom_leave(h, q->c->dom);
		q->c->dom = NULL;
		return r;
	}
	q->c->kind = hello.kind;
	memcpy(q->out, &rep, sizeof(rep));
	q->olen = sizeof(rep);
	return 0;
}

static void conn_destroy(struct hub *h, struct conn *c)
{
	gm__hub_gnt_release(h, c);
	gm__hub_evt_release(h, c);
	gm__hub_xs_release(h, c);
	if (c->dom)
		gm__hub_dom_leave(h, c->dom);
	if (c->evfd >= 0)
		close(c->evfd);
	close(c->fd);
	free(c);
	h->nconns--;
}

static int dispatch(struct hub *h, struct rq *q)
{
	if (!q->c->kind && q->type != GM__EMU_HELLO)
		return -EPROTO;
	/* a dying domain's last unmap happens in its mapper: before anything
	 * that answers about domains, see which went */
	if (q->type == GM__EMU_HELLO || q->type == GM__EMU_INFO || q->type == GM__EMU_DOM_OPEN)
		gm__hub_gnt_sweep(h);
	switch (q->type) {
	case GM__EMU_HELLO:
		return h_hello(h, q);
	case GM__EMU_SHUTDOWN:
		h->running = false;
		return 0;
	case GM__EMU_BYE:
		/* destroyed before the next poll(): whatever the client asks
		 * next on another connection sees the cleanup done */
		q->c->dead = true;
		return 0;
	case GM__EMU_INFO:
		return h_info(h, q);
	case GM__EMU_DOM_OPEN:
	case GM__EMU_DOM_RAM:
		return gm__hub_dom_request(h, q);
	}
	if (q->type >= GM__EMU_EVT_BIND_UNBOUND && q->type <= GM__EMU_EVT_PEER)
		return gm__hub_evt_request(h, q);
	if (q->type >= GM__EMU_XS_READ && q->type <= GM__EMU_XS_TX_END)
		return gm__hub_xs_request(h, q);
	return -EINVAL;
}

/* Serve one message of @c; false when the connection must go. */
static bool conn_serve(struct hub *h, struct conn *c)
{
	struct gm__emu_hdr hdr, rep;
	int fds[GM__EMU_MAX_FDS];
	unsigned nfds = 0;
	struct rq q;
	struct iovec iov;
	int r = gm__emu_recv(c->fd, h->in, GM__EMU_MSG_MAX, fds, GM__EMU_MAX_FDS, &nfds,
			     MSG_DONTWAIT);

	if (r == -EAGAIN || r == -EINTR)
		return true;
	if (r < 0)
		return false;
	memcpy(&hdr, h->in, sizeof(hdr));
	memset(&q, 0, sizeof(q));
	q.c = c;
	q.type = hdr.type;
	q.arg = hdr.arg;
	q.len = hdr.len;
	q.p = h->in + sizeof(hdr);
	q.fds = fds;
	q.nfds = nfds;
	q.out = h->out + sizeof(hdr);
	r = dispatch(h, &q);
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	rep.type = hdr.type;
	rep.status = r;
	rep.len = r < 0 && r != -EAGAIN ? 0 : q.olen;
	rep.arg = q.oarg;
	iov.iov_base = q.out;
	iov.iov_len = rep.len;
	if (r < 0)
		q.nofds = 0;
	if (gm__emu_send(c->fd, &rep, &iov, 1, q.ofds, q.nofds, MSG_DONTWAIT) < 0)
		return false; /* a peer that does not read its replies */
	return !(q.type == GM__EMU_HELLO && r < 0) && !c->dead;
}

static void hub_accept(struct hub *h)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct conn *c;
	int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (h->nconns >= CONN_MAX || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    !(c = calloc(1, sizeof(*c)))) {
		gm__warn("emu hub: connection refused (%u open)", h->nconns);
		close(fd);
		return;
	}
	c->fd = fd;
	c->evfd = -1;
	c->mt_fd = -1;
	c->pid = cred.pid;
	do
		c->id = ++h->next_id;
	while (!c->id);
	c->wq_tail = &c->wq;
	c->next = h->conns;
	h->conns = c;
	h->nconns++;
}

static void hub_loop(struct hub *h)
{
	struct pollfd *pfd = calloc(CONN_MAX + 2, sizeof(*pfd));
	struct conn **who = calloc(CONN_MAX + 2, sizeof(*who));
	bool dying = false;

	if (!pfd || !who) {
		gm__err("emu hub: out of memory");
		goto out;
	}

	while (h->running) {
		bool gone = false;
		unsigned n = 2;
		int k;

		pfd[0] = (struct pollfd){.fd = h->lfd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = h->sfd, .events = POLLIN};
		for (struct conn *c = h->conns; c; c = c->next) {
			pfd[n] = (struct pollfd){.fd = c->fd, .events = POLLIN};
			who[n++] = c;
		}
		/* a dying domain goes with its last unmap, which only its
		 * mapper sees: look now and then when nobody asks */
		k = poll(pfd, n, dying ? 500 : -1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			gm__err("emu hub: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(h->sfd, &si, sizeof(si)) > 0)
				h->running = false;
		}
		for (unsigned i = 2; i < n && h->running; i++) {
			if (pfd[i].revents & POLLIN) {
				if (!conn_serve(h, who[i]))
					who[i]->dead = true;
			} else if (pfd[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
				who[i]->dead = true;
			}
		}
		/* A dead peer leaves nothing behind: what its mappings held goes
		 * first, all gone mappers at once, settled against the live ones */
		gm__hub_gnt_gone(h);
		for (struct conn **pp = &h->conns; *pp;) {
			struct conn *c = *pp;

			if (c->dead) {
				*pp = c->next;
				conn_destroy(h, c);
				gone = true;
			} else {
				pp = &c->next;
			}
		}
		if (gone || (dying && !k))
			dying = gm__hub_gnt_sweep(h);
		if (pfd[0].revents & POLLIN)
			hub_accept(h);
	}
out:
	free(pfd);
	free(who);
}

/* Is @path the socket @st describes (same file, still a socket)? */
static bool same_socket(const char *path, const struct stat *st)
{
	struct stat now;

	return lstat(path, &now) == 0 && S_ISSOCK(now.st_mode) && now.st_dev == st->st_dev &&
	       now.st_ino == st->st_ino;
}

/*
 * Listen at @path.  A socket nobody listens on is stale and replaced;
 * anything else found there is left alone: a file, a directory or a
 * symbolic link gives -ENOTSOCK, a live hub -EADDRINUSE.  *st gets the
 * socket's identity, so that the hub removes only its own socket at exit.
 */
static int hub_listen(const char *path, struct stat *st)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		struct stat old;
		int probe;

		if (errno != EADDRINUSE)
			goto fail;
		/* only ever replace a socket: whatever else is there is someone's */
		if (lstat(path, &old) < 0)
			goto fail;
		if (!S_ISSOCK(old.st_mode)) {
			close(fd);
			return -ENOTSOCK;
		}
		/* a stale socket, or a live hub? */
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		r = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (r) {
			close(fd);
			return -EADDRINUSE;
		}
		/* the socket probed, unless it was replaced meanwhile */
		if (!same_socket(path, &old)) {
			close(fd);
			return -EADDRINUSE;
		}
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	}
	if (listen(fd, 64) < 0 || lstat(path, st) < 0)
		goto fail;
	return fd;
fail:
	r = -errno;
	close(fd);
	return r;
}

static void hub_free(struct hub *h)
{
	while (h->conns) {
		struct conn *c = h->conns;

		h->conns = c->next;
		conn_destroy(h, c);
	}
	while (h->doms)
		gm__hub_dom_free(h, h->doms);
	gm__hub_xs_free(h);
	free(h->in);
	free(h->out);
}

int gm__emu_hub_main(const char *path, int ready_fd)
{
	struct hub h = {.lfd = -1, .sfd = -1, .running = true, .gen = 1};
	struct stat st;
	sigset_t set;
	int r, zero = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	h.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	h.in = malloc(GM__EMU_MSG_MAX);
	h.out = malloc(GM__EMU_MSG_MAX);
	if (h.sfd < 0 || !h.in || !h.out) {
		r = h.sfd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	if (gm__hub_xs_init(&h) < 0 || !gm__hub_dom_create(&h, 0, getpid())) {
		r = -ENOMEM;
		goto out;
	}
	r = hub_listen(path, &st);
	if (r < 0)
		goto out;
	h.lfd = r;
	r = 0;
	if (ready_fd >= 0 && write(ready_fd, &zero, sizeof(zero)) != sizeof(zero))
		gm__warn("emu hub: cannot signal readiness: %s", strerror(errno));
	hub_loop(&h);
	if (same_socket(path, &st))
		unlink(path);
out:
	hub_free(&h);
	if (h.lfd >= 0)
		close(h.lfd);
	if (h.sfd >= 0)
		close(h.sfd);
	return r;
}

