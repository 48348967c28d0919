/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-gnttab: the emulated Xen's grant table (backends/emu/gnttab.c, the
 * code the hub runs) against a model of Xen's v1 grant-table rules.
 *
 * The input is a program over one domain's table: three granting
 * connections (owners) grant pages to domains 1..3; grantees map batches of
 * refs (read-only or read-write), unmap them, end access (immediately or
 * deferred, lists with duplicates and foreign refs), copy-check, and
 * connections go away.  The model keeps, per ref: in use, owner, grantee,
 * read-only, revoked, frame, read and write map counts.
 *
 * Checked after every operation: each result (refs handed out, map
 * permission, end-access errno and deferred count, copy status) is the
 * model's; every entry's flags (permit, readonly, reading, writing) and
 * counts are the model's; used equals the model's live entries; RAM
 * references equal the entries that hold them.  At the end every batch is
 * unmapped and every owner revoked: the table must be empty and every RAM
 * reference dropped.
 */
#include "config.h"

#include "fuzz-common.h"
#include "emu/gnttab.h"

#include <grantmem/xen.h>

#include <errno.h>
#include <stdbool.h>

#define NOWNER 3
#define NRAMOBJ 2
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
	int owner; /* index into owners[], -1 when revoked */
	int ram;
	uint16_t grantee;
	uint32_t frame, rd, wr;
};

struct batch {
	bool on, rw;
	uint32_t n;
	uint32_t refs[BATCH_MAX];
};

static struct gm__gt gt;
static struct mref model[GM__GT_MAX_ENTRIES];
static struct batch batches[NBATCH];
static int ram_refs[NRAMOBJ];
static int ram_objs[NRAMOBJ]; /* their addresses are the opaque RAM pointers */
static char owners[NOWNER];   /* likewise for owners */
static uint32_t hi_ref;       /* refs at or above have never been used */

MODEL_LOOP static void ram_get(void *r)
{
	ram_refs[(int *)r - ram_objs]++;
}

MODEL_LOOP static void ram_put(void *r)
{
	int i = (int *)r - ram_objs;

	FUZZ_CHECK(ram_refs[i] > 0, "RAM %d put below zero", i);
	ram_refs[i]--;
}

static const struct gm__gt_ram_ops ram_ops = {.get = ram_get, .put = ram_put};

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
	uint32_t used = 0;
	int refs[NRAMOBJ] = {0};

	for (uint32_t ref = 0; ref < hi_ref || ref < gt.size; ref++) {
		const struct mref *m = &model[ref];

		if (ref >= gt.size) {
			FUZZ_CHECK(!m->used, "model ref %u beyond the table", ref);
			continue;
		}
		const struct gm__gt_ent *e = &gt.e[ref];
		FUZZ_CHECK(!!e->ram == m->used, "ref %u in use: %d vs model %d", ref, !!e->ram,
			   m->used);
		if (!m->used)
			continue;
		used++;
		refs[m->ram]++;
		FUZZ_CHECK(e->ram == &ram_objs[m->ram], "ref %u RAM", ref);
		FUZZ_CHECK(e->owner == (m->revoked ? NULL : &owners[m->owner]), "ref %u owner", ref);
		FUZZ_CHECK(e->frame == m->frame && e->grantee == m->grantee, "ref %u frame/grantee",
			   ref);
		FUZZ_CHECK(e->rd_maps == m->rd && e->wr_maps == m->wr, "ref %u counts %u/%u vs %u/%u",
			   ref, e->rd_maps, e->wr_maps, m->rd, m->wr);
		uint16_t want = (uint16_t)((m->revoked ? 0 : GM__GTF_PERMIT_ACCESS) |
					   (m->ro ? GM__GTF_READONLY : 0) |
					   (m->rd || m->wr ? GM__GTF_READING : 0) |
					   (m->wr ? GM__GTF_WRITING : 0));
		FUZZ_CHECK(e->flags == want, "ref %u flags 0x%x, model 0x%x", ref, e->flags, want);
		/* Xen's invariant: a revoked entry lives only while mapped. */
		FUZZ_CHECK(!m->revoked || m->rd || m->wr, "ref %u revoked and unmapped", ref);
	}
	FUZZ_CHECK(gt.used == used, "used %u, model %u", gt.used, used);
	for (int i = 0; i < NRAMOBJ; i++)
		FUZZ_CHECK(ram_refs[i] == refs[i], "RAM %d refs %d, entries %d", i, ram_refs[i],
			   refs[i]);
	FUZZ_CHECK(gt.size % GM__GT_FRAME_ENTRIES == 0 && gt.size <= GM__GT_MAX_ENTRIES,
		   "table size %u", gt.size);
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
				   const uint32_t *frames, int owner, int ram, uint16_t grantee,
				   bool w)
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
	int owner = fin_below(in, NOWNER), ram = fin_below(in, NRAMOBJ);
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
	int ret = gm__gt_grant(&gt, count, frames, &ram_objs[ram], &owners[owner], grantee, w,
			       refs);
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

