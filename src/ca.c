/*
 * ca.c: a small self-hosted CA in a directory. ca init makes the root (and
 * an intermediate), ca issue signs leaves with it, ca check lints a setup.
 *
 * Files are written all or nothing: each goes to a temporary file in the
 * same directory first (keys with mode 0600 from the start), and only when
 * every one is complete are they linked into place. Without force an
 * existing file is never replaced: link(2) refuses, atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain.h"
#include "config.h"
#include "file.h"
#include "probe.h"
#include "util.h"

/* What ca init records for ca issue: the CRL and OCSP URLs to write. */
#define URLS_FILE "revocation-urls"
/* What ca revoke records for ca crl: "SERIAL EPOCH REASON" lines. */
#define REVOKED_FILE "revoked.txt"

struct out_file {
	char *path;
	gnutls_datum_t data;
	mode_t mode;
	char tmp[4096];
	char backup[4096];
	bool placed;
};

/* Whether anything (a symbolic link too, dangling or not) has that name. */
static bool
exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/*
 * With force, each file that already exists is first kept under a backup
 * name, so that a run failing half way can put everything back as it was.
 * The caller holds the directory's lock.
 */
static int
place_locked(struct out_file *files, size_t n, bool force, struct tp_ca_report *rep, char *err, size_t errlen)
{
	size_t i;

	/* Refuse early, before anything is written. */
	if (!force)
		for (i = 0; i < n; i++)
			if (exists(files[i].path))
				return tp_err(err, errlen,
					      "%s exists already: tlsprobe never overwrites it; use --force to "
					      "replace it",
					      files[i].path);
	for (i = 0; i < n; i++) {
		int fd;
		if (tp_file_write_temp(files[i].path, &files[i].data, files[i].mode, files[i].tmp, sizeof(files[i].tmp),
				       err, errlen) < 0)
			goto undo;
		if (force && exists(files[i].path)) {
			snprintf(files[i].backup, sizeof(files[i].backup), "%s.old-XXXXXX", files[i].path);
			fd = mkstemp(files[i].backup);
			if (fd < 0 || (close(fd), rename(files[i].path, files[i].backup)) < 0 ||
			    link(files[i].backup, files[i].path) < 0) {
				tp_err(err, errlen, "cannot replace %s: %s", files[i].path, strerror(errno));
				if (fd >= 0 && !exists(files[i].path))
					rename(files[i].backup, files[i].path);
				else if (fd >= 0)
					unlink(files[i].backup);
				files[i].backup[0] = '\0';
				goto undo;
			}
		}
	}
	for (i = 0; i < n; i++) {
		/* Without force, link(2) refuses an existing name: never a lost file. */
		int ret = force ? rename(files[i].tmp, files[i].path) : link(files[i].tmp, files[i].path);
		if (ret < 0) {
			tp_err(err, errlen, "cannot create %s: %s", files[i].path,
			       errno == EEXIST ? "it appeared meanwhile" : strerror(errno));
			goto undo;
		}
		if (force)
			files[i].tmp[0] = '\0';
		files[i].placed = true;
	}
	for (i = 0; i < n; i++) {
		if (files[i].tmp[0])
			unlink(files[i].tmp);
		if (files[i].backup[0])
			unlink(files[i].backup);
		if (rep->n_files < sizeof(rep->files) / sizeof(*rep->files))
			rep->files[rep->n_files++] = strdup(files[i].path);
	}
	return 0;
undo:
	for (i = 0; i < n; i++) {
		if (files[i].tmp[0])
			unlink(files[i].tmp);
		/* The backup is a second link to the old file: put it back
		 * over the new one, or drop it if the old is still in place. */
		if (files[i].backup[0] && files[i].placed)
			rename(files[i].backup, files[i].path);
		else if (files[i].backup[0])
			unlink(files[i].backup);
		else if (files[i].placed)
			unlink(files[i].path);
	}
	return -1;
}

/*
 * Place the files (all in one directory) under the directory's lock, so
 * that runs writing the same names one after another cannot interleave:
 * the key, the certificate and the chain of one name always come from one
 * run.
 */
