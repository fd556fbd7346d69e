/* cmd.c: run the admin commands against a data dir. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/log.h"
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "core/audit.h"
#include "core/config.h"
#include "core/core.h"
#include "core/lwm2m_reg.h"
#include "core/tlsnames.h"
#include "crypto/codec.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "store/store.h"
#include "core/tdd.h"

#define ACTOR	"cli"

/* The one line on stderr of a failing command; returns exit status 1. */
int
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("iotkdc: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

void
path_in(const struct ctx *c, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", c->dir, name);
}

void
ctx_close(struct ctx *c)
{
	kdc_err r;

	/* what this command appended to the audit log is anchored outside
	 * the store (core/audit.h) */
	if (c->core != NULL && (r = kdc_core_audit_anchor(c->core, c->dir)) !=
	    KDC_OK)
		kdc_log_warn_r(r, "%s/audit.head not written", c->dir);
	kdc_core_free(c->core);
	kdc_ca_free(c->ca);
	kdc_store_close(c->st);
	kdc_keyring_free(c->kr);
	c->core = NULL;
	c->ca = NULL;
	c->st = NULL;
	c->kr = NULL;
}

/*
 * What of the data dir group or other may not touch. Anyone who can write
 * the dir can replace any file in it; the config chooses the CA key and
 * the listeners; the keys and the store are the KDC. So every one of
 * these is refused when group or other may write it (not warned about:
 * a warning in a log nobody reads leaves the hole open). wrap.key is
 * also refused when group or other may read it (the key of every
 * secret; kdc_keyring_load() refuses it too, without the mode). Files
 * that may be absent (ca.key with a PKCS#11 CA, the -wal and -shm files
 * of a closed store) are checked when present.
 */
static const struct {
	const char	*name;
	mode_t		 deny;		/* bits refused */
	const char	*fix;		/* the chmod to suggest */
} perms[] = {
	{ "iotkdc.conf",	S_IWGRP | S_IWOTH,	"600" },
	{ "wrap.key",		S_IRWXG | S_IRWXO,	"600" },
	{ "iotkdc.db",		S_IWGRP | S_IWOTH,	"600" },
	{ "iotkdc.db-wal",	S_IWGRP | S_IWOTH,	"600" },
	{ "iotkdc.db-shm",	S_IWGRP | S_IWOTH,	"600" },
	{ "ca.key",		S_IWGRP | S_IWOTH,	"600" },
	{ "ca.pem",		S_IWGRP | S_IWOTH,	"644" },
	{ "server.key",		S_IWGRP | S_IWOTH,	"600" },
	{ "server.pem",		S_IWGRP | S_IWOTH,	"644" },
	{ "as.key",		S_IWGRP | S_IWOTH,	"600" },
	{ "audit.head",		S_IWGRP | S_IWOTH,	"600" },
};

/* The data dir itself: group/other may not write it. Prints the error. */
static int
dir_mode_check(const char *dir, const struct stat *sb)
{
	if (!S_ISDIR(sb->st_mode))
		return fail("%s: not a directory", dir);
	if ((sb->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return fail("%s: data dir has mode %04o: group or other may "
		    "write it (replace the keys or the store); refusing. "
		    "chmod 700 %s", dir, (unsigned)sb->st_mode & 07777, dir);
	return 0;
}

/* The files of perms[]. Prints the error. */
static int
files_mode_check(const struct ctx *c)
{
	char p[1200];
	struct stat sb;

	for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++) {
		path_in(c, perms[i].name, p, sizeof(p));
		if (stat(p, &sb) != 0) {
			if (errno == ENOENT)
				continue;	/* told later, by its reader */
			return fail("%s: %s", p, strerror(errno));
		}
		if (!S_ISREG(sb.st_mode))
			return fail("%s: not a regular file", p);
		if ((sb.st_mode & perms[i].deny) != 0)
			return fail("%s: mode %04o: group or other may %s it; "
			    "refusing. chmod %s %s", p,
			    (unsigned)sb.st_mode & 07777,
			    (perms[i].deny & (S_IRGRP | S_IROTH)) != 0 ?
			    "read or write" : "write", perms[i].fix, p);
	}
	return 0;
}

/*
 * The store and the files SQLite keeps beside it must be writable by us:
 * SQLite opens a file it may not write read-only without a word, and
 * every write then fails ("database error") while reads work (serve
 * answered health 200 on such a store). Prints the error.
 */
static int
store_writable_check(const struct ctx *c)
{
	static const char *const names[] = {
		"iotkdc.db", "iotkdc.db-wal", "iotkdc.db-shm",
	};
	char p[1200];

	if (access(c->dir, W_OK | X_OK) != 0)
		return fail("%s: cannot write in the data dir (%s): the store "
		    "keeps iotkdc.db-wal and iotkdc.db-shm beside iotkdc.db; "
		    "run iotkdc as the data dir's owner", c->dir,
		    strerror(errno));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in(c, names[i], p, sizeof(p));
		if (access(p, R_OK | W_OK) != 0 && errno != ENOENT)
			return fail("%s: cannot read and write it (%s); run "
			    "iotkdc as its owner, mode 0600", p,
			    strerror(errno));
	}
	return 0;
}

/* A store that kdc_store_open() refused: say what to do. Prints it. */
static int
store_open_fail(const char *p, kdc_err r)
{
	struct stat sb;

	if (r == KDC_ERR_NOT_FOUND)
		return fail("%s: missing: the store (devices, credentials, "
		    "audit log) is made only by 'iotkdc init'; restore it "
		    "from a backup", p);
	if (r == KDC_ERR_STORE_CORRUPT && stat(p, &sb) == 0 &&
	    sb.st_size == 0)
		return fail("%s: empty (0 bytes), not an iotkdc store; not "
		    "starting a new one in its place: restore it from a "
		    "backup", p);
	return fail("%s: %s", p, kdc_err_str(r));
}

/*
 * Damage found at start (kdc_store_check(): every page read) stops serve:
 * a damaged index can hide a live credential from the uniqueness rules
 * or a revocation from authentication, and the first write into a damaged
 * page can spread it. Logged at error with the way out; nothing is
 * changed in the data dir (the check runs before core writes anything).
 * One line on stderr.
 */
static int
store_check(struct ctx *c)
{
	char why[256];
	kdc_err r;

	if ((r = kdc_store_check(c->st, why, sizeof(why))) == KDC_OK)
		return 0;
	if (r != KDC_ERR_STORE_CORRUPT)
		return fail("%s/iotkdc.db: integrity check: %s", c->dir,
		    kdc_err_str(r));
	kdc_log_err("%s/iotkdc.db is damaged (quick_check: %s); not serving "
	    "from it, nothing changed. Stop every iotkdc process, copy the "
	    "data dir aside, then restore iotkdc.db from a backup or salvage "
	    "what is readable (README.md, \"A damaged store\"), check with "
	    "'iotkdc audit verify' and start again", c->dir, why);
	return 1;
}

/*
 * The store still holds the audit record audit.head names (core/audit.h):
 * a store that lost its last commits, or an older copy put in its place,
 * does not, and serving from it would hand out again what it forgot.
 * Prints the error with the way out.
 */
static int
anchor_check(struct ctx *c)
{
	char why[512];
	int64_t seq;
	kdc_err r;

	if ((r = kdc_core_audit_anchor_check(c->core, c->dir, &seq, why,
	    sizeof(why))) == KDC_OK)
		return 0;
	if (r != KDC_ERR_AUDIT_BROKEN)
		return fail("%s/audit.head: %s", c->dir, kdc_err_str(r));
	return fail("%s: the audit log is behind its anchor: %s. Not serving "
	    "from it. If iotkdc.db was put back from a backup on purpose, "
	    "move %s/audit.head aside and start again", c->dir, why, c->dir);
}

int
ca_fail(const struct ctx *c, kdc_err r)
{
	char p[1200];

	/* a file CA: say which of its files is missing */
	if (strcmp(c->cfg.ca_key, "file") == 0)
		for (int i = 0; i < 2; i++) {
			path_in(c, i == 0 ? "ca.pem" : "ca.key", p, sizeof(p));
			if (access(p, F_OK) != 0 && errno == ENOENT)
				return fail("%s: missing: the CA of this data "
				    "dir; restore it from a backup", p);
		}
	return fail("%s: CA: %s", c->dir, kdc_err_str(r));
}

int
as_key_fail(const char *dir, kdc_err r)
{
	if (r == KDC_ERR_NOT_FOUND)
		return fail("%s/as.key: missing, and this data dir had an ACE "
		    "AS key (the tokens it signed verify only with it): "
		    "restore it from a backup", dir);
	return fail("%s: ACE AS key: %s", dir, kdc_err_str(r));
}

/* wrap.key does not open what the data dir holds (file: ca.key, or the
 * store's check value): one of them came from elsewhere. Prints it. */
static int
not_ours(const struct ctx *c, const char *file)
{
	return fail("%s: wrap.key and %s do not belong together: %s was made "
	    "with another wrap.key (one of the two is from another data dir, "
	    "or was replaced); restore both from one backup", c->dir, file,
	    file);
}

/* Open the data dir; need_ca loads the CA key too. Prints the error. */
int
ctx_open(struct ctx *c, const struct kdc_cli_args *a, int need_ca)
{
	char p[1200], why[512];
	struct stat sb;
	kdc_err r;

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s", a->dir);
	path_in(c, "iotkdc.conf", p, sizeof(p));
	if (stat(c->dir, &sb) != 0)
		return fail("%s: no such data dir (run 'iotkdc init --dir %s')",
		    c->dir, c->dir);
	if (dir_mode_check(c->dir, &sb) != 0)
		return 1;
	if (stat(p, &sb) != 0)
		return fail("%s: not an iotkdc data dir (no iotkdc.conf)",
		    c->dir);
	if (files_mode_check(c) != 0)
		return 1;
	if ((r = kdc_config_load(p, &c->cfg, why, sizeof(why))) != KDC_OK)
		return fail("%s", why);
	kdc_log_set_level((enum kdc_log_level)c->cfg.log_level);
	path_in(c, "wrap.key", p, sizeof(p));
	if ((r = kdc_keyring_load(p, &c->kr)) != KDC_OK)
		return access(p, F_OK) != 0 && errno == ENOENT ?
		    fail("%s: missing: it opens every secret of this data dir "
		    "(keys, PSKs); restore it from a backup", p) :
		    fail("%s: %s", p, kdc_err_str(r));
	if (store_writable_check(c) != 0) {
		ctx_close(c);
		return 1;
	}
	path_in(c, "iotkdc.db", p, sizeof(p));
	if ((r = kdc_store_open(p, 0, &c->st)) != KDC_OK) {
		ctx_close(c);
		return store_open_fail(p, r);
	}
	if (a->cmd == KDC_CMD_SERVE && store_check(c) != 0) {
		ctx_close(c);
		return 1;
	}
	if (need_ca && (r = kdc_ca_load(c->dir, c->kr,
	    strcmp(c->cfg.ca_key, "file") == 0 ? NULL : c->cfg.ca_key,
	    &c->ca)) != KDC_OK) {
		ctx_close(c);
		if (r == KDC_ERR_BAD_KEY)
			return not_ours(c, "ca.key");
		return ca_fail(c, r);
	}
	if ((r = kdc_core_new(c->st, c->kr, c->ca, &c->cfg, &c->core)) !=
	    KDC_OK) {
		ctx_close(c);
		if (r == KDC_ERR_BAD_KEY)
			return not_ours(c, "iotkdc.db");
		return fail("%s: %s", c->dir, kdc_err_str(r));
	}
	/* the AS key lives like the CA key: loaded wherever the CA is */
	if (need_ca && (r = kdc_core_ace_key_load(c->core, c->dir)) !=
	    KDC_OK) {
		ctx_close(c);
		return as_key_fail(c->dir, r);
	}
	if (a->cmd == KDC_CMD_SERVE && anchor_check(c) != 0) {
		ctx_close(c);
		return 1;
	}
	return 0;
}

/* Read a whole file, at most max bytes. Prints the error. */
static int
read_stream(FILE *f, const char *path, size_t max, uint8_t **buf,
    size_t *len)
{
	uint8_t *b;
	size_t n = 0, cap = 4096;

	*buf = NULL;
	*len = 0;
	if ((b = kdc_malloc(cap + 1)) == NULL)
		return fail("%s: out of memory", path);
	for (;;) {
		size_t k = fread(b + n, 1, cap - n, f);
		n += k;
		if (n > max) {
			kdc_wipe(b, n);
			kdc_free(b);
			return fail("%s: larger than %zu bytes", path, max);
		}
		if (k == 0)
			break;
		if (n == cap) {
			uint8_t *nb;
			cap *= 2;
			if ((nb = kdc_malloc(cap + 1)) == NULL) {
				kdc_wipe(b, n);
				kdc_free(b);
				return fail("%s: out of memory", path);
			}
			memcpy(nb, b, n);	/* not realloc: wipe the old */
			kdc_wipe(b, n);
			kdc_free(b);
			b = nb;
		}
	}
	if (ferror(f)) {
		kdc_wipe(b, n);
		kdc_free(b);
		return fail("%s: read error", path);
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

/* The whole file (NUL-terminated, heap; wipe it if it holds a secret);
 * "-" is standard input. One line on stderr and -1 on failure. */
static int
read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	FILE *f;
	int rc;

	*buf = NULL;
	*len = 0;
	if (strcmp(path, "-") == 0)
		return read_stream(stdin, "standard input", max, buf, len);
	if ((f = fopen(path, "rb")) == NULL)
		return fail("%s: %s", path, strerror(errno));
	rc = read_stream(f, path, max, buf, len);
	fclose(f);
	return rc;
}

static void
fmt_time(int64_t t, char *out, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0) {
		snprintf(out, cap, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *
json_time(int64_t t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	fmt_time(t, buf, sizeof(buf));
	return json_string(buf);
}

static int
print_json(json_t *j)
{
	int r = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(j);
	fputc('\n', stdout);
	return r == 0 ? 0 : fail("cannot write JSON");
}

/* ---- init ---------------------------------------------------------------- */

static int
cmd_init(const struct kdc_cli_args *a)
{
	struct ctx c;
	struct kdc_config cfg;
	const char *created[8];
	const char *hosts[KDC_TLSNAMES_MAX];
	struct kdc_tlsnames tn;
	char p[1200], why[512];
	struct stat sb;
	size_t ncreated = 0;
	int rc = 1;
	kdc_err r;

	memset(&c, 0, sizeof(c));
	snprintf(c.dir, sizeof(c.dir), "%s", a->dir);
	path_in(&c, "iotkdc.conf", p, sizeof(p));
	if (access(p, F_OK) == 0)
		return fail("%s: already initialised (iotkdc.conf exists)",
		    c.dir);
	if (mkdir(c.dir, 0700) != 0 && errno != EEXIST)
		return fail("%s: %s", c.dir, strerror(errno));
	if (stat(c.dir, &sb) != 0)
		return fail("%s: %s", c.dir, strerror(errno));
	if (dir_mode_check(c.dir, &sb) != 0)
		return 1;
	/* a store or key left from an earlier data dir is not ours to
	 * reuse, nor (on a failure below) to delete */
	for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++) {
		path_in(&c, perms[i].name, p, sizeof(p));
		if (lstat(p, &sb) == 0)
			return fail("%s exists: not replacing it ('iotkdc "
			    "init' makes a new data dir; move it away or "
			    "restore iotkdc.conf)", p);
	}
	kdc_config_defaults(&cfg);
	if (a->ca_key != NULL)
		snprintf(cfg.ca_key, sizeof(cfg.ca_key), "%s", a->ca_key);

	/* wrapping key, store, CA, TLS cert, then the config last: a data
	 * dir without iotkdc.conf is not one, so a failure part way leaves
	 * nothing that looks initialised (and we remove what we made). */
	/* each file is counted ours before it is made: none was there (the
	 * loop above), and one a failed step leaves (a 0-byte iotkdc.db on
	 * a full disk) would refuse the next init */
	created[ncreated++] = "audit.head";	/* ctx_close() anchors */
	path_in(&c, "wrap.key", p, sizeof(p));
	created[ncreated++] = "wrap.key";
	if ((r = kdc_keyring_create(p)) != KDC_OK) {
		fail("%s: %s", p, kdc_err_str(r));
		goto out;
	}
	if ((r = kdc_keyring_load(p, &c.kr)) != KDC_OK) {
		fail("%s: %s", p, kdc_err_str(r));
		goto out;
	}
	path_in(&c, "iotkdc.db", p, sizeof(p));
	created[ncreated++] = "iotkdc.db";
	if ((r = kdc_store_open(p, 1, &c.st)) != KDC_OK) {
		fail("%s: %s", p, kdc_err_str(r));
		goto out;
	}
	created[ncreated++] = "ca.pem";
	if (a->ca_key == NULL)
		created[ncreated++] = "ca.key";
	if ((r = kdc_ca_create(c.dir, c.kr, a->ca_key, (unsigned)cfg.ca_days))
	    != KDC_OK) {
		fail("%s: creating the CA: %s", c.dir, kdc_err_str(r));
		goto out;
	}
	if ((r = kdc_ca_load(c.dir, c.kr, a->ca_key, &c.ca)) != KDC_OK) {
		fail("%s: loading the CA: %s", c.dir, kdc_err_str(r));
		goto out;
	}
	/* [kdc] hosts and the host of every server URI we write (tlsnames.h) */
	if ((r = kdc_tlsnames_required(&cfg, &tn)) != KDC_OK) {
		fail("%s: the host of [lwm2m] server_uri: %s", c.dir,
		    kdc_err_str(r));
		goto out;
	}
	for (size_t i = 0; i < tn.n; i++)
		hosts[i] = tn.name[i].host;
	created[ncreated++] = "server.pem";
	if ((r = kdc_tls_cert_create(c.dir, c.kr, c.ca, hosts, tn.n,
	    (unsigned)cfg.tls_days)) != KDC_OK) {
		fail("%s: creating the TLS certificate: %s", c.dir,
		    kdc_err_str(r));
		goto out;
	}
	created[ncreated++] = "as.key";
	if ((r = kdc_as_key_create(c.dir, c.kr)) != KDC_OK) {
		fail("%s: creating the ACE AS key: %s", c.dir, kdc_err_str(r));
		goto out;
	}
	if ((r = kdc_core_new(c.st, c.kr, c.ca, &cfg, &c.core)) != KDC_OK ||
	    /* the store learns the AS key's fingerprint (ace.h) */
	    (r = kdc_core_ace_key_load(c.core, c.dir)) != KDC_OK ||
	    (r = kdc_audit_append(c.st, c.kr, (int64_t)time(NULL), ACTOR,
	    "init", c.dir, KDC_OK, "ca_key=%s",
	    a->ca_key != NULL ? "pkcs11" : "file")) != KDC_OK) {
		fail("%s: %s", c.dir, kdc_err_str(r));
		goto out;
	}
	path_in(&c, "iotkdc.conf", p, sizeof(p));
	if ((r = kdc_config_write(p, &cfg)) != KDC_OK ||
	    (r = kdc_config_load(p, &cfg, why, sizeof(why))) != KDC_OK) {
		fail("%s: %s", p, kdc_err_str(r));
		goto out;
	}
	printf("initialised %s (CA: %s)\n", c.dir,
	    a->ca_key != NULL ? "PKCS#11 token" : "wrapped key file");
	rc = 0;
out:
	ctx_close(&c);
	if (rc != 0) {
		path_in(&c, "server.key", p, sizeof(p));
		(void)unlink(p);
		for (size_t i = 0; i < ncreated; i++) {
			path_in(&c, created[i], p, sizeof(p));
			(void)unlink(p);
		}
		path_in(&c, "iotkdc.db-wal", p, sizeof(p));
		(void)unlink(p);
		path_in(&c, "iotkdc.db-shm", p, sizeof(p));
		(void)unlink(p);
	}
	return rc;
}

/* ---- device -------------------------------------------------------------- */

static int
cmd_device_add(const struct kdc_cli_args *a)
{
	struct kdc_device_spec *spec;
	struct ctx c;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = 1;
	kdc_err r;

	if ((spec = kdc_calloc(1, sizeof(*spec))) == NULL)
		return fail("out of memory");
	if (strlen(a->pos[0]) > KDC_DEVID_MAX) {
		rc = fail("device id longer than %d bytes", KDC_DEVID_MAX);
		goto out;
	}
	snprintf(spec->dev_id, sizeof(spec->dev_id), "%s", a->pos[0]);
	if (a->profile != NULL)
		snprintf(spec->profile, sizeof(spec->profile), "%s",
		    a->profile);
	if (a->psk != NULL || a->psk_file != NULL) {
		const char *name = "--psk", *hex = a->psk;
		size_t b0 = 0, n = hex != NULL ? strlen(hex) : 0;

		spec->type = KDC_TYPE_PSK;
		spec->psk_len = sizeof(spec->psk);
		if (strlen(a->psk_identity) > KDC_PSK_IDENTITY_MAX) {
			rc = fail("--psk-identity longer than %d bytes",
			    KDC_PSK_IDENTITY_MAX);
			goto out;
		}
		snprintf(spec->psk_identity, sizeof(spec->psk_identity), "%s",
		    a->psk_identity);
		if (a->psk_file != NULL) {
			/* hex, surrounding white space (a final newline)
			 * ignored; the buffer is wiped below */
			name = strcmp(a->psk_file, "-") == 0 ?
			    "standard input" : a->psk_file;
			if (read_file(a->psk_file, 1024, &buf, &len) != 0)
				goto out;
			while (b0 < len && buf[b0] != '\0' &&
			    strchr(" \t\r\n", buf[b0]) != NULL)
				b0++;
			n = len;
			while (n > b0 && buf[n - 1] != '\0' &&
			    strchr(" \t\r\n", buf[n - 1]) != NULL)
				n--;
			hex = (const char *)buf;
		}
		r = kdc_hex_decode(hex + b0, n - b0, spec->psk, &spec->psk_len);
		if (buf != NULL)
			kdc_wipe(buf, len);
		if (r != KDC_OK) {
			rc = fail("%s: %s", name, r == KDC_ERR_TOO_LARGE ?
			    "longer than 64 bytes" : "not one even-length hex "
			    "string");
			goto out;
		}
	} else if (a->rpk != NULL) {
		spec->type = KDC_TYPE_RPK;
		spec->spki_len = sizeof(spec->spki);
		if (read_file(a->rpk, KDC_SPKI_MAX * 2, &buf, &len) != 0)
			goto out;
		if ((r = kdc_spki_load(buf, len, spec->spki, &spec->spki_len))
		    != KDC_OK) {
			rc = fail("%s: not a public key (PEM or DER SPKI): %s",
			    a->rpk, kdc_err_str(r));
			goto out;
		}
	} else
		spec->type = KDC_TYPE_X509;
	if (ctx_open(&c, a, 0) != 0)
		goto out;
	if ((r = kdc_core_device_add(c.core, ACTOR, spec)) != KDC_OK)
		rc = fail("device add %s: %s", spec->dev_id, kdc_err_str(r));
	else {
		printf("added %s (%s)\n", spec->dev_id,
		    kdc_cred_type_str(spec->type));
		rc = 0;
	}
	ctx_close(&c);
out:
	kdc_wipe(spec, sizeof(*spec));
	kdc_free(spec);
	kdc_free(buf);
	return rc;
}

static int
cmd_device_import(const struct kdc_cli_args *a)
{
	struct ctx c;
	uint8_t *buf = NULL;
	size_t len = 0, count = 0, bad = 0;
	char why[512];
	int rc = 1;
	kdc_err r;

	if (read_file(a->pos[0], KDC_MANIFEST_MAX, &buf, &len) != 0)
		return 1;
	if (ctx_open(&c, a, 0) != 0)
		goto out;
	r = kdc_core_device_import(c.core, ACTOR, (const char *)buf, len,
	    &count, &bad, why, sizeof(why));
	if (r != KDC_OK && bad != 0)
		fail("%s:%zu: %s; nothing imported", a->pos[0], bad, why);
	else if (r != KDC_OK)
		fail("%s: %s; nothing imported", a->pos[0],
		    why[0] != '\0' ? why : kdc_err_str(r));
	else {
		printf("imported %zu devices\n", count);
		rc = 0;
	}
	ctx_close(&c);
out:
	kdc_wipe(buf, len);
	kdc_free(buf);
	return rc;
}

static json_t *
device_json(const struct kdc_device *d)
{
	json_t *j = json_object();

	json_object_set_new(j, "id", json_string(d->dev_id));
	json_object_set_new(j, "profile", json_string(d->profile));
	json_object_set_new(j, "status", json_string(
	    kdc_dev_status_str(d->status)));
	json_object_set_new(j, "created", json_time(d->created));
	json_object_set_new(j, "revoked_at", json_time(d->revoked_at));
	return j;
}

static int
cmd_device_list(const struct kdc_cli_args *a)
{
	struct kdc_device **v = NULL;
	struct ctx c;
	size_t n = 0;
	int rc = 0;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if ((r = kdc_core_device_list(c.core, &v, &n)) != KDC_OK) {
		rc = fail("device list: %s", kdc_err_str(r));
		goto out;
	}
	if (a->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, device_json(v[i]));
		rc = print_json(arr);
	} else {
		printf("%-40s %-12s %-8s %s\n", "ID", "PROFILE", "STATUS",
		    "CREATED");
		for (size_t i = 0; i < n; i++) {
			char t[32];
			fmt_time(v[i]->created, t, sizeof(t));
			printf("%-40s %-12s %-8s %s\n", v[i]->dev_id,
			    v[i]->profile, kdc_dev_status_str(v[i]->status), t);
		}
	}
out:
	kdc_device_list_free(v, n);
	ctx_close(&c);
	return rc;
}

/* A credential as JSON: kind, type, audience, status and validity. */
static json_t *
cred_json(const struct kdc_cred *cr, const char *dev_id)
{
	json_t *j = json_object();

	json_object_set_new(j, "id", json_integer(cr->id));
	json_object_set_new(j, "device", json_string(dev_id));
	json_object_set_new(j, "kind", json_string(
	    kdc_cred_kind_str(cr->kind)));
	json_object_set_new(j, "type", json_string(
	    kdc_cred_type_str(cr->type)));
	json_object_set_new(j, "audience", cr->audience[0] != '\0' ?
	    json_string(cr->audience) : json_null());
	json_object_set_new(j, "status", json_string(
	    kdc_cred_status_str(cr->status)));
	if (cr->status == KDC_CRED_PENDING && cr->on_use)
		json_object_set_new(j, "issued_on_first_use", json_true());
	if (cr->identity[0] != '\0')
		json_object_set_new(j, "psk_identity",
		    json_string(cr->identity));
	if (cr->serial[0] != '\0')
		json_object_set_new(j, "serial", json_string(cr->serial));
	if (cr->spki_fp != NULL && cr->spki_fp_len == 32) {
		char hex[65];
		kdc_hex_encode(cr->spki_fp, 32, hex);
		json_object_set_new(j, "spki_sha256", json_string(hex));
	}
	json_object_set_new(j, "not_before", json_time(cr->not_before));
	json_object_set_new(j, "not_after", json_time(cr->not_after));
	json_object_set_new(j, "created", json_time(cr->created));
	return j;
}

static void
cred_print_header(void)
{
	printf("%-6s %-32s %-13s %-5s %-10s %-10s %-20s %s\n", "CRED",
	    "DEVICE", "KIND", "TYPE", "AUDIENCE", "STATUS", "NOT_BEFORE",
	    "NOT_AFTER");
}

static void
cred_print(const struct kdc_cred *cr, const char *dev_id)
{
	char nb[32], na[32];

	fmt_time(cr->not_before, nb, sizeof(nb));
	fmt_time(cr->not_after, na, sizeof(na));
	printf("%-6" PRId64 " %-32s %-13s %-5s %-10s %-10s %-20s %s\n", cr->id,
	    dev_id, kdc_cred_kind_str(cr->kind), kdc_cred_type_str(cr->type),
	    cr->audience[0] != '\0' ? cr->audience : "-",
	    kdc_cred_status_str(cr->status), nb, na);
}

/* The dev_id of a device row id (small cache of the last one). */
static const char *
dev_name(struct ctx *c, int64_t id, char *buf, size_t cap)
{
	struct kdc_device *d = NULL;

	if (kdc_core_device_get_by_id(c->core, id, &d) != KDC_OK) {
		snprintf(buf, cap, "?");
		return buf;
	}
	snprintf(buf, cap, "%s", d->dev_id);
	kdc_device_free(d);
	return buf;
}

static int
list_creds(struct ctx *c, const struct kdc_cred_filter *f, int json,
    json_t *into)
{
	struct kdc_cred **v = NULL;
	size_t n = 0;
	char name[KDC_DEVID_MAX + 1];
	kdc_err r;

	if ((r = kdc_core_cred_list(c->core, f, &v, &n)) != KDC_OK)
		return fail("cred list: %s", kdc_err_str(r));
	if (!json)
		cred_print_header();
	for (size_t i = 0; i < n; i++) {
		dev_name(c, v[i]->device, name, sizeof(name));
		if (json)
			json_array_append_new(into, cred_json(v[i], name));
		else
			cred_print(v[i], name);
	}
	kdc_cred_list_free(v, n);
	return 0;
}

static int
cmd_device_show(const struct kdc_cli_args *a)
{
	struct kdc_device *d = NULL;
	struct kdc_cred_filter f = { 0, -1, -1, 0 };
	struct ctx c;
	int rc = 1;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if ((r = kdc_core_device_get(c.core, a->pos[0], &d)) != KDC_OK) {
		fail("device show %s: %s", a->pos[0], kdc_err_str(r));
		goto out;
	}
	f.device = d->id;
	if (a->json) {
		json_t *j = device_json(d), *creds = json_array();
		if ((rc = list_creds(&c, &f, 1, creds)) != 0) {
			json_decref(j);
			json_decref(creds);
			goto out;
		}
		json_object_set_new(j, "credentials", creds);
		rc = print_json(j);
	} else {
		char t[32];
		fmt_time(d->created, t, sizeof(t));
		printf("id:      %s\nprofile: %s\nstatus:  %s\ncreated: %s\n\n",
		    d->dev_id, d->profile, kdc_dev_status_str(d->status), t);
		rc = list_creds(&c, &f, 0, NULL);
	}
out:
	kdc_device_free(d);
	ctx_close(&c);
	return rc;
}

static int
cmd_device_change(const struct kdc_cli_args *a)
{
	struct ctx c;
	kdc_err r;
	int revoke = a->cmd == KDC_CMD_DEVICE_REVOKE;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	r = revoke ? kdc_core_device_revoke(c.core, ACTOR, a->pos[0]) :
	    kdc_core_device_delete(c.core, ACTOR, a->pos[0]);
	ctx_close(&c);
	if (r != KDC_OK)
		return fail("device %s %s: %s", revoke ? "revoke" : "delete",
		    a->pos[0], kdc_err_str(r));
	printf("%s %s\n", revoke ? "revoked" : "deleted", a->pos[0]);
	return 0;
}

/* ---- cred ---------------------------------------------------------------- */

static int
cmd_cred_list(const struct kdc_cli_args *a)
{
	struct kdc_cred_filter f = { 0, -1, -1, 0 };
	struct ctx c;
	json_t *arr = NULL;
	int rc;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if (a->device != NULL) {
		struct kdc_device *d = NULL;
		kdc_err r = kdc_core_device_get(c.core, a->device, &d);
		if (r != KDC_OK) {
			ctx_close(&c);
			return fail("cred list --device %s: %s", a->device,
			    kdc_err_str(r));
		}
		f.device = d->id;
		kdc_device_free(d);
	}
	if (a->expiring >= 0)
		f.expiring_before = kdc_core_now(c.core) + a->expiring * 86400;
	if (a->json)
		arr = json_array();
	rc = list_creds(&c, &f, a->json, arr);
	if (rc == 0 && a->json)
		rc = print_json(arr);
	else
		json_decref(arr);
	ctx_close(&c);
	return rc;
}

static int
cmd_cred_revoke(const struct kdc_cli_args *a)
{
	struct ctx c;
	long id;
	char *end;
	kdc_err r;

	errno = 0;
	id = strtol(a->pos[0], &end, 10);
	if (errno != 0 || *end != '\0' || end == a->pos[0] || id <= 0)
		return fail("cred revoke: '%s' is not a credential id",
		    a->pos[0]);
	if (ctx_open(&c, a, 0) != 0)
		return 1;
	r = kdc_core_cred_revoke(c.core, ACTOR, id);
	ctx_close(&c);
	if (r != KDC_OK)
		return fail("cred revoke %ld: %s", id, r == KDC_ERR_NOT_FOUND ?
		    "no such credential" : kdc_err_str(r));
	printf("revoked credential %ld\n", id);
	return 0;
}

/* ---- CAs and certificates ------------------------------------------------ */

static int
cmd_mfgca_add(const struct kdc_cli_args *a)
{
	struct ctx c;
	uint8_t *buf = NULL;
	size_t len = 0;
	kdc_err r;

	if (read_file(a->pos[1], KDC_CAFILE_MAX, &buf, &len) != 0)
		return 1;
	if (ctx_open(&c, a, 0) != 0) {
		kdc_free(buf);
		return 1;
	}
	r = kdc_core_mfg_ca_add(c.core, ACTOR, a->pos[0], buf, len);
	ctx_close(&c);
	kdc_free(buf);
	if (r != KDC_OK)
		return fail("mfg-ca add %s: %s: %s", a->pos[0], a->pos[1],
		    r == KDC_ERR_EXISTS ? "a CA of that name exists" :
		    kdc_err_str(r));
	printf("trusted manufacturer CA %s\n", a->pos[0]);
	return 0;
}

/* ---- user ------------------------------------------------------------ */

static int
cmd_user_add(const struct kdc_cli_args *a)
{
	struct ctx c;
	kdc_err r;
	int rc = 0;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if ((r = kdc_core_user_add(c.core, ACTOR, a->pos[0], a->group)) !=
	    KDC_OK)
		rc = fail("user add %s: %s%s", a->pos[0], kdc_err_str(r),
		    r == KDC_ERR_INVALID_ARG ? " (NAME: a-z 0-9 . _ -, groups: "
		    "A-Z a-z 0-9 . _ -)" : "");
	else
		printf("user.%s\n", a->pos[0]);
	ctx_close(&c);
	return rc;
}

static int
cmd_user_cert(const struct kdc_cli_args *a)
{
	struct ctx c;
	uint8_t *csr = NULL, *cert = NULL;
	size_t csr_len = 0, cert_len = 0, pem_len = 0;
	char *pem = NULL;
	int rc = 1;
	kdc_err r;

	if (read_file(a->pos[1], KDC_CSR_MAX, &csr, &csr_len) != 0)
		return 1;
	if (ctx_open(&c, a, 1) != 0)
		goto out;
	r = kdc_core_user_cert(c.core, ACTOR, a->pos[0], csr, csr_len,
	    a->days > 0 ? (unsigned)a->days : 0, &cert, &cert_len);
	if (r != KDC_OK)
		fail("user cert %s: %s", a->pos[0], r == KDC_ERR_UNKNOWN_DEVICE ?
		    "no such user (iotkdc user add)" : kdc_err_str(r));
	else if ((r = kdc_pem_encode("CERTIFICATE", cert, cert_len, &pem,
	    &pem_len)) != KDC_OK)
		fail("user cert: %s", kdc_err_str(r));
	else {
		fwrite(pem, 1, pem_len, stdout);
		rc = 0;
	}
	ctx_close(&c);
out:
	kdc_free(pem);
	kdc_free(cert);
	kdc_free(csr);
	return rc;
}

static int
cmd_user_passwd(const struct kdc_cli_args *a)
{
	char pw[KDC_PW_MAX + 2];
	struct ctx c;
	size_t n;
	kdc_err r;
	int rc = 0;

	if (fgets(pw, sizeof(pw), stdin) == NULL)
		return fail("user passwd %s: no password on standard input",
		    a->pos[0]);
	n = strcspn(pw, "\r\n");
	if (pw[n] == '\0' && n == sizeof(pw) - 1) {
		kdc_wipe(pw, sizeof(pw));
		return fail("user passwd %s: longer than %d bytes", a->pos[0],
		    KDC_PW_MAX);
	}
	pw[n] = '\0';
	if (ctx_open(&c, a, 0) != 0) {
		kdc_wipe(pw, sizeof(pw));
		return 1;
	}
	if ((r = kdc_core_user_passwd(c.core, ACTOR, a->pos[0], pw, n)) !=
	    KDC_OK)
		rc = fail("user passwd %s: %s", a->pos[0],
		    r == KDC_ERR_UNKNOWN_DEVICE ? "no such user" :
		    r == KDC_ERR_INVALID_ARG ? "a password is 12..1024 bytes" :
		    kdc_err_str(r));
	kdc_wipe(pw, sizeof(pw));
	ctx_close(&c);
	return rc;
}

struct user_list {
	json_t	*arr;
};

static kdc_err
user_row(void *arg, const char *name, int64_t device, int64_t created,
    const char *groups)
{
	struct user_list *ul = arg;
	char when[32];
	time_t t = (time_t)created;
	struct tm tm;

	(void)device;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (ul->arr != NULL)
		json_array_append_new(ul->arr, json_pack("{s:s,s:s+,s:s,s:s}",
		    "name", name, "device", "user.", name, "groups", groups,
		    "created", when));
	else
		printf("%-24s user.%-24s %-20s %s\n", name, name, when,
		    groups);
	return KDC_OK;
}

static int
cmd_user_list(const struct kdc_cli_args *a)
{
	struct user_list ul = { NULL };
	struct ctx c;
	kdc_err r;
	int rc = 0;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if (a->json)
		ul.arr = json_array();
	else
		printf("%-24s %-29s %-20s %s\n", "NAME", "DEVICE", "CREATED",
		    "GROUPS");
	if ((r = kdc_core_users(c.core, user_row, &ul)) != KDC_OK)
		rc = fail("user list: %s", kdc_err_str(r));
	else if (ul.arr != NULL) {
		rc = print_json(ul.arr);
		ul.arr = NULL;
	}
	json_decref(ul.arr);
	ctx_close(&c);
	return rc;
}

static int
cmd_cert_sign(const struct kdc_cli_args *a)
{
	struct ctx c;
	uint8_t *csr = NULL, *cert = NULL;
	size_t csr_len = 0, cert_len = 0, pem_len = 0;
	int64_t cred_id = 0;
	char *pem = NULL;
	int rc = 1;
	kdc_err r;

	if (read_file(a->pos[0], KDC_CSR_MAX, &csr, &csr_len) != 0)
		return 1;
	if (ctx_open(&c, a, 1) != 0)
		goto out;
	r = kdc_core_cert_sign(c.core, ACTOR, a->device, a->audience, csr,
	    csr_len,
	    a->days > 0 ? (unsigned)a->days : 0, &cred_id, &cert, &cert_len);
	if (r != KDC_OK)
		fail("cert sign %s for %s: %s", a->pos[0], a->device,
		    kdc_err_str(r));
	else if ((r = kdc_pem_encode("CERTIFICATE", cert, cert_len, &pem,
	    &pem_len)) != KDC_OK)
		fail("cert sign: %s", kdc_err_str(r));
	else {
		fwrite(pem, 1, pem_len, stdout);
		rc = 0;
	}
	ctx_close(&c);
out:
	kdc_free(pem);
	kdc_free(cert);
	kdc_free(csr);
	return rc;
}

/* ---- audiences ---------------------------------------------------------- */

static int
cmd_audience_add(const struct kdc_cli_args *a)
{
	struct ctx c;
	const char *why;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	r = kdc_core_audience_add(c.core, ACTOR, a->pos[0], a->kind,
	    a->uri != NULL ? a->uri : "", a->ssid > 0 ? (int)a->ssid : 0);
	ctx_close(&c);
	switch (r) {
	case KDC_OK:
		printf("audience %s added\n", a->pos[0]);
		return 0;
	case KDC_ERR_INVALID_ARG:
		why = "bad name ([A-Za-z0-9._-], 1..64), or --ssid missing "
		    "(lwm2m-external: 2..65534) or given to a kind without one";
		break;
	case KDC_ERR_UNSUPPORTED:
		why = "--kind wants lwm2m-external, mqtt or ace-rs";
		break;
	case KDC_ERR_MALFORMED:
		why = "--uri missing or not a URI of the kind's scheme "
		    "(coaps://, mqtts://; ace-rs: coaps:// or https://)";
		break;
	case KDC_ERR_EXISTS:
		why = "an audience of that name exists";
		break;
	default:
		why = kdc_err_str(r);
		break;
	}
	return fail("audience add %s: %s", a->pos[0], why);
}

static json_t *
audience_json(const struct kdc_audience *au)
{
	json_t *j = json_object();

	json_object_set_new(j, "name", json_string(au->name));
	json_object_set_new(j, "kind", json_string(
	    kdc_audience_kind_str(au->kind)));
	json_object_set_new(j, "uri", json_string(au->uri));
	json_object_set_new(j, "ssid", au->ssid != 0 ?
	    json_integer(au->ssid) : json_null());
	json_object_set_new(j, "builtin", json_boolean(au->kind ==
	    KDC_AUD_LWM2M));
	json_object_set_new(j, "created", au->kind == KDC_AUD_LWM2M ?
	    json_null() : json_time(au->created));
	return j;
}

static void
audience_print(const struct kdc_audience *au)
{
	char t[32], ssid[8] = "-";

	if (au->kind == KDC_AUD_LWM2M)
		snprintf(t, sizeof(t), "(built-in)");
	else
		fmt_time(au->created, t, sizeof(t));
	if (au->ssid != 0)
		snprintf(ssid, sizeof(ssid), "%d", au->ssid);
	printf("%-20s %-15s %-5s %-20s %s\n", au->name,
	    kdc_audience_kind_str(au->kind), ssid, t, au->uri);
}

static int
cmd_audience_list(const struct kdc_cli_args *a)
{
	struct kdc_audience *v = NULL, one;
	struct ctx c;
	size_t n = 0;
	int rc = 0;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if (a->cmd == KDC_CMD_AUDIENCE_SHOW) {
		if ((r = kdc_core_audience_get(c.core, a->pos[0], &one)) !=
		    KDC_OK) {
			rc = fail("audience show %s: %s", a->pos[0],
			    kdc_err_str(r));
			goto out;
		}
		v = &one;
		n = 1;
	} else if ((r = kdc_core_audience_list(c.core, &v, &n)) != KDC_OK) {
		rc = fail("audience list: %s", kdc_err_str(r));
		goto out;
	}
	if (a->json && a->cmd == KDC_CMD_AUDIENCE_SHOW)
		rc = print_json(audience_json(&one));
	else if (a->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, audience_json(&v[i]));
		rc = print_json(arr);
	} else {
		printf("%-20s %-15s %-5s %-20s %s\n", "NAME", "KIND", "SSID",
		    "CREATED", "URI");
		for (size_t i = 0; i < n; i++)
			audience_print(&v[i]);
	}
out:
	if (v != &one)
		kdc_free(v);
	ctx_close(&c);
	return rc;
}

static int
cmd_ca_export(const struct kdc_cli_args *a)
{
	struct ctx c;
	char *pem = NULL;
	size_t len = 0;
	kdc_err r;

	if (ctx_open(&c, a, 1) != 0)
		return 1;
	r = kdc_core_ca_pem(c.core, &pem, &len);
	ctx_close(&c);
	if (r != KDC_OK)
		return fail("ca export: %s", kdc_err_str(r));
	fwrite(pem, 1, len, stdout);
	kdc_free(pem);
	return 0;
}

/* ---- tls ----------------------------------------------------------------- */

/* `tls reissue`: the listeners' certificate again, with a fresh key, from
 * the config as it is now (core/tlsnames.h says which names). A running
 * serve keeps the old one until it restarts. */
static int
cmd_tls_reissue(const struct kdc_cli_args *a)
{
	const char *hosts[KDC_TLSNAMES_MAX];
	struct kdc_tlsnames tn;
	struct ctx c;
	char *cert_pem = NULL, *key_pem = NULL, *names = NULL;
	/* every SAN: the fixed three and ours, each at most 253 bytes + ", " */
	size_t key_len = 0, names_cap = (KDC_TLSNAMES_MAX + 3) *
	    (KDC_TLSNAMES_HOST_MAX + 2) + 1;
	int rc = 1;
	kdc_err r;

	if (ctx_open(&c, a, 1) != 0)
		return 1;
	if ((r = kdc_tlsnames_required(&c.cfg, &tn)) != KDC_OK) {
		char esc[2 * KDC_TLSNAMES_URI_MAX];

		kdc_log_escape(c.cfg.lwm2m_server_uri,
		    strlen(c.cfg.lwm2m_server_uri), esc, sizeof(esc));
		(void)kdc_core_audit(c.core, ACTOR, "tls.reissue", "server.pem",
		    r, "[lwm2m] server_uri has no readable host");
		fail("%s/iotkdc.conf: [lwm2m] server_uri \"%s\": cannot read "
		    "its host (%s); nothing changed", c.dir, esc,
		    kdc_err_str(r));
		goto out;
	}
	for (size_t i = 0; i < tn.n; i++)
		hosts[i] = tn.name[i].host;
	if ((names = kdc_malloc(names_cap)) == NULL) {
		fail("out of memory");
		goto out;
	}
	names[0] = '\0';
	/* atomic: server.key then server.pem, each written to a temporary
	 * file, fsync'd and renamed (crypto.h) */
	if ((r = kdc_tls_cert_create(c.dir, c.kr, c.ca, hosts, tn.n,
	    (unsigned)c.cfg.tls_days)) != KDC_OK) {
		(void)kdc_core_audit(c.core, ACTOR, "tls.reissue", "server.pem",
		    r, "hosts=%zu", tn.n);
		fail("%s: re-issuing the TLS certificate: %s", c.dir,
		    kdc_err_str(r));
		goto out;
	}
	/* what we print is what the file now says, read back */
	if ((r = kdc_tls_cert_load(c.dir, c.kr, &cert_pem, &key_pem,
	    &key_len)) != KDC_OK ||
	    (r = kdc_tls_cert_names(cert_pem, strlen(cert_pem), names,
	    names_cap)) != KDC_OK) {
		(void)kdc_core_audit(c.core, ACTOR, "tls.reissue", "server.pem",
		    r, "written, but does not read back");
		fail("%s/server.pem: written, but does not read back: %s",
		    c.dir, kdc_err_str(r));
		goto out;
	}
	if ((r = kdc_core_audit(c.core, ACTOR, "tls.reissue", "server.pem",
	    KDC_OK, "days=%d names=%s", c.cfg.tls_days, names)) != KDC_OK) {
		fail("%s: audit: %s", c.dir, kdc_err_str(r));
		goto out;
	}
	printf("re-issued %s/server.pem (new key, %d days) naming %s; restart "
	    "serve to use it\n", c.dir, c.cfg.tls_days, names);
	rc = 0;
out:
	kdc_free(names);
	kdc_free(cert_pem);
	kdc_secret_free(key_pem, key_len);
	ctx_close(&c);
	return rc;
}

/* ---- audit --------------------------------------------------------------- */

static kdc_err
audit_print(const struct kdc_audit_rec *rec, void *arg)
{
	json_t *arr = arg;
	char t[32];

	fmt_time(rec->ts, t, sizeof(t));
	if (arr != NULL) {
		json_t *j = json_object();
		char hex[65];
		kdc_hex_encode(rec->hash, 32, hex);
		json_object_set_new(j, "seq", json_integer(rec->seq));
		json_object_set_new(j, "ts", json_string(t));
		json_object_set_new(j, "actor", json_string(rec->actor));
		json_object_set_new(j, "action", json_string(rec->action));
		json_object_set_new(j, "subject", json_string(rec->subject));
		json_object_set_new(j, "outcome", json_string(rec->outcome));
		json_object_set_new(j, "detail", json_string(rec->detail));
		json_object_set_new(j, "hash", json_string(hex));
		json_array_append_new(arr, j);
	} else
		printf("%-6" PRId64 " %s %-5s %-14s %-32s %-14s %s\n", rec->seq,
		    t, rec->actor, rec->action, rec->subject, rec->outcome,
		    rec->detail);
	return KDC_OK;
}

static int
cmd_audit(const struct kdc_cli_args *a)
{
	struct ctx c;
	int rc = 0;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if (a->cmd == KDC_CMD_AUDIT_VERIFY) {
		int64_t count = 0, bad = 0;
		char why[256];
		/* the store's structure first: serve's refusal of a damaged
		 * store points here, and a chain read from a damaged index
		 * can look whole */
		if ((r = kdc_store_check(c.st, why, sizeof(why))) != KDC_OK) {
			rc = fail("audit verify: %s/iotkdc.db: %s%s%s%s", c.dir,
			    r == KDC_ERR_STORE_CORRUPT ? "damaged" :
			    kdc_err_str(r), why[0] != '\0' ? " (quick_check: " :
			    "", why, why[0] != '\0' ? ")" : "");
			ctx_close(&c);
			return rc;
		}
		r = kdc_core_audit_verify(c.core, &count, &bad, why,
		    sizeof(why));
		if (r == KDC_ERR_AUDIT_BROKEN)
			rc = fail("audit verify: record %" PRId64 ": %s", bad,
			    why);
		else if (r != KDC_OK)
			rc = fail("audit verify: %s", kdc_err_str(r));
		else if ((r = kdc_core_audit_anchor_check(c.core, c.dir, &bad,
		    why, sizeof(why))) == KDC_ERR_AUDIT_BROKEN)
			rc = fail("audit verify: %s", why);
		else if (r != KDC_OK)
			rc = fail("audit verify: %s/audit.head: %s", c.dir,
			    kdc_err_str(r));
		else
			printf("audit chain ok: %" PRId64 " records\n", count);
	} else {
		json_t *arr = a->json ? json_array() : NULL;
		r = kdc_core_audit_foreach(c.core, 1, audit_print, arr);
		if (r != KDC_OK) {
			json_decref(arr);
			rc = fail("audit list: %s", kdc_err_str(r));
		} else if (arr != NULL)
			rc = print_json(arr);
	}
	ctx_close(&c);
	return rc;
}

/* ---- lwm2m --------------------------------------------------------------- */

static int
cmd_lwm2m_clients(const struct kdc_cli_args *a)
{
	struct kdc_lwm2m_reg *v = NULL;
	struct ctx c;
	size_t n = 0;
	int64_t now;
	int rc = 0;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	now = kdc_core_now(c.core);
	if ((r = kdc_core_lwm2m_reg_list(c.core, &v, &n)) !=
	    KDC_OK) {
		rc = fail("lwm2m clients: %s", kdc_err_str(r));
		goto out;
	}
	if (a->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *j = json_object();
			json_object_set_new(j, "ep", json_string(v[i].ep));
			json_object_set_new(j, "location", json_sprintf("/rd/%"
			    PRId64, v[i].id));
			json_object_set_new(j, "lifetime",
			    json_integer(v[i].lifetime));
			json_object_set_new(j, "lwm2m",
			    json_string(v[i].version));
			json_object_set_new(j, "binding",
			    json_string(v[i].binding));
			json_object_set_new(j, "address",
			    json_string(v[i].addr));
			json_object_set_new(j, "registered",
			    json_time(v[i].registered));
			json_object_set_new(j, "updated",
			    json_time(v[i].updated));
			json_object_set_new(j, "expired", json_boolean(
			    v[i].updated + v[i].lifetime < now));
			json_array_append_new(arr, j);
		}
		rc = print_json(arr);
	} else {
		printf("%-32s %-8s %-8s %-5s %-3s %-22s %-20s %s\n", "EP",
		    "LOCATION", "LIFETIME", "LWM2M", "B", "ADDRESS", "UPDATED",
		    "STATE");
		for (size_t i = 0; i < n; i++) {
			char t[32], loc[32];
			fmt_time(v[i].updated, t, sizeof(t));
			snprintf(loc, sizeof(loc), "/rd/%" PRId64, v[i].id);
			printf("%-32s %-8s %-8" PRId64 " %-5s %-3s %-22s %-20s "
			    "%s\n", v[i].ep, loc, v[i].lifetime,
			    v[i].version, v[i].binding, v[i].addr, t,
			    v[i].updated + v[i].lifetime < now ? "expired" :
			    "registered");
		}
	}
out:
	kdc_lwm2m_reg_list_free(v);
	ctx_close(&c);
	return rc;
}

