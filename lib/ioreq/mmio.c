/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtio-mmio (version 2) register file behind grantmem's ioreq
 * transport: pure state machine, no Xen.  See include/grantmem/ioreq.h.
 *
 * Threads: the MMIO handlers, gm_ioreq_dev_process and the device model's
 * callbacks run on one thread (the ioreq loop).  Queue workers may raise
 * interrupts (gm_ioreq_dev_interrupt) and report a broken queue
 * (gm_ioreq_dev_needs_reset): the interrupt state has its own lock, held
 * across the interrupt method so that a raise and an acknowledgement cannot
 * leave a level-triggered line in the wrong state, and the broken flag and
 * the set of kicked queues are atomic.
 */
#include "config.h"

#include <grantmem/ioreq.h>

#include "base/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct gm__vmmio_queue {
	uint32_t num;
	bool ready;
	uint64_t desc, driver, device;
};

struct gm_ioreq_dev {
	gm_mem *mem;
	gm_grant_cache *cache;
	gm_domid domid;
	uint32_t device_id, vendor_id;
	uint64_t dev_features;
	unsigned num_queues, max_queue_size;
	uint64_t dma_base, dma_size;
	const struct gm_ioreq_dev_ops *ops; /* &opsv */
	void *opaque;
	const struct gm_ioreq_irq_ops *irq; /* &irqv, or NULL */
	void *irq_opaque;
	struct gm_ioreq_dev_ops opsv;
	struct gm_ioreq_irq_ops irqv;
	void *priv;

	/* Loop-thread state (the guest's registers). */
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	uint64_t drv_features;
	atomic_uint_least64_t accepted; /* drv_features once FEATURES_OK */
	atomic_uint status;
	atomic_uint generation;
	atomic_bool broken;             /* NEEDS_RESET: queues are not served until reset */
	atomic_uint_least64_t kicked;   /* queues notified, not yet served */
	struct gm__vmmio_queue q[GM_IOREQ_MAX_QUEUES];
	/* the config space: the guest's accesses and gm_ioreq_dev_set_config
	 * (any thread); ConfigGeneration moves with the bytes */
	pthread_mutex_t cfg_lock;
	unsigned char config[GM_IOREQ_CONFIG_MAX]; /* protected by cfg_lock */
	size_t config_len;                         /* protected by cfg_lock */

	pthread_mutex_t irq_lock;
	uint32_t int_status; /* protected by irq_lock */

	atomic_uint_least64_t n_reads, n_writes, n_notifies, n_interrupts, n_resets, n_rejected;
};

