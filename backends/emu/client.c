/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated world's `struct gm_xen_ops`: every handle is one connection
 * to the hub (hub.c), strictly request/reply over wire.c's framing; event
 * channel and xenstore handles add an eventfd that the hub signals when news
 * is queued, which is what their *_fd() return.  Also the public gm_emu_*
 * calls on a world (include/grantmem/emu.h); those that run a hub are in
 * control.c.
 */
#include "config.h"

#include "wire.h"

#include <grantmem/emu.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define EMU_DEFAULT_RAM (64ull << 20)
#define EMU_MAX_RAM (64ull << 30)
#define EMU_DEFAULT_MAX_GRANTS 65536u /* pages mapped at once per gnttab handle */

/* ---- connections ------------------------------------------------------------------ */

struct econn {
	int fd;
	pthread_mutex_t lock; /* one request in flight; protects buf */
	uint8_t *buf;         /* the reply: header + payload */
};

static int ec_open(struct econn *c, const char *path, uint32_t kind, gm_domid domid,
		   const int *fds, unsigned nfds, uint64_t ram_size)
{
	c->fd = -1;
	c->buf = gm__malloc(GM__EMU_MSG_MAX);
	if (!c->buf)
		return -ENOMEM;
	if (pthread_mutex_init(&c->lock, NULL)) {
		free(c->buf);
		return -ENOMEM;
	}
	c->fd = gm__emu_connect(path, kind, domid, fds, nfds, ram_size);
	if (c->fd < 0) {
		int r = c->fd;

		pthread_mutex_destroy(&c->lock);
		free(c->buf);
		return r;
	}
	return 0;
}

static void ec_close(struct econn *c)
{
	if (c->fd >= 0) {
		struct gm__emu_hdr hdr = {.type = GM__EMU_BYE}, rh;
		unsigned nr;

		/* Say goodbye and wait: the hub has released everything the
		 * connection held when close returns, as a kernel device would. */
		if (gm__emu_send(c->fd, &hdr, NULL, 0, NULL, 0, 0) == 0)
			gm__emu_recv(c->fd, &rh, sizeof(rh), NULL, 0, &nr, 0);
		close(c->fd);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->buf);
}

static inline const uint8_t *ec_payload(const struct econn *c)
{
	return c->buf + sizeof(struct gm__emu_hdr);
}

/*
 * One request/reply with c->lock held.  Returns the reply's status (a count
 * or -errno) or a transport error; *rh gets the reply header, the payload
 * is at ec_payload(c).  Received fds land in @rfds (*nrfds).
 */
static int ec_call_locked(struct econn *c, uint32_t type, uint32_t arg, const struct iovec *iov,
			  int niov, struct gm__emu_hdr *rh, int *rfds, unsigned maxfds,
			  unsigned *nrfds)
{
	struct gm__emu_hdr hdr = {.type = type, .arg = arg};
	unsigned dummy;
	int r;

	if (!nrfds)
		nrfds = &dummy;
	*nrfds = 0;
	for (int i = 0; i < niov; i++)
		hdr.len += (uint32_t)iov[i].iov_len;
	r = gm__emu_send(c->fd, &hdr, iov, niov, NULL, 0, 0);
	if (r == 0)
		r = gm__emu_recv(c->fd, c->buf, GM__EMU_MSG_MAX, rfds, maxfds, nrfds, 0);
	if (r < 0)
		return r == -EPIPE ? -ECONNRESET : r;
	memcpy(rh, c->buf, sizeof(*rh));
	if (rh->type != type) {
		for (unsigned i = 0; i < *nrfds; i++)
			close(rfds[i]);
		*nrfds = 0;
		return -EPROTO;
	}
	return rh->status;
}

/* A call whose reply is only a status (and maybe a small payload/arg). */
static int ec_call(struct econn *c, uint32_t type, uint32_t arg, const void *p, size_t len,
		   struct gm__emu_hdr *rh)
{
	struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
	struct gm__emu_hdr dummy;
	int r;

	pthread_mutex_lock(&c->lock);
	r = ec_call_locked(c, type, arg, &iov, len ? 1 : 0, rh ? rh : &dummy, NULL, 0, NULL);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* The world's ops, at the end of the file. */
static const struct gm_xen_ops emu_ops;

/* ---- the world ---------------------------------------------------------------------- */

struct emu_world {
	char path[108];
	gm_domid domid;
	uint64_t ram_size;
	struct econn dom;       /* keeps the domain alive; introspection */
	pthread_mutex_t ram_lock; /* protects every ram_* field below */
	int ram_fd;
	uint8_t *ram;
	uint32_t ram_pages, ram_free;
	uint8_t *ram_state;     /* per page: 0 free, 1 shared, 2 quarantined */
};

enum { PAGE_FREE, PAGE_USED, PAGE_QUARANTINED };

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		v <<= 10, end++;
		break;
	case 'm': case 'M':
		v <<= 20, end++;
		break;
	case 'g': case 'G':
		v <<= 30, end++;
		break;
	}
	if (*end || v < GM_PAGE_SIZE || v > EMU_MAX_RAM)
		return -EINVAL;
	*out = (v + GM_PAGE_SIZE - 1) & ~(uint64_t)(GM_PAGE_SIZE - 1);
	return 0;
}

