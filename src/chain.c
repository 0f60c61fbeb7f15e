/*
 * chain.c: the facts of one certificate, read with GnuTLS's X.509 API, and
 * the relations between two (is this one the other's issuer).
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/x509-ext.h>

#include "chain.h"

static char *
hex(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(n * 2 + 1);

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

/* Shortest name for a message: the CN's value when the DN has one. */
char *
tp_short_name(const char *dn)
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

char *
tp_chain_dn(gnutls_x509_crt_t crt, bool issuer)
{
	gnutls_datum_t dn = {NULL, 0};
	int ret = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) : gnutls_x509_crt_get_dn3(crt, &dn, 0);
	char *s;

	if (ret < 0)
		return strdup("");
	s = tp_utf8_clean((const char *)dn.data, dn.size);
	gnutls_free(dn.data);
	return s;
}

gnutls_x509_crt_t
tp_chain_peer(gnutls_session_t s)
{
	unsigned n = 0;
	const gnutls_datum_t *peers = gnutls_certificate_get_peers(s, &n);
	gnutls_x509_crt_t crt;

	if (!peers || !n || gnutls_x509_crt_init(&crt) < 0)
		return NULL;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		return NULL;
	}
	return crt;
}

char *
tp_chain_cn(gnutls_x509_crt_t crt)
{
	char *dn = tp_chain_dn(crt, false), *cn = dn ? tp_short_name(dn) : NULL;

	free(dn);
	return cn;
}

static int
push(char ***list, size_t *n, char *s)
{
	char **grown;

	if (!s)
		return -1;
	grown = realloc(*list, (*n + 1) * sizeof(**list));
	if (!grown) {
		free(s);
		return -1;
	}
	*list = grown;
	grown[(*n)++] = s;
	return 0;
}

static void
read_sans(struct tp_cert_info *ci, gnutls_x509_crt_t crt)
{
	gnutls_datum_t ext = {NULL, 0}, san, other;
	gnutls_subject_alt_names_t sans;
	unsigned critical, type;
	char ip[INET6_ADDRSTRLEN];

	if (gnutls_x509_crt_get_extension_by_oid2(crt, "2.5.29.17", 0, &ext, &critical) < 0)
		return;
	if (gnutls_subject_alt_names_init(&sans) < 0)
		goto out;
	if (gnutls_x509_ext_import_subject_alt_names(&ext, sans, 0) == 0) {
		for (unsigned i = 0; gnutls_subject_alt_names_get(sans, i, &type, &san, &other) == 0; i++) {
			if (type == GNUTLS_SAN_DNSNAME) {
				push(&ci->sans, &ci->n_sans, tp_utf8_clean((const char *)san.data, san.size));
			} else if (type == GNUTLS_SAN_IPADDRESS && (san.size == 4 || san.size == 16)) {
				inet_ntop(san.size == 4 ? AF_INET : AF_INET6, san.data, ip, sizeof(ip));
				push(&ci->sans, &ci->n_sans, strdup(ip));
			}
		}
	}
	gnutls_subject_alt_names_deinit(sans);
out:
	gnutls_free(ext.data);
}

static void
read_aia(struct tp_cert_info *ci, gnutls_x509_crt_t crt)
{
	gnutls_datum_t ext = {NULL, 0}, oid, uri;
	gnutls_x509_aia_t aia;
	unsigned critical, type;

	if (gnutls_x509_crt_get_extension_by_oid2(crt, GNUTLS_OID_AIA, 0, &ext, &critical) < 0)
		return;
	if (gnutls_x509_aia_init(&aia) < 0)
		goto out;
	if (gnutls_x509_ext_import_aia(&ext, aia, 0) == 0) {
		for (unsigned i = 0; gnutls_x509_aia_get(aia, i, &oid, &type, &uri) == 0; i++) {
			if (type == GNUTLS_SAN_URI && strcmp((const char *)oid.data, GNUTLS_OID_AD_CAISSUERS) == 0)
				push(&ci->ca_issuers, &ci->n_ca_issuers,
				     tp_utf8_clean((const char *)uri.data, uri.size));
		}
	}
	gnutls_x509_aia_deinit(aia);
out:
	gnutls_free(ext.data);
}

static const char *
key_type_name(gnutls_pk_algorithm_t pk)
{
	switch (pk) {
	case GNUTLS_PK_RSA: return "RSA";
	case GNUTLS_PK_RSA_PSS: return "RSA-PSS";
	case GNUTLS_PK_DSA: return "DSA";
	case GNUTLS_PK_ECDSA: return "ECDSA";
	case GNUTLS_PK_EDDSA_ED25519: return "Ed25519";
	case GNUTLS_PK_EDDSA_ED448: return "Ed448";
	default: {
		const char *n = gnutls_pk_get_name(pk);
		return n ? n : "unknown";
	}
	}
}

