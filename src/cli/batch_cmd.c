/*
 * batch_cmd.c: tlsprobe batch, the front end of batch.c. Reads targets one
 * line at a time as the workers ask for them, writes each record as it is
 * handed back, a progress line on stderr when that is a terminal, and a
 * summary on stderr at the end.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The line of each target read and not yet handed back: the core numbers
 * targets, the records name lines. As many as there are probes in flight
 * (and results waiting for --ordered), however long the list. */
struct line_of {
	size_t index, line;
};

struct line_map {
	pthread_mutex_t lock; /* next_target and done run in different threads */
	struct line_of *at;
	size_t n, cap, next_index;
};

struct batch_ctx {
	const struct cli *cli;
	FILE *in;
	const char *name;
	size_t lineno;
	char *line;
	size_t cap;
	struct line_map lines;
	struct out out;
	size_t count[4];
	size_t done;
	enum tp_status worst;
	bool progress;
};

/* The next target's index is on line: remember it (0 when out of memory,
 * and the record then has no line). */
static void
line_add(struct line_map *m, size_t line)
{
	pthread_mutex_lock(&m->lock);
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		void *at = realloc(m->at, cap * sizeof(*m->at));
		if (at) {
			m->at = at;
			m->cap = cap;
		}
	}
	if (m->n < m->cap)
		m->at[m->n++] = (struct line_of){m->next_index, line};
	m->next_index++;
	pthread_mutex_unlock(&m->lock);
}

/* The line of target index, forgotten once asked for; 0 when unknown. */
static size_t
line_take(struct line_map *m, size_t index)
{
	size_t line = 0;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++)
		if (m->at[i].index == index) {
			line = m->at[i].line;
			m->at[i] = m->at[--m->n];
			break;
		}
	pthread_mutex_unlock(&m->lock);
	return line;
}

/* A line with a NUL byte outside its comment is no target: a C string would
 * end there and the rest of the line go unseen. The record's input is its
 * first word, each NUL in it U+FFFD (as JSON has an invalid byte). */
static int
nul_in_line(const char *line, size_t len, struct tp_target *t, char *err, size_t errlen)
{
	const char *nul = memchr(line, '\0', len);
	size_t start = 0, o = 0;
	char *input;

	while (start < len && (line[start] == ' ' || line[start] == '\t'))
		start++;
	if ((input = malloc(3 * (len - start) + 1))) {
		for (size_t i = start; i < len && !(line[i] && strchr(" \t\r\n", line[i])); i++) {
			if (line[i]) {
				input[o++] = line[i];
			} else {
				memcpy(input + o, "\xef\xbf\xbd", 3);
				o += 3;
			}
		}
		input[o] = '\0';
	}
	t->input = input;
	snprintf(err, errlen, "a NUL byte at column %zu: a target line is text", (size_t)(nul - line) + 1);
	return -1;
}

