/* ctl_server — control socket, commands and streams. See ctl_server.h. */
#include "ctl_server.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/queue.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "ctl_cmd.h"
#include "ipc_channel.h"
#include "ipc_text.h"
#include "sup_host.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_logfile.h"
#include "sup_service.h"
#include "sup_status.h"
#include "sup_view.h"
#include "util_unix.h"

#define CLIENT_MAX_QUEUE ((size_t)8 << 20) /* a client that stops reading */
#define REQUEST_MAX_LINE ((size_t)1 << 20)

struct ctl_client;

/* A command answered later (rolling restart); survives its client. */
struct ctl_op {
  struct ctl_client *client; /* NULL once the client went away */
  struct sup_host *host;     /* restart all: whose services */
  char **names;              /* restart all: the services when it began, owned */
  size_t nnames;
  size_t next;      /* restart all: the next of names */
  unsigned all : 1; /* restart all: one service after another */
  char service[65]; /* the service restarting now */
  char err[160];    /* restart all: the first failure, "" = none */
};

struct ctl_client {
  struct ipc_channel ch; /* the connection; handle lives here */
  struct ctl_server *srv;
  LIST_ENTRY(ctl_client) link; /* the server's clients */
  struct ctl_op *op;           /* the command awaiting its reply, or NULL */
  char op_service[65];         /* the service that command is about */
  struct ipc_buf backlog;      /* lines received while op was pending */
  char follow[65];             /* logs --follow: the service, "*" every one; "" = none */
  unsigned events : 1;         /* subscribed to events */
  unsigned closing : 1;
};

struct ctl_server {
  struct sup_host *host;
  uv_pipe_t listener;
  char *path; /* the socket file, unlinked at the end */
  LIST_HEAD(, ctl_client) clients;
  unsigned listening : 1;
};

static void client_close(struct ctl_client *cl);
static void handle_line(struct ctl_client *cl, const char *line, size_t len);

/* ---- Replies ---- */

/* Sends text (JSON, freed here; NULL: out of memory, the client goes) as
 * a line. A client past its queue limit is dropped (it stopped reading). */
static void send_line(struct ctl_client *cl, char *text) {
  if (text == NULL) {
    client_close(cl);
    return;
  }
  struct ipc_buf *b = ipc_channel_begin(&cl->ch);
  ipc_buf_adds(b, text);
  ipc_buf_addc(b, '\n');
  free(text);
  if (ipc_channel_commit(&cl->ch) == UV_ENOBUFS) {
    sup_log(SUP_WARN, "control: a client stopped reading; disconnecting it");
    client_close(cl);
  }
}

/* Sends one JSON value as a line. */
static void send_json(struct ctl_client *cl, cJSON *o) {
  send_line(cl, cJSON_PrintUnformatted(o));
}

static void reply_error(struct ctl_client *cl, const char *msg) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddFalseToObject(o, "ok");
  cJSON_AddStringToObject(o, "error", msg);
  send_json(cl, o);
  cJSON_Delete(o);
}

static cJSON *ok_reply(void) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddTrueToObject(o, "ok");
  return o;
}

static void reply_ok(struct ctl_client *cl, const char *service) {
  cJSON *o = ok_reply();
  if (service)
    cJSON_AddStringToObject(o, "service", service);
  send_json(cl, o);
  cJSON_Delete(o);
}

/* How many services h has (for "all" and the logs of every service). */
static size_t service_count(const struct sup_host *h) {
  size_t n = 0;
  while (sup_view_service(h, n) != NULL)
    n++;
  return n;
}

/* ---- status (the reply is sup_status's, shared with the admin /status.json) ---- */

static struct sup_service *find(struct ctl_client *cl, const char *name) {
  struct sup_service *svc = sup_view_find(cl->srv->host, name);
  if (svc == NULL) {
    char msg[128];
    snprintf(msg, sizeof(msg), "no service \"%s\"", name);
    reply_error(cl, msg);
    return NULL;
  }
  return svc;
}