/* One DER element at *p: its header and content lengths; 0 or -1. */
static int
der_element(const unsigned char *p, const unsigned char *end, unsigned char *tag, size_t *hdr, size_t *len)
{
	size_t n, l = 0;

	if (end - p < 2)
		return -1;
	*tag = p[0];
	if ((p[0] & 0x1f) == 0x1f) /* multi-byte tags do not occur here */
		return -1;
	if (p[1] < 0x80) {
		l = p[1];
		n = 2;
	} else {
		size_t k = p[1] & 0x7f;
		if (k == 0 || k > 4 || (size_t)(end - p) < 2 + k)
			return -1;
		for (size_t i = 0; i < k; i++)
			l = (l << 8) | p[2 + i];
		n = 2 + k;
	}
	if (l > (size_t)(end - p) - n)
		return -1;
	*hdr = n;
	*len = l;
	return 0;
}

/* The tbsCertificate inside a certificate's DER, header included, at
 * *tbs; its length, or 0 when the DER is not a certificate. */
static size_t
der_tbs(const gnutls_datum_t *der, const unsigned char **tbs)
{
	const unsigned char *p = der->data, *end = der->data + der->size;
	unsigned char tag;
	size_t hdr, len;

	/* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { ... } ... } */
	if (der_element(p, end, &tag, &hdr, &len) < 0 || tag != 0x30)
		return 0;
	p += hdr;
	end = p + len;
	if (der_element(p, end, &tag, &hdr, &len) < 0 || tag != 0x30)
		return 0;
	*tbs = p;
	return hdr + len;
}

/* Locate the subject Name inside a certificate's DER, without parsing the rest. */
int
tp_der_subject(const gnutls_datum_t *der, const unsigned char **subj, size_t *subj_len)
{
	const unsigned char *p, *end;
	unsigned char tag;
	size_t hdr, len, tbs_len = der_tbs(der, &p);

	if (!tbs_len || der_element(p, p + tbs_len, &tag, &hdr, &len) < 0)
		return -1;
	end = p + hdr + len;
	p += hdr;
	/* [0] version (optional), serial, signature, issuer, validity, subject */
	if (der_element(p, end, &tag, &hdr, &len) < 0)
		return -1;
	if (tag == 0xa0)
		p += hdr + len;
	for (int i = 0; i < 4; i++) {
		if (der_element(p, end, &tag, &hdr, &len) < 0)
			return -1;
		p += hdr + len;
	}
	if (der_element(p, end, &tag, &hdr, &len) < 0 || tag != 0x30)
		return -1;
	*subj = p;
	*subj_len = hdr + len;
	return 0;
}

/* The signed part of a certificate (its tbsCertificate, as sent); free tbs->data. */
static int
signed_part(gnutls_x509_crt_t crt, gnutls_datum_t *tbs)
{
	gnutls_datum_t der = {NULL, 0};
	const unsigned char *p = NULL;
	size_t len;
	int ret = -1;

	tbs->data = NULL;
	tbs->size = 0;
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0)
		return -1;
	if ((len = der_tbs(&der, &p)) && (tbs->data = gnutls_malloc(len))) {
		memcpy(tbs->data, p, len);
		tbs->size = (unsigned)len;
		ret = 0;
	}
	gnutls_free(der.data);
	return ret;
}

/* Whether issuer's subject is the issuer name in crt: the same bytes, or the same text. */
static bool
names_match(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	bool same = false;

	if (gnutls_x509_crt_get_raw_issuer_dn(crt, &a) == 0 && gnutls_x509_crt_get_raw_dn(issuer, &b) == 0)
		same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	if (!same) {
		char *x = tp_chain_dn(crt, true), *y = tp_chain_dn(issuer, false);
		same = x && y && *x && strcmp(x, y) == 0;
		free(x);
		free(y);
	}
	return same;
}

/*
 * Whether issuer's key verifies crt's signature and issuer's name is the one
 * crt names. Key identifiers are left out (tp_chain_key_ids_match): GnuTLS's
 * own issuer check (gnutls_x509_crt_check_issuer) compares them too, and
 * would take a wrong authorityKeyIdentifier for a wrong key.
 */
bool
tp_chain_signed_by(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
	gnutls_datum_t tbs = {NULL, 0}, sig = {NULL, 0};
	gnutls_pubkey_t key = NULL;
	size_t size = 0;
	int algo = gnutls_x509_crt_get_signature_algorithm(crt);
	bool ok = false;

	if (algo <= 0 || !names_match(crt, issuer))
		return false;
	if (gnutls_x509_crt_get_signature(crt, NULL, &size) != GNUTLS_E_SHORT_MEMORY_BUFFER || !size ||
	    !(sig.data = malloc(size)))
		return false;
	if (gnutls_x509_crt_get_signature(crt, (char *)sig.data, &size) < 0)
		goto out;
	sig.size = (unsigned)size;
	if (signed_part(crt, &tbs) < 0 || gnutls_pubkey_init(&key) < 0)
		goto out;
	if (gnutls_pubkey_import_x509(key, issuer, 0) < 0)
		goto out;
	ok = gnutls_pubkey_verify_data2(key, (gnutls_sign_algorithm_t)algo,
					GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1 | GNUTLS_VERIFY_ALLOW_BROKEN, &tbs,
					&sig) >= 0;
out:
	if (key)
		gnutls_pubkey_deinit(key);
	gnutls_free(tbs.data);
	free(sig.data);
	return ok;
}

