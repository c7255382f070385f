/* cfg_host — the host-wide sections: gateway, admin, control, logs.
 * See SPEC §2 for the defaults, cfg_schema.c for the integer ranges. */
#include "cfg_schema.h"

#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_ADMIN_LISTEN "127.0.0.1:9090"
#define DEFAULT_HEALTH_PATH "/healthz"
#define DEFAULT_ACCESS_LOG "logs/access.log"
#define DEFAULT_SOCKET "run/muster.sock"
#define DEFAULT_LOGS_DIR "logs"
#define DEFAULT_RETRY_BUDGET 0.2 /* retries: a fifth of the requests, at most */

static const char *const gateway_keys[] = {"listen",
                                           "request_timeout_ms",
                                           "header_timeout_ms",
                                           "keepalive_timeout_ms",
                                           "max_header_bytes",
                                           "max_body_bytes",
                                           "max_connections",
                                           "max_buffered_bytes",
                                           "retries",
                                           "drain_delay_ms",
                                           "queue_timeout_ms",
                                           "max_queued",
                                           "retry_budget",
                                           "quarantine_s",
                                           "health_path",
                                           "access_log",
                                           "tls",
                                           "trusted_proxies",
                                           "proxy_protocol",
                                           "rate_limit",
                                           "compression",
                                           NULL};
static const char *const admin_keys[] = {"listen", NULL};
static const char *const control_keys[] = {"socket", NULL};
static const char *const logs_keys[] = {"dir", "max_bytes", "keep", NULL};

/* Reads the listen address obj.listen (default def) into l. */
void cfg__read_listen(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *def,
                      struct cfg_listen *l) {
  char p[CFG__PATH_MAX], err[256];
  char *s;
  cfg__join(p, sizeof(p), parent, "listen");
  /* On a type error s is already the default (and the error reported). */
  int rc = cfg__get_string(x, obj, parent, "listen", def, &s);
  if (s != NULL && cfg_listen_parse(s, l, err, sizeof(err)) == 0) {
    free(s);
    return;
  }
  if (s != NULL && rc == 0)
    cfg__err(x, p, "%s", err);
  free(s);
  if (cfg_listen_parse(def, l, err, sizeof(err)) != 0)
    cfg__err(x, p, "%s", err); /* only out of memory */
}

/* Reads gateway.health_path, which must be an absolute URL path. */
static void read_health_path(struct cfg__ctx *x, const cJSON *obj, struct cfg_gateway *g) {
  if (cfg__get_string(x, obj, "gateway", "health_path", DEFAULT_HEALTH_PATH, &g->health_path) !=
          0 ||
      g->health_path == NULL)
    return;
  if (g->health_path[0] != '/' || strpbrk(g->health_path, "?# \t") != NULL) {
    cfg__err(x, "gateway.health_path", "must be a path starting with '/' (no query, no spaces)");
    free(g->health_path);
    cfg__strdup(x, "gateway.health_path", DEFAULT_HEALTH_PATH, &g->health_path);
  }
}

/* Reads gateway.access_log: a path, or "" / null for no access log. */
static void read_access_log(struct cfg__ctx *x, const cJSON *obj, struct cfg_gateway *g) {
  char *s;
  if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, "access_log")))
    return; /* off */
  if (cfg__get_string(x, obj, "gateway", "access_log", DEFAULT_ACCESS_LOG, &s) == 0 && s != NULL &&
      s[0] != '\0') {
    g->access_log = cfg_path_resolve(x->env->dir, s);
    if (g->access_log == NULL)
      cfg__err(x, "gateway.access_log", "out of memory");
  }
  free(s); /* "" (after expansion too) is off */
}

/* Reads obj[key] (at parent.key), an array of addresses and blocks, into
 * *out and *n: gateway.trusted_proxies, gateway.rate_limit.exempt. */
void cfg__read_cidrs(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                     struct util_cidr **out, size_t *n) {
  char p[CFG__PATH_MAX], pi[CFG__PATH_MAX], err[256], *s;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  cfg__join(p, sizeof(p), parent, key);
  if (v == NULL || cJSON_IsNull(v))
    return;
  if (!cJSON_IsArray(v)) {
    cfg__err(x, p, "must be an array of addresses and blocks (\"10.0.0.0/8\", \"::1\"), got %s",
             cfg__type_name(v));
    return;
  }
  size_t len = (size_t)cJSON_GetArraySize(v), i = 0;
  if (len == 0)
    return;
  if ((*out = calloc(len, sizeof(**out))) == NULL) {
    cfg__err(x, p, "out of memory");
    return;
  }
  for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
    cfg__join_index(pi, sizeof(pi), p, i);
    if (cfg__string(x, it, pi, &s) != 0)
      continue;
    if (util_cidr_parse(s, &(*out)[*n], err, sizeof(err)) == 0)
      (*n)++;
    else
      cfg__err(x, pi, "%s", err);
    free(s);
  }
}

