/* gw_ws — WebSocket connections (RFC 6455) held by muster: the protocol
 * of an upgraded connection (frames in through rt_frame, frames out
 * corked), pings, closing, binding to an instance, ack mode and the hold.
 * See gw_rt.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gw_rt.h"
#include "gw_ws_notice.h"
#include "ipc_channel.h"
#include "rt_buf.h"
#include "rt_handshake.h"
#include "sup_host.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_proc.h"
#include "sup_service.h"
#include "sup_view.h"

/* A queued message: this header, then its bytes. */
struct qrec {
  int64_t seq;
  uint32_t len;
  uint32_t binary;
};

static const struct cfg_realtime *rtcfg(const struct gw_ws *ws) {
  return &sup_view_cfg(ws->srv->host)->realtime;
}

static struct gw_ws *ws_of(struct gw_conn *c) {
  return c->pdata;
}

static void arm_timer(struct gw_ws *ws);
static void close_withn(struct gw_ws *ws, uint16_t code, const char *reason, size_t len,
                        int send_frame);
static void close_with(struct gw_ws *ws, uint16_t code, const char *reason, int send_frame);

static const struct rt_member_ops ws_member_ops;

/* ---- Frames out ---- */

/* Corks bytes for the client: shared when given, else a copy. Closes the
 * connection (1008) when the client would hold more than
 * max_outbound_bytes (gw_rt_too_slow). */
static void send_buf(struct gw_ws *ws, struct rt_buf *b) {
  struct gw_conn *c = ws->conn;
  if (ws->close_sent || c->closing || b == NULL)
    return;
  if (gw_rt_too_slow(gw_conn_queued(c), b->len, (size_t)rtcfg(ws)->max_outbound_bytes)) {
    ws->srv->rt.slow_closes++;
    sup_log(SUP_WARN,
            "gateway: WebSocket %s of %s does not read (%zu bytes queued): closing "
            "it (1008)",
            ws->id, c->remote, gw_conn_queued(c));
    close_with(ws, RT_CLOSE_POLICY, "too slow a consumer", 0);
    return;
  }
  if (gw_conn_cork(c, b) != 0)
    close_with(ws, RT_CLOSE_INTERNAL, "out of memory", 0);
}

/* A frame of ours (control frames, ws_send) as a buffer of its own. */
static void send_frame(struct gw_ws *ws, enum rt_op op, const char *p, size_t n) {
  uint8_t h[10];
  size_t hn = rt_frame_header(h, op, n);
  struct rt_buf *b = rt_buf_new(NULL, hn + n);
  if (b == NULL) {
    close_with(ws, RT_CLOSE_INTERNAL, "out of memory", 0);
    return;
  }
  memcpy(b->data, h, hn);
  if (n)
    memcpy(b->data + hn, p, n);
  send_buf(ws, b);
  rt_buf_unref(b);
}

/* ---- Telling the service ---- */

static struct ipc_channel *channel(struct gw_ws *ws) {
  return ws->inst ? sup_instance_channel(ws->inst) : NULL;
}

static struct sup_instance *pick_for(struct gw_server *srv, struct sup_service *svc,
                                     const struct sup_instance *avoid);

/* The connection ended: the bound instance hears it, or another ready
 * one; with none, the first to be ready (gw_ws_notice.h). */
static void tell_closed(struct gw_ws *ws, int code, const char *reason, size_t len) {
  struct ipc_channel *ch = channel(ws);
  struct sup_instance *other;
  if (ws->gone)
    return;
  ws->gone = 1;
  if (ch == NULL && (other = pick_for(ws->srv, ws->svc, NULL)) != NULL)
    ch = sup_instance_channel(other);
  if (ch != NULL) {
    ipc_enc_ws_closed(ipc_channel_begin(ch), ws->id, code, reason, len, ws->meta, ws->meta_len);
    ipc_channel_commit(ch);
    return;
  }
  struct ipc_buf b;
  ipc_buf_init(&b);
  ipc_enc_ws_closed(&b, ws->id, code, reason, len, ws->meta, ws->meta_len);
  if (!b.oom)
    gw_ws_notice_hold(&ws->srv->ws_notices, sup_view_service_cfg(ws->svc)->name, b.data, b.len);
  ipc_buf_free(&b);
}

