/*
 * revoke.c: revocation. Names which certificate a --crl revokes, when and
 * why, and judges the OCSP response the server stapled: about the leaf?
 * signed by its issuer? fresh? and what it says.
 */
#include <stdlib.h>
#include <string.h>
#include <gnutls/ocsp.h>

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

void
tp_revoke_check(struct tp_ocsp_info *ocsp, struct tp_findings *f, const struct tp_config *cfg,
		const struct tp_chain_in *in, const size_t *path, size_t len, time_t now)
{
	check_crls(f, cfg, in, path, len, now);
	check_ocsp(ocsp, f, cfg, in, path, len, now);
}
