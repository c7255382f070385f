/* gw_route — the route table: which service answers a request (SPEC §2
 * routes, §4). Pure code.
 *
 * A route is a path prefix on whole segments ("/dummy" matches /dummy and
 * /dummy/x, not /dummyx; "/" matches everything), optionally limited to
 * methods and a Host. Routes are tried longest prefix first, host-bound
 * before host-less for the same prefix; the first whose prefix, host and
 * method all match wins. No match: 404. */
#ifndef MUSTER_GW_ROUTE_H
#define MUSTER_GW_ROUTE_H

#include <stddef.h>

#include "cfg.h"

struct gw_route {
  const char *prefix;          /* borrowed from the config */
  size_t plen;                 /* strlen(prefix), 0 for "/" */
  const struct cfg_route *cfg; /* methods and host */
  void *target;                /* what answers it (the proxy: a sup_service) */
  size_t rr;                   /* round-robin cursor among its instances */
};

/* Routes and what they lead to (a service's, a static directory's), for
 * gw_routes_build. */
struct gw_route_src {
  const struct cfg_route *routes; /* must outlive the table */
  size_t nroutes;
  void *target;
};

struct gw_routes {
  struct gw_route *v; /* sorted: longest prefix first; owned */
  size_t n;
};

/* Builds the table from the routes of n sources. Returns 0 or UV_ENOMEM. */
int gw_routes_build(struct gw_routes *r, const struct gw_route_src *src, size_t n);
void gw_routes_free(struct gw_routes *r);

/* The route for a request, or NULL. path is the request path without the
 * query; host is the Host header's value (or an absolute-form target's
 * authority; may be NULL/empty): its port and a trailing dot play no part. */
struct gw_route *gw_routes_match(const struct gw_routes *r, const char *method, const char *host,
                                 size_t hlen, const char *path, size_t len);

/* The length of host[0..n) without its ":port" (an IPv6 literal keeps
 * its brackets). */
size_t gw_host_port_cut(const char *host, size_t n);

/* 1 when route a is tried before b: a longer prefix, or the same length
 * bound to a host where b is not (two tables, one order: gw_static). */
int gw_route_before(const struct gw_route *a, const struct gw_route *b);

#endif
