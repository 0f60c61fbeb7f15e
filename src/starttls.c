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
	const char *name; /* the server's name: XMPP's stream is to it */
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

/*
 * Wait for the server within the deadline and receive what it sent into
 * buf (room bytes): how many, 0 when it would block, or -1 (recorded: the
 * deadline passed, or the server closed the connection).
 */
static ssize_t
receive(struct dialogue *g, char *buf, size_t room)
{
	struct pollfd pfd = {.fd = g->fd, .events = POLLIN};
	ssize_t n;

	if (poll(&pfd, 1, tp_deadline_left(g->d)) <= 0) {
		timed_out(g);
		return -1;
	}
	n = recv(g->fd, buf, room, 0);
	if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
		tp_fail(g->f, TP_STARTTLS_REFUSED, "%s: the server closed the connection before TLS", g->proto);
		return -1;
	}
	if (n > 0)
		g->bytes += (size_t)n;
	return n > 0 ? n : 0;
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
		ssize_t n = receive(g, g->buf + g->len, sizeof(g->buf) - g->len);
		if (n < 0)
			return -1;
		g->len += (size_t)n;
	}
}

TP_PRINTF(3, 4) static void refused(struct dialogue *g, const char *said, const char *fmt, ...);

static void refused(struct dialogue *g, const char *said, const char *fmt, ...);

/* What an EHLO answer offers: whether STARTTLS is among it, and the
 * keywords of its lines after the first (for a message when it is not). */
struct offers {
	bool starttls;
	char words[256];
	size_t lines;
};

