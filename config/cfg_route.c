/* cfg_route — services[].routes: path prefixes a service answers under.
 *
 * A route is "/prefix" or {"prefix": "/x", "methods": ["GET"], "host": "h"}.
 * Prefixes are normalised ("/api/" and "/api//v1" become "/api" and
 * "/api/v1"), methods upper-cased, hosts lower-cased. One prefix+host may
 * belong to one route only, whatever its methods: the longest-prefix match
 * of the gateway must never have two answers. */
#include "cfg_schema.h"

#include <stdlib.h>
#include <string.h>

static const char *const route_keys[] = {"prefix", "methods", "host", NULL};

/* Normalises the prefix p in place. Returns NULL, or why it is invalid. */
static const char *normalise_prefix(char *p) {
  if (p[0] != '/')
    return "must start with '/'";
  char *w = p;
  for (const char *r = p; *r; r++) {
    unsigned char ch = (unsigned char)*r;
    if (ch <= 0x20 || ch == 0x7f || ch == '?' || ch == '#')
      return "must not contain spaces, control characters, '?' or '#'";
    if (ch == '/' && w > p && w[-1] == '/')
      continue;
    *w++ = (char)ch;
  }
  if (w > p + 1 && w[-1] == '/')
    w--;
  *w = '\0';
  return NULL;
}

