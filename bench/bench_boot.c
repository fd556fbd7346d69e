/*
 * bench_boot: full LwM2M PSK bootstraps per second against a running
 * server, with the lean load generator of lg.h (issue 14 §4): GnuTLS DTLS
 * 1.2 PSK clients (PSK_AES_128_CCM_8, a flight per datagram), one epoll
 * loop per process at SCHED_BATCH, each device a new UDP socket on a
 * loopback source address of its own; POST /bs?ep=, Discover/Delete/
 * Write answered, done at Bootstrap-Finish, then close_notify.
 *
 * usage: bench_boot -p PORT -f MANIFEST -n N [-c CONC] [-P PROCS]
 *                   [-a NET] [-t SECONDS] [-T TIMEOUT]
 *                   [-k rpk|x509 -e EP -C PUB_OR_CERT -K KEY]
 *   MANIFEST  the devices, JSON Lines as given to `iotkdc device import`
 *             (id, psk_identity, psk); device j uses line j % lines
 *   N         bootstraps (devices) to run
 *   CONC      devices in flight over all processes (16)
 *   PROCS     worker processes (2)
 *   NET       second octet of the first source address (10): device j
 *             binds 127.NET.x.y (lg_addr()); 65,024 devices per octet.
 *             Runs against one server use NETs of their own.
 *   SECONDS   stop after SECONDS (devices in flight then are counted
 *             "unfinished", not failed): the rate of a server that
 *             cannot finish N
 *   TIMEOUT   seconds a device may take before it fails (20)
 *   -k        every device authenticates with one raw public key (-C: its
 *             PEM public key) or X.509 certificate (-C: PEM), -K its PEM
 *             private key, as device EP (TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8);
 *             the manifest is not read. With -n 1: the bytes on the wire
 *             of one handshake of that kind (hs_*).
 * prints one line:
 *   bootstraps=N ok=K failed=F unfinished=U seconds=S rate=R/s
 *   client_cpu_us=C dgrams_out=.. dgrams_in=.. bytes_out=.. bytes_in=..
 *   hs_dgrams_out=.. hs_dgrams_in=.. hs_bytes_out=.. hs_bytes_in=..
 *   p50_ms=.. p99_ms=.. max_ms=.. hs_failed=.. timeouts=.. refused=..
 *   closed=.. io_errors=.. retransmits=.. dup_requests=.. tickets=..
 *   suite=TLS_.. ctypes=CLIENT/SERVER (certificate types, "-/-" for PSK)
 * (tickets: successful devices that got a session ticket: the clients
 * ask for one, as GnuTLS clients do by default; its bytes are in hs_*)
 * (client_cpu_us, dgrams_*, bytes_*: per successful bootstrap, UDP
 * payload, out = client to server; hs_*: the handshake's part, the
 * cookie round included). Exit status 1 when more than 1 % of the
 * devices started failed, 2 on a usage or setup error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lg.h"

static int
usage(void)
{
	fprintf(stderr, "usage: bench_boot -p PORT -f MANIFEST -n N [-c CONC] "
	    "[-P PROCS] [-a NET] [-t SECONDS] [-T TIMEOUT]\n"
	    "       bench_boot -p PORT -k rpk|x509 -e EP -C PUB_OR_CERT -K KEY "
	    "-n N [...]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct lg_conf c;
	struct lg_stats st;
	const char *file = NULL;
	struct lg_cred *creds = NULL;
	size_t ncreds = 0;
	double k;
	int o;

	memset(&c, 0, sizeof(c));
	c.mode = LG_BOOT;
	c.conc = 16;
	c.procs = 2;
	c.net = 10;
	c.timeout_s = 20;
	while ((o = getopt(argc, argv, "p:f:n:c:P:a:t:T:k:e:C:K:")) != -1) {
		switch (o) {
		case 'p': c.port = (uint16_t)atoi(optarg); break;
		case 'f': file = optarg; break;
		case 'n': c.n = strtoul(optarg, NULL, 10); break;
		case 'c': c.conc = strtoul(optarg, NULL, 10); break;
		case 'P': c.procs = strtoul(optarg, NULL, 10); break;
		case 'a': c.net = (unsigned)atoi(optarg); break;
		case 't': c.seconds = atof(optarg); break;
		case 'T': c.timeout_s = (unsigned)atoi(optarg); break;
		case 'k':
			if (strcmp(optarg, "rpk") == 0)
				c.kind = LG_RPK;
			else if (strcmp(optarg, "x509") == 0)
				c.kind = LG_X509;
			else
				return usage();
			break;
		case 'e': c.ep = optarg; break;
		case 'C': c.cert_file = optarg; break;
		case 'K': c.key_file = optarg; break;
		default: return usage();
		}
	}
	if (c.kind != LG_PSK && (c.ep == NULL || c.cert_file == NULL ||
	    c.key_file == NULL || strlen(c.ep) >= LG_EP_MAX))
		return usage();
	if (c.kind != LG_PSK) {	/* no manifest: one placeholder */
		static struct lg_cred none;
		file = "";
		creds = &none;
		ncreds = 1;
	}
	if (c.port == 0 || file == NULL || c.n == 0 || c.procs == 0 ||
	    c.procs > 64 || c.conc == 0 || c.net == 0 || c.net > 255 ||
	    c.timeout_s == 0 || c.seconds < 0)
		return usage();
	if (c.conc > c.n)
		c.conc = c.n;
	if (c.procs > c.conc)
		c.procs = c.conc;
	if (c.kind == LG_PSK && lg_read_manifest(file, &creds, &ncreds) != 0)
		return 2;
	c.creds = creds;
	c.ncreds = ncreds;
	if (lg_run(&c, &st) != 0)
		return 2;
	k = st.ok > 0 ? (double)st.ok : 1.0;
	printf("bootstraps=%lu ok=%lu failed=%lu unfinished=%lu seconds=%.3f "
	    "rate=%.0f/s client_cpu_us=%.1f dgrams_out=%.1f dgrams_in=%.1f "
	    "bytes_out=%.0f bytes_in=%.0f hs_dgrams_out=%.1f hs_dgrams_in=%.1f "
	    "hs_bytes_out=%.0f hs_bytes_in=%.0f p50_ms=%.1f p99_ms=%.1f "
	    "max_ms=%.1f hs_failed=%lu timeouts=%lu refused=%lu closed=%lu "
	    "io_errors=%lu retransmits=%lu dup_requests=%lu tickets=%lu "
	    "suite=%s ctypes=%s\n",
	    st.started, st.ok, st.failed, st.unfinished, st.seconds,
	    st.seconds > 0 ? (double)st.ok / st.seconds : 0.0,
	    st.cpu_us / k, st.dg_out / k, st.dg_in / k, st.bytes_out / k,
	    st.bytes_in / k, st.hs_dg_out / k, st.hs_dg_in / k,
	    st.hs_bytes_out / k, st.hs_bytes_in / k, st.p50_ms, st.p99_ms,
	    st.max_ms, st.hs_failed, st.timeouts, st.refused, st.closed,
	    st.io_errors, st.retransmits, st.dup_requests, st.tickets,
	    st.suite[0] ? st.suite : "-", st.ctypes[0] ? st.ctypes : "-");
	if (c.kind == LG_PSK) {
		explicit_bzero(creds, ncreds * sizeof(*creds));
		free(creds);
	}
	return st.failed * 100 > st.started ? 1 : 0;
}
