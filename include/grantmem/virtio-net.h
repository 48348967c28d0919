/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: the virtio-net wire format (virtio 1.2, section 5.1), for
 * network devices and drivers: feature bits, the packet header, the config
 * space layout and the control queue's commands.  Little-endian on the
 * wire; the helpers below read and write it whatever the host's byte
 * order.  Constants only: nothing here is in a library.
 *
 * Queues: receiveq1, transmitq1, ..., receiveqN, transmitqN (receive queue
 * of pair k: 2k, transmit: 2k + 1), then the control queue, at 2N where N
 * is max_virtqueue_pairs with VIRTIO_NET_F_MQ, else at 2.
 *
 * Every packet, both ways, starts with the 12-byte header below (VERSION_1:
 * num_buffers is always there).  On the transmit queue a chain is the
 * header and the frame, device-readable; on a receive queue a chain is
 * device-writable room for the header and a frame, or with
 * VIRTIO_NET_F_MRG_RXBUF the first of num_buffers chains that together
 * hold one packet.
 *
 * A control request is device-readable {u8 class, u8 command, data...}
 * then one device-writable ack byte (GM_VIRTIO_NET_OK / GM_VIRTIO_NET_ERR).
 */
#ifndef GRANTMEM_VIRTIO_NET_H
#define GRANTMEM_VIRTIO_NET_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GM_VIRTIO_NET_DEVICE_ID 1 /* the virtio device id of a network device */

/* Feature bits (bit numbers). */
#define GM_VIRTIO_NET_F_CSUM 0              /* device takes partial checksums */
#define GM_VIRTIO_NET_F_GUEST_CSUM 1        /* driver takes partial checksums */
#define GM_VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define GM_VIRTIO_NET_F_MTU 3               /* config mtu */
#define GM_VIRTIO_NET_F_MAC 5               /* config mac */
#define GM_VIRTIO_NET_F_GUEST_TSO4 7        /* driver takes TSOv4 */
#define GM_VIRTIO_NET_F_GUEST_TSO6 8
#define GM_VIRTIO_NET_F_GUEST_ECN 9
#define GM_VIRTIO_NET_F_GUEST_UFO 10
#define GM_VIRTIO_NET_F_HOST_TSO4 11        /* device takes TSOv4 */
#define GM_VIRTIO_NET_F_HOST_TSO6 12
#define GM_VIRTIO_NET_F_HOST_ECN 13
#define GM_VIRTIO_NET_F_HOST_UFO 14
#define GM_VIRTIO_NET_F_MRG_RXBUF 15        /* packets span receive buffers */
#define GM_VIRTIO_NET_F_STATUS 16           /* config status */
#define GM_VIRTIO_NET_F_CTRL_VQ 17
#define GM_VIRTIO_NET_F_CTRL_RX 18
#define GM_VIRTIO_NET_F_CTRL_VLAN 19
#define GM_VIRTIO_NET_F_GUEST_ANNOUNCE 21
#define GM_VIRTIO_NET_F_MQ 22               /* config max_virtqueue_pairs */
#define GM_VIRTIO_NET_F_CTRL_MAC_ADDR 23
#define GM_VIRTIO_NET_F_HOST_USO 56
#define GM_VIRTIO_NET_F_HASH_REPORT 57
#define GM_VIRTIO_NET_F_GUEST_HDRLEN 59
#define GM_VIRTIO_NET_F_RSS 60
#define GM_VIRTIO_NET_F_RSC_EXT 61
#define GM_VIRTIO_NET_F_STANDBY 62
#define GM_VIRTIO_NET_F_SPEED_DUPLEX 63

/* The packet header, little-endian, GM_VIRTIO_NET_HDR_SIZE bytes. */
struct gm_virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;     /* bytes of headers (Ethernet to L4) with GSO */
	uint16_t gso_size;    /* bytes of payload per segment with GSO */
	uint16_t csum_start;  /* NEEDS_CSUM: checksum from this byte of the frame */
	uint16_t csum_offset; /* ... stored this many bytes after csum_start */
	uint16_t num_buffers; /* receive, MRG_RXBUF: chains of this packet */
};
#define GM_VIRTIO_NET_HDR_SIZE 12u
/* Byte offsets of its fields. */
#define GM_VIRTIO_NET_HDR_FLAGS 0
#define GM_VIRTIO_NET_HDR_GSO_TYPE 1
#define GM_VIRTIO_NET_HDR_HDR_LEN 2
#define GM_VIRTIO_NET_HDR_GSO_SIZE 4
#define GM_VIRTIO_NET_HDR_CSUM_START 6
#define GM_VIRTIO_NET_HDR_CSUM_OFFSET 8
#define GM_VIRTIO_NET_HDR_NUM_BUFFERS 10

/* Header flags. */
#define GM_VIRTIO_NET_HDR_F_NEEDS_CSUM 1 /* checksum to be completed */
#define GM_VIRTIO_NET_HDR_F_DATA_VALID 2 /* receive: checksum checked */
#define GM_VIRTIO_NET_HDR_F_RSC_INFO 4

/* Header gso_type values (ECN may be or'ed in). */
#define GM_VIRTIO_NET_HDR_GSO_NONE 0
#define GM_VIRTIO_NET_HDR_GSO_TCPV4 1
#define GM_VIRTIO_NET_HDR_GSO_UDP 3
#define GM_VIRTIO_NET_HDR_GSO_TCPV6 4
#define GM_VIRTIO_NET_HDR_GSO_UDP_L4 5
#define GM_VIRTIO_NET_HDR_GSO_ECN 0x80

