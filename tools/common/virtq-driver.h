/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vqd: the *driver* side of a virtqueue, built in a gm_mem the way a Linux
 * virtio driver builds it, for tests and the test frontend (grantmem-guest).
 *
 * The rings and buffers live in @m at the addresses the device will be
 * given, so the driver and the device use the same numbers: in one process,
 * both sides can share a space; in a test guest, put RAM regions over the
 * granted pages at their grant addresses (GM_GRANT_ADDR(first ref, 0)).
 *
 *   struct vqd d;
 *   vqd_init(&d, m, &(struct vqd_config){.size = 8, .desc_addr = ..., ...});
 *   vqd_gm_config(&d, &cfg);                   (the device's gm_vq_config)
 *   vqd_add(&d, bufs, n, 0, token);            (publishes it at once)
 *   if (vqd_kick_needed(&d)) ... notify the device ...
 *   while (vqd_get_used(&d, &token, &len) == 0) ...
 *
 * Indices are published with release stores and the device's fields read
 * with acquire loads (gm_store_release16 / gm_load_acquire16), so the rings
 * must be in mappable memory.  The driver keeps its own shadow state (free
 * lists, chain lengths per id) and never trusts the device's ring contents
 * beyond the used id, which it checks.
 *
 * Not thread-safe: one thread per vqd (the device may run in another).
 * Functions return 0 or a negative errno; none logs.
 */
#ifndef GM_TESTS_VIRTQ_DRIVER_H
#define GM_TESTS_VIRTQ_DRIVER_H

#include <grantmem/grantmem.h>
#include <grantmem/virtio.h>

#include <stdbool.h>
#include <stdint.h>

struct vqd_config {
	unsigned size;        /* split: power of 2; packed: any, <= 32768 */
	bool packed;          /* packed layout (VIRTIO_F_RING_PACKED) */
	bool event_idx;       /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;        /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint64_t desc_addr;   /* descriptor table / ring */
	uint64_t driver_addr; /* avail ring / driver event suppression */
	uint64_t device_addr; /* used ring / device event suppression */
};

/* One buffer of a chain. */
struct vqd_buf {
	uint64_t addr;
	uint32_t len;
	bool write; /* device-writable */
};

struct vqd {
	gm_mem *m;
	struct vqd_config cfg;
	unsigned num_free; /* free descriptors (split) / ring slots (packed) */
	bool intr_on;      /* interrupts requested (vqd_set_interrupt) */

	/* split */
	uint16_t avail_idx;     /* next avail idx to publish */
	uint16_t last_used;     /* next used idx to consume */
	uint16_t kicked_idx;    /* avail idx at the last kick decision */
	uint16_t free_head;     /* head of the descriptor free list */
	uint16_t *next_free;    /* [size]: free list / chain links (shadow) */

	/* packed */
	uint16_t avail_pos, used_pos;
	bool avail_wrap, used_wrap;
	uint16_t kicked_pos;
	bool kicked_wrap;
	uint16_t free_id;       /* head of the buffer id free list */

	/* per head index (split) / buffer id (packed) */
	uint16_t *ndesc;        /* [size]: descriptors the chain took; 0 = free */
	void **token;           /* [size] */
};

/* The rings' sizes for @cfg (bytes), for laying them out. */
size_t vqd_desc_size(const struct vqd_config *cfg);
size_t vqd_driver_size(const struct vqd_config *cfg);
size_t vqd_device_size(const struct vqd_config *cfg);

/*
 * vqd_init - zero the rings in @m and set up the driver state.
 * Returns 0, -EINVAL (bad size), -ENOMEM, or gm_fill's error.
 */
int vqd_init(struct vqd *d, gm_mem *m, const struct vqd_config *cfg);
void vqd_fini(struct vqd *d);

/* Feature bits matching the config (for gm_vq_config.features). */
uint64_t vqd_features(const struct vqd *d);
/* The device's configuration of this queue (zeroed, then filled). */
void vqd_gm_config(const struct vqd *d, struct gm_vq_config *cfg);

/*
 * vqd_add - make the chain @bufs[0..n) available and publish it.
 * Readable buffers must come before writable ones (the driver's rule; the
 * raw helpers below break it on purpose).
 * @itab_addr: 0 for direct descriptors, else the guest address of room for
 *             n * 16 bytes where an indirect table is written (needs
 *             cfg.indirect); the chain then takes one ring descriptor.
 * @token:     returned by vqd_get_used for this chain.
 * Returns the head index (split) / buffer id (packed), >= 0, or -ENOSPC
 * (not enough free descriptors), -EINVAL, or a memory error.
 */
int vqd_add(struct vqd *d, const struct vqd_buf *bufs, unsigned n, uint64_t itab_addr,
	    void *token);

/*
 * vqd_kick_needed - does the device want a notification for what was added
 * since the last call?  (used->flags NO_NOTIFY, avail_event, or the packed
 * device event structure, read after a full fence.)  1, 0 or -errno.
 */
int vqd_kick_needed(struct vqd *d);

/*
 * vqd_get_used - take the next used buffer.  Returns 0 with its token and
 * length, -EAGAIN when none, -EIO when the device returned an id that is not
 * in flight (the token is not touched then).
 */
int vqd_get_used(struct vqd *d, void **token, uint32_t *len);

/*
 * vqd_set_interrupt - ask the device for interrupts (or not): avail->flags
 * NO_INTERRUPT / used_event = next used (EVENT_IDX); packed: the driver
 * event structure (ENABLE / DISABLE / DESC at the next used position).
 */
int vqd_set_interrupt(struct vqd *d, bool enable);

/*
 * vqd_set_used_event - EVENT_IDX: interrupt only once used entry
 * (split) @idx / packed position @idx with wrap @wrap is written.
 */
int vqd_set_used_event(struct vqd *d, uint16_t idx, bool wrap);

/* ---- raw access for hostile-ring tests (no shadow bookkeeping) ---- */

/* Split: write descriptor @i of the table as given. */
int vqd_split_write_desc(struct vqd *d, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
			 uint16_t next);
/* Split: put @head into the avail ring and publish avail idx + 1. */
int vqd_split_push_head(struct vqd *d, uint16_t head);
/* Split: publish avail idx @idx as it is (e.g. far ahead). */
int vqd_split_set_avail_idx(struct vqd *d, uint16_t idx);
/*
 * Packed: write @n descriptors {addr, len, id, flags (NEXT/WRITE/INDIRECT)}
 * at the driver's position, with the wrap bits of their positions, head
 * flags last with release; advances the driver position.
 */
struct vqd_raw {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};
int vqd_packed_push_raw(struct vqd *d, const struct vqd_raw *descs, unsigned n);
/* Write an indirect table entry (split: flags/next; packed: flags/id). */
int vqd_write_itab(struct vqd *d, uint64_t itab_addr, unsigned i, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next_or_id);

#endif /* GM_TESTS_VIRTQ_DRIVER_H */
