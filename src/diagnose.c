/*
 * diagnose.c: verification and its explanation. GnuTLS gives the verdict
 * (a status bitmask); this module works out which certificate it is about
 * and why, in words: which issuer is missing, whether the root was sent but
 * is not trusted, which names the certificate does cover, how many days ago.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A longer served chain is not analysed link by link (it is still verified). */
#define MAX_PATH 64

struct chain {
	struct tp_result *r;
	struct tp_config *cfg;
	gnutls_x509_crt_t *certs;
	size_t n;
	size_t path[MAX_PATH]; /* indexes into certs: leaf, its issuer, ... */
	size_t len;
	bool bad_link;         /* a certificate in path is named but not signed by the next */
};

static const char *
subj(const struct chain *c, size_t i)
{
	return c->r->certs[i].subject;
}

/* Shortest name for a message: the CN's value when the DN has one. */
static char *
short_name(const char *dn)
{
	const char *cn = strstr(dn, "CN=");
	size_t len;

	if (!cn || (cn != dn && cn[-1] != ','))
		return strdup(dn);
	cn += 3;
	for (len = 0; cn[len] && !(cn[len] == ',' && (len == 0 || cn[len - 1] != '\\')); len++)
		;
	return strndup(cn, len);
}

static void
format_date(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

/*
 * Follow issuers through what the server sent: leaf, then the certificate
 * named as its issuer, and so on, until a self-signed one or a gap. Links
 * are made by name and key identifier; signatures are checked separately so
 * that a wrong signature is not mistaken for a missing certificate.
 */
static void
build_path(struct chain *c)
{
	bool used[MAX_PATH] = {false};
	size_t n = c->n < MAX_PATH ? c->n : MAX_PATH;

	c->path[0] = 0;
	c->len = 1;
	used[0] = true;
	while (c->len < n) {
		size_t cur = c->path[c->len - 1], next = n;
		if (c->r->certs[cur].self_signed)
			break;
		for (size_t j = 0; j < n; j++) {
			if (!used[j] && gnutls_x509_crt_check_issuer(c->certs[cur], c->certs[j])) {
				next = j;
				break;
			}
		}
		if (next == n)
			break;
		if (!tp_chain_signed_by(c->certs[cur], c->certs[next]))
			c->bad_link = true;
		used[next] = true;
		c->path[c->len++] = next;
	}
}

static void
explain_unknown_issuer(struct chain *c)
{
	struct tp_result *r = c->r;
	size_t top = c->path[c->len - 1];
	const struct tp_cert_info *ci = &r->certs[top];
	char *issuer_cn = short_name(ci->issuer), *top_cn = short_name(ci->subject);
	size_t nuser = tp_trust_user_count(c->cfg->trust);
	char from_files[160] = "";
	gnutls_datum_t dn;
	enum tp_trust_source src = TP_TRUST_NONE;
	struct tp_problem *p;

	if (nuser)
		snprintf(from_files, sizeof(from_files), " (nor in the --ca-file, which holds %zu certificate%s)",
			 nuser, nuser == 1 ? "" : "s");

	if (ci->self_signed) {
		if (top == 0) {
			tp_result_add(r, TP_SELF_SIGNED, 0,
				      "the server sent a self-signed certificate for '%s'; no trusted CA vouches "
				      "for it%s", top_cn, from_files);
		} else {
			p = tp_result_add(r, TP_UNTRUSTED_ROOT, (int)top,
					  "the chain ends at the root CA '%s' (sent by the server, SHA-256 %s), which "
					  "is not in the trust store%s", top_cn, ci->sha256, from_files);
			(void)p;
		}
		goto out;
	}

	if (gnutls_x509_crt_get_raw_issuer_dn(c->certs[top], &dn) == 0) {
		src = tp_trust_has_subject(c->cfg->trust, &dn);
		gnutls_free(dn.data);
	}
	if (src != TP_TRUST_NONE) {
		tp_result_add(r, TP_UNTRUSTED_ROOT, (int)top,
			      "'%s' was issued by '%s'; %s holds a CA certificate of that name, but not the one "
			      "that signed it (same name, different key)", top_cn, issuer_cn,
			      src == TP_TRUST_USER ? "the --ca-file" : "the system trust store");
	} else if (ci->is_ca) {
		tp_result_add(r, TP_UNTRUSTED_ROOT, (int)top,
			      "the chain ends at the CA '%s', issued by '%s', which is not in the trust store%s; "
			      "'%s' is a private or unknown root, or one more intermediate the server should send",
			      top_cn, issuer_cn, from_files, issuer_cn);
	} else {
		char aia[600] = "";
		if (ci->n_ca_issuers)
			snprintf(aia, sizeof(aia), " The certificate says its issuer can be downloaded from %s.",
				 ci->ca_issuers[0]);
		if (c->n == 1)
			p = tp_result_add(r, TP_MISSING_INTERMEDIATE, (int)top,
					  "the server sent only its leaf certificate; its issuer '%s' is missing from "
					  "the chain and is not in the trust store%s", issuer_cn, from_files);
		else
			p = tp_result_add(r, TP_MISSING_INTERMEDIATE, (int)top,
					  "the server sent %zu certificates but not '%s', the issuer of '%s'; it is "
					  "not in the trust store either%s", c->n, issuer_cn, top_cn, from_files);
		if (p)
			tp_problem_set_fix(p, "%s%s If '%s' is instead a root CA of your own, trust it on the "
					      "client: tlsprobe --ca-file root.pem, curl --cacert root.pem.",
					   tp_reason_get(TP_MISSING_INTERMEDIATE)->fix, aia, issuer_cn);
	}
out:
	free(issuer_cn);
	free(top_cn);
}

static void
explain_bad_signature(struct chain *c)
{
	for (size_t k = 0; k + 1 < c->len; k++) {
		size_t i = c->path[k], j = c->path[k + 1];
		if (tp_chain_signed_by(c->certs[i], c->certs[j]))
			continue;
		char *a = short_name(subj(c, i)), *b = short_name(subj(c, j));
		tp_result_add(c->r, TP_SIGNATURE_FAILURE, (int)i,
			      "'%s' names '%s' as its issuer, but the signature does not verify with the key of "
			      "the '%s' certificate the server sent", a, b, b);
		free(a);
		free(b);
	}
}

static void
explain_not_ca(struct chain *c)
{
	for (size_t k = 0; k + 1 < c->len; k++) {
		size_t i = c->path[k], j = c->path[k + 1];
		if (c->r->certs[j].is_ca)
			continue;
		char *a = short_name(subj(c, i)), *b = short_name(subj(c, j));
		tp_result_add(c->r, TP_ISSUER_NOT_CA, (int)j,
			      "'%s' was signed by '%s', which is not a CA certificate (no basicConstraints CA:TRUE)",
			      a, b);
		free(a);
		free(b);
		return;
	}
	tp_result_add(c->r, TP_ISSUER_NOT_CA, -1, "a certificate in the chain was signed by one that is not a CA");
}

static bool
weak_hash(gnutls_x509_crt_t crt, const char **name)
{
	int sig = gnutls_x509_crt_get_signature_algorithm(crt);
	gnutls_digest_algorithm_t h = gnutls_sign_get_hash_algorithm((gnutls_sign_algorithm_t)sig);

	*name = gnutls_digest_get_name(h);
	return h == GNUTLS_DIG_SHA1 || h == GNUTLS_DIG_MD5 || h == GNUTLS_DIG_MD2;
}

static void
explain_insecure_algorithm(struct chain *c)
{
	bool found = false;
	const char *h;

	for (size_t k = 0; k < c->len; k++) {
		size_t i = c->path[k];
		/* A root's signature on itself is never checked by anyone. */
		if (c->r->certs[i].self_signed || !weak_hash(c->certs[i], &h))
			continue;
		char *a = short_name(subj(c, i));
		tp_result_add(c->r, TP_INSECURE_ALGORITHM, (int)i,
			      "'%s' is signed with %s (%s), which is no longer considered secure", a, h,
			      c->r->certs[i].sig_alg);
		free(a);
		found = true;
	}
	if (!found)
		tp_result_add(c->r, TP_INSECURE_ALGORITHM, -1,
			      "a signature in the chain, or in the trusted root that anchors it, uses an "
			      "algorithm that is no longer considered secure");
}

static void
explain_names(struct chain *c, const char *name)
{
	const struct tp_cert_info *leaf = &c->r->certs[0];
	char covers[1024] = "";
	size_t used = 0;

	if (gnutls_x509_crt_check_hostname2(c->certs[0], name, 0))
		return;
	c->r->hostname_ok = false;
	for (size_t i = 0; i < leaf->n_sans && used < sizeof(covers); i++)
		used += (size_t)snprintf(covers + used, sizeof(covers) - used, "%s%s", i ? ", " : "", leaf->sans[i]);
	if (leaf->n_sans) {
		tp_result_add(c->r, TP_HOSTNAME_MISMATCH, 0, "the certificate does not cover '%s'; it covers: %s",
			      name, covers);
	} else {
		char *cn = short_name(leaf->subject);
		tp_result_add(c->r, TP_HOSTNAME_MISMATCH, 0,
			      "the certificate does not cover '%s'; it has no subjectAltName, only the subject '%s'",
			      name, cn);
		free(cn);
	}
}

static void
explain_validity(struct chain *c, time_t now)
{
	const struct tp_config *cfg = c->cfg;
	char date[40], when[80];

	if (cfg->at) {
		format_date(cfg->at, date, sizeof(date));
		snprintf(when, sizeof(when), "at %s (--at)", date);
	} else {
		format_date(now, date, sizeof(date));
		snprintf(when, sizeof(when), "by this machine's clock, %s", date);
	}
	for (size_t k = 0; k < c->len; k++) {
		size_t i = c->path[k];
		const struct tp_cert_info *ci = &c->r->certs[i];
		char *cn = short_name(ci->subject);
		double days;
		if (now < ci->not_before) {
			format_date(ci->not_before, date, sizeof(date));
			days = difftime(ci->not_before, now) / 86400.0;
			tp_result_add(c->r, TP_NOT_YET_VALID, (int)i,
				      "'%s' is not valid before %s, %.0f day%s from now %s", cn, date, days + 0.5,
				      days + 0.5 >= 1 && days + 0.5 < 2 ? "" : "s", when);
		} else if (now > ci->not_after) {
			format_date(ci->not_after, date, sizeof(date));
			days = difftime(now, ci->not_after) / 86400.0;
			tp_result_add(c->r, TP_EXPIRED, (int)i, "'%s' expired on %s, %ld day%s ago %s", cn, date,
				      (long)days, (long)days == 1 ? "" : "s", when);
		} else if (ci->days_remaining < cfg->warn_days) {
			struct tp_problem *p;
			format_date(ci->not_after, date, sizeof(date));
			p = tp_result_add(c->r, TP_EXPIRES_SOON, (int)i,
					  "'%s' expires on %s, in %ld day%s (thresholds: warning %d, critical %d days)",
					  cn, date, ci->days_remaining, ci->days_remaining == 1 ? "" : "s",
					  cfg->warn_days, cfg->crit_days);
			if (p && ci->days_remaining < cfg->crit_days)
				p->severity = TP_STATUS_CRITICAL;
		}
		free(cn);
	}
}

void
tp_diagnose(struct tp_result *r, struct tp_config *cfg, gnutls_x509_crt_t *certs, size_t n, const char *name,
	    time_t now)
{
	struct chain c = {.r = r, .cfg = cfg, .certs = certs, .n = n};
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER,
	};
	/* Validity is judged here, per certificate and at --at time. */
	unsigned flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;
	unsigned status = 0, explained;
	gnutls_x509_trust_list_t tl;
	int ret;

	if (n == 0) {
		tp_result_add(r, TP_VERIFY_FAILED, -1, "the server sent no certificate");
		r->verified = true;
		return;
	}
	build_path(&c);
	tl = tp_trust_list_for(cfg->trust, certs, n);
	ret = gnutls_x509_trust_list_verify_crt2(tl, certs, (unsigned)n, &purpose, 1, flags, &status, NULL);
	r->verified = true;
	r->hostname_ok = true;
	if (ret < 0) {
		tp_result_add(r, TP_VERIFY_FAILED, -1, "the chain could not be verified: %s", gnutls_strerror(ret));
		status = GNUTLS_CERT_INVALID;
	}
	r->trusted = status == 0;

	explained = GNUTLS_CERT_INVALID;
	if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE)) {
		if (c.bad_link)
			explain_bad_signature(&c);
		else if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
			explain_unknown_issuer(&c);
		else
			tp_result_add(r, TP_SIGNATURE_FAILURE, -1,
				      "a signature in the chain does not verify with its issuer's key");
		explained |= GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE;
	}
	if (status & GNUTLS_CERT_SIGNER_NOT_CA) {
		explain_not_ca(&c);
		explained |= GNUTLS_CERT_SIGNER_NOT_CA;
	}
	if (status & GNUTLS_CERT_INSECURE_ALGORITHM) {
		explain_insecure_algorithm(&c);
		explained |= GNUTLS_CERT_INSECURE_ALGORITHM;
	}
	if (status & GNUTLS_CERT_PURPOSE_MISMATCH) {
		tp_result_add(r, TP_PURPOSE_MISMATCH, 0,
			      "the certificate's extendedKeyUsage does not include serverAuth: it is not meant "
			      "for a TLS server (a client certificate, perhaps)");
		explained |= GNUTLS_CERT_PURPOSE_MISMATCH;
	}
	if (status & GNUTLS_CERT_REVOKED) {
		tp_result_add(r, TP_REVOKED, -1, "a certificate in the chain has been revoked by its CA");
		explained |= GNUTLS_CERT_REVOKED;
	}
	if (status & ~explained) {
		gnutls_datum_t out = {NULL, 0};
		gnutls_certificate_verification_status_print(status & ~explained, GNUTLS_CRT_X509, &out, 0);
		tp_result_add(r, TP_VERIFY_FAILED, -1, "GnuTLS reports: %s", out.data ? (char *)out.data : "invalid");
		gnutls_free(out.data);
	}

	if (name) {
		free(r->verify_name);
		r->verify_name = strdup(name);
		explain_names(&c, name);
	}
	explain_validity(&c, now);
	for (size_t i = 0; i < r->n_problems; i++)
		if (r->problems[i].code == TP_EXPIRED || r->problems[i].code == TP_NOT_YET_VALID)
			r->trusted = false;
}
