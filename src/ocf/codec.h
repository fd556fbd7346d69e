/*
 * codec.h: the CBOR payloads of the OCF security virtual resources
 * (/oic/sec/doxm, pstat, cred, acl2) and of the discovery answer to
 * GET /oic/res?rt=oic.r.doxm, as IoTivity-Lite writes and reads them
 * (../shared/protocols/ocf.md §1). Groundwork for issue 16: the KDC (the
 * OCF client) and the device library both use it.
 *
 * Shared with the device library, like src/cose/: no allocation, no
 * logging, base/ only, clean under -Wconversion.
 *
 * Decoding. A real IoTivity OBT or device writes indefinite-length maps
 * and arrays (tinycbor); the decoders take definite and indefinite
 * lengths alike (strings too, RFC 8949 §3.2.3), through base/cbor.h's
 * opt-in iterator. They decode in one pass into the caller's fixed-size
 * struct (zeroed first, so two decodings of the same content compare
 * equal with memcmp): strings are copied into its fixed buffers, lists
 * hold at most the *_MAX entries below. Nothing is sized by a count the
 * input announces. Properties are optional (a POST carries a few):
 * `has` says which were present (KDC_OCF_*_HAS_* bits); properties we do
 * not know (IoTivity's "owner_cred", "tag", "rt", "if", ...) are skipped,
 * nested at most KDC_OCF_DEPTH_MAX deep.
 *
 * Every decoder returns:
 *   KDC_OK
 *   KDC_ERR_TRUNCATED  the input ends inside an item (a missing break)
 *   KDC_ERR_MALFORMED  not well-formed CBOR, a property of the wrong type,
 *                      a property twice in one map, a key or a name
 *                      (href, role, rt, ...) with a NUL or not UTF-8
 *                      (PEM/base64 data is kept as bytes), a UUID not
 *                      "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex), a
 *                      value out of its range (dos.s > 4, permission >
 *                      31, an unknown encoding/conntype/wc, an "ep" that
 *                      is not scheme://host:port)
 *   KDC_ERR_TOO_LARGE  more entries than the struct holds, a string
 *                      longer than its buffer, nesting deeper than
 *                      KDC_OCF_DEPTH_MAX, input longer than
 *                      KDC_OCF_PAYLOAD_MAX
 *   KDC_ERR_TRAILING   bytes after the payload's one item
 *   KDC_ERR_INVALID_ARG a NULL argument
 *
 * Encoding. The encoders write definite lengths only and deterministic
 * bytes: the present properties in the fixed order of the struct, shortest
 * heads. They return KDC_OK, KDC_ERR_TOO_LARGE (out is too small; *out_len
 * then 0) or KDC_ERR_INVALID_ARG (a value the decoder would refuse).
 */
#ifndef KDC_OCF_CODEC_H
#define KDC_OCF_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* ---- limits ------------------------------------------------------------ */

#define KDC_OCF_PAYLOAD_MAX	65536	/* input bytes per payload */
#define KDC_OCF_DEPTH_MAX	8	/* nesting, unknown values included */
#define KDC_OCF_OXMS_MAX	8
#define KDC_OCF_CREDS_MAX	8
#define KDC_OCF_ACES_MAX	16
#define KDC_OCF_ACE_RES_MAX	8
#define KDC_OCF_LINKS_MAX	8
#define KDC_OCF_LINK_RT_MAX	4	/* rt and if values kept per link */
#define KDC_OCF_LINK_EPS_MAX	6
#define KDC_OCF_PRIV_MAX	256	/* privatedata.data bytes */
#define KDC_OCF_PUB_MAX		4096	/* publicdata.data bytes (a PEM; a
					 * device's manufacturer certificate
					 * comes with its CA chain in one:
					 * 2570 bytes in IoTivity-Lite's
					 * samples) */
