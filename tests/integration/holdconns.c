/*
 * holdconns: open N silent TCP connections from SRC to DST:PORT (IPv4) and
 * hold them; an idle-connection flood for the HTTPS tests.
 *
 *   holdconns SRC DST PORT N SECONDS
 *
 * Prints "connected K" once every connect finished (K of N succeeded),
 * then "open M" each time the peer has closed some (M still open), and
 * exits when none is left open or after SECONDS, whichever comes first.
 * Never sends a byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOLD_MAX	4096

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
main(int argc, char **argv)
{
	static struct pollfd pf[HOLD_MAX];
	struct sockaddr_in src, dst;
	long n, seconds, end, open_n, last = -1;
	char buf[256];

	if (argc != 6) {
		fprintf(stderr, "usage: holdconns SRC DST PORT N SECONDS\n");
		return 2;
	}
	n = strtol(argv[4], NULL, 10);
	seconds = strtol(argv[5], NULL, 10);
	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	src.sin_family = dst.sin_family = AF_INET;
	dst.sin_port = htons((unsigned short)strtol(argv[3], NULL, 10));
	if (n < 1 || n > HOLD_MAX || seconds < 1 ||
	    inet_pton(AF_INET, argv[1], &src.sin_addr) != 1 ||
	    inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1) {
		fprintf(stderr, "holdconns: bad arguments\n");
		return 2;
	}
	end = now_ms() + seconds * 1000;

	/* Non-blocking connects, all at once, then wait for each. */
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		pf[i].fd = -1;
		if (fd < 0) {
			perror("holdconns: socket");
			return 1;
		}
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
			perror("holdconns: bind");
			return 1;
		}
		if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 &&
		    errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		pf[i].fd = fd;
	}
	open_n = 0;
	for (long i = 0; i < n; i++) {
		struct pollfd w = { pf[i].fd, POLLOUT, 0 };
		int err = 0;
		socklen_t len = sizeof(err);
		long left = end - now_ms();

		if (pf[i].fd < 0)
			continue;
		if (left < 0 || poll(&w, 1, (int)left) != 1 ||
		    getsockopt(pf[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) !=
		    0 || err != 0) {
			close(pf[i].fd);
			pf[i].fd = -1;
			continue;
		}
		pf[i].events = POLLIN;
		open_n++;
	}
	printf("connected %ld\n", open_n);
	fflush(stdout);

	/* Hold; a readable socket is the peer closing (we never asked for
	 * anything, so whatever comes is read and dropped until EOF). */
	while (open_n > 0 && now_ms() < end) {
		if (open_n != last) {
			printf("open %ld\n", open_n);
			fflush(stdout);
			last = open_n;
		}
		if (poll(pf, (nfds_t)n, 200) < 0 && errno != EINTR)
			return 1;
		for (long i = 0; i < n; i++) {
			ssize_t r;

			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			r = read(pf[i].fd, buf, sizeof(buf));
			if (r > 0 || (r < 0 && errno == EAGAIN))
				continue;
			close(pf[i].fd);
			pf[i].fd = -1;	/* poll() skips negative fds */
			open_n--;
		}
	}
	printf("open %ld\n", open_n);
	fflush(stdout);
	return 0;
}
