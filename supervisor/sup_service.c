/* sup_service — a service's instances and state. See sup_service.h. */
#include "sup_service.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "sup_host.h"
#include "sup_log.h"
#include "sup_logfile.h"
#include "sup_triggers.h"
#include "util_vec.h"

static const char *const sstate_names[] = {
#define XX(e, s) s,
    SUP_SSTATE_MAP(XX)
#undef XX
};

const char *sup_sstate_name(enum sup_sstate s) {
  return sstate_names[s];
}

static void on_step(uv_timer_t *t);

struct sup_service *sup_service_new(struct sup_host *host, const struct cfg_service *cfg) {
  char path[4096], err[256];
  const struct cfg *c = sup_host_cfg(host);
  struct sup_service *svc = calloc(1, sizeof(*svc));
  if (svc == NULL)
    return NULL;
  svc->host = host;
  svc->cfg = cfg;
  svc->target = (size_t)cfg->instances;
  uv_timer_init(sup_host_loop(host), &svc->step);
  svc->step.data = svc;
  snprintf(path, sizeof(path), "%s/%s.log", c->logs.dir, cfg->name);
  svc->log = sup_logfile_open(path, (uint64_t)c->logs.max_bytes, c->logs.keep, err, sizeof(err));
  if (svc->log == NULL) {
    sup_log(SUP_ERROR, "%s: cannot open its log: %s", cfg->name, err);
    goto out_free;
  }
  if (sup_window_init(&svc->window, (unsigned)cfg->restart.max_restarts,
                      (uint64_t)cfg->restart.window_s * 1000) < 0)
    goto out_free;
  if (util_vec_reserve(&svc->inst, &svc->capinst, (size_t)cfg->instances) != 0)
    goto out_free;
  for (int i = 0; i < cfg->instances; i++) {
    if ((svc->inst[i] = sup_instance_new(svc, i)) == NULL)
      goto out_free;
    svc->ninst++;
  }
  sup_triggers_open(svc);
  return svc;
out_free:
  sup_service_free(svc);
  return NULL;
}

static void on_step_closed(uv_handle_t *h) {
  free(h->data);
}

void sup_service_free(struct sup_service *svc) {
  sup_triggers_close(svc);
  for (size_t i = 0; i < svc->ninst; i++)
    sup_instance_free(svc->inst[i]);
  free(svc->inst);
  sup_window_free(&svc->window);
  if (svc->log)
    sup_logfile_close(svc->log);
  uv_close((uv_handle_t *)&svc->step, on_step_closed); /* frees svc */
}

void sup_service_start(struct sup_service *svc) {
  svc->stopped = 0;
  svc->failed = 0;
  svc->waiting = 0;
  sup_window_clear(&svc->window);
  sup_host_service_reset(svc->host, svc); /* the gateway lifts its quarantine */
  for (size_t i = 0; i < svc->ninst; i++) {
    struct sup_instance *inst = svc->inst[i];
    if (inst->state == SUP_I_EXITED || inst->state == SUP_I_BACKOFF) {
      sup_backoff_reset(&inst->backoff);
      sup_instance_start(inst);
    }
  }
}

size_t sup_service_signal(struct sup_service *svc, int sig) {
  size_t n = 0;
  for (size_t i = 0; i < svc->ninst; i++) {
    pid_t pid = sup_instance_pid(svc->inst[i]);
    n += pid > 0 && kill(pid, sig) == 0;
  }
  return n;
}

int64_t sup_service_flush_log(struct sup_service *svc) {
  return sup_logfile_flush(svc->log);
}

void sup_service_stop(struct sup_service *svc) {
  svc->stopped = 1;
  svc->waiting = 0;
  for (size_t i = 0; i < svc->ninst; i++)
    sup_instance_stop(svc->inst[i]);
}

