/*
 * options.c: the options and the commands are data. One table of options,
 * sorted by long name, drives getopt_long, --help and the list that man
 * pages and completions are checked against; each row names the topic that
 * turns the option into a setting (apply_trust, apply_fetch, ...), one
 * function per topic below. The commands table names each command's entry
 * point, its help and the words it takes after the options.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>

#include "cli.h"
#include "buildconf.h"

enum opt_id {
	OPT_ALPN = 256,
	OPT_ALL_ADDRESSES,
	OPT_AS,
	OPT_AT,
	OPT_BASE_PORT,
	OPT_CACHE_DIR,
	OPT_CA,
	OPT_CA_FILE,
	OPT_CERT,
	OPT_CLIENT_CA,
	OPT_CLIENT_CERT,
	OPT_CLIENT_CERT_WAIT,
	OPT_CLIENT_KEY,
	OPT_COLOR,
	OPT_CRIT_DAYS,
	OPT_CLIENT,
	OPT_CONFIG,
	OPT_CRL,
	OPT_CRL_URL,
	OPT_CSR,
	OPT_DATA,
	OPT_CONNECT_TO,
	OPT_DAYS,
	OPT_ECHO,
	OPT_EXPECT_BODY,
	OPT_EXPECT_HEADER,
	OPT_EXPECT_STATUS,
	OPT_FORCE,
	OPT_FORMAT,
	OPT_HANDSHAKE_TIMEOUT,
	OPT_HEADER,
	OPT_HELP,
	OPT_HOST,
	OPT_HTTP11,
	OPT_HTTP2,
	OPT_INSECURE,
	OPT_IPV4,
	OPT_IPV6,
	OPT_JSON,
	OPT_KEY,
	OPT_KEY_TYPE,
	OPT_LIST_SCENARIOS,
	OPT_LISTEN,
	OPT_LOG_JSON,
	OPT_LOCATION,
	OPT_MAX_CONCURRENT,
	OPT_MAX_CRL_SIZE,
	OPT_MAX_MS,
	OPT_MAX_REDIRS,
	OPT_MAX_TIME,
	OPT_METHOD,
	OPT_NAME,
	OPT_NO_INTERMEDIATE,
	OPT_NO_SNI,
	OPT_NOPROXY,
	OPT_NO_SYSTEM_CA,
	OPT_OFFLINE,
	OPT_OCSP_REQUIRED,
	OPT_OCSP_URL,
	OPT_OCSP_RESPONSE,
	OPT_ORDERED,
	OPT_OUT,
	OPT_PARALLEL,
	OPT_PRIORITY,
	OPT_PROXY,
	OPT_QUIET,
	OPT_REASON,
	OPT_REQUEST_CLIENT_CERT,
	OPT_REQUEST_TIMEOUT,
	OPT_REQUIRE_CLIENT_CERT,
	OPT_RESOLVE,
	OPT_SAVE_CHAIN,
	OPT_SCAN,
	OPT_SCENARIO,
	OPT_SNI,
	OPT_STARTTLS,
	OPT_TIMEOUT,
	OPT_TLS_MAX,
	OPT_TLS_MIN,
	OPT_VERBOSE,
	OPT_VERIFY,
	OPT_VERSION,
	OPT_WARN_DAYS,
	OPT_WORKERS,
	OPT_WRITE_CA,
	OPT_WRITE_CLIENT_CERT,
	OPT_WRITE_FULLCHAIN,
};

/* Defaults that --help names: one definition each. */
#define WARN_DAYS TP_DEFAULT_WARN_DAYS
#define CRIT_DAYS TP_DEFAULT_CRIT_DAYS
#define PARALLEL 32
#define TIMEOUT_S TP_DEFAULT_TIMEOUT_S
#define EXPORTER_PORT CLI_EXPORTER_PORT
#define STR(x) STR_(x)
#define STR_(x) #x

#define COUNT(a) (sizeof(a) / sizeof(*(a)))

enum opt_group {
	G_CONNECT,
	G_HTTP,
	G_CHECKS,
	G_TRUST,
	G_TLS,
	G_SERVE,
	G_SERVE_TLS,
	G_CA,
	G_OUTPUT,
	G_GENERAL,
	G_COUNT
};

struct opt;
struct parse;
/* A topic: turns one of its options into a setting; -1 with a message in
 * the parse state when the value is wrong. */
typedef int apply_fn(struct parse *p, const struct opt *o, const char *arg);
static apply_fn apply_output, apply_trust, apply_connect, apply_tls, apply_fetch, apply_batch, apply_serve, apply_ca,
	apply_exporter;

struct opt {
	const char *name;
	char shortopt;
	const char *arg; /* metavariable, NULL for a flag */
	enum opt_id id;
	unsigned cmds; /* the commands that take it */
	enum opt_group group;
	apply_fn *apply; /* its topic */
	const char *help;
};

#define CONNECT CMD_CONNECT
#define SERVE CMD_SERVE
#define DEMO CMD_DEMO
#define CA CMD_CA
#define CERT CMD_CERT
#define ALL (CMD_CONNECT | CMD_SERVE | CMD_DEMO | CMD_CA | CMD_CERT | CMD_FETCH | CMD_BATCH | CMD_EXPORTER | CMD_SCAN)
/* What reads and judges a chain, live or from files. */
#define FETCH CMD_FETCH
#define BATCH CMD_BATCH
#define EXPORTER CMD_EXPORTER
#define SCAN CMD_SCAN
#define JUDGE (CMD_CONNECT | CMD_CA | CMD_CERT | CMD_FETCH | CMD_BATCH | CMD_EXPORTER | CMD_SCAN)
/* What writes reports of its own (the exporter answers in Prometheus's format). */
#define REPORT (CMD_CONNECT | CMD_CA | CMD_CERT | CMD_FETCH | CMD_BATCH | CMD_SCAN)
/* What makes a TLS connection as a client. */
#define CLIENT (CMD_CONNECT | CMD_FETCH | CMD_BATCH | CMD_EXPORTER | CMD_SCAN)
/* What probes: a target or a list of them; the exporter's default module. */
#define PROBE (CMD_CONNECT | CMD_BATCH | CMD_EXPORTER | CMD_SCAN)

