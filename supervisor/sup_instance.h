/* sup_instance — one running copy of a service and its life cycle.
 *
 * The instance is an explicit state machine, s6-style: a state enum, an
 * event enum, and one table (sup_instance.c) naming the action for each
 * (state, event) pair; sup_instance_event() is the one entry point and
 * every state change goes through one function, which logs it at debug
 * level. What used to be a separate "why is it stopping" field is folded
 * into the states: STOPPING (for good), RESTARTING (planned replacement)
 * and KILLED (by muster as hung, broken or late: its exit is a crash). The
 * table is drawn in ARCHITECTURE.md.
 *
 * Each spawn is a `struct sup_run`: the process handle, the channel, the
 * two capture pipes and the subscriptions of that one process. A run is
 * detached from its instance when the process exits and frees itself once
 * its handles are closed, so a restart never waits for the old run's
 * cleanup and a late callback never touches a newer process. */
#ifndef MUSTER_SUP_INSTANCE_H
#define MUSTER_SUP_INSTANCE_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "ipc_channel.h"
#include "sup_backoff.h"
#include "sup_capture.h"
#include "sup_child.h"
#include "sup_pubsub.h"
#include "sup_proc.h"
#include "sup_sched.h"

struct sup_service;
struct sup_hcheck;
struct sup_sdsock;
struct sup_sdmsg;
struct sup_probe;
struct ipc_msg;

/* XX(ENUM, "name as status shows it", has a process) for the states. */
#define SUP_ISTATE_MAP(XX)                                                                         \
  XX(EXITED, "exited", 0)       /* no process, and none wanted now */                              \
  XX(BACKOFF, "backoff", 0)     /* no process; the timer restarts it */                            \
  XX(STARTING, "starting", 1)   /* spawned, no ready message yet */                                \
  XX(READY, "ready", 1)         /* takes requests */                                               \
  XX(DRAINING, "draining", 1)   /* no new requests; stops once idle */                             \
  XX(STOPPING, "stopping", 1)   /* asked to stop for good */                                       \
  XX(RESTARTING, "stopping", 1) /* asked to stop, replaced at once (memory, roll in place) */      \
  XX(KILLED, "stopping", 1)     /* killed by muster: its exit is a crash */

enum sup_istate {
#define XX(e, s, p) SUP_I_##e,
  SUP_ISTATE_MAP(XX)
#undef XX
      SUP_I__COUNT
};

/* XX(ENUM, "name") for what can happen to an instance. */
#define SUP_IEVENT_MAP(XX)                                                                         \
  XX(START, "start")         /* start (service start, scale up) */                                 \
  XX(STOP, "stop")           /* stop for good (stop, scale down, shutdown) */                      \
  XX(RESTART, "restart")     /* replace the process now (memory, roll) */                          \
  XX(DRAIN, "drain")         /* out of rotation; stop once idle */                                 \
  XX(IDLE, "idle")           /* its last request in flight was answered */                         \
  XX(READY, "ready")         /* the ready message, READY=1, its port open, running */              \
  XX(PROBE, "probe")         /* upstream.ready "port": time to try its port */                     \
  XX(TIMER, "timer")         /* the state's deadline passed */                                     \
  XX(HUNG, "hung")           /* too many pongs missed; no WATCHDOG=1 in time */                    \
  XX(UNHEALTHY, "unhealthy") /* heartbeat_misses health checks failed in a row */                  \
  XX(BROKEN, "broken")       /* flood, huge line, channel closed while running */                  \
  XX(KILL, "kill")           /* forced shutdown: SIGKILL now */                                    \
  XX(EXIT, "exit")           /* the process is gone */

enum sup_ievent {
#define XX(e, s) SUP_E_##e,
  SUP_IEVENT_MAP(XX)
#undef XX
      SUP_E__COUNT
};

/* The state's name as `status` shows it ("stopping" for all three stops). */
const char *sup_istate_name(enum sup_istate s);
/* The internal name (for the debug log and the table's tests). */
const char *sup_istate_id(enum sup_istate s);
const char *sup_ievent_name(enum sup_ievent e);

/* For tests only (tests/unit/test_sup_table.c): the table's action for
 * (s, e) as an opaque pointer, NULL when e does nothing in s. Two pairs
 * with the same action give the same pointer. */
const void *sup_instance__action(enum sup_istate s, enum sup_ievent e);

struct sup_run;
/* The process of run exited with status, or was killed by sig (!= 0). */
typedef void (*sup_run_exit_cb)(struct sup_run *run, int64_t status, int sig);

/* One spawned process and what belongs to it. */
struct sup_run {
  struct sup_host *host;     /* the host, which lists open runs */
  struct sup_instance *inst; /* owner; NULL once detached */
  struct sup_child child;    /* the process (sup_child.h) */
  sup_run_exit_cb on_exit;   /* the instance's, when it is reaped */
  struct ipc_channel ch;     /* its fd 3 */
  struct sup_capture out;    /* its stdout */
  struct sup_capture err;    /* its stderr */
  struct rt_member member;   /* its subscriptions (rooms) */
  pid_t pid;                 /* 0 until spawned */
  int open;                  /* handles/closers not yet closed */
  int health_port;           /* an http check's port (its PORT), 0: none */
  char **health_env;         /* a health command's environment, or NULL */
  int up_port;               /* upstream: the PORT it was given, else 0 */
  char *up_path;             /* upstream: the MUSTER_SOCKET it was given, owned, or NULL */
  struct sup_sdsock *sd;     /* ready "notify": its NOTIFY_SOCKET, owned, or NULL */
  int watchdog_ms;           /* ready "notify": WATCHDOG=1 due this often once ready; 0: none */
  unsigned exited : 1;       /* the exit callback ran */
  unsigned ch_dead : 1;      /* the channel failed or closed */
  unsigned no_channel : 1;   /* not ready "message": no fd 3, never a channel */
  unsigned up_ipv6 : 1;      /* its port accepted on [::1], not 127.0.0.1 (sup_probe) */
};

