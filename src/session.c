/*
 * session.c: the GnuTLS client session. Runs the handshake on a connected
 * socket within the deadline, names what was negotiated, and turns a failed
 * handshake into a reason code: the server's alert, a port that answered in
 * plain text, a connection cut short.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <gnutls/abstract.h>

#include "chain.h"
#include "clock.h"
#include "clients.h"
#include "session.h"

/* TLS record content type of an alert (RFC 8446, 5.1). */
#define TLS_ALERT_RECORD 21

/* The transport: the socket, and the first bytes the server sent, kept to
 * tell a port that does not speak TLS from a TLS failure. */
struct io {
	struct tp_cert_ask ask; /* first: the session's user pointer is the io */
	int fd;
	unsigned char first[64];
	size_t nfirst;
	size_t nread;
	bool eof;
	/* The records the server sent, counted from their headers as they
	 * arrive, to name a flood GnuTLS only calls an internal error. */
	unsigned char hdr[5];
	size_t hdr_len;
	size_t body_left, body_seen;
	size_t records, alerts, empty;
	unsigned char first_alert[2]; /* level, description */
};

static void
tally(struct io *io, const unsigned char *p, size_t n)
{
	while (n) {
		if (io->body_left == 0) {
			io->hdr[io->hdr_len++] = *p++;
			n--;
			if (io->hdr_len < sizeof(io->hdr))
				continue;
			io->hdr_len = 0;
			io->body_left = (size_t)io->hdr[3] << 8 | io->hdr[4];
			io->body_seen = 0;
			io->records++;
			io->alerts += io->hdr[0] == TLS_ALERT_RECORD;
			io->empty += io->body_left == 0;
			continue;
		}
		size_t take = n < io->body_left ? n : io->body_left;
		for (size_t i = 0; i < take && io->hdr[0] == TLS_ALERT_RECORD && io->alerts == 1; i++)
			if (io->body_seen + i < sizeof(io->first_alert))
				io->first_alert[io->body_seen + i] = p[i];
		io->body_seen += take;
		io->body_left -= take;
		p += take;
		n -= take;
	}
}

static ssize_t
io_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct io *io = p;
	ssize_t n = recv(io->fd, buf, len, 0);

	if (n > 0) {
		size_t keep = sizeof(io->first) - io->nfirst;
		if (keep > (size_t)n)
			keep = (size_t)n;
		memcpy(io->first + io->nfirst, buf, keep);
		io->nfirst += keep;
		io->nread += (size_t)n;
		tally(io, buf, (size_t)n);
	} else if (n == 0) {
		io->eof = true;
	}
	return n;
}

static ssize_t
io_push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
	struct io *io = p;
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
	return sendmsg(io->fd, &msg, MSG_NOSIGNAL);
}

const char *
tp_version_name(gnutls_protocol_t v)
{
	switch (v) {
	case GNUTLS_SSL3: return "SSLv3";
	case GNUTLS_TLS1_0: return "TLSv1.0";
	case GNUTLS_TLS1_1: return "TLSv1.1";
	case GNUTLS_TLS1_2: return "TLSv1.2";
	case GNUTLS_TLS1_3: return "TLSv1.3";
	default: return gnutls_protocol_get_name(v);
	}
}

/* Wait for the socket in the direction GnuTLS wants; 0 on timeout. */
static int
wait_io(gnutls_session_t s, int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = gnutls_record_get_direction(s) ? POLLOUT : POLLIN};
	int n;

	do
		n = poll(&pfd, 1, ms);
	while (n < 0 && errno == EINTR);
	return n;
}

