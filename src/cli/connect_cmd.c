/*
 * connect_cmd.c: tlsprobe [connect] TARGET..., the default command. Every
 * target is checked before any is probed, then each is probed in turn and
 * its result rendered as it comes; the exit status is the worst seen.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int
cli_target(const struct cli *cli, struct tp_target *t, const char *input, enum cli_failure *failure, char *err,
	   size_t errlen)
{
	*failure = FAIL_TARGET;
	if (tp_target_parse(t, input, err, errlen) < 0)
		return -1;
	if (cli->no_sni)
		tp_target_set_no_sni(t);
	if ((cli->sni && tp_target_set_sni(t, cli->sni, err, errlen) < 0) ||
	    (cli->starttls && tp_target_set_starttls(t, cli->starttls) < 0) ||
	    (cli->connect_to && tp_target_set_connect_to(t, cli->connect_to, err, errlen) < 0)) {
		tp_target_finish(t);
		*failure = FAIL_USAGE;
		return -1;
	}
	return 0;
}

/* Each of certs[0..n) as PEM to fd; 0, or -1 with errno set. */
static int
write_pem(int fd, const gnutls_datum_t *certs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		gnutls_datum_t pem = {NULL, 0};
		size_t done = 0;
		if (gnutls_pem_base64_encode2("CERTIFICATE", &certs[i], &pem) < 0) {
			errno = ENOMEM;
			return -1;
		}
		while (done < pem.size) {
			ssize_t w = write(fd, pem.data + done, pem.size - done);
			if (w < 0 && errno != EINTR)
				break;
			done += w > 0 ? (size_t)w : 0;
		}
		gnutls_free(pem.data);
		if (done < pem.size)
			return -1;
	}
	return fsync(fd);
}

/*
 * Certificates as PEM to path (option names the option, for messages),
 * written to a new file beside path (created exclusively, so never through
 * a link someone left there) and renamed over path: path is the whole
 * chain or what it was before. Returns the status it adds.
 */
static enum tp_status
write_chain(const struct cli *cli, const char *option, const char *path, const gnutls_datum_t *certs, size_t n)
{
	size_t len = strlen(path) + 40;
	char *tmp = malloc(len);
	int fd = -1, saved;

	if (!tmp)
		return (enum tp_status)cli_fail(cli->format, FAIL_INTERNAL, path, "out of memory");
	for (unsigned attempt = 0; fd < 0 && attempt < 100; attempt++) {
		snprintf(tmp, len, "%s.%ld.%u.tmp", path, (long)getpid(), (unsigned)(time(NULL) + attempt));
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		saved = errno;
		goto fail;
	}
	/* From here on tmp is ours to remove. */
	saved = write_pem(fd, certs, n) < 0 ? errno : 0;
	if (close(fd) < 0 && !saved)
		saved = errno;
	if (!saved && rename(tmp, path) < 0)
		saved = errno;
	if (!saved) {
		free(tmp);
		return TP_STATUS_OK;
	}
	unlink(tmp);
fail:
	free(tmp);
	return (enum tp_status)cli_fail(cli->format, FAIL_FILE, path, "cannot write %s %s: %s", option, path,
					strerror(saved));
}

/* --save-chain: the certificates the server sent, in the order it sent them. */
static enum tp_status
save_chain(const struct cli *cli, const struct tp_result *r)
{
	size_t n = tp_result_cert_count(r);
	gnutls_datum_t *certs = calloc(n ? n : 1, sizeof(*certs));
	enum tp_status st;

	if (!n) {
		fprintf(stderr, "tlsprobe: the server sent no certificate: %s not written\n", cli->save_chain);
		free(certs);
		return TP_STATUS_OK;
	}
	if (!certs)
		return (enum tp_status)cli_fail(cli->format, FAIL_INTERNAL, cli->save_chain, "out of memory");
	for (size_t i = 0; i < n; i++)
		certs[i] = tp_result_cert(r, i)->der;
	st = write_chain(cli, "--save-chain", cli->save_chain, certs, n);
	free(certs);
	return st;
}

/* --write-fullchain: the leaf and the intermediates the server should send,
 * downloaded ones included, when with them the chain verifies. */
static enum tp_status
write_fullchain(const struct cli *cli, const struct tp_result *r)
{
	size_t n = 0;
	const gnutls_datum_t *certs = tp_result_fullchain(r, &n);

	if (!n) {
		fprintf(stderr,
			"tlsprobe: %s not written: the chain does not verify%s, so tlsprobe cannot tell which "
			"certificates it should hold\n",
			cli->write_fullchain,
			tp_result_cert_count(r) ? " (even with what its AIA URLs serve)" : " (no certificate came)");
		return TP_STATUS_OK;
	}
	return write_chain(cli, "--write-fullchain", cli->write_fullchain, certs, n);
}

/* Each target probed (or scanned) in turn, rendered as it comes. */
static int
each_target(struct cli *cli, bool scan)
{
	struct tp_target *targets = calloc(cli->n_targets, sizeof(*targets));
	enum tp_status worst = TP_STATUS_OK;
	struct out out;
	char err[512];
	size_t parsed = 0;

	if (!targets || out_init(&out, cli) < 0) {
		free(targets);
		return cli_fail(cli->format, FAIL_INTERNAL, NULL, "out of memory");
	}
	/* Check every target before probing any: bad usage probes nothing. */
	for (; parsed < cli->n_targets; parsed++) {
		enum cli_failure why;
		if (cli_target(cli, &targets[parsed], cli->targets[parsed], &why, err, sizeof(err)) < 0) {
			worst = cli_fail(cli->format, why, cli->targets[parsed], "%s", err);
			goto out;
		}
	}
	for (size_t i = 0; i < cli->n_targets; i++) {
		struct tp_result *r =
			scan ? tp_scan(cli->cfg, &targets[i], cli->batch.parallel_given ? cli->batch.parallel : 0)
			     : tp_probe(cli->cfg, &targets[i]);
		if (!r) {
			worst = cli_fail(cli->format, FAIL_INTERNAL, cli->targets[i], "out of memory");
			break;
		}
		out_result(&out, r);
		worst = cli_worse(worst, tp_result_status(r));
		if (cli->save_chain)
			worst = cli_worse(worst, save_chain(cli, r));
		if (cli->write_fullchain)
			worst = cli_worse(worst, write_fullchain(cli, r));
		tp_result_destroy(r);
	}
out:
	out_finish(&out);
	for (size_t i = 0; i < parsed; i++)
		tp_target_finish(&targets[i]);
	free(targets);
	return (int)worst;
}

int
connect_command(struct cli *cli)
{
	return each_target(cli, false);
}

int
scan_command(struct cli *cli)
{
	return each_target(cli, true);
}