/* Offsets in the config space (struct virtio_net_config) and its size. */
#define GM_VIRTIO_NET_CFG_MAC 0                  /* u8[6] */
#define GM_VIRTIO_NET_CFG_STATUS 6               /* le16 */
#define GM_VIRTIO_NET_CFG_MAX_VIRTQUEUE_PAIRS 8  /* le16 */
#define GM_VIRTIO_NET_CFG_MTU 10                 /* le16 */
#define GM_VIRTIO_NET_CFG_SPEED 12               /* le32: Mbit/s, 0xffffffff unknown */
#define GM_VIRTIO_NET_CFG_DUPLEX 16              /* u8: 0 half, 1 full, 0xff unknown */
#define GM_VIRTIO_NET_CFG_RSS_MAX_KEY_SIZE 17    /* u8 */
#define GM_VIRTIO_NET_CFG_RSS_MAX_INDIRECTION_TABLE_LENGTH 18 /* le16 */
#define GM_VIRTIO_NET_CFG_SUPPORTED_HASH_TYPES 20 /* le32 */
#define GM_VIRTIO_NET_CFG_SIZE 24

/* Config status bits. */
#define GM_VIRTIO_NET_S_LINK_UP 1
#define GM_VIRTIO_NET_S_ANNOUNCE 2

/* Control queue: ack values. */
#define GM_VIRTIO_NET_OK 0
#define GM_VIRTIO_NET_ERR 1

/* Control classes and their commands. */
#define GM_VIRTIO_NET_CTRL_RX 0
#define GM_VIRTIO_NET_CTRL_RX_PROMISC 0  /* data: u8 on/off */
#define GM_VIRTIO_NET_CTRL_RX_ALLMULTI 1
#define GM_VIRTIO_NET_CTRL_RX_ALLUNI 2
#define GM_VIRTIO_NET_CTRL_RX_NOMULTI 3
#define GM_VIRTIO_NET_CTRL_RX_NOUNI 4
#define GM_VIRTIO_NET_CTRL_RX_NOBCAST 5
#define GM_VIRTIO_NET_CTRL_MAC 1
#define GM_VIRTIO_NET_CTRL_MAC_TABLE_SET 0 /* data: two {le32 n, u8 macs[n][6]} */
#define GM_VIRTIO_NET_CTRL_MAC_ADDR_SET 1  /* data: u8 mac[6] */
#define GM_VIRTIO_NET_CTRL_VLAN 2
#define GM_VIRTIO_NET_CTRL_VLAN_ADD 0      /* data: le16 vid */
#define GM_VIRTIO_NET_CTRL_VLAN_DEL 1
#define GM_VIRTIO_NET_CTRL_ANNOUNCE 3
#define GM_VIRTIO_NET_CTRL_ANNOUNCE_ACK 0
#define GM_VIRTIO_NET_CTRL_MQ 4
#define GM_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0 /* data: le16 pairs */
#define GM_VIRTIO_NET_CTRL_MQ_RSS_CONFIG 1
#define GM_VIRTIO_NET_CTRL_MQ_HASH_CONFIG 2
#define GM_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN 1
#define GM_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX 0x8000
#define GM_VIRTIO_NET_CTRL_GUEST_OFFLOADS 5
#define GM_VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET 0 /* data: le64 GUEST_* feature bits */

/* Store / load @n (1..8) little-endian bytes at @p. */
static inline void gm_virtio_net_put_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t gm_virtio_net_get_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The header at @p (GM_VIRTIO_NET_HDR_SIZE bytes) into @h, and back. */
static inline void gm_virtio_net_hdr_get(const unsigned char *p, struct gm_virtio_net_hdr *h)
{
	h->flags = p[GM_VIRTIO_NET_HDR_FLAGS];
	h->gso_type = p[GM_VIRTIO_NET_HDR_GSO_TYPE];
	h->hdr_len = (uint16_t)gm_virtio_net_get_le(p + GM_VIRTIO_NET_HDR_HDR_LEN, 2);
	h->gso_size = (uint16_t)gm_virtio_net_get_le(p + GM_VIRTIO_NET_HDR_GSO_SIZE, 2);
	h->csum_start = (uint16_t)gm_virtio_net_get_le(p + GM_VIRTIO_NET_HDR_CSUM_START, 2);
	h->csum_offset = (uint16_t)gm_virtio_net_get_le(p + GM_VIRTIO_NET_HDR_CSUM_OFFSET, 2);
	h->num_buffers = (uint16_t)gm_virtio_net_get_le(p + GM_VIRTIO_NET_HDR_NUM_BUFFERS, 2);
}

static inline void gm_virtio_net_hdr_put(unsigned char *p, const struct gm_virtio_net_hdr *h)
{
	p[GM_VIRTIO_NET_HDR_FLAGS] = h->flags;
	p[GM_VIRTIO_NET_HDR_GSO_TYPE] = h->gso_type;
	gm_virtio_net_put_le(p + GM_VIRTIO_NET_HDR_HDR_LEN, h->hdr_len, 2);
	gm_virtio_net_put_le(p + GM_VIRTIO_NET_HDR_GSO_SIZE, h->gso_size, 2);
	gm_virtio_net_put_le(p + GM_VIRTIO_NET_HDR_CSUM_START, h->csum_start, 2);
	gm_virtio_net_put_le(p + GM_VIRTIO_NET_HDR_CSUM_OFFSET, h->csum_offset, 2);
	gm_virtio_net_put_le(p + GM_VIRTIO_NET_HDR_NUM_BUFFERS, h->num_buffers, 2);
}

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_VIRTIO_NET_H */
