/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: virtio-mmio devices served through a Xen ioreq server.
 *
 * An HVM or PVH guest runs the stock Linux virtio_mmio driver against a 4 KiB
 * MMIO window.  Xen forwards every access to that window to an *ioreq
 * server* in a device-model domain (dom0, or any domain with dm_op rights
 * over the guest); grantmem answers it from a virtio-mmio (version 2,
 * "modern") register file.  With CONFIG_XEN_VIRTIO the guest hands the
 * device grant addresses (GM_GRANT_BASE | gref << 12 | offset) instead of
 * guest-physical ones, so the device model needs no foreign mapping of guest
 * RAM: rings and buffers are reached through a grant region (grant.h).
 *
 * Two objects:
 *
 *   gm_ioreq_dev     the virtio-mmio register file and its state machine.  It
 *                    needs no Xen: its MMIO handlers (gm_ioreq_dev_mmio_read,
 *                    gm_ioreq_dev_mmio_write) can be driven directly, as the
 *                    unit tests do.
 *   gm_ioreq_server  a gm_ioreq_dev wired to Xen: creates the ioreq server,
 *                    maps its ioreq page, claims the MMIO window, binds each
 *                    vCPU's event channel, answers ioreqs, opens the grant
 *                    region for the guest, delivers interrupts, and tears
 *                    everything down when the guest dies or on free.  Needs a
 *                    build with the Xen device-model libraries (otherwise
 *                    gm_ioreq_server_new fails -ENOTSUP).
 *
 * The device: version 2 only (no legacy interface).  VIRTIO_F_VERSION_1 and
 * VIRTIO_F_ACCESS_PLATFORM are always offered and must both be accepted
 * (Linux's grant DMA needs ACCESS_PLATFORM; a driver that refuses it would
 * hand out guest-physical addresses the device cannot reach): FEATURES_OK
 * stays clear otherwise.  Ring addresses must lie inside the device's DMA
 * window (the grant window by default).
 *
 * Hostile drivers.  Everything the guest writes is checked, as the virtio
 * spec (1.2, 4.2.2) asks of a device:
 *  - accesses that are not 4-byte aligned 32-bit register accesses (the
 *    config space also takes 1, 2 and 8 bytes), or outside the window, read
 *    as 0 and are ignored;
 *  - driver features after FEATURES_OK, queue registers of a ready queue or
 *    of a queue the device does not have, and status writes that clear bits
 *    without resetting are ignored;
 *  - a queue made ready with a size of 0, above the maximum, not a power of
 *    2 (split rings), misaligned ring addresses, or rings outside the DMA
 *    window is not started: the device sets DEVICE_NEEDS_RESET (0x40) and,
 *    after DRIVER_OK, raises a configuration-change interrupt;
 *  - the device model can also declare the device broken
 *    (gm_ioreq_dev_needs_reset) when a queue carries garbage.
 * Nothing a guest writes crashes the device model; every rejection logs one
 * info line.
 *
 * Reset (Status = 0, guest death, gm_ioreq_dev_free): every ready queue is
 * disabled through ops->queue_disable, ops->reset runs, and every mapping
 * of the guest's grants in the device's cache is invalidated before the
 * write completes, so the guest can end foreign access to its rings as soon
 * as its reset returns.
 */
#ifndef GRANTMEM_IOREQ_H
#define GRANTMEM_IOREQ_H

#include <grantmem/common.h>
#include <grantmem/mem.h>
#include <grantmem/xen.h>
#include <grantmem/grant.h>
#include <grantmem/dev.h>

