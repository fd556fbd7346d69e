/*
 * lwm2m_reg.c: the LwM2M Server's registrations, through core so that
 * the face never sees the store.
 */
#include "core/core_int.h"
#include "core/lwm2m_reg.h"

/* ---- LwM2M Server registrations --------------------------------------- */

kdc_err
kdc_core_lwm2m_reg_put(struct kdc_core *core, struct kdc_lwm2m_reg *reg)
{
	return kdc_store_lwm2m_reg_put(core->st, reg);
}

kdc_err
kdc_core_lwm2m_reg_get(struct kdc_core *core, int64_t id,
    struct kdc_lwm2m_reg *out)
{
	return kdc_store_lwm2m_reg_get(core->st, id, out);
}

kdc_err
kdc_core_lwm2m_reg_touch(struct kdc_core *core, int64_t id, int64_t now,
    int64_t lifetime, const char *binding, const char *addr)
{
	return kdc_store_lwm2m_reg_touch(core->st, id, now, lifetime, binding,
	    addr);
}

kdc_err
kdc_core_lwm2m_reg_delete(struct kdc_core *core, int64_t id)
{
	return kdc_store_lwm2m_reg_delete(core->st, id);
}

kdc_err
kdc_core_lwm2m_reg_list(struct kdc_core *core, struct kdc_lwm2m_reg **out,
    size_t *n)
{
	return kdc_store_lwm2m_reg_list(core->st, out, n);
}
