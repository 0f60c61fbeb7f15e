/* Fuzz target: TARGET parsing (host, host:port, [v6]:port, https:// URLs). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsprobe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[256];
	struct tp_target t;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tp_target_parse(&t, s, err, sizeof(err)) == 0) {
		/* What parses must be usable: a host and a real port. */
		if (!t.host || !*t.host || t.port == 0)
			abort();
		tp_target_set_sni(&t, t.host, NULL, 0);
		tp_target_set_starttls(&t, "smtp");
		tp_target_finish(&t);
	} else if (!memchr(err, '\0', sizeof(err))) {
		abort();
	}
	free(s);
	return 0;
}
