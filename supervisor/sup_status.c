/* sup_status — the `status` reply as JSON text. See sup_status.h. */
#include "sup_status.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc_text.h"
#include "sup_host.h"
#include "sup_service.h"
#include "sup_view.h"

/* ,"key": */
static void key(struct ipc_buf *b, const char *k) {
  ipc_buf_addc(b, ',');
  ipc_json_str(b, k, strlen(k));
  ipc_buf_addc(b, ':');
}

/* ,"key":N */
static void field_int(struct ipc_buf *b, const char *k, int64_t v) {
  key(b, k);
  ipc_buf_addi(b, v);
}

/* ,"key":"text" */
static void field_str(struct ipc_buf *b, const char *k, const char *v) {
  key(b, k);
  ipc_json_str(b, v, strlen(v));
}

/* A percentage with one decimal, written as cJSON would ("12.5", "3"). */
static void field_tenths(struct ipc_buf *b, const char *k, double v) {
  long long t = (long long)(v * 10 + 0.5);
  key(b, k);
  ipc_buf_addi(b, t / 10);
  if (t % 10 != 0) {
    ipc_buf_addc(b, '.');
    ipc_buf_addc(b, (char)('0' + t % 10));
  }
}

/* ,"address":"127.0.0.1:3000" ("[::1]:3000", "unix:/run/app.sock"): where
 * an upstream instance's process listens; nothing for the others. */
static void address_field(struct ipc_buf *b, const struct sup_instance *inst) {
  char text[160];
  if (sup_view_upstream_text(inst, text, sizeof(text)) == 0)
    field_str(b, "address", text);
}

/* One instance, its /proc figures read now. */
static void instance_json(struct ipc_buf *b, struct sup_instance *inst) {
  struct sup_instance_info ii;
  sup_view_instance_sample(inst);
  sup_view_instance_info(inst, &ii);
  ipc_buf_adds(b, "{\"index\":");
  ipc_buf_addi(b, ii.index);
  field_int(b, "pid", ii.pid);
  field_str(b, "state", ii.state_name);
  field_int(b, "restarts", ii.restarts);
  field_int(b, "uptime_ms", (int64_t)ii.uptime_ms);
  field_int(b, "rss_bytes", (int64_t)ii.rss_bytes);
  /* Over a second or more up to this reading, one decimal. */
  field_tenths(b, "cpu_percent", ii.cpu_percent);
  field_int(b, "inflight", ii.inflight);
  field_int(b, "requests", (int64_t)ii.requests);
  key(b, "last_exit");
  if (ii.last_code == -1 && ii.last_signal == 0) {
    ipc_buf_adds(b, "null");
  } else {
    ipc_buf_adds(b, "{\"code\":");
    ipc_buf_addi(b, ii.last_code);
    field_int(b, "signal", ii.last_signal);
    ipc_buf_addc(b, '}');
  }
  if (ii.has_health)
    field_int(b, "health_misses", ii.health_misses);
  if (ii.status_text)
    field_str(b, "status_text", ii.status_text); /* what it said in STATUS= (sd_notify) */
  address_field(b, inst);
  ipc_buf_addc(b, '}');
}

/* ,"key":["a","b"] when n > 0. */
static void field_names(struct ipc_buf *b, const char *k, const char **names, size_t n) {
  if (n == 0)
    return;
  key(b, k);
  ipc_buf_addc(b, '[');
  for (size_t i = 0; i < n; i++) {
    if (i > 0)
      ipc_buf_addc(b, ',');
    ipc_json_str(b, names[i], strlen(names[i]));
  }
  ipc_buf_addc(b, ']');
}

