// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * blk-ram-hostile SOCKET - a hostile guest for grantmem-blk --transport ram
 * (tools/blk-ram.h), run by tests/test-blk-ram.sh against a live backend.
 *
 * Each case connects, reads HELLO and sends what the backend must refuse:
 * short, long and malformed messages, fds missing or of the wrong kind,
 * memory it cannot have, features it did not offer, queues and rings that
 * do not fit.  The backend must answer READY with the exact negative errno
 * and serve the next guest.  Then guests that were accepted and misbehave:
 * one speaks out of turn (dropped), one puts a buffer outside its memory
 * (the queue breaks, CLOSE still gets CLOSED).  Prints one line per case
 * and "refusals=N" (the backend logs one line per refusal); exits 0 when
 * every case behaved, 1 otherwise.
 */
#include "config.h"

#include "blk-ram.h"
#include "virtq-driver.h"

#include <grantmem/ram.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define BASE 0x100000ull
#define MEM (64u << 10)
#define QSIZE 8u
#define TIMEOUT_MS 5000

static const char *sock_path;
static unsigned ncases, failures, refusals;

/* What one case sends: a SETUP (possibly spoilt), its length and fds. */
struct msg {
	struct blk_ram_setup s;
	unsigned char extra[64]; /* room for a too-long message */
	size_t len;
	int fds[8];
	unsigned nfds;
};

/* The next message from the backend: its length, 0 at end of connection, -1. */
static ssize_t recv_hdr(int sock, struct blk_ram_hdr *h)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};

	if (poll(&p, 1, TIMEOUT_MS) != 1)
		return -1;
	return recv(sock, h, sizeof(*h), 0);
}

static void check(bool ok, const char *name, const char *what)
{
	printf("%s - %s%s%s\n", ok ? "ok" : "FAIL", name, ok ? "" : ": ", ok ? "" : what);
	ncases++;
	if (!ok)
		failures++;
}

/* A guest with good memory, eventfds and a SETUP for one split queue. */
struct guest {
	struct blk_ram_guest g;
	struct gm_vdev_back_info bi;
	int kick, call;
};

static int guest_open(struct guest *gu)
{
	blk_ram_guest_init(&gu->g);
	gu->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	gu->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (gu->kick < 0 || gu->call < 0 || blk_ram_guest_mem(&gu->g, BASE, MEM) < 0 ||
	    blk_ram_guest_connect(&gu->g, sock_path, &gu->bi, TIMEOUT_MS) < 0)
		return -1;
	return 0;
}

static void guest_close(struct guest *gu)
{
	if (gu->g.sock >= 0)
		close(gu->g.sock);
	gu->g.sock = -1;
	blk_ram_guest_free_mem(&gu->g);
	close(gu->kick);
	close(gu->call);
}

static void good_msg(const struct guest *gu, struct msg *m)
{
	memset(m, 0, sizeof(*m));
	m->s.h.magic = BLK_RAM_MAGIC;
	m->s.h.version = BLK_RAM_VERSION;
	m->s.h.type = BLK_RAM_SETUP;
	m->s.features = GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1);
	m->s.mem_base = BASE;
	m->s.mem_size = MEM;
	m->s.num_queues = 1;
	m->s.q[0] = (struct blk_ram_queue){
		.size = QSIZE, .desc = BASE, .driver = BASE + 0x1000, .device = BASE + 0x2000,
	};
	m->len = sizeof(m->s);
	m->fds[0] = gu->g.memfd;
	m->fds[1] = gu->kick;
	m->fds[2] = gu->call;
	m->nfds = 3;
}

/* Send @m and expect READY with @want (0 or -errno). */
static bool send_expect(struct guest *gu, const struct msg *m, int want, char *why, size_t n)
{
	struct blk_ram_hdr h;
	ssize_t k;

	if (blk_ram_send(gu->g.sock, &m->s, m->len, m->fds, m->nfds) < 0) {
		snprintf(why, n, "send: %s", strerror(errno));
		return false;
	}
	k = recv_hdr(gu->g.sock, &h);
	if (k != (ssize_t)sizeof(h) || h.magic != BLK_RAM_MAGIC || h.type != BLK_RAM_READY) {
		snprintf(why, n, "no READY (%zd bytes)", k);
		return false;
	}
	if (h.status != want) {
		snprintf(why, n, "READY %d (%s), want %d (%s)", h.status, strerror(-h.status), want,
			 strerror(-want));
		return false;
	}
	return true;
}

