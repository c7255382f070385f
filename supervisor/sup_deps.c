/* sup_deps — start and stop order from depends_on. See sup_deps.h. */
#include "sup_deps.h"

#include <stdio.h>
#include <string.h>

#include "sup_host.h"
#include "sup_log.h"
#include "sup_service.h"

struct sup_service *sup_deps_find(const struct sup_host *h, const char *name) {
  for (size_t s = 0; s < h->nsvcs; s++)
    if (!h->svcs[s]->removed && strcmp(h->svcs[s]->cfg->name, name) == 0)
      return h->svcs[s];
  return NULL;
}

/* 1 when svc has an instance that is ready, or is a one-shot job that
 * completed: what depends on it may run. */
static int has_ready(const struct sup_service *svc) {
  for (size_t i = 0; i < svc->ninst; i++)
    if (svc->inst[i]->state == SUP_I_READY)
      return 1;
  return sup_service_completed(svc);
}

/* How many dependencies of svc have no ready instance; the first max of
 * their names go to out. */
static size_t unready(const struct sup_host *h, const struct sup_service *svc, const char **out,
                      size_t max) {
  size_t n = 0;
  for (size_t k = 0; k < svc->cfg->ndepends; k++) {
    const struct sup_service *d = sup_deps_find(h, svc->cfg->depends_on[k]);
    if (d != NULL && has_ready(d))
      continue;
    if (n < max)
      out[n] = svc->cfg->depends_on[k];
    n++;
  }
  return n;
}

/* Joins names into buf: "db, cache". */
static void join(char *buf, size_t cap, const char **names, size_t n) {
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", names[i]);
  }
}

void sup_deps_start(struct sup_host *h, struct sup_service *svc) {
  const char *names[16];
  char detail[512];
  if (svc->cfg->no_autostart) { /* supervisord's autostart=false: started by hand */
    svc->stopped = 1;
    sup_log(SUP_INFO, "%s: autostart is false; `musterctl start %s` starts it", svc->cfg->name,
            svc->cfg->name);
    sup_service_changed(svc);
    return;
  }
  size_t n = unready(h, svc, names, 16);
  if (n == 0) {
    sup_service_start(svc);
    return;
  }
  svc->waiting = 1;
  join(detail, sizeof(detail), names, n < 16 ? n : 16);
  struct sup_event ev = {
      .type = "waiting", .service = svc->cfg->name, .index = -1, .code = -1, .detail = detail};
  sup_host_emit(h, &ev);
  sup_service_changed(svc);
}

void sup_deps_step(struct sup_host *h) {
  if (h->stopping)
    return;
  for (size_t s = 0; s < h->nsvcs; s++) {
    struct sup_service *svc = h->svcs[s];
    if (!svc->waiting || svc->removed || unready(h, svc, NULL, 0) > 0)
      continue;
    sup_log(SUP_INFO, "%s: every service it depends on is ready; starting it", svc->cfg->name);
    sup_service_start(svc); /* clears waiting */
  }
}

/* The first live service that depends on svc and still has a process. */
static const struct sup_service *live_dependent(const struct sup_host *h,
                                                const struct sup_service *svc) {
  for (size_t s = 0; s < h->nsvcs; s++) {
    const struct sup_service *d = h->svcs[s];
    if (d->removed || sup_service_all_exited(d))
      continue;
    for (size_t k = 0; k < d->cfg->ndepends; k++)
      if (strcmp(d->cfg->depends_on[k], svc->cfg->name) == 0)
        return d;
  }
  return NULL;
}

void sup_deps_shutdown_step(struct sup_host *h) {
  for (size_t s = 0; s < h->nsvcs; s++) {
    struct sup_service *svc = h->svcs[s];
    if (svc->shutdown_sent)
      continue;
    const struct sup_service *d = live_dependent(h, svc);
    if (d != NULL) {
      if (!svc->shutdown_waits && !sup_service_all_exited(svc))
        sup_log(SUP_INFO, "%s: stops once its dependents are gone (%s first)", svc->cfg->name,
                d->cfg->name);
      svc->shutdown_waits = 1;
      continue;
    }
    svc->shutdown_sent = 1;
    sup_service_stop(svc);
  }
}

size_t sup_deps_waiting_for(const struct sup_host *h, const struct sup_service *svc,
                            const char **out, size_t max) {
  size_t n = svc->waiting ? unready(h, svc, out, max) : 0;
  return n < max ? n : max;
}

size_t sup_deps_failed(const struct sup_host *h, const struct sup_service *svc, const char **out,
                       size_t max) {
  size_t n = 0;
  for (size_t k = 0; k < svc->cfg->ndepends; k++) {
    const struct sup_service *d = sup_deps_find(h, svc->cfg->depends_on[k]);
    if (d != NULL && d->failed && n < max)
      out[n++] = svc->cfg->depends_on[k];
  }
  return n;
}
