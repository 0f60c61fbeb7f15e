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

#include "config.h"
#include "file.h"
#include "probe.h"
#include "util.h"

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
	struct out_file files[4] = {{0}};
	size_t n = 0;
	bool made_dir = false;
	int ret = -1, g;

	memset(rep, 0, sizeof(*rep));
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
	for (size_t i = 0; i < n; i++)
		if (!files[i].path) {
			tp_err(err, errlen, "out of memory");
			goto out;
		}
	ret = place_files(files, n, o->force, rep, err, errlen);
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
	char *ikey_path = tp_strdupf("%s/intermediate.key", dir), *icrt_path = tp_strdupf("%s/intermediate.pem", dir);
	char *rkey_path = tp_strdupf("%s/root.key", dir), *rcrt_path = tp_strdupf("%s/root.pem", dir);
	char why[256], csr_cn[256] = "";
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
	if (!ikey_path || !icrt_path || !rkey_path || !rcrt_path) {
		tp_err(err, errlen, "out of memory");
		goto out;
	}
	if (o->n_names == 0 && !o->csr_file) {
		tp_err(err, errlen, "give at least one name for the certificate (e.g. localhost 127.0.0.1)");
		goto out;
	}
	flat = access(icrt_path, F_OK) != 0;
	if (load_crt(flat ? rcrt_path : icrt_path, &issuer, why, sizeof(why)) < 0) {
		tp_err(err, errlen, "cannot read the CA certificate %s: %s (is %s a CA made by tlsprobe ca init?)",
		       flat ? rcrt_path : icrt_path, why, dir);
		goto out;
	}
	if (load_key(flat ? rkey_path : ikey_path, &issuer_key, why, sizeof(why)) < 0) {
		tp_err(err, errlen, "cannot read the CA key %s: %s", flat ? rkey_path : ikey_path, why);
		goto out;
	}
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
	free(ikey_path);
	free(icrt_path);
	free(rkey_path);
	free(rcrt_path);
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
