/*
 * bench_tdd_validate: validation time of a typical TD, in µs per TD:
 * kdc_tdcheck_validate() (TD 1.1 schema + Discovery schema + spot checks,
 * errors collected as the directory does) on each TD given, then the same
 * files through python3-jsonschema's Draft7Validator (TD 1.1 + Discovery
 * schemas, no spot checks) in the same run, for comparison. Parsing is
 * outside the timed loop for both.
 *
 * usage: bench_tdd_validate [ITER] [TD.json...]
 * default: 20000 iterations over the TDs of tests/data/tdd/valid/. One line per
 * file and validator: "<file> <validator> <µs/TD>".
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tdd/tdcheck.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char py[] =
    "import json,sys,time,jsonschema,importlib.metadata\n"
    "d=sys.argv[1]; it=int(sys.argv[2])\n"
    "v=[jsonschema.Draft7Validator(json.load(open(d+'/schemas/'+f))) for f in"
    " ('td-json-schema-validation.json','discovery-schema.json')]\n"
    "for f in sys.argv[3:]:\n"
    "  td=json.load(open(f)); n=max(1,it//20)\n"
    "  t=time.perf_counter()\n"
    "  for i in range(n):\n"
    "    e=[x for s in v for x in s.iter_errors(td)]\n"
    "  print('%s python3-jsonschema-%s %.1f' % (f.rsplit('/',1)[-1],"
    " importlib.metadata.version('jsonschema'), (time.perf_counter()-t)/n*1e6))\n";

int
main(int argc, char **argv)
{
	static struct kdc_verrs errs;
	struct kdc_tdcheck *chk;
	char why[256], cmd[8192], script[] = "/tmp/bench_tdd_XXXXXX";
	glob_t g;
	char **files;
	size_t nfiles, i, o;
	long it = argc > 1 ? atol(argv[1]) : 20000, k;
	double tsum = 0;
	FILE *f;
	int fd;

	if (it <= 0)
		it = 20000;
	if (argc > 2) {
		files = argv + 2;
		nfiles = (size_t)(argc - 2);
	} else {
		if (glob(KDC_SOURCE_DIR "/tests/data/tdd/valid/*.json", 0, NULL,
		    &g) != 0)
			return 1;
		files = g.gl_pathv;
		nfiles = g.gl_pathc;
	}
	if (kdc_tdcheck_builtin(&chk, why, sizeof(why)) != KDC_OK) {
		fprintf(stderr, "builtin: %s\n", why);
		return 1;
	}
	for (i = 0; i < nfiles; i++) {
		json_t *td = json_load_file(files[i], 0, NULL);
		double t0, us;
		bool ok = true;

		if (td == NULL)
			return 1;
		t0 = now();
		for (k = 0; k < it; k++)
			ok = kdc_tdcheck_validate(chk, td, &errs) && ok;
		us = (now() - t0) / (double)it * 1e6;
		tsum += us;
		printf("%s iotkdc %.1f%s\n", strrchr(files[i], '/') ?
		    strrchr(files[i], '/') + 1 : files[i], us,
		    ok ? "" : " (INVALID)");
		json_decref(td);
	}
	printf("mean iotkdc %.1f us/TD over %zu TDs\n", tsum / (double)nfiles,
	    nfiles);
	kdc_tdcheck_free(chk);
	fflush(stdout);
	/* the same files through python3-jsonschema, if it is there */
	if ((fd = mkstemp(script)) < 0 || (f = fdopen(fd, "w")) == NULL)
		return 1;
	fputs(py, f);
	fclose(f);
	o = (size_t)snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s %ld",
	    script, KDC_SOURCE_DIR, it);
	for (i = 0; i < nfiles && o < sizeof(cmd); i++)
		o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, " '%s'",
		    files[i]);
	if (o < sizeof(cmd) && system(cmd) != 0)
		fprintf(stderr, "python3-jsonschema run failed\n");
	unlink(script);
	if (argc <= 2)
		globfree(&g);
	return 0;
}
