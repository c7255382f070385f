/* sup_host — services, signals, events, shutdown. See sup_host.h. */
#include "sup_host.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc_msg.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_service.h"

extern char **environ;

#define MEM_CHECK_MS 1000

static void check_done(struct sup_host *h);
static void collect_retired(struct sup_host *h);

static void on_collect(uv_timer_t *t) {
  collect_retired(t->data);
}

/* ---- Events ---- */

void sup_host_emit(struct sup_host *h, const struct sup_event *ev) {
  enum sup_level lvl = SUP_INFO;
  if (strcmp(ev->type, "failed") == 0)
    lvl = SUP_ERROR;
  else if (strcmp(ev->type, "exit") == 0 && !h->stopping && (ev->code != 0 || ev->signal))
    lvl = SUP_WARN;
  if (ev->service && ev->index >= 0)
    sup_log(lvl, "%s[%d]: %s: %s", ev->service, ev->index, ev->type, ev->detail ? ev->detail : "");
  else if (ev->service)
    sup_log(lvl, "%s: %s: %s", ev->service, ev->type, ev->detail ? ev->detail : "");
  else
    sup_log(lvl, "%s: %s", ev->type, ev->detail ? ev->detail : "");
  /* A listener may remove itself while called. */
  for (size_t i = 0; i < h->listeners.n; i++) {
    size_t before = h->listeners.n;
    ((sup_event_cb)h->listeners.v[i].fn)(h->listeners.v[i].ctx, ev);
    if (h->listeners.n < before)
      i--;
  }
}

/* Appends (fn, ctx) to l; on out of memory the listener is not added. */
static void cblist_add(struct sup_cblist *l, void (*fn)(void), void *ctx) {
  struct sup_cb *v = realloc(l->v, (l->n + 1) * sizeof(*v));
  if (v == NULL)
    return;
  l->v = v;
  l->v[l->n++] = (struct sup_cb){fn, ctx};
}

static void cblist_remove(struct sup_cblist *l, void (*fn)(void), void *ctx) {
  for (size_t i = 0; i < l->n; i++) {
    if (l->v[i].fn == fn && l->v[i].ctx == ctx) {
      memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
      l->n--;
      return;
    }
  }
}

void sup_host_add_listener(struct sup_host *h, sup_event_cb cb, void *ctx) {
  cblist_add(&h->listeners, (void (*)(void))cb, ctx);
}

void sup_host_remove_listener(struct sup_host *h, sup_event_cb cb, void *ctx) {
  cblist_remove(&h->listeners, (void (*)(void))cb, ctx);
}

void sup_host_add_hooks(struct sup_host *h, const struct sup_host_hooks *hooks) {
  if (h->nhooks < sizeof(h->hooks) / sizeof(h->hooks[0]))
    h->hooks[h->nhooks++] = *hooks;
}

/* ---- Service output to followers ---- */

void sup_host_add_log_listener(struct sup_host *h, sup_line_cb cb, void *ctx) {
  cblist_add(&h->log_listeners, (void (*)(void))cb, ctx);
}

void sup_host_remove_log_listener(struct sup_host *h, sup_line_cb cb, void *ctx) {
  cblist_remove(&h->log_listeners, (void (*)(void))cb, ctx);
}

void sup_host_service_line(void *host, const char *label, const char *stream, const char *line,
                           size_t len) {
  struct sup_host *h = host;
  for (size_t i = 0; i < h->log_listeners.n; i++) {
    size_t before = h->log_listeners.n;
    ((sup_line_cb)h->log_listeners.v[i].fn)(h->log_listeners.v[i].ctx, label, stream, line, len);
    if (h->log_listeners.n < before)
      i--;
  }
}

/* ---- Runs ---- */

void sup_host_run_opened(struct sup_host *h, struct sup_run *run) {
  if (h->nruns == h->capruns) {
    size_t cap = h->capruns ? h->capruns * 2 : 16;
    struct sup_run **r = realloc(h->runs, cap * sizeof(*r));
    if (r == NULL)
      abort(); /* a few pointers: nothing sensible to do without them */
    h->runs = r;
    h->capruns = cap;
  }
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

/* ---- Hooks to the gateway ---- */

void sup_host_service_changed(struct sup_host *h, struct sup_service *svc) {
  if (svc->removed && !h->stopping)
    uv_timer_start(&h->done_timer, on_collect, 0, 0); /* free it once gone */
  check_done(h);
}

void sup_host_instance_msg(struct sup_host *h, struct sup_instance *inst,
                           const struct ipc_msg *m) {
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].instance_msg)
      h->hooks[k].instance_msg(h->hooks[k].ctx, inst, m);
}

void sup_host_instance_gone(struct sup_host *h, struct sup_instance *inst) {
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].instance_gone)
      h->hooks[k].instance_gone(h->hooks[k].ctx, inst);
}

