/*
 * main.c: tlsprobe's entry point. Parses the command line, runs the probes,
 * renders each result and exits with the worst status (Nagios codes).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gnutls/gnutls.h>

#include "cli.h"
#include "config.h"

static int
connect_command(struct cli *cli)
{
	struct tp_target *targets = calloc(cli->n_targets, sizeof(*targets));
	enum tp_status worst = TP_STATUS_OK;
	struct out out;
	char err[512];
	size_t parsed = 0;

	if (!targets || out_init(&out, cli) < 0) {
		fprintf(stderr, "tlsprobe: out of memory\n");
		free(targets);
		return TP_STATUS_UNKNOWN;
	}
	/* Check every target before probing any: bad usage probes nothing. */
	for (; parsed < cli->n_targets; parsed++) {
		if (tp_target_parse(&targets[parsed], cli->targets[parsed], err, sizeof(err)) < 0) {
			fprintf(stderr, "tlsprobe: %s\n", err);
			worst = TP_STATUS_UNKNOWN;
			goto out;
		}
		if ((cli->sni && tp_target_set_sni(&targets[parsed], cli->sni, err, sizeof(err)) < 0) ||
		    (cli->starttls && tp_target_set_starttls(&targets[parsed], cli->starttls) < 0) ||
		    (cli->connect_to && tp_target_set_connect_to(&targets[parsed], cli->connect_to, err, sizeof(err)) < 0)) {
			fprintf(stderr, "tlsprobe: %s\n", err);
			tp_target_finish(&targets[parsed]);
			worst = TP_STATUS_UNKNOWN;
			goto out;
		}
	}
	for (size_t i = 0; i < cli->n_targets; i++) {
		struct tp_result *r = tp_probe(cli->cfg, &targets[i]);
		if (!r) {
			fprintf(stderr, "tlsprobe: out of memory\n");
			worst = TP_STATUS_UNKNOWN;
			break;
		}
		out_result(&out, r);
		worst = cli_worse(worst, tp_result_status(r));
		tp_result_destroy(r);
	}
out:
	out_finish(&out);
	for (size_t i = 0; i < parsed; i++)
		tp_target_finish(&targets[i]);
	free(targets);
	return (int)worst;
}

int
main(int argc, char **argv)
{
	struct cli cli;
	char err[600];
	int status;

	if (cli_parse(&cli, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "tlsprobe: %s\n", err);
		/* A monitoring plugin must print a status line even for bad usage. */
		for (int i = 1; i < argc; i++)
			if (strcmp(argv[i], "--format=nagios") == 0 ||
			    (strcmp(argv[i], "--format") == 0 && i + 1 < argc && strcmp(argv[i + 1], "nagios") == 0)) {
				printf("TLSPROBE UNKNOWN - %s\n", err);
				break;
			}
		cli_finish(&cli);
		return TP_STATUS_UNKNOWN;
	}
	if (cli.help) {
		cli_help(stdout, cli.command);
		status = 0;
	} else if (cli.version) {
		printf("tlsprobe %s\nGnuTLS %s\nlibcurl %s\njansson %s\n", TLSPROBE_VERSION, gnutls_check_version(NULL),
		       tp_fetch_curl_version(), jansson_version_str());
		status = 0;
	} else if (cli.cmd == CMD_SERVE) {
		status = serve_command(&cli);
	} else if (cli.cmd == CMD_DEMO) {
		status = demo_command(&cli);
	} else if (cli.cmd == CMD_CA) {
		status = ca_command(&cli);
	} else if (cli.cmd == CMD_CERT) {
		status = cert_command(&cli);
	} else if (cli.cmd == CMD_FETCH) {
		status = fetch_command(&cli);
	} else if (cli.cmd == CMD_BATCH) {
		status = batch_command(&cli);
	} else {
		status = connect_command(&cli);
	}
	cli_finish(&cli);
	return status;
}
