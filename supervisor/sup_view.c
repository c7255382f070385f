/* sup_view — the read-only API. See sup_view.h. */
#include "sup_view.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "sup_deps.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_proc.h"
#include "sup_sdsock.h"
#include "util_unix.h"

struct sup_service *sup_view_service(const struct sup_host *h, size_t i) {
  for (size_t s = 0; s < h->nsvcs; s++) {
    if (h->svcs[s]->removed)
      continue;
    if (i-- == 0)
      return h->svcs[s];
  }
  return NULL;
}

struct sup_service *sup_view_find(const struct sup_host *h, const char *name) {
  for (size_t s = 0; s < h->nsvcs; s++)
    if (!h->svcs[s]->removed && strcmp(h->svcs[s]->cfg->name, name) == 0)
      return h->svcs[s];
  return NULL;
}

void sup_view_service_info(const struct sup_service *svc, struct sup_service_info *out) {
  memset(out, 0, sizeof(*out));
  out->name = svc->cfg->name;
  out->state = sup_service_state(svc);
  out->state_name = sup_sstate_name(out->state);
  out->restarts = svc->restarts_total;
  out->instances = svc->ninst;
  out->target = svc->target;
  out->completed = sup_service_completed(svc);
  out->cron_next = svc->cron && uv_is_active((uv_handle_t *)svc->cron) ? (int64_t)svc->cron_due : 0;
  out->connections = svc->connections;
  for (size_t i = 0; i < svc->ninst; i++) {
    out->ready += sup_instance_routable(svc->inst[i]);
    out->inflight += svc->inst[i]->inflight;
  }
}

size_t sup_view_waiting_for(const struct sup_host *h, const struct sup_service *svc,
                            const char **out, size_t max) {
  return sup_deps_waiting_for(h, svc, out, max);
}

size_t sup_view_failed_dependencies(const struct sup_host *h, const struct sup_service *svc,
                                    const char **out, size_t max) {
  return sup_deps_failed(h, svc, out, max);
}

const struct cfg_service *sup_view_service_cfg(const struct sup_service *svc) {
  return svc->cfg;
}

struct sup_instance *sup_view_instance(const struct sup_service *svc, size_t i) {
  return i < svc->ninst ? svc->inst[i] : NULL;
}

void sup_view_instance_info(const struct sup_instance *inst, struct sup_instance_info *out) {
  out->index = inst->index;
  out->pid = sup_instance_pid(inst);
  out->state = inst->state;
  out->state_name = sup_istate_name(inst->state);
  out->restarts = inst->restarts;
  out->uptime_ms = out->pid ? sup_now_ms() - inst->started_ms : 0;
  out->inflight = inst->inflight;
  out->requests = inst->requests;
  out->rss_bytes = out->pid ? inst->rss : 0;
  out->cpu_percent = out->pid && inst->cpu.pid == out->pid ? inst->cpu.percent : 0;
  out->last_code = inst->last_code;
  out->last_signal = inst->last_signal;
  out->has_health = inst->svc->cfg->health.kind != CFG_HEALTH_NONE;
  out->health_misses = inst->health_fails;
  const struct sup_sdsock *sd = inst->run ? inst->run->sd : NULL;
  out->status_text = sd && sd->status[0] ? sd->status : NULL;
}

void sup_view_instance_sample(struct sup_instance *inst) {
  sup_instance_sample(inst);
}

const char *sup_view_label(const struct sup_instance *inst) {
  return inst->label;
}

int sup_view_index(const struct sup_instance *inst) {
  return inst->index;
}

unsigned sup_view_inflight(const struct sup_instance *inst) {
  return inst->inflight;
}

struct sup_service *sup_view_owner(const struct sup_instance *inst) {
  return inst->svc;
}

size_t sup_view_hook_count(const struct sup_host *h) {
  return sup_evhooks_count(h->evhooks);
}

void sup_view_hook_info(const struct sup_host *h, size_t i, struct sup_evhook_info *out) {
  sup_evhooks_info(h->evhooks, i, out);
}

const struct cfg *sup_view_cfg(const struct sup_host *h) {
  return h->cfg;
}

int sup_view_draining(const struct sup_host *h) {
  return h->draining;
}

int sup_view_stopping(const struct sup_host *h) {
  return h->stopping;
}

int sup_view_upstream_addr(const struct sup_instance *inst, int *port, int *ipv6,
                           const char **path) {
  const struct sup_run *run = inst->run;
  if (run == NULL || (run->up_port == 0 && run->up_path == NULL))
    return UV_ENOENT;
  *port = run->up_port;
  *ipv6 = run->up_ipv6;
  *path = run->up_path;
  return 0;
}

int sup_view_upstream_text(const struct sup_instance *inst, char *buf, size_t n) {
  int port = 0, ipv6 = 0;
  const char *path = NULL;
  if (sup_view_upstream_addr(inst, &port, &ipv6, &path) != 0)
    return UV_ENOENT;
  if (path != NULL)
    snprintf(buf, n, "unix:%s", path);
  else
    snprintf(buf, n, "%s:%d", util_loopback_name(ipv6), port); /* "[::1]" */
  return 0;
}
