/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virtio-blk end to end on the emulated Xen, across processes:
 * tools/grantmem-blk in driver domain 1 (multi-threaded: one thread per
 * queue) serves tools/grantmem-guest in domain 5, which verifies every byte
 * it reads and ends every data grant right after completion.
 *
 *   - split rings, transient grants (and discards): one map call per
 *     direction of a batch of requests, fewer than one per request,
 *     nothing left mapped;
 *   - persistent grants: zero map calls per request in steady state;
 *   - two queues; packed rings (transient and persistent);
 *   - the frontend disconnects and reconnects in the middle of I/O;
 *   - the frontend is killed (SIGKILL) mid-request: the backend survives,
 *     releases everything and serves a new frontend;
 *   - an event-channel storm: the frontend notifies one of its two busy
 *     queues without pause; the backend stops in the middle of one;
 *   - SIGTERM: the backend exits 0 with nothing mapped;
 *   - --data copy (no map call at all), --data auto (small requests
 *     copied, big ones mapped), and a grant copy the guest refuses (the
 *     request gets IOERR, the queue serves on);
 *   - a driver domain's backend serving two guests at once, each from an
 *     image of its own, each map counted for its own guest; one of them
 *     hostile (requests past the disk's end, a chain longer than seg_max,
 *     one page repeated along a chain, a buffer no budget can hold) while
 *     the other's I/O goes on; the other's throughput alone and beside a
 *     guest that floods the backend, as a ratio; 1,000 guests connecting
 *     and leaving; a persistent pool over the cache's budget evicted
 *     32,768 times while another guest's misses go on;
 *   - a guest that follows its backend (--follow) through the backend's
 *     domain dying, being built again under the same id (its disk kept:
 *     what was written before is read back), and moving to another domain;
 *   - a guest that starts where an earlier run left its device Connected
 *     closes it first and is served.
 */
#include "config.h"

#include "test-emu-common.h"

#include <grantmem/vdev.h>
#include <grantmem/virtio.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#define BE 1
#define FE 5
#define FE2 6
#define BE2 2

static struct emu_test T;
static gm_xen *X0;
static gm_xs *TS;
static char tools[512], image[320];

static const char *BE_DIR = "/local/domain/1/backend/gm-virtio/5/0";

/* fork + exec @argv with stdout/stderr into @out (a file, or NULL: inherit). */
static pid_t spawn(char *const argv[], const char *out)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
				_exit(99);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(99);
	}
	return pid;
}

static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		ASSERT_TRUE(errno == EINTR);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* reap(), but give up after @ms: -1 if @pid is still running. */
static int reap_within(pid_t pid, int ms)
{
	int st;

	for (int i = 0; i < ms / 10; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
		ASSERT_TRUE(r == 0 || errno == EINTR);
		emu_sleep_ms(10);
	}
	return -1;
}

static void cat(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  | %s", line);
	fclose(f);
}

struct summary {
	unsigned long long requests, bytes_verified, errors, iops;
	double mcpr;
	/* from the result line: the backend's own counts, exactly */
	unsigned long long map_calls, be_requests;
	/* --storm-queue: notifications sent, the backend's wakeups for them */
	int storm_queue;
	unsigned long long storm_notifies, storm_wakeups, storm_served;
	/* --follow: connections lost, backend domain changes, reconnects */
	unsigned long long lost, moved, reconnects;
	/* --hostile: requests sent, served, refused, never answered */
	char hostile_mode[16];
	unsigned long long h_sent, h_ok, h_refused, h_unanswered;
	double h_max_refusal_ms; /* the longest wait for a refusal */
	double p50_us, p99_us;   /* request latency, from the result line */
};

static int read_summary(const char *path, struct summary *s)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		const char *b = strstr(line, "backend: ");

		sscanf(line, "storm: queue=%d notifies=%llu wakeups=%llu served=%llu",
		       &s->storm_queue, &s->storm_notifies, &s->storm_wakeups, &s->storm_served);
		sscanf(line, "hostile: mode=%15s sent=%llu ok=%llu refused=%llu unanswered=%llu "
		       "max_refusal_ms=%lf", s->hostile_mode, &s->h_sent, &s->h_ok, &s->h_refused,
		       &s->h_unanswered, &s->h_max_refusal_ms);
		{
			const char *l = strstr(line, " lost=");

			if (!strncmp(line, "summary:", 8) && l)
				sscanf(l, " lost=%llu moved=%llu reconnects=%llu", &s->lost,
				       &s->moved, &s->reconnects);
		}
		if (!strncmp(line, "result:", 7) && b)
			sscanf(b, "backend: %llu map calls for %llu requests", &s->map_calls,
			       &s->be_requests);
		if (!strncmp(line, "result:", 7) && strstr(line, "latency p50="))
			sscanf(strstr(line, "latency p50="), "latency p50=%lfus p99=%lfus",
			       &s->p50_us, &s->p99_us);
		if (sscanf(line,
			   "summary: requests=%llu bytes_verified=%llu errors=%llu "
			   "map_calls_per_request=%lf iops=%llu",
			   &s->requests, &s->bytes_verified, &s->errors, &s->mcpr, &s->iops) == 5)
			found++;
	}
	fclose(f);
	return found;
}

/*
 * Start grantmem-blk as domain @dom on @img (with --image-size @size when
 * not NULL: one image per frontend), --stats, then the @extra arguments
 * (NULL-terminated, at most 8; NULL: none).
 */
static pid_t start_blk(unsigned dom, const char *img, const char *size, const char *const *extra)
{
	char prog[600], xen[400], out[400];
	char *argv[20];
	int n = 0;

	snprintf(prog, sizeof(prog), "%s/grantmem-blk", tools);
	snprintf(xen, sizeof(xen), "emu:%s,domid=%u", T.sock, dom);
	snprintf(out, sizeof(out), "%s/blk.out", T.dir);
	argv[n++] = prog;
	argv[n++] = (char *)"--xen";
	argv[n++] = xen;
	argv[n++] = (char *)"--image";
	argv[n++] = (char *)img;
	if (size) {
		argv[n++] = (char *)"--image-size";
		argv[n++] = (char *)size;
	}
	argv[n++] = (char *)"--stats";
	for (int i = 0; extra && extra[i]; i++) {
		ASSERT_TRUE(i < 8);
		argv[n++] = (char *)extra[i];
	}
	argv[n] = NULL;
	return spawn(argv, out);
}