int sup_service_completed(const struct sup_service *svc) {
  if (svc->cfg->ready != CFG_READY_EXITED || svc->ninst == 0)
    return 0;
  for (size_t i = 0; i < svc->ninst; i++)
    if (!svc->inst[i]->completed || svc->inst[i]->state != SUP_I_EXITED)
      return 0;
  return 1;
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
  if (svc->waiting)
    return SUP_S_STARTING; /* for its dependencies */
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
  uv_timer_start(&svc->step, on_step, 0, 0); /* scale/roll at a safe point */
  sup_host_service_changed(svc->host, svc);
}

int sup_service_gone(const struct sup_service *svc) {
  return svc->removed && sup_service_all_exited(svc);
}

/* ---- Scale ---- */

/* Appends a new instance with index idx; started unless the service is
 * stopped or failed. Returns it or NULL. */
static struct sup_instance *add_instance(struct sup_service *svc, int idx, int start) {
  if (util_vec_reserve(&svc->inst, &svc->capinst, svc->ninst + 1) != 0)
    return NULL;
  struct sup_instance *inst = sup_instance_new(svc, idx);
  if (inst == NULL)
    return NULL;
  svc->inst[svc->ninst++] = inst;
  if (start && !svc->stopped && !svc->failed && !svc->waiting && !sup_host_stopping(svc->host))
    sup_instance_start(inst);
  return inst;
}

/* Drops exited instances marked for removal from the tail of the array. */
static void reap_removed(struct sup_service *svc) {
  while (svc->ninst > 0) {
    struct sup_instance *last = svc->inst[svc->ninst - 1];
    if (!last->removing || last->state != SUP_I_EXITED || last->run || svc->roll.repl == last)
      break;
    svc->ninst--;
    sup_instance_free(last);
  }
}

int sup_service_scale(struct sup_service *svc, size_t n) {
  char detail[64];
  if (svc->roll.active)
    return UV_EBUSY;
  size_t have = 0;
  for (size_t i = 0; i < svc->ninst; i++)
    have += !svc->inst[i]->removing;
  snprintf(detail, sizeof(detail), "%zu -> %zu instances", have, n);
  svc->target = n;
  for (size_t i = 0; i < svc->ninst; i++) {
    struct sup_instance *inst = svc->inst[i];
    if ((size_t)inst->index >= n && !inst->removing) {
      inst->removing = 1;
      sup_instance_drain(inst);
    } else if ((size_t)inst->index < n && inst->removing && inst->state != SUP_I_EXITED) {
      /* scaled back up while it was leaving: let it leave, re-add below */
    }
  }
  reap_removed(svc);
  for (size_t idx = 0; idx < n; idx++) {
    int present = 0;
    for (size_t i = 0; i < svc->ninst && !present; i++)
      present = (size_t)svc->inst[i]->index == idx && !svc->inst[i]->removing;
    if (!present && add_instance(svc, (int)idx, 1) == NULL)
      return UV_ENOMEM;
  }
  struct sup_event ev = {
      .type = "scale", .service = svc->cfg->name, .index = -1, .code = -1, .detail = detail};
  sup_host_emit(svc->host, &ev);
  return 0;
}

/* ---- Rolling restart ---- */

/* Why a rolling restart gave up: the instance it waited for did not come
 * up, or was stopped with its service (a stop, a reload removing it). */
static const char *roll_failure(const struct sup_service *svc, const char *why) {
  return svc->removed   ? "the service was removed by a reload"
         : svc->stopped ? "the service was stopped"
                        : why;
}

static void roll_finish(struct sup_service *svc, const char *err) {
  struct sup_roll r = svc->roll;
  memset(&svc->roll, 0, sizeof(svc->roll));
  struct sup_event ev = {.type = err ? "restart-failed" : "restarted",
                         .service = svc->cfg->name,
                         .index = -1,
                         .code = -1,
                         .detail = err ? err : "every instance replaced"};
  sup_host_emit(svc->host, &ev);
  if (r.cb)
    r.cb(r.ctx, err);
}

