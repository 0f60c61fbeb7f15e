/*
 * render_monitor.c: the formats monitoring systems already read. Nagios
 * (one status line with perfdata, as the plugin guidelines say), Prometheus
 * exposition text with blackbox_exporter's metric names where they exist,
 * and TSV for scripts (one line per target, sortable).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The earliest not_after of the certificates sent, and that cert's index. */
static bool
earliest_expiry(const struct tp_result *r, time_t *when, long *days)
{
	bool any = false;

	for (size_t i = 0; i < tp_result_cert_count(r); i++) {
		const struct tp_cert_info *c = tp_result_cert(r, i);
		if (c->not_after == (time_t)-1)
			continue;
		if (!any || c->not_after < *when) {
			*when = c->not_after;
			*days = c->days_remaining;
		}
		any = true;
	}
	return any;
}

/* One line of plain text: every control character escaped (render_safe),
 * and no '|', which starts Nagios perfdata. */
static void
put_flat(FILE *out, const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return;
	render_safe(m, s);
	fclose(m);
	for (char *p = buf; p && *p; p++)
		fputc(*p == '|' ? '/' : *p, out);
	free(buf);
}

static const char *
target_label(const struct tp_result *r)
{
	return tp_result_target(r)->input;
}

void
render_nagios(FILE *out, const struct tp_result *r, const struct render_opts *o)
{
	enum tp_status st = tp_result_status(r);
	enum tp_code reason = tp_result_reason(r);
	const struct tp_tls_info *tls = tp_result_tls(r);
	const struct tp_timing *tm = tp_result_timing(r);
	const struct tp_fetch_info *f = tp_result_fetch(r);
	time_t when = 0;
	long days = 0;
	bool has_expiry = earliest_expiry(r, &when, &days);

	fprintf(out, "TLSPROBE %s - ", cli_status_word(st));
	put_flat(out, target_label(r));
	if (o->line)
		fprintf(out, " (line %zu)", o->line);
	if (reason) {
		const struct tp_problem *p = tp_result_error(r);
		for (size_t i = 0; !p && i < tp_result_problem_count(r); i++)
			if (tp_result_problem(r, i)->code == reason)
				p = tp_result_problem(r, i);
		fprintf(out, ": %s: ", tp_reason_get(reason)->name);
		put_flat(out, p ? p->message : tp_reason_get(reason)->title);
	} else {
		if (f && f->status)
			fprintf(out, ": HTTP %ld", f->status);
		fprintf(out, "%s%s%s", f && f->status ? "," : ":", tls ? " " : "", tls ? tls->version : "");
		if (has_expiry)
			fprintf(out, ", certificate expires in %ld days", days);
	}
	/* Perfdata: 'label'=value[UOM];[warn];[crit];[min];[max]; "N:" alerts below N. */
	fputs(" |", out);
	if (has_expiry)
		fprintf(out, " days_remaining=%ld;%d:;%d:;;", days, o->warn_days, o->crit_days);
	if (tm->handshake_ms >= 0)
		fprintf(out, " %s=%.6fs;;;0;", f ? "tls" : "handshake", tm->handshake_ms / 1000.0);
	fprintf(out, " total=%.6fs;;;0;\n", tm->total_ms / 1000.0);
}

/* ---- Prometheus ------------------------------------------------------- */

/* blackbox_exporter's series first, with its names, labels and meanings;
 * then tlsprobe's own. */
enum family {
	F_SUCCESS,
	F_DURATION,
	F_TIMEOUT,
	F_DNS,
	F_IP_PROTOCOL,
	F_EARLIEST,
	F_LAST_CHAIN,
	F_CHAIN_INFO,
	F_VERSION,
	F_CIPHER,
	F_HTTP_STATUS,
	F_STATUS,
	F_PROBLEM,
	F_NOT_AFTER,
	F_NOT_BEFORE,
	F_CLIENT_NOT_AFTER,
	F_REVOCATION,
	F_OCSP_STAPLED,
	F_OCSP_STATUS,
	F_OCSP_THIS_UPDATE,
	F_OCSP_NEXT_UPDATE,
	F_OCSP_REVOKED_AT,
	F_SCAN_PROTOCOL,
	F_SCAN_CIPHER,
	F_SCAN_GROUP,
	F_SCAN_FEATURE,
	F_SCAN_CLIENT,
	F_COUNT
};

