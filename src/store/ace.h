/*
 * store/ace.h: the ACE Authorization Server's tables, which the store
 * keeps for core/ace.c alone (the AS face and the CLI go through
 * core/ace.h). Schema 9 and 10 (schema.c):
 *
 *   ace_rs      one row per resource server: its audience (a row of
 *               audiences, kind ace-rs), its ACE profile, the AS-RS key
 *               wrapped by crypto/ (AAD "ace-rs:" + the audience name,
 *               the row's unique and immutable key) and/or its SPKI.
 *   ace_grants  client device x audience -> scopes, refresh allowed;
 *               revoked_at 0 while live (one live grant per pair).
 *   ace_tokens  every token issued, by cti: access tokens with their
 *               RFC 9770 hash (33 bytes), refresh tokens with the
 *               SHA-256 of their value (never the value; unique, indexed
 *               since schema 10 for refresh tokens only) and the PoP key
 *               the access tokens they buy must bind.
 *
 * Conventions as store.h. Rows are plain structs in the caller's storage
 * (the only heap fields are those of kdc_ace_rs_row, freed with
 * kdc_ace_rs_row_free(), which wipes the wrapped key first).
 */
#ifndef KDC_STORE_ACE_H
#define KDC_STORE_ACE_H

#include "store/store.h"

#define KDC_ACE_STORE_SCOPE_MAX	255	/* = KDC_ACE_SCOPE_MAX (core/ace.h) */
#define KDC_ACE_CTI_MAX		16
#define KDC_ACE_HASH_MAX	33	/* RFC 9770 binary form; 32 for refresh */
#define KDC_ACE_POPKEY_MAX	128	/* wrapped 16-byte key, or EC x||y */

struct kdc_ace_rs_row {
	int64_t		 id;
	char		 audience[KDC_NAME_MAX + 1];
	int		 profile;	/* 1 coap_dtls */
	uint8_t		*key_wrapped;	size_t	 key_wrapped_len;
	uint8_t		*spki;		size_t	 spki_len;
	int64_t		 created;
};

struct kdc_ace_grant_row {
	int64_t		 id;
	int64_t		 device;
	char		 audience[KDC_NAME_MAX + 1];
	char		 scopes[KDC_ACE_STORE_SCOPE_MAX + 1];
	bool		 refresh;
	int64_t		 created;
	int64_t		 revoked_at;	/* 0: live */
};

enum kdc_ace_token_kind { KDC_ACE_ACCESS = 0, KDC_ACE_REFRESH = 1 };
enum kdc_ace_pop { KDC_ACE_POP_SYMMETRIC = 1, KDC_ACE_POP_ASYMMETRIC = 2 };

struct kdc_ace_token_rec {
	uint8_t			 cti[KDC_ACE_CTI_MAX];	size_t	 cti_len;
	int64_t			 device;	/* 0 once the device is deleted */
	char			 client[KDC_DEVID_MAX + 1];
	int64_t			 grant;		/* 0 once the grant is deleted */
	char			 audience[KDC_NAME_MAX + 1];
	char			 scope[KDC_ACE_STORE_SCOPE_MAX + 1];
	enum kdc_ace_token_kind	 kind;
	enum kdc_ace_pop	 pop;
	uint8_t			 pop_kid[KDC_ACE_CTI_MAX];	size_t	 pop_kid_len;
	uint8_t			 pop_key[KDC_ACE_POPKEY_MAX];	size_t	 pop_key_len;
	uint8_t			 hash[KDC_ACE_HASH_MAX];	size_t	 hash_len;
	int64_t			 iat, exp;
	int64_t			 revoked_at;	/* 0: not revoked */
};

/* ---- resource servers --------------------------------------------------- */

/* Insert (rs->id set). EXISTS if the audience has one; NOT_FOUND if the
 * audience is not a row; INVALID_ARG with neither key nor SPKI. */
kdc_err	kdc_store_ace_rs_add(struct kdc_store *st, struct kdc_ace_rs_row *rs);
/* By audience name; NOT_FOUND. *out heap, kdc_ace_rs_row_free(). */
kdc_err	kdc_store_ace_rs_get(struct kdc_store *st, const char *aud,
	    struct kdc_ace_rs_row **out);
