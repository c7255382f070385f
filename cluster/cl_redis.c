/* cl_redis — a Redis connection kept up, with deadlines. See cl_redis.h.
 *
 * Replies come in the order commands went, so the commands that await a
 * reply sit in a ring with the time each went: every reply takes the
 * oldest, and a ring head older than the deadline means the connection is
 * wedged. Each TCP connection is a struct cl_redis_conn of its own, freed
 * when its handle closes; a dropped one is cut loose (c->r = NULL) at once,
 * so nothing it still reads reaches the owner. */
#include "cl_redis.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_log.h"

#define TICK_MS 250
#define QUIET_LOG_MS 30000 /* while Redis stays away, say so this often */

struct cl_redis_conn {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  struct cl_redis *r;     /* NULL once dropped */
  struct cl_reader rd;    /* its replies */
  struct ipc_buf out;     /* commands not written yet */
  struct ipc_buf writing; /* the write in flight */
  int connected;
  char in[65536]; /* reads land here; the reader copies them */
};

static uint64_t now_ms(const struct cl_redis *r) {
  return uv_now(r->loop);
}

/* ---- RESP in: hiredis's reader, bounded ---- */

static void *bounded_array(const redisReadTask *task, int elements) {
  struct cl_reader *rd = task->privdata;
  if (elements > CL_REDIS_MAX_ELEMENTS) {
    rd->too_large = 1;
    return NULL; /* the reader's error: the connection is dropped */
  }
  return rd->create_array(task, elements);
}

int cl_reader_init(struct cl_reader *rd) {
  if ((rd->r = redisReaderCreate()) == NULL)
    return UV_ENOMEM;
  rd->fns = *rd->r->fn;
  rd->create_array = rd->fns.createArray;
  rd->fns.createArray = bounded_array;
  rd->r->fn = &rd->fns;
  rd->r->privdata = rd;
  rd->too_large = 0;
  return 0;
}

void cl_reader_free(struct cl_reader *rd) {
  if (rd->r)
    redisReaderFree(rd->r);
  rd->r = NULL;
}

/* ---- RESP out ---- */

void cl_resp_command(struct ipc_buf *b, int argc, const char **argv, const size_t *lens) {
  ipc_buf_addc(b, '*');
  ipc_buf_addi(b, argc);
  ipc_buf_add(b, "\r\n", 2);
  for (int i = 0; i < argc; i++) {
    ipc_buf_addc(b, '$');
    ipc_buf_addi(b, (int64_t)lens[i]);
    ipc_buf_add(b, "\r\n", 2);
    ipc_buf_add(b, argv[i], lens[i]);
    ipc_buf_add(b, "\r\n", 2);
  }
}

static void start_write(struct cl_redis_conn *c);

static void on_written(uv_write_t *w, int status) {
  struct cl_redis_conn *c = w->data;
  ipc_buf_reset(&c->writing);
  if (c->r == NULL)
    return;
  if (status < 0) {
    cl_redis_drop(c->r, uv_strerror(status));
    return;
  }
  start_write(c);
}

/* Writes what is queued: at once what the socket takes (a command goes
 * out in the turn that made it, before what the same turn sends clients:
 * a host's question to Redis precedes whatever a client does once
 * answered), the rest by uv_write unless one is in flight. libuv's
 * try-write refuses while a write is still partly queued, so the order
 * of bytes holds. */
static void start_write(struct cl_redis_conn *c) {
  if (c->out.len == 0 || !c->connected)
    return;
  uv_buf_t now = uv_buf_init(c->out.data, (unsigned)c->out.len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &now, 1);
  if (n > 0)
    ipc_buf_consume(&c->out, (size_t)n);
  if (c->writing.len > 0 || c->out.len == 0)
    return;
  struct ipc_buf t = c->writing; /* swap: out is written, writing takes new commands */
  c->writing = c->out;
  c->out = t;
  uv_buf_t buf = uv_buf_init(c->writing.data, (unsigned)c->writing.len);
  c->wreq.data = c;
  int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
  if (rc < 0) {
    ipc_buf_reset(&c->writing);
    cl_redis_drop(c->r, uv_strerror(rc));
  }
}

/* ---- Going down ---- */

static void on_conn_closed(uv_handle_t *h) {
  struct cl_redis_conn *c = h->data;
  cl_reader_free(&c->rd);
  ipc_buf_free(&c->out);
  ipc_buf_free(&c->writing);
  free(c);
}

