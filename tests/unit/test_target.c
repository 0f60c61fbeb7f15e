/* Target parsing: every form a user may type, and the bad ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tlsprobe.h"

static const struct {
	const char *input;
	const char *host; /* NULL: must be rejected */
	uint16_t port;
	bool is_ip;
	const char *error; /* a word the error must contain */
} cases[] = {
	{.input = "example.com", .host = "example.com", .port = 443},
	{.input = "example.com:8443", .host = "example.com", .port = 8443},
	{.input = "localhost:1", .host = "localhost", .port = 1},
	{.input = "localhost:65535", .host = "localhost", .port = 65535},
	{.input = "127.0.0.1", .host = "127.0.0.1", .port = 443, .is_ip = true},
	{.input = "127.0.0.1:8443", .host = "127.0.0.1", .port = 8443, .is_ip = true},
	{.input = "[::1]:8443", .host = "::1", .port = 8443, .is_ip = true},
	{.input = "[::1]", .host = "::1", .port = 443, .is_ip = true},
	{.input = "::1", .host = "::1", .port = 443, .is_ip = true},
	{.input = "2001:db8::1", .host = "2001:db8::1", .port = 443, .is_ip = true},
	{.input = "fe80::1%lo", .host = "fe80::1%lo", .port = 443, .is_ip = true},
	{.input = "https://example.com", .host = "example.com", .port = 443},
	{.input = "https://example.com/path?q=1", .host = "example.com", .port = 443},
	{.input = "HTTPS://example.com:8443/", .host = "example.com", .port = 8443},
	{.input = "https://[::1]:9443/x", .host = "::1", .port = 9443, .is_ip = true},
	{.input = "under_score.example", .host = "under_score.example", .port = 443},
	{.input = "localhost:0", .error = "port"},
	{.input = "localhost:70000", .error = "port"},
	{.input = "localhost:65536", .error = "port"},
	{.input = "localhost:", .error = "port"},
	{.input = "localhost:12a", .error = "port"},
	{.input = "localhost:-1", .error = "port"},
	{.input = "[::1", .error = "]"},
	{.input = "[::1]x", .error = "]"},
	{.input = "[::1]:0", .error = "port"},
	{.input = "", .error = "empty"},
	{.input = ":443", .error = "empty"},
	{.input = "https://", .error = "empty"},
	{.input = "[]:443", .error = "empty"},
	{.input = "http://example.com", .error = "scheme"},
	{.input = "ftp://example.com", .error = "scheme"},
	{.input = "https://user@example.com", .error = "user"},
	{.input = "bad host", .error = "invalid host"},
	{.input = "bad\x1bhost", .error = "invalid host"},
	{.input = "1:2:3", .error = "IPv6"},
};

static void
test_target_forms(void **state)
{
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct tp_target t;
		int ret = tp_target_parse(&t, cases[i].input, err, sizeof(err));
		if (cases[i].host) {
			if (ret != 0)
				fail_msg("'%s' rejected: %s", cases[i].input, err);
			if (strcmp(t.host, cases[i].host) != 0 || t.port != cases[i].port ||
			    t.host_is_ip != cases[i].is_ip)
				fail_msg("'%s' parsed as host '%s' port %u ip %d", cases[i].input, t.host, t.port,
					 t.host_is_ip);
			assert_string_equal(t.input, cases[i].input);
			tp_target_finish(&t);
		} else {
			if (ret == 0)
				fail_msg("'%s' accepted as host '%s' port %u", cases[i].input, t.host, t.port);
			if (!strstr(err, cases[i].error))
				fail_msg("'%s': error '%s' does not mention '%s'", cases[i].input, err, cases[i].error);
			if (strchr(err, '\n'))
				fail_msg("'%s': error spans lines", cases[i].input);
		}
	}
}

static void
test_sni_override(void **state)
{
	struct tp_target t;
	char err[256];

	assert_int_equal(tp_target_parse(&t, "127.0.0.1:8443", err, sizeof(err)), 0);
	assert_null(t.sni);
	assert_int_equal(tp_target_set_sni(&t, "www.example.test", NULL, 0), 0);
	assert_string_equal(t.sni, "www.example.test");
	tp_target_finish(&t);
	tp_target_finish(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_forms),
		cmocka_unit_test(test_sni_override),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
