/*
 * diagnose.c: verification and its explanation. GnuTLS gives the verdict
 * (a status bitmask); this module works out which certificate it is about
 * and why, in words: which issuer is missing, whether the root was sent but
 * is not trusted, which names the certificate does cover, how many days ago.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chain.h"
#include "clients.h"
#include "diagnose.h"
#include "trust.h"

struct chain {
	struct tp_findings *f;
	struct tp_verdict *v;
	const struct tp_config *cfg;
	const struct tp_chain_in *in;
	const struct tp_cert_info *info; /* the facts of certs[] */
	gnutls_x509_crt_t *certs;
	size_t n;
	size_t path[TP_MAX_CERTS]; /* indexes into certs: leaf, its issuer, ... */
	size_t len;
	bool bad_link;            /* a certificate in path is named but not signed by the next */
	bool anchored;            /* the path ends where the trust store vouches for it: */
	gnutls_x509_crt_t anchor; /* the trusted issuer above it, or NULL when the path ends with it */
	bool anchor_owned;        /* anchor is a copy, to be freed */
	time_t now;               /* validity is judged at this time */
};

/* Who handed over the chain, for messages: a server, or a file (ca check, cert). */
static bool
from_file(const struct chain *c)
{
	return c->in->from_file;
}

static const char *
subj(const struct chain *c, size_t i)
{
	return c->info[i].subject;
}

/*
 * Whether certificate j's subject is the issuer name in certificate i. As
 * GnuTLS (and OpenSSL) compare names: the same bytes, or the same text when
 * only the string types differ (UTF8String and PrintableString, say).
 */
static bool
names_issuer(const struct chain *c, size_t i, size_t j)
{
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	bool same = false;

	if (gnutls_x509_crt_get_raw_issuer_dn(c->certs[i], &a) == 0 && gnutls_x509_crt_get_raw_dn(c->certs[j], &b) == 0)
		same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	return same || strcmp(c->info[i].issuer, c->info[j].subject) == 0;
}

static void
release_anchor(struct chain *c)
{
	if (c->anchor && c->anchor_owned)
		gnutls_x509_crt_deinit(c->anchor);
	c->anchor = NULL;
	c->anchor_owned = false;
}

/*
 * Follow issuers through what the server sent: leaf, then the certificate
 * whose subject is the leaf's issuer, and so on, until a self-signed one, a
 * gap, or a certificate whose issuer the trust store holds: there GnuTLS,
 * OpenSSL and browsers stop too. The trusted certificate itself, when the
 * server sent it too (a root, or an intermediate the store trusts), ends
 * the path; anything the server sent beyond it (a cross-signed copy of the
 * root, perhaps expired) is not on the path. Among several of the right
 * name the one whose key verifies the signature wins; when none does, the
 * link is still made, so that a wrong certificate under the right name (an
 * old intermediate after a re-key) is reported as such and not as a
 * missing one.
 */
static void
build_path(struct chain *c, bool verified)
{
	bool used[TP_MAX_CERTS] = {false};
	size_t n = c->n < TP_MAX_CERTS ? c->n : TP_MAX_CERTS;

	c->path[0] = 0;
	c->len = 1;
	used[0] = true;
	for (;;) {
		size_t cur = c->path[c->len - 1], named = n, signer = n, candidates = 0;
		if (c->info[cur].self_signed)
			break;
		c->anchor = tp_trust_issuer(c->cfg->trust, c->certs[cur], !verified, &c->anchor_owned);
		if (c->anchor) {
			c->anchored = true;
			for (size_t j = 0; j < n; j++)
				if (!used[j] && gnutls_x509_crt_equals(c->anchor, c->certs[j])) {
					c->path[c->len++] = j;
					release_anchor(c);
					break;
				}
			break;
		}
		if (c->len == n)
			break;
		for (size_t j = 0; j < n; j++) {
			if (used[j] || !names_issuer(c, cur, j))
				continue;
			if (named == n)
				named = j;
			candidates++;
		}
		if (named == n)
			break;
		/* A chain GnuTLS verified has its signatures checked already:
		 * only several certificates of one name need telling apart. */
		if (verified && candidates == 1)
			signer = named;
		for (size_t j = named; j < n && signer == n; j++)
			if (!used[j] && names_issuer(c, cur, j) && tp_chain_signed_by(c->certs[cur], c->certs[j]))
				signer = j;
		if (signer == n)
			c->bad_link = true;
		else
			named = signer;
		used[named] = true;
		c->path[c->len++] = named;
	}
}

/* Whether certificate i is one the user gave with --ca-file. */
static bool
user_holds(const struct chain *c, size_t i)
{
	struct tp_trust *t = c->cfg->trust;

	for (size_t k = 0; k < tp_trust_user_count(t); k++)
		if (gnutls_x509_crt_equals(tp_trust_user_cert(t, k), c->certs[i]))
			return true;
	return false;
}

/* " (the --ca-file holds 'A' and 'B', not it)", or "" without --ca-file. */
static void
describe_user_cas(const struct chain *c, char *buf, size_t len)
{
	struct tp_trust *t = c->cfg->trust;
	size_t n = tp_trust_user_count(t), used;

	*buf = '\0';
	if (!n)
		return;
	used = (size_t)snprintf(buf, len, " (the --ca-file holds ");
	for (size_t i = 0; i < n && i < 3 && used < len; i++) {
		char *cn = tp_chain_cn(tp_trust_user_cert(t, i));
		used += (size_t)snprintf(buf + used, len - used, "%s'%s'",
					 i == 0       ? ""
					 : i + 1 == n ? " and "
						      : ", ",
					 cn ? cn : "?");
		free(cn);
	}
	if (n > 3 && used < len)
		used += (size_t)snprintf(buf + used, len - used, " and %zu more", n - 3);
	if (used < len)
		snprintf(buf + used, len - used, ", not it)");
}

