/*
 * iotkdc-device: the device simulator built on libiotkdc-device.
 *
 *   iotkdc-device bootstrap --server URI --ep ID CREDENTIALS --state FILE
 *   iotkdc-device listen --port PORT [--address ADDR] --psk-identity ID
 *       --psk-file FILE --state FILE [--ep ID] [--server URI] [--timeout SEC]
 *   iotkdc-device register --state FILE [--lifetime N] [--deregister]
 *   iotkdc-device show --state FILE [--cert-out F]
 *   iotkdc-device load --server URI --devices N --concurrency C
 *       --prefix P --seed-file F [--timeout SEC]
 *   iotkdc-device load-manifest --devices N --prefix P --seed-file F
 *   (PSKs and seeds: --psk-file/--seed-file F, "-" standard input; the
 *   --psk/--seed HEX forms remain, visible to others in ps)
 *   iotkdc-device enroll --server URI CREDENTIALS --key-out F --cert-out F
 *   iotkdc-device renew-loop --server URI --cert F --key F --count N
 *   iotkdc-device renew-loop --state FILE [--lifetime SEC] --count N
 *   iotkdc-device rs --aud NAME --as URI --key-file F [--as-pubkey F]
 *       --port P --coaps-port P2
 *   iotkdc-device token --aud NAME --scope S (--as URI CREDENTIAL |
 *       --response-file F) [--rs URI] [--rs-coaps URI] [--do ACTION]
 *   iotkdc-device ocf-server --state FILE [--pin-file F] [--mfg-cert F
 *       --mfg-key F] [--iface IF] [--addr A] [--port P] [--sport Q] [-v]
 *   iotkdc-device ocf-get|ocf-post --state FILE --peer ADDR:PORT
 *       --peer-uuid UUID --path PATH [--value BOOL]
 *
 * Exit status 0 on success; otherwise non-zero with one line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "base/wipe.h"
#include "kdcdev_host.h"

#define PROG	"iotkdc-device"

static int verbosity;		/* -v: 1 warn, -vv: 2 info, -vvv: 3 debug */
static char last_err[256];	/* last error-level line, for the one line */

static void
log_cb(void *arg, enum kdcdev_log_level lvl, const char *msg)
{
	static const char *names[] = { "err", "warn", "info", "debug" };

	(void)arg;
	if (lvl == KDCDEV_LOG_ERR)
		snprintf(last_err, sizeof(last_err), "%s", msg);
	if (verbosity > 0 && (int)lvl <= verbosity)
		fprintf(stderr, "%s: %s: %s\n", PROG, names[lvl], msg);
}

static int
die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int
fail_r(const char *what, kdc_err r)
{
	if (last_err[0] != '\0')
		return die("%s failed: %s (%s)", what, kdc_err_str(r), last_err);
	return die("%s failed: %s", what, kdc_err_str(r));
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static int
parse_hex(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(s);

	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1 ||
		    strchr("0123456789abcdefABCDEF", s[2 * i]) == NULL ||
		    strchr("0123456789abcdefABCDEF", s[2 * i + 1]) == NULL)
			return -1;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

/* A hex secret read from a file: a 64-byte one is 128 hex digits; room
 * for blanks and a newline around them. A longer file is no hex secret. */
#define SECRET_FILE_MAX	1024

/*
 * The hex secret of --OPT HEX or of --OPT-file FILE ("-": standard input),
 * as 'iotkdc device add --psk-file' reads it: at most SECRET_FILE_MAX
 * bytes read, blanks around the hex (a final newline) ignored, the
 * buffer wiped. 1..max bytes into out (*len). One line on stderr and -1
 * on error, out wiped.
 */
static int
secret_arg(const char *cmd, const char *opt, const char *hex,
    const char *file, uint8_t *out, size_t max, size_t *len)
{
	char buf[SECRET_FILE_MAX + 1];
	const char *name;
	size_t n = 0, b0 = 0;
	FILE *f;
	int rc = -1;

	if (hex != NULL && file != NULL) {
		die("%s: --%s or --%s-file, not both", cmd, opt, opt);
		return -1;
	}
	if (file == NULL) {
		if (parse_hex(hex, out, max, len) == 0)
			return 0;
		kdc_wipe(out, max);
		die("%s: --%s must be hex, 1..%zu bytes", cmd, opt, max);
		return -1;
	}
	name = strcmp(file, "-") == 0 ? "standard input" : file;
	if (strcmp(file, "-") == 0)
		f = stdin;
	else if ((f = fopen(file, "rb")) == NULL) {
		die("%s: --%s-file %s: %s", cmd, opt, file, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t k = fread(buf + n, 1, sizeof(buf) - n, f);

		n += k;
		if (k == 0 || n == sizeof(buf))
			break;
	}
	if (ferror(f))
		die("%s: --%s-file %s: read error", cmd, opt, name);
	else if (n > SECRET_FILE_MAX)
		die("%s: --%s-file %s: larger than %d bytes", cmd, opt, name,
		    SECRET_FILE_MAX);
	else {
		while (b0 < n && strchr(" \t\r\n", buf[b0]) != NULL &&
		    buf[b0] != '\0')
			b0++;
		while (n > b0 && strchr(" \t\r\n", buf[n - 1]) != NULL &&
		    buf[n - 1] != '\0')
			n--;
		buf[n] = '\0';
		if (memchr(buf + b0, '\0', n - b0) != NULL ||
		    parse_hex(buf + b0, out, max, len) != 0) {
			kdc_wipe(out, max);
			die("%s: --%s-file %s: not one hex string of 1..%zu "
			    "bytes", cmd, opt, name, max);
		} else
			rc = 0;
	}
	if (f != stdin)
		fclose(f);
	kdc_wipe(buf, sizeof(buf));
	return rc;
}

/* ==== bootstrap ========================================================== */

static void
usage_bootstrap(FILE *f)
{
	fprintf(f,
"usage: " PROG " bootstrap --server coaps://HOST:PORT --ep ID\n"
"           (--psk-identity S (--psk-file FILE | --psk HEX)\n"
"            | --rpk-key FILE [--server-key FILE]\n"
"            | --cert FILE --key FILE [--ca FILE])\n"
"           --state FILE [--timeout SEC] [--pct CF] [-v]\n"
"\n"
"Client-initiated LwM2M 1.1 bootstrap: DTLS to the Bootstrap Server with the\n"
"factory credential, CON POST /bs?ep=ID&pct=CF, then answer the server's\n"
"Discover, Delete, Write (TLV or SenML-CBOR) and Finish. Exits 0 once Finish\n"
"was acknowledged and FILE (mode 0600, holds secrets) was written.\n"
"When the server account was written in security mode 4 (Certificate with\n"
"EST), the device then makes a P-256 key, enrolls it by EST-coaps /sen on\n"
"the bootstrap DTLS session (the factory credential), and keeps\n"
"key and certificate in the account, switched to mode 2, before writing FILE;\n"
"the key never leaves FILE.\n"
"\n"
"  --server URI        the Bootstrap Server (coaps://; coap:// without credentials)\n"
"  --ep ID             endpoint client name\n"
"  --psk-identity S    PSK identity (string) ...\n"
"  --psk-file FILE     ... and key, hex, read from FILE ('-': standard input)\n"
"  --psk HEX           ... or given here, where ps and shell history show it\n"
"                      to others: prefer --psk-file\n"
"  --rpk-key FILE      raw public key mode: our private key (PEM or DER)\n"
"  --server-key FILE   RPK: the server's public key (SPKI, PEM or DER) to pin;\n"
"                      without it the server is not authenticated (warned)\n"
"  --cert FILE         certificate mode: our certificate (PEM or DER) ...\n"
"  --key FILE          ... and its private key\n"
"  --ca FILE           certificate mode: the CA (or server certificate) that\n"
"                      authenticates the server; without it, not authenticated\n"
"  --state FILE        where to write the bootstrapped state\n"
"  --timeout SEC       overall deadline, retransmissions included (default 60)\n"
"  --pct CF            preferred content format sent as pct= (default 11542\n"
"                      TLV; 112 SenML-CBOR; -1 to omit)\n"
"  --fault-stop-at write|finish  testing: go silent at the server's first\n"
"                      Write, or at Finish (a device that dies mid-bootstrap)\n"
"  -v                  log to stderr (repeat for more)\n");
}

static void	print_cert(const char *what, unsigned n, const uint8_t *cert,
		    size_t len);
static int	bootstrapped(struct kdcdev_lwm2m *c, kdc_err r,
		    const char *state, const char *what);

static int
cmd_bootstrap(int argc, char **argv)
{
	static struct kdcdev_lwm2m c;
	static uint8_t ident[KDCDEV_IDENTITY_MAX], secret[KDCDEV_SECRET_MAX],
	    skey[KDCDEV_SERVER_KEY_MAX];
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "ep", required_argument, NULL, 'e' },
		{ "psk-identity", required_argument, NULL, 'i' },
		{ "psk", required_argument, NULL, 'k' },
		{ "psk-file", required_argument, NULL, 'P' },
		{ "rpk-key", required_argument, NULL, 'r' },
		{ "server-key", required_argument, NULL, 'S' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'K' },
		{ "ca", required_argument, NULL, 'C' },
		{ "state", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "pct", required_argument, NULL, 'p' },
		{ "fault-stop-at", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *server = NULL, *ep = NULL, *psk_id = NULL, *psk = NULL,
	    *psk_file = NULL, *rpk = NULL, *server_key = NULL, *cert = NULL,
	    *key = NULL, *ca = NULL, *state = NULL;
	unsigned long timeout = 60;
	long pct = 11542;
	size_t ilen = 0, slen = 0, klen = 0;
	enum kdcdev_mode mode;
	int ch, nmodes;
	kdc_err r;

	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 's': server = optarg; break;
		case 'e': ep = optarg; break;
		case 'i': psk_id = optarg; break;
		case 'k': psk = optarg; break;
		case 'P': psk_file = optarg; break;
		case 'r': rpk = optarg; break;
		case 'S': server_key = optarg; break;
		case 'c': cert = optarg; break;
		case 'K': key = optarg; break;
		case 'C': ca = optarg; break;
		case 'f': state = optarg; break;
		case 'v': verbosity++; break;
		case 't':
			if (parse_uint(optarg, 3600, &timeout) != 0 ||
			    timeout == 0)
				return die("bootstrap: --timeout must be "
				    "1..3600 seconds");
			break;
		case 'F':
			if (strcmp(optarg, "write") == 0)
				kdcdev_host_fault(KDCDEV_FAULT_AT_WRITE);
			else if (strcmp(optarg, "finish") == 0)
				kdcdev_host_fault(KDCDEV_FAULT_AT_FINISH);
			else
				return die("bootstrap: --fault-stop-at takes "
				    "write or finish");
			break;
		case 'p':
			if (strcmp(optarg, "-1") == 0) {
				pct = -1;
			} else {
				unsigned long v;
				if (parse_uint(optarg, 65535, &v) != 0)
					return die("bootstrap: bad --pct");
				pct = (long)v;
			}
			break;
		case 'h':
			usage_bootstrap(stdout);
			return 0;
		default:
			return die("bootstrap: bad arguments (see "
			    "'" PROG " bootstrap --help')");
		}
	}
	if (optind != argc)
		return die("bootstrap: unexpected argument '%s'", argv[optind]);
	if (server == NULL || ep == NULL || state == NULL)
		return die("bootstrap: --server, --ep and --state are required");
	nmodes = (psk_id != NULL || psk != NULL || psk_file != NULL) +
	    (rpk != NULL) +
	    (cert != NULL || key != NULL);
	if (nmodes > 1)
		return die("bootstrap: give one of --psk-identity/--psk, "
		    "--rpk-key, --cert/--key");
	kdcdev_host_init(verbosity);
	if (kdcdev_init(&c, ep) != KDC_OK)
		return die("bootstrap: --ep must be 1..%d bytes",
		    KDCDEV_EP_MAX - 1);
	kdcdev_set_log(&c, log_cb, NULL);

	if (psk_id != NULL || psk != NULL || psk_file != NULL) {
		mode = KDCDEV_MODE_PSK;
		if (psk_id == NULL || (psk == NULL && psk_file == NULL))
			return die("bootstrap: --psk-identity and --psk-file "
			    "(or --psk) go together");
		if ((ilen = strlen(psk_id)) == 0 || ilen > sizeof(ident))
			return die("bootstrap: --psk-identity must be 1..%zu "
			    "bytes", sizeof(ident));
		memcpy(ident, psk_id, ilen);
		if (secret_arg("bootstrap", "psk", psk, psk_file, secret,
		    sizeof(secret), &slen) != 0)
			return 1;
	} else if (rpk != NULL) {
		mode = KDCDEV_MODE_RPK;
		ilen = sizeof(ident);
		slen = sizeof(secret);
		if ((r = kdcdev_host_load_key(rpk, secret, &slen, ident,
		    &ilen)) != KDC_OK)
			return die("bootstrap: cannot load key %s: %s", rpk,
			    kdc_err_str(r));
		if (server_key != NULL) {
			klen = sizeof(skey);
			if ((r = kdcdev_host_load_pubkey(server_key, skey,
			    &klen)) != KDC_OK)
				return die("bootstrap: cannot load server key "
				    "%s: %s", server_key, kdc_err_str(r));
		}
	} else if (cert != NULL || key != NULL) {
		uint8_t spki[KDCDEV_IDENTITY_MAX];
		size_t spki_len = sizeof(spki);
		mode = KDCDEV_MODE_CERT;
		if (cert == NULL || key == NULL)
			return die("bootstrap: --cert and --key go together");
		ilen = sizeof(ident);
		slen = sizeof(secret);
		if ((r = kdcdev_host_load_cert(cert, ident, &ilen)) != KDC_OK)
			return die("bootstrap: cannot load certificate %s: %s",
			    cert, kdc_err_str(r));
		if ((r = kdcdev_host_load_key(key, secret, &slen, spki,
		    &spki_len)) != KDC_OK)
			return die("bootstrap: cannot load key %s: %s", key,
			    kdc_err_str(r));
		if (ca != NULL) {
			klen = sizeof(skey);
			if ((r = kdcdev_host_load_cert(ca, skey, &klen)) !=
			    KDC_OK)
				return die("bootstrap: cannot load CA %s: %s",
				    ca, kdc_err_str(r));
		}
	} else {
		mode = KDCDEV_MODE_NOSEC;
		if (strncmp(server, "coap://", 7) != 0)
			return die("bootstrap: give credentials (--psk-identity"
			    "/--psk, --rpk-key or --cert/--key) for %s", server);
	}
	if ((r = kdcdev_set_bootstrap_account(&c, 0, server, mode, ident, ilen,
	    skey, klen, secret, slen)) != KDC_OK) {
		kdc_wipe(secret, sizeof(secret));
		return die("bootstrap: bad bootstrap account: %s",
		    kdc_err_str(r));
	}
	kdc_wipe(secret, sizeof(secret));

	/* mode 4: the host port enrolls by EST on the bootstrap session */
	r = kdcdev_host_bootstrap(&c, (int32_t)pct, (unsigned)timeout * 1000u);
	return bootstrapped(&c, r, state, "bootstrap");
}

