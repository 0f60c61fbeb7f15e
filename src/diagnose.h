/*
 * diagnose.h: verification and its explanation. GnuTLS gives the verdict
 * (a status bitmask); diagnose.c works out which certificate it is about
 * and why, in words, and what to do.
 */
#ifndef TP_DIAGNOSE_H
#define TP_DIAGNOSE_H

#include "config.h"
#include "result.h"
#include "revoke.h"

/* Verify the chain against the trust store and name (or NULL), judge
 * validity at now, and record the verdict, the stapled OCSP response's
 * facts and every finding. */
void tp_diagnose(struct tp_verdict *v, struct tp_ocsp_info *ocsp, struct tp_findings *f, const struct tp_config *cfg,
		 const struct tp_chain_in *in, const char *name, time_t now);

#endif
