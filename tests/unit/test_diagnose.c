/*
 * The diagnosis (diagnose.c, revoke.c, and tp_examine's check of a file
 * that starts with a CA) through the public API only: each case builds a
 * small PKI in memory with tp_pki_cert, or with GnuTLS's x509 API where a
 * spec cannot say it (a forged key identifier, a version 1 certificate, a
 * broken signature, a CRL), trusts some of it through a --ca-file, and
 * examines the chain at a fixed --at time without the system store.
 *
 * Not here, for they need a live handshake: ocsp-missing (a Must-Staple
 * certificate served without a staple, or --ocsp-required, a probe option),
 * ocsp-invalid and revoked by a stapled OCSP response (tp_examine staples
 * nothing), verify-failed "the server sent no certificate" (tp_examine
 * refuses an empty chain before: test_empty_chain), and every probe error
 * (dns-failure to starttls-refused). Nor key-mismatch (tp_ca_check's, not
 * the diagnosis's), unknown-issuer (nothing raises it: missing-intermediate,
 * untrusted-root and self-signed name the cause instead) and the
 * internal-error of an allocation that fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tlsprobe.h"

/* Every case is judged at 2025-06-01 00:00 UTC, whatever the wall clock says. */
#define AT ((time_t)1748736000)
#define MINUTE 60L
#define HOUR 3600L
#define DAY 86400L

#define MAX_NODES 8
#define MAX_SERVED 80
#define MAX_WANT 3

/* Node n's key instead of a key of its own. */
#define KEY_OF(n) ((n) + 1)
#define RSA_1024 (-1)
/* A CA's basicConstraints path length limit (0 in the table: none). */
#define PATHLEN(n) ((n) + 1)

enum eku { EKU_NONE, EKU_SERVER, EKU_CLIENT };

/* What the spec cannot say, done with GnuTLS's x509 API. */
enum tweak {
	T_NONE,
	T_BAD_AKI,       /* an authorityKeyIdentifier that is not the issuer's */
	T_NO_CERTSIGN,   /* a CA whose keyUsage lacks keyCertSign */
	T_V1,            /* X.509 version 1: no extensions at all */
	T_BAD_SIGNATURE, /* a bit of the signature flipped */
	T_CRITICAL_EXT,  /* an unknown extension marked critical */
};

/*
 * One certificate of a case. Node i is signed by node .issuer (itself, the
 * default for node 0, is self-signed), so issuers come first in the table.
 */
struct node {
	const char *cn;
	int issuer;
	int key; /* 0: its own; KEY_OF(n); RSA_1024 */
	bool ca;
	int pathlen; /* 0: no limit; PATHLEN(n) */
	enum eku eku;
	const char *names[3]; /* subjectAltNames */
	long from, until;     /* validity, seconds from AT; both 0: the default for its role */
	gnutls_digest_algorithm_t hash;
	const char *permitted; /* nameConstraints: DNS names under this one */
	enum tweak tweak;
};

struct crl_spec {
	const char *by;      /* the node that signs it (one digit), NULL: no CRL */
	const char *revokes; /* the nodes whose serials it lists */
	long next_update;    /* seconds from AT; 0: in a week */
};

struct expect {
	enum tp_code code;
	int index;
	enum tp_status severity;
	/* what the message must say; "{serial}", "{sha256}" and "{crl}" stand
	 * for the certificate's serial and fingerprint and the CRL file */
	const char *says[4];
	const char *fix; /* what the fix must say, or NULL */
};

struct dcase {
	const char *name;
	const char *bug; /* a known diagnosis bug: the case is left out (see main) */
	struct node nodes[MAX_NODES];
	const char *chain; /* the nodes served, in order: "21" is node 2 then node 1 */
	const char *trust; /* the nodes in the --ca-file */
	struct crl_spec crl;
	const char *host;             /* the name the leaf must cover, or NULL */
	long at;                      /* seconds from AT */
	int warn, crit;               /* expiry thresholds; both 0: the defaults (30, 14) */
	bool client;                  /* judge the leaf as a client certificate */
	struct expect want[MAX_WANT]; /* every problem it raises, the result's reason first */
	bool trusted;
	bool name_bad; /* tp_result_hostname_ok is false */
};

/* Made once: key generation is what costs. */
static struct {
	gnutls_x509_privkey_t ec[MAX_NODES];
	gnutls_x509_privkey_t rsa1024;
	char dir[64];
} fx;

/* What one case built; everything here is freed by built_finish. */
struct built {
	gnutls_x509_crt_t crt[MAX_NODES];
	gnutls_datum_t der[MAX_NODES];
	size_t n_nodes;
	gnutls_datum_t served[MAX_SERVED];
	size_t n_served;
	char ca_file[96], crl_file[96];
};

/* What the running case holds, released by case_teardown even when it fails half-way. */
static struct {
	struct built b;
	struct tp_config *cfg;
	struct tp_result *r;
} run;

static const char leaf_name[] = "www.example.test";

static gnutls_x509_privkey_t
node_key(const struct node *nd, size_t i)
{
	if (nd->key == RSA_1024)
		return fx.rsa1024;
	return fx.ec[nd->key ? (size_t)nd->key - 1 : i];
}

static void
default_life(const struct node *nd, bool self, long *from, long *until)
{
	*from = nd->from;
	*until = nd->until;
	if (nd->from || nd->until)
		return;
	if (nd->ca && self) {
		*from = -3650 * DAY;
		*until = 3650 * DAY;
	} else if (nd->ca) {
		*from = -700 * DAY;
		*until = 1000 * DAY;
	} else {
		*from = -30 * DAY;
		*until = 60 * DAY;
	}
}

/* A version 1 certificate: a subject, a key, a validity, no extensions. */
static gnutls_x509_crt_t
make_v1(const struct node *nd, gnutls_x509_privkey_t key, gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key,
	long from, long until)
{
	static const unsigned char serial[] = {0x01, 0x02, 0x03, 0x04};
	gnutls_x509_crt_t crt;

	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
	assert_int_equal(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, nd->cn, strlen(nd->cn)), 0);
	assert_int_equal(gnutls_x509_crt_set_version(crt, 1), 0);
	assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), 0);
	assert_int_equal(gnutls_x509_crt_set_activation_time(crt, AT + from), 0);
	assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, AT + until), 0);
	assert_int_equal(
		gnutls_x509_crt_sign2(crt, issuer ? issuer : crt, issuer ? issuer_key : key, GNUTLS_DIG_SHA256, 0), 0);
	return crt;
}

/* Change an extension the helper set; true when the certificate must be signed again. */
static bool
tweak_extensions(gnutls_x509_crt_t crt, enum tweak t)
{
	static const unsigned char other_id[20] = {0xde, 0xad, 0xbe, 0xef};
	static const unsigned char null_der[] = {0x05, 0x00};

	if (t == T_BAD_AKI)
		assert_int_equal(gnutls_x509_crt_set_authority_key_id(crt, other_id, sizeof(other_id)), 0);
	else if (t == T_NO_CERTSIGN)
		assert_int_equal(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE), 0);
	else if (t == T_CRITICAL_EXT)
		assert_int_equal(
			gnutls_x509_crt_set_extension_by_oid(crt, "1.3.6.1.4.1.55555.1", null_der, sizeof(null_der), 1),
			0);
	else
		return false;
	return true;
}

