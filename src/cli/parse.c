/* parse.c: argv -> struct kdc_cli_args, no I/O. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
	const char		*w1, *w2;	/* "device", "add" */
	enum kdc_cli_cmd	 cmd;
	int			 npos;		/* positional args required;
						 * negative: at least -npos */
	const char		*usage;
	const char		*w3;		/* "ace rs add": "add" */
} cmds[] = {
	{ "init", NULL, KDC_CMD_INIT, 0,
	  "iotkdc init [--dir D] [--ca-key pkcs11:URL]\n"
	  "  Create the data dir: iotkdc.conf, wrapping key (wrap.key, 0600),\n"
	  "  ECDSA P-256 root CA (10 years), HTTPS certificate, empty store.\n"
	  "  --ca-key keeps the CA key in a PKCS#11 token instead of wrap.key.\n", NULL },
	{ "serve", NULL, KDC_CMD_SERVE, 0,
	  "iotkdc serve [--dir D]\n"
	  "  Run every face: HTTPS (default 127.0.0.1:8443, TLS 1.3: GET\n"
	  "  /api/v1/health, GET /ca.pem), CoAP over DTLS on udp 5684 (LwM2M\n"
	  "  Bootstrap Server, POST /bs) and the built-in LwM2M Server on udp\n"
	  "  5685 (POST /rd). Ports in iotkdc.conf. Logs to stderr; SIGTERM or\n"
	  "  SIGINT drains requests in flight and stops. SIGHUP re-reads\n"
	  "  iotkdc.conf: [kdc] log_level and sweep_seconds take effect,\n"
	  "  other changed keys are named in a warning and wait for a\n"
	  "  restart.\n", NULL },
	{ "device", "add", KDC_CMD_DEVICE_ADD, 1,
	  "iotkdc device add ID (--psk-identity S (--psk-file F | --psk HEX)\n"
	  "                  | --rpk FILE | --cert) [--profile P]\n"
	  "  Register a device with its manufacturer credential: a PSK of at\n"
	  "  least 16 bytes (hex), a raw public key (PEM or DER SPKI, P-256 or\n"
	  "  Ed25519), or a certificate under a CA added with mfg-ca add.\n"
	  "  --psk-file F reads the hex PSK from F (\"-\": standard input), so it\n"
	  "  is not on the command line, where ps and shell history show it.\n", NULL },
	{ "device", "import", KDC_CMD_DEVICE_IMPORT, 1,
	  "iotkdc device import FILE\n"
	  "  Import a JSON Lines manifest, all or nothing. Lines:\n"
	  "  {\"id\":..,\"psk_identity\":..,\"psk\":\"<hex>\"} | {\"id\":..,\"rpk\":\"<base64 DER>\"}\n"
	  "  | {\"id\":..,\"cert\":true}, each with an optional \"profile\".\n", NULL },
	{ "device", "list", KDC_CMD_DEVICE_LIST, 0,
	  "iotkdc device list [--json]\n", NULL },
	{ "device", "show", KDC_CMD_DEVICE_SHOW, 1,
	  "iotkdc device show ID [--json]\n"
	  "  The device and all its credentials.\n", NULL },
	{ "device", "revoke", KDC_CMD_DEVICE_REVOKE, 1,
	  "iotkdc device revoke ID\n"
	  "  Revoke the device and every live credential it holds.\n", NULL },
	{ "device", "delete", KDC_CMD_DEVICE_DELETE, 1,
	  "iotkdc device delete ID\n"
	  "  Delete the device and its credentials (the audit log keeps them).\n", NULL },
	{ "cred", "list", KDC_CMD_CRED_LIST, 0,
	  "iotkdc cred list [--device ID] [--expiring DAYS] [--json]\n", NULL },
	{ "cred", "revoke", KDC_CMD_CRED_REVOKE, 1,
	  "iotkdc cred revoke CRED\n"
	  "  Revoke one credential by its id (see cred list).\n", NULL },
	{ "mfg-ca", "add", KDC_CMD_MFGCA_ADD, 2,
	  "iotkdc mfg-ca add NAME FILE\n"
	  "  Trust a manufacturer CA (PEM or DER) for certificate-based devices.\n", NULL },
	{ "cert", "sign", KDC_CMD_CERT_SIGN, 1,
	  "iotkdc cert sign CSR --device ID [--days N] [--audience A]\n"
	  "  Issue an operational certificate from a PKCS#10 CSR (PEM or DER;\n"
	  "  ECDSA P-256 or Ed25519); PEM to stdout. Days default to the\n"
	  "  device's profile lifetime. --audience: for that audience of the\n"
	  "  device's profile (default its primary one); it supersedes the\n"
	  "  device's live credential for that audience only.\n", NULL },
	{ "audience", "add", KDC_CMD_AUDIENCE_ADD, 1,
	  "iotkdc audience add NAME --kind K --uri U [--ssid N]\n"
	  "  Register a service that accepts operational credentials, for\n"
	  "  profiles to list ([profile P NAME] in iotkdc.conf). Kinds:\n"
	  "  lwm2m-external (an LwM2M Server the bootstrap writes into the\n"
	  "  device: --uri coaps://host[:port], --ssid 2..65534, unique), mqtt\n"
	  "  (--uri mqtts://...), ace-rs (--uri coaps:// or https://). The\n"
	  "  built-in LwM2M Server is the audience \"lwm2m\", always there.\n"
	  "  Audited. Restart serve to use it in a profile.\n", NULL },
	{ "audience", "list", KDC_CMD_AUDIENCE_LIST, 0,
	  "iotkdc audience list [--json]\n"
	  "  Every audience, the built-in lwm2m first.\n", NULL },
	{ "audience", "show", KDC_CMD_AUDIENCE_SHOW, 1,
	  "iotkdc audience show NAME [--json]\n", NULL },
	{ "ca", "export", KDC_CMD_CA_EXPORT, 0,
	  "iotkdc ca export\n  The CA certificate, PEM, to stdout.\n", NULL },
	{ "tls", "reissue", KDC_CMD_TLS_REISSUE, 0,
	  "iotkdc tls reissue [--dir D]\n"
	  "  Re-issue the listeners' TLS certificate (server.pem, with a new\n"
	  "  key in server.key, wrapped), signed by the CA, for the names in\n"
	  "  iotkdc.conf as it is now: localhost, 127.0.0.1, ::1, [kdc] hosts,\n"
	  "  the host of the LwM2M Server URI the bootstrap writes ([lwm2m]\n"
	  "  server_uri, else [coap] address) and a specific [http]/[coap]\n"
	  "  address; [ca] tls_days. Each file is replaced atomically. Prints\n"
	  "  the names; audited. Restart serve to use it: devices bootstrapped\n"
	  "  from then on get it in /0/x/4; RPK and X.509 devices bootstrapped\n"
	  "  before hold the old key or certificate there and must bootstrap\n"
	  "  again (PSK devices need not).\n", NULL },
	{ "audit", "list", KDC_CMD_AUDIT_LIST, 0,
	  "iotkdc audit list [--json]\n", NULL },
	{ "audit", "verify", KDC_CMD_AUDIT_VERIFY, 0,
	  "iotkdc audit verify\n"
	  "  Check the store's structure (every page readable and\n"
	  "  well-formed, as serve does at start), then the hash chain;\n"
	  "  exits 1 naming the damage or the first broken record.\n", NULL },
	{ "lwm2m", "clients", KDC_CMD_LWM2M_CLIENTS, 0,
	  "iotkdc lwm2m clients [--json]\n"
	  "  Clients registered at the built-in LwM2M Server, with their\n"
	  "  lifetime and last update; 'expired' once lifetime has passed.\n", NULL },
	{ "lwm2m", "bootstrap-device", KDC_CMD_LWM2M_BOOTSTRAP_DEVICE, 1,
	  "iotkdc lwm2m bootstrap-device URI --device ID\n"
	  "  LwM2M server-initiated bootstrap: connect to a device that\n"
	  "  listens at URI (coaps://ADDRESS:PORT, an IP literal) as a DTLS\n"
	  "  client with the device's manufacturer PSK, and run the\n"
	  "  Bootstrap Server's sequence on it (Discover, Delete, Write /0\n"
	  "  and /1, Finish), as after the device's own POST /bs. Exits 0\n"
	  "  once Finish is answered and the credentials are active; the\n"
	  "  step that failed otherwise. Audited. PSK devices only.\n", NULL },
	{ "ace", "rs", KDC_CMD_ACE_RS_ADD, 1,
	  "iotkdc ace rs add AUD (--key-file F | --pubkey FILE) [--profile coap_dtls]\n"
	  "  Register an ACE resource server as the audience AUD (kind ace-rs,\n"
	  "  made if not registered yet). --key-file F: the 16-byte key it\n"
	  "  shares with the AS, hex, in F (mode 0600 or stricter; \"-\":\n"
	  "  standard input), kept wrapped; tokens with a symmetric PoP key are\n"
	  "  COSE_Encrypt0 to it. --pubkey FILE: its P-256 public key (PEM or\n"
	  "  DER SPKI), returned to clients as rs_cnf. Both may be given. The\n"
	  "  RS authenticates to /introspect and /trl as the device named AUD.\n"
	  "  A key is never taken on the command line (--key is refused).\n",
	  "add" },
	{ "ace", "rs", KDC_CMD_ACE_RS_LIST, 0,
	  "iotkdc ace rs list [--json]\n"
	  "  Every resource server: audience, profile, which keys it has.\n",
	  "list" },
	{ "ace", "grant", KDC_CMD_ACE_GRANT, -3,
	  "iotkdc ace grant CLIENT AUD SCOPE... [--refresh]\n"
	  "  Let device CLIENT get access tokens for AUD with any of the\n"
	  "  scopes given (at most 16, each 1..64 bytes, 255 in all);\n"
	  "  --refresh: refresh tokens too. Replaces (and revokes with its\n"
	  "  tokens) an earlier grant for the pair. Audited.\n", NULL },
	{ "ace", "revoke-grant", KDC_CMD_ACE_REVOKE_GRANT, 2,
	  "iotkdc ace revoke-grant CLIENT AUD\n"
	  "  Revoke the grant and every token issued under it: introspection\n"
	  "  answers inactive at once, the TRL lists them until they expire.\n", NULL },
	{ "ace", "tokens", KDC_CMD_ACE_TOKENS, 0,
	  "iotkdc ace tokens [--active] [--json]\n"
	  "  Every token issued (cti, client, audience, scope, kind, PoP kind\n"
	  "  and kid, issued, expires, revoked), oldest first; --active: the\n"
	  "  ones neither revoked nor expired. Never a key or a token.\n", NULL },
	{ "ace", "revoke-token", KDC_CMD_ACE_REVOKE_TOKEN, 1,
	  "iotkdc ace revoke-token CTI\n"
	  "  Revoke one token by its cti (32 hex digits, see ace tokens).\n", NULL },
	{ "ace", "pubkey", KDC_CMD_ACE_PUBKEY, 0,
	  "iotkdc ace pubkey [--cose | --pem]\n"
	  "  The AS public key that signs asymmetric-PoP tokens, for resource\n"
	  "  servers: PEM SPKI (default), or the COSE_Key in hex (--cose).\n"
	  "  Made (as.key) if this data dir predates ACE.\n", NULL },
	{ "ocf", "discover", KDC_CMD_OCF_DISCOVER, 0,
	  "iotkdc ocf discover [--iface IF] [--window MS] [--json]\n"
	  "  Find OCF devices on the link of IF ([ocf] interface): multicast\n"
	  "  GET /oic/res?rt=oic.r.doxm to ff02::158 and 224.0.1.187 port 5683\n"
	  "  for MS milliseconds ([ocf] discovery_window), then an unsecured\n"
	  "  GET /oic/sec/doxm of each: uuid, address, coap/coaps ports, owned,\n"
	  "  the owner transfer methods it offers (rdp, mfgcert, jw).\n", NULL },
	{ "ocf", "onboard", KDC_CMD_OCF_ONBOARD, 1,
	  "iotkdc ocf onboard UUID --otm rdp --pin-file F | --otm mfgcert |\n"
	  "                    --otm jw --unauthenticated [--iface IF] [--window MS]\n"
	  "  Take ownership of the unowned device UUID (as discovered) and\n"
	  "  leave it in RFNOP with an owner PSK only the KDC and it know.\n"
	  "  rdp (Random PIN): the device is asked for a PIN, shows it, and\n"
	  "  the 8 digits are read from F once written after that request\n"
	  "  (waiting up to [ocf] pin_wait seconds). mfgcert: the device's\n"
	  "  manufacturer certificate must chain to a CA added with\n"
	  "  'iotkdc mfg-ca add'. jw (Just Works, anonymous ECDH, suite\n"
	  "  0xFF00) AUTHENTICATES NOBODY: whoever answers on the link first\n"
	  "  gets the owner key, a man in the middle reads and changes\n"
	  "  everything; refused unless --unauthenticated says so for this\n"
	  "  device.\n"
	  "  The device gets a new uuid (printed); every step is recorded, and\n"
	  "  'ocf devices' shows the one that failed. A device whose onboarding\n"
	  "  fails resets itself with a new uuid: discover it again.\n", NULL },
	{ "ocf", "pair", KDC_CMD_OCF_PAIR, 2,
	  "iotkdc ocf pair UUID1 UUID2\n"
	  "  A pairwise PSK between two owned devices: each gets a credential\n"
	  "  for the other (RFPRO, POST /oic/sec/cred, RFNOP).\n", NULL },
	{ "ocf", "cert", KDC_CMD_OCF_CERT, 1,
	  "iotkdc ocf cert UUID\n"
	  "  Trust anchor (the iotkdc CA) and an identity certificate signed\n"
	  "  from the device's /oic/sec/csr (CN uuid:UUID, OCF identity EKU);\n"
	  "  run again to renew it.\n", NULL },
	{ "ocf", "acl", KDC_CMD_OCF_ACL_ADD, 1,
	  "iotkdc ocf acl add UUID --subject S --href H[,H...] --perm crudn\n"
	  "  One ACE into the device's /oic/sec/acl2. S: a device uuid,\n"
	  "  conntype:auth-crypt, conntype:anon-clear or role:NAME[@AUTHORITY].\n"
	  "  H: a resource path, or * (all), + (all secured), - (all public).\n"
	  "  --perm: letters of c(reate) r(etrieve) u(pdate) d(elete) n(otify).\n",
	  "add" },
	{ "ocf", "renew", KDC_CMD_OCF_RENEW, 0,
	  "iotkdc ocf renew [--within DAYS] [--iface IF]\n"
	  "  Renew the identity certificate of every owned OCF device whose\n"
	  "  certificate expires within DAYS (default: a third of [ocf]\n"
	  "  cert_days), as 'ocf cert' does; for a timer (cron, systemd). Exit\n"
	  "  status 1 if one failed (each is named on stderr).\n", NULL },
	{ "ocf", "devices", KDC_CMD_OCF_DEVICES, 0,
	  "iotkdc ocf devices [--json]\n"
	  "  OCF devices the KDC onboarded or tried to: uuid, state, OTM, the\n"
	  "  last step (or the one that failed, and why), endpoints.\n", NULL },
	{ "user", "add", KDC_CMD_USER_ADD, 1,
	  "iotkdc user add NAME [--group G[,G...]]\n"
	  "  A person as a principal: the registry device user.NAME (NAME:\n"
	  "  a-z 0-9 . _ -), in the groups named. A Thing Directory owner can\n"
	  "  let user.NAME or group:G read a TD (its consent's readers).\n", NULL },
	{ "user", "cert", KDC_CMD_USER_CERT, 2,
	  "iotkdc user cert NAME CSR [--days N]\n"
	  "  A TLS client certificate for the user from a PKCS#10 CSR (PEM or\n"
	  "  DER; ECDSA P-256 or Ed25519), CN user.NAME, for N days (365,\n"
	  "  at most 3650); PEM to stdout. The private key stays with the\n"
	  "  user: only the CSR comes here.\n", NULL },
	{ "user", "passwd", KDC_CMD_USER_PASSWD, 1,
	  "iotkdc user passwd NAME\n"
	  "  Set the user's password for HTTP basic on the Thing Directory\n"
	  "  (legacy clients; only when [tdd] basic = true): read from the\n"
	  "  first line of standard input (never the command line), 12..1024\n"
	  "  bytes; an Argon2id hash is kept, never the password.\n", NULL },
	{ "user", "list", KDC_CMD_USER_LIST, 0,
	  "iotkdc user list [--json]\n"
	  "  Users: name, device id, groups, created.\n", NULL },
	{ "ocf", "offboard", KDC_CMD_OCF_OFFBOARD, 1,
	  "iotkdc ocf offboard UUID [--force]\n"
	  "  Hard-reset the device to RFOTM (pstat dos.s=0), revoke it and every\n"
	  "  credential for it, and delete its pairwise keys from the devices\n"
	  "  that hold one. --force: record it even if the device cannot be\n"
	  "  reached (it keeps its credentials until reset by hand). Run again\n"
	  "  on an offboarded device: the deletions from its peers again (for\n"
	  "  one that could not be reached).\n", NULL },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const char overview[] =
    "usage: iotkdc [--dir D] COMMAND [ARGS] [--json]\n"
    "An on-premise key distribution center for IoT devices.\n\n"
    "commands:\n"
    "  init [--ca-key URL]              create a data dir\n"
    "  serve                            run the listeners\n"
    "  device add|import|list|show|revoke|delete\n"
    "  cred list [--device ID] [--expiring DAYS] | cred revoke CRED\n"
    "  mfg-ca add NAME FILE             trust a manufacturer CA\n"
    "  cert sign CSR --device ID [--days N] [--audience A]\n"
    "  audience add|list|show           services credentials are for\n"
    "  ca export                        CA certificate (PEM)\n"
    "  tls reissue                      the listeners' TLS certificate again\n"
    "  audit list|verify                the hash-chained audit log\n"
    "  lwm2m clients                    LwM2M Server registrations\n"
    "  lwm2m bootstrap-device URI --device ID\n"
    "                                   server-initiated bootstrap\n"
    "  ace rs add|list | grant | revoke-grant | tokens | revoke-token | pubkey\n"
    "                                   the ACE-OAuth Authorization Server\n"
    "  ocf discover | onboard | pair | cert | renew | acl add | devices |\n"
    "      offboard\n"
    "                                   the OCF onboarding tool, CMS and AMS\n\n"
    "--dir D: data dir (default $IOTKDC_DIR, else ./var).\n"
    "'iotkdc COMMAND --help' tells more.\n";

const char *
kdc_cli_usage(enum kdc_cli_cmd cmd)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (cmds[i].cmd == cmd)
			return cmds[i].usage;
	return overview;
}

