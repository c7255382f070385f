/* ipc_msg — the messages of the muster channel (SPEC §3).
 *
 * Parsing turns one line into a typed struct ipc_msg with precise errors
 * for bad JSON, a missing field or a field of the wrong type: the hot
 * messages take a fast path on ipc_scan, anything else (and every error)
 * the cJSON path. Encoding appends one complete line ("...\n") per message
 * to an ipc_buf, written directly (no cJSON tree) because the gateway does
 * it per request. */
#ifndef MUSTER_IPC_MSG_H
#define MUSTER_IPC_MSG_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc_buf.h"

/* XX(ENUM, "wire name") for every message type, muster→service first. */
#define IPC_TYPE_MAP(XX)                                                                           \
  XX(REQUEST, "request")                                                                           \
  XX(CANCEL, "cancel")                                                                             \
  XX(PING, "ping")                                                                                 \
  XX(SHUTDOWN, "shutdown")                                                                         \
  XX(MESSAGE, "message")                                                                           \
  XX(READY, "ready")                                                                               \
  XX(RESPONSE, "response")                                                                         \
  XX(CHUNK, "chunk")                                                                               \
  XX(END, "end")                                                                                   \
  XX(PONG, "pong")                                                                                 \
  XX(SUBSCRIBE, "subscribe")                                                                       \
  XX(UNSUBSCRIBE, "unsubscribe")                                                                   \
  XX(PUBLISH, "publish")                                                                           \
  XX(WS_MESSAGE, "ws_message")                                                                     \
  XX(WS_CLOSE, "ws_close")                                                                         \
  XX(WS_SEND, "ws_send")                                                                           \
  XX(JOIN, "join")                                                                                 \
  XX(LEAVE, "leave")                                                                               \
  XX(META, "meta")                                                                                 \
  XX(ACK, "ack")

enum ipc_type {
  IPC_T_NONE = 0,
#define XX(e, s) IPC_T_##e,
  IPC_TYPE_MAP(XX)
#undef XX
      IPC_T__COUNT
};

/* Wire name of t ("request", ...), or "?" for an unknown value. */
const char *ipc_type_name(enum ipc_type t);

/* A header, NUL-terminated name and value. In a parsed request the name
 * is lower-case (as muster sends it) and a header given as an array has its
 * values joined with ", "; services also pass them to ipc_respond(). */
struct ipc_hdr {
  const char *name;
  const char *value;
};

/* A parsed message. Pointers are borrowed from `root` (or `body_buf`) and
 * live until ipc_msg_free(). Fields a type does not carry stay zero/NULL. */
struct ipc_msg {
  enum ipc_type type;
  cJSON *root;                /* the whole parsed line, owned */
  int64_t id;                 /* request, cancel, response, chunk, end */
  int64_t seq;                /* ping, pong */
  int64_t deadline_ms;        /* shutdown */
  int status;                 /* response: 100..999 as sent (the gateway judges) */
  int stream;                 /* response: 1 when "stream": true */
  const char *method;         /* request */
  const char *path;           /* request: the full request path */
  const char *query;          /* request: raw query without "?", "" if none */
  const char *prefix;         /* request: the route prefix that matched */
  const char *remote;         /* request: client address, "" if absent */
  const cJSON *headers;       /* response (and request on the full path): object or NULL */
  const struct ipc_hdr *hdrs; /* request: its headers in order (both paths) */
  size_t nhdrs;
  const char *body;     /* request/response body, chunk data, publish's string
                           data holding U+0000; NULL if none */
  size_t body_len;      /* length of body (may hold any byte when base64) */
  const cJSON *json;    /* response: the "json" value, or NULL */
  const char *json_raw; /* response: the "json" value's text in the line, when
                          parsed by the fast path (then json is NULL);
                          publish: data's text when it holds a "\u0000" */
  size_t json_len;
  const char *topic; /* message, subscribe, unsubscribe, publish */
  const cJSON *data; /* message, publish: any JSON value */
  char *body_buf;    /* decoded base64 body, owned */
  char *arena;       /* request: owned copies of its strings and hdrs */
  /* ---- real-time (SPEC §8) ---- */
  const char *conn;   /* ws_message, ws_close, ws_send, join, leave, meta, ack; request: ws.conn */
  const char *room;   /* join, leave */
  const cJSON *meta;  /* meta, ws_message, ws_close: any JSON value, or NULL */
  int code;           /* ws_close: the close code (0: none given) */
  const char *reason; /* ws_close: the reason, "" if none, */
  size_t reason_len;  /*   reason_len bytes (it may hold U+0000) */
  int binary;         /* ws_send, ws_message, publish: body holds bytes (data_base64) */
  int redelivered;    /* ws_message: sent again after a rebinding */
  const char *event;  /* publish: the SSE event name, or NULL */
  const char *except; /* publish: a connection left out, or NULL */
  const cJSON *ws;    /* response: the "ws" object (protocol, join, meta); request: ws */
  const cJSON *hold;  /* response: the "hold" object (rooms) */
  const char *line;   /* the line parsed (borrowed: valid while it is), to pass on */
  size_t line_len;
  char *line_buf; /* owned: the line mended (lone surrogates), then `line` */
};