/* MUST stay sorted by name; a name may appear once per command. */
static const struct opt options[] = {
	{"all-addresses", 0, NULL, OPT_ALL_ADDRESSES, PROBE, G_CONNECT, apply_connect,
	 "probe every address the name resolves to, in parallel"},
	{"alpn", 0, "LIST", OPT_ALPN, PROBE, G_TLS, apply_tls, "ALPN protocols, comma separated (h2,http/1.1)"},
	{"alpn", 0, "LIST", OPT_ALPN, SERVE, G_TLS, apply_serve, "ALPN protocols, comma separated (h2,http/1.1)"},
	{"as", 0, "CLIENTS", OPT_AS, JUDGE, G_TRUST, apply_trust,
	 "judge as these clients only (openssl, gnutls, python, nss, chrome, go, java; comma separated)"},
	{"at", 0, "TIME", OPT_AT, JUDGE, G_TRUST, apply_trust,
	 "judge validity as if at TIME (2030-01-31, 2030-01-31T12:00:00Z, @EPOCH)"},
	{"base-port", 0, "PORT", OPT_BASE_PORT, SERVE, G_SERVE, apply_serve,
	 "with --scenario all: serve them on PORT, PORT+1, ..."},
	{"ca", 0, "FILE", OPT_CA, CA, G_CA, apply_ca, "check: the root CA certificate the chain must lead to"},
	{"ca-file", 0, "FILE", OPT_CA_FILE, CLIENT | CERT, G_TRUST, apply_trust,
	 "also trust the CA certificates in FILE (repeatable)"},
	{"cache-dir", 0, "DIR", OPT_CACHE_DIR, PROBE, G_TRUST, apply_trust,
	 "keep online answers (OCSP, CRLs, issuers) in DIR (default $XDG_CACHE_HOME/tlsprobe; \"\": none)"},
	{"cert", 0, "FILE", OPT_CERT, SERVE, G_SERVE, apply_serve,
	 "serve this certificate chain (PEM, leaf first) instead of a scenario"},
	{"cert", 0, "FILE", OPT_CERT, CA, G_CA, apply_ca, "check: the certificate or chain file to check (leaf first)"},
	{"client", 0, NULL, OPT_CLIENT, CA, G_CA, apply_ca,
	 "issue/check: a client certificate (clientAuth) for mutual TLS"},
	{"client-ca", 0, "FILE", OPT_CLIENT_CA, SERVE, G_SERVE_TLS, apply_serve,
	 "verify client certificates with the CAs in FILE"},
	{"client-cert", 0, "FILE", OPT_CLIENT_CERT, CLIENT, G_TLS, apply_tls,
	 "client certificate for mutual TLS (PEM)"},
	{"client-cert-wait", 0, "MS", OPT_CLIENT_CERT_WAIT, PROBE, G_TLS, apply_tls,
	 "TLS 1.3: wait up to MS for the server's verdict on the client certificate"},
	{"client-key", 0, "FILE", OPT_CLIENT_KEY, CLIENT, G_TLS, apply_tls, "private key of --client-cert"},
	{"color", 0, "WHEN", OPT_COLOR, REPORT | DEMO, G_OUTPUT, apply_output,
	 "colour the text output: auto, always, never"},
	{"config", 0, "FILE", OPT_CONFIG, EXPORTER, G_SERVE, apply_exporter,
	 "the modules, in YAML (reloaded on SIGHUP and POST /-/reload)"},
	{"connect-to", 0, "ADDR[:PORT]", OPT_CONNECT_TO, PROBE, G_CONNECT, apply_connect,
	 "connect there instead of where DNS says, keeping the name"},
	{"connect-to", 0, "H1:P1:H2:P2", OPT_CONNECT_TO, FETCH, G_CONNECT, apply_fetch,
	 "connect to H2:P2 for requests to H1:P1, as curl (repeatable)"},
	{"crit-days", 0, "N", OPT_CRIT_DAYS, JUDGE, G_TRUST, apply_trust,
	 "critical when a certificate expires within N days (" STR(CRIT_DAYS) ")"},
	{"crl", 0, "FILE", OPT_CRL, JUDGE, G_TRUST, apply_trust,
	 "check the chain against the CRLs in FILE (repeatable)"},
	{"crl-url", 0, "URL", OPT_CRL_URL, CA, G_CA, apply_ca,
	 "init: the CRL distribution point written into every certificate issued"},
	{"csr", 0, "FILE", OPT_CSR, CA, G_CA, apply_ca, "issue: sign this certificate request instead of making a key"},
	{"data", 0, "DATA", OPT_DATA, FETCH, G_HTTP, apply_fetch,
	 "send DATA as the request body (POST unless -X says otherwise)"},
	{"days", 0, "N", OPT_DAYS, CA, G_CA, apply_ca, "init: the root's lifetime (3650); issue: the leaf's (397)"},
	{"echo", 0, NULL, OPT_ECHO, SERVE, G_SERVE, apply_serve, "echo bytes back instead of answering HTTP"},
	{"expect-body", 0, "TEXT", OPT_EXPECT_BODY, FETCH, G_CHECKS, apply_fetch,
	 "critical unless the body contains TEXT"},
	{"expect-header", 0, "NAME:VALUE", OPT_EXPECT_HEADER, FETCH, G_CHECKS, apply_fetch,
	 "critical unless the response has this header (repeatable)"},
	{"expect-status", 0, "LIST", OPT_EXPECT_STATUS, FETCH, G_CHECKS, apply_fetch,
	 "critical unless the status is in LIST (200,301-308)"},
	{"force", 0, NULL, OPT_FORCE, CA, G_CA, apply_ca, "init/issue: replace existing files"},
	{"format", 0, "FMT", OPT_FORMAT, REPORT, G_OUTPUT, apply_output,
	 "output format: text, json, nagios, prometheus, tsv"},
	{"handshake-timeout", 0, "SECONDS", OPT_HANDSHAKE_TIMEOUT, SERVE, G_SERVE, apply_serve,
	 "drop clients that do not finish the handshake in time (10)"},
	{"header", 'H', "LINE", OPT_HEADER, FETCH, G_HTTP, apply_fetch,
	 "send this request header, \"Name: value\" (repeatable)"},
	{"help", 'h', NULL, OPT_HELP, ALL, G_GENERAL, apply_output, "show this help"},
	{"host", 0, "NAME", OPT_HOST, CA | CERT, G_TRUST, apply_ca, "the name the certificate must cover"},
	{"http1.1", 0, NULL, OPT_HTTP11, FETCH, G_HTTP, apply_fetch, "use HTTP/1.1"},
	{"http2", 0, NULL, OPT_HTTP2, FETCH, G_HTTP, apply_fetch, "use HTTP/2 (negotiated with ALPN)"},
	{"insecure", 'k', NULL, OPT_INSECURE, CLIENT, G_TRUST, apply_trust,
	 "report verification problems but do not fail on them"},
	{"ipv4", '4', NULL, OPT_IPV4, PROBE, G_CONNECT, apply_connect, "connect over IPv4 only"},
	{"ipv6", '6', NULL, OPT_IPV6, PROBE, G_CONNECT, apply_connect, "connect over IPv6 only"},
	{"json", 0, NULL, OPT_JSON, REPORT, G_OUTPUT, apply_output,
	 "one JSON object per target (same as --format json)"},
	{"key", 0, "FILE", OPT_KEY, SERVE, G_SERVE, apply_serve, "private key of --cert"},
	{"key", 0, "FILE", OPT_KEY, CA, G_CA, apply_ca, "check: the private key that must belong to the certificate"},
	{"key-type", 0, "TYPE", OPT_KEY_TYPE, CA, G_CA, apply_ca,
	 "init/issue: key type: ecdsa, rsa, ed25519 (ecdsa P-256 by default; rsa is 3072 bits)"},
	{"list-scenarios", 0, NULL, OPT_LIST_SCENARIOS, SERVE, G_SERVE, apply_serve,
	 "list the scenarios and what a client should report"},
	{"listen", 0, "ADDR:PORT", OPT_LISTEN, SERVE, G_SERVE, apply_serve,
	 "listen here (repeatable; default 127.0.0.1:8443; [::1]:8443 for IPv6)"},
	{"listen", 0, "ADDR:PORT", OPT_LISTEN, EXPORTER, G_SERVE, apply_exporter,
	 "listen here (default :" STR(EXPORTER_PORT) ", every address; [::1]:PORT for IPv6)"},
	{"location", 'L', NULL, OPT_LOCATION, FETCH, G_HTTP, apply_fetch, "follow redirects"},
	{"log-json", 0, NULL, OPT_LOG_JSON, SERVE, G_SERVE, apply_serve, "log one JSON object per connection"},
	{"max-concurrent", 0, "N", OPT_MAX_CONCURRENT, EXPORTER, G_SERVE, apply_exporter,
	 "run up to N probes at once, queue 4 N more, refuse the rest with 503 (default " STR(PARALLEL) ")"},
	{"max-crl-size", 0, "SIZE", OPT_MAX_CRL_SIZE, PROBE, G_TRUST, apply_trust,
	 "download no CRL larger than SIZE bytes (K, M, G suffixes; default 64M)"},
	{"max-ms", 0, "N", OPT_MAX_MS, FETCH, G_CHECKS, apply_fetch, "critical when the request takes more than N ms"},
	{"max-redirs", 0, "N", OPT_MAX_REDIRS, FETCH, G_HTTP, apply_fetch, "with -L: follow at most N redirects (10)"},
	{"max-time", 0, "SECONDS", OPT_MAX_TIME, FETCH, G_CONNECT, apply_fetch,
	 "bound the whole request (default " STR(TIMEOUT_S) ")"},
	{"method", 'X', "METHOD", OPT_METHOD, FETCH, G_HTTP, apply_fetch, "request method (default GET)"},
	{"name", 0, "NAME", OPT_NAME, SERVE, G_SERVE, apply_serve,
	 "add NAME to the made certificates' names (repeatable)"},
	{"name", 0, "NAME", OPT_NAME, CA, G_CA, apply_ca, "init: the CA's name (NAME Root CA, NAME Intermediate CA)"},
	{"no-intermediate", 0, NULL, OPT_NO_INTERMEDIATE, CA, G_CA, apply_ca, "init: a root only; issue signs with it"},
	{"no-sni", 0, NULL, OPT_NO_SNI, PROBE, G_CONNECT, apply_connect,
	 "send no SNI (the server's default certificate), still checking the name"},
	{"no-system-ca", 0, NULL, OPT_NO_SYSTEM_CA, CLIENT | CERT, G_TRUST, apply_trust,
	 "do not trust the system's CA store"},
	{"noproxy", 0, "LIST", OPT_NOPROXY, PROBE, G_CONNECT, apply_connect,
	 "reach these hosts directly, not through the proxy (as no_proxy; * for all)"},
	{"ocsp-required", 0, NULL, OPT_OCSP_REQUIRED, PROBE, G_TRUST, apply_trust,
	 "fail when the server staples no OCSP response"},
	{"ocsp-response", 0, "FILE", OPT_OCSP_RESPONSE, SERVE, G_SERVE_TLS, apply_serve,
	 "with --cert: staple this OCSP response (DER) to the certificate"},
	{"ocsp-url", 0, "URL", OPT_OCSP_URL, CA, G_CA, apply_ca,
	 "init: the OCSP responder written into every certificate issued"},
	{"offline", 0, NULL, OPT_OFFLINE, PROBE, G_CONNECT, apply_connect,
	 "download nothing: no missing issuer from the URL its certificate names"},
	{"ordered", 0, NULL, OPT_ORDERED, BATCH, G_OUTPUT, apply_batch,
	 "write results in input order (default: as they finish)"},
	{"out", 0, "PREFIX", OPT_OUT, CA, G_CA, apply_ca, "issue: write PREFIX.pem, PREFIX.key, PREFIX.fullchain.pem"},
	{"parallel", 'P', "N", OPT_PARALLEL, BATCH, G_CONNECT, apply_batch,
	 "probe up to N targets at once (default " STR(PARALLEL) ")"},
	{"parallel", 'P', "N", OPT_PARALLEL, SCAN, G_CONNECT, apply_batch,
	 "make up to N connections at once (default " STR(TP_SCAN_DEFAULT_PARALLEL) ")"},
	{"priority", 0, "STRING", OPT_PRIORITY, PROBE, G_TLS, apply_tls, "GnuTLS priority string (default NORMAL)"},
	{"proxy", 0, "URL", OPT_PROXY, PROBE, G_CONNECT, apply_connect,
	 "reach the target through this proxy: http://, socks5:// or socks5h:// (default: https_proxy, all_proxy)"},
	{"proxy", 0, "URL", OPT_PROXY, FETCH, G_CONNECT, apply_fetch,
	 "use this proxy (default: the https_proxy and no_proxy variables)"},
	{"quiet", 'q', NULL, OPT_QUIET, REPORT, G_OUTPUT, apply_output, "text: print only the verdict line"},
	{"reason", 0, "REASON", OPT_REASON, CA, G_CA, apply_ca,
	 "revoke: why (keyCompromise, superseded, cessationOfOperation, ...; default unspecified)"},
	{"request-client-cert", 0, NULL, OPT_REQUEST_CLIENT_CERT, SERVE, G_SERVE_TLS, apply_serve,
	 "ask clients for a certificate, accept them without"},
	{"request-timeout", 0, "SECONDS", OPT_REQUEST_TIMEOUT, SERVE, G_SERVE, apply_serve,
	 "drop clients not answered within SECONDS of connecting (handshake timeout + 20)"},
	{"require-client-cert", 0, NULL, OPT_REQUIRE_CLIENT_CERT, SERVE, G_SERVE_TLS, apply_serve,
	 "refuse clients without a valid certificate"},
	{"resolve", 0, "HOST:PORT:ADDR", OPT_RESOLVE, FETCH, G_CONNECT, apply_fetch,
	 "resolve HOST:PORT to ADDR, as curl (repeatable)"},
	{"save-chain", 0, "FILE", OPT_SAVE_CHAIN, CONNECT, G_OUTPUT, apply_output,
	 "write the certificates the server sent to FILE, in order, as PEM"},
	{"scan", 0, NULL, OPT_SCAN, BATCH, G_CONNECT, apply_batch,
	 "scan every target, as tlsprobe scan does (a line's --scan scans that one)"},
	{"scenario", 0, "NAME", OPT_SCENARIO, SERVE, G_SERVE, apply_serve,
	 "serve this setup (default good; all: every one)"},
	{"sni", 0, "NAME", OPT_SNI, PROBE, G_CONNECT, apply_connect,
	 "send NAME as SNI and verify the certificate against it"},
	{"starttls", 0, "PROTO", OPT_STARTTLS, PROBE, G_CONNECT, apply_connect,
	 "speak PROTO before TLS: smtp, lmtp, imap, pop3, ftp, nntp, sieve, irc, xmpp, xmpp-server, ldap, postgres, "
	 "mysql"},
	{"timeout", 0, "SECONDS", OPT_TIMEOUT, PROBE, G_CONNECT, apply_connect,
	 "bound the whole probe (default " STR(TIMEOUT_S) ")"},
	{"tls-max", 0, "VER", OPT_TLS_MAX, PROBE, G_TLS, apply_tls, "highest TLS version to offer: 1.0, 1.1, 1.2, 1.3"},
	{"tls-min", 0, "VER", OPT_TLS_MIN, PROBE, G_TLS, apply_tls,
	 "lowest TLS version to offer: 1.0, 1.1, 1.2, 1.3 (default 1.2)"},
	{"verbose", 'v', NULL, OPT_VERBOSE, REPORT | DEMO, G_OUTPUT, apply_output, "text: show more detail"},
	{"verify", 0, NULL, OPT_VERIFY, CERT, G_TRUST, apply_ca, "verify the chain in each file, as a probe would"},
	{"version", 'V', NULL, OPT_VERSION, ALL, G_GENERAL, apply_output,
	 "show versions of tlsprobe and its libraries"},
	{"warn-days", 0, "N", OPT_WARN_DAYS, JUDGE, G_TRUST, apply_trust,
	 "warn when a certificate expires within N days (" STR(WARN_DAYS) ")"},
	{"workers", 0, "N", OPT_WORKERS, SERVE, G_SERVE, apply_serve, "worker threads (default: one per CPU)"},
	{"write-ca", 0, "FILE", OPT_WRITE_CA, SERVE, G_SERVE, apply_serve,
	 "write the made root CA certificate to FILE for clients"},
	{"write-client-cert", 0, "PREFIX", OPT_WRITE_CLIENT_CERT, SERVE, G_SERVE_TLS, apply_serve,
	 "write a client certificate the server accepts to PREFIX.pem and PREFIX.key"},
	{"write-fullchain", 0, "FILE", OPT_WRITE_FULLCHAIN, CONNECT, G_OUTPUT, apply_output,
	 "write the leaf and intermediates the server should send (missing ones downloaded) to FILE"},
};
#define N_OPTIONS COUNT(options)

