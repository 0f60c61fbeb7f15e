/*
 * clients.c: the client model. Which of the clients people run refuse a
 * chain for each rule it breaks, and the words each prints then: the
 * table below, checked against the real clients by the integration tests
 * (tests/integration/test_clients.py) wherever they install. A rule no
 * client of the set refuses is a warning; one that any of them refuses
 * is critical.
 */
#include <stdlib.h>
#include <string.h>

#include "clients.h"

static const char *const names[TP_CLIENT_COUNT] = {
	[TP_CLIENT_OPENSSL] = "openssl", [TP_CLIENT_GNUTLS] = "gnutls", [TP_CLIENT_PYTHON] = "python",
	[TP_CLIENT_NSS] = "nss",         [TP_CLIENT_CHROME] = "chrome", [TP_CLIENT_GO] = "go",
	[TP_CLIENT_JAVA] = "java",
};

static const char *const titles[TP_CLIENT_COUNT] = {
	[TP_CLIENT_OPENSSL] = "OpenSSL (curl, wget)",
	[TP_CLIENT_GNUTLS] = "GnuTLS (gnutls-cli, apt)",
	[TP_CLIENT_PYTHON] = "Python",
	[TP_CLIENT_NSS] = "NSS (Firefox)",
	[TP_CLIENT_CHROME] = "Chrome",
	[TP_CLIENT_GO] = "Go",
	[TP_CLIENT_JAVA] = "Java",
};

const char *
tp_client_name(enum tp_client client)
{
	return (unsigned)client < TP_CLIENT_COUNT ? names[client] : NULL;
}

const char *
tp_client_title(enum tp_client client)
{
	return (unsigned)client < TP_CLIENT_COUNT ? titles[client] : NULL;
}

