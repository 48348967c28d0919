/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vdev transport on the emulated Xen, in one process: dom0 plays the
 * toolstack, domain 1 runs a backend (gm_vdev_backend with virtqueues on
 * the rings), domain 5 is a frontend that publishes good and hostile
 * values.  Also: strict number parsing, xl's virtio nodes, Xen failures
 * while starting or binding, gm_vdev_backend_run on its own thread, and
 * the backend loop's config space changing under a connected frontend
 * (gm_dev_set_config: config and config-generation rewritten, the
 * frontend's watch fired, a failed write tried again).
 */
#include "config.h"

#include "test-emu-common.h"

#include <grantmem/dev.h>
#include <grantmem/vdev.h>
#include <grantmem/virtio.h>

#include <pthread.h>

#define BE 1
#define FE 5
#define QSIZE 8

static struct emu_test T;
static gm_xen *X0, *XB, *XF;
static gm_xs *TS; /* dom0: toolstack and observer */
static gm_vdev_backend *B;

static const char *BE_DIR = "/local/domain/1/backend/gm-virtio/5/0";
static const char *FE_DIR = "/local/domain/5/device/gm-virtio/0";

/* ---- captured log lines ---- */
static char logbuf[16384];
static size_t loglen;
static unsigned warnings; /* lines at warning or worse: failures on our side */

static void sink(void *opaque, gm_log_level level, const char *msg)
{
	size_t n = strlen(msg);

	(void)opaque;
	if (level <= GM_LOG_WARNING)
		warnings++;
	if (loglen + n + 2 < sizeof(logbuf)) {
		memcpy(logbuf + loglen, msg, n);
		loglen += n;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
}

static void log_reset(void)
{
	loglen = 0;
	logbuf[0] = '\0';
	warnings = 0;
}

/* ---- the device: a virtqueue per queue, to prove the rings map ---- */
static struct {
	int connects, disconnects;
	gm_vq *vq[GM_VDEV_MAX_QUEUES];
	unsigned nq;
	int fail_connect; /* the device refuses (negative errno) */
	gm_mem *mem;      /* the connected frontend's memory, and its queue 0 */
	uint64_t desc;
} D;

static int dev_connect(void *opaque, gm_vdev *d)
{
	const struct gm_vdev_front_info *fi = gm_vdev_frontend_info(d);

	(void)opaque;
	if (D.fail_connect)
		return D.fail_connect;
	ASSERT_EQ(gm_vdev_frontend_id(d), FE);
	ASSERT_EQ(gm_vdev_devid(d), 0);
	ASSERT_TRUE(!strcmp(gm_vdev_backend_dir(d), BE_DIR));
	for (unsigned i = 0; i < fi->num_queues; i++) {
		struct gm_vq_config c = {
			.size = fi->queues[i].size,
			.desc_addr = fi->queues[i].desc,
			.driver_addr = fi->queues[i].driver,
			.device_addr = fi->queues[i].device,
			.features = fi->features,
			.index = i,
		};

		ASSERT_NOT_NULL(gm_vdev_queue_evtchn(d, i));
		ASSERT_OK(gm_vq_new(gm_vdev_mem(d), &c, &D.vq[i]));
	}
	D.nq = fi->num_queues;
	D.mem = gm_vdev_mem(d);
	D.desc = fi->queues[0].desc;
	ASSERT_OK(gm_vdev_write_node(d, "stats/requests", "0"));
	D.connects++;
	return 0;
}

static void dev_disconnect(void *opaque, gm_vdev *d)
{
	(void)opaque;
	(void)d;
	for (unsigned i = 0; i < D.nq; i++) {
		gm_vq_free(D.vq[i]);
		D.vq[i] = NULL;
	}
	D.nq = 0;
	D.mem = NULL;
	D.disconnects++;
}

static const struct gm_vdev_backend_ops OPS = {.connect = dev_connect,
					       .disconnect = dev_disconnect};

/* ---- xenstore helpers ---- */
static void put(gm_xs *xs, const char *dir, const char *key, const char *v)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	ASSERT_OK(gm_xs_write_str(xs, 0, path, v));
}

static enum gm_vdev_state state_of(const char *dir)
{
	enum gm_vdev_state s;

	ASSERT_OK(gm_vdev_read_state(TS, dir, &s));
	return s;
}

/* Run the backend until its state is @want (and @connected devices). */
static void pump(enum gm_vdev_state want, unsigned connected)
{
	for (int i = 0; i < 500; i++) {
		emu_wait_fd(gm_vdev_backend_fd(B), 10);
		int r = gm_vdev_backend_process(B);

		ASSERT_TRUE(r >= 0 || r == -EAGAIN);
		if (state_of(BE_DIR) == want && gm_vdev_backend_connected(B) == connected)
			return;
	}
	GM_TEST_FAIL("backend state %s (%u connected), want %s (%u)",
		     gm_vdev_state_name(state_of(BE_DIR)), gm_vdev_backend_connected(B),
		     gm_vdev_state_name(want), connected);
}

/* Pump for a while and require that nothing changes. */
static void pump_steady(enum gm_vdev_state want, unsigned connected)
{
	for (int i = 0; i < 10; i++) {
		emu_wait_fd(gm_vdev_backend_fd(B), 5);
		gm_vdev_backend_process(B);
	}
	ASSERT_EQ(state_of(BE_DIR), want);
	ASSERT_EQ(gm_vdev_backend_connected(B), connected);
}

/* ---- the frontend (domain 5) ---- */
static struct {
	gm_xs *xs;
	gm_gntshr *shr;
	gm_evtchn *ev;
	unsigned char *pages;
	gm_gref refs[3];
	int port;
} F;

static void fe_open(void)
{
	int err;

	XF = emu_world(&T, FE);
	ASSERT_OK(gm_xs_open(XF, &F.xs));
	ASSERT_OK(gm_gntshr_open(XF, &F.shr));
	ASSERT_OK(gm_evtchn_open(XF, &F.ev));
	/* desc, avail and used rings: one page each */
	F.pages = gm_gntshr_share(F.shr, BE, 3, F.refs, 1, &err);
	ASSERT_NOT_NULL(F.pages);
	F.port = gm_evtchn_bind_unbound(F.ev, BE);
	ASSERT_TRUE(F.port > 0);
}

/* @polite: end access first (the backend must have let go); else just die. */
static void fe_close(bool polite)
{
	if (polite) {
		for (int i = 0; i < 3; i++)
			ASSERT_OK(gm_gntshr_end_access(F.shr, F.refs[i]));
		ASSERT_OK(gm_gntshr_unshare(F.shr, F.pages, 3));
	}
	gm_evtchn_close(F.ev);
	gm_gntshr_close(F.shr);
	gm_xs_close(F.xs);
	gm_xen_close(XF);
	XF = NULL;
}

/*
 * The frontend starts again without dying: ends access to its rings (this
 * must succeed: nobody may map them any more), grants fresh pages (the
 * emulated grant table hands out the lowest free refs, so the same refs
 * come back for new pages) and allocates a fresh port.  @mark is written
 * at the start of the new descriptor page.
 */
static void fe_regrant(uint64_t mark)
{
	gm_gref old[3];
	int err;

	memcpy(old, F.refs, sizeof(old));
	for (int i = 0; i < 3; i++)
		ASSERT_OK(gm_gntshr_end_access(F.shr, F.refs[i]));
	ASSERT_OK(gm_gntshr_unshare(F.shr, F.pages, 3));
	ASSERT_OK(gm_evtchn_unbind(F.ev, (gm_port)F.port));
	F.pages = gm_gntshr_share(F.shr, BE, 3, F.refs, 1, &err);
	ASSERT_NOT_NULL(F.pages);
	ASSERT_TRUE(!memcmp(old, F.refs, sizeof(old)));
	memcpy(F.pages, &mark, sizeof(mark));
	F.port = gm_evtchn_bind_unbound(F.ev, BE);
	ASSERT_TRUE(F.port > 0);
}

static void fe_valid_info(struct gm_vdev_front_info *fi)
{
	memset(fi, 0, sizeof(*fi));
	fi->features = GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1);
	fi->num_queues = 1;
	fi->queues[0] = (struct gm_vdev_queue_info){
		.size = QSIZE, .layout = GM_VDEV_SPLIT,
		.desc = GM_GRANT_ADDR(F.refs[0], 0), .driver = GM_GRANT_ADDR(F.refs[1], 0),
		.device = GM_GRANT_ADDR(F.refs[2], 0), .port = (gm_port)F.port,
	};
}