/* The reply is written straight into the client's queue (sup_status.c). */
static void do_status(struct ctl_client *cl, const struct ctl_cmd *c) {
  struct sup_service *one = NULL;
  if (c->service[0] && (one = find(cl, c->service)) == NULL)
    return;
  sup_status_write(ipc_channel_begin(&cl->ch), cl->srv->host, one);
  int rc = ipc_channel_commit(&cl->ch);
  if (rc == UV_ENOMEM) {
    reply_error(cl, "out of memory");
  } else if (rc == UV_ENOBUFS) {
    sup_log(SUP_WARN, "control: a client stopped reading; disconnecting it");
    client_close(cl);
  }
}

/* ---- restart (answered when done) ---- */

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
    reply_error(cl, why);
  else
    reply_ok(cl, cl->op_service);
  /* Lines that arrived meanwhile, in order. */
  while (cl->backlog.len > 0 && cl->op == NULL && !cl->closing) {
    char *nl = memchr(cl->backlog.data, '\n', cl->backlog.len);
    size_t n = (size_t)(nl - cl->backlog.data);
    char *line = malloc(n + 1);
    if (line == NULL)
      break;
    memcpy(line, cl->backlog.data, n);
    ipc_buf_consume(&cl->backlog, n + 1);
    handle_line(cl, line, n);
    free(line);
  }
}

/* restart SERVICE, or every service one after another (svc NULL: all). */
static void do_restart(struct ctl_client *cl, struct sup_service *svc) {
  struct ctl_op *op = calloc(1, sizeof(*op));
  if (op == NULL) {
    reply_error(cl, "out of memory");
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
      reply_error(cl, "out of memory");
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
    reply_error(cl, "a rolling restart of this service is already under way");
  }
}

/* ---- reload ---- */

static void add_names(cJSON *o, const char *key, const char *list) {
  cJSON *a = cJSON_AddArrayToObject(o, key);
  char *copy = strdup(list), *save = NULL;
  for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save))
    cJSON_AddItemToArray(a, cJSON_CreateString(t));
  free(copy);
}

static void do_reload(struct ctl_client *cl) {
  struct sup_reload_result res;
  struct cfg_errors errs;
  cfg_errors_init(&errs);
  if (sup_host_reload(cl->srv->host, &res, &errs) != 0) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", "config invalid; nothing changed");
    cJSON *p = cJSON_AddArrayToObject(o, "problems");
    for (size_t i = 0; i < errs.count; i++)
      cJSON_AddItemToArray(p, cJSON_CreateString(errs.lines[i]));
    send_json(cl, o);
    cJSON_Delete(o);
  } else {
    cJSON *o = ok_reply();
    add_names(o, "added", res.added);
    add_names(o, "removed", res.removed);
    add_names(o, "changed", res.changed);
    send_json(cl, o);
    cJSON_Delete(o);
  }
  cfg_errors_free(&errs);
}

/* ---- logs ---- */

static void on_service_line(void *ctx, const char *label, const char *stream, const char *line,
                            size_t len) {
  struct ctl_client *cl = ctx;
  size_t n = strlen(cl->follow);
  if (strcmp(cl->follow, "*") != 0 && (strncmp(label, cl->follow, n) != 0 || label[n] != '['))
    return; /* another service's ("*": every service's) */
  char ts[32];
  sup_log_timestamp(ts, sizeof(ts));
  struct ipc_buf *b = ipc_channel_begin(&cl->ch);
  ipc_buf_adds(b, "{\"line\":\"");
  ipc_buf_add(b, ts, strlen(ts));
  ipc_buf_addc(b, ' ');
  ipc_buf_adds(b, label);
  ipc_buf_addc(b, ' ');
  ipc_buf_adds(b, stream);
  ipc_buf_add(b, ": ", 2);
  /* The line itself, JSON-escaped: reuse the string writer without quotes. */
  size_t start = b->len;
  ipc_json_str(b, line, len);
  if (!b->oom) {
    memmove(b->data + start, b->data + start + 1, b->len - start - 1); /* drop its '"' */
    b->len -= 1;
  }
  ipc_buf_adds(b, "}\n");
  if (ipc_channel_commit(&cl->ch) == UV_ENOBUFS)
    client_close(cl);
}

/* The last nlines lines of svc's log, at most max bytes, into *text
 * (malloc'd). Returns 0, or -1 with the error replied. */