/* Start grantmem-blk in domain 1 with up to 3 extra arguments (NULL: none). */
static pid_t start_backend3(const char *extra1, const char *extra2, const char *extra3)
{
	const char *extra[4] = {0};
	int n = 0;

	if (extra1)
		extra[n++] = extra1;
	if (extra2)
		extra[n++] = extra2;
	if (extra3)
		extra[n++] = extra3;
	return start_blk(BE, image, NULL, extra);
}

static pid_t start_backend(const char *extra1, const char *extra2)
{
	return start_backend3(extra1, extra2, NULL);
}

/* Stop the backend with SIGTERM: it must exit 0, nothing of the guest mapped. */
static void stop_backend(pid_t pid)
{
	char out[400];
	int rc;

	kill(pid, SIGTERM);
	rc = reap(pid);
	snprintf(out, sizeof(out), "%s/blk.out", T.dir);
	if (rc != 0) {
		cat(out);
		GM_TEST_FAIL("grantmem-blk exited %d", rc);
	}
	ASSERT_EQ(emu_wait_mapped(X0, FE, 0), 0);
	unlink(out);
}

/* The domain each running guest process is (start_guest_as), for guest_left(). */
static struct {
	pid_t pid;
	unsigned dom;
} guest_doms[64];

/*
 * Guest process @pid was reaped: wait until the hub has seen its domain's
 * last connection close (and torn the domain down, /local/domain/<id>
 * included).  The hub learns of a dead process asynchronously: a device
 * added again for the same domain before that would lose its frontend
 * directory to the old domain's teardown.
 */
static void guest_left(pid_t pid)
{
	struct gm_emu_domain_info di = {.size = sizeof(di)};

	for (unsigned i = 0; i < 64; i++) {
		if (guest_doms[i].pid != pid)
			continue;
		guest_doms[i].pid = 0;
		for (int t = 0; t < 1000; t++) {
			ASSERT_OK(gm_emu_domain_info(X0, (gm_domid)guest_doms[i].dom, &di));
			if (!di.connections)
				return;
			emu_sleep_ms(10);
		}
		GM_TEST_FAIL("domain %u still has %u connection(s) 10 s after its process exited",
			     guest_doms[i].dom, di.connections);
	}
}

/* Run grantmem-guest as domain @dom with @args (NULL-terminated). */
static pid_t start_guest_as(unsigned dom, const char *const *args, const char *out)
{
	char prog[600], xen[400];
	char *argv[32];
	int n = 0;
	pid_t pid;

	snprintf(prog, sizeof(prog), "%s/grantmem-guest", tools);
	snprintf(xen, sizeof(xen), "emu:%s,domid=%u,ram=64m", T.sock, dom);
	argv[n++] = prog;
	argv[n++] = (char *)"--xen";
	argv[n++] = xen;
	argv[n++] = (char *)"--quiet";
	argv[n++] = (char *)"--timeout";
	argv[n++] = (char *)"20";
	while (*args && n < 31)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	pid = spawn(argv, out);
	for (unsigned i = 0; i < 64; i++)
		if (!guest_doms[i].pid) {
			guest_doms[i].pid = pid;
			guest_doms[i].dom = dom;
			return pid;
		}
	GM_TEST_FAIL("more than 64 guest processes not yet waited for");
}

static pid_t start_guest(const char *const *args, const char *out)
{
	return start_guest_as(FE, args, out);
}

static struct summary run_guest(const char *what, const char *const *args)
{
	char out[400];
	struct summary s;
	pid_t pid;
	int rc;

	snprintf(out, sizeof(out), "%s/guest.out", T.dir);
	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	pid = start_guest(args, out);
	rc = reap(pid);
	guest_left(pid);
	memset(&s, 0, sizeof(s));
	s.storm_queue = -1;
	if (rc != 0 || read_summary(out, &s) != 1 || s.errors || !s.requests) {
		cat(out);
		GM_TEST_FAIL("%s: grantmem-guest exited %d", what, rc);
	}
	printf("%s: requests=%llu bytes_verified=%llu map_calls_per_request=%.2f\n", what,
	       s.requests, s.bytes_verified, s.mcpr);
	unlink(out);
	/* every grant of the guest was ended: the hub has nothing mapped */
	ASSERT_EQ(emu_wait_mapped(X0, FE, 0), 0);
	return s;
}

/* What grantmem-blk published as stats/@key (0 while there is none). */
static uint64_t backend_stat(const char *key)
{
	uint64_t n = 0;
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/stats", BE_DIR);
	gm_vdev_read_u64(TS, dir, key, UINT64_MAX, &n);
	return n;
}

/*
 * Transient grants.  A virtio-blk request goes both ways (header out,
 * status in): the virtqueue copies the small direction and maps the other,
 * and what one kick brings is popped as a batch whose readable parts are
 * mapped with one gm_map_sg and writable parts with another.  Each of those
 * is exactly one map call (fresh grants: nothing is mapped already), so
 * the backend's map calls are its queues' map calls (published when the
 * frontend left), at most two per batch, and at this depth fewer than one
 * per request.
 */
static void check_transient(const char *what, const struct summary *s)
{
	uint64_t maps = backend_stat("map-calls"), pops = backend_stat("pop-map-calls");
	uint64_t batches = backend_stat("batches"), reqs = backend_stat("requests");

	if (maps != pops || maps > 2 * batches || batches > reqs)
		GM_TEST_FAIL("%s: %" PRIu64 " map calls, the queues made %" PRIu64 " in %" PRIu64
			     " batches of %" PRIu64 " requests", what, maps, pops, batches, reqs);
	if (s->map_calls >= s->be_requests)
		GM_TEST_FAIL("%s: %llu map calls for %llu requests, want fewer", what,
			     s->map_calls, s->be_requests);
	printf("%s: %" PRIu64 " requests in %" PRIu64 " batches, %" PRIu64 " map calls\n", what,
	       reqs, batches, maps);
}

static void test_split_transient(void)
{
	static const char *const args[] = {"--requests", "1000", "--depth", "8", "--discard",
					   NULL};
	pid_t be = start_backend(NULL, NULL);
	struct summary s = run_guest("split transient", args);

	ASSERT_TRUE(s.bytes_verified > 0);
	ASSERT_TRUE(s.be_requests >= 1000);
	check_transient("split transient", &s);
	stop_backend(be);
}

static void test_split_persistent(void)
{
	static const char *const args[] = {"--requests", "1000", "--depth", "8", "--size",
					   "8192", NULL};
	pid_t be = start_backend("--persistent", NULL);
	struct summary s = run_guest("split persistent", args);

	ASSERT_TRUE(s.bytes_verified > 0);
	ASSERT_TRUE(s.be_requests >= 1000);
	if (s.map_calls != 0)
		GM_TEST_FAIL("persistent: %llu map calls for %llu requests in steady state",
			     s.map_calls, s.be_requests);
	stop_backend(be);
}