static void fe_publish_valid(void)
{
	struct gm_vdev_front_info fi = {.size = sizeof(fi)};

	fe_valid_info(&fi);
	ASSERT_OK(gm_vdev_publish_frontend(F.xs, FE_DIR, &fi));
}

static void fe_state(enum gm_vdev_state s)
{
	ASSERT_OK(gm_vdev_write_state(F.xs, FE_DIR, s));
}

/*
 * Every node published, the state put back to Initialising before the
 * backend (which runs only in pump) can see Initialised.
 */
static void fe_publish_unfinished(void)
{
	fe_publish_valid();
	fe_state(GM_VDEV_STATE_INITIALISING);
}

static unsigned fe_mapped(void)
{
	return emu_wait_mapped(X0, FE, 0);
}

/* Wait (at most 5 s) until the hub has freed the frontend's dead domain. */
static void fe_wait_gone(void)
{
	struct gm_emu_domain_info di = {.size = sizeof(di)};

	for (int i = 0; i < 500; i++) {
		ASSERT_OK(gm_emu_domain_info(X0, FE, &di));
		if (!di.exists)
			return;
		emu_sleep_ms(10);
	}
	GM_TEST_FAIL("domain %u was not freed: %u grant(s) in use, %u mapped", FE, di.grants,
		     di.mapped);
}

/* ---- tests ---- */

static void test_parse(void)
{
	static const struct {
		const char *s;
		uint64_t max;
		int ok;
		uint64_t v;
	} cases[] = {
		{"0", 10, 1, 0},
		{"10", 10, 1, 10},
		{"11", 10, 0, 0},
		{"0x1f", 100, 1, 31},
		{"0XfF", 1000, 1, 255},
		{"18446744073709551615", UINT64_MAX, 1, UINT64_MAX},
		{"18446744073709551616", UINT64_MAX, 0, 0},
		{"0xffffffffffffffff", UINT64_MAX, 1, UINT64_MAX},
		{"0x10000000000000000", UINT64_MAX, 0, 0},
		{"", 10, 0, 0},
		{"0x", 10, 0, 0},
		{"-1", UINT64_MAX, 0, 0},
		{"+1", 10, 0, 0},
		{" 1", 10, 0, 0},
		{"1 ", 10, 0, 0},
		{"1a", 100, 0, 0},
		{"abc", UINT64_MAX, 0, 0},
		{"0x1g", 100, 0, 0},
		{"00000000000000000000000000000000000000000000000000000000000000001", 10, 0, 0},
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 12345;
		int r = gm_vdev_parse_u64(cases[i].s, cases[i].max, &v);

		if (cases[i].ok) {
			ASSERT_OK(r);
			ASSERT_EQ_U64(v, cases[i].v);
		} else {
			if (r != -EINVAL)
				GM_TEST_FAIL("\"%s\" parsed (%d)", cases[i].s, r);
			ASSERT_EQ(v, 12345);
		}
	}
	ASSERT_ERR(gm_vdev_parse_u64(NULL, 1, &v), -EINVAL);
	ASSERT_TRUE(!strcmp(gm_vdev_state_name(GM_VDEV_STATE_INITWAIT), "InitWait"));
	ASSERT_TRUE(!strcmp(gm_vdev_state_name((enum gm_vdev_state)99), "Unknown"));
}

