/*
 * exporter_cmd.c: tlsprobe exporter, a Prometheus probe endpoint.
 *
 * libmicrohttpd answers HTTP; a fixed pool of --max-concurrent workers
 * runs the probes. A /probe request is checked in the HTTP thread, then
 * queued and its connection suspended; a worker probes within the scrape's
 * deadline, renders the answer with the renderer batch uses, and resumes
 * the connection. The queue holds at most four times as many requests as
 * there are workers: beyond that, 503 at once. So the threads, the memory
 * and the sockets in use stay bounded whatever the request rate.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buildconf.h"
#include "exporter.h"

#define STR(x) STR_(x)
#define STR_(x) #x

#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TEXT_TYPE "text/plain; charset=utf-8"
#define HTML_TYPE "text/html; charset=utf-8"
/* What blackbox_exporter keeps from Prometheus's scrape timeout for
 * itself, so that the answer arrives in time. */
#define SCRAPE_MARGIN_S 0.5
#define QUEUE_FACTOR 4
#define RECENT 100
#define REPORT_MAX (256 * 1024)
#define MAX_DAEMONS 16

static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define N_BUCKETS (sizeof(buckets) / sizeof(*buckets))

struct job {
	struct exporter *ex;
	struct MHD_Connection *conn;
	struct modules *set;
	const struct module *mod;
	char *target;
	bool debug;
	unsigned timeout_ms;
	double queued_at;
	struct job *next;
	/* the answer, once done */
	bool queued, done;
	unsigned code;
	const char *type;
	char *body;
	size_t len;
};

struct recent {
	unsigned long id;
	time_t when;
	char *target, *module, *report;
	enum tp_status status;
	enum tp_code reason;
	double seconds;
};

struct by_module {
	char *name;
	unsigned long long n[4]; /* by status */
};

struct exporter {
	struct cli *cli;
	struct MHD_Daemon *d[MAX_DAEMONS];
	int fd[MAX_DAEMONS];
	size_t n_daemons;
	pthread_t *workers;
	unsigned n_workers, queue_max;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t work, idle;
	struct job *head, *tail;
	unsigned queued, in_flight;
	unsigned unanswered; /* probe requests queued and not yet answered */
	bool stopping;
	struct modules *modules;
	/* the exporter's own metrics */
	struct by_module *mods;
	size_t n_mods;
	unsigned long long hist[N_BUCKETS + 1], rejected_full, rejected_late, bad_requests;
	double hist_sum;
	bool reload_ok;
	time_t reload_time;
	double started;
	/* the status page */
	struct recent recent[RECENT];
	unsigned long next_id;

	pthread_mutex_t reload_lock; /* one reload at a time (cli_parse is not reentrant) */
};

static double
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

/* ---- answers -------------------------------------------------------------- */

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned code, const char *type, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

CLI_PRINTF(3, 4) static enum MHD_Result replyf(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MHD_NO;
	return reply(c, code, TEXT_TYPE, s, (size_t)n);
}

/* ---- the modules, and reloading them ------------------------------------ */

static struct modules *
modules_take(struct exporter *ex)
{
	struct modules *set;

	pthread_mutex_lock(&ex->lock);
	set = ex->modules;
	set->refs++;
	pthread_mutex_unlock(&ex->lock);
	return set;
}

static void
modules_release(struct exporter *ex, struct modules *set)
{
	bool last;

	pthread_mutex_lock(&ex->lock);
	last = --set->refs == 0;
	pthread_mutex_unlock(&ex->lock);
	if (last)
		modules_free(set);
}

/* Read the configuration again; the old modules stay when it is bad. */
static int
reload(struct exporter *ex, char *err, size_t errlen)
{
	struct modules *set, *old;

	pthread_mutex_lock(&ex->reload_lock);
	set = modules_load(ex->cli->exporter.config, ex->cli, err, errlen);
	pthread_mutex_lock(&ex->lock);
	ex->reload_ok = set != NULL;
	if (set) {
		ex->reload_time = time(NULL);
		set->refs = 1;
		old = ex->modules;
		ex->modules = set;
	}
	pthread_mutex_unlock(&ex->lock);
	pthread_mutex_unlock(&ex->reload_lock);
	if (!set) {
		fprintf(stderr, "tlsprobe exporter: reload failed, keeping the modules in use: %s\n", err);
		return -1;
	}
	modules_release(ex, old);
	fprintf(stderr, "tlsprobe exporter: configuration reloaded (%zu modules)\n", set->n);
	return 0;
}

