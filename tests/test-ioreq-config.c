/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A device's config space changing under its driver (dev.h,
 * gm_dev_set_config): the generation and the bytes gm_dev_read_config
 * gives, the arguments refused; over the ioreq transport (the backend
 * loop's virtio-mmio register file on the fake Xen), what the driver reads
 * through MMIO: the new bytes, ConfigGeneration moved, InterruptStatus bit
 * 1 and the interrupt raised once DRIVER_OK is set (not before), a register
 * file made after a change starting from it, a driver that reads
 * generation, config, generation while another thread changes the space
 * never taking bytes of two changes, and nothing told after the loop is
 * freed; over a transport of the test's own, its config_notify callback.
 */
#include "config.h"

#include <grantmem/grantmem.h>
#include <grantmem/ioreq.h>

#include <pthread.h>
#include <stdatomic.h>

#include "fake-xen.h"
#include "helpers.h"

#define GUEST 5
#define CFG_LEN 12

static gm_ioreq_dev *dev;
static atomic_uint raised, raised_config;

static int irq_raise(void *opaque, gm_ioreq_dev *d, uint32_t bits)
{
	(void)opaque;
	(void)d;
	atomic_fetch_add(&raised, 1);
	if (bits & GM_VMMIO_INT_CONFIG)
		atomic_fetch_add(&raised_config, 1);
	return 0;
}

static const struct gm_ioreq_irq_ops irq_ops = {.raise = irq_raise};

static uint32_t rd(uint64_t off)
{
	uint64_t v = 0xdeadbeef;

	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, off, 4, &v));
	return (uint32_t)v;
}

static void wr(uint64_t off, uint32_t v)
{
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, off, 4, v));
}

static int64_t h_none(void *opaque, gm_dev_queue *q, struct gm_vq_req *req)
{
	(void)opaque;
	(void)q;
	(void)req;
	return 0;
}

static const struct gm_dev_handler handler = {.request = h_none};

/* ---- the device's own copy -------------------------------------------------------- */

static void test_dev_calls(gm_dev *d, const unsigned char *initial)
{
	unsigned char b[CFG_LEN + 4];
	uint32_t gen = 99;

	ASSERT_EQ(gm_dev_read_config(d, b, sizeof(b), &gen), CFG_LEN);
	ASSERT_EQ(gen, 0);
	ASSERT_MEM_EQ(b, initial, CFG_LEN);
	ASSERT_EQ(gm_dev_read_config(d, NULL, 0, NULL), 0);
	ASSERT_EQ(gm_dev_read_config(NULL, b, 1, NULL), -EINVAL);
	ASSERT_EQ(gm_dev_read_config(d, NULL, 1, NULL), -EINVAL);
	ASSERT_EQ(gm_dev_set_config(NULL, 0, b, 1), -EINVAL);
	ASSERT_EQ(gm_dev_set_config(d, 0, NULL, 1), -EINVAL);
	/* the space does not grow */
	ASSERT_EQ(gm_dev_set_config(d, CFG_LEN - 1, b, 2), -EINVAL);
	ASSERT_EQ(gm_dev_set_config(d, CFG_LEN + 1, b, 0), -EINVAL);
	ASSERT_EQ(gm_dev_set_config(d, UINT32_MAX, b, 2), -EINVAL);
	ASSERT_EQ(gm_dev_read_config(d, NULL, 0, &gen), 0);
	ASSERT_EQ(gen, 0); /* nothing refused counted */
	ASSERT_EQ(gm_dev_conn_set_config_notify(NULL, NULL, NULL), -EINVAL);
	/* the configuration handed to gm_dev_new stays as it was */
	ASSERT_PTR_EQ(gm_dev_get_config(d)->config, initial);
}

/* ---- a transport of the test's own ------------------------------------------------- */

static atomic_int own_calls, own_err;
static uint32_t own_seen_gen;

static int own_config(void *opaque, gm_dev_conn *c)
{
	(void)opaque;
	atomic_fetch_add(&own_calls, 1);
	ASSERT_TRUE(gm_dev_read_config(gm_dev_conn_dev(c), NULL, 0, &own_seen_gen) == 0);
	return atomic_load(&own_err);
}

static int own_notify(void *opaque, unsigned q)
{
	(void)opaque;
	(void)q;
	return 0;
}

static const struct gm_dev_transport own_ops = {.notify = own_notify};