static void test_toolstack(void)
{
	char *v;

	ASSERT_ERR(gm_vdev_toolstack_add(TS, "Bad/Type", BE, FE, 0), -EINVAL);
	ASSERT_ERR(gm_vdev_toolstack_add(TS, NULL, FE, FE, 0), -EINVAL);
	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	ASSERT_EQ(state_of(BE_DIR), GM_VDEV_STATE_INITIALISING);
	ASSERT_EQ(state_of(FE_DIR), GM_VDEV_STATE_INITIALISING);
	ASSERT_OK(gm_xs_read(TS, 0, "/local/domain/1/backend/gm-virtio/5/0/frontend", &v, NULL));
	ASSERT_TRUE(!strcmp(v, FE_DIR));
	free(v);
	ASSERT_OK(gm_xs_read(TS, 0, "/local/domain/5/device/gm-virtio/0/backend-id", &v, NULL));
	ASSERT_TRUE(!strcmp(v, "1"));
	free(v);
}

/* Handshake, close, reopen, domain death. */
static void test_state_machine(void)
{
	struct gm_vdev_back_info bi = {.size = sizeof(bi)};

	pump(GM_VDEV_STATE_INITWAIT, 0);
	fe_open();
	/* the frontend sees what the backend published */
	ASSERT_OK(gm_vdev_read_backend(F.xs, BE_DIR, &bi));
	ASSERT_EQ(bi.device_id, 42);
	ASSERT_EQ(bi.max_queues, 2);
	ASSERT_EQ(bi.max_queue_size, 64);
	ASSERT_EQ(bi.layouts, 1u << GM_VDEV_SPLIT);
	ASSERT_EQ(bi.config_len, 4);
	ASSERT_EQ(bi.config[0], 0xde);
	ASSERT_EQ(bi.config[3], 0xef);
	ASSERT_TRUE(bi.features & GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1));
	ASSERT_TRUE(bi.features & GM_VIRTIO_BIT(GM_VIRTIO_F_ACCESS_PLATFORM));

	fe_publish_valid();
	pump(GM_VDEV_STATE_CONNECTED, 1);
	ASSERT_EQ(D.connects, 1);
	ASSERT_EQ(emu_wait_mapped(X0, FE, 3), 3); /* the three ring pages */

	/* a polite close: everything unmapped, then Closed */
	fe_state(GM_VDEV_STATE_CLOSING);
	pump(GM_VDEV_STATE_CLOSED, 0);
	ASSERT_EQ(D.disconnects, 1);
	ASSERT_EQ(fe_mapped(), 0);
	/* the frontend comes back */
	fe_state(GM_VDEV_STATE_INITIALISING);
	pump(GM_VDEV_STATE_INITWAIT, 0);
	fe_publish_valid();
	pump(GM_VDEV_STATE_CONNECTED, 1);
	ASSERT_EQ(D.connects, 2);

	/* a frontend that restarts without closing gets a fresh handshake */
	fe_state(GM_VDEV_STATE_INITIALISING);
	pump(GM_VDEV_STATE_INITWAIT, 0);
	ASSERT_EQ(D.disconnects, 2);
	ASSERT_EQ(fe_mapped(), 0);

	/* the device refuses: stays InitWait, logged */
	D.fail_connect = -ENODEV;
	log_reset();
	fe_publish_valid();
	pump_steady(GM_VDEV_STATE_INITWAIT, 0);
	ASSERT_NOT_NULL(strstr(logbuf, "refused"));
	D.fail_connect = 0;
	fe_state(GM_VDEV_STATE_INITIALISED); /* a state write: try again */
	pump(GM_VDEV_STATE_CONNECTED, 1);

	/* the event channel cannot be bound: stays InitWait, nothing mapped */
	fe_state(GM_VDEV_STATE_INITIALISING);
	pump(GM_VDEV_STATE_INITWAIT, 0);
	ASSERT_OK(gm_fault_inject("evtchn_bind_interdomain", 1, -EINVAL));
	log_reset();
	fe_publish_valid();
	pump_steady(GM_VDEV_STATE_INITWAIT, 0);
	gm_fault_reset();
	ASSERT_NOT_NULL(strstr(logbuf, "cannot bind"));
	ASSERT_EQ(fe_mapped(), 0);
	fe_state(GM_VDEV_STATE_INITIALISED);
	pump(GM_VDEV_STATE_CONNECTED, 1);

	/*
	 * Xen keeps refusing to unmap the rings when the frontend closes: the
	 * backend holds Closing (Closed would tell the frontend its pages are
	 * free) and tries again until it can.
	 */
	ASSERT_OK(gm_fault_inject_times("gnttab_unmap", 1, 1000000, -EIO));
	log_reset();
	fe_state(GM_VDEV_STATE_CLOSING);
	pump(GM_VDEV_STATE_CLOSING, 0);
	pump_steady(GM_VDEV_STATE_CLOSING, 0);
	ASSERT_EQ(emu_wait_mapped(X0, FE, 3), 3);
	ASSERT_TRUE(warnings > 0);
	ASSERT_NOT_NULL(strstr(logbuf, "will retry"));
	gm_fault_reset();
	pump(GM_VDEV_STATE_CLOSED, 0);
	ASSERT_EQ(fe_mapped(), 0);
	ASSERT_EQ(D.disconnects, 4);
	fe_state(GM_VDEV_STATE_INITIALISING);
	pump(GM_VDEV_STATE_INITWAIT, 0);
	fe_publish_valid();
	pump(GM_VDEV_STATE_CONNECTED, 1);

	/* the frontend's domain dies while connected */
	fe_close(false);
	pump(GM_VDEV_STATE_CLOSED, 0);
	ASSERT_EQ(D.disconnects, 5);
	ASSERT_EQ(fe_mapped(), 0);
	fe_wait_gone();
}

/*
 * Hostile values: each is written over a valid configuration, the state set
 * to Initialised; the backend must stay unconnected, log the node, and then
 * connect once the node is repaired.
 */
