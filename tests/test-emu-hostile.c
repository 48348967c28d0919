/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Emulated Xen, hostile peers: raw protocol messages that lie about
 * lengths, counts, domains, RAM objects, handles, ports and paths, garbage
 * before HELLO, unsealed RAM, random bytes; and garbage written where the
 * processes share memory with the hub: a domain's grant table and event
 * channels, a mapper's maptrack.  Every message gets an error or a
 * hang-up; the hub survives the garbage, cleans up after it, and still
 * serves an honest world afterwards.
 */
#include "config.h"

#include "test-emu-common.h"

#include "emu/proto.h"

#include "emu/shm.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

static struct emu_test t;

static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ASSERT_TRUE(fd >= 0);
	strcpy(sa.sun_path, t.sock);
	ASSERT_OK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0);
	return fd;
}

/* Send one message (with an optional fd); return the reply status, or
 * 1000 when the hub hung up.  Up to two fds of the reply land in @rfds
 * (NULL: closed); *@rlen gets the reply's payload, at raw_payload. */
static unsigned char raw_buf[GM__EMU_MSG_MAX];
static const unsigned char *const raw_payload = raw_buf + sizeof(struct gm__emu_hdr);

static int raw_call_fds(int fd, uint32_t type, uint32_t arg, const void *p, size_t len,
			int sendfd, int *rfds, uint32_t *rlen)
{
	struct gm__emu_hdr h = {.type = type, .arg = arg, .len = (uint32_t)len};
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr a;
	} u, v;
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)p, len}};
	struct iovec riov = {raw_buf, sizeof(raw_buf)};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	struct msghdr rm = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = v.b,
			    .msg_controllen = sizeof(v.b)};
	ssize_t n;

	if (sendfd >= 0) {
		struct cmsghdr *cm;

		m.msg_control = u.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &sendfd, sizeof(int));
	}
	if (rfds)
		rfds[0] = rfds[1] = -1;
	if (sendmsg(fd, &m, MSG_NOSIGNAL) < 0)
		return 1000;
	n = recvmsg(fd, &rm, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return 1000;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&rm); cm; cm = CMSG_NXTHDR(&rm, cm)) {
		unsigned k = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		for (unsigned i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
			if (rfds && i < 2)
				rfds[i] = f;
			else
				close(f);
		}
	}
	ASSERT_TRUE((size_t)n >= sizeof(h));
	memcpy(&h, raw_buf, sizeof(h));
	if (rlen)
		*rlen = h.len;
	return h.status;
}

static int raw_call(int fd, uint32_t type, uint32_t arg, const void *p, size_t len, int sendfd)
{
	return raw_call_fds(fd, type, arg, p, len, sendfd, NULL, NULL);
}

static int raw_hello(uint32_t kind, uint32_t domid, int sendfd, uint64_t ram)
{
	struct gm__emu_hello hello = {GM__EMU_MAGIC, GM__EMU_VERSION, kind, domid, ram};
	int fd = raw_connect();

	ASSERT_OK(raw_call(fd, GM__EMU_HELLO, 0, &hello, sizeof(hello), sendfd));
	return fd;
}

