/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vqd: a virtio driver's side of split and packed virtqueues, written from
 * the virtio 1.2 spec (sections 2.7 and 2.8), for tests.  See virtq-driver.h.
 */
#include "virtq-driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WRAP_BIT (1u << GM_VRING_PACKED_EVENT_F_WRAP_CTR)

size_t vqd_desc_size(const struct vqd_config *cfg)
{
	return (size_t)cfg->size * GM_VRING_DESC_SIZE;
}

size_t vqd_driver_size(const struct vqd_config *cfg)
{
	return cfg->packed ? GM_VRING_PACKED_EVENT_SIZE : GM_VRING_SPLIT_AVAIL_SIZE(cfg->size);
}

size_t vqd_device_size(const struct vqd_config *cfg)
{
	return cfg->packed ? GM_VRING_PACKED_EVENT_SIZE : GM_VRING_SPLIT_USED_SIZE(cfg->size);
}

/* Addresses of the fields. */
static uint64_t desc_at(const struct vqd *d, unsigned i)
{
	return d->cfg.desc_addr + (uint64_t)i * GM_VRING_DESC_SIZE;
}

static uint64_t avail_idx_addr(const struct vqd *d)
{
	return d->cfg.driver_addr + 2;
}

static uint64_t avail_ring_addr(const struct vqd *d, unsigned i)
{
	return d->cfg.driver_addr + 4 + 2 * (uint64_t)i;
}

static uint64_t used_idx_addr(const struct vqd *d)
{
	return d->cfg.device_addr + 2;
}

static uint64_t used_ring_addr(const struct vqd *d, unsigned i)
{
	return d->cfg.device_addr + 4 + 8 * (uint64_t)i;
}

/* Split: used_event lives after the avail ring, avail_event after used. */
static uint64_t used_event_addr(const struct vqd *d)
{
	return avail_ring_addr(d, d->cfg.size);
}

static uint64_t avail_event_addr(const struct vqd *d)
{
	return used_ring_addr(d, d->cfg.size);
}

int vqd_init(struct vqd *d, gm_mem *m, const struct vqd_config *cfg)
{
	unsigned s = cfg->size;
	int ret;

	memset(d, 0, sizeof(*d));
	if (!s || s > GM_VQ_MAX_SIZE || (!cfg->packed && (s & (s - 1))))
		return -EINVAL;
	d->m = m;
	d->cfg = *cfg;
	d->next_free = calloc(s, sizeof(*d->next_free));
	d->ndesc = calloc(s, sizeof(*d->ndesc));
	d->token = calloc(s, sizeof(*d->token));
	if (!d->next_free || !d->ndesc || !d->token) {
		vqd_fini(d);
		return -ENOMEM;
	}
	/* descriptor free list (split) / buffer id free list (packed) */
	for (unsigned i = 0; i < s; i++)
		d->next_free[i] = (uint16_t)(i + 1);
	d->num_free = s;
	d->avail_wrap = d->used_wrap = d->kicked_wrap = true;
	d->intr_on = true;
	ret = gm_fill(m, cfg->desc_addr, 0, vqd_desc_size(cfg));
	if (!ret)
		ret = gm_fill(m, cfg->driver_addr, 0, vqd_driver_size(cfg));
	if (!ret)
		ret = gm_fill(m, cfg->device_addr, 0, vqd_device_size(cfg));
	if (ret)
		vqd_fini(d);
	return ret;
}

void vqd_fini(struct vqd *d)
{
	free(d->next_free);
	free(d->ndesc);
	free(d->token);
	d->next_free = d->ndesc = NULL;
	d->token = NULL;
}

uint64_t vqd_features(const struct vqd *d)
{
	uint64_t f = GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1);

	if (d->cfg.packed)
		f |= GM_VIRTIO_BIT(GM_VIRTIO_F_RING_PACKED);
	if (d->cfg.event_idx)
		f |= GM_VIRTIO_BIT(GM_VIRTIO_F_EVENT_IDX);
	if (d->cfg.indirect)
		f |= GM_VIRTIO_BIT(GM_VIRTIO_F_INDIRECT_DESC);
	return f;
}

void vqd_gm_config(const struct vqd *d, struct gm_vq_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = d->cfg.size;
	cfg->desc_addr = d->cfg.desc_addr;
	cfg->driver_addr = d->cfg.driver_addr;
	cfg->device_addr = d->cfg.device_addr;
	cfg->features = vqd_features(d);
}

/* One 16-byte descriptor at @a: split {addr, len, flags, next}, packed
 * {addr, len, id, flags}.  Packed flags are written by the caller. */
