/* gw_sse — SSE subscriptions (SPEC §8 `hold`): a GET whose response
 * holds rooms becomes a stream muster keeps, fed with every publication
 * in those rooms, after the history the client missed. The instance that
 * answered is free at once: the stream is muster's, so a service that
 * crashes or is rolled drops none of them.
 *
 * Positions: a room with history gives each publication EPOCH-OFFSET;
 * the stream's `id:` carries it (one room with history), or every such
 * room's as ROOM=EPOCH-OFFSET joined by ',' (room names with '%', '=',
 * ',' or control bytes percent-encoded), so the id a browser echoes in
 * last-event-id holds every position. A client that comes back gets what
 * it missed, in order, or an `event: muster-reset` for a room whose gap
 * can no longer be filled. Never a silent gap. A new reader may ask for
 * all that a room keeps with the position `earliest` (as Mercure's
 * Last-Event-ID: earliest), so that a page that opens shows the room's
 * last messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_node.h"
#include "gw.h"
#include "gw_rt.h"
#include "ipc_query.h"
#include "ipc_text.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_proc.h"
#include "sup_service.h"
#include "sup_view.h"
#include "util_vec.h"

struct gw_sse;

/* Where the stream stands in one room with history. */
struct sse_pos {
  char *room; /* owned */
  char epoch[24];
  uint64_t offset;  /* the last one it was given */
  uint8_t resume;   /* at the start: replay what it missed */
  uint8_t reset;    /* at the start: what it missed is gone */
  uint8_t has_want; /* the client came with a position here (2: earliest): */
  char want_epoch[24];
  uint64_t want_offset;
  struct gw_sse *s;
  struct cl_fetch *fetch; /* several hosts: Redis is asked what it missed */
};

/* A publication that came while Redis was being asked (it goes after). */
struct sse_live {
  struct rt_buf *ev; /* a reference, or NULL (binary) */
  size_t pos;        /* 1 + its room's index in pos, 0 none */
  char epoch[24];
  uint64_t offset;
  int gap;
};

struct gw_sse {
  struct gw_req *req;
  struct gw_server *srv;
  struct sup_service *svc; /* the service that answered */
  struct rt_member member; /* its rooms */
  struct sse_pos *pos;     /* rooms with history, in hold order; owned */
  size_t npos, cappos;
  struct ipc_buf scratch; /* an event with its id line */
  int overflow;           /* the client holds too much: the stream ends */
  size_t fetching;        /* Redis answers still to come */
  struct sse_live *live;  /* what came meanwhile, in order; owned */
  size_t nlive, caplive;
  /* A write can end the connection at once (the client is gone, the
   * buffered bytes are over the limit), and that abandons the stream:
   * while one of its callbacks runs, s stays (gone set), freed on the way
   * out (sse_enter / sse_leave). */
  unsigned busy;     /* callbacks of s running */
  unsigned gone : 1; /* abandoned while busy: freed by the last sse_leave */
};

static void sse_free(struct gw_sse *s);

static void sse_enter(struct gw_sse *s) {
  s->busy++;
}

/* Ends a callback of s. Returns 1 when s was abandoned meanwhile (then it
 * is freed now, or by an outer callback): do not touch it. */
static int sse_leave(struct gw_sse *s) {
  if (--s->busy > 0 || !s->gone)
    return s->gone;
  sse_free(s);
  return 1;
}

static const struct cfg_realtime *rtcfg(const struct gw_sse *s) {
  return &sup_view_cfg(s->srv->host)->realtime;
}

static struct gw_sse *sse_of(struct gw_req *req) {
  return req->u.sse;
}

/* ---- Ids ---- */