static void
explain_unknown_issuer(struct chain *c)
{
	struct tp_findings *f = c->f;
	size_t top = c->path[c->len - 1];
	const struct tp_cert_info *ci = &c->info[top];
	char *issuer_cn = tp_short_name(ci->issuer), *top_cn = tp_short_name(ci->subject);
	char from_files[400];
	gnutls_datum_t dn;
	enum tp_trust_source src = TP_TRUST_NONE;
	struct tp_problem *p = NULL;

	describe_user_cas(c, from_files, sizeof(from_files));

	if (ci->self_signed) {
		if (top == 0) {
			p = tp_find(f, TP_SELF_SIGNED, 0,
				    "%s a self-signed certificate for '%s'; no trusted CA vouches for it%s",
				    from_file(c) ? "the file holds" : "the server sent", top_cn, from_files);
			tp_problem_rule(p, TP_RULE_SELF_SIGNED);
		} else {
			enum tp_trust_source same = TP_TRUST_NONE;
			if (gnutls_x509_crt_get_raw_dn(c->certs[top], &dn) == 0) {
				same = tp_trust_has_subject(c->cfg->trust, &dn);
				gnutls_free(dn.data);
			}
			if (same != TP_TRUST_NONE)
				p = tp_find(
					f, TP_UNTRUSTED_ROOT, (int)top,
					"the chain ends at the root CA '%s' (%s, SHA-256 %s); %s holds a CA of that "
					"name, but not this one (same name, different key)",
					top_cn, from_file(c) ? "in the file" : "sent by the server", ci->sha256,
					same == TP_TRUST_USER ? "the --ca-file" : "the system trust store");
			else
				p = tp_find(f, TP_UNTRUSTED_ROOT, (int)top,
					    "the chain ends at the root CA '%s' (%s, SHA-256 %s), which is not in the "
					    "trust store%s",
					    top_cn, from_file(c) ? "in the file" : "sent by the server", ci->sha256,
					    from_files);
			tp_problem_rule(p, TP_RULE_ROOT_UNTRUSTED);
		}
		goto out;
	}

	if (gnutls_x509_crt_get_raw_issuer_dn(c->certs[top], &dn) == 0) {
		src = tp_trust_has_subject(c->cfg->trust, &dn);
		gnutls_free(dn.data);
	}
	if (src != TP_TRUST_NONE) {
		p = tp_find(f, TP_UNTRUSTED_ROOT, (int)top,
			    "'%s' was issued by '%s'; %s holds a CA certificate of that name, but not the one "
			    "that signed it (same name, different key)",
			    top_cn, issuer_cn, src == TP_TRUST_USER ? "the --ca-file" : "the system trust store");
		tp_problem_set_fix(p,
				   "Find the '%s' certificate that really issued this chain (its key must match "
				   "the chain's authority key identifier) and trust that one; the one trusted "
				   "now is another CA, or an old one replaced by a re-key.",
				   issuer_cn);
	} else if (ci->is_ca && user_holds(c, top)) {
		p = tp_find(f, TP_UNTRUSTED_ROOT, (int)top,
			    "the --ca-file holds '%s' itself, an intermediate CA (%s as #%zu), not the root "
			    "CA '%s' above it, and the chain does not verify without that root",
			    top_cn, from_file(c) ? "the file has it" : "the server sends it", top, issuer_cn);
		tp_problem_set_fix(p,
				   "Give the client the root CA '%s' instead (tlsprobe --ca-file root.pem, "
				   "curl --cacert root.pem), not the intermediate.",
				   issuer_cn);
	} else if (ci->is_ca) {
		p = tp_find(f, TP_UNTRUSTED_ROOT, (int)top,
			    "the chain ends at the CA '%s', issued by '%s', which is not in the trust store%s; "
			    "'%s' is a private or unknown root, or one more intermediate the server should send",
			    top_cn, issuer_cn, from_files, issuer_cn);
		tp_problem_set_fix(p,
				   "If '%s' is an intermediate, the server must send it after '%s'. If it is your "
				   "own root CA, trust it on the client: give it the root's certificate (root.pem "
				   "from 'tlsprobe ca init'): tlsprobe --ca-file root.pem.",
				   issuer_cn, top_cn);
		tp_problem_rule(p, TP_RULE_UNTRUSTED_CA);
		goto out;
	} else {
		char aia[600] = "";
		if (ci->n_ca_issuers)
			snprintf(aia, sizeof(aia), " The certificate says its issuer can be downloaded from %s.",
				 ci->ca_issuers[0]);
		if (c->n == 1)
			p = tp_find(f, TP_MISSING_INTERMEDIATE, (int)top,
				    "%s only the leaf certificate; its issuer '%s' is missing from the chain and "
				    "is not in the trust store%s",
				    from_file(c) ? "the file holds" : "the server sent", issuer_cn, from_files);
		else
			p = tp_find(f, TP_MISSING_INTERMEDIATE, (int)top,
				    "%s %zu certificates but not '%s', the issuer of '%s'; it is not in the trust "
				    "store either%s",
				    from_file(c) ? "the file holds" : "the server sent", c->n, issuer_cn, top_cn,
				    from_files);
		if (p)
			tp_problem_set_fix(p,
					   "%s%s If '%s' is instead a root CA of your own, trust it on the "
					   "client: tlsprobe --ca-file root.pem, curl --cacert root.pem.",
					   tp_reason_get(TP_MISSING_INTERMEDIATE)->fix, aia, issuer_cn);
	}
	/* Chrome fetches an issuer from the URL the certificate names. */
	tp_problem_rule(p, ci->n_ca_issuers ? TP_RULE_NO_ISSUER_AIA : TP_RULE_NO_ISSUER);
out:
	free(issuer_cn);
	free(top_cn);
}

/* Whether crt names its issuer's key and issuer names its own. */
static bool
has_key_ids(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
	unsigned char id[64];
	size_t size = sizeof(id);

	if (gnutls_x509_crt_get_authority_key_id(crt, id, &size, NULL) < 0)
		return false;
	size = sizeof(id);
	return gnutls_x509_crt_get_subject_key_id(issuer, id, &size, NULL) >= 0;
}

static void
explain_bad_signature(struct chain *c)
{
	for (size_t k = 0; k + 1 < c->len; k++) {
		size_t i = c->path[k], j = c->path[k + 1];
		if (tp_chain_signed_by(c->certs[i], c->certs[j]))
			continue;
		char *a = tp_short_name(subj(c, i)), *b = tp_short_name(subj(c, j));
		struct tp_problem *p;
		/* Key identifiers that match say it is the right issuer: the signature itself is bad. */
		if (tp_chain_key_ids_match(c->certs[i], c->certs[j]) && has_key_ids(c->certs[i], c->certs[j])) {
			p = tp_find(c->f, TP_SIGNATURE_FAILURE, (int)i,
				    "the signature of '%s' does not verify with the key of '%s' (#%zu), though its "
				    "authority key identifier names that key: the certificate was altered or "
				    "damaged",
				    a, b, j);
			tp_problem_rule(p, TP_RULE_BAD_SIGNATURE);
			tp_problem_set_fix(p, "Install the certificate as the CA issued it (download it again from "
					      "the CA): a certificate whose bytes changed no longer verifies.");
			free(a);
			free(b);
			continue;
		}
		p = tp_find(c->f, TP_SIGNATURE_FAILURE, (int)i,
			    "'%s' names '%s' as its issuer, but its signature does not verify with the key of the '%s' "
			    "certificate %s (#%zu): same name, different key",
			    a, b, b, from_file(c) ? "in the file" : "the server sent", j);
		tp_problem_rule(p, TP_RULE_OTHER_KEY_SENT);
		tp_problem_set_fix(p,
				   "The server sends the wrong '%s' certificate, perhaps an old one from before "
				   "the CA changed keys: install the intermediate your CA issued with this "
				   "certificate (the chain file that came with it).",
				   b);
		free(a);
		free(b);
	}
}

/* Why issuer cannot sign certificates (and the rule in *rule), or NULL when it can. */
static const char *
not_a_ca(gnutls_x509_crt_t issuer, const struct tp_cert_info *ci, enum tp_rule *rule)
{
	unsigned usage = 0, critical = 0;

	*rule = TP_RULE_NOT_CA;
	/* An X.509 v1 root predates basicConstraints; GnuTLS accepts it as a trusted anchor. */
	if (!ci->is_ca && gnutls_x509_crt_get_version(issuer) == 1 && ci->self_signed)
		return NULL;
	if (!ci->is_ca && gnutls_x509_crt_get_version(issuer) == 1)
		return "it is an X.509 version 1 certificate, which has no extensions and so cannot say it is a "
		       "CA (only a trusted root may be version 1)";
	if (!ci->is_ca)
		return "it is not a CA certificate (no basicConstraints CA:TRUE)";
	*rule = TP_RULE_NO_CERT_SIGN;
	if (gnutls_x509_crt_get_key_usage(issuer, &usage, &critical) >= 0 && !(usage & GNUTLS_KEY_KEY_CERT_SIGN))
		return "its keyUsage does not allow signing certificates (no keyCertSign)";
	return NULL;
}

/* Every issuer in the path must be a CA allowed to sign; returns how many are not. */
static size_t
check_issuers(struct chain *c)
{
	size_t found = 0;

	for (size_t k = 0; k + 1 < c->len; k++) {
		size_t i = c->path[k], j = c->path[k + 1];
		enum tp_rule rule;
		const char *why = not_a_ca(c->certs[j], &c->info[j], &rule);
		if (!why)
			continue;
		char *a = tp_short_name(subj(c, i)), *b = tp_short_name(subj(c, j));
		tp_problem_rule(tp_find(c->f, TP_ISSUER_NOT_CA, (int)j, "'%s' was signed by '%s', but %s", a, b, why),
				rule);
		free(a);
		free(b);
		found++;
	}
	return found;
}

