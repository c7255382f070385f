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

/* Where the stream stands in one room with history. */
struct sse_pos {
  char *room;          /* owned */
  char epoch[24];
  uint64_t offset;     /* the last one it was given */
  int from;            /* at the start: what last-event-id gave for it (position_in) */
};

struct gw_sse {
  struct gw_req *req;
  struct gw_server *srv;
  struct sup_service *svc;  /* the service that answered */
  struct rt_member member;  /* its rooms */
  struct sse_pos *pos;      /* rooms with history, in hold order; owned */
  size_t npos, cappos;
  struct ipc_buf scratch;   /* an event with its id line */
  int overflow;             /* the client holds too much: the stream ends */
};

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
 * ends the stream when the client holds more than max_outbound_bytes. */
static void write_event(struct gw_sse *s, const char *ev, size_t len) {
  struct gw_req *req = s->req;
  ipc_buf_reset(&s->scratch);
  add_id(s, &s->scratch);
  ipc_buf_add(&s->scratch, ev, len);
  if (s->scratch.oom || s->overflow)
    return;
  if (gw_req_queued(req) + s->scratch.len > (size_t)rtcfg(s)->max_outbound_bytes) {
    s->overflow = 1; /* ended by the caller, at a point where s may go */
    s->srv->rt.slow_closes++;
    sup_log(SUP_WARN, "gateway: SSE client %s does not read (%zu bytes queued): ending its "
            "stream", req->conn->remote, gw_req_queued(req));
    return;
  }
  s->srv->rt.sse_events++;
  gw_req_send(req, s->scratch.data, s->scratch.len);
  if (s->scratch.cap > 65536)
    ipc_buf_free(&s->scratch);
}

/* The stream's position in room, or NULL when the room has no history. */
static struct sse_pos *pos_of(struct gw_sse *s, const char *room) {
  for (size_t i = 0; i < s->npos; i++)
    if (strcmp(s->pos[i].room, room) == 0)
      return &s->pos[i];
  return NULL;
}