static int write_desc(struct vqd *d, uint64_t a, uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next_or_id)
{
	int ret = gm_write_le64(d->m, a, addr);

	if (!ret)
		ret = gm_write_le32(d->m, a + 8, len);
	if (ret)
		return ret;
	if (d->cfg.packed)
		return gm_write_le16(d->m, a + 12, next_or_id);
	ret = gm_write_le16(d->m, a + 12, flags);
	return ret ? ret : gm_write_le16(d->m, a + 14, next_or_id);
}

int vqd_write_itab(struct vqd *d, uint64_t itab_addr, unsigned i, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next_or_id)
{
	uint64_t a = itab_addr + (uint64_t)i * GM_VRING_DESC_SIZE;
	int ret = write_desc(d, a, addr, len, flags, next_or_id);

	if (!ret && d->cfg.packed)
		ret = gm_write_le16(d->m, a + 14, flags);
	return ret;
}

static int write_table(struct vqd *d, const struct vqd_buf *bufs, unsigned n, uint64_t itab)
{
	for (unsigned k = 0; k < n; k++) {
		uint16_t f = bufs[k].write ? GM_VRING_DESC_F_WRITE : 0;

		/* split tables chain with NEXT; packed ones are sequential */
		if (!d->cfg.packed && k + 1 < n)
			f |= GM_VRING_DESC_F_NEXT;
		int ret = vqd_write_itab(d, itab, k, bufs[k].addr, bufs[k].len, f,
					 (uint16_t)(d->cfg.packed ? 0 : k + 1));
		if (ret)
			return ret;
	}
	return 0;
}

static uint16_t wrap_flags(bool wrap)
{
	/* available: AVAIL == wrap counter, USED != it */
	return wrap ? GM_VRING_PACKED_DESC_F_AVAIL : GM_VRING_PACKED_DESC_F_USED;
}

static int packed_write_chain(struct vqd *d, const struct vqd_raw *descs, unsigned n)
{
	unsigned pos = d->avail_pos;
	bool wrap = d->avail_wrap;
	uint16_t head_flags = 0;
	int ret;

	for (unsigned k = 0; k < n; k++) {
		uint16_t f = (uint16_t)(descs[k].flags | wrap_flags(wrap));

		ret = write_desc(d, desc_at(d, pos), descs[k].addr, descs[k].len, 0, descs[k].id);
		if (ret)
			return ret;
		if (k)
			ret = gm_write_le16(d->m, desc_at(d, pos) + 14, f);
		else
			head_flags = f;
		if (ret)
			return ret;
		if (++pos == d->cfg.size) {
			pos = 0;
			wrap = !wrap;
		}
	}
	/* the head last: the device never sees a partial chain */
	ret = gm_store_release16(d->m, desc_at(d, d->avail_pos) + 14, head_flags);
	if (ret)
		return ret;
	d->avail_pos = (uint16_t)pos;
	d->avail_wrap = wrap;
	return 0;
}

int vqd_packed_push_raw(struct vqd *d, const struct vqd_raw *descs, unsigned n)
{
	if (!d->cfg.packed || !n || n > d->cfg.size)
		return -EINVAL;
	return packed_write_chain(d, descs, n);
}

static int add_split(struct vqd *d, const struct vqd_buf *bufs, unsigned n, uint64_t itab,
		     void *token)
{
	unsigned need = itab ? 1 : n;
	uint16_t head = d->free_head, i = head;
	int ret;

	if (d->num_free < need)
		return -ENOSPC;
	if (itab) {
		ret = write_table(d, bufs, n, itab);
		if (!ret)
			ret = write_desc(d, desc_at(d, head), itab, n * GM_VRING_DESC_SIZE,
					 GM_VRING_DESC_F_INDIRECT, 0);
		if (ret)
			return ret;
		i = d->next_free[head];
	} else {
		for (unsigned k = 0; k < n; k++) {
			uint16_t f = bufs[k].write ? GM_VRING_DESC_F_WRITE : 0;

			if (k + 1 < n)
				f |= GM_VRING_DESC_F_NEXT;
			ret = write_desc(d, desc_at(d, i), bufs[k].addr, bufs[k].len, f,
					 d->next_free[i]);
			if (ret)
				return ret;
			i = d->next_free[i];
		}
	}
	d->free_head = i;
	d->num_free -= need;
	d->ndesc[head] = (uint16_t)need;
	d->token[head] = token;
	ret = gm_write_le16(d->m, avail_ring_addr(d, d->avail_idx & (d->cfg.size - 1)), head);
	if (ret)
		return ret;
	d->avail_idx++;
	ret = gm_store_release16(d->m, avail_idx_addr(d), d->avail_idx);
	return ret ? ret : head;
}

