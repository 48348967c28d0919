/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Emulated Xen, where a hub listens: only a socket is ever replaced.  A
 * regular file, a directory and a symbolic link at the path make
 * gm_emu_hub_spawn() and gm_emu_hub_run() fail with -ENOTSOCK and stay
 * exactly as they were; a stale socket is replaced; a live hub's socket is
 * not (-EADDRINUSE).
 */
#include "config.h"

#include "test-emu-common.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static char dir[256], path[320];

static void put_file(const char *p, const char *text)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ASSERT_OK(close(fd));
}

/* Does @p hold exactly @text? */
static int file_is(const char *p, const char *text)
{
	char buf[256];
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)strlen(text) && !memcmp(buf, text, (size_t)n);
}

/* Both ways of starting a hub refuse @path, and leave it as it is. */
static void refused(void)
{
	pid_t hub = -1;

	ASSERT_ERR(gm_emu_hub_spawn(path, &hub), -ENOTSOCK);
	ASSERT_ERR(gm_emu_hub_run(path, -1), -ENOTSOCK);
}

static void test_regular_file(void)
{
	struct stat a, b;

	put_file(path, "the user's disk image");
	ASSERT_OK(lstat(path, &a));
	refused();
	ASSERT_OK(lstat(path, &b));
	ASSERT_TRUE(S_ISREG(b.st_mode) && a.st_ino == b.st_ino);
	ASSERT_TRUE(file_is(path, "the user's disk image"));
	ASSERT_OK(unlink(path));
}

static void test_directory(void)
{
	char inner[400];

	ASSERT_OK(mkdir(path, 0700));
	snprintf(inner, sizeof(inner), "%s/kept", path);
	put_file(inner, "inside");
	refused();
	ASSERT_TRUE(file_is(inner, "inside"));
	ASSERT_OK(unlink(inner));
	ASSERT_OK(rmdir(path));
}

static void test_symlink(void)
{
	char target[400];
	struct stat st;

	snprintf(target, sizeof(target), "%s/target", dir);
	put_file(target, "pointed at");
	ASSERT_OK(symlink(target, path));
	refused();
	ASSERT_OK(lstat(path, &st));
	ASSERT_TRUE(S_ISLNK(st.st_mode));
	ASSERT_TRUE(file_is(target, "pointed at"));
	ASSERT_OK(unlink(path));
	ASSERT_OK(unlink(target));
}

static void test_sockets(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	pid_t hub, other;
	struct stat st;
	gm_xen *x;
	char spec[400];
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	/* a stale socket (bound, nobody listens) is replaced */
	ASSERT_TRUE(fd >= 0);
	strcpy(sa.sun_path, path);
	ASSERT_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0);
	ASSERT_OK(close(fd));
	ASSERT_OK(gm_emu_hub_spawn(path, &hub));
	snprintf(spec, sizeof(spec), "emu:%s", path);
	ASSERT_OK(gm_emu_register());
	ASSERT_OK(gm_xen_open(spec, &x));
	gm_xen_close(x);
	/* a live hub's socket is not */
	ASSERT_ERR(gm_emu_hub_spawn(path, &other), -EADDRINUSE);
	ASSERT_OK(lstat(path, &st));
	ASSERT_TRUE(S_ISSOCK(st.st_mode));
	ASSERT_OK(gm_emu_hub_stop(hub));
	/* the hub removed its own socket on the way out */
	ASSERT_ERR(lstat(path, &st) ? -errno : 0, -ENOENT);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/gm-emu-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "mkdtemp %s: %s\n", dir, strerror(errno));
		return GM_TEST_HARD_ERROR;
	}
	snprintf(path, sizeof(path), "%s/hub", dir);
	test_regular_file();
	test_directory();
	test_symlink();
	test_sockets();
	ASSERT_ERR(gm_emu_hub_spawn("", &(pid_t){0}), -EINVAL);
	ASSERT_OK(rmdir(dir));
	return 0;
}