static int parse_spec(const char *spec, struct emu_world *w)
{
	const char *comma = strchr(spec, ',');
	size_t pl = comma ? (size_t)(comma - spec) : strlen(spec);

	if (!pl || pl >= sizeof(w->path))
		return -EINVAL;
	memcpy(w->path, spec, pl);
	w->path[pl] = '\0';
	w->ram_size = EMU_DEFAULT_RAM;
	while (comma) {
		const char *opt = comma + 1, *next = strchr(opt, ',');
		size_t ol = next ? (size_t)(next - opt) : strlen(opt);
		char buf[64], *end;

		if (ol >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, opt, ol);
		buf[ol] = '\0';
		if (!strncmp(buf, "domid=", 6)) {
			unsigned long v;

			errno = 0;
			v = strtoul(buf + 6, &end, 0);
			if (errno || end == buf + 6 || *end || v > GM_DOMID_MAX)
				return -EINVAL;
			w->domid = (gm_domid)v;
		} else if (!strncmp(buf, "ram=", 4)) {
			if (parse_size(buf + 4, &w->ram_size) < 0)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		comma = next;
	}
	return 0;
}

static void world_destroy(void *p)
{
	struct emu_world *w = p;

	if (!w)
		return;
	ec_close(&w->dom);
	if (w->ram)
		munmap(w->ram, (size_t)w->ram_pages * GM_PAGE_SIZE);
	if (w->ram_fd >= 0)
		close(w->ram_fd);
	free(w->ram_state);
	pthread_mutex_destroy(&w->ram_lock);
	free(w);
}

GM_API int gm_emu_open(const char *spec, gm_xen **out)
{
	struct emu_world *w;
	int r;

	if (!spec || !out)
		return -EINVAL;
	w = gm__calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->ram_fd = -1;
	r = parse_spec(spec, w);
	if (r < 0) {
		gm__warn("emu: bad world spec \"%s\" (want <socket>[,domid=N][,ram=BYTES])", spec);
		free(w);
		return r;
	}
	if (pthread_mutex_init(&w->ram_lock, NULL)) {
		free(w);
		return -ENOMEM;
	}
	r = ec_open(&w->dom, w->path, GM__EMU_K_DOMAIN, w->domid, NULL, 0, 0);
	if (r < 0) {
		pthread_mutex_destroy(&w->ram_lock);
		free(w);
		return r;
	}
	r = gm_xen_open_ops(&emu_ops, w, out);
	if (r < 0)
		world_destroy(w); /* not ours to close yet: no world_close call */
	return r;
}

static struct emu_world *world_of(gm_xen *x)
{
	return gm_xen_world(x, &emu_ops);
}

GM_API int gm_emu_register(void)
{
	return gm_xen_world_register("emu", gm_emu_open);
}

/* Loading the library registers the world: "emu:<spec>" then works in
 * gm_xen_open() without a call to this library. */
__attribute__((constructor)) static void emu_register_at_load(void)
{
	gm_emu_register();
}

/* The sealed memfd behind gm_gntshr_share, made on first use; ram_lock held. */
static int ram_setup(struct emu_world *w)
{
	int fd;

	if (w->ram)
		return 0;
	fd = memfd_create("grantmem-emu-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)w->ram_size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	w->ram_pages = (uint32_t)(w->ram_size / GM_PAGE_SIZE);
	w->ram_state = gm__calloc(w->ram_pages, 1);
	if (!w->ram_state) {
		errno = ENOMEM;
		goto fail;
	}
	w->ram = mmap(NULL, w->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w->ram == MAP_FAILED) {
		w->ram = NULL;
		free(w->ram_state);
		w->ram_state = NULL;
		goto fail;
	}
	w->ram_fd = fd;
	w->ram_free = w->ram_pages;
	return 0;
fail:
	fd = (close(fd), -errno);
	return fd;
}

/* First fit of @count contiguous free pages; ram_lock held. */
static int64_t ram_alloc(struct emu_world *w, uint32_t count)
{
	uint32_t run = 0;

	for (uint32_t i = 0; i < w->ram_pages; i++) {
		run = w->ram_state[i] == PAGE_FREE ? run + 1 : 0;
		if (run == count) {
			uint32_t first = i + 1 - count;

			memset(w->ram_state + first, PAGE_USED, count);
			w->ram_free -= count;
			return first;
		}
	}
	return -ENOMEM;
}

/* Give pages back, zeroed (a hole reads as zeros); ram_lock held. */
static void ram_release(struct emu_world *w, uint32_t first, uint32_t count, bool quarantine)
{
	if (quarantine) {
		/* a backend still maps them: never hand them out again */
		memset(w->ram_state + first, PAGE_QUARANTINED, count);
		return;
	}
	if (fallocate(w->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)first * GM_PAGE_SIZE, (off_t)count * GM_PAGE_SIZE) < 0)
		memset(w->ram + (size_t)first * GM_PAGE_SIZE, 0, (size_t)count * GM_PAGE_SIZE);
	memset(w->ram_state + first, PAGE_FREE, count);
	w->ram_free += count;
}

static int emu_self_domid(void *world, gm_domid *domid)
{
	*domid = ((struct emu_world *)world)->domid;
	return 0;
}

/* ---- gnttab ---------------------------------------------------------------------------- */

struct tmap {
	struct tmap *next;
	uint8_t *addr;
	uint32_t count;
	uint32_t nh;
	uint64_t h[]; /* hub map handles, one per chunk */
};

struct emu_tab {
	struct econn c;
	pthread_mutex_t lock; /* protects maps, mapped, max */
	struct tmap *maps;
	uint64_t mapped;
	uint32_t max;
};

static int tab_open(void *world, void **out)
{
	struct emu_world *w = world;
	struct emu_tab *t = gm__calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	if (pthread_mutex_init(&t->lock, NULL)) {
		free(t);
		return -ENOMEM;
	}
	r = ec_open(&t->c, w->path, GM__EMU_K_GNTTAB, w->domid, NULL, 0, 0);
	if (r < 0) {
		pthread_mutex_destroy(&t->lock);
		free(t);
		return r;
	}
	t->max = EMU_DEFAULT_MAX_GRANTS;
	*out = t;
	return 0;
}

static void tab_close(void *h)
{
	struct emu_tab *t = h;

	/* Like gntdev: closing the handle unmaps what is left. */
	while (t->maps) {
		struct tmap *m = t->maps;

		t->maps = m->next;
		munmap(m->addr, (size_t)m->count * GM_PAGE_SIZE);
		free(m);
	}
	ec_close(&t->c); /* the hub releases the grants with the connection */
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static int tab_set_max(void *h, uint32_t count)
{
	struct emu_tab *t = h;

	pthread_mutex_lock(&t->lock);
	t->max = count;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static void tab_hub_unmap(struct emu_tab *t, uint64_t handle)
{
	int r = ec_call(&t->c, GM__EMU_GNT_UNMAP, 0, &handle, sizeof(handle), NULL);

	if (r < 0 && r != -ECONNRESET)
		gm__warn("emu: unmap of handle %llu: %s", (unsigned long long)handle, gm_strerror(r));
}

/* Place the frames of one map reply at @va (@n pages). */
static int place_frames(uint8_t *va, uint32_t n, const struct gm__emu_frame *fr, const int *fds,
			unsigned nfds, int prot)
{
	int mprot = (prot & GM_PROT_WRITE) ? PROT_READ | PROT_WRITE : PROT_READ;

	for (uint32_t i = 0; i < n;) {
		uint32_t run = 1;

		if (fr[i].slot >= nfds)
			return -EPROTO;
		while (i + run < n && fr[i + run].slot == fr[i].slot &&
		       fr[i + run].page == fr[i].page + run)
			run++;
		if (mmap(va + (size_t)i * GM_PAGE_SIZE, (size_t)run * GM_PAGE_SIZE, mprot,
			 MAP_SHARED | MAP_FIXED, fds[fr[i].slot],
			 (off_t)fr[i].page * GM_PAGE_SIZE) == MAP_FAILED)
			return -errno;
		i += run;
	}
	return 0;
}

/* Map one chunk through the hub; *handle out. */
static int tab_map_chunk(struct emu_tab *t, uint8_t *va, uint32_t n, gm_domid domid,
			 const gm_gref *refs, int prot, uint64_t *handle)
{
	struct gm__emu_map_req req = {.domid = domid, .prot = (uint32_t)prot, .count = n};
	struct iovec iov[2] = {{&req, sizeof(req)}, {(void *)refs, n * sizeof(gm_gref)}};
	struct gm__emu_map_rep rep;
	struct gm__emu_hdr rh;
	int fds[GM__EMU_MAX_FDS];
	unsigned nfds;
	int r;

	pthread_mutex_lock(&t->c.lock);
	r = ec_call_locked(&t->c, GM__EMU_GNT_MAP, 0, iov, 2, &rh, fds, GM__EMU_MAX_FDS, &nfds);
	if (r == 0) {
		memcpy(&rep, ec_payload(&t->c), sizeof(rep));
		if (rh.len != sizeof(rep) + (size_t)n * sizeof(struct gm__emu_frame) ||
		    rep.nfds != nfds)
			r = -EPROTO;
		else
			r = place_frames(va, n, (const void *)(ec_payload(&t->c) + sizeof(rep)),
					 fds, nfds, prot);
	}
	pthread_mutex_unlock(&t->c.lock);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]); /* the mappings keep the RAM alive, not us */
	if (r == 0)
		*handle = rep.handle;
	else if (rh.status == 0 && rh.type == GM__EMU_GNT_MAP)
		tab_hub_unmap(t, rep.handle); /* mapped at the hub, not here */
	return r;
}

static void *tab_map(void *h, uint32_t count, gm_domid domid, const gm_gref *refs, int prot,
		     int *err)
{
	struct emu_tab *t = h;
	uint32_t nh = (count + GM__EMU_MAP_CHUNK - 1) / GM__EMU_MAP_CHUNK, done = 0;
	struct tmap *m;
	uint8_t *va;
	int r = 0;

	if (!count || count > (1u << 26)) {
		*err = -EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&t->lock);
	if (t->mapped + count > t->max)
		r = -ENOSPC; /* gntdev's per-file budget */
	else
		t->mapped += count;
	pthread_mutex_unlock(&t->lock);
	if (r < 0) {
		*err = r;
		return NULL;
	}
	m = gm__malloc(sizeof(*m) + nh * sizeof(m->h[0]));
	va = mmap(NULL, (size_t)count * GM_PAGE_SIZE, PROT_NONE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!m || va == MAP_FAILED) {
		r = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < nh; i++, done++) {
		uint32_t off = i * GM__EMU_MAP_CHUNK, n = GM__MIN(count - off, GM__EMU_MAP_CHUNK);

		r = tab_map_chunk(t, va + (size_t)off * GM_PAGE_SIZE, n, domid, refs + off, prot,
				  &m->h[i]);
		if (r < 0)
			goto fail;
	}
	m->addr = va;
	m->count = count;
	m->nh = nh;
	pthread_mutex_lock(&t->lock);
	m->next = t->maps;
	t->maps = m;
	pthread_mutex_unlock(&t->lock);
	return va;
fail:
	if (va != MAP_FAILED)
		munmap(va, (size_t)count * GM_PAGE_SIZE);
	for (uint32_t i = 0; i < done; i++)
		tab_hub_unmap(t, m->h[i]);
	free(m);
	pthread_mutex_lock(&t->lock);
	t->mapped -= count;
	pthread_mutex_unlock(&t->lock);
	*err = r;
	return NULL;
}

static int tab_unmap(void *h, void *addr, uint32_t count)
{
	struct emu_tab *t = h;
	struct tmap *m = NULL;

	pthread_mutex_lock(&t->lock);
	for (struct tmap **pp = &t->maps; *pp; pp = &(*pp)->next)
		if ((*pp)->addr == addr && (*pp)->count == count) {
			m = *pp;
			*pp = m->next;
			t->mapped -= count;
			break;
		}
	pthread_mutex_unlock(&t->lock);
	if (!m)
		return -EINVAL;
	/* Our mapping goes first, so the guest never ends access under it. */
	munmap(m->addr, (size_t)count * GM_PAGE_SIZE);
	for (uint32_t i = 0; i < m->nh; i++)
		tab_hub_unmap(t, m->h[i]);
	free(m);
	return 0;
}

/* Bytes of a segment in the request (local source) and the reply. */
static inline uint32_t seg_in(const struct gm_copy_seg *s)
{
	return (s->flags & GM_COPY_SOURCE_GREF) ? 0 : s->len;
}

static inline uint32_t seg_out(const struct gm_copy_seg *s)
{
	return (s->flags & GM_COPY_DEST_GREF) ? 0 : s->len;
}

static int tab_copy_chunk(struct emu_tab *t, uint32_t n, struct gm_copy_seg *segs, uint8_t *buf)
{
	struct gm__emu_seg *ws = (struct gm__emu_seg *)(void *)buf;
	uint8_t *data = buf + n * sizeof(*ws);
	uint32_t in = 0, out = 0;
	struct gm__emu_hdr rh;
	struct iovec iov;
	const uint8_t *rp;
	int r;

	for (uint32_t i = 0; i < n; i++) {
		const struct gm_copy_seg *s = &segs[i];
		struct gm__emu_seg w = {.flags = s->flags, .len = s->len};

		if (s->flags & GM_COPY_SOURCE_GREF) {
			w.src_ref = s->source.foreign.ref;
			w.src_off = s->source.foreign.offset;
			w.src_dom = s->source.foreign.domid;
		} else if (s->len) {
			memcpy(data + in, s->source.virt, s->len);
		}
		if (s->flags & GM_COPY_DEST_GREF) {
			w.dst_ref = s->dest.foreign.ref;
			w.dst_off = s->dest.foreign.offset;
			w.dst_dom = s->dest.foreign.domid;
		}
		memcpy(&ws[i], &w, sizeof(w));
		in += seg_in(s);
	}
	iov.iov_base = buf;
	iov.iov_len = n * sizeof(*ws) + in;
	pthread_mutex_lock(&t->c.lock);
	r = ec_call_locked(&t->c, GM__EMU_GNT_COPY, n, &iov, 1, &rh, NULL, 0, NULL);
	if (r < 0 || rh.len < n * sizeof(int32_t))
		goto out;
	rp = ec_payload(&t->c);
	for (uint32_t i = 0; i < n; i++) {
		int32_t st;

		memcpy(&st, rp + i * sizeof(st), sizeof(st));
		segs[i].status = (int16_t)st;
		if (st == GM_GNTST_OKAY)
			out += seg_out(&segs[i]);
	}
	if (rh.len != n * sizeof(int32_t) + out) {
		r = -EPROTO;
		goto out;
	}
	rp += n * sizeof(int32_t);
	for (uint32_t i = 0; i < n; i++)
		if (segs[i].status == GM_GNTST_OKAY && seg_out(&segs[i])) {
			memcpy(segs[i].dest.virt, rp, segs[i].len);
			rp += segs[i].len;
		}
out:
	pthread_mutex_unlock(&t->c.lock);
	return r < 0 ? r : 0;
}

static int tab_copy(void *h, uint32_t count, struct gm_copy_seg *segs)
{
	struct emu_tab *t = h;
	uint8_t *buf;
	uint32_t first = 0, n = 0, in = 0, out = 0;
	int r = 0;

	/* gntdev refuses the whole call if one foreign side crosses its page */
	for (uint32_t i = 0; i < count; i++) {
		const struct gm_copy_seg *s = &segs[i];

		if ((s->flags & ~(GM_COPY_SOURCE_GREF | GM_COPY_DEST_GREF)) ||
		    ((s->flags & GM_COPY_SOURCE_GREF) &&
		     (uint32_t)s->source.foreign.offset + s->len > GM_PAGE_SIZE) ||
		    ((s->flags & GM_COPY_DEST_GREF) &&
		     (uint32_t)s->dest.foreign.offset + s->len > GM_PAGE_SIZE))
			return -EINVAL;
	}
	buf = gm__malloc(GM__EMU_COPY_SEGS * sizeof(struct gm__emu_seg) + GM__EMU_COPY_DATA);
	if (!buf)
		return -ENOMEM;
	for (uint32_t i = 0; i <= count && r == 0; i++) {
		bool fits = i < count && n < GM__EMU_COPY_SEGS &&
			    in + seg_in(&segs[i]) <= GM__EMU_COPY_DATA &&
			    out + seg_out(&segs[i]) <= GM__EMU_COPY_DATA;

		if (!fits && n) {
			r = tab_copy_chunk(t, n, segs + first, buf);
			first = i;
			n = in = out = 0;
		}
		if (i < count) {
			n++;
			in += seg_in(&segs[i]);
			out += seg_out(&segs[i]);
		}
	}
	free(buf);
	return r;
}

/* ---- gntshr ----------------------------------------------------------------------------- */

struct share {
	struct share *next;
	uint32_t first, count; /* pages of the world's RAM */
	gm_gref *refs;
	uint8_t *ended;        /* per ref: end_access succeeded */
};

struct emu_shr {
	struct econn c;
	struct emu_world *w;
	pthread_mutex_t lock; /* protects shares */
	struct share *shares;
};

static int shr_open(void *world, void **out)
{
	struct emu_world *w = world;
	struct emu_shr *s = gm__calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&w->ram_lock);
	r = ram_setup(w);
	pthread_mutex_unlock(&w->ram_lock);
	if (r == 0 && pthread_mutex_init(&s->lock, NULL))
		r = -ENOMEM;
	if (r < 0) {
		free(s);
		return r;
	}
	r = ec_open(&s->c, w->path, GM__EMU_K_GNTSHR, w->domid, &w->ram_fd, 1, w->ram_size);
	if (r < 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return r;
	}
	s->w = w;
	*out = s;
	return 0;
}

