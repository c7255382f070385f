/* sup_host — services, signals, events, shutdown. See sup_host.h. */
#include "sup_host.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc_msg.h"
#include "sup_deps.h"
#include "sup_evhook.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_proc.h"
#include "sup_service.h"
#include "util_vec.h"

extern char **environ;

#define MEM_CHECK_MS 1000

static void check_done(struct sup_host *h);
static void collect_retired(struct sup_host *h);

static void on_collect(uv_timer_t *t) {
  collect_retired(t->data);
}

void sup_host_add_hooks(struct sup_host *h, const struct sup_host_hooks *hooks) {
  if (h->nhooks < sizeof(h->hooks) / sizeof(h->hooks[0]))
    h->hooks[h->nhooks++] = *hooks;
}

/* ---- Runs ---- */

void sup_host_run_opened(struct sup_host *h, struct sup_run *run) {
  if (util_vec_reserve(&h->runs, &h->capruns, h->nruns + 1) != 0)
    abort(); /* a few pointers: nothing sensible to do without them */
  h->runs[h->nruns++] = run;
}

void sup_host_run_closed(struct sup_run *run) {
  struct sup_host *h = run->host;
  for (size_t i = 0; i < h->nruns; i++) {
    if (h->runs[i] == run) {
      h->runs[i] = h->runs[--h->nruns];
      break;
    }
  }
  check_done(h);
}

/* ---- What services and instances report (passed on to the hooks) ---- */

static void on_deps(uv_timer_t *t) {
  sup_deps_step(t->data);
}

void sup_host_service_changed(struct sup_host *h, struct sup_service *svc) {
  if (svc->removed && !h->stopping)
    uv_timer_start(&h->done_timer, on_collect, 0, 0); /* free it once gone */
  if (!h->stopping && !uv_is_active((uv_handle_t *)&h->deps_timer))
    uv_timer_start(&h->deps_timer, on_deps, 0, 0); /* may a waiting service start? */
  check_done(h);
}

void sup_host_instance_msg(struct sup_host *h, struct sup_instance *inst, const struct ipc_msg *m) {
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].instance_msg)
      h->hooks[k].instance_msg(h->hooks[k].ctx, inst, m);
}

void sup_host_instance_routable(struct sup_host *h, struct sup_instance *inst, int routable) {
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].instance_routable)
      h->hooks[k].instance_routable(h->hooks[k].ctx, inst, routable);
}

struct rt_rooms *sup_host_rooms(struct sup_host *h) {
  return &h->rooms;
}

void *sup_host_cluster(struct sup_host *h) {
  return h->cluster.node;
}

void sup_host_instance_gone(struct sup_host *h, struct sup_instance *inst) {
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].instance_gone)
      h->hooks[k].instance_gone(h->hooks[k].ctx, inst);
}

void sup_host_service_reset(struct sup_host *h, struct sup_service *svc) {
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].service_reset)
      h->hooks[k].service_reset(h->hooks[k].ctx, svc);
}

void sup_host_service_status(struct sup_host *h, const struct sup_service *svc, struct ipc_buf *b) {
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].service_status)
      h->hooks[k].service_status(h->hooks[k].ctx, svc, b);
}

/* ---- Memory watch and heartbeats ---- */

/* Every second: the instances of the services with a memory limit (the
 * others are read only when `status` asks). */
static void on_mem_timer(uv_timer_t *t) {
  struct sup_host *h = t->data;
  rt_rooms_sweep(&h->rooms, sup_now_ms()); /* expired history, empty rooms */
  for (size_t s = 0; s < h->nsvcs; s++)
    if (h->svcs[s]->cfg->max_memory_mb > 0)
      for (size_t i = 0; i < h->svcs[s]->ninst; i++)
        sup_instance_check_memory(h->svcs[s]->inst[i]);
}

static void on_beat_timer(uv_timer_t *t);

/* Arms the beat timer for the wheel's next wake-up, if that moved. */
static void beat_arm(struct sup_host *h) {
  uint64_t at = sup_sched_wake(&h->beats), now = uv_now(h->loop);
  if (at == h->beat_at)
    return;
  h->beat_at = at;
  if (at == SUP_SCHED_NEVER)
    uv_timer_stop(&h->beat_timer);
  else
    uv_timer_start(&h->beat_timer, on_beat_timer, at > now ? at - now : 0, 0);
}