/* ---- the probes ----------------------------------------------------------- */

static void
count_module(struct exporter *ex, const char *name, enum tp_status st)
{
	struct by_module *m = NULL, *grown;

	for (size_t i = 0; i < ex->n_mods && !m; i++)
		if (strcmp(ex->mods[i].name, name) == 0)
			m = &ex->mods[i];
	/* A module reloaded away keeps its counts: counters never go back. */
	if (!m && (grown = realloc(ex->mods, (ex->n_mods + 1) * sizeof(*grown)))) {
		ex->mods = grown;
		m = &ex->mods[ex->n_mods];
		*m = (struct by_module){.name = strdup(name)};
		if (m->name)
			ex->n_mods++;
		else
			m = NULL;
	}
	if (m)
		m->n[st <= TP_STATUS_UNKNOWN ? st : TP_STATUS_UNKNOWN]++;
}

static char *
render_report(const struct tp_result *r, const struct cli *cli, size_t *len)
{
	struct render_opts ro = {
		.verbose = 1, .warn_days = cli->warn_days, .crit_days = cli->crit_days, .now = cli->at};
	char *s = NULL;
	FILE *m = open_memstream(&s, len);

	if (!m)
		return NULL;
	render_text(m, r, &ro);
	if (fclose(m) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static void
remember(struct exporter *ex, const struct job *j, const struct tp_result *r, double seconds, char *report)
{
	struct recent *e;

	pthread_mutex_lock(&ex->lock);
	count_module(ex, j->mod->name, tp_result_status(r));
	for (size_t i = 0; i < N_BUCKETS + 1; i++)
		if (i == N_BUCKETS || seconds <= buckets[i])
			ex->hist[i]++;
	ex->hist_sum += seconds;
	e = &ex->recent[ex->next_id % RECENT];
	free(e->target);
	free(e->module);
	free(e->report);
	*e = (struct recent){.id = ex->next_id++,
			     .when = time(NULL),
			     .target = strdup(j->target),
			     .module = strdup(j->mod->name),
			     .report = report,
			     .status = tp_result_status(r),
			     .reason = tp_result_reason(r),
			     .seconds = seconds};
	pthread_mutex_unlock(&ex->lock);
}

/* The target as a URL for the https prober: as given, or https://TARGET/. */
static char *
url_of(const char *target)
{
	char *url = NULL;

	if (strstr(target, "://"))
		return strdup(target);
	return asprintf(&url, "https://%s/", target) < 0 ? NULL : url;
}

static struct tp_result *
run_probe(const struct job *j, unsigned timeout_ms, char *err, size_t errlen)
{
	const struct module *mod = j->mod;
	struct tp_result *r;

	if (mod->https) {
		struct tp_fetch_options o = mod->cli->fetch.o;
		char *url = url_of(j->target);
		if (!url)
			return NULL;
		o.url = url;
		o.timeout_ms = timeout_ms;
		r = tp_fetch(mod->cli->cfg, &o);
		free(url);
		return r;
	}
	struct tp_target t;
	enum cli_failure why;
	if (cli_target(mod->cli, &t, j->target, &why, err, errlen) < 0)
		return NULL;
	if (mod->scan)
		r = tp_scan_within(mod->cli->cfg, &t, mod->cli->batch.parallel_given ? mod->cli->batch.parallel : 0,
				   timeout_ms);
	else
		r = tp_probe_within(mod->cli->cfg, &t, timeout_ms);
	tp_target_finish(&t);
	return r;
}

static void
finish(struct job *j, unsigned code, const char *type, char *body, size_t len)
{
	struct exporter *ex = j->ex;

	j->code = code;
	j->type = type;
	j->body = body;
	j->len = body ? len : 0;
	pthread_mutex_lock(&ex->lock);
	j->done = true;
	pthread_mutex_unlock(&ex->lock);
	/* From here on j is the HTTP thread's, which may free it at once. */
	MHD_resume_connection(j->conn);
	pthread_mutex_lock(&ex->lock);
	ex->in_flight--;
	pthread_cond_broadcast(&ex->idle);
	pthread_mutex_unlock(&ex->lock);
}

static void
work(struct job *j)
{
	struct exporter *ex = j->ex;
	double start = now_ms(), waited = start - j->queued_at;
	char err[512] = "", *body = NULL, *report;
	size_t len = 0, rlen = 0;
	struct tp_result *r;
	struct prom *p;
	FILE *m;

	if (waited + 50 >= j->timeout_ms) {
		pthread_mutex_lock(&ex->lock);
		ex->rejected_late++;
		pthread_mutex_unlock(&ex->lock);
		len = (size_t)asprintf(&body,
				       "the probe waited %.1f s for a free worker, its whole %.1f s deadline: give the "
				       "exporter a higher --max-concurrent, or run more exporters\n",
				       waited / 1000.0, j->timeout_ms / 1000.0);
		finish(j, MHD_HTTP_SERVICE_UNAVAILABLE, TEXT_TYPE, body, len);
		return;
	}
	r = run_probe(j, j->timeout_ms - (unsigned)waited, err, sizeof(err));
	if (!r && *err) {
		pthread_mutex_lock(&ex->lock);
		ex->bad_requests++;
		pthread_mutex_unlock(&ex->lock);
	}
	if (!r) {
		len = (size_t)asprintf(&body, "%s\n", *err ? err : "out of memory");
		finish(j, *err ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR, TEXT_TYPE, body, len);
		return;
	}
	report = render_report(r, j->mod->cli, &rlen);
	if (report && rlen > REPORT_MAX)
		strcpy(report + REPORT_MAX - 32, "\n[report cut at 256 KiB]\n");
	if ((m = open_memstream(&body, &len))) {
		if (j->debug && report)
			fprintf(m, "%s\nThe metrics of this probe:\n\n", report);
		if ((p = prom_create(false, j->timeout_ms / 1000.0))) {
			prom_add(p, r, 0);
			prom_write(p, m);
			prom_destroy(p);
		}
		if (fclose(m) != 0) {
			free(body);
			body = NULL;
		}
	}
	remember(ex, j, r, (now_ms() - start) / 1000.0, report);
	tp_result_destroy(r);
	finish(j, body ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR, j->debug ? TEXT_TYPE : PROM_TYPE, body, len);
}

static void *
worker(void *arg)
{
	struct exporter *ex = arg;

	for (;;) {
		struct job *j;
		pthread_mutex_lock(&ex->lock);
		while (!ex->head && !(ex->stopping && !ex->in_flight))
			pthread_cond_wait(&ex->work, &ex->lock);
		if (!ex->head) {
			pthread_mutex_unlock(&ex->lock);
			return NULL;
		}
		j = ex->head;
		ex->head = j->next;
		if (!ex->head)
			ex->tail = NULL;
		ex->queued--;
		ex->in_flight++;
		pthread_mutex_unlock(&ex->lock);
		work(j);
	}
}

/* ---- the requests ------------------------------------------------------- */

/* The probe's deadline: Prometheus's scrape timeout less a margin, capped
 * by the module's own timeout. 0 with a reason in err when the header is bad. */
static unsigned
deadline_ms(struct MHD_Connection *c, const struct module *mod, char *err, size_t errlen)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Prometheus-Scrape-Timeout-Seconds");
	unsigned limit = tp_config_timeout_ms(mod->cli->cfg);
	char *end;
	double s;

	if (!h)
		return limit;
	errno = 0;
	s = strtod(h, &end);
	if (end == h || *end || errno || !isfinite(s) || s <= 0) {
		snprintf(err, errlen, "bad X-Prometheus-Scrape-Timeout-Seconds '%.40s': seconds, more than 0", h);
		return 0;
	}
	s -= SCRAPE_MARGIN_S;
	if (s < 0.1)
		s = 0.1;
	return s * 1000 < limit ? (unsigned)(s * 1000) : limit;
}

static enum MHD_Result
probe_request(struct exporter *ex, struct MHD_Connection *c, struct job *j)
{
	const char *target = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "target");
	const char *module = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "module");
	const char *debug = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "debug");
	char err[200] = "";
	bool full;

	if (!target || !*target) {
		pthread_mutex_lock(&ex->lock);
		ex->bad_requests++;
		pthread_mutex_unlock(&ex->lock);
		return replyf(c, MHD_HTTP_BAD_REQUEST, "the target parameter is missing: /probe?target=HOST[:PORT]\n");
	}
	j->set = modules_take(ex);
	j->mod = modules_find(j->set, module && *module ? module : "default");
	if (!j->mod) {
		pthread_mutex_lock(&ex->lock);
		ex->bad_requests++;
		pthread_mutex_unlock(&ex->lock);
		char *known = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&known, &len);
		for (size_t i = 0; m && i < j->set->n; i++)
			fprintf(m, "%s%s", i ? ", " : "", j->set->m[i].name);
		if (m)
			fclose(m);
		enum MHD_Result ret = replyf(c, MHD_HTTP_BAD_REQUEST, "unknown module '%.100s': the modules are %s\n",
					     module, known ? known : "");
		free(known);
		return ret;
	}
	if (!(j->timeout_ms = deadline_ms(c, j->mod, err, sizeof(err)))) {
		pthread_mutex_lock(&ex->lock);
		ex->bad_requests++;
		pthread_mutex_unlock(&ex->lock);
		return replyf(c, MHD_HTTP_BAD_REQUEST, "%s\n", err);
	}
	if (!(j->target = strdup(target)))
		return MHD_NO;
	j->debug = debug && (strcmp(debug, "true") == 0 || strcmp(debug, "1") == 0);
	j->conn = c;
	j->ex = ex;
	j->queued_at = now_ms();
	pthread_mutex_lock(&ex->lock);
	full = ex->stopping || ex->queued >= ex->queue_max;
	if (full) {
		ex->rejected_full++;
	} else {
		if (ex->tail)
			ex->tail->next = j;
		else
			ex->head = j;
		ex->tail = j;
		ex->queued++;
		ex->unanswered++;
		j->queued = true;
		/* Suspended before a worker can resume it. */
		MHD_suspend_connection(c);
		pthread_cond_signal(&ex->work);
	}
	pthread_mutex_unlock(&ex->lock);
	if (full)
		return replyf(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			      "%s: %u probes running and %u waiting; try later, or run more exporters\n",
			      ex->stopping ? "the exporter is stopping" : "too many probes at once", ex->n_workers,
			      ex->queue_max);
	return MHD_YES;
}