static const char *const format_names[] = {
	[FORMAT_TEXT] = "text", [FORMAT_JSON] = "json", [FORMAT_NAGIOS] = "nagios", [FORMAT_PROMETHEUS] = "prometheus",
	[FORMAT_TSV] = "tsv",
};

static const char *const group_names[G_COUNT] = {
	[G_CONNECT] = "Connection",
	[G_HTTP] = "HTTP",
	[G_CHECKS] = "Checks",
	[G_TRUST] = "Trust and verification",
	[G_TLS] = "TLS",
	[G_SERVE] = "Server",
	[G_SERVE_TLS] = "Mutual TLS",
	[G_CA] = "Certificate authority",
	[G_OUTPUT] = "Output",
	[G_GENERAL] = "General",
};

static const struct command {
	const char *name;
	unsigned bit;
	int (*run)(struct cli *cli);
	const char *summary;
	const char *usage;
	const char *about;
	const char *examples;
	/* How many words may follow the options, and what to say when there
	 * are more or fewer (after "tlsprobe: ", so not starting with
	 * "tlsprobe" again); NULL for a command that takes none. */
	size_t min_args, max_args;
	const char *wrong_args;
} commands[] = {
	{"connect", CMD_CONNECT, connect_command,
	 "probe servers: handshake, chain, why it does not verify (the default)",
	 "tlsprobe [connect] TARGET... [options]",
	 "Connect to each TARGET (host, host:port, [v6addr]:port or https://URL; port 443\n"
	 "by default), report the TLS version, cipher and certificate chain, and say why\n"
	 "the chain does not verify and how to fix it.",
	 "  tlsprobe localhost:8443 --ca-file root.pem\n"
	 "  tlsprobe example.com --json | jq .verify.problems\n",
	 1, SIZE_MAX, "no target given: tlsprobe HOST[:PORT]; see tlsprobe --help"},
	{"serve", CMD_SERVE, serve_command, "run the reference TLS server: good and broken setups, mutual TLS",
	 "tlsprobe serve [options]",
	 "Run the reference TLS server: a good setup or a deliberately broken one, with\n"
	 "certificates made in memory (or yours with --cert/--key). It answers HTTP/1.1\n"
	 "with what was negotiated. Stop it with Ctrl-C.",
	 "  tlsprobe serve --scenario missing-intermediate --write-ca ca.pem\n"
	 "  tlsprobe serve --scenario all --base-port 9000 --write-ca ca.pem\n",
	 0, 0, NULL},
	{"demo", CMD_DEMO, demo_command, "serve every scenario on loopback and show what tlsprobe says",
	 "tlsprobe demo [options]",
	 "Serve every scenario on loopback, probe each, and show what tlsprobe says:\n"
	 "the fastest way to see its diagnoses.",
	 "  tlsprobe demo\n", 0, 0, NULL},
	{"fetch", CMD_FETCH, fetch_command, "an HTTPS request through libcurl, with the same diagnosis",
	 "tlsprobe fetch URL [options]",
	 "Make an HTTPS request through libcurl and report what real clients see: the\n"
	 "status, HTTP version, redirects, timings, TLS facts and the chain, with the\n"
	 "probe's diagnosis when TLS fails. Checks for monitoring: --expect-*, --max-ms.",
	 "  tlsprobe fetch https://localhost:8443/ --ca-file root.pem\n"
	 "  tlsprobe fetch https://example.com/health --expect-status 200 --expect-body ok --json\n",
	 1, 1, "fetch takes one URL: tlsprobe fetch https://HOST/PATH"},
	{"batch", CMD_BATCH, batch_command, "many targets at once, one record each, for monitoring",
	 "tlsprobe batch [FILE|-] [options]",
	 "Probe every target in FILE (or standard input), one per line (# starts a comment;\n"
	 "--sni NAME, --no-sni, --all-addresses, --starttls PROTO and --scan, which asks\n"
	 "what tlsprobe scan asks, may follow a target), many at once in one process. One\n"
	 "record per target, as each finishes (or in order with --ordered); exit with the\n"
	 "worst status.",
	 "  tlsprobe batch hosts.txt --json > results.ndjson\n"
	 "  tlsprobe batch hosts.txt --format prometheus > /var/lib/node_exporter/tlsprobe.prom\n",
	 0, 1, "batch reads one list: a FILE, or - (or nothing) for standard input"},
	{"exporter", CMD_EXPORTER, exporter_command, "a Prometheus probe endpoint: /probe, /metrics, a status page",
	 "tlsprobe exporter [options]",
	 "Answer Prometheus's scrapes: GET /probe?target=HOST[:PORT]&module=NAME probes the\n"
	 "target as the module says and answers in Prometheus's text format (with\n"
	 "&debug=true, the text report); /metrics has the exporter's own metrics, / the\n"
	 "last probes. The options below make the module named default; --config adds\n"
	 "modules from a YAML file. Stop it with SIGTERM; SIGHUP reloads the file.",
	 "  tlsprobe exporter --ca-file root.pem\n"
	 "  tlsprobe exporter --listen 127.0.0.1:9856 --config /etc/tlsprobe/exporter.yml\n",
	 0, 0, NULL},
	{"scan", CMD_SCAN, scan_command, "what a server accepts: versions, suites, groups, signature schemes",
	 "tlsprobe scan TARGET... [options]",
	 "Find every protocol version, cipher suite (in the server's order), key-exchange\n"
	 "group (post-quantum hybrids included) and signature scheme each TARGET accepts,\n"
	 "with hellos tlsprobe writes itself (so that it can offer what no library will),\n"
	 "and what its ServerHello says (renegotiation, compression, ALPN, downgrade\n"
	 "protection); then probe it for the certificates. Findings name the server\n"
	 "settings to change.",
	 "  tlsprobe scan localhost:8443\n"
	 "  tlsprobe scan example.com --json | jq '.scan.ciphers[] | .iana'\n",
	 1, SIZE_MAX, "no target given: tlsprobe scan HOST[:PORT]; see tlsprobe scan --help"},
	{"cert", CMD_CERT, cert_command, "show and judge certificate files offline", "tlsprobe cert FILE... [options]",
	 "Show the certificates in each FILE (PEM bundle or DER; - is standard input) as\n"
	 "a probe would, and with --verify judge the chain they form (the first is the leaf).",
	 "  tlsprobe cert fullchain.pem\n"
	 "  tlsprobe cert fullchain.pem --verify --ca-file root.pem --host localhost\n",
	 1, SIZE_MAX, "no file given: tlsprobe cert FILE...; see tlsprobe cert --help"},
	{"ca", CMD_CA, ca_command, "run a small CA: init, issue, revoke, crl, check",
	 "tlsprobe ca init|issue|revoke|crl|check ...",
	 "Run a small CA of your own.\n"
	 "  ca init DIR             make a root CA and an intermediate in DIR\n"
	 "  ca issue DIR NAME...    issue a certificate for these names (IPs become IP SANs)\n"
	 "  ca revoke DIR NAME      revoke it (or a file, or a serial in hex)\n"
	 "  ca crl DIR              sign the CRL (DIR/crl.pem, DIR/crl.der) to publish at --crl-url\n"
	 "  ca check --cert FILE    lint a setup before deploying it: chain, order, key, names",
	 "  tlsprobe ca init ./myca --name Example\n"
	 "  tlsprobe ca issue ./myca localhost 127.0.0.1\n"
	 "  tlsprobe ca check --ca ./myca/root.pem --cert ./myca/localhost.fullchain.pem \\\n"
	 "      --key ./myca/localhost.key --host localhost\n",
	 1, SIZE_MAX, "ca needs init, issue, revoke, crl or check; see tlsprobe ca --help"},
};
#define N_COMMANDS COUNT(commands)

