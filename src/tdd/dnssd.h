/*
 * dnssd.h: the Thing Directory introduced by DNS-SD (WoT Discovery
 * 6.4.1.3, RFC 6763 over mDNS): service _wot._tcp with subtype
 * _directory._sub._wot._tcp, TXT td=<path of the directory's TD>,
 * type=Directory, scheme=<scheme>, published through the system's
 * avahi-daemon (libavahi-client, over the D-Bus system bus).
 *
 * A thread of its own (AvahiThreadedPoll) follows the daemon: a daemon
 * that starts after us, restarts, or a system bus that appears late is
 * picked up and the service published again; a name another host holds
 * is replaced by Avahi's alternative ("name #2"). Every event is one log
 * line ("dns-sd: ..."), never an error of the caller: DNS-SD is a
 * convenience, the directory serves without it.
 */
#ifndef KDC_DNSSD_H
#define KDC_DNSSD_H

#include <stdint.h>

#include "base/err.h"

/* A DNS-SD instance name is one DNS label: at most 63 bytes. */
#define KDC_DNSSD_NAME_MAX	63
/* A TXT entry ("key=value") is at most 255 bytes (RFC 6763 6.1). */
#define KDC_DNSSD_TXT_MAX	255

struct kdc_dnssd;

/*
 * Publish instance name (NULL: "iotkdc on <hostname>", cut to 63 bytes)
 * for a directory on TCP port, TXT td=<td_path>, type=Directory,
 * scheme=<scheme>. address is the listener's address literal: NULL or a
 * wildcard (0.0.0.0, ::) publishes on every interface, any other address
 * only on the interface that holds it and in its family (a listener on
 * 127.0.0.1 is advertised on lo alone: a LAN peer would find a port it
 * cannot reach).
 *
 * Returns KDC_OK and a handle even when no avahi-daemon (or no D-Bus
 * system bus) runs: it then logs one info line ("dns-sd: no
 * avahi-daemon; not advertised ...") and publishes when one appears.
 * KDC_ERR_INVALID_ARG: port 0, td_path not starting with '/', an empty
 * scheme, a TXT entry over 255 bytes, a name over 63 bytes or not valid
 * UTF-8, an address that is not a literal or that no interface holds.
 * KDC_ERR_NOMEM. KDC_ERR_IO: the thread could not start.
 */
kdc_err	kdc_dnssd_start(const char *name, const char *address, uint16_t port,
	    const char *td_path, const char *scheme, struct kdc_dnssd **out);
/* Unpublish (the daemon withdraws the records at once) and free. NULL-safe.
 * Not from a callback of its own thread (there are none outside). */
void	kdc_dnssd_stop(struct kdc_dnssd *d);

#endif
