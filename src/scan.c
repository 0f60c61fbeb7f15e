/*
 * scan.c: what a server accepts. Each question is a ClientHello of our own
 * (hello.c) on a connection of its own, answered by the server's first
 * flight; no handshake is finished. Enumerations offer what is left and
 * take out what the server picked, so a list costs one connection per item
 * the server accepts, plus one. Questions that do not depend on each other
 * run in threads at once, at most `parallel` connections at a time; a full
 * probe (GnuTLS) runs beside them for the certificates and the diagnosis.
 * The whole scan is bounded by the config's timeout.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gnutls/crypto.h>

#include "clients.h"
#include "hello.h"
#include "net.h"
#include "probe.h"
#include "session.h"
#include "starttls.h"

/* The longest a single answer is waited for: a server that stays silent to
 * one hello must not take the whole scan's time. */
#define ANSWER_WAIT_MS 5000
/* What is read of one answer: a ServerHello and a chain up to ServerHelloDone. */
#define ANSWER_MAX (256 * 1024)

enum { V_SSL2, V_SSL3, V_TLS10, V_TLS11, V_TLS12, V_TLS13, V_COUNT };
static const uint16_t wire[V_COUNT] = {TP_SSL2, TP_SSL3, TP_TLS10, TP_TLS11, TP_TLS12, TP_TLS13};

struct scan {
	struct tp_config *cfg;
	const struct tp_target *asked; /* as given: what the probe reports */
	struct tp_target target;       /* pinned to one address once it is known */
	const char *sni;               /* sent, or NULL */
	const char *name;              /* for STARTTLS greetings */
	struct tp_deadline d;
	pthread_mutex_t lock;
	pthread_cond_t freed;
	unsigned busy, parallel;
	atomic_uint connections;
	char error[256]; /* the first connection that failed, and why */
	bool failed;
	atomic_bool unanswered; /* a question got no answer in time: what was found may be incomplete */

	/* what was learned; each member written by one task */
	int accepted[V_COUNT];
	uint16_t picked[V_COUNT][TP_MAX_OFFER];
	size_t n_picked[V_COUNT];
	int order[V_COUNT];
	uint16_t groups13[64], groups12[64];
	size_t n_groups13, n_groups12;
	uint16_t sig13[64], sig12[64];
	size_t n_sig13, n_sig12;
	unsigned dh_bits;
	struct tp_scan_features features;
	struct tp_result *probe;
	/* the certificate questions: for each key type, without SNI, with an unknown one */
	gnutls_priority_t key_prio[3];
	struct tp_target cert_target[5];
	bool cert_asked[5];
	struct tp_result *cert_r[5];
	gnutls_priority_t resume_prio[3]; /* by ID, by ticket (TLS 1.2), with a PSK (TLS 1.3) */
	int early_data;                   /* 0-RTT accepted with the PSK: 1, 0, -1 not known */
	uint16_t preferred;               /* the version picked when offered all; 0: none */
	gnutls_priority_t legacy;         /* the probe's, for a server of TLS 1.1 and below; or NULL */
	int resumed[3];
};

enum { C_RSA, C_ECDSA, C_EDDSA, C_NO_SNI, C_UNKNOWN_SNI, C_COUNT };
static const char *const cert_asked[C_COUNT] = {"RSA", "ECDSA", "EdDSA", "no SNI", "unknown SNI"};
/* A name no server has: .invalid is reserved (RFC 2606), and SNI is never resolved. */
#define UNKNOWN_SNI "tlsprobe-scan.invalid"

/* ---- one question --------------------------------------------------------- */

static void
slot_take(struct scan *sc)
{
	pthread_mutex_lock(&sc->lock);
	while (sc->busy >= sc->parallel)
		pthread_cond_wait(&sc->freed, &sc->lock);
	sc->busy++;
	pthread_mutex_unlock(&sc->lock);
}

static void
slot_give(struct scan *sc)
{
	pthread_mutex_lock(&sc->lock);
	sc->busy--;
	pthread_cond_signal(&sc->freed);
	pthread_mutex_unlock(&sc->lock);
}

static void
fail_once(struct scan *sc, const char *why)
{
	pthread_mutex_lock(&sc->lock);
	if (!sc->failed) {
		sc->failed = true;
		snprintf(sc->error, sizeof(sc->error), "%s", why);
	}
	pthread_mutex_unlock(&sc->lock);
}

static int
send_all(int fd, const uint8_t *p, size_t n, const struct tp_deadline *d)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = {fd, POLLOUT, 0};
			if (poll(&pfd, 1, tp_deadline_left(d)) <= 0)
				return -1;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Why an answer is missing when the server stayed silent (or time ran out),
 * as against refusing by closing the connection. */
static const char no_answer[] = "no answer in time";

/* A connection to the target, counted, STARTTLS spoken when asked: a
 * socket ready for TLS, or -1 with the reason in f. The caller holds a slot. */
