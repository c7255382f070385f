/* cfg_hooks — the top-level "hooks" (SPEC §12):
 *
 *   "hooks": {"on_event": {"events": ["failed", "exit"], "command": [...]}}
 *
 * on_event is one hook or an array of them; each runs its command for the
 * events it names (docs/operating.md#event-hooks). */
#include "cfg_schema.h"

#include <stdlib.h>
#include <string.h>

static const char *const hooks_keys[] = {"on_event", NULL};
static const char *const hook_keys[] = {"events", "command", NULL};

/* Every event type muster emits (docs/control.md#events), and "*". */
static const char *const event_types[] = {
    "spawn",   "ready",      "exit",           "restart", "backoff",   "failed",  "stop",
    "drain",   "memory",     "scale",          "reload",  "restarted", "message", "unhealthy",
    "waiting", "quarantine", "restart-failed", "undrain", "completed", "watch",   "cron",
    "*",       NULL};

/* Reads "events": a non-empty array of event types. */
static void read_events(struct cfg__ctx *x, const cJSON *v, const char *p, struct cfg_hook *hk) {
  char pi[CFG__PATH_MAX];
  int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
  if (n == 0) {
    cfg__err(x, p, "must be a non-empty array of event types, got %s",
             v == NULL          ? "nothing"
             : cJSON_IsArray(v) ? "[]"
                                : cfg__type_name(v));
    return;
  }
  if ((hk->events = calloc((size_t)n + 1, sizeof(*hk->events))) == NULL) {
    cfg__err(x, p, "out of memory");
    return;
  }
  size_t i = 0;
  for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
    char *type;
    size_t k = 0;
    cfg__join_index(pi, sizeof(pi), p, i);
    if (cfg__string(x, it, pi, &type) != 0)
      continue;
    while (event_types[k] != NULL && strcmp(event_types[k], type) != 0)
      k++;
    if (event_types[k] == NULL) {
      cfg__err(x, pi,
               "\"%s\" is not an event type (spawn, ready, exit, restart, backoff, failed, "
               "stop, drain, undrain, memory, scale, restarted, restart-failed, reload, "
               "message, unhealthy, waiting, quarantine, or \"*\" for all)",
               type);
      free(type);
      continue;
    }
    hk->events[hk->nevents++] = type;
  }
}

/* Reads one hook object at p. */
static void read_hook(struct cfg__ctx *x, const cJSON *v, const char *p, struct cfg_hook *hk) {
  char pk[CFG__PATH_MAX];
  if (cfg__check_object(x, v, p, hook_keys) != 0)
    return;
  cfg__join(pk, sizeof(pk), p, "events");
  read_events(x, cJSON_GetObjectItemCaseSensitive(v, "events"), pk, hk);
  cfg__join(pk, sizeof(pk), p, "command");
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(v, "command");
  if (cmd == NULL)
    cfg__err(x, pk, "required");
  else
    cfg__read_argv(x, cmd, pk, &hk->command, &hk->ncommand);
}

void cfg__parse_hooks(struct cfg__ctx *x, const cJSON *root, struct cfg *c) {
  char p[CFG__PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "hooks");
  if (v == NULL || cfg__check_object(x, v, "hooks", hooks_keys) != 0)
    return;
  const cJSON *on = cJSON_GetObjectItemCaseSensitive(v, "on_event");
  if (on == NULL)
    return;
  int arr = cJSON_IsArray(on);
  size_t n = arr ? (size_t)cJSON_GetArraySize(on) : 1;
  if (n == 0)
    return;
  if ((c->hooks = calloc(n, sizeof(*c->hooks))) == NULL) {
    cfg__err(x, "hooks.on_event", "out of memory");
    return;
  }
  const cJSON *it = arr ? on->child : on;
  for (; it != NULL && c->nhooks < n; it = it->next) {
    if (arr)
      cfg__join_index(p, sizeof(p), "hooks.on_event", c->nhooks);
    else
      snprintf(p, sizeof(p), "hooks.on_event");
    read_hook(x, it, p, &c->hooks[c->nhooks++]);
  }
}