static void
build_node(struct built *b, const struct node *nodes, size_t i)
{
	const struct node *nd = &nodes[i];
	size_t by = (size_t)nd->issuer;
	bool self = by == i;
	/* A version 1 issuer has no subjectKeyIdentifier for tp_pki_cert to
	 * copy, and GnuTLS sets an authorityKeyIdentifier only once: then the
	 * certificate is made self-signed (without one), and signed after. */
	bool sign_after = !self && (nodes[by].tweak == T_V1 || nd->tweak == T_BAD_AKI);
	gnutls_x509_crt_t issuer = self ? NULL : b->crt[by];
	gnutls_x509_privkey_t key = node_key(nd, i), issuer_key = node_key(&nodes[by], by);
	size_t n_names = 0;
	long from, until;

	assert_true(by <= i);
	while (n_names < 3 && nd->names[n_names])
		n_names++;
	default_life(nd, self, &from, &until);
	if (nd->tweak == T_V1) {
		b->crt[i] = make_v1(nd, key, issuer, issuer_key, from, until);
	} else {
		struct tp_cert_spec spec = {
			.cn = nd->cn,
			.names = nd->names,
			.n_names = n_names,
			.ca = nd->ca,
			.pathlen = nd->pathlen - 1,
			.server_auth = nd->eku == EKU_SERVER,
			.client_auth = nd->eku == EKU_CLIENT,
			.not_before = AT + from,
			.not_after = AT + until,
			.hash = nd->hash,
			.permitted_dns = nd->permitted,
		};
		assert_int_equal(
			tp_pki_cert(&b->crt[i], &spec, key, sign_after ? NULL : issuer, sign_after ? NULL : issuer_key),
			0);
		if (tweak_extensions(b->crt[i], nd->tweak) || sign_after)
			assert_int_equal(gnutls_x509_crt_sign2(b->crt[i], issuer ? issuer : b->crt[i], issuer_key,
							       nd->hash ? nd->hash : GNUTLS_DIG_SHA256, 0),
					 0);
	}
	assert_int_equal(gnutls_x509_crt_export2(b->crt[i], GNUTLS_X509_FMT_DER, &b->der[i]), 0);
	/* The last byte is the signature's: its s value no longer verifies. */
	if (nd->tweak == T_BAD_SIGNATURE)
		b->der[i].data[b->der[i].size - 1] ^= 0x01;
}

static void
write_file(char *path, size_t len, const char *what, const gnutls_datum_t *data, size_t n)
{
	int fd;

	snprintf(path, len, "%s/%s.XXXXXX", fx.dir, what);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(write(fd, data[i].data, data[i].size), (ssize_t)data[i].size);
	assert_int_equal(close(fd), 0);
}

static void
write_trust(struct built *b, const char *nodes)
{
	gnutls_datum_t pem[MAX_NODES];
	size_t n = 0;

	for (const char *p = nodes; *p; p++)
		assert_int_equal(gnutls_pem_base64_encode2("CERTIFICATE", &b->der[*p - '0'], &pem[n++]), 0);
	write_file(b->ca_file, sizeof(b->ca_file), "ca", pem, n);
	for (size_t i = 0; i < n; i++)
		gnutls_free(pem[i].data);
}

static void
write_crl(struct built *b, const struct dcase *c)
{
	size_t by = (size_t)(c->crl.by[0] - '0');
	gnutls_x509_crl_t crl;
	gnutls_datum_t pem;

	assert_int_equal(gnutls_x509_crl_init(&crl), 0);
	assert_int_equal(gnutls_x509_crl_set_version(crl, 2), 0);
	assert_int_equal(gnutls_x509_crl_set_this_update(crl, AT - DAY), 0);
	assert_int_equal(gnutls_x509_crl_set_next_update(crl, AT + (c->crl.next_update ? c->crl.next_update : 7 * DAY)),
			 0);
	for (const char *p = c->crl.revokes ? c->crl.revokes : ""; *p; p++)
		assert_int_equal(gnutls_x509_crl_set_crt(crl, b->crt[*p - '0'], AT - 2 * DAY), 0);
	assert_int_equal(gnutls_x509_crl_sign2(crl, b->crt[by], node_key(&c->nodes[by], by), GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &pem), 0);
	write_file(b->crl_file, sizeof(b->crl_file), "crl", &pem, 1);
	gnutls_free(pem.data);
	gnutls_x509_crl_deinit(crl);
}

static void
build(struct built *b, const struct dcase *c)
{
	while (b->n_nodes < MAX_NODES && c->nodes[b->n_nodes].cn) {
		build_node(b, c->nodes, b->n_nodes);
		b->n_nodes++;
	}
	assert_true(strlen(c->chain) <= MAX_SERVED);
	for (const char *p = c->chain; *p; p++)
		b->served[b->n_served++] = b->der[*p - '0'];
	if (c->trust)
		write_trust(b, c->trust);
	if (c->crl.by)
		write_crl(b, c);
}

static void
built_finish(struct built *b)
{
	for (size_t i = 0; i < b->n_nodes; i++) {
		gnutls_x509_crt_deinit(b->crt[i]);
		gnutls_free(b->der[i].data);
	}
	if (b->ca_file[0])
		unlink(b->ca_file);
	if (b->crl_file[0])
		unlink(b->crl_file);
}

static struct tp_config *
configure(const struct dcase *c, const struct built *b)
{
	struct tp_config *cfg = run.cfg = tp_config_create();

	assert_non_null(cfg);
	tp_config_set_system_ca(cfg, false);
	tp_config_set_time(cfg, AT + c->at);
	if (b->ca_file[0] && tp_config_add_ca_file(cfg, b->ca_file) < 0)
		fail_msg("%s: %s", c->name, tp_config_error(cfg));
	if (b->crl_file[0] && tp_config_add_crl_file(cfg, b->crl_file) < 0)
		fail_msg("%s: %s", c->name, tp_config_error(cfg));
	if ((c->warn || c->crit) && tp_config_set_expiry_days(cfg, c->warn, c->crit) < 0)
		fail_msg("%s: %s", c->name, tp_config_error(cfg));
	tp_config_set_client_purpose(cfg, c->client);
	return cfg;
}

/* Every problem, for a failure message. */
static const char *
problems_text(const struct tp_result *r)
{
	static char buf[4096];
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < tp_result_problem_count(r) && used < sizeof(buf); i++) {
		const struct tp_problem *p = tp_result_problem(r, i);
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "\n  %s #%d %s: %s",
					 tp_reason_get(p->code)->name, p->cert_index, tp_status_name(p->severity),
					 p->message);
	}
	return used ? buf : " none";
}

