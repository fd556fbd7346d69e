/*
 * cose_int.h: shared by the .c files of src/cose/ only: the algorithms
 * table and the bounded label set that finds duplicate map keys
 * (headers, COSE_Key, claims) without allocating.
 */
#ifndef KDC_COSE_INT_H
#define KDC_COSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* What an alg is: its message type, tag (signature/MAC/AEAD tag) length,
 * nonce length and AEAD mode (cose_crypto.h KDC_CC_AES_*). */
struct kdc_cose_alg {
	int	 alg;
	int	 type;		/* KDC_COSE_SIGN1 / MAC0 / ENCRYPT0 */
	size_t	 tag_len;
	size_t	 nonce_len;
	int	 mode;
};

/* NULL for an alg we do not do. */
const struct kdc_cose_alg *kdc_cose_alg_find(int alg);

/* A map key: an int or a text string (a view). */
struct kdc_cose_label {
	bool		 text;
	int64_t		 i;
	const uint8_t	*s;
	size_t		 n;
};

/* The keys of one map (a claims set has a dozen; a header a few): more
 * than this many in one map is TOO_LARGE. Checked pairwise. */
#define KDC_COSE_LABELS_MAX	32

struct kdc_cose_labels {
	size_t			 n;
	struct kdc_cose_label	 v[KDC_COSE_LABELS_MAX];
};

/* Read a label (int or tstr; anything else fails rd MALFORMED). */
bool	kdc_cose_label_read(struct kdc_rd *rd, struct kdc_cose_label *l);
/* Add l: false if it is there already or the set is full. */
bool	kdc_cose_labels_add(struct kdc_cose_labels *ls,
	    const struct kdc_cose_label *l);

#endif
