/*
 * ocf_host.c: the host (POSIX, GnuTLS 3.7.9) port of the OCF device
 * (kdcdev_host.h "OCF"): a plain CoAP socket, the multicast discovery
 * socket on 5683, and a DTLS 1.2 server on GnuTLS directly (libcoap's
 * GnuTLS backend NUL-terminates PSK identities; OCF's are raw 16-byte
 * uuids). The CoAP layer is kdcdev_ocf_coap_parse/_build plus what
 * needs memory per peer: duplicate detection, Block1 reassembly (4 KiB)
 * and Block2 slicing (1 KiB blocks).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "base/file.h"
#include "base/wipe.h"
#include "kdcdev.h"
#include "kdcdev_host.h"
#include "kdcdev_ocf.h"

#define SESSIONS_MAX	8
#define RESP_MAX	20480
#define DGRAM_MAX	2048
#define IDLE_MS		60000		/* a session idle that long ends */
#define PLAIN_CACHE	8

#define RDP_IDENTITY	"oic.sec.doxm.rdp"

struct peer_cache {
	struct sockaddr_storage	addr;
	socklen_t		alen;
	uint16_t		mid;
	bool			used;
	uint8_t			resp[1200];
	size_t			resp_len;
};

struct block1 {
	struct sockaddr_storage	addr;
	socklen_t		alen;
	struct kdcdev_ocf_block1 b;
};

struct sess {
	bool			used;
	bool			established;
	bool			doc;		/* the RFOTM onboarding session */
	unsigned		doc_requests;	/* answered over it */
	struct sockaddr_storage	addr;
	socklen_t		alen;
	gnutls_session_t	s;
	gnutls_psk_server_credentials_t psk;
	gnutls_certificate_credentials_t idc;	/* identity cert, trustca */
	const uint8_t		*rx;		/* the datagram being read */
	size_t			rx_len;
	struct kdcdev_ocf_peer	peer;
	int64_t			last_ms;
	struct peer_cache	cache;
	struct kdcdev_ocf_block1	b1;
};

struct srv {
	struct kdcdev_ocf	*d;
	const struct kdcdev_host_ocf_opts *o;
	int			fd_coap, fd_dtls, fd_mc6, fd_mc4;
	gnutls_datum_t		cookie_key;
	gnutls_certificate_credentials_t mfg;
	struct sess		sess[SESSIONS_MAX];
	struct peer_cache	plain[PLAIN_CACHE];
	size_t			plain_next;
	struct block1		plain_b1;
	uint16_t		next_mid;	/* NON answers */
	int			coap_family;
	uint8_t			resp[RESP_MAX];
	uint8_t			out[RESP_MAX + 64];
};

static int host_ocf_verbosity;
/* the server being run (GnuTLS callbacks reach it through here; one
 * server per process) */
static struct srv *ocf_srv_cur;

static void
logf_(int lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
logf_(int lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > host_ocf_verbosity)
		return;
	va_start(ap, fmt);
	fputs("ocf: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ==== port callbacks (GnuTLS) ============================================ */

static kdc_err
cb_random(void *arg, uint8_t *buf, size_t n)
{
	(void)arg;
	return gnutls_rnd(GNUTLS_RND_KEY, buf, n) == 0 ? KDC_OK :
	    KDC_ERR_CRYPTO;
}

static kdc_err
cb_pin(void *arg, const char *pin)
{
	const struct kdcdev_host_ocf_opts *o = arg;
	char line[16];
	kdc_err r;

	if (o->pin_file == NULL)
		return KDC_ERR_UNSUPPORTED;
	snprintf(line, sizeof(line), "%s\n", pin);
	r = kdc_file_write_atomic(o->pin_file, line, strlen(line), 0600);
	kdc_wipe(line, sizeof(line));
	return r;
}

static kdc_err
cb_keypair(void *arg, uint8_t *key, size_t *key_len)
{
	gnutls_x509_privkey_t k;
	size_t n = *key_len;
	int rc;

	(void)arg;
	if (gnutls_x509_privkey_init(&k) < 0)
		return KDC_ERR_CRYPTO;
	rc = gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (rc == 0)
		rc = gnutls_x509_privkey_export_pkcs8(k, GNUTLS_X509_FMT_DER,
		    NULL, GNUTLS_PKCS_PLAIN, key, &n);
	gnutls_x509_privkey_deinit(k);
	if (rc < 0)
		return KDC_ERR_CRYPTO;
	*key_len = n;
	return KDC_OK;
}

static kdc_err
import_key(const uint8_t *key, size_t key_len, gnutls_x509_privkey_t *k)
{
	gnutls_datum_t dk = { (unsigned char *)(uintptr_t)key,
	    (unsigned)key_len };

	if (gnutls_x509_privkey_init(k) < 0)
		return KDC_ERR_CRYPTO;
	if (gnutls_x509_privkey_import_pkcs8(*k, &dk, GNUTLS_X509_FMT_DER,
	    NULL, GNUTLS_PKCS_PLAIN) < 0) {
		gnutls_x509_privkey_deinit(*k);
		return KDC_ERR_CRYPTO;
	}
	return KDC_OK;
}

static kdc_err
cb_csr(void *arg, const uint8_t *key, size_t key_len, const char *uuid,
    char *out, size_t *out_len)
{
	gnutls_x509_privkey_t k;
	gnutls_x509_crq_t q;
	char cn[64];
	int rc;
	kdc_err r;

	(void)arg;
	if ((r = import_key(key, key_len, &k)) != KDC_OK)
		return r;
	if (gnutls_x509_crq_init(&q) < 0) {
		gnutls_x509_privkey_deinit(k);
		return KDC_ERR_CRYPTO;
	}
	snprintf(cn, sizeof(cn), "uuid:%s", uuid);
	rc = gnutls_x509_crq_set_dn_by_oid(q, GNUTLS_OID_X520_COMMON_NAME, 0,
	    cn, (unsigned)strlen(cn));
	if (rc == 0)
		rc = gnutls_x509_crq_set_key(q, k);
	if (rc == 0)
		rc = gnutls_x509_crq_sign2(q, k, GNUTLS_DIG_SHA256, 0);
	if (rc == 0)
		rc = gnutls_x509_crq_export(q, GNUTLS_X509_FMT_PEM, out,
		    out_len);
	gnutls_x509_crq_deinit(q);
	gnutls_x509_privkey_deinit(k);
	return rc == 0 ? KDC_OK : KDC_ERR_CRYPTO;
}

/* SubjectPublicKeyInfo DER of a cert or a key into spki. */
static kdc_err
spki_of(gnutls_pubkey_t pk, uint8_t *spki, size_t *n)
{
	return gnutls_pubkey_export(pk, GNUTLS_X509_FMT_DER, spki, n) == 0 ?
	    KDC_OK : KDC_ERR_CRYPTO;
}

static kdc_err
cb_cert_check(void *arg, enum kdc_ocf_credusage usage, const uint8_t *pem,
    size_t pem_len, const uint8_t *key, size_t key_len, const char *uuid)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t dp = { (unsigned char *)(uintptr_t)pem,
	    (unsigned)pem_len };
	gnutls_pubkey_t p1 = NULL, p2 = NULL;
	gnutls_x509_privkey_t k = NULL;
	gnutls_privkey_t pk = NULL;
	uint8_t s1[200], s2[200];
	size_t n1 = sizeof(s1), n2 = sizeof(s2);
	char cn[80], want[64];
	size_t cnl = sizeof(cn);
	kdc_err r = KDC_ERR_UNTRUSTED;

	(void)arg;
	if (gnutls_x509_crt_init(&crt) < 0)
		return KDC_ERR_CRYPTO;
	if (gnutls_x509_crt_import(crt, &dp, GNUTLS_X509_FMT_PEM) < 0) {
		r = KDC_ERR_MALFORMED;
		goto out;
	}
	if (usage == KDC_OCF_USAGE_TRUSTCA) {
		r = KDC_OK;
		goto out;
	}
	/* the identity certificate: our key, CN=uuid:<deviceuuid> */
	snprintf(want, sizeof(want), "uuid:%s", uuid);
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
	    0, cn, &cnl) < 0 || strcmp(cn, want) != 0) {
		logf_(1, "cred: certificate CN is not %s: refused", want);
		goto out;
	}
	if (key_len == 0 || import_key(key, key_len, &k) != KDC_OK ||
	    gnutls_privkey_init(&pk) < 0 ||
	    gnutls_privkey_import_x509(pk, k, 0) < 0 ||
	    gnutls_pubkey_init(&p1) < 0 || gnutls_pubkey_init(&p2) < 0 ||
	    gnutls_pubkey_import_privkey(p1, pk, 0, 0) < 0 ||
	    gnutls_pubkey_import_x509(p2, crt, 0) < 0 ||
	    spki_of(p1, s1, &n1) != KDC_OK || spki_of(p2, s2, &n2) != KDC_OK)
		goto out;
	if (n1 != n2 || memcmp(s1, s2, n1) != 0) {
		logf_(1, "cred: certificate is not for the device key: "
		    "refused");
		goto out;
	}
	r = KDC_OK;
