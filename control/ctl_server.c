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
#include "ctl_srv.h"
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

void ctl_srv_close(struct ctl_client *cl);
void ctl_srv_handle_line(struct ctl_client *cl, const char *line, size_t len);

/* ---- Replies ---- */

/* Sends text (JSON, freed here; NULL: out of memory, the client goes) as
 * a line. A client past its queue limit is dropped (it stopped reading). */
static void send_line(struct ctl_client *cl, char *text) {
  if (text == NULL) {
    ctl_srv_close(cl);
    return;
  }
  struct ipc_buf *b = ipc_channel_begin(&cl->ch);
  ipc_buf_adds(b, text);
  ipc_buf_addc(b, '\n');
  free(text);
  if (ipc_channel_commit(&cl->ch) == UV_ENOBUFS) {
    sup_log(SUP_WARN, "control: a client stopped reading; disconnecting it");
    ctl_srv_close(cl);
  }
}

/* Sends one JSON value as a line. */
void ctl_srv_send_json(struct ctl_client *cl, cJSON *o) {
  send_line(cl, cJSON_PrintUnformatted(o));
}

void ctl_srv_reply_error(struct ctl_client *cl, const char *msg) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddFalseToObject(o, "ok");
  cJSON_AddStringToObject(o, "error", msg);
  ctl_srv_send_json(cl, o);
  cJSON_Delete(o);
}

cJSON *ctl_srv_ok_reply(void) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddTrueToObject(o, "ok");
  return o;
}

void ctl_srv_reply_ok(struct ctl_client *cl, const char *service) {
  cJSON *o = ctl_srv_ok_reply();
  if (service)
    cJSON_AddStringToObject(o, "service", service);
  ctl_srv_send_json(cl, o);
  cJSON_Delete(o);
}

/* How many services h has (for "all" and the logs of every service). */
size_t ctl_srv_service_count(const struct sup_host *h) {
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
    ctl_srv_reply_error(cl, msg);
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
    ctl_srv_reply_error(cl, "out of memory");
  } else if (rc == UV_ENOBUFS) {
    sup_log(SUP_WARN, "control: a client stopped reading; disconnecting it");
    ctl_srv_close(cl);
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
    ctl_srv_send_json(cl, o);
    cJSON_Delete(o);
  } else {
    cJSON *o = ctl_srv_ok_reply();
    add_names(o, "added", res.added);
    add_names(o, "removed", res.removed);
    add_names(o, "changed", res.changed);
    ctl_srv_send_json(cl, o);
    cJSON_Delete(o);
  }
  cfg_errors_free(&errs);
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
    ctl_srv_reply_error(cl, "muster is draining already");
  else if (rc == UV_ECANCELED)
    ctl_srv_reply_error(cl, "muster is shutting down");
  else if (rc != 0)
    ctl_srv_reply_error(cl, "muster is not draining");
  else
    ctl_srv_reply_ok(cl, NULL);
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
  cJSON *o = ctl_srv_ok_reply();
  cJSON *a = cJSON_AddArrayToObject(o, "rooms");
  for (size_t i = 0; i < rs->cap; i++)
    if (rs->slots[i])
      cJSON_AddItemToArray(a, room_json(rs->slots[i]));
  ctl_srv_send_json(cl, o);
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
    ctl_srv_reply_error(cl, "out of memory");
    return;
  }
  cJSON *o = ctl_srv_ok_reply();
  cJSON_AddStringToObject(o, "topic", c->topic);
  cJSON_AddNumberToObject(o, "delivered", n);
  ctl_srv_send_json(cl, o);
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
    ctl_srv_reply_error(cl, msg);
    return;
  }
  if (sup_service_scale(svc, n) != 0) {
    ctl_srv_reply_error(cl, "a rolling restart of this service is under way; scale after it");
    return;
  }
  cJSON *o = ctl_srv_ok_reply();
  cJSON_AddStringToObject(o, "service", sup_view_service_cfg(svc)->name);
  cJSON_AddNumberToObject(o, "instances", (double)n);
  ctl_srv_send_json(cl, o);
  cJSON_Delete(o);
}

/* `events`: the reply, then every host event on this connection. */
static void do_events(struct ctl_client *cl) {
  ctl_srv_reply_ok(cl, NULL);
  cl->events = 1;
  sup_host_add_listener(cl->srv->host, on_event, cl);
}