static int tail_one(struct ctl_client *cl, const struct sup_service *svc, size_t nlines, size_t max,
                    char **text, size_t *len) {
  const struct cfg *cfg = sup_view_cfg(cl->srv->host);
  char path[4200];
  snprintf(path, sizeof(path), "%s/%s.log", cfg->logs.dir, sup_view_service_cfg(svc)->name);
  int rc = sup_logfile_tail(path, cfg->logs.keep, nlines, max, text, len);
  if (rc < 0) {
    char msg[4300];
    snprintf(msg, sizeof(msg), "cannot read \"%s\": %s", path, uv_strerror(rc));
    reply_error(cl, msg);
    return -1;
  }
  return 0;
}

/* logs without a service, as `pm2 logs`: the last nlines lines of every
 * service's log, merged in time order. The 8 MiB of a reply are shared
 * out (at least 4 KiB each), so many services do not read more. Returns
 * 0, or -1 (replied). */
static int tail_all(struct ctl_client *cl, size_t nlines, char **text, size_t *len) {
  const struct sup_host *h = cl->srv->host;
  size_t n = service_count(h), got = 0, share;
  int rc = 0;
  share = n ? SUP_LOGFILE_TAIL_MAX / n : SUP_LOGFILE_TAIL_MAX;
  share = share < 4096 ? 4096 : share;
  char **texts = calloc(n + 1, sizeof(*texts));
  size_t *lens = calloc(n + 1, sizeof(*lens));
  for (; texts && lens && got < n; got++)
    if ((rc = tail_one(cl, sup_view_service(h, got), nlines, share, &texts[got], &lens[got])) != 0)
      break;
  if (rc == 0 && (texts == NULL || lens == NULL ||
                  sup_logfile_merge((const char *const *)texts, lens, got, nlines,
                                    SUP_LOGFILE_TAIL_MAX, text, len) != 0)) {
    reply_error(cl, "out of memory");
    rc = -1;
  }
  for (size_t i = 0; texts && i < got; i++)
    free(texts[i]);
  free(texts);
  free(lens);
  return rc;
}

/* logs SERVICE, or every service's (svc NULL); with follow, the lines
 * that come next stream on this connection. */
static void do_logs(struct ctl_client *cl, const struct ctl_cmd *c, struct sup_service *svc) {
  char *text = NULL;
  size_t len = 0;
  const char *name = svc ? sup_view_service_cfg(svc)->name : "*";
  if ((svc ? tail_one(cl, svc, (size_t)c->lines, SUP_LOGFILE_TAIL_MAX, &text, &len)
           : tail_all(cl, (size_t)c->lines, &text, &len)) != 0)
    return;
  /* Written by hand, as followed lines are: a program's output may hold
   * any byte, and ipc_json_str makes valid JSON of it (U+FFFD for bytes
   * that are not UTF-8, escapes for NUL and the other controls), where
   * cJSON would pass them raw or cut the line at a NUL. */
  struct ipc_buf *b = ipc_channel_begin(&cl->ch);
  ipc_buf_adds(b, "{\"ok\":true,\"lines\":[");
  for (size_t off = 0; off < len;) {
    char *nl = memchr(text + off, '\n', len - off);
    size_t n = nl ? (size_t)(nl - text - off) : len - off;
    if (off > 0)
      ipc_buf_addc(b, ',');
    ipc_json_str(b, text + off, n);
    off += n + 1;
  }
  ipc_buf_adds(b, "]}\n");
  free(text);
  if (ipc_channel_commit(&cl->ch) == UV_ENOBUFS) {
    client_close(cl);
    return;
  }
  if (c->follow && !cl->closing) {
    snprintf(cl->follow, sizeof(cl->follow), "%s", name);
    sup_host_add_log_listener(cl->srv->host, on_service_line, cl);
  }
}

/* ---- events ---- */

/* One event, as sup_event_json writes it (hooks get the same object). */
static void on_event(void *ctx, const struct sup_event *ev) {
  send_line(ctx, sup_event_json(ev));
}

/* ---- drain, undrain ---- */

static void do_drain(struct ctl_client *cl, int drain) {
  struct sup_host *h = cl->srv->host;
  int rc = drain ? sup_host_drain(h) : sup_host_undrain(h);
  if (rc == UV_EALREADY)
    reply_error(cl, "muster is draining already");
  else if (rc == UV_ECANCELED)
    reply_error(cl, "muster is shutting down");
  else if (rc != 0)
    reply_error(cl, "muster is not draining");
  else
    reply_ok(cl, NULL);
}

