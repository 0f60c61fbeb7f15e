/*
 * revoke.c: revocation. Names which certificate a --crl revokes, when and
 * why, and judges the OCSP response the server stapled: about the leaf?
 * signed by its issuer? fresh? and what it says.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/ocsp.h>

#include "cache.h"
#include "chain.h"
#include "revoke.h"
#include "trust.h"

static bool
crl_issued_for(gnutls_x509_crl_t crl, gnutls_x509_crt_t crt)
{
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	bool same = false;

	if (gnutls_x509_crl_get_raw_issuer_dn(crl, &a) == 0 && gnutls_x509_crt_get_raw_issuer_dn(crt, &b) == 0)
		same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	return same;
}

/* When crl lists crt's serial, its revocation time; else (time_t)-1. */
static bool
crl_lists(gnutls_x509_crl_t crl, gnutls_x509_crt_t crt, time_t *when)
{
	unsigned char want[128], serial[128];
	size_t want_len = sizeof(want), len;
	gnutls_x509_crl_iter_t iter = NULL;
	bool found = false;

	if (gnutls_x509_crt_get_serial(crt, want, &want_len) < 0)
		return false;
	for (;;) {
		len = sizeof(serial);
		if (gnutls_x509_crl_iter_crt_serial(crl, &iter, serial, &len, when) < 0)
			break;
		if (len == want_len && memcmp(serial, want, len) == 0) {
			found = true;
			break;
		}
	}
	gnutls_x509_crl_iter_deinit(iter);
	return found;
}

/* The certificate that issued path[k]: the next one sent, or a trusted CA. */
static gnutls_x509_crt_t
issuer_of(const struct tp_config *cfg, gnutls_x509_crt_t *certs, const size_t *path, size_t len, size_t k, bool *owned)
{
	gnutls_x509_crt_t issuer = NULL;

	*owned = false;
	if (k + 1 < len)
		return certs[path[k + 1]];
	gnutls_x509_trust_list_t tl = tp_trust_list_for(cfg->trust, &certs[path[k]], 1);
	if (gnutls_x509_trust_list_get_issuer(tl, certs[path[k]], &issuer, GNUTLS_TL_GET_COPY) == 0)
		*owned = true;
	return issuer;
}

/*
 * A CRL counts only for the certificates its issuer issued, and only once
 * its signature verifies with that issuer's key: anyone can write a CRL.
 */
