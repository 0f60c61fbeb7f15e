/*
 * file.c: reading the files a user names (certificates, CA bundles, CRLs,
 * keys): one reader, whose errors name the file and what it holds instead;
 * and one writer for the files tlsprobe makes, which never writes through a
 * link or into a file that is not the user's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/x509.h>

#include "file.h"
#include "util.h"

/* What a file that is not a regular file is, for messages: "a socket". */
static const char *
kind_name(mode_t mode)
{
	static const struct {
		mode_t type;
		const char *name;
	} kinds[] = {
		{S_IFIFO, "a named pipe (FIFO)"}, {S_IFCHR, "a character device"}, {S_IFBLK, "a block device"},
		{S_IFSOCK, "a socket"},           {S_IFDIR, "a directory"},        {S_IFLNK, "a symbolic link"},
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if ((mode & S_IFMT) == kinds[i].type)
			return kinds[i].name;
	return "not a regular file";
}

/*
 * Open path for reading if it is a regular file within the limit; the fd,
 * or -1 with the reason alone in why. O_NONBLOCK: opening a FIFO must not
 * wait for a writer (it is refused right after).
 */
static int
open_regular(const char *path, struct stat *st, char *why, size_t whylen)
{
	struct stat lst;
	int fd;

	/* "-", standard input: whatever it is (a pipe, usually) but a
	 * directory; the reader's limit bounds it. */
	if (strcmp(path, "-") == 0) {
		int in = dup(STDIN_FILENO);
		if (in < 0 || fstat(in, st) < 0) {
			tp_err(why, whylen, "%s", strerror(errno));
			if (in >= 0)
				close(in);
			return -1;
		}
		if (S_ISDIR(st->st_mode)) {
			close(in);
			return tp_err(why, whylen, "it is a directory; give a file");
		}
		if (!S_ISREG(st->st_mode))
			st->st_size = 0;
		return in;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
			return tp_err(why, whylen, "it is a symbolic link to a file that does not exist");
		return tp_err(why, whylen, "%s", strerror(e));
	}
	if (fstat(fd, st) < 0) {
		tp_err(why, whylen, "%s", strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st->st_mode)) {
		tp_err(why, whylen, "it is a directory; give a file");
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		tp_err(why, whylen, "it is %s, not a regular file; save what it gives to a file and give that",
		       kind_name(st->st_mode));
		goto fail;
	}
	if (st->st_size > TP_MAX_FILE_BYTES) {
		tp_err(why, whylen,
		       "it is %lld MiB, more than the %d MiB tlsprobe reads from a certificate, key or CRL "
		       "file",
		       (long long)(st->st_size >> 20), TP_MAX_FILE_BYTES >> 20);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static const char *
file_name(const char *path)
{
	return strcmp(path, "-") == 0 ? "standard input" : path;
}

int
tp_readable(const char *path, const char *what, char *err, size_t errlen)
{
	struct stat st;
	char why[256];
	int fd = open_regular(path, &st, why, sizeof(why));

	if (fd < 0)
		return tp_err(err, errlen, "cannot read %s%s: %s", what, file_name(path), why);
	close(fd);
	return 0;
}

int
tp_file_read(const char *path, gnutls_datum_t *data, char *why, size_t whylen)
{
	struct stat st;
	size_t len = 0, cap;
	unsigned char *buf;
	int fd = open_regular(path, &st, why, whylen);

	data->data = NULL;
	data->size = 0;
	if (fd < 0)
		return -1;
	/* The size may change while it is read: never past the limit. */
	cap = (size_t)st.st_size + 1;
	if (!(buf = gnutls_malloc(cap + 1))) {
		close(fd);
		return tp_err(why, whylen, "out of memory");
	}
	for (;;) {
		ssize_t n;
		if (len == cap) {
			unsigned char *grown;
			if (cap > TP_MAX_FILE_BYTES) {
				tp_err(why, whylen, "it grew past the %d MiB tlsprobe reads from such a file",
				       TP_MAX_FILE_BYTES >> 20);
				goto fail;
			}
			cap *= 2;
			if (!(grown = gnutls_realloc(buf, cap + 1))) {
				tp_err(why, whylen, "out of memory");
				goto fail;
			}
			buf = grown;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tp_err(why, whylen, "%s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0'; /* as gnutls_load_file: text parsers may rely on it */
	data->data = buf;
	data->size = (unsigned)len;
	return 0;
fail:
	close(fd);
	gnutls_free(buf);
	return -1;
}

int
tp_file_load(const char *path, const char *what, gnutls_datum_t *data, char *err, size_t errlen)
{
	char why[256];

	if (tp_file_read(path, data, why, sizeof(why)) < 0)
		return tp_err(err, errlen, "cannot read %s%s: %s", what, file_name(path), why);
	return 0;
}

/*
 * The first PEM certificate in data that does not parse, in err: GnuTLS
 * refuses a list as a whole (a duplicate extension, a malformed SAN), so
 * each block is imported alone. 0 when one is found, -1 when all parse.
 */
static int
unparsable_certificate(const gnutls_datum_t *data, const char *what, const char *path, char *err, size_t errlen)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
	const char *start = (const char *)data->data, *p = start, *stop = start + data->size;
	size_t count = 0;

	while (p && (p = memmem(p, (size_t)(stop - p), begin, sizeof(begin) - 1))) {
		const char *q = memmem(p, (size_t)(stop - p), end, sizeof(end) - 1);
		gnutls_datum_t pem = {(unsigned char *)p, (unsigned)((q ? q + sizeof(end) - 1 : stop) - p)};
		gnutls_datum_t der = {NULL, 0};
		gnutls_x509_crt_t crt;
		size_t line = 1;
		int ret;

		count++;
		ret = gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der);
		if (ret == 0 && (ret = gnutls_x509_crt_init(&crt)) == 0) {
			ret = gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER);
			gnutls_x509_crt_deinit(crt);
		}
		gnutls_free(der.data);
		if (ret < 0) {
			for (const char *c = start; c < p; c++)
				line += *c == '\n';
			tp_err(err, errlen, "certificate %zu in %s%s (line %zu) cannot be parsed: %s", count, what,
			       file_name(path), line, gnutls_strerror(ret));
			return 0;
		}
		p = q;
	}
	return -1;
}

void
tp_no_certificate(const gnutls_datum_t *data, const char *what, const char *path, char *err, size_t errlen)
{
	static const struct {
		const char *label, *kind, *hint;
	} kinds[] = {
		{"PRIVATE KEY-----", "a private key", "; the certificate is in another file"},
		{"CERTIFICATE REQUEST-----", "a certificate request (CSR)",
		 "; give the certificate the CA issued for it"},
		{"X509 CRL-----", "a CRL", ""},
		{"PUBLIC KEY-----", "a public key", ""},
		{"PKCS7-----", "a PKCS #7 bundle", "; convert it: openssl pkcs7 -print_certs -in FILE -out certs.pem"},
	};
	const char *begin = data->data ? memmem(data->data, data->size, "-----BEGIN ", 11) : NULL;

	if (data->data && unparsable_certificate(data, what, path, err, errlen) == 0)
		return;
	if (begin) {
		size_t left = data->size - (size_t)(begin - (const char *)data->data);
		const char *eol = memchr(begin, '\n', left);
		size_t line = eol ? (size_t)(eol - begin) : left;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
			if (memmem(begin, line, kinds[i].label, strlen(kinds[i].label))) {
				tp_err(err, errlen, "%s%s holds %s, not a certificate%s", what, file_name(path),
				       kinds[i].kind, kinds[i].hint);
				return;
			}
	}
	tp_err(err, errlen, "%s%s holds no certificate: expected PEM (-----BEGIN CERTIFICATE-----) or DER", what,
	       file_name(path));
}

static int
write_all(int fd, const gnutls_datum_t *d)
{
	size_t off = 0;

	while (off < d->size) {
		ssize_t n = write(fd, d->data + off, d->size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

int
tp_file_write_temp(const char *path, const gnutls_datum_t *data, mode_t mode, char *tmp, size_t tmplen, char *err,
		   size_t errlen)
{
	int fd, e;

	if ((size_t)snprintf(tmp, tmplen, "%s.tmp-XXXXXX", path) >= tmplen) {
		tmp[0] = '\0';
		return tp_err(err, errlen, "cannot write %s: the name is too long", path);
	}
	/* O_EXCL: a name someone placed there first (a link, say) is never opened; mode 0600 until fchmod. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		e = errno;
		tmp[0] = '\0';
		return tp_err(err, errlen, "cannot write %s: %s", path, strerror(e));
	}
	if (fchmod(fd, mode) < 0 || write_all(fd, data) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		e = errno;
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	tmp[0] = '\0';
	return tp_err(err, errlen, "cannot write %s: %s", path, strerror(e));
}

int
tp_file_replaceable(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : tp_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return tp_err(err, errlen,
			      "cannot write %s: it is a symbolic link, and tlsprobe never writes through "
			      "one: remove it or give another path",
			      path);
	if (!S_ISREG(st.st_mode))
		return tp_err(err, errlen, "cannot write %s: it is %s, not a regular file: give another path", path,
			      kind_name(st.st_mode));
	if (st.st_uid != geteuid())
		return tp_err(err, errlen,
			      "cannot write %s: it belongs to another user (uid %lu), and tlsprobe never "
			      "replaces someone else's file: remove it or give another path",
			      path, (unsigned long)st.st_uid);
	return 0;
}

int
tp_file_write_atomic(const char *path, const gnutls_datum_t *data, mode_t mode, char *err, size_t errlen)
{
	char tmp[4096];

	if (tp_file_replaceable(path, err, errlen) < 0 ||
	    tp_file_write_temp(path, data, mode, tmp, sizeof(tmp), err, errlen) < 0)
		return -1;
	/* rename(2) replaces the name, not what it points to: a link put there
	 * meanwhile is replaced, never followed. */
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return tp_err(err, errlen, "cannot write %s: %s", path, strerror(e));
	}
	return 0;
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
		snprintf(err, errlen, "out of memory reading %s", file_name(path));
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
