/*
 * tlsprobe core: connect to a TLS endpoint, collect what it negotiated and
 * the certificates it sent, and diagnose why the chain does or does not
 * verify. The core never prints and never exits: a finding (an expired
 * certificate) is data in the result, an error means "could not probe".
 *
 * Errors, one convention (libtls's): a call that can fail returns -1, or
 * NULL, and leaves a one-line message in the handle it was made on, read
 * with tp_config_error(), tp_batch_error() or tp_server_error(). The calls
 * that have no handle (parsing a target, the CA commands, reading
 * certificate files) write it to the caller's buffer err of errlen bytes
 * instead. Constructors fail only when out of memory. Messages speak of
 * concepts ("the lowest TLS version"), not of command-line options: the
 * front end names those. A probe that ran but could not finish is not an
 * API error: its result says why (tp_result_error()).
 */
#ifndef TLSPROBE_H
#define TLSPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <gnutls/gnutls.h>

/* Nagios-compatible: the numeric values are the exit codes. */
enum tp_status {
	TP_STATUS_OK = 0,
	TP_STATUS_WARNING = 1,
	TP_STATUS_CRITICAL = 2,
	TP_STATUS_UNKNOWN = 3,
};

/*
 * Reason codes, the contract with scripts. Their names are stable; the
 * order is the order of importance used when several problems are found
 * at the same severity. The table in reason.c MUST follow this order.
 */
enum tp_code {
	TP_CODE_NONE = 0,
	/* probe errors: the target could not be probed to the end */
	TP_DNS_FAILURE,
	TP_CONNECTION_REFUSED,
	TP_CONNECTION_FAILED,
	TP_TIMEOUT,
	TP_NOT_TLS,
	TP_PROTOCOL_VERSION,
	TP_NO_SHARED_CIPHER,
	TP_CLIENT_CERT_REQUIRED,
	TP_CLIENT_CERT_REJECTED,
	TP_HANDSHAKE_FAILURE,
	TP_STARTTLS_REFUSED,
	TP_PROXY_FAILED,
	TP_FETCH_FAILED,
	TP_INVALID_TARGET,
	TP_INTERNAL_ERROR,
	/* findings about the certificates (and, for fetch, the HTTP response) */
	TP_HTTP_STATUS,
	TP_BODY_MISMATCH,
	TP_HEADER_MISMATCH,
	TP_TOO_SLOW,
	TP_INSECURE_REDIRECT,
	TP_NO_CLOSE_NOTIFY,
	TP_REVOKED,
	TP_EXPIRED,
	TP_NOT_YET_VALID,
	TP_SELF_SIGNED,
	TP_MISSING_INTERMEDIATE,
	TP_UNTRUSTED_ROOT,
	TP_UNKNOWN_ISSUER,
	TP_ISSUER_NOT_CA,
	TP_PATHLEN_EXCEEDED,
	TP_NAME_CONSTRAINTS,
	TP_KEY_MISMATCH,
	TP_SIGNATURE_FAILURE,
	TP_HOSTNAME_MISMATCH,
	TP_PURPOSE_MISMATCH,
	TP_INSECURE_ALGORITHM,
	TP_VERIFY_FAILED,
	TP_OCSP_MISSING,
	TP_CHAIN_ORDER,
	TP_KEY_ID_MISMATCH,
	TP_UNKNOWN_CRITICAL_EXTENSION,
	TP_PROFILE_VIOLATION,
	TP_OBSOLETE_PROTOCOL,
	TP_WEAK_CIPHER,
	TP_TLS_COMPRESSION,
	TP_INSECURE_RENEGOTIATION,
	TP_WEAK_DH,
	TP_NO_FORWARD_SECRECY,
	TP_NO_FALLBACK_SCSV,
	TP_CLIENT_CIPHER_ORDER,
	TP_NO_TLS13,
	TP_ADDRESSES_DIFFER,
	TP_CLIENT_CERT_UNCONFIRMED,
	TP_OUTLIVES_ISSUER,
	TP_WEAK_KEY,
	TP_OCSP_INVALID,
	TP_CRL_INVALID,
	TP_CRL_STALE,
	TP_REVOCATION_UNKNOWN,
	TP_EXPIRES_SOON,
	TP_CODE_COUNT
};

struct tp_reason {
	enum tp_code code;
	const char *name;      /* kebab-case, stable */
	enum tp_status status; /* default severity */
	const char *title;     /* a few words for the verdict line */
	const char *fix;       /* what a person can do about it */
};

const struct tp_reason *tp_reason_get(enum tp_code code);
enum tp_code tp_reason_lookup(const char *name);
bool tp_code_is_error(enum tp_code code);
const char *tp_status_name(enum tp_status status);

