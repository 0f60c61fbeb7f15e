/*
 * scenario.h: the reference server's throwaway PKI and its scenarios, each a
 * chain (and a priority, a client-certificate mode) made with pki.c.
 */
#ifndef TP_SCENARIO_H
#define TP_SCENARIO_H

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "tlsprobe.h"

struct tp_pki;
struct tp_pki *tp_pki_create(const char *const *extra_names, size_t n_extra, char *err, size_t errlen);
void tp_pki_destroy(struct tp_pki *pki);
int tp_pki_root_pem(const struct tp_pki *pki, gnutls_datum_t *pem);
gnutls_x509_crt_t tp_pki_root(const struct tp_pki *pki);
int tp_pki_client(struct tp_pki *pki, gnutls_x509_crt_t *chain, size_t *n, gnutls_x509_privkey_t *key);
/* A chain served exactly as listed: GnuTLS sorts what it is given through
 * gnutls_certificate_set_x509_key(), so disorder needs the raw way. */
struct tp_raw_chain {
	gnutls_pcert_st pcert[4];
	unsigned n;
	gnutls_privkey_t key;
};
void tp_raw_chain_free(struct tp_raw_chain *raw);
int tp_scenario_credentials(struct tp_pki *pki, const char *name, gnutls_certificate_credentials_t cred,
			    struct tp_raw_chain **raw, const char **priority, int *client_cert, char *err,
			    size_t errlen);

#endif
