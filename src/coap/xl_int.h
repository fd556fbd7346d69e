/*
 * xl_int.h: what the files of the CoAP message layer share, for them
 * only. The module's contract is xl.h (the engine's side) with the parts
 * of coap.h it implements (the faces' side); nothing here is seen by
 * either.
 *
 * The parts, one concern each, and what each owns:
 *   xl.c      the message layer proper: struct kdc_coap_xl's life and
 *             limits (x->lim), each datagram parsed and dispatched, the
 *             dedup ring (x->dd*, struct dd_ent is its own), the ACK or
 *             RST of any CON of ours, every retransmission and expiry
 *             (kdc_coap_xl_timer()), and the per-peer state: a struct
 *             kdc_coap_xp made by xl_xp_get(), its timer armed and the
 *             struct freed when idle by xl_settle(), what it holds freed
 *             when the peer goes (the _free functions below).
 *   xl_msg.c  messages as bytes both ways: struct xl_out into a message,
 *             a parsed message into a struct kdc_coap_msg. No state.
 *   xl_req.c  our requests (the client side): struct xl_req, x->held,
 *             x->tok, x->nreqs, xp->reqs. A request ends only through
 *             xl_req_complete() (its done called once).
 *   xl_srv.c  requests from peers (the server side): x->routes, the
 *             request being handled (x->in_handler, x->cur_*), Block1
 *             bodies (xp->body, x->nbodies), answers kept for Block2
 *             (xp->b2), laters (struct kdc_coap_later, x->laters,
 *             xp->seps once answered), Observe (struct xl_obs, xp->obs,
 *             x->nobs, x->obs_seq, x->notifying).
 * Every part takes MIDs from x->mid and calls xl_settle() after changing
 * what a peer has in flight.
 */
#ifndef KDC_COAP_XL_INT_H
#define KDC_COAP_XL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"
#include "base/log.h"
#include "coap/coap.h"
#include "coap/wire.h"
#include "coap/xl.h"

#define CODE_EMPTY		0
#define CODE_CONTINUE		KDC_COAP_CODE(2, 31)
#define CODE_BAD_OPTION		KDC_COAP_CODE(4, 2)
#define CODE_INCOMPLETE		KDC_COAP_CODE(4, 8)
#define SZX_MAX			6	/* 1024-byte blocks: they fit a datagram */
#if KDC_COAP_SEND_MAX > KDC_COAP_DGRAM_MAX
#error "we send what we accept: KDC_COAP_SEND_MAX <= KDC_COAP_DGRAM_MAX"
#endif

struct xl_route {
	char			 ep[KDC_NAME_MAX + 1];	/* "" = every endpoint */
	uint8_t			 method;
	char			 path[KDC_COAP_PATH_MAX + 1];	/* without the '*' */
	bool			 prefix;
	kdc_coap_handler_fn	 fn;
	void			*arg;
};

/* A Confirmable message we send and retransmit until ACK or RST. */
struct xl_con {
	uint8_t		*buf;		/* ours, wiped when freed */
	size_t		 len;
	uint16_t	 mid;
	unsigned	 tries;		/* retransmissions so far */
	unsigned	 timeout;	/* the current one, ms */
	uint64_t	 next;		/* retransmission due; 0: none */
};

/* An option of the caller's own on a request (kdc_coap_request2()). */
struct xl_xopt {
	uint16_t	 num;
	uint8_t		 len;
	uint8_t		 val[KDC_COAP_REQ_OPT_LEN];
};

