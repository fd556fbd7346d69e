/*
 * bench_issue: certificates issued per second through the whole path
 * (kdc_core_cert_sign: CSR check, sign, supersede, DB insert, audit
 * record, commit on a WAL file store) next to, measured in the same run
 * on the same CSRs with the same CA key:
 *  - GnuTLS signing alone: GnuTLS's own CSR -> certificate path (import
 *    and verify the request with gnutls_x509_crq, build the same
 *    certificate with gnutls_x509_crt, sign, export DER). The reference
 *    of issue 4 §4; iotkdc used exactly this path until 2026-12-03.
 *  - the crypto limit: the two public-key operations any CSR ->
 *    certificate path must do (verify the request's ECDSA P-256
 *    signature, make the CA's), nothing else.
 *  - kdc_ca_sign_csr alone: ours without the store.
 *  - the EST CSR -> certificate path on both P-256 paths of crypto/p256.c
 *    in one run: GnuTLS (nettle; kdc_p256_force_gnutls) right before and
 *    right after OpenSSL (what ships for a file CA key), in thread CPU µs,
 *    for the ECDSA pair alone (verify the CSR + sign a certificate) and
 *    for the whole kdc_ca_sign_csr(); the two references are printed,
 *    with a warning when they differ by more than 10 % (a noisy machine).
 * The two issuance rows run twice on the same store connection: with
 * synchronous = FULL as the store opens it (a commit syncs the WAL before
 * it returns: what ships) and with synchronous = NORMAL (no sync at
 * commit; loses the last commits on power loss; what shipped before issue
 * 13), set on this connection only through the store's test hook, so the
 * price of durability is read in one run. One commit per issuance: the
 * EST face shares a commit among up to KDC_POOL_BATCH_MAX enrollments
 * (make bench's EST rows).
 * Also wraps per second, the at-rest cost of every secret, and the CRL of
 * a fleet (CRL_N entries) built and signed by kdc_ca_crl() next to
 * GnuTLS's own CRL builder (gnutls_x509_crl_*) on the same entries.
 * usage: bench_issue CSR_DIR SECONDS_PER_ROW   (CSR_DIR/0.csr .. 63.csr, DER)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include <sqlite3.h>

#include "base/limits.h"
#include "core/config.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "crypto/p256.h"
#include "store/store.h"
#include "store/store_int.h"

#define NDEV	64	/* devices, each with its own key and CSR */
#define CRL_N	4000	/* entries of the CRL rows */

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n <= 0 || (b = malloc((size_t)n)) == NULL ||
	    fread(b, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* The CA as GnuTLS objects, read from the data dir kdc_ca_create made. */
struct gca {
	gnutls_x509_crt_t	crt;
	gnutls_privkey_t	key;
	uint8_t			skid[64];
	size_t			skid_len;
};

static int
gca_load(const char *dir, const struct kdc_keyring *kr, struct gca *g)
{
	char path[4200];
	uint8_t *pem, *wrapped, *pkcs8 = NULL;
	size_t pem_len, wrapped_len, pkcs8_len = 0;
	gnutls_datum_t d;
	unsigned crit;
	int ok;

	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if ((pem = slurp(path, &pem_len)) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	if ((wrapped = slurp(path, &wrapped_len)) == NULL ||
	    kdc_unwrap(kr, "ca.key", 6, wrapped, wrapped_len, &pkcs8,
	    &pkcs8_len) != KDC_OK)
		return -1;
	d.data = pem;
	d.size = (unsigned)pem_len;
	ok = gnutls_x509_crt_init(&g->crt) == 0 &&
	    gnutls_x509_crt_import(g->crt, &d, GNUTLS_X509_FMT_PEM) == 0 &&
	    (g->skid_len = sizeof(g->skid),
	    gnutls_x509_crt_get_subject_key_id(g->crt, g->skid, &g->skid_len,
	    &crit) == 0) && gnutls_privkey_init(&g->key) == 0;
	d.data = pkcs8;
	d.size = (unsigned)pkcs8_len;
	ok = ok && gnutls_privkey_import_x509_raw(g->key, &d,
	    GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN) == 0;
	kdc_secret_free(pkcs8, pkcs8_len);
	free(pem);
	free(wrapped);
	return ok ? 0 : -1;
}

/*
 * GnuTLS's CSR -> certificate path, the certificate iotkdc issues: CN and
 * SAN URI dev_id, 16-byte random serial, SKI, keyUsage digitalSignature,
 * CA:FALSE, clientAuth, AKI, ECDSA-SHA256 by the CA; DER out.
 */
static int
gnutls_sign_csr(struct gca *g, const uint8_t *csr, size_t csr_len,
    const char *dev_id)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)csr,
	    (unsigned)csr_len }, der = { NULL, 0 };
	uint8_t serial[16], id[64];
	size_t id_len = sizeof(id);
	time_t now = time(NULL);
	int ok;

	ok = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) == 0 &&
	    (serial[0] = (serial[0] & 0x7f) | 0x01, 1) &&
	    gnutls_x509_crq_init(&crq) == 0 &&
	    gnutls_pubkey_init(&pub) == 0 &&
	    gnutls_x509_crq_import(crq, &in, GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_pubkey_import_x509_crq(pub, crq, 0) == 0 &&
	    gnutls_x509_crq_verify(crq, 0) == 0 &&
	    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA1, id,
	    &id_len) == 0 &&
	    gnutls_x509_crt_init(&crt) == 0 &&
	    gnutls_x509_crt_set_version(crt, 3) == 0 &&
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) == 0 &&
	    gnutls_x509_crt_set_activation_time(crt, now) == 0 &&
	    gnutls_x509_crt_set_expiration_time(crt, now + 86400 * 30) == 0 &&
	    gnutls_x509_crt_set_pubkey(crt, pub) == 0 &&
	    gnutls_x509_crt_set_subject_key_id(crt, id, id_len) == 0 &&
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
	    0, dev_id, (unsigned)strlen(dev_id)) == 0 &&
	    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI, dev_id,
	    (unsigned)strlen(dev_id), GNUTLS_FSAN_SET) == 0 &&
	    gnutls_x509_crt_set_key_usage(crt,
	    GNUTLS_KEY_DIGITAL_SIGNATURE) == 0 &&
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) == 0 &&
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT,
	    0) == 0 &&
	    gnutls_x509_crt_set_authority_key_id(crt, g->skid,
	    g->skid_len) == 0 &&
	    gnutls_x509_crt_privkey_sign(crt, g->crt, g->key,
	    GNUTLS_DIG_SHA256, 0) == 0 &&
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) == 0;
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crq_deinit(crq);
	return ok ? 0 : -1;
}