static int
connect_target(struct scan *sc, struct tp_net_info *net, struct tp_findings *f)
{
	int fd;

	atomic_fetch_add(&sc->connections, 1);
	fd = tp_net_connect(net, &sc->target, sc->cfg, &sc->d, f);
	if (fd >= 0 && sc->target.starttls && tp_starttls(f, fd, sc->target.starttls, sc->name, &sc->d) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * Connect, send hello, read the answer (with rest: up to ServerHelloDone).
 * 0 with a filled in (kind MORE: the server closed or stayed silent without
 * an answer), or -1 when no connection could be made.
 */
static int
ask(struct scan *sc, const uint8_t *hello, size_t n, bool rest, struct tp_hello_answer *a)
{
	struct tp_findings f = {0};
	struct tp_net_info net;
	struct tp_deadline wait;
	uint8_t *buf = NULL;
	size_t len = 0, complete = 0; /* complete: the bytes of whole records read */
	int fd, ret = -1;

	memset(a, 0, sizeof(*a));
	if (tp_deadline_left(&sc->d) <= 0) {
		fail_once(sc, "the scan ran out of time");
		return -1;
	}
	slot_take(sc);
	fd = connect_target(sc, &net, &f);
	if (fd < 0) {
		fail_once(sc, f.error ? f.error->message : "could not connect");
		goto out;
	}
	unsigned left = (unsigned)tp_deadline_left(&sc->d);
	tp_deadline_start(&wait, left < ANSWER_WAIT_MS ? left : ANSWER_WAIT_MS);
	if (!(buf = malloc(ANSWER_MAX)) || send_all(fd, hello, n, &wait) < 0) {
		a->why = "the connection closed before the hello was sent";
		ret = 0;
		goto out;
	}
	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		int ms = tp_deadline_left(&wait);
		if (ms <= 0 || poll(&pfd, 1, ms) <= 0) {
			a->why = no_answer;
			break;
		}
		ssize_t got = recv(fd, buf + len, ANSWER_MAX - len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			a->why = got == 0 ? "the server closed the connection" : "the connection was reset";
			break;
		}
		len += (size_t)got;
		/* Read again only when a whole record more came: a server
		 * sending tiny records must not make the reading quadratic. */
		size_t whole = complete;
		while (buf[0] < 0x80 && whole + 5 <= len &&
		       whole + 5 + ((size_t)buf[whole + 3] << 8 | buf[whole + 4]) <= len)
			whole += 5 + ((size_t)buf[whole + 3] << 8 | buf[whole + 4]);
		if (whole == complete && buf[0] < 0x80 && buf[0] >= 20 && buf[0] <= 23 && len < ANSWER_MAX)
			continue;
		complete = whole;
		tp_hello_parse(buf, len, rest, a);
		if (a->kind != TP_ANSWER_MORE || len == ANSWER_MAX)
			break;
	}
	const char *why = a->why;
	/* What came before the end, without waiting for more of it. */
	if (a->kind == TP_ANSWER_MORE && len > 0)
		tp_hello_parse(buf, len, false, a);
	if (a->kind == TP_ANSWER_MORE) {
		a->why = why;
		if (why == no_answer)
			atomic_store(&sc->unanswered, true);
	}
	ret = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	tp_findings_finish(&f);
	slot_give(sc);
	return ret;
}

/* ---- what a hello offers -------------------------------------------------- */

struct offer {
	uint16_t suites[TP_MAX_OFFER];
	size_t n_suites;
	uint16_t groups[128];
	size_t n_groups;
	uint16_t sigalgs[64];
	size_t n_sigalgs;
};

static bool
suite_fits(const struct tp_suite *s, int v)
{
	if (s->flags & TP_SUITE_TLS13)
		return v == V_TLS13;
	if (v == V_TLS13)
		return false;
	return v == V_TLS12 || !(s->flags & TP_SUITE_TLS12);
}

/* Every suite of version v, every group it can use and every scheme. */
static void
offer_all(struct offer *o, int v)
{
	size_t n;
	const struct tp_suite *s = tp_suites(&n);
	o->n_suites = 0;
	for (size_t i = 0; i < n && o->n_suites < TP_MAX_OFFER; i++)
		if (suite_fits(&s[i], v))
			o->suites[o->n_suites++] = s[i].id;
	const struct tp_group *g = tp_groups(&n);
	o->n_groups = 0;
	for (size_t i = 0; i < n; i++)
		if (v == V_TLS13 || g[i].ec)
			o->groups[o->n_groups++] = g[i].id;
	const struct tp_sigalg *a = tp_sigalgs(&n);
	o->n_sigalgs = 0;
	for (size_t i = 0; i < n; i++)
		if (v != V_TLS13 || a[i].tls13)
			o->sigalgs[o->n_sigalgs++] = a[i].id;
}

static bool
take_out(uint16_t *list, size_t *n, uint16_t id)
{
	for (size_t i = 0; i < *n; i++)
		if (list[i] == id) {
			memmove(&list[i], &list[i + 1], (*n - i - 1) * sizeof(*list));
			(*n)--;
			return true;
		}
	return false;
}

static void
spec_of(struct tp_hello_spec *h, const struct scan *sc, const struct offer *o, int v, const uint8_t *random)
{
	memset(h, 0, sizeof(*h));
	h->version = wire[v];
	h->suites = o->suites;
	h->n_suites = o->n_suites;
	h->groups = o->groups;
	h->n_groups = o->n_groups;
	h->sigalgs = o->sigalgs;
	h->n_sigalgs = v >= V_TLS12 ? o->n_sigalgs : 0;
	h->sni = sc->sni;
	h->random = random;
}

static int
ask_spec(struct scan *sc, const struct tp_hello_spec *h, bool rest, struct tp_hello_answer *a)
{
	uint8_t hello[4096];
	size_t n = tp_hello_build(h, hello, sizeof(hello));
	if (n == 0) {
		memset(a, 0, sizeof(*a));
		a->kind = TP_ANSWER_GARBAGE;
		a->why = "the hello did not fit in a record";
		return 0;
	}
	return ask(sc, hello, n, rest, a);
}

static void
fresh_random(uint8_t random[32])
{
	if (gnutls_rnd(GNUTLS_RND_NONCE, random, 32) < 0)
		memset(random, 0x5a, 32);
}

/* Everything of version v to offer, and a fresh client random: NULL when
 * out of memory. */
static struct offer *
offer_new(int v, uint8_t random[32])
{
	struct offer *o = calloc(1, sizeof(*o));
	if (o) {
		offer_all(o, v);
		fresh_random(random);
	}
	return o;
}

/* Did the server answer version v itself? */
static bool
speaks(const struct tp_hello_answer *a, int v)
{
	return (a->kind == TP_ANSWER_SERVER_HELLO || a->kind == TP_ANSWER_RETRY) && a->version == wire[v];
}

/* ---- the questions ---------------------------------------------------------- */

struct task {
	struct scan *sc;
	int v;
	void (*run)(struct task *t);
	pthread_t thread;
	bool started;
};

static void
version_task(struct task *t)
{
	struct scan *sc = t->sc;
	struct tp_hello_answer a;
	struct tp_hello_spec h;
	uint8_t random[32];
	if (t->v == V_SSL2) {
		uint8_t hello[128];
		fresh_random(random);
		size_t n = tp_hello_build_sslv2(hello, sizeof(hello), random);
		if (ask(sc, hello, n, false, &a) < 0 || a.why == no_answer)
			return;
		sc->accepted[V_SSL2] = a.kind == TP_ANSWER_SSL2 && a.ssl2_ciphers > 0;
		return;
	}
	struct offer *o = offer_new(t->v, random);
	if (!o)
		return;
	spec_of(&h, sc, o, t->v, random);
	/* Silence is no refusal: the version stays not known. */
	if (ask_spec(sc, &h, false, &a) == 0 && a.why != no_answer)
		sc->accepted[t->v] = speaks(&a, t->v);
	free(o);
}

/* The version the server picks when offered every version and every suite,
 * as a client that speaks them all would. */
static void
preferred_task(struct task *t)
{
	struct scan *sc = t->sc;
	struct tp_hello_answer a;
	struct tp_hello_spec h;
	uint8_t random[32];
	struct offer *o = offer_new(V_TLS13, random);
	size_t n;
	const struct tp_suite *all = tp_suites(&n);

	if (!o)
		return;
	o->n_suites = 0;
	for (size_t i = 0; i < n && o->n_suites < TP_MAX_OFFER; i++)
		o->suites[o->n_suites++] = all[i].id;
	spec_of(&h, sc, o, V_TLS13, random);
	h.min_version = TP_SSL3;
	if (ask_spec(sc, &h, false, &a) == 0 && (a.kind == TP_ANSWER_SERVER_HELLO || a.kind == TP_ANSWER_RETRY))
		sc->preferred = a.version;
	free(o);
}

/* The suites of version v, in the order picked, then whose order that is. */
static void
suites_task(struct task *t)
{
	struct scan *sc = t->sc;
	int v = t->v;
	struct tp_hello_answer a;
	struct tp_hello_spec h;
	uint8_t random[32];
	struct offer *o = offer_new(v, random);

	if (!o)
		return;
	while (o->n_suites > 0) {
		spec_of(&h, sc, o, v, random);
		if (ask_spec(sc, &h, false, &a) < 0 || !speaks(&a, v) || !take_out(o->suites, &o->n_suites, a.suite))
			break;
		sc->picked[v][sc->n_picked[v]++] = a.suite;
	}
	if (sc->n_picked[v] >= 2) {
		/* Offer what was picked, last first: the server's order picks
		 * the same first one again, the client's the last. */
		size_t n = sc->n_picked[v];
		for (size_t i = 0; i < n; i++)
			o->suites[i] = sc->picked[v][n - 1 - i];
		o->n_suites = n;
		spec_of(&h, sc, o, v, random);
		if (ask_spec(sc, &h, false, &a) == 0 && speaks(&a, v))
			sc->order[v] = a.suite == sc->picked[v][0] ? 1 : a.suite == sc->picked[v][n - 1] ? 0 : -1;
	}
	free(o);
}

/* TLS 1.3 groups: offered with no key share, the server names its choice
 * in a HelloRetryRequest. */
static void
groups13_task(struct task *t)
{
	struct scan *sc = t->sc;
	struct tp_hello_answer a;
	struct tp_hello_spec h;
	uint8_t random[32];
	struct offer *o = offer_new(V_TLS13, random);

	if (!o)
		return;
	while (o->n_groups > 0 && sc->n_groups13 < 64) {
		spec_of(&h, sc, o, V_TLS13, random);
		if (ask_spec(sc, &h, false, &a) < 0 || !speaks(&a, V_TLS13) ||
		    !take_out(o->groups, &o->n_groups, a.group))
			break;
		sc->groups13[sc->n_groups13++] = a.group;
	}
	free(o);
}

/* The best version below TLS 1.3 the server speaks, or -1. */
static int
best_below13(const struct scan *sc)
{
	for (int v = V_TLS12; v >= V_SSL3; v--)
		if (sc->accepted[v] == 1)
			return v;
	return -1;
}

/* Keep in o the suites picked in version v whose key exchange kx is. */
static void
keep_kx(struct offer *o, const struct scan *sc, int v, const char *kx, bool signed_only)
{
	o->n_suites = 0;
	for (size_t i = 0; i < sc->n_picked[v]; i++) {
		const struct tp_suite *s = tp_suite_find(sc->picked[v][i]);
		if (!s || (kx && strcmp(s->kx, kx) != 0) || (signed_only && !(s->flags & TP_SUITE_PFS)) ||
		    (signed_only && (strcmp(s->au, "anon") == 0 || strcmp(s->au, "PSK") == 0)))
			continue;
		o->suites[o->n_suites++] = s->id;
	}
}

/* ECDHE groups of TLS 1.2 and below, from the ServerKeyExchange; and the
 * DH prime of the DHE suites. */
static void
kx12_task(struct task *t)
{
	struct scan *sc = t->sc;
	int v = best_below13(sc);
	struct tp_hello_answer a;
	struct tp_hello_spec h;
	uint8_t random[32];
	struct offer *o = v >= 0 ? offer_new(v, random) : NULL;

	if (!o)
		return;
	keep_kx(o, sc, v, "ECDHE", false);
	while (o->n_suites > 0 && o->n_groups > 0 && sc->n_groups12 < 64) {
		spec_of(&h, sc, o, v, random);
		if (ask_spec(sc, &h, true, &a) < 0 || !speaks(&a, v) || !a.group ||
		    !take_out(o->groups, &o->n_groups, a.group))
			break;
		sc->groups12[sc->n_groups12++] = a.group;
	}
	/* A server with an ECDSA certificate uses ECDHE only while the
	 * certificate's curve is offered too (RFC 8422 5.1): so each group
	 * left is offered before the first one found. */
	uint16_t left[128];
	size_t n_left = o->n_groups;
	memcpy(left, o->groups, n_left * sizeof(*left));
	for (size_t i = 0; sc->n_groups12 > 0 && o->n_suites > 0 && i < n_left && sc->n_groups12 < 64; i++) {
		o->groups[0] = left[i];
		o->groups[1] = sc->groups12[0];
		o->n_groups = 2;
		spec_of(&h, sc, o, v, random);
		if (ask_spec(sc, &h, true, &a) < 0)
			break;
		if (speaks(&a, v) && a.group == left[i])
			sc->groups12[sc->n_groups12++] = a.group;
	}
	offer_all(o, v);
	keep_kx(o, sc, v, "DHE", false);
	if (o->n_suites > 0) {
		spec_of(&h, sc, o, v, random);
		if (ask_spec(sc, &h, true, &a) == 0 && speaks(&a, v))
			sc->dh_bits = a.dh_bits;
	}
	free(o);
}

/* Signature schemes of TLS 1.2, from the ServerKeyExchange. */
static void
sig12_task(struct task *t)
{
	struct scan *sc = t->sc;
	struct tp_hello_answer a;
	struct tp_hello_spec h;
	uint8_t random[32];
	struct offer *o = sc->accepted[V_TLS12] == 1 ? offer_new(V_TLS12, random) : NULL;

	if (!o)
		return;
	keep_kx(o, sc, V_TLS12, NULL, true);
	while (o->n_suites > 0 && o->n_sigalgs > 0 && sc->n_sig12 < 64) {
		spec_of(&h, sc, o, V_TLS12, random);
		if (ask_spec(sc, &h, true, &a) < 0 || !speaks(&a, V_TLS12) || !a.sigalg ||
		    !take_out(o->sigalgs, &o->n_sigalgs, a.sigalg))
			break;
		sc->sig12[sc->n_sig12++] = a.sigalg;
	}
	free(o);
}

/* Signature schemes of TLS 1.3: the server picks one before its
 * ServerHello, and refuses the hello when none of those offered fits its
 * certificate. One scheme a hello, with a key share it can answer at once. */
static void
sig13_task(struct task *t)
{
	struct scan *sc = t->sc;
	struct offer *o = NULL;
	struct tp_hello_answer a;
	struct tp_hello_spec h;
	uint8_t random[32];
	uint16_t share = 0;
	size_t n;

	for (size_t i = 0; i < sc->n_groups13 && !share; i++)
		if (sc->groups13[i] == 29 || sc->groups13[i] == 23)
			share = sc->groups13[i];
	if (sc->accepted[V_TLS13] != 1 || !share || !(o = offer_new(V_TLS13, random)))
		return;
	o->groups[0] = share;
	o->n_groups = 1;
	const struct tp_sigalg *all = tp_sigalgs(&n);
	for (size_t i = 0; i < n && sc->n_sig13 < 64; i++) {
		if (!all[i].tls13)
			continue;
		spec_of(&h, sc, o, V_TLS13, random);
		h.sigalgs = &all[i].id;
		h.n_sigalgs = 1;
		h.share = share;
		if (ask_spec(sc, &h, false, &a) < 0)
			break;
		if (a.kind == TP_ANSWER_SERVER_HELLO && a.version == TP_TLS13)
			sc->sig13[sc->n_sig13++] = all[i].id;
	}
	free(o);
}

/* What a ServerHello of TLS 1.2 and below says besides the suite, ALPN
 * (each protocol the server picks, in turn), and downgrade protection. */
static void
features_task(struct task *t)
{
	static const char *const protocols[] = {"h2", "http/1.1", "http/1.0", "spdy/3.1", "h3"};
	struct scan *sc = t->sc;
	struct tp_scan_features *f = &sc->features;
	int v = best_below13(sc);
	struct offer *o = calloc(1, sizeof(*o));
	struct tp_hello_answer a;
	struct tp_hello_spec h;
	uint8_t random[32];
	int top = -1;

	f->fallback_scsv = f->secure_renegotiation = f->extended_master_secret = f->encrypt_then_mac = -1;
	f->compression = f->heartbeat = f->ocsp_stapling = f->session_ticket = -1;
	if (!o)
		return;
	fresh_random(random);
	if (v >= 0) {
		offer_all(o, v);
		spec_of(&h, sc, o, v, random);
		h.extras = true;
		h.compression = true;
		if (ask_spec(sc, &h, false, &a) == 0 && speaks(&a, v)) {
			f->secure_renegotiation = a.reneg_info;
			f->extended_master_secret = a.ems;
			f->encrypt_then_mac = a.etm;
			f->compression = a.compression != 0;
			f->heartbeat = a.heartbeat;
			f->ocsp_stapling = a.status_request;
			f->session_ticket = a.ticket;
		}
		char list[64];
		bool left[5] = {true, true, true, true, true};
		for (size_t round = 0; round < 5 && v >= V_TLS10; round++) {
			list[0] = '\0';
			for (size_t i = 0; i < 5; i++)
				if (left[i])
					snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
						 *list ? "," : "", protocols[i]);
			spec_of(&h, sc, o, v, random);
			h.alpn = list;
			if (ask_spec(sc, &h, false, &a) < 0 || !speaks(&a, v) || !a.alpn[0])
				break;
			size_t i = 0;
			while (i < 5 && !(left[i] && strcmp(protocols[i], a.alpn) == 0))
				i++;
			if (i == 5)
				break;
			left[i] = false;
			f->alpn[f->n_alpn++] = protocols[i];
		}
	}
	/* A hello one version below the best, marked as a fallback: a server
	 * that protects against downgrades refuses it. */
	for (int i = V_TLS13; i >= V_TLS10; i--)
		if (sc->accepted[i] == 1) {
			top = i;
			break;
		}
	int lower = -1;
	for (int i = top - 1; top > 0 && i >= V_SSL3; i--)
		if (sc->accepted[i] == 1) {
			lower = i;
			break;
		}
	if (lower >= 0) {
		offer_all(o, lower);
		spec_of(&h, sc, o, lower, random);
		h.fallback_scsv = true;
		if (ask_spec(sc, &h, false, &a) == 0) {
			if (a.kind == TP_ANSWER_ALERT && a.alert == 86) /* inappropriate_fallback */
				f->fallback_scsv = 1;
			else if (speaks(&a, lower))
				f->fallback_scsv = 0;
		}
	}
	free(o);
}

