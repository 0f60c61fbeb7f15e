/*
 * probe.c: one probe from start to end: connect, STARTTLS, handshake, the
 * chain and its diagnosis, and a second look when the server refused what
 * was offered; and the same examination of a chain read from files. It only
 * orchestrates: each step is another module's, and returns what it found.
 */
#include <gnutls/pkcs7.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "clients.h"
#include "clock.h"
#include "diagnose.h"
#include "net.h"
#include "probe.h"
#include "session.h"
#include "starttls.h"
#include "trust.h"

/* Read ders[0..n) into r and, with verify, diagnose the chain for name
 * (with online checks within d, when not NULL). */
static void
examine(struct tp_result *r, const struct tp_config *cfg, const gnutls_datum_t *ders, size_t n, const char *name,
	time_t now, bool verify, const struct tp_deadline *d)
{
	gnutls_x509_crt_t *certs = NULL;

	if (tp_chain_read(&r->chain, &certs, ders, n, now, &r->found) == 0 && verify) {
		struct tp_chain_in in = {
			.certs = certs,
			.facts = &r->chain,
			.from_file = r->target.port == 0,
			.handshake = r->tls.done,
			.ocsp = r->tls.ocsp_der.size ? &r->tls.ocsp_der : NULL,
			.deadline = d,
			.rev = r->revocation = calloc(r->chain.n ? r->chain.n : 1, sizeof(*r->revocation)),
		};
		tp_diagnose(&r->verdict, &r->ocsp, &r->found, cfg, &in, name, now);
	}
	tp_chain_free(certs, n);
}

/* ---- a missing issuer, downloaded from the URL its subject names ------ */

enum { AIA_DEPTH = 4, AIA_MAX_BYTES = 1 << 20 };

/* The certificates of what an AIA URL served: a PKCS #7 bundle (DER or
 * PEM), PEM certificates, or one DER certificate. How many, into out. */
static size_t
parse_issuers(const gnutls_datum_t *body, gnutls_x509_crt_t *out, size_t max)
{
	gnutls_x509_crt_t *list = NULL;
	unsigned count = 0;
	gnutls_pkcs7_t p7;
	size_t n = 0;

	if (gnutls_pkcs7_init(&p7) == 0) {
		if (gnutls_pkcs7_import(p7, body, GNUTLS_X509_FMT_DER) == 0 ||
		    gnutls_pkcs7_import(p7, body, GNUTLS_X509_FMT_PEM) == 0) {
			int k = gnutls_pkcs7_get_crt_count(p7);
			for (int i = 0; i < k && n < max; i++) {
				gnutls_datum_t d = {NULL, 0};
				if (gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &d) < 0)
					continue;
				if (gnutls_x509_crt_init(&out[n]) == 0) {
					if (gnutls_x509_crt_import(out[n], &d, GNUTLS_X509_FMT_DER) == 0)
						n++;
					else
						gnutls_x509_crt_deinit(out[n]);
				}
				gnutls_free(d.data);
			}
		}
		gnutls_pkcs7_deinit(p7);
		if (n)
			return n;
	}
	if (gnutls_x509_crt_list_import2(&list, &count, body, GNUTLS_X509_FMT_PEM, 0) == 0) {
		for (unsigned i = 0; i < count; i++) {
			if (n < max)
				out[n++] = list[i];
			else
				gnutls_x509_crt_deinit(list[i]);
		}
		gnutls_free(list);
		if (n)
			return n;
	}
	if (gnutls_x509_crt_init(&out[0]) == 0) {
		if (gnutls_x509_crt_import(out[0], body, GNUTLS_X509_FMT_DER) == 0)
			return 1;
		gnutls_x509_crt_deinit(out[0]);
	}
	return 0;
}

/* The issuer of crt from the first of its AIA caIssuers URLs that serves
 * it (DER, into *der); its URL in url. -1 with what happened in why. */