/* ---- targets ----------------------------------------------------------- */

struct tp_target {
	char *input; /* as the user wrote it */
	char *host;  /* without brackets */
	uint16_t port;
	bool host_is_ip;
	char *sni;      /* --sni override, or NULL */
	bool no_sni;    /* send no server_name; the name is checked all the same */
	char *starttls; /* "smtp", "imap", "pop3", "ftp", "postgres", or NULL */
	bool port_given;
	char *connect_host; /* connect here instead (--connect-to), or NULL */
	uint16_t connect_port;
	bool connect_is_ip;
	bool all_addresses; /* probe every address the name has (as --all-addresses) */
	bool scan;          /* find everything it accepts, as tlsprobe scan does (a batch line's --scan) */
};

/*
 * Parses host, host:port, [v6]:port, a bare IPv6 address or an https://
 * URL. On error returns -1 and writes a one-line reason to err.
 */
int tp_target_parse(struct tp_target *t, const char *input, char *err, size_t errlen);
int tp_target_set_sni(struct tp_target *t, const char *sni, char *err, size_t errlen);
/* Send no SNI (as clients without it do): the server's default certificate. */
void tp_target_set_no_sni(struct tp_target *t);
/* Probe every address the name resolves to, as tp_config_set_all_addresses
 * does for every target. */
void tp_target_set_all_addresses(struct tp_target *t);
/* Scan the target (tp_scan) where a list of targets is probed (batch). */
void tp_target_set_scan(struct tp_target *t);
/* Talk PROTO in the clear before TLS; without an explicit port, its usual
 * one (25, 143, 110, 21, 5432). -1 for an unknown protocol. */
int tp_target_set_starttls(struct tp_target *t, const char *proto);
/* Connect to ADDR[:PORT] instead of what DNS says, keeping the target's
 * name for SNI and verification. -1 with err on a bad address. */
int tp_target_set_connect_to(struct tp_target *t, const char *addr, char *err, size_t errlen);
/* 0 when proto is a STARTTLS protocol tlsprobe speaks. */
int tp_starttls_known(const char *proto);
/* A deep copy of src into dst: 0, or -1 when out of memory. */
int tp_target_copy(struct tp_target *dst, const struct tp_target *src);
void tp_target_finish(struct tp_target *t);

/* ---- configuration ----------------------------------------------------- */

struct tp_config;

/* What a new config holds until told otherwise. */
#define TP_DEFAULT_WARN_DAYS 30
#define TP_DEFAULT_CRIT_DAYS 14
#define TP_DEFAULT_TIMEOUT_S 10

struct tp_config *tp_config_create(void);
void tp_config_destroy(struct tp_config *cfg);
/* The message left by the last failing setter. */
const char *tp_config_error(const struct tp_config *cfg);

int tp_config_add_ca_file(struct tp_config *cfg, const char *path);
/* Check the chain against the CRLs in path (PEM or DER), repeatable. */
int tp_config_add_crl_file(struct tp_config *cfg, const char *path);
/* A server that staples no OCSP response is a problem. */
void tp_config_set_ocsp_required(struct tp_config *cfg, bool required);
void tp_config_set_system_ca(struct tp_config *cfg, bool use);
int tp_config_set_client_cert(struct tp_config *cfg, const char *cert, const char *key);
int tp_config_set_alpn(struct tp_config *cfg, const char *list);
/* "1.0" .. "1.3", or NULL for no bound */
int tp_config_set_tls_versions(struct tp_config *cfg, const char *min, const char *max);
int tp_config_set_priority(struct tp_config *cfg, const char *priority);
void tp_config_set_timeout_ms(struct tp_config *cfg, unsigned ms);
/* How a probe downloads what a certificate points to (a missing issuer from
 * its AIA URL, an OCSP answer, a CRL): GET url, or with post a POST of that
 * body as type; at most max bytes, within timeout_ms, into out (free
 * out->data with free()); 0, or -1 with a reason in err. */
typedef int tp_download_fn(const struct tp_config *cfg, const char *url, const gnutls_datum_t *post, const char *type,
			   size_t max, unsigned timeout_ms, gnutls_datum_t *out, char *err, size_t errlen);
/* Online checks with fn (tp_fetch_download); NULL (the default) for none. */
void tp_config_set_download(struct tp_config *cfg, tp_download_fn *fn);
/* The largest CRL a probe downloads from a distribution point. */
#define TP_DEFAULT_MAX_CRL_SIZE (64u << 20)
void tp_config_set_max_crl_size(struct tp_config *cfg, size_t bytes);
/* Keep what online checks fetched in dir across runs (made 0700 when
 * missing; refused unless this user's); NULL or "": in memory only. */
