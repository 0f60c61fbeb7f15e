/*
 * fetch_cmd.c: tlsprobe fetch URL, an HTTPS request through libcurl,
 * rendered like a probe with the HTTP facts added.
 */
#include <unistd.h>

#include "cli.h"

int
fetch_command(struct cli *cli)
{
	struct render_opts ro = {
		.color = cli_want_color(cli->color), .quiet = cli->quiet, .verbose = cli->verbose,
		.pretty = isatty(STDOUT_FILENO),
	};
	struct tp_result *r;
	int status;

	cli->fetch.o.url = cli->targets[0];
	r = tp_fetch(cli->cfg, &cli->fetch.o);
	if (!r) {
		fprintf(stderr, "tlsprobe: out of memory\n");
		return TP_STATUS_UNKNOWN;
	}
	if (cli->format == FORMAT_JSON)
		render_json(stdout, r, &ro);
	else
		render_text(stdout, r, &ro);
	status = (int)tp_result_status(r);
	tp_result_destroy(r);
	return status;
}