/* End access to @n refs at the hub; @defer: revoke mapped ones lazily.
 * Returns how many stay deferred, or -errno. */
static int shr_end(struct emu_shr *s, const gm_gref *refs, uint32_t n, bool defer)
{
	int deferred = 0;

	for (uint32_t off = 0; off < n; off += GM__EMU_MAP_CHUNK) {
		uint32_t k = GM__MIN(n - off, GM__EMU_MAP_CHUNK);
		int r = ec_call(&s->c, GM__EMU_SHR_END, defer, refs + off, k * sizeof(gm_gref), NULL);

		if (r < 0)
			return r;
		deferred += r;
	}
	return deferred;
}

/* Tear one share down: end what is left, free or quarantine its pages. */
static void share_drop(struct emu_shr *s, struct share *sh)
{
	gm_gref *live = gm__malloc(sh->count * sizeof(*live));
	uint32_t n = 0;
	int r = 0;

	if (live) {
		for (uint32_t i = 0; i < sh->count; i++)
			if (!sh->ended[i])
				live[n++] = sh->refs[i];
		r = n ? shr_end(s, live, n, true) : 0;
		free(live);
	}
	if (r > 0)
		gm__info("emu: %d granted page(s) still mapped by a backend: kept out of use", r);
	pthread_mutex_lock(&s->w->ram_lock);
	/* if the hub is gone nobody maps them; without memory, play safe */
	ram_release(s->w, sh->first, sh->count, r > 0 || !live);
	pthread_mutex_unlock(&s->w->ram_lock);
	free(sh->refs);
	free(sh->ended);
	free(sh);
}

