/* sup_instance — one running copy of a service and its life cycle.
 *
 * The instance is an explicit state machine (states of SPEC §5):
 *
 *   starting --ready--> ready --stop--> stopping --exit--> exited
 *      |                  |  \--drain--> draining --idle--> stopping
 *      | ready timeout,   | exit / hung / broken / over memory
 *      v exit             v
 *   (policy, window) --> backoff --timer--> starting     or  exited
 *
 * Each spawn is a `struct sup_run`: the process handle, the channel and the
 * two capture pipes of that one process. A run is detached from its
 * instance when the process exits and frees itself once its handles are
 * closed, so a restart never waits for the old run's cleanup and a late
 * callback never touches a newer process. */
#ifndef MUSTER_SUP_INSTANCE_H
#define MUSTER_SUP_INSTANCE_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "ipc_channel.h"
#include "sup_backoff.h"
#include "sup_capture.h"
#include "sup_proc.h"

struct sup_service;
struct ipc_msg;

/* XX(ENUM, "name") for the instance states, as `status` shows them. */
#define SUP_ISTATE_MAP(XX)                                                     \
  XX(STARTING, "starting")                                                     \
  XX(READY, "ready")                                                           \
  XX(DRAINING, "draining")                                                     \
  XX(STOPPING, "stopping")                                                     \
  XX(BACKOFF, "backoff")                                                       \
  XX(EXITED, "exited")

enum sup_istate {
#define XX(e, s) SUP_I_##e,
  SUP_ISTATE_MAP(XX)
#undef XX
};

const char *sup_istate_name(enum sup_istate s);

/* Why an instance is being stopped; decides what its exit leads to. */
enum sup_stop_reason {
  SUP_STOP_NONE = 0, /* not stopping: an exit is a crash */
  SUP_STOP_FINAL,    /* stop, scale down, shutdown: stays exited */
  SUP_STOP_RESTART,  /* planned replacement (memory, rolling): respawn now */
  SUP_STOP_FAILED    /* killed by us as hung/broken/late: a crash */
};

/* One spawned process and what belongs to it. */
struct sup_run {
  struct sup_host *host;     /* the host, which lists open runs */
  struct sup_instance *inst; /* owner; NULL once detached */
  uv_process_t proc;         /* the child */
  struct ipc_channel ch;     /* its fd 3 */
  struct sup_capture out;    /* its stdout */
  struct sup_capture err;    /* its stderr */
  pid_t pid;                 /* 0 until spawned */
  int open;                  /* handles/closers not yet closed */
  unsigned exited : 1;       /* the exit callback ran */
  unsigned ch_dead : 1;      /* the channel failed or closed */
};

struct sup_instance {
  struct sup_service *svc;  /* owner */
  int index;                /* 0-based, as MUSTER_INSTANCE */
  enum sup_istate state;
  enum sup_stop_reason stop_reason;
  struct sup_run *run;      /* the current process, or NULL */
  uv_timer_t timer;         /* ready timeout, backoff, stop stages, EOF grace */
  uv_timer_t hb;            /* heartbeat */
  struct sup_backoff backoff;
  uint64_t started_ms;      /* monotonic time of the last spawn */
  uint64_t ready_ms;        /* monotonic time it became ready (0: never) */
  unsigned restarts;        /* restarts so far */
  int last_code;            /* last exit code, -1 if none */
  int last_signal;          /* last terminating signal, 0 if none */
  int64_t ping_seq;         /* last ping sent */
  int ping_outstanding;     /* a ping awaits its pong */
  int misses;               /* pongs missed in a row */
  uint64_t bad_lines;       /* invalid lines in the current second */
  uint64_t bad_second;      /* that second (monotonic ms / 1000) */
  uint64_t rss;             /* last RSS reading, bytes */
  struct sup_cpu cpu;       /* last CPU reading (with the RSS, every second) */
  unsigned inflight;        /* requests in flight (gateway) */
  uint64_t requests;        /* requests routed to it */
  char **topics;            /* subscriptions, owned */
  size_t ntopics;
  int closing;              /* its timers are being closed */
  int removing;             /* scale-down or rolling restart: goes once exited */
  char label[80];           /* "dummy[1]" for messages */
};

/* Allocates an instance of svc (not started). NULL on out of memory. */
struct sup_instance *sup_instance_new(struct sup_service *svc, int index);

/* Closes the instance's timers and frees it (its run must be detached). */
void sup_instance_free(struct sup_instance *inst);

/* Spawns the process (state starting). A spawn that fails is handled as
 * a crash: restart policy and backoff apply. */
void sup_instance_start(struct sup_instance *inst);

/* Stops the instance for `reason` (FINAL or RESTART): shutdown message,
 * SIGTERM to the group at half of stop_timeout_ms, SIGKILL at all of it. */
void sup_instance_stop(struct sup_instance *inst, enum sup_stop_reason reason);

/* Takes the instance out of rotation; once its in-flight requests are
 * answered (or stop_timeout_ms passed) it is stopped for good. */
void sup_instance_drain(struct sup_instance *inst);

/* The gateway finished one of the instance's requests. */
void sup_instance_released(struct sup_instance *inst);

/* Kills the process group at once (forced shutdown). */
void sup_instance_kill(struct sup_instance *inst);

/* Queues one encoded line to the instance's channel. Returns 0 or < 0. */
int sup_instance_send(struct sup_instance *inst, const char *line, size_t len);

/* The channel of the current run, or NULL when there is none usable. */
struct ipc_channel *sup_instance_channel(struct sup_instance *inst);

/* 1 when the instance can take requests. */
int sup_instance_routable(const struct sup_instance *inst);

/* Reads its RSS and restarts it gracefully past max_memory_mb. */
void sup_instance_check_memory(struct sup_instance *inst);

/* Closes the capture pipes of a run whose process is gone but whose output
 * pipes are still held open (by an escaped grandchild): end of shutdown. */
void sup_run_force_close(struct sup_run *run);

/* pid of the running process, or 0. */
pid_t sup_instance_pid(const struct sup_instance *inst);

#endif