static bool
weak_hash(gnutls_x509_crt_t crt, const char **name)
{
	int sig = gnutls_x509_crt_get_signature_algorithm(crt);
	gnutls_digest_algorithm_t h = gnutls_sign_get_hash_algorithm((gnutls_sign_algorithm_t)sig);

	*name = gnutls_digest_get_name(h);
	return h == GNUTLS_DIG_SHA1 || h == GNUTLS_DIG_MD5 || h == GNUTLS_DIG_MD2;
}

/* SHA-1 and MD5 signatures, whether or not GnuTLS refused them. Returns how many. */
static size_t
check_signature_algorithms(struct chain *c)
{
	size_t found = 0;
	const char *h;

	for (size_t k = 0; k < c->len; k++) {
		size_t i = c->path[k];
		/* A root's signature on itself is never checked by anyone. */
		if (c->info[i].self_signed || !weak_hash(c->certs[i], &h))
			continue;
		char *a = tp_short_name(subj(c, i));
		struct tp_problem *p = tp_find(c->f, TP_INSECURE_ALGORITHM, (int)i,
					       "'%s' is signed with %s (%s), which current clients refuse as forgeable",
					       a, h ? h : "a broken hash", c->info[i].sig_alg);
		tp_problem_rule(p, h && strcmp(h, "SHA1") == 0 ? TP_RULE_SHA1 : TP_RULE_MD5);
		free(a);
		found++;
	}
	return found;
}

/* RSA and DSA keys under 2048 bits, EC keys under 256. Returns how many. */
static size_t
check_key_sizes(struct chain *c, bool refused)
{
	size_t found = 0;

	for (size_t k = 0; k < c->len; k++) {
		size_t i = c->path[k];
		const struct tp_cert_info *ci = &c->info[i];
		bool rsa_like = strcmp(ci->key_type, "RSA") == 0 || strcmp(ci->key_type, "RSA-PSS") == 0 ||
				strcmp(ci->key_type, "DSA") == 0;
		unsigned min = rsa_like ? 2048 : strcmp(ci->key_type, "ECDSA") == 0 ? 256 : 0;
		if (!min || ci->key_bits >= min)
			continue;
		char *a = tp_short_name(ci->subject);
		struct tp_problem *p = tp_find(
			c->f, TP_WEAK_KEY, (int)i,
			"'%s' has a %u-bit %s key, below the %u bits CAs must use; stricter clients refuse it%s", a,
			ci->key_bits, ci->key_type, min, refused ? ", and GnuTLS refuses this chain for it" : "");
		if (refused)
			tp_problem_grade(p, TP_GRADE_REFUSED);
		if (min == 256)
			tp_problem_rule(p, ci->key_bits < 224 ? TP_RULE_EC_WEAK : TP_RULE_NONE);
		else
			tp_problem_rule(p, ci->key_bits < 1024 ? TP_RULE_KEY_TINY
					   : i == 0            ? TP_RULE_RSA_EE_WEAK
							       : TP_RULE_RSA_CA_WEAK);
		free(a);
		found++;
	}
	return found;
}

/*
 * The CAs that bind the path: step k of it (1 <= k < len), and at k == len
 * the trusted root above it, when the path does not end with that root.
 */
static gnutls_x509_crt_t
path_ca(const struct chain *c, size_t k)
{
	return k < c->len ? c->certs[c->path[k]] : c->anchor;
}

/* Its cert_index for a problem: the trusted root above the path has none. */
static int
path_ca_index(const struct chain *c, size_t k)
{
	return k < c->len ? (int)c->path[k] : -1;
}

/* "'Name'", or "the trusted root 'Name'" above the path; free it. */
static char *
path_ca_name(const struct chain *c, size_t k)
{
	char *cn = k < c->len ? tp_short_name(subj(c, c->path[k])) : tp_chain_cn(c->anchor);
	char *s = tp_strdupf("%s'%s'", k < c->len ? "" : "the trusted root ", cn ? cn : "?");

	free(cn);
	return s;
}

/*
 * A CA's pathlen limits how many CAs may stand below it (the leaf aside).
 * Self-issued ones (issuer and subject the same name: a re-key, a cross
 * certificate between two keys of one CA) do not count: RFC 5280 6.1.4 (l).
 * GnuTLS counts them all, and flags SIGNER_CONSTRAINTS_FAILURE when only
 * they put the chain over a pathlen: that refusal is GnuTLS's, said so.
 */
static size_t
check_path_lengths(struct chain *c, unsigned status)
{
	size_t found = 0;

	for (size_t k = 2; k <= c->len; k++) {
		gnutls_x509_crt_t ca = path_ca(c, k);
		unsigned critical = 0, is_ca = 0;
		int pathlen = -1;
		size_t below = 0, self_issued = 0, first = 0;
		/* Only real CAs count; a non-CA signer is issuer-not-ca's business. */
		for (size_t m = 1; m < k; m++) {
			size_t i = c->path[m];
			if (!c->info[i].is_ca)
				continue;
			if (!names_issuer(c, i, i))
				below++;
			else if (!self_issued++)
				first = i;
		}
		if (!ca || gnutls_x509_crt_get_basic_constraints(ca, &critical, &is_ca, &pathlen) < 0 || !is_ca ||
		    pathlen < 0)
			continue;
		char *a = path_ca_name(c, k);
		if ((int)below > pathlen) {
			tp_problem_rule(tp_find(c->f, TP_PATHLEN_EXCEEDED, path_ca_index(c, k),
						"%s allows %d CA%s below it (pathlen:%d), but the chain has %zu",
						a ? a : "?", pathlen, pathlen == 1 ? "" : "s", pathlen, below),
					TP_RULE_PATHLEN);
			found++;
		} else if ((status & GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE) && (int)(below + self_issued) > pathlen) {
			char *x = tp_short_name(subj(c, first));
			struct tp_problem *p = tp_find(
				c->f, TP_PATHLEN_EXCEEDED, path_ca_index(c, k),
				"GnuTLS counts the self-issued certificate #%zu '%s'%s against the pathlen of %s "
				"(pathlen:%d), which RFC 5280 6.1.4 does not; OpenSSL accepts the chain",
				first, x ? x : "?", self_issued > 1 ? " and the other self-issued ones" : "",
				a ? a : "?", pathlen);
			tp_problem_rule(p, TP_RULE_PATHLEN_SELF_ISSUED);
			tp_problem_set_fix(p,
					   "The chain is valid by RFC 5280, but GnuTLS clients refuse it: for them, "
					   "issue the certificate under a key whose path holds no self-issued "
					   "certificate, or reissue %s with a larger pathlen (or none).",
					   a ? a : "that CA");
			free(x);
			found++;
		}
		free(a);
	}
	return found;
}

/* Append a name (a SAN of this type, raw) to a list for a message; false,
 * and nothing appended, when it does not fit whole. */
static bool
append_name(char *buf, size_t len, size_t *used, unsigned type, const char *data, size_t size)
{
	char text[INET6_ADDRSTRLEN] = "?", *clean = NULL;
	int n;

	if (*used >= len)
		return false;
	if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16))
		inet_ntop(size == 4 ? AF_INET : AF_INET6, data, text, sizeof(text));
	else
		clean = tp_utf8_clean(data, size);
	n = snprintf(buf + *used, len - *used, "%s'%s'", *used ? ", " : "", clean ? clean : text);
	free(clean);
	if (n < 0 || (size_t)n >= len - *used) {
		buf[*used] = '\0';
		return false;
	}
	*used += (size_t)n;
	return true;
}

