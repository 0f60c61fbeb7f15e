/*
 * revoke.c: revocation. Names which certificate a --crl revokes, when and
 * why, and judges the OCSP response the server stapled: about the leaf?
 * signed by its issuer? fresh? and what it says.
 */
#include <stdlib.h>
#include <string.h>
#include <gnutls/ocsp.h>

#include "internal.h"

static void
format_date(time_t t, char *buf, size_t len)
{
	struct tm tm;
	if (t == (time_t)-1 || !gmtime_r(&t, &tm))
		snprintf(buf, len, "an unknown date");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

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

static size_t
check_crls(struct tp_result *r, struct tp_config *cfg, gnutls_x509_crt_t *certs, const size_t *path, size_t len,
	   time_t now)
{
	size_t found = 0;
	char date[40];

	for (size_t k = 0; k < len; k++) {
		size_t i = path[k];
		for (size_t c = 0; c < tp_trust_crl_count(cfg->trust); c++) {
			gnutls_x509_crl_t crl = tp_trust_crl(cfg->trust, c);
			time_t when = (time_t)-1;
			if (!crl_issued_for(crl, certs[i]) || !crl_lists(crl, certs[i], &when))
				continue;
			format_date(when, date, sizeof(date));
			tp_result_add(r, TP_REVOKED, (int)i,
				      "'%s' (serial %s) was revoked on %s, says the CRL in %s", r->certs[i].subject,
				      r->certs[i].serial, date, tp_trust_crl_file(cfg->trust, c));
			found++;
			break;
		}
	}
	/* A CRL past its next update may miss recent revocations. */
	for (size_t c = 0; c < tp_trust_crl_count(cfg->trust); c++) {
		time_t next = gnutls_x509_crl_get_next_update(tp_trust_crl(cfg->trust, c));
		if (next != (time_t)-1 && next < now) {
			format_date(next, date, sizeof(date));
			struct tp_problem *p = tp_result_add(r, TP_REVOKED, -1,
				"the CRL in %s is stale: its next update was due %s, so recent revocations may be "
				"missing from it", tp_trust_crl_file(cfg->trust, c), date);
			if (p) {
				p->severity = TP_STATUS_WARNING;
				tp_problem_set_fix(p, "Fetch a current CRL from the CA (its CRL distribution point) "
						      "and probe again.");
			}
		}
	}
	return found;
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
ocsp_verify(gnutls_ocsp_resp_t resp, struct tp_config *cfg, gnutls_x509_crt_t *certs, const size_t *path,
	    size_t len, unsigned *verify)
{
	if (len > 1)
		return gnutls_ocsp_resp_verify_direct(resp, certs[path[1]], verify, 0);
	return gnutls_ocsp_resp_verify(resp, tp_trust_list_for(cfg->trust, certs, 1), verify, 0);
}

static void
check_ocsp(struct tp_result *r, struct tp_config *cfg, gnutls_x509_crt_t *certs, const size_t *path, size_t len,
	   time_t now)
{
	struct tp_ocsp_info *o = &r->ocsp;
	gnutls_ocsp_resp_t resp = NULL;
	unsigned status = 0, reason = 0, verify = 0;
	time_t revoked_at = (time_t)-1;
	char date[40];

	o->this_update = o->next_update = o->revocation_time = (time_t)-1;
	if (!o->stapled) {
		if (cfg->ocsp_required)
			tp_result_add(r, TP_OCSP_MISSING, 0,
				      "the server stapled no OCSP response to its certificate (--ocsp-required)");
		return;
	}
	if (gnutls_ocsp_resp_init(&resp) < 0)
		return;
	if (gnutls_ocsp_resp_import(resp, &r->ocsp_der) < 0 ||
	    gnutls_ocsp_resp_get_status(resp) != GNUTLS_OCSP_RESP_SUCCESSFUL ||
	    gnutls_ocsp_resp_get_single(resp, 0, NULL, NULL, NULL, NULL, &status, &o->this_update, &o->next_update,
					&revoked_at, &reason) < 0) {
		tp_result_add(r, TP_OCSP_INVALID, 0, "the stapled OCSP response cannot be read, or is not a "
						     "successful response");
		goto out;
	}
	o->status = ocsp_status_name(status);
	o->revocation_time = status == GNUTLS_OCSP_CERT_REVOKED ? revoked_at : (time_t)-1;
	o->verified = gnutls_ocsp_resp_check_crt(resp, 0, certs[0]) == 0 &&
		      ocsp_verify(resp, cfg, certs, path, len, &verify) == 0 && verify == 0;

	if (!o->verified) {
		tp_result_add(r, TP_OCSP_INVALID, 0,
			      "the stapled OCSP response is not about this certificate, or is not signed by its "
			      "issuer%s", len > 1 ? "" : " (the issuer was not sent, so it could not be checked)");
	} else if (status == GNUTLS_OCSP_CERT_REVOKED) {
		format_date(revoked_at, date, sizeof(date));
		tp_result_add(r, TP_REVOKED, 0, "'%s' was revoked on %s, says the OCSP response the server stapled",
			      r->certs[0].subject, date);
	} else if (o->next_update != (time_t)-1 && o->next_update < now) {
		format_date(o->next_update, date, sizeof(date));
		tp_result_add(r, TP_OCSP_INVALID, 0, "the stapled OCSP response is stale: its next update was due %s",
			      date);
	} else if (status != GNUTLS_OCSP_CERT_GOOD) {
		tp_result_add(r, TP_OCSP_INVALID, 0,
			      "the stapled OCSP response says the certificate's status is unknown to its CA");
	}
out:
	gnutls_ocsp_resp_deinit(resp);
}

void
tp_revoke_check(struct tp_result *r, struct tp_config *cfg, gnutls_x509_crt_t *certs, const size_t *path,
		size_t len, time_t now, bool gnutls_says_revoked)
{
	size_t found = check_crls(r, cfg, certs, path, len, now);

	if (gnutls_says_revoked && !found)
		tp_result_add(r, TP_REVOKED, -1, "GnuTLS finds a certificate of the chain revoked by a --crl");
	check_ocsp(r, cfg, certs, path, len, now);
}