/* Appends room with '%', '=', ',' and bytes below '!' percent-encoded. */
static void add_room_name(struct ipc_buf *b, const char *room) {
  for (const unsigned char *p = (const unsigned char *)room; *p; p++) {
    if (*p == '%' || *p == '=' || *p == ',' || *p <= ' ') {
      char esc[4];
      snprintf(esc, sizeof(esc), "%%%02X", *p);
      ipc_buf_add(b, esc, 3);
    } else {
      ipc_buf_addc(b, (char)*p);
    }
  }
}

/* "id: ...\n" for the stream's positions, nothing when it has none. */
static void add_id(struct gw_sse *s, struct ipc_buf *b) {
  if (s->npos == 0)
    return;
  ipc_buf_adds(b, "id: ");
  for (size_t i = 0; i < s->npos; i++) {
    if (s->npos > 1) {
      if (i)
        ipc_buf_addc(b, ',');
      add_room_name(b, s->pos[i].room);
      ipc_buf_addc(b, '=');
    }
    ipc_buf_adds(b, s->pos[i].epoch);
    ipc_buf_addc(b, '-');
    ipc_buf_addi(b, (int64_t)s->pos[i].offset);
  }
  ipc_buf_addc(b, '\n');
}

/* 1 when a position is "earliest" (the whole of it, or one of the pairs). */
static int is_earliest(const char *item) {
  return strncmp(item, "earliest", 8) == 0 && (item[8] == '\0' || item[8] == ',');
}

/* The position last-event-id gives for room (decoded in place of the
 * pairs), for a stream of npos history rooms. 1 with epoch and offset set,
 * 2 for "earliest" (a new reader asking for all the room keeps), else 0
 * (the client has none for it). */
