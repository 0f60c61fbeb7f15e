/*
 * trust.c: the trust store, the user's CA files and the system's roots.
 *
 * Parsing the ~150 roots of the system bundle costs more than a whole
 * loopback handshake, and a chain only ever needs the roots named as the
 * issuer of one of its certificates. So the bundle is only indexed: each
 * root's DER and the raw bytes of its subject. A root is parsed and added to
 * the trust list the first time a chain names it. GnuTLS itself finds
 * issuers by comparing raw names, so the result is the same as loading all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "file.h"
#include "trust.h"

struct sys_root {
	gnutls_datum_t der;
	const unsigned char *subject; /* into der */
	size_t subject_len;
	bool added;
};

struct tp_trust {
	gnutls_x509_trust_list_t tl;
	gnutls_x509_crt_t *user;
	size_t n_user;
	bool use_system;
	bool indexed;
	bool fallback; /* no bundle found: GnuTLS loaded the system store whole */
	struct sys_root *sys;
	size_t n_sys;
	struct user_crl {
		gnutls_x509_crl_t crl;
		char *file;
	} * crls;
	size_t n_crls;
};

static const char *bundle_path(void);

struct tp_trust *
tp_trust_create(void)
{
	struct tp_trust *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (gnutls_x509_trust_list_init(&t->tl, 0) < 0) {
		free(t);
		return NULL;
	}
	t->use_system = true;
	return t;
}

void
tp_trust_destroy(struct tp_trust *t)
{
	if (!t)
		return;
	gnutls_x509_trust_list_deinit(t->tl, 1);
	for (size_t i = 0; i < t->n_user; i++)
		gnutls_x509_crt_deinit(t->user[i]);
	free(t->user);
	for (size_t i = 0; i < t->n_sys; i++)
		gnutls_free(t->sys[i].der.data);
	free(t->sys);
	for (size_t i = 0; i < t->n_crls; i++) {
		gnutls_x509_crl_deinit(t->crls[i].crl);
		free(t->crls[i].file);
	}
	free(t->crls);
	free(t);
}

void
tp_trust_use_system(struct tp_trust *t, bool use)
{
	t->use_system = use;
}

bool
tp_trust_uses_system(const struct tp_trust *t)
{
	return t->use_system;
}

int
tp_trust_write_pem(struct tp_trust *t, int fd, bool with_system)
{
	FILE *f = fdopen(dup(fd), "w");
	int ret = 0;

	if (!f)
		return -1;
	for (size_t i = 0; i < t->n_user; i++) {
		gnutls_datum_t pem = {NULL, 0};
		if (gnutls_x509_crt_export2(t->user[i], GNUTLS_X509_FMT_PEM, &pem) < 0 ||
		    fwrite(pem.data, 1, pem.size, f) != pem.size)
			ret = -1;
		gnutls_free(pem.data);
	}
	if (t->use_system && with_system) {
		const char *path = bundle_path();
		gnutls_datum_t data = {NULL, 0};
		if (path && gnutls_load_file(path, &data) == 0) {
			if (fwrite(data.data, 1, data.size, f) != data.size)
				ret = -1;
			gnutls_free(data.data);
		}
	}
	if (fclose(f) != 0)
		ret = -1;
	return ret;
}

size_t
tp_trust_user_count(const struct tp_trust *t)
{
	return t->n_user;
}

gnutls_x509_crt_t
tp_trust_user_cert(const struct tp_trust *t, size_t i)
{
	return i < t->n_user ? t->user[i] : NULL;
}

