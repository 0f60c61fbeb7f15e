/*
 * config.c: the configuration, its setters and its error, and the GnuTLS
 * priority and credentials made from it once, before the first probe.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "cache.h"
#include "config.h"
#include "file.h"
#include "trust.h"

#define MAX_CLIENT_CERTS 16

struct tp_config *
tp_config_create(void)
{
	struct tp_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->trust = tp_trust_create();
	if (!cfg->trust) {
		free(cfg);
		return NULL;
	}
	cfg->timeout_ms = TP_DEFAULT_TIMEOUT_S * 1000;
	cfg->family = AF_UNSPEC;
	cfg->warn_days = TP_DEFAULT_WARN_DAYS;
	cfg->crit_days = TP_DEFAULT_CRIT_DAYS;
	return cfg;
}

static void
proxy_finish(struct tp_proxy *px)
{
	free(px->auth);
	free(px->user);
	free(px->password);
	free(px->no_proxy);
	memset(px, 0, sizeof(*px));
}

static void
unready(struct tp_config *cfg)
{
	if (cfg->prio)
		gnutls_priority_deinit(cfg->prio);
	if (cfg->cred)
		gnutls_certificate_free_credentials(cfg->cred);
	for (unsigned i = 0; i < cfg->client_pcert_n; i++)
		gnutls_pcert_deinit(&cfg->client_pcert[i]);
	free(cfg->client_pcert);
	if (cfg->client_key)
		gnutls_privkey_deinit(cfg->client_key);
	proxy_finish(&cfg->px);
	cfg->prio = NULL;
	cfg->cred = NULL;
	cfg->client_pcert = NULL;
	cfg->client_pcert_n = 0;
	cfg->client_key = NULL;
	cfg->ready = false;
}

void
tp_config_destroy(struct tp_config *cfg)
{
	if (!cfg)
		return;
	unready(cfg);
	tp_trust_destroy(cfg->trust);
	free(cfg->alpn);
	free(cfg->priority);
	free(cfg->client_cert_file);
	free(cfg->client_key_file);
	free(cfg->proxy);
	free(cfg->noproxy);
	free(cfg->cache_dir);
	tp_cache_destroy(cfg->cache);
	free(cfg);
}

const char *
tp_config_error(const struct tp_config *cfg)
{
	return cfg->error;
}

int
tp_config_fail(struct tp_config *cfg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tp_verr(cfg->error, sizeof(cfg->error), fmt, ap);
	va_end(ap);
	return -1;
}

int
tp_config_add_ca_file(struct tp_config *cfg, const char *path)
{
	return tp_trust_add_file(cfg->trust, path, cfg->error, sizeof(cfg->error));
}

int
tp_config_add_crl_file(struct tp_config *cfg, const char *path)
{
	return tp_trust_add_crl_file(cfg->trust, path, cfg->error, sizeof(cfg->error));
}

void
tp_config_set_ocsp_required(struct tp_config *cfg, bool required)
{
	cfg->ocsp_required = required;
}

void
tp_config_set_client_purpose(struct tp_config *cfg, bool client)
{
	cfg->client_purpose = client;
}

void
tp_config_set_system_ca(struct tp_config *cfg, bool use)
{
	tp_trust_use_system(cfg->trust, use);
}

static int
readable(struct tp_config *cfg, const char *what, const char *path)
{
	char why[600];

	if (tp_readable(path, what, why, sizeof(why)) < 0)
		return tp_config_fail(cfg, "%s", why);
	return 0;
}

int
tp_config_set_client_cert(struct tp_config *cfg, const char *cert, const char *key)
{
	if (!cert || !key)
		return tp_config_fail(cfg, "a client certificate and its key go together: give both");
	if (readable(cfg, "client certificate ", cert) < 0 || readable(cfg, "client key ", key) < 0)
		return -1;
	free(cfg->client_cert_file);
	free(cfg->client_key_file);
	cfg->client_cert_file = strdup(cert);
	cfg->client_key_file = strdup(key);
	unready(cfg);
	return 0;
}

int
tp_config_set_alpn(struct tp_config *cfg, const char *list)
{
	size_t n = 1;

	if (!list || !*list || list[strlen(list) - 1] == ',' || *list == ',' || strstr(list, ",,"))
		return tp_config_fail(cfg,
				      "invalid ALPN list '%s': give protocols separated by commas, "
				      "e.g. h2,http/1.1",
				      list ? list : "");
	for (const char *p = list; *p; p++)
		n += *p == ',';
	if (n > TP_MAX_ALPN)
		return tp_config_fail(cfg, "too many ALPN protocols (at most %d)", TP_MAX_ALPN);
	free(cfg->alpn);
	cfg->alpn = strdup(list);
	return cfg->alpn ? 0 : tp_config_fail(cfg, "out of memory");
}

static int
parse_version(const char *s)
{
	static const struct {
		const char *name;
		int v;
	} versions[] = {
		{"1.0", GNUTLS_TLS1_0},
		{"1.1", GNUTLS_TLS1_1},
		{"1.2", GNUTLS_TLS1_2},
		{"1.3", GNUTLS_TLS1_3},
	};
	if (!s)
		return 0;
	if (strncasecmp(s, "tls", 3) == 0)
		s += 3 + (s[3] == 'v' || s[3] == 'V' || s[3] == ' ');
	for (size_t i = 0; i < sizeof(versions) / sizeof(*versions); i++)
		if (strcmp(s, versions[i].name) == 0)
			return versions[i].v;
	return -1;
}

int
tp_config_set_tls_versions(struct tp_config *cfg, const char *min, const char *max)
{
	int lo = parse_version(min), hi = parse_version(max);

	if (lo < 0)
		return tp_config_fail(cfg, "invalid TLS version '%s': use 1.0, 1.1, 1.2 or 1.3", min);
	if (hi < 0)
		return tp_config_fail(cfg, "invalid TLS version '%s': use 1.0, 1.1, 1.2 or 1.3", max);
	if (lo && hi && lo > hi)
		return tp_config_fail(cfg, "the lowest TLS version %s is above the highest, %s", min, max);
	cfg->tls_min = lo;
	cfg->tls_max = hi;
	unready(cfg);
	return 0;
}

int
tp_config_set_priority(struct tp_config *cfg, const char *priority)
{
	free(cfg->priority);
	cfg->priority = priority ? strdup(priority) : NULL;
	unready(cfg);
	return 0;
}

void
tp_config_set_timeout_ms(struct tp_config *cfg, unsigned ms)
{
	cfg->timeout_ms = ms;
}

void
tp_config_set_download(struct tp_config *cfg, tp_download_fn *fn)
{
	cfg->download = fn;
}

int
tp_config_post(const struct tp_config *cfg, const char *key, const char *url, const gnutls_datum_t *post,
	       const char *type, size_t max, const struct tp_deadline *d, gnutls_datum_t *out, bool *cached, char *err,
	       size_t errlen)
{
	int left;

	*cached = false;
	if (cfg->cache && tp_cache_get(cfg->cache, key, out, d) == 1) {
		if (out->size <= max) {
			*cached = true;
			return 0;
		}
		free(out->data);
		tp_cache_put(cfg->cache, key, NULL, 0);
	}
	if ((left = tp_deadline_left(d)) <= 0) {
		snprintf(err, errlen, "no time was left (--timeout)");
	} else if (cfg->download(cfg, url, post, type, max, (unsigned)left, out, err, errlen) == 0) {
		return 0;
	}
	if (cfg->cache)
		tp_cache_put(cfg->cache, key, NULL, 0);
	return -1;
}

int
tp_config_download(const struct tp_config *cfg, const char *url, size_t max, const struct tp_deadline *d,
		   gnutls_datum_t *out, bool *cached, char *err, size_t errlen)
{
	return tp_config_post(cfg, url, url, NULL, NULL, max, d, out, cached, err, errlen);
}

void
tp_config_keep(const struct tp_config *cfg, const char *url, const gnutls_datum_t *data, time_t until)
{
	if (cfg->cache)
		tp_cache_put(cfg->cache, url, data, until);
}

void
tp_config_set_cache_dir(struct tp_config *cfg, const char *dir)
{
	free(cfg->cache_dir);
	cfg->cache_dir = dir && *dir ? strdup(dir) : NULL;
}

void
tp_config_set_fullchain(struct tp_config *cfg, bool keep)
{
	cfg->want_fullchain = keep;
}

void
tp_config_set_max_crl_size(struct tp_config *cfg, size_t bytes)
{
	cfg->max_crl_size = bytes;
}

unsigned
tp_config_timeout_ms(const struct tp_config *cfg)
{
	return cfg->timeout_ms;
}

void
tp_config_set_client_cert_wait_ms(struct tp_config *cfg, unsigned ms)
{
	cfg->client_cert_wait_ms = ms;
}

void
tp_config_set_family(struct tp_config *cfg, int family)
{
	cfg->family = family;
}

/* %XX decoded, as curl reads the user and password of a proxy URL; NULL when out of memory. */
static char *
url_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	for (size_t i = 0; out && i < len; i++) {
		unsigned v;
		if (s[i] == '%' && i + 2 < len && sscanf(s + i + 1, "%2x", &v) == 1 &&
		    isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
			*o++ = (char)v;
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	if (o)
		*o = '\0';
	return out;
}

/* Read a proxy URL into px: 0, or -1 with the reason in cfg's error. */
static int
parse_proxy(struct tp_config *cfg, const char *url, struct tp_proxy *px)
{
	const char *p = url, *at, *end, *colon;
	char *port_end = NULL;
	unsigned long port = 1080;

	memset(px, 0, sizeof(*px));
	if (strncmp(p, "http://", 7) == 0) {
		px->kind = TP_PROXY_HTTP;
		p += 7;
	} else if (strncmp(p, "socks5://", 9) == 0) {
		px->kind = TP_PROXY_SOCKS5;
		p += 9;
	} else if (strncmp(p, "socks5h://", 10) == 0) {
		px->kind = TP_PROXY_SOCKS5H;
		p += 10;
	} else if (strstr(p, "://")) {
		return tp_config_fail(cfg, "proxy '%.200s': use http://, socks5:// or socks5h://", url);
	} else {
		px->kind = TP_PROXY_HTTP; /* as curl: a bare HOST:PORT is an HTTP proxy */
	}
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		const char *sep = memchr(p, ':', (size_t)(at - p));
		char *user = url_decode(p, (size_t)((sep ? sep : at) - p));
		char *pass = sep ? url_decode(sep + 1, (size_t)(at - sep - 1)) : strdup("");
		if (!user || !pass) {
			free(user);
			free(pass);
			return tp_config_fail(cfg, "out of memory");
		}
		if (px->kind == TP_PROXY_HTTP) {
			char *both = tp_strdupf("%s:%s", user, pass);
			gnutls_datum_t in = {(unsigned char *)both, both ? (unsigned)strlen(both) : 0}, b64 = {NULL, 0};
			if (both && gnutls_base64_encode2(&in, &b64) == 0) {
				px->auth = tp_strdupf("%.*s", (int)b64.size, (char *)b64.data);
				gnutls_free(b64.data);
			}
			free(both);
			free(user);
			free(pass);
		} else {
			px->user = user;
			px->password = pass;
		}
		p = at + 1;
	}
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close || close - p - 1 >= (long)sizeof(px->host))
			return tp_config_fail(cfg, "proxy '%.200s': an IPv6 address needs its closing ]", url);
		memcpy(px->host, p + 1, (size_t)(close - p - 1));
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		size_t n = (size_t)((colon ? colon : end) - p);
		if (n >= sizeof(px->host))
			return tp_config_fail(cfg, "proxy '%.200s': the host name is too long", url);
		memcpy(px->host, p, n);
	}
	if (!px->host[0])
		return tp_config_fail(cfg,
				      "proxy '%.200s': no host: give http://HOST:PORT, socks5://HOST:PORT "
				      "or socks5h://HOST:PORT",
				      url);
	if (colon) {
		port = strtoul(colon + 1, &port_end, 10);
		if (port_end == colon + 1 || port_end != end || port == 0 || port > 65535)
			return tp_config_fail(cfg, "proxy '%.200s': the port must be a number from 1 to 65535", url);
	}
	px->port = (uint16_t)port;
	snprintf(px->url, sizeof(px->url), "%s://%s%s%s:%u",
		 px->kind == TP_PROXY_HTTP     ? "http"
		 : px->kind == TP_PROXY_SOCKS5 ? "socks5"
					       : "socks5h",
		 strchr(px->host, ':') ? "[" : "", px->host, strchr(px->host, ':') ? "]" : "", px->port);
	return 0;
}