static int
download_issuer(const struct tp_config *cfg, gnutls_x509_crt_t crt, const char *who, const struct tp_deadline *d,
		gnutls_datum_t *der, char *url, size_t url_len, char *why, size_t why_len)
{
	int tried = 0;

	*why = '\0';
	for (unsigned seq = 0; seq < 16; seq++) {
		gnutls_datum_t u = {NULL, 0}, body = {NULL, 0};
		gnutls_x509_crt_t got[8];
		char err[300];
		size_t n;
		int ret = gnutls_x509_crt_get_authority_info_access(crt, seq, GNUTLS_IA_CAISSUERS_URI, &u, NULL);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (ret < 0)
			continue;
		snprintf(url, url_len, "%.*s", (int)u.size, (const char *)u.data);
		gnutls_free(u.data);
		if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
			continue;
		tried++;
		if (tp_deadline_left(d) <= 0) {
			snprintf(why, why_len, "no time was left to download it from %.400s (--timeout)", url);
			return -1;
		}
		bool cached, signed_it = false;
		if (tp_config_download(cfg, url, AIA_MAX_BYTES, d, &body, &cached, err, sizeof(err)) < 0) {
			snprintf(why, why_len, "downloading it from %.400s failed: %.300s", url, err);
			continue;
		}
		n = parse_issuers(&body, got, sizeof(got) / sizeof(*got));
		/* What holds an issuer that signed is kept for a day. */
		for (size_t k = 0; k < n; k++)
			signed_it |= tp_chain_signed_by(crt, got[k]);
		if (!cached)
			tp_config_keep(cfg, url, &body, signed_it ? time(NULL) + 86400 : 0);
		free(body.data);
		if (!n)
			snprintf(why, why_len, "%.400s served no certificate (%u bytes, neither DER, PEM nor PKCS #7)",
				 url, body.size);
		for (size_t i = 0; i < n; i++) {
			if (!der->data && tp_chain_signed_by(crt, got[i]) &&
			    gnutls_x509_crt_export2(got[i], GNUTLS_X509_FMT_DER, der) < 0)
				der->data = NULL;
			gnutls_x509_crt_deinit(got[i]);
		}
		if (der->data)
			return 0;
		if (n)
			snprintf(why, why_len, "%.400s served %zu certificate%s, none of which signed '%.200s'", url, n,
				 n == 1 ? "" : "s", who);
	}
	if (!tried)
		snprintf(why, why_len, "it names no http:// or https:// URL to download it from");
	return -1;
}

/* The path's certificates in order, less a self-signed root at its end:
 * what the server should send. */
static void
keep_fullchain(struct tp_result *r, const struct tp_result *from, const gnutls_datum_t *ders)
{
	size_t len = from->verdict.path_len;

	if (!from->verdict.trusted || !len)
		return;
	if (len > 1 && from->chain.certs[from->verdict.path[len - 1]].self_signed)
		len--;
	if (!(r->fullchain = calloc(len, sizeof(*r->fullchain))))
		return;
	for (size_t k = 0; k < len; k++) {
		const gnutls_datum_t *src = &ders[from->verdict.path[k]];
		if (!(r->fullchain[k].data = malloc(src->size)))
			break;
		memcpy(r->fullchain[k].data, src->data, src->size);
		r->fullchain[k].size = src->size;
		r->n_fullchain++;
	}
}

/*
 * When the chain misses an issuer that its top certificate names a URL for
 * (AIA caIssuers), download it as Chrome does, and up to AIA_DEPTH more
 * above it, and say whether the chain then verifies. The finding stays
 * what it is (most clients do not download), its message says what the
 * download found, and its rule whether Chrome would accept. And whatever
 * happened, keep the chain the server should send when it is known.
 */