static void test_multiqueue_seq(void)
{
	static const char *const args[] = {"--requests", "1000", "--depth", "4", "--queues", "2",
					   "--seq", "--size", "65536", NULL};
	pid_t be = start_backend("--queues", "2");
	struct summary s = run_guest("two queues, sequential", args);

	ASSERT_TRUE(s.bytes_verified > 0);
	stop_backend(be);
}

static void test_packed(void)
{
	static const char *const args[] = {"--requests", "1000", "--depth", "8", "--packed",
					   "--queues", "2", "--queue-size", "64", NULL};
	pid_t be = start_backend3("--packed", "--queues", "2");
	struct summary s = run_guest("packed transient", args);

	ASSERT_TRUE(s.bytes_verified > 0);
	check_transient("packed transient", &s);
	stop_backend(be);
}

static void test_packed_persistent(void)
{
	static const char *const args[] = {"--requests", "1000", "--depth", "8", "--packed",
					   NULL};
	pid_t be = start_backend("--packed", "--persistent");
	struct summary s = run_guest("packed persistent", args);

	ASSERT_TRUE(s.bytes_verified > 0);
	if (s.map_calls != 0)
		GM_TEST_FAIL("packed persistent: %llu map calls for %llu requests", s.map_calls,
			     s.be_requests);
	stop_backend(be);
}

static void test_reconnect(void)
{
	static const char *const args[] = {"--requests", "1000", "--depth", "16",
					   "--reconnect-every", "250", NULL};
	pid_t be = start_backend(NULL, NULL);

	/* the guest checks itself that nothing stays mapped after each close */
	run_guest("reconnect mid-I/O", args);
	stop_backend(be);
}

static void test_kill_frontend(void)
{
	static const char *const forever[] = {"--seconds", "60", "--depth", "16", NULL};
	static const char *const again[] = {"--requests", "500", NULL};
	struct gm_emu_domain_info di = {.size = sizeof(di)};
	enum gm_vdev_state st = GM_VDEV_STATE_UNKNOWN;
	char out[400];
	pid_t be = start_backend(NULL, NULL), g;
	int i;

	snprintf(out, sizeof(out), "%s/guest.out", T.dir);
	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	g = start_guest(forever, out);
	/* wait until it is busy, then kill it in the middle of its requests */
	for (i = 0; i < 1000 && backend_stat("requests") < 200; i++)
		emu_sleep_ms(10);
	if (backend_stat("requests") < 200) {
		cat(out);
		GM_TEST_FAIL("the guest did not get going");
	}
	kill(g, SIGKILL);
	ASSERT_EQ(reap(g), 128 + SIGKILL);
	unlink(out);
	/* the backend lets go of everything: the dead domain can be freed */
	for (i = 0; i < 500; i++) {
		ASSERT_OK(gm_emu_domain_info(X0, FE, &di));
		if (!di.exists)
			break;
		emu_sleep_ms(10);
	}
	ASSERT_EQ(di.exists, 0);
	for (i = 0; i < 500; i++) {
		ASSERT_OK(gm_vdev_read_state(TS, BE_DIR, &st));
		if (st == GM_VDEV_STATE_CLOSED)
			break;
		emu_sleep_ms(10);
	}
	ASSERT_EQ(st, GM_VDEV_STATE_CLOSED);
	ASSERT_EQ(kill(be, 0), 0); /* still alive */
	/* a new domain 5 gets served by the same backend */
	run_guest("after kill -9", again);
	stop_backend(be);
}

/*
 * An event-channel storm: the guest notifies queue 1's port without pause
 * while both queues do verified I/O.  The backend serves both throughout
 * (queue 1's thread gets back to its ring between kicks); its wakeups for
 * queue 1 coalesce (the port is masked from delivery until the queue
 * thread unmasks it: never more wakeups than notifications) and stop once
 * the storm does (the guest checks that), nothing stays mapped and the
 * backend exits cleanly.
 */
static void test_evtchn_storm(void)
{
	static const char *const args[] = {"--requests", "2000", "--depth", "8", "--queues", "2",
					   "--storm-queue", "1", NULL};
	pid_t be = start_backend("--queues", "2");
	struct summary s = run_guest("event-channel storm", args);

	ASSERT_EQ(s.storm_queue, 1);
	ASSERT_TRUE(s.requests >= 2000);
	/* both queues served: the guest's budget is shared, neither starves */
	if (s.storm_served < 50 || s.storm_served + 50 > s.requests)
		GM_TEST_FAIL("the stormed queue served %llu of %llu requests", s.storm_served,
			     s.requests);
	/* a storm, not a drizzle: the queue-0 I/O ran under it */
	if (s.storm_notifies < 1000)
		GM_TEST_FAIL("only %llu notifications during the I/O", s.storm_notifies);
	if (!s.storm_wakeups || s.storm_wakeups > s.storm_notifies)
		GM_TEST_FAIL("%llu wakeups for %llu notifications", s.storm_wakeups,
			     s.storm_notifies);
	printf("event-channel storm: %llu notifications, %llu backend wakeups (%.3f per "
	       "notification), %llu requests served on the stormed queue\n", s.storm_notifies,
	       s.storm_wakeups, (double)s.storm_wakeups / (double)s.storm_notifies,
	       s.storm_served);
	ASSERT_EQ(kill(be, 0), 0);
	stop_backend(be);
}

/*
 * The backend stops (SIGTERM) while the guest storms: each queue thread
 * must get back to its stop check between kicks, so the backend exits 0
 * at once, with every page of the guest (still alive) unmapped.
 */
static void test_evtchn_storm_stop(void)
{
	static const char *const args[] = {"--seconds", "60", "--depth", "8", "--queues", "2",
					   "--storm-queue", "1", NULL};
	char out[400], blk_out[400];
	uint64_t wakeups = 0;
	pid_t be = start_backend("--queues", "2"), g;
	int rc, i;

	snprintf(out, sizeof(out), "%s/guest.out", T.dir);
	snprintf(blk_out, sizeof(blk_out), "%s/blk.out", T.dir);
	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	g = start_guest(args, out);
	/* the storm is on once the backend's wakeups for queue 1 pile up */
	for (i = 0; i < 1000 && (wakeups = backend_stat("queue-1/wakeups")) < 200; i++)
		emu_sleep_ms(10);
	if (wakeups < 200) {
		cat(out);
		GM_TEST_FAIL("no storm: %" PRIu64 " wakeups for queue 1", wakeups);
	}
	kill(be, SIGTERM);
	rc = reap_within(be, 10000);
	if (rc != 0) {
		if (rc < 0)
			kill(be, SIGKILL);
		cat(blk_out);
		GM_TEST_FAIL("grantmem-blk, stopped during a storm: %s %d",
			     rc < 0 ? "still running after 10 s;" : "exit", rc < 0 ? 0 : rc);
	}
	ASSERT_EQ(emu_wait_mapped(X0, FE, 0), 0);
	kill(g, SIGKILL);
	reap(g);
	unlink(out);
	unlink(blk_out);
	ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE, FE, 0));
	printf("event-channel storm: the backend stopped in the middle of one, nothing mapped\n");
}


