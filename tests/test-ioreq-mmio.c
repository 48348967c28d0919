/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtio-mmio register file of the ioreq transport, driven directly
 * through its MMIO handlers (as Xen's ioreqs would), over a space with a
 * grant region on the fake Xen: the driver's init sequence as Linux's
 * virtio_mmio does it, notifications and interrupts, config space, reset
 * releasing every mapping, and hostile register writes.
 */
#include "config.h"

#include <grantmem/grantmem.h>
#include <grantmem/ioreq.h>

#include "fake-xen.h"
#include "helpers.h"

#define GUEST 5
#define RING_REF 10 /* refs 10..12: desc, avail, used pages */
#define CFG_LEN 60

struct dev_log {
	unsigned enabled, disabled, notified, resets, driver_oks, config_writes;
	unsigned raised, lowered, setups;
	uint32_t setup_value, raised_bits;
	struct gm_ioreq_queue last;
	int enable_error;
	bool map_rings; /* keep the descriptor page mapped (persistent) */
};

static struct dev_log lg;
static gm_ioreq_dev *dev;

static int q_enable(void *opaque, gm_ioreq_dev *d, unsigned q, const struct gm_ioreq_queue *info)
{
	(void)opaque;
	(void)q;
	lg.enabled++;
	lg.last = *info;
	if (lg.enable_error)
		return lg.enable_error;
	if (lg.map_rings) {
		/* a persistent ring mapping, like gm_ring's, stays in the cache */
		size_t len = 16;
		int err = 0;
		void *p = gm_map(gm_ioreq_dev_mem(d), info->desc, &len, GM_PROT_READ | GM_MAP_PERSISTENT,
				 &err);

		/* the fuzz test hands out rings the guest never granted */
		if (!p)
			return err;
		gm_unmap(gm_ioreq_dev_mem(d), info->desc, p, len, GM_PROT_READ | GM_MAP_PERSISTENT, 0);
	}
	return 0;
}

static void q_disable(void *opaque, gm_ioreq_dev *d, unsigned q)
{
	(void)opaque;
	(void)d;
	(void)q;
	lg.disabled++;
}

static void q_notify(void *opaque, gm_ioreq_dev *d, unsigned q)
{
	(void)opaque;
	(void)q;
	lg.notified++;
	ASSERT_OK(gm_ioreq_dev_interrupt(d, GM_VMMIO_INT_VRING));
}

static void d_reset(void *opaque, gm_ioreq_dev *d)
{
	(void)opaque;
	(void)d;
	lg.resets++;
}

static void d_driver_ok(void *opaque, gm_ioreq_dev *d)
{
	(void)opaque;
	(void)d;
	lg.driver_oks++;
}

static void d_config_write(void *opaque, gm_ioreq_dev *d, uint32_t off, const void *buf, unsigned len)
{
	(void)opaque;
	(void)d;
	(void)off;
	(void)buf;
	(void)len;
	lg.config_writes++;
}

static const struct gm_ioreq_dev_ops ops = {
	.queue_enable = q_enable,
	.queue_disable = q_disable,
	.queue_notify = q_notify,
	.reset = d_reset,
	.driver_ok = d_driver_ok,
	.config_write = d_config_write,
};

static int irq_setup(void *opaque, gm_ioreq_dev *d, uint32_t v)
{
	(void)opaque;
	(void)d;
	lg.setups++;
	lg.setup_value = v;
	return v == 0xdead ? -EINVAL : 0;
}

static int irq_raise(void *opaque, gm_ioreq_dev *d, uint32_t bits)
{
	(void)opaque;
	(void)d;
	lg.raised++;
	lg.raised_bits |= bits;
	return 0;
}

static void irq_lower(void *opaque, gm_ioreq_dev *d)
{
	(void)opaque;
	(void)d;
	lg.lowered++;
}

static const struct gm_ioreq_irq_ops irq_ops = {
	.setup = irq_setup,
	.raise = irq_raise,
	.lower = irq_lower,
};

static uint32_t rd(uint64_t off)
{
	uint64_t v = 0xdeadbeef;

	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, off, 4, &v));
	ASSERT_TRUE(v <= 0xffffffffu);
	return (uint32_t)v;
}

