/*
 * file.h: reading the files a user names. Errors name the file ("cannot
 * read WHATPATH: it is a directory"); what is "client certificate ", say.
 */
#ifndef TP_FILE_H
#define TP_FILE_H

#include <stddef.h>
#include <gnutls/gnutls.h>

#include "tlsprobe.h"

/* The largest file read as a certificate, key, CA bundle or CRL. */
#define TP_MAX_FILE_BYTES (64 * 1024 * 1024)

/* How messages name path: "-" is "standard input". */
const char *tp_file_name(const char *path);
/* Whether path is a regular file this process can read, within the limit:
 * directories, FIFOs, devices and sockets are refused (a FIFO would block,
 * /dev/zero would never end). "-" is standard input, of any kind. */
int tp_readable(const char *path, const char *what, char *err, size_t errlen);
/* Read a whole file (gnutls_free the data); -1 with only the reason in why
 * ("it is a directory; give a file"). */
int tp_file_read(const char *path, gnutls_datum_t *data, char *why, size_t whylen);
/* The same, with errors that name the file: "cannot read WHATPATH: ...". */
int tp_file_load(const char *path, const char *what, gnutls_datum_t *data, char *err, size_t errlen);
/* The error for a file without certificates, naming what it holds instead. */
void tp_no_certificate(const gnutls_datum_t *data, const char *what, const char *path, char *err, size_t errlen);

#endif
