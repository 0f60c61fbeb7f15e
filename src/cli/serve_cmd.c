/*
 * serve_cmd.c: tlsprobe serve, the front end of the reference server:
 * listeners from --listen, the scenario table, one log line per connection
 * on stderr, and a clean stop on SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define DEFAULT_LISTEN "127.0.0.1:8443"

static struct tp_server *running;

static void
on_signal(int sig)
{
	(void)sig;
	if (running)
		tp_server_stop(running);
}

static void
field(FILE *m, const char *key, const char *value)
{
	fprintf(m, " %s=", key);
	if (value)
		render_safe(m, value);
	else
		fputc('-', m);
}

static void
log_line(void *ctx, const struct tp_conn_log *l)
{
	bool json = *(const bool *)ctx;
	char when[32], *line = NULL;
	size_t len = 0;
	time_t now = time(NULL);
	struct tm tm;
	FILE *m;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:b, s:s}", "time", when, "peer",
				      l->peer, "scenario", l->site, "sni", l->sni, "version", l->version, "cipher",
				      l->cipher, "alpn", l->alpn, "client_cert", l->client_cert, "ok", l->ok, "result",
				      l->result);
		if (o && l->handshake_ms >= 0)
			json_object_set_new(o, "handshake_ms", json_real(l->handshake_ms));
		line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4)) : NULL;
		json_decref(o);
		if (line)
			fprintf(stderr, "%s\n", line);
		free(line);
		return;
	}
	/* One write per line, so lines from several workers do not mix. */
	if (!(m = open_memstream(&line, &len)))
		return;
	fprintf(m, "%s %s", when, l->peer);
	field(m, "scenario", l->site);
	field(m, "sni", l->sni);
	field(m, "version", l->version);
	field(m, "cipher", l->cipher);
	field(m, "alpn", l->alpn);
	field(m, "client", l->client_cert);
	fputs(l->ok ? " ok" : " FAILED ", m);
	if (!l->ok)
		render_safe(m, l->result);
	if (l->handshake_ms >= 0)
		fprintf(m, " (handshake %.1f ms)", l->handshake_ms);
	fputc('\n', m);
	fclose(m);
	fputs(line, stderr);
	free(line);
}

/* ADDR:PORT, [V6]:PORT; port 0 asks for a free one. */
static int
parse_listen(const char *s, char *addr, size_t len, uint16_t *port)
{
	const char *colon, *host = s;
	size_t hostlen;
	char *end;
	long p;

	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -1;
		host = s + 1;
		hostlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hostlen = (size_t)(colon - s);
	}
	p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || p < 0 || p > 65535 || hostlen == 0 || hostlen >= len)
		return -1;
	memcpy(addr, host, hostlen);
	addr[hostlen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static void
list_scenarios(FILE *out)
{
	fprintf(out, "%-22s %-22s %s\n", "SCENARIO", "A CLIENT SHOULD SAY", "SETUP");
	for (size_t i = 0; i < tp_scenario_count(); i++)
		fprintf(out, "%-22s %-22s %s\n", tp_scenario(i)->name, tp_scenario(i)->expect, tp_scenario(i)->summary);
}

/* One line on stderr, as serve says every problem that stops it; returns -1. */
CLI_PRINTF(1, 2) static int refuse(const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n >= 0)
		fprintf(stderr, "tlsprobe: %s\n", msg);
	free(msg);
	return -1;
}

/*
 * The server's message, with the remedy named in our own options where there
 * is one: the core speaks of a port or a CA, the user typed --listen or
 * --client-ca.
 */
static int
refuse_server(const struct tp_server *srv)
{
	switch (tp_server_fault(srv)) {
	case TP_SERVER_FAULT_PORT_TAKEN: return refuse("%s; choose another with --listen", tp_server_error(srv));
	case TP_SERVER_FAULT_NO_CLIENT_CA:
		return refuse("requesting client certificates needs --client-ca FILE to verify them");
	default: return refuse("%s", tp_server_error(srv));
	}
}

/* Whether the comma-separated list offers h2. */
static bool
offers_h2(const char *list)
{
	for (const char *p = list; (p = strstr(p, "h2")); p += 2)
		if ((p == list || p[-1] == ',') && (p[2] == '\0' || p[2] == ','))
			return true;
	return false;
}

/*
 * Every check of the options, before anything is made: says the first
 * problem and returns -1. Sets the scenario (NULL: the certificate files;
 * "good" when neither is given) and the default --listen.
 */
