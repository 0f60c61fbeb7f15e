/*
 * fetch.c: an HTTPS request through libcurl, the HTTP stack most tools use,
 * and the only file that includes <curl/curl.h>. It reports what curl saw
 * (status, HTTP version, redirects, timings from curl's own timers) and the
 * TLS session underneath (libcurl here runs on GnuTLS, whose session it
 * lends us), then judges the chain with the probe's diagnosis. When curl
 * fails in TLS, a probe of the same endpoint says why, in the same codes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <dlfcn.h>
/* Plain prototypes: the calls below go through pointers (see curl_api). */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "buildconf.h"
#include "clock.h"
#include "probe.h"
#include "session.h"
#include "trust.h"

/*
 * libcurl is loaded when a fetch needs it, not at start-up: linked in, its
 * dependencies (Kerberos, LDAP, SSH, OpenSSL's libcrypto...) cost every
 * probe milliseconds and megabytes for a library only fetch uses.
 */
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
	curl_version_info_data *(*version_info)(CURLversion v);
	bool loaded;
	char error[256];
} api;

static pthread_once_t api_once = PTHREAD_ONCE_INIT;

static void
load_curl(void)
{
	/* The GnuTLS build first: its TLS session is the one tlsprobe can read. */
	static const char *const names[] = {TP_CURL_SONAME, "libcurl-gnutls.so.4", "libcurl.so.4"};
	void *lib = NULL;

	for (size_t i = 0; !lib && i < sizeof(names) / sizeof(*names); i++)
		lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(api.error, sizeof(api.error),
			 "libcurl cannot be loaded (%s): install the Debian package "
			 "libcurl3-gnutls",
			 dlerror());
		return;
	}
#define SYM(field, name) *(void **)(&api.field) = dlsym(lib, name)
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(version_info, "curl_version_info");
#undef SYM
	if (!api.global_init || !api.easy_init || !api.easy_setopt || !api.easy_perform || !api.easy_getinfo ||
	    !api.easy_cleanup || !api.easy_strerror || !api.slist_append || !api.slist_free_all || !api.version_info) {
		snprintf(api.error, sizeof(api.error), "the libcurl found lacks functions tlsprobe needs");
		return;
	}
	/* The library stays loaded for the life of the process. */
	api.global_init(CURL_GLOBAL_DEFAULT);
	api.loaded = true;
}

#define BODY_KEEP (4u << 20) /* what --expect-body can search */

struct transfer {
	CURL *h;
	struct tp_result *r;
	const struct tp_fetch_options *o;
	unsigned timeout_ms; /* --max-time, or the options' shorter bound */
	/* the TLS session of the latest response, copied while it lives */
	gnutls_datum_t *peers;
	unsigned n_peers;
	const char *version, *cipher, *kx_group, *sig_alg;
	char *alpn;
	bool have_tls;
	bool client_cert_requested;
	/* the latest response */
	char *reason;
	char *headers; /* "name: value\n"... of the final response */
	size_t headers_len;
	bool in_headers;
	char *body;
	size_t body_len;
	/* what curl was given, freed with it */
	struct curl_slist *send_headers, *resolve, *connect_to;
	char *cafile; /* a temporary copy of what is trusted */
};

static void
free_peers(struct transfer *t)
{
	for (unsigned i = 0; i < t->n_peers; i++)
		gnutls_free(t->peers[i].data);
	free(t->peers);
	t->peers = NULL;
	t->n_peers = 0;
}