static int
next_target(void *arg, struct tp_target *t, char *err, size_t errlen)
{
	struct batch_ctx *b = arg;
	ssize_t len;

	while ((len = getline(&b->line, &b->cap, b->in)) >= 0) {
		char *save = NULL, *tok, *target, *sni = (char *)b->cli->sni, *starttls = (char *)b->cli->starttls;
		bool comment = false, no_sni = b->cli->no_sni, all_addresses = false, scan = b->cli->batch.scan;
		b->lineno++;
		/* A '#' at the start of a word starts a comment. */
		for (char *p = b->line; *p; p++)
			if (*p == '#' && (p == b->line || *(p - 1) == ' ' || *(p - 1) == '\t')) {
				*p = '\0';
				comment = true;
				break;
			}
		if (!comment && strlen(b->line) < (size_t)len) {
			line_add(&b->lines, b->lineno);
			return nul_in_line(b->line, (size_t)len, t, err, errlen);
		}
		if (!(target = strtok_r(b->line, " \t\r\n", &save)))
			continue;
		line_add(&b->lines, b->lineno);
		while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
			if (strcmp(tok, "--sni") == 0 && (sni = strtok_r(NULL, " \t\r\n", &save)))
				continue;
			if (strncmp(tok, "--sni=", 6) == 0 && tok[6]) {
				sni = tok + 6;
				continue;
			}
			if (strcmp(tok, "--no-sni") == 0) {
				no_sni = true;
				continue;
			}
			if (strcmp(tok, "--all-addresses") == 0) {
				all_addresses = true;
				continue;
			}
			if (strcmp(tok, "--scan") == 0) {
				scan = true;
				continue;
			}
			if (strcmp(tok, "--starttls") == 0 && (starttls = strtok_r(NULL, " \t\r\n", &save)))
				continue;
			if (strncmp(tok, "--starttls=", 11) == 0 && tok[11]) {
				starttls = tok + 11;
				continue;
			}
			t->input = strdup(target);
			snprintf(err, errlen,
				 "'%s' is not a per-line option (--sni NAME, --no-sni, --all-addresses, --scan and "
				 "--starttls PROTO are)",
				 tok);
			return -1;
		}
		if (tp_target_parse(t, target, err, errlen) < 0) {
			t->input = strdup(target);
			return -1;
		}
		if (sni && tp_target_set_sni(t, sni, err, errlen) < 0)
			return -1;
		if (no_sni)
			tp_target_set_no_sni(t);
		if (all_addresses)
			tp_target_set_all_addresses(t);
		if (scan)
			tp_target_set_scan(t);
		if (starttls && tp_target_set_starttls(t, starttls) < 0) {
			snprintf(err, errlen, CLI_UNKNOWN_STARTTLS, starttls);
			return -1;
		}
		/* After --starttls, which may set the port --connect-to keeps. */
		char why[400];
		if (b->cli->connect_to && tp_target_set_connect_to(t, b->cli->connect_to, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "--connect-to: %s", why);
			return -1;
		}
		return 1;
	}
	return 0;
}

static void
done(void *arg, size_t index, struct tp_result *r)
{
	struct batch_ctx *b = arg;
	enum tp_status st = tp_result_status(r);

	out_record(&b->out, r, line_take(&b->lines, index));
	b->count[st <= TP_STATUS_UNKNOWN ? st : TP_STATUS_UNKNOWN]++;
	b->worst = cli_worse(b->worst, st);
	b->done++;
	if (b->progress)
		fprintf(stderr, "\rtlsprobe batch: %zu done: %zu ok, %zu warning, %zu critical, %zu unknown ", b->done,
			b->count[0], b->count[1], b->count[2], b->count[3]);
	tp_result_destroy(r);
}

int
batch_command(struct cli *cli)
{
	struct batch_ctx b = {.cli = cli, .progress = isatty(STDERR_FILENO), .lines.lock = PTHREAD_MUTEX_INITIALIZER};
	const char *path = cli->n_targets ? cli->targets[0] : "-";

	if (strcmp(path, "-") == 0) {
		b.in = stdin;
		b.name = "standard input";
	} else if (!(b.in = fopen(path, "r"))) {
		return cli_fail(cli->format, FAIL_FILE, path, "cannot read %s: %s", path, strerror(errno));
	} else {
		b.name = path;
	}
	if (out_init(&b.out, cli) < 0) {
		if (b.in != stdin)
			fclose(b.in);
		return cli_fail(cli->format, FAIL_INTERNAL, NULL, "out of memory");
	}
	cli_malloc_arenas();
	struct tp_batch *batch = tp_batch_create(cli->cfg);
	if (!batch || tp_batch_run(batch, cli->batch.parallel, cli->batch.ordered, next_target, done, &b) < 0) {
		const char *why = batch ? tp_batch_error(batch) : "out of memory";
		b.worst = cli_worse(b.worst, (enum tp_status)cli_fail(cli->format, FAIL_INTERNAL, NULL, "%s", why));
	}
	tp_batch_destroy(batch);
	out_finish(&b.out);
	if (b.progress)
		fputc('\n', stderr);
	fprintf(stderr,
		"tlsprobe batch: %zu target%s from %s: %zu ok, %zu warning, %zu critical, %zu unknown; worst: %s\n",
		b.done, b.done == 1 ? "" : "s", b.name, b.count[0], b.count[1], b.count[2], b.count[3],
		tp_status_name(b.worst));
	if (b.in != stdin)
		fclose(b.in);
	free(b.line);
	free(b.lines.at);
	return (int)b.worst;
}