/* ---- rooms, publish ---- */

/* One room: its name, members by kind, history kept. */
static cJSON *room_json(const struct rt_room *r) {
  size_t kinds[3] = {0, 0, 0};
  cJSON *o = cJSON_CreateObject();
  for (size_t i = 0; i < r->nmembers; i++)
    if (r->members[i].m && r->members[i].m->kind <= RT_MEMBER_SSE)
      kinds[r->members[i].m->kind]++;
  cJSON_AddStringToObject(o, "room", r->name);
  cJSON_AddNumberToObject(o, "members", (double)r->live);
  cJSON_AddNumberToObject(o, "instances", (double)kinds[RT_MEMBER_INSTANCE]);
  cJSON_AddNumberToObject(o, "websockets", (double)kinds[RT_MEMBER_WS]);
  cJSON_AddNumberToObject(o, "sse", (double)kinds[RT_MEMBER_SSE]);
  cJSON_AddNumberToObject(o, "history", (double)r->hist_n);
  if (r->hist_cap)
    cJSON_AddNumberToObject(o, "last_offset", (double)r->last_offset);
  return o;
}

/* Every room muster holds, with its local members. */
static void do_rooms(struct ctl_client *cl) {
  const struct rt_rooms *rs = sup_host_rooms(cl->srv->host);
  cJSON *o = ok_reply();
  cJSON *a = cJSON_AddArrayToObject(o, "rooms");
  for (size_t i = 0; i < rs->cap; i++)
    if (rs->slots[i])
      cJSON_AddItemToArray(a, room_json(rs->slots[i]));
  send_json(cl, o);
  cJSON_Delete(o);
}

/* publish from the operator: the text goes out as it is. */
static void do_publish(struct ctl_client *cl, const struct ctl_cmd *c) {
  cJSON *text = cJSON_CreateStringReference(c->data);
  char *json = text ? cJSON_PrintUnformatted(text) : NULL;
  cJSON_Delete(text);
  struct rt_pub pub = {.room = c->topic,
                       .text = c->data,
                       .text_len = strlen(c->data),
                       .json = json,
                       .json_len = json ? strlen(json) : 0};
  int n = json ? sup_pubsub_publish(cl->srv->host, &pub, NULL, -1) : UV_ENOMEM;
  free(json);
  if (n < 0) {
    reply_error(cl, "out of memory");
    return;
  }
  cJSON *o = ok_reply();
  cJSON_AddStringToObject(o, "topic", c->topic);
  cJSON_AddNumberToObject(o, "delivered", n);
  send_json(cl, o);
  cJSON_Delete(o);
}

/* ---- Dispatch ---- */

/* `scale`: refused while a rolling restart of the service runs. */
static void do_scale(struct ctl_client *cl, const struct ctl_cmd *c, struct sup_service *svc) {
  struct sup_service_info si;
  sup_view_service_info(svc, &si);
  size_t n = c->add ? si.target + (size_t)c->instances : (size_t)c->instances;
  if (n > 1024) {
    char msg[128];
    snprintf(msg, sizeof(msg), "%zu + %lld instances is more than 1024", si.target,
             (long long)c->instances);
    reply_error(cl, msg);
    return;
  }
  if (sup_service_scale(svc, n) != 0) {
    reply_error(cl, "a rolling restart of this service is under way; scale after it");
    return;
  }
  cJSON *o = ok_reply();
  cJSON_AddStringToObject(o, "service", sup_view_service_cfg(svc)->name);
  cJSON_AddNumberToObject(o, "instances", (double)n);
  send_json(cl, o);
  cJSON_Delete(o);
}

/* `events`: the reply, then every host event on this connection. */
static void do_events(struct ctl_client *cl) {
  reply_ok(cl, NULL);
  cl->events = 1;
  sup_host_add_listener(cl->srv->host, on_event, cl);
}

/* `version`: muster's own. */
static void do_version(struct ctl_client *cl) {
  cJSON *o = ok_reply();
  cJSON_AddStringToObject(o, "version", MUSTER_VERSION);
  send_json(cl, o);
  cJSON_Delete(o);
}

/* start or stop SERVICE, or every service (svc NULL: all, in config
 * order to start, the reverse to stop). */
