/*
 * probe.c: the configuration, the result, and one probe from start to end:
 * connect, handshake, collect the chain, diagnose, judge.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gnutls/abstract.h>

#include "internal.h"

#define MAX_CLIENT_CERTS 16
/* Certificates past this many are not examined (GnuTLS's own verify depth is 16). */
#define MAX_PEER_CERTS 64

/* ---- strings ------------------------------------------------------------- */

char *
tp_vstrdupf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

char *
tp_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	s = tp_vstrdupf(fmt, ap);
	va_end(ap);
	return s;
}

int
tp_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- configuration ------------------------------------------------------- */

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
	cfg->timeout_ms = 10000;
	cfg->family = AF_UNSPEC;
	cfg->warn_days = 30;
	cfg->crit_days = 14;
	return cfg;
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
	vsnprintf(cfg->error, sizeof(cfg->error), fmt, ap);
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
		return tp_config_fail(cfg, "--client-cert and --client-key go together: give both");
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
		return tp_config_fail(cfg, "invalid ALPN list '%s': give protocols separated by commas, "
					   "e.g. h2,http/1.1", list ? list : "");
	for (const char *p = list; *p; p++)
		n += *p == ',';
	if (n > 16)
		return tp_config_fail(cfg, "too many ALPN protocols (at most 16)");
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
		{"1.0", GNUTLS_TLS1_0}, {"1.1", GNUTLS_TLS1_1}, {"1.2", GNUTLS_TLS1_2}, {"1.3", GNUTLS_TLS1_3},
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
		return tp_config_fail(cfg, "--tls-min %s is above --tls-max %s", min, max);
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
tp_config_set_family(struct tp_config *cfg, int family)
{
	cfg->family = family;
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
		return tp_config_fail(cfg, "--warn-days and --crit-days must not be negative");
	if (crit > warn)
		return tp_config_fail(cfg, "--crit-days %d is above --warn-days %d: the critical threshold must be "
					   "the smaller one", crit, warn);
	cfg->warn_days = warn;
	cfg->crit_days = crit;
	return 0;
}