static const struct {
	const char *name, *help;
} families[F_COUNT] = {
	[F_SUCCESS] = {"probe_success", "Whether the probe succeeded: reached, verified, no critical problem."},
	[F_DURATION] = {"probe_duration_seconds", "How long the probe took in seconds."},
	[F_TIMEOUT] = {"probe_timeout_seconds", "The probe's deadline in seconds."},
	[F_DNS] = {"probe_dns_lookup_time_seconds", "How long resolving the name took in seconds."},
	[F_IP_PROTOCOL] = {"probe_ip_protocol", "The IP version of the address probed: 4 or 6."},
	[F_EARLIEST] = {"probe_ssl_earliest_cert_expiry",
			"Earliest expiry of the certificates the server sent, unix time, verified or not."},
	[F_LAST_CHAIN] = {"probe_ssl_last_chain_expiry_timestamp_seconds",
			  "Earliest expiry on the verified path, trust anchor included, unix time."},
	[F_CHAIN_INFO] = {"probe_ssl_last_chain_info", "The leaf certificate the server sent."},
	[F_VERSION] = {"probe_tls_version_info", "The negotiated TLS version."},
	[F_CIPHER] = {"probe_tls_cipher_info", "The negotiated cipher suite."},
	[F_HTTP_STATUS] = {"probe_http_status_code", "The HTTP status code of the final response."},
	[F_STATUS] = {"tlsprobe_status", "tlsprobe's verdict: 0 ok, 1 warning, 2 critical, 3 unknown."},
	[F_PROBLEM] = {"tlsprobe_problem", "A problem tlsprobe found, by reason code."},
	[F_NOT_AFTER] = {"tlsprobe_cert_not_after", "When each certificate the server sent expires, unix time."},
	[F_NOT_BEFORE] = {"tlsprobe_cert_not_before", "When each certificate the server sent became valid, unix time."},
	[F_CLIENT_NOT_AFTER] = {"tlsprobe_client_cert_not_after",
				"When each certificate of the configured client certificate expires, unix time."},
	[F_REVOCATION] = {"tlsprobe_cert_revocation_status",
			  "Each certificate's revocation as checked: 0 good, 1 revoked, 2 unknown."},
	/* ssl_exporter's names, about the leaf */
	[F_OCSP_STAPLED] = {"ssl_ocsp_response_stapled", "Whether the server stapled an OCSP response."},
	[F_OCSP_STATUS] = {"ssl_ocsp_response_status",
			   "The leaf's OCSP status, stapled or from its responder: 0 good, 1 revoked, 2 unknown."},
	[F_OCSP_THIS_UPDATE] = {"ssl_ocsp_response_this_update", "The thisUpdate of that OCSP response, unix time."},
	[F_OCSP_NEXT_UPDATE] = {"ssl_ocsp_response_next_update", "The nextUpdate of that OCSP response, unix time."},
	[F_OCSP_REVOKED_AT] = {"ssl_ocsp_response_revoked_at",
			       "When that OCSP response says the leaf was revoked, unix time."},
	/* what a scan found the server accepts */
	[F_SCAN_PROTOCOL] = {"tlsprobe_scan_protocol_accepted", "Whether the server accepts this protocol version."},
	[F_SCAN_CIPHER] = {"tlsprobe_scan_cipher_accepted", "A cipher suite the server accepts, in this version."},
	[F_SCAN_GROUP] = {"tlsprobe_scan_group_accepted", "A key-exchange group the server accepts, in this version."},
	[F_SCAN_FEATURE] = {"tlsprobe_scan_feature", "Whether the server does this (scan.features), where known."},
	[F_SCAN_CLIENT] = {"tlsprobe_scan_client_connects",
			   "Whether this client of the model, with its defaults, can connect."},
};

struct prom {
	char *buf[F_COUNT];
	size_t len[F_COUNT];
	FILE *f[F_COUNT];
	bool target_labels;
	double timeout_s;
	bool open; /* the sample being written has its '{' */
};

struct prom *
prom_create(bool target_labels, double timeout_s)
{
	struct prom *p = calloc(1, sizeof(*p));

	for (int i = 0; p && i < F_COUNT; i++)
		if (!(p->f[i] = open_memstream(&p->buf[i], &p->len[i]))) {
			prom_destroy(p);
			return NULL;
		}
	if (p) {
		p->target_labels = target_labels;
		p->timeout_s = timeout_s;
	}
	return p;
}

void
prom_destroy(struct prom *p)
{
	if (!p)
		return;
	for (int i = 0; i < F_COUNT; i++) {
		if (p->f[i])
			fclose(p->f[i]);
		free(p->buf[i]);
	}
	free(p);
}

/* A label: the value with backslash, double quote and newline escaped, and
 * no other control bytes, so that no byte a certificate holds can break
 * the exposition format. */