/* Cuts the current connection loose and closes it. */
static void detach(struct cl_redis *r) {
  struct cl_redis_conn *c = r->c;
  if (c == NULL)
    return;
  r->c = NULL;
  c->r = NULL;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* Gives every owed reply its NULL. */
static void fail_owed(struct cl_redis *r) {
  while (r->n > 0) {
    struct cl_redis_pending p = r->ring[r->head];
    r->head = (r->head + 1) % r->cap;
    r->n--;
    if (p.fn)
      p.fn(r, NULL, p.privdata);
  }
  r->head = 0;
}

/* The connection is gone (closed, refused, wedged): retry after the
 * backoff. */
static void went_down(struct cl_redis *r, const char *why) {
  enum cl_redis_state was = r->state;
  if (was == CL_REDIS_WAITING || was == CL_REDIS_STOPPED)
    return;
  snprintf(r->last_err, sizeof(r->last_err), "%s", why);
  detach(r);
  r->state = CL_REDIS_WAITING;
  r->ping_sent = 0;
  r->retry_at = now_ms(r) + r->backoff_ms;
  r->backoff_ms =
      r->backoff_ms * 2 > CL_REDIS_BACKOFF_MAX_MS ? CL_REDIS_BACKOFF_MAX_MS : r->backoff_ms * 2;
  fail_owed(r);
  if (was == CL_REDIS_UP) {
    r->drops++;
    sup_log(SUP_WARN, "cluster: Redis %s connection to %s:%d lost (%s); connecting again", r->name,
            r->host, r->port, r->last_err);
    if (r->cbs.down)
      r->cbs.down(r);
  } else if (!r->quiet || now_ms(r) - r->logged_ms >= QUIET_LOG_MS) {
    sup_log(SUP_WARN, "cluster: cannot reach Redis at %s:%d (%s connection: %s); retrying", r->host,
            r->port, r->name, r->last_err);
    r->quiet = 1;
    r->logged_ms = now_ms(r);
  }
}

void cl_redis_drop(struct cl_redis *r, const char *why) {
  went_down(r, why);
}

/* ---- The ring of owed replies ---- */

/* Room for one more owed reply. 0 or UV_ENOMEM. */
static int ring_reserve(struct cl_redis *r) {
  if (r->n < r->cap)
    return 0;
  size_t cap = r->cap ? r->cap * 2 : 64;
  struct cl_redis_pending *v = malloc(cap * sizeof(*v));
  if (v == NULL)
    return UV_ENOMEM;
  for (size_t i = 0; i < r->n; i++)
    v[i] = r->ring[(r->head + i) % r->cap];
  free(r->ring);
  r->ring = v;
  r->cap = cap;
  r->head = 0;
  return 0;
}

/* Queues a command; with fn != NULL or owed, its reply is awaited. */
static int queue(struct cl_redis *r, int owed, cl_redis_fn *fn, void *privdata, int argc,
                 const char **argv, const size_t *lens) {
  struct cl_redis_conn *c = r->c;
  if (c == NULL || !c->connected)
    return UV_ENOTCONN;
  if (owed && ring_reserve(r) != 0)
    return UV_ENOMEM;
  cl_resp_command(&c->out, argc, argv, lens);
  if (c->out.oom) {
    ipc_buf_reset(&c->out);
    cl_redis_drop(r, "out of memory");
    return UV_ENOMEM;
  }
  if (owed) {
    r->ring[(r->head + r->n) % r->cap] = (struct cl_redis_pending){fn, privdata, now_ms(r)};
    r->n++;
  }
  start_write(c);
  return 0;
}

int cl_redis_command(struct cl_redis *r, cl_redis_fn *fn, void *privdata, int argc,
                     const char **argv, const size_t *lens) {
  return r->state == CL_REDIS_UP ? queue(r, 1, fn, privdata, argc, argv, lens) : UV_ENOTCONN;
}

int cl_redis_send(struct cl_redis *r, int argc, const char **argv, const size_t *lens) {
  return r->state == CL_REDIS_UP ? queue(r, 0, NULL, NULL, argc, argv, lens) : UV_ENOTCONN;
}

int cl_redis_up(const struct cl_redis *r) {
  return r->state == CL_REDIS_UP;
}

/* ---- Replies in ---- */

/* 1 when reply is a subscriber's push: an array whose first element is
 * one of the push kinds. */
static int is_push(const redisReply *reply, int *pong) {
  static const char *const kinds[] = {"message",    "subscribe",    "unsubscribe", "pmessage",
                                      "psubscribe", "punsubscribe", NULL};
  *pong = 0;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
      reply->element[0]->type != REDIS_REPLY_STRING)
    return 0;
  const char *k = reply->element[0]->str;
  if (strcmp(k, "pong") == 0)
    return *pong = 1;
  for (size_t i = 0; kinds[i]; i++)
    if (strcmp(k, kinds[i]) == 0)
      return 1;
  return 0;
}