static void
check_crls(struct tp_findings *f, const struct tp_config *cfg, const struct tp_chain_in *in, const size_t *path,
	   size_t len, time_t now)
{
	gnutls_x509_crt_t *certs = in->certs;
	const struct tp_cert_info *info = in->facts->certs;
	char date[40];

	for (size_t c = 0; c < tp_trust_crl_count(cfg->trust); c++) {
		gnutls_x509_crl_t crl = tp_trust_crl(cfg->trust, c);
		const char *file = tp_trust_crl_file(cfg->trust, c);
		for (size_t k = 0; k < len; k++) {
			size_t i = path[k];
			bool owned;
			unsigned verify = 0;
			time_t when = (time_t)-1, next;
			if (!crl_issued_for(crl, certs[i]))
				continue;
			gnutls_x509_crt_t issuer = issuer_of(cfg, certs, path, len, k, &owned);
			char *cn = tp_short_name(info[i].issuer), *subject = tp_short_name(info[i].subject);
			/* GnuTLS also flags a CRL past its next update, by the real
			 * clock: freshness is judged below, at --at time. */
			if (!issuer ||
			    gnutls_x509_crl_verify(crl, &issuer, 1, GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1, &verify) < 0 ||
			    (verify & (GNUTLS_CERT_SIGNATURE_FAILURE | GNUTLS_CERT_SIGNER_NOT_FOUND |
				       GNUTLS_CERT_SIGNER_NOT_CA))) {
				struct tp_problem *p = tp_find(
					f, TP_CRL_INVALID, (int)i,
					"the CRL in %s names '%s' as its issuer but %s, so it was not used", file, cn,
					issuer ? "is not signed by that CA's key"
					       : "that CA is neither sent nor trusted");
				(void)p;
			} else {
				if (in->rev && !in->rev[i].method) {
					struct tp_revocation *rv = &in->rev[i];
					rv->method = "crl";
					rv->status = crl_lists(crl, certs[i], &when) ? "revoked" : "good";
					rv->source = strdup(file);
					rv->this_update = gnutls_x509_crl_get_this_update(crl);
					rv->next_update = gnutls_x509_crl_get_next_update(crl);
					rv->revoked_at = when;
				}
				if (crl_lists(crl, certs[i], &when)) {
					tp_format_date(when, date, sizeof(date));
					tp_find(f, TP_REVOKED, (int)i,
						"'%s' (serial %s) was revoked on %s, says the CRL of '%s' in %s",
						subject, info[i].serial, date, cn, file);
				}
				/* A CRL past its next update may miss recent revocations. */
				next = gnutls_x509_crl_get_next_update(crl);
				if (next != (time_t)-1 && next < now) {
					tp_format_date(next, date, sizeof(date));
					tp_find(f, TP_CRL_STALE, (int)i,
						"the CRL of '%s' in %s is stale: its next update was due %s, so "
						"revocations since then are missing from it",
						cn, file, date);
				}
			}
			free(cn);
			free(subject);
			if (owned)
				gnutls_x509_crt_deinit(issuer);
		}
	}
}

/* RFC 5280 5.3.1's names. */
static const char *
reason_name(unsigned reason)
{
	static const char *const names[] = {
		"unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
		"superseded",    "cessationOfOperation", "certificateHold", NULL,
		"removeFromCRL", "privilegeWithdrawn",   "aACompromise"};
	return reason < sizeof(names) / sizeof(*names) && names[reason] ? names[reason] : "unspecified";
}

static const char *
ocsp_status_name(unsigned status)
{
	switch (status) {
	case GNUTLS_OCSP_CERT_GOOD: return "good";
	case GNUTLS_OCSP_CERT_REVOKED: return "revoked";
	default: return "unknown";
	}
}

/* The issuer of the leaf: the next in path, else a trusted CA of that name. */
static int
ocsp_verify(gnutls_ocsp_resp_t resp, const struct tp_config *cfg, gnutls_x509_crt_t *certs, const size_t *path,
	    size_t len, unsigned *verify)
{
	if (len > 1)
		return gnutls_ocsp_resp_verify_direct(resp, certs[path[1]], verify, 0);
	return gnutls_ocsp_resp_verify(resp, tp_trust_list_for(cfg->trust, certs, 1), verify, 0);
}

/* The leaf carries the TLS feature status_request: "OCSP Must-Staple" (RFC 7633). */
static bool
must_staple(gnutls_x509_crt_t crt)
{
	gnutls_x509_tlsfeatures_t f;
	unsigned feature = 0;
	bool found = false;

	if (gnutls_x509_tlsfeatures_init(&f) < 0)
		return false;
	if (gnutls_x509_crt_get_tlsfeatures(crt, f, 0, NULL) == 0)
		for (unsigned i = 0; !found && gnutls_x509_tlsfeatures_get(f, i, &feature) == 0; i++)
			found = feature == 5; /* status_request */
	gnutls_x509_tlsfeatures_deinit(f);
	return found;
}

