/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the emulated Xen's processes share besides the socket: memfds the
 * hub makes (sealed: nobody resizes them) and hands over.
 *
 *  - A domain's page (struct gm__emu_dom_shm): its grant table (gnttab.h)
 *    and its event channels (evtchn.h).  Every process that grants, maps,
 *    copies or notifies in that domain maps it once and then works on it
 *    without asking the hub.
 *  - A gnttab handle's maptrack (struct gm__emu_maptrack): one record per
 *    page the handle maps (or pins for a copy), naming the domain's life,
 *    so that the hub can drop what a dead mapper held, and can tell that
 *    nobody holds anything of a dying domain any more.  A record says
 *    "pinning" before the entry's count moves and "held" after; "releasing"
 *    before the count drops back and free after.  A mapper killed between
 *    the two leaves a record whose count may or may not have moved: the
 *    hub settles it by counting every live maptrack's records of that
 *    entry (gm__hub_gnt_gone), and for that it stops new pins of the entry
 *    for a moment through each live maptrack's block word: a mapper
 *    announces "pinning" and then reads its block word (both sequentially
 *    consistent), so that either the hub sees the announcement or the
 *    mapper sees the block, withdraws and waits.  Each maptrack is
 *    written by its mapper and the hub only: a hostile process can
 *    stall no pin but its own.
 *
 * Both sides are the same machine and build: native layout, no versioning
 * beyond proto.h's.
 */
#ifndef GM_BACKENDS_EMU_SHM_H
#define GM_BACKENDS_EMU_SHM_H

#include "evtchn.h"
#include "gnttab.h"

#define GM__EMU_SHM_MAGIC 0x676d6473u /* "gmds" */

struct gm__emu_dom_shm {
	uint32_t magic;
	uint32_t domid;
	uint64_t instance;     /* the hub's number for this life of the domain */
	_Atomic uint32_t dying; /* its processes are gone: nothing maps anew */
	_Atomic uint32_t dead;  /* the hub let the domain go: look it up again */
	uint32_t pad[12];
	struct gm__ev ev;
	struct gm__gt gt;
};

/* Records of a maptrack. */
enum { GM__MT_FREE, GM__MT_HELD, GM__MT_RELEASING, GM__MT_PINNING };

struct gm__emu_mt_rec {
	_Atomic uint64_t instance; /* the granter domain's life (gm__emu_dom_shm) */
	_Atomic uint64_t w;        /* gm__mt_rec(): written after instance */
};

struct gm__emu_maptrack {
	_Atomic uint32_t hwm;   /* records at or above were never used */
	uint32_t cap;           /* records in the file (the hub's figure) */
	_Atomic uint64_t block; /* hub: gm__mt_block(dom, ref) may not be pinned now, or 0 */
	struct gm__emu_mt_rec rec[];
};

static inline uint64_t gm__mt_rec(unsigned state, uint16_t dom, uint32_t ref, bool rw)
{
	return (uint64_t)ref | (uint64_t)dom << 32 | (uint64_t)rw << 48 | (uint64_t)state << 56;
}

/* A maptrack's block word for entry @ref of domain @dom (never 0). */
static inline uint64_t gm__mt_block(uint16_t dom, uint32_t ref)
{
	return (uint64_t)ref | (uint64_t)dom << 32 | (uint64_t)1 << 63;
}

static inline unsigned gm__mt_state(uint64_t r)
{
	return (unsigned)(r >> 56);
}

static inline uint16_t gm__mt_dom(uint64_t r)
{
	return (uint16_t)(r >> 32);
}

static inline uint32_t gm__mt_ref(uint64_t r)
{
	return (uint32_t)r;
}

static inline bool gm__mt_rw(uint64_t r)
{
	return (r >> 48) & 1;
}

#endif /* GM_BACKENDS_EMU_SHM_H */