/* What the first bytes of a non-TLS answer look like, in words. */
static void
describe_plaintext(const struct io *io, char *buf, size_t len)
{
	/* Greetings servers send before the client says a word, by their first bytes. */
	static const struct {
		const char *starts;
		const char *words;
	} greetings[] = {
		{"HTTP/", "an HTTP response: this is a plain-HTTP port, not HTTPS"},
		{"SSH-", "an SSH banner: this is an SSH port"},
		{"220 ", "a '220' greeting, as SMTP, LMTP and FTP servers send: try --starttls smtp (or lmtp, ftp), "
			 "or the implicit-TLS port (465 for SMTP)"},
		{"220-", "a '220' greeting, as SMTP, LMTP and FTP servers send: try --starttls smtp (or lmtp, ftp), "
			 "or the implicit-TLS port (465 for SMTP)"},
		{"* OK", "an IMAP greeting: try --starttls imap, or port 993"},
		{"+OK", "a POP3 greeting: try --starttls pop3, or port 995"},
		{"200 ", "an NNTP greeting: try --starttls nntp, or port 563"},
		{"201 ", "an NNTP greeting: try --starttls nntp, or port 563"},
		/* (only a record header's worth, five bytes, is kept) */
		{"\"IMPL", "a ManageSieve greeting: try --starttls sieve"},
		{"\"SIEV", "a ManageSieve greeting: try --starttls sieve"},
	};
	const char *p = (const char *)io->first;
	size_t n = io->nfirst, shown = 0;
	char sample[40];

	for (size_t i = 0; i < sizeof(greetings) / sizeof(greetings[0]); i++)
		if (n >= strlen(greetings[i].starts) &&
		    memcmp(p, greetings[i].starts, strlen(greetings[i].starts)) == 0) {
			snprintf(buf, len, "%s", greetings[i].words);
			return;
		}
	if (n >= 2 && p[0] == ':' && isalnum((unsigned char)p[1])) {
		snprintf(buf, len, "a line starting ':', as IRC servers send: try --starttls irc, or port 6697");
		return;
	}
	/* MySQL's handshake packet: a 3-byte length, sequence 0, protocol 10. */
	if (n >= 5 && io->first[3] == 0 && io->first[4] == 10 && io->first[2] == 0) {
		snprintf(buf, len, "a MySQL or MariaDB handshake: try --starttls mysql");
		return;
	}
	/* Show a short, safe sample: printable ASCII as is, the rest as dots. */
	for (size_t i = 0; i < n && shown + 1 < sizeof(sample) && p[i] != '\n' && p[i] != '\r'; i++)
		sample[shown++] = isprint((unsigned char)p[i]) ? p[i] : '.';
	sample[shown] = '\0';
	snprintf(buf, len, "bytes that are not a TLS record (starting \"%s\")", sample);
}

static bool
looks_like_tls(const struct io *io)
{
	/* A TLS record starts with a content type 20..23 and major version 3. */
	if (io->nfirst == 0)
		return true;
	if (io->first[0] < 0x14 || io->first[0] > 0x17)
		return false;
	return io->nfirst < 2 || io->first[1] == 0x03;
}

/* The alert's name as RFC 8446 writes it: protocol_version. */
static void
alert_name(gnutls_alert_description_t a, char *buf, size_t len)
{
	const char *n = gnutls_alert_get_strname(a);
	size_t i = 0;

	if (!n) {
		snprintf(buf, len, "%d", (int)a);
		return;
	}
	if (strncmp(n, "GNUTLS_A_", 9) == 0)
		n += 9;
	for (; n[i] && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)n[i]);
	buf[i] = '\0';
}

/* GnuTLS refused the server's handshake signature for its certificate's keyUsage. */
static void
explain_key_usage(gnutls_session_t s, struct tp_findings *f)
{
	unsigned usage = 0, critical = 0;
	gnutls_x509_crt_t crt = tp_chain_peer(s);
	struct tp_problem *p;
	bool is_ca = true;
	char *name = NULL;

	if (crt) {
		name = tp_chain_cn(crt);
		is_ca = tp_chain_is_ca(crt);
		gnutls_x509_crt_get_key_usage(crt, &usage, &critical);
		gnutls_x509_crt_deinit(crt);
	}
	if (gnutls_kx_get(s) == GNUTLS_KX_RSA && !is_ca && !(usage & GNUTLS_KEY_KEY_ENCIPHERMENT)) {
		/* TLS 1.2 RSA key exchange encrypts to the certificate's key. */
		p = tp_fail(f, TP_PURPOSE_MISMATCH,
			    "the server chose RSA key exchange, which encrypts to its certificate's key, but "
			    "'%s' has no keyUsage keyEncipherment",
			    name ? name : "?");
		tp_problem_set_fix(p, "Reissue the certificate with keyUsage keyEncipherment as well as "
				      "digitalSignature, or have the server prefer ECDHE cipher suites (RSA key "
				      "exchange has no forward secrecy).");
	} else if (is_ca) {
		p = tp_fail(f, TP_PURPOSE_MISMATCH,
			    "the server signed the handshake with %s%s%s, whose keyUsage does not allow it (no "
			    "digitalSignature): a CA certificate served as the server's own",
			    name ? "the CA certificate '" : "a CA certificate", name ? name : "", name ? "'" : "");
		tp_problem_set_fix(p, "Serve a server certificate (a leaf with keyUsage digitalSignature and "
				      "extendedKeyUsage serverAuth) issued by the CA, not the CA's own certificate.");
	} else {
		p = tp_fail(f, TP_PURPOSE_MISMATCH,
			    "the server's certificate '%s' has a keyUsage without digitalSignature%s, and the server "
			    "must sign the handshake with it (always in TLS 1.3, and with any ECDSA key)",
			    name ? name : "?", usage & GNUTLS_KEY_KEY_ENCIPHERMENT ? " (keyEncipherment only)" : "");
		tp_problem_set_fix(p, "Reissue the certificate with keyUsage digitalSignature (keyEncipherment "
				      "alone suits only the old RSA key exchange of TLS 1.2).");
	}
	free(name);
}

