/*
 * dnssd.c: DNS-SD introduction of the Thing Directory through
 * avahi-daemon (dnssd.h). Everything after kdc_dnssd_start() runs on the
 * AvahiThreadedPoll's thread, with its lock held: the client and entry
 * group callbacks and the retry timer. The state they share lives in
 * struct kdc_dnssd, touched by the caller only before the thread starts
 * and after it stopped.
 *
 * What Avahi does for us and what it does not (docs/traps.md):
 * AVAHI_CLIENT_NO_FAIL makes avahi_client_new() wait for a daemon that
 * is not on the bus yet (state CONNECTING, then S_RUNNING when it
 * appears), but it still fails at once when there is no D-Bus system bus
 * at all; and a daemon that goes away ends the client (FAILURE,
 * AVAHI_ERR_DISCONNECTED) for good. So: no bus -> a timer retries every
 * KDC_DNSSD_RETRY_MS; disconnected -> a new client at once (it waits in
 * CONNECTING for the daemon to come back).
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/thread-watch.h>
#include <avahi-common/timeval.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/utf8.h"
#include "tdd/dnssd.h"

#define SERVICE_TYPE	"_wot._tcp"
#define SUBTYPE		"_directory._sub._wot._tcp"
/* Rename on a collision at most this often in a row (Avahi's
 * alternative names are "name #2", "#3", ...): a peer that claims every
 * name we pick must not keep us renaming for ever. */
#define RENAMES_MAX	32

struct kdc_dnssd {
	AvahiThreadedPoll	*poll;
	const AvahiPoll		*api;
	AvahiClient		*client;	/* NULL: none (no bus) */
	AvahiEntryGroup		*group;
	AvahiTimeout		*retry;		/* armed while no client */
	AvahiIfIndex		 ifindex;
	AvahiProtocol		 proto;
	uint16_t		 port;
	bool			 started;	/* the poll thread runs */
	bool			 absent;	/* "no avahi-daemon" said */
	unsigned		 renames;
	char			 ifname[IF_NAMESIZE];
	char			 name[KDC_DNSSD_NAME_MAX + 1];
	char			 txt_td[KDC_DNSSD_TXT_MAX + 1];
	char			 txt_type[sizeof("type=Directory")];
	char			 txt_scheme[KDC_DNSSD_TXT_MAX + 1];
};

static void	client_cb(AvahiClient *, AvahiClientState, void *);
static void	retry_cb(AvahiTimeout *, void *);

static const char *
where(const struct kdc_dnssd *d)
{
	return d->ifname[0] != '\0' ? d->ifname : "every interface";
}

/* The name as a log field: a host name is ours, but quote it safely. */
static const char *
name_esc(const struct kdc_dnssd *d, char *buf, size_t len)
{
	return kdc_log_escape(d->name, strlen(d->name), buf, len);
}

/* Once per absence of the daemon (or of the bus): one info line. */
static void
note_absent(struct kdc_dnssd *d, const char *why)
{
	if (d->absent)
		return;
	d->absent = true;
	kdc_log_info("dns-sd: no avahi-daemon; not advertised (%s); "
	    "publishes when one starts", why);
}

static void
retry_arm(struct kdc_dnssd *d)
{
	struct timeval tv;

	avahi_elapse_time(&tv, KDC_DNSSD_RETRY_MS, 0);
	if (d->retry != NULL)
		d->api->timeout_update(d->retry, &tv);
	else if ((d->retry = d->api->timeout_new(d->api, &tv, retry_cb, d)) ==
	    NULL)
		kdc_log_warn("dns-sd: out of memory: no retry; not advertised");
}

/*
 * A new client. KDC_OK also when it waits for a daemon or, with no bus,
 * the retry timer is armed; KDC_ERR_NOMEM otherwise.
 */