static kdc_err
usage_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static kdc_err
usage_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return KDC_ERR_INVALID_ARG;
}

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')	/* no sign, no leading space */
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Options taking a value: name and where it goes. */
struct valopt {
	const char	 *name;
	const char	**dst;
};

kdc_err
kdc_cli_parse(int argc, char **argv, struct kdc_cli_args *a, char *err,
    size_t err_len)
{
	const char *words[KDC_CLI_POS_MAX + 3], *key_hex = NULL, *days = NULL, *expiring = NULL, *ssid = NULL, *window = NULL, *within = NULL;
	int nwords = 0, ci = -1;

	memset(a, 0, sizeof(*a));
	a->days = -1;
	a->expiring = -1;
	a->ssid = -1;
	a->window = -1;
	a->within = -1;
	if (err_len > 0)
		err[0] = '\0';
	const struct valopt vopts[] = {
		{ "--dir", &a->dir }, { "--psk-identity", &a->psk_identity },
		{ "--psk", &a->psk }, { "--psk-file", &a->psk_file },
		{ "--rpk", &a->rpk },
		{ "--profile", &a->profile }, { "--device", &a->device },
		{ "--ca-key", &a->ca_key }, { "--days", &days },
		{ "--expiring", &expiring }, { "--kind", &a->kind },
		{ "--uri", &a->uri }, { "--ssid", &ssid },
		{ "--audience", &a->audience }, { "--key-file", &a->key_file },
		{ "--key", &key_hex }, { "--pubkey", &a->pubkey },
		{ "--iface", &a->iface }, { "--window", &window },
		{ "--otm", &a->otm }, { "--pin-file", &a->pin_file },
		{ "--subject", &a->subject }, { "--href", &a->href },
		{ "--perm", &a->perm }, { "--within", &within },
		{ "--group", &a->group },
	};
	const struct { const char *name; int *dst; } flags[] = {
		{ "--cert", &a->cert }, { "--refresh", &a->refresh },
		{ "--active", &a->active }, { "--cose", &a->cose },
		{ "--pem", &a->pem }, { "--force", &a->force },
		{ "--unauthenticated", &a->unauthenticated },
	};

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq;
		size_t k, nlen;

		if (strcmp(arg, "--") == 0)
			return usage_err(err, err_len, "unexpected '--'");
		if (strcmp(arg, "--json") == 0) {
			a->json = 1;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			a->help = 1;
			continue;
		}
		if (strcmp(arg, "--version") == 0) {
			a->version = 1;
			continue;
		}
		for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (strcmp(arg, flags[k].name) == 0)
				break;
		if (k < sizeof(flags) / sizeof(flags[0])) {
			*flags[k].dst = 1;
			continue;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			if (nwords == (int)(sizeof(words) / sizeof(words[0])))
				return usage_err(err, err_len,
				    "too many arguments at '%s'", arg);
			words[nwords++] = arg;
			continue;
		}
		eq = strchr(arg, '=');
		nlen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		for (k = 0; k < sizeof(vopts) / sizeof(vopts[0]); k++)
			if (strlen(vopts[k].name) == nlen &&
			    strncmp(vopts[k].name, arg, nlen) == 0)
				break;
		if (k == sizeof(vopts) / sizeof(vopts[0]))
			return usage_err(err, err_len, "unknown option '%s'",
			    arg);
		if (eq != NULL)
			*vopts[k].dst = eq + 1;
		else if (i + 1 < argc)
			*vopts[k].dst = argv[++i];
		else
			return usage_err(err, err_len, "%s needs a value",
			    vopts[k].name);
	}
	if (nwords == 0) {
		if (a->help || a->version)
			return KDC_OK;
		return usage_err(err, err_len, "no command given (try --help)");
	}
	for (size_t i = 0; i < NCMDS; i++) {
		if (strcmp(cmds[i].w1, words[0]) != 0)
			continue;
		if (cmds[i].w2 == NULL ||
		    (nwords > 1 && strcmp(cmds[i].w2, words[1]) == 0 &&
		    (cmds[i].w3 == NULL || (nwords > 2 &&
		    strcmp(cmds[i].w3, words[2]) == 0)))) {
			ci = (int)i;
			break;
		}
	}
	if (ci < 0 && a->help && (nwords == 1 || (nwords == 2 &&
	    (strcmp(words[0], "ace") == 0 || strcmp(words[0], "ocf") == 0)))) {
		for (size_t i = 0; i < NCMDS; i++)
			if (strcmp(cmds[i].w1, words[0]) == 0)
				return KDC_OK;	/* overview */
	}
	if (ci < 0) {
		for (size_t i = 0; i < NCMDS; i++)
			if (strcmp(cmds[i].w1, words[0]) == 0)
				return usage_err(err, err_len,
				    "unknown '%s' subcommand '%s'", words[0],
				    nwords > 1 ? words[1] : "(none)");
		return usage_err(err, err_len, "unknown command '%s'",
		    words[0]);
	}
	a->cmd = cmds[ci].cmd;
	if (a->help)
		return KDC_OK;
	{
		int skip = cmds[ci].w3 != NULL ? 3 : cmds[ci].w2 != NULL ? 2 :
		    1, want = cmds[ci].npos < 0 ? -cmds[ci].npos :
		    cmds[ci].npos;
		a->npos = nwords - skip;
		if (cmds[ci].npos < 0 ? a->npos < want : a->npos != want)
			return usage_err(err, err_len,
			    "%s%s%s%s%s takes %s%d argument%s, got %d",
			    cmds[ci].w1, cmds[ci].w2 != NULL ? " " : "",
			    cmds[ci].w2 != NULL ? cmds[ci].w2 : "",
			    cmds[ci].w3 != NULL ? " " : "",
			    cmds[ci].w3 != NULL ? cmds[ci].w3 : "",
			    cmds[ci].npos < 0 ? "at least " : "", want,
			    want == 1 ? "" : "s", a->npos);
		if (a->npos > KDC_CLI_POS_MAX)
			return usage_err(err, err_len, "too many arguments");
		for (int i = 0; i < a->npos; i++)
			a->pos[i] = words[skip + i];
	}
	if (days != NULL && parse_long(days, 1, 36500, &a->days) != 0)
		return usage_err(err, err_len,
		    "--days wants a number of days from 1 to 36500");
	if (expiring != NULL &&
	    parse_long(expiring, 0, 36500, &a->expiring) != 0)
		return usage_err(err, err_len,
		    "--expiring wants a number of days from 0 to 36500");

	/* per-command option rules */
	if (a->cmd == KDC_CMD_DEVICE_ADD) {
		bool has_psk = a->psk != NULL || a->psk_file != NULL;
		int forms = (has_psk || a->psk_identity != NULL) +
		    (a->rpk != NULL) + a->cert;
		if (forms != 1)
			return usage_err(err, err_len, "device add wants one "
			    "of --psk-identity/--psk, --rpk FILE, --cert");
		if (a->psk != NULL && a->psk_file != NULL)
			return usage_err(err, err_len,
			    "--psk or --psk-file, not both");
		if (has_psk != (a->psk_identity != NULL))
			return usage_err(err, err_len,
			    "--psk (or --psk-file) and --psk-identity go "
			    "together");
	} else if (a->psk != NULL || a->psk_file != NULL ||
	    a->psk_identity != NULL || a->rpk != NULL || a->cert ||
	    (a->profile != NULL && a->cmd != KDC_CMD_ACE_RS_ADD))
		return usage_err(err, err_len, "credential options belong to "
		    "'device add'");
	if (a->cmd == KDC_CMD_CERT_SIGN && a->device == NULL)
		return usage_err(err, err_len, "cert sign needs --device ID");
	if (a->cmd == KDC_CMD_LWM2M_BOOTSTRAP_DEVICE && a->device == NULL)
		return usage_err(err, err_len, "lwm2m bootstrap-device needs "
		    "--device ID");
	if (a->device != NULL && a->cmd != KDC_CMD_CERT_SIGN &&
	    a->cmd != KDC_CMD_CRED_LIST &&
	    a->cmd != KDC_CMD_LWM2M_BOOTSTRAP_DEVICE)
		return usage_err(err, err_len, "--device belongs to 'cred list', "
		    "'cert sign' and 'lwm2m bootstrap-device'");
	if (a->days != -1 && a->cmd != KDC_CMD_CERT_SIGN)
		return usage_err(err, err_len, "--days belongs to 'cert sign'");
	if (a->expiring != -1 && a->cmd != KDC_CMD_CRED_LIST)
		return usage_err(err, err_len,
		    "--expiring belongs to 'cred list'");
	if (ssid != NULL && parse_long(ssid, 1, 65534, &a->ssid) != 0)
		return usage_err(err, err_len,
		    "--ssid wants a number from 1 to 65534");
	if (a->cmd == KDC_CMD_AUDIENCE_ADD && a->kind == NULL)
		return usage_err(err, err_len, "audience add needs --kind K");
	if ((a->kind != NULL || a->uri != NULL || a->ssid != -1) &&
	    a->cmd != KDC_CMD_AUDIENCE_ADD)
		return usage_err(err, err_len,
		    "--kind, --uri, --ssid belong to 'audience add'");
	if (a->audience != NULL && a->cmd != KDC_CMD_CERT_SIGN)
		return usage_err(err, err_len,
		    "--audience belongs to 'cert sign'");
	/* ACE */
	if (key_hex != NULL)
		return usage_err(err, err_len, "--key HEX would put the RS "
		    "key on the command line (ps, shell history): use "
		    "--key-file F (\"-\": standard input)");
	if (a->cmd == KDC_CMD_ACE_RS_ADD) {
		if (a->key_file == NULL && a->pubkey == NULL)
			return usage_err(err, err_len, "ace rs add wants "
			    "--key-file F, --pubkey FILE, or both");
		if (a->profile != NULL && strcmp(a->profile, "coap_dtls") != 0)
			return usage_err(err, err_len, "--profile: coap_dtls "
			    "is the one profile the AS speaks");
	} else if (a->key_file != NULL || a->pubkey != NULL)
		return usage_err(err, err_len,
		    "--key-file, --pubkey belong to 'ace rs add'");
	if (a->refresh && a->cmd != KDC_CMD_ACE_GRANT)
		return usage_err(err, err_len,
		    "--refresh belongs to 'ace grant'");
	if (a->active && a->cmd != KDC_CMD_ACE_TOKENS)
		return usage_err(err, err_len,
		    "--active belongs to 'ace tokens'");
	if ((a->cose || a->pem) && a->cmd != KDC_CMD_ACE_PUBKEY)
		return usage_err(err, err_len,
		    "--cose, --pem belong to 'ace pubkey'");
	if (a->cose && a->pem)
		return usage_err(err, err_len, "--cose or --pem, not both");
	/* OCF */
	{
		bool wants_if = a->cmd == KDC_CMD_OCF_DISCOVER ||
		    a->cmd == KDC_CMD_OCF_ONBOARD || a->cmd == KDC_CMD_OCF_PAIR ||
		    a->cmd == KDC_CMD_OCF_CERT || a->cmd == KDC_CMD_OCF_ACL_ADD ||
		    a->cmd == KDC_CMD_OCF_OFFBOARD || a->cmd == KDC_CMD_OCF_RENEW;

		if ((a->iface != NULL || window != NULL) && !wants_if)
			return usage_err(err, err_len, "--iface, --window "
			    "belong to the ocf commands that reach devices");
		if (window != NULL &&
		    parse_long(window, 100, 30000, &a->window) != 0)
			return usage_err(err, err_len, "--window wants "
			    "milliseconds from 100 to 30000");
	}
	if (a->cmd == KDC_CMD_OCF_ONBOARD) {
		if (a->otm == NULL)
			return usage_err(err, err_len, "ocf onboard needs "
			    "--otm rdp|mfgcert");
		if (strcmp(a->otm, "rdp") != 0 &&
		    strcmp(a->otm, "mfgcert") != 0 && strcmp(a->otm, "jw") != 0)
			return usage_err(err, err_len, "--otm: rdp, mfgcert "
			    "or jw");
		if ((strcmp(a->otm, "rdp") == 0) != (a->pin_file != NULL))
			return usage_err(err, err_len, "--pin-file F goes "
			    "with --otm rdp (and only with it)");
	} else if (a->otm != NULL || a->pin_file != NULL)
		return usage_err(err, err_len,
		    "--otm, --pin-file belong to 'ocf onboard'");
	if (a->cmd == KDC_CMD_OCF_ACL_ADD) {
		if (a->subject == NULL || a->href == NULL || a->perm == NULL)
			return usage_err(err, err_len, "ocf acl add needs "
			    "--subject, --href and --perm");
	} else if (a->subject != NULL || a->href != NULL || a->perm != NULL)
		return usage_err(err, err_len,
		    "--subject, --href, --perm belong to 'ocf acl add'");
	if (a->unauthenticated && (a->otm == NULL ||
	    strcmp(a->otm, "jw") != 0))
		return usage_err(err, err_len,
		    "--unauthenticated belongs to 'ocf onboard --otm jw'");
	if (within != NULL && (a->cmd != KDC_CMD_OCF_RENEW ||
	    parse_long(within, 0, 36500, &a->within) != 0))
		return usage_err(err, err_len, "--within DAYS (0..36500) "
		    "belongs to 'ocf renew'");
	if (a->force && a->cmd != KDC_CMD_OCF_OFFBOARD)
		return usage_err(err, err_len,
		    "--force belongs to 'ocf offboard'");
	if (a->ca_key != NULL && (a->cmd != KDC_CMD_INIT ||
	    strncmp(a->ca_key, "pkcs11:", 7) != 0))
		return usage_err(err, err_len,
		    "--ca-key takes a pkcs11: URL and belongs to 'init'");
	return KDC_OK;
}