static void vmmio_count(atomic_uint_least64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* A write the device refuses: counted and logged (info: the guest chose it). */
GM__PRINTF(2, 3)
static void vmmio_reject(gm_ioreq_dev *d, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	vmmio_count(&d->n_rejected);
	if (!gm__log_enabled(GM_LOG_INFO))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gm__info("ioreq: domain %u: %s", d->domid, msg);
}

int gm_ioreq_dev_new(gm_mem *mem, gm_grant_cache *cache, gm_domid domid,
		     const struct gm_ioreq_dev_config *cfg, const struct gm_ioreq_dev_ops *ops,
		     void *opaque, const struct gm_ioreq_irq_ops *irq, void *irq_opaque,
		     gm_ioreq_dev **out)
{
	struct gm_ioreq_dev_config cf;
	struct gm_ioreq_dev_ops ov;
	struct gm_ioreq_irq_ops iv;
	gm_ioreq_dev *d;
	int r;

	if (out)
		*out = NULL;
	if (!mem || !cfg || !ops || !out)
		return -EINVAL;
	r = gm__abi_in(&ov, sizeof(ov), ops, GM__ABI_V1(struct gm_ioreq_dev_ops, config_write));
	if (!r && irq)
		r = gm__abi_in(&iv, sizeof(iv), irq, GM__ABI_V1(struct gm_ioreq_irq_ops, release));
	if (!r)
		r = gm__abi_in(&cf, sizeof(cf), cfg, GM__ABI_V1(struct gm_ioreq_dev_config, dma_size));
	if (r)
		return r;
	ops = &ov;
	irq = irq ? &iv : NULL;
	if (!ops->queue_enable || !ops->queue_disable || !ops->queue_notify)
		return -EINVAL;
	cfg = &cf;
	if (cfg->device_id == 0 || cfg->num_queues == 0 ||
	    cfg->num_queues > GM_IOREQ_MAX_QUEUES ||
	    cfg->max_queue_size > GM_IOREQ_MAX_QUEUE_SIZE ||
	    cfg->config_len > GM_IOREQ_CONFIG_MAX || (cfg->config_len && !cfg->config))
		return -EINVAL;
	if (cfg->dma_size && !gm__range_ok(cfg->dma_base, cfg->dma_size))
		return -EINVAL;
	if (irq && !irq->raise)
		return -EINVAL;

	d = gm__calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (pthread_mutex_init(&d->irq_lock, NULL)) {
		free(d);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&d->cfg_lock, NULL)) {
		pthread_mutex_destroy(&d->irq_lock);
		free(d);
		return -ENOMEM;
	}
	d->mem = mem;
	d->cache = cache;
	d->domid = domid;
	d->device_id = cfg->device_id;
	d->vendor_id = cfg->vendor_id ? cfg->vendor_id : GM_VMMIO_VENDOR_GRANTMEM;
	d->dev_features = cfg->features | 1ull << GM_VMMIO_F_VERSION_1 |
			  1ull << GM_VMMIO_F_ACCESS_PLATFORM;
	d->num_queues = cfg->num_queues;
	d->max_queue_size = cfg->max_queue_size ? cfg->max_queue_size : 256;
	if (cfg->dma_size) {
		d->dma_base = cfg->dma_base;
		d->dma_size = cfg->dma_size;
	} else {
		d->dma_base = GM_GRANT_BASE;
		d->dma_size = GM_GRANT_REGION_SIZE;
	}
	d->opsv = *ops;
	d->ops = &d->opsv;
	d->opaque = opaque;
	if (irq) {
		d->irqv = *irq;
		d->irq = &d->irqv;
	}
	d->irq_opaque = irq_opaque;
	if (cfg->config_len)
		memcpy(d->config, cfg->config, cfg->config_len);
	d->config_len = cfg->config_len;
	*out = d;
	return 0;
}

/* ---- interrupts ------------------------------------------------------------ */

int gm_ioreq_dev_interrupt(gm_ioreq_dev *d, uint32_t bits)
{
	int err = 0;

	if (!d || !bits || bits & ~(uint32_t)(GM_VMMIO_INT_VRING | GM_VMMIO_INT_CONFIG))
		return -EINVAL;
	pthread_mutex_lock(&d->irq_lock);
	d->int_status |= bits;
	if (d->irq)
		err = d->irq->raise(d->irq_opaque, d, bits);
	pthread_mutex_unlock(&d->irq_lock);
	vmmio_count(&d->n_interrupts);
	return err;
}

static void vmmio_ack(gm_ioreq_dev *d, uint32_t bits)
{
	pthread_mutex_lock(&d->irq_lock);
	if (d->int_status) {
		d->int_status &= ~bits;
		if (!d->int_status && d->irq && d->irq->lower)
			d->irq->lower(d->irq_opaque, d);
	}
	pthread_mutex_unlock(&d->irq_lock);
}

static uint32_t vmmio_int_status(gm_ioreq_dev *d)
{
	uint32_t v;

	pthread_mutex_lock(&d->irq_lock);
	v = d->int_status;
	pthread_mutex_unlock(&d->irq_lock);
	return v;
}

/* ---- queues and reset -------------------------------------------------------- */

/* Release what the cache still holds of a ring area (persistent mappings). */
static void vmmio_invalidate_area(gm_ioreq_dev *d, uint64_t addr, uint64_t len)
{
	uint64_t pages;

	if (!d->cache || !GM_GRANT_IS_GRANT(addr) || addr - GM_GRANT_BASE >= GM_GRANT_REGION_SIZE)
		return;
	pages = (GM_GRANT_OFFSET(addr) + len + GM_PAGE_SIZE - 1) >> GM_PAGE_SHIFT;
	gm_grant_cache_invalidate_refs(d->cache, d->domid, GM_GRANT_REF(addr), (uint32_t)pages);
}