#define KDC_OCF_STR_MAX		64	/* href, role, rt, if: bytes + NUL */
#define KDC_OCF_HOST_MAX	64	/* an ep's host (zone apart) + NUL */
#define KDC_OCF_ZONE_MAX	16	/* an ep's zone id + NUL (IFNAMSIZ) */

/* ---- UUIDs ------------------------------------------------------------- */

/* The 36-character text form "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
#define KDC_OCF_UUID_TEXT	36

struct kdc_ocf_uuid {
	uint8_t	b[16];
};

/* Text (exactly 36 characters, hex either case, dashes at 8, 13, 18, 23)
 * to raw; MALFORMED otherwise. */
kdc_err	kdc_ocf_uuid_parse(const char *s, size_t n, struct kdc_ocf_uuid *u);
/* Raw to text, lower case, NUL-terminated (37 bytes). */
void	kdc_ocf_uuid_format(const struct kdc_ocf_uuid *u,
	    char out[KDC_OCF_UUID_TEXT + 1]);

/* ---- /oic/sec/doxm ----------------------------------------------------- */

/* Owner transfer methods (oxms, oxmsel). */
#define KDC_OCF_OXM_JW		0
#define KDC_OCF_OXM_RDP		1
#define KDC_OCF_OXM_MFGCERT	2
#define KDC_OCF_OXM_SELF	4

#define KDC_OCF_DOXM_HAS_OXMS		0x01u
#define KDC_OCF_DOXM_HAS_OXMSEL		0x02u
#define KDC_OCF_DOXM_HAS_SCT		0x04u
#define KDC_OCF_DOXM_HAS_OWNED		0x08u
#define KDC_OCF_DOXM_HAS_DEVICEUUID	0x10u
#define KDC_OCF_DOXM_HAS_DEVOWNERUUID	0x20u
#define KDC_OCF_DOXM_HAS_ROWNERUUID	0x40u

struct kdc_ocf_doxm {
	unsigned		has;
	int64_t			oxms[KDC_OCF_OXMS_MAX];
	size_t			n_oxms;
	int64_t			oxmsel;
	uint64_t		sct;		/* bitmask */
	bool			owned;
	struct kdc_ocf_uuid	deviceuuid;
	struct kdc_ocf_uuid	devowneruuid;
	struct kdc_ocf_uuid	rowneruuid;
};

kdc_err	kdc_ocf_doxm_decode(const uint8_t *in, size_t len,
	    struct kdc_ocf_doxm *out);
kdc_err	kdc_ocf_doxm_encode(const struct kdc_ocf_doxm *d, uint8_t *out,
	    size_t cap, size_t *out_len);

/* ---- /oic/sec/pstat ---------------------------------------------------- */

/* dos.s */
#define KDC_OCF_DOS_RESET	0
#define KDC_OCF_DOS_RFOTM	1
#define KDC_OCF_DOS_RFPRO	2
#define KDC_OCF_DOS_RFNOP	3
#define KDC_OCF_DOS_SRESET	4

#define KDC_OCF_PSTAT_HAS_DOS_S		0x01u
#define KDC_OCF_PSTAT_HAS_DOS_P		0x02u
#define KDC_OCF_PSTAT_HAS_ISOP		0x04u
#define KDC_OCF_PSTAT_HAS_CM		0x08u
#define KDC_OCF_PSTAT_HAS_TM		0x10u
#define KDC_OCF_PSTAT_HAS_OM		0x20u
#define KDC_OCF_PSTAT_HAS_SM		0x40u
#define KDC_OCF_PSTAT_HAS_ROWNERUUID	0x80u

struct kdc_ocf_pstat {
	unsigned		has;
	unsigned		dos_s;		/* 0..4 */
	bool			dos_p;
	bool			isop;
	uint64_t		cm;
	uint64_t		tm;
	uint64_t		om;
	uint64_t		sm;
	struct kdc_ocf_uuid	rowneruuid;
};