out:
	if (p1 != NULL)
		gnutls_pubkey_deinit(p1);
	if (p2 != NULL)
		gnutls_pubkey_deinit(p2);
	if (pk != NULL)
		gnutls_privkey_deinit(pk);
	if (k != NULL)
		gnutls_x509_privkey_deinit(k);
	gnutls_x509_crt_deinit(crt);
	return r;
}

static void
cb_log(void *arg, const char *msg)
{
	(void)arg;
	logf_(0, "%s", msg);
}

/* ==== state file ========================================================= */

static kdc_err
read_all(const char *file, uint8_t *buf, size_t *len)
{
	FILE *f;
	size_t n;
	int extra;

	if ((f = fopen(file, "rb")) == NULL)
		return errno == ENOENT ? KDC_ERR_NOT_FOUND : KDC_ERR_IO;
	n = fread(buf, 1, *len, f);
	extra = fgetc(f);
	if (ferror(f)) {
		fclose(f);
		return KDC_ERR_IO;
	}
	fclose(f);
	if (extra != EOF)
		return KDC_ERR_TOO_LARGE;
	*len = n;
	return KDC_OK;
}

kdc_err
kdcdev_host_ocf_save(const struct kdcdev_ocf *d, const char *path)
{
	static uint8_t buf[KDCDEV_OCF_STATE_MAX];
	size_t len = sizeof(buf);
	kdc_err r;

	if ((r = kdcdev_ocf_state_encode(d, buf, &len)) != KDC_OK)
		return r;
	r = kdc_file_write_atomic(path, buf, len, 0600);
	kdc_wipe(buf, len);
	return r;
}

kdc_err
kdcdev_host_ocf_load(struct kdcdev_ocf *d, const char *path)
{
	static uint8_t buf[KDCDEV_OCF_STATE_MAX];
	size_t len = sizeof(buf);
	kdc_err r;

	if ((r = read_all(path, buf, &len)) == KDC_OK)
		r = kdcdev_ocf_state_decode(d, buf, len);
	kdc_wipe(buf, sizeof(buf));
	return r;
}

/* Init d with the host callbacks, from path when it exists. */
static kdc_err
dev_open(struct kdcdev_ocf *d, const struct kdcdev_host_ocf_opts *o)
{
	struct kdcdev_ocf_ops ops = {
		.arg = (void *)(uintptr_t)o, .random = cb_random,
		.pin_display = cb_pin, .new_keypair = cb_keypair,
		.csr = cb_csr, .cert_check = cb_cert_check, .log = NULL,
	};
	kdc_err r;

	/* init makes a fresh device (uuid, keypair): silent, as the state
	 * file usually replaces it */
	if ((r = kdcdev_ocf_init(d, &ops, o->pin_file != NULL,
	    o->mfg_cert != NULL, "iotkdc-device")) != KDC_OK)
		return r;
	d->ops.log = cb_log;
	r = kdcdev_host_ocf_load(d, o->state_file);
	if (r == KDC_ERR_NOT_FOUND) {
		logf_(0, "new device in RFOTM (no %s yet)", o->state_file);
		/* init's reset made this device; it is no reset of a running
		 * one, so it must not end the first DTLS session (the DOC)
		 * after its first request */
		d->reset_done = false;
		return kdcdev_host_ocf_save(d, o->state_file);
	}
	if (r != KDC_OK)
		return r;
	/* the offered OTMs follow today's options, not the file's */
	d->doxm.n_oxms = 0;
	if (d->has_pin)
		d->doxm.oxms[d->doxm.n_oxms++] = KDC_OCF_OXM_RDP;
	if (d->has_mfgcert)
		d->doxm.oxms[d->doxm.n_oxms++] = KDC_OCF_OXM_MFGCERT;
	d->changed = false;
	d->reset_done = false;
	return KDC_OK;
}