static void test_own_transport(gm_dev *d, gm_mem *mem)
{
	struct gm_dev_attach a = {.size = sizeof(a), .name = "own", .mem = mem, .ops = &own_ops};
	unsigned char v = 0x77;
	gm_dev_conn *c;
	uint32_t gen;

	ASSERT_OK(gm_dev_attach(d, &a, &c));
	gm_dev_read_config(d, NULL, 0, &gen);
	ASSERT_TRUE(gen > 0);
	/* the space changed before: the callback catches up at once; its error comes back */
	atomic_store(&own_err, -EIO);
	ASSERT_EQ(gm_dev_conn_set_config_notify(c, own_config, NULL), -EIO);
	ASSERT_EQ(atomic_load(&own_calls), 1);
	ASSERT_EQ(own_seen_gen, gen);
	/* a failing transport is logged, the change stands */
	ASSERT_OK(gm_dev_set_config(d, 3, &v, 1));
	ASSERT_EQ(atomic_load(&own_calls), 2);
	ASSERT_EQ(own_seen_gen, gen + 1);
	atomic_store(&own_err, 0);
	ASSERT_OK(gm_dev_set_config(d, 3, &v, 1));
	ASSERT_EQ(atomic_load(&own_calls), 3);
	/* unregistered: not called any more */
	ASSERT_OK(gm_dev_conn_set_config_notify(c, NULL, NULL));
	ASSERT_OK(gm_dev_set_config(d, 3, &v, 1));
	ASSERT_EQ(atomic_load(&own_calls), 3);
	/* registered again, then detached: not called either */
	ASSERT_OK(gm_dev_conn_set_config_notify(c, own_config, NULL));
	ASSERT_EQ(atomic_load(&own_calls), 4);
	gm_dev_detach(c);
	ASSERT_OK(gm_dev_set_config(d, 3, &v, 1));
	ASSERT_EQ(atomic_load(&own_calls), 4);
}

/* ---- the ioreq transport ----------------------------------------------------------- */