static kdc_err
connect_client(struct kdc_dnssd *d)
{
	AvahiClient *c;
	int err = 0;

	c = avahi_client_new(d->api, AVAHI_CLIENT_NO_FAIL, client_cb, d, &err);
	if (c == NULL) {
		if (err == AVAHI_ERR_NO_MEMORY)
			return KDC_ERR_NOMEM;
		/* NO_FAIL waits for the daemon, not for the bus */
		note_absent(d, err == AVAHI_ERR_NO_DAEMON ? "no D-Bus system "
		    "bus" : avahi_strerror(err));
		retry_arm(d);
		return d->retry != NULL ? KDC_OK : KDC_ERR_NOMEM;
	}
	d->client = c;
	if (avahi_client_get_state(c) == AVAHI_CLIENT_FAILURE) {
		/* failed inside avahi_client_new(): client_cb left it */
		note_absent(d, avahi_strerror(avahi_client_errno(c)));
		avahi_client_free(c);
		d->client = NULL;
		d->group = NULL;
		retry_arm(d);
		return d->retry != NULL ? KDC_OK : KDC_ERR_NOMEM;
	}
	return KDC_OK;
}

static void
retry_cb(AvahiTimeout *t, void *arg)
{
	struct kdc_dnssd *d = arg;

	(void)t;
	d->api->timeout_update(d->retry, NULL);		/* disarm */
	kdc_log_debug("dns-sd: trying the system bus again");
	if (d->client == NULL && connect_client(d) != KDC_OK)
		kdc_log_warn("dns-sd: out of memory: no retry; not advertised");
}

/* Avahi's alternative for a name some other host holds ("x #2"). */
static bool
rename_alt(struct kdc_dnssd *d)
{
	char *alt, esc[2 * KDC_DNSSD_NAME_MAX + 8];
	size_t n;

	if (++d->renames > RENAMES_MAX) {
		kdc_log_warn("dns-sd: %u names taken in a row; not advertised",
		    RENAMES_MAX);
		return false;
	}
	if ((alt = avahi_alternative_service_name(d->name)) == NULL)
		return false;
	n = strlen(alt);
	if (n > KDC_DNSSD_NAME_MAX || !avahi_is_valid_service_name(alt)) {
		avahi_free(alt);
		return false;
	}
	memcpy(d->name, alt, n + 1);
	avahi_free(alt);
	kdc_log_info("dns-sd: name taken; now \"%s\"",
	    name_esc(d, esc, sizeof(esc)));
	return true;
}

static void	publish(struct kdc_dnssd *d, AvahiClient *c);

static void
group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *arg)
{
	struct kdc_dnssd *d = arg;
	char esc[2 * KDC_DNSSD_NAME_MAX + 8];

	kdc_log_debug("dns-sd: entry group state=%d", (int)state);
	switch (state) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		d->renames = 0;
		kdc_log_info("dns-sd: published \"%s\" %s port=%u on %s "
		    "(%s %s %s)", name_esc(d, esc, sizeof(esc)), SUBTYPE,
		    d->port, where(d), d->txt_td, d->txt_type, d->txt_scheme);
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		/* another host holds the name: take the alternative */
		avahi_entry_group_reset(g);
		if (rename_alt(d))
			publish(d, avahi_entry_group_get_client(g));
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		kdc_log_warn("dns-sd: not advertised: %s", avahi_strerror(
		    avahi_client_errno(avahi_entry_group_get_client(g))));
		break;
	case AVAHI_ENTRY_GROUP_UNCOMMITED:
	case AVAHI_ENTRY_GROUP_REGISTERING:
		break;
	}
}

/* Add the service, its subtype and the TXT entries; commit. */
static void
publish(struct kdc_dnssd *d, AvahiClient *c)
{
	int r;

	if (d->group == NULL &&
	    (d->group = avahi_entry_group_new(c, group_cb, d)) == NULL) {
		kdc_log_warn("dns-sd: not advertised: %s",
		    avahi_strerror(avahi_client_errno(c)));
		return;
	}
	if (!avahi_entry_group_is_empty(d->group))
		return;		/* published, or on its way */
	for (;;) {
		r = avahi_entry_group_add_service(d->group, d->ifindex,
		    d->proto, 0, d->name, SERVICE_TYPE, NULL, NULL, d->port,
		    d->txt_td, d->txt_type, d->txt_scheme, NULL);
		if (r != AVAHI_ERR_COLLISION)
			break;
		/* a local service holds the name already */
		if (!rename_alt(d))
			return;
	}
	if (r == AVAHI_OK)
		r = avahi_entry_group_add_service_subtype(d->group, d->ifindex,
		    d->proto, 0, d->name, SERVICE_TYPE, NULL, SUBTYPE);
	if (r == AVAHI_OK)
		r = avahi_entry_group_commit(d->group);
	if (r != AVAHI_OK) {
		kdc_log_warn("dns-sd: not advertised: %s", avahi_strerror(r));
		avahi_entry_group_reset(d->group);
	}
}