static void on_publication(struct rt_member *m, struct rt_room *r, struct rt_pub *pub) {
  struct gw_sse *s = (struct gw_sse *)((char *)m - offsetof(struct gw_sse, member));
  struct rt_buf *ev = rt_pub_sse(pub);
  struct sse_pos *p = pos_of(s, r->name);
  if (p && pub->offset) {
    snprintf(p->epoch, sizeof(p->epoch), "%s", pub->epoch);
    p->offset = pub->offset; /* skipped binary ones too: not a gap */
  }
  if (ev)
    write_event(s, ev->data, ev->len);
  if (s->overflow)
    gw_conn_close(s->req->conn, 0); /* frees s (abandon) */
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

/* Where the stream starts in room r, before any room is replayed: where
 * the client stood (so that a stream cut while another room is replayed
 * resumes this one from there too), else the room's present. */
static void start_room(struct gw_sse *s, struct rt_room *r, struct sse_pos *p, const char *id) {
  p->from = id ? position_in(id, r->name, s->npos, p->epoch, sizeof(p->epoch), &p->offset) : 0;
  if (p->from == 2) { /* earliest: before its first publication */
    snprintf(p->epoch, sizeof(p->epoch), "%s", r->epoch);
    p->offset = 0;
  } else if (p->from == 0) { /* a new reader: from now on */
    snprintf(p->epoch, sizeof(p->epoch), "%s", r->epoch);
    p->offset = r->last_offset;
  }
}

/* Sends what the client missed in room r since its position (the
 * publications, or one muster-reset; for earliest, all the room keeps)
 * and leaves the stream at the room's present. */
static void resume_room(struct gw_sse *s, struct rt_room *r, struct sse_pos *p) {
  struct rt_rooms *rs = sup_host_rooms(s->srv->host);
  uint64_t now = sup_now_ms(), off = p->offset;
  if (p->from == 0)
    return;
  if (p->from == 1 && !rt_room_can_resume(rs, r, p->epoch, off, now)) {
    snprintf(p->epoch, sizeof(p->epoch), "%s", r->epoch); /* from now on */
    p->offset = r->last_offset;
    struct ipc_buf b;
    ipc_buf_init(&b);
    ipc_buf_adds(&b, "{\"room\":");
    ipc_json_str(&b, r->name, strlen(r->name));
    ipc_buf_addc(&b, '}');
    struct ipc_buf ev;
    ipc_buf_init(&ev);
    rt_sse_event(&ev, "muster-reset", b.data ? b.data : "", b.len);
    if (!ev.oom && !b.oom)
      write_event(s, ev.data, ev.len);
    ipc_buf_free(&ev);
    ipc_buf_free(&b);
    return;
  }
  struct replay ctx = {s, p};
  rt_room_replay(rs, r, off, now, replay_one, &ctx);
  p->offset = r->last_offset;
}

/* ---- The hold ---- */

static void sse_abandon(struct gw_req *req) {
  struct gw_sse *s = sse_of(req);
  if (s == NULL)
    return;
  req->u.sse = NULL;
  rt_member_leave_all(sup_host_rooms(s->srv->host), &s->member);
  rt_member_free(&s->member);
  for (size_t i = 0; i < s->npos; i++)
    free(s->pos[i].room);
  free(s->pos);
  ipc_buf_free(&s->scratch);
  s->srv->sse_holds--;
  s->srv->rt.sse_closed++;
  sup_service_connections(s->svc, -1);
  free(s);
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

/* Joins the hold's rooms (each once) and sends each one's missed
 * history, every position set before the first replay. */
static void join_rooms(struct gw_sse *s, const cJSON *rooms, const char *id) {
  struct rt_rooms *rs = sup_host_rooms(s->srv->host);
  const cJSON *room;
  size_t max = (size_t)rtcfg(s)->max_rooms_per_conn;
  cJSON_ArrayForEach(room, rooms) {
    if (s->member.nrooms >= max || rt_room_join(rs, room->valuestring, &s->member) != 0)
      break;
    struct rt_room *r = rt_rooms_find(rs, room->valuestring);
    if (r && r->hist_cap && pos_of(s, r->name) == NULL &&
        util_vec_reserve(&s->pos, &s->cappos, s->npos + 1) == 0 &&
        (s->pos[s->npos].room = strdup(r->name)) != NULL)
      s->npos++;
  }
  for (size_t i = 0; i < s->npos; i++)
    start_room(s, rt_rooms_find(rs, s->pos[i].room), &s->pos[i], id);
  for (size_t i = 0; i < s->npos; i++)
    resume_room(s, rt_rooms_find(rs, s->pos[i].room), &s->pos[i]);
}

void gw_sse_hold(struct gw_req *req, const struct ipc_msg *m) {
  static const struct ipc_header h[] = {{"content-type", 12, "text/event-stream", 17},
                                        {"cache-control", 13, "no-cache", 8}};
  char idbuf[1024];
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
  req->keepalive = 0; /* the stream lasts as long as the connection */
  gw_req_start(req, 200, h, 2);
  if (req->is_head) { /* the head only: no stream */
    free(s);
    gw_req_finish(req);
    return;
  }
  req->u.sse = s;
  req->gen = &sse_gen;
  s->srv->sse_holds++;
  s->srv->rt.sse_opened++;
  sup_service_connections(s->svc, 1);
  if (m->body_len > 0)
    gw_req_send(req, m->body, m->body_len);
  join_rooms(s, cJSON_GetObjectItemCaseSensitive(m->hold, "rooms"), id);
  if (s->overflow) { /* the history did not fit */
    gw_conn_close(req->conn, 0);
    return;
  }
  if (rtcfg(s)->sse_keepalive_ms > 0)
    gw_req_timer(req, (uint64_t)rtcfg(s)->sse_keepalive_ms);
}