int
tp_config_set_proxy(struct tp_config *cfg, const char *url)
{
	struct tp_proxy px = {0};
	int bad = url && *url && parse_proxy(cfg, url, &px) < 0;

	/* Parsed only to refuse a bad URL now: tp_config_ready() reads it. */
	proxy_finish(&px);
	if (bad)
		return -1;
	free(cfg->proxy);
	cfg->proxy = strdup(url ? url : "");
	unready(cfg);
	return cfg->proxy ? 0 : tp_config_fail(cfg, "out of memory");
}

void
tp_config_set_noproxy(struct tp_config *cfg, const char *list)
{
	free(cfg->noproxy);
	cfg->noproxy = list ? strdup(list) : NULL;
	unready(cfg);
}

/* The environment's proxy for TLS, as curl reads it; NULL for none. */
static const char *
env_proxy(void)
{
	static const char *const names[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = getenv(names[i]);
		if (v && *v)
			return v;
	}
	return NULL;
}

/* --proxy, or the environment's; and the hosts reached directly. */
static int
ready_proxy(struct tp_config *cfg)
{
	const char *url = cfg->proxy ? cfg->proxy : env_proxy();
	const char *no = cfg->noproxy ? cfg->noproxy : getenv("no_proxy") ? getenv("no_proxy") : getenv("NO_PROXY");

	if (!url || !*url)
		return 0;
	if (parse_proxy(cfg, url, &cfg->px) < 0) {
		char why[sizeof(cfg->error)];
		memcpy(why, cfg->error, sizeof(why));
		if (!cfg->proxy)
			tp_config_fail(cfg, "the proxy in the environment (https_proxy or all_proxy): %.300s", why);
		return -1;
	}
	cfg->px.no_proxy = no ? strdup(no) : NULL;
	return 0;
}

