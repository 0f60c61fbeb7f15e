/*
 * scenario.c: the reference server's setups, good and deliberately broken.
 * One throwaway PKI per server (a root, an intermediate, and what each
 * scenario needs besides), made in memory with pki.c. Each scenario says
 * what a correct client must report about it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"
#include "util.h"

#define DAY (24 * 3600)
/* Validity ends an hour short of whole days, so that "days left" reads the
 * same (89, not 90 in the first second) however soon after start it is read. */
#define SHORT (3600)

enum leaf_kind {
	LEAF_GOOD,
	LEAF_ONLY,          /* leaf without its intermediate */
	LEAF_OTHER_ROOT,    /* a complete chain to a root nobody trusts */
	LEAF_SELF_SIGNED,
	LEAF_WRONG_HOST,
	LEAF_EXPIRED,
	LEAF_NOT_YET_VALID,
	LEAF_WEAK_KEY,
	LEAF_SHA1,
	LEAF_CLIENT_EKU,
	LEAF_BELOW_NON_CA,
	LEAF_OUT_OF_ORDER,
	LEAF_EXPIRED_INTER, /* a valid leaf below an intermediate that has expired */
	LEAF_CONSTRAINED,   /* below an intermediate whose nameConstraints exclude localhost */
};

struct scenario {
	struct tp_scenario_info info;
	enum leaf_kind leaf;
	const char *priority;
	int client_cert; /* 0 none, 1 request, 2 require */
};

/* MUST stay in the order --list-scenarios shows. */
static const struct scenario scenarios[] = {
	{
		.info = {"good", "a valid chain: leaf for localhost, 127.0.0.1 and ::1, then the intermediate", "ok"},
		.leaf = LEAF_GOOD,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"missing-intermediate", "only the leaf is sent, not the intermediate that links it to the root", "missing-intermediate"},
		.leaf = LEAF_ONLY,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"untrusted-root", "a complete chain, but to a root other than the one written by --write-ca", "untrusted-root"},
		.leaf = LEAF_OTHER_ROOT,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"self-signed", "a self-signed leaf", "self-signed"},
		.leaf = LEAF_SELF_SIGNED,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"wrong-host", "a valid chain whose leaf names only wrong-host.invalid", "hostname-mismatch"},
		.leaf = LEAF_WRONG_HOST,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"expired", "the leaf expired 30 days ago", "expired"},
		.leaf = LEAF_EXPIRED,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"not-yet-valid", "the leaf becomes valid in 30 days", "not-yet-valid"},
		.leaf = LEAF_NOT_YET_VALID,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"weak-key", "the leaf has a 1024-bit RSA key", "weak-key"},
		.leaf = LEAF_WEAK_KEY,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"sha1-signature", "the leaf is signed with SHA-1", "insecure-algorithm"},
		.leaf = LEAF_SHA1,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"wrong-eku", "the leaf is a client certificate (extendedKeyUsage clientAuth only)", "purpose-mismatch"},
		.leaf = LEAF_CLIENT_EKU,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"issuer-not-ca", "the leaf is signed by a certificate that is not a CA", "issuer-not-ca"},
		.leaf = LEAF_BELOW_NON_CA,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"expired-intermediate", "a valid leaf, sent with an intermediate that expired 30 days ago", "expired"},
		.leaf = LEAF_EXPIRED_INTER,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"name-constraints", "the intermediate may only certify names under corp.example (nameConstraints)", "name-constraints"},
		.leaf = LEAF_CONSTRAINED,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"chain-order", "leaf, then the root, then the intermediate: out of order", "chain-order"},
		.leaf = LEAF_OUT_OF_ORDER,
		.priority = NULL,
		.client_cert = 0,
	},
	{
		.info = {"client-cert-required", "a valid chain, and a client certificate from the root's PKI is required", "client-cert-required"},
		.leaf = LEAF_GOOD,
		.priority = NULL,
		.client_cert = 2,
	},
	{
		.info = {"tls12-only", "a valid chain, TLS 1.2 only", "ok"},
		.leaf = LEAF_GOOD,
		.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2",
		.client_cert = 0,
	},
	{
		.info = {"tls13-only", "a valid chain, TLS 1.3 only", "ok"},
		.leaf = LEAF_GOOD,
		.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3",
		.client_cert = 0,
	},
};
#define N_SCENARIOS (sizeof(scenarios) / sizeof(*scenarios))