/* "permits 'a', 'b'; excludes 'c'" for a message (DNS and e-mail subtrees). */
static void
describe_constraints(gnutls_x509_name_constraints_t nc, char *buf, size_t len)
{
	size_t used = 0;

	*buf = '\0';
	for (int excluded = 0; excluded < 2 && used < len; excluded++) {
		char list[300] = "";
		size_t listed = 0;
		for (unsigned i = 0;; i++) {
			unsigned type = 0;
			gnutls_datum_t name = {NULL, 0};
			int ret = excluded ? gnutls_x509_name_constraints_get_excluded(nc, i, &type, &name)
					   : gnutls_x509_name_constraints_get_permitted(nc, i, &type, &name);
			if (ret < 0)
				break;
			/* addresses are address/mask pairs: left out of the words */
			if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_RFC822NAME)
				append_name(list, sizeof(list), &listed, type, (const char *)name.data, name.size);
		}
		if (listed)
			used += (size_t)snprintf(buf + used, len - used, "%s%s %s", used ? "; " : "",
						 excluded ? "excludes" : "permits", list);
	}
}

/*
 * A CA's nameConstraints bind every certificate below it: each name of the
 * leaf (its DNS names, addresses and e-mail addresses, or its CN when it
 * has no SAN) must lie inside them. Checks the CAs on the path and the
 * trusted root above it; returns how many CAs the leaf violates.
 */
static size_t
check_name_constraints(struct chain *c)
{
	size_t found = 0;

	for (size_t k = 1; k <= c->len; k++) {
		gnutls_x509_crt_t ca = path_ca(c, k);
		gnutls_x509_name_constraints_t nc;
		char names[600] = "";
		size_t used = 0, more = 0;
		unsigned sans = 0;

		if (!ca || gnutls_x509_name_constraints_init(&nc) < 0)
			continue;
		if (gnutls_x509_crt_get_name_constraints(ca, nc, 0, NULL) < 0) {
			gnutls_x509_name_constraints_deinit(nc);
			continue;
		}
		for (unsigned i = 0;; i++) {
			char buf[1024];
			size_t size = sizeof(buf);
			unsigned type = 0;
			int ret = gnutls_x509_crt_get_subject_alt_name2(c->certs[0], i, buf, &size, &type, NULL);
			if (ret < 0 && ret != GNUTLS_E_SHORT_MEMORY_BUFFER)
				break; /* the end, or a SAN extension that cannot be read */
			if (ret < 0 || (type != GNUTLS_SAN_DNSNAME && type != GNUTLS_SAN_IPADDRESS &&
					type != GNUTLS_SAN_RFC822NAME))
				continue;
			sans++;
			gnutls_datum_t name = {(unsigned char *)buf, (unsigned)size};
			if (!gnutls_x509_name_constraints_check(nc, (gnutls_x509_subject_alt_name_t)type, &name) &&
			    !append_name(names, sizeof(names), &used, type, buf, size))
				more++;
		}
		if (!sans && !gnutls_x509_name_constraints_check_crt(nc, GNUTLS_SAN_DNSNAME, c->certs[0])) {
			char *cn = tp_short_name(c->info[0].subject);
			used += (size_t)snprintf(names, sizeof(names), "'%s' (its CN; it has no subjectAltName)",
						 cn ? cn : "?");
			free(cn);
		}
		if (!used && !more) {
			gnutls_x509_name_constraints_deinit(nc);
			continue;
		}
		char rest[40] = "";
		if (more)
			snprintf(rest, sizeof(rest), " and %zu more", more);
		char rules[400];
		describe_constraints(nc, rules, sizeof(rules));
		gnutls_x509_name_constraints_deinit(nc);
		char *a = path_ca_name(c, k);
		/* The trust anchor's own constraints: some clients do not apply them. */
		bool anchor = k == c->len || (k + 1 == c->len && c->anchored && !c->anchor);
		struct tp_problem *p =
			tp_find(c->f, TP_NAME_CONSTRAINTS, path_ca_index(c, k),
				"%s%s may only certify names inside its nameConstraints%s%s%s, and the server's "
				"certificate (#0) has names outside them: %s%s",
				k < c->len ? "the CA " : "", a ? a : "?", *rules ? " (it " : "", rules,
				*rules ? ")" : "", names, rest);
		tp_problem_rule(p, anchor ? TP_RULE_ANCHOR_NAME_CONSTRAINTS : TP_RULE_NAME_CONSTRAINTS);
		free(a);
		found++;
	}
	return found;
}

/*
 * A certificate's authority key id should be its issuer's subject key id.
 * refused: GnuTLS refused the chain for it (it, like OpenSSL, then does not
 * take the certificate whose key signed it for its issuer). Returns how
 * many links of the path have a mismatch.
 */
static size_t
check_key_ids(struct chain *c, bool refused)
{
	size_t found = 0;

	for (size_t k = 0; k + 1 < c->len; k++) {
		size_t i = c->path[k], j = c->path[k + 1];
		if (tp_chain_key_ids_match(c->certs[i], c->certs[j]))
			continue;
		char *a = tp_short_name(subj(c, i)), *b = tp_short_name(subj(c, j));
		struct tp_problem *p = tp_find(
			c->f, TP_KEY_ID_MISMATCH, (int)i,
			"'%s' names its issuer's key by an identifier that is not the subjectKeyIdentifier of "
			"'%s', the certificate it links to%s",
			a, b,
			refused ? ", though that certificate's key did sign it: GnuTLS and OpenSSL look the issuer "
				  "up by that identifier, do not find it, and refuse the chain"
				: "");
		if (refused) {
			tp_problem_rule(p, TP_RULE_KEY_ID_MISMATCH);
			tp_problem_set_fix(p,
					   "Reissue '%s' from '%s' with a correct authorityKeyIdentifier (the "
					   "issuer's subjectKeyIdentifier): a CA that writes the wrong one is "
					   "misconfigured; or, if another '%s' with that key identifier exists, "
					   "serve that one.",
					   a, b, b);
		}
		free(a);
		free(b);
		found++;
	}
	return found;
}

/* Extensions every client of the model handles when critical (RFC 5280 4.2). */
static const char *const handled[] = {
	"2.5.29.15", "2.5.29.17", "2.5.29.19", "2.5.29.30", "2.5.29.32",
	"2.5.29.33", "2.5.29.36", "2.5.29.37", "2.5.29.54",
};

/* A certificate's extensions marked critical: unknown ones, and key identifiers. Returns how many unknown. */
static size_t
check_critical_extensions(struct chain *c, gnutls_x509_crt_t crt, int index, const char *who)
{
	size_t unknown = 0;

	for (unsigned i = 0;; i++) {
		char oid[128];
		size_t size = sizeof(oid);
		unsigned critical = 0;
		bool known = false;
		int ret = gnutls_x509_crt_get_extension_info(crt, i, oid, &size, &critical);
		if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;
		if (ret < 0)
			break;
		if (!critical)
			continue;
		if (strcmp(oid, "2.5.29.14") == 0 || strcmp(oid, "2.5.29.35") == 0) {
			struct tp_problem *p =
				tp_find(c->f, TP_PROFILE_VIOLATION, index,
					"%s marks its %s critical, which RFC 5280 4.2.1.%s forbids; clients that do "
					"not process it as a critical extension refuse the certificate",
					who, oid[8] == '4' ? "subjectKeyIdentifier" : "authorityKeyIdentifier",
					oid[8] == '4' ? "2" : "1");
			tp_problem_rule(p, TP_RULE_CRITICAL_KEY_ID);
			continue;
		}
		for (size_t k = 0; k < sizeof(handled) / sizeof(handled[0]); k++)
			known = known || strcmp(oid, handled[k]) == 0;
		if (known)
			continue;
		tp_problem_rule(tp_find(c->f, TP_UNKNOWN_CRITICAL_EXTENSION, index,
					"%s has an extension marked critical that clients do not know (OID %s): "
					"RFC 5280 4.2 makes them refuse the certificate",
					who, oid),
				TP_RULE_UNKNOWN_CRITICAL);
		unknown++;
	}
	return unknown;
}