/* A fact from the result or the case for "{...}" in a wanted message. */
static const char *
expand(const char *says, const struct tp_result *r, const struct built *b, int index)
{
	const struct tp_cert_info *ci = index >= 0 ? tp_result_cert(r, (size_t)index) : NULL;

	if (strcmp(says, "{serial}") == 0 && ci)
		return ci->serial;
	if (strcmp(says, "{sha256}") == 0 && ci)
		return ci->sha256;
	if (strcmp(says, "{crl}") == 0)
		return b->crl_file;
	return says;
}

static bool
expected(const struct dcase *c, const struct tp_problem *p)
{
	for (size_t i = 0; i < MAX_WANT && c->want[i].code; i++)
		if (c->want[i].code == p->code && c->want[i].index == p->cert_index)
			return true;
	return false;
}

static void
check_want(const struct dcase *c, const struct expect *w, const struct tp_result *r, const struct built *b)
{
	const struct tp_problem *p = NULL;

	for (size_t i = 0; i < tp_result_problem_count(r) && !p; i++) {
		const struct tp_problem *q = tp_result_problem(r, i);
		if (q->code == w->code && q->cert_index == w->index)
			p = q;
	}
	if (!p)
		fail_msg("%s: no %s about #%d; the problems:%s", c->name, tp_reason_get(w->code)->name, w->index,
			 problems_text(r));
	if (p->severity != w->severity)
		fail_msg("%s: %s is %s, not %s", c->name, tp_reason_get(w->code)->name, tp_status_name(p->severity),
			 tp_status_name(w->severity));
	for (size_t i = 0; i < 4 && w->says[i]; i++) {
		const char *s = expand(w->says[i], r, b, w->index);
		if (!strstr(p->message, s))
			fail_msg("%s: the %s message does not say '%s': %s", c->name, tp_reason_get(w->code)->name, s,
				 p->message);
	}
	if (w->fix && !strstr(p->fix, w->fix))
		fail_msg("%s: the %s fix does not say '%s': %s", c->name, tp_reason_get(w->code)->name, w->fix, p->fix);
}

static void
check(const struct dcase *c, const struct tp_result *r, const struct built *b)
{
	enum tp_code reason = c->want[0].code;
	enum tp_status status = TP_STATUS_OK;

	if (tp_result_error(r))
		fail_msg("%s: could not examine: %s", c->name, tp_result_error(r)->message);
	for (size_t i = 0; i < MAX_WANT && c->want[i].code; i++) {
		check_want(c, &c->want[i], r, b);
		if (c->want[i].severity > status)
			status = c->want[i].severity;
	}
	for (size_t i = 0; i < tp_result_problem_count(r); i++)
		if (!expected(c, tp_result_problem(r, i)))
			fail_msg("%s: unexpected %s; the problems:%s", c->name,
				 tp_reason_get(tp_result_problem(r, i)->code)->name, problems_text(r));
	if (tp_result_reason(r) != reason)
		fail_msg("%s: the reason is %s, not %s", c->name, tp_reason_get(tp_result_reason(r))->name,
			 tp_reason_get(reason)->name);
	if (tp_result_status(r) != status)
		fail_msg("%s: the status is %s, not %s", c->name, tp_status_name(tp_result_status(r)),
			 tp_status_name(status));
	if (tp_result_trusted(r) != c->trusted)
		fail_msg("%s: trusted is %d, not %d", c->name, tp_result_trusted(r), c->trusted);
	if (c->host && tp_result_hostname_ok(r) == c->name_bad)
		fail_msg("%s: hostname_ok is %d, not %d", c->name, tp_result_hostname_ok(r), !c->name_bad);
}

static void
run_case(void **state)
{
	const struct dcase *c = *state;

	build(&run.b, c);
	run.cfg = configure(c, &run.b);
	run.r = tp_examine(run.cfg, c->name, run.b.served, run.b.n_served, c->host, true);
	assert_non_null(run.r);
	check(c, run.r, &run.b);
}

static int
case_teardown(void **state)
{
	tp_result_destroy(run.r);
	tp_config_destroy(run.cfg);
	built_finish(&run.b);
	memset(&run, 0, sizeof(run));
	return 0;
}

/* The usual three: a root, an intermediate it signed, and a leaf for www.example.test. */
#define ROOT \
	{ \
		.cn = "Test Root", .ca = true \
	}
#define ROOT_LIVING(start, end) \
	{ \
		.cn = "Test Root", .ca = true, .from = (start), .until = (end) \
	}
#define INTERMEDIATE \
	{ \
		.cn = "Test Intermediate", .ca = true \
	}
#define LEAF(iss) \
	{ \
		.cn = leaf_name, .issuer = (iss), .eku = EKU_SERVER, .names = { leaf_name } \
	}
/* The leaf under node 1, with one field more. */
#define LEAF_WITH(field) \
	{ \
		.cn = leaf_name, .issuer = 1, .eku = EKU_SERVER, .names = {leaf_name}, field \
	}
#define LEAF_LIVING(start, end) \
	{ \
		.cn = leaf_name, .issuer = 1, .names = {leaf_name}, .from = (start), .until = (end) \
	}
#define WILDCARD_LEAF \
	{ \
		.cn = leaf_name, .issuer = 1, .eku = EKU_SERVER, .names = { "*.example.test" } \
	}
/* Node 0's key in a "Test Root" certificate signed by node by: a cross-signature, or a re-issue when by is itself. */
#define ROOT_AGAIN(by, start, end) \
	{ \
		.cn = "Test Root", .ca = true, .issuer = (by), .key = KEY_OF(0), .from = (start), .until = (end) \
	}
/* Leaf and intermediate served, the root trusted. */
#define USUAL_CHAIN .nodes = {ROOT, INTERMEDIATE, LEAF(1)}, .chain = "21", .trust = "0"
/* Another CA of a name the chain uses, with a key of its own. */
#define IMPOSTOR(name, iss) \
	{ \
		.cn = (name), .ca = true, .issuer = (iss) \
	}
#define OTHER_ROOT(i) \
	{ \
		.cn = "Other Root", .ca = true, .issuer = (i) \
	}
#define SIXTEEN "1111111111111111"

