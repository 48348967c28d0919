/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated Xen's grant table of one domain: v1 entries with their busy
 * bits and maptrack counts, and Xen's rules for granting, mapping, ending
 * access and copying.  Pure state, no I/O: the hub (hub-grant.c) wraps it in
 * its protocol, and tests/fuzz/fuzz-gnttab.c drives it in-process against a
 * model of the same rules.
 *
 * RAM objects are opaque here: an entry holds one reference on the RAM its
 * page lives in, taken with ops->get when granted and dropped with ops->put
 * when the entry is freed (ended with no mapping left, or its last mapping
 * went after a deferred end).  Owners (the granting connection) are opaque
 * pointers compared for identity only.
 */
#ifndef GM_BACKENDS_EMU_GNTTAB_H
#define GM_BACKENDS_EMU_GNTTAB_H

#include <stdbool.h>
#include <stdint.h>

/* Grant entry v1 flags, as Xen's public grant_table.h numbers them. */
#define GM__GTF_PERMIT_ACCESS 0x1u
#define GM__GTF_READONLY 0x4u
#define GM__GTF_READING 0x8u
#define GM__GTF_WRITING 0x10u

#define GM__GT_FRAME_ENTRIES 512u           /* v1 entries per grant-table frame */
#define GM__GT_MAX_ENTRIES (64u * 512u)     /* Xen's default max_grant_frames */
#define GM__GT_FIRST_REF 8u                 /* refs below are the toolstack's */
#define GM__GT_MAP_COUNT_MAX 0x7fffffffu

/* A v1 grant entry plus its maptrack counts.  Free iff ram == NULL. */
struct gm__gt_ent {
	void *ram;
	const void *owner; /* the granting connection; NULL once revoked */
	uint32_t frame;
	uint16_t flags;
	uint16_t grantee;
	uint32_t rd_maps, wr_maps;
};

struct gm__gt_ram_ops {
	void (*get)(void *ram);
	void (*put)(void *ram);
};

struct gm__gt {
	const struct gm__gt_ram_ops *ops;
	struct gm__gt_ent *e; /* size entries */
	uint32_t size;        /* grows a grant frame at a time */
	uint32_t used;        /* entries in use, revoked-but-mapped included */
	/* Bounds on the walks: refs in [GM__GT_FIRST_REF, low) are all in use,
	 * refs at or above hi are all free. */
	uint32_t low, hi;
};

/* An empty table whose entries reference RAM through @ops. */
void gm__gt_init(struct gm__gt *t, const struct gm__gt_ram_ops *ops);
/* Free the array; every entry must be free already (used == 0). */
void gm__gt_destroy(struct gm__gt *t);

/*
 * gm__gt_grant - grant @count pages (@frames of @ram) to @grantee on behalf
 * of @owner, read-only unless @writable; the refs are the lowest free ones
 * at or above GM__GT_FIRST_REF, written to @refs.  All or nothing.
 * Returns 0, -EINVAL (@count 0, NULL @ram or @owner), -ENOSPC (table full
 * at GM__GT_MAX_ENTRIES) or -ENOMEM.  The caller checks the frames.
 */
int gm__gt_grant(struct gm__gt *t, uint32_t count, const uint32_t *frames, void *ram,
		 const void *owner, uint16_t grantee, bool writable, uint32_t *refs);

/* May @mapper map @ref (for writing if @rw)?  Every refusal is Xen's EINVAL. */
bool gm__gt_mappable(const struct gm__gt *t, uint32_t ref, uint16_t mapper, bool rw);

/* Count one mapping of @ref, which gm__gt_mappable() accepted. */
void gm__gt_map(struct gm__gt *t, uint32_t ref, bool rw);

/*
 * Drop one mapping of @ref made by gm__gt_map(t, ref, rw); an entry whose
 * access was ended while mapped is freed with its last mapping.
 */
void gm__gt_unmap(struct gm__gt *t, uint32_t ref, bool rw);

/*
 * gm__gt_end - @owner ends foreign access to @n refs (@refs may be
 * unaligned; duplicates are fine).  All checked first: -EINVAL if a ref is
 * not @owner's live grant, -EBUSY if one is mapped and @defer is false (Xen:
 * the busy bits keep the entry).  With @defer, mapped entries are revoked
 * now and freed by their last unmap.  Returns how many were deferred (>= 0).
 */
int gm__gt_end(struct gm__gt *t, const void *refs, uint32_t n, const void *owner, bool defer);

/* Revoke everything @owner granted (its connection went away), as gm__gt_end
 * with @defer. */
void gm__gt_revoke_owner(struct gm__gt *t, const void *owner);

/*
 * The grant-copy side check: GM_GNTST_OKAY if @caller may access @ref (for
 * writing if @writing), else Xen's status (bad_gntref beyond the table,
 * general_error otherwise).
 */
int gm__gt_copy_check(const struct gm__gt *t, uint32_t ref, uint16_t caller, bool writing);

/* Entries with busy bits, and the sum of their map counts. */
void gm__gt_counts(const struct gm__gt *t, unsigned *mapped, unsigned *maps);

#endif /* GM_BACKENDS_EMU_GNTTAB_H */
