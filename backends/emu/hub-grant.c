/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hub's side of grant handles (hub-internal.h).  Processes grant, map,
 * copy and end access on the domains' shared tables themselves (gnttab.c);
 * the hub gives each mapping handle its maptrack (shm.h) and each granting
 * handle its RAM object's id, and when a connection goes it drops what its
 * mappings held (a dead backend leaves no busy bits) and revokes what it
 * granted (entries still mapped stay until their last unmap, as on Xen).
 */
#include "config.h"

#include "hub-internal.h"

#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static size_t mt_size(uint32_t cap)
{
	size_t n = sizeof(struct gm__emu_maptrack) + (size_t)cap * sizeof(struct gm__emu_mt_rec);

	return (n + GM_PAGE_SIZE - 1) & ~(size_t)(GM_PAGE_SIZE - 1);
}

/* A fresh maptrack for @c, sealed: the mapper cannot resize it under us. */
static int mt_create(struct conn *c)
{
	size_t size = mt_size(GM__EMU_MAPTRACK_MAX);
	int fd = memfd_create("grantmem-emu-maptrack", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    (p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		int r = -errno;

		close(fd);
		return r;
	}
	c->mt = p;
	c->mt->cap = GM__EMU_MAPTRACK_MAX;
	c->mt_size = size;
	c->mt_fd = fd;
	return 0;
}

int gm__hub_gnt_hello(struct hub *h, struct rq *q, const struct gm__emu_hello *hello,
		      struct gm__emu_hello_rep *rep)
{
	struct conn *c = q->c;
	int r;

	(void)h;
	if (hello->kind == GM__EMU_K_GNTTAB) {
		r = mt_create(c);
		if (r < 0)
			return r;
		rep->mt_cap = c->mt->cap;
		q->ofds[0] = c->mt_fd;
		q->nofds = 1;
		return 0;
	}
	r = gm__hub_ram_new(c->dom, q->fds[0], hello->ram_size, &c->ram);
	if (r < 0)
		return r;
	q->fds[0] = -1; /* the RAM object owns it now */
	rep->ram = c->ram->id;
	return 0;
}

/* Records @c's maptrack may hold (the mapper says: believe no more than the file). */
static uint32_t mt_used(const struct conn *c)
{
	uint32_t n = atomic_load(&c->mt->hwm);

	return n < GM__EMU_MAPTRACK_MAX ? n : GM__EMU_MAPTRACK_MAX;
}

/* A record of a gone mapper caught mid-operation: its count may have moved. */
struct unsure {
	struct domain *d;
	uint32_t ref;
	bool rw;
	uint32_t n; /* such records of (d, ref, rw) */
};

/* At most this many entries settled per batch of gone mappers (a process
 * has one operation in flight per thread; more is a maptrack that lies). */
#define UNSURE_MAX 256u
/* How long the hub waits for live mappers' own operations on an entry. */
#define SETTLE_NS (100 * 1000 * 1000L)

static void unsure_add(struct unsure *u, unsigned *n, struct domain *d, uint32_t ref, bool rw)
{
	for (unsigned i = 0; i < *n; i++)
		if (u[i].d == d && u[i].ref == ref && u[i].rw == rw) {
			u[i].n++;
			return;
		}
	if (*n == UNSURE_MAX) {
		gm__warn_rl("emu hub: a gone mapper claims more than %u operations in flight: "
			    "the rest stay counted", UNSURE_MAX);
		return;
	}
	u[(*n)++] = (struct unsure){d, ref, rw, 1};
}

/*
 * Drop the mappings a gone mapper's maptrack says it held; a record caught
 * mid-operation goes to @u (NULL: the world ends, nothing to settle).
 */
static void mt_release(struct hub *h, struct conn *c, struct unsure *u, unsigned *nu)
{
	uint32_t n = mt_used(c);

	for (uint32_t i = 0; i < n; i++) {
		uint64_t rec = atomic_load(&c->mt->rec[i].w);
		uint64_t instance = atomic_load(&c->mt->rec[i].instance);
		unsigned st = gm__mt_state(rec);
		struct domain *d;

		if (st == GM__MT_FREE)
			continue;
		d = gm__hub_dom_find(h, gm__mt_dom(rec));
		if (d && d->instance == instance) {
			if (st == GM__MT_HELD)
				gm__gt_unmap(&d->shm->gt, gm__mt_ref(rec), gm__mt_rw(rec));
			else if (u && (st == GM__MT_PINNING || st == GM__MT_RELEASING))
				unsure_add(u, nu, d, gm__mt_ref(rec), gm__mt_rw(rec));
		}
		atomic_store(&c->mt->rec[i].w, 0);
	}
}

static void mt_drop(struct conn *c)
{
	munmap(c->mt, c->mt_size);
	close(c->mt_fd);
	c->mt = NULL;
}

/*
 * Live maptracks' records of entry @ref of @d, as @rw: how many are held;
 * false if one is mid-operation (its count may be moving).
 */
static bool live_held(struct hub *h, struct domain *d, uint32_t ref, bool rw, uint32_t *held)
{
	*held = 0;
	for (struct conn *c = h->conns; c; c = c->next) {
		uint32_t n;

		if (!c->mt)
			continue;
		n = mt_used(c);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t rec = atomic_load(&c->mt->rec[i].w);
			unsigned st = gm__mt_state(rec);

			if (st == GM__MT_FREE || gm__mt_dom(rec) != d->id || gm__mt_ref(rec) != ref ||
			    atomic_load(&c->mt->rec[i].instance) != d->instance)
				continue;
			if (st != GM__MT_HELD)
				return false;
			*held += gm__mt_rw(rec) == rw;
		}
	}
	return true;
}

