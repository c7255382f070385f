/* cl_deliver — what a room's channel carries, delivered in Redis's order.
 * See cl_node.h.
 *
 * Each room keeps the last position it saw. The next one in order is
 * delivered; one already seen is dropped; after a jump (offsets missed
 * while this host was away, or another epoch) the host holds what comes
 * and reads the stream back from its last position first (the catch-up),
 * then delivers what it held. What the stream no longer has is lost here:
 * the next delivery is flagged (pub->gap), so SSE readers reset rather
 * than miss it silently. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_int.h"
#include "ipc_text.h"
#include "sup_log.h"
#include "sup_proc.h"

#define MARKS_MAX 64 /* origins remembered per room */

/* ---- Duplicates: the last number seen from each origin ---- */

/* 1 when oseq from origin is new in cr (and remembers it), 0 when seen. */
static int mark_fresh(struct cl_room *cr, uint32_t origin, uint64_t oseq) {
  for (size_t i = 0; i < cr->nmarks; i++) {
    if (cr->marks[i].origin == origin) {
      if (oseq <= cr->marks[i].oseq)
        return 0;
      cr->marks[i].oseq = oseq;
      return 1;
    }
  }
  if (cr->nmarks == MARKS_MAX) { /* the oldest origin goes */
    memmove(cr->marks, cr->marks + 1, (MARKS_MAX - 1) * sizeof(*cr->marks));
    cr->nmarks--;
  }
  if (cr->nmarks == cr->capmarks) {
    size_t nc = cr->capmarks ? cr->capmarks * 2 : 4;
    struct cl_mark *v = realloc(cr->marks, nc * sizeof(*v));
    if (v == NULL)
      return 1;
    cr->marks = v;
    cr->capmarks = nc;
  }
  cr->marks[cr->nmarks++] = (struct cl_mark){origin, oseq};
  return 1;
}

/* ---- Delivering one record ---- */

/* A NUL-terminated copy of n bytes in buf (n < cap), or malloc'd (*heap). */
static const char *cstr(const char *p, size_t n, char *buf, size_t cap, char **heap) {
  if (p == NULL)
    return NULL;
  char *out = n < cap ? buf : (*heap = malloc(n + 1));
  if (out == NULL)
    return "";
  memcpy(out, p, n);
  out[n] = '\0';
  return out;
}

int cl_deliver_record(struct cl_node *cl, struct rt_room *r, const struct cl_record *rec,
                      const char *epoch, uint64_t offset, int gap) {
  struct cl_room *cr = r->ext;
  int self = rec->origin_len == strlen(cl->origin) &&
             memcmp(rec->origin, cl->origin, rec->origin_len) == 0;
  int fresh =
      cr == NULL || mark_fresh(cr, cl_origin_id(cl, rec->origin, rec->origin_len), rec->oseq);
  char evbuf[128], exbuf[128], *evheap = NULL, *exheap = NULL;
  struct ipc_buf json;
  if (offset && self)
    cl_pub_echoed(cl, rec->oseq);
  if (!fresh)
    cl->st.duplicates++;
  ipc_buf_init(&json);
  struct rt_pub pub = {.room = r->name,
                       .text = rec->body,
                       .text_len = rec->body_len,
                       .binary = rec->kind == 'b',
                       .offset = offset,
                       .epoch = epoch,
                       .gap = gap};
  pub.event = cstr(rec->event, rec->event_len, evbuf, sizeof(evbuf), &evheap);
  pub.except = cstr(rec->except, rec->except_len, exbuf, sizeof(exbuf), &exheap);
  if (rec->kind == 'j') {
    pub.json = rec->body;
    pub.json_len = rec->body_len;
  } else if (rec->kind == 't') {
    ipc_json_str(&json, rec->body, rec->body_len);
    pub.json = json.data ? json.data : "\"\"";
    pub.json_len = json.data ? json.len : 2;
  }
  int n = rt_rooms_deliver_at(cl->rooms, &pub, fresh, sup_now_ms());
  ipc_buf_free(&json);
  free(evheap);
  free(exheap);
  return n < 0 ? 0 : n;
}