/* ---- ACE Authorization Server --------------------------------------------- */

/* The 16-byte RS key from --key-file (hex; "-": standard input), a file
 * group and other may not read. Prints the error. */
static int
read_rs_key(const char *path, uint8_t key[16])
{
	uint8_t *buf = NULL, tmp[64];
	size_t len = 0, b0 = 0, n, klen = sizeof(tmp);
	struct stat sb;
	kdc_err r;
	int rc = 1;

	if (strcmp(path, "-") != 0) {
		if (stat(path, &sb) != 0)
			return fail("%s: %s", path, strerror(errno));
		if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0)
			return fail("%s: mode %04o: group or other may read "
			    "the key; chmod 600 %s", path,
			    (unsigned)sb.st_mode & 07777, path);
	}
	if (read_file(path, 1024, &buf, &len) != 0)
		return 1;
	while (b0 < len && strchr(" \t\r\n", buf[b0]) != NULL && buf[b0])
		b0++;
	n = len;
	while (n > b0 && buf[n - 1] != '\0' &&
	    strchr(" \t\r\n", buf[n - 1]) != NULL)
		n--;
	r = kdc_hex_decode((const char *)buf + b0, n - b0, tmp, &klen);
	if (r != KDC_OK || klen != 16)
		rc = fail("%s: not a 16-byte key in hex (32 hex digits)",
		    strcmp(path, "-") == 0 ? "standard input" : path);
	else {
		memcpy(key, tmp, 16);
		rc = 0;
	}
	kdc_wipe(tmp, sizeof(tmp));
	kdc_wipe(buf, len);
	kdc_free(buf);
	return rc;
}