static void shr_close(void *h)
{
	struct emu_shr *s = h;

	while (s->shares) {
		struct share *sh = s->shares;

		s->shares = sh->next;
		share_drop(s, sh);
	}
	ec_close(&s->c);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void *shr_share(void *h, gm_domid domid, uint32_t count, gm_gref *refs, int writable,
		       int *err)
{
	struct emu_shr *s = h;
	struct emu_world *w = s->w;
	struct share *sh = gm__calloc(1, sizeof(*sh));
	uint32_t *frames = NULL, done = 0;
	int64_t first = -ENOMEM;
	int r = -ENOMEM;

	if (!sh || !(sh->refs = gm__calloc(count, sizeof(gm_gref))) ||
	    !(sh->ended = gm__calloc(count, 1)) || !(frames = gm__malloc(count * sizeof(*frames))))
		goto fail;
	pthread_mutex_lock(&w->ram_lock);
	first = count <= w->ram_pages ? ram_alloc(w, count) : -ENOMEM;
	pthread_mutex_unlock(&w->ram_lock);
	if (first < 0)
		goto fail;
	for (uint32_t i = 0; i < count; i++)
		frames[i] = (uint32_t)first + i;
	for (; done < count; done += GM__MIN(count - done, GM__EMU_MAP_CHUNK)) {
		uint32_t k = GM__MIN(count - done, GM__EMU_MAP_CHUNK);
		struct gm__emu_grant_req req = {.domid = domid, .writable = !!writable, .count = k};
		struct iovec iov[2] = {{&req, sizeof(req)}, {frames + done, k * sizeof(uint32_t)}};
		struct gm__emu_hdr rh;

		pthread_mutex_lock(&s->c.lock);
		r = ec_call_locked(&s->c, GM__EMU_SHR_GRANT, 0, iov, 2, &rh, NULL, 0, NULL);
		if (r == 0 && rh.len != k * sizeof(gm_gref))
			r = -EPROTO;
		if (r == 0)
			memcpy(sh->refs + done, ec_payload(&s->c), k * sizeof(gm_gref));
		pthread_mutex_unlock(&s->c.lock);
		if (r < 0)
			goto fail;
	}
	free(frames);
	sh->first = (uint32_t)first;
	sh->count = count;
	memcpy(refs, sh->refs, count * sizeof(gm_gref));
	pthread_mutex_lock(&s->lock);
	sh->next = s->shares;
	s->shares = sh;
	pthread_mutex_unlock(&s->lock);
	return w->ram + (size_t)first * GM_PAGE_SIZE;
fail:
	if (done)
		shr_end(s, sh->refs, done, true); /* fresh, nobody maps them yet */
	if (first >= 0) {
		pthread_mutex_lock(&w->ram_lock);
		ram_release(w, (uint32_t)first, count, false);
		pthread_mutex_unlock(&w->ram_lock);
	}
	free(frames);
	if (sh) {
		free(sh->refs);
		free(sh->ended);
		free(sh);
	}
	*err = r;
	return NULL;
}

static int shr_end_access(void *h, gm_gref ref)
{
	struct emu_shr *s = h;
	int r = -EINVAL;

	pthread_mutex_lock(&s->lock);
	for (struct share *sh = s->shares; sh; sh = sh->next)
		for (uint32_t i = 0; i < sh->count; i++)
			if (sh->refs[i] == ref && !sh->ended[i]) {
				r = shr_end(s, &ref, 1, false);
				if (r == 0)
					sh->ended[i] = 1;
				goto out;
			}
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int shr_unshare(void *h, void *addr, uint32_t count)
{
	struct emu_shr *s = h;
	struct share *sh = NULL;

	pthread_mutex_lock(&s->lock);
	for (struct share **pp = &s->shares; *pp; pp = &(*pp)->next)
		if (s->w->ram + (size_t)(*pp)->first * GM_PAGE_SIZE == addr && (*pp)->count == count) {
			sh = *pp;
			*pp = sh->next;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	if (!sh)
		return -EINVAL;
	share_drop(s, sh);
	return 0;
}

/* ---- evtchn ------------------------------------------------------------------------------ */

struct emu_evt {
	struct econn c;
	int evfd; /* readable while the hub has ports queued for us */
};

/* Open a connection that carries an eventfd (evtchn, xs). */
static int evfd_conn_open(struct emu_world *w, uint32_t kind, struct econn *c, int *evfd)
{
	int r;

	*evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*evfd < 0)
		return -errno;
	r = ec_open(c, w->path, kind, w->domid, evfd, 1, 0);
	if (r < 0)
		close(*evfd);
	return r;
}

static void evfd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		gm__dbg("emu: eventfd read: %s", strerror(errno));
}

static void evfd_kick(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0)
		gm__dbg("emu: eventfd write: %s", strerror(errno));
}

