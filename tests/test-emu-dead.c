/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Emulated Xen, peers that die: a backend killed with SIGKILL while it maps
 * leaves no busy bits behind; a guest killed while a backend maps its pages
 * becomes a dying domain (the mapping stays valid, as on Xen), its xenstore
 * directory and grants go, and it disappears with the last unmap.
 * A backend killed at any instant of its maps, unmaps and copies leaves
 * nothing counted, and never takes away a count a live mapper holds.
 * Also several guests and several backends at once.
 */
#include "config.h"

#include "test-emu-common.h"

#include <pthread.h>
#include <stdatomic.h>

static struct emu_test t;
static gm_xen *x;

struct backend_arg {
	unsigned ndoms;
	gm_domid doms[4];
	gm_gref refs[4][4];
	unsigned count;
	uint64_t seeds[4];
	int ready_fd;   /* the backend writes one byte once it maps */
	int hang;       /* then waits to be killed */
	unsigned mark;  /* else writes a mark at offset mark * 64 of page 0 */
};

static int backend_main(void *p)
{
	struct backend_arg *a = p;
	gm_xen *bx = emu_world(&t, 0);
	gm_gnttab *bt;
	unsigned char *m[4];
	int err = 0;
	char one = 1;

	ASSERT_OK(gm_gnttab_open(bx, &bt));
	for (unsigned d = 0; d < a->ndoms; d++) {
		m[d] = gm_gnttab_map(bt, a->count, a->doms[d], a->refs[d], GM_PROT_RW, &err);
		ASSERT_NOT_NULL(m[d]);
		/* the guest's pattern, but where backends leave marks */
		ASSERT_TRUE(pattern_ok_at(m[d] + 256, 256, a->count * GM_PAGE_SIZE - 256,
					  a->seeds[d]));
	}
	emu_send(a->ready_fd, &one, 1);
	if (a->hang)
		for (;;)
			pause();
	for (unsigned d = 0; d < a->ndoms; d++) {
		memset(m[d] + a->mark * 64, (int)(0xa0 + a->mark), 64);
		ASSERT_OK(gm_gnttab_unmap(bt, m[d], a->count));
	}
	gm_gnttab_close(bt);
	gm_xen_close(bx);
	return 0;
}

static void test_backend_killed(void)
{
	struct guest g;
	struct backend_arg a = {.ndoms = 1, .doms = {1}, .count = 3, .hang = 1, .seeds = {5}};
	struct gm_emu_domain_info info = {.size = sizeof(info)};
	int pfd[2];
	pid_t b;
	char c;

	guest_start(&g, &t, 1);
	guest_share(&g, 0, 3, 1, 5, a.refs[0]);
	ASSERT_OK(pipe(pfd));
	a.ready_fd = pfd[1];
	b = emu_fork(backend_main, &a);
	emu_recv(pfd[0], &c, 1);
	ASSERT_EQ(emu_wait_mapped(x, 1, 3), 3);
	ASSERT_ERR(guest_end(&g, a.refs[0][0]), -EBUSY);
	ASSERT_OK(kill(b, SIGKILL));
	ASSERT_OK(waitpid(b, NULL, 0) == b ? 0 : -1);
	ASSERT_EQ(emu_wait_mapped(x, 1, 0), 0);
	for (unsigned i = 0; i < 3; i++)
		ASSERT_OK(guest_end(&g, a.refs[0][i]));
	ASSERT_OK(gm_emu_domain_info(x, 1, &info));
	ASSERT_EQ(info.exists, 1);
	ASSERT_EQ(info.grants, 0);
	close(pfd[0]);
	close(pfd[1]);
	guest_stop(&g);
}

