/*
 * render_json.c: one JSON object per target, schema "tlsprobe/1", built with
 * jansson. The core hands over valid UTF-8; jansson escapes the rest.
 */
#include <math.h>
#include <string.h>

#include "cli.h"

static json_t *
jstr(const char *s)
{
	json_t *j;

	if (!s)
		return json_null();
	j = json_string(s);
	if (!j) {
		/* Not UTF-8 after all: never let that break the document. */
		char *clean = tp_utf8_clean(s, strlen(s));
		j = clean ? json_string(clean) : NULL;
		free(clean);
	}
	return j ? j : json_null();
}

static json_t *
jms(double ms)
{
	if (ms < 0)
		return json_null();
	return json_real(round(ms * 1000) / 1000);
}

static json_t *
jtime(time_t t)
{
	char buf[32];
	struct tm tm;

	if (t == (time_t)-1 || !gmtime_r(&t, &tm))
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *
jlist(char *const *items, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, jstr(items[i]));
	return a;
}

static json_t *
problem_object(const struct tp_problem *p, bool with_cert)
{
	json_t *o = json_object();

	json_object_set_new(o, "code", json_string(tp_reason_get(p->code)->name));
	if (with_cert) {
		json_object_set_new(o, "severity", json_string(tp_status_name(p->severity)));
		json_object_set_new(o, "cert_index", p->cert_index >= 0 ? json_integer(p->cert_index) : json_null());
		json_object_set_new(o, "subject", jstr(p->subject));
		json_object_set_new(o, "waived", json_boolean(p->waived));
		json_t *by = json_array();
		for (int c = 0; c < TP_CLIENT_COUNT; c++)
			if (p->refused_by & (1u << c))
				json_array_append_new(by, json_string(tp_client_name((enum tp_client)c)));
		json_object_set_new(o, "refused_by", by);
	}
	json_object_set_new(o, "message", jstr(p->message));
	json_object_set_new(o, "fix", jstr(p->fix));
	return o;
}

/* How a certificate's revocation was checked: null when it was not. */
static json_t *
revocation_object(const struct tp_revocation *rv)
{
	if (!rv || !rv->method)
		return json_null();
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "method", rv->method, "status", jstr(rv->status),
			 "source", jstr(rv->source), "this_update", jtime(rv->this_update), "next_update",
			 jtime(rv->next_update), "revoked_at", jtime(rv->revoked_at), "reason", jstr(rv->reason), "ms",
			 jms(rv->ms));
}

static json_t *
cert_object(const struct tp_cert_info *c, size_t index, const struct tp_revocation *rv)
{
	json_t *o = json_object(), *key = json_object();

	json_object_set_new(o, "index", json_integer((json_int_t)index));
	json_object_set_new(o, "subject", jstr(c->subject));
	json_object_set_new(o, "issuer", jstr(c->issuer));
	json_object_set_new(o, "serial", jstr(c->serial));
	json_object_set_new(o, "not_before", jtime(c->not_before));
	json_object_set_new(o, "not_after", jtime(c->not_after));
	json_object_set_new(o, "days_remaining", json_integer(c->days_remaining));
	json_object_set_new(o, "sans", jlist(c->sans, c->n_sans));
	json_object_set_new(key, "type", jstr(c->key_type));
	json_object_set_new(key, "bits", json_integer(c->key_bits));
	json_object_set_new(key, "curve", jstr(c->key_curve));
	json_object_set_new(o, "key", key);
	json_object_set_new(o, "sig_alg", jstr(c->sig_alg));
	json_object_set_new(o, "sha256", jstr(c->sha256));
	json_object_set_new(o, "is_ca", json_boolean(c->is_ca));
	json_object_set_new(o, "self_signed", json_boolean(c->self_signed));
	json_object_set_new(o, "ca_issuers", jlist(c->ca_issuers, c->n_ca_issuers));
	json_object_set_new(o, "revocation", revocation_object(rv));
	return o;
}