/* Sends one message to the bound instance. */
static void send_msg(struct gw_ws *ws, struct ipc_channel *ch, int64_t seq, const char *p, size_t n,
                     int binary) {
  ipc_enc_ws_message(ipc_channel_begin(ch), ws->id, seq, p, n, binary, ws->meta, ws->meta_len,
                     seq <= ws->delivered);
  ipc_channel_commit(ch);
  if (seq > ws->delivered)
    ws->delivered = seq;
  ws->sent = seq;
}

/* Drops queued messages up to seq (sent, or acknowledged in ack mode). */
static void drop_upto(struct gw_ws *ws, int64_t seq) {
  size_t off = 0;
  while (off < ws->q.len) {
    struct qrec r;
    memcpy(&r, ws->q.data + off, sizeof(r));
    if (r.seq > seq)
      break;
    off += sizeof(r) + r.len;
  }
  ipc_buf_consume(&ws->q, off);
  if (ws->paused && ws->q.len < (size_t)rtcfg(ws)->max_outbound_bytes / 2) {
    ws->paused = 0;
    gw_conn_resume(ws->conn);
  }
}

/* Sends what the bound instance has not had yet. */
static void send_pending(struct gw_ws *ws) {
  struct ipc_channel *ch = channel(ws);
  size_t off = 0;
  if (ch == NULL)
    return;
  while (off < ws->q.len) {
    struct qrec r;
    memcpy(&r, ws->q.data + off, sizeof(r));
    if (r.seq > ws->sent)
      send_msg(ws, ch, r.seq, ws->q.data + off + sizeof(r), r.len, (int)r.binary);
    off += sizeof(r) + r.len;
  }
  if (!ws->ack)
    drop_upto(ws, ws->sent); /* at most once: sent is done */
}

/* Keeps a message until it is sent (and, in ack mode, acknowledged). */
static void enqueue(struct gw_ws *ws, int64_t seq, const char *p, size_t n, int binary) {
  struct qrec r = {seq, (uint32_t)n, (uint32_t)binary};
  ipc_buf_add(&ws->q, &r, sizeof(r));
  ipc_buf_add(&ws->q, p, n);
  if (ws->q.oom) {
    close_with(ws, RT_CLOSE_INTERNAL, "out of memory", 1);
    return;
  }
  if (!ws->paused && ws->q.len > (size_t)rtcfg(ws)->max_outbound_bytes) {
    ws->paused = 1; /* the service is behind: the client waits (TCP backpressure) */
    gw_conn_pause(ws->conn);
  }
}

/* One complete message from the client. */
static void on_client_message(struct gw_ws *ws, const char *p, size_t n, int binary) {
  int64_t seq = ++ws->seq;
  struct ipc_channel *ch = channel(ws);
  ws->msgs_in++;
  ws->srv->rt.msgs_in++;
  if (ch && !ws->ack && ws->q.len == 0) {
    send_msg(ws, ch, seq, p, n, binary); /* the common case: no copy */
    return;
  }
  enqueue(ws, seq, p, n, binary);
  if (ch) {
    send_pending(ws);
  } else if (ws->held_since == 0) {
    ws->held_since = sup_now_ms(); /* hold_ms starts */
    arm_timer(ws);
  }
}

/* ---- Frames in ---- */

static int on_frame(void *ctx, const struct rt_frame_event *ev) {
  struct gw_ws *ws = ctx;
  ws->ping_at = 0; /* any frame shows the client is there */
  switch (ev->op) {
  case RT_OP_TEXT:
  case RT_OP_BINARY:
    on_client_message(ws, ev->data, ev->len, ev->op == RT_OP_BINARY);
    break;
  case RT_OP_PING:
    send_frame(ws, RT_OP_PONG, ev->data, ev->len);
    break;
  case RT_OP_PONG:
    break;
  case RT_OP_CLOSE:
    /* the reason (at most 123 bytes, UTF-8: checked) is echoed whole */
    close_withn(ws, ev->code, ev->data, ev->len, 1);
    return 1; /* nothing after a close */
  default:
    break;
  }
  return ws->conn->closing;
}

