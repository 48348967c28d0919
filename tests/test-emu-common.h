/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the tests of the emulated Xen (tests/test-emu-*.c): a hub of
 * its own per test (socket in a fresh temp dir), worlds on it, forked test
 * domains and pipes to talk to them.
 */
#ifndef GM_TEST_EMU_COMMON_H
#define GM_TEST_EMU_COMMON_H

#include "helpers.h"

#include <grantmem/grantmem.h>
#include <grantmem/emu.h>

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct emu_test {
	char dir[256];
	char sock[300];
	pid_t hub;
};

static inline void emu_test_start(struct emu_test *t)
{
	const char *tmp = getenv("TMPDIR");
	int r;

	snprintf(t->dir, sizeof(t->dir), "%s/gm-emu-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t->dir)) {
		fprintf(stderr, "mkdtemp %s: %s\n", t->dir, strerror(errno));
		exit(GM_TEST_HARD_ERROR);
	}
	snprintf(t->sock, sizeof(t->sock), "%s/hub", t->dir);
	r = gm_emu_hub_spawn(t->sock, &t->hub);
	if (r < 0) {
		fprintf(stderr, "gm_emu_hub_spawn %s: %s\n", t->sock, strerror(-r));
		exit(GM_TEST_HARD_ERROR);
	}
}

static inline void emu_test_stop(struct emu_test *t)
{
	ASSERT_OK(gm_emu_hub_stop(t->hub));
	ASSERT_OK(rmdir(t->dir) ? -errno : 0);
}

/* A world on the test's hub as domain @domid. */
static inline gm_xen *emu_world(struct emu_test *t, unsigned domid)
{
	char spec[400];
	gm_xen *x = NULL;

	snprintf(spec, sizeof(spec), "emu:%s,domid=%u,ram=4m", t->sock, domid);
	ASSERT_OK(gm_emu_register());
	ASSERT_OK(gm_xen_open(spec, &x));
	return x;
}

static inline void emu_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Wait (at most 5 s) until @granter has exactly @want mapped entries. */
static inline unsigned emu_wait_mapped(gm_xen *x, gm_domid granter, unsigned want)
{
	unsigned n = ~0u;

	for (int i = 0; i < 500; i++) {
		ASSERT_OK(gm_emu_mapped_count(x, granter, &n));
		if (n == want)
			break;
		emu_sleep_ms(10);
	}
	return n;
}

