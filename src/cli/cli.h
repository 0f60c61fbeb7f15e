/*
 * The command-line front end: options, renderers and exit codes. The only
 * part of tlsprobe that writes to stdout and stderr.
 */
#ifndef TP_CLI_H
#define TP_CLI_H

#include <stdio.h>
#include <jansson.h>

#include "tlsprobe.h"

#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Said of a --starttls value the core does not know, on the command line or in a batch list. */
#define CLI_UNKNOWN_STARTTLS \
	"unknown --starttls '%s': use smtp, lmtp, imap, pop3, ftp, nntp, sieve, irc, xmpp, xmpp-server, ldap, " \
	"postgres or mysql"

enum cli_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_NAGIOS, FORMAT_PROMETHEUS, FORMAT_TSV };
/* Why a command could not run at all (exit 3): the error code of its JSON
 * object (output.c has the codes and their fixes). */
enum cli_failure { FAIL_USAGE, FAIL_FILE, FAIL_TARGET, FAIL_INTERNAL, FAIL_COUNT };
enum cli_color { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };

enum cli_command {
	CMD_CONNECT = 1 << 0,
	CMD_SERVE = 1 << 1,
	CMD_DEMO = 1 << 2,
	CMD_CA = 1 << 3,
	CMD_CERT = 1 << 4,
	CMD_FETCH = 1 << 5,
	CMD_BATCH = 1 << 6,
	CMD_EXPORTER = 1 << 7,
	CMD_SCAN = 1 << 8,
};

/* tlsprobe exporter's port when --listen names none: not 9115
 * (blackbox_exporter) nor 9219 (ssl_exporter), so both can run beside it. */
#define CLI_EXPORTER_PORT 9856

struct batch_args {
	unsigned parallel; /* batch: targets at once; scan: connections at once */
	bool parallel_given;
	bool ordered;
	bool scan; /* batch: scan every target */
};

struct fetch_args {
	struct tp_fetch_options o;
	const char *headers[32];
	const char *resolve[16];
	const char *connect_to[16];
	const char *expect_headers[16];
};

struct ca_args {
	const char *name, *out, *csr, *root, *cert, *key, *host, *crl_url, *ocsp_url, *reason;
	enum tp_key_type key_type;
	int days;
	bool no_intermediate, force, client, verify;
};

struct serve_args {
	const char *listen[16];
	size_t n_listen;
	const char *names[16];
	size_t n_names;
	const char *cert, *key, *write_ca, *write_client_cert, *scenario, *client_ca, *alpn, *ocsp_response;
	bool list_scenarios, echo, log_json;
	int client_cert; /* 1 request, 2 require */
	long base_port;  /* -1 when not given */
	unsigned handshake_timeout_ms, request_timeout_ms, workers;
};

struct exporter_args {
	const char *listen[16];
	size_t n_listen;
	const char *config;
	unsigned max_concurrent;
};

struct cli {
	const char *command;         /* "connect", "serve", ... */
	unsigned cmd;                /* its CMD_ bit */
	int (*run)(struct cli *cli); /* its entry point; returns the exit status */
	struct serve_args serve;
	struct ca_args ca;
	struct fetch_args fetch;
	struct batch_args batch;
	struct exporter_args exporter;
	int warn_days, crit_days;
	char **targets;
	size_t n_targets;
	const char *sni;
	bool no_sni;
	const char *starttls;
	const char *connect_to;
	const char *save_chain;      /* --save-chain FILE, or NULL */
	const char *write_fullchain; /* --write-fullchain FILE, or NULL */
	enum cli_format format;
	enum cli_color color;
	int quiet, verbose;
	bool help, version;
	time_t at;
	struct tp_config *cfg;
	enum cli_failure failure; /* what a failing cli_parse met */
};

/* Parses argv into cli (which owns a new config), cli->run being the named
 * command's entry point. Returns 0, or -1 with a one-line reason in err and
 * its kind in cli->failure. */
int cli_parse(struct cli *cli, int argc, char **argv, char *err, size_t errlen);
/* The output format argv asks for, read without judging the rest (for a
 * command line cli_parse refused): the last --json or --format wins. */
enum cli_format cli_format_asked(int argc, char **argv);
void cli_finish(struct cli *cli);
void cli_help(FILE *out, const char *command);
/* tlsprobe --version: tlsprobe's and its libraries' versions. */
void cli_version(FILE *out);
/* Parses --at's forms; -1 on error. */
int cli_parse_time(const char *s, time_t *t);