/* Whether crt's subject is an empty name (a SEQUENCE of no RDNs). */
static bool
empty_subject(gnutls_x509_crt_t crt)
{
	gnutls_datum_t dn = {NULL, 0};
	bool empty = gnutls_x509_crt_get_raw_dn(crt, &dn) == 0 && dn.size == 2;

	gnutls_free(dn.data);
	return empty;
}

/* The leaf's extendedKeyUsage holds anyExtendedKeyUsage and not the purpose checked. */
static bool
any_eku_only(gnutls_x509_crt_t crt, const char *purpose)
{
	bool any = false, wanted = false;

	for (unsigned i = 0;; i++) {
		char oid[128];
		size_t size = sizeof(oid);
		if (gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, NULL) < 0)
			break;
		any = any || strcmp(oid, "2.5.29.37.0") == 0;
		wanted = wanted || strcmp(oid, purpose) == 0;
	}
	return any && !wanted;
}

/*
 * What RFC 5280 and the CA/Browser Forum's profile ask of each certificate
 * on the path and of the trust anchor, beyond what GnuTLS checks: the
 * clients of the model differ on them, and the rules say which refuse.
 * Returns how many unknown critical extensions there are.
 */
static size_t
check_profile(struct chain *c)
{
	size_t unknown = 0;
	const char *purpose = c->cfg->client_purpose ? GNUTLS_KP_TLS_WWW_CLIENT : GNUTLS_KP_TLS_WWW_SERVER;

	for (size_t k = 0; k <= c->len; k++) {
		gnutls_x509_crt_t crt = k == 0 ? c->certs[0] : path_ca(c, k);
		int index = k == 0 ? 0 : path_ca_index(c, k);
		unsigned critical = 0, ca = 0, san_critical = 0;
		int pathlen = -1;
		char san[8];
		size_t san_size = sizeof(san);
		if (!crt)
			continue;
		char *who =
			k == 0 ? tp_strdupf("the %s certificate '%s'", from_file(c) ? "leaf" : "server's", subj(c, 0))
			       : path_ca_name(c, k);
		unknown += check_critical_extensions(c, crt, index, who ? who : "a certificate");
		if (gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, &pathlen) >= 0 && ca && !critical &&
		    k > 0)
			tp_problem_rule(tp_find(c->f, TP_PROFILE_VIOLATION, index,
						"%s is a CA whose basicConstraints is not marked critical, as RFC "
						"5280 4.2.1.9 requires of a CA",
						who ? who : "?"),
					TP_RULE_BC_NOT_CRITICAL);
		if (empty_subject(crt) &&
		    gnutls_x509_crt_get_subject_alt_name(crt, 0, san, &san_size, &san_critical) !=
			    GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE &&
		    !san_critical)
			tp_problem_rule(tp_find(c->f, TP_PROFILE_VIOLATION, index,
						"%s has an empty subject and its subjectAltName is not marked "
						"critical, as RFC 5280 4.2.1.6 requires then",
						k == 0 ? "the server's certificate"
						: who  ? who
						       : "?"),
					TP_RULE_EMPTY_SUBJECT_SAN);
		free(who);
	}
	if (any_eku_only(c->certs[0], purpose))
		tp_problem_rule(tp_find(c->f, TP_PURPOSE_MISMATCH, 0,
					"the certificate's extendedKeyUsage names anyExtendedKeyUsage but not %s: "
					"OpenSSL and NSS do not take the one for the other",
					c->cfg->client_purpose ? "clientAuth" : "serverAuth"),
				TP_RULE_ANY_EKU_ONLY);
	if (c->info[0].is_ca && !c->info[0].self_signed)
		tp_problem_rule(tp_find(c->f, TP_PROFILE_VIOLATION, 0,
					"the %s certificate is a CA certificate (basicConstraints CA:TRUE); the CA/"
					"Browser Forum's profile forbids that, and NSS refuses it",
					c->cfg->client_purpose ? "client" : "server's"),
				TP_RULE_LEAF_IS_CA);
	/* Serial numbers: RFC 5280 4.1.2.2 (none of the default clients refuses them). */
	for (size_t k = 0; k < c->len; k++) {
		size_t i = c->path[k];
		unsigned char serial[64];
		size_t size = sizeof(serial), zero = 0;
		const char *why = NULL;
		int ret = gnutls_x509_crt_get_serial(c->certs[i], serial, &size);
		if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER || (ret == 0 && size > 20))
			why = "is longer than the 20 octets RFC 5280 allows";
		else if (ret < 0)
			continue;
		for (size_t b = 0; !why && b < size; b++)
			zero += serial[b] == 0;
		if (!why && size && (serial[0] & 0x80))
			why = "is negative, which RFC 5280 forbids";
		else if (!why && zero == size)
			why = "is 0, which RFC 5280 forbids";
		if (!why)
			continue;
		char *cn = tp_short_name(subj(c, i));
		tp_problem_rule(
			tp_find(c->f, TP_PROFILE_VIOLATION, (int)i, "the serial number of '%s' %s", cn ? cn : "?", why),
			TP_RULE_SERIAL);
		free(cn);
	}
	/* Key identifiers: RFC 5280 4.2.1.1 and 4.2.1.2 (none of the clients refuses their absence). */
	for (size_t k = 0; k < c->len; k++) {
		size_t i = c->path[k];
		unsigned char id[64];
		size_t size = sizeof(id);
		const char *missing = NULL;
		/* A version 1 certificate has no extensions to hold them. */
		if (gnutls_x509_crt_get_version(c->certs[i]) < 3)
			continue;
		if (!c->info[i].self_signed && gnutls_x509_crt_get_authority_key_id(c->certs[i], id, &size, NULL) ==
						       GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			missing = "authorityKeyIdentifier";
		size = sizeof(id);
		if (!missing && c->info[i].is_ca &&
		    gnutls_x509_crt_get_subject_key_id(c->certs[i], id, &size, NULL) ==
			    GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			missing = "subjectKeyIdentifier";
		if (!missing)
			continue;
		char *cn = tp_short_name(subj(c, i));
		tp_problem_rule(tp_find(c->f, TP_PROFILE_VIOLATION, (int)i,
					"'%s' has no %s, which RFC 5280 requires of a CA's certificates; none "
					"of the default clients refuses it, but strict verifiers (OpenSSL's "
					"X509_STRICT in its newer releases) do",
					cn ? cn : "?", missing),
				TP_RULE_MISSING_KEY_ID);
		free(cn);
	}
	return unknown;
}

/* A certificate that outlives its issuer stops working when the issuer expires. */
static void
check_lifetimes(struct chain *c)
{
	char date[40];

	for (size_t k = 0; k + 1 < c->len; k++) {
		size_t i = c->path[k], j = c->path[k + 1];
		if (c->info[i].not_after <= c->info[j].not_after)
			continue;
		char *a = tp_short_name(subj(c, i)), *b = tp_short_name(subj(c, j));
		tp_format_date(c->info[j].not_after, date, sizeof(date));
		tp_find(c->f, TP_OUTLIVES_ISSUER, (int)i, "'%s' is valid after its issuer '%s' expires on %s", a, b,
			date);
		free(a);
		free(b);
	}
}

/*
 * A certificate the server sent that is not on the path. Above the point
 * where the trust store vouches for the chain, a certificate for the next
 * name up is harmless while valid (a cross-signed copy of a root for
 * clients that lack it, or the root above a trusted intermediate), and a
 * trap for the clients that need it once expired (the old Let's Encrypt
 * chain). A root of the trusted root's name that is not the trusted one is
 * at best ignored.
 */
static void
explain_extra(struct chain *c, size_t i, const bool *in_path)
{
	size_t n = c->n < TP_MAX_CERTS ? c->n : TP_MAX_CERTS, top = c->path[c->len - 1], twin = n;
	const struct tp_cert_info *ci = &c->info[i];
	char *cn = tp_short_name(ci->subject);

	if (c->anchored && names_issuer(c, top, i)) {
		char *by = tp_short_name(ci->issuer), *above = tp_short_name(subj(c, top)), date[40];
		const char *what = c->anchor ? "a cross-signed copy of a root this trust store holds"
					     : "the issuer of a certificate this trust store holds";
		struct tp_problem *p = NULL;
		if (c->anchor && ci->self_signed) {
			bool same_key = tp_chain_signed_by(c->certs[top], c->certs[i]);
			p = tp_find(c->f, TP_CHAIN_ORDER, (int)i,
				    "certificate #%zu is a root CA named '%s' but not the '%s' in the trust store%s: "
				    "clients use the one they trust, so it is not needed",
				    i, cn, cn,
				    same_key ? " (another certificate for the same key)"
					     : ", and not the key that signed the chain");
			tp_problem_set_fix(p,
					   "Drop certificate #%zu from the server's chain file: a root never "
					   "needs to be sent.",
					   i);
		} else if (c->now > ci->not_after || c->now < ci->not_before) {
			bool expired = c->now > ci->not_after;
			tp_format_date(expired ? ci->not_after : ci->not_before, date, sizeof(date));
			p = tp_find(
				c->f, TP_CHAIN_ORDER, (int)i,
				"certificate #%zu '%s', issued by '%s', is %s, so it is not needed here; but it %s %s, "
				"and clients that do not trust '%s' build their path through it and fail",
				i, cn, by, what, expired ? "expired on" : "is not valid before", date,
				c->anchor ? cn : above);
			tp_problem_set_fix(p,
					   "Drop certificate #%zu from the server's chain file, or replace it with a "
					   "current one; a cross-signature is worth sending only while it is valid.",
					   i);
		}
		free(by);
		free(above);
		free(cn);
		return;
	}
	for (size_t j = 0; j < n && twin == n; j++)
		if (j != i && in_path[j] && strcmp(c->info[j].subject, ci->subject) == 0)
			twin = j;
	if (twin != n)
		tp_find(c->f, TP_CHAIN_ORDER, (int)i,
			"certificate #%zu is a second certificate for '%s' (the chain uses #%zu): a "
			"cross-signed or older copy, which clients building the path another way may "
			"use instead",
			i, cn, twin);
	else
		tp_find(c->f, TP_CHAIN_ORDER, (int)i,
			"certificate #%zu '%s' belongs to no path from the leaf: it is not the issuer of "
			"any certificate sent before it",
			i, cn);
	free(cn);
}

/*
 * The served order should be the path: leaf, its issuer, that one's issuer.
 * Certificates that belong to no path are extras (or duplicates); many
 * clients cope with both, some do not, so this is a warning.
 */
static void
check_order(struct chain *c)
{
	size_t n = c->n < TP_MAX_CERTS ? c->n : TP_MAX_CERTS;
	bool in_path[TP_MAX_CERTS] = {false}, sorted = true;
	char want[600] = "";
	size_t used = 0;

	for (size_t k = 0; k < c->len; k++) {
		in_path[c->path[k]] = true;
		sorted = sorted && c->path[k] == k;
	}
	if (!sorted) {
		for (size_t k = 0; k < c->len && used < sizeof(want); k++) {
			char *cn = tp_short_name(subj(c, c->path[k]));
			used += (size_t)snprintf(want + used, sizeof(want) - used, "%s#%zu '%s'", k ? ", then " : "",
						 c->path[k], cn);
			free(cn);
		}
		size_t first = 0;
		while (first < c->len && c->path[first] == first)
			first++;
		tp_find(c->f, TP_CHAIN_ORDER, (int)(first < c->len ? c->path[first] : 0),
			"%s its certificates out of order; the chain is %s",
			from_file(c) ? "the file has" : "the server sent", want);
	}
	/* Copies are counted per original, so that a certificate sent a
	 * hundred times is one finding, not a hundred. */
	size_t copies[TP_MAX_CERTS] = {0}, copy_of[TP_MAX_CERTS];
	for (size_t i = 0; i < n; i++) {
		copy_of[i] = n;
		for (size_t j = 0; j < i && copy_of[i] == n; j++)
			if (copy_of[j] == n && strcmp(c->info[j].sha256, c->info[i].sha256) == 0)
				copy_of[i] = j;
		if (copy_of[i] != n)
			copies[copy_of[i]]++;
	}
	for (size_t i = 0; i < n; i++) {
		if (copies[i]) {
			char *cn = tp_short_name(subj(c, i));
			size_t first = n;
			for (size_t k = 0; k < n && first == n; k++)
				if (copy_of[k] == i)
					first = k;
			if (copies[i] == 1)
				tp_find(c->f, TP_CHAIN_ORDER, (int)first,
					"certificate #%zu '%s' is sent twice (it is also #%zu)", first, cn, i);
			else
				tp_find(c->f, TP_CHAIN_ORDER, (int)first,
					"'%s' (#%zu) is sent %zu more times, from #%zu on: once is enough", cn, i,
					copies[i], first);
			free(cn);
		}
		if (!in_path[i] && copy_of[i] == n)
			explain_extra(c, i, in_path);
	}
	if (c->in->facts->n_sent > n)
		tp_find(c->f, TP_CHAIN_ORDER, -1,
			"%s %zu certificates; only the first %zu were examined (a chain needs a handful, and "
			"clients give up after 10 to 16)",
			from_file(c) ? "the file holds" : "the server sent", c->in->facts->n_sent, n);
}

/* A "*.example.com" SAN that name misses by a label: "example.com" or "a.b.example.com". */
static const char *
wildcard_near_miss(const struct tp_cert_info *leaf, const char *name)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i < leaf->n_sans; i++) {
		const char *w = leaf->sans[i];
		if (strncmp(w, "*.", 2) != 0)
			continue;
		size_t slen = strlen(w + 1); /* ".example.com" */
		if (strcasecmp(name, w + 2) == 0)
			return w;
		if (nlen > slen && strcasecmp(name + nlen - slen, w + 1) == 0 && memchr(name, '.', nlen - slen))
			return w;
	}
	return NULL;
}