void
tp_config_set_all_addresses(struct tp_config *cfg, bool all)
{
	cfg->all_addresses = all;
}

void
tp_config_set_clients(struct tp_config *cfg, unsigned clients)
{
	cfg->clients = clients & TP_CLIENTS_ALL;
}

void
tp_config_set_insecure(struct tp_config *cfg, bool insecure)
{
	cfg->insecure = insecure;
}

void
tp_config_set_time(struct tp_config *cfg, time_t at)
{
	cfg->at = at;
}

int
tp_config_set_expiry_days(struct tp_config *cfg, int warn, int crit)
{
	if (warn < 0 || crit < 0)
		return tp_config_fail(cfg, "expiry thresholds must not be negative");
	if (crit > warn)
		return tp_config_fail(cfg,
				      "the critical expiry threshold, %d days, is above the warning threshold, "
				      "%d days: the critical one must be the smaller one",
				      crit, warn);
	cfg->warn_days = warn;
	cfg->crit_days = crit;
	return 0;
}

/* Whether key is the private half of pub: their key IDs (a hash of the public key) agree. */
static bool
key_matches(gnutls_pubkey_t pub, gnutls_privkey_t key)
{
	unsigned char a[64], b[64];
	size_t na = sizeof(a), nb = sizeof(b);
	gnutls_pubkey_t mine;
	bool same = false;

	if (gnutls_pubkey_init(&mine) < 0)
		return true; /* out of memory: the handshake will tell */
	if (gnutls_pubkey_import_privkey(mine, key, 0, 0) == 0 && gnutls_pubkey_get_key_id(pub, 0, a, &na) == 0 &&
	    gnutls_pubkey_get_key_id(mine, 0, b, &nb) == 0)
		same = na == nb && memcmp(a, b, na) == 0;
	else
		same = true; /* a key GnuTLS cannot compare: the handshake will tell */
	gnutls_pubkey_deinit(mine);
	return same;
}

