/*
 * options.c: the options are data. One table, sorted by long name, drives
 * getopt_long, --help and the list that man pages and completions are
 * checked against. Turning an option into a core setting happens in
 * apply() below, one case per option.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"

enum opt_id {
	OPT_ALPN = 256,
	OPT_AT,
	OPT_CA_FILE,
	OPT_CLIENT_CERT,
	OPT_CLIENT_KEY,
	OPT_COLOR,
	OPT_CRIT_DAYS,
	OPT_CRL,
	OPT_FORMAT,
	OPT_HELP,
	OPT_INSECURE,
	OPT_IPV4,
	OPT_IPV6,
	OPT_JSON,
	OPT_NO_SYSTEM_CA,
	OPT_OCSP_REQUIRED,
	OPT_PRIORITY,
	OPT_QUIET,
	OPT_SNI,
	OPT_TIMEOUT,
	OPT_TLS_MAX,
	OPT_TLS_MIN,
	OPT_VERBOSE,
	OPT_VERSION,
	OPT_WARN_DAYS,
};

enum opt_group { G_CONNECT, G_TRUST, G_TLS, G_OUTPUT, G_GENERAL, G_COUNT };

struct opt {
	const char *name;
	char shortopt;
	const char *arg; /* metavariable, NULL for a flag */
	enum opt_id id;
	enum opt_group group;
	const char *help;
};

/* MUST stay sorted by name. */
static const struct opt options[] = {
	{"alpn", 0, "LIST", OPT_ALPN, G_TLS, "offer these ALPN protocols, comma separated (h2,http/1.1)"},
	{"at", 0, "TIME", OPT_AT, G_TRUST, "judge validity as if at TIME (2030-01-31, 2030-01-31T12:00:00Z, @EPOCH)"},
	{"ca-file", 0, "FILE", OPT_CA_FILE, G_TRUST, "also trust the CA certificates in FILE (repeatable)"},
	{"client-cert", 0, "FILE", OPT_CLIENT_CERT, G_TLS, "client certificate for mutual TLS (PEM)"},
	{"client-key", 0, "FILE", OPT_CLIENT_KEY, G_TLS, "private key of --client-cert"},
	{"color", 0, "WHEN", OPT_COLOR, G_OUTPUT, "colour the text output: auto, always, never"},
	{"crit-days", 0, "N", OPT_CRIT_DAYS, G_TRUST, "critical when a certificate expires within N days (14)"},
	{"crl", 0, "FILE", OPT_CRL, G_TRUST, "check the chain against the CRLs in FILE (repeatable)"},
	{"format", 0, "FMT", OPT_FORMAT, G_OUTPUT, "output format: text, json"},
	{"help", 'h', NULL, OPT_HELP, G_GENERAL, "show this help"},
	{"insecure", 'k', NULL, OPT_INSECURE, G_TRUST, "report verification problems but do not fail on them"},
	{"ipv4", '4', NULL, OPT_IPV4, G_CONNECT, "connect over IPv4 only"},
	{"ipv6", '6', NULL, OPT_IPV6, G_CONNECT, "connect over IPv6 only"},
	{"json", 0, NULL, OPT_JSON, G_OUTPUT, "one JSON object per target (same as --format json)"},
	{"no-system-ca", 0, NULL, OPT_NO_SYSTEM_CA, G_TRUST, "do not trust the system's CA store"},
	{"ocsp-required", 0, NULL, OPT_OCSP_REQUIRED, G_TRUST, "fail when the server staples no OCSP response"},
	{"priority", 0, "STRING", OPT_PRIORITY, G_TLS, "GnuTLS priority string (default NORMAL)"},
	{"quiet", 'q', NULL, OPT_QUIET, G_OUTPUT, "text: print only the verdict line"},
	{"sni", 0, "NAME", OPT_SNI, G_CONNECT, "send NAME as SNI and verify the certificate against it"},
	{"timeout", 0, "SECONDS", OPT_TIMEOUT, G_CONNECT, "bound the whole probe (default 10)"},
	{"tls-max", 0, "VER", OPT_TLS_MAX, G_TLS, "highest TLS version to offer: 1.0, 1.1, 1.2, 1.3"},
	{"tls-min", 0, "VER", OPT_TLS_MIN, G_TLS, "lowest TLS version to offer: 1.0, 1.1, 1.2, 1.3"},
	{"verbose", 'v', NULL, OPT_VERBOSE, G_OUTPUT, "text: show more detail"},
	{"version", 'V', NULL, OPT_VERSION, G_GENERAL, "show versions of tlsprobe and its libraries"},
	{"warn-days", 0, "N", OPT_WARN_DAYS, G_TRUST, "warn when a certificate expires within N days (30)"},
};
#define N_OPTIONS (sizeof(options) / sizeof(*options))