static int
cmd_ace_rs_add(const struct kdc_cli_args *a)
{
	struct ctx c;
	uint8_t key[16], spki[KDC_SPKI_MAX], *buf = NULL;
	size_t spki_len = sizeof(spki), len = 0;
	const char *why;
	int rc = 1;
	kdc_err r;

	if (a->key_file != NULL && read_rs_key(a->key_file, key) != 0)
		return 1;
	if (a->pubkey != NULL) {
		if (read_file(a->pubkey, KDC_SPKI_MAX * 2, &buf, &len) != 0)
			goto out;
		if ((r = kdc_spki_load(buf, len, spki, &spki_len)) != KDC_OK ||
		    kdc_spki_p256_xy(spki, spki_len, NULL, NULL) != KDC_OK) {
			rc = fail("%s: not a P-256 public key (PEM or DER "
			    "SPKI)", a->pubkey);
			goto out;
		}
	}
	if (ctx_open(&c, a, 0) != 0)
		goto out;
	r = kdc_core_ace_rs_add(c.core, ACTOR, a->pos[0],
	    a->key_file != NULL ? key : NULL, 16,
	    a->pubkey != NULL ? spki : NULL, spki_len,
	    KDC_ACE_PROFILE_COAP_DTLS);
	if (r == KDC_OK) {
		printf("resource server %s added (%s%s%s)\n", a->pos[0],
		    a->key_file != NULL ? "shared key" : "",
		    a->key_file != NULL && a->pubkey != NULL ? ", " : "",
		    a->pubkey != NULL ? "public key" : "");
		rc = 0;
	} else {
		why = r == KDC_ERR_EXISTS ? "the audience exists (and is "
		    "another kind, or already an RS)" :
		    r == KDC_ERR_INVALID_ARG ? "bad name or key" :
		    kdc_err_str(r);
		rc = fail("ace rs add %s: %s", a->pos[0], why);
	}
	ctx_close(&c);
out:
	kdc_wipe(key, sizeof(key));
	kdc_free(buf);
	return rc;
}