/* A handshake that ended in a flood of alerts or empty records: say so. */
static bool
named_flood(struct tp_findings *f, const struct io *io, int ret)
{
	struct tp_problem *p;
	char name[48];

	if (io->alerts > 1) {
		alert_name((gnutls_alert_description_t)io->first_alert[1], name, sizeof(name));
		p = tp_fail(f, TP_HANDSHAKE_FAILURE,
			    "the server sent %zu alerts (the first: %s %s) in %zu records instead "
			    "of a handshake, and GnuTLS gave up (%s)",
			    io->alerts, io->first_alert[0] == GNUTLS_AL_WARNING ? "warning" : "fatal", name,
			    io->records, gnutls_strerror(ret));
	} else if (io->empty && io->empty == io->records) {
		p = tp_fail(f, TP_HANDSHAKE_FAILURE,
			    "the server sent %s empty record%s instead of a handshake, and GnuTLS "
			    "gave up (%s)",
			    io->empty == 1 ? "an" : "only", io->empty == 1 ? "" : "s", gnutls_strerror(ret));
	} else {
		return false;
	}
	tp_problem_set_fix(p, "Something on that port answers TLS with records that carry no handshake: check what "
			      "listens there (ss -ltnp on the server) and any proxy or load balancer in front of "
			      "it; a TLS server answers the client's hello with a ServerHello.");
	return true;
}

/* The short name of the client certificate sent (free it), or NULL. */
static char *
client_cert_name(const struct tp_config *cfg)
{
	gnutls_x509_crt_t crt;
	char *cn = NULL;

	if (!cfg->client_pcert_n || gnutls_x509_crt_init(&crt) < 0)
		return NULL;
	if (gnutls_x509_crt_import(crt, &cfg->client_pcert[0].cert, GNUTLS_X509_FMT_DER) == 0)
		cn = tp_chain_cn(crt);
	gnutls_x509_crt_deinit(crt);
	return cn;
}