/* The process's CPU time, resident memory and open descriptors, from /proc. */
static void
process_metrics(FILE *m, double started)
{
	struct rusage ru;
	struct rlimit rl;
	long pages = 0, page = sysconf(_SC_PAGESIZE);
	unsigned long fds = 0;
	FILE *f;
	DIR *dir;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(m,
			"# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
			"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n",
			ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	if ((f = fopen("/proc/self/statm", "r"))) {
		if (fscanf(f, "%*s %ld", &pages) == 1)
			fprintf(m,
				"# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
				"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n",
				pages * page);
		fclose(f);
	}
	if ((dir = opendir("/proc/self/fd"))) {
		for (struct dirent *e; (e = readdir(dir));)
			fds += e->d_name[0] != '.';
		closedir(dir);
		fprintf(m,
			"# HELP process_open_fds Number of open file descriptors.\n"
			"# TYPE process_open_fds gauge\nprocess_open_fds %lu\n",
			fds ? fds - 1 : 0);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		fprintf(m,
			"# HELP process_max_fds Maximum number of open file descriptors.\n"
			"# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
			(unsigned long long)rl.rlim_cur);
	fprintf(m,
		"# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		"# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
		started);
}

static enum MHD_Result
metrics_request(struct exporter *ex, struct MHD_Connection *c)
{
	static const char *const st[] = {"ok", "warning", "critical", "unknown"};
	char *body = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&body, &len);
	unsigned long long total = 0;

	if (!m)
		return MHD_NO;
	pthread_mutex_lock(&ex->lock);
	fputs("# HELP tlsprobe_exporter_probes_total Probes run, by module and tlsprobe's verdict.\n"
	      "# TYPE tlsprobe_exporter_probes_total counter\n",
	      m);
	for (size_t i = 0; i < ex->n_mods; i++)
		for (int s = 0; s < 4; s++) {
			fputs("tlsprobe_exporter_probes_total{module=", m);
			prom_quote(m, ex->mods[i].name);
			fprintf(m, ",status=\"%s\"} %llu\n", st[s], ex->mods[i].n[s]);
		}
	fputs("# HELP tlsprobe_exporter_probe_duration_seconds How long the probes took.\n"
	      "# TYPE tlsprobe_exporter_probe_duration_seconds histogram\n",
	      m);
	for (size_t i = 0; i < N_BUCKETS + 1; i++) {
		total = ex->hist[i];
		if (i < N_BUCKETS)
			fprintf(m, "tlsprobe_exporter_probe_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
				total);
		else
			fprintf(m, "tlsprobe_exporter_probe_duration_seconds_bucket{le=\"+Inf\"} %llu\n", total);
	}
	fprintf(m,
		"tlsprobe_exporter_probe_duration_seconds_sum %.6f\n"
		"tlsprobe_exporter_probe_duration_seconds_count %llu\n",
		ex->hist_sum, total);
	fprintf(m,
		"# HELP tlsprobe_exporter_probes_in_flight Probes running now.\n"
		"# TYPE tlsprobe_exporter_probes_in_flight gauge\ntlsprobe_exporter_probes_in_flight %u\n"
		"# HELP tlsprobe_exporter_probes_queued Probes waiting for a worker.\n"
		"# TYPE tlsprobe_exporter_probes_queued gauge\ntlsprobe_exporter_probes_queued %u\n"
		"# HELP tlsprobe_exporter_max_concurrent Probes run at once at most (--max-concurrent).\n"
		"# TYPE tlsprobe_exporter_max_concurrent gauge\ntlsprobe_exporter_max_concurrent %u\n"
		"# HELP tlsprobe_exporter_rejected_total Probe requests answered 503, by why.\n"
		"# TYPE tlsprobe_exporter_rejected_total counter\n"
		"tlsprobe_exporter_rejected_total{reason=\"queue-full\"} %llu\n"
		"tlsprobe_exporter_rejected_total{reason=\"deadline-in-queue\"} %llu\n"
		"# HELP tlsprobe_exporter_bad_requests_total Probe requests refused with 400.\n"
		"# TYPE tlsprobe_exporter_bad_requests_total counter\ntlsprobe_exporter_bad_requests_total %llu\n"
		"# HELP tlsprobe_exporter_config_last_reload_successful Whether the last configuration reload "
		"succeeded.\n"
		"# TYPE tlsprobe_exporter_config_last_reload_successful gauge\n"
		"tlsprobe_exporter_config_last_reload_successful %d\n"
		"# HELP tlsprobe_exporter_config_last_reload_success_timestamp_seconds When the configuration was "
		"last loaded.\n"
		"# TYPE tlsprobe_exporter_config_last_reload_success_timestamp_seconds gauge\n"
		"tlsprobe_exporter_config_last_reload_success_timestamp_seconds %lld\n",
		ex->in_flight, ex->queued, ex->n_workers, ex->rejected_full, ex->rejected_late, ex->bad_requests,
		ex->reload_ok, (long long)ex->reload_time);
	pthread_mutex_unlock(&ex->lock);
	fprintf(m,
		"# HELP tlsprobe_exporter_build_info tlsprobe's version.\n"
		"# TYPE tlsprobe_exporter_build_info gauge\ntlsprobe_exporter_build_info{version=\"%s\"} 1\n",
		TLSPROBE_VERSION);
	process_metrics(m, ex->started);
	if (fclose(m) != 0) {
		free(body);
		return MHD_NO;
	}
	return reply(c, MHD_HTTP_OK, PROM_TYPE, body, len);
}

/* Text for HTML: the five characters that mean something there, escaped. */
static void
html(FILE *m, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", m); break;
		case '>': fputs("&gt;", m); break;
		case '&': fputs("&amp;", m); break;
		case '"': fputs("&quot;", m); break;
		case '\'': fputs("&#39;", m); break;
		default: fputc(*s, m);
		}
}