#ifdef __cplusplus
extern "C" {
#endif

/* virtio-mmio register offsets (virtio 1.2, 4.2.2), and grantmem's own. */
#define GM_VMMIO_MAGIC_VALUE 0x000
#define GM_VMMIO_VERSION 0x004
#define GM_VMMIO_DEVICE_ID 0x008
#define GM_VMMIO_VENDOR_ID 0x00c
#define GM_VMMIO_DEVICE_FEATURES 0x010
#define GM_VMMIO_DEVICE_FEATURES_SEL 0x014
#define GM_VMMIO_DRIVER_FEATURES 0x020
#define GM_VMMIO_DRIVER_FEATURES_SEL 0x024
#define GM_VMMIO_QUEUE_SEL 0x030
#define GM_VMMIO_QUEUE_NUM_MAX 0x034
#define GM_VMMIO_QUEUE_NUM 0x038
#define GM_VMMIO_QUEUE_READY 0x044
#define GM_VMMIO_QUEUE_NOTIFY 0x050
#define GM_VMMIO_INTERRUPT_STATUS 0x060
#define GM_VMMIO_INTERRUPT_ACK 0x064
#define GM_VMMIO_STATUS 0x070
#define GM_VMMIO_QUEUE_DESC_LOW 0x080
#define GM_VMMIO_QUEUE_DESC_HIGH 0x084
#define GM_VMMIO_QUEUE_DRIVER_LOW 0x090
#define GM_VMMIO_QUEUE_DRIVER_HIGH 0x094
#define GM_VMMIO_QUEUE_DEVICE_LOW 0x0a0
#define GM_VMMIO_QUEUE_DEVICE_HIGH 0x0a4
/*
 * grantmem's vendor register: the guest writes the event channel it
 * allocated for the device's interrupt (see gm_ioreq_irq_ops.setup).
 * Inside the range the spec leaves to the device (0x0a8..0x0fb).
 */
#define GM_VMMIO_IRQ_EVTCHN 0x0f0
#define GM_VMMIO_CONFIG_GENERATION 0x0fc
#define GM_VMMIO_CONFIG 0x100

#define GM_VMMIO_MAGIC 0x74726976u /* "virt" */
#define GM_VMMIO_VENDOR_GRANTMEM 0x4d454d47u /* "GMEM" */
#define GM_VMMIO_WINDOW_SIZE 0x1000u

/* Device status bits (the Status register). */
#define GM_VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define GM_VIRTIO_STATUS_DRIVER 0x02
#define GM_VIRTIO_STATUS_DRIVER_OK 0x04
#define GM_VIRTIO_STATUS_FEATURES_OK 0x08
#define GM_VIRTIO_STATUS_NEEDS_RESET 0x40
#define GM_VIRTIO_STATUS_FAILED 0x80

/* InterruptStatus bits. */
#define GM_VMMIO_INT_VRING 0x1
#define GM_VMMIO_INT_CONFIG 0x2

/* Feature bits the transport looks at (bit numbers). */
#define GM_VMMIO_F_VERSION_1 32
#define GM_VMMIO_F_ACCESS_PLATFORM 33
#define GM_VMMIO_F_RING_PACKED 34

#define GM_IOREQ_MAX_QUEUES 64u
#define GM_IOREQ_MAX_QUEUE_SIZE 32768u
#define GM_IOREQ_CONFIG_MAX 256u

typedef struct gm_ioreq_dev gm_ioreq_dev;

/* A queue the driver made ready: validated guest addresses. */
struct gm_ioreq_queue {
	uint32_t size;     /* descriptors */
	int packed;        /* 1: packed ring (VIRTIO_F_RING_PACKED negotiated) */
	uint64_t desc;     /* descriptor table / packed descriptor ring */
	uint64_t driver;   /* split: available ring; packed: driver event area */
	uint64_t device;   /* split: used ring; packed: device event area */
};

/*
 * The device model's callbacks.  All run on the thread that drives the
 * device (gm_ioreq_dev_mmio_write / gm_ioreq_dev_process /
 * gm_ioreq_server_process), one at a time.
 *
 * queue_enable:  the driver set QueueReady = 1 on queue @q with the checked
 *                addresses @info; create the virtqueue over
 *                gm_ioreq_dev_mem(@d).  Return 0, or a negative errno: the
 *                queue stays not ready and the device needs a reset.
 * queue_disable: the queue stops (QueueReady = 0, reset, guest death): free
 *                the virtqueue and release every mapping of its memory
 *                before returning.  Only after a successful queue_enable.
 * queue_notify:  the driver kicked queue @q (a ready queue; never for others).
 *                Serve it, push used buffers, then gm_ioreq_dev_interrupt().
 * reset:         optional; the device is being reset, after every queue was
 *                disabled.  Forget negotiated state.
 * driver_ok:     optional; the driver set DRIVER_OK (the device is live).
 * config_write:  optional; the driver wrote @len bytes at @offset of the
 *                config space (already stored in the device's copy).
 */
struct gm_ioreq_dev_ops {
	size_t size; /* versioned (common.h): sizeof or 0; the device keeps a copy */
	int (*queue_enable)(void *opaque, gm_ioreq_dev *d, unsigned q,
			    const struct gm_ioreq_queue *info);
	void (*queue_disable)(void *opaque, gm_ioreq_dev *d, unsigned q);
	void (*queue_notify)(void *opaque, gm_ioreq_dev *d, unsigned q);
	void (*reset)(void *opaque, gm_ioreq_dev *d);
	void (*driver_ok)(void *opaque, gm_ioreq_dev *d);
	void (*config_write)(void *opaque, gm_ioreq_dev *d, uint32_t offset, const void *buf,
			     unsigned len);
};

/*
 * How the device interrupts the guest.  A gm_ioreq_server brings the two Xen
 * methods (gm_ioreq_irq_method); a test or another hypervisor glue may plug
 * its own.
 *
 * setup:   optional; the guest wrote @value to GM_VMMIO_IRQ_EVTCHN (the
 *          event-channel method binds that port).  0 or a negative errno
 *          (logged at info: the guest chose the value).
 * raise:   InterruptStatus gained bit(s) @bits (also when bits were already
 *          set: event channels are edge-triggered, a level method may
 *          ignore repeats).  0 or a negative errno (logged).
 * lower:   optional; InterruptStatus became 0 (ack or reset).
 * release: optional; the device is freed: drop what setup bound.
 */
struct gm_ioreq_irq_ops {
	size_t size; /* versioned (common.h): sizeof or 0; the device keeps a copy */
	int (*setup)(void *opaque, gm_ioreq_dev *d, uint32_t value);
	int (*raise)(void *opaque, gm_ioreq_dev *d, uint32_t bits);
	void (*lower)(void *opaque, gm_ioreq_dev *d);
	void (*release)(void *opaque, gm_ioreq_dev *d);
};

/* Versioned (common.h): size first, sizeof or 0. */
struct gm_ioreq_dev_config {
	size_t size;
	uint32_t device_id;         /* virtio device id (2: block); not 0 */
	uint32_t vendor_id;         /* 0: GM_VMMIO_VENDOR_GRANTMEM */
	uint64_t features;          /* device features; VERSION_1 and
				     * ACCESS_PLATFORM are always added */
	unsigned num_queues;        /* 1..GM_IOREQ_MAX_QUEUES */
	unsigned max_queue_size;    /* 1..GM_IOREQ_MAX_QUEUE_SIZE; 0: 256 */
	const void *config;         /* initial config space, copied (may be NULL) */
	size_t config_len;          /* <= GM_IOREQ_CONFIG_MAX */
	/*
	 * The DMA window ring addresses must lie in; size 0: the grant window
	 * [GM_GRANT_BASE, GM_GRANT_BASE + GM_GRANT_REGION_SIZE).
	 */
	uint64_t dma_base;
	uint64_t dma_size;
};

/*
 * gm_ioreq_dev_new - a virtio-mmio device.
 * @mem:    the guest's memory as the device sees it (usually a space with a
 *          grant region at GM_GRANT_BASE); must outlive the device.
 * @cache:  the mapping cache behind @mem, invalidated for @domid on every
 *          reset (NULL: nothing to invalidate); must outlive the device.
 * @domid:  the guest.
 * @cfg:    copied.
 * @ops:    the device model (copied: versioned, common.h); @opaque for it.
 * @irq:    the interrupt method (may be NULL: no interrupts, for tests);
 *          @irq_opaque for it.  Copied, as @ops.
 * Returns 0, -EINVAL (bad config, NULL @mem/@ops/@out, missing
 * queue_enable/queue_disable/queue_notify, a size below the first
 * version's), -E2BIG (@cfg, @ops or @irq sets fields newer than this
 * library), -ENOMEM.  Never logs.
 */
GM_API int gm_ioreq_dev_new(gm_mem *mem, gm_grant_cache *cache, gm_domid domid,
			    const struct gm_ioreq_dev_config *cfg,
			    const struct gm_ioreq_dev_ops *ops, void *opaque,
			    const struct gm_ioreq_irq_ops *irq, void *irq_opaque,
			    gm_ioreq_dev **out);

/*
 * gm_ioreq_dev_free - reset the device (queues disabled, mappings released),
 * release the interrupt method and free.  Accepts NULL.
 */
GM_API void gm_ioreq_dev_free(gm_ioreq_dev *d);

/*
 * gm_ioreq_dev_mmio_read - the guest reads @size (1, 2, 4 or 8) bytes at
 * @offset of the window.  *val gets the value (0 for what reads as
 * nothing).  Returns 0, or -EINVAL for NULL arguments only: guest mistakes
 * are answered, not failed.  Reading InterruptStatus has no side effect.
 */
GM_API int gm_ioreq_dev_mmio_read(gm_ioreq_dev *d, uint64_t offset, unsigned size,
				  uint64_t *val);

/*
 * gm_ioreq_dev_mmio_write - the guest writes @val (@size bytes) at @offset.
 * Runs the state machine: may call queue_enable/queue_disable/reset/
 * driver_ok/config_write and the interrupt method before returning.
 * QueueNotify only records the kick: gm_ioreq_dev_process() calls
 * queue_notify, so the guest's vCPU can be released first.
 * Returns 0, or -EINVAL for a NULL @d.
 */
GM_API int gm_ioreq_dev_mmio_write(gm_ioreq_dev *d, uint64_t offset, unsigned size,
				   uint64_t val);

/*
 * gm_ioreq_dev_process - call queue_notify for every queue kicked since the
 * last call (in queue order).  Returns how many queues were served.
 */
GM_API int gm_ioreq_dev_process(gm_ioreq_dev *d);

/*
 * gm_ioreq_dev_interrupt - set @bits (GM_VMMIO_INT_*) in InterruptStatus
 * and raise the interrupt.  May be called from any thread.  Returns 0, or
 * the method's error (-ENOTCONN: the guest has not set the method up yet;
 * the bit stays set for its next read).
 */
GM_API int gm_ioreq_dev_interrupt(gm_ioreq_dev *d, uint32_t bits);

/*
 * gm_ioreq_dev_needs_reset - the device is broken (a queue carried garbage):
 * set DEVICE_NEEDS_RESET, stop calling queue_notify until the driver resets
 * it, and raise a configuration-change interrupt if DRIVER_OK is set.  The
 * queues stay enabled (their mappings are released by the reset).
 * Logs @why at info.  Any thread (a queue worker that found its queue
 * broken).
 */
GM_API void gm_ioreq_dev_needs_reset(gm_ioreq_dev *d, const char *why);

/*
 * gm_ioreq_dev_reset - reset the device as a Status = 0 write does (also
 * used on guest death).  Returns the number of queues that were disabled.
 */
GM_API int gm_ioreq_dev_reset(gm_ioreq_dev *d);

/*
 * gm_ioreq_dev_set_config - replace config-space bytes [offset, offset +
 * len), bump ConfigGeneration and, after DRIVER_OK, raise a
 * configuration-change interrupt (InterruptStatus bit 1).  A driver that
 * reads ConfigGeneration around its config reads never takes bytes of two
 * changes.  Returns 0 or -EINVAL (out of range); a failed interrupt is
 * counted, not returned.  Thread-safe (the guest's MMIO accesses may run
 * meanwhile); never logs.  gm_dev_set_config() calls it on the backend
 * loop's register file.
 */
GM_API int gm_ioreq_dev_set_config(gm_ioreq_dev *d, uint32_t offset, const void *buf,
				   size_t len);

/* Accessors: thread-safe, except gm_ioreq_dev_queue_ready (the device's thread). */
GM_API gm_mem *gm_ioreq_dev_mem(const gm_ioreq_dev *d);
GM_API gm_domid gm_ioreq_dev_domid(const gm_ioreq_dev *d);
/* gm_ioreq_dev_features - the features the driver accepted (FEATURES_OK). */
GM_API uint64_t gm_ioreq_dev_features(const gm_ioreq_dev *d);
/* gm_ioreq_dev_status - the Status register. */
GM_API uint32_t gm_ioreq_dev_status(const gm_ioreq_dev *d);
/* gm_ioreq_dev_queue_ready - 1 if queue @q is ready (enabled), else 0. */
GM_API int gm_ioreq_dev_queue_ready(const gm_ioreq_dev *d, unsigned q);
GM_API void gm_ioreq_dev_set_priv(gm_ioreq_dev *d, void *priv);
GM_API void *gm_ioreq_dev_priv(const gm_ioreq_dev *d);

/* Transport counters (gm_ioreq_dev_stats).  Versioned (common.h): set
 * size to sizeof, or 0, before the call; filled up to it. */
struct gm_ioreq_dev_stats {
	size_t size;
	uint64_t reads;       /* MMIO reads answered */
	uint64_t writes;      /* MMIO writes handled */
	uint64_t notifies;    /* QueueNotify writes */
	uint64_t interrupts;  /* interrupts raised */
	uint64_t resets;      /* device resets */
	uint64_t rejected;    /* guest writes ignored or refused */
};
GM_API void gm_ioreq_dev_stats(const gm_ioreq_dev *d, struct gm_ioreq_dev_stats *st);

/* ---- the Xen ioreq server ------------------------------------------------- */

typedef struct gm_ioreq_server gm_ioreq_server;

/* How a gm_ioreq_server interrupts the guest. */
enum gm_ioreq_irq_method {
	/*
	 * The guest allocates an unbound event channel for the device model's
	 * domain and writes its port to GM_VMMIO_IRQ_EVTCHN; the server binds
	 * it and notifies it for every interrupt.  Works for PVH guests (the
	 * only method that does on Xen 4.17) and HVM guests with a small glue
	 * driver (tests/xen/pvh/gm_vmmio_evtchn.c).
	 */
	GM_IOREQ_IRQ_EVTCHN = 0,
	/*
	 * xendevicemodel_set_isa_irq_level(isa_irq): a level-triggered legacy
	 * IRQ, for HVM guests with an emulated PIC/IOAPIC and the device named
	 * on the command line (virtio_mmio.device=4K@base:irq).  Never for a
	 * PVH guest: Xen 4.17 crashes (#GP in hvm_vcpu_has_pending_irq).
	 */
	GM_IOREQ_IRQ_ISA = 1,
	/* gm_ioreq_server_config.irq_ops */
	GM_IOREQ_IRQ_CUSTOM = 2,
};

/* Versioned (common.h): size first, sizeof or 0. */
struct gm_ioreq_server_config {
	size_t size;
	gm_domid domid;                     /* the guest: 0..GM_DOMID_MAX */
	uint64_t base;                      /* MMIO window; 0: 0xfe000000 */
	enum gm_ioreq_irq_method irq;
	unsigned isa_irq;                   /* GM_IOREQ_IRQ_ISA: 0..15 */
	const struct gm_ioreq_irq_ops *irq_ops; /* GM_IOREQ_IRQ_CUSTOM */
	void *irq_opaque;
	enum gm_grant_policy policy;        /* of the guest's grant region */
	const struct gm_grant_cache_config *cache; /* NULL: defaults */
};

#define GM_IOREQ_DEFAULT_BASE ((uint64_t)0xfe000000)

/*
 * gm_ioreq_server_new - serve a virtio-mmio device to guest cfg->domid.
 * @x:     a real-Xen world (gm_xen_open("real")): grants and event channels
 *         go through it; the ioreq server itself through libxendevicemodel
 *         and libxenforeignmemory.  Must outlive the server.
 * Creates the ioreq server (no buffered ioreqs), maps its ioreq page,
 * claims [base, base + 4 KiB), enables it, binds every vCPU's event
 * channel, and builds the device (gm_ioreq_dev_new) over a space with a
 * grant region for the guest at GM_GRANT_BASE.  Create the guest paused and
 * unpause it after this returns: accesses before would find no device.
 * Needs dm_op rights over the guest (dom0, or a device-model domain given
 * them by XSM/the toolstack).
 * Returns 0, -EINVAL (bad config), -E2BIG (a config sets fields newer than
 * this library), -ENOTSUP (built without the Xen
 * device-model libraries), -ESRCH (no such guest), -EPERM, -EEXIST (the
 * window is claimed already), -ENOMEM, or Xen's error; logged at warning.
 * Free with gm_ioreq_server_free().
 */
GM_API int gm_ioreq_server_new(gm_xen *x, const struct gm_ioreq_server_config *cfg,
			       const struct gm_ioreq_dev_config *dcfg,
			       const struct gm_ioreq_dev_ops *ops, void *opaque,
			       gm_ioreq_server **out);

/*
 * gm_ioreq_server_free - reset the device (every mapping released), destroy
 * the ioreq server, unbind and unmap everything.  Accepts NULL.
 */
GM_API void gm_ioreq_server_free(gm_ioreq_server *s);

/* gm_ioreq_server_fd - POLLIN when gm_ioreq_server_process() has work. */
GM_API int gm_ioreq_server_fd(gm_ioreq_server *s);

/*
 * gm_ioreq_server_process - answer every pending ioreq, then serve kicked
 * queues (gm_ioreq_dev_process).  Never blocks.  Returns the number of
 * ioreqs answered (>= 0), -ESHUTDOWN once the guest has shut down or died
 * (the device was reset then: nothing of the guest stays mapped), or another
 * negative errno from Xen.
 */
GM_API int gm_ioreq_server_process(gm_ioreq_server *s);

/*
 * gm_ioreq_server_run - loop: poll gm_ioreq_server_fd() and @stop_fd (-1:
 * none), call gm_ioreq_server_process(), and check every @tick_ms (0: 1000)
 * whether the guest is still alive.  Returns 0 when @stop_fd became
 * readable, -ESHUTDOWN when the guest shut down or died, or an error.
 */
GM_API int gm_ioreq_server_run(gm_ioreq_server *s, int stop_fd, int tick_ms);

/*
 * gm_ioreq_server_guest_alive - 1 if the guest runs, 0 if it has shut down,
 * is dying or is gone (then the device is reset), or a negative errno.
 */
GM_API int gm_ioreq_server_guest_alive(gm_ioreq_server *s);

/* The device and the grant cache of the server (valid until free). */
GM_API gm_ioreq_dev *gm_ioreq_server_dev(gm_ioreq_server *s);
GM_API gm_grant_cache *gm_ioreq_server_cache(gm_ioreq_server *s);

/* Server counters (gm_ioreq_server_stats).  Versioned (common.h): set
 * size to sizeof, or 0, before the call; filled up to it. */
struct gm_ioreq_server_stats {
	size_t size;
	uint64_t ioreqs;         /* ioreqs answered */
	uint64_t mmio;           /* ... of which MMIO reads/writes */
	uint64_t invalidates;    /* ... invalidate (mapcache) requests acknowledged */
	uint64_t unhandled;      /* ... other types, or pointer/rep forms */
	uint64_t irq_errors;     /* interrupts the method failed to deliver */
	uint64_t late;           /* ioreqs gm_ioreq_server_run found only at a
				  * tick, without an event (lost wakeups) */
};
GM_API void gm_ioreq_server_stats(gm_ioreq_server *s, struct gm_ioreq_server_stats *st);

/* ---- a device of the backend loop (dev.h) over this transport ------------- */

/*
 * gm_ioreq_loop serves a gm_dev (dev.h) as a virtio-mmio device: the
 * device's id, features, config space, queue count (max_queues) and
 * largest queue come from the gm_dev's configuration; every queue the
 * driver enables is added to one connection of the device (named "domain
 * <N>") and served by the loop's threads, QueueNotify kicking it, with the
 * connection's mapping budget and counters from the transport's grant
 * cache; the loop's interrupts raise GM_VMMIO_INT_VRING through the
 * interrupt method; a queue that breaks sets DEVICE_NEEDS_RESET; a
 * disabled queue or a reset stops its queues and releases their mappings
 * before the driver can see it.
 */
typedef struct gm_ioreq_loop gm_ioreq_loop;

/*
 * gm_ioreq_loop_new - a gm_ioreq_server (gm_ioreq_server_new, with @cfg)
 * serving @d.  Run it with gm_ioreq_server_run(gm_ioreq_loop_server(l)).
 * Returns 0, -EINVAL, gm_ioreq_server_new's error, gm_dev_attach's error.
 * Free with gm_ioreq_loop_free().
 */
GM_API int gm_ioreq_loop_new(gm_xen *x, const struct gm_ioreq_server_config *cfg, gm_dev *d,
			     gm_ioreq_loop **out);

/*
 * gm_ioreq_loop_new_dev - the register file alone (gm_ioreq_dev_new, with
 * @mem, @cache, @domid, @irq, @irq_opaque) serving @d: for another
 * hypervisor's glue, and for tests without Xen.  @policy: the data
 * buffers' mapping policy.  Returns as gm_ioreq_loop_new.
 */
GM_API int gm_ioreq_loop_new_dev(gm_mem *mem, gm_grant_cache *cache, gm_domid domid,
				 enum gm_grant_policy policy, gm_dev *d,
				 const struct gm_ioreq_irq_ops *irq, void *irq_opaque,
				 gm_ioreq_loop **out);

/* The server (NULL for gm_ioreq_loop_new_dev), the register file, and the
 * device's connection (its counters: gm_dev_conn_stats).  Valid until
 * gm_ioreq_loop_free. */
GM_API gm_ioreq_server *gm_ioreq_loop_server(gm_ioreq_loop *l);
GM_API gm_ioreq_dev *gm_ioreq_loop_dev(gm_ioreq_loop *l);
GM_API gm_dev_conn *gm_ioreq_loop_conn(gm_ioreq_loop *l);

/*
 * gm_ioreq_loop_free - reset the device (its queues stop, every mapping
 * released), free the server or register file and the connection.
 * Accepts NULL.
 */
GM_API void gm_ioreq_loop_free(gm_ioreq_loop *l);

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_IOREQ_H */
