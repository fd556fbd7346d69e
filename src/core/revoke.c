/* revoke.c: what a daemon needs to let a revocation reach its live
 * sessions (revoke.h). A room of core/ (core_int.h). */
#include <stddef.h>

#include "core/core_int.h"
#include "core/revoke.h"

kdc_err
kdc_core_revocation_gen(struct kdc_core *core, int64_t *gen)
{
	return core_crl_gen_get(core, gen);
}

kdc_err
kdc_core_deletion_gen(struct kdc_core *core, int64_t *gen)
{
	return core_meta_counter(core, DELETE_GEN_KEY, gen);
}

kdc_err
kdc_core_creds_ended_since(struct kdc_core *core, int64_t since,
    void (*fn)(void *arg, int64_t cred_id), void *arg)
{
	return kdc_store_cred_ended_since(core->st, since, fn, arg);
}

kdc_err
kdc_core_principal_check(struct kdc_core *core, int64_t cred_id,
    int64_t device)
{
	int64_t not_after;

	return core_principal_check(core, cred_id, device, &not_after);
}

kdc_err
core_principal_check(struct kdc_core *core, int64_t cred_id, int64_t device,
    int64_t *not_after)
{
	struct kdc_device *dev = NULL;
	struct kdc_cred *cred = NULL;
	kdc_err r;

	*not_after = 0;
	if (cred_id <= 0 || device <= 0)
		return KDC_ERR_INVALID_ARG;
	/* two indexed reads: the device, the credential */
	if ((r = kdc_store_device_get_by_id(core->st, device, &dev)) !=
	    KDC_OK) {
		r = r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNKNOWN_DEVICE : r;
		goto out;
	}
	if (dev->status == KDC_DEV_REVOKED) {
		r = KDC_ERR_REVOKED;
		goto out;
	}
	if ((r = kdc_store_cred_get(core->st, cred_id, &cred)) != KDC_OK) {
		r = r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNKNOWN_DEVICE : r;
		goto out;
	}
	if (cred->device != device)
		r = KDC_ERR_UNKNOWN_DEVICE;
	else if (cred->status == KDC_CRED_REVOKED)
		r = KDC_ERR_REVOKED;
	else if (cred->status == KDC_CRED_EXPIRED || (cred->not_after != 0 &&
	    kdc_core_now(core) >= cred->not_after))
		r = KDC_ERR_EXPIRED;
	else {
		*not_after = cred->not_after;
		r = KDC_OK;
	}
out:
	kdc_cred_free(cred);
	kdc_device_free(dev);
	return r;
}