/* Parses one line (no "\n") into m. The messages services send most
 * (response, chunk, end, pong, ready) take a fast path that builds no
 * cJSON tree: body/data may then point into `line` (not NUL-terminated)
 * and a "json" body is given as its text (json_raw); such an m is valid
 * only while `line` is. A `request` (what a service receives for every
 * HTTP request) also takes a fast path: its strings and headers are
 * copied into one owned arena, so it outlives `line`. Anything unusual
 * takes the full cJSON path, which gives the precise error. The bare JSON
 * string "ready" (what a PM2 program's process.send('ready') writes) is a
 * `ready` message. A lone surrogate escape (JSON.stringify of a string
 * cut inside a pair, which cJSON refuses) is read as U+FFFD: the line is
 * then mended into a copy m owns, and m->line is that copy. Returns 0,
 * or UV_EINVAL with a
 * one-line reason in err ("invalid JSON near offset 12", "request: missing
 * field \"id\"", "response: field \"status\" must be an integer", "unknown
 * type \"foo\"") and m left empty. m must be freed with ipc_msg_free()
 * after success. */
int ipc_msg_parse(struct ipc_msg *m, const char *line, size_t len, char *err, size_t errlen);

/* For a line ipc_msg_parse() refused: 1 when it is still recognisably a
 * `response` to request *id (a JSON object with "type":"response" and an
 * integer "id"), so the request can be failed at once (502) instead of
 * waiting for its timeout; else 0. */
int ipc_msg_response_id(const char *line, size_t len, int64_t *id);

/* Releases what m owns and zeroes it. Safe on a zeroed or freed m. */
void ipc_msg_free(struct ipc_msg *m);

/* ---- Encoding: each appends one line; check b->oom once at the end ---- */

/* A header name and value as byte slices (need not be NUL-terminated). */
struct ipc_header {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
};

/* What the gateway sends for one HTTP request. Slices need no NUL. */
struct ipc_request_out {
  int64_t id;
  const char *method;
  size_t method_len;
  const char *path;
  size_t path_len;
  const char *query;
  size_t query_len;
  const char *prefix;
  size_t prefix_len;
  const char *remote;
  size_t remote_len;
  const struct ipc_header *headers; /* names already lower-case, joined */
  size_t nheaders;
  const char *body;
  size_t body_len;                       /* "body" if UTF-8, else "body_base64" */
  const char *ws_conn;                   /* a WebSocket handshake: its connection, else NULL */
  const struct ipc_header *ws_protocols; /* the protocols it offers (values only) */
  size_t ws_nprotocols;
};

