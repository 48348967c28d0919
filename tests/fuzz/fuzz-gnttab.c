/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-gnttab: the emulated Xen's grant table (backends/emu/gnttab.c, the
 * shared-memory table that granting processes, mapping processes and the
 * hub all work on) against a model of Xen's v1 grant-table rules.
 *
 * The input is a program over one domain's table: three granting handles
 * (owners) grant pages of two RAM objects to domains 1..3; grantees map
 * batches of refs (read-only or read-write; a batch that fails part-way is
 * unmapped again, as gntdev does), unmap them, end access (immediately or
 * deferred, lists with duplicates and foreign refs), copy (a pin and its
 * release), and owners go away.  The model keeps, per ref: in use, owner,
 * grantee, read-only, revoked, RAM object, frame, read and write map
 * counts.
 *
 * Checked after every operation: each result (refs handed out, map
 * permission and the frame and RAM it gives, end-access errno and deferred
 * count, copy status) is the model's; every entry's flags (permit,
 * readonly, reading, writing), grantee, owner, RAM, frame and counts are
 * the model's; used (the counter and a scan) equals the model's live
 * entries.  At the end every batch is unmapped and every owner revoked: the
 * table must be empty.
 */
#include "config.h"

#include "fuzz-common.h"
#include "emu/gnttab.h"

#include <grantmem/xen.h>

#include <errno.h>
#include <stdbool.h>

#define NOWNER 3
#define NRAMOBJ 2 /* RAM object ids 1..NRAMOBJ */
#define MAXREF 1400 /* a few grant frames: growth is exercised */
/*
 * Entries a program may grow the table to with its big grants (a grant
 * past Xen's limit is still tried, and refused before any work): every
 * operation walks what is granted, so this keeps each execution cheap.
 */
#define TABLE_CAP (4 * GM__GT_FRAME_ENTRIES)
#define NBATCH 32
#define BATCH_MAX 16

struct mref {
	bool used, revoked, ro;
	int owner; /* 0..NOWNER-1, -1 when revoked */
	uint32_t ram;
	uint16_t grantee;
	uint32_t frame, rd, wr;
};

struct batch {
	bool on, rw;
	uint32_t n;
	uint32_t refs[BATCH_MAX];
};

static struct gm__gt gt; /* as the domain's shared page holds it */
static struct mref model[GM__GT_MAX_ENTRIES];
static struct batch batches[NBATCH];
static uint32_t hi_ref; /* refs at or above have never been used */

/* The handles' ids as the hub numbers them: never 0. */
static uint32_t owner_id(int owner)
{
	return 100u + (uint32_t)owner;
}

static uint32_t mused; /* entries in use in the model */

MODEL_LOOP static void model_free(uint32_t ref)
{
	memset(&model[ref], 0, sizeof(model[ref]));
	model[ref].owner = -1;
	mused--;
}

/* The model's table matches the table, entry by entry. */
MODEL_LOOP static void check_table(void)
{
	uint32_t used = 0, size = atomic_load(&gt.size);
	unsigned sused, smapped, smaps, mapped = 0, maps = 0;

	for (uint32_t ref = 0; ref < hi_ref || ref < size; ref++) {
		const struct mref *m = &model[ref];
		struct gm__gt_view e;

		if (ref >= size) {
			FUZZ_CHECK(!m->used, "model ref %u beyond the table", ref);
			continue;
		}
		gm__gt_peek(&gt, ref, &e);
		FUZZ_CHECK(!!e.flags == m->used, "ref %u in use: flags 0x%x vs model %d", ref,
			   e.flags, m->used);
		if (!m->used)
			continue;
		used++;
		mapped += m->rd || m->wr;
		maps += m->rd + m->wr;
		FUZZ_CHECK(e.ram == m->ram && e.frame == m->frame && e.grantee == m->grantee,
			   "ref %u RAM/frame/grantee", ref);
		FUZZ_CHECK(m->revoked || e.owner == owner_id(m->owner), "ref %u owner", ref);
		FUZZ_CHECK(e.rd_maps == m->rd && e.wr_maps == m->wr, "ref %u counts %u/%u vs %u/%u",
			   ref, e.rd_maps, e.wr_maps, m->rd, m->wr);
		uint16_t want = (uint16_t)((m->revoked ? 0 : GM__GTF_PERMIT_ACCESS) |
					   (m->ro ? GM__GTF_READONLY : 0) |
					   (m->rd || m->wr ? GM__GTF_READING : 0) |
					   (m->wr ? GM__GTF_WRITING : 0));
		FUZZ_CHECK(e.flags == want, "ref %u flags 0x%x, model 0x%x", ref, e.flags, want);
		/* Xen's invariant: a revoked entry lives only while mapped. */
		FUZZ_CHECK(!m->revoked || m->rd || m->wr, "ref %u revoked and unmapped", ref);
	}
	FUZZ_CHECK(atomic_load(&gt.used) == used, "used %u, model %u", atomic_load(&gt.used), used);
	gm__gt_counts(&gt, &sused, &smapped, &smaps);
	FUZZ_CHECK(sused == used && smapped == mapped && smaps == maps,
		   "counts %u/%u/%u, model %u/%u/%u", sused, smapped, smaps, used, mapped, maps);
	FUZZ_CHECK(size % GM__GT_FRAME_ENTRIES == 0 && size <= GM__GT_MAX_ENTRIES,
		   "table size %u", size);
}