void tp_config_set_cache_dir(struct tp_config *cfg, const char *dir);
unsigned tp_config_timeout_ms(const struct tp_config *cfg);
/* How long to wait after a TLS 1.3 handshake for the server's verdict on
 * the client certificate it asked for; 0: a round trip or two. */
void tp_config_set_client_cert_wait_ms(struct tp_config *cfg, unsigned ms);
/*
 * Reach targets through a proxy: http://[USER:PASSWORD@]HOST:PORT (CONNECT),
 * socks5://HOST:PORT (names resolved here) or socks5h://HOST:PORT (by the
 * proxy); "" for none. Without it, the https_proxy and all_proxy variables
 * apply, as in curl, except to the hosts no_proxy names.
 */
int tp_config_set_proxy(struct tp_config *cfg, const char *url);
/* Hosts reached directly: "a.example,b.example", "*" for all (as no_proxy). */
void tp_config_set_noproxy(struct tp_config *cfg, const char *list);
/* Probe every address a name resolves to, not only the first that connects. */
void tp_config_set_all_addresses(struct tp_config *cfg, bool all);
/* AF_UNSPEC, AF_INET or AF_INET6 */
void tp_config_set_family(struct tp_config *cfg, int family);
void tp_config_set_insecure(struct tp_config *cfg, bool insecure);
/* Judge validity as if at this time; 0 means now. */
void tp_config_set_time(struct tp_config *cfg, time_t at);
int tp_config_set_expiry_days(struct tp_config *cfg, int warn, int crit);
/* The clients whose verdicts count (bits 1 << enum tp_client; 0: all). */
void tp_config_set_clients(struct tp_config *cfg, unsigned clients);
/* Check the leaf for clientAuth instead of serverAuth (mutual TLS certificates). */
void tp_config_set_client_purpose(struct tp_config *cfg, bool client);
/* Make the priority string and credentials; called by tp_probe if needed. */
int tp_config_ready(struct tp_config *cfg);

/* ---- results ----------------------------------------------------------- */

struct tp_timing {
	/* Milliseconds from the start until each stage ended (cumulative, as
	 * curl reports them); negative when the stage was not reached. */
	double dns_ms, connect_ms, proxy_ms, starttls_ms, handshake_ms, total_ms;
	/* Not a stage: the time spent on online checks (a missing issuer
	 * downloaded, OCSP responders asked), part of total; negative: none. */
	double online_ms;
};

struct tp_tls_info {
	const char *version;  /* "TLSv1.3" */
	const char *cipher;   /* IANA name */
	const char *kx_group; /* NULL when not negotiated (RSA key exchange) */
	const char *sig_alg;
	const char *alpn; /* NULL when none */
	bool resumed;
	bool client_cert_requested;
	bool client_cert_sent;
};

struct tp_cert_info {
	/* Every string is valid UTF-8 (invalid bytes replaced by U+FFFD) but
	 * may hold any character, control characters included. */
	char *subject;
	char *issuer;
	char *serial; /* lowercase hex */
	time_t not_before;
	time_t not_after;
	long days_remaining; /* whole days to not_after, rounded toward zero: negative a day after expiry */
	char **sans;         /* DNS names and IP addresses */
	size_t n_sans;
	char **ca_issuers; /* AIA caIssuers URLs */
	size_t n_ca_issuers;
	const char *key_type;
	unsigned key_bits;
	const char *key_curve; /* NULL unless EC */
	const char *sig_alg;
	char *sha256; /* lowercase hex */
	bool is_ca;
	bool self_signed;
	gnutls_datum_t der; /* the certificate as it was sent or read (empty for one made otherwise) */
};

/* How a certificate's revocation was checked, and what came of it. */
struct tp_revocation {
	const char *method;                          /* "staple", "ocsp", "crl", or NULL: not checked */
	const char *status;                          /* "good", "revoked", "unknown"; NULL when not checked */
	char *source;                                /* the responder's URL, or the CRL file */
	time_t this_update, next_update, revoked_at; /* (time_t)-1 when not known */
	const char *reason;                          /* why it was revoked ("keyCompromise"), or NULL */
	double ms;                                   /* time spent asking, -1 when nothing was asked */
};

struct tp_ocsp_info {
	bool stapled;
	const char *status; /* "good", "revoked", "unknown"; NULL unless stapled and readable */
	bool verified;      /* signed by the leaf's issuer (or its delegate) and about the leaf */
	time_t this_update;
	time_t next_update;     /* (time_t)-1 when the response gives none */
	time_t revocation_time; /* (time_t)-1 unless revoked */
};

