/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging: the caller's sink and its level, $GRANTMEM_LOG for the default
 * sink, and the rate limit on lines a guest can trigger (on a clock of the
 * test's own, so nothing sleeps).
 */
#include <grantmem/grantmem.h>

#include "base/base.h"
#include "helpers.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static int lines;
static gm_log_level last_level, prev_level;
static char last[512], prev[512];

static void sink(void *opaque, gm_log_level level, const char *msg)
{
	ASSERT_PTR_EQ(opaque, &lines);
	lines++;
	prev_level = last_level;
	memcpy(prev, last, sizeof(prev));
	last_level = level;
	snprintf(last, sizeof(last), "%s", msg);
}

static void test_sink(void)
{
	gm_space *s;
	size_t len = 8;
	int err;
	char c;

	ASSERT_OK(gm_space_new(&s));
	gm_set_log(sink, &lines, GM_LOG_DEBUG);
	/* A guest-caused failure is logged at debug level only. */
	ASSERT_ERR(gm_read(gm_space_mem(s), 0x1000, &c, 1), -EFAULT);
	ASSERT_EQ(lines, 1);
	ASSERT_EQ(last_level, GM_LOG_DEBUG);
	ASSERT_TRUE(strstr(last, "0x1000") != NULL);
	/* At warning level it is dropped; a caller bug is still reported. */
	gm_set_log(sink, &lines, GM_LOG_WARNING);
	ASSERT_ERR(gm_read(gm_space_mem(s), 0x1000, &c, 1), -EFAULT);
	ASSERT_EQ(lines, 1);
	gm_unmap(gm_space_mem(s), 0x5000, &c, 1, GM_PROT_READ, 0);
	ASSERT_EQ(lines, 2);
	ASSERT_EQ(last_level, GM_LOG_WARNING);
	ASSERT_NULL(gm_map(gm_space_mem(s), 0x1000, &len, GM_PROT_READ, &err));
	ASSERT_EQ(lines, 2);
	gm_set_log(NULL, NULL, GM_LOG_WARNING);
	ASSERT_TRUE(strlen(gm_strerror(-EFAULT)) > 0);
	ASSERT_TRUE(strlen(gm_strerror(-12345)) > 0);
	gm_space_free(s);
}

/* ---- the rate limit ---- */

static uint64_t fake_now = 1000 * GM__RL_INTERVAL_NS;

static uint64_t fake_clock(void)
{
	return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

static void test_ratelimit(void)
{
	static struct gm__ratelimit rl, other;

	gm__ratelimit_set_clock(fake_clock);
	gm_set_log(sink, &lines, GM_LOG_INFO);
	lines = 0;
	/* A disabled level neither logs nor uses up the burst. */
	for (int i = 0; i < 100; i++)
		gm__log_rl(&rl, GM_LOG_DEBUG, "debug %d", i);
	ASSERT_EQ(lines, 0);
	/* The burst, then nothing while the clock stands still. */
	for (int i = 0; i < 100; i++)
		gm__log_rl(&rl, GM_LOG_WARNING, "line %d", i);
	ASSERT_EQ(lines, GM__RL_BURST);
	ASSERT_STREQ(last, "line 9");
	/* Half an interval on: still nothing.  A whole one: the next line,
	 * after one saying how many were dropped, at the same level. */
	fake_now += GM__RL_INTERVAL_NS / 2;
	gm__log_rl(&rl, GM_LOG_WARNING, "line %d", 100);
	ASSERT_EQ(lines, GM__RL_BURST);
	fake_now += GM__RL_INTERVAL_NS / 2;
	gm__log_rl(&rl, GM_LOG_WARNING, "line %d", 101);
	ASSERT_EQ(lines, GM__RL_BURST + 2);
	ASSERT_STREQ(prev, "rate limit: 91 lines like the next one dropped");
	ASSERT_EQ(prev_level, GM_LOG_WARNING);
	ASSERT_STREQ(last, "line 101");
	ASSERT_EQ(last_level, GM_LOG_WARNING);
	/* Then one line per interval, no more. */
	gm__log_rl(&rl, GM_LOG_WARNING, "line %d", 102);
	ASSERT_EQ(lines, GM__RL_BURST + 2);
	fake_now += GM__RL_INTERVAL_NS;
	gm__log_rl(&rl, GM_LOG_WARNING, "line %d", 103);
	ASSERT_STREQ(prev, "rate limit: 1 line like the next one dropped");
	ASSERT_STREQ(last, "line 103");
	for (int i = 0; i < 5; i++) {
		fake_now += GM__RL_INTERVAL_NS;
		gm__log_rl(&rl, GM_LOG_WARNING, "line %d", 104 + i);
		gm__log_rl(&rl, GM_LOG_WARNING, "dropped");
	}
	ASSERT_EQ(lines, GM__RL_BURST + 4 + 5 + 4); /* 4 of them after a drop notice */
	ASSERT_STREQ(last, "line 108");
	/* A site quiet for a burst of intervals has its whole burst back. */
	fake_now += GM__RL_BURST * GM__RL_INTERVAL_NS;
	lines = 0;
	for (int i = 0; i < 100; i++)
		gm__log_rl(&rl, GM_LOG_INFO, "again %d", i);
	ASSERT_EQ(lines, GM__RL_BURST + 1); /* the first says one was dropped */
	ASSERT_STREQ(last, "again 9");
	/* Every site counts on its own: a struct each, a macro call each. */
	lines = 0;
	gm__log_rl(&other, GM_LOG_ERROR, "other");
	ASSERT_EQ(lines, 1);
	ASSERT_EQ(last_level, GM_LOG_ERROR);
	lines = 0;
	for (int i = 0; i < 50; i++)
		gm__warn_rl("macro site %d", i);
	ASSERT_EQ(lines, GM__RL_BURST);
	for (int i = 0; i < 50; i++)
		gm__info_rl("another site %d", i);
	ASSERT_EQ(lines, 2 * GM__RL_BURST);
	gm_set_log(NULL, NULL, GM_LOG_WARNING);
	gm__ratelimit_set_clock(NULL);
}

/* Many threads on one site: exactly the burst gets through, and every
 * dropped line is counted once. */
#define RL_THREADS 4
#define RL_CALLS 1000
static atomic_int mt_lines;
static pthread_mutex_t mt_lock = PTHREAD_MUTEX_INITIALIZER;
static char mt_last[512];

static void mt_sink(void *opaque, gm_log_level level, const char *msg)
{
	(void)opaque, (void)level;
	atomic_fetch_add(&mt_lines, 1);
	pthread_mutex_lock(&mt_lock);
	if (!strncmp(msg, "rate limit:", 11))
		snprintf(mt_last, sizeof(mt_last), "%s", msg);
	pthread_mutex_unlock(&mt_lock);
}

static struct gm__ratelimit mt_rl;

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < RL_CALLS; i++)
		gm__log_rl(&mt_rl, GM_LOG_WARNING, "from a thread");
	return NULL;
}