/* How a case spoils the good SETUP. */
enum spoil {
	SP_SHORT, SP_HDR_ONLY, SP_LONG, SP_MAGIC, SP_VERSION, SP_TYPE, SP_NO_FDS, SP_FD_SHORT,
	SP_ZERO_QUEUES, SP_MANY_QUEUES, SP_FEATURE, SP_NO_VERSION_1, SP_MEM_ZERO,
	SP_MEM_UNALIGNED, SP_MEM_WRAPS, SP_MEM_TOO_BIG, SP_UNSEALED, SP_MEM_PIPE, SP_KICK_PIPE,
	SP_CALL_MEMFD, SP_QSIZE_ZERO, SP_QSIZE_BIG, SP_QSIZE_ODD, SP_DESC_OUTSIDE,
	SP_USED_STRADDLES, SP_DESC_MISALIGNED, SP_RING_WRAPS, SP_NSPOIL,
};

static const struct {
	const char *name;
	int err;
} spoils[SP_NSPOIL] = {
	[SP_SHORT] = {"an 8-byte message", -EBADMSG},
	[SP_HDR_ONLY] = {"a SETUP header alone", -EBADMSG},
	[SP_LONG] = {"SETUP with 64 bytes too many", -EBADMSG},
	[SP_MAGIC] = {"a bad magic number", -EPROTO},
	[SP_VERSION] = {"protocol version 2", -EPROTO},
	[SP_TYPE] = {"CLOSE instead of SETUP", -EPROTO},
	[SP_NO_FDS] = {"no fds", -EINVAL},
	[SP_FD_SHORT] = {"the call fd missing", -EINVAL},
	[SP_ZERO_QUEUES] = {"zero queues", -EINVAL},
	[SP_MANY_QUEUES] = {"more queues than offered", -EINVAL},
	[SP_FEATURE] = {"a feature not offered", -EINVAL},
	[SP_NO_VERSION_1] = {"no VIRTIO_F_VERSION_1", -EINVAL},
	[SP_MEM_ZERO] = {"memory of size 0", -EINVAL},
	[SP_MEM_UNALIGNED] = {"memory at an unaligned base", -EINVAL},
	[SP_MEM_WRAPS] = {"memory wrapping past 2^64", -EINVAL},
	[SP_MEM_TOO_BIG] = {"more memory than the memfd holds", -EINVAL},
	[SP_UNSEALED] = {"a memfd not sealed against shrinking", -EPERM},
	[SP_MEM_PIPE] = {"a pipe as the memory", -EINVAL},
	[SP_KICK_PIPE] = {"a pipe as the kick fd", -EINVAL},
	[SP_CALL_MEMFD] = {"the memfd as the call fd", -EINVAL},
	[SP_QSIZE_ZERO] = {"queue size 0", -EINVAL},
	[SP_QSIZE_BIG] = {"a queue larger than offered", -EINVAL},
	[SP_QSIZE_ODD] = {"split queue size 6", -EINVAL},
	[SP_DESC_OUTSIDE] = {"descriptor table outside the memory", -EFAULT},
	[SP_USED_STRADDLES] = {"used ring across the end of the memory", -EFAULT},
	[SP_DESC_MISALIGNED] = {"descriptor table 8-byte aligned", -EINVAL},
	[SP_RING_WRAPS] = {"avail ring wrapping past 2^64", -EINVAL},
};

