/*
 * ca_cmd.c: tlsprobe ca init|issue|check and tlsprobe cert: the front end
 * of a self-hosted CA, and certificates judged from files with the same
 * facts, diagnosis and renderers as a live probe.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* s as one shell word: quoted when it holds anything a shell would split or expand. */
static const char *
shq(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+=,-")] == '\0' && *s)
		return s;
	buf[o++] = '\'';
	for (; *s && o + 5 < len; s++) {
		if (*s == '\'') {
			memcpy(buf + o, "'\\''", 4);
			o += 4;
		} else {
			buf[o++] = *s;
		}
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

static void
trust_howto(FILE *out, const char *root_path, bool flat)
{
	char q[4200], py[4200];
	const char *root = shq(root_path, q, sizeof(q));
	json_t *j = json_string(root_path);
	char *pys = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL; /* a JSON string is a valid Python literal */

	snprintf(py, sizeof(py), "%s", pys ? pys : "\"root.pem\"");
	free(pys);
	json_decref(j);

	fprintf(out,
		flat ? "\nTrust the root on clients (root.key signs every certificate: guard it):\n"
		     : "\nTrust the root on clients (keep root.key offline: the intermediate does the signing):\n");
	fprintf(out,
		"  tlsprobe:         tlsprobe --ca-file %s HOST:PORT\n"
		"  curl:             curl --cacert %s https://HOST/\n"
		"  Python requests:  requests.get(url, verify=%s)\n"
		"  OpenSSL tools:    export SSL_CERT_FILE=%s\n"
		"  Debian system:    cp %s /usr/local/share/ca-certificates/my-root-ca.crt && update-ca-certificates\n",
		root, root, py, root, root);
}

static int
ca_init(struct cli *cli, const char *dir)
{
	struct ca_args *a = &cli->ca;
	struct tp_ca_options o = {.name = a->name,
				  .key_type = a->key_type,
				  .days = a->days,
				  .intermediate = !a->no_intermediate,
				  .force = a->force,
				  .crl_url = a->crl_url,
				  .ocsp_url = a->ocsp_url};
	struct tp_ca_report rep;
	char err[512];

	if (tp_ca_init(dir, &o, &rep, err, sizeof(err)) < 0)
		return cli_fail(cli->format, FAIL_FILE, dir, "%s", err);
	printf("Made a root CA%s in %s:\n", o.intermediate ? " and an intermediate CA" : "", dir);
	for (size_t i = 0; i < rep.n_files; i++)
		printf("  %s%s\n", rep.files[i], strstr(rep.files[i], ".key") ? "  (private key, mode 0600)" : "");
	if (o.crl_url)
		printf("\nEvery certificate issued from now on names the CRL %s:\npublish %s/crl.der there after "
		       "each tlsprobe ca crl.\n",
		       o.crl_url, dir);
	if (o.ocsp_url)
		printf("%sEvery certificate issued from now on names the OCSP responder %s: run one that\n"
		       "answers for this CA there (openssl ocsp -index ... -rsigner ... -CA ...).\n",
		       o.crl_url ? "" : "\n", o.ocsp_url);
	char q[4200], root[4096];
	printf("\nIssue a server certificate:\n  tlsprobe ca issue %s localhost 127.0.0.1\n", shq(dir, q, sizeof(q)));
	snprintf(root, sizeof(root), "%s/root.pem", dir);
	trust_howto(stdout, root, rep.flat);
	tp_ca_report_finish(&rep);
	return TP_STATUS_OK;
}

static int
ca_issue(struct cli *cli, const char *dir, char **names, size_t n)
{
	struct ca_args *a = &cli->ca;
	struct tp_issue_options o = {.names = (const char *const *)names,
				     .n_names = n,
				     .client = a->client,
				     .days = a->days,
				     .out = a->out,
				     .csr_file = a->csr,
				     .key_type = a->key_type,
				     .force = a->force};
	struct tp_ca_report rep;
	const char *chain = NULL, *key = NULL;
	char err[512];

	if (tp_ca_issue(dir, &o, &rep, err, sizeof(err)) < 0)
		return cli_fail(cli->format, FAIL_FILE, dir, "%s", err);
	if (rep.note[0])
		fprintf(stderr, "tlsprobe: note: %s\n", rep.note);
	printf("Issued a %s certificate for %s:\n", a->client ? "client" : "server", n ? names[0] : "the request");
	for (size_t i = 0; i < rep.n_files; i++) {
		const char *f = rep.files[i];
		if (strstr(f, ".fullchain.pem"))
			chain = f;
		else if (strstr(f, ".key"))
			key = f;
		printf("  %s%s\n", f,
		       !strstr(f, ".fullchain.pem")
			       ? strstr(f, ".key") ? "  (private key, mode 0600)" : "  (the certificate)"
		       : rep.flat ? "  (the certificate alone: a root signed it, and servers do not send the root)"
				  : "  (certificate + intermediate: what servers serve)");
	}
	char q1[4200], q2[4200], q3[4200], q4[4200];
	char rootpem[4096];
	snprintf(rootpem, sizeof(rootpem), "%s/root.pem", dir);
	const char *qc = chain ? shq(chain, q1, sizeof(q1)) : "", *qk = shq(key ? key : "YOUR.key", q2, sizeof(q2));
	if (!a->client && chain) {
		printf("\nServe it:\n  tlsprobe serve --cert %s --key %s\n", qc, qk);
		printf("  nginx: ssl_certificate %s; ssl_certificate_key %s;\n", qc, qk);
		printf("\nCheck it before deploying:\n  tlsprobe ca check --ca %s --cert %s --key %s --host %s\n",
		       shq(rootpem, q3, sizeof(q3)), qc, qk, shq(n ? names[0] : "NAME", q4, sizeof(q4)));
	} else if (a->client && chain) {
		printf("\nUse it: curl --cert %s --key %s https://HOST/\n", qc, qk);
		printf("        tlsprobe HOST:PORT --client-cert %s --client-key %s\n", qc, qk);
	}
	tp_ca_report_finish(&rep);
	return TP_STATUS_OK;
}

static int
ca_check(struct cli *cli)
{
	struct ca_args *a = &cli->ca;
	gnutls_datum_t *certs = NULL;
	size_t n = 0;
	char err[512];

	if (!a->cert)
		return cli_fail(cli->format, FAIL_USAGE, NULL,
				"ca check needs --cert FILE (the certificate or chain file to check)");
	if (a->root) {
		if (tp_config_add_ca_file(cli->cfg, a->root) < 0)
			return cli_fail(cli->format, FAIL_FILE, a->root, "%s", tp_config_error(cli->cfg));
		tp_config_set_system_ca(cli->cfg, false);
		/* The root of a CA made by ca init: its CRL (ca crl) beside it counts too. */
		const char *slash = strrchr(a->root, '/');
		char crl[4200];
		snprintf(crl, sizeof(crl), "%.*scrl.pem", slash ? (int)(slash - a->root + 1) : 0, a->root);
		if (access(crl, R_OK) == 0 && tp_config_add_crl_file(cli->cfg, crl) < 0)
			return cli_fail(cli->format, FAIL_FILE, crl, "%s", tp_config_error(cli->cfg));
	}
	if (a->key && access(a->key, R_OK) != 0)
		return cli_fail(cli->format, FAIL_FILE, a->key, "cannot read key %s", a->key);
	if (tp_certs_load(a->cert, &certs, &n, err, sizeof(err)) < 0)
		return cli_fail(cli->format, FAIL_FILE, a->cert, "%s", err);
	tp_config_set_client_purpose(cli->cfg, a->client);
	struct tp_result *r = tp_ca_check(cli->cfg, a->cert, certs, n, a->key, a->host);
	tp_certs_free(certs, n);
	return out_single(cli, r);
}

static int
ca_revoke(struct cli *cli, const char *dir, const char *what)
{
	struct tp_ca_report rep;
	char err[1024], q[4200];

	if (tp_ca_revoke(dir, what, cli->ca.reason, &rep, err, sizeof(err)) < 0)
		return cli_fail(cli->format, FAIL_FILE, dir, "%s", err);
	printf("Revoked %s (serial %s, %s) in %s.\nSign and publish the CRL that lists it:\n  tlsprobe ca crl %s\n",
	       what, rep.note, cli->ca.reason ? cli->ca.reason : "unspecified", dir, shq(dir, q, sizeof(q)));
	tp_ca_report_finish(&rep);
	return TP_STATUS_OK;
}

static int
ca_crl(struct cli *cli, const char *dir)
{
	struct tp_ca_report rep;
	char err[1024];
	int days = cli->ca.days > 0 ? cli->ca.days : 7;

	if (tp_ca_crl(dir, days, &rep, err, sizeof(err)) < 0)
		return cli_fail(cli->format, FAIL_FILE, dir, "%s", err);
	printf("Signed the CRL of %s: %s revoked, next update in %d day%s:\n", dir, rep.note, days,
	       days == 1 ? "" : "s");
	for (size_t i = 0; i < rep.n_files; i++)
		printf("  %s\n", rep.files[i]);
	printf("Publish crl.der at the URL given to ca init --crl-url, and sign it again before then.\n");
	tp_ca_report_finish(&rep);
	return TP_STATUS_OK;
}

int
ca_command(struct cli *cli)
{
	const char *verb = cli->targets[0];
	char **args = cli->targets + 1;
	size_t n = cli->n_targets - 1;

	if (strcmp(verb, "init") == 0) {
		if (n != 1)
			return cli_fail(cli->format, FAIL_USAGE, NULL,
					"ca init takes one directory: tlsprobe ca init DIR");
		return ca_init(cli, args[0]);
	}
	if (strcmp(verb, "issue") == 0) {
		if (n < 1 || (n < 2 && !cli->ca.csr))
			return cli_fail(cli->format, FAIL_USAGE, NULL,
					"ca issue needs the CA directory and a name: "
					"tlsprobe ca issue DIR NAME... (or --csr FILE)");
		return ca_issue(cli, args[0], args + 1, n - 1);
	}
	if (strcmp(verb, "revoke") == 0) {
		if (n != 2)
			return cli_fail(cli->format, FAIL_USAGE, NULL,
					"ca revoke takes the CA directory and what to revoke: "
					"tlsprobe ca revoke DIR NAME|FILE|SERIAL [--reason REASON]");
		return ca_revoke(cli, args[0], args[1]);
	}
	if (strcmp(verb, "crl") == 0) {
		if (n != 1)
			return cli_fail(cli->format, FAIL_USAGE, NULL,
					"ca crl takes the CA directory: tlsprobe ca crl DIR [--days N]");
		return ca_crl(cli, args[0]);
	}
	if (strcmp(verb, "check") == 0) {
		if (n)
			return cli_fail(cli->format, FAIL_USAGE, NULL,
					"ca check takes options only (--ca, --cert, --key, --host)");
		return ca_check(cli);
	}
	return cli_fail(cli->format, FAIL_USAGE, NULL, "unknown ca command '%s': use init, issue, revoke, crl or check",
			verb);
}

int
cert_command(struct cli *cli)
{
	int worst = TP_STATUS_OK;
	struct out out;

	if (out_init(&out, cli) < 0)
		return cli_fail(cli->format, FAIL_INTERNAL, NULL, "out of memory");
	for (size_t i = 0; i < cli->n_targets; i++) {
		gnutls_datum_t *certs = NULL;
		size_t n = 0;
		char err[512];
		if (tp_certs_load(cli->targets[i], &certs, &n, err, sizeof(err)) < 0) {
			int st = cli_fail(cli->format, FAIL_FILE, cli->targets[i], "%s", err);
			worst = (int)cli_worse((enum tp_status)worst, (enum tp_status)st);
			continue;
		}
		struct tp_result *r = tp_examine(cli->cfg, cli->targets[i], certs, n, cli->ca.host, cli->ca.verify);
		tp_certs_free(certs, n);
		if (!r) {
			worst = cli_fail(cli->format, FAIL_INTERNAL, cli->targets[i], "out of memory");
			break;
		}
		out_result(&out, r);
		worst = (int)cli_worse((enum tp_status)worst, tp_result_status(r));
		tp_result_destroy(r);
	}
	out_finish(&out);
	return worst;
}
