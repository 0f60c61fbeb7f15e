/*
 * serve.c: the reference TLS server. Worker threads, one per core, each
 * runs a poll loop over the listening sockets and its own connections; every
 * connection is a small non-blocking state machine (handshake, read the
 * request, write the answer, close) with deadlines, so a client that stalls
 * or sends garbage costs one slot and a few kilobytes, never a thread; and a
 * client that sends its request a byte at a time holds its slot no longer
 * than the whole request's deadline, nor a slot kept for handshakes.
 * After the handshake it answers HTTP/1.1 with what was negotiated (text,
 * or JSON on Accept: application/json), or echoes bytes with --echo.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chain.h"
#include "clock.h"
#include "file.h"
#include "scenario.h"
#include "session.h"

#define MAX_LISTENERS 64
#define MAX_CONNS_PER_WORKER 4096
#define MAX_WORKERS 16
#define REQUEST_MAX 8192               /* a request larger than this is refused */
#define IDLE_TIMEOUT_MS 10000          /* after the handshake, without a byte */
#define REQUEST_TIMEOUT_EXTRA_MS 20000 /* the default whole request: the handshake's and this */
#define ACCEPTS_PER_WAKE 64

struct site {
	char *name; /* scenario, or "files" for --cert/--key */
	const struct tp_scenario_info *scenario;
	gnutls_certificate_credentials_t cred;
	struct tp_raw_chain *raw; /* served as is, through raw_cert() */
	/* Its own: a ticket from one site must not resume at another (one
	 * without a client certificate requirement, say). */
	gnutls_datum_t ticket_key;
	gnutls_priority_t prio;
	int client_cert;
	bool version_limited; /* a scenario that speaks one TLS version */
	gnutls_datum_t ocsp;  /* --ocsp-response: stapled as it is */
};

struct listener {
	int fd;
	struct site *site;
};

/*
 * A connection's states, each with its step (steps[] below), which advance()
 * runs until one asks to wait for the socket or to close:
 *
 *   HANDSHAKE -> READING    the handshake is done; the idle deadline starts
 *   HANDSHAKE -> DRAINING   it failed: the alert is sent and the failure logged
 *   READING   -> WRITING    a whole request is in (with --echo: any bytes)
 *   WRITING   -> READING    an echo is sent back
 *
 * and from any state to closed. Invariants:
 * - a connection is logged once: by the step that closes it, or by the
 *   worker when its deadline passes (not when DRAINING: logged when the
 *   handshake failed) or when it makes room for a new client (make_room());
 *   those still open when the server stops are not;
 * - c->deadline is the handshake's until READING, then restarts with every
 *   read (WRITING runs on it too), and is DRAIN_MS once DRAINING; whatever
 *   it says, c->limit, started at accept, ends the connection (see
 *   conn_left()): a client trickling bytes restarts the first, never the
 *   second;
 * - in WRITING, c->out is what to send; NULL (no memory for it) is logged
 *   and closed by the step.
 *
 * DRAINING: closing with unread input makes the kernel send a reset, which
 * can overtake the alert and hide it (curl then reports a broken connection,
 * not certificate_required); so the server half-closes and reads what the
 * client still sends, briefly.
 */
enum conn_state { HANDSHAKE, READING, WRITING, DRAINING };

#define DRAIN_MS 200

struct conn {
	int fd;
	gnutls_session_t s;
	struct site *site;
	enum conn_state state;
	struct tp_deadline deadline;
	struct tp_deadline limit; /* the whole request's, from accept */
	double t0, handshake_ms;
	char peer[64];
	char *in;
	size_t nin;
	char *out;
	size_t nout, sent;
	bool close_after_write;
	bool again;      /* served again at once, before polling: its turn ran out */
	bool in_request; /* past the handshake, counted in its worker's requests */
	bool done;       /* finished (and logged): freed by the worker's sweep */
	struct conn *next;
};

struct tp_server {
	struct tp_server_options o;
	bool configured;
	char *alpn;
	struct tp_pki *pki;
	struct site *sites[MAX_LISTENERS];
	size_t n_sites;
	struct listener listeners[MAX_LISTENERS];
	size_t n_listeners;
	int stop_pipe[2];
	pthread_t workers[MAX_WORKERS];
	size_t n_workers;
	size_t planned_workers;
	char error[512];
	enum tp_server_fault fault;
};

/* ---- setup ------------------------------------------------------------- */

/* Leaves the reason for tp_server_error(); returns -1. A public call clears
 * the error when it starts, so srv->fault is set only where it is not OTHER. */
TP_PRINTF(2, 3) static int server_fail(struct tp_server *srv, const char *fmt, ...);

static int
server_fail(struct tp_server *srv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tp_verr(srv->error, sizeof(srv->error), fmt, ap);
	va_end(ap);
	return -1;
}

static void
clear_error(struct tp_server *srv)
{
	srv->error[0] = '\0';
	srv->fault = TP_SERVER_FAULT_OTHER;
}

