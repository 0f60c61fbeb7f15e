/*
 * target.c: what the user typed as a target, taken apart into host and
 * port: host, host:port, [v6]:port, a bare IPv6 address, https://host/...
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsprobe.h"
#include "util.h"

#define DEFAULT_PORT 443
/* The longest DNS name, as text without the final dot; GnuTLS refuses to
 * send a longer one as SNI. */
#define MAX_NAME 253

static int
parse_port(const char *s, size_t len, uint16_t *port, char *err, size_t errlen)
{
	unsigned long v = 0;

	if (len == 0)
		return tp_err(err, errlen, "missing port after ':'; give a port number from 1 to 65535");
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]) || v > 65535)
			return tp_err(err, errlen, "invalid port '%.*s': give a number from 1 to 65535", (int)len, s);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return tp_err(err, errlen, "invalid port '%.*s': give a number from 1 to 65535", (int)len, s);
	*port = (uint16_t)v;
	return 0;
}

static bool
is_ipv6(const char *s)
{
	struct in6_addr a;
	char buf[INET6_ADDRSTRLEN + 1];
	const char *pct = strchr(s, '%'); /* a zone id, fe80::1%eth0 */
	size_t len = pct ? (size_t)(pct - s) : strlen(s);

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/*
 * An internationalised name ("bücher.example") in the ASCII form DNS, SNI
 * and certificates use ("xn--bcher-kva.example"), in place. A name that is
 * ASCII already is left alone. Returns 0, or -1 with err set.
 */
static int
idna_ascii(char **name, const char *what, char *err, size_t errlen)
{
	gnutls_datum_t out = {NULL, 0};
	bool ascii = true;
	char *copy;
	int ret;

	for (const char *p = *name; *p; p++)
		ascii = ascii && !((unsigned char)*p & 0x80);
	if (ascii)
		return 0;
	ret = gnutls_idna_map(*name, (unsigned)strlen(*name), &out, 0);
	if (ret < 0) {
		const char *why = gnutls_strerror(ret);
		size_t len = strlen(why);
		if (len && why[len - 1] == '.')
			len--;
		return tp_err(err, errlen, "invalid international name in %s (%.*s): give its xn-- form", what,
			      (int)len, why);
	}
	/* The mapping may drop what it cannot encode ("a\u02dc.test" gives
	 * "a.test"): a name that lost its non-ASCII part is another name. */
	if (!out.data || out.size == 0 || !memmem(out.data, out.size, "xn--", 4)) {
		gnutls_free(out.data);
		return tp_err(err, errlen,
			      "invalid international name in %s: its non-ASCII characters cannot be "
			      "encoded; give its xn-- form",
			      what);
	}
	copy = strndup((const char *)out.data, out.size);
	gnutls_free(out.data);
	if (!copy)
		return tp_err(err, errlen, "out of memory");
	free(*name);
	*name = copy;
	return 0;
}

static bool
valid_hostname(const char *h)
{
	if (!*h)
		return false;
	for (const char *p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-._", *p))
			return false;
	return true;
}

int
tp_target_parse(struct tp_target *t, const char *input, char *err, size_t errlen)
{
	const char *s = input, *end, *colon;
	const char *host, *port = NULL;
	size_t hostlen, portlen = 0;
	struct in_addr a4;

	memset(t, 0, sizeof(*t));
	t->port = DEFAULT_PORT;

	if (strncasecmp(s, "https://", 8) == 0) {
		s += 8;
	} else if (strstr(s, "://")) {
		return tp_err(err, errlen,
			      "unsupported URL scheme in '%s': only https:// URLs are probed; "
			      "for another port give host:port",
			      input);
	}
	/* In a URL the authority ends where the path, query or fragment begin. */
	end = s + strcspn(s, "/?#");
	if (memchr(s, '@', (size_t)(end - s)))
		return tp_err(err, errlen, "user names in '%s' are not supported: give host[:port]", input);

	if (*s == '[') {
		const char *close = memchr(s, ']', (size_t)(end - s));
		if (!close)
			return tp_err(err, errlen, "missing ']' in '%s': write IPv6 targets as [addr]:port", input);
		host = s + 1;
		hostlen = (size_t)(close - host);
		if (close + 1 < end) {
			if (close[1] != ':')
				return tp_err(err, errlen, "unexpected text after ']' in '%s': write [addr]:port",
					      input);
			port = close + 2;
			portlen = (size_t)(end - port);
		}
	} else {
		colon = memchr(s, ':', (size_t)(end - s));
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			/* Several colons and no brackets: a bare IPv6 address. */
			host = s;
			hostlen = (size_t)(end - s);
		} else {
			host = s;
			hostlen = colon ? (size_t)(colon - s) : (size_t)(end - s);
			if (colon) {
				port = colon + 1;
				portlen = (size_t)(end - port);
			}
		}
	}

	if (hostlen == 0)
		return tp_err(err, errlen, "empty host name in '%s': give host[:port]", input);
	if (port && parse_port(port, portlen, &t->port, err, errlen) < 0)
		return -1;
	t->port_given = port != NULL;
	/* "example.com." is the same name; SNI and certificates never carry the dot. */
	if (hostlen > 1 && host[hostlen - 1] == '.' && host[0] != '[')
		hostlen--;
	t->host = strndup(host, hostlen);
	t->input = strdup(input);
	if (!t->host || !t->input) {
		tp_target_finish(t);
		return tp_err(err, errlen, "out of memory");
	}
	if (is_ipv6(t->host)) {
		t->host_is_ip = true;
	} else if (strchr(t->host, ':')) {
		tp_err(err, errlen, "invalid IPv6 address '%s'", t->host);
		tp_target_finish(t);
		return -1;
	} else {
		char what[300];
		snprintf(what, sizeof(what), "'%.280s'", input);
		if (idna_ascii(&t->host, what, err, errlen) < 0) {
			tp_target_finish(t);
			return -1;
		}
		t->host_is_ip = inet_pton(AF_INET, t->host, &a4) == 1;
		if (strlen(t->host) > MAX_NAME) {
			tp_err(err, errlen, "host name of %zu characters in '%.40s...': a DNS name has at most %d",
			       strlen(t->host), input, MAX_NAME);
			tp_target_finish(t);
			return -1;
		}
		if (!t->host_is_ip && !valid_hostname(t->host)) {
			tp_err(err, errlen, "invalid host name in '%s': use letters, digits, '-' and '.'", input);
			tp_target_finish(t);
			return -1;
		}
	}
	return 0;
}

void
tp_target_set_no_sni(struct tp_target *t)
{
	t->no_sni = true;
}

void
tp_target_set_all_addresses(struct tp_target *t)
{
	t->all_addresses = true;
}

void
tp_target_set_scan(struct tp_target *t)
{
	t->scan = true;
}

int
tp_target_set_sni(struct tp_target *t, const char *sni, char *err, size_t errlen)
{
	char *copy = NULL;

	if (sni && !(copy = strdup(sni)))
		return tp_err(err, errlen, "out of memory");
	if (copy && idna_ascii(&copy, "--sni", err, errlen) < 0) {
		free(copy);
		return -1;
	}
	if (copy && strlen(copy) > MAX_NAME) {
		tp_err(err, errlen, "--sni name of %zu characters: a DNS name has at most %d", strlen(copy), MAX_NAME);
		free(copy);
		return -1;
	}
	free(t->sni);
	t->sni = copy;
	return 0;
}

static const struct {
	const char *name;
	uint16_t port;
} starttls_protocols[] = {
	{"ftp", 21},     {"imap", 143},  {"irc", 6667},         {"ldap", 389},      {"lmtp", 24},
	{"mysql", 3306}, {"nntp", 119},  {"pop3", 110},         {"postgres", 5432}, {"sieve", 4190},
	{"smtp", 25},    {"xmpp", 5222}, {"xmpp-server", 5269},
};

static int
tp_starttls_port(const char *proto)
{
	for (size_t i = 0; i < sizeof(starttls_protocols) / sizeof(*starttls_protocols); i++)
		if (strcmp(starttls_protocols[i].name, proto) == 0)
			return starttls_protocols[i].port;
	return -1;
}

int
tp_starttls_known(const char *proto)
{
	return tp_starttls_port(proto) < 0 ? -1 : 0;
}

int
tp_target_set_starttls(struct tp_target *t, const char *proto)
{
	int port = proto ? tp_starttls_port(proto) : 0;
	char *copy;

	if (port < 0 || !(copy = proto ? strdup(proto) : NULL))
		return -1;
	free(t->starttls);
	t->starttls = copy;
	if (!t->port_given)
		t->port = (uint16_t)port;
	return 0;
}

int
tp_target_set_connect_to(struct tp_target *t, const char *addr, char *err, size_t errlen)
{
	struct tp_target to;

	if (tp_target_parse(&to, addr, err, errlen) < 0)
		return -1;
	free(t->connect_host);
	t->connect_host = to.host;
	to.host = NULL;
	t->connect_port = to.port_given ? to.port : t->port;
	t->connect_is_ip = to.host_is_ip;
	tp_target_finish(&to);
	return 0;
}

int
tp_target_copy(struct tp_target *dst, const struct tp_target *src)
{
	*dst = *src;
	dst->input = src->input ? strdup(src->input) : NULL;
	dst->host = src->host ? strdup(src->host) : NULL;
	dst->sni = src->sni ? strdup(src->sni) : NULL;
	dst->starttls = src->starttls ? strdup(src->starttls) : NULL;
	dst->connect_host = src->connect_host ? strdup(src->connect_host) : NULL;
	if ((src->input && !dst->input) || (src->host && !dst->host) || (src->sni && !dst->sni) ||
	    (src->starttls && !dst->starttls) || (src->connect_host && !dst->connect_host)) {
		tp_target_finish(dst);
		return -1;
	}
	return 0;
}

void
tp_target_finish(struct tp_target *t)
{
	if (!t)
		return;
	free(t->input);
	free(t->host);
	free(t->sni);
	free(t->starttls);
	free(t->connect_host);
	memset(t, 0, sizeof(*t));
}