static void op_map(struct fin *in)
{
	struct batch *b = &batches[fin_below(in, NBATCH)];

	if (b->on)
		return;
	uint16_t mapper = (uint16_t)(1 + fin_below(in, 3));
	bool rw = fin_u8(in) & 1, all = true;
	b->n = 1 + fin_below(in, BATCH_MAX);
	for (uint32_t i = 0; i < b->n; i++) {
		b->refs[i] = pick_ref(in);
		bool ok = gm__gt_mappable(&gt, b->refs[i], mapper, rw);
		FUZZ_CHECK(ok == model_mappable(b->refs[i], mapper, rw),
			   "mappable ref %u by %u rw %d: %d", b->refs[i], mapper, rw, ok);
		all &= ok;
	}
	if (!all)
		return; /* the hub maps all or nothing */
	for (uint32_t i = 0; i < b->n; i++) {
		gm__gt_map(&gt, b->refs[i], rw);
		if (rw)
			model[b->refs[i]].wr++;
		else
			model[b->refs[i]].rd++;
	}
	b->on = true;
	b->rw = rw;
}

static void unmap_batch(struct batch *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		struct mref *m = &model[b->refs[i]];

		gm__gt_unmap(&gt, b->refs[i], b->rw);
		if (b->rw)
			m->wr--;
		else
			m->rd--;
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
	int ret = gm__gt_end(&gt, raw + 1, n, &owners[owner], defer);
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
	gm__gt_revoke_owner(&gt, &owners[owner]);
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
	uint32_t ref = pick_ref(in);
	uint16_t caller = (uint16_t)(1 + fin_below(in, 3));
	bool writing = fin_u8(in) & 1;
	int st = gm__gt_copy_check(&gt, ref, caller, writing), want;

	if (ref >= gt.size)
		want = GM_GNTST_BAD_GNTREF;
	else if (!model[ref].used || model[ref].revoked || model[ref].grantee != caller ||
		 (writing && model[ref].ro))
		want = GM_GNTST_GENERAL_ERROR;
	else
		want = GM_GNTST_OKAY;
	FUZZ_CHECK(st == want, "copy check ref %u: %d, model %d", ref, st, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = {data, size};

	gm__gt_init(&gt, &ram_ops);
	memset(model, 0, hi_ref * sizeof(model[0]));
	mused = 0;
	memset(batches, 0, sizeof(batches));
	memset(ram_refs, 0, sizeof(ram_refs));
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
		FUZZ_CHECK(gt.used == mused, "used %u, model %u", gt.used, mused);
	}
	/* Teardown as the hub does when everything disconnects. */
	for (unsigned i = 0; i < NBATCH; i++)
		if (batches[i].on)
			unmap_batch(&batches[i]);
	for (int o = 0; o < NOWNER; o++)
		revoke_owner(o);
	check_table();
	FUZZ_CHECK(gt.used == 0, "%u entries left after teardown", gt.used);
	for (int i = 0; i < NRAMOBJ; i++)
		FUZZ_CHECK(ram_refs[i] == 0, "RAM %d keeps %d references", i, ram_refs[i]);
	gm__gt_destroy(&gt);
	return 0;
}
