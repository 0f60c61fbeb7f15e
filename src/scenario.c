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

/* Validity ends an hour short of whole days, so that "days left" reads the
 * same (89, not 90 in the first second) however soon after start it is read. */
#define SHORT (3600)
/* The longest chain a scenario sends: what a tp_raw_chain holds. */
#define CHAIN_MAX (sizeof(((struct tp_raw_chain *)0)->pcert) / sizeof(gnutls_pcert_st))

struct pair {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
	const struct pair *issuer; /* NULL: self-signed */
};

/*
 * Makes the CA that signs a scenario's leaf, or finds it in the PKI, and
 * points *issuer at it (NULL: the leaf signs itself). A CA made for one site
 * alone goes in mid, which the caller frees. Returns a GnuTLS error code.
 */
typedef int issuer_fn(struct tp_pki *pki, struct pair *mid, const struct pair **issuer);
static issuer_fn issuer_self, issuer_other_root, issuer_not_ca, issuer_expired_ca, issuer_constrained_ca;

/* What the server sends after the leaf. */
enum sends {
	SEND_PATH,       /* the leaf's issuers up to the root, without it: as it should */
	SEND_LEAF_ONLY,  /* nothing */
	SEND_ROOT_FIRST, /* the root, then the path's intermediates: out of order */
};

/*
 * A scenario is data: each field left out (zero) is the good setup's. The
 * leaf names the server (localhost, 127.0.0.1, ::1 and --name), is valid
 * from yesterday for 90 days, has an ECDSA P-256 key, is signed with SHA-256
 * for serverAuth by the reference intermediate, and comes with that
 * intermediate; the session speaks what GnuTLS's NORMAL allows and asks for
 * no client certificate.
 */
struct scenario {
	struct tp_scenario_info info;
	/* the leaf */
	const char *only_name; /* the one name it covers */
	long days[2];          /* valid from, to: days from now ({0, 0}: -1, 90) */
	enum tp_key_type key;
	unsigned bits;
	gnutls_digest_algorithm_t hash;
	bool client_eku; /* clientAuth instead of serverAuth */
	/* the chain */
	issuer_fn *issuer; /* NULL: the reference intermediate */
	enum sends sends;
	/* the session */
	const char *priority; /* NULL: NORMAL */
	int client_cert;      /* 0 none, 1 request, 2 require (trusting the root) */
};