static void
complete_chain(struct tp_result *r, const struct tp_config *cfg, const gnutls_datum_t *sent, size_t n_sent,
	       const char *name, time_t now, const struct tp_deadline *d, double *spent)
{
	double t0 = tp_now_ms();

	gnutls_datum_t ders[TP_MAX_CERTS], got[AIA_DEPTH];
	struct tp_problem *p = NULL;
	size_t n = 0, n_got = 0;
	gnutls_x509_crt_t cur = NULL;
	char fetched[1200] = "", why[1200] = "";

	for (size_t i = 0; i < r->found.n && !p; i++)
		if (r->found.problems[i].code == TP_MISSING_INTERMEDIATE)
			p = &r->found.problems[i];
	if (!p || !cfg->download || p->cert_index < 0 || (size_t)p->cert_index >= r->chain.n ||
	    !r->chain.certs[p->cert_index].n_ca_issuers) {
		if (cfg->want_fullchain)
			keep_fullchain(r, r, sent);
		return;
	}
	for (; n < n_sent && n < TP_MAX_CERTS - AIA_DEPTH; n++)
		ders[n] = sent[n];
	if (gnutls_x509_crt_init(&cur) < 0 ||
	    gnutls_x509_crt_import(cur, &sent[p->cert_index], GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(cur);
		return;
	}
	*spent = 0;
	while (n_got < AIA_DEPTH) {
		gnutls_datum_t der = {NULL, 0};
		char url[512], *who = tp_chain_cn(cur), *cn;
		gnutls_x509_crt_t next;
		bool owned = false, done;
		int ret = download_issuer(cfg, cur, who ? who : "?", d, &der, url, sizeof(url), why, sizeof(why));
		free(who);
		if (ret < 0) {
			/* Above a downloaded issuer, no URL is no failure: the chain is judged as it is. */
			if (n_got && strncmp(why, "it names no", 11) == 0)
				*why = '\0';
			break;
		}
		if (gnutls_x509_crt_init(&next) < 0 || gnutls_x509_crt_import(next, &der, GNUTLS_X509_FMT_DER) < 0) {
			gnutls_free(der.data);
			break;
		}
		got[n_got++] = der;
		ders[n++] = der;
		cn = tp_chain_cn(next);
		snprintf(fetched + strlen(fetched), sizeof(fetched) - strlen(fetched), "%s'%.100s' from %.160s",
			 n_got > 1 ? " and " : "", cn ? cn : "?", url);
		free(cn);
		/* Up to a root, or to a certificate the trust store vouches for. */
		gnutls_x509_crt_t anchor =
			tp_chain_is_self_signed(next) ? NULL : tp_trust_issuer(cfg->trust, next, true, &owned);
		done = tp_chain_is_self_signed(next) || anchor;
		if (anchor && owned)
			gnutls_x509_crt_deinit(anchor);
		gnutls_x509_crt_deinit(cur);
		cur = next;
		if (done)
			break;
	}
	gnutls_x509_crt_deinit(cur);
	*spent = tp_now_ms() - t0;
	if (!n_got) {
		tp_problem_append(p, "%s", why);
		tp_problem_rule(p, TP_RULE_NO_ISSUER);
		return;
	}
	struct tp_result *shadow = tp_result_create(&r->target);
	if (shadow) {
		shadow->tls.done = r->tls.done;
		examine(shadow, cfg, ders, n, name, now, true, NULL);
		if (shadow->verdict.trusted) {
			tp_problem_append(
				p,
				"tlsprobe downloaded %s (the URL the certificate names), and with it the chain "
				"verifies: Chrome does the same and accepts, most other clients do not",
				fetched);
			tp_problem_rule(p, TP_RULE_NO_ISSUER_FETCHED);
			if (p->fix)
				tp_problem_set_fix(
					p,
					"%s tlsprobe --write-fullchain FILE writes that chain, the leaf then "
					"the downloaded issuer%s, ready to install.",
					p->fix, n_got > 1 ? "s" : "");
			if (cfg->want_fullchain)
				keep_fullchain(r, shadow, ders);
		} else {
			/* What keeps it from verifying: the first finding about the chain. */
			const struct tp_problem *still = NULL;
			for (size_t i = 0; i < shadow->found.n && !still; i++)
				if (shadow->found.problems[i].code != TP_EXPIRES_SOON)
					still = &shadow->found.problems[i];
			tp_problem_append(p,
					  "tlsprobe downloaded %s, but even with it the chain does not verify: %s%s%s",
					  fetched, still ? still->message : "?", *why ? "; above it, " : "", why);
			tp_problem_rule(p, TP_RULE_NO_ISSUER);
		}
		tp_result_destroy(shadow);
	}
	for (size_t i = 0; i < n_got; i++)
		gnutls_free(got[i].data);
}

void
tp_examine_into(struct tp_result *r, const struct tp_config *cfg, const gnutls_datum_t *ders, size_t n,
		const char *name, time_t now)
{
	examine(r, cfg, ders, n, name, now, true, NULL);
}

/* The first certificate that is not a CA: where a file's leaf is. */
static size_t
find_leaf(const gnutls_datum_t *certs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		gnutls_x509_crt_t crt;
		bool ca = true;
		if (gnutls_x509_crt_init(&crt) < 0)
			return 0;
		if (gnutls_x509_crt_import(crt, &certs[i], GNUTLS_X509_FMT_DER) == 0)
			ca = tp_chain_is_ca(crt);
		gnutls_x509_crt_deinit(crt);
		if (!ca)
			return i;
	}
	return 0;
}

struct tp_result *
tp_examine_unjudged(struct tp_config *cfg, const char *label, const gnutls_datum_t *certs, size_t n, const char *name,
		    bool verify)
{
	struct tp_target t = {.input = (char *)label, .host = (char *)label};
	struct tp_result *r = tp_result_create(&t);
	double t0 = tp_now_ms();
	size_t leaf = n ? find_leaf(certs, n) : 0;
	gnutls_datum_t *order = NULL;

	if (!r)
		return NULL;
	/*
	 * A file that starts with a CA certificate, the leaf further down:
	 * a server would present the CA as its own. Judge the chain as it
	 * should be, leaf first, and say so.
	 */
	if (leaf && (order = malloc(n * sizeof(*order)))) {
		order[0] = certs[leaf];
		for (size_t i = 0, k = 1; i < n; i++)
			if (i != leaf)
				order[k++] = certs[i];
	}
	if (n == 0)
		tp_fail(&r->found, TP_INTERNAL_ERROR, "no certificate to examine");
	else
		examine(r, cfg, order ? order : certs, n, name, tp_config_now(cfg), verify, NULL);
	if (order && r->chain.n > 1) {
		char *first = tp_short_name(r->chain.certs[1].subject), *own = tp_short_name(r->chain.certs[0].subject);
		struct tp_problem *p = tp_find(&r->found, TP_CHAIN_ORDER, 0,
					       "the file starts with '%s', a CA certificate; the leaf '%s' is its "
					       "certificate #%zu (shown here "
					       "as #0, as a server must send it)",
					       first ? first : "?", own ? own : "?", leaf);
		if (p) {
			tp_problem_grade(p, TP_GRADE_REFUSED);
			tp_problem_set_fix(p,
					   "Put the leaf first in the file, then its issuer, then that one's issuer: "
					   "a server presents the first certificate as its own, and its key must "
					   "match it.");
		}
		free(first);
		free(own);
	}
	free(order);
	r->timing.total_ms = tp_now_ms() - t0;
	return r;
}