static int add_packed(struct vqd *d, const struct vqd_buf *bufs, unsigned n, uint64_t itab,
		      void *token)
{
	unsigned need = itab ? 1 : n;
	uint16_t id = d->free_id;
	struct vqd_raw one;
	struct vqd_raw *descs = &one;
	int ret;

	if (d->num_free < need || id >= d->cfg.size)
		return -ENOSPC;
	if (itab) {
		ret = write_table(d, bufs, n, itab);
		if (ret)
			return ret;
		one = (struct vqd_raw){.addr = itab, .len = n * GM_VRING_DESC_SIZE, .id = id,
				       .flags = GM_VRING_DESC_F_INDIRECT};
	} else {
		descs = calloc(n, sizeof(*descs));
		if (!descs)
			return -ENOMEM;
		for (unsigned k = 0; k < n; k++)
			descs[k] = (struct vqd_raw){
				.addr = bufs[k].addr, .len = bufs[k].len, .id = id,
				.flags = (uint16_t)((bufs[k].write ? GM_VRING_DESC_F_WRITE : 0) |
						    (k + 1 < n ? GM_VRING_DESC_F_NEXT : 0))};
	}
	ret = packed_write_chain(d, descs, need);
	if (descs != &one)
		free(descs);
	if (ret)
		return ret;
	d->free_id = d->next_free[id];
	d->num_free -= need;
	d->ndesc[id] = (uint16_t)need;
	d->token[id] = token;
	return id;
}

int vqd_add(struct vqd *d, const struct vqd_buf *bufs, unsigned n, uint64_t itab_addr,
	    void *token)
{
	if (!n || (itab_addr && !d->cfg.indirect) || n > GM_VQ_MAX_CHAIN)
		return -EINVAL;
	return d->cfg.packed ? add_packed(d, bufs, n, itab_addr, token)
			     : add_split(d, bufs, n, itab_addr, token);
}

/* Position counter modulo 2 * size (wrap counter 1 is the first lap). */
static uint32_t lin(const struct vqd *d, unsigned pos, bool wrap)
{
	return wrap ? pos : pos + d->cfg.size;
}

int vqd_kick_needed(struct vqd *d)
{
	uint16_t v, ow;
	int ret, need;

	gm_ring_fence(); /* our index store before our read of the device's */
	if (!d->cfg.packed) {
		uint16_t old = d->kicked_idx, now = d->avail_idx;

		d->kicked_idx = now;
		if (d->cfg.event_idx) {
			ret = gm_load_acquire16(d->m, avail_event_addr(d), &v);
			return ret ? ret : (uint16_t)(now - v - 1) < (uint16_t)(now - old);
		}
		ret = gm_load_acquire16(d->m, d->cfg.device_addr, &v);
		return ret ? ret : !(v & GM_VRING_USED_F_NO_NOTIFY);
	}
	uint32_t span = 2 * d->cfg.size, o = lin(d, d->kicked_pos, d->kicked_wrap),
		 n = lin(d, d->avail_pos, d->avail_wrap);

	d->kicked_pos = d->avail_pos;
	d->kicked_wrap = d->avail_wrap;
	ret = gm_load_acquire16(d->m, d->cfg.device_addr + 2, &v);
	if (ret)
		return ret;
	if (v == GM_VRING_PACKED_EVENT_FLAG_DISABLE)
		return 0;
	if (v != GM_VRING_PACKED_EVENT_FLAG_DESC || !d->cfg.event_idx)
		return 1;
	ret = gm_load_acquire16(d->m, d->cfg.device_addr, &ow);
	if (ret)
		return ret;
	uint32_t e = lin(d, ow & 0x7fff, ow & WRAP_BIT) % span;

	need = (e + span - o) % span < (n + span - o) % span;
	return need;
}

/* Keep getting interrupts with EVENT_IDX: point used_event at the next. */
static int rearm(struct vqd *d)
{
	if (!d->cfg.event_idx || !d->intr_on)
		return 0;
	if (d->cfg.packed)
		return gm_store_release16(d->m, d->cfg.driver_addr,
					  (uint16_t)(d->used_pos | (d->used_wrap ? WRAP_BIT : 0)));
	return gm_store_release16(d->m, used_event_addr(d), d->last_used);
}