static long elapsed_ns(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/*
 * Settle @u: block new pins of the entry in every live maptrack, wait
 * until no live record of it is mid-operation (from then on its count can
 * only fall), then take two equal readings of the count around a count of
 * the live records that hold it: whatever is counted beyond them (at most
 * @u->n) was the gone mapper's.  Gives up at the deadline from @t0,
 * leaving the entry counted.
 */
static void settle(struct hub *h, const struct unsure *u, const struct timespec *t0)
{
	struct gm__gt_view a, b;
	uint64_t key = gm__mt_block(u->d->id, u->ref);
	uint32_t held, extra = 0;
	bool done = false;

	for (struct conn *c = h->conns; c; c = c->next)
		if (c->mt)
			atomic_store(&c->mt->block, key);
	while (!done && elapsed_ns(t0) < SETTLE_NS) {
		gm__gt_peek(&u->d->shm->gt, u->ref, &a);
		if (live_held(h, u->d, u->ref, u->rw, &held)) {
			gm__gt_peek(&u->d->shm->gt, u->ref, &b);
			if (a.rd_maps == b.rd_maps && a.wr_maps == b.wr_maps) {
				uint32_t count = u->rw ? b.wr_maps : b.rd_maps;

				extra = count > held ? GM__MIN(count - held, u->n) : 0;
				done = true;
			}
		}
		if (!done)
			sched_yield();
	}
	for (uint32_t i = 0; i < extra; i++)
		gm__gt_unmap(&u->d->shm->gt, u->ref, u->rw);
	for (struct conn *c = h->conns; c; c = c->next)
		if (c->mt)
			atomic_store(&c->mt->block, 0);
	if (!done)
		gm__warn_rl("emu hub: entry %u of domain %u: live mappers kept it moving; a gone "
			 "mapper's operation on it stays counted", u->ref, u->d->id);
}

void gm__hub_gnt_gone(struct hub *h)
{
	struct unsure *u = NULL;
	unsigned nu = 0;
	struct timespec t0;

	for (struct conn *c = h->conns; c; c = c->next) {
		if (!c->dead || !c->mt)
			continue;
		if (!u && !(u = malloc(UNSURE_MAX * sizeof(*u))))
			gm__err("emu hub: out of memory: mid-operation records stay counted");
		mt_release(h, c, u, &nu);
		mt_drop(c);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < nu; i++)
		settle(h, &u[i], &t0);
	free(u);
}

/* Does a connection's maptrack say it maps or pins something of @d? */
static bool holds(struct hub *h, const struct domain *d)
{
	for (struct conn *c = h->conns; c; c = c->next) {
		uint32_t n;

		if (!c->mt)
			continue;
		n = mt_used(c);
		for (uint32_t i = 0; i < n; i++)
			if (gm__mt_state(atomic_load(&c->mt->rec[i].w)) != GM__MT_FREE &&
			    atomic_load(&c->mt->rec[i].instance) == d->instance)
				return true;
	}
	return false;
}

void gm__hub_gnt_release(struct hub *h, struct conn *c)
{
	if (c->mt) {
		mt_release(h, c, NULL, NULL);
		mt_drop(c);
	}
	if (c->kind == GM__EMU_K_GNTSHR && c->dom) {
		/* nothing maps through this RAM object any more: revoked
		 * entries are never mapped again, existing maps keep the pages */
		gm__gt_revoke_owner(&c->dom->shm->gt, c->id);
		gm__hub_ram_free(c->dom, c->ram);
		c->ram = NULL;
	}
}

bool gm__hub_gnt_sweep(struct hub *h)
{
	bool dying = false;

	for (struct domain *d = h->doms, *next; d; d = next) {
		unsigned used, mapped, maps;

		next = d->next;
		if (!d->dying)
			continue;
		/* its last unmap happened in the mapper; or nobody alive holds
		 * a mapping any more, whatever the shared table says */
		gm__hub_dom_counts(d, &used, &mapped, &maps);
		if (!used || !holds(h, d))
			gm__hub_dom_free(h, d);
		else
			dying = true;
	}
	return dying;
}