struct tp_problem {
	enum tp_code code;
	enum tp_status severity;
	int cert_index; /* -1 when not about one certificate */
	char *subject;  /* that certificate's subject, or NULL */
	char *message;
	char *fix;
	bool waived;         /* reported, but --insecure keeps it from the status */
	unsigned refused_by; /* the clients that refuse the chain for it: bits 1 << enum tp_client */
	unsigned rule;       /* which rule of the client model it breaks (an internal number), 0: none */
	bool client_cert;    /* about the client certificate configured, not the server */
};

/*
 * The clients people run, each with its default settings and the same
 * trust anchors, and what each would do with the server (clients.c).
 */
enum tp_client {
	TP_CLIENT_OPENSSL, /* OpenSSL 3 at security level 2: curl, wget, Ruby, PHP */
	TP_CLIENT_GNUTLS,  /* GnuTLS's default profile: gnutls-cli, Debian's wget and apt */
	TP_CLIENT_PYTHON,  /* ssl.create_default_context() as of Python 3.13 */
	TP_CLIENT_NSS,     /* NSS's verifier: Firefox, vfychain, tstclnt */
	TP_CLIENT_CHROME,  /* Chrome's verifier */
	TP_CLIENT_GO,      /* Go's crypto/x509 */
	TP_CLIENT_JAVA,    /* the JDK's PKIX with its default security properties */
	TP_CLIENT_COUNT
};
#define TP_CLIENTS_ALL ((1u << TP_CLIENT_COUNT) - 1)

struct tp_client_verdict {
	enum tp_client client;
	int accepts;      /* 1, 0, or -1 when the probe could not get far enough to judge */
	const char *says; /* the words it prints when it refuses, or NULL */
	const char *why;  /* the finding it refuses for, or why it accepts regardless, or NULL */
};

/* "openssl", "gnutls", ...: the names --as takes; NULL out of range. */
const char *tp_client_name(enum tp_client client);
/* "OpenSSL (curl, wget)", for people. */
const char *tp_client_title(enum tp_client client);
/* The client of that name, or -1. */
int tp_client_lookup(const char *name);

struct tp_result;

/* Never NULL except when out of memory. */
struct tp_result *tp_probe(struct tp_config *cfg, const struct tp_target *target);
/* tp_probe with another time limit than the config's (an exporter's scrape deadline). */
struct tp_result *tp_probe_within(struct tp_config *cfg, const struct tp_target *target, unsigned timeout_ms);
/* The same facts, and with verify the same diagnosis, for a chain read from
 * files: certs[0] is the leaf, name (or NULL) the host it must cover, label
 * names it in output. */
struct tp_result *tp_examine(struct tp_config *cfg, const char *label, const gnutls_datum_t *certs, size_t n,
			     const char *name, bool verify);
/* Read the certificates of a PEM bundle or a DER file (free with tp_certs_free). */
int tp_certs_load(const char *path, gnutls_datum_t **certs, size_t *n, char *err, size_t errlen);
void tp_certs_free(gnutls_datum_t *certs, size_t n);
void tp_result_destroy(struct tp_result *r);

enum tp_status tp_result_status(const struct tp_result *r);
/* The most serious problem or error, TP_CODE_NONE when all is well. */
enum tp_code tp_result_reason(const struct tp_result *r);
const struct tp_target *tp_result_target(const struct tp_result *r);
const char *tp_result_sni(const struct tp_result *r);
const char *tp_result_address(const struct tp_result *r);
const struct tp_timing *tp_result_timing(const struct tp_result *r);
/* NULL when no handshake completed. */
const struct tp_tls_info *tp_result_tls(const struct tp_result *r);
size_t tp_result_cert_count(const struct tp_result *r);
const struct tp_cert_info *tp_result_cert(const struct tp_result *r, size_t i);
/* NULL when no handshake completed. */
const struct tp_ocsp_info *tp_result_ocsp(const struct tp_result *r);
/* Whether the chain was verified at all (a handshake happened). */
bool tp_result_verified(const struct tp_result *r);
bool tp_result_trusted(const struct tp_result *r);
/* When the chain is trusted: the earliest expiry on the path from the leaf
 * to the trust anchor, the anchor included; 0 otherwise. */
time_t tp_result_path_not_after(const struct tp_result *r);
/* How certificate i of the chain sent had its revocation checked; NULL
 * when the chain was not verified. */
const struct tp_revocation *tp_result_revocation(const struct tp_result *r, size_t i);
/* With tp_config_set_fullchain, when the chain verifies (with the issuers
 * downloaded from AIA URLs, if any were missing): the leaf and the
 * intermediates, in the order a server should send them, DER; NULL with *n
 * 0 otherwise. */
