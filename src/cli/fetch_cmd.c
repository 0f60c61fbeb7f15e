/*
 * fetch_cmd.c: tlsprobe fetch URL, an HTTPS request through libcurl,
 * rendered like a probe with the HTTP facts added.
 */
#include "cli.h"

int
fetch_command(struct cli *cli)
{
	cli->fetch.o.url = cli->targets[0];
	return out_single(cli, tp_fetch(cli->cfg, &cli->fetch.o));
}