static uint32_t pick_ref(struct fin *in)
{
	switch (fin_below(in, 4)) {
	case 0:
		return fin_below(in, 24);
	case 1:
		return GM__GT_FIRST_REF + fin_u8(in);
	case 2:
		return fin_u16(in) % (MAXREF + 8);
	default:
		return fin_u8(in) & 1 ? fin_u32(in) : UINT32_MAX - fin_u8(in);
	}
}

MODEL_LOOP static uint32_t lowest_free(uint32_t count, uint32_t *want)
{
	uint32_t got = 0;

	for (uint32_t r = GM__GT_FIRST_REF; got < count && r < GM__GT_MAX_ENTRIES; r++)
		if (!model[r].used)
			want[got++] = r;
	return got;
}

/* Frames past the first 8 (which come from the input): their index. */
MODEL_LOOP static void fill_frames(uint32_t *frames, uint32_t count)
{
	for (uint32_t i = 8; i < count; i++)
		frames[i] = i;
}

/* The table granted @refs (the model's choice @want): record them. */
MODEL_LOOP static void model_grant(uint32_t count, const uint32_t *refs, const uint32_t *want,
				   const uint32_t *frames, int owner, uint32_t ram,
				   uint16_t grantee, bool w)
{
	for (uint32_t i = 0; i < count; i++) {
		FUZZ_CHECK(refs[i] == want[i], "grant ref %u: %u, model %u", i, refs[i], want[i]);
		model[refs[i]] = (struct mref){.used = true, .ro = !w, .owner = owner, .ram = ram,
					       .grantee = grantee, .frame = frames[i]};
		mused++;
		if (refs[i] + 1 > hi_ref)
			hi_ref = refs[i] + 1;
	}
}

static void op_grant(struct fin *in)
{
	static uint32_t frames[GM__GT_MAX_ENTRIES + 2], refs[GM__GT_MAX_ENTRIES + 2],
		want[GM__GT_MAX_ENTRIES + 2];
	uint32_t count = 1 + fin_below(in, 8), live;
	int owner = fin_below(in, NOWNER);
	uint32_t ram = 1 + fin_below(in, NRAMOBJ);
	uint16_t grantee = (uint16_t)(1 + fin_below(in, 3));
	bool w = fin_u8(in) & 1;

	if (fin_u8(in) == 0xff) {
		uint32_t left = GM__GT_MAX_ENTRIES - GM__GT_FIRST_REF - mused;

		if (!fin_below(in, 16)) {
			/* just past Xen's limit: -ENOSPC */
			count = left + 1 + fin_below(in, 3);
		} else {
			/* grow by a few frames, up to TABLE_CAP */
			count = 500 + fin_u16(in) % 1100;
			if (GM__GT_FIRST_REF + mused + count > TABLE_CAP)
				count = TABLE_CAP > GM__GT_FIRST_REF + mused + 500
						? TABLE_CAP - GM__GT_FIRST_REF - mused
						: 1 + fin_below(in, 8);
		}
	}
	for (uint32_t i = 0; i < count && i < 8; i++)
		frames[i] = fin_u32(in);
	live = mused;
	if (GM__GT_FIRST_REF + live + count <= GM__GT_MAX_ENTRIES) {
		fill_frames(frames, count);
		/* Xen's choice here: the lowest free refs from the first one
		 * that is not the toolstack's. */
		lowest_free(count, want);
	}
	int ret = gm__gt_grant(&gt, count, frames, ram, owner_id(owner), grantee, w, refs);
	if (GM__GT_FIRST_REF + live + count > GM__GT_MAX_ENTRIES) {
		FUZZ_CHECK(ret == -ENOSPC, "grant into a full table: %d", ret);
		return;
	}
	FUZZ_CHECK(ret == 0, "grant of %u: %d", count, ret);
	model_grant(count, refs, want, frames, owner, ram, grantee, w);
}

