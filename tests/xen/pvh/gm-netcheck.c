// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * gm-netcheck - the PVH test domain's network workload (the stock
 * virtio_net driver, grant DMA, served by grantmem-net --transport ioreq in
 * dom0 on a tap in a network namespace, where an echo server answers with
 * the kernel's own TCP and UDP).  Built static.
 *
 *   gm-netcheck PEER PORT BYTES IFACE
 *
 *   1. UDP: 32 datagrams of 1 to 1472 bytes to PEER:PORT, each echoed back
 *      and compared (a lost one is sent again, at most 3 times);
 *   2. TCP: one connection to PEER:PORT; BYTES of a pseudo-random stream
 *      sent while the echo is read back and compared byte for byte, then
 *      the connection is closed.
 *
 * Prints "GMPVH-GUEST ..." lines; the last one is
 *   GMPVH-GUEST net-workload ok|FAIL udp=K/32 tcp_bytes=N verified=V
 *     mismatches=M seconds=S mbps=X packets=P pps=Q
 * (seconds, MB/s both ways and packets/s of the TCP exchange; packets
 * counted by the interface: IFACE's tx_packets + rx_packets).
 * Exit 0 only when every datagram and every byte came back intact.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UDP_COUNT 32
#define TCP_LIMIT 240.0 /* seconds the TCP exchange may take */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The stream's bytes: xorshift64, one generator per direction. */
static uint8_t next_byte(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint8_t)(*s >> 29);
}

static uint64_t iface_packets(const char *ifc)
{
	static const char *const what[] = {"tx_packets", "rx_packets"};
	uint64_t sum = 0;

	for (int i = 0; i < 2; i++) {
		char path[128];
		unsigned long long v = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifc, what[i]);
		if ((f = fopen(path, "r"))) {
			if (fscanf(f, "%llu", &v) != 1)
				v = 0;
			fclose(f);
		}
		sum += v;
	}
	return sum;
}

static int udp_check(const struct sockaddr_in *peer)
{
	static unsigned char out[1472], in[2048];
	int s = socket(AF_INET, SOCK_DGRAM, 0), good = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	if (s < 0 || connect(s, (const struct sockaddr *)peer, sizeof(*peer)) < 0) {
		printf("GMPVH-GUEST udp: socket: %s\n", strerror(errno));
		return 0;
	}
	for (int i = 0; i < UDP_COUNT; i++) {
		size_t len = 1 + (size_t)i * (sizeof(out) - 1) / (UDP_COUNT - 1);

		for (size_t k = 0; k < len; k++)
			out[k] = next_byte(&seed);
		for (int attempt = 0; attempt < 3; attempt++) {
			struct pollfd p = {.fd = s, .events = POLLIN};
			ssize_t n;

			if (send(s, out, len, 0) != (ssize_t)len)
				continue;
			if (poll(&p, 1, 2000) <= 0)
				continue;
			n = recv(s, in, sizeof(in), 0);
			if (n == (ssize_t)len && !memcmp(in, out, len)) {
				good++;
				break;
			}
			printf("GMPVH-GUEST udp: datagram %d (%zu bytes) came back as %zd bytes%s\n",
			       i, len, n, n == (ssize_t)len ? ", different" : "");
			break;
		}
	}
	close(s);
	return good;
}

int main(int argc, char **argv)
{
	static unsigned char buf[65536], chunk[16384];
	struct sockaddr_in peer = {.sin_family = AF_INET};
	uint64_t total, sent = 0, got = 0, bad = 0, tx_seed = 42, rx_seed = 42, p0, p1;
	int s = -1, udp, err = 0;
	double t0, t1;
	size_t have = 0, off = 0;

	if (argc != 5 || inet_pton(AF_INET, argv[1], &peer.sin_addr) != 1) {
		fprintf(stderr, "usage: %s PEER PORT BYTES IFACE\n", argv[0]);
		return 2;
	}
	peer.sin_port = htons((uint16_t)atoi(argv[2]));
	total = strtoull(argv[3], NULL, 0);

	udp = udp_check(&peer);
	printf("GMPVH-GUEST udp: %d of %d datagrams echoed intact\n", udp, UDP_COUNT);

	for (int attempt = 0; attempt < 10; attempt++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s >= 0 && connect(s, (struct sockaddr *)&peer, sizeof(peer)) == 0)
			break;
		err = errno;
		if (s >= 0)
			close(s);
		s = -1;
		sleep(1);
	}
	if (s < 0) {
		printf("GMPVH-GUEST net-workload FAIL udp=%d/%d: connect: %s\n", udp, UDP_COUNT,
		       strerror(err));
		return 1;
	}
	fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
	p0 = iface_packets(argv[4]);
	t0 = now();
	while (got < total && now() - t0 < TCP_LIMIT) {
		struct pollfd p = {.fd = s, .events = POLLIN | (sent < total ? POLLOUT : 0)};
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0)
			continue;
		if ((p.revents & POLLOUT) && sent < total) {
			if (off == have) {
				have = (size_t)(total - sent < sizeof(chunk) ? total - sent : sizeof(chunk));
				for (size_t k = 0; k < have; k++)
					chunk[k] = next_byte(&tx_seed);
				off = 0;
			}
			n = write(s, chunk + off, have - off);
			if (n > 0) {
				off += (size_t)n;
				sent += (uint64_t)n;
			} else if (n < 0 && errno != EAGAIN) {
				printf("GMPVH-GUEST tcp: write: %s\n", strerror(errno));
				break;
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(s, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				printf("GMPVH-GUEST tcp: the peer closed after %" PRIu64 " bytes%s%s\n",
				       got, n ? ": " : "", n ? strerror(errno) : "");
				break;
			}
			for (ssize_t k = 0; k < n; k++)
				if (buf[k] != next_byte(&rx_seed) && !bad++)
					printf("GMPVH-GUEST mismatch: tcp byte %" PRIu64 "\n",
					       got + (uint64_t)k);
			if (n > 0)
				got += (uint64_t)n;
		}
	}
	t1 = now();
	p1 = iface_packets(argv[4]);
	close(s);
	printf("GMPVH-GUEST net-workload %s udp=%d/%d tcp_bytes=%" PRIu64 " verified=%" PRIu64
	       " mismatches=%" PRIu64 " seconds=%.3f mbps=%.3f packets=%" PRIu64 " pps=%.1f\n",
	       udp == UDP_COUNT && got == total && !bad ? "ok" : "FAIL", udp, UDP_COUNT, total,
	       got - bad, bad, t1 - t0, t1 > t0 ? 2.0 * (double)got / 1e6 / (t1 - t0) : 0.0,
	       p1 - p0, t1 > t0 ? (double)(p1 - p0) / (t1 - t0) : 0.0);
	return udp == UDP_COUNT && got == total && !bad ? 0 : 1;
}