static void wr(uint64_t off, uint32_t v)
{
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, off, 4, v));
}

static void wr64(uint64_t lo_off, uint64_t v)
{
	wr(lo_off, (uint32_t)v);
	wr(lo_off + 4, (uint32_t)(v >> 32));
}

static const uint64_t need = 1ull << GM_VMMIO_F_VERSION_1 | 1ull << GM_VMMIO_F_ACCESS_PLATFORM;

/* Linux virtio_mmio's probe and virtio core's feature negotiation. */
static void driver_init(uint64_t accept)
{
	wr(GM_VMMIO_STATUS, 0);
	wr(GM_VMMIO_STATUS, GM_VIRTIO_STATUS_ACKNOWLEDGE);
	wr(GM_VMMIO_STATUS, GM_VIRTIO_STATUS_ACKNOWLEDGE | GM_VIRTIO_STATUS_DRIVER);
	wr(GM_VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(GM_VMMIO_DRIVER_FEATURES, (uint32_t)(accept >> 32));
	wr(GM_VMMIO_DRIVER_FEATURES_SEL, 0);
	wr(GM_VMMIO_DRIVER_FEATURES, (uint32_t)accept);
	wr(GM_VMMIO_STATUS, GM_VIRTIO_STATUS_ACKNOWLEDGE | GM_VIRTIO_STATUS_DRIVER |
				    GM_VIRTIO_STATUS_FEATURES_OK);
}

static void queue_setup(unsigned q, uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(GM_VMMIO_QUEUE_SEL, q);
	wr(GM_VMMIO_QUEUE_NUM, num);
	wr64(GM_VMMIO_QUEUE_DESC_LOW, desc);
	wr64(GM_VMMIO_QUEUE_DRIVER_LOW, avail);
	wr64(GM_VMMIO_QUEUE_DEVICE_LOW, used);
	wr(GM_VMMIO_QUEUE_READY, 1);
}

static void good_queue(unsigned q)
{
	queue_setup(q, 8, GM_GRANT_ADDR(RING_REF, 0), GM_GRANT_ADDR(RING_REF + 1, 0),
		    GM_GRANT_ADDR(RING_REF + 2, 0));
}

static bool needs_reset(void)
{
	return rd(GM_VMMIO_STATUS) & GM_VIRTIO_STATUS_NEEDS_RESET;
}

static void test_identity(void)
{
	uint64_t v;

	ASSERT_EQ(rd(GM_VMMIO_MAGIC_VALUE), 0x74726976);
	ASSERT_EQ(rd(GM_VMMIO_VERSION), 2);
	ASSERT_EQ(rd(GM_VMMIO_DEVICE_ID), 2);
	ASSERT_EQ(rd(GM_VMMIO_VENDOR_ID), GM_VMMIO_VENDOR_GRANTMEM);
	wr(GM_VMMIO_DEVICE_FEATURES_SEL, 0);
	ASSERT_EQ(rd(GM_VMMIO_DEVICE_FEATURES), 1u << 9);
	wr(GM_VMMIO_DEVICE_FEATURES_SEL, 1);
	ASSERT_EQ(rd(GM_VMMIO_DEVICE_FEATURES), 0x3); /* VERSION_1 | ACCESS_PLATFORM */
	wr(GM_VMMIO_DEVICE_FEATURES_SEL, 7);
	ASSERT_EQ(rd(GM_VMMIO_DEVICE_FEATURES), 0);
	wr(GM_VMMIO_QUEUE_SEL, 0);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_NUM_MAX), 64);
	wr(GM_VMMIO_QUEUE_SEL, 1);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_NUM_MAX), 64);
	wr(GM_VMMIO_QUEUE_SEL, 2); /* no such queue */
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_NUM_MAX), 0);
	/* config space: capacity, any width */
	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, GM_VMMIO_CONFIG, 8, &v));
	ASSERT_EQ_U64(v, 0x0123456789abcdefull);
	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, GM_VMMIO_CONFIG + 1, 1, &v));
	ASSERT_EQ_U64(v, 0xcd);
	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, GM_VMMIO_CONFIG + 2, 2, &v));
	ASSERT_EQ_U64(v, 0x89ab);
	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, GM_VMMIO_CONFIG + CFG_LEN - 2, 4, &v));
	ASSERT_EQ_U64(v, 0x5a5a); /* the last two bytes, then nothing */
	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, GM_VMMIO_CONFIG + 0x200, 4, &v));
	ASSERT_EQ_U64(v, 0);
	/* not a register access: reads as 0 */
	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, GM_VMMIO_MAGIC_VALUE, 2, &v));
	ASSERT_EQ_U64(v, 0);
	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, GM_VMMIO_MAGIC_VALUE + 1, 4, &v));
	ASSERT_EQ_U64(v, 0);
	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, GM_VMMIO_WINDOW_SIZE - 2, 4, &v));
	ASSERT_EQ_U64(v, 0);
	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, ~0ull, 8, &v));
	ASSERT_EQ_U64(v, 0);
	ASSERT_OK(gm_ioreq_dev_mmio_read(dev, 0, 3, &v));
	ASSERT_EQ_U64(v, 0);
}

