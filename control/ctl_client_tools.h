/* ctl_client_tools — the musterctl commands built on the control protocol
 * rather than mapped to one request: `wait` (for deploy scripts) and `top`
 * (a live full-screen view, like `pm2 monit`). */
#ifndef MUSTER_CTL_CLIENT_TOOLS_H
#define MUSTER_CTL_CLIENT_TOOLS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "ipc_buf.h"

#define CTL_WAIT_DEFAULT_S 30.0 /* `wait` without --timeout */

/* musterctl wait SERVICE: fd is connected to muster at path. Subscribes to
 * the events, then asks for the service's status: returns 0 as soon as
 * the service has a ready instance, 1 when it is `failed`, unknown, muster
 * goes away, or timeout_s (0: no limit) passes first. With json, the
 * service's last `status` reply is printed. */
int ctl_client_wait(int fd, const char *path, const char *service, double timeout_s, int json);

/* musterctl top: a live view on the terminal until `q` (or SIGINT). Needs
 * stdin and stdout on a terminal. Returns the exit status. */
int ctl_client_top(int fd, const char *path);

/* ---- top's screen, pure (unit-testable) ---- */

/* The previous reading of one instance, for rates. */
struct ctl_top_prev {
  char key[96];    /* "service/index/pid" */
  double requests; /* its request count then */
  double rate;     /* requests/s shown for it */
};

struct ctl_top_view {
  int width, height;         /* the terminal */
  int selected;              /* index of the selected service */
  int nservices;             /* in the last status rendered */
  char selected_name[65];    /* its name (logs are asked for it) */
  struct ctl_top_prev *prev; /* readings of the last frame, owned */
  size_t nprev;
  long long prev_ms; /* when they were taken; 0 = none */
};

/* Clamps the selection to the services of the `status` reply status and
 * records the selected one's name. */
void ctl_client_top_select(struct ctl_top_view *v, const cJSON *status);

/* Appends one frame (ANSI escapes, width x height) for the `status`
 * reply status (and the selected service's `logs` reply, or NULL), taken
 * at now_ms, to b; the instance readings are kept in v for the next
 * frame's requests/s. title is the first line's text. */
void ctl_client_top_frame(struct ipc_buf *b, struct ctl_top_view *v, const char *title,
                          const cJSON *status, const cJSON *logs, long long now_ms);

void ctl_client_top_view_free(struct ctl_top_view *v);

#endif
