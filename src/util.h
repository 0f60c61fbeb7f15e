/*
 * util.h: the bottom of the core. Formatted strings, one-line errors in a
 * caller's buffer, dates for messages, and the limits several modules share.
 */
#ifndef TP_UTIL_H
#define TP_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <gnutls/gnutls.h>

#define TP_PRINTF(a, b) __attribute__((format(printf, a, b)))

#define TP_DAY (24 * 3600L)

/* Certificates past this many in one chain are counted but not examined
 * (GnuTLS's own verification depth is 16). */
#define TP_MAX_CERTS 64
/* ALPN protocols one probe may offer. */
#define TP_MAX_ALPN 16

TP_PRINTF(1, 2) char *tp_strdupf(const char *fmt, ...);
TP_PRINTF(1, 0) char *tp_vstrdupf(const char *fmt, va_list ap);
/* Write a one-line reason to err and return -1. */
TP_PRINTF(3, 4) int tp_err(char *err, size_t errlen, const char *fmt, ...);
TP_PRINTF(3, 0) int tp_verr(char *err, size_t errlen, const char *fmt, va_list ap);
/* Split a comma-separated ALPN list (which must outlive protos) into at
 * most TP_MAX_ALPN protocols; how many. */
unsigned tp_alpn_split(char *list, gnutls_datum_t protos[TP_MAX_ALPN]);
/* How many file descriptors this process may still open, some kept spare
 * for files and the resolver; (size_t)-1 when unlimited. */
size_t tp_fd_budget(void);

#endif