/*
 * The end both bootstraps share (client-initiated and listening): on
 * success write the state (0600, atomically) and print the account;
 * the context is wiped either way. Returns the exit status.
 */
static int
bootstrapped(struct kdcdev_lwm2m *c, kdc_err r, const char *state,
    const char *what)
{
	size_t si, vi;

	if (r == KDC_OK && c->bs_enrolled &&
	    kdcdev_dm_account(c, &si, &vi) == KDC_OK)
		print_cert("enrolled", 1, c->sec[si].ident,
		    c->sec[si].ident_len);
	if (r == KDC_OK)
		r = kdcdev_host_state_save(c, state);
	if (r != KDC_OK) {
		kdcdev_wipe(c);
		return fail_r(what, r);
	}
	if (kdcdev_dm_account(c, &si, &vi) == KDC_OK)
		printf("bootstrapped ep=%s server=%s ssid=%d mode=%u\n",
		    c->ep, c->sec[si].uri, c->sec[si].ssid, c->sec[si].mode);
	kdcdev_wipe(c);
	return 0;
}

/* ==== listen ============================================================= */

static void
usage_listen(FILE *f)
{
	fprintf(f,
"usage: " PROG " listen --port PORT [--address ADDR] --psk-identity S\n"
"           --psk-file FILE --state FILE [--ep ID] [--server URI]\n"
"           [--timeout SEC] [-v]\n"
"\n"
"Server-initiated LwM2M 1.1 bootstrap: listen for DTLS 1.2 on udp ADDR:PORT\n"
"as the server, accepting only the factory PSK (identity S and its key), and\n"
"answer the Bootstrap Server's Discover, Delete, Write (TLV or SenML-CBOR,\n"
"Block1) and Finish exactly as 'bootstrap' does after its POST /bs. Prints\n"
"\"listening on ADDR:PORT\" on stderr once bound. Exits 0 once Finish was\n"
"acknowledged and FILE (mode 0600, holds secrets; what 'register' reads)\n"
"was written. Exits non-zero, FILE untouched, at the deadline, when a client\n"
"offers another PSK identity or a wrong key, or when a request is refused\n"
"(answered 4.xx/5.xx). Security mode 4 (EST) is not supported here.\n"
"\n"
"  --port PORT         udp port to listen on (1..65535)\n"
"  --address ADDR      numeric IPv4 or IPv6 address (default 127.0.0.1)\n"
"  --psk-identity S    the factory PSK identity (string) the server uses ...\n"
"  --psk-file FILE     ... and key, hex, read from FILE ('-': standard input)\n"
"  --state FILE        where to write the bootstrapped state\n"
"  --ep ID             endpoint client name (default: the PSK identity)\n"
"  --server URI        the Bootstrap Server's URI, kept in the bootstrap\n"
"                      account (/0/x/0; default empty)\n"
"  --timeout SEC       overall deadline from the start (default 60)\n"
"  -v                  log to stderr (repeat for more)\n");
}

static void
listening(void *arg, const char *where)
{
	(void)arg;
	fprintf(stderr, "listening on %s\n", where);
	fflush(stderr);
}

static int
cmd_listen(int argc, char **argv)
{
	static struct kdcdev_lwm2m c;
	static uint8_t secret[KDCDEV_SECRET_MAX];
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "address", required_argument, NULL, 'a' },
		{ "psk-identity", required_argument, NULL, 'i' },
		{ "psk-file", required_argument, NULL, 'P' },
		{ "state", required_argument, NULL, 'f' },
		{ "ep", required_argument, NULL, 'e' },
		{ "server", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *addr = "127.0.0.1", *psk_id = NULL, *psk_file = NULL,
	    *state = NULL, *ep = NULL, *server = "";
	unsigned long port = 0, timeout = 60;
	size_t ilen, slen = 0;
	int ch;
	kdc_err r;

	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'i': psk_id = optarg; break;
		case 'P': psk_file = optarg; break;
		case 'f': state = optarg; break;
		case 'e': ep = optarg; break;
		case 's': server = optarg; break;
		case 'v': verbosity++; break;
		case 'p':
			if (parse_uint(optarg, 65535, &port) != 0 || port == 0)
				return die("listen: --port must be 1..65535");
			break;
		case 't':
			if (parse_uint(optarg, 3600, &timeout) != 0 ||
			    timeout == 0)
				return die("listen: --timeout must be "
				    "1..3600 seconds");
			break;
		case 'h':
			usage_listen(stdout);
			return 0;
		default:
			return die("listen: bad arguments (see "
			    "'" PROG " listen --help')");
		}
	}
	if (optind != argc)
		return die("listen: unexpected argument '%s'", argv[optind]);
	if (port == 0 || psk_id == NULL || psk_file == NULL || state == NULL)
		return die("listen: --port, --psk-identity, --psk-file and "
		    "--state are required");
	if ((ilen = strlen(psk_id)) == 0 || ilen > KDCDEV_IDENTITY_MAX)
		return die("listen: --psk-identity must be 1..%d bytes",
		    KDCDEV_IDENTITY_MAX);
	kdcdev_host_init(verbosity);
	if (kdcdev_init(&c, ep != NULL ? ep : psk_id) != KDC_OK)
		return die("listen: the endpoint name (--ep, else the PSK "
		    "identity) must be 1..%d bytes", KDCDEV_EP_MAX - 1);
	kdcdev_set_log(&c, log_cb, NULL);
	if (secret_arg("listen", "psk", NULL, psk_file, secret,
	    sizeof(secret), &slen) != 0)
		return 1;
	r = kdcdev_set_bootstrap_account(&c, 0, server, KDCDEV_MODE_PSK,
	    (const uint8_t *)psk_id, ilen, NULL, 0, secret, slen);
	kdc_wipe(secret, sizeof(secret));
	if (r != KDC_OK) {
		kdcdev_wipe(&c);
		return die("listen: bad bootstrap account: %s",
		    kdc_err_str(r));
	}
	r = kdcdev_host_listen(&c, addr, (uint16_t)port, listening, NULL,
	    (unsigned)timeout * 1000u);
	return bootstrapped(&c, r, state, "listen");
}

/* ==== register =========================================================== */

static void
usage_register(FILE *f)
{
	fprintf(f,
"usage: " PROG " register --state FILE [--lifetime N] [--deregister]\n"
"           [--timeout SEC] [-v]\n"
"\n"
"Register (CON POST /rd?ep=..&lt=..&lwm2m=1.1&b=U) with the LwM2M server the\n"
"bootstrap wrote into FILE, over DTLS with that account's credentials (PSK,\n"
"RPK or certificate; the server is authenticated by /0/x/4). Prints the\n"
"registration location (e.g. rd/5a3f) and stores it in FILE.\n"
"\n"
"  --state FILE      state written by '" PROG " bootstrap'\n"
"  --lifetime N      lt= in seconds (default: /1/x/1 from the bootstrap)\n"
"  --deregister      then De-register (DELETE /rd/ID) on the same session\n"
"  --timeout SEC     overall deadline (default 60)\n"
"  -v                log to stderr (repeat for more)\n");
}

static int
cmd_register(int argc, char **argv)
{
	static struct kdcdev_lwm2m c;
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 'f' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "deregister", no_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL;
	unsigned long lifetime = 0, timeout = 60;
	bool dereg = false;
	char loc[KDCDEV_LOCATION_MAX];
	int ch;
	kdc_err r;

	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': state = optarg; break;
		case 'd': dereg = true; break;
		case 'v': verbosity++; break;
		case 'l':
			if (parse_uint(optarg, UINT32_MAX, &lifetime) != 0 ||
			    lifetime == 0)
				return die("register: bad --lifetime");
			break;
		case 't':
			if (parse_uint(optarg, 3600, &timeout) != 0 ||
			    timeout == 0)
				return die("register: --timeout must be "
				    "1..3600 seconds");
			break;
		case 'h':
			usage_register(stdout);
			return 0;
		default:
			return die("register: bad arguments (see "
			    "'" PROG " register --help')");
		}
	}
	if (optind != argc)
		return die("register: unexpected argument '%s'", argv[optind]);
	if (state == NULL)
		return die("register: --state is required");
	kdcdev_host_init(verbosity);
	memset(&c, 0, sizeof(c));
	kdcdev_set_log(&c, log_cb, NULL);
	if ((r = kdcdev_host_state_load(&c, state)) != KDC_OK)
		return die("register: cannot load state %s: %s", state,
		    kdc_err_str(r));
	if (!c.bs_finished)
		return die("register: %s holds no finished bootstrap", state);
	r = kdcdev_host_register(&c, (uint32_t)lifetime, dereg, loc,
	    sizeof(loc), (unsigned)timeout * 1000u);
	if (loc[0] != '\0')
		printf("registered location=/%s\n", loc);
	if (r == KDC_OK && dereg)
		printf("deregistered\n");
	if (loc[0] != '\0') {
		/* keep the location (or its removal) even after a later
		 * failure; the sticky error is not part of the state */
		kdc_err r2 = kdcdev_host_state_save(&c, state);
		if (r == KDC_OK)
			r = r2;
	}
	if (r != KDC_OK) {
		kdcdev_wipe(&c);
		return fail_r(dereg && loc[0] != '\0' ? "deregister" : "register", r);
	}
	kdcdev_wipe(&c);
	return 0;
}

/* ==== load ============================================================== */

/*
 * Many simulated devices for benchmarks. Device i (0 <= i < N) is
 * ep "urn:dev:load:<P><i>", PSK identity "<P><i>", PSK = the first 16
 * bytes of HMAC-SHA256(seed, "<P><i>"): `load-manifest` prints the same
 * devices as JSON Lines for `iotkdc device import`.
 */
#define LOAD_EP_PREFIX	"urn:dev:load:"
#define LOAD_PSK_LEN	16
#define LOAD_SEED_MAX	64
#define LOAD_DEV_MAX	10000000ul
#define LOAD_CONC_MAX	1024ul

struct load_args {
	const char	*server;
	unsigned long	 devices, concurrency, timeout;
	const char	*prefix;
	uint8_t		 seed[LOAD_SEED_MAX];
	size_t		 seed_len;
};

static void
usage_load(FILE *f)
{
	fprintf(f,
"usage: " PROG " load --server coaps://HOST:PORT --devices N --concurrency C\n"
"           --prefix P (--seed-file FILE | --seed HEX) [--timeout SEC] [-v]\n"
"       " PROG " load-manifest --devices N --prefix P\n"
"           (--seed-file FILE | --seed HEX)\n"
"\n"
"load: N full PSK bootstraps (DTLS handshake, POST /bs, Discover/Delete/\n"
"Write/Finish answered), C in flight at once (C worker processes, each\n"
"bootstrapping its share one after another), nothing written to disk.\n"
"Prints one line\n"
"  bootstraps=N ok=K failed=F seconds=S rate=R/s\n"
"(S is the wall time from the first request to the last answer, R = K / S)\n"
"then the latency of the successful ones:\n"
"  latency_ms p50=.. p90=.. p99=.. max=..\n"
"and the CPU the workers used (user + system) per bootstrap:\n"
"  client_cpu_us=..\n"
"Exits 0 when every bootstrap succeeded.\n"
"\n"
"load-manifest: print the same N devices as JSON Lines for\n"
"'iotkdc device import'.\n"
"\n"
"Device i (0..N-1): ep urn:dev:load:<P><i>, PSK identity <P><i>, PSK = the\n"
"first 16 bytes of HMAC-SHA256(seed, \"<P><i>\").\n"
"\n"
"  --server URI        the Bootstrap Server (coaps://)\n"
"  --devices N         number of devices (1..%lu)\n"
"  --concurrency C     bootstraps in flight (1..%lu, default 8; at most N)\n"
"  --prefix P          identity prefix: letters, digits, '.', '_', '-'\n"
"                      (default \"d\")\n"
"  --seed-file FILE    the secret all PSKs derive from (1..%d bytes), hex,\n"
"                      read from FILE ('-': standard input)\n"
"  --seed HEX          ... or given here, where ps and shell history show it\n"
"                      to others: prefer --seed-file\n"
"  --timeout SEC       deadline of each bootstrap (default 30)\n"
"  -v                  log to stderr (repeat for more)\n",
	    LOAD_DEV_MAX, LOAD_CONC_MAX, LOAD_SEED_MAX);
}

