/* The reason-code table: the contract with scripts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <cmocka.h>

#include "tlsprobe.h"

/* The codes the design promises, by name. */
static const char *const promised[] = {
	"unknown-issuer",
	"missing-intermediate",
	"untrusted-root",
	"self-signed",
	"issuer-not-ca",
	"chain-order",
	"hostname-mismatch",
	"expired",
	"not-yet-valid",
	"expires-soon",
	"revoked",
	"insecure-algorithm",
	"weak-key",
	"purpose-mismatch",
	"signature-failure",
	"dns-failure",
	"connection-refused",
	"timeout",
	"not-tls",
	"handshake-failure",
	"protocol-version",
	"no-shared-cipher",
	"client-cert-required",
	"starttls-refused",
};

static void
test_every_code_has_words(void **state)
{
	for (int c = 1; c < TP_CODE_COUNT; c++) {
		const struct tp_reason *r = tp_reason_get((enum tp_code)c);
		if (r->code != (enum tp_code)c)
			fail_msg("table entry %d is out of order (holds %d)", c, r->code);
		if (!r->name || !*r->name || !r->title || !*r->title || !r->fix || strlen(r->fix) < 20)
			fail_msg("code %d (%s) lacks a name, title or fix", c, r->name ? r->name : "?");
		for (const char *p = r->name; *p; p++)
			if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
				fail_msg("code name '%s' is not kebab-case", r->name);
		if (r->status != TP_STATUS_CRITICAL && r->status != TP_STATUS_WARNING && r->status != TP_STATUS_UNKNOWN)
			fail_msg("code %s has no failing severity", r->name);
		if (tp_reason_lookup(r->name) != (enum tp_code)c)
			fail_msg("lookup of '%s' does not give it back", r->name);
		/* The text report puts "Fix:" in front: "Fix: Fix on the server" reads twice. */
		if (strncasecmp(r->fix, "fix", 3) == 0)
			fail_msg("the fix of %s starts with 'Fix' (the renderers say that): %.40s", r->name, r->fix);
	}
}

static void
test_names_unique(void **state)
{
	for (int a = 0; a < TP_CODE_COUNT; a++)
		for (int b = a + 1; b < TP_CODE_COUNT; b++)
			if (strcmp(tp_reason_get((enum tp_code)a)->name, tp_reason_get((enum tp_code)b)->name) == 0)
				fail_msg("two codes named '%s'", tp_reason_get((enum tp_code)a)->name);
}

static void
test_design_codes_exist(void **state)
{
	for (size_t i = 0; i < sizeof(promised) / sizeof(*promised); i++)
		if (tp_reason_lookup(promised[i]) == TP_CODE_NONE)
			fail_msg("the design's code '%s' is missing", promised[i]);
}

static void
test_errors_and_findings_apart(void **state)
{
	assert_true(tp_code_is_error(TP_TIMEOUT));
	assert_true(tp_code_is_error(TP_NOT_TLS));
	assert_false(tp_code_is_error(TP_EXPIRED));
	assert_false(tp_code_is_error(TP_MISSING_INTERMEDIATE));
	assert_string_equal(tp_status_name(TP_STATUS_WARNING), "warning");
	assert_string_equal(tp_status_name((enum tp_status)42), "unknown");
	assert_int_equal(tp_reason_get((enum tp_code)999)->code, TP_INTERNAL_ERROR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_has_words),
		cmocka_unit_test(test_names_unique),
		cmocka_unit_test(test_design_codes_exist),
		cmocka_unit_test(test_errors_and_findings_apart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
