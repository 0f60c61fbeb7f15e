/*
 * What the core's modules share and the public header hides: the layout of
 * the config and the result, the deadline, and each module's entry point.
 */
#ifndef TP_INTERNAL_H
#define TP_INTERNAL_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>
#include <gnutls/abstract.h>
#include <stdio.h>
#include <stdarg.h>

#include "tlsprobe.h"

#define TP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- time ---------------------------------------------------------------- */

struct tp_deadline {
	struct timespec end;
};

double tp_now_ms(void);
void tp_deadline_start(struct tp_deadline *d, unsigned ms);
/* Milliseconds left, 0 once past. */
int tp_deadline_left(const struct tp_deadline *d);

/* ---- trust (trust.c) --------------------------------------------------- */

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

/* The subject Name inside a certificate's DER (a hostile input: bounds are
 * checked at every step); 0, or -1 when the DER is not a certificate. */
int tp_der_subject(const gnutls_datum_t *der, const unsigned char **subj, size_t *subj_len);

/* ---- configuration ------------------------------------------------------ */

struct tp_config {
	char error[512];
	struct tp_trust *trust;
	char *alpn;             /* comma separated */
	char *priority;         /* user's, or NULL */
	int tls_min, tls_max;   /* GNUTLS_TLS1_0.., 0 for none */
	unsigned timeout_ms;
	int family;
	bool insecure;
	bool ocsp_required;
	bool client_purpose;
	time_t at;
	int warn_days, crit_days;
	char *client_cert_file, *client_key_file;

	/* made by tp_config_ready() */
	bool ready;
	gnutls_priority_t prio;
	gnutls_certificate_credentials_t cred;
	gnutls_pcert_st *client_pcert;
	unsigned client_pcert_n;
	gnutls_privkey_t client_key;
};

TP_PRINTF(2, 3) int tp_config_fail(struct tp_config *cfg, const char *fmt, ...);

/* ---- result ------------------------------------------------------------- */

struct tp_result {
	struct tp_target target;
	char *sni;
	char address[64];
	struct tp_timing timing;
	bool handshake_done;
	struct tp_tls_info tls;
	char kx_name[24];         /* tls.kx_group for a DH group the server made up: "DH-1024" */
	char *alpn;
	struct tp_cert_info *certs;
	size_t n_certs;
	size_t n_sent;            /* how many the server (or file) gave; certs holds at most 64 */
	gnutls_datum_t ocsp_der;  /* the stapled response, if any */
	struct tp_ocsp_info ocsp;
	bool verified, trusted, hostname_ok;
	char *verify_name;
	char *gnutls_status;      /* GnuTLS's own words for its verdict, or NULL when trusted */
	struct tp_problem *problems;
	size_t n_problems;
	struct tp_problem *error;
	bool offer_refused;       /* the server rejected what was offered: worth a second look */
	enum tp_status status;
	enum tp_code reason;
	bool is_fetch;
	struct tp_fetch_info fetch;
};

struct tp_result *tp_result_create(const struct tp_target *target);
/* Chain facts, and the diagnosis, of DER certificates into r. */
void tp_examine_into(struct tp_result *r, struct tp_config *cfg, const gnutls_datum_t *ders, unsigned n,
		     const char *name, time_t now);
/* Take over what a probe learned: TLS facts, chain, verification, error. */
void tp_result_adopt(struct tp_result *r, struct tp_result *from);

/* Record the probe error (first one wins); the fix comes from the table. */
TP_PRINTF(3, 4) struct tp_problem *tp_result_fail(struct tp_result *r, enum tp_code code, const char *fmt, ...);
/* Record a finding about certificate cert_index (-1: none). */
TP_PRINTF(4, 5) struct tp_problem *tp_result_add(struct tp_result *r, enum tp_code code, int cert_index,
						 const char *fmt, ...);
/* Sort the problems and set the status and reason from them. */
void tp_result_judge(struct tp_result *r, const struct tp_config *cfg);
/* Replace a problem's fix with a more specific one. */
TP_PRINTF(2, 3) void tp_problem_set_fix(struct tp_problem *p, const char *fmt, ...);

TP_PRINTF(1, 2) char *tp_strdupf(const char *fmt, ...);
/* Write a one-line reason to err and return -1. */
TP_PRINTF(3, 4) int tp_err(char *err, size_t errlen, const char *fmt, ...);
TP_PRINTF(1, 0) char *tp_vstrdupf(const char *fmt, va_list ap);

/* ---- modules ------------------------------------------------------------ */

/* net.c: resolve and connect within the deadline; returns a socket or -1. */
int tp_net_connect(struct tp_result *r, const struct tp_config *cfg, const struct tp_deadline *d);

/* starttls.c: the clear-text dialogue before TLS; 0, or -1 with the error in r. */
int tp_starttls(struct tp_result *r, int fd, const char *proto, const struct tp_deadline *d);
/* The usual port of a STARTTLS protocol, -1 when unknown. */
int tp_starttls_port(const char *proto);

/* session.c: handshake over fd; on success fills r->tls and returns the
 * session (caller deinits). */
gnutls_session_t tp_session_handshake(struct tp_result *r, struct tp_config *cfg, int fd,
				      const struct tp_deadline *d);
void tp_session_free(gnutls_session_t s);
/* "TLSv1.3", as openssl and curl write it. */
const char *tp_version_name(gnutls_protocol_t v);
/* Ask for client certificates through session.c's callback. */
void tp_session_setup_credentials(gnutls_certificate_credentials_t cred);

/* chain.c: facts of one certificate. */
int tp_chain_facts(struct tp_cert_info *ci, gnutls_x509_crt_t crt, time_t now);
void tp_chain_facts_free(struct tp_cert_info *ci);
bool tp_chain_is_self_signed(gnutls_x509_crt_t crt);
bool tp_chain_is_ca(gnutls_x509_crt_t crt);
/* Whether issuer's key signed crt (names and signature both match). */
bool tp_chain_signed_by(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer);
/* Whether path is a file this process can read; errors name it ("cannot read WHATPATH: ..."). */
int tp_readable(const char *path, const char *what, char *err, size_t errlen);
/* Read a whole file; errors name it ("cannot read WHATPATH: it is a directory"). */
int tp_file_load(const char *path, const char *what, gnutls_datum_t *data, char *err, size_t errlen);
/* The error for a file without certificates, naming what it holds instead. */
void tp_no_certificate(const gnutls_datum_t *data, const char *what, const char *path, char *err, size_t errlen);
char *tp_chain_dn(gnutls_x509_crt_t crt, bool issuer);
/* The shortest name for a message: the CN's value when the DN has one. */
char *tp_short_name(const char *dn);
/* The peer's own certificate in a session, parsed (deinit it), or NULL. */
gnutls_x509_crt_t tp_chain_peer(gnutls_session_t s);
/* The short name (tp_short_name) of a certificate's subject; free it. NULL on failure. */
char *tp_chain_cn(gnutls_x509_crt_t crt);

/* revoke.c: name the revoked certificates and judge the stapled OCSP
 * response; path lists certs from the leaf up to where the chain stops. */
void tp_revoke_check(struct tp_result *r, struct tp_config *cfg, gnutls_x509_crt_t *certs, const size_t *path,
		     size_t len, time_t now);

/* scenario.c: the reference server's throwaway PKI and its scenarios. */
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

/* diagnose.c: verify certs[0..n) against the trust store and the name,
 * judge validity at `now`, and record every problem in r. */
void tp_diagnose(struct tp_result *r, struct tp_config *cfg, gnutls_x509_crt_t *certs, size_t n,
		 const char *name, time_t now);

#endif
