/*
 * util.c: formatted strings, one-line errors and dates for messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "tlsprobe.h"
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
tp_verr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	vsnprintf(err, errlen, fmt, ap);
	return -1;
}

int
tp_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tp_verr(err, errlen, fmt, ap);
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

unsigned
tp_alpn_split(char *list, gnutls_datum_t protos[TP_MAX_ALPN])
{
	unsigned n = 0;

	for (char *p = list; p && *p && n < TP_MAX_ALPN;) {
		size_t len = strcspn(p, ",");
		protos[n++] = (gnutls_datum_t){(unsigned char *)p, (unsigned)len};
		p += len + (p[len] == ',');
	}
	return n;
}

size_t
tp_fd_budget(void)
{
	/* Files, the resolver, the listeners: never the last descriptors. */
	const rlim_t spare = 64;
	struct rlimit nofile;

	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0 || nofile.rlim_cur == RLIM_INFINITY)
		return (size_t)-1;
	return nofile.rlim_cur > spare ? (size_t)(nofile.rlim_cur - spare) : 1;
}
