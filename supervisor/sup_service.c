/* sup_service — a service's instances and state. See sup_service.h. */
#include "sup_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_host.h"
#include "sup_log.h"

static const char *const sstate_names[] = {
#define XX(e, s) s,
    SUP_SSTATE_MAP(XX)
#undef XX
};

const char *sup_sstate_name(enum sup_sstate s) {
  return sstate_names[s];
}

struct sup_service *sup_service_new(struct sup_host *host, const struct cfg_service *cfg) {
  char path[4096], err[256];
  const struct cfg *c = sup_host_cfg(host);
  struct sup_service *svc = calloc(1, sizeof(*svc));
  if (svc == NULL)
    return NULL;
  svc->host = host;
  svc->cfg = cfg;
  snprintf(path, sizeof(path), "%s/%s.log", c->logs.dir, cfg->name);
  svc->log = sup_logfile_open(path, (uint64_t)c->logs.max_bytes, c->logs.keep, err, sizeof(err));
  if (svc->log == NULL) {
    sup_log(SUP_ERROR, "%s: cannot open its log: %s", cfg->name, err);
    goto out_free;
  }
  if (sup_window_init(&svc->window, (unsigned)cfg->restart.max_restarts,
                      (uint64_t)cfg->restart.window_s * 1000) < 0)
    goto out_free;
  svc->inst = calloc((size_t)cfg->instances, sizeof(*svc->inst));
  if (svc->inst == NULL)
    goto out_free;
  for (int i = 0; i < cfg->instances; i++) {
    if ((svc->inst[i] = sup_instance_new(svc, i)) == NULL)
      goto out_free;
    svc->ninst++;
  }
  return svc;
out_free:
  sup_service_free(svc);
  return NULL;
}

void sup_service_free(struct sup_service *svc) {
  for (size_t i = 0; i < svc->ninst; i++)
    sup_instance_free(svc->inst[i]);
  free(svc->inst);
  sup_window_free(&svc->window);
  if (svc->log)
    sup_logfile_close(svc->log);
  free(svc);
}

void sup_service_start(struct sup_service *svc) {
  svc->stopped = 0;
  svc->failed = 0;
  sup_window_clear(&svc->window);
  for (size_t i = 0; i < svc->ninst; i++) {
    struct sup_instance *inst = svc->inst[i];
    if (inst->state == SUP_I_EXITED || inst->state == SUP_I_BACKOFF) {
      sup_backoff_reset(&inst->backoff);
      sup_instance_stop(inst, SUP_STOP_RESTART); /* exited/backoff: start now */
    }
  }
}

void sup_service_stop(struct sup_service *svc) {
  svc->stopped = 1;
  for (size_t i = 0; i < svc->ninst; i++)
    sup_instance_stop(svc->inst[i], SUP_STOP_FINAL);
}

int sup_service_all_exited(const struct sup_service *svc) {
  for (size_t i = 0; i < svc->ninst; i++)
    if (svc->inst[i]->run != NULL)
      return 0;
  return 1;
}

enum sup_sstate sup_service_state(const struct sup_service *svc) {
  size_t ready = 0, starting = 0, alive = 0;
  if (svc->failed)
    return SUP_S_FAILED;
  for (size_t i = 0; i < svc->ninst; i++) {
    enum sup_istate s = svc->inst[i]->state;
    ready += s == SUP_I_READY;
    starting += s == SUP_I_STARTING || s == SUP_I_BACKOFF;
    alive += s != SUP_I_EXITED;
  }
  if (alive == 0)
    return SUP_S_STOPPED;
  if (ready == svc->ninst)
    return SUP_S_RUNNING;
  if (ready == 0 && starting > 0)
    return SUP_S_STARTING;
  return SUP_S_DEGRADED;
}

void sup_service_changed(struct sup_service *svc) {
  sup_host_service_changed(svc->host, svc);
}

void sup_service_fail(struct sup_service *svc, struct sup_instance *inst) {
  char detail[128];
  svc->failed = 1;
  snprintf(detail, sizeof(detail),
           "more than %d restarts within %d s; not restarting until `musterctl start %s`",
           svc->cfg->restart.max_restarts, svc->cfg->restart.window_s, svc->cfg->name);
  struct sup_event ev = {.type = "failed", .service = svc->cfg->name, .index = -1,
                         .code = inst->last_code, .signal = inst->last_signal,
                         .detail = detail};
  sup_host_emit(svc->host, &ev);
  sup_service_changed(svc);
}