/* Parse the options of load (server != NULL) or load-manifest. */
static int
load_parse(int argc, char **argv, bool manifest, struct load_args *a)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "devices", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'S' },
		{ "seed-file", required_argument, NULL, 'F' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = manifest ? "load-manifest" : "load";
	const char *seed = NULL, *seed_file = NULL;
	int ch;

	memset(a, 0, sizeof(*a));
	a->concurrency = 8;
	a->timeout = 30;
	a->prefix = "d";
	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 's': a->server = optarg; break;
		case 'p': a->prefix = optarg; break;
		case 'S': seed = optarg; break;
		case 'F': seed_file = optarg; break;
		case 'v': verbosity++; break;
		case 'n':
			if (parse_uint(optarg, LOAD_DEV_MAX, &a->devices) != 0 ||
			    a->devices == 0)
				return die("%s: --devices must be 1..%lu", cmd,
				    LOAD_DEV_MAX);
			break;
		case 'c':
			if (parse_uint(optarg, LOAD_CONC_MAX,
			    &a->concurrency) != 0 || a->concurrency == 0)
				return die("%s: --concurrency must be 1..%lu",
				    cmd, LOAD_CONC_MAX);
			break;
		case 't':
			if (parse_uint(optarg, 3600, &a->timeout) != 0 ||
			    a->timeout == 0)
				return die("%s: --timeout must be 1..3600 "
				    "seconds", cmd);
			break;
		case 'h':
			usage_load(stdout);
			return -1;
		default:
			return die("%s: bad arguments (see '" PROG " load "
			    "--help')", cmd);
		}
	}
	if (optind != argc)
		return die("%s: unexpected argument '%s'", cmd, argv[optind]);
	if (a->devices == 0 || (seed == NULL && seed_file == NULL) ||
	    (!manifest && a->server == NULL))
		return die("%s: %s--devices and --seed-file (or --seed) are "
		    "required", cmd, manifest ? "" : "--server, ");
	if (secret_arg(cmd, "seed", seed, seed_file, a->seed,
	    sizeof(a->seed), &a->seed_len) != 0)
		return 1;
	/* the prefix goes into JSON and ep= unescaped: keep it plain */
	if (strlen(a->prefix) > 32 ||
	    strspn(a->prefix, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(a->prefix))
		return die("%s: --prefix must be at most 32 of [A-Za-z0-9._-]",
		    cmd);
	return 0;
}

/* Device i's identity and PSK. */
static int
load_device(const struct load_args *a, unsigned long i, char *ident,
    size_t ident_cap, uint8_t psk[LOAD_PSK_LEN])
{
	uint8_t mac[32];
	int n = snprintf(ident, ident_cap, "%s%lu", a->prefix, i);

	if (n < 0 || (size_t)n >= ident_cap ||
	    gnutls_hmac_fast(GNUTLS_MAC_SHA256, a->seed, a->seed_len, ident,
	    (size_t)n, mac) < 0)
		return -1;
	memcpy(psk, mac, LOAD_PSK_LEN);
	kdc_wipe(mac, sizeof(mac));
	return 0;
}

static int
cmd_load_manifest(int argc, char **argv)
{
	struct load_args a;
	char ident[64];
	uint8_t psk[LOAD_PSK_LEN];
	int r;

	if ((r = load_parse(argc, argv, true, &a)) != 0)
		return r < 0 ? 0 : r;
	for (unsigned long i = 0; i < a.devices; i++) {
		if (load_device(&a, i, ident, sizeof(ident), psk) != 0)
			return die("load-manifest: cannot derive device %lu", i);
		printf("{\"id\":\"" LOAD_EP_PREFIX "%s\",\"psk_identity\":\"%s\","
		    "\"psk\":\"", ident, ident);
		for (size_t k = 0; k < sizeof(psk); k++)
			printf("%02x", psk[k]);
		printf("\"}\n");
	}
	kdc_wipe(psk, sizeof(psk));
	kdc_wipe(a.seed, sizeof(a.seed));
	if (fflush(stdout) != 0 || ferror(stdout))
		return die("load-manifest: cannot write: %s", strerror(errno));
	return 0;
}

/* What the workers share with the parent (an anonymous shared mapping):
 * per device its latency in µs and its result; per worker its end time. */
struct load_shared {
	uint64_t	*end_us;	/* [concurrency] */
	uint32_t	*lat_us;	/* [devices] */
	int16_t		*res;		/* [devices]: kdc_err, 1 = not run */
};

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One worker: devices w, w + C, w + 2C, ... one after another. */
static void
load_worker(const struct load_args *a, unsigned long w, int go_fd,
    struct load_shared *sh)
{
	static struct kdcdev_lwm2m c;
	char ident[64], ep[KDCDEV_EP_MAX];
	uint8_t psk[LOAD_PSK_LEN];
	char go;

	kdcdev_host_init(verbosity);
	/* start together: the parent closes the pipe once all are forked */
	while (read(go_fd, &go, 1) < 0 && errno == EINTR)
		;
	close(go_fd);
	for (unsigned long i = w; i < a->devices; i += a->concurrency) {
		uint64_t t0 = mono_us();
		kdc_err r;

		if (load_device(a, i, ident, sizeof(ident), psk) != 0) {
			sh->res[i] = (int16_t)KDC_ERR_INVALID_ARG;
			continue;
		}
		snprintf(ep, sizeof(ep), LOAD_EP_PREFIX "%s", ident);
		if ((r = kdcdev_init(&c, ep)) == KDC_OK) {
			kdcdev_set_log(&c, log_cb, NULL);
			r = kdcdev_set_bootstrap_account(&c, 0, a->server,
			    KDCDEV_MODE_PSK, (const uint8_t *)ident,
			    strlen(ident), NULL, 0, psk, sizeof(psk));
		}
		if (r == KDC_OK)
			r = kdcdev_host_bootstrap(&c, 11542,
			    (unsigned)a->timeout * 1000u);
		kdcdev_wipe(&c);
		kdc_wipe(psk, sizeof(psk));
		sh->lat_us[i] = (uint32_t)(mono_us() - t0 > UINT32_MAX ?
		    UINT32_MAX : mono_us() - t0);
		sh->res[i] = (int16_t)r;
		if (r != KDC_OK && verbosity > 0)
			fprintf(stderr, "%s: load: %s: %s%s%s\n", PROG, ep,
			    kdc_err_str(r), last_err[0] != '\0' ? ": " : "",
			    last_err);
		last_err[0] = '\0';
	}
	sh->end_us[w] = mono_us();
}

static int
cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static double
pct_ms(const uint32_t *sorted, size_t n, double q)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(q * (double)(n - 1) + 0.5);
	return (double)sorted[k] / 1000.0;
}

static int
cmd_load(int argc, char **argv)
{
	struct load_args a;
	struct load_shared sh;
	size_t map_len;
	void *map;
	pid_t *pids;
	int go[2], r, status;
	unsigned long ok = 0, failed = 0, crashed = 0, nerr[128];
	uint64_t t0, t1 = 0;
	uint32_t *lat;

	if ((r = load_parse(argc, argv, false, &a)) != 0)
		return r < 0 ? 0 : r;
	if (strncmp(a.server, "coaps://", 8) != 0)
		return die("load: --server must be coaps:// (PSK)");
	if (a.concurrency > a.devices)
		a.concurrency = a.devices;
	{	/* is the URI acceptable at all? (fail once, not N times) */
		static struct kdcdev_lwm2m c;
		uint8_t k[LOAD_PSK_LEN] = { 0 };
		if (kdcdev_init(&c, LOAD_EP_PREFIX "x") != KDC_OK ||
		    kdcdev_set_bootstrap_account(&c, 0, a.server,
		    KDCDEV_MODE_PSK, (const uint8_t *)"x", 1, NULL, 0, k,
		    sizeof(k)) != KDC_OK)
			return die("load: bad --server '%s'", a.server);
		kdcdev_wipe(&c);
	}
	map_len = a.concurrency * sizeof(uint64_t) +
	    a.devices * (sizeof(uint32_t) + sizeof(int16_t));
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return die("load: mmap: %s", strerror(errno));
	sh.end_us = map;
	sh.lat_us = (uint32_t *)(sh.end_us + a.concurrency);
	sh.res = (int16_t *)(sh.lat_us + a.devices);
	for (unsigned long i = 0; i < a.devices; i++)
		sh.res[i] = 1;		/* not run (a worker died) */
	if ((pids = calloc(a.concurrency, sizeof(*pids))) == NULL ||
	    pipe(go) != 0)
		return die("load: %s", strerror(errno));
	fflush(NULL);
	for (unsigned long w = 0; w < a.concurrency; w++) {
		if ((pids[w] = fork()) < 0) {
			int e = errno;
			close(go[1]);	/* the forked ones run; then fail */
			for (unsigned long k = 0; k < w; k++)
				(void)waitpid(pids[k], NULL, 0);
			return die("load: fork: %s", strerror(e));
		}
		if (pids[w] == 0) {
			close(go[1]);
			load_worker(&a, w, go[0], &sh);
			fflush(NULL);
			_exit(0);
		}
	}
	close(go[0]);
	t0 = mono_us();
	close(go[1]);		/* go */
	for (unsigned long w = 0; w < a.concurrency; w++) {
		while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			crashed++;
		else if (sh.end_us[w] > t1)
			t1 = sh.end_us[w];
	}
	if (t1 <= t0)
		t1 = mono_us();
	free(pids);
	kdc_wipe(a.seed, sizeof(a.seed));

	memset(nerr, 0, sizeof(nerr));
	if ((lat = calloc(a.devices, sizeof(*lat))) == NULL)
		return die("load: out of memory");
	for (unsigned long i = 0; i < a.devices; i++) {
		if (sh.res[i] == KDC_OK) {
			lat[ok++] = sh.lat_us[i];
			continue;
		}
		failed++;
		nerr[sh.res[i] < 0 && -sh.res[i] < 127 ? -sh.res[i] :
		    sh.res[i] == 1 ? 0 : 127]++;
	}
	qsort(lat, ok, sizeof(*lat), cmp_u32);
	{
		double secs = (double)(t1 - t0) / 1e6;
		printf("bootstraps=%lu ok=%lu failed=%lu seconds=%.3f "
		    "rate=%.0f/s\n", a.devices, ok, failed, secs,
		    secs > 0 ? (double)ok / secs : 0.0);
		printf("latency_ms p50=%.1f p90=%.1f p99=%.1f max=%.1f\n",
		    pct_ms(lat, ok, 0.50), pct_ms(lat, ok, 0.90),
		    pct_ms(lat, ok, 0.99), ok > 0 ? (double)lat[ok - 1] /
		    1000.0 : 0.0);
	}
	{
		struct rusage ru;
		if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
			printf("client_cpu_us=%.1f\n", ((double)ru.ru_utime.tv_sec +
			    (double)ru.ru_stime.tv_sec) * 1e6 /
			    (double)a.devices + ((double)ru.ru_utime.tv_usec +
			    (double)ru.ru_stime.tv_usec) / (double)a.devices);
	}
	free(lat);
	(void)munmap(map, map_len);
	if (failed == 0 && crashed == 0)
		return 0;
	fprintf(stderr, "%s: load: %lu of %lu bootstraps failed:", PROG,
	    failed, a.devices);
	for (int k = 1; k < 127; k++)
		if (nerr[k] > 0)
			fprintf(stderr, " %s %lu", kdc_err_str((kdc_err)-k),
			    nerr[k]);
	if (nerr[0] > 0 || crashed > 0)
		fprintf(stderr, " not run %lu (%lu workers died)", nerr[0],
		    crashed);
	if (nerr[127] > 0)
		fprintf(stderr, " other %lu", nerr[127]);
	fputc('\n', stderr);
	return 1;
}

/* ==== enroll, renew-loop ================================================= */

#define EST_CERT_MAX	4096

static void
wipe_sec(struct kdcdev_security *sec)
{
	kdc_wipe(sec, sizeof(*sec));
}

/* The account an EST request goes over: the KDC endpoint and one
 * credential (PSK, RPK key, or certificate + key); --ca (CERT) or
 * --server-key (RPK) authenticates the KDC. */
struct est_args {
	const char	*server, *psk_id, *psk, *psk_file, *rpk, *server_key,
			*cert, *key, *ca;
};

static int
est_account(const char *cmd, const struct est_args *a,
    struct kdcdev_security *sec)
{
	size_t n;
	kdc_err r;

