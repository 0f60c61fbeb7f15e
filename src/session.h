/*
 * session.h: the GnuTLS client session: one handshake on a connected
 * socket within the deadline, what it negotiated, and why it failed.
 */
#ifndef TP_SESSION_H
#define TP_SESSION_H

#include <gnutls/gnutls.h>

#include "clock.h"
#include "config.h"
#include "result.h"

/* What one handshake needs besides the config, and learns besides the TLS facts. */
struct tp_handshake {
	const char *sni;              /* the server name to send, or NULL */
	gnutls_priority_t prio;       /* what to offer; NULL: the config's */
	double connect_ms;            /* how long connecting took: sizes the wait for a late alert */
	double handshake_ms;          /* out, negative until the handshake was tried */
	bool offer_refused;           /* out: the server rejected the offer, worth a second look */
	const gnutls_datum_t *resume; /* an earlier session's data (tp_session_ticket) to resume, or NULL */
	const gnutls_datum_t *early;  /* with resume in TLS 1.3: sent as 0-RTT data, or NULL */
	const char *alpn;             /* offer this one ALPN protocol instead of the config's, or NULL */
};

/* Handshake over fd; on success fills tls and returns the session (free it
 * with tp_session_free); NULL with the error in f. */
gnutls_session_t tp_session_handshake(struct tp_handshake *h, struct tp_tls_facts *tls, const struct tp_config *cfg,
				      int fd, const struct tp_deadline *d, struct tp_findings *f);
void tp_session_free(gnutls_session_t s);
/* What resumes session s later, into out (free with gnutls_free): in TLS
 * 1.3, after waiting up to wait_ms (within d) for the server's ticket,
 * which comes after the handshake. 0, or -1 when there is nothing to resume. */
int tp_session_ticket(gnutls_session_t s, int fd, const struct tp_deadline *d, int wait_ms, gnutls_datum_t *out);
/* "TLSv1.3", as openssl and curl write it. */
const char *tp_version_name(gnutls_protocol_t v);

#endif
