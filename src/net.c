/*
 * net.c: name resolution and TCP connect, both bounded by the probe's
 * deadline. The only module that opens sockets for the probe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "net.h"

/*
 * getaddrinfo() cannot be interrupted, and a lookup glibc has started cannot
 * be cancelled either: so the lookup runs through glibc's asynchronous
 * interface on a request of its own on the heap. When the deadline passes
 * the probe walks away; whichever of the probe and the lookup's completion
 * notice comes last frees the request.
 */
struct lookup {
	struct gaicb req;
	struct addrinfo hints;
	char host[256];
	char port[8];
	atomic_int refs;   /* the probe, and the completion notice */
	atomic_bool taken; /* the probe took the result */
};

static void
lookup_release(struct lookup *l)
{
	if (atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	if (!atomic_load(&l->taken) && l->req.ar_result)
		freeaddrinfo(l->req.ar_result);
	free(l);
}

static void
lookup_done(union sigval v)
{
	lookup_release(v.sival_ptr);
}

static int
resolve(const struct tp_target *t, const struct tp_config *cfg, const struct tp_deadline *d, struct addrinfo **res,
	struct tp_findings *f)
{
	/* --connect-to: somewhere else than DNS says, under the same name. */
	const char *host = t->connect_host ? t->connect_host : t->host;
	bool is_ip = t->connect_host ? t->connect_is_ip : t->host_is_ip;
	struct addrinfo hints = {
		.ai_family = cfg->family,
		.ai_socktype = SOCK_STREAM,
		/* No AI_ADDRCONFIG: it ignores loopback, so on a machine with
		 * only lo up, localhost would not resolve. An address family
		 * the machine lacks fails at connect, and the next is tried. */
		.ai_flags = is_ip ? AI_NUMERICHOST : 0,
	};
	char port[8];
	int ret;

	snprintf(port, sizeof(port), "%u", t->connect_host ? t->connect_port : t->port);
	if (is_ip || strlen(host) >= sizeof(((struct lookup *)0)->host)) {
		ret = getaddrinfo(host, port, &hints, res);
	} else {
		struct lookup *l = calloc(1, sizeof(*l));
		struct gaicb *list[1];
		struct sigevent sev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = lookup_done};
		if (!l) {
			tp_fail(f, TP_INTERNAL_ERROR, "out of memory");
			return -1;
		}
		snprintf(l->host, sizeof(l->host), "%s", host);
		snprintf(l->port, sizeof(l->port), "%s", port);
		l->hints = hints;
		l->req = (struct gaicb){.ar_name = l->host, .ar_service = l->port, .ar_request = &l->hints};
		atomic_init(&l->refs, 2);
		atomic_init(&l->taken, false);
		sev.sigev_value.sival_ptr = l;
		list[0] = &l->req;
		ret = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
		if (ret != 0) {
			free(l); /* no notice will come */
		} else {
			while ((ret = gai_error(&l->req)) == EAI_INPROGRESS) {
				const struct gaicb *wait[1] = {&l->req};
				int left = tp_deadline_left(d);
				struct timespec ts = {left / 1000, (long)(left % 1000) * 1000000L};
				if (left == 0) {
					/* A lookup cancelled before it ran gets no completion notice. */
					if (gai_cancel(&l->req) == EAI_CANCELED)
						lookup_release(l);
					lookup_release(l);
					tp_fail(f, TP_TIMEOUT, "resolving %s took longer than the %.1f s timeout", host,
						d->ms / 1000.0);
					return -1;
				}
				gai_suspend(wait, 1, &ts);
			}
			if (ret == 0) {
				*res = l->req.ar_result;
				atomic_store(&l->taken, true);
			}
			lookup_release(l);
		}
	}
	if (ret == 0 && !*res)
		ret = EAI_NONAME;
	if (ret != 0) {
		if (ret == EAI_NONAME || ret == EAI_NODATA || ret == EAI_FAIL || ret == EAI_AGAIN) {
			const char *fam = cfg->family == AF_INET ? " IPv4" : cfg->family == AF_INET6 ? " IPv6" : "";
			tp_fail(f, TP_DNS_FAILURE, "the name %s has no%s address (%s)", host, fam, gai_strerror(ret));
		} else {
			tp_fail(f, TP_DNS_FAILURE, "cannot resolve %s: %s", host, gai_strerror(ret));
		}
		return -1;
	}
	return 0;
}

