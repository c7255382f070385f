/* ipc_service — the library a C service is built on.
 *
 * A service is its handler plus a few lines:
 *
 *   static void on_request(struct ipc_req *req) {
 *     ipc_respond(req, 200, NULL, 0, "hi\n", 3);
 *   }
 *   int main(void) {
 *     struct ipc_service_cbs cbs = {.on_request = on_request};
 *     struct ipc_service *svc = ipc_service_new(uv_default_loop(), &cbs, NULL);
 *     if (svc == NULL) return 1;
 *     ipc_service_ready(svc);            // after the service's own init
 *     return ipc_service_run(svc);       // runs the loop, frees svc
 *   }
 *
 * The library opens the channel named by MUSTER_CHANNEL_FD (fd 3), answers
 * `ping` by itself, tracks in-flight requests, drops cancelled ones (the
 * handler hears of it through on_cancel), drains in-flight work on
 * `shutdown` and then returns 0 from ipc_service_run(), and returns as soon
 * as the channel closes, so a killed muster never leaves services running.
 * A handler may answer at once or later (async), or stream. */
#ifndef MUSTER_IPC_SERVICE_H
#define MUSTER_IPC_SERVICE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "ipc_msg.h"

struct ipc_service;

/* One message of a WebSocket client (SPEC §8 ws_message), borrowed for
 * the on_ws_message call. */
struct ipc_ws_msg {
  const char *conn; /* the connection's id */
  int64_t seq;      /* per connection, from 1 */
  const char *data; /* the message: text (UTF-8), or bytes when binary */
  size_t len;
  int binary;
  const cJSON *meta; /* what the service keeps on the connection (ipc_meta), or NULL */
  int redelivered;   /* sent before to an instance that went (ack mode) */
};

/* One in-flight request. Owned by the library: valid from on_request until
 * the handler completes it (ipc_respond*, ipc_stream_end) or until
 * on_cancel returns. String fields are never NULL. */
struct ipc_req {
  int64_t id;
  const char *method;
  const char *path;              /* full request path, e.g. "/dummy/echo" */
  const char *subpath;           /* path after the route prefix, e.g. "/echo"; "/" at least */
  const char *query;             /* raw, without "?" */
  const char *prefix;            /* the route prefix that matched */
  const char *remote;            /* client address */
  const struct ipc_hdr *headers; /* in order; names lower-case (see ipc_req_header) */
  size_t nheaders;
  const char *body; /* request body ("" if none); may hold any byte */
  size_t body_len;
  int body_binary;     /* 1 when the body came as body_base64 */
  const char *ws_conn; /* a WebSocket handshake: the connection's id; else NULL */
  struct ipc_service *svc;
  void *data; /* the handler's own pointer */
  /* private */
  struct ipc_msg msg;       /* the parsed request; owns the strings above */
  LIST_ENTRY(ipc_req) link; /* in the service's in-flight list */
  int streaming;            /* the head of a streamed response was sent */
};

struct ipc_service_cbs {
  void (*on_request)(struct ipc_req *req); /* required */
  /* The request was cancelled (or abandoned at shutdown): stop work on it.
   * req is freed right after the call; it must not be answered. */
  void (*on_cancel)(struct ipc_req *req);
  /* A `message` published on a topic this service subscribed to. */
  void (*on_message)(struct ipc_service *svc, const char *topic, const cJSON *data);
  /* muster asked the service to stop: stop starting new work. In-flight
   * requests may still be answered; the library then ends the run. */
  void (*on_shutdown)(struct ipc_service *svc);
  /* The channel can take more data again after ipc_service_writable() was 0. */
  void (*on_drain)(struct ipc_service *svc);
  /* A message from a WebSocket client this service accepted (or took over
   * from an instance that went): acknowledged when this returns, in ack
   * mode. */
  void (*on_ws_message)(struct ipc_service *svc, const struct ipc_ws_msg *m);
  /* A WebSocket connection ended (best effort: code 1006 when the client
   * just went). */
  void (*on_ws_close)(struct ipc_service *svc, const char *conn, int code, const char *reason,
                      const cJSON *meta);
};

/* The value of request header `name` (lower-case), or NULL. */
const char *ipc_req_header(const struct ipc_req *req, const char *name);

/* Response headers for ipc_respond() and ipc_stream_begin() are
 * struct ipc_hdr (ipc_msg.h), the type request headers come in. */

/* Opens the channel on $MUSTER_CHANNEL_FD (default 3). Returns the service
 * (owned by the caller until ipc_service_run() frees it) or NULL with a
 * message on stderr. */
