/*
 * output.c: one place that sends a result to the chosen format, for every
 * command that judges certificates. Prometheus output is held until the end:
 * the exposition format wants each metric's samples together.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void
cli_malloc_arenas(void)
{
#ifdef M_ARENA_MAX
	/* One malloc arena per CPU, not glibc's eight per CPU: the workers
	 * spend their time waiting on the network, and each extra arena keeps
	 * its own free memory (bench/batch: about 14 KB less per probe in
	 * flight at --parallel 64, the same speed). MALLOC_ARENA_MAX wins. */
	if (!getenv("MALLOC_ARENA_MAX")) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		mallopt(M_ARENA_MAX, cpus > 0 ? (int)cpus : 2);
	}
#endif
}

int
out_init(struct out *o, const struct cli *cli)
{
	memset(o, 0, sizeof(*o));
	o->format = cli->format;
	o->ro = (struct render_opts){
		.color = cli_want_color(cli->color),
		/* A list gets one line per target. */
		.quiet = cli->quiet || cli->cmd == CMD_BATCH,
		.verbose = cli->verbose,
		.pretty = isatty(STDOUT_FILENO) && cli->cmd != CMD_BATCH,
		.warn_days = cli->warn_days,
		.crit_days = cli->crit_days,
		.now = cli->at,
	};
	if (o->format == FORMAT_PROMETHEUS && !(o->prom = prom_create(true, 0)))
		return -1;
	o->ro.lines = cli->cmd == CMD_BATCH;
	if (o->format == FORMAT_TSV)
		render_tsv_header(stdout, o->ro.lines);
	return 0;
}

void
out_record(struct out *o, const struct tp_result *r, size_t line)
{
	o->ro.line = line;
	switch (o->format) {
	case FORMAT_JSON: render_json(stdout, r, &o->ro); break;
	case FORMAT_NAGIOS: render_nagios(stdout, r, &o->ro); break;
	case FORMAT_PROMETHEUS: prom_add(o->prom, r, line); break;
	case FORMAT_TSV: render_tsv(stdout, r, &o->ro); break;
	default:
		if (o->count && !o->ro.quiet)
			fputc('\n', stdout);
		render_text(stdout, r, &o->ro);
		break;
	}
	o->count++;
	fflush(stdout);
}

void
out_result(struct out *o, const struct tp_result *r)
{
	out_record(o, r, 0);
}

/*
 * Which of two statuses is worse, as Icinga ranks them: CRITICAL, then
 * UNKNOWN, then WARNING, then OK. A list with one bad line and one broken
 * server is critical, not unknown.
 */
enum tp_status
cli_worse(enum tp_status a, enum tp_status b)
{
	static const int rank[] = {
		[TP_STATUS_OK] = 0, [TP_STATUS_WARNING] = 1, [TP_STATUS_UNKNOWN] = 2, [TP_STATUS_CRITICAL] = 3};
	return rank[a <= TP_STATUS_UNKNOWN ? a : TP_STATUS_UNKNOWN] >=
			       rank[b <= TP_STATUS_UNKNOWN ? b : TP_STATUS_UNKNOWN]
		       ? a
		       : b;
}

const char *
cli_status_word(enum tp_status s)
{
	static const char *const words[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

	return words[s <= TP_STATUS_UNKNOWN ? s : TP_STATUS_UNKNOWN];
}

void
out_finish(struct out *o)
{
	if (o->prom) {
		prom_write(o->prom, stdout);
		prom_destroy(o->prom);
		o->prom = NULL;
	}
	fflush(stdout);
}

int
out_single(const struct cli *cli, struct tp_result *r)
{
	struct out out;
	int status;

	if (!r)
		return cli_fail(cli->format, FAIL_INTERNAL, NULL, "out of memory");
	if (out_init(&out, cli) == 0) {
		out_result(&out, r);
		out_finish(&out);
	}
	status = (int)tp_result_status(r);
	tp_result_destroy(r);
	return status;
}

/* The codes of a command that could not run, and what to do about each; a
 * NULL code or fix is the reason code's own. */
static const struct {
	const char *code;
	enum tp_code reason;
	const char *fix;
} failures[FAIL_COUNT] = {
	[FAIL_USAGE] = {"bad-usage", TP_CODE_NONE,
			"Correct the command line: tlsprobe --help, or tlsprobe COMMAND --help, lists the commands, "
			"their options and the values each takes."},
	[FAIL_FILE] = {"bad-file", TP_CODE_NONE,
		       "Check the path, that this user may read it (or write there), and that the file holds what "
		       "was asked for: PEM or DER certificates, a PEM key, a CRL, a list of targets."},
	[FAIL_TARGET] = {NULL, TP_INVALID_TARGET,
			 "Give host, host:port, [v6addr]:port, a bare IPv6 address or an https:// URL; ports go "
			 "from 1 to 65535."},
	[FAIL_INTERNAL] = {NULL, TP_INTERNAL_ERROR, NULL},
};

int
cli_fail(enum cli_format format, enum cli_failure why, const char *input, const char *fmt, ...)
{
	char *message = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&message, fmt, ap) < 0)
		message = NULL;
	va_end(ap);
	fprintf(stderr, "tlsprobe: %s\n", message ? message : "out of memory");
	if (format == FORMAT_JSON) {
		const struct tp_reason *reason = tp_reason_get(failures[why].reason);
		render_json_write(stdout,
				  render_json_failure(input, failures[why].code ? failures[why].code : reason->name,
						      message ? message : "out of memory",
						      failures[why].fix ? failures[why].fix : reason->fix),
				  isatty(STDOUT_FILENO));
		fflush(stdout);
	}
	free(message);
	return TP_STATUS_UNKNOWN;
}