static int evt_open(void *world, void **out)
{
	struct emu_evt *e = gm__calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	r = evfd_conn_open(world, GM__EMU_K_EVTCHN, &e->c, &e->evfd);
	if (r < 0) {
		free(e);
		return r;
	}
	*out = e;
	return 0;
}

static void evt_close(void *h)
{
	struct emu_evt *e = h;

	ec_close(&e->c);
	close(e->evfd);
	free(e);
}

static int evt_fd(void *h)
{
	return ((struct emu_evt *)h)->evfd;
}

static int evt_bind_inter(void *h, gm_domid remote, gm_port rport)
{
	uint32_t a[2] = {remote, rport};

	return ec_call(&((struct emu_evt *)h)->c, GM__EMU_EVT_BIND_INTER, 0, a, sizeof(a), NULL);
}

static int evt_bind_unbound(void *h, gm_domid remote)
{
	return ec_call(&((struct emu_evt *)h)->c, GM__EMU_EVT_BIND_UNBOUND, remote, NULL, 0, NULL);
}

static int evt_unbind(void *h, gm_port port)
{
	return ec_call(&((struct emu_evt *)h)->c, GM__EMU_EVT_UNBIND, port, NULL, 0, NULL);
}

static int evt_notify(void *h, gm_port port)
{
	return ec_call(&((struct emu_evt *)h)->c, GM__EMU_EVT_NOTIFY, port, NULL, 0, NULL);
}

