/* Fuzz target: the DER walk that indexes the system trust bundle. */
#include <stdint.h>
#include <stdlib.h>

#include "chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gnutls_datum_t der = {(unsigned char *)data, (unsigned)size};
	const unsigned char *subj;
	size_t len;

	if (tp_der_subject(&der, &subj, &len) == 0 && (subj < data || subj + len > data + size || len < 2))
		abort();
	return 0;
}