/* A query parameter's value: everything but unreserved characters %-encoded. */
static void
url_param(FILE *m, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p))
			fputc(*p, m);
		else
			fprintf(m, "%%%02X", *p);
}

static enum MHD_Result
status_page(struct exporter *ex, struct MHD_Connection *c)
{
	char *body = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&body, &len);
	struct modules *set;

	if (!m)
		return MHD_NO;
	set = modules_take(ex);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>tlsprobe exporter</title>\n"
	      "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
	      "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
	      ".ok{color:#070}.warning{color:#a60}.critical{color:#c00}.unknown{color:#555}</style></head><body>\n"
	      "<h1>tlsprobe exporter</h1>\n<p><a href=\"/metrics\">Metrics</a> &middot; probe with "
	      "<code>/probe?target=HOST:PORT&amp;module=NAME</code> (add <code>&amp;debug=true</code> for the "
	      "report)</p>\n<h2>Modules</h2>\n<table><tr><th>name</th><th>prober</th><th>settings</th></tr>\n",
	      m);
	for (size_t i = 0; i < set->n; i++) {
		fputs("<tr><td>", m);
		html(m, set->m[i].name);
		fprintf(m, "</td><td>%s</td><td><code>", set->m[i].https ? "https" : set->m[i].scan ? "scan" : "tls");
		html(m, set->m[i].summary);
		fputs("</code></td></tr>\n", m);
	}
	fputs("</table>\n", m);
	if (set->source) {
		fputs("<p>From ", m);
		html(m, set->source);
		fputs(".</p>\n", m);
	}
	modules_release(ex, set);
	fputs("<h2>Recent probes</h2>\n<table id=\"recent\"><tr><th>when (UTC)</th><th>target</th><th>module</th>"
	      "<th>status</th><th>reason</th><th>seconds</th><th>report</th></tr>\n",
	      m);
	pthread_mutex_lock(&ex->lock);
	for (unsigned long k = 0; k < RECENT && k < ex->next_id; k++) {
		const struct recent *e = &ex->recent[(ex->next_id - 1 - k) % RECENT];
		char when[32] = "";
		struct tm tm;
		if (gmtime_r(&e->when, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(m, "<tr><td>%s</td><td>", when);
		html(m, e->target);
		fputs("</td><td>", m);
		html(m, e->module);
		fprintf(m,
			"</td><td class=\"%s\">%s</td><td>%s</td><td>%.3f</td><td><a "
			"href=\"/report?id=%lu\">report</a>",
			tp_status_name(e->status), tp_status_name(e->status),
			e->reason ? tp_reason_get(e->reason)->name : "", e->seconds, e->id);
		fputs(" &middot; <a href=\"/probe?target=", m);
		url_param(m, e->target);
		fputs("&amp;module=", m);
		url_param(m, e->module);
		fputs("&amp;debug=true\">again</a></td></tr>\n", m);
	}
	pthread_mutex_unlock(&ex->lock);
	fputs("</table>\n</body></html>\n", m);
	if (fclose(m) != 0) {
		free(body);
		return MHD_NO;
	}
	return reply(c, MHD_HTTP_OK, HTML_TYPE, body, len);
}

static enum MHD_Result
report_request(struct exporter *ex, struct MHD_Connection *c)
{
	const char *arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
	char *end, *copy = NULL;
	unsigned long id;

	errno = 0;
	id = arg && *arg ? strtoul(arg, &end, 10) : 0;
	if (!arg || !*arg || *end || errno)
		return replyf(c, MHD_HTTP_BAD_REQUEST, "give the probe's number: /report?id=N\n");
	pthread_mutex_lock(&ex->lock);
	const struct recent *e = &ex->recent[id % RECENT];
	if (id < ex->next_id && e->id == id && e->report)
		copy = strdup(e->report);
	pthread_mutex_unlock(&ex->lock);
	if (!copy)
		return replyf(c, MHD_HTTP_NOT_FOUND, "no probe %lu among the last %d\n", id, RECENT);
	return reply(c, MHD_HTTP_OK, TEXT_TYPE, copy, strlen(copy));
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
       const char *upload, size_t *upload_size, void **req)
{
	struct exporter *ex = cls;
	struct job *j = *req;
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

	if (!j) {
		/* The headers are in; the request's state from here on. */
		if (!(j = calloc(1, sizeof(*j))))
			return MHD_NO;
		*req = j;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* no request has a body worth reading */
		return MHD_YES;
	}
	if (j->done) {
		char *body = j->body;
		j->body = NULL;
		return reply(c, j->code, j->type, body, j->len);
	}
	if (j->queued)
		return MHD_YES;
	if (strcmp(url, "/probe") == 0)
		return get ? probe_request(ex, c, j) : replyf(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n");
	if (strcmp(url, "/metrics") == 0)
		return get ? metrics_request(ex, c) : replyf(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n");
	if (strcmp(url, "/") == 0)
		return get ? status_page(ex, c) : replyf(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n");
	if (strcmp(url, "/report") == 0)
		return get ? report_request(ex, c) : replyf(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n");
	if (strcmp(url, "/-/healthy") == 0 || strcmp(url, "/-/ready") == 0)
		return replyf(c, MHD_HTTP_OK, "OK\n");
	if (strcmp(url, "/-/reload") == 0) {
		char err[1024];
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return replyf(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST to reload the configuration\n");
		if (reload(ex, err, sizeof(err)) < 0)
			return replyf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "the configuration was not reloaded: %s\n",
				      err);
		return replyf(c, MHD_HTTP_OK, "reloaded\n");
	}
	return replyf(c, MHD_HTTP_NOT_FOUND, "no such page: try /probe?target=HOST:PORT, /metrics or /\n");
}

static void
completed(void *cls, struct MHD_Connection *c, void **req, enum MHD_RequestTerminationCode why)
{
	struct exporter *ex = cls;
	struct job *j = *req;

	if (!j)
		return;
	if (j->queued) {
		pthread_mutex_lock(&ex->lock);
		ex->unanswered--;
		pthread_cond_broadcast(&ex->idle);
		pthread_mutex_unlock(&ex->lock);
	}
	if (j->set)
		modules_release(ex, j->set);
	free(j->target);
	free(j->body);
	free(j);
	*req = NULL;
}

/* ---- listening, starting and stopping ---------------------------------- */

/* ADDR:PORT, [V6]:PORT, :PORT (every address) or localhost:PORT; numeric
 * only, so that starting never waits for DNS. */
static int
listen_on(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	char host[64] = "";
	const char *colon = strrchr(spec, ':'), *h = spec;
	size_t hlen;
	long port;
	char *end;
	int fd, one = 1, zero = 0;

	if (!colon) {
		snprintf(err, errlen, "invalid --listen '%s': give ADDR:PORT, [IPv6]:PORT or :PORT", spec);
		return -1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	hlen = (size_t)(colon - spec);
	if (*end || errno || port < 0 || port > 65535 || colon[1] == '\0') {
		snprintf(err, errlen, "invalid port in --listen '%s': 0 to 65535", spec);
		return -1;
	}
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
		h = spec + 1;
		hlen -= 2;
	}
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "invalid address in --listen '%s'", spec);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (!*host || inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		len = sizeof(*v6);
	} else if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		len = sizeof(*v4);
	} else {
		snprintf(err, errlen, "invalid address in --listen '%s': give an IP address (or none, for every one)",
			 spec);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 && !*host && errno == EAFNOSUPPORT) {
		/* No IPv6 here: every IPv4 address then. */
		ss = (struct sockaddr_storage){0};
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		len = sizeof(*v4);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", spec, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, *host ? &one : &zero, sizeof(int));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s%s", spec, strerror(errno),
			 errno == EADDRINUSE ? ": stop what uses that port, or give --listen another one" : "");
		close(fd);
		return -1;
	}
	return fd;
}

static void
stop(struct exporter *ex)
{
	pthread_mutex_lock(&ex->lock);
	ex->stopping = true;
	pthread_mutex_unlock(&ex->lock);
	/* No new connections; those in progress are answered. */
	for (size_t i = 0; i < ex->n_daemons; i++)
		MHD_quiesce_daemon(ex->d[i]);
	pthread_mutex_lock(&ex->lock);
	while (ex->queued || ex->in_flight)
		pthread_cond_wait(&ex->idle, &ex->lock);
	pthread_cond_broadcast(&ex->work);
	/* The last answers leave (a client that stopped reading gets a few seconds). */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	while (ex->unanswered && pthread_cond_timedwait(&ex->idle, &ex->lock, &until) == 0)
		;
	pthread_mutex_unlock(&ex->lock);
	for (unsigned i = 0; i < ex->n_workers; i++)
		pthread_join(ex->workers[i], NULL);
	for (size_t i = 0; i < ex->n_daemons; i++) {
		MHD_stop_daemon(ex->d[i]);
		close(ex->fd[i]);
	}
}

static void
cleanup(struct exporter *ex)
{
	for (size_t i = 0; i < ex->n_mods; i++)
		free(ex->mods[i].name);
	free(ex->mods);
	for (size_t i = 0; i < RECENT; i++) {
		free(ex->recent[i].target);
		free(ex->recent[i].module);
		free(ex->recent[i].report);
	}
	if (ex->modules)
		modules_release(ex, ex->modules);
	free(ex->workers);
	pthread_mutex_destroy(&ex->lock);
	pthread_mutex_destroy(&ex->reload_lock);
	pthread_cond_destroy(&ex->work);
	pthread_cond_destroy(&ex->idle);
}

int
exporter_command(struct cli *cli)
{
	struct exporter ex = {.cli = cli,
			      .lock = PTHREAD_MUTEX_INITIALIZER,
			      .reload_lock = PTHREAD_MUTEX_INITIALIZER,
			      .work = PTHREAD_COND_INITIALIZER,
			      .idle = PTHREAD_COND_INITIALIZER};
	struct exporter_args *a = &cli->exporter;
	const char *dflt = ":" STR(CLI_EXPORTER_PORT), *const *listen = a->n_listen ? a->listen : &dflt;
	size_t n_listen = a->n_listen ? a->n_listen : 1;
	char err[1024];
	sigset_t sigs;
	int sig, status = 0;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	ex.started = now.tv_sec + now.tv_nsec / 1e9;
	if (!(ex.modules = modules_load(a->config, cli, err, sizeof(err)))) {
		fprintf(stderr, "tlsprobe: %s\n", err);
		return 3;
	}
	ex.modules->refs = 1;
	ex.reload_ok = true;
	ex.reload_time = time(NULL);
	cli_malloc_arenas();
	ex.n_workers = a->max_concurrent;
	ex.queue_max = QUEUE_FACTOR * a->max_concurrent;
	for (size_t i = 0; i < n_listen; i++) {
		if ((ex.fd[i] = listen_on(listen[i], err, sizeof(err))) < 0) {
			fprintf(stderr, "tlsprobe: %s\n", err);
			status = 3;
			goto out;
		}
		ex.n_daemons++;
	}
	/* The workers and libmicrohttpd's threads leave these signals to sigwait below. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!(ex.workers = calloc(ex.n_workers, sizeof(*ex.workers)))) {
		fprintf(stderr, "tlsprobe: out of memory\n");
		status = 3;
		goto out;
	}
	for (unsigned i = 0; i < ex.n_workers; i++)
		if (pthread_create(&ex.workers[i], NULL, worker, &ex) != 0) {
			fprintf(stderr, "tlsprobe: cannot start the probe workers: %s\n", strerror(errno));
			ex.n_workers = i;
			status = 3;
			break;
		}
	for (size_t i = 0; !status && i < ex.n_daemons; i++) {
		ex.d[i] = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME,
					   0, NULL, NULL, answer, &ex, MHD_OPTION_LISTEN_SOCKET, ex.fd[i],
					   MHD_OPTION_NOTIFY_COMPLETED, completed, &ex, MHD_OPTION_CONNECTION_LIMIT,
					   (unsigned)(ex.queue_max + ex.n_workers + 64), MHD_OPTION_CONNECTION_TIMEOUT,
					   (unsigned)120, MHD_OPTION_END);
		if (!ex.d[i]) {
			fprintf(stderr, "tlsprobe: cannot serve HTTP on %s\n", listen[i]);
			status = 3;
		}
	}
	if (status) {
		for (size_t i = 0; i < ex.n_daemons; i++)
			if (ex.d[i])
				MHD_stop_daemon(ex.d[i]);
		pthread_mutex_lock(&ex.lock);
		ex.stopping = true;
		pthread_cond_broadcast(&ex.work);
		pthread_mutex_unlock(&ex.lock);
		for (unsigned i = 0; i < ex.n_workers; i++)
			pthread_join(ex.workers[i], NULL);
		goto out;
	}
	for (size_t i = 0; i < ex.n_daemons; i++) {
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(ex.d[i], MHD_DAEMON_INFO_BIND_PORT);
		fprintf(stderr, "tlsprobe exporter: listening on %s (port %u), %zu module%s, up to %u probes at once\n",
			listen[i], info ? (unsigned)info->port : 0, ex.modules->n, ex.modules->n == 1 ? "" : "s",
			ex.n_workers);
	}
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(&ex, err, sizeof(err));
			continue;
		}
		fprintf(stderr, "tlsprobe exporter: stopping (%s): finishing the probes under way\n",
			sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	stop(&ex);
	for (size_t i = 0; i < ex.n_daemons; i++)
		ex.fd[i] = -1;
	ex.n_daemons = 0;
out:
	for (size_t i = 0; i < ex.n_daemons; i++)
		close(ex.fd[i]);
	cleanup(&ex);
	return status;
}