struct ipc_service *ipc_service_new(uv_loop_t *loop, const struct ipc_service_cbs *cbs, void *data);

/* The pointer given to ipc_service_new(). */
void *ipc_service_data(const struct ipc_service *svc);
uv_loop_t *ipc_service_loop(const struct ipc_service *svc);

/* This instance's index ($MUSTER_INSTANCE, 0 if unset). */
int ipc_service_instance(const struct ipc_service *svc);

/* Sends `ready`: the instance may now get requests. Returns 0 or < 0. */
int ipc_service_ready(struct ipc_service *svc);

/* Turns automatic answers to `ping` on (default) or off. Off makes the
 * instance look hung to muster, which then kills it. */
void ipc_service_set_autopong(struct ipc_service *svc, int on);

/* Runs the loop until the service is done: after `shutdown` once in-flight
 * requests are answered (or the deadline passed), or when the channel
 * closes. Frees svc (pending requests are cancelled first). Returns the
 * exit status to use: 0. */
int ipc_service_run(struct ipc_service *svc);

/* Number of requests in flight. */
size_t ipc_service_inflight(const struct ipc_service *svc);

/* 1 while the channel's write queue is below its high-water mark. */
int ipc_service_writable(const struct ipc_service *svc);

/* Answers req with a byte body and completes it (req is freed). headers
 * may be NULL. Returns 0 or < 0 (req is completed either way). */
int ipc_respond(struct ipc_req *req, int status, const struct ipc_hdr *headers, size_t nheaders,
                const void *body, size_t len);

/* Answers req with a JSON body (serialised by muster with content-type
 * application/json). json is borrowed. Completes req. */
int ipc_respond_json(struct ipc_req *req, int status, const cJSON *json);

/* Answers req with a JSON body already serialised (json_text must be one
 * valid JSON value). Completes req. */
int ipc_respond_json_text(struct ipc_req *req, int status, const char *json_text, size_t len);

/* Answers req with {"error": message} and status. Completes req. */
int ipc_respond_error(struct ipc_req *req, int status, const char *message);

/* Starts a streamed response: the head goes out now, the body follows as
 * ipc_stream_write() chunks (sent to the client with chunked encoding). */
int ipc_stream_begin(struct ipc_req *req, int status, const struct ipc_hdr *headers,
                     size_t nheaders);
int ipc_stream_write(struct ipc_req *req, const void *data, size_t len);
/* Ends the stream and completes req. */
int ipc_stream_end(struct ipc_req *req);

/* Publishes data (borrowed; any JSON value) on topic. */
int ipc_publish(struct ipc_service *svc, const char *topic, const cJSON *data);
int ipc_subscribe(struct ipc_service *svc, const char *topic);
int ipc_unsubscribe(struct ipc_service *svc, const char *topic);

/* ---- Real-time (SPEC §8): muster holds the connections ---- */

/* Accepts the WebSocket handshake req (req->ws_conn set): status 101 with
 * protocol (one the client offered, or NULL), the rooms to join and the
 * connection's meta (borrowed JSON, or NULL). Completes req. */
int ipc_ws_accept(struct ipc_req *req, const char *protocol, const char *const *join, size_t njoin,
                  const cJSON *meta);
/* Answers req as an SSE subscription to rooms: body (may be NULL) is sent
 * first, then every publication in them. Completes req. */
int ipc_hold(struct ipc_req *req, const char *const *rooms, size_t nrooms, const char *body,
             size_t len);
/* One message to connection conn: text, or bytes when binary. */
int ipc_ws_send(struct ipc_service *svc, const char *conn, const void *data, size_t len,
                int binary);
/* One text message holding json (borrowed), serialised. */
int ipc_ws_send_json(struct ipc_service *svc, const char *conn, const cJSON *json);
/* Closes conn with code (0: 1000) and reason (may be NULL). */
int ipc_ws_close(struct ipc_service *svc, const char *conn, int code, const char *reason);
/* Adds conn to room / removes it. */
int ipc_join(struct ipc_service *svc, const char *conn, const char *room);
int ipc_leave(struct ipc_service *svc, const char *conn, const char *room);
/* Replaces what muster keeps for conn (borrowed JSON; sent with its messages). */
int ipc_meta(struct ipc_service *svc, const char *conn, const cJSON *meta);
/* Publishes data (a string goes to clients as it is, other JSON
 * serialised) with an SSE event name and a connection left out (each NULL
 * for none). */
int ipc_publish_ex(struct ipc_service *svc, const char *topic, const cJSON *data, const char *event,
                   const char *except);

#endif