static int
place_files(struct out_file *files, size_t n, bool force, struct tp_ca_report *rep, char *err, size_t errlen)
{
	char *copy = strdup(files[0].path);
	int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1, ret;

	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		tp_err(err, errlen, "cannot lock the directory of %s: %s", files[0].path,
		       copy ? strerror(errno) : "out of memory");
		if (fd >= 0)
			close(fd);
		free(copy);
		return -1;
	}
	ret = place_locked(files, n, force, rep, err, errlen);
	close(fd); /* and with it the lock */
	free(copy);
	return ret;
}

static void
files_free(struct out_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].path);
		gnutls_free(files[i].data.data);
	}
}

static int
export_key(gnutls_x509_privkey_t key, gnutls_datum_t *out)
{
	return gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, out);
}

static int
export_crt(gnutls_x509_crt_t crt, gnutls_datum_t *out)
{
	return gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, out);
}

static int
concat(gnutls_datum_t *out, const gnutls_datum_t *a, const gnutls_datum_t *b)
{
	out->size = a->size + (b ? b->size : 0);
	out->data = gnutls_malloc(out->size ? out->size : 1);
	if (!out->data)
		return GNUTLS_E_MEMORY_ERROR;
	memcpy(out->data, a->data, a->size);
	if (b)
		memcpy(out->data + a->size, b->data, b->size);
	return 0;
}

void
tp_ca_report_finish(struct tp_ca_report *rep)
{
	for (size_t i = 0; i < rep->n_files; i++)
		free(rep->files[i]);
	memset(rep, 0, sizeof(*rep));
}

