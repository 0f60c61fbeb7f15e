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
#include <strings.h>
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

/* Whether the no_proxy list (names, .domains, "*") says to reach host directly. */
static bool
bypass(const char *list, const char *host)
{
	size_t hl = strlen(host);

	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, ", \t");
		const char *name = p;
		if (n == 1 && *p == '*')
			return true;
		if (n && *name == '.') {
			name++;
			n--;
		}
		if (n && n <= hl && strncasecmp(host + hl - n, name, n) == 0 && (n == hl || host[hl - n - 1] == '.'))
			return true;
		p += strcspn(p, ", \t");
		p += strspn(p, ", \t");
	}
	return false;
}

/* Wait for fd to be ready for events within d: 1, 0 on timeout, -1 on error. */
static int
wait_fd(int fd, short events, const struct tp_deadline *d)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int n;

	do
		n = poll(&pfd, 1, tp_deadline_left(d));
	while (n < 0 && errno == EINTR);
	return n;
}

/*
 * Send all of buf, or read exactly n bytes into it, within d: 0, or -1 with
 * errno (ETIMEDOUT when the deadline passed, ECONNRESET for an early close).
 */
static int
io_all(int fd, void *buf, size_t n, bool sending, const struct tp_deadline *d)
{
	char *p = buf;

	while (n) {
		ssize_t k = sending ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k == 0 && !sending) {
			errno = ECONNRESET;
			return -1;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		int w = wait_fd(fd, sending ? POLLOUT : POLLIN, d);
		if (w <= 0) {
			if (w == 0)
				errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

static int
send_all(int fd, const void *buf, size_t n, const struct tp_deadline *d)
{
	return io_all(fd, (void *)buf, n, true, d);
}

static int
recv_exact(int fd, void *buf, size_t n, const struct tp_deadline *d)
{
	return io_all(fd, buf, n, false, d);
}

/* A failure talking to the proxy: its own error, or a timeout within d. */
static int
proxy_io_failed(struct tp_findings *f, const struct tp_proxy *px, const struct tp_deadline *d, const char *what)
{
	if (errno == ETIMEDOUT)
		tp_fail(f, TP_TIMEOUT, "the proxy %s did not %s within the %.1f s timeout", px->url, what,
			d->ms / 1000.0);
	else if (errno == ECONNRESET)
		tp_fail(f, TP_PROXY_FAILED, "the proxy %s closed the connection instead of %s", px->url, what);
	else
		tp_fail(f, TP_PROXY_FAILED, "talking to the proxy %s: %s", px->url, strerror(errno));
	return -1;
}

/* HTTP CONNECT host:port through the proxy on fd (RFC 9110 9.3.6). */
static int
http_tunnel(int fd, const struct tp_proxy *px, const char *host, unsigned port, const struct tp_deadline *d,
	    struct tp_findings *f)
{
	char req[1024], head[8192], *clean;
	size_t used = 0;
	bool v6 = strchr(host, ':') != NULL;
	int n = snprintf(
		req, sizeof(req), "CONNECT %s%s%s:%u HTTP/1.1\r\nHost: %s%s%s:%u\r\n%s%s%sUser-Agent: tlsprobe\r\n\r\n",
		v6 ? "[" : "", host, v6 ? "]" : "", port, v6 ? "[" : "", host, v6 ? "]" : "", port,
		px->auth ? "Proxy-Authorization: Basic " : "", px->auth ? px->auth : "", px->auth ? "\r\n" : "");

	if (n < 0 || (size_t)n >= sizeof(req) || send_all(fd, req, (size_t)n, d) < 0)
		return proxy_io_failed(f, px, d, "take the CONNECT request");
	/* Byte by byte up to the blank line: what follows is the target's. */
	while (used < sizeof(head) - 1) {
		if (recv_exact(fd, head + used, 1, d) < 0)
			return proxy_io_failed(f, px, d, "answer the CONNECT request");
		head[++used] = '\0';
		if (used >= 4 && memcmp(head + used - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	head[strcspn(head, "\r\n")] = '\0';
	if (strncmp(head, "HTTP/1.", 7) == 0 && head[8] == ' ' && head[9] == '2')
		return 0;
	clean = tp_utf8_clean(head, strlen(head));
	tp_fail(f, TP_PROXY_FAILED, "the proxy %s refused to connect to %s:%u: %s", px->url, host, port,
		clean && *clean ? clean : "(no HTTP status line)");
	free(clean);
	return -1;
}

/* SOCKS5 CONNECT (RFC 1928, and RFC 1929 for a user and password). */
static int
socks5_tunnel(int fd, const struct tp_proxy *px, const struct tp_target *t, const struct tp_config *cfg,
	      const char *host, unsigned port, const struct tp_deadline *d, struct tp_findings *f)
{
	static const char *const replies[] = {
		"succeeded",           "general failure",       "connection not allowed by its rules",
		"network unreachable", "host unreachable",      "connection refused",
		"TTL expired",         "command not supported", "address type not supported",
	};
	unsigned char msg[600], reply[4];
	size_t n = 0;

	msg[n++] = 5;
	msg[n++] = px->user ? 2 : 1;
	msg[n++] = 0;
	if (px->user)
		msg[n++] = 2;
	if (send_all(fd, msg, n, d) < 0 || recv_exact(fd, reply, 2, d) < 0)
		return proxy_io_failed(f, px, d, "answer the SOCKS5 greeting");
	if (reply[0] != 5 || (reply[1] != 0 && reply[1] != 2) || (reply[1] == 2 && !px->user)) {
		tp_fail(f, TP_PROXY_FAILED, "the proxy %s %s", px->url,
			reply[0] != 5 ? "does not speak SOCKS5" : "accepts none of the authentication methods offered");
		return -1;
	}
	if (reply[1] == 2) {
		size_t ul = strlen(px->user), pl = strlen(px->password);
		if (ul > 255 || pl > 255) {
			tp_fail(f, TP_PROXY_FAILED, "the user or password for the proxy %s is longer than 255 bytes",
				px->url);
			return -1;
		}
		n = 0;
		msg[n++] = 1;
		msg[n++] = (unsigned char)ul;
		memcpy(msg + n, px->user, ul);
		n += ul;
		msg[n++] = (unsigned char)pl;
		memcpy(msg + n, px->password, pl);
		n += pl;
		if (send_all(fd, msg, n, d) < 0 || recv_exact(fd, reply, 2, d) < 0)
			return proxy_io_failed(f, px, d, "answer the SOCKS5 login");
		if (reply[1] != 0) {
			tp_fail(f, TP_PROXY_FAILED, "the proxy %s refused the user and password", px->url);
			return -1;
		}
	}
	n = 0;
	msg[n++] = 5;
	msg[n++] = 1;
	msg[n++] = 0;
	if (px->kind == TP_PROXY_SOCKS5H && !t->host_is_ip && !t->connect_host) {
		size_t hl = strlen(host);
		if (hl > 255) {
			tp_fail(f, TP_PROXY_FAILED, "the host name is too long for SOCKS5");
			return -1;
		}
		msg[n++] = 3;
		msg[n++] = (unsigned char)hl;
		memcpy(msg + n, host, hl);
		n += hl;
	} else {
		/* socks5://: the name is resolved here, as curl does. */
		struct addrinfo *res = NULL;
		if (resolve(t, cfg, d, &res, f) < 0)
			return -1;
		if (res->ai_family == AF_INET6) {
			msg[n++] = 4;
			memcpy(msg + n, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
			n += 16;
		} else {
			msg[n++] = 1;
			memcpy(msg + n, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
			n += 4;
		}
		freeaddrinfo(res);
	}
	msg[n++] = (unsigned char)(port >> 8);
	msg[n++] = (unsigned char)port;
	if (send_all(fd, msg, n, d) < 0 || recv_exact(fd, reply, 4, d) < 0)
		return proxy_io_failed(f, px, d, "answer the SOCKS5 request");
	if (reply[0] != 5 || reply[1] != 0) {
		tp_fail(f, TP_PROXY_FAILED, "the proxy %s could not connect to %s:%u: %s", px->url, host, port,
			reply[0] != 5                                     ? "it does not speak SOCKS5"
			: reply[1] < sizeof(replies) / sizeof(replies[0]) ? replies[reply[1]]
									  : "an unknown error");
		return -1;
	}
	/* The address it bound, and its port: read and left. */
	size_t rest = reply[3] == 1 ? 4 : reply[3] == 4 ? 16 : 0;
	if (reply[3] == 3 && recv_exact(fd, reply, 1, d) == 0)
		rest = reply[0];
	if (recv_exact(fd, msg, rest + 2, d) < 0)
		return proxy_io_failed(f, px, d, "finish its SOCKS5 reply");
	return 0;
}

static int connect_direct(struct tp_net_info *out, const struct tp_target *t, const struct tp_config *cfg,
			  const struct tp_deadline *d, struct tp_findings *f);

/*
 * Through the proxy: connect to it as to any server, then ask it for a
 * tunnel to the target. A failure to reach the proxy names the proxy.
 */
static int
connect_via_proxy(struct tp_net_info *out, const struct tp_target *t, const struct tp_config *cfg,
		  const struct tp_deadline *d, struct tp_findings *f)
{
	const struct tp_proxy *px = &cfg->px;
	struct tp_target pt = {.host = (char *)px->host, .port = px->port};
	struct in6_addr a6;
	const char *host = t->connect_host ? t->connect_host : t->host;
	unsigned port = t->connect_host ? t->connect_port : t->port;
	int fd, ret;

	pt.host_is_ip = inet_pton(AF_INET6, px->host, &a6) == 1 || inet_pton(AF_INET, px->host, &a6) == 1;
	fd = connect_direct(out, &pt, cfg, d, f);
	if (fd < 0) {
		if (f->error && f->error->code != TP_TIMEOUT && f->error->code != TP_INTERNAL_ERROR)
			tp_problem_recode(f->error, TP_PROXY_FAILED);
		tp_problem_append(f->error, "that is the proxy %s", px->url);
		return -1;
	}
	double t0 = tp_now_ms();
	ret = px->kind == TP_PROXY_HTTP ? http_tunnel(fd, px, host, port, d, f)
					: socks5_tunnel(fd, px, t, cfg, host, port, d, f);
	out->proxy_ms = tp_now_ms() - t0;
	if (ret < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
tp_net_connect(struct tp_net_info *out, const struct tp_target *t, const struct tp_config *cfg,
	       const struct tp_deadline *d, struct tp_findings *f)
{
	if (cfg->px.kind != TP_PROXY_NONE && !bypass(cfg->px.no_proxy, t->connect_host ? t->connect_host : t->host)) {
		int fd = connect_via_proxy(out, t, cfg, d, f);
		out->via_proxy = true;
		return fd;
	}
	return connect_direct(out, t, cfg, d, f);
}

static int
connect_direct(struct tp_net_info *out, const struct tp_target *t, const struct tp_config *cfg,
	       const struct tp_deadline *d, struct tp_findings *f)
{
	struct addrinfo *res = NULL;
	double t0 = tp_now_ms(), t1;
	int fd = -1, err = 0;
	char last[64] = "";

	*out = (struct tp_net_info){.dns_ms = -1, .connect_ms = -1, .proxy_ms = -1};
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
