/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem-net's link watcher (tools/net-link.c): whether a network
 * interface is up (administratively up, with carrier: IFF_UP and
 * IFF_LOWER_UP), followed through a netlink socket that hears every link
 * change (RTMGRP_LINK) without polling.  The interface is followed by its
 * index, also into another network namespace it is moved to, as long as
 * that namespace has an id in ours (moving a device gives it one) and the
 * socket may listen to every namespace (NETLINK_LISTEN_ALL_NSID:
 * CAP_NET_BROADCAST); otherwise it is taken for up once it left, as the
 * watcher can no longer tell.
 */
#ifndef GM_TOOLS_NET_LINK_H
#define GM_TOOLS_NET_LINK_H

#include <stdbool.h>

struct net_link {
	int fd;           /* the netlink socket (non-blocking) */
	int ifindex;      /* in the namespace nsid names */
	int nsid;         /* -1: ours */
	bool all_nsid;    /* the socket hears other namespaces */
	bool up;          /* IFF_UP and IFF_LOWER_UP as last heard */
	bool lost;        /* it left for where we cannot follow */
	unsigned seq;
};

/*
 * net_link_open - watch interface @name of our namespace: open the socket,
 * then ask for the interface's state (answered before this returns).
 * 0 or -errno (-ENODEV: no such interface).
 */
int net_link_open(struct net_link *l, const char *name);

/*
 * net_link_process - read what the socket has (it is non-blocking: call it
 * when l->fd is readable).  Returns 1 if l->up changed, 0 if not, or
 * -errno.  -ENOBUFS (messages were lost) asks the interface's state again.
 */
int net_link_process(struct net_link *l);

/* net_link_close - close the socket.  Accepts a closed watcher. */
void net_link_close(struct net_link *l);

#endif /* GM_TOOLS_NET_LINK_H */
