/*
 * pw.c: password hashes for people's HTTP basic logins (crypto.h):
 * Argon2id through libsodium, its own encoded string (algorithm,
 * parameters, salt, hash), verified in constant time by libsodium.
 */
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"

kdc_err
kdc_pw_hash(const char *pw, size_t len, char out[KDC_PW_HASH_MAX])
{
	if (sodium_init() < 0)
		return KDC_ERR_CRYPTO;
	if (len < KDC_PW_MIN || len > KDC_PW_MAX)
		return KDC_ERR_INVALID_ARG;
	if (crypto_pwhash_str_alg(out, pw, len,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		return KDC_ERR_NOMEM;
	return KDC_OK;
}

bool
kdc_pw_verify(const char *hash, const char *pw, size_t len)
{
	if (sodium_init() < 0 || hash == NULL || hash[0] == '\0' ||
	    len > KDC_PW_MAX)
		return false;
	return crypto_pwhash_str_verify(hash, pw, len) == 0;
}
