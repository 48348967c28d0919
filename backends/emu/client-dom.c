/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The domains an emulated world has looked at (client.h): each one's shared
 * page (grant table and event channels, shm.h) and the RAM objects its
 * grants live in, got from the hub once and kept, so that grant maps,
 * copies and notifies need no message to the hub.  A domain whose
 * processes are gone (its shared page says dying, or dead once the hub let
 * it go) is dropped as soon as nothing of this world uses it: its last
 * unmap, or the next look at the list.
 */
#include "config.h"

#include "client.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void ram_free(struct emu_ram *r)
{
	if (r->base)
		munmap(r->base, (size_t)r->pages * GM_PAGE_SIZE);
	close(r->fd);
	if (r->ro_fd != r->fd)
		close(r->ro_fd);
	free(r);
}

static void dom_free(struct emu_dom *d)
{
	for (unsigned i = 0; i < d->nrams; i++)
		ram_free(d->rams[i]);
	free(d->rams);
	munmap(d->shm, d->size);
	free(d);
}

/* Drop one reference; dlock held. */
static void dom_unref(struct emu_dom *d)
{
	if (!--d->refs)
		dom_free(d);
}

static bool dom_dead(struct emu_dom *d)
{
	return atomic_load_explicit(&d->shm->dead, memory_order_acquire) != 0;
}

/* Nothing maps anew in it, and only the list holds it: let it go. */
static bool dom_idle(struct emu_dom *d)
{
	return d->refs == 1 && (dom_dead(d) || atomic_load(&d->shm->dying));
}

/* Drop the listed domains that are gone, or going and idle; dlock held. */
static void dom_sweep(struct emu_world *w)
{
	struct emu_dom *d;

	for (struct emu_dom **pp = &w->doms; (d = *pp);) {
		if (dom_dead(d) || dom_idle(d)) {
			*pp = d->next;
			dom_unref(d);
		} else {
			pp = &d->next;
		}
	}
}

void gm__emu_dom_sweep(struct emu_world *w)
{
	pthread_mutex_lock(&w->dlock);
	dom_sweep(w);
	pthread_mutex_unlock(&w->dlock);
}

/* Ask the hub for domain @id's shared page and map it. */
static int dom_open(struct emu_world *w, gm_domid id, struct emu_dom **out)
{
	struct gm__emu_dom rep;
	struct gm__emu_hdr rh;
	struct emu_dom *d;
	struct stat st;
	unsigned nfd = 0;
	void *p;
	int fd = -1, r;

	pthread_mutex_lock(&w->dom.lock);
	r = gm__ec_call_locked(&w->dom, GM__EMU_DOM_OPEN, id, NULL, 0, &rh, &fd, 1, &nfd);
	if (r == 0 && (rh.len != sizeof(rep) || nfd != 1))
		r = -EPROTO;
	if (r == 0)
		memcpy(&rep, gm__ec_payload(&w->dom), sizeof(rep));
	pthread_mutex_unlock(&w->dom.lock);
	if (r < 0) {
		if (nfd)
			close(fd);
		return r;
	}
	if (rep.size < sizeof(struct gm__emu_dom_shm) || fstat(fd, &st) < 0 ||
	    (uint64_t)st.st_size != rep.size) {
		close(fd);
		return -EPROTO;
	}
	p = mmap(NULL, rep.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	r = p == MAP_FAILED ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	d = gm__calloc(1, sizeof(*d));
	if (!d) {
		munmap(p, rep.size);
		return -ENOMEM;
	}
	d->shm = p;
	d->size = rep.size;
	d->id = (gm_domid)rep.domid;
	d->instance = rep.instance;
	if (d->shm->magic != GM__EMU_SHM_MAGIC || d->shm->instance != rep.instance) {
		dom_free(d);
		return -EPROTO;
	}
	*out = d;
	return 0;
}

int gm__emu_dom_get(struct emu_world *w, gm_domid id, struct emu_dom **out)
{
	struct emu_dom *d, *nd;
	int r;

	if (id == GM_DOMID_SELF)
		id = w->domid;
	pthread_mutex_lock(&w->dlock);
	for (d = w->doms; d; d = d->next)
		if (d->id == id && !dom_dead(d)) {
			d->refs++;
			pthread_mutex_unlock(&w->dlock);
			*out = d;
			return 0;
		}
	dom_sweep(w);
	pthread_mutex_unlock(&w->dlock);
	r = dom_open(w, id, &nd);
	if (r < 0)
		return r;
	pthread_mutex_lock(&w->dlock);
	/* another thread may have got it meanwhile */
	for (d = w->doms; d; d = d->next)
		if (d->id == id && d->instance == nd->instance)
			break;
	if (d) {
		dom_free(nd);
	} else {
		d = nd;
		d->refs = 1; /* the list's */
		d->next = w->doms;
		w->doms = d;
	}
	d->refs++;
	pthread_mutex_unlock(&w->dlock);
	*out = d;
	return 0;
}

void gm__emu_dom_put(struct emu_world *w, struct emu_dom *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&w->dlock);
	if (!--d->refs)
		dom_free(d);
	else if (d->refs == 1 && atomic_load(&d->shm->dying))
		dom_sweep(w); /* its last user in this world: a dying domain goes now */
	pthread_mutex_unlock(&w->dlock);
}