static void run_spoil(enum spoil sp)
{
	struct guest gu;
	struct msg m;
	char why[160] = "";
	int extra = -1, pfd[2] = {-1, -1};
	bool ok = false;

	if (guest_open(&gu) < 0) {
		check(false, spoils[sp].name, "cannot connect");
		return;
	}
	good_msg(&gu, &m);
	switch (sp) {
	case SP_SHORT:
		m.len = 8;
		break;
	case SP_HDR_ONLY:
		m.len = sizeof(struct blk_ram_hdr);
		break;
	case SP_LONG:
		m.len = sizeof(m.s) + sizeof(m.extra);
		break;
	case SP_MAGIC:
		m.s.h.magic ^= 1;
		break;
	case SP_VERSION:
		m.s.h.version = 2;
		break;
	case SP_TYPE:
		m.s.h.type = BLK_RAM_CLOSE;
		break;
	case SP_NO_FDS:
		m.nfds = 0;
		break;
	case SP_FD_SHORT:
		m.nfds = 2;
		break;
	case SP_ZERO_QUEUES:
		m.s.num_queues = 0;
		break;
	case SP_MANY_QUEUES:
		m.s.num_queues = gu.bi.max_queues + 1;
		break;
	case SP_FEATURE:
		m.s.features |= GM_VIRTIO_BIT(63);
		break;
	case SP_NO_VERSION_1:
		m.s.features = 0;
		break;
	case SP_MEM_ZERO:
		m.s.mem_size = 0;
		break;
	case SP_MEM_UNALIGNED:
		m.s.mem_base = BASE + 512;
		break;
	case SP_MEM_WRAPS:
		m.s.mem_base = 0ull - 0x4000;
		break;
	case SP_MEM_TOO_BIG:
		m.s.mem_size = 2 * MEM;
		break;
	case SP_UNSEALED:
		extra = memfd_create("hostile", MFD_CLOEXEC);
		if (extra < 0 || ftruncate(extra, MEM) < 0)
			break;
		m.fds[0] = extra;
		break;
	case SP_MEM_PIPE:
	case SP_KICK_PIPE:
		if (pipe(pfd) < 0)
			break;
		m.fds[sp == SP_MEM_PIPE ? 0 : 1] = pfd[0];
		break;
	case SP_CALL_MEMFD:
		m.fds[2] = gu.g.memfd;
		break;
	case SP_QSIZE_ZERO:
		m.s.q[0].size = 0;
		break;
	case SP_QSIZE_BIG:
		m.s.q[0].size = gu.bi.max_queue_size * 2;
		break;
	case SP_QSIZE_ODD:
		m.s.q[0].size = 6;
		break;
	case SP_DESC_OUTSIDE:
		m.s.q[0].desc = BASE + MEM;
		break;
	case SP_USED_STRADDLES:
		m.s.q[0].device = BASE + MEM - 16;
		break;
	case SP_DESC_MISALIGNED:
		m.s.q[0].desc = BASE + 8;
		break;
	case SP_RING_WRAPS:
		m.s.q[0].driver = 0ull - 8;
		break;
	case SP_NSPOIL:
		break;
	}
	ok = send_expect(&gu, &m, spoils[sp].err, why, sizeof(why));
	check(ok, spoils[sp].name, why);
	refusals++;
	if (extra >= 0)
		close(extra);
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	guest_close(&gu);
}

