/* cl_node — this host as one of several (SPEC §10): rooms across hosts
 * over Redis pub/sub, history in Redis, messages for connections that
 * another host owns.
 *
 * Every publication goes to Redis through one Lua script that numbers it
 * in its room (EPOCH-OFFSET), appends it to the room's stream (the
 * history, MAXLEN history_size) and PUBLISHes it on the room's channel,
 * in one step. Every host, the publishing one included, delivers what the
 * channel carries, so all of them deliver a room's publications in
 * Redis's one order. A host follows a room's channel only while the room
 * has members here (and for CL_LINGER_MS after), and reads back what it
 * missed (a gap in the offsets, a reconnection) from the stream.
 *
 * Redis away: publications are delivered here at once (without a
 * position) and kept in an outbox, sent when Redis is back, so the other
 * hosts get them late rather than never; every host drops what it has
 * delivered already (each publication carries its origin and number).
 *
 * The owner (sup_host) hands it the room index; the index tells it when
 * a room gets or loses its members (rt_rooms.on_used). */
#ifndef MUSTER_CL_NODE_H
#define MUSTER_CL_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cfg.h"
#include "cl_wire.h"
#include "rt_room.h"

#define CL_LINGER_MS 5000    /* a room without members is followed this long still */
#define CL_REPAIR_WINDOW 256 /* stream length without history: for gaps only */
#define CL_OUTBOX_MAX 100000 /* publications waiting for Redis, at most */
#define CL_OUTBOX_BYTES (64u << 20)

struct cl_node;
struct ipc_buf;

struct cl_hooks {
  void *ctx;
  /* An IPC line from another host's service about a connection of ours. */
  void (*conn_msg)(void *ctx, const char *line, size_t len);
};

/* Counters (metrics). */
struct cl_stats {
  uint64_t published;         /* publications Redis took */
  uint64_t delivered;         /* publications from Redis delivered here */
  uint64_t local_only;        /* delivered here at once, Redis being away */
  uint64_t duplicates;        /* dropped: delivered here already */
  uint64_t repaired;          /* read back from the stream after a gap */
  uint64_t lost;              /* gaps the stream could no longer fill */
  uint64_t dropped;           /* outbox overflow: never reached Redis */
  uint64_t errors;            /* Redis refused a command */
  uint64_t conn_out, conn_in; /* connection messages sent to / from other hosts */
};

/* Starts following Redis (connecting in the background). rooms must
 * outlive the node. Returns 0 or UV_ENOMEM. */
int cl_node_new(struct cl_node **out, uv_loop_t *loop, const struct cfg_cluster *cfg,
                const struct cfg_realtime *rt, struct rt_rooms *rooms,
                const struct cl_hooks *hooks);

/* Closes the connections; done(arg) once every handle is closed, then
 * the node is freed. */
void cl_node_close(struct cl_node *cl, void (*done)(void *arg), void *arg);

/* This host's id (cluster.host_id, or the machine's name). */
const char *cl_node_host_id(const struct cl_node *cl);

/* Publishes pub in its room on every host. Returns the members reached
 * here at once (Redis away), 0 when delivery waits for Redis's order, or
 * UV_ENOMEM. pub's encodings are released. */
int cl_node_publish(struct cl_node *cl, struct rt_pub *pub);

/* Sends line (an IPC message about a connection) to host, which owns
 * the connection. Returns 0, UV_ENOTCONN (Redis away: not sent) or
 * UV_ENOMEM. */
int cl_node_to_host(struct cl_node *cl, const char *host, size_t hlen, const char *line,
                    size_t len);

/* 1 when this host follows room r without a gap: what it keeps of r's
 * history is the room's latest. */
int cl_node_in_sync(const struct cl_node *cl, const struct rt_room *r);

/* ---- History from Redis (a reader that comes back, maybe elsewhere) ---- */

struct cl_hist_item {
  uint64_t offset;
  struct cl_record rec;
};

/* What a reader of a room missed. status 0: items are every publication
 * after its position (none: nothing missed), epoch and last are the
 * room's; UV_ENOENT: some are gone (it must reset; epoch and last are the
 * room's present); UV_ENOTCONN: Redis could not say. */
typedef void (*cl_fetch_cb)(void *ctx, int status, const char *epoch, uint64_t last,
                            const struct cl_hist_item *items, size_t n);

struct cl_fetch;

/* Asks Redis what a reader of room at epoch-offset missed (epoch ""
 * and offset 0: it joined before the room's first publication; "*": a
 * new reader asking for all the room keeps; NULL: a new reader, wanting
 * only the present position). Returns NULL
 * when Redis is away (decide from what is kept here); else cb is called
 * once, later, unless cancelled. */
struct cl_fetch *cl_node_fetch(struct cl_node *cl, const char *room, const char *epoch,
                               uint64_t offset, cl_fetch_cb cb, void *ctx);
void cl_fetch_cancel(struct cl_fetch *f);

/* ---- Metrics ---- */

/* Appends muster_redis_* and muster_cluster_* in Prometheus text. */
void cl_node_metrics(const struct cl_node *cl, struct ipc_buf *b);

#endif