const char *
tp_server_error(const struct tp_server *srv)
{
	return srv->error;
}

enum tp_server_fault
tp_server_fault(const struct tp_server *srv)
{
	return srv->fault;
}

struct tp_server *
tp_server_create(void)
{
	struct tp_server *srv = calloc(1, sizeof(*srv));

	if (srv)
		srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
	return srv;
}

static void
site_free(struct site *site)
{
	if (!site)
		return;
	if (site->cred)
		gnutls_certificate_free_credentials(site->cred);
	if (site->prio)
		gnutls_priority_deinit(site->prio);
	tp_raw_chain_free(site->raw);
	gnutls_free(site->ticket_key.data);
	gnutls_free(site->ocsp.data);
	free(site->name);
	free(site);
}

void
tp_server_destroy(struct tp_server *srv)
{
	if (!srv)
		return;
	for (size_t i = 0; i < srv->n_listeners; i++)
		close(srv->listeners[i].fd);
	for (size_t i = 0; i < srv->n_sites; i++)
		site_free(srv->sites[i]);
	if (srv->stop_pipe[0] >= 0)
		close(srv->stop_pipe[0]);
	if (srv->stop_pipe[1] >= 0)
		close(srv->stop_pipe[1]);
	tp_pki_destroy(srv->pki);
	free(srv->alpn);
	free(srv);
}

static int
ensure_pki(struct tp_server *srv)
{
	if (!srv->pki)
		srv->pki = tp_pki_create(srv->o.names, srv->o.n_names, srv->error, sizeof(srv->error));
	return srv->pki ? 0 : -1;
}

/* Both ways of checking a client certificate ask that it be meant for clients. */
static gnutls_typed_vdata_st client_purpose = {
	.type = GNUTLS_DT_KEY_PURPOSE_OID,
	.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
};

/*
 * With --request-client-cert a client may send no certificate; one it does
 * send must verify (and be meant for clients), as with --require-client-cert.
 */
static int
verify_optional(gnutls_session_t s)
{
	unsigned n = 0, status = 0;

	if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 || !gnutls_certificate_get_peers(s, &n) || n == 0)
		return 0;
	if (gnutls_certificate_verify_peers(s, &client_purpose, 1, &status) < 0 || status != 0)
		return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
	return 0;
}

/* Hands GnuTLS a site's raw chain, in the order it was made. */
static int
raw_cert(gnutls_session_t s, const gnutls_datum_t *req_ca, int nreq, const gnutls_pk_algorithm_t *algos, int nalgos,
	 gnutls_pcert_st **pcert, unsigned *npcert, gnutls_privkey_t *key)
{
	struct site *site = gnutls_session_get_ptr(s);

	*pcert = site->raw->pcert;
	*npcert = site->raw->n;
	*key = site->raw->key;
	return 0;
}

/* A scenario's chain, key, priorities and client certificate policy. */
static int
site_scenario(struct tp_server *srv, struct site *site, const char *scenario, const char **prio)
{
	site->scenario = tp_scenario_find(scenario);
	if (!site->scenario)
		return server_fail(srv, "unknown scenario '%s'", scenario);
	if (ensure_pki(srv) < 0 || tp_scenario_credentials(srv->pki, scenario, site->cred, &site->raw, prio,
							   &site->client_cert, srv->error, sizeof(srv->error)) < 0)
		return -1;
	if (site->raw)
		gnutls_certificate_set_retrieve_function2(site->cred, raw_cert);
	site->version_limited = *prio != NULL;
	/* Client certificates asked for, and no CA given to verify them: the
	 * scenario's own root does (one that asks for them trusts it already). */
	if (srv->o.client_cert && !srv->o.client_ca_file && !site->client_cert) {
		gnutls_x509_crt_t root = tp_pki_root(srv->pki);
		gnutls_certificate_set_x509_trust(site->cred, &root, 1);
	}
	return 0;
}

/* The --ocsp-response of a site, for every handshake. */
static int
staple(gnutls_session_t s, void *arg, gnutls_datum_t *out)
{
	const struct site *site = arg;

	if (!(out->data = gnutls_malloc(site->ocsp.size)))
		return GNUTLS_E_MEMORY_ERROR;
	memcpy(out->data, site->ocsp.data, site->ocsp.size);
	out->size = site->ocsp.size;
	return 0;
}