static int
load_client_cert(struct tp_config *cfg)
{
	gnutls_datum_t key = {NULL, 0};
	unsigned n = MAX_CLIENT_CERTS;
	int ret;

	cfg->client_pcert = calloc(MAX_CLIENT_CERTS, sizeof(*cfg->client_pcert));
	if (!cfg->client_pcert)
		return tp_config_fail(cfg, "out of memory");
	ret = gnutls_pcert_list_import_x509_file(cfg->client_pcert, &n, cfg->client_cert_file,
						 GNUTLS_X509_FMT_PEM, NULL, NULL, 0);
	if (ret < 0)
		ret = gnutls_pcert_list_import_x509_file(cfg->client_pcert, &n, cfg->client_cert_file,
							 GNUTLS_X509_FMT_DER, NULL, NULL, 0);
	if (ret < 0)
		return tp_config_fail(cfg, "client certificate %s: %s", cfg->client_cert_file, gnutls_strerror(ret));
	cfg->client_pcert_n = n;
	if ((ret = gnutls_load_file(cfg->client_key_file, &key)) < 0)
		return tp_config_fail(cfg, "cannot read client key %s", cfg->client_key_file);
	if ((ret = gnutls_privkey_init(&cfg->client_key)) == 0) {
		ret = gnutls_privkey_import_x509_raw(cfg->client_key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
		if (ret < 0)
			ret = gnutls_privkey_import_x509_raw(cfg->client_key, &key, GNUTLS_X509_FMT_DER, NULL, 0);
	}
	gnutls_free(key.data);
	if (ret < 0)
		return tp_config_fail(cfg, "client key %s: %s (an unencrypted PEM or DER private key is needed)",
				      cfg->client_key_file, gnutls_strerror(ret));
	return 0;
}

/* The lowest and highest versions this probe offers. */
static void
offered_versions(const struct tp_config *cfg, int *lo, int *hi)
{
	*lo = cfg->tls_min ? cfg->tls_min : cfg->priority ? GNUTLS_TLS1_0 : GNUTLS_TLS1_2;
	*hi = cfg->tls_max ? cfg->tls_max : GNUTLS_TLS1_3;
}

int
tp_config_ready(struct tp_config *cfg)
{
	static const char *const vers[] = {
		[GNUTLS_TLS1_0] = "TLS1.0", [GNUTLS_TLS1_1] = "TLS1.1",
		[GNUTLS_TLS1_2] = "TLS1.2", [GNUTLS_TLS1_3] = "TLS1.3",
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
		offered_versions(cfg, &lo, &hi);
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
			tp_config_fail(cfg, "invalid --priority '%.200s': GnuTLS cannot parse it at '%.40s'", prio, err);
		else
			tp_config_fail(cfg, "invalid --priority '%.200s': %s", prio, gnutls_strerror(ret));
		free(prio);
		return -1;
	}
	free(prio);
	if ((ret = gnutls_certificate_allocate_credentials(&cfg->cred)) < 0)
		return tp_config_fail(cfg, "cannot allocate credentials: %s", gnutls_strerror(ret));
	tp_session_setup_credentials(cfg->cred);
	if (cfg->client_cert_file && load_client_cert(cfg) < 0) {
		unready(cfg);
		return -1;
	}
	cfg->ready = true;
	return 0;
}

/* ---- results ------------------------------------------------------------- */

static struct tp_problem *
new_problem(struct tp_result *r)
{
	struct tp_problem *grown = realloc(r->problems, (r->n_problems + 1) * sizeof(*grown));

	if (!grown)
		return NULL;
	r->problems = grown;
	memset(&grown[r->n_problems], 0, sizeof(*grown));
	return &grown[r->n_problems++];
}

TP_PRINTF(5, 0) static void
problem_fill(struct tp_result *r, struct tp_problem *p, enum tp_code code, int cert_index, const char *fmt,
	     va_list ap)
{
	const struct tp_reason *reason = tp_reason_get(code);

	p->code = code;
	p->severity = reason->status;
	p->cert_index = cert_index;
	p->subject = cert_index >= 0 && (size_t)cert_index < r->n_certs ? strdup(r->certs[cert_index].subject)
									 : NULL;
	p->message = tp_vstrdupf(fmt, ap);
	p->fix = strdup(reason->fix);
}

static void
problem_free(struct tp_problem *p)
{
	free(p->subject);
	free(p->message);
	free(p->fix);
}

struct tp_problem *
tp_result_fail(struct tp_result *r, enum tp_code code, const char *fmt, ...)
{
	va_list ap;

	if (r->error)
		return r->error;
	r->error = calloc(1, sizeof(*r->error));
	if (!r->error)
		return NULL;
	va_start(ap, fmt);
	problem_fill(r, r->error, code, -1, fmt, ap);
	va_end(ap);
	return r->error;
}

struct tp_problem *
tp_result_add(struct tp_result *r, enum tp_code code, int cert_index, const char *fmt, ...)
{
	struct tp_problem *p = new_problem(r);
	va_list ap;

	if (!p)
		return NULL;
	va_start(ap, fmt);
	problem_fill(r, p, code, cert_index, fmt, ap);
	va_end(ap);
	return p;
}

void
tp_problem_set_fix(struct tp_problem *p, const char *fmt, ...)
{
	va_list ap;
	char *fix;

	if (!p)
		return;
	va_start(ap, fmt);
	fix = tp_vstrdupf(fmt, ap);
	va_end(ap);
	if (fix) {
		free(p->fix);
		p->fix = fix;
	}
}

void
tp_result_adopt(struct tp_result *r, struct tp_result *from)
{
	r->handshake_done = from->handshake_done;
	r->tls = from->tls;
	free(r->alpn);
	r->alpn = from->alpn;
	from->alpn = NULL;
	r->certs = from->certs;
	r->n_certs = from->n_certs;
	from->certs = NULL;
	from->n_certs = 0;
	gnutls_free(r->ocsp_der.data);
	r->ocsp_der = from->ocsp_der;
	from->ocsp_der = (gnutls_datum_t){NULL, 0};
	r->ocsp = from->ocsp;
	r->verified = from->verified;
	r->trusted = from->trusted;
	r->hostname_ok = from->hostname_ok;
	free(r->verify_name);
	r->verify_name = from->verify_name;
	from->verify_name = NULL;
	free(r->gnutls_status);
	r->gnutls_status = from->gnutls_status;
	from->gnutls_status = NULL;
	r->problems = from->problems;
	r->n_problems = from->n_problems;
	from->problems = NULL;
	from->n_problems = 0;
	r->error = from->error;
	from->error = NULL;
	r->status = from->status;
	r->reason = from->reason;
	if (!r->address[0])
		memcpy(r->address, from->address, sizeof(r->address));
}

void
tp_result_destroy(struct tp_result *r)
{
	if (!r)
		return;
	free(r->fetch.reason);
	free(r->fetch.final_url);
	free(r->fetch.content_type);
	free(r->fetch.curl_message);
	for (size_t i = 0; i < r->fetch.n_hops; i++)
		free(r->fetch.hops[i].url);
	free(r->fetch.hops);
	tp_target_finish(&r->target);
	free(r->sni);
	free(r->alpn);
	free(r->verify_name);
	free(r->gnutls_status);
	gnutls_free(r->ocsp_der.data);
	for (size_t i = 0; i < r->n_certs; i++)
		tp_chain_facts_free(&r->certs[i]);
	free(r->certs);
	for (size_t i = 0; i < r->n_problems; i++)
		problem_free(&r->problems[i]);
	free(r->problems);
	if (r->error)
		problem_free(r->error);
	free(r->error);
	free(r);
}

static int
by_severity(const void *a, const void *b)
{
	const struct tp_problem *p = a, *q = b;

	if (p->severity != q->severity)
		return (int)q->severity - (int)p->severity;
	if (p->code != q->code)
		return (int)p->code - (int)q->code;
	return p->cert_index - q->cert_index;
}

/* A finding counts towards the status unless --insecure waives it. */
static bool
counts(const struct tp_config *cfg, const struct tp_problem *p)
{
	return !cfg->insecure || p->code == TP_EXPIRES_SOON;
}

void
tp_result_judge(struct tp_result *r, const struct tp_config *cfg)
{
	r->status = TP_STATUS_OK;
	r->reason = TP_CODE_NONE;
	if (r->error) {
		r->status = r->error->severity;
		r->reason = r->error->code;
		return;
	}
	if (r->n_problems)
		qsort(r->problems, r->n_problems, sizeof(*r->problems), by_severity);
	for (size_t i = 0; i < r->n_problems; i++) {
		struct tp_problem *p = &r->problems[i];
		p->waived = !counts(cfg, p);
		if (p->waived)
			continue;
		if (p->severity > r->status) {
			r->status = p->severity;
			r->reason = p->code;
		}
	}
}

static void examine_chain(struct tp_result *r, struct tp_config *cfg, const gnutls_datum_t *ders, unsigned n,
			  const char *name, time_t now, bool verify);

void
tp_examine_into(struct tp_result *r, struct tp_config *cfg, const gnutls_datum_t *ders, unsigned n, const char *name,
		time_t now)
{
	examine_chain(r, cfg, ders, n, name, now, true);
}

static void
examine_chain(struct tp_result *r, struct tp_config *cfg, const gnutls_datum_t *ders, unsigned n, const char *name,
	      time_t now, bool verify)
{
	gnutls_x509_crt_t *certs;

	r->n_sent = n;
	if (n > MAX_PEER_CERTS)
		n = MAX_PEER_CERTS;
	certs = calloc(n ? n : 1, sizeof(*certs));
	r->certs = calloc(n ? n : 1, sizeof(*r->certs));
	if (!certs || !r->certs) {
		tp_result_fail(r, TP_INTERNAL_ERROR, "out of memory");
		free(certs);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		int ret = gnutls_x509_crt_init(&certs[i]);
		if (ret == 0)
			ret = gnutls_x509_crt_import(certs[i], &ders[i], GNUTLS_X509_FMT_DER);
		if (ret < 0) {
			tp_result_fail(r, TP_HANDSHAKE_FAILURE, "certificate %u cannot be parsed: %s", i,
				       gnutls_strerror(ret));
			goto out;
		}
		if (tp_chain_facts(&r->certs[i], certs[i], now) < 0) {
			r->n_certs = i + 1;
			tp_result_fail(r, TP_INTERNAL_ERROR, "out of memory");
			goto out;
		}
		r->n_certs = i + 1;
	}
	if (verify)
		tp_diagnose(r, cfg, certs, n, name, now);
out:
	for (unsigned i = 0; i < n; i++)
		if (certs[i])
			gnutls_x509_crt_deinit(certs[i]);
	free(certs);
}

struct tp_result *
tp_result_create(const struct tp_target *target)
{
	struct tp_result *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->timing = (struct tp_timing){-1, -1, -1, -1, -1};
	r->target.input = strdup(target->input ? target->input : "");
	r->target.host = strdup(target->host ? target->host : "");
	r->target.sni = target->sni ? strdup(target->sni) : NULL;
	r->target.port = target->port;
	r->target.host_is_ip = target->host_is_ip;
	r->target.starttls = target->starttls ? strdup(target->starttls) : NULL;
	r->target.port_given = target->port_given;
	r->target.connect_host = target->connect_host ? strdup(target->connect_host) : NULL;
	r->target.connect_port = target->connect_port;
	r->target.connect_is_ip = target->connect_is_ip;
	r->ocsp.this_update = r->ocsp.next_update = r->ocsp.revocation_time = (time_t)-1;
	return r;
}

/* The first certificate that is not a CA: where a file's leaf is. */
static size_t
find_leaf(const gnutls_datum_t *certs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		gnutls_x509_crt_t crt;
		bool ca = true;
		if (gnutls_x509_crt_init(&crt) < 0)
			return 0;
		if (gnutls_x509_crt_import(crt, &certs[i], GNUTLS_X509_FMT_DER) == 0)
			ca = tp_chain_is_ca(crt);
		gnutls_x509_crt_deinit(crt);
		if (!ca)
			return i;
	}
	return 0;
}