/* ---- In order ---- */

static void hold(struct cl_node *cl, struct cl_room *cr, const char *p, size_t n);
static void place(struct cl_node *cl, struct cl_room *cr, const struct cl_posted *m, const char *p,
                  size_t n, int may_catch_up);

/* Delivers m: the room's next position. */
static void take(struct cl_node *cl, struct cl_room *cr, const struct cl_posted *m) {
  snprintf(cr->epoch, sizeof(cr->epoch), "%s", m->epoch);
  cr->last = m->offset;
  int gap = cr->gap;
  cr->gap = 0;
  cl->st.delivered++;
  cl_deliver_record(cl, cr->room, &m->rec, m->epoch, m->offset, gap);
}

static void bad_message(struct cl_node *cl, const struct cl_room *cr, const char *err) {
  cl->st.errors++;
  if (cl->st.errors == 1 || cl->st.errors % 1000 == 0)
    sup_log(SUP_WARN, "cluster: a message in room \"%s\" is not muster's (%s): dropped",
            cr->room->name, err);
}

static void place(struct cl_node *cl, struct cl_room *cr, const struct cl_posted *m, const char *p,
                  size_t n, int may_catch_up) {
  int same = strcmp(m->epoch, cr->epoch) == 0;
  if (cr->last == 0 || (!same && m->offset == 1)) {
    cr->gap |= cr->last > 0; /* another epoch: Redis lost the room's history */
    take(cl, cr, m);
  } else if (same && m->offset <= cr->last) {
    cl->st.duplicates++;
  } else if (same && m->offset == cr->last + 1) {
    take(cl, cr, m);
  } else if (may_catch_up) {
    hold(cl, cr, p, n);
    cl_deliver_catch_up(cl, cr);
  } else {
    cl->st.lost += same ? m->offset - cr->last - 1 : 1;
    cr->gap = 1;
    take(cl, cr, m);
  }
}

void cl_deliver_posted(struct cl_node *cl, struct cl_room *cr, const char *p, size_t n) {
  struct cl_posted m;
  char err[96];
  if (cr->catching_up || cr->floor_pending) {
    hold(cl, cr, p, n);
    return;
  }
  if (cl_wire_parse_posted(p, n, &m, err, sizeof(err)) != 0) {
    bad_message(cl, cr, err);
    return;
  }
  place(cl, cr, &m, p, n, 1);
}

/* Delivers what was held during the catch-up (gaps left are losses). */
static void release_held(struct cl_node *cl, struct cl_room *cr) {
  struct cl_held *v = cr->held;
  size_t nv = cr->nheld;
  char err[96];
  cr->held = NULL;
  cr->nheld = cr->capheld = 0;
  for (size_t i = 0; i < nv; i++) {
    struct cl_posted m;
    if (cl_wire_parse_posted(v[i].bytes, v[i].len, &m, err, sizeof(err)) != 0)
      bad_message(cl, cr, err);
    else if (cr->room->ext == cr)
      place(cl, cr, &m, v[i].bytes, v[i].len, 0);
    free(v[i].bytes);
  }
  free(v);
}

/* Keeps a message until the catch-up is done; too many: the catch-up is
 * given up (what it would bring is lost here). */
static void hold(struct cl_node *cl, struct cl_room *cr, const char *p, size_t n) {
  if (cr->nheld >= CL_HELD_MAX) {
    cr->catching_up = 0;
    cr->floor_pending = 0;
    cr->catch_up_due = 0;
    cr->catch_up_gen = 0; /* its reply is stale now */
    release_held(cl, cr);
    cl_deliver_posted(cl, cr, p, n);
    return;
  }
  if (cr->nheld == cr->capheld) {
    size_t nc = cr->capheld ? cr->capheld * 2 : 16;
    struct cl_held *v = realloc(cr->held, nc * sizeof(*v));
    if (v == NULL)
      return;
    cr->held = v;
    cr->capheld = nc;
  }
  char *copy = malloc(n ? n : 1);
  if (copy == NULL)
    return;
  memcpy(copy, p, n);
  cr->held[cr->nheld++] = (struct cl_held){copy, n};
}

