/*
 * starttls.c: the plain-text dialogue that comes before TLS on ports where
 * the connection starts in the clear (SMTP, IMAP, POP3, FTP, PostgreSQL),
 * bounded by the probe's deadline. Only the exchange needed to get to the
 * handshake: greeting, capabilities where they matter, the upgrade command.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "starttls.h"

#define LINE_MAX_BYTES 4096
/*
 * What one dialogue may take from the server before TLS. Real servers send
 * a few dozen lines (an SMTP EHLO reply, IMAP's untagged data); a server
 * that streams more is holding the probe, whatever the deadline says.
 */
#define MAX_LINES 1000
#define MAX_BYTES (256 * 1024)

struct dialogue {
	struct tp_findings *f;
	int fd;
	const struct tp_deadline *d;
	const char *proto;
	const char *awaiting; /* what the next line should bring, for messages */
	size_t lines, bytes;  /* received so far */
	char buf[LINE_MAX_BYTES];
	size_t len;
};

static int
send_all(struct dialogue *g, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = send(g->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = g->fd, .events = POLLOUT};
			if (poll(&pfd, 1, tp_deadline_left(g->d)) <= 0)
				goto timeout;
			continue;
		}
		if (n <= 0) {
			tp_fail(g->f, TP_STARTTLS_REFUSED, "%s: the connection broke while talking to the server",
				g->proto);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
timeout:
	tp_fail(g->f, TP_TIMEOUT, "%s: the server did not answer in time before TLS", g->proto);
	return -1;
}

/* The deadline passed: say what the server did until then. */
static void
timed_out(struct dialogue *g)
{
	if (g->bytes)
		tp_fail(g->f, TP_TIMEOUT,
			"%s: the server sent %zu line%s (%zu bytes) but not %s within the %.1f s timeout", g->proto,
			g->lines, g->lines == 1 ? "" : "s", g->bytes, g->awaiting, g->d->ms / 1000.0);
	else
		tp_fail(g->f, TP_TIMEOUT, "%s: the server said nothing within the %.1f s timeout", g->proto,
			g->d->ms / 1000.0);
}

/* Whether the server may go on: within the deadline and the budget. */
static bool
may_go_on(struct dialogue *g)
{
	if (g->lines >= MAX_LINES || g->bytes >= MAX_BYTES) {
		tp_fail(g->f, TP_STARTTLS_REFUSED, "%s: the server sent %zu lines (%zu bytes) without %s", g->proto,
			g->lines, g->bytes, g->awaiting);
		return false;
	}
	if (tp_deadline_left(g->d) == 0) {
		timed_out(g);
		return false;
	}
	return true;
}

/* One line into line (without CRLF); -1 on error (recorded). Every line
 * counts against the budget, and the deadline is checked before each wait:
 * a server that keeps sending never keeps the probe past either. */
static int
read_line(struct dialogue *g, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(g->buf, '\n', g->len);
		if (nl && may_go_on(g)) {
			g->lines++;
			size_t n = (size_t)(nl - g->buf);
			size_t copy = n < size - 1 ? n : size - 1;
			memcpy(line, g->buf, copy);
			line[copy] = '\0';
			if (copy && line[copy - 1] == '\r')
				line[copy - 1] = '\0';
			memmove(g->buf, nl + 1, g->len - n - 1);
			g->len -= n + 1;
			return 0;
		}
		if (nl || !may_go_on(g))
			return -1;
		if (g->len == sizeof(g->buf)) {
			tp_fail(g->f, TP_STARTTLS_REFUSED, "%s: the server sent a line longer than %d bytes", g->proto,
				LINE_MAX_BYTES);
			return -1;
		}
		struct pollfd pfd = {.fd = g->fd, .events = POLLIN};
		int ready = poll(&pfd, 1, tp_deadline_left(g->d));
		if (ready <= 0) {
			timed_out(g);
			return -1;
		}
		ssize_t n = recv(g->fd, g->buf + g->len, sizeof(g->buf) - g->len, 0);
		if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
			tp_fail(g->f, TP_STARTTLS_REFUSED, "%s: the server closed the connection before TLS", g->proto);
			return -1;
		}
		if (n > 0) {
			g->len += (size_t)n;
			g->bytes += (size_t)n;
		}
	}
}

TP_PRINTF(3, 4) static void refused(struct dialogue *g, const char *said, const char *fmt, ...);

/* A reply of SMTP or FTP: lines "NNN-..." then "NNN ..."; its code, or -1 (recorded). */
static int read_reply(struct dialogue *g, char *last, size_t size, bool *starttls_offered);

static void refused(struct dialogue *g, const char *said, const char *fmt, ...);

/* A reply of SMTP or FTP: lines "NNN-..." then "NNN ..."; its code, or -1 (recorded). */
static int
read_reply(struct dialogue *g, char *last, size_t size, bool *starttls_offered)
{
	char line[LINE_MAX_BYTES];

	for (;;) {
		if (read_line(g, line, sizeof(line)) < 0)
			return -1;
		if (starttls_offered && strlen(line) >= 12 && strncasecmp(line + 4, "STARTTLS", 8) == 0)
			*starttls_offered = true;
		if (strlen(line) >= 4 && line[3] == '-')
			continue;
		snprintf(last, size, "%s", line);
		if (strlen(line) < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
		    !isdigit((unsigned char)line[2])) {
			refused(g, line, "its reply does not start with a three-digit code");
			return -1;
		}
		return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	}
}

