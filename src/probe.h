/*
 * probe.h: what the orchestrators beside the probe (fetch, batch, ca) use
 * of it besides the public API.
 */
#ifndef TP_PROBE_H
#define TP_PROBE_H

#include "config.h"
#include "result.h"

/* Chain facts, and the diagnosis, of DER certificates into r: a chain that
 * came in a handshake someone else made (fetch's). */
void tp_examine_into(struct tp_result *r, const struct tp_config *cfg, const gnutls_datum_t *ders, size_t n,
		     const char *name, time_t now);
/* tp_examine, for a caller who adds findings before judging the result. */
struct tp_result *tp_examine_unjudged(struct tp_config *cfg, const char *label, const gnutls_datum_t *certs, size_t n,
				      const char *name, bool verify);
/* The client certificate configured: its facts into r, and findings on its dates. */
void tp_examine_client_cert(struct tp_result *r, const struct tp_config *cfg, time_t now);

/* One probe (one address) offering prio instead of the config's: a scan's
 * question for the certificate of one key type. */
struct tp_result *tp_probe_offering(struct tp_config *cfg, const struct tp_target *target, unsigned timeout_ms,
				    gnutls_priority_t prio);

#endif