struct tp_result *
tp_examine(struct tp_config *cfg, const char *label, const gnutls_datum_t *certs, size_t n, const char *name,
	   bool verify)
{
	struct tp_target t = {.input = (char *)label, .host = (char *)label};
	struct tp_result *r = tp_result_create(&t);
	double t0 = tp_now_ms();
	size_t leaf = n ? find_leaf(certs, n) : 0;
	gnutls_datum_t *order = NULL;

	if (!r)
		return NULL;
	/*
	 * A file that starts with a CA certificate, the leaf further down:
	 * a server would present the CA as its own. Judge the chain as it
	 * should be, leaf first, and say so.
	 */
	if (leaf && (order = malloc(n * sizeof(*order)))) {
		order[0] = certs[leaf];
		for (size_t i = 0, k = 1; i < n; i++)
			if (i != leaf)
				order[k++] = certs[i];
	}
	if (n == 0)
		tp_result_fail(r, TP_INTERNAL_ERROR, "no certificate to examine");
	else
		examine_chain(r, cfg, order ? order : certs, (unsigned)n, name, cfg->at ? cfg->at : time(NULL), verify);
	if (order && r->n_certs > 1) {
		char *first = tp_short_name(r->certs[1].subject), *own = tp_short_name(r->certs[0].subject);
		struct tp_problem *p = tp_result_add(r, TP_CHAIN_ORDER, 0,
			"the file starts with '%s', a CA certificate; the leaf '%s' is its certificate #%zu (shown here "
			"as #0, as a server must send it)", first ? first : "?", own ? own : "?", leaf);
		if (p) {
			p->severity = TP_STATUS_CRITICAL;
			tp_problem_set_fix(p, "Put the leaf first in the file, then its issuer, then that one's issuer: "
					      "a server presents the first certificate as its own, and its key must "
					      "match it.");
		}
		free(first);
		free(own);
	}
	free(order);
	r->timing.total_ms = tp_now_ms() - t0;
	tp_result_judge(r, cfg);
	return r;
}