static void
explain_names(struct chain *c, const char *name)
{
	const struct tp_cert_info *leaf = &c->info[0];
	char covers[1024] = "";
	size_t used = 0;
	struct tp_problem *p;

	if (gnutls_x509_crt_check_hostname2(c->certs[0], name, 0)) {
		p = NULL;
		if (!leaf->n_sans)
			p = tp_find(c->f, TP_HOSTNAME_MISMATCH, 0,
				    "'%s' matches only the certificate's subject CN: it has no subjectAltName, "
				    "and browsers and Go ignore the CN",
				    name);
		tp_problem_rule(p, TP_RULE_CN_ONLY);
		return;
	}
	c->v->hostname_ok = false;
	for (size_t i = 0; i < leaf->n_sans; i++) {
		int w = snprintf(covers + used, sizeof(covers) - used, "%s%s", i ? ", " : "", leaf->sans[i]);
		if (w < 0 || (size_t)w >= sizeof(covers) - used - 24) { /* room for " and N more" */
			snprintf(covers + used, sizeof(covers) - used, " and %zu more", leaf->n_sans - i);
			break;
		}
		used += (size_t)w;
	}
	if (leaf->n_sans) {
		const char *wild = wildcard_near_miss(leaf, name);
		if (wild)
			p = tp_find(c->f, TP_HOSTNAME_MISMATCH, 0,
				    "the certificate does not cover '%s'; it covers: %s (the '*' in '%s' stands for "
				    "exactly one label, so it covers names like 'www%s', not '%s')",
				    name, covers, wild, wild + 1, name);
		else
			p = tp_find(c->f, TP_HOSTNAME_MISMATCH, 0, "the certificate does not cover '%s'; it covers: %s",
				    name, covers);
	} else {
		char *cn = tp_short_name(leaf->subject);
		p = tp_find(c->f, TP_HOSTNAME_MISMATCH, 0,
			    "the certificate does not cover '%s'; it has no subjectAltName, only the subject '%s'",
			    name, cn);
		free(cn);
	}
	tp_problem_rule(p, TP_RULE_HOSTNAME);
}