struct tp_result *
tp_examine(struct tp_config *cfg, const char *label, const gnutls_datum_t *certs, size_t n, const char *name,
	   bool verify)
{
	struct tp_result *r = tp_examine_unjudged(cfg, label, certs, n, name, verify);

	if (r)
		tp_result_judge(r, cfg->insecure, cfg->clients);
	return r;
}

/* Whether the suite session s negotiated is among those prio offers. */
static bool
suite_offered(gnutls_priority_t prio, gnutls_session_t s)
{
	gnutls_kx_algorithm_t kx = gnutls_kx_get(s);
	gnutls_cipher_algorithm_t cipher = gnutls_cipher_get(s);
	gnutls_mac_algorithm_t mac = gnutls_mac_get(s);
	bool tls13 = gnutls_protocol_get_version(s) == GNUTLS_TLS1_3;

	for (unsigned idx = 0;; idx++) {
		unsigned sidx;
		unsigned char id[2];
		gnutls_kx_algorithm_t k;
		gnutls_cipher_algorithm_t c;
		gnutls_mac_algorithm_t m;
		gnutls_protocol_t minv;
		int ret = gnutls_priority_get_cipher_suite_index(prio, idx, &sidx);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return false;
		if (ret < 0 || !gnutls_cipher_suite_info(sidx, id, &k, &c, &m, &minv))
			continue;
		/* TLS 1.3 suites name no key exchange. */
		if (c == cipher && m == mac && (tls13 || k == kx))
			return true;
	}
}

/*
 * When the server refused what was offered (no common version, or a
 * handshake_failure alert), connect once more offering every version and
 * cipher suite GnuTLS knows: what the server then picks says which of the
 * two it was, and what to change.
 */
