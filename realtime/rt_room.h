/* rt_room — rooms (SPEC §8: the topics of §3): one index from a room's
 * name to its members, whatever they are — an instance's process that
 * subscribed, a WebSocket connection that joined, an SSE hold. A member
 * is a struct rt_member embedded in its owner, with the callback that
 * delivers a publication to it; joining and leaving are O(1) both ways
 * (each side keeps the other's index), and a member can leave every room
 * at once when it goes.
 *
 * A publication (struct rt_pub) is encoded lazily, once per kind of
 * receiver (a WebSocket frame, an SSE event, an IPC `message` line), and
 * the same reference-counted bytes go to every member (rt_pub_ws(), ...).
 *
 * With history (history_size > 0), a room keeps its last publications
 * (at most history_ttl old) with positions EPOCH-OFFSET: offsets count up
 * from 1 per room; the epoch is new whenever the room's history starts
 * over (a new muster, a room dropped and made again), so a position from
 * before never matches by accident. A room lives while it has members or
 * history; rt_rooms_sweep() drops expired history and empty rooms.
 *
 * Pure but for the allocations: no I/O, times are passed in. */
#ifndef MUSTER_RT_ROOM_H
#define MUSTER_RT_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include "rt_buf.h"

struct rt_room;
struct rt_member;

/* One publication, as a receiver sees it. */
struct rt_pub {
  const char *room;
  const char *text; /* the payload: a string as it is, other JSON serialised; bytes */
  size_t text_len;
  const char *json; /* the payload as a JSON value (IPC), NULL for binary */
  size_t json_len;
  int binary;         /* data_base64: a binary frame; SSE skips it */
  const char *event;  /* SSE event name, or NULL */
  const char *except; /* a connection left out, or NULL */
  uint64_t offset;    /* its position in the room, 0 without history */
  const char *epoch;  /* the room's epoch when offset is set */
  int gap;            /* several hosts: publications before this one are lost
                       * here (SSE readers get muster-reset first) */
  struct rt_buf *ws;  /* encodings, made on first use (rt_pub_*), owned */
  struct rt_buf *sse;
  struct rt_buf *ipc;
};

struct rt_member_ops {
  /* Delivers pub (published in room r) to m. May leave rooms, its own
   * included, but must not free other members. */
  void (*deliver)(struct rt_member *m, struct rt_room *r, struct rt_pub *pub);
};

/* A member's place in one room. */
struct rt_mslot {
  struct rt_room *room;
  size_t i; /* its index in room->members */
};

/* What a member is (for `rooms` and metrics). */
enum rt_member_kind {
  RT_MEMBER_INSTANCE = 0, /* a process subscribed */
  RT_MEMBER_WS,           /* a WebSocket connection */
  RT_MEMBER_SSE           /* an SSE hold */
};

struct rt_member {
  const struct rt_member_ops *ops;
  enum rt_member_kind kind;
  const char *id;         /* the connection id (for `except`), or NULL */
  struct rt_mslot *rooms; /* the rooms it is in, owned */
  size_t nrooms, caprooms;
};

/* A room's place for one member. */
struct rt_rslot {
  struct rt_member *m; /* NULL: left while the room was being published to */
  size_t k;            /* its index in m->rooms */
};

/* One kept publication. */
struct rt_hist_entry {
  uint64_t offset;
  uint64_t at_ms;
  struct rt_buf *sse; /* its SSE event (no id line), NULL for binary */
};

struct rt_room {
  char *name;               /* owned */
  struct rt_rslot *members; /* owned */
  size_t nmembers, capmembers;
  size_t live;                /* members that are not NULL */
  int publishing;             /* a publication is being delivered */
  char epoch[24];             /* see above */
  uint64_t last_offset;       /* of the last publication (history only) */
  struct rt_hist_entry *hist; /* a ring of hist_cap entries, owned */
  size_t hist_cap;            /* history_size when the room was made */
  size_t hist_head, hist_n;   /* its oldest entry and count */
  void *ext;                  /* another module's state (cluster/): kept while set */
};

struct rt_rooms {
  struct rt_room **slots; /* open addressing by name, owned */
  size_t cap, n;
  size_t history_size; /* per room, 0 = none */
  uint64_t history_ttl_ms;
  uint64_t epoch_base; /* this muster's start, for epochs */
  uint64_t made;       /* rooms made so far (epochs differ) */
  uint64_t published;  /* publications so far (metrics) */
  /* Told when room name gets its first member (used 1) and when it loses
   * its last (used 0): several hosts follow a room's Redis channel only
   * while it has members here. Optional. */
  void (*on_used)(void *ctx, struct rt_room *r, int used);
  void *hook_ctx;
};