/* `version`: muster's own. */
static void do_version(struct ctl_client *cl) {
  cJSON *o = ctl_srv_ok_reply();
  cJSON_AddStringToObject(o, "version", MUSTER_VERSION);
  ctl_srv_send_json(cl, o);
  cJSON_Delete(o);
}

/* start or stop SERVICE, or every service (svc NULL: all, in config
 * order to start, the reverse to stop). */
static void do_start_stop(struct ctl_client *cl, int start, struct sup_service *svc) {
  const struct sup_host *h = cl->srv->host;
  size_t n = ctl_srv_service_count(h);
  if (svc != NULL) {
    (start ? sup_service_start : sup_service_stop)(svc);
    ctl_srv_reply_ok(cl, sup_view_service_cfg(svc)->name);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (start)
      sup_service_start(sup_view_service(h, i));
    else
      sup_service_stop(sup_view_service(h, n - 1 - i));
  }
  ctl_srv_reply_ok(cl, "all");
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
  cJSON *o = ctl_srv_ok_reply();
  cJSON_AddStringToObject(o, "service", name);
  cJSON_AddStringToObject(o, "signal", sig);
  cJSON_AddNumberToObject(o, "instances", (double)n);
  ctl_srv_send_json(cl, o);
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
    ctl_srv_reply_error(cl, msg);
    return;
  }
  pid_t pid = sup_instance_pid(inst);
  snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
  char *text = malloc(ENVIRON_MAX);
  FILE *f = text ? fopen(path, "re") : NULL;
  size_t len = f ? fread(text, 1, ENVIRON_MAX, f) : 0;
  if (f == NULL || ferror(f)) {
    snprintf(msg, sizeof(msg), "cannot read %s: %s", path, text ? strerror(errno) : "no memory");
    ctl_srv_reply_error(cl, msg);
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
      ctl_srv_close(cl);
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
    ctl_srv_restart(cl, svc);
    break;
  case CTL_SCALE:
    do_scale(cl, c, svc);
    break;
  case CTL_SIGNAL:
    do_signal(cl, c, svc);
    break;
  case CTL_FLUSH:
    ctl_srv_flush(cl, svc);
    break;
  case CTL_ENV:
    do_env(cl, c, svc);
    break;
  case CTL_RELOAD:
    do_reload(cl);
    break;
  case CTL_LOGS:
    ctl_srv_logs(cl, c, svc);
    break;
  case CTL_EVENTS:
    do_events(cl);
    break;
  case CTL_SHUTDOWN:
    ctl_srv_reply_ok(cl, NULL);
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
void ctl_srv_handle_line(struct ctl_client *cl, const char *line, size_t len) {
  struct ctl_cmd c;
  char err[200];
  struct sup_service *svc = NULL;
  if (cl->follow[0] || cl->events) {
    ctl_srv_reply_error(cl, "this connection is streaming; open another one for commands");
    return;
  }
  if (ctl_cmd_parse(line, len, &c, err, sizeof(err)) != 0) {
    ctl_srv_reply_error(cl, err);
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
      ctl_srv_close(cl);
    return;
  }
  ctl_srv_handle_line(cl, line, len);
}

static void on_client_error(struct ipc_channel *ch, int err) {
  struct ctl_client *cl = ch->data;
  if (err == UV_E2BIG)
    ctl_srv_reply_error(cl, "request line too long");
  ctl_srv_close(cl);
}

/* ---- Clients ---- */

static void on_client_closed(struct ipc_channel *ch) {
  struct ctl_client *cl = ch->data;
  ipc_buf_free(&cl->backlog);
  free(cl);
}

void ctl_srv_close(struct ctl_client *cl) {
  if (cl->closing)
    return;
  cl->closing = 1;
  struct ctl_server *srv = cl->srv;
  if (cl->op)
    cl->op->client = NULL;
  if (cl->events)
    sup_host_remove_listener(srv->host, on_event, cl);
  ctl_srv_unfollow(cl);
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
    ctl_srv_close(cl);
    return;
  }
  if (!peer_allowed(cl)) {
    sup_log(SUP_WARN, "control: refused a connection from another user");
    ctl_srv_reply_error(cl, "permission denied: only muster's own user or root may control it");
    ctl_srv_close(cl);
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
    ctl_srv_close(LIST_FIRST(&srv->clients));
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
