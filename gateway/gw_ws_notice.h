/* gw_ws_notice — the end of a WebSocket connection told to its service
 * even when no instance could hear it at that moment.
 *
 * A connection's end (`ws_close`) goes to the instance it is bound to.
 * When that instance is gone (it crashed, is restarting) the notice goes
 * to another ready instance of the service; when there is none, it waits
 * here and goes to the first instance of the service that becomes ready,
 * oldest first — so that a service keeping presence elsewhere (a
 * database, Redis) still hears that a client left while it restarted.
 * Waiting notices are bounded (GW_WS_NOTICES_MAX per gateway: past it
 * the oldest is dropped, logged and counted), and matched by service
 * name, so a service removed by a reload leaves nothing dangling. */
#ifndef MUSTER_GW_WS_NOTICE_H
#define MUSTER_GW_WS_NOTICE_H

#include <stddef.h>
#include <sys/queue.h>

#define GW_WS_NOTICES_MAX 65536

struct ipc_channel;
struct sup_service;

struct gw_ws_notice {
  TAILQ_ENTRY(gw_ws_notice) link;
  const char *service; /* points into line's storage */
  size_t len;          /* of the line */
  char data[];         /* the line (ws_close), then the service's name */
};

/* The notices of one gateway. */
struct gw_ws_notices {
  TAILQ_HEAD(, gw_ws_notice) q;
  size_t n;
};

void gw_ws_notices_init(struct gw_ws_notices *ns);
void gw_ws_notices_free(struct gw_ws_notices *ns);

/* Keeps line (one encoded ws_close) for service. */
void gw_ws_notice_hold(struct gw_ws_notices *ns, const char *service, const char *line, size_t len);

/* Sends what waits for service to ch (one of its instances, now ready).
 * Returns how many went. */
size_t gw_ws_notice_flush(struct gw_ws_notices *ns, const char *service, struct ipc_channel *ch);

#endif