static void test_bring_up(struct fake_xen *f)
{
	unsigned resets;

	memset(&lg, 0, sizeof(lg));
	lg.map_rings = true;
	driver_init(need | 1u << 9);
	ASSERT_EQ(rd(GM_VMMIO_STATUS), 0xb);
	ASSERT_EQ_U64(gm_ioreq_dev_features(dev), need | 1u << 9);
	good_queue(0);
	ASSERT_EQ(lg.enabled, 1);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_READY), 1);
	ASSERT_EQ(lg.last.size, 8);
	ASSERT_EQ(lg.last.packed, 0);
	ASSERT_EQ_U64(lg.last.desc, GM_GRANT_ADDR(RING_REF, 0));
	ASSERT_EQ_U64(lg.last.driver, GM_GRANT_ADDR(RING_REF + 1, 0));
	ASSERT_EQ_U64(lg.last.device, GM_GRANT_ADDR(RING_REF + 2, 0));
	ASSERT_EQ(fake_xen_ref_mapped(f, GUEST, RING_REF), 1);
	/* queue registers of a ready queue are the driver's mistake: ignored */
	wr(GM_VMMIO_QUEUE_NUM, 4);
	wr(GM_VMMIO_QUEUE_DESC_LOW, 0);
	wr(GM_VMMIO_QUEUE_READY, 1);
	ASSERT_EQ(lg.enabled, 1);
	wr(GM_VMMIO_STATUS, 0xf);
	ASSERT_EQ(lg.driver_oks, 1);
	ASSERT_TRUE(!needs_reset());

	/* the event channel register reaches the interrupt method */
	wr(GM_VMMIO_IRQ_EVTCHN, 7);
	ASSERT_EQ(lg.setups, 1);
	ASSERT_EQ(lg.setup_value, 7);
	wr(GM_VMMIO_IRQ_EVTCHN, 0xdead); /* refused by the method: only logged */
	ASSERT_EQ(lg.setups, 2);

	/* a kick is served by gm_ioreq_dev_process, not inside the write */
	wr(GM_VMMIO_QUEUE_NOTIFY, 0);
	wr(GM_VMMIO_QUEUE_NOTIFY, 0);
	ASSERT_EQ(lg.notified, 0);
	ASSERT_EQ(gm_ioreq_dev_process(dev), 1);
	ASSERT_EQ(lg.notified, 1);
	ASSERT_EQ(gm_ioreq_dev_process(dev), 0);
	ASSERT_EQ(lg.raised, 1);
	ASSERT_EQ(rd(GM_VMMIO_INTERRUPT_STATUS), GM_VMMIO_INT_VRING);
	ASSERT_EQ(rd(GM_VMMIO_INTERRUPT_STATUS), GM_VMMIO_INT_VRING); /* no side effect */
	wr(GM_VMMIO_INTERRUPT_ACK, GM_VMMIO_INT_VRING);
	ASSERT_EQ(rd(GM_VMMIO_INTERRUPT_STATUS), 0);
	ASSERT_EQ(lg.lowered, 1);
	/* kicks of queues that are not ready or do not exist */
	wr(GM_VMMIO_QUEUE_NOTIFY, 1);
	wr(GM_VMMIO_QUEUE_NOTIFY, 63);
	wr(GM_VMMIO_QUEUE_NOTIFY, 0xffffffff);
	ASSERT_EQ(gm_ioreq_dev_process(dev), 0);

	/* config: the driver's write is stored and reported; generation moves */
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, GM_VMMIO_CONFIG + 20, 4, 0x11223344));
	ASSERT_EQ(lg.config_writes, 1);
	ASSERT_EQ(rd(GM_VMMIO_CONFIG + 20), 0x11223344);
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, GM_VMMIO_CONFIG + CFG_LEN, 4, 1));
	ASSERT_EQ(lg.config_writes, 1);
	{
		uint32_t gen = rd(GM_VMMIO_CONFIG_GENERATION);
		uint64_t cap = 42;

		ASSERT_OK(gm_ioreq_dev_set_config(dev, 0, &cap, 8));
		ASSERT_EQ(rd(GM_VMMIO_CONFIG_GENERATION), gen + 1);
		ASSERT_EQ(rd(GM_VMMIO_CONFIG), 42);
		ASSERT_EQ(rd(GM_VMMIO_INTERRUPT_STATUS), GM_VMMIO_INT_CONFIG);
		wr(GM_VMMIO_INTERRUPT_ACK, GM_VMMIO_INT_CONFIG);
		ASSERT_EQ(gm_ioreq_dev_set_config(dev, GM_IOREQ_CONFIG_MAX - 1, &cap, 2), -EINVAL);
	}

	/* status bits only go away by a reset; features are fixed after FEATURES_OK */
	wr(GM_VMMIO_STATUS, GM_VIRTIO_STATUS_ACKNOWLEDGE);
	ASSERT_EQ(rd(GM_VMMIO_STATUS), 0xf);
	wr(GM_VMMIO_DRIVER_FEATURES, 0);
	ASSERT_EQ_U64(gm_ioreq_dev_features(dev), need | 1u << 9);

	/* QueueReady = 0: disabled, and its ring mapping is gone at once */
	wr(GM_VMMIO_QUEUE_SEL, 0);
	wr(GM_VMMIO_QUEUE_READY, 0);
	ASSERT_EQ(lg.disabled, 1);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_READY), 0);
	ASSERT_EQ(fake_xen_ref_mapped(f, GUEST, RING_REF), 0);

	/* again, then a reset releases it */
	good_queue(0);
	ASSERT_EQ(lg.enabled, 2);
	ASSERT_EQ(fake_xen_ref_mapped(f, GUEST, RING_REF), 1);
	wr(GM_VMMIO_QUEUE_NOTIFY, 0); /* pending kick, dropped by the reset */
	resets = lg.resets;
	wr(GM_VMMIO_STATUS, 0);
	ASSERT_EQ(lg.disabled, 2);
	ASSERT_EQ(lg.resets, resets + 1);
	ASSERT_EQ(fake_xen_ref_mapped(f, GUEST, RING_REF), 0);
	ASSERT_EQ(rd(GM_VMMIO_STATUS), 0);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_READY), 0);
	ASSERT_EQ_U64(gm_ioreq_dev_features(dev), 0);
	ASSERT_EQ(gm_ioreq_dev_process(dev), 0);
	ASSERT_EQ(lg.notified, 1);
	lg.map_rings = false;
}

