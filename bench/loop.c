/*
 * loop.c: the practical ceiling for `tlsprobe batch` in bench/batch. The
 * least a verifying TLS probe can do with GnuTLS, in one process: connect,
 * full handshake, chain and name verification against a trust list, close.
 * P threads probe at once and share one set of credentials; nothing is
 * printed per probe.
 *
 *   loop CAFILE PARALLEL N PORT...
 *
 * Probe i connects to 127.0.0.1:PORT[i % number of ports] and verifies the
 * certificate for the name 127.0.0.1 (an iPAddress SAN). Exit 0 when every
 * probe verified, 1 when one failed (the first error is printed), 2 on bad
 * usage. Built by bench/batch with cc and pkg-config gnutls.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NAME "127.0.0.1"
#define TIMEOUT_MS 10000

static gnutls_certificate_credentials_t cred;
static gnutls_priority_t prio;
static unsigned short *ports;
static long n_ports, n_probes;
static atomic_long next_probe, n_ok, n_failed;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_err[256];

static void
fail(const char *what, const char *why)
{
	atomic_fetch_add(&n_failed, 1);
	pthread_mutex_lock(&err_lock);
	if (!first_err[0])
		snprintf(first_err, sizeof(first_err), "%s: %s", what, why);
	pthread_mutex_unlock(&err_lock);
}

static void
probe(unsigned short port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = TIMEOUT_MS / 1000};
	gnutls_session_t s;
	int one = 1, fd, ret;

	inet_pton(AF_INET, NAME, &sa.sin_addr);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fail("socket", strerror(errno));
		return;
	}
	/* As tlsprobe does: no Nagle, so no 40 ms delayed-ACK stall. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fail("connect", strerror(errno));
		close(fd);
		return;
	}
	if ((ret = gnutls_init(&s, GNUTLS_CLIENT)) < 0) {
		fail("gnutls_init", gnutls_strerror(ret));
		close(fd);
		return;
	}
	gnutls_priority_set(s, prio);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	/* Chain and name are verified during the handshake, which fails on either. */
	gnutls_session_set_verify_cert(s, NAME, 0);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, TIMEOUT_MS);
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0) {
		char why[160];
		unsigned status = gnutls_session_get_verify_cert_status(s);
		snprintf(why, sizeof(why), "%s (verify status 0x%x)", gnutls_strerror(ret), status);
		fail("handshake", why);
	} else {
		gnutls_bye(s, GNUTLS_SHUT_WR);
		atomic_fetch_add(&n_ok, 1);
	}
	gnutls_deinit(s);
	close(fd);
}

static void *
worker(void *arg)
{
	long i;

	(void)arg;
	while ((i = atomic_fetch_add(&next_probe, 1)) < n_probes)
		probe(ports[i % n_ports]);
	return NULL;
}

int
main(int argc, char **argv)
{
	gnutls_x509_trust_list_t tl;
	pthread_attr_t attr;
	pthread_t *threads;
	long parallel, started = 0;
	int ret;

	if (argc < 5) {
		fprintf(stderr, "usage: loop CAFILE PARALLEL N PORT...\n");
		return 2;
	}
	parallel = strtol(argv[2], NULL, 10);
	n_probes = strtol(argv[3], NULL, 10);
	n_ports = argc - 4;
	if (parallel < 1 || n_probes < 1) {
		fprintf(stderr, "loop: PARALLEL and N must be positive\n");
		return 2;
	}
	if (!(ports = calloc((size_t)n_ports, sizeof(*ports))) ||
	    !(threads = calloc((size_t)parallel, sizeof(*threads)))) {
		fprintf(stderr, "loop: out of memory\n");
		return 2;
	}
	for (long i = 0; i < n_ports; i++) {
		long p = strtol(argv[4 + i], NULL, 10);
		if (p < 1 || p > 65535) {
			fprintf(stderr, "loop: bad port '%s'\n", argv[4 + i]);
			return 2;
		}
		ports[i] = (unsigned short)p;
	}

	gnutls_global_init();
	/* One trust list and one credentials structure for every session. */
	if ((ret = gnutls_x509_trust_list_init(&tl, 0)) < 0 ||
	    (ret = gnutls_x509_trust_list_add_trust_file(tl, argv[1], NULL, GNUTLS_X509_FMT_PEM, 0, 0)) <= 0) {
		fprintf(stderr, "loop: cannot load CA file %s: %s\n", argv[1],
			ret < 0 ? gnutls_strerror(ret) : "no certificate in it");
		return 2;
	}
	if ((ret = gnutls_certificate_allocate_credentials(&cred)) < 0) {
		fprintf(stderr, "loop: %s\n", gnutls_strerror(ret));
		return 2;
	}
	gnutls_certificate_set_trust_list(cred, tl, 0);
	if ((ret = gnutls_priority_init(&prio, NULL, NULL)) < 0) {
		fprintf(stderr, "loop: %s\n", gnutls_strerror(ret));
		return 2;
	}

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (; started < parallel; started++)
		if (pthread_create(&threads[started], &attr, worker, NULL) != 0)
			break;
	pthread_attr_destroy(&attr);
	if (started == 0)
		worker(NULL);
	for (long i = 0; i < started; i++)
		pthread_join(threads[i], NULL);

	printf("loop: %ld probes, %ld verified, %ld failed, %ld threads\n", n_probes, atomic_load(&n_ok),
	       atomic_load(&n_failed), started);
	if (first_err[0])
		printf("loop: first failure: %s\n", first_err);
	gnutls_priority_deinit(prio);
	gnutls_certificate_free_credentials(cred);
	gnutls_global_deinit();
	free(threads);
	free(ports);
	return atomic_load(&n_failed) ? 1 : 0;
}