static int
load_client_cert(struct tp_config *cfg)
{
	gnutls_datum_t crt = {NULL, 0}, key = {NULL, 0};
	unsigned n = MAX_CLIENT_CERTS;
	char why[256];
	int ret;

	cfg->client_pcert = calloc(MAX_CLIENT_CERTS, sizeof(*cfg->client_pcert));
	if (!cfg->client_pcert)
		return tp_config_fail(cfg, "out of memory");
	if (tp_file_read(cfg->client_cert_file, &crt, why, sizeof(why)) < 0)
		return tp_config_fail(cfg, "cannot read client certificate %s: %s", cfg->client_cert_file, why);
	ret = gnutls_pcert_list_import_x509_raw(cfg->client_pcert, &n, &crt, GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0) {
		n = MAX_CLIENT_CERTS;
		ret = gnutls_pcert_list_import_x509_raw(cfg->client_pcert, &n, &crt, GNUTLS_X509_FMT_DER, 0);
	}
	gnutls_free(crt.data);
	if (ret < 0)
		return tp_config_fail(cfg, "client certificate %s: %s", cfg->client_cert_file, gnutls_strerror(ret));
	cfg->client_pcert_n = n;
	if (tp_file_read(cfg->client_key_file, &key, why, sizeof(why)) < 0)
		return tp_config_fail(cfg, "cannot read client key %s: %s", cfg->client_key_file, why);
	if ((ret = gnutls_privkey_init(&cfg->client_key)) == 0) {
		ret = gnutls_privkey_import_x509_raw(cfg->client_key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
		if (ret < 0)
			ret = gnutls_privkey_import_x509_raw(cfg->client_key, &key, GNUTLS_X509_FMT_DER, NULL, 0);
	}
	gnutls_free(key.data);
	if (ret < 0)
		return tp_config_fail(cfg, "client key %s: %s (an unencrypted PEM or DER private key is needed)",
				      cfg->client_key_file, gnutls_strerror(ret));
	if (!key_matches(cfg->client_pcert[0].pubkey, cfg->client_key))
		return tp_config_fail(cfg,
				      "the key in %s does not belong to the certificate in %s (key-mismatch): give "
				      "the key the certificate was issued for",
				      cfg->client_key_file, cfg->client_cert_file);
	return 0;
}

void
tp_config_versions(const struct tp_config *cfg, int *lo, int *hi)
{
	*lo = cfg->tls_min ? cfg->tls_min : cfg->priority ? GNUTLS_TLS1_0 : GNUTLS_TLS1_2;
	*hi = cfg->tls_max ? cfg->tls_max : GNUTLS_TLS1_3;
}

/* Called when the server asks for a client certificate. */
static int
retrieve_cert(gnutls_session_t s, const gnutls_datum_t *req_ca, int nreq, const gnutls_pk_algorithm_t *algos,
	      int nalgos, gnutls_pcert_st **pcert, unsigned *npcert, gnutls_privkey_t *key)
{
	struct tp_cert_ask *ask = gnutls_session_get_ptr(s);

	ask->requested = true;
	*npcert = 0;
	*pcert = NULL;
	*key = NULL;
	if (ask->cfg->client_pcert_n) {
		*pcert = ask->cfg->client_pcert;
		*npcert = ask->cfg->client_pcert_n;
		*key = ask->cfg->client_key;
		ask->sent = true;
	}
	return 0;
}

int
tp_config_ready(struct tp_config *cfg)
{
	static const char *const vers[] = {
		[GNUTLS_TLS1_0] = "TLS1.0",
		[GNUTLS_TLS1_1] = "TLS1.1",
		[GNUTLS_TLS1_2] = "TLS1.2",
		[GNUTLS_TLS1_3] = "TLS1.3",
	};
	char *prio = NULL;
	size_t len = 0;
	const char *err = NULL;
	FILE *m;
	int ret;

	if (cfg->ready)
		return 0;
	if (!(m = open_memstream(&prio, &len)))
		return tp_config_fail(cfg, "out of memory");
	fputs(cfg->priority ? cfg->priority : "NORMAL", m);
	/* Like current browsers and HTTP clients, refuse TLS 1.0 and 1.1
	 * unless asked: a server that speaks only those is broken for them. */
	if (!cfg->priority || cfg->tls_min || cfg->tls_max) {
		int lo, hi;
		tp_config_versions(cfg, &lo, &hi);
		fputs(":-VERS-ALL", m);
		for (int v = lo; v <= hi; v++)
			fprintf(m, ":+VERS-%s", vers[v]);
	}
	if (fclose(m) != 0 || !prio) {
		free(prio);
		return tp_config_fail(cfg, "out of memory");
	}
	ret = gnutls_priority_init(&cfg->prio, prio, &err);
	if (ret < 0) {
		cfg->prio = NULL;
		if (ret == GNUTLS_E_INVALID_REQUEST && err)
			tp_config_fail(cfg, "invalid priority string '%.200s': GnuTLS cannot parse it at '%.40s'", prio,
				       err);
		else
			tp_config_fail(cfg, "invalid priority string '%.200s': %s", prio, gnutls_strerror(ret));
		free(prio);
		return -1;
	}
	free(prio);
	if ((ret = gnutls_certificate_allocate_credentials(&cfg->cred)) < 0)
		return tp_config_fail(cfg, "cannot allocate credentials: %s", gnutls_strerror(ret));
	gnutls_certificate_set_retrieve_function2(cfg->cred, retrieve_cert);
	if ((cfg->client_cert_file && load_client_cert(cfg) < 0) || ready_proxy(cfg) < 0) {
		unready(cfg);
		return -1;
	}
	/* Once per configuration, shared by every probe made with it. */
	if (cfg->download && !cfg->cache && !(cfg->cache = tp_cache_create(cfg->cache_dir))) {
		unready(cfg);
		return tp_config_fail(cfg, "out of memory");
	}
	cfg->ready = true;
	return 0;
}

time_t
tp_config_now(const struct tp_config *cfg)
{
	return cfg->at ? cfg->at : time(NULL);
}