static kdc_err
rs_json_one(void *arg, const struct kdc_ace_rs_info *rs)
{
	json_t *j = json_object();

	json_object_set_new(j, "audience", json_string(rs->audience));
	json_object_set_new(j, "profile", json_string(rs->profile ==
	    KDC_ACE_PROFILE_COAP_DTLS ? "coap_dtls" : "?"));
	json_object_set_new(j, "shared_key", json_boolean(rs->has_key));
	json_object_set_new(j, "public_key", json_boolean(rs->has_pubkey));
	json_object_set_new(j, "created", json_integer(rs->created));
	json_array_append_new(arg, j);
	return KDC_OK;
}

static kdc_err
rs_print_one(void *arg, const struct kdc_ace_rs_info *rs)
{
	char t[32];

	(void)arg;
	fmt_time(rs->created, t, sizeof(t));
	printf("%-24s %-10s %-10s %-10s %s\n", rs->audience,
	    rs->profile == KDC_ACE_PROFILE_COAP_DTLS ? "coap_dtls" : "?",
	    rs->has_key ? "shared" : "-", rs->has_pubkey ? "pubkey" : "-", t);
	return KDC_OK;
}

static int
cmd_ace_rs_list(const struct kdc_cli_args *a)
{
	struct ctx c;
	json_t *arr = NULL;
	int rc = 0;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if (a->json) {
		arr = json_array();
		if ((r = kdc_core_ace_rs_list(c.core, rs_json_one, arr)) !=
		    KDC_OK)
			rc = fail("ace rs list: %s", kdc_err_str(r));
		else
			rc = print_json(arr);
		arr = NULL;
	} else if ((r = kdc_core_ace_rs_list(c.core, rs_print_one, NULL)) !=
	    KDC_OK)
		rc = fail("ace rs list: %s", kdc_err_str(r));
	json_decref(arr);
	ctx_close(&c);
	return rc;
}