static void
second_look(struct tp_result *r, const struct tp_config *cfg, const struct tp_deadline *d)
{
	static const char wide[] =
		"NORMAL:+VERS-TLS1.1:+VERS-TLS1.0:+AES-128-CCM-8:+AES-256-CCM-8:+CAMELLIA-128-GCM:"
		"+CAMELLIA-256-GCM:+CAMELLIA-128-CBC:+CAMELLIA-256-CBC:+3DES-CBC:+ARCFOUR-128:+SHA256:+SHA384:"
		"+MD5:+DHE-DSS:+SIGN-ALL:+GROUP-ALL:%VERIFY_ALLOW_SIGN_WITH_SHA1";
	struct tp_problem *e = r->found.error;
	struct tp_handshake h = {.sni = r->sni, .handshake_ms = -1};
	struct tp_net_info net;
	bool limited = cfg->tls_min || cfg->tls_max || cfg->priority;
	struct tp_result *look;
	gnutls_session_t s;
	int fd, lo, hi;

	if (tp_deadline_left(d) == 0 || gnutls_priority_init(&h.prio, wide, NULL) < 0)
		return;
	/* A result of its own: what the second handshake finds (a weak DH
	 * group, say) only informs the first one's error. */
	if (!(look = tp_result_create(&r->target))) {
		gnutls_priority_deinit(h.prio);
		return;
	}
	tp_config_versions(cfg, &lo, &hi);
	fd = tp_net_connect(&net, &r->target, cfg, d, &look->found);
	h.connect_ms = net.connect_ms + (net.proxy_ms > 0 ? net.proxy_ms : 0);
	s = fd >= 0 ? tp_session_handshake(&h, &look->tls, cfg, fd, d, &look->found) : NULL;
	if (s) {
		int v = (int)gnutls_protocol_get_version(s);
		const char *name = look->tls.info.version, *num = strchr(name, 'v') ? strchr(name, 'v') + 1 : name;
		if (v < lo || v > hi) {
			if (e->code != TP_PROTOCOL_VERSION)
				tp_problem_recode(e, TP_PROTOCOL_VERSION);
			/* Its best is a version current clients refuse too. */
			if (v < GNUTLS_TLS1_2)
				tp_problem_rule(e, TP_RULE_OLD_TLS);
			tp_problem_append(e, "offered every version, the server chose %s, which %s", name,
					  limited ? "the --tls-min/--tls-max/--priority settings exclude"
						  : "tlsprobe refuses by default, as current browsers and clients do");
			if (limited)
				tp_problem_set_fix(
					e,
					"The best version this server speaks is %s: allow it in the probe "
					"(--tls-min %s), or enable the versions you asked for on the server.",
					name, num);
			else
				tp_problem_set_fix(e,
						   "The best version this server speaks is %s: enable TLS 1.2 and "
						   "TLS 1.3 on it. To inspect it as it is, probe with --tls-min %s.",
						   name, num);
		} else if (suite_offered(cfg->prio, s)) {
			/* The suite was in the first offer too: what the wider offer
			 * added that mattered was a group or a signature algorithm. */
			gnutls_group_t g = gnutls_group_get(s);
			gnutls_sign_algorithm_t sig = gnutls_sign_algorithm_get(s);
			tp_problem_append(
				e,
				"offered every algorithm GnuTLS knows, the server chose %s (%s), which was offered "
				"already, with key exchange %s and signature %s: one of those two is what it wants",
				look->tls.info.cipher ? look->tls.info.cipher : "?", name,
				g ? gnutls_group_get_name(g) : "?",
				sig != GNUTLS_SIGN_UNKNOWN ? gnutls_sign_get_name(sig) : "?");
			tp_problem_set_fix(e,
					   "The server accepts only a key-exchange group or signature algorithm that "
					   "current clients do not offer: configure ECDHE groups X25519 or P-256 and "
					   "ECDSA or RSA-PSS signatures on it. To inspect it as it is, probe with "
					   "--priority 'NORMAL:+GROUP-ALL:+SIGN-ALL'.");
		} else {
			const char *cipher = gnutls_cipher_get_name(gnutls_cipher_get(s));
			const char *mac = gnutls_mac_get_name(gnutls_mac_get(s));
			const char *kx = gnutls_kx_get_name(gnutls_kx_get(s));
			tp_problem_recode(e, TP_NO_SHARED_CIPHER);
			tp_problem_append(e,
					  "offered every cipher suite GnuTLS knows, the server chose %s (%s), which %s",
					  look->tls.info.cipher ? look->tls.info.cipher : "?", name,
					  limited ? "the --priority/--tls-min/--tls-max settings exclude"
						  : "tlsprobe does not offer by default");
			tp_problem_set_fix(e,
					   "The server accepts only cipher suites current clients do not offer, such "
					   "as %s: enable ECDHE with AES-GCM or ChaCha20-Poly1305 on it. To inspect it "
					   "as it is, probe with --priority 'NORMAL:+%s%s%s%s%s'.",
					   look->tls.info.cipher ? look->tls.info.cipher : "?",
					   cipher ? cipher : "CIPHER-ALL", mac && strcmp(mac, "AEAD") ? ":+" : "",
					   mac && strcmp(mac, "AEAD") ? mac : "", kx && v < GNUTLS_TLS1_3 ? ":+" : "",
					   kx && v < GNUTLS_TLS1_3 ? kx : "");
		}
		tp_session_free(s);
	} else if (look->found.error && look->found.error->code == TP_PROTOCOL_VERSION) {
		tp_problem_recode(e, TP_PROTOCOL_VERSION);
		tp_problem_append(
			e, "it refused TLS 1.0 to 1.3 alike, so it speaks only SSL 3.0 or older, or nothing this "
			   "client knows");
	} else if (look->found.error) {
		tp_problem_append(
			e, "a second handshake offering every version and cipher suite GnuTLS knows failed too, so the "
			   "server wants something else: an algorithm GnuTLS lacks, another name (--sni), or a "
			   "client certificate");
	}
	if (fd >= 0)
		close(fd);
	gnutls_priority_deinit(h.prio);
	tp_result_destroy(look);
}

/* Asked without SNI, a server sends its default certificate: say so where it matters. */
static void
default_certificate(struct tp_result *r, const char *name)
{
	for (size_t i = 0; i < r->found.n; i++)
		if (r->found.problems[i].code == TP_HOSTNAME_MISMATCH)
			tp_problem_append(
				&r->found.problems[i],
				"asked without SNI (--no-sni), the server sent its default certificate; "
				"clients that send SNI '%s' may get another: probe without --no-sni to compare",
				name);
}

/*
 * The client certificate configured, read as the server will: its facts,
 * and its dates against the thresholds (a server refuses an expired one).
 * Findings about it name it, and no certificate of the server's chain.
 */
