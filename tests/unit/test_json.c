/* Hostile certificate strings: JSON stays valid, the terminal stays safe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

static const struct {
	const char *name;
	const char *in;
	size_t len;
	const char *clean; /* expected UTF-8 after cleaning */
} hostile[] = {
	{"plain", "CN=localhost", 12, "CN=localhost"},
	{"quote and backslash", "CN=a\"b\\c", 8, "CN=a\"b\\c"},
	{"newline and tab", "CN=a\nb\tc", 8, "CN=a\nb\tc"},
	{"escape sequence", "CN=\x1b[31mred", 11, "CN=\x1b[31mred"},
	{"lone continuation byte", "CN=\x80x", 5, "CN=\xef\xbf\xbdx"},
	{"latin-1 byte", "CN=caf\xe9", 7, "CN=caf\xef\xbf\xbd"},
	{"overlong slash", "CN=\xc0\xaf", 5, "CN=\xef\xbf\xbd\xef\xbf\xbd"},
	{"surrogate", "CN=\xed\xa0\x80", 6, "CN=\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	{"truncated sequence", "CN=\xe2\x82", 5, "CN=\xef\xbf\xbd\xef\xbf\xbd"},
	{"embedded NUL", "www.bank.com\0.evil.com", 22, "www.bank.com\xef\xbf\xbd.evil.com"},
	{"valid multibyte", "CN=\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x92", 12, "CN=\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x92"},
	{"beyond U+10FFFF", "CN=\xf4\x90\x80\x80", 7, "CN=\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
};

static void
test_clean_makes_valid_utf8(void **state)
{
	for (size_t i = 0; i < sizeof(hostile) / sizeof(*hostile); i++) {
		char *c = tp_utf8_clean(hostile[i].in, hostile[i].len);
		assert_non_null(c);
		if (strcmp(c, hostile[i].clean) != 0)
			fail_msg("%s: cleaned to '%s'", hostile[i].name, c);
		free(c);
	}
}

static void
test_json_round_trip(void **state)
{
	for (size_t i = 0; i < sizeof(hostile) / sizeof(*hostile); i++) {
		char *c = tp_utf8_clean(hostile[i].in, hostile[i].len);
		json_t *o = json_pack("{s:s}", "subject", c), *back;
		json_error_t e;
		char *dump;
		if (!o)
			fail_msg("%s: jansson refused the cleaned string", hostile[i].name);
		dump = json_dumps(o, JSON_COMPACT);
		for (const char *p = dump; *p; p++)
			if ((unsigned char)*p < 0x20)
				fail_msg("%s: raw control byte 0x%02x in JSON", hostile[i].name, *p);
		back = json_loads(dump, 0, &e);
		if (!back)
			fail_msg("%s: JSON does not parse: %s", hostile[i].name, e.text);
		assert_string_equal(json_string_value(json_object_get(back, "subject")), c);
		json_decref(back);
		json_decref(o);
		free(dump);
		free(c);
	}
}

static char *
safe(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	render_safe(f, s);
	fclose(f);
	return buf;
}

static const struct {
	const char *in, *out;
} terminal[] = {
	{"CN=localhost", "CN=localhost"}, {"CN=\x1b[2J", "CN=\\x1b[2J"},   {"a\nb\rc\td", "a\\x0ab\\x0dc\\x09d"},
	{"del\x7f", "del\\x7f"},          {"c1 \xc2\x9b", "c1 \\u{009b}"}, {"rlo \xe2\x80\xae", "rlo \\u{202e}"},
	{"caf\xc3\xa9", "caf\xc3\xa9"},
};

static void
test_terminal_never_sees_controls(void **state)
{
	for (size_t i = 0; i < sizeof(terminal) / sizeof(*terminal); i++) {
		char *s = safe(terminal[i].in);
		if (strcmp(s, terminal[i].out) != 0)
			fail_msg("'%s' rendered as '%s'", terminal[i].out, s);
		free(s);
	}
}

static void
test_at_time_forms(void **state)
{
	time_t t;

	assert_int_equal(cli_parse_time("2030-01-31", &t), 0);
	assert_int_equal(t, 1896048000);
	assert_int_equal(cli_parse_time("2030-01-31T12:00:00Z", &t), 0);
	assert_int_equal(t, 1896048000 + 12 * 3600);
	assert_int_equal(cli_parse_time("@1700000000", &t), 0);
	assert_int_equal(t, 1700000000);
	assert_int_equal(cli_parse_time("tomorrow", &t), -1);
	assert_int_equal(cli_parse_time("2030-13-01", &t), -1);
	assert_int_equal(cli_parse_time("@", &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_makes_valid_utf8),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_terminal_never_sees_controls),
		cmocka_unit_test(test_at_time_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
