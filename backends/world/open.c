/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Opening a world by name (world.h): "real", or a world registered under a
 * name by a library built on libgrantmem (libgrantmem-emu registers "emu").
 * The registry is a small fixed table: worlds register once, at load time.
 */
#include "config.h"

#include "base/base.h"
#include "xen/xen-internal.h"
#ifdef GM_HAVE_XEN
#include "real.h"
#endif

#include <grantmem/world.h>

#include <string.h>

#define WORLD_NAME_MAX 15
#define WORLDS_MAX 16

struct world_entry {
	char name[WORLD_NAME_MAX + 1];
	gm_xen_world_open_fn *open;
};

static pthread_mutex_t worlds_lock = PTHREAD_MUTEX_INITIALIZER; /* protects worlds */
static struct world_entry worlds[WORLDS_MAX];

static bool name_ok(const char *name, size_t len)
{
	if (len == 0 || len > WORLD_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

GM_API int gm_xen_world_register(const char *name, gm_xen_world_open_fn *open)
{
	int ret = -ENOSPC;

	if (!name || !open || !name_ok(name, strlen(name)) || !strcmp(name, "real"))
		return -EINVAL;
	pthread_mutex_lock(&worlds_lock);
	for (unsigned i = 0; i < WORLDS_MAX; i++) {
		if (!worlds[i].open) {
			strcpy(worlds[i].name, name);
			worlds[i].open = open;
			ret = 0;
			break;
		}
		if (!strcmp(worlds[i].name, name)) {
			ret = worlds[i].open == open ? 0 : -EEXIST;
			break;
		}
	}
	pthread_mutex_unlock(&worlds_lock);
	return ret;
}

/* The opener registered for the @len bytes at @name, or NULL. */
static gm_xen_world_open_fn *world_find(const char *name, size_t len)
{
	gm_xen_world_open_fn *open = NULL;

	pthread_mutex_lock(&worlds_lock);
	for (unsigned i = 0; i < WORLDS_MAX && worlds[i].open; i++) {
		if (strlen(worlds[i].name) == len && !memcmp(worlds[i].name, name, len)) {
			open = worlds[i].open;
			break;
		}
	}
	pthread_mutex_unlock(&worlds_lock);
	return open;
}

GM_API int gm_xen_real_open(gm_xen **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
#ifdef GM_HAVE_XEN
	return gm__xen_real_open(out);
#else
	gm__info("xen world \"real\": built without the Xen libraries");
	return -ENOTSUP;
#endif
}

static const char *spec_from_env(void)
{
	const char *env;

#if defined(__GLIBC__)
	env = secure_getenv("GRANTMEM_XEN");
#else
	env = getenv("GRANTMEM_XEN");
#endif
	return env && *env ? env : "real";
}

GM_API int gm_xen_open(const char *spec, gm_xen **out)
{
	gm_xen_world_open_fn *open;
	const char *colon;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!spec || !*spec)
		spec = spec_from_env();

	if (!strcmp(spec, "real"))
		return gm_xen_real_open(out);
	colon = strchr(spec, ':');
	open = colon ? world_find(spec, (size_t)(colon - spec)) : NULL;
	if (!open) {
		gm__info("xen world \"%s\": unknown (use \"real\" or \"<name>:...\" of a registered "
			 "world; \"emu:\" needs libgrantmem-emu)",
			 spec);
		return -EINVAL;
	}
	r = open(colon + 1, out);
	if (r < 0) {
		*out = NULL;
		/* no device, no rights, bad args: info, as the wrappers' guest-caused errors */
		gm__log(gm__xen_fail_level(r), "xen world \"%s\": %s", spec, gm_strerror(r));
	}
	return r;
}
