/* cfg_realtime — the `realtime` section and a service's `ws` object (SPEC
 * §8): WebSocket and SSE limits, history, ack mode. */
#include <string.h>

#include "cfg_schema.h"

static const char *const realtime_keys[] = {
    "ws_max_message_bytes", "max_outbound_bytes", "ping_interval_ms", "pong_timeout_ms",
    "sse_keepalive_ms",     "hold_ms",            "max_rooms_per_conn", "history_size",
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
  char p[CFG__PATH_MAX];
  if (cfg__check_object(x, v, path, ws_keys) != 0)
    return;
  const cJSON *ack = cJSON_GetObjectItemCaseSensitive(v, "ack");
  if (ack == NULL)
    return;
  cfg__join(p, sizeof(p), path, "ack");
  if (!cJSON_IsBool(ack))
    cfg__err(x, p, "must be true or false, got %s", cfg__type_name(ack));
  else
    s->ws_ack = cJSON_IsTrue(ack);
}
