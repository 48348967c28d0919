/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Emulated Xen, hostile peers: raw protocol messages that lie about
 * lengths, counts, offsets, refs, ports and paths, garbage before HELLO,
 * unsealed RAM, random bytes.  Every one gets an error or a hang-up; the
 * hub survives and still serves an honest world afterwards.
 */
#include "config.h"

#include "test-emu-common.h"

#include "emu/proto.h"

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
 * 1000 when the hub hung up. */
static int raw_call(int fd, uint32_t type, uint32_t arg, const void *p, size_t len, int sendfd)
{
	static unsigned char buf[GM__EMU_MSG_MAX];
	struct gm__emu_hdr h = {.type = type, .arg = arg, .len = (uint32_t)len};
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} u;
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)p, len}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;

	if (sendfd >= 0) {
		struct cmsghdr *cm;

		m.msg_control = u.b;
		m.msg_controllen = sizeof(u.b);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &sendfd, sizeof(int));
	}
	if (sendmsg(fd, &m, MSG_NOSIGNAL) < 0)
		return 1000;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return 1000;
	ASSERT_TRUE((size_t)n >= sizeof(h));
	memcpy(&h, buf, sizeof(h));
	return h.status;
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
	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_MAP, 0, NULL, 0, -1), -EPROTO);
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
	hello.domid = 0x7ff0; /* reserved */
	ASSERT_EQ(raw_call(fd, GM__EMU_HELLO, 0, &hello, sizeof(hello), -1), -EINVAL);
	close(fd);
	/* a header that lies about its length */
	fd = raw_hello(GM__EMU_K_GNTTAB, 0, -1, 0);
	{
		struct gm__emu_hdr h = {.type = GM__EMU_GNT_UNMAP, .len = 1000};

		ASSERT_EQ(send(fd, &h, sizeof(h), MSG_NOSIGNAL), (ssize_t)sizeof(h));
		ASSERT_EQ(recv(fd, &h, sizeof(h), 0), 0);
	}
	close(fd);
	/* a second HELLO */
	fd = raw_hello(GM__EMU_K_GNTTAB, 0, -1, 0);
	ASSERT_EQ(raw_call(fd, GM__EMU_HELLO, 0, &hello, sizeof(hello), -1), -EPROTO);
	close(fd);
}

static void test_gnttab(void)
{
	int fd = raw_hello(GM__EMU_K_GNTTAB, 0, -1, 0);
	struct {
		struct gm__emu_map_req r;
		uint32_t refs[4];
	} m = {{1, GM_PROT_READ, 4, 0}, {8, 9, 10, 11}};
	struct {
		struct gm__emu_seg s;
		unsigned char data[16];
	} c;
	uint64_t handle = 12345;

	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_MAP, 0, &m, sizeof(m) - 4, -1), -EINVAL);
	m.r.count = 0xffffffffu;
	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_MAP, 0, &m, sizeof(m), -1), -EINVAL);
	m.r.count = 4;
	m.r.prot = 0;
	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_MAP, 0, &m, sizeof(m), -1), -EINVAL);
	m.r.prot = GM_PROT_READ;
	m.r.domid = 0x12345;
	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_MAP, 0, &m, sizeof(m), -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_UNMAP, 0, &handle, sizeof(handle), -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_SHR_GRANT, 0, &m, sizeof(m), -1), -EINVAL); /* wrong kind */
	/* copy: counts and lengths that do not add up, offsets that wrap */
	memset(&c, 0, sizeof(c));
	c.s.flags = GM_COPY_DEST_GREF;
	c.s.len = 16;
	c.s.dst_off = 0xfffffff8u;
	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_COPY, 1, &c, sizeof(c), -1), -EINVAL);
	c.s.dst_off = 0;
	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_COPY, 1, &c, sizeof(c) - 1, -1), -EPROTO);
	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_COPY, 2, &c, sizeof(c), -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_COPY, 0, &c, sizeof(c), -1), -EINVAL);
	c.s.flags = 0x80;
	ASSERT_EQ(raw_call(fd, GM__EMU_GNT_COPY, 1, &c, sizeof(c), -1), -EINVAL);
	c.s.flags = 0; /* local to local, output larger than allowed */
	c.s.len = 0x10000;
	ASSERT_TRUE(raw_call(fd, GM__EMU_GNT_COPY, 1, &c, sizeof(c), -1) < 0);
	ASSERT_EQ(raw_call(fd, 4242, 0, NULL, 0, -1), -EINVAL); /* unknown type */
	close(fd);
}

static void test_gntshr(void)
{
	int mfd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct gm__emu_hello hello = {GM__EMU_MAGIC, GM__EMU_VERSION, GM__EMU_K_GNTSHR, 5, 65536};
	struct {
		struct gm__emu_grant_req r;
		uint32_t frames[2];
	} g = {{0, 1, 2, 0}, {0, 16}};
	uint32_t refs[2] = {0, 100000};
	int fd;

	ASSERT_TRUE(mfd >= 0);
	ASSERT_OK(ftruncate(mfd, 65536));
	/* unsealed RAM could shrink under the hub: refused */
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
	fd = raw_hello(GM__EMU_K_GNTSHR, 5, mfd, 65536);
	ASSERT_EQ(raw_call(fd, GM__EMU_SHR_GRANT, 0, &g, sizeof(g), -1), -EINVAL); /* frame 16 */
	g.frames[1] = 1;
	ASSERT_EQ(raw_call(fd, GM__EMU_SHR_GRANT, 0, &g, sizeof(g), -1), 0);
	ASSERT_EQ(raw_call(fd, GM__EMU_SHR_END, 0, refs, sizeof(refs), -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_SHR_END, 0, refs, 3, -1), -EINVAL);
	close(fd);
	close(mfd);
}

static void test_evtchn_xs(void)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	int fd = raw_hello(GM__EMU_K_EVTCHN, 6, efd, 0);
	uint32_t bind[2] = {0x7ff0, 5};
	char path[8] = "/abc"; /* not NUL-terminated within the payload */

	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_NOTIFY, 0xffffffffu, NULL, 0, -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_UNBIND, 5, NULL, 0, -1), -ENOTCONN);
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_BIND_INTER, 0, bind, 4, -1), -EINVAL);
	bind[0] = 0x1ffff;
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_BIND_INTER, 0, bind, sizeof(bind), -1), -ESRCH);
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_BIND_UNBOUND, 0x10000, NULL, 0, -1), -EINVAL);
	ASSERT_EQ(raw_call(fd, GM__EMU_EVT_PENDING, 0, NULL, 0, -1), -EAGAIN);
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
	struct gm_emu_domain_info info;
	char *v;

	emu_test_start(&t);
	test_framing();
	test_gnttab();
	test_gntshr();
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
	gm_xs_close(xs);
	gm_xen_close(x);
	emu_test_stop(&t);
	return 0;
}