void ipc_enc_request(struct ipc_buf *b, const struct ipc_request_out *r);
void ipc_enc_cancel(struct ipc_buf *b, int64_t id);
void ipc_enc_ping(struct ipc_buf *b, int64_t seq);
void ipc_enc_shutdown(struct ipc_buf *b, int64_t deadline_ms);
/* data_json: a complete serialised JSON value. */
void ipc_enc_message(struct ipc_buf *b, const char *topic, const char *data_json, size_t data_len);
void ipc_enc_ready(struct ipc_buf *b);
/* A response with a byte body (NULL/0 for none), or the head of a stream
 * when stream is 1 (then body must be empty). */
void ipc_enc_response(struct ipc_buf *b, int64_t id, int status, const struct ipc_header *h,
                      size_t nh, const char *body, size_t body_len, int stream);
/* A response whose body is the JSON value json_text (already serialised). */
void ipc_enc_response_json(struct ipc_buf *b, int64_t id, int status, const struct ipc_header *h,
                           size_t nh, const char *json_text, size_t json_len);
void ipc_enc_chunk(struct ipc_buf *b, int64_t id, const char *data, size_t len);
void ipc_enc_end(struct ipc_buf *b, int64_t id);
void ipc_enc_pong(struct ipc_buf *b, int64_t seq);
void ipc_enc_subscribe(struct ipc_buf *b, const char *topic);
void ipc_enc_unsubscribe(struct ipc_buf *b, const char *topic);
void ipc_enc_publish(struct ipc_buf *b, const char *topic, const char *data_json, size_t data_len);

/* ---- Real-time (SPEC §8) ---- */

/* muster → service: one client message (text, or bytes when binary);
 * meta_json: the connection's meta as JSON text (NULL: null). */
void ipc_enc_ws_message(struct ipc_buf *b, const char *conn, int64_t seq, const char *data,
                        size_t len, int binary, const char *meta_json, size_t meta_len,
                        int redelivered);
/* muster → service: the connection ended (reason: reason_len bytes of UTF-8). */
void ipc_enc_ws_closed(struct ipc_buf *b, const char *conn, int code, const char *reason,
                       size_t reason_len, const char *meta_json, size_t meta_len);
/* service → muster: one message to one connection (text, or bytes). */
void ipc_enc_ws_send(struct ipc_buf *b, const char *conn, const char *data, size_t len, int binary);
/* service → muster: close a connection (code 0: the default 1000). */
void ipc_enc_ws_close(struct ipc_buf *b, const char *conn, int code, const char *reason);
/* service → muster: join / leave a room. */
void ipc_enc_join(struct ipc_buf *b, const char *conn, const char *room);
void ipc_enc_leave(struct ipc_buf *b, const char *conn, const char *room);
/* service → muster: the connection's meta (JSON text). */
void ipc_enc_meta(struct ipc_buf *b, const char *conn, const char *meta_json, size_t len);
/* service → muster: messages up to seq are handled. */
void ipc_enc_ack(struct ipc_buf *b, const char *conn, int64_t seq);
/* service → muster: a publication with an SSE event name and a connection
 * left out (each NULL for none); binary: data is bytes (data_base64),
 * else data is JSON text. */
void ipc_enc_publish_ex(struct ipc_buf *b, const char *topic, const char *data, size_t len,
                        int binary, const char *event, const char *except);
/* service → muster: accepts a WebSocket handshake (status 101): protocol
 * (NULL: none), rooms to join, meta (JSON text, NULL: none). */
void ipc_enc_ws_accept(struct ipc_buf *b, int64_t id, const char *protocol, const char *const *join,
                       size_t njoin, const char *meta_json, size_t meta_len);
/* service → muster: an SSE subscription (status 200) holding rooms, with
 * body as its first bytes (NULL/0: none). */
void ipc_enc_hold(struct ipc_buf *b, int64_t id, const char *const *rooms, size_t nrooms,
                  const char *body, size_t len);

#endif
