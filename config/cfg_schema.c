/* cfg_schema — typed, range-checked readers and the integer ranges.
 * See cfg_schema.h. */
#include "cfg_schema.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- The integer fields: defaults and ranges ----
 *
 *  field                           default   allowed
 *  gateway.request_timeout_ms        30000   1..86400000 (1 day)
 *  gateway.header_timeout_ms         10000   1..3600000 (1 h)
 *  gateway.keepalive_timeout_ms       5000   0..3600000 (0 = no keep-alive)
 *  gateway.max_header_bytes          16384   1024..1048576
 *  gateway.max_body_bytes          1048576   0..33554432 (32 MiB: a body
 *                                            travels base64 in one IPC line,
 *                                            and lines stop at 64 MiB)
 *  gateway.max_connections           10000   1..1000000
 *  gateway.max_buffered_bytes    268435456   65536..68719476736 (64 GiB):
 *                                            response bytes queued for
 *                                            clients, all connections
 *  gateway.retries                       1   0..10
 *  gateway.queue_timeout_ms           2000   0..3600000 (0 = no queue)
 *  gateway.max_queued                 1024   0..1000000 (0 = no queue)
 *  gateway.quarantine_s                 30   0..86400 (0 = no quarantine)
 *  (gateway.retry_budget, a number: 0.2, 0..10; cfg_host.c)
 *  logs.max_bytes                 10485760   0 (never rotate) or
 *                                            4096..1099511627776 (1 TiB)
 *  logs.keep                             5   0..1000
 *  services[].instances                  1   1..1024, or "max" (one per CPU
 *                                            of muster's affinity mask, at
 *                                            most 1024)
 *  services[].ready_timeout_ms       10000   1..3600000
 *  services[].ready_after_ms            10   0..3600000 (ready "running" only)
 *  services[].heartbeat_ms            1000   0 (off) or 10..3600000
 *  services[].heartbeat_misses           3   1..1000
 *  services[].watchdog_ms                0   0 (off) or 10..3600000
 *  services[].stop_timeout_ms         5000   0..3600000 (0 = SIGKILL at once)
 *  services[].max_inflight            1024   1..1000000
 *  services[].max_memory_mb              0   0 (off)..4194304 (4 TiB)
 *  restart.backoff_initial_ms          100   1..3600000
 *  restart.backoff_max_ms            30000   1..86400000, >= backoff_initial
 *  restart.max_restarts                 10   0..1000000
 *  restart.window_s                     60   1..86400
 *  upstream.connect_timeout_ms        5000   1..600000
 *  upstream.idle_timeout_ms           4000   1..3600000 (under Node's 5 s
 *                                            keepAliveTimeout: muster closes
 *                                            first, the race stays rare)
 *  upstream.keepalive                   64   0 (no reuse)..100000
 *  tcp[].idle_timeout_ms            600000   0 (never) or 100..86400000
 *  tcp[].max_connections             10000   1..1000000
 */