static void driver_ok(void)
{
	const uint64_t need = 1ull << GM_VMMIO_F_VERSION_1 | 1ull << GM_VMMIO_F_ACCESS_PLATFORM;

	wr(GM_VMMIO_STATUS, 0);
	wr(GM_VMMIO_STATUS, GM_VIRTIO_STATUS_ACKNOWLEDGE | GM_VIRTIO_STATUS_DRIVER);
	wr(GM_VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(GM_VMMIO_DRIVER_FEATURES, (uint32_t)(need >> 32));
	wr(GM_VMMIO_DRIVER_FEATURES_SEL, 0);
	wr(GM_VMMIO_DRIVER_FEATURES, (uint32_t)need);
	wr(GM_VMMIO_STATUS, GM_VIRTIO_STATUS_ACKNOWLEDGE | GM_VIRTIO_STATUS_DRIVER |
				    GM_VIRTIO_STATUS_FEATURES_OK);
	wr(GM_VMMIO_STATUS, GM_VIRTIO_STATUS_ACKNOWLEDGE | GM_VIRTIO_STATUS_DRIVER |
				    GM_VIRTIO_STATUS_FEATURES_OK | GM_VIRTIO_STATUS_DRIVER_OK);
}

#define FLIPS 2000

/* Another thread changes the whole space between two patterns. */
static void *flipper(void *arg)
{
	gm_dev *d = arg;
	unsigned char b[CFG_LEN];

	for (unsigned i = 0; i < FLIPS; i++) {
		memset(b, i % 2 ? 0xaa : 0x55, sizeof(b));
		ASSERT_OK(gm_dev_set_config(d, 0, b, sizeof(b)));
	}
	return NULL;
}

/* As Linux's virtio_cread does it: generation, bytes, generation again. */
static void test_no_torn_reads(gm_dev *d)
{
	unsigned consistent = 0;
	pthread_t t;
	uint32_t g0;

	g0 = rd(GM_VMMIO_CONFIG_GENERATION);
	ASSERT_OK(pthread_create(&t, NULL, flipper, d));
	for (unsigned i = 0; i < 20000 && rd(GM_VMMIO_CONFIG_GENERATION) != g0 + FLIPS; i++) {
		uint32_t ga, gb, w[CFG_LEN / 4];

		ga = rd(GM_VMMIO_CONFIG_GENERATION);
		for (unsigned k = 0; k < CFG_LEN / 4; k++)
			w[k] = rd(GM_VMMIO_CONFIG + 4 * k);
		gb = rd(GM_VMMIO_CONFIG_GENERATION);
		if (ga != gb || ga == g0)
			continue;
		/* one change's bytes: every word the same pattern */
		for (unsigned k = 0; k < CFG_LEN / 4; k++)
			if (w[k] != w[0] || (w[k] != 0xaaaaaaaau && w[k] != 0x55555555u))
				GM_TEST_FAIL("generation %u: word %u is %08x, word 0 %08x", ga, k,
					     w[k], w[0]);
		consistent++;
	}
	ASSERT_OK(pthread_join(t, NULL));
	ASSERT_EQ(rd(GM_VMMIO_CONFIG_GENERATION), g0 + FLIPS);
	ASSERT_EQ(rd(GM_VMMIO_CONFIG), 0xaaaaaaaau);
	fprintf(stderr, "%u consistent reads of the config space while it changed\n", consistent);
}

/*
 * After DRIVER_OK: the status word becomes @st[0]; the driver reads
 * generation @gen, InterruptStatus bit 1 and the new bytes, the config
 * interrupt has been raised @nraised times in all, and the driver
 * acknowledges it.
 */
static void live_change(gm_dev *d, const unsigned char st[2], uint32_t gen, unsigned nraised)
{
	ASSERT_OK(gm_dev_set_config(d, 6, st, 2));
	ASSERT_EQ(rd(GM_VMMIO_CONFIG_GENERATION), gen);
	ASSERT_EQ(rd(GM_VMMIO_INTERRUPT_STATUS), GM_VMMIO_INT_CONFIG);
	ASSERT_EQ(atomic_load(&raised_config), nraised);
	ASSERT_EQ(rd(GM_VMMIO_CONFIG + 4) >> 16, st[0]);
	wr(GM_VMMIO_INTERRUPT_ACK, GM_VMMIO_INT_CONFIG);
}

static void test_ioreq(gm_dev *d, gm_mem *mem, gm_grant_cache *cache)
{
	unsigned char up[2] = {1, 0}, down[2] = {0, 0};
	gm_ioreq_loop *loop;
	uint32_t gen;

	/* a change before the register file exists: it starts from it */
	ASSERT_OK(gm_dev_set_config(d, 6, up, 2));
	ASSERT_OK(gm_ioreq_loop_new_dev(mem, cache, GUEST, GM_GRANT_TRANSIENT, d, &irq_ops, NULL,
					&loop));
	dev = gm_ioreq_loop_dev(loop);
	ASSERT_EQ(rd(GM_VMMIO_CONFIG + 4) >> 16, 1);
	ASSERT_EQ(rd(GM_VMMIO_CONFIG), 0x03020100u); /* the rest as created */

	/* before DRIVER_OK: the bytes and the generation move, no interrupt */
	gen = rd(GM_VMMIO_CONFIG_GENERATION);
	ASSERT_OK(gm_dev_set_config(d, 6, down, 2));
	ASSERT_EQ(rd(GM_VMMIO_CONFIG_GENERATION), gen + 1);
	ASSERT_EQ(rd(GM_VMMIO_CONFIG + 4) >> 16, 0);
	ASSERT_EQ(rd(GM_VMMIO_INTERRUPT_STATUS), 0);
	ASSERT_EQ(atomic_load(&raised), 0);

	/* a live driver: configuration-change interrupt */
	driver_ok();
	gen = rd(GM_VMMIO_CONFIG_GENERATION);
	live_change(d, up, gen + 1, 1);
	ASSERT_EQ(rd(GM_VMMIO_INTERRUPT_STATUS), 0);
	live_change(d, down, gen + 2, 2);

	test_no_torn_reads(d);

	/* the loop gone: changes reach nobody, and nothing breaks */
	gm_ioreq_loop_free(loop);
	dev = NULL;
	ASSERT_OK(gm_dev_set_config(d, 6, up, 2));
}

int main(void)
{
	struct fake_xen *f = fake_xen_new(4);
	unsigned char initial[CFG_LEN];
	struct gm_dev_config cfg = {.size = sizeof(cfg), .name = "configured", .device_id = 1,
				    .config = initial, .config_len = sizeof(initial),
				    .handler = &handler};
	gm_grant_cache *cache;
	gm_region *reg;
	gm_space *space;
	gm_gnttab *gt;
	gm_dev *d;

	ASSERT_NOT_NULL(f);
	for (unsigned i = 0; i < sizeof(initial); i++)
		initial[i] = (unsigned char)i;
	ASSERT_OK(gm_gnttab_open(fake_xen_world(f), &gt));
	ASSERT_OK(gm_grant_cache_new(gt, NULL, &cache));
	ASSERT_OK(gm_grant_region_new(cache, GUEST, GM_GRANT_TRANSIENT, &reg));
	ASSERT_OK(gm_space_new(&space));
	ASSERT_OK(gm_space_add(space, GM_GRANT_BASE, reg));
	ASSERT_OK(gm_dev_new(&cfg, &d));

	test_dev_calls(d, initial);
	test_ioreq(d, gm_space_mem(space), cache);
	test_own_transport(d, gm_space_mem(space));

	gm_dev_free(d);
	gm_space_free(space);
	gm_region_free(reg);
	gm_grant_cache_free(cache);
	gm_gnttab_close(gt);
	fake_xen_free(f);
	printf("test-ioreq-config: ok\n");
	return 0;
}