/* Laid out by hand, one block per case. */
/* clang-format off */
static const struct dcase cases[] = {
	{
		.name = "good chain",
		USUAL_CHAIN,
		.host = leaf_name,
		.trusted = true,
	},
	/* ---- who vouches for the chain ---- */
	{
		.name = "self-signed leaf",
		.nodes = {ROOT, {.cn = leaf_name, .issuer = 1, .names = {leaf_name}}},
		.chain = "1",
		.trust = "0",
		.want = {{TP_SELF_SIGNED, 0, TP_STATUS_CRITICAL,
			  {"the file holds a self-signed certificate for 'www.example.test'",
			   "(the --ca-file holds 'Test Root', not it)"}}},
	},
	{
		.name = "root sent, not trusted",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1)},
		.chain = "210",
		.want = {{TP_UNTRUSTED_ROOT, 2, TP_STATUS_CRITICAL,
			  {"the chain ends at the root CA 'Test Root' (in the file, SHA-256 ", "{sha256}",
			   "which is not in the trust store"}}},
	},
	{
		.name = "root sent, another of its name trusted",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), IMPOSTOR("Test Root", 3)},
		.chain = "210",
		.trust = "3",
		.want = {{TP_UNTRUSTED_ROOT, 2, TP_STATUS_CRITICAL,
			  {"the chain ends at the root CA 'Test Root'", "the --ca-file holds a CA of that name",
			   "(same name, different key)"}}},
	},
	{
		.name = "issuer's name trusted with another key",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), IMPOSTOR("Test Root", 3)},
		.chain = "21",
		.trust = "3",
		.want = {{TP_UNTRUSTED_ROOT, 1, TP_STATUS_CRITICAL,
			  {"'Test Intermediate' was issued by 'Test Root'; the --ca-file holds a CA certificate of "
			   "that name, but not the one that signed it"},
			  "Find the 'Test Root' certificate that really issued this chain"}},
	},
	{
		/* GnuTLS stops at a trusted intermediate, unless the chain goes on past it. */
		.name = "intermediate as the ca-file, chain going on past it",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), OTHER_ROOT(3),
			  ROOT_AGAIN(3, -DAY, 900 * DAY)},
		.chain = "214",
		.trust = "1",
		.want = {{TP_UNTRUSTED_ROOT, 1, TP_STATUS_CRITICAL,
			  {"the --ca-file holds 'Test Intermediate' itself, an intermediate CA (the file has it as #1)",
			   "not the root CA 'Test Root' above it"},
			  "Give the client the root CA 'Test Root' instead"}},
	},
	{
		.name = "chain ends at a CA whose issuer is unknown",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), OTHER_ROOT(3)},
		.chain = "21",
		.trust = "3",
		.want = {{TP_UNTRUSTED_ROOT, 1, TP_STATUS_CRITICAL,
			  {"the chain ends at the CA 'Test Intermediate', issued by 'Test Root', which is not in the "
			   "trust store (the --ca-file holds 'Other Root', not it)"},
			  "If it is your own root CA"}},
	},
	{
		.name = "leaf alone",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1)},
		.chain = "2",
		.trust = "0",
		.want = {{TP_MISSING_INTERMEDIATE, 0, TP_STATUS_CRITICAL,
			  {"the file holds only the leaf certificate; its issuer 'Test Intermediate' is missing from "
			   "the chain and is not in the trust store"},
			  "send the leaf certificate followed by every intermediate"}},
	},
	{
		.name = "leaf and a stranger",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), OTHER_ROOT(3)},
		.chain = "23",
		.trust = "0",
		.want = {{TP_MISSING_INTERMEDIATE, 0, TP_STATUS_CRITICAL,
			  {"the file holds 2 certificates but not 'Test Intermediate', the issuer of "
			   "'www.example.test'"}},
			 {TP_CHAIN_ORDER, 1, TP_STATUS_WARNING,
			  {"certificate #1 'Other Root' belongs to no path from the leaf"}}},
	},
	/* ---- signatures and signers ---- */
	{
		.name = "intermediate of the right name, wrong key",
		.nodes = {ROOT, INTERMEDIATE, IMPOSTOR("Test Intermediate", 0), LEAF(1)},
		.chain = "32",
		.trust = "0",
		.want = {{TP_SIGNATURE_FAILURE, 0, TP_STATUS_CRITICAL,
			  {"'www.example.test' names 'Test Intermediate' as its issuer, but its signature does not "
			   "verify with the key of the 'Test Intermediate' certificate in the file (#1)"},
			  "The server sends the wrong 'Test Intermediate' certificate"},
			 {TP_KEY_ID_MISMATCH, 0, TP_STATUS_WARNING, {"'www.example.test'", "'Test Intermediate'"}}},
	},
	{
		.name = "altered signature",
		.nodes = {ROOT, {.cn = "Test Intermediate", .ca = true, .tweak = T_BAD_SIGNATURE}, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_SIGNATURE_FAILURE, -1, TP_STATUS_CRITICAL,
			  {"a signature in the chain does not verify with its issuer's key"}}},
	},
	{
		.name = "issuer not a CA",
		.nodes = {ROOT, {.cn = "Not A CA"}, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_ISSUER_NOT_CA, 1, TP_STATUS_CRITICAL,
			  {"'www.example.test' was signed by 'Not A CA', but it is not a CA certificate (no "
			   "basicConstraints CA:TRUE)"}}},
	},
	{
		.name = "issuer without keyCertSign",
		.nodes = {ROOT, {.cn = "Test Intermediate", .ca = true, .tweak = T_NO_CERTSIGN}, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_ISSUER_NOT_CA, 1, TP_STATUS_CRITICAL,
			  {"'www.example.test' was signed by 'Test Intermediate', but its keyUsage does not allow "
			   "signing certificates (no keyCertSign)"}}},
	},
	{
		.name = "version 1 intermediate",
		.nodes = {ROOT, {.cn = "Test Intermediate", .tweak = T_V1, .from = -700 * DAY, .until = 1000 * DAY},
			  LEAF(1)},
		.chain = "21",
		.trust = "0",
		/* Its issuer has no key identifier for the leaf to name. */
		.want = {{TP_ISSUER_NOT_CA, 1, TP_STATUS_CRITICAL,
			  {"'www.example.test' was signed by 'Test Intermediate', but it is an X.509 version 1 "
			   "certificate"}},
			 {TP_PROFILE_VIOLATION, 0, TP_STATUS_WARNING, {"has no authorityKeyIdentifier"}}},
	},
	{
		/* GnuTLS flags a trusted anchor that is not a CA with both
		 * SIGNER_NOT_CA and SIGNER_CONSTRAINTS_FAILURE: one finding. */
		.name = "trusted anchor not a CA",
		.nodes = {{.cn = "Not A CA"}, LEAF(0)},
		.chain = "1",
		.trust = "0",
		.want = {{TP_ISSUER_NOT_CA, -1, TP_STATUS_CRITICAL,
			  {"a certificate in the chain was signed by one that may not sign certificates"}}},
	},
	/* ---- algorithms and keys ---- */
	{
		.name = "SHA-1 signature",
		.nodes = {ROOT, INTERMEDIATE,
			  LEAF_WITH(.hash = GNUTLS_DIG_SHA1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_INSECURE_ALGORITHM, 0, TP_STATUS_CRITICAL,
			  {"'www.example.test' is signed with SHA1 (ECDSA-SHA1)"}}},
	},
	{
		.name = "RSA-1024 leaf",
		.nodes = {ROOT, INTERMEDIATE,
			  LEAF_WITH(.key = RSA_1024)},
		.chain = "21",
		.trust = "0",
		/* OpenSSL 3 at security level 2 refuses it, and so curl and Python. */
		.want = {{TP_WEAK_KEY, 0, TP_STATUS_CRITICAL,
			  {"'www.example.test' has a 1024-bit RSA key, below the 2048 bits"}}},
		.trusted = true,
	},
	{
		/* GnuTLS goes on past the trusted intermediate, to a SHA-1 cross-signature off the path. */
		.name = "SHA-1 past the trusted intermediate",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), OTHER_ROOT(3),
			  {.cn = "Test Root", .ca = true, .issuer = 3, .key = KEY_OF(0), .from = -DAY,
			   .until = 900 * DAY, .hash = GNUTLS_DIG_SHA1}},
		.chain = "214",
		.trust = "1",
		.want = {{TP_UNTRUSTED_ROOT, 1, TP_STATUS_CRITICAL, {"the --ca-file holds 'Test Intermediate' itself"}},
			 {TP_INSECURE_ALGORITHM, -1, TP_STATUS_CRITICAL,
			  {"GnuTLS refuses an algorithm in the chain, or in the trusted root that anchors it"}}},
	},
	/* ---- constraints ---- */
	{
		.name = "pathlen of the trusted root",
		.nodes = {{.cn = "Test Root", .ca = true, .pathlen = PATHLEN(0)}, INTERMEDIATE, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_PATHLEN_EXCEEDED, -1, TP_STATUS_CRITICAL,
			  {"the trusted root 'Test Root' allows 0 CAs below it (pathlen:0), but the chain has 1"}}},
	},
	{
		.name = "pathlen of a sent intermediate",
		.nodes = {ROOT, {.cn = "Test Intermediate", .ca = true, .pathlen = PATHLEN(0)},
			  {.cn = "Test Sub CA", .ca = true, .issuer = 1}, LEAF(2)},
		.chain = "321",
		.trust = "0",
		.want = {{TP_PATHLEN_EXCEEDED, 2, TP_STATUS_CRITICAL,
			  {"'Test Intermediate' allows 0 CAs below it (pathlen:0), but the chain has 1"}}},
	},
	{
		/* RFC 5280 6.1.4 (l): a self-issued CA below the final certificate
		 * (a re-key of the root's name) does not count against pathlen. */
		.name = "pathlen over a self-issued re-key",
		.nodes = {{.cn = "Test Root", .ca = true, .pathlen = PATHLEN(0)}, {.cn = "Test Root", .ca = true},
			  LEAF(1)},
		.chain = "21",
		.trust = "0",
		/* GnuTLS 3.7 counts it, and refuses: the finding says whose rule that is. */
		.want = {{TP_PATHLEN_EXCEEDED, -1, TP_STATUS_CRITICAL,
			  {"GnuTLS counts the self-issued certificate #1 'Test Root' against the pathlen of the "
			   "trusted root 'Test Root' (pathlen:0), which RFC 5280 6.1.4 does not; OpenSSL accepts "
			   "the chain"},
			  "valid by RFC 5280, but GnuTLS clients refuse it"}},
	},
	{
		.name = "pathlen over a self-issued re-key and an intermediate",
		.nodes = {{.cn = "Test Root", .ca = true, .pathlen = PATHLEN(0)}, {.cn = "Test Root", .ca = true},
			  {.cn = "Test Intermediate", .ca = true, .issuer = 1}, LEAF(2)},
		.chain = "321",
		.trust = "0",
		.want = {{TP_PATHLEN_EXCEEDED, -1, TP_STATUS_CRITICAL,
			  {"the trusted root 'Test Root' allows 0 CAs below it (pathlen:0), but the chain has 1"}}},
	},
	{
		.name = "name constraints of an intermediate",
		.nodes = {ROOT, {.cn = "Test Intermediate", .ca = true, .permitted = "example.org"}, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_NAME_CONSTRAINTS, 1, TP_STATUS_CRITICAL,
			  {"the CA 'Test Intermediate' may only certify names inside its nameConstraints (it permits "
			   "'example.org')", "names outside them: 'www.example.test'"}}},
	},
	{
		.name = "name constraints of the trusted root",
		.nodes = {{.cn = "Test Root", .ca = true, .permitted = "example.org"}, INTERMEDIATE, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_NAME_CONSTRAINTS, -1, TP_STATUS_CRITICAL,
			  {"the trusted root 'Test Root' may only certify names", "'www.example.test'"}}},
	},
	{
		/*
		 * The leaf's signature verifies with the intermediate's key; only
		 * its authorityKeyIdentifier names another key. GnuTLS (like
		 * OpenSSL) then does not take the intermediate for its issuer:
		 * key-id-mismatch is the cause, critical, and no signature-failure.
		 * (key-id-mismatch as a warning beside a real wrong key: "intermediate
		 * of the right name, wrong key".)
		 */
		.name = "authority key id of another key",
		.nodes = {ROOT, INTERMEDIATE,
			  LEAF_WITH(.tweak = T_BAD_AKI)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_KEY_ID_MISMATCH, 0, TP_STATUS_CRITICAL,
			  {"'www.example.test' names its issuer's key by an identifier that is not the "
			   "subjectKeyIdentifier of 'Test Intermediate'", "that certificate's key did sign it"},
			  "with a correct authorityKeyIdentifier"}},
	},
	{
		.name = "leaf outlives its issuer",
		.nodes = {ROOT, {.cn = "Test Intermediate", .ca = true, .from = -DAY, .until = 40 * DAY}, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_OUTLIVES_ISSUER, 0, TP_STATUS_WARNING,
			  {"'www.example.test' is valid after its issuer 'Test Intermediate' expires on 2025-07-11 "
			   "00:00 UTC"}}},
		.trusted = true,
	},
	{
		.name = "unknown critical extension",
		.nodes = {ROOT, INTERMEDIATE,
			  LEAF_WITH(.tweak = T_CRITICAL_EXT)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_UNKNOWN_CRITICAL_EXTENSION, 0, TP_STATUS_CRITICAL,
			  {"has an extension marked critical that clients do not know (OID 1.3.6.1.4.1.55555.1)"}}},
	},
	/* ---- the order the chain is served in ---- */
	{
		.name = "intermediates swapped",
		.nodes = {ROOT, INTERMEDIATE, {.cn = "Test Sub CA", .ca = true, .issuer = 1}, LEAF(2)},
		.chain = "312",
		.trust = "0",
		.want = {{TP_CHAIN_ORDER, 2, TP_STATUS_WARNING,
			  {"the file has its certificates out of order; the chain is #0 'www.example.test', then #2 "
			   "'Test Sub CA', then #1 'Test Intermediate'"}}},
		.trusted = true,
	},
	{
		.name = "intermediate sent twice",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1)},
		.chain = "211",
		.trust = "0",
		.want = {{TP_CHAIN_ORDER, 2, TP_STATUS_WARNING,
			  {"certificate #2 'Test Intermediate' is sent twice (it is also #1)"}}},
		.trusted = true,
	},
	{
		.name = "intermediate sent three times",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1)},
		.chain = "2111",
		.trust = "0",
		.want = {{TP_CHAIN_ORDER, 2, TP_STATUS_WARNING,
			  {"'Test Intermediate' (#1) is sent 2 more times, from #2 on: once is enough"}}},
		.trusted = true,
	},
	{
		.name = "more certificates than are examined",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1)},
		.chain = "2" SIXTEEN SIXTEEN SIXTEEN SIXTEEN,
		.trust = "0",
		.want = {{TP_CHAIN_ORDER, -1, TP_STATUS_WARNING,
			  {"the file holds 65 certificates; only the first 64 were examined"}},
			 {TP_CHAIN_ORDER, 2, TP_STATUS_WARNING, {"'Test Intermediate' (#1) is sent 62 more times"}}},
		.trusted = true,
	},
	{
		.name = "expired cross-signed root",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), OTHER_ROOT(3),
			  ROOT_AGAIN(3, -900 * DAY, -10 * DAY)},
		.chain = "214",
		.trust = "0",
		.want = {{TP_CHAIN_ORDER, 2, TP_STATUS_WARNING,
			  {"certificate #2 'Test Root', issued by 'Other Root', is a cross-signed copy of a root this "
			   "trust store holds", "it expired on 2025-05-22 00:00 UTC"}}},
		.trusted = true,
	},
	{
		.name = "cross-signed root not yet valid",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), OTHER_ROOT(3),
			  ROOT_AGAIN(3, 10 * DAY, 900 * DAY)},
		.chain = "214",
		.trust = "0",
		.want = {{TP_CHAIN_ORDER, 2, TP_STATUS_WARNING,
			  {"certificate #2 'Test Root', issued by 'Other Root'",
			   "it is not valid before 2025-06-11 00:00 UTC, and clients that do not trust 'Test Root' "
			   "build their path through it and fail"}}},
		.trusted = true,
	},
	{
		.name = "valid cross-signed root",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), OTHER_ROOT(3),
			  ROOT_AGAIN(3, -900 * DAY, 900 * DAY)},
		.chain = "214",
		.trust = "0",
		.trusted = true,
	},
	{
		.name = "another root of the trusted name sent",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), IMPOSTOR("Test Root", 3)},
		.chain = "213",
		.trust = "0",
		.want = {{TP_CHAIN_ORDER, 2, TP_STATUS_WARNING,
			  {"certificate #2 is a root CA named 'Test Root' but not the 'Test Root' in the trust store, "
			   "and not the key that signed the chain"}}},
		.trusted = true,
	},
	{
		.name = "the trusted root's key in another certificate sent",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1),
			  ROOT_AGAIN(3, -DAY, 900 * DAY)},
		.chain = "213",
		.trust = "0",
		.want = {{TP_CHAIN_ORDER, 2, TP_STATUS_WARNING, {"(another certificate for the same key)"}}},
		.trusted = true,
	},
	{
		.name = "second intermediate of one name",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), IMPOSTOR("Test Intermediate", 0)},
		.chain = "213",
		.trust = "0",
		.want = {{TP_CHAIN_ORDER, 2, TP_STATUS_WARNING,
			  {"certificate #2 is a second certificate for 'Test Intermediate' (the chain uses #1)"}}},
		.trusted = true,
	},
	{
		.name = "file starts with a CA",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1)},
		.chain = "12",
		.trust = "0",
		.want = {{TP_CHAIN_ORDER, 0, TP_STATUS_CRITICAL,
			  {"the file starts with 'Test Intermediate', a CA certificate; the leaf 'www.example.test' is "
			   "its certificate #1"},
			  "Put the leaf first in the file"}},
		.trusted = true,
	},
	/* ---- names ---- */
	{
		.name = "name not covered",
		.nodes = {ROOT, INTERMEDIATE,
			  {.cn = leaf_name, .issuer = 1, .eku = EKU_SERVER, .names = {leaf_name, "127.0.0.1"}}},
		.chain = "21",
		.trust = "0",
		.host = "mail.example.test",
		.want = {{TP_HOSTNAME_MISMATCH, 0, TP_STATUS_CRITICAL,
			  {"the certificate does not cover 'mail.example.test'; it covers: www.example.test, "
			   "127.0.0.1"}}},
		.trusted = true,
		.name_bad = true,
	},
	{
		.name = "wildcard one label short",
		.nodes = {ROOT, INTERMEDIATE, WILDCARD_LEAF},
		.chain = "21",
		.trust = "0",
		.host = "example.test",
		.want = {{TP_HOSTNAME_MISMATCH, 0, TP_STATUS_CRITICAL,
			  {"does not cover 'example.test'",
			   "the '*' in '*.example.test' stands for exactly one label, so it covers names like "
			   "'www.example.test', not 'example.test'"}}},
		.trusted = true,
		.name_bad = true,
	},
	{
		.name = "wildcard one label long",
		.nodes = {ROOT, INTERMEDIATE, WILDCARD_LEAF},
		.chain = "21",
		.trust = "0",
		.host = "a.b.example.test",
		.want = {{TP_HOSTNAME_MISMATCH, 0, TP_STATUS_CRITICAL,
			  {"does not cover 'a.b.example.test'",
			   "the '*' in '*.example.test' stands for exactly one label"}}},
		.trusted = true,
		.name_bad = true,
	},
	{
		.name = "no subjectAltName, other name",
		.nodes = {ROOT, INTERMEDIATE, {.cn = leaf_name, .issuer = 1, .eku = EKU_SERVER}},
		.chain = "21",
		.trust = "0",
		.host = "mail.example.test",
		.want = {{TP_HOSTNAME_MISMATCH, 0, TP_STATUS_CRITICAL,
			  {"does not cover 'mail.example.test'; it has no subjectAltName, only the subject "
			   "'www.example.test'"}}},
		.trusted = true,
		.name_bad = true,
	},
	{
		.name = "name only in the CN",
		.nodes = {ROOT, INTERMEDIATE, {.cn = leaf_name, .issuer = 1, .eku = EKU_SERVER}},
		.chain = "21",
		.trust = "0",
		.host = leaf_name,
		/* Chrome and Go refuse it. */
		.want = {{TP_HOSTNAME_MISMATCH, 0, TP_STATUS_CRITICAL,
			  {"'www.example.test' matches only the certificate's subject CN: it has no subjectAltName"}}},
		.trusted = true,
	},
	{
		.name = "server certificate used as a client's",
		USUAL_CHAIN,
		.client = true,
		.want = {{TP_PURPOSE_MISMATCH, 0, TP_STATUS_CRITICAL, {"does not include clientAuth"},
			  "tlsprobe ca issue --client"}},
	},
	{
		.name = "client certificate used as a server's",
		.nodes = {ROOT, INTERMEDIATE, {.cn = leaf_name, .issuer = 1, .eku = EKU_CLIENT, .names = {leaf_name}}},
		.chain = "21",
		.trust = "0",
		.want = {{TP_PURPOSE_MISMATCH, 0, TP_STATUS_CRITICAL, {"does not include serverAuth"}}},
	},
	/* ---- time ---- */
	{
		.name = "leaf expired minutes ago",
		USUAL_CHAIN,
		.at = 60 * DAY + 5 * MINUTE,
		.want = {{TP_EXPIRED, 0, TP_STATUS_CRITICAL,
			  {"'www.example.test' expired on 2025-07-31 00:00 UTC, 5 minutes ago at 2025-07-31 00:05 UTC "
			   "(--at)"}}},
	},
	{
		.name = "intermediate expired days ago",
		.nodes = {ROOT, {.cn = "Test Intermediate", .ca = true, .from = -700 * DAY, .until = -3 * DAY},
			  LEAF_LIVING(-30 * DAY, -4 * DAY + HOUR)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_EXPIRED, 1, TP_STATUS_CRITICAL,
			  {"'Test Intermediate' expired on 2025-05-29 00:00 UTC, 3 days ago"},
			  "'Test Intermediate' is a CA certificate in the file's chain"},
			 {TP_EXPIRED, 0, TP_STATUS_CRITICAL,
			  {"'www.example.test' expired on 2025-05-28 01:00 UTC, 3 days ago"}}},
	},
	{
		.name = "leaf not yet valid",
		.nodes = {ROOT, INTERMEDIATE,
			  LEAF_LIVING(3 * DAY, 90 * DAY)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_NOT_YET_VALID, 0, TP_STATUS_CRITICAL,
			  {"'www.example.test' is not valid before 2025-06-04 00:00 UTC, 3 days from now at 2025-06-01 "
			   "00:00 UTC (--at)"}}},
	},
	{
		.name = "expires within the warning days",
		.nodes = {ROOT, INTERMEDIATE, LEAF_LIVING(-DAY, 20 * DAY)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_EXPIRES_SOON, 0, TP_STATUS_WARNING,
			  {"'www.example.test' expires on 2025-06-21 00:00 UTC, in 20 days (thresholds: warning 30, "
			   "critical 14 days)"}}},
		.trusted = true,
	},
	{
		.name = "expires within hours",
		.nodes = {ROOT, INTERMEDIATE, LEAF_LIVING(-DAY, 5 * HOUR)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_EXPIRES_SOON, 0, TP_STATUS_CRITICAL, {"expires on 2025-06-01 05:00 UTC, in 5 hours"}}},
		.trusted = true,
	},
	{
		.name = "thresholds moved",
		.nodes = {ROOT, INTERMEDIATE, LEAF_LIVING(-DAY, 55 * DAY)},
		.chain = "21",
		.trust = "0",
		.warn = 90,
		.crit = 60,
		.want = {{TP_EXPIRES_SOON, 0, TP_STATUS_CRITICAL,
			  {"in 55 days (thresholds: warning 90, critical 60 days)"}}},
		.trusted = true,
	},
	/* ---- the dates of the trusted root, which the server does not send ---- */
	{
		.name = "trusted root expired",
		.nodes = {ROOT_LIVING(-3650 * DAY, -10 * DAY), INTERMEDIATE, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_EXPIRED, -1, TP_STATUS_CRITICAL,
			  {"the trusted root 'Test Root' (in the --ca-file) expired on 2025-05-22 00:00 UTC, 10 days "
			   "ago at 2025-06-01 00:00 UTC (--at)"},
			  "Replace the root 'Test Root' in the --ca-file with the CA's current one"}},
	},
	{
		.name = "trusted root expired, sent too",
		.nodes = {ROOT_LIVING(-3650 * DAY, -10 * DAY), INTERMEDIATE, LEAF(1)},
		.chain = "210",
		.trust = "0",
		.want = {{TP_EXPIRED, 2, TP_STATUS_CRITICAL,
			  {"the trusted root 'Test Root' (in the --ca-file, and in the file) expired on 2025-05-22"},
			  "Replace the root 'Test Root'"},
			 {TP_OUTLIVES_ISSUER, 1, TP_STATUS_WARNING, {"'Test Intermediate' is valid after its issuer"}}},
	},
	{
		.name = "trusted root expired, renewed under its key",
		.nodes = {ROOT_LIVING(-3650 * DAY, -10 * DAY), INTERMEDIATE, LEAF(1),
			  ROOT_AGAIN(3, -20 * DAY, 3650 * DAY)},
		.chain = "21",
		.trust = "03",
		.trusted = true,
	},
	{
		.name = "trusted root expired, renewed with another key",
		.nodes = {ROOT_LIVING(-3650 * DAY, -10 * DAY), INTERMEDIATE, LEAF(1), IMPOSTOR("Test Root", 3)},
		.chain = "21",
		.trust = "30",
		.want = {{TP_EXPIRED, -1, TP_STATUS_CRITICAL, {"the trusted root 'Test Root' (in the --ca-file) expired"}}},
	},
	{
		.name = "trusted root not yet valid",
		.nodes = {ROOT_LIVING(2 * DAY, 3650 * DAY), INTERMEDIATE, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_NOT_YET_VALID, -1, TP_STATUS_CRITICAL,
			  {"the trusted root 'Test Root' (in the --ca-file) is not valid before 2025-06-03 00:00 UTC, "
			   "2 days from now"}}},
	},
	{
		.name = "trusted root expires within the warning days",
		.nodes = {ROOT_LIVING(-3650 * DAY, 20 * DAY), INTERMEDIATE, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_EXPIRES_SOON, -1, TP_STATUS_WARNING,
			  {"the trusted root 'Test Root' (in the --ca-file) expires on 2025-06-21 00:00 UTC, in 20 days"},
			  "Before then, replace the root 'Test Root'"}},
		.trusted = true,
	},
	{
		.name = "trusted root expires within the critical days",
		.nodes = {ROOT_LIVING(-3650 * DAY, 5 * DAY), INTERMEDIATE, LEAF(1)},
		.chain = "21",
		.trust = "0",
		.want = {{TP_EXPIRES_SOON, -1, TP_STATUS_CRITICAL, {"the trusted root 'Test Root'", "in 5 days"}}},
		.trusted = true,
	},
	/* ---- revocation (revoke.c): trusted speaks of GnuTLS's verdict and the
	 * validity dates only (tlsprobe-json.7), the status of the revocation ---- */
	{
		.name = "leaf revoked by its issuer's CRL",
		USUAL_CHAIN,
		.crl = {.by = "1", .revokes = "2"},
		.want = {{TP_REVOKED, 0, TP_STATUS_CRITICAL,
			  {"'www.example.test' (serial ", "{serial}",
			   ") was revoked on 2025-05-30 00:00 UTC, says the CRL of 'Test Intermediate' in ", "{crl}"}}},
		.trusted = true,
	},
	{
		.name = "intermediate revoked by the trusted root's CRL",
		USUAL_CHAIN,
		.crl = {.by = "0", .revokes = "1"},
		.want = {{TP_REVOKED, 1, TP_STATUS_CRITICAL,
			  {"'Test Intermediate' (serial ", "{serial}",
			   ") was revoked on 2025-05-30 00:00 UTC, says the CRL of 'Test Root'"}}},
		.trusted = true,
	},
	{
		.name = "stale CRL",
		USUAL_CHAIN,
		.crl = {.by = "1", .next_update = -DAY},
		.want = {{TP_CRL_STALE, 0, TP_STATUS_WARNING,
			  {"the CRL of 'Test Intermediate' in ", "{crl}",
			   "is stale: its next update was due 2025-05-31 00:00 UTC"}}},
		.trusted = true,
	},
	{
		.name = "CRL signed by another key",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1), IMPOSTOR("Test Intermediate", 0)},
		.chain = "21",
		.trust = "0",
		.crl = {.by = "3", .revokes = "2"},
		.want = {{TP_CRL_INVALID, 0, TP_STATUS_WARNING,
			  {"{crl}", "names 'Test Intermediate' as its issuer but is not signed by that CA's key, so it "
			   "was not used"}}},
		.trusted = true,
	},
	{
		.name = "CRL of a CA neither sent nor trusted",
		.nodes = {ROOT, INTERMEDIATE, LEAF(1)},
		.chain = "2",
		.trust = "0",
		.crl = {.by = "1", .revokes = "2"},
		.want = {{TP_MISSING_INTERMEDIATE, 0, TP_STATUS_CRITICAL, {"'Test Intermediate' is missing"}},
			 {TP_CRL_INVALID, 0, TP_STATUS_WARNING, {"that CA is neither sent nor trusted"}}},
	},
};
/* clang-format on */

