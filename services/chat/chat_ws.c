/* chat_ws — what the chat does with WebSocket connections muster holds:
 * a say becomes a publication in the sender's room, a close a leave
 * notice. Name and room come from the connection's meta, never from
 * memory of ours: any instance can take over any connection. */
#include <stdio.h>
#include <time.h>

#include "chat.h"
#include "chat_msg.h"

int64_t chat_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void chat_publish(struct ipc_service *svc, const char *room, const cJSON *pub) {
  if (pub == NULL || ipc_publish_ex(svc, room, pub, NULL, NULL) != 0)
    fprintf(stderr, "chat: a publication in \"%s\" was not sent (out of memory)\n", room);
}

/* Tells connection conn why its message was not taken. */
static void tell_error(struct ipc_service *svc, const char *conn, const char *why) {
  cJSON *e = chat_error_new(why);
  if (e)
    ipc_ws_send_json(svc, conn, e);
  cJSON_Delete(e);
}

void chat_on_ws_message(struct ipc_service *svc, const struct ipc_ws_msg *m) {
  const char *name, *room, *why;
  struct chat_in in;
  if (chat_meta_read(m->meta, &name, &room) != 0) {
    ipc_ws_close(svc, m->conn, 1011, "the connection has no name or room");
    return;
  }
  if (m->binary) {
    tell_error(svc, m->conn, "messages are JSON text");
    return;
  }
  if (chat_parse(&in, m->data, m->len, &why) != 0) {
    tell_error(svc, m->conn, why);
    return;
  }
  cJSON *pub = chat_say_new(name, in.text, m->conn, m->seq, chat_now_ms(), m->redelivered);
  chat_publish(svc, room, pub);
  cJSON_Delete(pub);
  chat_in_free(&in);
}

void chat_on_ws_close(struct ipc_service *svc, const char *conn, int code, const char *reason,
                      const cJSON *meta) {
  const char *name, *room;
  (void)code;
  (void)reason;
  if (chat_meta_read(meta, &name, &room) != 0)
    return;
  cJSON *notice = chat_notice_new("leave", name, room, conn, chat_now_ms());
  chat_publish(svc, room, notice);
  cJSON_Delete(notice);
}