/* Prepares an empty index. epoch_base should differ between runs (the
 * start time and pid). */
void rt_rooms_init(struct rt_rooms *rs, size_t history_size, uint64_t history_ttl_ms,
                   uint64_t epoch_base);
/* Frees every room (members must have left, or be gone). */
void rt_rooms_free(struct rt_rooms *rs);

/* The room called name, or NULL. */
struct rt_room *rt_rooms_find(const struct rt_rooms *rs, const char *name);

/* Adds m to room name (made when new). Returns 0 (also when m is in it
 * already), or UV_ENOMEM. */
int rt_room_join(struct rt_rooms *rs, const char *name, struct rt_member *m);
/* Removes m from room name; nothing when it is not in it. */
void rt_room_leave(struct rt_rooms *rs, const char *name, struct rt_member *m);
/* Removes m from every room it is in (it is going). */
void rt_member_leave_all(struct rt_rooms *rs, struct rt_member *m);
/* 1 when m is in room r. */
int rt_member_in(const struct rt_member *m, const struct rt_room *r);
/* Releases what m owns (after it left every room). */
void rt_member_free(struct rt_member *m);

/* Publishes pub in room pub->room: gives it its position (history on),
 * keeps it, and delivers it to every member but the one with id
 * pub->except. Returns how many members it reached, or UV_ENOMEM. The
 * encodings pub made are released before it returns. */
int rt_rooms_publish(struct rt_rooms *rs, struct rt_pub *pub, uint64_t now_ms);

/* Several hosts (cluster/): Redis numbers a room's publications, not
 * this index. Delivers pub at the position it carries (pub->epoch and
 * pub->offset; offset 0: none, as while Redis is away) to the room's
 * members but pub->except, and keeps it with history: a position right
 * after the room's last joins the ring; any other (another epoch, a jump)
 * starts the ring over from it, so a reader from before the jump resets.
 * deliver 0: only kept (this host delivered it already). Makes no room:
 * one without members here is not followed. Returns the members reached,
 * or UV_ENOMEM. Releases pub's encodings. */
int rt_rooms_deliver_at(struct rt_rooms *rs, struct rt_pub *pub, int deliver, uint64_t now_ms);

/* Drops r when nothing keeps it any more (its ext was just cleared).
 * r may be gone after. */
void rt_room_release(struct rt_rooms *rs, struct rt_room *r);

/* Forgets r's history (several hosts: this host stopped following the
 * room, so what it kept may no longer be the room's latest). */
void rt_room_history_clear(struct rt_room *r);

/* Drops history older than the ttl and rooms that are left with neither
 * members nor history. */
void rt_rooms_sweep(struct rt_rooms *rs, uint64_t now_ms);

/* ---- History ---- */

/* Where a reader of room r stands: 1 when every publication after
 * offset (of epoch) is still kept and younger than the ttl (replay them
 * with rt_room_replay), 0 when some are gone or the epoch is not the
 * room's (the reader must reset). */
int rt_room_can_resume(const struct rt_rooms *rs, const struct rt_room *r, const char *epoch,
                       uint64_t offset, uint64_t now_ms);

/* Calls fn for each kept publication after offset younger than the ttl,
 * in order. */
void rt_room_replay(const struct rt_rooms *rs, const struct rt_room *r, uint64_t offset,
                    uint64_t now_ms, void (*fn)(void *ctx, const struct rt_hist_entry *e),
                    void *ctx);

/* ---- Encodings (made once per publication, then shared) ---- */

/* The WebSocket frame (text or binary). NULL on out of memory. */
struct rt_buf *rt_pub_ws(struct rt_pub *pub);
/* The SSE event without its id line ("event: E\ndata: ...\n\n"); NULL for
 * binary or out of memory. */
struct rt_buf *rt_pub_sse(struct rt_pub *pub);
/* The IPC line {"type":"message","topic":...,"data":...}\n (binary:
 * data_base64). NULL on out of memory. */
struct rt_buf *rt_pub_ipc(struct rt_pub *pub);

/* Appends an SSE event for text with event name event (NULL: none):
 * "event: E\n" and one "data: " line per line of text, then "\n". */
struct ipc_buf;
void rt_sse_event(struct ipc_buf *b, const char *event, const char *text, size_t len);

#endif
