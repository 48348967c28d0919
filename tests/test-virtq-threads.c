/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A driver thread and a device thread on one queue, for both layouts, and
 * two such pairs at once on one address space: the ring's acquire/release
 * protocol under TSan in CI (make check-threads).  Kicks and interrupts
 * are flags in process memory; the device sleeps only after re-enabling
 * notifications found no work (the lost-wakeup check).
 */
#include "test-virtq-common.h"
#include "no-membarrier.h"

#include <pthread.h>
#include <sched.h>

#define NREQ 20000

struct pair {
	struct tq t;
	uint64_t data; /* this pair's data area (guest address) */
	unsigned char *host;
	atomic_int kicks;
	atomic_int done;
	unsigned long interrupts;
};

static void *device(void *arg)
{
	struct pair *p = arg;
	unsigned long served = 0;

	gm_vq_set_notify(p->t.vq, false);
	while (served < NREQ) {
		struct gm_vq_req *r;
		int ret = gm_vq_pop(p->t.vq, &r);

		if (ret == 0) {
			uint64_t v;
			bool notify;

			ASSERT_EQ(r->nout, 1);
			ASSERT_EQ(r->nin, 1);
			memcpy(&v, r->iov[0].iov_base, 8);
			v = ~v;
			memcpy(r->iov[1].iov_base, &v, 8);
			ASSERT_OK(gm_vq_push(p->t.vq, r, 8, &notify));
			served++;
			continue;
		}
		ASSERT_EQ(ret, -EAGAIN);
		/* idle: ask for kicks, then look once more before waiting */
		if (gm_vq_set_notify(p->t.vq, true) == 1) {
			gm_vq_set_notify(p->t.vq, false);
			continue;
		}
		while (!atomic_exchange(&p->kicks, 0) && !gm_vq_pending(p->t.vq))
			sched_yield();
		gm_vq_set_notify(p->t.vq, false);
	}
	atomic_store(&p->done, 1);
	return NULL;
}

static void *driver(void *arg)
{
	struct pair *p = arg;
	unsigned size = p->t.d.cfg.size;
	unsigned long sent = 0, got = 0;

	while (got < NREQ) {
		while (sent < NREQ && p->t.d.num_free >= 2) {
			unsigned slot = (unsigned)(sent % size);
			uint64_t v = sent;
			const struct vqd_buf b[2] = {{p->data + slot * 16, 8, false},
						     {p->data + slot * 16 + 8, 8, true}};

			ASSERT_OK(gm_write(p->t.m, b[0].addr, &v, 8));
			ASSERT_TRUE(vqd_add(&p->t.d, b, 2, 0, (void *)(uintptr_t)sent) >= 0);
			if (vqd_kick_needed(&p->t.d) == 1)
				atomic_store(&p->kicks, 1);
			sent++;
		}
		void *tok;
		uint32_t len;
		int ret = vqd_get_used(&p->t.d, &tok, &len);

		if (ret == -EAGAIN) {
			sched_yield();
			continue;
		}
		ASSERT_OK(ret);
		uint64_t n = (uint64_t)(uintptr_t)tok, v;

		ASSERT_EQ(n, got); /* this device completes in order */
		ASSERT_EQ(len, 8);
		ASSERT_OK(gm_read(p->t.m, p->data + (n % size) * 16 + 8, &v, 8));
		ASSERT_EQ_U64(v, ~n);
		got++;
	}
	return NULL;
}

int main(void)
{
	struct ram g;
	static struct pair pairs[4];
	pthread_t th[8];
	const struct tq_opts o[4] = {
		{.size = 8},
		{.size = 16, .event_idx = true},
		{.packed = true, .size = 7},
		{.packed = true, .size = 16, .event_idx = true},
	};

	test_also_without_membarrier();
	g = ram_new();
	vt_log_init();
	for (unsigned i = 0; i < 4; i++) {
		tq_init_at(&pairs[i].t, g.m, ga(RING_AREA + i * 0x10000), &o[i]);
		pairs[i].data = ga(DATA_AREA + i * 0x10000);
		ASSERT_OK(pthread_create(&th[2 * i], NULL, device, &pairs[i]));
		ASSERT_OK(pthread_create(&th[2 * i + 1], NULL, driver, &pairs[i]));
	}
	for (unsigned i = 0; i < 8; i++)
		ASSERT_OK(pthread_join(th[i], NULL));
	for (unsigned i = 0; i < 4; i++) {
		ASSERT_TRUE(atomic_load(&pairs[i].done));
		ASSERT_TRUE(!gm_vq_broken(pairs[i].t.vq));
		tq_fini(&pairs[i].t);
	}
	ASSERT_EQ(atomic_load(&vt_warnings), 0);
	ram_free(&g);
	return 0;
}
