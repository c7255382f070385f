/* ctl_srv_restart — `restart SERVICE` and `restart all`: rolling
 * restarts answered when they end (a ctl_op, which outlives a client
 * that leaves), one service after another for all. See ctl_srv.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ctl_srv.h"
#include "ipc_text.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_logfile.h"
#include "sup_service.h"
#include "sup_view.h"

static void on_restart_done(void *ctx, const char *err);

static void op_free(struct ctl_op *op) {
  for (size_t i = 0; i < op->nnames; i++)
    free(op->names[i]);
  free(op->names);
  free(op);
}

/* restart all: the names of the services now, in config order (a reload
 * while it runs may add, remove or reorder them). Returns 0 or -1. */
static int op_names(struct ctl_op *op) {
  struct sup_service *svc;
  size_t n = 0;
  while (sup_view_service(op->host, n) != NULL)
    n++;
  if (n > 0 && (op->names = calloc(n, sizeof(*op->names))) == NULL)
    return -1;
  for (; op->nnames < n; op->nnames++) {
    svc = sup_view_service(op->host, op->nnames);
    if ((op->names[op->nnames] = strdup(sup_view_service_cfg(svc)->name)) == NULL)
      return -1;
  }
  return 0;
}

/* restart all: the rolling restart of the next service still there (one
 * a reload removed meanwhile is passed over; one it added was started on
 * the new config). Returns 0 once one is under way (its end calls
 * on_restart_done, which may free op before this returns), -1 when none
 * is left. */
static int restart_next(struct ctl_op *op) {
  struct sup_service *svc;
  while (op->next < op->nnames) {
    if ((svc = sup_view_find(op->host, op->names[op->next++])) == NULL)
      continue;
    snprintf(op->service, sizeof(op->service), "%s", sup_view_service_cfg(svc)->name);
    if (sup_service_restart(svc, on_restart_done, op) == 0)
      return 0;
    if (!op->err[0])
      snprintf(op->err, sizeof(op->err), "%s: a rolling restart is already under way", op->service);
  }
  return -1;
}

/* A rolling restart ended (err: why it failed, or NULL); with restart
 * all, the next one begins, and the reply waits for the last. */
static void on_restart_done(void *ctx, const char *err) {
  struct ctl_op *op = ctx;
  if (err && op->all && !op->err[0])
    snprintf(op->err, sizeof(op->err), "%s: %s", op->service, err);
  if (op->all && restart_next(op) == 0)
    return; /* op may be gone: the next one runs */
  struct ctl_client *cl = op->client;
  char why[sizeof(op->err)];
  snprintf(why, sizeof(why), "%s", op->all ? op->err : err ? err : "");
  op_free(op);
  if (cl == NULL)
    return; /* the client left before the end */
  cl->op = NULL;
  if (why[0])
    ctl_srv_reply_error(cl, why);
  else
    ctl_srv_reply_ok(cl, cl->op_service);
  /* Lines that arrived meanwhile, in order. */
  while (cl->backlog.len > 0 && cl->op == NULL && !cl->closing) {
    char *nl = memchr(cl->backlog.data, '\n', cl->backlog.len);
    size_t n = (size_t)(nl - cl->backlog.data);
    char *line = malloc(n + 1);
    if (line == NULL)
      break;
    memcpy(line, cl->backlog.data, n);
    ipc_buf_consume(&cl->backlog, n + 1);
    ctl_srv_handle_line(cl, line, n);
    free(line);
  }
}

/* restart SERVICE, or every service one after another (svc NULL: all). */
void ctl_srv_restart(struct ctl_client *cl, struct sup_service *svc) {
  struct ctl_op *op = calloc(1, sizeof(*op));
  if (op == NULL) {
    ctl_srv_reply_error(cl, "out of memory");
    return;
  }
  op->client = cl;
  op->host = cl->srv->host;
  cl->op = op; /* before: the restart may finish at once and reply */
  if (svc == NULL) {
    op->all = 1;
    snprintf(cl->op_service, sizeof(cl->op_service), "all");
    if (op_names(op) != 0) {
      cl->op = NULL;
      op_free(op);
      ctl_srv_reply_error(cl, "out of memory");
      return;
    }
    if (restart_next(op) != 0)
      on_restart_done(op, NULL); /* nothing to restart: the reply */
    return;
  }
  snprintf(op->service, sizeof(op->service), "%s", sup_view_service_cfg(svc)->name);
  snprintf(cl->op_service, sizeof(cl->op_service), "%s", op->service);
  if (sup_service_restart(svc, on_restart_done, op) != 0) {
    cl->op = NULL;
    op_free(op);
    ctl_srv_reply_error(cl, "a rolling restart of this service is already under way");
  }
}
