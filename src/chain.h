/*
 * chain.h: the facts of certificates, read with GnuTLS's X.509 API, and the
 * relations between two (is this one the other's issuer).
 */
#ifndef TP_CHAIN_H
#define TP_CHAIN_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "result.h"

/*
 * Parse ders[0..n) (at most TP_MAX_CERTS of them) into *certs (deinit each,
 * free the array) and their facts into out, judged at now. 0, or -1 with
 * the error in f; what was read before the failure stays in out and *certs.
 */
int tp_chain_read(struct tp_chain_facts *out, gnutls_x509_crt_t **certs, const gnutls_datum_t *ders, size_t n,
		  time_t now, struct tp_findings *f);
void tp_chain_free(gnutls_x509_crt_t *certs, size_t n);
/* The facts of one certificate. */
int tp_chain_cert_info(struct tp_cert_info *ci, gnutls_x509_crt_t crt, time_t now);
bool tp_chain_is_self_signed(gnutls_x509_crt_t crt);
bool tp_chain_is_ca(gnutls_x509_crt_t crt);
/* Whether issuer's key signed crt (names and signature both match; key identifiers are not compared). */
bool tp_chain_signed_by(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer);
/* Whether crt's authorityKeyIdentifier is issuer's subjectKeyIdentifier (true when either is absent). */
bool tp_chain_key_ids_match(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer);
char *tp_chain_dn(gnutls_x509_crt_t crt, bool issuer);
/* The shortest name for a message: the CN's value when the DN has one. */
char *tp_short_name(const char *dn);
/* The subject Name inside a certificate's DER (a hostile input: bounds are
 * checked at every step); 0, or -1 when the DER is not a certificate. */
int tp_der_subject(const gnutls_datum_t *der, const unsigned char **subj, size_t *subj_len);
/* The peer's own certificate in a session, parsed (deinit it), or NULL. */
gnutls_x509_crt_t tp_chain_peer(gnutls_session_t s);
/* The short name (tp_short_name) of a certificate's subject; free it. NULL on failure. */
char *tp_chain_cn(gnutls_x509_crt_t crt);

#endif