/* The reference CRL: GnuTLS builds and signs the same entries. */
static int
gnutls_crl(struct gca *g, uint8_t (*serials)[16], const int64_t *at, size_t n)
{
	gnutls_x509_crl_t crl;
	gnutls_datum_t d = { NULL, 0 };
	time_t now = time(NULL);
	uint8_t num = 1;
	int ok;

	if (gnutls_x509_crl_init(&crl) != 0)
		return -1;
	ok = gnutls_x509_crl_set_version(crl, 2) == 0 &&
	    gnutls_x509_crl_set_this_update(crl, now) == 0 &&
	    gnutls_x509_crl_set_next_update(crl, now + 86400) == 0;
	for (size_t i = 0; ok && i < n; i++)
		ok = gnutls_x509_crl_set_crt_serial(crl, serials[i], 16,
		    (time_t)at[i]) == 0;
	ok = ok && gnutls_x509_crl_set_authority_key_id(crl, g->skid,
	    g->skid_len) == 0 &&
	    gnutls_x509_crl_set_number(crl, &num, 1) == 0 &&
	    gnutls_x509_crl_privkey_sign(crl, g->crt, g->key,
	    GNUTLS_DIG_SHA256, 0) == 0 &&
	    gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_DER, &d) == 0;
	gnutls_free(d.data);
	gnutls_x509_crl_deinit(crl);
	return ok ? 0 : -1;
}

/* The whole issuance path for secs: kdc_core_cert_sign() cycling over the
 * NDEV devices and their CSRs. Issuances per second, or < 0. */
static double
run_cert_sign(struct kdc_core *core, uint8_t **csr, const size_t *csr_len,
    double secs, long *n)
{
	char dev_id[64];
	uint8_t *cert;
	size_t cert_len;
	double t0, t;
	int64_t id;

	*n = 0;
	t0 = cpu_now();
	do {
		snprintf(dev_id, sizeof(dev_id), "urn:dev:bench:%ld",
		    *n % NDEV);
		kdc_err r = kdc_core_cert_sign(core, "bench", dev_id, NULL,
		    csr[*n % NDEV], csr_len[*n % NDEV], 30, &id, &cert,
		    &cert_len);
		if (r != KDC_OK) {
			fprintf(stderr, "bench_issue: %s\n", kdc_err_str(r));
			return -1;
		}
		free(cert);
		(*n)++;
	} while ((t = cpu_now()) - t0 < secs);
	return *n / (t - t0);
}