static void expect_refused(uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	unsigned enabled = lg.enabled;

	driver_init(need);
	wr(GM_VMMIO_STATUS, 0xb);
	queue_setup(0, num, desc, avail, used);
	ASSERT_EQ(lg.enabled, enabled);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_READY), 0);
	ASSERT_TRUE(needs_reset());
	/* a broken device starts nothing until it is reset */
	good_queue(0);
	ASSERT_EQ(lg.enabled, enabled);
	/* the driver echoes NEEDS_RESET back: still set, still broken */
	wr(GM_VMMIO_STATUS, rd(GM_VMMIO_STATUS) | GM_VIRTIO_STATUS_DRIVER_OK);
	ASSERT_TRUE(needs_reset());
	wr(GM_VMMIO_STATUS, 0);
	ASSERT_TRUE(!needs_reset());
}

static void test_hostile_queues(void)
{
	const uint64_t d = GM_GRANT_ADDR(RING_REF, 0), a = GM_GRANT_ADDR(RING_REF + 1, 0),
		       u = GM_GRANT_ADDR(RING_REF + 2, 0);

	memset(&lg, 0, sizeof(lg));
	expect_refused(0, d, a, u);
	expect_refused(3, d, a, u);            /* not a power of 2 */
	expect_refused(128, d, a, u);          /* above QueueNumMax */
	expect_refused(0x80000000u, d, a, u);
	expect_refused(8, 0x1000, a, u);       /* guest-physical: outside the grant window */
	expect_refused(8, d, 0x2000, u);
	expect_refused(8, d, a, 0);
	expect_refused(8, d + 8, a, u);        /* misaligned */
	expect_refused(8, d, a + 1, u);
	expect_refused(8, d, a, u + 2);
	/* a used ring that runs off the end of the window */
	expect_refused(64, d, a, GM_GRANT_BASE + GM_GRANT_REGION_SIZE - 64);
	expect_refused(8, ~0ull & ~15ull, a, u);
	/* the device model refuses the queue */
	lg.enable_error = -ENOMEM;
	{
		unsigned enabled = lg.enabled;

		driver_init(need);
		good_queue(0);
		ASSERT_EQ(lg.enabled, enabled + 1);
		ASSERT_EQ(rd(GM_VMMIO_QUEUE_READY), 0);
		ASSERT_TRUE(needs_reset());
	}
	lg.enable_error = 0;
	wr(GM_VMMIO_STATUS, 0);

	/* features without ACCESS_PLATFORM (or VERSION_1), or not offered */
	driver_init(1ull << GM_VMMIO_F_VERSION_1);
	ASSERT_EQ(rd(GM_VMMIO_STATUS), 0x3);
	good_queue(0); /* no FEATURES_OK: ignored */
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_READY), 0);
	driver_init(1ull << GM_VMMIO_F_ACCESS_PLATFORM);
	ASSERT_EQ(rd(GM_VMMIO_STATUS), 0x3);
	driver_init(need | 1ull << 5);
	ASSERT_EQ(rd(GM_VMMIO_STATUS), 0x3);
	driver_init(need | 1ull << GM_VMMIO_F_RING_PACKED); /* not offered here */
	ASSERT_EQ(rd(GM_VMMIO_STATUS), 0x3);
	ASSERT_EQ(lg.enabled, 1);

	/* DRIVER_OK without FEATURES_OK breaks the device */
	lg.driver_oks = 0;
	wr(GM_VMMIO_STATUS, 0);
	wr(GM_VMMIO_STATUS, 1);
	wr(GM_VMMIO_STATUS, 3);
	wr(GM_VMMIO_STATUS, 7);
	ASSERT_TRUE(needs_reset());
	ASSERT_EQ(lg.driver_oks, 0);
	wr(GM_VMMIO_STATUS, 0);

	/* queue registers of a queue that does not exist; QueueReady 2 */
	driver_init(need);
	wr(GM_VMMIO_QUEUE_SEL, 5);
	wr(GM_VMMIO_QUEUE_NUM, 8);
	wr(GM_VMMIO_QUEUE_READY, 1);
	ASSERT_EQ(rd(GM_VMMIO_QUEUE_READY), 0);
	ASSERT_EQ(lg.enabled, 1);
	wr(GM_VMMIO_QUEUE_SEL, 0);
	wr(GM_VMMIO_QUEUE_READY, 2);
	ASSERT_EQ(lg.enabled, 1);
	/* odd-sized or unaligned register writes, and outside the window */
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, GM_VMMIO_STATUS, 1, 0));
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, GM_VMMIO_STATUS + 2, 4, 0));
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, GM_VMMIO_STATUS, 8, 0));
	ASSERT_EQ(rd(GM_VMMIO_STATUS), 0xb);
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, GM_VMMIO_WINDOW_SIZE, 4, 0));
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, ~0ull - 1, 4, 0));
	ASSERT_OK(gm_ioreq_dev_mmio_write(dev, GM_VMMIO_MAGIC_VALUE, 4, 0));
	ASSERT_EQ(rd(GM_VMMIO_MAGIC_VALUE), 0x74726976);
	wr(GM_VMMIO_STATUS, 0);
}