static bool vmmio_packed(const gm_ioreq_dev *d)
{
	return atomic_load(&d->accepted) >> GM_VMMIO_F_RING_PACKED & 1;
}

/* Byte sizes of the three ring areas of a queue of @num descriptors. */
static void vmmio_ring_sizes(bool packed, uint32_t num, uint64_t sz[3])
{
	sz[0] = 16ull * num;
	if (packed) {
		sz[1] = 4;
		sz[2] = 4;
	} else {
		/* flags, idx, ring[num], used_event / avail_event */
		sz[1] = 6 + 2ull * num;
		sz[2] = 6 + 8ull * num;
	}
}

static void vmmio_queue_disable(gm_ioreq_dev *d, unsigned qi)
{
	struct gm__vmmio_queue *q = &d->q[qi];
	uint64_t sz[3];

	if (!q->ready)
		return;
	d->ops->queue_disable(d->opaque, d, qi);
	q->ready = false;
	atomic_fetch_and(&d->kicked, ~(1ull << qi));
	/*
	 * The guest frees the rings once QueueReady reads 0: nothing may stay
	 * mapped, or its grant_end_access fails ("still in use").
	 */
	vmmio_ring_sizes(vmmio_packed(d), q->num, sz);
	vmmio_invalidate_area(d, q->desc, sz[0]);
	vmmio_invalidate_area(d, q->driver, sz[1]);
	vmmio_invalidate_area(d, q->device, sz[2]);
}

/* 1 if [addr, addr + len) lies in the DMA window and is @align aligned. */
static bool vmmio_area_ok(const gm_ioreq_dev *d, uint64_t addr, uint64_t len, uint64_t align)
{
	if (addr & (align - 1))
		return false;
	if (addr < d->dma_base || addr - d->dma_base > d->dma_size)
		return false;
	return len <= d->dma_size - (addr - d->dma_base);
}

static void vmmio_set_needs_reset(gm_ioreq_dev *d)
{
	unsigned st = atomic_fetch_or(&d->status, GM_VIRTIO_STATUS_NEEDS_RESET);

	atomic_store(&d->broken, true);
	atomic_store(&d->kicked, 0);
	if (st & GM_VIRTIO_STATUS_DRIVER_OK)
		gm_ioreq_dev_interrupt(d, GM_VMMIO_INT_CONFIG);
}

void gm_ioreq_dev_needs_reset(gm_ioreq_dev *d, const char *why)
{
	if (!d)
		return;
	gm__info("ioreq: domain %u: device needs reset: %s", d->domid, why ? why : "broken");
	vmmio_set_needs_reset(d);
}

static void vmmio_queue_enable(gm_ioreq_dev *d, unsigned qi)
{
	struct gm__vmmio_queue *q = &d->q[qi];
	struct gm_ioreq_queue info;
	bool packed = vmmio_packed(d);
	uint64_t sz[3];
	int err;

	if (q->num == 0 || q->num > d->max_queue_size || (!packed && (q->num & (q->num - 1)))) {
		vmmio_reject(d, "queue %u: size %u refused (max %u%s)", qi, q->num,
			     d->max_queue_size, packed ? "" : ", a power of 2");
		goto broken;
	}
	vmmio_ring_sizes(packed, q->num, sz);
	if (!vmmio_area_ok(d, q->desc, sz[0], 16) ||
	    !vmmio_area_ok(d, q->driver, sz[1], packed ? 4 : 2) ||
	    !vmmio_area_ok(d, q->device, sz[2], 4)) {
		vmmio_reject(d,
			     "queue %u: rings desc 0x%" PRIx64 " driver 0x%" PRIx64
			     " device 0x%" PRIx64 " misaligned or outside the DMA window",
			     qi, q->desc, q->driver, q->device);
		goto broken;
	}
	info.size = q->num;
	info.packed = packed;
	info.desc = q->desc;
	info.driver = q->driver;
	info.device = q->device;
	err = d->ops->queue_enable(d->opaque, d, qi, &info);
	if (err) {
		gm__info("ioreq: domain %u: queue %u: the device refused it: %s", d->domid, qi,
			 gm_strerror(err));
		goto broken;
	}
	q->ready = true;
	return;
broken:
	vmmio_set_needs_reset(d);
}