static int evt_unmask(void *h, gm_port port)
{
	return ec_call(&((struct emu_evt *)h)->c, GM__EMU_EVT_UNMASK, port, NULL, 0, NULL);
}

static int evt_pending(void *h)
{
	struct emu_evt *e = h;
	struct gm__emu_hdr rh;
	int r;

	/*
	 * Clear the eventfd first: the hub signals it again whenever its queue
	 * goes from empty to non-empty after this, and we re-arm it ourselves
	 * when the reply says more ports are queued.
	 */
	evfd_drain(e->evfd);
	r = ec_call(&e->c, GM__EMU_EVT_PENDING, 0, NULL, 0, &rh);
	if (r >= 0 && rh.arg)
		evfd_kick(e->evfd);
	return r;
}

/* ---- xenstore -------------------------------------------------------------------------------- */

struct emu_xs {
	struct econn c;
	int evfd; /* readable while watch events are queued for us */
};

static int xs_open(void *world, void **out)
{
	struct emu_xs *x = gm__calloc(1, sizeof(*x));
	int r;

	if (!x)
		return -ENOMEM;
	r = evfd_conn_open(world, GM__EMU_K_XS, &x->c, &x->evfd);
	if (r < 0) {
		free(x);
		return r;
	}
	*out = x;
	return 0;
}

