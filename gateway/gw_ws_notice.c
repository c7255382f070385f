/* gw_ws_notice — ws_close notices waiting for an instance. See
 * gw_ws_notice.h. */
#include "gw_ws_notice.h"

#include <stdlib.h>
#include <string.h>

#include "ipc_channel.h"
#include "sup_log.h"

void gw_ws_notices_init(struct gw_ws_notices *ns) {
  memset(ns, 0, sizeof(*ns));
  TAILQ_INIT(&ns->q);
}

static void drop(struct gw_ws_notices *ns, struct gw_ws_notice *n) {
  TAILQ_REMOVE(&ns->q, n, link);
  ns->n--;
  free(n);
}

void gw_ws_notices_free(struct gw_ws_notices *ns) {
  struct gw_ws_notice *n;
  while ((n = TAILQ_FIRST(&ns->q)) != NULL)
    drop(ns, n);
}

void gw_ws_notice_hold(struct gw_ws_notices *ns, const char *service, const char *line,
                       size_t len) {
  size_t slen = strlen(service) + 1;
  struct gw_ws_notice *n = malloc(sizeof(*n) + len + slen);
  if (n == NULL) {
    sup_log(SUP_WARN, "%s: out of memory: a connection's ws_close is not told", service);
    return;
  }
  if (ns->n >= GW_WS_NOTICES_MAX) {
    struct gw_ws_notice *old = TAILQ_FIRST(&ns->q);
    sup_log(SUP_WARN, "%s: %d ws_close notices wait for an instance; the oldest is dropped",
            old->service, GW_WS_NOTICES_MAX);
    drop(ns, old);
  }
  memcpy(n->data, line, len);
  memcpy(n->data + len, service, slen);
  n->service = n->data + len;
  n->len = len;
  TAILQ_INSERT_TAIL(&ns->q, n, link);
  ns->n++;
}

size_t gw_ws_notice_flush(struct gw_ws_notices *ns, const char *service, struct ipc_channel *ch) {
  struct gw_ws_notice *n, *next;
  size_t sent = 0;
  for (n = TAILQ_FIRST(&ns->q); n != NULL; n = next) {
    next = TAILQ_NEXT(n, link);
    if (strcmp(n->service, service) != 0)
      continue;
    ipc_buf_add(ipc_channel_begin(ch), n->data, n->len);
    ipc_channel_commit(ch);
    drop(ns, n);
    sent++;
  }
  return sent;
}