static int
cmd_ace_grant(const struct kdc_cli_args *a)
{
	char scopes[KDC_ACE_SCOPE_MAX + 1];
	size_t n = 0;
	struct ctx c;
	int rc = 1;
	kdc_err r;

	scopes[0] = '\0';
	for (int i = 2; i < a->npos; i++) {
		size_t k = strlen(a->pos[i]);

		if (n + k + (n > 0) > KDC_ACE_SCOPE_MAX)
			return fail("ace grant: scopes longer than %d bytes",
			    KDC_ACE_SCOPE_MAX);
		if (n > 0)
			scopes[n++] = ' ';
		memcpy(scopes + n, a->pos[i], k + 1);
		n += k;
	}
	if (!kdc_ace_scope_ok(scopes))
		return fail("ace grant: a scope is 1..64 printable bytes "
		    "(no space, '\"' or '\\\\'), at most 16 of them");
	if (ctx_open(&c, a, 0) != 0)
		return 1;
	r = kdc_core_ace_grant(c.core, ACTOR, a->pos[0], a->pos[1], scopes,
	    a->refresh != 0);
	if (r == KDC_OK) {
		printf("granted %s -> %s: %s%s\n", a->pos[0], a->pos[1],
		    scopes, a->refresh ? " (refresh tokens too)" : "");
		rc = 0;
	} else
		rc = fail("ace grant %s %s: %s", a->pos[0], a->pos[1],
		    r == KDC_ERR_UNKNOWN_AUDIENCE ? "not a resource server "
		    "(iotkdc ace rs add)" : kdc_err_str(r));
	ctx_close(&c);
	return rc;
}

