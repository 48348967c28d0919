/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging through a caller-supplied sink; stderr at warning by default. */
#include "config.h"

#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct gm__sink {
	gm_log_fn *fn;
	void *opaque;
};

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER; /* protects sink */
static struct gm__sink sink;
static atomic_int max_level = GM_LOG_WARNING;

static void default_sink(void *opaque, gm_log_level level, const char *msg)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};

	(void)opaque;
	fprintf(stderr, "grantmem: %s: %s\n", names[level], msg);
}

GM_API void gm_set_log(gm_log_fn *fn, void *opaque, gm_log_level level)
{
	if ((int)level < GM_LOG_ERROR)
		level = GM_LOG_ERROR;
	if (level > GM_LOG_DEBUG)
		level = GM_LOG_DEBUG;
	pthread_mutex_lock(&sink_lock);
	sink.fn = fn;
	sink.opaque = opaque;
	pthread_mutex_unlock(&sink_lock);
	atomic_store_explicit(&max_level, level, memory_order_relaxed);
}

bool gm__log_enabled(gm_log_level level)
{
	return (int)level <= atomic_load_explicit(&max_level, memory_order_relaxed);
}

void gm__log(gm_log_level level, const char *fmt, ...)
{
	char buf[512];
	struct gm__sink s;
	va_list ap;

	if (!gm__log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&sink_lock);
	s = sink;
	pthread_mutex_unlock(&sink_lock);
	if (s.fn)
		s.fn(s.opaque, level, buf);
	else
		default_sink(NULL, level, buf);
}

GM_API const char *gm_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EFAULT:
		return "no guest memory at this address";
	case -EACCES:
		return "access not permitted (read-only grant or view)";
	case -ENOSPC:
		return "mapping or bounce budget exhausted";
	case -EBUSY:
		return "still mapped";
	case -EIO:
		return "I/O error";
	default:
		return err < 0 ? strerror(-err) : "not an error code";
	}
}
