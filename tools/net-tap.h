/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem-net's Linux tap (tools/net-tap.c): a tap device opened with a
 * virtio-net header on every packet (IFF_VNET_HDR, TUNSETVNETHDRSZ 12),
 * one non-blocking descriptor per queue pair (IFF_MULTI_QUEUE when there
 * are several), the checksum and segmentation offloads the kernel may hand
 * us (TUNSETOFFLOAD), and the pairs in use (TUNSETQUEUE attach/detach).
 */
#ifndef GM_TOOLS_NET_TAP_H
#define GM_TOOLS_NET_TAP_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#define NET_TAP_MAX_QUEUES 16

struct net_tap {
	char name[IFNAMSIZ];
	unsigned nq;                   /* descriptors (queue pairs) */
	int fd[NET_TAP_MAX_QUEUES];
	bool attached[NET_TAP_MAX_QUEUES];
	unsigned offload;              /* TUN_F_* set now */
	unsigned can_offload;          /* TUN_F_* the tap takes */
};

/*
 * net_tap_open - open (creating it if needed: CAP_NET_ADMIN) tap @name with
 * @nq queues, and set its MTU to @mtu (0: leave it).  Nothing is offloaded
 * until net_tap_set_offload.  0 or -errno (nothing left open).
 */
int net_tap_open(struct net_tap *t, const char *name, unsigned nq, unsigned mtu);

/* net_tap_close - close every descriptor.  Accepts a closed tap. */
void net_tap_close(struct net_tap *t);

/*
 * net_tap_set_offload - let the kernel hand us packets with partial
 * checksums (@guest_csum) and TCP segments up to 64 KiB (@tso4, @tso6;
 * they need @guest_csum): what the driver takes (the GUEST_* features it
 * accepted).  Only what the tap can do.  0 or -errno.
 */
int net_tap_set_offload(struct net_tap *t, bool guest_csum, bool tso4, bool tso6);

/*
 * net_tap_set_pairs - the kernel steers packets to the first @n queues
 * only (the others detached).  0 or -errno.
 */
int net_tap_set_pairs(struct net_tap *t, unsigned n);

#endif /* GM_TOOLS_NET_TAP_H */