/* Replace an error's code, keeping its message; the fix follows the code. */
static void
retarget(struct tp_problem *p, enum tp_code code)
{
	const struct tp_reason *reason = tp_reason_get(code);

	p->code = code;
	p->severity = reason->status;
	tp_problem_set_fix(p, "%s", reason->fix);
}

TP_PRINTF(2, 3) static void
append(struct tp_problem *p, const char *fmt, ...)
{
	va_list ap;
	char *more, *msg;

	va_start(ap, fmt);
	more = tp_vstrdupf(fmt, ap);
	va_end(ap);
	msg = more ? tp_strdupf("%s; %s", p->message, more) : NULL;
	if (msg) {
		free(p->message);
		p->message = msg;
	}
	free(more);
}


/* Whether the suite session s negotiated is among those prio offers. */
static bool
suite_offered(gnutls_priority_t prio, gnutls_session_t s)
{
	gnutls_kx_algorithm_t kx = gnutls_kx_get(s);
	gnutls_cipher_algorithm_t cipher = gnutls_cipher_get(s);
	gnutls_mac_algorithm_t mac = gnutls_mac_get(s);
	bool tls13 = gnutls_protocol_get_version(s) == GNUTLS_TLS1_3;

	for (unsigned idx = 0;; idx++) {
		unsigned sidx;
		unsigned char id[2];
		gnutls_kx_algorithm_t k;
		gnutls_cipher_algorithm_t c;
		gnutls_mac_algorithm_t m;
		gnutls_protocol_t minv;
		int ret = gnutls_priority_get_cipher_suite_index(prio, idx, &sidx);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return false;
		if (ret < 0 || !gnutls_cipher_suite_info(sidx, id, &k, &c, &m, &minv))
			continue;
		/* TLS 1.3 suites name no key exchange. */
		if (c == cipher && m == mac && (tls13 || k == kx))
			return true;
	}
}

