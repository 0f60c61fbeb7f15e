/*
 * result.c: findings, the parts of a result, and the severity policy: a
 * finding's severity comes from its code and its grade (tp_severity), and
 * the result's status from its findings (tp_result_judge), nowhere else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "result.h"

/* ---- findings ------------------------------------------------------------ */

static enum tp_status
tp_severity(enum tp_code code, enum tp_grade grade)
{
	switch (grade) {
	case TP_GRADE_REFUSED: return TP_STATUS_CRITICAL;
	case TP_GRADE_ADVISORY: return TP_STATUS_WARNING;
	case TP_GRADE_DEFAULT: break;
	}
	return tp_reason_get(code)->status;
}

static void
problem_free(struct tp_problem *p)
{
	free(p->subject);
	free(p->message);
	free(p->fix);
}

TP_PRINTF(4, 0)
static void problem_fill(struct tp_problem *p, enum tp_code code, int cert_index, const char *fmt, va_list ap);

static void
problem_fill(struct tp_problem *p, enum tp_code code, int cert_index, const char *fmt, va_list ap)
{
	p->code = code;
	p->severity = tp_severity(code, TP_GRADE_DEFAULT);
	p->cert_index = cert_index;
	p->message = tp_vstrdupf(fmt, ap);
	p->fix = strdup(tp_reason_get(code)->fix);
}

struct tp_problem *
tp_fail(struct tp_findings *f, enum tp_code code, const char *fmt, ...)
{
	va_list ap;

	if (f->error)
		return f->error;
	f->error = calloc(1, sizeof(*f->error));
	if (!f->error)
		return NULL;
	va_start(ap, fmt);
	problem_fill(f->error, code, -1, fmt, ap);
	va_end(ap);
	return f->error;
}

struct tp_problem *
tp_find(struct tp_findings *f, enum tp_code code, int cert_index, const char *fmt, ...)
{
	struct tp_problem *grown = realloc(f->problems, (f->n + 1) * sizeof(*grown)), *p;
	va_list ap;

	if (!grown)
		return NULL;
	f->problems = grown;
	p = memset(&grown[f->n++], 0, sizeof(*p));
	va_start(ap, fmt);
	problem_fill(p, code, cert_index, fmt, ap);
	va_end(ap);
	return p;
}