/* The certificate and key files. */
static int
site_files(struct tp_server *srv, struct site *site)
{
	const struct tp_server_options *o = &srv->o;
	int ret;

	if (tp_readable(o->cert_file, "certificate ", srv->error, sizeof(srv->error)) < 0 ||
	    tp_readable(o->key_file, "key ", srv->error, sizeof(srv->error)) < 0)
		return -1;
	ret = gnutls_certificate_set_x509_key_file2(site->cred, o->cert_file, o->key_file, GNUTLS_X509_FMT_PEM, NULL,
						    0);
	if (ret == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
		return server_fail(srv,
				   "the key in %s does not belong to the certificate in %s: give the key the "
				   "certificate was issued for",
				   o->key_file, o->cert_file);
	if (ret < 0)
		return server_fail(srv,
				   "cannot load %s and %s: %s (PEM certificate chain and unencrypted PEM key "
				   "expected)",
				   o->cert_file, o->key_file, gnutls_strerror(ret));
	/* ret: the index of the certificate just loaded. The response is
	 * stapled as it is, good, revoked, stale or not: a test server. */
	if (o->ocsp_response_file) {
		int idx = ret;
		if (tp_file_load(o->ocsp_response_file, "OCSP response ", &site->ocsp, srv->error, sizeof(srv->error)) <
		    0)
			return -1;
		gnutls_certificate_set_ocsp_status_request_function2(site->cred, (unsigned)idx, staple, site);
	}
	if (o->client_cert && !o->client_ca_file) {
		srv->fault = TP_SERVER_FAULT_NO_CLIENT_CA;
		return server_fail(srv, "requesting client certificates needs a CA to verify them");
	}
	return 0;
}

/* The client CA file, and whether client certificates are asked for. */
static int
site_client_certs(struct tp_server *srv, struct site *site)
{
	const char *ca = srv->o.client_ca_file;

	if (ca) {
		if (tp_readable(ca, "client CA file ", srv->error, sizeof(srv->error)) < 0)
			return -1;
		if (gnutls_certificate_set_x509_trust_file(site->cred, ca, GNUTLS_X509_FMT_PEM) <= 0)
			return server_fail(srv, "client CA file %s holds no certificate", ca);
		if (!site->client_cert)
			site->client_cert = 1;
	}
	if (srv->o.client_cert)
		site->client_cert = srv->o.client_cert;
	if (site->client_cert == 1)
		gnutls_certificate_set_verify_function(site->cred, verify_optional);
	return 0;
}

static struct site *
make_site(struct tp_server *srv, const char *scenario)
{
	struct site *site = calloc(1, sizeof(*site));
	const char *prio = NULL;
	int ret;

	if (!site || gnutls_certificate_allocate_credentials(&site->cred) < 0 ||
	    gnutls_session_ticket_key_generate(&site->ticket_key) < 0 ||
	    !(site->name = strdup(scenario ? scenario : "files"))) {
		server_fail(srv, "out of memory");
		goto fail;
	}
	if ((scenario ? site_scenario(srv, site, scenario, &prio) : site_files(srv, site)) < 0 ||
	    site_client_certs(srv, site) < 0)
		goto fail;
	if ((ret = gnutls_priority_init(&site->prio, prio ? prio : "NORMAL", NULL)) < 0) {
		server_fail(srv, "cannot set up priorities: %s", gnutls_strerror(ret));
		goto fail;
	}
	return site;
fail:
	site_free(site);
	return NULL;
}

static struct site *
find_site(struct tp_server *srv, const char *scenario)
{
	const char *name = scenario ? scenario : "files";
	struct site *site;

	for (size_t i = 0; i < srv->n_sites; i++)
		if (strcmp(srv->sites[i]->name, name) == 0)
			return srv->sites[i];
	if (!scenario && !srv->o.cert_file) {
		server_fail(srv, "no certificate files to serve");
		return NULL;
	}
	if (srv->n_sites == MAX_LISTENERS) {
		server_fail(srv, "too many scenarios at once");
		return NULL;
	}
	site = make_site(srv, scenario);
	if (site)
		srv->sites[srv->n_sites++] = site;
	return site;
}

int
tp_server_configure(struct tp_server *srv, const struct tp_server_options *o)
{
	clear_error(srv);
	if (srv->configured)
		return server_fail(srv, "the server is configured already");
	srv->o = *o;
	if (!srv->o.handshake_timeout_ms)
		srv->o.handshake_timeout_ms = 10000;
	if (!srv->o.request_timeout_ms)
		srv->o.request_timeout_ms = srv->o.handshake_timeout_ms + REQUEST_TIMEOUT_EXTRA_MS;
	srv->alpn = strdup(o->alpn ? o->alpn : "http/1.1");
	if (pipe2(srv->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0 || !srv->alpn)
		return server_fail(srv, "cannot set up the server: %s", strerror(errno));
	srv->configured = true;
	/* What every listener will need: the files, or the made CA. */
	if (o->cert_file)
		return find_site(srv, NULL) ? 0 : -1;
	return ensure_pki(srv);
}

static uint16_t
sockaddr_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

int
tp_server_listen(struct tp_server *srv, const char *scenario, const char *addr, uint16_t port)
{
	/* An address, or a name such as localhost (its IPv4 address first). */
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct site *site;
	char portstr[8];
	int fd = -1, one = 1, ret;

	clear_error(srv);
	if (!srv->configured)
		return server_fail(srv, "the server is not configured yet");
	if (srv->n_listeners == MAX_LISTENERS)
		return server_fail(srv, "too many listening addresses");
	if (!(site = find_site(srv, scenario)))
		return -1;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((ret = getaddrinfo(addr, portstr, &hints, &res)) != 0)
		return server_fail(srv, "cannot listen on '%s': not an address of this machine (%s)", addr,
				   gai_strerror(ret));
	for (ai = res; ai->ai_next && ai->ai_family != AF_INET; ai = ai->ai_next)
		;
	if (ai->ai_family != AF_INET)
		ai = res;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto sockfail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* A long queue: under load a short one turns into second-long waits. */
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0)
		goto sockfail;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto sockfail;
	freeaddrinfo(res);
	srv->listeners[srv->n_listeners++] = (struct listener){fd, site};
	return sockaddr_port(&ss);
sockfail:
	ret = errno;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	if (ret == EADDRINUSE) {
		srv->fault = TP_SERVER_FAULT_PORT_TAKEN;
		return server_fail(srv,
				   "cannot listen on %s port %u: the port is taken by another program (ss -ltnp "
				   "shows which)",
				   addr, port);
	}
	return server_fail(srv, "cannot listen on %s port %u: %s", addr, port, strerror(ret));
}

int
tp_server_write_ca(struct tp_server *srv, const char *path)
{
	gnutls_datum_t pem = {NULL, 0};
	int ret;

	clear_error(srv);
	if (ensure_pki(srv) < 0)
		return -1;
	if (tp_pki_root_pem(srv->pki, &pem) < 0)
		return server_fail(srv, "cannot export the root certificate");
	ret = tp_file_write_atomic(path, &pem, 0644, srv->error, sizeof(srv->error));
	gnutls_free(pem.data);
	return ret;
}

int
tp_server_write_client_cert(struct tp_server *srv, const char *prefix)
{
	gnutls_x509_crt_t chain[2];
	gnutls_x509_privkey_t key;
	gnutls_datum_t pem[2] = {{NULL, 0}, {NULL, 0}}, all = {NULL, 0}, kpem = {NULL, 0};
	char *cpath = tp_strdupf("%s.pem", prefix), *kpath = tp_strdupf("%s.key", prefix);
	size_t n = 0;
	int ret = -1, g;

	clear_error(srv);
	if (!cpath || !kpath) {
		server_fail(srv, "out of memory");
		goto out;
	}
	if (ensure_pki(srv) < 0)
		goto out;
	if ((g = tp_pki_client(srv->pki, chain, &n, &key)) < 0 ||
	    (g = gnutls_x509_crt_export2(chain[0], GNUTLS_X509_FMT_PEM, &pem[0])) < 0 ||
	    (g = gnutls_x509_crt_export2(chain[1], GNUTLS_X509_FMT_PEM, &pem[1])) < 0 ||
	    (g = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &kpem)) < 0) {
		server_fail(srv, "cannot make a client certificate: %s", gnutls_strerror(g));
		goto out;
	}
	all.size = pem[0].size + pem[1].size;
	if (!(all.data = gnutls_malloc(all.size))) {
		server_fail(srv, "out of memory");
		goto out;
	}
	memcpy(all.data, pem[0].data, pem[0].size);
	memcpy(all.data + pem[0].size, pem[1].data, pem[1].size);
	/* Both names checked first: never a key written next to a certificate that cannot be. */
	if (tp_file_replaceable(kpath, srv->error, sizeof(srv->error)) < 0 ||
	    tp_file_replaceable(cpath, srv->error, sizeof(srv->error)) < 0)
		goto out;
	if (tp_file_write_atomic(kpath, &kpem, 0600, srv->error, sizeof(srv->error)) == 0 &&
	    tp_file_write_atomic(cpath, &all, 0644, srv->error, sizeof(srv->error)) == 0)
		ret = 0;
out:
	gnutls_free(pem[0].data);
	gnutls_free(pem[1].data);
	gnutls_free(all.data);
	gnutls_free(kpem.data);
	free(cpath);
	free(kpath);
	return ret;
}

