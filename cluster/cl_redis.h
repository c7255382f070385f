/* cl_redis — one connection to Redis on muster's loop, kept up: made
 * again with capped backoff when it drops, and watched with deadlines: a
 * connect (and AUTH) that does not finish within CL_REDIS_CONNECT_MS, or
 * a reply (to a command, or to the PING sent every CL_REDIS_PING_MS
 * while idle) later than CL_REDIS_DEADLINE_MS, means it is wedged: it is
 * dropped and made again. Never blocks the loop.
 *
 * The bytes are libuv's (a uv_tcp_t) and the replies are parsed by
 * hiredis's reader (redisReader). hiredis's own async layer is not used:
 * in 0.14 (Debian 12) it asserts on a push it does not expect, so a
 * misbehaving server would abort muster, it cannot PING a subscribed
 * connection, and its libuv adapter has no timers. Commands go out in
 * RESP, several per write when they come together (pipelining).
 *
 * A subscriber connection (SUBSCRIBE ...) hands its pushes (message,
 * subscribe, unsubscribe) to cbs.push; its PINGs are answered by a "pong"
 * push, taken here. */
#ifndef MUSTER_CL_REDIS_H
#define MUSTER_CL_REDIS_H

#include <hiredis/read.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ipc_buf.h"

struct redisReply;

#define CL_REDIS_CONNECT_MS 2000  /* a connect (and AUTH) finishes within this */
#define CL_REDIS_DEADLINE_MS 2500 /* a reply comes within this (SPEC §10: wedged within 3 s) */
#define CL_REDIS_PING_MS 500      /* an idle connection is pinged this often */
#define CL_REDIS_BACKOFF_MIN_MS 100
#define CL_REDIS_BACKOFF_MAX_MS 5000
#define CL_REDIS_MAX_REPLY (512u << 20) /* a reply larger than this drops the connection */
#define CL_REDIS_MAX_ELEMENTS (1 << 20) /* an aggregate announcing more is a bad reply */

/* hiredis's reader with its aggregates bounded: a reply that announces an
 * array of more than CL_REDIS_MAX_ELEMENTS (hiredis would allocate them
 * all at once) is an error of the reader ("out of memory"), so a broken
 * or hostile server costs bounded memory. Must not move once made. */
struct cl_reader {
  redisReader *r;
  redisReplyObjectFunctions fns; /* hiredis's own, createArray bounded */
  void *(*create_array)(const redisReadTask *task, int elements); /* hiredis's */
  int too_large; /* the reader's error was an aggregate past the bound */
};

/* Makes rd's reader. Returns 0 or UV_ENOMEM. */
int cl_reader_init(struct cl_reader *rd);
void cl_reader_free(struct cl_reader *rd);

struct cl_redis;

/* A reply: NULL when the connection went before it came. */
typedef void cl_redis_fn(struct cl_redis *r, const struct redisReply *reply, void *privdata);

struct cl_redis_cbs {
  /* Connected (and authenticated): the owner sends what it needs. */
  void (*up)(struct cl_redis *r);
  /* The connection is gone; it will be made again. Replies still owed
   * were given to their callbacks as NULL first. */
  void (*down)(struct cl_redis *r);
  /* A subscriber's push (an array: "message", channel, payload; or
   * "subscribe"/"unsubscribe", channel, count). */
  void (*push)(struct cl_redis *r, const struct redisReply *reply);
};

/* A command that awaits its reply, oldest first. */
struct cl_redis_pending {
  cl_redis_fn *fn;
  void *privdata;
  uint64_t sent_ms;
};

enum cl_redis_state {
  CL_REDIS_WAITING = 0, /* until retry_at */
  CL_REDIS_CONNECTING,  /* since state_ms */
  CL_REDIS_AUTHING,     /* connected; AUTH and PING sent, awaiting replies */
  CL_REDIS_UP,
  CL_REDIS_STOPPED
};

struct cl_redis_conn; /* one TCP connection (cl_redis.c) */

struct cl_redis {
  uv_loop_t *loop;
  const char *name; /* "commands" / "subscriptions", for the log */
  char host[64];
  int port;
  const char *password; /* borrowed, or NULL */
  int subscriber;       /* pushes come (SUBSCRIBE) */
  struct cl_redis_cbs cbs;
  void *data;              /* the owner's */
  struct cl_redis_conn *c; /* NULL while waiting */
  enum cl_redis_state state;
  uv_timer_t timer;              /* deadlines, pings, retries */
  uint64_t state_ms;             /* when the state began (UP: the last ping) */
  uint64_t logged_ms;            /* when "cannot reach" was last logged */
  uint64_t retry_at;             /* WAITING: when to connect again */
  uint64_t backoff_ms;           /* the next retry's delay */
  int quiet;                     /* "cannot reach" was logged this outage */
  struct cl_redis_pending *ring; /* replies owed (growable ring) */
  size_t cap, head, n;
  uint64_t ping_sent;                 /* subscriber: a PING is out since then, 0 */
  uint64_t connects, drops;           /* for metrics */
  void (*closed)(struct cl_redis *r); /* stop's callback */
  char last_err[128];                 /* why it last went down */
};

/* Starts connecting to host:port (an IPv4 address). */
void cl_redis_start(struct cl_redis *r, uv_loop_t *loop, const char *name, const char *host,
                    int port, const char *password, int subscriber, const struct cl_redis_cbs *cbs,
                    void *data);

/* Closes the connection for good; closed (may be NULL) once its handles
 * are closed. Owed replies go to their callbacks as NULL. */
void cl_redis_stop(struct cl_redis *r, void (*closed)(struct cl_redis *r));

/* 1 when connected and authenticated. */
int cl_redis_up(const struct cl_redis *r);

/* Sends a command whose reply fn gets, within the deadline. Returns 0,
 * or UV_ENOTCONN (not up), UV_ENOMEM. */
int cl_redis_command(struct cl_redis *r, cl_redis_fn *fn, void *privdata, int argc,
                     const char **argv, const size_t *lens);

/* Sends a command that owes no reply (SUBSCRIBE and UNSUBSCRIBE on a
 * subscriber: Redis answers with pushes). 0 or UV_ENOTCONN. */
int cl_redis_send(struct cl_redis *r, int argc, const char **argv, const size_t *lens);

/* Drops the connection (a reply that makes no sense) and makes it again.
 * Safe from any callback. */
void cl_redis_drop(struct cl_redis *r, const char *why);

/* Appends a command in RESP ("*N\r\n$len\r\narg\r\n..."). */
void cl_resp_command(struct ipc_buf *b, int argc, const char **argv, const size_t *lens);

#endif
