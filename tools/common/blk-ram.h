/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The RAM transport of grantmem-blk and grantmem-guest (tools/blk-ram.c):
 * virtio devices on plain shared memory, the baseline the grant transports
 * are measured against.  As with vhost-user, the guest keeps its RAM in a
 * memfd, lays its virtqueues and buffers out in it at guest-physical
 * addresses and hands the backend the memfd, the queue layout and one kick
 * and one call eventfd per queue over a unix socket (SCM_RIGHTS).  The
 * backend maps the memfd as a RAM region of a gm space at the guest's base
 * and serves the queues with the backend loop (dev.h), attached as a
 * transport of its own: the same queue threads and request handlers as the
 * grant transports.
 *
 * The protocol: SOCK_SEQPACKET (one message per record), host byte order,
 * every message starts with struct blk_ram_hdr.
 *
 *   backend -> guest   HELLO   the device: id, features, queue limits, config
 *   guest -> backend   SETUP   accepted features, memory, queues; with the
 *                              fds: the memfd, then queue 0's kick and call
 *                              eventfds, queue 1's, ...
 *   backend -> guest   READY   status 0: serving; -errno: refused, and the
 *                              backend closes the connection
 *   guest -> backend   CLOSE   stop serving
 *   backend -> guest   CLOSED  every queue stopped; the connection ends
 *
 * The memfd must be sealed against shrinking (F_SEAL_SHRINK): the backend
 * keeps it mapped, and a file cut short under a mapping faults its reader.
 * Dropping the connection disconnects too.  The backend serves one guest at
 * a time and then waits for the next.
 */
#ifndef GM_TOOLS_BLK_RAM_H
#define GM_TOOLS_BLK_RAM_H

#include <grantmem/grantmem.h>
#include <grantmem/dev.h>
#include <grantmem/vdev.h>
#include <grantmem/virtio.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLK_RAM_MAGIC 0x6d617267u /* "gram" */
#define BLK_RAM_VERSION 1u
#define BLK_RAM_MAX_QUEUES GM_VDEV_MAX_QUEUES
#define BLK_RAM_CONFIG_MAX GM_VDEV_CONFIG_MAX

enum blk_ram_type {
	BLK_RAM_HELLO = 1,
	BLK_RAM_SETUP = 2,
	BLK_RAM_READY = 3,
	BLK_RAM_CLOSE = 4,
	BLK_RAM_CLOSED = 5,
};

struct blk_ram_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;     /* enum blk_ram_type */
	int32_t status;    /* READY, CLOSED: 0 or -errno; else 0 */
	uint32_t reserved;
};

struct blk_ram_hello {
	struct blk_ram_hdr h;
	uint32_t device_id;
	uint32_t max_queues;
	uint32_t max_queue_size;
	uint32_t config_len;
	uint64_t features;  /* offered; RING_PACKED: packed layouts allowed */
	uint8_t config[BLK_RAM_CONFIG_MAX];
};

struct blk_ram_queue {
	uint32_t size;
	uint32_t reserved;
	uint64_t desc, driver, device; /* guest-physical, as in gm_vq_config */
};

struct blk_ram_setup {
	struct blk_ram_hdr h;
	uint64_t features;  /* accepted: a subset of the offer, with VERSION_1 */
	uint64_t mem_base;  /* guest-physical address of the memfd's offset 0 */
	uint64_t mem_size;  /* bytes of guest RAM from there */
	uint32_t num_queues;
	uint32_t reserved;
	struct blk_ram_queue q[BLK_RAM_MAX_QUEUES]; /* the first num_queues */
};

/* blk_ram_send - send one message on @sock with @nfds fds (SCM_RIGHTS).
 * Returns 0 or a negative errno (-EMSGSIZE when it went out short). */
int blk_ram_send(int sock, const void *msg, size_t len, const int *fds, unsigned nfds);

/* ---- backend ----------------------------------------------------------------- */

struct blk_ram_opts {
	const char *socket;          /* listen here (a stale socket is replaced) */
	/*
	 * The device served to each guest (dev.h): its id, features, config
	 * space, queue count and size offered in HELLO, its handlers serving
	 * the queues of the guest's connection ("RAM guest").
	 */
	gm_dev *dev;
	uint64_t features;           /* offered besides the device's (VERSION_1 is added;
				      * RING_PACKED: packed rings allowed) */
	int stop_fd;                 /* readable: stop (a signalfd) */
};

/*
 * blk_ram_run - serve guests on o->socket, one at a time, until stop_fd
 * becomes readable.  A guest's bad messages (short, malformed, memory or
 * rings it cannot have, fds that are not what they should be) refuse it
 * with -errno and one log line on stderr; the backend goes on.
 * Returns the exit status for main(): 0, or 1 when the socket cannot be set
 * up.
 */
int blk_ram_run(const struct blk_ram_opts *o);

/* ---- guest -------------------------------------------------------------------- */

struct blk_ram_guest {
	int sock;             /* -1: not connected */
	int memfd;            /* -1: no memory */
	unsigned char *va;    /* the memory, mapped */
	uint64_t base, size;  /* guest-physical base and size */
	uint64_t used;        /* allocated so far (page multiples) */
};

/* Zero @g and mark everything closed. */
void blk_ram_guest_init(struct blk_ram_guest *g);

/*
 * blk_ram_guest_connect - connect to the backend at @path and read its
 * HELLO into @bi (layouts: split, and packed when RING_PACKED is offered;
 * persistent: 0).  Waits up to @timeout_ms.  0 or -errno.
 */
int blk_ram_guest_connect(struct blk_ram_guest *g, const char *path, struct gm_vdev_back_info *bi,
			  int timeout_ms);

/*
 * blk_ram_guest_mem - create @size bytes of guest RAM at guest-physical
 * @base (page aligned): a memfd, sealed against resizing, mapped here.
 * 0 or -errno.
 */
int blk_ram_guest_mem(struct blk_ram_guest *g, uint64_t base, size_t size);

/*
 * blk_ram_guest_alloc - @bytes (rounded up to pages) of zeroed guest RAM:
 * the host address, and its guest-physical address in *gpa.  Freed only
 * with the whole memory.  NULL when the memory is full.
 */
void *blk_ram_guest_alloc(struct blk_ram_guest *g, size_t bytes, uint64_t *gpa);

/*
 * blk_ram_guest_setup - send SETUP (the features and queues of @fi, the
 * memory, the fds) and wait up to @timeout_ms for READY.
 * Returns 0 (being served), the backend's refusal (-errno), or -errno.
 */
int blk_ram_guest_setup(struct blk_ram_guest *g, const struct gm_vdev_front_info *fi,
			const int *kick, const int *call, int timeout_ms);

/* blk_ram_guest_lost - has the backend closed the connection (or spoken out of turn)? */
bool blk_ram_guest_lost(struct blk_ram_guest *g);

/*
 * blk_ram_guest_close - CLOSE, wait up to @timeout_ms for CLOSED, close the
 * socket.  0, or -errno (the backend did not confirm: -ETIMEDOUT, -EPIPE).
 * The memory stays: blk_ram_guest_free_mem().
 */
int blk_ram_guest_close(struct blk_ram_guest *g, int timeout_ms);

/* blk_ram_guest_free_mem - unmap and close the guest's memory. */
void blk_ram_guest_free_mem(struct blk_ram_guest *g);

#endif /* GM_TOOLS_BLK_RAM_H */
