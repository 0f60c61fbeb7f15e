/*
 * file.c: reading the files a user names (certificates, CA bundles, CRLs,
 * keys): one reader, whose errors name the file and what it holds instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <gnutls/x509.h>

#include "file.h"
#include "util.h"

int
tp_readable(const char *path, const char *what, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return tp_err(err, errlen, "cannot read %s%s: %s", what, path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return tp_err(err, errlen, "cannot read %s%s: it is a directory; give a file", what, path);
	FILE *f = fopen(path, "rb");
	if (!f)
		return tp_err(err, errlen, "cannot read %s%s: %s", what, path, strerror(errno));
	fclose(f);
	return 0;
}

int
tp_file_load(const char *path, const char *what, gnutls_datum_t *data, char *err, size_t errlen)
{
	data->data = NULL;
	data->size = 0;
	if (tp_readable(path, what, err, errlen) < 0)
		return -1;
	if (gnutls_load_file(path, data) < 0)
		return tp_err(err, errlen, "cannot read %s%s", what, path);
	return 0;
}

void
tp_no_certificate(const gnutls_datum_t *data, const char *what, const char *path, char *err, size_t errlen)
{
	static const struct {
		const char *label, *kind, *hint;
	} kinds[] = {
		{"PRIVATE KEY-----", "a private key", "; the certificate is in another file"},
		{"CERTIFICATE REQUEST-----", "a certificate request (CSR)", "; give the certificate the CA issued for it"},
		{"X509 CRL-----", "a CRL", ""},
		{"PUBLIC KEY-----", "a public key", ""},
		{"PKCS7-----", "a PKCS #7 bundle", "; convert it: openssl pkcs7 -print_certs -in FILE -out certs.pem"},
	};
	const char *begin = data->data ? memmem(data->data, data->size, "-----BEGIN ", 11) : NULL;

	if (begin) {
		size_t left = data->size - (size_t)(begin - (const char *)data->data);
		const char *eol = memchr(begin, '\n', left);
		size_t line = eol ? (size_t)(eol - begin) : left;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
			if (memmem(begin, line, kinds[i].label, strlen(kinds[i].label))) {
				tp_err(err, errlen, "%s%s holds %s, not a certificate%s", what, path, kinds[i].kind,
				       kinds[i].hint);
				return;
			}
	}
	tp_err(err, errlen, "%s%s holds no certificate: expected PEM (-----BEGIN CERTIFICATE-----) or DER", what,
	       path);
}

int
tp_certs_load(const char *path, gnutls_datum_t **certs, size_t *n, char *err, size_t errlen)
{
	gnutls_datum_t data = {NULL, 0};
	gnutls_x509_crt_t *list = NULL;
	unsigned count = 0;
	int ret;

	*certs = NULL;
	*n = 0;
	if (tp_file_load(path, "", &data, err, errlen) < 0)
		return -1;
	ret = gnutls_x509_crt_list_import2(&list, &count, &data, GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || count == 0) {
		gnutls_datum_t *one = calloc(1, sizeof(*one));
		gnutls_x509_crt_t crt;
		/* Perhaps one DER certificate: keep it only if it parses. */
		if (one && gnutls_x509_crt_init(&crt) == 0) {
			if (gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_DER) == 0) {
				*one = data;
				data.data = NULL;
				*certs = one;
				*n = 1;
				one = NULL;
			}
			gnutls_x509_crt_deinit(crt);
		}
		free(one);
		if (!*n)
			tp_no_certificate(&data, "", path, err, errlen);
		gnutls_free(data.data);
		return *n ? 0 : -1;
	}
	gnutls_free(data.data);
	*certs = calloc(count, sizeof(**certs));
	for (unsigned i = 0; i < count; i++) {
		if (*certs && gnutls_x509_crt_export2(list[i], GNUTLS_X509_FMT_DER, &(*certs)[*n]) == 0)
			(*n)++;
		gnutls_x509_crt_deinit(list[i]);
	}
	gnutls_free(list);
	if (*n != count) {
		tp_certs_free(*certs, *n);
		*certs = NULL;
		*n = 0;
		snprintf(err, errlen, "out of memory reading %s", path);
		return -1;
	}
	return 0;
}

void
tp_certs_free(gnutls_datum_t *certs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		gnutls_free(certs[i].data);
	free(certs);
}