/* One reply: a push, a pong, or the oldest owed command's. */
static void dispatch(struct cl_redis *r, redisReply *reply) {
  int pong;
  if (r->subscriber && is_push(reply, &pong)) {
    if (pong)
      r->ping_sent = 0;
    else if (r->cbs.push)
      r->cbs.push(r, reply);
    return;
  }
  if (r->n == 0) {
    if (r->subscriber && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0) {
      r->ping_sent = 0; /* a PING before any SUBSCRIBE took */
      return;
    }
    cl_redis_drop(r, "a reply nothing asked for");
    return;
  }
  struct cl_redis_pending p = r->ring[r->head];
  r->head = (r->head + 1) % r->cap;
  r->n--;
  if (p.fn)
    p.fn(r, reply, p.privdata);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct cl_redis_conn *c = h->data;
  (void)suggested;
  *buf = uv_buf_init(c->in, sizeof(c->in));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct cl_redis_conn *c = s->data;
  struct cl_redis *r = c->r;
  if (r == NULL || nread == 0)
    return;
  if (nread < 0) {
    cl_redis_drop(r, nread == UV_EOF ? "closed by Redis" : uv_strerror((int)nread));
    return;
  }
  if (redisReaderFeed(c->rd.r, buf->base, (size_t)nread) != REDIS_OK) {
    cl_redis_drop(r, "out of memory");
    return;
  }
  while (c->r != NULL) {
    void *reply = NULL;
    if (redisReaderGetReply(c->rd.r, &reply) != REDIS_OK) {
      char why[160];
      if (c->rd.too_large)
        snprintf(why, sizeof(why), "bad reply: an array of more than %d elements",
                 CL_REDIS_MAX_ELEMENTS);
      else
        snprintf(why, sizeof(why), "bad reply: %s", c->rd.r->errstr);
      cl_redis_drop(r, why);
      return;
    }
    if (reply == NULL)
      break;
    dispatch(r, reply);
    freeReplyObject(reply);
  }
  if (c->r != NULL && c->rd.r->len - c->rd.r->pos > CL_REDIS_MAX_REPLY)
    cl_redis_drop(r, "a reply larger than 512 MiB");
}

/* ---- Coming up ---- */

static void set_up(struct cl_redis *r) {
  r->state = CL_REDIS_UP;
  r->backoff_ms = CL_REDIS_BACKOFF_MIN_MS;
  if (r->connects++ > 0 || r->quiet)
    sup_log(SUP_INFO, "cluster: Redis %s connection to %s:%d is up", r->name, r->host, r->port);
  r->quiet = 0;
  r->state_ms = now_ms(r);
  if (r->cbs.up)
    r->cbs.up(r);
}

/* The handshake's reply (PING, after AUTH when there is a password): a
 * server that answers is up; one that only accepts the connection (a
 * stopped Redis: the kernel completes the handshake) is not. */
static void on_hello(struct cl_redis *r, const redisReply *reply, void *privdata) {
  int auth = privdata != NULL;
  if (reply == NULL)
    return; /* the connection went */
  if (reply->type == REDIS_REPLY_ERROR) {
    sup_log(SUP_ERROR, "cluster: Redis at %s:%d refused %s: %s", r->host, r->port,
            auth ? "the password" : "PING", reply->str);
    cl_redis_drop(r, auth ? "AUTH refused" : "PING refused");
    return;
  }
  if (!auth)
    set_up(r);
}

