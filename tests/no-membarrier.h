/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Read-side sections have two implementations (lib/base/epoch.c): plain
 * loads and stores with the writer's expedited membarrier, where the kernel
 * offers it, and locked read-modify-writes on both sides where it does not
 * (seccomp filters, emulators, old kernels).  A threaded test calls
 * test_also_without_membarrier() first thing in main to run its body under
 * both, whatever this machine offers.
 */
#ifndef GM_TESTS_NO_MEMBARRIER_H
#define GM_TESTS_NO_MEMBARRIER_H

#include "helpers.h"

#include <grantmem/grantmem.h>

#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Fork.  The child makes the library's one membarrier check fail (fault
 * site "membarrier"), checks that it was made, and returns true to run the
 * test on the fallback, exiting with its own status.  The parent waits for
 * it, ends with the child's status if that is not a pass, and otherwise
 * returns false to run the test as usual.  Call before anything enters a
 * read-side section and before any thread or child is started.
 */
static inline bool test_also_without_membarrier(void)
{
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		gm_space *s;
		unsigned char b;

		ASSERT_OK(gm_fault_inject("membarrier", 1, -ENOSYS));
		ASSERT_OK(gm_space_new(&s));
		/* the process's first read-side section makes the check */
		ASSERT_ERR(gm_read(gm_space_mem(s), 0, &b, 1), -EFAULT);
		ASSERT_EQ(gm_fault_count("membarrier"), 1);
		gm_fault_reset(); /* the body runs with no site armed */
		gm_space_free(s);
		printf("-- read-side sections without the expedited membarrier\n");
		return true;
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st)) {
		fprintf(stderr, "without the expedited membarrier: killed by signal %d\n",
			WTERMSIG(st));
		exit(1);
	}
	if (WEXITSTATUS(st) != 0) {
		fprintf(stderr, "without the expedited membarrier: exit status %d\n",
			WEXITSTATUS(st));
		exit(WEXITSTATUS(st));
	}
	printf("-- read-side sections as this machine offers them\n");
	return false;
}

#endif /* GM_TESTS_NO_MEMBARRIER_H */