static int
check_options(struct serve_args *sv, const char **scenario, bool *all)
{
	char addr[64];
	uint16_t port;

	*scenario = sv->scenario;
	if (!sv->cert != !sv->key)
		return refuse("--cert and --key go together: give both");
	if (sv->cert && sv->scenario)
		return refuse("--cert/--key serve your certificate, --scenario a made one: choose one");
	if (sv->cert && sv->write_ca)
		return refuse("--write-ca writes the made root CA, and with --cert nothing is made: give clients the "
			      "CA that issued your certificate");
	if (sv->ocsp_response && !sv->cert)
		return refuse("--ocsp-response staples a response about your certificate: give it with --cert/--key");
	if (!sv->cert)
		*scenario = sv->scenario ? sv->scenario : "good";
	/* It answers HTTP/1.1: picking h2 would leave h2 clients talking to a
	 * server that does not speak it. */
	if (sv->alpn && !sv->echo && offers_h2(sv->alpn))
		return refuse("--alpn h2: the server answers HTTP/1.1 only; offer h2 with --echo, or leave it out");
	if (sv->write_client_cert && sv->cert)
		return refuse("--write-client-cert writes a certificate from the made CA, and with --cert nothing is "
			      "made: issue one with tlsprobe ca issue DIR NAME --client");
	*all = *scenario && strcmp(*scenario, "all") == 0;
	if (*scenario && !*all && !tp_scenario_find(*scenario))
		return refuse("unknown scenario '%s'; see tlsprobe serve --list-scenarios", *scenario);
	if (sv->base_port >= 0 && !*all)
		return refuse("--base-port goes with --scenario all");
	if (!sv->n_listen)
		sv->listen[sv->n_listen++] = DEFAULT_LISTEN;
	for (size_t i = 0; i < sv->n_listen; i++)
		if (parse_listen(sv->listen[i], addr, sizeof(addr), &port) < 0)
			return refuse("invalid --listen '%s': give ADDR:PORT, e.g. 127.0.0.1:8443 or [::1]:8443",
				      sv->listen[i]);
	return 0;
}

/* Every scenario on addr, on consecutive ports from --base-port (or the
 * --listen port; 0 gives each a free one), in a table on stdout. */
static int
listen_all(struct tp_server *srv, const struct serve_args *sv, const char *addr, uint16_t port, bool first)
{
	long base = sv->base_port >= 0 ? sv->base_port : port;

	if (first)
		printf("%-6s %-22s %-22s %s\n", "PORT", "SCENARIO", "A CLIENT SHOULD SAY", "SETUP");
	for (size_t k = 0; k < tp_scenario_count(); k++) {
		const struct tp_scenario_info *sc = tp_scenario(k);
		long want = base ? base + (long)k : 0;
		int got;

		if (want > 65535)
			return refuse("--base-port %ld leaves no room for %zu scenarios", base, tp_scenario_count());
		if ((got = tp_server_listen(srv, sc->name, addr, (uint16_t)want)) < 0)
			return refuse_server(srv);
		printf("%-6d %-22s %-22s %s\n", got, sc->name, sc->expect, sc->summary);
	}
	return 0;
}

/* The listeners --listen asks for, each said on stdout. */
static int
listen_each(struct tp_server *srv, const struct serve_args *sv, const char *scenario, bool all)
{
	char addr[64];
	uint16_t port;
	int got;

	for (size_t i = 0; i < sv->n_listen; i++) {
		parse_listen(sv->listen[i], addr, sizeof(addr), &port);
		if (all) {
			if (listen_all(srv, sv, addr, port, i == 0) < 0)
				return -1;
			continue;
		}
		if ((got = tp_server_listen(srv, scenario, addr, port)) < 0)
			return refuse_server(srv);
		printf("listening on %s%s%s:%d, %s\n", strchr(addr, ':') ? "[" : "", addr, strchr(addr, ':') ? "]" : "",
		       got, scenario ? scenario : "your certificate");
	}
	return 0;
}

int
serve_command(struct cli *cli)
{
	struct serve_args *sv = &cli->serve;
	bool json = sv->log_json, all = false;
	struct tp_server_options o = {
		.names = sv->names,
		.n_names = sv->n_names,
		.cert_file = sv->cert,
		.ocsp_response_file = sv->ocsp_response,
		.key_file = sv->key,
		.client_ca_file = sv->client_ca,
		.client_cert = sv->client_cert,
		.alpn = sv->alpn,
		.echo = sv->echo,
		.handshake_timeout_ms = sv->handshake_timeout_ms,
		.request_timeout_ms = sv->request_timeout_ms,
		.workers = sv->workers,
		.log = log_line,
		.log_ctx = &json,
	};
	const char *scenario;
	struct tp_server *srv;
	struct sigaction sa = {.sa_handler = on_signal};
	int status = TP_STATUS_UNKNOWN;

	if (sv->list_scenarios) {
		list_scenarios(stdout);
		return 0;
	}
	if (check_options(sv, &scenario, &all) < 0)
		return TP_STATUS_UNKNOWN;
	if (!(srv = tp_server_create())) {
		refuse("out of memory");
		return TP_STATUS_UNKNOWN;
	}
	if (tp_server_configure(srv, &o) < 0) {
		refuse_server(srv);
		goto out;
	}
	/* Stopped by a signal from now on, even one that comes before the
	 * workers start (they find the stop pipe readable at once): whoever
	 * read the listening line may send it straight away. */
	running = srv;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sv->write_ca && tp_server_write_ca(srv, sv->write_ca) < 0) ||
	    (sv->write_client_cert && tp_server_write_client_cert(srv, sv->write_client_cert) < 0)) {
		refuse_server(srv);
		goto out;
	}
	if (listen_each(srv, sv, scenario, all) < 0)
		goto out;
	if (sv->write_ca)
		printf("clients trust the root CA with: tlsprobe --ca-file %s, curl --cacert %s\n", sv->write_ca,
		       sv->write_ca);
	if (sv->write_client_cert)
		printf("a client certificate the server accepts: curl --cert %s.pem --key %s.key\n",
		       sv->write_client_cert, sv->write_client_cert);
	fflush(stdout);

	if (tp_server_start(srv) < 0) {
		refuse("cannot start worker threads");
		goto out;
	}
	tp_server_wait(srv);
	status = TP_STATUS_OK;
out:
	running = NULL;
	tp_server_destroy(srv);
	return status;
}