/* ==== sockets ============================================================ */

static kdc_err
parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return KDC_OK;
	}
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return KDC_OK;
	}
	return KDC_ERR_INVALID_ARG;
}

static int
bind_udp(const struct sockaddr_storage *ss, socklen_t len, bool reuse)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	if (reuse) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	}
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static uint16_t
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* The multicast sockets on --iface: ff02::158 and 224.0.1.187 port 5683. */
static void
open_multicast(struct srv *v, const char *iface)
{
	unsigned idx = if_nametoindex(iface);
	struct sockaddr_storage ss;
	socklen_t len;
	struct ifaddrs *ifa, *i;
	bool v4 = false;

	if (idx == 0) {
		logf_(0, "multicast: no interface %s", iface);
		return;
	}
	parse_addr("::", 5683, &ss, &len);
	if ((v->fd_mc6 = bind_udp(&ss, len, true)) >= 0) {
		struct ipv6_mreq mr;
		memset(&mr, 0, sizeof(mr));
		inet_pton(AF_INET6, "ff02::158", &mr.ipv6mr_multiaddr);
		mr.ipv6mr_interface = idx;
		if (setsockopt(v->fd_mc6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr,
		    sizeof(mr)) < 0) {
			logf_(0, "multicast: join ff02::158 on %s: %s", iface,
			    strerror(errno));
			close(v->fd_mc6);
			v->fd_mc6 = -1;
		}
	}
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i != NULL; i = i->ifa_next)
			if (i->ifa_addr != NULL &&
			    i->ifa_addr->sa_family == AF_INET &&
			    strcmp(i->ifa_name, iface) == 0)
				v4 = true;
		freeifaddrs(ifa);
	}
	if (!v4)
		return;
	parse_addr("0.0.0.0", 5683, &ss, &len);
	if ((v->fd_mc4 = bind_udp(&ss, len, true)) >= 0) {
		struct ip_mreqn mr;
		memset(&mr, 0, sizeof(mr));
		inet_pton(AF_INET, "224.0.1.187", &mr.imr_multiaddr);
		mr.imr_ifindex = (int)idx;
		if (setsockopt(v->fd_mc4, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr,
		    sizeof(mr)) < 0) {
			close(v->fd_mc4);
			v->fd_mc4 = -1;
		}
	}
}

/* The address the eps advertise: --addr unless a wildcard, else the
 * interface's first IPv6 address (global or ULA before link-local). */
static void
pick_ep_host(struct kdcdev_ocf *d, const char *addr, const char *iface)
{
	struct ifaddrs *ifa, *i;
	char best[INET6_ADDRSTRLEN] = "", ll[INET6_ADDRSTRLEN] = "";

	if (strcmp(addr, "::") != 0 && strcmp(addr, "0.0.0.0") != 0) {
		snprintf(d->ep_host, sizeof(d->ep_host), "%s", addr);
		d->ep_ipv6 = strchr(addr, ':') != NULL;
		return;
	}
	if (iface != NULL && getifaddrs(&ifa) == 0) {
		for (i = ifa; i != NULL; i = i->ifa_next) {
			struct sockaddr_in6 *s6;
			if (i->ifa_addr == NULL ||
			    i->ifa_addr->sa_family != AF_INET6 ||
			    strcmp(i->ifa_name, iface) != 0)
				continue;
			s6 = (struct sockaddr_in6 *)i->ifa_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)) {
				if (ll[0] == '\0')
					inet_ntop(AF_INET6, &s6->sin6_addr, ll,
					    sizeof(ll));
			} else if (best[0] == '\0') {
				inet_ntop(AF_INET6, &s6->sin6_addr, best,
				    sizeof(best));
			}
		}
		freeifaddrs(ifa);
	}
	d->ep_ipv6 = true;
	if (best[0] != '\0') {
		snprintf(d->ep_host, sizeof(d->ep_host), "%s", best);
	} else if (ll[0] != '\0') {
		snprintf(d->ep_host, sizeof(d->ep_host), "%s", ll);
		snprintf(d->ep_zone, sizeof(d->ep_zone), "%s", iface);
	} else {
		snprintf(d->ep_host, sizeof(d->ep_host), "%s",
		    strchr(addr, ':') != NULL ? "::1" : "127.0.0.1");
		d->ep_ipv6 = strchr(addr, ':') != NULL;
	}
}

