/* cli_int.h: shared by the .c files of src/cli only. */
#ifndef KDC_CLI_INT_H
#define KDC_CLI_INT_H

#include <stddef.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* Everything a command needs from the data dir. */
struct ctx {
	char			 dir[1024];
	struct kdc_config	 cfg;
	struct kdc_keyring	*kr;
	struct kdc_store	*st;
	struct kdc_ca		*ca;
	struct kdc_core		*core;
};

/* The one line on stderr of a failing command; returns exit status 1. */
int	fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* kdc_ca_load() failed for the data dir: print why (a missing file
 * named). Returns 1. */
int	ca_fail(const struct ctx *c, kdc_err r);
/* kdc_core_ace_key_load() failed for the data dir: print why. Returns 1. */
int	as_key_fail(const char *dir, kdc_err r);
/* dir/name into out. */
void	path_in(const struct ctx *c, const char *name, char *out, size_t cap);
/* Open the data dir (config, wrap key, store, CA if need_ca, core).
 * Prints the error and returns 1, else 0. */
int	ctx_open(struct ctx *c, const struct kdc_cli_args *a, int need_ca);
void	ctx_close(struct ctx *c);
/* `iotkdc serve`. */
int	kdc_cli_serve(const struct kdc_cli_args *a);
/* `iotkdc lwm2m bootstrap-device` (bsdev.c). */
int	kdc_cli_bootstrap_device(const struct kdc_cli_args *a);
/* `iotkdc ocf ...` (ocf.c). */
int	kdc_cli_ocf(const struct kdc_cli_args *a);

#endif