kdc_err	kdc_ocf_pstat_decode(const uint8_t *in, size_t len,
	    struct kdc_ocf_pstat *out);
kdc_err	kdc_ocf_pstat_encode(const struct kdc_ocf_pstat *p, uint8_t *out,
	    size_t cap, size_t *out_len);

/* ---- /oic/sec/cred ----------------------------------------------------- */

/* credtype bits */
#define KDC_OCF_CREDTYPE_PSK		1	/* symmetric pair-wise */
#define KDC_OCF_CREDTYPE_GROUP		2
#define KDC_OCF_CREDTYPE_ASYM		4
#define KDC_OCF_CREDTYPE_CERT		8

enum kdc_ocf_encoding {
	KDC_OCF_ENC_NONE = 0,		/* no "encoding" property */
	KDC_OCF_ENC_RAW,		/* oic.sec.encoding.raw */
	KDC_OCF_ENC_BASE64,		/* oic.sec.encoding.base64 */
	KDC_OCF_ENC_PEM,		/* oic.sec.encoding.pem */
	KDC_OCF_ENC_DER,		/* oic.sec.encoding.der */
	KDC_OCF_ENC_HANDLE,		/* oic.sec.encoding.handle */
};

enum kdc_ocf_credusage {
	KDC_OCF_USAGE_NONE = 0,
	KDC_OCF_USAGE_TRUSTCA,		/* oic.sec.cred.trustca */
	KDC_OCF_USAGE_CERT,		/* oic.sec.cred.cert */
	KDC_OCF_USAGE_ROLECERT,		/* oic.sec.cred.rolecert */
	KDC_OCF_USAGE_MFGTRUSTCA,	/* oic.sec.cred.mfgtrustca */
	KDC_OCF_USAGE_MFGCERT,		/* oic.sec.cred.mfgcert */
};

/* privatedata / publicdata: {data, encoding}; data is a byte string (raw)
 * or a text string (PEM, base64): `text` says which it was. */
struct kdc_ocf_privdata {
	bool			present;
	bool			text;
	enum kdc_ocf_encoding	encoding;
	uint8_t			data[KDC_OCF_PRIV_MAX];
	size_t			len;
};

struct kdc_ocf_pubdata {
	bool			present;
	bool			text;
	enum kdc_ocf_encoding	encoding;
	uint8_t			data[KDC_OCF_PUB_MAX];
	size_t			len;
};

#define KDC_OCF_CRED_HAS_CREDID		0x01u
#define KDC_OCF_CRED_HAS_SUBJECT	0x02u
#define KDC_OCF_CRED_HAS_CREDTYPE	0x04u
#define KDC_OCF_CRED_HAS_CREDUSAGE	0x08u
#define KDC_OCF_CRED_HAS_ROLEID		0x10u

struct kdc_ocf_cred {
	unsigned		has;
	int64_t			credid;
	bool			subject_any;	/* subjectuuid "*" */
	struct kdc_ocf_uuid	subject;
	uint64_t		credtype;	/* KDC_OCF_CREDTYPE_* bits */
	enum kdc_ocf_credusage	credusage;
	struct kdc_ocf_pubdata	publicdata;
	struct kdc_ocf_privdata	privatedata;
	char			role[KDC_OCF_STR_MAX];	/* roleid.role */
	char			authority[KDC_OCF_STR_MAX];
};

#define KDC_OCF_CREDS_HAS_CREDS		0x01u
#define KDC_OCF_CREDS_HAS_ROWNERUUID	0x02u

struct kdc_ocf_creds {
	unsigned		has;
	struct kdc_ocf_cred	creds[KDC_OCF_CREDS_MAX];
	size_t			n;
	struct kdc_ocf_uuid	rowneruuid;
};

kdc_err	kdc_ocf_cred_decode(const uint8_t *in, size_t len,
	    struct kdc_ocf_creds *out);

