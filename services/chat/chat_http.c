/* chat_http — the chat's HTTP side: the page, a room's SSE hold and the
 * WebSocket handshake (see chat.h and README.md). */
#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "chat_msg.h"
#include "ipc_query.h"

/* The page loads nothing from elsewhere; its script talks to its origin. */
#define CHAT_CSP                                                                                   \
  "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src "        \
  "'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* The first bytes of each SSE hold: browsers reconnect after 1 s. */
static const char sse_start[] = "retry: 1000\n\n";

/* Reads query parameter key into out (n bytes); 1 when it is there and
 * passes check, else 0. */
static int param(const struct ipc_req *req, const char *key, char *out, size_t n,
                 int (*check)(const char *, size_t)) {
  int len = ipc_query_get(req->query, key, out, n);
  return len > 0 && check(out, (size_t)len);
}

/* GET /: the page. A mount without its slash is sent to it, so that the
 * page's relative URLs (events, ws) stay under the prefix. */
static void do_page(struct ipc_req *req) {
  static const struct ipc_hdr hdrs[] = {{"content-type", "text/html; charset=utf-8"},
                                        {"cache-control", "no-cache"},
                                        {"content-security-policy", CHAT_CSP},
                                        {"x-content-type-options", "nosniff"},
                                        {"referrer-policy", "no-referrer"}};
  size_t n = strlen(req->path);
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    ipc_respond_error(req, 405, "the page is read with GET");
    return;
  }
  if (n == 0 || req->path[n - 1] != '/') {
    char where[2048];
    snprintf(where, sizeof(where), "%s/%s%s", req->path, req->query[0] ? "?" : "", req->query);
    struct ipc_hdr loc[] = {{"location", where}};
    ipc_respond(req, 308, loc, 1, NULL, 0);
    return;
  }
  ipc_respond(req, 200, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), chat_page, chat_page_len);
}

/* GET /events?room=R: an SSE hold of room R. muster sends what the room
 * kept that the client missed (last_event_id; "earliest": all it kept),
 * then every publication in it. */
static void do_events(struct ipc_req *req) {
  char room[CHAT_ROOM_MAX + 1];
  if (req->ws_conn || strcmp(req->method, "GET") != 0) {
    ipc_respond_error(req, 400, "events are read with a plain GET (EventSource)");
    return;
  }
  if (!param(req, "room", room, sizeof(room), chat_room_valid)) {
    ipc_respond_error(req, 400, "room must be 1..32 of A-Z a-z 0-9 _ . -");
    return;
  }
  const char *rooms[] = {room};
  ipc_hold(req, rooms, 1, sse_start, sizeof(sse_start) - 1);
}

/* GET /ws?name=N&room=R[&join=0]: a WebSocket handshake, accepted with
 * meta {name, room} and joined to R unless join=0 (a page that reads the
 * room through /events); the room hears that N came. */
static void do_ws(struct ipc_req *req) {
  char name[CHAT_NAME_MAX + 1], room[CHAT_ROOM_MAX + 1], join[4], conn[64];
  struct ipc_service *svc = req->svc;
  if (req->ws_conn == NULL) {
    ipc_respond_error(req, 400, "a WebSocket handshake is expected here");
    return;
  }
  if (!param(req, "name", name, sizeof(name), chat_name_valid) ||
      !param(req, "room", room, sizeof(room), chat_room_valid)) {
    ipc_respond_error(req, 400,
                      "name must be 1..32 bytes of text and room 1..32 of "
                      "A-Z a-z 0-9 _ . -");
    return;
  }
  int joined =
      !(ipc_query_get(req->query, "join", join, sizeof(join)) > 0 && strcmp(join, "0") == 0);
  snprintf(conn, sizeof(conn), "%s", req->ws_conn); /* req goes with the answer */
  cJSON *meta = chat_meta_new(name, room);
  const char *rooms[] = {room};
  ipc_ws_accept(req, NULL, rooms, joined ? 1 : 0, meta);
  cJSON_Delete(meta);
  cJSON *notice = chat_notice_new("join", name, room, conn, chat_now_ms());
  chat_publish(svc, room, notice);
  cJSON_Delete(notice);
}

void chat_on_request(struct ipc_req *req) {
  const char *p = req->subpath;
  if (strcmp(p, "/") == 0)
    do_page(req);
  else if (strcmp(p, "/events") == 0)
    do_events(req);
  else if (strcmp(p, "/ws") == 0)
    do_ws(req);
  else
    ipc_respond_error(req, 404, "no such page (the chat is at /, /events and /ws)");
}