/* A full probe of target in a connection slot, offering prio (NULL: the
 * config's, and every address when the config or target asks). */
static struct tp_result *
probe_in_slot(struct scan *sc, const struct tp_target *target, gnutls_priority_t prio)
{
	struct tp_result *r = NULL;

	slot_take(sc);
	/* What is left once a slot is had: a probe that waited for one gets
	 * no more than the scan has. */
	int left = tp_deadline_left(&sc->d);
	if (left > 0) {
		atomic_fetch_add(&sc->connections, 1);
		r = prio ? tp_probe_offering(sc->cfg, target, (unsigned)left, prio)
			 : tp_probe_within(sc->cfg, target, (unsigned)left);
	} else {
		atomic_store(&sc->unanswered, true);
	}
	slot_give(sc);
	return r;
}

static void
probe_task(struct task *t)
{
	t->sc->probe = probe_in_slot(t->sc, t->sc->asked, t->sc->legacy);
}

/* The chain served to a client that asks for what cert question t->v asks. */
static void
cert_task(struct task *t)
{
	struct scan *sc = t->sc;
	if (t->v < C_NO_SNI)
		sc->cert_r[t->v] = probe_in_slot(sc, &sc->target, sc->key_prio[t->v]);
	else
		sc->cert_r[t->v] = probe_in_slot(sc, &sc->cert_target[t->v], sc->legacy);
}