/*
 * The same payload read as an index: of each entry only credid, subject,
 * credtype and credusage are kept (publicdata, privatedata and roleid
 * are checked as the full decoder does, then skipped), so a device's
 * whole list fits (a device with a manufacturer chain, an identity
 * certificate, its trust anchor, its owner PSK and many pairwise keys
 * holds more than KDC_OCF_CREDS_MAX). The OBT reads it to find the
 * credid of a credential to delete. Errors as kdc_ocf_cred_decode();
 * TOO_LARGE past KDC_OCF_CRED_INDEX_MAX entries.
 */
#define KDC_OCF_CRED_INDEX_MAX	64

struct kdc_ocf_cred_id {
	unsigned		has;		/* KDC_OCF_CRED_HAS_CREDID, _SUBJECT,
						 * _CREDTYPE, _CREDUSAGE */
	int64_t			credid;
	bool			subject_any;
	struct kdc_ocf_uuid	subject;
	uint64_t		credtype;
	enum kdc_ocf_credusage	credusage;
};

struct kdc_ocf_cred_index {
	unsigned		has;		/* KDC_OCF_CREDS_HAS_* */
	struct kdc_ocf_cred_id	ids[KDC_OCF_CRED_INDEX_MAX];
	size_t			n;
	struct kdc_ocf_uuid	rowneruuid;
};

kdc_err	kdc_ocf_cred_index_decode(const uint8_t *in, size_t len,
	    struct kdc_ocf_cred_index *out);
kdc_err	kdc_ocf_cred_encode(const struct kdc_ocf_creds *c, uint8_t *out,
	    size_t cap, size_t *out_len);

/* ---- /oic/sec/acl2 ----------------------------------------------------- */

/* permission bits */
#define KDC_OCF_PERM_C	1
#define KDC_OCF_PERM_R	2
#define KDC_OCF_PERM_U	4
#define KDC_OCF_PERM_D	8
#define KDC_OCF_PERM_N	16

enum kdc_ocf_subject {
	KDC_OCF_SUBJ_NONE = 0,		/* no "subject" (decode only) */
	KDC_OCF_SUBJ_UUID,		/* {"uuid": ...} */
	KDC_OCF_SUBJ_CONNTYPE,		/* {"conntype": ...} */
	KDC_OCF_SUBJ_ROLE,		/* {"role": ..., "authority": ...} */
};

enum kdc_ocf_conntype {
	KDC_OCF_CONN_NONE = 0,
	KDC_OCF_CONN_AUTH_CRYPT,	/* "auth-crypt" */
	KDC_OCF_CONN_ANON_CLEAR,	/* "anon-clear" */
};

enum kdc_ocf_wc {
	KDC_OCF_WC_NONE = 0,		/* an href */
	KDC_OCF_WC_ALL,			/* "*" */
	KDC_OCF_WC_SECURED,		/* "+" */
	KDC_OCF_WC_PUBLIC,		/* "-" */
};

struct kdc_ocf_ace_res {
	char			href[KDC_OCF_STR_MAX];	/* "" when wc */
	enum kdc_ocf_wc		wc;
};

#define KDC_OCF_ACE_HAS_ACEID		0x01u
#define KDC_OCF_ACE_HAS_PERMISSION	0x02u

struct kdc_ocf_ace {
	unsigned		has;
	int64_t			aceid;
	enum kdc_ocf_subject	subject;
	struct kdc_ocf_uuid	uuid;		/* SUBJ_UUID */
	enum kdc_ocf_conntype	conntype;	/* SUBJ_CONNTYPE */
	char			role[KDC_OCF_STR_MAX];	/* SUBJ_ROLE */
	char			authority[KDC_OCF_STR_MAX];	/* may be "" */
	struct kdc_ocf_ace_res	res[KDC_OCF_ACE_RES_MAX];
	size_t			n_res;
	unsigned		permission;	/* KDC_OCF_PERM_* bits, <= 31 */
};

