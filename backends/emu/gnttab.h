/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated Xen's grant table of one domain: v1 entries in memory that
 * every process of the world shares (shm.h puts one table in each domain's
 * shared page), worked on with Xen's protocol, as atomic operations on the
 * entry:
 *
 *  - the granter fills an entry (frame, RAM object, grantee) and then
 *    publishes GTF_permit_access (and GTF_readonly) with a release store;
 *  - a mapper checks permit, grantee and readonly and sets GTF_reading
 *    (and GTF_writing) with a compare-and-swap; unmapping clears them with
 *    the last mapping;
 *  - the granter ends access with a compare-and-swap that fails (-EBUSY)
 *    while those busy bits are set.
 *
 * The map counts that Xen keeps in its own active entry live in the same
 * 64-bit word as the flags and the grantee, so one compare-and-swap moves
 * a count and the busy bits together, with no lock and no trusted third
 * party.  An entry ended while mapped ("deferred", as gntalloc does) is
 * revoked at once and freed by whoever drops its last mapping.
 *
 * No I/O and nothing of the hub or of the world's handles: the hub, the
 * granting and the mapping processes all call this module on the shared
 * table, and tests/fuzz/fuzz-gnttab.c drives it in-process against a model
 * of Xen's rules.  Every call is safe on a table other processes change
 * concurrently (and on one a hostile process scribbled over: nothing here
 * trusts a value read from the table for more than the answer it gives).
 * Results are exact against a table nobody else changes meanwhile;
 * gm__gt_end's all-or-nothing check holds only then.
 */
#ifndef GM_BACKENDS_EMU_GNTTAB_H
#define GM_BACKENDS_EMU_GNTTAB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Grant entry v1 flags, as Xen's public grant_table.h numbers them. */
#define GM__GTF_PERMIT_ACCESS 0x1u
#define GM__GTF_READONLY 0x4u
#define GM__GTF_READING 0x8u
#define GM__GTF_WRITING 0x10u
/* The emulation's own: claimed by a granter that is filling it in; ended
 * while mapped (freed with its last mapping). */
#define GM__GTF_RESERVED 0x100u
#define GM__GTF_REVOKED 0x200u

#define GM__GT_FRAME_ENTRIES 512u           /* v1 entries per grant-table frame */
#define GM__GT_MAX_ENTRIES (64u * 512u)     /* Xen's default max_grant_frames */
#define GM__GT_FIRST_REF 8u                 /* refs below are the toolstack's */
#define GM__GT_MAP_COUNT_MAX 128u /* mappings of one kind per entry: Xen counts
				    * them in a byte and refuses the 129th */

/*
 * One entry.  w: flags (bits 0-15), grantee (16-31), read-only mappings
 * (32-47), writable mappings (48-63); while GTF_RESERVED, bits 32-63 hold
 * the claiming owner instead.  0 is a free entry.  frame, ram and owner
 * are written by the granter before it publishes the flags, and stay put
 * while the entry is permitted or mapped.
 */
struct gm__gt_ent {
	_Atomic uint64_t w;
	_Atomic uint32_t frame; /* page index in the RAM object */
	_Atomic uint32_t ram;   /* the RAM object's id (the hub's numbering) */
	_Atomic uint32_t owner; /* the granting handle's id (never 0) */
	uint32_t pad;
};

/* One domain's table.  All zero is an empty table. */
struct gm__gt {
	_Atomic uint32_t size; /* refs below are in the table: grows a frame at a time */
	_Atomic uint32_t used; /* entries in use, reserved and revoked-but-mapped included */
	_Atomic uint32_t low;  /* hint: refs in [GM__GT_FIRST_REF, low) are in use */
	uint32_t pad;
	struct gm__gt_ent e[GM__GT_MAX_ENTRIES];
};

/* An entry decoded (gm__gt_peek). */
struct gm__gt_view {
	uint16_t flags, grantee;
	uint32_t rd_maps, wr_maps;
	uint32_t frame, ram, owner;
};

/* Make @t an empty table (it is all zero already when fresh). */
void gm__gt_init(struct gm__gt *t);

/*
 * gm__gt_grant - grant @count pages (@frames of RAM object @ram) to
 * @grantee on behalf of @owner (non-zero), read-only unless @writable; the
 * refs are the lowest free ones at or above GM__GT_FIRST_REF, written to
 * @refs.  All or nothing.  Returns 0, -EINVAL (@count or @owner 0) or
 * -ENOSPC (the table is full at GM__GT_MAX_ENTRIES).
 */
int gm__gt_grant(struct gm__gt *t, uint32_t count, const uint32_t *frames, uint32_t ram,
		 uint32_t owner, uint16_t grantee, bool writable, uint32_t *refs);

/*
 * gm__gt_map - @mapper maps @ref (for writing if @rw): the entry must be
 * permitted, granted to @mapper, writable if @rw, and below the map count
 * limit; one mapping is counted and the busy bits set.  *frame and *ram
 * tell where the page is.  Returns 0 or -EINVAL (every refusal is Xen's
 * EINVAL).  Undo with gm__gt_unmap(t, ref, rw).
 */
int gm__gt_map(struct gm__gt *t, uint32_t ref, uint16_t mapper, bool rw, uint32_t *frame,
	       uint32_t *ram);

/*
 * gm__gt_unmap - drop one mapping of @ref made by gm__gt_map(.., @rw, ..)
 * (or pinned by gm__gt_copy_pin(.., @rw, ..)); an entry whose access was
 * ended while mapped is freed with its last mapping.  Returns 0, or -EINVAL
 * when there was no such mapping (nothing changed).
 */
int gm__gt_unmap(struct gm__gt *t, uint32_t ref, bool rw);

/*
 * gm__gt_end - @owner ends foreign access to @n refs (@refs may be
 * unaligned; duplicates are fine).  All checked first: -EINVAL if a ref is
 * not @owner's permitted grant, -EBUSY if one is mapped and @defer is false
 * (Xen: the busy bits keep the entry).  With @defer, mapped entries are
 * revoked now and freed by their last unmap.  Returns how many were
 * deferred (>= 0).
 */
int gm__gt_end(struct gm__gt *t, const void *refs, uint32_t n, uint32_t owner, bool defer);

/* Revoke everything @owner granted or was granting (it went away), as
 * gm__gt_end with @defer. */
void gm__gt_revoke_owner(struct gm__gt *t, uint32_t owner);

/*
 * gm__gt_copy_pin - the grant-copy side of @ref for @caller, writing if
 * @writing: GM_GNTST_OKAY with the entry pinned as a mapping would (release
 * with gm__gt_unmap(t, ref, writing)) and *frame, *ram set; else Xen's
 * status (GNTST_bad_gntref beyond the table, GNTST_general_error
 * otherwise) and nothing pinned.
 */
int gm__gt_copy_pin(struct gm__gt *t, uint32_t ref, uint16_t caller, bool writing,
		    uint32_t *frame, uint32_t *ram);

/* Entries in use, entries with busy bits, and the sum of their map counts. */
void gm__gt_counts(struct gm__gt *t, unsigned *used, unsigned *mapped, unsigned *maps);

/* Entry @ref decoded (all zero beyond the table). */
void gm__gt_peek(struct gm__gt *t, uint32_t ref, struct gm__gt_view *v);

#endif /* GM_BACKENDS_EMU_GNTTAB_H */