/* ---- connections --------------------------------------------------------- */

/* What the client asked for and showed, for the log and the answer. */

/* The name it asked for (invalid UTF-8 replaced), or NULL; free it. */
static char *
conn_sni(struct conn *c)
{
	char name[256];
	size_t len = sizeof(name);
	unsigned type;

	if (gnutls_server_name_get(c->s, name, &len, &type, 0) == 0 && type == GNUTLS_NAME_DNS)
		return tp_utf8_clean(name, strnlen(name, len));
	return NULL;
}

/* Its certificate's subject, or NULL; free it. */
static char *
conn_client(struct conn *c)
{
	gnutls_x509_crt_t crt = tp_chain_peer(c->s);
	char *dn = NULL;

	if (crt) {
		dn = tp_chain_dn(crt, false);
		gnutls_x509_crt_deinit(crt);
	}
	return dn;
}

/* The ALPN protocol chosen, in buf (cut to fit), or NULL. */
static const char *
conn_alpn(struct conn *c, char *buf, size_t len)
{
	gnutls_datum_t alpn;

	if (gnutls_alpn_get_selected_protocol(c->s, &alpn) < 0)
		return NULL;
	snprintf(buf, len, "%.*s", (int)alpn.size, (const char *)alpn.data);
	return buf;
}