/* A time span in the unit a person would use: "5 minutes", "3 hours", "12 days". */
static void
format_span(double seconds, char *buf, size_t len)
{
	long n;
	const char *unit;

	if (seconds < 60) {
		snprintf(buf, len, "less than a minute");
		return;
	}
	if (seconds < 3600) {
		n = (long)(seconds / 60);
		unit = "minute";
	} else if (seconds < 2 * 86400) {
		n = (long)(seconds / 3600);
		unit = "hour";
	} else {
		n = (long)(seconds / 86400);
		unit = "day";
	}
	snprintf(buf, len, "%ld %s%s", n, unit, n == 1 ? "" : "s");
}

/* Where a trusted certificate is, for messages: "the --ca-file" or "the system trust store". */
static const char *
trusted_in(const struct chain *c, gnutls_x509_crt_t crt)
{
	return tp_trust_user_holds(c->cfg->trust, crt) ? "the --ca-file" : "the system trust store";
}

/* The fix for a trusted root (or CA) whose dates clients refuse or soon will. */
static void
set_anchor_fix(struct tp_problem *p, const char *cn, const char *where, bool soon)
{
	tp_problem_set_fix(p,
			   "%s the root '%s' in %s with the CA's current one (the CA publishes its renewed "
			   "root; on Debian: update the ca-certificates package, or copy the new root to "
			   "/usr/local/share/ca-certificates/NAME.crt and run update-ca-certificates; for "
			   "--ca-file, replace the file). If the server sends a chain to an old root, it must "
			   "send the chain its CA issues now, which leads to a current root%s.",
			   soon ? "Before then, replace" : "Replace", cn, where,
			   soon ? ", or clients refuse it once the root expires" : "");
}

/*
 * The dates of the trusted certificate the chain ends at: the root above
 * the path (index -1, not sent), or the last certificate of the path when
 * the store holds it itself (index top). Curl, Python, gnutls-cli refuse
 * a chain whose trust anchor expired, unless the store holds another
 * certificate of the same name and key that is valid (a renewed root):
 * that one is used instead.
 */
static void
explain_anchor_validity(struct chain *c, time_t now, const char *when)
{
	const struct tp_config *cfg = c->cfg;
	gnutls_x509_crt_t crt = c->anchor;
	int index = -1;
	time_t from, until, twin;
	long days;
	char *cn, date[40], span[40], what[400];
	const char *where;
	struct tp_problem *p = NULL;

	if (!c->anchored)
		return;
	if (!crt) {
		index = (int)c->path[c->len - 1];
		crt = c->certs[index];
	}
	from = gnutls_x509_crt_get_activation_time(crt);
	until = gnutls_x509_crt_get_expiration_time(crt);
	days = (long)trunc(difftime(until, now) / 86400.0);
	if (now >= from && now <= until && days >= cfg->warn_days)
		return;
	twin = tp_trust_twin_until(cfg->trust, crt, now);
	if (twin && (long)trunc(difftime(twin, now) / 86400.0) >= cfg->warn_days)
		return;
	cn = tp_chain_cn(crt);
	where = trusted_in(c, crt);
	snprintf(what, sizeof(what), "the trusted %s '%s' (in %s%s)",
		 index >= 0 && !c->info[index].self_signed ? "CA" : "root", cn ? cn : "?", where,
		 index >= 0 ? (from_file(c) ? ", and in the file" : ", and sent by the server") : "");
	if (now < from) {
		tp_format_date(from, date, sizeof(date));
		format_span(difftime(from, now), span, sizeof(span));
		p = tp_find(c->f, TP_NOT_YET_VALID, index, "%s is not valid before %s, %s from now %s", what, date,
			    span, when);
		tp_problem_rule(p, TP_RULE_ANCHOR_NOT_YET_VALID);
	} else if (now > until) {
		tp_format_date(until, date, sizeof(date));
		format_span(difftime(now, until), span, sizeof(span));
		p = tp_find(c->f, TP_EXPIRED, index, "%s expired on %s, %s ago %s", what, date, span, when);
		tp_problem_rule(p, TP_RULE_ANCHOR_EXPIRED);
	} else {
		tp_format_date(until, date, sizeof(date));
		format_span(difftime(until, now), span, sizeof(span));
		p = tp_find(c->f, TP_EXPIRES_SOON, index,
			    "%s expires on %s, in %s (thresholds: warning %d, critical %d days)", what, date, span,
			    cfg->warn_days, cfg->crit_days);
		if (days < cfg->crit_days)
			tp_problem_grade(p, TP_GRADE_REFUSED);
	}
	if (p)
		set_anchor_fix(p, cn ? cn : "?", where, now <= until && now >= from);
	free(cn);
}

static void
explain_validity(struct chain *c, time_t now)
{
	const struct tp_config *cfg = c->cfg;
	char date[40], when[80];

	if (cfg->at) {
		tp_format_date(cfg->at, date, sizeof(date));
		snprintf(when, sizeof(when), "at %s (--at)", date);
	} else {
		tp_format_date(now, date, sizeof(date));
		snprintf(when, sizeof(when), "by this machine's clock, %s", date);
	}
	for (size_t k = 0; k < c->len; k++) {
		size_t i = c->path[k];
		const struct tp_cert_info *ci = &c->info[i];
		/* The trusted certificate the path ends with: judged as the anchor. */
		if (k + 1 == c->len && c->anchored && !c->anchor)
			break;
		char *cn = tp_short_name(ci->subject);
		char span[40];
		if (now < ci->not_before) {
			tp_format_date(ci->not_before, date, sizeof(date));
			format_span(difftime(ci->not_before, now), span, sizeof(span));
			struct tp_problem *p =
				tp_find(c->f, TP_NOT_YET_VALID, (int)i, "'%s' is not valid before %s, %s from now %s",
					cn, date, span, when);
			tp_problem_rule(p, TP_RULE_NOT_YET_VALID);
			if (p && !cfg->at && difftime(ci->not_before, now) < 86400)
				tp_problem_set_fix(p,
						   "So close to its start, a clock is the likelier culprit: check this "
						   "machine's clock (timedatectl) and the CA's. A CA should backdate "
						   "the start of a new certificate by an hour or so.");
		} else if (now > ci->not_after) {
			tp_format_date(ci->not_after, date, sizeof(date));
			format_span(difftime(now, ci->not_after), span, sizeof(span));
			struct tp_problem *p = tp_find(c->f, TP_EXPIRED, (int)i, "'%s' expired on %s, %s ago %s", cn,
						       date, span, when);
			tp_problem_rule(p, TP_RULE_EXPIRED);
			if (p && i > 0 && ci->is_ca)
				tp_problem_set_fix(p,
						   "'%s' is a CA certificate in the %s chain: replace it with the "
						   "current one from the CA (the chain file that comes with a new "
						   "certificate), or drop it if the chain reaches a trusted root "
						   "without it; then reload the server.",
						   cn, from_file(c) ? "file's" : "server's");
		} else if (ci->days_remaining < cfg->warn_days) {
			struct tp_problem *p;
			tp_format_date(ci->not_after, date, sizeof(date));
			format_span(difftime(ci->not_after, now), span, sizeof(span));
			p = tp_find(c->f, TP_EXPIRES_SOON, (int)i,
				    "'%s' expires on %s, in %s (thresholds: warning %d, critical %d days)", cn, date,
				    span, cfg->warn_days, cfg->crit_days);
			if (ci->days_remaining < cfg->crit_days)
				tp_problem_grade(p, TP_GRADE_REFUSED);
		}
		free(cn);
	}
	explain_anchor_validity(c, now, when);
}

