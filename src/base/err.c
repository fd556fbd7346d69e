/* err.c: text for every kdc_err. */
#include <string.h>

#include "base/err.h"

static const struct {
	kdc_err		 code;
	const char	*name;
	const char	*text;
} errtab[] = {
	{ KDC_OK,			"OK",		"success" },
	{ KDC_ERR_TRUNCATED,		"TRUNCATED",	"input truncated" },
	{ KDC_ERR_MALFORMED,		"MALFORMED",	"malformed input" },
	{ KDC_ERR_TRAILING,		"TRAILING",	"trailing bytes after input" },
	{ KDC_ERR_TOO_LARGE,		"TOO_LARGE",	"too large" },
	{ KDC_ERR_INVALID_ARG,		"INVALID_ARG",	"invalid argument" },
	{ KDC_ERR_NOMEM,		"NOMEM",	"out of memory" },
	{ KDC_ERR_NOT_FOUND,		"NOT_FOUND",	"not found" },
	{ KDC_ERR_EXISTS,		"EXISTS",	"already exists" },
	{ KDC_ERR_UNSUPPORTED,		"UNSUPPORTED",	"not supported" },
	{ KDC_ERR_REPLAY,		"REPLAY",	"seen before (replay)" },
	{ KDC_ERR_EXHAUSTED,		"EXHAUSTED",	"counter exhausted" },
	{ KDC_ERR_UNKNOWN_DEVICE,	"UNKNOWN_DEVICE", "unknown device" },
	{ KDC_ERR_REVOKED,		"REVOKED",	"revoked" },
	{ KDC_ERR_EXPIRED,		"EXPIRED",	"expired" },
	{ KDC_ERR_WRONG_TYPE,		"WRONG_TYPE",	"wrong credential type" },
	{ KDC_ERR_NOT_YET_VALID,	"NOT_YET_VALID", "not yet valid" },
	{ KDC_ERR_DUPLICATE_PSK,	"DUPLICATE_PSK", "PSK or PSK identity already used by another device" },
	{ KDC_ERR_WEAK_PSK,		"WEAK_PSK",	"PSK shorter than 128 bits" },
	{ KDC_ERR_BAD_SIGNATURE,	"BAD_SIGNATURE", "signature does not verify" },
	{ KDC_ERR_UNSUPPORTED_KEY,	"UNSUPPORTED_KEY", "unsupported key type (want ECDSA P-256 or Ed25519)" },
	{ KDC_ERR_LIVE_CRED,		"LIVE_CRED",	"a live credential already exists for this device and audience" },
	{ KDC_ERR_UNKNOWN_PROFILE,	"UNKNOWN_PROFILE", "unknown profile" },
	{ KDC_ERR_UNTRUSTED,		"UNTRUSTED",	"not issued by a trusted CA" },
	{ KDC_ERR_DENIED,		"DENIED",	"not authorized" },
	{ KDC_ERR_UNKNOWN_AUDIENCE,	"UNKNOWN_AUDIENCE", "unknown audience, or not one of the device's profile" },
	{ KDC_ERR_DUPLICATE_SSID,	"DUPLICATE_SSID", "Short Server ID already used by another LwM2M audience" },
	{ KDC_ERR_STORE,		"STORE",	"database error" },
	{ KDC_ERR_STORE_BUSY,		"STORE_BUSY",	"database busy" },
	{ KDC_ERR_STORE_CORRUPT,	"STORE_CORRUPT", "not an iotkdc database, or damaged" },
	{ KDC_ERR_STORE_VERSION,	"STORE_VERSION", "database schema is newer than this binary" },
	{ KDC_ERR_CRYPTO,		"CRYPTO",	"cryptographic operation failed" },
	{ KDC_ERR_BAD_KEY,		"BAD_KEY",	"wrapped data does not open with this wrapping key" },
	{ KDC_ERR_IO,			"IO",		"I/O error" },
	{ KDC_ERR_CONFIG,		"CONFIG",	"bad configuration" },
	{ KDC_ERR_AUDIT_BROKEN,		"AUDIT_BROKEN",	"audit chain broken" },
	{ KDC_ERR_PKCS11,		"PKCS11",	"PKCS#11 token error" },
	{ KDC_ERR_TLS,			"TLS",		"TLS setup failed" },
	{ KDC_ERR_TIMEOUT,		"TIMEOUT",	"peer did not answer in time" },
	{ KDC_ERR_PEER_RESET,		"PEER_RESET",	"peer reset the exchange" },
	{ KDC_ERR_CLOSED,		"CLOSED",	"session closed" },
	{ KDC_ERR_PEER_ERROR,		"PEER_ERROR",	"peer answered with an error" },
	{ KDC_ERR_BUSY,			"BUSY",		"at capacity, try again later" },
	{ KDC_ERR_WRONG_KEY,		"WRONG_KEY",	"peer did not prove the key of its credential" },
	{ KDC_ERR_STORE_GONE,		"STORE_GONE",	"the store's file was removed or replaced while open" },
	{ KDC_ERR_NOSPACE,		"NOSPACE",	"no space left on the disk" },
};

#define NERR (sizeof(errtab) / sizeof(errtab[0]))

const char *
kdc_err_str(kdc_err r)
{
	for (size_t i = 0; i < NERR; i++)
		if (errtab[i].code == r)
			return errtab[i].text;
	return "unknown error";
}

const char *
kdc_err_name(kdc_err r)
{
	for (size_t i = 0; i < NERR; i++)
		if (errtab[i].code == r)
			return errtab[i].name;
	return "?";
}

int
kdc_err_from_name(const char *name)
{
	for (size_t i = 0; i < NERR; i++)
		if (strcmp(errtab[i].name, name) == 0)
			return errtab[i].code;
	return 1;
}
