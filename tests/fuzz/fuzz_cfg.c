/* fuzz_cfg — config loading and validation (cfg_parse) and its building
 * blocks (cfg_expand, cfg_listen_parse, cfg_path_resolve), on a fake world:
 * a fixed environment, PATH "/usr/bin:/bin", no bin_dir, config dir /tmp.
 *
 * Checks: nothing crashes or leaks; a refusal lists at least one problem,
 * each one line of printable text; an accepted config holds what cfg.h
 * promises (absolute paths, valid names and prefixes, ranges) and parsing
 * it again gives an equal config. */
#include <string.h>

#include "cfg.h"
#include "fuzz.h"

static const char *fake_getenv(void *ctx, const char *name) {
  static const char *const vars[][2] = {{"HOME", "/root"},
                                        {"EMPTY", ""},
                                        {"PORT", "8080"},
                                        {"DIR", "logs/../x"},
                                        {"MONGODB_URI", "mongodb://127.0.0.1:27017"},
                                        {"DOLLAR", "$${X}"}};
  (void)ctx;
  for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
    if (strcmp(name, vars[i][0]) == 0)
      return vars[i][1];
  return NULL;
}

static const struct cfg_env env = {.file = "fuzz.json",
                                   .dir = "/tmp",
                                   .bin_dir = NULL,
                                   .path = "/usr/bin:/bin",
                                   .getenv = fake_getenv,
                                   .ncpu = 4};

/* A path as cfg.h promises them: absolute, no "//", no "." segment, no
 * trailing '/' (but "/" itself). */
static int clean_abs(const char *p) {
  size_t n = p ? strlen(p) : 0;
  if (n == 0 || p[0] != '/')
    return 0;
  if (n > 1 && p[n - 1] == '/')
    return 0;
  return strstr(p, "//") == NULL && strstr(p, "/./") == NULL &&
         !(n >= 2 && strcmp(p + n - 2, "/.") == 0);
}

static void check_listen(const struct cfg_listen *l, const char *what) {
  FUZZ_CHECK(l->host != NULL && l->host[0] != '\0' && l->port >= 1 && l->port <= 65535,
             "%s: host %s port %d", what, l->host ? l->host : "(null)", l->port);
  FUZZ_CHECK((strchr(l->host, ':') != NULL) == (l->ipv6 != 0), "%s: ipv6 flag wrong for %s", what,
             l->host);
}

static void check_route(const struct cfg_route *r, const char *svc) {
  size_t n = strlen(r->prefix);
  FUZZ_CHECK(r->prefix[0] == '/' && (n == 1 || r->prefix[n - 1] != '/') &&
                 strstr(r->prefix, "//") == NULL,
             "%s: route prefix \"%s\"", svc, r->prefix);
  FUZZ_CHECK((r->methods == NULL) == (r->nmethods == 0), "%s: methods/nmethods", svc);
  for (size_t i = 0; i < r->nmethods; i++) {
    FUZZ_CHECK(r->methods[i] && r->methods[i][0], "%s: empty method", svc);
    for (const char *m = r->methods[i]; *m; m++)
      FUZZ_CHECK(!(*m >= 'a' && *m <= 'z'), "%s: method %s not upper-case", svc, r->methods[i]);
  }
  if (r->methods)
    FUZZ_CHECK(r->methods[r->nmethods] == NULL, "%s: methods not NULL-terminated", svc);
  if (r->host) {
    FUZZ_CHECK(r->host[0] != '\0', "%s: empty route host", svc);
    for (const char *h = r->host; *h; h++)
      FUZZ_CHECK(!(*h >= 'A' && *h <= 'Z'), "%s: host %s not lower-case", svc, r->host);
  }
}

/* The keys of SPEC §12: dependencies that exist and are not the service
 * itself, a signal, a clean exit code, a usable health check. */
static void check_supervision(const struct cfg *c, const struct cfg_service *s) {
  int any_clean = 0;
  for (size_t i = 0; i < s->ndepends; i++) {
    const struct cfg_service *d = cfg_find_service(c, s->depends_on[i]);
    FUZZ_CHECK(d != NULL && d != s, "%s: depends on \"%s\"", s->name, s->depends_on[i]);
  }
  FUZZ_CHECK(s->stop_signal > 0, "%s: stop_signal %d", s->name, s->stop_signal);
  for (int code = 0; code < 256; code++)
    any_clean |= cfg_success_exit(s, code);
  FUZZ_CHECK(any_clean, "%s: no clean exit code", s->name);
  FUZZ_CHECK(s->env_file == NULL || clean_abs(s->env_file), "%s: env_file", s->name);
  if (s->health.kind == CFG_HEALTH_HTTP)
    FUZZ_CHECK(s->health.path && s->health.path[0] == '/', "%s: health path", s->name);
  if (s->health.kind == CFG_HEALTH_COMMAND)
    FUZZ_CHECK(s->health.ncommand >= 1 && s->health.command[0][0] == '/', "%s: health command",
               s->name);
  FUZZ_CHECK(s->health.kind == CFG_HEALTH_NONE || s->heartbeat_ms > 0, "%s: health without beats",
             s->name);
}

