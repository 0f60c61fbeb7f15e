/*
 * main.c: tlsprobe's entry point. Parses the command line and runs the
 * command it names (the commands table in options.c); the command's status
 * is the exit code (Nagios codes).
 */
#include "cli.h"

int
main(int argc, char **argv)
{
	struct cli cli;
	char err[600];
	int status;

	if (cli_parse(&cli, argc, argv, err, sizeof(err)) < 0) {
		enum cli_format format = cli_format_asked(argc, argv);
		cli_fail(format, cli.failure, NULL, "%s", err);
		/* A monitoring plugin must print a status line even for bad usage. */
		if (format == FORMAT_NAGIOS)
			printf("TLSPROBE UNKNOWN - %s\n", err);
		cli_finish(&cli);
		return TP_STATUS_UNKNOWN;
	}
	if (cli.help) {
		cli_help(stdout, cli.command);
		status = 0;
	} else if (cli.version) {
		cli_version(stdout);
		status = 0;
	} else {
		status = cli.run(&cli);
	}
	cli_finish(&cli);
	return status;
}