/* Accepted, then a CLOSE with @with_fd, or 3 bytes of garbage: dropped. */
static void run_out_of_turn(bool with_fd)
{
	const char *name = with_fd ? "CLOSE carrying an fd" : "garbage while served";
	struct blk_ram_hdr h;
	struct guest gu;
	struct msg m;
	char why[160] = "";
	ssize_t k;

	if (guest_open(&gu) < 0) {
		check(false, name, "cannot connect");
		return;
	}
	good_msg(&gu, &m);
	if (!send_expect(&gu, &m, 0, why, sizeof(why))) {
		check(false, name, why);
		guest_close(&gu);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.magic = BLK_RAM_MAGIC;
	h.version = BLK_RAM_VERSION;
	h.type = BLK_RAM_CLOSE;
	if (with_fd)
		blk_ram_send(gu.g.sock, &h, sizeof(h), &gu.kick, 1);
	else
		blk_ram_send(gu.g.sock, "bad", 3, NULL, 0);
	k = recv_hdr(gu.g.sock, &h);
	snprintf(why, sizeof(why), "got %zd bytes, want the connection closed", k);
	check(k == 0, name, why);
	guest_close(&gu);
}

/* Accepted, closed before SETUP: the backend notices and goes on. */
static void run_no_setup(void)
{
	struct guest gu;

	if (guest_open(&gu) < 0) {
		check(false, "no SETUP", "cannot connect");
		return;
	}
	guest_close(&gu);
	check(true, "no SETUP, connection closed", "");
	refusals++;
}

/* Accepted; a request whose data buffer lies past the memory: the queue breaks. */
static void run_buffer_outside(void)
{
	const char *name = "data buffer outside the memory";
	struct vqd_config vc = {.size = QSIZE, .desc_addr = BASE, .driver_addr = BASE + 0x1000,
				.device_addr = BASE + 0x2000};
	struct vqd_buf b[3] = {
		{BASE + 0x3000, 16, false},
		{BASE + MEM + 0x1000, 512, true},
		{BASE + 0x3000 + 2048, 1, true},
	};
	gm_region *rg = NULL;
	gm_space *sp = NULL;
	struct guest gu;
	struct vqd d;
	struct msg m;
	struct blk_ram_hdr h;
	char why[160] = "";
	void *tok;
	uint32_t len;
	uint64_t one = 1;
	bool ok;

	if (guest_open(&gu) < 0 || gm_space_new(&sp) < 0 ||
	    gm_ram_region_new(gu.g.va, MEM, GM_PROT_RW, &rg) < 0 ||
	    gm_space_add(sp, BASE, rg) < 0 || vqd_init(&d, gm_space_mem(sp), &vc) < 0) {
		check(false, name, "cannot set up");
		return;
	}
	good_msg(&gu, &m);
	ok = send_expect(&gu, &m, 0, why, sizeof(why));
	if (ok && (vqd_add(&d, b, 3, 0, &d) < 0 || write(gu.kick, &one, sizeof(one)) < 0)) {
		snprintf(why, sizeof(why), "cannot add the request");
		ok = false;
	}
	if (ok) {
		usleep(200 * 1000);
		ok = vqd_get_used(&d, &tok, &len) == -EAGAIN;
		snprintf(why, sizeof(why), "the request completed");
	}
	if (ok) {
		/* the queue is broken, the device still answers */
		memset(&h, 0, sizeof(h));
		h.magic = BLK_RAM_MAGIC;
		h.version = BLK_RAM_VERSION;
		h.type = BLK_RAM_CLOSE;
		ok = blk_ram_send(gu.g.sock, &h, sizeof(h), NULL, 0) == 0 &&
		     recv_hdr(gu.g.sock, &h) == sizeof(h) && h.type == BLK_RAM_CLOSED &&
		     h.status == 0;
		snprintf(why, sizeof(why), "CLOSE was not answered with CLOSED");
	}
	check(ok, name, why);
	vqd_fini(&d);
	gm_space_free(sp);
	gm_region_free(rg);
	guest_close(&gu);
}

/* A plain good guest: SETUP accepted, CLOSE answered. */
static void run_good(void)
{
	struct blk_ram_guest g;
	struct gm_vdev_back_info bi = {.size = sizeof(bi)};
	struct gm_vdev_front_info fi = {.size = sizeof(fi)};
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r = -1;

	blk_ram_guest_init(&g);
	memset(&fi, 0, sizeof(fi));
	fi.features = GM_VIRTIO_BIT(GM_VIRTIO_F_VERSION_1);
	fi.num_queues = 1;
	fi.queues[0] = (struct gm_vdev_queue_info){
		.size = QSIZE, .desc = BASE, .driver = BASE + 0x1000, .device = BASE + 0x2000,
	};
	if (blk_ram_guest_mem(&g, BASE, MEM) == 0 &&
	    blk_ram_guest_connect(&g, sock_path, &bi, TIMEOUT_MS) == 0 &&
	    blk_ram_guest_setup(&g, &fi, &kick, &call, TIMEOUT_MS) == 0)
		r = blk_ram_guest_close(&g, TIMEOUT_MS);
	check(r == 0, "a good guest, SETUP then CLOSE", "refused or not closed");
	blk_ram_guest_free_mem(&g);
	close(kick);
	close(call);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: blk-ram-hostile SOCKET\n");
		return 2;
	}
	sock_path = argv[1];
	run_good();
	for (int sp = 0; sp < SP_NSPOIL; sp++)
		run_spoil((enum spoil)sp);
	run_no_setup();
	run_out_of_turn(false);
	run_out_of_turn(true);
	run_buffer_outside();
	run_good();
	printf("refusals=%u\n", refusals);
	printf("hostile ram-transport: cases=%u failed=%u\n", ncases, failures);
	printf("%s: %u case(s) failed\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
