/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Named sub-cases for the hostile-guest suites (tests/test-hostile-*.c).
 *
 * Each case runs in a forked child under alarm(), so a crash or a hang is
 * that case's failure and the next case still runs; the parent prints
 * "ok <name>" or "FAIL <name>" per case and a summary line
 * "hostile <suite>: cases=N failed=M", which tests/robustness-report.sh
 * reads from the test logs.  The program fails if any case failed.
 */
#ifndef GM_TESTS_HOSTILE_H
#define GM_TESTS_HOSTILE_H

#include "helpers.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct hostile_case {
	const char *name;
	void (*fn)(void);
};

static inline int hostile_run(const char *suite, const struct hostile_case *cases, unsigned n,
			      unsigned timeout_s)
{
	unsigned failed = 0;

	for (unsigned i = 0; i < n; i++) {
		int st;

		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return GM_TEST_HARD_ERROR;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			alarm(timeout_s);
			cases[i].fn();
			fflush(NULL);
			_exit(0);
		}
		while (waitpid(pid, &st, 0) < 0)
			;
		bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
		if (!ok) {
			failed++;
			if (WIFSIGNALED(st))
				printf("  (%s: signal %d%s)\n", cases[i].name, WTERMSIG(st),
				       WTERMSIG(st) == SIGALRM ? ": hung" : "");
		}
		printf("%s %s\n", ok ? "ok" : "FAIL", cases[i].name);
	}
	printf("hostile %s: cases=%u failed=%u\n", suite, n, failed);
	return failed ? 1 : 0;
}

#define HOSTILE_CASE(fn) {#fn, fn}

#endif /* GM_TESTS_HOSTILE_H */