static bool
addr_eq(const struct sockaddr_storage *a, socklen_t al,
    const struct sockaddr_storage *b, socklen_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

/* ==== CoAP exchange ====================================================== */

static void
save_state(struct srv *v)
{
	kdc_err r;

	if (!v->d->changed)
		return;
	if ((r = kdcdev_host_ocf_save(v->d, v->o->state_file)) != KDC_OK)
		logf_(0, "state: cannot save %s: %s", v->o->state_file,
		    kdc_err_str(r));
	v->d->changed = false;
}

/* One request datagram to its answer (kdcdev_ocf_exchange), logged. */
static void
coap_exchange(struct srv *v, const uint8_t *in, size_t in_len,
    const struct kdcdev_ocf_peer *peer, struct kdcdev_ocf_block1 *b1,
    bool multicast, uint8_t *out, size_t *out_len)
{
	struct kdcdev_ocf_coap m;
	uint8_t code;

	kdcdev_ocf_exchange(v->d, in, in_len, peer, b1, multicast,
	    &v->next_mid, v->resp, sizeof(v->resp), out, out_len, &m, &code);
	if (code == 0 || *out_len == 0 || code == KDCDEV_CODE(2, 31))
		return;
	logf_(2, "%s %s%s%s from %s -> %u.%02u", m.code == 1 ? "GET" :
	    m.code == 2 ? "POST" : m.code == 3 ? "PUT" : "DELETE", m.path,
	    m.query[0] ? "?" : "", m.query,
	    peer->kind == KDCDEV_OCF_PEER_DOC ? "DOC" :
	    peer->kind == KDCDEV_OCF_PEER_AUTH ? "auth" : "unsecured",
	    code >> 5, code & 31u);
}

/* Duplicate detection for CONs (RFC 7252 §4.5): the cached answer. */
static bool
cache_hit(struct peer_cache *c, const struct sockaddr_storage *a,
    socklen_t al, const uint8_t *in, size_t len)
{
	uint16_t mid;

	if (len < 4 || (in[0] >> 4 & 3u) != 0 || !c->used)
		return false;
	mid = (uint16_t)(in[2] << 8 | in[3]);
	return c->mid == mid && addr_eq(&c->addr, c->alen, a, al);
}

static void
cache_put(struct peer_cache *c, const struct sockaddr_storage *a,
    socklen_t al, const uint8_t *in, size_t len, const uint8_t *resp,
    size_t rlen)
{
	if (len < 4 || (in[0] >> 4 & 3u) != 0 || rlen > sizeof(c->resp)) {
		c->used = false;
		return;
	}
	c->used = true;
	c->addr = *a;
	c->alen = al;
	c->mid = (uint16_t)(in[2] << 8 | in[3]);
	memcpy(c->resp, resp, rlen);
	c->resp_len = rlen;
}

static void
plain_datagram(struct srv *v, int fd, bool multicast)
{
	uint8_t in[DGRAM_MAX];
	struct sockaddr_storage a;
	socklen_t al = sizeof(a);
	struct kdcdev_ocf_peer peer;
	ssize_t n;
	size_t out_len = sizeof(v->out);

	n = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&a, &al);
	if (n <= 0)
		return;
	if (!multicast)
		for (size_t i = 0; i < PLAIN_CACHE; i++)
			if (cache_hit(&v->plain[i], &a, al, in, (size_t)n)) {
				sendto(fd, v->plain[i].resp,
				    v->plain[i].resp_len, 0,
				    (struct sockaddr *)&a, al);
				return;
			}
	memset(&peer, 0, sizeof(peer));
	peer.kind = KDCDEV_OCF_PEER_UNSECURED;
	if (!multicast && !(v->plain_b1.b.active &&
	    addr_eq(&v->plain_b1.addr, v->plain_b1.alen, &a, al))) {
		v->plain_b1.b.active = false;
		v->plain_b1.addr = a;
		v->plain_b1.alen = al;
	}
	coap_exchange(v, in, (size_t)n, &peer,
	    multicast ? NULL : &v->plain_b1.b, multicast, v->out, &out_len);
	if (out_len == 0)
		return;
	/* a multicast request is answered from our unicast CoAP socket when
	 * it has the family (its port is the one in our eps) */
	if (multicast && a.ss_family == AF_INET6 &&
	    v->coap_family == AF_INET6)
		fd = v->fd_coap;
	sendto(fd, v->out, out_len, 0, (struct sockaddr *)&a, al);
	if (!multicast) {
		cache_put(&v->plain[v->plain_next], &a, al, in, (size_t)n,
		    v->out, out_len);
		v->plain_next = (v->plain_next + 1) % PLAIN_CACHE;
	}
	save_state(v);
}

/* ==== DTLS =============================================================== */

static ssize_t
push_fn(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct sess *s = p;

	return sendto(ocf_srv_cur->fd_dtls, data, len, 0,
	    (struct sockaddr *)&s->addr, s->alen);
}

static ssize_t
pull_fn(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct sess *s = p;

	if (s->rx == NULL) {
		errno = EAGAIN;
		return -1;
	}
	if (len > s->rx_len)
		len = s->rx_len;
	memcpy(data, s->rx, len);
	s->rx = NULL;
	return (ssize_t)len;
}

static int
pull_timeout_fn(gnutls_transport_ptr_t p, unsigned ms)
{
	struct sess *s = p;

	(void)ms;
	return s->rx != NULL ? 1 : 0;
}

/* Cookie send (no state kept for the peer, RFC 6347 §4.2.1). */
struct cookie_dst {
	int			fd;
	struct sockaddr_storage	*a;
	socklen_t		al;
};

static ssize_t
cookie_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct cookie_dst *c = p;

	return sendto(c->fd, data, len, 0, (struct sockaddr *)c->a, c->al);
}

static int
psk_cb(gnutls_session_t session, const gnutls_datum_t *user,
    gnutls_datum_t *key)
{
	struct sess *s = gnutls_session_get_ptr(session);
	struct kdcdev_ocf *d = ocf_srv_cur->d;
	const uint8_t *psk;
	size_t len;

	if (s->doc) {
		uint8_t k[16];
		if (user->size != strlen(RDP_IDENTITY) ||
		    memcmp(user->data, RDP_IDENTITY, user->size) != 0 ||
		    d->doxm.oxmsel != KDC_OCF_OXM_RDP ||
		    kdcdev_ocf_rdp_psk(d, k) != KDC_OK)
			return -1;
		if ((key->data = gnutls_malloc(16)) == NULL)
			return -1;
		memcpy(key->data, k, 16);
		key->size = 16;
		kdc_wipe(k, sizeof(k));
		return 0;
	}
	if (user->size != 16 ||
	    kdcdev_ocf_psk_lookup(d, user->data, &psk, &len) != KDC_OK)
		return -1;
	if ((key->data = gnutls_malloc(len)) == NULL)
		return -1;
	memcpy(key->data, psk, len);
	key->size = (unsigned)len;
	memcpy(s->peer.uuid.b, user->data, 16);
	return 0;
}

static void
sess_free(struct srv *v, struct sess *s, bool alert)
{
	bool doc = s->doc && s->established;

	if (alert && s->established)
		gnutls_bye(s->s, GNUTLS_SHUT_WR);
	gnutls_deinit(s->s);
	if (s->psk != NULL)
		gnutls_psk_free_server_credentials(s->psk);
	if (s->idc != NULL)
		gnutls_certificate_free_credentials(s->idc);
	kdc_wipe(s, sizeof(*s));
	if (doc) {
		kdc_err r = kdcdev_ocf_doc_end(v->d);
		if (r != KDC_OK)
			logf_(0, "reset failed: %s", kdc_err_str(r));
		save_state(v);
		v->d->reset_done = false;
	}
}

static const char *const prio_rdp =
    "NONE:+VERS-DTLS1.2:+ECDHE-PSK:+AES-128-CBC:+SHA256:+SIGN-ALL:"
    "+COMP-NULL:+CURVE-SECP256R1:+CURVE-SECP384R1";
static const char *const prio_mfg =
    "NONE:+VERS-DTLS1.2:+ECDHE-ECDSA:+AES-128-CCM:+AES-128-CCM-8:"
    "+AES-256-CCM:+AES-256-CCM-8:+AEAD:+SIGN-ALL:+COMP-NULL:"
    "+CURVE-SECP256R1:+CURVE-SECP384R1:+CTYPE-SRV-X509";
