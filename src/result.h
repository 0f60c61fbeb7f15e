/*
 * result.h: what a probe found, and the severity policy. Each concern fills
 * its own part (net: the address and timings; session: the TLS facts;
 * chain: the certificates; diagnose: the verdict) and adds findings; the
 * orchestrator assembles the parts into a tp_result and judges it once.
 */
#ifndef TP_RESULT_H
#define TP_RESULT_H

#include <gnutls/gnutls.h>

#include "tlsprobe.h"
#include "util.h"

/* Findings about the target, and at most one probe error (the first wins). */
struct tp_findings {
	struct tp_problem *problems;
	size_t n;
	struct tp_problem *error;
};

/*
 * How serious a finding is, beyond its code: the reason table gives each
 * code a default severity, and the finder says only why this one differs.
 * tp_severity() is the whole policy.
 */
enum tp_grade {
	TP_GRADE_DEFAULT,
	TP_GRADE_REFUSED,  /* a verifier refuses the chain for it, or a critical threshold is crossed */
	TP_GRADE_ADVISORY, /* common clients accept it: worth a warning, not an alarm */
};

TP_PRINTF(3, 4) struct tp_problem *tp_fail(struct tp_findings *f, enum tp_code code, const char *fmt, ...);
TP_PRINTF(4, 5)
struct tp_problem *tp_find(struct tp_findings *f, enum tp_code code, int cert_index, const char *fmt, ...);
/* Make a finding more or less serious than its code's default. */
void tp_problem_grade(struct tp_problem *p, enum tp_grade grade);
/* Replace a finding's fix with a more specific one. */
TP_PRINTF(2, 3) void tp_problem_set_fix(struct tp_problem *p, const char *fmt, ...);
/* Add "; more" to the message. */
TP_PRINTF(2, 3) void tp_problem_append(struct tp_problem *p, const char *fmt, ...);
/* Give an error another code, keeping its message; the fix follows the code. */
void tp_problem_recode(struct tp_problem *p, enum tp_code code);
/* Take finding i back (a later check answered what it said was unknown). */
void tp_findings_remove(struct tp_findings *f, size_t i);
void tp_findings_finish(struct tp_findings *f);

/* What a handshake learned. The strings of info point into GnuTLS's static
 * tables or into the members below, which the result owns. */
struct tp_tls_facts {
	bool done; /* a handshake completed */
	struct tp_tls_info info;
	char *alpn;
	char *kx_name;           /* a DH group the server made up: "DH-1024" */
	gnutls_datum_t ocsp_der; /* the stapled response, if any */
};
void tp_tls_facts_finish(struct tp_tls_facts *t);

/* The certificates a server (or a file) gave, read. */
struct tp_chain_facts {
	struct tp_cert_info *certs;
	size_t n;      /* examined: at most TP_MAX_CERTS */
	size_t n_sent; /* given */
};
void tp_chain_facts_finish(struct tp_chain_facts *c);

/* What the verification concluded. */
struct tp_verdict {
	bool verified; /* a chain was verified at all */
	bool trusted;
	bool hostname_ok;
	char *name;                /* the name the chain was checked for */
	char *gnutls_status;       /* GnuTLS's own words, or NULL when it accepted the chain */
	time_t path_not_after;     /* the earliest expiry on the trusted path, its anchor included; 0: none */
	size_t path[TP_MAX_CERTS]; /* the path built: indexes of the chain, leaf first */
	size_t path_len;
};
void tp_verdict_finish(struct tp_verdict *v);

/* What each client of the model would do (clients.c); the strings are the
 * findings', the table's, or owned here. */
struct tp_client_verdicts {
	struct tp_client_verdict v[TP_CLIENT_COUNT];
	char *owned[TP_CLIENT_COUNT];
	size_t n;
};

struct tp_result {
	struct tp_target target;
	char *sni;
	char address[64];
	struct tp_timing timing;
	struct tp_tls_facts tls;
	struct tp_chain_facts chain;
	struct tp_chain_facts client_chain; /* the client certificate and its chain, when one is configured */
	struct tp_ocsp_info ocsp;
	struct tp_verdict verdict;
	struct tp_findings found;
	struct tp_client_verdicts clients;
	size_t address_total;                /* addresses the name resolved to */
	char proxy[300];                     /* the proxy the probe went through, or "" */
	struct tp_address_result *addresses; /* each one's, when all were probed */
	struct tp_revocation *revocation;    /* one per certificate of chain, when verified */
	gnutls_datum_t *fullchain;           /* the leaf and the intermediates a server should send, when known */
	size_t n_fullchain;
	size_t n_addresses;
	enum tp_status status;
	enum tp_code reason;
	bool is_fetch;
	struct tp_fetch_info fetch;
	struct tp_scan_info *scan; /* a scan's, or NULL */
};

struct tp_result *tp_result_create(const struct tp_target *target);
/* Take over what a probe learned: TLS facts, chain, verification, findings. */
void tp_result_adopt(struct tp_result *r, struct tp_result *from);
/* Name each finding's certificate, grade the findings a client rule covers
 * by the clients that count (0: all), sort the findings, set the status and
 * the reason from them, and each client's verdict; with insecure,
 * verification findings do not count. */
void tp_result_judge(struct tp_result *r, bool insecure, unsigned clients);

#endif