/* Every instance whose beat is due, in one loop turn: their pings leave
 * together when the channels flush before the loop blocks. */
static void on_beat_timer(uv_timer_t *t) {
  struct sup_host *h = t->data;
  uint64_t now = uv_now(h->loop);
  struct sup_sched_entry *e;
  h->beat_at = SUP_SCHED_NEVER;
  while ((e = sup_sched_pop(&h->beats, now)) != NULL) {
    struct sup_instance *inst =
        (struct sup_instance *)((char *)e - offsetof(struct sup_instance, beat));
    sup_instance_beat(inst, now);
  }
  beat_arm(h);
}

void sup_host_beat_add(struct sup_host *h, struct sup_sched_entry *e, uint64_t due) {
  sup_host_beat_remove(h, e);
  sup_sched_add(&h->beats, e, due);
  if (due < h->beat_at)
    beat_arm(h);
}

void sup_host_beat_remove(struct sup_host *h, struct sup_sched_entry *e) {
  sup_sched_remove(&h->beats, e); /* the timer may fire for nothing: harmless */
}

/* ---- Signals ---- */

static void on_signal(uv_signal_t *sig, int signum) {
  struct sup_host *h = sig->data;
  switch (signum) {
  case SIGTERM:
  case SIGINT:
    sup_log(SUP_INFO, "received %s", strsignal(signum));
    sup_host_shutdown(h);
    break;
  case SIGHUP: {
    struct sup_reload_result res;
    struct cfg_errors errs;
    cfg_errors_init(&errs);
    sup_log(SUP_INFO, "SIGHUP: reloading %s", h->config_path);
    if (sup_host_reload(h, &res, &errs) != 0) {
      char *why = cfg_errors_join(&errs, "; ");
      sup_log(SUP_ERROR, "reload failed, config unchanged: %s", why ? why : "out of memory");
      free(why);
    }
    cfg_errors_free(&errs);
    break;
  }
  case SIGUSR1:
    sup_log(SUP_INFO, "SIGUSR1: reopening log files");
    sup_host_reopen_logs(h);
    break;
  }
}

void sup_host_reopen_logs(struct sup_host *h) {
  for (size_t s = 0; s < h->nsvcs; s++)
    sup_logfile_reopen(h->svcs[s]->log);
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].reopen)
      h->hooks[k].reopen(h->hooks[k].ctx);
}

/* ---- Shutdown ---- */

static void on_host_handle_closed(uv_handle_t *hd) {
  (void)hd;
}

/* Ends the host once every process is gone and every run released. Runs
 * at a safe point (a zero timer), never inside an instance's callback:
 * it frees the services. */
static void on_done_check(uv_timer_t *t) {
  struct sup_host *h = t->data;
  if (h->finished)
    return;
  sup_deps_shutdown_step(h); /* the services whose dependents are gone */
  for (size_t s = 0; s < h->nsvcs; s++)
    if (!sup_service_all_exited(h->svcs[s]))
      return;
  if (h->nruns > 0) {
    /* Processes are gone; output pipes held by escaped grandchildren must
     * not keep muster alive. Runs call back here as they finish closing. */
    for (size_t i = 0; i < h->nruns; i++)
      if (h->runs[i]->inst == NULL)
        sup_run_force_close(h->runs[i]);
    return;
  }
  if (!sup_evhooks_idle(h->evhooks))
    return; /* a hook is still running (it got SIGTERM) or closing */
  h->finished = 1;
  sup_log(SUP_INFO, "all services stopped; exiting");
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].finished)
      h->hooks[k].finished(h->hooks[k].ctx);
  uv_close((uv_handle_t *)&h->sig_term, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->sig_int, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->sig_hup, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->sig_usr1, on_host_handle_closed);
  sup_reaper_close(&h->reaper, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->mem_timer, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->beat_timer, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->done_timer, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->deps_timer, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->drain_timer, on_host_handle_closed);
  for (size_t s = 0; s < h->nsvcs; s++)
    sup_service_free(h->svcs[s]);
  h->nsvcs = 0;
}

