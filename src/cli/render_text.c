/*
 * render_text.c: the report for people. Verdict line first, then what was
 * negotiated, the chain, and the problems with their fixes. Nothing a
 * certificate holds reaches the terminal raw: it goes through render_safe
 * (term.c), so a subject cannot move the cursor or change colours.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define WIDTH 78

struct tout {
	FILE *f;
	const struct render_opts *o;
};

static const char *
status_color(enum tp_status s)
{
	switch (s) {
	case TP_STATUS_OK: return "\033[1;32m";
	case TP_STATUS_WARNING: return "\033[1;33m";
	case TP_STATUS_CRITICAL: return "\033[1;31m";
	default: return "\033[1;35m";
	}
}

static void
status_word(const struct tout *w, enum tp_status s)
{
	const char *word = cli_status_word(s);

	if (w->o->color)
		fprintf(w->f, "%s%s\033[0m", status_color(s), word);
	else
		fputs(word, w->f);
}

/* Writes text wrapped at WIDTH, each line after the first indented. The
 * text is our own words with certificate strings inside; it goes through
 * render_safe word by word. */
static void
wrapped(const struct tout *w, const char *text, int indent, int col)
{
	const char *p = text;

	while (*p) {
		size_t word = strcspn(p, " ");
		char buf[512];
		if (col > indent && col + (int)word + 1 > WIDTH) {
			fprintf(w->f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', w->f);
			col++;
		}
		while (word > 0) {
			size_t chunk = word < sizeof(buf) - 1 ? word : sizeof(buf) - 1;
			/* Never split a UTF-8 sequence: its halves would not decode,
			 * and render_safe could not tell a control character. */
			while (chunk < word && chunk > 1 && ((unsigned char)p[chunk] & 0xc0) == 0x80)
				chunk--;
			memcpy(buf, p, chunk);
			buf[chunk] = '\0';
			render_safe(w->f, buf);
			col += (int)chunk;
			p += chunk;
			word -= chunk;
		}
		while (*p == ' ')
			p++;
	}
	fputc('\n', w->f);
}

/* One "label  value" line, the value wrapped under itself. */
CLI_PRINTF(4, 5) static void field(const struct tout *w, int indent, const char *label, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	fprintf(w->f, "%*s%-13s", indent, "", label);
	wrapped(w, text ? text : "", indent + 13, indent + 13);
	free(text);
}

static void
date(time_t t, char *buf, size_t len)
{
	if (t == (time_t)-1)
		snprintf(buf, len, "?");
	else
		tp_format_date(t, buf, len);
}

static void
verdict(const struct tout *w, const struct tp_result *r)
{
	const struct tp_target *t = tp_result_target(r);
	const struct tp_tls_info *tls = tp_result_tls(r);
	enum tp_code reason = tp_result_reason(r);
	enum tp_status st = tp_result_status(r);
	size_t ignored = 0;

	status_word(w, st);
	fputs("  ", w->f);
	render_safe(w->f, t->host && *t->host ? t->host : t->input);
	if (t->port)
		fprintf(w->f, ":%u", t->port);
	if (w->o->line)
		fprintf(w->f, " (line %zu)", w->o->line);
	const struct tp_fetch_info *f = tp_result_fetch(r);
	if (f && f->status) {
		/* The reason phrase is the server's words: untrusted. */
		fprintf(w->f, ": %ld%s", f->status, f->reason ? " " : "");
		render_safe(w->f, f->reason);
		fprintf(w->f, ", %s", f->http_version ? f->http_version : "HTTP");
	}
	if (reason == TP_INVALID_TARGET && tp_result_error(r)) {
		/* What is wrong with the line says more than "not a valid target". */
		fputs(": ", w->f);
		render_safe(w->f, tp_result_error(r)->message);
		fprintf(w->f, " (%s)", tp_reason_get(reason)->name);
	} else if (reason) {
		fprintf(w->f, "%s %s (%s)", f && f->status ? ";" : ":", tp_reason_get(reason)->title,
			tp_reason_get(reason)->name);
		for (size_t i = 0; i < tp_result_problem_count(r); i++)
			if (tp_result_problem(r, i)->severity >= st && tp_result_problem(r, i)->code != reason)
				ignored++;
		if (ignored)
			fprintf(w->f, ", and %zu more", ignored);
	} else if (tp_result_problem_count(r)) {
		fprintf(w->f, ": %zu problem%s waived by --insecure", tp_result_problem_count(r),
			tp_result_problem_count(r) == 1 ? "" : "s");
	} else if (f && f->status) {
		fprintf(w->f, "; %lld bytes in %.1f ms", f->size, f->total_ms);
	} else if (tls) {
		fprintf(w->f, ": chain trusted, name matches, %s", tls->version);
	} else if (tp_result_verified(r)) {
		fprintf(w->f, ": chain trusted%s", tp_result_verify_name(r) ? ", name matches" : "");
	} else if (!t->port) {
		fprintf(w->f, ": %zu certificate%s (not verified; --verify judges them)", tp_result_cert_count(r),
			tp_result_cert_count(r) == 1 ? "" : "s");
	}
	fputc('\n', w->f);
}

static void
connection(const struct tout *w, const struct tp_result *r)
{
	const struct tp_tls_info *tls = tp_result_tls(r);
	const struct tp_timing *tm = tp_result_timing(r);
	const char *addr = tp_result_address(r);
	char timing[200];
	size_t used = 0;

	fputc('\n', w->f);
	if (addr && tp_result_proxy(r))
		field(w, 2, "address", "through the proxy %s (%s) to port %u%s%s", tp_result_proxy(r), addr,
		      tp_result_target(r)->connect_host ? tp_result_target(r)->connect_port : tp_result_target(r)->port,
		      tp_result_sni(r) ? ", SNI " : ", no SNI", tp_result_sni(r) ? tp_result_sni(r) : "");
	else if (addr)
		field(w, 2, "address", "%s port %u%s%s", addr,
		      tp_result_target(r)->connect_host ? tp_result_target(r)->connect_port : tp_result_target(r)->port,
		      tp_result_sni(r) ? ", SNI " : ", no SNI", tp_result_sni(r) ? tp_result_sni(r) : "");
	/* The name has more: say so, or what each one served. */
	if (addr && tp_result_address_total(r) > 1 && !tp_result_address_count(r))
		field(w, 2, "", "the first of %zu addresses that connected (--all-addresses probes them all)",
		      tp_result_address_total(r));
	for (size_t i = 0; i < tp_result_address_count(r); i++) {
		const struct tp_address_result *a = tp_result_address_result(r, i);
		char until[40] = "";
		if (a->leaf_sha256)
			date(a->leaf_not_after, until, sizeof(until));
		field(w, 2, i ? "" : "addresses", "%s %s%s%s%s%s%s", a->address, cli_status_word(a->status),
		      a->reason ? " (" : "", a->reason ? tp_reason_get(a->reason)->name : "", a->reason ? ")" : "",
		      a->leaf_sha256 ? ", certificate until " : "", until);
	}
	if (tls) {
		field(w, 2, "protocol", "%s, %s", tls->version, tls->cipher ? tls->cipher : "?");
		if (tls->kx_group || tls->sig_alg)
			field(w, 2, "key exchange", "%s%s%s", tls->kx_group ? tls->kx_group : "",
			      tls->kx_group && tls->sig_alg ? ", signed with " : "", tls->sig_alg ? tls->sig_alg : "");
		field(w, 2, "ALPN", "%s", tls->alpn ? tls->alpn : "none");
		const struct tp_ocsp_info *ocsp = tp_result_ocsp(r);
		if (!ocsp->stapled) {
			field(w, 2, "OCSP", "not stapled");
		} else {
			char upd[32];
			date(ocsp->next_update, upd, sizeof(upd));
			field(w, 2, "OCSP", "stapled: %s%s, next update %s", ocsp->status ? ocsp->status : "unreadable",
			      ocsp->verified ? "" : " (not verified)", upd);
		}
		const struct tp_cert_info *cc = tp_result_client_cert(r, 0);
		char until[40] = "";
		if (cc)
			date(cc->not_after, until, sizeof(until));
		field(w, 2, "client cert", "%s%s%s%s",
		      !tls->client_cert_requested ? "not requested"
		      : tls->client_cert_sent     ? "requested, sent"
						  : "requested, none sent",
		      cc ? " (yours valid until " : "", until, cc ? ")" : "");
	}
	const struct tp_fetch_info *f = tp_result_fetch(r);
	if (f) {
		if (f->n_hops > 1)
			for (size_t i = 0; i < f->n_hops; i++)
				field(w, 2, i ? "" : "redirects", "%ld %s", f->hops[i].status, f->hops[i].url);
		if (f->final_url)
			field(w, 2, "url", "%s", f->final_url);
		if (f->status)
			field(w, 2, "response", "%s %ld%s%s, %s, %lld bytes",
			      f->http_version ? f->http_version : "HTTP", f->status, f->reason ? " " : "",
			      f->reason ? f->reason : "", f->content_type ? f->content_type : "no content type",
			      f->size);
		if (f->curl_message)
			field(w, 2, "curl", "error %d: %s", f->curl_code, f->curl_message);
	}
	const struct {
		const char *name;
		double ms;
	} stages[] = {{"dns", tm->dns_ms},
		      {"connect", tm->connect_ms},
		      {"proxy tunnel", tm->proxy_ms},
		      {"starttls", tm->starttls_ms},
		      {f ? "tls" : "handshake", tm->handshake_ms},
		      {"first byte", f ? f->ttfb_ms : -1},
		      {"total", tm->total_ms}};
	for (size_t i = 0; i < sizeof(stages) / sizeof(*stages); i++)
		if (stages[i].ms >= 0)
			used += (size_t)snprintf(timing + used, sizeof(timing) - used, "%s%s %.1f ms", used ? ", " : "",
						 stages[i].name, stages[i].ms);
	if (tm->online_ms >= 0)
		field(w, 2, "time", "%s (from the start; online checks %.1f ms of it)", timing, tm->online_ms);
	else
		field(w, 2, "time", "%s (from the start)", timing);
}

/* "12 days left", "expired 30 days ago": the days of days_remaining (rounded
 * toward zero, as the problems' messages count them), which is 0 on the
 * day either side of not_after. */
static const char *
days_left(const struct tout *w, const struct tp_cert_info *c, char *buf, size_t len)
{
	long d = c->days_remaining < 0 ? -c->days_remaining : c->days_remaining;
	time_t now = w->o->now ? w->o->now : time(NULL);

	if (c->days_remaining > 0)
		snprintf(buf, len, "%ld day%s left", d, d == 1 ? "" : "s");
	else if (c->days_remaining < 0)
		snprintf(buf, len, "expired %ld day%s ago", d, d == 1 ? "" : "s");
	else
		snprintf(buf, len, "%s", c->not_after < now ? "expired less than a day ago" : "less than a day left");
	return buf;
}

static void
chain(const struct tout *w, const struct tp_result *r)
{
	size_t n = tp_result_cert_count(r);
	char from[32], to[32], left[48];

	if (!n)
		return;
	fprintf(w->f, tp_result_target(r)->port ? "\nCertificates sent (%zu)\n" : "\nCertificates (%zu)\n", n);
	for (size_t i = 0; i < n; i++) {
		const struct tp_cert_info *c = tp_result_cert(r, i);
		fprintf(w->f, "  #%zu ", i);
		render_safe(w->f, c->subject);
		fprintf(w->f, "%s%s\n", c->is_ca ? "  [CA]" : "", c->self_signed ? " [self-signed]" : "");
		field(w, 5, "issuer", "%s", c->issuer);
		date(c->not_before, from, sizeof(from));
		date(c->not_after, to, sizeof(to));
		/* "2026-11-22 01:10 UTC to 2031-11-21 01:10 UTC": one UTC is enough. */
		char *utc = strstr(from, " UTC");
		if (utc)
			*utc = '\0';
		field(w, 5, "valid", "%s to %s (%s)", from, to, days_left(w, c, left, sizeof(left)));
		if (c->n_sans) {
			char *names = cli_join_sans(c, ", ");
			field(w, 5, "names", "%s", names ? names : "");
			free(names);
		}
		if (c->key_curve)
			field(w, 5, "key", "%s %u bits (%s), signed with %s", c->key_type, c->key_bits, c->key_curve,
			      c->sig_alg);
		else
			field(w, 5, "key", "%s %u bits, signed with %s", c->key_type, c->key_bits, c->sig_alg);
		if (w->o->verbose) {
			field(w, 5, "serial", "%s", c->serial);
			for (size_t k = 0; k < c->n_ca_issuers; k++) {
				field(w, 5, "CA issuers", "%s", c->ca_issuers[k]);
			}
		}
		const struct tp_revocation *rv = tp_result_revocation(r, i);
		if (rv && rv->method) {
			static const char *const how[][2] = {
				{"staple", "the OCSP response the server stapled"}, {"ocsp", "OCSP"}, {"crl", "CRL"}};
			const char *by = rv->method;
			for (size_t k = 0; k < sizeof(how) / sizeof(*how); k++)
				if (strcmp(how[k][0], rv->method) == 0)
					by = how[k][1];
			char ms[32] = "";
			if (rv->ms >= 0)
				snprintf(ms, sizeof(ms), " (%.1f ms)", rv->ms);
			field(w, 5, "revocation", "%s, by %s%s%s%s", rv->status ? rv->status : "not checked", by,
			      rv->source ? " " : "", rv->source ? rv->source : "", ms);
		}
		field(w, 5, "sha256", "%s", c->sha256);
	}
}

static void
problem(const struct tout *w, const struct tp_problem *p, bool waived)
{
	fputs("  ", w->f);
	status_word(w, waived ? TP_STATUS_OK : p->severity);
	fprintf(w->f, " %s%s", tp_reason_get(p->code)->name, waived ? " (waived by --insecure)" : "");
	if (p->cert_index >= 0) {
		fprintf(w->f, ", certificate #%d", p->cert_index);
		if (p->subject) {
			fputs(" (", w->f);
			render_safe(w->f, p->subject);
			fputc(')', w->f);
		}
	}
	fputc('\n', w->f);
	fputs("    ", w->f);
	wrapped(w, p->message, 4, 4);
	fputs("    Fix:", w->f);
	wrapped(w, p->fix, 4, 8);
}

/* "A, B and C" of the clients whose verdict is accepts; n: how many. */
static size_t
client_list(const struct tp_result *r, int accepts, char *buf, size_t len)
{
	size_t n = 0, total = 0, used = 0;

	*buf = '\0';
	for (size_t i = 0; i < tp_result_client_count(r); i++)
		total += tp_result_client(r, i)->accepts == accepts;
	for (size_t i = 0; i < tp_result_client_count(r) && used < len; i++) {
		const struct tp_client_verdict *c = tp_result_client(r, i);
		if (c->accepts != accepts)
			continue;
		n++;
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 n == 1       ? ""
					 : n == total ? " and "
						      : ", ",
					 tp_client_title(c->client));
	}
	return n;
}

