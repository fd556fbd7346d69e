/* testkdc.h: the fixture the core and face unit tests start from: a
 * keyring, a store, a fresh CA and a core over them, in a temp dir. */
#ifndef KDC_TESTKDC_H
#define KDC_TESTKDC_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/core.h"
#include "crypto/crypto.h"

#define KDC_TEST_NO_CA		0x1	/* a core without a CA */
#define KDC_TEST_TLS		0x2	/* the listeners' certificate too */
#define KDC_TEST_DB_FILE	0x4	/* dir/kdc.db, not ":memory:" (other
					 * connections can open it) */

struct kdc_test_kdc {
	char			*dir;		/* temp dir: CA files, kdc.db */
	struct kdc_keyring	*kr;
	struct kdc_store	*st;
	struct kdc_ca		*ca;		/* NULL with KDC_TEST_NO_CA */
	struct kdc_core		*core;
	char			*cert_pem;	/* KDC_TEST_TLS */
	char			*key_pem;	/* KDC_TEST_TLS; secret */
	size_t			 key_len;
};

/*
 * kdc_crypto_init(), a temp dir, the keyring of wkey, a store (migrated),
 * a fresh 10-year CA unless KDC_TEST_NO_CA, the listeners' TLS
 * certificate with KDC_TEST_TLS, and a core over them that borrows cfg
 * (which must outlive it). Fails the running cmocka test on any error.
 */
void	kdc_test_kdc_open(struct kdc_test_kdc *k, const uint8_t wkey[32],
	    const struct kdc_config *cfg, unsigned flags);
/* Free all of it and remove the temp dir; k is zeroed. Faces attached to
 * the core must be freed first. */
void	kdc_test_kdc_close(struct kdc_test_kdc *k);

#endif
