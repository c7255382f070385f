/* dummy_service — muster's demo service and test double (SPEC §6).
 *
 * Endpoints (after the route prefix): /echo, /sleep?ms=N, /status/N,
 * /bytes?n=N, /stream?n=N&interval_ms=M, /crash, /hang, /publish?topic=T,
 * /subscribe?topic=T, /messages. Test knobs from the environment: DUMMY_NO_READY=1 never sends
 * `ready`; DUMMY_READY_DELAY_MS=N sends it after N ms; DUMMY_SUBSCRIBE=a,b
 * subscribes to topics at start (see /messages); DUMMY_HANG_AFTER_MS=N stops
 * answering ping after N ms, as /hang does (for tests without a gateway).
 * Every wait is a libuv
 * timer: the loop never blocks, so requests are answered out of order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "ipc_query.h"
#include "ipc_service.h"
#include "ipc_text.h"

#define MAX_BYTES (64 << 20) /* /bytes limit */
#define MAX_SLEEP_MS 3600000 /* /sleep limit: one hour */
#define MAX_MESSAGES 100     /* messages kept for /messages */

/* A request waiting on a timer (/sleep, /stream). Freed in the timer's
 * close callback, never while the timer may still fire. */
struct waiter {
  uv_timer_t timer;
  struct ipc_req *req; /* NULL once the request was cancelled */
  int64_t ms;          /* /sleep: how long; /stream: the interval */
  int64_t left;        /* /stream: events still to send */
  int64_t seq;         /* /stream: next event number */
};

static cJSON *messages; /* array of {topic, data} received, newest last */

/* ---- Waiters ---- */

static void on_waiter_closed(uv_handle_t *h) {
  free(h->data);
}

/* The wait is over: detach it from its request and close its timer (w is
 * freed in the close callback). */
static void waiter_done(struct waiter *w) {
  if (w->req)
    w->req->data = NULL;
  uv_close((uv_handle_t *)&w->timer, on_waiter_closed);
}

/* A waiter (and its timer) for req. Returns it, or NULL after answering
 * req with 500 (out of memory). */
static struct waiter *waiter_new(struct ipc_req *req) {
  struct waiter *w = calloc(1, sizeof(*w));
  if (w == NULL) {
    ipc_respond_error(req, 500, "out of memory");
    return NULL;
  }
  uv_timer_init(ipc_service_loop(req->svc), &w->timer);
  w->timer.data = w;
  w->req = req;
  req->data = w;
  return w;
}

static void on_cancel(struct ipc_req *req) {
  struct waiter *w = req->data;
  if (w) {
    w->req = NULL;
    uv_close((uv_handle_t *)&w->timer, on_waiter_closed);
  }
}

/* ---- Endpoints ---- */

/* Writes the echo as JSON text directly (no cJSON tree: it is the
 * benchmark's endpoint, so it should cost what a real handler would). */
static void do_echo(struct ipc_req *req) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  ipc_buf_adds(&b, "{\"method\":");
  ipc_json_str(&b, req->method, strlen(req->method));
  ipc_buf_adds(&b, ",\"path\":");
  ipc_json_str(&b, req->path, strlen(req->path));
  ipc_buf_adds(&b, ",\"prefix\":");
  ipc_json_str(&b, req->prefix, strlen(req->prefix));
  ipc_buf_adds(&b, ",\"query\":");
  ipc_json_str(&b, req->query, strlen(req->query));
  ipc_buf_adds(&b, ",\"remote\":");
  ipc_json_str(&b, req->remote, strlen(req->remote));
  ipc_buf_adds(&b, ",\"headers\":{");
  for (size_t i = 0; i < req->nheaders; i++) {
    const struct ipc_hdr *h = &req->headers[i];
    if (i)
      ipc_buf_addc(&b, ',');
    ipc_json_str(&b, h->name, strlen(h->name));
    ipc_buf_addc(&b, ':');
    ipc_json_str(&b, h->value, strlen(h->value));
  }
  ipc_buf_addc(&b, '}');
  if (req->body_binary) {
    /* Not text: hand it back as the channel sent it. */
    ipc_buf_adds(&b, ",\"body_base64\":\"");
    ipc_b64_encode(&b, req->body, req->body_len);
    ipc_buf_addc(&b, '"');
  } else {
    ipc_buf_adds(&b, ",\"body\":");
    ipc_json_str(&b, req->body, req->body_len);
  }
  ipc_buf_adds(&b, ",\"pid\":");
  ipc_buf_addi(&b, (int64_t)getpid());
  ipc_buf_adds(&b, ",\"instance\":");
  ipc_buf_addi(&b, ipc_service_instance(req->svc));
  ipc_buf_addc(&b, '}');
  if (b.oom)
    ipc_respond_error(req, 500, "out of memory");
  else
    ipc_respond_json_text(req, 200, b.data, b.len);
  ipc_buf_free(&b);
}

