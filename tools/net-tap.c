// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * grantmem-net's Linux tap (net-tap.h).
 */
#include "config.h"

#include "net-tap.h"

#include <grantmem/virtio.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int set_mtu(const char *name, unsigned mtu)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		r = -errno;
	close(s);
	return r;
}

int net_tap_open(struct net_tap *t, const char *name, unsigned nq, unsigned mtu)
{
	int hdr = GM_VIRTIO_NET_HDR_SIZE, r;

	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < NET_TAP_MAX_QUEUES; i++)
		t->fd[i] = -1;
	if (!name || !*name || strlen(name) >= IFNAMSIZ || !nq || nq > NET_TAP_MAX_QUEUES)
		return -EINVAL;
	for (unsigned i = 0; i < nq; i++) {
		struct ifreq ifr;
		int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (fd < 0) {
			r = -errno;
			goto fail;
		}
		t->fd[i] = fd;
		t->nq = i + 1;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (nq > 1 ? IFF_MULTI_QUEUE : 0);
		if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
			r = -errno;
			goto fail;
		}
		if (i == 0)
			snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
		t->attached[i] = true;
	}
	/* what the tap takes: TSO needs checksum offload */
	if (ioctl(t->fd[0], TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM) == 0) {
		t->can_offload = TUN_F_CSUM;
		if (ioctl(t->fd[0], TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) == 0)
			t->can_offload |= TUN_F_TSO4 | TUN_F_TSO6;
	}
	if (ioctl(t->fd[0], TUNSETOFFLOAD, 0UL) < 0) {
		r = -errno;
		goto fail;
	}
	if (mtu && (r = set_mtu(t->name, mtu)) < 0)
		goto fail;
	return 0;
fail:
	net_tap_close(t);
	return r;
}

void net_tap_close(struct net_tap *t)
{
	for (unsigned i = 0; i < NET_TAP_MAX_QUEUES; i++) {
		if (t->fd[i] >= 0)
			close(t->fd[i]);
		t->fd[i] = -1;
	}
	t->nq = 0;
}

int net_tap_set_offload(struct net_tap *t, bool guest_csum, bool tso4, bool tso6)
{
	unsigned f = 0;

	if (guest_csum) {
		f |= TUN_F_CSUM;
		if (tso4)
			f |= TUN_F_TSO4;
		if (tso6)
			f |= TUN_F_TSO6;
	}
	f &= t->can_offload;
	if (f == t->offload)
		return 0;
	if (ioctl(t->fd[0], TUNSETOFFLOAD, (unsigned long)f) < 0)
		return -errno;
	t->offload = f;
	return 0;
}

int net_tap_set_pairs(struct net_tap *t, unsigned n)
{
	if (!n || n > t->nq)
		return -EINVAL;
	if (t->nq == 1)
		return 0;
	/* attach first, so that one queue at least stays attached throughout */
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < t->nq; i++) {
			bool want = i < n;
			struct ifreq ifr;

			if (want == t->attached[i] || (pass == 0) != want)
				continue;
			memset(&ifr, 0, sizeof(ifr));
			ifr.ifr_flags = want ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
			if (ioctl(t->fd[i], TUNSETQUEUE, &ifr) < 0)
				return -errno;
			t->attached[i] = want;
		}
	return 0;
}
