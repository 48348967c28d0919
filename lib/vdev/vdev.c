// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Virtio devices over xenstore + grants + event channels (see
 * include/grantmem/vdev.h and docs/vdev-protocol.md).
 *
 * The backend is a reconciler: every fired watch (its backend tree, each
 * frontend's state node, @releaseDomain) leads to one pass over all devices
 * that compares what xenstore says with what the device is, and moves the
 * device one step of the xenbus state machine.  Watch events themselves carry
 * no meaning beyond "look again", so lost or coalesced events cannot wedge a
 * device, and the same code handles a frontend that closes politely, one that
 * reconnects and one whose domain died.
 */
#include "config.h"

#include "base/base.h"

#include <grantmem/vdev.h>

#include <ctype.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PATH_MAX_LEN 256
#define VALUE_STR_MAX 64
#define VDEV_RETRY_MS 100 /* gm_vdev_backend_run: a failed step is tried again */

/* ---- strict value parsing -------------------------------------------------- */

GM_API int gm_vdev_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t n;

	if (!s || !out)
		return -EINVAL;
	n = strnlen(s, GM_VDEV_VALUE_MAX + 1);
	if (n == 0 || n > GM_VDEV_VALUE_MAX)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		if (!*s)
			return -EINVAL;
		for (; *s; s++) {
			unsigned d;

			if (*s >= '0' && *s <= '9')
				d = (unsigned)(*s - '0');
			else if (*s >= 'a' && *s <= 'f')
				d = (unsigned)(*s - 'a' + 10);
			else if (*s >= 'A' && *s <= 'F')
				d = (unsigned)(*s - 'A' + 10);
			else
				return -EINVAL;
			if (v >> 60)
				return -EINVAL;
			v = v << 4 | d;
		}
	} else {
		for (; *s; s++) {
			unsigned d;

			if (*s < '0' || *s > '9')
				return -EINVAL;
			d = (unsigned)(*s - '0');
			if (v > (UINT64_MAX - d) / 10)
				return -EINVAL;
			v = v * 10 + d;
		}
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * Read @dir/@key as a string of at most @max characters.  A value with an
 * embedded NUL or longer than @max is -EINVAL: a frontend must not be able
 * to smuggle anything past the parsers.  *out is malloc()ed.
 */
static int read_str(gm_xs *xs, gm_xs_tx tx, const char *dir, const char *key, size_t max,
		    char **out)
{
	char path[PATH_MAX_LEN + 64];
	size_t len;
	int r;

	*out = NULL;
	if (snprintf(path, sizeof(path), "%s/%s", dir, key) >= (int)sizeof(path))
		return -EINVAL;
	r = gm_xs_read(xs, tx, path, out, &len);
	if (r < 0)
		return r;
	if (len > max || strlen(*out) != len) {
		gm__info("vdev: %s: value too long or not a string (%zu bytes)", path, len);
		free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

static int read_u64_tx(gm_xs *xs, gm_xs_tx tx, const char *dir, const char *key, uint64_t max,
		       uint64_t *out)
{
	char *v;
	int r = read_str(xs, tx, dir, key, GM_VDEV_VALUE_MAX, &v);

	if (r < 0)
		return r;
	r = gm_vdev_parse_u64(v, max, out);
	if (r < 0)
		gm__info("vdev: %s/%s: bad value \"%.40s\" (a number up to %" PRIu64 " expected)",
			 dir, key, v, max);
	free(v);
	return r;
}

GM_API int gm_vdev_read_u64(gm_xs *xs, const char *dir, const char *key, uint64_t max,
			    uint64_t *out)
{
	if (!xs || !dir || !key || !out)
		return -EINVAL;
	return read_u64_tx(xs, GM_XS_TX_NONE, dir, key, max, out);
}

/* An optional number: a missing node gives @def. */
static int read_u64_opt(gm_xs *xs, const char *dir, const char *key, uint64_t max, uint64_t def,
			uint64_t *out)
{
	int r = read_u64_tx(xs, GM_XS_TX_NONE, dir, key, max, out);

	if (r == -ENOENT) {
		*out = def;
		return 0;
	}
	return r;
}

/* A required number: a missing node is logged too (the frontend forgot it). */
static int read_u64_req(gm_xs *xs, const char *dir, const char *key, uint64_t max, uint64_t *out)
{
	int r = read_u64_tx(xs, GM_XS_TX_NONE, dir, key, max, out);

	if (r == -ENOENT)
		gm__info("vdev: %s/%s: missing", dir, key);
	return r;
}

GM_API int gm_vdev_read_state(gm_xs *xs, const char *dir, enum gm_vdev_state *state)
{
	uint64_t v;
	int r;

	if (!xs || !dir || !state)
		return -EINVAL;
	r = read_u64_tx(xs, GM_XS_TX_NONE, dir, "state", GM_VDEV_STATE_CLOSED, &v);
	/*
	 * Gone, for us: xenstored says EACCES rather than ENOENT to a domain
	 * that may read no ancestor of a missing node (a frontend whose whole
	 * /local/domain/<F> went with its domain), and to one whose rights the
	 * owner took back.
	 */
	if (r == -ENOENT || r == -EACCES) {
		*state = GM_VDEV_STATE_UNKNOWN;
		return 0;
	}
	if (r < 0)
		return r;
	*state = (enum gm_vdev_state)v;
	return 0;
}

GM_API int gm_vdev_write_state(gm_xs *xs, const char *dir, enum gm_vdev_state state)
{
	char path[PATH_MAX_LEN + 16], v[4];

	if (!xs || !dir || (unsigned)state > GM_VDEV_STATE_CLOSED)
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s/state", dir) >= (int)sizeof(path))
		return -EINVAL;
	snprintf(v, sizeof(v), "%u", (unsigned)state);
	return gm_xs_write_str(xs, GM_XS_TX_NONE, path, v);
}

GM_API const char *gm_vdev_state_name(enum gm_vdev_state state)
{
	static const char *const names[] = {"Unknown",   "Initialising", "InitWait", "Initialised",
					    "Connected", "Closing",      "Closed"};

	return (unsigned)state < GM__ARRAY_SIZE(names) ? names[state] : "Unknown";
}

/* ---- the frontend's nodes -------------------------------------------------------- */

static int layout_parse(const char *s, enum gm_vdev_layout *l)
{
	if (!strcmp(s, "split"))
		*l = GM_VDEV_SPLIT;
	else if (!strcmp(s, "packed"))
		*l = GM_VDEV_PACKED;
	else
		return -EINVAL;
	return 0;
}

static const char *layout_name(enum gm_vdev_layout l)
{
	return l == GM_VDEV_PACKED ? "packed" : "split";
}

/* Bytes of each ring area (virtio 1.1, 2.7 and 2.8). */
static void ring_sizes(const struct gm_vdev_queue_info *q, uint64_t sz[3], uint64_t align[3])
{
	sz[0] = 16ull * q->size;
	align[0] = 16;
	if (q->layout == GM_VDEV_PACKED) {
		sz[1] = sz[2] = 4;
		align[1] = align[2] = 4;
	} else {
		/* flags, idx, ring[], used_event (avail_event for the used ring) */
		sz[1] = 6 + 2ull * q->size;
		align[1] = 2;
		sz[2] = 6 + 8ull * q->size;
		align[2] = 4;
	}
}

/* A ring area must be grant memory, aligned, inside the grant region. */
static int check_area(const char *dir, unsigned qi, const char *key, uint64_t addr, uint64_t size,
		      uint64_t align)
{
	const char *why = NULL;

	if (!GM_GRANT_IS_GRANT(addr))
		why = "not a grant address";
	else if (addr & (align - 1))
		why = "misaligned";
	else if ((addr & ~GM_GRANT_BASE) + size > GM_GRANT_REGION_SIZE)
		why = "beyond the grant region";
	if (!why)
		return 0;
	gm__info("vdev: %s/queue-%u/%s: 0x%" PRIx64 " %s", dir, qi, key, addr, why);
	return -EINVAL;
}

static int read_queue(gm_xs *xs, const char *fe_dir, unsigned qi, const struct gm_vdev_limits *lim,
		      int packed, struct gm_vdev_queue_info *q)
{
	static const char *const area[3] = {"desc", "driver", "device"};
	char dir[PATH_MAX_LEN + 32], *lv;
	uint64_t v, addr[3], sz[3], al[3];
	int r;

	snprintf(dir, sizeof(dir), "%s/queue-%u", fe_dir, qi);
	if ((r = read_u64_req(xs, dir, "size", lim->max_queue_size, &v)) < 0)
		return r;
	if (v == 0) {
		gm__info("vdev: %s/size: 0", dir);
		return -EINVAL;
	}
	q->size = (uint32_t)v;
	r = read_str(xs, GM_XS_TX_NONE, dir, "layout", 16, &lv);
	if (r == -ENOENT) {
		q->layout = GM_VDEV_SPLIT;
	} else if (r < 0) {
		return r;
	} else {
		r = layout_parse(lv, &q->layout);
		if (r < 0)
			gm__info("vdev: %s/layout: \"%s\" is neither split nor packed", dir, lv);
		free(lv);
		if (r < 0)
			return r;
	}
	if ((q->layout == GM_VDEV_PACKED) != !!packed ||
	    !(lim->layouts & (1u << q->layout))) {
		gm__info("vdev: %s/layout: %s does not match the negotiated features", dir,
			 layout_name(q->layout));
		return -EINVAL;
	}
	if (q->layout == GM_VDEV_SPLIT && (q->size & (q->size - 1))) {
		gm__info("vdev: %s/size: %u is not a power of 2", dir, q->size);
		return -EINVAL;
	}
	ring_sizes(q, sz, al);
	for (int i = 0; i < 3; i++) {
		if ((r = read_u64_req(xs, dir, area[i], UINT64_MAX, &addr[i])) < 0)
			return r;
		if ((r = check_area(fe_dir, qi, area[i], addr[i], sz[i], al[i])) < 0)
			return r;
	}
	q->desc = addr[0];
	q->driver = addr[1];
	q->device = addr[2];
	/* port 0 is never a valid event channel */
	if ((r = read_u64_req(xs, dir, "event-channel", (1u << 20) - 1, &v)) < 0)
		return r;
	if (v == 0) {
		gm__info("vdev: %s/event-channel: 0", dir);
		return -EINVAL;
	}
	q->port = (gm_port)v;
	return 0;
}

GM_API int gm_vdev_read_frontend(gm_xs *xs, const char *fe_dir, const struct gm_vdev_limits *lim,
				 struct gm_vdev_front_info *out)
{
	struct gm_vdev_front_info *fi;
	struct gm_vdev_limits lm;
	uint64_t v;
	int r, packed;

	if (!xs || !fe_dir || !lim || !out)
		return -EINVAL;
	if ((r = gm__abi_in(&lm, sizeof(lm), lim, GM__ABI_V1(struct gm_vdev_limits, layouts))) < 0)
		return r;
	lim = &lm;
	if (!lim->max_queues ||
	    lim->max_queues > GM_VDEV_MAX_QUEUES || !lim->max_queue_size ||
	    lim->max_queue_size > GM_VDEV_MAX_QUEUE_SIZE)
		return -EINVAL;
	fi = gm__calloc(1, sizeof(*fi));
	if (!fi)
		return -ENOMEM;
	if ((r = read_u64_req(xs, fe_dir, "features", UINT64_MAX, &fi->features)) < 0)
		goto out;
	r = -EINVAL;
	if (fi->features & ~lim->features) {
		gm__info("vdev: %s/features: 0x%" PRIx64 " asks for features not offered (0x%" PRIx64
			 ")", fe_dir, fi->features, fi->features & ~lim->features);
		goto out;
	}
	if (!(fi->features & (1ull << GM_VIRTIO_F_VERSION_1))) {
		gm__info("vdev: %s/features: VIRTIO_F_VERSION_1 not accepted", fe_dir);
		goto out;
	}
	packed = !!(fi->features & (1ull << GM_VIRTIO_F_RING_PACKED));
	if ((r = read_u64_req(xs, fe_dir, "num-queues", lim->max_queues, &v)) < 0)
		goto out;
	if (v == 0) {
		gm__info("vdev: %s/num-queues: 0", fe_dir);
		r = -EINVAL;
		goto out;
	}
	fi->num_queues = (unsigned)v;
	if ((r = read_u64_opt(xs, fe_dir, "feature-persistent", 1, 0, &v)) < 0)
		goto out;
	fi->persistent = (unsigned)v;
	for (unsigned i = 0; i < fi->num_queues; i++)
		if ((r = read_queue(xs, fe_dir, i, lim, packed, &fi->queues[i])) < 0)
			goto out;
	gm__abi_out(out, fi, sizeof(*fi), GM__ABI_V1(struct gm_vdev_front_info, queues));
	r = 0;
out:
	free(fi);
	return r;
}

struct pub_front {
	const char *dir;
	const struct gm_vdev_front_info *fi;
};

static int put(gm_xs *xs, gm_xs_tx tx, const char *dir, const char *key, const char *fmt, ...)
	GM__PRINTF(5, 6);

static int put(gm_xs *xs, gm_xs_tx tx, const char *dir, const char *key, const char *fmt, ...)
{
	char path[PATH_MAX_LEN + 64], v[2 * GM_VDEV_CONFIG_MAX + 8];
	va_list ap;

	if (snprintf(path, sizeof(path), "%s/%s", dir, key) >= (int)sizeof(path))
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	return gm_xs_write_str(xs, tx, path, v);
}

static int publish_front_tx(gm_xs *xs, gm_xs_tx tx, void *arg)
{
	const struct pub_front *p = arg;
	const struct gm_vdev_front_info *fi = p->fi;
	int r;

	if ((r = put(xs, tx, p->dir, "features", "0x%" PRIx64, fi->features)) < 0 ||
	    (r = put(xs, tx, p->dir, "num-queues", "%u", fi->num_queues)) < 0 ||
	    (r = put(xs, tx, p->dir, "feature-persistent", "%u", fi->persistent ? 1 : 0)) < 0)
		return r;
	for (unsigned i = 0; i < fi->num_queues; i++) {
		const struct gm_vdev_queue_info *q = &fi->queues[i];
		char k[48];

#define QPUT(key, ...)                                                                     \
	do {                                                                               \
		snprintf(k, sizeof(k), "queue-%u/%s", i, key);                             \
		if ((r = put(xs, tx, p->dir, k, __VA_ARGS__)) < 0)                         \
			return r;                                                          \
	} while (0)
		QPUT("size", "%u", q->size);
		QPUT("layout", "%s", layout_name(q->layout));
		QPUT("desc", "0x%016" PRIx64, q->desc);
		QPUT("driver", "0x%016" PRIx64, q->driver);
		QPUT("device", "0x%016" PRIx64, q->device);
		QPUT("event-channel", "%u", q->port);
#undef QPUT
	}
	return put(xs, tx, p->dir, "state", "%u", GM_VDEV_STATE_INITIALISED);
}

GM_API int gm_vdev_publish_frontend(gm_xs *xs, const char *fe_dir,
				    const struct gm_vdev_front_info *info)
{
	struct gm_vdev_front_info fi;
	struct pub_front p = {.dir = fe_dir, .fi = &fi};
	int r;

	if (!xs || !fe_dir || !info)
		return -EINVAL;
	r = gm__abi_in(&fi, sizeof(fi), info, GM__ABI_V1(struct gm_vdev_front_info, queues));
	if (r)
		return r;
	if (!fi.num_queues || fi.num_queues > GM_VDEV_MAX_QUEUES)
		return -EINVAL;
	r = gm_xs_transact(xs, publish_front_tx, &p, 20);
	return r < 0 ? r : 0;
}

/* ---- the backend's nodes --------------------------------------------------------- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

GM_API int gm_vdev_read_backend(gm_xs *xs, const char *be_dir, struct gm_vdev_back_info *out)
{
	struct gm_vdev_back_info bi;
	char *s = NULL, *tok, *save;
	uint64_t v;
	size_t n;
	int r;

	if (!xs || !be_dir || !out)
		return -EINVAL;
	memset(&bi, 0, sizeof(bi));
	if ((r = read_u64_req(xs, be_dir, "device-id", UINT32_MAX, &v)) < 0)
		return r;
	bi.device_id = (uint32_t)v;
	if ((r = read_u64_req(xs, be_dir, "features", UINT64_MAX, &bi.features)) < 0)
		return r;
	if ((r = read_u64_req(xs, be_dir, "max-queues", GM_VDEV_MAX_QUEUES, &v)) < 0)
		return r;
	bi.max_queues = (unsigned)v;
	if ((r = read_u64_req(xs, be_dir, "max-queue-size", GM_VDEV_MAX_QUEUE_SIZE, &v)) < 0)
		return r;
	bi.max_queue_size = (unsigned)v;
	if (!bi.max_queues || !bi.max_queue_size) {
		gm__info("vdev: %s: max-queues or max-queue-size is 0", be_dir);
		return -EINVAL;
	}
	if ((r = read_u64_opt(xs, be_dir, "feature-persistent", 1, 0, &v)) < 0)
		return r;
	bi.persistent = (unsigned)v;
	r = read_str(xs, GM_XS_TX_NONE, be_dir, "layouts", 32, &s);
	if (r == -ENOENT) {
		bi.layouts = 1u << GM_VDEV_SPLIT;
	} else if (r < 0) {
		return r;
	} else {
		for (tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			enum gm_vdev_layout l;

			if (layout_parse(tok, &l) < 0) {
				gm__info("vdev: %s/layouts: unknown layout \"%s\"", be_dir, tok);
				free(s);
				return -EINVAL;
			}
			bi.layouts |= 1u << l;
		}
		free(s);
		if (!bi.layouts) {
			gm__info("vdev: %s/layouts: empty", be_dir);
			return -EINVAL;
		}
	}
	r = read_str(xs, GM_XS_TX_NONE, be_dir, "config", 2 * GM_VDEV_CONFIG_MAX, &s);
	if (r == -ENOENT)
		r = 0, s = NULL;
	if (r < 0)
		return r;
	n = s ? strlen(s) : 0;
	if (n % 2) {
		free(s);
		gm__info("vdev: %s/config: odd number of hex digits", be_dir);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0) {
			free(s);
			gm__info("vdev: %s/config: not hexadecimal", be_dir);
			return -EINVAL;
		}
		bi.config[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	bi.config_len = n / 2;
	free(s);
	gm__abi_out(out, &bi, sizeof(bi), GM__ABI_V1(struct gm_vdev_back_info, config));
	return 0;
}

/* ---- toolstack ---------------------------------------------------------------- */

static int type_ok(const char *t)
{
	size_t n = 0;

	for (; t[n]; n++)
		if (!(islower((unsigned char)t[n]) || isdigit((unsigned char)t[n]) || t[n] == '-' ||
		      t[n] == '_'))
			return 0;
	return n >= 1 && n <= 32;
}

struct ts_dev {
	const char *type;
	gm_domid be, fe;
	unsigned devid;
	char be_dir[PATH_MAX_LEN], fe_dir[PATH_MAX_LEN];
};

static void ts_paths(struct ts_dev *d)
{
	snprintf(d->be_dir, sizeof(d->be_dir), "/local/domain/%u/backend/%s/%u/%u", d->be, d->type,
		 d->fe, d->devid);
	snprintf(d->fe_dir, sizeof(d->fe_dir), "/local/domain/%u/device/%s/%u", d->fe, d->type,
		 d->devid);
}

/*
 * Make @dir, a /local/domain/<id>/... path, and its parents below
 * /local/domain/<id>: each owned by @perm[0]'s domain, and @dir readable
 * by @perm[1]'s too.
 */
static int mkdirs_owned(gm_xs *xs, gm_xs_tx tx, const char *dir, const struct gm_xs_perm perm[2])
{
	char path[PATH_MAX_LEN];
	unsigned depth = 0;
	int r;

	for (size_t i = 1; i < sizeof(path); i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		if (++depth <= 3) /* local, domain, <id> */
			continue;
		memcpy(path, dir, i);
		path[i] = '\0';
		if ((r = gm_xs_mkdir(xs, tx, path)) < 0 ||
		    (r = gm_xs_set_perms(xs, tx, path, perm, dir[i] ? 1 : 2)) < 0)
			return r;
		if (!dir[i])
			return 0;
	}
	return -ENAMETOOLONG;
}

static int ts_add_tx(gm_xs *xs, gm_xs_tx tx, void *arg)
{
	const struct ts_dev *d = arg;
	struct gm_xs_perm be_perm[2] = {{d->be, GM_XS_PERM_NONE}, {d->fe, GM_XS_PERM_READ}};
	struct gm_xs_perm fe_perm[2] = {{d->fe, GM_XS_PERM_NONE}, {d->be, GM_XS_PERM_READ}};
	int r;

	if ((r = gm_xs_rm(xs, tx, d->be_dir)) < 0 && r != -ENOENT)
		return r;
	if ((r = gm_xs_rm(xs, tx, d->fe_dir)) < 0 && r != -ENOENT)
		return r;
	/*
	 * Permissions first: nodes written below inherit them, so the frontend
	 * owns everything in its directory and the backend in its own.  The
	 * parents may predate the domains: they are made each domain's own.
	 */
	if ((r = mkdirs_owned(xs, tx, d->be_dir, be_perm)) < 0 ||
	    (r = mkdirs_owned(xs, tx, d->fe_dir, fe_perm)) < 0)
		return r;
	if ((r = put(xs, tx, d->be_dir, "frontend", "%s", d->fe_dir)) < 0 ||
	    (r = put(xs, tx, d->be_dir, "frontend-id", "%u", d->fe)) < 0 ||
	    (r = put(xs, tx, d->be_dir, "online", "1")) < 0 ||
	    (r = put(xs, tx, d->be_dir, "state", "%u", GM_VDEV_STATE_INITIALISING)) < 0)
		return r;
	if ((r = put(xs, tx, d->fe_dir, "backend", "%s", d->be_dir)) < 0 ||
	    (r = put(xs, tx, d->fe_dir, "backend-id", "%u", d->be)) < 0 ||
	    (r = put(xs, tx, d->fe_dir, "state", "%u", GM_VDEV_STATE_INITIALISING)) < 0)
		return r;
	return 0;
}

GM_API int gm_vdev_toolstack_add(gm_xs *xs, const char *type, gm_domid backend,
				 gm_domid frontend, unsigned devid)
{
	struct ts_dev d = {.type = type ? type : GM_VDEV_TYPE_DEFAULT, .be = backend,
			   .fe = frontend, .devid = devid};
	int r;

	if (!xs || !type_ok(d.type) || backend == frontend)
		return -EINVAL;
	ts_paths(&d);
	r = gm_xs_transact(xs, ts_add_tx, &d, 20);
	return r < 0 ? r : 0;
}

static int ts_rm_tx(gm_xs *xs, gm_xs_tx tx, void *arg)
{
	const struct ts_dev *d = arg;
	int r;

	if ((r = gm_xs_rm(xs, tx, d->be_dir)) < 0 && r != -ENOENT)
		return r;
	if ((r = gm_xs_rm(xs, tx, d->fe_dir)) < 0 && r != -ENOENT)
		return r;
	return 0;
}

GM_API int gm_vdev_toolstack_remove(gm_xs *xs, const char *type, gm_domid backend,
				    gm_domid frontend, unsigned devid)
{
	struct ts_dev d = {.type = type ? type : GM_VDEV_TYPE_DEFAULT, .be = backend,
			   .fe = frontend, .devid = devid};
	int r;

	if (!xs || !type_ok(d.type))
		return -EINVAL;
	ts_paths(&d);
	r = gm_xs_transact(xs, ts_rm_tx, &d, 20);
	return r < 0 ? r : 0;
}

/* ---- xl's virtio nodes ---------------------------------------------------------- */

static int read_str_into(gm_xs *xs, const char *dir, const char *key, char *buf, size_t size,
			 int required)
{
	char *v;
	int r = read_str(xs, GM_XS_TX_NONE, dir, key, size - 1, &v);

	if (r == -ENOENT && required)
		gm__info("vdev: %s/%s: missing", dir, key);
	if (r < 0)
		return r;
	memcpy(buf, v, strlen(v) + 1);
	free(v);
	return 0;
}

GM_API int gm_vdev_parse_xl_virtio(gm_xs *xs, const char *dir, struct gm_xl_virtio *out)
{
	struct gm_xl_virtio o;
	uint64_t v;
	int r;

	if (!xs || !dir || !out)
		return -EINVAL;
	memset(&o, 0, sizeof(o));
	if ((r = read_u64_req(xs, dir, "frontend-id", GM_DOMID_MAX, &v)) < 0)
		return r;
	o.frontend_id = (gm_domid)v;
	if ((r = read_str_into(xs, dir, "type", o.type, sizeof(o.type), 1)) < 0 ||
	    (r = read_str_into(xs, dir, "transport", o.transport, sizeof(o.transport), 1)) < 0)
		return r;
	r = read_str_into(xs, dir, "frontend", o.frontend, sizeof(o.frontend), 0);
	if (r < 0 && r != -ENOENT)
		return r;
	if ((r = read_u64_opt(xs, dir, "online", 1, 0, &v)) < 0)
		return r;
	o.online = (unsigned)v;
	if ((r = read_u64_opt(xs, dir, "state", GM_VDEV_STATE_CLOSED, 0, &v)) < 0)
		return r;
	o.state = (enum gm_vdev_state)v;
	if ((r = read_u64_opt(xs, dir, "grant_usage", 1, 0, &v)) < 0)
		return r;
	o.grant_usage = (unsigned)v;
	r = read_u64_tx(xs, GM_XS_TX_NONE, dir, "base", UINT64_MAX, &o.base);
	if (r < 0 && r != -ENOENT)
		return r;
	o.has_base = r == 0;
	r = read_u64_tx(xs, GM_XS_TX_NONE, dir, "irq", UINT32_MAX, &v);
	if (r < 0 && r != -ENOENT)
		return r;
	o.has_irq = r == 0;
	o.irq = o.has_irq ? (uint32_t)v : 0;
	/* "virtio,device<id in hex>" names the device; other strings are kept as is */
	if (!strncmp(o.type, "virtio,device", 13) && o.type[13]) {
		char hex[24];

		if (strlen(o.type + 13) > 8) {
			gm__info("vdev: %s/type: \"%s\": device id too long", dir, o.type);
			return -EINVAL;
		}
		snprintf(hex, sizeof(hex), "0x%s", o.type + 13);
		if (gm_vdev_parse_u64(hex, UINT32_MAX, &v) < 0) {
			gm__info("vdev: %s/type: \"%s\": bad device id", dir, o.type);
			return -EINVAL;
		}
		o.device_id = (uint32_t)v;
	}
	gm__abi_out(out, &o, sizeof(o), GM__ABI_V1(struct gm_xl_virtio, has_irq));
	return 0;
}

/* ---- backend ------------------------------------------------------------------- */

struct gm_vdev {
	struct gm_vdev_backend *b;
	struct gm_vdev *next;
	gm_domid fdom;
	unsigned devid;
	char be_dir[PATH_MAX_LEN];
	char fe_dir[PATH_MAX_LEN]; /* "" until the toolstack's nodes are valid */
	char fe_state_path[PATH_MAX_LEN + 8];
	bool watching;
	bool seen;       /* found by the current scan */
	bool connected;
	bool failed;     /* the last connect failed; retry when the frontend changes */
	bool host_failed; /* ... because of our side (Xen, memory): retry at every step */
	bool fe_changed; /* a watch fired under fe_dir since the last step */
	bool state_stale; /* writing Connected failed: written again at the next step */
	bool unreleased; /* invalidating its mappings failed: retried at every step */
	bool close_held; /* Closed is written once the mappings are gone */
	bool checked;    /* its backend state was looked at once: not a predecessor's any more */
	struct gm_vdev_front_info fi;
	enum gm_grant_policy policy;
	gm_region *region;
	gm_space *space;
	gm_evtchn *ev[GM_VDEV_MAX_QUEUES];
	int port[GM_VDEV_MAX_QUEUES];
	void *priv;
};

struct gm_vdev_backend {
	gm_xen *x;
	gm_xs *xs;
	gm_gnttab *gt;
	gm_grant_cache *cache;
	gm_domid self;
	char type[40];
	char root[96]; /* /local/domain/<self>/backend/<type> */
	bool watch_root, watch_release;
	struct gm_vdev_backend_config cfg;
	unsigned char config[GM_VDEV_CONFIG_MAX];
	const struct gm_vdev_backend_ops *ops; /* &opsv */
	struct gm_vdev_backend_ops opsv;
	void *opaque;
	struct gm_vdev *devs;
	unsigned nconnected;
	bool retry; /* a step failed on our side: step again soon (backend_run) */
	bool gone;  /* the connection to xenstore broke: nothing more to do (-ENOTCONN) */
};

#define TOKEN_ROOT "gm-vdev-root"
#define TOKEN_RELEASE "gm-vdev-release"
#define TOKEN_FE "gm-vdev-fe"

static uint64_t offered_features(const struct gm_vdev_backend *b)
{
	uint64_t f = b->cfg.features | 1ull << GM_VIRTIO_F_VERSION_1 |
		     1ull << GM_VIRTIO_F_ACCESS_PLATFORM;

	if (b->cfg.layouts & (1u << GM_VDEV_PACKED))
		f |= 1ull << GM_VIRTIO_F_RING_PACKED;
	else
		f &= ~(1ull << GM_VIRTIO_F_RING_PACKED);
	return f;
}

/* @len bytes of config space as the `config` node holds them. */
static void config_hex(char hex[2 * GM_VDEV_CONFIG_MAX + 1], const unsigned char *config,
		       size_t len)
{
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", config[i]);
	hex[2 * len] = '\0';
}

/* The backend's half of the handshake: what the device offers, then InitWait. */
static int publish_back_tx(gm_xs *xs, gm_xs_tx tx, void *arg)
{
	struct gm_vdev *d = arg;
	struct gm_vdev_backend *b = d->b;
	char hex[2 * GM_VDEV_CONFIG_MAX + 1];
	int r;

	config_hex(hex, b->config, b->cfg.config_len);
	if ((r = put(xs, tx, d->be_dir, "device-id", "%u", b->cfg.device_id)) < 0 ||
	    (r = put(xs, tx, d->be_dir, "features", "0x%" PRIx64, offered_features(b))) < 0 ||
	    (r = put(xs, tx, d->be_dir, "max-queues", "%u", b->cfg.max_queues)) < 0 ||
	    (r = put(xs, tx, d->be_dir, "max-queue-size", "%u", b->cfg.max_queue_size)) < 0 ||
	    (r = put(xs, tx, d->be_dir, "layouts", "%s",
		     (b->cfg.layouts & (1u << GM_VDEV_PACKED)) ? "split packed" : "split")) < 0 ||
	    (r = put(xs, tx, d->be_dir, "feature-persistent", "%u", b->cfg.offer_persistent)) < 0 ||
	    (r = put(xs, tx, d->be_dir, "config", "%s", hex)) < 0)
		return r;
	return put(xs, tx, d->be_dir, "state", "%u", GM_VDEV_STATE_INITWAIT);
}

static int set_state(struct gm_vdev *d, enum gm_vdev_state s)
{
	int r = gm_vdev_write_state(d->b->xs, d->be_dir, s);

	if (r < 0)
		gm__warn("vdev: %s: cannot set state %s: %s", d->be_dir, gm_vdev_state_name(s),
			 gm_strerror(r));
	return r;
}

/*
 * Did the frontend cause @err (its nodes, its rings, its ports), so that
 * trying again before it changes something is pointless?  Anything else
 * (an I/O error, no memory, a busy Xen) is ours and worth another try.
 */
static bool frontend_error(int err)
{
	switch (err) {
	case -EINVAL:
	case -ENOENT:
	case -EFAULT:
	case -EACCES:
	case -EPERM:
	case -EPROTO:
	case -ELOOP:
	case -EOVERFLOW:
	case -ESRCH:
	case -ERANGE:
	case -E2BIG:
	case -EOPNOTSUPP:
		return true;
	default:
		return false;
	}
}

/*
 * Unmap what the cache still holds of the frontend's pages (rings,
 * persistent data grants).  The cache keeps an entry it cannot invalidate
 * (no memory for its bookkeeping): then d->unreleased is set and every
 * step tries again, since a page left mapped can never be ended.
 */
static int release_mappings(struct gm_vdev *d)
{
	int r = gm_grant_cache_invalidate_domain(d->b->cache, d->fdom);

	if (r < 0 && !d->unreleased)
		gm__warn("vdev: %s: cannot release frontend %u's mappings: %s (will retry)",
			 d->be_dir, d->fdom, gm_strerror(r));
	d->unreleased = r < 0;
	if (r < 0)
		d->b->retry = true;
	return r < 0 ? r : 0;
}

static void release_queues(struct gm_vdev *d)
{
	for (unsigned i = 0; i < GM_VDEV_MAX_QUEUES; i++) {
		if (d->ev[i] && d->port[i] >= 0)
			gm_evtchn_unbind(d->ev[i], (gm_port)d->port[i]);
		gm_evtchn_close(d->ev[i]);
		d->ev[i] = NULL;
		d->port[i] = -1;
	}
	gm_space_free(d->space);
	d->space = NULL;
	gm_region_free(d->region);
	d->region = NULL;
	/* rings and persistent data grants are still cached: let the guest have them back */
	release_mappings(d);
}

static void dev_disconnect(struct gm_vdev *d)
{
	if (!d->connected)
		return;
	d->b->ops->disconnect(d->b->opaque, d);
	d->connected = false;
	d->b->nconnected--;
	release_queues(d);
	gm__info("vdev: %s: frontend %u disconnected", d->be_dir, d->fdom);
}

static int dev_connect(struct gm_vdev *d)
{
	struct gm_vdev_backend *b = d->b;
	struct gm_vdev_limits lim = {
		.features = offered_features(b),
		.max_queues = b->cfg.max_queues,
		.max_queue_size = b->cfg.max_queue_size,
		.layouts = b->cfg.layouts,
	};
	int r;

	r = gm_vdev_read_frontend(b->xs, d->fe_dir, &lim, &d->fi);
	if (r < 0) {
		gm__info("vdev: %s: frontend %u published an unusable configuration (%s); "
			 "not connecting", d->be_dir, d->fdom, gm_strerror(r));
		return r;
	}
	d->policy = (b->cfg.offer_persistent && d->fi.persistent) ? GM_GRANT_PERSISTENT
								   : GM_GRANT_TRANSIENT;
	if ((r = gm_grant_region_new(b->cache, d->fdom, d->policy, &d->region)) < 0 ||
	    (r = gm_space_new(&d->space)) < 0 ||
	    (r = gm_space_add(d->space, GM_GRANT_BASE, d->region)) < 0) {
		/* ours (memory), not the guest's: retried, so rate-limited */
		gm__warn_rl("vdev: %s: cannot set up frontend %u's memory: %s; will retry",
			    d->be_dir, d->fdom, gm_strerror(r));
		goto fail;
	}
	for (unsigned i = 0; i < d->fi.num_queues; i++) {
		if ((r = gm_evtchn_open(b->x, &d->ev[i])) < 0) {
			gm__warn_rl("vdev: %s: cannot open queue %u's event channel: %s; will retry",
				    d->be_dir, i, gm_strerror(r));
			goto fail;
		}
		r = gm_evtchn_bind_interdomain(d->ev[i], d->fdom, d->fi.queues[i].port);
		if (r < 0) {
			gm__info("vdev: %s: cannot bind queue %u's event channel %u: %s", d->be_dir,
				 i, d->fi.queues[i].port, gm_strerror(r));
			goto fail;
		}
		d->port[i] = r;
	}
	r = b->ops->connect(b->opaque, d);
	if (r < 0) {
		gm__info("vdev: %s: the device refused frontend %u: %s", d->be_dir, d->fdom,
			 gm_strerror(r));
		goto fail;
	}
	d->connected = true;
	b->nconnected++;
	gm__info("vdev: %s: frontend %u connected, %u queue(s), %s grants", d->be_dir, d->fdom,
		 d->fi.num_queues, d->policy == GM_GRANT_PERSISTENT ? "persistent" : "transient");
	return 0;
fail:
	release_queues(d);
	return r;
}

/*
 * Check the toolstack's nodes once: the frontend path must be the frontend
 * domain's own device directory, so that a confused or hostile toolstack
 * entry cannot make us read some other domain's nodes.
 */
static int dev_init(struct gm_vdev *d)
{
	struct gm_vdev_backend *b = d->b;
	char *fe = NULL, want[PATH_MAX_LEN];
	uint64_t fid;
	int r;

	if ((r = read_u64_tx(b->xs, GM_XS_TX_NONE, d->be_dir, "frontend-id", GM_DOMID_MAX, &fid)) < 0)
		return r;
	if (fid != d->fdom) {
		gm__info("vdev: %s/frontend-id: %" PRIu64 " is not %u", d->be_dir, fid, d->fdom);
		return -EINVAL;
	}
	if ((r = read_str(b->xs, GM_XS_TX_NONE, d->be_dir, "frontend", PATH_MAX_LEN - 1, &fe)) < 0)
		return r;
	snprintf(want, sizeof(want), "/local/domain/%u/device/%s/", d->fdom, b->type);
	if (strncmp(fe, want, strlen(want)) || strstr(fe, "/..") || fe[strlen(fe) - 1] == '/') {
		gm__info("vdev: %s/frontend: \"%.80s\" is not under %s", d->be_dir, fe, want);
		free(fe);
		return -EINVAL;
	}
	snprintf(d->fe_dir, sizeof(d->fe_dir), "%s", fe);
	snprintf(d->fe_state_path, sizeof(d->fe_state_path), "%s/state", fe);
	free(fe);
	r = gm_xs_watch(b->xs, d->fe_state_path, TOKEN_FE);
	if (r < 0) {
		d->fe_dir[0] = '\0';
		return r;
	}
	d->watching = true;
	return 0;
}

/*
 * The first look at a device this backend found: a backend state past
 * Initialising was written by an earlier backend of this domain (one that
 * died or was killed, or one whose domain was rebuilt).  Whatever it
 * mapped is gone with it, but the frontend may still be Connected, with
 * rings that hold requests nobody will complete and indices nobody here
 * knows.  Serving those rings could complete a request twice or never: the
 * frontend is told Closed instead, so it ends access to its grants and
 * starts a fresh handshake (Initialising).  A predecessor that only
 * published its nodes (InitWait, the frontend not yet past Initialising)
 * left nothing to distrust: published again.  0, or -errno (tried again).
 */
static int adopt(struct gm_vdev *d, enum gm_vdev_state fs, enum gm_vdev_state *bs)
{
	switch (*bs) {
	case GM_VDEV_STATE_INITWAIT:
		if (fs == GM_VDEV_STATE_INITIALISING || fs == GM_VDEV_STATE_UNKNOWN) {
			*bs = GM_VDEV_STATE_INITIALISING;
			return 0;
		}
		break;
	case GM_VDEV_STATE_INITIALISED:
	case GM_VDEV_STATE_CONNECTED:
	case GM_VDEV_STATE_CLOSING:
		break;
	default:
		return 0;
	}
	gm__info("vdev: %s: left %s by an earlier backend (frontend %u %s): closing it, the "
		 "frontend must start again", d->be_dir, gm_vdev_state_name(*bs), d->fdom,
		 gm_vdev_state_name(fs));
	if (set_state(d, GM_VDEV_STATE_CLOSED) < 0) {
		d->b->retry = true;
		return -EAGAIN;
	}
	*bs = GM_VDEV_STATE_CLOSED;
	return 0;
}

/* One step of the state machine; called whenever anything may have changed. */
static void dev_step(struct gm_vdev *d)
{
	struct gm_vdev_backend *b = d->b;
	enum gm_vdev_state fs, bs;
	int r;

	if (!d->fe_dir[0] && (r = dev_init(d)) < 0) {
		b->retry |= !frontend_error(r);
		return;
	}
	if (d->unreleased) {
		/* nothing new for this frontend while we map its pages */
		if (release_mappings(d) < 0)
			return;
		if (d->close_held) {
			d->close_held = false;
			set_state(d, GM_VDEV_STATE_CLOSED);
		}
	}
	r = gm_vdev_read_state(b->xs, d->fe_dir, &fs);
	if (r == -EINVAL) {
		fs = GM_VDEV_STATE_UNKNOWN; /* garbage: treat the frontend as gone */
	} else if (r < 0) {
		b->retry = true;
		return;
	}
	if (d->connected) {
		if (fs == GM_VDEV_STATE_INITIALISED || fs == GM_VDEV_STATE_CONNECTED) {
			/* a frontend never told Connected would wait for ever */
			if (d->state_stale)
				d->state_stale = set_state(d, GM_VDEV_STATE_CONNECTED) < 0;
			b->retry |= d->state_stale;
			return;
		}
		dev_disconnect(d);
		d->state_stale = false;
		set_state(d, GM_VDEV_STATE_CLOSING);
		if (d->unreleased) {
			/* Closed tells the frontend its pages are free: not yet */
			d->close_held = true;
			return;
		}
		set_state(d, GM_VDEV_STATE_CLOSED);
		/* a frontend that restarted without closing gets a fresh handshake */
		if (fs != GM_VDEV_STATE_INITIALISING)
			return;
	}
	if ((r = gm_vdev_read_state(b->xs, d->be_dir, &bs)) < 0) {
		b->retry = true;
		return;
	}
	if (!d->checked) {
		if (adopt(d, fs, &bs) < 0)
			return;
		d->checked = true;
	}
	switch (bs) {
	case GM_VDEV_STATE_UNKNOWN:
		return; /* our directory is going away */
	case GM_VDEV_STATE_CLOSED:
		if (fs != GM_VDEV_STATE_INITIALISING)
			return;
		/* the frontend wants to start again */
		__attribute__((fallthrough));
	case GM_VDEV_STATE_INITIALISING:
		if (fs == GM_VDEV_STATE_UNKNOWN)
			return;
		r = gm_xs_transact(b->xs, publish_back_tx, d, 20);
		if (r < 0) {
			gm__warn("vdev: %s: cannot publish the device: %s", d->be_dir,
				 gm_strerror(r));
			b->retry = true;
			return;
		}
		d->failed = false;
		bs = GM_VDEV_STATE_INITWAIT;
		break;
	default:
		break;
	}
	if (fs == GM_VDEV_STATE_UNKNOWN || fs == GM_VDEV_STATE_CLOSING ||
	    fs == GM_VDEV_STATE_CLOSED) {
		if (bs != GM_VDEV_STATE_CLOSED)
			set_state(d, GM_VDEV_STATE_CLOSED);
		return;
	}
	if (bs == GM_VDEV_STATE_INITWAIT &&
	    (fs == GM_VDEV_STATE_INITIALISED || fs == GM_VDEV_STATE_CONNECTED)) {
		if (d->failed && !d->fe_changed && !d->host_failed)
			return;
		d->fe_changed = false;
		if ((r = dev_connect(d)) < 0) {
			/* a failure of ours (Xen, memory) is worth another try */
			d->failed = true;
			d->host_failed = !frontend_error(r);
			b->retry |= d->host_failed;
			return;
		}
		d->failed = d->host_failed = false;
		d->state_stale = set_state(d, GM_VDEV_STATE_CONNECTED) < 0;
		b->retry |= d->state_stale;
	}
}

static void dev_free(struct gm_vdev *d)
{
	dev_disconnect(d);
	if (d->watching)
		gm_xs_unwatch(d->b->xs, d->fe_state_path, TOKEN_FE);
	free(d);
}

static struct gm_vdev *dev_find(struct gm_vdev_backend *b, gm_domid fdom, unsigned devid)
{
	for (struct gm_vdev *d = b->devs; d; d = d->next)
		if (d->fdom == fdom && d->devid == devid)
			return d;
	return NULL;
}

static void scan_frontend(struct gm_vdev_backend *b, gm_domid fdom)
{
	char path[160], **names;
	int n;

	snprintf(path, sizeof(path), "%s/%u", b->root, fdom);
	n = gm_xs_directory(b->xs, GM_XS_TX_NONE, path, &names);
	if (n < 0 && n != -ENOENT) {
		/* unreadable is not removed: its devices stay until we know */
		for (struct gm_vdev *d = b->devs; d; d = d->next)
			if (d->fdom == fdom)
				d->seen = true;
		b->retry = true;
		return;
	}
	if (n < 0)
		return;
	for (int i = 0; i < n; i++) {
		struct gm_vdev *d;
		uint64_t devid;

		if (gm_vdev_parse_u64(names[i], UINT32_MAX, &devid) < 0)
			continue;
		d = dev_find(b, fdom, (unsigned)devid);
		if (!d) {
			d = gm__calloc(1, sizeof(*d));
			if (!d) {
				b->retry = true; /* found again by the next scan */
				continue;
			}
			d->b = b;
			d->fdom = fdom;
			d->devid = (unsigned)devid;
			for (unsigned q = 0; q < GM_VDEV_MAX_QUEUES; q++)
				d->port[q] = -1;
			snprintf(d->be_dir, sizeof(d->be_dir), "%s/%u/%u", b->root, fdom,
				 (unsigned)devid);
			d->next = b->devs;
			b->devs = d;
			gm__info("vdev: %s: new device", d->be_dir);
		}
		d->seen = true;
	}
	free(names);
}

/* Find devices that appeared or went away in the backend tree. */
static int scan(struct gm_vdev_backend *b)
{
	char **names;
	int n;

	for (struct gm_vdev *d = b->devs; d; d = d->next)
		d->seen = false;
	n = gm_xs_directory(b->xs, GM_XS_TX_NONE, b->root, &names);
	if (n == -ENOENT)
		n = 0, names = NULL;
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		uint64_t fdom;

		if (gm_vdev_parse_u64(names[i], GM_DOMID_MAX, &fdom) < 0)
			continue;
		if (b->cfg.frontend >= 0 && fdom != (uint64_t)b->cfg.frontend)
			continue;
		scan_frontend(b, (gm_domid)fdom);
	}
	free(names);
	for (struct gm_vdev **pp = &b->devs; *pp;) {
		struct gm_vdev *d = *pp;

		if (d->seen) {
			pp = &d->next;
			continue;
		}
		gm__info("vdev: %s: device removed", d->be_dir);
		*pp = d->next;
		dev_free(d);
	}
	return 0;
}

static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return n && !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/*
 * Errors that say the connection to xenstore itself broke (a xenstored or
 * an emulated hub that went away), not that one call failed: nothing the
 * backend does will succeed again.
 */
static bool xs_gone(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ESHUTDOWN ||
	       r == -EBADF;
}

/* xenstore is gone (@r): say so once; from now on the backend only frees. */
static void xs_lost(struct gm_vdev_backend *b, int r)
{
	if (b->gone)
		return;
	b->gone = true;
	gm__warn("vdev: lost the connection to xenstore (%s); %u device(s) connected",
		 gm_strerror(r), b->nconnected);
}

GM_API int gm_vdev_backend_process(gm_vdev_backend *b)
{
	char *path, *token;
	int r;

	if (!b)
		return -EINVAL;
	if (b->gone)
		return -ENOTCONN;
	while ((r = gm_xs_read_watch(b->xs, &path, &token)) == 0) {
		for (struct gm_vdev *d = b->devs; d; d = d->next)
			if (d->fe_dir[0] && path_under(path, d->fe_dir))
				d->fe_changed = true;
		free(path);
		free(token);
	}
	if (xs_gone(r)) {
		xs_lost(b, r);
		return -ENOTCONN;
	}
	b->retry = r != -EAGAIN;
	if (r != -EAGAIN)
		return r;
	if ((r = scan(b)) < 0) {
		if (xs_gone(r)) {
			xs_lost(b, r);
			return -ENOTCONN;
		}
		b->retry = true;
		return r;
	}
	for (struct gm_vdev *d = b->devs; d; d = d->next)
		dev_step(d);
	return (int)b->nconnected;
}

GM_API int gm_vdev_backend_new(gm_xen *x, const struct gm_vdev_backend_config *cfg,
			       const struct gm_vdev_backend_ops *ops, void *opaque,
			       gm_vdev_backend **out)
{
	struct gm_vdev_backend_config cf;
	struct gm_vdev_backend_ops ov;
	struct gm_vdev_backend *b;
	int r;

	if (out)
		*out = NULL;
	if (ops) {
		r = gm__abi_in(&ov, sizeof(ov), ops, GM__ABI_V1(struct gm_vdev_backend_ops, disconnect));
		if (r)
			return r;
		ops = &ov;
	}
	if (cfg) {
		r = gm__abi_in(&cf, sizeof(cf), cfg, GM__ABI_V1(struct gm_vdev_backend_config, cache));
		if (r)
			return r;
		cfg = &cf;
	}
	if (!x || !cfg || !ops || !ops->connect || !ops->disconnect || !out ||
	    cfg->config_len > GM_VDEV_CONFIG_MAX || (cfg->config_len && !cfg->config) ||
	    cfg->max_queues > GM_VDEV_MAX_QUEUES || cfg->max_queue_size > GM_VDEV_MAX_QUEUE_SIZE ||
	    (cfg->layouts & ~3u) || cfg->frontend > (int)GM_DOMID_MAX ||
	    (cfg->type && !type_ok(cfg->type)))
		return -EINVAL;
	b = gm__calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->x = x;
	b->cfg = *cfg;
	b->opsv = *ops;
	b->ops = &b->opsv;
	b->opaque = opaque;
	snprintf(b->type, sizeof(b->type), "%s", cfg->type ? cfg->type : GM_VDEV_TYPE_DEFAULT);
	b->cfg.type = b->type;
	if (cfg->config_len)
		memcpy(b->config, cfg->config, cfg->config_len);
	b->cfg.config = b->config;
	if (!b->cfg.max_queues)
		b->cfg.max_queues = 1;
	if (!b->cfg.max_queue_size)
		b->cfg.max_queue_size = 256;
	if (!b->cfg.layouts)
		b->cfg.layouts = 1u << GM_VDEV_SPLIT;
	if ((r = gm_xen_self_domid(x, &b->self)) < 0 || (r = gm_xs_open(x, &b->xs)) < 0 ||
	    (r = gm_gnttab_open(x, &b->gt)) < 0 ||
	    (r = gm_grant_cache_new(b->gt, cfg->cache, &b->cache)) < 0)
		goto fail;
	snprintf(b->root, sizeof(b->root), "/local/domain/%u/backend/%s", b->self, b->type);
	if ((r = gm_xs_watch(b->xs, b->root, TOKEN_ROOT)) < 0)
		goto fail;
	b->watch_root = true;
	/*
	 * Not every xenstored lets a driver domain watch @releaseDomain; the
	 * frontends' state watches notice dead domains too (their directories
	 * go), so this one is only a shortcut.
	 */
	r = gm_xs_watch(b->xs, "@releaseDomain", TOKEN_RELEASE);
	if (r < 0)
		gm__info("vdev: cannot watch @releaseDomain (%s); relying on the frontends' "
			 "state nodes", gm_strerror(r));
	b->watch_release = r == 0;
	*out = b;
	return 0;
fail:
	gm__warn("vdev: cannot start a %s backend: %s", b->type, gm_strerror(r));
	gm_vdev_backend_free(b);
	return r;
}

GM_API void gm_vdev_backend_free(gm_vdev_backend *b)
{
	if (!b)
		return;
	while (b->devs) {
		struct gm_vdev *d = b->devs;

		b->devs = d->next;
		/* tell the frontend: it must not wait for a backend that is gone */
		if (d->connected || d->close_held) {
			dev_disconnect(d);
			/* a last try; freeing the cache below unmaps what is left */
			if (d->unreleased)
				release_mappings(d);
			if (!b->gone)
				set_state(d, GM_VDEV_STATE_CLOSED);
		}
		if (b->gone)
			d->watching = false; /* nothing to unwatch in a xenstore that is gone */
		dev_free(d);
	}
	if (b->watch_root && !b->gone)
		gm_xs_unwatch(b->xs, b->root, TOKEN_ROOT);
	if (b->watch_release && !b->gone)
		gm_xs_unwatch(b->xs, "@releaseDomain", TOKEN_RELEASE);
	gm_grant_cache_free(b->cache);
	gm_gnttab_close(b->gt);
	gm_xs_close(b->xs);
	free(b);
}

GM_API int gm_vdev_backend_fd(gm_vdev_backend *b)
{
	return b ? gm_xs_fd(b->xs) : -EINVAL;
}

GM_API int gm_vdev_backend_run(gm_vdev_backend *b, int stop_fd, int tick_ms)
{
	unsigned fails = 0; /* xenstore calls failed in a row: the retries back off */
	int fd, r;

	if (!b)
		return -EINVAL;
	fd = gm_xs_fd(b->xs);
	if (fd < 0)
		return fd;
	if ((r = gm_vdev_backend_process(b)) == -ENOTCONN)
		return r;
	fails = r < 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
		int ms = tick_ms > 0 ? tick_ms : -1;
		int retry_ms = VDEV_RETRY_MS << (fails < 5 ? fails : 5);

		/* a step that failed is tried again without a watch */
		if (b->retry && (ms < 0 || ms > retry_ms))
			ms = retry_ms;
		r = poll(p, stop_fd >= 0 ? 2 : 1, ms);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && stop_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP)))
			return 0;
		if (r > 0 && (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))) {
			xs_lost(b, -ECONNRESET);
			return -ENOTCONN;
		}
		r = gm_vdev_backend_process(b);
		if (r == -ENOTCONN)
			return r;
		fails = r < 0 ? fails + 1 : 0;
	}
}