/*
 * What cli_parse carries from one option to the next: the command line
 * being filled in, and the settings the core takes in pairs (a client
 * certificate and its key, the TLS version bounds, the two thresholds),
 * which are applied once every option has been read.
 */
struct parse {
	struct cli *cli;
	const char *cert, *key, *tls_min, *tls_max;
	int warn, crit;
	char *err;
	size_t errlen;
};

CLI_PRINTF(2, 3) static int fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The core speaks of concepts; flags (or NULL) names the options they came from. */
static int
config_failed(struct parse *p, const char *flags)
{
	return fail(p, "%s%s%s", flags ? flags : "", flags ? ": " : "", tp_config_error(p->cli->cfg));
}

/* As config_failed, for a setting read from a file: the file is at fault. */
static int
file_failed(struct parse *p, const char *flags)
{
	p->cli->failure = FAIL_FILE;
	return config_failed(p, flags);
}

/* An option the table gives to a topic that has no case for it: a mistake
 * in the table, not in the command line. */
static int
misplaced(struct parse *p, const struct opt *o)
{
	return fail(p, "internal error: --%s has no setting in its topic", o->name);
}

static int
parse_int(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > INT_MAX / 2)
		return -1;
	*out = (int)v;
	return 0;
}

/* A whole number from lo to hi. */
static int
parse_range(const char *s, int lo, int hi, int *out)
{
	int v;

	if (parse_int(s, &v) < 0 || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse_seconds_ms(const char *arg, unsigned *ms)
{
	char *end;
	double secs;

	errno = 0;
	secs = strtod(arg, &end);
	if (errno || end == arg || *end || !(secs > 0) || secs > 86400)
		return -1;
	*ms = (unsigned)ceil(secs * 1000);
	return 0;
}

/* The index of arg in names (NULL entries never match), or -1. */
static int
keyword(const char *arg, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(arg, names[i]) == 0)
			return (int)i;
	return -1;
}

/* One more value of a repeatable option, into a list that holds max. */
static int
append(struct parse *p, const char **list, size_t *n, size_t max, const char *what, const char *arg)
{
	if (*n == max)
		return fail(p, "too many %s", what);
	list[(*n)++] = arg;
	return 0;
}

int
cli_parse_time(const char *s, time_t *t)
{
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%MZ",
		"%Y-%m-%dT%H:%M",     "%Y-%m-%d %H:%M",    "%Y-%m-%d",
	};
	struct tm tm;
	char *end;

	if (s[0] == '@') {
		errno = 0;
		long long v = strtoll(s + 1, &end, 10);
		if (errno || end == s + 1 || *end || v <= 0)
			return -1;
		*t = (time_t)v;
		return 0;
	}
	for (size_t i = 0; i < COUNT(formats); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[i], &tm);
		if (end && *end == '\0') {
			*t = timegm(&tm);
			return *t > 0 ? 0 : -1;
		}
	}
	return -1;
}

