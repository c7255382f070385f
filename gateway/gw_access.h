/* gw_access — the access log: one JSON object per request, appended to
 * gateway.access_log. Lines are buffered and written when the buffer holds
 * 32 KiB or a quarter second has passed (like nginx's `buffer=`/`flush=`),
 * so logging costs no system call per request. */
#ifndef MUSTER_GW_ACCESS_H
#define MUSTER_GW_ACCESS_H

#include <stdint.h>
#include <uv.h>

#include "ipc_buf.h"

struct gw_access {
  char *path;         /* NULL when the access log is off; owned */
  int fd;             /* -1 when not open */
  struct ipc_buf buf; /* lines not yet written */
  uv_timer_t flush;   /* flushes buf a short while after it got data */
  int timer_init;     /* flush timer initialised (must be closed) */
};

/* One finished request. Strings need not be NUL-terminated: lengths given. */
struct gw_access_rec {
  const char *remote;
  const char *method;
  const char *path;
  size_t path_len;
  int status;
  uint64_t bytes;
  double duration_ms;
  const char *service; /* NULL when not routed */
  int instance;        /* -1 when none */
  const char *request_id;
};

/* Opens path (NULL: logging off). Returns 0 or a negative errno with a
 * message logged. */
int gw_access_open(struct gw_access *a, uv_loop_t *loop, const char *path);
void gw_access_write(struct gw_access *a, const struct gw_access_rec *r);
/* Writes out what is buffered. */
void gw_access_flush(struct gw_access *a);
/* Reopens the file (SIGUSR1, after logrotate moved it). */
void gw_access_reopen(struct gw_access *a);
/* A reload: logs to path from now on (NULL: off), what is buffered going
 * to the old file first. The same path: nothing. Returns 0 or a negative
 * errno (logged; logging is then off until a reload or SIGUSR1 opens it). */
int gw_access_repath(struct gw_access *a, uv_loop_t *loop, const char *path);
/* Flushes, closes the file and the timer. */
void gw_access_close(struct gw_access *a);

#endif