void
tp_examine_client_cert(struct tp_result *r, const struct tp_config *cfg, time_t now)
{
	gnutls_datum_t ders[TP_MAX_CERTS];
	gnutls_x509_crt_t *certs = NULL;
	size_t n = cfg->client_pcert_n < TP_MAX_CERTS ? cfg->client_pcert_n : TP_MAX_CERTS;
	struct tp_findings scratch = {0};
	char date[40];

	for (size_t i = 0; i < n; i++)
		ders[i] = cfg->client_pcert[i].cert;
	if (!n || tp_chain_read(&r->client_chain, &certs, ders, n, now, &scratch) < 0) {
		tp_findings_finish(&scratch);
		tp_chain_free(certs, n);
		return;
	}
	tp_findings_finish(&scratch);
	tp_chain_free(certs, n);
	for (size_t i = 0; i < r->client_chain.n; i++) {
		const struct tp_cert_info *ci = &r->client_chain.certs[i];
		char *cn = tp_short_name(ci->subject);
		const char *what = i ? "the CA certificate" : "the client certificate";
		struct tp_problem *p = NULL;
		if (now > ci->not_after) {
			tp_format_date(ci->not_after, date, sizeof(date));
			p = tp_find(&r->found, TP_EXPIRED, -1, "%s '%s' (%s) expired on %s: servers refuse it", what,
				    cn ? cn : "?", cfg->client_cert_file, date);
		} else if (now < ci->not_before) {
			tp_format_date(ci->not_before, date, sizeof(date));
			p = tp_find(&r->found, TP_NOT_YET_VALID, -1, "%s '%s' (%s) is not valid before %s", what,
				    cn ? cn : "?", cfg->client_cert_file, date);
		} else if (ci->days_remaining < cfg->warn_days) {
			tp_format_date(ci->not_after, date, sizeof(date));
			p = tp_find(
				&r->found, TP_EXPIRES_SOON, -1,
				"%s '%s' (%s) expires on %s, in %ld days (thresholds: warning %d, critical %d days)",
				what, cn ? cn : "?", cfg->client_cert_file, date, ci->days_remaining, cfg->warn_days,
				cfg->crit_days);
			if (ci->days_remaining < cfg->crit_days)
				tp_problem_grade(p, TP_GRADE_REFUSED);
		}
		if (p)
			p->client_cert = true;
		if (p && p->code != TP_EXPIRES_SOON)
			tp_problem_set_fix(p, "Renew the client certificate (tlsprobe ca issue --client, or your "
					      "CA's process) and give the new one with --client-cert.");
		else if (p)
			tp_problem_set_fix(p, "Renew the client certificate before it expires and deploy it where it "
					      "is used.");
		free(cn);
	}
}

/*
 * A server that chose TLS 1.1 or older from an offer that went up to 1.2
 * or beyond speaks nothing newer: current clients do not connect.
 */
static void
old_version(struct tp_result *r, const struct tp_config *cfg, gnutls_protocol_t v)
{
	int lo, hi;

	tp_config_versions(cfg, &lo, &hi);
	if (v >= GNUTLS_TLS1_2 || hi < GNUTLS_TLS1_2)
		return;
	tp_problem_rule(tp_find(&r->found, TP_OBSOLETE_PROTOCOL, -1,
				"the server's best TLS version is %s (offered up to %s): TLS 1.0 and 1.1 are "
				"deprecated (RFC 8996), and current clients no longer speak them",
				r->tls.info.version, tp_version_name((gnutls_protocol_t)hi)),
			TP_RULE_OLD_TLS);
}

/*
 * The probe, within timeout_ms: the probe's own --timeout, or what is left
 * of a caller's (fetch explaining a failed transfer).
 */