static const char *const prio_owner_cert =
    "NONE:+VERS-DTLS1.2:+ECDHE-PSK:+PSK:+ECDHE-ECDSA:+AES-128-CBC:"
    "+AES-128-CCM:+AES-128-CCM-8:+SHA256:+AEAD:+SIGN-ALL:+COMP-NULL:"
    "+CURVE-SECP256R1:+CURVE-SECP384R1:+CTYPE-SRV-X509:+CTYPE-CLI-X509";
static const char *const prio_owner =
    "NONE:+VERS-DTLS1.2:+ECDHE-PSK:+PSK:+AES-128-CBC:+AES-128-CCM-8:"
    "+SHA256:+AEAD:+SIGN-ALL:+COMP-NULL:+CURVE-SECP256R1:+CURVE-SECP384R1";

/*
 * After RFOTM, with an identity certificate (cred credusage cert) and at
 * least one trust anchor (trustca): certificate credentials for
 * ECDHE-ECDSA sessions, the client's certificate required and checked
 * against the trust anchors. NULL when the device has none (PSK only).
 */
static gnutls_certificate_credentials_t
identity_creds(const struct kdcdev_ocf *d)
{
	gnutls_certificate_credentials_t c = NULL;
	gnutls_x509_privkey_t k = NULL;
	gnutls_x509_crt_t crt = NULL;
	const struct kdc_ocf_cred *id = NULL;
	size_t ncas = 0;
	bool ok = false;

	for (size_t i = 0; i < d->creds.n; i++) {
		const struct kdc_ocf_cred *cr = &d->creds.creds[i];
		if (cr->credtype != KDC_OCF_CREDTYPE_CERT)
			continue;
		if (cr->credusage == KDC_OCF_USAGE_CERT)
			id = cr;
		else if (cr->credusage == KDC_OCF_USAGE_TRUSTCA)
			ncas++;
	}
	if (id == NULL || ncas == 0 || d->key_len == 0)
		return NULL;
	if (gnutls_certificate_allocate_credentials(&c) < 0)
		return NULL;
	if (import_key(d->key, d->key_len, &k) == KDC_OK &&
	    gnutls_x509_crt_init(&crt) == 0) {
		gnutls_datum_t pem = {
			(unsigned char *)(uintptr_t)id->publicdata.data,
			(unsigned)id->publicdata.len };
		ok = gnutls_x509_crt_import(crt, &pem,
		    GNUTLS_X509_FMT_PEM) == 0 &&
		    gnutls_certificate_set_x509_key(c, &crt, 1, k) == 0;
	}
	for (size_t i = 0; ok && i < d->creds.n; i++) {
		const struct kdc_ocf_cred *cr = &d->creds.creds[i];
		gnutls_datum_t pem = {
			(unsigned char *)(uintptr_t)cr->publicdata.data,
			(unsigned)cr->publicdata.len };
		if (cr->credtype == KDC_OCF_CREDTYPE_CERT &&
		    cr->credusage == KDC_OCF_USAGE_TRUSTCA)
			ok = gnutls_certificate_set_x509_trust_mem(c, &pem,
			    GNUTLS_X509_FMT_PEM) >= 0;
	}
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (k != NULL)
		gnutls_x509_privkey_deinit(k);
	if (!ok) {
		gnutls_certificate_free_credentials(c);
		return NULL;
	}
	return c;
}

/* A certificate session's peer: the chain verified under the trust
 * anchors, its CN "uuid:<uuid>" the peer's uuid. */
static bool
cert_peer(struct sess *s)
{
	const gnutls_datum_t *chain;
	unsigned n = 0, status = 1;
	gnutls_x509_crt_t crt;
	char cn[64];
	size_t cnl = sizeof(cn);
	bool ok = false;

	if (gnutls_certificate_verify_peers2(s->s, &status) < 0 ||
	    status != 0 ||
	    (chain = gnutls_certificate_get_peers(s->s, &n)) == NULL ||
	    n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return false;
	if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
	    0, cn, &cnl) == 0 && cnl == 5 + KDC_OCF_UUID_TEXT &&
	    memcmp(cn, "uuid:", 5) == 0 &&
	    kdc_ocf_uuid_parse(cn + 5, KDC_OCF_UUID_TEXT, &s->peer.uuid) ==
	    KDC_OK)
		ok = true;
	gnutls_x509_crt_deinit(crt);
	return ok;
}