const gnutls_datum_t *tp_result_fullchain(const struct tp_result *r, size_t *n);
/* Whether probes keep that chain (a copy of its certificates): off by default. */
void tp_config_set_fullchain(struct tp_config *cfg, bool keep);
bool tp_result_hostname_ok(const struct tp_result *r);
const char *tp_result_verify_name(const struct tp_result *r);
/* GnuTLS's own words for the chain's verification status (NULL when it
 * verified): what gnutls-cli would say, beside tlsprobe's diagnosis. */
const char *tp_result_gnutls_status(const struct tp_result *r);
size_t tp_result_problem_count(const struct tp_result *r);
const struct tp_problem *tp_result_problem(const struct tp_result *r, size_t i);
/* The probe error, or NULL when the probe got through. */
const struct tp_problem *tp_result_error(const struct tp_result *r);
/* The client certificate configured (and the chain sent with it): 0 when none. */
size_t tp_result_client_cert_count(const struct tp_result *r);
const struct tp_cert_info *tp_result_client_cert(const struct tp_result *r, size_t i);
/* With all addresses probed: what each address served, in the order resolved. */
struct tp_address_result {
	char address[64];
	enum tp_status status;
	enum tp_code reason; /* TP_CODE_NONE when all is well */
	const char *version; /* "TLSv1.3", or NULL when no handshake completed */
	char *leaf_subject;  /* NULL when no certificate came */
	char *leaf_sha256;
	time_t leaf_not_after;
	long leaf_days_remaining;
};
/* The proxy the probe went through (its URL without a password), or NULL. */
const char *tp_result_proxy(const struct tp_result *r);
/* How many addresses the name resolved to (0 when it did not resolve). */
size_t tp_result_address_total(const struct tp_result *r);
/* The per-address results when every address was probed; 0 otherwise. */
size_t tp_result_address_count(const struct tp_result *r);
const struct tp_address_result *tp_result_address_result(const struct tp_result *r, size_t i);
/* What each client judged (those of tp_config_set_clients, in enum order). */
size_t tp_result_client_count(const struct tp_result *r);
const struct tp_client_verdict *tp_result_client(const struct tp_result *r, size_t i);

/* ---- what a server accepts (scan.c) ------------------------------------ */

/*
 * A scan: every protocol version, cipher suite, key-exchange group and
 * signature scheme the server accepts, read from its answers to hellos the
 * scan writes itself (so that it can offer what no library will), plus a
 * full probe for the certificates and the diagnosis. Its findings are the
 * result's, beside the probe's.
 */
struct tp_scan_version {
	const char *name; /* "TLSv1.2" */
	int accepted;     /* 1, 0, or -1 when it could not be told */
	int server_order; /* its suites: 1 in the server's order, 0 the client's, -1 not known */
};

struct tp_scan_suite {
	const char *version; /* "TLSv1.2" */
	uint16_t id;
	const char *iana;    /* "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" */
	const char *openssl; /* OpenSSL's name, or NULL when it has none */
	const char *kx, *au, *enc, *mac;
	unsigned bits;
	unsigned order;     /* 1 for the first picked in this version */
	bool pfs;           /* forward secrecy */
	const char *rating; /* "strong", "weak" or "insecure" */
	const char *why;    /* what makes it weak or insecure, or NULL */
};

struct tp_scan_group {
	const char *version; /* "TLSv1.3", or "TLSv1.2" for ECDHE in TLS 1.2 and below */
	uint16_t id;
	const char *name; /* as IANA registers it: "x25519", "X25519MLKEM768" */
	unsigned bits;
	bool hybrid; /* post-quantum */
	unsigned order;
};

struct tp_scan_sigalg {
	const char *version; /* "TLSv1.3" or "TLSv1.2" */
	uint16_t id;
	const char *name; /* "rsa_pss_rsae_sha256" */
};

/* A certificate chain the server serves: for a client that can verify
 * only one key type, for one that sends no SNI, or a name it does not know. */
struct tp_scan_cert {
	const char *asked; /* "RSA", "ECDSA", "EdDSA", "no SNI" or "unknown SNI" */
	char *sni;         /* the name sent, or NULL */
	char *subject;     /* the leaf's */
	char *sha256;
	const char *key_type;
	unsigned key_bits;
	size_t chain_length;
	bool trusted;
	enum tp_status status; /* its probe's verdict; UNKNOWN when not judged (an unknown SNI) */
	enum tp_code reason;
};

/* Whether a client of the model, with its defaults, can connect at all,
 * from what the server accepts. */
struct tp_scan_client {
	enum tp_client client;
	bool connects;
	const char *version; /* the best it would get, or NULL */
	const char *cipher;  /* the suite it would get (IANA name), or NULL */
	char why[200];       /* why it cannot, or "" */
};

