/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fault injection: any call site named by a string can be made to fail at
 * its Nth call (and the calls after it, as many as asked).  Disarmed, a
 * site costs one relaxed atomic load.
 */
#include "config.h"

#include "base.h"

#include <string.h>

#define GM__FAULT_SITES 64
#define GM__FAULT_NAME 32

struct gm__fault_site {
	char name[GM__FAULT_NAME];
	unsigned long calls; /* since the last reset */
	unsigned long fail_at; /* fail from when calls reaches this (0: never) */
	unsigned long fail_last; /* ... up to this call */
	int err;
};

atomic_int gm__fault_armed; /* nonzero while any site is tracked */
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER; /* protects sites, nsites */
static struct gm__fault_site sites[GM__FAULT_SITES];
static unsigned nsites;

static const char *const known_sites[] = {
	"alloc",
	"gnttab_open", "gnttab_set_max_grants", "gnttab_map", "gnttab_unmap", "gnttab_copy",
	"gntshr_open", "gntshr_share", "gntshr_end_access", "gntshr_unshare",
	"evtchn_open", "evtchn_bind_interdomain", "evtchn_bind_unbound", "evtchn_unbind",
	"evtchn_notify", "evtchn_pending", "evtchn_unmask",
	"xs_open", "xs_read", "xs_write", "xs_directory", "xs_rm", "xs_mkdir",
	"xs_set_perms", "xs_watch", "xs_unwatch", "xs_read_watch", "xs_tx_start",
	"xs_tx_end", "xs_domain_path",
	"membarrier",
};

static bool site_known(const char *site)
{
	for (size_t i = 0; i < GM__ARRAY_SIZE(known_sites); i++)
		if (!strcmp(known_sites[i], site))
			return true;
	return false;
}

/* Find or create the slot of @site; fault_lock held. */
static struct gm__fault_site *slot_of(const char *site, bool create)
{
	for (unsigned i = 0; i < nsites; i++)
		if (!strcmp(sites[i].name, site))
			return &sites[i];
	if (!create || nsites == GM__FAULT_SITES)
		return NULL;
	struct gm__fault_site *f = &sites[nsites++];
	memset(f, 0, sizeof(*f));
	strncpy(f->name, site, sizeof(f->name) - 1);
	return f;
}

int gm__fault_slow(const char *site)
{
	int ret = 0;

	pthread_mutex_lock(&fault_lock);
	struct gm__fault_site *f = slot_of(site, true);
	if (f) {
		f->calls++;
		if (f->fail_at && f->calls >= f->fail_at) {
			ret = f->err;
			if (f->calls == f->fail_last)
				f->fail_at = 0;
		}
	}
	pthread_mutex_unlock(&fault_lock);
	if (ret)
		gm__dbg("fault injected at %s: %d", site, ret);
	return ret;
}

GM_API int gm_fault_inject(const char *site, unsigned nth, int err)
{
	return gm_fault_inject_times(site, nth, 1, err);
}

GM_API int gm_fault_inject_times(const char *site, unsigned nth, unsigned times, int err)
{
	if (!site || !site_known(site) || err >= 0 || (nth && !times))
		return -EINVAL;
	pthread_mutex_lock(&fault_lock);
	struct gm__fault_site *f = slot_of(site, true);
	if (f) {
		f->fail_at = nth ? f->calls + nth : 0;
		f->fail_last = f->fail_at + times - 1;
		f->err = err;
	}
	pthread_mutex_unlock(&fault_lock);
	atomic_store(&gm__fault_armed, 1);
	return f ? 0 : -ENOSPC;
}

GM_API void gm_fault_reset(void)
{
	pthread_mutex_lock(&fault_lock);
	nsites = 0;
	pthread_mutex_unlock(&fault_lock);
	atomic_store(&gm__fault_armed, 0);
}

GM_API unsigned long gm_fault_count(const char *site)
{
	unsigned long n = 0;

	if (!site)
		return 0;
	pthread_mutex_lock(&fault_lock);
	struct gm__fault_site *f = slot_of(site, false);
	if (f)
		n = f->calls;
	pthread_mutex_unlock(&fault_lock);
	return n;
}

void *gm__malloc(size_t n)
{
	if (gm__fault("alloc"))
		return NULL;
	return malloc(n);
}

void *gm__calloc(size_t n, size_t size)
{
	if (gm__fault("alloc"))
		return NULL;
	return calloc(n, size);
}

void *gm__realloc(void *p, size_t n)
{
	if (gm__fault("alloc"))
		return NULL;
	return realloc(p, n);
}

char *gm__strdup(const char *s)
{
	if (gm__fault("alloc"))
		return NULL;
	return strdup(s);
}
