/*
 * util.c: formatted strings, one-line errors and dates for messages.
 */
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

char *
tp_vstrdupf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

char *
tp_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	s = tp_vstrdupf(fmt, ap);
	va_end(ap);
	return s;
}

int
tp_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void
tp_format_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == (time_t)-1 || !gmtime_r(&t, &tm))
		snprintf(buf, len, "an unknown date");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}