/* Random register traffic: never a crash, and a reset leaves nothing mapped. */
static void test_fuzz(struct fake_xen *f)
{
	static const unsigned sizes[] = {1, 2, 3, 4, 4, 4, 4, 8};
	uint64_t seed = 0x9e3779b97f4a7c15ull, v;
	unsigned i;

	memset(&lg, 0, sizeof(lg));
	lg.map_rings = true;
	for (i = 0; i < 200000; i++) {
		uint64_t off, val;
		unsigned size;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		/* mostly registers, sometimes anywhere */
		off = (seed & 7) ? (seed >> 8) % 0x110 & ~3ull : seed >> 20;
		size = sizes[(seed >> 4) & 7];
		switch ((seed >> 40) & 7) {
		case 0:
			val = 0;
			break;
		case 1:
			val = GM_GRANT_ADDR(RING_REF + ((seed >> 44) % 3), 0) >> (32 * ((seed >> 50) & 1));
			break;
		case 2:
			val = 1u << ((seed >> 44) % 16);
			break;
		case 3:
			val = 0xb;
			break;
		default:
			val = seed;
			break;
		}
		if ((seed >> 60) & 1)
			gm_ioreq_dev_mmio_read(dev, off, size, &v);
		else
			gm_ioreq_dev_mmio_write(dev, off, size, val);
		if ((i & 63) == 0)
			gm_ioreq_dev_process(dev);
	}
	wr(GM_VMMIO_STATUS, 0);
	ASSERT_EQ(fake_xen_ref_mapped(f, GUEST, RING_REF), 0);
	lg.map_rings = false;
}

