/* cfg — the data model's life cycle and queries: free, find, compare. */
#include "cfg_schema.h"

#include <stdlib.h>
#include <string.h>

/* Frees the n strings of argv and argv. */
static void free_argv(char **argv, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(argv[i]);
  free(argv);
}

/* Frees everything s owns (not s itself). */
void cfg__service_free(struct cfg_service *s) {
  free(s->name);
  free_argv(s->command, s->ncommand);
  free_argv(s->depends_on, s->ndepends);
  free(s->as.user);
  free(s->as.group);
  free(s->as.login);
  free(s->as.home);
  free(s->env_file);
  free(s->health.path);
  free_argv(s->health.command, s->health.ncommand);
  for (size_t i = 0; i < s->nroutes; i++) {
    struct cfg_route *r = &s->routes[i];
    free(r->prefix);
    for (size_t k = 0; k < r->nmethods; k++)
      free(r->methods[k]);
    free(r->methods);
    free(r->host);
  }
  free(s->routes);
  for (size_t i = 0; i < s->nenv; i++) {
    free(s->env[i].name);
    free(s->env[i].value);
  }
  free(s->env);
  free(s->cwd);
  free(s->upstream.unix_path);
  cfg__watch_free(&s->watch);
  free(s->cron_text);
}

/* Frees c and all it owns. */
void cfg_free(struct cfg *c) {
  if (c == NULL)
    return;
  free(c->file);
  free(c->dir);
  free(c->gateway.listen.host);
  cfg__tls_free(&c->gateway);
  free(c->gateway.health_path);
  free(c->gateway.access_log);
  free(c->gateway.trusted);
  free(c->gateway.rate_limit.exempt);
  for (size_t i = 0; i < c->gateway.compression.ntypes; i++)
    free(c->gateway.compression.types[i]);
  free(c->gateway.compression.types);
  free(c->admin.listen.host);
  free(c->control.socket);
  free(c->logs.dir);
  free(c->cluster.redis_host);
  free(c->cluster.redis_password);
  free(c->cluster.host_id);
  for (size_t i = 0; i < c->nservices; i++)
    cfg__service_free(&c->services[i]);
  free(c->services);
  for (size_t i = 0; i < c->nhooks; i++) {
    free_argv(c->hooks[i].events, c->hooks[i].nevents);
    free_argv(c->hooks[i].command, c->hooks[i].ncommand);
  }
  free(c->hooks);
  cfg__tcp_free(c);
  cfg__static_free(c);
  free(c);
}

/* Returns the service called name, borrowed from c, or NULL. */
const struct cfg_service *cfg_find_service(const struct cfg *c, const char *name) {
  for (size_t i = 0; i < c->nservices; i++)
    if (c->services[i].name != NULL && strcmp(c->services[i].name, name) == 0)
      return &c->services[i];
  return NULL;
}

/* Returns 1 when a and b are both NULL or hold the same text. */
static int str_eq(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp(a, b) == 0;
}

/* Returns 1 when routes a and b are the same (methods in the same order). */
static int route_eq(const struct cfg_route *a, const struct cfg_route *b) {
  if (!str_eq(a->prefix, b->prefix) || !str_eq(a->host, b->host) || a->nmethods != b->nmethods)
    return 0;
  for (size_t i = 0; i < a->nmethods; i++)
    if (!str_eq(a->methods[i], b->methods[i]))
      return 0;
  return 1;
}

/* Returns 1 when a[0..n) and b[0..m) hold the same strings in order. */
static int argv_eq(char *const *a, size_t n, char *const *b, size_t m) {
  if (n != m)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!str_eq(a[i], b[i]))
      return 0;
  return 1;
}

/* Returns 1 when the keys of SPEC §12 are the same in a and b, but for
 * depends_on: it orders starts and stops, and a change to it restarts
 * nothing. */
static int run_eq(const struct cfg_service *a, const struct cfg_service *b) {
  const struct cfg_identity *ia = &a->as, *ib = &b->as;
  if (!str_eq(ia->user, ib->user) || !str_eq(ia->group, ib->group) || ia->uid != ib->uid ||
      ia->gid != ib->gid || ia->set_uid != ib->set_uid || ia->set_gid != ib->set_gid ||
      !str_eq(ia->home, ib->home) || !str_eq(ia->login, ib->login))
    return 0;
  if (a->stop_signal != b->stop_signal ||
      memcmp(a->success_exit, b->success_exit, sizeof(a->success_exit)) != 0 ||
      !str_eq(a->env_file, b->env_file) || a->env_file_optional != b->env_file_optional ||
      memcmp(&a->proc, &b->proc, sizeof(a->proc)) != 0) /* memset at parse: no stray padding */
    return 0;
  return a->health.kind == b->health.kind && str_eq(a->health.path, b->health.path) &&
         argv_eq(a->health.command, a->health.ncommand, b->health.command, b->health.ncommand);
}

/* Returns 1 when every field of a and b is the same (depends_on aside),
 * else 0. */
int cfg_service_equal(const struct cfg_service *a, const struct cfg_service *b) {
  if (!run_eq(a, b))
    return 0;
  if (!str_eq(a->name, b->name) || !str_eq(a->cwd, b->cwd) || a->ncommand != b->ncommand ||
      a->nroutes != b->nroutes || a->nenv != b->nenv)
    return 0;
  if (a->instances != b->instances || a->ready != b->ready || a->no_autostart != b->no_autostart ||
      a->ready_timeout_ms != b->ready_timeout_ms || a->heartbeat_ms != b->heartbeat_ms ||
      a->heartbeat_misses != b->heartbeat_misses || a->watchdog_ms != b->watchdog_ms ||
      a->ready_after_ms != b->ready_after_ms || a->stop_timeout_ms != b->stop_timeout_ms ||
      a->max_inflight != b->max_inflight || a->max_memory_mb != b->max_memory_mb ||
      a->ws_ack != b->ws_ack || !cfg__watch_equal(&a->watch, &b->watch) ||
      !str_eq(a->cron_text, b->cron_text))
    return 0;
  const struct cfg_upstream *ua = &a->upstream, *ub = &b->upstream;
  if (ua->enabled != ub->enabled || ua->port != ub->port || ua->ready != ub->ready ||
      !str_eq(ua->unix_path, ub->unix_path) || ua->connect_timeout_ms != ub->connect_timeout_ms ||
      ua->idle_timeout_ms != ub->idle_timeout_ms || ua->keepalive != ub->keepalive ||
      ua->balance != ub->balance)
    return 0;
  const struct cfg_restart *ra = &a->restart, *rb = &b->restart;
  if (ra->policy != rb->policy || ra->backoff_initial_ms != rb->backoff_initial_ms ||
      ra->backoff_max_ms != rb->backoff_max_ms || ra->max_restarts != rb->max_restarts ||
      ra->window_s != rb->window_s)
    return 0;
  for (size_t i = 0; i < a->ncommand; i++)
    if (!str_eq(a->command[i], b->command[i]))
      return 0;
  for (size_t i = 0; i < a->nroutes; i++)
    if (!route_eq(&a->routes[i], &b->routes[i]))
      return 0;
  for (size_t i = 0; i < a->nenv; i++)
    if (!str_eq(a->env[i].name, b->env[i].name) || !str_eq(a->env[i].value, b->env[i].value))
      return 0;
  return 1;
}