int
tp_client_lookup(const char *name)
{
	for (int i = 0; i < TP_CLIENT_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/*
 * When in its checks a client meets each rule: a client reports the first
 * refusal it meets, so the stage orders per client below decide which
 * words it prints when a chain breaks several rules.
 */
enum stage { ST_HELLO, ST_PARSE, ST_BUILD, ST_CA, ST_KEY, ST_TIME, ST_NC, ST_NAME, ST_OTHER, ST_COUNT };

/* For each client, the stages in the order it checks them. */
static const enum stage orders[TP_CLIENT_COUNT][ST_COUNT] = {
	[TP_CLIENT_OPENSSL] = {ST_HELLO, ST_PARSE, ST_BUILD, ST_CA, ST_KEY, ST_NAME, ST_TIME, ST_NC, ST_OTHER},
	[TP_CLIENT_GNUTLS] = {ST_HELLO, ST_PARSE, ST_BUILD, ST_CA, ST_KEY, ST_TIME, ST_NC, ST_NAME, ST_OTHER},
	[TP_CLIENT_PYTHON] = {ST_HELLO, ST_PARSE, ST_BUILD, ST_CA, ST_KEY, ST_NAME, ST_TIME, ST_NC, ST_OTHER},
	[TP_CLIENT_NSS] = {ST_HELLO, ST_PARSE, ST_BUILD, ST_CA, ST_KEY, ST_TIME, ST_NC, ST_NAME, ST_OTHER},
	[TP_CLIENT_CHROME] = {ST_HELLO, ST_PARSE, ST_CA, ST_BUILD, ST_NAME, ST_KEY, ST_TIME, ST_NC, ST_OTHER},
	/* Go checks the leaf's dates and name before it builds a path. */
	[TP_CLIENT_GO] = {ST_HELLO, ST_PARSE, ST_TIME, ST_NAME, ST_BUILD, ST_KEY, ST_CA, ST_NC, ST_OTHER},
	/* The JDK checks the name after the whole path validated. */
	[TP_CLIENT_JAVA] = {ST_HELLO, ST_PARSE, ST_BUILD, ST_KEY, ST_TIME, ST_CA, ST_NC, ST_NAME, ST_OTHER},
};

enum how { ACCEPTS, REFUSES, UNSURE };

struct take {
	enum how how;
	const char *text; /* REFUSES: its words; otherwise a note on why it accepts (or may), or NULL */
};

struct rule {
	enum stage stage;
	struct take by[TP_CLIENT_COUNT];
};

/* Words may hold {name} (the name checked) and {sans} (the leaf's names). */
#define R(words) \
	{ \
		REFUSES, words \
	}
#define A(note) \
	{ \
		ACCEPTS, note \
	}
#define U(note) \
	{ \
		UNSURE, note \
	}

#define PY "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
#define GNUTLS_NOT "The certificate is NOT trusted. "
#define GO_UNKNOWN "x509: certificate signed by unknown authority"
#define GO_CANNOT_SIGN \
	GO_UNKNOWN " (possibly because of \"x509: invalid signature: parent certificate " \
		   "cannot sign this kind of certificate\""
#define JAVA_BUILD \
	"PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: " \
	"unable to find valid certification path to requested target"
#define JAVA_VALIDATION "PKIX path validation failed: java.security.cert.CertPathValidatorException: "
#define NO_ISSUER_WORDS \
	[TP_CLIENT_OPENSSL] = R("unable to get local issuer certificate"), \
	[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate issuer is unknown."), \
	[TP_CLIENT_PYTHON] = R(PY "unable to get local issuer certificate"), \
	[TP_CLIENT_NSS] = R("SEC_ERROR_UNKNOWN_ISSUER: Peer's Certificate issuer is not recognized."), \
	[TP_CLIENT_CHROME] = R("NET::ERR_CERT_AUTHORITY_INVALID"), [TP_CLIENT_GO] = R(GO_UNKNOWN), \
	[TP_CLIENT_JAVA] = R(JAVA_BUILD)
#define CRITICAL_EXTENSION_WORDS \
	[TP_CLIENT_OPENSSL] = R("unhandled critical extension"), \
	[TP_CLIENT_PYTHON] = R(PY "unhandled critical extension"), \
	[TP_CLIENT_NSS] = R("SEC_ERROR_UNKNOWN_CRITICAL_EXTENSION: Certificate contains unknown critical " \
			    "extension."), \
	[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "unrecognized critical extension(s)")
#define EXPIRED_WORDS \
	[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain uses expired certificate."), \
	[TP_CLIENT_NSS] = R("SEC_ERROR_EXPIRED_CERTIFICATE: Peer's Certificate has expired."), \
	[TP_CLIENT_GO] = R("x509: certificate has expired or is not yet valid"), \
	[TP_CLIENT_OPENSSL] = R("certificate has expired"), [TP_CLIENT_PYTHON] = R(PY "certificate has expired")
#define NOT_YET_VALID_WORDS \
	[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain uses not yet valid certificate."), \
	[TP_CLIENT_NSS] = R("SEC_ERROR_EXPIRED_CERTIFICATE: Peer's Certificate has expired."), \
	[TP_CLIENT_GO] = R("x509: certificate has expired or is not yet valid"), \
	[TP_CLIENT_OPENSSL] = R("certificate is not yet valid"), \
	[TP_CLIENT_PYTHON] = R(PY "certificate is not yet valid")
#define RSA_WEAK_NOTES \
	[TP_CLIENT_GNUTLS] = A("GnuTLS's default profile accepts RSA keys from 1024 bits"), \
	[TP_CLIENT_GO] = A("Go accepts RSA keys from 1024 bits"), \
	[TP_CLIENT_JAVA] = A("the JDK accepts RSA keys from 1024 bits"), \
	[TP_CLIENT_NSS] = A("NSS accepts RSA keys from 1024 bits"), \
	[TP_CLIENT_CHROME] = A("Chrome accepts RSA keys from 1024 bits")
#define NAME_CONSTRAINT_WORDS \
	[TP_CLIENT_OPENSSL] = R("subtree violation"), \
	[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain violates the signer's constraints."), \
	[TP_CLIENT_PYTHON] = R("subtree violation"), [TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID"), \
	[TP_CLIENT_NSS] = R("SEC_ERROR_CERT_NOT_IN_NAME_SPACE: The Certifying Authority for this " \
			    "certificate is not permitted to issue a certificate with this name."), \
	[TP_CLIENT_GO] = R("x509: a root or intermediate certificate is not authorized to sign for this name")
#define SELF_ISSUED_NOTE "self-issued certificates do not count against a pathlen (RFC 5280 6.1.4)"

/*
 * MUST follow the order of enum tp_rule. A row may start from a set of
 * words (NO_ISSUER_WORDS) and override some clients after it: the later
 * initialiser wins, as C11 6.7.9 says.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
/* clang-format off */
static const struct rule rules[TP_RULE_COUNT] = {
	[TP_RULE_NONE] = {ST_OTHER, {{ACCEPTS, NULL}}},
	[TP_RULE_NO_ISSUER] = {ST_BUILD, {NO_ISSUER_WORDS}},
	[TP_RULE_NO_ISSUER_AIA] = {ST_BUILD, {NO_ISSUER_WORDS,
		[TP_CLIENT_CHROME] = U("Chrome downloads a missing issuer from the URL the certificate names "
				       "(AIA caIssuers); whether that completes the chain was not checked (--offline)")}},
	[TP_RULE_NO_ISSUER_FETCHED] = {ST_BUILD, {NO_ISSUER_WORDS,
		[TP_CLIENT_CHROME] = A("Chrome downloads the missing issuer from the URL the certificate names "
				       "(AIA caIssuers), and with it the chain verifies")}},
	[TP_RULE_UNTRUSTED_CA] = {ST_BUILD, {NO_ISSUER_WORDS}},
	[TP_RULE_ROOT_UNTRUSTED] = {ST_BUILD, {NO_ISSUER_WORDS,
		[TP_CLIENT_OPENSSL] = R("self-signed certificate in certificate chain"),
		[TP_CLIENT_PYTHON] = R(PY "self-signed certificate in certificate chain"),
		[TP_CLIENT_NSS] = R("SEC_ERROR_UNTRUSTED_ISSUER: Peer's certificate issuer has been marked as "
				    "not trusted by the user.")}},
	[TP_RULE_SELF_SIGNED] = {ST_BUILD, {NO_ISSUER_WORDS,
		[TP_CLIENT_OPENSSL] = R("self-signed certificate"),
		[TP_CLIENT_PYTHON] = R(PY "self-signed certificate"),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_AUTHORITY_INVALID")}},
	[TP_RULE_BAD_SIGNATURE] = {ST_BUILD, {
		[TP_CLIENT_OPENSSL] = R("certificate signature failure"),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The signature in the certificate is invalid."),
		[TP_CLIENT_PYTHON] = R(PY "certificate signature failure"),
		[TP_CLIENT_NSS] = R("SEC_ERROR_BAD_SIGNATURE: Peer's certificate has an invalid signature."),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_AUTHORITY_INVALID"),
		[TP_CLIENT_GO] = R(GO_UNKNOWN),
		[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "signature check failed")}},
	[TP_RULE_OTHER_KEY_SENT] = {ST_BUILD, {NO_ISSUER_WORDS,
		/* The JDK takes the certificate of the right name and then checks its signature. */
		[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "signature check failed")}},
	[TP_RULE_KEY_ID_MISMATCH] = {ST_BUILD, {NO_ISSUER_WORDS,
		[TP_CLIENT_GO] = A("Go looks an issuer up by its name too, and the issuer's key did sign"),
		[TP_CLIENT_JAVA] = A("the JDK looks an issuer up by its name too, and the issuer's key did sign"),
		[TP_CLIENT_CHROME] = A("Chrome uses key identifiers only to prefer one issuer over another")}},
	[TP_RULE_NOT_CA] = {ST_CA, {
		[TP_CLIENT_OPENSSL] = R("invalid CA certificate"),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate issuer is not a CA."),
		[TP_CLIENT_PYTHON] = R(PY "invalid CA certificate"),
		[TP_CLIENT_NSS] = R("SEC_ERROR_CA_CERT_INVALID: Issuer certificate is invalid."),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID"),
		[TP_CLIENT_GO] = R(GO_CANNOT_SIGN),
		[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "basic constraints check failed: this is not a CA certificate")}},
	[TP_RULE_NO_CERT_SIGN] = {ST_CA, {
		[TP_CLIENT_OPENSSL] = R("invalid CA certificate"),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain violates the signer's constraints."),
		[TP_CLIENT_PYTHON] = R(PY "invalid CA certificate"),
		[TP_CLIENT_NSS] = R("SEC_ERROR_INADEQUATE_KEY_USAGE: Certificate key usage inadequate for "
				    "attempted operation."),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID"),
		[TP_CLIENT_GO] = R(GO_CANNOT_SIGN),
		[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "CA key usage check failed: keyCertSign bit is not set")}},
	[TP_RULE_PATHLEN] = {ST_CA, {
		[TP_CLIENT_OPENSSL] = R("path length constraint exceeded"),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain violates the signer's constraints."),
		[TP_CLIENT_PYTHON] = R(PY "path length constraint exceeded"),
		[TP_CLIENT_NSS] = R("SEC_ERROR_PATH_LEN_CONSTRAINT_INVALID: Certificate path length constraint "
				    "is invalid."),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID"),
		[TP_CLIENT_GO] = R("x509: too many intermediates for path length constraint"),
		[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "basic constraints check failed: pathLenConstraint violated")}},
	[TP_RULE_PATHLEN_SELF_ISSUED] = {ST_CA, {
		[TP_CLIENT_OPENSSL] = A(SELF_ISSUED_NOTE), [TP_CLIENT_PYTHON] = A(SELF_ISSUED_NOTE),
		[TP_CLIENT_NSS] = A(SELF_ISSUED_NOTE), [TP_CLIENT_CHROME] = A(SELF_ISSUED_NOTE),
		[TP_CLIENT_JAVA] = A(SELF_ISSUED_NOTE),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain violates the signer's constraints."),
		[TP_CLIENT_GO] = R("x509: too many intermediates for path length constraint")}},
	[TP_RULE_NAME_CONSTRAINTS] = {ST_NC, {NAME_CONSTRAINT_WORDS,
		[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "name constraints check failed")}},
	[TP_RULE_ANCHOR_NAME_CONSTRAINTS] = {ST_NC, {NAME_CONSTRAINT_WORDS,
		[TP_CLIENT_JAVA] = A("the JDK does not apply the nameConstraints of a trust anchor's own "
				     "certificate (RFC 5280 leaves that to the client)")}},
	[TP_RULE_PURPOSE] = {ST_CA, {
		[TP_CLIENT_OPENSSL] = R("unsuitable certificate purpose"),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain does not match the intended purpose."),
		[TP_CLIENT_PYTHON] = R(PY "unsuitable certificate purpose"),
		[TP_CLIENT_NSS] = R("SEC_ERROR_INADEQUATE_CERT_TYPE: Certificate type not approved for "
				    "application."),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID"),
		[TP_CLIENT_GO] = R("x509: certificate specifies an incompatible key usage"),
		[TP_CLIENT_JAVA] = R("Extended key usage does not permit use for TLS server authentication")}},
	[TP_RULE_ANY_EKU_ONLY] = {ST_CA, {
		[TP_CLIENT_OPENSSL] = R("unsuitable certificate purpose"),
		[TP_CLIENT_PYTHON] = R(PY "unsuitable certificate purpose"),
		[TP_CLIENT_NSS] = R("SEC_ERROR_INADEQUATE_CERT_TYPE: Certificate type not approved for "
				    "application."),
		[TP_CLIENT_GNUTLS] = A("GnuTLS takes anyExtendedKeyUsage for serverAuth"),
		[TP_CLIENT_GO] = A("Go takes anyExtendedKeyUsage for serverAuth"),
		[TP_CLIENT_JAVA] = A("the JDK takes anyExtendedKeyUsage for serverAuth"),
		[TP_CLIENT_CHROME] = A("Chrome takes anyExtendedKeyUsage for serverAuth")}},
	[TP_RULE_LEAF_IS_CA] = {ST_CA, {
		[TP_CLIENT_NSS] = R("SEC_ERROR_INADEQUATE_CERT_TYPE: Certificate type not approved for "
				    "application.")}},
	[TP_RULE_UNKNOWN_CRITICAL] = {ST_CA, {CRITICAL_EXTENSION_WORDS,
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate contains an unknown critical extension."),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID"),
		[TP_CLIENT_GO] = R("x509: unhandled critical extension")}},
	[TP_RULE_CRITICAL_KEY_ID] = {ST_CA, {CRITICAL_EXTENSION_WORDS,
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID")}},
	[TP_RULE_BC_NOT_CRITICAL] = {ST_CA, {
		[TP_CLIENT_PYTHON] = R(PY "Basic Constraints of CA cert not marked critical")}},
	[TP_RULE_EMPTY_SUBJECT_SAN] = {ST_PARSE, {
		[TP_CLIENT_PYTHON] = R(PY "Subject empty and Subject Alt Name extension not critical"),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID"),
		[TP_CLIENT_JAVA] = R("SubjectAlternativeName extension MUST be marked critical when subject "
				     "field is empty")}},
	[TP_RULE_MISSING_KEY_ID] = {ST_CA, {{ACCEPTS, NULL}}},
	[TP_RULE_SERIAL] = {ST_PARSE, {
		[TP_CLIENT_GO] = A("Go 1.19 accepts it; Go 1.23 and later refuse a negative serial number")}},
	[TP_RULE_SHA1] = {ST_KEY, {
		[TP_CLIENT_OPENSSL] = R("CA signature digest algorithm too weak"),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain uses insecure algorithm."),
		[TP_CLIENT_PYTHON] = R(PY "CA signature digest algorithm too weak"),
		[TP_CLIENT_NSS] = A("NSS's library accepts SHA-1 signatures; Firefox refuses them"),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID"),
		[TP_CLIENT_GO] = R(GO_UNKNOWN " (possibly because of \"x509: cannot verify signature: insecure "
					      "algorithm"),
		[TP_CLIENT_JAVA] = A("the JDK refuses SHA-1 only in chains to the roots it ships (cacerts)")}},
	[TP_RULE_MD5] = {ST_KEY, {
		[TP_CLIENT_OPENSSL] = R("CA signature digest algorithm too weak"),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain uses insecure algorithm."),
		[TP_CLIENT_PYTHON] = R(PY "CA signature digest algorithm too weak"),
		[TP_CLIENT_NSS] = R("SEC_ERROR_CERT_SIGNATURE_ALGORITHM_DISABLED"),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID"),
		[TP_CLIENT_GO] = R(GO_UNKNOWN " (possibly because of \"x509: cannot verify signature: insecure "
					      "algorithm"),
		/* The JDK offers no MD5 signatures, so the server finds no certificate for it. */
		[TP_CLIENT_JAVA] = R("Received fatal alert: handshake_failure")}},
	[TP_RULE_RSA_EE_WEAK] = {ST_KEY, {RSA_WEAK_NOTES,
		[TP_CLIENT_OPENSSL] = R("EE certificate key too weak"),
		[TP_CLIENT_PYTHON] = R(PY "EE certificate key too weak")}},
	[TP_RULE_RSA_CA_WEAK] = {ST_KEY, {RSA_WEAK_NOTES,
		[TP_CLIENT_OPENSSL] = R("CA certificate key too weak"),
		[TP_CLIENT_PYTHON] = R(PY "CA certificate key too weak")}},
	[TP_RULE_KEY_TINY] = {ST_KEY, {
		[TP_CLIENT_OPENSSL] = R("certificate key too weak"),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain uses insecure algorithm."),
		[TP_CLIENT_PYTHON] = R(PY "certificate key too weak"),
		[TP_CLIENT_NSS] = R("SEC_ERROR_INVALID_KEY: The key does not support the requested operation."),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_WEAK_KEY"),
		[TP_CLIENT_GO] = A("Go 1.19 to 1.23 accept RSA keys under 1024 bits"),
		[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "Algorithm constraints check failed on keysize limits")}},
	[TP_RULE_EC_WEAK] = {ST_KEY, {
		[TP_CLIENT_OPENSSL] = R("certificate key too weak"),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The certificate chain uses insecure algorithm."),
		[TP_CLIENT_PYTHON] = R(PY "certificate key too weak"),
		[TP_CLIENT_NSS] = A("NSS's library accepts a P-192 key in a certificate"),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_INVALID"),
		[TP_CLIENT_GO] = R("x509: unsupported elliptic curve"),
		[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "Algorithm constraints check failed on keysize limits")}},
	[TP_RULE_EXPIRED] = {ST_TIME, {EXPIRED_WORDS,
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_DATE_INVALID"),
		[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "validity check failed")}},
	[TP_RULE_NOT_YET_VALID] = {ST_TIME, {NOT_YET_VALID_WORDS,
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_DATE_INVALID"),
		[TP_CLIENT_JAVA] = R(JAVA_VALIDATION "validity check failed")}},
	[TP_RULE_ANCHOR_EXPIRED] = {ST_TIME, {EXPIRED_WORDS,
		[TP_CLIENT_NSS] = R("SEC_ERROR_UNKNOWN_ISSUER: Peer's Certificate issuer is not recognized."),
		[TP_CLIENT_CHROME] = A("Chrome does not enforce a trust anchor's dates"),
		[TP_CLIENT_JAVA] = A("the JDK does not check a trust anchor's dates")}},
	[TP_RULE_ANCHOR_NOT_YET_VALID] = {ST_TIME, {NOT_YET_VALID_WORDS,
		[TP_CLIENT_NSS] = R("SEC_ERROR_UNKNOWN_ISSUER: Peer's Certificate issuer is not recognized."),
		[TP_CLIENT_CHROME] = A("Chrome does not enforce a trust anchor's dates"),
		[TP_CLIENT_JAVA] = A("the JDK does not check a trust anchor's dates")}},
	[TP_RULE_HOSTNAME] = {ST_NAME, {
		[TP_CLIENT_OPENSSL] = R("hostname mismatch"),
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT "The name in the certificate does not match the expected."),
		[TP_CLIENT_PYTHON] = R(PY "Hostname mismatch, certificate is not valid for '{name}'."),
		[TP_CLIENT_NSS] = R("SSL_ERROR_BAD_CERT_DOMAIN"),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_COMMON_NAME_INVALID"),
		[TP_CLIENT_GO] = R("x509: certificate is valid for {sans}, not {name}"),
		[TP_CLIENT_JAVA] = R("No subject alternative DNS name matching {name} found.")}},
	[TP_RULE_CN_ONLY] = {ST_NAME, {
		[TP_CLIENT_NSS] = A("NSS's library still matches the CN of a certificate without SAN; "
				    "Firefox does not"),
		[TP_CLIENT_CHROME] = R("NET::ERR_CERT_COMMON_NAME_INVALID"),
		[TP_CLIENT_GO] = R("x509: certificate relies on legacy Common Name field, use SANs instead")}},
	[TP_RULE_OLD_TLS] = {ST_HELLO, {
		[TP_CLIENT_OPENSSL] = R("unsupported protocol"),
		[TP_CLIENT_GNUTLS] = A("GnuTLS's default priority (NORMAL) still allows TLS 1.0 and 1.1"),
		[TP_CLIENT_PYTHON] = R("[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol"),
		[TP_CLIENT_NSS] = R("SSL_ERROR_UNSUPPORTED_VERSION"),
		[TP_CLIENT_CHROME] = R("NET::ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
		[TP_CLIENT_GO] = R("tls: server selected unsupported protocol version"),
		[TP_CLIENT_JAVA] = R("is not accepted by client preferences")}},
	[TP_RULE_DH_WEAK] = {ST_HELLO, {
		[TP_CLIENT_OPENSSL] = R("dh key too small"),
		[TP_CLIENT_GNUTLS] = A("GnuTLS accepts DH groups from 1024 bits"),
		[TP_CLIENT_PYTHON] = R("[SSL: DH_KEY_TOO_SMALL] dh key too small"),
		[TP_CLIENT_NSS] = U("Firefox offers no DHE suites: whether the server has another it accepts was "
				    "not checked"),
		[TP_CLIENT_CHROME] = U("Chrome offers no DHE suites: whether the server has another it accepts "
				       "was not checked"),
		[TP_CLIENT_GO] = U("Go offers no DHE suites: whether the server has another it accepts was not "
				   "checked"),
		[TP_CLIENT_JAVA] = A("the JDK accepts DH groups from 1024 bits")}},
	[TP_RULE_GNUTLS] = {ST_OTHER, {
		[TP_CLIENT_GNUTLS] = R(GNUTLS_NOT),
		[TP_CLIENT_OPENSSL] = U(NULL), [TP_CLIENT_PYTHON] = U(NULL), [TP_CLIENT_NSS] = U(NULL),
		[TP_CLIENT_CHROME] = U(NULL), [TP_CLIENT_GO] = U(NULL), [TP_CLIENT_JAVA] = U(NULL)}},
};
/* clang-format on */
#pragma GCC diagnostic pop

void
tp_problem_rule(struct tp_problem *p, enum tp_rule rule)
{
	if (p)
		p->rule = rule;
}

/* The clients that take the rule so: bits 1 << enum tp_client. */
static unsigned
clients_that(unsigned rule, enum how how)
{
	unsigned mask = 0;

	if (rule == TP_RULE_NONE || rule >= TP_RULE_COUNT)
		return 0;
	for (int c = 0; c < TP_CLIENT_COUNT; c++)
		if (rules[rule].by[c].how == how)
			mask |= 1u << c;
	return mask;
}

unsigned
tp_rule_refusers(unsigned rule)
{
	return clients_that(rule, REFUSES);
}

unsigned
tp_rule_unsure(unsigned rule)
{
	return clients_that(rule, UNSURE);
}

/* How each client is told to trust a root; %1$s is the file. MUST follow enum tp_client. */
static const char *const trust_how[TP_CLIENT_COUNT] = {
	[TP_CLIENT_OPENSSL] = "curl --cacert %1$s, wget --ca-certificate=%1$s, Node NODE_EXTRA_CA_CERTS=%1$s, or "
			      "SSL_CERT_FILE=%1$s (which replaces the system store)",
	[TP_CLIENT_GNUTLS] = "gnutls-cli --x509cafile %1$s; apt and the rest read the system store",
	[TP_CLIENT_PYTHON] = "requests uses certifi, not the system store: REQUESTS_CA_BUNDLE=%1$s or "
			     "verify='%1$s'; the ssl module: cafile='%1$s' (SSL_CERT_FILE=%1$s replaces, not "
			     "extends, the system store)",
	[TP_CLIENT_NSS] = "in Firefox, Settings, Privacy & Security, View Certificates, Authorities, Import (or "
			  "security.enterprise_roots.enabled for the system's roots); for NSS's tools, certutil -d "
			  "sql:$HOME/.pki/nssdb -A -t C,, -n NAME -i %1$s",
	[TP_CLIENT_CHROME] = "on Linux, certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n NAME -i %1$s (or Settings, "
			     "Privacy and security, Manage certificates); on Windows and macOS, the system store",
	[TP_CLIENT_GO] = "SSL_CERT_FILE=%1$s or SSL_CERT_DIR=DIR (each replaces the system store), or the "
			 "system store",
	[TP_CLIENT_JAVA] = "keytool -importcert -alias NAME -file %1$s -keystore the application's truststore "
			   "(-cacerts for the JDK's own), or -Djavax.net.ssl.trustStore=FILE",
};

char *
tp_rule_trust_advice(unsigned rule, unsigned clients, const char *file)
{
	char *out = NULL;

	if (rule != TP_RULE_UNTRUSTED_CA && rule != TP_RULE_ROOT_UNTRUSTED && rule != TP_RULE_SELF_SIGNED)
		return NULL;
	for (int c = 0; c < TP_CLIENT_COUNT; c++) {
		char *how, *more;
		if (!(clients & (1u << c)))
			continue;
			/* The format is the table's own. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		how = tp_strdupf(trust_how[c], file);
#pragma GCC diagnostic pop
		more = tp_strdupf("%s%s%s: %s", out ? out : "", out ? "; " : "", titles[c], how ? how : "");
		free(how);
		free(out);
		out = more;
	}
	if (out) {
		char *all =
			tp_strdupf("How, for each client that refuses it: %s. System-wide on Debian (OpenSSL, "
				   "GnuTLS, Python's ssl, Go): copy it to /usr/local/share/ca-certificates/NAME.crt "
				   "and run update-ca-certificates.",
				   out);
		free(out);
		out = all;
	}
	return out;
}

/* How early client c meets stage s: 0 first. */
static int
rank(enum tp_client c, enum stage s)
{
	for (int i = 0; i < ST_COUNT; i++)
		if (orders[c][i] == s)
			return i;
	return ST_COUNT;
}

/* The leaf's names as Go lists them: "a, b". */
static char *
leaf_names(const struct tp_chain_facts *chain)
{
	size_t len = 1;
	char *s;

	if (!chain->n)
		return strdup("");
	for (size_t i = 0; i < chain->certs[0].n_sans; i++)
		len += strlen(chain->certs[0].sans[i]) + 2;
	s = calloc(1, len);
	for (size_t i = 0; s && i < chain->certs[0].n_sans; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, chain->certs[0].sans[i]);
	}
	return s;
}

/* words with {name} and {sans} filled in: a new string, or NULL when it has neither. */
static char *
fill(const char *words, const char *name, const struct tp_chain_facts *chain)
{
	const char *n = strstr(words, "{name}"), *s = strstr(words, "{sans}");
	char *out = NULL;

	if (!n && !s)
		return NULL;
	if (n && !s) {
		out = tp_strdupf("%.*s%s%s", (int)(n - words), words, name ? name : "", n + 6);
	} else if (s && n && s < n) {
		char *sans = leaf_names(chain);
		out = tp_strdupf("%.*s%s%.*s%s%s", (int)(s - words), words, sans ? sans : "", (int)(n - s - 6), s + 6,
				 name ? name : "", n + 6);
		free(sans);
	}
	return out;
}

void
tp_client_verdicts_judge(struct tp_client_verdicts *out, unsigned clients, const struct tp_findings *f,
			 const struct tp_verdict *verdict, const struct tp_chain_facts *chain)
{
	size_t owned = 0;

	memset(out, 0, sizeof(*out));
	if (!clients)
		clients = TP_CLIENTS_ALL;
	for (int c = 0; c < TP_CLIENT_COUNT; c++) {
		struct tp_client_verdict *v;
		const struct tp_problem *refusal = NULL, *unsure = NULL;
		const struct take *refused = NULL, *note = NULL;
		int best = ST_COUNT + 1;

		if (!(clients & (1u << c)))
			continue;
		v = &out->v[out->n++];
		v->client = (enum tp_client)c;
		if (f->error || !verdict->verified) {
			/* A probe error a rule covers is a refusal for some clients. */
			unsigned rule = f->error && f->error->rule < TP_RULE_COUNT ? f->error->rule : TP_RULE_NONE;
			bool refuses = rule && rules[rule].by[c].how == REFUSES;
			v->accepts = refuses ? 0 : -1;
			v->says = refuses ? rules[rule].by[c].text : NULL;
			v->why = f->error ? f->error->message : "the chain was not verified";
			continue;
		}
		for (size_t i = 0; i < f->n; i++) {
			const struct tp_problem *p = &f->problems[i];
			const struct take *t;
			if (p->rule == TP_RULE_NONE || p->rule >= TP_RULE_COUNT)
				continue;
			t = &rules[p->rule].by[c];
			if (t->how == REFUSES && rank((enum tp_client)c, rules[p->rule].stage) < best) {
				best = rank((enum tp_client)c, rules[p->rule].stage);
				refusal = p;
				refused = t;
			} else if (t->how == UNSURE && !unsure) {
				unsure = p;
				note = t;
			} else if (t->how == ACCEPTS && t->text && !note) {
				note = t;
			}
		}
		if (refusal) {
			char *filled = fill(refused->text, verdict->name, chain);
			v->accepts = 0;
			v->says = filled ? filled : refused->text;
			if (filled)
				out->owned[owned++] = filled;
			v->why = refusal->message;
		} else if (unsure) {
			v->accepts = -1;
			v->why = note->text ? note->text : unsure->message;
		} else {
			v->accepts = 1;
			v->why = note ? note->text : NULL;
		}
	}
}

void
tp_client_verdicts_finish(struct tp_client_verdicts *out)
{
	for (size_t i = 0; i < sizeof(out->owned) / sizeof(out->owned[0]); i++)
		free(out->owned[i]);
	memset(out, 0, sizeof(*out));
}

/* ---- what each client offers ------------------------------------------------ */

/*
 * Each client's defaults as it sends them: OpenSSL 3.0's DEFAULT list at
 * security level 2 (PSK and SRP suites are offered only with a secret, so
 * not here), Python 3.13's cipher string, GnuTLS 3.7's NORMAL, Firefox's
 * prefs for NSS, Chrome's (no DHE; RSA key exchange still, as headless
 * Chromium 156 shows),
 * Go 1.19's default list and JDK 17's with its disabledAlgorithms. The
 * scan tests that each prediction is what the client does where it runs.
 */
static const uint16_t openssl_suites[] = {0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC02B, 0xC02F, 0x009E,
					  0xC024, 0xC028, 0x006B, 0xC023, 0xC027, 0x0067, 0xC00A, 0xC014, 0x0039,
					  0xC009, 0xC013, 0x0033, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F};
static const uint16_t python_suites[] = {0xC02C, 0xC030, 0xC02B, 0xC02F, 0xCCA9, 0xCCA8, 0xC024,
					 0xC028, 0xC023, 0xC027, 0x009F, 0x009E, 0x006B, 0x0067};
static const uint16_t gnutls_suites[] = {0xC02C, 0xCCA9, 0xC0AD, 0xC00A, 0xC02B, 0xC0AC, 0xC009, 0xC030, 0xCCA8,
					 0xC014, 0xC02F, 0xC013, 0x009D, 0xC09D, 0x0035, 0x009C, 0xC09C, 0x002F,
					 0x009F, 0xCCAA, 0xC09F, 0x0039, 0x009E, 0xC09E, 0x0033};
static const uint16_t firefox_suites[] = {0xC02B, 0xC02F, 0xCCA9, 0xCCA8, 0xC02C, 0xC030, 0xC00A,
					  0xC009, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035};
static const uint16_t chrome_suites[] = {0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
					 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035};
static const uint16_t go_suites[] = {0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC009, 0xC013,
				     0xC00A, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035, 0xC012, 0x000A};
static const uint16_t java_suites[] = {0xC02C, 0xC02B, 0xCCA9, 0xC030, 0xCCA8, 0xC02F, 0x009F, 0xCCAA, 0x00A3,
				       0x009E, 0x00A2, 0xC024, 0xC028, 0xC023, 0xC027, 0x006B, 0x006A, 0x0067,
				       0x0040, 0xC02E, 0xC032, 0xC02D, 0xC031, 0xC026, 0xC02A, 0xC025, 0xC029,
				       0xC00A, 0xC014, 0xC009, 0xC013, 0x0039, 0x0038, 0x0033, 0x0032, 0xC005,
				       0xC00F, 0xC004, 0xC00E, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F};
static const uint16_t tls13_suites[] = {0x1301, 0x1302, 0x1303};
static const uint16_t gnutls13_suites[] = {0x1301, 0x1302, 0x1303, 0x1304};
static const uint16_t openssl_groups[] = {29, 23, 30, 25, 24, 256, 257, 258, 259, 260};
static const uint16_t gnutls_groups[] = {23, 24, 25, 29, 30, 256, 257, 258, 259, 260};
static const uint16_t firefox_groups[] = {29, 23, 24, 25, 256, 257};
static const uint16_t chrome_groups[] = {0x11EC, 29, 23, 24};
static const uint16_t go_groups[] = {29, 23, 24, 25};
static const uint16_t java_groups[] = {29, 30, 23, 24, 25, 256, 257, 258, 259, 260};

#define OFFER(lo, hi, s, s13, g, dh, ed) \
	{ \
		lo, hi, s, s13, g, sizeof(s) / sizeof((s)[0]), sizeof(s13) / sizeof((s13)[0]), \
			sizeof(g) / sizeof((g)[0]), dh, ed \
	}

static const struct tp_client_offer offers[TP_CLIENT_COUNT] = {
	[TP_CLIENT_OPENSSL] = OFFER(0x0303, 0x0304, openssl_suites, tls13_suites, openssl_groups, 2048, true),
	[TP_CLIENT_GNUTLS] = OFFER(0x0301, 0x0304, gnutls_suites, gnutls13_suites, gnutls_groups, 1024, true),
	[TP_CLIENT_PYTHON] = OFFER(0x0303, 0x0304, python_suites, tls13_suites, openssl_groups, 2048, true),
	[TP_CLIENT_NSS] = OFFER(0x0303, 0x0304, firefox_suites, tls13_suites, firefox_groups, 0, false),
	[TP_CLIENT_CHROME] = OFFER(0x0303, 0x0304, chrome_suites, tls13_suites, chrome_groups, 0, false),
	[TP_CLIENT_GO] = OFFER(0x0303, 0x0304, go_suites, tls13_suites, go_groups, 0, true),
	[TP_CLIENT_JAVA] = OFFER(0x0303, 0x0304, java_suites, tls13_suites, java_groups, 1024, true),
};

const struct tp_client_offer *
tp_client_offer(enum tp_client c)
{
	return (unsigned)c < TP_CLIENT_COUNT ? &offers[c] : NULL;
}
