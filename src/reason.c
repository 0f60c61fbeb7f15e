/*
 * reason.c: the reason codes, the contract with scripts. Each code has a
 * stable name, a default severity, a title for the verdict line and a fix.
 * Messages with the facts are written where the problem is found.
 */
#include <string.h>

#include "tlsprobe.h"

#define SERVER_CHAIN_FIX \
	"On the server, send the leaf certificate followed by every intermediate, in order " \
	"(the root is not needed). nginx: ssl_certificate must point to the full chain file " \
	"(e.g. fullchain.pem); Apache: SSLCertificateFile must contain the leaf and then the " \
	"intermediates; HAProxy: one PEM with leaf, intermediates and key."

#define CLIENT_TRUST_FIX \
	"If the server is meant to have a public certificate, it was issued by the wrong CA. If you " \
	"trust this root, give its certificate (root.pem) to the clients (tlsprobe --ca-file root.pem)."

/* MUST follow the order of enum tp_code. */
/* Laid out by hand, one entry per code. */
/* clang-format off */
static const struct tp_reason reasons[TP_CODE_COUNT] = {
	[TP_CODE_NONE] = {TP_CODE_NONE, "none", TP_STATUS_OK, "all checks passed", ""},
	[TP_DNS_FAILURE] = {TP_DNS_FAILURE, "dns-failure", TP_STATUS_CRITICAL, "host name does not resolve",
		"Check the spelling of the host name and this machine's DNS (getent hosts NAME); "
		"use an IP address with --sni NAME to bypass DNS."},
	[TP_CONNECTION_REFUSED] = {TP_CONNECTION_REFUSED, "connection-refused", TP_STATUS_CRITICAL,
		"connection refused",
		"Nothing accepts connections on that port: check the port number, that the server is "
		"running and listening on this address (ss -ltnp on the server), and firewalls that reject."},
	[TP_CONNECTION_FAILED] = {TP_CONNECTION_FAILED, "connection-failed", TP_STATUS_CRITICAL,
		"cannot connect",
		"Check the address, the route to it (ip route get ADDRESS) and firewalls on the way."},
	[TP_TIMEOUT] = {TP_TIMEOUT, "timeout", TP_STATUS_CRITICAL, "timed out",
		"The server did not answer in time: check for a firewall that drops packets, that this port "
		"speaks TLS from the first byte (for SMTP, IMAP and the like use --starttls), "
		"or allow more time with --timeout."},
	[TP_NOT_TLS] = {TP_NOT_TLS, "not-tls", TP_STATUS_CRITICAL, "the port does not speak TLS",
		"Probe the port that serves TLS (e.g. 443 for HTTPS rather than 80), or, for a protocol "
		"that upgrades a plain connection, use --starttls PROTO."},
	[TP_PROTOCOL_VERSION] = {TP_PROTOCOL_VERSION, "protocol-version", TP_STATUS_CRITICAL,
		"no common TLS version",
		"Enable TLS 1.2 and TLS 1.3 on the server (TLS 1.0 and 1.1 are deprecated and refused by "
		"current clients); to inspect an old server anyway, use --tls-min 1.0."},
	[TP_NO_SHARED_CIPHER] = {TP_NO_SHARED_CIPHER, "no-shared-cipher", TP_STATUS_CRITICAL,
		"no common cipher suite",
		"Enable modern cipher suites on the server (ECDHE with AES-GCM or ChaCha20-Poly1305); "
		"to inspect it anyway, widen the client's choice with --priority."},
	[TP_CLIENT_CERT_REQUIRED] = {TP_CLIENT_CERT_REQUIRED, "client-cert-required", TP_STATUS_CRITICAL,
		"server requires a client certificate",
		"This server uses mutual TLS: pass --client-cert FILE --client-key FILE with a certificate "
		"issued by a CA the server trusts (curl: --cert/--key)."},
	[TP_CLIENT_CERT_REJECTED] = {TP_CLIENT_CERT_REJECTED, "client-cert-rejected", TP_STATUS_CRITICAL,
		"server rejected the client certificate",
		"Use a client certificate the server accepts: issued by a CA in its client CA list, not "
		"expired, with extendedKeyUsage clientAuth, sent with its intermediates."},
	[TP_HANDSHAKE_FAILURE] = {TP_HANDSHAKE_FAILURE, "handshake-failure", TP_STATUS_CRITICAL,
		"TLS handshake failed",
		"Compare the server's TLS settings with the client's (--tls-min, --tls-max, --priority) "
		"and read the server's error log for the reason it gave."},
	[TP_STARTTLS_REFUSED] = {TP_STARTTLS_REFUSED, "starttls-refused", TP_STATUS_CRITICAL,
		"STARTTLS refused",
		"The server did not agree to upgrade the connection: check that TLS is enabled for this "
		"service and that the right --starttls protocol is used."},
	[TP_PROXY_FAILED] = {TP_PROXY_FAILED, "proxy-failed", TP_STATUS_CRITICAL, "the proxy did not connect",
		"The proxy refused or failed the tunnel to the target: read its answer in the message, check "
		"that it allows this host and port (tinyproxy ConnectPort, squid SSL_ports), its address and "
		"credentials, or bypass it with --noproxy HOST."},
	[TP_FETCH_FAILED] = {TP_FETCH_FAILED, "fetch-failed", TP_STATUS_CRITICAL, "HTTP request failed",
		"Read curl's words in the message: the server may have closed the connection, answered with "
		"something that is not HTTP, or redirected too often."},
	[TP_INVALID_TARGET] = {TP_INVALID_TARGET, "invalid-target", TP_STATUS_UNKNOWN, "not a valid target",
		"Write one target per line: host, host:port, [v6addr]:port or https://URL, optionally "
		"followed by --sni NAME; lines starting with # are comments."},
	[TP_INTERNAL_ERROR] = {TP_INTERNAL_ERROR, "internal-error", TP_STATUS_UNKNOWN, "internal error",
		"This is a bug or a resource problem on this machine; run again with -v and report it."},
	[TP_HTTP_STATUS] = {TP_HTTP_STATUS, "http-status", TP_STATUS_CRITICAL, "unexpected HTTP status",
		"The server answered with a status the check does not accept: look at the URL, the server's "
		"logs and its configuration for this path, or widen --expect-status."},
	[TP_BODY_MISMATCH] = {TP_BODY_MISMATCH, "body-mismatch", TP_STATUS_CRITICAL,
		"response body lacks the expected text",
		"The page does not say what it should: the application may be failing behind a working "
		"server, or serving another site for this name."},
	[TP_HEADER_MISMATCH] = {TP_HEADER_MISMATCH, "header-mismatch", TP_STATUS_CRITICAL,
		"expected header missing",
		"The response lacks a header it should have: check the server's or application's header "
		"configuration (e.g. nginx add_header) for this location."},
	[TP_TOO_SLOW] = {TP_TOO_SLOW, "too-slow", TP_STATUS_CRITICAL, "response too slow",
		"The request took longer than --max-ms: see which stage took the time (dns, connect, tls, "
		"first byte) in the timings, and look there."},
	[TP_INSECURE_REDIRECT] = {TP_INSECURE_REDIRECT, "insecure-redirect", TP_STATUS_CRITICAL,
		"redirected to plain HTTP",
		"The redirects lead from HTTPS to an http:// URL, so the final answer travels in the clear: "
		"make the server redirect to https://, and send HSTS (Strict-Transport-Security)."},
	[TP_NO_CLOSE_NOTIFY] = {TP_NO_CLOSE_NOTIFY, "no-close-notify", TP_STATUS_WARNING,
		"connection closed without close_notify",
		"The server closed the connection without TLS close_notify, so a cut-off response would look "
		"complete: send a Content-Length (or chunked encoding) with every response, and have the "
		"server shut TLS down before closing the socket (Python ssl: unwrap(); most servers do)."},
	[TP_REVOKED] = {TP_REVOKED, "revoked", TP_STATUS_CRITICAL, "certificate revoked",
		"The CA has revoked this certificate: install a newly issued one on the server now."},
	[TP_EXPIRED] = {TP_EXPIRED, "expired", TP_STATUS_CRITICAL, "certificate expired",
		"Renew the certificate (certbot renew, or your CA's process), install it on the server "
		"and reload the server; then probe again."},
	[TP_NOT_YET_VALID] = {TP_NOT_YET_VALID, "not-yet-valid", TP_STATUS_CRITICAL,
		"certificate not yet valid",
		"Check this machine's clock (date -u) and the server's; if both are right, the certificate "
		"was issued with a start date in the future: wait for it, or reissue it."},
	[TP_SELF_SIGNED] = {TP_SELF_SIGNED, "self-signed", TP_STATUS_CRITICAL, "self-signed certificate",
		"Replace it with a certificate from a CA the clients trust, or, for a private service, "
		"trust this exact certificate on each client (tlsprobe --ca-file cert.pem)."},
	[TP_MISSING_INTERMEDIATE] = {TP_MISSING_INTERMEDIATE, "missing-intermediate", TP_STATUS_CRITICAL,
		"intermediate certificate missing", SERVER_CHAIN_FIX},
	[TP_UNTRUSTED_ROOT] = {TP_UNTRUSTED_ROOT, "untrusted-root", TP_STATUS_CRITICAL,
		"root CA not trusted", CLIENT_TRUST_FIX},
	[TP_UNKNOWN_ISSUER] = {TP_UNKNOWN_ISSUER, "unknown-issuer", TP_STATUS_CRITICAL, "issuer unknown",
		"Make the server send its full chain, and make sure the client trusts the root it ends at."},
	[TP_ISSUER_NOT_CA] = {TP_ISSUER_NOT_CA, "issuer-not-ca", TP_STATUS_CRITICAL,
		"issuer is not a CA",
		"Issue the certificate from a real CA certificate (basicConstraints CA:TRUE with keyUsage "
		"keyCertSign); an end-entity certificate cannot sign others."},
	[TP_PATHLEN_EXCEEDED] = {TP_PATHLEN_EXCEEDED, "pathlen-exceeded", TP_STATUS_CRITICAL,
		"CA path length exceeded",
		"A CA's basicConstraints pathlen forbids as many CAs below it as the chain has: reissue that CA "
		"with a larger pathlen (or none), or issue from a CA higher up."},
	[TP_NAME_CONSTRAINTS] = {TP_NAME_CONSTRAINTS, "name-constraints", TP_STATUS_CRITICAL,
		"name outside the CA's constraints",
		"A CA's nameConstraints do not allow a name the certificate carries: issue the certificate "
		"only for names inside the CA's permitted subtrees, or from a CA without that constraint."},
	[TP_KEY_MISMATCH] = {TP_KEY_MISMATCH, "key-mismatch", TP_STATUS_CRITICAL,
		"key does not match the certificate",
		"The private key is not the one the certificate was issued for: find the key that goes with "
		"it (compare 'openssl x509 -noout -pubkey' with 'openssl pkey -pubout'), or issue a new "
		"certificate for this key."},
	[TP_SIGNATURE_FAILURE] = {TP_SIGNATURE_FAILURE, "signature-failure", TP_STATUS_CRITICAL,
		"signature does not verify",
		"A signature in the chain is wrong: the server sends an issuer certificate with the right "
		"name but another key, or a certificate was altered. Install the chain your CA issued."},
	[TP_HOSTNAME_MISMATCH] = {TP_HOSTNAME_MISMATCH, "hostname-mismatch", TP_STATUS_CRITICAL,
		"certificate does not match the name",
		"Connect with a name the certificate covers, or reissue the certificate with this name in "
		"its subjectAltName (clients ignore the CN when SANs are present)."},
	[TP_PURPOSE_MISMATCH] = {TP_PURPOSE_MISMATCH, "purpose-mismatch", TP_STATUS_CRITICAL,
		"certificate not for TLS servers",
		"Reissue the leaf as a server certificate: extendedKeyUsage must include serverAuth "
		"(TLS Web Server Authentication)."},
	[TP_INSECURE_ALGORITHM] = {TP_INSECURE_ALGORITHM, "insecure-algorithm", TP_STATUS_CRITICAL,
		"insecure signature algorithm",
		"Reissue the certificate with a SHA-256 (or stronger) signature; SHA-1 and MD5 signatures "
		"are refused by current clients."},
	[TP_VERIFY_FAILED] = {TP_VERIFY_FAILED, "verify-failed", TP_STATUS_CRITICAL,
		"chain does not verify",
		"Read GnuTLS's words in the message; check the chain with tlsprobe -v."},
	[TP_OCSP_MISSING] = {TP_OCSP_MISSING, "ocsp-missing", TP_STATUS_CRITICAL, "no OCSP response stapled",
		"Enable OCSP stapling on the server: nginx 'ssl_stapling on; ssl_stapling_verify on;' with a "
		"resolver; Apache 'SSLUseStapling On' with an SSLStaplingCache; HAProxy a .ocsp file or "
		"'ocsp-update on'. The server must be able to reach its CA's OCSP responder."},
	[TP_CHAIN_ORDER] = {TP_CHAIN_ORDER, "chain-order", TP_STATUS_WARNING, "chain out of order",
		"Serve the leaf first, then its issuer, then that one's issuer, and no unrelated "
		"certificates."},
	[TP_KEY_ID_MISMATCH] = {TP_KEY_ID_MISMATCH, "key-id-mismatch", TP_STATUS_WARNING,
		"authority key identifier does not match",
		"A certificate's authorityKeyIdentifier differs from its issuer's subjectKeyIdentifier, so "
		"clients that build paths by key identifier will not find the issuer: reissue it from the "
		"issuer it names, or serve the issuer it was really signed by."},
	[TP_UNKNOWN_CRITICAL_EXTENSION] = {TP_UNKNOWN_CRITICAL_EXTENSION, "unknown-critical-extension",
		TP_STATUS_CRITICAL, "unknown critical extension",
		"A certificate carries an extension marked critical that clients do not know, so they must "
		"refuse it (RFC 5280 4.2): reissue it without that extension, or with it marked non-critical."},
	[TP_PROFILE_VIOLATION] = {TP_PROFILE_VIOLATION, "profile-violation", TP_STATUS_WARNING,
		"certificate breaks RFC 5280",
		"The certificate breaks a rule of the RFC 5280 profile that some clients enforce: reissue it "
		"from a CA that follows the profile (the message names the rule)."},
	[TP_OBSOLETE_PROTOCOL] = {TP_OBSOLETE_PROTOCOL, "obsolete-protocol", TP_STATUS_CRITICAL,
		"obsolete TLS version",
		"Enable TLS 1.2 and TLS 1.3 on the server: TLS 1.0 and 1.1 are deprecated (RFC 8996) and "
		"current clients refuse them."},
	[TP_WEAK_CIPHER] = {TP_WEAK_CIPHER, "weak-cipher", TP_STATUS_CRITICAL, "weak cipher suites accepted",
		"Offer only AEAD suites with forward secrecy: nginx 'ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;', "
		"Apache 'SSLCipherSuite ECDHE+AESGCM:ECDHE+CHACHA20', HAProxy 'ssl-default-bind-ciphers "
		"ECDHE+AESGCM:ECDHE+CHACHA20' in global."},
	[TP_TLS_COMPRESSION] = {TP_TLS_COMPRESSION, "tls-compression", TP_STATUS_CRITICAL, "TLS compression enabled",
		"Turn TLS compression off (it leaks secrets, CRIME): Apache 'SSLCompression off'; with OpenSSL, "
		"the option no_comp (SSL_OP_NO_COMPRESSION); update a server whose library still compresses."},
	[TP_INSECURE_RENEGOTIATION] = {TP_INSECURE_RENEGOTIATION, "insecure-renegotiation", TP_STATUS_CRITICAL,
		"no secure renegotiation",
		"Update the server's TLS library: every one maintained since 2010 supports secure renegotiation "
		"(RFC 5746); until then, disable renegotiation (Apache 'SSLInsecureRenegotiation off')."},
	[TP_WEAK_DH] = {TP_WEAK_DH, "weak-dh", TP_STATUS_WARNING, "small DH group",
		"Use a DH group of at least 2048 bits (openssl dhparam -out dh.pem 2048; nginx 'ssl_dhparam "
		"dh.pem;', Apache 'SSLOpenSSLConfCmd DHParameters dh.pem', HAProxy 'ssl-dh-param-file dh.pem'), or "
		"drop the DHE suites for ECDHE."},
	[TP_NO_FORWARD_SECRECY] = {TP_NO_FORWARD_SECRECY, "no-forward-secrecy", TP_STATUS_WARNING,
		"suites without forward secrecy",
		"Drop the suites with RSA key exchange and offer ECDHE ones: nginx 'ssl_ciphers ECDHE+AESGCM;', "
		"Apache 'SSLCipherSuite ECDHE+AESGCM', HAProxy 'ssl-default-bind-ciphers ECDHE+AESGCM'."},
	[TP_NO_FALLBACK_SCSV] = {TP_NO_FALLBACK_SCSV, "no-fallback-scsv", TP_STATUS_WARNING,
		"no downgrade protection",
		"Update the server's TLS library to one that honours TLS_FALLBACK_SCSV (RFC 7507), or enable only "
		"TLS 1.2 and 1.3."},
	[TP_CLIENT_CIPHER_ORDER] = {TP_CLIENT_CIPHER_ORDER, "client-cipher-order", TP_STATUS_WARNING,
		"server does not choose the suite",
		"Make the server choose by its own order: nginx 'ssl_prefer_server_ciphers on;', Apache "
		"'SSLHonorCipherOrder on', HAProxy 'prefer-client-ciphers' removed; or offer only strong suites."},
	[TP_NO_TLS13] = {TP_NO_TLS13, "no-tls13", TP_STATUS_WARNING, "no TLS 1.3",
		"Enable TLS 1.3: nginx 'ssl_protocols TLSv1.2 TLSv1.3;', Apache 'SSLProtocol -all +TLSv1.2 "
		"+TLSv1.3', HAProxy 'ssl-min-ver TLSv1.2' (with OpenSSL 1.1.1 or later)."},
	[TP_ADDRESSES_DIFFER] = {TP_ADDRESSES_DIFFER, "addresses-differ", TP_STATUS_WARNING,
		"addresses serve different certificates",
		"Install the same certificate on every server behind the name: one left out of a renewal "
		"fails when its certificate expires."},
	[TP_CLIENT_CERT_UNCONFIRMED] = {TP_CLIENT_CERT_UNCONFIRMED, "client-cert-unconfirmed", TP_STATUS_WARNING,
		"client certificate verdict unknown",
		"The server did not answer within the wait after the handshake, so whether it accepted the "
		"client certificate (or its absence) is unknown: wait longer with --client-cert-wait MS."},
	[TP_OUTLIVES_ISSUER] = {TP_OUTLIVES_ISSUER, "outlives-issuer", TP_STATUS_WARNING,
		"certificate outlives its issuer",
		"The certificate is valid after its issuer expires and will stop working then: issue it "
		"with an end date before the issuer's, or renew the issuing CA first."},
	[TP_WEAK_KEY] = {TP_WEAK_KEY, "weak-key", TP_STATUS_WARNING, "weak key",
		"Reissue the certificate with an RSA key of 2048 bits or more, or an ECDSA P-256 key."},
	[TP_OCSP_INVALID] = {TP_OCSP_INVALID, "ocsp-invalid", TP_STATUS_WARNING, "stapled OCSP response unusable",
		"The server staples an OCSP response that clients cannot use (stale, not signed by the CA, or "
		"about another certificate): check the server's stapling setup, that it can reach the CA's "
		"OCSP responder, and that it refreshes the response before its next update."},
	[TP_CRL_INVALID] = {TP_CRL_INVALID, "crl-invalid", TP_STATUS_WARNING, "CRL not usable",
		"The CRL given with --crl is not signed by the CA it names (a forged, corrupted or wrong "
		"file): fetch the CRL from the CA's CRL distribution point again."},
	[TP_CRL_STALE] = {TP_CRL_STALE, "crl-stale", TP_STATUS_WARNING, "CRL out of date",
		"Fetch a current CRL from the CA (its CRL distribution point) and probe again; revocations "
		"after the CRL's next-update time are not in it."},
	[TP_REVOCATION_UNKNOWN] = {TP_REVOCATION_UNKNOWN, "revocation-unknown", TP_STATUS_WARNING,
		"revocation status unknown",
		"The CA's OCSP responder named in the certificate did not give a usable answer, so whether the "
		"certificate is revoked is unknown: check that the responder is reachable from here (a proxy: "
		"--proxy), or staple OCSP on the server (nginx ssl_stapling on) so that clients need not ask."},
	[TP_EXPIRES_SOON] = {TP_EXPIRES_SOON, "expires-soon", TP_STATUS_WARNING,
		"certificate expires soon",
		"Renew the certificate before it expires and install it on the server; automate renewal "
		"(certbot renew, or your CA's ACME client) so this never reaches zero."},
};
/* clang-format on */

const struct tp_reason *
tp_reason_get(enum tp_code code)
{
	if ((unsigned)code >= TP_CODE_COUNT)
		return &reasons[TP_INTERNAL_ERROR];
	return &reasons[code];
}

enum tp_code
tp_reason_lookup(const char *name)
{
	for (int i = 0; i < TP_CODE_COUNT; i++)
		if (strcmp(reasons[i].name, name) == 0)
			return (enum tp_code)i;
	return TP_CODE_NONE;
}

bool
tp_code_is_error(enum tp_code code)
{
	return code >= TP_DNS_FAILURE && code <= TP_INTERNAL_ERROR;
}

const char *
tp_status_name(enum tp_status status)
{
	static const char *names[] = {"ok", "warning", "critical", "unknown"};
	if ((unsigned)status > TP_STATUS_UNKNOWN)
		return "unknown";
	return names[status];
}