int
tp_ca_init(const char *dir, const struct tp_ca_options *o, struct tp_ca_report *rep, char *err, size_t errlen)
{
	const char *name = o->name && *o->name ? o->name : "tlsprobe Local";
	int days = o->days > 0 ? o->days : 3650;
	time_t now = time(NULL);
	char root_cn[256], inter_cn[256];
	struct tp_cert_spec root = {
		.cn = root_cn,
		.ca = true,
		.pathlen = o->intermediate ? 1 : 0,
		.not_before = now - 3600,
		.not_after = now + days * TP_DAY,
	};
	struct tp_cert_spec inter = root;
	gnutls_x509_privkey_t rkey = NULL, ikey = NULL;
	gnutls_x509_crt_t rcrt = NULL, icrt = NULL;
	struct out_file files[5] = {{0}};
	size_t n = 0;
	bool made_dir = false;
	int ret = -1, g;

	memset(rep, 0, sizeof(*rep));
	for (const char *const *u = (const char *const[]){o->crl_url, o->ocsp_url}, *const *end = u + 2; u < end; u++)
		if (*u && strncmp(*u, "http://", 7) != 0 && strncmp(*u, "https://", 8) != 0)
			return tp_err(err, errlen,
				      "'%s' is not an http:// or https:// URL: clients fetch CRLs and ask "
				      "OCSP responders over HTTP",
				      *u);
	snprintf(root_cn, sizeof(root_cn), "%s Root CA", name);
	snprintf(inter_cn, sizeof(inter_cn), "%s Intermediate CA", name);
	inter.cn = inter_cn;
	inter.pathlen = 0;
	inter.not_after = now + (days / 2 > 0 ? days / 2 : 1) * TP_DAY;

	if (mkdir(dir, 0755) == 0)
		made_dir = true;
	else if (errno != EEXIST)
		return tp_err(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
	if ((g = tp_pki_key(&rkey, o->key_type, 0)) < 0 || (g = tp_pki_cert(&rcrt, &root, rkey, NULL, NULL)) < 0)
		goto gnutls_fail;
	files[n].path = tp_strdupf("%s/root.key", dir), files[n].mode = 0600;
	if ((g = export_key(rkey, &files[n++].data)) < 0)
		goto gnutls_fail;
	files[n].path = tp_strdupf("%s/root.pem", dir), files[n].mode = 0644;
	if ((g = export_crt(rcrt, &files[n++].data)) < 0)
		goto gnutls_fail;
	if (o->intermediate) {
		if ((g = tp_pki_key(&ikey, o->key_type, 0)) < 0 ||
		    (g = tp_pki_cert(&icrt, &inter, ikey, rcrt, rkey)) < 0)
			goto gnutls_fail;
		files[n].path = tp_strdupf("%s/intermediate.key", dir), files[n].mode = 0600;
		if ((g = export_key(ikey, &files[n++].data)) < 0)
			goto gnutls_fail;
		files[n].path = tp_strdupf("%s/intermediate.pem", dir), files[n].mode = 0644;
		if ((g = export_crt(icrt, &files[n++].data)) < 0)
			goto gnutls_fail;
	}
	if (o->crl_url || o->ocsp_url) {
		/* Written into every certificate ca issue signs from now on. */
		char *text = tp_strdupf("crl-url %s\nocsp-url %s\n", o->crl_url ? o->crl_url : "",
					o->ocsp_url ? o->ocsp_url : "");
		files[n].path = tp_strdupf("%s/" URLS_FILE, dir), files[n].mode = 0644;
		if (text && (files[n].data.data = gnutls_malloc(strlen(text)))) {
			memcpy(files[n].data.data, text, strlen(text));
			files[n].data.size = (unsigned)strlen(text);
		} else {
			free(files[n].path);
			files[n].path = NULL;
		}
		n++;
		free(text);
	}
	for (size_t i = 0; i < n; i++)
		if (!files[i].path) {
			tp_err(err, errlen, "out of memory");
			goto out;
		}
	ret = place_files(files, n, o->force, rep, err, errlen);
	if (ret == 0) {
		/* A new CA: the old one's revocations and CRL are not its own, nor
		 * its URLs unless given again. */
		const char *old[] = {REVOKED_FILE, "crl.pem", "crl.der", o->crl_url || o->ocsp_url ? NULL : URLS_FILE};
		for (size_t i = 0; i < sizeof(old) / sizeof(*old); i++) {
			char *path = old[i] ? tp_strdupf("%s/%s", dir, old[i]) : NULL;
			if (path)
				unlink(path);
			free(path);
		}
	}
	if (ret == 0 && !o->intermediate) {
		/* A flat CA replacing a two-level one: an old intermediate
		 * left behind would go on signing under the old root. */
		char *old_key = tp_strdupf("%s/intermediate.key", dir),
		     *old_crt = tp_strdupf("%s/intermediate.pem", dir);
		if (old_key)
			unlink(old_key);
		if (old_crt)
			unlink(old_crt);
		free(old_key);
		free(old_crt);
	}
	rep->flat = !o->intermediate;
	goto out;
gnutls_fail:
	tp_err(err, errlen, "cannot make the CA: %s", gnutls_strerror(g));
out:
	files_free(files, n);
	if (rcrt)
		gnutls_x509_crt_deinit(rcrt);
	if (icrt)
		gnutls_x509_crt_deinit(icrt);
	if (rkey)
		gnutls_x509_privkey_deinit(rkey);
	if (ikey)
		gnutls_x509_privkey_deinit(ikey);
	/* A failed run leaves nothing behind, not even the directory it made. */
	if (ret < 0 && made_dir)
		rmdir(dir);
	return ret;
}

/* A certificate from a file; -1 with the reason in why. */
static int
load_crt(const char *path, gnutls_x509_crt_t *crt, char *why, size_t whylen)
{
	gnutls_datum_t d = {NULL, 0};
	int ret;

	if (tp_file_read(path, &d, why, whylen) < 0)
		return -1;
	if ((ret = gnutls_x509_crt_init(crt)) == 0 &&
	    (ret = gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
	}
	gnutls_free(d.data);
	return ret < 0 ? tp_err(why, whylen, "%s", gnutls_strerror(ret)) : 0;
}

/* A private key (PEM or DER) from a file; -1 with the reason in why. */
static int
load_key(const char *path, gnutls_x509_privkey_t *key, char *why, size_t whylen)
{
	gnutls_datum_t d = {NULL, 0};
	int ret;

	if (tp_file_read(path, &d, why, whylen) < 0)
		return -1;
	if ((ret = gnutls_x509_privkey_init(key)) == 0 &&
	    (ret = gnutls_x509_privkey_import2(*key, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0 &&
	    (ret = gnutls_x509_privkey_import2(*key, &d, GNUTLS_X509_FMT_DER, NULL, 0)) < 0) {
		gnutls_x509_privkey_deinit(*key);
		*key = NULL;
	}
	gnutls_free(d.data);
	return ret < 0 ? tp_err(why, whylen, "%s", gnutls_strerror(ret)) : 0;
}

/* Whether a request asks for any subjectAltName. */
static bool
csr_has_san(gnutls_x509_crq_t csr)
{
	char buf[512];
	size_t len = sizeof(buf);
	unsigned type, critical;
	int ret = gnutls_x509_crq_get_subject_alt_name(csr, 0, buf, &len, &type, &critical);

	return ret >= 0 || ret == GNUTLS_E_SHORT_MEMORY_BUFFER;
}

static int
load_csr(const char *path, gnutls_x509_crq_t *csr, char *err, size_t errlen)
{
	gnutls_datum_t d = {NULL, 0};
	int ret;

	char why[256];

	if (tp_file_read(path, &d, why, sizeof(why)) < 0)
		return tp_err(err, errlen, "cannot read the request %s: %s", path, why);
	if ((ret = gnutls_x509_crq_init(csr)) == 0 && (ret = gnutls_x509_crq_import(*csr, &d, GNUTLS_X509_FMT_PEM)) < 0)
		ret = gnutls_x509_crq_import(*csr, &d, GNUTLS_X509_FMT_DER);
	gnutls_free(d.data);
	if (ret < 0)
		return tp_err(err, errlen, "%s is not a certificate request (PEM or DER): %s", path,
			      gnutls_strerror(ret));
	/* Only someone holding the key can have signed the request. */
	if ((ret = gnutls_x509_crq_verify(*csr, 0)) < 0)
		return tp_err(err, errlen, "the request %s is not signed by its own key: %s", path,
			      gnutls_strerror(ret));
	return 0;
}

/* The CA that signs in dir: the intermediate, or the root of a flat CA. */
static int
load_signer(const char *dir, gnutls_x509_crt_t *crt, gnutls_x509_privkey_t *key, bool *flat, char *err, size_t errlen)
{
	char *icrt = tp_strdupf("%s/intermediate.pem", dir), *ikey = tp_strdupf("%s/intermediate.key", dir);
	char *rcrt = tp_strdupf("%s/root.pem", dir), *rkey = tp_strdupf("%s/root.key", dir), why[256];
	int ret = -1;

	*crt = NULL;
	*key = NULL;
	if (!icrt || !ikey || !rcrt || !rkey) {
		tp_err(err, errlen, "out of memory");
		goto out;
	}
	*flat = access(icrt, F_OK) != 0;
	if (load_crt(*flat ? rcrt : icrt, crt, why, sizeof(why)) < 0) {
		tp_err(err, errlen, "cannot read the CA certificate %s: %s (is %s a CA made by tlsprobe ca init?)",
		       *flat ? rcrt : icrt, why, dir);
		goto out;
	}
	if (load_key(*flat ? rkey : ikey, key, why, sizeof(why)) < 0) {
		tp_err(err, errlen, "cannot read the CA key %s: %s", *flat ? rkey : ikey, why);
		gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
		goto out;
	}
	ret = 0;
out:
	free(icrt);
	free(ikey);
	free(rcrt);
	free(rkey);
	return ret;
}

/* The revocation URLs ca init recorded in dir ("crl-url URL", "ocsp-url URL"). */
static void
read_urls(const char *dir, char *crl, char *ocsp, size_t len)
{
	char *path = tp_strdupf("%s/" URLS_FILE, dir), why[200];
	gnutls_datum_t d = {NULL, 0};

	*crl = *ocsp = '\0';
	if (path && tp_file_read(path, &d, why, sizeof(why)) == 0) {
		char *save = NULL, *text = strndup((const char *)d.data, d.size);
		for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "crl-url ", 8) == 0)
				snprintf(crl, len, "%s", line + 8);
			else if (strncmp(line, "ocsp-url ", 9) == 0)
				snprintf(ocsp, len, "%s", line + 9);
		}
		free(text);
	}
	gnutls_free(d.data);
	free(path);
}

/* A file name from a host name: "*.example.com" becomes "wildcard.example.com". */
static char *
default_prefix(const char *dir, const char *name)
{
	char *s = tp_strdupf("%s/%s%s", dir, strncmp(name, "*.", 2) == 0 ? "wildcard" : "",
			     strncmp(name, "*.", 2) == 0 ? name + 1 : name);
	for (char *p = s ? s + strlen(dir) + 1 : NULL; p && *p; p++)
		if (*p == '/' || *p == ':' || *p == '*')
			*p = '_';
	return s;
}

int
tp_ca_issue(const char *dir, const struct tp_issue_options *o, struct tp_ca_report *rep, char *err, size_t errlen)
{
	char csr_cn[256] = "", crl_url[1024], ocsp_url[1024];
	const char *san_from_cn[1] = {NULL};
	gnutls_x509_crt_t issuer = NULL, leaf = NULL;
	gnutls_x509_privkey_t issuer_key = NULL, key = NULL;
	gnutls_x509_crq_t csr = NULL;
	gnutls_datum_t leaf_pem = {NULL, 0}, issuer_pem = {NULL, 0};
	struct out_file files[3] = {{0}};
	time_t now = time(NULL), issuer_end;
	int days = o->days > 0 ? o->days : 397;
	bool flat;
	char *prefix = NULL;
	size_t n = 0;
	int ret = -1, g = 0;

	memset(rep, 0, sizeof(*rep));
	if (o->n_names == 0 && !o->csr_file) {
		tp_err(err, errlen, "give at least one name for the certificate (e.g. localhost 127.0.0.1)");
		goto out;
	}
	if (load_signer(dir, &issuer, &issuer_key, &flat, err, errlen) < 0)
		goto out;
	read_urls(dir, crl_url, ocsp_url, sizeof(crl_url));
	if (o->csr_file && load_csr(o->csr_file, &csr, err, errlen) < 0)
		goto out;

	/* A server certificate always carries its names in a subjectAltName:
	 * Go, browsers and Python's strict mode ignore the CN. A request with
	 * a CN only gets it copied into one. */
	if (csr && !o->n_names && !o->client && !csr_has_san(csr)) {
		size_t len = sizeof(csr_cn);
		if (gnutls_x509_crq_get_dn_by_oid(csr, GNUTLS_OID_X520_COMMON_NAME, 0, 0, csr_cn, &len) < 0 ||
		    !*csr_cn) {
			tp_err(err, errlen,
			       "the request %s names no host (no subjectAltName, no CN): give the names on "
			       "the command line",
			       o->csr_file);
			goto out;
		}
		san_from_cn[0] = csr_cn;
		snprintf(rep->note, sizeof(rep->note),
			 "the request has no subjectAltName: its CN '%.100s' is copied "
			 "into one, as clients ignore the CN",
			 csr_cn);
	}
	struct tp_cert_spec spec = {
		.cn = o->n_names ? o->names[0] : "",
		.names = san_from_cn[0] ? san_from_cn : o->names,
		.n_names = san_from_cn[0] ? 1 : o->n_names,
		.server_auth = !o->client,
		.client_auth = o->client,
		.pathlen = -1,
		.not_before = now - 3600,
		.not_after = now + days * TP_DAY,
		.csr = csr,
		.crl_url = *crl_url ? crl_url : NULL,
		.ocsp_url = *ocsp_url ? ocsp_url : NULL,
	};
	/* A certificate must not outlive its issuer: it would stop working
	 * when the issuer expires anyway. */
	issuer_end = gnutls_x509_crt_get_expiration_time(issuer);
	if (issuer_end != (time_t)-1 && spec.not_after > issuer_end) {
		spec.not_after = issuer_end;
		size_t used = strlen(rep->note);
		snprintf(rep->note + used, sizeof(rep->note) - used,
			 "%s--days %d would outlive the issuing CA; the "
			 "certificate ends with it, %ld days from now",
			 used ? "; " : "", days, (long)((issuer_end - now) / TP_DAY));
	}
	if (!csr && (g = tp_pki_key(&key, o->key_type, 0)) < 0)
		goto gnutls_fail;
	if ((g = tp_pki_cert(&leaf, &spec, key, issuer, issuer_key)) < 0)
		goto gnutls_fail;

	if (o->out)
		prefix = strdup(o->out);
	else if (o->n_names)
		prefix = default_prefix(dir, o->names[0]);
	else {
		/* A request without names on the command line: its CN names the files. */
		char cn[256];
		size_t len = sizeof(cn);
		if (gnutls_x509_crq_get_dn_by_oid(csr, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len) < 0)
			snprintf(cn, sizeof(cn), "leaf");
		prefix = default_prefix(dir, cn);
	}
	if (!prefix) {
		tp_err(err, errlen, "out of memory");
		goto out;
	}
	if ((g = export_crt(leaf, &leaf_pem)) < 0 || (g = export_crt(issuer, &issuer_pem)) < 0)
		goto gnutls_fail;
	if (key) {
		files[n].path = tp_strdupf("%s.key", prefix), files[n].mode = 0600;
		if ((g = export_key(key, &files[n++].data)) < 0)
			goto gnutls_fail;
	}
	files[n].path = tp_strdupf("%s.pem", prefix), files[n].mode = 0644;
	if ((g = concat(&files[n++].data, &leaf_pem, NULL)) < 0)
		goto gnutls_fail;
	/* What servers want: the leaf, then the intermediate; the root never. */
	files[n].path = tp_strdupf("%s.fullchain.pem", prefix), files[n].mode = 0644;
	if ((g = concat(&files[n++].data, &leaf_pem, flat ? NULL : &issuer_pem)) < 0)
		goto gnutls_fail;
	for (size_t i = 0; i < n; i++)
		if (!files[i].path) {
			tp_err(err, errlen, "out of memory");
			goto out;
		}
	ret = place_files(files, n, o->force, rep, err, errlen);
	rep->flat = flat;
	goto out;
gnutls_fail:
	tp_err(err, errlen, "cannot issue the certificate: %s", gnutls_strerror(g));
out:
	files_free(files, n);
	gnutls_free(leaf_pem.data);
	gnutls_free(issuer_pem.data);
	if (leaf)
		gnutls_x509_crt_deinit(leaf);
	if (issuer)
		gnutls_x509_crt_deinit(issuer);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (issuer_key)
		gnutls_x509_privkey_deinit(issuer_key);
	if (csr)
		gnutls_x509_crq_deinit(csr);
	free(prefix);
	return ret;
}

struct tp_result *
tp_ca_check(struct tp_config *cfg, const char *label, const gnutls_datum_t *certs, size_t n, const char *key_file,
	    const char *name)
{
	struct tp_result *r = tp_examine_unjudged(cfg, label, certs, n, name, true);
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t leaf_crt = NULL;
	unsigned char a[64], b[64];
	size_t alen = sizeof(a), blen = sizeof(b);
	char why[256];

	if (!r)
		return NULL;
	if (!key_file || n == 0 || r->chain.n == 0)
		goto out;
	/* The leaf the report starts with (the file may have it elsewhere). */
	size_t leaf = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char fp[32];
		size_t fplen = sizeof(fp);
		char hexfp[65];
		if (gnutls_fingerprint(GNUTLS_DIG_SHA256, &certs[i], fp, &fplen) < 0)
			continue;
		for (size_t k = 0; k < fplen; k++)
			snprintf(hexfp + 2 * k, 3, "%02x", fp[k]);
		if (strcmp(hexfp, r->chain.certs[0].sha256) == 0) {
			leaf = i;
			break;
		}
	}
	if (load_key(key_file, &key, why, sizeof(why)) < 0) {
		tp_find(&r->found, TP_KEY_MISMATCH, 0, "the key %s cannot be read: %s", key_file, why);
	} else if (gnutls_x509_crt_init(&leaf_crt) == 0 &&
		   gnutls_x509_crt_import(leaf_crt, &certs[leaf], GNUTLS_X509_FMT_DER) == 0 &&
		   gnutls_x509_privkey_get_key_id(key, 0, a, &alen) == 0 &&
		   gnutls_x509_crt_get_key_id(leaf_crt, 0, b, &blen) == 0 &&
		   (alen != blen || memcmp(a, b, alen) != 0)) {
		tp_find(&r->found, TP_KEY_MISMATCH, 0, "the key in %s is not the key of '%s'", key_file,
			r->chain.certs[0].subject);
	}
	if (leaf_crt)
		gnutls_x509_crt_deinit(leaf_crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
out:
	tp_result_judge(r, cfg->insecure, cfg->clients);
	return r;
}

/* ---- revocation: ca revoke records, ca crl signs ------------------------ */

/* RFC 5280 5.3.1's reasons, but removeFromCRL, which only a delta CRL uses. */
static const char *const crl_reasons[] = {"unspecified",        "keyCompromise",      "cACompromise",
					  "affiliationChanged", "superseded",         "cessationOfOperation",
					  "certificateHold",    "privilegeWithdrawn", "aACompromise"};

static int
hex_byte(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* A serial as lowercase hex digits, colons and a 0x dropped; false when not hex. */
static bool
normal_serial(const char *in, char *out, size_t len)
{
	size_t o = 0;

	if (strncmp(in, "0x", 2) == 0)
		in += 2;
	for (; *in && o + 1 < len; in++) {
		if (*in == ':')
			continue;
		if (hex_byte(*in) < 0)
			return false;
		out[o++] = (char)(*in >= 'A' && *in <= 'F' ? *in - 'A' + 'a' : *in);
	}
	out[o] = '\0';
	if (o % 2 && o + 1 < len) {
		/* Whole octets, as the CRL lists them: "abc" is 0abc. */
		memmove(out + 1, out, o + 1);
		out[0] = '0';
		o++;
	}
	return o > 0 && o <= 40 && !*in;
}

int
tp_ca_revoke(const char *dir, const char *what, const char *reason, struct tp_ca_report *rep, char *err, size_t errlen)
{
	char *path = NULL, *list = tp_strdupf("%s/" REVOKED_FILE, dir), serial[64] = "", why[256];
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t old = {NULL, 0}, dn_ca = {NULL, 0}, dn_issuer = {NULL, 0};
	bool flat, known = false;
	int ret = -1;

	memset(rep, 0, sizeof(*rep));
	if (!reason)
		reason = "unspecified";
	for (size_t i = 0; i < sizeof(crl_reasons) / sizeof(*crl_reasons); i++)
		known |= strcmp(reason, crl_reasons[i]) == 0;
	if (!known) {
		tp_err(err, errlen,
		       "unknown --reason '%s': use keyCompromise, cACompromise, affiliationChanged, superseded, "
		       "cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise or unspecified",
		       reason);
		goto out;
	}
	if (!list || load_signer(dir, &ca, &key, &flat, err, errlen) < 0)
		goto out;
	/* A certificate this CA issued: DIR/NAME.pem, or a file; else a serial. */
	if (strchr(what, '/') || exists(what)) {
		path = strdup(what);
	} else {
		char *prefix = default_prefix(dir, what);
		path = prefix ? tp_strdupf("%s.pem", prefix) : NULL;
		free(prefix);
	}
	if (path && exists(path)) {
		unsigned char raw[64];
		size_t raw_len = sizeof(raw);
		if (load_crt(path, &crt, why, sizeof(why)) < 0) {
			tp_err(err, errlen, "cannot read the certificate %s: %s", path, why);
			goto out;
		}
		if (gnutls_x509_crt_get_raw_dn(ca, &dn_ca) < 0 ||
		    gnutls_x509_crt_get_raw_issuer_dn(crt, &dn_issuer) < 0 || dn_ca.size != dn_issuer.size ||
		    memcmp(dn_ca.data, dn_issuer.data, dn_ca.size) != 0 || !tp_chain_signed_by(crt, ca)) {
			tp_err(err, errlen, "%s was not issued by the CA in %s: nothing revoked", path, dir);
			goto out;
		}
		if (gnutls_x509_crt_get_serial(crt, raw, &raw_len) < 0)
			goto out;
		for (size_t i = 0; i < raw_len && 2 * i + 2 < sizeof(serial); i++)
			snprintf(serial + 2 * i, 3, "%02x", raw[i]);
	} else if (!normal_serial(what, serial, sizeof(serial))) {
		tp_err(err, errlen,
		       "'%s' is neither a certificate of this CA (no %s) nor a serial number in hex: give the name "
		       "it was issued for, its file, or its serial",
		       what, path ? path : what);
		goto out;
	}
	if (tp_file_read(list, &old, why, sizeof(why)) < 0 && exists(list)) {
		tp_err(err, errlen, "cannot read %s: %s", list, why);
		goto out;
	}
	/* Once: a serial already listed keeps its first date. */
	for (const char *line = old.data ? (const char *)old.data : ""; *line;) {
		size_t len = strcspn(line, " \n");
		if (len == strlen(serial) && strncmp(line, serial, len) == 0) {
			tp_err(err, errlen, "serial %s is already revoked in %s", serial, list);
			goto out;
		}
		line += strcspn(line, "\n");
		line += *line == '\n';
	}
	char *text = tp_strdupf("%.*s%s %lld %s\n", (int)old.size, old.data ? (const char *)old.data : "", serial,
				(long long)time(NULL), reason);
	gnutls_datum_t d = {(unsigned char *)text, text ? (unsigned)strlen(text) : 0};
	ret = text ? tp_file_write_atomic(list, &d, 0644, err, errlen) : tp_err(err, errlen, "out of memory");
	free(text);
	if (ret == 0)
		snprintf(rep->note, sizeof(rep->note), "%s", serial);
out:
	gnutls_free(old.data);
	gnutls_free(dn_ca.data);
	gnutls_free(dn_issuer.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (key)
		gnutls_x509_privkey_deinit(key);
	free(path);
	free(list);
	return ret;
}

int
tp_ca_crl(const char *dir, int days, struct tp_ca_report *rep, char *err, size_t errlen)
{
	char *list = tp_strdupf("%s/" REVOKED_FILE, dir), why[256];
	gnutls_x509_crt_t ca = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crl_t crl = NULL;
	gnutls_datum_t revoked = {NULL, 0};
	struct out_file files[2] = {{0}};
	time_t now = time(NULL);
	unsigned char id[64], number[8];
	size_t id_len = sizeof(id), count = 0;
	bool flat;
	int ret = -1, g = 0;

	memset(rep, 0, sizeof(*rep));
	if (!list || load_signer(dir, &ca, &key, &flat, err, errlen) < 0)
		goto out;
	if (tp_file_read(list, &revoked, why, sizeof(why)) < 0 && exists(list)) {
		tp_err(err, errlen, "cannot read %s: %s", list, why);
		goto out;
	}
	if ((g = gnutls_x509_crl_init(&crl)) < 0 || (g = gnutls_x509_crl_set_version(crl, 2)) < 0 ||
	    (g = gnutls_x509_crl_set_this_update(crl, now)) < 0 ||
	    (g = gnutls_x509_crl_set_next_update(crl, now + (days > 0 ? days : 7) * TP_DAY)) < 0)
		goto gnutls_fail;
	for (const char *line = revoked.data ? (const char *)revoked.data : ""; *line;) {
		char serial[64];
		long long when = 0;
		unsigned char raw[32];
		size_t n = 0;
		if (sscanf(line, "%63s %lld", serial, &when) == 2 && strlen(serial) % 2 == 0) {
			for (; n < strlen(serial) / 2 && n < sizeof(raw); n++)
				raw[n] = (unsigned char)(hex_byte(serial[2 * n]) * 16 + hex_byte(serial[2 * n + 1]));
			if ((g = gnutls_x509_crl_set_crt_serial(crl, raw, n, (time_t)when)) < 0)
				goto gnutls_fail;
			count++;
		}
		line += strcspn(line, "\n");
		line += *line == '\n';
	}
	for (size_t i = 0; i < sizeof(number); i++)
		number[i] = (unsigned char)((unsigned long long)now >> (8 * (sizeof(number) - 1 - i)));
	if ((g = gnutls_x509_crt_get_subject_key_id(ca, id, &id_len, NULL)) < 0 ||
	    (g = gnutls_x509_crl_set_authority_key_id(crl, id, id_len)) < 0 ||
	    (g = gnutls_x509_crl_set_number(crl, number, sizeof(number))) < 0 ||
	    (g = gnutls_x509_crl_sign2(crl, ca, key,
				       gnutls_x509_privkey_get_pk_algorithm(key) == GNUTLS_PK_EDDSA_ED25519
					       ? GNUTLS_DIG_SHA512
					       : GNUTLS_DIG_SHA256,
				       0)) < 0)
		goto gnutls_fail;
	files[0].path = tp_strdupf("%s/crl.pem", dir), files[0].mode = 0644;
	files[1].path = tp_strdupf("%s/crl.der", dir), files[1].mode = 0644;
	if ((g = gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &files[0].data)) < 0 ||
	    (g = gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_DER, &files[1].data)) < 0)
		goto gnutls_fail;
	if (!files[0].path || !files[1].path) {
		tp_err(err, errlen, "out of memory");
		goto out;
	}
	ret = place_files(files, 2, true, rep, err, errlen);
	if (ret == 0)
		snprintf(rep->note, sizeof(rep->note), "%zu", count);
	goto out;
gnutls_fail:
	tp_err(err, errlen, "cannot make the CRL: %s", gnutls_strerror(g));
out:
	files_free(files, 2);
	gnutls_free(revoked.data);
	if (crl)
		gnutls_x509_crl_deinit(crl);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (key)
		gnutls_x509_privkey_deinit(key);
	free(list);
	return ret;
}
