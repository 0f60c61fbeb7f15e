/*
 * trust.h: what is trusted: the user's CA files, the system store (indexed,
 * parsed on demand) and the CRLs given. The only module that reads them.
 */
#ifndef TP_TRUST_H
#define TP_TRUST_H

#include <stdbool.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

struct tp_trust;

struct tp_trust *tp_trust_create(void);
void tp_trust_destroy(struct tp_trust *t);
int tp_trust_add_file(struct tp_trust *t, const char *path, char *err, size_t errlen);
void tp_trust_use_system(struct tp_trust *t, bool use);
/*
 * A trust list holding the user's CA files and every system root that could
 * matter for this chain: the roots are looked up by name on demand, so a
 * probe does not pay for parsing the whole system store.
 */
gnutls_x509_trust_list_t tp_trust_list_for(struct tp_trust *t, gnutls_x509_crt_t *certs, size_t n);

enum tp_trust_source { TP_TRUST_NONE, TP_TRUST_USER, TP_TRUST_SYSTEM };
/* Where a CA certificate whose subject is dn can be found, if anywhere. */
enum tp_trust_source tp_trust_has_subject(struct tp_trust *t, const gnutls_datum_t *dn);
/* crt's issuer in the trust list (after tp_trust_list_for named it), or NULL.
 * *owned: a copy the caller frees; otherwise the trust store's, valid as long as it is. */
gnutls_x509_crt_t tp_trust_issuer(struct tp_trust *t, gnutls_x509_crt_t crt, bool check_signature, bool *owned);
size_t tp_trust_user_count(const struct tp_trust *t);
bool tp_trust_uses_system(const struct tp_trust *t);
/* Add every system root now, so that the trust list is only read from then
 * on, by any number of threads. */
void tp_trust_preload(struct tp_trust *t);
/* What is trusted, as PEM: the user's CA files, then (with_system) the system bundle. */
int tp_trust_write_pem(struct tp_trust *t, int fd, bool with_system);
int tp_trust_add_crl_file(struct tp_trust *t, const char *path, char *err, size_t errlen);
size_t tp_trust_crl_count(const struct tp_trust *t);
gnutls_x509_crl_t tp_trust_crl(const struct tp_trust *t, size_t i);
const char *tp_trust_crl_file(const struct tp_trust *t, size_t i);
gnutls_x509_crt_t tp_trust_user_cert(const struct tp_trust *t, size_t i);
/* Whether crt is one of the user's CA certificates. */
bool tp_trust_user_holds(const struct tp_trust *t, gnutls_x509_crt_t crt);
/*
 * Another trusted certificate of crt's subject and key, valid at now (a
 * root renewed under its old key): the latest end of those, or 0 if none.
 * Clients that find it use it instead of crt.
 */
time_t tp_trust_twin_until(struct tp_trust *t, gnutls_x509_crt_t crt, time_t now);

#endif
