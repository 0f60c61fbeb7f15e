/*
 * revoke.h: revocation: the CRLs the user gave and the OCSP response the
 * server stapled, each used only once its signature verifies.
 */
#ifndef TP_REVOKE_H
#define TP_REVOKE_H

#include <gnutls/x509.h>

#include "clock.h"
#include "config.h"
#include "result.h"

/* A chain to judge: parsed, with its facts, and how it came. */
struct tp_chain_in {
	gnutls_x509_crt_t *certs;
	const struct tp_chain_facts *facts;
	bool from_file;                     /* a file's chain (cert, ca check), not a server's */
	bool handshake;                     /* it came in a TLS handshake tlsprobe made */
	const gnutls_datum_t *ocsp;         /* the OCSP response stapled to it, or NULL */
	const struct tp_deadline *deadline; /* online checks within it; NULL: none */
	struct tp_revocation *rev;          /* one per certificate: how its revocation was checked */
};

/* Name the revoked certificates and judge the stapled OCSP response into
 * ocsp; path lists certs from the leaf up to where the chain stops. */
void tp_revoke_check(struct tp_ocsp_info *ocsp, struct tp_findings *f, const struct tp_config *cfg,
		     const struct tp_chain_in *in, const size_t *path, size_t len, time_t now);

#endif
