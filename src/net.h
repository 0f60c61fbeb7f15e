/*
 * net.h: name resolution and TCP connect, both bounded by the deadline.
 * The only module that opens sockets for a probe.
 */
#ifndef TP_NET_H
#define TP_NET_H

#include "clock.h"
#include "config.h"
#include "result.h"

/* Where the probe connected, and how long each step took. */
struct tp_net_info {
	char address[64]; /* the last address tried */
	double dns_ms;    /* negative when not reached */
	double connect_ms;
	double proxy_ms; /* opening the tunnel through the proxy; negative without one */
	size_t total;    /* the addresses the name resolved to */
	bool via_proxy;  /* address is the proxy's: the target was reached through its tunnel */
};

/* The distinct addresses t's name resolves to (at most max, in the
 * resolver's order) into out: how many, or -1 with the error in f. */
int tp_net_addresses(const struct tp_target *t, const struct tp_config *cfg, const struct tp_deadline *d,
		     char (*out)[64], size_t max, struct tp_findings *f);

/* Resolve and connect to t (or its --connect-to address); a socket, or -1
 * with the error in f. */
int tp_net_connect(struct tp_net_info *out, const struct tp_target *t, const struct tp_config *cfg,
		   const struct tp_deadline *d, struct tp_findings *f);

#endif
