/* cl_pub — this host's publications: to Redis through the publish
 * script, kept (the outbox) until Redis took them and they were
 * delivered here. See cl_node.h.
 *
 * A publication is delivered here when Redis's channel brings it back,
 * in Redis's order, if this host follows the room and both connections
 * are up; otherwise at once, without a position. Whatever then comes back
 * from Redis is dropped as a duplicate (its origin and number). */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_int.h"
#include "ipc_text.h"
#include "sup_log.h"

static void remove_own(struct cl_node *cl, struct cl_own *e) {
  TAILQ_REMOVE(&cl->own, e, link);
  cl->nown--;
  cl->own_bytes -= e->rec_len;
  free(e->room);
  free(e->rec);
  free(e);
}

static void maybe_done(struct cl_node *cl, struct cl_own *e) {
  if (e->confirmed && e->delivered)
    remove_own(cl, e);
}

static struct cl_own *find_own(struct cl_node *cl, uint64_t oseq) {
  struct cl_own *e;
  TAILQ_FOREACH(e, &cl->own, link) {
    if (e->oseq == oseq)
      return e;
    if (e->oseq > oseq)
      break;
  }
  return NULL;
}

/* Delivers e here now, without a position. Returns the members reached. */
static int deliver_local(struct cl_node *cl, struct cl_own *e) {
  struct cl_record rec;
  char err[64];
  struct rt_room *r = rt_rooms_find(cl->rooms, e->room);
  e->delivered = 1;
  if (r == NULL || r->ext == NULL)
    return 0; /* nobody here */
  if (cl_wire_parse_record(e->rec, e->rec_len, &rec, err, sizeof(err)) != 0)
    return 0; /* cannot happen: we made it */
  cl->st.local_only++;
  return cl_deliver_record(cl, r, &rec, NULL, 0, 0);
}

/* Delivers here, in order, every publication of room still waiting for
 * its echo (before one that cannot wait). */
static int flush_room(struct cl_node *cl, const char *room) {
  struct cl_own *e, *next;
  int reached = 0;
  for (e = TAILQ_FIRST(&cl->own); e; e = next) {
    next = TAILQ_NEXT(e, link);
    if (!e->delivered && strcmp(e->room, room) == 0) {
      reached = deliver_local(cl, e);
      maybe_done(cl, e);
    }
  }
  return reached; /* the last one's */
}

void cl_pub_flush_local(struct cl_node *cl) {
  struct cl_own *e, *next;
  for (e = TAILQ_FIRST(&cl->own); e; e = next) {
    next = TAILQ_NEXT(e, link);
    if (!e->delivered)
      deliver_local(cl, e);
    maybe_done(cl, e);
  }
}

void cl_pub_echoed(struct cl_node *cl, uint64_t oseq) {
  struct cl_own *e = find_own(cl, oseq);
  if (e) {
    e->delivered = 1;
    maybe_done(cl, e);
  }
}

void cl_pub_free(struct cl_node *cl) {
  struct cl_own *e;
  while ((e = TAILQ_FIRST(&cl->own)) != NULL)
    remove_own(cl, e);
}

/* ---- To Redis ---- */

static void send_pub(struct cl_node *cl, struct cl_own *e, int full_script);

static void on_pub_reply(struct cl_redis *r, const redisReply *reply, void *privdata) {
  struct cl_node *cl = r->data;
  struct cl_own *e = find_own(cl, (uint64_t)(uintptr_t)privdata);
  if (e == NULL)
    return;
  if (reply == NULL) {
    e->sent = 0; /* the connection went: sent again when it is back */
    return;
  }
  if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
    send_pub(cl, e, 1); /* SCRIPT FLUSH meanwhile */
    return;
  }
  if (reply->type != REDIS_REPLY_INTEGER) {
    cl->st.errors++;
    sup_log(SUP_WARN, "cluster: Redis refused a publication to \"%s\": %s", e->room,
            reply->type == REDIS_REPLY_ERROR ? reply->str : "an unexpected reply");
    if (!e->delivered)
      deliver_local(cl, e);
    remove_own(cl, e);
    return;
  }
  cl->st.published++;
  e->confirmed = 1;
  maybe_done(cl, e);
}

/* A new epoch for a room Redis does not know: unique enough across hosts
 * and runs (the origin's run and a count, mixed). */
static void new_epoch(struct cl_node *cl, char *out, size_t n) {
  uint64_t x = cl_now_ms() ^ (++cl->epoch_seq << 40) ^ (uint64_t)(uintptr_t)cl;
  for (const char *p = cl->origin; *p; p++)
    x = (x ^ (unsigned char)*p) * 1099511628211ULL;
  x ^= x >> 31;
  snprintf(out, n, "%llx", (unsigned long long)x);
}