/*
 * --data copy: every request reaches the device unmapped and its buffers
 * move with grant copies, so the queues make no map call at all (the rings'
 * apart, which stats/ leave out); the guest still verifies every byte and
 * ends every grant at once.  --data auto maps what is bigger than its
 * crossover and copies the rest.
 */
static void test_data_copy(void)
{
	static const char *const args[] = {"--requests", "1000", "--depth", "8", "--discard",
					   "--size", "16384", NULL};
	static const char *const big[] = {"--requests", "300", "--depth", "8", "--size",
					  "131072", NULL};
	static const char *const small[] = {"--requests", "500", "--depth", "8", NULL};
	pid_t be = start_backend("--data", "copy");
	struct summary s = run_guest("copy", args);

	ASSERT_TRUE(s.bytes_verified > 0);
	ASSERT_TRUE(s.be_requests >= 1000);
	if (backend_stat("map-calls") || backend_stat("pop-map-calls") || s.map_calls)
		GM_TEST_FAIL("copy: %" PRIu64 " map calls (%" PRIu64 " by the queues), want none",
			     backend_stat("map-calls"), backend_stat("pop-map-calls"));
	/* at least one copy call per request each way, and queue 0's own */
	ASSERT_TRUE(backend_stat("copy-calls") >= backend_stat("requests"));
	ASSERT_TRUE(backend_stat("queue-0/copy-calls") > 0);
	ASSERT_EQ(backend_stat("queue-0/map-calls"), 0);
	printf("copy: %" PRIu64 " requests, no map call, %" PRIu64 " copy calls\n",
	       backend_stat("requests"), backend_stat("copy-calls"));
	stop_backend(be);

	be = start_backend("--data", "auto");
	s = run_guest("auto, 4 KiB", small);
	ASSERT_TRUE(s.bytes_verified > 0);
	ASSERT_EQ(backend_stat("pop-map-calls"), 0);
	s = run_guest("auto, 128 KiB", big);
	ASSERT_TRUE(s.bytes_verified > 0);
	if (!backend_stat("pop-map-calls"))
		GM_TEST_FAIL("auto: 128 KiB requests were not mapped");
	if (!backend_stat("queue-0/map-calls"))
		GM_TEST_FAIL("auto: queue 0 published no map call");
	stop_backend(be);
}

/*
 * --data copy when the guest does not let a grant copy through: the fault
 * aid makes the 30th copy call after the device serves fail with EACCES,
 * what Xen answers for a read target granted read-only.  The request it
 * served completes with IOERR (the guest, tolerating error statuses,
 * counts exactly one), the queue serves on, every byte read back is right
 * and nothing stays mapped.
 */
static void test_data_copy_refused(void)
{
	static const char *const args[] = {"--requests", "400", "--depth", "8",
					   "--tolerate-errors", "5000", NULL};
	char out[400], blk_out[400], line[512];
	pid_t be = start_backend3("--data=copy", "--fault=gnttab_copy:30:EACCES", "--verbose");
	unsigned long long ok = 0, failed = 0, stalls = 0;
	struct summary s;
	bool fired = false, said = false;
	FILE *f;
	int rc;

	snprintf(out, sizeof(out), "%s/guest.out", T.dir);
	snprintf(blk_out, sizeof(blk_out), "%s/blk.out", T.dir);
	pid_t pid;

	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, BE, FE, 0));
	pid = start_guest(args, out);
	rc = reap(pid);
	guest_left(pid);
	memset(&s, 0, sizeof(s));
	read_summary(out, &s);
	f = fopen(out, "r");
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, " q0_ok=");

		if (!strncmp(line, "summary:", 8) && p)
			sscanf(p, " q0_ok=%llu q0_failed=%llu q0_stalls=%llu", &ok, &failed, &stalls);
	}
	if (f)
		fclose(f);
	f = fopen(blk_out, "r");
	while (f && fgets(line, sizeof(line), f))
	{
		fired |= strstr(line, "fault gnttab_copy:30 fired") != NULL;
		/* --verbose: the request's line says why */
		said |= strstr(line, " its buffers: ") && strstr(line, gm_strerror(-EACCES));
	}
	if (f)
		fclose(f);
	if (rc || s.errors || !s.bytes_verified || failed != 1 || stalls || ok < 399 || !fired ||
	    !said) {
		cat(out);
		cat(blk_out);
		GM_TEST_FAIL("a refused copy: guest exit %d, errors=%llu, %llu ok, %llu failed, "
			     "%llu stalls, fault %s, %s", rc, s.errors, ok, failed, stalls,
			     fired ? "fired" : "never fired", said ? "said why" : "no line says why");
	}
	printf("copy refused (EACCES): 1 request completed with IOERR, %llu served\n", ok);
	unlink(out);
	stop_backend(be);
}

/* ---- a driver domain serving two guests ------------------------------------------- */

static char images[320]; /* one image per frontend: T.dir/fe-%u.img */

/* grantmem-blk as domain @dom, one image per frontend, with up to 4 @extra arguments. */
static pid_t start_dd_backend(unsigned dom, const char *const *extra)
{
	return start_blk(dom, images, "16m", extra);
}

/*
 * A guest run that must have gone well: exit 0, one summary, no error, and
 * requests served (but for a guest that only attacks: --hostile flood).
 * guest_done also prints what it did.
 */
static struct summary guest_done_quiet(const char *what, pid_t pid, const char *out)
{
	struct summary s;
	int rc = reap(pid);

	guest_left(pid);
	memset(&s, 0, sizeof(s));
	s.storm_queue = -1;
	if (rc != 0 || read_summary(out, &s) != 1 || s.errors ||
	    (!s.requests && strcmp(s.hostile_mode, "flood"))) {
		cat(out);
		GM_TEST_FAIL("%s: grantmem-guest exited %d", what, rc);
	}
	unlink(out);
	return s;
}