/*
 * What the clients would do, under the verdict: by default one line, and
 * only when they disagree (when all refuse or all accept, the verdict says
 * it); with -v a line per client, with the words it prints.
 */
static void
clients(const struct tout *w, const struct tp_result *r)
{
	char refuse[300], accept[300], unsure[300];
	size_t nr = client_list(r, 0, refuse, sizeof(refuse)), na = client_list(r, 1, accept, sizeof(accept)),
	       nu = client_list(r, -1, unsure, sizeof(unsure));

	if (!w->o->verbose) {
		if (!nr || nr + nu == tp_result_client_count(r) || tp_result_error(r))
			return;
		char line[1000];
		snprintf(line, sizeof(line), "%s refuse%s this chain; %s accept%s it%s%s%s.", refuse,
			 nr == 1 ? "s" : "", accept, na == 1 ? "s" : "", nu ? "; " : "", unsure,
			 nu ? (nu == 1 ? " may" : " may too") : "");
		fputs("Clients:", w->f);
		wrapped(w, line, 2, 8);
		return;
	}
	if (!tp_result_client_count(r))
		return;
	for (size_t i = 0; i < tp_result_client_count(r); i++) {
		const struct tp_client_verdict *c = tp_result_client(r, i);
		char line[1200];
		if (c->accepts == 0)
			snprintf(line, sizeof(line), "refuses: %s", c->says);
		else
			snprintf(line, sizeof(line), "%s%s%s", c->accepts > 0 ? "accepts" : "cannot tell",
				 c->why ? ": " : "", c->why ? c->why : "");
		fprintf(w->f, "  %-25s", tp_client_title(c->client));
		wrapped(w, line, 27, 27);
	}
}

