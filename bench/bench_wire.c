/*
 * bench_wire: bytes on the wire of one DTLS handshake plus one request /
 * response exchange, measured by a UDP relay on loopback between a client
 * and a server (method: protocols/perf.md §0 and §3.1). The relay binds a
 * free port on 127.0.0.1, runs CMD with every "@PORT@" in its arguments
 * replaced by that port, forwards datagrams both ways to 127.0.0.1:SERVER
 * and parses the DTLS record headers of each one, until CMD exits.
 *
 * usage: bench_wire SERVER_PORT CMD [ARGS...]
 * prints one line:
 *   suite=NAME hs_datagrams=D hs_c2s=B hs_s2c=B hs_bytes=B
 *   req_bytes=B resp_bytes=B total=B alerts=B
 * hs_*: handshake and ChangeCipherSpec records, the cookie round and the
 * encrypted Finished included (UDP payload, record headers included);
 * req/resp: the first application-data datagram each way (the request
 * and its response); total = hs_bytes + req_bytes + resp_bytes; alerts
 * (close_notify) are counted apart and left out of total.
 * Exit status 1 when no response was seen (CMD failed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#define DMAX	65536

enum { C2S, S2C };

struct count {
	unsigned long	hs_dg, hs_bytes[2], alert_bytes;
	unsigned long	app_first[2];	/* first application datagram */
	unsigned	suite;
};

static const struct {
	unsigned	 id;
	const char	*name;
} suites[] = {
	{ 0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8" },
	{ 0xC0A4, "TLS_PSK_WITH_AES_128_CCM" },
	{ 0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256" },
	{ 0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256" },
	{ 0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8" },
	{ 0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM" },
	{ 0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" },
	{ 0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" },
	{ 0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" },
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Account one datagram going direction dir. */
static void
account(struct count *c, int dir, const uint8_t *d, size_t n)
{
	size_t off = 0, hs = 0, app = 0;

	while (off + 13 <= n) {
		uint8_t type = d[off];
		unsigned epoch = (unsigned)d[off + 3] << 8 | d[off + 4];
		size_t len = (size_t)d[off + 11] << 8 | d[off + 12];
		size_t rec = 13 + len;

		if (off + rec > n)
			rec = n - off;		/* truncated: count what is there */
		if (type == 20 || type == 22) {
			hs += rec;
			/* a plaintext ServerHello: its cipher suite */
			if (dir == S2C && type == 22 && epoch == 0 &&
			    rec >= 13 + 12 + 2 + 32 + 1 &&
			    d[off + 13] == 2) {
				size_t p = off + 13 + 12 + 2 + 32;
				size_t sid = d[p];
				if (p + 1 + sid + 2 <= off + rec)
					c->suite = (unsigned)d[p + 1 + sid] << 8 |
					    d[p + 2 + sid];
			}
		} else if (type == 23) {
			app += rec;
		} else {
			c->alert_bytes += rec;
		}
		off += rec;
	}
	if (hs > 0) {
		c->hs_dg++;
		c->hs_bytes[dir] += hs;
	}
	if (app > 0 && c->app_first[dir] == 0)
		c->app_first[dir] = app;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in la, sa, ca;
	socklen_t alen;
	struct count cnt;
	char portstr[8];
	int cs, ss, status = 0, exited = 0;
	double deadline, drain = 0;
	pid_t pid;
	uint8_t *buf;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_wire SERVER_PORT CMD [ARGS...]\n");
		return 2;
	}
	memset(&cnt, 0, sizeof(cnt));
	memset(&la, 0, sizeof(la));
	la.sin_family = AF_INET;
	la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa = la;
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	if ((buf = malloc(DMAX)) == NULL ||
	    (cs = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    (ss = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    bind(cs, (struct sockaddr *)&la, sizeof(la)) != 0 ||
	    connect(ss, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("bench_wire: socket");
		return 1;
	}
	alen = sizeof(la);
	getsockname(cs, (struct sockaddr *)&la, &alen);
	snprintf(portstr, sizeof(portstr), "%u", ntohs(la.sin_port));

	if ((pid = fork()) < 0) {
		perror("bench_wire: fork");
		return 1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		for (int i = 2; i < argc; i++) {
			char *at = strstr(argv[i], "@PORT@");
			if (at != NULL) {
				size_t n = strlen(argv[i]) + 8;
				char *s = malloc(n);
				if (s == NULL)
					_exit(127);
				snprintf(s, n, "%.*s%s%s", (int)(at - argv[i]),
				    argv[i], portstr, at + 6);
				argv[i] = s;
			}
		}
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		close(cs);
		close(ss);
		execvp(argv[2], argv + 2);
		_exit(127);
	}

	memset(&ca, 0, sizeof(ca));
	deadline = now() + 20;
	for (;;) {
		struct pollfd p[2] = { { cs, POLLIN, 0 }, { ss, POLLIN, 0 } };
		int r = poll(p, 2, 20);

		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && (p[0].revents & POLLIN)) {
			alen = sizeof(ca);
			ssize_t n = recvfrom(cs, buf, DMAX, 0,
			    (struct sockaddr *)&ca, &alen);
			if (n > 0) {
				account(&cnt, C2S, buf, (size_t)n);
				(void)send(ss, buf, (size_t)n, 0);
			}
		}
		if (r > 0 && (p[1].revents & POLLIN)) {
			ssize_t n = recv(ss, buf, DMAX, 0);
			if (n > 0 && ca.sin_port != 0) {
				account(&cnt, S2C, buf, (size_t)n);
				(void)sendto(cs, buf, (size_t)n, 0,
				    (struct sockaddr *)&ca, sizeof(ca));
			}
		}
		if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
			exited = 1;
			drain = now() + 0.2;	/* late datagrams */
		}
		if (exited && now() > drain)
			break;
		if (!exited && now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "bench_wire: %s did not exit in 20 s\n",
			    argv[2]);
			exited = 1;
			drain = now();
		}
	}
	{
		const char *name = "?";
		for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
			if (suites[i].id == cnt.suite)
				name = suites[i].name;
		unsigned long hs = cnt.hs_bytes[C2S] + cnt.hs_bytes[S2C];
		printf("suite=%s hs_datagrams=%lu hs_c2s=%lu hs_s2c=%lu "
		    "hs_bytes=%lu req_bytes=%lu resp_bytes=%lu total=%lu "
		    "alerts=%lu\n", name, cnt.hs_dg, cnt.hs_bytes[C2S],
		    cnt.hs_bytes[S2C], hs, cnt.app_first[C2S],
		    cnt.app_first[S2C], hs + cnt.app_first[C2S] +
		    cnt.app_first[S2C], cnt.alert_bytes);
	}
	free(buf);
	return cnt.app_first[S2C] > 0 ? 0 : 1;
}