static void test_guest_killed(void)
{
	struct guest g;
	struct gm_emu_domain_info info = {.size = sizeof(info)};
	gm_gnttab *tab;
	gm_xs *xs;
	gm_gref refs[2];
	unsigned char *p;
	char *v = NULL;
	size_t len;
	int err;

	ASSERT_OK(gm_gnttab_open(x, &tab));
	ASSERT_OK(gm_xs_open(x, &xs));
	guest_start(&g, &t, 2);
	guest_share(&g, 0, 2, 1, 7, refs);
	ASSERT_OK(gm_xs_read(xs, 0, "/local/domain/2", &v, &len));
	free(v);
	p = gm_gnttab_map(tab, 2, 2, refs, GM_PROT_RW, &err);
	ASSERT_NOT_NULL(p);
	ASSERT_OK(kill(g.pid, SIGKILL));
	ASSERT_OK(waitpid(g.pid, NULL, 0) == g.pid ? 0 : -1);
	close(g.cmd);
	close(g.rep);
	/* dying: the pages stay mapped and readable, nothing new maps */
	for (int i = 0; i < 500; i++) {
		ASSERT_OK(gm_emu_domain_info(x, 2, &info));
		if (info.dying)
			break;
		emu_sleep_ms(10);
	}
	ASSERT_EQ(info.dying, 1);
	ASSERT_EQ(info.mapped, 2);
	ASSERT_TRUE(pattern_ok(p, 2 * GM_PAGE_SIZE, 7));
	p[0] ^= 1; /* still writable memory */
	ASSERT_ERR(gm_xs_read(xs, 0, "/local/domain/2", &v, &len), -ENOENT);
	ASSERT_NULL(gm_gnttab_map(tab, 1, 2, refs, GM_PROT_READ, &err));
	ASSERT_ERR(err, -EINVAL);
	{
		char spec[400];
		gm_xen *y = NULL;

		snprintf(spec, sizeof(spec), "emu:%s,domid=2", t.sock);
		ASSERT_ERR(gm_xen_open(spec, &y), -EBUSY); /* still dying */
	}
	ASSERT_OK(gm_gnttab_unmap(tab, p, 2));
	ASSERT_OK(gm_emu_domain_info(x, 2, &info));
	ASSERT_EQ(info.exists, 0);
	/* the id is free again */
	{
		gm_xen *y = emu_world(&t, 2);

		gm_xen_close(y);
	}
	gm_xs_close(xs);
	gm_gnttab_close(tab);
}

/* Three guests, two backends, all at once. */
static void test_many(void)
{
	enum { NG = 3, NB = 2 };
	struct guest g[NG];
	struct backend_arg a[NB];
	unsigned idx[NG];
	pid_t b[NB];
	int pfd[2];

	ASSERT_OK(pipe(pfd));
	memset(a, 0, sizeof(a));
	for (unsigned i = 0; i < NG; i++) {
		guest_start(&g[i], &t, 10 + i);
		idx[i] = guest_share(&g[i], 0, 4, 1, 100 + i, a[0].refs[i]);
		a[0].doms[i] = (gm_domid)(10 + i);
		a[0].seeds[i] = 100 + i;
	}
	a[0].ndoms = NG;
	a[0].count = 4;
	a[0].ready_fd = pfd[1];
	a[1] = a[0];
	for (unsigned k = 0; k < NB; k++) {
		a[k].mark = k + 1;
		b[k] = emu_fork(backend_main, &a[k]);
	}
	for (unsigned k = 0; k < NB; k++) {
		char c;

		emu_recv(pfd[0], &c, 1);
	}
	for (unsigned k = 0; k < NB; k++)
		emu_reap_ok(b[k]);
	for (unsigned i = 0; i < NG; i++) {
		ASSERT_EQ(emu_wait_mapped(x, (gm_domid)(10 + i), 0), 0);
		/* each backend's mark landed in each guest; the rest is intact */
		for (unsigned k = 0; k < NB; k++) {
			struct g_rep r = guest_call(&g[i], (struct g_cmd){.op = G_PEEK, .idx = idx[i],
									  .off = (k + 1) * 64});
			unsigned char want[64];

			memset(want, (int)(0xa0 + k + 1), sizeof(want));
			ASSERT_MEM_EQ(r.refs, want, sizeof(want));
		}
		guest_stop(&g[i]);
	}
	close(pfd[0]);
	close(pfd[1]);
}

/* ---- killed mid-operation ---- */

struct churn_arg {
	gm_gref refs[4];
	int ready_fd;
};