	memset(sec, 0, sizeof(*sec));
	sec->used = 1;
	sec->ssid = -1;
	if (a->server == NULL)
		return die("%s: --server is required", cmd);
	if ((n = strlen(a->server)) >= sizeof(sec->uri) ||
	    strncmp(a->server, "coaps://", 8) != 0)
		return die("%s: --server must be coaps://HOST:PORT (under %zu "
		    "bytes)", cmd, sizeof(sec->uri));
	memcpy(sec->uri, a->server, n + 1);
	if ((a->psk_id != NULL || a->psk != NULL || a->psk_file != NULL) +
	    (a->rpk != NULL) + (a->cert != NULL || a->key != NULL) != 1)
		return die("%s: give one of --psk-identity/--psk, --rpk-key, "
		    "--cert/--key", cmd);
	if (a->psk_id != NULL || a->psk != NULL || a->psk_file != NULL) {
		if (a->psk_id == NULL ||
		    (a->psk == NULL && a->psk_file == NULL))
			return die("%s: --psk-identity and --psk-file (or "
			    "--psk) go together", cmd);
		sec->mode = KDCDEV_MODE_PSK;
		if ((n = strlen(a->psk_id)) == 0 || n > sizeof(sec->ident))
			return die("%s: --psk-identity must be 1..%zu bytes",
			    cmd, sizeof(sec->ident));
		memcpy(sec->ident, a->psk_id, n);
		sec->ident_len = (uint16_t)n;
		if (secret_arg(cmd, "psk", a->psk, a->psk_file, sec->secret,
		    sizeof(sec->secret), &n) != 0)
			return 1;
		sec->secret_len = (uint16_t)n;
		return 0;
	}
	if (a->rpk != NULL) {
		size_t il = sizeof(sec->ident), sl = sizeof(sec->secret);
		sec->mode = KDCDEV_MODE_RPK;
		if ((r = kdcdev_host_load_key(a->rpk, sec->secret, &sl,
		    sec->ident, &il)) != KDC_OK)
			return die("%s: cannot load key %s: %s", cmd, a->rpk,
			    kdc_err_str(r));
		sec->ident_len = (uint16_t)il;
		sec->secret_len = (uint16_t)sl;
		if (a->server_key != NULL) {
			n = sizeof(sec->server_key);
			if ((r = kdcdev_host_load_pubkey(a->server_key,
			    sec->server_key, &n)) != KDC_OK)
				return die("%s: cannot load server key %s: %s",
				    cmd, a->server_key, kdc_err_str(r));
			sec->server_key_len = (uint16_t)n;
		}
		return 0;
	}
	{
		uint8_t spki[KDCDEV_IDENTITY_MAX];
		size_t il = sizeof(sec->ident), sl = sizeof(sec->secret),
		    pl = sizeof(spki);
		if (a->cert == NULL || a->key == NULL)
			return die("%s: --cert and --key go together", cmd);
		sec->mode = KDCDEV_MODE_CERT;
		if ((r = kdcdev_host_load_cert(a->cert, sec->ident, &il)) !=
		    KDC_OK)
			return die("%s: cannot load certificate %s: %s", cmd,
			    a->cert, kdc_err_str(r));
		if ((r = kdcdev_host_load_key(a->key, sec->secret, &sl, spki,
		    &pl)) != KDC_OK)
			return die("%s: cannot load key %s: %s", cmd, a->key,
			    kdc_err_str(r));
		sec->ident_len = (uint16_t)il;
		sec->secret_len = (uint16_t)sl;
		if (a->ca != NULL) {
			n = sizeof(sec->server_key);
			if ((r = kdcdev_host_load_cert(a->ca, sec->server_key,
			    &n)) != KDC_OK)
				return die("%s: cannot load CA %s: %s", cmd,
				    a->ca, kdc_err_str(r));
			sec->server_key_len = (uint16_t)n;
		}
	}
	return 0;
}

/* Enroll (or re-enroll) once and write key, then certificate. */
static kdc_err
est_once(struct kdcdev_lwm2m *c, const struct kdcdev_security *sec,
    const char *ep, bool re, const char *key_out, const char *cert_out,
    unsigned timeout_ms, uint8_t *cert, size_t *cert_len)
{
	uint8_t key[KDCDEV_SECRET_MAX];
	size_t key_len = sizeof(key);
	kdc_err r;

	*cert_len = EST_CERT_MAX;
	last_err[0] = '\0';
	r = kdcdev_host_enroll(c, sec, ep, re, cert, cert_len, key, &key_len,
	    NULL, timeout_ms);
	/* the new pair replaces the old one only once the KDC answered
	 * with the certificate; key first, so a crash in between leaves
	 * a certificate whose key is gone, not a key without one */
	if (r == KDC_OK)
		r = kdcdev_host_write_pem(key_out, "PRIVATE KEY", key, key_len,
		    true);
	if (r == KDC_OK)
		r = kdcdev_host_write_pem(cert_out, "CERTIFICATE", cert,
		    *cert_len, false);
	kdc_wipe(key, sizeof(key));
	return r;
}

static void
print_cert(const char *what, unsigned n, const uint8_t *cert, size_t len)
{
	char serial[130], iso[32];
	int64_t nb = 0, na = 0;
	time_t t;
	struct tm tm;

	if (kdcdev_host_cert_info(cert, len, &nb, &na, serial, sizeof(serial))
	    != KDC_OK) {
		printf("%s %u (certificate unreadable)\n", what, n);
		return;
	}
	t = (time_t)na;
	iso[0] = '\0';
	if (gmtime_r(&t, &tm) != NULL)
		(void)strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s %u serial=%s not_before=%lld not_after=%lld (%s)\n", what,
	    n, serial, (long long)nb, (long long)na, iso);
	fflush(stdout);
}

static void
usage_enroll(FILE *f)
{
	fprintf(f,
"usage: " PROG " enroll --server coaps://HOST:PORT\n"
"           (--psk-identity S (--psk-file FILE | --psk HEX)\n"
"            | --rpk-key FILE [--server-key FILE]\n"
"            | --cert FILE --key FILE [--ca FILE])\n"
"           --key-out FILE --cert-out FILE [--renew] [--ep ID]\n"
"           [--timeout SEC] [-v]\n"
"\n"
"EST-coaps (RFC 9148) enrollment: generate a fresh P-256 key here, build a\n"
"PKCS#10 CSR for it (subject CN = the endpoint), CON POST it to\n"
"/.well-known/est/sen (Content-Format 286, Accept 287; Block1 when large)\n"
"over DTLS with the manufacturer credential, and write the new key and the\n"
"DER certificate the KDC answers (2.04) as PEM. The key never leaves the\n"
"device. With --renew: POST /.well-known/est/sren over the current\n"
"operational certificate (--cert/--key) instead.\n"
"\n"
"  --server URI        the KDC endpoint (coaps://HOST:PORT, udp [coap] port)\n"
"  --psk-identity S    manufacturer PSK identity (string) ...\n"
"  --psk-file FILE     ... and key, hex, read from FILE ('-': standard input)\n"
"  --psk HEX           ... or given here, where ps and shell history show it\n"
"                      to others: prefer --psk-file\n"
"  --rpk-key FILE      manufacturer raw public key: its private key\n"
"  --server-key FILE   RPK: the KDC's public key to pin (else not checked)\n"
"  --cert FILE         certificate (PEM or DER) ...\n"
"  --key FILE          ... and its private key\n"
"  --ca FILE           certificate mode: the CA that authenticates the KDC\n"
"                      (e.g. 'iotkdc ca export'); without it, not checked\n"
"  --renew             re-enroll (/sren) with --cert/--key, the current\n"
"                      operational certificate\n"
"  --key-out FILE      where the new private key goes (PEM, mode 0600)\n"
"  --cert-out FILE     where the certificate goes (PEM); may be --cert\n"
"  --ep ID             subject CN of the CSR (default: the --psk-identity, or\n"
"                      the CN of --cert; required with --rpk-key)\n"
"  --timeout SEC       overall deadline (default 60)\n"
"  -v                  log to stderr (repeat for more)\n"
"\n"
"Prints \"enrolled 1 serial=HEX not_before=T not_after=T (ISO)\".\n");
}

/* The subject CN of a certificate file, for --ep defaults. */
static int
cert_cn(const uint8_t *der, size_t len, char *cn, size_t cap)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)der, (unsigned)len };
	size_t n = cap;
	int rc = -1;

	if (gnutls_x509_crt_init(&crt) >= 0 &&
	    gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
	    0, 0, cn, &n) >= 0 && n > 0)
		rc = 0;
	gnutls_x509_crt_deinit(crt);
	return rc;
}

static int
cmd_enroll(int argc, char **argv)
{
	static struct kdcdev_lwm2m c;
	static struct kdcdev_security sec;
	static uint8_t cert[EST_CERT_MAX];
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "ep", required_argument, NULL, 'e' },
		{ "psk-identity", required_argument, NULL, 'i' },
		{ "psk", required_argument, NULL, 'k' },
		{ "psk-file", required_argument, NULL, 'P' },
		{ "rpk-key", required_argument, NULL, 'r' },
		{ "server-key", required_argument, NULL, 'S' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'K' },
		{ "ca", required_argument, NULL, 'C' },
		{ "renew", no_argument, NULL, 'R' },
		{ "key-out", required_argument, NULL, 'o' },
		{ "cert-out", required_argument, NULL, 'O' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_args a;
	const char *ep = NULL, *key_out = NULL, *cert_out = NULL;
	char cn[KDCDEV_EP_MAX];
	unsigned long timeout = 60;
	size_t cert_len;
	bool renew = false;
	int ch;
	kdc_err r;

	memset(&a, 0, sizeof(a));
	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 's': a.server = optarg; break;
		case 'e': ep = optarg; break;
		case 'i': a.psk_id = optarg; break;
		case 'k': a.psk = optarg; break;
		case 'P': a.psk_file = optarg; break;
		case 'r': a.rpk = optarg; break;
		case 'S': a.server_key = optarg; break;
		case 'c': a.cert = optarg; break;
		case 'K': a.key = optarg; break;
		case 'C': a.ca = optarg; break;
		case 'R': renew = true; break;
		case 'o': key_out = optarg; break;
		case 'O': cert_out = optarg; break;
		case 'v': verbosity++; break;
		case 't':
			if (parse_uint(optarg, 3600, &timeout) != 0 ||
			    timeout == 0)
				return die("enroll: --timeout must be 1..3600 "
				    "seconds");
			break;
		case 'h':
			usage_enroll(stdout);
			return 0;
		default:
			return die("enroll: bad arguments (see "
			    "'" PROG " enroll --help')");
		}
	}
	if (optind != argc)
		return die("enroll: unexpected argument '%s'", argv[optind]);
	if (key_out == NULL || cert_out == NULL)
		return die("enroll: --key-out and --cert-out are required");
	if (renew && (a.cert == NULL || a.key == NULL))
		return die("enroll: --renew needs the current certificate "
		    "(--cert, --key)");
	kdcdev_host_init(verbosity);
	if (est_account("enroll", &a, &sec) != 0)
		return 1;
	if (ep == NULL) {
		if (sec.mode == KDCDEV_MODE_PSK)
			ep = a.psk_id;
		else if (sec.mode == KDCDEV_MODE_CERT &&
		    cert_cn(sec.ident, sec.ident_len, cn, sizeof(cn)) == 0)
			ep = cn;
		else {
			wipe_sec(&sec);
			return die("enroll: --ep is required here");
		}
	}
	if (kdcdev_init(&c, ep) != KDC_OK) {
		wipe_sec(&sec);
		return die("enroll: --ep must be 1..%d bytes",
		    KDCDEV_EP_MAX - 1);
	}
	kdcdev_set_log(&c, log_cb, NULL);
	r = est_once(&c, &sec, ep, renew, key_out, cert_out,
	    (unsigned)timeout * 1000u, cert, &cert_len);
	wipe_sec(&sec);
	if (r != KDC_OK)
		return fail_r(renew ? "enroll --renew" : "enroll", r);
	print_cert(renew ? "renewed" : "enrolled", 1, cert, cert_len);
	return 0;
}

static void
usage_renew_loop(FILE *f)
{
	fprintf(f,
"usage: " PROG " renew-loop --server coaps://HOST:PORT --cert FILE --key FILE\n"
"           [--ca FILE] [--fraction F] [--jitter J] [--count N]\n"
"           [--timeout SEC] [-v]\n"
"       " PROG " renew-loop --state FILE [--lifetime SEC] [--fraction F]\n"
"           [--jitter J] [--count N] [--timeout SEC] [-v]\n"
"\n"
"Keep an operational certificate fresh: each time the fraction F of the\n"
"current certificate's lifetime (not_before..not_after) has passed, give or\n"
"take J of it at random (so a fleet does not renew in one second), generate\n"
"a new key and re-enroll by EST-coaps /.well-known/est/sren over DTLS with\n"
"the current certificate. The new key and certificate replace FILEs only\n"
"after the KDC answered 2.04 with the certificate (the KDC supersedes the\n"
"old one as it issues the new one). A failed renewal is retried every\n"
"second while the current certificate is valid. Prints one line per\n"
"renewal: \"renewed I serial=HEX not_before=T not_after=T (ISO)\".\n"
"\n"
"With --state, the LwM2M server account of a bootstrapped state FILE is\n"
"renewed and FILE rewritten only once the renewal was acknowledged (the\n"
"KDC supersedes the old credential only then, too). Certificate mode: by\n"
"/sren as above, to the Bootstrap Server's URI, the lifetime taken from the\n"
"certificate. PSK and RPK modes: by a fresh bootstrap to the Bootstrap\n"
"Server authenticated with the current operational credential (its Finish\n"
"acknowledged is what supersedes the old one); the factory bootstrap\n"
"account is kept as it was. A device cannot read a PSK's or RPK's\n"
"lifetime, so --lifetime SEC (the profile's lifetime) is required for them\n"
"and the credential is taken to be issued when FILE was last written.\n"
"Prints \"renewed I ep=ID mode=M\" (and the certificate line in mode 2).\n"
"\n"
"  --server URI        the KDC endpoint (coaps://HOST:PORT)\n"
"  --cert FILE         the current certificate (PEM or DER); rewritten\n"
"  --key FILE          its private key; rewritten (mode 0600)\n"
"  --ca FILE           the CA that authenticates the KDC (else not checked)\n"
"  --fraction F        when to renew, 0 < F < 1 in steps of 0.001 (default 0.5)\n"
"  --jitter J          +/- J times the renewal delay at random, 0 <= J < 1\n"
"                      in steps of 0.001 (default 0.1); the policy is the\n"
"                      library's kdcdev_renew_at_ms()\n"
"  --count N           stop after N renewals (default 1; 0 = forever)\n"
"  --state FILE        renew the server account of this state instead\n"
"  --lifetime SEC      --state, PSK/RPK: the credential's lifetime\n"
"  --timeout SEC       deadline of each renewal exchange (default 60)\n"
"  -v                  log to stderr (repeat for more)\n");
}