/* What the cert questions offer: each key type's signature schemes and
 * (in TLS 1.2 and below) key exchanges, in the versions the server speaks
 * that GnuTLS does too. */
static void
cert_questions(struct scan *sc)
{
	static const char *const kinds[3] = {
		"-KX-ALL:+ECDHE-RSA:+DHE-RSA:+RSA:-SIGN-ALL:+SIGN-RSA-SHA256:+SIGN-RSA-SHA384:+SIGN-RSA-SHA512:"
		"+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-RSAE-SHA384:+SIGN-RSA-PSS-RSAE-SHA512:+SIGN-RSA-SHA1",
		"-KX-ALL:+ECDHE-ECDSA:-SIGN-ALL:+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SHA384:+SIGN-ECDSA-SHA512:"
		"+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SECP384R1-SHA384:+SIGN-ECDSA-SECP521R1-SHA512:+SIGN-ECDSA-"
		"SHA1",
		"-KX-ALL:+ECDHE-ECDSA:-SIGN-ALL:+SIGN-EDDSA-ED25519:+SIGN-EDDSA-ED448",
	};
	static const char *const vers[V_COUNT] = {
		[V_TLS10] = "TLS1.0", [V_TLS11] = "TLS1.1", [V_TLS12] = "TLS1.2", [V_TLS13] = "TLS1.3"};
	char versions[80] = "", prio[600];

	for (int v = V_TLS10; v < V_COUNT; v++)
		if (sc->accepted[v] == 1)
			snprintf(versions + strlen(versions), sizeof(versions) - strlen(versions), ":+VERS-%s",
				 vers[v]);
	for (int k = 0; *versions && k < 3; k++) {
		snprintf(prio, sizeof(prio), "NORMAL:%%SERVER_PRECEDENCE:-VERS-ALL%s:%s", versions, kinds[k]);
		if (gnutls_priority_init(&sc->key_prio[k], prio, NULL) < 0)
			sc->key_prio[k] = NULL;
		sc->cert_asked[k] = sc->key_prio[k] != NULL;
	}
	static const char *const resumption[3] = {"NORMAL:%NO_TICKETS:-VERS-ALL:+VERS-TLS1.2",
						  "NORMAL:-VERS-ALL:+VERS-TLS1.2", "NORMAL:-VERS-ALL:+VERS-TLS1.3"};
	sc->early_data = -1;
	for (int k = 0; k < 3; k++) {
		sc->resumed[k] = -1;
		if (sc->accepted[k < 2 ? V_TLS12 : V_TLS13] == 1 &&
		    gnutls_priority_init(&sc->resume_prio[k], resumption[k], NULL) < 0)
			sc->resume_prio[k] = NULL;
	}
	/* Without SNI, and with a name the server cannot know: only when the
	 * scan sends one at all. */
	if (sc->sni && tp_target_copy(&sc->cert_target[C_NO_SNI], &sc->target) == 0) {
		tp_target_set_no_sni(&sc->cert_target[C_NO_SNI]);
		sc->cert_asked[C_NO_SNI] = true;
	}
	char err[128];
	if (sc->sni && tp_target_copy(&sc->cert_target[C_UNKNOWN_SNI], &sc->target) == 0)
		sc->cert_asked[C_UNKNOWN_SNI] =
			tp_target_set_sni(&sc->cert_target[C_UNKNOWN_SNI], UNKNOWN_SNI, err, sizeof(err)) == 0;
}

