/* bench_ws_service — the service behind muster in bench/ws.py (SPEC §8),
 * on the C service library.
 *
 * Every WebSocket handshake is accepted into the room "bench". A client
 * message whose first byte is 'P' is published to that room as it is (a
 * broadcast: muster encodes it once and corks it to every member); any
 * other message is sent back to its sender (the echo). Like every
 * real-time service it keeps no connection state. Other requests: 404. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ipc_service.h"

#define ROOM "bench"

static void on_request(struct ipc_req *req) {
  static const char *const join[] = {ROOM};
  if (req->ws_conn == NULL) {
    ipc_respond_error(req, 404, "bench_ws_service takes WebSocket connections only");
    return;
  }
  ipc_ws_accept(req, NULL, join, 1, NULL);
}

/* Publishes the message (text) to the room: a cJSON string, which the
 * library serialises once and muster sends to clients as it is. */
static void publish(struct ipc_service *svc, const struct ipc_ws_msg *m) {
  char *text = malloc(m->len + 1);
  if (text == NULL)
    return;
  memcpy(text, m->data, m->len);
  text[m->len] = '\0';
  cJSON *data = cJSON_CreateString(text);
  free(text);
  if (data == NULL)
    return;
  ipc_publish_ex(svc, ROOM, data, NULL, NULL);
  cJSON_Delete(data);
}

static void on_ws_message(struct ipc_service *svc, const struct ipc_ws_msg *m) {
  if (!m->binary && m->len > 0 && m->data[0] == 'P')
    publish(svc, m);
  else
    ipc_ws_send(svc, m->conn, m->data, m->len, m->binary);
}

int main(void) {
  uv_loop_t *loop = uv_default_loop();
  struct ipc_service_cbs cbs = {.on_request = on_request, .on_ws_message = on_ws_message};
  struct ipc_service *svc = ipc_service_new(loop, &cbs, NULL);
  if (svc == NULL)
    return 1;
  ipc_service_ready(svc);
  int rc = ipc_service_run(svc);
  uv_run(loop, UV_RUN_NOWAIT); /* complete the closes the run left */
  uv_loop_close(loop);
  return rc;
}