static int
cmd_ace_revoke(const struct kdc_cli_args *a)
{
	struct ctx c;
	int rc = 1;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if (a->cmd == KDC_CMD_ACE_REVOKE_GRANT) {
		r = kdc_core_ace_grant_revoke(c.core, ACTOR, a->pos[0],
		    a->pos[1]);
		if (r == KDC_OK)
			printf("grant %s -> %s revoked, with its tokens\n",
			    a->pos[0], a->pos[1]);
		else
			fail("ace revoke-grant %s %s: %s", a->pos[0],
			    a->pos[1], r == KDC_ERR_NOT_FOUND ?
			    "no such grant" : kdc_err_str(r));
	} else {
		r = kdc_core_ace_token_revoke(c.core, ACTOR, a->pos[0]);
		if (r == KDC_OK)
			printf("token %s revoked\n", a->pos[0]);
		else
			fail("ace revoke-token %s: %s", a->pos[0],
			    r == KDC_ERR_NOT_FOUND ? "no such token" :
			    r == KDC_ERR_REVOKED ? "revoked already" :
			    kdc_err_str(r));
	}
	rc = r == KDC_OK ? 0 : 1;
	ctx_close(&c);
	return rc;
}

static kdc_err
token_json_one(void *arg, const struct kdc_ace_token_row *t)
{
	json_t *j = json_object();

	json_object_set_new(j, "cti", json_string(t->cti_hex));
	json_object_set_new(j, "client", json_string(t->client));
	json_object_set_new(j, "audience", json_string(t->audience));
	json_object_set_new(j, "scope", json_string(t->scope));
	json_object_set_new(j, "kind", json_string(t->kind));
	json_object_set_new(j, "pop", json_string(t->pop));
	json_object_set_new(j, "pop_kid", t->pop_kid_hex[0] != '\0' ?
	    json_string(t->pop_kid_hex) : json_null());
	json_object_set_new(j, "iat", json_integer(t->iat));
	json_object_set_new(j, "exp", json_integer(t->exp));
	json_object_set_new(j, "revoked_at", t->revoked_at != 0 ?
	    json_integer(t->revoked_at) : json_null());
	json_array_append_new(arg, j);
	return KDC_OK;
}