static void test_hostile(void)
{
	char big[200], desc_bad_align[32], huge[40];
	static const char nul_value[] = {'1', '\0', '2'};
	struct {
		const char *key, *value, *logged;
	} cases[] = {
		{"features", "lots", "features"},
		{"features", "0x", "features"},
		{"features", "0x100000001", "not offered"},   /* bit 0 not offered */
		{"features", "0x0", "VERSION_1"},
		{"num-queues", "0", "num-queues"},
		{"num-queues", "3", "num-queues"},            /* device offers 2 */
		{"num-queues", "-1", "num-queues"},
		{"num-queues", " 1", "num-queues"},
		{"feature-persistent", "2", "feature-persistent"},
		{"queue-0/size", "3", "power of 2"},
		{"queue-0/size", "0", "size"},
		{"queue-0/size", "128", "size"},              /* above max-queue-size */
		{"queue-0/size", "99999999999999999999999", "size"},
		{"queue-0/size", big, "size"},
		{"queue-0/layout", "spiral", "layout"},
		{"queue-0/layout", "packed", "layout"},       /* not negotiated */
		{"queue-0/desc", "0x1000", "not a grant address"},
		{"queue-0/desc", desc_bad_align, "misaligned"},
		{"queue-0/desc", huge, "beyond the grant region"},
		{"queue-0/driver", "banana", "driver"},
		{"queue-0/event-channel", "0", "event-channel"},
		{"queue-0/event-channel", "99999999", "event-channel"},
	};
	char path[256];

	memset(big, '7', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(desc_bad_align, sizeof(desc_bad_align), "0x%" PRIx64, (uint64_t)GM_GRANT_ADDR(2, 8));
	snprintf(huge, sizeof(huge), "0x%" PRIx64,
		 (uint64_t)(GM_GRANT_BASE | (GM_GRANT_REGION_SIZE - 16)));

	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	pump(GM_VDEV_STATE_INITWAIT, 0);
	fe_open();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int c0 = D.connects;

		fe_publish_valid();
		pump(GM_VDEV_STATE_CONNECTED, 1);
		fe_state(GM_VDEV_STATE_CLOSING);
		pump(GM_VDEV_STATE_CLOSED, 0);
		ASSERT_EQ(fe_mapped(), 0);
		fe_state(GM_VDEV_STATE_INITIALISING);
		pump(GM_VDEV_STATE_INITWAIT, 0);

		/* now the hostile value */
		log_reset();
		fe_publish_valid();
		put(F.xs, FE_DIR, cases[i].key, cases[i].value);
		fe_state(GM_VDEV_STATE_INITIALISED);
		pump_steady(GM_VDEV_STATE_INITWAIT, 0);
		if (!strstr(logbuf, cases[i].logged))
			GM_TEST_FAIL("%s = \"%.20s\": log lacks \"%s\":\n%s", cases[i].key,
				     cases[i].value, cases[i].logged, logbuf);
		ASSERT_EQ(D.connects, c0 + 1);
		ASSERT_EQ(fe_mapped(), 0);
	}
	/* an embedded NUL, a missing node */
	fe_publish_valid();
	snprintf(path, sizeof(path), "%s/num-queues", FE_DIR);
	ASSERT_OK(gm_xs_write(F.xs, 0, path, nul_value, sizeof(nul_value)));
	log_reset();
	fe_state(GM_VDEV_STATE_INITIALISED);
	pump_steady(GM_VDEV_STATE_INITWAIT, 0);
	ASSERT_NOT_NULL(strstr(logbuf, "num-queues"));
	fe_publish_valid();
	snprintf(path, sizeof(path), "%s/queue-0/event-channel", FE_DIR);
	ASSERT_OK(gm_xs_rm(F.xs, 0, path));
	log_reset();
	fe_state(GM_VDEV_STATE_INITIALISED);
	pump_steady(GM_VDEV_STATE_INITWAIT, 0);
	ASSERT_NOT_NULL(strstr(logbuf, "missing"));
	/* a bad state value counts as a frontend that went away */
	put(F.xs, FE_DIR, "state", "connected");
	pump(GM_VDEV_STATE_CLOSED, 0);
	/* repaired: connects */
	fe_state(GM_VDEV_STATE_INITIALISING);
	pump(GM_VDEV_STATE_INITWAIT, 0);
	fe_publish_valid();
	pump(GM_VDEV_STATE_CONNECTED, 1);
	/* the table, an embedded NUL, a missing node, a bad state */
	printf("hostile xenstore: cases=%zu failed=0\n", sizeof(cases) / sizeof(cases[0]) + 3);

	/* the toolstack removes the device: the backend lets go */
	ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE, FE, 0));
	for (int i = 0; i < 500 && gm_vdev_backend_connected(B); i++) {
		emu_wait_fd(gm_vdev_backend_fd(B), 10);
		gm_vdev_backend_process(B);
	}
	ASSERT_EQ(gm_vdev_backend_connected(B), 0);
	ASSERT_EQ(fe_mapped(), 0);
	fe_close(true);
}

/*
 * The backend waits for a frontend that never finishes the handshake
 * without connecting, mapping, retrying or waking up: nothing changes, so
 * its descriptor stays quiet.
 */
static void expect_waiting(const char *what, int connects)
{
	struct pollfd p = {.fd = gm_vdev_backend_fd(B), .events = POLLIN};

	pump_steady(GM_VDEV_STATE_INITWAIT, 0);
	if (D.connects != connects)
		GM_TEST_FAIL("%s: the backend connected", what);
	if (fe_mapped() != 0)
		GM_TEST_FAIL("%s: the backend maps the frontend's pages", what);
	if (warnings)
		GM_TEST_FAIL("%s: the backend logged failures of its own:\n%s", what, logbuf);
	if (poll(&p, 1, 300) != 0)
		GM_TEST_FAIL("%s: the backend keeps waking up (revents %#x)", what,
			     (unsigned)p.revents);
	ASSERT_EQ(gm_vdev_backend_process(B), 0);
	ASSERT_EQ(state_of(BE_DIR), GM_VDEV_STATE_INITWAIT);
}

/*
 * Frontends that never complete the xenbus handshake: silent, rings
 * published but never Initialised, sitting in a state only a backend
 * writes, dying half way.  The backend waits in InitWait with nothing
 * mapped (each stuck frontend then connects once it goes on), and lets go
 * of a dead one: Closed, and its domain can be freed.
 */