static void
addr_string(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
						  : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	if (!inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* Connect one address; 0 connected, else an errno (ETIMEDOUT when the deadline hit). */
static int
connect_one(const struct addrinfo *ai, const struct tp_deadline *d, int *fdp)
{
	int fd, err = 0, one = 1;
	socklen_t len = sizeof(err);
	struct pollfd pfd;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return errno;
	/* Without this a TLS 1.3 handshake in middlebox-compatibility mode
	 * waits out the peer's delayed ACK (about 40 ms) twice. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto fail;
		}
		pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
		int n;
		do
			n = poll(&pfd, 1, tp_deadline_left(d));
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			err = ETIMEDOUT;
			goto fail;
		}
		if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return err;
}

int
tp_net_addresses(const struct tp_target *t, const struct tp_config *cfg, const struct tp_deadline *d, char (*out)[64],
		 size_t max, struct tp_findings *f)
{
	struct addrinfo *res = NULL;
	size_t n = 0;

	if (resolve(t, cfg, d, &res, f) < 0)
		return -1;
	for (const struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
		char a[64];
		bool seen = false;
		addr_string(ai->ai_addr, a, sizeof(a));
		for (size_t i = 0; i < n && !seen; i++)
			seen = strcmp(out[i], a) == 0;
		if (!seen)
			memcpy(out[n++], a, sizeof(a));
	}
	freeaddrinfo(res);
	return (int)n;
}

int
tp_net_connect(struct tp_net_info *out, const struct tp_target *t, const struct tp_config *cfg,
	       const struct tp_deadline *d, struct tp_findings *f)
{
	struct addrinfo *res = NULL;
	double t0 = tp_now_ms(), t1;
	int fd = -1, err = 0;
	char last[64] = "";

	*out = (struct tp_net_info){.dns_ms = -1, .connect_ms = -1};
	if (resolve(t, cfg, d, &res, f) < 0) {
		out->dns_ms = tp_now_ms() - t0;
		return -1;
	}
	t1 = tp_now_ms();
	out->dns_ms = t1 - t0;

	size_t total = 0, tried = 0;
	bool timed_out = false;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		total++;
	out->total = total;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next, tried++) {
		/* Each address gets its share of the time left, so that one that
		 * drops packets (a broken IPv6 route) leaves time for the next. */
		struct tp_deadline share;
		tp_deadline_start(&share, (unsigned)(tp_deadline_left(d) / (int)(total - tried)));
		addr_string(ai->ai_addr, last, sizeof(last));
		err = connect_one(ai, &share, &fd);
		timed_out |= err == ETIMEDOUT;
		if (err == 0 || err == EMFILE || err == ENFILE || tp_deadline_left(d) == 0)
			break;
	}
	freeaddrinfo(res);
	if (err && timed_out && err != EMFILE && err != ENFILE && tp_deadline_left(d) == 0)
		err = ETIMEDOUT;
	out->connect_ms = tp_now_ms() - t1;
	snprintf(out->address, sizeof(out->address), "%s", last);

	if (err == 0)
		return fd;
	unsigned port = t->connect_host ? t->connect_port : t->port;
	if (err == EMFILE || err == ENFILE)
		/* Not the target's fault: this machine ran out of descriptors. */
		tp_fail(f, TP_INTERNAL_ERROR,
			"no file descriptor left for a socket (%s): lower --parallel, "
			"or raise the limit (ulimit -n)",
			strerror(err));
	else if (err == ETIMEDOUT)
		tp_fail(f, TP_TIMEOUT, "connecting to %s port %u got no answer within the %.1f s timeout", last, port,
			d->ms / 1000.0);
	else if (err == ECONNREFUSED)
		tp_fail(f, TP_CONNECTION_REFUSED, "%s port %u refused the connection: nothing listens there", last,
			port);
	else
		tp_fail(f, TP_CONNECTION_FAILED, "cannot connect to %s port %u: %s", last, port, strerror(err));
	return -1;
}
