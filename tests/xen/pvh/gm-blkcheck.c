// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * gm-blkcheck - the PVH test domain's workload on its virtio-blk disk (the
 * stock virtio_blk driver, grant DMA, served by grantmem-blk --transport
 * ioreq in dom0).  Built static; runs as the guest's only program.
 *
 *   gm-blkcheck DEVICE
 *
 * Every 4 KiB block gets a pattern that depends on its number and a
 * generation; its first 16 bytes hold the number, the generation and an
 * FNV-1a checksum of the rest, so a block that comes back from the wrong
 * place or damaged is caught either way.  All I/O is O_DIRECT (nothing is
 * answered from the page cache):
 *
 *   1. write every block, in requests of 1 to 16 blocks;
 *   2. rewrite a pseudo-random sixth of the blocks (generation 2), 4 KiB each;
 *   3. read 384 pseudo-random blocks, 4 KiB each, and verify them;
 *   4. read the whole disk back in 64 KiB requests and verify every byte.
 *
 * Prints "GMPVH-GUEST ..." lines; the last one is
 *   GMPVH-GUEST workload ok|FAIL requests=N writes=W reads=R bytes=B
 *     verified=V mismatches=M seconds=S
 * (requests counted by the block layer: /sys/block/<dev>/stat).
 * Exit 0 only when every byte verified.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLK 4096u
#define BIG (16 * BLK)
#define RANDOM_READS 384

static uint64_t nblocks, mismatches, verified, nwrites, nreads;
static uint8_t *gen; /* expected generation of each block */
static int fd;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