size_t
tp_scenario_count(void)
{
	return N_SCENARIOS;
}

const struct tp_scenario_info *
tp_scenario(size_t i)
{
	return i < N_SCENARIOS ? &scenarios[i].info : NULL;
}

static const struct scenario *
find(const char *name)
{
	for (size_t i = 0; i < N_SCENARIOS; i++)
		if (strcmp(scenarios[i].info.name, name) == 0)
			return &scenarios[i];
	return NULL;
}

const struct tp_scenario_info *
tp_scenario_find(const char *name)
{
	const struct scenario *s = find(name);
	return s ? &s->info : NULL;
}

/* ---- the throwaway PKI ---------------------------------------------------- */

struct pair {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
};

struct tp_pki {
	struct pair root, inter, other_root, other_inter, client;
	char *names[16];
	size_t n_names;
	time_t now;
};

static void
pair_free(struct pair *p)
{
	if (p->crt)
		gnutls_x509_crt_deinit(p->crt);
	if (p->key)
		gnutls_x509_privkey_deinit(p->key);
	p->crt = NULL;
	p->key = NULL;
}

static int
make(struct pair *p, const struct tp_cert_spec *spec, enum tp_key_type type, unsigned bits, const struct pair *issuer)
{
	int ret = tp_pki_key(&p->key, type, bits);
	if (ret < 0)
		return ret;
	return tp_pki_cert(&p->crt, spec, p->key, issuer ? issuer->crt : NULL, issuer ? issuer->key : NULL);
}

static int
make_ca(struct tp_pki *pki, struct pair *root, struct pair *inter, const char *root_cn, const char *inter_cn)
{
	struct tp_cert_spec r = {
		.cn = root_cn, .org = "tlsprobe", .ca = true, .pathlen = -1,
		.not_before = pki->now - DAY, .not_after = pki->now + 3650L * DAY - SHORT,
	};
	struct tp_cert_spec i = r;
	int ret;

	i.cn = inter_cn;
	i.pathlen = 0;
	i.not_after = pki->now + 1825L * DAY - SHORT;
	if ((ret = make(root, &r, TP_KEY_ECDSA, 0, NULL)) < 0)
		return ret;
	return make(inter, &i, TP_KEY_ECDSA, 0, root);
}

void
tp_pki_destroy(struct tp_pki *pki)
{
	if (!pki)
		return;
	pair_free(&pki->root);
	pair_free(&pki->inter);
	pair_free(&pki->other_root);
	pair_free(&pki->other_inter);
	pair_free(&pki->client);
	for (size_t i = 0; i < pki->n_names; i++)
		free(pki->names[i]);
	free(pki);
}

struct tp_pki *
tp_pki_create(const char *const *extra_names, size_t n_extra, char *err, size_t errlen)
{
	static const char *const base[] = {"localhost", "127.0.0.1", "::1"};
	struct tp_pki *pki = calloc(1, sizeof(*pki));
	int ret;

	if (!pki) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pki->now = time(NULL);
	for (size_t i = 0; i < 3; i++)
		pki->names[pki->n_names++] = strdup(base[i]);
	for (size_t i = 0; i < n_extra && pki->n_names < 16; i++)
		pki->names[pki->n_names++] = strdup(extra_names[i]);
	ret = make_ca(pki, &pki->root, &pki->inter, "tlsprobe Reference Root CA", "tlsprobe Reference Intermediate CA");
	if (ret < 0) {
		snprintf(err, errlen, "cannot make the reference CA: %s", gnutls_strerror(ret));
		tp_pki_destroy(pki);
		return NULL;
	}
	return pki;
}