/*
 * When the server refused what was offered (no common version, or a
 * handshake_failure alert), connect once more offering every version and
 * cipher suite GnuTLS knows: what the server then picks says which of the
 * two it was, and what to change.
 */
static void
second_look(struct tp_result *r, struct tp_config *cfg, const struct tp_deadline *d)
{
	static const char wide[] =
		"NORMAL:+VERS-TLS1.1:+VERS-TLS1.0:+AES-128-CCM-8:+AES-256-CCM-8:+CAMELLIA-128-GCM:"
		"+CAMELLIA-256-GCM:+CAMELLIA-128-CBC:+CAMELLIA-256-CBC:+3DES-CBC:+ARCFOUR-128:+SHA256:+SHA384:"
		"+MD5:+DHE-DSS:+SIGN-ALL:+GROUP-ALL:%VERIFY_ALLOW_SIGN_WITH_SHA1";
	struct tp_config look = *cfg;
	struct tp_result scratch = {.target = r->target, .sni = r->sni};
	struct tp_problem *e = r->error;
	bool limited = cfg->tls_min || cfg->tls_max || cfg->priority;
	gnutls_session_t s;
	int fd, lo, hi;

	if (tp_deadline_left(d) == 0 || gnutls_priority_init(&look.prio, wide, NULL) < 0)
		return;
	offered_versions(cfg, &lo, &hi);
	fd = tp_net_connect(&scratch, &look, d);
	s = fd >= 0 ? tp_session_handshake(&scratch, &look, fd, d) : NULL;
	if (s) {
		int v = (int)gnutls_protocol_get_version(s);
		const char *name = scratch.tls.version, *num = strchr(name, 'v') ? strchr(name, 'v') + 1 : name;
		if (v < lo || v > hi) {
			if (e->code != TP_PROTOCOL_VERSION)
				retarget(e, TP_PROTOCOL_VERSION);
			append(e, "offered every version, the server chose %s, which %s", name,
			       limited ? "the --tls-min/--tls-max/--priority settings exclude"
				       : "tlsprobe refuses by default, as current browsers and clients do");
			if (limited)
				tp_problem_set_fix(e, "The best version this server speaks is %s: allow it in the probe "
						      "(--tls-min %s), or enable the versions you asked for on the server.",
						   name, num);
			else
				tp_problem_set_fix(e, "The best version this server speaks is %s: enable TLS 1.2 and "
						      "TLS 1.3 on it. To inspect it as it is, probe with --tls-min %s.",
						   name, num);
		} else if (suite_offered(cfg->prio, s)) {
			/* The suite was in the first offer too: what the wider offer
			 * added that mattered was a group or a signature algorithm. */
			gnutls_group_t g = gnutls_group_get(s);
			gnutls_sign_algorithm_t sig = gnutls_sign_algorithm_get(s);
			append(e, "offered every algorithm GnuTLS knows, the server chose %s (%s), which was offered "
				  "already, with key exchange %s and signature %s: one of those two is what it wants",
			       scratch.tls.cipher ? scratch.tls.cipher : "?", name, g ? gnutls_group_get_name(g) : "?",
			       sig != GNUTLS_SIGN_UNKNOWN ? gnutls_sign_get_name(sig) : "?");
			tp_problem_set_fix(e, "The server accepts only a key-exchange group or signature algorithm that "
					      "current clients do not offer: configure ECDHE groups X25519 or P-256 and "
					      "ECDSA or RSA-PSS signatures on it. To inspect it as it is, probe with "
					      "--priority 'NORMAL:+GROUP-ALL:+SIGN-ALL'.");
		} else {
			const char *cipher = gnutls_cipher_get_name(gnutls_cipher_get(s));
			const char *mac = gnutls_mac_get_name(gnutls_mac_get(s));
			const char *kx = gnutls_kx_get_name(gnutls_kx_get(s));
			retarget(e, TP_NO_SHARED_CIPHER);
			append(e, "offered every cipher suite GnuTLS knows, the server chose %s (%s), which %s",
			       scratch.tls.cipher ? scratch.tls.cipher : "?", name,
			       limited ? "the --priority/--tls-min/--tls-max settings exclude"
				       : "tlsprobe does not offer by default");
			tp_problem_set_fix(e, "The server accepts only cipher suites current clients do not offer, such "
					      "as %s: enable ECDHE with AES-GCM or ChaCha20-Poly1305 on it. To inspect it "
					      "as it is, probe with --priority 'NORMAL:+%s%s%s%s%s'.",
					   scratch.tls.cipher ? scratch.tls.cipher : "?", cipher ? cipher : "CIPHER-ALL",
					   mac && strcmp(mac, "AEAD") ? ":+" : "", mac && strcmp(mac, "AEAD") ? mac : "",
					   kx && v < GNUTLS_TLS1_3 ? ":+" : "", kx && v < GNUTLS_TLS1_3 ? kx : "");
		}
		tp_session_free(s);
	} else if (scratch.error && scratch.error->code == TP_PROTOCOL_VERSION) {
		retarget(e, TP_PROTOCOL_VERSION);
		append(e, "it refused TLS 1.0 to 1.3 alike, so it speaks only SSL 3.0 or older, or nothing this "
			  "client knows");
	} else if (scratch.error) {
		append(e, "a second handshake offering every version and cipher suite GnuTLS knows failed too, so the "
			  "server wants something else: an algorithm GnuTLS lacks, another name (--sni), or a "
			  "client certificate");
	}
	if (fd >= 0)
		close(fd);
	gnutls_priority_deinit(look.prio);
	if (scratch.error) {
		problem_free(scratch.error);
		free(scratch.error);
	}
	free(scratch.alpn);
	gnutls_free(scratch.ocsp_der.data);
}

