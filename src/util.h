/*
 * util.h: the bottom of the core. Formatted strings, one-line errors in a
 * caller's buffer, dates for messages, and the limits several modules share.
 */
#ifndef TP_UTIL_H
#define TP_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#define TP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Certificates past this many in one chain are counted but not examined
 * (GnuTLS's own verification depth is 16). */
#define TP_MAX_CERTS 64
/* ALPN protocols one probe may offer. */
#define TP_MAX_ALPN 16

TP_PRINTF(1, 2) char *tp_strdupf(const char *fmt, ...);
TP_PRINTF(1, 0) char *tp_vstrdupf(const char *fmt, va_list ap);
/* Write a one-line reason to err and return -1. */
TP_PRINTF(3, 4) int tp_err(char *err, size_t errlen, const char *fmt, ...);
/* "2026-12-04 13:05 UTC", or "an unknown date" for (time_t)-1. */
void tp_format_date(time_t t, char *buf, size_t len);

#endif