int main(void)
{
	struct fake_xen *f = fake_xen_new(16);
	unsigned char cfg[CFG_LEN];
	struct gm_ioreq_dev_config dc = {
		.device_id = 2,
		.features = 1u << 9,
		.num_queues = 2,
		.max_queue_size = 64,
		.config = cfg,
		.config_len = sizeof(cfg),
	};
	struct gm_ioreq_dev_stats st = {.size = sizeof(st)};
	struct fake_xen_stats fs;
	gm_grant_cache *cache;
	gm_ioreq_server *srv;
	gm_gnttab *gt;
	gm_region *reg;
	gm_space *space;
	unsigned i;

	ASSERT_NOT_NULL(f);
	for (i = 0; i < 3; i++)
		ASSERT_OK(fake_xen_grant(f, GUEST, RING_REF + i, i, true));
	ASSERT_OK(gm_gnttab_open(fake_xen_world(f), &gt));
	ASSERT_OK(gm_grant_cache_new(gt, NULL, &cache));
	ASSERT_OK(gm_grant_region_new(cache, GUEST, GM_GRANT_TRANSIENT, &reg));
	ASSERT_OK(gm_space_new(&space));
	ASSERT_OK(gm_space_add(space, GM_GRANT_BASE, reg));
	memset(cfg, 0x5a, sizeof(cfg));
	for (i = 0; i < 8; i++)
		cfg[i] = (unsigned char)(0x0123456789abcdefull >> (8 * i));

	/* bad configurations */
	ASSERT_EQ(gm_ioreq_dev_new(NULL, cache, GUEST, &dc, &ops, NULL, &irq_ops, NULL, &dev), -EINVAL);
	ASSERT_NULL(dev);
	dc.num_queues = 0;
	ASSERT_EQ(gm_ioreq_dev_new(gm_space_mem(space), cache, GUEST, &dc, &ops, NULL, NULL, NULL, &dev),
		  -EINVAL);
	dc.num_queues = 2;
	dc.config_len = GM_IOREQ_CONFIG_MAX + 1;
	ASSERT_EQ(gm_ioreq_dev_new(gm_space_mem(space), cache, GUEST, &dc, &ops, NULL, NULL, NULL, &dev),
		  -EINVAL);
	dc.config_len = sizeof(cfg);

	ASSERT_OK(gm_ioreq_dev_new(gm_space_mem(space), cache, GUEST, &dc, &ops, NULL, &irq_ops, NULL,
				   &dev));
	ASSERT_EQ(gm_ioreq_dev_domid(dev), GUEST);
	test_identity();
	test_bring_up(f);
	test_hostile_queues();
	test_fuzz(f);
	gm_ioreq_dev_stats(dev, &st);
	ASSERT_TRUE(st.rejected > 0);
	ASSERT_TRUE(st.resets > 0);
	fprintf(stderr, "register file: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
		" rejected, %" PRIu64 " resets\n", st.reads, st.writes, st.rejected, st.resets);

	/* a live queue at free time is released too */
	lg.map_rings = true;
	driver_init(need);
	good_queue(1);
	ASSERT_EQ(fake_xen_ref_mapped(f, GUEST, RING_REF), 1);
	gm_ioreq_dev_free(dev);
	ASSERT_EQ(fake_xen_ref_mapped(f, GUEST, RING_REF), 0);
	gm_ioreq_dev_free(NULL);

	/* the Xen server on a world without event channels: a clean failure */
	{
		struct gm_ioreq_server_config sc = {.domid = GUEST};

		ASSERT_TRUE(gm_ioreq_server_new(fake_xen_world(f), &sc, &dc, &ops, NULL, &srv) < 0);
		ASSERT_NULL(srv);
		sc.domid = GM_DOMID_SELF;
#ifdef GM_HAVE_IOREQ
		ASSERT_EQ(gm_ioreq_server_new(fake_xen_world(f), &sc, &dc, &ops, NULL, &srv), -EINVAL);
#else
		ASSERT_EQ(gm_ioreq_server_new(fake_xen_world(f), &sc, &dc, &ops, NULL, &srv), -ENOTSUP);
#endif
		gm_ioreq_server_free(NULL);
	}

	gm_space_free(space);
	gm_region_free(reg);
	gm_grant_cache_free(cache);
	gm_gnttab_close(gt);
	fake_xen_stats(f, &fs);
	ASSERT_EQ(fs.leaked_batches, 0);
	ASSERT_EQ(fs.pages_mapped, 0);
	fake_xen_free(f);
	return 0;
}