static void
cert_answers(struct scan *sc, struct tp_scan_info *info)
{
	info->certs = calloc(C_COUNT, sizeof(*info->certs));
	for (int k = 0; info->certs && k < C_COUNT; k++) {
		const struct tp_result *r = sc->cert_r[k];
		const struct tp_cert_info *leaf = r ? tp_result_cert(r, 0) : NULL;
		bool seen = false;
		if (!leaf)
			continue;
		/* A key type's chain once, however many questions it answered. */
		for (size_t i = 0; i < info->n_certs && k < C_NO_SNI; i++)
			seen |= strcmp(info->certs[i].sha256, leaf->sha256) == 0;
		if (seen)
			continue;
		struct tp_scan_cert *c = &info->certs[info->n_certs++];
		c->asked = cert_asked[k];
		c->sni = r->sni ? strdup(r->sni) : NULL;
		c->subject = strdup(leaf->subject);
		c->sha256 = strdup(leaf->sha256);
		c->key_type = leaf->key_type;
		c->key_bits = leaf->key_bits;
		c->chain_length = tp_result_cert_count(r);
		c->trusted = tp_result_trusted(r);
		c->status = k == C_UNKNOWN_SNI ? TP_STATUS_UNKNOWN : tp_result_status(r);
		c->reason = k == C_UNKNOWN_SNI ? TP_CODE_NONE : tp_result_reason(r);
	}
}

/* What one handshake of a resumption check asks and learns. */
struct handshake_q {
	gnutls_priority_t prio;
	const gnutls_datum_t *resume; /* to resume, or NULL */
	const gnutls_datum_t *early;  /* 0-RTT data with it, or NULL */
	const char *alpn;             /* the one ALPN protocol offered, or NULL */
	gnutls_datum_t *ticket;       /* out: what resumes this session, or NULL */
	bool got_ticket;              /* out: the server issued a ticket */
	bool alpn_agreed;             /* out: the server chose alpn */
	int early_taken;              /* out: 1 it took the 0-RTT data, 0 not, -1 none was sent */
};

/* One connection and handshake: 1 resumed, 0 not; -1 no handshake (or,
 * with q->ticket, nothing to resume). */
static int
handshake_once(struct scan *sc, struct handshake_q *q)
{
	struct tp_handshake h = {.sni = sc->sni,
				 .prio = q->prio,
				 .handshake_ms = -1,
				 .resume = q->resume,
				 .early = q->early,
				 .alpn = q->alpn};
	struct tp_findings f = {0};
	struct tp_tls_facts tls = {0};
	struct tp_net_info net;
	int fd = -1, ret = -1;

	q->got_ticket = q->alpn_agreed = false;
	q->early_taken = -1;
	slot_take(sc);
	if (tp_deadline_left(&sc->d) > 0)
		fd = connect_target(sc, &net, &f);
	if (fd >= 0) {
		h.connect_ms = net.connect_ms;
		gnutls_session_t s = tp_session_handshake(&h, &tls, sc->cfg, fd, &sc->d, &f);
		if (s) {
			ret = gnutls_session_is_resumed(s) ? 1 : 0;
			q->alpn_agreed = q->alpn && tls.info.alpn && strcmp(tls.info.alpn, q->alpn) == 0;
			if (h.early)
				q->early_taken = (gnutls_session_get_flags(s) & GNUTLS_SFLAGS_EARLY_DATA) != 0;
			/* Nothing to resume comes out as an empty ticket: its
			 * resumption then fails, and says "not known". */
			if (q->ticket)
				(void)tp_session_ticket(s, fd, &sc->d, 500, q->ticket);
			q->got_ticket = (gnutls_session_get_flags(s) & GNUTLS_SFLAGS_SESSION_TICKET) != 0;
			gnutls_bye(s, GNUTLS_SHUT_WR);
			tp_session_free(s);
		}
		close(fd);
	}
	tp_tls_facts_finish(&tls);
	tp_findings_finish(&f);
	slot_give(sc);
	return ret;
}

/* Resumption of kind t->v (by session ID, by ticket, with a TLS 1.3 PSK):
 * a full handshake, then one that resumes it. Resumed by ticket only when
 * a ticket came (else the ID would answer for it); in TLS 1.3, no ticket
 * is no resumption. */
static void
resume_task(struct task *t)
{
	struct scan *sc = t->sc;
	gnutls_datum_t data = {NULL, 0};
	struct handshake_q q = {.prio = sc->resume_prio[t->v], .ticket = &data};
	int first = handshake_once(sc, &q);

	sc->resumed[t->v] = -1;
	if (first >= 0 && t->v >= 1 && !q.got_ticket) {
		sc->resumed[t->v] = 0;
	} else if (first >= 0 && data.size > 0) {
		struct handshake_q again = {.prio = sc->resume_prio[t->v], .resume = &data};
		int second = handshake_once(sc, &again);
		if (second >= 0)
			sc->resumed[t->v] = second == 1;
	}
	gnutls_free(data.data);
	/* 0-RTT: with a new ticket from a session that agreed on HTTP/1.1 by
	 * ALPN (so that the early data, a request that changes nothing, is in
	 * the protocol the server speaks), a third handshake sends it early. */
	if (t->v == 2 && sc->resumed[2] == 1) {
		gnutls_datum_t ticket = {NULL, 0};
		char request[400];
		snprintf(request, sizeof(request), "HEAD / HTTP/1.1\r\nHost: %.255s\r\nConnection: close\r\n\r\n",
			 sc->name);
		gnutls_datum_t early = {(unsigned char *)request, (unsigned)strlen(request)};
		struct handshake_q fresh = {.prio = sc->resume_prio[2], .alpn = "http/1.1", .ticket = &ticket};
		if (handshake_once(sc, &fresh) >= 0 && fresh.alpn_agreed && fresh.got_ticket) {
			struct handshake_q zero = {
				.prio = sc->resume_prio[2], .alpn = "http/1.1", .resume = &ticket, .early = &early};
			if (handshake_once(sc, &zero) == 1)
				sc->early_data = zero.early_taken;
		}
		gnutls_free(ticket.data);
	}
}

static void *
task_main(void *arg)
{
	struct task *t = arg;
	t->run(t);
	return NULL;
}

/* Run tasks[0..n) at once and wait for them all. */
static void
run_tasks(struct task *tasks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tasks[i].started = pthread_create(&tasks[i].thread, NULL, task_main, &tasks[i]) == 0;
	for (size_t i = 0; i < n; i++) {
		if (tasks[i].started)
			pthread_join(tasks[i].thread, NULL);
		else
			tasks[i].run(&tasks[i]); /* no thread to be had: in this one */
	}
}