/* ---- The catch-up: reading the stream back ---- */

struct cl_read {
  char *room;
  uint64_t gen;
};

static void send_read(struct cl_node *cl, struct cl_room *cr, struct cl_read *rd);

int cl_entry_of(const redisReply *e, uint64_t *off, uint64_t *at_ms, const char **rec,
                size_t *len) {
  char *end;
  if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
      e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
    return -1;
  *off = strtoull(e->element[0]->str, &end, 10);
  if (end == e->element[0]->str || *end != '-' || *off == 0)
    return -1;
  const redisReply *f = e->element[1];
  *rec = NULL;
  *at_ms = 0;
  for (size_t i = 0; i + 1 < f->elements; i += 2) {
    const redisReply *k = f->element[i], *v = f->element[i + 1];
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
      continue;
    if (strcmp(k->str, "r") == 0) {
      *rec = v->str;
      *len = v->len;
    } else if (strcmp(k->str, "t") == 0) {
      *at_ms = strtoull(v->str, NULL, 10);
    }
  }
  return *rec ? 0 : -1;
}

/* Delivers the stream's entries after cr's position, in order. */
static void apply_entries(struct cl_node *cl, struct cl_room *cr, const redisReply *v) {
  char err[96];
  for (size_t i = 0; i < v->elements && cr->room->ext == cr; i++) {
    struct cl_posted m;
    const char *rec;
    size_t len;
    uint64_t at;
    if (cl_entry_of(v->element[i], &m.offset, &at, &rec, &len) != 0 ||
        cl_wire_parse_record(rec, len, &m.rec, err, sizeof(err)) != 0) {
      bad_message(cl, cr, "a stream entry");
      continue;
    }
    if (m.offset <= cr->last)
      continue;
    if (m.offset != cr->last + 1) {
      cl->st.lost += m.offset - cr->last - 1;
      cr->gap = 1;
    }
    snprintf(m.epoch, sizeof(m.epoch), "%s", cr->epoch);
    cl->st.repaired++;
    take(cl, cr, &m);
  }
}

/* A read's reply {epoch, last offset, entries}. 0, or -1 when it is not one. */
int cl_read_reply(const redisReply *reply, const char **epoch, uint64_t *last,
                  const redisReply **entries) {
  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
      reply->element[0]->type != REDIS_REPLY_STRING ||
      reply->element[1]->type != REDIS_REPLY_INTEGER ||
      reply->element[2]->type != REDIS_REPLY_ARRAY || reply->element[1]->integer < 0 ||
      (reply->element[0]->len > 0 &&
       !cl_wire_epoch_ok(reply->element[0]->str, reply->element[0]->len)))
    return -1;
  *epoch = reply->element[0]->str;
  *last = (uint64_t)reply->element[1]->integer;
  *entries = reply->element[2];
  return 0;
}

static void on_read(struct cl_redis *r, const redisReply *reply, void *privdata) {
  struct cl_node *cl = r->data;
  struct cl_read *rd = privdata;
  struct rt_room *room = rt_rooms_find(cl->rooms, rd->room);
  struct cl_room *cr = room ? room->ext : NULL;
  const char *epoch;
  uint64_t last;
  const redisReply *entries;
  if (cr == NULL || cr->catch_up_gen != rd->gen || !cr->catching_up) {
    free(rd->room);
    free(rd);
    return; /* unfollowed, or given up */
  }
  free(rd->room);
  free(rd);
  cr->catching_up = 0;
  if (cl_read_reply(reply, &epoch, &last, &entries) != 0) {
    if (reply)
      bad_message(cl, cr, "a read of its history");
    cr->gap = 1; /* what it missed is unknown */
    cr->last = 0;
  } else if (epoch[0] != '\0') {
    if (strcmp(epoch, cr->epoch) != 0) { /* Redis started the room over */
      cr->gap |= cr->last > 0;
      snprintf(cr->epoch, sizeof(cr->epoch), "%s", epoch);
      cr->last = 0;
    }
    apply_entries(cl, cr, entries);
  }
  if (cr->room->ext == cr)
    release_held(cl, cr);
}