static void
log_conn(struct tp_server *srv, struct conn *c, bool ok, const char *result)
{
	struct tp_conn_log l = {
		.peer = c->peer, .site = c->site->name, .result = result, .ok = ok, .handshake_ms = c->handshake_ms};
	char *sni, *client = NULL, alpn[256];

	if (!srv->o.log)
		return;
	l.sni = sni = conn_sni(c);
	if (c->handshake_ms >= 0) {
		l.version = tp_version_name(gnutls_protocol_get_version(c->s));
		l.cipher = gnutls_ciphersuite_get(c->s);
		l.alpn = conn_alpn(c, alpn, sizeof(alpn));
		l.client_cert = client = conn_client(c);
	}
	srv->o.log(srv->o.log_ctx, &l);
	free(sni);
	free(client);
}

TP_PRINTF(3, 4) static void log_failure(struct tp_server *srv, struct conn *c, const char *fmt, ...);

static void
log_failure(struct tp_server *srv, struct conn *c, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_conn(srv, c, false, why);
}

/* Hands out (n bytes, or NULL when out of memory) to the WRITING state. */
static void
send_back(struct conn *c, char *out, size_t n, bool close_after)
{
	free(c->out);
	c->out = out;
	c->nout = out ? n : 0;
	c->sent = 0;
	c->close_after_write = close_after;
	c->state = WRITING;
}

static void
conn_close(struct conn *c)
{
	if (c->s)
		gnutls_deinit(c->s);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static struct conn *
conn_accept(struct tp_server *srv, struct listener *l, bool *out_of_fds)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	struct conn *c;
	int fd, one = 1;

	fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		*out_of_fds = errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM;
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	if (!c || gnutls_init(&c->s, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
		free(c);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->site = l->site;
	c->t0 = tp_now_ms();
	c->handshake_ms = -1;
	tp_deadline_start(&c->deadline, srv->o.handshake_timeout_ms);
	tp_deadline_start(&c->limit, srv->o.request_timeout_ms);
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
	snprintf(c->peer, sizeof(c->peer), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, sockaddr_port(&ss));

	gnutls_transport_set_int(c->s, fd);
	gnutls_session_set_ptr(c->s, c->site);
	gnutls_priority_set(c->s, c->site->prio);
	gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, c->site->cred);
	gnutls_session_ticket_enable_server(c->s, &c->site->ticket_key);
	if (c->site->client_cert == 2) {
		/* Verified during the handshake, and only for client use. */
		gnutls_certificate_server_set_request(c->s, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_cert2(c->s, &client_purpose, 1, 0);
	} else if (c->site->client_cert == 1) {
		/* Asked for, not required: verify_optional() accepts none. */
		gnutls_certificate_server_set_request(c->s, GNUTLS_CERT_REQUEST);
	}
	gnutls_datum_t protos[TP_MAX_ALPN];
	unsigned n = tp_alpn_split(srv->alpn, protos);
	gnutls_alpn_set_protocols(c->s, protos, n, GNUTLS_ALPN_SERVER_PRECEDENCE);
	return c;
}

static char *
describe_session(struct conn *c, bool json)
{
	gnutls_group_t g = gnutls_group_get(c->s);
	const struct tp_scenario_info *sc = c->site->scenario;
	char alpn_buf[64], *sni = conn_sni(c), *client = conn_client(c), *out;
	const char *alpn_name = conn_alpn(c, alpn_buf, sizeof(alpn_buf));

	if (json) {
		json_t *o = json_pack("{s:s, s:s?, s:s?, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s}", "server", "tlsprobe",
				      "scenario", sc ? sc->name : NULL, "expect", sc ? sc->expect : NULL, "version",
				      tp_version_name(gnutls_protocol_get_version(c->s)), "cipher",
				      gnutls_ciphersuite_get(c->s), "kx_group", g ? gnutls_group_get_name(g) : NULL,
				      "alpn", alpn_name, "sni", sni, "client_cert", client, "peer", c->peer);
		out = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (out) {
			char *nl = tp_strdupf("%s\n", out);
			free(out);
			out = nl;
		}
	} else {
		out = tp_strdupf("tlsprobe reference server\n"
				 "scenario:     %s\n"
				 "expect:       %s\n"
				 "protocol:     %s\n"
				 "cipher:       %s\n"
				 "key exchange: %s\n"
				 "alpn:         %s\n"
				 "sni:          %s\n"
				 "client cert:  %s\n"
				 "your address: %s\n",
				 sc ? sc->name : "(certificate files)", sc ? sc->expect : "-",
				 tp_version_name(gnutls_protocol_get_version(c->s)), gnutls_ciphersuite_get(c->s),
				 g ? gnutls_group_get_name(g) : "-", alpn_name ? alpn_name : "-", sni ? sni : "-",
				 client ? client : "none", c->peer);
	}
	free(sni);
	free(client);
	return out;
}

static bool
wants_json(const char *req, size_t len)
{
	/* Header names are case-insensitive; the value is searched loosely. */
	for (const char *p = req; p && p < req + len; p = memchr(p, '\n', (size_t)(req + len - p))) {
		if (*p == '\n')
			p++;
		if ((size_t)(req + len - p) > 7 && strncasecmp(p, "accept:", 7) == 0) {
			const char *eol = memchr(p, '\n', (size_t)(req + len - p));
			return memmem(p, eol ? (size_t)(eol - p) : (size_t)(req + len - p), "application/json", 16);
		}
	}
	return false;
}

static void
respond(struct conn *c, int code, const char *reason, const char *type, char *body)
{
	char *out = tp_strdupf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
			       "Server: tlsprobe\r\n\r\n%s",
			       code, reason, type, body ? strlen(body) : 0, body ? body : "");

	free(body);
	send_back(c, out, out ? strlen(out) : 0, true);
}

/* What the bytes read so far call for: an echo, the answer to a whole
 * request, or a refusal of a request too large; or nothing yet. */
static void
answer(struct tp_server *srv, struct conn *c)
{
	if (srv->o.echo) {
		char *copy = malloc(c->nin);
		if (copy)
			memcpy(copy, c->in, c->nin);
		send_back(c, copy, c->nin, false);
		c->nin = 0;
	} else if (memmem(c->in, c->nin, "\r\n\r\n", 4) || memmem(c->in, c->nin, "\n\n", 2)) {
		bool json = wants_json(c->in, c->nin);
		respond(c, 200, "OK", json ? "application/json" : "text/plain; charset=utf-8",
			describe_session(c, json));
	} else if (c->nin == REQUEST_MAX) {
		respond(c, 431, "Request Header Fields Too Large", "text/plain", tp_strdupf("request too large\n"));
	}
}

/* What a step asks of advance(). */
enum step {
	STEP_WAIT,  /* for the socket: poll again */
	STEP_NEXT,  /* run the (new) state's step at once */
	STEP_CLOSE, /* finished: the caller closes and frees the connection */
};

static enum step
handshake_failed(struct tp_server *srv, struct conn *c, int ret)
{
	/* Tell the client why (certificate_required, ...); best effort. A
	 * one-version scenario that finds nothing in common is a version
	 * mismatch, whatever GnuTLS calls it. */
	if (c->site->version_limited && ret == GNUTLS_E_NO_CIPHER_SUITES)
		gnutls_alert_send(c->s, GNUTLS_AL_FATAL, GNUTLS_A_PROTOCOL_VERSION);
	else
		gnutls_alert_send_appropriate(c->s, ret);
	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED)
		log_failure(srv, c, "handshake failed: the client sent alert %s",
			    gnutls_alert_get_name(gnutls_alert_get(c->s)));
	else
		log_failure(srv, c, "handshake failed: %s", gnutls_strerror(ret));
	shutdown(c->fd, SHUT_WR);
	c->state = DRAINING;
	tp_deadline_start(&c->deadline, DRAIN_MS);
	return STEP_WAIT;
}