static void on_connect(uv_connect_t *req, int status) {
  struct cl_redis_conn *c = req->data;
  struct cl_redis *r = c->r;
  static const char *ping[] = {"PING"};
  static const size_t ping_len[] = {4};
  if (r == NULL)
    return;
  if (status < 0) {
    went_down(r, uv_strerror(status));
    return;
  }
  c->connected = 1;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  r->state = CL_REDIS_AUTHING; /* state_ms: still the connect's start */
  if (r->password) {
    const char *argv[] = {"AUTH", r->password};
    size_t lens[] = {4, strlen(r->password)};
    if (queue(r, 1, on_hello, r, 2, argv, lens) != 0)
      goto oom;
  }
  if (queue(r, 1, on_hello, NULL, 1, ping, ping_len) != 0)
    goto oom;
  return;
oom:
  cl_redis_drop(r, "out of memory");
}

static void connect_now(struct cl_redis *r) {
  struct sockaddr_in sa;
  struct cl_redis_conn *c = calloc(1, sizeof(*c));
  r->state = CL_REDIS_CONNECTING;
  r->state_ms = now_ms(r);
  if (c == NULL || cl_reader_init(&c->rd) != 0) {
    free(c);
    went_down(r, "out of memory");
    return;
  }
  ipc_buf_init(&c->out);
  ipc_buf_init(&c->writing);
  c->r = r;
  uv_tcp_init(r->loop, &c->tcp);
  c->tcp.data = c;
  c->creq.data = c;
  r->c = c;
  int rc = uv_ip4_addr(r->host, r->port, &sa);
  if (rc == 0)
    rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&sa, on_connect);
  if (rc < 0)
    went_down(r, uv_strerror(rc));
}

/* ---- The tick: retries, deadlines, pings ---- */

static void on_pong(struct cl_redis *r, const redisReply *reply, void *privdata) {
  (void)r;
  (void)reply;
  (void)privdata;
}

static void ping(struct cl_redis *r) {
  static const char *argv[] = {"PING"};
  static const size_t lens[] = {4};
  if (r->subscriber) { /* answered by a push (or +PONG), taken by dispatch */
    if (queue(r, 0, NULL, NULL, 1, argv, lens) == 0)
      r->ping_sent = now_ms(r);
  } else {
    queue(r, 1, on_pong, NULL, 1, argv, lens);
  }
}

static void check_up(struct cl_redis *r, uint64_t now) {
  if (r->n > 0 && now - r->ring[r->head].sent_ms > CL_REDIS_DEADLINE_MS)
    cl_redis_drop(r, "no reply within 2.5 s");
  else if (r->ping_sent && now - r->ping_sent > CL_REDIS_DEADLINE_MS)
    cl_redis_drop(r, "no PONG within 2.5 s");
  else if (r->ping_sent == 0 && r->n == 0 && now - r->state_ms >= CL_REDIS_PING_MS) {
    r->state_ms = now;
    ping(r);
  }
}

static void on_tick(uv_timer_t *t) {
  struct cl_redis *r = t->data;
  uint64_t now = now_ms(r);
  switch (r->state) {
  case CL_REDIS_WAITING:
    if (now >= r->retry_at)
      connect_now(r);
    break;
  case CL_REDIS_CONNECTING:
  case CL_REDIS_AUTHING:
    if (now - r->state_ms > CL_REDIS_CONNECT_MS)
      went_down(r, "connect timed out");
    break;
  case CL_REDIS_UP:
    check_up(r, now);
    break;
  case CL_REDIS_STOPPED:
    break;
  }
}

void cl_redis_start(struct cl_redis *r, uv_loop_t *loop, const char *name, const char *host,
                    int port, const char *password, int subscriber, const struct cl_redis_cbs *cbs,
                    void *data) {
  memset(r, 0, sizeof(*r));
  r->loop = loop;
  r->name = name;
  snprintf(r->host, sizeof(r->host), "%s", host);
  r->port = port;
  r->password = password;
  r->subscriber = subscriber;
  r->cbs = *cbs;
  r->data = data;
  r->backoff_ms = CL_REDIS_BACKOFF_MIN_MS;
  uv_timer_init(loop, &r->timer);
  r->timer.data = r;
  uv_timer_start(&r->timer, on_tick, TICK_MS, TICK_MS);
  connect_now(r);
}

static void on_timer_closed(uv_handle_t *h) {
  struct cl_redis *r = h->data;
  free(r->ring);
  r->ring = NULL;
  r->cap = 0;
  if (r->closed)
    r->closed(r);
}

void cl_redis_stop(struct cl_redis *r, void (*closed)(struct cl_redis *r)) {
  if (r->state == CL_REDIS_STOPPED)
    return;
  r->state = CL_REDIS_STOPPED;
  r->closed = closed;
  detach(r);
  fail_owed(r);
  uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}
