/* cfg_upstream — programs that serve for themselves (SPEC §9): a
 * service's `upstream` object and the top-level `tcp` routes, with the
 * checks that need the whole config (port ranges that overlap, a TCP route
 * naming a service that has no upstream, muster's own ports). */
#include "cfg_schema.h"

#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static const char *const upstream_keys[] = {
    "port", "unix", "ready", "connect_timeout_ms", "idle_timeout_ms", "keepalive", "balance", NULL};
static const char *const tcp_keys[] = {"listen",
                                       "service",
                                       "idle_timeout_ms",
                                       "max_connections",
                                       "proxy_protocol",
                                       "send_proxy_protocol",
                                       NULL};

/* Variables muster sets for an upstream's instances; env may not hide them. */
static const char *const upstream_env[] = {"PORT", "MUSTER_SOCKET", NULL};

/* ---- services[].upstream ---- */

/* Reads upstream.port: 1..65535, and the last instance's port too. */
static void read_port(struct cfg__ctx *x, const cJSON *v, const char *path, struct cfg_service *s) {
  char p[CFG__PATH_MAX];
  cfg__join(p, sizeof(p), path, "port");
  double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
  if (!cJSON_IsNumber(v) || d != (double)(int64_t)d) {
    cfg__err(x, p, "must be an integer, got %s", cfg__type_name(v));
    return;
  }
  if (d < 1 || d > 65535) {
    cfg__err(x, p, "must be 1..65535");
    return;
  }
  s->upstream.port = (int)d; /* with instances: check_instances() */
}

/* Reads upstream.unix: a path (against the config directory) to which
 * ".INDEX" is added per instance (its length: check_instances()). */
static void read_unix(struct cfg__ctx *x, const cJSON *obj, const char *path,
                      struct cfg_service *s) {
  cfg__get_path(x, obj, path, "unix", NULL, &s->upstream.unix_path);
}

void cfg__parse_service_upstream(struct cfg__ctx *x, const cJSON *v, const char *path,
                                 struct cfg_service *s) {
  if (cfg__check_object(x, v, path, upstream_keys) != 0)
    return;
  s->upstream.enabled = 1;
  const cJSON *port = cJSON_GetObjectItemCaseSensitive(v, "port");
  const cJSON *un = cJSON_GetObjectItemCaseSensitive(v, "unix");
  if ((port == NULL) == (un == NULL))
    cfg__err(x, path, "needs exactly one of \"port\" and \"unix\"");
  else if (port != NULL)
    read_port(x, port, path, s);
  else
    read_unix(x, v, path, s);
  static const char *const ready[] = {"port", "message", "notify", NULL};
  static const char *const balance[] = {"least_inflight", "ip_hash", NULL}; /* CFG_BALANCE_* */
  int r = 0, bal = 0;
  cfg__get_choice(x, v, path, "ready", ready, &r);
  cfg__get_choice(x, v, path, "balance", balance, &bal);
  static const enum cfg_ready ready_of[3] = {CFG_READY_PORT, CFG_READY_MESSAGE, CFG_READY_NOTIFY};
  s->upstream.ready = ready_of[r];
  s->upstream.balance = bal ? CFG_BALANCE_IP_HASH : CFG_BALANCE_LEAST;
  cfg__read_ints(x, v, path, cfg__upstream_ints, &s->upstream);
}

/* ---- tcp[] ---- */

/* Reads tcp[i] (at path) into r. */
static void parse_tcp_route(struct cfg__ctx *x, const cJSON *obj, const char *path,
                            struct cfg_tcp_route *r) {
  char p[CFG__PATH_MAX], err[256], *s = NULL;
  if (cfg__check_object(x, obj, path, tcp_keys) != 0)
    return;
  cfg__join(p, sizeof(p), path, "listen");
  if (cJSON_GetObjectItemCaseSensitive(obj, "listen") == NULL)
    cfg__err(x, p, "required");
  else if (cfg__get_string(x, obj, path, "listen", NULL, &s) == 0 && s != NULL &&
           cfg_listen_parse(s, &r->listen, err, sizeof(err)) != 0)
    cfg__err(x, p, "%s", err);
  free(s);
  cfg__join(p, sizeof(p), path, "service");
  if (cJSON_GetObjectItemCaseSensitive(obj, "service") == NULL)
    cfg__err(x, p, "required");
  else
    cfg__get_string(x, obj, path, "service", NULL, &r->service);
  cfg__read_ints(x, obj, path, cfg__tcp_ints, r);
  cfg__get_bool(x, obj, path, "proxy_protocol", 0, &r->proxy_protocol);
  cfg__get_bool(x, obj, path, "send_proxy_protocol", 0, &r->send_proxy_protocol);
}

void cfg__parse_tcp(struct cfg__ctx *x, const cJSON *root, struct cfg *c) {
  char p[CFG__PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "tcp");
  if (v == NULL)
    return;
  if (!cJSON_IsArray(v)) {
    cfg__err(x, "tcp", "must be an array, got %s", cfg__type_name(v));
    return;
  }
  int n = cJSON_GetArraySize(v);
  if (n == 0)
    return;
  if ((c->tcp = calloc((size_t)n, sizeof(*c->tcp))) == NULL) {
    cfg__err(x, "tcp", "out of memory");
    return;
  }
  for (const cJSON *it = v->child; it != NULL; it = it->next) {
    struct cfg_tcp_route *r = &c->tcp[c->ntcp++];
    cfg__join_index(p, sizeof(p), "tcp", c->ntcp - 1);
    parse_tcp_route(x, it, p, r);
  }
}

/* ---- Checks across the config ---- */

/* The last instance's address must exist: its port at most 65535, its
 * "PATH.N" short enough for a Unix socket address. Checked once the whole
 * service is read ("instances" may be "max"). */