/* All, by audience: *out an array of *n pointers. */
kdc_err	kdc_store_ace_rs_list(struct kdc_store *st,
	    struct kdc_ace_rs_row ***out, size_t *n);
void	kdc_ace_rs_row_free(struct kdc_ace_rs_row *rs);
void	kdc_ace_rs_list_free(struct kdc_ace_rs_row **v, size_t n);

/* ---- grants ------------------------------------------------------------- */

/* Insert a live grant (g->id set). EXISTS if the pair has a live one
 * (revoke it first); NOT_FOUND if device or audience is not a
 * row. */
kdc_err	kdc_store_ace_grant_add(struct kdc_store *st,
	    struct kdc_ace_grant_row *g);
/* The live grant of (device, aud); NOT_FOUND. */
kdc_err	kdc_store_ace_grant_get(struct kdc_store *st, int64_t device,
	    const char *aud, struct kdc_ace_grant_row *out);
/* Any grant by id (live or not); NOT_FOUND. */
kdc_err	kdc_store_ace_grant_get_id(struct kdc_store *st, int64_t id,
	    struct kdc_ace_grant_row *out);
/* Revoke grant id and every unrevoked token issued under it, at now; *n
 * (may be NULL) = tokens revoked. NOT_FOUND if no live grant has id. */
kdc_err	kdc_store_ace_grant_revoke(struct kdc_store *st, int64_t id,
	    int64_t now, size_t *n);

/* ---- tokens ------------------------------------------------------------- */

/* Insert. EXISTS on a cti already recorded, or a refresh token's hash
 * (an access token's hash is not indexed: schema 10). */
kdc_err	kdc_store_ace_token_add(struct kdc_store *st,
	    const struct kdc_ace_token_rec *t);
/* By cti; NOT_FOUND. */
kdc_err	kdc_store_ace_token_get(struct kdc_store *st, const uint8_t *cti,
	    size_t cti_len, struct kdc_ace_token_rec *out);
/* A refresh token by its hash (SHA-256 of its value); NOT_FOUND (also
 * for an access token's RFC 9770 hash: only the TRL reads those). */
kdc_err	kdc_store_ace_token_by_hash(struct kdc_store *st,
	    const uint8_t *hash, size_t hash_len,
	    struct kdc_ace_token_rec *out);
/* Set revoked_at = now on one unrevoked token: NOT_FOUND if none has
 * that cti, REVOKED if it already was. */
kdc_err	kdc_store_ace_token_revoke(struct kdc_store *st, const uint8_t *cti,
	    size_t cti_len, int64_t now);
/*
 * Delete at most KDC_ACE_PURGE_BATCH token rows (access and refresh) whose
 * cti sorts below cti_below (ctis begin with their issue time: the scan is
 * a range of the primary key) and whose exp is before exp_before; *n (may
 * be NULL) how many. Its own transaction unless one is open.
 */
#define KDC_ACE_PURGE_BATCH	4096
kdc_err	kdc_store_ace_tokens_purge(struct kdc_store *st,
	    const uint8_t *cti_below, size_t len, int64_t exp_before,
	    size_t *n);
/* Revoke every unrevoked token of device; *n (may be NULL) how many. */
kdc_err	kdc_store_ace_tokens_revoke_device(struct kdc_store *st,
	    int64_t device, int64_t now, size_t *n);
/* fn(arg, hash) for each access token of aud revoked and with exp > now
 * (index ace_trl). fn must not call the store. */
kdc_err	kdc_store_ace_trl(struct kdc_store *st, const char *aud, int64_t now,
	    void (*fn)(void *arg, const uint8_t *hash, size_t len), void *arg);
/* Every token (active_only: not revoked and exp > now), oldest first:
 * *out heap array of *n records (kdc_free). */
kdc_err	kdc_store_ace_token_list(struct kdc_store *st, bool active_only,
	    int64_t now, struct kdc_ace_token_rec **out, size_t *n);

#endif