static void ws_on_data(struct gw_conn *c, const char *data, size_t len) {
  struct gw_ws *ws = ws_of(c);
  size_t used;
  if (ws->close_sent)
    return;
  int rc = rt_frame_feed(&ws->fp, data, len, &used, on_frame, ws);
  if (rc > 1) {
    sup_log(SUP_DEBUG, "gateway: WebSocket %s of %s: %s (%d)", ws->id, c->remote, ws->fp.why, rc);
    close_with(ws, (uint16_t)rc, ws->fp.why, 1);
  }
}

/* ---- Closing ---- */

/* Ends the connection with code and reason (len bytes): the service
 * hears it, the client gets a close frame (send: unless it is gone or too
 * slow for one). */
static void close_withn(struct gw_ws *ws, uint16_t code, const char *reason, size_t len, int send) {
  if (ws->close_sent)
    return;
  if (reason == NULL) {
    reason = "";
    len = 0;
  }
  tell_closed(ws, code, reason, len);
  if (send && !ws->conn->closing) {
    struct ipc_buf b;
    ipc_buf_init(&b);
    uint16_t wire = code == RT_CLOSE_NO_STATUS ? RT_CLOSE_NORMAL : code;
    rt_frame_append_close(&b, wire, reason, len);
    struct rt_buf *rb = b.oom ? NULL : rt_buf_new(b.data, b.len);
    ipc_buf_free(&b);
    send_buf(ws, rb);
    rt_buf_unref(rb);
  }
  ws->close_sent = 1;
  gw_conn_close(ws->conn, send);
}

/* The same with a C string (or NULL). */
static void close_with(struct gw_ws *ws, uint16_t code, const char *reason, int send) {
  close_withn(ws, code, reason, reason ? strlen(reason) : 0, send);
}

/* ---- Timers: ping, pong deadline, hold ---- */

static void on_timer(uv_timer_t *t) {
  struct gw_ws *ws = ws_of(t->data);
  const struct cfg_realtime *rc = rtcfg(ws);
  uint64_t now = sup_now_ms();
  if (ws->held_since && now - ws->held_since >= (uint64_t)rc->hold_ms) {
    close_with(ws, RT_CLOSE_TRY_AGAIN, "no instance to take the messages", 1);
    return;
  }
  if (ws->ping_at && now - ws->ping_at >= (uint64_t)rc->pong_timeout_ms) {
    close_with(ws, RT_CLOSE_ABNORMAL, "no pong", 0); /* the client is gone */
    return;
  }
  if (rc->ping_interval_ms > 0 && now >= ws->next_ping) {
    send_frame(ws, RT_OP_PING, NULL, 0);
    if (ws->ping_at == 0)
      ws->ping_at = now;
    ws->next_ping = now + (uint64_t)rc->ping_interval_ms;
  }
  arm_timer(ws);
}

/* Sets the connection's timer to its next deadline. */
static void arm_timer(struct gw_ws *ws) {
  const struct cfg_realtime *rc = rtcfg(ws);
  uint64_t now = sup_now_ms(), at = UINT64_MAX;
  if (ws->held_since)
    at = ws->held_since + (uint64_t)rc->hold_ms;
  if (ws->ping_at && ws->ping_at + (uint64_t)rc->pong_timeout_ms < at)
    at = ws->ping_at + (uint64_t)rc->pong_timeout_ms;
  if (rc->ping_interval_ms > 0 && ws->next_ping < at)
    at = ws->next_ping;
  if (at == UINT64_MAX || ws->conn->closing)
    gw_conn_timer(ws->conn, 0, NULL);
  else
    gw_conn_timer(ws->conn, at > now ? at - now : 0, on_timer);
}

/* ---- Binding to instances ---- */

