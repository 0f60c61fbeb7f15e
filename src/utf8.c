/*
 * utf8.c: every string a certificate carries is untrusted. The core keeps
 * such strings as valid UTF-8 so that every renderer can rely on it; what a
 * renderer must still do about control characters is its own business.
 */
#include <stdlib.h>
#include <string.h>

#include "tlsprobe.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *
tp_utf8_clean(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	/* Worst case: every byte becomes the 3-byte U+FFFD. */
	char *out = malloc(n * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t len = s[i] ? utf8_seq(s + i, n - i) : 0;
		if (len == 0) {
			/* NUL too: a C string cannot carry it, and a name with
			 * one inside is an attack worth showing. */
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(o, s + i, len);
		o += len;
		i += len;
	}
	*o = '\0';
	return out;
}