/* MUST stay in the order --list-scenarios shows. */
static const struct scenario scenarios[] = {
	{
		.info = {"good", "a valid chain: leaf for localhost, 127.0.0.1 and ::1, then the intermediate", "ok"},
	},
	{
		.info = {"missing-intermediate",
			 "only the leaf is sent, not the intermediate that links it to the root",
			 "missing-intermediate"},
		.sends = SEND_LEAF_ONLY,
	},
	{
		.info = {"untrusted-root", "a complete chain, but to a root other than the one written by --write-ca",
			 "untrusted-root"},
		.issuer = issuer_other_root,
	},
	{
		.info = {"self-signed", "a self-signed leaf", "self-signed"},
		.issuer = issuer_self,
	},
	{
		.info = {"wrong-host", "a valid chain whose leaf names only wrong-host.invalid", "hostname-mismatch"},
		.only_name = "wrong-host.invalid",
	},
	{
		.info = {"expired", "the leaf expired 30 days ago", "expired"},
		.days = {-120, -30},
	},
	{
		.info = {"not-yet-valid", "the leaf becomes valid in 30 days", "not-yet-valid"},
		.days = {30, 120},
	},
	{
		.info = {"weak-key", "the leaf has a 1024-bit RSA key", "weak-key"},
		.key = TP_KEY_RSA,
		.bits = 1024,
	},
	{
		.info = {"sha1-signature", "the leaf is signed with SHA-1", "insecure-algorithm"},
		.hash = GNUTLS_DIG_SHA1,
	},
	{
		.info = {"wrong-eku", "the leaf is a client certificate (extendedKeyUsage clientAuth only)",
			 "purpose-mismatch"},
		.client_eku = true,
	},
	{
		.info = {"issuer-not-ca", "the leaf is signed by a certificate that is not a CA", "issuer-not-ca"},
		.issuer = issuer_not_ca,
	},
	{
		.info = {"expired-intermediate", "a valid leaf, sent with an intermediate that expired 30 days ago",
			 "expired"},
		.issuer = issuer_expired_ca,
	},
	{
		.info = {"name-constraints",
			 "the intermediate may only certify names under corp.example (nameConstraints)",
			 "name-constraints"},
		.issuer = issuer_constrained_ca,
	},
	{
		.info = {"chain-order", "leaf, then the root, then the intermediate: out of order", "chain-order"},
		.sends = SEND_ROOT_FIRST,
	},
	{
		.info = {"client-cert-required",
			 "a valid chain, and a client certificate from the root's PKI is required",
			 "client-cert-required"},
		.client_cert = 2,
	},
	{
		.info = {"tls12-only", "a valid chain, TLS 1.2 only", "ok"},
		.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2",
	},
	{
		.info = {"tls13-only", "a valid chain, TLS 1.3 only", "ok"},
		.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3",
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

/* Valid from `from` to `to` days from now; an end still to come is SHORT. */
static void
set_days(struct tp_cert_spec *spec, time_t now, long from, long to)
{
	spec->not_before = now + from * TP_DAY;
	spec->not_after = now + to * TP_DAY - (to > 0 ? SHORT : 0);
}

static int
make(struct pair *p, const struct tp_cert_spec *spec, enum tp_key_type type, unsigned bits, const struct pair *issuer)
{
	int ret = tp_pki_key(&p->key, type, bits);
	if (ret < 0)
		return ret;
	p->issuer = issuer;
	return tp_pki_cert(&p->crt, spec, p->key, issuer ? issuer->crt : NULL, issuer ? issuer->key : NULL);
}

static int
make_ca(struct tp_pki *pki, struct pair *root, struct pair *inter, const char *root_cn, const char *inter_cn)
{
	struct tp_cert_spec r = {.cn = root_cn, .org = "tlsprobe", .ca = true, .pathlen = -1};
	struct tp_cert_spec i = r;
	int ret;

	set_days(&r, pki->now, -1, 3650);
	i.cn = inter_cn;
	i.pathlen = 0;
	set_days(&i, pki->now, -1, 1825);
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
		.cn = "tlsprobe reference client",
		.org = "tlsprobe",
		.client_auth = true,
		.pathlen = -1,
	};
	int ret;

	set_days(&spec, pki->now, -1, 90);
	if (!pki->client.crt && (ret = make(&pki->client, &spec, TP_KEY_ECDSA, 0, &pki->inter)) < 0)
		return ret;
	chain[0] = pki->client.crt;
	chain[1] = pki->inter.crt;
	*n = 2;
	*key = pki->client.key;
	return 0;
}

/* ---- a scenario's credentials ------------------------------------------- */

static int
issuer_self(struct tp_pki *pki, struct pair *mid, const struct pair **issuer)
{
	*issuer = NULL;
	return 0;
}

/* A complete chain to a root nobody trusts: a second CA, made once. */
static int
issuer_other_root(struct tp_pki *pki, struct pair *mid, const struct pair **issuer)
{
	int ret = 0;

	if (!pki->other_root.crt)
		ret = make_ca(pki, &pki->other_root, &pki->other_inter, "tlsprobe Untrusted Root CA",
			      "tlsprobe Untrusted Intermediate CA");
	*issuer = &pki->other_inter;
	return ret;
}

/* A CA (or not) made for one site, signed by signer, valid from..to days from now. */
static int
site_issuer(struct tp_pki *pki, struct pair *mid, const struct pair **issuer, struct tp_cert_spec *spec,
	    const struct pair *signer, long from, long to)
{
	set_days(spec, pki->now, from, to);
	*issuer = mid;
	return make(mid, spec, TP_KEY_ECDSA, 0, signer);
}

/* A server certificate of the intermediate's that signs as if it were a CA. */
static int
issuer_not_ca(struct tp_pki *pki, struct pair *mid, const struct pair **issuer)
{
	struct tp_cert_spec spec = {.cn = "tlsprobe Not A CA", .org = "tlsprobe", .server_auth = true, .pathlen = -1};

	return site_issuer(pki, mid, issuer, &spec, &pki->inter, -1, 90);
}

/* The two below are the root's own intermediates, not the reference one. */
static int
issuer_expired_ca(struct tp_pki *pki, struct pair *mid, const struct pair **issuer)
{
	struct tp_cert_spec spec = {
		.cn = "tlsprobe Expired Intermediate CA",
		.org = "tlsprobe",
		.ca = true,
		.pathlen = 0,
	};

	return site_issuer(pki, mid, issuer, &spec, &pki->root, -400, -30);
}

static int
issuer_constrained_ca(struct tp_pki *pki, struct pair *mid, const struct pair **issuer)
{
	struct tp_cert_spec spec = {
		.cn = "tlsprobe Constrained Intermediate CA",
		.org = "tlsprobe",
		.ca = true,
		.pathlen = 0,
		.permitted_dns = "corp.example",
	};

	return site_issuer(pki, mid, issuer, &spec, &pki->root, -1, 1825);
}

/* The leaf the scenario describes. */
static void
leaf_spec(const struct scenario *sc, const struct tp_pki *pki, struct tp_cert_spec *spec)
{
	*spec = (struct tp_cert_spec){
		.cn = "localhost",
		.org = "tlsprobe",
		.names = (const char *const *)pki->names,
		.n_names = pki->n_names,
		.server_auth = !sc->client_eku,
		.client_auth = sc->client_eku,
		.pathlen = -1,
		.hash = sc->hash,
	};
	if (sc->only_name) {
		spec->cn = sc->only_name;
		spec->names = &sc->only_name;
		spec->n_names = 1;
	}
	if (sc->days[0] || sc->days[1])
		set_days(spec, pki->now, sc->days[0], sc->days[1]);
	else
		set_days(spec, pki->now, -1, 90);
}

/* The certificates the scenario sends, leaf first; returns how many. */
static unsigned
chain_of(const struct scenario *sc, const struct tp_pki *pki, const struct pair *leaf, gnutls_x509_crt_t *chain)
{
	unsigned n = 0;

	chain[n++] = leaf->crt;
	if (sc->sends == SEND_LEAF_ONLY)
		return n;
	if (sc->sends == SEND_ROOT_FIRST)
		chain[n++] = pki->root.crt;
	for (const struct pair *p = leaf->issuer; p && p->issuer && n < CHAIN_MAX; p = p->issuer)
		chain[n++] = p->crt;
	return n;
}

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

/*
 * Fill cred (or *raw, for a chain GnuTLS must not sort) with the scenario's
 * chain and key. The certificates made here belong to cred and *raw (copied
 * into them); the CA's belong to the PKI.
 */
int
tp_scenario_credentials(struct tp_pki *pki, const char *name, gnutls_certificate_credentials_t cred,
			struct tp_raw_chain **raw, const char **priority, int *client_cert, char *err, size_t errlen)
{
	const struct scenario *sc = find(name);
	struct tp_cert_spec spec;
	struct pair leaf = {0}, mid = {0};
	const struct pair *issuer = &pki->inter;
	gnutls_x509_crt_t chain[CHAIN_MAX];
	unsigned n;
	int ret;

	if (!sc)
		return tp_err(err, errlen, "unknown scenario '%s'", name);
	*priority = sc->priority;
	*client_cert = sc->client_cert;
	*raw = NULL;
	leaf_spec(sc, pki, &spec);
	if ((sc->issuer && (ret = sc->issuer(pki, &mid, &issuer)) < 0) ||
	    (ret = make(&leaf, &spec, sc->key, sc->bits, issuer)) < 0)
		goto out;
	n = chain_of(sc, pki, &leaf, chain);
	if (sc->sends == SEND_ROOT_FIRST)
		ret = raw_chain(raw, chain, n, leaf.key);
	else
		ret = gnutls_certificate_set_x509_key(cred, chain, n, leaf.key);
	if (ret >= 0 && sc->client_cert)
		ret = gnutls_certificate_set_x509_trust(cred, &pki->root.crt, 1);
out:
	if (ret < 0)
		tp_err(err, errlen, "cannot set up scenario '%s': %s", name, gnutls_strerror(ret));
	pair_free(&leaf);
	pair_free(&mid);
	return ret < 0 ? -1 : 0;
}