/* ---- the findings --------------------------------------------------------- */

/* How strong suite s is, and why not. */
static const char *
rating(const struct tp_suite *s, int v, const char **why)
{
	*why = NULL;
	if (s->flags & TP_SUITE_NULL)
		*why = "no encryption";
	else if (s->flags & TP_SUITE_EXPORT)
		*why = "export strength";
	else if (s->flags & TP_SUITE_ANON)
		*why = "no authentication";
	else if (s->flags & TP_SUITE_RC4)
		*why = "RC4";
	else if (s->flags & TP_SUITE_DES)
		*why = "single DES";
	else if (strcmp(s->mac, "MD5") == 0)
		*why = "MD5";
	if (*why)
		return "insecure";
	if (s->flags & TP_SUITE_3DES)
		*why = "3DES (64-bit blocks, Sweet32)";
	else if ((s->flags & TP_SUITE_CBC) && v <= V_TLS10)
		*why = "CBC in TLS 1.0 and below (BEAST, Lucky13)";
	else if (!(s->flags & TP_SUITE_PFS) && !(s->flags & TP_SUITE_SECRET))
		*why = "no forward secrecy";
	else if (s->flags & TP_SUITE_CBC)
		*why = "CBC (Lucky13)";
	return *why ? "weak" : "strong";
}

static bool
in_list(const uint16_t *list, size_t n, uint16_t id)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == id)
			return true;
	return false;
}

/* Could suite s of version v be agreed with client o, given the server's
 * groups and DH group? NULL, or why not. */
static const char *
usable(const struct scan *sc, const struct tp_client_offer *o, int v, const struct tp_suite *s)
{
	const uint16_t *groups = v == V_TLS13 ? sc->groups13 : sc->groups12;
	size_t n = v == V_TLS13 ? sc->n_groups13 : sc->n_groups12;
	bool common = n == 0; /* not known: the suite decides */

	if (s->flags & TP_SUITE_SECRET)
		return "needs a shared secret";
	if (v == V_TLS13 || strcmp(s->kx, "ECDHE") == 0) {
		for (size_t i = 0; i < n && !common; i++)
			common = in_list(o->groups, o->n_groups, groups[i]);
		return common ? NULL : "no key-exchange group in common";
	}
	if (strcmp(s->kx, "DHE") == 0) {
		if (!o->min_dh_bits)
			return "no DHE suites";
		if (sc->dh_bits && sc->dh_bits < o->min_dh_bits)
			return "the server's DH group is too small for it";
	}
	return NULL;
}

/* Whether client c can connect, and with what: the first suite of the
 * best common version, in the server's order when it enforces one. */
static void
predict(const struct scan *sc, enum tp_client c, struct tp_scan_client *out)
{
	const struct tp_client_offer *o = tp_client_offer(c);
	const char *why = NULL;
	bool version = false;

	out->client = c;
	/* A server whose only chain is EdDSA's loses the clients that do not
	 * verify EdDSA signatures. */
	bool eddsa_only = sc->cert_r[C_EDDSA] && tp_result_cert_count(sc->cert_r[C_EDDSA]) &&
			  !(sc->cert_r[C_RSA] && tp_result_cert_count(sc->cert_r[C_RSA])) &&
			  !(sc->cert_r[C_ECDSA] && tp_result_cert_count(sc->cert_r[C_ECDSA]));
	if (eddsa_only && !o->eddsa) {
		snprintf(out->why, sizeof(out->why),
			 "the server's only certificate is EdDSA's, which it does not verify");
		return;
	}
	for (int v = V_TLS13; v >= V_SSL3; v--) {
		if (sc->accepted[v] != 1 || wire[v] < o->min_version || wire[v] > o->max_version)
			continue;
		version = true;
		const uint16_t *mine = v == V_TLS13 ? o->suites13 : o->suites;
		size_t n_mine = v == V_TLS13 ? o->n_suites13 : o->n_suites;
		bool server_first = sc->order[v] == 1;
		size_t n = server_first ? sc->n_picked[v] : n_mine;
		for (size_t i = 0; i < n; i++) {
			uint16_t id = server_first ? sc->picked[v][i] : mine[i];
			const struct tp_suite *s = tp_suite_find(id);
			if (!s || !in_list(mine, n_mine, id) || !in_list(sc->picked[v], sc->n_picked[v], id))
				continue;
			const char *no = usable(sc, o, v, s);
			if (no) {
				why = why ? why : no;
				continue;
			}
			out->connects = true;
			out->version = tp_wire_version_name(wire[v]);
			out->cipher = s->iana;
			return;
		}
	}
	if (!version) {
		char mine[80] = "";
		for (int v = V_SSL3; v < V_COUNT; v++)
			if (wire[v] >= o->min_version && wire[v] <= o->max_version)
				snprintf(mine + strlen(mine), sizeof(mine) - strlen(mine), "%s%s", *mine ? ", " : "",
					 tp_wire_version_name(wire[v]));
		snprintf(out->why, sizeof(out->why), "it speaks %s, none of which the server accepts", mine);
	} else {
		snprintf(out->why, sizeof(out->why), "%s", why ? why : "no cipher suite in common");
	}
}

static void
fill_info(struct scan *sc, struct tp_scan_info *info)
{
	size_t n = 0;
	for (int v = 0; v < V_COUNT; v++) {
		info->versions[v].name = tp_wire_version_name(wire[v]);
		info->versions[v].accepted = sc->accepted[v];
		info->versions[v].server_order = sc->order[v];
		if (sc->accepted[v] == 1)
			info->best_version = info->versions[v].name;
		n += sc->n_picked[v];
	}
	info->n_versions = V_COUNT;
	info->preferred_version = sc->preferred ? tp_wire_version_name(sc->preferred) : NULL;
	info->suites = calloc(n ? n : 1, sizeof(*info->suites));
	for (int v = V_TLS13; info->suites && v >= 0; v--)
		for (size_t i = 0; i < sc->n_picked[v]; i++) {
			const struct tp_suite *s = tp_suite_find(sc->picked[v][i]);
			struct tp_scan_suite *o = &info->suites[info->n_suites++];
			o->version = info->versions[v].name;
			o->id = s->id;
			o->iana = s->iana;
			o->openssl = s->openssl;
			o->kx = s->kx;
			o->au = s->au;
			o->enc = s->enc;
			o->mac = s->mac;
			o->bits = s->bits;
			o->order = (unsigned)i + 1;
			o->pfs = s->flags & TP_SUITE_PFS;
			o->rating = rating(s, v, &o->why);
		}
	info->groups = calloc(sc->n_groups13 + sc->n_groups12 + 1, sizeof(*info->groups));
	for (size_t k = 0; info->groups && k < 2; k++) {
		const uint16_t *list = k ? sc->groups12 : sc->groups13;
		size_t count = k ? sc->n_groups12 : sc->n_groups13;
		for (size_t i = 0; i < count; i++) {
			const struct tp_group *g = tp_group_find(list[i]);
			struct tp_scan_group *o = &info->groups[info->n_groups++];
			o->version = k ? "TLSv1.2" : "TLSv1.3";
			o->id = list[i];
			o->name = g ? g->name : "unknown";
			o->bits = g ? g->bits : 0;
			o->hybrid = g && g->hybrid;
			o->order = (unsigned)i + 1;
		}
	}
	info->sigalgs = calloc(sc->n_sig13 + sc->n_sig12 + 1, sizeof(*info->sigalgs));
	for (size_t k = 0; info->sigalgs && k < 2; k++) {
		const uint16_t *list = k ? sc->sig12 : sc->sig13;
		size_t count = k ? sc->n_sig12 : sc->n_sig13;
		for (size_t i = 0; i < count; i++) {
			const struct tp_sigalg *a = tp_sigalg_find(list[i]);
			struct tp_scan_sigalg *o = &info->sigalgs[info->n_sigalgs++];
			o->version = k ? "TLSv1.2" : "TLSv1.3";
			o->id = list[i];
			o->name = a ? a->name : "unknown";
		}
	}
	info->dh_bits = sc->dh_bits;
	info->features = sc->features;
	info->features.resumption_id = sc->resumed[0];
	info->features.resumption_ticket = sc->resumed[1];
	info->features.resumption_psk = sc->resumed[2];
	info->features.early_data = sc->early_data;
	info->connections = atomic_load(&sc->connections);
	info->complete = !atomic_load(&sc->unanswered);
	if (info->best_version)
		for (int c = 0; c < TP_CLIENT_COUNT; c++)
			predict(sc, (enum tp_client)c, &info->clients[info->n_clients++]);
}