static int
parse_frac(const char *s, double lo, double hi, bool lo_open, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *s == '\0' || *end != '\0' || !(v >= lo) ||
	    !(v < hi) || (lo_open && v == lo))
		return -1;
	*out = v;
	return 0;
}

static void
sleep_until_ms(int64_t t_ms)
{
	for (;;) {
		struct timespec now, ts;
		int64_t left;

		clock_gettime(CLOCK_REALTIME, &now);
		left = t_ms - ((int64_t)now.tv_sec * 1000 + now.tv_nsec /
		    1000000);
		if (left <= 0)
			return;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		(void)nanosleep(&ts, NULL);
	}
}

/* When to renew (the library's policy, kdcdev_renew_at_ms()): fraction
 * and jitter as given on the command line, to per-mille. */
static int64_t
renew_at_ms(int64_t nb, int64_t na, double fraction, double jitter)
{
	uint32_t u;

	if (gnutls_rnd(GNUTLS_RND_NONCE, &u, sizeof(u)) < 0)
		u = 0x80000000u;
	return kdcdev_renew_at_ms(nb, na, (uint16_t)(fraction * 1000.0 + 0.5),
	    (uint16_t)(jitter * 1000.0 + 0.5), u);
}

/*
 * One renewal of the server account si of c (bootstrap account bs); on
 * success the renewed state is written to path. Certificate mode: /sren
 * with the current certificate to the Bootstrap Server's URI. PSK/RPK: a
 * fresh bootstrap (into n) authenticated by the operational credential,
 * then the factory bootstrap account of c put back in place.
 */
static kdc_err
renew_once(struct kdcdev_lwm2m *c, size_t si, int bs, struct kdcdev_lwm2m *n,
    const char *path, unsigned timeout_ms, uint8_t *cert, size_t *cert_len)
{
	static struct kdcdev_security sec;
	static uint8_t key[KDCDEV_SECRET_MAX];
	const struct kdcdev_security *dm = &c->sec[si], *b = &c->sec[bs];
	const uint8_t *sk = NULL;
	size_t kl = sizeof(key), skl = 0;
	int nbs;
	kdc_err r;

	*cert_len = 0;
	if (dm->mode == KDCDEV_MODE_CERT) {
		sec = *dm;
		memcpy(sec.uri, b->uri, sizeof(sec.uri));
		*cert_len = KDCDEV_IDENTITY_MAX;
		last_err[0] = '\0';
		r = kdcdev_host_enroll(c, &sec, c->ep, true, cert, cert_len,
		    key, &kl, NULL, timeout_ms);
		wipe_sec(&sec);
		if (r == KDC_OK) {
			memcpy(n, c, sizeof(*n));
			memcpy(n->sec[si].ident, cert, *cert_len);
			n->sec[si].ident_len = (uint16_t)*cert_len;
			memcpy(n->sec[si].secret, key, kl);
			n->sec[si].secret_len = (uint16_t)kl;
			r = kdcdev_host_state_save(n, path);
			kdcdev_wipe(n);
		}
		kdc_wipe(key, sizeof(key));
		return r;
	}
	/* the KDC endpoint has the LwM2M Server's key: the one the Bootstrap
	 * Server wrote is what pins it when the factory account has none */
	if (dm->mode == KDCDEV_MODE_RPK) {
		sk = b->mode == KDCDEV_MODE_RPK && b->server_key_len > 0 ?
		    b->server_key : dm->server_key;
		skl = b->mode == KDCDEV_MODE_RPK && b->server_key_len > 0 ?
		    b->server_key_len : dm->server_key_len;
	}
	if ((r = kdcdev_init(n, c->ep)) != KDC_OK)
		return r;
	kdcdev_set_log(n, log_cb, NULL);
	last_err[0] = '\0';
	if ((r = kdcdev_set_bootstrap_account(n, b->iid, b->uri,
	    (enum kdcdev_mode)dm->mode, dm->ident, dm->ident_len, sk, skl,
	    dm->secret, dm->secret_len)) == KDC_OK &&
	    (r = kdcdev_host_bootstrap(n, 11542, timeout_ms)) == KDC_OK) {
		if ((nbs = kdcdev_bootstrap_account(n)) < 0)
			r = KDC_ERR_NOT_FOUND;
		else {
			n->sec[nbs] = *b;	/* the factory account stays */
			r = kdcdev_host_state_save(n, path);
		}
	}
	kdcdev_wipe(n);
	return r;
}

/* renew-loop --state: keep the server account of a state fresh. */
static int
renew_state(const char *path, double fraction, double jitter,
    unsigned long count, unsigned long lifetime, unsigned long timeout)
{
	static struct kdcdev_lwm2m c, n;
	static uint8_t cert[KDCDEV_IDENTITY_MAX];
	char ep[KDCDEV_EP_MAX];
	struct stat st;
	size_t si, vi, cert_len;
	kdc_err r;
	int bs;

	kdcdev_host_init(verbosity);
	for (unsigned long i = 1; count == 0 || i <= count; i++) {
		int64_t nb, na, at_ms;
		uint8_t mode;

		memset(&c, 0, sizeof(c));
		kdcdev_set_log(&c, log_cb, NULL);
		if ((r = kdcdev_host_state_load(&c, path)) != KDC_OK)
			return die("renew-loop: cannot load state %s: %s",
			    path, kdc_err_str(r));
		if (!c.bs_finished || kdcdev_dm_account(&c, &si, &vi) !=
		    KDC_OK || (bs = kdcdev_bootstrap_account(&c)) < 0) {
			kdcdev_wipe(&c);
			return die("renew-loop: %s holds no finished bootstrap "
			    "with a bootstrap account", path);
		}
		mode = c.sec[si].mode;
		if (mode == KDCDEV_MODE_CERT) {
			if (kdcdev_host_cert_info(c.sec[si].ident,
			    c.sec[si].ident_len, &nb, &na, NULL, 0) != KDC_OK ||
			    na <= nb) {
				kdcdev_wipe(&c);
				return die("renew-loop: the certificate in %s "
				    "has no usable validity", path);
			}
		} else if (mode == KDCDEV_MODE_PSK || mode == KDCDEV_MODE_RPK) {
			if (lifetime == 0) {
				kdcdev_wipe(&c);
				return die("renew-loop: --lifetime SEC is "
				    "required for a PSK or RPK account");
			}
			if (stat(path, &st) != 0) {
				kdcdev_wipe(&c);
				return die("renew-loop: %s: %s", path,
				    strerror(errno));
			}
			nb = (int64_t)st.st_mtim.tv_sec;
			na = nb + (int64_t)lifetime;
		} else {
			kdcdev_wipe(&c);
			return die("renew-loop: nothing to renew in mode %u",
			    mode);
		}
		at_ms = renew_at_ms(nb, na, fraction, jitter);
		if (verbosity > 0)
			fprintf(stderr, "%s: renewal %lu at %lld.%03lld\n",
			    PROG, i, (long long)(at_ms / 1000),
			    (long long)(at_ms % 1000));
		sleep_until_ms(at_ms);
		for (;;) {
			r = renew_once(&c, si, bs, &n, path,
			    (unsigned)timeout * 1000u, cert, &cert_len);
			if (r == KDC_OK || (int64_t)time(NULL) + 1 >= na)
				break;
			if (verbosity > 0)
				fprintf(stderr, "%s: renewal %lu failed: %s; "
				    "retrying\n", PROG, i, kdc_err_str(r));
			sleep_until_ms(((int64_t)time(NULL) + 1) * 1000);
		}
		memcpy(ep, c.ep, sizeof(ep));
		kdcdev_wipe(&c);
		if (r != KDC_OK)
			return fail_r("renew-loop: renewal", r);
		printf("renewed %lu ep=%s mode=%u\n", i, ep, mode);
		if (cert_len > 0)
			print_cert("renewed", (unsigned)i, cert, cert_len);
		fflush(stdout);
	}
	return 0;
}

static int
cmd_renew_loop(int argc, char **argv)
{
	static struct kdcdev_lwm2m c;
	static struct kdcdev_security sec;
	static uint8_t cert[EST_CERT_MAX];
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'K' },
		{ "ca", required_argument, NULL, 'C' },
		{ "fraction", required_argument, NULL, 'f' },
		{ "jitter", required_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "state", required_argument, NULL, 'S' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct est_args a;
	double fraction = 0.5, jitter = 0.1;
	unsigned long count = 1, timeout = 60, lifetime = 0;
	const char *state = NULL;
	char cn[KDCDEV_EP_MAX];
	int ch;
	kdc_err r;

	memset(&a, 0, sizeof(a));
	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 's': a.server = optarg; break;
		case 'c': a.cert = optarg; break;
		case 'K': a.key = optarg; break;
		case 'C': a.ca = optarg; break;
		case 'S': state = optarg; break;
		case 'v': verbosity++; break;
		case 'l':
			if (parse_uint(optarg, 315360000, &lifetime) != 0 ||
			    lifetime == 0)
				return die("renew-loop: --lifetime must be "
				    "1..315360000 seconds");
			break;
		case 'f':
			if (parse_frac(optarg, 0.0, 1.0, true, &fraction) != 0)
				return die("renew-loop: --fraction must be "
				    "between 0 and 1 (exclusive)");
			break;
		case 'j':
			if (parse_frac(optarg, 0.0, 1.0, false, &jitter) != 0)
				return die("renew-loop: --jitter must be 0 <= "
				    "J < 1");
			break;
		case 'n':
			if (parse_uint(optarg, UINT32_MAX, &count) != 0)
				return die("renew-loop: bad --count");
			break;
		case 't':
			if (parse_uint(optarg, 3600, &timeout) != 0 ||
			    timeout == 0)
				return die("renew-loop: --timeout must be "
				    "1..3600 seconds");
			break;
		case 'h':
			usage_renew_loop(stdout);
			return 0;
		default:
			return die("renew-loop: bad arguments (see "
			    "'" PROG " renew-loop --help')");
		}
	}
	if (optind != argc)
		return die("renew-loop: unexpected argument '%s'",
		    argv[optind]);
	if (state != NULL) {
		if (a.server != NULL || a.cert != NULL || a.key != NULL ||
		    a.ca != NULL)
			return die("renew-loop: --state goes without --server, "
			    "--cert, --key and --ca");
		return renew_state(state, fraction, jitter, count, lifetime,
		    timeout);
	}
	if (lifetime != 0)
		return die("renew-loop: --lifetime goes with --state");
	if (a.cert == NULL || a.key == NULL)
		return die("renew-loop: --cert and --key are required");
	kdcdev_host_init(verbosity);
	for (unsigned long i = 1; count == 0 || i <= count; i++) {
		int64_t nb, na, at_ms;
		size_t cert_len;

		if (est_account("renew-loop", &a, &sec) != 0)
			return 1;
		if (kdcdev_host_cert_info(sec.ident, sec.ident_len, &nb, &na,
		    NULL, 0) != KDC_OK || na <= nb) {
			wipe_sec(&sec);
			return die("renew-loop: %s: no usable validity", a.cert);
		}
		if (cert_cn(sec.ident, sec.ident_len, cn, sizeof(cn)) != 0)
			snprintf(cn, sizeof(cn), "iotkdc-device");
		if (kdcdev_init(&c, cn) != KDC_OK) {
			wipe_sec(&sec);
			return die("renew-loop: bad subject CN in %s", a.cert);
		}
		kdcdev_set_log(&c, log_cb, NULL);
		/* fraction of the lifetime, +/- jitter of it at random */
		at_ms = renew_at_ms(nb, na, fraction, jitter);
		if (verbosity > 0)
			fprintf(stderr, "%s: renewal %lu at %lld.%03lld\n",
			    PROG, i, (long long)(at_ms / 1000),
			    (long long)(at_ms % 1000));
		sleep_until_ms(at_ms);
		for (;;) {
			r = est_once(&c, &sec, cn, true, a.key, a.cert,
			    (unsigned)timeout * 1000u, cert, &cert_len);
			if (r == KDC_OK || (int64_t)time(NULL) + 1 >= na)
				break;
			if (verbosity > 0)
				fprintf(stderr, "%s: renewal %lu failed: %s; "
				    "retrying\n", PROG, i, kdc_err_str(r));
			sleep_until_ms(((int64_t)time(NULL) + 1) * 1000);
		}
		wipe_sec(&sec);
		if (r != KDC_OK)
			return fail_r("renew-loop: renewal", r);
		print_cert("renewed", (unsigned)i, cert, cert_len);
	}
	return 0;
}

/* ==== show =============================================================== */

static void
usage_show(FILE *f)
{
	fprintf(f,
"usage: " PROG " show --state FILE [--cert-out FILE]\n"
"\n"
"Print the server account of a bootstrapped state (uri, ssid, mode; in\n"
"certificate mode the certificate's serial and validity), never a secret.\n"
"\n"
"  --state FILE     the state 'bootstrap' wrote\n"
"  --cert-out FILE  certificate mode: write the certificate as PEM\n");
}