static void
client_cb(AvahiClient *c, AvahiClientState state, void *arg)
{
	struct kdc_dnssd *d = arg;
	int err;

	kdc_log_debug("dns-sd: client state=%d", (int)state);
	switch (state) {
	case AVAHI_CLIENT_S_RUNNING:
		if (d->absent)
			kdc_log_info("dns-sd: avahi-daemon is there");
		d->absent = false;
		publish(d, c);
		break;
	case AVAHI_CLIENT_S_COLLISION:
	case AVAHI_CLIENT_S_REGISTERING:
		/* the daemon's host name changes: our records wait for it
		 * (S_RUNNING publishes them again) */
		if (d->group != NULL)
			avahi_entry_group_reset(d->group);
		break;
	case AVAHI_CLIENT_CONNECTING:
		note_absent(d, "avahi-daemon not on the bus");
		break;
	case AVAHI_CLIENT_FAILURE:
		if (d->client != c)
			break;		/* inside avahi_client_new() */
		err = avahi_client_errno(c);
		/* frees the group too; the daemon dropped our records */
		avahi_client_free(c);
		d->client = NULL;
		d->group = NULL;
		if (err == AVAHI_ERR_DISCONNECTED) {
			kdc_log_info("dns-sd: avahi-daemon gone; publishes "
			    "again when it is back");
			d->absent = true;
			if (connect_client(d) != KDC_OK)
				kdc_log_warn("dns-sd: out of memory; not "
				    "advertised");
		} else {
			kdc_log_warn("dns-sd: avahi client failed: %s; "
			    "retrying", avahi_strerror(err));
			retry_arm(d);
		}
		break;
	}
}

/*
 * The interface that holds address, and its family: *ifindex stays
 * AVAHI_IF_UNSPEC for a wildcard. KDC_ERR_INVALID_ARG: not a literal, or
 * no interface holds it.
 */
static kdc_err
address_iface(struct kdc_dnssd *d, const char *address)
{
	struct ifaddrs *ifa = NULL, *i;
	unsigned char a[sizeof(struct in6_addr)];
	kdc_err r = KDC_ERR_INVALID_ARG;
	int af;

	d->ifindex = AVAHI_IF_UNSPEC;
	d->proto = AVAHI_PROTO_UNSPEC;
	if (address == NULL)
		return KDC_OK;
	if (inet_pton(AF_INET, address, a) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, address, a) == 1)
		af = AF_INET6;
	else
		return KDC_ERR_INVALID_ARG;
	if ((af == AF_INET && memcmp(a, "\0\0\0\0", 4) == 0) ||
	    (af == AF_INET6 && memcmp(a, &in6addr_any, 16) == 0))
		return KDC_OK;
	if (getifaddrs(&ifa) != 0)
		return KDC_ERR_IO;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		const void *p;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != af)
			continue;
		p = af == AF_INET ?
		    (const void *)&((struct sockaddr_in *)(void *)
		    i->ifa_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)(void *)
		    i->ifa_addr)->sin6_addr;
		if (memcmp(p, a, af == AF_INET ? 4 : 16) != 0)
			continue;
		if (strlen(i->ifa_name) >= sizeof(d->ifname) ||
		    (d->ifindex = (AvahiIfIndex)if_nametoindex(i->ifa_name)) ==
		    0)
			break;
		memcpy(d->ifname, i->ifa_name, strlen(i->ifa_name) + 1);
		d->proto = af == AF_INET ? AVAHI_PROTO_INET : AVAHI_PROTO_INET6;
		r = KDC_OK;
		break;
	}
	freeifaddrs(ifa);
	return r;
}

