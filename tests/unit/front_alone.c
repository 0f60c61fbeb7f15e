/*
 * The front-end library links without main.c: a program of its own can send
 * results through out_init, out_result and out_finish. Building this program
 * is the check; it is not run.
 */
#include <string.h>

#include "cli.h"

int
main(void)
{
	struct cli cli;
	struct out out;

	memset(&cli, 0, sizeof(cli));
	cli.format = FORMAT_JSON;
	cli.color = COLOR_NEVER;
	if (out_init(&out, &cli) < 0)
		return 1;
	out_finish(&out);
	return 0;
}
