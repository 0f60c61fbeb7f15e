/*
 * file.h: reading the files a user names. Errors name the file ("cannot
 * read WHATPATH: it is a directory"); what is "client certificate ", say.
 */
#ifndef TP_FILE_H
#define TP_FILE_H

#include <stddef.h>
#include <gnutls/gnutls.h>

#include "tlsprobe.h"

/* Whether path is a file this process can read. */
int tp_readable(const char *path, const char *what, char *err, size_t errlen);
/* Read a whole file (gnutls_free the data). */
int tp_file_load(const char *path, const char *what, gnutls_datum_t *data, char *err, size_t errlen);
/* The error for a file without certificates, naming what it holds instead. */
void tp_no_certificate(const gnutls_datum_t *data, const char *what, const char *path, char *err, size_t errlen);

#endif