static void send_pub(struct cl_node *cl, struct cl_own *e, int full_script) {
  struct ipc_buf keys[3];
  char epoch[24], maxlen[24], ttl[24], now[24], hash_ttl[24];
  uint64_t stream_ttl = cl->history_ttl_ms ? cl->history_ttl_ms : 300000;
  new_epoch(cl, epoch, sizeof(epoch));
  snprintf(maxlen, sizeof(maxlen), "%llu", (unsigned long long)cl->maxlen);
  snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)stream_ttl);
  snprintf(now, sizeof(now), "%llu", (unsigned long long)cl_now_ms());
  snprintf(hash_ttl, sizeof(hash_ttl), "%llu",
           (unsigned long long)(stream_ttl > 86400000 ? stream_ttl : 86400000));
  static const char *const kinds[] = {"pos", "hist", "room"};
  for (int i = 0; i < 3; i++) {
    ipc_buf_init(&keys[i]);
    cl_key(&keys[i], kinds[i], e->room);
  }
  const char *argv[] = {full_script ? "EVAL" : "EVALSHA",
                        full_script ? cl_script_publish : cl->pub_sha,
                        "3",
                        keys[0].data,
                        keys[1].data,
                        keys[2].data,
                        epoch,
                        e->rec,
                        maxlen,
                        ttl,
                        now,
                        hash_ttl};
  size_t lens[12];
  for (int i = 0; i < 12; i++) /* the record is bytes, not a string */
    lens[i] = i == 7 ? e->rec_len : i >= 3 && i <= 5 ? keys[i - 3].len : strlen(argv[i]);
  if (!keys[0].oom && !keys[1].oom && !keys[2].oom &&
      cl_redis_command(&cl->cmd, on_pub_reply, (void *)(uintptr_t)e->oseq, 12, argv, lens) == 0)
    e->sent = 1;
  for (int i = 0; i < 3; i++)
    ipc_buf_free(&keys[i]);
}

void cl_pub_resend(struct cl_node *cl) {
  struct cl_own *e;
  TAILQ_FOREACH(e, &cl->own, link) {
    if (!e->confirmed && !e->sent)
      send_pub(cl, e, 0);
  }
}

/* ---- Publishing ---- */

/* The oldest waiting publication goes: the outbox is full. */
static void overflow(struct cl_node *cl) {
  struct cl_own *e = TAILQ_FIRST(&cl->own);
  if (e == NULL)
    return;
  if (!e->delivered)
    deliver_local(cl, e);
  if (!e->confirmed) {
    cl->st.dropped++;
    if (cl->st.dropped == 1 || cl->st.dropped % 10000 == 0)
      sup_log(SUP_WARN,
              "cluster: outbox full (%zu publications waiting for Redis): %llu "
              "dropped so far, delivered here only",
              cl->nown, (unsigned long long)cl->st.dropped);
  }
  remove_own(cl, e);
}

/* pub as a record (kind t: text whose JSON is a string; j: JSON; b: bytes). */
static struct cl_own *make_own(struct cl_node *cl, const struct rt_pub *pub) {
  struct cl_own *e = calloc(1, sizeof(*e));
  struct ipc_buf b;
  if (e == NULL || (e->room = strdup(pub->room)) == NULL) {
    free(e);
    return NULL;
  }
  struct cl_record rec = {.origin = cl->origin,
                          .origin_len = strlen(cl->origin),
                          .oseq = cl->oseq + 1,
                          .kind = pub->binary                             ? 'b'
                                  : (pub->json && pub->text == pub->json) ? 'j'
                                                                          : 't',
                          .event = pub->event,
                          .event_len = pub->event ? strlen(pub->event) : 0,
                          .except = pub->except,
                          .except_len = pub->except ? strlen(pub->except) : 0,
                          .body = pub->text,
                          .body_len = pub->text_len};
  ipc_buf_init(&b);
  cl_wire_record(&b, &rec);
  if (b.oom) {
    ipc_buf_free(&b);
    free(e->room);
    free(e);
    return NULL;
  }
  e->oseq = ++cl->oseq;
  e->rec = b.data;
  e->rec_len = b.len;
  return e;
}

int cl_node_publish(struct cl_node *cl, struct rt_pub *pub) {
  struct cl_own *e = make_own(cl, pub);
  if (e == NULL)
    return UV_ENOMEM;
  while (cl->nown >= CL_OUTBOX_MAX || cl->own_bytes + e->rec_len > CL_OUTBOX_BYTES)
    if (TAILQ_EMPTY(&cl->own))
      break;
    else
      overflow(cl);
  TAILQ_INSERT_TAIL(&cl->own, e, link);
  cl->nown++;
  cl->own_bytes += e->rec_len;
  if (cl_redis_up(&cl->cmd))
    send_pub(cl, e, 0);
  struct rt_room *r = rt_rooms_find(cl->rooms, e->room);
  struct cl_room *cr = r ? r->ext : NULL;
  int reached = 0;
  if (cr == NULL) {
    e->delivered = 1; /* nobody here */
    maybe_done(cl, e);
  } else if (!(cl_up(cl) && cr->confirmed && e->sent)) {
    reached = flush_room(cl, pub->room); /* in order, this one last */
  }
  return reached;
}