/* Removes inst (exited) from the array and frees it. */
static void drop_instance(struct sup_service *svc, struct sup_instance *inst) {
  for (size_t i = 0; i < svc->ninst; i++) {
    if (svc->inst[i] == inst) {
      memmove(&svc->inst[i], &svc->inst[i + 1], (svc->ninst - i - 1) * sizeof(*svc->inst));
      svc->ninst--;
      break;
    }
  }
  sup_instance_free(inst);
}

/* ---- Rolling restart in place (upstreams, SPEC §9; workers) ----
 * An upstream instance listens on its index's own port or socket, so a
 * replacement cannot start beside it (and its readiness probe would be
 * answered by the old process). A worker serves no request that an
 * overlap would keep, and two copies of one (a scheduler, a consumer
 * that must run once) may do the same work twice: it is restarted as
 * supervisord and `pm2 restart` do. Each instance is drained, stopped
 * and started again instead, while the others go on. */

/* Begins replacing old in place. */
static void in_place_begin(struct sup_roll *r, struct sup_instance *old) {
  r->old = old;
  if (old->state == SUP_I_READY) {
    r->in_place = 1;
    sup_instance_drain(old);
  } else {
    r->in_place = 2;
    sup_instance_restart(old);
  }
}

/* Advances the in-place replacement of r->old. Returns 1 when it is done
 * (ready again), 0 to wait, -1 when it did not come back. */
static int in_place_step(struct sup_roll *r) {
  struct sup_instance *old = r->old;
  if (r->in_place == 1) {
    if (old->state == SUP_I_EXITED && old->run == NULL)
      sup_instance_start(old);
    if (old->state == SUP_I_EXITED || old->state == SUP_I_DRAINING || old->state == SUP_I_STOPPING)
      return 0;
    r->in_place = 2;
  }
  if (old->state == SUP_I_READY)
    return 1;
  return old->state == SUP_I_EXITED || old->state == SUP_I_BACKOFF ? -1 : 0;
}

/* The rolling restart of an upstream service or a worker: one instance
 * at a time. */
static void roll_step_in_place(struct sup_service *svc) {
  struct sup_roll *r = &svc->roll;
  while (r->active) {
    if (r->old != NULL) {
      int done = in_place_step(r);
      if (done == 0)
        return;
      r->old = NULL;
      r->in_place = 0;
      if (done < 0) {
        roll_finish(svc, roll_failure(svc, "a restarted instance failed to become ready"));
        return;
      }
      r->next++;
      continue;
    }
    if (r->next >= svc->target || sup_host_stopping(svc->host)) {
      roll_finish(svc, sup_host_stopping(svc->host) ? "muster is shutting down" : NULL);
      return;
    }
    struct sup_instance *old = NULL;
    for (size_t i = 0; i < svc->ninst; i++)
      if ((size_t)svc->inst[i]->index == r->next && !svc->inst[i]->removing)
        old = svc->inst[i];
    if (old == NULL || old->state == SUP_I_EXITED || old->state == SUP_I_BACKOFF) {
      if (old)
        sup_instance_restart(old); /* not serving: restart in place */
      r->next++;
      continue;
    }
    in_place_begin(r, old);
  }
}