static json_t *
jtri(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

/* The codes of what a scan finds (beside the probe's findings). */
static bool
scan_code(enum tp_code c)
{
	return c == TP_OBSOLETE_PROTOCOL || c == TP_WEAK_CIPHER || c == TP_TLS_COMPRESSION ||
	       c == TP_INSECURE_RENEGOTIATION || c == TP_WEAK_DH || c == TP_NO_FORWARD_SECRECY ||
	       c == TP_NO_FALLBACK_SCSV || c == TP_CLIENT_CIPHER_ORDER || c == TP_NO_TLS13;
}

/* "scan": what the server accepts (tlsprobe-json(7), SCAN). */
static json_t *
scan_object(const struct tp_result *r, const struct tp_scan_info *s)
{
	json_t *o = json_object(), *protocols = json_array(), *ciphers = json_array(), *groups = json_array();
	json_t *sigalgs = json_array(), *certs = json_array(), *alpn = json_array(), *problems = json_array();
	char id[8];

	for (size_t i = 0; i < s->n_versions; i++)
		json_array_append_new(protocols, json_pack("{s:s, s:o, s:o}", "version", s->versions[i].name,
							   "accepted", jtri(s->versions[i].accepted), "server_order",
							   jtri(s->versions[i].server_order)));
	for (size_t i = 0; i < s->n_suites; i++) {
		const struct tp_scan_suite *c = &s->suites[i];
		snprintf(id, sizeof(id), "0x%04X", c->id);
		json_array_append_new(ciphers,
				      json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:s, s:o}",
						"version", c->version, "id", id, "iana", c->iana, "openssl",
						jstr(c->openssl), "kx", c->kx, "au", c->au, "enc", c->enc, "mac",
						c->mac, "bits", (int)c->bits, "order", (int)c->order, "pfs", c->pfs,
						"rating", c->rating, "why", jstr(c->why)));
	}
	for (size_t i = 0; i < s->n_groups; i++) {
		const struct tp_scan_group *g = &s->groups[i];
		snprintf(id, sizeof(id), "0x%04X", g->id);
		json_array_append_new(groups, json_pack("{s:s, s:s, s:s, s:i, s:b, s:i}", "version", g->version, "name",
							g->name, "id", id, "bits", (int)g->bits, "hybrid", g->hybrid,
							"order", (int)g->order));
	}
	for (size_t i = 0; i < s->n_sigalgs; i++) {
		snprintf(id, sizeof(id), "0x%04X", s->sigalgs[i].id);
		json_array_append_new(sigalgs, json_pack("{s:s, s:s, s:s}", "version", s->sigalgs[i].version, "name",
							 s->sigalgs[i].name, "id", id));
	}
	for (size_t i = 0; i < s->n_certs; i++) {
		const struct tp_scan_cert *c = &s->certs[i];
		json_array_append_new(
			certs,
			json_pack("{s:s, s:o, s:s, s:i, s:o, s:s, s:i, s:b, s:o, s:o}", "asked", c->asked, "sni",
				  jstr(c->sni), "key_type", c->key_type, "key_bits", (int)c->key_bits, "subject",
				  jstr(c->subject), "sha256", c->sha256, "chain_length", (int)c->chain_length,
				  "trusted", c->trusted, "status",
				  c->status == TP_STATUS_UNKNOWN ? json_null() : json_string(tp_status_name(c->status)),
				  "reason", c->reason ? json_string(tp_reason_get(c->reason)->name) : json_null()));
	}
	for (size_t i = 0; i < s->features.n_alpn; i++)
		json_array_append_new(alpn, json_string(s->features.alpn[i]));
	const struct tp_scan_features *f = &s->features;
	json_t *features = json_object();
	json_object_set_new(features, "fallback_scsv", jtri(f->fallback_scsv));
	json_object_set_new(features, "secure_renegotiation", jtri(f->secure_renegotiation));
	json_object_set_new(features, "extended_master_secret", jtri(f->extended_master_secret));
	json_object_set_new(features, "encrypt_then_mac", jtri(f->encrypt_then_mac));
	json_object_set_new(features, "compression", jtri(f->compression));
	json_object_set_new(features, "heartbeat", jtri(f->heartbeat));
	json_object_set_new(features, "ocsp_stapling", jtri(f->ocsp_stapling));
	json_object_set_new(features, "session_ticket", jtri(f->session_ticket));
	json_object_set_new(features, "resumption_id", jtri(f->resumption_id));
	json_object_set_new(features, "resumption_ticket", jtri(f->resumption_ticket));
	json_object_set_new(features, "resumption_psk", jtri(f->resumption_psk));
	json_object_set_new(features, "early_data", jtri(f->early_data));
	json_object_set_new(features, "alpn", alpn);
	for (size_t i = 0; i < tp_result_problem_count(r); i++)
		if (scan_code(tp_result_problem(r, i)->code))
			json_array_append_new(problems, problem_object(tp_result_problem(r, i), false));
	json_object_set_new(o, "best_version", jstr(s->best_version));
	json_object_set_new(o, "preferred_version", jstr(s->preferred_version));
	json_object_set_new(o, "protocols", protocols);
	json_object_set_new(o, "ciphers", ciphers);
	json_object_set_new(o, "groups", groups);
	json_object_set_new(o, "dh_bits", s->dh_bits ? json_integer(s->dh_bits) : json_null());
	json_object_set_new(o, "sigalgs", sigalgs);
	json_object_set_new(o, "certificates", certs);
	json_object_set_new(o, "features", features);
	json_t *clients = json_array();
	for (size_t i = 0; i < s->n_clients; i++) {
		const struct tp_scan_client *c = &s->clients[i];
		json_array_append_new(clients,
				      json_pack("{s:s, s:b, s:o, s:o, s:o}", "name", tp_client_name(c->client),
						"connects", c->connects, "version", jstr(c->version), "cipher",
						jstr(c->cipher), "why", c->connects ? json_null() : jstr(c->why)));
	}
	json_object_set_new(o, "clients", clients);
	json_object_set_new(o, "problems", problems);
	json_object_set_new(o, "complete", json_boolean(s->complete));
	json_object_set_new(o, "connections", json_integer(s->connections));
	json_object_set_new(o, "ms", jms(s->ms));
	return o;
}