/* ---- Publish / subscribe ---- */

static int subscribed(const struct sup_instance *inst, const char *topic) {
  for (size_t i = 0; i < inst->ntopics; i++)
    if (strcmp(inst->topics[i], topic) == 0)
      return 1;
  return 0;
}

static void topic_add(struct sup_instance *inst, const char *topic) {
  if (subscribed(inst, topic))
    return;
  char **t = realloc(inst->topics, (inst->ntopics + 1) * sizeof(*t));
  if (t == NULL)
    return;
  inst->topics = t;
  if ((t[inst->ntopics] = strdup(topic)) != NULL)
    inst->ntopics++;
}

static void topic_remove(struct sup_instance *inst, const char *topic) {
  for (size_t i = 0; i < inst->ntopics; i++) {
    if (strcmp(inst->topics[i], topic) == 0) {
      free(inst->topics[i]);
      inst->topics[i] = inst->topics[--inst->ntopics];
      return;
    }
  }
}

void sup_host_pubsub(struct sup_host *h, struct sup_instance *inst, const struct ipc_msg *m) {
  if (m->type == IPC_T_SUBSCRIBE) {
    topic_add(inst, m->topic);
    return;
  }
  if (m->type == IPC_T_UNSUBSCRIBE) {
    topic_remove(inst, m->topic);
    return;
  }
  /* publish: one `message` line, sent to every subscribed instance. */
  char *data = cJSON_PrintUnformatted(m->data);
  struct ipc_buf b;
  if (data == NULL)
    return;
  ipc_buf_init(&b);
  ipc_enc_message(&b, m->topic, data, strlen(data));
  for (size_t s = 0; s < h->nsvcs && !b.oom; s++) {
    struct sup_service *svc = h->svcs[s];
    for (size_t i = 0; i < svc->ninst; i++)
      if (subscribed(svc->inst[i], m->topic))
        sup_instance_send(svc->inst[i], b.data, b.len);
  }
  struct sup_event ev = {.type = "message", .service = inst->svc->cfg->name,
                         .index = inst->index, .pid = sup_instance_pid(inst), .code = -1,
                         .detail = m->topic};
  sup_host_emit(h, &ev);
  ipc_buf_free(&b);
  free(data);
}

/* ---- Memory watch ---- */

static void on_mem_timer(uv_timer_t *t) {
  struct sup_host *h = t->data;
  for (size_t s = 0; s < h->nsvcs; s++)
    for (size_t i = 0; i < h->svcs[s]->ninst; i++)
      sup_instance_check_memory(h->svcs[s]->inst[i]);
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
  h->finished = 1;
  sup_log(SUP_INFO, "all services stopped; exiting");
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].finished)
      h->hooks[k].finished(h->hooks[k].ctx);
  uv_close((uv_handle_t *)&h->sig_term, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->sig_int, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->sig_hup, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->sig_usr1, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->mem_timer, on_host_handle_closed);
  uv_close((uv_handle_t *)&h->done_timer, on_host_handle_closed);
  for (size_t s = 0; s < h->nsvcs; s++)
    sup_service_free(h->svcs[s]);
  h->nsvcs = 0;
}

static void check_done(struct sup_host *h) {
  if (h->stopping && !h->finished)
    uv_timer_start(&h->done_timer, on_done_check, 0, 0);
}

