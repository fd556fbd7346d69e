/*
 * lg.h: the lean DTLS load generator behind bench_boot and bench_idle
 * (issue 14 §4; the design of protocols/transport.md §2.4 `dcli`).
 *
 * A fleet of GnuTLS DTLS 1.2 PSK clients (TLS_PSK_WITH_AES_128_CCM_8,
 * vec push: a flight is one datagram) in PROCS worker processes at
 * SCHED_BATCH, each with one epoll loop and up to CONC/PROCS devices in
 * flight. Every device is a new non-blocking UDP socket bound to a
 * loopback source address of its own (lg_addr()) and connected to
 * 127.0.0.1:PORT, so that no 4-tuple repeats within a run and the
 * kernel's SO_REUSEPORT hash spreads the devices over a server's sockets.
 * The CoAP messages are made and read here: the tool must work against
 * any server (libcoap's engine today, ours tomorrow).
 *
 * Modes:
 *   LG_BOOT  a full LwM2M bootstrap: CON POST /bs?ep=EP, then every
 *            request the server sends answered (GET: 2.05 with a minimal
 *            link-format, DELETE: 2.02, PUT and POST: 2.04, duplicates
 *            with the cached answer); done at Bootstrap-Finish (POST
 *            /bs), then close_notify.
 *   LG_IDLE  one CON GET /PATH (any response code counts), then the
 *            socket is closed without close_notify: the server keeps an
 *            idle established session; the client keeps nothing.
 *
 * Our CONs are resent after 2 s, doubling, 4 times (RFC 7252 §4.2); a
 * DTLS flight after 500 ms, doubling (GnuTLS's timer). A device not done
 * within timeout_s fails.
 */
#ifndef BENCH_LG_H
#define BENCH_LG_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define LG_EP_MAX	96
#define LG_IDENT_MAX	64
#define LG_PSK_MAX	64
#define LG_ADDRS_PER_NET	(254u * 256u)	/* source addresses per octet */

/* One device's manufacturer credential, from a manifest line. */
struct lg_cred {
	char		ep[LG_EP_MAX];		/* "id" */
	char		ident[LG_IDENT_MAX];	/* "psk_identity" */
	uint8_t		psk[LG_PSK_MAX];	/* "psk" (hex) */
	size_t		psk_len;
};

enum lg_mode { LG_BOOT, LG_IDLE };

/* The device credential: the manifest's PSKs, or one raw public key
 * (RFC 7250) or X.509 certificate for every device (the wire-size rows:
 * TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, P-256; the server's key is not
 * checked: a load generator). */
enum lg_kind { LG_PSK, LG_RPK, LG_X509 };

struct lg_conf {
	enum lg_mode		 mode;
	uint16_t		 port;		/* 127.0.0.1:port */
	unsigned		 net;		/* lg_addr() first octet 2 */
	unsigned long		 n;		/* devices to run */
	unsigned long		 conc;		/* in flight, all processes */
	unsigned long		 procs;
	double			 seconds;	/* 0: until all n are done */
	unsigned		 timeout_s;	/* per device */
	const struct lg_cred	*creds;		/* device j uses creds[j % ncreds] */
	size_t			 ncreds;
	const char		*path;		/* LG_IDLE: the GET's Uri-Path */
	enum lg_kind		 kind;
	const char		*key_file;	/* LG_RPK, LG_X509: PEM key */
	const char		*cert_file;	/* LG_RPK: PEM public key;
						 * LG_X509: PEM certificate */
	const char		*ep;		/* LG_RPK, LG_X509: ep= */
};

struct lg_stats {
	unsigned long	 started, ok, failed, unfinished;
	/* failures by cause */
	unsigned long	 hs_failed, timeouts, refused, closed, io_errors;
	unsigned long	 retransmits;	/* our CONs sent again */
	unsigned long	 dup_requests;	/* server CONs answered again */
	unsigned long	 tickets;	/* sessions that got a session ticket
					 * (RFC 5077: GnuTLS clients ask) */
	/* sums over the devices that succeeded */
	unsigned long	 dg_out, dg_in, bytes_out, bytes_in;
	unsigned long	 hs_dg_out, hs_dg_in, hs_bytes_out, hs_bytes_in;
	unsigned long	 codes[256];	/* LG_IDLE: response codes */
	double		 seconds;	/* from the start to the last end */
	double		 cpu_us;	/* all workers, user + system */
	double		 p50_ms, p99_ms, max_ms;
	char		 suite[64];	/* negotiated (the first device's) */
	char		 ctypes[32];	/* client/server certificate types */
};

/*
 * Source address j (0-based) of net: 127.(net + j / 65024).(j / 254 %
 * 256).(1 + j % 254). Linux routes all of 127.0.0.0/8 to lo, so any of
 * them can be bound without configuration.
 */
struct in_addr lg_addr(unsigned net, unsigned long j);

/*
 * Read a manifest (JSON Lines as `iotkdc device import` takes them, one
 * device a line with "id", "psk_identity" and "psk" in hex) into
 * *out (malloc'd, *n entries): 0, or -1 after a message on stderr.
 * Lines without a PSK identity are skipped.
 */
int lg_read_manifest(const char *file, struct lg_cred **out, size_t *n);

/* Run the fleet; 0 when it ran (stats filled, failed devices
 * included), -1 after a message on stderr (bad parameters, no memory, a
 * worker process that did not exit 0: its counts are lost). */
int lg_run(const struct lg_conf *conf, struct lg_stats *st);

/* Raise RLIMIT_NOFILE's soft limit to the hard one; the new limit. */
unsigned long lg_raise_nofile(void);

/* SCHED_BATCH for this process: a load generator on the daemon's cores
 * must not preempt it at every wakeup (docs/perf.md). */
void lg_sched_batch(void);

/* Monotonic µs. */
uint64_t lg_now_us(void);

#endif
