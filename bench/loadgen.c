/*
 * loadgen.c: TLS handshake load generator for bench/serve (not part of the
 * build; bench/serve compiles it into a temporary directory).
 *
 *   loadgen -p PORT [-H 127.0.0.1] [-n localhost] [-c 32] [-d 10] [-t 1]
 *           [-r] [-P PRIORITY] [-s PID,PID...] [-o FILE]
 *
 * Keeps C connections busy for D seconds; each one: non-blocking connect
 * (TCP_NODELAY), a full TLS handshake with a fresh GnuTLS session (no
 * session data is ever reused, and GNUTLS_NO_TICKETS keeps servers from
 * issuing TLS 1.3 tickets), with -r a "GET / HTTP/1.1" request and the whole
 * response, then close_notify and close; then again.  No certificate
 * verification (the client's CPU goes to the handshake alone).  One epoll
 * loop per thread (-t), the connections shared out between threads.
 *
 * Prints one line of key=value pairs:
 *   handshakes (completed within the D seconds), rate (per second),
 *   p50_ms p90_ms p99_ms max_ms (connect() to handshake done), req_p50_ms
 *   req_p99_ms (with -r: connect() to the end of the response), errors,
 *   resumed (must be 0), cpu_s (this process, user+system), server_cpu_s
 *   (user+system of the -s PIDs over the same window, from /proc/PID/stat),
 *   session (what the first handshake negotiated), first_error.
 * With -o FILE, also appends every handshake latency (ms, one per line) to
 * FILE, so that runs can be merged.
 * Exit status 0, or 1 when nothing completed, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIDS 16
#define RESP_MAX 65536

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

enum state { CONNECTING, HANDSHAKE, SENDING, READING, IDLE };

struct conn {
	int fd;
	gnutls_session_t s;
	enum state state;
	double t0, t_hs;
	size_t sent, got, want; /* want: header + Content-Length, 0 unknown */
	char *buf;
};

struct samples {
	double *v;
	size_t n, cap;
};

struct worker {
	pthread_t th;
	int nconn;
	struct samples hs, req;
	unsigned long errors, resumed;
	char first_error[200];
	char session[200];
};

static struct sockaddr_in addr;
static const char *sni = "localhost";
static const char *priority = "NORMAL:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1";
static gnutls_certificate_credentials_t cred;
static gnutls_priority_t prio;
static int http;
static double t_end;

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
add(struct samples *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		double *nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

static void
fail(struct worker *w, const char *what, const char *why)
{
	w->errors++;
	if (!w->first_error[0])
		snprintf(w->first_error, sizeof(w->first_error), "%s: %s", what, why);
}

static void
conn_reset(struct conn *c)
{
	if (c->s)
		gnutls_deinit(c->s);
	if (c->fd >= 0)
		close(c->fd);
	c->s = NULL;
	c->fd = -1;
	c->state = IDLE;
}

/* Start a new connection in slot c; 0 on success. */
static int
conn_start(struct worker *w, int ep, struct conn *c)
{
	int one = 1;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};

	c->t0 = now();
	c->sent = c->got = c->want = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(w, "socket", strerror(errno));
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) {
		fail(w, "connect", strerror(errno));
		conn_reset(c);
		return -1;
	}
	if (gnutls_init(&c->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS) < 0) {
		fail(w, "gnutls_init", "failed");
		conn_reset(c);
		return -1;
	}
	gnutls_priority_set(c->s, prio);
	gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, sni, strlen(sni));
	gnutls_transport_set_int(c->s, c->fd);
	c->state = CONNECTING;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		fail(w, "epoll_ctl", strerror(errno));
		conn_reset(c);
		return -1;
	}
	return 0;
}