void sup_host_shutdown(struct sup_host *h) {
  if (h->finished)
    return;
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
  for (size_t s = 0; s < h->nsvcs; s++)
    sup_service_stop(h->svcs[s]);
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

int sup_host_reload(struct sup_host *h, struct sup_reload_result *res, struct cfg_errors *errs) {
  struct cfg *nc = NULL;
  memset(res, 0, sizeof(*res));
  if (h->stopping) {
    cfg_errors_add(errs, "muster is shutting down");
    return -1;
  }
  if (cfg_load(h->config_path, h->bin_dir, &nc, errs) != 0)
    return -1;
  size_t cap = nc->nservices + h->nsvcs;
  struct sup_service **v = calloc(cap ? cap : 1, sizeof(*v));
  struct cfg **retired = realloc(h->retired, (h->nretired + 1) * sizeof(*retired));
  if (retired)
    h->retired = retired;
  if (v == NULL || retired == NULL) {
    free(v);
    cfg_free(nc);
    cfg_errors_add(errs, "out of memory");
    return -1;
  }
  size_t n = 0;
  /* The new config's services, in its order (routes index into it). */
  for (size_t i = 0; i < nc->nservices; i++) {
    const struct cfg_service *ns = &nc->services[i];
    struct sup_service *svc = NULL;
    for (size_t s = 0; s < h->nsvcs && svc == NULL; s++)
      if (!h->svcs[s]->removed && strcmp(h->svcs[s]->cfg->name, ns->name) == 0)
        svc = h->svcs[s];
    if (svc == NULL) {
      svc = sup_service_new(h, ns);
      if (svc == NULL)
        continue; /* logged; the rest of the reload goes on */
      list_add(res->added, sizeof(res->added), ns->name);
      v[n++] = svc;
      sup_service_start(svc);
      continue;
    }
    int same = cfg_service_equal(svc->cfg, ns);
    svc->cfg = ns;
    sup_logfile_configure(svc->log, (uint64_t)nc->logs.max_bytes, nc->logs.keep);
    v[n++] = svc;
    if (same)
      continue;
    list_add(res->changed, sizeof(res->changed), ns->name);
    sup_window_free(&svc->window);
    sup_window_init(&svc->window, (unsigned)ns->restart.max_restarts,
                    (uint64_t)ns->restart.window_s * 1000);
    for (size_t k = 0; k < svc->ninst; k++)
      sup_backoff_init(&svc->inst[k]->backoff, (uint64_t)ns->restart.backoff_initial_ms,
                       (uint64_t)ns->restart.backoff_max_ms);
    if (svc->stopped || svc->failed) {
      svc->target = (size_t)ns->instances; /* applies at the next start */
    } else if (sup_service_restart(svc, on_reload_roll_done, svc) != 0) {
      sup_log(SUP_WARN, "%s: changed by reload while restarting; new settings apply to new "
              "instances", ns->name);
    }
  }
  /* Services no longer configured: stop them; freed once gone. */
  for (size_t s = 0; s < h->nsvcs; s++) {
    struct sup_service *svc = h->svcs[s];
    int kept = 0;
    for (size_t k = 0; k < n && !kept; k++)
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
  free(h->svcs);
  h->svcs = v;
  h->nsvcs = n;
  h->retired[h->nretired++] = h->cfg;
  h->cfg = nc;
  for (size_t k = 0; k < h->nhooks; k++) /* before old configs can be freed */
    if (h->hooks[k].reloaded)
      h->hooks[k].reloaded(h->hooks[k].ctx);
  collect_retired(h);
  char detail[1600];
  snprintf(detail, sizeof(detail), "added: %s; removed: %s; changed: %s",
           res->added[0] ? res->added : "-", res->removed[0] ? res->removed : "-",
           res->changed[0] ? res->changed : "-");
  struct sup_event ev = {.type = "reload", .index = -1, .code = -1, .detail = detail};
  sup_host_emit(h, &ev);
  return 0;
}

/* ---- Life cycle ---- */

int sup_host_init(struct sup_host *h, uv_loop_t *loop, struct cfg *cfg,
                  const char *config_path, const char *bin_dir) {
  memset(h, 0, sizeof(*h));
  h->loop = loop;
  h->cfg = cfg;
  h->config_path = strdup(config_path);
  h->bin_dir = bin_dir ? strdup(bin_dir) : NULL;
  h->environ = environ;
  signal(SIGPIPE, SIG_IGN); /* a peer that went away is an error code */
  h->svcs = calloc(cfg->nservices ? cfg->nservices : 1, sizeof(*h->svcs));
  if (h->svcs == NULL || h->config_path == NULL)
    return -1;
  for (size_t i = 0; i < cfg->nservices; i++) {
    if ((h->svcs[i] = sup_service_new(h, &cfg->services[i])) == NULL)
      return -1;
    h->nsvcs++;
  }
  uv_signal_t *sigs[] = {&h->sig_term, &h->sig_int, &h->sig_hup, &h->sig_usr1};
  int nums[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
  for (int i = 0; i < 4; i++) {
    uv_signal_init(loop, sigs[i]);
    sigs[i]->data = h;
    uv_signal_start(sigs[i], on_signal, nums[i]);
  }
  uv_timer_init(loop, &h->mem_timer);
  h->mem_timer.data = h;
  uv_timer_init(loop, &h->done_timer);
  h->done_timer.data = h;
  return 0;
}

void sup_host_start(struct sup_host *h) {
  sup_log(SUP_INFO, "muster %s starting %zu services from %s", MUSTER_VERSION, h->nsvcs,
          h->config_path);
  for (size_t s = 0; s < h->nsvcs; s++)
    sup_service_start(h->svcs[s]);
  uv_timer_start(&h->mem_timer, on_mem_timer, MEM_CHECK_MS, MEM_CHECK_MS);
}

void sup_host_free(struct sup_host *h) {
  for (size_t s = 0; s < h->nsvcs; s++)
    sup_service_free(h->svcs[s]);
  free(h->svcs);
  free(h->runs);
  free(h->listeners.v);
  free(h->log_listeners.v);
  for (size_t i = 0; i < h->nretired; i++)
    cfg_free(h->retired[i]);
  free(h->retired);
  cfg_free(h->cfg);
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