/* Wait (at most 5 s) until @fd is readable; true if it is. */
static inline int emu_wait_fd(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Fork a child running @fn(arg); it exits with fn's return value. */
static inline pid_t emu_fork(int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(GM_TEST_HARD_ERROR);
	}
	if (pid == 0) {
		/* a failing test must not leave its children behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(fn(arg));
	}
	return pid;
}

/* Reap @pid and require it to have exited 0. */
static inline void emu_reap_ok(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			perror("waitpid");
			exit(GM_TEST_HARD_ERROR);
		}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		GM_TEST_FAIL("child %d failed (status 0x%x)", (int)pid, st);
}

/* Whole-buffer pipe I/O between test processes. */
static inline void emu_send(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t k = write(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			GM_TEST_FAIL("pipe write: %s", strerror(errno));
		c += k;
		n -= (size_t)k;
	}
}

static inline void emu_recv(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t k = read(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			GM_TEST_FAIL("pipe read: %s", k ? strerror(errno) : "EOF");
		c += k;
		n -= (size_t)k;
	}
}


/* ---- a test guest: a forked domain that obeys commands over pipes ---- */

enum { G_SHARE = 1, G_CHECK, G_FILL, G_PEEK, G_END, G_UNSHARE, G_EXIT };

struct g_cmd {
	int op;
	unsigned domid, count, writable, idx, off, len;
	uint64_t seed;
	gm_gref ref;
};

struct g_rep {
	int r;
	unsigned idx;
	gm_gref refs[16];
};

struct guest {
	pid_t pid;
	int cmd, rep;
	struct emu_test *t;
	unsigned domid;
};

struct g_share {
	unsigned char *addr;
	unsigned count;
};

/* The guest's loop: shares live until G_UNSHARE or G_EXIT. */
static inline int guest_serve(struct guest *g, int cmd_fd, int rep_fd)
{
	struct g_share sh[32];
	unsigned nsh = 0;
	gm_xen *x = emu_world(g->t, g->domid);
	gm_gntshr *s = NULL;

	ASSERT_OK(gm_gntshr_open(x, &s));
	for (;;) {
		struct g_cmd c;
		struct g_rep r;
		int err = 0;

		emu_recv(cmd_fd, &c, sizeof(c));
		memset(&r, 0, sizeof(r));
		switch (c.op) {
		case G_SHARE:
			ASSERT_TRUE(c.count <= 16 && nsh < 32);
			sh[nsh].addr = gm_gntshr_share(s, (gm_domid)c.domid, c.count, r.refs,
						       (int)c.writable, &err);
			sh[nsh].count = c.count;
			r.r = err;
			if (sh[nsh].addr) {
				gm_test_fill(sh[nsh].addr, (size_t)c.count * GM_PAGE_SIZE, c.seed);
				r.idx = nsh++;
			}
			break;
		case G_CHECK:
			ASSERT_TRUE(c.idx < nsh);
			for (unsigned i = 0; i < c.len; i++)
				if (sh[c.idx].addr[c.off + i] != gm_test_pattern(c.seed, i)) {
					r.r = (int)i + 1;
					break;
				}
			break;
		case G_FILL:
			ASSERT_TRUE(c.idx < nsh);
			for (unsigned i = 0; i < c.len; i++)
				sh[c.idx].addr[c.off + i] = gm_test_pattern(c.seed, i);
			break;
		case G_PEEK: /* 64 bytes at off, returned in refs[] */
			ASSERT_TRUE(c.idx < nsh);
			memcpy(r.refs, sh[c.idx].addr + c.off, sizeof(r.refs));
			break;
		case G_END:
			r.r = gm_gntshr_end_access(s, c.ref);
			break;
		case G_UNSHARE:
			ASSERT_TRUE(c.idx < nsh && sh[c.idx].addr);
			r.r = gm_gntshr_unshare(s, sh[c.idx].addr, sh[c.idx].count);
			sh[c.idx].addr = NULL;
			break;
		case G_EXIT:
			for (unsigned i = 0; i < nsh; i++)
				if (sh[i].addr)
					gm_gntshr_unshare(s, sh[i].addr, sh[i].count);
			gm_gntshr_close(s);
			gm_xen_close(x);
			emu_send(rep_fd, &r, sizeof(r));
			return 0;
		default:
			GM_TEST_FAIL("guest: bad command %d", c.op);
		}
		emu_send(rep_fd, &r, sizeof(r));
	}
}

static inline void guest_start(struct guest *g, struct emu_test *t, unsigned domid)
{
	int cp[2], rp[2];

	ASSERT_OK(pipe(cp));
	ASSERT_OK(pipe(rp));
	g->t = t;
	g->domid = domid;
	fflush(NULL);
	g->pid = fork();
	ASSERT_TRUE(g->pid >= 0);
	if (g->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(cp[1]);
		close(rp[0]);
		_exit(guest_serve(g, cp[0], rp[1]));
	}
	close(cp[0]);
	close(rp[1]);
	g->cmd = cp[1];
	g->rep = rp[0];
}

static inline struct g_rep guest_call(struct guest *g, struct g_cmd c)
{
	struct g_rep r;

	emu_send(g->cmd, &c, sizeof(c));
	emu_recv(g->rep, &r, sizeof(r));
	return r;
}

/* Share @count pages with @domid, filled with pattern @seed; refs out. */
static inline unsigned guest_share(struct guest *g, unsigned domid, unsigned count, int writable,
				   uint64_t seed, gm_gref *refs)
{
	struct g_rep r = guest_call(g, (struct g_cmd){.op = G_SHARE, .domid = domid,
						      .count = count, .writable = (unsigned)writable,
						      .seed = seed});

	ASSERT_OK(r.r);
	memcpy(refs, r.refs, count * sizeof(gm_gref));
	return r.idx;
}

/* Does the guest see pattern @seed over [off, off + len) of share @idx? */
static inline int guest_check(struct guest *g, unsigned idx, unsigned off, unsigned len,
			      uint64_t seed)
{
	return guest_call(g, (struct g_cmd){.op = G_CHECK, .idx = idx, .off = off, .len = len,
					    .seed = seed}).r;
}

static inline int guest_end(struct guest *g, gm_gref ref)
{
	return guest_call(g, (struct g_cmd){.op = G_END, .ref = ref}).r;
}

static inline void guest_stop(struct guest *g)
{
	guest_call(g, (struct g_cmd){.op = G_EXIT});
	close(g->cmd);
	close(g->rep);
	emu_reap_ok(g->pid);
}

/* Is @p filled with pattern @seed from pattern byte @start on? */
static inline int pattern_ok_at(const void *p, size_t start, size_t n, uint64_t seed)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i] != gm_test_pattern(seed, start + i))
			return 0;
	return 1;
}

/* Is @p filled with pattern @seed (byte i of the pattern at p[i])? */
static inline int pattern_ok(const void *p, size_t n, uint64_t seed)
{
	return pattern_ok_at(p, 0, n, seed);
}

#endif /* GM_TEST_EMU_COMMON_H */