/* What a server did with what a scan asked: 1 yes, 0 no, -1 not known. */
struct tp_scan_features {
	int fallback_scsv; /* refused a downgraded hello (RFC 7507) */
	int secure_renegotiation;
	int extended_master_secret;
	int encrypt_then_mac;
	int compression;
	int heartbeat;
	int ocsp_stapling;
	int session_ticket;
	int resumption_id;     /* TLS 1.2: a session resumed by its ID (no ticket offered) */
	int resumption_ticket; /* TLS 1.2: a session resumed by its ticket (RFC 5077) */
	int resumption_psk;    /* TLS 1.3: a session resumed with a ticket's PSK */
	int early_data;        /* TLS 1.3: 0-RTT data accepted in such a resumption (HTTP only) */
	const char *alpn[8];   /* the protocols it chose, most preferred first (TLS 1.2 and below) */
	size_t n_alpn;
};

struct tp_scan_info {
	struct tp_scan_version versions[6]; /* SSLv2 .. TLSv1.3 */
	size_t n_versions;
	const char *best_version;      /* NULL when none was accepted */
	const char *preferred_version; /* picked when offered every version at once; NULL: none */
	struct tp_scan_suite *suites;
	size_t n_suites;
	struct tp_scan_group *groups;
	size_t n_groups;
	struct tp_scan_sigalg *sigalgs;
	size_t n_sigalgs;
	unsigned dh_bits; /* the finite-field DH prime of its DHE suites; 0: none */
	struct tp_scan_cert *certs;
	size_t n_certs;
	struct tp_scan_client clients[TP_CLIENT_COUNT];
	size_t n_clients;
	struct tp_scan_features features;
	bool complete;        /* every question had its answer in time: false, the lists may lack some */
	unsigned connections; /* made by the scan, the probe's included */
	double ms;
};

/* Scan target with at most parallel connections at once (0: a polite
 * default), the whole within the config's timeout. */
struct tp_result *tp_scan(struct tp_config *cfg, const struct tp_target *target, unsigned parallel);
/* The same within timeout_ms instead of the config's timeout (the exporter's scrape deadline). */
struct tp_result *tp_scan_within(struct tp_config *cfg, const struct tp_target *target, unsigned parallel,
				 unsigned timeout_ms);
#define TP_SCAN_DEFAULT_PARALLEL 8
/* The scan's facts, or NULL when the result is no scan's. */
const struct tp_scan_info *tp_result_scan(const struct tp_result *r);

/* ---- making keys and certificates (pki.c) ------------------------------ */

/* These take and give GnuTLS's own types: whoever calls them links GnuTLS. */
#include <gnutls/x509.h>

enum tp_key_type { TP_KEY_ECDSA, TP_KEY_RSA, TP_KEY_ED25519 };

struct tp_cert_spec {
	const char *cn;
	const char *org;          /* or NULL */
	const char *const *names; /* subjectAltNames; IP addresses are recognised */
	size_t n_names;
	bool ca;
	int pathlen;                   /* CA path length limit, -1 for none */
	bool server_auth, client_auth; /* extendedKeyUsage; neither: no extension */
	time_t not_before, not_after;
	gnutls_digest_algorithm_t hash; /* 0: SHA-256 */
	const char *permitted_dns;      /* a CA's nameConstraints: only DNS names under this one */
	gnutls_x509_crq_t csr;          /* when set: its subject and key (not its extensions) */
	const char *crl_url;            /* a CRL distribution point, or NULL */
	const char *ocsp_url;           /* an OCSP responder (AIA), or NULL */
};

/* ECDSA is P-256; RSA bits 0 means 3072. Returns a GnuTLS error code. */
int tp_pki_key(gnutls_x509_privkey_t *key, enum tp_key_type type, unsigned bits);
/* Signed by issuer/issuer_key, or self-signed when issuer is NULL. With
 * spec->csr, key is NULL and the request's subject and key are used. */
int tp_pki_cert(gnutls_x509_crt_t *crt, const struct tp_cert_spec *spec, gnutls_x509_privkey_t key,
		gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key);

/* ---- many targets at once (batch.c) ------------------------------------- */

/* Fill t with the next target: 1, or 0 at the end of the input, or -1 for
 * a line that is not a target (err says why; t->input may name it). Called
 * from the workers, one at a time. */
typedef int tp_batch_next_fn(void *ctx, struct tp_target *t, char *err, size_t errlen);
/* Take a finished result (and own it); index counts targets from 0. Called
 * one at a time, in input order when ordered. */
typedef void tp_batch_done_fn(void *ctx, size_t index, struct tp_result *r);

struct tp_batch;

