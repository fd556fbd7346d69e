/*
 * bench_issue: certificates issued per second through the whole path
 * (kdc_core_cert_sign: CSR check, sign, supersede, DB insert, audit
 * record, commit on a WAL file store) next to GnuTLS signing alone
 * (kdc_ca_sign_csr) measured in the same run on the same CSR. Also wraps
 * per second, the at-rest cost of every secret.
 * usage: bench_issue CSR_DIR SECONDS_PER_ROW   (CSR_DIR/0.csr .. 63.csr)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define NDEV	64	/* devices, each with its own key and CSR */

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

int
main(int argc, char **argv)
{
	struct kdc_config cfg;
	struct kdc_keyring *kr = NULL;
	struct kdc_store *st = NULL;
	struct kdc_ca *ca = NULL;
	struct kdc_core *core = NULL;
	struct kdc_device_spec spec;
	uint8_t key[32], *csr[NDEV], *cert, pt[32], *w;
	size_t csr_len[NDEV], cert_len, w_len;
	char dir[] = "/tmp/kdcbench.XXXXXX", db[64];
	double secs, t0, t;
	long n_sign = 0, n_full = 0, n_wrap = 0, n_psk = 0;
	int64_t id;

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

	/* reference: GnuTLS CSR -> certificate alone */
	t0 = cpu_now();
	do {
		struct kdc_issued is;
		if (kdc_ca_sign_csr(ca, csr[n_sign % NDEV],
		    csr_len[n_sign % NDEV], "urn:dev:bench:1", 0,
		    2000000000, &is) != KDC_OK)
			return 1;
		kdc_issued_wipe(&is);
		n_sign++;
	} while ((t = cpu_now()) - t0 < secs);
	double r_sign = n_sign / (t - t0);

	/* ours: the whole issuance path with the DB write and audit */
	t0 = cpu_now();
	do {
		snprintf(spec.dev_id, sizeof(spec.dev_id), "urn:dev:bench:%ld",
		    n_full % NDEV);
		kdc_err r = kdc_core_cert_sign(core, "bench", spec.dev_id,
		    csr[n_full % NDEV], csr_len[n_full % NDEV], 30, &id, &cert,
		    &cert_len);
		if (r != KDC_OK) {
			fprintf(stderr, "bench_issue: %s\n", kdc_err_str(r));
			return 1;
		}
		free(cert);
		n_full++;
	} while ((t = cpu_now()) - t0 < secs);
	double r_full = n_full / (t - t0);

	/* the store path alone: an operational PSK (random key, wrap,
	 * supersede, insert, audit, commit; no signature) */
	t0 = cpu_now();
	do {
		uint8_t psk[KDC_PSK_GEN_LEN];

		snprintf(spec.dev_id, sizeof(spec.dev_id), "urn:dev:bench:%ld",
		    n_psk % NDEV);
		if (kdc_core_psk_issue(core, "bench", spec.dev_id,
		    KDC_CRED_ISSUED, &id, psk) != KDC_OK)
			return 1;
		n_psk++;
	} while ((t = cpu_now()) - t0 < secs);
	double r_psk = n_psk / (t - t0);

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

	printf("| certificate issuance (CSR → cert) | GnuTLS sign alone | %.0f/s | %ld |\n",
	    r_sign, n_sign);
	printf("| certificate issuance (CSR → cert) | kdc_core_cert_sign: + supersede, SQLite WAL insert, audit, commit (64 devices) | %.0f/s | %ld |\n",
	    r_full, n_full);
	printf("| ratio ours / GnuTLS alone | | **%.2f** | |\n", r_full / r_sign);
	printf("| PSK issuance (no signature: the store path) | kdc_core_psk_issue: random key, wrap, supersede, SQLite WAL insert, audit, commit | %.0f/s | %ld |\n",
	    r_psk, n_psk);
	printf("| PSK wrap (AES-256-GCM, 32 B) | kdc_wrap | %.0f/s | %ld |\n",
	    r_wrap, n_wrap);
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