static struct summary guest_done(const char *what, pid_t pid, const char *out)
{
	struct summary s = guest_done_quiet(what, pid, out);

	printf("%s: requests=%llu bytes_verified=%llu map_calls_per_request=%.2f\n", what,
	       s.requests, s.bytes_verified, s.mcpr);
	return s;
}

static void dd_add(unsigned be, unsigned fe)
{
	ASSERT_OK(gm_vdev_toolstack_add(TS, NULL, (gm_domid)be, (gm_domid)fe, 0));
}

/*
 * One backend, two guests at once, one image each (created at their first
 * connect): fresh grants on one, persistent on the other, and each guest's
 * stats count its own maps only: some (a batch of requests may share one
 * map call), at most one per request, and none.
 */
static void test_dd_two_guests(void)
{
	static const char *const extra[] = {"--persistent", "--queues", "2", NULL};
	static const char *const a[] = {"--requests", "1500", "--no-persistent", NULL};
	static const char *const b[] = {"--requests", "1500", "--queues", "2", NULL};
	char oa[400], ob[400], img[400];
	struct summary sa, sb;
	struct stat st;
	pid_t be, ga, gb;

	snprintf(oa, sizeof(oa), "%s/guest5.out", T.dir);
	snprintf(ob, sizeof(ob), "%s/guest6.out", T.dir);
	be = start_dd_backend(BE, extra);
	dd_add(BE, FE);
	dd_add(BE, FE2);
	ga = start_guest_as(FE, a, oa);
	gb = start_guest_as(FE2, b, ob);
	sa = guest_done("driver domain, guest 5 (fresh grants)", ga, oa);
	sb = guest_done("driver domain, guest 6 (persistent grants)", gb, ob);
	if (!sa.map_calls || sa.map_calls > sa.be_requests || sb.map_calls != 0)
		GM_TEST_FAIL("own map calls: guest 5 %llu for %llu requests (want 1 to one each), "
			     "guest 6 %llu (want 0)", sa.map_calls, sa.be_requests, sb.map_calls);
	for (unsigned d = FE; d <= FE2; d++) {
		snprintf(img, sizeof(img), "%s/fe-%u.img", T.dir, d);
		ASSERT_OK(stat(img, &st));
		ASSERT_EQ_U64((uint64_t)st.st_size, 16u << 20);
	}
	ASSERT_EQ(emu_wait_mapped(X0, FE2, 0), 0);
	stop_backend(be);
}

/*
 * Guest 6 turns hostile while guest 5 does its I/O on the same backend:
 * writes past the end of its disk (each refused with an error status),
 * then a chain longer than seg_max (refused by the queue's limits);
 * reads along one page repeated 32 times (answered); reads into a buffer
 * of 4 GiB - 4 KiB, which no budget can hold (each refused within a
 * second, and the ordinary read after it on the same queue served).
 * Guest 5 sees nothing of it, nothing of either stays mapped, the backend
 * goes on.
 */
static void test_dd_hostile(void)
{
	static const char *const extra[] = {"--persistent", "--queues", "2", NULL};
	static const char *const a[] = {"--requests", "2000", "--no-persistent", NULL};
	static const char *const modes[] = {"oversize", "repeat", "impossible"};
	char oa[400], ob[400];
	pid_t be = start_dd_backend(BE, extra);

	snprintf(oa, sizeof(oa), "%s/guest5.out", T.dir);
	snprintf(ob, sizeof(ob), "%s/guest6.out", T.dir);
	for (int m = 0; m < 3; m++) {
		const char *b[] = {"--seconds", "2", "--queues", "2", "--queue-size", "256",
				   "--hostile", modes[m], NULL};
		struct summary sb;
		pid_t ga, gb;

		dd_add(BE, FE);
		dd_add(BE, FE2);
		gb = start_guest_as(FE2, b, ob);
		ga = start_guest_as(FE, a, oa);
		guest_done("beside a hostile guest", ga, oa);
		sb = guest_done(modes[m], gb, ob);
		ASSERT_TRUE(!strcmp(sb.hostile_mode, modes[m]));
		ASSERT_TRUE(sb.h_sent > 1);
		/* the chain over seg_max: refused (the queue's limits) or, on a
		 * device that breaks the queue instead, never answered */
		if (m == 0 && (sb.h_ok || sb.h_unanswered > 1 ||
			       sb.h_refused + sb.h_unanswered != sb.h_sent))
			GM_TEST_FAIL("oversize: %llu sent, %llu served, %llu refused, %llu unanswered",
				     sb.h_sent, sb.h_ok, sb.h_refused, sb.h_unanswered);
		if (m == 1 && (sb.h_unanswered || sb.h_ok + sb.h_refused != sb.h_sent))
			GM_TEST_FAIL("repeat: %llu sent, %llu unanswered", sb.h_sent,
				     sb.h_unanswered);
		/* impossible, ordinary, impossible, ...: all answered, each
		 * impossible one refused (the guest checks which) within 1 s */
		if (m == 2 && (sb.h_unanswered || sb.h_ok + sb.h_refused != sb.h_sent ||
			       sb.h_refused - sb.h_ok > 1 || sb.h_max_refusal_ms >= 1000))
			GM_TEST_FAIL("impossible: %llu sent, %llu served, %llu refused, %llu "
				     "unanswered, longest refusal %.1f ms", sb.h_sent, sb.h_ok,
				     sb.h_refused, sb.h_unanswered, sb.h_max_refusal_ms);
		printf("hostile %s: %llu sent, %llu served, %llu refused, %llu unanswered; "
		       "longest refusal %.1f ms\n", modes[m], sb.h_sent, sb.h_ok, sb.h_refused,
		       sb.h_unanswered, sb.h_max_refusal_ms);
		ASSERT_EQ(emu_wait_mapped(X0, FE, 0), 0);
		ASSERT_EQ(emu_wait_mapped(X0, FE2, 0), 0);
	}
	ASSERT_EQ(kill(be, 0), 0);
	stop_backend(be);
}

/* The one-minute load average, printed beside wall-clock figures; -1 if unknown. */
static double load_average(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double load = -1;

	if (!f || fscanf(f, "%lf", &load) != 1)
		load = -1;
	if (f)
		fclose(f);
	return load;
}