static struct emu_ram *ram_find(struct emu_dom *d, uint32_t id)
{
	for (unsigned i = 0; i < d->nrams; i++)
		if (d->rams[i]->id == id)
			return d->rams[i];
	return NULL;
}

/* Ask the hub for RAM object @id of @d. */
static int ram_open(struct emu_world *w, struct emu_dom *d, uint32_t id, struct emu_ram **out)
{
	struct gm__emu_ram_req req = {.instance = d->instance, .domid = d->id, .ram = id};
	struct iovec iov = {.iov_base = &req, .iov_len = sizeof(req)};
	struct gm__emu_hdr rh;
	struct emu_ram *r = NULL;
	struct stat st;
	int fds[2] = {-1, -1}, ret;
	unsigned nfd = 0;
	uint32_t pages = 0;

	pthread_mutex_lock(&w->dom.lock);
	ret = gm__ec_call_locked(&w->dom, GM__EMU_DOM_RAM, 0, &iov, 1, &rh, fds, 2, &nfd);
	if (ret == 0 && (rh.len != sizeof(pages) || nfd != 2))
		ret = -EPROTO;
	if (ret == 0)
		memcpy(&pages, gm__ec_payload(&w->dom), sizeof(pages));
	pthread_mutex_unlock(&w->dom.lock);
	if (ret == 0 && (!pages || fstat(fds[0], &st) < 0 ||
			 (uint64_t)st.st_size != (uint64_t)pages * GM_PAGE_SIZE))
		ret = -EPROTO;
	if (ret == 0 && !(r = gm__calloc(1, sizeof(*r))))
		ret = -ENOMEM;
	if (ret < 0) {
		for (unsigned i = 0; i < nfd; i++)
			close(fds[i]);
		return ret;
	}
	r->id = id;
	r->pages = pages;
	r->fd = fds[0];
	r->ro_fd = fds[1];
	*out = r;
	return 0;
}

int gm__emu_dom_ram(struct emu_world *w, struct emu_dom *d, uint32_t id, bool base,
		    struct emu_ram **out)
{
	struct emu_ram *r = NULL, *nr = NULL;
	int ret = 0;

	pthread_mutex_lock(&w->dlock);
	r = ram_find(d, id);
	pthread_mutex_unlock(&w->dlock);
	if (!r && (ret = ram_open(w, d, id, &nr)) < 0)
		return ret;
	pthread_mutex_lock(&w->dlock);
	if (nr && !(r = ram_find(d, id))) {
		if (d->nrams == d->crams) {
			unsigned n = d->crams ? 2 * d->crams : 4;
			struct emu_ram **a = realloc(d->rams, n * sizeof(*a));

			if (!a) {
				ret = -ENOMEM;
				goto out;
			}
			d->rams = a;
			d->crams = n;
		}
		r = d->rams[d->nrams++] = nr;
		nr = NULL;
	}
	if (base && !r->base) {
		void *p = mmap(NULL, (size_t)r->pages * GM_PAGE_SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, r->fd, 0);

		if (p == MAP_FAILED)
			ret = -errno;
		else
			r->base = p;
	}
out:
	pthread_mutex_unlock(&w->dlock);
	if (nr)
		ram_free(nr);
	if (ret == 0)
		*out = r;
	return ret;
}

void gm__emu_doms_free(struct emu_world *w)
{
	while (w->doms) {
		struct emu_dom *d = w->doms;

		w->doms = d->next;
		dom_free(d); /* every handle is closed: nobody else holds it */
	}
}