int
tp_pki_root_pem(const struct tp_pki *pki, gnutls_datum_t *pem)
{
	return gnutls_x509_crt_export2(pki->root.crt, GNUTLS_X509_FMT_PEM, pem);
}

gnutls_x509_crt_t
tp_pki_root(const struct tp_pki *pki)
{
	return pki->root.crt;
}

/* A client certificate for mutual TLS, issued by the intermediate. */
int
tp_pki_client(struct tp_pki *pki, gnutls_x509_crt_t *chain, size_t *n, gnutls_x509_privkey_t *key)
{
	struct tp_cert_spec spec = {
		.cn = "tlsprobe reference client", .org = "tlsprobe", .client_auth = true, .pathlen = -1,
		.not_before = pki->now - DAY, .not_after = pki->now + 90L * DAY - SHORT,
	};
	int ret;

	if (!pki->client.crt && (ret = make(&pki->client, &spec, TP_KEY_ECDSA, 0, &pki->inter)) < 0)
		return ret;
	chain[0] = pki->client.crt;
	chain[1] = pki->inter.crt;
	*n = 2;
	*key = pki->client.key;
	return 0;
}

/*
 * Fill site with the scenario's chain and key. The certificates made here
 * belong to the site (freed with it); the CA's belong to the PKI.
 */
void
tp_raw_chain_free(struct tp_raw_chain *raw)
{
	if (!raw)
		return;
	for (unsigned i = 0; i < raw->n; i++)
		gnutls_pcert_deinit(&raw->pcert[i]);
	if (raw->key)
		gnutls_privkey_deinit(raw->key);
	free(raw);
}

static int
raw_chain(struct tp_raw_chain **out, gnutls_x509_crt_t *chain, unsigned n, gnutls_x509_privkey_t key)
{
	struct tp_raw_chain *raw = calloc(1, sizeof(*raw));
	int ret = GNUTLS_E_MEMORY_ERROR;

	if (!raw)
		return ret;
	for (; raw->n < n; raw->n++)
		if ((ret = gnutls_pcert_import_x509(&raw->pcert[raw->n], chain[raw->n], 0)) < 0)
			goto fail;
	if ((ret = gnutls_privkey_init(&raw->key)) < 0 ||
	    (ret = gnutls_privkey_import_x509(raw->key, key, GNUTLS_PRIVKEY_IMPORT_COPY)) < 0)
		goto fail;
	*out = raw;
	return 0;
fail:
	tp_raw_chain_free(raw);
	return ret;
}

int
tp_scenario_credentials(struct tp_pki *pki, const char *name, gnutls_certificate_credentials_t cred,
			struct tp_raw_chain **raw, const char **priority, int *client_cert, char *err, size_t errlen)
{
	const struct scenario *sc = find(name);
	struct tp_cert_spec spec = {
		.cn = "localhost", .org = "tlsprobe", .names = (const char *const *)pki->names,
		.n_names = pki->n_names, .server_auth = true, .pathlen = -1,
		.not_before = pki->now - DAY, .not_after = pki->now + 90L * DAY - SHORT,
	};
	struct pair leaf = {0}, mid = {0};
	const struct pair *issuer = &pki->inter;
	gnutls_x509_crt_t chain[4];
	unsigned n = 0;
	enum tp_key_type type = TP_KEY_ECDSA;
	unsigned bits = 0;
	static const char *const wrong[] = {"wrong-host.invalid"};
	int ret;

	if (!sc) {
		snprintf(err, errlen, "unknown scenario '%s'; see --list-scenarios", name);
		return -1;
	}
	*priority = sc->priority;
	*client_cert = sc->client_cert;

