/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: the virtio-blk wire format (virtio 1.2, section 5.2), for block
 * devices and drivers: feature bits, request types, status values, the
 * request header and the config space layout.  Little-endian on the wire;
 * the helpers below read and write it whatever the host's byte order.
 * Constants only: nothing here is in a library.
 *
 * A request is a chain of: the header (device-readable, 16 bytes), data
 * (device-readable for OUT, device-writable for IN and GET_ID, discard
 * segments for DISCARD), and a status byte (the last device-writable
 * byte).
 */
#ifndef GRANTMEM_VIRTIO_BLK_H
#define GRANTMEM_VIRTIO_BLK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GM_VIRTIO_BLK_DEVICE_ID 2 /* the virtio device id of a block device */
#define GM_VIRTIO_BLK_SECTOR 512u /* sectors in requests and capacity */

/* Feature bits (bit numbers). */
#define GM_VIRTIO_BLK_F_SIZE_MAX 1    /* config size_max: largest segment */
#define GM_VIRTIO_BLK_F_SEG_MAX 2     /* config seg_max: most data segments */
#define GM_VIRTIO_BLK_F_GEOMETRY 4
#define GM_VIRTIO_BLK_F_RO 5
#define GM_VIRTIO_BLK_F_BLK_SIZE 6    /* config blk_size */
#define GM_VIRTIO_BLK_F_FLUSH 9
#define GM_VIRTIO_BLK_F_TOPOLOGY 10
#define GM_VIRTIO_BLK_F_CONFIG_WCE 11
#define GM_VIRTIO_BLK_F_MQ 12         /* config num_queues */
#define GM_VIRTIO_BLK_F_DISCARD 13
#define GM_VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types (the header's type field). */
#define GM_VIRTIO_BLK_T_IN 0
#define GM_VIRTIO_BLK_T_OUT 1
#define GM_VIRTIO_BLK_T_FLUSH 4
#define GM_VIRTIO_BLK_T_GET_ID 8
#define GM_VIRTIO_BLK_T_DISCARD 11
#define GM_VIRTIO_BLK_T_WRITE_ZEROES 13

/* Status byte values. */
#define GM_VIRTIO_BLK_S_OK 0
#define GM_VIRTIO_BLK_S_IOERR 1
#define GM_VIRTIO_BLK_S_UNSUPP 2

/* GET_ID answers with up to this many bytes (no terminating NUL needed). */
#define GM_VIRTIO_BLK_ID_BYTES 20

/* The request header: the first 16 device-readable bytes, little-endian. */
struct gm_virtio_blk_outhdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};
#define GM_VIRTIO_BLK_OUTHDR_SIZE 16u

/* A DISCARD or WRITE_ZEROES segment (16 bytes each), little-endian. */
struct gm_virtio_blk_discard {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};
#define GM_VIRTIO_BLK_DISCARD_SIZE 16u

/* Offsets in the config space (struct virtio_blk_config) and its size. */
#define GM_VIRTIO_BLK_CFG_CAPACITY 0             /* le64: sectors */
#define GM_VIRTIO_BLK_CFG_SIZE_MAX 8             /* le32 */
#define GM_VIRTIO_BLK_CFG_SEG_MAX 12             /* le32 */
#define GM_VIRTIO_BLK_CFG_GEOMETRY 16            /* le16 cylinders, u8 heads, u8 sectors */
#define GM_VIRTIO_BLK_CFG_BLK_SIZE 20            /* le32 */
#define GM_VIRTIO_BLK_CFG_TOPOLOGY 24            /* 8 bytes */
#define GM_VIRTIO_BLK_CFG_WRITEBACK 32           /* u8 */
#define GM_VIRTIO_BLK_CFG_NUM_QUEUES 34          /* le16 */
#define GM_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36 /* le32 */
#define GM_VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40     /* le32 */
#define GM_VIRTIO_BLK_CFG_DISCARD_ALIGN 44       /* le32 */
#define GM_VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS 48 /* le32 */
#define GM_VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG 52     /* le32 */
#define GM_VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP 56   /* u8 */
#define GM_VIRTIO_BLK_CFG_SIZE 60

/* Store / load @n (1..8) little-endian bytes at @p. */
static inline void gm_virtio_blk_put_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t gm_virtio_blk_get_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_VIRTIO_BLK_H */