static void
refused(struct dialogue *g, const char *said, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	char *clean = tp_utf8_clean(said, strlen(said));

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	tp_fail(g->f, TP_STARTTLS_REFUSED, "%s: %s (the server said \"%.120s\")", g->proto, what, clean ? clean : "");
	free(clean);
}

/* Send cmd (NULL: none) and expect a reply with code want. */
static int
exchange(struct dialogue *g, const char *cmd, int want, const char *what, bool *starttls_offered)
{
	char last[LINE_MAX_BYTES];
	int code;

	if (cmd && send_all(g, cmd, strlen(cmd)) < 0)
		return -1;
	if ((code = read_reply(g, last, sizeof(last), starttls_offered)) < 0)
		return -1;
	if (code != want) {
		refused(g, last, "%s", what);
		return -1;
	}
	return 0;
}

static int
smtp(struct dialogue *g)
{
	char last[LINE_MAX_BYTES];
	bool offered = false;
	int code;

	if (exchange(g, NULL, 220, "the greeting is not 220", NULL) < 0)
		return -1;
	g->awaiting = "the end of its answer to EHLO";
	if (send_all(g, "EHLO tlsprobe.invalid\r\n", 23) < 0 ||
	    (code = read_reply(g, last, sizeof(last), &offered)) < 0)
		return -1;
	if (code != 250) {
		refused(g, last, "EHLO was refused");
		return -1;
	}
	if (!offered) {
		refused(g, last, "the server does not offer STARTTLS");
		return -1;
	}
	g->awaiting = "its answer to STARTTLS";
	return exchange(g, "STARTTLS\r\n", 220, "STARTTLS was refused", NULL);
}

static int
ftp(struct dialogue *g)
{
	if (exchange(g, NULL, 220, "the greeting is not 220", NULL) < 0)
		return -1;
	g->awaiting = "its answer to AUTH TLS";
	return exchange(g, "AUTH TLS\r\n", 234, "AUTH TLS was refused", NULL);
}

static int
imap(struct dialogue *g)
{
	char line[LINE_MAX_BYTES];

	if (read_line(g, line, sizeof(line)) < 0)
		return -1;
	if (strncasecmp(line, "* OK", 4) != 0) {
		refused(g, line, "the greeting is not * OK");
		return -1;
	}
	g->awaiting = "the tagged answer to STARTTLS (a1)";
	if (send_all(g, "a1 STARTTLS\r\n", 13) < 0)
		return -1;
	do
		if (read_line(g, line, sizeof(line)) < 0)
			return -1;
	while (strncmp(line, "a1 ", 3) != 0);
	if (strncasecmp(line, "a1 OK", 5) != 0) {
		refused(g, line, "STARTTLS was refused");
		return -1;
	}
	return 0;
}

static int
pop3(struct dialogue *g)
{
	char line[LINE_MAX_BYTES];

	if (read_line(g, line, sizeof(line)) < 0)
		return -1;
	if (strncmp(line, "+OK", 3) != 0) {
		refused(g, line, "the greeting is not +OK");
		return -1;
	}
	g->awaiting = "its answer to STLS";
	if (send_all(g, "STLS\r\n", 6) < 0 || read_line(g, line, sizeof(line)) < 0)
		return -1;
	if (strncmp(line, "+OK", 3) != 0) {
		refused(g, line, "STLS was refused");
		return -1;
	}
	return 0;
}

static int
postgres(struct dialogue *g)
{
	/* SSLRequest: length 8, then the code 80877103 (1234 << 16 | 5679). */
	static const unsigned char request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	unsigned char answer;
	struct pollfd pfd = {.fd = g->fd, .events = POLLIN};

	if (send_all(g, request, sizeof(request)) < 0)
		return -1;
	if (poll(&pfd, 1, tp_deadline_left(g->d)) <= 0) {
		tp_fail(g->f, TP_TIMEOUT, "postgres: no answer to the SSL request within the timeout");
		return -1;
	}
	if (recv(g->fd, &answer, 1, 0) != 1) {
		tp_fail(g->f, TP_STARTTLS_REFUSED, "postgres: the server closed the connection");
		return -1;
	}
	if (answer != 'S') {
		tp_fail(g->f, TP_STARTTLS_REFUSED,
			"postgres: the server does not accept TLS (it answered '%c' to the SSL request)",
			answer >= 0x20 && answer < 0x7f ? answer : '?');
		return -1;
	}
	return 0;
}

int
tp_starttls(struct tp_findings *f, int fd, const char *proto, const struct tp_deadline *d)
{
	/* The protocols and their ports are target.c's (tp_starttls_port). */
	static const struct {
		const char *name;
		int (*talk)(struct dialogue *g);
	} dialogues[] = {
		{"ftp", ftp}, {"imap", imap}, {"pop3", pop3}, {"postgres", postgres}, {"smtp", smtp},
	};
	struct dialogue g = {.f = f, .fd = fd, .d = d, .proto = proto, .awaiting = "its greeting"};

	for (size_t i = 0; i < sizeof(dialogues) / sizeof(*dialogues); i++)
		if (strcmp(proto, dialogues[i].name) == 0)
			return dialogues[i].talk(&g);
	tp_fail(f, TP_INTERNAL_ERROR, "unknown STARTTLS protocol '%s'", proto);
	return -1;
}