static int
import_all(const gnutls_datum_t *data, gnutls_x509_crt_t **list, unsigned *n)
{
	gnutls_x509_crt_t one;

	if (gnutls_x509_crt_list_import2(list, n, data, GNUTLS_X509_FMT_PEM, 0) == 0 && *n > 0)
		return 0;
	/* Not PEM: perhaps a single DER certificate. */
	if (gnutls_x509_crt_init(&one) < 0)
		return -1;
	if (gnutls_x509_crt_import(one, data, GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(one);
		return -1;
	}
	*list = gnutls_malloc(sizeof(**list));
	if (!*list) {
		gnutls_x509_crt_deinit(one);
		return -1;
	}
	(*list)[0] = one;
	*n = 1;
	return 0;
}

int
tp_trust_add_file(struct tp_trust *t, const char *path, char *err, size_t errlen)
{
	gnutls_datum_t data = {NULL, 0};
	gnutls_x509_crt_t *mine = NULL, *theirs = NULL, *grown;
	unsigned n = 0, n2 = 0;
	int ret = -1;

	if (tp_file_load(path, "CA file ", &data, err, errlen) < 0)
		return -1;
	if (import_all(&data, &mine, &n) < 0 || import_all(&data, &theirs, &n2) < 0) {
		tp_no_certificate(&data, "CA file ", path, err, errlen);
		goto out;
	}
	grown = realloc(t->user, (t->n_user + n) * sizeof(*t->user));
	if (!grown) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	t->user = grown;
	memcpy(t->user + t->n_user, mine, n * sizeof(*mine));
	t->n_user += n;
	n = 0;
	/* The trust list owns (and may free) what it is given. */
	gnutls_x509_trust_list_add_cas(t->tl, theirs, n2, GNUTLS_TL_NO_DUPLICATES);
	n2 = 0;
	ret = 0;
out:
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(mine[i]);
	for (unsigned i = 0; i < n2; i++)
		gnutls_x509_crt_deinit(theirs[i]);
	gnutls_free(mine);
	gnutls_free(theirs);
	gnutls_free(data.data);
	return ret;
}

static int
import_crls(const gnutls_datum_t *data, gnutls_x509_crl_t **list, unsigned *n)
{
	gnutls_x509_crl_t one;

	if (gnutls_x509_crl_list_import2(list, n, data, GNUTLS_X509_FMT_PEM, 0) == 0 && *n > 0)
		return 0;
	if (gnutls_x509_crl_init(&one) < 0)
		return -1;
	if (gnutls_x509_crl_import(one, data, GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crl_deinit(one);
		return -1;
	}
	*list = gnutls_malloc(sizeof(**list));
	if (!*list) {
		gnutls_x509_crl_deinit(one);
		return -1;
	}
	(*list)[0] = one;
	*n = 1;
	return 0;
}

/*
 * CRLs are kept here and checked by revoke.c, not handed to GnuTLS's trust
 * list: a CRL must be verified against its issuer's key, and the issuers of
 * CRLs are mostly intermediates, which the trust list never holds.
 */
int
tp_trust_add_crl_file(struct tp_trust *t, const char *path, char *err, size_t errlen)
{
	gnutls_datum_t data = {NULL, 0};
	gnutls_x509_crl_t *mine = NULL;
	struct user_crl *grown;
	unsigned n = 0;
	int ret = -1;

	if (tp_file_load(path, "CRL file ", &data, err, errlen) < 0)
		return -1;
	if (import_crls(&data, &mine, &n) < 0) {
		snprintf(err, errlen, "CRL file %s holds no CRL: expected PEM (-----BEGIN X509 CRL-----) or DER", path);
		goto out;
	}
	grown = realloc(t->crls, (t->n_crls + n) * sizeof(*t->crls));
	if (!grown) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	t->crls = grown;
	for (unsigned i = 0; i < n; i++)
		t->crls[t->n_crls++] = (struct user_crl){mine[i], strdup(path)};
	n = 0;
	ret = 0;
out:
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crl_deinit(mine[i]);
	gnutls_free(mine);
	gnutls_free(data.data);
	return ret;
}

size_t
tp_trust_crl_count(const struct tp_trust *t)
{
	return t->n_crls;
}

gnutls_x509_crl_t
tp_trust_crl(const struct tp_trust *t, size_t i)
{
	return i < t->n_crls ? t->crls[i].crl : NULL;
}

const char *
tp_trust_crl_file(const struct tp_trust *t, size_t i)
{
	return i < t->n_crls ? t->crls[i].file : NULL;
}

/* ---- the system bundle index ------------------------------------------- */

static const char *
bundle_path(void)
{
	static const char *const candidates[] = {
		"/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Arch */
		"/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
		"/etc/ssl/ca-bundle.pem",             /* openSUSE */
		"/etc/ssl/cert.pem",                  /* Alpine, BSDs */
	};
	const char *env = getenv("SSL_CERT_FILE");

	if (env && *env)
		return env;
	for (size_t i = 0; i < sizeof(candidates) / sizeof(*candidates); i++) {
		FILE *f = fopen(candidates[i], "rb");
		if (f) {
			fclose(f);
			return candidates[i];
		}
	}
	return NULL;
}

static void
index_system(struct tp_trust *t)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
	const char *path = bundle_path();
	gnutls_datum_t data = {NULL, 0};
	const char *p, *stop;

	t->indexed = true;
	if (!path || gnutls_load_file(path, &data) < 0) {
		t->fallback = true;
		gnutls_x509_trust_list_add_system_trust(t->tl, 0, 0);
		return;
	}
	p = (const char *)data.data;
	stop = p + data.size;
	while ((p = memmem(p, (size_t)(stop - p), begin, sizeof(begin) - 1))) {
		const char *q = memmem(p, (size_t)(stop - p), end, sizeof(end) - 1);
		struct sys_root root = {0};
		struct sys_root *grown;
		if (!q)
			break;
		q += sizeof(end) - 1;
		gnutls_datum_t pem = {(unsigned char *)p, (unsigned)(q - p)};
		p = q;
		if (gnutls_pem_base64_decode2("CERTIFICATE", &pem, &root.der) < 0)
			continue;
		if (tp_der_subject(&root.der, &root.subject, &root.subject_len) < 0 ||
		    !(grown = realloc(t->sys, (t->n_sys + 1) * sizeof(*t->sys)))) {
			gnutls_free(root.der.data);
			continue;
		}
		t->sys = grown;
		t->sys[t->n_sys++] = root;
	}
	gnutls_free(data.data);
}

static void
add_system_roots_named(struct tp_trust *t, const gnutls_datum_t *dn)
{
	for (size_t i = 0; i < t->n_sys; i++) {
		struct sys_root *s = &t->sys[i];
		gnutls_x509_crt_t crt;
		if (s->added || s->subject_len != dn->size || memcmp(s->subject, dn->data, dn->size) != 0)
			continue;
		s->added = true;
		if (gnutls_x509_crt_init(&crt) < 0)
			continue;
		if (gnutls_x509_crt_import(crt, &s->der, GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(crt);
			continue;
		}
		gnutls_x509_trust_list_add_cas(t->tl, &crt, 1, GNUTLS_TL_NO_DUPLICATES);
	}
}

void
tp_trust_preload(struct tp_trust *t)
{
	if (!t->use_system)
		return;
	if (!t->indexed)
		index_system(t);
	for (size_t i = 0; i < t->n_sys; i++) {
		gnutls_datum_t dn = {(unsigned char *)t->sys[i].subject, (unsigned)t->sys[i].subject_len};
		add_system_roots_named(t, &dn);
	}
}

gnutls_x509_trust_list_t
tp_trust_list_for(struct tp_trust *t, gnutls_x509_crt_t *certs, size_t n)
{
	gnutls_datum_t dn;

	if (!t->use_system)
		return t->tl;
	if (!t->indexed)
		index_system(t);
	if (t->fallback)
		return t->tl;
	/* Issuers of every certificate, and the certificates themselves (a
	 * server may send a root, or a leaf the store trusts directly). */
	for (size_t i = 0; i < n; i++) {
		if (gnutls_x509_crt_get_raw_issuer_dn(certs[i], &dn) == 0) {
			add_system_roots_named(t, &dn);
			gnutls_free(dn.data);
		}
		if (gnutls_x509_crt_get_raw_dn(certs[i], &dn) == 0) {
			add_system_roots_named(t, &dn);
			gnutls_free(dn.data);
		}
	}
	return t->tl;
}

enum tp_trust_source
tp_trust_has_subject(struct tp_trust *t, const gnutls_datum_t *dn)
{
	gnutls_datum_t mine;

	for (size_t i = 0; i < t->n_user; i++) {
		if (gnutls_x509_crt_get_raw_dn(t->user[i], &mine) < 0)
			continue;
		bool same = mine.size == dn->size && memcmp(mine.data, dn->data, dn->size) == 0;
		gnutls_free(mine.data);
		if (same)
			return TP_TRUST_USER;
	}
	if (!t->use_system)
		return TP_TRUST_NONE;
	if (!t->indexed)
		index_system(t);
	for (size_t i = 0; i < t->n_sys; i++)
		if (t->sys[i].subject_len == dn->size && memcmp(t->sys[i].subject, dn->data, dn->size) == 0)
			return TP_TRUST_SYSTEM;
	if (t->fallback) {
		gnutls_x509_crt_t issuer;
		if (gnutls_x509_trust_list_get_issuer_by_dn(t->tl, dn, &issuer, 0) == 0) {
			gnutls_x509_crt_deinit(issuer);
			return TP_TRUST_SYSTEM;
		}
	}
	return TP_TRUST_NONE;
}

gnutls_x509_crt_t
tp_trust_issuer(struct tp_trust *t, gnutls_x509_crt_t crt, bool check_signature, bool *owned)
{
	gnutls_x509_crt_t issuer;

	/* By name and key identifier, as GnuTLS looks issuers up; the list
	 * already holds the system roots that crt names (tp_trust_list_for).
	 * A list of our own making can lend what it holds (it lives as long
	 * as t); one GnuTLS filled from the system (perhaps a PKCS #11 store)
	 * must give copies to be thread-safe. */
	*owned = t->fallback;
	if (gnutls_x509_trust_list_get_issuer(t->tl, crt, &issuer, t->fallback ? GNUTLS_TL_GET_COPY : 0) < 0)
		return NULL;
	if (!check_signature || tp_chain_signed_by(crt, issuer))
		return issuer;
	if (*owned)
		gnutls_x509_crt_deinit(issuer);
	return NULL;
}

/* Whether other has crt's subject and public key and is valid at now; then its end, else 0. */
static time_t
twin_until(gnutls_x509_crt_t crt, const gnutls_datum_t *dn, const unsigned char *id, size_t id_len,
	   gnutls_x509_crt_t other, time_t now)
{
	gnutls_datum_t odn = {NULL, 0};
	unsigned char oid[64];
	size_t oid_len = sizeof(oid);
	time_t until = 0;
	bool same;

	if (gnutls_x509_crt_equals(crt, other) || gnutls_x509_crt_get_raw_dn(other, &odn) < 0)
		return 0;
	same = odn.size == dn->size && memcmp(odn.data, dn->data, dn->size) == 0;
	gnutls_free(odn.data);
	if (same && gnutls_x509_crt_get_key_id(other, GNUTLS_KEYID_USE_SHA256, oid, &oid_len) == 0 &&
	    oid_len == id_len && memcmp(oid, id, id_len) == 0 && gnutls_x509_crt_get_activation_time(other) <= now &&
	    gnutls_x509_crt_get_expiration_time(other) >= now)
		until = gnutls_x509_crt_get_expiration_time(other);
	return until;
}

time_t
tp_trust_twin_until(struct tp_trust *t, gnutls_x509_crt_t crt, time_t now)
{
	gnutls_datum_t dn = {NULL, 0};
	unsigned char id[64];
	size_t id_len = sizeof(id);
	time_t best = 0, until;

	if (gnutls_x509_crt_get_raw_dn(crt, &dn) < 0)
		return 0;
	if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id, &id_len) < 0)
		goto out;
	for (size_t i = 0; i < t->n_user; i++)
		if ((until = twin_until(crt, &dn, id, id_len, t->user[i], now)) > best)
			best = until;
	if (!t->use_system)
		goto out;
	/* Only read here: the index is made before (tp_trust_list_for), and
	 * the trust list may be shared by threads. */
	for (size_t i = 0; i < t->n_sys; i++) {
		gnutls_x509_crt_t other;
		if (t->sys[i].subject_len != dn.size || memcmp(t->sys[i].subject, dn.data, dn.size) != 0 ||
		    gnutls_x509_crt_init(&other) < 0)
			continue;
		if (gnutls_x509_crt_import(other, &t->sys[i].der, GNUTLS_X509_FMT_DER) == 0 &&
		    (until = twin_until(crt, &dn, id, id_len, other, now)) > best)
			best = until;
		gnutls_x509_crt_deinit(other);
	}
	if (t->fallback) {
		gnutls_x509_trust_list_iter_t iter = NULL;
		gnutls_x509_crt_t other;
		while (gnutls_x509_trust_list_iter_get_ca(t->tl, &iter, &other) == 0) {
			if ((until = twin_until(crt, &dn, id, id_len, other, now)) > best)
				best = until;
			gnutls_x509_crt_deinit(other);
		}
		gnutls_x509_trust_list_iter_deinit(iter);
	}
out:
	gnutls_free(dn.data);
	return best;
}

bool
tp_trust_user_holds(const struct tp_trust *t, gnutls_x509_crt_t crt)
{
	for (size_t i = 0; i < t->n_user; i++)
		if (gnutls_x509_crt_equals(t->user[i], crt))
			return true;
	return false;
}
