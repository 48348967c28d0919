/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virtio-blk wire format (virtio 1.2, section 5.2), shared by grantmem-blk
 * (the device) and grantmem-guest (the driver).  Little-endian on the wire.
 */
#ifndef GM_TOOLS_VIRTIO_BLK_H
#define GM_TOOLS_VIRTIO_BLK_H

#include <stdint.h>

#define VBLK_DEVICE_ID 2 /* virtio device id of a block device */
#define VBLK_SECTOR 512u

/* Feature bits. */
#define VBLK_F_SIZE_MAX 1
#define VBLK_F_SEG_MAX 2
#define VBLK_F_BLK_SIZE 6
#define VBLK_F_FLUSH 9
#define VBLK_F_MQ 12
#define VBLK_F_DISCARD 13

/* Request types. */
#define VBLK_T_IN 0
#define VBLK_T_OUT 1
#define VBLK_T_FLUSH 4
#define VBLK_T_GET_ID 8
#define VBLK_T_DISCARD 11

/* Status byte values. */
#define VBLK_S_OK 0
#define VBLK_S_IOERR 1
#define VBLK_S_UNSUPP 2

#define VBLK_ID_BYTES 20

/* The request header (device-readable, first). */
struct vblk_outhdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

/* A discard segment (VBLK_T_DISCARD payload, 16 bytes each). */
struct vblk_discard_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* Config-space offsets used here (struct virtio_blk_config). */
#define VBLK_CFG_CAPACITY 0            /* le64: 512-byte sectors */
#define VBLK_CFG_SIZE_MAX 8            /* le32 */
#define VBLK_CFG_SEG_MAX 12            /* le32 */
#define VBLK_CFG_BLK_SIZE 20           /* le32 */
#define VBLK_CFG_NUM_QUEUES 34         /* le16 */
#define VBLK_CFG_MAX_DISCARD_SECTORS 36 /* le32 */
#define VBLK_CFG_MAX_DISCARD_SEG 40    /* le32 */
#define VBLK_CFG_DISCARD_ALIGN 44      /* le32 */
#define VBLK_CFG_SIZE 60

static inline void vblk_put_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t vblk_get_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif /* GM_TOOLS_VIRTIO_BLK_H */
