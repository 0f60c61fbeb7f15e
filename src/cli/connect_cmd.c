/*
 * connect_cmd.c: tlsprobe [connect] TARGET..., the default command. Every
 * target is checked before any is probed, then each is probed in turn and
 * its result rendered as it comes; the exit status is the worst seen.
 */
#include <stdlib.h>

#include "cli.h"

int
connect_command(struct cli *cli)
{
	struct tp_target *targets = calloc(cli->n_targets, sizeof(*targets));
	enum tp_status worst = TP_STATUS_OK;
	struct out out;
	char err[512];
	size_t parsed = 0;

	if (!targets || out_init(&out, cli) < 0) {
		free(targets);
		return cli_fail(cli->format, FAIL_INTERNAL, NULL, "out of memory");
	}
	/* Check every target before probing any: bad usage probes nothing. */
	for (; parsed < cli->n_targets; parsed++) {
		if (tp_target_parse(&targets[parsed], cli->targets[parsed], err, sizeof(err)) < 0) {
			worst = cli_fail(cli->format, FAIL_TARGET, cli->targets[parsed], "%s", err);
			goto out;
		}
		if ((cli->sni && tp_target_set_sni(&targets[parsed], cli->sni, err, sizeof(err)) < 0) ||
		    (cli->starttls && tp_target_set_starttls(&targets[parsed], cli->starttls) < 0) ||
		    (cli->connect_to &&
		     tp_target_set_connect_to(&targets[parsed], cli->connect_to, err, sizeof(err)) < 0)) {
			tp_target_finish(&targets[parsed]);
			worst = cli_fail(cli->format, FAIL_USAGE, cli->targets[parsed], "%s", err);
			goto out;
		}
	}
	for (size_t i = 0; i < cli->n_targets; i++) {
		struct tp_result *r = tp_probe(cli->cfg, &targets[i]);
		if (!r) {
			worst = cli_fail(cli->format, FAIL_INTERNAL, cli->targets[i], "out of memory");
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