void
tp_problem_grade(struct tp_problem *p, enum tp_grade grade)
{
	if (p)
		p->severity = tp_severity(p->code, grade);
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
tp_problem_append(struct tp_problem *p, const char *fmt, ...)
{
	va_list ap;
	char *more, *msg;

	if (!p)
		return;
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

void
tp_problem_recode(struct tp_problem *p, enum tp_code code)
{
	p->code = code;
	p->severity = tp_severity(code, TP_GRADE_DEFAULT);
	tp_problem_set_fix(p, "%s", tp_reason_get(code)->fix);
}

void
tp_findings_remove(struct tp_findings *f, size_t i)
{
	if (i >= f->n)
		return;
	problem_free(&f->problems[i]);
	memmove(&f->problems[i], &f->problems[i + 1], (f->n - i - 1) * sizeof(*f->problems));
	f->n--;
}

void
tp_findings_finish(struct tp_findings *f)
{
	for (size_t i = 0; i < f->n; i++)
		problem_free(&f->problems[i]);
	free(f->problems);
	if (f->error)
		problem_free(f->error);
	free(f->error);
	*f = (struct tp_findings){0};
}

/* ---- the parts ----------------------------------------------------------- */

void
tp_tls_facts_finish(struct tp_tls_facts *t)
{
	free(t->alpn);
	free(t->kx_name);
	gnutls_free(t->ocsp_der.data);
	*t = (struct tp_tls_facts){0};
}

static void
cert_info_finish(struct tp_cert_info *ci)
{
	free(ci->subject);
	free(ci->issuer);
	free(ci->serial);
	free(ci->sha256);
	for (size_t i = 0; i < ci->n_sans; i++)
		free(ci->sans[i]);
	free(ci->sans);
	for (size_t i = 0; i < ci->n_ca_issuers; i++)
		free(ci->ca_issuers[i]);
	free(ci->ca_issuers);
	free(ci->der.data);
	memset(ci, 0, sizeof(*ci));
}

void
tp_chain_facts_finish(struct tp_chain_facts *c)
{
	for (size_t i = 0; i < c->n; i++)
		cert_info_finish(&c->certs[i]);
	free(c->certs);
	*c = (struct tp_chain_facts){0};
}

void
tp_verdict_finish(struct tp_verdict *v)
{
	free(v->name);
	free(v->gnutls_status);
	*v = (struct tp_verdict){0};
}

static void
fetch_info_finish(struct tp_fetch_info *f)
{
	free(f->reason);
	free(f->final_url);
	free(f->content_type);
	free(f->curl_message);
	for (size_t i = 0; i < f->n_hops; i++)
		free(f->hops[i].url);
	free(f->hops);
	*f = (struct tp_fetch_info){0};
}

/* ---- the result ---------------------------------------------------------- */

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct tp_result *
tp_result_create(const struct tp_target *target)
{
	struct tp_result *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->timing = (struct tp_timing){-1, -1, -1, -1, -1, -1, -1};
	r->target = *target;
	r->target.input = strdup(target->input ? target->input : "");
	r->target.host = strdup(target->host ? target->host : "");
	r->target.sni = dup_or_null(target->sni);
	r->target.starttls = dup_or_null(target->starttls);
	r->target.connect_host = dup_or_null(target->connect_host);
	r->ocsp.this_update = r->ocsp.next_update = r->ocsp.revocation_time = (time_t)-1;
	return r;
}

void
tp_result_adopt(struct tp_result *r, struct tp_result *from)
{
	for (size_t i = 0; r->revocation && i < r->chain.n; i++)
		free(r->revocation[i].source);
	free(r->revocation);
	r->revocation = from->revocation;
	from->revocation = NULL;
	tp_tls_facts_finish(&r->tls);
	r->tls = from->tls;
	from->tls = (struct tp_tls_facts){0};
	tp_chain_facts_finish(&r->chain);
	r->chain = from->chain;
	from->chain = (struct tp_chain_facts){0};
	tp_chain_facts_finish(&r->client_chain);
	r->client_chain = from->client_chain;
	from->client_chain = (struct tp_chain_facts){0};
	r->ocsp = from->ocsp;
	tp_verdict_finish(&r->verdict);
	r->verdict = from->verdict;
	from->verdict = (struct tp_verdict){0};
	tp_findings_finish(&r->found);
	r->found = from->found;
	from->found = (struct tp_findings){0};
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
	fetch_info_finish(&r->fetch);
	if (r->scan) {
		free(r->scan->suites);
		free(r->scan->groups);
		free(r->scan->sigalgs);
		for (size_t i = 0; i < r->scan->n_certs; i++) {
			free(r->scan->certs[i].sni);
			free(r->scan->certs[i].subject);
			free(r->scan->certs[i].sha256);
		}
		free(r->scan->certs);
		free(r->scan);
	}
	/* The copies tp_result_create made. */
	free(r->target.input);
	free(r->target.host);
	free(r->target.sni);
	free(r->target.starttls);
	free(r->target.connect_host);
	free(r->sni);
	tp_tls_facts_finish(&r->tls);
	/* One per certificate of the chain: before its count goes. */
	for (size_t i = 0; r->revocation && i < r->chain.n; i++)
		free(r->revocation[i].source);
	free(r->revocation);
	tp_chain_facts_finish(&r->chain);
	tp_verdict_finish(&r->verdict);
	tp_findings_finish(&r->found);
	tp_client_verdicts_finish(&r->clients);
	tp_chain_facts_finish(&r->client_chain);
	for (size_t i = 0; i < r->n_addresses; i++) {
		free(r->addresses[i].leaf_subject);
		free(r->addresses[i].leaf_sha256);
	}
	free(r->addresses);
	for (size_t i = 0; i < r->n_fullchain; i++)
		free(r->fullchain[i].data);
	free(r->fullchain);
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

/*
 * A finding a client rule covers is critical when a client that counts
 * refuses the chain for it, a warning when none does; when none refuses
 * but one may, its code's default stands.
 */
static void
grade_by_clients(struct tp_problem *p, unsigned clients)
{
	if (!p->rule)
		return;
	p->refused_by = tp_rule_refusers(p->rule) & clients;
	/* Trust advice for the clients that refuse, once (a result may be judged again). */
	char *advice =
		tp_rule_trust_advice(p->rule, p->refused_by, p->code == TP_SELF_SIGNED ? "cert.pem" : "root.pem");
	if (advice && !strstr(p->fix, advice))
		tp_problem_set_fix(p, "%s %s", p->fix, advice);
	free(advice);
	if (p->refused_by)
		p->severity = TP_STATUS_CRITICAL;
	else if (!(tp_rule_unsure(p->rule) & clients))
		p->severity = TP_STATUS_WARNING;
}

void
tp_result_judge(struct tp_result *r, bool insecure, unsigned clients)
{
	struct tp_findings *f = &r->found;

	if (!clients)
		clients = TP_CLIENTS_ALL;
	for (size_t i = 0; i < f->n; i++) {
		struct tp_problem *p = &f->problems[i];
		if (!p->subject && p->cert_index >= 0 && (size_t)p->cert_index < r->chain.n)
			p->subject = strdup(r->chain.certs[p->cert_index].subject);
		grade_by_clients(p, clients);
	}
	r->status = TP_STATUS_OK;
	r->reason = TP_CODE_NONE;
	tp_client_verdicts_finish(&r->clients);
	/* Most severe first, beside an error too (a scan's findings when its
	 * probe could not finish). */
	if (f->n)
		qsort(f->problems, f->n, sizeof(*f->problems), by_severity);
	if (f->error) {
		r->status = f->error->severity;
		r->reason = f->error->code;
		tp_client_verdicts_judge(&r->clients, clients, f, &r->verdict, &r->chain);
		return;
	}
	for (size_t i = 0; i < f->n; i++) {
		struct tp_problem *p = &f->problems[i];
		/* --insecure waives what verification of the server found, never an
		 * expiry warning, nor what is wrong with the client's own certificate. */
		p->waived = insecure && p->code != TP_EXPIRES_SOON && !p->client_cert;
		if (!p->waived && p->severity > r->status) {
			r->status = p->severity;
			r->reason = p->code;
		}
	}
	/* After the sort: the verdicts point into the findings. */
	tp_client_verdicts_judge(&r->clients, clients, f, &r->verdict, &r->chain);
}

/* ---- getters ------------------------------------------------------------- */

/* Laid out by hand, one line per getter. */
/* clang-format off */

enum tp_status tp_result_status(const struct tp_result *r) { return r->status; }
enum tp_code tp_result_reason(const struct tp_result *r) { return r->reason; }
const struct tp_target *tp_result_target(const struct tp_result *r) { return &r->target; }
const char *tp_result_sni(const struct tp_result *r) { return r->sni; }
const char *tp_result_address(const struct tp_result *r) { return r->address[0] ? r->address : NULL; }
const struct tp_timing *tp_result_timing(const struct tp_result *r) { return &r->timing; }
const struct tp_tls_info *tp_result_tls(const struct tp_result *r) { return r->tls.done ? &r->tls.info : NULL; }
const struct tp_ocsp_info *tp_result_ocsp(const struct tp_result *r) { return r->tls.done ? &r->ocsp : NULL; }
size_t tp_result_cert_count(const struct tp_result *r) { return r->chain.n; }
const struct tp_cert_info *tp_result_cert(const struct tp_result *r, size_t i) { return i < r->chain.n ? &r->chain.certs[i] : NULL; }
bool tp_result_verified(const struct tp_result *r) { return r->verdict.verified; }
bool tp_result_trusted(const struct tp_result *r) { return r->verdict.trusted; }
time_t tp_result_path_not_after(const struct tp_result *r) { return r->verdict.path_not_after; }
const struct tp_revocation *tp_result_revocation(const struct tp_result *r, size_t i)
{
	return r->revocation && i < r->chain.n ? &r->revocation[i] : NULL;
}
const gnutls_datum_t *tp_result_fullchain(const struct tp_result *r, size_t *n)
{
	*n = r->n_fullchain;
	return r->fullchain;
}
bool tp_result_hostname_ok(const struct tp_result *r) { return r->verdict.hostname_ok; }
const char *tp_result_verify_name(const struct tp_result *r) { return r->verdict.name; }
const char *tp_result_gnutls_status(const struct tp_result *r) { return r->verdict.gnutls_status; }
size_t tp_result_problem_count(const struct tp_result *r) { return r->found.n; }
const struct tp_problem *tp_result_problem(const struct tp_result *r, size_t i) { return i < r->found.n ? &r->found.problems[i] : NULL; }
const struct tp_problem *tp_result_error(const struct tp_result *r) { return r->found.error; }
const char *tp_result_proxy(const struct tp_result *r) { return r->proxy[0] ? r->proxy : NULL; }
size_t tp_result_address_total(const struct tp_result *r) { return r->address_total; }
size_t tp_result_address_count(const struct tp_result *r) { return r->n_addresses; }
const struct tp_address_result *tp_result_address_result(const struct tp_result *r, size_t i) { return i < r->n_addresses ? &r->addresses[i] : NULL; }
size_t tp_result_client_cert_count(const struct tp_result *r) { return r->client_chain.n; }
const struct tp_cert_info *tp_result_client_cert(const struct tp_result *r, size_t i) { return i < r->client_chain.n ? &r->client_chain.certs[i] : NULL; }
size_t tp_result_client_count(const struct tp_result *r) { return r->clients.n; }
const struct tp_client_verdict *tp_result_client(const struct tp_result *r, size_t i) { return i < r->clients.n ? &r->clients.v[i] : NULL; }
const struct tp_scan_info *tp_result_scan(const struct tp_result *r) { return r->scan; }
const struct tp_fetch_info *tp_result_fetch(const struct tp_result *r) { return r->is_fetch ? &r->fetch : NULL; }
/* clang-format on */
