/*
 * routes.c: the core's own routes. Glue only: call core/, map the result
 * through kdc_http_status().
 */
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/core.h"
#include "http/http.h"

/* GET /api/v1/health: 200 {"status":"ok"} while the store answers. */
static void
hnd_health(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	struct kdc_core *core = arg;
	kdc_err r;

	(void)req;
	if ((r = kdc_core_health(core)) != KDC_OK) {
		kdc_log_warn_r(r, "health check failed");
		(void)kdc_http_resp_problem(resp, 503, NULL);
		return;
	}
	(void)kdc_http_resp_set(resp, 200, "application/json", ok,
	    sizeof(ok) - 1);
}

/* GET /ca.pem: our CA certificate, for devices and operators to pin. */
static void
hnd_ca_pem(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	struct kdc_core *core = arg;
	char *pem = NULL;
	size_t len = 0;
	kdc_err r;

	(void)req;
	if ((r = kdc_core_ca_pem(core, &pem, &len)) != KDC_OK) {
		kdc_log_warn_r(r, "no CA certificate to serve");
		(void)kdc_http_resp_problem(resp, kdc_http_status(r), NULL);
		return;
	}
	(void)kdc_http_resp_set(resp, 200, "application/x-pem-file", pem, len);
	kdc_free(pem);
}

/* GET /crl: our CA's CRL, DER (RFC 5280 5; media type RFC 2585 4.2),
 * for relying parties that check the certificates we issue. Public like
 * /ca.pem: it names serials, never devices. */
static void
hnd_crl(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	struct kdc_core *core = arg;
	uint8_t *der = NULL;
	size_t len = 0;
	kdc_err r;

	(void)req;
	if ((r = kdc_core_crl(core, &der, &len)) != KDC_OK) {
		kdc_log_warn_r(r, "no CRL to serve");
		(void)kdc_http_resp_problem(resp, kdc_http_status(r), NULL);
		return;
	}
	(void)kdc_http_resp_set(resp, 200, "application/pkix-crl", der, len);
	kdc_free(der);
}

kdc_err
kdc_http_routes_core(struct kdc_http *h, struct kdc_core *core)
{
	kdc_err r;

	if ((r = kdc_http_route(h, "GET", "/api/v1/health", hnd_health,
	    core)) != KDC_OK ||
	    (r = kdc_http_route(h, "GET", "/ca.pem", hnd_ca_pem, core)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "GET", "/crl", hnd_crl, core)) != KDC_OK)
		return r;
	return KDC_OK;
}
