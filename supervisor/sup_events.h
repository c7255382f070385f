/* sup_events — the host's events and their listeners (SPEC §5 `events`,
 * the admin /events stream, `logs --follow`).
 *
 * An event is logged to muster's stderr and given to every listener, in
 * the order they were added; a listener may remove itself (or another)
 * while it is called. Service output lines go to the log listeners the
 * same way. The functions taking a host are declared in sup_host.h. */
#ifndef MUSTER_SUP_EVENTS_H
#define MUSTER_SUP_EVENTS_H

#include <stddef.h>
#include <sys/types.h>

/* One host event: logged, and given to listeners. */
struct sup_event {
  const char *type;    /* spawn, ready, exit, restart, backoff, failed, stop, reload, ... */
  const char *service; /* NULL for host-wide events */
  int index;           /* instance index, -1 for none */
  pid_t pid;           /* 0 if none */
  int code;            /* exit code, -1 if none */
  int signal;          /* terminating signal, 0 if none */
  const char *detail;  /* a human sentence */
  int asked;           /* exit: the end of a stop muster asked for (logged at info) */
};

typedef void (*sup_event_cb)(void *ctx, const struct sup_event *ev);

/* The event as one JSON object (a line of the control `events` stream and
 * what a hook gets), with the time now: {"time","type","service","index",
 * "pid","code","signal","detail"}. Returns malloc'd text without a newline,
 * or NULL on out of memory. */
char *sup_event_json(const struct sup_event *ev);

/* A line a service wrote (label "dummy[1]", stream "out"/"err"). */
typedef void (*sup_line_cb)(void *ctx, const char *label, const char *stream, const char *line,
                            size_t len);

/* A list of (callback, context) pairs. Callbacks are kept as the generic
 * function pointer type and cast back to their own type when called. */
struct sup_cb {
  void (*fn)(void);
  void *ctx;
};

struct sup_cblist {
  struct sup_cb *v; /* owned */
  size_t n, cap;
};

/* Appends (fn, ctx). Returns 0 or UV_ENOMEM (then it is not added). */
int sup_cblist_add(struct sup_cblist *l, void (*fn)(void), void *ctx);
/* Removes the first (fn, ctx); nothing when absent. */
void sup_cblist_remove(struct sup_cblist *l, void (*fn)(void), void *ctx);
void sup_cblist_free(struct sup_cblist *l);

#endif