static int
cmd_show(int argc, char **argv)
{
	static struct kdcdev_lwm2m c;
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 'f' },
		{ "cert-out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL, *cert_out = NULL;
	const struct kdcdev_security *s;
	size_t si, vi;
	int ch;
	kdc_err r;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': state = optarg; break;
		case 'o': cert_out = optarg; break;
		case 'h':
			usage_show(stdout);
			return 0;
		default:
			return die("show: bad arguments (see "
			    "'" PROG " show --help')");
		}
	}
	if (optind != argc)
		return die("show: unexpected argument '%s'", argv[optind]);
	if (state == NULL)
		return die("show: --state is required");
	kdcdev_host_init(verbosity);
	if ((r = kdcdev_host_state_load(&c, state)) != KDC_OK) {
		kdcdev_wipe(&c);
		return die("show: cannot load %s: %s", state, kdc_err_str(r));
	}
	if ((r = kdcdev_dm_account(&c, &si, &vi)) != KDC_OK) {
		kdcdev_wipe(&c);
		return die("show: %s has no server account", state);
	}
	s = &c.sec[si];
	printf("ep=%s server=%s ssid=%d mode=%u lifetime=%u\n", c.ep, s->uri,
	    s->ssid, s->mode, c.srv[vi].lifetime);
	if (s->mode == KDCDEV_MODE_CERT)
		print_cert("certificate", 1, s->ident, s->ident_len);
	r = KDC_OK;
	if (cert_out != NULL) {
		if (s->mode != KDCDEV_MODE_CERT)
			r = KDC_ERR_INVALID_ARG;
		else
			r = kdcdev_host_write_pem(cert_out, "CERTIFICATE",
			    s->ident, s->ident_len, false);
	}
	kdcdev_wipe(&c);
	if (r != KDC_OK)
		return die("show: cannot write %s: %s", cert_out,
		    r == KDC_ERR_INVALID_ARG ? "not in certificate mode" :
		    kdc_err_str(r));
	return 0;
}

/* ==== main =============================================================== */

/* ==== ACE: rs, token ===================================================== */

static volatile int rs_stop;

static void
on_stop_signal(int sig)
{
	(void)sig;
	rs_stop = 1;
}

