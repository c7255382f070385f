/* ipc_service — the service side of the channel. See ipc_service.h. */
#include "ipc_service.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc_channel.h"
#include "ipc_text.h"

struct ipc_service {
  uv_loop_t *loop;
  struct ipc_channel ch; /* the channel to muster */
  uv_timer_t deadline;   /* shutdown deadline */
  struct ipc_service_cbs cbs;
  void *data;                /* the service's pointer */
  int instance;              /* $MUSTER_INSTANCE */
  LIST_HEAD(, ipc_req) reqs; /* in-flight requests, newest first */
  size_t inflight;           /* length of reqs */
  uint64_t bad_lines;        /* invalid lines received (logged sparingly) */
  int open_handles;          /* ch + deadline, until closed */
  unsigned autopong : 1;     /* answer ping by ourselves */
  unsigned ws_ack : 1;       /* $MUSTER_WS_ACK: acknowledge WebSocket messages */
  unsigned shutting_down : 1;
  unsigned done : 1; /* the run is over; loop stopping */
};

/* Writes one line to stderr (captured by muster into the service's log). */
static void svc_log(const char *fmt, ...) {
  va_list ap;
  fputs("ipc: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ---- Ending the run ---- */

static void on_handle_closed(uv_handle_t *h) {
  struct ipc_service *svc = h->data;
  svc->open_handles--;
}

static void on_channel_closed(struct ipc_channel *ch) {
  struct ipc_service *svc = ch->data;
  svc->open_handles--;
}

/* Ends the run: flushes what is queued, closes the channel, stops the loop. */
static void do_finish(struct ipc_service *svc, int flush) {
  if (svc->done)
    return;
  svc->done = 1;
  uv_timer_stop(&svc->deadline);
  ipc_channel_close(&svc->ch, flush, on_channel_closed);
  uv_stop(svc->loop);
}

/* ---- In-flight requests ---- */

static void req_unlink(struct ipc_req *req) {
  LIST_REMOVE(req, link);
  req->svc->inflight--;
}

/* Releases a request that was answered or dropped. */
static void req_complete(struct ipc_req *req) {
  struct ipc_service *svc = req->svc;
  req_unlink(req);
  ipc_msg_free(&req->msg);
  free(req);
  if (svc->shutting_down && svc->inflight == 0)
    do_finish(svc, 1);
}

/* Tells the handler req is dropped, then frees it. */
static void req_cancel(struct ipc_req *req) {
  struct ipc_service *svc = req->svc;
  req_unlink(req);
  if (svc->cbs.on_cancel)
    svc->cbs.on_cancel(req);
  ipc_msg_free(&req->msg);
  free(req);
}

/* The request in flight with that id, or NULL. */
static struct ipc_req *req_find(struct ipc_service *svc, int64_t id) {
  struct ipc_req *r;
  LIST_FOREACH(r, &svc->reqs, link)
  if (r->id == id)
    return r;
  return NULL;
}

/* Cancels every request in flight (shutdown deadline, end of run). */
static void cancel_all(struct ipc_service *svc) {
  while (!LIST_EMPTY(&svc->reqs))
    req_cancel(LIST_FIRST(&svc->reqs));
}

/* ---- Sending ---- */

/* Commits what was encoded into the channel queue. */
static int send_commit(struct ipc_service *svc) {
  return ipc_channel_commit(&svc->ch);
}

/* Converts NUL-terminated headers to slices. *out is `stack` when n fits,
 * else malloc'd. Returns 0 or UV_ENOMEM. */
static int to_slices(const struct ipc_hdr *h, size_t n, struct ipc_header *stack, size_t nstack,
                     struct ipc_header **out) {
  struct ipc_header *v = stack;
  if (n > nstack && (v = malloc(n * sizeof(*v))) == NULL)
    return UV_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    v[i].name = h[i].name;
    v[i].name_len = strlen(h[i].name);
    v[i].value = h[i].value;
    v[i].value_len = strlen(h[i].value);
  }
  *out = v;
  return 0;
}

/* Sends a response head (stream) or a whole response with a byte body. */
static int send_response(struct ipc_req *req, int status, const struct ipc_hdr *h, size_t nh,
                         const void *body, size_t len, int stream) {
  struct ipc_header stack[16], *v;
  if (to_slices(h, nh, stack, 16, &v) != 0)
    return UV_ENOMEM;
  ipc_enc_response(ipc_channel_begin(&req->svc->ch), req->id, status, v, nh, body, len, stream);
  if (v != stack)
    free(v);
  return send_commit(req->svc);
}

int ipc_respond(struct ipc_req *req, int status, const struct ipc_hdr *headers, size_t nheaders,
                const void *body, size_t len) {
  int rc = send_response(req, status, headers, nheaders, body, len, 0);
  req_complete(req);
  return rc;
}

int ipc_respond_json(struct ipc_req *req, int status, const cJSON *json) {
  int rc = UV_ENOMEM;
  char *text = cJSON_PrintUnformatted(json);
  if (text != NULL) {
    ipc_enc_response_json(ipc_channel_begin(&req->svc->ch), req->id, status, NULL, 0, text,
                          strlen(text));
    free(text);
    rc = send_commit(req->svc);
  }
  req_complete(req);
  return rc;
}

int ipc_respond_json_text(struct ipc_req *req, int status, const char *json_text, size_t len) {
  ipc_enc_response_json(ipc_channel_begin(&req->svc->ch), req->id, status, NULL, 0, json_text, len);
  int rc = send_commit(req->svc);
  req_complete(req);
  return rc;
}

int ipc_respond_error(struct ipc_req *req, int status, const char *message) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  ipc_buf_adds(&b, "{\"error\":");
  ipc_json_str(&b, message, strlen(message));
  ipc_buf_addc(&b, '}');
  int rc = UV_ENOMEM;
  if (!b.oom) {
    ipc_enc_response_json(ipc_channel_begin(&req->svc->ch), req->id, status, NULL, 0, b.data,
                          b.len);
    rc = send_commit(req->svc);
  }
  ipc_buf_free(&b);
  req_complete(req);
  return rc;
}

