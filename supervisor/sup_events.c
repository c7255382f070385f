/* sup_events — event fan-out and listener lists. See sup_events.h. */
#include "sup_events.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "sup_host.h"
#include "sup_log.h"
#include "util_vec.h"

int sup_cblist_add(struct sup_cblist *l, void (*fn)(void), void *ctx) {
  if (util_vec_reserve(&l->v, &l->cap, l->n + 1) != 0)
    return UV_ENOMEM;
  l->v[l->n++] = (struct sup_cb){fn, ctx};
  return 0;
}

void sup_cblist_remove(struct sup_cblist *l, void (*fn)(void), void *ctx) {
  for (size_t i = 0; i < l->n; i++) {
    if (l->v[i].fn == fn && l->v[i].ctx == ctx) {
      memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
      l->n--;
      return;
    }
  }
}

void sup_cblist_free(struct sup_cblist *l) {
  free(l->v);
  memset(l, 0, sizeof(*l));
}

/* ---- Host events ---- */

char *sup_event_json(const struct sup_event *ev) {
  char ts[32];
  sup_log_timestamp(ts, sizeof(ts));
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "time", ts);
  cJSON_AddStringToObject(o, "type", ev->type);
  if (ev->service)
    cJSON_AddStringToObject(o, "service", ev->service);
  else
    cJSON_AddNullToObject(o, "service");
  cJSON_AddNumberToObject(o, "index", ev->index);
  cJSON_AddNumberToObject(o, "pid", ev->pid);
  cJSON_AddNumberToObject(o, "code", ev->code);
  cJSON_AddNumberToObject(o, "signal", ev->signal);
  cJSON_AddStringToObject(o, "detail", ev->detail ? ev->detail : "");
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return text;
}

/* How loud an event is in muster's own log: a `message` (one per
 * publication, which a chat makes hundreds of a second) only at debug. */
static enum sup_level level_of(const struct sup_host *h, const struct sup_event *ev) {
  if (strcmp(ev->type, "failed") == 0)
    return SUP_ERROR;
  if (strcmp(ev->type, "message") == 0)
    return SUP_DEBUG;
  if (strcmp(ev->type, "quarantine") == 0) /* the gateway's: a poison request */
    return SUP_WARN;
  if (strcmp(ev->type, "exit") == 0 && !h->stopping && !ev->asked && (ev->code != 0 || ev->signal))
    return SUP_WARN;
  return SUP_INFO;
}

void sup_host_emit(struct sup_host *h, const struct sup_event *ev) {
  enum sup_level lvl = level_of(h, ev);
  const char *detail = ev->detail ? ev->detail : "";
  if (ev->service && ev->index >= 0)
    sup_log(lvl, "%s[%d]: %s: %s", ev->service, ev->index, ev->type, detail);
  else if (ev->service)
    sup_log(lvl, "%s: %s: %s", ev->service, ev->type, detail);
  else
    sup_log(lvl, "%s: %s", ev->type, detail);
  struct sup_cblist *l = &h->listeners;
  for (size_t i = 0; i < l->n; i++) {
    size_t before = l->n; /* a listener may remove itself while called */
    ((sup_event_cb)l->v[i].fn)(l->v[i].ctx, ev);
    if (l->n < before)
      i--;
  }
}

void sup_host_add_listener(struct sup_host *h, sup_event_cb cb, void *ctx) {
  if (sup_cblist_add(&h->listeners, (void (*)(void))cb, ctx) != 0)
    sup_log(SUP_WARN, "events: out of memory adding a listener");
}

void sup_host_remove_listener(struct sup_host *h, sup_event_cb cb, void *ctx) {
  sup_cblist_remove(&h->listeners, (void (*)(void))cb, ctx);
}

/* ---- Service output to followers ---- */

void sup_host_add_log_listener(struct sup_host *h, sup_line_cb cb, void *ctx) {
  if (sup_cblist_add(&h->log_listeners, (void (*)(void))cb, ctx) != 0)
    sup_log(SUP_WARN, "logs: out of memory adding a follower");
}

void sup_host_remove_log_listener(struct sup_host *h, sup_line_cb cb, void *ctx) {
  sup_cblist_remove(&h->log_listeners, (void (*)(void))cb, ctx);
}

void sup_host_service_line(void *host, const char *label, const char *stream, const char *line,
                           size_t len) {
  struct sup_cblist *l = &((struct sup_host *)host)->log_listeners;
  for (size_t i = 0; i < l->n; i++) {
    size_t before = l->n;
    ((sup_line_cb)l->v[i].fn)(l->v[i].ctx, label, stream, line, len);
    if (l->n < before)
      i--;
  }
}
