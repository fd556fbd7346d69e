/*
 * fuzz_ocf.c: every decoder of src/ocf/codec.h over the same input (doxm,
 * pstat, cred and its index, acl2, the /oic/res links, csr, one ep string), with checks:
 * counts within their bounds, strings NUL-terminated in their buffers;
 * what decodes re-encodes (definite) and decodes again to the same struct;
 * a failed decoding leaves the struct zeroed. Also base/cbor.h's
 * kdc_cbor_skip_indef(). Seeds: fuzz/corpus/ocf/ (made by
 * tests/vectors/ocf/gen.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cbor.h"
#include "ocf/codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static union {
	struct kdc_ocf_doxm	doxm;
	struct kdc_ocf_pstat	pstat;
	struct kdc_ocf_creds	cred;
	struct kdc_ocf_acl2	acl2;
	struct kdc_ocf_links	links;
	struct kdc_ocf_csr	csr;
} A, B;
static struct kdc_ocf_cred_index X;
static uint8_t	enc[1 << 17];

static void
str(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		abort();
}

static void
zeroed(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			abort();
}

/* decode; on success the checks, re-encode, decode again, compare. */
#define ROUND(dec, encf, field, check)					\
	do {								\
		size_t n_;						\
		kdc_err r_ = dec(data, size, &A.field);			\
		if (r_ != KDC_OK) {					\
			zeroed(&A.field, sizeof(A.field));		\
			break;						\
		}							\
		check;							\
		r_ = encf(&A.field, enc, sizeof(enc), &n_);		\
		if (r_ == KDC_ERR_INVALID_ARG)				\
			break;	/* e.g. an ACE without subject */	\
		if (r_ != KDC_OK || dec(enc, n_, &B.field) != KDC_OK ||	\
		    memcmp(&A.field, &B.field, sizeof(A.field)) != 0)	\
			abort();					\
	} while (0)

static void
check_creds(const struct kdc_ocf_creds *c)
{
	if (c->n > KDC_OCF_CREDS_MAX)
		abort();
	for (size_t i = 0; i < c->n; i++) {
		if (c->creds[i].publicdata.len > KDC_OCF_PUB_MAX ||
		    c->creds[i].privatedata.len > KDC_OCF_PRIV_MAX)
			abort();
		str(c->creds[i].role, KDC_OCF_STR_MAX);
		str(c->creds[i].authority, KDC_OCF_STR_MAX);
	}
}

static void
check_acl2(const struct kdc_ocf_acl2 *a)
{
	if (a->n > KDC_OCF_ACES_MAX)
		abort();
	for (size_t i = 0; i < a->n; i++) {
		if (a->aces[i].n_res > KDC_OCF_ACE_RES_MAX ||
		    a->aces[i].permission > 31)
			abort();
		for (size_t j = 0; j < a->aces[i].n_res; j++)
			str(a->aces[i].res[j].href, KDC_OCF_STR_MAX);
	}
}

static void
check_links(const struct kdc_ocf_links *l)
{
	if (l->n > KDC_OCF_LINKS_MAX)
		abort();
	for (size_t i = 0; i < l->n; i++) {
		const struct kdc_ocf_link *k = &l->links[i];

		if (k->n_rt > KDC_OCF_LINK_RT_MAX ||
		    k->n_ifs > KDC_OCF_LINK_RT_MAX ||
		    k->n_eps > KDC_OCF_LINK_EPS_MAX || k->href[0] == '\0')
			abort();
		str(k->href, KDC_OCF_STR_MAX);
		for (size_t j = 0; j < k->n_eps; j++)
			if (k->eps[j].port == 0 || k->eps[j].host[0] == '\0')
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kdc_ocf_ep ep;
	struct kdc_rd rd;

	ROUND(kdc_ocf_doxm_decode, kdc_ocf_doxm_encode, doxm,
	    if (A.doxm.n_oxms > KDC_OCF_OXMS_MAX) abort());
	ROUND(kdc_ocf_pstat_decode, kdc_ocf_pstat_encode, pstat,
	    if (A.pstat.dos_s > KDC_OCF_DOS_SRESET) abort());
	ROUND(kdc_ocf_cred_decode, kdc_ocf_cred_encode, cred,
	    check_creds(&A.cred));
	ROUND(kdc_ocf_acl2_decode, kdc_ocf_acl2_encode, acl2,
	    check_acl2(&A.acl2));
	ROUND(kdc_ocf_links_decode, kdc_ocf_links_encode, links,
	    check_links(&A.links));
	ROUND(kdc_ocf_csr_decode, kdc_ocf_csr_encode, csr,
	    if (A.csr.len > KDC_OCF_CSR_MAX) abort());
	/* the cred index: whatever the full decoder reads, it reads with the
	 * same ids and subjects */
	if (kdc_ocf_cred_index_decode(data, size, &X) == KDC_OK) {
		if (X.n > KDC_OCF_CRED_INDEX_MAX)
			abort();
		if (kdc_ocf_cred_decode(data, size, &A.cred) == KDC_OK) {
			if (A.cred.n != X.n)
				abort();
			for (size_t i = 0; i < X.n; i++)
				if (X.ids[i].credid != A.cred.creds[i].credid ||
				    memcmp(&X.ids[i].subject,
				    &A.cred.creds[i].subject,
				    sizeof(X.ids[i].subject)) != 0)
					abort();
		}
	} else
		zeroed(&X, sizeof(X));
	if (kdc_ocf_ep_parse((const char *)data, size, &ep) == KDC_OK &&
	    (ep.port == 0 || ep.host[0] == '\0'))
		abort();
	kdc_rd_init(&rd, data, size);
	if (kdc_cbor_skip_indef(&rd, KDC_CBOR_DEPTH_MAX) == KDC_OK &&
	    kdc_rd_pos(&rd) == 0)
		abort();
	return 0;
}