static void check_instances(struct cfg__ctx *x, const struct cfg_service *s, size_t i) {
  struct sockaddr_un sun;
  char p[CFG__PATH_MAX], last[16];
  const struct cfg_upstream *u = &s->upstream;
  if (u->port && u->port + s->instances - 1 > 65535) {
    snprintf(p, sizeof(p), "services[%zu].upstream.port", i);
    cfg__err(x, p, "%d + %d instances goes past port 65535", u->port, s->instances);
  }
  int n = snprintf(last, sizeof(last), ".%d", s->instances - 1);
  if (u->unix_path && strlen(u->unix_path) + (size_t)n >= sizeof(sun.sun_path)) {
    snprintf(p, sizeof(p), "services[%zu].upstream.unix", i);
    cfg__err(x, p, "\"%s%s\" is too long for a Unix socket (at most %zu bytes)", u->unix_path, last,
             sizeof(sun.sun_path) - 1);
  }
}

/* Reports env keys of an upstream service that muster sets itself, and
 * a `ws` object (WebSocket to an upstream is tunnelled, not relayed). */
static void check_upstream_service(struct cfg__ctx *x, const struct cfg_service *s, size_t i) {
  char p[CFG__PATH_MAX];
  check_instances(x, s, i);
  for (size_t k = 0; k < s->nenv; k++)
    for (size_t r = 0; upstream_env[r] != NULL; r++)
      if (strcmp(s->env[k].name, upstream_env[r]) == 0) {
        snprintf(p, sizeof(p), "services[%zu].env.%s", i, s->env[k].name);
        cfg__err(x, p, "reserved: muster sets it for each instance of an upstream");
      }
  if (s->ws_ack) {
    snprintf(p, sizeof(p), "services[%zu].ws", i);
    cfg__err(x, p, "applies to IPC services only: an upstream's WebSockets are tunnelled");
  }
}

/* The name of what already takes TCP port port on loopback among
 * muster's own listeners (gateway, its TLS one, admin, tcp routes before tcp[upto]),
 * or NULL. */
static const char *own_listener(const struct cfg *c, int port, size_t upto, char *buf, size_t n) {
  if (c->gateway.listen.host && c->gateway.listen.port == port)
    return "gateway.listen";
  if (c->gateway.tls.enabled && c->gateway.tls.listen.host && c->gateway.tls.listen.port == port)
    return "gateway.tls.listen";
  if (c->admin.enabled && c->admin.listen.host && c->admin.listen.port == port)
    return "admin.listen";
  for (size_t t = 0; t < upto && t < c->ntcp; t++)
    if (c->tcp[t].listen.host && c->tcp[t].listen.port == port) {
      snprintf(buf, n, "tcp[%zu].listen", t);
      return buf;
    }
  return NULL;
}

/* Reports an upstream's ports that another upstream or one of muster's
 * listeners takes (instances i and j would fight over them). */
static void check_ports(struct cfg__ctx *x, const struct cfg *c, size_t i) {
  const struct cfg_service *a = &c->services[i];
  char p[CFG__PATH_MAX], buf[48];
  int lo = a->upstream.port, hi = lo + a->instances - 1;
  if (lo == 0)
    return;
  snprintf(p, sizeof(p), "services[%zu].upstream.port", i);
  for (size_t j = 0; j < i; j++) {
    const struct cfg_service *b = &c->services[j];
    int blo = b->upstream.port, bhi = blo + b->instances - 1;
    if (blo != 0 && lo <= bhi && blo <= hi && b->name && a->name)
      cfg__err(x, p, "ports %d..%d of \"%s\" overlap ports %d..%d of \"%s\"", lo, hi, a->name, blo,
               bhi, b->name);
  }
  for (int port = lo; port <= hi; port++) {
    const char *who = own_listener(c, port, c->ntcp, buf, sizeof(buf));
    if (who) {
      cfg__err(x, p, "port %d is muster's own (%s)", port, who);
      break;
    }
  }
}

/* Reports a TCP route whose service is unknown or has no upstream, and
 * one whose port another listener of muster takes. */
static void check_tcp_route(struct cfg__ctx *x, const struct cfg *c, size_t t) {
  const struct cfg_tcp_route *r = &c->tcp[t];
  char p[CFG__PATH_MAX], buf[48];
  if (r->service != NULL) {
    const struct cfg_service *s = cfg_find_service(c, r->service);
    snprintf(p, sizeof(p), "tcp[%zu].service", t);
    if (s == NULL)
      cfg__err(x, p, "no service is called \"%s\"", r->service);
    else if (!s->upstream.enabled)
      cfg__err(x, p,
               "\"%s\" has no upstream: a TCP route needs a program listening on a "
               "port or a socket",
               r->service);
  }
  if (r->listen.host == NULL)
    return;
  const char *who = own_listener(c, r->listen.port, t, buf, sizeof(buf));
  if (who) {
    snprintf(p, sizeof(p), "tcp[%zu].listen", t);
    cfg__err(x, p, "port %d is already muster's %s", r->listen.port, who);
  }
}

void cfg__check_upstreams(struct cfg__ctx *x, const struct cfg *c) {
  for (size_t i = 0; i < c->nservices; i++) {
    if (!c->services[i].upstream.enabled)
      continue;
    check_upstream_service(x, &c->services[i], i);
    check_ports(x, c, i);
  }
  for (size_t t = 0; t < c->ntcp; t++)
    check_tcp_route(x, c, t);
}

/* Frees what the TCP routes of c own. */
void cfg__tcp_free(struct cfg *c) {
  for (size_t t = 0; t < c->ntcp; t++) {
    free(c->tcp[t].listen.host);
    free(c->tcp[t].service);
  }
  free(c->tcp);
}
