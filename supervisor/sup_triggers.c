/* sup_triggers — restarts on file changes and on a schedule. See
 * sup_triggers.h. */
#include "sup_triggers.h"

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "sup_host.h"
#include "sup_log.h"
#include "sup_service.h"
#include "sup_watch.h"

/* ---- watch (sup_watch) ---- */

/* A watched file changed (sup_watch): a rolling restart, as PM2's watch
 * restarts, or a start of a service that failed (the fix of a crash is
 * what a developer saves); not of one stopped or waiting for its
 * dependencies. A restart under way: the change is tried again later. */
static void on_watch(void *ctx, const char *what) {
  struct sup_service *svc = ctx;
  char detail[600];
  if (svc->stopped || svc->waiting || svc->removed || sup_host_stopping(svc->host)) {
    sup_log(SUP_INFO, "%s: %s changed; not restarting a service that is %s", svc->cfg->name, what,
            svc->waiting ? "waiting" : "stopped");
    return;
  }
  if (svc->roll.active) {
    sup_watch_again(svc->watch);
    return;
  }
  snprintf(detail, sizeof(detail), "%.500s changed; restarting", what);
  struct sup_event ev = {
      .type = "watch", .service = svc->cfg->name, .index = -1, .code = -1, .detail = detail};
  sup_host_emit(svc->host, &ev);
  sup_service_restart(svc, NULL, NULL);
}

/* Watches the service's files when its config says so. */
static void watch_open(struct sup_service *svc) {
  sup_watch_close(svc->watch);
  svc->watch = NULL;
  if (svc->cfg->watch.npaths > 0)
    svc->watch = sup_watch_open(sup_host_loop(svc->host), &svc->cfg->watch,
                                sup_host_cfg(svc->host)->logs.dir, svc->cfg->name, on_watch, svc);
}

/* ---- cron_restart (util_cron) ---- */

static void cron_arm(struct sup_service *svc);

/* The minute came: a rolling restart, as PM2's cron_restart, of a
 * service that runs (not one stopped or waiting; a failed one gets its
 * next try). The clock may have moved back since the timer was set: then
 * it is only set again. */
static void on_cron(uv_timer_t *t) {
  struct sup_service *svc = t->data;
  char detail[200];
  uv_timeval64_t now;
  uv_gettimeofday(&now);
  if (now.tv_sec + 1 < (int64_t)svc->cron_due) {
    cron_arm(svc);
    return;
  }
  if (svc->stopped || svc->waiting || svc->removed || sup_host_stopping(svc->host)) {
    sup_log(SUP_INFO, "%s: cron_restart \"%s\" due; not restarting a service that is %s",
            svc->cfg->name, svc->cfg->cron_text, svc->waiting ? "waiting" : "stopped");
  } else if (svc->roll.active) {
    sup_log(SUP_INFO, "%s: cron_restart \"%s\" due during a rolling restart; skipped",
            svc->cfg->name, svc->cfg->cron_text);
  } else {
    snprintf(detail, sizeof(detail), "cron_restart \"%.150s\": restarting", svc->cfg->cron_text);
    struct sup_event ev = {
        .type = "cron", .service = svc->cfg->name, .index = -1, .code = -1, .detail = detail};
    sup_host_emit(svc->host, &ev);
    sup_service_restart(svc, NULL, NULL);
  }
  cron_arm(svc);
}

/* Sets the timer to the next minute cron_restart matches. */
static void cron_arm(struct sup_service *svc) {
  uv_timeval64_t now;
  uv_gettimeofday(&now);
  time_t next = util_cron_next(&svc->cfg->cron, (time_t)now.tv_sec);
  if (next == (time_t)-1) {
    sup_log(SUP_WARN, "%s: cron_restart \"%s\" matches no day to come", svc->cfg->name,
            svc->cfg->cron_text);
    return;
  }
  svc->cron_due = next;
  int64_t ms = ((int64_t)next - now.tv_sec) * 1000 - now.tv_usec / 1000;
  uv_timer_start(svc->cron, on_cron, (uint64_t)(ms > 0 ? ms : 0), 0);
}

static void on_cron_closed(uv_handle_t *h) {
  free(h);
}

/* Schedules cron_restart when the config has one. */
static void cron_open(struct sup_service *svc) {
  if (svc->cron != NULL) {
    uv_close((uv_handle_t *)svc->cron, on_cron_closed);
    svc->cron = NULL;
  }
  if (svc->cfg->cron_text == NULL || (svc->cron = malloc(sizeof(*svc->cron))) == NULL)
    return;
  uv_timer_init(sup_host_loop(svc->host), svc->cron);
  svc->cron->data = svc;
  cron_arm(svc);
}

void sup_triggers_open(struct sup_service *svc) {
  watch_open(svc);
  cron_open(svc);
}

void sup_triggers_close(struct sup_service *svc) {
  sup_watch_close(svc->watch);
  svc->watch = NULL;
  if (svc->cron != NULL)
    uv_close((uv_handle_t *)svc->cron, on_cron_closed);
  svc->cron = NULL;
}
