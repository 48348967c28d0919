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
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* Drop the mappings a gone mapper's maptrack says it held. */
static void mt_release(struct hub *h, struct conn *c)
{
	uint32_t n = mt_used(c);

	for (uint32_t i = 0; i < n; i++) {
		uint64_t rec = atomic_load(&c->mt->rec[i].w);
		uint64_t instance = atomic_load(&c->mt->rec[i].instance);
		struct domain *d;

		/* "releasing" was unpinned, or is about to be: leave it counted
		 * rather than drop another mapper's pin */
		if (gm__mt_state(rec) != GM__MT_HELD)
			continue;
		d = gm__hub_dom_find(h, gm__mt_dom(rec));
		if (d && d->instance == instance)
			gm__gt_unmap(&d->shm->gt, gm__mt_ref(rec), gm__mt_rw(rec));
		atomic_store(&c->mt->rec[i].w, 0);
	}
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
		mt_release(h, c);
		munmap(c->mt, c->mt_size);
		close(c->mt_fd);
		c->mt = NULL;
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