	switch (sc->leaf) {
	case LEAF_OTHER_ROOT:
		if (!pki->other_root.crt &&
		    (ret = make_ca(pki, &pki->other_root, &pki->other_inter, "tlsprobe Untrusted Root CA",
				   "tlsprobe Untrusted Intermediate CA")) < 0)
			goto fail;
		issuer = &pki->other_inter;
		break;
	case LEAF_SELF_SIGNED: issuer = NULL; break;
	case LEAF_WRONG_HOST:
		spec.cn = "wrong-host.invalid";
		spec.names = wrong;
		spec.n_names = 1;
		break;
	case LEAF_EXPIRED:
		spec.not_before = pki->now - 120L * DAY;
		spec.not_after = pki->now - 30L * DAY;
		break;
	case LEAF_NOT_YET_VALID:
		spec.not_before = pki->now + 30L * DAY;
		spec.not_after = pki->now + 120L * DAY - SHORT;
		break;
	case LEAF_WEAK_KEY:
		type = TP_KEY_RSA;
		bits = 1024;
		break;
	case LEAF_SHA1: spec.hash = GNUTLS_DIG_SHA1; break;
	case LEAF_CLIENT_EKU:
		spec.server_auth = false;
		spec.client_auth = true;
		break;
	case LEAF_BELOW_NON_CA: {
		struct tp_cert_spec notca = spec;
		notca.cn = "tlsprobe Not A CA";
		notca.names = NULL;
		notca.n_names = 0;
		if ((ret = make(&mid, &notca, TP_KEY_ECDSA, 0, &pki->inter)) < 0)
			goto fail;
		issuer = &mid;
		break;
	}
	case LEAF_EXPIRED_INTER:
	case LEAF_CONSTRAINED: {
		struct tp_cert_spec ca = {
			.cn = "tlsprobe Expired Intermediate CA", .org = "tlsprobe", .ca = true, .pathlen = 0,
			.not_before = pki->now - 400L * DAY, .not_after = pki->now - 30L * DAY,
		};
		if (sc->leaf == LEAF_CONSTRAINED) {
			ca.cn = "tlsprobe Constrained Intermediate CA";
			ca.not_before = pki->now - DAY;
			ca.not_after = pki->now + 1825L * DAY - SHORT;
			ca.permitted_dns = "corp.example";
		}
		if ((ret = make(&mid, &ca, TP_KEY_ECDSA, 0, &pki->root)) < 0)
			goto fail;
		issuer = &mid;
		break;
	}
	default: break;
	}
	if ((ret = make(&leaf, &spec, type, bits, issuer)) < 0)
		goto fail;

	chain[n++] = leaf.crt;
	if (mid.crt)
		chain[n++] = mid.crt;
	if (sc->leaf == LEAF_OTHER_ROOT)
		chain[n++] = pki->other_inter.crt;
	else if (issuer && sc->leaf != LEAF_ONLY && sc->leaf != LEAF_EXPIRED_INTER && sc->leaf != LEAF_CONSTRAINED)
		chain[n++] = pki->inter.crt; /* those two intermediates are the root's own */
	*raw = NULL;
	if (sc->leaf == LEAF_OUT_OF_ORDER) {
		/* The leaf first (it goes with the key), then the root
		 * before the intermediate it issued. */
		chain[1] = pki->root.crt;
		chain[n++] = pki->inter.crt;
		ret = raw_chain(raw, chain, n, leaf.key);
	} else {
		ret = gnutls_certificate_set_x509_key(cred, chain, n, leaf.key);
	}
	if (ret < 0)
		goto fail;
	if (sc->client_cert && (ret = gnutls_certificate_set_x509_trust(cred, &pki->root.crt, 1)) < 0)
		goto fail;
	pair_free(&leaf);
	pair_free(&mid);
	return 0;
fail:
	snprintf(err, errlen, "cannot set up scenario '%s': %s", name, gnutls_strerror(ret));
	pair_free(&leaf);
	pair_free(&mid);
	return -1;
}
