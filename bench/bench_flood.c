/*
 * bench_flood: a flood of spoofed DTLS 1.2 ClientHellos (issue 14 §4, the
 * flood row; §3: "10,000 spoofed ClientHellos per second from many
 * loopback source addresses"). Well-formed ClientHellos without a cookie,
 * made by GnuTLS clients (PSK_AES_128_CCM_8, as the fleet's) and never
 * continued, each from a source address used once: datagram i leaves
 * from 127.NET.x.y (lg_addr(NET, i)), set per datagram with IP_PKTINFO on
 * a few sockets bound to 0.0.0.0 (Linux routes 127.0.0.0/8 to lo: no raw
 * sockets), so the server sees RATE new peers a second. The
 * HelloVerifyRequests that come back to those addresses are counted and
 * never answered.
 *
 * usage: bench_flood -p PORT -r RATE -d SECONDS [-a NET] [-k SOCKETS]
 *   RATE      ClientHellos per second (10000), sent in 1 ms batches
 *   NET       second octet of the first source address (200); RATE x
 *             SECONDS / 65,024 octets are used
 *   SOCKETS   sending sockets, i.e. source ports (16)
 * prints one line:
 *   sent=N seconds=S rate=R/s hvr=H other=O send_errors=E cpu_us=U
 * (hvr: HelloVerifyRequests received, addressed to one of the flood's
 * source addresses, which shows they were used; other: any other
 * datagram received; cpu_us: this process, user + system). Exit
 * status 2 on a usage or setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#include "lg.h"

#define HELLOS		32	/* distinct ClientHellos, used in turn */
#define HELLO_MAX	512
#define BATCH		64	/* datagrams per sendmmsg */
#define SOCKS_MAX	256

static uint8_t hello[HELLOS][HELLO_MAX];
static size_t hello_len[HELLOS];
static int cur;

static ssize_t
grab(gnutls_transport_ptr_t p, const void *d, size_t n)
{
	(void)p;
	if (n <= HELLO_MAX && hello_len[cur] == 0) {
		memcpy(hello[cur], d, n);
		hello_len[cur] = n;
	}
	return (ssize_t)n;
}

static ssize_t
nothing(gnutls_transport_ptr_t p, void *d, size_t n)
{
	(void)p;
	(void)d;
	(void)n;
	errno = EAGAIN;
	return -1;
}