int gm_ioreq_dev_reset(gm_ioreq_dev *d)
{
	unsigned i;
	int n = 0;

	if (!d)
		return -EINVAL;
	for (i = 0; i < d->num_queues; i++) {
		if (d->q[i].ready)
			n++;
		vmmio_queue_disable(d, i);
	}
	if (d->ops->reset)
		d->ops->reset(d->opaque, d);
	memset(d->q, 0, sizeof(d->q));
	atomic_store(&d->kicked, 0);
	atomic_store(&d->broken, false);
	d->dev_feat_sel = d->drv_feat_sel = d->queue_sel = 0;
	d->drv_features = 0;
	atomic_store(&d->accepted, 0);
	atomic_store(&d->status, 0);
	vmmio_ack(d, ~0u);
	/* data mappings the queues left behind (persistent policies) */
	if (d->cache)
		gm_grant_cache_invalidate_domain(d->cache, d->domid);
	vmmio_count(&d->n_resets);
	return n;
}

void gm_ioreq_dev_free(gm_ioreq_dev *d)
{
	if (!d)
		return;
	gm_ioreq_dev_reset(d);
	if (d->irq && d->irq->release)
		d->irq->release(d->irq_opaque, d);
	pthread_mutex_destroy(&d->irq_lock);
	pthread_mutex_destroy(&d->cfg_lock);
	free(d);
}

/* ---- status -------------------------------------------------------------------- */

static void vmmio_write_status(gm_ioreq_dev *d, uint32_t v)
{
	const uint32_t known = GM_VIRTIO_STATUS_ACKNOWLEDGE | GM_VIRTIO_STATUS_DRIVER |
			       GM_VIRTIO_STATUS_DRIVER_OK | GM_VIRTIO_STATUS_FEATURES_OK |
			       GM_VIRTIO_STATUS_NEEDS_RESET | GM_VIRTIO_STATUS_FAILED;
	const uint64_t required = 1ull << GM_VMMIO_F_VERSION_1 | 1ull << GM_VMMIO_F_ACCESS_PLATFORM;
	uint32_t old = atomic_load(&d->status), keep = old & GM_VIRTIO_STATUS_NEEDS_RESET;
	uint32_t added;

	if (v == 0) {
		gm_ioreq_dev_reset(d);
		return;
	}
	/* The driver echoes NEEDS_RESET back; it is the device's bit. */
	v &= ~(uint32_t)GM_VIRTIO_STATUS_NEEDS_RESET;
	old &= ~(uint32_t)GM_VIRTIO_STATUS_NEEDS_RESET;
	if (v & ~known || old & ~v) {
		vmmio_reject(d, "status 0x%x -> 0x%x refused (bits only go away by a reset)",
			     old, v);
		return;
	}
	added = v & ~old;
	if (added & GM_VIRTIO_STATUS_FEATURES_OK) {
		if (d->drv_features & ~d->dev_features ||
		    (d->drv_features & required) != required) {
			vmmio_reject(d,
				     "features 0x%" PRIx64 " refused (offered 0x%" PRIx64
				     ", VERSION_1 and ACCESS_PLATFORM required)",
				     d->drv_features, d->dev_features);
			/* FEATURES_OK stays clear: the driver reads it back and fails */
			v &= ~(uint32_t)GM_VIRTIO_STATUS_FEATURES_OK;
			added &= ~(uint32_t)GM_VIRTIO_STATUS_FEATURES_OK;
		} else {
			atomic_store(&d->accepted, d->drv_features);
		}
	}
	if (added & GM_VIRTIO_STATUS_DRIVER_OK && !(v & GM_VIRTIO_STATUS_FEATURES_OK)) {
		vmmio_reject(d, "DRIVER_OK without FEATURES_OK");
		atomic_store(&d->status, v | keep);
		vmmio_set_needs_reset(d);
		return;
	}
	atomic_store(&d->status, v | keep);
	if (added & GM_VIRTIO_STATUS_DRIVER_OK && d->ops->driver_ok)
		d->ops->driver_ok(d->opaque, d);
}

/* ---- MMIO handlers --------------------------------------------------------------- */