static void
want(int ep, struct conn *c, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static unsigned
tls_dir(struct conn *c)
{
	return gnutls_record_get_direction(c->s) ? EPOLLOUT : EPOLLIN;
}

/* Find "Content-Length" in the headers once they are complete. */
static void
parse_length(struct conn *c)
{
	char *end = memmem(c->buf, c->got, "\r\n\r\n", 4);
	if (!end)
		return;
	size_t hlen = (size_t)(end - c->buf) + 4;
	for (char *p = c->buf; p < end; p++) {
		if ((p == c->buf || p[-1] == '\n') && (size_t)(end - p) > 15 &&
		    strncasecmp(p, "content-length:", 15) == 0) {
			c->want = hlen + strtoul(p + 15, NULL, 10);
			return;
		}
	}
	c->want = (size_t)-1; /* read to the end */
}

/* Finish the connection: close_notify (best effort) and close. */
static void
conn_done(struct worker *w, struct conn *c, double t)
{
	if (t <= t_end) {
		add(&w->hs, (c->t_hs - c->t0) * 1000.0);
		if (http)
			add(&w->req, (t - c->t0) * 1000.0);
	}
	gnutls_bye(c->s, GNUTLS_SHUT_WR);
	conn_reset(c);
}

/* Advance c after an event; -1 when it failed (slot is reset). */
static int
advance(struct worker *w, int ep, struct conn *c)
{
	int ret, err;
	socklen_t len = sizeof(err);
	ssize_t n;

	for (;;) {
		switch (c->state) {
		case CONNECTING:
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
				fail(w, "connect", strerror(err ? err : errno));
				conn_reset(c);
				return -1;
			}
			c->state = HANDSHAKE;
			break;
		case HANDSHAKE:
			ret = gnutls_handshake(c->s);
			if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
				want(ep, c, tls_dir(c));
				return 0;
			}
			if (ret < 0) {
				if (!gnutls_error_is_fatal(ret))
					break;
				fail(w, "handshake", gnutls_strerror(ret));
				conn_reset(c);
				return -1;
			}
			c->t_hs = now();
			if (gnutls_session_is_resumed(c->s))
				w->resumed++;
			if (!w->session[0]) {
				char *d = gnutls_session_get_desc(c->s);
				snprintf(w->session, sizeof(w->session), "%s", d ? d : "?");
				gnutls_free(d);
			}
			if (!http) {
				conn_done(w, c, c->t_hs);
				return 0;
			}
			c->state = SENDING;
			break;
		case SENDING:
			n = gnutls_record_send(c->s, REQUEST + c->sent, sizeof(REQUEST) - 1 - c->sent);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
				want(ep, c, EPOLLOUT);
				return 0;
			}
			if (n < 0) {
				fail(w, "send", gnutls_strerror((int)n));
				conn_reset(c);
				return -1;
			}
			c->sent += (size_t)n;
			if (c->sent == sizeof(REQUEST) - 1)
				c->state = READING;
			break;
		case READING:
			if (c->got == RESP_MAX)
				c->got = 0; /* only the length matters past the headers */
			n = gnutls_record_recv(c->s, c->buf + c->got, RESP_MAX - c->got);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
				want(ep, c, EPOLLIN);
				return 0;
			}
			if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION ||
			    (n == GNUTLS_E_PULL_ERROR && c->want == (size_t)-1)) {
				if (c->want && c->want != (size_t)-1 && c->got < c->want) {
					fail(w, "response", "connection closed before the end of the response");
					conn_reset(c);
					return -1;
				}
				if (!c->want && !c->got) {
					fail(w, "response", "connection closed without a response");
					conn_reset(c);
					return -1;
				}
				conn_done(w, c, now());
				return 0;
			}
			if (n < 0) {
				if (!gnutls_error_is_fatal((int)n))
					break;
				fail(w, "recv", gnutls_strerror((int)n));
				conn_reset(c);
				return -1;
			}
			c->got += (size_t)n;
			if (!c->want)
				parse_length(c);
			if (c->want && c->want != (size_t)-1 && c->got >= c->want) {
				conn_done(w, c, now());
				return 0;
			}
			break;
		case IDLE: return 0;
		}
	}
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	struct conn *conns = calloc((size_t)w->nconn, sizeof(*conns));
	struct epoll_event evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (!conns || ep < 0) {
		fail(w, "setup", "out of memory or epoll");
		return NULL;
	}
	for (int i = 0; i < w->nconn; i++) {
		conns[i].fd = -1;
		conns[i].state = IDLE;
		if (http && !(conns[i].buf = malloc(RESP_MAX))) {
			fail(w, "setup", "out of memory");
			return NULL;
		}
		conn_start(w, ep, &conns[i]);
	}
	while (now() < t_end) {
		int n = epoll_wait(ep, evs, 256, 50);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			advance(w, ep, c);
		}
		/* Refill every idle slot (finished or failed) while time is left;
		 * a connection can finish without waiting, so keep going until
		 * the slot waits for I/O (or fails: retried after the next wait). */
		for (int i = 0; i < w->nconn; i++) {
			while (conns[i].state == IDLE && now() < t_end) {
				if (conn_start(w, ep, &conns[i]) < 0 || advance(w, ep, &conns[i]) < 0)
					break;
			}
		}
	}
	for (int i = 0; i < w->nconn; i++) {
		conn_reset(&conns[i]);
		free(conns[i].buf);
	}
	free(conns);
	close(ep);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
pct(const struct samples *s, double p)
{
	if (!s->n)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
	return s->v[i < s->n ? i : s->n - 1];
}

