/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging through a caller-supplied sink; stderr at warning by default, or
 * at the level $GRANTMEM_LOG names.  Rate-limited lines for what guests can
 * trigger.
 */
#include "config.h"

#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct gm__sink {
	gm_log_fn *fn;
	void *opaque;
};

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER; /* protects sink */
static struct gm__sink sink;
static atomic_int max_level = GM_LOG_WARNING;

static void default_sink(void *opaque, gm_log_level level, const char *msg)
{
	(void)opaque;
	fprintf(stderr, "grantmem: %s: %s\n", level_names[level], msg);
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

static void vlog(gm_log_level level, const char *fmt, va_list ap)
{
	char buf[512];
	struct gm__sink s;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pthread_mutex_lock(&sink_lock);
	s = sink;
	pthread_mutex_unlock(&sink_lock);
	if (s.fn)
		s.fn(s.opaque, level, buf);
	else
		default_sink(NULL, level, buf);
}

void gm__log(gm_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!gm__log_enabled(level))
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

/* ---- $GRANTMEM_LOG ---- */

/* A level's name (any case) or number, else -1. */
static int parse_level(const char *v)
{
	for (int i = GM_LOG_ERROR; i <= GM_LOG_DEBUG; i++)
		if (!strcasecmp(v, level_names[i]))
			return i;
	if (v[0] >= '0' && v[0] <= '0' + GM_LOG_DEBUG && !v[1])
		return v[0] - '0';
	return -1;
}

/*
 * The default sink's level from the environment, read once when the library
 * is loaded: before the program can have called gm_set_log(), which
 * overrides it.
 */
__attribute__((constructor)) static void level_from_env(void)
{
	const char *v;

#if defined(__GLIBC__)
	v = secure_getenv("GRANTMEM_LOG");
#else
	v = getenv("GRANTMEM_LOG");
#endif
	if (!v || !*v)
		return;
	int level = parse_level(v);
	if (level < 0) {
		gm__warn("GRANTMEM_LOG=\"%.40s\" is not a log level (error, warning, info, debug "
			 "or 0-3): ignored",
			 v);
		return;
	}
	atomic_store_explicit(&max_level, level, memory_order_relaxed);
}

/* ---- rate limit ---- */

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t (*rl_clock)(void) = monotonic_ns;

void gm__ratelimit_set_clock(uint64_t (*now)(void))
{
	rl_clock = now ? now : monotonic_ns;
}

/*
 * May a line through @rl go out at @now?  A token bucket in one word (the
 * generic cell rate algorithm): @tat is when the bucket would be full
 * again; each line moves it one interval on, and a line that would move it
 * more than a burst of intervals past now is dropped.
 */
static bool rl_pass(struct gm__ratelimit *rl, uint64_t now)
{
	uint64_t tat = atomic_load_explicit(&rl->tat, memory_order_relaxed);

	for (;;) {
		uint64_t next = (tat > now ? tat : now) + GM__RL_INTERVAL_NS;
		if (next - now > GM__RL_BURST * GM__RL_INTERVAL_NS)
			return false;
		if (atomic_compare_exchange_weak_explicit(&rl->tat, &tat, next,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return true;
	}
}

void gm__log_rl(struct gm__ratelimit *rl, gm_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!gm__log_enabled(level))
		return;
	if (!rl_pass(rl, rl_clock())) {
		atomic_fetch_add_explicit(&rl->dropped, 1, memory_order_relaxed);
		return;
	}
	uint64_t dropped = atomic_exchange_explicit(&rl->dropped, 0, memory_order_relaxed);
	if (dropped)
		gm__log(level, "rate limit: %" PRIu64 " line%s like the next one dropped", dropped,
			dropped == 1 ? "" : "s");
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
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