static kdc_err
token_print_one(void *arg, const struct kdc_ace_token_row *t)
{
	char iat[32], exp[32];

	(void)arg;
	fmt_time(t->iat, iat, sizeof(iat));
	fmt_time(t->exp, exp, sizeof(exp));
	printf("%s %-7s %-10s %-20s %-16s %-20s %s %s%s\n", t->cti_hex,
	    t->kind, t->pop, t->client, t->audience, t->scope, iat, exp,
	    t->revoked_at != 0 ? " revoked" : "");
	return KDC_OK;
}

static int
cmd_ace_tokens(const struct kdc_cli_args *a)
{
	struct ctx c;
	json_t *arr = NULL;
	int rc = 0;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if (a->json) {
		arr = json_array();
		if ((r = kdc_core_ace_tokens(c.core, a->active != 0,
		    token_json_one, arr)) != KDC_OK)
			rc = fail("ace tokens: %s", kdc_err_str(r));
		else
			rc = print_json(arr);
		arr = NULL;
	} else if ((r = kdc_core_ace_tokens(c.core, a->active != 0,
	    token_print_one, NULL)) != KDC_OK)
		rc = fail("ace tokens: %s", kdc_err_str(r));
	json_decref(arr);
	ctx_close(&c);
	return rc;
}