bool
tp_chain_key_ids_match(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
	unsigned char aki[64], ski[64];
	size_t aki_len = sizeof(aki), ski_len = sizeof(ski);
	unsigned critical = 0;

	if (gnutls_x509_crt_get_authority_key_id(crt, aki, &aki_len, &critical) < 0 ||
	    gnutls_x509_crt_get_subject_key_id(issuer, ski, &ski_len, &critical) < 0)
		return true;
	return aki_len == ski_len && memcmp(aki, ski, aki_len) == 0;
}

bool
tp_chain_is_self_signed(gnutls_x509_crt_t crt)
{
	return tp_chain_signed_by(crt, crt);
}

bool
tp_chain_is_ca(gnutls_x509_crt_t crt)
{
	unsigned critical = 0, ca = 0;
	int pathlen = -1;

	return gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, &pathlen) >= 0 && ca;
}

int
tp_chain_cert_info(struct tp_cert_info *ci, gnutls_x509_crt_t crt, time_t now)
{
	unsigned char buf[128];
	size_t size = sizeof(buf);
	unsigned bits = 0;
	int pk;

	memset(ci, 0, sizeof(*ci));
	ci->subject = tp_chain_dn(crt, false);
	ci->issuer = tp_chain_dn(crt, true);
	ci->serial = gnutls_x509_crt_get_serial(crt, buf, &size) == 0 ? hex(buf, size) : strdup("");
	ci->not_before = gnutls_x509_crt_get_activation_time(crt);
	ci->not_after = gnutls_x509_crt_get_expiration_time(crt);
	/* Rounded toward zero, as messages count days ("30 days ago"): a
	 * certificate that expired 30 days and an hour ago has -30 days. */
	ci->days_remaining = (long)trunc(difftime(ci->not_after, now) / 86400.0);
	read_sans(ci, crt);
	read_aia(ci, crt);

	pk = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
	ci->key_type = key_type_name((gnutls_pk_algorithm_t)(pk < 0 ? 0 : pk));
	ci->key_bits = bits;
	if (pk == GNUTLS_PK_ECDSA) {
		gnutls_ecc_curve_t curve;
		gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
		if (gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, &x, &y) == 0)
			ci->key_curve = gnutls_ecc_curve_get_name(curve);
		gnutls_free(x.data);
		gnutls_free(y.data);
	}
	int sig = gnutls_x509_crt_get_signature_algorithm(crt);
	ci->sig_alg = sig > 0 && gnutls_sign_get_name((gnutls_sign_algorithm_t)sig)
			      ? gnutls_sign_get_name((gnutls_sign_algorithm_t)sig)
			      : "unknown";
	size = sizeof(buf);
	ci->sha256 =
		gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, buf, &size) == 0 ? hex(buf, size) : strdup("");
	ci->is_ca = tp_chain_is_ca(crt);
	/* Names that read differently cannot match; GnuTLS would find that out
	 * by decoding both names again, at a cost, for every certificate. */
	ci->self_signed =
		ci->subject && ci->issuer && strcmp(ci->subject, ci->issuer) == 0 && tp_chain_is_self_signed(crt);
	if (!ci->subject || !ci->issuer || !ci->serial || !ci->sha256)
		return -1;
	return 0;
}

int
tp_chain_read(struct tp_chain_facts *out, gnutls_x509_crt_t **certs, const gnutls_datum_t *ders, size_t n, time_t now,
	      struct tp_findings *f)
{
	out->n_sent = n;
	if (n > TP_MAX_CERTS)
		n = TP_MAX_CERTS;
	*certs = calloc(n ? n : 1, sizeof(**certs));
	out->certs = calloc(n ? n : 1, sizeof(*out->certs));
	if (!*certs || !out->certs) {
		tp_fail(f, TP_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int ret = gnutls_x509_crt_init(&(*certs)[i]);
		if (ret == 0)
			ret = gnutls_x509_crt_import((*certs)[i], &ders[i], GNUTLS_X509_FMT_DER);
		if (ret < 0) {
			tp_fail(f, TP_HANDSHAKE_FAILURE, "certificate %zu cannot be parsed: %s", i,
				gnutls_strerror(ret));
			return -1;
		}
		out->n = i + 1;
		if (tp_chain_cert_info(&out->certs[i], (*certs)[i], now) < 0 ||
		    !(out->certs[i].der.data = malloc(ders[i].size ? ders[i].size : 1))) {
			tp_fail(f, TP_INTERNAL_ERROR, "out of memory");
			return -1;
		}
		memcpy(out->certs[i].der.data, ders[i].data, ders[i].size);
		out->certs[i].der.size = ders[i].size;
	}
	return 0;
}

void
tp_chain_free(gnutls_x509_crt_t *certs, size_t n)
{
	if (!certs)
		return;
	if (n > TP_MAX_CERTS)
		n = TP_MAX_CERTS;
	for (size_t i = 0; i < n; i++)
		if (certs[i])
			gnutls_x509_crt_deinit(certs[i]);
	free(certs);
}