int ipc_stream_begin(struct ipc_req *req, int status, const struct ipc_hdr *headers,
                     size_t nheaders) {
  if (req->streaming)
    return UV_EALREADY;
  req->streaming = 1;
  return send_response(req, status, headers, nheaders, NULL, 0, 1);
}

int ipc_stream_write(struct ipc_req *req, const void *data, size_t len) {
  if (!req->streaming)
    return UV_EINVAL;
  if (len == 0)
    return 0;
  ipc_enc_chunk(ipc_channel_begin(&req->svc->ch), req->id, data, len);
  return send_commit(req->svc);
}

int ipc_stream_end(struct ipc_req *req) {
  int rc = UV_EINVAL;
  if (req->streaming) {
    ipc_enc_end(ipc_channel_begin(&req->svc->ch), req->id);
    rc = send_commit(req->svc);
  }
  req_complete(req);
  return rc;
}

/* Sends publish with data serialised. */
int ipc_publish(struct ipc_service *svc, const char *topic, const cJSON *data) {
  char *text = cJSON_PrintUnformatted(data);
  if (text == NULL)
    return UV_ENOMEM;
  ipc_enc_publish(ipc_channel_begin(&svc->ch), topic, text, strlen(text));
  free(text);
  return send_commit(svc);
}

int ipc_subscribe(struct ipc_service *svc, const char *topic) {
  ipc_enc_subscribe(ipc_channel_begin(&svc->ch), topic);
  return send_commit(svc);
}

int ipc_unsubscribe(struct ipc_service *svc, const char *topic) {
  ipc_enc_unsubscribe(ipc_channel_begin(&svc->ch), topic);
  return send_commit(svc);
}

int ipc_service_ready(struct ipc_service *svc) {
  ipc_enc_ready(ipc_channel_begin(&svc->ch));
  return send_commit(svc);
}

/* ---- Receiving ---- */

