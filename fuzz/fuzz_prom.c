/*
 * Fuzz target: a certificate's fields in Prometheus's exposition format.
 * The input is a DER certificate; it is examined as tlsprobe cert does and
 * rendered as batch and the exporter render it, and the text must parse:
 * whatever bytes a certificate holds, no label value breaks a line.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* One sample line: NAME[{LABEL="VALUE",...}] VALUE, VALUE escaped. */
static void
check_sample(const char *s, const char *end)
{
	const char *p = s;

	if (p == end || !name_char(*p, true))
		abort();
	while (p < end && name_char(*p, false))
		p++;
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			if (!name_char(*p, true))
				abort();
			while (p < end && name_char(*p, false))
				p++;
			if (end - p < 2 || p[0] != '=' || p[1] != '"')
				abort();
			for (p += 2; p < end && *p != '"'; p++)
				if (*p == '\\' && (++p == end || !strchr("\\\"n", *p)))
					abort();
			if (p == end)
				abort();
			p++;
			if (p < end && *p == ',')
				p++;
		}
		if (p == end)
			abort();
		p++;
	}
	if (p == end || *p != ' ' || p + 1 == end)
		abort();
	for (p++; p < end; p++)
		if (!strchr("0123456789.-+eE", *p))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tp_config *cfg;
	gnutls_datum_t der = {(unsigned char *)data, (unsigned)size};
	struct tp_result *r;
	struct prom *p;
	char *text = NULL;
	size_t len = 0;
	FILE *m;

	if (!cfg && !(cfg = tp_config_create()))
		abort();
	if (!(r = tp_examine(cfg, "fuzz", &der, 1, "localhost", false)))
		return 0;
	for (int labels = 0; labels < 2; labels++) {
		if (!(p = prom_create(labels, 3)) || !(m = open_memstream(&text, &len)))
			abort();
		prom_add(p, r, labels);
		prom_write(p, m);
		prom_destroy(p);
		fclose(m);
		if (memchr(text, '\0', len))
			abort();
		for (const char *line = text, *nl; line < text + len; line = nl + 1) {
			if (!(nl = memchr(line, '\n', (size_t)(text + len - line))))
				abort();
			if (*line != '#')
				check_sample(line, nl);
		}
		free(text);
		text = NULL;
	}
	tp_result_destroy(r);
	return 0;
}