struct tp_result *
tp_probe(struct tp_config *cfg, const struct tp_target *target)
{
	struct tp_result *r = tp_result_create(target);
	struct tp_deadline d;
	double t0 = tp_now_ms();
	time_t now = cfg->at ? cfg->at : time(NULL);
	const char *name;
	gnutls_session_t s;
	int fd;

	if (!r)
		return NULL;
	/* No SNI for IP literals (RFC 6066); --sni overrides either way. */
	if (target->sni)
		r->sni = strdup(target->sni);
	else if (!target->host_is_ip)
		r->sni = strdup(target->host);
	name = target->sni ? target->sni : target->host;

	if (tp_config_ready(cfg) < 0) {
		tp_result_fail(r, TP_INTERNAL_ERROR, "%s", cfg->error);
		goto out;
	}
	tp_deadline_start(&d, cfg->timeout_ms);
	fd = tp_net_connect(r, cfg, &d);
	if (fd < 0)
		goto out;
	if (target->starttls) {
		double t1 = tp_now_ms();
		int ret = tp_starttls(r, fd, target->starttls, &d);
		r->timing.starttls_ms = tp_now_ms() - t1;
		if (ret < 0) {
			close(fd);
			goto out;
		}
	}
	s = tp_session_handshake(r, cfg, fd, &d);
	if (s) {
		unsigned n = 0;
		const gnutls_datum_t *peers = gnutls_certificate_get_peers(s, &n);
		examine_chain(r, cfg, peers, n, name, now, true);
		/* Say goodbye without waiting for the server's reply. */
		gnutls_bye(s, GNUTLS_SHUT_WR);
		tp_session_free(s);
	}
	close(fd);
	if (r->error && (r->error->code == TP_PROTOCOL_VERSION || r->offer_refused))
		second_look(r, cfg, &d);
out:
	r->timing.total_ms = tp_now_ms() - t0;
	/* Report each stage as the time from the start until it ended, as
	 * curl's timers do: dns <= connect <= handshake <= total. */
	if (r->timing.connect_ms >= 0 && r->timing.dns_ms >= 0)
		r->timing.connect_ms += r->timing.dns_ms;
	double before = r->timing.connect_ms;
	if (r->timing.starttls_ms >= 0 && before >= 0)
		before = r->timing.starttls_ms += before;
	if (r->timing.handshake_ms >= 0 && before >= 0)
		r->timing.handshake_ms += before;
	tp_result_judge(r, cfg);
	return r;
}