/* A backend that maps, unmaps and copies the guest's pages until killed. */
static int churn_main(void *p)
{
	struct churn_arg *a = p;
	gm_xen *bx = emu_world(&t, 0);
	gm_gnttab *bt;
	unsigned char buf[64];
	char one = 1;

	ASSERT_OK(gm_gnttab_open(bx, &bt));
	ASSERT_EQ(write(a->ready_fd, &one, 1), 1);
	for (unsigned i = 0;; i++) {
		gm_gref ref = a->refs[i % 4];
		struct gm_copy_seg seg = {.len = sizeof(buf)};
		unsigned char *m;
		int err;

		if (i % 2) {
			seg.source.foreign.ref = ref;
			seg.source.foreign.domid = 3;
			seg.dest.virt = buf;
			seg.flags = GM_COPY_SOURCE_GREF;
			ASSERT_OK(gm_gnttab_copy(bt, 1, &seg));
			ASSERT_EQ(seg.status, 0);
			continue;
		}
		m = gm_gnttab_map(bt, 1, 3, &ref, i % 4 ? GM_PROT_READ : GM_PROT_RW, &err);
		ASSERT_NOT_NULL(m);
		ASSERT_OK(gm_gnttab_unmap(bt, m, 1));
	}
}

struct live_arg {
	struct guest *g;
	gm_gref refs[4];
	atomic_bool stop;
	unsigned rounds, ended; /* ended: the guest ended a grant we mapped */
};

/* A live backend on the same pages: while it maps one, the guest's end fails. */
static void *live_main(void *p)
{
	struct live_arg *a = p;
	gm_gnttab *lt;

	ASSERT_OK(gm_gnttab_open(x, &lt));
	while (!atomic_load(&a->stop)) {
		gm_gref ref = a->refs[a->rounds % 4];
		unsigned char *m;
		int err;

		m = gm_gnttab_map(lt, 1, 3, &ref, a->rounds % 2 ? GM_PROT_READ : GM_PROT_RW, &err);
		ASSERT_NOT_NULL(m);
		if (guest_end(a->g, ref) != -EBUSY)
			a->ended++;
		ASSERT_OK(gm_gnttab_unmap(lt, m, 1));
		a->rounds++;
	}
	gm_gnttab_close(lt);
	return NULL;
}

/*
 * A backend killed at random instants of its maps, unmaps and copies, 100
 * times, beside a live backend mapping the same pages: nothing of the dead
 * ones stays counted (the guest ends every grant at the end), and the live
 * one's mappings always keep the guest from ending a grant.
 */
static void test_killed_mid_operation(void)
{
	struct guest g;
	struct churn_arg a;
	struct live_arg l = {.g = &g};
	pthread_t th;
	int pfd[2];

	guest_start(&g, &t, 3);
	guest_share(&g, 0, 4, 1, 9, a.refs);
	memcpy(l.refs, a.refs, sizeof(l.refs));
	ASSERT_OK(pipe(pfd));
	a.ready_fd = pfd[1];
	ASSERT_OK(pthread_create(&th, NULL, live_main, &l));
	srand(3);
	for (int i = 0; i < 100; i++) {
		pid_t b = emu_fork(churn_main, &a);
		struct timespec ts = {0, (long)(rand() % 2000) * 1000L};
		int st;
		char c;

		emu_recv(pfd[0], &c, 1);
		nanosleep(&ts, NULL);
		ASSERT_OK(kill(b, SIGKILL));
		ASSERT_OK(waitpid(b, &st, 0) == b ? 0 : -1);
		if (!WIFSIGNALED(st))
			GM_TEST_FAIL("the churning backend ended by itself (status 0x%x)", st);
	}
	atomic_store(&l.stop, true);
	ASSERT_OK(pthread_join(th, NULL));
	ASSERT_EQ(l.ended, 0);
	ASSERT_TRUE(l.rounds > 0);
	ASSERT_EQ(emu_wait_mapped(x, 3, 0), 0);
	for (unsigned i = 0; i < 4; i++)
		ASSERT_OK(guest_end(&g, a.refs[i]));
	printf("killed mid-operation: 100 backends, live backend %u rounds\n", l.rounds);
	close(pfd[0]);
	close(pfd[1]);
	guest_stop(&g);
}

int main(void)
{
	emu_test_start(&t);
	x = emu_world(&t, 0);
	test_backend_killed();
	test_guest_killed();
	test_many();
	test_killed_mid_operation();
	gm_xen_close(x);
	emu_test_stop(&t);
	return 0;
}