static void test_stuck_handshake(void)
{
	unsigned cases = 0;
	int c0;

	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	pump(GM_VDEV_STATE_INITWAIT, 0);
	c0 = D.connects;

	/* silent: the frontend's domain runs but never writes a node */
	fe_open();
	log_reset();
	expect_waiting("a silent frontend", c0);
	cases++;

	/* everything published and granted, the state left at Initialising */
	log_reset();
	fe_publish_unfinished();
	expect_waiting("a frontend that never says Initialised", c0);
	cases++;

	/* a state only a backend writes */
	log_reset();
	fe_state(GM_VDEV_STATE_INITWAIT);
	expect_waiting("a frontend in InitWait", c0);
	cases++;

	/* each of them goes on in the end: not held against it */
	fe_state(GM_VDEV_STATE_INITIALISED);
	pump(GM_VDEV_STATE_CONNECTED, 1);
	ASSERT_EQ(D.connects, c0 + 1);
	ASSERT_EQ(emu_wait_mapped(X0, FE, 3), 3);
	fe_state(GM_VDEV_STATE_CLOSING);
	pump(GM_VDEV_STATE_CLOSED, 0);
	ASSERT_EQ(fe_mapped(), 0);
	fe_state(GM_VDEV_STATE_INITIALISING);
	pump(GM_VDEV_STATE_INITWAIT, 0);

	/* the frontend dies half way: rings granted and published, not Initialised */
	log_reset();
	fe_publish_unfinished();
	expect_waiting("a frontend about to die", c0 + 1);
	fe_close(false);
	pump(GM_VDEV_STATE_CLOSED, 0);
	ASSERT_EQ(D.connects, c0 + 1);
	ASSERT_EQ(fe_mapped(), 0);
	fe_wait_gone();
	ASSERT_EQ(warnings, 0);
	cases++;
	printf("hostile handshake: cases=%u failed=0\n", cases);

	ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE, FE, 0));
	pump_steady(GM_VDEV_STATE_UNKNOWN, 0);
}

/* A toolstack entry whose frontend path points elsewhere is refused. */
static void test_bad_toolstack_entry(void)
{
	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	put(TS, BE_DIR, "frontend", "/local/domain/6/device/gm-virtio/0");
	log_reset();
	pump_steady(GM_VDEV_STATE_INITIALISING, 0);
	ASSERT_NOT_NULL(strstr(logbuf, "is not under"));
	put(TS, BE_DIR, "frontend", FE_DIR);
	put(TS, BE_DIR, "frontend-id", "6");
	log_reset();
	pump_steady(GM_VDEV_STATE_INITIALISING, 0);
	ASSERT_NOT_NULL(strstr(logbuf, "frontend-id"));
	put(TS, BE_DIR, "frontend-id", "5");
	pump(GM_VDEV_STATE_INITWAIT, 0);
	ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE, FE, 0));
	pump_steady(GM_VDEV_STATE_UNKNOWN, 0);
}

/* What xl writes for `virtio = ["type=virtio,device22,transport=mmio,..."]`. */
static void test_xl_nodes(void)
{
	const char *dir = "/local/domain/0/backend/virtio/7/0";
	struct gm_xl_virtio v = {.size = sizeof(v)};

	put(TS, dir, "frontend", "/local/domain/7/device/virtio/0");
	put(TS, dir, "frontend-id", "7");
	put(TS, dir, "online", "1");
	put(TS, dir, "state", "1");
	put(TS, dir, "irq", "33");
	put(TS, dir, "base", "0x2000000");
	put(TS, dir, "type", "virtio,device22");
	put(TS, dir, "transport", "mmio");
	put(TS, dir, "grant_usage", "1");
	ASSERT_OK(gm_vdev_parse_xl_virtio(TS, dir, &v));
	ASSERT_EQ(v.frontend_id, 7);
	ASSERT_TRUE(!strcmp(v.frontend, "/local/domain/7/device/virtio/0"));
	ASSERT_EQ(v.online, 1);
	ASSERT_EQ(v.state, GM_VDEV_STATE_INITIALISING);
	ASSERT_EQ(v.irq, 33);
	ASSERT_TRUE(v.has_irq && v.has_base);
	ASSERT_EQ_U64(v.base, 0x2000000);
	ASSERT_TRUE(!strcmp(v.type, "virtio,device22"));
	ASSERT_EQ(v.device_id, 0x22);
	ASSERT_TRUE(!strcmp(v.transport, "mmio"));
	ASSERT_EQ(v.grant_usage, 1);

	/* optional nodes may be missing */
	ASSERT_OK(gm_xs_rm(TS, 0, "/local/domain/0/backend/virtio/7/0/base"));
	ASSERT_OK(gm_xs_rm(TS, 0, "/local/domain/0/backend/virtio/7/0/irq"));
	ASSERT_OK(gm_vdev_parse_xl_virtio(TS, dir, &v));
	ASSERT_TRUE(!v.has_irq && !v.has_base);

	/* hostile or broken values */
	put(TS, dir, "irq", "33x");
	ASSERT_ERR(gm_vdev_parse_xl_virtio(TS, dir, &v), -EINVAL);
	put(TS, dir, "irq", "33");
	put(TS, dir, "grant_usage", "2");
	ASSERT_ERR(gm_vdev_parse_xl_virtio(TS, dir, &v), -EINVAL);
	put(TS, dir, "grant_usage", "0");
	put(TS, dir, "type", "virtio,devicezz");
	ASSERT_ERR(gm_vdev_parse_xl_virtio(TS, dir, &v), -EINVAL);
	put(TS, dir, "type", "virtio,device22");
	put(TS, dir, "frontend-id", "70000");
	ASSERT_ERR(gm_vdev_parse_xl_virtio(TS, dir, &v), -EINVAL);
	put(TS, dir, "frontend-id", "7");
	{
		char t[100];

		memset(t, 'm', sizeof(t) - 1);
		t[sizeof(t) - 1] = '\0';
		put(TS, dir, "transport", t);
		ASSERT_ERR(gm_vdev_parse_xl_virtio(TS, dir, &v), -EINVAL);
	}
	ASSERT_OK(gm_xs_rm(TS, 0, "/local/domain/0/backend/virtio/7/0/transport"));
	ASSERT_ERR(gm_vdev_parse_xl_virtio(TS, dir, &v), -ENOENT);
	ASSERT_OK(gm_xs_rm(TS, 0, "/local/domain/0/backend/virtio"));
}

/* gm_vdev_backend_run on a thread of its own, stopped through a pipe. */
struct runner {
	gm_vdev_backend *b;
	int stop;
	int r;
};