/* A request we send (kdc_coap_request). Holds a peer reference. */
struct xl_req {
	struct xl_req		*next;		/* xp->reqs */
	struct xl_req		*held_next;	/* x->held */
	struct kdc_coap_peer	*p;
	uint8_t			 tok[8];
	struct xl_con		 con;
	bool			 held;		/* made in a handler: sent after
						 * the handler's answer */
	bool			 sent;
	uint64_t		 deadline;
	uint8_t			 method;
	int			 cf, accept;
	char			 path[KDC_COAP_PATH_MAX + 1];
	char			*query;		/* ours, or NULL */
	uint8_t			 nxopt;
	struct xl_xopt		 xopt[KDC_COAP_REQ_OPTS_MAX];	/* ascending */
	/* our body, Block1 when it does not fit a datagram (RFC 7959 §2.5) */
	uint8_t			*body;		/* ours, wiped */
	size_t			 body_len;
	bool			 b1;		/* sent block-wise */
	bool			 b1_resized;	/* a 4.13 asked for smaller blocks */
	size_t			 b1_off;	/* offset of the block in flight */
	uint8_t			 b1_szx;
	/* the answer, Block2 joined (RFC 7959 §2.4), at most RESP_MAX */
	uint8_t			*rbody;
	size_t			 rlen, rcap;
	uint32_t		 b2_next;	/* block asked for; 0: first */
	uint8_t			 b2_szx;
	kdc_coap_done_fn	 done;
	void			*arg;
};

/* A Block1 body being joined (one per peer). */
struct xl_body {
	uint8_t		*buf;		/* wiped when freed */
	size_t		 len, cap;
	uint8_t		 method;
	char		 path[KDC_COAP_PATH_MAX + 1];
	uint64_t	 expire;
};

/* An answer served block by block (one per peer). */
struct xl_b2 {
	struct kdc_coap_resp	 rs;	/* owned payload */
	uint8_t			 method;
	char			 path[KDC_COAP_PATH_MAX + 1];
	uint64_t		 expire;
};

/*
 * A deferred request (coap.h). Unanswered: on x->laters, counted in
 * xp->nlaters. Answered: its separate response in flight on xp->seps
 * until ACK, RST or the last retransmission. Holds a peer reference
 * either way.
 */
struct kdc_coap_later {
	struct kdc_coap_later	*next, **pprev;
	struct kdc_coap_xl	*x;
	struct kdc_coap_peer	*p;
	uint8_t			 tok[8];
	uint8_t			 tok_len;
	uint8_t			 method;
	bool			 answered;
	bool			 has_b2;	/* the request asked for a block size */
	struct kdc_coap_block	 b2;
	char			 path[KDC_COAP_PATH_MAX + 1];
	struct xl_con		 con;
};

/* An observation (RFC 7641 §4.1): p's GET of a resource, kept to run
 * again for each notification; keyed by (peer, token). */
struct xl_obs {
	struct xl_obs		*next;		/* xp->obs */
	const struct xl_route	*rt;
	struct kdc_coap_msg	 req;		/* no payload */
	uint8_t			 tok[8];
	uint8_t			 tok_len;
	bool			 dead;		/* ends after this notify */
	struct xl_con		 con;		/* the notification in flight */
};

struct kdc_coap_xp {
	struct kdc_coap_xp	*next, **pprev;	/* x->xps */
	struct kdc_coap_peer	*p;
	struct xl_req		*reqs;
	struct kdc_coap_later	*seps;
	unsigned		 nlaters;
	struct xl_body		*body;
	struct xl_b2		*b2;
	struct xl_obs		*obs;
	uint64_t		 armed;		/* timer asked of the engine; 0 none */
};

struct dd_ent;		/* the dedup ring's entries (xl.c) */

