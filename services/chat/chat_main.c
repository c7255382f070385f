/* chat_service — a chat room server on the service library (SPEC §8):
 * muster holds the WebSocket and SSE connections and the rooms with their
 * history; this process turns what people say into publications and keeps
 * no state of any connection. See README.md. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "chat.h"

/* Runs one instance: ready at once (nothing to load), then the loop until
 * muster stops it or goes. */
int main(void) {
  uv_loop_t *loop = uv_default_loop();
  struct ipc_service_cbs cbs = {.on_request = chat_on_request,
                                .on_ws_message = chat_on_ws_message,
                                .on_ws_close = chat_on_ws_close};
  struct ipc_service *svc = ipc_service_new(loop, &cbs, NULL);
  if (svc == NULL)
    return 1;
  const char *ack = getenv("MUSTER_WS_ACK");
  fprintf(stderr, "chat: instance %d up, %s\n", ipc_service_instance(svc),
          ack && ack[0] == '1' ? "acknowledging each message once handled (ws.ack)"
                               : "without acknowledgements (at most once)");
  ipc_service_ready(svc);
  int rc = ipc_service_run(svc);
  uv_run(loop, UV_RUN_NOWAIT); /* complete the closes the run left */
  uv_loop_close(loop);
  return rc;
}