/* A reply of SMTP or FTP: lines "NNN-..." then "NNN ..."; its code, or -1 (recorded). */
static int
read_reply(struct dialogue *g, char *last, size_t size, struct offers *o)
{
	char line[LINE_MAX_BYTES];

	for (;;) {
		if (read_line(g, line, sizeof(line)) < 0)
			return -1;
		if (o && strlen(line) >= 12 && strncasecmp(line + 4, "STARTTLS", 8) == 0)
			o->starttls = true;
		if (o && o->lines++ && strlen(line) > 4) {
			size_t used = strlen(o->words), n = strcspn(line + 4, " ");
			snprintf(o->words + used, sizeof(o->words) - used, "%s%.*s", used ? ", " : "", (int)n,
				 line + 4);
		}
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
	char what[512];
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
exchange(struct dialogue *g, const char *cmd, int want, const char *what)
{
	char last[LINE_MAX_BYTES];
	int code;

	if (cmd && send_all(g, cmd, strlen(cmd)) < 0)
		return -1;
	if ((code = read_reply(g, last, sizeof(last), NULL)) < 0)
		return -1;
	if (code != want) {
		refused(g, last, "%s", what);
		return -1;
	}
	return 0;
}

/* Send cmd and expect one line that starts with ok (in any case). */
static int
command_ok(struct dialogue *g, const char *cmd, const char *ok, const char *what)
{
	char line[LINE_MAX_BYTES];

	if (send_all(g, cmd, strlen(cmd)) < 0 || read_line(g, line, sizeof(line)) < 0)
		return -1;
	if (strncasecmp(line, ok, strlen(ok)) != 0) {
		refused(g, line, "%s", what);
		return -1;
	}
	return 0;
}

/* SMTP, and LMTP (RFC 2033) that greets the same way but says LHLO. */
static int
smtp_like(struct dialogue *g, const char *hello)
{
	char last[LINE_MAX_BYTES], cmd[64];
	struct offers offered = {0};
	int code;

	if (exchange(g, NULL, 220, "the greeting is not 220") < 0)
		return -1;
	g->awaiting = strcmp(hello, "LHLO") == 0 ? "the end of its answer to LHLO" : "the end of its answer to EHLO";
	snprintf(cmd, sizeof(cmd), "%s tlsprobe.invalid\r\n", hello);
	if (send_all(g, cmd, strlen(cmd)) < 0 || (code = read_reply(g, last, sizeof(last), &offered)) < 0)
		return -1;
	if (code != 250) {
		refused(g, last, "%s was refused", hello);
		return -1;
	}
	if (!offered.starttls) {
		if (offered.words[0])
			refused(g, last, "the server does not offer STARTTLS (its answer to %s lists %s)", hello,
				offered.words);
		else
			refused(g, last, "the server does not offer STARTTLS");
		return -1;
	}
	g->awaiting = "its answer to STARTTLS";
	return exchange(g, "STARTTLS\r\n", 220, "STARTTLS was refused");
}

static int
smtp(struct dialogue *g)
{
	return smtp_like(g, "EHLO");
}

static int
lmtp(struct dialogue *g)
{
	return smtp_like(g, "LHLO");
}

/* NNTP (RFC 4642): a 200 or 201 greeting, STARTTLS, 382. */
static int
nntp(struct dialogue *g)
{
	char last[LINE_MAX_BYTES];
	int code = read_reply(g, last, sizeof(last), NULL);

	if (code < 0)
		return -1;
	if (code != 200 && code != 201) {
		refused(g, last, "the greeting is not 200 or 201");
		return -1;
	}
	g->awaiting = "its answer to STARTTLS";
	return exchange(g, "STARTTLS\r\n", 382, "STARTTLS was refused");
}

/* ManageSieve (RFC 5804): capability lines up to OK, then STARTTLS, OK. */
static int
sieve(struct dialogue *g)
{
	char line[LINE_MAX_BYTES];
	bool offered = false;

	do {
		if (read_line(g, line, sizeof(line)) < 0)
			return -1;
		offered = offered || strncasecmp(line, "\"STARTTLS\"", 10) == 0;
	} while (line[0] == '"');
	if (strncasecmp(line, "OK", 2) != 0) {
		refused(g, line, "the greeting does not end with OK");
		return -1;
	}
	if (!offered) {
		refused(g, line, "the server does not offer STARTTLS");
		return -1;
	}
	g->awaiting = "its answer to STARTTLS";
	return command_ok(g, "STARTTLS\r\n", "OK", "STARTTLS was refused");
}

/* IRC's STARTTLS: the numeric 670 goes ahead, 691 (or any error numeric) does not. */
static int
irc(struct dialogue *g)
{
	char line[LINE_MAX_BYTES];

	g->awaiting = "the answer to STARTTLS (670)";
	if (send_all(g, "STARTTLS\r\n", 10) < 0)
		return -1;
	for (;;) {
		const char *num;
		if (read_line(g, line, sizeof(line)) < 0)
			return -1;
		/* ":server NNN target :text", or a NOTICE before it */
		num = line[0] == ':' ? strchr(line, ' ') : NULL;
		if (!num || strlen(num) < 5 || !isdigit((unsigned char)num[1]) || num[4] != ' ')
			continue;
		if (strncmp(num + 1, "670", 3) == 0)
			return 0;
		if (num[1] >= '4' || strncmp(num + 1, "691", 3) == 0) {
			refused(g, line, "STARTTLS was refused");
			return -1;
		}
	}
}

/*
 * Read until one of the markers comes (bounded like lines): 0 for the first,
 * 1 for the second, -1 (recorded) otherwise. The buffer keeps only a tail,
 * enough for a marker that arrives in pieces.
 */
static int
read_until(struct dialogue *g, const char *want, const char *instead)
{
	for (;;) {
		g->buf[g->len < sizeof(g->buf) ? g->len : sizeof(g->buf) - 1] = '\0';
		if (strstr(g->buf, want))
			return 0;
		if (instead && strstr(g->buf, instead))
			return 1;
		if (!may_go_on(g))
			return -1;
		if (g->len > sizeof(g->buf) / 2) {
			memmove(g->buf, g->buf + g->len - 256, 256);
			g->len = 256;
		}
		ssize_t n = receive(g, g->buf + g->len, sizeof(g->buf) - 1 - g->len);
		if (n < 0)
			return -1;
		g->len += (size_t)n;
		g->lines += n > 0; /* a read counts as a line against the budget */
	}
}

/* XMPP (RFC 6120 5.4): open a stream to the name, find <starttls/> among the features, <proceed/>. */
static int
xmpp_like(struct dialogue *g, const char *ns)
{
	char open[600];
	int ret;

	snprintf(open, sizeof(open),
		 "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
		 "xmlns='%s' to='%.253s' version='1.0'>",
		 ns, g->name ? g->name : "");
	if (send_all(g, open, strlen(open)) < 0)
		return -1;
	g->awaiting = "<starttls/> among its stream features";
	if ((ret = read_until(g, "<starttls", "</stream:features>")) != 0) {
		if (ret > 0)
			refused(g, "", "the server does not offer STARTTLS in its stream features");
		return -1;
	}
	g->len = 0;
	g->awaiting = "<proceed/>";
	if (send_all(g, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", 51) < 0)
		return -1;
	if ((ret = read_until(g, "<proceed", "<failure")) != 0) {
		if (ret > 0)
			refused(g, "<failure/>", "STARTTLS was refused");
		return -1;
	}
	return 0;
}

static int
xmpp(struct dialogue *g)
{
	return xmpp_like(g, "jabber:client");
}

static int
xmpp_server(struct dialogue *g)
{
	return xmpp_like(g, "jabber:server");
}

/* Exactly n bytes: what read_line has buffered first, then the socket. */
static int
read_bytes(struct dialogue *g, unsigned char *out, size_t n)
{
	while (n) {
		if (g->len) {
			size_t k = g->len < n ? g->len : n;
			memcpy(out, g->buf, k);
			memmove(g->buf, g->buf + k, g->len - k);
			g->len -= k;
			out += k;
			n -= k;
			continue;
		}
		if (!may_go_on(g))
			return -1;
		ssize_t k = receive(g, g->buf, sizeof(g->buf));
		if (k < 0)
			return -1;
		g->len = (size_t)k;
		g->lines += k > 0;
	}
	return 0;
}

/*
 * LDAP (RFC 4511 4.14): the StartTLS extended request, and its response's
 * resultCode. The response is read as BER only as far as that.
 */
static int
ldap(struct dialogue *g)
{
	static const unsigned char request[] = {
		0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16, '1', '.', '3', '.', '6', '.', '1',
		'.',  '4',  '.',  '1',  '.',  '1',  '4',  '6',  '6',  '.', '2', '0', '0', '3', '7',
	};
	unsigned char head[2], body[512];
	size_t len;

	g->awaiting = "the StartTLS response";
	if (send_all(g, request, sizeof(request)) < 0 || read_bytes(g, head, 2) < 0)
		return -1;
	if (head[0] != 0x30) {
		tp_fail(g->f, TP_STARTTLS_REFUSED, "ldap: the server's answer is not an LDAP message");
		return -1;
	}
	len = head[1];
	if (len & 0x80) {
		unsigned char l[4];
		size_t nl = len & 0x7f;
		if (nl == 0 || nl > 2 || read_bytes(g, l, nl) < 0) {
			if (nl == 0 || nl > 2)
				tp_fail(g->f, TP_STARTTLS_REFUSED,
					"ldap: the server's answer is not a StartTLS response");
			return -1;
		}
		len = nl == 1 ? l[0] : (size_t)l[0] << 8 | l[1];
	}
	if (len > sizeof(body) || read_bytes(g, body, len) < 0) {
		if (len > sizeof(body))
			tp_fail(g->f, TP_STARTTLS_REFUSED,
				"ldap: the server's answer is too long for a StartTLS response");
		return -1;
	}
	/* messageID (02 01 01), then [APPLICATION 24] ExtendedResponse (78 LL) holding resultCode (0a 01 RC). */
	for (size_t i = 0; i + 4 < len; i++)
		if (body[i] == 0x78 && body[i + 2] == 0x0a && body[i + 3] == 0x01) {
			if (body[i + 4] == 0)
				return 0;
			tp_fail(g->f, TP_STARTTLS_REFUSED, "ldap: the server refused StartTLS (resultCode %u%s)",
				body[i + 4], body[i + 4] == 2 ? ", protocolError: it does not support StartTLS" : "");
			return -1;
		}
	tp_fail(g->f, TP_STARTTLS_REFUSED, "ldap: the server's answer is not a StartTLS response");
	return -1;
}

/*
 * MySQL and MariaDB: the server's initial handshake packet must say
 * CLIENT_SSL; the client answers with an SSLRequest packet, then TLS.
 */
static int
mysql(struct dialogue *g)
{
	enum { CLIENT_SSL = 0x800, CLIENT_PROTOCOL_41 = 0x200, CLIENT_SECURE_CONNECTION = 0x8000 };
	unsigned char head[4], pkt[1024], req[36] = {0};
	size_t len, i;
	unsigned caps;

	g->awaiting = "the server's handshake packet";
	if (read_bytes(g, head, 4) < 0)
		return -1;
	len = head[0] | (size_t)head[1] << 8 | (size_t)head[2] << 16;
	if (len > sizeof(pkt) || len < 2) {
		tp_fail(g->f, TP_STARTTLS_REFUSED, "mysql: the server's first packet is not a handshake");
		return -1;
	}
	if (read_bytes(g, pkt, len) < 0)
		return -1;
	if (pkt[0] == 0xff) {
		char *clean = tp_utf8_clean((const char *)pkt + 3, len > 3 ? len - 3 : 0);
		tp_fail(g->f, TP_STARTTLS_REFUSED, "mysql: the server refused the connection: %.200s",
			clean ? clean : "");
		free(clean);
		return -1;
	}
	/* protocol version 10, the version string, thread id, scramble, filler, capabilities (low 16 bits) */
	for (i = 1; i < len && pkt[i]; i++)
		;
	i += 1 + 4 + 8 + 1;
	if (pkt[0] != 10 || i + 2 > len) {
		tp_fail(g->f, TP_STARTTLS_REFUSED, "mysql: the server's first packet is not a protocol 10 handshake");
		return -1;
	}
	caps = pkt[i] | (unsigned)pkt[i + 1] << 8;
	if (!(caps & CLIENT_SSL)) {
		tp_fail(g->f, TP_STARTTLS_REFUSED, "mysql: the server does not offer TLS (no CLIENT_SSL capability)");
		return -1;
	}
	/* SSLRequest: length 32, sequence 1; capabilities, max packet, charset utf8mb4, 23 zero bytes. */
	req[0] = 32;
	req[3] = 1;
	caps = CLIENT_SSL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION;
	req[4] = (unsigned char)caps;
	req[5] = (unsigned char)(caps >> 8);
	req[10] = 1; /* max packet 16 MiB */
	req[12] = 45;
	return send_all(g, req, sizeof(req));
}

static int
ftp(struct dialogue *g)
{
	if (exchange(g, NULL, 220, "the greeting is not 220") < 0)
		return -1;
	g->awaiting = "its answer to AUTH TLS";
	return exchange(g, "AUTH TLS\r\n", 234, "AUTH TLS was refused");
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
	return command_ok(g, "STLS\r\n", "+OK", "STLS was refused");
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
tp_starttls(struct tp_findings *f, int fd, const char *proto, const char *name, const struct tp_deadline *d)
{
	/* The protocols and their ports are target.c's (tp_starttls_port). */
	static const struct {
		const char *name;
		int (*talk)(struct dialogue *g);
	} dialogues[] = {
		{"ftp", ftp},
		{"imap", imap},
		{"irc", irc},
		{"ldap", ldap},
		{"lmtp", lmtp},
		{"mysql", mysql},
		{"nntp", nntp},
		{"pop3", pop3},
		{"postgres", postgres},
		{"sieve", sieve},
		{"smtp", smtp},
		{"xmpp", xmpp},
		{"xmpp-server", xmpp_server},
	};
	struct dialogue g = {.f = f, .fd = fd, .name = name, .d = d, .proto = proto, .awaiting = "its greeting"};

	for (size_t i = 0; i < sizeof(dialogues) / sizeof(*dialogues); i++)
		if (strcmp(proto, dialogues[i].name) == 0)
			return dialogues[i].talk(&g);
	tp_fail(f, TP_INTERNAL_ERROR, "unknown STARTTLS protocol '%s'", proto);
	return -1;
}
