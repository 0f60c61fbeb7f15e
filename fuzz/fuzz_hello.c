/*
 * Fuzz target: the raw handshake of a scan (hello.c). The input is what a
 * server answered: the parser reads every prefix of it, as the bytes would
 * come, with and without what follows the ServerHello, and must never read
 * past them. Its verdict on the whole is checked for sense; and a hello
 * built from the input's first bytes must fit its buffer or say it does not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_hello_answer a;
	size_t step = size > 4096 ? size / 64 : 1;

	/* Copies of exactly each length, so that reading one byte past is caught. */
	for (size_t n = 0; n <= size; n += step) {
		uint8_t *copy = malloc(n ? n : 1);
		if (!copy)
			return 0;
		memcpy(copy, data, n);
		tp_hello_parse(copy, n, true, &a);
		if (a.kind == TP_ANSWER_GARBAGE && !a.why)
			abort();
		tp_hello_parse(copy, n, false, &a);
		if (a.kind == TP_ANSWER_RETRY && a.version == 0 && n < 4)
			abort();
		free(copy);
	}
	if (size >= 4) {
		size_t n_suites, n_groups;
		const struct tp_suite *suites = tp_suites(&n_suites);
		const struct tp_group *groups = tp_groups(&n_groups);
		uint16_t s[TP_MAX_OFFER], g[64];
		size_t ns = data[1] % n_suites, ng = data[2] % n_groups;
		for (size_t i = 0; i < ns; i++)
			s[i] = suites[(i * 7 + data[3]) % n_suites].id;
		for (size_t i = 0; i < ng; i++)
			g[i] = groups[i].id;
		struct tp_hello_spec spec = {
			.version = (uint16_t)(TP_SSL3 + data[0] % 5),
			.suites = s,
			.n_suites = ns,
			.groups = g,
			.n_groups = ng,
			.share = data[0] & 0x40   ? 29
				 : data[0] & 0x20 ? 23
						  : 0,
			.sni = "example.test",
			.alpn = "h2,http/1.1",
			.extras = data[0] & 0x80,
			.fallback_scsv = data[0] & 0x10,
		};
		uint8_t out[2048];
		size_t cap = (size_t)data[3] << 3;
		size_t len = tp_hello_build(&spec, out, cap < sizeof(out) ? cap : sizeof(out));
		if (len > cap || (len && (out[0] != 22 || (size_t)(out[3] << 8 | out[4]) + 5 != len)))
			abort();
	}
	return 0;
}