static void *run_main(void *arg)
{
	struct runner *rn = arg;

	rn->r = gm_vdev_backend_run(rn->b, rn->stop, 50);
	return NULL;
}

static void wait_state(const char *dir, enum gm_vdev_state want)
{
	for (int i = 0; i < 500 && state_of(dir) != want; i++)
		emu_sleep_ms(10);
	ASSERT_EQ(state_of(dir), want);
}

static void test_run_loop(const struct gm_vdev_backend_config *cfg)
{
	struct runner rn = {.r = 1};
	pthread_t th;
	int p[2];

	ASSERT_OK(gm_vdev_backend_new(XB, cfg, &OPS, NULL, &rn.b));
	ASSERT_OK(pipe(p));
	rn.stop = p[0];
	ASSERT_OK(pthread_create(&th, NULL, run_main, &rn));
	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	wait_state(BE_DIR, GM_VDEV_STATE_INITWAIT);
	fe_open();
	fe_publish_valid();
	wait_state(BE_DIR, GM_VDEV_STATE_CONNECTED);
	fe_state(GM_VDEV_STATE_CLOSING);
	wait_state(BE_DIR, GM_VDEV_STATE_CLOSED);
	ASSERT_EQ(fe_mapped(), 0);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	ASSERT_OK(pthread_join(th, NULL));
	ASSERT_EQ(rn.r, 0);
	gm_vdev_backend_free(rn.b);
	fe_close(true);
	close(p[0]);
	close(p[1]);
	ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE, FE, 0));
}

/* ---- the backend loop's config space (gm_dev_vdev) ---- */

struct dev_runner {
	gm_dev_vdev *v;
	int stop;
	int r;
};

static void *dev_run_main(void *arg)
{
	struct dev_runner *rn = arg;

	rn->r = gm_dev_vdev_run(rn->v, rn->stop);
	return NULL;
}

static int64_t h_nothing(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
{
	(void)opaque;
	(void)q;
	(void)req;
	return 0;
}

static const struct gm_dev_handler nothing_handler = {.request = h_nothing};

/* The backend directory's config space and generation, as a frontend reads them. */
static uint64_t be_config(struct gm_vdev_back_info *bi)
{
	uint64_t gen;

	*bi = (struct gm_vdev_back_info){.size = sizeof(*bi)};
	ASSERT_OK(gm_vdev_read_backend(F.xs, BE_DIR, bi));
	ASSERT_OK(gm_vdev_read_u64(F.xs, BE_DIR, "config-generation", UINT32_MAX, &gen));
	return gen;
}

/* Wait (at most 5 s) for the frontend's watch on config-generation, and drain it. */
static void fe_wait_config_watch(void)
{
	char *path, *token;
	bool seen = false;

	for (int i = 0; i < 500 && !seen; i++) {
		emu_wait_fd(gm_xs_fd(F.xs), 10);
		while (gm_xs_read_watch(F.xs, &path, &token) == 0) {
			seen |= strstr(path, "/config-generation") && !strcmp(token, "cfg");
			free(path);
			free(token);
		}
	}
	ASSERT_TRUE(seen);
}

static void test_dev_config(void)
{
	static const unsigned char initial[4] = {0xde, 0xad, 0xbe, 0xef};
	const unsigned char a = 0x11, bc[2] = {0x22, 0x33};
	struct gm_dev_config dc = {.size = sizeof(dc), .name = "cfgdev", .device_id = 42,
				   .config = initial, .config_len = sizeof(initial),
				   .max_queues = 2, .max_queue_size = 64, .stats_ms = 20,
				   .handler = &nothing_handler};
	struct gm_vdev_backend_config bcfg = {.size = sizeof(bcfg), .frontend = -1};
	struct dev_runner rn = {.r = 1};
	struct gm_vdev_back_info bi;
	char path[256];
	pthread_t th;
	gm_dev *d;
	int p[2];

	ASSERT_OK(gm_dev_new(&dc, &d));
	ASSERT_OK(gm_dev_vdev_new(d, XB, &bcfg, &rn.v));
	ASSERT_OK(pipe(p));
	rn.stop = p[0];
	ASSERT_OK(pthread_create(&th, NULL, dev_run_main, &rn));
	/* a change before any frontend: published when one connects */
	ASSERT_OK(gm_dev_set_config(d, 1, &a, 1));
	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	wait_state(BE_DIR, GM_VDEV_STATE_INITWAIT);
	fe_open();
	snprintf(path, sizeof(path), "%s/config-generation", BE_DIR);
	ASSERT_OK(gm_xs_watch(F.xs, path, "cfg"));
	fe_publish_valid();
	wait_state(BE_DIR, GM_VDEV_STATE_CONNECTED);
	ASSERT_EQ(be_config(&bi), 1);
	ASSERT_EQ(bi.config_len, 4);
	ASSERT_EQ(bi.config[0], 0xde);
	ASSERT_EQ(bi.config[1], 0x11);
	ASSERT_EQ(bi.config[3], 0xef);
	fe_wait_config_watch();

	/* a change while connected: both nodes, before gm_dev_set_config returns */
	ASSERT_OK(gm_dev_set_config(d, 2, bc, 2));
	ASSERT_EQ(be_config(&bi), 2);
	ASSERT_EQ(bi.config[1], 0x11);
	ASSERT_EQ(bi.config[2], 0x22);
	ASSERT_EQ(bi.config[3], 0x33);
	fe_wait_config_watch();

	/* xenstore refuses the write: a warning, and the run loop writes it later */
	log_reset();
	ASSERT_OK(gm_fault_inject("xs_write", 1, -EIO));
	ASSERT_OK(gm_dev_set_config(d, 0, &a, 1));
	ASSERT_TRUE(warnings >= 1);
	ASSERT_TRUE(strstr(logbuf, "config space changed") != NULL);
	fe_wait_config_watch();
	ASSERT_EQ(be_config(&bi), 3);
	ASSERT_EQ(bi.config[0], 0x11);
	gm_fault_reset();

	/* the frontend gone: changes reach nobody */
	fe_state(GM_VDEV_STATE_CLOSING);
	wait_state(BE_DIR, GM_VDEV_STATE_CLOSED);
	ASSERT_OK(gm_dev_set_config(d, 0, initial, 1));
	ASSERT_EQ(be_config(&bi), 3);
	ASSERT_EQ(bi.config[0], 0x11);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	ASSERT_OK(pthread_join(th, NULL));
	ASSERT_EQ(rn.r, 0);
	gm_dev_vdev_free(rn.v);
	gm_dev_free(d);
	ASSERT_OK(gm_xs_unwatch(F.xs, path, "cfg"));
	fe_close(true);
	close(p[0]);
	close(p[1]);
	ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE, FE, 0));
}