/* tp_examine's own refusals: the result's error, not a problem. */
static void
check_error(const struct tp_result *r, enum tp_code code, const char *says)
{
	const struct tp_problem *e = tp_result_error(r);

	assert_non_null(e);
	assert_int_equal(e->code, code);
	assert_int_equal(e->cert_index, -1);
	assert_int_equal(e->severity, tp_reason_get(code)->status);
	assert_non_null(strstr(e->message, says));
	assert_int_equal(tp_result_reason(r), code);
	assert_int_equal(tp_result_status(r), tp_reason_get(code)->status);
	assert_int_equal(tp_result_problem_count(r), 0);
	assert_false(tp_result_trusted(r));
}

static void
test_empty_chain(void **state)
{
	run.cfg = tp_config_create();
	assert_non_null(run.cfg);
	tp_config_set_system_ca(run.cfg, false);
	run.r = tp_examine(run.cfg, "empty-chain", NULL, 0, NULL, true);
	assert_non_null(run.r);
	check_error(run.r, TP_INTERNAL_ERROR, "no certificate to examine");
	assert_int_equal(tp_result_status(run.r), TP_STATUS_UNKNOWN);
}

static void
test_unparsable_certificate(void **state)
{
	static const struct dcase c = {.name = "unparsable", .nodes = {ROOT, INTERMEDIATE, LEAF(1)}, .chain = "21"};
	static unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};

	build(&run.b, &c);
	run.b.served[1] = (gnutls_datum_t){junk, sizeof(junk)};
	run.cfg = configure(&c, &run.b);
	run.r = tp_examine(run.cfg, c.name, run.b.served, run.b.n_served, NULL, true);
	assert_non_null(run.r);
	check_error(run.r, TP_HANDSHAKE_FAILURE, "certificate 1 cannot be parsed");
}

