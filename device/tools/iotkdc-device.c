/*
 * iotkdc-device: the device simulator built on libiotkdc-device.
 *
 *   iotkdc-device bootstrap --server URI --ep ID CREDENTIALS --state FILE
 *   iotkdc-device register --state FILE [--lifetime N] [--deregister]
 *   iotkdc-device load --server URI --devices N ...
 *
 * Exit status 0 on success; otherwise non-zero with one line on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

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

/* ==== bootstrap ========================================================== */

static void
usage_bootstrap(FILE *f)
{
	fprintf(f,
"usage: " PROG " bootstrap --server coaps://HOST:PORT --ep ID\n"
"           (--psk-identity S --psk HEX | --rpk-key FILE [--server-key FILE]\n"
"            | --cert FILE --key FILE [--ca FILE])\n"
"           --state FILE [--timeout SEC] [--pct CF] [-v]\n"
"\n"
"Client-initiated LwM2M 1.1 bootstrap: DTLS to the Bootstrap Server with the\n"
"factory credential, CON POST /bs?ep=ID&pct=CF, then answer the server's\n"
"Discover, Delete, Write (TLV or SenML-CBOR) and Finish. Exits 0 once Finish\n"
"was acknowledged and FILE (mode 0600, holds secrets) was written.\n"
"\n"
"  --server URI        the Bootstrap Server (coaps://; coap:// without credentials)\n"
"  --ep ID             endpoint client name\n"
"  --psk-identity S    PSK identity (string) ...\n"
"  --psk HEX           ... and key, hex\n"
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
"  -v                  log to stderr (repeat for more)\n");
}

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
		{ "rpk-key", required_argument, NULL, 'r' },
		{ "server-key", required_argument, NULL, 'S' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'K' },
		{ "ca", required_argument, NULL, 'C' },
		{ "state", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "pct", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *server = NULL, *ep = NULL, *psk_id = NULL, *psk = NULL,
	    *rpk = NULL, *server_key = NULL, *cert = NULL, *key = NULL,
	    *ca = NULL, *state = NULL;
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
	nmodes = (psk_id != NULL || psk != NULL) + (rpk != NULL) +
	    (cert != NULL || key != NULL);
	if (nmodes > 1)
		return die("bootstrap: give one of --psk-identity/--psk, "
		    "--rpk-key, --cert/--key");
	kdcdev_host_init(verbosity);
	if (kdcdev_init(&c, ep) != KDC_OK)
		return die("bootstrap: --ep must be 1..%d bytes",
		    KDCDEV_EP_MAX - 1);
	kdcdev_set_log(&c, log_cb, NULL);

	if (psk_id != NULL || psk != NULL) {
		mode = KDCDEV_MODE_PSK;
		if (psk_id == NULL || psk == NULL)
			return die("bootstrap: --psk-identity and --psk go "
			    "together");
		if ((ilen = strlen(psk_id)) == 0 || ilen > sizeof(ident))
			return die("bootstrap: --psk-identity must be 1..%zu "
			    "bytes", sizeof(ident));
		memcpy(ident, psk_id, ilen);
		if (parse_hex(psk, secret, sizeof(secret), &slen) != 0)
			return die("bootstrap: --psk must be hex, at most %zu "
			    "bytes", sizeof(secret));
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
		gnutls_memset(secret, 0, sizeof(secret));
		return die("bootstrap: bad bootstrap account: %s",
		    kdc_err_str(r));
	}
	gnutls_memset(secret, 0, sizeof(secret));

	r = kdcdev_host_bootstrap(&c, (int32_t)pct, (unsigned)timeout * 1000u);
	if (r == KDC_OK)
		r = kdcdev_host_state_save(&c, state);
	if (r != KDC_OK) {
		kdcdev_wipe(&c);
		return fail_r("bootstrap", r);
	}
	{
		size_t si, vi;
		if (kdcdev_dm_account(&c, &si, &vi) == KDC_OK)
			printf("bootstrapped ep=%s server=%s ssid=%d mode=%u\n",
			    c.ep, c.sec[si].uri, c.sec[si].ssid,
			    c.sec[si].mode);
	}
	kdcdev_wipe(&c);
	return 0;
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

/* ==== main =============================================================== */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " SUBCOMMAND [OPTIONS]   (SUBCOMMAND --help for details)\n"
"\n"
"  bootstrap   LwM2M bootstrap with a factory credential; writes --state\n"
"  register    register with the LwM2M server from --state [--deregister]\n");
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
	if (strcmp(argv[1], "register") == 0)
		return cmd_register(argc - 1, argv + 1);
	return die("unknown subcommand '%s' (try --help)", argv[1]);
}