/* ---- getters ------------------------------------------------------------- */

enum tp_status tp_result_status(const struct tp_result *r) { return r->status; }
enum tp_code tp_result_reason(const struct tp_result *r) { return r->reason; }
const struct tp_target *tp_result_target(const struct tp_result *r) { return &r->target; }
const char *tp_result_sni(const struct tp_result *r) { return r->sni; }
const char *tp_result_address(const struct tp_result *r) { return r->address[0] ? r->address : NULL; }
const struct tp_timing *tp_result_timing(const struct tp_result *r) { return &r->timing; }
const struct tp_tls_info *tp_result_tls(const struct tp_result *r) { return r->handshake_done ? &r->tls : NULL; }
const struct tp_ocsp_info *tp_result_ocsp(const struct tp_result *r) { return r->handshake_done ? &r->ocsp : NULL; }
size_t tp_result_cert_count(const struct tp_result *r) { return r->n_certs; }
const struct tp_cert_info *tp_result_cert(const struct tp_result *r, size_t i) { return i < r->n_certs ? &r->certs[i] : NULL; }
bool tp_result_verified(const struct tp_result *r) { return r->verified; }
bool tp_result_trusted(const struct tp_result *r) { return r->trusted; }
bool tp_result_hostname_ok(const struct tp_result *r) { return r->hostname_ok; }
const char *tp_result_verify_name(const struct tp_result *r) { return r->verify_name; }
const char *tp_result_gnutls_status(const struct tp_result *r) { return r->gnutls_status; }
size_t tp_result_problem_count(const struct tp_result *r) { return r->n_problems; }
const struct tp_problem *tp_result_problem(const struct tp_result *r, size_t i) { return i < r->n_problems ? &r->problems[i] : NULL; }
const struct tp_problem *tp_result_error(const struct tp_result *r) { return r->error; }
const struct tp_fetch_info *tp_result_fetch(const struct tp_result *r) { return r->is_fetch ? &r->fetch : NULL; }