/*
 * A PEM file whose second certificate GnuTLS refuses (a duplicate
 * extension: its subjectKeyIdentifier's OID made the authorityKeyIdentifier's)
 * is named, with GnuTLS's reason, not "holds no certificate".
 */
static void
test_unparsable_certificate_in_a_file(void **state)
{
	static const struct dcase c = {
		.name = "unparsable in a file", .nodes = {ROOT, INTERMEDIATE, LEAF(1)}, .chain = ""};
	static const unsigned char ski[] = {0x06, 0x03, 0x55, 0x1d, 0x0e};
	gnutls_datum_t pem[2], *certs = NULL;
	unsigned char *at = NULL;
	char path[96], err[512], want[300];
	size_t n = 99;

	build(&run.b, &c);
	for (size_t i = 0; i + sizeof(ski) <= run.b.der[2].size && !at; i++)
		if (memcmp(run.b.der[2].data + i, ski, sizeof(ski)) == 0)
			at = run.b.der[2].data + i;
	assert_non_null(at);
	at[4] = 0x23;
	assert_int_equal(gnutls_pem_base64_encode2("CERTIFICATE", &run.b.der[1], &pem[0]), 0);
	assert_int_equal(gnutls_pem_base64_encode2("CERTIFICATE", &run.b.der[2], &pem[1]), 0);
	write_file(path, sizeof(path), "broken", pem, 2);
	gnutls_free(pem[0].data);
	gnutls_free(pem[1].data);
	assert_int_equal(tp_certs_load(path, &certs, &n, err, sizeof(err)), -1);
	unlink(path);
	assert_null(certs);
	assert_int_equal(n, 0);
	snprintf(want, sizeof(want), "certificate 2 in %s (line ", path);
	if (!strstr(err, want) || !strstr(err, ") cannot be parsed: ") ||
	    !strstr(err, gnutls_strerror(GNUTLS_E_X509_DUPLICATE_EXTENSION)))
		fail_msg("the error: %s", err);
}