struct kdc_coap_xl {
	struct kdc_coap			*c;
	struct kdc_coap_xl_limits	 lim;
	struct xl_route			 routes[KDC_COAP_ROUTE_MAX];
	size_t				 nroutes;
	uint16_t			 mid;
	uint64_t			 tok;
	uint64_t			 rng;
	bool				 closing;
	struct kdc_coap_xp		*xps;
	struct kdc_coap_later		*laters;
	unsigned			 nlaters;
	unsigned			 nreqs;
	unsigned			 nbodies;
	struct xl_req			*held;
	/* the request being handled */
	bool				 in_handler;
	struct kdc_coap_peer		*cur_p;
	bool				 cur_con;
	struct kdc_coap_later		*cur_later;
	const struct kdc_coap_wire	*cur_w;
	const struct kdc_coap_msg	*cur_m;
	const struct xl_route		*cur_rt;
	bool				 cur_obs_ok;	/* a GET with Observe: 0 */
	struct xl_obs			*cur_obs;	/* ... made an observation */
	bool				 notifying;	/* a notification's run */
	unsigned			 nobs;
	uint32_t			 obs_seq;
	struct kdc_log_limit		 loglim;	/* warnings of limits hit */
	/* deduplication: a ring of answers and a hash on (serial, mid) */
	struct dd_ent			*dd;
	uint32_t			*dd_head;
	uint32_t			 dd_max, dd_mask, dd_pos;
};

/* What a message carries besides its header and token, in option order. */
struct xl_out {
	uint8_t				 code;
	bool				 has_observe;
	uint32_t			 observe;
	const char			*location;
	const char			*uri_path;
	const char			*uri_query;
	int				 cf;
	uint32_t			 max_age;
	int				 accept;
	const struct kdc_coap_block	*b2;
	const struct kdc_coap_block	*b1;
	bool				 has_size2;
	uint32_t			 size2;
	bool				 has_size1;
	uint32_t			 size1;
	const uint8_t			*payload;
	size_t				 len;
	const struct xl_xopt		*xopt;	/* ascending, none of the above */
	size_t				 nxopt;
};

/*
 * What the parts call each other through, by the file that owns it.
 * Engine thread only, like everything of xl (xl.h). Names: xl_ and what
 * the function was called while xl was one file.
 */

/* ---- xl.c: the message layer proper ------------------------------------- */

/* RFC 7252 §4.2: ACK_TIMEOUT x a random factor in [1, 1.5]. */
unsigned xl_first_timeout(struct kdc_coap_xl *x);
/* A limit of the engine was hit: a warning, rate-limited per engine
 * (KDC_LOG_PEER_RATE a second, bursts of KDC_LOG_PEER_BURST), saying how
 * many were not written. */
void	xl_limit_hit(struct kdc_coap_xl *x, const char *what, unsigned max);
/* A CON we send (struct xl_con): freed and wiped (zeroed after);
 * set to a copy of msg (KDC_OK, or KDC_ERR_NOMEM with k unchanged). */
void	xl_con_free(struct xl_con *k);
kdc_err	xl_con_set(struct xl_con *k, const uint8_t *msg, size_t len,
	    uint16_t mid);
/* p's engine's message layer (NULL when it has none). */
struct kdc_coap_xl *xl_of_peer(const struct kdc_coap_peer *p);
/* Per-peer state: p's struct kdc_coap_xp, made and linked on x->xps
 * when create (NULL: none, or out of memory). */
struct kdc_coap_xp *xl_xp_get(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
	    bool create);
/* Free p's state when nothing is left in flight, else (re)arm its timer
 * for the earliest thing due. Every part calls it after changing what
 * p has in flight. */
void	xl_settle(struct kdc_coap_xl *x, struct kdc_coap_peer *p);
/* Frees of what a struct kdc_coap_xp holds (body and b2: NULL does
 * nothing); body_free and obs_free keep x's counts (nbodies, nobs).
 * later_free drops l's peer reference; later_unlink takes an unanswered
 * l off x->laters (and off x's and p's counts of laters). */
void	xl_body_free(struct kdc_coap_xl *x, struct xl_body *b);
void	xl_b2_free(struct xl_b2 *b);
void	xl_later_free(struct kdc_coap_later *l);
void	xl_later_unlink(struct kdc_coap_xl *x, struct kdc_coap_later *l);
void	xl_obs_free(struct kdc_coap_xl *x, struct xl_obs *o);
/* The answer leaves: kept for a retransmitted CON (the dedup ring),
 * then sent. */