static void test_framing(void)
{
	struct gm__emu_hello hello = {GM__EMU_MAGIC + 1, GM__EMU_VERSION, GM__EMU_K_GNTTAB, 0, 0};
	unsigned char junk[3] = {1, 2, 3};
	int fd;

	/* garbage, a short message, a request before HELLO, a bad magic */
	fd = raw_connect();
	ASSERT_EQ(send(fd, junk, sizeof(junk), MSG_NOSIGNAL), 3);
	ASSERT_EQ(recv(fd, junk, sizeof(junk), 0), 0); /* hung up */
	close(fd);
	fd = raw_connect();
	ASSERT_EQ(raw_call(fd, GM__EMU_DOM_OPEN, 0, NULL, 0, -1), -EPROTO);
	close(fd);
	fd = raw_connect();
	ASSERT_EQ(raw_call(fd, GM__EMU_HELLO, 0, &hello, sizeof(hello), -1), -EPROTO);
	close(fd);
	fd = raw_connect();
	hello.magic = GM__EMU_MAGIC;
	hello.kind = 99;
	ASSERT_EQ(raw_call(fd, GM__EMU_HELLO, 0, &hello, sizeof(hello), -1), -EINVAL);
	close(fd);
	fd = raw_connect();
	hello.kind = GM__EMU_K_GNTTAB;
	hello.domid = GM_DOMID_SELF; /* reserved */
	ASSERT_EQ(raw_call(fd, GM__EMU_HELLO, 0, &hello, sizeof(hello), -1), -EINVAL);
	close(fd);
	/* a header that lies about its length */
	fd = raw_hello(GM__EMU_K_GNTTAB, 0, -1, 0);
	{
		struct gm__emu_hdr h = {.type = GM__EMU_DOM_RAM, .len = 1000};

		ASSERT_EQ(send(fd, &h, sizeof(h), MSG_NOSIGNAL), (ssize_t)sizeof(h));
		ASSERT_EQ(recv(fd, &h, sizeof(h), 0), 0);
	}
	close(fd);
	/* a second HELLO */
	fd = raw_hello(GM__EMU_K_GNTTAB, 0, -1, 0);
	ASSERT_EQ(raw_call(fd, GM__EMU_HELLO, 0, &hello, sizeof(hello), -1), -EPROTO);
	close(fd);
}

/* Requests for domains, RAM objects and handles that do not exist. */
static void test_domains(void)
{
	int fd = raw_hello(GM__EMU_K_GNTTAB, 0, -1, 0), rfds[2];
	struct gm__emu_ram_req rr = {0};
	struct gm__emu_dom dom;
	uint32_t len;

	ASSERT_EQ(raw_call(fd, GM__EMU_DOM_OPEN, 0x12345, NULL, 0, -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_DOM_OPEN, 0, &rr, 4, -1), -EINVAL); /* a payload */
	ASSERT_EQ(raw_call(fd, GM__EMU_DOM_OPEN, 77, NULL, 0, -1), -ESRCH);
	ASSERT_EQ(raw_call_fds(fd, GM__EMU_DOM_OPEN, GM_DOMID_SELF, NULL, 0, -1, rfds, &len), 0);
	ASSERT_EQ(len, sizeof(dom));
	memcpy(&dom, raw_payload, sizeof(dom));
	ASSERT_EQ(dom.domid, 0);
	ASSERT_TRUE(rfds[0] >= 0);
	close(rfds[0]);
	ASSERT_EQ(raw_call(fd, GM__EMU_DOM_RAM, 0, &rr, sizeof(rr) - 1, -1), -EINVAL);
	rr.domid = 0x12345;
	ASSERT_EQ(raw_call(fd, GM__EMU_DOM_RAM, 0, &rr, sizeof(rr), -1), -ESRCH);
	rr.domid = 0;
	rr.instance = dom.instance + 1000; /* a life that never was */
	ASSERT_EQ(raw_call(fd, GM__EMU_DOM_RAM, 0, &rr, sizeof(rr), -1), -ESRCH);
	rr.instance = dom.instance;
	rr.ram = 4242;
	ASSERT_EQ(raw_call(fd, GM__EMU_DOM_RAM, 0, &rr, sizeof(rr), -1), -ENOENT);
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_PEER, 999999, NULL, 0, -1), -ENOENT);
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_PEER, 1, &rr, 4, -1), -EINVAL);
	/* our own connection is no event-channel handle */
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_BIND_UNBOUND, 0, NULL, 0, -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, 4242, 0, NULL, 0, -1), -EINVAL); /* unknown type */
	close(fd);
}

