/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hub's domains (hub-internal.h): created when a first process joins,
 * torn down as Xen does when the last one leaves (xenstore directory,
 * @releaseDomain), kept dying while a backend still maps their grants.
 * Also their RAM objects: the sealed memfds granted pages live in.
 */
#include "config.h"

#include "hub-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* ---- RAM objects ------------------------------------------------------------ */

int gm__hub_ram_new(int fd, uint64_t size, struct ram **out)
{
	struct stat st;
	char proc[64];
	struct ram *r;
	int seals = fcntl(fd, F_GET_SEALS);

	/* Unsealed RAM could shrink under our mapping: SIGBUS in the hub. */
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EINVAL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size ||
	    !size || size > RAM_MAX || size % GM_PAGE_SIZE)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->base == MAP_FAILED) {
		free(r);
		return -EINVAL;
	}
	/* A read-only reopening, so that read-only maps cannot be mprotect()ed
	 * writable by the backend. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r->ro_fd = open(proc, O_RDONLY | O_CLOEXEC);
	r->fd = fd;
	r->pages = (uint32_t)(size / GM_PAGE_SIZE);
	r->refs = 1;
	*out = r;
	return 0;
}

void gm__hub_ram_put(struct ram *r)
{
	if (!r || --r->refs)
		return;
	munmap(r->base, (size_t)r->pages * GM_PAGE_SIZE);
	close(r->fd);
	if (r->ro_fd >= 0)
		close(r->ro_fd);
	free(r);
}

static void ram_get_op(void *r)
{
	((struct ram *)r)->refs++;
}

static void ram_put_op(void *r)
{
	gm__hub_ram_put(r);
}

static const struct gm__gt_ram_ops gt_ram_ops = {.get = ram_get_op, .put = ram_put_op};

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
	gm__gt_destroy(&d->gt);
	free(d->ports);
	free(d);
}

/* Drop a domain that has neither connections nor mapped entries. */
void gm__hub_dom_maybe_free(struct hub *h, struct domain *d)
{
	if (d->id != 0 && d->nconns == 0 && d->gt.used == 0)
		gm__hub_dom_free(h, d);
}

static int dom_path(uint16_t id, char *buf)
{
	return snprintf(buf, 32, "/local/domain/%u", id);
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
	gm__gt_init(&d->gt, &gt_ram_ops);
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
	dom_path(d->id, path);
	gm__hub_xs_rm(h, path);
	gm__hub_xs_fire(h, "@releaseDomain");
	if (d->gt.used)
		d->dying = true; /* freed when the last mapping goes */
	gm__hub_dom_maybe_free(h, d);
}