static void test_ratelimit_threads(void)
{
	pthread_t t[RL_THREADS];
	char want[64];

	gm__ratelimit_set_clock(fake_clock);
	gm_set_log(mt_sink, NULL, GM_LOG_WARNING);
	for (int i = 0; i < RL_THREADS; i++)
		ASSERT_OK(pthread_create(&t[i], NULL, hammer, NULL));
	for (int i = 0; i < RL_THREADS; i++)
		ASSERT_OK(pthread_join(t[i], NULL));
	ASSERT_EQ(atomic_load(&mt_lines), GM__RL_BURST);
	fake_now += GM__RL_INTERVAL_NS;
	gm__log_rl(&mt_rl, GM_LOG_WARNING, "after");
	ASSERT_EQ(atomic_load(&mt_lines), GM__RL_BURST + 2);
	snprintf(want, sizeof(want), "rate limit: %d lines like the next one dropped",
		 RL_THREADS * RL_CALLS - GM__RL_BURST);
	ASSERT_STREQ(mt_last, want);
	gm_set_log(NULL, NULL, GM_LOG_WARNING);
	gm__ratelimit_set_clock(NULL);
}

/* ---- $GRANTMEM_LOG, read when the library loads: a fresh process each ---- */

/* In the child: exit 10 + the most verbose level enabled. */
static int env_child(bool set_log)
{
	int level = -1;

	if (set_log)
		gm_set_log(NULL, NULL, GM_LOG_ERROR);
	for (int l = GM_LOG_ERROR; l <= GM_LOG_DEBUG; l++)
		if (gm__log_enabled((gm_log_level)l))
			level = l;
	return 10 + level;
}

/* Run this program as a child with GRANTMEM_LOG=@env (NULL: unset); its
 * stderr into @err.  Returns the child's level (exit status - 10). */
static int run_child(const char *env, bool set_log, char *err, size_t errlen)
{
	int pfd[2], status;
	size_t got = 0;
	ssize_t n;

	ASSERT_OK(pipe(pfd));
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		if (env)
			setenv("GRANTMEM_LOG", env, 1);
		else
			unsetenv("GRANTMEM_LOG");
		execl("/proc/self/exe", "test-log", set_log ? "env-child-set" : "env-child",
		      (char *)NULL);
		_exit(GM_TEST_HARD_ERROR);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], err + got, errlen - 1 - got)) > 0)
		got += (size_t)n;
	err[got] = 0;
	close(pfd[0]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == GM_TEST_HARD_ERROR)
		GM_TEST_FAIL("could not run /proc/self/exe: %s", err);
	return WEXITSTATUS(status) - 10;
}

static int count_lines(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_env(void)
{
	static const struct {
		const char *env;
		int level;
	} ok[] = {
		{NULL, GM_LOG_WARNING}, {"", GM_LOG_WARNING}, {"error", GM_LOG_ERROR},
		{"warning", GM_LOG_WARNING}, {"info", GM_LOG_INFO}, {"debug", GM_LOG_DEBUG},
		{"DEBUG", GM_LOG_DEBUG}, {"0", GM_LOG_ERROR}, {"1", GM_LOG_WARNING},
		{"2", GM_LOG_INFO}, {"3", GM_LOG_DEBUG},
	};
	static const char *const bad[] = {"4", "-1", "verbose", "debugx", "03", " info"};
	char err[4096];

	for (unsigned i = 0; i < GM__ARRAY_SIZE(ok); i++) {
		ASSERT_EQ(run_child(ok[i].env, false, err, sizeof(err)), ok[i].level);
		ASSERT_STREQ(err, "");
	}
	/* An invalid value: the default level and one warning. */
	for (unsigned i = 0; i < GM__ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(run_child(bad[i], false, err, sizeof(err)), GM_LOG_WARNING);
		ASSERT_EQ(count_lines(err, "\n"), 1);
		ASSERT_EQ(count_lines(err, "grantmem: warning: GRANTMEM_LOG="), 1);
	}
	/* The program's own choice wins. */
	ASSERT_EQ(run_child("debug", true, err, sizeof(err)), GM_LOG_ERROR);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "env-child"))
		return env_child(false);
	if (argc > 1 && !strcmp(argv[1], "env-child-set"))
		return env_child(true);
	test_sink();
	test_ratelimit();
	test_ratelimit_threads();
	test_env();
	return 0;
}