static void do_start_stop(struct ctl_client *cl, int start, struct sup_service *svc) {
  const struct sup_host *h = cl->srv->host;
  size_t n = service_count(h);
  if (svc != NULL) {
    (start ? sup_service_start : sup_service_stop)(svc);
    reply_ok(cl, sup_view_service_cfg(svc)->name);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (start)
      sup_service_start(sup_view_service(h, i));
    else
      sup_service_stop(sup_view_service(h, n - 1 - i));
  }
  reply_ok(cl, "all");
}

/* signal SERVICE SIG, or every service's instances (svc NULL: all). */
static void do_signal(struct ctl_client *cl, const struct ctl_cmd *c, struct sup_service *svc) {
  const struct sup_host *h = cl->srv->host;
  const char *name = svc ? sup_view_service_cfg(svc)->name : "all";
  char sig[16];
  size_t n = 0;
  snprintf(sig, sizeof(sig), "SIG%s", sigabbrev_np(c->signo));
  struct sup_service *each;
  if (svc != NULL)
    n = sup_service_signal(svc, c->signo);
  else
    for (size_t i = 0; (each = sup_view_service(h, i)) != NULL; i++)
      n += sup_service_signal(each, c->signo);
  sup_log(SUP_INFO, "%s: %s sent to %zu instance%s (musterctl signal)", name, sig, n,
          n == 1 ? "" : "s");
  cJSON *o = ok_reply();
  cJSON_AddStringToObject(o, "service", name);
  cJSON_AddStringToObject(o, "signal", sig);
  cJSON_AddNumberToObject(o, "instances", (double)n);
  send_json(cl, o);
  cJSON_Delete(o);
}

/* flush [SERVICE], as pm2 flush and supervisorctl clear: empties the log
 * of svc, or of every service (svc NULL). */
static void do_flush(struct ctl_client *cl, struct sup_service *svc) {
  const struct sup_host *h = cl->srv->host;
  const char *name = svc ? sup_view_service_cfg(svc)->name : "all";
  int64_t freed = 0;
  for (size_t i = 0; svc ? i == 0 : sup_view_service(h, i) != NULL; i++) {
    struct sup_service *s = svc ? svc : sup_view_service(h, i);
    int64_t n = sup_service_flush_log(s);
    if (n < 0) {
      char msg[200];
      snprintf(msg, sizeof(msg), "%s: cannot empty its log: %s", sup_view_service_cfg(s)->name,
               uv_strerror((int)n));
      reply_error(cl, msg);
      return;
    }
    freed += n;
  }
  sup_log(SUP_INFO, "%s: log emptied, %lld bytes freed (musterctl flush)", name, (long long)freed);
  cJSON *o = ok_reply();
  cJSON_AddStringToObject(o, "service", name);
  cJSON_AddNumberToObject(o, "bytes", (double)freed);
  send_json(cl, o);
  cJSON_Delete(o);
}

#define ENVIRON_MAX ((size_t)1 << 20) /* of /proc/PID/environ read for `env` */

/* The instance of svc at index with a process (the ready one, when a
 * rolling restart gives the index two), or NULL. */
static struct sup_instance *env_instance(const struct sup_service *svc, int64_t index) {
  struct sup_instance *inst, *found = NULL;
  struct sup_instance_info ii;
  for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++) {
    sup_view_instance_info(inst, &ii);
    if (ii.index == index && ii.pid > 0 && (found == NULL || ii.state == SUP_I_READY))
      found = inst;
  }
  return found;
}

/* env SERVICE [index], as pm2 env: the environment the instance's program
 * started with (/proc/PID/environ), one "NAME=value" per entry. */
