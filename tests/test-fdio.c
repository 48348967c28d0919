/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fd transfers: short reads and writes on pipes, offsets on files, EOF. */
#include "test-regions.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

static gm_space *s;
static gm_mem *m;
static gm_region *ram, *copy;
static struct test_buf tcopy;

int main(void)
{
	static unsigned char in[0x3000], out[0x3000];
	int p[2];

	ASSERT_OK(gm_space_new(&s));
	m = gm_space_mem(s);
	ASSERT_OK(gm_ram_region_new_anon(0x2000, &ram));
	copy = test_region(&copy_ops, &tcopy, 0x1000, 0);
	ASSERT_OK(gm_space_add(s, 0x0, ram));
	ASSERT_OK(gm_space_add(s, 0x2000, copy)); /* copy-only: goes through bounce */

	/* Partial read from a pipe that holds less than asked. */
	ASSERT_OK(pipe(p));
	gm_test_fill(in, sizeof(in), 9);
	ASSERT_EQ(write(p[1], in, 100), 100);
	ASSERT_EQ(gm_read_from(m, 0x1000, p[0], -1, 0x3000), 100);
	ASSERT_MEM_EQ((char *)gm_ram_region_host(ram) + 0x1000, in, 100);
	/* Exact read across RAM and the copy-only region, fed in pieces. */
	ASSERT_EQ(write(p[1], in, 0x1800), 0x1800);
	ASSERT_OK(gm_read_exact_from(m, 0x1800, p[0], -1, 0x1800));
	ASSERT_OK(gm_read(m, 0x1800, out, 0x1800));
	ASSERT_MEM_EQ(out, in, 0x1800);
	ASSERT_MEM_EQ(tcopy.mem, in + 0x800, 0x1000);
	/* EOF before the end: -ENODATA. */
	ASSERT_EQ(write(p[1], in, 10), 10);
	close(p[1]);
	ASSERT_ERR(gm_read_exact_from(m, 0, p[0], -1, 20), -ENODATA);
	ASSERT_EQ(gm_read_from(m, 0, p[0], -1, 20), 0);
	close(p[0]);

	/* Writes to a pipe whose reader takes it in small pieces. */
	ASSERT_OK(pipe(p));
	ASSERT_OK(gm_write(m, 0x1000, in, 0x2000));
	pid_t child = fork();
	ASSERT_TRUE(child >= 0);
	if (child == 0) {
		close(p[1]);
		size_t got = 0;
		while (got < 0x2000) {
			ssize_t n = read(p[0], out + got, 77);
			if (n <= 0)
				_exit(2);
			got += (size_t)n;
		}
		_exit(memcmp(out, in, 0x2000) ? 3 : 0);
	}
	close(p[0]);
	ASSERT_OK(gm_write_all_to(m, 0x1000, p[1], -1, 0x2000));
	close(p[1]);
	int st;
	ASSERT_EQ(waitpid(child, &st, 0), child);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Positional transfers on a file. */
	char path[] = "/tmp/gm-fdio-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	unlink(path);
	ASSERT_EQ(gm_write_to(m, 0x1000, fd, 4096, 0x2000), 0x2000);
	ASSERT_EQ(lseek(fd, 0, SEEK_CUR), 0); /* the fd's offset did not move */
	ASSERT_OK(gm_fill(m, 0, 0, 0x3000));
	ASSERT_OK(gm_read_exact_from(m, 0x10, fd, 4096, 0x2000));
	ASSERT_OK(gm_read(m, 0x10, out, 0x2000));
	ASSERT_MEM_EQ(out, in, 0x2000);
	ASSERT_ERR(gm_read_exact_from(m, 0, fd, 4096 + 0x1000, 0x2000), -ENODATA);
	/* Errors: bad fd, outside memory, read-only file for reading into. */
	ASSERT_ERR(gm_read_from(m, 0, -1, -1, 10), -EINVAL);
	ASSERT_ERR(gm_read_from(m, 0x9000, fd, 0, 10), -EFAULT);
	ASSERT_ERR(gm_write_to(m, UINT64_MAX, fd, 0, 2), -EFAULT);
	int devnull = open("/dev/null", O_RDONLY);
	ASSERT_ERR(gm_write_to(m, 0, devnull, -1, 10), -EBADF);
	close(devnull);
	close(fd);

	gm_region_free(ram);
	gm_region_free(copy);
	gm_space_free(s);
	test_buf_free(&tcopy);
	return 0;
}