/* "iotkdc on <hostname>", cut to one label at a UTF-8 boundary. */
static void
default_name(char *out, size_t cap)
{
	static const char prefix[] = "iotkdc on ";
	char host[256];
	size_t n, h;

	if (cap < sizeof(prefix))
		return;
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	/* cut by hand: snprintf's truncation is a -Wformat-truncation error */
	memcpy(out, prefix, sizeof(prefix) - 1);
	n = sizeof(prefix) - 1;
	h = strlen(host);
	if (h > cap - 1 - n)
		h = cap - 1 - n;
	memcpy(out + n, host, h);
	n += h;
	out[n] = '\0';
	while (n > 0 && !kdc_utf8_valid((const uint8_t *)out, n))
		out[--n] = '\0';
}

static kdc_err
txt_set(char *out, size_t cap, const char *key, const char *val)
{
	int n = snprintf(out, cap, "%s=%s", key, val);

	return n < 0 || (size_t)n >= cap ? KDC_ERR_INVALID_ARG : KDC_OK;
}

kdc_err
kdc_dnssd_start(const char *name, const char *address, uint16_t port,
    const char *td_path, const char *scheme, struct kdc_dnssd **out)
{
	struct kdc_dnssd *d = NULL;
	kdc_err r = KDC_ERR_INVALID_ARG;

	if (out == NULL)
		return KDC_ERR_INVALID_ARG;
	*out = NULL;
	if (port == 0 || td_path == NULL || td_path[0] != '/' ||
	    scheme == NULL || scheme[0] == '\0')
		return KDC_ERR_INVALID_ARG;
	if (name != NULL && (strlen(name) > KDC_DNSSD_NAME_MAX ||
	    !kdc_utf8_valid((const uint8_t *)name, strlen(name)) ||
	    !avahi_is_valid_service_name(name)))
		return KDC_ERR_INVALID_ARG;
	if ((d = kdc_calloc(1, sizeof(*d))) == NULL)
		return KDC_ERR_NOMEM;
	d->port = port;
	if ((r = txt_set(d->txt_td, sizeof(d->txt_td), "td", td_path)) !=
	    KDC_OK ||
	    (r = txt_set(d->txt_scheme, sizeof(d->txt_scheme), "scheme",
	    scheme)) != KDC_OK ||
	    (r = txt_set(d->txt_type, sizeof(d->txt_type), "type",
	    "Directory")) != KDC_OK ||
	    (r = address_iface(d, address)) != KDC_OK)
		goto out;
	if (name != NULL)
		memcpy(d->name, name, strlen(name) + 1);
	else
		default_name(d->name, sizeof(d->name));
	if ((d->poll = avahi_threaded_poll_new()) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	d->api = avahi_threaded_poll_get(d->poll);
	/* before the thread runs: the callbacks of this call run here */
	if ((r = connect_client(d)) != KDC_OK)
		goto out;
	if (avahi_threaded_poll_start(d->poll) < 0) {
		r = KDC_ERR_IO;
		goto out;
	}
	d->started = true;
	*out = d;
	d = NULL;
	r = KDC_OK;
out:
	kdc_dnssd_stop(d);
	return r;
}

void
kdc_dnssd_stop(struct kdc_dnssd *d)
{
	if (d == NULL)
		return;
	if (d->started)
		avahi_threaded_poll_stop(d->poll);
	/* the thread is gone: no callback runs from here on */
	if (d->group != NULL) {
		/* withdraws the records (goodbye packets) before the
		 * client's bus closes */
		avahi_entry_group_free(d->group);
		d->group = NULL;
	}
	if (d->client != NULL)
		avahi_client_free(d->client);
	if (d->retry != NULL)
		d->api->timeout_free(d->retry);
	if (d->poll != NULL)
		avahi_threaded_poll_free(d->poll);
	kdc_free(d);
}