#define INT_FIELD(type, field, def, min, max, zero_ok)                                             \
  { #field, offsetof(type, field), sizeof(((type *)0)->field), def, min, max, zero_ok }

const struct cfg__int_field cfg__gateway_ints[] = {
    INT_FIELD(struct cfg_gateway, request_timeout_ms, 30000, 1, 86400000, 0),
    INT_FIELD(struct cfg_gateway, header_timeout_ms, 10000, 1, 3600000, 0),
    INT_FIELD(struct cfg_gateway, keepalive_timeout_ms, 5000, 0, 3600000, 0),
    INT_FIELD(struct cfg_gateway, max_header_bytes, 16384, 1024, 1048576, 0),
    INT_FIELD(struct cfg_gateway, max_body_bytes, 1048576, 0, 33554432, 0),
    INT_FIELD(struct cfg_gateway, max_connections, 10000, 1, 1000000, 0),
    INT_FIELD(struct cfg_gateway, max_buffered_bytes, 268435456, 65536, INT64_C(68719476736), 0),
    INT_FIELD(struct cfg_gateway, retries, 1, 0, 10, 0),
    INT_FIELD(struct cfg_gateway, drain_delay_ms, 0, 0, 3600000, 0),
    INT_FIELD(struct cfg_gateway, queue_timeout_ms, 2000, 0, 3600000, 0),
    INT_FIELD(struct cfg_gateway, max_queued, 1024, 0, 1000000, 0),
    INT_FIELD(struct cfg_gateway, quarantine_s, 30, 0, 86400, 0),
    {NULL, 0, 0, 0, 0, 0, 0}};

const struct cfg__int_field cfg__realtime_ints[] = {
    INT_FIELD(struct cfg_realtime, ws_max_message_bytes, 65536, 125, 67108864, 0),
    INT_FIELD(struct cfg_realtime, max_outbound_bytes, 1048576, 65536, INT64_C(1073741824), 0),
    INT_FIELD(struct cfg_realtime, ping_interval_ms, 25000, 100, 3600000, 1),
    INT_FIELD(struct cfg_realtime, pong_timeout_ms, 20000, 100, 3600000, 0),
    INT_FIELD(struct cfg_realtime, sse_keepalive_ms, 15000, 100, 3600000, 1),
    INT_FIELD(struct cfg_realtime, hold_ms, 5000, 0, 3600000, 0),
    INT_FIELD(struct cfg_realtime, max_rooms_per_conn, 64, 1, 100000, 0),
    INT_FIELD(struct cfg_realtime, history_size, 0, 0, 1000000, 0),
    INT_FIELD(struct cfg_realtime, history_ttl_s, 300, 1, 31536000, 0),
    {NULL, 0, 0, 0, 0, 0, 0}};

const struct cfg__int_field cfg__logs_ints[] = {
    INT_FIELD(struct cfg_logs, max_bytes, 10485760, 4096, INT64_C(1099511627776), 1),
    INT_FIELD(struct cfg_logs, keep, 5, 0, 1000, 0),
    {NULL, 0, 0, 0, 0, 0, 0}};

/* Read apart from the others: it may also be "max" (cfg_run.c). */
const struct cfg__int_field cfg__instances_int[] = {
    INT_FIELD(struct cfg_service, instances, 1, 1, 1024, 0), {NULL, 0, 0, 0, 0, 0, 0}};

const struct cfg__int_field cfg__service_ints[] = {
    INT_FIELD(struct cfg_service, ready_timeout_ms, 10000, 1, 3600000, 0),
    INT_FIELD(struct cfg_service, ready_after_ms, 10, 0, 3600000, 0),
    INT_FIELD(struct cfg_service, heartbeat_ms, 1000, 10, 3600000, 1),
    INT_FIELD(struct cfg_service, heartbeat_misses, 3, 1, 1000, 0),
    INT_FIELD(struct cfg_service, watchdog_ms, 0, 10, 3600000, 1),
    INT_FIELD(struct cfg_service, stop_timeout_ms, 5000, 0, 3600000, 0),
    INT_FIELD(struct cfg_service, max_inflight, 1024, 1, 1000000, 0),
    INT_FIELD(struct cfg_service, max_memory_mb, 0, 0, 4194304, 0),
    {NULL, 0, 0, 0, 0, 0, 0}};

const struct cfg__int_field cfg__upstream_ints[] = {
    INT_FIELD(struct cfg_upstream, connect_timeout_ms, 5000, 1, 600000, 0),
    INT_FIELD(struct cfg_upstream, idle_timeout_ms, 4000, 1, 3600000, 0),
    INT_FIELD(struct cfg_upstream, keepalive, 64, 0, 100000, 0),
    {NULL, 0, 0, 0, 0, 0, 0}};

const struct cfg__int_field cfg__tcp_ints[] = {
    INT_FIELD(struct cfg_tcp_route, idle_timeout_ms, 600000, 100, 86400000, 1),
    INT_FIELD(struct cfg_tcp_route, max_connections, 10000, 1, 1000000, 0),
    {NULL, 0, 0, 0, 0, 0, 0}};

const struct cfg__int_field cfg__restart_ints[] = {
    INT_FIELD(struct cfg_restart, backoff_initial_ms, 100, 1, 3600000, 0),
    INT_FIELD(struct cfg_restart, backoff_max_ms, 30000, 1, 86400000, 0),
    INT_FIELD(struct cfg_restart, max_restarts, 10, 0, 1000000, 0),
    INT_FIELD(struct cfg_restart, window_s, 60, 1, 86400, 0),
    {NULL, 0, 0, 0, 0, 0, 0}};

/* ---- Messages and paths ---- */

void cfg__err(struct cfg__ctx *x, const char *path, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (path[0] != '\0')
    cfg_errors_add(x->errs, "%s: %s", path, msg);
  else
    cfg_errors_add(x->errs, "%s", msg);
  x->failed++;
}

/* Writes "parent.key" (or "key") into buf. */
void cfg__join(char *buf, size_t n, const char *parent, const char *key) {
  if (parent[0] != '\0')
    snprintf(buf, n, "%s.%s", parent, key);
  else
    snprintf(buf, n, "%s", key);
}

/* Writes "parent[i]" into buf. */
void cfg__join_index(char *buf, size_t n, const char *parent, size_t i) {
  snprintf(buf, n, "%s[%zu]", parent, i);
}

/* Returns the JSON type of v for messages ("a string"). */
const char *cfg__type_name(const cJSON *v) {
  if (v == NULL)
    return "nothing";
  if (cJSON_IsString(v))
    return "a string";
  if (cJSON_IsNumber(v))
    return "a number";
  if (cJSON_IsBool(v))
    return "a boolean";
  if (cJSON_IsNull(v))
    return "null";
  if (cJSON_IsArray(v))
    return "an array";
  if (cJSON_IsObject(v))
    return "an object";
  return "an invalid value";
}

/* Copies s into *out. Returns 0, or -1 (reported at path). */
int cfg__strdup(struct cfg__ctx *x, const char *path, const char *s, char **out) {
  *out = strdup(s);
  if (*out != NULL)
    return 0;
  cfg__err(x, path, "out of memory");
  return -1;
}

/* ---- Objects and unknown keys ---- */

/* Returns the edit distance of a and b, or 99 when either is long. */
static int distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  int row[33];
  if (la > 32 || lb > 32)
    return 99;
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* Returns the known key closest to a mistyped one, or NULL if none is. */
static const char *closest(const char *key, const char *const keys[]) {
  const char *best = NULL;
  int bestd = 3; /* at most two edits away */
  for (size_t i = 0; keys[i] != NULL; i++) {
    int d = distance(key, keys[i]);
    if (d < bestd && (size_t)d < strlen(keys[i])) {
      bestd = d;
      best = keys[i];
    }
  }
  return best;
}

/* Reports unknown and duplicate keys of obj. Returns -1 if not an object. */
int cfg__check_object(struct cfg__ctx *x, const cJSON *obj, const char *path,
                      const char *const keys[]) {
  unsigned char seen[32] = {0};
  char p[CFG__PATH_MAX];
  if (!cJSON_IsObject(obj)) {
    cfg__err(x, path, "must be an object, got %s", cfg__type_name(obj));
    return -1;
  }
  for (const cJSON *it = obj->child; it != NULL; it = it->next) {
    size_t k = 0;
    while (keys[k] != NULL && strcmp(keys[k], it->string) != 0)
      k++;
    cfg__join(p, sizeof(p), path, it->string);
    if (keys[k] == NULL) {
      const char *hint = closest(it->string, keys);
      if (hint != NULL)
        cfg__err(x, p, "unknown key (did you mean \"%s\"?)", hint);
      else
        cfg__err(x, p, "unknown key");
    } else if (k < sizeof(seen) && seen[k]++ == 1) {
      cfg__err(x, p, "duplicate key");
    }
  }
  return 0;
}

/* ---- Typed fields ---- */

/* Checks v against f. Returns 0 with *out set, or -1 (reported). */
static int read_int(struct cfg__ctx *x, const cJSON *v, const char *path,
                    const struct cfg__int_field *f, int64_t *out) {
  if (!cJSON_IsNumber(v)) {
    cfg__err(x, path, "must be an integer, got %s", cfg__type_name(v));
    return -1;
  }
  double d = v->valuedouble;
  int in_range = d >= -9e15 && d <= 9e15; /* exact in a double */
  if (in_range && d != (double)(int64_t)d) {
    cfg__err(x, path, "must be an integer, got %g", d);
    return -1;
  }
  int64_t i = in_range ? (int64_t)d : 0;
  if (!in_range || i > f->max || (i < f->min && !(f->zero_ok && i == 0))) {
    if (f->zero_ok)
      cfg__err(x, path, "must be 0 or %" PRId64 "..%" PRId64, f->min, f->max);
    else
      cfg__err(x, path, "must be %" PRId64 "..%" PRId64, f->min, f->max);
    return -1;
  }
  *out = i;
  return 0;
}

/* Reads every integer field of table into base, defaults when absent. */
void cfg__read_ints(struct cfg__ctx *x, const cJSON *obj, const char *path,
                    const struct cfg__int_field *table, void *base) {
  char p[CFG__PATH_MAX];
  for (const struct cfg__int_field *f = table; f->key != NULL; f++) {
    int64_t v = f->def;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, f->key);
    if (item != NULL) {
      cfg__join(p, sizeof(p), path, f->key);
      if (read_int(x, item, p, f, &v) != 0)
        v = f->def;
    }
    char *dst = (char *)base + f->offset;
    if (f->size == sizeof(int)) {
      int iv = (int)v;
      memcpy(dst, &iv, sizeof(iv));
    } else {
      memcpy(dst, &v, sizeof(v));
    }
  }
}

