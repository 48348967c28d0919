/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hub's domains (hub-internal.h): created when a first process joins,
 * torn down as Xen does when the last one leaves (xenstore directory,
 * @releaseDomain), kept dying while a backend still maps their grants.
 * Each has a shared page (shm.h) with its grant table and event channels,
 * which processes get with DOM_OPEN, and RAM objects: the sealed memfds
 * granted pages live in, which processes get with DOM_RAM.
 *
 * The shared page is written by every process of the world: the hub reads
 * it only to count and to clean up, through gnttab.c, which trusts nothing
 * it reads there.
 */
#include "config.h"

#include "hub-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define SHM_SIZE ((sizeof(struct gm__emu_dom_shm) + GM_PAGE_SIZE - 1) & ~(size_t)(GM_PAGE_SIZE - 1))

/* ---- RAM objects ------------------------------------------------------------ */

int gm__hub_ram_new(struct domain *d, int fd, uint64_t size, struct ram **out)
{
	struct stat st;
	char proc[64];
	struct ram *r;
	int seals = fcntl(fd, F_GET_SEALS);

	/* Unsealed RAM could shrink under a mapper's mapping: SIGBUS there. */
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EINVAL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size ||
	    !size || size > RAM_MAX || size % GM_PAGE_SIZE)
		return -EINVAL;
	if (d->next_ram == UINT32_MAX)
		return -ENOSPC;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	/* A read-only reopening, so that read-only maps cannot be mprotect()ed
	 * writable by the backend. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r->ro_fd = open(proc, O_RDONLY | O_CLOEXEC);
	r->fd = fd;
	r->pages = (uint32_t)(size / GM_PAGE_SIZE);
	r->id = ++d->next_ram;
	r->next = d->rams;
	d->rams = r;
	*out = r;
	return 0;
}

void gm__hub_ram_free(struct domain *d, struct ram *r)
{
	if (!r)
		return;
	for (struct ram **pp = &d->rams; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	close(r->fd);
	if (r->ro_fd >= 0)
		close(r->ro_fd);
	free(r);
}

/* ---- domains ---------------------------------------------------------------------- */

struct domain *gm__hub_dom_find(struct hub *h, unsigned id)
{
	for (struct domain *d = h->doms; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

void gm__hub_dom_free(struct hub *h, struct domain *d)
{
	for (struct domain **pp = &h->doms; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	while (d->rams)
		gm__hub_ram_free(d, d->rams);
	if (d->shm) {
		/* processes that keep it mapped look the domain up again */
		atomic_store(&d->shm->dead, 1);
		munmap(d->shm, SHM_SIZE);
	}
	if (d->shm_fd >= 0)
		close(d->shm_fd);
	free(d->ports);
	free(d);
}

void gm__hub_dom_counts(struct domain *d, unsigned *used, unsigned *mapped, unsigned *maps)
{
	gm__gt_counts(&d->shm->gt, used, mapped, maps);
}

static int dom_path(uint16_t id, char *buf)
{
	return snprintf(buf, 32, "/local/domain/%u", id);
}

/* The shared page of a new domain: sealed, so that nobody can resize it. */
static int shm_create(struct domain *d, uint64_t instance)
{
	int fd = memfd_create("grantmem-emu-domain", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)SHM_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    (p = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		int r = -errno;

		close(fd);
		return r;
	}
	d->shm = p;
	d->shm_fd = fd;
	d->instance = instance;
	d->shm->magic = GM__EMU_SHM_MAGIC;
	d->shm->domid = d->id;
	d->shm->instance = instance;
	gm__gt_init(&d->shm->gt);
	return 0;
}

struct domain *gm__hub_dom_create(struct hub *h, uint16_t id, pid_t pid)
{
	static const struct gm__emu_xs_perm none;
	struct domain *d = calloc(1, sizeof(*d));
	struct gm__emu_xs_perm own = {.id = id, .perms = GM_XS_PERM_NONE};
	char path[32];

	if (!d)
		return NULL;
	d->id = id;
	d->pid = pid;
	d->shm_fd = -1;
	if (shm_create(d, ++h->next_instance) < 0) {
		free(d);
		return NULL;
	}
	d->next = h->doms;
	h->doms = d;
	dom_path(id, path);
	/* /local/domain/<id>, owned by the domain (as the toolstack does) */
	gm__hub_xs_mkdir(h, path, id ? &own : &none, 1);
	gm__hub_xs_fire(h, "@introduceDomain");
	return d;
}

/* A connection joins domain @id. */
int gm__hub_dom_join(struct hub *h, struct conn *c, uint32_t id)
{
	struct domain *d;

	if (id > GM_DOMID_MAX)
		return -EINVAL;
	d = gm__hub_dom_find(h, id);
	if (d && d->dying)
		return -EBUSY;
	if (d && id != 0 && d->pid != c->pid)
		return -EEXIST;
	if (!d && !(d = gm__hub_dom_create(h, (uint16_t)id, c->pid)))
		return -ENOMEM;
	d->nconns++;
	c->dom = d;
	return 0;
}

/* The last connection of a domain went away: tear it down as Xen does. */
void gm__hub_dom_leave(struct hub *h, struct domain *d)
{
	char path[32];

	if (--d->nconns || d->id == 0)
		return;
	/* dying before anyone hears of it: freed by gm__hub_gnt_sweep() once
	 * nobody maps it; mappers drop what they keep of it once they have
	 * unmapped it all */
	d->dying = true;
	atomic_store(&d->shm->dying, 1);
	dom_path(d->id, path);
	gm__hub_xs_rm(h, path);
	gm__hub_xs_fire(h, "@releaseDomain");
}

/* ---- requests ------------------------------------------------------------------------ */

static int h_open(struct hub *h, struct rq *q)
{
	struct gm__emu_dom rep = {0};
	struct domain *d;

	if (q->len || q->arg > 0xffff)
		return -EINVAL;
	d = gm__hub_dom_find(h, gm__hub_domid(q->c, q->arg));
	if (!d)
		return -ESRCH;
	rep.instance = d->instance;
	rep.size = SHM_SIZE;
	rep.domid = d->id;
	memcpy(q->out, &rep, sizeof(rep));
	q->olen = sizeof(rep);
	q->ofds[0] = d->shm_fd;
	q->nofds = 1;
	return 0;
}

static int h_ram(struct hub *h, struct rq *q)
{
	struct gm__emu_ram_req req;
	struct domain *d;
	struct ram *r;

	if (q->len != sizeof(req))
		return -EINVAL;
	memcpy(&req, q->p, sizeof(req));
	d = req.domid <= 0xffff ? gm__hub_dom_find(h, req.domid) : NULL;
	if (!d || d->instance != req.instance)
		return -ESRCH;
	for (r = d->rams; r && r->id != req.ram; r = r->next)
		;
	if (!r)
		return -ENOENT;
	memcpy(q->out, &r->pages, sizeof(r->pages));
	q->olen = sizeof(r->pages);
	q->ofds[0] = r->fd;
	q->ofds[1] = r->ro_fd >= 0 ? r->ro_fd : r->fd;
	q->nofds = 2;
	return 0;
}

int gm__hub_dom_request(struct hub *h, struct rq *q)
{
	if (!q->c->dom)
		return -EINVAL;
	return q->type == GM__EMU_DOM_OPEN ? h_open(h, q) : h_ram(h, q);
}