void	xl_reply(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
	    const struct kdc_coap_wire *w, const uint8_t *buf, size_t len);
/* The same with a bare code answer (xl_code_make()): an ACK to a CON, a
 * NON (a MID of ours) to a NON. */
void	xl_reply_code(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
	    const struct kdc_coap_wire *w, uint8_t code,
	    const struct kdc_coap_block *b1, const uint32_t *size1,
	    uint32_t max_age);

/* ---- xl_msg.c: messages as bytes, both ways (no state) ------------------ */

/* o as one message of type, mid, token in buf (options in order, the
 * caller's own among them): KDC_OK and *len, or kdc_coap_wb_end()'s
 * error (KDC_ERR_TOO_LARGE: it does not fit cap). */
kdc_err	xl_out_make(uint8_t *buf, size_t cap, uint8_t type, uint16_t mid,
	    const uint8_t *tok, size_t tok_len, const struct xl_out *o,
	    size_t *len);
/* o empty but for code (no Content-Format, no Accept). */
void	xl_out_init(struct xl_out *o, uint8_t code);
/* A bare header: empty ACK or RST (RFC 7252 §4.2, §4.3). Returns 4. */
size_t	xl_bare(uint8_t *buf, uint8_t type, uint16_t mid);
/*
 * Block `want` (num, szx) of payload (len bytes) as an answer message,
 * the block size lowered until the message fits a datagram. 0 when the
 * block is past the end or nothing fits. *more: blocks follow.
 */
size_t	xl_block_make(uint8_t *buf, uint8_t type, uint16_t mid,
	    const uint8_t *tok, size_t tok_len, struct xl_out *o,
	    const uint8_t *payload, size_t len,
	    const struct kdc_coap_block *want, bool *more);
/* A bare code answer (an error): code, and Size1/Block1/Max-Age when
 * given. Always fits (buf: KDC_COAP_SEND_MAX). */
size_t	xl_code_make(uint8_t *buf, uint8_t type, uint16_t mid,
	    const uint8_t *tok, size_t tok_len, uint8_t code,
	    const struct kdc_coap_block *b1, const uint32_t *size1,
	    uint32_t max_age);
/* w into m (pointers into w's datagram); Location-Path into loc when
 * not NULL. MALFORMED for an option over our limits (4.00). */
kdc_err	xl_msg_decode(const struct kdc_coap_wire *w, struct kdc_coap_msg *m,
	    char *loc, size_t loc_cap);
/* Block option num of w: 0 absent, 1 present (*b set), -1 malformed. */
int	xl_block_of(const struct kdc_coap_wire *w, uint16_t num,
	    struct kdc_coap_block *b);

/* ---- xl_req.c: our requests (the client side) --------------------------- */

/* r ends: off its peer's list, done called once, then freed. */
void	xl_req_complete(struct kdc_coap_xl *x, struct xl_req *r, kdc_err st,
	    const struct kdc_coap_msg *m);
/* An answer to r (piggybacked or separate): the next Block1 block, the
 * next Block2 block, or r's completion. */
void	xl_req_answer(struct kdc_coap_xl *x, struct xl_req *r,
	    const struct kdc_coap_wire *w);
/* p's request in flight whose current message has this MID, or NULL. */
struct xl_req *xl_req_by_mid(struct kdc_coap_xp *xp, uint16_t mid);
/* A CON or NON carrying a response code: a separate answer to us. */
void	xl_on_separate(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
	    const struct kdc_coap_wire *w);
/* Send what handlers asked for, now that their answers are out. */
void	xl_held_flush(struct kdc_coap_xl *x);

/* ---- xl_srv.c: requests from peers (the server side) -------------------- */

/* A request (0.xx code, CON or NON) from p: refused, joined (Block1),
 * served from a kept answer (Block2), or routed and answered; then what
 * its handler asked for is sent (xl_held_flush()). */
void	xl_on_request(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
	    const struct kdc_coap_wire *w);

#endif