/* The store path alone for secs: an operational PSK (random key, wrap,
 * supersede, insert, audit, commit; no signature). Per second, or < 0. */
static double
run_psk_issue(struct kdc_core *core, double secs, long *n)
{
	struct kdc_psk_new pn;
	char dev_id[64];
	double t0, t;

	*n = 0;
	t0 = cpu_now();
	do {
		snprintf(dev_id, sizeof(dev_id), "urn:dev:bench:%ld",
		    *n % NDEV);
		if (kdc_core_psk_issue(core, "bench", dev_id, NULL,
		    KDC_CRED_ISSUED, &pn) != KDC_OK)
			return -1;
		kdc_psk_new_wipe(&pn);
		(*n)++;
	} while ((t = cpu_now()) - t0 < secs);
	return *n / (t - t0);
}

/* Thread CPU time: what a verify or a sign costs, not what the other
 * tenants of the machine took meanwhile (transport.md §4 measured so). */
static double
thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The ECDSA P-256 pair of an enrollment on one path of p256.c: verify the
 * CSR's self-signature, sign a certificate-sized TBS with the CA key.
 * µs of thread CPU per pair, or < 0. */
static double
run_pair(struct kdc_ca *ca, const struct kdc_csr *c, bool gnutls,
    double secs, long *n)
{
	uint8_t tbs[400], sig[KDC_P256_SIG_MAX];
	size_t sig_len;
	double t0, t;

	memset(tbs, 0x5a, sizeof(tbs));
	kdc_p256_force_gnutls(gnutls);
	*n = 0;
	t0 = thread_cpu();
	do {
		sig_len = sizeof(sig);
		if (crypto_p256_verify(c->spki, c->spki_len, KDC_P256_SHA256,
		    c->info, c->info_len, c->sig, c->sig_len) != KDC_OK ||
		    crypto_p256_ca_sign(ca, tbs, sizeof(tbs), sig, &sig_len) !=
		    KDC_OK || kdc_p256_last_was_openssl() == gnutls)
			return -1;
		(*n)++;
	} while ((t = thread_cpu()) - t0 < secs);
	kdc_p256_force_gnutls(false);
	return (t - t0) * 1e6 / (double)*n;
}

/* kdc_ca_sign_csr() on one path, cycling over the CSRs: µs of thread CPU
 * per certificate, or < 0. */
static double
run_csr_path(struct kdc_ca *ca, uint8_t **csr, const size_t *csr_len,
    bool gnutls, double secs, long *n)
{
	double t0, t;

	kdc_p256_force_gnutls(gnutls);
	*n = 0;
	t0 = thread_cpu();
	do {
		struct kdc_issued is;

		if (kdc_ca_sign_csr(ca, csr[*n % NDEV], csr_len[*n % NDEV],
		    "urn:dev:bench:1", 0, 2000000000, &is) != KDC_OK ||
		    kdc_p256_last_was_openssl() == gnutls)
			return -1;
		kdc_issued_wipe(&is);
		(*n)++;
	} while ((t = thread_cpu()) - t0 < secs);
	kdc_p256_force_gnutls(false);
	return (t - t0) * 1e6 / (double)*n;
}

/* Percent by which two references differ (of the smaller). */
static double
ref_spread(double a, double b)
{
	return 100.0 * (a > b ? a - b : b - a) / (a < b ? a : b);
}

/* PRAGMA synchronous on the store's connection: 2 (FULL) or 1 (NORMAL),
 * set and read back. */