static void test_gntshr(void)
{
	int mfd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct gm__emu_hello hello = {GM__EMU_MAGIC, GM__EMU_VERSION, GM__EMU_K_GNTSHR, 5, 65536};
	int fd;

	ASSERT_TRUE(mfd >= 0);
	ASSERT_OK(ftruncate(mfd, 65536));
	/* unsealed RAM could shrink under a mapper: refused */
	fd = raw_connect();
	ASSERT_EQ(raw_call(fd, GM__EMU_HELLO, 0, &hello, sizeof(hello), mfd), -EINVAL);
	close(fd);
	ASSERT_OK(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
	fd = raw_connect();
	hello.ram_size = 1 << 20; /* lies about the size */
	ASSERT_EQ(raw_call(fd, GM__EMU_HELLO, 0, &hello, sizeof(hello), mfd), -EINVAL);
	close(fd);
	fd = raw_connect();
	ASSERT_EQ(raw_call(fd, GM__EMU_HELLO, 0, &hello, sizeof(hello), -1), -EINVAL); /* no fd */
	close(fd);
	/* honest at last: a RAM object, gone with its connection */
	fd = raw_hello(GM__EMU_K_GNTSHR, 5, mfd, 65536);
	close(fd);
	close(mfd);
}

/*
 * Garbage where processes share memory with the hub: domain 5 fills its
 * own shared page (grant table, event channels) with random bytes, and a
 * mapper's maptrack claims mappings of every kind, then they go.  The hub
 * cleans up around it (domain 5 must not stay dying for mappings nobody
 * holds) and dom0's table is untouched.
 */
static void test_shared_garbage(void)
{
	struct gm__emu_dom_shm *shm;
	struct gm__emu_dom dom;
	struct gm__emu_maptrack *mt;
	int mfd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int fd, fd2, efd = eventfd(0, EFD_CLOEXEC), rfds[2];
	unsigned char *bytes;
	uint32_t len, port;
	size_t size;

	ASSERT_TRUE(mfd >= 0 && efd >= 0);
	ASSERT_OK(ftruncate(mfd, 65536));
	ASSERT_OK(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
	fd = raw_hello(GM__EMU_K_GNTSHR, 5, mfd, 65536);
	fd2 = raw_hello(GM__EMU_K_EVTCHN, 5, efd, 0);
	port = (uint32_t)raw_call(fd2, GM__EMU_EVT_BIND_UNBOUND, 0, NULL, 0, -1);
	ASSERT_TRUE(port > 0 && port < 1000);
	ASSERT_EQ(raw_call_fds(fd, GM__EMU_DOM_OPEN, GM_DOMID_SELF, NULL, 0, -1, rfds, &len), 0);
	memcpy(&dom, raw_payload, sizeof(dom));
	size = dom.size;
	shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, rfds[0], 0);
	ASSERT_TRUE(shm != MAP_FAILED);
	close(rfds[0]);
	/* random bytes over the table and the ports, the header kept */
	srand(11);
	bytes = (unsigned char *)&shm->ev;
	for (size_t i = 0; i < size - offsetof(struct gm__emu_dom_shm, ev); i++)
		bytes[i] = (unsigned char)rand();
	atomic_store(&shm->gt.size, 5 * GM__GT_FRAME_ENTRIES);
	/* a maptrack that lies: held records for every domain, a wild hwm */
	{
		int gfd = raw_connect(), mfds[2];
		struct gm__emu_hello hello = {GM__EMU_MAGIC, GM__EMU_VERSION, GM__EMU_K_GNTTAB, 0, 0};

		ASSERT_EQ(raw_call_fds(gfd, GM__EMU_HELLO, 0, &hello, sizeof(hello), -1, mfds, &len),
			  0);
		ASSERT_TRUE(mfds[0] >= 0);
		mt = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, mfds[0], 0);
		ASSERT_TRUE(mt != MAP_FAILED);
		close(mfds[0]);
		/* can it be grown under the hub?  no: sealed */
		for (uint32_t i = 0; i < 4096; i++) {
			atomic_store(&mt->rec[i].instance, i % 3 ? dom.instance : (uint64_t)rand());
			atomic_store(&mt->rec[i].w,
				     gm__mt_rec(GM__MT_HELD, i % 2 ? 5 : 0, (uint32_t)rand() % 3000,
						rand() & 1));
		}
		atomic_store(&mt->hwm, 0xffffffffu);
		close(gfd);
		munmap(mt, 1 << 20);
	}
	/* the ports' owner goes while its words are garbage */
	close(fd2);
	close(fd);
	munmap(shm, size);
	close(mfd);
	close(efd);
}