static void do_env(struct ctl_client *cl, const struct ctl_cmd *c, struct sup_service *svc) {
  char path[64], msg[160];
  struct sup_instance *inst = env_instance(svc, c->index);
  const char *name = sup_view_service_cfg(svc)->name;
  if (inst == NULL) {
    snprintf(msg, sizeof(msg), "%s has no instance %lld with a process", name, (long long)c->index);
    reply_error(cl, msg);
    return;
  }
  pid_t pid = sup_instance_pid(inst);
  snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
  char *text = malloc(ENVIRON_MAX);
  FILE *f = text ? fopen(path, "re") : NULL;
  size_t len = f ? fread(text, 1, ENVIRON_MAX, f) : 0;
  if (f == NULL || ferror(f)) {
    snprintf(msg, sizeof(msg), "cannot read %s: %s", path, text ? strerror(errno) : "no memory");
    reply_error(cl, msg);
  } else {
    struct ipc_buf *b = ipc_channel_begin(&cl->ch); /* by hand: values may hold any byte */
    ipc_buf_adds(b, "{\"ok\":true,\"service\":");
    ipc_json_str(b, name, strlen(name));
    ipc_buf_adds(b, ",\"index\":");
    ipc_buf_addi(b, c->index);
    ipc_buf_adds(b, ",\"pid\":");
    ipc_buf_addi(b, pid);
    ipc_buf_adds(b, ",\"env\":[");
    for (size_t off = 0, k = 0; off < len; k++) {
      char *nul = memchr(text + off, '\0', len - off);
      size_t n = nul ? (size_t)(nul - text - off) : len - off;
      ipc_buf_adds(b, k ? "," : "");
      ipc_json_str(b, text + off, n);
      off += n + 1;
    }
    ipc_buf_adds(b, "]}\n");
    if (ipc_channel_commit(&cl->ch) == UV_ENOBUFS)
      client_close(cl);
  }
  if (f)
    fclose(f);
  free(text);
}

/* Runs command c (svc: its service, found already when it names one;
 * NULL for "all"). */
static void run_cmd(struct ctl_client *cl, const struct ctl_cmd *c, struct sup_service *svc) {
  switch (c->type) {
  case CTL_STATUS:
    do_status(cl, c);
    break;
  case CTL_START:
  case CTL_STOP:
    do_start_stop(cl, c->type == CTL_START, svc);
    break;
  case CTL_RESTART:
    do_restart(cl, svc);
    break;
  case CTL_SCALE:
    do_scale(cl, c, svc);
    break;
  case CTL_SIGNAL:
    do_signal(cl, c, svc);
    break;
  case CTL_FLUSH:
    do_flush(cl, svc);
    break;
  case CTL_ENV:
    do_env(cl, c, svc);
    break;
  case CTL_RELOAD:
    do_reload(cl);
    break;
  case CTL_LOGS:
    do_logs(cl, c, svc);
    break;
  case CTL_EVENTS:
    do_events(cl);
    break;
  case CTL_SHUTDOWN:
    reply_ok(cl, NULL);
    sup_host_shutdown(cl->srv->host);
    break;
  case CTL_DRAIN:
  case CTL_UNDRAIN:
    do_drain(cl, c->type == CTL_DRAIN);
    break;
  case CTL_ROOMS:
    do_rooms(cl);
    break;
  case CTL_PUBLISH:
    do_publish(cl, c);
    break;
  case CTL_VERSION:
    do_version(cl);
    break;
  case CTL_NONE:
    break;
  }
}

/* One request line: refused on a streaming connection or when it does not
 * parse, or names a service that does not exist; else run. */
static void handle_line(struct ctl_client *cl, const char *line, size_t len) {
  struct ctl_cmd c;
  char err[200];
  struct sup_service *svc = NULL;
  if (cl->follow[0] || cl->events) {
    reply_error(cl, "this connection is streaming; open another one for commands");
    return;
  }
  if (ctl_cmd_parse(line, len, &c, err, sizeof(err)) != 0) {
    reply_error(cl, err);
    return;
  }
  int all = strcmp(c.service, "all") == 0 &&
            (c.type == CTL_START || c.type == CTL_STOP || c.type == CTL_RESTART ||
             c.type == CTL_SIGNAL || c.type == CTL_FLUSH);
  if (c.service[0] && !all && c.type != CTL_STATUS && (svc = find(cl, c.service)) == NULL)
    return;
  run_cmd(cl, &c, svc);
}

static void on_client_line(struct ipc_channel *ch, const char *line, size_t len) {
  struct ctl_client *cl = ch->data;
  if (cl->closing)
    return;
  if (cl->op) { /* a command is pending: keep the order of replies */
    ipc_buf_add(&cl->backlog, line, len);
    ipc_buf_addc(&cl->backlog, '\n');
    if (cl->backlog.len > REQUEST_MAX_LINE)
      client_close(cl);
    return;
  }
  handle_line(cl, line, len);
}