/* The earliest expiry on the path, the trust anchor above it included
 * (what blackbox_exporter's last_chain_expiry is over); 0 when unknown. */
static time_t
path_not_after(const struct chain *c)
{
	time_t t = 0, a = c->anchor ? gnutls_x509_crt_get_expiration_time(c->anchor) : (time_t)-1;

	for (size_t k = 0; k < c->len; k++) {
		time_t na = c->info[c->path[k]].not_after;
		if (na != (time_t)-1 && (!t || na < t))
			t = na;
	}
	if (a != (time_t)-1 && (!t || a < t))
		t = a;
	return t;
}

/* GnuTLS's verdict on the chain (its status bitmask), and its own words for it. */
static unsigned
verify(struct chain *c)
{
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)(c->cfg->client_purpose ? GNUTLS_KP_TLS_WWW_CLIENT : GNUTLS_KP_TLS_WWW_SERVER),
	};
	/* Validity is judged here, per certificate and at --at time. */
	unsigned flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;
	unsigned status = 0;
	gnutls_x509_trust_list_t tl = tp_trust_list_for(c->cfg->trust, c->certs, c->n);
	int ret = gnutls_x509_trust_list_verify_crt2(tl, c->certs, (unsigned)c->n, &purpose, 1, flags, &status, NULL);

	build_path(c, ret == 0 && status == 0);
	if (ret < 0) {
		tp_problem_rule(tp_find(c->f, TP_VERIFY_FAILED, -1, "the chain could not be verified: %s",
					gnutls_strerror(ret)),
				TP_RULE_GNUTLS);
		status = GNUTLS_CERT_INVALID;
	}
	if (status) {
		gnutls_datum_t words = {NULL, 0};
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &words, 0) == 0 &&
		    words.data) {
			free(c->v->gnutls_status);
			c->v->gnutls_status = tp_utf8_clean((const char *)words.data, strlen((const char *)words.data));
		}
		gnutls_free(words.data);
	}
	return status;
}

/*
 * Explain what GnuTLS refused, and check what it lets pass but other
 * clients refuse. Returns the status bits the findings explain.
 */
static unsigned
explain_status(struct chain *c, unsigned status)
{
	unsigned explained = GNUTLS_CERT_INVALID;
	size_t key_ids = 0;

	if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE)) {
		if (c->bad_link)
			explain_bad_signature(c);
		else if ((status & GNUTLS_CERT_SIGNER_NOT_FOUND) && c->anchored && (key_ids = check_key_ids(c, true)))
			; /* every signature verifies: GnuTLS missed an issuer by its key identifier */
		else if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
			explain_unknown_issuer(c);
		else
			tp_problem_rule(tp_find(c->f, TP_SIGNATURE_FAILURE, -1,
						"a signature in the chain does not verify with its issuer's key"),
					TP_RULE_BAD_SIGNATURE);
		explained |= GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE;
	}
	/* GnuTLS says SIGNER_NOT_CA, or, when the non-CA is below a CA with
	 * a path length limit, SIGNER_CONSTRAINTS_FAILURE. What GnuTLS
	 * accepted needs no second opinion on who may sign. */
	if (status != 0 && check_issuers(c)) {
		explained |= GNUTLS_CERT_SIGNER_NOT_CA | GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE;
	} else if (status & GNUTLS_CERT_SIGNER_NOT_CA) {
		/* A trusted anchor that is no CA: GnuTLS flags its constraints
		 * too, for the same reason, so one finding says both. */
		tp_problem_rule(tp_find(c->f, TP_ISSUER_NOT_CA, -1,
					"a certificate in the chain was signed by one that may not sign certificates "
					"(the trusted anchor, or a CA whose constraints forbid it)"),
				TP_RULE_NOT_CA);
		explained |= GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE;
	}
	explained |= GNUTLS_CERT_SIGNER_NOT_CA;
	/* GnuTLS refuses some of these and lets others pass; report them all,
	 * and attribute its refusal to them when they explain it. */
	bool refused = status & GNUTLS_CERT_INSECURE_ALGORITHM;
	size_t weak = check_signature_algorithms(c) + check_key_sizes(c, refused);
	if (refused) {
		if (!weak)
			tp_problem_rule(tp_find(c->f, TP_INSECURE_ALGORITHM, -1,
						"GnuTLS refuses an algorithm in the chain, or in the trusted root "
						"that anchors it, as insecure"),
					TP_RULE_GNUTLS);
		explained |= GNUTLS_CERT_INSECURE_ALGORITHM;
	}
	check_order(c);
	if (status & GNUTLS_CERT_PURPOSE_MISMATCH) {
		bool client = c->cfg->client_purpose;
		struct tp_problem *p =
			tp_find(c->f, TP_PURPOSE_MISMATCH, 0,
				client ? "the certificate's extendedKeyUsage does not include clientAuth: it "
					 "cannot be used as a client certificate"
				       : "the certificate's extendedKeyUsage does not include serverAuth: it is "
					 "not meant for a TLS server (a client certificate, perhaps)");
		tp_problem_rule(p, TP_RULE_PURPOSE);
		if (client)
			tp_problem_set_fix(p, "Reissue it as a client certificate: extendedKeyUsage must include "
					      "clientAuth (tlsprobe ca issue --client).");
		explained |= GNUTLS_CERT_PURPOSE_MISMATCH;
	}
	if (check_path_lengths(c, status) + check_name_constraints(c))
		explained |= GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE;
	if (!key_ids)
		check_key_ids(c, false);
	check_lifetimes(c);
	if (check_profile(c))
		explained |= GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS;
	return explained;
}

void
tp_diagnose(struct tp_verdict *v, struct tp_ocsp_info *ocsp, struct tp_findings *f, const struct tp_config *cfg,
	    const struct tp_chain_in *in, const char *name, time_t now)
{
	struct chain c = {.f = f,
			  .v = v,
			  .cfg = cfg,
			  .in = in,
			  .info = in->facts->certs,
			  .certs = in->certs,
			  .n = in->facts->n,
			  .now = now};
	unsigned status, unexplained;

	v->verified = true;
	if (c.n == 0) {
		tp_find(f, TP_VERIFY_FAILED, -1, "the server sent no certificate");
		return;
	}
	status = verify(&c);
	v->hostname_ok = true;
	v->trusted = status == 0;
	unexplained = status & ~explain_status(&c, status);
	/* CRLs never reach GnuTLS (see trust.c): revocation is revoke.c's. */
	tp_revoke_check(ocsp, f, cfg, in, c.path, c.len, now);
	if (unexplained) {
		gnutls_datum_t out = {NULL, 0};
		gnutls_certificate_verification_status_print(unexplained, GNUTLS_CRT_X509, &out, 0);
		tp_problem_rule(
			tp_find(f, TP_VERIFY_FAILED, -1, "GnuTLS reports: %s", out.data ? (char *)out.data : "invalid"),
			TP_RULE_GNUTLS);
		gnutls_free(out.data);
	}
	if (name) {
		free(v->name);
		v->name = strdup(name);
		explain_names(&c, name);
	}
	explain_validity(&c, now);
	v->path_not_after = path_not_after(&c);
	memcpy(v->path, c.path, c.len * sizeof(*c.path));
	v->path_len = c.len;
	release_anchor(&c);
	for (size_t i = 0; i < f->n; i++)
		if (f->problems[i].code == TP_EXPIRED || f->problems[i].code == TP_NOT_YET_VALID)
			v->trusted = false;
	if (!v->trusted)
		v->path_not_after = 0;
}
