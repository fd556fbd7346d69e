/*
 * bench_tdd: the Thing Directory's rows of make bench-tdd (issue 17 §4).
 *
 *   bench_tdd search DATA_DIR SIZES QUERIES
 *	DATA_DIR an `iotkdc init`ed data dir with the users owner and
 *	reader (`iotkdc user add`); SIZES comma-separated ascending TD
 *	counts (10,1000,10000,100000,1000000). The directory (core/tdd.h,
 *	on the data dir's store) is filled with generated TDs
 *	(bench_tdd_gen.h) owned by user.owner, readable by user.reader,
 *	through kdc_tdd_import() in batches; at each size, QUERIES random
 *	queries among the workload generator's three (as the anchors ran
 *	them: one after another) through kdc_tdd_search() as user.reader,
 *	each timed from the call to the JSON answer. Reference at sizes up
 *	to 100,000: the naive evaluation, kdc_jsonpath_eval() over one
 *	array of every TD parsed in memory (the stored TD texts, parsed
 *	before the clock starts) and its answer dumped, the same query
 *	sequence. One line per size and query:
 *	  size=N q=K n=COUNT mean_us=M p50_us=P p99_us=P naive_us=M
 *	  results=R bytes=B
 *	and per size: size=N load_s=S rss_kib=R (the process after the load).
 *
 *   bench_tdd fill DATA_DIR N
 *	N generated TDs into the data dir (as above), for the GET rows.
 *
 * The HTTPS load client is bench_tdd_get.c.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/alloc.h"
#include "cli/cli_int.h"
#include "core/tdd.h"
#include "tdd/jfree.h"
#include "tdd/jsonpath.h"

#include "bench_tdd_gen.h"

#define BATCH	2000

static const char *const queries[] = {
	"$[?(@.properties.lightColor)]",
	"$[?(@.properties.lightColor && @.properties.brightness)]",
	"$[?(@.properties.sensorInformation)].properties..state",
};
#define NQ 3

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long
status_kib(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0) {
			v = strtol(line + strlen(key), NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int
caller_of(struct ctx *c, struct kdc_tdd *t, const char *user,
    struct kdc_tdd_caller *out)
{
	struct kdc_principal p;
	struct kdc_device *dev = NULL;
	char dev_id[KDC_DEVID_MAX + 1];
	kdc_err r;

	memset(&p, 0, sizeof(p));
	if ((r = kdc_core_user_dev_id(c->core, user, dev_id,
	    sizeof(dev_id))) != KDC_OK ||
	    (r = kdc_core_device_get(c->core, dev_id, &dev)) != KDC_OK) {
		fprintf(stderr, "bench_tdd: user %s: %s\n", user,
		    kdc_err_str(r));
		return -1;
	}
	p.device = dev->id;
	snprintf(p.dev_id, sizeof(p.dev_id), "%s", dev->dev_id);
	kdc_device_free(dev);
	if ((r = kdc_tdd_caller(t, &p, out)) != KDC_OK) {
		fprintf(stderr, "bench_tdd: caller %s: %s\n", user,
		    kdc_err_str(r));
		return -1;
	}
	return 0;
}

/* TDs [from, to) into t, batch by batch */
static int
fill(struct kdc_tdd *t, const struct kdc_tdd_caller *owner,
    const char *reader_id, uint64_t from, uint64_t to)
{
	struct kdc_tdd_consent k;
	struct kdc_tdd_result *res;
	struct gbuf b[BATCH];
	const char *bodies[BATCH];
	size_t lens[BATCH];
	kdc_err r;

	memset(&k, 0, sizeof(k));
	k.given = true;
	snprintf(k.purpose, sizeof(k.purpose), "benchmark");
	snprintf(k.readers, sizeof(k.readers), "%s", reader_id);
	memset(b, 0, sizeof(b));
	if ((res = calloc(1, sizeof(*res))) == NULL)
		return -1;
	for (uint64_t i = from; i < to;) {
		size_t n = 0;

		for (; i < to && n < BATCH; i++, n++) {
			gen_td(&b[n], i);
			bodies[n] = b[n].p;
			lens[n] = b[n].n;
		}
		if ((r = kdc_tdd_import(t, owner, bodies, lens, n, &k, res)) !=
		    KDC_OK) {
			fprintf(stderr, "bench_tdd: import: %s: %s (%s)\n",
			    kdc_err_str(r), res->id, res->why);
			for (size_t e = 0; e < res->verrs.n && e < 5; e++)
				fprintf(stderr, "  %s: %s\n",
				    res->verrs.e[e].field,
				    res->verrs.e[e].description);
			free(res);
			return -1;
		}
	}
	for (size_t j = 0; j < BATCH; j++)
		free(b[j].p);
	free(res);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* the naive reference: every TD's stored text parsed into one array */
static json_t *
naive_root(struct kdc_tdd *t, const struct kdc_tdd_caller *owner)
{
	json_t *root = json_array();
	char *js = NULL;
	size_t len, total = 0, off = 0;

	do {
		json_t *page;

		if (kdc_tdd_list(t, owner, off, KDC_TDD_LIST_MAX, &js, &len,
		    &total) != KDC_OK)
			break;
		page = json_loadb(js, len, 0, NULL);
		kdc_free(js);
		js = NULL;
		if (page == NULL)
			break;
		json_array_extend(root, page);
		json_decref(page);
		off += KDC_TDD_LIST_MAX;
	} while (off < total);
	if (json_array_size(root) != total) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/* nq random queries (the same sequence each call) as c: latencies by
 * query into lat/nv, thread CPU into cpu, the first answer's size */
static int
run_queries(struct kdc_tdd *t, const struct kdc_tdd_caller *c, int nq,
    uint64_t lat[NQ][1024], uint64_t *nv, uint64_t *cpu, uint64_t *res_n,
    uint64_t *bytes)
{
	uint64_t seed = 42;
	char why[256];
	kdc_err r;

	for (int i = 0; i < nq && i < 1024; i++) {
		int q = (int)(gen_mix(seed++) % NQ);
		char *js = NULL;
		size_t len = 0;
		uint64_t s, cs;

		if (getenv("BENCH_TDD_ONLY") != NULL)	/* profiling */
			q = atoi(getenv("BENCH_TDD_ONLY"));
		s = now_ns();
		cs = cpu_ns();
		r = kdc_tdd_search(t, c, queries[q], strlen(queries[q]), &js,
		    &len, why, sizeof(why));
		lat[q][nv[q]++] = now_ns() - s;
		cpu[q] += cpu_ns() - cs;
		if (r != KDC_OK) {
			fprintf(stderr, "bench_tdd: search %s: %s (%s)\n",
			    queries[q], kdc_err_str(r), why);
			return -1;
		}
		if (res_n != NULL && res_n[q] == 0) {
			json_t *a = json_loadb(js, len, 0, NULL);

			res_n[q] = json_array_size(a);
			bytes[q] = len;
			json_decref(a);
		}
		kdc_free(js);
	}
	return 0;
}

static int
run_search(struct ctx *c, const char *sizes, int nqueries)
{
	struct kdc_tdd_opts o;
	struct kdc_tdd *t = NULL;
	struct kdc_tdd_caller owner, reader;
	uint64_t have = 0;
	const char *p = sizes;
	kdc_err r;

	memset(&o, 0, sizeof(o));
	o.max_ttl = 0;
	o.retention_default = 10 * 365 * 86400LL;
	o.retention_max = 0;
	o.events_keep = 1000;
	o.result_max = 1u << 30;	/* the configuration's maximum */
	if ((r = kdc_tdd_new(c->core, &o, &t)) != KDC_OK) {
		fprintf(stderr, "bench_tdd: kdc_tdd_new: %s\n", kdc_err_str(r));
		return 1;
	}
	if (caller_of(c, t, "owner", &owner) != 0 ||
	    caller_of(c, t, "reader", &reader) != 0)
		return 1;
	have = kdc_tdd_count(t);
	while (*p != '\0') {
		uint64_t size = strtoull(p, NULL, 10), t0, seed = 42;
		uint64_t lat[NQ][1024], nv[NQ] = { 0 }, naive[NQ] = { 0 };
		uint64_t res_n[NQ] = { 0 }, bytes[NQ] = { 0 }, nnaive[NQ] = { 0 };
		uint64_t cpu[NQ] = { 0 }, olat[NQ][1024], onv[NQ] = { 0 };
		uint64_t ocpu[NQ] = { 0 };
		json_t *root = NULL;
		double load_s;

		p = strchr(p, ',') != NULL ? strchr(p, ',') + 1 : p + strlen(p);
		t0 = now_ns();
		if (size > have && fill(t, &owner, reader.dev_id, have, size) !=
		    0)
			return 1;
		load_s = (double)(now_ns() - t0) / 1e9;
		if (size > have)
			have = size;
		printf("size=%" PRIu64 " load_s=%.1f rss_kib=%ld hwm_kib=%ld\n",
		    size, load_s, status_kib("VmRSS:"), status_kib("VmHWM:"));
		fflush(stdout);
		if (run_queries(t, &reader, nqueries, lat, nv, cpu, res_n,
		    bytes) != 0 ||
		    run_queries(t, &owner, nqueries, olat, onv, ocpu, NULL,
		    NULL) != 0)
			return 1;
		seed = 42;
		if (size <= 100000 && getenv("BENCH_TDD_NO_NAIVE") == NULL &&
		    (root = naive_root(t, &owner)) != NULL) {
			struct kdc_jsonpath *jq[NQ];

			for (int q = 0; q < NQ; q++)
				kdc_jsonpath_parse(queries[q],
				    strlen(queries[q]), &jq[q], NULL, 0);
			seed = 42;
			for (int i = 0; i < nqueries && i < 1024; i++) {
				int q = (int)(gen_mix(seed++) % NQ);
				size_t budget = (size_t)-1;
				json_t *out = json_array();
				uint64_t s = now_ns();
				char *d;

				kdc_jsonpath_eval(jq[q], root, out, &budget);
				d = json_dumps(out, JSON_COMPACT);
				naive[q] += now_ns() - s;
				nnaive[q]++;
				kdc_json_free(d);
				json_decref(out);
			}
			for (int q = 0; q < NQ; q++)
				kdc_jsonpath_free(jq[q]);
			json_decref(root);
			malloc_trim(0);	/* its memory back: RSS of what stays */
		}
		for (int q = 0; q < NQ; q++) {
			uint64_t sum = 0, osum = 0;

			if (nv[q] == 0)
				continue;
			for (uint64_t i = 0; i < onv[q]; i++)
				osum += olat[q][i];
			qsort(lat[q], nv[q], sizeof(lat[q][0]), cmp_u64);
			for (uint64_t i = 0; i < nv[q]; i++)
				sum += lat[q][i];
			printf("size=%" PRIu64 " q=%d n=%" PRIu64 " mean_us=%.0f "
			    "p50_us=%.0f p99_us=%.0f naive_us=%.0f results=%"
			    PRIu64 " bytes=%" PRIu64 " cpu_us=%.0f owner_us=%.0f "
			    "owner_cpu_us=%.0f\n", size, q,
			    nv[q], (double)sum / (double)nv[q] / 1e3,
			    (double)lat[q][nv[q] / 2] / 1e3,
			    (double)lat[q][(nv[q] * 99) / 100 < nv[q] ?
			    (nv[q] * 99) / 100 : nv[q] - 1] / 1e3,
			    nnaive[q] ? (double)naive[q] / (double)nnaive[q] /
			    1e3 : -1.0, res_n[q], bytes[q],
			    (double)cpu[q] / (double)nv[q] / 1e3,
			    (double)osum / (double)onv[q] / 1e3,
			    (double)ocpu[q] / (double)onv[q] / 1e3);
		}
		fflush(stdout);
	}
	/* a restart: the index rebuilt from the store (every TD parsed) */
	{
		uint64_t t0 = now_ns();

		kdc_tdd_free(t);
		if ((r = kdc_tdd_new(c->core, &o, &t)) != KDC_OK) {
			fprintf(stderr, "bench_tdd: reopen: %s\n",
			    kdc_err_str(r));
			return 1;
		}
		double s = (double)(now_ns() - t0) / 1e9;

		malloc_trim(0);	/* the old index's memory back first */
		printf("reopen tds=%zu reopen_s=%.1f rss_kib=%ld\n",
		    kdc_tdd_count(t), s, status_kib("VmRSS:"));
	}
	printf("end hwm_kib=%ld\n", status_kib("VmHWM:"));
	kdc_tdd_free(t);
	return 0;
}

static int
run_fill(struct ctx *c, uint64_t n)
{
	struct kdc_tdd_opts o;
	struct kdc_tdd *t = NULL;
	struct kdc_tdd_caller owner, reader;
	kdc_err r;

	memset(&o, 0, sizeof(o));
	o.retention_default = 10 * 365 * 86400LL;
	o.events_keep = 1000;
	if ((r = kdc_tdd_new(c->core, &o, &t)) != KDC_OK) {
		fprintf(stderr, "bench_tdd: kdc_tdd_new: %s\n", kdc_err_str(r));
		return 1;
	}
	if (caller_of(c, t, "owner", &owner) != 0 ||
	    caller_of(c, t, "reader", &reader) != 0 ||
	    fill(t, &owner, reader.dev_id, kdc_tdd_count(t), n) != 0)
		return 1;
	kdc_tdd_free(t);
	return 0;
}

int
main(int argc, char **argv)
{
	struct kdc_cli_args a;
	struct ctx c;
	int rc;

	if (argc != 5 && !(argc == 4 && strcmp(argv[1], "fill") == 0)) {
		fprintf(stderr, "usage: bench_tdd search DATA_DIR SIZES QUERIES"
		    "\n       bench_tdd fill DATA_DIR N\n");
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.dir = argv[2];
	if (ctx_open(&c, &a, 0) != 0)
		return 1;
	if (strcmp(argv[1], "fill") == 0)
		rc = run_fill(&c, strtoull(argv[3], NULL, 10));
	else
		rc = run_search(&c, argv[3], atoi(argv[4]));
	ctx_close(&c);
	return rc;
}
