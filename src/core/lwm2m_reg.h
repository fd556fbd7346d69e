/*
 * core/lwm2m_reg.h: core's door to the LwM2M Server's registration table
 * (store/lwm2m_reg.h semantics), for that face alone (lwm2m/server.c) and
 * the CLI's `lwm2m clients`. The face never sees the store.
 */
#ifndef KDC_CORE_LWM2M_REG_H
#define KDC_CORE_LWM2M_REG_H

#include "core/core.h"
#include "store/lwm2m_reg.h"

kdc_err	kdc_core_lwm2m_reg_put(struct kdc_core *core,
	    struct kdc_lwm2m_reg *reg);
kdc_err	kdc_core_lwm2m_reg_get(struct kdc_core *core, int64_t id,
	    struct kdc_lwm2m_reg *out);
kdc_err	kdc_core_lwm2m_reg_touch(struct kdc_core *core, int64_t id,
	    int64_t now, int64_t lifetime, const char *binding,
	    const char *addr);
kdc_err	kdc_core_lwm2m_reg_delete(struct kdc_core *core, int64_t id);
kdc_err	kdc_core_lwm2m_reg_list(struct kdc_core *core,
	    struct kdc_lwm2m_reg **out, size_t *n);

#endif
