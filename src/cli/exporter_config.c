/*
 * exporter_config.c: the exporter's YAML configuration, read with libyaml.
 *
 *   modules:
 *     smtp:
 *       prober: tls          # or https: a request through libcurl; scan: what it accepts
 *       starttls: smtp
 *       timeout: 5s
 *       ca-file: [/etc/ssl/private-root.pem]
 *       no-system-ca: true
 *
 * Every key but prober is a long option of tlsprobe connect (of tlsprobe
 * fetch for the https prober): a flag takes true or false, an option its
 * value, a repeatable one a list. Each module becomes a command line that
 * cli_parse reads, as if typed: one parser, one set of messages, and each
 * option checked alone first so that an error names its line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "exporter.h"

/* Set in pairs, so checked with the module's other settings only. */
static const char *const paired[] = {"client-cert", "client-key", "tls-min", "tls-max", "warn-days", "crit-days"};

static bool
is_paired(const char *key)
{
	for (size_t i = 0; i < sizeof(paired) / sizeof(*paired); i++)
		if (strcmp(key, paired[i]) == 0)
			return true;
	return false;
}

/* Options about the output, which the exporter chooses itself. */
static const char *const not_settings[] = {"help",  "version", "format", "json",
					   "quiet", "verbose", "color",  "save-chain"};

struct words {
	char **w;
	size_t n, cap;
};

CLI_PRINTF(2, 3) static int words_add(struct words *ws, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	if (ws->n + 1 >= ws->cap) {
		size_t cap = ws->cap ? 2 * ws->cap : 16;
		char **w = realloc(ws->w, cap * sizeof(*w));
		if (!w)
			return -1;
		ws->w = w;
		ws->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	ws->w[ws->n++] = s;
	ws->w[ws->n] = NULL;
	return 0;
}

static void
words_free(struct words *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		free(ws->w[i]);
	free(ws->w);
	*ws = (struct words){0};
}

static const char *
scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static size_t
line_of(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

/* Parse words as a command line into a new cli: NULL with the reason in err. */
static struct cli *
parse_words(struct words *ws, char *err, size_t errlen)
{
	struct cli *cli = calloc(1, sizeof(*cli));

	if (!cli) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cli_parse(cli, (int)ws->n, ws->w, err, errlen) < 0) {
		cli_finish(cli);
		free(cli);
		return NULL;
	}
	return cli;
}

/* One option alone, so that a bad value is reported at its own line. */
static int
check_alone(const char *command, const char *placeholder, const char *word, char *err, size_t errlen)
{
	struct words one = {0};
	struct cli *cli = NULL;
	int ret = -1;

	if (words_add(&one, "tlsprobe") == 0 && words_add(&one, "%s", command) == 0 &&
	    words_add(&one, "%s", word) == 0 && words_add(&one, "%s", placeholder) == 0 &&
	    (cli = parse_words(&one, err, errlen))) {
		cli_finish(cli);
		free(cli);
		ret = 0;
	}
	words_free(&one);
	return ret;
}

/* The --KEY=VALUE word of a setting; a blackbox-style "5s" is 5 seconds,
 * and a relative file name is relative to the configuration's directory. */
static int
add_setting(struct words *ws, const char *file, const char *key, const char *metavar, const char *value)
{
	char *end;
	size_t len = strlen(value);
	const char *slash = strrchr(file, '/');

	if (metavar && strcmp(metavar, "FILE") == 0 && value[0] != '/' && *value && slash)
		return words_add(ws, "--%s=%.*s/%s", key, (int)(slash - file), file, value);

	if ((strcmp(key, "timeout") == 0 || strcmp(key, "max-time") == 0) && len > 1 && value[len - 1] == 's') {
		char num[32];
		if (len < sizeof(num)) {
			memcpy(num, value, len - 1);
			num[len - 1] = '\0';
			errno = 0;
			if (strtod(num, &end) >= 0 && *end == '\0' && !errno)
				return words_add(ws, "--%s=%s", key, num);
		}
	}
	return words_add(ws, "--%s=%s", key, value);
}

static bool
truth(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};

	for (size_t i = 0; i < 3; i++) {
		if (strcmp(v, yes[i]) == 0)
			return *out = true;
		if (strcmp(v, no[i]) == 0)
			return !(*out = false);
	}
	return false;
}

