/* cl_int — the node's state, shared by the files of cluster/ (not by
 * other modules: they see cl_node.h). */
#ifndef MUSTER_CL_INT_H
#define MUSTER_CL_INT_H

#include <sys/queue.h>

#include "cl_node.h"
#include "cl_redis.h"
#include "ipc_buf.h"

#define CL_KEY_PREFIX "muster:"
#define CL_HELD_MAX 10000 /* posted messages waiting for a catch-up, per room */

/* A posted message waiting until the room's catch-up is done. */
struct cl_held {
  char *bytes;
  size_t len;
};

/* Where this host got from one origin in a room (duplicates are dropped). */
struct cl_mark {
  uint32_t origin; /* index in cl_node.origins */
  uint64_t oseq;
};

/* A room this host follows (rt_room.ext). */
struct cl_room {
  struct rt_room *room;
  TAILQ_ENTRY(cl_room) linger;        /* cl_node.lingering, while unused_since */
  uint64_t unused_since;              /* its last member left then; 0 while it has members */
  unsigned subscribed : 1;            /* SUBSCRIBE went on the current connection */
  unsigned confirmed : 1;             /* and Redis confirmed it */
  unsigned catching_up : 1;           /* a read of the stream is under way */
  unsigned catch_up_due : 1;          /* one is needed once the commands connection is up */
  unsigned gap : 1;                   /* the next delivery follows a hole (SSE readers reset) */
  uint64_t catch_up_gen;              /* the current read's (cl_node.read_gen), 0 none */
  char epoch[CL_EPOCH_MAX + 1];       /* of the last position seen, "" none */
  uint64_t last;                      /* offset of the last position seen, 0 none */
  char floor_epoch[CL_EPOCH_MAX + 1]; /* the room's position when first followed */
  uint64_t floor;                     /* ("" 0: Redis had none): a catch-up before any */
  unsigned floor_set : 1;             /* delivery starts there */
  unsigned floor_pending : 1;         /* asked; what comes meanwhile is held */
  struct cl_held *held;               /* arrived during the catch-up, in order */
  size_t nheld, capheld;
  struct cl_mark *marks;
  size_t nmarks, capmarks;
};

/* One of this host's publications, until Redis took it and it was
 * delivered here. */
struct cl_own {
  TAILQ_ENTRY(cl_own) link;
  uint64_t oseq;
  char *room; /* owned */
  char *rec;  /* its record, owned */
  size_t rec_len;
  unsigned sent : 1;      /* went on the current commands connection */
  unsigned confirmed : 1; /* the script ran */
  unsigned delivered : 1; /* delivered here */
};

struct cl_node {
  uv_loop_t *loop;
  struct rt_rooms *rooms;
  struct cl_hooks hooks;
  char host_id[65];
  char origin[CL_ORIGIN_MAX + 1]; /* host_id "/" this run */
  char host_channel[96];          /* muster:host:HOST_ID */
  char ping_pattern[128];         /* see cl_redis.c */
  uint64_t maxlen;                /* stream length */
  uint64_t history_ttl_ms;
  char *password; /* owned */
  struct cl_redis cmd, sub;
  uint64_t oseq;            /* this run's publications */
  uint64_t epoch_seq;       /* epochs proposed */
  uint64_t read_gen;        /* catch-ups started (their generations) */
  TAILQ_HEAD(, cl_own) own; /* in oseq order */
  size_t nown, own_bytes;
  TAILQ_HEAD(, cl_room) lingering;
  uv_timer_t tick; /* lingering rooms, every second */
  char **origins;  /* interned origins (marks) */
  size_t norigins, caporigins;
  char pub_sha[41]; /* the publish script's SHA-1 */
  struct cl_stats st;
  int closing, open; /* handles still open while closing */
  void (*done)(void *arg);
  void *done_arg;
};

/* ---- cl_node.c ---- */
uint64_t cl_now_ms(void); /* wall clock, ms */
/* The key or channel CL_KEY_PREFIX kind ":" name into b (NUL-terminated). */
void cl_key(struct ipc_buf *b, const char *kind, const char *name);
/* 1 when both connections are up. */
int cl_up(const struct cl_node *cl);

/* ---- cl_pub.c: publishing, the outbox ---- */
/* The commands connection is up: what waits goes. */
void cl_pub_resend(struct cl_node *cl);
/* A connection went: nothing waits for an echo that may not come. */
void cl_pub_flush_local(struct cl_node *cl);
/* An own publication came back (or was read back) from Redis. */
void cl_pub_echoed(struct cl_node *cl, uint64_t oseq);
/* Frees the outbox. */
void cl_pub_free(struct cl_node *cl);

/* ---- cl_deliver.c: what Redis carries, in order ---- */
/* A message on room cr's channel. */
void cl_deliver_posted(struct cl_node *cl, struct cl_room *cr, const char *p, size_t n);
/* Delivers rec here (epoch/offset: its position, or offset 0) unless it
 * was delivered here already. Returns the members reached. */
int cl_deliver_record(struct cl_node *cl, struct rt_room *r, const struct cl_record *rec,
                      const char *epoch, uint64_t offset, int gap);
/* Reads back what cr missed (after a gap or a reconnection). */
void cl_deliver_catch_up(struct cl_node *cl, struct cl_room *cr);
/* cr is followed for the first time: Redis is asked where the room stands
 * now (its floor), so that what is published between this moment and the
 * subscription's confirmation is read back from the stream, not lost. */
void cl_deliver_followed(struct cl_node *cl, struct cl_room *cr);
/* cr's subscription is confirmed: catch up from where it was (or from
 * its floor), else note where the room stands. */
void cl_deliver_subscribed(struct cl_node *cl, struct cl_room *cr);
/* A read script's reply {epoch, last offset, entries}: 0, or -1 when it
 * is not one. */
int cl_read_reply(const struct redisReply *reply, const char **epoch, uint64_t *last,
                  const struct redisReply **entries);
/* A stream entry: its offset, when it was published (0: unknown) and its
 * record's bytes. 0, or -1 when it is not one. */
int cl_entry_of(const struct redisReply *e, uint64_t *off, uint64_t *at_ms, const char **rec,
                size_t *len);
/* The origin's number in cl->origins (interned). */
uint32_t cl_origin_id(struct cl_node *cl, const char *origin, size_t len);
void cl_room_free_state(struct cl_room *cr);

/* ---- cl_script.c: the Lua scripts ---- */
extern const char cl_script_publish[];
extern const char cl_script_read[];
/* The SHA-1 of a script in hex (for EVALSHA). */
void cl_script_sha(const char *script, char out[41]);
/* Runs the read script on room: its epoch (checked against epoch, "" for
 * none), last offset and up to count entries from offset from; fn gets
 * the reply (cl_read_reply). EVAL, not EVALSHA: reads are rare and need
 * no NOSCRIPT path. Returns 0 or a negative libuv error (nothing sent). */
int cl_script_read_room(struct cl_node *cl, const char *room, const char *epoch, uint64_t from,
                        uint64_t count, cl_redis_fn *fn, void *privdata);

#endif