void
prom_quote(FILE *out, const char *value)
{
	fputc('"', out);
	for (const unsigned char *s = (const unsigned char *)(value ? value : ""); *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (*s < 0x20 || *s == 0x7f)
			fputc(' ', out);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void
label(struct prom *p, FILE *out, const char *key, const char *value)
{
	fprintf(out, "%s%s=", p->open ? "," : "{", key);
	p->open = true;
	prom_quote(out, value);
}

/* A sample's name and the labels that say which target it is about. */
static FILE *
sample(struct prom *p, enum family fam, const struct tp_result *r, size_t line)
{
	const char *sni = tp_result_target(r)->sni;
	FILE *o = p->f[fam];
	char n[24];

	fputs(families[fam].name, o);
	p->open = false;
	if (!p->target_labels)
		return o;
	label(p, o, "target", target_label(r));
	/* One address probed under several names is several series. */
	if (sni)
		label(p, o, "sni", sni);
	/* And one target on two lines of a list: two series, never one twice. */
	if (line) {
		snprintf(n, sizeof(n), "%zu", line);
		label(p, o, "line", n);
	}
	return o;
}

/* The sample's value, with this many decimals. */
static void
value(struct prom *p, FILE *o, int decimals, double v)
{
	fprintf(o, "%s%.*f\n", p->open ? "} " : " ", decimals, v);
}

/* The DNS names of a certificate, as blackbox's subjectalternative: no IPs. */
static char *
dns_names(const struct tp_cert_info *c)
{
	char *s = NULL;
	size_t len = 0, n = 0;
	FILE *m = open_memstream(&s, &len);
	unsigned char a[16];

	for (size_t i = 0; m && i < c->n_sans; i++)
		if (inet_pton(AF_INET, c->sans[i], a) != 1 && inet_pton(AF_INET6, c->sans[i], a) != 1)
			fprintf(m, "%s%s", n++ ? "," : "", c->sans[i]);
	if (m)
		fclose(m);
	return s;
}

/* The serial as Go's %x of its big.Int bytes: no leading zero octets. */
static const char *
serial_hex(const struct tp_cert_info *c)
{
	const char *s = c->serial;

	while (s[0] == '0' && s[1] == '0' && s[2])
		s += 2;
	return s;
}

static void
cert_series(struct prom *p, enum family fam, const struct tp_result *r, size_t line, const struct tp_cert_info *c,
	    size_t index, time_t when)
{
	char n[24];
	FILE *o;

	if (when == (time_t)-1)
		return;
	snprintf(n, sizeof(n), "%zu", index);
	o = sample(p, fam, r, line);
	label(p, o, "index", n);
	label(p, o, "subject", c->subject);
	label(p, o, "issuer", c->issuer);
	label(p, o, "serial", serial_hex(c));
	label(p, o, "sha256", c->sha256);
	value(p, o, 0, (double)when);
}

static int
revocation_value(const char *status)
{
	return strcmp(status, "good") == 0 ? 0 : strcmp(status, "revoked") == 0 ? 1 : 2;
}

/* How each certificate's revocation was checked; the leaf's OCSP answer as ssl_exporter names it. */
static void
revocation_series(struct prom *p, const struct tp_result *r, size_t line)
{
	const struct tp_ocsp_info *ocsp = tp_result_ocsp(r);
	const struct tp_revocation *leaf = tp_result_revocation(r, 0);
	char n[24];
	FILE *o;

	for (size_t i = 0; i < tp_result_cert_count(r); i++) {
		const struct tp_revocation *rv = tp_result_revocation(r, i);
		if (!rv || !rv->method || !rv->status)
			continue;
		snprintf(n, sizeof(n), "%zu", i);
		o = sample(p, F_REVOCATION, r, line);
		label(p, o, "index", n);
		label(p, o, "method", rv->method);
		value(p, o, 0, revocation_value(rv->status));
	}
	if (ocsp && tp_result_tls(r)) {
		o = sample(p, F_OCSP_STAPLED, r, line);
		value(p, o, 0, ocsp->stapled);
	}
	if (!leaf || !leaf->status || !leaf->method || strcmp(leaf->method, "crl") == 0)
		return;
	o = sample(p, F_OCSP_STATUS, r, line);
	value(p, o, 0, revocation_value(leaf->status));
	const struct {
		enum family fam;
		time_t when;
	} times[] = {{F_OCSP_THIS_UPDATE, leaf->this_update},
		     {F_OCSP_NEXT_UPDATE, leaf->next_update},
		     {F_OCSP_REVOKED_AT, leaf->revoked_at}};
	for (size_t k = 0; k < sizeof(times) / sizeof(*times); k++)
		if (times[k].when != (time_t)-1) {
			o = sample(p, times[k].fam, r, line);
			value(p, o, 0, (double)times[k].when);
		}
}

/* What a scan found: one series per version, suite, group, feature and client. */
static void
scan_series(struct prom *p, const struct tp_result *r, size_t line)
{
	const struct tp_scan_info *s = tp_result_scan(r);
	const struct tp_scan_features *f;
	FILE *o;

	if (!s)
		return;
	for (size_t i = 0; i < s->n_versions; i++) {
		if (s->versions[i].accepted < 0)
			continue;
		o = sample(p, F_SCAN_PROTOCOL, r, line);
		label(p, o, "version", s->versions[i].name);
		value(p, o, 0, s->versions[i].accepted);
	}
	for (size_t i = 0; i < s->n_suites; i++) {
		char id[8];
		snprintf(id, sizeof(id), "0x%04X", s->suites[i].id);
		o = sample(p, F_SCAN_CIPHER, r, line);
		label(p, o, "version", s->suites[i].version);
		label(p, o, "id", id);
		label(p, o, "cipher", s->suites[i].iana);
		label(p, o, "rating", s->suites[i].rating);
		value(p, o, 0, 1);
	}
	for (size_t i = 0; i < s->n_groups; i++) {
		o = sample(p, F_SCAN_GROUP, r, line);
		label(p, o, "version", s->groups[i].version);
		label(p, o, "group", s->groups[i].name);
		value(p, o, 0, 1);
	}
	f = &s->features;
	const struct {
		const char *name;
		int v;
	} features[] = {
		{"fallback_scsv", f->fallback_scsv},
		{"secure_renegotiation", f->secure_renegotiation},
		{"extended_master_secret", f->extended_master_secret},
		{"encrypt_then_mac", f->encrypt_then_mac},
		{"compression", f->compression},
		{"heartbeat", f->heartbeat},
		{"ocsp_stapling", f->ocsp_stapling},
		{"session_ticket", f->session_ticket},
		{"resumption_id", f->resumption_id},
		{"resumption_ticket", f->resumption_ticket},
		{"resumption_psk", f->resumption_psk},
		{"early_data", f->early_data},
	};
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		if (features[i].v < 0)
			continue;
		o = sample(p, F_SCAN_FEATURE, r, line);
		label(p, o, "feature", features[i].name);
		value(p, o, 0, features[i].v);
	}
	for (size_t i = 0; i < s->n_clients; i++) {
		o = sample(p, F_SCAN_CLIENT, r, line);
		label(p, o, "client", tp_client_name(s->clients[i].client));
		value(p, o, 0, s->clients[i].connects);
	}
}

void
prom_add(struct prom *p, const struct tp_result *r, size_t line)
{
	const struct tp_tls_info *tls = tp_result_tls(r);
	const struct tp_fetch_info *f = tp_result_fetch(r);
	const struct tp_timing *tm = tp_result_timing(r);
	enum tp_status st = tp_result_status(r);
	const char *address = tp_result_address(r);
	time_t when = 0, path = tp_result_path_not_after(r);
	long days = 0;
	FILE *o;

	o = sample(p, F_SUCCESS, r, line);
	value(p, o, 0, st <= TP_STATUS_WARNING ? 1 : 0);
	o = sample(p, F_DURATION, r, line);
	value(p, o, 6, tm->total_ms / 1000.0);
	if (p->timeout_s > 0) {
		o = sample(p, F_TIMEOUT, r, line);
		value(p, o, 3, p->timeout_s);
	}
	if (tm->dns_ms >= 0) {
		o = sample(p, F_DNS, r, line);
		value(p, o, 6, tm->dns_ms / 1000.0);
	}
	if (address && *address && !tp_result_proxy(r)) {
		o = sample(p, F_IP_PROTOCOL, r, line);
		value(p, o, 0, strchr(address, ':') ? 6 : 4);
	}
	/* Expiry is reported whenever certificates were seen, verified or not. */
	if (earliest_expiry(r, &when, &days)) {
		o = sample(p, F_EARLIEST, r, line);
		value(p, o, 0, (double)when);
	}
	if (path) {
		o = sample(p, F_LAST_CHAIN, r, line);
		value(p, o, 0, (double)path);
	}
	if (tp_result_cert_count(r)) {
		const struct tp_cert_info *c = tp_result_cert(r, 0);
		char *sans = dns_names(c);
		o = sample(p, F_CHAIN_INFO, r, line);
		label(p, o, "fingerprint_sha256", c->sha256);
		label(p, o, "subject", c->subject);
		label(p, o, "issuer", c->issuer);
		label(p, o, "subjectalternative", sans);
		label(p, o, "serialnumber", serial_hex(c));
		value(p, o, 0, 1);
		free(sans);
	}
	if (tls) {
		char version[16];
		/* blackbox_exporter writes "TLS 1.3" */
		snprintf(version, sizeof(version), "%s", tls->version);
		if (strncmp(version, "TLSv", 4) == 0)
			version[3] = ' ';
		o = sample(p, F_VERSION, r, line);
		label(p, o, "version", version);
		value(p, o, 0, 1);
		o = sample(p, F_CIPHER, r, line);
		label(p, o, "cipher", tls->cipher);
		value(p, o, 0, 1);
	}
	if (f && f->status) {
		o = sample(p, F_HTTP_STATUS, r, line);
		value(p, o, 0, (double)f->status);
	}
	o = sample(p, F_STATUS, r, line);
	value(p, o, 0, (double)st);
	const struct tp_problem *err = tp_result_error(r);
	for (size_t i = 0; i < tp_result_problem_count(r) + (err ? 1 : 0); i++) {
		const struct tp_problem *pr = i < tp_result_problem_count(r) ? tp_result_problem(r, i) : err;
		char index[16];
		bool seen = false;
		/* Two sources saying the same thing (a CRL and OCSP) are one series. */
		for (size_t k = 0; k < i && k < tp_result_problem_count(r); k++) {
			const struct tp_problem *q = tp_result_problem(r, k);
			seen |= q->code == pr->code && q->severity == pr->severity && q->cert_index == pr->cert_index;
		}
		if (seen)
			continue;
		snprintf(index, sizeof(index), "%d", pr->cert_index);
		o = sample(p, F_PROBLEM, r, line);
		label(p, o, "code", tp_reason_get(pr->code)->name);
		label(p, o, "severity", tp_status_name(pr->severity));
		label(p, o, "cert_index", pr->cert_index >= 0 ? index : "");
		value(p, o, 0, 1);
	}
	for (size_t i = 0; i < tp_result_cert_count(r); i++) {
		const struct tp_cert_info *c = tp_result_cert(r, i);
		cert_series(p, F_NOT_AFTER, r, line, c, i, c->not_after);
		cert_series(p, F_NOT_BEFORE, r, line, c, i, c->not_before);
	}
	for (size_t i = 0; i < tp_result_client_cert_count(r); i++) {
		const struct tp_cert_info *c = tp_result_client_cert(r, i);
		cert_series(p, F_CLIENT_NOT_AFTER, r, line, c, i, c->not_after);
	}
	revocation_series(p, r, line);
	scan_series(p, r, line);
}

void
prom_write(struct prom *p, FILE *out)
{
	for (int i = 0; i < F_COUNT; i++) {
		fflush(p->f[i]);
		if (!p->len[i])
			continue;
		fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", families[i].name, families[i].help, families[i].name);
		fwrite(p->buf[i], 1, p->len[i], out);
	}
}

/* ---- TSV ------------------------------------------------------------- */

static void
tsv_field(FILE *out, const char *s, bool last)
{
	/* Tabs and newlines come out escaped too: one line, 8 fields. */
	render_safe(out, s ? s : "");
	fputc(last ? '\n' : '\t', out);
}

void
render_tsv_header(FILE *out, bool lines)
{
	fputs("target\tstatus\treason\tdays_remaining\tnot_after\tsubject\taddress\tversion", out);
	fputs(lines ? "\tline\n" : "\n", out);
}

void
render_tsv(FILE *out, const struct tp_result *r, const struct render_opts *o)
{
	const struct tp_tls_info *tls = tp_result_tls(r);
	enum tp_code reason = tp_result_reason(r);
	time_t when = 0;
	long days = 0;
	char d[24] = "", t[32] = "";
	struct tm tm;

	if (earliest_expiry(r, &when, &days)) {
		snprintf(d, sizeof(d), "%ld", days);
		if (gmtime_r(&when, &tm))
			strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	tsv_field(out, target_label(r), false);
	tsv_field(out, tp_status_name(tp_result_status(r)), false);
	tsv_field(out, reason ? tp_reason_get(reason)->name : "", false);
	tsv_field(out, d, false);
	tsv_field(out, t, false);
	tsv_field(out, tp_result_cert_count(r) ? tp_result_cert(r, 0)->subject : "", false);
	tsv_field(out, tp_result_address(r), false);
	tsv_field(out, tls ? tls->version : "", !o->lines);
	if (o->lines && o->line)
		fprintf(out, "%zu", o->line);
	if (o->lines)
		fputc('\n', out);
}
