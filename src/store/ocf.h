/*
 * store/ocf.h: the OCF onboarding records, which the store keeps for
 * core/ocf.c alone (the OCF face and the CLI go through core/ocf.h).
 * Schema 11 (schema.c):
 *
 *   ocf_devices  one row per device the KDC began to onboard, keyed by
 *                the uuid it was discovered as (first_uuid, unique) and
 *                by its current uuid (unique): the OTM, the state and
 *                the last step (or the failed one, with err), its
 *                endpoints, the uuid the OTM gives it (new_uuid, until
 *                the owner credential exists), the registry device and
 *                the owner credential (NULL once deleted).
 *
 * The KDC's OBT uuid is a meta key (KDC_STORE_OCF_OBT_KEY). Conventions
 * as store.h; rows are plain structs in the caller's storage.
 */
#ifndef KDC_STORE_OCF_H
#define KDC_STORE_OCF_H

#include <stdbool.h>

#include "store/store.h"

#define KDC_STORE_OCF_OBT_KEY	"ocf_obt_uuid"
#define KDC_STORE_OCF_UUID	36	/* text form */
#define KDC_STORE_OCF_EP_MAX	127
#define KDC_STORE_OCF_STEP_MAX	31

/* Row states, as core/ocf.h's enum kdc_ocf_state (same values). */
enum kdc_store_ocf_state {
	KDC_STORE_OCF_ONBOARDING = 0,
	KDC_STORE_OCF_FAILED = 1,
	KDC_STORE_OCF_OWNED = 2,
	KDC_STORE_OCF_OFFBOARDED = 3,
};

struct kdc_ocf_row {
	int64_t			 id;
	char			 first_uuid[KDC_STORE_OCF_UUID + 1];
	char			 uuid[KDC_STORE_OCF_UUID + 1];
	char			 new_uuid[KDC_STORE_OCF_UUID + 1];	/* or "" */
	int64_t			 device;	/* 0: none */
	int			 otm;		/* 0 jw, 1 rdp, 2 mfgcert */
	enum kdc_store_ocf_state state;
	char			 step[KDC_STORE_OCF_STEP_MAX + 1];
	int			 err;		/* a kdc_err, 0 */
	char			 coap_ep[KDC_STORE_OCF_EP_MAX + 1];
	char			 coaps_ep[KDC_STORE_OCF_EP_MAX + 1];
	int64_t			 owner_cred;	/* 0: none */
	int64_t			 created;
	int64_t			 updated;
};

/* Insert (row->id == 0: sets it) or replace every column of row->id.
 * EXISTS when first_uuid or uuid is another row's; NOT_FOUND (update)
 * when row->id is none; INVALID_ARG for a field out of its bounds. */
kdc_err	kdc_store_ocf_put(struct kdc_store *st, struct kdc_ocf_row *row);
/* The row whose uuid is uuid, else the one whose first_uuid is: into
 * *out. NOT_FOUND. */
kdc_err	kdc_store_ocf_get(struct kdc_store *st, const char *uuid,
	    struct kdc_ocf_row *out);
/* The row of registry device `device`. NOT_FOUND. */
kdc_err	kdc_store_ocf_get_by_device(struct kdc_store *st, int64_t device,
	    struct kdc_ocf_row *out);
/* Every row, by id: *out (kdc_free; NULL when *n is 0). */
kdc_err	kdc_store_ocf_list(struct kdc_store *st, struct kdc_ocf_row **out,
	    size_t *n);
/* The audience name (kind ocf-device, no other) deleted / its uri set.
 * NOT_FOUND when there is no such OCF audience. */
kdc_err	kdc_store_ocf_audience_delete(struct kdc_store *st, const char *name);
kdc_err	kdc_store_ocf_audience_set_uri(struct kdc_store *st, const char *name,
	    const char *uri);
/* The ids of the credentials for audience (which must begin "ocf-":
 * INVALID_ARG otherwise, the index holds those alone) in status issued or
 * pending (live) or any status, by id: *ids (kdc_free), *n. */
kdc_err	kdc_store_ocf_creds_for(struct kdc_store *st, const char *audience,
	    bool live, int64_t **ids, size_t *n);

#endif
