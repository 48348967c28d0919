// SPDX-License-Identifier: GPL-2.0
/*
 * gm_vmmio_evtchn - give a virtio-mmio device served by a Xen ioreq server
 * an event channel as its interrupt, for PVH test domains.
 *
 * A PVH domain has no emulated interrupt controller, so a device model in
 * another domain cannot raise a legacy IRQ line for it (Xen 4.17's
 * set_isa_irq_level even crashes the hypervisor for a PVH domain).  What
 * does work is an interdomain event channel.  This module:
 *
 *  1. allocates an unbound event channel that the backend domain may bind;
 *  2. binds it to a Linux IRQ (edge-triggered, shareable);
 *  3. tells the device model the port by writing it to the vendor register
 *     at offset 0x0f0 of the virtio-mmio window (grantmem's ioreq transport
 *     binds the port when it sees that write);
 *  4. registers a "virtio-mmio" platform device with that window and IRQ,
 *     which the stock virtio_mmio driver and the device's driver (virtio_blk,
 *     virtio_net) then drive.
 *
 * Each window named in base= gets its own event channel and device.
 *
 * Load: insmod gm_vmmio_evtchn.ko [base=0xfe000000[,0xfe001000...]] [size=0x1000]
 *       [backend=0]
 */
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/ioport.h>
#include <linux/io.h>
#include <xen/xen.h>
#include <xen/events.h>
#include <xen/interface/event_channel.h>
#include <asm/xen/hypercall.h>

/* The vendor register that carries the port: grantmem's GM_IOREQ_REG_EVTCHN. */
#define GM_VMMIO_REG_EVTCHN 0x0f0
/* Windows one load registers (a disk and a network device, say). */
#define GM_VMMIO_MAX 4

static unsigned long base[GM_VMMIO_MAX] = {0xfe000000};
static int nbase;
module_param_array(base, ulong, &nbase, 0444);
MODULE_PARM_DESC(base, "guest physical address of each virtio-mmio window (comma-separated)");
static unsigned long size = 0x1000;
module_param(size, ulong, 0444);
MODULE_PARM_DESC(size, "size of each window");
static int backend;
module_param(backend, int, 0444);
MODULE_PARM_DESC(backend, "domain of the device model (Linux 6.1 x86 grants to dom0 only)");

/* Read-only outputs, one per window, so the test domain's init can log them. */
static unsigned int port[GM_VMMIO_MAX];
static int nport;
module_param_array(port, uint, &nport, 0444);
static int irq[GM_VMMIO_MAX] = {-1, -1, -1, -1};
static int nirq;
module_param_array(irq, int, &nirq, 0444);

static void gm_vmmio_close_port(unsigned int p)
{
	struct evtchn_close close = { .port = p };

	HYPERVISOR_event_channel_op(EVTCHNOP_close, &close);
}

/* Window @i: its event channel, its IRQ, its platform device. */
static int gm_vmmio_add(int i)
{
	struct evtchn_alloc_unbound alloc = {
		.dom = DOMID_SELF,
		.remote_dom = backend,
	};
	struct platform_device *pdev;
	struct resource res[2];
	void __iomem *regs;
	int err;

	err = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &alloc);
	if (err) {
		pr_err("gm_vmmio_evtchn: alloc_unbound(remote %d): %d\n", backend, err);
		return err;
	}
	port[i] = alloc.port;

	/*
	 * bind_evtchn_to_irq gives an edge-type irq on the xen-dyn chip; the
	 * virtio_mmio driver's request_irq(IRQF_SHARED) accepts it.
	 */
	irq[i] = bind_evtchn_to_irq(port[i]);
	if (irq[i] < 0) {
		pr_err("gm_vmmio_evtchn: bind_evtchn_to_irq(%u): %d\n", port[i], irq[i]);
		err = irq[i];
		gm_vmmio_close_port(port[i]);
		return err;
	}

	/*
	 * The device model must know the port before the driver can expect an
	 * interrupt, so write it before registering the device.
	 */
	regs = ioremap(base[i], size);
	if (!regs)
		return -ENOMEM; /* the irq stays bound: 6.1 exports no handler-less unbind */
	writel(port[i], regs + GM_VMMIO_REG_EVTCHN);
	iounmap(regs);

	res[0] = (struct resource)DEFINE_RES_MEM(base[i], size);
	res[1] = (struct resource)DEFINE_RES_IRQ(irq[i]);
	pdev = platform_device_register_resndata(NULL, "virtio-mmio", PLATFORM_DEVID_AUTO, res,
						 ARRAY_SIZE(res), NULL, 0);
	if (IS_ERR(pdev)) {
		err = PTR_ERR(pdev);
		pr_err("gm_vmmio_evtchn: registering virtio-mmio: %d\n", err);
		return err;
	}
	pr_info("gm_vmmio_evtchn: virtio-mmio at %#lx size %#lx, event channel %u (dom %d) irq %d\n",
		base[i], size, port[i], backend, irq[i]);
	return 0;
}

/*
 * Every window is tried; the module loads when at least one device is
 * there (the test domain's init then misses only the others).
 */
static int __init gm_vmmio_init(void)
{
	int i, n = nbase ? nbase : 1, added = 0, err = -ENODEV;

	if (!xen_domain())
		return -ENODEV;
	if (size < GM_VMMIO_REG_EVTCHN + 4)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		int r = gm_vmmio_add(i);

		if (r)
			err = r;
		else
			added++;
	}
	nport = nirq = n;
	return added ? 0 : err;
}

/*
 * No module_exit: the device and its event channel live as long as the
 * test domain (which makes the module permanent, as intended).
 */
module_init(gm_vmmio_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("virtio-mmio device with a Xen event channel as its interrupt (grantmem tests)");