static const struct command *command_named(const char *name);

int
cli_option_takes_value(const char *name, const char *command, const char **metavar)
{
	const struct command *c = command_named(command);

	for (size_t i = 0; c && i < N_OPTIONS; i++)
		if ((options[i].cmds & c->bit) && strcmp(options[i].name, name) == 0) {
			*metavar = options[i].arg;
			return options[i].arg != NULL;
		}
	return -1;
}

/* Whether some command's option of this long name takes a value. */
static bool
takes_value(const char *name)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strcmp(options[i].name, name) == 0)
			return options[i].arg != NULL;
	return false;
}

static const struct opt *
find(int id, unsigned cmd)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if ((options[i].cmds & cmd) &&
		    ((int)options[i].id == id || (options[i].shortopt && options[i].shortopt == id)))
			return &options[i];
	return NULL;
}

static const struct command *
command_named(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* ---- what a mistyped word was meant to be ------------------------------- */

/* A word this far from a name is a typo of it: at most 2 edits, and fewer
 * than half the name's letters (so "db" is not a typo of "ca"). */
#define TYPO_EDITS 2
/* Longer words are taken as host names, however close. */
#define TYPO_LEN 10

/* Edits (insert, delete, substitute, swap two neighbours) from a to b:
 * the Damerau-Levenshtein distance (optimal string alignment); words of 64
 * bytes or more count as far from everything. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[64][64];

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			bool swapped = i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1];
			if (swapped && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

static bool
is_typo_of(const char *word, const char *name)
{
	size_t d = edit_distance(word, name);

	return d > 0 && d <= TYPO_EDITS && 2 * d < strlen(name);
}

/* The command a first word was meant to be, or NULL: a short word with no
 * dot, colon, bracket or slash (which a host name or target would have) a
 * typo away from a command's name. */
static const struct command *
command_meant(const char *word)
{
	if (strlen(word) >= TYPO_LEN || word[0] == '-' || strpbrk(word, ".:[]/"))
		return NULL;
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (is_typo_of(word, commands[i].name))
			return &commands[i];
	return NULL;
}

/* The option of cmd that the unknown "--name[=value]" was meant to be, or NULL. */
static const struct opt *
option_meant(const char *bad, unsigned cmd)
{
	char name[64];
	size_t len;

	if (strncmp(bad, "--", 2) != 0 || (len = strcspn(bad + 2, "=")) >= sizeof(name))
		return NULL;
	memcpy(name, bad + 2, len);
	name[len] = '\0';
	for (size_t i = 0; i < N_OPTIONS; i++)
		if ((options[i].cmds & cmd) && is_typo_of(name, options[i].name))
			return &options[i];
	return NULL;
}

/* A typo of a command in place of a target: bad usage, not a DNS query. */
static int
command_typo(struct parse *p, const char *word)
{
	const struct command *meant = command_meant(word);

	if (!meant)
		return 0;
	return fail(p,
		    "unknown command '%s': did you mean '%s'? To probe a host named %s: tlsprobe connect %s "
		    "(or %s:443)",
		    word, meant->name, word, word, word);
}

/* ---- the topics: each turns its options into settings ------------------ */

/* --help, --version, and how results are written. */
static int
apply_output(struct parse *p, const struct opt *o, const char *arg)
{
	static const char *const colors[] = {[COLOR_AUTO] = "auto", [COLOR_ALWAYS] = "always", [COLOR_NEVER] = "never"};
	struct cli *cli = p->cli;
	int k;

	switch (o->id) {
	case OPT_COLOR:
		if ((k = keyword(arg, colors, COUNT(colors))) < 0)
			return fail(p, "invalid --color '%s': use auto, always or never", arg);
		cli->color = (enum cli_color)k;
		break;
	case OPT_FORMAT:
		if ((k = keyword(arg, format_names, COUNT(format_names))) < 0)
			return fail(p, "invalid --format '%s': use text, json, nagios, prometheus or tsv", arg);
		cli->format = (enum cli_format)k;
		break;
	case OPT_HELP: cli->help = true; break;
	case OPT_JSON: cli->format = FORMAT_JSON; break;
	case OPT_QUIET: cli->quiet++; break;
	case OPT_SAVE_CHAIN:
		if (!*arg)
			return fail(p, "empty --save-chain: give a file name");
		cli->save_chain = arg;
		break;
	case OPT_VERBOSE: cli->verbose++; break;
	case OPT_WRITE_FULLCHAIN:
		if (!*arg)
			return fail(p, "empty --write-fullchain: give a file name");
		cli->write_fullchain = arg;
		tp_config_set_fullchain(cli->cfg, true);
		break;
	case OPT_VERSION: cli->version = true; break;
	default: return misplaced(p, o);
	}
	return 0;
}

/* What a chain is judged against: trusted CAs, CRLs, the time, the thresholds. */
/* --as LIST: the clients whose verdicts count; "all" is every one. */
static int
parse_clients(struct parse *p, const char *arg)
{
	unsigned mask = 0;
	const char *s = arg;

	while (*s) {
		size_t len = strcspn(s, ",");
		char name[16];
		int c = -1;
		if (len < sizeof(name)) {
			memcpy(name, s, len);
			name[len] = '\0';
			c = strcmp(name, "all") == 0 ? TP_CLIENT_COUNT : tp_client_lookup(name);
		}
		if (c < 0)
			return fail(p,
				    "unknown client '%.*s' in --as: use openssl, gnutls, python, nss, chrome, go, "
				    "java or all, comma separated",
				    (int)len, s);
		mask |= c == TP_CLIENT_COUNT ? TP_CLIENTS_ALL : 1u << c;
		s += len + (s[len] == ',');
	}
	if (!mask)
		return fail(p, "empty --as: name the clients, e.g. --as openssl,python");
	tp_config_set_clients(p->cli->cfg, mask);
	return 0;
}

static int
apply_trust(struct parse *p, const struct opt *o, const char *arg)
{
	struct tp_config *cfg = p->cli->cfg;

	switch (o->id) {
	case OPT_AS:
		if (parse_clients(p, arg) < 0)
			return -1;
		break;
	case OPT_AT:
		if (cli_parse_time(arg, &p->cli->at) < 0)
			return fail(p,
				    "invalid --at '%s': use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) "
				    "or @EPOCH-SECONDS",
				    arg);
		tp_config_set_time(cfg, p->cli->at);
		break;
	case OPT_CA_FILE:
		if (tp_config_add_ca_file(cfg, arg) < 0)
			return file_failed(p, NULL);
		break;
	case OPT_CRIT_DAYS:
		if (parse_int(arg, &p->crit) < 0)
			return fail(p, "invalid --crit-days '%s': give a whole number of days", arg);
		break;
	case OPT_CRL:
		if (tp_config_add_crl_file(cfg, arg) < 0)
			return file_failed(p, NULL);
		break;
	case OPT_INSECURE: tp_config_set_insecure(cfg, true); break;
	case OPT_NO_SYSTEM_CA: tp_config_set_system_ca(cfg, false); break;
	case OPT_OCSP_REQUIRED: tp_config_set_ocsp_required(cfg, true); break;
	case OPT_CACHE_DIR: tp_config_set_cache_dir(cfg, arg); break;
	case OPT_MAX_CRL_SIZE: {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(arg, &end, 10);
		unsigned shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
		if (shift)
			end++;
		if (end == arg || *end || errno || !n || arg[0] == '-' || n > (SIZE_MAX >> shift))
			return fail(p, "invalid --max-crl-size '%s': give bytes, with K, M or G (e.g. 64M)", arg);
		tp_config_set_max_crl_size(cfg, (size_t)(n << shift));
		break;
	}
	case OPT_WARN_DAYS:
		if (parse_int(arg, &p->warn) < 0)
			return fail(p, "invalid --warn-days '%s': give a whole number of days", arg);
		break;
	default: return misplaced(p, o);
	}
	return 0;
}

/* Where a probe connects and what it says first (connect and batch). */
static int
apply_connect(struct parse *p, const struct opt *o, const char *arg)
{
	struct cli *cli = p->cli;
	unsigned ms;

	switch (o->id) {
	case OPT_CONNECT_TO: cli->connect_to = arg; break;
	case OPT_IPV4: tp_config_set_family(cli->cfg, AF_INET); break;
	case OPT_IPV6: tp_config_set_family(cli->cfg, AF_INET6); break;
	case OPT_NO_SNI: cli->no_sni = true; break;
	case OPT_OFFLINE: tp_config_set_download(cli->cfg, NULL); break;
	case OPT_NOPROXY: tp_config_set_noproxy(cli->cfg, arg); break;
	case OPT_PROXY:
		if (tp_config_set_proxy(cli->cfg, arg) < 0)
			return config_failed(p, "--proxy");
		break;
	case OPT_ALL_ADDRESSES: tp_config_set_all_addresses(cli->cfg, true); break;
	case OPT_SNI:
		if (!*arg)
			return fail(p, "empty --sni: give a host name");
		cli->sni = arg;
		break;
	case OPT_STARTTLS:
		if (tp_starttls_known(arg) < 0)
			return fail(p, CLI_UNKNOWN_STARTTLS, arg);
		cli->starttls = arg;
		break;
	case OPT_TIMEOUT:
		if (parse_seconds_ms(arg, &ms) < 0)
			return fail(p, "invalid --timeout '%s': give seconds, more than 0 (e.g. 10 or 2.5)", arg);
		tp_config_set_timeout_ms(cli->cfg, ms);
		break;
	default: return misplaced(p, o);
	}
	return 0;
}

/* What a client offers in the handshake. */
static int
apply_tls(struct parse *p, const struct opt *o, const char *arg)
{
	struct tp_config *cfg = p->cli->cfg;

	switch (o->id) {
	case OPT_ALPN:
		if (tp_config_set_alpn(cfg, arg) < 0)
			return config_failed(p, "--alpn");
		break;
	case OPT_CLIENT_CERT: p->cert = arg; break;
	case OPT_CLIENT_CERT_WAIT: {
		int ms;
		if (parse_range(arg, 1, 60000, &ms) < 0)
			return fail(p, "invalid --client-cert-wait '%s': give milliseconds from 1 to 60000", arg);
		tp_config_set_client_cert_wait_ms(cfg, (unsigned)ms);
		break;
	}
	case OPT_CLIENT_KEY: p->key = arg; break;
	case OPT_PRIORITY: tp_config_set_priority(cfg, arg); break;
	case OPT_TLS_MAX: p->tls_max = arg; break;
	case OPT_TLS_MIN: p->tls_min = arg; break;
	default: return misplaced(p, o);
	}
	return 0;
}

/* tlsprobe fetch: the request and the checks on its answer. */
static int
apply_fetch(struct parse *p, const struct opt *o, const char *arg)
{
	struct fetch_args *fa = &p->cli->fetch;
	unsigned ms;
	int n;

	switch (o->id) {
	case OPT_CONNECT_TO:
		return append(p, fa->connect_to, &fa->o.n_connect_to, COUNT(fa->connect_to), "--connect-to", arg);
	case OPT_DATA: fa->o.data = arg; break;
	case OPT_EXPECT_BODY: fa->o.expect_body = arg; break;
	case OPT_EXPECT_HEADER:
		if (!strchr(arg, ':'))
			return fail(p, "invalid --expect-header '%s': give NAME:VALUE (or NAME: for any value)", arg);
		return append(p, fa->expect_headers, &fa->o.n_expect_headers, COUNT(fa->expect_headers),
			      "--expect-header", arg);
	case OPT_EXPECT_STATUS:
		if (tp_fetch_check_status_list(arg) < 0)
			return fail(p, "invalid --expect-status '%s': give codes and ranges, e.g. 200,301-308", arg);
		fa->o.expect_status = arg;
		break;
	case OPT_HEADER:
		if (!strchr(arg, ':'))
			return fail(p, "invalid --header '%s': give \"Name: value\"", arg);
		return append(p, fa->headers, &fa->o.n_headers, COUNT(fa->headers), "--header", arg);
	case OPT_HTTP11: fa->o.http_version = 1; break;
	case OPT_HTTP2: fa->o.http_version = 2; break;
	case OPT_LOCATION: fa->o.follow = true; break;
	case OPT_MAX_MS:
		if (parse_range(arg, 1, INT_MAX, &n) < 0)
			return fail(p, "invalid --max-ms '%s': give milliseconds, more than 0", arg);
		fa->o.max_ms = n;
		break;
	case OPT_MAX_REDIRS:
		if (parse_int(arg, &n) < 0)
			return fail(p, "invalid --max-redirs '%s': give a number", arg);
		fa->o.max_redirs = n;
		break;
	case OPT_MAX_TIME:
		if (parse_seconds_ms(arg, &ms) < 0)
			return fail(p, "invalid --max-time '%s': give seconds, more than 0", arg);
		tp_config_set_timeout_ms(p->cli->cfg, ms);
		break;
	case OPT_METHOD:
		if (!*arg || strpbrk(arg, " \r\n"))
			return fail(p, "invalid --method '%s'", arg);
		fa->o.method = arg;
		break;
	case OPT_PROXY: fa->o.proxy = arg; break;
	case OPT_RESOLVE: return append(p, fa->resolve, &fa->o.n_resolve, COUNT(fa->resolve), "--resolve", arg);
	default: return misplaced(p, o);
	}
	return 0;
}

/* tlsprobe batch: how many at once, in which order. */
static int
apply_batch(struct parse *p, const struct opt *o, const char *arg)
{
	struct batch_args *b = &p->cli->batch;
	int n;

	switch (o->id) {
	case OPT_ORDERED: b->ordered = true; break;
	case OPT_SCAN: b->scan = true; break;
	case OPT_PARALLEL:
		if (parse_range(arg, 1, 1024, &n) < 0)
			return fail(p, "invalid --parallel '%s': give a number from 1 to 1024", arg);
		b->parallel = (unsigned)n;
		b->parallel_given = true;
		break;
	default: return misplaced(p, o);
	}
	return 0;
}

/* tlsprobe serve: what the reference server serves, where, and to whom. */
static int
apply_serve(struct parse *p, const struct opt *o, const char *arg)
{
	struct serve_args *sv = &p->cli->serve;
	unsigned ms;
	int n;

	switch (o->id) {
	case OPT_ALPN: sv->alpn = arg; break;
	case OPT_BASE_PORT:
		if (parse_range(arg, 1, 65535, &n) < 0)
			return fail(p, "invalid --base-port '%s': give a port from 1 to 65535", arg);
		sv->base_port = n;
		break;
	case OPT_CERT: sv->cert = arg; break;
	case OPT_OCSP_RESPONSE: sv->ocsp_response = arg; break;
	case OPT_CLIENT_CA: sv->client_ca = arg; break;
	case OPT_ECHO: sv->echo = true; break;
	case OPT_HANDSHAKE_TIMEOUT:
		if (parse_seconds_ms(arg, &ms) < 0)
			return fail(p, "invalid --handshake-timeout '%s': give seconds, more than 0", arg);
		sv->handshake_timeout_ms = ms;
		break;
	case OPT_KEY: sv->key = arg; break;
	case OPT_LIST_SCENARIOS: sv->list_scenarios = true; break;
	case OPT_LISTEN: return append(p, sv->listen, &sv->n_listen, COUNT(sv->listen), "--listen addresses", arg);
	case OPT_LOG_JSON: sv->log_json = true; break;
	case OPT_NAME: return append(p, sv->names, &sv->n_names, COUNT(sv->names), "--name values", arg);
	case OPT_REQUEST_CLIENT_CERT: sv->client_cert = 1; break;
	case OPT_REQUEST_TIMEOUT:
		if (parse_seconds_ms(arg, &ms) < 0)
			return fail(p, "invalid --request-timeout '%s': give seconds, more than 0", arg);
		sv->request_timeout_ms = ms;
		break;
	case OPT_REQUIRE_CLIENT_CERT: sv->client_cert = 2; break;
	case OPT_SCENARIO: sv->scenario = arg; break;
	case OPT_WORKERS:
		if (parse_range(arg, 1, 16, &n) < 0)
			return fail(p, "invalid --workers '%s': give a number from 1 to 16", arg);
		sv->workers = (unsigned)n;
		break;
	case OPT_WRITE_CA: sv->write_ca = arg; break;
	case OPT_WRITE_CLIENT_CERT: sv->write_client_cert = arg; break;
	default: return misplaced(p, o);
	}
	return 0;
}

/* tlsprobe exporter: where it listens, its modules, how much it runs at once. */
static int
apply_exporter(struct parse *p, const struct opt *o, const char *arg)
{
	struct exporter_args *ex = &p->cli->exporter;
	int n;

	switch (o->id) {
	case OPT_CONFIG:
		if (!*arg)
			return fail(p, "empty --config: give the YAML file of the modules");
		ex->config = arg;
		break;
	case OPT_LISTEN: return append(p, ex->listen, &ex->n_listen, COUNT(ex->listen), "--listen addresses", arg);
	case OPT_MAX_CONCURRENT:
		if (parse_range(arg, 1, 4096, &n) < 0)
			return fail(p, "invalid --max-concurrent '%s': give a number from 1 to 4096", arg);
		ex->max_concurrent = (unsigned)n;
		break;
	default: return misplaced(p, o);
	}
	return 0;
}

/* tlsprobe ca and tlsprobe cert: the CA's files, and certificates judged from files. */
static int
apply_ca(struct parse *p, const struct opt *o, const char *arg)
{
	static const char *const key_types[] = {
		[TP_KEY_ECDSA] = "ecdsa",
		[TP_KEY_RSA] = "rsa",
		[TP_KEY_ED25519] = "ed25519",
	};
	struct ca_args *ca = &p->cli->ca;
	int n;

	switch (o->id) {
	case OPT_CA: ca->root = arg; break;
	case OPT_CERT: ca->cert = arg; break;
	case OPT_CLIENT: ca->client = true; break;
	case OPT_CSR: ca->csr = arg; break;
	case OPT_CRL_URL: ca->crl_url = arg; break;
	case OPT_OCSP_URL: ca->ocsp_url = arg; break;
	case OPT_REASON: ca->reason = arg; break;
	case OPT_DAYS:
		if (parse_range(arg, 1, 36500, &n) < 0)
			return fail(p, "invalid --days '%s': give a number of days from 1 to 36500", arg);
		ca->days = n;
		break;
	case OPT_FORCE: ca->force = true; break;
	case OPT_HOST: ca->host = arg; break;
	case OPT_KEY: ca->key = arg; break;
	case OPT_KEY_TYPE:
		if ((n = keyword(arg, key_types, COUNT(key_types))) < 0)
			return fail(p, "invalid --key-type '%s': use ecdsa, rsa or ed25519", arg);
		ca->key_type = (enum tp_key_type)n;
		break;
	case OPT_NAME: ca->name = arg; break;
	case OPT_NO_INTERMEDIATE: ca->no_intermediate = true; break;
	case OPT_OUT: ca->out = arg; break;
	case OPT_VERIFY: ca->verify = true; break;
	default: return misplaced(p, o);
	}
	return 0;
}

/* ---- the command line -------------------------------------------------- */

/* The words after the options: as many as the command takes. */
static int
check_args(struct parse *p, const struct command *command)
{
	struct cli *cli = p->cli;

	if (cli->n_targets >= command->min_args && cli->n_targets <= command->max_args)
		return 0;
	if (!command->wrong_args)
		return fail(p, "%s takes no target ('%s'); see tlsprobe %s --help", cli->command, cli->targets[0],
			    cli->command);
	return fail(p, "%s", command->wrong_args);
}

int
cli_parse(struct cli *cli, int argc, char **argv, char *err, size_t errlen)
{
	struct option longopts[N_OPTIONS + 1];
	char shortopts[N_OPTIONS * 2 + 2], *sp = shortopts;
	struct parse p = {.cli = cli, .warn = WARN_DAYS, .crit = CRIT_DAYS, .err = err, .errlen = errlen};
	const struct command *command = &commands[0];
	bool named = false;
	size_t nl = 0;
	int c;

	memset(cli, 0, sizeof(*cli));
	cli->serve.base_port = -1;
	cli->batch.parallel = PARALLEL;
	cli->exporter.max_concurrent = PARALLEL;
	cli->fetch.o.max_redirs = -1;
	cli->fetch.o.headers = cli->fetch.headers;
	cli->fetch.o.resolve = cli->fetch.resolve;
	cli->fetch.o.connect_to = cli->fetch.connect_to;
	cli->fetch.o.expect_headers = cli->fetch.expect_headers;
	cli->cfg = tp_config_create();
	if (!cli->cfg) {
		cli->failure = FAIL_INTERNAL;
		return fail(&p, "out of memory");
	}
	/* Online checks unless --offline: libcurl, loaded when one is made;
	 * their answers kept in the user's cache directory (--cache-dir). */
	tp_config_set_download(cli->cfg, tp_fetch_download);
	{
		const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
		char dir[4096] = "";
		if (xdg && *xdg == '/')
			snprintf(dir, sizeof(dir), "%s/tlsprobe", xdg);
		else if (home && *home == '/')
			snprintf(dir, sizeof(dir), "%s/.cache/tlsprobe", home);
		tp_config_set_cache_dir(cli->cfg, dir);
	}
	/* The command, when named, comes first; a probe needs no name. */
	if (argc > 1 && command_named(argv[1])) {
		command = command_named(argv[1]);
		named = true;
		argv++;
		argc--;
	} else if (argc > 1 && command_typo(&p, argv[1]) < 0) {
		return -1;
	}
	cli->command = command->name;
	cli->cmd = command->bit;
	cli->run = command->run;

	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (!(options[i].cmds & cli->cmd))
			continue;
		longopts[nl++] = (struct option){options[i].name, options[i].arg ? required_argument : no_argument,
						 NULL, (int)options[i].id};
		if (options[i].shortopt) {
			*sp++ = options[i].shortopt;
			if (options[i].arg)
				*sp++ = ':';
		}
	}
	*sp = '\0';
	longopts[nl] = (struct option){0};

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct opt *o;
		if (c == '?') {
			const char *bad = argv[optind - 1];
			if (optopt && find(optopt, cli->cmd) && find(optopt, cli->cmd)->arg)
				return fail(&p, "option %s needs a value; see tlsprobe %s --help", bad, cli->command);
			for (size_t i = 0; i < N_OPTIONS; i++) {
				size_t len = strlen(options[i].name);
				if (strncmp(bad, "--", 2) == 0 && strncmp(bad + 2, options[i].name, len) == 0 &&
				    (bad[2 + len] == '\0' || bad[2 + len] == '=')) {
					for (size_t k = 0; k < N_COMMANDS; k++)
						if (options[i].cmds & commands[k].bit)
							return fail(&p, "option --%s is for tlsprobe %s, not %s",
								    options[i].name, commands[k].name, cli->command);
				}
			}
			if ((o = option_meant(bad, cli->cmd)))
				return fail(&p, "unknown option '%s': did you mean --%s? See tlsprobe %s --help", bad,
					    o->name, cli->command);
			return fail(&p, "unknown option '%s'; see tlsprobe %s --help", bad, cli->command);
		}
		if (!(o = find(c, cli->cmd)))
			return fail(&p, "bad option '%s'; see tlsprobe %s --help", argv[optind - 1], cli->command);
		if (o->apply(&p, o, optarg) < 0)
			return -1;
	}
	if (cli->help || cli->version)
		return 0;
	cli->targets = argv + optind;
	cli->n_targets = (size_t)(argc - optind);
	/* "tlsprobe -q serv": the first word, after the options. */
	if (!named && cli->n_targets && command_typo(&p, cli->targets[0]) < 0)
		return -1;
	/* serve and demo judge no chain: the probe's settings are not theirs. */
	if (!(cli->cmd & JUDGE))
		return check_args(&p, command);
	if ((p.cert || p.key) && tp_config_set_client_cert(cli->cfg, p.cert, p.key) < 0)
		return file_failed(&p, "--client-cert/--client-key");
	if ((p.tls_min || p.tls_max) && tp_config_set_tls_versions(cli->cfg, p.tls_min, p.tls_max) < 0)
		return config_failed(&p, "--tls-min/--tls-max");
	if (tp_config_set_expiry_days(cli->cfg, p.warn, p.crit) < 0)
		return config_failed(&p, "--warn-days/--crit-days");
	cli->warn_days = p.warn;
	cli->crit_days = p.crit;
	/* Settings that can only be checked together (the priority string,
	 * the client key) are checked now, so bad usage fails before any probe. */
	if (tp_config_ready(cli->cfg) < 0)
		return config_failed(&p, NULL);
	if (check_args(&p, command) < 0)
		return -1;
	if (cli->save_chain && cli->n_targets > 1)
		return fail(&p, "--save-chain writes the chain of one server: give one target");
	if (cli->write_fullchain && cli->n_targets > 1)
		return fail(&p, "--write-fullchain writes the chain of one server: give one target");
	return 0;
}