struct sup_instance {
  struct sup_service *svc; /* owner */
  int index;               /* 0-based, as MUSTER_INSTANCE */
  enum sup_istate state;
  struct sup_run *run;         /* the current process, or NULL */
  uv_timer_t timer;            /* the state's deadline: ready, backoff, drain, stop stages */
  uv_timer_t grace;            /* the grace after a channel EOF */
  uv_timer_t watchdog;         /* ready "notify" with a watchdog: the next WATCHDOG=1 is due */
  struct sup_sched_entry beat; /* its next heartbeat, in the host's wheel */
  struct sup_probe *probe;     /* upstream.ready "port": the readiness probe, or NULL */
  struct sup_backoff backoff;
  int stop_stage;            /* stopping: 0 asked by message, 1 SIGTERM sent */
  uint64_t started_ms;       /* monotonic time of the last spawn */
  uint64_t ready_ms;         /* monotonic time it became ready (0: never) */
  unsigned restarts;         /* restarts so far */
  int last_code;             /* last exit code, -1 if none */
  int last_signal;           /* last terminating signal, 0 if none */
  int64_t ping_seq;          /* last ping sent */
  int ping_outstanding;      /* a ping awaits its pong */
  int misses;                /* pongs missed in a row */
  struct sup_hcheck *hcheck; /* the health check in flight, or NULL */
  int health_fails;          /* health checks failed in a row */
  uint64_t bad_lines;        /* invalid lines in the current second */
  uint64_t bad_second;       /* that second (monotonic ms / 1000) */
  uint64_t rss;              /* last RSS reading, bytes (sup_instance_sample) */
  struct sup_cpu cpu;        /* last CPU reading, with the RSS */
  unsigned inflight;         /* requests in flight (gateway) */
  uint64_t requests;         /* requests routed to it */
  int closing;               /* its timers are being closed */
  int removing;              /* scale-down or rolling restart: goes once exited */
  int completed;             /* a one-shot job (ready "exited") whose last run succeeded */
  char label[80];            /* "dummy[1]" for messages */
};

/* Allocates an instance of svc (not started). NULL on out of memory. */
struct sup_instance *sup_instance_new(struct sup_service *svc, int index);

/* Closes the instance's timers and frees it (its run must be detached). */
void sup_instance_free(struct sup_instance *inst);

/* What happened to the instance (the one entry to its state machine).
 * why: a sentence for the log when muster kills it (HUNG, BROKEN), else
 * NULL. */
void sup_instance_event(struct sup_instance *inst, enum sup_ievent ev, const char *why);

/* The acts of the service on its instances, as events. */
static inline void sup_instance_start(struct sup_instance *inst) {
  sup_instance_event(inst, SUP_E_START, NULL);
}
/* Stop for good: shutdown message, SIGTERM to the group at half of
 * stop_timeout_ms, SIGKILL at all of it. */
static inline void sup_instance_stop(struct sup_instance *inst) {
  sup_instance_event(inst, SUP_E_STOP, NULL);
}
/* The same stop, then a new process at once (exited or backoff: now). */
static inline void sup_instance_restart(struct sup_instance *inst) {
  sup_instance_event(inst, SUP_E_RESTART, NULL);
}
/* Out of rotation; once its requests are answered (or stop_timeout_ms
 * passed) it is stopped for good. */
static inline void sup_instance_drain(struct sup_instance *inst) {
  sup_instance_event(inst, SUP_E_DRAIN, NULL);
}
/* Kills the process group at once (forced shutdown). */
static inline void sup_instance_kill(struct sup_instance *inst) {
  sup_instance_event(inst, SUP_E_KILL, NULL);
}

/* The gateway routes a request to the instance / finished one. */
void sup_instance_acquire(struct sup_instance *inst);
void sup_instance_released(struct sup_instance *inst);

/* Queues one encoded line to the instance's channel. Returns 0 or < 0. */
int sup_instance_send(struct sup_instance *inst, const char *line, size_t len);

/* The channel of the current run, or NULL when there is none usable. */
struct ipc_channel *sup_instance_channel(struct sup_instance *inst);

/* 1 when the instance can take requests. */
int sup_instance_routable(const struct sup_instance *inst);

/* Reads its RSS and restarts it gracefully past max_memory_mb. */
void sup_instance_check_memory(struct sup_instance *inst);

/* Reads its RSS and CPU time from /proc now (one file): inst->rss, and
 * inst->cpu when the last reading that counted is a second old or more. */
void sup_instance_sample(struct sup_instance *inst);

/* The result of its health check c (sup_health.c): ok, or why not. */
void sup_instance_health_done(struct sup_instance *inst, struct sup_hcheck *c, int ok,
                              const char *why);

/* A message from the process on its NOTIFY_SOCKET (ready "notify"). */
void sup_instance_notified(struct sup_instance *inst, const struct sup_sdmsg *m);

/* Its heartbeat is due (the host's wheel took it, at loop time now):
 * counts a missed pong, sends the next ping, queues the next beat. */
void sup_instance_beat(struct sup_instance *inst, uint64_t now);

/* Closes the capture pipes of a run whose process is gone but whose output
 * pipes are still held open (by an escaped grandchild): end of shutdown. */
void sup_run_force_close(struct sup_run *run);

/* pid of the running process, or 0. */
pid_t sup_instance_pid(const struct sup_instance *inst);

#endif