/* The path after the route prefix, on whole segments; "/" at least. */
static const char *subpath_of(const char *path, const char *prefix) {
  size_t n = strlen(prefix);
  if (n > 0 && prefix[n - 1] == '/')
    n--; /* "/" or "/x/" mounts: keep the slash in the subpath */
  if (strncmp(path, prefix, n) == 0 && (path[n] == '/' || path[n] == '\0'))
    path += n;
  return path[0] ? path : "/";
}

const char *ipc_req_header(const struct ipc_req *req, const char *name) {
  for (size_t i = 0; i < req->nheaders; i++)
    if (strcmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}

/* Takes ownership of a parsed request and hands it to the handler. */
static void on_request_msg(struct ipc_service *svc, struct ipc_msg *m) {
  struct ipc_req *req = calloc(1, sizeof(*req));
  if (req == NULL) {
    svc_log("request %lld dropped: out of memory", (long long)m->id);
    ipc_msg_free(m);
    return;
  }
  req->msg = *m; /* moves ownership of the tree */
  memset(m, 0, sizeof(*m));
  m = &req->msg;
  req->svc = svc;
  req->id = m->id;
  req->method = m->method;
  req->path = m->path;
  req->query = m->query;
  req->prefix = m->prefix;
  req->remote = m->remote;
  req->headers = m->hdrs;
  req->nheaders = m->nhdrs;
  req->body = m->body ? m->body : "";
  req->body_len = m->body_len;
  req->body_binary = m->body_buf != NULL;
  req->ws_conn = m->ws ? m->conn : NULL;
  req->subpath = subpath_of(m->path, m->prefix);
  LIST_INSERT_HEAD(&svc->reqs, req, link);
  svc->inflight++;
  if (svc->shutting_down) {
    ipc_respond_error(req, 503, "service is shutting down");
    return;
  }
  svc->cbs.on_request(req);
}

static void on_deadline(uv_timer_t *t) {
  struct ipc_service *svc = t->data;
  svc_log("shutdown deadline passed with %zu requests in flight; abandoning them", svc->inflight);
  cancel_all(svc);
  do_finish(svc, 1);
}

/* `shutdown`: stop taking work; end once in-flight requests are done. */
static void on_shutdown_msg(struct ipc_service *svc, int64_t deadline_ms) {
  if (svc->shutting_down)
    return;
  svc->shutting_down = 1;
  if (svc->cbs.on_shutdown)
    svc->cbs.on_shutdown(svc);
  if (svc->inflight == 0) {
    do_finish(svc, 1);
    return;
  }
  if (deadline_ms > 0) {
    /* Leave a margin so our own exit beats muster's SIGTERM. */
    uint64_t ms = (uint64_t)deadline_ms;
    uv_timer_start(&svc->deadline, on_deadline, ms > 100 ? ms - ms / 10 : ms, 0);
  }
}

/* A client's message: the handler, then (ack mode, $MUSTER_WS_ACK) the ack. */
static void on_ws_message_msg(struct ipc_service *svc, const struct ipc_msg *m) {
  struct ipc_ws_msg w = {.conn = m->conn,
                         .seq = m->seq,
                         .data = m->body ? m->body : "",
                         .len = m->body_len,
                         .binary = m->binary,
                         .meta = m->meta,
                         .redelivered = m->redelivered};
  if (svc->cbs.on_ws_message)
    svc->cbs.on_ws_message(svc, &w);
  if (svc->ws_ack) {
    ipc_enc_ack(ipc_channel_begin(&svc->ch), m->conn, m->seq);
    send_commit(svc);
  }
}

static void on_line(struct ipc_channel *ch, const char *line, size_t len) {
  struct ipc_service *svc = ch->data;
  struct ipc_msg m;
  char err[160];
  if (svc->done)
    return;
  if (ipc_msg_parse(&m, line, len, err, sizeof(err)) != 0) {
    /* Log the first few, then one in a thousand: a flood must not flood. */
    if (svc->bad_lines++ < 10 || svc->bad_lines % 1000 == 0)
      svc_log("dropped invalid message (%llu so far): %s", (unsigned long long)svc->bad_lines, err);
    return;
  }
  switch (m.type) {
  case IPC_T_REQUEST:
    on_request_msg(svc, &m);
    return;
  case IPC_T_CANCEL: {
    struct ipc_req *req = req_find(svc, m.id);
    if (req)
      req_cancel(req);
    if (svc->shutting_down && svc->inflight == 0)
      do_finish(svc, 1);
    break;
  }
  case IPC_T_PING:
    if (svc->autopong) {
      ipc_enc_pong(ipc_channel_begin(&svc->ch), m.seq);
      send_commit(svc);
    }
    break;
  case IPC_T_SHUTDOWN:
    on_shutdown_msg(svc, m.deadline_ms);
    break;
  case IPC_T_MESSAGE:
    if (svc->cbs.on_message)
      svc->cbs.on_message(svc, m.topic, m.data);
    break;
  case IPC_T_WS_MESSAGE:
    on_ws_message_msg(svc, &m);
    break;
  case IPC_T_WS_CLOSE:
    if (svc->cbs.on_ws_close)
      svc->cbs.on_ws_close(svc, m.conn, m.code, m.reason, m.meta);
    break;
  default:
    svc_log("dropped message of type \"%s\": not one muster sends", ipc_type_name(m.type));
    break;
  }
  ipc_msg_free(&m);
}

static void on_channel_error(struct ipc_channel *ch, int err) {
  struct ipc_service *svc = ch->data;
  if (err == UV_EOF)
    svc_log("channel closed by muster; exiting");
  else
    svc_log("channel failed: %s; exiting", uv_strerror(err));
  do_finish(svc, 0);
}

static void on_channel_drain(struct ipc_channel *ch) {
  struct ipc_service *svc = ch->data;
  if (svc->cbs.on_drain)
    svc->cbs.on_drain(svc);
}

/* ---- Life cycle ---- */

/* The channel fd: $MUSTER_CHANNEL_FD, else $NODE_CHANNEL_FD, else 3. */
static int channel_fd(void) {
  const char *s = getenv("MUSTER_CHANNEL_FD");
  if (s == NULL)
    s = getenv("NODE_CHANNEL_FD");
  if (s == NULL)
    return 3;
  char *end;
  long fd = strtol(s, &end, 10);
  return (*s && *end == '\0' && fd >= 0 && fd < 65536) ? (int)fd : -1;
}

struct ipc_service *ipc_service_new(uv_loop_t *loop, const struct ipc_service_cbs *cbs,
                                    void *data) {
  static const struct ipc_channel_cbs chcbs = {on_line, on_channel_error, on_channel_drain};
  int fd = channel_fd();
  if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
    svc_log("no channel on fd %d: this program runs under muster "
            "(MUSTER_CHANNEL_FD names the channel)",
            fd);
    return NULL;
  }
  signal(SIGPIPE, SIG_IGN); /* a closed channel is an error, not a death */
  struct ipc_service *svc = calloc(1, sizeof(*svc));
  if (svc == NULL)
    return NULL;
  svc->loop = loop;
  svc->cbs = *cbs;
  svc->data = data;
  svc->autopong = 1;
  svc->ws_ack = getenv("MUSTER_WS_ACK") != NULL && strcmp(getenv("MUSTER_WS_ACK"), "1") == 0;
  LIST_INIT(&svc->reqs);
  const char *inst = getenv("MUSTER_INSTANCE");
  svc->instance = inst ? atoi(inst) : 0;
  uv_timer_init(loop, &svc->deadline);
  svc->deadline.data = svc;
  svc->open_handles = 2;
  int rc = ipc_channel_open(&svc->ch, loop, fd, 0, &chcbs, svc);
  if (rc < 0) {
    svc_log("cannot open channel on fd %d: %s", fd, uv_strerror(rc));
    svc->done = 1;
    ipc_channel_close(&svc->ch, 0, on_channel_closed);
    uv_close((uv_handle_t *)&svc->deadline, on_handle_closed);
    while (svc->open_handles > 0)
      uv_run(loop, UV_RUN_NOWAIT);
    free(svc);
    return NULL;
  }
  return svc;
}

