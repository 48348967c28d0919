// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * grantmem-net's link watcher (net-link.h).
 */
#include "config.h"

#include "net-link.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

/* Ask for the interface's state (the answer comes as an RTM_NEWLINK). */
static int query(struct net_link *l)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
		struct rtattr a;
		int32_t nsid;
	} m;
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};

	memset(&m, 0, sizeof(m));
	m.h.nlmsg_len = NLMSG_LENGTH(sizeof(m.i));
	m.h.nlmsg_type = RTM_GETLINK;
	m.h.nlmsg_flags = NLM_F_REQUEST;
	m.h.nlmsg_seq = ++l->seq;
	m.i.ifi_family = AF_UNSPEC;
	m.i.ifi_index = l->ifindex;
	if (l->nsid >= 0) {
		/* in the namespace it moved to */
		m.a.rta_type = IFLA_TARGET_NETNSID;
		m.a.rta_len = RTA_LENGTH(sizeof(m.nsid));
		m.nsid = l->nsid;
		m.h.nlmsg_len = NLMSG_ALIGN(m.h.nlmsg_len) + m.a.rta_len;
	}
	if (sendto(l->fd, &m, m.h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

/* An int32 attribute of a link message, or @def. */
static int32_t attr_s32(struct nlmsghdr *h, unsigned type, int32_t def)
{
	struct ifinfomsg *i = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*i));
	int32_t v;

	for (struct rtattr *a = IFLA_RTA(i); len > 0 && RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == type && RTA_PAYLOAD(a) >= sizeof(v)) {
			memcpy(&v, RTA_DATA(a), sizeof(v));
			return v;
		}
	return def;
}

/* One message, from namespace @nsid (-1: ours).  Returns -errno of an
 * answer to our query, else 0. */
static int message(struct net_link *l, struct nlmsghdr *h, int nsid)
{
	bool answer = h->nlmsg_pid != 0 && h->nlmsg_seq == l->seq;
	struct ifinfomsg *i = NLMSG_DATA(h);

	if (h->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(h);

		return answer && h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) ? e->error : 0;
	}
	if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(*i)) || l->lost)
		return 0;
	if (!answer && (nsid != l->nsid || i->ifi_index != l->ifindex))
		return 0;
	if (h->nlmsg_type == RTM_NEWLINK) {
		l->up = (i->ifi_flags & IFF_UP) && (i->ifi_flags & IFF_LOWER_UP);
		return 0;
	}
	/* gone: deleted, or moved to another namespace (closed on the way) */
	int32_t to = attr_s32(h, IFLA_NEW_NETNSID, -1);

	l->up = false;
	if (to < 0)
		return 0;
	if (l->all_nsid && l->nsid < 0) {
		l->nsid = to;
		l->ifindex = attr_s32(h, IFLA_NEW_IFINDEX, l->ifindex);
	} else {
		/* where we hear nothing, or an id of another namespace's numbering */
		l->lost = true;
		l->up = true;
	}
	return 0;
}

int net_link_process(struct net_link *l)
{
	bool was = l->up;
	int err = 0;

	for (;;) {
		char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {buf, sizeof(buf)};
		struct sockaddr_nl from;
		struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		ssize_t n = recvmsg(l->fd, &mh, 0);
		int nsid = -1;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				/* events were lost: ask again */
				if ((err = query(l)) < 0)
					return err;
				continue;
			}
			return -errno;
		}
		if (from.nl_pid != 0)
			continue; /* only the kernel speaks here */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID)
				memcpy(&nsid, CMSG_DATA(c), sizeof(nsid));
		int len = (int)n;

		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			int r = message(l, h, nsid);

			if (r < 0 && !err)
				err = r;
		}
	}
	if (err < 0)
		return err;
	return l->up != was;
}

int net_link_open(struct net_link *l, const char *name)
{
	struct sockaddr_nl a = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	int one = 1, r;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->nsid = -1;
	l->ifindex = (int)if_nametoindex(name);
	if (!l->ifindex)
		return -errno;
	l->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (l->fd < 0)
		return -errno;
	if (bind(l->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		goto fail;
	}
	/* best effort: follow the interface into the namespace it is moved to */
	l->all_nsid = setsockopt(l->fd, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &one,
				 sizeof(one)) == 0;
	if ((r = query(l)) < 0)
		goto fail;
	/* the answer (or its error) comes before this socket's later events */
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd p = {.fd = l->fd, .events = POLLIN};

		if (poll(&p, 1, 100) < 0 && errno != EINTR) {
			r = -errno;
			goto fail;
		}
		l->up = false;
		r = net_link_process(l);
		if (r < 0)
			goto fail;
		if (r > 0 || p.revents)
			return 0;
	}
	r = -ETIMEDOUT;
fail:
	net_link_close(l);
	return r;
}

void net_link_close(struct net_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