static int
cmd_ace_pubkey(const struct kdc_cli_args *a)
{
	struct ctx c;
	uint8_t cose[256], spki[128];
	size_t cose_len = sizeof(cose), spki_len = sizeof(spki);
	char hex[2 * sizeof(cose) + 1], *pem = NULL;
	size_t pem_len = 0;
	int rc = 1;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if ((r = kdc_core_ace_key_load(c.core, c.dir)) != KDC_OK) {
		rc = as_key_fail(c.dir, r);
		goto out;
	}
	if ((r = kdc_core_ace_as_pubkey(c.core, cose, &cose_len, spki,
	    &spki_len)) != KDC_OK) {
		rc = fail("ace pubkey: the AS key: %s", kdc_err_str(r));
		goto out;
	}
	if (a->cose) {
		kdc_hex_encode(cose, cose_len, hex);
		printf("%s\n", hex);
		rc = 0;
	} else if ((r = kdc_pem_encode("PUBLIC KEY", spki, spki_len, &pem, &pem_len)) !=
	    KDC_OK)
		rc = fail("ace pubkey: %s", kdc_err_str(r));
	else {
		fwrite(pem, 1, pem_len, stdout);
		rc = 0;
	}
out:
	kdc_free(pem);
	ctx_close(&c);
	return rc;
}

int
kdc_cli_run(const struct kdc_cli_args *a)
{
	kdc_err r;

	if ((r = kdc_crypto_init()) != KDC_OK)
		return fail("crypto init: %s", kdc_err_str(r));
	switch (a->cmd) {
	case KDC_CMD_INIT:		return cmd_init(a);
	case KDC_CMD_SERVE:		return kdc_cli_serve(a);
	case KDC_CMD_DEVICE_ADD:	return cmd_device_add(a);
	case KDC_CMD_DEVICE_IMPORT:	return cmd_device_import(a);
	case KDC_CMD_DEVICE_LIST:	return cmd_device_list(a);
	case KDC_CMD_DEVICE_SHOW:	return cmd_device_show(a);
	case KDC_CMD_DEVICE_REVOKE:
	case KDC_CMD_DEVICE_DELETE:	return cmd_device_change(a);
	case KDC_CMD_CRED_LIST:		return cmd_cred_list(a);
	case KDC_CMD_CRED_REVOKE:	return cmd_cred_revoke(a);
	case KDC_CMD_MFGCA_ADD:		return cmd_mfgca_add(a);
	case KDC_CMD_CERT_SIGN:		return cmd_cert_sign(a);
	case KDC_CMD_CA_EXPORT:		return cmd_ca_export(a);
	case KDC_CMD_USER_ADD:		return cmd_user_add(a);
	case KDC_CMD_USER_CERT:		return cmd_user_cert(a);
	case KDC_CMD_USER_LIST:		return cmd_user_list(a);
	case KDC_CMD_USER_PASSWD:	return cmd_user_passwd(a);
	case KDC_CMD_TLS_REISSUE:	return cmd_tls_reissue(a);
	case KDC_CMD_AUDIT_LIST:
	case KDC_CMD_AUDIT_VERIFY:	return cmd_audit(a);
	case KDC_CMD_LWM2M_CLIENTS:	return cmd_lwm2m_clients(a);
	case KDC_CMD_LWM2M_BOOTSTRAP_DEVICE:
		return kdc_cli_bootstrap_device(a);
	case KDC_CMD_AUDIENCE_ADD:	return cmd_audience_add(a);
	case KDC_CMD_AUDIENCE_LIST:
	case KDC_CMD_AUDIENCE_SHOW:	return cmd_audience_list(a);
	case KDC_CMD_ACE_RS_ADD:	return cmd_ace_rs_add(a);
	case KDC_CMD_ACE_RS_LIST:	return cmd_ace_rs_list(a);
	case KDC_CMD_ACE_GRANT:		return cmd_ace_grant(a);
	case KDC_CMD_ACE_REVOKE_GRANT:
	case KDC_CMD_ACE_REVOKE_TOKEN:	return cmd_ace_revoke(a);
	case KDC_CMD_ACE_TOKENS:	return cmd_ace_tokens(a);
	case KDC_CMD_ACE_PUBKEY:	return cmd_ace_pubkey(a);
	case KDC_CMD_OCF_DISCOVER:
	case KDC_CMD_OCF_ONBOARD:
	case KDC_CMD_OCF_PAIR:
	case KDC_CMD_OCF_CERT:
	case KDC_CMD_OCF_ACL_ADD:
	case KDC_CMD_OCF_DEVICES:
	case KDC_CMD_OCF_OFFBOARD:
	case KDC_CMD_OCF_RENEW:	return kdc_cli_ocf(a);
	case KDC_CMD_NONE:		break;
	}
	return fail("no command");
}