/* The server refused the client certificate sent, and its alert says why. */
static void
client_cert_rejected(struct tp_findings *f, const struct tp_config *cfg, gnutls_alert_description_t a,
		     const char *alert)
{
	char *cn = client_cert_name(cfg);
	struct tp_problem *p = tp_fail(f, TP_CLIENT_CERT_REJECTED,
				       "the server rejected the client certificate '%s' that was sent (alert %s)",
				       cn ? cn : "?", alert);

	switch ((int)a) {
	case GNUTLS_A_UNKNOWN_CA:
		if (cfg->client_pcert_n == 1)
			tp_problem_set_fix(
				p,
				"The server does not know the CA that issued '%s', and %s holds the "
				"certificate alone: send its chain too (cat client.pem intermediate.pem > "
				"client-chain.pem; --client-cert client-chain.pem), or have the server trust "
				"the issuing CA (nginx ssl_client_certificate, Apache SSLCACertificateFile).",
				cn ? cn : "it", cfg->client_cert_file);
		else
			tp_problem_set_fix(p,
					   "The server does not trust the CA '%s' chains to: have the server trust it "
					   "(nginx ssl_client_certificate, Apache SSLCACertificateFile), or use a "
					   "certificate from a CA it trusts.",
					   cn ? cn : "the certificate");
		break;
	case GNUTLS_A_BAD_CERTIFICATE:
		/* GnuTLS servers say bad_certificate for an issuer they do not know. */
		if (cfg->client_pcert_n == 1)
			tp_problem_set_fix(
				p,
				"The server finds '%s' unacceptable: if it does not know its issuer (GnuTLS "
				"servers say bad_certificate for that), send its chain too (cat client.pem "
				"intermediate.pem > client-chain.pem; --client-cert client-chain.pem); "
				"otherwise check that it has extendedKeyUsage clientAuth and is not expired.",
				cn ? cn : "the certificate");
		break;
	case GNUTLS_A_CERTIFICATE_EXPIRED:
		tp_problem_set_fix(p,
				   "The server says '%s' (or a CA in its chain) expired, or is not valid yet: renew "
				   "it (tlsprobe ca issue --client), or check the server's clock.",
				   cn ? cn : "the certificate");
		break;
	case GNUTLS_A_ACCESS_DENIED:
		tp_problem_set_fix(p, "The server verified the certificate but does not let this client in: check "
				      "its access rules for the certificate's subject.");
		break;
	case GNUTLS_A_DECRYPT_ERROR:
		tp_problem_set_fix(p, "The server could not verify the signature made with the client key: the key "
				      "does not belong to the certificate, or the server cannot use its type.");
		break;
	case GNUTLS_A_CERTIFICATE_REVOKED:
		tp_problem_set_fix(p, "The server says the client certificate was revoked: issue a new one.");
		break;
	default: break;
	}
	free(cn);
}

static void
handshake_failed(struct tp_handshake *h, struct tp_findings *f, gnutls_session_t s, const struct io *io, int ret)
{
	char what[160];

	if (!looks_like_tls(io)) {
		describe_plaintext(io, what, sizeof(what));
		tp_fail(f, TP_NOT_TLS, "the server answered with %s", what);
		return;
	}
	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		gnutls_alert_description_t a = gnutls_alert_get(s);
		char name[48];
		alert_name(a, name, sizeof(name));
		switch ((int)a) {
		case GNUTLS_A_PROTOCOL_VERSION:
			tp_fail(f, TP_PROTOCOL_VERSION, "the server refused the TLS versions offered (alert %s)", name);
			return;
		case GNUTLS_A_CERTIFICATE_REQUIRED:
			tp_fail(f, TP_CLIENT_CERT_REQUIRED,
				"the server requires a client certificate and none was sent (alert %s)", name);
			return;
		case GNUTLS_A_UNRECOGNIZED_NAME: {
			struct tp_problem *p =
				tp_fail(f, TP_HANDSHAKE_FAILURE, "the server does not serve the name %s (alert %s)",
					h->sni ? h->sni : "(no SNI sent)", name);
			if (h->sni)
				tp_problem_set_fix(p,
						   "Check the name: the server has no site (virtual host, server "
						   "block) for '%s'. Probe the name it serves with --sni NAME, or add "
						   "a site with a certificate for this one.",
						   h->sni);
			else
				tp_problem_set_fix(p, "The server wants a server name (SNI) and none was sent, as "
						      "happens when probing by IP address: add --sni NAME.");
			return;
		}
		default: break;
		}
		if (io->ask.requested && !io->ask.sent) {
			tp_fail(f, TP_CLIENT_CERT_REQUIRED,
				"the server asked for a client certificate, none was sent, and it ended the "
				"handshake (alert %s)",
				name);
			return;
		}
		if (io->ask.requested && io->ask.sent) {
			client_cert_rejected(f, io->ask.cfg, a, name);
			return;
		}
		if (a == GNUTLS_A_HANDSHAKE_FAILURE || a == GNUTLS_A_INSUFFICIENT_SECURITY) {
			h->offer_refused = true;
			tp_fail(f, TP_HANDSHAKE_FAILURE,
				"the server ended the handshake with alert %s: it found nothing acceptable "
				"in the client's offer (cipher suites, groups or signature algorithms)",
				name);
			return;
		}
		tp_fail(f, TP_HANDSHAKE_FAILURE, "the server ended the handshake with alert %s", name);
		return;
	}
	switch (ret) {
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
		tp_fail(f, TP_PROTOCOL_VERSION, "the server chose a TLS version this client does not allow (%s)",
			gnutls_strerror(ret));
		return;
	case GNUTLS_E_NO_CIPHER_SUITES:
	case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
	case GNUTLS_E_NO_PRIORITIES_WERE_SET:
		h->offer_refused = true;
		tp_fail(f, TP_NO_SHARED_CIPHER, "no cipher suite in common with the server (%s)", gnutls_strerror(ret));
		return;
	case GNUTLS_E_KEY_USAGE_VIOLATION: explain_key_usage(s, f); return;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		if (io->nread == 0)
			tp_fail(f, TP_HANDSHAKE_FAILURE,
				"the server closed the connection without answering the TLS hello%s",
				io->eof ? "" : " (connection reset)");
		else
			tp_fail(f, TP_HANDSHAKE_FAILURE,
				"the server %s the connection in the middle of the handshake, after %zu bytes",
				io->eof ? "closed" : "reset", io->nread);
		return;
	default:
		if (named_flood(f, io, ret))
			return;
		tp_fail(f, TP_HANDSHAKE_FAILURE, "the handshake failed: %s", gnutls_strerror(ret));
		return;
	}
}

