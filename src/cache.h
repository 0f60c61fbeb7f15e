/*
 * cache.h: what online checks fetched (OCSP answers, CRLs, issuers from
 * AIA URLs), kept until it is no longer valid: in memory for the process,
 * and on disk in a directory of its own across runs. Probes running at
 * once that need the same URL make one request: the others wait for it.
 */
#ifndef TP_CACHE_H
#define TP_CACHE_H

#include <stdbool.h>
#include <time.h>
#include <gnutls/gnutls.h>

#include "clock.h"

struct tp_cache;

/* A cache on disk in dir (made 0700 when missing), or in memory only when
 * dir is NULL or cannot be used. NULL only when out of memory. */
struct tp_cache *tp_cache_create(const char *dir);
void tp_cache_destroy(struct tp_cache *c);

/*
 * What is kept for key (a URL) and still valid by the real clock: 1 with a
 * copy in out (free out->data with free()). Else 0, and the caller is to
 * fetch it and call tp_cache_put (or tp_cache_put with until 0 when the
 * fetch failed): while it does, others asking for key wait, until d.
 */
int tp_cache_get(struct tp_cache *c, const char *key, gnutls_datum_t *out, const struct tp_deadline *d);
/* Keep data for key until the time until (0: not at all, and forget what
 * was kept; the waiters then fetch it themselves). */
void tp_cache_put(struct tp_cache *c, const char *key, const gnutls_datum_t *data, time_t until);

/* A small fact about key (what checking its answer found), for this
 * process only, until the time until: 1 with len bytes in out, or 0. */
int tp_cache_memo_get(struct tp_cache *c, const char *key, void *out, size_t len);
void tp_cache_memo_put(struct tp_cache *c, const char *key, const void *data, size_t len, time_t until);

#endif
