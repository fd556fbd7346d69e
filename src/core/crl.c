/*
 * crl.c: the revocation generation and the CRL built from it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/core_int.h"

/* A counter in the store's meta (0 if never set). */
kdc_err
core_meta_counter(struct kdc_core *core, const char *key, int64_t *gen)
{
	char *v = NULL, *end;
	long long x;
	kdc_err r;

	*gen = 0;
	r = kdc_store_meta_get(core->st, key, &v);
	if (r == KDC_ERR_NOT_FOUND)
		return KDC_OK;
	if (r != KDC_OK)
		return r;
	x = strtoll(v, &end, 10);
	r = (end == v || *end != '\0' || x < 0) ? KDC_ERR_STORE_CORRUPT :
	    KDC_OK;
	kdc_free(v);
	if (r == KDC_OK)
		*gen = (int64_t)x;
	return r;
}

/* Bump it; call inside the transaction that changed what it counts. */
kdc_err
core_meta_bump(struct kdc_core *core, const char *key)
{
	char buf[24];
	int64_t gen;
	kdc_err r;

	if ((r = core_meta_counter(core, key, &gen)) != KDC_OK)
		return r;
	snprintf(buf, sizeof(buf), "%" PRId64, gen + 1);
	return kdc_store_meta_set(core->st, key, buf);
}

/* The revocation generation (0 if never set). */
kdc_err
core_crl_gen_get(struct kdc_core *core, int64_t *gen)
{
	return core_meta_counter(core, CRL_GEN_KEY, gen);
}

/* Bump it; call inside the revocation's transaction. */
kdc_err
core_crl_gen_bump(struct kdc_core *core)
{
	return core_meta_bump(core, CRL_GEN_KEY);
}

/* ---- the CRL ----------------------------------------------------------- */

/*
 * Build the CRL for generation gen at now: every revoked or superseded
 * operational X.509 credential we issued, at its status_at. A superseded
 * certificate is listed too: our faces refuse it already, and so must a
 * relying party outside the KDC (a broker, an external LwM2M server) that
 * only has the CRL. An entry whose certificate has expired is left out
 * (RFC 5280 3.3 allows it; a relying party refuses an expired certificate
 * anyway), which bounds the CRL.
 */
static kdc_err
crl_build(struct kdc_core *core, int64_t gen, int64_t now, uint8_t **der,
    size_t *len)
{
	struct kdc_crl_entry *v = NULL;
	const char **serials = NULL;
	int64_t *at = NULL;
	size_t n = 0;
	uint64_t number;
	kdc_err r;

	if ((r = kdc_store_crl_entries(core->st, now, &v, &n)) != KDC_OK)
		goto out;
	if (n > 0 && ((serials = kdc_calloc(n, sizeof(*serials))) == NULL ||
	    (at = kdc_calloc(n, sizeof(*at))) == NULL)) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		serials[i] = v[i].serial;
		at[i] = v[i].revoked_at > 0 ? v[i].revoked_at : now;
	}
	/*
	 * RFC 5280 5.2.3: the number increases with every CRL we issue. The
	 * generation alone would repeat across the daily re-signing and
	 * between the cores of different threads, so it is the high half
	 * and thisUpdate (32 bits to 2106) the low half: a new revocation
	 * or a later second gives a larger number; the same generation in
	 * the same second is the same content.
	 */
	number = ((uint64_t)gen << 32) | (uint32_t)now;
	r = kdc_ca_crl(core->ca, serials, at, n, now, now + KDC_CRL_VALIDITY,
	    number, der, len);
out:
	kdc_free(serials);
	kdc_free(at);
	kdc_free(v);
	return r;
}

kdc_err
kdc_core_crl(struct kdc_core *core, uint8_t **der, size_t *len)
{
	uint8_t *fresh = NULL, *copy;
	size_t fresh_len = 0;
	int64_t gen, now = kdc_core_now(core);
	kdc_err r;

	*der = NULL;
	*len = 0;
	if (core->ca == NULL)
		return KDC_ERR_NOT_FOUND;
	if ((r = core_crl_gen_get(core, &gen)) != KDC_OK)
		return r;
	if (core->crl == NULL || gen != core->crl_gen ||
	    now >= core->crl_next - KDC_CRL_RENEW_BEFORE ||
	    now < core->crl_next - KDC_CRL_VALIDITY) {
		/* (the last test: the clock went back past thisUpdate) */
		if ((r = crl_build(core, gen, now, &fresh, &fresh_len)) !=
		    KDC_OK)
			return r;
		kdc_free(core->crl);
		core->crl = fresh;
		core->crl_len = fresh_len;
		core->crl_gen = gen;
		core->crl_next = now + KDC_CRL_VALIDITY;
		kdc_log_debug("crl built gen=%" PRId64 " bytes=%zu", gen,
		    fresh_len);
	}
	if ((copy = kdc_malloc(core->crl_len)) == NULL)
		return KDC_ERR_NOMEM;
	memcpy(copy, core->crl, core->crl_len);
	*der = copy;
	*len = core->crl_len;
	return KDC_OK;
}