static char *
summary_of(const struct words *ws, size_t from, size_t to)
{
	char *s = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&s, &len);

	for (size_t i = from; m && i < to; i++)
		fprintf(m, "%s%s", i > from ? " " : "", ws->w[i]);
	if (m)
		fclose(m);
	return s;
}

static int
module_parse(struct module *mod, const char *file, yaml_document_t *doc, const char *name, yaml_node_t *body, char *err,
	     size_t errlen)
{
	struct words ws = {0};
	const char *command = "connect", *placeholder = "localhost";
	char why[1024];
	size_t bad_line = line_of(body);

#define FAIL(line, ...) \
	do { \
		int n_ = snprintf(err, errlen, "%s:%zu: module '%s': ", file, (size_t)(line), name); \
		if (n_ >= 0 && (size_t)n_ < errlen) \
			snprintf(err + n_, errlen - (size_t)n_, __VA_ARGS__); \
		goto fail; \
	} while (0)

	if (body->type != YAML_MAPPING_NODE)
		FAIL(bad_line, "give its settings as a mapping (prober: tls, timeout: 5, ...)");
	for (yaml_node_pair_t *pr = body->data.mapping.pairs.start; pr < body->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(doc, pr->key), *v = yaml_document_get_node(doc, pr->value);
		if (scalar(k) && strcmp(scalar(k), "prober") == 0) {
			if (!scalar(v) || (strcmp(scalar(v), "tls") != 0 && strcmp(scalar(v), "https") != 0 &&
					   strcmp(scalar(v), "scan") != 0))
				FAIL(line_of(v),
				     "unknown prober: use tls (a probe, STARTTLS too), https (a request) or "
				     "scan (what the server accepts)");
			mod->https = strcmp(scalar(v), "https") == 0;
			mod->scan = strcmp(scalar(v), "scan") == 0;
		}
	}
	if (mod->https) {
		command = "fetch";
		placeholder = "https://localhost/";
	} else if (mod->scan) {
		command = "scan";
	}
	if (words_add(&ws, "tlsprobe") < 0 || words_add(&ws, "%s", command) < 0)
		FAIL(bad_line, "out of memory");
	for (yaml_node_pair_t *pr = body->data.mapping.pairs.start; pr < body->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(doc, pr->key), *v = yaml_document_get_node(doc, pr->value);
		const char *key = scalar(k);
		size_t first = ws.n;
		const char *metavar = NULL;
		int kind;
		bool on;
		if (!key)
			FAIL(line_of(k), "a setting's name must be a plain word");
		if (strcmp(key, "prober") == 0)
			continue;
		kind = cli_option_takes_value(key, command, &metavar);
		for (size_t i = 0; i < sizeof(not_settings) / sizeof(*not_settings); i++)
			if (strcmp(key, not_settings[i]) == 0)
				kind = -1;
		if (kind < 0)
			FAIL(line_of(k),
			     "unknown setting '%s': use a long option of tlsprobe %s (see tlsprobe %s --help)", key,
			     command, command);
		if (v->type == YAML_MAPPING_NODE)
			FAIL(line_of(v), "%s takes %s, not a mapping", key,
			     kind ? "a value or a list" : "true or false");
		if (kind == 0) {
			if (!scalar(v) || !truth(scalar(v), &on))
				FAIL(line_of(v), "%s is a flag: true or false", key);
			if (on && words_add(&ws, "--%s", key) < 0)
				FAIL(line_of(v), "out of memory");
		} else if (v->type == YAML_SCALAR_NODE) {
			if (add_setting(&ws, file, key, metavar, scalar(v)) < 0)
				FAIL(line_of(v), "out of memory");
		} else {
			for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
			     it++) {
				yaml_node_t *item = yaml_document_get_node(doc, *it);
				if (!scalar(item))
					FAIL(line_of(item), "each value of %s must be a plain value", key);
				if (add_setting(&ws, file, key, metavar, scalar(item)) < 0)
					FAIL(line_of(item), "out of memory");
			}
		}
		for (size_t i = first; i < ws.n && !is_paired(key); i++)
			if (check_alone(command, placeholder, ws.w[i], why, sizeof(why)) < 0)
				FAIL(line_of(v), "%s", why);
	}
	mod->summary = summary_of(&ws, 2, ws.n);
	if (words_add(&ws, "%s", placeholder) < 0)
		FAIL(bad_line, "out of memory");
	if (!(mod->cli = parse_words(&ws, why, sizeof(why))))
		FAIL(bad_line, "%s", why);
	mod->argv = ws.w;
	mod->argc = (int)ws.n;
	return 0;
