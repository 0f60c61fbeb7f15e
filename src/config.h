/*
 * config.h: the probe's configuration (the opaque struct tp_config of the
 * public header), its setters and its error, and what tp_config_ready()
 * makes of it for GnuTLS: the priority and the credentials.
 */
#ifndef TP_CONFIG_H
#define TP_CONFIG_H

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

#include "clock.h"
#include "tlsprobe.h"
#include "util.h"

struct tp_trust;

struct tp_config {
	char error[512];
	struct tp_trust *trust;
	char *alpn;           /* comma separated */
	char *priority;       /* user's, or NULL */
	int tls_min, tls_max; /* GNUTLS_TLS1_0.., 0 for none */
	unsigned timeout_ms;
	int family;
	bool insecure;
	bool ocsp_required;
	bool client_purpose;
	unsigned clients; /* whose verdicts count: 1 << enum tp_client, 0 for all */
	bool all_addresses;
	/* The proxy, once tp_config_ready() read --proxy or the environment. */
	char *proxy;   /* as given (--proxy), "" for none given, NULL: the environment's */
	char *noproxy; /* --noproxy, or NULL: the environment's no_proxy */
	struct tp_proxy {
		enum { TP_PROXY_NONE, TP_PROXY_HTTP, TP_PROXY_SOCKS5, TP_PROXY_SOCKS5H } kind;
		char host[256];
		uint16_t port;
		char *auth; /* HTTP: the base64 of USER:PASSWORD, or NULL */
		char *user; /* SOCKS5: the user name and password, or NULL */
		char *password;
		char *no_proxy; /* the hosts reached directly */
		char url[300];  /* for messages, without the password */
	} px;
	time_t at;
	int warn_days, crit_days;
	unsigned client_cert_wait_ms; /* 0: a round trip or two */
	tp_download_fn *download;     /* online checks; NULL: none (--offline) */
	bool want_fullchain;          /* keep the chain a server should send (--write-fullchain) */
	size_t max_crl_size;          /* the largest CRL downloaded; 0: TP_DEFAULT_MAX_CRL_SIZE */
	char *cache_dir;              /* where online answers are kept, or NULL: in memory only */
	struct tp_cache *cache;       /* made by tp_config_ready() for online checks */
	char *client_cert_file, *client_key_file;

	/* made by tp_config_ready(), then only read (by any number of threads) */
	bool ready;
	gnutls_priority_t prio;
	gnutls_certificate_credentials_t cred;
	gnutls_pcert_st *client_pcert;
	unsigned client_pcert_n;
	gnutls_privkey_t client_key;
};

TP_PRINTF(2, 3) int tp_config_fail(struct tp_config *cfg, const char *fmt, ...);
/*
 * An online check's GET of url (at most max bytes, within d): from the
 * cache when it holds it (*cached true), else downloaded. 0 with the bytes
 * in out (free out->data with free()), or -1 with a reason in err. After 0
 * with *cached false, the caller MUST say with tp_config_keep how long the
 * answer may be used (until 0: not at all), which other probes wait for.
 */
int tp_config_download(const struct tp_config *cfg, const char *url, size_t max, const struct tp_deadline *d,
		       gnutls_datum_t *out, bool *cached, char *err, size_t errlen);
void tp_config_keep(const struct tp_config *cfg, const char *url, const gnutls_datum_t *data, time_t until);
/* The same with a POST of body as type (when no GET fits), cached as key. */
int tp_config_post(const struct tp_config *cfg, const char *key, const char *url, const gnutls_datum_t *post,
		   const char *type, size_t max, const struct tp_deadline *d, gnutls_datum_t *out, bool *cached,
		   char *err, size_t errlen);
/* The lowest and highest versions a probe offers. */
void tp_config_versions(const struct tp_config *cfg, int *lo, int *hi);
/* The time validity is judged at: --at, or now. */
time_t tp_config_now(const struct tp_config *cfg);

/*
 * What the server asked of the client certificate. The credentials'
 * callback fills it in: a session using cfg->cred MUST point its user
 * pointer (gnutls_session_set_ptr) at one.
 */
struct tp_cert_ask {
	const struct tp_config *cfg;
	bool requested;
	bool sent;
};

#endif