static void check_done(struct sup_host *h) {
  if (h->stopping && !h->finished)
    uv_timer_start(&h->done_timer, on_done_check, 0, 0);
}

void sup_host_check_done(struct sup_host *h) {
  check_done(h);
}

void sup_host_shutdown(struct sup_host *h) {
  if (h->finished)
    return;
  if (!h->stopping && !h->drain_then_stop && h->cfg->gateway.drain_delay_ms > 0) {
    sup_host_drain_before_stop(h); /* /readyz fails first; the stop follows */
    return;
  }
  if (h->stopping) {
    sup_log(SUP_WARN, "second stop request: killing every service now");
    for (size_t s = 0; s < h->nsvcs; s++)
      for (size_t i = 0; i < h->svcs[s]->ninst; i++)
        sup_instance_kill(h->svcs[s]->inst[i]);
    return;
  }
  h->stopping = 1;
  sup_log(SUP_INFO, "shutting down: stopping %zu services", h->nsvcs);
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].stopping)
      h->hooks[k].stopping(h->hooks[k].ctx);
  uv_timer_stop(&h->mem_timer);
  uv_timer_stop(&h->deps_timer);
  sup_evhooks_stop(h->evhooks);
  sup_deps_shutdown_step(h); /* dependents first; the others as theirs go */
  check_done(h);
}

/* ---- Reload ---- */

/* 1 when some service of h still points into c's service array. */
static int cfg_in_use(const struct sup_host *h, const struct cfg *c) {
  for (size_t s = 0; s < h->nsvcs; s++)
    if (h->svcs[s]->cfg >= c->services && h->svcs[s]->cfg < c->services + c->nservices)
      return 1;
  return 0;
}

/* Frees services that were removed and are gone, then configs nothing
 * points into any more. */
static void collect_retired(struct sup_host *h) {
  size_t k = 0;
  for (size_t s = 0; s < h->nsvcs; s++) {
    if (sup_service_gone(h->svcs[s]))
      sup_service_free(h->svcs[s]);
    else
      h->svcs[k++] = h->svcs[s];
  }
  h->nsvcs = k;
  k = 0;
  for (size_t i = 0; i < h->nretired; i++) {
    if (cfg_in_use(h, h->retired[i]))
      h->retired[k++] = h->retired[i];
    else
      cfg_free(h->retired[i]);
  }
  h->nretired = k;
}

static void list_add(char *list, size_t cap, const char *name) {
  size_t n = strlen(list);
  snprintf(list + n, cap - n, "%s%s", n ? ", " : "", name);
}

/* A changed service's rolling restart is over: scale to the new count. */
static void on_reload_roll_done(void *ctx, const char *err) {
  struct sup_service *svc = ctx;
  if (err)
    sup_log(SUP_WARN, "%s: rolling restart after reload: %s", svc->cfg->name, err);
  if (svc->target != (size_t)svc->cfg->instances || svc->ninst != (size_t)svc->cfg->instances)
    sup_service_scale(svc, (size_t)svc->cfg->instances);
}

/* The live service called name, or NULL. */
static struct sup_service *find_live(struct sup_host *h, const char *name) {
  for (size_t s = 0; s < h->nsvcs; s++)
    if (!h->svcs[s]->removed && strcmp(h->svcs[s]->cfg->name, name) == 0)
      return h->svcs[s];
  return NULL;
}

/* Fills v with the new config's services, in its order: kept ones
 * reconfigured, new ones created (and listed in added). Returns how many. */
static size_t apply_services(struct sup_host *h, struct cfg *nc, struct sup_service **v,
                             struct sup_reload_result *res, struct sup_service **added,
                             size_t *nadded) {
  size_t n = 0;
  for (size_t i = 0; i < nc->nservices; i++) {
    const struct cfg_service *ns = &nc->services[i];
    struct sup_service *svc = find_live(h, ns->name);
    if (svc == NULL) {
      if ((svc = sup_service_new(h, ns)) == NULL)
        continue; /* logged; the rest of the reload goes on */
      list_add(res->added, sizeof(res->added), ns->name);
      v[n++] = svc;
      added[(*nadded)++] = svc; /* started once the whole reload is applied */
      continue;
    }
    v[n++] = svc;
    if (sup_service_reconfigure(svc, ns, nc, on_reload_roll_done))
      list_add(res->changed, sizeof(res->changed), ns->name);
  }
  return n;
}