static void
check_ocsp(struct tp_ocsp_info *o, struct tp_findings *f, const struct tp_config *cfg, const struct tp_chain_in *in,
	   const size_t *path, size_t len, time_t now)
{
	gnutls_x509_crt_t *certs = in->certs;
	const struct tp_cert_info *info = in->facts->certs;
	gnutls_ocsp_resp_t resp = NULL;
	unsigned status = 0, reason = 0, verify = 0;
	time_t revoked_at = (time_t)-1;
	char date[40];

	o->this_update = o->next_update = o->revocation_time = (time_t)-1;
	o->stapled = in->ocsp && in->ocsp->size;
	if (!o->stapled) {
		if (in->handshake && must_staple(certs[0])) {
			char *cn = tp_short_name(info[0].subject);
			struct tp_problem *p = tp_find(
				f, TP_OCSP_MISSING, 0,
				"'%s' demands an OCSP response stapled to it (TLS feature status_request, \"OCSP "
				"Must-Staple\"), and the server stapled none: Firefox and GnuTLS refuse the connection",
				cn);
			tp_problem_set_fix(p, "%s Or reissue the certificate without Must-Staple.",
					   tp_reason_get(TP_OCSP_MISSING)->fix);
			free(cn);
		} else if (cfg->ocsp_required) {
			tp_find(f, TP_OCSP_MISSING, 0,
				"the server stapled no OCSP response to its certificate (--ocsp-required)");
		}
		return;
	}
	if (gnutls_ocsp_resp_init(&resp) < 0)
		return;
	if (gnutls_ocsp_resp_import(resp, in->ocsp) < 0 ||
	    gnutls_ocsp_resp_get_status(resp) != GNUTLS_OCSP_RESP_SUCCESSFUL ||
	    gnutls_ocsp_resp_get_single(resp, 0, NULL, NULL, NULL, NULL, &status, &o->this_update, &o->next_update,
					&revoked_at, &reason) < 0) {
		tp_find(f, TP_OCSP_INVALID, 0,
			"the stapled OCSP response cannot be read, or is not a "
			"successful response");
		goto out;
	}
	o->status = ocsp_status_name(status);
	o->revocation_time = status == GNUTLS_OCSP_CERT_REVOKED ? revoked_at : (time_t)-1;
	bool about_leaf = gnutls_ocsp_resp_check_crt(resp, 0, certs[0]) == 0;
	int vret = about_leaf ? ocsp_verify(resp, cfg, certs, path, len, &verify) : -1;
	o->verified = about_leaf && vret == 0 && verify == 0;
	/* A response that counts: verified and fresh. */
	if (in->rev && o->verified && (o->next_update == (time_t)-1 || o->next_update >= now)) {
		struct tp_revocation *rv = &in->rev[0];
		rv->method = "staple";
		rv->status = o->status;
		rv->this_update = o->this_update;
		rv->next_update = o->next_update;
		rv->revoked_at = o->revocation_time;
		rv->reason = status == GNUTLS_OCSP_CERT_REVOKED ? reason_name(reason) : NULL;
	}

	if (!about_leaf) {
		tp_find(f, TP_OCSP_INVALID, 0, "the stapled OCSP response is about another certificate");
	} else if (!o->verified && len == 1) {
		tp_find(f, TP_OCSP_INVALID, 0,
			"the stapled OCSP response could not be checked: the server did not send the "
			"certificate's issuer, whose key must have signed it");
	} else if (!o->verified) {
		tp_find(f, TP_OCSP_INVALID, 0,
			"the stapled OCSP response is not signed by the certificate's issuer (nor by a "
			"responder it delegated to)");
	} else if (status == GNUTLS_OCSP_CERT_REVOKED) {
		tp_format_date(revoked_at, date, sizeof(date));
		char *cn = tp_short_name(info[0].subject);
		tp_find(f, TP_REVOKED, 0, "'%s' was revoked on %s, says the OCSP response the server stapled", cn,
			date);
		free(cn);
	} else if (o->next_update != (time_t)-1 && o->next_update < now) {
		tp_format_date(o->next_update, date, sizeof(date));
		tp_find(f, TP_OCSP_INVALID, 0, "the stapled OCSP response is stale: its next update was due %s", date);
	} else if (status != GNUTLS_OCSP_CERT_GOOD) {
		tp_find(f, TP_OCSP_INVALID, 0,
			"the stapled OCSP response says the certificate's status is unknown to its CA");
	}
out:
	gnutls_ocsp_resp_deinit(resp);
}