#define KDC_OCF_ACL2_HAS_ACLIST2	0x01u
#define KDC_OCF_ACL2_HAS_ROWNERUUID	0x02u

struct kdc_ocf_acl2 {
	unsigned		has;
	struct kdc_ocf_ace	aces[KDC_OCF_ACES_MAX];
	size_t			n;
	struct kdc_ocf_uuid	rowneruuid;
};

kdc_err	kdc_ocf_acl2_decode(const uint8_t *in, size_t len,
	    struct kdc_ocf_acl2 *out);
kdc_err	kdc_ocf_acl2_encode(const struct kdc_ocf_acl2 *a, uint8_t *out,
	    size_t cap, size_t *out_len);

/* ---- discovery: GET /oic/res?rt=oic.r.doxm ----------------------------- */

/* One endpoint, "coaps://[fe80::1%25eth0]:45678": scheme "coaps", host
 * "fe80::1" (brackets off; the host's characters are checked to be
 * hex, ':', '.' only: the caller hands it to inet_pton), zone "eth0"
 * ("%25" decoded; "" when none), port 45678 (1..65535, required). */
struct kdc_ocf_ep {
	char		scheme[16];	/* coap, coaps, coap+tcp, coaps+tcp */
	char		host[KDC_OCF_HOST_MAX];
	char		zone[KDC_OCF_ZONE_MAX];
	bool		ipv6;		/* the host was in brackets */
	uint16_t	port;
};

#define KDC_OCF_LINK_HAS_ANCHOR	0x01u

struct kdc_ocf_link {
	unsigned		has;
	struct kdc_ocf_uuid	anchor;		/* "ocf://<uuid>" */
	char			href[KDC_OCF_STR_MAX];
	char			rt[KDC_OCF_LINK_RT_MAX][KDC_OCF_STR_MAX];
	size_t			n_rt;
	char			ifs[KDC_OCF_LINK_RT_MAX][KDC_OCF_STR_MAX];
	size_t			n_ifs;
	struct kdc_ocf_ep	eps[KDC_OCF_LINK_EPS_MAX];
	size_t			n_eps;
};

struct kdc_ocf_links {
	struct kdc_ocf_link	links[KDC_OCF_LINKS_MAX];
	size_t			n;
};

/* The answer is an array of links (oic.if.ll, IoTivity's default for
 * CF 10000); "rt" and "if" may be a string or an array of strings; an
 * href is required in each link. */
kdc_err	kdc_ocf_links_decode(const uint8_t *in, size_t len,
	    struct kdc_ocf_links *out);
kdc_err	kdc_ocf_links_encode(const struct kdc_ocf_links *l, uint8_t *out,
	    size_t cap, size_t *out_len);
/* One ep string as above; MALFORMED or TOO_LARGE (a part over its
 * buffer). */
kdc_err	kdc_ocf_ep_parse(const char *s, size_t n, struct kdc_ocf_ep *ep);

/* ---- /oic/sec/csr ------------------------------------------------------ */

/* {"csr": <PKCS#10>, "encoding": "oic.sec.encoding.pem" | ".der"}: PEM
 * in a text string, DER in a byte string (`text` says which). Both
 * properties are required (MALFORMED otherwise). */
#define KDC_OCF_CSR_MAX		2048	/* csr bytes (a P-256 CSR's PEM: ~500) */

struct kdc_ocf_csr {
	bool			text;
	enum kdc_ocf_encoding	encoding;	/* PEM or DER */
	uint8_t			data[KDC_OCF_CSR_MAX];
	size_t			len;
};

kdc_err	kdc_ocf_csr_decode(const uint8_t *in, size_t len,
	    struct kdc_ocf_csr *out);
kdc_err	kdc_ocf_csr_encode(const struct kdc_ocf_csr *c, uint8_t *out,
	    size_t cap, size_t *out_len);

#endif
