/*
 * pki.c: keys and certificates made with GnuTLS's X.509 API: roots,
 * intermediates and leaves with the extensions a CA should set (basic
 * constraints, key usage, key identifiers, random serials), and on request
 * the broken ones the reference server needs.
 */
#include <arpa/inet.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "tlsprobe.h"

int
tp_pki_key(gnutls_x509_privkey_t *key, enum tp_key_type type, unsigned bits)
{
	gnutls_pk_algorithm_t pk;
	int ret;

	switch (type) {
	case TP_KEY_RSA:
		pk = GNUTLS_PK_RSA;
		if (!bits)
			bits = 3072;
		break;
	case TP_KEY_ED25519:
		pk = GNUTLS_PK_EDDSA_ED25519;
		bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519);
		break;
	default:
		pk = GNUTLS_PK_ECDSA;
		bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
		break;
	}
	if ((ret = gnutls_x509_privkey_init(key)) < 0)
		return ret;
	if ((ret = gnutls_x509_privkey_generate(*key, pk, bits, 0)) < 0) {
		gnutls_x509_privkey_deinit(*key);
		*key = NULL;
	}
	return ret;
}

static int
add_names(gnutls_x509_crt_t crt, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ip[16];
		int ret;
		if (inet_pton(AF_INET, names[i], ip) == 1)
			ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
								   GNUTLS_FSAN_APPEND);
		else if (inet_pton(AF_INET6, names[i], ip) == 1)
			ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
								   GNUTLS_FSAN_APPEND);
		else
			ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, names[i],
								   (unsigned)strlen(names[i]), GNUTLS_FSAN_APPEND);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
copy_csr_names(gnutls_x509_crt_t crt, gnutls_x509_crq_t csr)
{
	for (unsigned i = 0;; i++) {
		char buf[1024];
		size_t len = sizeof(buf);
		unsigned type, critical;
		int ret = gnutls_x509_crq_get_subject_alt_name(csr, i, buf, &len, &type, &critical);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return 0;
		if (ret < 0)
			return ret;
		if (type != GNUTLS_SAN_DNSNAME && type != GNUTLS_SAN_IPADDRESS)
			continue;
		if ((ret = gnutls_x509_crt_set_subject_alt_name(crt, (gnutls_x509_subject_alt_name_t)type, buf,
								(unsigned)len, GNUTLS_FSAN_APPEND)) < 0)
			return ret;
	}
}

static int
set_permitted_dns(gnutls_x509_crt_t crt, const char *name)
{
	gnutls_x509_name_constraints_t nc;
	gnutls_datum_t d = {(unsigned char *)name, (unsigned)strlen(name)};
	int ret = gnutls_x509_name_constraints_init(&nc);

	if (ret < 0)
		return ret;
	if ((ret = gnutls_x509_name_constraints_add_permitted(nc, GNUTLS_SAN_DNSNAME, &d)) >= 0)
		ret = gnutls_x509_crt_set_name_constraints(crt, nc, 1);
	gnutls_x509_name_constraints_deinit(nc);
	return ret;
}

int
tp_pki_cert(gnutls_x509_crt_t *out, const struct tp_cert_spec *spec, gnutls_x509_privkey_t key,
	    gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key)
{
	gnutls_x509_crt_t crt = NULL;
	unsigned char serial[16], id[64];
	size_t id_len = sizeof(id);
	unsigned usage;
	int ret;

	*out = NULL;
	if ((ret = gnutls_x509_crt_init(&crt)) < 0)
		return ret;
	/* A positive 128-bit random serial, as CAs must use. */
	if ((ret = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) < 0)
		goto fail;
	serial[0] = (serial[0] & 0x7f) | 0x01;

	if (spec->csr) {
		/* The request's subject and key, and of its extensions only
		 * the names: what a CA should allow is decided here. */
		if ((ret = gnutls_x509_crt_set_crq(crt, spec->csr)) < 0 || (ret = copy_csr_names(crt, spec->csr)) < 0)
			goto fail;
	} else {
		if ((ret = gnutls_x509_crt_set_key(crt, key)) < 0)
			goto fail;
		if (spec->org && (ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
								      spec->org, (unsigned)strlen(spec->org))) < 0)
			goto fail;
		if ((ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, spec->cn,
							 (unsigned)strlen(spec->cn))) < 0)
			goto fail;
	}
	if ((ret = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (ret = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (ret = gnutls_x509_crt_set_activation_time(crt, spec->not_before)) < 0 ||
	    (ret = gnutls_x509_crt_set_expiration_time(crt, spec->not_after)) < 0)
		goto fail;
	if ((ret = add_names(crt, spec->names, spec->n_names)) < 0)
		goto fail;

	if (spec->ca) {
		ret = gnutls_x509_crt_set_basic_constraints(crt, 1, spec->pathlen);
		usage = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN | GNUTLS_KEY_DIGITAL_SIGNATURE;
	} else {
		ret = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
		usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
		if (gnutls_x509_crt_get_pk_algorithm(crt, NULL) == GNUTLS_PK_RSA)
			usage |= GNUTLS_KEY_KEY_ENCIPHERMENT;
	}
	if (ret < 0 || (ret = gnutls_x509_crt_set_key_usage(crt, usage)) < 0)
		goto fail;
	if (spec->permitted_dns && (ret = set_permitted_dns(crt, spec->permitted_dns)) < 0)
		goto fail;
	if (spec->server_auth && (ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
		goto fail;
	if (spec->client_auth && (ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0)
		goto fail;

	if (spec->crl_url && (ret = gnutls_x509_crt_set_crl_dist_points(crt, GNUTLS_SAN_URI, spec->crl_url, 0)) < 0)
		goto fail;
	if (spec->ocsp_url) {
		gnutls_datum_t u = {(unsigned char *)spec->ocsp_url, (unsigned)strlen(spec->ocsp_url)};
		if ((ret = gnutls_x509_crt_set_authority_info_access(crt, GNUTLS_IA_OCSP_URI, &u)) < 0)
			goto fail;
	}
	if ((ret = gnutls_x509_crt_get_key_id(crt, 0, id, &id_len)) < 0 ||
	    (ret = gnutls_x509_crt_set_subject_key_id(crt, id, id_len)) < 0)
		goto fail;
	if (issuer) {
		id_len = sizeof(id);
		if ((ret = gnutls_x509_crt_get_subject_key_id(issuer, id, &id_len, NULL)) < 0 ||
		    (ret = gnutls_x509_crt_set_authority_key_id(crt, id, id_len)) < 0)
			goto fail;
	}
	gnutls_x509_privkey_t signer = issuer ? issuer_key : key;
	gnutls_digest_algorithm_t hash = spec->hash ? spec->hash : GNUTLS_DIG_SHA256;
	/* EdDSA hashes as part of the algorithm: GnuTLS wants SHA-512 named for Ed25519. */
	if (gnutls_x509_privkey_get_pk_algorithm(signer) == GNUTLS_PK_EDDSA_ED25519)
		hash = GNUTLS_DIG_SHA512;
	ret = gnutls_x509_crt_sign2(crt, issuer ? issuer : crt, signer, hash, 0);
	if (ret < 0)
		goto fail;
	*out = crt;
	return 0;
fail:
	gnutls_x509_crt_deinit(crt);
	return ret;
}
