/*
 * test_cli.c: kdc_cli_parse() and kdc_cli_usage(), the admin command line
 * of DESIGN §5. Parsing is pure, so no data dir is needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "cli/cli.h"

#define MAXARGS 16
/* argv as a compound literal: ARGV("device", "list") -> iotkdc device list */
#define ARGV(...) ((const char *const[]){ "iotkdc", __VA_ARGS__, NULL })

static kdc_err
parse_w(const char *const *w, struct kdc_cli_args *a, char *err,
    size_t err_len)
{
	char *argv[MAXARGS + 1];
	int argc = 0;

	for (; w[argc] != NULL; argc++) {
		assert_true(argc < MAXARGS);
		/* the parser borrows argv's strings and never writes them */
		argv[argc] = (char *)(uintptr_t)w[argc];
	}
	argv[argc] = NULL;
	return kdc_cli_parse(argc, argv, a, err, err_len);
}

/* Parse w, expect success and an empty err. */
static void
ok(const char *const *w, struct kdc_cli_args *a)
{
	char err[256];
	kdc_err r;

	memset(err, 'x', sizeof(err));
	r = parse_w(w, a, err, sizeof(err));
	if (r != KDC_OK) {
		fail_msg("'%s %s %s %s ...': %s: %s", w[1] ? w[1] : "",
		    w[1] && w[2] ? w[2] : "", w[1] && w[2] && w[3] ? w[3] : "",
		    w[1] && w[2] && w[3] && w[4] ? w[4] : "",
		    kdc_err_name(r), err);
	}
	assert_string_equal(err, "");
}

/* Parse w, expect a usage error with a one-line reason containing needle
 * (if not NULL). */
static void
bad(const char *const *w, const char *needle)
{
	struct kdc_cli_args a;
	char err[256];
	kdc_err r;

	memset(err, 0, sizeof(err));
	r = parse_w(w, &a, err, sizeof(err));
	if (r != KDC_ERR_INVALID_ARG) {
		fail_msg("'%s %s %s ...': got %s, want INVALID_ARG",
		    w[1] ? w[1] : "", w[1] && w[2] ? w[2] : "",
		    w[1] && w[2] && w[3] ? w[3] : "", kdc_err_name(r));
	}
	assert_true(strlen(err) > 0);
	assert_null(strchr(err, '\n'));
	if (needle != NULL && strstr(err, needle) == NULL)
		fail_msg("err '%s' does not mention '%s'", err, needle);
}

static void
assert_defaults(const struct kdc_cli_args *a)
{
	assert_null(a->dir);
	assert_int_equal(a->json, 0);
	assert_int_equal(a->help, 0);
	assert_int_equal(a->version, 0);
	assert_null(a->psk_identity);
	assert_null(a->psk);
	assert_null(a->rpk);
	assert_int_equal(a->cert, 0);
	assert_null(a->profile);
	assert_null(a->device);
	assert_null(a->ca_key);
	assert_int_equal(a->days, -1);
	assert_int_equal(a->expiring, -1);
	assert_null(a->kind);
	assert_null(a->uri);
	assert_int_equal(a->ssid, -1);
	assert_null(a->audience);
}

/* ---- every command of DESIGN §5 ---------------------------------------- */