static enum step
step_handshake(struct tp_server *srv, struct conn *c)
{
	int ret = gnutls_handshake(c->s);

	if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
		return STEP_WAIT;
	if (ret < 0 && !gnutls_error_is_fatal(ret))
		return STEP_NEXT;
	if (ret < 0)
		return handshake_failed(srv, c, ret);
	c->handshake_ms = tp_now_ms() - c->t0;
	c->state = READING;
	tp_deadline_start(&c->deadline, IDLE_TIMEOUT_MS);
	return STEP_NEXT;
}

static enum step
step_read(struct tp_server *srv, struct conn *c)
{
	ssize_t n;

	if (!c->in && !(c->in = malloc(REQUEST_MAX))) {
		log_conn(srv, c, false, "out of memory");
		return STEP_CLOSE;
	}
	n = gnutls_record_recv(c->s, c->in + c->nin, REQUEST_MAX - c->nin);
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
		return STEP_WAIT;
	if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
		log_conn(srv, c, true, c->nin ? "closed before a complete request" : "ok");
		return STEP_CLOSE;
	}
	if (n < 0 && !gnutls_error_is_fatal((int)n))
		return STEP_NEXT;
	if (n < 0) {
		log_failure(srv, c, "read failed: %s", gnutls_strerror((int)n));
		return STEP_CLOSE;
	}
	c->nin += (size_t)n;
	tp_deadline_start(&c->deadline, IDLE_TIMEOUT_MS);
	answer(srv, c);
	return STEP_NEXT;
}