int ipc_service_run(struct ipc_service *svc) {
  uv_loop_t *loop = svc->loop;
  if (!svc->done)
    uv_run(loop, UV_RUN_DEFAULT);
  /* Whatever ended the run, release everything we own. */
  cancel_all(svc);
  if (!svc->ch.closing)
    ipc_channel_close(&svc->ch, 1, on_channel_closed);
  uv_close((uv_handle_t *)&svc->deadline, on_handle_closed);
  while (svc->open_handles > 0)
    uv_run(loop, UV_RUN_ONCE);
  free(svc);
  return 0;
}

void *ipc_service_data(const struct ipc_service *svc) {
  return svc->data;
}

uv_loop_t *ipc_service_loop(const struct ipc_service *svc) {
  return svc->loop;
}

int ipc_service_instance(const struct ipc_service *svc) {
  return svc->instance;
}

void ipc_service_set_autopong(struct ipc_service *svc, int on) {
  svc->autopong = on ? 1 : 0;
}

size_t ipc_service_inflight(const struct ipc_service *svc) {
  return svc->inflight;
}

int ipc_service_writable(const struct ipc_service *svc) {
  return ipc_channel_writable(&svc->ch);
}

/* ---- Real-time (SPEC §8) ---- */

/* A JSON value as text (NULL for none); free() it. */
static char *json_text(const cJSON *v, size_t *len) {
  char *t = v ? cJSON_PrintUnformatted(v) : NULL;
  *len = t ? strlen(t) : 0;
  return t;
}