/* Copy what the TLS session knows while curl still holds it open. */
static void
capture_tls(struct transfer *t)
{
	struct curl_tlssessioninfo *info = NULL;
	gnutls_session_t s;
	const gnutls_datum_t *peers;
	unsigned n = 0;
	gnutls_datum_t alpn;

	if (api.easy_getinfo(t->h, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || !info ||
	    info->backend != CURLSSLBACKEND_GNUTLS || !info->internals) {
		/* This response came without TLS (a redirect to http://): the
		 * facts of an earlier hop's session are not about it. */
		free_peers(t);
		free(t->alpn);
		t->alpn = NULL;
		t->have_tls = false;
		return;
	}
	s = info->internals;
	free_peers(t);
	peers = gnutls_certificate_get_peers(s, &n);
	t->peers = calloc(n ? n : 1, sizeof(*t->peers));
	for (unsigned i = 0; t->peers && i < n; i++) {
		t->peers[i].data = gnutls_malloc(peers[i].size);
		if (!t->peers[i].data)
			break;
		memcpy(t->peers[i].data, peers[i].data, peers[i].size);
		t->peers[i].size = peers[i].size;
		t->n_peers = i + 1;
	}
	gnutls_group_t g = gnutls_group_get(s);
	gnutls_sign_algorithm_t sig = gnutls_sign_algorithm_get(s);
	t->version = tp_version_name(gnutls_protocol_get_version(s));
	t->cipher = gnutls_ciphersuite_get(s);
	t->kx_group = g ? gnutls_group_get_name(g) : NULL;
	t->sig_alg = sig != GNUTLS_SIGN_UNKNOWN ? gnutls_sign_get_name(sig) : NULL;
	free(t->alpn);
	t->alpn = gnutls_alpn_get_selected_protocol(s, &alpn) == 0 ? tp_utf8_clean((char *)alpn.data, alpn.size) : NULL;
	t->client_cert_requested = gnutls_certificate_client_get_request_status(s) != 0;
	t->have_tls = true;
}

static void
end_of_response(struct transfer *t)
{
	struct tp_fetch_info *f = &t->r->fetch;
	long code = 0;
	char *url = NULL;
	struct tp_fetch_hop *grown;

	api.easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &code);
	api.easy_getinfo(t->h, CURLINFO_EFFECTIVE_URL, &url);
	if (code >= 100 && code < 200)
		return; /* 100 Continue and the like are not hops */
	grown = realloc(f->hops, (f->n_hops + 1) * sizeof(*grown));
	if (!grown)
		return;
	f->hops = grown;
	grown[f->n_hops].status = code;
	grown[f->n_hops].url = tp_utf8_clean(url ? url : "", url ? strlen(url) : 0);
	f->n_hops++;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response: its TLS session is the one to report. */
		const char *sp = memchr(data, ' ', len), *sp2;
		capture_tls(t);
		free(t->reason);
		t->reason = NULL;
		t->headers_len = 0;
		t->in_headers = true;
		if (sp && (sp2 = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - data)))) {
			size_t rlen = len - (size_t)(sp2 + 1 - data);
			while (rlen && (sp2[rlen] == '\r' || sp2[rlen] == '\n' || sp2[rlen] == '\0'))
				rlen--;
			t->reason = tp_utf8_clean(sp2 + 1, rlen);
			/* trim the line end; HTTP/2 has no reason phrase at all */
			size_t k = t->reason ? strlen(t->reason) : 0;
			while (k && (t->reason[k - 1] == '\r' || t->reason[k - 1] == '\n' || t->reason[k - 1] == ' '))
				t->reason[--k] = '\0';
			if (t->reason && !*t->reason) {
				free(t->reason);
				t->reason = NULL;
			}
		}
		return len;
	}
	if (len <= 2 && t->in_headers) {
		t->in_headers = false;
		end_of_response(t);
		return len;
	}
	/* Keep the headers of the latest response, bounded. */
	if (t->headers_len + len < 65536) {
		char *grown = realloc(t->headers, t->headers_len + len + 1);
		if (grown) {
			t->headers = grown;
			memcpy(t->headers + t->headers_len, data, len);
			t->headers_len += len;
			t->headers[t->headers_len] = '\0';
		}
	}
	return len;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n, keep = len;

	if (!t->o->expect_body)
		return len;
	if (t->body_len + keep > BODY_KEEP)
		keep = BODY_KEEP - t->body_len;
	if (keep) {
		char *grown = realloc(t->body, t->body_len + keep);
		if (grown) {
			t->body = grown;
			memcpy(t->body + t->body_len, data, keep);
			t->body_len += keep;
		}
	}
	return len;
}

static struct curl_slist *
slist(const char *const *items, size_t n)
{
	struct curl_slist *l = NULL, *next;

	for (size_t i = 0; i < n; i++) {
		if (!(next = api.slist_append(l, items[i]))) {
			api.slist_free_all(l);
			return NULL;
		}
		l = next;
	}
	return l;
}