static const char *
yes_no(int v, const char *yes, const char *no)
{
	return v < 0 ? "not known" : v ? yes : no;
}

/* Names of a list, joined with ", ", into buf. */
static void
join(char *buf, size_t len, const char *name)
{
	size_t used = strlen(buf);
	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
}

/* What a scan found the server accepts: one screen, versions first. */
static void
scan_report(const struct tout *w, const struct tp_scan_info *s)
{
	char on[200] = "", off[200] = "", unknown[200] = "", list[1024];

	fprintf(w->f, "\nWhat the server accepts (%u connections, %.0f ms)\n", s->connections, s->ms);
	if (!s->complete)
		field(w, 2, "",
		      "some questions had no answer in time (raise --timeout, or lower --parallel): what "
		      "follows may lack some");
	for (size_t i = s->n_versions; i-- > 0;)
		join(s->versions[i].accepted == 1   ? on
		     : s->versions[i].accepted == 0 ? off
						    : unknown,
		     200, s->versions[i].name);
	field(w, 2, "versions", "%s%s%s%s%s%s", *on ? on : "none", *off ? " (not " : "", off, *off ? ")" : "",
	      *unknown ? "; not known: " : "", unknown);
	if (s->preferred_version && s->best_version && strcmp(s->preferred_version, s->best_version) != 0)
		field(w, 2, "", "offered all at once, it picks %s, not its best", s->preferred_version);
	for (size_t i = s->n_versions; i-- > 0;) {
		const struct tp_scan_version *v = &s->versions[i];
		if (v->accepted != 1)
			continue;
		field(w, 2, v->name, "%s",
		      v->server_order == 1   ? "in the server's order"
		      : v->server_order == 0 ? "in the client's order (the server does not choose)"
					     : "");
		for (size_t k = 0; k < s->n_suites; k++) {
			const struct tp_scan_suite *c = &s->suites[k];
			if (strcmp(c->version, v->name) != 0)
				continue;
			fprintf(w->f, "    %-42s %3u bits  %-6s %s%s%s\n", c->openssl ? c->openssl : c->iana, c->bits,
				c->kx, c->rating, c->why ? ": " : "", c->why ? c->why : "");
		}
	}
	for (int k = 0; k < 2; k++) {
		const char *version = k ? "TLSv1.2" : "TLSv1.3";
		list[0] = '\0';
		for (size_t i = 0; i < s->n_groups; i++)
			if (strcmp(s->groups[i].version, version) == 0)
				join(list, sizeof(list), s->groups[i].name);
		if (*list)
			field(w, 2, k ? "groups 1.2" : "groups 1.3", "%s", list);
	}
	if (s->dh_bits)
		field(w, 2, "DH group", "%u bits", s->dh_bits);
	for (int k = 0; k < 2; k++) {
		const char *version = k ? "TLSv1.2" : "TLSv1.3";
		list[0] = '\0';
		for (size_t i = 0; i < s->n_sigalgs; i++)
			if (strcmp(s->sigalgs[i].version, version) == 0)
				join(list, sizeof(list), s->sigalgs[i].name);
		if (*list)
			field(w, 2, k ? "signs 1.2" : "signs 1.3", "%s", list);
	}
	for (size_t i = 0; i < s->n_certs; i++) {
		const struct tp_scan_cert *c = &s->certs[i];
		if (c->status == TP_STATUS_UNKNOWN)
			field(w, 2, i ? "" : "certificates", "%s: %s %u, %s, sha256 %.16s...", c->asked, c->key_type,
			      c->key_bits, c->subject, c->sha256);
		else
			field(w, 2, i ? "" : "certificates", "%s: %s %u, %s, sha256 %.16s..., %s%s%s%s", c->asked,
			      c->key_type, c->key_bits, c->subject, c->sha256, cli_status_word(c->status),
			      c->reason ? " (" : "", c->reason ? tp_reason_get(c->reason)->name : "",
			      c->reason ? ")" : "");
	}
	list[0] = '\0';
	for (size_t i = 0; i < s->n_clients; i++)
		if (s->clients[i].connects) {
			char one[80];
			snprintf(one, sizeof(one), "%s (%s)", tp_client_name(s->clients[i].client),
				 s->clients[i].version);
			join(list, sizeof(list), one);
		}
	if (s->n_clients)
		field(w, 2, "clients", "%s%s", *list ? "connect: " : "none can connect", list);
	for (size_t i = 0; i < s->n_clients; i++)
		if (!s->clients[i].connects)
			field(w, 2, "", "%s cannot: %s", tp_client_name(s->clients[i].client), s->clients[i].why);
	const struct tp_scan_features *f = &s->features;
	field(w, 2, "features",
	      "secure renegotiation %s, extended master secret %s, encrypt-then-MAC %s, compression %s, "
	      "heartbeat %s, OCSP stapling %s, session tickets %s, downgrade protection (fallback SCSV) %s; "
	      "resumes by session ID %s, by ticket %s, TLS 1.3 PSK %s, 0-RTT data %s",
	      yes_no(f->secure_renegotiation, "yes", "no"), yes_no(f->extended_master_secret, "yes", "no"),
	      yes_no(f->encrypt_then_mac, "yes", "no"), yes_no(f->compression, "yes", "no"),
	      yes_no(f->heartbeat, "yes", "no"), yes_no(f->ocsp_stapling, "yes", "no"),
	      yes_no(f->session_ticket, "yes", "no"), yes_no(f->fallback_scsv, "yes", "no"),
	      yes_no(f->resumption_id, "yes", "no"), yes_no(f->resumption_ticket, "yes", "no"),
	      yes_no(f->resumption_psk, "yes", "no"), yes_no(f->early_data, "accepted", "refused"));
	list[0] = '\0';
	for (size_t i = 0; i < f->n_alpn; i++)
		join(list, sizeof(list), f->alpn[i]);
	field(w, 2, "ALPN", "%s", *list ? list : "none chosen (or not known)");
}

void
render_text(FILE *f, const struct tp_result *r, const struct render_opts *o)
{
	const struct tout w = {f, o};
	const struct tp_problem *err = tp_result_error(r);
	size_t n = tp_result_problem_count(r);

	verdict(&w, r);
	if (o->quiet)
		return;
	clients(&w, r);
	if (!o->diagnosis_only) {
		/* A chain from files has no connection to speak of. */
		if (tp_result_target(r)->port)
			connection(&w, r);
		if (tp_result_scan(r))
			scan_report(&w, tp_result_scan(r));
		chain(&w, r);
	}
	if (err) {
		fputs("\nError\n", f);
		problem(&w, err, false);
	}
	if (o->verbose && tp_result_gnutls_status(r)) {
		fputs("\nGnuTLS says\n  ", f);
		wrapped(&w, tp_result_gnutls_status(r), 2, 2);
	}
	if (n) {
		fputs("\nProblems\n", f);
		for (size_t i = 0; i < n; i++)
			problem(&w, tp_result_problem(r, i), tp_result_problem(r, i)->waived);
	}
}