enum cli_format
cli_format_asked(int argc, char **argv)
{
	enum cli_format format = FORMAT_TEXT;
	int k;

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i], *value = NULL;
		if (strcmp(a, "--json") == 0)
			format = FORMAT_JSON;
		else if (strncmp(a, "--format=", 9) == 0)
			value = a + 9;
		else if (strcmp(a, "--format") == 0 && i + 1 < argc)
			value = argv[++i];
		else if (a[0] == '-' && a[1] != '-' && a[1] && find(a[1], ALL) && find(a[1], ALL)->arg && !a[2])
			i++; /* "-H value": the value is no option */
		else if (strncmp(a, "--", 2) == 0 && !strchr(a, '=') && takes_value(a + 2))
			i++;
		if (value && (k = keyword(value, format_names, COUNT(format_names))) >= 0)
			format = (enum cli_format)k;
	}
	return format;
}

void
cli_finish(struct cli *cli)
{
	tp_config_destroy(cli->cfg);
	cli->cfg = NULL;
}

void
cli_help(FILE *out, const char *name)
{
	const struct command *command = command_named(name);

	if (!command)
		command = &commands[0];
	fprintf(out, "Usage: %s\n\n%s\n", command->usage, command->about);
	if (command->bit == CMD_CONNECT) {
		fprintf(out, "\nCommands:\n");
		for (size_t i = 0; i < N_COMMANDS; i++)
			fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	}
	for (int g = 0; g < G_COUNT; g++) {
		bool header = false;
		for (size_t i = 0; i < N_OPTIONS; i++) {
			const struct opt *o = &options[i];
			char left[64];
			if (o->group != (enum opt_group)g || !(o->cmds & command->bit))
				continue;
			if (!header)
				fprintf(out, "\n%s:\n", group_names[g]);
			header = true;
			if (o->shortopt)
				snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shortopt, o->name, o->arg ? " " : "",
					 o->arg ? o->arg : "");
			else
				snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
					 o->arg ? o->arg : "");
			fprintf(out, "  %-33s %s\n", left, o->help);
		}
	}
	fprintf(out,
		"\n"
		"%s\n"
		"\n"
		"Examples:\n%s"
		"\n"
		"See tlsprobe(1) and tlsprobe-json(7).\n",
		command->bit == CMD_EXPORTER
			? "Exit status: 0 after SIGTERM or SIGINT, 3 when it cannot start (bad usage, a bad --config)."
			: "Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (bad usage, unreadable file).",
		command->examples);
}

void
cli_version(FILE *out)
{
	fprintf(out, "tlsprobe %s\nGnuTLS %s\nlibcurl %s\njansson %s\n", TLSPROBE_VERSION, gnutls_check_version(NULL),
		tp_fetch_curl_version(), jansson_version_str());
}
