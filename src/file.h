/*
 * file.h: reading the files a user names, and writing the files tlsprobe
 * makes. Errors name the file ("cannot read WHATPATH: it is a directory");
 * what is "client certificate ", say.
 */
#ifndef TP_FILE_H
#define TP_FILE_H

#include <stddef.h>
#include <sys/types.h>
#include <gnutls/gnutls.h>

#include "tlsprobe.h"

/* The largest file read as a certificate, key, CA bundle or CRL. */
#define TP_MAX_FILE_BYTES (64 * 1024 * 1024)

/* Whether path is a regular file this process can read, within the limit:
 * directories, FIFOs, devices and sockets are refused (a FIFO would block,
 * /dev/zero would never end). "-" is standard input, of any kind. */
int tp_readable(const char *path, const char *what, char *err, size_t errlen);
/* Read a whole file (gnutls_free the data); -1 with only the reason in why
 * ("it is a directory; give a file"). */
int tp_file_read(const char *path, gnutls_datum_t *data, char *why, size_t whylen);
/* The same, with errors that name the file: "cannot read WHATPATH: ...". */
int tp_file_load(const char *path, const char *what, gnutls_datum_t *data, char *err, size_t errlen);
/* The error for a file without certificates that parse: the first PEM certificate GnuTLS refuses
 * and why, or what the file holds instead. */
void tp_no_certificate(const gnutls_datum_t *data, const char *what, const char *path, char *err, size_t errlen);

/* Write data to a new temporary file next to path (its name in tmp: path.tmp-XXXXXX), created exclusively, never
 * through a link, with mode set before the data goes in, synced. On failure nothing is left and tmp is "". */
int tp_file_write_temp(const char *path, const gnutls_datum_t *data, mode_t mode, char *tmp, size_t tmplen, char *err,
		       size_t errlen);
/* Whether path may be replaced: it does not exist, or is a regular file of this user; a symbolic link, a
 * directory, anything else or someone else's file is refused, with the fix. */
int tp_file_replaceable(const char *path, char *err, size_t errlen);
/* Replace path (if tp_file_replaceable allows) with a new file holding data with exactly mode, atomically: a
 * reader sees the old file or the new, whole, never one in between; the old one is never written into. */
int tp_file_write_atomic(const char *path, const gnutls_datum_t *data, mode_t mode, char *err, size_t errlen);

#endif