/* One service and its instances. */
static void service_json(struct ipc_buf *b, struct sup_host *h, struct sup_service *svc) {
  struct sup_service_info si;
  struct sup_instance *inst;
  const char *names[64];
  sup_view_service_info(svc, &si);
  ipc_buf_adds(b, "{\"name\":");
  ipc_json_str(b, si.name, strlen(si.name));
  field_str(b, "state", si.state_name);
  field_int(b, "restarts", (int64_t)si.restarts);
  field_int(b, "connections", (int64_t)si.connections);
  field_names(b, "waiting_for", names, sup_view_waiting_for(h, svc, names, 64));
  field_names(b, "failed_dependencies", names, sup_view_failed_dependencies(h, svc, names, 64));
  if (si.completed)
    ipc_buf_adds(b, ",\"completed\":true"); /* a one-shot job that ran to a clean exit */
  if (si.cron_next > 0) {                   /* cron_restart, as RFC 3339 UTC */
    char when[32];
    struct tm tm;
    time_t t = (time_t)si.cron_next;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    field_str(b, "next_cron_restart", when);
  }
  key(b, "instances");
  ipc_buf_addc(b, '[');
  for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++) {
    if (i > 0)
      ipc_buf_addc(b, ',');
    instance_json(b, inst);
  }
  ipc_buf_addc(b, ']');
  sup_host_service_status(h, svc, b); /* the gateway's: queued, quarantined */
  ipc_buf_addc(b, '}');
}

/* ,"hooks":[...] when there are hooks: what each one did. */
static void hooks_json(struct ipc_buf *b, struct sup_host *h) {
  struct sup_evhook_info hi;
  size_t n = sup_view_hook_count(h);
  if (n == 0)
    return;
  key(b, "hooks");
  ipc_buf_addc(b, '[');
  for (size_t i = 0; i < n; i++) {
    size_t ne = 0;
    sup_view_hook_info(h, i, &hi);
    while (hi.events[ne] != NULL)
      ne++;
    ipc_buf_adds(b, i ? ",{\"index\":" : "{\"index\":");
    ipc_buf_addi(b, hi.index);
    field_names(b, "events", (const char **)hi.events, ne);
    key(b, "running");
    ipc_buf_adds(b, hi.running ? "true" : "false");
    field_int(b, "queued", (int64_t)hi.queued);
    field_int(b, "runs", (int64_t)hi.runs);
    field_int(b, "failures", (int64_t)hi.failures);
    field_int(b, "killed", (int64_t)hi.killed);
    field_int(b, "dropped", (int64_t)hi.dropped);
    ipc_buf_addc(b, '}');
  }
  ipc_buf_addc(b, ']');
}

void sup_status_write(struct ipc_buf *b, struct sup_host *h, struct sup_service *one) {
  struct sup_service *svc;
  size_t n = 0;
  ipc_buf_adds(b, "{\"ok\":true,\"services\":[");
  for (size_t s = 0; (svc = sup_view_service(h, s)) != NULL; s++) {
    if (one != NULL && svc != one)
      continue;
    if (n++ > 0)
      ipc_buf_addc(b, ',');
    service_json(b, h, svc);
  }
  ipc_buf_addc(b, ']');
  if (one == NULL)
    hooks_json(b, h);
  ipc_buf_adds(b, "}\n");
}

/* The text b holds, parsed; b is freed. NULL on out of memory. */
static cJSON *parsed(struct ipc_buf *b) {
  cJSON *o = b->oom ? NULL : cJSON_ParseWithLength(b->data, b->len);
  ipc_buf_free(b);
  return o;
}

/* The readings of /proc are cached in the instance: writing the reply
 * updates them, which is why a const instance or host is cast here. */
cJSON *sup_status_instance(const struct sup_instance *inst) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  instance_json(&b, (struct sup_instance *)inst);
  return parsed(&b);
}

cJSON *sup_status_service(const struct sup_service *svc) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  service_json(&b, svc->host, (struct sup_service *)svc);
  return parsed(&b);
}

cJSON *sup_status_reply(const struct sup_host *host, const struct sup_service *one) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  sup_status_write(&b, (struct sup_host *)host, (struct sup_service *)one);
  return parsed(&b);
}
