/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The public calls that run, start and stop a hub (include/grantmem/emu.h):
 * gm_emu_hub_spawn forks one, gm_emu_hub_run serves in the calling process,
 * gm_emu_hub_shutdown asks one to exit over its socket.
 */
#include "config.h"

#include "hub.h"
#include "wire.h"

#include <grantmem/emu.h>

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the forked hub: drop every inherited descriptor but stdio and @keep. */
static void close_inherited(int keep)
{
#ifdef SYS_close_range
	if (keep > 3)
		syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u);
	if (syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0)
		return;
#endif
	for (int fd = 3; fd < 65536; fd++)
		if (fd != keep)
			close(fd);
}

GM_API int gm_emu_hub_spawn(const char *socket_path, pid_t *pid)
{
	pid_t parent = getpid(), child;
	int p[2], st = -EIO;
	ssize_t n;

	if (!socket_path || !pid || !*socket_path ||
	    strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -EINVAL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	child = fork();
	if (child < 0) {
		st = -errno;
		close(p[0]);
		close(p[1]);
		return st;
	}
	if (child == 0) {
		/* the hub: it must not outlive its spawner, nor hold its fds */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		close_inherited(p[1]);
		st = gm__emu_hub_main(socket_path, p[1]);
		if (st < 0 && write(p[1], &st, sizeof(st)) < 0)
			_exit(2);
		_exit(st < 0 ? 1 : 0); /* a forked child must not run atexit handlers */
	}
	close(p[1]);
	do
		n = read(p[0], &st, sizeof(st));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == sizeof(st) && st == 0) {
		*pid = child;
		return 0;
	}
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	return n == sizeof(st) && st < 0 ? st : -EIO;
}

GM_API int gm_emu_hub_stop(pid_t pid)
{
	int status;
	pid_t r;

	if (pid <= 0)
		return -ECHILD;
	kill(pid, SIGTERM);
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
		return 0;
	return -EIO;
}

GM_API int gm_emu_hub_run(const char *socket_path, int ready_fd)
{
	if (!socket_path)
		return -EINVAL;
	return gm__emu_hub_main(socket_path, ready_fd);
}

GM_API int gm_emu_hub_shutdown(const char *socket_path)
{
	struct gm__emu_hdr hdr = {.type = GM__EMU_SHUTDOWN}, rh;
	unsigned nfds;
	int fd, r;

	if (!socket_path)
		return -EINVAL;
	fd = gm__emu_connect(socket_path, GM__EMU_K_CONTROL, 0, NULL, 0, 0, NULL, NULL);
	if (fd < 0)
		return fd;
	r = gm__emu_send(fd, &hdr, NULL, 0, NULL, 0, 0);
	if (r == 0)
		r = gm__emu_recv(fd, &rh, sizeof(rh), NULL, 0, &nfds, 0);
	if (r == 0)
		r = rh.type == GM__EMU_SHUTDOWN ? rh.status : -EPROTO;
	close(fd);
	return r;
}