static enum step
step_write(struct tp_server *srv, struct conn *c)
{
	ssize_t n;

	if (!c->out) {
		log_conn(srv, c, false, "out of memory");
		return STEP_CLOSE;
	}
	n = gnutls_record_send(c->s, c->out + c->sent, c->nout - c->sent);
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
		return STEP_WAIT;
	if (n < 0) {
		log_failure(srv, c, "write failed: %s", gnutls_strerror((int)n));
		return STEP_CLOSE;
	}
	c->sent += (size_t)n;
	if (c->sent < c->nout)
		return STEP_NEXT;
	if (!c->close_after_write) {
		c->state = READING;
		return STEP_NEXT;
	}
	/* One try at a polite close; the socket goes either way. */
	gnutls_bye(c->s, GNUTLS_SHUT_WR);
	log_conn(srv, c, true, "ok");
	return STEP_CLOSE;
}

static enum step
step_drain(struct tp_server *srv, struct conn *c)
{
	char buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return STEP_WAIT;
	/* At the end the client is done too: close quietly (logged already). */
	return n > 0 ? STEP_NEXT : STEP_CLOSE;
}

typedef enum step step_fn(struct tp_server *srv, struct conn *c);

static step_fn *const steps[] = {
	[HANDSHAKE] = step_handshake,
	[READING] = step_read,
	[WRITING] = step_write,
	[DRAINING] = step_drain,
};

/* Rounds of reading and writing one connection gets before the others' turn. */
#define ROUNDS_PER_TURN 16

/* Advance one connection; false when it is finished (closed and freed by the caller). */
static bool
advance(struct tp_server *srv, struct conn *c)
{
	c->again = false;
	for (int rounds = 0; rounds < ROUNDS_PER_TURN; rounds++) {
		switch (steps[c->state](srv, c)) {
		case STEP_WAIT: return true;
		case STEP_CLOSE: return false;
		case STEP_NEXT: break;
		}
	}
	/* A client that keeps sending (--echo) must not hold the worker;
	 * GnuTLS may hold data already read, so come back without polling. */
	c->again = true;
	return true;
}

static short
conn_events(struct conn *c)
{
	if (c->state == WRITING)
		return POLLOUT;
	if (c->state == DRAINING)
		return POLLIN;
	/* In the handshake GnuTLS may be waiting to write. */
	return gnutls_record_get_direction(c->s) ? POLLOUT : POLLIN;
}

/* Milliseconds until the connection must go: its state's deadline or the
 * whole request's, whichever comes first. */
static int
conn_left(const struct conn *c)
{
	int state = tp_deadline_left(&c->deadline), whole = tp_deadline_left(&c->limit);

	return state < whole ? state : whole;
}

/*
 * A worker's connections: at most max_conns, and of those at most
 * max_requests past the handshake. The rest of the slots are kept for
 * handshakes, so that clients which finish a handshake and then send their
 * request slowly (slowloris) never hold every slot: when a handshake ends
 * with every request slot taken, the oldest connection past its handshake
 * makes room, and a new client is served while the slow ones wait for their
 * deadline in the slots they have.
 */
struct worker {
	struct tp_server *srv;
	struct conn *conns;
	size_t count;    /* open, done ones included until the sweep */
	size_t requests; /* of those, past the handshake and not done */
	size_t max_conns, max_requests;
};

/* The connection is finished (and logged): the sweep frees it. */
static void
conn_done(struct worker *w, struct conn *c)
{
	if (c->in_request)
		w->requests--;
	c->in_request = false;
	c->done = true;
}

/* Make room for c: the connection past its handshake that came first goes. */
static void
make_room(struct worker *w, const struct conn *c)
{
	struct conn *oldest = NULL;

	for (struct conn *o = w->conns; o; o = o->next)
		if (o != c && o->in_request && (!oldest || o->t0 < oldest->t0))
			oldest = o;
	if (!oldest)
		return;
	log_conn(w->srv, oldest, false,
		 "dropped to make room for a new client: every slot for requests was taken, and it was the oldest");
	conn_done(w, oldest);
}

/* Advance one connection and count it among the requests once past its
 * handshake; false when it is finished. */
static bool
serve_conn(struct worker *w, struct conn *c)
{
	if (!advance(w->srv, c))
		return false;
	if (!c->in_request && (c->state == READING || c->state == WRITING)) {
		c->in_request = true;
		if (++w->requests > w->max_requests)
			make_room(w, c);
	}
	return true;
}

/* The connection's deadline has passed: say which (a draining connection
 * was logged when its handshake failed). */
static void
log_timeout(struct tp_server *srv, struct conn *c)
{
	if (c->state == DRAINING)
		return;
	if (c->state == HANDSHAKE)
		log_conn(srv, c, false, "timeout: the handshake did not finish in time");
	else if (tp_deadline_left(&c->limit) == 0)
		log_failure(srv, c, "timeout: the request did not finish within %.3g s of connecting",
			    c->limit.ms / 1000.0);
	else
		log_conn(srv, c, false, "timeout: the client went quiet");
}