/* HELLOS ClientHellos, each with its own random: 0 or -1. */
static int
make_hellos(void)
{
	gnutls_psk_client_credentials_t cred;
	uint8_t k[16] = { 0 };
	gnutls_datum_t key = { k, sizeof(k) };

	if (gnutls_psk_allocate_client_credentials(&cred) < 0 ||
	    gnutls_psk_set_client_credentials(cred, "flood", &key,
	    GNUTLS_PSK_KEY_RAW) < 0)
		return -1;
	for (cur = 0; cur < HELLOS; cur++) {
		gnutls_session_t s;

		if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_DATAGRAM |
		    GNUTLS_NONBLOCK) < 0 ||
		    gnutls_priority_set_direct(s, "NONE:+VERS-DTLS1.2:+PSK:"
		    "+AES-128-CCM-8:+AEAD:+COMP-NULL:+SIGN-ALL", NULL) < 0 ||
		    gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred) < 0)
			return -1;
		gnutls_transport_set_push_function(s, grab);
		gnutls_transport_set_pull_function(s, nothing);
		gnutls_transport_set_errno_function(s, NULL);
		(void)gnutls_handshake(s);
		gnutls_deinit(s);
		/* a ClientHello record: handshake (22), DTLS 1.2, type 1 */
		if (hello_len[cur] < 26 || hello[cur][0] != 22 ||
		    hello[cur][13] != 1)
			return -1;
	}
	gnutls_psk_free_client_credentials(cred);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: bench_flood -p PORT -r RATE -d SECONDS "
	    "[-a NET] [-k SOCKETS]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	unsigned long rate = 10000, total, sent = 0, hvr = 0, other = 0,
	    errs = 0, k = 16;
	unsigned port = 0, net = 200;
	double secs = 0;
	int fds[SOCKS_MAX], ep, o, next_fd = 0, on = 1;
	unsigned net_last;
	struct sockaddr_in dst, any;
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct {
		_Alignas(struct cmsghdr) char
				buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	} ctl[BATCH];
	uint8_t rbuf[2048];
	uint64_t t0, t_end;
	struct rusage ru;

	while ((o = getopt(argc, argv, "p:r:d:a:k:")) != -1) {
		switch (o) {
		case 'p': port = (unsigned)atoi(optarg); break;
		case 'r': rate = strtoul(optarg, NULL, 10); break;
		case 'd': secs = atof(optarg); break;
		case 'a': net = (unsigned)atoi(optarg); break;
		case 'k': k = strtoul(optarg, NULL, 10); break;
		default: return usage();
		}
	}
	if (port == 0 || port > 65535 || rate == 0 || secs <= 0 || k == 0 ||
	    k > SOCKS_MAX || net == 0 || net > 255)
		return usage();
	total = (unsigned long)((double)rate * secs);
	if (net + total / LG_ADDRS_PER_NET > 255) {
		fprintf(stderr, "bench_flood: too many sources for NET %u\n",
		    net);
		return 2;
	}
	net_last = net + (unsigned)(total / LG_ADDRS_PER_NET);
	if (make_hellos() != 0) {
		fprintf(stderr, "bench_flood: cannot make ClientHellos\n");
		return 2;
	}
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	dst.sin_addr.s_addr = htonl(0x7f000001);
	memset(&any, 0, sizeof(any));
	any.sin_family = AF_INET;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return 2;
	for (unsigned long i = 0; i < k; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		int big = 1 << 20;

		if ((fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) < 0 || bind(fds[i],
		    (struct sockaddr *)&any, sizeof(any)) != 0) {
			perror("bench_flood: socket");
			return 2;
		}
		(void)setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &big,
		    sizeof(big));
		if (setsockopt(fds[i], IPPROTO_IP, IP_PKTINFO, &on,
		    sizeof(on)) != 0) {
			perror("bench_flood: IP_PKTINFO");
			return 2;
		}
		(void)setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &big,
		    sizeof(big));
		ev.data.fd = fds[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0)
			return 2;
	}
	t0 = lg_now_us();
	t_end = t0 + (uint64_t)(secs * 1e6);
	for (;;) {
		uint64_t now = lg_now_us();
		struct epoll_event evs[SOCKS_MAX];
		unsigned long due;
		int n;

		if (now >= t_end + 300000u)	/* late HVRs */
			break;
		due = now >= t_end ? total : (unsigned long)((double)(now -
		    t0) * (double)rate / 1e6);
		if (due > total)
			due = total;
		while (sent < due) {
			unsigned b = due - sent > BATCH ? BATCH :
			    (unsigned)(due - sent);
			int r;

			for (unsigned i = 0; i < b; i++) {
				struct cmsghdr *cm;
				struct in_pktinfo pi;
				unsigned h = (unsigned)((sent + i) % HELLOS);

				iov[i].iov_base = hello[h];
				iov[i].iov_len = hello_len[h];
				memset(&mm[i], 0, sizeof(mm[i]));
				mm[i].msg_hdr.msg_name = &dst;
				mm[i].msg_hdr.msg_namelen = sizeof(dst);
				mm[i].msg_hdr.msg_iov = &iov[i];
				mm[i].msg_hdr.msg_iovlen = 1;
				mm[i].msg_hdr.msg_control = ctl[i].buf;
				mm[i].msg_hdr.msg_controllen =
				    sizeof(ctl[i].buf);
				cm = CMSG_FIRSTHDR(&mm[i].msg_hdr);
				cm->cmsg_level = IPPROTO_IP;
				cm->cmsg_type = IP_PKTINFO;
				cm->cmsg_len = CMSG_LEN(sizeof(pi));
				memset(&pi, 0, sizeof(pi));
				pi.ipi_spec_dst = lg_addr(net, sent + i);
				memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
			}
			r = sendmmsg(fds[next_fd], mm, b, 0);
			next_fd = (next_fd + 1) % (int)k;
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errs++ == 0)
					perror("bench_flood: sendmmsg");
				sent += b;	/* lost: counted as errors */
				errs += b - 1;
				continue;
			}
			sent += (unsigned long)r;
			if ((unsigned)r < b) {
				errs += b - (unsigned)r;
				sent += b - (unsigned)r;
			}
		}
		n = epoll_wait(ep, evs, SOCKS_MAX, 1);
		for (int i = 0; i < n; i++) {
			ssize_t r;

			for (;;) {
				struct iovec riov = { rbuf, sizeof(rbuf) };
				struct msghdr rh;
				struct cmsghdr *cm;
				struct {
					_Alignas(struct cmsghdr) char buf[
					    CMSG_SPACE(sizeof(struct in_pktinfo))];
				} rctl;
				uint32_t to = 0;

				memset(&rh, 0, sizeof(rh));
				rh.msg_iov = &riov;
				rh.msg_iovlen = 1;
				rh.msg_control = rctl.buf;
				rh.msg_controllen = sizeof(rctl.buf);
				if ((r = recvmsg(evs[i].data.fd, &rh, 0)) < 0) {
					if (errno == EINTR)
						continue;
					break;
				}
				for (cm = CMSG_FIRSTHDR(&rh); cm != NULL;
				    cm = CMSG_NXTHDR(&rh, cm))
					if (cm->cmsg_level == IPPROTO_IP &&
					    cm->cmsg_type == IP_PKTINFO) {
						struct in_pktinfo pi;

						memcpy(&pi, CMSG_DATA(cm),
						    sizeof(pi));
						to = ntohl(pi.ipi_addr.s_addr);
					}
				/* an HVR to one of the flood's sources
				 * (127.NET.x.y ..): the spoofing worked */
				if (r >= 14 && rbuf[0] == 22 && rbuf[13] == 3 &&
				    to >> 24 == 127 && ((to >> 16) & 255) >=
				    net && ((to >> 16) & 255) <= net_last)
					hvr++;
				else
					other++;
			}
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("sent=%lu seconds=%.3f rate=%.0f/s hvr=%lu other=%lu "
	    "send_errors=%lu cpu_us=%.0f\n", sent - errs, secs,
	    (double)(sent - errs) / secs, hvr, other, errs,
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec));
	return 0;
}