static const char *const group_names[G_COUNT] = {
	[G_CONNECT] = "Connection",
	[G_TRUST] = "Trust and verification",
	[G_TLS] = "TLS",
	[G_OUTPUT] = "Output",
	[G_GENERAL] = "General",
};

CLI_PRINTF(3, 4) static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
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

int
cli_parse_time(const char *s, time_t *t)
{
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
		"%Y-%m-%dT%H:%MZ",    "%Y-%m-%dT%H:%M",    "%Y-%m-%d %H:%M", "%Y-%m-%d",
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
	for (size_t i = 0; i < sizeof(formats) / sizeof(*formats); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[i], &tm);
		if (end && *end == '\0') {
			*t = timegm(&tm);
			return *t > 0 ? 0 : -1;
		}
	}
	return -1;
}

static const struct opt *
find(int id)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if ((int)options[i].id == id || (options[i].shortopt && options[i].shortopt == id))
			return &options[i];
	return NULL;
}

static int
apply(struct cli *cli, const struct opt *o, const char *arg, const char **cert, const char **key,
      const char **tls_min, const char **tls_max, int *warn, int *crit, char *err, size_t errlen)
{
	struct tp_config *cfg = cli->cfg;
	double secs;
	char *end;

	switch (o->id) {
	case OPT_ALPN:
		if (tp_config_set_alpn(cfg, arg) < 0)
			return fail(err, errlen, "%s", tp_config_error(cfg));
		break;
	case OPT_AT:
		if (cli_parse_time(arg, &cli->at) < 0)
			return fail(err, errlen, "invalid --at '%s': use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) "
						 "or @EPOCH-SECONDS", arg);
		tp_config_set_time(cfg, cli->at);
		break;
	case OPT_CA_FILE:
		if (tp_config_add_ca_file(cfg, arg) < 0)
			return fail(err, errlen, "%s", tp_config_error(cfg));
		break;
	case OPT_CLIENT_CERT: *cert = arg; break;
	case OPT_CLIENT_KEY: *key = arg; break;
	case OPT_COLOR:
		if (strcmp(arg, "auto") == 0)
			cli->color = COLOR_AUTO;
		else if (strcmp(arg, "always") == 0)
			cli->color = COLOR_ALWAYS;
		else if (strcmp(arg, "never") == 0)
			cli->color = COLOR_NEVER;
		else
			return fail(err, errlen, "invalid --color '%s': use auto, always or never", arg);
		break;
	case OPT_CRIT_DAYS:
		if (parse_int(arg, crit) < 0)
			return fail(err, errlen, "invalid --crit-days '%s': give a whole number of days", arg);
		break;
	case OPT_CRL:
		if (tp_config_add_crl_file(cfg, arg) < 0)
			return fail(err, errlen, "%s", tp_config_error(cfg));
		break;
	case OPT_FORMAT:
		if (strcmp(arg, "text") == 0)
			cli->format = FORMAT_TEXT;
		else if (strcmp(arg, "json") == 0)
			cli->format = FORMAT_JSON;
		else
			return fail(err, errlen, "invalid --format '%s': use text or json", arg);
		break;
	case OPT_HELP: cli->help = true; break;
	case OPT_INSECURE: tp_config_set_insecure(cfg, true); break;
	case OPT_IPV4: tp_config_set_family(cfg, AF_INET); break;
	case OPT_IPV6: tp_config_set_family(cfg, AF_INET6); break;
	case OPT_JSON: cli->format = FORMAT_JSON; break;
	case OPT_NO_SYSTEM_CA: tp_config_set_system_ca(cfg, false); break;
	case OPT_OCSP_REQUIRED: tp_config_set_ocsp_required(cfg, true); break;
	case OPT_PRIORITY: tp_config_set_priority(cfg, arg); break;
	case OPT_QUIET: cli->quiet++; break;
	case OPT_SNI:
		if (!*arg)
			return fail(err, errlen, "empty --sni: give a host name");
		cli->sni = arg;
		break;
	case OPT_TIMEOUT:
		errno = 0;
		secs = strtod(arg, &end);
		if (errno || end == arg || *end || !(secs > 0) || secs > 86400)
			return fail(err, errlen, "invalid --timeout '%s': give seconds, more than 0 (e.g. 10 or 2.5)",
				    arg);
		tp_config_set_timeout_ms(cfg, (unsigned)ceil(secs * 1000));
		break;
	case OPT_TLS_MAX: *tls_max = arg; break;
	case OPT_TLS_MIN: *tls_min = arg; break;
	case OPT_VERBOSE: cli->verbose++; break;
	case OPT_VERSION: cli->version = true; break;
	case OPT_WARN_DAYS:
		if (parse_int(arg, warn) < 0)
			return fail(err, errlen, "invalid --warn-days '%s': give a whole number of days", arg);
		break;
	}
	return 0;
}