/* Probes with cfg, which must outlive the batch. NULL when out of memory. */
struct tp_batch *tp_batch_create(struct tp_config *cfg);
void tp_batch_destroy(struct tp_batch *batch);
const char *tp_batch_error(const struct tp_batch *batch);
/* Probe every target with up to parallel probes at once; 0, or -1. */
int tp_batch_run(struct tp_batch *batch, unsigned parallel, bool ordered, tp_batch_next_fn *next,
		 tp_batch_done_fn *done, void *ctx);

/* ---- an HTTPS request through libcurl (fetch.c) ------------------------- */

struct tp_fetch_options {
	const char *url;
	const char *method;         /* NULL: GET, or POST with data */
	const char *const *headers; /* "Name: value" */
	size_t n_headers;
	const char *data;
	bool follow;                /* follow redirects */
	long max_redirs;            /* with follow; -1: 10 */
	int http_version;           /* 0 curl's choice, 1 HTTP/1.1, 2 HTTP/2 */
	const char *proxy;          /* NULL: the usual environment variables */
	const char *const *resolve; /* curl --resolve HOST:PORT:ADDR */
	size_t n_resolve;
	const char *const *connect_to; /* curl --connect-to HOST:PORT:HOST:PORT */
	size_t n_connect_to;
	/* checks: each failure is a problem that makes the status critical */
	const char *expect_status; /* "200,301-308" */
	const char *expect_body;
	const char *const *expect_headers; /* "Name: value" (value: a substring; empty: present) */
	size_t n_expect_headers;
	long max_ms;         /* 0: no limit */
	unsigned timeout_ms; /* a bound shorter than the config's timeout (--max-time); 0: none */
};

struct tp_fetch_hop {
	long status;
	char *url;
};

struct tp_fetch_info {
	long status; /* 0 when no response */
	char *reason;
	const char *http_version; /* "HTTP/2", or NULL */
	char *final_url;
	char *content_type;
	long long size;
	struct tp_fetch_hop *hops; /* every response, redirects first */
	size_t n_hops;
	/* cumulative from the start, as curl's timers; negative when not reached */
	double dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms;
	int curl_code;
	char *curl_message; /* NULL when curl succeeded */
};

/* The timeout, trust, client certificate, --insecure and thresholds come from cfg. */
struct tp_result *tp_fetch(struct tp_config *cfg, const struct tp_fetch_options *o);
/* NULL unless the result is a fetch's. */
const struct tp_fetch_info *tp_result_fetch(const struct tp_result *r);
/* 0 when list is a valid --expect-status list. */
int tp_fetch_check_status_list(const char *list);
const char *tp_fetch_curl_version(void);
/* A tp_download_fn through libcurl, with the probe's proxy settings. */
int tp_fetch_download(const struct tp_config *cfg, const char *url, const gnutls_datum_t *post, const char *type,
		      size_t max, unsigned timeout_ms, gnutls_datum_t *out, char *err, size_t errlen);

/* ---- a self-hosted CA (ca.c) -------------------------------------------- */

struct tp_ca_options {
	const char *name; /* "NAME Root CA", "NAME Intermediate CA" */
	enum tp_key_type key_type;
	int days; /* the root's; the intermediate gets half */
	bool intermediate;
	bool force; /* overwrite existing files */
	/* Written into every certificate issued afterwards, or NULL. */
	const char *crl_url, *ocsp_url;
};

struct tp_issue_options {
	const char *const *names; /* subjectAltNames; the first is the CN */
	size_t n_names;
	bool client; /* clientAuth instead of serverAuth */
	int days;
	const char *out;      /* path prefix; default DIR/NAME */
	const char *csr_file; /* sign this request instead of making a key */
	enum tp_key_type key_type;
	bool force;
};

/* Paths a CA command wrote, and what it had to change. */
struct tp_ca_report {
	char *files[6];
	size_t n_files;
	char note[512];
	bool flat; /* a root only, no intermediate */
};

int tp_ca_init(const char *dir, const struct tp_ca_options *o, struct tp_ca_report *rep, char *err, size_t errlen);
int tp_ca_issue(const char *dir, const struct tp_issue_options *o, struct tp_ca_report *rep, char *err, size_t errlen);
void tp_ca_report_finish(struct tp_ca_report *rep);
/* Revoke the certificate issued as DIR/WHAT.pem (or the file WHAT, or the
 * serial WHAT in hex) for reason (an RFC 5280 name, or NULL); it goes into
 * the next tp_ca_crl. Its serial into rep->note. */
int tp_ca_revoke(const char *dir, const char *what, const char *reason, struct tp_ca_report *rep, char *err,
		 size_t errlen);