/* Wait until guest @fe's device on backend @be is Connected. */
static void wait_connected(unsigned be, unsigned fe, const char *out)
{
	enum gm_vdev_state st = GM_VDEV_STATE_UNKNOWN;
	char dir[128];

	snprintf(dir, sizeof(dir), "/local/domain/%u/backend/gm-virtio/%u/0", be, fe);
	for (int i = 0; i < 2000 && st != GM_VDEV_STATE_CONNECTED; i++) {
		if (gm_vdev_read_state(TS, dir, &st) < 0 || st != GM_VDEV_STATE_CONNECTED)
			emu_sleep_ms(10);
	}
	if (st != GM_VDEV_STATE_CONNECTED) {
		cat(out);
		GM_TEST_FAIL("guest %u never connected to backend %u", fe, be);
	}
}

/*
 * Starvation, end to end: guest 5 does verified I/O in fresh grants, alone
 * and while guest 6 floods the same backend with requests over its size
 * limit (16 MiB buffers) and reads along one page seg_max times, in turn,
 * STARVE_ROUNDS rounds of each: first as fast as it is served, then at a
 * steady quarter of that rate (--rate: what a guest that is not itself
 * out of CPU asks).  The victim's throughput under the flood as a ratio of
 * its throughput alone is a figure of the machine and its load (printed
 * for tests/ROBUSTNESS.md, not asserted: on two cores the flood's own
 * processes take CPU from the victim's); what is asserted: the victim's
 * bytes all verified with no error, every over-limit request refused and
 * every request answered, nothing of either left mapped.
 */
#define STARVE_ROUNDS 3

struct starve {
	double alone, attacked; /* the victim's mean requests/s */
	unsigned long long refused, served; /* the flood's requests */
};

static void starve_rounds(const char *const *victim, struct starve *st)
{
	static const char *const flood[] = {"--seconds", "600", "--no-persistent",
					    "--queue-size", "256", "--hostile", "flood", NULL};
	char ov[400], oa[400];

	snprintf(ov, sizeof(ov), "%s/guest5.out", T.dir);
	snprintf(oa, sizeof(oa), "%s/guest6.out", T.dir);
	memset(st, 0, sizeof(*st));
	for (int r = 0; r < 2 * STARVE_ROUNDS; r++) {
		bool attack = r % 2;
		struct summary sv, sa;
		pid_t gv, ga = -1;

		if (attack) {
			dd_add(BE, FE2);
			ga = start_guest_as(FE2, flood, oa);
			wait_connected(BE, FE2, oa);
			emu_sleep_ms(200); /* well under way */
		}
		dd_add(BE, FE);
		gv = start_guest_as(FE, victim, ov);
		sv = guest_done(attack ? "victim, under a flood" : "victim, alone", gv, ov);
		*(attack ? &st->attacked : &st->alone) += (double)sv.iops / STARVE_ROUNDS;
		if (!attack)
			continue;
		ASSERT_EQ(kill(ga, 0), 0);
		kill(ga, SIGTERM);
		sa = guest_done("flood", ga, oa);
		/* every other request over the limit (refused), all answered */
		if (sa.h_unanswered || sa.h_sent < 2 || sa.h_refused < (sa.h_sent + 1) / 2 ||
		    sa.h_ok + sa.h_refused != sa.h_sent)
			GM_TEST_FAIL("flood: %llu sent, %llu served, %llu refused, %llu unanswered",
				     sa.h_sent, sa.h_ok, sa.h_refused, sa.h_unanswered);
		st->refused += (sa.h_sent + 1) / 2;
		st->served += sa.h_sent / 2;
		ASSERT_EQ(emu_wait_mapped(X0, FE2, 0), 0);
	}
	ASSERT_EQ(emu_wait_mapped(X0, FE, 0), 0);
}

static void test_dd_starvation(void)
{
	static const char *const extra[] = {"--queues", "2", NULL};
	static const char *const fast[] = {"--seconds", "2", "--no-persistent", NULL};
	const char *steady[] = {"--seconds", "2", "--no-persistent", "--rate", NULL, NULL};
	struct starve f, s;
	char rate[32];
	pid_t be = start_dd_backend(BE, extra);

	starve_rounds(fast, &f);
	snprintf(rate, sizeof(rate), "%.0f", f.alone / 4 > 1 ? f.alone / 4 : 1);
	steady[4] = rate;
	starve_rounds(steady, &s);
	printf("isolation blk-starvation: grantmem-blk serving two guests, %d rounds of each in "
	       "turn: a victim as fast as served %.0f requests/s alone, %.0f under a flood (%.2f "
	       "of alone); at a steady %s requests/s: %.0f alone, %.0f under a flood (%.2f of "
	       "alone); flood: %llu requests of 16 MiB refused, %llu along one page seg_max "
	       "times answered; victim's errors: 0 (load average %.1f)\n", STARVE_ROUNDS,
	       f.alone, f.attacked, f.alone > 0 ? f.attacked / f.alone : 0, rate, s.alone,
	       s.attacked, s.alone > 0 ? s.attacked / s.alone : 0, f.refused + s.refused,
	       f.served + s.served, load_average());
	ASSERT_EQ(kill(be, 0), 0);
	stop_backend(be);
}

/*
 * The evictions of grantmem-blk @be's grant cache now: SIGUSR1 makes it
 * print its counters (on its next tick); the last such line of its output.
 */
static unsigned long long backend_evictions(pid_t be)
{
	unsigned long long ev = 0;
	unsigned lines = 0, before = ~0u;
	char path[400], line[512];

	snprintf(path, sizeof(path), "%s/blk.out", T.dir);
	for (int t = 0; t < 300; t++) {
		FILE *f = fopen(path, "r");

		lines = 0;
		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "grantmem-blk: cache: ") && strstr(line, " evictions=")) {
				lines++;
				sscanf(strstr(line, " evictions="), " evictions=%llu", &ev);
			}
		if (f)
			fclose(f);
		if (before == ~0u) {
			before = lines;
			ASSERT_OK(kill(be, SIGUSR1));
		} else if (lines > before) {
			return ev;
		}
		emu_sleep_ms(10);
	}
	cat(path);
	GM_TEST_FAIL("grantmem-blk printed no counters within 3 s of SIGUSR1");
}

/*
 * Eviction under load, end to end: grantmem-blk --cache-pages 1024, and
 * guest 6 cycles through a persistent pool of EVICT_POOL pages, more than
 * the budget holds: its own entries are evicted, least recently used
 * first, and its requests wait for room (-ENOSPC is retried, never an
 * error), until the cache has evicted EVICT_N entries; meanwhile guest 5
 * does fresh-grant I/O in runs of 2 s, each request a miss, from its
 * guaranteed share.  Guest 5's latency alone and during the evictions is
 * printed for tests/ROBUSTNESS.md (a figure of the machine, not
 * asserted); asserted: both guests' bytes verified, the evictions, the
 * backend alive and nothing left mapped.
 */