/* Binds ws to inst and sends it what waits. */
static void bind_to(struct gw_ws *ws, struct sup_instance *inst) {
  ws->inst = inst;
  ws->sent = ws->ack ? ws->acked : ws->sent; /* ack mode: the unacked go again */
  ws->held_since = 0;
  send_pending(ws);
  arm_timer(ws);
}

/* A ready instance of svc for a connection, round-robin, or NULL. */
static struct sup_instance *pick_for(struct gw_server *srv, struct sup_service *svc,
                                     const struct sup_instance *avoid) {
  struct sup_instance *inst;
  size_t n = 0;
  while (sup_view_instance(svc, n))
    n++;
  for (size_t k = 0; k < n; k++) {
    inst = sup_view_instance(svc, (srv->ws_rr + k) % n);
    if (inst != avoid && sup_instance_routable(inst)) {
      srv->ws_rr = (srv->ws_rr + k + 1) % n;
      return inst;
    }
  }
  return NULL;
}

void gw_ws_instance_left(struct gw_server *srv, struct sup_instance *inst) {
  struct gw_ws *ws;
  TAILQ_FOREACH(ws, &srv->ws_list, link) {
    if (ws->inst != inst)
      continue;
    struct sup_instance *next = pick_for(srv, ws->svc, inst);
    ws->inst = NULL;
    if (next) {
      bind_to(ws, next);
    } else if (ws->q.len > 0 && ws->held_since == 0) {
      ws->held_since = sup_now_ms();
      arm_timer(ws);
    }
  }
}

void gw_ws_instance_ready(struct gw_server *srv, struct sup_instance *inst) {
  struct gw_ws *ws;
  struct sup_service *svc = sup_view_owner(inst);
  struct ipc_channel *ch = sup_instance_channel(inst);
  if (ch != NULL && srv->ws_notices.n > 0) /* the oldest news first */
    gw_ws_notice_flush(&srv->ws_notices, sup_view_service_cfg(svc)->name, ch);
  TAILQ_FOREACH(ws, &srv->ws_list, link)
  if (ws->inst == NULL && ws->svc == svc && !ws->close_sent)
    bind_to(ws, inst);
}

void gw_ws_close_all(struct gw_server *srv, int code, const char *reason) {
  struct gw_ws *ws, *next;
  for (ws = TAILQ_FIRST(&srv->ws_list); ws; ws = next) {
    next = TAILQ_NEXT(ws, link); /* closing takes ws off the list */
    close_with(ws, (uint16_t)code, reason, 1);
  }
}

size_t gw_ws_count(const struct gw_server *srv, const struct sup_service *svc) {
  const struct gw_ws *ws;
  size_t n = 0;
  TAILQ_FOREACH(ws, &srv->ws_list, link)
  n += svc == NULL || ws->svc == svc;
  return n;
}

/* ---- Rooms ---- */

static void on_publication(struct rt_member *m, struct rt_room *r, struct rt_pub *pub) {
  struct gw_ws *ws = (struct gw_ws *)((char *)m - offsetof(struct gw_ws, member));
  ws->msgs_out++;
  ws->srv->rt.msgs_out++;
  send_buf(ws, rt_pub_ws(pub));
}

static const struct rt_member_ops ws_member_ops = {.deliver = on_publication};

/* ---- The protocol seam ---- */

static void ws_start(struct gw_conn *c) {
  struct gw_ws *ws = ws_of(c);
  c->linger = 1; /* a close frame must not be lost to a reset (gw_conn_close) */
  ws->next_ping = sup_now_ms() + (uint64_t)rtcfg(ws)->ping_interval_ms;
  arm_timer(ws);
}

static void ws_stopping(struct gw_conn *c) {
  close_with(ws_of(c), RT_CLOSE_GOING_AWAY, "muster is shutting down", 1);
}