/* ---- asking the CA's OCSP responder (RFC 6960, GET as RFC 5019 says) ---- */

/* The first http:// OCSP URL crt names, into url; false when none. */
static bool
ocsp_url(gnutls_x509_crt_t crt, char *url, size_t len)
{
	for (unsigned seq = 0; seq < 16; seq++) {
		gnutls_datum_t u = {NULL, 0};
		int ret = gnutls_x509_crt_get_authority_info_access(crt, seq, GNUTLS_IA_OCSP_URI, &u, NULL);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return false;
		if (ret < 0)
			continue;
		snprintf(url, len, "%.*s", (int)u.size, (const char *)u.data);
		gnutls_free(u.data);
		if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
			return true;
	}
	return false;
}

/* URL/BASE64-OF-THE-REQUEST, the base64 %-encoded (RFC 5019 5). */
static char *
get_url(const char *url, const gnutls_datum_t *req)
{
	gnutls_datum_t b64 = {NULL, 0};
	char *out, *o;

	if (gnutls_base64_encode2(req, &b64) < 0)
		return NULL;
	if ((out = malloc(strlen(url) + 3 * b64.size + 2))) {
		o = out + sprintf(out, "%s%s", url, url[strlen(url) - 1] == '/' ? "" : "/");
		for (unsigned i = 0; i < b64.size; i++)
			o += strchr("+/=", b64.data[i]) ? sprintf(o, "%%%02X", b64.data[i])
							: sprintf(o, "%c", b64.data[i]);
	}
	gnutls_free(b64.data);
	return out;
}

/* Take back the finding of that code at or after index from. */
static void
drop_finding(struct tp_findings *f, size_t from, enum tp_code code)
{
	for (size_t k = from; k < f->n; k++)
		if (f->problems[k].code == code) {
			tp_findings_remove(f, k);
			return;
		}
}