static struct sess *
sess_new(struct srv *v, const struct sockaddr_storage *a, socklen_t al,
    gnutls_dtls_prestate_st *pre)
{
	struct kdcdev_ocf *d = v->d;
	struct sess *s = NULL;
	char hint[17 + 16 + 1];
	const char *prio;
	int rc;

	for (size_t i = 0; i < SESSIONS_MAX; i++)
		if (!v->sess[i].used) {
			s = &v->sess[i];
			break;
		}
	if (s == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	if (d->pstat.dos_s == KDC_OCF_DOS_RFOTM) {
		/* only one DOC, never while oxmsel is 4. A DOC handshake that
		 * never finished (DTLS drops the records a wrong PIN's key
		 * cannot open, so it fails only at its timeout) gives way */
		for (size_t i = 0; i < SESSIONS_MAX; i++) {
			if (!v->sess[i].used || !v->sess[i].doc)
				continue;
			if (v->sess[i].established)
				return NULL;
			logf_(1, "DOC handshake unfinished: dropped for a new "
			    "one");
			sess_free(v, &v->sess[i], false);
		}
		if (!kdcdev_ocf_doc_allowed(d))
			return NULL;
		s->doc = true;
	}
	if (gnutls_init(&s->s, GNUTLS_SERVER | GNUTLS_DATAGRAM |
	    GNUTLS_NONBLOCK) < 0)
		return NULL;
	if (!s->doc)
		s->idc = identity_creds(d);
	prio = !s->doc ? (s->idc != NULL ? prio_owner_cert : prio_owner) :
	    d->doxm.oxmsel == KDC_OCF_OXM_RDP ?
	    prio_rdp : d->doxm.oxmsel == KDC_OCF_OXM_MFGCERT ? prio_mfg :
	    NULL;
	if (prio == NULL) {
		gnutls_deinit(s->s);
		if (s->idc != NULL)
			gnutls_certificate_free_credentials(s->idc);
		memset(s, 0, sizeof(*s));
		return NULL;
	}
	rc = gnutls_priority_set_direct(s->s, prio, NULL);
	if (rc == 0 && (!s->doc || d->doxm.oxmsel == KDC_OCF_OXM_RDP)) {
		rc = gnutls_psk_allocate_server_credentials(&s->psk);
		if (rc == 0) {
			gnutls_psk_set_server_credentials_function2(s->psk,
			    psk_cb);
			if (s->doc) {
				/* "oic.sec.doxm.rdp:" + raw uuid; GnuTLS takes
				 * the hint as a C string: a 0x00 in the uuid
				 * cuts it (clients do not use it) */
				memcpy(hint, RDP_IDENTITY ":", 17);
				memcpy(hint + 17, d->doxm.deviceuuid.b, 16);
				hint[33] = '\0';
				gnutls_psk_set_server_credentials_hint(s->psk,
				    hint);
			}
			rc = gnutls_credentials_set(s->s, GNUTLS_CRD_PSK,
			    s->psk);
		}
		if (rc == 0 && s->idc != NULL) {
			/* asked only under an ECDHE-ECDSA suite */
			rc = gnutls_credentials_set(s->s,
			    GNUTLS_CRD_CERTIFICATE, s->idc);
			gnutls_certificate_server_set_request(s->s,
			    GNUTLS_CERT_REQUIRE);
		}
	} else if (rc == 0) {
		rc = v->mfg != NULL ? gnutls_credentials_set(s->s,
		    GNUTLS_CRD_CERTIFICATE, v->mfg) : -1;
		gnutls_certificate_server_set_request(s->s, GNUTLS_CERT_IGNORE);
	}
	if (rc < 0) {
		gnutls_deinit(s->s);
		if (s->psk != NULL)
			gnutls_psk_free_server_credentials(s->psk);
		if (s->idc != NULL)
			gnutls_certificate_free_credentials(s->idc);
		memset(s, 0, sizeof(*s));
		return NULL;
	}
	s->used = true;
	s->addr = *a;
	s->alen = al;
	s->last_ms = now_ms();
	s->peer.kind = s->doc ? KDCDEV_OCF_PEER_DOC : KDCDEV_OCF_PEER_AUTH;
	gnutls_session_set_ptr(s->s, s);
	gnutls_transport_set_ptr(s->s, s);
	gnutls_transport_set_push_function(s->s, push_fn);
	gnutls_transport_set_pull_function(s->s, pull_fn);
	gnutls_transport_set_pull_timeout_function(s->s, pull_timeout_fn);
	gnutls_dtls_prestate_set(s->s, pre);
	gnutls_dtls_set_mtu(s->s, 1400);
	gnutls_dtls_set_timeouts(s->s, 1000, 10000);
	return s;
}

/* The key_block of ocf.md §2 after the DOC handshake. */
static void
doc_key_block(struct srv *v, struct sess *s)
{
	gnutls_datum_t cr, sr;
	uint8_t seed[64], kb[96];
	size_t n;

	switch (gnutls_cipher_get(s->s)) {
	case GNUTLS_CIPHER_AES_128_CBC:
		n = 96;
		break;
	case GNUTLS_CIPHER_AES_128_CCM:
	case GNUTLS_CIPHER_AES_128_CCM_8:
		n = 40;
		break;
	case GNUTLS_CIPHER_AES_256_CCM:
	case GNUTLS_CIPHER_AES_256_CCM_8:
		n = 72;
		break;
	default:
		n = 0;
		break;
	}
	gnutls_session_get_random(s->s, &cr, &sr);
	if (n > 0 && cr.size == 32 && sr.size == 32) {
		memcpy(seed, sr.data, 32);
		memcpy(seed + 32, cr.data, 32);
		if (gnutls_prf_raw(s->s, 13, "key expansion", 64,
		    (const char *)seed, n, (char *)kb) < 0)
			n = 0;
	} else {
		n = 0;
	}
	kdcdev_ocf_doc_begin(v->d, kb, n);
	kdc_wipe(kb, sizeof(kb));
}

static void
sess_input(struct srv *v, struct sess *s, const uint8_t *in, size_t len)
{
	uint8_t rec[DGRAM_MAX];
	int rc;

	s->rx = in;
	s->rx_len = len;
	s->last_ms = now_ms();
	if (!s->established) {
		rc = gnutls_handshake(s->s);
		if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
			return;
		if (rc < 0) {
			logf_(1, "DTLS handshake failed (%s): %s",
			    s->doc ? "DOC" : "owner/pairwise",
			    gnutls_strerror(rc));
			sess_free(v, s, false);
			return;
		}
		s->established = true;
		if (s->doc) {
			doc_key_block(v, s);
		} else if (gnutls_auth_get_type(s->s) ==
		    GNUTLS_CRD_CERTIFICATE && !cert_peer(s)) {
			logf_(1, "certificate session refused: the chain does "
			    "not verify under our trust anchors, or its CN is "
			    "not uuid:<uuid>");
			sess_free(v, s, true);
			return;
		} else {
			char u[KDC_OCF_UUID_TEXT + 1];
			kdc_ocf_uuid_format(&s->peer.uuid, u);
			logf_(0, "session from %s", u);
		}
		return;
	}
	for (;;) {
		size_t out_len = sizeof(v->out);
		ssize_t n = gnutls_record_recv(s->s, rec, sizeof(rec));

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return;
		if (n == 0 || (n < 0 && gnutls_error_is_fatal((int)n))) {
			sess_free(v, s, false);
			return;
		}
		if (n < 0)
			return;
		if (cache_hit(&s->cache, &s->addr, s->alen, rec, (size_t)n)) {
			gnutls_record_send(s->s, s->cache.resp,
			    s->cache.resp_len);
			continue;
		}
		coap_exchange(v, rec, (size_t)n, &s->peer, &s->b1, false,
		    v->out, &out_len);
		if (out_len > 0) {
			gnutls_record_send(s->s, v->out, out_len);
			cache_put(&s->cache, &s->addr, s->alen, rec,
			    (size_t)n, v->out, out_len);
		}
		kdc_wipe(rec, (size_t)n);
		save_state(v);
		if (s->doc && v->o->close_doc_after > 0 &&
		    ++s->doc_requests >= v->o->close_doc_after) {
			logf_(0, "fault: the DOC closed after %u requests",
			    s->doc_requests);
			sess_free(v, s, true);
			return;
		}
		if (v->d->reset_done) {
			/* a hard reset ends every session (the DOC too:
			 * doc_end finds no DOC left) */
			v->d->reset_done = false;
			for (size_t i = 0; i < SESSIONS_MAX; i++)
				if (v->sess[i].used)
					sess_free(v, &v->sess[i], true);
			return;
		}
	}
}

static void
dtls_datagram(struct srv *v)
{
	uint8_t in[DGRAM_MAX];
	struct sockaddr_storage a;
	socklen_t al = sizeof(a);
	gnutls_dtls_prestate_st pre;
	struct cookie_dst cd;
	ssize_t n;
	struct sess *s;

	n = recvfrom(v->fd_dtls, in, sizeof(in), 0, (struct sockaddr *)&a, &al);
	if (n <= 0)
		return;
	for (size_t i = 0; i < SESSIONS_MAX; i++)
		if (v->sess[i].used &&
		    addr_eq(&v->sess[i].addr, v->sess[i].alen, &a, al)) {
			sess_input(v, &v->sess[i], in, (size_t)n);
			return;
		}
	memset(&pre, 0, sizeof(pre));
	if (gnutls_dtls_cookie_verify(&v->cookie_key, &a, al, in, (size_t)n,
	    &pre) < 0) {
		cd.fd = v->fd_dtls;
		cd.a = &a;
		cd.al = al;
		gnutls_dtls_cookie_send(&v->cookie_key, &a, al, &pre, &cd,
		    cookie_push);
		return;
	}
	if ((s = sess_new(v, &a, al, &pre)) == NULL) {
		logf_(1, "DTLS ClientHello refused (%s)",
		    v->d->pstat.dos_s == KDC_OCF_DOS_RFOTM ?
		    "RFOTM: no DOC possible now (oxmsel 4, a DOC open, or "
		    "no PIN)" : "session table full");
		return;
	}
	sess_input(v, s, in, (size_t)n);
}

static void
dtls_timers(struct srv *v)
{
	int64_t now = now_ms();

	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		struct sess *s = &v->sess[i];
		if (!s->used)
			continue;
		if (now - s->last_ms > IDLE_MS) {
			logf_(1, "session idle: closed");
			sess_free(v, s, true);
			continue;
		}
		if (!s->established && gnutls_dtls_get_timeout(s->s) == 0) {
			int rc = gnutls_handshake(s->s);
			if (rc < 0 && rc != GNUTLS_E_AGAIN &&
			    rc != GNUTLS_E_INTERRUPTED) {
				logf_(1, "DTLS handshake failed: %s",
				    gnutls_strerror(rc));
				sess_free(v, s, false);
			}
		}
	}
}