GM_API gm_grant_cache *gm_vdev_backend_cache(gm_vdev_backend *b)
{
	return b ? b->cache : NULL;
}

GM_API unsigned gm_vdev_backend_connected(gm_vdev_backend *b)
{
	return b ? b->nconnected : 0;
}

GM_API gm_domid gm_vdev_frontend_id(const gm_vdev *d)
{
	return d->fdom;
}

GM_API unsigned gm_vdev_devid(const gm_vdev *d)
{
	return d->devid;
}

GM_API const char *gm_vdev_backend_dir(const gm_vdev *d)
{
	return d->be_dir;
}

GM_API const struct gm_vdev_front_info *gm_vdev_frontend_info(const gm_vdev *d)
{
	return &d->fi;
}

GM_API gm_mem *gm_vdev_mem(const gm_vdev *d)
{
	return d->space ? gm_space_mem(d->space) : NULL;
}

GM_API enum gm_grant_policy gm_vdev_policy(const gm_vdev *d)
{
	return d->policy;
}

GM_API gm_evtchn *gm_vdev_queue_evtchn(const gm_vdev *d, unsigned i)
{
	return i < GM_VDEV_MAX_QUEUES ? d->ev[i] : NULL;
}

GM_API gm_port gm_vdev_queue_port(const gm_vdev *d, unsigned i)
{
	return i < GM_VDEV_MAX_QUEUES && d->port[i] >= 0 ? (gm_port)d->port[i] : 0;
}