static void on_sleep_done(uv_timer_t *t) {
  struct waiter *w = t->data;
  struct ipc_req *req = w->req;
  waiter_done(w);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "slept_ms", (double)w->ms);
  ipc_respond_json(req, 200, o);
  cJSON_Delete(o);
}

static void do_sleep(struct ipc_req *req) {
  int64_t ms;
  if (ipc_query_int(req->query, "ms", 0, MAX_SLEEP_MS, 0, &ms) != 0) {
    ipc_respond_error(req, 400, "ms must be an integer 0..3600000");
    return;
  }
  struct waiter *w = waiter_new(req);
  if (w == NULL)
    return;
  w->ms = ms;
  uv_timer_start(&w->timer, on_sleep_done, (uint64_t)ms, 0);
}

static void do_status(struct ipc_req *req, const char *arg) {
  char *end;
  long status = strtol(arg, &end, 10);
  if (*arg == '\0' || *end != '\0' || status < 100 || status > 599) {
    ipc_respond_error(req, 400, "status must be 100..599");
    return;
  }
  if (status < 200 || status == 204 || status == 304) {
    ipc_respond(req, (int)status, NULL, 0, NULL, 0); /* no body allowed */
    return;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "status", (double)status);
  ipc_respond_json(req, (int)status, o);
  cJSON_Delete(o);
}

static void do_bytes(struct ipc_req *req) {
  static const struct ipc_hdr hdr[] = {{"content-type", "application/octet-stream"}};
  int64_t n;
  if (ipc_query_int(req->query, "n", 0, MAX_BYTES, 0, &n) != 0) {
    ipc_respond_error(req, 400, "n must be an integer 0..67108864");
    return;
  }
  char *body = malloc((size_t)n + 1);
  if (body == NULL) {
    ipc_respond_error(req, 500, "out of memory");
    return;
  }
  for (int64_t i = 0; i < n; i++)
    body[i] = (char)('a' + i % 26);
  ipc_respond(req, 200, hdr, 1, body, (size_t)n);
  free(body);
}

/* Sends the next SSE event of a /stream; ends it after the last. */
static void on_stream_tick(uv_timer_t *t) {
  struct waiter *w = t->data;
  struct ipc_req *req = w->req;
  if (w->left == 0) {
    waiter_done(w);
    ipc_stream_end(req);
    return;
  }
  char ev[160];
  int n = snprintf(ev, sizeof(ev), "id: %lld\ndata: {\"seq\":%lld,\"instance\":%d}\n\n",
                   (long long)w->seq, (long long)w->seq, ipc_service_instance(req->svc));
  ipc_stream_write(req, ev, (size_t)n);
  w->seq++;
  w->left--;
  /* The end follows the last event at once; events are interval_ms apart. */
  uv_timer_start(&w->timer, on_stream_tick, w->left ? (uint64_t)w->ms : 0, 0);
}

static void do_stream(struct ipc_req *req) {
  static const struct ipc_hdr hdr[] = {{"content-type", "text/event-stream"},
                                       {"cache-control", "no-cache"}};
  int64_t n, ms;
  if (ipc_query_int(req->query, "n", 0, 1000000, 5, &n) < 0 ||
      ipc_query_int(req->query, "interval_ms", 0, MAX_SLEEP_MS, 100, &ms) < 0) {
    ipc_respond_error(req, 400, "n must be 0..1000000 and interval_ms 0..3600000");
    return;
  }
  struct waiter *w = waiter_new(req);
  if (w == NULL)
    return;
  w->ms = ms;
  w->left = n;
  ipc_stream_begin(req, 200, hdr, 2);
  on_stream_tick(&w->timer);
}

static void do_publish(struct ipc_req *req) {
  char topic[256];
  if (ipc_query_get(req->query, "topic", topic, sizeof(topic)) <= 0) {
    ipc_respond_error(req, 400, "topic is required (at most 255 bytes)");
    return;
  }
  cJSON *data = cJSON_ParseWithLength(req->body, req->body_len);
  if (data == NULL)
    data = cJSON_CreateString(req->body);
  ipc_publish(req->svc, topic, data);
  cJSON_Delete(data);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "published", topic);
  ipc_respond_json(req, 200, o);
  cJSON_Delete(o);
}