static struct tp_result *
probe(struct tp_config *cfg, const struct tp_target *target, unsigned timeout_ms, gnutls_priority_t prio)
{
	struct tp_result *r = tp_result_create(target);
	struct tp_handshake h = {.handshake_ms = -1, .prio = prio};
	struct tp_net_info net;
	struct tp_deadline d;
	double t0 = tp_now_ms();
	const char *name;
	gnutls_session_t s;
	int fd;

	if (!r)
		return NULL;
	/* No SNI for IP literals (RFC 6066); --sni overrides either way,
	 * and --no-sni sends none while the name is checked all the same. */
	if (target->no_sni)
		r->sni = NULL;
	else if (target->sni)
		r->sni = strdup(target->sni);
	else if (!target->host_is_ip)
		r->sni = strdup(target->host);
	name = target->sni ? target->sni : target->host;

	if (tp_config_ready(cfg) < 0) {
		tp_fail(&r->found, TP_INTERNAL_ERROR, "%s", cfg->error);
		goto out;
	}
	tp_examine_client_cert(r, cfg, tp_config_now(cfg));
	tp_deadline_start(&d, timeout_ms);
	fd = tp_net_connect(&net, target, cfg, &d, &r->found);
	memcpy(r->address, net.address, sizeof(r->address));
	r->timing.dns_ms = net.dns_ms;
	r->timing.connect_ms = net.connect_ms;
	r->timing.proxy_ms = net.proxy_ms;
	r->address_total = net.total;
	if (net.via_proxy)
		snprintf(r->proxy, sizeof(r->proxy), "%s", cfg->px.url);
	if (fd < 0)
		goto out;
	if (target->starttls) {
		double t1 = tp_now_ms();
		int ret = tp_starttls(&r->found, fd, target->starttls, name, &d);
		r->timing.starttls_ms = tp_now_ms() - t1;
		if (ret < 0) {
			close(fd);
			goto out;
		}
	}
	h.sni = r->sni;
	h.connect_ms = net.connect_ms + (net.proxy_ms > 0 ? net.proxy_ms : 0);
	s = tp_session_handshake(&h, &r->tls, cfg, fd, &d, &r->found);
	r->timing.handshake_ms = h.handshake_ms;
	if (s)
		old_version(r, cfg, gnutls_protocol_get_version(s));
	if (s) {
		unsigned n = 0;
		const gnutls_datum_t *peers = gnutls_certificate_get_peers(s, &n);
		examine(r, cfg, peers, n, name, tp_config_now(cfg), true, &d);
		double aia = -1, online = 0;
		complete_chain(r, cfg, peers, n, name, tp_config_now(cfg), &d, &aia);
		for (size_t i = 0; r->revocation && i < r->chain.n; i++)
			online += r->revocation[i].ms > 0 ? r->revocation[i].ms : 0;
		if (aia >= 0 || online > 0)
			r->timing.online_ms = online + (aia > 0 ? aia : 0);
		if (target->no_sni)
			default_certificate(r, name);
		/* Say goodbye without waiting for the server's reply. */
		gnutls_bye(s, GNUTLS_SHUT_WR);
		tp_session_free(s);
	}
	close(fd);
	if (r->found.error && (r->found.error->code == TP_PROTOCOL_VERSION || h.offer_refused))
		second_look(r, cfg, &d);
out:
	r->timing.total_ms = tp_now_ms() - t0;
	/* Report each stage as the time from the start until it ended, as
	 * curl's timers do: dns <= connect <= proxy <= starttls <= handshake
	 * <= total. */
	if (r->timing.connect_ms >= 0 && r->timing.dns_ms >= 0)
		r->timing.connect_ms += r->timing.dns_ms;
	double before = r->timing.connect_ms;
	if (r->timing.proxy_ms >= 0 && before >= 0)
		before = r->timing.proxy_ms += before;
	if (r->timing.starttls_ms >= 0 && before >= 0)
		before = r->timing.starttls_ms += before;
	if (r->timing.handshake_ms >= 0 && before >= 0)
		r->timing.handshake_ms += before;
	tp_result_judge(r, cfg->insecure, cfg->clients);
	return r;
}

/* One address of a name, probed in a thread of its own. */
struct one_address {
	pthread_t thread;
	bool started;
	struct tp_config *cfg;
	struct tp_target target; /* the name, with this address as its --connect-to */
	unsigned ms;
	struct tp_result *r;
};

static void *
probe_one_address(void *arg)
{
	struct one_address *a = arg;

	a->r = probe(a->cfg, &a->target, a->ms, NULL);
	return NULL;
}

/* What address i served, in a few facts for the parent result. */
static void
summarize(struct tp_address_result *out, const char *address, const struct tp_result *r)
{
	snprintf(out->address, sizeof(out->address), "%.63s", address);
	out->status = r->status;
	out->reason = r->reason;
	out->version = r->tls.done ? r->tls.info.version : NULL;
	if (r->chain.n) {
		out->leaf_subject = strdup(r->chain.certs[0].subject);
		out->leaf_sha256 = strdup(r->chain.certs[0].sha256);
		out->leaf_not_after = r->chain.certs[0].not_after;
		out->leaf_days_remaining = r->chain.certs[0].days_remaining;
	}
}

