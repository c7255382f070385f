/* gw_route — longest-prefix route matching. See gw_route.h. */
#include "gw_route.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

/* Sort order: longer prefix first; for equal prefixes host-bound first. */
static int route_cmp(const void *a, const void *b) {
  const struct gw_route *x = a, *y = b;
  if (x->plen != y->plen)
    return x->plen > y->plen ? -1 : 1;
  return (y->cfg->host != NULL) - (x->cfg->host != NULL);
}

int gw_routes_build(struct gw_routes *r, const struct gw_route_src *src, size_t nsrc) {
  size_t n = 0;
  for (size_t s = 0; s < nsrc; s++)
    n += src[s].nroutes;
  r->n = 0;
  r->v = calloc(n ? n : 1, sizeof(*r->v));
  if (r->v == NULL)
    return UV_ENOMEM;
  for (size_t s = 0; s < nsrc; s++) {
    for (size_t i = 0; i < src[s].nroutes; i++) {
      struct gw_route *rt = &r->v[r->n++];
      rt->prefix = src[s].routes[i].prefix;
      rt->plen = strcmp(rt->prefix, "/") == 0 ? 0 : strlen(rt->prefix);
      rt->cfg = &src[s].routes[i];
      rt->target = src[s].target;
    }
  }
  qsort(r->v, r->n, sizeof(*r->v), route_cmp);
  return 0;
}

int gw_route_before(const struct gw_route *a, const struct gw_route *b) {
  return route_cmp(a, b) < 0;
}

void gw_routes_free(struct gw_routes *r) {
  free(r->v);
  r->v = NULL;
  r->n = 0;
}

static int method_ok(const struct cfg_route *c, const char *method) {
  if (c->methods == NULL)
    return 1;
  for (size_t i = 0; i < c->nmethods; i++)
    if (strcmp(c->methods[i], method) == 0)
      return 1;
  return 0;
}

static int host_ok(const struct cfg_route *c, const char *host, size_t hlen) {
  if (c->host == NULL)
    return 1;
  return host && strlen(c->host) == hlen && strncasecmp(c->host, host, hlen) == 0;
}

/* The host name of a host header value: without its port (an IPv6
 * literal keeps its brackets) and without the trailing dot of a fully
 * qualified name ("api.example.com." is api.example.com, as nginx reads
 * it). */
size_t gw_host_port_cut(const char *host, size_t n) {
  const char *close = n > 0 && host[0] == '[' ? memchr(host, ']', n) : NULL;
  const char *from = close ? close : host; /* a port's colon comes after an IPv6 literal */
  const char *colon = memchr(from, ':', n - (size_t)(from - host));
  return colon ? (size_t)(colon - host) : n;
}

static size_t host_name_len(const char *host, size_t n) {
  n = gw_host_port_cut(host, n);
  if (n > 1 && host[n - 1] == '.')
    n--;
  return n;
}

struct gw_route *gw_routes_match(const struct gw_routes *r, const char *method, const char *host,
                                 size_t hlen, const char *path, size_t len) {
  hlen = host ? host_name_len(host, hlen) : 0;
  for (size_t i = 0; i < r->n; i++) {
    struct gw_route *rt = &r->v[i];
    if (rt->plen > len || memcmp(path, rt->prefix, rt->plen) != 0)
      continue;
    if (len > rt->plen && path[rt->plen] != '/' && rt->plen > 0)
      continue; /* "/dummyx" is not under "/dummy" */
    if (host_ok(rt->cfg, host, hlen) && method_ok(rt->cfg, method))
      return rt;
  }
  return NULL;
}
