/* gw_rt — the gateway's real-time side (SPEC §8): WebSocket connections
 * (gw_ws.c) and SSE holds (gw_sse.c) that muster holds for its services.
 *
 * muster keeps every client connection; services decide and keep no
 * connection state. A WebSocket is accepted by an instance (a `response`
 * 101 to the handshake `request`) and bound to it: its messages go there
 * as `ws_message`, in order. When that instance exits, drains or is
 * rolled, the connection is bound to another ready instance (in ack mode
 * the unacknowledged messages are sent again, flagged `redelivered`);
 * with none, messages wait up to hold_ms, then the connection closes 1013.
 * Services reach connections by id (`ws_send`, `ws_close`, `join`,
 * `leave`, `meta`, `ack`), and rooms by name (`publish`): the index is the
 * host's (struct rt_rooms, shared with the instances' subscriptions), and
 * a publication is encoded once and corked to every member. */
#ifndef MUSTER_GW_RT_H
#define MUSTER_GW_RT_H

#include <stdint.h>
#include <sys/queue.h>

#include "gw_map.h"
#include "ipc_buf.h"
#include "rt_frame.h"
#include "rt_room.h"

struct gw_conn;
struct gw_req;
struct gw_server;
struct ipc_header;
struct ipc_msg;
struct sup_instance;
struct sup_service;

/* A connection id: [HOST_ID ":"] 16 hex digits "-" a hex count. */
#define GW_WS_ID_MAX 112

/* One WebSocket connection (the state of gw_ws_proto). */
struct gw_ws {
  struct gw_conn *conn; /* its connection (pdata points back) */
  struct gw_server *srv;
  struct rt_member member;   /* its rooms; member.id is id */
  char id[GW_WS_ID_MAX];     /* CONN, as services see it */
  uint64_t key;              /* in srv->ws_conns */
  TAILQ_ENTRY(gw_ws) link;   /* srv->ws_list */
  struct sup_service *svc;   /* the service that accepted it */
  struct sup_instance *inst; /* the instance it is bound to, NULL while none */
  struct rt_frame_parser fp; /* the client's frames */
  char *meta;                /* its meta as JSON text, owned, or NULL */
  size_t meta_len;
  int64_t seq;                /* number of the last message from the client */
  int64_t acked;              /* ack mode: the service handled up to this */
  int64_t sent;               /* sent to the current instance up to this */
  int64_t delivered;          /* sent to some instance up to this (redelivery) */
  struct ipc_buf q;           /* messages not sent yet (and, in ack mode, not acked) */
  uint64_t held_since;        /* when a message began waiting for an instance, 0 */
  uint64_t ping_at;           /* when the last ping went out unanswered, 0 */
  uint64_t next_ping;         /* when the next ping is due */
  uint64_t msgs_in, msgs_out; /* counters (metrics) */
  unsigned ack : 1;           /* the service's ws.ack */
  unsigned close_sent : 1;    /* a close frame went out: nothing more follows */
  unsigned paused : 1;        /* reading stopped: too much waits for the service */
  unsigned gone : 1;          /* the service was told (ws_close) */
};

/* The gateway's real-time counters (metrics). */
struct gw_rt_stats {
  uint64_t ws_opened, ws_closed;
  uint64_t msgs_in, msgs_out; /* WebSocket messages from / to clients */
  uint64_t slow_closes;       /* clients closed for max_outbound_bytes */
  uint64_t sse_opened, sse_closed;
  uint64_t sse_events; /* events written to SSE holds */
};

/* 1 when a client holding `queued` bytes is too slow to be given n more
 * under `limit` (max_outbound_bytes). What already waits is the measure:
 * a message larger than the limit on its own still goes to a client that
 * has taken everything before it, which is not slow. */
static inline int gw_rt_too_slow(size_t queued, size_t n, size_t limit) {
  return queued > 0 && queued + n > limit;
}

/* ---- gw_ws.c ---- */

/* The protocol of an upgraded connection. */
extern const struct gw_proto gw_ws_proto;

/* The handshake request req was accepted by inst (response m, status
 * 101): the 101 goes out with headers h (the handshake's own first), the
 * connection becomes a WebSocket bound to inst, joins m's ws.join rooms
 * and takes its ws.meta. */
void gw_ws_accept(struct gw_req *req, struct sup_instance *inst, const struct ipc_msg *m,
                  const struct ipc_header *h, size_t nh);

/* A message from a service about a connection (ws_send, ws_close, join,
 * leave, meta, ack). An unknown or closed conn is ignored (logged at
 * debug level). */
void gw_ws_service_msg(struct gw_server *srv, struct sup_instance *inst, const struct ipc_msg *m);

/* inst no longer takes connections (exited, draining, stopping): its
 * connections are bound to another ready instance, or held. */
void gw_ws_instance_left(struct gw_server *srv, struct sup_instance *inst);

/* An instance became ready: held connections of its service bind to it. */
void gw_ws_instance_ready(struct gw_server *srv, struct sup_instance *inst);

/* Makes a new connection id (for the handshake request). */
uint64_t gw_ws_new_key(struct gw_server *srv, char *id, size_t n);

/* Closes every WebSocket with code (a drain's end: 1001). */
void gw_ws_close_all(struct gw_server *srv, int code, const char *reason);

/* The connections of service svc (for `status`), or of every service when NULL. */
size_t gw_ws_count(const struct gw_server *srv, const struct sup_service *svc);

/* ---- gw_cluster.c: several hosts (SPEC §10) ---- */

/* This host's id when it is one of several, else NULL. */
const char *gw_cluster_host_id(struct gw_server *srv);
/* conn past "HOST:" when it names this host (or has no host), NULL when
 * it names another. */
const char *gw_cluster_local_conn(struct gw_server *srv, const char *conn);
/* Sends m (about a connection another host owns) there. 0, or a negative
 * UV_* code when it cannot (no such host in the id, Redis away). */
int gw_cluster_forward(struct gw_server *srv, const struct ipc_msg *m);
/* A line from another host about a connection here (the cluster's hook). */
void gw_cluster_conn_msg(void *srv, const char *line, size_t len);

/* ---- gw_sse.c ---- */

/* The request req got a response with `hold` (an SSE subscription): the
 * head, m's body, the history the client missed (last-event-id), then
 * every publication in its rooms until the client leaves. */
void gw_sse_hold(struct gw_req *req, const struct ipc_msg *m);

#endif
