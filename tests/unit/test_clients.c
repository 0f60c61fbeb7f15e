/*
 * The client model (clients.c): which client refuses for which rule, which
 * finding a client reports when a chain breaks several rules, the words
 * filled in, and a finding's severity from the clients that count. The
 * table's agreement with the real clients is test_clients.py's business;
 * these cases pin how the model reads it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "src/clients.h"

#define ALL TP_CLIENTS_ALL
#define BIT(c) (1u << (c))
#define MAX_FINDINGS 4

struct finding {
	enum tp_code code;
	enum tp_rule rule;
	const char *message;
};

/* What one client must conclude: accepts (1, 0, -1) and words it says, or NULL. */
struct expect {
	bool set; /* an entry of the list (the rest are zero) */
	enum tp_client client;
	int accepts;
	const char *says;
};

struct ccase {
	const char *name;
	struct finding found[MAX_FINDINGS];
	struct finding error; /* a probe error, when its code is set */
	unsigned clients;     /* the set that counts; 0: all */
	const char *name_checked;
	struct expect want[TP_CLIENT_COUNT];
	size_t n_clients; /* how many verdicts there must be */
};

/* clang-format off */
static const struct ccase cases[] = {
	{
		.name = "nothing found: all accept",
		.n_clients = TP_CLIENT_COUNT,
		.want = {{true, TP_CLIENT_OPENSSL, 1, NULL}, {true, TP_CLIENT_JAVA, 1, NULL}},
	},
	{
		.name = "an expired anchor: Chrome and Java accept, saying why",
		.found = {{TP_EXPIRED, TP_RULE_ANCHOR_EXPIRED, "the trusted root expired"}},
		.n_clients = TP_CLIENT_COUNT,
		.want = {{true, TP_CLIENT_OPENSSL, 0, "certificate has expired"},
			 {true, TP_CLIENT_JAVA, 1, NULL}, {true, TP_CLIENT_CHROME, 1, NULL},
			 {true, TP_CLIENT_GO, 0, "x509: certificate has expired or is not yet valid"}},
	},
	{
		/* Go checks the leaf's dates before the name; OpenSSL the name before the dates. */
		.name = "expired and the wrong name: each client says its first",
		.found = {{TP_HOSTNAME_MISMATCH, TP_RULE_HOSTNAME, "does not cover"},
			  {TP_EXPIRED, TP_RULE_EXPIRED, "expired"}},
		.name_checked = "www.example.test",
		.n_clients = TP_CLIENT_COUNT,
		.want = {{true, TP_CLIENT_GO, 0, "x509: certificate has expired or is not yet valid"},
			 {true, TP_CLIENT_OPENSSL, 0, "hostname mismatch"},
			 {true, TP_CLIENT_PYTHON, 0, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
						    "Hostname mismatch, certificate is not valid for 'www.example.test'."},
			 {true, TP_CLIENT_JAVA, 0,
			  "PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed"}},
	},
	{
		.name = "a missing issuer the certificate says where to fetch: Chrome cannot be told",
		.found = {{TP_MISSING_INTERMEDIATE, TP_RULE_NO_ISSUER_AIA, "only the leaf"}},
		.n_clients = TP_CLIENT_COUNT,
		.want = {{true, TP_CLIENT_CHROME, -1, NULL}, {true, TP_CLIENT_OPENSSL, 0, "unable to get local issuer certificate"}},
	},
	{
		.name = "--as narrows the set",
		.found = {{TP_HOSTNAME_MISMATCH, TP_RULE_CN_ONLY, "only the CN"}},
		.clients = BIT(TP_CLIENT_PYTHON) | BIT(TP_CLIENT_GO),
		.n_clients = 2,
		.want = {{true, TP_CLIENT_PYTHON, 1, NULL},
			 {true, TP_CLIENT_GO, 0, "x509: certificate relies on legacy Common Name field, use SANs instead"}},
	},
	{
		.name = "a probe error no rule covers: nobody can be told",
		.error = {TP_TIMEOUT, TP_RULE_NONE, "timed out"},
		.n_clients = TP_CLIENT_COUNT,
		.want = {{true, TP_CLIENT_OPENSSL, -1, NULL}, {true, TP_CLIENT_GNUTLS, -1, NULL}},
	},
	{
		.name = "a server that speaks only TLS 1.1: GnuTLS would still connect",
		.error = {TP_PROTOCOL_VERSION, TP_RULE_OLD_TLS, "refused"},
		.n_clients = TP_CLIENT_COUNT,
		.want = {{true, TP_CLIENT_OPENSSL, 0, "unsupported protocol"}, {true, TP_CLIENT_GNUTLS, -1, NULL},
			 {true, TP_CLIENT_JAVA, 0, "is not accepted by client preferences"}},
	},
};
/* clang-format on */

