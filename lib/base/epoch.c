/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Read-side sections; see internal.h.
 *
 * Why a reader on an owned slot needs no fence: gm__epoch_synchronize()
 * flips the parity, then runs membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED),
 * which returns only after every running thread of the process has executed
 * a full memory barrier, and then scans the counters of the old parity.  For
 * a reader whose count store came before that barrier in its program order,
 * the scan sees the count and waits.  For one whose store came after it,
 * every later load of the reader (its parity check, the pointers it follows)
 * comes after it too and sees what the writer did before the flip: the new
 * parity, so it moves to the other counter, and the new data, never the
 * old.  Threads that are not running have been through a context switch,
 * which orders the same way.
 */
#include "config.h"

#include "base.h"

#include <linux/membarrier.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread unsigned gm__tslot __attribute__((tls_model("initial-exec")));
bool gm__epoch_asym;

/* Owned slots in use: bit i is slot i. */
static atomic_uint_least64_t slots_used;
static pthread_key_t slot_key;
static pthread_once_t epoch_once = PTHREAD_ONCE_INIT;
static bool key_ok;

static int sys_membarrier(int cmd)
{
#ifdef SYS_membarrier
	return (int)syscall(SYS_membarrier, cmd, 0, 0);
#else
	(void)cmd;
	errno = ENOSYS;
	return -1;
#endif
}

static void slot_put(unsigned slot)
{
	if (slot < GM__EPOCH_OWNED)
		atomic_fetch_and(&slots_used, ~(UINT64_C(1) << slot));
}

/* A thread that exits gives its slot back.  It is in no section: a section
 * never spans a return to the caller's own code that could end the thread. */
static void thread_gone(void *v)
{
	slot_put((unsigned)(uintptr_t)v - 1);
}

/* In a forked child only the forking thread lives: free the others' slots. */
static void after_fork_child(void)
{
	unsigned s = gm__tslot;

	atomic_store(&slots_used, s && s - 1 < GM__EPOCH_OWNED ? UINT64_C(1) << (s - 1) : 0);
}

static void epoch_init(void)
{
	key_ok = pthread_key_create(&slot_key, thread_gone) == 0;
	pthread_atfork(NULL, NULL, after_fork_child);
	/* Registration, then one call to be sure the command works here
	 * (seccomp filters and some emulators refuse it).  The fault site lets
	 * tests run the fallback where the kernel has it. */
	gm__epoch_asym = !gm__fault("membarrier") &&
			 sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
			 sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0;
	if (!gm__epoch_asym)
		gm__dbg("no expedited membarrier: read-side sections use locked instructions");
}

unsigned gm__thread_slot_slow(void)
{
	unsigned slot = GM__EPOCH_OWNED; /* the shared one, unless we get our own */

	pthread_once(&epoch_once, epoch_init);
	if (key_ok) {
		uint64_t used = atomic_load(&slots_used);
		while (~used) {
			unsigned i = (unsigned)__builtin_ctzll(~used);
			if (atomic_compare_exchange_weak(&slots_used, &used,
							 used | (UINT64_C(1) << i))) {
				slot = i;
				break;
			}
		}
		if (slot < GM__EPOCH_OWNED &&
		    pthread_setspecific(slot_key, (void *)(uintptr_t)(slot + 1))) {
			slot_put(slot);
			slot = GM__EPOCH_OWNED;
		}
	}
	gm__tslot = slot + 1;
	return slot;
}

void gm__epoch_enter_shared(struct gm__epoch *e, struct gm__epoch_token *t)
{
	unsigned slot = gm__thread_slot();

	/* As gm__epoch_enter(), with seq_cst read-modify-writes pairing with
	 * the writer's flip and its counter loads. */
	for (;;) {
		unsigned p = atomic_load(&e->parity) & 1;
		atomic_fetch_add(&e->slots[slot].n[p], 1);
		if ((atomic_load(&e->parity) & 1) == p) {
			t->slot = slot;
			t->parity = p;
			return;
		}
		atomic_fetch_sub(&e->slots[slot].n[p], 1);
	}
}

void gm__epoch_synchronize(struct gm__epoch *e)
{
	pthread_once(&epoch_once, epoch_init);

	unsigned old = atomic_fetch_xor(&e->parity, 1) & 1;

	if (gm__epoch_asym && sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
		gm__err("membarrier failed after it worked: %s", gm_strerror(-errno));
	/*
	 * seq_cst, not acquire: without the membarrier this is Dekker's
	 * pattern with gm__epoch_enter_shared() -- each side writes its own
	 * word (the flip, the count) then reads the other's -- and only
	 * sequentially consistent loads on both sides promise that one of
	 * them sees the other's write.  The same instruction as acquire on
	 * x86 and Arm64.
	 */
	for (unsigned i = 0; i < GM__EPOCH_SLOTS; i++)
		while (atomic_load_explicit(&e->slots[i].n[old], memory_order_seq_cst) != 0)
			sched_yield();
}

void *gm__zalloc_aligned(size_t n)
{
	void *p;

	if (gm__fault("alloc"))
		return NULL;
	n = (n + GM__CACHELINE - 1) & ~(size_t)(GM__CACHELINE - 1);
	p = aligned_alloc(GM__CACHELINE, n);
	if (p)
		memset(p, 0, n);
	return p;
}
