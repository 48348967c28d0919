/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program built against the *installed* library, the way a device model
 * would build it: `cc consumer.c $(pkg-config --cflags --libs grantmem)`.
 * It uses only the public headers, so it proves that the installed headers,
 * grantmem.pc and libgrantmem (shared, and static where that links) are
 * complete.  .ci/run builds and runs it; it prints OK and exits 0.
 */
#include <grantmem/grantmem.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define RAM_BASE 0x100000ULL
#define RAM_SIZE 0x4000u

static int fail(const char *what, int err)
{
	fprintf(stderr, "consumer: %s: %s (%d)\n", what, gm_strerror(err), err);
	return 1;
}

int main(void)
{
	gm_space *space = NULL;
	gm_region *ram = NULL;
	gm_mem *m;
	const char msg[] = "hello, guest";
	char back[sizeof(msg)];
	uint32_t v32 = 0;
	size_t len;
	int err, rc = 1;
	unsigned char *p;

	err = gm_space_new(&space);
	if (err < 0)
		return fail("gm_space_new", err);
	err = gm_ram_region_new_anon(RAM_SIZE, &ram);
	if (err < 0) {
		rc = fail("gm_ram_region_new_anon", err);
		goto out;
	}
	err = gm_space_add(space, RAM_BASE, ram);
	if (err < 0) {
		rc = fail("gm_space_add", err);
		goto out;
	}
	m = gm_space_mem(space);

	/* bytes API: a write and a read back, and a little-endian accessor */
	err = gm_write(m, RAM_BASE + 0x10, msg, sizeof(msg));
	if (err < 0) {
		rc = fail("gm_write", err);
		goto out;
	}
	err = gm_read(m, RAM_BASE + 0x10, back, sizeof(back));
	if (err < 0) {
		rc = fail("gm_read", err);
		goto out;
	}
	if (memcmp(msg, back, sizeof(msg)) != 0) {
		fprintf(stderr, "consumer: read back different bytes\n");
		goto out;
	}
	err = gm_write_le32(m, RAM_BASE + 0x100, 0x11223344u);
	if (err == 0)
		err = gm_read_le32(m, RAM_BASE + 0x100, &v32);
	if (err < 0) {
		rc = fail("gm_write_le32/gm_read_le32", err);
		goto out;
	}
	if (v32 != 0x11223344u) {
		fprintf(stderr, "consumer: le32 round trip gave 0x%08x\n", (unsigned)v32);
		goto out;
	}

	/* gm_map: a RAM region maps directly and sees the bytes written above */
	len = 64;
	p = gm_map(m, RAM_BASE + 0x10, &len, GM_PROT_RW, &err);
	if (!p) {
		rc = fail("gm_map", err);
		goto out;
	}
	if (len == 0 || len > 64 || memcmp(p, msg, len < sizeof(msg) ? len : sizeof(msg)) != 0) {
		fprintf(stderr, "consumer: gm_map gave a bad window (len %zu)\n", len);
		gm_unmap(m, RAM_BASE + 0x10, p, len, GM_PROT_RW, 0);
		goto out;
	}
	p[0] = 'H';
	gm_unmap(m, RAM_BASE + 0x10, p, len, GM_PROT_RW, 1);
	err = gm_read(m, RAM_BASE + 0x10, back, 1);
	if (err < 0 || back[0] != 'H') {
		fprintf(stderr, "consumer: a write through gm_map was lost\n");
		goto out;
	}

	/* an address outside every region fails cleanly */
	if (gm_read(m, RAM_BASE + RAM_SIZE, back, 1) != -EFAULT) {
		fprintf(stderr, "consumer: a read past the region did not fail -EFAULT\n");
		goto out;
	}

	puts("OK");
	rc = 0;
out:
	gm_region_free(ram);
	gm_space_free(space);
	return rc;
}