/* Take new connections from a listener while there is room. */
static void
accept_some(struct worker *w, struct listener *l, struct tp_deadline *accept_pause)
{
	for (int k = 0; k < ACCEPTS_PER_WAKE && w->count < w->max_conns; k++) {
		bool out_of_fds = false;
		struct conn *c = conn_accept(w->srv, l, &out_of_fds);
		if (!c) {
			if (out_of_fds)
				tp_deadline_start(accept_pause, 100);
			return;
		}
		c->next = w->conns;
		w->conns = c;
		w->count++;
		/* The ClientHello is often there already. */
		if (!serve_conn(w, c))
			conn_done(w, c);
	}
}

/* Free the connections that are done. */
static void
sweep(struct worker *w)
{
	for (struct conn **pp = &w->conns; *pp;) {
		struct conn *c = *pp;
		if (!c->done) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		conn_close(c);
		w->count--;
	}
}

static void *
worker(void *arg)
{
	struct worker w = {.srv = arg, .max_conns = MAX_CONNS_PER_WORKER};
	struct tp_server *srv = w.srv;
	size_t nl = srv->n_listeners, cap = nl + 1 + 64, fds = tp_fd_budget();
	struct pollfd *pfd = malloc(cap * sizeof(*pfd));
	struct conn **order = malloc(cap * sizeof(*order));
	struct tp_deadline accept_pause = {.end = {0, 0}};

	/* Never more connections than file descriptors allow, a few kept spare. */
	if (fds != (size_t)-1 && fds / srv->planned_workers < w.max_conns)
		w.max_conns = fds / srv->planned_workers ? fds / srv->planned_workers : 1;
	/* A quarter of the slots (at least one) is kept for handshakes. */
	w.max_requests = w.max_conns > 1 ? w.max_conns - (w.max_conns / 4 ? w.max_conns / 4 : 1) : 1;
	if (!pfd || !order)
		goto out;
	for (;;) {
		size_t n = 0;
		int timeout = -1;
		/* After running out of descriptors, leave the listeners alone a
		 * moment: they stay readable, and polling them would spin. */
		bool accepting = w.count < w.max_conns && tp_deadline_left(&accept_pause) == 0;

		if (w.count + nl + 1 > cap) {
			size_t want = (w.count + nl + 1) * 2;
			struct pollfd *p2 = realloc(pfd, want * sizeof(*pfd));
			struct conn **o2 = p2 ? realloc(order, want * sizeof(*order)) : NULL;
			if (p2)
				pfd = p2;
			if (o2)
				order = o2;
			if (!p2 || !o2)
				goto out;
			cap = want;
		}
		pfd[n++] = (struct pollfd){.fd = srv->stop_pipe[0], .events = POLLIN};
		for (size_t i = 0; i < nl; i++)
			pfd[n++] = (struct pollfd){.fd = srv->listeners[i].fd, .events = accepting ? POLLIN : 0};
		if (!accepting && w.count < w.max_conns) {
			int left = tp_deadline_left(&accept_pause);
			timeout = left ? left : 1;
		}
		for (struct conn *c = w.conns; c; c = c->next) {
			int left = c->again ? 0 : conn_left(c);
			if (timeout < 0 || left < timeout)
				timeout = left;
			order[n] = c;
			pfd[n++] = (struct pollfd){.fd = c->fd, .events = conn_events(c)};
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		for (size_t i = 0; i < nl; i++)
			if (pfd[1 + i].revents & POLLIN)
				accept_some(&w, &srv->listeners[i], &accept_pause);
		/* Connections: serve those with events, drop those past their deadline. */
		for (size_t i = 1 + nl; i < n; i++) {
			struct conn *c = order[i];
			if (c->done) /* made room for another */
				continue;
			/* The deadline holds even for a client that trickles bytes. */
			if (conn_left(c) == 0) {
				log_timeout(srv, c);
				conn_done(&w, c);
			} else if ((pfd[i].revents || c->again) && !serve_conn(&w, c)) {
				conn_done(&w, c);
			}
		}
		sweep(&w);
	}
out:
	while (w.conns) {
		struct conn *next = w.conns->next;
		conn_close(w.conns);
		w.conns = next;
	}
	free(pfd);
	free(order);
	return NULL;
}

int
tp_server_start(struct tp_server *srv)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = srv->o.workers ? srv->o.workers : cpus > 0 ? (size_t)cpus : 1;

	if (!srv->configured)
		return -1;
	if (want > MAX_WORKERS)
		want = MAX_WORKERS;
	srv->planned_workers = want;
	for (size_t i = 0; i < want; i++) {
		if (pthread_create(&srv->workers[i], NULL, worker, srv) != 0)
			break;
		srv->n_workers++;
	}
	return srv->n_workers ? 0 : -1;
}

void
tp_server_stop(struct tp_server *srv)
{
	/* Async-signal-safe: every worker polls the pipe and sees it readable. */
	ssize_t ignored = write(srv->stop_pipe[1], "x", 1);
	(void)ignored;
}

void
tp_server_wait(struct tp_server *srv)
{
	for (size_t i = 0; i < srv->n_workers; i++)
		pthread_join(srv->workers[i], NULL);
	srv->n_workers = 0;
}
