/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * net-echo ADDR PORT READY_FILE SECONDS - the peer of tests/test-net-tap.sh:
 * a TCP and a UDP echo server on ADDR:PORT, run in the test's network
 * namespace, so that the kernel's own TCP and UDP answer the test guest.
 * TCP connections are served one after the other, each echoed until its
 * peer closes, then closed; every UDP datagram is sent back to its sender.
 * READY_FILE is created once both sockets listen.  Exits 0 after SECONDS
 * (the test's bound) or on SIGTERM; 99 when it cannot set up.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	static char buf[256 * 1024];
	struct sockaddr_in a = {.sin_family = AF_INET};
	int one = 1, t, u, c = -1;
	time_t end;
	FILE *f;

	if (argc != 5 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: net-echo ADDR PORT READY_FILE SECONDS\n");
		return 99;
	}
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	end = time(NULL) + atoi(argv[4]);
	signal(SIGTERM, on_term);
	signal(SIGPIPE, SIG_IGN);
	t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t < 0 || u < 0 || setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(t, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(t, 4) < 0 ||
	    bind(u, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("net-echo: setting up");
		return 99;
	}
	if (!(f = fopen(argv[3], "w")) || fclose(f)) {
		perror("net-echo: the ready file");
		return 99;
	}
	while (!stop && time(NULL) < end) {
		struct pollfd p[3] = {{.fd = t, .events = POLLIN}, {.fd = u, .events = POLLIN},
				      {.fd = c, .events = POLLIN}};
		ssize_t n;

		if (poll(p, c >= 0 ? 3 : 2, 200) <= 0)
			continue;
		if (p[0].revents && c < 0)
			c = accept4(t, NULL, NULL, SOCK_CLOEXEC);
		if (p[1].revents) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);

			n = recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
			if (n > 0)
				sendto(u, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
		}
		if (c >= 0 && p[2].revents) {
			n = read(c, buf, sizeof(buf));
			if (n <= 0) {
				close(c);
				c = -1;
				continue;
			}
			for (ssize_t off = 0, k; off < n; off += k)
				if ((k = write(c, buf + off, (size_t)(n - off))) < 0) {
					close(c);
					c = -1;
					break;
				}
		}
	}
	return 0;
}