/* A TLS 1.2 DHE group of the server's own making (not an RFC 7919 one): its size. */
static void
weak_dh(struct tp_tls_facts *tls, struct tp_findings *f, int bits)
{
	struct tp_problem *p;

	if (bits <= 0)
		return;
	free(tls->kx_name);
	tls->kx_name = tp_strdupf("DH-%d", bits);
	tls->info.kx_group = tls->kx_name;
	if (bits >= 2048)
		return;
	p = tp_find(f, TP_WEAK_KEY, -1,
		    "the server's DHE key exchange used a %d-bit group, below 2048 bits: such groups can be "
		    "broken by a well-funded attacker (Logjam), and stricter clients refuse them",
		    bits);
	tp_problem_set_fix(p, "Give the server a DH group of 2048 bits or more (an RFC 7919 group such as "
			      "ffdhe2048; nginx ssl_dhparam, Apache SSLOpenSSLConfCmd DHParameters), or prefer ECDHE "
			      "cipher suites.");
	tp_problem_rule(p, TP_RULE_DH_WEAK);
}

static void
collect(struct tp_tls_facts *tls, struct tp_findings *f, gnutls_session_t s, const struct io *io)
{
	gnutls_datum_t alpn, ocsp;
	gnutls_group_t g = gnutls_group_get(s);
	gnutls_sign_algorithm_t sig = gnutls_sign_algorithm_get(s);

	tls->done = true;
	tls->info.version = tp_version_name(gnutls_protocol_get_version(s));
	tls->info.cipher = gnutls_ciphersuite_get(s);
	tls->info.kx_group = g ? gnutls_group_get_name(g) : NULL;
	tls->info.sig_alg = sig != GNUTLS_SIGN_UNKNOWN ? gnutls_sign_get_name(sig) : NULL;
	gnutls_kx_algorithm_t kx = gnutls_kx_get(s);
	if (!g && (kx == GNUTLS_KX_DHE_RSA || kx == GNUTLS_KX_DHE_DSS))
		weak_dh(tls, f, gnutls_dh_get_prime_bits(s));
	if (gnutls_alpn_get_selected_protocol(s, &alpn) == 0) {
		tls->alpn = tp_utf8_clean((const char *)alpn.data, alpn.size);
		tls->info.alpn = tls->alpn;
	}
	tls->info.resumed = gnutls_session_is_resumed(s);
	tls->info.client_cert_requested = io->ask.requested;
	tls->info.client_cert_sent = io->ask.sent;
	if (gnutls_ocsp_status_request_get2(s, 0, &ocsp) == 0 && ocsp.size) {
		tls->ocsp_der.data = gnutls_malloc(ocsp.size);
		if (tls->ocsp_der.data) {
			memcpy(tls->ocsp_der.data, ocsp.data, ocsp.size);
			tls->ocsp_der.size = ocsp.size;
		}
	}
}