#define EVICT_BUDGET 1024u
#define EVICT_N 32768u
#define EVICT_POOL (4u * 32 * 17) /* queues x depth x (header + 64 KiB) */

static void test_dd_eviction(void)
{
	static const char *const extra[] = {"--persistent", "--queues", "4", "--cache-pages",
					    "1024", NULL};
	static const char *const victim[] = {"--seconds", "2", "--no-persistent", NULL};
	static const char *const churn[] = {"--seconds", "900", "--queues", "4", "--depth", "32",
					    "--size", "64k", "--queue-size", "256", NULL};
	double p50 = 0, p99 = 0, p50_alone, p99_alone;
	unsigned long long evictions = 0;
	char ov[400], oc[400];
	struct summary sv;
	unsigned rounds = 0;
	pid_t be = start_dd_backend(BE, extra), gc;

	snprintf(ov, sizeof(ov), "%s/guest5.out", T.dir);
	snprintf(oc, sizeof(oc), "%s/guest6.out", T.dir);
	dd_add(BE, FE);
	sv = guest_done("fresh grants, alone", start_guest_as(FE, victim, ov), ov);
	p50_alone = sv.p50_us;
	p99_alone = sv.p99_us;
	dd_add(BE, FE2);
	gc = start_guest_as(FE2, churn, oc);
	wait_connected(BE, FE2, oc);
	while (evictions < EVICT_N) {
		if (++rounds > 100)
			GM_TEST_FAIL("%llu evictions in %u runs of guest 5, want %u", evictions,
				     rounds - 1, EVICT_N);
		dd_add(BE, FE);
		sv = guest_done_quiet("fresh grants, beside evictions",
				      start_guest_as(FE, victim, ov), ov);
		p50 += sv.p50_us;
		p99 = sv.p99_us > p99 ? sv.p99_us : p99;
		ASSERT_EQ(kill(be, 0), 0);
		evictions = backend_evictions(be);
	}
	p50 /= rounds;
	ASSERT_EQ(kill(gc, 0), 0);
	kill(gc, SIGTERM);
	guest_done("a persistent pool over the budget", gc, oc);
	ASSERT_EQ(emu_wait_mapped(X0, FE, 0), 0);
	stop_backend(be);
	ASSERT_EQ(emu_wait_mapped(X0, FE2, 0), 0);
	printf("isolation blk-eviction: grantmem-blk --cache-pages %u; guest 6 cycled through a "
	       "persistent pool of %u pages: %llu evictions; guest 5's fresh-grant requests "
	       "meanwhile (%u runs of 2 s): latency p50 %.1f us (mean of runs), p99 %.1f us "
	       "(worst run); alone: p50 %.1f us, p99 %.1f us (load average %.1f)\n",
	       EVICT_BUDGET, EVICT_POOL, evictions, rounds, p50, p99, p50_alone, p99_alone,
	       load_average());
}