/* Each address that serves another certificate than the first one does is a finding. */
static void
compare_addresses(struct tp_result *r)
{
	const struct tp_address_result *first = NULL;
	char date[40];

	for (size_t i = 0; i < r->n_addresses && !first; i++)
		if (r->addresses[i].leaf_sha256)
			first = &r->addresses[i];
	for (size_t i = 0; first && i < r->n_addresses; i++) {
		const struct tp_address_result *a = &r->addresses[i];
		if (!a->leaf_sha256 || strcmp(a->leaf_sha256, first->leaf_sha256) == 0)
			continue;
		char *cn = tp_short_name(a->leaf_subject), *cn0 = tp_short_name(first->leaf_subject);
		tp_format_date(a->leaf_not_after, date, sizeof(date));
		struct tp_problem *p = tp_find(
			&r->found, TP_ADDRESSES_DIFFER, -1,
			"%s serves a different certificate ('%s', expiring on %s, in %ld days) than %s ('%s', %ld days "
			"left)",
			a->address, cn ? cn : "?", date, a->leaf_days_remaining, first->address, cn0 ? cn0 : "?",
			first->leaf_days_remaining);
		tp_problem_set_fix(p,
				   "Install the same certificate on every server behind the name (%s among them), "
				   "or find out why %s is another one (a server left out of a renewal?).",
				   a->address, a->address);
		free(cn);
		free(cn0);
	}
}

/*
 * Every address the name resolves to, probed in parallel within the one
 * timeout. The result is the worst address's, with what each address served
 * beside it, and a finding for each that serves another certificate.
 */
static struct tp_result *
probe_all(struct tp_config *cfg, const struct tp_target *target, unsigned timeout_ms)
{
	enum { MAX_ADDRESSES = 16 };
	char addrs[MAX_ADDRESSES][64];
	struct one_address one[MAX_ADDRESSES] = {0};
	struct tp_result *r = tp_result_create(target), *worst = NULL;
	struct tp_deadline d;
	int n;

	if (!r)
		return NULL;
	if (tp_config_ready(cfg) < 0) {
		tp_fail(&r->found, TP_INTERNAL_ERROR, "%s", cfg->error);
		goto out;
	}
	tp_deadline_start(&d, timeout_ms);
	n = tp_net_addresses(target, cfg, &d, addrs, MAX_ADDRESSES, &r->found);
	if (n <= 1) {
		/* One address, or none: the ordinary probe says it all. */
		tp_result_destroy(r);
		return probe(cfg, target, (unsigned)tp_deadline_left(&d), NULL);
	}
	for (int i = 0; i < n; i++) {
		struct one_address *a = &one[i];
		a->cfg = cfg;
		a->ms = (unsigned)tp_deadline_left(&d);
		if (tp_target_copy(&a->target, target) < 0 || !(a->target.connect_host = strdup(addrs[i])))
			continue;
		a->target.connect_port = target->port;
		a->target.connect_is_ip = true;
		a->started = pthread_create(&a->thread, NULL, probe_one_address, a) == 0;
	}
	r->addresses = calloc((size_t)n, sizeof(*r->addresses));
	for (int i = 0; i < n; i++) {
		struct one_address *a = &one[i];
		if (a->started)
			pthread_join(a->thread, NULL);
		if (!a->r)
			a->r = tp_result_create(target);
		if (a->r && !a->started)
			tp_fail(&a->r->found, TP_INTERNAL_ERROR, "could not start a probe of %s", addrs[i]);
		if (a->r && !a->started)
			tp_result_judge(a->r, cfg->insecure, cfg->clients);
		if (a->r && r->addresses)
			summarize(&r->addresses[r->n_addresses++], addrs[i], a->r);
		if (a->r && (!worst || a->r->status > worst->status))
			worst = a->r;
	}
	if (worst) {
		tp_result_adopt(r, worst);
		memcpy(r->address, worst->address, sizeof(r->address));
		r->timing = worst->timing;
		free(r->sni);
		r->sni = worst->sni ? strdup(worst->sni) : NULL;
	}
	r->address_total = (size_t)n;
	compare_addresses(r);
	for (int i = 0; i < n; i++) {
		tp_result_destroy(one[i].r);
		tp_target_finish(&one[i].target);
	}
out:
	tp_result_judge(r, cfg->insecure, cfg->clients);
	return r;
}

struct tp_result *
tp_probe_within(struct tp_config *cfg, const struct tp_target *target, unsigned timeout_ms)
{
	/* A name, not an address, and no --connect-to: there may be several. */
	if ((cfg->all_addresses || target->all_addresses) && !target->host_is_ip && !target->connect_host)
		return probe_all(cfg, target, timeout_ms);
	return probe(cfg, target, timeout_ms, NULL);
}

struct tp_result *
tp_probe(struct tp_config *cfg, const struct tp_target *target)
{
	return tp_probe_within(cfg, target, cfg->timeout_ms);
}

struct tp_result *
tp_probe_offering(struct tp_config *cfg, const struct tp_target *target, unsigned timeout_ms, gnutls_priority_t prio)
{
	return probe(cfg, target, timeout_ms, prio);
}
