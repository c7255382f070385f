/* sup_service — one configured service: its instances, its restart window,
 * its log file, and the service-level state `status` reports. */
#ifndef MUSTER_SUP_SERVICE_H
#define MUSTER_SUP_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "sup_backoff.h"
#include "sup_instance.h"
#include "sup_logfile.h"

struct sup_host;

/* XX(ENUM, "name") for the service states of SPEC §5. */
#define SUP_SSTATE_MAP(XX)                                                                         \
  XX(RUNNING, "running")                                                                           \
  XX(DEGRADED, "degraded")                                                                         \
  XX(STARTING, "starting")                                                                         \
  XX(STOPPED, "stopped")                                                                           \
  XX(FAILED, "failed")

enum sup_sstate {
#define XX(e, s) SUP_S_##e,
  SUP_SSTATE_MAP(XX)
#undef XX
};

const char *sup_sstate_name(enum sup_sstate s);

/* Called when a rolling restart ends: err is NULL on success. */
typedef void (*sup_done_cb)(void *ctx, const char *err);

/* A rolling restart in progress: one instance at a time is replaced by a
 * new one, which must be ready before the old one drains and stops. */
struct sup_roll {
  int active;
  size_t next;               /* index of the instance being replaced */
  struct sup_instance *old;  /* the one being replaced, or NULL */
  struct sup_instance *repl; /* its replacement (at the array's tail) */
  int in_place;              /* upstream: 1 draining old, 2 old started again */
  sup_done_cb cb;            /* told when all are replaced */
  void *ctx;
};

struct sup_service {
  struct sup_host *host;         /* owner */
  const struct cfg_service *cfg; /* borrowed from the host's config */
  struct sup_instance **inst;    /* instances, index = position; owned */
  size_t ninst;                  /* entries in inst */
  size_t capinst;                /* entries allocated */
  struct sup_window window;      /* restarts within restart.window_s */
  struct sup_logfile *log;       /* logs/<name>.log, shared by instances */
  struct sup_watch *watch;       /* services[].watch: its files, or NULL */
  uv_timer_t *cron;              /* services[].cron_restart: the next one, owned, or NULL */
  time_t cron_due;               /* when that timer is due (wall clock) */
  uint64_t restarts_total;       /* restarts since muster started */
  size_t connections;            /* WebSocket and SSE clients it accepted (gateway) */
  size_t target;                 /* instances wanted (scale) */
  struct sup_roll roll;          /* rolling restart state */
  uv_timer_t step;               /* runs the next scale/roll step at a safe point */
  unsigned removed : 1;          /* dropped from the config by a reload */
  unsigned stopped : 1;          /* stopped on request: no restarts */
  unsigned failed : 1;           /* crash loop: no restarts until start */
  unsigned waiting : 1;          /* not started yet: a dependency is not ready (sup_deps) */
  unsigned shutdown_sent : 1;    /* shutdown: asked to stop (after its dependents) */
  unsigned shutdown_waits : 1;   /* shutdown: said it waits for its dependents */
};

/* Creates the service and its instances (not started). Returns NULL with
 * a message logged on failure (log file cannot be opened, out of memory). */
struct sup_service *sup_service_new(struct sup_host *host, const struct cfg_service *cfg);

/* Frees the service; every instance must be exited. */
void sup_service_free(struct sup_service *svc);

/* Starts every instance that is not running; clears stopped and failed. */
void sup_service_start(struct sup_service *svc);

/* Stops every instance gracefully; no restarts until started again. */
/* Sends sig to the main process of each instance that has one (as
 * supervisorctl signal and pm2 sendSignal do; its children are its own).
 * Returns how many got it. */
size_t sup_service_signal(struct sup_service *svc, int sig);

/* Empties its log file and the rotated ones (sup_logfile_flush). Returns
 * the bytes freed or a negative libuv error. */
int64_t sup_service_flush_log(struct sup_service *svc);

void sup_service_stop(struct sup_service *svc);

/* The service-level state. */
enum sup_sstate sup_service_state(const struct sup_service *svc);

/* 1 when no instance has a process. */
int sup_service_all_exited(const struct sup_service *svc);

/* 1 for a one-shot job (ready "exited") each of whose instances ran to a
 * clean exit: it counts as ready for its dependents and the health path. */
int sup_service_completed(const struct sup_service *svc);

/* Called by an instance whose state changed. */
void sup_service_changed(struct sup_service *svc);

/* Changes the number of instances: new ones start at once; removed ones
 * (the highest indexes) drain, stop, and go. Returns 0 or UV_EBUSY (a
 * rolling restart is under way). */
int sup_service_scale(struct sup_service *svc, size_t n);

/* Rolling restart: every instance replaced by a ready one before it
 * drains, one at a time, so no request fails. cb when done (or failed).
 * Returns 0 or UV_EBUSY. */
int sup_service_restart(struct sup_service *svc, sup_done_cb cb, void *ctx);

/* 1 when the service is removed and every process of it is gone. */
int sup_service_gone(const struct sup_service *svc);

/* The gateway holds one client more (+1) or fewer (-1) for svc (a
 * WebSocket or an SSE hold it accepted). */
void sup_service_connections(struct sup_service *svc, int delta);

/* Puts the service in state failed after inst's crash loop. */
void sup_service_fail(struct sup_service *svc, struct sup_instance *inst);

/* A reload gives the service ns (of the new config nc): points it there,
 * applies the log settings, and when anything else changed resets its
 * restart window and backoff and starts a rolling restart (on_rolled,
 * with svc as its context, when it ends). Returns 1 when the service
 * changed, else 0. */
int sup_service_reconfigure(struct sup_service *svc, const struct cfg_service *ns,
                            const struct cfg *nc, sup_done_cb on_rolled);

#endif