/* What went wrong asking, as a finding; the certificate's status stays unknown. */
TP_PRINTF(4, 5) static void unknown(struct tp_findings *f, size_t i, struct tp_revocation *rv, const char *fmt, ...)
{
	char msg[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rv->status = "unknown";
	tp_find(f, TP_REVOCATION_UNKNOWN, (int)i, "%s", msg);
}

static const char *
resp_status_name(int status)
{
	switch (status) {
	case GNUTLS_OCSP_RESP_MALFORMEDREQUEST: return "malformedRequest";
	case GNUTLS_OCSP_RESP_INTERNALERROR: return "internalError";
	case GNUTLS_OCSP_RESP_TRYLATER: return "tryLater";
	case GNUTLS_OCSP_RESP_SIGREQUIRED: return "sigRequired";
	case GNUTLS_OCSP_RESP_UNAUTHORIZED: return "unauthorized";
	default: return "an error";
	}
}

/* What a verified OCSP answer said, remembered for the process. */
struct verdict {
	unsigned status, reason;
	time_t this_update, next_update, revoked_at;
};

/* Ask the responder crt names about crt, issued by issuer; into rv and f. */
static void
ask_responder(struct tp_findings *f, const struct tp_config *cfg, const struct tp_chain_in *in, size_t i,
	      gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer, time_t now)
{
	const struct tp_cert_info *info = &in->facts->certs[i];
	struct tp_revocation *rv = &in->rev[i];
	gnutls_ocsp_req_t req = NULL;
	gnutls_ocsp_resp_t resp = NULL;
	gnutls_datum_t der = {NULL, 0}, body = {NULL, 0};
	char url[512], err[400], date[40], *get = NULL, *cn = tp_short_name(info->subject);
	unsigned status = 0, reason = 0, verify = 0;
	int left = tp_deadline_left(in->deadline), rs;
	double t0 = tp_now_ms();
	bool cached = false, fetched = false;
	time_t until = 0; /* how long the answer may be kept */

	if (!ocsp_url(crt, url, sizeof(url)))
		goto out;
	rv->method = "ocsp";
	rv->source = strdup(url);
	if (left <= 0) {
		unknown(f, i, rv, "no time was left to ask the OCSP responder %s whether '%s' is revoked (--timeout)",
			url, cn);
		goto out;
	}
	if (gnutls_ocsp_req_init(&req) < 0 || gnutls_ocsp_req_add_cert(req, GNUTLS_DIG_SHA1, issuer, crt) < 0 ||
	    gnutls_ocsp_req_export(req, &der) < 0 || !(get = get_url(url, &der)))
		goto out;
	/* An answer this process already verified (the request names the
	 * issuer's key and the serial): its facts, without verifying again. */
	struct verdict memo;
	if (cfg->cache && tp_cache_memo_get(cfg->cache, get, &memo, sizeof(memo))) {
		status = memo.status;
		reason = memo.reason;
		rv->this_update = memo.this_update;
		rv->next_update = memo.next_update;
		rv->revoked_at = memo.revoked_at;
		goto judge;
	}
	/* GET when it fits in 255 bytes, as RFC 5019 says; POST otherwise. */
	bool post = strlen(get) > 255;
	if (tp_config_post(cfg, get, post ? url : get, post ? &der : NULL, "application/ocsp-request", 64 * 1024,
			   in->deadline, &body, &cached, err, sizeof(err)) < 0) {
		unknown(f, i, rv, "asking the OCSP responder %s whether '%s' is revoked failed: %s", url, cn, err);
		goto out;
	}
	fetched = !cached;
	if (gnutls_ocsp_resp_init(&resp) < 0)
		goto out;
	if (gnutls_ocsp_resp_import(resp, &body) < 0) {
		unknown(f, i, rv, "the OCSP responder %s answered %u bytes that are not an OCSP response", url,
			body.size);
		goto out;
	}
	if ((rs = gnutls_ocsp_resp_get_status(resp)) != GNUTLS_OCSP_RESP_SUCCESSFUL) {
		unknown(f, i, rv, "the OCSP responder %s answered %s about '%s'", url, resp_status_name(rs), cn);
		goto out;
	}
	if (gnutls_ocsp_resp_check_crt(resp, 0, crt) < 0 ||
	    gnutls_ocsp_resp_get_single(resp, 0, NULL, NULL, NULL, NULL, &status, &rv->this_update, &rv->next_update,
					&rv->revoked_at, &reason) < 0) {
		unknown(f, i, rv, "the OCSP responder %s answered about another certificate than '%s'", url, cn);
		goto out;
	}
	if (gnutls_ocsp_resp_verify_direct(resp, issuer, &verify, 0) < 0 || verify) {
		unknown(f, i, rv,
			"the OCSP responder %s answered about '%s', but its answer is not signed by the certificate's "
			"issuer (nor by a responder it delegated to): it was not used",
			url, cn);
		goto out;
	}
	if (cfg->cache && (status == GNUTLS_OCSP_CERT_GOOD || status == GNUTLS_OCSP_CERT_REVOKED)) {
		memo = (struct verdict){status, reason, rv->this_update, rv->next_update, rv->revoked_at};
		tp_cache_memo_put(cfg->cache, get, &memo, sizeof(memo),
				  rv->next_update != (time_t)-1 ? rv->next_update : time(NULL) + 3600);
	}
judge:
	if (rv->next_update != (time_t)-1 && rv->next_update < now) {
		tp_format_date(rv->next_update, date, sizeof(date));
		unknown(f, i, rv,
			"the OCSP responder %s answered about '%s' with a stale response (its next update was "
			"due %s)",
			url, cn, date);
		goto out;
	}
	rv->status = ocsp_status_name(status);
	/* A usable answer: kept until its next update (an hour when it names none). */
	until = rv->next_update != (time_t)-1 ? rv->next_update : time(NULL) + 3600;
	if (status == GNUTLS_OCSP_CERT_REVOKED) {
		rv->reason = reason_name(reason);
		tp_format_date(rv->revoked_at, date, sizeof(date));
		tp_find(f, TP_REVOKED, (int)i,
			"'%s' (serial %s) was revoked on %s (%s), says its CA's OCSP responder %s", cn, info->serial,
			date, rv->reason, url);
	} else if (status != GNUTLS_OCSP_CERT_GOOD) {
		unknown(f, i, rv, "the OCSP responder %s does not know '%s' (status unknown): it may not be its CA's",
			url, cn);
	}
out:
	/* Kept when usable; a kept answer that is not, forgotten. */
	if (status != GNUTLS_OCSP_CERT_GOOD && status != GNUTLS_OCSP_CERT_REVOKED)
		until = 0;
	if (fetched || (cached && !until))
		tp_config_keep(cfg, get, &body, until);
	if (rv->method)
		rv->ms = tp_now_ms() - t0;
	free(cn);
	free(get);
	free(body.data);
	gnutls_free(der.data);
	gnutls_ocsp_req_deinit(req);
	gnutls_ocsp_resp_deinit(resp);
}

/* ---- the CRL of a distribution point (RFC 5280 4.2.1.13) --------------- */

/* The first http:// CRL distribution point crt names, into url. */
static bool
crl_url(gnutls_x509_crt_t crt, char *url, size_t len)
{
	for (unsigned seq = 0; seq < 16; seq++) {
		char buf[512];
		size_t size = sizeof(buf) - 1;
		unsigned flags = 0;
		int type = gnutls_x509_crt_get_crl_dist_points(crt, seq, buf, &size, &flags, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return false;
		if (type != GNUTLS_SAN_URI || size >= sizeof(buf))
			continue;
		buf[size] = '\0';
		snprintf(url, len, "%s", buf);
		if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
			return true;
	}
	return false;
}

/* Download crt's CRL, check it came from issuer, and look crt up in it. */
static void
fetch_crl(struct tp_findings *f, const struct tp_config *cfg, const struct tp_chain_in *in, size_t i,
	  gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer, time_t now)
{
	const struct tp_cert_info *info = &in->facts->certs[i];
	struct tp_revocation *rv = &in->rev[i];
	size_t max = cfg->max_crl_size ? cfg->max_crl_size : TP_DEFAULT_MAX_CRL_SIZE;
	gnutls_datum_t body = {NULL, 0};
	gnutls_x509_crl_t crl = NULL;
	char url[512], err[400], date[40], *cn = NULL;
	int left = tp_deadline_left(in->deadline);
	unsigned verify = 0;
	double t0 = tp_now_ms();
	time_t when = (time_t)-1, until = 0;
	bool cached = false, fetched = false;

	if (!crl_url(crt, url, sizeof(url)))
		return;
	cn = tp_short_name(info->subject);
	/* After an OCSP responder that gave no answer, the CRL is the source. */
	free(rv->source);
	rv->method = "crl";
	rv->source = strdup(url);
	rv->this_update = rv->next_update = rv->revoked_at = (time_t)-1;
	if (left <= 0) {
		unknown(f, i, rv, "no time was left to download the CRL %s for '%s' (--timeout)", url, cn);
		goto out;
	}
	if (tp_config_download(cfg, url, max, in->deadline, &body, &cached, err, sizeof(err)) < 0) {
		unknown(f, i, rv, "downloading the CRL %s for '%s' failed: %s%s", url, cn, err,
			strstr(err, "larger than") ? " (--max-crl-size)" : "");
		goto out;
	}
	fetched = !cached;
	if (gnutls_x509_crl_init(&crl) < 0)
		goto out;
	if (gnutls_x509_crl_import(crl, &body, GNUTLS_X509_FMT_DER) < 0 &&
	    gnutls_x509_crl_import(crl, &body, GNUTLS_X509_FMT_PEM) < 0) {
		unknown(f, i, rv, "the CRL distribution point %s served %u bytes that are not a CRL", url, body.size);
		goto out;
	}
	if (!crl_issued_for(crl, crt) ||
	    gnutls_x509_crl_verify(crl, &issuer, 1, GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1, &verify) < 0 ||
	    (verify & (GNUTLS_CERT_SIGNATURE_FAILURE | GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))) {
		unknown(f, i, rv, "the CRL at %s is not signed by the issuer of '%s': it was not used", url, cn);
		goto out;
	}
	rv->this_update = gnutls_x509_crl_get_this_update(crl);
	rv->next_update = gnutls_x509_crl_get_next_update(crl);
	if (rv->next_update != (time_t)-1 && rv->next_update < now) {
		tp_format_date(rv->next_update, date, sizeof(date));
		unknown(f, i, rv,
			"the CRL at %s is stale (its next update was due %s): whether '%s' is revoked is unknown", url,
			date, cn);
		goto out;
	}
	/* A CRL that counts: kept until its next update (an hour when it names none). */
	until = rv->next_update != (time_t)-1 ? rv->next_update : time(NULL) + 3600;
	if (crl_lists(crl, crt, &when)) {
		rv->status = "revoked";
		rv->revoked_at = when;
		tp_format_date(when, date, sizeof(date));
		tp_find(f, TP_REVOKED, (int)i, "'%s' (serial %s) was revoked on %s, says its CA's CRL %s", cn,
			info->serial, date, url);
	} else {
		rv->status = "good";
	}
out:
	if (fetched || (cached && !until))
		tp_config_keep(cfg, url, &body, until);
	rv->ms = (rv->ms > 0 ? rv->ms : 0) + (tp_now_ms() - t0);
	free(cn);
	free(body.data);
	gnutls_x509_crl_deinit(crl);
}

/* Every certificate of the path not yet checked, and not a root, whose
 * issuer is known: ask the OCSP responder it names, and when that gives no
 * answer, read the CRL of its distribution point. */
static void
check_online(struct tp_findings *f, const struct tp_config *cfg, const struct tp_chain_in *in, const size_t *path,
	     size_t len, time_t now)
{
	for (size_t k = 0; k < len; k++) {
		size_t i = path[k];
		bool owned;
		if (in->rev[i].method || in->facts->certs[i].self_signed)
			continue;
		gnutls_x509_crt_t issuer = issuer_of(cfg, in->certs, path, len, k, &owned);
		if (issuer) {
			size_t before = f->n;
			ask_responder(f, cfg, in, i, in->certs[i], issuer, now);
			if (!in->rev[i].status || strcmp(in->rev[i].status, "unknown") == 0) {
				size_t asked = f->n;
				fetch_crl(f, cfg, in, i, in->certs[i], issuer, now);
				/* A CRL that answered makes the responder's silence moot. */
				if (in->rev[i].status && strcmp(in->rev[i].status, "unknown") != 0 && asked > before)
					drop_finding(f, before, TP_REVOCATION_UNKNOWN);
			}
		}
		if (owned)
			gnutls_x509_crt_deinit(issuer);
	}
}

void
tp_revoke_check(struct tp_ocsp_info *ocsp, struct tp_findings *f, const struct tp_config *cfg,
		const struct tp_chain_in *in, const size_t *path, size_t len, time_t now)
{
	for (size_t i = 0; in->rev && i < in->facts->n; i++)
		in->rev[i] = (struct tp_revocation){.this_update = -1, .next_update = -1, .revoked_at = -1, .ms = -1};
	check_crls(f, cfg, in, path, len, now);
	check_ocsp(ocsp, f, cfg, in, path, len, now);
	if (in->rev && in->deadline && cfg->download)
		check_online(f, cfg, in, path, len, now);
}
