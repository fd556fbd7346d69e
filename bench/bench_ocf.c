/*
 * bench_ocf: OCF onboardings per second (issue 16 §4), discovery
 * excluded, against the DTLS onboarding handshakes they need measured
 * alone in the same run, and bytes on the wire per onboarding.
 *
 *   bench_ocf DATA_DIR IFACE OTM N PIN_DIR
 *
 * DATA_DIR an `iotkdc init`ed data dir (a manufacturer CA added for
 * mfgcert), IFACE the link the simulated devices (`iotkdc-device
 * ocf-server`) answer discovery on, OTM rdp or mfgcert, N onboardings.
 * PIN_DIR: for rdp, where the device with uuid U writes its PIN (the
 * devices are started with --pin-file PIN_DIR/pin.<port> and the device's
 * coap port names its file: its uuid changes at every reset, its ports
 * do not).
 *
 * Rounds: discover (untimed); onboard each unowned device offering OTM
 * (timed, its bytes counted on IFACE); offboard each (untimed: the device
 * resets to a new uuid). Then as many handshakes alone
 * (kdc_ocf_obt_doc_only(): oxmsel, PIN, the DOC handshake, close; the
 * device resets). Prints one line:
 *   otm=rdp n=N onboard_us=MEAN hs_us=MEAN onboard_per_s=R hs_per_s=R
 *   ratio=R bytes=B datagrams=D onboard_cpu_us=C prep_hs_cpu_us=C
 *   cpu_ratio=R
 * (cpu: this process's CPU per onboarding, and per doc_only() call: the
 * unsecured steps, the PIN's PBKDF2 and the handshake)
 * bytes: the Ethernet frames both ways on IFACE per onboarding
 * (/sys/class/net/IFACE/statistics), discovery not included.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "base/alloc.h"
#include "cli/cli_int.h"
#include "core/ocf.h"
#include "ocf/obt.h"

static uint64_t
ctr(const char *ifn, const char *name)
{
	char path[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifn,
	    name);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* this process's CPU time (user + system), microseconds */
static uint64_t
cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static bool
offers(const struct kdc_ocf_found *f, int otm)
{
	for (size_t i = 0; i < f->n_oxms; i++)
		if (f->oxms[i] == otm)
			return true;
	return false;
}