/* A suite worth a finding: insecure, or weak for more than CBC in TLS 1.2
 * (which current guidance drops, but no client refuses). */
static bool
worth_saying(const struct tp_scan_suite *s)
{
	return s->why && strcmp(s->why, "CBC (Lucky13)") != 0;
}

/* Whether suite s belongs in the message of name_suites(). */
static bool
named(const struct tp_scan_suite *s, const char *rating_, bool no_pfs)
{
	if (no_pfs)
		return !s->pfs && strcmp(s->kx, "RSA") == 0;
	return strcmp(s->rating, rating_) == 0 && worth_saying(s) && strcmp(s->why, "no forward secrecy") != 0;
}

/* Up to three of the suites named() picks, each once, for a message. */
static void
name_suites(char *out, size_t len, const struct tp_scan_info *info, const char *rating_, bool no_pfs)
{
	size_t n = 0, shown = 0;
	out[0] = '\0';
	for (size_t i = 0; i < info->n_suites; i++) {
		const struct tp_scan_suite *s = &info->suites[i];
		bool dup = false;
		if (!named(s, rating_, no_pfs))
			continue;
		for (size_t j = 0; j < i && !dup; j++)
			dup = info->suites[j].id == s->id && named(&info->suites[j], rating_, no_pfs);
		if (dup)
			continue;
		n++;
		if (shown < 3) {
			size_t l = strlen(out);
			if (no_pfs)
				snprintf(out + l, len - l, "%s%s", shown ? ", " : "", s->iana);
			else
				snprintf(out + l, len - l, "%s%s (%s)", shown ? ", " : "", s->iana, s->why);
			shown++;
		}
	}
	if (n > shown) {
		size_t l = strlen(out);
		snprintf(out + l, len - l, " and %zu more", n - shown);
	}
}

static bool
has_code(const struct tp_findings *f, enum tp_code code)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->problems[i].code == code)
			return true;
	return false;
}

static void
findings(struct tp_findings *f, const struct tp_scan_info *info)
{
	char names[1024];
	const struct tp_scan_version *v = info->versions;

	/* The obsolete versions accepted, named in one finding: critical
	 * with SSL (DROWN, POODLE), a warning for TLS 1.0 and 1.1 alone
	 * (unless the probe, which speaks those, said so already). */
	char old[80] = "";
	size_t n_old = 0;
	for (int i = V_SSL2; i <= V_TLS11; i++)
		if (v[i].accepted == 1)
			n_old++;
	for (int i = V_SSL2, k = 0; i <= V_TLS11; i++)
		if (v[i].accepted == 1)
			snprintf(old + strlen(old), sizeof(old) - strlen(old), "%s%s",
				 k++ == 0             ? ""
				 : (size_t)k == n_old ? " and "
						      : ", ",
				 v[i].name);
	bool ssl = v[V_SSL2].accepted == 1 || v[V_SSL3].accepted == 1;
	if (n_old && (ssl || !has_code(f, TP_OBSOLETE_PROTOCOL))) {
		struct tp_problem *p = tp_find(f, TP_OBSOLETE_PROTOCOL, -1, "the server accepts %s: %s", old,
					       ssl ? "broken protocols (DROWN, POODLE) no client should speak"
						   : "deprecated since 2021 (RFC 8996)");
		if (!ssl)
			tp_problem_grade(p, TP_GRADE_ADVISORY);
		tp_problem_set_fix(p, "Enable only TLS 1.2 and 1.3: nginx 'ssl_protocols TLSv1.2 TLSv1.3;', Apache "
				      "'SSLProtocol -all +TLSv1.2 +TLSv1.3', HAProxy 'ssl-min-ver TLSv1.2'.");
	}
	name_suites(names, sizeof(names), info, "insecure", false);
	if (names[0])
		tp_find(f, TP_WEAK_CIPHER, -1, "the server accepts insecure suites: %s", names);
	name_suites(names, sizeof(names), info, "weak", false);
	if (names[0]) {
		struct tp_problem *p = tp_find(f, TP_WEAK_CIPHER, -1, "the server accepts weak suites: %s", names);
		tp_problem_grade(p, TP_GRADE_ADVISORY);
	}
	if (info->features.compression == 1)
		tp_find(f, TP_TLS_COMPRESSION, -1,
			"the server compresses TLS records (DEFLATE): CRIME can read secrets");
	if (info->features.secure_renegotiation == 0)
		tp_find(f, TP_INSECURE_RENEGOTIATION, -1,
			"the server does not support secure renegotiation (RFC 5746): its answer has no "
			"renegotiation_info");
	if (info->dh_bits && info->dh_bits < 2048) {
		struct tp_problem *p = tp_find(f, TP_WEAK_DH, -1, "the server's DHE suites use a %u-bit DH group%s",
					       info->dh_bits, info->dh_bits < 1024 ? " (Logjam)" : "");
		if (info->dh_bits < 1024)
			tp_problem_grade(p, TP_GRADE_REFUSED);
	}
	name_suites(names, sizeof(names), info, NULL, true);
	if (names[0])
		tp_find(f, TP_NO_FORWARD_SECRECY, -1,
			"the server accepts suites with RSA key exchange, without forward secrecy: %s", names);
	if (info->features.fallback_scsv == 0)
		tp_find(f, TP_NO_FALLBACK_SCSV, -1,
			"the server accepted a downgraded hello marked TLS_FALLBACK_SCSV (RFC 7507): an attacker can "
			"push clients that retry down to an older version");
	for (int i = V_TLS13; i >= V_SSL3; i--) {
		/* The order matters only between suites of different worth. */
		bool weak = false, good = false;
		for (size_t k = 0; k < info->n_suites; k++)
			if (strcmp(info->suites[k].version, v[i].name) == 0) {
				weak |= worth_saying(&info->suites[k]);
				good |= !worth_saying(&info->suites[k]);
			}
		if (v[i].server_order == 0 && weak && good && i != V_TLS13) {
			tp_find(f, TP_CLIENT_CIPHER_ORDER, -1,
				"in %s the server takes the client's first suite, weak ones included, instead of "
				"choosing its own",
				v[i].name);
			break;
		}
	}
	if (v[V_TLS13].accepted == 0 && info->best_version)
		tp_find(f, TP_NO_TLS13, -1, "the server does not speak TLS 1.3 (its best is %s)", info->best_version);
}

