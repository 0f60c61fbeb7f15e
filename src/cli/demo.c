/*
 * demo.c: tlsprobe demo. Serves every scenario in this process on free
 * loopback ports, probes each with the real probe (trusting the made root
 * CA only), and prints what tlsprobe says about it, then a summary table.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The servers' handshake timeout and the probes' timeout: loopback answers at once. */
#define TIMEOUT_MS 5000

static bool
reported(const struct tp_result *r, const char *expect)
{
	enum tp_code want = tp_reason_lookup(expect);

	if (strcmp(expect, "ok") == 0)
		return tp_result_status(r) == TP_STATUS_OK;
	if (tp_result_error(r) && tp_result_error(r)->code == want)
		return true;
	for (size_t i = 0; i < tp_result_problem_count(r); i++)
		if (tp_result_problem(r, i)->code == want)
			return true;
	return false;
}

int
demo_command(struct cli *cli)
{
	struct tp_server_options o = {.handshake_timeout_ms = TIMEOUT_MS};
	struct render_opts ro = {.color = cli_want_color(cli->color), .verbose = cli->verbose, .diagnosis_only = true};
	size_t n = tp_scenario_count();
	int *ports = calloc(n, sizeof(*ports));
	char **got = calloc(n, sizeof(*got));
	bool *ok = calloc(n, sizeof(*ok));
	char err[512], ca[] = "/tmp/tlsprobe-demo-ca-XXXXXX";
	struct tp_server *srv = NULL;
	struct tp_config *cfg = NULL;
	int fd = -1, status = TP_STATUS_UNKNOWN;
	size_t matched = 0;

	if (!ports || !got || !ok) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if (!(srv = tp_server_create())) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if (tp_server_configure(srv, &o) < 0)
		goto server_fail;
	if ((fd = mkstemp(ca)) < 0) {
		snprintf(err, sizeof(err), "cannot create a temporary file for the CA certificate");
		goto fail;
	}
	close(fd);
	if (tp_server_write_ca(srv, ca) < 0)
		goto server_fail;
	for (size_t i = 0; i < n; i++)
		if ((ports[i] = tp_server_listen(srv, tp_scenario(i)->name, "127.0.0.1", 0)) < 0)
			goto server_fail;
	if (!(cfg = tp_config_create()) || tp_config_add_ca_file(cfg, ca) < 0) {
		snprintf(err, sizeof(err), "%s", cfg ? tp_config_error(cfg) : "out of memory");
		goto fail;
	}
	tp_config_set_system_ca(cfg, false);
	tp_config_set_timeout_ms(cfg, TIMEOUT_MS);
	if (tp_server_start(srv) < 0) {
		snprintf(err, sizeof(err), "cannot start the server's threads");
		goto fail;
	}

	printf("tlsprobe demo: %zu TLS servers on 127.0.0.1, one per scenario, all made by one throwaway CA that\n"
	       "the probe trusts (as with --ca-file). Each is probed, and tlsprobe says what it finds.\n",
	       n);
	for (size_t i = 0; i < n; i++) {
		const struct tp_scenario_info *sc = tp_scenario(i);
		struct tp_target t;
		char input[32];
		snprintf(input, sizeof(input), "localhost:%d", ports[i]);
		if (tp_target_parse(&t, input, err, sizeof(err)) < 0)
			goto fail;
		struct tp_result *r = tp_probe(cfg, &t);
		tp_target_finish(&t);
		if (!r) {
			snprintf(err, sizeof(err), "out of memory");
			goto fail;
		}
		printf("\n== %s: %s\n   $ tlsprobe localhost:%d --ca-file ca.pem\n", sc->name, sc->summary, ports[i]);
		render_text(stdout, r, &ro);
		ok[i] = reported(r, sc->expect);
		matched += ok[i];
		got[i] = strdup(tp_result_reason(r) ? tp_reason_get(tp_result_reason(r))->name : "ok");
		tp_result_destroy(r);
		fflush(stdout);
	}

	printf("\n%-22s %-22s %-22s\n", "SCENARIO", "EXPECTED", "TLSPROBE SAID");
	for (size_t i = 0; i < n; i++)
		printf("%-22s %-22s %-22s %s\n", tp_scenario(i)->name, tp_scenario(i)->expect, got[i] ? got[i] : "?",
		       ok[i] ? "as expected" : "UNEXPECTED");
	printf("\n%zu of %zu scenarios diagnosed as expected.\n", matched, n);
	status = matched == n ? TP_STATUS_OK : TP_STATUS_CRITICAL;
	goto out;
server_fail:
	snprintf(err, sizeof(err), "%s", tp_server_error(srv));
fail:
	fprintf(stderr, "tlsprobe: %s\n", err);
out:
	if (srv) {
		tp_server_stop(srv);
		tp_server_wait(srv);
		tp_server_destroy(srv);
	}
	if (fd >= 0)
		unlink(ca);
	tp_config_destroy(cfg);
	for (size_t i = 0; got && i < n; i++)
		free(got[i]);
	free(got);
	free(ports);
	free(ok);
	return status;
}