/*
 * A backend that dies and one started after it in the same domain.  The
 * emulated Xen ties a domain to one process, so the death is played in
 * this one: the backend is freed while every xenstore write fails, so it
 * leaves its nodes as they were and says nothing, and its mappings and
 * ports go with its handles, as a killed process's do.  The new backend
 * finds the device in the state its predecessor left.  Left Connected
 * (rings mid-flight): it tells the frontend Closed instead of serving
 * rings whose indices it does not know; the frontend ends access to every
 * grant, starts again and is served, its reused grant refs showing the new
 * pages.  Left in InitWait with the frontend still Initialising: nothing
 * to distrust, published again.
 */
static void backend_until(const struct gm_vdev_backend_config *cfg, enum gm_vdev_state until)
{
	ASSERT_OK(gm_vdev_backend_new(XB, cfg, &OPS, NULL, &B));
	pump(until, until == GM_VDEV_STATE_CONNECTED);
}

static void backend_dies(void)
{
	ASSERT_OK(gm_fault_inject_times("xs_write", 1, 1000000, -EIO));
	gm_vdev_backend_free(B);
	gm_fault_reset();
	B = NULL;
}

static void test_backend_restart(const struct gm_vdev_backend_config *cfg)
{
	const uint64_t mark = 0x6e65772070616765ull;
	uint64_t seen = 0;
	int c0;

	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	fe_open();
	/* connected, rings mapped, then dead */
	fe_publish_valid();
	backend_until(cfg, GM_VDEV_STATE_CONNECTED);
	fe_state(GM_VDEV_STATE_CONNECTED);
	ASSERT_EQ(emu_wait_mapped(X0, FE, 3), 3);
	backend_dies();
	/* nothing stays mapped by the dead backend; its state stays */
	ASSERT_EQ(fe_mapped(), 0);
	ASSERT_EQ(state_of(BE_DIR), GM_VDEV_STATE_CONNECTED);

	ASSERT_OK(gm_vdev_backend_new(XB, cfg, &OPS, NULL, &B));
	c0 = D.connects;
	log_reset();
	pump(GM_VDEV_STATE_CLOSED, 0);
	pump_steady(GM_VDEV_STATE_CLOSED, 0);
	ASSERT_NOT_NULL(strstr(logbuf, "earlier backend"));
	ASSERT_EQ(D.connects, c0);
	ASSERT_EQ(fe_mapped(), 0);
	/* the frontend saw Closed: it closes, ends access, starts again */
	fe_state(GM_VDEV_STATE_CLOSING);
	pump_steady(GM_VDEV_STATE_CLOSED, 0);
	fe_regrant(mark);
	fe_state(GM_VDEV_STATE_CLOSED);
	pump_steady(GM_VDEV_STATE_CLOSED, 0);
	fe_state(GM_VDEV_STATE_INITIALISING);
	pump(GM_VDEV_STATE_INITWAIT, 0);
	fe_publish_valid();
	pump(GM_VDEV_STATE_CONNECTED, 1);
	ASSERT_EQ(D.connects, c0 + 1);
	ASSERT_EQ(emu_wait_mapped(X0, FE, 3), 3);
	/* the same refs, the new page behind them */
	ASSERT_NOT_NULL(D.mem);
	ASSERT_OK(gm_read(D.mem, D.desc, &seen, sizeof(seen)));
	ASSERT_EQ_U64(seen, mark);
	ASSERT_EQ(warnings, 0);

	/* a predecessor that only published: the frontend has not started */
	fe_state(GM_VDEV_STATE_CLOSING);
	pump(GM_VDEV_STATE_CLOSED, 0);
	gm_vdev_backend_free(B);
	fe_regrant(mark + 1);
	fe_state(GM_VDEV_STATE_INITIALISING);
	backend_until(cfg, GM_VDEV_STATE_INITWAIT);
	backend_dies();
	ASSERT_OK(gm_vdev_backend_new(XB, cfg, &OPS, NULL, &B));
	log_reset();
	pump_steady(GM_VDEV_STATE_INITWAIT, 0);
	ASSERT_NULL(strstr(logbuf, "earlier backend"));
	fe_publish_valid();
	pump(GM_VDEV_STATE_CONNECTED, 1);
	ASSERT_OK(gm_read(D.mem, D.desc, &seen, sizeof(seen)));
	ASSERT_EQ_U64(seen, mark + 1);

	/* a predecessor in InitWait whose frontend had published: not trusted */
	fe_state(GM_VDEV_STATE_CLOSING);
	pump(GM_VDEV_STATE_CLOSED, 0);
	gm_vdev_backend_free(B);
	fe_regrant(mark + 2);
	fe_state(GM_VDEV_STATE_INITIALISING);
	backend_until(cfg, GM_VDEV_STATE_INITWAIT);
	backend_dies();
	fe_publish_valid();
	ASSERT_OK(gm_vdev_backend_new(XB, cfg, &OPS, NULL, &B));
	log_reset();
	pump(GM_VDEV_STATE_CLOSED, 0);
	ASSERT_NOT_NULL(strstr(logbuf, "earlier backend"));
	ASSERT_EQ(fe_mapped(), 0);
	fe_state(GM_VDEV_STATE_CLOSED);
	fe_state(GM_VDEV_STATE_INITIALISING);
	pump(GM_VDEV_STATE_INITWAIT, 0);
	fe_publish_valid();
	pump(GM_VDEV_STATE_CONNECTED, 1);
	ASSERT_OK(gm_read(D.mem, D.desc, &seen, sizeof(seen)));
	ASSERT_EQ_U64(seen, mark + 2);

	fe_state(GM_VDEV_STATE_CLOSING);
	pump(GM_VDEV_STATE_CLOSED, 0);
	gm_vdev_backend_free(B);
	B = NULL;
	fe_close(true);
	fe_wait_gone();
	ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE, FE, 0));
}

