/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fault sweep: a grant-level end-to-end scenario (cache, grant region,
 * space; map_sg, writes, copies, persistent maps, invalidation) run once per
 * (call site, n): the n-th call at that site fails, for every site the
 * scenario reaches and n up to the number of calls it makes there (at most
 * K).  Each case runs in a forked child under alarm() and checks:
 *   - every call returns 0 or a negative errno (no crash, no hang);
 *   - after the failure the same objects serve a clean round of requests;
 *   - nothing stays mapped (the fake Xen's batches) and no batch leaks;
 *   - no file descriptor leaks (/proc/self/fd before and after);
 *   - under the sanitizer build, LeakSanitizer checks memory at exit.
 * Prints "fault-sweep: sites=S cases=C injected=I failed=F".
 */
#include "helpers.h"
#include "fake-xen.h"

#include <grantmem/grantmem.h>

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG GM_PAGE_SIZE
#define DOM 1
#define K 40

static const char *const sites[] = {
	"alloc", "gnttab_open", "gnttab_set_max_grants", "gnttab_map", "gnttab_unmap",
	"gnttab_copy",
};

static void quiet(void *o, gm_log_level l, const char *m)
{
	(void)o, (void)l, (void)m;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Every result must be 0 or a negative errno; the first failure is kept. */
#define STEP(expr)                                                                         \
	do {                                                                               \
		long long r_ = (long long)(expr);                                          \
		if (r_ > 0 || r_ < -4095) {                                                \
			fprintf(stderr, "%s: not an errno: %lld\n", #expr, r_);            \
			_exit(3);                                                          \
		}                                                                          \
		if (r_ && !ret)                                                            \
			ret = (int)r_;                                                     \
	} while (0)

/* One round of requests on @m: returns 0 or the first errno. */
static int round_trip(gm_mem *m, gm_grant_cache *c)
{
	struct gm_sg in[2] = {{GM_GRANT_ADDR(10, 16), PG}, {GM_GRANT_ADDR(14, 0), 2 * PG}};
	struct iovec iov[4];
	static unsigned char buf[3 * PG];
	size_t len = PG;
	int ret = 0, err = 0;

	int n = gm_map_sg(m, in, 2, iov, 4, GM_PROT_RW);
	if (n > 0) {
		memset(iov[0].iov_base, 0x11, iov[0].iov_len);
		gm_unmap_sg(m, in, 2, iov, (unsigned)n, GM_PROT_RW, SIZE_MAX);
	} else {
		STEP(n);
	}
	STEP(gm_write(m, GM_GRANT_ADDR(11, 100), buf, 200));
	STEP(gm_read(m, GM_GRANT_ADDR(12, 0), buf, 3 * PG));
	STEP(gm_copy(m, GM_GRANT_ADDR(10, 0), m, GM_GRANT_ADDR(12, 0), 2 * PG));
	void *p = gm_map(m, GM_GRANT_ADDR(15, 0), &len, GM_PROT_READ | GM_MAP_PERSISTENT, &err);
	if (p)
		gm_unmap(m, GM_GRANT_ADDR(15, 0), p, len, GM_PROT_READ | GM_MAP_PERSISTENT, 0);
	else
		STEP(err);
	uint32_t v;
	STEP(gm_load_acquire32(m, GM_GRANT_ADDR(16, 4), &v));
	STEP(gm_store_release32(m, GM_GRANT_ADDR(16, 4), v + 1));
	int inv = gm_grant_cache_invalidate_all(c);
	STEP(inv > 0 ? 0 : inv);
	return ret;
}

/*
 * The scenario: set up, a round with the fault armed, then (if the setup
 * survived) a clean round that must succeed.  Returns the child's exit code.
 */
static int scenario(const char *site, unsigned nth, unsigned long *calls)
{
	int ret = 0, fds0 = count_fds();
	struct fake_xen *fx = fake_xen_new(16);
	gm_gnttab *g = NULL;
	gm_grant_cache *c = NULL;
	gm_region *r = NULL;
	gm_space *s = NULL;

	if (!fx)
		return 99;
	for (unsigned i = 0; i < 8; i++)
		if (fake_xen_grant(fx, DOM, 10 + i, i, true))
			return 99;
	if (site)
		gm_fault_inject(site, nth, strcmp(site, "alloc") ? -EIO : -ENOMEM);
	STEP(gm_gnttab_open(fake_xen_world(fx), &g));
	if (g)
		STEP(gm_grant_cache_new(g, NULL, &c));
	if (c)
		STEP(gm_grant_region_new(c, DOM, GM_GRANT_TRANSIENT, &r));
	if (r)
		STEP(gm_space_new(&s));
	if (s)
		STEP(gm_space_add(s, GM_GRANT_BASE, r));
	bool ready = s && !ret;
	if (ready)
		STEP(round_trip(gm_space_mem(s), c));
	if (calls)
		for (unsigned i = 0; i < sizeof(sites) / sizeof(sites[0]); i++)
			calls[i] = gm_fault_count(sites[i]);
	gm_fault_reset();
	/* the backend keeps serving after an injected failure */
	if (ready && round_trip(gm_space_mem(s), c) != 0) {
		fprintf(stderr, "%s #%u: the clean round after the fault failed\n", site, nth);
		return 4;
	}
	gm_space_free(s);
	gm_region_free(r);
	gm_grant_cache_free(c);
	struct fake_xen_stats st;
	fake_xen_stats(fx, &st);
	if (st.batches_mapped) {
		fprintf(stderr, "%s #%u: %lu batches still mapped\n", site, nth, st.batches_mapped);
		return 5;
	}
	gm_gnttab_close(g);
	fake_xen_stats(fx, &st);
	fake_xen_free(fx);
	if (st.leaked_batches) {
		fprintf(stderr, "%s #%u: %lu batches leaked\n", site, nth, st.leaked_batches);
		return 6;
	}
	if (count_fds() != fds0) {
		fprintf(stderr, "%s #%u: fds %d -> %d\n", site, nth, fds0, count_fds());
		return 7;
	}
	/* whether the fault hit or not, the result was an errno or success */
	return ret ? 10 : 11;
}

int main(void)
{
	const unsigned nsites = sizeof(sites) / sizeof(sites[0]);
	unsigned long calls[sizeof(sites) / sizeof(sites[0])];
	unsigned cases = 0, failed = 0, surfaced = 0, reached = 0;

	gm_set_log(quiet, NULL, GM_LOG_ERROR);
	/* Calibrate: count the calls each site sees in a clean run. */
	for (unsigned i = 0; i < nsites; i++)
		ASSERT_OK(gm_fault_inject(sites[i], 0, -EIO));
	ASSERT_EQ(scenario(NULL, 0, calls), 11);
	for (unsigned i = 0; i < nsites; i++) {
		printf("site %s: %lu calls\n", sites[i], calls[i]);
		reached += calls[i] != 0;
	}
	for (unsigned i = 0; i < nsites; i++) {
		for (unsigned n = 1; n <= calls[i] && n <= K; n++) {
			int st;

			fflush(NULL);
			pid_t pid = fork();
			ASSERT_TRUE(pid >= 0);
			if (pid == 0) {
				alarm(10);
				_exit(scenario(sites[i], n, NULL));
			}
			while (waitpid(pid, &st, 0) < 0)
				;
			cases++;
			if (WIFEXITED(st) && WEXITSTATUS(st) == 10) {
				surfaced++;
			} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 11) {
				failed++;
				printf("FAIL %s #%u: %s %d\n", sites[i], n,
				       WIFEXITED(st) ? "exit" : "signal",
				       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			}
		}
	}
	printf("fault-sweep: sites=%u cases=%u injected=%u surfaced=%u absorbed=%u failed=%u\n",
	       reached, cases, cases, surfaced, cases - surfaced - failed, failed);
	return failed ? 1 : 0;
}
