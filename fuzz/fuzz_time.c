/* Fuzz target: --at TIME parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	time_t t;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (cli_parse_time(s, &t) == 0 && t <= 0)
		abort();
	free(s);
	return 0;
}