/* Appends to v[0 .. n) the services the new config dropped, stopping
 * them (they are freed once gone). Returns the new count. */
static size_t retire_services(struct sup_host *h, struct sup_service **v, size_t n,
                              struct sup_reload_result *res) {
  size_t kept_n = n;
  for (size_t s = 0; s < h->nsvcs; s++) {
    struct sup_service *svc = h->svcs[s];
    int kept = 0;
    for (size_t k = 0; k < kept_n && !kept; k++)
      kept = v[k] == svc;
    if (kept)
      continue;
    if (!svc->removed) {
      svc->removed = 1;
      list_add(res->removed, sizeof(res->removed), svc->cfg->name);
      sup_service_stop(svc);
    }
    v[n++] = svc;
  }
  return n;
}

static void emit_reload(struct sup_host *h, const struct sup_reload_result *res) {
  char detail[1600];
  snprintf(detail, sizeof(detail), "added: %s; removed: %s; changed: %s",
           res->added[0] ? res->added : "-", res->removed[0] ? res->removed : "-",
           res->changed[0] ? res->changed : "-");
  struct sup_event ev = {.type = "reload", .index = -1, .code = -1, .detail = detail};
  sup_host_emit(h, &ev);
}

/* Asks every hook whether nc can be applied (the TLS certificates load).
 * Returns 0, or the first hook's error (every hook is asked). */
static int reload_check(struct sup_host *h, const struct cfg *nc, struct cfg_errors *errs) {
  int rc = 0;
  for (size_t k = 0; k < h->nhooks; k++) {
    int r = h->hooks[k].reload_check ? h->hooks[k].reload_check(h->hooks[k].ctx, nc, errs) : 0;
    if (r != 0 && rc == 0)
      rc = r < 0 ? r : UV_EINVAL;
  }
  return rc;
}

int sup_host_reload(struct sup_host *h, struct sup_reload_result *res, struct cfg_errors *errs) {
  struct cfg *nc = NULL;
  int rc;
  memset(res, 0, sizeof(*res));
  if (h->stopping) {
    cfg_errors_add(errs, "muster is shutting down");
    return UV_ECANCELED;
  }
  if ((rc = cfg_load(h->config_path, h->bin_dir, &nc, errs)) != 0)
    return rc;
  size_t cap = nc->nservices + h->nsvcs, nadded = 0;
  struct sup_service **v = calloc(cap ? cap : 1, sizeof(*v));
  struct sup_service **added = calloc(cap ? cap : 1, sizeof(*added));
  if (v == NULL || added == NULL ||
      util_vec_reserve(&h->retired, &h->capretired, h->nretired + 1) != 0) {
    free(v);
    free(added);
    cfg_free(nc);
    cfg_errors_add(errs, "out of memory");
    return UV_ENOMEM;
  }
  if ((rc = reload_check(h, nc, errs)) != 0) {
    free(v);
    free(added);
    cfg_free(nc);
    return rc;
  }
  size_t n = retire_services(h, v, apply_services(h, nc, v, res, added, &nadded), res);
  free(h->svcs);
  h->svcs = v;
  h->nsvcs = n;
  h->retired[h->nretired++] = h->cfg;
  h->cfg = nc;
  sup_evhooks_configure(h->evhooks, nc);
  for (size_t k = 0; k < h->nhooks; k++) /* before old configs can be freed */
    if (h->hooks[k].reloaded)
      h->hooks[k].reloaded(h->hooks[k].ctx);
  collect_retired(h);
  emit_reload(h, res);
  for (size_t i = 0; i < nadded; i++) /* now that every service of nc is known */
    sup_deps_start(h, added[i]);
  free(added);
  return 0;
}

/* ---- Life cycle ---- */