/* A process's resident set, in KiB (from /proc/PID/status), or 0. */
static unsigned long rss_kib(pid_t pid)
{
	char path[64], line[256];
	unsigned long kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* A process's open file descriptors. */
static unsigned count_fds(pid_t pid)
{
	char path[64];
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	ASSERT_NOT_NULL(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/*
 * Many frontends, end to end: MANY_FE guests (domains 100 and up, MANY_PAR
 * at a time) each connect to one grantmem-blk, do verified I/O in fresh
 * grants, and leave; each guest's image is removed once it left.  Every
 * guest is served, nothing of any stays mapped, and the backend ends with
 * the descriptors it had after the first MANY_WARM guests and a resident
 * set grown by less than MANY_GROWTH_KIB since then (a leak of 3 KiB per
 * frontend fails it; the per-domain lookup tables the grant cache used to
 * keep were 0.5 MiB each).
 *
 * $GM_TEST_FRONTENDS sets a smaller count (slow CPUs, emulators) and a
 * sanitizer build takes MANY_FE_SAN: both keep every check but the
 * resident set's, which a sanitizer's quarantine or an emulator's code
 * cache make grow for reasons of their own.
 */
#define MANY_FE 1000
#define MANY_FE_SAN 128
#define MANY_PAR 16
#define MANY_WARM 256 /* a multiple of MANY_PAR; the resident set levels out */
#define MANY_FIRST_DOM 100
#define MANY_GROWTH_KIB (2u << 10)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MANY_SANITIZED true
#else
#define MANY_SANITIZED false
#endif

static void test_dd_many_frontends(void)
{
	static const char *const args[] = {"--requests", "32", "--no-persistent", NULL};
	const char *env = getenv("GM_TEST_FRONTENDS");
	unsigned total = env && *env ? (unsigned)strtoul(env, NULL, 10) :
			 MANY_SANITIZED ? MANY_FE_SAN : MANY_FE;
	unsigned warm = total >= 2 * MANY_WARM ? MANY_WARM : total / 2 / MANY_PAR * MANY_PAR;
	bool rss_bound = total == MANY_FE && !MANY_SANITIZED;
	unsigned long rss0 = 0, rss1;
	unsigned fds0 = 0, fds1;
	pid_t be = start_dd_backend(BE, NULL), g[MANY_PAR];
	char out[MANY_PAR][400], img[400];
	struct timespec t0, t1;

	ASSERT_TRUE(total >= 2 * MANY_PAR);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < total; i += MANY_PAR) {
		unsigned n = total - i < MANY_PAR ? total - i : MANY_PAR;

		for (unsigned k = 0; k < n; k++) {
			unsigned dom = MANY_FIRST_DOM + i + k;

			snprintf(out[k], sizeof(out[k]), "%s/guest-many-%u.out", T.dir, k);
			dd_add(BE, dom);
			g[k] = start_guest_as(dom, args, out[k]);
		}
		for (unsigned k = 0; k < n; k++) {
			unsigned dom = MANY_FIRST_DOM + i + k;

			guest_done_quiet("one of many", g[k], out[k]);
			ASSERT_EQ(emu_wait_mapped(X0, (gm_domid)dom, 0), 0);
			ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE, (gm_domid)dom, 0));
			snprintf(img, sizeof(img), "%s/fe-%u.img", T.dir, dom);
			ASSERT_OK(unlink(img)); /* (the backend may hold it open a while yet) */
		}
		if (i + n == warm) {
			rss0 = rss_kib(be);
			fds0 = count_fds(be);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* the last guests' devices may still be closing */
	for (int t = 0; t < 500 && (fds1 = count_fds(be)) != fds0; t++)
		emu_sleep_ms(10);
	rss1 = rss_kib(be);
	printf("isolation blk-frontends: grantmem-blk served %u guests (%u at a time) that "
	       "connected and left in %.1f s; its resident set %lu KiB after %u, %lu KiB after "
	       "all (%+ld KiB); descriptors %u and %u\n", total, MANY_PAR,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, rss0,
	       warm, rss1, (long)rss1 - (long)rss0, fds0, fds1);
	if (fds1 != fds0 || (rss_bound && rss1 > rss0 + MANY_GROWTH_KIB))
		GM_TEST_FAIL("after %u frontends: %u descriptors (%u after %u), resident %lu KiB "
			     "(%lu KiB)", total, fds1, fds0, warm, rss1, rss0);
	ASSERT_EQ(kill(be, 0), 0);
	stop_backend(be);
}

/* Wait until the backend @be serving guest 5 published @n requests. */
static void wait_served(unsigned be, uint64_t n, const char *out)
{
	char dir[128];
	uint64_t v = 0;

	snprintf(dir, sizeof(dir), "/local/domain/%u/backend/gm-virtio/%u/0/stats", be, FE);
	for (int i = 0; i < 2000 && v < n; i++) {
		v = 0;
		gm_vdev_read_u64(TS, dir, "requests", UINT64_MAX, &v);
		if (v < n)
			emu_sleep_ms(10);
	}
	if (v < n) {
		cat(out);
		GM_TEST_FAIL("backend %u served %" PRIu64 " requests, want %" PRIu64, be, v, n);
	}
}

/*
 * --follow: the backend's domain dies under a busy guest, is built again
 * under the same id (same disk: the guest keeps verifying what it wrote
 * before) and the toolstack adds the device again; then it dies again and
 * the device moves to another domain (another disk: forgotten).  The guest
 * ends every grant each time (the hub would keep them busy otherwise), is
 * served again each time, and stops cleanly on SIGTERM.
 */
static void test_dd_follow(void)
{
	static const char *const args[] = {"--seconds", "120", "--follow", "30", "--timeout", "10",
					   NULL};
	char out[400];
	struct summary s;
	pid_t be, g;

	snprintf(out, sizeof(out), "%s/guest5.out", T.dir);
	be = start_dd_backend(BE, NULL);
	dd_add(BE, FE);
	g = start_guest_as(FE, args, out);
	wait_served(BE, 300, out);
	kill(be, SIGKILL);
	ASSERT_EQ(reap(be), 128 + SIGKILL);
	be = start_dd_backend(BE, NULL);
	dd_add(BE, FE);
	wait_served(BE, 300, out);
	kill(be, SIGKILL);
	ASSERT_EQ(reap(be), 128 + SIGKILL);
	be = start_dd_backend(BE2, NULL);
	dd_add(BE2, FE);
	wait_served(BE2, 300, out);
	kill(g, SIGTERM);
	s = guest_done("following its backend", g, out);
	if (s.lost != 2 || s.moved != 1 || s.reconnects != 2)
		GM_TEST_FAIL("lost=%llu moved=%llu reconnects=%llu, want 2, 1, 2", s.lost, s.moved,
			     s.reconnects);
	ASSERT_TRUE(s.bytes_verified > 0);
	stop_backend(be);
	ASSERT_OK(gm_vdev_toolstack_remove(TS, NULL, BE2, FE, 0));
}

/*
 * An earlier run of the guest left its device Connected (it was killed):
 * the next run closes it first (Closing, the backend's Closed, then
 * Initialising) and is served.
 */
static void test_guest_restart(void)
{
	static const char *const args[] = {"--requests", "500", NULL};
	const char *fe_dir = "/local/domain/5/device/gm-virtio/0";
	enum gm_vdev_state st = GM_VDEV_STATE_UNKNOWN;
	char out[400], line[256];
	bool said = false;
	pid_t be = start_backend(NULL, NULL), g;
	FILE *f;

	snprintf(out, sizeof(out), "%s/guest5.out", T.dir);
	dd_add(BE, FE);
	for (int i = 0; i < 500 && st != GM_VDEV_STATE_INITWAIT; i++) {
		emu_sleep_ms(10);
		ASSERT_OK(gm_vdev_read_state(TS, BE_DIR, &st));
	}
	ASSERT_EQ(st, GM_VDEV_STATE_INITWAIT);
	ASSERT_OK(gm_vdev_write_state(TS, fe_dir, GM_VDEV_STATE_CONNECTED));
	g = start_guest(args, out);
	ASSERT_EQ(reap(g), 0);
	f = fopen(out, "r");
	ASSERT_NOT_NULL(f);
	while (fgets(line, sizeof(line), f))
		said |= strstr(line, "the device was left Connected") != NULL;
	fclose(f);
	if (!said) {
		cat(out);
		GM_TEST_FAIL("the guest did not close what the earlier run left");
	}
	unlink(out);
	stop_backend(be);
}

int main(void)
{
	const char *top = getenv("top_builddir");
	int fd;

	snprintf(tools, sizeof(tools), "%s/tools", top && *top ? top : ".");
	{
		char p[600];

		snprintf(p, sizeof(p), "%s/grantmem-blk", tools);
		if (access(p, X_OK)) {
			fprintf(stderr, "%s: not built\n", p);
			return GM_TEST_HARD_ERROR;
		}
	}
	emu_test_start(&T);
	snprintf(image, sizeof(image), "%s/disk.img", T.dir);
	fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(ftruncate(fd, 16 << 20));
	close(fd);
	X0 = emu_world(&T, 0);
	ASSERT_OK(gm_xs_open(X0, &TS));

	test_split_transient();
	test_data_copy();
	test_data_copy_refused();
	test_split_persistent();
	test_multiqueue_seq();
	test_packed();
	test_packed_persistent();
	test_reconnect();
	test_kill_frontend();
	test_evtchn_storm();
	test_evtchn_storm_stop();
	printf("hostile evtchn-storm: cases=2 failed=0\n");
	snprintf(images, sizeof(images), "%s/fe-%%u.img", T.dir);
	test_dd_two_guests();
	test_dd_hostile();
	test_dd_starvation();
	test_dd_many_frontends();
	test_dd_eviction();
	printf("hostile driver-domain: cases=6 failed=0\n");
	test_dd_follow();
	test_guest_restart();
	for (unsigned d = FE; d <= FE2; d++) {
		char img[400];

		snprintf(img, sizeof(img), "%s/fe-%u.img", T.dir, d);
		unlink(img);
	}

	gm_xs_close(TS);
	gm_xen_close(X0);
	unlink(image);
	emu_test_stop(&T);
	return 0;
}
