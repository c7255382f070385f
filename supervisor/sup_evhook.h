/* sup_evhook — hooks.on_event (SPEC §12): a command run for each matching
 * host event, like supervisord's crashmail.
 *
 * Each hook is a queue and at most one running child: an event the hook
 * names is written as JSON (sup_event_json, the object of a control
 * `events` line), queued (at most SUP_EVHOOK_QUEUE; more are dropped and
 * counted, and the log says so), and given to the next run on its stdin
 * (one line, then EOF) and in MUSTER_EVENT. A run is a child in its own
 * process group, in the config's directory, with muster's environment;
 * its stdout and stderr go to muster's log ("hook[0] out: ..."). One that
 * runs longer than SUP_EVHOOK_TIMEOUT_MS gets SIGKILL (its group). Nothing
 * blocks the loop: the child, its stdin and its output are libuv handles.
 *
 * At shutdown the queues are dropped and a running hook gets SIGTERM, then
 * SIGKILL after SUP_EVHOOK_GRACE_MS; the host finishes only once every run
 * is gone (sup_evhooks_idle). A run is detached from its hook when its
 * process exits and frees itself once its handles are closed, as a
 * sup_run does. */
#ifndef MUSTER_SUP_EVHOOK_H
#define MUSTER_SUP_EVHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

#define SUP_EVHOOK_QUEUE 100
#define SUP_EVHOOK_TIMEOUT_MS 10000
#define SUP_EVHOOK_GRACE_MS 1000

struct sup_host;
struct sup_evhooks;

/* What `status` shows of one hook. */
struct sup_evhook_info {
  int index;           /* hooks.on_event[index] */
  char *const *events; /* its event types, NULL-terminated (borrowed) */
  int running;         /* a run is under way */
  size_t queued;       /* events waiting */
  uint64_t runs;       /* runs that ended */
  uint64_t failures;   /* of those, ended with a non-zero code or a signal, or not started */
  uint64_t killed;     /* killed after SUP_EVHOOK_TIMEOUT_MS */
  uint64_t dropped;    /* events not run: the queue was full, or muster stopped */
};

/* The hooks of the host's config, listening to its events. NULL on out
 * of memory (logged). */
struct sup_evhooks *sup_evhooks_new(struct sup_host *h);

/* Takes the hooks of c (at a reload): hook i keeps its queue and its run
 * and takes the new events and command; hooks beyond c's are dropped (a
 * run under way finishes on its own). */
void sup_evhooks_configure(struct sup_evhooks *s, const struct cfg *c);

/* Shutdown: drops what is queued, SIGTERM then SIGKILL to running hooks. */
void sup_evhooks_stop(struct sup_evhooks *s);

/* 1 when no run is left. Closes the output pipes of runs whose process is
 * gone (an escaped grandchild may hold them). */
int sup_evhooks_idle(struct sup_evhooks *s);

/* Frees s (every run must be gone). NULL is fine. */
void sup_evhooks_free(struct sup_evhooks *s);

/* The hooks, for `status`: how many, and each one. */
size_t sup_evhooks_count(const struct sup_evhooks *s);
void sup_evhooks_info(const struct sup_evhooks *s, size_t i, struct sup_evhook_info *out);

#endif