/*
 * In TLS 1.3 the client's handshake is over before the server has read the
 * client's certificate, so a server that rejects it (or its absence) only
 * says so afterwards, with an alert. Read until the server's verdict: a
 * session ticket or data (accepted), an alert or a close (rejected), or the
 * end of the wait: --client-cert-wait, by default a round trip or two. When
 * the wait runs out the verdict is unknown, and the report says so.
 */
static void
await_verdict_on_client_cert(struct tp_handshake *h, const struct tp_config *cfg, struct tp_findings *f,
			     gnutls_session_t s, int fd, const struct io *io, const struct tp_deadline *d)
{
	char buf[512];
	unsigned budget = cfg->client_cert_wait_ms ? cfg->client_cert_wait_ms : (unsigned)(4 * h->connect_ms) + 150;
	struct tp_deadline wait;
	struct tp_problem *p;

	tp_deadline_start(&wait, budget);
	for (;;) {
		int left = tp_deadline_left(&wait), dl = tp_deadline_left(d);
		if (dl < left)
			left = dl;
		ssize_t n = gnutls_record_recv(s, buf, sizeof(buf));
		if (n > 0 || (gnutls_session_get_flags(s) & GNUTLS_SFLAGS_SESSION_TICKET))
			return;
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			if (left > 0 && wait_io(s, fd, left) > 0)
				continue;
			p = tp_find(f, TP_CLIENT_CERT_UNCONFIRMED, -1,
				    "the server asked for a client certificate, %s, and then said nothing within %u ms "
				    "(no session ticket, data, alert or close): a rejection it sends later would not "
				    "be seen",
				    io->ask.sent ? "one was sent" : "none was sent", budget);
			tp_problem_set_fix(p,
					   "Wait longer for the server's answer with --client-cert-wait MS; a "
					   "server that sends a session ticket after the handshake (most do) answers "
					   "at once.");
			return;
		}
		if (n == GNUTLS_E_FATAL_ALERT_RECEIVED) {
			/* The handshake did complete: the chain is still worth
			 * examining, but the probe ends in this error. */
			handshake_failed(h, f, s, io, (int)n);
			return;
		}
		if (n < 0 && !gnutls_error_is_fatal((int)n))
			continue;
		if ((n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION || n == GNUTLS_E_PULL_ERROR) && !io->ask.sent)
			tp_fail(f, TP_CLIENT_CERT_REQUIRED,
				"the server asked for a client certificate, none was sent, and it closed the "
				"connection right after the handshake without saying why");
		else if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION || n == GNUTLS_E_PULL_ERROR)
			tp_fail(f, TP_CLIENT_CERT_REJECTED,
				"the server closed the connection right after the handshake without saying why: it "
				"most likely rejected the client certificate that was sent");
		return;
	}
}

