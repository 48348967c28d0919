/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated world's xenstore handles (client.h): one connection to the
 * hub each, whose eventfd the hub signals when watch events are queued.
 */
#include "config.h"

#include "client.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct emu_xs {
	struct econn c;
	struct emu_world *w;
	int evfd; /* readable while watch events are queued for us */
};

int gm__emu_xs_open(void *world, void **out)
{
	struct emu_xs *x = gm__calloc(1, sizeof(*x));
	int r;

	if (!x)
		return -ENOMEM;
	r = gm__emu_evfd_conn_open(world, GM__EMU_K_XS, &x->c, &x->evfd);
	if (r < 0) {
		free(x);
		return r;
	}
	x->w = world;
	*out = x;
	return 0;
}

void gm__emu_xs_close(void *h)
{
	struct emu_xs *x = h;

	gm__ec_close(&x->c);
	close(x->evfd);
	free(x);
}

int gm__emu_xs_fd(void *h)
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
	return gm__ec_call_locked(&x->c, type, tx, iov, elen ? 2 : 1, rh, NULL, 0, NULL);
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

int gm__emu_xs_read(void *h, gm_xs_tx tx, const char *path, char **value, size_t *len)
{
	struct emu_xs *x = h;
	struct gm__emu_hdr rh;
	int r;

	pthread_mutex_lock(&x->c.lock);
	r = xs_call_locked(x, GM__EMU_XS_READ, tx, path, NULL, 0, &rh);
	if (r >= 0) {
		char *v = gm__malloc((size_t)rh.len + 1);

		if (v) {
			memcpy(v, gm__ec_payload(&x->c), rh.len);
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

int gm__emu_xs_write(void *h, gm_xs_tx tx, const char *path, const void *value, size_t len)
{
	if (strlen(path) + 1 + len > GM__EMU_XS_VALUE_MAX)
		return -E2BIG;
	return xs_simple(h, GM__EMU_XS_WRITE, tx, path, value, len);
}

int gm__emu_xs_directory(void *h, gm_xs_tx tx, const char *path, char ***names)
{
	struct emu_xs *x = h;
	struct gm__emu_hdr rh;
	int r;

	pthread_mutex_lock(&x->c.lock);
	r = xs_call_locked(x, GM__EMU_XS_DIRECTORY, tx, path, NULL, 0, &rh);
	if (r >= 0) {
		const char *p = (const char *)gm__ec_payload(&x->c);
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

int gm__emu_xs_rm(void *h, gm_xs_tx tx, const char *path)
{
	return xs_simple(h, GM__EMU_XS_RM, tx, path, NULL, 0);
}

int gm__emu_xs_mkdir(void *h, gm_xs_tx tx, const char *path)
{
	return xs_simple(h, GM__EMU_XS_MKDIR, tx, path, NULL, 0);
}

int gm__emu_xs_set_perms(void *h, gm_xs_tx tx, const char *path, const struct gm_xs_perm *p,
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

int gm__emu_xs_watch(void *h, const char *path, const char *token)
{
	return xs_simple(h, GM__EMU_XS_WATCH, 0, path, token, strlen(token) + 1);
}

int gm__emu_xs_unwatch(void *h, const char *path, const char *token)
{
	return xs_simple(h, GM__EMU_XS_UNWATCH, 0, path, token, strlen(token) + 1);
}

int gm__emu_xs_read_watch(void *h, char **path, char **token)
{
	struct emu_xs *x = h;
	struct gm__emu_hdr rh;
	int r;

	gm__emu_evfd_drain(x->evfd); /* as evt_pending */
	/* news from the hub: a domain may be gone, drop what we keep of it */
	gm__emu_dom_sweep(x->w);
	pthread_mutex_lock(&x->c.lock);
	r = gm__ec_call_locked(&x->c, GM__EMU_XS_READ_WATCH, 0, NULL, 0, &rh, NULL, 0, NULL);
	if (r >= 0) {
		const char *p = (const char *)gm__ec_payload(&x->c);
		const char *nul = memchr(p, 0, rh.len);

		if (rh.arg)
			gm__emu_evfd_kick(x->evfd);
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

int gm__emu_xs_tx_start(void *h, gm_xs_tx *tx)
{
	int r = gm__ec_call(&((struct emu_xs *)h)->c, GM__EMU_XS_TX_START, 0, NULL, 0, NULL);

	if (r < 0)
		return r;
	*tx = (gm_xs_tx)r;
	return 0;
}

int gm__emu_xs_tx_end(void *h, gm_xs_tx tx, int abort_)
{
	uint32_t a = !!abort_;

	return gm__ec_call(&((struct emu_xs *)h)->c, GM__EMU_XS_TX_END, tx, &a, sizeof(a), NULL);
}

int gm__emu_xs_domain_path(void *h, gm_domid domid, char **path)
{
	char buf[32];

	(void)h;
	snprintf(buf, sizeof(buf), "/local/domain/%u", domid);
	*path = gm__strdup(buf);
	return *path ? 0 : -ENOMEM;
}