static void ws_on_close(struct gw_conn *c) {
  struct gw_ws *ws = ws_of(c);
  static const char lost[] = "the connection was lost";
  tell_closed(ws, RT_CLOSE_ABNORMAL, lost, sizeof(lost) - 1);
  rt_member_leave_all(sup_host_rooms(ws->srv->host), &ws->member);
  if (ws->key) {
    gw_map_del(&ws->srv->ws_conns, ws->key);
    TAILQ_REMOVE(&ws->srv->ws_list, ws, link);
    ws->srv->rt.ws_closed++;
    sup_service_connections(ws->svc, -1);
    ws->key = 0;
  }
}

static void ws_release(struct gw_conn *c) {
  struct gw_ws *ws = ws_of(c);
  rt_member_free(&ws->member);
  rt_frame_free(&ws->fp);
  ipc_buf_free(&ws->q);
  free(ws->meta);
  free(ws);
}

/* ---- Accepting ---- */

uint64_t gw_ws_new_key(struct gw_server *srv, char *id, size_t n) {
  uint64_t key = ++srv->ws_next;
  const char *host = gw_cluster_host_id(srv);
  snprintf(id, n, "%s%s%016llx-%llx", host ? host : "", host ? ":" : "",
           (unsigned long long)srv->reqid_base, (unsigned long long)key);
  return key;
}

/* The connection a service names, or NULL (unknown, another muster's, or closed). */
static struct gw_ws *find(struct gw_server *srv, const char *conn) {
  conn = gw_cluster_local_conn(srv, conn); /* past "HOST:" when several hosts */
  const char *dash = conn ? strchr(conn, '-') : NULL;
  char *end;
  if (dash == NULL || (size_t)(dash - conn) != 16)
    return NULL;
  unsigned long long base = strtoull(conn, &end, 16), key = strtoull(dash + 1, &end, 16);
  if (end == dash + 1 || *end != '\0' || base != srv->reqid_base)
    return NULL;
  struct gw_ws *ws = gw_map_get(&srv->ws_conns, key);
  return ws && !ws->close_sent ? ws : NULL;
}

/* Joins room (the limit of max_rooms_per_conn kept). */
static void join(struct gw_ws *ws, const char *room) {
  if (ws->member.nrooms >= (size_t)rtcfg(ws)->max_rooms_per_conn) {
    sup_log(SUP_WARN,
            "gateway: WebSocket %s is in %zu rooms (max_rooms_per_conn): not joining "
            "\"%s\"",
            ws->id, ws->member.nrooms, room);
    return;
  }
  if (rt_room_join(sup_host_rooms(ws->srv->host), room, &ws->member) != 0)
    sup_log(SUP_WARN, "gateway: out of memory joining WebSocket %s to \"%s\"", ws->id, room);
}

/* Replaces the connection's meta with the JSON value v (NULL: none). */
static void set_meta(struct gw_ws *ws, const cJSON *v) {
  free(ws->meta);
  ws->meta = v ? cJSON_PrintUnformatted(v) : NULL;
  ws->meta_len = ws->meta ? strlen(ws->meta) : 0;
}

/* A new gw_ws for the connection of req, registered. NULL on out of memory. */
static struct gw_ws *ws_new(struct gw_req *req, struct sup_instance *inst) {
  struct gw_server *srv = req->srv;
  struct gw_ws *ws = calloc(1, sizeof(*ws));
  if (ws == NULL)
    return NULL;
  ws->conn = req->conn;
  ws->srv = srv;
  ws->key = req->u.proxy.ws_key;
  memcpy(ws->id, req->u.proxy.ws_id, sizeof(ws->id));
  ws->member = (struct rt_member){.ops = &ws_member_ops, .kind = RT_MEMBER_WS, .id = ws->id};
  ws->svc = req->u.proxy.svc;
  ws->inst = inst;
  ws->ack = sup_view_service_cfg(ws->svc)->ws_ack;
  rt_frame_init(&ws->fp, (uint64_t)rtcfg(ws)->ws_max_message_bytes);
  if (gw_map_put(&srv->ws_conns, ws->key, ws) != 0) {
    rt_frame_free(&ws->fp);
    free(ws);
    return NULL;
  }
  TAILQ_INSERT_TAIL(&srv->ws_list, ws, link);
  srv->rt.ws_opened++;
  sup_service_connections(ws->svc, 1);
  return ws;
}