/* Returns 1 when ch may appear in an HTTP method (an RFC 9110 token). */
static int tchar(unsigned char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
         (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Reads "methods": a non-empty array of method names, upper-cased. */
static void read_methods(struct cfg__ctx *x, const cJSON *v, const char *path,
                         struct cfg_route *r) {
  char p[CFG__PATH_MAX];
  int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
  if (n == 0) {
    cfg__err(x, path, "must be a non-empty array of HTTP methods, got %s",
             cJSON_IsArray(v) ? "[]" : cfg__type_name(v));
    return;
  }
  r->methods = calloc((size_t)n + 1, sizeof(*r->methods));
  if (r->methods == NULL) {
    cfg__err(x, path, "out of memory");
    return;
  }
  size_t i = 0;
  for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
    char *m;
    cfg__join_index(p, sizeof(p), path, i);
    if (cfg__string(x, it, p, &m) != 0)
      continue;
    int ok = m[0] != '\0';
    for (char *c = m; *c && ok; c++) {
      ok = tchar((unsigned char)*c);
      if (*c >= 'a' && *c <= 'z')
        *c = (char)(*c - 'a' + 'A');
    }
    int dup = 0;
    for (size_t k = 0; k < r->nmethods && ok && !dup; k++)
      dup = strcmp(r->methods[k], m) == 0;
    if (!ok)
      cfg__err(x, p, "\"%s\" is not an HTTP method", m);
    else if (dup)
      cfg__err(x, p, "duplicate method \"%s\"", m);
    if (!ok || dup) {
      free(m);
      continue;
    }
    r->methods[r->nmethods++] = m;
  }
}

/* Reads "host": a host name without port, lower-cased. */
void cfg__route_host(struct cfg__ctx *x, const cJSON *v, const char *path, struct cfg_route *r) {
  if (cfg__string(x, v, path, &r->host) != 0)
    return;
  size_t n = strlen(r->host);
  if (n > 1 && r->host[n - 1] == '.')
    r->host[--n] = '\0'; /* "api.example.com." is api.example.com */
  int ok = r->host[0] != '\0' && n <= 253;
  for (char *c = r->host; *c && ok; c++) {
    if (*c >= 'A' && *c <= 'Z')
      *c = (char)(*c - 'A' + 'a');
    ok =
        (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_';
  }
  if (!ok) {
    cfg__err(x, path,
             "\"%s\" is not a host name (letters, digits, '.', '-'; "
             "no port)",
             r->host);
    free(r->host);
    r->host = NULL;
  }
}

/* Reads a prefix string value v into r->prefix, normalised. */
void cfg__route_prefix(struct cfg__ctx *x, const cJSON *v, const char *path, struct cfg_route *r) {
  if (cfg__string(x, v, path, &r->prefix) != 0)
    return;
  const char *why = normalise_prefix(r->prefix);
  if (why != NULL) {
    cfg__err(x, path, "\"%s\" %s", r->prefix, why);
    free(r->prefix);
    r->prefix = NULL;
  }
}

/* Reads a route object {"prefix", "methods", "host"}. */
static void read_route_object(struct cfg__ctx *x, const cJSON *v, const char *path,
                              struct cfg_route *r) {
  char p[CFG__PATH_MAX];
  if (cfg__check_object(x, v, path, route_keys) != 0)
    return;
  const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(v, "prefix");
  const cJSON *methods = cJSON_GetObjectItemCaseSensitive(v, "methods");
  const cJSON *host = cJSON_GetObjectItemCaseSensitive(v, "host");
  cfg__join(p, sizeof(p), path, "prefix");
  if (prefix == NULL)
    cfg__err(x, p, "required");
  else
    cfg__route_prefix(x, prefix, p, r);
  if (methods != NULL) {
    cfg__join(p, sizeof(p), path, "methods");
    read_methods(x, methods, p, r);
  }
  if (host != NULL) {
    cfg__join(p, sizeof(p), path, "host");
    cfg__route_host(x, host, p, r);
  }
}

/* Reads the routes array v into s->routes, one entry per element. */
void cfg__parse_routes(struct cfg__ctx *x, const cJSON *v, const char *path,
                       struct cfg_service *s) {
  char p[CFG__PATH_MAX];
  if (!cJSON_IsArray(v)) {
    cfg__err(x, path, "must be an array of prefixes or route objects, got %s", cfg__type_name(v));
    return;
  }
  int n = cJSON_GetArraySize(v);
  if (n == 0)
    return;
  s->routes = calloc((size_t)n, sizeof(*s->routes));
  if (s->routes == NULL) {
    cfg__err(x, path, "out of memory");
    return;
  }
  /* Every route keeps its index, even a bad one (prefix NULL): messages
   * name routes by index, and a config with a bad route is never used. */
  for (const cJSON *it = v->child; it != NULL; it = it->next) {
    struct cfg_route *r = &s->routes[s->nroutes++];
    cfg__join_index(p, sizeof(p), path, s->nroutes - 1);
    if (cJSON_IsString(it))
      cfg__route_prefix(x, it, p, r);
    else if (cJSON_IsObject(it))
      read_route_object(x, it, p, r);
    else
      cfg__err(x, p, "must be a prefix string or a route object, got %s", cfg__type_name(it));
  }
}

/* Returns 1 when routes a and b claim the same prefix and host. */
int cfg__same_route(const struct cfg_route *a, const struct cfg_route *b) {
  if (a->prefix == NULL || b->prefix == NULL || strcmp(a->prefix, b->prefix))
    return 0;
  if (a->host == NULL || b->host == NULL)
    return a->host == b->host;
  return strcmp(a->host, b->host) == 0;
}

/* Reports route j of service i if an earlier route claims it too. */
static void check_route(struct cfg__ctx *x, const struct cfg *c, size_t i, size_t j) {
  char p[CFG__PATH_MAX], host[300] = "";
  const struct cfg_route *r = &c->services[i].routes[j];
  for (size_t oi = 0; oi <= i; oi++) {
    const struct cfg_service *o = &c->services[oi];
    size_t end = oi == i ? j : o->nroutes;
    for (size_t oj = 0; oj < end; oj++) {
      if (!cfg__same_route(r, &o->routes[oj]))
        continue;
      snprintf(p, sizeof(p), "services[%zu].routes[%zu]", i, j);
      if (r->host != NULL)
        snprintf(host, sizeof(host), " for host \"%s\"", r->host);
      if (oi == i)
        cfg__err(x, p, "duplicate route \"%s\"%s (also routes[%zu])", r->prefix, host, oj);
      else
        cfg__err(x, p,
                 "route \"%s\"%s is claimed by both \"%s\" "
                 "(services[%zu].routes[%zu]) and \"%s\"",
                 r->prefix, host, o->name ? o->name : "?", oi, oj,
                 c->services[i].name ? c->services[i].name : "?");
      return;
    }
  }
}

/* Reports every route whose prefix and host an earlier one claims. */
void cfg__check_route_conflicts(struct cfg__ctx *x, const struct cfg *c) {
  for (size_t i = 0; i < c->nservices; i++)
    for (size_t j = 0; j < c->services[i].nroutes; j++)
      check_route(x, c, i, j);
}
