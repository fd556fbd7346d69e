/*
 * hsflood: spoofed-looking DTLS 1.2 ClientHellos (no cookie; a
 * HelloVerifyRequest is read and never answered) at a fixed rate, each
 * from a new 4-tuple: a socket bound to the next loopback address of
 * 127.1.0.1-127.1.255.254 (Linux routes 127/8 to lo) on a fresh port.
 *
 *   hsflood DST PORT RATE SECONDS [SOCKETS]
 *
 * RATE ClientHellos a second for SECONDS (paced every millisecond), from
 * a pool of SOCKETS (default 512) sockets; a socket that sent reads what
 * came back (counting HelloVerifyRequests) and is replaced by one on the
 * next address before it sends again. Prints, at the end:
 *   sent N ms T rate R hvr H other O
 * Exit 0 if at least 90 % of RATE * SECONDS were sent, 1 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX	4096

static long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint32_t rng = 0x2545f491;

static uint32_t
xrand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/*
 * A ClientHello a stock DTLS 1.2 client would send: RFC 7925 suites
 * (PSK and ECDHE-ECDSA with AES-128-CCM-8) and AES-GCM fallbacks,
 * P-256, ECDSA-SHA256, extended master secret; an empty cookie.
 */
static size_t
client_hello(uint8_t *b, uint64_t seq)
{
	static const uint8_t suites[] = { 0xc0, 0xa8, 0xc0, 0xae, 0x00, 0xa8,
	    0xc0, 0x2b, 0xc0, 0xac, 0xc0, 0xa4 };
	static const uint8_t ext[] = {
		0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17,	/* groups */
		0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,		/* points */
		0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03,	/* sig algs */
		0x00, 0x17, 0x00, 0x00,				/* EMS */
	};
	size_t n = 0, body, hs;

	/* record header */
	b[n++] = 22;
	b[n++] = 0xfe;
	b[n++] = 0xfd;
	b[n++] = 0;
	b[n++] = 0;			/* epoch 0 */
	for (int s = 40; s >= 0; s -= 8)
		b[n++] = (uint8_t)(seq >> s);
	n += 2;				/* record length */
	hs = n;
	b[n++] = 1;			/* client_hello */
	n += 3;				/* length */
	b[n++] = 0;
	b[n++] = 0;			/* message_seq */
	b[n++] = 0;
	b[n++] = 0;
	b[n++] = 0;			/* fragment_offset */
	n += 3;				/* fragment_length */
	body = n;
	b[n++] = 0xfe;
	b[n++] = 0xfd;
	for (int i = 0; i < 32; i += 4) {
		uint32_t r = xrand();

		memcpy(b + n + i, &r, 4);
	}
	n += 32;
	b[n++] = 0;			/* session id */
	b[n++] = 0;			/* cookie */
	b[n++] = 0;
	b[n++] = sizeof(suites);
	memcpy(b + n, suites, sizeof(suites));
	n += sizeof(suites);
	b[n++] = 1;
	b[n++] = 0;			/* compression: null */
	b[n++] = 0;
	b[n++] = sizeof(ext);
	memcpy(b + n, ext, sizeof(ext));
	n += sizeof(ext);
	{
		size_t bl = n - body, rl = n - hs;

		b[hs + 1] = b[hs + 9] = (uint8_t)(bl >> 16);
		b[hs + 2] = b[hs + 10] = (uint8_t)(bl >> 8);
		b[hs + 3] = b[hs + 11] = (uint8_t)bl;
		b[hs - 2] = (uint8_t)(rl >> 8);
		b[hs - 1] = (uint8_t)rl;
	}
	return n;
}

static uint32_t next_addr;	/* host part within 127.1.0.0/16 */

/* A new socket on the next source address, any port; -1 on failure. */
static int
fresh(void)
{
	struct sockaddr_in sa;
	int fd;

	if (++next_addr >= 0xffff)
		next_addr = 1;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(0x7f010000u | next_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	static int pool[POOL_MAX];
	static uint8_t buf[2048];
	struct sockaddr_in dst;
	long rate, seconds, npool = 512, sent = 0, hvr = 0, other = 0, target;
	long t0, t, failed = 0;
	unsigned next = 0;
	struct timespec tick;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: hsflood DST PORT RATE SECONDS [SOCKETS]\n");
		return 2;
	}
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	rate = atol(argv[3]);
	seconds = atol(argv[4]);
	if (argc == 6)
		npool = atol(argv[5]);
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 || rate <= 0 ||
	    seconds <= 0 || npool <= 0 || npool > POOL_MAX) {
		fprintf(stderr, "hsflood: bad arguments\n");
		return 2;
	}
	rng ^= (uint32_t)now_us() ^ (uint32_t)getpid();
	for (long i = 0; i < npool; i++)
		if ((pool[i] = fresh()) < 0) {
			fprintf(stderr, "hsflood: socket: %s\n", strerror(errno));
			return 2;
		}
	target = rate * seconds;
	t0 = now_us();
	clock_gettime(CLOCK_MONOTONIC, &tick);
	while (sent < target) {
		long due;

		t = now_us() - t0;
		if (t > (seconds + 2) * 1000000L)
			break;		/* fell behind: stop anyway */
		due = (long)((double)rate * (double)t / 1e6) + 1;
		if (due > target)
			due = target;
		while (sent < due) {
			int fd = pool[next];
			ssize_t r;
			size_t n;

			/* what came back to this socket since it sent */
			while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) {
				/* handshake record, HelloVerifyRequest (3) */
				if (r >= 14 && buf[0] == 22 && buf[13] == 3)
					hvr++;
				else
					other++;
			}
			if (sent >= npool) {
				close(fd);
				if ((fd = fresh()) < 0) {
					failed++;
					fd = -1;
				}
				pool[next] = fd;
			}
			if (fd >= 0) {
				n = client_hello(buf, 0);
				if (sendto(fd, buf, n, 0, (struct sockaddr *)&dst,
				    sizeof(dst)) != (ssize_t)n)
					failed++;
			}
			sent++;
			next = (next + 1) % (unsigned)npool;
		}
		tick.tv_nsec += 1000000;
		if (tick.tv_nsec >= 1000000000) {
			tick.tv_nsec -= 1000000000;
			tick.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL);
	}
	t = now_us() - t0;
	/* the last answers */
	for (long i = 0; i < npool; i++) {
		ssize_t r;

		if (pool[i] < 0)
			continue;
		while ((r = recv(pool[i], buf, sizeof(buf), 0)) > 0) {
			if (r >= 14 && buf[0] == 22 && buf[13] == 3)
				hvr++;
			else
				other++;
		}
		close(pool[i]);
	}
	printf("sent %ld ms %ld rate %ld hvr %ld other %ld failed %ld\n",
	    sent - failed, t / 1000, (long)((double)(sent - failed) * 1e6 /
	    (double)(t > 0 ? t : 1)), hvr, other, failed);
	return sent - failed >= target * 9 / 10 ? 0 : 1;
}