static void fill(uint8_t *b, uint64_t blk, unsigned g)
{
	uint64_t x = blk * 0x9e3779b97f4a7c15ull + g * 0xbf58476d1ce4e5b9ull + 1, h;
	unsigned i;

	for (i = 16; i < BLK; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
	memcpy(b, &blk, 8);
	h = fnv1a(b + 16, BLK - 16) ^ g;
	memcpy(b + 8, &h, 8);
}

static void check(const uint8_t *b, uint64_t blk)
{
	static uint8_t want[BLK];
	uint64_t got_blk, got_sum;

	fill(want, blk, gen[blk]);
	if (!memcmp(b, want, BLK)) {
		verified += BLK;
		return;
	}
	memcpy(&got_blk, b, 8);
	memcpy(&got_sum, b + 8, 8);
	if (mismatches++ < 5)
		printf("GMPVH-GUEST mismatch: block %" PRIu64 " (generation %u) holds block %" PRIu64
		       "%s\n",
		       blk, gen[blk], got_blk,
		       (fnv1a(b + 16, BLK - 16) ^ got_sum) <= 2 ? "" : ", damaged");
}

static int io(int write, uint8_t *buf, uint64_t blk, unsigned n)
{
	size_t len = (size_t)n * BLK, done = 0;

	while (done < len) {
		ssize_t k = write ? pwrite(fd, buf + done, len - done, (off_t)(blk * BLK + done))
				  : pread(fd, buf + done, len - done, (off_t)(blk * BLK + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			printf("GMPVH-GUEST %s of blocks %" PRIu64 "+%u failed: %s\n",
			       write ? "write" : "read", blk, n, k ? strerror(errno) : "end of device");
			return -1;
		}
		done += (size_t)k;
	}
	if (write)
		nwrites++;
	else
		nreads++;
	return 0;
}

static int stat_ios(const char *dev, uint64_t *r, uint64_t *w)
{
	char path[128];
	unsigned long long v[5];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/sys/block/%s/stat", dev);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fscanf(f, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]);
	fclose(f);
	if (n != 5)
		return -1;
	*r = v[0];
	*w = v[4];
	return 0;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const unsigned chunks[] = {1, 1, 2, 1, 4, 8, 1, 16, 3};
	uint64_t size, blk, r0 = 0, w0 = 0, r1 = 0, w1 = 0, x = 12345;
	const char *dev;
	uint8_t *buf;
	unsigned i = 0, c = 0;
	double t0, t;
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s /dev/vdX\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	dev = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
	fd = open(argv[1], O_RDWR | O_DIRECT);
	/* (a regular file works too, for trying it out on a host) */
	if (fd >= 0 && ioctl(fd, BLKGETSIZE64, &size) < 0) {
		struct stat sb;

		size = fstat(fd, &sb) ? 0 : (uint64_t)sb.st_size;
	}
	if (fd < 0 || !size) {
		printf("GMPVH-GUEST workload FAIL: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	nblocks = size / BLK;
	/* O_DIRECT wants aligned buffers */
	buf = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gen = calloc(nblocks ? nblocks : 1, 1);
	if (buf == MAP_FAILED || !gen || nblocks < 64) {
		printf("GMPVH-GUEST workload FAIL: %" PRIu64 " blocks, no memory?\n", nblocks);
		return 1;
	}
	stat_ios(dev, &r0, &w0);
	printf("GMPVH-GUEST disk %s: %" PRIu64 " bytes, %" PRIu64 " blocks\n", argv[1], size,
	       nblocks);
	t0 = now();

	/* 1: every block, requests of 1..16 blocks */
	for (blk = 0; blk < nblocks && !err; blk += c) {
		c = chunks[i++ % (sizeof(chunks) / sizeof(chunks[0]))];
		if (c > nblocks - blk)
			c = (unsigned)(nblocks - blk);
		for (unsigned k = 0; k < c; k++) {
			gen[blk + k] = 1;
			fill(buf + k * BLK, blk + k, 1);
		}
		err = io(1, buf, blk, c);
	}
	t = now();
	printf("GMPVH-GUEST phase 1: %" PRIu64 " writes of the whole disk in %.2f s\n", nwrites,
	       t - t0);

	/* 2: a sixth of the blocks again, generation 2 */
	for (i = 0; i < nblocks / 6 && !err; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		blk = (x >> 33) % nblocks;
		gen[blk] = 2;
		fill(buf, blk, 2);
		err = io(1, buf, blk, 1);
	}
	if (!err && fdatasync(fd) < 0) {
		printf("GMPVH-GUEST flush failed: %s\n", strerror(errno));
		err = -1;
	}
	printf("GMPVH-GUEST phase 2: %u rewrites + flush in %.2f s\n", i, now() - t);
	t = now();

	/* 3: random 4 KiB reads */
	for (i = 0; i < RANDOM_READS && !err; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		blk = (x >> 33) % nblocks;
		err = io(0, buf, blk, 1);
		if (!err)
			check(buf, blk);
	}
	printf("GMPVH-GUEST phase 3: %u random reads in %.2f s (%.2f ms each)\n", i, now() - t,
	       i ? (now() - t) * 1e3 / i : 0.0);
	t = now();

	/* 4: everything back, 64 KiB at a time */
	for (blk = 0; blk < nblocks && !err; blk += c) {
		c = nblocks - blk < BIG / BLK ? (unsigned)(nblocks - blk) : BIG / BLK;
		err = io(0, buf, blk, c);
		for (unsigned k = 0; k < c && !err; k++)
			check(buf + k * BLK, blk + k);
	}
	printf("GMPVH-GUEST phase 4: whole-disk readback in %.2f s\n", now() - t);
	t = now() - t0;

	stat_ios(dev, &r1, &w1);
	if (!err && verified < (uint64_t)RANDOM_READS * BLK + size)
		err = -1; /* every phase-3 and phase-4 byte must have been checked */
	printf("GMPVH-GUEST workload %s requests=%" PRIu64 " writes=%" PRIu64 " reads=%" PRIu64
	       " bytes=%" PRIu64 " verified=%" PRIu64 " mismatches=%" PRIu64 " seconds=%.2f\n",
	       !err && !mismatches ? "ok" : "FAIL", (r1 - r0) + (w1 - w0), nwrites, nreads, size,
	       verified, mismatches, t);
	close(fd);
	return !err && !mismatches ? 0 : 1;
}