static bool
status_expected(const char *list, long status)
{
	const char *p = list;

	while (*p) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;
		if (end == p)
			return false;
		p = end;
		if (*p == '-') {
			hi = strtol(p + 1, &end, 10);
			p = end;
		}
		if (status >= lo && status <= hi)
			return true;
		if (*p == ',')
			p++;
	}
	return false;
}

int
tp_fetch_check_status_list(const char *list)
{
	const char *p = list;

	if (!*p)
		return -1;
	while (*p) {
		char *end;
		long lo = strtol(p, &end, 10), hi;
		if (end == p || lo < 100 || lo > 999)
			return -1;
		p = end;
		if (*p == '-') {
			hi = strtol(p + 1, &end, 10);
			if (end == p + 1 || hi < lo || hi > 999)
				return -1;
			p = end;
		}
		if (*p == ',' && p[1])
			p++;
		else if (*p)
			return -1;
	}
	return 0;
}

static bool
header_matches(const char *headers, const char *want)
{
	const char *colon = strchr(want, ':'), *value;
	size_t name_len;

	if (!colon || !headers)
		return false;
	name_len = (size_t)(colon - want);
	value = colon + 1;
	while (*value == ' ')
		value++;
	for (const char *line = headers; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len > name_len && line[name_len] == ':' && strncasecmp(line, want, name_len) == 0) {
			const char *v = line + name_len + 1;
			size_t vlen = len - name_len - 1;
			while (vlen && (*v == ' ' || *v == '\t'))
				v++, vlen--;
			while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
				vlen--;
			if (!*value || (vlen >= strlen(value) && memmem(v, vlen, value, strlen(value))))
				return true;
		}
		line = eol ? eol + 1 : NULL;
	}
	return false;
}

/* A CA file for curl: the user's CA files, and the system store's roots when with_system. */
static char *
ca_bundle(const struct tp_config *cfg, bool with_system, char *err, size_t errlen)
{
	char path[] = "/tmp/tlsprobe-fetch-ca-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0) {
		snprintf(err, errlen, "cannot create a temporary CA file: %s", strerror(errno));
		return NULL;
	}
	if (tp_trust_write_pem(cfg->trust, fd, with_system) < 0) {
		close(fd);
		unlink(path);
		snprintf(err, errlen, "cannot write a temporary CA file");
		return NULL;
	}
	close(fd);
	return strdup(path);
}

static void
map_curl_error(struct tp_result *r, CURLcode rc, const char *msg, long os_errno)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY: tp_fail(&r->found, TP_DNS_FAILURE, "curl: %s", msg); break;
	case CURLE_COULDNT_CONNECT:
		tp_fail(&r->found, os_errno == ECONNREFUSED ? TP_CONNECTION_REFUSED : TP_CONNECTION_FAILED, "curl: %s",
			msg);
		break;
	case CURLE_OPERATION_TIMEDOUT: tp_fail(&r->found, TP_TIMEOUT, "curl: %s", msg); break;
	default: tp_fail(&r->found, TP_FETCH_FAILED, "curl: %s", msg); break;
	}
}

/* Failures a probe of the same endpoint explains better than curl's words:
 * TLS ones, and a refused connection (curl does not say which address). */
static bool
probe_explains(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
	       rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_SSL_CACERT_BADFILE ||
	       rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || rc == CURLE_GOT_NOTHING;
}

/*
 * curl stopped in TLS: probe the same endpoint (same trust, same client
 * certificate, within what is left of the time) and take its findings.
 */