static uint64_t vmmio_config_read(gm_ioreq_dev *d, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	unsigned i;

	pthread_mutex_lock(&d->cfg_lock);
	for (i = 0; i < size; i++)
		if (off + i < d->config_len)
			v |= (uint64_t)d->config[off + i] << (8 * i);
	pthread_mutex_unlock(&d->cfg_lock);
	return v;
}

static bool vmmio_size_ok(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

int gm_ioreq_dev_mmio_read(gm_ioreq_dev *d, uint64_t offset, unsigned size, uint64_t *val)
{
	struct gm__vmmio_queue *q;
	uint64_t v = 0;

	if (!d || !val)
		return -EINVAL;
	*val = 0;
	vmmio_count(&d->n_reads);
	if (!vmmio_size_ok(size) || offset >= GM_VMMIO_WINDOW_SIZE ||
	    size > GM_VMMIO_WINDOW_SIZE - offset)
		return 0;
	if (offset >= GM_VMMIO_CONFIG) {
		*val = vmmio_config_read(d, offset - GM_VMMIO_CONFIG, size);
		return 0;
	}
	if (size != 4 || offset & 3)
		return 0;
	q = d->queue_sel < d->num_queues ? &d->q[d->queue_sel] : NULL;
	switch (offset) {
	case GM_VMMIO_MAGIC_VALUE:
		v = GM_VMMIO_MAGIC;
		break;
	case GM_VMMIO_VERSION:
		v = 2;
		break;
	case GM_VMMIO_DEVICE_ID:
		v = d->device_id;
		break;
	case GM_VMMIO_VENDOR_ID:
		v = d->vendor_id;
		break;
	case GM_VMMIO_DEVICE_FEATURES:
		if (d->dev_feat_sel < 2)
			v = (uint32_t)(d->dev_features >> (32 * d->dev_feat_sel));
		break;
	case GM_VMMIO_QUEUE_NUM_MAX:
		/* 0 says "no such queue" */
		v = q ? d->max_queue_size : 0;
		break;
	case GM_VMMIO_QUEUE_READY:
		v = q ? q->ready : 0;
		break;
	case GM_VMMIO_INTERRUPT_STATUS:
		v = vmmio_int_status(d);
		break;
	case GM_VMMIO_STATUS:
		v = atomic_load(&d->status);
		break;
	case GM_VMMIO_CONFIG_GENERATION:
		v = atomic_load(&d->generation);
		break;
	default:
		/* write-only and reserved registers read as 0 */
		break;
	}
	*val = v;
	return 0;
}

static void vmmio_set_half(uint64_t *reg, bool high, uint32_t v)
{
	if (high)
		*reg = (*reg & 0xffffffffull) | (uint64_t)v << 32;
	else
		*reg = (*reg & ~0xffffffffull) | v;
}

/* The selected queue, if its address/size registers may be written now. */
static struct gm__vmmio_queue *vmmio_queue_for_write(gm_ioreq_dev *d, uint64_t offset)
{
	struct gm__vmmio_queue *q;

	if (d->queue_sel >= d->num_queues) {
		vmmio_reject(d, "register 0x%03" PRIx64 " of missing queue %u", offset,
			     d->queue_sel);
		return NULL;
	}
	q = &d->q[d->queue_sel];
	if (q->ready) {
		vmmio_reject(d, "register 0x%03" PRIx64 " of ready queue %u", offset,
			     d->queue_sel);
		return NULL;
	}
	return q;
}

static void vmmio_config_write(gm_ioreq_dev *d, uint64_t off, unsigned size, uint64_t val)
{
	unsigned char buf[8];
	size_t len;
	unsigned i;

	pthread_mutex_lock(&d->cfg_lock);
	len = d->config_len;
	if (off < len && size <= len - off) {
		for (i = 0; i < size; i++)
			buf[i] = (unsigned char)(val >> (8 * i));
		memcpy(d->config + off, buf, size);
	}
	pthread_mutex_unlock(&d->cfg_lock);
	if (off >= len || size > len - off) {
		vmmio_reject(d, "config write at 0x%" PRIx64 " beyond %zu bytes", off, len);
		return;
	}
	if (d->ops->config_write)
		d->ops->config_write(d->opaque, d, (uint32_t)off, buf, size);
}

int gm_ioreq_dev_mmio_write(gm_ioreq_dev *d, uint64_t offset, unsigned size, uint64_t val)
{
	struct gm__vmmio_queue *q;
	uint32_t v = (uint32_t)val;
	uint32_t st;

	if (!d)
		return -EINVAL;
	vmmio_count(&d->n_writes);
	if (!vmmio_size_ok(size) || offset >= GM_VMMIO_WINDOW_SIZE ||
	    size > GM_VMMIO_WINDOW_SIZE - offset) {
		vmmio_reject(d, "write of %u bytes at 0x%" PRIx64 " outside the window", size,
			     offset);
		return 0;
	}
	if (offset >= GM_VMMIO_CONFIG) {
		vmmio_config_write(d, offset - GM_VMMIO_CONFIG, size, val);
		return 0;
	}
	if (size != 4 || offset & 3) {
		vmmio_reject(d, "%u-byte register write at 0x%03" PRIx64, size, offset);
		return 0;
	}
	st = atomic_load(&d->status);
	switch (offset) {
	case GM_VMMIO_DEVICE_FEATURES_SEL:
		d->dev_feat_sel = v;
		break;
	case GM_VMMIO_DRIVER_FEATURES_SEL:
		d->drv_feat_sel = v;
		break;
	case GM_VMMIO_DRIVER_FEATURES:
		if (st & GM_VIRTIO_STATUS_FEATURES_OK || d->drv_feat_sel > 1) {
			vmmio_reject(d, "driver features 0x%x (select %u) after FEATURES_OK", v,
				     d->drv_feat_sel);
			break;
		}
		vmmio_set_half(&d->drv_features, d->drv_feat_sel == 1, v);
		break;
	case GM_VMMIO_QUEUE_SEL:
		d->queue_sel = v;
		break;
	case GM_VMMIO_QUEUE_NUM:
		q = vmmio_queue_for_write(d, offset);
		if (q)
			q->num = v;
		break;
	case GM_VMMIO_QUEUE_DESC_LOW:
	case GM_VMMIO_QUEUE_DESC_HIGH:
		q = vmmio_queue_for_write(d, offset);
		if (q)
			vmmio_set_half(&q->desc, offset == GM_VMMIO_QUEUE_DESC_HIGH, v);
		break;
	case GM_VMMIO_QUEUE_DRIVER_LOW:
	case GM_VMMIO_QUEUE_DRIVER_HIGH:
		q = vmmio_queue_for_write(d, offset);
		if (q)
			vmmio_set_half(&q->driver, offset == GM_VMMIO_QUEUE_DRIVER_HIGH, v);
		break;
	case GM_VMMIO_QUEUE_DEVICE_LOW:
	case GM_VMMIO_QUEUE_DEVICE_HIGH:
		q = vmmio_queue_for_write(d, offset);
		if (q)
			vmmio_set_half(&q->device, offset == GM_VMMIO_QUEUE_DEVICE_HIGH, v);
		break;
	case GM_VMMIO_QUEUE_READY:
		if (d->queue_sel >= d->num_queues || v > 1) {
			vmmio_reject(d, "QueueReady %u for queue %u", v, d->queue_sel);
			break;
		}
		if (!v) {
			vmmio_queue_disable(d, d->queue_sel);
			break;
		}
		if (d->q[d->queue_sel].ready)
			break;
		if (atomic_load(&d->broken) || !(st & GM_VIRTIO_STATUS_FEATURES_OK) ||
		    st & GM_VIRTIO_STATUS_FAILED) {
			vmmio_reject(d, "queue %u made ready in status 0x%x", d->queue_sel, st);
			break;
		}
		vmmio_queue_enable(d, d->queue_sel);
		break;
	case GM_VMMIO_QUEUE_NOTIFY:
		vmmio_count(&d->n_notifies);
		if (v >= d->num_queues || !d->q[v].ready) {
			vmmio_reject(d, "notify of queue %u, which is not ready", v);
			break;
		}
		if (!atomic_load(&d->broken))
			atomic_fetch_or(&d->kicked, 1ull << v);
		break;
	case GM_VMMIO_INTERRUPT_ACK:
		vmmio_ack(d, v);
		break;
	case GM_VMMIO_STATUS:
		vmmio_write_status(d, v);
		break;
	case GM_VMMIO_IRQ_EVTCHN:
		if (d->irq && d->irq->setup) {
			int err = d->irq->setup(d->irq_opaque, d, v);

			if (err)
				gm__info("ioreq: domain %u: interrupt set-up with %u failed: %s",
					 d->domid, v, gm_strerror(err));
		} else {
			vmmio_reject(d, "write to 0x%03x: no interrupt set-up here",
				     GM_VMMIO_IRQ_EVTCHN);
		}
		break;
	default:
		vmmio_reject(d, "write 0x%x to read-only or reserved register 0x%03" PRIx64, v,
			     offset);
		break;
	}
	return 0;
}

int gm_ioreq_dev_process(gm_ioreq_dev *d)
{
	int n = 0;

	if (!d)
		return -EINVAL;
	/* a callback may reset the device or kick again: re-read each time */
	for (uint64_t k; (k = atomic_load(&d->kicked)) && !atomic_load(&d->broken);) {
		unsigned qi = (unsigned)__builtin_ctzll(k);

		atomic_fetch_and(&d->kicked, ~(1ull << qi));
		d->ops->queue_notify(d->opaque, d, qi);
		n++;
	}
	return n;
}

int gm_ioreq_dev_set_config(gm_ioreq_dev *d, uint32_t offset, const void *buf, size_t len)
{
	if (!d || (len && !buf) || offset > GM_IOREQ_CONFIG_MAX ||
	    len > GM_IOREQ_CONFIG_MAX - offset)
		return -EINVAL;
	pthread_mutex_lock(&d->cfg_lock);
	if (len)
		memcpy(d->config + offset, buf, len);
	if (offset + len > d->config_len)
		d->config_len = offset + len;
	atomic_fetch_add(&d->generation, 1);
	pthread_mutex_unlock(&d->cfg_lock);
	if (atomic_load(&d->status) & GM_VIRTIO_STATUS_DRIVER_OK)
		gm_ioreq_dev_interrupt(d, GM_VMMIO_INT_CONFIG);
	return 0;
}

gm_mem *gm_ioreq_dev_mem(const gm_ioreq_dev *d)
{
	return d ? d->mem : NULL;
}

gm_domid gm_ioreq_dev_domid(const gm_ioreq_dev *d)
{
	return d ? d->domid : 0;
}

uint64_t gm_ioreq_dev_features(const gm_ioreq_dev *d)
{
	return d ? atomic_load(&d->accepted) : 0;
}

uint32_t gm_ioreq_dev_status(const gm_ioreq_dev *d)
{
	return d ? atomic_load(&d->status) : 0;
}

int gm_ioreq_dev_queue_ready(const gm_ioreq_dev *d, unsigned q)
{
	return d && q < d->num_queues && d->q[q].ready;
}

void gm_ioreq_dev_set_priv(gm_ioreq_dev *d, void *priv)
{
	if (d)
		d->priv = priv;
}

void *gm_ioreq_dev_priv(const gm_ioreq_dev *d)
{
	return d ? d->priv : NULL;
}

void gm_ioreq_dev_stats(const gm_ioreq_dev *d, struct gm_ioreq_dev_stats *out)
{
	struct gm_ioreq_dev_stats s = {0}, *st = &s;

	if (!out)
		return;
	if (!d) {
		gm__abi_out(out, st, sizeof(*st), GM__ABI_V1(struct gm_ioreq_dev_stats, rejected));
		return;
	}
	st->reads = atomic_load_explicit(&d->n_reads, memory_order_relaxed);
	st->writes = atomic_load_explicit(&d->n_writes, memory_order_relaxed);
	st->notifies = atomic_load_explicit(&d->n_notifies, memory_order_relaxed);
	st->interrupts = atomic_load_explicit(&d->n_interrupts, memory_order_relaxed);
	st->resets = atomic_load_explicit(&d->n_resets, memory_order_relaxed);
	st->rejected = atomic_load_explicit(&d->n_rejected, memory_order_relaxed);
	gm__abi_out(out, st, sizeof(*st), GM__ABI_V1(struct gm_ioreq_dev_stats, rejected));
}
