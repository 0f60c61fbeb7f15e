/*
 * starttls.h: the clear-text dialogue before TLS (SMTP, IMAP, POP3, FTP,
 * PostgreSQL), bounded by the deadline.
 */
#ifndef TP_STARTTLS_H
#define TP_STARTTLS_H

#include "clock.h"
#include "result.h"

/* Talk proto on fd until the server is ready for TLS: 0, or -1 with the error in f. */
int tp_starttls(struct tp_findings *f, int fd, const char *proto, const char *name, const struct tp_deadline *d);

#endif