static bool model_mappable(uint32_t ref, uint16_t mapper, bool rw)
{
	if (ref >= GM__GT_MAX_ENTRIES)
		return false;
	const struct mref *m = &model[ref];
	return m->used && !m->revoked && m->grantee == mapper && !(rw && m->ro);
}

/* One mapping of @ref more (@up) or less in the model. */
static void model_count(uint32_t ref, bool rw, bool up)
{
	uint32_t *c = rw ? &model[ref].wr : &model[ref].rd;

	*c = up ? *c + 1 : *c - 1;
}

static void op_map(struct fin *in)
{
	struct batch *b = &batches[fin_below(in, NBATCH)];

	if (b->on)
		return;
	uint16_t mapper = (uint16_t)(1 + fin_below(in, 3));
	bool rw = fin_u8(in) & 1;
	uint32_t done = 0;
	b->n = 1 + fin_below(in, BATCH_MAX);
	for (uint32_t i = 0; i < b->n; i++)
		b->refs[i] = pick_ref(in);
	/* ref by ref, as Xen maps a batch; a failure undoes the ones done */
	for (; done < b->n; done++) {
		uint32_t ref = b->refs[done], frame = 0, ram = 0;
		bool want = model_mappable(ref, mapper, rw);
		int r = gm__gt_map(&gt, ref, mapper, rw, &frame, &ram);

		FUZZ_CHECK((r == 0) == want && (r == 0 || r == -EINVAL),
			   "map ref %u by %u rw %d: %d, model %d", ref, mapper, rw, r, want);
		if (r)
			break;
		FUZZ_CHECK(frame == model[ref].frame && ram == model[ref].ram,
			   "map ref %u: frame %u RAM %u, model %u/%u", ref, frame, ram,
			   model[ref].frame, model[ref].ram);
		model_count(ref, rw, true);
	}
	if (done < b->n) {
		while (done--) {
			FUZZ_CHECK(gm__gt_unmap(&gt, b->refs[done], rw) == 0, "undo map of ref %u",
				   b->refs[done]);
			model_count(b->refs[done], rw, false);
		}
		return;
	}
	b->on = true;
	b->rw = rw;
}

static void unmap_batch(struct batch *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		struct mref *m = &model[b->refs[i]];

		int r = gm__gt_unmap(&gt, b->refs[i], b->rw);

		FUZZ_CHECK(r == 0, "unmap ref %u: %d", b->refs[i], r);
		model_count(b->refs[i], b->rw, false);
		if (m->revoked && !m->rd && !m->wr)
			model_free(b->refs[i]);
	}
	b->on = false;
}

static void op_unmap(struct fin *in)
{
	struct batch *b = &batches[fin_below(in, NBATCH)];

	if (b->on)
		unmap_batch(b);
}

static void op_end(struct fin *in)
{
	int owner = fin_below(in, NOWNER);
	bool defer = fin_u8(in) & 1;
	uint32_t n = 1 + fin_below(in, 6);
	unsigned char raw[1 + 6 * sizeof(uint32_t)];
	uint32_t refs[6];
	int want = 0;

	for (uint32_t i = 0; i < n; i++) {
		refs[i] = fin_u8(in) & 1 && i ? refs[i - 1] : pick_ref(in); /* duplicates */
		memcpy(raw + 1 + i * sizeof(uint32_t), &refs[i], sizeof(uint32_t));
	}
	/* Xen's rules: all checked first, then applied. */
	for (uint32_t i = 0; i < n && want == 0; i++) {
		const struct mref *m = refs[i] < GM__GT_MAX_ENTRIES ? &model[refs[i]] : NULL;

		if (!m || !m->used || m->revoked || m->owner != owner)
			want = -EINVAL;
		else if (!defer && (m->rd || m->wr))
			want = -EBUSY;
	}
	/* refs arrive unaligned from the wire: pass them so */
	int ret = gm__gt_end(&gt, raw + 1, n, owner_id(owner), defer);
	if (want) {
		FUZZ_CHECK(ret == want, "end: %d, model %d", ret, want);
		return;
	}
	int deferred = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct mref *m = &model[refs[i]];

		if (!m->used || m->revoked)
			continue;
		if (m->rd || m->wr) {
			m->revoked = true;
			deferred++;
		} else {
			model_free(refs[i]);
		}
	}
	FUZZ_CHECK(ret == deferred, "end: %d deferred, model %d", ret, deferred);
}