/* ---- the scan ------------------------------------------------------------- */

struct tp_result *
tp_scan(struct tp_config *cfg, const struct tp_target *target, unsigned parallel)
{
	return tp_scan_within(cfg, target, parallel, tp_config_timeout_ms(cfg));
}

struct tp_result *
tp_scan_within(struct tp_config *cfg, const struct tp_target *target, unsigned parallel, unsigned timeout_ms)
{
	struct scan *sc = calloc(1, sizeof(*sc));
	struct tp_result *r = NULL;
	struct tp_scan_info *info = calloc(1, sizeof(*info));
	double t0 = tp_now_ms();

	if (!sc || !info || tp_target_copy(&sc->target, target) < 0) {
		free(sc);
		free(info);
		return NULL;
	}
	sc->cfg = cfg;
	sc->asked = target;
	sc->parallel = parallel ? parallel : TP_SCAN_DEFAULT_PARALLEL;
	sc->name = target->sni ? target->sni : target->host;
	sc->sni = target->no_sni ? NULL : target->sni ? target->sni : target->host_is_ip ? NULL : target->host;
	pthread_mutex_init(&sc->lock, NULL);
	pthread_cond_init(&sc->freed, NULL);
	for (int v = 0; v < V_COUNT; v++)
		sc->accepted[v] = sc->order[v] = -1;
	if (tp_config_ready(cfg) < 0) {
		r = tp_result_create(target);
		if (r)
			tp_fail(&r->found, TP_INTERNAL_ERROR, "%s", cfg->error);
		goto out;
	}
	tp_deadline_start(&sc->d, timeout_ms);

	/* Pin every connection to one address, the first the name gives
	 * (not through a proxy, which may resolve names itself). */
	if (!sc->target.connect_host && cfg->px.kind == TP_PROXY_NONE) {
		char addr[1][64];
		struct tp_findings f = {0};
		if (tp_net_addresses(&sc->target, cfg, &sc->d, addr, 1, &f) == 1 &&
		    (sc->target.connect_host = strdup(addr[0]))) {
			sc->target.connect_is_ip = true;
			sc->target.connect_port = target->port;
		}
		tp_findings_finish(&f);
	}

	struct task versions[V_COUNT + 1];
	for (int v = 0; v < V_COUNT; v++)
		versions[v] = (struct task){sc, v, version_task, 0, false};
	versions[V_COUNT] = (struct task){sc, 0, preferred_task, 0, false};
	run_tasks(versions, V_COUNT + 1);

	/* A server that speaks nothing newer than TLS 1.1 is probed in what
	 * it speaks, unless versions were asked for: with a priority of its
	 * own, for the config is shared (batch's threads read it). */
	if (!cfg->tls_min && !cfg->tls_max && sc->accepted[V_TLS12] != 1 && sc->accepted[V_TLS13] != 1 &&
	    (sc->accepted[V_TLS10] == 1 || sc->accepted[V_TLS11] == 1)) {
		char prio[512];
		snprintf(prio, sizeof(prio), "%.400s:-VERS-ALL:+VERS-TLS1.0:+VERS-TLS1.1:+VERS-TLS1.2",
			 cfg->priority ? cfg->priority : "NORMAL");
		if (gnutls_priority_init(&sc->legacy, prio, NULL) < 0)
			sc->legacy = NULL;
	}

	cert_questions(sc);
	struct task more[V_COUNT + 6 + C_COUNT + 3];
	size_t n = 0;
	more[n++] = (struct task){sc, 0, probe_task, 0, false};
	for (int k = 0; k < C_COUNT; k++)
		if (sc->cert_asked[k])
			more[n++] = (struct task){sc, k, cert_task, 0, false};
	for (int k = 0; k < 3; k++)
		if (sc->resume_prio[k])
			more[n++] = (struct task){sc, k, resume_task, 0, false};
	for (int v = V_SSL3; v < V_COUNT; v++)
		if (sc->accepted[v] == 1)
			more[n++] = (struct task){sc, v, suites_task, 0, false};
	if (sc->accepted[V_TLS13] == 1)
		more[n++] = (struct task){sc, V_TLS13, groups13_task, 0, false};
	more[n++] = (struct task){sc, 0, features_task, 0, false};
	run_tasks(more, n);
	/* These read the suites and groups found above. */
	struct task last[3] = {
		{sc, 0, kx12_task, 0, false}, {sc, 0, sig12_task, 0, false}, {sc, 0, sig13_task, 0, false}};
	run_tasks(last, 3);

	r = sc->probe;
	sc->probe = NULL;
	if (!r && (r = tp_result_create(target))) {
		r->timing.total_ms = tp_now_ms() - t0;
		if (sc->failed)
			tp_fail(&r->found, TP_TIMEOUT, "the scan's %.1f s ran out: %s", timeout_ms / 1000.0, sc->error);
		else
			tp_fail(&r->found, TP_TIMEOUT, "the scan's %.1f s ran out before its probe could run%s",
				timeout_ms / 1000.0,
				atomic_load(&sc->unanswered) ? " (the server left hellos unanswered)" : "");
	}
	if (!r)
		goto out;
	fill_info(sc, info);
	cert_answers(sc, info);
	info->ms = tp_now_ms() - t0;
	/* A scan that reached the server but learned nothing of what it
	 * accepts says why, unless the probe already has. */
	if (!info->best_version && sc->accepted[V_SSL2] != 1 && !r->found.error)
		tp_fail(&r->found, TP_HANDSHAKE_FAILURE, "the server accepted none of the scan's hellos%s%s",
			sc->failed ? ": " : "", sc->failed ? sc->error : "");
	else
		findings(&r->found, info);
	r->scan = info;
	info = NULL;
	tp_result_judge(r, cfg->insecure, cfg->clients);
out:
	free(info);
	for (int k = 0; k < C_COUNT; k++) {
		tp_result_destroy(sc->cert_r[k]);
		if (k < C_NO_SNI && sc->key_prio[k])
			gnutls_priority_deinit(sc->key_prio[k]);
		if (k >= C_NO_SNI)
			tp_target_finish(&sc->cert_target[k]);
	}
	for (int k = 0; k < 3; k++)
		if (sc->resume_prio[k])
			gnutls_priority_deinit(sc->resume_prio[k]);
	if (sc->legacy)
		gnutls_priority_deinit(sc->legacy);
	tp_target_finish(&sc->target);
	pthread_mutex_destroy(&sc->lock);
	pthread_cond_destroy(&sc->freed);
	free(sc);
	return r;
}