/* Advances the rolling restart as far as it can go now. */
static void roll_step(struct sup_service *svc) {
  struct sup_roll *r = &svc->roll;
  /* An upstream holds its port, a worker (or a job, an sd_notify program)
   * its work: neither may overlap with its replacement. */
  if (svc->cfg->upstream.enabled || svc->cfg->ready != CFG_READY_MESSAGE) {
    roll_step_in_place(svc);
    return;
  }
  while (r->active) {
    if (r->old == NULL) {
      /* Next instance to replace: the first not yet done, in index order. */
      struct sup_instance *old = NULL;
      for (size_t i = 0; i < svc->ninst; i++) {
        struct sup_instance *c = svc->inst[i];
        if ((size_t)c->index == r->next && !c->removing)
          old = c;
      }
      if (r->next >= svc->target || sup_host_stopping(svc->host)) {
        roll_finish(svc, sup_host_stopping(svc->host) ? "muster is shutting down" : NULL);
        return;
      }
      if (old == NULL || old->state == SUP_I_EXITED || old->state == SUP_I_BACKOFF) {
        if (old)
          sup_instance_restart(old); /* not serving: restart in place */
        r->next++;
        continue;
      }
      r->old = old;
      r->repl = add_instance(svc, old->index, 1);
      if (r->repl == NULL) {
        r->old = NULL;
        roll_finish(svc, "out of memory");
        return;
      }
      return; /* wait for the replacement's ready */
    }
    if (r->repl->state == SUP_I_READY && !r->old->removing) {
      r->old->removing = 1; /* the replacement serves: retire the old one */
      sup_instance_drain(r->old);
    } else if (!r->old->removing && r->repl->state != SUP_I_STARTING) {
      /* The replacement did not come up: keep the old one, give up. */
      struct sup_instance *repl = r->repl;
      repl->removing = 1;
      sup_instance_stop(repl);
      r->old = NULL;
      r->repl = NULL;
      roll_finish(svc, roll_failure(svc, "a replacement instance failed to become ready"));
      return;
    }
    if (r->old->removing && r->old->state == SUP_I_EXITED && r->old->run == NULL) {
      struct sup_instance *old = r->old;
      r->old = NULL;
      r->repl = NULL;
      drop_instance(svc, old);
      r->next++;
      continue;
    }
    return;
  }
}

int sup_service_restart(struct sup_service *svc, sup_done_cb cb, void *ctx) {
  if (svc->roll.active)
    return UV_EBUSY;
  svc->stopped = 0;
  svc->failed = 0;
  svc->waiting = 0;                       /* an operator's restart starts it, as start does */
  sup_host_service_reset(svc->host, svc); /* the gateway lifts its quarantine */
  svc->roll = (struct sup_roll){.active = 1, .cb = cb, .ctx = ctx};
  roll_step(svc);
  return 0;
}

static void on_step(uv_timer_t *t) {
  struct sup_service *svc = t->data;
  roll_step(svc);
  reap_removed(svc);
}

void sup_service_connections(struct sup_service *svc, int delta) {
  if (delta > 0)
    svc->connections++;
  else if (svc->connections > 0)
    svc->connections--;
}

void sup_service_fail(struct sup_service *svc, struct sup_instance *inst) {
  char detail[128];
  svc->failed = 1;
  snprintf(detail, sizeof(detail),
           "more than %d restarts within %d s; not restarting until `musterctl start %s`",
           svc->cfg->restart.max_restarts, svc->cfg->restart.window_s, svc->cfg->name);
  struct sup_event ev = {.type = "failed",
                         .service = svc->cfg->name,
                         .index = -1,
                         .code = inst->last_code,
                         .signal = inst->last_signal,
                         .detail = detail};
  sup_host_emit(svc->host, &ev);
  sup_service_changed(svc);
}

/* ---- Reload ---- */

int sup_service_reconfigure(struct sup_service *svc, const struct cfg_service *ns,
                            const struct cfg *nc, sup_done_cb on_rolled) {
  int same = cfg_service_equal(svc->cfg, ns);
  svc->cfg = ns;
  sup_logfile_configure(svc->log, (uint64_t)nc->logs.max_bytes, nc->logs.keep);
  if (same)
    return 0;
  sup_triggers_open(svc);
  sup_window_free(&svc->window);
  sup_window_init(&svc->window, (unsigned)ns->restart.max_restarts,
                  (uint64_t)ns->restart.window_s * 1000);
  for (size_t k = 0; k < svc->ninst; k++)
    sup_backoff_init(&svc->inst[k]->backoff, (uint64_t)ns->restart.backoff_initial_ms,
                     (uint64_t)ns->restart.backoff_max_ms);
  if (svc->stopped || svc->failed || svc->waiting) {
    svc->target = (size_t)ns->instances; /* applies at the next start */
  } else if (sup_service_restart(svc, on_rolled, svc) != 0) {
    sup_log(SUP_WARN,
            "%s: changed by reload while restarting; new settings apply to new "
            "instances",
            ns->name);
  }
  return 1;
}