static int
set_sync(struct kdc_store *st, int mode)
{
	sqlite3 *db = kdc_sqlite_handle(st);
	sqlite3_stmt *s = NULL;
	char sql[32];
	int got = -1;

	snprintf(sql, sizeof(sql), "PRAGMA synchronous = %d", mode);
	if (db == NULL || sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &s, NULL) ==
	    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		got = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return got == mode ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct kdc_config cfg;
	struct kdc_keyring *kr = NULL;
	struct kdc_store *st = NULL;
	struct kdc_ca *ca = NULL;
	struct kdc_core *core = NULL;
	struct kdc_device_spec spec;
	uint8_t key[32], *csr[NDEV], pt[32], *w;
	size_t csr_len[NDEV], w_len;
	char dir[] = "/tmp/kdcbench.XXXXXX", db[64];
	double secs, t0, t;
	long n_sign = 0, n_full = 0, n_wrap = 0, n_psk = 0, n_ours = 0,
	    n_lim = 0, n_full_n = 0, n_psk_n = 0;
	struct gca g;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_issue CSR_DIR SECONDS\n");
		return 2;
	}
	for (int i = 0; i < NDEV; i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%d.csr", argv[1], i);
		if ((csr[i] = slurp(p, &csr_len[i])) == NULL) {
			fprintf(stderr, "bench_issue: cannot read %s\n", p);
			return 2;
		}
	}
	secs = atof(argv[2]);
	if (mkdtemp(dir) == NULL || kdc_crypto_init() != KDC_OK ||
	    kdc_random(key, sizeof(key)) != KDC_OK ||
	    kdc_keyring_from_bytes(key, &kr) != KDC_OK ||
	    kdc_ca_create(dir, kr, NULL, 3650) != KDC_OK ||
	    kdc_ca_load(dir, kr, NULL, &ca) != KDC_OK)
		return 1;
	snprintf(db, sizeof(db), "%s/bench.db", dir);
	kdc_config_defaults(&cfg);
	if (kdc_store_open(db, 1, &st) != KDC_OK ||
	    kdc_core_new(st, kr, ca, &cfg, &core) != KDC_OK)
		return 1;
	/* a fleet: issuance cycles over NDEV devices, as renewals would */
	memset(&spec, 0, sizeof(spec));
	spec.type = KDC_TYPE_X509;
	for (int i = 0; i < NDEV; i++) {
		snprintf(spec.dev_id, sizeof(spec.dev_id), "urn:dev:bench:%d", i);
		if (kdc_core_device_add(core, "bench", &spec) != KDC_OK)
			return 1;
	}

	if (gca_load(dir, kr, &g) != 0) {
		fprintf(stderr, "bench_issue: cannot load the CA with GnuTLS\n");
		return 1;
	}
	/* reference: GnuTLS's CSR -> certificate path alone */
	t0 = cpu_now();
	do {
		if (gnutls_sign_csr(&g, csr[n_sign % NDEV],
		    csr_len[n_sign % NDEV], "urn:dev:bench:1") != 0) {
			fprintf(stderr, "bench_issue: GnuTLS path failed\n");
			return 1;
		}
		n_sign++;
	} while ((t = cpu_now()) - t0 < secs);
	double r_sign = n_sign / (t - t0);

	/* the crypto limit: verify one ECDSA P-256 signature, make one */
	{
		gnutls_pubkey_t pub;
		gnutls_datum_t msg = { (unsigned char *)csr[0], 300 }, sig;

		if (gnutls_pubkey_init(&pub) != 0 ||
		    gnutls_pubkey_import_privkey(pub, g.key, 0, 0) != 0 ||
		    gnutls_privkey_sign_data2(g.key, GNUTLS_SIGN_ECDSA_SHA256, 0,
		    &msg, &sig) != 0)
			return 1;
		t0 = cpu_now();
		do {
			gnutls_datum_t s2;

			if (gnutls_pubkey_verify_data2(pub,
			    GNUTLS_SIGN_ECDSA_SHA256, 0, &msg, &sig) < 0 ||
			    gnutls_privkey_sign_data2(g.key,
			    GNUTLS_SIGN_ECDSA_SHA256, 0, &msg, &s2) != 0)
				return 1;
			gnutls_free(s2.data);
			n_lim++;
		} while ((t = cpu_now()) - t0 < secs);
		gnutls_free(sig.data);
		gnutls_pubkey_deinit(pub);
	}
	double r_lim = n_lim / (t - t0);

	/* ours alone (own DER both ways, no store) */
	t0 = cpu_now();
	do {
		struct kdc_issued is;
		if (kdc_ca_sign_csr(ca, csr[n_ours % NDEV],
		    csr_len[n_ours % NDEV], "urn:dev:bench:1", 0,
		    2000000000, &is) != KDC_OK)
			return 1;
		kdc_issued_wipe(&is);
		n_ours++;
	} while ((t = cpu_now()) - t0 < secs);
	double r_ours = n_ours / (t - t0);

	/* the EST CSR -> certificate path, GnuTLS then OpenSSL then GnuTLS
	 * again: the pair alone, then the whole kdc_ca_sign_csr() */
	struct kdc_csr pc;
	long n_pg1 = 0, n_po = 0, n_pg2 = 0, n_cg1 = 0, n_co = 0, n_cg2 = 0;

	if (kdc_csr_parse(csr[0], csr_len[0], &pc) != KDC_OK)
		return 1;
	double us_pg1 = run_pair(ca, &pc, true, secs, &n_pg1);
	double us_po = run_pair(ca, &pc, false, secs, &n_po);
	double us_pg2 = run_pair(ca, &pc, true, secs, &n_pg2);
	double us_cg1 = run_csr_path(ca, csr, csr_len, true, secs, &n_cg1);
	double us_co = run_csr_path(ca, csr, csr_len, false, secs, &n_co);
	double us_cg2 = run_csr_path(ca, csr, csr_len, true, secs, &n_cg2);
	if (us_pg1 < 0 || us_po < 0 || us_pg2 < 0 || us_cg1 < 0 ||
	    us_co < 0 || us_cg2 < 0) {
		fprintf(stderr, "bench_issue: a P-256 path failed (or took "
		    "the other library)\n");
		return 1;
	}

	/* ours: the whole issuance path with the DB write and audit, and
	 * the store path alone (PSK), durable (FULL, as the store opens)
	 * then not (NORMAL) */
	if (set_sync(st, 2) != 0)
		return 1;
	double r_full = run_cert_sign(core, csr, csr_len, secs, &n_full);
	double r_psk = run_psk_issue(core, secs, &n_psk);
	if (set_sync(st, 1) != 0)
		return 1;
	double r_full_n = run_cert_sign(core, csr, csr_len, secs, &n_full_n);
	double r_psk_n = run_psk_issue(core, secs, &n_psk_n);
	if (set_sync(st, 2) != 0 || r_full < 0 || r_psk < 0 || r_full_n < 0 ||
	    r_psk_n < 0)
		return 1;

	/* at-rest wrapping of one PSK */
	memset(pt, 7, sizeof(pt));
	t0 = cpu_now();
	do {
		if (kdc_wrap(kr, "cred:1", 6, pt, sizeof(pt), &w, &w_len) !=
		    KDC_OK)
			return 1;
		free(w);
		n_wrap++;
	} while ((t = cpu_now()) - t0 < secs);
	double r_wrap = n_wrap / (t - t0);

	/* the CRL of a fleet: CRL_N revoked or superseded certificates */
	static uint8_t serials[CRL_N][16];
	static char hex[CRL_N][33];
	static const char *hexp[CRL_N];
	static int64_t at[CRL_N];
	long n_crl = 0, n_gcrl = 0;

	for (size_t i = 0; i < CRL_N; i++) {
		if (kdc_random(serials[i], 16) != KDC_OK)
			return 1;
		serials[i][0] = (uint8_t)((serials[i][0] & 0x3f) | 0x10);
		kdc_hex_encode(serials[i], 16, hex[i]);
		hexp[i] = hex[i];
		at[i] = (int64_t)time(NULL) - (int64_t)i;
	}
	t0 = cpu_now();
	do {
		uint8_t *der;
		size_t len;

		if (kdc_ca_crl(ca, hexp, at, CRL_N, (int64_t)time(NULL),
		    (int64_t)time(NULL) + 86400, 1, &der, &len) != KDC_OK)
			return 1;
		free(der);
		n_crl++;
	} while ((t = cpu_now()) - t0 < secs);
	double r_crl = n_crl / (t - t0);
	t0 = cpu_now();
	do {
		if (gnutls_crl(&g, serials, at, CRL_N) != 0) {
			fprintf(stderr, "bench_issue: GnuTLS CRL failed\n");
			return 1;
		}
		n_gcrl++;
	} while ((t = cpu_now()) - t0 < secs);
	double r_gcrl = n_gcrl / (t - t0);

	printf("| certificate issuance (CSR → cert) | GnuTLS sign alone: gnutls_x509_crq import + verify, gnutls_x509_crt build + privkey_sign + export (the same certificate) | %.0f/s | %ld |\n",
	    r_sign, n_sign);
	printf("| the GnuTLS crypto limit | one ECDSA P-256 verify + one sign (gnutls_pubkey_verify_data2, gnutls_privkey_sign_data2) | %.0f/s | %ld |\n",
	    r_lim, n_lim);
	printf("| certificate issuance (CSR → cert) | kdc_ca_sign_csr: our DER parser and certificate template, the two ECDSA P-256 operations through OpenSSL (crypto/p256.c, file CA key) | %.0f/s | %ld |\n",
	    r_ours, n_ours);
	printf("| ratio kdc_ca_sign_csr / GnuTLS sign alone; / the GnuTLS crypto limit | | **%.2f**; **%.2f** | |\n",
	    r_ours / r_sign, r_ours / r_lim);
	printf("| EST CSR → cert, the ECDSA P-256 pair (verify the CSR + sign a certificate, crypto_p256_*), thread CPU | GnuTLS/nettle before; OpenSSL; GnuTLS/nettle after | %.0f µs; **%.0f µs**; %.0f µs | %ld; %ld; %ld |\n",
	    us_pg1, us_po, us_pg2, n_pg1, n_po, n_pg2);
	printf("| EST CSR → cert, kdc_ca_sign_csr (parse, verify, build, sign), thread CPU | GnuTLS/nettle before; OpenSSL; GnuTLS/nettle after | %.0f µs; **%.0f µs**; %.0f µs | %ld; %ld; %ld |\n",
	    us_cg1, us_co, us_cg2, n_cg1, n_co, n_cg2);
	printf("| ratio OpenSSL / GnuTLS path, µs (against each reference): the pair; kdc_ca_sign_csr | GnuTLS references differ by %.0f %%; %.0f %%%s | **%.2f–%.2f**; **%.2f–%.2f** | |\n",
	    ref_spread(us_pg1, us_pg2), ref_spread(us_cg1, us_cg2),
	    ref_spread(us_pg1, us_pg2) > 10 || ref_spread(us_cg1, us_cg2) > 10 ?
	    " (over 10 %: a noisy run, repeat)" : "",
	    us_po / (us_pg1 > us_pg2 ? us_pg1 : us_pg2),
	    us_po / (us_pg1 < us_pg2 ? us_pg1 : us_pg2),
	    us_co / (us_cg1 > us_cg2 ? us_cg1 : us_cg2),
	    us_co / (us_cg1 < us_cg2 ? us_cg1 : us_cg2));
	printf("| certificate issuance (CSR → cert) | kdc_core_cert_sign: + supersede, SQLite WAL insert, audit, durable commit (synchronous = FULL: one WAL fdatasync per issuance; 64 devices) | %.0f/s | %ld |\n",
	    r_full, n_full);
	printf("| ratio ours / GnuTLS alone | | **%.2f** | |\n", r_full / r_sign);
	printf("| PSK issuance (no signature: the store path) | kdc_core_psk_issue: random key, wrap, supersede, SQLite WAL insert, audit, durable commit (synchronous = FULL) | %.0f/s | %ld |\n",
	    r_psk, n_psk);
	printf("| certificate issuance, synchronous = NORMAL (no sync at commit: lost on power loss; before issue 13) | kdc_core_cert_sign, the same connection after PRAGMA synchronous = NORMAL | %.0f/s | %ld |\n",
	    r_full_n, n_full_n);
	printf("| PSK issuance, synchronous = NORMAL | kdc_core_psk_issue, the same | %.0f/s | %ld |\n",
	    r_psk_n, n_psk_n);
	printf("| ratio FULL / NORMAL: certificate; PSK (one commit per issuance; EST groups up to %d per commit) | | **%.2f**; **%.2f** | |\n",
	    KDC_POOL_BATCH_MAX, r_full / r_full_n, r_psk / r_psk_n);
	printf("| PSK wrap (AES-256-GCM, 32 B) | kdc_wrap | %.0f/s | %ld |\n",
	    r_wrap, n_wrap);
	printf("| CRL of %d entries, built and signed | GnuTLS alone: gnutls_x509_crl_set_crt_serial per entry, privkey_sign, export | %.1f/s | %ld |\n",
	    CRL_N, r_gcrl, n_gcrl);
	printf("| CRL of %d entries, built and signed | kdc_ca_crl: our DER writer, one gnutls_privkey_sign_data2 (the same TBSCertList, test_crypto_crl) | %.1f/s | %ld |\n",
	    CRL_N, r_crl, n_crl);
	printf("| ratio kdc_ca_crl / GnuTLS CRL | | **%.0f** | |\n",
	    r_crl / r_gcrl);
	gnutls_x509_crt_deinit(g.crt);
	gnutls_privkey_deinit(g.key);
	kdc_core_free(core);
	kdc_store_close(st);
	kdc_ca_free(ca);
	kdc_keyring_free(kr);
	for (int i = 0; i < NDEV; i++)
		free(csr[i]);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return 0;
}