/* Reads what came after cr's position. */
static void send_read(struct cl_node *cl, struct cl_room *cr, struct cl_read *rd) {
  if (cl_script_read_room(cl, cr->room->name, cr->epoch, cr->last + 1, cl->maxlen, on_read, rd) !=
      0) { /* later, when the connection is back */
    free(rd->room);
    free(rd);
    cr->catch_up_due = 1;
  }
}

void cl_deliver_catch_up(struct cl_node *cl, struct cl_room *cr) {
  struct cl_read *rd = malloc(sizeof(*rd));
  cr->catching_up = 1; /* what comes meanwhile waits */
  cr->catch_up_gen = ++cl->read_gen;
  if (rd == NULL || (rd->room = strdup(cr->room->name)) == NULL) {
    free(rd);
    cr->catch_up_due = 1;
    return;
  }
  rd->gen = cr->catch_up_gen;
  send_read(cl, cr, rd);
}

/* ---- Where a room stands when first followed ---- */

static void on_floor(struct cl_redis *r, const redisReply *reply, void *privdata) {
  struct cl_node *cl = r->data;
  char *name = privdata;
  struct rt_room *room = rt_rooms_find(cl->rooms, name);
  struct cl_room *cr = room ? room->ext : NULL;
  const char *epoch;
  uint64_t last;
  const redisReply *entries;
  free(name);
  if (cr == NULL || !cr->floor_pending)
    return; /* unfollowed meanwhile, or given up */
  cr->floor_pending = 0;
  if (cr->last == 0 && !cr->catching_up && cl_read_reply(reply, &epoch, &last, &entries) == 0) {
    snprintf(cr->floor_epoch, sizeof(cr->floor_epoch), "%s", epoch);
    cr->floor = epoch[0] ? last : 0; /* none yet: everything from the first */
    cr->floor_set = 1;
  }
  if (cr->confirmed && cr->floor_set && cr->last == 0)
    cl_deliver_subscribed(cl, cr); /* what came since the follow, from the stream */
  else if (!cr->catching_up)
    release_held(cl, cr); /* no floor: what came is delivered as it is */
}

/* Asks Redis where room cr stands (its floor). */
static void read_floor(struct cl_node *cl, struct cl_room *cr) {
  char *name = strdup(cr->room->name);
  if (name == NULL || cl_script_read_room(cl, cr->room->name, "", 1, 0, on_floor, name) != 0)
    free(name);
  else
    cr->floor_pending = 1;
}

void cl_deliver_followed(struct cl_node *cl, struct cl_room *cr) {
  if (cr->last == 0 && !cr->floor_set && !cr->floor_pending && cl_up(cl))
    read_floor(cl, cr);
}

void cl_deliver_subscribed(struct cl_node *cl, struct cl_room *cr) {
  if (cr->last == 0 && cr->floor_set) { /* away before its first delivery */
    snprintf(cr->epoch, sizeof(cr->epoch), "%s", cr->floor_epoch);
    cr->last = cr->floor;
  }
  if (cr->last > 0 || cr->floor_set) {
    cl_deliver_catch_up(cl, cr); /* what came while this host was away */
    return;
  }
  if (!cr->floor_pending) /* not asked when it was followed (Redis was away) */
    read_floor(cl, cr);
}
