/*
 * bench_idle: fill a server with idle established DTLS sessions (issue 14
 * §4, capacity). N DTLS 1.2 PSK handshakes from N distinct 4-tuples (each
 * its own loopback source address, lg_addr()), each followed by one CoAP
 * exchange, a CON GET /PATH (a path the server answers 4.04 is cheapest;
 * any answer counts), after which the socket is closed without
 * close_notify: the server holds an established session nobody uses,
 * as it does for a device that went silent. Nothing is kept client side
 * (no socket, no GnuTLS session), so the count is bounded by the
 * server only; the sessions' source addresses are never used again by
 * this run (a later run against the same server takes another NET).
 *
 * usage: bench_idle -p PORT -f MANIFEST -n N [-c CONC] [-P PROCS]
 *                   [-a NET] [-s PID] [-u PATH] [-T TIMEOUT]
 *   MANIFEST  PSK devices, JSON Lines as for `iotkdc device import`;
 *             session j uses line j % lines (a server that caps the
 *             sessions per credential needs enough lines)
 *   N         sessions; CONC in flight (64), PROCS processes (2)
 *   NET       second octet of the first source address (64); N/65,024
 *             octets are used
 *   PID       the server: its VmRSS (/proc/PID/status) before and after
 *   PATH      the GET's Uri-Path ("idle")
 * prints one line:
 *   sessions=N ok=K failed=F seconds=S rate=R/s client_cpu_us=C
 *   codes=2.05:K,... rss_before_kb=.. rss_after_kb=.. rss_per_session_b=..
 *   hs_dgrams_out=.. hs_dgrams_in=.. hs_bytes_out=.. hs_bytes_in=..
 *   hs_failed=.. timeouts=.. refused=.. closed=.. io_errors=.. tickets=..
 * Exit status 1 when fewer than 95 % of the sessions were made, 2 on a
 * usage or setup error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lg.h"

static int
usage(void)
{
	fprintf(stderr, "usage: bench_idle -p PORT -f MANIFEST -n N [-c CONC] "
	    "[-P PROCS] [-a NET] [-s PID] [-u PATH] [-T TIMEOUT]\n");
	return 2;
}

/* VmRSS of pid in kB, -1 when unknown. */
static long
rss_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int
main(int argc, char **argv)
{
	struct lg_conf c;
	struct lg_stats st;
	const char *file = NULL;
	struct lg_cred *creds;
	size_t ncreds;
	long pid = 0, before, after;
	double k;
	int o;

	memset(&c, 0, sizeof(c));
	c.mode = LG_IDLE;
	c.conc = 64;
	c.procs = 2;
	c.net = 64;
	c.timeout_s = 20;
	c.path = "idle";
	while ((o = getopt(argc, argv, "p:f:n:c:P:a:s:u:T:")) != -1) {
		switch (o) {
		case 'p': c.port = (uint16_t)atoi(optarg); break;
		case 'f': file = optarg; break;
		case 'n': c.n = strtoul(optarg, NULL, 10); break;
		case 'c': c.conc = strtoul(optarg, NULL, 10); break;
		case 'P': c.procs = strtoul(optarg, NULL, 10); break;
		case 'a': c.net = (unsigned)atoi(optarg); break;
		case 's': pid = atol(optarg); break;
		case 'u': c.path = optarg; break;
		case 'T': c.timeout_s = (unsigned)atoi(optarg); break;
		default: return usage();
		}
	}
	if (c.port == 0 || file == NULL || c.n == 0 || c.procs == 0 ||
	    c.procs > 64 || c.conc == 0 || c.net == 0 || c.net > 255 ||
	    c.timeout_s == 0 || strlen(c.path) > 48)
		return usage();
	if (c.conc > c.n)
		c.conc = c.n;
	if (c.procs > c.conc)
		c.procs = c.conc;
	if (lg_read_manifest(file, &creds, &ncreds) != 0)
		return 2;
	c.creds = creds;
	c.ncreds = ncreds;
	before = rss_kb(pid);
	if (lg_run(&c, &st) != 0)
		return 2;
	after = rss_kb(pid);
	k = st.ok > 0 ? (double)st.ok : 1.0;
	printf("sessions=%lu ok=%lu failed=%lu seconds=%.3f rate=%.0f/s "
	    "client_cpu_us=%.1f codes=", c.n, st.ok, st.failed, st.seconds,
	    st.seconds > 0 ? (double)st.ok / st.seconds : 0.0, st.cpu_us / k);
	for (int i = 0, first = 1; i < 256; i++)
		if (st.codes[i] != 0) {
			printf("%s%d.%02d:%lu", first ? "" : ",", i >> 5, i & 31,
			    st.codes[i]);
			first = 0;
		}
	printf(" rss_before_kb=%ld rss_after_kb=%ld rss_per_session_b=%.0f "
	    "hs_dgrams_out=%.1f hs_dgrams_in=%.1f hs_bytes_out=%.0f "
	    "hs_bytes_in=%.0f hs_failed=%lu timeouts=%lu refused=%lu "
	    "closed=%lu io_errors=%lu tickets=%lu\n", before, after,
	    before >= 0 && after >= 0 ? (double)(after - before) * 1024.0 / k :
	    0.0, st.hs_dg_out / k, st.hs_dg_in / k, st.hs_bytes_out / k,
	    st.hs_bytes_in / k, st.hs_failed, st.timeouts, st.refused,
	    st.closed, st.io_errors, st.tickets);
	explicit_bzero(creds, ncreds * sizeof(*creds));
	free(creds);
	return st.ok * 100 >= c.n * 95 ? 0 : 1;
}