int sup_host_init(struct sup_host *h, uv_loop_t *loop, struct cfg *cfg, const char *config_path,
                  const char *bin_dir) {
  memset(h, 0, sizeof(*h));
  h->loop = loop;
  h->cfg = cfg;
  h->config_path = strdup(config_path);
  h->bin_dir = bin_dir ? strdup(bin_dir) : NULL;
  h->environ = environ;
  h->beat_at = SUP_SCHED_NEVER;
  sup_sched_init(&h->beats, uv_now(loop));
  rt_rooms_init(&h->rooms, (size_t)cfg->realtime.history_size,
                (uint64_t)cfg->realtime.history_ttl_s * 1000,
                ((uint64_t)time(NULL) << 20) ^ ((uint64_t)getpid() << 4));
  signal(SIGPIPE, SIG_IGN); /* a peer that went away is an error code */
  h->svcs = calloc(cfg->nservices ? cfg->nservices : 1, sizeof(*h->svcs));
  if (h->svcs == NULL || h->config_path == NULL)
    return UV_ENOMEM;
  for (size_t i = 0; i < cfg->nservices; i++) {
    if ((h->svcs[i] = sup_service_new(h, &cfg->services[i])) == NULL)
      return UV_EIO; /* its log file (logged), or out of memory */
    h->nsvcs++;
  }
  uv_signal_t *sigs[] = {&h->sig_term, &h->sig_int, &h->sig_hup, &h->sig_usr1};
  int nums[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
  for (int i = 0; i < 4; i++) {
    uv_signal_init(loop, sigs[i]);
    sigs[i]->data = h;
    uv_signal_start(sigs[i], on_signal, nums[i]);
  }
  if (sup_reaper_init(loop, &h->reaper) < 0)
    return UV_EIO;
  uv_timer_init(loop, &h->mem_timer);
  h->mem_timer.data = h;
  uv_timer_init(loop, &h->drain_timer);
  h->drain_timer.data = h;
  uv_timer_init(loop, &h->done_timer);
  h->done_timer.data = h;
  uv_timer_init(loop, &h->deps_timer);
  h->deps_timer.data = h;
  if ((h->evhooks = sup_evhooks_new(h)) == NULL)
    return -1;
  uv_timer_init(loop, &h->beat_timer);
  h->beat_timer.data = h;
  return 0;
}

void sup_host_start(struct sup_host *h) {
  sup_log(SUP_INFO, "muster %s starting %zu services from %s", MUSTER_VERSION, h->nsvcs,
          h->config_path);
  for (size_t s = 0; s < h->nsvcs; s++)
    sup_deps_start(h, h->svcs[s]);
  uv_timer_start(&h->mem_timer, on_mem_timer, MEM_CHECK_MS, MEM_CHECK_MS);
}

void sup_host_free(struct sup_host *h) {
  sup_evhooks_free(h->evhooks);
  for (size_t s = 0; s < h->nsvcs; s++)
    sup_service_free(h->svcs[s]);
  free(h->svcs);
  free(h->runs);
  rt_rooms_free(&h->rooms);
  sup_cblist_free(&h->listeners);
  sup_cblist_free(&h->log_listeners);
  for (size_t i = 0; i < h->nretired; i++)
    cfg_free(h->retired[i]);
  free(h->retired);
  cfg_free(h->cfg);
  util_listenfds_free(&h->listen_fds);
  free(h->config_path);
  free(h->bin_dir);
}

/* ---- Accessors ---- */

uv_loop_t *sup_host_loop(struct sup_host *h) {
  return h->loop;
}

const struct cfg *sup_host_cfg(struct sup_host *h) {
  return h->cfg;
}

struct util_listenfds *sup_host_listen_fds(struct sup_host *h) {
  return &h->listen_fds;
}

char **sup_host_environ(struct sup_host *h) {
  return h->environ;
}

int sup_host_stopping(struct sup_host *h) {
  return h->stopping;
}

struct sup_service *sup_host_find(struct sup_host *h, const char *name) {
  for (size_t s = 0; s < h->nsvcs; s++)
    if (strcmp(h->svcs[s]->cfg->name, name) == 0)
      return h->svcs[s];
  return NULL;
}