GM_API int gm_vdev_notify(const gm_vdev *d, unsigned i)
{
	if (!d || i >= GM_VDEV_MAX_QUEUES || !d->ev[i] || d->port[i] < 0)
		return -EINVAL;
	return gm_evtchn_notify(d->ev[i], (gm_port)d->port[i]);
}

GM_API void gm_vdev_set_priv(gm_vdev *d, void *priv)
{
	d->priv = priv;
}

GM_API void *gm_vdev_priv(const gm_vdev *d)
{
	return d->priv;
}

struct set_config {
	const struct gm_vdev *d;
	char hex[2 * GM_VDEV_CONFIG_MAX + 1];
	uint32_t generation;
};

static int set_config_tx(gm_xs *xs, gm_xs_tx tx, void *arg)
{
	const struct set_config *sc = arg;
	int r = put(xs, tx, sc->d->be_dir, "config", "%s", sc->hex);

	/* the generation last, though one transaction: its watch says "read config" */
	return r < 0 ? r : put(xs, tx, sc->d->be_dir, "config-generation", "%" PRIu32,
			       sc->generation);
}

GM_API int gm_vdev_set_config(gm_vdev *d, const void *config, size_t len, uint32_t generation)
{
	struct set_config sc = {.d = d, .generation = generation};
	int r;

	if (!d || (len && !config) || len > GM_VDEV_CONFIG_MAX)
		return -EINVAL;
	config_hex(sc.hex, config, len);
	r = gm_xs_transact(d->b->xs, set_config_tx, &sc, 20);
	return r < 0 ? r : 0;
}

GM_API int gm_vdev_write_node(gm_vdev *d, const char *key, const char *value)
{
	if (!d || !key || !value || !*key || key[0] == '/' || strstr(key, ".."))
		return -EINVAL;
	return put(d->b->xs, GM_XS_TX_NONE, d->be_dir, key, "%s", value);
}