static void xs_close(void *h)
{
	struct emu_xs *x = h;

	ec_close(&x->c);
	close(x->evfd);
	free(x);
}

static int xs_fd(void *h)
{
	return ((struct emu_xs *)h)->evfd;
}

/* A path request: path\0 then @extra.  Reply payload stays in the buffer
 * (c->lock still held on success: the caller unlocks). */
static int xs_call_locked(struct emu_xs *x, uint32_t type, gm_xs_tx tx, const char *path,
			  const void *extra, size_t elen, struct gm__emu_hdr *rh)
{
	struct iovec iov[2] = {{(void *)path, strlen(path) + 1}, {(void *)extra, elen}};

	if (iov[0].iov_len > GM__EMU_XS_PATH_MAX + 1)
		return -EINVAL;
	if (elen > GM__EMU_MSG_MAX / 2)
		return -E2BIG;
	return ec_call_locked(&x->c, type, tx, iov, elen ? 2 : 1, rh, NULL, 0, NULL);
}

static int xs_simple(void *h, uint32_t type, gm_xs_tx tx, const char *path, const void *extra,
		     size_t elen)
{
	struct emu_xs *x = h;
	struct gm__emu_hdr rh;
	int r;

	pthread_mutex_lock(&x->c.lock);
	r = xs_call_locked(x, type, tx, path, extra, elen, &rh);
	pthread_mutex_unlock(&x->c.lock);
	return r < 0 ? r : 0;
}

static int xs_read(void *h, gm_xs_tx tx, const char *path, char **value, size_t *len)
{
	struct emu_xs *x = h;
	struct gm__emu_hdr rh;
	int r;

	pthread_mutex_lock(&x->c.lock);
	r = xs_call_locked(x, GM__EMU_XS_READ, tx, path, NULL, 0, &rh);
	if (r >= 0) {
		char *v = gm__malloc((size_t)rh.len + 1);

		if (v) {
			memcpy(v, ec_payload(&x->c), rh.len);
			v[rh.len] = '\0';
			*value = v;
			*len = rh.len;
			r = 0;
		} else {
			r = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&x->c.lock);
	return r;
}

static int xs_write(void *h, gm_xs_tx tx, const char *path, const void *value, size_t len)
{
	if (strlen(path) + 1 + len > GM__EMU_XS_VALUE_MAX)
		return -E2BIG;
	return xs_simple(h, GM__EMU_XS_WRITE, tx, path, value, len);
}

static int xs_directory(void *h, gm_xs_tx tx, const char *path, char ***names)
{
	struct emu_xs *x = h;
	struct gm__emu_hdr rh;
	int r;

	pthread_mutex_lock(&x->c.lock);
	r = xs_call_locked(x, GM__EMU_XS_DIRECTORY, tx, path, NULL, 0, &rh);
	if (r >= 0) {
		const char *p = (const char *)ec_payload(&x->c);
		unsigned n = 0;
		char **arr;
		char *str;

		for (uint32_t i = 0; i < rh.len; i++)
			n += p[i] == '\0';
		if (n != (unsigned)r || (rh.len && p[rh.len - 1])) {
			r = -EPROTO;
			goto out;
		}
		/* one block: the array (NULL-terminated), then the strings */
		arr = gm__malloc((n + 1) * sizeof(char *) + rh.len);
		if (!arr) {
			r = -ENOMEM;
			goto out;
		}
		str = (char *)(arr + n + 1);
		memcpy(str, p, rh.len);
		for (unsigned i = 0; i < n; i++) {
			arr[i] = str;
			str += strlen(str) + 1;
		}
		arr[n] = NULL;
		*names = arr;
	}
out:
	pthread_mutex_unlock(&x->c.lock);
	return r;
}

static int xs_rm(void *h, gm_xs_tx tx, const char *path)
{
	return xs_simple(h, GM__EMU_XS_RM, tx, path, NULL, 0);
}

static int xs_mkdir(void *h, gm_xs_tx tx, const char *path)
{
	return xs_simple(h, GM__EMU_XS_MKDIR, tx, path, NULL, 0);
}

static int xs_set_perms(void *h, gm_xs_tx tx, const char *path, const struct gm_xs_perm *p,
			unsigned n)
{
	struct gm__emu_xs_perm wp[64];
	uint8_t buf[sizeof(uint32_t) + sizeof(wp)];
	uint32_t nn = n;

	if (!n || n > 64)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		wp[i].id = p[i].id;
		wp[i].perms = p[i].perms;
	}
	memcpy(buf, &nn, sizeof(nn));
	memcpy(buf + sizeof(nn), wp, n * sizeof(wp[0]));
	return xs_simple(h, GM__EMU_XS_SET_PERMS, tx, path, buf, sizeof(nn) + n * sizeof(wp[0]));
}

static int xs_watch(void *h, const char *path, const char *token)
{
	return xs_simple(h, GM__EMU_XS_WATCH, 0, path, token, strlen(token) + 1);
}

static int xs_unwatch(void *h, const char *path, const char *token)
{
	return xs_simple(h, GM__EMU_XS_UNWATCH, 0, path, token, strlen(token) + 1);
}