static void check_service(const struct cfg *c, const struct cfg_service *s) {
  size_t n = strlen(s->name);
  FUZZ_CHECK(n >= 1 && n <= 64 &&
                 strspn(s->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n,
             "service name \"%s\"", s->name);
  FUZZ_CHECK(cfg_find_service(c, s->name) == s, "service %s: not found or not unique", s->name);
  FUZZ_CHECK(s->ncommand >= 1 && s->command[s->ncommand] == NULL && s->command[0][0] == '/',
             "%s: command", s->name);
  FUZZ_CHECK(s->instances >= 1 && s->instances <= 1024, "%s: instances %d", s->name, s->instances);
  FUZZ_CHECK(clean_abs(s->cwd), "%s: cwd \"%s\"", s->name, s->cwd);
  FUZZ_CHECK(s->restart.backoff_max_ms >= s->restart.backoff_initial_ms &&
                 s->restart.backoff_initial_ms >= 0,
             "%s: backoff %d..%d", s->name, s->restart.backoff_initial_ms,
             s->restart.backoff_max_ms);
  FUZZ_CHECK(s->max_inflight >= 1 && s->heartbeat_ms >= 0 && s->max_memory_mb >= 0,
             "%s: a negative or zero limit", s->name);
  for (size_t i = 0; i < s->nroutes; i++)
    check_route(&s->routes[i], s->name);
  for (size_t i = 0; i < s->nenv; i++)
    FUZZ_CHECK(s->env[i].name[0] != '\0' && strchr(s->env[i].name, '=') == NULL &&
                   s->env[i].value != NULL,
               "%s: env name \"%s\"", s->name, s->env[i].name);
  FUZZ_CHECK(cfg_service_equal(s, s), "%s: not equal to itself", s->name);
  check_supervision(c, s);
}

/* static[]: a route as a service's, an absolute root, an index that is a
 * name, a fallback under the root; no prefix+host a service claims. */
static void check_static(const struct cfg *c, const struct cfg_static *st) {
  check_route(&st->route, "static");
  FUZZ_CHECK(st->route.methods == NULL, "static: methods");
  FUZZ_CHECK(clean_abs(st->root), "static root \"%s\"", st->root ? st->root : "(null)");
  FUZZ_CHECK(st->index == NULL || (st->index[0] && strchr(st->index, '/') == NULL),
             "static index \"%s\"", st->index);
  FUZZ_CHECK(st->fallback == NULL || (st->fallback[0] && st->fallback[0] != '/' &&
                                      strstr(st->fallback, "..") != st->fallback),
             "static fallback \"%s\"", st->fallback);
  for (size_t i = 0; i < c->nservices; i++)
    for (size_t j = 0; j < c->services[i].nroutes; j++) {
      const struct cfg_route *r = &c->services[i].routes[j];
      FUZZ_CHECK(strcmp(r->prefix, st->route.prefix) != 0 ||
                     (r->host && st->route.host && strcmp(r->host, st->route.host) != 0),
                 "static %s: also a route of %s", st->route.prefix, c->services[i].name);
    }
}

/* What cfg.h promises of an accepted config. */
static void check_cfg(const struct cfg *c) {
  check_listen(&c->gateway.listen, "gateway.listen");
  if (c->admin.enabled)
    check_listen(&c->admin.listen, "admin.listen");
  FUZZ_CHECK(clean_abs(c->dir), "dir \"%s\"", c->dir);
  FUZZ_CHECK(clean_abs(c->control.socket), "control.socket \"%s\"", c->control.socket);
  FUZZ_CHECK(clean_abs(c->logs.dir), "logs.dir \"%s\"", c->logs.dir);
  FUZZ_CHECK(c->gateway.access_log == NULL || clean_abs(c->gateway.access_log), "access_log \"%s\"",
             c->gateway.access_log);
  FUZZ_CHECK(c->gateway.health_path && c->gateway.health_path[0] == '/', "health_path");
  FUZZ_CHECK(c->gateway.max_header_bytes > 0 && c->gateway.max_body_bytes >= 0 &&
                 c->gateway.max_connections >= 1 && c->logs.max_bytes >= 0 && c->logs.keep >= 0,
             "a gateway or logs limit out of range");
  for (size_t i = 0; i < c->nservices; i++)
    check_service(c, &c->services[i]);
  for (size_t i = 0; i < c->nstatics; i++)
    check_static(c, &c->statics[i]);
  const struct cfg_compression *z = &c->gateway.compression;
  FUZZ_CHECK(!z->enabled || (z->level >= 1 && z->level <= 9 && z->min_bytes >= 0),
             "compression level %d min %lld", z->level, (long long)z->min_bytes);
  for (size_t i = 0; z->enabled && i < z->ntypes; i++)
    for (const char *t = z->types[i]; *t; t++)
      FUZZ_CHECK(!(*t >= 'A' && *t <= 'Z') && strchr(z->types[i], '/') != NULL,
                 "compression type \"%s\"", z->types[i]);
  const struct cfg_rate_limit *r = &c->gateway.rate_limit;
  FUZZ_CHECK(!r->enabled || (r->rate >= 0.001 && r->rate <= 1000000 && r->burst >= 1 &&
                             r->max_clients >= 1 && (r->exempt != NULL || r->nexempt == 0)),
             "rate_limit %g/%d/%d", r->rate, r->burst, r->max_clients);
}

static void check_errors(const struct cfg_errors *e) {
  FUZZ_CHECK(e->count > 0 || e->oom, "a refused config with no reason");
  for (size_t i = 0; i < e->count; i++)
    for (const unsigned char *p = (const unsigned char *)e->lines[i]; *p; p++)
      FUZZ_CHECK(*p >= 0x20 && *p != 0x7f, "a control character in error %zu: %s", i, e->lines[i]);
  char *joined = cfg_errors_join(e, "\n");
  FUZZ_CHECK(joined != NULL, "cfg_errors_join failed");
  free(joined);
}

static void fuzz_parse(const uint8_t *data, size_t size) {
  struct cfg *c = NULL, *again = NULL;
  struct cfg_errors errs, errs2;
  cfg_errors_init(&errs);
  cfg_errors_init(&errs2);
  int rc = cfg_parse((const char *)data, size, &env, &c, &errs);
  FUZZ_CHECK(rc == 0 || rc == -1, "cfg_parse returned %d", rc);
  if (rc == 0) {
    FUZZ_CHECK(c != NULL && errs.count == 0, "accepted with %zu problems", errs.count);
    check_cfg(c);
    /* Deterministic: the same text gives the same config (reload relies
     * on cfg_service_equal to leave unchanged services alone). */
    FUZZ_CHECK(cfg_parse((const char *)data, size, &env, &again, &errs2) == 0,
               "accepted once, refused the second time");
    FUZZ_CHECK(again->nservices == c->nservices, "service count changed");
    for (size_t i = 0; i < c->nservices; i++)
      FUZZ_CHECK(cfg_service_equal(&c->services[i], &again->services[i]),
                 "service %s differs between two parses", c->services[i].name);
    cfg_free(again);
    cfg_free(c);
  } else {
    FUZZ_CHECK(c == NULL, "refused but *out set");
    check_errors(&errs);
  }
  cfg_errors_free(&errs);
  cfg_errors_free(&errs2);
}

/* The same bytes as one C string for the pure helpers. */
static void fuzz_helpers(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1), *out = NULL, err[128];
  memcpy(s, data, size);
  s[size] = '\0';
  err[0] = '\0';
  if (cfg_expand(s, fake_getenv, NULL, &out, err, sizeof(err)) == 0) {
    FUZZ_CHECK(out != NULL, "cfg_expand: no output");
    if (strchr(s, '$') == NULL)
      FUZZ_CHECK(strcmp(out, s) == 0, "cfg_expand changed text without '$': %s -> %s", s, out);
    free(out);
  } else {
    FUZZ_CHECK(out == NULL && err[0] != '\0', "cfg_expand refused without a reason");
  }
  struct cfg_listen l;
  if (cfg_listen_parse(s, &l, err, sizeof(err)) == 0) {
    check_listen(&l, s);
    free(l.host);
  }
  char *p = cfg_path_resolve("/tmp", s);
  FUZZ_CHECK(p != NULL, "cfg_path_resolve returned NULL");
  FUZZ_CHECK(clean_abs(p), "cfg_path_resolve(\"/tmp\", \"%s\") = \"%s\"", s, p);
  free(p);
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_parse(data, size);
  fuzz_helpers(data, size);
  return 0;
}
