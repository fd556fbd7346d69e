/*
 * store/lwm2m_reg.h: the LwM2M Server's registration table, which the
 * store keeps for that face (lwm2m/server.c through core/lwm2m_reg.h, and
 * the CLI's `lwm2m clients`). Nothing else of the product reads it.
 */
#ifndef KDC_STORE_LWM2M_REG_H
#define KDC_STORE_LWM2M_REG_H

#include "store/store.h"

/* ---- LwM2M registrations (built-in LwM2M Server, lwm2m/server.c) ------- */

#define KDC_LWM2M_VERSION_MAX	15	/* "lwm2m=1.2" values: "1.0", "1.1.1" */
#define KDC_LWM2M_BINDING_MAX	15	/* "b=U", "UQS" (1.0), "UN" (1.2) */
#define KDC_LWM2M_ADDR_MAX	63	/* "[ipv6%scope]:port" as text */

/*
 * One registration: the device (row id) that registered as endpoint `ep`
 * and what it announced. id is the registration id of "rd/<id>". One
 * registration per endpoint name: a new one replaces the old.
 */
struct kdc_lwm2m_reg {
	int64_t		 id;
	int64_t		 device;	/* kdc_device.id */
	char		 ep[KDC_DEVID_MAX + 1];
	int64_t		 lifetime;	/* seconds, > 0 */
	char		 version[KDC_LWM2M_VERSION_MAX + 1];
	char		 binding[KDC_LWM2M_BINDING_MAX + 1];
	char		 addr[KDC_LWM2M_ADDR_MAX + 1];
	int64_t		 registered;	/* when the registration was made */
	int64_t		 updated;	/* last Register or Update */
};

/*
 * Insert reg, replacing any registration of the same ep (atomically).
 * Sets reg->id; registered and updated default to now when 0.
 * NOT_FOUND if reg->device is not a device; INVALID_ARG for lifetime <= 0
 * or an empty ep.
 */
kdc_err	kdc_store_lwm2m_reg_put(struct kdc_store *st, struct kdc_lwm2m_reg *reg);
/* Registration by id into *out (caller's storage). NOT_FOUND if none. */
kdc_err	kdc_store_lwm2m_reg_get(struct kdc_store *st, int64_t id,
	    struct kdc_lwm2m_reg *out);
/*
 * Update: set updated = now, and lifetime / binding / addr when given
 * (lifetime 0, binding NULL, addr NULL keep the stored value).
 * NOT_FOUND if no such registration.
 */
kdc_err	kdc_store_lwm2m_reg_touch(struct kdc_store *st, int64_t id,
	    int64_t now, int64_t lifetime, const char *binding,
	    const char *addr);
/* De-register. NOT_FOUND if no such registration. */
kdc_err	kdc_store_lwm2m_reg_delete(struct kdc_store *st, int64_t id);
/* All registrations ordered by ep: *out is an array of *n structs,
 * released with kdc_lwm2m_reg_list_free(). */
kdc_err	kdc_store_lwm2m_reg_list(struct kdc_store *st,
	    struct kdc_lwm2m_reg **out, size_t *n);
void	kdc_lwm2m_reg_list_free(struct kdc_lwm2m_reg *v);

#endif