json_t *
render_json_object(const struct tp_result *r)
{
	const struct tp_target *t = tp_result_target(r);
	const struct tp_timing *tm = tp_result_timing(r);
	const struct tp_tls_info *tls = tp_result_tls(r);
	const struct tp_problem *err = tp_result_error(r);
	enum tp_code reason = tp_result_reason(r);
	json_t *o = json_object(), *target = json_object(), *timing = json_object(), *chain = json_array();

	json_object_set_new(o, "schema", json_string("tlsprobe/1"));
	json_object_set_new(target, "input", jstr(t->input));
	/* A chain read from files has no host or port. */
	json_object_set_new(target, "host", t->port ? jstr(t->host) : json_null());
	json_object_set_new(target, "port", t->port ? json_integer(t->port) : json_null());
	json_object_set_new(target, "sni", jstr(tp_result_sni(r)));
	json_object_set_new(target, "address", jstr(tp_result_address(r)));
	json_object_set_new(target, "address_total",
			    tp_result_address_total(r) ? json_integer((json_int_t)tp_result_address_total(r))
						       : json_null());
	json_object_set_new(target, "proxy", jstr(tp_result_proxy(r)));
	json_object_set_new(o, "target", target);
	json_object_set_new(o, "status", json_string(tp_status_name(tp_result_status(r))));
	json_object_set_new(o, "reason", reason ? json_string(tp_reason_get(reason)->name) : json_null());

	const struct tp_fetch_info *f = tp_result_fetch(r);
	json_object_set_new(timing, "dns", jms(tm->dns_ms));
	json_object_set_new(timing, "connect", jms(tm->connect_ms));
	if (f) {
		json_object_set_new(timing, "tls", jms(f->tls_ms));
		json_object_set_new(timing, "ttfb", jms(f->ttfb_ms));
	} else {
		json_object_set_new(timing, "proxy", jms(tm->proxy_ms));
		json_object_set_new(timing, "starttls", jms(tm->starttls_ms));
		json_object_set_new(timing, "handshake", jms(tm->handshake_ms));
	}
	json_object_set_new(timing, "total", jms(tm->total_ms));
	if (!f)
		json_object_set_new(timing, "online", jms(tm->online_ms));
	json_object_set_new(o, "timing_ms", timing);
	if (f) {
		json_t *h = json_object(), *hops = json_array();
		json_object_set_new(h, "status", f->status ? json_integer(f->status) : json_null());
		json_object_set_new(h, "reason", jstr(f->reason));
		json_object_set_new(h, "http_version", jstr(f->http_version));
		json_object_set_new(h, "final_url", jstr(f->final_url));
		json_object_set_new(h, "content_type", jstr(f->content_type));
		json_object_set_new(h, "size", json_integer(f->size));
		for (size_t i = 0; i < f->n_hops; i++)
			json_array_append_new(hops, json_pack("{s:I, s:o}", "status", (json_int_t)f->hops[i].status,
							      "url", jstr(f->hops[i].url)));
		json_object_set_new(h, "hops", hops);
		json_object_set_new(h, "curl_code", json_integer(f->curl_code));
		json_object_set_new(h, "curl_error", jstr(f->curl_message));
		json_object_set_new(o, "http", h);
	}

	if (tls) {
		json_t *j = json_object();
		json_object_set_new(j, "version", jstr(tls->version));
		json_object_set_new(j, "cipher", jstr(tls->cipher));
		json_object_set_new(j, "kx_group", jstr(tls->kx_group));
		json_object_set_new(j, "sig_alg", jstr(tls->sig_alg));
		json_object_set_new(j, "alpn", jstr(tls->alpn));
		json_object_set_new(j, "resumed", json_boolean(tls->resumed));
		json_object_set_new(j, "client_cert_requested", json_boolean(tls->client_cert_requested));
		json_object_set_new(j, "client_cert_sent", json_boolean(tls->client_cert_sent));
		json_object_set_new(j, "ocsp_stapled", json_boolean(tp_result_ocsp(r)->stapled));
		json_object_set_new(o, "tls", j);
	} else {
		json_object_set_new(o, "tls", json_null());
	}
	const struct tp_ocsp_info *ocsp = tp_result_ocsp(r);
	if (ocsp && ocsp->stapled) {
		json_t *j = json_object();
		json_object_set_new(j, "status", jstr(ocsp->status));
		json_object_set_new(j, "verified", json_boolean(ocsp->verified));
		json_object_set_new(j, "this_update", jtime(ocsp->this_update));
		json_object_set_new(j, "next_update", jtime(ocsp->next_update));
		json_object_set_new(j, "revocation_time", jtime(ocsp->revocation_time));
		json_object_set_new(o, "ocsp", j);
	} else {
		json_object_set_new(o, "ocsp", json_null());
	}

	for (size_t i = 0; i < tp_result_cert_count(r); i++)
		json_array_append_new(chain, cert_object(tp_result_cert(r, i), i, tp_result_revocation(r, i)));
	json_object_set_new(o, "chain", chain);
	if (tp_result_client_cert_count(r)) {
		json_t *cc = json_object(), *cchain = json_array();
		for (size_t i = 0; i < tp_result_client_cert_count(r); i++)
			json_array_append_new(cchain, cert_object(tp_result_client_cert(r, i), i, NULL));
		json_object_set_new(cc, "chain", cchain);
		json_object_set_new(o, "client_cert", cc);
	} else {
		json_object_set_new(o, "client_cert", json_null());
	}

	/* Problems always have a place, even where no chain was verified
	 * (a fetch whose redirects ended in plain HTTP). */
	if (tp_result_verified(r) || tp_result_problem_count(r)) {
		json_t *v = json_object(), *problems = json_array();
		json_object_set_new(v, "trusted", json_boolean(tp_result_trusted(r)));
		json_object_set_new(v, "hostname_ok", json_boolean(tp_result_hostname_ok(r)));
		/* No chain verified (a scan's findings without one): the name it would be checked for. */
		const char *name = tp_result_verify_name(r);
		if (!name)
			name = tp_result_target(r)->sni ? tp_result_target(r)->sni : tp_result_target(r)->host;
		json_object_set_new(v, "name", jstr(name));
		json_object_set_new(v, "gnutls_status", jstr(tp_result_gnutls_status(r)));
		for (size_t i = 0; i < tp_result_problem_count(r); i++)
			json_array_append_new(problems, problem_object(tp_result_problem(r, i), true));
		json_object_set_new(v, "problems", problems);
		json_object_set_new(o, "verify", v);
	} else {
		json_object_set_new(o, "verify", json_null());
	}
	if (tp_result_address_count(r)) {
		json_t *all = json_array();
		for (size_t i = 0; i < tp_result_address_count(r); i++) {
			const struct tp_address_result *a = tp_result_address_result(r, i);
			json_array_append_new(
				all, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "address", a->address, "status",
					       tp_status_name(a->status), "reason",
					       a->reason ? json_string(tp_reason_get(a->reason)->name) : json_null(),
					       "version", jstr(a->version), "leaf_subject", jstr(a->leaf_subject),
					       "leaf_sha256", jstr(a->leaf_sha256), "leaf_not_after",
					       a->leaf_sha256 ? jtime(a->leaf_not_after) : json_null()));
		}
		json_object_set_new(o, "addresses", all);
	} else {
		json_object_set_new(o, "addresses", json_null());
	}
	json_t *clients = json_array();
	for (size_t i = 0; i < tp_result_client_count(r); i++) {
		const struct tp_client_verdict *c = tp_result_client(r, i);
		json_array_append_new(clients,
				      json_pack("{s:s, s:o, s:o, s:o}", "name", tp_client_name(c->client), "accepts",
						c->accepts < 0 ? json_null() : json_boolean(c->accepts), "says",
						jstr(c->says), "why", jstr(c->why)));
	}
	json_object_set_new(o, "clients", clients);
	if (tp_result_scan(r))
		json_object_set_new(o, "scan", scan_object(r, tp_result_scan(r)));
	json_object_set_new(o, "error", err ? problem_object(err, false) : json_null());
	return o;
}