int vqd_get_used(struct vqd *d, void **token, uint32_t *len)
{
	uint32_t id32, l;
	uint16_t v, id;
	int ret;

	if (!d->cfg.packed) {
		ret = gm_load_acquire16(d->m, used_idx_addr(d), &v);
		if (ret)
			return ret;
		if (v == d->last_used)
			return -EAGAIN;
		uint64_t a = used_ring_addr(d, d->last_used & (d->cfg.size - 1));

		ret = gm_read_le32(d->m, a, &id32);
		if (!ret)
			ret = gm_read_le32(d->m, a + 4, &l);
		if (ret)
			return ret;
		if (id32 >= d->cfg.size || !d->ndesc[id32])
			return -EIO;
		id = (uint16_t)id32;
		/* the chain's descriptors go back to the free list */
		uint16_t last = id;

		for (unsigned k = 1; k < d->ndesc[id]; k++)
			last = d->next_free[last];
		d->next_free[last] = d->free_head;
		d->free_head = id;
		d->last_used++;
	} else {
		uint64_t a = desc_at(d, d->used_pos);
		bool av, us;

		ret = gm_load_acquire16(d->m, a + 14, &v);
		if (ret)
			return ret;
		av = v & GM_VRING_PACKED_DESC_F_AVAIL;
		us = v & GM_VRING_PACKED_DESC_F_USED;
		if (av != d->used_wrap || us != d->used_wrap)
			return -EAGAIN;
		ret = gm_read_le16(d->m, a + 12, &id);
		if (!ret)
			ret = gm_read_le32(d->m, a + 8, &l);
		if (ret)
			return ret;
		if (id >= d->cfg.size || !d->ndesc[id])
			return -EIO;
		unsigned pos = d->used_pos + d->ndesc[id];

		if (pos >= d->cfg.size) {
			pos -= d->cfg.size;
			d->used_wrap = !d->used_wrap;
		}
		d->used_pos = (uint16_t)pos;
		d->next_free[id] = d->free_id;
		d->free_id = id;
	}
	d->num_free += d->ndesc[id];
	d->ndesc[id] = 0;
	if (token)
		*token = d->token[id];
	if (len)
		*len = l;
	return rearm(d);
}

int vqd_set_interrupt(struct vqd *d, bool enable)
{
	int ret;

	d->intr_on = enable;
	if (!d->cfg.packed) {
		if (d->cfg.event_idx)
			/* just behind: not reached again for 65535 entries */
			return gm_store_release16(d->m, used_event_addr(d),
						  (uint16_t)(d->last_used - (enable ? 0 : 1)));
		return gm_store_release16(d->m, d->cfg.driver_addr,
					  enable ? 0 : GM_VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (!enable)
		return gm_store_release16(d->m, d->cfg.driver_addr + 2,
					  GM_VRING_PACKED_EVENT_FLAG_DISABLE);
	if (!d->cfg.event_idx)
		return gm_store_release16(d->m, d->cfg.driver_addr + 2,
					  GM_VRING_PACKED_EVENT_FLAG_ENABLE);
	ret = rearm(d);
	return ret ? ret
		   : gm_store_release16(d->m, d->cfg.driver_addr + 2,
					GM_VRING_PACKED_EVENT_FLAG_DESC);
}

int vqd_set_used_event(struct vqd *d, uint16_t idx, bool wrap)
{
	int ret;

	if (!d->cfg.event_idx)
		return -EINVAL;
	d->intr_on = false; /* the caller manages the event from now on */
	if (!d->cfg.packed)
		return gm_store_release16(d->m, used_event_addr(d), idx);
	ret = gm_store_release16(d->m, d->cfg.driver_addr,
				 (uint16_t)((idx & 0x7fff) | (wrap ? WRAP_BIT : 0)));
	return ret ? ret
		   : gm_store_release16(d->m, d->cfg.driver_addr + 2,
					GM_VRING_PACKED_EVENT_FLAG_DESC);
}

int vqd_split_write_desc(struct vqd *d, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
			 uint16_t next)
{
	if (d->cfg.packed || i >= d->cfg.size)
		return -EINVAL;
	return write_desc(d, desc_at(d, i), addr, len, flags, next);
}

int vqd_split_push_head(struct vqd *d, uint16_t head)
{
	int ret;

	if (d->cfg.packed)
		return -EINVAL;
	ret = gm_write_le16(d->m, avail_ring_addr(d, d->avail_idx & (d->cfg.size - 1)), head);
	if (ret)
		return ret;
	d->avail_idx++;
	return gm_store_release16(d->m, avail_idx_addr(d), d->avail_idx);
}

int vqd_split_set_avail_idx(struct vqd *d, uint16_t idx)
{
	if (d->cfg.packed)
		return -EINVAL;
	d->avail_idx = idx;
	return gm_store_release16(d->m, avail_idx_addr(d), idx);
}