/* Sign the CRL of the issuing CA, next update in days (0: 7), as
 * DIR/crl.pem and DIR/crl.der. */
int tp_ca_crl(const char *dir, int days, struct tp_ca_report *rep, char *err, size_t errlen);
/* ca check: tp_examine, plus whether key_file (or NULL) belongs to the leaf. */
struct tp_result *tp_ca_check(struct tp_config *cfg, const char *label, const gnutls_datum_t *certs, size_t n,
			      const char *key_file, const char *name);

/* ---- the reference server (serve.c, scenario.c) ------------------------- */

struct tp_scenario_info {
	const char *name;
	const char *summary;
	const char *expect; /* what a correct client reports: "ok" or a reason code */
};

size_t tp_scenario_count(void);
const struct tp_scenario_info *tp_scenario(size_t i);
const struct tp_scenario_info *tp_scenario_find(const char *name);

/* One line per connection, handed to the front end to write. */
struct tp_conn_log {
	const char *peer;                                        /* "127.0.0.1:51234" */
	const char *site;                                        /* the scenario, or "files" */
	const char *sni, *version, *cipher, *alpn, *client_cert; /* NULL when unknown */
	const char *result;                                      /* "ok", or what went wrong */
	bool ok;
	double handshake_ms; /* negative when the handshake did not finish */
};

typedef void tp_server_log_fn(void *ctx, const struct tp_conn_log *log);

struct tp_server_options {
	const char *const *names; /* extra subjectAltNames for the made certificates */
	size_t n_names;
	const char *cert_file; /* serve these instead of a scenario's */
	const char *key_file;
	const char *ocsp_response_file; /* with cert_file: staple this OCSP response (DER) */
	const char *client_ca_file;     /* verify client certificates with these CAs */
	int client_cert;                /* 0: as the scenario says, 1: request, 2: require */
	const char *alpn;               /* comma separated, default "http/1.1" */
	bool echo;                      /* echo bytes instead of answering HTTP */
	unsigned handshake_timeout_ms;  /* default 10000 */
	/* From accept to the answer (with echo: the whole connection), the
	 * handshake included; default handshake_timeout_ms + 20000. */
	unsigned request_timeout_ms;
	unsigned workers; /* threads; default one per CPU */
	tp_server_log_fn *log;
	void *log_ctx;
};

struct tp_server;

/*
 * What a failure was about, for the front end to name its own remedy (one of
 * its options, say) where the core's message speaks only of the concept.
 */
enum tp_server_fault {
	TP_SERVER_FAULT_OTHER = 0,
	TP_SERVER_FAULT_PORT_TAKEN,   /* another program listens on that address and port */
	TP_SERVER_FAULT_NO_CLIENT_CA, /* client certificates asked for, and no CA to verify them */
};

/*
 * Life cycle: create, configure once, then any of listen, write_ca and
 * write_client_cert, then start, stop, wait and destroy. A call that fails
 * returns -1 and leaves the reason in tp_server_error(), which the next
 * call that can fail clears.
 */
/* NULL only when out of memory. */
struct tp_server *tp_server_create(void);
/* Keeps o (its strings must outlive s), then makes the throwaway PKI, or
 * loads o->cert_file and o->key_file when they are set. */
int tp_server_configure(struct tp_server *s, const struct tp_server_options *o);
/* Serve scenario (NULL: the certificate files) on addr:port; port 0 picks a
 * free one. Returns the port, or -1. */
int tp_server_listen(struct tp_server *s, const char *scenario, const char *addr, uint16_t port);
/* Write the made root CA certificate (PEM) for clients to trust. */
int tp_server_write_ca(struct tp_server *s, const char *path);
/* Write a client certificate (and its chain) issued by the made CA to
 * PREFIX.pem and its key to PREFIX.key (mode 0600). */
int tp_server_write_client_cert(struct tp_server *s, const char *prefix);
/* Why the last call failed ("" when it did not), and what it was about. */
const char *tp_server_error(const struct tp_server *s);
enum tp_server_fault tp_server_fault(const struct tp_server *s);
/* Start the worker threads and return. */
int tp_server_start(struct tp_server *s);
/* Ask the workers to stop; safe in a signal handler. */
void tp_server_stop(struct tp_server *s);
void tp_server_wait(struct tp_server *s);
void tp_server_destroy(struct tp_server *s);

/* ---- untrusted strings ------------------------------------------------- */

/* "2026-12-04 13:05 UTC", as every message writes a date; "an unknown
 * date" for (time_t)-1. */
void tp_format_date(time_t t, char *buf, size_t len);

/* Copy of s[0..len) as valid UTF-8, each invalid byte replaced by U+FFFD. */
char *tp_utf8_clean(const char *s, size_t len);

#endif