static void on_client_error(struct ipc_channel *ch, int err) {
  struct ctl_client *cl = ch->data;
  if (err == UV_E2BIG)
    reply_error(cl, "request line too long");
  client_close(cl);
}

/* ---- Clients ---- */

static void on_client_closed(struct ipc_channel *ch) {
  struct ctl_client *cl = ch->data;
  ipc_buf_free(&cl->backlog);
  free(cl);
}

static void client_close(struct ctl_client *cl) {
  if (cl->closing)
    return;
  cl->closing = 1;
  struct ctl_server *srv = cl->srv;
  if (cl->op)
    cl->op->client = NULL;
  if (cl->events)
    sup_host_remove_listener(srv->host, on_event, cl);
  sup_host_remove_log_listener(srv->host, on_service_line, cl);
  LIST_REMOVE(cl, link);
  ipc_channel_close(&cl->ch, 1, on_client_closed);
}

/* 1 when the peer is muster's own user or root. */
static int peer_allowed(struct ctl_client *cl) {
  uv_os_fd_t fd;
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (uv_fileno((uv_handle_t *)&cl->ch.pipe, &fd) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return 0;
  return cred.uid == 0 || cred.uid == geteuid();
}

static void on_connection(uv_stream_t *l, int status) {
  static const struct ipc_channel_cbs cbs = {on_client_line, on_client_error, NULL};
  struct ctl_server *srv = l->data;
  if (status < 0)
    return;
  struct ctl_client *cl = calloc(1, sizeof(*cl));
  if (cl == NULL)
    return;
  cl->srv = srv;
  ipc_buf_init(&cl->backlog);
  LIST_INSERT_HEAD(&srv->clients, cl, link);
  int rc = ipc_channel_accept(&cl->ch, l, REQUEST_MAX_LINE, &cbs, cl);
  cl->ch.max_queue = CLIENT_MAX_QUEUE;
  if (rc < 0) {
    client_close(cl);
    return;
  }
  if (!peer_allowed(cl)) {
    sup_log(SUP_WARN, "control: refused a connection from another user");
    reply_error(cl, "permission denied: only muster's own user or root may control it");
    client_close(cl);
  }
}

/* ---- Life cycle ---- */

static void on_listener_closed(uv_handle_t *h) {
  (void)h;
}

/* Every service is stopped: close the socket and every client. */
static void hook_finished(void *ctx) {
  struct ctl_server *srv = ctx;
  if (srv->listening) {
    srv->listening = 0;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    unlink(srv->path);
  }
  while (!LIST_EMPTY(&srv->clients))
    client_close(LIST_FIRST(&srv->clients));
}

struct ctl_server *ctl_server_start(struct sup_host *host) {
  const char *path = sup_view_cfg(host)->control.socket;
  struct ctl_server *srv = calloc(1, sizeof(*srv));
  if (srv == NULL || (srv->path = strdup(path)) == NULL) {
    free(srv);
    return NULL;
  }
  srv->host = host;
  LIST_INIT(&srv->clients);
  if (util_unix_prepare(path, 0700) != 0) {
    sup_log(SUP_ERROR, "control: another muster is listening on %s", path);
    free(srv->path);
    free(srv);
    return NULL;
  }
  uv_pipe_init(sup_host_loop(host), &srv->listener, 0);
  srv->listener.data = srv;
  srv->listening = 1;
  mode_t old = umask(0177); /* the socket is born 0600 */
  int rc = uv_pipe_bind(&srv->listener, path);
  umask(old);
  if (rc == 0) {
    chmod(path, 0600);
    rc = uv_listen((uv_stream_t *)&srv->listener, 64, on_connection);
  }
  if (rc < 0) {
    sup_log(SUP_ERROR, "control: listen on %s failed: %s", path, uv_strerror(rc));
    hook_finished(srv); /* closes the handle; ctl_server_free() frees srv */
    srv->listening = 0;
  } else {
    sup_log(SUP_INFO, "control: listening on %s", path);
  }
  struct sup_host_hooks hooks = {.ctx = srv, .finished = hook_finished};
  sup_host_add_hooks(host, &hooks);
  return srv;
}

void ctl_server_free(struct ctl_server *srv) {
  if (srv == NULL)
    return;
  free(srv->path);
  free(srv);
}