static void
explain_with_probe(struct tp_result *r, struct tp_config *cfg, const char *host, long port, const char *ip,
		   unsigned timeout_ms, double spent_ms, const char *curl_msg)
{
	struct tp_target t = {.input = r->target.input, .host = (char *)host, .port = (uint16_t)port};
	struct in6_addr a;
	struct tp_result *p;

	t.host_is_ip = inet_pton(AF_INET, host, &a) == 1 || inet_pton(AF_INET6, host, &a) == 1;
	/* The very address curl used (--resolve, --connect-to), under the same name. */
	if (ip && *ip) {
		t.connect_host = (char *)ip;
		t.connect_port = (uint16_t)port;
		t.connect_is_ip = true;
	}
	/* Within what is left of --max-time. */
	p = tp_probe_within(cfg, &t, spent_ms < timeout_ms ? timeout_ms - (unsigned)spent_ms : 1);
	if (!p)
		return;
	tp_result_adopt(r, p);
	if (r->found.error) {
		char *msg = tp_strdupf("%s (curl: %s)", r->found.error->message, curl_msg);
		if (msg) {
			free(r->found.error->message);
			r->found.error->message = msg;
		}
	} else if (!r->found.n || r->status == TP_STATUS_OK) {
		tp_fail(&r->found, TP_HANDSHAKE_FAILURE,
			"curl failed in TLS (%s), but a probe of the same server finds nothing wrong", curl_msg);
	}
	tp_result_destroy(p);
}