static int64_t
unix_clock(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

/* A secret file must not be readable by others (like ssh's keys). */
static int
private_file(const char *cmd, const char *opt, const char *file)
{
	struct stat st;

	if (strcmp(file, "-") == 0)
		return 0;
	if (stat(file, &st) != 0)
		return die("%s: --%s %s: %s", cmd, opt, file, strerror(errno));
	if ((st.st_mode & 077) != 0)
		return die("%s: --%s %s: readable by others (chmod 600)", cmd,
		    opt, file);
	return 0;
}

/* The P-256 point of an SPKI (DER); -1 if it is not one. */
static int
spki_xy(const uint8_t *spki, size_t n, uint8_t x[32], uint8_t y[32])
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d, gx = { NULL, 0 }, gy = { NULL, 0 };
	gnutls_ecc_curve_t curve;
	int rc = -1;

	d.data = (unsigned char *)(uintptr_t)spki;
	d.size = (unsigned)n;
	if (gnutls_pubkey_init(&pub) >= 0 &&
	    gnutls_pubkey_import(pub, &d, GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_pubkey_export_ecc_raw2(pub, &curve, &gx, &gy,
	    GNUTLS_EXPORT_FLAG_NO_LZ) >= 0 && curve == GNUTLS_ECC_CURVE_SECP256R1 &&
	    gx.size <= 32 && gy.size <= 32) {
		memset(x, 0, 32);
		memset(y, 0, 32);
		memcpy(x + 32 - gx.size, gx.data, gx.size);
		memcpy(y + 32 - gy.size, gy.data, gy.size);
		rc = 0;
	}
	gnutls_free(gx.data);
	gnutls_free(gy.data);
	gnutls_pubkey_deinit(pub);
	return rc;
}

/* The P-256 point of a public key file (SPKI PEM/DER or certificate). */
static int
p256_xy(const char *file, uint8_t x[32], uint8_t y[32])
{
	uint8_t spki[1024];
	size_t n = sizeof(spki);
	kdc_err r;

	if ((r = kdcdev_host_load_pubkey(file, spki, &n)) != KDC_OK)
		return die("rs: --as-pubkey %s: %s", file, kdc_err_str(r));
	if (spki_xy(spki, n, x, y) != 0)
		return die("rs: --as-pubkey %s: not a P-256 public key", file);
	return 0;
}

/* The SPKI DER of a P-256 point (uncompressed): a fixed prefix. */
static size_t
xy_spki(const uint8_t *x, const uint8_t *y, uint8_t out[91])
{
	static const uint8_t pre[27] = {
		0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce,
		0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
		0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
	};

	memcpy(out, pre, sizeof(pre));
	memcpy(out + 27, x, 32);
	memcpy(out + 59, y, 32);
	return 91;
}

/* A P-256 private key file (PEM/DER, mode 0600) into PKCS#8 DER, its
 * SPKI DER and its point. */
static int
rpk_key_file(const char *cmd, const char *file, uint8_t *pkcs8,
    size_t *pkcs8_len, uint8_t *spki, size_t *spki_len, uint8_t x[32],
    uint8_t y[32])
{
	kdc_err r;

	if (private_file(cmd, "rpk-key", file) != 0)
		return -1;
	if ((r = kdcdev_host_load_key(file, pkcs8, pkcs8_len, spki,
	    spki_len)) != KDC_OK) {
		kdc_wipe(pkcs8, *pkcs8_len);
		return die("%s: --rpk-key %s: %s", cmd, file, kdc_err_str(r));
	}
	if (spki_xy(spki, *spki_len, x, y) != 0) {
		kdc_wipe(pkcs8, *pkcs8_len);
		return die("%s: --rpk-key %s: not a P-256 key", cmd, file);
	}
	return 0;
}

static void
usage_rs(FILE *f)
{
	fprintf(f,
"usage: " PROG " rs --aud NAME --as URI (--key-file F | --as-pubkey F | both)\n"
"           --port P --coaps-port P2 [--rpk-key F] [--address ADDR]\n"
"           [--as-psk-identity ID --as-psk-file F [--trl-refresh SEC]]\n"
"           [--timeout SEC] [-v]\n"
"\n"
"An ACE-OAuth resource server (RFC 9200, DTLS profile RFC 9202): a door lock.\n"
"Clients POST their access token (application/cwt) to /authz-info on plain\n"
"CoAP (udp P) or CoAPS; the token is a COSE_Encrypt0 under the key this RS\n"
"shares with the AS, or a COSE_Sign1 (ES256) by the AS key, for audience\n"
"NAME. They then open DTLS on udp P2, either PSK with psk_identity\n"
"{8: {1: {1: 4, 2: kid}}} (or the kid bytes themselves) and the token's PoP\n"
"key (symmetric PoP), or, with --rpk-key, RPK (RFC 7250) with the key the\n"
"token's cnf names (asymmetric PoP: any other client key fails the\n"
"handshake), and use the lock. Scopes: \"open\" allows POST /lock/open,\n"
"\"close\" POST /lock/close, \"read\" GET /lock. A request without a token\n"
"gets 4.01 with the AS Request Creation Hints {1: URI, 5: NAME, 9: scope};\n"
"a token without the scope 4.03.\n"
"With --as-psk-identity, the RS observes the AS's token revocation list\n"
"(RFC 9770: GET URI/trl, Observe) over DTLS-PSK as the AS's device NAME,\n"
"drops every revoked token at once (logged at info with its hash, -vv) and\n"
"registers again when the list's Max-Age passes (or --trl-refresh), after\n"
"a lost session or an unanswered GET (8 s).\n"
"Prints \"rs ready ADDR coap P coaps P2\" on stdout once bound; serves until\n"
"SIGINT/SIGTERM or the timeout, then exits 0.\n"
"\n"
"  --aud NAME        this RS's audience (the AS's 'ace rs add NAME')\n"
"  --as URI          the AS (coaps://HOST:PORT): creation hints, TRL\n"
"  --key-file F      the AS-RS shared key (16 bytes hex); F must be mode 0600\n"
"  --as-pubkey F     the AS public key (P-256, SPKI PEM/DER or certificate;\n"
"                    'iotkdc ace pubkey --pem')\n"
"  --port P          udp port of plain CoAP (1..65535)\n"
"  --coaps-port P2   udp port of DTLS CoAP (1..65535)\n"
"  --rpk-key F       this RS's P-256 private key (PEM/DER, mode 0600): DTLS\n"
"                    RPK for asymmetric PoP tokens besides PSK ('ace rs add\n"
"                    NAME --pubkey' gives its public key to clients)\n"
"  --as-psk-identity ID  the RS's PSK identity at the AS (text) ...\n"
"  --as-psk-file F   ... and its key, hex, from F (mode 0600; '-': stdin)\n"
"  --trl-refresh SEC re-register the TRL observation at least every SEC\n"
"                    seconds (1..3600; default: the list's Max-Age, 60 s)\n"
"  --address ADDR    numeric IPv4 or IPv6 address (default 127.0.0.1)\n"
"  --timeout SEC     stop after SEC seconds (default: run until a signal)\n"
"  -v                log to stderr (repeat for more)\n");
}

static void
rs_ready(void *arg, const char *where)
{
	(void)arg;
	printf("rs ready %s\n", where);
	fflush(stdout);
}

static int
cmd_rs(int argc, char **argv)
{
	static struct kdcdev_rs rs;
	static const struct option opts[] = {
		{ "aud", required_argument, NULL, 'n' },
		{ "as", required_argument, NULL, 'A' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "as-pubkey", required_argument, NULL, 'K' },
		{ "port", required_argument, NULL, 'p' },
		{ "coaps-port", required_argument, NULL, 'P' },
		{ "address", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "rpk-key", required_argument, NULL, 'R' },
		{ "as-psk-identity", required_argument, NULL, 'i' },
		{ "as-psk-file", required_argument, NULL, 'F' },
		{ "trl-refresh", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *aud = NULL, *as = NULL, *key_file = NULL, *pub_file = NULL,
	    *addr = "127.0.0.1", *rpk_file = NULL, *psk_id = NULL,
	    *psk_file = NULL;
	unsigned long port = 0, cport = 0, timeout = 0, refresh = 0;
	struct kdcdev_rs_cfg cfg;
	struct kdcdev_host_rs_opts o;
	static uint8_t pkcs8[2048], spki[1024], psk[64];
	uint8_t key[16], x[32], y[32], rx[32], ry[32];
	size_t klen = 0, pkcs8_len = sizeof(pkcs8), spki_len = sizeof(spki),
	    psk_len = 0;
	int rc = 1;
	struct sigaction sa;
	int ch;
	kdc_err r;

	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': aud = optarg; break;
		case 'A': as = optarg; break;
		case 'k': key_file = optarg; break;
		case 'K': pub_file = optarg; break;
		case 'a': addr = optarg; break;
		case 'R': rpk_file = optarg; break;
		case 'i': psk_id = optarg; break;
		case 'F': psk_file = optarg; break;
		case 'v': verbosity++; break;
		case 'T':
			if (parse_uint(optarg, 3600, &refresh) != 0 ||
			    refresh == 0)
				return die("rs: --trl-refresh must be 1..3600 "
				    "seconds");
			break;
		case 'p':
		case 'P':
			if (parse_uint(optarg, 65535, ch == 'p' ? &port :
			    &cport) != 0 || (ch == 'p' ? port : cport) == 0)
				return die("rs: --port and --coaps-port must "
				    "be 1..65535");
			break;
		case 't':
			if (parse_uint(optarg, 86400, &timeout) != 0 ||
			    timeout == 0)
				return die("rs: --timeout must be 1..86400 "
				    "seconds");
			break;
		case 'h':
			usage_rs(stdout);
			return 0;
		default:
			return die("rs: bad arguments (see '" PROG
			    " rs --help')");
		}
	}
	if (optind != argc)
		return die("rs: unexpected argument '%s'", argv[optind]);
	if (aud == NULL || as == NULL || port == 0 || cport == 0 ||
	    (key_file == NULL && pub_file == NULL))
		return die("rs: --aud, --as, --port, --coaps-port and "
		    "--key-file or --as-pubkey are required");
	if ((psk_id == NULL) != (psk_file == NULL))
		return die("rs: --as-psk-identity and --as-psk-file go "
		    "together");
	if (refresh != 0 && psk_id == NULL)
		return die("rs: --trl-refresh needs --as-psk-identity");
	if (psk_id != NULL && (strlen(psk_id) == 0 || strlen(psk_id) > 128))
		return die("rs: --as-psk-identity must be 1..128 bytes");
	memset(&cfg, 0, sizeof(cfg));
	memset(&o, 0, sizeof(o));
	if (key_file != NULL) {
		if (private_file("rs", "key-file", key_file) != 0 ||
		    secret_arg("rs", "key", NULL, key_file, key, sizeof(key),
		    &klen) != 0)
			return 1;
		if (klen != sizeof(key)) {
			kdc_wipe(key, sizeof(key));
			return die("rs: --key-file: the AS-RS key is 16 bytes "
			    "(AES-CCM-16-64-128)");
		}
		cfg.as_key = key;
		cfg.as_key_len = klen;
	}
	kdcdev_host_init(verbosity);
	if (pub_file != NULL) {
		if (p256_xy(pub_file, x, y) != 0)
			goto out;
		cfg.as_x = x;
		cfg.as_y = y;
	}
	if (rpk_file != NULL) {
		if (rpk_key_file("rs", rpk_file, pkcs8, &pkcs8_len, spki,
		    &spki_len, rx, ry) != 0)
			goto out;
		o.rpk_key = pkcs8;
		o.rpk_key_len = pkcs8_len;
		o.rpk_spki = spki;
		o.rpk_spki_len = spki_len;
	}
	if (psk_id != NULL) {
		if (private_file("rs", "as-psk-file", psk_file) != 0 ||
		    secret_arg("rs", "as-psk", NULL, psk_file, psk,
		    sizeof(psk), &psk_len) != 0)
			goto out;
		o.trl_as = as;
		o.trl_psk_id = (const uint8_t *)psk_id;
		o.trl_psk_id_len = strlen(psk_id);
		o.trl_psk = psk;
		o.trl_psk_len = psk_len;
		o.trl_refresh = (unsigned)refresh;
	}
	cfg.aud = aud;
	cfg.as_uri = as;
	cfg.clock = unix_clock;
	cfg.log = log_cb;
	r = kdcdev_rs_init(&rs, &cfg);
	kdc_wipe(key, sizeof(key));
	if (r != KDC_OK) {
		die("rs: bad configuration: %s", kdc_err_str(r));
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	r = kdcdev_host_rs_serve(&rs, addr, (uint16_t)port, (uint16_t)cport,
	    &o, rs_ready, NULL, &rs_stop, (unsigned)timeout * 1000u);
	kdcdev_rs_wipe(&rs);
	if (r != KDC_OK)
		fail_r("rs", r);
	else
		rc = 0;
out:
	kdc_wipe(key, sizeof(key));
	kdc_wipe(pkcs8, sizeof(pkcs8));
	kdc_wipe(psk, sizeof(psk));
	return rc;
}

static void
usage_token(FILE *f)
{
	fprintf(f,
"usage: " PROG " token --aud NAME [--scope S] (--as URI CREDENTIAL |\n"
"           --response-file F [--rpk-key F]) [--rs URI] [--rs-coaps URI]\n"
"           [--do open|close|read] [--raw-kid] [--save-response F]\n"
"           [--timeout SEC] [-v]\n"
"   CREDENTIAL: --state FILE | --psk-identity S --psk-file F | --rpk-key F\n"
"\n"
"ACE client (RFC 9200, DTLS profile RFC 9202): ask the AS (POST /token,\n"
"ace+cbor {5: NAME, 9: S}) over DTLS with the device's credential and print\n"
"a summary of the answer (token size, expires_in, PoP kid; never the key).\n"
"Symmetric PoP with a PSK (the LwM2M server account of --state, as\n"
"'register' uses, or an explicit PSK): the AS makes the PoP key (cnf).\n"
"Asymmetric PoP with --rpk-key: DTLS RPK (RFC 7250) to the AS with that key\n"
"(the device registered with 'iotkdc device add ID --rpk PUB') and its\n"
"public key as req_cnf; the token (a COSE_Sign1) names it as cnf.\n"
"With --rs, POST the token to URI/authz-info (application/cwt; coap:// or\n"
"coaps://). With --rs-coaps and --do, open DTLS to that URI, PSK with\n"
"psk_identity {8: {1: {1: 4, 2: kid}}} (--raw-kid: the kid bytes) and the\n"
"PoP key from the answer's cnf, or RPK with the --rpk-key key (the RS's\n"
"key checked against the answer's rs_cnf when it has one, else not\n"
"authenticated: a warning), and open (POST /lock/open), close\n"
"(POST /lock/close) or read (GET /lock) the lock. Each step prints its CoAP\n"
"code ('<action>: no session (why)' when no DTLS session or no answer came);\n"
"exit 0 when every step got 2.xx, 1 otherwise.\n"
"\n"
"  --aud NAME          the resource server's audience\n"
"  --scope S           space-separated scopes (default: the whole grant)\n"
"  --as URI            the AS (coaps://HOST:PORT; /token is added)\n"
"  --state FILE        a device state with a PSK server account\n"
"  --psk-identity S    the PSK identity (string) ...\n"
"  --psk-file F        ... and its key, hex, from F ('-': standard input)\n"
"  --rpk-key F         a P-256 private key (PEM/DER, mode 0600): RPK to the\n"
"                      AS and the RS, asymmetric PoP\n"
"  --response-file F   no AS: read its answer (the CBOR body) from F (0600)\n"
"  --save-response F   write the AS's 2.01 answer (the CBOR body, with the\n"
"                      PoP key) to a new file F of mode 0600\n"
"  --rs URI            the RS for /authz-info (coap://HOST:PORT)\n"
"  --rs-coaps URI      the RS's DTLS endpoint (coaps://HOST:PORT2)\n"
"  --do ACTION         open, close or read the lock over --rs-coaps\n"
"  --raw-kid           present the kid itself as psk_identity\n"
"  --timeout SEC       deadline of each exchange (default 30)\n"
"  -v                  log to stderr (repeat for more)\n");
}

static void
print_hex(const char *label, const uint8_t *b, size_t n)
{
	printf("%s", label);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static const char *
code_str(uint8_t code, char *buf, size_t cap)
{
	snprintf(buf, cap, "%u.%02u", code >> 5, code & 31u);
	return buf;
}

/* The AS's answer (it may hold a PoP key) to a new file of mode 0600. */
static int
save_secret(const char *path, const uint8_t *b, size_t n)
{
	int fd;
	ssize_t w;

	(void)unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return die("token: --save-response %s: %s", path,
		    strerror(errno));
	w = write(fd, b, n);
	if (w < 0 || (size_t)w != n || fsync(fd) != 0) {
		close(fd);
		return die("token: --save-response %s: write failed", path);
	}
	close(fd);
	return 0;
}

static int
cmd_token(int argc, char **argv)
{
	static struct kdcdev_lwm2m c;
	static struct kdcdev_security sec;
	static uint8_t body[KDCDEV_BUF_MIN], req[512];
	static const struct option opts[] = {
		{ "aud", required_argument, NULL, 'n' },
		{ "scope", required_argument, NULL, 's' },
		{ "as", required_argument, NULL, 'A' },
		{ "state", required_argument, NULL, 'f' },
		{ "psk-identity", required_argument, NULL, 'i' },
		{ "psk-file", required_argument, NULL, 'P' },
		{ "response-file", required_argument, NULL, 'R' },
		{ "rs", required_argument, NULL, 'r' },
		{ "rs-coaps", required_argument, NULL, 'S' },
		{ "do", required_argument, NULL, 'd' },
		{ "raw-kid", no_argument, NULL, 'k' },
		{ "rpk-key", required_argument, NULL, 'K' },
		{ "save-response", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *aud = NULL, *scope = NULL, *as = NULL, *state = NULL,
	    *psk_id = NULL, *psk_file = NULL, *resp_file = NULL, *rs = NULL,
	    *rs_coaps = NULL, *action = NULL, *path = NULL, *rpk_file = NULL,
	    *save = NULL;
	static uint8_t pkcs8[KDCDEV_SECRET_MAX], spki[512];
	size_t pkcs8_len = sizeof(pkcs8), spki_len = sizeof(spki);
	uint8_t px[32], py[32];
	unsigned long timeout = 30;
	bool raw_kid = false;
	struct kdcdev_ace_token t;
	struct kdcdev_msg m;
	size_t body_len = sizeof(body), req_len = sizeof(req), n;
	uint8_t code = 0, method = 0, out[256];
	char cs[8];
	int ch, rc = 1;
	kdc_err r;

	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': aud = optarg; break;
		case 's': scope = optarg; break;
		case 'A': as = optarg; break;
		case 'f': state = optarg; break;
		case 'i': psk_id = optarg; break;
		case 'P': psk_file = optarg; break;
		case 'R': resp_file = optarg; break;
		case 'r': rs = optarg; break;
		case 'S': rs_coaps = optarg; break;
		case 'd': action = optarg; break;
		case 'k': raw_kid = true; break;
		case 'K': rpk_file = optarg; break;
		case 'w': save = optarg; break;
		case 'v': verbosity++; break;
		case 't':
			if (parse_uint(optarg, 3600, &timeout) != 0 ||
			    timeout == 0)
				return die("token: --timeout must be 1..3600 "
				    "seconds");
			break;
		case 'h':
			usage_token(stdout);
			return 0;
		default:
			return die("token: bad arguments (see '" PROG
			    " token --help')");
		}
	}
	if (optind != argc)
		return die("token: unexpected argument '%s'", argv[optind]);
	if (aud == NULL || (as == NULL) == (resp_file == NULL))
		return die("token: --aud and one of --as or --response-file "
		    "are required");
	if ((psk_id == NULL) != (psk_file == NULL))
		return die("token: --psk-identity and --psk-file go together");
	if (as != NULL && (state != NULL) + (psk_id != NULL) +
	    (rpk_file != NULL) != 1)
		return die("token: --as needs one credential: --state, "
		    "--psk-identity with --psk-file, or --rpk-key");
	if (as == NULL && (state != NULL || psk_id != NULL))
		return die("token: --state and --psk-identity are for --as");
	if (action != NULL) {
		if (strcmp(action, "open") == 0) {
			method = KDCDEV_POST;
			path = "lock/open";
		} else if (strcmp(action, "close") == 0) {
			method = KDCDEV_POST;
			path = "lock/close";
		} else if (strcmp(action, "read") == 0) {
			method = KDCDEV_GET;
			path = "lock";
		} else
			return die("token: --do is open, close or read");
		if (rs_coaps == NULL)
			return die("token: --do needs --rs-coaps");
	}
	kdcdev_host_init(verbosity);
	memset(&c, 0, sizeof(c));
	kdcdev_set_log(&c, log_cb, NULL);
	if (rpk_file != NULL && rpk_key_file("token", rpk_file, pkcs8,
	    &pkcs8_len, spki, &spki_len, px, py) != 0)
		return 1;

	/* 1. the Access Information: from the AS, or from a file */
	if (resp_file != NULL) {
		FILE *fp;

		if (private_file("token", "response-file", resp_file) != 0)
			goto out;
		if ((fp = fopen(resp_file, "rb")) == NULL) {
			die("token: --response-file %s: %s", resp_file,
			    strerror(errno));
			goto out;
		}
		body_len = fread(body, 1, sizeof(body), fp);
		fclose(fp);
	} else {
		size_t si, vi;

		memset(&sec, 0, sizeof(sec));
		if (state != NULL) {
			if ((r = kdcdev_host_state_load(&c, state)) != KDC_OK) {
				die("token: cannot load state %s: %s",
				    state, kdc_err_str(r));
				goto out;
			}
			if (kdcdev_dm_account(&c, &si, &vi) != KDC_OK ||
			    c.sec[si].mode == KDCDEV_MODE_EST ||
			    c.sec[si].mode == KDCDEV_MODE_NOSEC) {
				kdcdev_wipe(&c);
				die("token: %s has no server account "
				    "with a DTLS credential", state);
				goto out;
			}
			memcpy(&sec, &c.sec[si], sizeof(sec));
			kdcdev_wipe(&c);
		} else if (rpk_file != NULL) {
			/* the AS's server key is not pinned here (it logs a
			 * warning): the token binds our key, not its */
			sec.mode = KDCDEV_MODE_RPK;
			memcpy(sec.ident, spki, spki_len);
			sec.ident_len = (uint16_t)spki_len;
			memcpy(sec.secret, pkcs8, pkcs8_len);
			sec.secret_len = (uint16_t)pkcs8_len;
		} else {
			sec.mode = KDCDEV_MODE_PSK;
			if ((n = strlen(psk_id)) == 0 ||
			    n > sizeof(sec.ident)) {
				die("token: bad --psk-identity");
				goto out;
			}
			memcpy(sec.ident, psk_id, n);
			sec.ident_len = (uint16_t)n;
			if (secret_arg("token", "psk", NULL, psk_file,
			    sec.secret, sizeof(sec.secret), &n) != 0)
				goto out;
			sec.secret_len = (uint16_t)n;
		}
		if (strlen(as) >= sizeof(sec.uri)) {
			die("token: --as URI too long");
			goto out;
		}
		snprintf(sec.uri, sizeof(sec.uri), "%s", as);
		if ((r = kdcdev_ace_token_req_pop(aud, scope,
		    rpk_file != NULL ? px : NULL,
		    rpk_file != NULL ? py : NULL, req, &req_len)) != KDC_OK) {
			die("token: cannot make the request: %s",
			    kdc_err_str(r));
			goto out;
		}
		memset(&m, 0, sizeof(m));
		m.method = KDCDEV_POST;
		m.path = "token";
		m.query = "";
		m.content_format = KDCDEV_CF_ACE_CBOR;
		m.payload = req;
		m.payload_len = req_len;
		r = kdcdev_host_exchange(&sec, &m, &code, body, &body_len,
		    (unsigned)timeout * 1000u);
		wipe_sec(&sec);
		if (r != KDC_OK && r != KDC_ERR_PEER_ERROR) {
			fail_r("token request", r);
			goto out;
		}
		printf("token: %s\n", code_str(code, cs, sizeof(cs)));
		if (code != KDCDEV_CODE(2, 1)) {
			if (kdcdev_ace_token_resp(body, body_len, &t) ==
			    KDC_OK && t.error != 0)
				printf("token: error %d\n", t.error);
			goto out;
		}
	}
	if ((r = kdcdev_ace_token_resp(body, body_len, &t)) != KDC_OK) {
		die("token: the AS's answer does not parse: %s",
		    kdc_err_str(r));
		goto out;
	}
	if (t.error != 0) {
		printf("token: error %d\n", t.error);
		goto out;
	}
	if (save != NULL && resp_file == NULL && save_secret(save, body,
	    body_len) != 0)
		goto out;
	printf("token: %zu bytes, expires_in %lld, profile %d\n", t.token_len,
	    (long long)t.expires_in, t.profile);
	if (t.kid != NULL)
		print_hex("token: pop kid ", t.kid, t.kid_len);

	/* 2. the token to the RS */
	if (rs != NULL) {
		memset(&sec, 0, sizeof(sec));
		if (strlen(rs) >= sizeof(sec.uri)) {
			die("token: --rs URI too long");
			goto out;
		}
		snprintf(sec.uri, sizeof(sec.uri), "%s", rs);
		sec.mode = KDCDEV_MODE_NOSEC;
		memset(&m, 0, sizeof(m));
		m.method = KDCDEV_POST;
		m.path = "authz-info";
		m.query = "";
		m.content_format = KDCDEV_CF_CWT;
		m.payload = t.token;
		m.payload_len = t.token_len;
		n = sizeof(out);
		r = kdcdev_host_exchange(&sec, &m, &code, out, &n,
		    (unsigned)timeout * 1000u);
		if (r != KDC_OK && r != KDC_ERR_PEER_ERROR) {
			fail_r("authz-info", r);
			goto out;
		}
		printf("authz-info: %s\n", code_str(code, cs, sizeof(cs)));
		if (code != KDCDEV_CODE(2, 1))
			goto out;
	}

	/* 3. the lock, over DTLS-PSK with the PoP key, or DTLS-RPK with
	 * our key */
	if (action != NULL && rpk_file != NULL) {
		memset(&sec, 0, sizeof(sec));
		if (strlen(rs_coaps) >= sizeof(sec.uri)) {
			die("token: --rs-coaps URI too long");
			goto out;
		}
		snprintf(sec.uri, sizeof(sec.uri), "%s", rs_coaps);
		sec.mode = KDCDEV_MODE_RPK;
		memcpy(sec.ident, spki, spki_len);
		sec.ident_len = (uint16_t)spki_len;
		memcpy(sec.secret, pkcs8, pkcs8_len);
		sec.secret_len = (uint16_t)pkcs8_len;
		if (t.rs_x != NULL)	/* rs_cnf: the RS's key, pinned */
			sec.server_key_len = (uint16_t)xy_spki(t.rs_x, t.rs_y,
			    sec.server_key);
		printf("rs key: %s\n", t.rs_x != NULL ? "pinned (rs_cnf)" :
		    "not authenticated (no rs_cnf)");
	} else if (action != NULL) {
		if (t.key == NULL || t.kid == NULL) {
			die("token: the answer has no symmetric PoP key "
			    "(asymmetric PoP needs --rpk-key)");
			goto out;
		}
		memset(&sec, 0, sizeof(sec));
		if (strlen(rs_coaps) >= sizeof(sec.uri) ||
		    t.key_len > sizeof(sec.secret)) {
			die("token: --rs-coaps URI or PoP key too long");
			goto out;
		}
		snprintf(sec.uri, sizeof(sec.uri), "%s", rs_coaps);
		sec.mode = KDCDEV_MODE_PSK;
		if (raw_kid) {
			if (t.kid_len > sizeof(sec.ident)) {
				die("token: kid too long");
				goto out;
			}
			memcpy(sec.ident, t.kid, t.kid_len);
			n = t.kid_len;
		} else {
			n = sizeof(sec.ident);
			if (kdcdev_ace_psk_identity(t.kid, t.kid_len,
			    sec.ident, &n) != KDC_OK) {
				die("token: kid too long");
				goto out;
			}
		}
		sec.ident_len = (uint16_t)n;
		memcpy(sec.secret, t.key, t.key_len);
		sec.secret_len = (uint16_t)t.key_len;
	}
	if (action != NULL) {
		memset(&m, 0, sizeof(m));
		m.method = method;
		m.path = path;
		m.query = "";
		m.content_format = -1;
		n = sizeof(out) - 1;
		r = kdcdev_host_exchange(&sec, &m, &code, out, &n,
		    (unsigned)timeout * 1000u);
		wipe_sec(&sec);
		if (r == KDC_ERR_TLS || r == KDC_ERR_CLOSED ||
		    r == KDC_ERR_TIMEOUT)
			printf("%s: no session (%s)\n", action, kdc_err_str(r));
		if (r != KDC_OK && r != KDC_ERR_PEER_ERROR) {
			fail_r(action, r);
			goto out;
		}
		printf("%s: %s\n", action, code_str(code, cs, sizeof(cs)));
		if (code == KDCDEV_CODE(2, 5)) {
			out[n] = '\0';
			printf("lock: %s\n", (char *)out);
		}
		if ((code >> 5) != 2)
			goto out;
	}
	rc = 0;
out:
	kdc_wipe(body, sizeof(body));
	kdc_wipe(pkcs8, sizeof(pkcs8));
	wipe_sec(&sec);
	return rc;
}

/* ==== OCF: ocf-server, ocf-get, ocf-post ================================== */

static void
usage_ocf_server(FILE *f)
{
	fprintf(f,
"usage: " PROG " ocf-server --state FILE [--pin-file F]\n"
"           [--mfg-cert F --mfg-key F] [--iface IF] [--addr A] [--port P]\n"
"           [--sport Q] [--close-doc-after N] [-v]\n"
"\n"
"An OCF device (doxm, pstat, cred, acl2, csr, sdi and a light /a/light\n"
"enforced by acl2) for the KDC to onboard. Prints one line when listening:\n"
"  ocf-server ready uuid=UUID coap=PORT coaps=PORT\n"
"and logs state changes on stderr (never a PSK; the PIN only to --pin-file).\n"
"At least one of --pin-file / --mfg-cert.\n"
"\n"
"  --state FILE     the device's state (created in RFOTM when missing;\n"
"                   mode 0600: it holds the PSKs and the private key)\n"
"  --pin-file F     offer Random PIN (oxms 1): a POST oxmsel=1 writes a new\n"
"                   8-digit PIN to F (mode 0600, atomically)\n"
"  --mfg-cert F --mfg-key F\n"
"                   offer the manufacturer certificate OTM (oxms 2), PEM\n"
"  --iface IF       answer multicast discovery on IF (ff02::158,\n"
"                   224.0.1.187 port 5683) while unowned\n"
"  --addr A         numeric address for the unicast sockets (default ::1)\n"
"  --port P         plain CoAP port (default 0: ephemeral)\n"
"  --sport Q        DTLS port (default 0: ephemeral)\n"
"  --close-doc-after N\n"
"                   a fault for tests: close the onboarding session\n"
"                   (close_notify) after answering N requests over it, as a\n"
"                   device that gives up mid-onboarding (it then resets)\n"
"  -v               log each request (-vv: more)\n");
}

static void
ocf_ready(void *arg, const char *where)
{
	(void)arg;
	printf("ocf-server ready %s\n", where);
	fflush(stdout);
}

static int
ocf_port(const char *s, uint16_t *p)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 65535)
		return -1;
	*p = (uint16_t)v;
	return 0;
}

static int
cmd_ocf_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 'f' },
		{ "pin-file", required_argument, NULL, 'P' },
		{ "mfg-cert", required_argument, NULL, 'c' },
		{ "mfg-key", required_argument, NULL, 'k' },
		{ "iface", required_argument, NULL, 'i' },
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "sport", required_argument, NULL, 's' },
		{ "close-doc-after", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kdcdev_host_ocf_opts o;
	struct sigaction sa;
	int ch;
	kdc_err r;

	memset(&o, 0, sizeof(o));
	o.addr = "::1";
	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': o.state_file = optarg; break;
		case 'P': o.pin_file = optarg; break;
		case 'c': o.mfg_cert = optarg; break;
		case 'k': o.mfg_key = optarg; break;
		case 'i': o.iface = optarg; break;
		case 'a': o.addr = optarg; break;
		case 'p':
			if (ocf_port(optarg, &o.port) != 0)
				return die("ocf-server: bad --port");
			break;
		case 's':
			if (ocf_port(optarg, &o.sport) != 0)
				return die("ocf-server: bad --sport");
			break;
		case 'C': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*optarg == '\0' || *end != '\0' || v < 1 ||
			    v > 1000)
				return die("ocf-server: bad --close-doc-after "
				    "(1..1000)");
			o.close_doc_after = (unsigned)v;
			break;
		}
		case 'v': o.verbose++; break;
		case 'h':
			usage_ocf_server(stdout);
			return 0;
		default:
			return die("ocf-server: bad arguments (see "
			    "'" PROG " ocf-server --help')");
		}
	}
	if (optind != argc)
		return die("ocf-server: unexpected argument '%s'",
		    argv[optind]);
	if (o.state_file == NULL)
		return die("ocf-server: --state is required");
	if (o.pin_file == NULL && o.mfg_cert == NULL)
		return die("ocf-server: --pin-file or --mfg-cert is required");
	if ((o.mfg_cert == NULL) != (o.mfg_key == NULL))
		return die("ocf-server: --mfg-cert and --mfg-key go together");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	o.ready = ocf_ready;
	o.stop = &rs_stop;
	r = kdcdev_host_ocf_serve(&o);
	if (r != KDC_OK)
		return die("ocf-server: %s", kdc_err_str(r));
	return 0;
}