int
main(int argc, char **argv)
{
	struct kdc_cli_args a;
	struct kdc_ocf_obt *o = NULL;
	struct kdc_ocf_found *fs;
	struct ctx c;
	const char *ifn;
	char pin[512], why[256], nu[KDC_OCF_UUID_TEXT + 1];
	uint64_t ob_us = 0, hs_us = 0, bytes = 0, dgrams = 0, ob_cpu = 0,
	    hs_cpu = 0;
	long n_want;
	int otm, n_ob = 0, n_hs = 0, rounds = 0;
	kdc_err r;

	if (argc != 6) {
		fprintf(stderr, "usage: bench_ocf DATA_DIR IFACE rdp|mfgcert N "
		    "PIN_DIR\n");
		return 2;
	}
	ifn = argv[2];
	otm = strcmp(argv[3], "rdp") == 0 ? KDC_OCF_OXM_RDP :
	    KDC_OCF_OXM_MFGCERT;
	n_want = strtol(argv[4], NULL, 10);
	memset(&a, 0, sizeof(a));
	a.dir = argv[1];
	if (ctx_open(&c, &a, 1) != 0)
		return 1;
	if ((r = kdc_ocf_obt_new(c.core, &c.cfg, ifn, 500, &o)) != KDC_OK) {
		fprintf(stderr, "bench_ocf: %s\n", kdc_err_str(r));
		return 1;
	}
	if ((fs = kdc_calloc(KDC_OCF_FOUND_MAX, sizeof(*fs))) == NULL)
		return 1;
	/* onboardings, then as many handshakes alone */
	for (int phase = 0; phase < 2; phase++) {
		int *done = phase == 0 ? &n_ob : &n_hs;

		while (*done < n_want) {
			size_t n = 0, used = 0;

			if (++rounds > 4 * n_want + 10) {
				fprintf(stderr, "bench_ocf: no progress\n");
				return 1;
			}
			if ((r = kdc_ocf_obt_discover(o, fs, KDC_OCF_FOUND_MAX,
			    &n)) != KDC_OK) {
				fprintf(stderr, "bench_ocf: discover: %s\n",
				    kdc_err_str(r));
				return 1;
			}
			for (size_t i = 0; i < n && *done < n_want; i++) {
				struct kdc_ocf_onboard_opts op;
				uint64_t t0, b0, d0, us, c0 = cpu_us();

				if (!fs[i].doxm_ok || fs[i].owned ||
				    !offers(&fs[i], otm))
					continue;
				memset(&op, 0, sizeof(op));
				op.uuid = fs[i].uuid;
				op.otm = otm;
				op.found = &fs[i];
				op.pin_wait_s = 10;
				snprintf(pin, sizeof(pin), "%s/pin.%d", argv[5],
				    fs[i].coap_port);
				op.pin_file = otm == KDC_OCF_OXM_RDP ? pin :
				    NULL;
				if (phase == 1) {
					r = kdc_ocf_obt_doc_only(o, &op, &us,
					    why, sizeof(why));
					if (r != KDC_OK) {
						fprintf(stderr, "bench_ocf: "
						    "handshake: %s\n", why);
						return 1;
					}
					hs_us += us;
					hs_cpu += cpu_us() - c0;
					n_hs++;
					used++;
					continue;
				}
				b0 = ctr(ifn, "tx_bytes") + ctr(ifn,
				    "rx_bytes");
				d0 = ctr(ifn, "tx_packets") + ctr(ifn,
				    "rx_packets");
				t0 = now_us();
				r = kdc_ocf_obt_onboard(o, &op, nu, why,
				    sizeof(why));
				us = now_us() - t0;
				ob_cpu += cpu_us() - c0;
				if (r != KDC_OK) {
					fprintf(stderr, "bench_ocf: onboard: "
					    "%s\n", why);
					return 1;
				}
				bytes += ctr(ifn, "tx_bytes") + ctr(ifn,
				    "rx_bytes") - b0;
				dgrams += ctr(ifn, "tx_packets") + ctr(ifn,
				    "rx_packets") - d0;
				ob_us += us;
				n_ob++;
				used++;
				if ((r = kdc_ocf_obt_offboard(o, nu, false, why,
				    sizeof(why))) != KDC_OK) {
					fprintf(stderr, "bench_ocf: offboard: "
					    "%s\n", why);
					return 1;
				}
			}
			if (used == 0) {
				fprintf(stderr, "bench_ocf: no unowned device "
				    "offers %s\n", argv[3]);
				return 1;
			}
		}
	}
	printf("otm=%s n=%d onboard_us=%.0f hs_us=%.0f onboard_per_s=%.1f "
	    "hs_per_s=%.1f ratio=%.3f bytes=%.0f datagrams=%.1f "
	    "onboard_cpu_us=%.0f prep_hs_cpu_us=%.0f cpu_ratio=%.3f\n",
	    argv[3], n_ob, (double)ob_us / n_ob, (double)hs_us / n_hs,
	    1e6 * n_ob / (double)ob_us, 1e6 * n_hs / (double)hs_us,
	    ((double)hs_us / n_hs) / ((double)ob_us / n_ob),
	    (double)bytes / n_ob, (double)dgrams / n_ob,
	    (double)ob_cpu / n_ob, (double)hs_cpu / n_hs,
	    ((double)hs_cpu / n_hs) / ((double)ob_cpu / n_ob));
	kdc_free(fs);
	kdc_ocf_obt_free(o);
	ctx_close(&c);
	return 0;
}