static int position_in(const char *id, const char *room, size_t npos, char *epoch, size_t elen,
                       uint64_t *offset) {
  char want[512];
  struct ipc_buf b;
  const char *p = id, *item = NULL;
  ipc_buf_init(&b);
  add_room_name(&b, room);
  snprintf(want, sizeof(want), "%.*s=", (int)(b.len < 500 ? b.len : 500), b.data ? b.data : "");
  ipc_buf_free(&b);
  if (strchr(id, '=') == NULL) {
    item = npos == 1 || is_earliest(id) ? id : NULL; /* the single-room form */
  } else {
    for (; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
      if (strncmp(p, want, strlen(want)) == 0)
        item = p + strlen(want);
  }
  if (item == NULL)
    return 0;
  if (is_earliest(item))
    return 2;
  const char *dash = strchr(item, '-');
  char *end;
  if (dash == NULL || (size_t)(dash - item) >= elen)
    return 0;
  memcpy(epoch, item, (size_t)(dash - item));
  epoch[dash - item] = '\0';
  *offset = strtoull(dash + 1, &end, 10);
  return end != dash + 1 && (*end == '\0' || *end == ',');
}

/* ---- Writing events ---- */

/* Writes event bytes (SSE text without id) with the current id line;
 * ends the stream when the client would hold more than max_outbound_bytes
 * (gw_rt_too_slow). */
static void write_event(struct gw_sse *s, const char *ev, size_t len) {
  struct gw_req *req = s->req;
  if (s->gone)
    return;
  ipc_buf_reset(&s->scratch);
  add_id(s, &s->scratch);
  ipc_buf_add(&s->scratch, ev, len);
  if (s->scratch.oom || s->overflow)
    return;
  if (gw_rt_too_slow(gw_req_queued(req), s->scratch.len, (size_t)rtcfg(s)->max_outbound_bytes)) {
    s->overflow = 1; /* ended by the caller, at a point where s may go */
    s->srv->rt.slow_closes++;
    sup_log(SUP_WARN,
            "gateway: SSE client %s does not read (%zu bytes queued): ending its "
            "stream",
            req->conn->remote, gw_req_queued(req));
    return;
  }
  s->srv->rt.sse_events++;
  gw_req_send(req, s->scratch.data, s->scratch.len); /* may abandon s: see busy */
  if (s->gone)
    s->overflow = 1; /* nothing more is written; the loops stop */
  else if (s->scratch.cap > 65536)
    ipc_buf_free(&s->scratch);
}

/* The stream's position in room, or NULL when the room has no history. */
static struct sse_pos *pos_of(struct gw_sse *s, const char *room) {
  for (size_t i = 0; i < s->npos; i++)
    if (strcmp(s->pos[i].room, room) == 0)
      return &s->pos[i];
  return NULL;
}

static void send_reset(struct gw_sse *s, const char *room);

/* Writes one publication's event (ev may be NULL: binary, only the
 * position moves). */
static void write_publication(struct gw_sse *s, struct sse_pos *p, struct rt_buf *ev,
                              const char *epoch, uint64_t offset, int gap) {
  if (p && gap)
    send_reset(s, p->room); /* a hole here: the client reloads the room */
  if (p && offset) {
    snprintf(p->epoch, sizeof(p->epoch), "%s", epoch);
    p->offset = offset; /* skipped binary ones too: not a gap */
  }
  if (ev)
    write_event(s, ev->data, ev->len);
}

/* Keeps a publication until Redis has said what the client missed. */
static void queue_live(struct gw_sse *s, struct sse_pos *p, struct rt_buf *ev,
                       const struct rt_pub *pub) {
  if (util_vec_reserve(&s->live, &s->caplive, s->nlive + 1) != 0) {
    s->overflow = 1;
    return;
  }
  struct sse_live *l = &s->live[s->nlive++];
  *l = (struct sse_live){
      .ev = ev, .pos = p ? (size_t)(p - s->pos) + 1 : 0, .offset = pub->offset, .gap = pub->gap};
  snprintf(l->epoch, sizeof(l->epoch), "%s", pub->offset ? pub->epoch : "");
  if (ev)
    rt_buf_ref(ev);
}

static void on_publication(struct rt_member *m, struct rt_room *r, struct rt_pub *pub) {
  struct gw_sse *s = (struct gw_sse *)((char *)m - offsetof(struct gw_sse, member));
  struct rt_buf *ev = rt_pub_sse(pub);
  struct sse_pos *p = pos_of(s, r->name);
  sse_enter(s);
  if (s->fetching)
    queue_live(s, p, ev, pub);
  else
    write_publication(s, p, ev, pub->epoch, pub->offset, pub->gap);
  if (!s->gone && s->overflow)
    gw_req_abort(s->req, 0); /* abandons s */
  sse_leave(s);
}

static const struct rt_member_ops sse_member_ops = {.deliver = on_publication};

/* ---- Replay ---- */

struct replay {
  struct gw_sse *s;
  struct sse_pos *p;
};

static void replay_one(void *ctx, const struct rt_hist_entry *e) {
  struct replay *r = ctx;
  r->p->offset = e->offset;
  if (e->sse)
    write_event(r->s, e->sse->data, e->sse->len);
}

/* Where the stream starts in room r, from what this host keeps: the
 * client's position when it has one and every publication since is
 * still kept (p->resume: replay them), else the room's present (p->reset
 * when the client had a position that can no longer be filled). */
static void start_pos(struct gw_sse *s, struct rt_room *r, struct sse_pos *p) {
  struct rt_rooms *rs = sup_host_rooms(s->srv->host);
  p->resume = p->reset = 0;
  if (p->has_want == 2) { /* earliest: all the room keeps */
    snprintf(p->epoch, sizeof(p->epoch), "%s", r->epoch);
    p->offset = 0;
    p->resume = 1;
  } else if (p->has_want == 1 &&
             rt_room_can_resume(rs, r, p->want_epoch, p->want_offset, sup_now_ms())) {
    snprintf(p->epoch, sizeof(p->epoch), "%s", p->want_epoch);
    p->offset = p->want_offset; /* moves on as the replay goes */
    p->resume = 1;
  } else { /* a new reader from now on, or one that must reset */
    snprintf(p->epoch, sizeof(p->epoch), "%s", r->epoch);
    p->offset = r->last_offset;
    p->reset = p->has_want == 1;
  }
}

/* Sends what start_pos() decided for p. */
static void start_local(struct gw_sse *s, struct sse_pos *p) {
  struct rt_rooms *rs = sup_host_rooms(s->srv->host);
  struct rt_room *r = rt_rooms_find(rs, p->room);
  struct replay ctx = {s, p};
  if (r == NULL)
    return;
  start_pos(s, r, p);
  if (p->reset) {
    send_reset(s, r->name);
  } else if (p->resume) {
    rt_room_replay(rs, r, p->offset, sup_now_ms(), replay_one, &ctx);
    p->offset = r->last_offset; /* earliest with nothing kept: the present */
  }
}

/* Sends one `event: muster-reset` for room: the client must reload. */
static void send_reset(struct gw_sse *s, const char *room) {
  struct ipc_buf b, ev;
  ipc_buf_init(&b);
  ipc_buf_init(&ev);
  ipc_buf_adds(&b, "{\"room\":");
  ipc_json_str(&b, room, strlen(room));
  ipc_buf_addc(&b, '}');
  rt_sse_event(&ev, "muster-reset", b.data ? b.data : "", b.len);
  if (!ev.oom && !b.oom)
    write_event(s, ev.data, ev.len);
  ipc_buf_free(&ev);
  ipc_buf_free(&b);
}

/* ---- Several hosts: what the client missed, from Redis ---- */

/* Writes the publications Redis kept for p (binary ones only move it). */
static void replay_items(struct gw_sse *s, struct sse_pos *p, const struct cl_hist_item *v,
                         size_t n) {
  struct ipc_buf ev;
  char name[256];
  ipc_buf_init(&ev);
  for (size_t i = 0; i < n && !s->overflow; i++) {
    const struct cl_record *rec = &v[i].rec;
    p->offset = v[i].offset;
    if (rec->kind == 'b')
      continue;
    snprintf(name, sizeof(name), "%.*s", (int)rec->event_len, rec->event ? rec->event : "");
    ipc_buf_reset(&ev);
    rt_sse_event(&ev, rec->event ? name : NULL, rec->body, rec->body_len);
    if (!ev.oom)
      write_event(s, ev.data, ev.len);
  }
  ipc_buf_free(&ev);
}

/* Writes what came while Redis was asked, but what the replay had. */
static void flush_live(struct gw_sse *s) {
  struct sse_live *v = s->live;
  size_t n = s->nlive;
  s->live = NULL;
  s->nlive = s->caplive = 0;
  for (size_t i = 0; i < n; i++) {
    struct sse_pos *p = v[i].pos ? &s->pos[v[i].pos - 1] : NULL;
    int had = p && v[i].offset && strcmp(p->epoch, v[i].epoch) == 0 && v[i].offset <= p->offset;
    if (!had && !s->overflow)
      write_publication(s, p, v[i].ev, v[i].epoch, v[i].offset, v[i].gap);
    rt_buf_unref(v[i].ev);
  }
  free(v);
}

static void on_fetched(void *ctx, int status, const char *epoch, uint64_t last,
                       const struct cl_hist_item *items, size_t n) {
  struct sse_pos *p = ctx;
  struct gw_sse *s = p->s;
  p->fetch = NULL;
  s->fetching--;
  sse_enter(s);
  if (status == UV_ENOTCONN) {
    start_local(s, p); /* Redis could not say: what this host keeps */
  } else {
    snprintf(p->epoch, sizeof(p->epoch), "%s", epoch);
    p->offset = status == 0 && p->has_want == 1 ? p->want_offset : 0;
    if (status != 0) {
      send_reset(s, p->room);
      p->offset = last;
    } else {
      replay_items(s, p, items, n);
      p->offset = p->has_want == 1 || n ? p->offset : last; /* a new reader: the present */
    }
  }
  if (s->fetching == 0 && !s->gone)
    flush_live(s);
  if (!s->gone && s->overflow)
    gw_req_abort(s->req, 0); /* abandons s */
  sse_leave(s);
}

/* Asks Redis where the client stands in p's room. 1 when asked. */
static int ask_redis(struct gw_sse *s, struct sse_pos *p) {
  struct cl_node *cl = sup_host_cluster(s->srv->host);
  struct rt_room *r = rt_rooms_find(sup_host_rooms(s->srv->host), p->room);
  if (cl == NULL || r == NULL || cl_node_in_sync(cl, r))
    return 0; /* what this host keeps is the room's latest */
  const char *epoch = p->has_want == 2 ? "*" : p->has_want ? p->want_epoch : NULL;
  p->fetch = cl_node_fetch(cl, p->room, epoch, p->want_offset, on_fetched, p);
  if (p->fetch)
    s->fetching++;
  return p->fetch != NULL;
}

/* ---- The hold ---- */

/* What s owns goes with it. */
static void sse_free(struct gw_sse *s) {
  for (size_t i = 0; i < s->npos; i++)
    free(s->pos[i].room);
  for (size_t i = 0; i < s->nlive; i++)
    rt_buf_unref(s->live[i].ev);
  free(s->live);
  free(s->pos);
  ipc_buf_free(&s->scratch);
  free(s);
}

/* The stream ends: out of its rooms, its Redis questions cancelled, and
 * freed now, or when the callback of it that runs ends (busy). */
static void sse_abandon(struct gw_req *req) {
  struct gw_sse *s = sse_of(req);
  if (s == NULL)
    return;
  req->u.sse = NULL;
  rt_member_leave_all(sup_host_rooms(s->srv->host), &s->member);
  rt_member_free(&s->member);
  for (size_t i = 0; i < s->npos; i++) {
    cl_fetch_cancel(s->pos[i].fetch);
    s->pos[i].fetch = NULL;
  }
  s->fetching = 0;
  s->srv->sse_holds--;
  s->srv->rt.sse_closed++;
  sup_service_connections(s->svc, -1);
  s->gone = 1;
  s->overflow = 1; /* the loops of a running callback stop */
  if (s->busy == 0)
    sse_free(s);
}

/* sse_keepalive_ms without a write: a comment line keeps proxies open. */
static void sse_timeout(struct gw_req *req) {
  struct gw_sse *s = sse_of(req);
  int ms = s ? rtcfg(s)->sse_keepalive_ms : 0;
  if (s == NULL || ms == 0)
    return;
  gw_req_send(req, ":\n\n", 3);
  gw_req_timer(req, (uint64_t)ms);
}

static const struct gw_gen sse_gen = {.abandon = sse_abandon, .timeout = sse_timeout};

/* The last-event-id the client sent: the header, or (EventSource cannot
 * set headers) the query's last_event_id. Into buf; NULL when none. */
static const char *last_event_id(struct gw_req *req, char *buf, size_t n) {
  uint32_t len;
  const char *q, *v = gw_req_header(req, "last-event-id", &len);
  size_t qlen;
  if (v && len > 0 && len < n) {
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
  }
  const char *path;
  size_t plen;
  gw_req_target(req, &path, &plen, &q, &qlen);
  char query[4096];
  snprintf(query, sizeof(query), "%.*s", (int)qlen, q);
  return ipc_query_get(query, "last_event_id", buf, n) > 0 ? buf : NULL;
}

/* Joins the hold's rooms. Before the first byte of the answer goes: on
 * several hosts a room followed now asks Redis where it stands, and that
 * question must reach Redis before anything the client does once it has
 * the answer (a publication elsewhere) can. */
static void join_rooms(struct gw_sse *s, const cJSON *rooms) {
  struct rt_rooms *rs = sup_host_rooms(s->srv->host);
  const cJSON *room;
  size_t max = (size_t)rtcfg(s)->max_rooms_per_conn;
  cJSON_ArrayForEach(room, rooms) {
    if (s->member.nrooms >= max || rt_room_join(rs, room->valuestring, &s->member) != 0)
      break;
    struct rt_room *r = rt_rooms_find(rs, room->valuestring);
    if (r && r->hist_cap && pos_of(s, r->name) == NULL && /* a room named twice: once */
        util_vec_reserve(&s->pos, &s->cappos, s->npos + 1) == 0) {
      s->pos[s->npos] = (struct sse_pos){.s = s};
      if ((s->pos[s->npos].room = strdup(r->name)) != NULL)
        s->npos++;
    }
  }
}

/* Sends each history room's missed publications (or a reset); every id
 * line meanwhile holds each room's position as far as the client has
 * got, so a stream cut during the replay resumes right. Several hosts:
 * Redis is asked for rooms this host does not follow without a gap, and
 * publications wait until it has answered. */
static void start_rooms(struct gw_sse *s, const char *id) {
  struct rt_rooms *rs = sup_host_rooms(s->srv->host);
  for (size_t i = 0; i < s->npos; i++) {
    struct sse_pos *p = &s->pos[i];
    struct rt_room *r = rt_rooms_find(rs, p->room);
    p->s = s;
    p->has_want = id ? (uint8_t)position_in(id, p->room, s->npos, p->want_epoch,
                                            sizeof(p->want_epoch), &p->want_offset)
                     : 0;
    /* before any replay: where the client stands (a stream cut while
     * another room is replayed resumes this one from there too) */
    snprintf(p->epoch, sizeof(p->epoch), "%s", p->has_want == 1 ? p->want_epoch : r->epoch);
    p->offset = p->has_want == 1 ? p->want_offset : p->has_want == 2 ? 0 : r->last_offset;
  }
  for (size_t i = 0; i < s->npos && !s->overflow; i++)
    if (!ask_redis(s, &s->pos[i]))
      start_local(s, &s->pos[i]);
}

void gw_sse_hold(struct gw_req *req, const struct ipc_msg *m) {
  static const struct ipc_header h[] = {{"content-type", 12, "text/event-stream", 17},
                                        {"cache-control", 13, "no-cache", 8}};
  char idbuf[1024];
  req->keepalive = 0; /* the stream lasts as long as the connection */
  if (req->is_head) { /* the head only: no stream */
    gw_req_start(req, 200, h, 2);
    gw_req_finish(req);
    return;
  }
  struct gw_sse *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    gw_reply_error(req, 500, "out of memory", NULL);
    return;
  }
  const char *id = last_event_id(req, idbuf, sizeof(idbuf));
  s->req = req;
  s->srv = req->srv;
  s->svc = req->u.proxy.svc;
  s->member = (struct rt_member){.ops = &sse_member_ops, .kind = RT_MEMBER_SSE};
  ipc_buf_init(&s->scratch);
  req->u.sse = s;
  req->gen = &sse_gen;
  s->srv->sse_holds++;
  s->srv->rt.sse_opened++;
  sup_service_connections(s->svc, 1);
  sse_enter(s);
  /* in its rooms before the client sees a byte (an EventSource opens on
   * the head): join_rooms */
  join_rooms(s, cJSON_GetObjectItemCaseSensitive(m->hold, "rooms"));
  gw_req_start(req, 200, h, 2);
  if (m->body_len > 0 && !s->gone)
    gw_req_send(req, m->body, m->body_len);
  if (!s->gone)
    start_rooms(s, id);
  if (!s->gone && s->overflow) /* the history did not fit */
    gw_req_abort(req, 0);
  else if (!s->gone && rtcfg(s)->sse_keepalive_ms > 0)
    gw_req_timer(req, (uint64_t)rtcfg(s)->sse_keepalive_ms);
  sse_leave(s);
}