static double
self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of the processes, in seconds; -1 if one is gone. */
static double
pids_cpu(const int *pids, int n)
{
	double total = 0, tick = (double)sysconf(_SC_CLK_TCK);

	for (int i = 0; i < n; i++) {
		char path[64], buf[1024];
		unsigned long ut, st;
		snprintf(path, sizeof(path), "/proc/%d/stat", pids[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			return -1;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		/* the command may hold spaces and parentheses: fields start after the last ')' */
		char *p = strrchr(buf, ')');
		if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
			return -1;
		total += (double)(ut + st) / tick;
	}
	return total;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -p PORT [-H ADDR] [-n SNI] [-c CONNS] [-d SECONDS] [-t THREADS] [-r] "
			"[-P PRIORITY] [-s PID,PID...] [-o FILE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int port = 0, conc = 32, threads = 1, opt, pids[MAX_PIDS], npids = 0, ret;
	double duration = 10;
	const char *host = "127.0.0.1", *samples_file = NULL;

	while ((opt = getopt(argc, argv, "p:H:n:c:d:t:rP:s:o:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'H': host = optarg; break;
		case 'n': sni = optarg; break;
		case 'c': conc = atoi(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'r': http = 1; break;
		case 'P': priority = optarg; break;
		case 'o': samples_file = optarg; break;
		case 's':
			for (char *tok = strtok(optarg, ","); tok && npids < MAX_PIDS; tok = strtok(NULL, ","))
				pids[npids++] = atoi(tok);
			break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535 || conc < 1 || threads < 1 || threads > conc || duration <= 0)
		usage();
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		fprintf(stderr, "loadgen: -H wants an IPv4 address, got '%s'\n", host);
		return 2;
	}
	if (gnutls_global_init() < 0 || gnutls_certificate_allocate_credentials(&cred) < 0) {
		fprintf(stderr, "loadgen: cannot initialise GnuTLS\n");
		return 2;
	}
	if ((ret = gnutls_priority_init(&prio, priority, NULL)) < 0) {
		fprintf(stderr, "loadgen: bad priority string '%s': %s\n", priority, gnutls_strerror(ret));
		return 2;
	}

	struct worker *ws = calloc((size_t)threads, sizeof(*ws));
	if (!ws)
		return 2;
	double cpu0 = self_cpu(), srv0 = npids ? pids_cpu(pids, npids) : 0, t0 = now();
	t_end = t0 + duration;
	for (int i = 0; i < threads; i++) {
		ws[i].nconn = conc / threads + (i < conc % threads);
		if (pthread_create(&ws[i].th, NULL, run, &ws[i]) != 0) {
			fprintf(stderr, "loadgen: cannot start threads\n");
			return 2;
		}
	}
	for (int i = 0; i < threads; i++)
		pthread_join(ws[i].th, NULL);
	double cpu = self_cpu() - cpu0;
	double srv = npids ? pids_cpu(pids, npids) - srv0 : 0;

	struct samples hs = {0}, req = {0};
	unsigned long errors = 0, resumed = 0;
	const char *first_error = "", *session = "";
	for (int i = 0; i < threads; i++) {
		for (size_t k = 0; k < ws[i].hs.n; k++)
			add(&hs, ws[i].hs.v[k]);
		for (size_t k = 0; k < ws[i].req.n; k++)
			add(&req, ws[i].req.v[k]);
		errors += ws[i].errors;
		resumed += ws[i].resumed;
		if (!*first_error && ws[i].first_error[0])
			first_error = ws[i].first_error;
		if (!*session && ws[i].session[0])
			session = ws[i].session;
	}
	if (samples_file) {
		FILE *f = fopen(samples_file, "a");
		if (!f) {
			fprintf(stderr, "loadgen: cannot write %s\n", samples_file);
			return 2;
		}
		for (size_t k = 0; k < hs.n; k++)
			fprintf(f, "%.3f\n", hs.v[k]);
		fclose(f);
	}
	qsort(hs.v, hs.n, sizeof(double), cmp);
	qsort(req.v, req.n, sizeof(double), cmp);
	printf("handshakes=%zu seconds=%.3f rate=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
	       "req_p50_ms=%.2f req_p99_ms=%.2f errors=%lu resumed=%lu cpu_s=%.3f server_cpu_s=%.3f "
	       "session=%s first_error=%s\n",
	       hs.n, duration, hs.n / duration, pct(&hs, 50), pct(&hs, 90), pct(&hs, 99), hs.n ? hs.v[hs.n - 1] : 0,
	       pct(&req, 50), pct(&req, 99), errors, resumed, cpu, npids && srv0 >= 0 ? srv : -1.0,
	       *session ? session : "-", *first_error ? first_error : "-");
	return hs.n ? 0 : 1;
}
