/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Emulated Xen, event channels across processes: bind unbound/interdomain,
 * notify both ways through poll() on the handle's fd, Linux's mask-on-
 * delivery with coalescing until unmask, errors, unbind and a dying peer.
 */
#include "config.h"

#include "test-emu-common.h"

static struct emu_test t;
static int to_guest[2], to_host[2];

static void step_wait(int fd)
{
	char c;

	emu_recv(fd, &c, 1);
}

static void step_go(int fd)
{
	char c = 1;

	emu_send(fd, &c, 1);
}

static int guest_main(void *arg)
{
	gm_xen *gx = emu_world(&t, 1);
	gm_evtchn *e;
	int port, fd;

	(void)arg;
	ASSERT_OK(gm_evtchn_open(gx, &e));
	fd = gm_evtchn_fd(e);
	ASSERT_TRUE(fd >= 0);
	port = gm_evtchn_bind_unbound(e, 0);
	ASSERT_TRUE(port > 0);
	emu_send(to_host[1], &port, sizeof(port));

	/* 1: one notify arrives, the fd polls readable */
	ASSERT_TRUE(emu_wait_fd(fd, 5000));
	ASSERT_EQ(gm_evtchn_pending(e), port);
	ASSERT_ERR(gm_evtchn_pending(e), -EAGAIN);
	ASSERT_TRUE(!emu_wait_fd(fd, 0));
	step_go(to_host[1]);

	/* 2: still masked: three notifies coalesce, nothing is delivered */
	step_wait(to_guest[0]);
	ASSERT_TRUE(!emu_wait_fd(fd, 100));
	ASSERT_ERR(gm_evtchn_pending(e), -EAGAIN);
	/* the unmask delivers them once */
	ASSERT_OK(gm_evtchn_unmask(e, (gm_port)port));
	ASSERT_TRUE(emu_wait_fd(fd, 5000));
	ASSERT_EQ(gm_evtchn_pending(e), port);
	ASSERT_ERR(gm_evtchn_pending(e), -EAGAIN);
	ASSERT_OK(gm_evtchn_unmask(e, (gm_port)port));
	ASSERT_TRUE(!emu_wait_fd(fd, 100));

	/* 3: the guest notifies the backend */
	ASSERT_OK(gm_evtchn_notify(e, (gm_port)port));
	step_go(to_host[1]);

	/* 4: errors on ports not ours */
	step_wait(to_guest[0]);
	ASSERT_ERR(gm_evtchn_notify(e, 999), -ENOTCONN);
	ASSERT_ERR(gm_evtchn_unbind(e, 999), -ENOTCONN);
	ASSERT_OK(gm_evtchn_unbind(e, (gm_port)port));
	ASSERT_ERR(gm_evtchn_notify(e, (gm_port)port), -ENOTCONN);
	step_go(to_host[1]);

	step_wait(to_guest[0]);
	gm_evtchn_close(e);
	gm_xen_close(gx);
	return 0;
}

int main(void)
{
	struct gm_emu_domain_info info = {.size = sizeof(info)};
	gm_xen *x;
	gm_evtchn *e, *e2;
	int gport, lport, fd, p1, p2;
	pid_t g;

	emu_test_start(&t);
	ASSERT_OK(pipe(to_guest));
	ASSERT_OK(pipe(to_host));
	g = emu_fork(guest_main, NULL);
	x = emu_world(&t, 0);
	ASSERT_OK(gm_evtchn_open(x, &e));
	fd = gm_evtchn_fd(e);
	emu_recv(to_host[0], &gport, sizeof(gport));

	/* errors first: unknown domain, a port not offered to us */
	ASSERT_ERR(gm_evtchn_bind_interdomain(e, 55, (gm_port)gport), -ESRCH);
	ASSERT_ERR(gm_evtchn_bind_interdomain(e, 1, (gm_port)gport + 1), -EINVAL);
	lport = gm_evtchn_bind_interdomain(e, 1, (gm_port)gport);
	ASSERT_TRUE(lport > 0);
	/* the port is taken now */
	ASSERT_ERR(gm_evtchn_bind_interdomain(e, 1, (gm_port)gport), -EINVAL);
	/* as Xen: binding raises one event on the new local port */
	ASSERT_TRUE(emu_wait_fd(fd, 5000));
	ASSERT_EQ(gm_evtchn_pending(e), lport);
	ASSERT_OK(gm_evtchn_unmask(e, (gm_port)lport));
	ASSERT_OK(gm_evtchn_notify(e, (gm_port)lport));
	step_wait(to_host[0]);
	/* 2 */
	for (int i = 0; i < 3; i++)
		ASSERT_OK(gm_evtchn_notify(e, (gm_port)lport));
	step_go(to_guest[1]);
	/* 3 */
	step_wait(to_host[0]);
	ASSERT_TRUE(emu_wait_fd(fd, 5000));
	ASSERT_EQ(gm_evtchn_pending(e), lport);
	ASSERT_OK(gm_evtchn_unmask(e, (gm_port)lport));
	/* 4 */
	step_go(to_guest[1]);
	step_wait(to_host[0]);
	/* the peer unbound: notifies are dropped silently, as on Xen */
	ASSERT_OK(gm_evtchn_notify(e, (gm_port)lport));
	ASSERT_TRUE(!emu_wait_fd(fd, 50));

	/* loopback within dom0, on two handles: only the owner hears it */
	ASSERT_OK(gm_evtchn_open(x, &e2));
	p1 = gm_evtchn_bind_unbound(e2, GM_DOMID_SELF);
	ASSERT_TRUE(p1 > 0);
	p2 = gm_evtchn_bind_interdomain(e, 0, (gm_port)p1);
	ASSERT_TRUE(p2 > 0);
	ASSERT_EQ(gm_evtchn_pending(e), p2); /* the bind's own event */
	ASSERT_OK(gm_evtchn_unmask(e, (gm_port)p2));
	ASSERT_ERR(gm_evtchn_notify(e2, (gm_port)p2), -ENOTCONN);
	ASSERT_OK(gm_evtchn_notify(e, (gm_port)p2));
	ASSERT_TRUE(emu_wait_fd(gm_evtchn_fd(e2), 5000));
	ASSERT_EQ(gm_evtchn_pending(e2), p1);
	ASSERT_ERR(gm_evtchn_pending(e), -EAGAIN);
	ASSERT_OK(gm_emu_domain_info(x, 0, &info));
	ASSERT_EQ(info.ports, 3);
	gm_evtchn_close(e2); /* closing unbinds */
	ASSERT_OK(gm_emu_domain_info(x, 0, &info));
	ASSERT_EQ(info.ports, 2);

	step_go(to_guest[1]);
	emu_reap_ok(g);
	ASSERT_OK(gm_evtchn_unbind(e, (gm_port)lport));
	ASSERT_OK(gm_evtchn_unbind(e, (gm_port)p2));
	ASSERT_OK(gm_emu_domain_info(x, 0, &info));
	ASSERT_EQ(info.ports, 0);
	gm_evtchn_close(e);
	gm_xen_close(x);
	emu_test_stop(&t);
	return 0;
}