/* /subscribe?topic=T: this process starts receiving T (see /messages). */
static void do_subscribe(struct ipc_req *req) {
  char topic[256];
  if (ipc_query_get(req->query, "topic", topic, sizeof(topic)) <= 0) {
    ipc_respond_error(req, 400, "topic is required (at most 255 bytes)");
    return;
  }
  ipc_subscribe(req->svc, topic);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "subscribed", topic);
  ipc_respond_json(req, 200, o);
  cJSON_Delete(o);
}

static void do_messages(struct ipc_req *req) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "messages", cJSON_Duplicate(messages, 1));
  ipc_respond_json(req, 200, o);
  cJSON_Delete(o);
}

static void on_request(struct ipc_req *req) {
  const char *p = req->subpath;
  if (strcmp(p, "/echo") == 0)
    do_echo(req);
  else if (strcmp(p, "/sleep") == 0)
    do_sleep(req);
  else if (strncmp(p, "/status/", 8) == 0)
    do_status(req, p + 8);
  else if (strcmp(p, "/bytes") == 0)
    do_bytes(req);
  else if (strcmp(p, "/stream") == 0)
    do_stream(req);
  else if (strcmp(p, "/crash") == 0)
    _exit(1); /* at once: no response, no cleanup */
  else if (strcmp(p, "/hang") == 0)
    ipc_service_set_autopong(req->svc, 0); /* and never answer req */
  else if (strcmp(p, "/publish") == 0)
    do_publish(req);
  else if (strcmp(p, "/subscribe") == 0)
    do_subscribe(req);
  else if (strcmp(p, "/messages") == 0)
    do_messages(req);
  else
    ipc_respond_error(req, 404, "no such endpoint");
}

static void on_message(struct ipc_service *svc, const char *topic, const cJSON *data) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "topic", topic);
  cJSON_AddItemToObject(m, "data", cJSON_Duplicate(data, 1));
  cJSON_AddItemToArray(messages, m);
  if (cJSON_GetArraySize(messages) > MAX_MESSAGES)
    cJSON_DeleteItemFromArray(messages, 0);
}

/* ---- Start-up ---- */

static void on_hang_timer(uv_timer_t *t) {
  ipc_service_set_autopong(t->data, 0);
  uv_close((uv_handle_t *)t, NULL);
}

static void on_ready_timer(uv_timer_t *t) {
  ipc_service_ready(t->data);
  uv_close((uv_handle_t *)t, NULL);
}

/* Subscribes to each topic of the comma-separated list. */
static void subscribe_all(struct ipc_service *svc, const char *list) {
  char *copy = strdup(list), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    ipc_subscribe(svc, t);
  free(copy);
}

int main(void) {
  static uv_timer_t ready_timer, hang_timer;
  uv_loop_t *loop = uv_default_loop();
  struct ipc_service_cbs cbs = {
      .on_request = on_request, .on_cancel = on_cancel, .on_message = on_message};
  struct ipc_service *svc = ipc_service_new(loop, &cbs, NULL);
  if (svc == NULL)
    return 1;
  messages = cJSON_CreateArray();
  const char *subs = getenv("DUMMY_SUBSCRIBE");
  if (subs)
    subscribe_all(svc, subs);
  const char *delay = getenv("DUMMY_READY_DELAY_MS");
  if (getenv("DUMMY_NO_READY") == NULL) {
    if (delay && atoi(delay) > 0) {
      uv_timer_init(loop, &ready_timer);
      ready_timer.data = svc;
      uv_timer_start(&ready_timer, on_ready_timer, (uint64_t)atoi(delay), 0);
    } else {
      ipc_service_ready(svc);
    }
  }
  const char *hang = getenv("DUMMY_HANG_AFTER_MS");
  if (hang) {
    uv_timer_init(loop, &hang_timer);
    hang_timer.data = svc;
    uv_timer_start(&hang_timer, on_hang_timer, (uint64_t)atoi(hang), 0);
  }
  int rc = ipc_service_run(svc);
  if (uv_is_active((uv_handle_t *)&ready_timer))
    uv_close((uv_handle_t *)&ready_timer, NULL);
  if (uv_is_active((uv_handle_t *)&hang_timer))
    uv_close((uv_handle_t *)&hang_timer, NULL);
  uv_run(loop, UV_RUN_NOWAIT); /* complete the closes the run left */
  uv_loop_close(loop);
  cJSON_Delete(messages);
  return rc;
}
