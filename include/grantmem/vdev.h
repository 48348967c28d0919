/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: virtio devices over xenstore, grants and event channels.
 *
 * A small xenbus-style transport for PV domains (and tests): the frontend
 * (the guest's virtio driver) puts its rings in granted pages and publishes
 * their grant addresses, one event channel per queue and the negotiated
 * features in xenstore; the backend (a device model in dom0 or a driver
 * domain) maps the rings through a grant region and serves the queues.  The
 * protocol is described in docs/vdev-protocol.md; in short:
 *
 *   /local/domain/<B>/backend/<type>/<F>/<devid>/   backend directory
 *       frontend, frontend-id, state                (toolstack)
 *       device-id, features, max-queues, max-queue-size, layouts,
 *       feature-persistent, config, config-generation,
 *       stats/...                                   (backend)
 *   /local/domain/<F>/device/<type>/<devid>/        frontend directory
 *       backend, backend-id, state                  (toolstack)
 *       features, num-queues, feature-persistent,
 *       queue-<i>/{size,layout,desc,driver,device,event-channel}  (frontend)
 *
 * `state` holds a XenbusState number (GM_VDEV_STATE_*).  Numbers are
 * decimal, or hexadecimal with "0x"; ring addresses are grant addresses
 * (GM_GRANT_ADDR(gref, offset)).
 *
 * Everything a frontend writes is hostile input: the backend parses it
 * strictly (see gm_vdev_read_frontend()), and a frontend that publishes
 * nonsense stays unconnected.
 */
#ifndef GRANTMEM_VDEV_H
#define GRANTMEM_VDEV_H

#include <grantmem/common.h>
#include <grantmem/mem.h>
#include <grantmem/xen.h>
#include <grantmem/grant.h>
#include <grantmem/virtio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* XenbusState values, as found in the `state` nodes. */
enum gm_vdev_state {
	GM_VDEV_STATE_UNKNOWN = 0,
	GM_VDEV_STATE_INITIALISING = 1,
	GM_VDEV_STATE_INITWAIT = 2,
	GM_VDEV_STATE_INITIALISED = 3,
	GM_VDEV_STATE_CONNECTED = 4,
	GM_VDEV_STATE_CLOSING = 5,
	GM_VDEV_STATE_CLOSED = 6,
};

/* The device type used when a configuration names none. */
#define GM_VDEV_TYPE_DEFAULT "gm-virtio"

#define GM_VDEV_MAX_QUEUES 64u       /* queues per device */
#define GM_VDEV_MAX_QUEUE_SIZE 32768u /* descriptors per queue (virtio's limit) */
#define GM_VDEV_CONFIG_MAX 256u      /* bytes of device config space */
#define GM_VDEV_VALUE_MAX 64u        /* longest numeric value accepted */

/* Ring layouts (bit numbers in gm_vdev_backend_config.layouts). */
enum gm_vdev_layout {
	GM_VDEV_SPLIT = 0,
	GM_VDEV_PACKED = 1,
};

/*
 * virtio feature bits the transport itself looks at (VERSION_1 and
 * RING_PACKED come from virtio.h).  ACCESS_PLATFORM: the device reaches
 * guest memory only through what the driver grants.
 */
#ifndef GM_VIRTIO_F_ACCESS_PLATFORM
#define GM_VIRTIO_F_ACCESS_PLATFORM 33
#endif

/* One queue as the frontend published it (guest addresses).  An element
 * of gm_vdev_front_info.queues: fixed, not versioned (per-queue fields to
 * come go in an array of their own). */
struct gm_vdev_queue_info {
	uint32_t size;              /* descriptors: a power of 2 for split rings */
	enum gm_vdev_layout layout;
	uint64_t desc;              /* descriptor table / packed ring */
	uint64_t driver;            /* split: available ring; packed: driver event area */
	uint64_t device;            /* split: used ring; packed: device event area */
	gm_port port;               /* the frontend's event channel (unbound for us) */
};

/* What a frontend publishes (gm_vdev_read_frontend, gm_vdev_publish_frontend).
 * Versioned (common.h): size first, sizeof or 0. */
struct gm_vdev_front_info {
	size_t size;
	uint64_t features;          /* accepted features: a subset of the device's */
	unsigned num_queues;        /* 1..GM_VDEV_MAX_QUEUES */
	unsigned persistent;        /* 1: the frontend reuses its data grants */
	struct gm_vdev_queue_info queues[GM_VDEV_MAX_QUEUES];
};

/* What a backend publishes (gm_vdev_read_backend).  Versioned (common.h):
 * set size to sizeof, or 0, before the call. */
struct gm_vdev_back_info {
	size_t size;
	uint32_t device_id;         /* virtio device id (2: block) */
	uint64_t features;          /* offered features */
	unsigned max_queues;
	unsigned max_queue_size;
	unsigned layouts;           /* bit GM_VDEV_SPLIT / GM_VDEV_PACKED */
	unsigned persistent;        /* 1: feature-persistent offered */
	size_t config_len;
	unsigned char config[GM_VDEV_CONFIG_MAX];
};

/* What a frontend is allowed to ask for (gm_vdev_read_frontend).
 * Versioned (common.h): size first, sizeof or 0. */
struct gm_vdev_limits {
	size_t size;
	uint64_t features;          /* the device's offered features */
	unsigned max_queues;        /* 1..GM_VDEV_MAX_QUEUES */
	unsigned max_queue_size;    /* 1..GM_VDEV_MAX_QUEUE_SIZE */
	unsigned layouts;           /* bit GM_VDEV_SPLIT / GM_VDEV_PACKED */
};

/* ---- strict value parsing -------------------------------------------------- */

/*
 * gm_vdev_parse_u64 - parse a xenstore value as an unsigned number.
 * @s:   NUL-terminated; decimal, or hexadecimal after "0x"/"0X"; no sign, no
 *       space, no trailing garbage, at most GM_VDEV_VALUE_MAX characters.
 * @max: the largest acceptable value.
 * @out: the value (untouched on failure).
 * Returns 0 or -EINVAL (not a number, too long, above @max, overflow).
 * Thread-safe, never logs.
 */
GM_API int gm_vdev_parse_u64(const char *s, uint64_t max, uint64_t *out);

/*
 * gm_vdev_read_u64 - read node @dir/@key with gm_xs_read and parse it with
 * gm_vdev_parse_u64().  Returns 0, -ENOENT (no node), -EINVAL (bad value,
 * logged at info with the path), or the xenstore error.  Thread-safe.
 */
GM_API int gm_vdev_read_u64(gm_xs *xs, const char *dir, const char *key, uint64_t max,
			    uint64_t *out);

/*
 * gm_vdev_read_state - read @dir/state.  A missing node gives 0 with
 * *state = GM_VDEV_STATE_UNKNOWN (the directory went away), and so does a
 * node we may not read (-EACCES: what xenstored answers an unprivileged
 * domain about a node under a domain directory that went away, or after
 * the owner took its rights back); a value that is not a XenbusState gives
 * -EINVAL (logged at info).  Thread-safe.
 */
GM_API int gm_vdev_read_state(gm_xs *xs, const char *dir, enum gm_vdev_state *state);

/*
 * gm_vdev_write_state - write @state to @dir/state.  Returns 0 or the
 * xenstore error.  Thread-safe.
 */
GM_API int gm_vdev_write_state(gm_xs *xs, const char *dir, enum gm_vdev_state state);

/*
 * gm_vdev_state_name - "Initialising", "InitWait", ..., "Unknown".  Static
 * string; thread-safe.
 */
GM_API const char *gm_vdev_state_name(enum gm_vdev_state state);

/* ---- protocol pieces (both sides) ------------------------------------------- */

/*
 * gm_vdev_read_frontend - read and check what a frontend published in its
 * directory @fe_dir, as a backend must: every number strictly parsed and
 * range-checked against @lim, features a subset of lim->features that
 * include VIRTIO_F_VERSION_1, a packed layout only with
 * VIRTIO_F_RING_PACKED, split ring sizes powers of 2, ring addresses
 * aligned (desc 16, split driver 2 / device 4, packed areas 4) and not
 * wrapping.  @out is filled only on success, up to out->size (versioned,
 * common.h).
 * Returns 0; -EINVAL (a bad value: one info line names the node and why);
 * -ENOENT (a required node is missing: info line too); or a xenstore error.
 * Thread-safe.
 */
GM_API int gm_vdev_read_frontend(gm_xs *xs, const char *fe_dir, const struct gm_vdev_limits *lim,
				 struct gm_vdev_front_info *out);

/*
 * gm_vdev_publish_frontend - write @info (queues, features, event channels)
 * into @fe_dir and set its state to Initialised, in one transaction
 * (retried on conflicts).  The frontend side of the handshake.
 * Returns 0, -EINVAL (num_queues out of range), -E2BIG (@info sets fields
 * newer than this library) or a xenstore error.
 * Thread-safe.  Logs xenstore failures only through gm_xs.
 */
GM_API int gm_vdev_publish_frontend(gm_xs *xs, const char *fe_dir,
				    const struct gm_vdev_front_info *info);

/*
 * gm_vdev_read_backend - read what a backend published in @be_dir (after it
 * reached InitWait), with the same strictness.  Returns 0, -EINVAL, -ENOENT
 * or a xenstore error.  Thread-safe.
 */
GM_API int gm_vdev_read_backend(gm_xs *xs, const char *be_dir, struct gm_vdev_back_info *out);

/* ---- the toolstack's part ------------------------------------------------- */

/*
 * gm_vdev_toolstack_add - create a device as a toolstack (dom0) does: the
 * backend directory /local/domain/<backend>/backend/<type>/<frontend>/<devid>
 * (owned by @backend, readable by @frontend) with frontend, frontend-id,
 * online = 1 and state = Initialising, and the frontend directory
 * /local/domain/<frontend>/device/<type>/<devid> (owned by @frontend,
 * readable by @backend) with backend, backend-id and state = Initialising.
 * Existing directories are replaced.  One transaction.
 * @type: device type (NULL: GM_VDEV_TYPE_DEFAULT); [a-z0-9_-], 1..32 chars.
 * Needs a xenstore connection with dom0's rights.
 * Returns 0, -EINVAL or a xenstore error.  Thread-safe.
 */
GM_API int gm_vdev_toolstack_add(gm_xs *xs, const char *type, gm_domid backend,
				 gm_domid frontend, unsigned devid);

/*
 * gm_vdev_toolstack_remove - remove both directories of the device (the
 * backend sees the device vanish and releases it).  Missing directories are
 * fine.  Returns 0 or a xenstore error.  Thread-safe.
 */
GM_API int gm_vdev_toolstack_remove(gm_xs *xs, const char *type, gm_domid backend,
				    gm_domid frontend, unsigned devid);

/* ---- xl's virtio nodes ---------------------------------------------------- */

/*
 * What xl (libxl) writes for a `virtio = [...]` device of a guest, under
 * /local/domain/<backend>/backend/virtio/<frontend>/<devid>/.  Strings are
 * NUL-terminated and truncated to their arrays (too long: -EINVAL).
 * Versioned (common.h): set size to sizeof, or 0, before the call.
 */
struct gm_xl_virtio {
	size_t size;
	gm_domid frontend_id;      /* frontend-id */
	char frontend[256];        /* frontend: the frontend directory path */
	unsigned online;           /* online (0/1) */
	enum gm_vdev_state state;  /* state */
	char type[64];             /* type: "virtio,device<N>" or a compatible */
	uint32_t device_id;        /* N from "virtio,device<N>" (hex), else 0 */
	char transport[16];        /* transport: "mmio" (or "pci") */
	unsigned grant_usage;      /* grant_usage: 1 the guest uses grants, 0 not */
	uint64_t base;             /* base: the MMIO window's guest address */
	uint32_t irq;              /* irq: the GSI (SPI) of the device */
	unsigned has_base, has_irq; /* whether the nodes were present */
};

/*
 * gm_vdev_parse_xl_virtio - read the nodes xl wrote in @dir (a directory
 * backend/virtio/<frontend>/<devid>).  Required: frontend-id, type,
 * transport; others default to 0 when missing.  Every value strictly
 * parsed (a bad one: -EINVAL and an info line naming it).
 * Returns 0, -ENOENT (a required node missing), -EINVAL or a xenstore
 * error.  Thread-safe.
 */
GM_API int gm_vdev_parse_xl_virtio(gm_xs *xs, const char *dir, struct gm_xl_virtio *out);

/* ---- backend -------------------------------------------------------------- */

typedef struct gm_vdev_backend gm_vdev_backend;
typedef struct gm_vdev gm_vdev;

/*
 * A backend's device callbacks.  They run on the thread that calls
 * gm_vdev_backend_process(), one at a time.
 *
 * connect:    the frontend published valid queues; the transport created a
 *             grant region for its domain (gm_vdev_mem) and bound one event
 *             channel per queue (gm_vdev_queue_evtchn/port).  Create the
 *             virtqueues and start serving.  Return 0, or a negative errno to
 *             leave the device unconnected (InitWait).
 * disconnect: the frontend closed, died or the device is removed: stop
 *             serving, free every virtqueue and release every mapping of the
 *             frontend's memory before returning.  The transport then
 *             unbinds the event channels and invalidates the domain's cached
 *             mappings.  Called only after a successful connect.
 */
struct gm_vdev_backend_ops {
	size_t size; /* versioned (common.h): sizeof or 0; the backend keeps a copy */
	int (*connect)(void *opaque, gm_vdev *dev);
	void (*disconnect)(void *opaque, gm_vdev *dev);
};

/* Versioned (common.h): size first, sizeof or 0. */
struct gm_vdev_backend_config {
	size_t size;
	const char *type;           /* NULL: GM_VDEV_TYPE_DEFAULT */
	uint32_t device_id;         /* virtio device id published as device-id */
	uint64_t features;          /* device features (VERSION_1 and
				     * ACCESS_PLATFORM are always offered) */
	const void *config;         /* virtio config space, copied */
	size_t config_len;          /* <= GM_VDEV_CONFIG_MAX */
	unsigned max_queues;        /* 1..GM_VDEV_MAX_QUEUES (0: 1) */
	unsigned max_queue_size;    /* 0: 256 */
	unsigned layouts;           /* 0: split only; else bits of gm_vdev_layout */
	int frontend;               /* serve only this frontend domain; -1: all */
	unsigned offer_persistent;  /* publish feature-persistent = 1 */
	const struct gm_grant_cache_config *cache; /* NULL: defaults */
};

/*
 * gm_vdev_backend_new - open a backend on world @x: a xenstore connection,
 * a grant-table handle and a mapping cache shared by every device, and
 * watches on /local/domain/<self>/backend/<type> and @releaseDomain.
 * Devices appear when the toolstack creates their backend directory.  A
 * device found with a backend state an earlier backend of this domain left
 * past InitWait (it died while serving) is set Closed, so that its
 * frontend starts a fresh handshake (docs/vdev-protocol.md).
 * @ops, @opaque: the device callbacks; @ops is copied (versioned, common.h).
 * Returns 0, -EINVAL (bad config or ops), -E2BIG (@cfg or @ops sets fields newer than
 * this library), -ENOMEM or a Xen error (logged at
 * warning).  A xenstore that refuses the @releaseDomain watch is not an
 * error (info line): the frontends' state watches see dead domains too.
 * Free with gm_vdev_backend_free().  Thread-safe (creating backends).
 */
GM_API int gm_vdev_backend_new(gm_xen *x, const struct gm_vdev_backend_config *cfg,
			       const struct gm_vdev_backend_ops *ops, void *opaque,
			       gm_vdev_backend **out);

/*
 * gm_vdev_backend_free - disconnect every device (calling ->disconnect),
 * release every mapping, set each connected device's backend state to
 * Closed (so its frontend stops waiting), remove the watches and free.
 * Accepts NULL.  Not concurrently with other calls on @b.  Logs only
 * through gm_xs (a xenstore that is gone).
 */
GM_API void gm_vdev_backend_free(gm_vdev_backend *b);

/*
 * gm_vdev_backend_fd - a descriptor that becomes readable (POLLIN) when
 * gm_vdev_backend_process() has work.  Owned by @b.  Returns it or -EINVAL.
 */
GM_API int gm_vdev_backend_fd(gm_vdev_backend *b);

/*
 * gm_vdev_backend_process - handle fired watches: find new and removed
 * devices, follow each device's state machine (publish, connect,
 * disconnect, reset for a reconnect).  Never blocks on the frontend.
 * Returns the number of devices connected now (>= 0) or a negative errno
 * when a xenstore call failed (the backend stays usable; try again), or
 * -ENOTCONN when the connection to xenstore itself broke (xenstored or the
 * emulated hub went away: logged once at warning, and every later call
 * returns -ENOTCONN at once without logging; all that is left to do is
 * gm_vdev_backend_free(), which then leaves xenstore alone).
 * Frontend mistakes are not errors: they are logged at info and leave the
 * device unconnected until the frontend changes its nodes.  Failures on the
 * backend's side (a xenstore write, an event channel, memory, releasing the
 * frontend's mappings) are logged at warning and tried again by the next
 * call, which must come without a watch firing: call it periodically (every
 * few hundred ms) or use gm_vdev_backend_run().  A frontend is told Closed
 * only once its pages are unmapped.  Not thread-safe with itself.
 */
GM_API int gm_vdev_backend_process(gm_vdev_backend *b);

/*
 * gm_vdev_backend_run - loop: poll gm_vdev_backend_fd() and @stop_fd, call
 * gm_vdev_backend_process() (also every @tick_ms when > 0, for stats, and
 * while a failed step waits to be tried again: after 100 ms, backing off to
 * 3.2 s while xenstore calls keep failing).  Returns 0 when @stop_fd
 * becomes readable, -ENOTCONN when the connection to xenstore broke (see
 * gm_vdev_backend_process; its descriptor hanging up counts too), another
 * negative errno if poll() fails.  Failed xenstore calls are not returned:
 * they are tried again.
 */
GM_API int gm_vdev_backend_run(gm_vdev_backend *b, int stop_fd, int tick_ms);

/* gm_vdev_backend_cache - the mapping cache shared by every device of @b. */
GM_API gm_grant_cache *gm_vdev_backend_cache(gm_vdev_backend *b);

/* gm_vdev_backend_connected - how many devices are Connected now. */
GM_API unsigned gm_vdev_backend_connected(gm_vdev_backend *b);

/*
 * Device accessors.  Valid between ->connect and the end of ->disconnect
 * (the queue ones) or for the device's life (the others).  Thread-safe:
 * queue threads may call them.
 */
GM_API gm_domid gm_vdev_frontend_id(const gm_vdev *d);
GM_API unsigned gm_vdev_devid(const gm_vdev *d);
/* gm_vdev_backend_dir - "/local/domain/<B>/backend/<type>/<F>/<devid>". */
GM_API const char *gm_vdev_backend_dir(const gm_vdev *d);
/* gm_vdev_frontend_info - what the frontend published (checked). */
GM_API const struct gm_vdev_front_info *gm_vdev_frontend_info(const gm_vdev *d);
/* gm_vdev_mem - the frontend's grant addresses (a space with its region). */
GM_API gm_mem *gm_vdev_mem(const gm_vdev *d);
/* gm_vdev_policy - the data-mapping policy negotiated for this frontend. */
GM_API enum gm_grant_policy gm_vdev_policy(const gm_vdev *d);
/* gm_vdev_queue_evtchn - the event-channel handle of queue @i (its own). */
GM_API gm_evtchn *gm_vdev_queue_evtchn(const gm_vdev *d, unsigned i);
/* gm_vdev_queue_port - our local port of queue @i. */
GM_API gm_port gm_vdev_queue_port(const gm_vdev *d, unsigned i);
/* gm_vdev_notify - kick the frontend on queue @i.  0 or -errno. */
GM_API int gm_vdev_notify(const gm_vdev *d, unsigned i);
/* gm_vdev_set_priv / gm_vdev_priv - one pointer for the device model. */
GM_API void gm_vdev_set_priv(gm_vdev *d, void *priv);
GM_API void *gm_vdev_priv(const gm_vdev *d);

/*
 * gm_vdev_set_config - the device's config space changed: write @len bytes
 * of @config as the backend directory's `config` node and @generation as
 * `config-generation`, in one transaction (retried on conflicts), so that
 * a frontend that watches config-generation reads the new config space
 * (docs/vdev-protocol.md).  The backend loop (dev.h, gm_dev_set_config)
 * calls it for its frontends.  @generation: anything that differs from
 * the generation before (the backend loop's counts up from 1).
 * Returns 0, -EINVAL (NULL @d, @config NULL with a length, @len above
 * GM_VDEV_CONFIG_MAX) or a xenstore error.  Thread-safe; logs only
 * through gm_xs.  Between ->connect and the end of ->disconnect.
 */
GM_API int gm_vdev_set_config(gm_vdev *d, const void *config, size_t len, uint32_t generation);

/*
 * gm_vdev_write_node - write @value to the backend directory's @key (a
 * relative path such as "stats/requests").  Returns 0, -EINVAL or a
 * xenstore error.  Thread-safe (queue threads may publish stats).
 */
GM_API int gm_vdev_write_node(gm_vdev *d, const char *key, const char *value);

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_VDEV_H */
