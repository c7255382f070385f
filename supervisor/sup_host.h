/* sup_host — the whole supervisor: the config in force, every service,
 * the signals, the memory watch, the event stream and graceful shutdown.
 * The gateway and the control server plug in through sup_host_hooks. */
#ifndef MUSTER_SUP_HOST_H
#define MUSTER_SUP_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "cfg.h"
#include "sup_events.h"

struct sup_instance;
struct sup_service;
struct sup_run;
struct ipc_msg;
struct cJSON;

/* What other parts (gateway, control) want to hear about. All optional. */
struct sup_host_hooks {
  void *ctx;
  /* A response, chunk or end from an instance. */
  void (*instance_msg)(void *ctx, struct sup_instance *inst, const struct ipc_msg *m);
  /* The instance's process is gone: fail or retry its requests. */
  void (*instance_gone)(void *ctx, struct sup_instance *inst);
  /* Shutdown began: stop accepting, drain. */
  void (*stopping)(void *ctx);
  /* Every service is stopped: close everything. */
  void (*finished)(void *ctx);
  /* SIGUSR1: reopen log files. */
  void (*reopen)(void *ctx);
  /* A reload changed the config in force (routes, gateway settings). */
  void (*reloaded)(void *ctx);
  /* The instance became ready (routable): requests waiting may go to it. */
  void (*instance_ready)(void *ctx, struct sup_instance *inst);
  /* `start` or `restart` of the service: forget what was held against its
   * old processes (the gateway's quarantined paths). */
  void (*service_reset)(void *ctx, struct sup_service *svc);
  /* The service's object of a `status` reply (sup_status) is being made:
   * add fields to it (the gateway's "queued", "quarantined"). */
  void (*service_status)(void *ctx, const struct sup_service *svc, struct cJSON *o);
};

struct sup_host {
  uv_loop_t *loop;
  struct cfg *cfg;              /* the config in force, owned */
  char *config_path;            /* for reload, owned */
  char *bin_dir;                /* muster's own directory, owned */
  struct sup_service **svcs;    /* in config order, owned */
  size_t nsvcs;
  uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
  uv_timer_t mem_timer;         /* RSS check, every second */
  uv_timer_t done_timer;        /* shutdown progress check, at a safe point */
  struct sup_run **runs;        /* runs whose handles are open */
  size_t nruns, capruns;
  struct cfg **retired;         /* configs replaced by reloads, still pointed into */
  size_t nretired, capretired;
  struct sup_cblist listeners;  /* event listeners (sup_event_cb) */
  struct sup_host_hooks hooks[8]; /* gateway, control, admin, notify */
  size_t nhooks;
  struct sup_cblist log_listeners; /* service output followers (sup_line_cb) */
  char **environ;               /* muster's environment at start */
  int stopping;                 /* shutdown under way */
  int finished;                 /* everything released */
  int exit_code;                /* what main returns */
};

/* Creates the services of cfg (taking ownership of cfg) and the host's
 * handles. Returns 0, or -1 with the reason logged. */
int sup_host_init(struct sup_host *h, uv_loop_t *loop, struct cfg *cfg,
                  const char *config_path, const char *bin_dir);

/* Starts every service. */
void sup_host_start(struct sup_host *h);

/* Graceful shutdown (SIGTERM, SIGINT, `shutdown`); a second call forces it:
 * every process group is killed at once. */
void sup_host_shutdown(struct sup_host *h);

/* Frees what is left after the loop ended. */
void sup_host_free(struct sup_host *h);

/* What a reload did: service names, each list joined by ", ". */
struct sup_reload_result {
  char added[512];
  char removed[512];
  char changed[512];
};

/* Re-reads the config file and applies the difference: new services
 * start, removed ones stop, changed ones get a rolling restart (and are
 * scaled to their new count). An invalid file changes nothing: returns a
 * negative UV_* code with the problems in errs. Returns 0 with what
 * changed in res. */
int sup_host_reload(struct sup_host *h, struct sup_reload_result *res, struct cfg_errors *errs);

/* Reopens every log file (SIGUSR1). */
void sup_host_reopen_logs(struct sup_host *h);

struct sup_service *sup_host_find(struct sup_host *h, const char *name);

/* Adds a set of hooks (at most 8 sets). */
void sup_host_add_hooks(struct sup_host *h, const struct sup_host_hooks *hooks);

/* ---- Events and service output (sup_events.c) ---- */

/* Logs ev and gives it to every listener. */
void sup_host_emit(struct sup_host *h, const struct sup_event *ev);
void sup_host_add_log_listener(struct sup_host *h, sup_line_cb cb, void *ctx);
void sup_host_remove_log_listener(struct sup_host *h, sup_line_cb cb, void *ctx);
/* A capture's line hook: hands the line to the log listeners. */
void sup_host_service_line(void *host, const char *label, const char *stream, const char *line,
                           size_t len);

void sup_host_add_listener(struct sup_host *h, sup_event_cb cb, void *ctx);
void sup_host_remove_listener(struct sup_host *h, sup_event_cb cb, void *ctx);

/* ---- For the supervisor's own modules ---- */

uv_loop_t *sup_host_loop(struct sup_host *h);
const struct cfg *sup_host_cfg(struct sup_host *h);
char **sup_host_environ(struct sup_host *h);
int sup_host_stopping(struct sup_host *h);
void sup_host_run_opened(struct sup_host *h, struct sup_run *run);
void sup_host_run_closed(struct sup_run *run);
void sup_host_service_changed(struct sup_host *h, struct sup_service *svc);
void sup_host_instance_msg(struct sup_host *h, struct sup_instance *inst,
                           const struct ipc_msg *m);
void sup_host_instance_gone(struct sup_host *h, struct sup_instance *inst);
/* The hooks of the same names: an instance became ready (sup_instance's
 * ready transition), `start`/`restart` of a service (sup_service), a
 * service's `status` object (sup_status). */
void sup_host_instance_ready(struct sup_host *h, struct sup_instance *inst);
void sup_host_service_reset(struct sup_host *h, struct sup_service *svc);
void sup_host_service_status(struct sup_host *h, const struct sup_service *svc, struct cJSON *o);

#endif