static int
group_setup(void **state)
{
	for (size_t i = 0; i < MAX_NODES; i++)
		if (tp_pki_key(&fx.ec[i], TP_KEY_ECDSA, 0) < 0)
			return -1;
	if (tp_pki_key(&fx.rsa1024, TP_KEY_RSA, 1024) < 0)
		return -1;
	snprintf(fx.dir, sizeof(fx.dir), "%s/test_diagnose.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(fx.dir) ? 0 : -1;
}

static int
group_teardown(void **state)
{
	for (size_t i = 0; i < MAX_NODES; i++)
		gnutls_x509_privkey_deinit(fx.ec[i]);
	gnutls_x509_privkey_deinit(fx.rsa1024);
	return rmdir(fx.dir);
}

int
main(void)
{
	enum { N = sizeof(cases) / sizeof(*cases) };
	struct CMUnitTest tests[N + 3] = {
		cmocka_unit_test_teardown(test_empty_chain, case_teardown),
		cmocka_unit_test_teardown(test_unparsable_certificate, case_teardown),
		cmocka_unit_test_teardown(test_unparsable_certificate_in_a_file, case_teardown),
	};
	size_t n = 3;
	bool bugs = getenv("TEST_DIAGNOSE_BUGS") != NULL;

	/*
	 * One test per case, named after it. The cases of known bugs are left
	 * out, named in a TAP comment, rather than skipped: cmocka 1.1.5 reports
	 * a skipped test as "not ok ... # SKIP", which meson counts as failed.
	 * TEST_DIAGNOSE_BUGS=1 runs them too, to see them fail.
	 */
	for (size_t i = 0; i < N; i++) {
		if (cases[i].bug && !bugs) {
			printf("# not run, a known bug: %s: %s\n", cases[i].name, cases[i].bug);
			continue;
		}
		tests[n++] = (struct CMUnitTest){
			.name = cases[i].name,
			.test_func = run_case,
			.teardown_func = case_teardown,
			.initial_state = (void *)&cases[i],
		};
	}
	fflush(stdout);
	return _cmocka_run_group_tests("diagnose", tests, n, group_setup, group_teardown);
}