static void
usage_ocf_get(FILE *f)
{
	fprintf(f,
"usage: " PROG " ocf-get  --state FILE --peer ADDR:PORT --peer-uuid UUID\n"
"           --path PATH\n"
"       " PROG " ocf-post --state FILE --peer ADDR:PORT --peer-uuid UUID\n"
"           --path PATH --value true|false\n"
"\n"
"As the OCF device of --state, open a DTLS-PSK session to another device\n"
"(identity: our raw deviceuuid; key: our credtype-1 credential whose\n"
"subject is --peer-uuid, e.g. a pairwise PSK the KDC provisioned) and send\n"
"one request (ocf-post: {\"value\": BOOL}, for /a/light). Prints the answer\n"
"code and payload. Exit 0 on 2.xx, 1 on a 4.xx/5.xx answer or another\n"
"error, 2 when the handshake fails.\n");
}

static int
cmd_ocf_get(int argc, char **argv, bool post)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 'f' },
		{ "peer", required_argument, NULL, 'p' },
		{ "peer-uuid", required_argument, NULL, 'u' },
		{ "path", required_argument, NULL, 'a' },
		{ "value", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL, *peer = NULL, *uuid = NULL, *path = NULL,
	    *value = NULL;
	uint8_t out[4096], body[16], code = 0;
	size_t n = sizeof(out), blen = 0;
	char text[4096], cs[8];
	int ch;
	kdc_err r;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': state = optarg; break;
		case 'p': peer = optarg; break;
		case 'u': uuid = optarg; break;
		case 'a': path = optarg; break;
		case 'V': value = optarg; break;
		case 'h':
			usage_ocf_get(stdout);
			return 0;
		default:
			return die("ocf-get: bad arguments (see "
			    "'" PROG " ocf-get --help')");
		}
	}
	if (optind != argc || state == NULL || peer == NULL || uuid == NULL ||
	    path == NULL || (post && value == NULL) || (!post && value != NULL))
		return die("%s: --state, --peer, --peer-uuid, --path%s are "
		    "required", post ? "ocf-post" : "ocf-get",
		    post ? ", --value" : "");
	if (post) {
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
			return die("ocf-post: --value true or false");
		/* {"value": bool} */
		body[blen++] = 0xa1;
		body[blen++] = 0x65;
		memcpy(body + blen, "value", 5);
		blen += 5;
		body[blen++] = value[0] == 't' ? 0xf5 : 0xf4;
	}
	r = kdcdev_host_ocf_request(state, peer, uuid,
	    post ? KDCDEV_POST : KDCDEV_GET, path, body, blen, &code, out, &n,
	    10000);
	if (r == KDC_ERR_TLS) {
		printf("handshake refused\n");
		return 2;
	}
	if (r != KDC_OK)
		return die("%s: %s", post ? "ocf-post" : "ocf-get",
		    kdc_err_str(r));
	kdcdev_ocf_cbor_text(out, n, text, sizeof(text));
	printf("%s %s\n", code_str(code, cs, sizeof(cs)), text);
	return (code >> 5) == 2 ? 0 : 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " SUBCOMMAND [OPTIONS]   (SUBCOMMAND --help for details)\n"
"\n"
"  bootstrap   LwM2M bootstrap with a factory credential; writes --state\n"
"  listen      wait for a server-initiated bootstrap (DTLS server, factory\n"
"              PSK); writes --state\n"
"  register    register with the LwM2M server from --state [--deregister]\n"
"  show        the server account of --state [--cert-out FILE]\n"
"  load        many PSK bootstraps at once, for benchmarks; prints the rate\n"
"  load-manifest  the devices of 'load' as JSON Lines for 'iotkdc device import'\n"
"  enroll      EST-coaps: a new key here, its certificate from /sen (/sren)\n"
"  renew-loop  re-enroll by /sren at a fraction of each certificate's life\n"
"  rs          an ACE resource server (a lock): /authz-info, DTLS-PSK by kid\n"
"  token       ACE client: a token from the AS, to the RS, then use the lock\n"
"  ocf-server  an OCF device (RDP / mfg-cert OTM, doxm, pstat, cred, acl2,\n"
"              csr, /a/light) for the KDC to onboard; state in --state\n"
"  ocf-get     as an onboarded OCF device, GET another one's resource over\n"
"              DTLS-PSK (a pairwise key); ocf-post: POST {\"value\": BOOL}\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "bootstrap") == 0)
		return cmd_bootstrap(argc - 1, argv + 1);
	if (strcmp(argv[1], "listen") == 0)
		return cmd_listen(argc - 1, argv + 1);
	if (strcmp(argv[1], "register") == 0)
		return cmd_register(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return cmd_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "load") == 0)
		return cmd_load(argc - 1, argv + 1);
	if (strcmp(argv[1], "load-manifest") == 0)
		return cmd_load_manifest(argc - 1, argv + 1);
	if (strcmp(argv[1], "enroll") == 0)
		return cmd_enroll(argc - 1, argv + 1);
	if (strcmp(argv[1], "renew-loop") == 0)
		return cmd_renew_loop(argc - 1, argv + 1);
	if (strcmp(argv[1], "rs") == 0)
		return cmd_rs(argc - 1, argv + 1);
	if (strcmp(argv[1], "token") == 0)
		return cmd_token(argc - 1, argv + 1);
	if (strcmp(argv[1], "ocf-server") == 0)
		return cmd_ocf_server(argc - 1, argv + 1);
	if (strcmp(argv[1], "ocf-get") == 0)
		return cmd_ocf_get(argc - 1, argv + 1, false);
	if (strcmp(argv[1], "ocf-post") == 0)
		return cmd_ocf_get(argc - 1, argv + 1, true);
	return die("unknown subcommand '%s' (try --help)", argv[1]);
}