/* Reads the "gateway" section (every field has a default). */
static void parse_gateway(struct cfg__ctx *x, const cJSON *v, struct cfg_gateway *g) {
  if (v != NULL && cfg__check_object(x, v, "gateway", gateway_keys) != 0)
    v = NULL; /* reported; use the defaults */
  cfg__read_listen(x, v, "gateway", DEFAULT_LISTEN, &g->listen);
  cfg__read_ints(x, v, "gateway", cfg__gateway_ints, g);
  cfg__get_number(x, v, "gateway", "retry_budget", DEFAULT_RETRY_BUDGET, 0, 10, &g->retry_budget);
  read_health_path(x, v, g);
  read_access_log(x, v, g);
  cfg__read_cidrs(x, v, "gateway", "trusted_proxies", &g->trusted, &g->ntrusted);
  cfg__parse_rate_limit(x, cJSON_GetObjectItemCaseSensitive(v, "rate_limit"), g);
  cfg__parse_compression(x, cJSON_GetObjectItemCaseSensitive(v, "compression"), g);
  cfg__get_bool(x, v, "gateway", "proxy_protocol", 0, &g->proxy_protocol);
  const cJSON *tls = cJSON_GetObjectItemCaseSensitive(v, "tls");
  if (tls != NULL && !cJSON_IsNull(tls))
    cfg__parse_tls(x, tls, g);
}

/* Returns 1 when listening on a and on b would take the same port. */
static int same_socket(const struct cfg_listen *a, const struct cfg_listen *b) {
  if (a->port != b->port)
    return 0;
  int a_any = strcmp(a->host, "0.0.0.0") == 0 || strcmp(a->host, "::") == 0;
  int b_any = strcmp(b->host, "0.0.0.0") == 0 || strcmp(b->host, "::") == 0;
  return a_any || b_any || strcmp(a->host, b->host) == 0;
}

/* Reads the optional "admin" section; absent or null leaves it disabled. */
static void parse_admin(struct cfg__ctx *x, const cJSON *v, struct cfg *c) {
  if (v == NULL || cJSON_IsNull(v))
    return;
  if (cfg__check_object(x, v, "admin", admin_keys) != 0)
    return;
  c->admin.enabled = 1;
  cfg__read_listen(x, v, "admin", DEFAULT_ADMIN_LISTEN, &c->admin.listen);
  if (c->admin.listen.host != NULL && c->gateway.listen.host != NULL &&
      same_socket(&c->admin.listen, &c->gateway.listen))
    cfg__err(x, "admin.listen", "port %d is the gateway's: admin must not be on the public port",
             c->admin.listen.port);
  const struct cfg_tls *t = &c->gateway.tls;
  if (c->admin.listen.host != NULL && t->enabled && t->listen.host != NULL &&
      same_socket(&c->admin.listen, &t->listen))
    cfg__err(x, "admin.listen", "port %d is gateway.tls's: admin must not be on the public port",
             c->admin.listen.port);
}

/* Reads the "control" section: the control socket's path. */
static void parse_control(struct cfg__ctx *x, const cJSON *v, struct cfg_control *ctl) {
  struct sockaddr_un sun;
  if (v != NULL && cfg__check_object(x, v, "control", control_keys) != 0)
    v = NULL;
  cfg__get_path(x, v, "control", "socket", DEFAULT_SOCKET, &ctl->socket);
  if (ctl->socket != NULL && strlen(ctl->socket) >= sizeof(sun.sun_path))
    cfg__err(x, "control.socket", "\"%s\" is too long for a Unix socket (at most %zu bytes)",
             ctl->socket, sizeof(sun.sun_path) - 1);
}

/* Reads the "logs" section: where service output goes and its rotation. */
static void parse_logs(struct cfg__ctx *x, const cJSON *v, struct cfg_logs *l) {
  if (v != NULL && cfg__check_object(x, v, "logs", logs_keys) != 0)
    v = NULL;
  cfg__get_path(x, v, "logs", "dir", DEFAULT_LOGS_DIR, &l->dir);
  cfg__read_ints(x, v, "logs", cfg__logs_ints, l);
}

/* Reads the host-wide sections of root into c. */
void cfg__parse_host(struct cfg__ctx *x, const cJSON *root, struct cfg *c) {
  parse_gateway(x, cJSON_GetObjectItemCaseSensitive(root, "gateway"), &c->gateway);
  parse_admin(x, cJSON_GetObjectItemCaseSensitive(root, "admin"), c);
  parse_control(x, cJSON_GetObjectItemCaseSensitive(root, "control"), &c->control);
  parse_logs(x, cJSON_GetObjectItemCaseSensitive(root, "logs"), &c->logs);
}