static const struct {
	const char		*argv[8];
	enum kdc_cli_cmd	 cmd;
	int			 npos;
	const char		*pos0, *pos1;
} cmds[] = {
	{ { "iotkdc", "init", NULL }, KDC_CMD_INIT, 0, NULL, NULL },
	{ { "iotkdc", "serve", NULL }, KDC_CMD_SERVE, 0, NULL, NULL },
	{ { "iotkdc", "device", "add", "urn:dev:1", "--cert", NULL },
	  KDC_CMD_DEVICE_ADD, 1, "urn:dev:1", NULL },
	{ { "iotkdc", "device", "import", "m.jsonl", NULL },
	  KDC_CMD_DEVICE_IMPORT, 1, "m.jsonl", NULL },
	{ { "iotkdc", "device", "list", NULL }, KDC_CMD_DEVICE_LIST, 0,
	  NULL, NULL },
	{ { "iotkdc", "device", "show", "d1", NULL }, KDC_CMD_DEVICE_SHOW, 1,
	  "d1", NULL },
	{ { "iotkdc", "device", "revoke", "d2", NULL },
	  KDC_CMD_DEVICE_REVOKE, 1, "d2", NULL },
	{ { "iotkdc", "device", "delete", "d3", NULL },
	  KDC_CMD_DEVICE_DELETE, 1, "d3", NULL },
	{ { "iotkdc", "cred", "list", NULL }, KDC_CMD_CRED_LIST, 0,
	  NULL, NULL },
	{ { "iotkdc", "cred", "revoke", "42", NULL }, KDC_CMD_CRED_REVOKE, 1,
	  "42", NULL },
	{ { "iotkdc", "mfg-ca", "add", "acme", "acme.pem", NULL },
	  KDC_CMD_MFGCA_ADD, 2, "acme", "acme.pem" },
	{ { "iotkdc", "cert", "sign", "d.csr", "--device", "d", NULL },
	  KDC_CMD_CERT_SIGN, 1, "d.csr", NULL },
	{ { "iotkdc", "ca", "export", NULL }, KDC_CMD_CA_EXPORT, 0,
	  NULL, NULL },
	{ { "iotkdc", "audit", "list", NULL }, KDC_CMD_AUDIT_LIST, 0,
	  NULL, NULL },
	{ { "iotkdc", "audit", "verify", NULL }, KDC_CMD_AUDIT_VERIFY, 0,
	  NULL, NULL },
	{ { "iotkdc", "lwm2m", "clients", NULL }, KDC_CMD_LWM2M_CLIENTS, 0,
	  NULL, NULL },
	{ { "iotkdc", "lwm2m", "bootstrap-device", "coaps://127.0.0.1:5690",
	  "--device", "d", NULL }, KDC_CMD_LWM2M_BOOTSTRAP_DEVICE, 1,
	  "coaps://127.0.0.1:5690", NULL },
	{ { "iotkdc", "tls", "reissue", NULL }, KDC_CMD_TLS_REISSUE, 0,
	  NULL, NULL },
	{ { "iotkdc", "audience", "add", "ext1", "--kind=mqtt", NULL },
	  KDC_CMD_AUDIENCE_ADD, 1, "ext1", NULL },
	{ { "iotkdc", "audience", "list", NULL }, KDC_CMD_AUDIENCE_LIST, 0,
	  NULL, NULL },
	{ { "iotkdc", "audience", "show", "ext1", NULL },
	  KDC_CMD_AUDIENCE_SHOW, 1, "ext1", NULL },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void
test_every_command(void **state)
{
	struct kdc_cli_args a;
	int seen[KDC_CMD_AUDIENCE_SHOW + 1] = { 0 };

	(void)state;
	for (size_t i = 0; i < NCMDS; i++) {
		ok(cmds[i].argv, &a);
		assert_int_equal(a.cmd, cmds[i].cmd);
		assert_int_equal(a.npos, cmds[i].npos);
		if (cmds[i].pos0 != NULL)
			assert_string_equal(a.pos[0], cmds[i].pos0);
		if (cmds[i].pos1 != NULL)
			assert_string_equal(a.pos[1], cmds[i].pos1);
		assert_null(a.dir);
		assert_int_equal(a.json, 0);
		assert_int_equal(a.help, 0);
		assert_int_equal(a.days, -1);
		assert_int_equal(a.expiring, -1);
		seen[a.cmd]++;
	}
	/* every enum value but NONE is reachable, once */
	for (int c = KDC_CMD_INIT; c <= KDC_CMD_AUDIENCE_SHOW; c++)
		assert_int_equal(seen[c], 1);
}

#define TEST_DIR "/tmp/kdc dir"

/* w = argv (nw words) with --dir and --json inserted before word at, or
 * after the last when at == nw; form 0 is "--dir D", 1 is "--dir=D". */
static void
with_dir_json(const char *const *argv, int nw, int at, int form,
    const char **w)
{
	int n = 0;

	for (int k = 0; k <= nw; k++) {
		if (k == at) {
			if (form == 0) {
				w[n++] = "--dir";
				w[n++] = TEST_DIR;
			} else
				w[n++] = "--dir=" TEST_DIR;
			w[n++] = "--json";
		}
		if (k < nw)
			w[n++] = argv[k];
	}
	w[n] = NULL;
}

/* Each command also with --dir and --json before, between and after its
 * words, in both option spellings. */
static void
test_dir_json_anywhere(void **state)
{
	struct kdc_cli_args a;

	(void)state;
	for (size_t i = 0; i < NCMDS; i++) {
		const char *w[MAXARGS];
		int nw = 0;

		while (cmds[i].argv[nw] != NULL)
			nw++;
		for (int at = 1; at <= nw; at++) {
			/* not between an option and its value */
			if (strcmp(cmds[i].argv[at - 1], "--device") == 0)
				continue;
			for (int form = 0; form < 2; form++) {
				with_dir_json(cmds[i].argv, nw, at, form, w);
				ok(w, &a);
				assert_int_equal(a.cmd, cmds[i].cmd);
				assert_int_equal(a.npos, cmds[i].npos);
				assert_string_equal(a.dir, TEST_DIR);
				assert_int_equal(a.json, 1);
				if (cmds[i].pos0 != NULL)
					assert_string_equal(a.pos[0],
					    cmds[i].pos0);
				if (cmds[i].pos1 != NULL)
					assert_string_equal(a.pos[1],
					    cmds[i].pos1);
			}
		}
	}
	/* --dir= gives the text after the first '=' */
	ok(ARGV("--dir=a=b", "serve"), &a);
	assert_string_equal(a.dir, "a=b");
	/* a value may start with '-' */
	ok(ARGV("serve", "--dir", "-odd"), &a);
	assert_string_equal(a.dir, "-odd");
	/* a lone "-" is a positional */
	ok(ARGV("device", "import", "-"), &a);
	assert_string_equal(a.pos[0], "-");
}

static void
test_device_add(void **state)
{
	struct kdc_cli_args a;

	(void)state;
	ok(ARGV("device", "add", "d", "--psk-identity", "id1", "--psk",
	    "00112233445566778899aabbccddeeff"), &a);
	assert_int_equal(a.cmd, KDC_CMD_DEVICE_ADD);
	assert_string_equal(a.pos[0], "d");
	assert_string_equal(a.psk_identity, "id1");
	assert_string_equal(a.psk, "00112233445566778899aabbccddeeff");
	assert_null(a.rpk);
	assert_int_equal(a.cert, 0);
	assert_null(a.profile);

	ok(ARGV("device", "add", "--psk=0011", "d", "--psk-identity=id=2",
	    "--profile=sensors"), &a);
	assert_string_equal(a.pos[0], "d");
	assert_string_equal(a.psk_identity, "id=2");
	assert_string_equal(a.psk, "0011");
	assert_string_equal(a.profile, "sensors");

	ok(ARGV("device", "add", "d", "--rpk", "key.pem", "--profile", "p"),
	    &a);
	assert_string_equal(a.rpk, "key.pem");
	assert_string_equal(a.profile, "p");
	assert_null(a.psk);
	ok(ARGV("device", "add", "--rpk=key.der", "d"), &a);
	assert_string_equal(a.rpk, "key.der");

	ok(ARGV("--cert", "device", "add", "d"), &a);
	assert_int_equal(a.cert, 1);
	assert_null(a.rpk);
	assert_null(a.psk);

	/* zero or two credential forms */
	bad(ARGV("device", "add", "d"), "one of");
	bad(ARGV("device", "add", "d", "--profile", "p"), "one of");
	bad(ARGV("device", "add", "d", "--rpk", "k", "--cert"), "one of");
	bad(ARGV("device", "add", "d", "--psk-identity", "i", "--psk", "00",
	    "--cert"), "one of");
	bad(ARGV("device", "add", "d", "--psk-identity", "i", "--psk", "00",
	    "--rpk", "k"), "one of");
	bad(ARGV("device", "add", "d", "--psk", "00", "--rpk", "k"), "one of");
	/* the PSK from a file or standard input, not the command line */
	ok(ARGV("device", "add", "d", "--psk-identity", "i", "--psk-file",
	    "k.hex"), &a);
	assert_string_equal(a.psk_file, "k.hex");
	assert_null(a.psk);
	ok(ARGV("device", "add", "d", "--psk-file=-", "--psk-identity=i"), &a);
	assert_string_equal(a.psk_file, "-");
	bad(ARGV("device", "add", "d", "--psk-identity", "i", "--psk", "00",
	    "--psk-file", "k"), "not both");
	bad(ARGV("device", "add", "d", "--psk-file", "k"), "--psk-identity");
	bad(ARGV("device", "add", "d", "--psk-file", "k", "--cert"), "one of");
	bad(ARGV("device", "list", "--psk-file", "k"), "device add");
	bad(ARGV("device", "add", "d", "--psk-identity", "i", "--psk-file"),
	    "--psk-file needs a value");
	/* half a PSK */
	bad(ARGV("device", "add", "d", "--psk", "0011"), "--psk-identity");
	bad(ARGV("device", "add", "d", "--psk-identity", "i"),
	    "--psk-identity");
	/* positionals */
	bad(ARGV("device", "add", "--cert"), "takes 1 argument, got 0");
	bad(ARGV("device", "add", "a", "b", "--cert"),
	    "takes 1 argument, got 2");
}

static void
test_cred_cert_init(void **state)
{
	struct kdc_cli_args a;

	(void)state;
	ok(ARGV("cred", "list", "--device", "d", "--expiring", "30"), &a);
	assert_int_equal(a.cmd, KDC_CMD_CRED_LIST);
	assert_string_equal(a.device, "d");
	assert_int_equal(a.expiring, 30);
	ok(ARGV("cred", "list", "--device=d2", "--expiring=0", "--json"), &a);
	assert_string_equal(a.device, "d2");
	assert_int_equal(a.expiring, 0);
	assert_int_equal(a.json, 1);
	ok(ARGV("cred", "list", "--expiring", "36500"), &a);
	assert_int_equal(a.expiring, 36500);
	assert_null(a.device);

	ok(ARGV("cert", "sign", "d.csr", "--device", "d", "--days", "30"), &a);
	assert_int_equal(a.cmd, KDC_CMD_CERT_SIGN);
	assert_string_equal(a.pos[0], "d.csr");
	assert_string_equal(a.device, "d");
	assert_int_equal(a.days, 30);
	ok(ARGV("--days=36500", "--device=d", "cert", "sign", "x.csr"), &a);
	assert_int_equal(a.days, 36500);
	assert_string_equal(a.pos[0], "x.csr");
	ok(ARGV("cert", "sign", "x.csr", "--device", "d", "--days", "1"), &a);
	assert_int_equal(a.days, 1);
	ok(ARGV("cert", "sign", "x.csr", "--device", "d"), &a);
	assert_int_equal(a.days, -1);
	assert_null(a.audience);
	ok(ARGV("cert", "sign", "x.csr", "--device", "d", "--audience",
	    "ext1"), &a);
	assert_string_equal(a.audience, "ext1");

	ok(ARGV("audience", "add", "e", "--kind", "lwm2m-external", "--uri",
	    "coaps://h:5684", "--ssid=101"), &a);
	assert_int_equal(a.cmd, KDC_CMD_AUDIENCE_ADD);
	assert_string_equal(a.pos[0], "e");
	assert_string_equal(a.kind, "lwm2m-external");
	assert_string_equal(a.uri, "coaps://h:5684");
	assert_int_equal(a.ssid, 101);
	ok(ARGV("audience", "add", "b", "--kind=mqtt", "--uri",
	    "mqtts://b"), &a);
	assert_int_equal(a.ssid, -1);
	ok(ARGV("audience", "show", "b", "--json"), &a);
	assert_int_equal(a.cmd, KDC_CMD_AUDIENCE_SHOW);
	assert_int_equal(a.json, 1);

	ok(ARGV("init", "--ca-key", "pkcs11:token=t;object=ca"), &a);
	assert_int_equal(a.cmd, KDC_CMD_INIT);
	assert_string_equal(a.ca_key, "pkcs11:token=t;object=ca");
	ok(ARGV("init", "--ca-key=pkcs11:token=t;object=ca;pin-value=1"), &a);
	assert_string_equal(a.ca_key, "pkcs11:token=t;object=ca;pin-value=1");
	ok(ARGV("init"), &a);
	assert_defaults(&a);

	ok(ARGV("device", "list", "--json"), &a);
	assert_int_equal(a.json, 1);
	/* the last of a repeated option wins */
	ok(ARGV("--dir", "a", "serve", "--dir=b"), &a);
	assert_string_equal(a.dir, "b");
}

static void
test_errors(void **state)
{
	const char *const none[] = { "iotkdc", NULL };

	(void)state;
	bad(none, "no command");
	bad(ARGV("--json"), "no command");
	bad(ARGV("--dir", "d"), "no command");
	/* unknown command / subcommand */
	bad(ARGV("frobnicate"), "unknown command 'frobnicate'");
	bad(ARGV("Device", "list"), "unknown command");
	bad(ARGV("device", "frob", "x"), "subcommand 'frob'");
	bad(ARGV("device"), "subcommand");
	bad(ARGV("cred"), "subcommand");
	bad(ARGV("audit", "check"), "subcommand 'check'");
	bad(ARGV("ca", "import"), "subcommand");
	bad(ARGV("list", "device"), "unknown command");
	/* unknown options, including near misses and prefixes */
	bad(ARGV("serve", "--frob"), "unknown option '--frob'");
	bad(ARGV("serve", "-x"), "unknown option");
	bad(ARGV("serve", "--JSON"), "unknown option");
	bad(ARGV("serve", "--json=1"), "unknown option");
	bad(ARGV("device", "add", "d", "--cert=true"), "unknown option");
	bad(ARGV("device", "add", "d", "--psk-ident", "i", "--psk", "00"),
	    "unknown option");
	bad(ARGV("serve", "--di", "x"), "unknown option");
	bad(ARGV("serve", "--"), "'--'");
	bad(ARGV("device", "show", "--", "-d"), "'--'");
	/* missing value */
	bad(ARGV("serve", "--dir"), "--dir needs a value");
	bad(ARGV("device", "add", "d", "--psk-identity", "i", "--psk"),
	    "--psk needs a value");
	bad(ARGV("cert", "sign", "c", "--device", "d", "--days"),
	    "--days needs a value");
	bad(ARGV("cred", "list", "--device"), "needs a value");
	bad(ARGV("init", "--ca-key"), "needs a value");
	/* positional counts */
	bad(ARGV("init", "x"), "takes 0 arguments, got 1");
	bad(ARGV("serve", "x"), "takes 0 arguments");
	bad(ARGV("device", "import"), "takes 1 argument, got 0");
	bad(ARGV("device", "list", "x"), "takes 0 arguments");
	bad(ARGV("device", "show"), "takes 1 argument");
	bad(ARGV("device", "show", "a", "b"), "got 2");
	bad(ARGV("device", "revoke"), "takes 1 argument");
	bad(ARGV("device", "delete"), "takes 1 argument");
	bad(ARGV("cred", "list", "x"), "takes 0 arguments");
	bad(ARGV("cred", "revoke"), "takes 1 argument");
	bad(ARGV("mfg-ca", "add", "name"), "takes 2 arguments, got 1");
	bad(ARGV("mfg-ca", "add", "a", "b", "c"), "takes 2 arguments, got 3");
	bad(ARGV("cert", "sign", "--device", "d"), "takes 1 argument");
	bad(ARGV("ca", "export", "x"), "takes 0 arguments");
	bad(ARGV("audit", "list", "x"), "takes 0 arguments");
	bad(ARGV("audit", "verify", "x"), "takes 0 arguments");
	/* --days: 1..36500, decimal, nothing after */
	bad(ARGV("cert", "sign", "c", "--device", "d", "--days", "0"),
	    "--days");
	bad(ARGV("cert", "sign", "c", "--device", "d", "--days", "abc"),
	    "--days");
	bad(ARGV("cert", "sign", "c", "--device", "d", "--days", "36501"),
	    "--days");
	bad(ARGV("cert", "sign", "c", "--device", "d", "--days=-1"), "--days");
	bad(ARGV("cert", "sign", "c", "--device", "d", "--days="), "--days");
	bad(ARGV("cert", "sign", "c", "--device", "d", "--days", "5x"),
	    "--days");
	bad(ARGV("cert", "sign", "c", "--device", "d", "--days", "1.5"),
	    "--days");
	bad(ARGV("cert", "sign", "c", "--device", "d", "--days",
	    "99999999999999999999999"), "--days");
	bad(ARGV("cred", "list", "--days", "5"), "--days belongs");
	/* --expiring: 0..36500, only on cred list */
	bad(ARGV("cred", "list", "--expiring", "-1"), "--expiring");
	bad(ARGV("cred", "list", "--expiring", "36501"), "--expiring");
	bad(ARGV("cred", "list", "--expiring", "soon"), "--expiring");
	bad(ARGV("device", "list", "--expiring", "5"), "--expiring belongs");
	bad(ARGV("cert", "sign", "c", "--device", "d", "--expiring", "5"),
	    "--expiring belongs");
	bad(ARGV("audit", "list", "--expiring=1"), "--expiring belongs");
	/* --ca-key: a pkcs11: URL, on init only */
	bad(ARGV("init", "--ca-key", "file"), "pkcs11:");
	bad(ARGV("init", "--ca-key", "/etc/ca.key"), "pkcs11:");
	bad(ARGV("init", "--ca-key="), "pkcs11:");
	bad(ARGV("init", "--ca-key", "PKCS11:token=t"), "pkcs11:");
	bad(ARGV("serve", "--ca-key", "pkcs11:token=t"), "pkcs11:");
	/* --device: cert sign needs it; only cred list and cert sign take it */
	bad(ARGV("cert", "sign", "c.csr"), "--device");
	bad(ARGV("cert", "sign", "c.csr", "--days", "30"), "--device");
	bad(ARGV("device", "show", "d", "--device", "d"), "--device belongs");
	bad(ARGV("audit", "list", "--device=d"), "--device belongs");
	/* credential options belong to device add */
	bad(ARGV("device", "list", "--cert"), "device add");
	bad(ARGV("device", "show", "d", "--profile", "p"), "device add");
	bad(ARGV("init", "--psk", "00"), "device add");
	bad(ARGV("device", "import", "f", "--rpk", "k"), "device add");
	bad(ARGV("cert", "sign", "c", "--device", "d", "--psk-identity", "i"),
	    "device add");
	/* audience add: --kind needed; --kind, --uri, --ssid its own;
	 * --ssid 1..65534; --audience on cert sign only */
	bad(ARGV("audience", "add", "a", "--uri", "mqtts://h"), "--kind");
	bad(ARGV("audience", "add", "a", "--kind", "mqtt", "--ssid", "0"),
	    "--ssid");
	bad(ARGV("audience", "add", "a", "--kind", "mqtt", "--ssid",
	    "65535"), "--ssid");
	bad(ARGV("audience", "add", "a", "--kind", "mqtt", "--ssid", "x"),
	    "--ssid");
	bad(ARGV("audience", "list", "--kind", "mqtt"), "belong to 'audience");
	bad(ARGV("audience", "show", "a", "--uri", "u"), "belong to 'audience");
	bad(ARGV("cred", "list", "--ssid", "5"), "belong to 'audience");
	bad(ARGV("audience", "add", "a", "b", "--kind", "mqtt"),
	    "takes 1 argument");
	bad(ARGV("cred", "list", "--audience", "a"), "--audience belongs");
}

static void
test_help(void **state)
{
	struct kdc_cli_args a;
	const char *const h[] = { "iotkdc", "-h", NULL };

	(void)state;
	ok(ARGV("--help"), &a);
	assert_int_equal(a.help, 1);
	assert_int_equal(a.cmd, KDC_CMD_NONE);
	ok(h, &a);
	assert_int_equal(a.help, 1);
	assert_int_equal(a.cmd, KDC_CMD_NONE);
	ok(ARGV("--version"), &a);
	assert_int_equal(a.version, 1);
	assert_int_equal(a.cmd, KDC_CMD_NONE);
	/* with a command, --help wins over missing arguments and options */
	ok(ARGV("device", "add", "--help"), &a);
	assert_int_equal(a.help, 1);
	assert_int_equal(a.cmd, KDC_CMD_DEVICE_ADD);
	ok(ARGV("--help", "cert", "sign"), &a);
	assert_int_equal(a.cmd, KDC_CMD_CERT_SIGN);
	ok(ARGV("mfg-ca", "add", "-h"), &a);
	assert_int_equal(a.cmd, KDC_CMD_MFGCA_ADD);
	for (size_t i = 0; i < NCMDS; i++) {
		const char *w[MAXARGS];
		int n = 0;

		for (; cmds[i].argv[n] != NULL; n++)
			w[n] = cmds[i].argv[n];
		w[n++] = "--help";
		w[n] = NULL;
		ok(w, &a);
		assert_int_equal(a.cmd, cmds[i].cmd);
		assert_int_equal(a.help, 1);
	}
	/* but an unknown command or option is still an error */
	bad(ARGV("frob", "--help"), "unknown command");
	bad(ARGV("--help", "--frob"), "unknown option");
	bad(ARGV("--help", "--dir"), "needs a value");
}

/* A small or absent err buffer is fine: truncated, NUL-terminated. */
static void
test_err_buffer(void **state)
{
	const char *const w[] = { "iotkdc", "frobnicate", NULL };
	struct kdc_cli_args a;
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(parse_w(w, &a, err, sizeof(err)),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(parse_w(w, &a, NULL, 0), KDC_ERR_INVALID_ARG);
	assert_int_equal(parse_w(ARGV("serve"), &a, NULL, 0), KDC_OK);
	/* a previous parse leaves nothing behind */
	memset(&a, 0x5a, sizeof(a));
	assert_int_equal(parse_w(ARGV("ca", "export"), &a, err, sizeof(err)),
	    KDC_OK);
	assert_defaults(&a);
	assert_int_equal(a.npos, 0);
}

static void
test_usage(void **state)
{
	const char *overview = kdc_cli_usage(KDC_CMD_NONE);

	(void)state;
	assert_non_null(overview);
	assert_non_null(strstr(overview, "usage:"));
	for (size_t i = 0; i < NCMDS; i++) {
		const char *u = kdc_cli_usage(cmds[i].cmd);
		char words[64];

		assert_non_null(u);
		assert_ptr_not_equal(u, overview);
		/* names its own command: "iotkdc device add ..." */
		snprintf(words, sizeof(words), "iotkdc %s%s%s",
		    cmds[i].argv[1], cmds[i].argv[2] != NULL ? " " : "",
		    cmds[i].argv[2] != NULL ? cmds[i].argv[2] : "");
		if (strncmp(u, words, strlen(words)) != 0)
			fail_msg("usage of '%s' starts '%.40s'", words, u);
		assert_int_equal(u[strlen(u) - 1], '\n');
		for (size_t j = 0; j < i; j++)
			assert_ptr_not_equal(u, kdc_cli_usage(cmds[j].cmd));
		/* the overview mentions every top-level word */
		assert_non_null(strstr(overview, cmds[i].argv[1]));
	}
	/* out-of-range values get the overview, not NULL */
	assert_ptr_equal(kdc_cli_usage((enum kdc_cli_cmd)999), overview);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_command),
		cmocka_unit_test(test_dir_json_anywhere),
		cmocka_unit_test(test_device_add),
		cmocka_unit_test(test_cred_cert_init),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