static int xs_read_watch(void *h, char **path, char **token)
{
	struct emu_xs *x = h;
	struct gm__emu_hdr rh;
	int r;

	evfd_drain(x->evfd); /* as evt_pending */
	pthread_mutex_lock(&x->c.lock);
	r = ec_call_locked(&x->c, GM__EMU_XS_READ_WATCH, 0, NULL, 0, &rh, NULL, 0, NULL);
	if (r >= 0) {
		const char *p = (const char *)ec_payload(&x->c);
		const char *nul = memchr(p, 0, rh.len);

		if (rh.arg)
			evfd_kick(x->evfd);
		if (!nul || !memchr(nul + 1, 0, rh.len - (size_t)(nul + 1 - p))) {
			r = -EPROTO;
		} else {
			*path = gm__strdup(p);
			*token = gm__strdup(nul + 1);
			if (!*path || !*token) {
				free(*path);
				free(*token);
				*path = *token = NULL;
				r = -ENOMEM;
			} else {
				r = 0;
			}
		}
	}
	pthread_mutex_unlock(&x->c.lock);
	return r;
}

static int xs_tx_start(void *h, gm_xs_tx *tx)
{
	int r = ec_call(&((struct emu_xs *)h)->c, GM__EMU_XS_TX_START, 0, NULL, 0, NULL);

	if (r < 0)
		return r;
	*tx = (gm_xs_tx)r;
	return 0;
}

static int xs_tx_end(void *h, gm_xs_tx tx, int abort_)
{
	uint32_t a = !!abort_;

	return ec_call(&((struct emu_xs *)h)->c, GM__EMU_XS_TX_END, tx, &a, sizeof(a), NULL);
}

static int xs_domain_path(void *h, gm_domid domid, char **path)
{
	char buf[32];

	(void)h;
	snprintf(buf, sizeof(buf), "/local/domain/%u", domid);
	*path = gm__strdup(buf);
	return *path ? 0 : -ENOMEM;
}

static const struct gm_xen_ops emu_ops = {
	.name = "emulated",
	.gnttab_open = tab_open,
	.gnttab_close = tab_close,
	.gnttab_set_max_grants = tab_set_max,
	.gnttab_map = tab_map,
	.gnttab_unmap = tab_unmap,
	.gnttab_copy = tab_copy,
	.gntshr_open = shr_open,
	.gntshr_close = shr_close,
	.gntshr_share = shr_share,
	.gntshr_end_access = shr_end_access,
	.gntshr_unshare = shr_unshare,
	.evtchn_open = evt_open,
	.evtchn_close = evt_close,
	.evtchn_fd = evt_fd,
	.evtchn_bind_interdomain = evt_bind_inter,
	.evtchn_bind_unbound = evt_bind_unbound,
	.evtchn_unbind = evt_unbind,
	.evtchn_notify = evt_notify,
	.evtchn_pending = evt_pending,
	.evtchn_unmask = evt_unmask,
	.xs_open = xs_open,
	.xs_close = xs_close,
	.xs_fd = xs_fd,
	.xs_read = xs_read,
	.xs_write = xs_write,
	.xs_directory = xs_directory,
	.xs_rm = xs_rm,
	.xs_mkdir = xs_mkdir,
	.xs_set_perms = xs_set_perms,
	.xs_watch = xs_watch,
	.xs_unwatch = xs_unwatch,
	.xs_read_watch = xs_read_watch,
	.xs_tx_start = xs_tx_start,
	.xs_tx_end = xs_tx_end,
	.xs_domain_path = xs_domain_path,
	.self_domid = emu_self_domid,
	.world_close = world_destroy,
};

/* ---- public: introspection ------------------------------------------------------------- */

GM_API int gm_emu_domain_info(gm_xen *x, gm_domid domid, struct gm_emu_domain_info *info)
{
	struct emu_world *w = world_of(x);
	struct gm__emu_info wi;
	struct gm__emu_hdr rh;
	int r;

	if (!w || !info)
		return -EINVAL;
	pthread_mutex_lock(&w->dom.lock);
	r = ec_call_locked(&w->dom, GM__EMU_INFO, domid, NULL, 0, &rh, NULL, 0, NULL);
	if (r == 0 && rh.len != sizeof(wi))
		r = -EPROTO;
	if (r == 0)
		memcpy(&wi, ec_payload(&w->dom), sizeof(wi));
	pthread_mutex_unlock(&w->dom.lock);
	if (r < 0)
		return r;
	info->exists = wi.exists;
	info->dying = wi.dying;
	info->connections = wi.connections;
	info->grants = wi.grants;
	info->mapped = wi.mapped;
	info->maps = wi.maps;
	info->ports = wi.ports;
	info->watches = wi.watches;
	return 0;
}

GM_API int gm_emu_mapped_count(gm_xen *x, gm_domid granter, unsigned *n)
{
	struct gm_emu_domain_info info;
	int r;

	if (!n)
		return -EINVAL;
	r = gm_emu_domain_info(x, granter, &info);
	if (r == 0)
		*n = info.mapped;
	return r;
}

GM_API int gm_emu_world_info(gm_xen *x, struct gm_emu_world_info *info)
{
	struct emu_world *w = world_of(x);

	if (!w || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	memcpy(info->socket_path, w->path, sizeof(info->socket_path));
	info->domid = w->domid;
	info->ram_size = w->ram_size;
	pthread_mutex_lock(&w->ram_lock);
	info->ram_free = w->ram ? (uint64_t)w->ram_free * GM_PAGE_SIZE : w->ram_size;
	pthread_mutex_unlock(&w->ram_lock);
	return 0;
}