/* Can @x read (and write back) @path?  0, or the error of the first refusal. */
static int xs_can(gm_xen *x, const char *path, bool write)
{
	gm_xs *xs;
	char *v = NULL;
	int r;

	ASSERT_OK(gm_xs_open(x, &xs));
	r = gm_xs_read(xs, 0, path, &v, NULL);
	if (r == 0 && write)
		r = gm_xs_write_str(xs, 0, path, v);
	free(v);
	gm_xs_close(xs);
	return r;
}

/*
 * What the toolstack's nodes let each domain do, with the backend in a
 * driver domain (1) rather than dom0: the backend reads the frontend's
 * directory and owns its own, the frontend the other way round, and a third
 * domain reaches neither.  Neither side may write the other's nodes.
 */
static void test_toolstack_permissions(void)
{
	char be_state[128], fe_state[128], fe_ring[128];
	gm_xen *x6 = emu_world(&T, 6);

	snprintf(be_state, sizeof(be_state), "%s/state", BE_DIR);
	snprintf(fe_state, sizeof(fe_state), "%s/state", FE_DIR);
	snprintf(fe_ring, sizeof(fe_ring), "%s/queue-0/desc", FE_DIR);
	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	fe_open();
	/* a node the frontend writes later inherits its directory's rights */
	ASSERT_OK(gm_xs_write_str(F.xs, 0, fe_ring, "0x8000000000008000"));
	ASSERT_OK(xs_can(XB, be_state, true));
	ASSERT_OK(xs_can(XB, fe_state, false));
	ASSERT_OK(xs_can(XB, fe_ring, false));
	ASSERT_ERR(xs_can(XB, fe_state, true), -EACCES);
	ASSERT_OK(xs_can(XF, fe_state, true));
	ASSERT_OK(xs_can(XF, fe_ring, true));
	ASSERT_OK(xs_can(XF, be_state, false));
	ASSERT_ERR(xs_can(XF, be_state, true), -EACCES);
	ASSERT_ERR(xs_can(x6, be_state, false), -EACCES);
	ASSERT_ERR(xs_can(x6, fe_state, false), -EACCES);
	ASSERT_ERR(xs_can(x6, fe_ring, false), -EACCES);
	gm_xen_close(x6);
	fe_close(true);
	fe_wait_gone();
	ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE, FE, 0));
}

/*
 * A frontend state the backend may no longer read is a frontend gone: a
 * real xenstored answers EACCES, not ENOENT, to a driver domain asking for
 * a node of a guest whose whole directory went with its domain (no
 * ancestor it may read).  The backend must let go of the guest's pages
 * then, or Xen keeps the dead domain for ever.  Played here by the
 * frontend taking the backend's right to read its state away.
 */
static void test_frontend_unreadable(const struct gm_vdev_backend_config *cfg)
{
	struct gm_xs_perm own = {FE, GM_XS_PERM_NONE};
	char path[128];
	int d0;

	snprintf(path, sizeof(path), "%s/state", FE_DIR);
	ASSERT_OK(gm_vdev_backend_new(XB, cfg, &OPS, NULL, &B));
	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	pump(GM_VDEV_STATE_INITWAIT, 0);
	fe_open();
	fe_publish_valid();
	pump(GM_VDEV_STATE_CONNECTED, 1);
	ASSERT_EQ(emu_wait_mapped(X0, FE, 3), 3);
	d0 = D.disconnects;
	ASSERT_OK(gm_xs_set_perms(F.xs, 0, path, &own, 1));
	pump(GM_VDEV_STATE_CLOSED, 0);
	ASSERT_EQ(D.disconnects, d0 + 1);
	ASSERT_EQ(fe_mapped(), 0);
	gm_vdev_backend_free(B);
	B = NULL;
	fe_close(true);
	fe_wait_gone();
	ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE, FE, 0));
}

int main(void)
{
	static const unsigned char config[4] = {0xde, 0xad, 0xbe, 0xef};
	struct gm_vdev_backend_config cfg = {
		.device_id = 42,
		.config = config,
		.config_len = sizeof(config),
		.max_queues = 2,
		.max_queue_size = 64,
		.frontend = -1,
	};

	gm_set_log(sink, NULL, GM_LOG_INFO);
	test_parse();
	emu_test_start(&T);
	X0 = emu_world(&T, 0);
	XB = emu_world(&T, BE);
	ASSERT_OK(gm_xs_open(X0, &TS));
	test_xl_nodes();
	ASSERT_ERR(gm_vdev_backend_new(XB, &cfg, NULL, NULL, &B), -EINVAL);
	cfg.max_queues = GM_VDEV_MAX_QUEUES + 1;
	ASSERT_ERR(gm_vdev_backend_new(XB, &cfg, &OPS, NULL, &B), -EINVAL);
	cfg.max_queues = 2;
	/* Xen failures while starting: an error, nothing leaks */
	{
		static const char *const sites[] = {"xs_open", "gnttab_open", "xs_watch"};

		for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
			ASSERT_OK(gm_fault_inject(sites[i], 1, -EIO));
			ASSERT_ERR(gm_vdev_backend_new(XB, &cfg, &OPS, NULL, &B), -EIO);
			ASSERT_NULL(B);
			gm_fault_reset();
		}
	}
	ASSERT_OK(gm_vdev_backend_new(XB, &cfg, &OPS, NULL, &B));
	test_toolstack();
	test_state_machine();
	test_hostile();
	test_stuck_handshake();
	test_bad_toolstack_entry();
	gm_vdev_backend_free(B);
	test_run_loop(&cfg);
	test_dev_config();
	test_backend_restart(&cfg);
	test_toolstack_permissions();
	test_frontend_unreadable(&cfg);
	gm_xs_close(TS);
	gm_xen_close(XB);
	gm_xen_close(X0);
	emu_test_stop(&T);
	printf("test-vdev: ok\n");
	return 0;
}
