/*
 * hello.h: the raw handshake of a scan. ClientHellos built from the IANA
 * tables (cipher suites, groups, signature schemes), and the server's first
 * answer read from the bytes as they come: a ServerHello or a
 * HelloRetryRequest, then in TLS 1.2 and below up to ServerHelloDone (for
 * the ServerKeyExchange's group, DH size and signature scheme), or an
 * alert. No I/O, no keys: GnuTLS will not offer what is broken, so a scan
 * writes its own hellos and reads only what the server says before any
 * secret is shared. Every length read is checked against the bytes there.
 */
#ifndef TP_HELLO_H
#define TP_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol versions, as on the wire. */
#define TP_SSL2 0x0200
#define TP_SSL3 0x0300
#define TP_TLS10 0x0301
#define TP_TLS11 0x0302
#define TP_TLS12 0x0303
#define TP_TLS13 0x0304

/* What a suite is (flags of struct tp_suite). */
enum {
	TP_SUITE_TLS13 = 1 << 0,  /* TLS 1.3 only */
	TP_SUITE_TLS12 = 1 << 1,  /* TLS 1.2 only (AEAD, or a SHA-2 MAC) */
	TP_SUITE_EXPORT = 1 << 2, /* 40- or 56-bit export strength */
	TP_SUITE_NULL = 1 << 3,   /* no encryption at all */
	TP_SUITE_ANON = 1 << 4,   /* no authentication of the server */
	TP_SUITE_RC4 = 1 << 5,
	TP_SUITE_DES = 1 << 6, /* single DES */
	TP_SUITE_3DES = 1 << 7,
	TP_SUITE_CBC = 1 << 8,
	TP_SUITE_AEAD = 1 << 9,
	TP_SUITE_PFS = 1 << 10,    /* forward secrecy: an ephemeral key exchange */
	TP_SUITE_SECRET = 1 << 11, /* needs a secret shared beforehand (PSK, SRP, Kerberos, GOST, password) */
};

struct tp_suite {
	uint16_t id;
	const char *iana;    /* "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" */
	const char *openssl; /* "ECDHE-RSA-AES128-GCM-SHA256", or NULL when OpenSSL never named it */
	const char *kx;      /* "ECDHE", "DHE", "RSA", ...; "any" in TLS 1.3 */
	const char *au;      /* "RSA", "ECDSA", "anon", ... */
	const char *enc;     /* "AES_128_GCM" */
	const char *mac;     /* "SHA1", "SHA256", "AEAD", ... */
	uint16_t bits;       /* the cipher's strength */
	uint16_t flags;
};

struct tp_group {
	uint16_t id;
	const char *name; /* as IANA registers it: "x25519", "X25519MLKEM768" */
	uint16_t bits;    /* security strength, roughly, of the classical part */
	bool ec;          /* usable with ECDHE suites in TLS 1.2 (an elliptic curve) */
	bool ffdhe;       /* a finite-field group (RFC 7919) */
	bool hybrid;      /* a post-quantum hybrid, or pure ML-KEM */
};

struct tp_sigalg {
	uint16_t id;
	const char *name; /* as IANA registers it: "rsa_pss_rsae_sha256" */
	bool tls13;       /* usable in TLS 1.3 */
};

/* The tables, in registry order. */
const struct tp_suite *tp_suites(size_t *n);
const struct tp_group *tp_groups(size_t *n);
const struct tp_sigalg *tp_sigalgs(size_t *n);
const struct tp_suite *tp_suite_find(uint16_t id);
const struct tp_group *tp_group_find(uint16_t id);
const struct tp_sigalg *tp_sigalg_find(uint16_t id);
/* "TLSv1.2", "SSLv3"; "unknown" for any other number. */
const char *tp_wire_version_name(uint16_t v);

#define TP_MAX_OFFER 512 /* suites, groups or schemes one hello offers */

struct tp_hello_spec {
	uint16_t version;     /* the highest offered: TP_SSL3 .. TP_TLS13 */
	uint16_t min_version; /* TLS 1.3 hellos list supported_versions down to this (0: version) */
	const uint16_t *suites;
	size_t n_suites;
	const uint16_t *groups; /* supported_groups; none: the extension is left out */
	size_t n_groups;
	const uint16_t *sigalgs; /* signature_algorithms; none: left out */
	size_t n_sigalgs;
	uint16_t share; /* a key share of this group (x25519 or secp256r1); 0: an empty key_share */
	const char *sni;
	const char *alpn;      /* comma-separated, or NULL */
	bool fallback_scsv;    /* TLS_FALLBACK_SCSV: this hello is a retry at a lower version */
	bool compression;      /* offer DEFLATE besides null */
	bool no_extensions;    /* none at all, as SSLv3 clients sent */
	bool extras;           /* ask for what servers say in their ServerHello: renegotiation_info,
				  extended master secret, encrypt-then-MAC, OCSP stapling, heartbeat, tickets */
	const uint8_t *random; /* 32 bytes (the client random, and the x25519 share); NULL: zeros */
};

/* The ClientHello of spec as one TLS record into out: its length, or 0 when
 * it does not fit in cap. */
size_t tp_hello_build(const struct tp_hello_spec *spec, uint8_t *out, size_t cap);
/* An SSL 2.0 CLIENT-HELLO offering every SSLv2 cipher kind: its length. */
size_t tp_hello_build_sslv2(uint8_t *out, size_t cap, const uint8_t challenge[16]);

enum tp_answer_kind {
	TP_ANSWER_MORE,         /* not enough bytes yet */
	TP_ANSWER_SERVER_HELLO, /* with what followed it, as far as it was wanted */
	TP_ANSWER_RETRY,        /* a HelloRetryRequest */
	TP_ANSWER_ALERT,
	TP_ANSWER_SSL2, /* an SSL 2.0 SERVER-HELLO */
	TP_ANSWER_GARBAGE,
};

struct tp_hello_answer {
	enum tp_answer_kind kind;
	uint16_t version; /* negotiated: supported_versions' when there, else the legacy field */
	uint16_t suite;   /* chosen */
	uint8_t compression;
	uint16_t group;   /* the HRR's or key_share's group, or the ServerKeyExchange's curve; 0: none */
	unsigned dh_bits; /* of the ServerKeyExchange's finite-field prime; 0: none */
	uint16_t sigalg;  /* the ServerKeyExchange's signature scheme (TLS 1.2); 0: none */
	uint8_t alert;    /* the description, when kind is ALERT */
	uint8_t alert_level;
	bool key_exchange;                                            /* a ServerKeyExchange was read */
	bool reneg_info, ems, etm, status_request, heartbeat, ticket; /* ServerHello extensions */
	char alpn[64];         /* the protocol chosen in the ServerHello (TLS 1.2 and below), or "" */
	unsigned ssl2_ciphers; /* SSLv2: cipher kinds offered */
	const char *why;       /* GARBAGE: what was wrong, for messages */
};

/*
 * Reads the server's bytes so far, buf[0..len), from the first: kind MORE
 * until they hold an answer. With rest, a TLS 1.2 (or older) ServerHello is
 * an answer only with what follows it up to ServerHelloDone (or an alert or
 * the end of what will be read). max_handshake bounds what is reassembled.
 */
void tp_hello_parse(const uint8_t *buf, size_t len, bool rest, struct tp_hello_answer *a);

#endif
