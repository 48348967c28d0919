/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program built against the installed libgrantmem-ioreq:
 * `cc consumer-ioreq.c $(pkg-config --cflags --libs grantmem-ioreq)`.
 * It drives a virtio-mmio register file (gm_ioreq_dev, which needs no Xen)
 * over a RAM space through the start of a driver's handshake, and asks for
 * an ioreq server on a world without Xen, which must fail cleanly.  .ci/run
 * builds and runs it, shared and static (the static link needs every
 * library grantmem-ioreq.pc names); it prints OK and exits 0.
 */
#include <grantmem/grantmem.h>

#include <errno.h>
#include <stdio.h>

static int queue_enable(void *opaque, gm_ioreq_dev *d, unsigned q,
			const struct gm_ioreq_queue *info)
{
	(void)opaque, (void)d, (void)q, (void)info;
	return 0;
}

static void queue_disable(void *opaque, gm_ioreq_dev *d, unsigned q)
{
	(void)opaque, (void)d, (void)q;
}

static void queue_notify(void *opaque, gm_ioreq_dev *d, unsigned q)
{
	(void)opaque, (void)d, (void)q;
}

static const struct gm_ioreq_dev_ops ops = {
	.queue_enable = queue_enable,
	.queue_disable = queue_disable,
	.queue_notify = queue_notify,
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "consumer-ioreq: %s: %s (%d)\n", what, gm_strerror(err), err);
	return 1;
}

int main(void)
{
	struct gm_ioreq_dev_config cfg = {.device_id = 2, .num_queues = 1};
	struct gm_ioreq_server_config scfg = {.domid = 1};
	gm_ioreq_server *srv = NULL;
	gm_ioreq_dev *dev = NULL;
	gm_region *ram = NULL;
	gm_space *space = NULL;
	uint64_t v = 0;
	int err, rc = 1;

	err = gm_space_new(&space);
	if (!err)
		err = gm_ram_region_new_anon(1 << 16, &ram);
	if (!err)
		err = gm_space_add(space, 0, ram);
	if (!err)
		err = gm_ioreq_dev_new(gm_space_mem(space), NULL, 1, &cfg, &ops, NULL, NULL, NULL,
				       &dev);
	if (err < 0) {
		rc = fail("set up", err);
		goto out;
	}
	gm_ioreq_dev_mmio_read(dev, GM_VMMIO_MAGIC_VALUE, 4, &v);
	if (v != GM_VMMIO_MAGIC) {
		fprintf(stderr, "consumer-ioreq: magic 0x%llx\n", (unsigned long long)v);
		goto out;
	}
	gm_ioreq_dev_mmio_read(dev, GM_VMMIO_VERSION, 4, &v);
	if (v != 2) {
		fprintf(stderr, "consumer-ioreq: version %llu\n", (unsigned long long)v);
		goto out;
	}
	gm_ioreq_dev_mmio_write(dev, GM_VMMIO_STATUS, 4,
				GM_VIRTIO_STATUS_ACKNOWLEDGE | GM_VIRTIO_STATUS_DRIVER);
	if (gm_ioreq_dev_status(dev) != (GM_VIRTIO_STATUS_ACKNOWLEDGE | GM_VIRTIO_STATUS_DRIVER)) {
		fprintf(stderr, "consumer-ioreq: status 0x%x\n", gm_ioreq_dev_status(dev));
		goto out;
	}
	/* no world: refused before any Xen call (-ENOTSUP in a build without
	 * the ioreq server) */
	err = gm_ioreq_server_new(NULL, &scfg, &cfg, &ops, NULL, &srv);
	if ((err != -EINVAL && err != -ENOTSUP) || srv) {
		fprintf(stderr, "consumer-ioreq: a server without a world: %d\n", err);
		goto out;
	}
	puts("OK");
	rc = 0;
out:
	gm_ioreq_dev_free(dev);
	gm_space_free(space);
	gm_region_free(ram);
	return rc;
}
