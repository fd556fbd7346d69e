/* main.c: the iotkdc entry point (daemon and admin CLI in one binary). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

#define IOTKDC_VERSION	"0.1.0"

int
main(int argc, char **argv)
{
	struct kdc_cli_args a;
	char err[256];

	if (kdc_cli_parse(argc, argv, &a, err, sizeof(err)) != KDC_OK) {
		fprintf(stderr, "iotkdc: %s\n", err);
		return 2;
	}
	if (a.version) {
		printf("iotkdc %s\n", IOTKDC_VERSION);
		return 0;
	}
	if (a.help) {
		fputs(kdc_cli_usage(a.cmd), stdout);
		return 0;
	}
	if (a.dir == NULL) {
		a.dir = getenv("IOTKDC_DIR");
		if (a.dir == NULL || *a.dir == '\0')
			a.dir = "./var";
	}
	return kdc_cli_run(&a);
}