int
cli_parse(struct cli *cli, int argc, char **argv, char *err, size_t errlen)
{
	struct option longopts[N_OPTIONS + 1];
	char shortopts[N_OPTIONS * 2 + 2], *sp = shortopts;
	const char *cert = NULL, *key = NULL, *tls_min = NULL, *tls_max = NULL;
	int warn = 30, crit = 14, c;

	memset(cli, 0, sizeof(*cli));
	cli->command = "connect";
	cli->cfg = tp_config_create();
	if (!cli->cfg)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		longopts[i] = (struct option){options[i].name, options[i].arg ? required_argument : no_argument, NULL,
					      (int)options[i].id};
		if (options[i].shortopt) {
			*sp++ = options[i].shortopt;
			if (options[i].arg)
				*sp++ = ':';
		}
	}
	*sp = '\0';
	longopts[N_OPTIONS] = (struct option){0};

	if (argc > 1 && strcmp(argv[1], "connect") == 0) {
		argv++;
		argc--;
	}
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct opt *o;
		if (c == '?') {
			if (optopt && find(optopt) && find(optopt)->arg)
				return fail(err, errlen, "option %s needs a value; see tlsprobe --help", argv[optind - 1]);
			return fail(err, errlen, "unknown option '%s'; see tlsprobe --help", argv[optind - 1]);
		}
		if (c == ':' || !(o = find(c)))
			return fail(err, errlen, "bad option '%s'; see tlsprobe --help", argv[optind - 1]);
		if (apply(cli, o, optarg, &cert, &key, &tls_min, &tls_max, &warn, &crit, err, errlen) < 0)
			return -1;
	}
	if (cli->help || cli->version)
		return 0;
	if ((cert || key) && tp_config_set_client_cert(cli->cfg, cert, key) < 0)
		return fail(err, errlen, "%s", tp_config_error(cli->cfg));
	if ((tls_min || tls_max) && tp_config_set_tls_versions(cli->cfg, tls_min, tls_max) < 0)
		return fail(err, errlen, "%s", tp_config_error(cli->cfg));
	if (tp_config_set_expiry_days(cli->cfg, warn, crit) < 0)
		return fail(err, errlen, "%s", tp_config_error(cli->cfg));
	/* Settings that can only be checked together (the priority string,
	 * the client key) are checked now, so bad usage fails before any probe. */
	if (tp_config_ready(cli->cfg) < 0)
		return fail(err, errlen, "%s", tp_config_error(cli->cfg));
	cli->targets = argv + optind;
	cli->n_targets = (size_t)(argc - optind);
	if (cli->n_targets == 0)
		return fail(err, errlen, "no target given: tlsprobe HOST[:PORT]; see tlsprobe --help");
	return 0;
}

void
cli_finish(struct cli *cli)
{
	tp_config_destroy(cli->cfg);
	cli->cfg = NULL;
}

void
cli_help(FILE *out, const char *command)
{
	fprintf(out,
		"Usage: tlsprobe [connect] TARGET... [options]\n"
		"\n"
		"Connect to each TARGET (host, host:port, [v6addr]:port or https://URL; port 443\n"
		"by default), report the TLS version, cipher and certificate chain, and say why\n"
		"the chain does not verify and how to fix it.\n");
	for (int g = 0; g < G_COUNT; g++) {
		fprintf(out, "\n%s:\n", group_names[g]);
		for (size_t i = 0; i < N_OPTIONS; i++) {
			const struct opt *o = &options[i];
			char left[64];
			if (o->group != (enum opt_group)g)
				continue;
			if (o->shortopt)
				snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shortopt, o->name, o->arg ? " " : "",
					 o->arg ? o->arg : "");
			else
				snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
					 o->arg ? o->arg : "");
			fprintf(out, "  %-26s %s\n", left, o->help);
		}
	}
	fprintf(out,
		"\n"
		"Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (bad usage, unreadable file).\n"
		"\n"
		"Example:\n"
		"  tlsprobe localhost:8443 --ca-file root.pem\n"
		"  tlsprobe example.com --json | jq .verify.problems\n"
		"\n"
		"See tlsprobe(1) and tlsprobe-json(7).\n");
	(void)command;
}