struct render_opts {
	bool color;
	int quiet, verbose;
	bool pretty;              /* JSON: indented */
	bool diagnosis_only;      /* text: the verdict and the problems, no details */
	int warn_days, crit_days; /* for Nagios perfdata */
	time_t now;               /* the time results are judged at (--at); 0: the clock */
	bool lines;               /* results come from a batch list: TSV has a line column */
	size_t line;              /* the line of the list the result is for; 0: none */
};

void render_text(FILE *out, const struct tp_result *r, const struct render_opts *o);
json_t *render_json_object(const struct tp_result *r);
/* The object of a command that could not run: status unknown, no chain, and
 * the error; input (or NULL) names the target or file it was about. */
json_t *render_json_failure(const char *input, const char *code, const char *message, const char *fix);
void render_json(FILE *out, const struct tp_result *r, const struct render_opts *o);
/* Writes j on one line (or indented when pretty) and releases it. */
void render_json_write(FILE *out, json_t *j, bool pretty);

/* The commands, the entry points the commands table names (connect_cmd.c,
 * serve_cmd.c, demo.c, ca_cmd.c for ca and cert, fetch_cmd.c, batch_cmd.c);
 * each returns the exit status. */
int connect_command(struct cli *cli);
/* tlsprobe scan: connect_command's loop, each target scanned (connect_cmd.c). */
int scan_command(struct cli *cli);
/* A target from input with the command line's --sni, --no-sni, --starttls
 * and --connect-to: 0, or -1 with a reason in err and its kind in failure. */
int cli_target(const struct cli *cli, struct tp_target *t, const char *input, enum cli_failure *failure, char *err,
	       size_t errlen);
int serve_command(struct cli *cli);
int demo_command(struct cli *cli);
int ca_command(struct cli *cli);
int cert_command(struct cli *cli);
int fetch_command(struct cli *cli);
int batch_command(struct cli *cli);
int exporter_command(struct cli *cli);
/* For a module of the exporter's configuration: whether the option of this
 * long name takes a value for the command (1), is a flag (0), or is no
 * option of it (-1); metavar is its value's name in --help ("FILE"). */
int cli_option_takes_value(const char *name, const char *command, const char **metavar);

/* The monitoring formats (render_monitor.c). */
void render_nagios(FILE *out, const struct tp_result *r, const struct render_opts *o);
struct prom;
/* target_labels: each series names its target (batch; not the exporter,
 * where Prometheus adds them); timeout_s > 0: probe_timeout_seconds. */
struct prom *prom_create(bool target_labels, double timeout_s);
/* line: of a batch list, a label; 0 for none. */
void prom_add(struct prom *p, const struct tp_result *r, size_t line);
void prom_write(struct prom *p, FILE *out);
/* A label value in double quotes, escaped so that no byte breaks the format. */
void prom_quote(FILE *out, const char *value);
void prom_destroy(struct prom *p);
/* lines: a last column, the line of a batch list. */
void render_tsv_header(FILE *out, bool lines);
void render_tsv(FILE *out, const struct tp_result *r, const struct render_opts *o);

/* Where results go, in the chosen format (output.c). */
struct out {
	enum cli_format format;
	struct render_opts ro;
	struct prom *prom;
	size_t count;
};
int out_init(struct out *o, const struct cli *cli);
/* For the commands that probe in many threads at once (batch, exporter). */
void cli_malloc_arenas(void);
void out_result(struct out *o, const struct tp_result *r);
/* out_result for the result of a list's line: every format names it. */
void out_record(struct out *o, const struct tp_result *r, size_t line);
void out_finish(struct out *o);
/* A command with one result: writes r as out_init, out_result and out_finish
 * would, frees it and returns its status. NULL (out of memory) is said on
 * stderr and is UNKNOWN. */
int out_single(const struct cli *cli, struct tp_result *r);
enum tp_status cli_worse(enum tp_status a, enum tp_status b);
/* A command that cannot run: "tlsprobe: MESSAGE" on stderr and, in JSON
 * format, the failure's object on stdout (input, or NULL, names what it was
 * about). Returns UNKNOWN, the exit status. */
CLI_PRINTF(4, 5) int cli_fail(enum cli_format format, enum cli_failure why, const char *input, const char *fmt, ...);
/* OK, WARNING, CRITICAL, UNKNOWN: a status as Nagios and people read it. */
const char *cli_status_word(enum tp_status s);

/* What reaches a terminal (term.c). Whether to colour stdout: as --color says,
 * or on a terminal unless NO_COLOR is set or TERM=dumb. */
bool cli_want_color(enum cli_color c);
/* Writes s with every control character made visible (\x1b, \u{202e}). */
void render_safe(FILE *out, const char *s);
/* A certificate's subjectAltNames joined by sep; free it. NULL when out of memory. */
char *cli_join_sans(const struct tp_cert_info *c, const char *sep);

#endif