kdc_err
kdcdev_host_ocf_serve(const struct kdcdev_host_ocf_opts *o)
{
	static struct srv v;
	static struct kdcdev_ocf d;
	struct sockaddr_storage ss;
	socklen_t sl;
	char uuid[KDC_OCF_UUID_TEXT + 1], where[160];
	kdc_err r;

	host_ocf_verbosity = o->verbose;
	memset(&v, 0, sizeof(v));
	v.fd_coap = v.fd_dtls = v.fd_mc6 = v.fd_mc4 = -1;
	v.d = &d;
	v.o = o;
	ocf_srv_cur = &v;
	if (o->state_file == NULL || (o->pin_file == NULL &&
	    o->mfg_cert == NULL) || (o->mfg_cert != NULL) != (o->mfg_key != NULL))
		return KDC_ERR_INVALID_ARG;
	if ((r = dev_open(&d, o)) != KDC_OK) {
		logf_(0, "state %s: %s", o->state_file, kdc_err_str(r));
		return r;
	}
	if (o->mfg_cert != NULL) {
		if (gnutls_certificate_allocate_credentials(&v.mfg) < 0 ||
		    gnutls_certificate_set_x509_key_file(v.mfg, o->mfg_cert,
		    o->mfg_key, GNUTLS_X509_FMT_PEM) < 0) {
			logf_(0, "cannot load the manufacturer certificate");
			r = KDC_ERR_TLS;
			goto out;
		}
	}
	gnutls_rnd(GNUTLS_RND_NONCE, &v.next_mid, sizeof(v.next_mid));
	if (gnutls_key_generate(&v.cookie_key, GNUTLS_COOKIE_KEY_SIZE) < 0) {
		r = KDC_ERR_CRYPTO;
		goto out;
	}
	r = KDC_ERR_IO;
	if (parse_addr(o->addr, o->port, &ss, &sl) != KDC_OK) {
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	if ((v.fd_coap = bind_udp(&ss, sl, false)) < 0)
		goto out;
	v.coap_family = ss.ss_family;
	parse_addr(o->addr, o->sport, &ss, &sl);
	if ((v.fd_dtls = bind_udp(&ss, sl, false)) < 0)
		goto out;
	if (o->iface != NULL)
		open_multicast(&v, o->iface);
	pick_ep_host(&d, o->addr, o->iface);
	d.coap_port = bound_port(v.fd_coap);
	d.coaps_port = bound_port(v.fd_dtls);
	kdc_ocf_uuid_format(&d.doxm.deviceuuid, uuid);
	snprintf(where, sizeof(where), "uuid=%s coap=%u coaps=%u", uuid,
	    d.coap_port, d.coaps_port);
	if (o->ready != NULL)
		o->ready(o->ready_arg, where);
	r = KDC_OK;
	while (o->stop == NULL || !*o->stop) {
		struct pollfd p[4];
		int np = 0, rc;
		int fds[4] = { v.fd_coap, v.fd_dtls, v.fd_mc6, v.fd_mc4 };

		for (int i = 0; i < 4; i++) {
			p[i].fd = fds[i];
			p[i].events = POLLIN;
			p[i].revents = 0;
			np++;
		}
		rc = poll(p, (nfds_t)np, 200);
		if (rc < 0 && errno != EINTR) {
			r = KDC_ERR_IO;
			break;
		}
		if (rc > 0) {
			if (p[0].revents & POLLIN)
				plain_datagram(&v, v.fd_coap, false);
			if (p[1].revents & POLLIN)
				dtls_datagram(&v);
			if (p[2].revents & POLLIN)
				plain_datagram(&v, v.fd_mc6, true);
			if (p[3].revents & POLLIN)
				plain_datagram(&v, v.fd_mc4, true);
		}
		dtls_timers(&v);
	}
out:
	for (size_t i = 0; i < SESSIONS_MAX; i++)
		if (v.sess[i].used)
			sess_free(&v, &v.sess[i], true);
	save_state(&v);
	if (v.mfg != NULL)
		gnutls_certificate_free_credentials(v.mfg);
	if (v.cookie_key.data != NULL)
		gnutls_free(v.cookie_key.data);
	for (int i = 0; i < 4; i++) {
		int fd = i == 0 ? v.fd_coap : i == 1 ? v.fd_dtls :
		    i == 2 ? v.fd_mc6 : v.fd_mc4;
		if (fd >= 0)
			close(fd);
	}
	kdc_wipe(&d, sizeof(d));
	return r;
}

/* ==== client: ocf-get / ocf-post ========================================= */

kdc_err
kdcdev_host_ocf_request(const char *state_file, const char *peer,
    const char *peer_uuid, uint8_t method, const char *path,
    const uint8_t *payload, size_t payload_len, uint8_t *code, uint8_t *out,
    size_t *out_len, unsigned timeout_ms)
{
	static struct kdcdev_ocf d;
	struct kdcdev_host_ocf_opts o;
	struct kdc_ocf_uuid pu;
	gnutls_psk_client_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	gnutls_datum_t user, key;
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[64];
	const char *colon;
	const uint8_t *psk;
	size_t psk_len, hl;
	int fd = -1, rc;
	uint8_t req[DGRAM_MAX], rec[DGRAM_MAX], token[4];
	size_t req_len = sizeof(req);
	struct kdcdev_ocf_coap_out q;
	struct kdcdev_ocf_coap m;
	kdc_err r;
	long port;

	if (access(state_file, R_OK) != 0)
		return KDC_ERR_NOT_FOUND;
	memset(&o, 0, sizeof(o));
	o.state_file = state_file;
	o.pin_file = "/dev/null";
	if ((r = dev_open(&d, &o)) != KDC_OK)
		return r;
	if (kdc_ocf_uuid_parse(peer_uuid, strlen(peer_uuid), &pu) != KDC_OK) {
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	if (kdcdev_ocf_psk_lookup(&d, pu.b, &psk, &psk_len) != KDC_OK) {
		r = KDC_ERR_NOT_FOUND;
		goto out;
	}
	/* ADDR:PORT, [v6]:PORT */
	colon = strrchr(peer, ':');
	if (colon == NULL) {
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	hl = (size_t)(colon - peer);
	if (peer[0] == '[' && hl >= 2 && peer[hl - 1] == ']') {
		peer++;
		hl -= 2;
	}
	port = strtol(colon + 1, NULL, 10);
	if (hl >= sizeof(host) || port <= 0 || port > 65535) {
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	memcpy(host, peer, hl);
	host[hl] = '\0';
	if ((r = parse_addr(host, (uint16_t)port, &ss, &sl)) != KDC_OK)
		goto out;
	r = KDC_ERR_IO;
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&ss, sl) < 0)
		goto out;
	r = KDC_ERR_TLS;
	user.data = d.doxm.deviceuuid.b;
	user.size = 16;
	key.data = (unsigned char *)(uintptr_t)psk;
	key.size = (unsigned)psk_len;
	if (gnutls_psk_allocate_client_credentials(&cred) < 0 ||
	    gnutls_psk_set_client_credentials2(cred, &user, &key,
	    GNUTLS_PSK_KEY_RAW) < 0 ||
	    gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_DATAGRAM) < 0 ||
	    gnutls_priority_set_direct(s, prio_owner, NULL) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred) < 0)
		goto out;
	gnutls_transport_set_int(s, fd);
	gnutls_dtls_set_mtu(s, 1400);
	gnutls_dtls_set_timeouts(s, 1000, timeout_ms);
	gnutls_handshake_set_timeout(s, timeout_ms);
	do {
		rc = gnutls_handshake(s);
	} while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
	if (rc < 0) {
		fprintf(stderr, "ocf: handshake: %s\n", gnutls_strerror(rc));
		goto out;
	}
	gnutls_record_set_timeout(s, 2000);
	gnutls_rnd(GNUTLS_RND_NONCE, token, sizeof(token));
	memset(&q, 0, sizeof(q));
	q.type = 0;
	q.code = method;
	q.mid = (uint16_t)(token[0] << 8 | token[1]);
	q.token = token;
	q.tkl = sizeof(token);
	q.path = path;
	q.query = "";
	q.content_format = payload_len > 0 ? KDCDEV_OCF_CF : -1;
	q.ocf_version = true;
	q.block1_szx = q.block2_szx = -1;
	q.payload = payload;
	q.payload_len = payload_len;
	if ((r = kdcdev_ocf_coap_build(&q, req, &req_len)) != KDC_OK)
		goto out;
	r = KDC_ERR_TIMEOUT;
	for (int tries = 0; tries < 4; tries++) {
		ssize_t n;
		if (gnutls_record_send(s, req, req_len) < 0) {
			r = KDC_ERR_IO;
			goto out;
		}
		for (;;) {
			n = gnutls_record_recv(s, rec, sizeof(rec));
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED ||
			    n == GNUTLS_E_TIMEDOUT || n <= 0)
				break;
			if (kdcdev_ocf_coap_parse(rec, (size_t)n, &m) !=
			    KDC_OK || m.mid != q.mid || m.tkl != 4 ||
			    memcmp(m.token, token, 4) != 0)
				continue;
			*code = m.code;
			if (m.payload_len > *out_len)
				m.payload_len = *out_len;
			if (m.payload_len > 0)
				memcpy(out, m.payload, m.payload_len);
			*out_len = m.payload_len;
			r = KDC_OK;
			gnutls_bye(s, GNUTLS_SHUT_WR);
			goto out;
		}
		if (n == 0 || (n < 0 && n != GNUTLS_E_AGAIN &&
		    n != GNUTLS_E_INTERRUPTED && n != GNUTLS_E_TIMEDOUT)) {
			r = KDC_ERR_CLOSED;
			goto out;
		}
	}
out:
	if (s != NULL)
		gnutls_deinit(s);
	if (cred != NULL)
		gnutls_psk_free_client_credentials(cred);
	if (fd >= 0)
		close(fd);
	kdc_wipe(&d, sizeof(d));
	return r;
}
