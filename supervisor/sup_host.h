/* sup_host — the whole supervisor: the config in force, every service,
 * the signals, the memory watch, the event stream and graceful shutdown.
 * The gateway, the admin listener, the control server and sup_notify
 * plug in through sup_host_hooks. */
#ifndef MUSTER_SUP_HOST_H
#define MUSTER_SUP_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "cfg.h"
#include "rt_room.h"
#include "sup_child.h"
#include "sup_events.h"
#include "sup_sched.h"
#include "util_listenfds.h"

struct ipc_buf;
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
  /* The instance starts (1) or stops (0) taking work: ready, or no longer. */
  void (*instance_routable)(void *ctx, struct sup_instance *inst, int routable);
  /* Shutdown began: stop accepting, drain. */
  void (*stopping)(void *ctx);
  /* Every service is stopped: close everything. */
  void (*finished)(void *ctx);
  /* SIGUSR1: reopen log files. */
  void (*reopen)(void *ctx);
  /* A reload, before anything of it applies: nc is the new config.
   * Returns 0, or < 0 with the reasons added to errs: the reload fails
   * and the config in force stays (the gateway's TLS certificates). */
  int (*reload_check)(void *ctx, const struct cfg *nc, struct cfg_errors *errs);
  /* A reload changed the config in force (routes, gateway settings). */
  void (*reloaded)(void *ctx);
  /* A drain (SPEC §10) moved on: see enum sup_drain_phase. */
  void (*drain)(void *ctx, int phase);
  /* `start` or `restart` of the service: forget what was held against its
   * old processes (the gateway's quarantined paths). */
  void (*service_reset)(void *ctx, struct sup_service *svc);
  /* The service's object of a `status` reply is being written: append
   * ,"key":value members to it (the gateway's "queued", "quarantined"). */
  void (*service_status)(void *ctx, const struct sup_service *svc, struct ipc_buf *b);
};

/* The steps of a drain, as the hooks hear them. */
enum sup_drain_phase {
  SUP_DRAIN_BEGIN = 0, /* /readyz fails; answers carry connection: close */
  SUP_DRAIN_CLOSE,     /* after drain_delay_ms: stop accepting (WebSockets: 1001) */
  SUP_DRAIN_END        /* undrain: accept again, /readyz as the services say */
};

/* Several hosts (cluster/, set up by main when `cluster` is on): every
 * publication goes through it, to all hosts. node NULL: this host alone. */
struct sup_cluster {
  void *node;                                     /* struct cl_node */
  int (*publish)(void *node, struct rt_pub *pub); /* as rt_rooms_publish */
};

struct sup_host {
  uv_loop_t *loop;
  struct cfg *cfg;           /* the config in force, owned */
  char *config_path;         /* for reload, owned */
  char *bin_dir;             /* muster's own directory, owned */
  struct sup_service **svcs; /* in config order, owned */
  size_t nsvcs;
  uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
  struct sup_reaper reaper; /* SIGCHLD: the instances' processes (sup_child.h) */
  uv_timer_t mem_timer;     /* RSS check of services with max_memory_mb, every second */
  struct sup_sched beats;   /* every instance's next heartbeat */
  uv_timer_t beat_timer;    /* fires when the next beat is due */
  uint64_t beat_at;         /* when beat_timer fires; SUP_SCHED_NEVER: stopped */
  uv_timer_t done_timer;    /* shutdown progress check, at a safe point */
  uv_timer_t deps_timer;    /* starts waiting services, at a safe point */
  uv_timer_t drain_timer;   /* drain_delay_ms of a drain */
  int draining;             /* a drain is under way (sup_drain.c) */
  int drain_then_stop;      /* it is SIGTERM's first step: shut down after it */
  struct sup_run **runs;    /* runs whose handles are open */
  size_t nruns, capruns;
  struct cfg **retired; /* configs replaced by reloads, still pointed into */
  size_t nretired, capretired;
  struct sup_cblist listeners;    /* event listeners (sup_event_cb) */
  struct sup_host_hooks hooks[8]; /* gateway, control, admin, notify */
  size_t nhooks;
  struct sup_cblist log_listeners;  /* service output followers (sup_line_cb) */
  struct sup_evhooks *evhooks;      /* hooks.on_event, owned */
  struct rt_rooms rooms;            /* every room and its members (instances, connections) */
  struct sup_cluster cluster;       /* several hosts (SPEC §10), or none */
  char **environ;                   /* muster's environment at start */
  struct util_listenfds listen_fds; /* sockets from systemd's socket activation (main.c) */
  int stopping;                     /* shutdown under way */
  int finished;                     /* everything released */
  int exit_code;                    /* what main returns */
};

/* Creates the services of cfg (taking ownership of cfg) and the host's
 * handles. Returns 0, UV_ENOMEM, or UV_EIO when a service cannot be
 * created (sup_service_new: its log file cannot be opened, which it logs,
 * or out of memory). Free h with sup_host_free() either way. */
int sup_host_init(struct sup_host *h, uv_loop_t *loop, struct cfg *cfg, const char *config_path,
                  const char *bin_dir);

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

/* Drains (SPEC §10 `musterctl drain`): /readyz fails and answers carry
 * connection: close for gateway.drain_delay_ms, then the gateway stops
 * accepting while existing connections finish. Services keep running.
 * Returns 0, or UV_EALREADY (draining) / UV_ECANCELED (shutting down). */
int sup_host_drain(struct sup_host *h);
/* Ends a drain: the gateway accepts again. Returns 0 or UV_EINVAL (none). */
int sup_host_undrain(struct sup_host *h);

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

/* SIGTERM with gateway.drain_delay_ms > 0: drains, then shuts down. */
void sup_host_drain_before_stop(struct sup_host *h);

uv_loop_t *sup_host_loop(struct sup_host *h);
const struct cfg *sup_host_cfg(struct sup_host *h);
char **sup_host_environ(struct sup_host *h);
/* The listening sockets muster was started with (util_listenfds.h); the
 * gateway's listeners take theirs from it. */
struct util_listenfds *sup_host_listen_fds(struct sup_host *h);
int sup_host_stopping(struct sup_host *h);
void sup_host_run_opened(struct sup_host *h, struct sup_run *run);
void sup_host_run_closed(struct sup_run *run);
void sup_host_service_changed(struct sup_host *h, struct sup_service *svc);
void sup_host_instance_msg(struct sup_host *h, struct sup_instance *inst, const struct ipc_msg *m);
void sup_host_instance_gone(struct sup_host *h, struct sup_instance *inst);
/* Queues a heartbeat at due (loop time) / takes it out of the wheel. */
void sup_host_beat_add(struct sup_host *h, struct sup_sched_entry *e, uint64_t due);
void sup_host_beat_remove(struct sup_host *h, struct sup_sched_entry *e);
/* Something that shutdown waits for is gone: look again, at a safe point. */
void sup_host_check_done(struct sup_host *h);
void sup_host_instance_routable(struct sup_host *h, struct sup_instance *inst, int routable);

/* The room index (SPEC §8): shared by the instances' subscriptions and
 * the gateway's connections. */
struct rt_rooms *sup_host_rooms(struct sup_host *h);

/* The cluster node (struct cl_node *), or NULL when this host is alone. */
void *sup_host_cluster(struct sup_host *h);
/* The hooks of the same names: `start`/`restart` of a service
 * (sup_service), a service's `status` object (sup_status). */
void sup_host_service_reset(struct sup_host *h, struct sup_service *svc);
void sup_host_service_status(struct sup_host *h, const struct sup_service *svc, struct ipc_buf *b);

#endif
