/*
 * term.c: what reaches a terminal. Whether to colour it, and strings from
 * certificates and peers shown so that they cannot move the cursor, change
 * colours or reorder the line. The text report, the monitoring formats and
 * the server's log all write through here.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

bool
cli_want_color(enum cli_color c)
{
	const char *term = getenv("TERM");

	if (c != COLOR_AUTO)
		return c == COLOR_ALWAYS;
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && strcmp(term, "dumb") == 0);
}

/* Code point of the UTF-8 sequence at s, and its length. */
static unsigned
decode(const unsigned char *s, size_t *len)
{
	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0 && s[1]) {
		*len = 2;
		return ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu);
	}
	if ((s[0] & 0xf0) == 0xe0 && s[1] && s[2]) {
		*len = 3;
		return ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
	}
	if ((s[0] & 0xf8) == 0xf0 && s[1] && s[2] && s[3]) {
		*len = 4;
		return ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu);
	}
	*len = 1;
	return 0xfffd;
}

static bool
is_control(unsigned cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       /* bidirectional overrides and isolates reorder what follows */
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f;
}

void
render_safe(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len;

	if (!s)
		return;
	while (*s) {
		unsigned cp = decode(s, &len);
		if (cp < 0x80 && is_control(cp))
			fprintf(out, "\\x%02x", cp);
		else if (is_control(cp))
			fprintf(out, "\\u{%04x}", cp);
		else
			fwrite(s, 1, len, out);
		s += len;
	}
}

char *
cli_join_sans(const struct tp_cert_info *c, const char *sep)
{
	char *s = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&s, &len);

	for (size_t i = 0; m && i < c->n_sans; i++)
		fprintf(m, "%s%s", i ? sep : "", c->sans[i]);
	if (m)
		fclose(m);
	return s;
}
