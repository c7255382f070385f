/* cfg_realtime — the `realtime` section and a service's `ws` object (SPEC
 * §8): WebSocket and SSE limits, history, ack mode. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cfg_schema.h"

static const char *const realtime_keys[] = {"ws_max_message_bytes", "max_outbound_bytes",
                                            "ping_interval_ms",     "pong_timeout_ms",
                                            "sse_keepalive_ms",     "hold_ms",
                                            "max_rooms_per_conn",   "history_size",
                                            "history_ttl_s",        NULL};
static const char *const ws_keys[] = {"ack", NULL};

/* Reads the optional "realtime" section (every field has a default). */
void cfg__parse_realtime(struct cfg__ctx *x, const cJSON *root, struct cfg *c) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "realtime");
  if (v != NULL && cfg__check_object(x, v, "realtime", realtime_keys) != 0)
    v = NULL;
  cfg__read_ints(x, v, "realtime", cfg__realtime_ints, &c->realtime);
}

/* Reads services[i].ws: {"ack": true|false}. */
void cfg__parse_service_ws(struct cfg__ctx *x, const cJSON *v, const char *path,
                           struct cfg_service *s) {
  if (cfg__check_object(x, v, path, ws_keys) != 0)
    return;
  cfg__get_bool(x, v, path, "ack", s->ws_ack, &s->ws_ack);
}

/* ---- cluster ---- */

static const char *const cluster_keys[] = {"redis", "host_id", NULL};

int cfg__redis_url(const char *url, struct cfg_cluster *c, char *err, size_t errlen) {
  const char *p = url, *at, *colon;
  char host[64];
  if (strncmp(p, "redis://", 8) != 0) {
    snprintf(err, errlen, "must be redis://[:PASSWORD@]HOST[:PORT]");
    return UV_EINVAL;
  }
  p += 8;
  if ((at = strrchr(p, '@')) != NULL) {
    if (p[0] != ':' || at == p + 1) {
      snprintf(err, errlen, "the password goes as redis://:PASSWORD@HOST");
      return UV_EINVAL;
    }
    c->redis_password = strndup(p + 1, (size_t)(at - p - 1));
    p = at + 1;
  }
  colon = strrchr(p, ':');
  size_t hn = colon ? (size_t)(colon - p) : strlen(p);
  long port = colon ? strtol(colon + 1, NULL, 10) : 6379;
  if (hn == 0 || hn >= sizeof(host) || port < 1 || port > 65535 ||
      (colon && strspn(colon + 1, "0123456789") != strlen(colon + 1))) {
    snprintf(err, errlen, "must be redis://[:PASSWORD@]HOST[:PORT] with an IP address");
    return UV_EINVAL;
  }
  memcpy(host, p, hn);
  host[hn] = '\0';
  unsigned char bin[16];
  if (strcmp(host, "localhost") == 0)
    snprintf(host, sizeof(host), "127.0.0.1");
  else if (inet_pton(AF_INET, host, bin) != 1) {
    snprintf(err, errlen, "the host must be an IPv4 address (no DNS): \"%s\"", host);
    return UV_EINVAL;
  }
  c->redis_host = strdup(host);
  c->redis_port = (int)port;
  return 0;
}

/* 1 when s is [A-Za-z0-9._-]{1,64}. */
static int valid_host_id(const char *s) {
  size_t n = strlen(s);
  return n >= 1 && n <= 64 &&
         strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789._-") == n;
}

/* Reads the optional "cluster" section. */
void cfg__parse_cluster(struct cfg__ctx *x, const cJSON *root, struct cfg *c) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "cluster");
  char *url = NULL, err[160];
  if (v == NULL || cJSON_IsNull(v) || cfg__check_object(x, v, "cluster", cluster_keys) != 0)
    return;
  c->cluster.enabled = 1;
  if (cfg__get_string(x, v, "cluster", "redis", "redis://127.0.0.1:6379", &url) == 0 && url &&
      cfg__redis_url(url, &c->cluster, err, sizeof(err)) != 0)
    cfg__err(x, "cluster.redis", "%s", err);
  free(url);
  if (cfg__get_string(x, v, "cluster", "host_id", NULL, &c->cluster.host_id) == 0 &&
      c->cluster.host_id && !valid_host_id(c->cluster.host_id))
    cfg__err(x, "cluster.host_id", "must be 1..64 of [A-Za-z0-9._-]");
}