static void test_evtchn_xs(void)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	int fd = raw_hello(GM__EMU_K_EVTCHN, 6, efd, 0);
	uint32_t bind[2] = {GM_DOMID_SELF, 5};
	char path[8] = "/abc"; /* not NUL-terminated within the payload */

	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_UNBIND, 0xffffffffu, NULL, 0, -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_UNBIND, 5, NULL, 0, -1), -ENOTCONN);
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_BIND_INTER, 0, bind, 4, -1), -EINVAL);
	bind[0] = 0x1ffff;
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_BIND_INTER, 0, bind, sizeof(bind), -1), -ESRCH);
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_BIND_UNBOUND, 0x10000, NULL, 0, -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_XS_READ, 0, "/", 2, -1), -EINVAL); /* wrong kind */
	close(fd);
	fd = raw_hello(GM__EMU_K_XS, 6, efd, 0);
	ASSERT_EQ(raw_call(fd, GM__EMU_XS_READ, 0, path, 4, -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_XS_READ, 0, "", 1, -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_XS_READ, 77, "/", 2, -1), -ENOENT); /* no such tx */
	ASSERT_EQ(raw_call(fd, GM__EMU_XS_TX_END, 77, NULL, 0, -1), -ENOENT);
	ASSERT_EQ(raw_call(fd, GM__EMU_XS_WATCH, 0, "/x\0tok", 6, -1), -EINVAL); /* no NUL */
	ASSERT_EQ(raw_call(fd, GM__EMU_XS_WATCH, 0, "@bogus\0t", 9, -1), -EINVAL);
	{
		unsigned char sp[4 + 4 + 8];
		uint32_t n = 1000;

		memcpy(sp, "/x\0\0", 4);
		memcpy(sp + 3, &n, 4);
		ASSERT_EQ(raw_call(fd, GM__EMU_XS_SET_PERMS, 0, sp, 7, -1), -EINVAL);
	}
	{
		static char big[GM__EMU_XS_PATH_MAX + 10];

		memset(big, 'a', sizeof(big) - 1);
		big[0] = '/';
		ASSERT_EQ(raw_call(fd, GM__EMU_XS_READ, 0, big, sizeof(big), -1), -EINVAL);
	}
	/* random requests of every type */
	srand(7);
	for (int i = 0; i < 3000; i++) {
		unsigned char b[64];
		uint32_t type = 1 + (uint32_t)rand() % 60;

		for (size_t k = 0; k < sizeof(b); k++)
			b[k] = (unsigned char)rand();
		if (type == GM__EMU_SHUTDOWN || type == GM__EMU_HELLO || type == GM__EMU_BYE)
			continue;
		if (raw_call(fd, type, (uint32_t)rand(), b, (size_t)rand() % sizeof(b), -1) == 1000) {
			close(fd);
			fd = raw_hello(GM__EMU_K_XS, 6, efd, 0);
		}
	}
	close(fd);
	close(efd);
}

int main(void)
{
	gm_xen *x;
	gm_xs *xs;
	struct gm_emu_domain_info info = {.size = sizeof(info)};
	char *v;

	emu_test_start(&t);
	test_framing();
	test_domains();
	test_gntshr();
	test_shared_garbage();
	test_evtchn_xs();

	/* the hub lives and serves; the hostile domains left nothing */
	x = emu_world(&t, 0);
	ASSERT_OK(gm_xs_open(x, &xs));
	ASSERT_OK(gm_xs_read(xs, 0, "/local/domain/0", &v, NULL));
	free(v);
	for (unsigned d = 5; d <= 6; d++) {
		for (int i = 0; i < 500; i++) {
			ASSERT_OK(gm_emu_domain_info(x, (gm_domid)d, &info));
			if (!info.exists)
				break;
			emu_sleep_ms(10);
		}
		ASSERT_EQ(info.exists, 0);
	}
	/* nobody granted anything in dom0: the garbage maptrack changed nothing */
	ASSERT_OK(gm_emu_domain_info(x, 0, &info));
	ASSERT_EQ(info.grants, 0);
	ASSERT_EQ(info.mapped, 0);
	gm_xs_close(xs);
	gm_xen_close(x);
	emu_test_stop(&t);
	return 0;
}