int ipc_ws_accept(struct ipc_req *req, const char *protocol, const char *const *join, size_t njoin,
                  const cJSON *meta) {
  struct ipc_service *svc = req->svc;
  size_t mlen;
  char *mtext = json_text(meta, &mlen);
  ipc_enc_ws_accept(ipc_channel_begin(&svc->ch), req->id, protocol, join, njoin, mtext, mlen);
  free(mtext);
  int rc = send_commit(svc);
  req_complete(req);
  return rc;
}

int ipc_hold(struct ipc_req *req, const char *const *rooms, size_t nrooms, const char *body,
             size_t len) {
  struct ipc_service *svc = req->svc;
  ipc_enc_hold(ipc_channel_begin(&svc->ch), req->id, rooms, nrooms, body, body ? len : 0);
  int rc = send_commit(svc);
  req_complete(req);
  return rc;
}

int ipc_ws_send(struct ipc_service *svc, const char *conn, const void *data, size_t len,
                int binary) {
  ipc_enc_ws_send(ipc_channel_begin(&svc->ch), conn, data, len, binary);
  return send_commit(svc);
}

int ipc_ws_send_json(struct ipc_service *svc, const char *conn, const cJSON *json) {
  size_t len;
  char *text = json_text(json, &len);
  if (text == NULL)
    return UV_ENOMEM;
  int rc = ipc_ws_send(svc, conn, text, len, 0);
  free(text);
  return rc;
}

int ipc_ws_close(struct ipc_service *svc, const char *conn, int code, const char *reason) {
  ipc_enc_ws_close(ipc_channel_begin(&svc->ch), conn, code, reason);
  return send_commit(svc);
}

int ipc_join(struct ipc_service *svc, const char *conn, const char *room) {
  ipc_enc_join(ipc_channel_begin(&svc->ch), conn, room);
  return send_commit(svc);
}

int ipc_leave(struct ipc_service *svc, const char *conn, const char *room) {
  ipc_enc_leave(ipc_channel_begin(&svc->ch), conn, room);
  return send_commit(svc);
}

int ipc_meta(struct ipc_service *svc, const char *conn, const cJSON *meta) {
  size_t len;
  char *text = json_text(meta, &len);
  if (text == NULL)
    return UV_ENOMEM;
  ipc_enc_meta(ipc_channel_begin(&svc->ch), conn, text, len);
  free(text);
  return send_commit(svc);
}

int ipc_publish_ex(struct ipc_service *svc, const char *topic, const cJSON *data, const char *event,
                   const char *except) {
  size_t len;
  char *text = json_text(data, &len);
  if (text == NULL)
    return UV_ENOMEM;
  ipc_enc_publish_ex(ipc_channel_begin(&svc->ch), topic, text, len, 0, event, except);
  free(text);
  return send_commit(svc);
}
