/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program built against the installed libgrantmem-emu, as a test suite
 * of a device model would build it:
 * `cc consumer-emu.c $(pkg-config --cflags --libs grantmem-emu)`.
 * It starts an emulated Xen, grants a page from a guest domain and reads
 * and writes it through a grant region of the backend (dom0): the whole
 * grant path, from the installed headers and libraries alone.  .ci/run
 * builds and runs it, shared and static; it prints OK and exits 0.
 */
#include <grantmem/grantmem.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GUEST 5

static int fail(const char *what, int err)
{
	fprintf(stderr, "consumer-emu: %s: %s (%d)\n", what, gm_strerror(err), err);
	return 1;
}

int main(void)
{
	char dir[] = "/tmp/grantmem-consumer-XXXXXX", sock[64], spec[96];
	const char msg[] = "granted, not mapped";
	char back[sizeof(msg)];
	gm_xen *guest = NULL, *backend = NULL;
	gm_gntshr *shr = NULL;
	gm_gnttab *gt = NULL;
	gm_grant_cache *cache = NULL;
	gm_region *grants = NULL;
	gm_space *space = NULL;
	unsigned char *page = NULL;
	gm_gref ref;
	pid_t hub = -1;
	int err, rc = 1;

	if (!mkdtemp(dir))
		return fail("mkdtemp", -errno);
	snprintf(sock, sizeof(sock), "%s/hub", dir);
	err = gm_emu_hub_spawn(sock, &hub);
	if (err < 0) {
		rc = fail("gm_emu_hub_spawn", err);
		goto out;
	}

	/* the guest: a page granted writable to dom0, with a message in it */
	snprintf(spec, sizeof(spec), "%s,domid=%d", sock, GUEST);
	err = gm_emu_open(spec, &guest);
	if (!err)
		err = gm_gntshr_open(guest, &shr);
	if (err < 0) {
		rc = fail("guest world", err);
		goto out;
	}
	page = gm_gntshr_share(shr, 0, 1, &ref, 1, &err);
	if (!page) {
		rc = fail("gm_gntshr_share", err);
		goto out;
	}
	memcpy(page + 100, msg, sizeof(msg));

	/* the backend: "emu:" by name, as a device model's --xen option gives it */
	snprintf(spec, sizeof(spec), "emu:%s", sock);
	err = gm_emu_register();
	if (!err)
		err = gm_xen_open(spec, &backend);
	if (!err)
		err = gm_gnttab_open(backend, &gt);
	if (!err)
		err = gm_grant_cache_new(gt, NULL, &cache);
	if (!err)
		err = gm_grant_region_new(cache, GUEST, GM_GRANT_TRANSIENT, &grants);
	if (!err)
		err = gm_space_new(&space);
	if (!err)
		err = gm_space_add(space, GM_GRANT_BASE, grants);
	if (err < 0) {
		rc = fail("backend world", err);
		goto out;
	}
	err = gm_read(gm_space_mem(space), GM_GRANT_ADDR(ref, 100), back, sizeof(back));
	if (err < 0) {
		rc = fail("gm_read of the grant", err);
		goto out;
	}
	if (memcmp(back, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "consumer-emu: the grant read back different bytes\n");
		goto out;
	}
	err = gm_write_le32(gm_space_mem(space), GM_GRANT_ADDR(ref, 8), 0xfeedf00du);
	if (err < 0) {
		rc = fail("gm_write_le32 to the grant", err);
		goto out;
	}
	if (page[8] != 0x0d || page[11] != 0xfe) {
		fprintf(stderr, "consumer-emu: the guest did not see the backend's write\n");
		goto out;
	}
	puts("OK");
	rc = 0;
out:
	gm_space_free(space);
	gm_region_free(grants);
	gm_grant_cache_free(cache);
	gm_gnttab_close(gt);
	gm_xen_close(backend);
	if (page) {
		gm_gntshr_end_access(shr, ref);
		gm_gntshr_unshare(shr, page, 1);
	}
	gm_gntshr_close(shr);
	gm_xen_close(guest);
	if (hub > 0 && gm_emu_hub_stop(hub) < 0 && rc == 0)
		rc = fail("gm_emu_hub_stop", -EIO);
	rmdir(dir);
	return rc;
}
