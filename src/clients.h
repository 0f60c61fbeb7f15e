/*
 * clients.h: the client model. A finding about a chain names the rule it
 * breaks; a table says, per rule, which clients refuse for it and with
 * which words. From that come each client's verdict and each finding's
 * severity: critical when a client that counts refuses.
 */
#ifndef TP_CLIENTS_H
#define TP_CLIENTS_H

#include "result.h"

/* The rules clients differ on. MUST follow the order of the table in clients.c. */
enum tp_rule {
	TP_RULE_NONE,
	/* building a path to a trusted certificate */
	TP_RULE_NO_ISSUER,         /* the top certificate's issuer is neither sent nor trusted */
	TP_RULE_NO_ISSUER_AIA,     /* the same, and the certificate says where to download it */
	TP_RULE_NO_ISSUER_FETCHED, /* the same, and what that URL serves completes the chain */
	TP_RULE_UNTRUSTED_CA,      /* the path ends at a CA whose issuer, a root, nobody trusts */
	TP_RULE_ROOT_UNTRUSTED,    /* the path ends at a sent self-signed root that is not trusted */
	TP_RULE_SELF_SIGNED,       /* the leaf is self-signed and not trusted */
	TP_RULE_BAD_SIGNATURE,     /* a signature that does not verify with its issuer's key */
	TP_RULE_OTHER_KEY_SENT,    /* the server sent a certificate of the issuer's name whose key did not sign */
	TP_RULE_KEY_ID_MISMATCH,   /* the issuer's key signed, but the key identifiers differ */
	/* what each certificate on the path may do */
	TP_RULE_NOT_CA,
	TP_RULE_NO_CERT_SIGN,
	TP_RULE_PATHLEN,
	TP_RULE_PATHLEN_SELF_ISSUED, /* over only when self-issued CAs count, as RFC 5280 says they do not */
	TP_RULE_NAME_CONSTRAINTS,
	TP_RULE_ANCHOR_NAME_CONSTRAINTS, /* the constraints are the trust anchor's own */
	TP_RULE_PURPOSE,
	TP_RULE_ANY_EKU_ONLY,
	TP_RULE_LEAF_IS_CA,
	TP_RULE_UNKNOWN_CRITICAL,
	TP_RULE_CRITICAL_KEY_ID,
	TP_RULE_BC_NOT_CRITICAL,
	TP_RULE_EMPTY_SUBJECT_SAN,
	TP_RULE_MISSING_KEY_ID,
	TP_RULE_SERIAL, /* a serial number of 0, negative, or over 20 octets */
	/* algorithms and keys */
	TP_RULE_SHA1,
	TP_RULE_MD5,
	TP_RULE_RSA_EE_WEAK, /* 1024 to 2047 bits */
	TP_RULE_RSA_CA_WEAK,
	TP_RULE_KEY_TINY, /* RSA or DSA under 1024 bits */
	TP_RULE_EC_WEAK,  /* under 224 bits: P-192 */
	/* dates */
	TP_RULE_EXPIRED,
	TP_RULE_NOT_YET_VALID,
	TP_RULE_ANCHOR_EXPIRED,
	TP_RULE_ANCHOR_NOT_YET_VALID,
	/* the name */
	TP_RULE_HOSTNAME,
	TP_RULE_CN_ONLY,
	/* the handshake */
	TP_RULE_OLD_TLS, /* the server's best version is TLS 1.1 or older */
	TP_RULE_DH_WEAK, /* the server chose DHE with a group under 2048 bits */
	/* GnuTLS refuses for a reason tlsprobe has no rule for */
	TP_RULE_GNUTLS,
	TP_RULE_COUNT
};

/* Tag a finding with the rule it breaks (p may be NULL). */
void tp_problem_rule(struct tp_problem *p, enum tp_rule rule);

/*
 * How to trust a root (or a self-signed certificate, in file) on each of
 * clients, for a rule whose fix is to trust it; NULL for other rules.
 * Free it.
 */
char *tp_rule_trust_advice(unsigned rule, unsigned clients, const char *file);

/* Which clients refuse, and which may, for a finding (0 for one without a rule). */
unsigned tp_rule_refusers(unsigned rule);
unsigned tp_rule_unsure(unsigned rule);

/*
 * Each client's verdict (those in clients, 0 meaning all) from the
 * findings and facts of a result; what it makes is freed by
 * tp_client_verdicts_finish.
 */
void tp_client_verdicts_judge(struct tp_client_verdicts *out, unsigned clients, const struct tp_findings *f,
			      const struct tp_verdict *verdict, const struct tp_chain_facts *chain);
void tp_client_verdicts_finish(struct tp_client_verdicts *out);

/*
 * What each client offers with its defaults, for a scan to tell which can
 * connect at all: its versions (wire numbers), its suites of TLS 1.2 and
 * below and of TLS 1.3, its key-exchange groups, and the smallest DH group
 * it takes (0: it offers no DHE suite).
 */
struct tp_client_offer {
	uint16_t min_version, max_version;
	const uint16_t *suites, *suites13, *groups;
	size_t n_suites, n_suites13, n_groups;
	unsigned min_dh_bits;
	bool eddsa; /* verifies Ed25519 and Ed448 certificates */
};
const struct tp_client_offer *tp_client_offer(enum tp_client c);

#endif