static void
fill(struct tp_findings *f, struct tp_verdict *v, const struct ccase *c)
{
	memset(f, 0, sizeof(*f));
	memset(v, 0, sizeof(*v));
	v->verified = !c->error.code;
	v->name = (char *)c->name_checked;
	for (size_t i = 0; i < MAX_FINDINGS && c->found[i].code; i++)
		tp_problem_rule(tp_find(f, c->found[i].code, 0, "%s", c->found[i].message), c->found[i].rule);
	if (c->error.code)
		tp_problem_rule(tp_fail(f, c->error.code, "%s", c->error.message), c->error.rule);
}

static void
test_cases(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct ccase *c = &cases[k];
		struct tp_findings f;
		struct tp_verdict v;
		struct tp_chain_facts chain = {0};
		struct tp_client_verdicts out;

		fill(&f, &v, c);
		tp_client_verdicts_judge(&out, c->clients, &f, &v, &chain);
		if (out.n != c->n_clients)
			fail_msg("%s: %zu verdicts, not %zu", c->name, out.n, c->n_clients);
		for (size_t i = 0; i < TP_CLIENT_COUNT && c->want[i].set; i++) {
			const struct expect *w = &c->want[i];
			const struct tp_client_verdict *got = NULL;
			for (size_t j = 0; j < out.n; j++)
				if (out.v[j].client == w->client)
					got = &out.v[j];
			if (!got)
				fail_msg("%s: no verdict for %s", c->name, tp_client_name(w->client));
			if (got->accepts != w->accepts)
				fail_msg("%s: %s accepts %d, not %d", c->name, tp_client_name(w->client), got->accepts,
					 w->accepts);
			if (w->says && (!got->says || strcmp(got->says, w->says) != 0))
				fail_msg("%s: %s says '%s', not '%s'", c->name, tp_client_name(w->client),
					 got->says ? got->says : "(nothing)", w->says);
			if (!w->says && got->says)
				fail_msg("%s: %s says '%s'", c->name, tp_client_name(w->client), got->says);
		}
		tp_client_verdicts_finish(&out);
		tp_findings_finish(&f);
	}
}

/* Every rule is refused by someone, or says why nobody does; none by everyone and noted as accepted. */
static void
test_refusers_of_rules(void **state)
{
	(void)state;
	assert_int_equal(tp_rule_refusers(TP_RULE_NONE), 0);
	assert_int_equal(tp_rule_refusers(TP_RULE_COUNT), 0);
	assert_int_equal(tp_rule_refusers(TP_RULE_EXPIRED), ALL);
	assert_int_equal(tp_rule_refusers(TP_RULE_CN_ONLY), BIT(TP_CLIENT_CHROME) | BIT(TP_CLIENT_GO));
	assert_int_equal(tp_rule_refusers(TP_RULE_RSA_EE_WEAK), BIT(TP_CLIENT_OPENSSL) | BIT(TP_CLIENT_PYTHON));
	assert_int_equal(tp_rule_refusers(TP_RULE_MISSING_KEY_ID), 0);
	assert_int_equal(tp_rule_unsure(TP_RULE_NO_ISSUER_AIA), BIT(TP_CLIENT_CHROME));
}

static void
test_names_round_trip(void **state)
{
	(void)state;
	for (int c = 0; c < TP_CLIENT_COUNT; c++) {
		assert_non_null(tp_client_title((enum tp_client)c));
		assert_int_equal(tp_client_lookup(tp_client_name((enum tp_client)c)), c);
	}
	assert_int_equal(tp_client_lookup("firefox"), -1);
	assert_null(tp_client_name(TP_CLIENT_COUNT));
}

/* Trust advice only for the trust rules, only for the clients given, each by its own words. */
static void
test_trust_advice(void **state)
{
	char *a;

	(void)state;
	assert_null(tp_rule_trust_advice(TP_RULE_EXPIRED, ALL, "root.pem"));
	assert_null(tp_rule_trust_advice(TP_RULE_ROOT_UNTRUSTED, 0, "root.pem"));
	a = tp_rule_trust_advice(TP_RULE_ROOT_UNTRUSTED, BIT(TP_CLIENT_JAVA) | BIT(TP_CLIENT_PYTHON), "root.pem");
	assert_non_null(a);
	assert_non_null(strstr(a, "keytool -importcert -alias NAME -file root.pem"));
	assert_non_null(strstr(a, "REQUESTS_CA_BUNDLE=root.pem"));
	assert_null(strstr(a, "curl --cacert"));
	free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_refusers_of_rules),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_trust_advice),
	};
	return cmocka_run_group_tests_name("clients", tests, NULL, NULL);
}