/* Reads the number obj[key] into *out: def when absent, def plus a
 * report when not a number within min..max. Returns 0 or -1. */
int cfg__get_number(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                    double def, double min, double max, double *out) {
  char p[CFG__PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  *out = def;
  if (v == NULL)
    return 0;
  cfg__join(p, sizeof(p), parent, key);
  if (!cJSON_IsNumber(v)) {
    cfg__err(x, p, "must be a number, got %s", cfg__type_name(v));
    return -1;
  }
  if (!(v->valuedouble >= min && v->valuedouble <= max)) {
    cfg__err(x, p, "must be %g..%g", min, max);
    return -1;
  }
  *out = v->valuedouble;
  return 0;
}

/* Reads boolean obj[key] (def when absent) into *out. Returns 0 or -1. */
int cfg__get_bool(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                  int def, int *out) {
  char p[CFG__PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  *out = def;
  if (v == NULL)
    return 0;
  if (!cJSON_IsBool(v)) {
    cfg__join(p, sizeof(p), parent, key);
    cfg__err(x, p, "must be true or false, got %s", cfg__type_name(v));
    return -1;
  }
  *out = cJSON_IsTrue(v);
  return 0;
}

/* Stores the expanded string v in *out. Returns 0 or -1 (reported). */
int cfg__string(struct cfg__ctx *x, const cJSON *v, const char *path, char **out) {
  char err[256];
  *out = NULL;
  if (!cJSON_IsString(v) || v->valuestring == NULL) {
    cfg__err(x, path, "must be a string, got %s", cfg__type_name(v));
    return -1;
  }
  const struct cfg_env *env = x->env;
  if (cfg_expand(v->valuestring, env->getenv, env->getenv_ctx, out, err, sizeof(err)) != 0) {
    cfg__err(x, path, "%s", err);
    return -1;
  }
  return 0;
}

/* Reads string obj[key] (def when absent) into *out. Returns 0 or -1. */
int cfg__get_string(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                    const char *def, char **out) {
  char p[CFG__PATH_MAX];
  cfg__join(p, sizeof(p), parent, key);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (v != NULL && cfg__string(x, v, p, out) == 0)
    return 0;
  *out = NULL;
  if (def != NULL && cfg__strdup(x, p, def, out) != 0)
    return -1;
  return v == NULL ? 0 : -1;
}

/* Reads path obj[key] (def when absent), resolved. Returns 0 or -1. */
int cfg__get_path(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                  const char *def, char **out) {
  char p[CFG__PATH_MAX];
  char *s;
  int rc = cfg__get_string(x, obj, parent, key, def, &s);
  *out = NULL;
  cfg__join(p, sizeof(p), parent, key);
  if (s != NULL && s[0] == '\0') {
    cfg__err(x, p, "must not be empty");
    free(s);
    s = NULL;
    rc = -1;
    if (def != NULL && cfg__strdup(x, p, def, &s) != 0)
      return -1;
  }
  if (s == NULL)
    return rc;
  *out = cfg_path_resolve(x->env->dir, s);
  free(s);
  if (*out == NULL) {
    cfg__err(x, p, "out of memory");
    return -1;
  }
  return rc;
}

int cfg__get_choice(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                    const char *const *words, int *out) {
  char p[CFG__PATH_MAX], list[256], *v;
  size_t k = 0;
  *out = 0;
  if (cfg__get_string(x, obj, parent, key, words[0], &v) != 0 || v == NULL) {
    free(v);
    return -1;
  }
  for (int i = 0; words[i] != NULL; i++) {
    if (strcmp(v, words[i]) == 0) {
      *out = i;
      free(v);
      return 0;
    }
  }
  for (int i = 0; words[i] != NULL && k < sizeof(list); i++) /* "a", "b" or "c" */
    k += (size_t)snprintf(list + k, sizeof(list) - k, "%s\"%s\"",
                          i == 0         ? ""
                          : words[i + 1] ? ", "
                                         : " or ",
                          words[i]);
  cfg__join(p, sizeof(p), parent, key);
  cfg__err(x, p, "must be %s, got \"%s\"", list, v);
  free(v);
  return -1;
}
