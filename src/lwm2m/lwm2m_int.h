/*
 * lwm2m_int.h: shared by the LwM2M face's own files (bootstrap.c,
 * server.c) only.
 */
#ifndef KDC_LWM2M_INT_H
#define KDC_LWM2M_INT_H

#include <stddef.h>
#include <stdint.h>

#include "coap/coap.h"
#include "core/core.h"
#include "lwm2m/lwm2m.h"

#define KDC_LWM2M_ACTOR		"coap"

struct bs_sess;

struct kdc_lwm2m {
	struct kdc_coap			*coap;
	struct kdc_core			*core;
	char				*server_uri;
	const uint8_t			*server_cert;
	size_t				 server_cert_len;
	const uint8_t			*server_spki;
	size_t				 server_spki_len;
	int				 cf;
	unsigned			 deadline;
	uint32_t			 lifetime;
	uint16_t			 ssid;
	/* every session not yet freed, cancelled ones included (they wait
	 * for the completion of their last request) */
	struct bs_sess			*sessions;
};

/* Append an audit record (subject: a device id); logged if it fails. */
void	kdc_lwm2m_audit(struct kdc_lwm2m *lw, const char *action,
	    const char *subject, kdc_err outcome, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/* server.c: register the LwM2M Server routes on endpoint `name`. */
kdc_err	kdc_lwm2m_server_attach(struct kdc_lwm2m *lw, const char *name);

#endif