fail:
#undef FAIL
	words_free(&ws);
	return -1;
}

static void
module_finish(struct module *mod)
{
	if (mod->cli && !mod->borrowed) {
		cli_finish(mod->cli);
		free(mod->cli);
	}
	for (int i = 0; i < mod->argc; i++)
		free(mod->argv[i]);
	free(mod->argv);
	free(mod->name);
	free(mod->summary);
	*mod = (struct module){0};
}

void
modules_free(struct modules *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		module_finish(&set->m[i]);
	free(set->m);
	free(set->source);
	free(set);
}

const struct module *
modules_find(const struct modules *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->m[i].name, name) == 0)
			return &set->m[i];
	return NULL;
}

static int
read_modules(struct modules *set, const char *path, yaml_document_t *doc, char *err, size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(doc), *mods = NULL;

	if (!root)
		return 0; /* an empty file: the default module only */
	if (root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "%s:%zu: expected a mapping with a modules: key", path, line_of(root));
		return -1;
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(doc, pr->key);
		if (!scalar(k) || strcmp(scalar(k), "modules") != 0) {
			snprintf(err, errlen, "%s:%zu: unknown key '%s': the file has one, modules:", path, line_of(k),
				 scalar(k) ? scalar(k) : "?");
			return -1;
		}
		mods = yaml_document_get_node(doc, pr->value);
	}
	if (!mods || (mods->type == YAML_SCALAR_NODE && !*scalar(mods)))
		return 0;
	if (mods->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "%s:%zu: modules: must map each module's name to its settings", path,
			 line_of(mods));
		return -1;
	}
	for (yaml_node_pair_t *pr = mods->data.mapping.pairs.start; pr < mods->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(doc, pr->key), *v = yaml_document_get_node(doc, pr->value);
		const char *name = scalar(k);
		struct module mod = {0};
		struct module *grown;
		if (!name || !*name ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(name)) {
			snprintf(err, errlen, "%s:%zu: a module's name is letters, digits, '_', '-' and '.'", path,
				 line_of(k));
			return -1;
		}
		for (size_t i = 1; i < set->n; i++)
			if (strcmp(set->m[i].name, name) == 0) {
				snprintf(err, errlen, "%s:%zu: module '%s' is defined twice", path, line_of(k), name);
				return -1;
			}
		if (!(mod.name = strdup(name)) || module_parse(&mod, path, doc, name, v, err, errlen) < 0) {
			module_finish(&mod);
			return -1;
		}
		if (strcmp(name, "default") == 0) {
			/* The file's default replaces the command line's. */
			module_finish(&set->m[0]);
			set->m[0] = mod;
			continue;
		}
		if (!(grown = realloc(set->m, (set->n + 1) * sizeof(*grown)))) {
			module_finish(&mod);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		set->m = grown;
		set->m[set->n++] = mod;
	}
	return 0;
}

struct modules *
modules_load(const char *path, struct cli *base, char *err, size_t errlen)
{
	struct modules *set = calloc(1, sizeof(*set));
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *f;
	int ret;

	if (!set || !(set->m = calloc(1, sizeof(*set->m))) || !(set->m[0].name = strdup("default")) ||
	    !(set->m[0].summary = strdup("the options of tlsprobe exporter's command line"))) {
		modules_free(set);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	set->n = 1;
	set->m[0].cli = base;
	set->m[0].borrowed = true;
	if (!path)
		return set;
	if (!(f = fopen(path, "r"))) {
		snprintf(err, errlen, "%s: cannot read the configuration: %s", path, strerror(errno));
		modules_free(set);
		return NULL;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu: not valid YAML: %s%s%s", path, parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "parse error", parser.context ? " " : "",
			 parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		fclose(f);
		modules_free(set);
		return NULL;
	}
	ret = read_modules(set, path, &doc, err, errlen);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	if (ret < 0 || !(set->source = strdup(path))) {
		if (ret == 0)
			snprintf(err, errlen, "out of memory");
		modules_free(set);
		return NULL;
	}
	return set;
}
