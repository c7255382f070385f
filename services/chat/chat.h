/* chat — the chat service's parts on the service library: the HTTP side
 * (chat_http.c: the page, the SSE hold of a room, the WebSocket
 * handshake) and the WebSocket side (chat_ws.c: what a connection says,
 * and its leaving). Both publish into muster's rooms; neither keeps any
 * state of a connection. */
#ifndef MUSTER_CHAT_H
#define MUSTER_CHAT_H

#include "ipc_service.h"

/* The page (chat_page.html, embedded at build time by cmake/embed.cmake). */
extern const char chat_page[];
extern const size_t chat_page_len;

/* ---- chat_http.c ---- */

/* Every request: GET / (the page), /events?room=R (the room's
 * publications, as an SSE hold), /ws?name=N&room=R[&join=0] (a WebSocket
 * handshake). */
void chat_on_request(struct ipc_req *req);

/* ---- chat_ws.c ---- */

/* Now in milliseconds since the epoch (the "at" of publications). */
int64_t chat_now_ms(void);

/* Publishes pub (borrowed; NULL: nothing) in room. */
void chat_publish(struct ipc_service *svc, const char *room, const cJSON *pub);

/* A message from a connection: a say becomes a publication in its room. */
void chat_on_ws_message(struct ipc_service *svc, const struct ipc_ws_msg *m);

/* A connection ended: a leave notice in its room. */
void chat_on_ws_close(struct ipc_service *svc, const char *conn, int code, const char *reason,
                      const cJSON *meta);

#endif
