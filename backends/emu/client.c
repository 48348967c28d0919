/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated world (client.h): "<socket>[,domid=N][,ram=BYTES]", its
 * `struct gm_xen_ops` (each handle is one connection to the hub, plus the
 * domains' shared pages for grants and event channels: client-*.c), and
 * the public gm_emu_* calls on a world (include/grantmem/emu.h); those that
 * run a hub are in control.c.
 */
#include "config.h"

#include "client.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EMU_DEFAULT_RAM (64ull << 20)
#define EMU_MAX_RAM (64ull << 30)

/* The world's ops, at the end of the file. */
static const struct gm_xen_ops emu_ops;

/* ---- the world ---------------------------------------------------------------------- */

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
	gm__emu_doms_free(w);
	gm__ec_close(&w->dom);
	if (w->ram)
		munmap(w->ram, (size_t)w->ram_pages * GM_PAGE_SIZE);
	if (w->ram_fd >= 0)
		close(w->ram_fd);
	free(w->ram_state);
	pthread_mutex_destroy(&w->ram_lock);
	pthread_mutex_destroy(&w->dlock);
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
	if (pthread_mutex_init(&w->dlock, NULL)) {
		pthread_mutex_destroy(&w->ram_lock);
		free(w);
		return -ENOMEM;
	}
	r = gm__ec_open(&w->dom, w->path, GM__EMU_K_DOMAIN, w->domid, NULL, 0, 0, NULL);
	if (r < 0) {
		pthread_mutex_destroy(&w->dlock);
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

static int emu_self_domid(void *world, gm_domid *domid)
{
	*domid = ((struct emu_world *)world)->domid;
	return 0;
}

static const struct gm_xen_ops emu_ops = {
	.name = "emulated",
	.gnttab_open = gm__emu_tab_open,
	.gnttab_close = gm__emu_tab_close,
	.gnttab_set_max_grants = gm__emu_tab_set_max,
	.gnttab_map = gm__emu_tab_map,
	.gnttab_unmap = gm__emu_tab_unmap,
	.gnttab_copy = gm__emu_tab_copy,
	.gntshr_open = gm__emu_shr_open,
	.gntshr_close = gm__emu_shr_close,
	.gntshr_share = gm__emu_shr_share,
	.gntshr_end_access = gm__emu_shr_end_access,
	.gntshr_unshare = gm__emu_shr_unshare,
	.evtchn_open = gm__emu_evt_open,
	.evtchn_close = gm__emu_evt_close,
	.evtchn_fd = gm__emu_evt_fd,
	.evtchn_bind_interdomain = gm__emu_evt_bind_inter,
	.evtchn_bind_unbound = gm__emu_evt_bind_unbound,
	.evtchn_unbind = gm__emu_evt_unbind,
	.evtchn_notify = gm__emu_evt_notify,
	.evtchn_pending = gm__emu_evt_pending,
	.evtchn_unmask = gm__emu_evt_unmask,
	.xs_open = gm__emu_xs_open,
	.xs_close = gm__emu_xs_close,
	.xs_fd = gm__emu_xs_fd,
	.xs_read = gm__emu_xs_read,
	.xs_write = gm__emu_xs_write,
	.xs_directory = gm__emu_xs_directory,
	.xs_rm = gm__emu_xs_rm,
	.xs_mkdir = gm__emu_xs_mkdir,
	.xs_set_perms = gm__emu_xs_set_perms,
	.xs_watch = gm__emu_xs_watch,
	.xs_unwatch = gm__emu_xs_unwatch,
	.xs_read_watch = gm__emu_xs_read_watch,
	.xs_tx_start = gm__emu_xs_tx_start,
	.xs_tx_end = gm__emu_xs_tx_end,
	.xs_domain_path = gm__emu_xs_domain_path,
	.self_domid = emu_self_domid,
	.world_close = world_destroy,
};


/* ---- public: introspection ------------------------------------------------------------- */

GM_API int gm_emu_domain_info(gm_xen *x, gm_domid domid, struct gm_emu_domain_info *out)
{
	struct emu_world *w = world_of(x);
	struct gm_emu_domain_info di = {0}, *info = &di;
	struct gm__emu_info wi;
	struct gm__emu_hdr rh;
	int r;

	if (!w || !out)
		return -EINVAL;
	pthread_mutex_lock(&w->dom.lock);
	r = gm__ec_call_locked(&w->dom, GM__EMU_INFO, domid, NULL, 0, &rh, NULL, 0, NULL);
	if (r == 0 && rh.len != sizeof(wi))
		r = -EPROTO;
	if (r == 0)
		memcpy(&wi, gm__ec_payload(&w->dom), sizeof(wi));
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
	gm__abi_out(out, info, sizeof(*info), GM__ABI_V1(struct gm_emu_domain_info, watches));
	return 0;
}

GM_API int gm_emu_mapped_count(gm_xen *x, gm_domid granter, unsigned *n)
{
	struct gm_emu_domain_info info = {.size = sizeof(info)};
	int r;

	if (!n)
		return -EINVAL;
	r = gm_emu_domain_info(x, granter, &info);
	if (r == 0)
		*n = info.mapped;
	return r;
}

GM_API int gm_emu_world_info(gm_xen *x, struct gm_emu_world_info *out)
{
	struct emu_world *w = world_of(x);
	struct gm_emu_world_info wi = {0}, *info = &wi;

	if (!w || !out)
		return -EINVAL;
	memcpy(info->socket_path, w->path, sizeof(info->socket_path));
	info->domid = w->domid;
	info->ram_size = w->ram_size;
	pthread_mutex_lock(&w->ram_lock);
	info->ram_free = w->ram ? (uint64_t)w->ram_free * GM_PAGE_SIZE : w->ram_size;
	pthread_mutex_unlock(&w->ram_lock);
	gm__abi_out(out, info, sizeof(*info), GM__ABI_V1(struct gm_emu_world_info, ram_free));
	return 0;
}