MODEL_LOOP static void revoke_owner(int owner)
{
	gm__gt_revoke_owner(&gt, owner_id(owner));
	for (uint32_t r = 0; r < hi_ref; r++) {
		struct mref *m = &model[r];

		if (!m->used || m->revoked || m->owner != owner)
			continue;
		if (m->rd || m->wr)
			m->revoked = true;
		else
			model_free(r);
	}
}

static void op_copy(struct fin *in)
{
	uint32_t ref = pick_ref(in), frame = 0, ram = 0;
	uint16_t caller = (uint16_t)(1 + fin_below(in, 3));
	bool writing = fin_u8(in) & 1;
	int st = gm__gt_copy_pin(&gt, ref, caller, writing, &frame, &ram), want;

	if (ref >= atomic_load(&gt.size))
		want = GM_GNTST_BAD_GNTREF;
	else if (!model[ref].used || model[ref].revoked || model[ref].grantee != caller ||
		 (writing && model[ref].ro))
		want = GM_GNTST_GENERAL_ERROR;
	else
		want = GM_GNTST_OKAY;
	FUZZ_CHECK(st == want, "copy check ref %u: %d, model %d", ref, st, want);
	if (st != GM_GNTST_OKAY)
		return;
	FUZZ_CHECK(frame == model[ref].frame && ram == model[ref].ram, "copy ref %u: frame/RAM",
		   ref);
	/* while pinned the entry is busy: a plain end fails */
	if (model[ref].rd + model[ref].wr == 0 && model[ref].owner >= 0) {
		uint32_t one = ref;
		int r = gm__gt_end(&gt, &one, 1, owner_id(model[ref].owner), false);

		FUZZ_CHECK(r == -EBUSY, "end of ref %u pinned by a copy: %d", ref, r);
	}
	FUZZ_CHECK(gm__gt_unmap(&gt, ref, writing) == 0, "copy unpin of ref %u", ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = {data, size};

	/* what a fresh shared page holds: only the entries ever touched */
	memset(gt.e, 0, atomic_load(&gt.size) * sizeof(gt.e[0]));
	gm__gt_init(&gt);
	memset(model, 0, hi_ref * sizeof(model[0]));
	mused = 0;
	memset(batches, 0, sizeof(batches));
	hi_ref = 0;
	for (unsigned steps = 0; in.n && steps < 256; steps++) {
		switch (fin_below(&in, 7)) {
		case 0:
		case 1:
			op_grant(&in);
			break;
		case 2:
			op_map(&in);
			break;
		case 3:
			op_unmap(&in);
			break;
		case 4:
			op_end(&in);
			break;
		case 5:
			op_copy(&in);
			break;
		default:
			if (fin_below(&in, 4) == 0)
				revoke_owner(fin_below(&in, NOWNER));
			break;
		}
		/* the whole table now and then; its size every time */
		if (steps % 16 == 15)
			check_table();
		FUZZ_CHECK(atomic_load(&gt.used) == mused, "used %u, model %u",
			   atomic_load(&gt.used), mused);
	}
	/* Teardown as the hub does when everything disconnects. */
	for (unsigned i = 0; i < NBATCH; i++)
		if (batches[i].on)
			unmap_batch(&batches[i]);
	for (int o = 0; o < NOWNER; o++)
		revoke_owner(o);
	check_table();
	FUZZ_CHECK(atomic_load(&gt.used) == 0, "%u entries left after teardown",
		   atomic_load(&gt.used));
	return 0;
}