json_t *
render_json_failure(const char *input, const char *code, const char *message, const char *fix)
{
	json_t *o = json_object(), *error = json_object(), *target = json_null();

	if (input) {
		target = json_object();
		json_object_set_new(target, "input", jstr(input));
		json_object_set_new(target, "host", json_null());
		json_object_set_new(target, "port", json_null());
		json_object_set_new(target, "sni", json_null());
		json_object_set_new(target, "address", json_null());
		json_object_set_new(target, "address_total", json_null());
		json_object_set_new(target, "proxy", json_null());
	}
	json_object_set_new(o, "schema", json_string("tlsprobe/1"));
	json_object_set_new(o, "target", target);
	json_object_set_new(o, "status", json_string(tp_status_name(TP_STATUS_UNKNOWN)));
	json_object_set_new(o, "reason", json_string(code));
	json_object_set_new(o, "timing_ms", json_null());
	json_object_set_new(o, "tls", json_null());
	json_object_set_new(o, "ocsp", json_null());
	json_object_set_new(o, "chain", json_array());
	json_object_set_new(o, "client_cert", json_null());
	json_object_set_new(o, "verify", json_null());
	json_object_set_new(o, "addresses", json_null());
	json_object_set_new(o, "clients", json_array());
	json_object_set_new(error, "code", json_string(code));
	json_object_set_new(error, "message", jstr(message));
	json_object_set_new(error, "fix", jstr(fix));
	json_object_set_new(o, "error", error);
	return o;
}

void
render_json_write(FILE *out, json_t *j, bool pretty)
{
	json_dumpf(j, out, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	fputc('\n', out);
	json_decref(j);
}

void
render_json(FILE *out, const struct tp_result *r, const struct render_opts *o)
{
	json_t *j = render_json_object(r);

	if (o->line)
		json_object_set_new(j, "line", json_integer((json_int_t)o->line));
	render_json_write(out, j, o->pretty);
}
