/* Fuzz target: untrusted certificate strings, cleaned to UTF-8 and rendered
 * for a terminal: the output must be valid UTF-8 without control bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *clean = tp_utf8_clean((const char *)data, size), *out = NULL;
	size_t len = 0;
	json_t *j;
	FILE *f;

	if (!clean)
		return 0;
	/* jansson accepts only valid UTF-8. */
	if (!(j = json_string(clean)))
		abort();
	json_decref(j);
	if ((f = open_memstream(&out, &len))) {
		render_safe(f, clean);
		fclose(f);
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] == 0x7f)
				abort();
		free(out);
	}
	free(clean);
	return 0;
}