/* Turn the options and the config into curl's: 0, or -1 with the error in r. */
static int
configure(struct transfer *t, const struct tp_config *cfg, char *errbuf)
{
	const struct tp_fetch_options *o = t->o;
	char err[512];

	if (!(t->h = api.easy_init())) {
		tp_fail(&t->r->found, TP_INTERNAL_ERROR, "cannot start libcurl");
		return -1;
	}
	api.easy_setopt(t->h, CURLOPT_URL, o->url);
	api.easy_setopt(t->h, CURLOPT_NOSIGNAL, 1L);
	api.easy_setopt(t->h, CURLOPT_ERRORBUFFER, errbuf);
	api.easy_setopt(t->h, CURLOPT_HEADERFUNCTION, on_header);
	api.easy_setopt(t->h, CURLOPT_HEADERDATA, t);
	api.easy_setopt(t->h, CURLOPT_WRITEFUNCTION, on_body);
	api.easy_setopt(t->h, CURLOPT_WRITEDATA, t);
	api.easy_setopt(t->h, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
	api.easy_setopt(t->h, CURLOPT_USERAGENT, "tlsprobe/" TLSPROBE_VERSION);
	api.easy_setopt(t->h, CURLOPT_PROTOCOLS_STR, "https,http");
	if (o->follow) {
		api.easy_setopt(t->h, CURLOPT_FOLLOWLOCATION, 1L);
		api.easy_setopt(t->h, CURLOPT_MAXREDIRS, o->max_redirs >= 0 ? o->max_redirs : 10L);
		api.easy_setopt(t->h, CURLOPT_REDIR_PROTOCOLS_STR, "https,http");
	}
	if (o->method)
		api.easy_setopt(t->h, CURLOPT_CUSTOMREQUEST, o->method);
	if (o->method && strcasecmp(o->method, "HEAD") == 0)
		api.easy_setopt(t->h, CURLOPT_NOBODY, 1L);
	if (o->data)
		api.easy_setopt(t->h, CURLOPT_POSTFIELDS, o->data);
	if (o->http_version)
		api.easy_setopt(t->h, CURLOPT_HTTP_VERSION,
				o->http_version == 2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
	if (o->proxy)
		api.easy_setopt(t->h, CURLOPT_PROXY, o->proxy);
	if ((o->n_headers && !(t->send_headers = slist(o->headers, o->n_headers))) ||
	    (o->n_resolve && !(t->resolve = slist(o->resolve, o->n_resolve))) ||
	    (o->n_connect_to && !(t->connect_to = slist(o->connect_to, o->n_connect_to)))) {
		tp_fail(&t->r->found, TP_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	api.easy_setopt(t->h, CURLOPT_HTTPHEADER, t->send_headers);
	api.easy_setopt(t->h, CURLOPT_RESOLVE, t->resolve);
	api.easy_setopt(t->h, CURLOPT_CONNECT_TO, t->connect_to);
	if (cfg->client_cert_file) {
		api.easy_setopt(t->h, CURLOPT_SSLCERT, cfg->client_cert_file);
		api.easy_setopt(t->h, CURLOPT_SSLKEY, cfg->client_key_file);
	}
	if (cfg->insecure) {
		api.easy_setopt(t->h, CURLOPT_SSL_VERIFYPEER, 0L);
		api.easy_setopt(t->h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (tp_trust_user_count(cfg->trust) || !tp_trust_uses_system(cfg->trust)) {
		/*
		 * Trust exactly what the probe trusts. With --ca-file the chain
		 * mostly ends at that CA: try it alone first, since curl parses
		 * every root it is given on every fetch (about 10 ms for the
		 * system's), and only when that does not verify, all of them.
		 * A failed verification sends no request, so trying twice is safe.
		 */
		if (!(t->cafile = ca_bundle(cfg, false, err, sizeof(err)))) {
			tp_fail(&t->r->found, TP_INTERNAL_ERROR, "%s", err);
			return -1;
		}
		api.easy_setopt(t->h, CURLOPT_CAINFO, t->cafile);
		api.easy_setopt(t->h, CURLOPT_CAPATH, NULL);
	}
	return 0;
}

/* The transfer, once more with every trusted root when the user's CAs alone did not verify. */
static CURLcode
perform(struct transfer *t, const struct tp_config *cfg, double started)
{
	CURLcode rc = api.easy_perform(t->h);
	double spent = tp_now_ms() - started;
	char err[512];

	if (rc == CURLE_PEER_FAILED_VERIFICATION && t->cafile && tp_trust_uses_system(cfg->trust) &&
	    tp_trust_user_count(cfg->trust) && spent + 1 < t->timeout_ms) {
		char *all = ca_bundle(cfg, true, err, sizeof(err));
		if (all) {
			/* Within what is left of --max-time. */
			api.easy_setopt(t->h, CURLOPT_TIMEOUT_MS, (long)(t->timeout_ms - (unsigned)spent));
			unlink(t->cafile);
			free(t->cafile);
			t->cafile = all;
			free_peers(t);
			t->have_tls = false;
			api.easy_setopt(t->h, CURLOPT_CAINFO, t->cafile);
			rc = api.easy_perform(t->h);
		}
	}
	return rc;
}

static const char *
http_version_name(long v)
{
	return v == CURL_HTTP_VERSION_2_0   ? "HTTP/2"
	       : v == CURL_HTTP_VERSION_1_1 ? "HTTP/1.1"
	       : v == CURL_HTTP_VERSION_1_0 ? "HTTP/1.0"
	       : v == CURL_HTTP_VERSION_3   ? "HTTP/3"
					    : NULL;
}

/* What curl learned: status, timers, where it connected (*ip, *port), its error. */
static void
collect(struct transfer *t, CURLcode rc, const char *errbuf, char **ip, long *port, long *os_errno)
{
	struct tp_result *r = t->r;
	struct tp_fetch_info *f = &r->fetch;
	curl_off_t tm[5] = {0}, size = 0;
	long http_version = 0;
	char *url = NULL, *ctype = NULL;

	api.easy_getinfo(t->h, CURLINFO_NAMELOOKUP_TIME_T, &tm[0]);
	api.easy_getinfo(t->h, CURLINFO_CONNECT_TIME_T, &tm[1]);
	api.easy_getinfo(t->h, CURLINFO_APPCONNECT_TIME_T, &tm[2]);
	api.easy_getinfo(t->h, CURLINFO_STARTTRANSFER_TIME_T, &tm[3]);
	api.easy_getinfo(t->h, CURLINFO_TOTAL_TIME_T, &tm[4]);
	api.easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &f->status);
	api.easy_getinfo(t->h, CURLINFO_HTTP_VERSION, &http_version);
	api.easy_getinfo(t->h, CURLINFO_EFFECTIVE_URL, &url);
	api.easy_getinfo(t->h, CURLINFO_PRIMARY_IP, ip);
	api.easy_getinfo(t->h, CURLINFO_PRIMARY_PORT, port);
	api.easy_getinfo(t->h, CURLINFO_CONTENT_TYPE, &ctype);
	api.easy_getinfo(t->h, CURLINFO_SIZE_DOWNLOAD_T, &size);
	api.easy_getinfo(t->h, CURLINFO_OS_ERRNO, os_errno);
	/* curl's timers are cumulative from the start; 0 means not reached. */
	f->dns_ms = tm[0] ? (double)tm[0] / 1000.0 : -1;
	f->connect_ms = tm[1] ? (double)tm[1] / 1000.0 : -1;
	f->tls_ms = tm[2] ? (double)tm[2] / 1000.0 : -1;
	f->ttfb_ms = tm[3] ? (double)tm[3] / 1000.0 : -1;
	f->total_ms = (double)tm[4] / 1000.0;
	/* Cumulative stages never go back: on a connection reused across
	 * redirects curl may put the connect a microsecond before the lookup. */
	double *stage[] = {&f->dns_ms, &f->connect_ms, &f->tls_ms, &f->ttfb_ms, &f->total_ms};
	for (size_t i = 1; i < sizeof(stage) / sizeof(*stage); i++)
		for (size_t j = 0; j < i; j++)
			if (*stage[i] >= 0 && *stage[j] > *stage[i])
				*stage[i] = *stage[j];
	f->http_version = http_version_name(http_version);
	f->final_url = url ? tp_utf8_clean(url, strlen(url)) : NULL;
	f->content_type = ctype ? tp_utf8_clean(ctype, strlen(ctype)) : NULL;
	f->size = (long long)size;
	f->reason = t->reason;
	t->reason = NULL;
	f->curl_code = (int)rc;
	f->curl_message = rc != CURLE_OK ? strdup(errbuf[0] ? errbuf : api.easy_strerror(rc)) : NULL;
	/* The trust file curl names is our temporary copy, gone by now. */
	char *cafile_note = f->curl_message ? strstr(f->curl_message, " CAfile:") : NULL;
	if (cafile_note && t->cafile)
		*cafile_note = '\0';
	if (f->curl_message) {
		size_t k = strlen(f->curl_message);
		while (k && (f->curl_message[k - 1] == '.' || f->curl_message[k - 1] == ' '))
			f->curl_message[--k] = '\0';
	}
	if (*ip && **ip)
		snprintf(r->address, sizeof(r->address), "%s", *ip);
	r->timing.dns_ms = f->dns_ms;
	r->timing.connect_ms = f->connect_ms;
	r->timing.starttls_ms = -1;
	r->timing.handshake_ms = f->tls_ms;
	r->timing.total_ms = f->total_ms;
}

/* The TLS session of the final response, and the diagnosis of its chain. */
static void
adopt_tls(struct transfer *t, const struct tp_config *cfg)
{
	struct tp_result *r = t->r;
	struct tp_target fin;
	char ferr[256];

	r->tls.done = true;
	r->tls.info.version = t->version;
	r->tls.info.cipher = t->cipher;
	r->tls.info.kx_group = t->kx_group;
	r->tls.info.sig_alg = t->sig_alg;
	r->tls.alpn = t->alpn;
	r->tls.info.alpn = t->alpn;
	r->tls.info.client_cert_requested = t->client_cert_requested;
	r->tls.info.client_cert_sent = t->client_cert_requested && cfg->client_cert_file;
	t->alpn = NULL;
	/* The name the final response's certificate must cover. */
	if (r->fetch.final_url && tp_target_parse(&fin, r->fetch.final_url, ferr, sizeof(ferr)) == 0) {
		tp_examine_into(r, cfg, t->peers, t->n_peers, fin.host, tp_config_now(cfg));
		tp_target_finish(&fin);
	}
}

/*
 * curl's GnuTLS build fails a response that the server ended by closing the
 * connection without TLS close_notify. When the response is complete by
 * HTTP's rules anyway (all of its Content-Length, or delimited by the close
 * as HTTP/1.0 allows and chunked encoding does not), it came: record that
 * truncation could not have been detected, and take it, as curl's OpenSSL
 * build and browsers do.
 */
static bool
complete_without_close_notify(struct transfer *t, CURLcode rc)
{
	const struct tp_fetch_info *f = &t->r->fetch;
	curl_off_t length = -1;

	if (rc != CURLE_RECV_ERROR || !f->curl_message || !strstr(f->curl_message, "non-properly terminated") ||
	    f->status < 200 || header_matches(t->headers, "Transfer-Encoding: chunked"))
		return false;
	api.easy_getinfo(t->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
	if (length >= 0 && f->size != (long long)length)
		return false;
	tp_find(&t->r->found, TP_NO_CLOSE_NOTIFY, -1,
		"the server closed the connection after the response without TLS close_notify; the response is "
		"complete by HTTP's rules (%s), but a cut-off one would have looked the same",
		length >= 0 ? "all of its Content-Length" : "delimited by the close");
	return true;
}

/* The checks a monitoring system asked for, on a response that came. */
static void
check_response(struct transfer *t)
{
	const struct tp_fetch_options *o = t->o;
	struct tp_findings *found = &t->r->found;
	const struct tp_fetch_info *f = &t->r->fetch;

	/* Followed from https:// to http://: the final answer came in the clear. */
	if (f->final_url && strncasecmp(f->final_url, "http://", 7) == 0 && strncasecmp(o->url, "https://", 8) == 0)
		tp_find(found, TP_INSECURE_REDIRECT, -1, "the redirects end at %s, an answer sent in the clear",
			f->final_url);
	if (o->expect_status && !status_expected(o->expect_status, f->status))
		tp_find(found, TP_HTTP_STATUS, -1, "the server answered %ld%s%s, not %s", f->status,
			f->reason ? " " : "", f->reason ? f->reason : "", o->expect_status);
	if (o->expect_body && !(t->body && memmem(t->body, t->body_len, o->expect_body, strlen(o->expect_body))))
		tp_find(found, TP_BODY_MISMATCH, -1, "the response body%s does not contain \"%s\"",
			t->body_len == BODY_KEEP ? " (its first 4 MiB)" : "", o->expect_body);
	for (size_t i = 0; i < o->n_expect_headers; i++)
		if (!header_matches(t->headers, o->expect_headers[i]))
			tp_find(found, TP_HEADER_MISMATCH, -1, "the response has no header \"%s\"",
				o->expect_headers[i]);
	if (o->max_ms > 0 && f->total_ms > (double)o->max_ms)
		tp_find(found, TP_TOO_SLOW, -1, "the request took %.0f ms, more than --max-ms %ld", f->total_ms,
			o->max_ms);
}

static void
transfer_finish(struct transfer *t)
{
	if (api.loaded) {
		if (t->h)
			api.easy_cleanup(t->h);
		api.slist_free_all(t->send_headers);
		api.slist_free_all(t->resolve);
		api.slist_free_all(t->connect_to);
	}
	if (t->cafile) {
		unlink(t->cafile);
		free(t->cafile);
	}
	free_peers(t);
	free(t->alpn);
	free(t->reason);
	free(t->headers);
	free(t->body);
}

struct tp_result *
tp_fetch(struct tp_config *cfg, const struct tp_fetch_options *o)
{
	struct tp_target target;
	char err[512] = "", errbuf[CURL_ERROR_SIZE] = "";
	struct transfer t = {.o = o,
			     .timeout_ms = o->timeout_ms && o->timeout_ms < cfg->timeout_ms ? o->timeout_ms
											    : cfg->timeout_ms};
	struct tp_result *r;
	char *ip = NULL;
	long port = 0, os_errno = 0;
	double started;
	CURLcode rc;

	if (tp_target_parse(&target, o->url, err, sizeof(err)) < 0) {
		target = (struct tp_target){.input = (char *)o->url, .host = (char *)""};
		r = tp_result_create(&target);
		if (r)
			tp_fail(&r->found, TP_INTERNAL_ERROR, "%s", err);
		return r;
	}
	r = tp_result_create(&target);
	tp_target_finish(&target);
	if (!r)
		return NULL;
	r->is_fetch = true;
	/* curl sends the URL's host name as SNI, never an IP address. */
	if (!r->target.host_is_ip && r->target.host[0])
		r->sni = strdup(r->target.host);
	t.r = r;
	pthread_once(&api_once, load_curl);
	if (!api.loaded) {
		tp_fail(&r->found, TP_INTERNAL_ERROR, "%s", api.error);
		goto out;
	}
	if (configure(&t, cfg, errbuf) < 0)
		goto out;
	tp_examine_client_cert(r, cfg, tp_config_now(cfg));
	started = tp_now_ms();
	rc = perform(&t, cfg, started);
	collect(&t, rc, errbuf, &ip, &port, &os_errno);
	if (t.have_tls)
		adopt_tls(&t, cfg);
	if (rc == CURLE_OK || complete_without_close_notify(&t, rc))
		check_response(&t);
	else if (probe_explains(rc) && !t.have_tls && r->target.host[0])
		explain_with_probe(r, cfg, r->target.host, port ? port : r->target.port, ip, t.timeout_ms,
				   tp_now_ms() - started, r->fetch.curl_message);
	else
		map_curl_error(r, rc, r->fetch.curl_message, os_errno);
out:
	transfer_finish(&t);
	tp_result_judge(r, cfg->insecure, cfg->clients);
	return r;
}

const char *
tp_fetch_curl_version(void)
{
	pthread_once(&api_once, load_curl);
	return api.loaded ? api.version_info(CURLVERSION_NOW)->version : "not found";
}

/* ---- small downloads: an issuer from its AIA URL ------------------------ */

struct download {
	unsigned char *data;
	size_t len, max;
	bool over;
};

static size_t
on_download(char *data, size_t size, size_t n, void *arg)
{
	struct download *dl = arg;
	size_t len = size * n;
	unsigned char *grown;

	if (dl->len + len > dl->max) {
		dl->over = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	if (!(grown = realloc(dl->data, dl->len + len + 1)))
		return 0;
	dl->data = grown;
	memcpy(dl->data + dl->len, data, len);
	dl->len += len;
	return len;
}

int
tp_fetch_download(const struct tp_config *cfg, const char *url, const gnutls_datum_t *post, const char *type,
		  size_t max, unsigned timeout_ms, gnutls_datum_t *out, char *err, size_t errlen)
{
	struct curl_slist *headers = NULL;
	struct download dl = {.max = max};
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;
	CURL *h;

	*out = (gnutls_datum_t){NULL, 0};
	pthread_once(&api_once, load_curl);
	if (!api.loaded) {
		snprintf(err, errlen, "%s", api.error);
		return -1;
	}
	if (!(h = api.easy_init())) {
		snprintf(err, errlen, "cannot start libcurl");
		return -1;
	}
	api.easy_setopt(h, CURLOPT_URL, url);
	/* AIA and CRL URLs are plain HTTP by design (RFC 5280 4.2.2.1). */
	api.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	api.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	api.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	api.easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_ms ? timeout_ms : 1));
	api.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	api.easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
	api.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	api.easy_setopt(h, CURLOPT_USERAGENT, "tlsprobe/" TLSPROBE_VERSION);
	api.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_download);
	api.easy_setopt(h, CURLOPT_WRITEDATA, &dl);
	if (post) {
		char ct[128];
		snprintf(ct, sizeof(ct), "Content-Type: %s", type ? type : "application/octet-stream");
		headers = api.slist_append(NULL, ct);
		api.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
		api.easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)post->data);
		api.easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)post->size);
	}
	/* The probe's proxy settings: --proxy, --noproxy, else the environment's. */
	if (cfg->proxy)
		api.easy_setopt(h, CURLOPT_PROXY, cfg->proxy);
	if (cfg->noproxy)
		api.easy_setopt(h, CURLOPT_NOPROXY, cfg->noproxy);
	rc = api.easy_perform(h);
	api.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	api.easy_cleanup(h);
	if (headers)
		api.slist_free_all(headers);
	if (rc == CURLE_OK && status >= 200 && status < 300 && dl.len) {
		out->data = dl.data;
		out->size = (unsigned)dl.len;
		return 0;
	}
	if (dl.over)
		snprintf(err, errlen, "it is larger than %zu bytes", max);
	else if (rc != CURLE_OK)
		snprintf(err, errlen, "%s", errbuf[0] ? errbuf : api.easy_strerror(rc));
	else if (status < 200 || status >= 300)
		snprintf(err, errlen, "the server answered HTTP %ld", status);
	else
		snprintf(err, errlen, "the server sent nothing");
	free(dl.data);
	return -1;
}