void gw_ws_accept(struct gw_req *req, struct sup_instance *inst, const struct ipc_msg *m,
                  const struct ipc_header *h, size_t nh) {
  struct gw_conn *c = req->conn;
  struct gw_ws *ws = ws_new(req, inst);
  if (ws == NULL) {
    gw_reply_error(req, 500, "out of memory", NULL);
    return;
  }
  set_meta(ws, m->meta);
  c->pdata = ws;
  gw_req_switch(req, h, nh, &gw_ws_proto); /* the 101; c is a WebSocket from here */
  const cJSON *room, *rooms = cJSON_GetObjectItemCaseSensitive(m->ws, "join");
  cJSON_ArrayForEach(room, rooms) join(ws, room->valuestring);
  if (c->h1->in.len > 0 && !c->closing) { /* frames that came with the handshake */
    struct ipc_buf in = c->h1->in;
    ipc_buf_init(&c->h1->in);
    ws_on_data(c, in.data, in.len);
    ipc_buf_free(&in);
  }
}

/* ---- What services say about connections ---- */

/* ws_send: one message to the connection. */
static void service_send(struct gw_ws *ws, const struct ipc_msg *m) {
  ws->msgs_out++;
  ws->srv->rt.msgs_out++;
  if (m->json == NULL) {
    send_frame(ws, m->binary ? RT_OP_BINARY : RT_OP_TEXT, m->body, m->body_len);
    return;
  }
  char *text = cJSON_PrintUnformatted(m->json);
  if (text)
    send_frame(ws, RT_OP_TEXT, text, strlen(text));
  free(text);
}

/* ws_close from the service: a code it may send (1000, 1001, 1003,
 * 1007-1014, 3000-4999; else 1000). */
static void service_close(struct gw_ws *ws, const struct ipc_msg *m) {
  int code = m->code ? m->code : RT_CLOSE_NORMAL;
  if (!rt_close_code_valid((unsigned)code) && !(code >= 1012 && code <= 1014))
    code = RT_CLOSE_NORMAL;
  ws->gone = 1; /* it knows */
  close_withn(ws, (uint16_t)code, m->reason, m->reason_len, 1);
}

/* ack: the service handled messages up to seq (ack mode). */
static void service_ack(struct gw_ws *ws, int64_t seq) {
  if (!ws->ack || seq <= ws->acked)
    return;
  ws->acked = seq > ws->seq ? ws->seq : seq;
  drop_upto(ws, ws->acked);
}

void gw_ws_service_msg(struct gw_server *srv, struct sup_instance *inst, const struct ipc_msg *m) {
  struct gw_ws *ws = find(srv, m->conn);
  if (ws == NULL) {
    if (inst && m->type != IPC_T_ACK && gw_cluster_forward(srv, m) == 0)
      return; /* another host's connection: it goes there */
    sup_log(SUP_DEBUG, "%s: %s for unknown or closed connection %s ignored",
            inst ? sup_view_label(inst) : "another host", ipc_type_name(m->type),
            m->conn ? m->conn : "?");
    return;
  }
  switch (m->type) {
  case IPC_T_WS_SEND:
    service_send(ws, m);
    break;
  case IPC_T_WS_CLOSE:
    service_close(ws, m);
    break;
  case IPC_T_JOIN:
    join(ws, m->room);
    break;
  case IPC_T_LEAVE:
    rt_room_leave(sup_host_rooms(srv->host), m->room, &ws->member);
    break;
  case IPC_T_META:
    set_meta(ws, m->meta);
    break;
  case IPC_T_ACK:
    service_ack(ws, m->seq);
    break;
  default:
    break;
  }
}

const struct gw_proto gw_ws_proto = {.name = "websocket",
                                     .start = ws_start,
                                     .on_data = ws_on_data,
                                     .stopping = ws_stopping,
                                     .on_close = ws_on_close,
                                     .release = ws_release};