gnutls_session_t
tp_session_handshake(struct tp_handshake *h, struct tp_tls_facts *tls, const struct tp_config *cfg, int fd,
		     const struct tp_deadline *d, struct tp_findings *f)
{
	gnutls_session_t s = NULL;
	struct io *io = calloc(1, sizeof(*io));
	double t0 = tp_now_ms();
	int ret;

	if (!io || gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK | (h->early ? GNUTLS_ENABLE_EARLY_DATA : 0)) < 0) {
		tp_fail(f, TP_INTERNAL_ERROR, "cannot create a TLS session");
		goto fail;
	}
	io->fd = fd;
	io->ask.cfg = cfg;
	gnutls_session_set_ptr(s, io);
	gnutls_transport_set_ptr(s, io);
	gnutls_transport_set_pull_function(s, io_pull);
	gnutls_transport_set_vec_push_function(s, io_push);

	if ((ret = gnutls_priority_set(s, h->prio ? h->prio : cfg->prio)) < 0 ||
	    (ret = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cfg->cred)) < 0) {
		tp_fail(f, TP_INTERNAL_ERROR, "cannot configure the TLS session: %s", gnutls_strerror(ret));
		goto fail;
	}
	if (h->sni && (ret = gnutls_server_name_set(s, GNUTLS_NAME_DNS, h->sni, strlen(h->sni))) < 0) {
		tp_fail(f, TP_INTERNAL_ERROR, "cannot set the server name: %s", gnutls_strerror(ret));
		goto fail;
	}
	if (h->resume && (ret = gnutls_session_set_data(s, h->resume->data, h->resume->size)) < 0) {
		tp_fail(f, TP_INTERNAL_ERROR, "cannot set the session to resume: %s", gnutls_strerror(ret));
		goto fail;
	}
	/* Early data goes out with the hello; whether the server took it,
	 * gnutls_session_get_flags() says after the handshake. */
	if (h->resume && h->early && gnutls_record_send_early_data(s, h->early->data, h->early->size) < 0)
		h->early = NULL;
	/* Ask for a stapled OCSP response; what it says is judged later. */
	gnutls_ocsp_status_request_enable_client(s, NULL, 0, NULL);
	if (h->alpn) {
		gnutls_datum_t one = {(unsigned char *)h->alpn, (unsigned)strlen(h->alpn)};
		if ((ret = gnutls_alpn_set_protocols(s, &one, 1, 0)) < 0) {
			tp_fail(f, TP_INTERNAL_ERROR, "cannot set ALPN: %s", gnutls_strerror(ret));
			goto fail;
		}
	} else if (cfg->alpn) {
		gnutls_datum_t protos[TP_MAX_ALPN];
		unsigned n = tp_alpn_split(cfg->alpn, protos);
		if ((ret = gnutls_alpn_set_protocols(s, protos, n, 0)) < 0) {
			tp_fail(f, TP_INTERNAL_ERROR, "cannot set ALPN: %s", gnutls_strerror(ret));
			goto fail;
		}
	}

	for (;;) {
		ret = gnutls_handshake(s);
		if (ret == 0)
			break;
		if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
			int left = tp_deadline_left(d);
			if (left > 0 && wait_io(s, fd, left) > 0)
				continue;
			h->handshake_ms = tp_now_ms() - t0;
			if (!looks_like_tls(io))
				handshake_failed(h, f, s, io, ret);
			else if (io->nread == 0)
				tp_fail(f, TP_TIMEOUT,
					"connected, but the server sent nothing within the %.1f s timeout "
					"(a TLS server answers the client's hello at once)",
					d->ms / 1000.0);
			else
				tp_fail(f, TP_TIMEOUT,
					"the handshake stalled after %zu bytes from the server and did not "
					"finish within the %.1f s timeout",
					io->nread, d->ms / 1000.0);
			goto fail;
		}
		if (!gnutls_error_is_fatal(ret))
			continue;
		h->handshake_ms = tp_now_ms() - t0;
		handshake_failed(h, f, s, io, ret);
		goto fail;
	}
	collect(tls, f, s, io);
	if (io->ask.requested && gnutls_protocol_get_version(s) == GNUTLS_TLS1_3)
		await_verdict_on_client_cert(h, cfg, f, s, fd, io, d);
	h->handshake_ms = tp_now_ms() - t0;
	/* The transport pointer outlives this function; the session owns it
	 * through its user pointer and tp_session_free() releases both. */
	return s;
fail:
	if (s)
		gnutls_deinit(s);
	free(io);
	return NULL;
}

int
tp_session_ticket(gnutls_session_t s, int fd, const struct tp_deadline *d, int wait_ms, gnutls_datum_t *out)
{
	struct tp_deadline wait;
	char buf[4096];

	out->data = NULL;
	out->size = 0;
	tp_deadline_start(&wait, (unsigned)(wait_ms < tp_deadline_left(d) ? wait_ms : tp_deadline_left(d)));
	/* A TLS 1.3 ticket is a message after the handshake: read until it came. */
	while (gnutls_protocol_get_version(s) == GNUTLS_TLS1_3 &&
	       !(gnutls_session_get_flags(s) & GNUTLS_SFLAGS_SESSION_TICKET)) {
		ssize_t n = gnutls_record_recv(s, buf, sizeof(buf));
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			int left = tp_deadline_left(&wait);
			if (left <= 0 || wait_io(s, fd, left) <= 0)
				break;
		} else if (n < 0 && gnutls_error_is_fatal((int)n)) {
			break;
		} else if (n == 0) {
			break;
		}
	}
	if (gnutls_session_get_data2(s, out) < 0 || out->size == 0)
		return -1;
	return 0;
}

void
tp_session_free(gnutls_session_t s)
{
	if (!s)
		return;
	free(gnutls_session_get_ptr(s));
	gnutls_deinit(s);
}
