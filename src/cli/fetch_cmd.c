/*
 * fetch_cmd.c: tlsprobe fetch URL, an HTTPS request through libcurl,
 * rendered like a probe with the HTTP facts added.
 */
#include "cli.h"

int
fetch_command(struct cli *cli)
{
	struct tp_result *r;
	struct out out;
	int status;

	cli->fetch.o.url = cli->targets[0];
	r = tp_fetch(cli->cfg, &cli->fetch.o);
	if (!r) {
		fprintf(stderr, "tlsprobe: out of memory\n");
		return TP_STATUS_UNKNOWN;
	}
	if (out_init(&out, cli) == 0) {
		out_result(&out, r);
		out_finish(&out);
	}
	status = (int)tp_result_status(r);
	tp_result_destroy(r);
	return status;
}
